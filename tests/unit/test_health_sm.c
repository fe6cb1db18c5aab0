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

/*
 * Unit tests of module/health_sm.c: the state machine with a fake clock,
 * through its own interface (module/health_sm.h; the poller's rise and fall
 * of one, a pace of its own) and as the checker applies it with its
 * parameters (the tgc_health_params_t forms of module/health.h).
 */

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "module/health.h"
#include "module/health_sm.h"
#include "tests/unit/test_main.h"

START_TEST(feed_rise_fall_of_one)
{
	tgc_health_sm_t sm = { TGC_HEALTH_UNKNOWN, 0, 0 };

	/* Each result decides: every change of outcome is a transition. */
	ck_assert(tgc_health_sm_feed(&sm, false, 1, 1));
	ck_assert_int_eq(sm.health, TGC_HEALTH_DOWN);
	ck_assert(!tgc_health_sm_feed(&sm, false, 1, 1));
	ck_assert_uint_eq(sm.consec_fail, 2);
	ck_assert(tgc_health_sm_feed(&sm, true, 1, 1));
	ck_assert_int_eq(sm.health, TGC_HEALTH_UP);
	ck_assert_uint_eq(sm.consec_ok, 1);
	ck_assert_uint_eq(sm.consec_fail, 0);
	ck_assert(!tgc_health_sm_feed(&sm, true, 1, 1));
	ck_assert(tgc_health_sm_feed(&sm, false, 1, 1));
	ck_assert_int_eq(sm.health, TGC_HEALTH_DOWN);

	/* Zero thresholds count as one. */
	ck_assert(tgc_health_sm_feed(&sm, true, 0, 0));
	ck_assert_int_eq(sm.health, TGC_HEALTH_UP);
	ck_assert(tgc_health_sm_feed(&sm, false, 0, 0));
	ck_assert_int_eq(sm.health, TGC_HEALTH_DOWN);
}
END_TEST

START_TEST(feed_thresholds)
{
	tgc_health_sm_t sm = { TGC_HEALTH_UP, 5, 0 };

	/* fall 3: the third failure flips it; rise 2: the second success. */
	ck_assert(!tgc_health_sm_feed(&sm, false, 2, 3));
	ck_assert(!tgc_health_sm_feed(&sm, false, 2, 3));
	ck_assert(tgc_health_sm_feed(&sm, false, 2, 3));
	ck_assert_int_eq(sm.health, TGC_HEALTH_DOWN);
	ck_assert(!tgc_health_sm_feed(&sm, true, 2, 3));
	ck_assert(tgc_health_sm_feed(&sm, true, 2, 3));
	ck_assert_int_eq(sm.health, TGC_HEALTH_UP);

	/* Counters saturate instead of wrapping. */
	sm = (tgc_health_sm_t){ TGC_HEALTH_UP, UINT32_MAX, 0 };
	ck_assert(!tgc_health_sm_feed(&sm, true, 2, 3));
	ck_assert_uint_eq(sm.consec_ok, UINT32_MAX);
}
END_TEST

START_TEST(pace)
{
	tgc_health_sm_t steady = { TGC_HEALTH_UP, 3, 0 };
	tgc_health_sm_t failing = { TGC_HEALTH_UP, 0, 1 };
	tgc_health_sm_t rising = { TGC_HEALTH_DOWN, 1, 0 };

	ck_assert_uint_eq(tgc_health_sm_next_delay(&steady, 2000), 2000);
	ck_assert_uint_eq(tgc_health_sm_next_delay(&failing, 2000), 500);
	ck_assert_uint_eq(tgc_health_sm_next_delay(&rising, 2000), 500);
	/* At least 10 ms, never slower than the interval. */
	ck_assert_uint_eq(tgc_health_sm_next_delay(&failing, 20), 10);
	ck_assert_uint_eq(tgc_health_sm_next_delay(&failing, 6), 6);

	ck_assert_uint_eq(tgc_health_sm_stagger(0, 5, 1000), 0);
	ck_assert_uint_eq(tgc_health_sm_stagger(2, 5, 1000), 400);
	ck_assert_uint_eq(tgc_health_sm_stagger(7, 5, 1000), 400);
	ck_assert_uint_eq(tgc_health_sm_stagger(3, 0, 1000), 0);
}
END_TEST

