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
 * \brief Unit tests of the load math (module/load.c): capacity, grant
 *        decay, least-loaded order, watermark hysteresis, slow start.
 */

#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "module/load.h"
#include "tests/unit/test_util.h"
#include "tests/unit/test_main.h"

#define NEAR(a, b)	ck_assert_msg(fabs((a) - (b)) < 1e-9, "%.12g != %.12g", \
			              (double)(a), (double)(b))

START_TEST(capacity)
{
	tgc_load_cap_t c = { .weight = 1 };
	NEAR(tgc_load_capacity(&c), 1.0);
	c.weight = 4;
	NEAR(tgc_load_capacity(&c), 4.0);
	c.has_pct = true;
	c.pct = 50;
	NEAR(tgc_load_capacity(&c), 2.0);
	c.has_maxconn = true;
	c.maxconn = 40;
	NEAR(tgc_load_capacity(&c), 80.0);
	c.pct = 0;
	NEAR(tgc_load_capacity(&c), 0.0);
	ck_assert(isinf(tgc_load_score(0, 0.0, 0.0)));
	NEAR(tgc_load_score(30, 10.0, 80.0), 0.5);
	/* Weight 0: no capacity. */
	tgc_load_cap_t z = { .weight = 0, .has_maxconn = true, .maxconn = 9 };
	NEAR(tgc_load_capacity(&z), 0.0);
	ck_assert_uint_eq(tgc_load_capacity_x100(&z), 0);

	/* In hundredths, rounded; saturated at UINT32_MAX. */
	tgc_load_cap_t h = { .weight = 1, .has_pct = true, .pct = 33 };
	ck_assert_uint_eq(tgc_load_capacity_x100(&h), 33);
	h.weight = 3;
	h.pct = 50;
	ck_assert_uint_eq(tgc_load_capacity_x100(&h), 150);
	h.has_maxconn = true;
	h.maxconn = 401;
	ck_assert_uint_eq(tgc_load_capacity_x100(&h), 60150);
	h.weight = 10000;
	h.pct = 1000;
	h.maxconn = UINT32_MAX;
	ck_assert_uint_eq(tgc_load_capacity_x100(&h), UINT32_MAX);
}
END_TEST

START_TEST(grant_decay)
{
	const uint32_t w = 15000; /* ttl 5 s + grant-window 10 s */
	tgc_load_grants_t g = { 0 };
	NEAR(tgc_load_grants_at(&g, 1000, w), 0.0);
	tgc_load_grant(&g, 1000, w, 1.0);
	NEAR(tgc_load_grants_at(&g, 1000, w), 1.0);
	/* One time constant later: 1/e. */
	NEAR(tgc_load_grants_at(&g, 1000 + w, w), exp(-1.0));
	tgc_load_grant(&g, 1000 + w, w, 1.0);
	NEAR(tgc_load_grants_at(&g, 1000 + w, w), 1.0 + exp(-1.0));
	/* Monotone decay towards 0. */
	double prev = tgc_load_grants_at(&g, 1000 + w, w);
	for (uint64_t t = 1000 + w; t < 1000 + 20 * (uint64_t)w; t += 777) {
		double v = tgc_load_grants_at(&g, t, w);
		ck_assert(v <= prev && v >= 0.0);
		prev = v;
	}
	ck_assert(tgc_load_grants_at(&g, 1000 + 40 * (uint64_t)w, w) < 1e-9);
	/* A clock read earlier than the last grant does not grow it. */
	NEAR(tgc_load_grants_at(&g, 10, w), 1.0 + exp(-1.0));
	/* Steady rate r grants/s holds about r x window. */
	tgc_load_grants_t s = { 0 };
	for (uint64_t t = 0; t < 200000; t += 100) {
		tgc_load_grant(&s, t, w, 1.0); /* 10 per second */
	}
	double held = tgc_load_grants_at(&s, 200000, w);
	ck_assert_msg(held > 140.0 && held < 160.0, "held %f", held);
}
END_TEST

