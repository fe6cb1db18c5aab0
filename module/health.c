/*  Copyright (C) 2026 mod-tgcluster authors

    This program is free software: you can redistribute it and/or modify
    it under the terms of the GNU General Public License as published by
    the Free Software Foundation, either version 3 of the License, or
    (at your option) any later version.

    This program is distributed in the hope that it will be useful,
    but WITHOUT ANY WARRANTY; without even the implied warranty of
    MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
    GNU General Public License for more details.

    You should have received a copy of the GNU General Public License
    along with this program.  If not, see <https://www.gnu.org/licenses/>.
 */

#include <assert.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <libknot/libknot.h>
#include <uv.h>

#include "module/addr.h"
#include "module/admin.h"
#include "module/health.h"
#include "module/uvloop.h"
#include "module/table.h"

/*! \brief Period of the admin-state scan and of the heartbeat, in ms. */
#define ADMIN_SCAN_MS		200
/*! \brief Shortest fast-pace delay while a change is pending, in ms. */
#define FAST_PACE_MIN_MS	10

/*! \brief Relaxed atomic store into a seqlock-protected record field. */
#define REC_STORE(x, v)	atomic_store_explicit(&(x), (v), memory_order_relaxed)
/*! \brief Relaxed atomic load of a record field. */
#define REC_LOAD(x)	atomic_load_explicit(&(x), memory_order_relaxed)

/*
 * The state machine.
 */

/*! \brief Anti-flap threshold: a zero parameter counts as one. */
static uint32_t threshold(uint32_t value)
{
	return (value == 0) ? 1 : value;
}

/*! \brief Increments a counter without wrapping. */
static uint32_t sat_inc(uint32_t value)
{
	return (value == UINT32_MAX) ? value : value + 1;
}

bool tgc_health_feed(tgc_health_sm_t *sm, bool ok,
                     const tgc_health_params_t *params)
{
	tgc_health_t old = sm->health;

	if (ok) {
		sm->consec_ok = sat_inc(sm->consec_ok);
		sm->consec_fail = 0;
		if (old == TGC_HEALTH_UNKNOWN ||
		    (old == TGC_HEALTH_DOWN && sm->consec_ok >= threshold(params->rise))) {
			sm->health = TGC_HEALTH_UP;
		}
	} else {
		sm->consec_fail = sat_inc(sm->consec_fail);
		sm->consec_ok = 0;
		if (old != TGC_HEALTH_DOWN &&
		    sm->consec_fail >= threshold(params->fall)) {
			sm->health = TGC_HEALTH_DOWN;
		}
	}

	return sm->health != old;
}

uint32_t tgc_health_next_delay(const tgc_health_sm_t *sm,
                               const tgc_health_params_t *params)
{
	bool pending = (sm->health == TGC_HEALTH_DOWN) ? (sm->consec_ok > 0) :
	                                                 (sm->consec_fail > 0);
	if (!pending) {
		return params->interval_ms;
	}

	uint32_t fast = params->interval_ms / 4;
	if (fast < FAST_PACE_MIN_MS) {
		fast = FAST_PACE_MIN_MS;
	}
	/* Never slower than the normal pace (tiny intervals). */
	return (fast < params->interval_ms) ? fast : params->interval_ms;
}

uint32_t tgc_health_stagger(uint32_t idx, uint32_t count,
                            const tgc_health_params_t *params)
{
	if (count == 0) {
		return 0;
	}

	return (uint32_t)((uint64_t)(idx % count) * params->interval_ms / count);
}

/*! \brief a + b, saturating (recorded times are not trusted). */
static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return (a > UINT64_MAX - b) ? UINT64_MAX : a + b;
}

/*!
 * \brief Delay until \a due_ms from \a now_ms, at most \a max_ms. Overdue
 *        by less than an interval: 0; by more: the next slot of the old
 *        phase (due + k x interval).
 */
static uint32_t due_delay(uint64_t due_ms, uint64_t now_ms, uint32_t max_ms,
                          uint32_t interval_ms)
{
	if (due_ms > now_ms) {
		uint64_t delay = due_ms - now_ms;
		return (delay < max_ms) ? (uint32_t)delay : max_ms;
	}
	uint64_t overdue = now_ms - due_ms;
	if (interval_ms == 0 || overdue < interval_ms) {
		return 0;
	}
	uint32_t slot = (uint32_t)((interval_ms - overdue % interval_ms) % interval_ms);
	return (slot < max_ms) ? slot : max_ms;
}