START_TEST(resume_with_pace)
{
	const tgc_health_pace_t pace = {
		.interval_ms = 1000, .timeout_ms = 400, .rise = 2, .fall = 1,
	};
	const uint64_t now = 1800000000000ull;
	tgc_health_sm_t up = { TGC_HEALTH_UP, 4, 0 };

	/* In flight within the deadline: the time left of this timeout. */
	tgc_health_hist_t hist = { .probe_start_ms = now - 100 };
	tgc_health_resume_t r = tgc_health_sm_resume(&up, &hist, now, 0, 1, &pace);
	ck_assert_int_eq(r.kind, TGC_RESUME_PROBE);
	ck_assert_uint_eq(r.timeout_ms, 300);

	/* Past the deadline: a failure (fall 1: down, so the normal pace
	 * again), the next probe an interval after that probe's start. */
	hist.probe_start_ms = now - 600;
	r = tgc_health_sm_resume(&up, &hist, now, 0, 1, &pace);
	ck_assert_int_eq(r.kind, TGC_RESUME_EXPIRED);
	ck_assert_uint_eq(r.delay_ms, 400);

	/* No history: the stagger of this pace. */
	hist = (tgc_health_hist_t){ 0 };
	r = tgc_health_sm_resume(&up, &hist, now, 1, 4, &pace);
	ck_assert_int_eq(r.kind, TGC_RESUME_FRESH);
	ck_assert_uint_eq(r.delay_ms, 250);
}
END_TEST

/*
 * As the checker applies it (tgc_health_params_t).
 */

/*! \brief Parameters of the pure tests. */
static tgc_health_params_t params(uint32_t rise, uint32_t fall)
{
	return (tgc_health_params_t){
		.check = TGC_CHECK_TCP, .interval_ms = 1000, .timeout_ms = 500,
		.rise = rise, .fall = fall,
	};
}

START_TEST(sm_first_success)
{
	tgc_health_params_t p = params(3, 3);
	tgc_health_sm_t sm = { .health = TGC_HEALTH_UNKNOWN };

	ck_assert(tgc_health_feed(&sm, true, &p));
	ck_assert_int_eq(sm.health, TGC_HEALTH_UP);
	ck_assert_uint_eq(sm.consec_ok, 1);
	ck_assert_uint_eq(sm.consec_fail, 0);
	ck_assert(!tgc_health_feed(&sm, true, &p));
	ck_assert_int_eq(sm.health, TGC_HEALTH_UP);
	ck_assert_uint_eq(sm.consec_ok, 2);
}
END_TEST

START_TEST(sm_fall)
{
	tgc_health_params_t p = params(2, 3);

	/* From unknown. */
	tgc_health_sm_t sm = { .health = TGC_HEALTH_UNKNOWN };
	ck_assert(!tgc_health_feed(&sm, false, &p));
	ck_assert(!tgc_health_feed(&sm, false, &p));
	ck_assert_int_eq(sm.health, TGC_HEALTH_UNKNOWN);
	ck_assert(tgc_health_feed(&sm, false, &p));
	ck_assert_int_eq(sm.health, TGC_HEALTH_DOWN);
	ck_assert_uint_eq(sm.consec_fail, 3);
	ck_assert(!tgc_health_feed(&sm, false, &p));
	ck_assert_int_eq(sm.health, TGC_HEALTH_DOWN);

	/* From up. */
	sm = (tgc_health_sm_t){ .health = TGC_HEALTH_UP, .consec_ok = 7 };
	ck_assert(!tgc_health_feed(&sm, false, &p));
	ck_assert_uint_eq(sm.consec_ok, 0);
	ck_assert(!tgc_health_feed(&sm, false, &p));
	ck_assert_int_eq(sm.health, TGC_HEALTH_UP);
	ck_assert(tgc_health_feed(&sm, false, &p));
	ck_assert_int_eq(sm.health, TGC_HEALTH_DOWN);
}
END_TEST

