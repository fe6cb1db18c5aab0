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

/*!
 * \file
 *
 * \brief Health checking: the per-node state machine and the checker thread.
 *
 * The state machine is pure (time is passed in) so that it can be tested with
 * a fake clock. The checker runs one libuv loop in its own thread per module
 * instance and is the only writer of the health fields of the table.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "module/table.h"

/*! \brief Kind of probe. */
typedef enum {
	TGC_CHECK_TCP  = 0, /*!< TCP connect succeeds within the timeout. */
	TGC_CHECK_RFB  = 1, /*!< RFB handshake up to the security types
	                     *   (module/probe_rfb.h). */
	TGC_CHECK_NONE = 2, /*!< No probing: nodes stay unknown (= up). */
	TGC_CHECK_HTTP  = 3, /*!< HTTP GET, status code in the accepted set. */
	TGC_CHECK_HTTPS = 4, /*!< The same over TLS. */
	TGC_CHECK_TLS   = 5, /*!< TLS handshake (and verification) alone. */
} tgc_check_t;

/*! rief Tells whether a check kind speaks HTTP or TLS after connecting. */
static inline bool tgc_health_check_is_http(tgc_check_t check)
{
	return check == TGC_CHECK_HTTP || check == TGC_CHECK_HTTPS ||
	       check == TGC_CHECK_TLS;
}

/*! \brief Probe and anti-flap parameters. */
typedef struct {
	tgc_check_t check;    /*!< Probe kind. */
	uint32_t interval_ms; /*!< Time between probes of one node. */
	uint32_t timeout_ms;  /*!< Longest time a probe may take. */
	uint32_t rise;        /*!< Successes that flip a down node up. */
	uint32_t fall;        /*!< Failures that flip an up node down. */
	/* http, https, tls: the strings and codes must outlive the checker. */
	const char *http_path;    /*!< check-path (http, https). */
	const char *http_host;    /*!< check-host: Host field and expected TLS
	                           *   name; NULL = the node address. */
	const uint16_t *statuses; /*!< check-status codes (http, https). */
	size_t status_count;      /*!< Their number. */
	struct tgc_tls_creds *tls; /*!< TLS credentials (https, tls). */
} tgc_health_params_t;

/*! \brief State machine of one node. */
typedef struct {
	tgc_health_t health;  /*!< Current state. */
	uint32_t consec_ok;   /*!< Consecutive successes. */
	uint32_t consec_fail; /*!< Consecutive failures. */
} tgc_health_sm_t;

/*!
 * \brief Feeds one probe result into the state machine.
 *
 * Unknown behaves like up, except that its first success confirms it as up
 * at once; up goes down after \a fall consecutive failures; down goes up after
 * \a rise consecutive successes.
 *
 * \return True if the health state changed.
 */
bool tgc_health_feed(tgc_health_sm_t *sm, bool ok,
                     const tgc_health_params_t *params);

/*!
 * \brief Delay before the next probe of a node, in ms.
 *
 * The normal interval, or a faster pace (interval / 4, at least 10 ms) while a
 * state change is pending confirmation (an up node that has failed, a down
 * node that has succeeded).
 */
uint32_t tgc_health_next_delay(const tgc_health_sm_t *sm,
                               const tgc_health_params_t *params);

/*!
 * \brief Delay of the first probe of node \a idx of \a count, in ms: spreads
 *        the first probes evenly across the first interval (the first node is
 *        probed at once).
 */
uint32_t tgc_health_stagger(uint32_t idx, uint32_t count,
                            const tgc_health_params_t *params);

/*!
 * \brief Probe schedule of a node as its record holds it (CLOCK_REALTIME ms,
 *        0 = none), left by the instance that wrote the table last.
 */
typedef struct {
	uint64_t probe_start_ms; /*!< Start of the probe in flight (0 = none). */
	uint64_t next_due_ms;    /*!< Next probe due (0 = never scheduled). */
	uint64_t last_check_ms;  /*!< End of the last probe (0 = never probed). */
} tgc_health_hist_t;

/*! \brief How a checker taking over a node starts probing it. */
typedef enum {
	TGC_RESUME_FRESH   = 0, /*!< No history: first probe after the stagger
	                         *   delay. */
	TGC_RESUME_DUE     = 1, /*!< First probe after \a delay_ms, as the
	                         *   recorded schedule says. */
	TGC_RESUME_PROBE   = 2, /*!< A probe was in flight and its deadline has
	                         *   not passed: probe at once, with the time
	                         *   left until that deadline (\a timeout_ms). */
	TGC_RESUME_EXPIRED = 3, /*!< A probe was in flight and its deadline has
	                         *   passed with no result: count one timeout
	                         *   failure now, next probe after \a delay_ms. */
} tgc_resume_kind_t;

/*! \brief First step of a checker taking over a node. */
typedef struct {
	tgc_resume_kind_t kind; /*!< What to do. */
	uint32_t delay_ms;      /*!< Delay of the first probe (not for PROBE). */
	uint32_t timeout_ms;    /*!< Time the resumed probe has left (PROBE). */
} tgc_health_resume_t;