tgc_health_resume_t tgc_health_resume(const tgc_health_sm_t *sm,
                                      const tgc_health_hist_t *hist,
                                      uint64_t now_ms, uint32_t idx,
                                      uint32_t count,
                                      const tgc_health_params_t *params)
{
	tgc_health_resume_t out = { .kind = TGC_RESUME_FRESH };
	uint32_t interval = params->interval_ms;

	if (hist->probe_start_ms != 0) {
		uint64_t deadline = sat_add(hist->probe_start_ms, params->timeout_ms);
		if (now_ms < deadline) {
			uint64_t left = deadline - now_ms;
			out.kind = TGC_RESUME_PROBE;
			out.timeout_ms = (left < params->timeout_ms) ? (uint32_t)left :
			                                               params->timeout_ms;
			return out;
		}
		/* The next probe follows the failed one as the checker would
		 * have scheduled it: the next delay after its start, not
		 * before its deadline. */
		tgc_health_sm_t failed = *sm;
		(void)tgc_health_feed(&failed, false, params);
		uint32_t next = tgc_health_next_delay(&failed, params);
		uint64_t due = sat_add(hist->probe_start_ms, next);
		out.kind = TGC_RESUME_EXPIRED;
		out.delay_ms = due_delay((due > deadline) ? due : deadline, now_ms,
		                         next, interval);
		return out;
	}

	uint32_t next = tgc_health_next_delay(sm, params);
	if (hist->next_due_ms != 0) {
		out.kind = TGC_RESUME_DUE;
		out.delay_ms = due_delay(hist->next_due_ms, now_ms, next, interval);
	} else if (hist->last_check_ms != 0) {
		out.kind = TGC_RESUME_DUE;
		out.delay_ms = due_delay(sat_add(hist->last_check_ms, next), now_ms, next,
		                         interval);
	} else {
		out.delay_ms = tgc_health_stagger(idx, count, params);
	}

	return out;
}

/*!
 * \brief Tells whether \a len bytes of \a buf are a prefix of a valid RFB
 *        banner ("RFB ddd.ddd\n").
 */
static bool rfb_prefix_ok(const uint8_t *buf, size_t len)
{
	static const char tmpl[TGC_RFB_BANNER_LEN] = {
		'R', 'F', 'B', ' ', 'd', 'd', 'd', '.', 'd', 'd', 'd', '\n'
	};

	if (len > TGC_RFB_BANNER_LEN) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (tmpl[i] == 'd') {
			if (buf[i] < '0' || buf[i] > '9') {
				return false;
			}
		} else if (buf[i] != (uint8_t)tmpl[i]) {
			return false;
		}
	}

	return true;
}

bool tgc_health_rfb_valid(const uint8_t *buf, size_t len)
{
	return buf != NULL && len == TGC_RFB_BANNER_LEN && rfb_prefix_ok(buf, len);
}

/*
 * The checker.
 */

/*! \brief Where a node is in its probe cycle. */
typedef enum {
	NODE_IDLE    = 0, /*!< Waiting for the next probe (timer armed). */
	NODE_PROBING = 1, /*!< Probe in flight (timer bounds it). */
	NODE_CLOSING = 2, /*!< Probe done, connection closing. */
} node_phase_t;

/*!
 * \brief Per-node probe state.
 *
 * Initialised by tgc_checker_start() before the checker thread exists;
 * afterwards touched by the checker thread only.
 */
typedef struct {
	struct tgc_checker *ck;       /*!< Owner. */
	uint32_t idx;                 /*!< Record index. */
	bool valid;                   /*!< Record has a usable address. */
	struct sockaddr_storage sa;   /*!< Probe destination. */
	char text[TGC_ADDR_STRLEN];   /*!< Address text for logs. */
	uint16_t port;                /*!< Check port. */
	uv_timer_t timer;             /*!< Next probe while idle, probe timeout
	                               *   while probing. */
	uv_tcp_t tcp;                 /*!< Probe connection (while tcp_open). */
	uv_connect_t connect;         /*!< Connect request of the probe. */
	bool tcp_open;                /*!< tcp initialised and not yet closed. */
	node_phase_t phase;           /*!< Probe cycle position. */
	uint64_t start_ns;            /*!< Probe start (uv_hrtime; back-dated
	                               *   like start_ms). */
	uint64_t start_ms;            /*!< Probe start (loop time); for a probe
	                               *   resumed from a previous instance, when
	                               *   that one started it. */
	uint64_t start_rt;            /*!< Probe start as recorded in the table
	                               *   (CLOCK_REALTIME ms, same meaning). */
	uint8_t banner[TGC_RFB_BANNER_LEN]; /*!< RFB banner being read. */
	size_t banner_len;            /*!< Bytes of it received. */
	tgc_health_sm_t sm;           /*!< State machine (mirrors the record). */
	bool synced;                  /*!< sm was loaded from the record since
	                               *   we last (re)gained the writer role. */
	bool admin_known;             /*!< admin_seen is valid. */
	tgc_admin_t admin_seen;       /*!< Last observed admin state. */
	uint8_t src_seen;             /*!< Its source (tgc_admin_src_t). */
	bool guard_seen;              /*!< A zone drain/down was held back. */
} node_t;

/*!
 * \brief A running checker.
 *
 * Ownership across threads: tgc_checker_start() fills everything before it
 * creates the checker thread; from then on the loop, the handles and the
 * nodes belong to the checker thread, until tgc_checker_stop() has joined it.
 * The only cross-thread operation in between is uv_async_send() on
 * \a stop_async (libuv makes it thread-safe).
 */