START_TEST(sm_reset)
{
	tgc_health_params_t p = params(3, 3);

	/* A success between failures resets the failure count. */
	tgc_health_sm_t sm = { .health = TGC_HEALTH_UP };
	for (int round = 0; round < 5; round++) {
		ck_assert(!tgc_health_feed(&sm, false, &p));
		ck_assert(!tgc_health_feed(&sm, false, &p));
		ck_assert(!tgc_health_feed(&sm, true, &p));
		ck_assert_int_eq(sm.health, TGC_HEALTH_UP);
		ck_assert_uint_eq(sm.consec_fail, 0);
	}

	/* A failure between successes resets the success count. */
	sm = (tgc_health_sm_t){ .health = TGC_HEALTH_DOWN, .consec_fail = 9 };
	for (int round = 0; round < 5; round++) {
		ck_assert(!tgc_health_feed(&sm, true, &p));
		ck_assert(!tgc_health_feed(&sm, true, &p));
		ck_assert(!tgc_health_feed(&sm, false, &p));
		ck_assert_int_eq(sm.health, TGC_HEALTH_DOWN);
		ck_assert_uint_eq(sm.consec_ok, 0);
	}
}
END_TEST

START_TEST(sm_rise)
{
	tgc_health_params_t p = params(3, 2);
	tgc_health_sm_t sm = { .health = TGC_HEALTH_DOWN, .consec_fail = 4 };

	ck_assert(!tgc_health_feed(&sm, true, &p));
	ck_assert_uint_eq(sm.consec_fail, 0);
	ck_assert(!tgc_health_feed(&sm, true, &p));
	ck_assert_int_eq(sm.health, TGC_HEALTH_DOWN);
	ck_assert(tgc_health_feed(&sm, true, &p));
	ck_assert_int_eq(sm.health, TGC_HEALTH_UP);
	ck_assert_uint_eq(sm.consec_ok, 3);

	/* A history loaded from the table continues where it stopped. */
	sm = (tgc_health_sm_t){ .health = TGC_HEALTH_DOWN, .consec_ok = 2 };
	ck_assert(tgc_health_feed(&sm, true, &p));
	ck_assert_int_eq(sm.health, TGC_HEALTH_UP);
	sm = (tgc_health_sm_t){ .health = TGC_HEALTH_UP, .consec_fail = 1 };
	ck_assert(tgc_health_feed(&sm, false, &p));
	ck_assert_int_eq(sm.health, TGC_HEALTH_DOWN);
}
END_TEST

START_TEST(sm_edges)
{
	tgc_health_params_t p = params(1, 1);
	tgc_health_sm_t sm = { .health = TGC_HEALTH_UNKNOWN };

	ck_assert(tgc_health_feed(&sm, false, &p));
	ck_assert_int_eq(sm.health, TGC_HEALTH_DOWN);
	ck_assert(tgc_health_feed(&sm, true, &p));
	ck_assert_int_eq(sm.health, TGC_HEALTH_UP);
	ck_assert(tgc_health_feed(&sm, false, &p));
	ck_assert_int_eq(sm.health, TGC_HEALTH_DOWN);
	ck_assert(!tgc_health_feed(&sm, false, &p));
	ck_assert(tgc_health_feed(&sm, true, &p));
	ck_assert(!tgc_health_feed(&sm, true, &p));
	ck_assert_int_eq(sm.health, TGC_HEALTH_UP);

	/* Zero thresholds behave as one. */
	p = params(0, 0);
	sm = (tgc_health_sm_t){ .health = TGC_HEALTH_UP };
	ck_assert(tgc_health_feed(&sm, false, &p));
	ck_assert_int_eq(sm.health, TGC_HEALTH_DOWN);
	ck_assert(tgc_health_feed(&sm, true, &p));
	ck_assert_int_eq(sm.health, TGC_HEALTH_UP);

	/* Counters saturate instead of wrapping. */
	p = params(2, 2);
	sm = (tgc_health_sm_t){ .health = TGC_HEALTH_UP, .consec_ok = UINT32_MAX };
	ck_assert(!tgc_health_feed(&sm, true, &p));
	ck_assert_uint_eq(sm.consec_ok, UINT32_MAX);
	sm = (tgc_health_sm_t){ .health = TGC_HEALTH_DOWN, .consec_fail = UINT32_MAX };
	ck_assert(!tgc_health_feed(&sm, false, &p));
	ck_assert_uint_eq(sm.consec_fail, UINT32_MAX);
	ck_assert_int_eq(sm.health, TGC_HEALTH_DOWN);
}
END_TEST

