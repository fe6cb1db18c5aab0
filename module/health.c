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
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>

#include <libknot/libknot.h>
#include <uv.h>

#include "module/addr.h"
#include "module/admin.h"
#include "module/health.h"
#include "module/load.h"
#include "module/agent_poll.h"
#include "module/probe_agent.h"
#include "module/probe_http.h"
#include "module/probe_tls.h"
#include "module/probe_rfb.h"
#include "module/uvloop.h"
#include "module/table.h"

/*! \brief Period of the admin-state scan and of the heartbeat, in ms. */
#define ADMIN_SCAN_MS		200
/*! \brief Shortest fast-pace delay while a change is pending, in ms. */
#define FAST_PACE_MIN_MS	10

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
	tgc_rfb_t rfb;                /*!< RFB handshake of the probe (rfb). */
	uint8_t rx[64];               /*!< Read buffer of the probe (rfb). */
	bool rfb_refused;             /*!< The server refuses the checker (the
	                               *   refusal is logged, not yet cleared). */
	tgc_agent_poll_t agent;       /*!< Agent poll (agent_port set). */
	bool agent_unknown_logged;    /*!< Unknown agent words were logged. */
	bool agent_failing;           /*!< The agent's failure was logged. */
	tgc_health_sm_t sm;           /*!< State machine (mirrors the record). */
	bool synced;                  /*!< sm was loaded from the record since
	                               *   we last (re)gained the writer role. */
	bool admin_known;             /*!< admin_seen is valid. */
	tgc_admin_t admin_seen;       /*!< Last observed admin state. */
	struct http_probe *http;      /*!< http/https/tls exchange of the probe
	                               *   in flight (freed once closed). */
	void *tls_sess;               /*!< https: session saved for resumption
	                               *   (NULL = full handshake next). */
	size_t tls_sess_len;          /*!< Its length. */
	uint64_t tls_full_ms;         /*!< Loop time of the last full handshake. */
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
	bool agent_fields_done;       /*!< Weights, capacities (and, without an
	                           *   agent, agent fields) written (checker
	                           *   thread only). */
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

	if (!is_writer(ck)) {
		/* A newer instance owns the table: drop the result, reload
		 * the history when (if ever) we own it again. */
		n->synced = false;
		return;
	}

	tgc_health_sm_t sm = n->sm;
	tgc_health_t from = sm.health;
	bool changed = feed && tgc_health_feed(&sm, probe == TGC_PROBE_OK ||
	                                       probe == TGC_PROBE_RFB_REFUSED,
	                                       &ck->conf.params);
	uint64_t now = tgc_table_now_ms();
	if (next_due_ms == 0) {
		next_due_ms = n->start_rt + tgc_health_next_delay(&sm, &ck->conf.params);
		next_due_ms = (next_due_ms > now) ? next_due_ms : now;
	}

	tgc_node_update_t upd = {
		.what = TGC_NODE_UPD_RESULT | TGC_NODE_UPD_START | TGC_NODE_UPD_DUE |
		        (changed ? TGC_NODE_UPD_HEALTH : 0),
		.health = sm.health,
		.consec_ok = sm.consec_ok,
		.consec_fail = sm.consec_fail,
		.last_probe = probe,
		.last_rtt_us = rtt_us,
		.now_ms = now,
		.probe_start_ms = 0,
		.next_due_ms = next_due_ms,
	};
	if (!tgc_table_node_update(table, n->idx, &upd)) {
		/* Someone else is inside the record: skip, resync later. */
		n->synced = false;
		return;
	}
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

/*! \brief Frees the http/https/tls exchange of a node (closed handle). */
static void http_free(node_t *n);

/*! \brief Close callback of a probe connection. */
static void on_tcp_closed(uv_handle_t *handle)
{
	node_t *n = handle->data;

	http_free(n);
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

/*! \brief Read buffer of an rfb probe. */
static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	node_t *n = handle->data;
	(void)suggested;

	buf->base = (char *)n->rx;
	buf->len = sizeof(n->rx);
}