struct tgc_checker {
	tgc_checker_conf_t conf;  /*!< Written by start, then read-only. */
	uint32_t count;           /*!< Number of nodes (read-only). */
	node_t *nodes;            /*!< Per-node state (checker thread). */
	uv_loop_t loop;           /*!< The loop (checker thread). */
	uv_async_t stop_async;    /*!< Sent by the stopping thread, handled in
	                           *   the checker thread. */
	uv_timer_t admin_timer;   /*!< Admin scan and heartbeat (checker thread). */
	uv_async_t wake_async;    /*!< Sent by a query worker that posted zone
	                           *   admin states (tgc_checker_wake()), handled
	                           *   in the checker thread: an admin scan now. */
	uv_thread_t thread;       /*!< Written by start, joined by stop. */
	bool stopping;            /*!< Stop requested (checker thread only). */
	bool sock_failing;        /*!< Socket creation failing, logged
	                           *   (checker thread only). */
	bool disabled_marked;     /*!< check: none recorded (checker thread only). */
	int loop_close_ret;       /*!< uv_loop_close() result: written by the
	                           *   checker thread before it ends, read by
	                           *   stop after the join. */
};

/*! \brief Logs through the configured logger, unless stopping. */
#define CK_LOG(ck, prio, fmt, ...) do { \
	if ((ck)->conf.log != NULL && !(ck)->stopping) { \
		(ck)->conf.log((ck)->conf.ctx, (prio), (fmt), ##__VA_ARGS__); \
	} \
} while (0)

/*! \brief Converts a libuv error code to a KNOT_E* code. */
static int uv_to_knot(int ret)
{
	switch (ret) {
	case 0:          return KNOT_EOK;
	case UV_ENOMEM:  return KNOT_ENOMEM;
	case UV_EMFILE:  return KNOT_EMFILE;
	case UV_ENFILE:  return KNOT_ENFILE;
	case UV_EAGAIN:  return KNOT_EAGAIN;
	case UV_EINVAL:  return KNOT_EINVAL;
	case UV_EACCES:
	case UV_EPERM:   return KNOT_EACCES;
	default:         return KNOT_ERROR;
	}
}

/*! \brief Tells whether a socket/connect error is a local resource shortage. */
static bool local_shortage(int ret)
{
	switch (ret) {
	case UV_EMFILE:
	case UV_ENFILE:
	case UV_ENOBUFS:
	case UV_ENOMEM:
	case UV_EAGAIN:
	case UV_EADDRNOTAVAIL:
		return true;
	default:
		return false;
	}
}

/*! \brief Maps a failed connect/read status to a probe outcome. */
static tgc_probe_t status_probe(int status)
{
	switch (status) {
	case UV_ECONNREFUSED:
	case UV_ECONNRESET:
	case UV_ECONNABORTED:
	case UV_EPIPE:
	case UV_EOF:
		return TGC_PROBE_REFUSED;
	case UV_ETIMEDOUT:
		return TGC_PROBE_TIMEOUT;
	default:
		return TGC_PROBE_ERROR;
	}
}

/*! \brief Tells whether this instance may write the table now. */
static bool is_writer(const tgc_checker_t *ck)
{
	return atomic_load(&ck->conf.table->hdr->writer) == ck->conf.writer_token;
}

/*!
 * \brief Loads a node's state machine from its record; also gives the
 *        recorded schedule if \a hist is not NULL.
 */
static void node_sync(node_t *n, tgc_health_hist_t *hist)
{
	tgc_node_snap_t snap;
	tgc_table_node_read(n->ck->conf.table, n->idx, &snap);
	if (hist != NULL) {
		hist->probe_start_ms = snap.probe_start_ms;
		hist->next_due_ms = snap.next_due_ms;
		hist->last_check_ms = snap.last_check_ms;
	}

	n->sm.health = (snap.health <= TGC_HEALTH_DOWN) ? snap.health :
	                                                  TGC_HEALTH_UNKNOWN;
	n->sm.consec_ok = snap.consec_ok;
	n->sm.consec_fail = snap.consec_fail;
	n->synced = true;
}

/*! \brief Arms the node timer for the next probe in \a delay_ms. */
static void node_schedule(node_t *n, uint64_t delay_ms);

/*! \brief Schedules the probe after the one that started at start_ms. */
static void node_schedule_next(node_t *n)
{
	tgc_checker_t *ck = n->ck;
	uint64_t delay = tgc_health_next_delay(&n->sm, &ck->conf.params);
	uint64_t elapsed = uv_now(&ck->loop) - n->start_ms;

	node_schedule(n, (delay > elapsed) ? delay - elapsed : 0);
}

/*!
 * \brief Stores the outcome of the probe that started at start_rt: feeds the
 *        state machine (if \a feed), writes the record (no probe in flight,
 *        next probe due at \a next_due_ms, or if 0 at start_rt plus the next
 *        delay, not before now) and reports a transition.
 */