START_TEST(next_delay)
{
	tgc_health_params_t p = params(2, 2);
	struct {
		tgc_health_sm_t sm;
		uint32_t delay;
	} cases[] = {
		{ { TGC_HEALTH_UNKNOWN, 0, 0 }, 1000 },
		{ { TGC_HEALTH_UNKNOWN, 0, 1 }, 250 },  /* failing: pending */
		{ { TGC_HEALTH_UP, 5, 0 }, 1000 },
		{ { TGC_HEALTH_UP, 0, 1 }, 250 },       /* pending down */
		{ { TGC_HEALTH_DOWN, 0, 3 }, 1000 },
		{ { TGC_HEALTH_DOWN, 1, 0 }, 250 },     /* pending up */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(tgc_health_next_delay(&cases[i].sm, &p) == cases[i].delay,
		              "case %zu: %u != %u", i,
		              tgc_health_next_delay(&cases[i].sm, &p), cases[i].delay);
	}

	/* Fast pace never below 10 ms, never above the interval. */
	tgc_health_sm_t pending = { TGC_HEALTH_UP, 0, 1 };
	p.interval_ms = 20;
	ck_assert_uint_eq(tgc_health_next_delay(&pending, &p), 10);
	p.interval_ms = 8;
	ck_assert_uint_eq(tgc_health_next_delay(&pending, &p), 8);
	p.interval_ms = 40;
	ck_assert_uint_eq(tgc_health_next_delay(&pending, &p), 10);
	p.interval_ms = 44;
	ck_assert_uint_eq(tgc_health_next_delay(&pending, &p), 11);
}
END_TEST

START_TEST(stagger)
{
	tgc_health_params_t p = params(2, 2);

	ck_assert_uint_eq(tgc_health_stagger(0, 1, &p), 0);
	ck_assert_uint_eq(tgc_health_stagger(0, 0, &p), 0);

	uint32_t counts[] = { 1, 2, 3, 4, 7, 10, 999, 1000, 16384 };
	for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
		uint32_t n = counts[c];
		uint32_t prev = 0;
		ck_assert_uint_eq(tgc_health_stagger(0, n, &p), 0);
		for (uint32_t i = 1; i < n; i++) {
			uint32_t d = tgc_health_stagger(i, n, &p);
			ck_assert_msg(d < p.interval_ms, "%u/%u: %u", i, n, d);
			ck_assert_msg(d >= prev, "%u/%u not increasing", i, n);
			/* Even: node i starts at i * interval / n (rounded down). */
			ck_assert_uint_eq(d, (uint64_t)i * p.interval_ms / n);
			prev = d;
		}
	}
	ck_assert_uint_eq(tgc_health_stagger(1, 4, &p), 250);
	ck_assert_uint_eq(tgc_health_stagger(2, 4, &p), 500);
	ck_assert_uint_eq(tgc_health_stagger(3, 4, &p), 750);

	/* Large intervals do not overflow. */
	p.interval_ms = UINT32_MAX;
	ck_assert_uint_eq(tgc_health_stagger(16383, 16384, &p),
	                  (uint64_t)16383 * UINT32_MAX / 16384);
}
END_TEST

/*! \brief Plan of node 0 of 1 with \a sm and \a hist at \a now. */
static tgc_health_resume_t plan(tgc_health_sm_t sm, tgc_health_hist_t hist,
                                uint64_t now, const tgc_health_params_t *p)
{
	tgc_health_sm_t copy = sm;
	tgc_health_resume_t r = tgc_health_resume(&sm, &hist, now, 0, 1, p);
	/* Pure: the recorded state machine is left alone. */
	ck_assert(memcmp(&copy, &sm, sizeof(sm)) == 0);
	return r;
}

