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
 * The state machine through its own interface (module/health_sm.h), as the
 * poller uses it (rise and fall of one) and with a pace of its own. The
 * checker's view of it (thresholds and pace from tgc_health_params_t) is
 * tested in test_health.c.
 */

#include <check.h>
#include <stdlib.h>

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
	return s;
}

TEST_MAIN(health_sm)