static void node_record(node_t *n, tgc_probe_t probe, bool feed,
                        uint32_t rtt_us, uint64_t next_due_ms)
{
	tgc_checker_t *ck = n->ck;
	tgc_table_t *table = ck->conf.table;
	tgc_node_rec_t *rec = &table->nodes[n->idx];

	if (!is_writer(ck)) {
		/* A newer instance owns the table: drop the result, reload
		 * the history when (if ever) we own it again. */
		n->synced = false;
		return;
	}

	tgc_health_sm_t sm = n->sm;
	tgc_health_t from = sm.health;
	bool changed = feed && tgc_health_feed(&sm, probe == TGC_PROBE_OK,
	                                       &ck->conf.params);
	uint64_t now = tgc_table_now_ms();
	if (next_due_ms == 0) {
		next_due_ms = n->start_rt + tgc_health_next_delay(&sm, &ck->conf.params);
		next_due_ms = (next_due_ms > now) ? next_due_ms : now;
	}

	if (!tgc_table_write_begin(rec)) {
		/* Someone else is inside the record: skip, resync later. */
		n->synced = false;
		return;
	}
	if (changed) {
		atomic_store_explicit(&rec->health, (uint8_t)sm.health,
		                      memory_order_relaxed);
		REC_STORE(rec->since_ms, now);
		REC_STORE(rec->transitions, REC_LOAD(rec->transitions) + 1);
	}
	REC_STORE(rec->consec_ok, sm.consec_ok);
	REC_STORE(rec->consec_fail, sm.consec_fail);
	REC_STORE(rec->last_probe, (uint8_t)probe);
	REC_STORE(rec->last_rtt_us, rtt_us);
	REC_STORE(rec->last_check_ms, now);
	REC_STORE(rec->probes, REC_LOAD(rec->probes) + 1);
	REC_STORE(rec->probe_start_ms, 0);
	REC_STORE(rec->next_due_ms, next_due_ms);
	tgc_table_write_end(table, rec);
	tgc_table_publish(table, ck->conf.writer_token, n->idx);

	n->sm = sm;

	if (!changed || ck->stopping) {
		return;
	}
	if (ck->conf.event != NULL) {
		ck->conf.event(ck->conf.ctx, n->idx, from, sm.health);
	}
	CK_LOG(ck, (sm.health == TGC_HEALTH_DOWN) ? LOG_WARNING : LOG_NOTICE,
	       "node %s port %u %s -> %s (%s, %u ms)", n->text, n->port,
	       tgc_table_health_str(from), tgc_table_health_str(sm.health),
	       tgc_table_probe_str(probe), (unsigned)(rtt_us / 1000));
}

/*! \brief Close callback of a probe connection. */
static void on_tcp_closed(uv_handle_t *handle)
{
	node_t *n = handle->data;

	n->tcp_open = false;
	n->phase = NODE_IDLE;
	if (!n->ck->stopping) {
		node_schedule_next(n);
	}
}

/*!
 * \brief Ends the probe in flight: records \a probe, closes the connection
 *        and schedules the next probe (once the connection is closed).
 */
static void probe_end(node_t *n, tgc_probe_t probe, bool feed)
{
	uint64_t rtt_us = (uv_hrtime() - n->start_ns) / 1000;

	uv_timer_stop(&n->timer);
	node_record(n, probe, feed, (rtt_us > UINT32_MAX) ? UINT32_MAX :
	                                                    (uint32_t)rtt_us, 0);
	if (n->tcp_open) {
		n->phase = NODE_CLOSING;
		if (!uv_is_closing((uv_handle_t *)&n->tcp)) {
			uv_close((uv_handle_t *)&n->tcp, on_tcp_closed);
		}
	} else {
		n->phase = NODE_IDLE;
		node_schedule_next(n);
	}
}

/*! \brief Probe timeout. */
static void on_probe_timeout(uv_timer_t *timer)
{
	node_t *n = timer->data;

	if (n->ck->stopping || n->phase != NODE_PROBING) {
		return;
	}
	probe_end(n, TGC_PROBE_TIMEOUT, true);
}

/*! \brief Buffer for the banner: exactly the bytes still missing. */
static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	node_t *n = handle->data;
	(void)suggested;

	buf->base = (char *)n->banner + n->banner_len;
	buf->len = TGC_RFB_BANNER_LEN - n->banner_len;
}

/*! \brief Banner data of an rfb probe. */
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	node_t *n = stream->data;
	(void)buf;

	if (n->ck->stopping || n->phase != NODE_PROBING || nread == 0) {
		return;
	}
	if (nread < 0) {
		/* Closed or reset: nothing at all means the service turned us
		 * away, a partial banner is a wrong banner. */
		tgc_probe_t probe = status_probe((int)nread);
		if (n->banner_len > 0 && probe == TGC_PROBE_REFUSED) {
			probe = TGC_PROBE_BANNER;
		}
		probe_end(n, probe, true);
		return;
	}

	n->banner_len += (size_t)nread;
	if (!rfb_prefix_ok(n->banner, n->banner_len)) {
		probe_end(n, TGC_PROBE_BANNER, true);
	} else if (n->banner_len == TGC_RFB_BANNER_LEN) {
		probe_end(n, TGC_PROBE_OK, true);
	}
}

