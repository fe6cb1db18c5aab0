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
 * \brief NAT translator: the poller thread.
 *
 * One thread per translator instance asks the upstreams for the cluster
 * name (A and AAAA) every interval and publishes the validated answer in
 * the instance's table.
 *
 * The poller is a plain module thread (tgc_uvthread_t), not a libuv loop:
 * a poll is a sequence of blocking, time-bounded client tries
 * (tgc_forward_query()), and the thread has nothing else to do while they
 * run. Between polls it waits in poll() on an eventfd (the cancel
 * descriptor) with the time left until the next poll as the timeout.
 * tgc_poller_stop() writes that eventfd, which ends both the wait and a try
 * in flight (tgc_forward_query() watches the same descriptor), and joins
 * the thread. So no event loop callback ever blocks, and a stop takes
 * effect at once wherever the thread is.
 */

#pragma once

#include <stdatomic.h>
#include <stdint.h>

#include <libknot/libknot.h>

#include "module/fwd_client.h"
#include "module/table.h"
#include "module/uvloop.h"

/*! \brief Log callback of the poller (printf-like). */
typedef tgc_uvthread_log_f tgc_poller_log_f;

/*! \brief Counter callback: the counts of one poll query. */
typedef void (*tgc_poller_count_f)(void *ctx, const tgc_fwd_stats_t *stats);

/*! \brief Thread hook, called in the poller thread. */
typedef tgc_uvthread_hook_f tgc_poller_thread_f;

/*! \brief Poller configuration. */
typedef struct {
	tgc_table_t *table;         /*!< Translator table (records = targets). */
	uint64_t writer_token;      /*!< Poll and write only while the header's
	                             *   writer equals this token. */
	const tgc_fwd_conf_t *fwd;  /*!< Upstreams (outlive the poller). */
	const knot_dname_t *name;   /*!< Cluster name (outlives the poller). */
	uint32_t interval_ms;       /*!< Time between polls. */
	uint32_t stale_limit_s;     /*!< For the expiry log message. */
	_Atomic uint32_t *preferred; /*!< Target that answered last: written by
	                             *   the poller, read by knotd workers,
	                             *   both relaxed (a hint; may be NULL). */
	tgc_poller_log_f log;       /*!< Logger (may be NULL). */
	tgc_poller_count_f count;   /*!< Counters (may be NULL). */
	tgc_poller_thread_f thread_start; /*!< First in the thread (may be NULL). */
	tgc_poller_thread_f thread_stop;  /*!< Last in the thread (may be NULL). */
	void *ctx;                  /*!< Passed to the callbacks. */
} tgc_poller_conf_t;

/*! \brief A running poller (opaque). */
typedef struct tgc_poller tgc_poller_t;

/*!
 * \brief Starts the poller thread; the first poll starts at once.
 *
 * \retval KNOT_EOK  Success.
 * \retval KNOT_E*   Thread or eventfd creation failed.
 */
int tgc_poller_start(tgc_poller_t **out, const tgc_poller_conf_t *conf);

/*!
 * \brief Stops the poller: cancels a poll in flight or the wait for the
 *        next one, joins the thread and frees everything. No callback runs
 *        after it returns.
 */
void tgc_poller_stop(tgc_poller_t *poller);