/*!
 * \brief Plans the first probe of node \a idx of \a count by a checker that
 *        takes the table over (reload, restart), so that probing goes on
 *        where the previous instance left it.
 *
 * - No history: the stagger delay (tgc_health_stagger()).
 * - A probe in flight whose deadline (start + timeout) lies ahead: probe at
 *   once, bounded by that same deadline, so that reloads never extend it.
 * - A probe in flight whose deadline passed: one timeout failure; the next
 *   probe is due when it would have followed that probe.
 * - Otherwise the recorded due time (or, from a record without one, the end
 *   of the last probe plus the next delay).
 *
 * A due time up to one interval in the past means probe at once; a longer
 * gap (knotd was stopped) keeps the node's phase in the old schedule (due +
 * k x interval), so that nodes stay spread across the interval. Delays never
 * exceed the next delay of \a sm, nor a resumed timeout the configured one,
 * whatever the recorded times say (e.g. after the clock was set back).
 *
 * \param[in] sm      State machine as recorded (before any EXPIRED failure).
 * \param[in] hist    Recorded schedule.
 * \param[in] now_ms  Current CLOCK_REALTIME ms.
 * \param[in] idx     Node index (for the stagger).
 * \param[in] count   Number of nodes (for the stagger).
 * \param[in] params  Probe parameters of the taking-over instance.
 */
tgc_health_resume_t tgc_health_resume(const tgc_health_sm_t *sm,
                                      const tgc_health_hist_t *hist,
                                      uint64_t now_ms, uint32_t idx,
                                      uint32_t count,
                                      const tgc_health_params_t *params);

/*! \brief Log callback of the checker (printf-like). */
typedef void (*tgc_health_log_f)(void *ctx, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*! \brief Transition callback: node \a idx went from \a from to \a to. */
typedef void (*tgc_health_event_f)(void *ctx, uint32_t idx, tgc_health_t from,
                                   tgc_health_t to);

/*!
 * \brief Refusal callback of the rfb check: a probe of node \a idx found the
 *        server alive but offering no security type (called once per such
 *        probe, by the writing instance).
 */
typedef void (*tgc_health_refused_f)(void *ctx, uint32_t idx);

/*! \brief Thread hook (e.g. rcu_register_thread), called in the checker thread. */
typedef void (*tgc_health_thread_f)(void *ctx);

/*! \brief Checker configuration. */
typedef struct {
	tgc_table_t *table;          /*!< Table to probe and write. */
	uint64_t writer_token;       /*!< Write only while the header's writer
	                              *   equals this token. */
	tgc_health_params_t params;  /*!< Probe parameters. */
	tgc_health_log_f log;        /*!< Logger (may be NULL). */
	tgc_health_event_f event;    /*!< Transition hook (may be NULL). */
	tgc_health_refused_f refused; /*!< rfb refusal hook (may be NULL). */
	uint16_t agent_port;         /*!< TCP port of the nodes' agents
	                              *   (0 = none; module/probe_agent.h). */
	const uint32_t *weights;     /*!< Per node `node-weight`, written into
	                              *   the records with the capacity (NULL:
	                              *   every node weighs 1; read by the
	                              *   checker thread, immutable while it
	                              *   runs). */
	tgc_health_refused_f agent_error; /*!< Called once per agent poll that
	                              *   gave no usable line (may be NULL). */
	tgc_health_thread_f thread_start; /*!< Called first in the thread (may be NULL). */
	tgc_health_thread_f thread_stop;  /*!< Called last in the thread (may be NULL). */
	void *ctx;                   /*!< Passed to the callbacks. */
	struct tgc_admin_box *admin_box; /*!< Zone admin states posted by the
	                              *   query workers, taken in at each admin
	                              *   tick (may be NULL). */
} tgc_checker_conf_t;

/*! \brief A running checker (opaque). */
typedef struct tgc_checker tgc_checker_t;

/*!
 * \brief Starts the checker thread. Nodes with a recorded schedule resume it
 *        (tgc_health_resume()); the others are probed at once, staggered
 *        across the interval. Also logs admin-state changes made by the CLI,
 *        once each.
 *
 * \retval KNOT_EOK  Success.
 * \retval KNOT_E*   Thread or loop creation failed.
 */
int tgc_checker_start(tgc_checker_t **out, const tgc_checker_conf_t *conf);

/*!
 * \brief Asks the checker for an admin scan now (thread-safe; called by a
 *        query worker after tgc_admin_box_post()). Valid between
 *        tgc_checker_start() and tgc_checker_stop().
 */
void tgc_checker_wake(tgc_checker_t *checker);

/*!
 * \brief Stops the checker: wakes the loop, closes every handle, joins the
 *        thread and frees everything. No callback runs after it returns.
 */
void tgc_checker_stop(tgc_checker_t *checker);