/*! \brief Connect result of a probe. */
static void on_connect(uv_connect_t *req, int status)
{
	node_t *n = req->data;
	tgc_checker_t *ck = n->ck;

	/* UV_ECANCELED after a timeout or a stop closed the handle. */
	if (ck->stopping || n->phase != NODE_PROBING) {
		return;
	}
	if (status != 0) {
		probe_end(n, status_probe(status), true);
		return;
	}
	if (ck->conf.params.check != TGC_CHECK_RFB) {
		probe_end(n, TGC_PROBE_OK, true);
		return;
	}
	int ret = uv_read_start((uv_stream_t *)&n->tcp, on_alloc, on_read);
	if (ret != 0) {
		probe_end(n, TGC_PROBE_ERROR, true);
	}
}

/*!
 * \brief Handles a local failure to get a socket: logged once until sockets
 *        work again; the probe is counted but not fed to the state machine.
 */
static void probe_local_error(node_t *n, int ret)
{
	tgc_checker_t *ck = n->ck;

	if (!ck->sock_failing) {
		ck->sock_failing = true;
		CK_LOG(ck, LOG_ERR, "cannot probe node %s port %u (%s), keeping "
		       "node states until sockets are available", n->text,
		       n->port, uv_strerror(ret));
	}
	probe_end(n, TGC_PROBE_ERROR, false);
}

/*! \brief Records the start of the probe in flight (start_rt). */
static void node_record_start(node_t *n)
{
	tgc_table_t *table = n->ck->conf.table;
	tgc_node_rec_t *rec = &table->nodes[n->idx];

	if (!is_writer(n->ck)) {
		return;
	}
	if (tgc_table_write_begin(rec)) {
		REC_STORE(rec->probe_start_ms, n->start_rt);
		tgc_table_write_end(table, rec);
		/* A reload right now must see the probe in flight. */
		tgc_table_publish(table, n->ck->conf.writer_token, n->idx);
	}
}

/*!
 * \brief Starts a probe of a node that may take \a timeout_ms. \a started_rt
 *        is 0 for a new probe, or the recorded start (CLOCK_REALTIME ms) of a
 *        probe resumed from a previous instance: the schedule then counts
 *        from that start.
 */
static void probe_start(node_t *n, uint64_t started_rt, uint32_t timeout_ms)
{
	tgc_checker_t *ck = n->ck;

	/* The loop time is that of the iteration start: refresh it so that
	 * the timeout counts from now. */
	uv_update_time(&ck->loop);
	uint64_t now_rt = tgc_table_now_ms();
	uint64_t ago = (started_rt != 0 && now_rt > started_rt) ?
	               now_rt - started_rt : 0;
	n->start_ns = uv_hrtime();
	n->start_ns -= (ago * 1000000u < n->start_ns) ? ago * 1000000u : 0;
	n->start_ms = uv_now(&ck->loop);
	n->start_ms -= (ago < n->start_ms) ? ago : 0;
	n->start_rt = (started_rt != 0) ? started_rt : now_rt;
	n->banner_len = 0;
	n->phase = NODE_PROBING;
	node_record_start(n);

	int ret = uv_tcp_init_ex(&ck->loop, &n->tcp, n->sa.ss_family);
	if (ret != 0) {
		probe_local_error(n, ret);
		return;
	}
	n->tcp_open = true;
	n->tcp.data = n;
	n->connect.data = n;

	ret = uv_tcp_connect(&n->connect, &n->tcp,
	                     (const struct sockaddr *)&n->sa, on_connect);
	if (ret != 0) {
		if (local_shortage(ret)) {
			probe_local_error(n, ret);
		} else {
			/* E.g. network unreachable: the node is out of reach. */
			probe_end(n, TGC_PROBE_ERROR, true);
		}
		return;
	}
	if (ck->sock_failing) {
		ck->sock_failing = false;
		CK_LOG(ck, LOG_NOTICE, "probing resumed, sockets available again");
	}

	uv_timer_start(&n->timer, on_probe_timeout, timeout_ms, 0);
}

/*! \brief The node timer fired: time for a probe. */
static void on_probe_due(uv_timer_t *timer)
{
	node_t *n = timer->data;
	tgc_checker_t *ck = n->ck;

	if (ck->stopping || n->phase != NODE_IDLE) {
		return;
	}
	if (!is_writer(ck)) {
		/* Another instance probes and writes: stay idle, reload the
		 * history if we become the writer again. */
		n->synced = false;
		node_schedule(n, ck->conf.params.interval_ms);
		return;
	}
	if (!n->synced) {
		node_sync(n, NULL);
	}
	probe_start(n, 0, ck->conf.params.timeout_ms);
}

