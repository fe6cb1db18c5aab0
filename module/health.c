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

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>

#include <libknot/libknot.h>
#include <uv.h>

#include "module/addr.h"
#include "module/admin.h"
#include "module/agent_poll.h"
#include "module/checker_node.h"
#include "module/health.h"
#include "module/load.h"
#include "module/probe_agent.h"
#include "module/uvloop.h"
#include "module/table.h"

/*! \brief Period of the admin-state scan and of the heartbeat, in ms. */
#define ADMIN_SCAN_MS		200

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
	uint64_t elapsed = uv_now(&ck->ul.loop) - n->start_ms;

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

	if (!tgc_checker_is_writer(ck)) {
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

	if (!changed || ck->ul.th.stopping) {
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

	tgc_checker_http_free(n);
	n->tcp_open = false;
	n->phase = NODE_IDLE;
	if (!n->ck->ul.th.stopping) {
		node_schedule_next(n);
	}
}

void tgc_checker_probe_end(node_t *n, tgc_probe_t probe, bool feed)
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

	if (n->ck->ul.th.stopping || n->phase != NODE_PROBING) {
		return;
	}
	tgc_checker_probe_end(n, TGC_PROBE_TIMEOUT, true);
}


/*! \brief Connect result of a probe. */
static void on_connect(uv_connect_t *req, int status)
{
	node_t *n = req->data;
	tgc_checker_t *ck = n->ck;

	/* UV_ECANCELED after a timeout or a stop closed the handle. */
	if (ck->ul.th.stopping || n->phase != NODE_PROBING) {
		return;
	}
	if (status != 0) {
		tgc_checker_probe_end(n, tgc_checker_status_probe(status), true);
		return;
	}
	if (tgc_health_check_is_http(ck->conf.params.check)) {
		tgc_checker_http_begin(n);
		return;
	}
	if (ck->conf.params.check != TGC_CHECK_RFB) {
		tgc_checker_probe_end(n, TGC_PROBE_OK, true);
		return;
	}
	tgc_checker_rfb_begin(n);
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
	tgc_checker_probe_end(n, TGC_PROBE_ERROR, false);
}

/*! \brief Records the start of the probe in flight (start_rt). */
static void node_record_start(node_t *n)
{
	tgc_table_t *table = n->ck->conf.table;

	if (!tgc_checker_is_writer(n->ck)) {
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
	uv_update_time(&ck->ul.loop);
	uint64_t now_rt = tgc_table_now_ms();
	uint64_t ago = (started_rt != 0 && now_rt > started_rt) ?
	               now_rt - started_rt : 0;
	n->start_ns = uv_hrtime();
	n->start_ns -= (ago * 1000000u < n->start_ns) ? ago * 1000000u : 0;
	n->start_ms = uv_now(&ck->ul.loop);
	n->start_ms -= (ago < n->start_ms) ? ago : 0;
	n->start_rt = (started_rt != 0) ? started_rt : now_rt;
	n->phase = NODE_PROBING;
	node_record_start(n);

	int ret = uv_tcp_init_ex(&ck->ul.loop, &n->tcp, n->sa.ss_family);
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
			tgc_checker_probe_end(n, TGC_PROBE_ERROR, true);
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

	if (ck->ul.th.stopping || n->phase != NODE_IDLE) {
		return;
	}
	if (!tgc_checker_is_writer(ck)) {
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

	if (!tgc_checker_is_writer(ck)) {
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

	if (!tgc_checker_is_writer(ck)) {
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

	if (ck->ul.th.stopping) {
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

	if (ck->ul.th.stopping) {
		return;
	}
	if (rep != NULL) {
		if (rep->unknown > 0 && !n->agent_unknown_logged && tgc_checker_is_writer(ck)) {
			n->agent_unknown_logged = true;
			CK_LOG(ck, LOG_WARNING, "node %s agent port %u: ignoring "
			       "%u unknown word(s), first '%s' (logged once)",
			       n->text, ck->conf.agent_port, rep->unknown,
			       rep->first_unknown);
		}
		if (n->agent_failing && tgc_checker_is_writer(ck)) {
			CK_LOG(ck, LOG_NOTICE, "node %s agent port %u answers "
			       "again", n->text, ck->conf.agent_port);
		}
		n->agent_failing = false;
	} else {
		if (!n->agent_failing && tgc_checker_is_writer(ck)) {
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
	return tgc_checker_is_writer(n->ck);
}

/*! \brief The checker stops: agent polls end. */
static bool agent_stopped(void *ctx)
{
	node_t *n = ctx;
	return n->ck->ul.th.stopping;
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
	if (tgc_checker_is_writer(ck)) {
		tgc_uvthread_heartbeat(&ck->ul.th);
	}
	tgc_uvthread_table_sync(&ck->ul.th);
	bool writer = tgc_checker_is_writer(ck);

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

	if (!ck->ul.th.stopping) {
		admin_scan(ck);
	}
}

/*! \brief Wake request: zone admin states were posted. */
static void on_wake_async(uv_async_t *async)
{
	tgc_checker_t *ck = async->data;

	if (!ck->ul.th.stopping) {
		admin_scan(ck);
	}
}

/*! \brief First in the checker thread, before its loop runs: the first
 *         admin scan, the admin timer and each node's first probe. */
static void checker_setup(tgc_uvloop_t *ul)
{
	tgc_checker_t *ck = (tgc_checker_t *)ul;

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

	(void)uv_timer_init(&ck->ul.loop, &n->timer);
	n->timer.data = n;
	if (n->valid && ck->conf.agent_port != 0) {
		struct sockaddr_storage sa;
		tgc_addr_to_sockaddr(&addr, ck->conf.agent_port, &sa);
		(void)tgc_agent_poll_init(&n->agent, &ck->ul.loop, &sa,
		                          ck->conf.params.interval_ms,
		                          ck->conf.params.timeout_ms, agent_done,
		                          agent_may_poll, agent_stopped, n);
	}
}

/*! \brief Frees a checker whose loop is closed (or was never opened). */
static void checker_free(tgc_checker_t *ck)
{
	for (uint32_t i = 0; ck->nodes != NULL && i < ck->count; i++) {
		tgc_checker_tls_forget(&ck->nodes[i]);
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

	tgc_checker_t *ck = NULL;
	int ret = TGC_UVTHREAD_NEW(&ck, conf);
	if (ret != KNOT_EOK) {
		return ret;
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

	ck->ul.setup = checker_setup;
	ret = tgc_uvloop_init(&ck->ul);
	if (ret != 0) {
		checker_free(ck);
		return uv_to_knot(ret);
	}
	ret = uv_async_init(&ck->ul.loop, &ck->wake_async, on_wake_async);
	if (ret != 0) {
		(void)tgc_uvloop_shutdown(&ck->ul.loop);
		checker_free(ck);
		return uv_to_knot(ret);
	}
	ck->wake_async.data = ck;
	(void)uv_timer_init(&ck->ul.loop, &ck->admin_timer);
	ck->admin_timer.data = ck;
	for (uint32_t i = 0; i < ck->count; i++) {
		node_init(ck, i);
	}

	ret = tgc_uvloop_start(&ck->ul);
	if (ret != 0) {
		if (ck->ul.close_ret == 0) {
			checker_free(ck);
		} /* else leak rather than free a live loop. */
		return uv_to_knot(ret);
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

	if (tgc_uvloop_stop(&checker->ul)) {
		checker_free(checker);
	}
}