START_TEST(resume_plan)
{
	tgc_health_params_t p = params(2, 2); /* interval 1000, timeout 500 */
	const uint64_t now = 1800000000000ull;
	tgc_health_sm_t up = { TGC_HEALTH_UP, 7, 0 };
	tgc_health_sm_t failing = { TGC_HEALTH_UP, 0, 1 };
	tgc_health_sm_t down = { TGC_HEALTH_DOWN, 0, 4 };
	tgc_health_resume_t r;

	/* No history: the stagger of the node. */
	tgc_health_hist_t none = { 0 };
	r = tgc_health_resume(&up, &none, now, 3, 4, &p);
	ck_assert_int_eq(r.kind, TGC_RESUME_FRESH);
	ck_assert_uint_eq(r.delay_ms, 750);
	r = tgc_health_resume(&up, &none, now, 0, 4, &p);
	ck_assert_uint_eq(r.delay_ms, 0);

	/* Recorded due time ahead: exactly then, whatever the index. */
	r = tgc_health_resume(&up, &(tgc_health_hist_t){ .next_due_ms = now + 300,
	                      .last_check_ms = now - 700 }, now, 3, 4, &p);
	ck_assert_int_eq(r.kind, TGC_RESUME_DUE);
	ck_assert_uint_eq(r.delay_ms, 300);
	/* Never later than the next delay (clock set back, interval now
	 * shorter than when the schedule was made). */
	r = plan(up, (tgc_health_hist_t){ .next_due_ms = now + 3600000 }, now, &p);
	ck_assert_uint_eq(r.delay_ms, 1000);
	r = plan(failing, (tgc_health_hist_t){ .next_due_ms = now + 900 }, now, &p);
	ck_assert_uint_eq(r.delay_ms, 250);
	/* Overdue by less than an interval (the reload gap): at once. */
	r = plan(up, (tgc_health_hist_t){ .next_due_ms = now }, now, &p);
	ck_assert_int_eq(r.kind, TGC_RESUME_DUE);
	ck_assert_uint_eq(r.delay_ms, 0);
	r = plan(up, (tgc_health_hist_t){ .next_due_ms = now - 999 }, now, &p);
	ck_assert_uint_eq(r.delay_ms, 0);
	/* Overdue longer (knotd was stopped): the next slot of the old phase. */
	r = plan(up, (tgc_health_hist_t){ .next_due_ms = now - 2300 }, now, &p);
	ck_assert_uint_eq(r.delay_ms, 700);
	r = plan(up, (tgc_health_hist_t){ .next_due_ms = now - 3000 }, now, &p);
	ck_assert_uint_eq(r.delay_ms, 0);
	r = plan(failing, (tgc_health_hist_t){ .next_due_ms = now - 2300 }, now, &p);
	ck_assert_uint_eq(r.delay_ms, 250); /* never beyond the fast pace */

	/* A record without a due time: end of the last probe + next delay. */
	r = plan(up, (tgc_health_hist_t){ .last_check_ms = now - 400 }, now, &p);
	ck_assert_int_eq(r.kind, TGC_RESUME_DUE);
	ck_assert_uint_eq(r.delay_ms, 600);
	r = plan(failing, (tgc_health_hist_t){ .last_check_ms = now - 100 }, now, &p);
	ck_assert_uint_eq(r.delay_ms, 150);

	/* A probe in flight within its deadline: probe at once, only for the
	 * time left (a reload never extends a deadline). */
	r = plan(up, (tgc_health_hist_t){ .probe_start_ms = now - 200,
	                                  .next_due_ms = now - 200 }, now, &p);
	ck_assert_int_eq(r.kind, TGC_RESUME_PROBE);
	ck_assert_uint_eq(r.timeout_ms, 300);
	r = plan(up, (tgc_health_hist_t){ .probe_start_ms = now }, now, &p);
	ck_assert_int_eq(r.kind, TGC_RESUME_PROBE);
	ck_assert_uint_eq(r.timeout_ms, 500);
	r = plan(up, (tgc_health_hist_t){ .probe_start_ms = now - 499 }, now, &p);
	ck_assert_int_eq(r.kind, TGC_RESUME_PROBE);
	ck_assert_uint_eq(r.timeout_ms, 1);
	/* Started "in the future" (clock set back): a full timeout at most. */
	r = plan(up, (tgc_health_hist_t){ .probe_start_ms = now + 60000 }, now, &p);
	ck_assert_int_eq(r.kind, TGC_RESUME_PROBE);
	ck_assert_uint_eq(r.timeout_ms, 500);
	r = plan(up, (tgc_health_hist_t){ .probe_start_ms = UINT64_MAX }, now, &p);
	ck_assert_int_eq(r.kind, TGC_RESUME_PROBE);
	ck_assert_uint_eq(r.timeout_ms, 500);

	/* Deadline passed with nobody running the probe: a timeout failure;
	 * the next probe follows it like after any failed probe: fast pace
	 * from its start, not before its deadline. */
	r = plan(up, (tgc_health_hist_t){ .probe_start_ms = now - 500 }, now, &p);
	ck_assert_int_eq(r.kind, TGC_RESUME_EXPIRED);
	ck_assert_uint_eq(r.delay_ms, 0);
	tgc_health_params_t quick = p;
	quick.timeout_ms = 100;
	r = plan(up, (tgc_health_hist_t){ .probe_start_ms = now - 150 }, now, &quick);
	ck_assert_int_eq(r.kind, TGC_RESUME_EXPIRED);
	ck_assert_uint_eq(r.delay_ms, 100); /* start + 250 */
	/* A down node failing again is not pending: the normal interval. */
	r = plan(down, (tgc_health_hist_t){ .probe_start_ms = now - 600 }, now, &p);
	ck_assert_int_eq(r.kind, TGC_RESUME_EXPIRED);
	ck_assert_uint_eq(r.delay_ms, 400);
	/* Long ago (restart after a long stop): still one failure; the next
	 * probe in the old phase, within the fast pace (pending) or the
	 * interval (confirmed down by this failure). */
	r = plan(up, (tgc_health_hist_t){ .probe_start_ms = now - 3600123 },
	         now, &p);
	ck_assert_int_eq(r.kind, TGC_RESUME_EXPIRED);
	ck_assert_uint_le(r.delay_ms, 250);
	r = plan(failing, (tgc_health_hist_t){ .probe_start_ms = now - 3600123 },
	         now, &p);
	ck_assert_int_eq(r.kind, TGC_RESUME_EXPIRED);
	ck_assert_uint_eq(r.delay_ms, 877); /* (1000 - (3600123 - 500) % 1000) */
	/* The probe in flight wins over an older due time. */
	r = plan(up, (tgc_health_hist_t){ .probe_start_ms = now - 900,
	                                  .next_due_ms = now - 900,
	                                  .last_check_ms = now - 1900 }, now, &p);
	ck_assert_int_eq(r.kind, TGC_RESUME_EXPIRED);
}
END_TEST

