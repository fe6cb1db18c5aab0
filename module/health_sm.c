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

#include "module/health_sm.h"

/*! \brief Shortest fast-pace delay while a change is pending, in ms. */
#define FAST_PACE_MIN_MS	10

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

bool tgc_health_sm_feed(tgc_health_sm_t *sm, bool ok, uint32_t rise,
                        uint32_t fall)
{
	tgc_health_t old = sm->health;

	if (ok) {
		sm->consec_ok = sat_inc(sm->consec_ok);
		sm->consec_fail = 0;
		if (old == TGC_HEALTH_UNKNOWN ||
		    (old == TGC_HEALTH_DOWN && sm->consec_ok >= threshold(rise))) {
			sm->health = TGC_HEALTH_UP;
		}
	} else {
		sm->consec_fail = sat_inc(sm->consec_fail);
		sm->consec_ok = 0;
		if (old != TGC_HEALTH_DOWN &&
		    sm->consec_fail >= threshold(fall)) {
			sm->health = TGC_HEALTH_DOWN;
		}
	}

	return sm->health != old;
}

uint32_t tgc_health_sm_next_delay(const tgc_health_sm_t *sm,
                                  uint32_t interval_ms)
{
	bool pending = (sm->health == TGC_HEALTH_DOWN) ? (sm->consec_ok > 0) :
	                                                 (sm->consec_fail > 0);
	if (!pending) {
		return interval_ms;
	}

	uint32_t fast = interval_ms / 4;
	if (fast < FAST_PACE_MIN_MS) {
		fast = FAST_PACE_MIN_MS;
	}
	/* Never slower than the normal pace (tiny intervals). */
	return (fast < interval_ms) ? fast : interval_ms;
}

uint32_t tgc_health_sm_stagger(uint32_t idx, uint32_t count,
                               uint32_t interval_ms)
{
	if (count == 0) {
		return 0;
	}

	return (uint32_t)((uint64_t)(idx % count) * interval_ms / count);
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

tgc_health_resume_t tgc_health_sm_resume(const tgc_health_sm_t *sm,
                                         const tgc_health_hist_t *hist,
                                         uint64_t now_ms, uint32_t idx,
                                         uint32_t count,
                                         const tgc_health_pace_t *pace)
{
	tgc_health_resume_t out = { .kind = TGC_RESUME_FRESH };
	uint32_t interval = pace->interval_ms;

	if (hist->probe_start_ms != 0) {
		uint64_t deadline = sat_add(hist->probe_start_ms, pace->timeout_ms);
		if (now_ms < deadline) {
			uint64_t left = deadline - now_ms;
			out.kind = TGC_RESUME_PROBE;
			out.timeout_ms = (left < pace->timeout_ms) ? (uint32_t)left :
			                                               pace->timeout_ms;
			return out;
		}
		/* The next probe follows the failed one as the checker would
		 * have scheduled it: the next delay after its start, not
		 * before its deadline. */
		tgc_health_sm_t failed = *sm;
		(void)tgc_health_sm_feed(&failed, false, pace->rise, pace->fall);
		uint32_t next = tgc_health_sm_next_delay(&failed, interval);
		uint64_t due = sat_add(hist->probe_start_ms, next);
		out.kind = TGC_RESUME_EXPIRED;
		out.delay_ms = due_delay((due > deadline) ? due : deadline, now_ms,
		                         next, interval);
		return out;
	}

	uint32_t next = tgc_health_sm_next_delay(sm, interval);
	if (hist->next_due_ms != 0) {
		out.kind = TGC_RESUME_DUE;
		out.delay_ms = due_delay(hist->next_due_ms, now_ms, next, interval);
	} else if (hist->last_check_ms != 0) {
		out.kind = TGC_RESUME_DUE;
		out.delay_ms = due_delay(sat_add(hist->last_check_ms, next), now_ms, next,
		                         interval);
	} else {
		out.delay_ms = tgc_health_sm_stagger(idx, count, interval);
	}

	return out;
}

