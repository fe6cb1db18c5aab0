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
 * \brief The health state machine of a probed peer (node or upstream),
 *        its probe pace and the resumption of a recorded schedule.
 *
 * Pure: time is passed in, so that it can be tested with a fake clock. The
 * checker (module/health.h) feeds it probe results with the configured
 * rise and fall; the poller (module/poller.h) feeds it upstream tries with
 * a rise and fall of one.
 */

#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "module/table.h"

/*! \brief Probe pace and anti-flap thresholds of a state machine. */
typedef struct {
	uint32_t interval_ms; /*!< Time between probes of one peer. */
	uint32_t timeout_ms;  /*!< Longest time a probe may take. */
	uint32_t rise;        /*!< Successes that flip a down peer up. */
	uint32_t fall;        /*!< Failures that flip an up peer down. */
} tgc_health_pace_t;

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
 * \a rise consecutive successes (a zero threshold counts as one).
 *
 * \return True if the health state changed.
 */
bool tgc_health_sm_feed(tgc_health_sm_t *sm, bool ok, uint32_t rise,
                        uint32_t fall);

/*!
 * \brief Delay before the next probe, in ms.
 *
 * \a interval_ms, or a faster pace (interval / 4, at least 10 ms) while a
 * state change is pending confirmation (an up peer that has failed, a down
 * peer that has succeeded).
 */
uint32_t tgc_health_sm_next_delay(const tgc_health_sm_t *sm,
                                  uint32_t interval_ms);

/*!
 * \brief Delay of the first probe of peer \a idx of \a count, in ms: spreads
 *        the first probes evenly across the first interval (the first peer
 *        is probed at once).
 */
uint32_t tgc_health_sm_stagger(uint32_t idx, uint32_t count,
                               uint32_t interval_ms);

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
 * - No history: the stagger delay (tgc_health_sm_stagger()).
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
 * \param[in] pace    Probe pace of the taking-over instance.
 */
tgc_health_resume_t tgc_health_sm_resume(const tgc_health_sm_t *sm,
                                         const tgc_health_hist_t *hist,
                                         uint64_t now_ms, uint32_t idx,
                                         uint32_t count,
                                         const tgc_health_pace_t *pace);