/*! \brief Outcome of a simulated node under reloads. */
typedef struct {
	uint64_t down_at;   /*!< When the node went down (0: never). */
	unsigned probes;    /*!< Probes started (resumed ones not counted). */
	unsigned fails;     /*!< Failures fed. */
	unsigned expired;   /*!< Of those, fed by a takeover (EXPIRED). */
	unsigned takeovers; /*!< Reloads. */
} sim_result_t;

/*!
 * \brief Simulates, with a fake clock, the checker's schedule of one node
 *        that fails at time 0 (right after a successful probe) while a new
 *        instance takes the table over every \a reload_ms: each takeover
 *        plans with tgc_health_resume() from what the record holds; probes
 *        end like the checker ends them (a hung node at its deadline, a
 *        refusing one at once), results only count while the instance that
 *        ran them owns the table.
 */
static sim_result_t sim_reloads(const tgc_health_params_t *p, bool hung,
                                uint64_t reload_ms, uint64_t until_ms)
{
	const uint64_t base = 1700000000000ull; /* fake CLOCK_REALTIME of t=0 */
	tgc_health_sm_t sm = { TGC_HEALTH_UP, 5, 0 };
	tgc_health_hist_t rec = { .next_due_ms = base + p->interval_ms,
	                          .last_check_ms = base };
	sim_result_t out = { 0 };
	bool probing = false;
	uint64_t t = 0, wake = p->interval_ms, deadline = 0, start = 0;
	uint64_t next_reload = reload_ms;

	while (t <= until_ms && sm.health != TGC_HEALTH_DOWN) {
		uint64_t ev = probing ? deadline : wake;
		if (next_reload <= ev) {
			/* Takeover: the old instance's probe is abandoned. */
			t = next_reload;
			next_reload += reload_ms;
			out.takeovers++;
			tgc_health_resume_t r = tgc_health_resume(&sm, &rec, base + t,
			                                          0, 1, p);
			probing = false;
			switch (r.kind) {
			case TGC_RESUME_PROBE:
				probing = true;
				start = rec.probe_start_ms - base;
				deadline = t + r.timeout_ms;
				if (!hung) {
					deadline = t;
				}
				break;
			case TGC_RESUME_EXPIRED:
				(void)tgc_health_feed(&sm, false, p);
				out.fails++;
				out.expired++;
				rec.probe_start_ms = 0;
				rec.next_due_ms = base + t + r.delay_ms;
				rec.last_check_ms = base + t;
				wake = t + r.delay_ms;
				break;
			default:
				wake = t + r.delay_ms;
				break;
			}
			continue;
		}
		t = ev;
		if (!probing) {
			/* Probe due: started and recorded. */
			probing = true;
			start = t;
			rec.probe_start_ms = base + t;
			deadline = hung ? t + p->timeout_ms : t;
			out.probes++;
			continue;
		}
		/* Probe ends (timeout or refused): recorded, next one scheduled
		 * from its start. */
		probing = false;
		(void)tgc_health_feed(&sm, false, p);
		out.fails++;
		uint64_t due = start + tgc_health_next_delay(&sm, p);
		wake = (due > t) ? due : t;
		rec.probe_start_ms = 0;
		rec.next_due_ms = base + wake;
		rec.last_check_ms = base + t;
	}
	out.down_at = (sm.health == TGC_HEALTH_DOWN) ? t : 0;

	return out;
}