/*! \brief Probe outcome of a final RFB handshake status. */
static tgc_probe_t rfb_probe(tgc_rfb_status_t st)
{
	switch (st) {
	case TGC_RFB_OFFERED:    return TGC_PROBE_OK;
	case TGC_RFB_REFUSED:    return TGC_PROBE_RFB_REFUSED;
	case TGC_RFB_BAD_BANNER: return TGC_PROBE_BANNER;
	default:                 return TGC_PROBE_HANDSHAKE;
	}
}

/*!
 * \brief Follows whether a node's server refuses the checker: logs when a
 *        refusal starts and when the server accepts again, once each, and
 *        reports every refused probe. Only the writing instance does.
 */
static void rfb_track(node_t *n, tgc_probe_t probe)
{
	tgc_checker_t *ck = n->ck;

	if (ck->stopping || !is_writer(ck)) {
		return;
	}
	if (probe == TGC_PROBE_RFB_REFUSED) {
		if (ck->conf.refused != NULL) {
			ck->conf.refused(ck->conf.ctx, n->idx);
		}
		if (!n->rfb_refused) {
			n->rfb_refused = true;
			CK_LOG(ck, LOG_WARNING, "node %s port %u refuses the "
			       "checker: \"%s\"%s (server alive, health "
			       "unchanged)", n->text, n->port, n->rfb.reason,
			       (n->rfb.reason_total > n->rfb.reason_len) ?
			       "..." : "");
		}
	} else if (probe == TGC_PROBE_OK && n->rfb_refused) {
		n->rfb_refused = false;
		CK_LOG(ck, LOG_NOTICE, "node %s port %u accepts the checker "
		       "again", n->text, n->port);
	}
}

/*! \brief Ends an rfb probe with a final handshake status. */
static void rfb_end(node_t *n, tgc_rfb_status_t st)
{
	tgc_probe_t probe = rfb_probe(st);

	rfb_track(n, probe);
	probe_end(n, probe, true);
}

/*!
 * \brief Sends the version reply of an rfb probe.
 *
 * \return False if the probe ended (local failure).
 */
static bool rfb_send_reply(node_t *n)
{
	const uint8_t *reply = tgc_rfb_reply(&n->rfb);
	uv_os_fd_t fd;

	if (reply == NULL || uv_fileno((uv_handle_t *)&n->tcp, &fd) != 0) {
		probe_end(n, TGC_PROBE_ERROR, true);
		return false;
	}
	/* 12 bytes into the empty send buffer of a fresh connection. A peer
	 * that already went away (EPIPE, ECONNRESET) is left to the reading
	 * side, which still has what the server sent before it closed. */
	ssize_t r = send(fd, reply, TGC_RFB_VERSION_LEN, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (r == TGC_RFB_VERSION_LEN || (r < 0 && (errno == EPIPE ||
	                                            errno == ECONNRESET))) {
		return true;
	}
	probe_end(n, TGC_PROBE_ERROR, true);
	return false;
}

/*! \brief Handshake data of an rfb probe. */
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	node_t *n = stream->data;
	(void)buf;

	if (n->ck->stopping || n->phase != NODE_PROBING || nread == 0) {
		return;
	}
	if (nread < 0) {
		/* Closed or reset: nothing at all means the service turned us
		 * away; otherwise the handshake ended early (a refusal whose
		 * reason was cut short still counts as a refusal). */
		if (n->rfb.banner_len == 0) {
			probe_end(n, status_probe((int)nread), true);
		} else {
			rfb_end(n, tgc_rfb_eof(&n->rfb));
		}
		return;
	}

	const uint8_t *data = n->rx;
	size_t len = (size_t)nread;
	while (true) {
		size_t used = 0;
		tgc_rfb_status_t st = tgc_rfb_feed(&n->rfb, data, len, &used);
		data += used;
		len -= used;
		if (st == TGC_RFB_MORE) {
			return;
		}
		if (st != TGC_RFB_SEND) {
			rfb_end(n, st);
			return;
		}
		if (!rfb_send_reply(n)) {
			return;
		}
	}
}

/*
 * http, https and tls probes: after the connect, a TLS handshake (https,
 * tls), then a GET whose response head is parsed (http, https). At most
 * TGC_HTTP_HEAD_MAX response bytes are read; the probe timer bounds all.
 */

/*!
 * \brief Longest time an https probe resumes the session of its last full
 *        handshake, in ms: a full handshake (with certificate verification)
 *        at least this often.
 */
