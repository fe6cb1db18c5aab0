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
 * \brief Steering by node-reported load: capacity, decaying grants,
 *        least-loaded order, watermark hysteresis and the slow-start ramp.
 *
 * Pure functions (time is passed in). A node's load is
 * (sessions + grants) / capacity, where sessions is what its agent reports,
 * grants the answers given for it lately (not yet visible in the agent's
 * count), and capacity = weight x agent percentage / 100 x maxconn, each
 * factor 1 (percentage 100) when absent, times the slow-start share.
 *
 * Grants are counted per knotd worker (tgc_load_grants_t, written by that
 * worker only): a query reads every worker's counters of the candidate
 * nodes but writes only its own, so no cache line is written by every
 * worker.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*! \brief What decides a node's capacity. */
typedef struct {
	uint32_t weight;    /*!< Static weight of the node (configured, >= 0). */
	bool has_pct;       /*!< The agent reported a percentage... */
	uint16_t pct;       /*!< ...this one. */
	bool has_maxconn;   /*!< The agent reported maxconn... */
	uint32_t maxconn;   /*!< ...this one. */
} tgc_load_cap_t;

/*! \brief Capacity of a node (0: takes no new sessions). */
double tgc_load_capacity(const tgc_load_cap_t *cap);

/*! \brief A capacity in hundredths, rounded, at most UINT32_MAX. */
uint32_t tgc_load_x100(double capacity);

/*!
 * \brief Capacity of a node in hundredths, rounded, at most UINT32_MAX:
 *        what the checker stores in the record (capacity_x100) for
 *        tgclusterctl.
 */
uint32_t tgc_load_capacity_x100(const tgc_load_cap_t *cap);

/*!
 * \brief Answers given for one node by one worker, decaying exponentially
 *        with time constant ttl + grant-window: a steady rate r of grants
 *        holds about r x (ttl + grant-window), the answers a resolver may
 *        still hand out from its cache plus the time the agent takes to
 *        report the sessions they open.
 */
typedef struct {
	double value;   /*!< Grants as of \a at_ms. */
	uint64_t at_ms; /*!< Time of \a value (monotonic ms). */
} tgc_load_grants_t;

/*! \brief Grants of \a g at \a now_ms with time constant \a window_ms. */
double tgc_load_grants_at(const tgc_load_grants_t *g, uint64_t now_ms,
                          uint32_t window_ms);

/*! \brief Adds \a n grants to \a g at \a now_ms. */
void tgc_load_grant(tgc_load_grants_t *g, uint64_t now_ms, uint32_t window_ms,
                    double n);

/*!
 * \brief Load of a node: (sessions + grants) / capacity; a node without
 *        capacity is infinitely loaded (HUGE_VAL).
 */
double tgc_load_score(uint32_t sessions, double grants, double capacity);

/*!
 * \brief Orders \a cand (node indexes) by ascending \a score (by node
 *        index); each group of candidates with equal scores is rotated by
 *        \a rotor, so that equal nodes take turns in leading (a group of k
 *        leads with each member once in k consecutive rotors).
 *
 * Insertion sort: O(count) for equal or sorted scores, O(count^2) at worst.
 */
void tgc_load_order(uint32_t *cand, size_t count, const double *score,
                    uint64_t rotor);

/*!
 * \brief Watermark hysteresis: whether a node is over its high watermark
 *        now, given whether it was (\a over). Loads and marks in percent
 *        of capacity; a node goes over above \a high and comes back below
 *        \a low (low <= high; high 0 = watermarks off: never over).
 */
bool tgc_load_over(bool over, double load_pct, uint32_t high, uint32_t low);

/*!
 * \brief Slow-start share of a node that became answerable at \a since_ms:
 *        rises linearly from a small floor to 1 over \a ramp_ms (0 = no
 *        ramp, always 1). The floor (1/64) lets a node that just came up
 *        take some sessions at once.
 */
double tgc_load_slow_start(uint64_t since_ms, uint64_t now_ms, uint32_t ramp_ms);