static void node_schedule(node_t *n, uint64_t delay_ms)
{
	uv_timer_start(&n->timer, on_probe_due, delay_ms, 0);
}

/*!
 * \brief First step of the checker for a node: goes on with the schedule
 *        (and the probe in flight) recorded by the previous instance.
 */
static void node_takeover(node_t *n)
{
	tgc_checker_t *ck = n->ck;
	const tgc_health_params_t *params = &ck->conf.params;

	if (!is_writer(ck)) {
		/* Another instance probes: on_probe_due() keeps waiting. */
		node_schedule(n, tgc_health_stagger(n->idx, ck->count, params));
		return;
	}

	tgc_health_hist_t hist;
	node_sync(n, &hist);
	uint64_t now = tgc_table_now_ms();
	tgc_health_resume_t plan = tgc_health_resume(&n->sm, &hist, now, n->idx,
	                                             ck->count, params);
	switch (plan.kind) {
	case TGC_RESUME_PROBE:
		probe_start(n, hist.probe_start_ms, plan.timeout_ms);
		break;
	case TGC_RESUME_EXPIRED:
		/* Nobody saw the end of that probe: it timed out. */
		n->start_rt = hist.probe_start_ms;
		node_record(n, TGC_PROBE_TIMEOUT, true,
		            (params->timeout_ms < UINT32_MAX / 1000u) ?
		            params->timeout_ms * 1000u : UINT32_MAX,
		            now + plan.delay_ms);
		node_schedule(n, plan.delay_ms);
		break;
	default:
		node_schedule(n, plan.delay_ms);
		break;
	}
}

/*! \brief Records check: none once per node (health untouched). */
static void mark_disabled(tgc_checker_t *ck)
{
	tgc_table_t *table = ck->conf.table;

	for (uint32_t i = 0; i < ck->count; i++) {
		tgc_node_rec_t *rec = &table->nodes[i];
		if (!tgc_table_write_begin(rec)) {
			continue;
		}
		REC_STORE(rec->last_probe, (uint8_t)TGC_PROBE_DISABLED);
		tgc_table_write_end(table, rec);
	}
	ck->disabled_marked = true;
}

/*!
 * \brief Exchanges the checker's view with its segment (see
 *        tgc_table_sync()) and logs what happened.
 */
static void table_sync(tgc_checker_t *ck)
{
	tgc_table_sync_t ev;
	tgc_table_sync(ck->conf.table, ck->conf.writer_token, &ev);
	if (ev.retaken) {
		CK_LOG(ck, LOG_WARNING, "segment %s: took the writer role back from "
		       "pid %d, which is gone (%u records closed)",
		       ck->conf.table->name, (int)ev.gone_pid, ev.closed);
	}
	if (ev.dropped) {
		CK_LOG(ck, ev.removed ? LOG_NOTICE : LOG_ERR,
		       "segment %s: %s; no longer using it, answers "
		       "continue from this instance's own copy (knotc reload "
		       "recreates the segment)", ck->conf.table->name, ev.why);
	}
}

/*! \brief Takes the zone admin states posted by the query workers into
 *         the view (checker thread). */
static void admin_zone_take(tgc_checker_t *ck)
{
	tgc_admin_box_t *box = ck->conf.admin_box;
	if (box == NULL || box->count != ck->count) {
		return;
	}
	tgc_admin_zone_t *nodes = calloc(ck->count + 1, sizeof(*nodes));
	uint8_t *states = calloc(ck->count + 1, 1);
	char (*reasons)[TGC_ADMIN_REASON_MAX] = calloc(ck->count + 1, sizeof(*reasons));
	uint32_t serial = 0, malformed = 0;
	if (nodes != NULL && states != NULL && reasons != NULL &&
	    tgc_admin_box_take(box, &serial, &malformed, nodes)) {
		for (uint32_t i = 0; i < ck->count; i++) {
			states[i] = (uint8_t)nodes[i].state;
			memcpy(reasons[i], nodes[i].reason, TGC_ADMIN_REASON_MAX);
		}
		(void)tgc_table_zone_admin(ck->conf.table, serial, malformed,
		                           states, reasons);
	}
	free(nodes);
	free(states);
	free(reasons);
}

/*! \brief Logs a change of a node's effective admin state or its source
 *         (the audit record: source, uid or serial, reason). */