#define TLS_RESUME_MS	60000

/*! \brief The exchange of one http/https/tls probe. */
typedef struct http_probe {
	tgc_tls_t *tls;               /*!< TLS session (https, tls). */
	bool handshaken;              /*!< TLS handshake done. */
	bool keep;                    /*!< A complete response came: the TLS
	                               *   session may be resumed. */
	uv_write_t write;             /*!< Request write (plain http). */
	size_t req_len;               /*!< Request length. */
	char name[TGC_HTTP_HOST_MAX + 1]; /*!< Expected TLS name (GnuTLS keeps
	                               *   a pointer to it for the session). */
	char req[TGC_HTTP_PATH_MAX + TGC_HTTP_HOST_MAX + 128]; /*!< Request. */
	size_t resp_len;              /*!< Response bytes in \a resp. */
	uint8_t resp[TGC_HTTP_HEAD_MAX + 1]; /*!< Response head (one byte more
	                               *   than a head may take). */
	uint8_t raw[];                /*!< Read buffer (TLS records; none for
	                               *   plain http). */
} http_probe_t;

/*! \brief Read buffer size of a TLS probe. */
#define TLS_RAW_SIZE	16384

/*! \brief Drops the saved TLS session of a node. */
static void tls_forget(node_t *n)
{
	free(n->tls_sess);
	n->tls_sess = NULL;
	n->tls_sess_len = 0;
}

static void http_free(node_t *n)
{
	http_probe_t *h = n->http;
	if (h == NULL) {
		return;
	}
	if (h->tls != NULL && n->ck->conf.params.check == TGC_CHECK_HTTPS) {
		/* Keep a session that served a complete response; a probe
		 * that failed otherwise starts over with a full handshake. */
		void *data = NULL;
		size_t len = 0;
		if (!h->keep) {
			tls_forget(n);
		} else if (tgc_tls_save(h->tls, &data, &len) == KNOT_EOK) {
			tls_forget(n);
			n->tls_sess = data;
			n->tls_sess_len = len;
		}
		if (h->keep && !tgc_tls_resumed(h->tls)) {
			n->tls_full_ms = n->start_ms;
		}
	}
	tgc_tls_free(h->tls);
	free(h);
	n->http = NULL;
}

/*! \brief The expected TLS name: check-host without brackets and port, or
 *         the node address. */
static void tls_name(const node_t *n, char *buf, size_t size)
{
	const char *host = n->ck->conf.params.http_host;
	if (host == NULL) {
		snprintf(buf, size, "%s", n->text);
		return;
	}
	const char *end = host + strlen(host);
	if (host[0] == '[') {
		const char *close = strchr(host, ']');
		host++;
		end = (close != NULL) ? close : end;
	} else {
		const char *colon = strchr(host, ':');
		/* One colon is a port; more is a bare IPv6 address. */
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			end = colon;
		}
	}
	snprintf(buf, size, "%.*s", (int)(end - host), host);
}

/*! \brief Builds the request of an http/https probe. */
static bool http_request(node_t *n)
{
	const tgc_health_params_t *p = &n->ck->conf.params;
	char host[TGC_HTTP_HOST_MAX + 1];
	if (p->http_host != NULL) {
		snprintf(host, sizeof(host), "%s", p->http_host);
	} else if (tgc_http_default_host(host, sizeof(host), n->text,
	                                 n->sa.ss_family == AF_INET6, n->port,
	                                 p->check == TGC_CHECK_HTTPS) == 0) {
		return false;
	}
	n->http->req_len = tgc_http_request(n->http->req, sizeof(n->http->req),
	                                    p->http_path ? p->http_path : "/",
	                                    host);
	return n->http->req_len > 0;
}

/*! \brief Read buffer: the raw buffer (TLS) or the room left in the head. */
static void on_http_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	node_t *n = handle->data;
	http_probe_t *h = n->http;
	(void)suggested;

	if (h->tls != NULL) {
		*buf = uv_buf_init((char *)h->raw, TLS_RAW_SIZE);
	} else {
		*buf = uv_buf_init((char *)h->resp + h->resp_len,
		                   (unsigned)(sizeof(h->resp) - h->resp_len));
	}
}