START_TEST(resume_under_reloads)
{
	static const uint64_t reloads[] = { 1, 7, 100, 200, 300, 333, 499, 500,
	                                    501, 1000, 4000, 100000 };
	static const struct { uint32_t interval, timeout, fall; } sets[] = {
		{ 1000, 500, 2 }, { 10000, 500, 2 }, { 1000, 900, 3 },
		{ 100, 50, 2 }, { 2000, 1000, 1 }, { 1000, 10, 5 },
	};
	for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
		tgc_health_params_t p = params(2, sets[s].fall);
		p.interval_ms = sets[s].interval;
		p.timeout_ms = sets[s].timeout;
		uint64_t bound = (uint64_t)p.interval_ms * p.fall + p.timeout_ms +
		                 p.interval_ms;
		for (size_t i = 0; i < sizeof(reloads) / sizeof(reloads[0]); i++) {
			for (int hung = 0; hung <= 1; hung++) {
				sim_result_t r = sim_reloads(&p, hung, reloads[i],
				                             10 * bound);
				ck_assert_msg(r.down_at != 0 && r.down_at <= bound,
				              "interval %u timeout %u fall %u, %s node, "
				              "reload every %" PRIu64 " ms: down at %"
				              PRIu64 " ms, bound %" PRIu64 " (%u probes,"
				              " %u takeovers)", p.interval_ms,
				              p.timeout_ms, p.fall, hung ? "hung" :
				              "refusing", reloads[i], r.down_at, bound,
				              r.probes, r.takeovers);
				/* Every probe started was counted as a
				 * failure, none forgotten across takeovers. */
				ck_assert_uint_eq(r.fails, r.probes);
				ck_assert_uint_eq(r.fails, p.fall);
			}
		}
	}

	/* Deadlines that fall on a takeover are fed by the new instance. */
	tgc_health_params_t p = params(2, 2);
	sim_result_t r = sim_reloads(&p, true, 100, 100000);
	ck_assert_uint_eq(r.expired, 2);
	ck_assert_uint_eq(r.down_at, 2000);
}
END_TEST

/*! \brief Adds a TCase without fixture. */
static void add_case(Suite *s, const char *name, const TTest *test)
{
	TCase *tc = tcase_create(name);
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

static Suite *health_sm_suite(void)
{
	Suite *s = suite_create("health_sm");
	TCase *tc = tcase_create("feed");
	tcase_add_test(tc, feed_rise_fall_of_one);
	tcase_add_test(tc, feed_thresholds);
	suite_add_tcase(s, tc);
	tc = tcase_create("schedule");
	tcase_add_test(tc, pace);
	tcase_add_test(tc, resume_with_pace);
	suite_add_tcase(s, tc);

	add_case(s, "sm_first_success", sm_first_success);
	add_case(s, "sm_fall", sm_fall);
	add_case(s, "sm_reset", sm_reset);
	add_case(s, "sm_rise", sm_rise);
	add_case(s, "sm_edges", sm_edges);
	add_case(s, "next_delay", next_delay);
	add_case(s, "stagger", stagger);
	add_case(s, "resume_plan", resume_plan);
	add_case(s, "resume_under_reloads", resume_under_reloads);
	return s;
}

TEST_MAIN(health_sm)