static void admin_log(tgc_checker_t *ck, node_t *n, tgc_admin_t admin)
{
	tgc_node_rec_t *r = &ck->conf.table->nodes[n->idx];
	uint8_t src = atomic_load_explicit(&r->admin_src, memory_order_relaxed);
	uint8_t local = atomic_load_explicit(&r->admin_local, memory_order_relaxed);
	/* A plain table (no private view, no resolve): the CLI's state. */
	if (src == TGC_ADMIN_SRC_LOCAL ||
	    (src == TGC_ADMIN_SRC_NONE && local != TGC_ADMIN_AUTO && local == admin)) {
		CK_LOG(ck, LOG_NOTICE, "node %s port %u admin %s -> %s "
		       "(source local, uid %u)", n->text, n->port,
		       tgc_table_admin_str(n->admin_seen), tgc_table_admin_str(admin),
		       atomic_load_explicit(&r->admin_uid, memory_order_relaxed));
	} else if (src == TGC_ADMIN_SRC_ZONE) {
		char reason[TGC_ADMIN_REASON_MAX];
		for (size_t w = 0; w < TGC_ADMIN_REASON_MAX / 8; w++) {
			uint64_t v = atomic_load_explicit(&r->zone_reason[w],
			                                  memory_order_relaxed);
			memcpy(reason + 8 * w, &v, 8);
		}
		reason[sizeof(reason) - 1] = '\0';
		CK_LOG(ck, LOG_NOTICE, "node %s port %u admin %s -> %s "
		       "(source zone, serial %u, reason '%s')", n->text, n->port,
		       tgc_table_admin_str(n->admin_seen), tgc_table_admin_str(admin),
		       atomic_load_explicit(&r->zone_serial, memory_order_relaxed),
		       reason);
	} else {
		CK_LOG(ck, LOG_NOTICE, "node %s port %u admin %s -> %s "
		       "(no local or zone state left)", n->text, n->port,
		       tgc_table_admin_str(n->admin_seen), tgc_table_admin_str(admin));
	}
}

/*!
 * \brief Heartbeat, zone admin states in, exchange with the segment and
 *        admin-state scan: logs each change of a node's effective admin
 *        state or of its source once (the first observation is not a
 *        change), and each zone state held back by min-live once.
 */
static void admin_scan(tgc_checker_t *ck)
{
	admin_zone_take(ck);
	if (is_writer(ck)) {
		atomic_store_explicit(&ck->conf.table->hdr->heartbeat_ms,
		                      tgc_table_now_ms(), memory_order_relaxed);
	}
	table_sync(ck);
	bool writer = is_writer(ck);

	if (writer) {
		if (ck->conf.params.check == TGC_CHECK_NONE && !ck->disabled_marked) {
			mark_disabled(ck);
		}
	}

	for (uint32_t i = 0; i < ck->count; i++) {
		node_t *n = &ck->nodes[i];
		tgc_admin_t admin = tgc_table_admin(ck->conf.table, i);
		tgc_node_rec_t *r = &ck->conf.table->nodes[i];
		uint8_t src = atomic_load_explicit(&r->admin_src, memory_order_relaxed);
		bool guard = (atomic_load_explicit(&r->admin_flags, memory_order_relaxed) &
		              TGC_ADMIN_F_GUARDED) != 0;
		if (n->admin_known && (admin != n->admin_seen || src != n->src_seen) &&
		    writer) {
			/* Only the owning instance reports (no duplicates
			 * while a reload overlaps two instances). */
			admin_log(ck, n, admin);
		}
		if (guard && !n->guard_seen && writer) {
			CK_LOG(ck, LOG_WARNING, "node %s port %u: zone admin %s "
			       "(serial %u) not applied: min-live %u would not "
			       "hold", n->text, n->port,
			       tgc_table_admin_str((tgc_admin_t)atomic_load_explicit(
			               &r->admin_zone, memory_order_relaxed)),
			       atomic_load_explicit(&r->zone_serial, memory_order_relaxed),
			       atomic_load_explicit(&ck->conf.table->hdr->min_live,
			                            memory_order_relaxed));
		}
		n->admin_seen = admin;
		n->src_seen = src;
		n->guard_seen = guard;
		n->admin_known = true;
	}
}

/*! \brief Admin timer tick. */
static void on_admin_timer(uv_timer_t *timer)
{
	tgc_checker_t *ck = timer->data;

	if (!ck->stopping) {
		admin_scan(ck);
	}
}

/*! \brief Wake request: zone admin states were posted. */
static void on_wake_async(uv_async_t *async)
{
	tgc_checker_t *ck = async->data;

	if (!ck->stopping) {
		admin_scan(ck);
	}
}

/*! \brief Stop request: close every handle so that uv_run() returns. */
static void on_stop_async(uv_async_t *async)
{
	tgc_checker_t *ck = async->data;

	ck->stopping = true;
	tgc_uvloop_close_all(&ck->loop);
}