/*!
 * \brief Judges the response head received so far; ends the probe when
 *        the verdict is known. \a closed: the server closed the stream.
 */
static void http_judge(node_t *n, bool closed)
{
	const tgc_health_params_t *p = &n->ck->conf.params;
	http_probe_t *h = n->http;
	tgc_http_resp_t resp;

	switch (tgc_http_parse(h->resp, h->resp_len, &resp)) {
	case TGC_HTTP_DONE:
		h->keep = true;
		probe_end(n, tgc_http_status_ok(resp.status, p->statuses,
		                                p->status_count) ?
		             TGC_PROBE_OK : TGC_PROBE_STATUS, true);
		break;
	case TGC_HTTP_BAD:
		probe_end(n, TGC_PROBE_BANNER, true);
		break;
	default:
		if (closed) {
			/* Closed before the head ended: nothing at all is a
			 * refusal, a partial head a bad response. */
			probe_end(n, (h->resp_len == 0) ? TGC_PROBE_REFUSED :
			                                  TGC_PROBE_BANNER, true);
		}
		break;
	}
}

/*! \brief Drives a TLS probe with the bytes fed so far. */
static void tls_drive(node_t *n)
{
	tgc_checker_t *ck = n->ck;
	http_probe_t *h = n->http;

	if (!h->handshaken) {
		const char *why = NULL;
		switch (tgc_tls_handshake(h->tls, &why)) {
		case TGC_TLS_AGAIN:
			return;
		case TGC_TLS_CERT:
			CK_LOG(ck, LOG_DEBUG, "node %s port %u: %s", n->text,
			       n->port, why);
			probe_end(n, TGC_PROBE_CERT, true);
			return;
		case TGC_TLS_FAIL:
			CK_LOG(ck, LOG_DEBUG, "node %s port %u: TLS %s", n->text,
			       n->port, why);
			probe_end(n, TGC_PROBE_TLS, true);
			return;
		default:
			break;
		}
		h->handshaken = true;
		if (ck->conf.params.check == TGC_CHECK_TLS) {
			probe_end(n, TGC_PROBE_OK, true);
			return;
		}
		if (tgc_tls_send(h->tls, h->req, h->req_len) != KNOT_EOK) {
			probe_end(n, TGC_PROBE_TLS, true);
			return;
		}
	}
	for (;;) {
		size_t room = sizeof(h->resp) - h->resp_len;
		ssize_t got = tgc_tls_recv(h->tls, h->resp + h->resp_len, room);
		if (got == KNOT_EAGAIN) {
			http_judge(n, false);
			return;
		}
		if (got < 0) {
			probe_end(n, (h->resp_len == 0) ? TGC_PROBE_TLS :
			                                  TGC_PROBE_BANNER, true);
			return;
		}
		h->resp_len += (size_t)got;
		if (got == 0 || h->resp_len == sizeof(h->resp)) {
			http_judge(n, true);
			return;
		}
		/* Judge what came so far: a bad head ends the probe now. */
		tgc_http_resp_t resp;
		if (tgc_http_parse(h->resp, h->resp_len, &resp) != TGC_HTTP_MORE) {
			http_judge(n, false);
			return;
		}
	}
}

/*! \brief Response data of an http/https/tls probe. */
static void on_http_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	node_t *n = stream->data;
	http_probe_t *h = n->http;

	if (n->ck->stopping || n->phase != NODE_PROBING || nread == 0) {
		return;
	}
	if (nread < 0) {
		if (h->tls != NULL && !h->handshaken) {
			probe_end(n, TGC_PROBE_TLS, true);
		} else if (h->tls != NULL) {
			tls_drive(n); /* What is left, then the end. */
			if (n->phase == NODE_PROBING) {
				http_judge(n, true);
			}
		} else if (nread == UV_EOF) {
			http_judge(n, true);
		} else {
			probe_end(n, status_probe((int)nread), true);
		}
		return;
	}
	if (h->tls != NULL) {
		if (tgc_tls_feed(h->tls, (const uint8_t *)buf->base,
		                 (size_t)nread) != KNOT_EOK) {
			probe_end(n, TGC_PROBE_TLS, true);
			return;
		}
		tls_drive(n);
		return;
	}
	h->resp_len += (size_t)nread;
	/* A full buffer holds more than a head may take: bad. */
	http_judge(n, h->resp_len == sizeof(h->resp));
}

