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
 * \brief Health checking: the checker thread.
 *
 * The checker runs one libuv loop in its own thread (module/uvloop.h) per
 * module instance and is the only writer of the health fields of the
 * table. Its state machine is module/health_sm.h; the functions below that
 * take tgc_health_params_t apply it with the configured pace.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "module/health_sm.h"
#include "module/table.h"
#include "module/uvloop.h"

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

/*! \brief Tells whether a check kind speaks HTTP or TLS after connecting. */
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

/*! \brief The pace and thresholds of \a params. */
static inline tgc_health_pace_t tgc_health_pace(const tgc_health_params_t *params)
{
	return (tgc_health_pace_t){
		.interval_ms = params->interval_ms, .timeout_ms = params->timeout_ms,
		.rise = params->rise, .fall = params->fall,
	};
}

/*! \brief tgc_health_sm_feed() with the thresholds of \a params. */
static inline bool tgc_health_feed(tgc_health_sm_t *sm, bool ok,
                                   const tgc_health_params_t *params)
{
	return tgc_health_sm_feed(sm, ok, params->rise, params->fall);
}

/*! \brief tgc_health_sm_next_delay() with the interval of \a params. */
static inline uint32_t tgc_health_next_delay(const tgc_health_sm_t *sm,
                                             const tgc_health_params_t *params)
{
	return tgc_health_sm_next_delay(sm, params->interval_ms);
}

/*! \brief tgc_health_sm_stagger() with the interval of \a params. */
static inline uint32_t tgc_health_stagger(uint32_t idx, uint32_t count,
                                          const tgc_health_params_t *params)
{
	return tgc_health_sm_stagger(idx, count, params->interval_ms);
}

/*! \brief tgc_health_sm_resume() with the pace of \a params. */
static inline tgc_health_resume_t tgc_health_resume(const tgc_health_sm_t *sm,
                                                    const tgc_health_hist_t *hist,
                                                    uint64_t now_ms, uint32_t idx,
                                                    uint32_t count,
                                                    const tgc_health_params_t *params)
{
	tgc_health_pace_t pace = tgc_health_pace(params);
	return tgc_health_sm_resume(sm, hist, now_ms, idx, count, &pace);
}

/*! \brief Log callback of the checker (printf-like). */
typedef tgc_uvthread_log_f tgc_health_log_f;

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
typedef tgc_uvthread_hook_f tgc_health_thread_f;

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