/*! \brief Body of the checker thread. */
static void checker_run(void *arg)
{
	tgc_checker_t *ck = arg;

	if (ck->conf.thread_start != NULL) {
		ck->conf.thread_start(ck->conf.ctx);
	}

	uv_update_time(&ck->loop);
	admin_scan(ck);
	/* At least once per check interval: a writer role left by a process
	 * that is gone is taken back within two intervals. */
	uint64_t tick = ADMIN_SCAN_MS;
	if (ck->conf.params.interval_ms > 0 && ck->conf.params.interval_ms < tick) {
		tick = ck->conf.params.interval_ms;
	}
	uv_timer_start(&ck->admin_timer, on_admin_timer, tick, tick);
	if (ck->conf.params.check != TGC_CHECK_NONE) {
		for (uint32_t i = 0; i < ck->count; i++) {
			if (ck->nodes[i].valid) {
				node_takeover(&ck->nodes[i]);
			}
		}
	}

	(void)uv_run(&ck->loop, UV_RUN_DEFAULT);

	/* Stopped (or, defensively, out of work): nothing may stay open. */
	ck->stopping = true;
	ck->loop_close_ret = tgc_uvloop_shutdown(&ck->loop);
	assert(ck->loop_close_ret == 0);

	if (ck->conf.thread_stop != NULL) {
		ck->conf.thread_stop(ck->conf.ctx);
	}
}

/*! \brief Fills the immutable part of a node from its record. */
static void node_init(tgc_checker_t *ck, uint32_t idx)
{
	node_t *n = &ck->nodes[idx];
	const tgc_node_rec_t *rec = &ck->conf.table->nodes[idx];
	tgc_addr_t addr = { .family = rec->family };

	n->ck = ck;
	n->idx = idx;
	n->port = rec->port;
	n->phase = NODE_IDLE;
	if (rec->family == AF_INET || rec->family == AF_INET6) {
		addr.len = (rec->family == AF_INET) ? 4 : 16;
		memcpy(addr.bytes, rec->addr, addr.len);
		tgc_addr_to_sockaddr(&addr, rec->port, &n->sa);
		n->valid = true;
	}
	(void)tgc_addr_format(&addr, n->text, sizeof(n->text));

	(void)uv_timer_init(&ck->loop, &n->timer);
	n->timer.data = n;
}

/*! \brief Frees a checker whose loop is closed (or was never opened). */
static void checker_free(tgc_checker_t *ck)
{
	free(ck->nodes);
	free(ck);
}

int tgc_checker_start(tgc_checker_t **out, const tgc_checker_conf_t *conf)
{
	if (out == NULL || conf == NULL || conf->table == NULL ||
	    conf->table->hdr == NULL || conf->table->nodes == NULL ||
	    (unsigned)conf->params.check > TGC_CHECK_NONE) {
		return KNOT_EINVAL;
	}
	if (conf->params.check != TGC_CHECK_NONE &&
	    (conf->params.interval_ms == 0 || conf->params.timeout_ms == 0)) {
		return KNOT_EINVAL;
	}
	if (!conf->table->writable) {
		return KNOT_EACCES;
	}

	tgc_checker_t *ck = calloc(1, sizeof(*ck));
	if (ck == NULL) {
		return KNOT_ENOMEM;
	}
	ck->conf = *conf;
	ck->count = conf->table->hdr->node_count;
	if (ck->count > 0) {
		ck->nodes = calloc(ck->count, sizeof(*ck->nodes));
		if (ck->nodes == NULL) {
			checker_free(ck);
			return KNOT_ENOMEM;
		}
	}

	int ret = uv_loop_init(&ck->loop);
	if (ret != 0) {
		checker_free(ck);
		return uv_to_knot(ret);
	}
	ret = uv_async_init(&ck->loop, &ck->stop_async, on_stop_async);
	if (ret != 0) {
		(void)tgc_uvloop_shutdown(&ck->loop);
		checker_free(ck);
		return uv_to_knot(ret);
	}
	ck->stop_async.data = ck;
	ret = uv_async_init(&ck->loop, &ck->wake_async, on_wake_async);
	if (ret != 0) {
		(void)tgc_uvloop_shutdown(&ck->loop);
		checker_free(ck);
		return uv_to_knot(ret);
	}
	ck->wake_async.data = ck;
	(void)uv_timer_init(&ck->loop, &ck->admin_timer);
	ck->admin_timer.data = ck;
	for (uint32_t i = 0; i < ck->count; i++) {
		node_init(ck, i);
	}

	/* The thread starts with every signal blocked: they belong to knotd's
	 * main thread. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = uv_thread_create(&ck->thread, checker_run, ck);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret != 0) {
		ck->stopping = true;
		ret = uv_to_knot(ret);
		if (tgc_uvloop_shutdown(&ck->loop) == 0) {
			checker_free(ck);
		} /* else leak rather than free a live loop. */
		return ret;
	}

	*out = ck;
	return KNOT_EOK;
}

void tgc_checker_wake(tgc_checker_t *checker)
{
	if (checker != NULL) {
		(void)uv_async_send(&checker->wake_async);
	}
}

void tgc_checker_stop(tgc_checker_t *checker)
{
	if (checker == NULL) {
		return;
	}

	int ret = uv_async_send(&checker->stop_async);
	assert(ret == 0);
	(void)ret;
	ret = uv_thread_join(&checker->thread);
	assert(ret == 0);

	/* A loop that failed to close still owns kernel objects and memory
	 * that libuv may reference: leak it rather than free it. */
	if (checker->loop_close_ret == 0) {
		checker_free(checker);
	}
}