START_TEST(least_loaded_order)
{
	double score[6] = { 0.5, 0.1, 0.9, 0.1, HUGE_VAL, 0.3 };
	uint32_t cand[6] = { 0, 1, 2, 3, 4, 5 };
	tgc_load_order(cand, 6, score, 0);
	/* Ascending; the tie 1/3 by index at rotor 0. */
	uint32_t want0[6] = { 1, 3, 5, 0, 2, 4 };
	ck_assert_mem_eq(cand, want0, sizeof(want0));

	/* Ties rotate: over many rotors, each of two equal nodes leads
	 * about half the time. */
	unsigned first[6] = { 0 };
	for (uint64_t r = 0; r < 600; r++) {
		uint32_t c[6] = { 0, 1, 2, 3, 4, 5 };
		tgc_load_order(c, 6, score, r);
		first[c[0]]++;
		ck_assert(c[0] == 1 || c[0] == 3);
		ck_assert(c[2] == 5 && c[3] == 0 && c[4] == 2 && c[5] == 4);
	}
	ck_assert_uint_eq(first[1] + first[3], 600);
	ck_assert_uint_eq(first[1], 300);

	/* All equal: plain rotation, input order irrelevant. */
	double flat[4] = { 1, 1, 1, 1 };
	uint32_t c4[4] = { 3, 1, 0, 2 };
	tgc_load_order(c4, 4, flat, 6);
	uint32_t want4[4] = { 2, 3, 0, 1 };
	ck_assert_mem_eq(c4, want4, sizeof(want4));
	/* Zero and one candidate are no-ops. */
	uint32_t one = 3;
	tgc_load_order(&one, 1, flat, 5);
	ck_assert_uint_eq(one, 3);
	tgc_load_order(NULL, 0, flat, 5);
}
END_TEST

START_TEST(watermark_hysteresis)
{
	/* Off: never over. */
	ck_assert(!tgc_load_over(false, 1000.0, 0, 0));
	ck_assert(!tgc_load_over(true, 1000.0, 0, 0));
	/* high 90, low 70: over above 90, back below 70. */
	bool over = false;
	const double path[] = { 50, 89, 90, 91, 85, 71, 70, 69.9, 80, 90, 90.5 };
	const bool want[] = { 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1 };
	for (size_t i = 0; i < sizeof(path) / sizeof(path[0]); i++) {
		over = tgc_load_over(over, path[i], 90, 70);
		ck_assert_msg(over == want[i], "step %zu load %f", i, path[i]);
	}
	/* low above high acts as low = high. */
	ck_assert(tgc_load_over(false, 91, 90, 95));
	ck_assert(!tgc_load_over(true, 89, 90, 95));
}
END_TEST

START_TEST(slow_start_ramp)
{
	NEAR(tgc_load_slow_start(1000, 1000, 0), 1.0);
	NEAR(tgc_load_slow_start(1000, 500, 0), 1.0);
	NEAR(tgc_load_slow_start(1000, 1000, 60000), 1.0 / 64.0);
	NEAR(tgc_load_slow_start(1000, 1000 + 30000, 60000), 0.5);
	NEAR(tgc_load_slow_start(1000, 1000 + 45000, 60000), 0.75);
	NEAR(tgc_load_slow_start(1000, 1000 + 60000, 60000), 1.0);
	NEAR(tgc_load_slow_start(1000, 1000 + 600000, 60000), 1.0);
	/* Linear and non-decreasing. */
	double prev = 0.0;
	for (uint64_t t = 0; t <= 70000; t += 500) {
		double v = tgc_load_slow_start(1000, 1000 + t, 60000);
		ck_assert(v >= prev && v <= 1.0);
		if (t >= 1000 && t <= 60000) {
			NEAR(v, (double)t / 60000.0);
		}
		prev = v;
	}
	/* Clock before the start: the floor. */
	NEAR(tgc_load_slow_start(5000, 1000, 60000), 1.0 / 64.0);
}
END_TEST

static Suite *load_suite(void)
{
	Suite *s = suite_create("load");

	test_add_case(s, "capacity", capacity, 30);
	test_add_case(s, "grant_decay", grant_decay, 30);
	test_add_case(s, "least_loaded_order", least_loaded_order, 30);
	test_add_case(s, "watermark_hysteresis", watermark_hysteresis, 30);
	test_add_case(s, "slow_start_ramp", slow_start_ramp, 30);

	return s;
}

TEST_MAIN(load)
