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
 * \brief Steering by sessions in the answer path: the instance's weights,
 *        the per-worker grants, watermark and slow-start state, and the
 *        least-loaded order (the math is in load.h).
 *
 * Per knotd worker, one block (cache-line aligned, its own lines):
 *  - grants per node: written by that worker only (relaxed atomic stores,
 *    one per answer, for the node answered first); read by the other
 *    workers when they refresh their copy of them, at most once every
 *    TGC_STEER_REFRESH_MS (relaxed loads; a value and its time from two
 *    different answers only shift the estimate by one grant);
 *  - the sum of the other workers' grants as last refreshed, the watermark
 *    state and the slow-start start of each node: private to the worker.
 * No field is written by more than one thread, and a query writes only its
 * own worker's block.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "module/addr.h"
#include "module/table.h"

/*! \brief Largest `node-weight`. */
#define TGC_STEER_WEIGHT_MAX	10000
/*! \brief Default `grant-window`, seconds. */
#define TGC_STEER_GRANT_WINDOW	10
/*! \brief How old a worker's copy of the other workers' grants may get. */
#define TGC_STEER_REFRESH_MS	5

/*! \brief Parameters of an instance. */
typedef struct {
	bool least_loaded;      /*!< Order by load (policy least-loaded). */
	uint32_t window_ms;     /*!< Grant time constant: (ttl + grant-window) s. */
	uint32_t high;          /*!< load-high, percent of capacity (0 = off). */
	uint32_t low;           /*!< load-low (<= high). */
	uint32_t slow_start_ms; /*!< slow-start ramp (0 = none). */
} tgc_steer_params_t;

/*! \brief Steering state of an instance (opaque). */
typedef struct tgc_steer tgc_steer_t;

/*!
 * \brief Parses a `node-weight` value: "ADDRESS=WEIGHT" or
 *        "ADDRESS@PORT=WEIGHT" (WEIGHT 0..TGC_STEER_WEIGHT_MAX).
 *
 * \param[out] port  0 when the value names no port.
 * \param[out] err   Static reason on failure.
 *
 * \retval KNOT_EOK     Parsed.
 * \retval KNOT_EINVAL  Malformed.
 */
int tgc_steer_weight_parse(const char *str, tgc_addr_t *addr, uint16_t *port,
                           uint32_t *weight, const char **err);

/*!
 * \brief Applies `node-weight` values to the nodes: a value with a port
 *        weighs the node with that address and check port, one without a
 *        port every node with that address.
 *
 * \param[in]  values   The values (\a count of them).
 * \param[in]  addrs    Node addresses (\a nodes of them).
 * \param[in]  ports    Node check ports.
 * \param[out] weights  Per node; nodes no value names keep what it holds.
 * \param[out] bad      Index of the value that failed.
 * \param[out] err      Static reason on failure.
 *
 * \retval KNOT_EOK     Applied.
 * \retval KNOT_EINVAL  A value is malformed or names no node.
 */
int tgc_steer_weights(const char *const *values, size_t count,
                      const tgc_addr_t *addrs, const uint16_t *ports,
                      size_t nodes, uint32_t *weights, size_t *bad,
                      const char **err);

/*!
 * \brief Creates the steering state of an instance.
 *
 * \param[in] params   Parameters.
 * \param[in] threads  knotd workers (>= 1).
 * \param[in] nodes    Nodes of the instance.
 * \param[in] weights  Per node static weight (copied).
 *
 * \return The state, NULL when out of memory.
 */
tgc_steer_t *tgc_steer_new(const tgc_steer_params_t *params, unsigned threads,
                           uint32_t nodes, const uint32_t *weights);

/*! \brief Frees \a s (NULL is fine). */
void tgc_steer_free(tgc_steer_t *s);

/*! \brief Whether \a s orders by load (policy least-loaded). */
bool tgc_steer_least_loaded(const tgc_steer_t *s);

/*! \brief Whether \a s has watermarks. */
bool tgc_steer_watermarks(const tgc_steer_t *s);

/*!
 * \brief Whether node \a idx is over its high watermark for worker \a thr
 *        at \a now_ms (updates that worker's hysteresis state). A node
 *        whose agent reports no maxconn is never over.
 */
bool tgc_steer_over(tgc_steer_t *s, unsigned thr, const tgc_table_t *table,
                    uint32_t idx, uint64_t now_ms);

/*!
 * \brief Orders the \a count candidates by ascending load (ties rotate by
 *        \a rotor). Candidates are the nodes answerable now (live, or
 *        drained when none is): each one's slow start begins when worker
 *        \a thr sees it answerable after it saw it not answerable, or when
 *        its health went up after down (not at the first look: a node
 *        answerable when knotd starts does not ramp).
 */
void tgc_steer_order(tgc_steer_t *s, unsigned thr, const tgc_table_t *table,
                     uint32_t *cand, size_t count, uint64_t rotor,
                     uint64_t now_ms);

/*!
 * \brief Tells worker \a thr that nodes of \a fam (\a count) that are not
 *        in its candidates now are not answerable (their slow start starts
 *        again when they are). Call with the candidates found answerable.
 */
void tgc_steer_seen(tgc_steer_t *s, unsigned thr, const uint32_t *fam,
                    size_t fam_count, const uint32_t *cand, size_t count,
                    uint64_t now_ms);

/*!
 * \brief What a load balancer reports of node \a idx in a load report
 *        (loadopt.h), as worker \a thr sees it: the sessions its agent
 *        reports plus the grants of every worker, and its capacity (weight,
 *        agent percentage and maxconn, slow-start share). Without steering
 *        state (\a s NULL, or \a idx not one of its nodes): the agent's
 *        sessions, and the capacity of \a weight and the agent's report.
 */
void tgc_steer_report(const tgc_steer_t *s, unsigned thr, const tgc_table_t *table,
                      uint32_t idx, uint32_t weight, uint64_t now_ms,
                      uint32_t *sessions, double *capacity, bool *has_sessions);

/*!
 * \brief Orders positions 0..count-1 of an answer (\a order holds them, in
 *        any order) by ascending load, with the sessions and capacity of
 *        each position given (\a sessions[pos], \a capacity[pos]) instead
 *        of read from a table, and its grants counted in grant slot
 *        \a slots[pos] (below the instance's nodes): the translator's order
 *        over a load report. Ties rotate as in tgc_steer_order(). Nothing
 *        is done when \a count exceeds the instance's nodes.
 */
void tgc_steer_order_given(tgc_steer_t *s, unsigned thr, uint32_t *order,
                           size_t count, const uint32_t *slots,
                           const uint32_t *sessions, const double *capacity,
                           uint64_t rotor, uint64_t now_ms);

/*! \brief Counts one answer given for node \a idx by worker \a thr. */
void tgc_steer_grant(tgc_steer_t *s, unsigned thr, uint32_t idx, uint64_t now_ms);

/*! \brief Grants of node \a idx over every worker at \a now_ms (tests, CLI). */
double tgc_steer_grants(const tgc_steer_t *s, uint32_t idx, uint64_t now_ms);

/*! \brief Current time for the steering calls, CLOCK_REALTIME ms (coarse). */
uint64_t tgc_steer_now_ms(void);