/*! \brief Request written (plain http); a failure ends the probe. */
static void on_http_written(uv_write_t *req, int status)
{
	node_t *n = req->data;

	if (status != 0 && !n->ck->stopping && n->phase == NODE_PROBING) {
		probe_end(n, status_probe(status), true);
	}
}

/*! \brief Connected: starts the exchange of an http/https/tls probe. */
static void http_begin(node_t *n)
{
	tgc_checker_t *ck = n->ck;
	tgc_check_t check = ck->conf.params.check;

	bool tls = (check != TGC_CHECK_HTTP);
	n->http = malloc(sizeof(*n->http) + (tls ? TLS_RAW_SIZE : 0));
	if (n->http != NULL) {
		/* Only the head: the buffers need no clearing. */
		memset(n->http, 0, offsetof(http_probe_t, req));
		n->http->resp_len = 0;
	}
	if (n->http == NULL ||
	    (check != TGC_CHECK_TLS && !http_request(n))) {
		probe_end(n, TGC_PROBE_ERROR, false);
		return;
	}
	int ret = uv_read_start((uv_stream_t *)&n->tcp, on_http_alloc, on_http_read);
	if (ret != 0) {
		probe_end(n, TGC_PROBE_ERROR, true);
		return;
	}
	if (check == TGC_CHECK_HTTP) {
		uv_buf_t buf = uv_buf_init(n->http->req, (unsigned)n->http->req_len);
		/* A fresh connection takes the small request at once: no write
		 * request, no extra loop turn. */
		ret = uv_try_write((uv_stream_t *)&n->tcp, &buf, 1);
		if (ret == (int)buf.len) {
			return;
		}
		if (ret > 0) {
			buf.base += ret;
			buf.len -= (size_t)ret;
		}
		n->http->write.data = n;
		ret = uv_write(&n->http->write, (uv_stream_t *)&n->tcp, &buf, 1,
		               on_http_written);
		if (ret != 0) {
			probe_end(n, status_probe(ret), true);
		}
		return;
	}
	tls_name(n, n->http->name, sizeof(n->http->name));
	if (ck->conf.params.tls == NULL ||
	    tgc_tls_new(&n->http->tls, ck->conf.params.tls,
	                (uv_stream_t *)&n->tcp, n->http->name) != KNOT_EOK) {
		probe_end(n, TGC_PROBE_ERROR, false);
		return;
	}
	if (n->tls_sess != NULL &&
	    (n->start_ms - n->tls_full_ms < TLS_RESUME_MS) &&
	    tgc_tls_resume(n->http->tls, n->tls_sess, n->tls_sess_len) != KNOT_EOK) {
		tls_forget(n);
	}
	tls_drive(n); /* Sends the ClientHello. */
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
	if (tgc_health_check_is_http(ck->conf.params.check)) {
		http_begin(n);
		return;
	}
	if (ck->conf.params.check != TGC_CHECK_RFB) {
		probe_end(n, TGC_PROBE_OK, true);
		return;
	}
	tgc_rfb_init(&n->rfb);
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

	if (!is_writer(n->ck)) {
		return;
	}
	tgc_node_update_t upd = {
		.what = TGC_NODE_UPD_START,
		.probe_start_ms = n->start_rt,
	};
	if (tgc_table_node_update(table, n->idx, &upd)) {
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

/*
 * The agent poll (agent_poll.c): a second connection per node, to
 * agent_port, every check-interval, bounded by check-timeout, reading one
 * line; what it reports is written here.
 */

/*! \brief The static weight of node \a idx (`node-weight`, default 1). */
static uint32_t node_weight(const tgc_checker_t *ck, uint32_t idx)
{
	return (ck->conf.weights != NULL) ? ck->conf.weights[idx] : 1;
}

/*!
 * \brief Sets the weight and the effective capacity (from the agent fields
 *        of \a upd) that \a upd writes with TGC_NODE_UPD_CAPACITY.
 */
static void capacity_set(const tgc_checker_t *ck, uint32_t idx,
                         tgc_node_update_t *upd)
{
	tgc_load_cap_t cap = {
		.weight = node_weight(ck, idx),
		.has_pct = (upd->agent_flags & TGC_AGENT_F_PCT) != 0,
		.pct = upd->agent_pct,
		.has_maxconn = (upd->agent_flags & TGC_AGENT_F_MAXCONN) != 0,
		.maxconn = upd->agent_maxconn,
	};
	upd->what |= TGC_NODE_UPD_CAPACITY;
	upd->agent_flags |= TGC_AGENT_F_CAPACITY;
	upd->weight = cap.weight;
	upd->capacity_x100 = tgc_load_capacity_x100(&cap);
}

/*!
 * \brief Writes an agent poll's outcome into the record: the report of a
 *        line (\a rep), or NULL when the agent gave no usable line (its
 *        state is then unknown: cleared, the health check decides).
 */
static void agent_record(node_t *n, const tgc_agent_report_t *rep)
{
	tgc_checker_t *ck = n->ck;
	tgc_table_t *table = ck->conf.table;

	if (!is_writer(ck)) {
		return;
	}
	/* The checker is the records' only writer: its own read is stable. */
	tgc_node_snap_t old;
	tgc_table_node_read(table, n->idx, &old);
	tgc_node_update_t upd = {
		.what = TGC_NODE_UPD_AGENT,
		.agent_sessions = old.agent_sessions,
		.agent_maxconn = old.agent_maxconn,
		.agent_pct = old.agent_pct,
		.agent_flags = old.agent_flags | TGC_AGENT_F_POLLED,
	};
	uint8_t old_state = old.agent_state;
	uint8_t state = 0;
	if (rep == NULL) {
		/* State words cleared; the last sessions, maxconn and
		 * percentage stay the node's load estimate. */
		upd.agent_flags &= (uint8_t)~TGC_AGENT_F_ANSWERED;
		upd.agent_errors_add = 1;
	} else {
		upd.agent_flags |= TGC_AGENT_F_ANSWERED;
		/* State words persist until the agent changes them (a
		 * failed poll has cleared them). */
		state = tgc_agent_apply_state(old_state, rep);
		if (rep->has_sessions) {
			upd.agent_flags |= TGC_AGENT_F_SESSIONS;
			upd.agent_sessions = rep->sessions;
		}
		if (rep->has_maxconn) {
			upd.agent_flags |= TGC_AGENT_F_MAXCONN;
			upd.agent_maxconn = rep->maxconn;
		}
		if (rep->has_pct) {
			upd.agent_flags |= TGC_AGENT_F_PCT;
			upd.agent_pct = rep->pct;
		}
	}
	upd.agent_state = state;
	capacity_set(ck, n->idx, &upd);
	if (!tgc_table_node_update(table, n->idx, &upd)) {
		return;
	}
	tgc_table_publish(table, ck->conf.writer_token, n->idx);

	if (ck->stopping) {
		return;
	}
	if (rep == NULL && ck->conf.agent_error != NULL) {
		ck->conf.agent_error(ck->conf.ctx, n->idx);
	}
	if (state != old_state) {
		CK_LOG(ck, LOG_NOTICE, "node %s agent port %u: state%s%s%s%s "
		       "(agent)", n->text, ck->conf.agent_port,
		       (state == 0) ? " ready" : "",
		       (state & TGC_AGENT_DOWN) ? " down" : "",
		       (state & TGC_AGENT_DRAIN) ? " drain" : "",
		       (state & TGC_AGENT_MAINT) ? " maint" : "");
	}
}

/*! \brief End of an agent poll (agent_poll.c): logs, then the record. */
static void agent_done(void *ctx, const tgc_agent_report_t *rep, const char *why)
{
	node_t *n = ctx;
	tgc_checker_t *ck = n->ck;

	if (ck->stopping) {
		return;
	}
	if (rep != NULL) {
		if (rep->unknown > 0 && !n->agent_unknown_logged && is_writer(ck)) {
			n->agent_unknown_logged = true;
			CK_LOG(ck, LOG_WARNING, "node %s agent port %u: ignoring "
			       "%u unknown word(s), first '%s' (logged once)",
			       n->text, ck->conf.agent_port, rep->unknown,
			       rep->first_unknown);
		}
		if (n->agent_failing && is_writer(ck)) {
			CK_LOG(ck, LOG_NOTICE, "node %s agent port %u answers "
			       "again", n->text, ck->conf.agent_port);
		}
		n->agent_failing = false;
	} else {
		if (!n->agent_failing && is_writer(ck)) {
			CK_LOG(ck, LOG_WARNING, "node %s agent port %u: %s; agent "
			       "state unknown, the health check decides",
			       n->text, ck->conf.agent_port, why);
		}
		n->agent_failing = true;
	}
	agent_record(n, rep);
}

/*! \brief Agent polls run only while this checker writes the table. */
static bool agent_may_poll(void *ctx)
{
	node_t *n = ctx;
	return is_writer(n->ck);
}

/*! \brief The checker stops: agent polls end. */
static bool agent_stopped(void *ctx)
{
	node_t *n = ctx;
	return n->ck->stopping;
}

/*!
 * \brief Once per checker, when it writes: the weight and capacity of every
 *        record from this configuration (an earlier one may have had other
 *        weights); without agent-port, also clears what an agent reported
 *        (a drain left by an earlier configuration must not stay).
 */
static void agent_fields_init(tgc_checker_t *ck)
{
	tgc_table_t *table = ck->conf.table;

	for (uint32_t i = 0; i < ck->count; i++) {
		tgc_node_snap_t old;
		tgc_table_node_read(table, i, &old);
		/* Errors stay: they count polls made. */
		tgc_node_update_t upd = { .what = TGC_NODE_UPD_AGENT };
		if (ck->conf.agent_port != 0) {
			upd.agent_sessions = old.agent_sessions;
			upd.agent_maxconn = old.agent_maxconn;
			upd.agent_pct = old.agent_pct;
			upd.agent_state = old.agent_state;
			upd.agent_flags = old.agent_flags;
		}
		capacity_set(ck, i, &upd);
		if (old.agent_flags == upd.agent_flags &&
		    old.agent_state == upd.agent_state &&
		    old.agent_sessions == upd.agent_sessions &&
		    old.agent_maxconn == upd.agent_maxconn &&
		    old.agent_pct == upd.agent_pct && old.weight == upd.weight &&
		    old.capacity_x100 == upd.capacity_x100) {
			continue;
		}
		if (tgc_table_node_update(table, i, &upd)) {
			tgc_table_publish(table, ck->conf.writer_token, i);
		}
	}
	ck->agent_fields_done = true;
}

/*! \brief Records check: none once per node (health untouched). */
static void mark_disabled(tgc_checker_t *ck)
{
	tgc_table_t *table = ck->conf.table;

	tgc_node_update_t upd = {
		.what = TGC_NODE_UPD_PROBE,
		.last_probe = TGC_PROBE_DISABLED,
	};
	for (uint32_t i = 0; i < ck->count; i++) {
		(void)tgc_table_node_update(table, i, &upd);
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
		if (!ck->agent_fields_done) {
			agent_fields_init(ck);
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

	for (uint32_t i = 0; ck->conf.agent_port != 0 && i < ck->count; i++) {
		if (ck->nodes[i].valid) {
			tgc_agent_poll_start(&ck->nodes[i].agent,
			                     tgc_health_stagger(i, ck->count,
			                                        &ck->conf.params));
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
	if (n->valid && ck->conf.agent_port != 0) {
		struct sockaddr_storage sa;
		tgc_addr_to_sockaddr(&addr, ck->conf.agent_port, &sa);
		(void)tgc_agent_poll_init(&n->agent, &ck->loop, &sa,
		                          ck->conf.params.interval_ms,
		                          ck->conf.params.timeout_ms, agent_done,
		                          agent_may_poll, agent_stopped, n);
	}
}

/*! \brief Frees a checker whose loop is closed (or was never opened). */
static void checker_free(tgc_checker_t *ck)
{
	for (uint32_t i = 0; ck->nodes != NULL && i < ck->count; i++) {
		tls_forget(&ck->nodes[i]);
	}
	free(ck->nodes);
	free(ck);
}

int tgc_checker_start(tgc_checker_t **out, const tgc_checker_conf_t *conf)
{
	if (out == NULL || conf == NULL || conf->table == NULL ||
	    conf->table->hdr == NULL || conf->table->nodes == NULL ||
	    (unsigned)conf->params.check > TGC_CHECK_TLS) {
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
