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
 * \brief Unit tests of steering by sessions (module/steer.c): node-weight
 *        values, least-loaded order from agent reports and weights, grants
 *        per worker, watermarks and slow start in the answer selection.
 */

#include <check.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <libknot/errcode.h>

#include "module/answer.h"
#include "module/steer.h"
#include "tests/unit/test_util.h"
#include "tests/unit/test_main.h"

#define NODES	4

/*! \brief A table of NODES IPv4 records without a segment (the answer
 *         path reads the records only). */
static tgc_table_t table;
static tgc_node_rec_t recs[NODES];
static uint32_t fam4[NODES] = { 0, 1, 2, 3 };

static void setup(void)
{
	memset(recs, 0, sizeof(recs));
	memset(&table, 0, sizeof(table));
	table.nodes = recs;
	for (uint32_t i = 0; i < NODES; i++) {
		recs[i].family = AF_INET;
		atomic_store(&recs[i].health, TGC_HEALTH_UP);
	}
}

/*! \brief Sets what node \a idx's agent reports (maxconn 0 = none). */
static void agent(uint32_t idx, uint32_t sessions, uint32_t maxconn)
{
	atomic_store(&recs[idx].agent_sessions, sessions);
	atomic_store(&recs[idx].agent_maxconn, maxconn);
	atomic_store(&recs[idx].agent_flags, (uint8_t)(TGC_AGENT_F_POLLED |
	             TGC_AGENT_F_ANSWERED | TGC_AGENT_F_SESSIONS |
	             (maxconn > 0 ? TGC_AGENT_F_MAXCONN : 0)));
}

static tgc_steer_t *steer_make(const tgc_steer_params_t *p, unsigned threads,
                               const uint32_t *weights)
{
	uint32_t ones[NODES] = { 1, 1, 1, 1 };
	tgc_steer_t *s = tgc_steer_new(p, threads, NODES, weights ? weights : ones);
	ck_assert_ptr_nonnull(s);
	return s;
}

/*! \brief One selection of A records with \a s for worker \a thr. */
static tgc_answer_kind_t pick(tgc_steer_t *s, tgc_policy_state_t *st,
                              uint32_t answers, uint32_t *out, size_t *count)
{
	tgc_answer_cfg_t cfg = {
		.table = &table,
		.v4 = { .idx = fam4, .count = NODES },
		.policy = TGC_POLICY_LEAST_LOADED,
		.answers = answers,
		.all_down = TGC_ALL_DOWN_ALL,
		.node_count = NODES,
		.steer = s,
	};
	tgc_answer_kind_t kind = tgc_answer_select(&cfg, AF_INET, false, st, 0,
	                                           out, count);
	tgc_answer_grant(&cfg, st, kind, out, *count);
	return kind;
}

START_TEST(weight_values)
{
	setup();
	tgc_addr_t a;
	uint16_t port;
	uint32_t w;
	const char *err = NULL;
	ck_assert_int_eq(tgc_steer_weight_parse("10.0.0.1=4", &a, &port, &w, &err), KNOT_EOK);
	ck_assert_uint_eq(w, 4);
	ck_assert_uint_eq(port, 0);
	ck_assert_int_eq(tgc_steer_weight_parse("fd00::1@5901=0", &a, &port, &w, &err), KNOT_EOK);
	ck_assert_uint_eq(w, 0);
	ck_assert_uint_eq(port, 5901);
	ck_assert_int_eq(a.family, AF_INET6);
	ck_assert_int_eq(tgc_steer_weight_parse("10.0.0.1=10000", &a, &port, &w, &err), KNOT_EOK);
	const char *bad[] = { "10.0.0.1", "10.0.0.1=", "=3", "10.0.0.1=10001",
	                      "10.0.0.1=-1", "10.0.0.1=2x", "10.0.0.1=99999999999",
	                      "nonsense=2", "10.0.0.1@0=2", "0.0.0.0=1", "" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		ck_assert_msg(tgc_steer_weight_parse(bad[i], &a, &port, &w, &err) ==
		              KNOT_EINVAL, "%s accepted", bad[i]);
		ck_assert_ptr_nonnull(err);
	}

	/* Values name nodes by address, or by address and check port. */
	tgc_addr_t addrs[3];
	ck_assert_int_eq(tgc_addr_parse("10.0.0.1", &addrs[0]), KNOT_EOK);
	ck_assert_int_eq(tgc_addr_parse("10.0.0.1", &addrs[1]), KNOT_EOK);
	ck_assert_int_eq(tgc_addr_parse("10.0.0.2", &addrs[2]), KNOT_EOK);
	uint16_t ports[3] = { 5900, 5901, 5900 };
	uint32_t weights[3] = { 1, 1, 1 };
	const char *vals[] = { "10.0.0.1=3", "10.0.0.1@5901=7" };
	size_t at = 9;
	ck_assert_int_eq(tgc_steer_weights(vals, 2, addrs, ports, 3, weights, &at,
	                                   &err), KNOT_EOK);
	ck_assert_uint_eq(weights[0], 3);
	ck_assert_uint_eq(weights[1], 7);
	ck_assert_uint_eq(weights[2], 1);
	const char *none[] = { "10.0.0.2=2", "10.0.0.3=2" };
	ck_assert_int_eq(tgc_steer_weights(none, 2, addrs, ports, 3, weights, &at,
	                                   &err), KNOT_EINVAL);
	ck_assert_uint_eq(at, 1);
	ck_assert_str_eq(err, "names no 'node' or 'backup'");
}
END_TEST

START_TEST(order_by_sessions_and_capacity)
{
	setup();
	tgc_steer_params_t p = { .least_loaded = true, .window_ms = 15000 };
	/* Weights 1, 1, 2, 4: node 3 holds 4x the sessions of node 0. */
	uint32_t weights[NODES] = { 1, 1, 2, 4 };
	tgc_steer_t *s = steer_make(&p, 1, weights);
	agent(0, 10, 100);
	agent(1, 5, 100);
	agent(2, 12, 100);   /* 6 per unit of weight */
	agent(3, 16, 100);   /* 4 per unit */
	uint32_t cand[NODES] = { 0, 1, 2, 3 };
	tgc_steer_order(s, 0, &table, cand, NODES, 0, 1000);
	uint32_t want[NODES] = { 3, 1, 2, 0 };
	ck_assert_mem_eq(cand, want, sizeof(want));

	/* The agent's percentage scales the capacity: node 3 at 25 % holds
	 * 16 per unit. */
	atomic_store(&recs[3].agent_pct, 25);
	atomic_fetch_or(&recs[3].agent_flags, TGC_AGENT_F_PCT);
	uint32_t cand2[NODES] = { 0, 1, 2, 3 };
	tgc_steer_order(s, 0, &table, cand2, NODES, 0, 1000);
	uint32_t want2[NODES] = { 1, 2, 0, 3 };
	ck_assert_mem_eq(cand2, want2, sizeof(want2));

	/* maxconn 0 (or weight 0) takes no sessions: last. */
	agent(1, 0, 0);
	atomic_store(&recs[1].agent_maxconn, 0);
	atomic_fetch_or(&recs[1].agent_flags, TGC_AGENT_F_MAXCONN);
	uint32_t cand3[NODES] = { 0, 1, 2, 3 };
	tgc_steer_order(s, 0, &table, cand3, NODES, 0, 1000);
	ck_assert_uint_eq(cand3[NODES - 1], 1);
	tgc_steer_free(s);
}
END_TEST

START_TEST(ties_rotate)
{
	setup();
	tgc_steer_params_t p = { .least_loaded = true, .window_ms = 15000 };
	tgc_steer_t *s = steer_make(&p, 1, NULL);
	unsigned lead[NODES] = { 0 };
	for (uint64_t r = 0; r < 4 * NODES; r++) {
		uint32_t cand[NODES] = { 0, 1, 2, 3 };
		tgc_steer_order(s, 0, &table, cand, NODES, r, 1000);
		lead[cand[0]]++;
	}
	for (size_t i = 0; i < NODES; i++) {
		ck_assert_uint_eq(lead[i], 4);
	}
	tgc_steer_free(s);
}
END_TEST

START_TEST(grants_spread_a_burst)
{
	setup();
	/* No session reported yet: a burst of answers spreads by capacity
	 * (weights 1, 1, 2, 4) through the grants alone. */
	tgc_steer_params_t p = { .least_loaded = true, .window_ms = 15000 };
	uint32_t weights[NODES] = { 1, 1, 2, 4 };
	tgc_steer_t *s = steer_make(&p, 1, weights);
	for (uint32_t i = 0; i < NODES; i++) {
		agent(i, 0, 50);
	}
	tgc_policy_state_t st;
	tgc_policy_state_init(&st, 1);
	unsigned first[NODES] = { 0 };
	for (int q = 0; q < 80; q++) {
		uint32_t out[NODES];
		size_t count = 0;
		ck_assert_int_eq(pick(s, &st, 1, out, &count), TGC_ANSWER_LIVE);
		ck_assert_uint_eq(count, 1);
		first[out[0]]++;
	}
	ck_assert_uint_eq(first[0], 10);
	ck_assert_uint_eq(first[1], 10);
	ck_assert_uint_eq(first[2], 20);
	ck_assert_uint_eq(first[3], 40);
	/* The grants decay with time constant ttl + grant-window. */
	uint64_t now = tgc_steer_now_ms();
	double g = tgc_steer_grants(s, 3, now);
	ck_assert(g > 39.0 && g <= 40.0);
	ck_assert(fabs(tgc_steer_grants(s, 3, now + 15000) - g * exp(-1.0)) < 0.05);
	tgc_steer_free(s);
}
END_TEST

START_TEST(grants_per_worker)
{
	setup();
	/* Worker 0 answers node 0 many times; worker 1 sees those grants
	 * (after its copy refreshes) and leads with another node. */
	tgc_steer_params_t p = { .least_loaded = true, .window_ms = 15000 };
	tgc_steer_t *s = steer_make(&p, 2, NULL);
	uint64_t now = 1000000;
	for (int i = 0; i < 50; i++) {
		tgc_steer_grant(s, 0, 0, now);
	}
	ck_assert(fabs(tgc_steer_grants(s, 0, now) - 50.0) < 1e-9);
	uint32_t cand[NODES] = { 0, 1, 2, 3 };
	tgc_steer_order(s, 1, &table, cand, NODES, 0, now + TGC_STEER_REFRESH_MS);
	ck_assert_uint_eq(cand[NODES - 1], 0);
	/* Worker 1's own grants go to its block only. */
	tgc_steer_grant(s, 1, 2, now);
	ck_assert(fabs(tgc_steer_grants(s, 2, now) - 1.0) < 1e-9);
	/* Worker 0 also leads elsewhere, by its own grants. */
	uint32_t c0[NODES] = { 0, 1, 2, 3 };
	tgc_steer_order(s, 0, &table, c0, NODES, 0, now + 2 * TGC_STEER_REFRESH_MS);
	ck_assert_uint_ne(c0[0], 0);
	ck_assert_uint_ne(c0[0], 2);
	tgc_steer_free(s);
}
END_TEST

START_TEST(watermark_drains_with_hysteresis)
{
	setup();
	tgc_steer_params_t p = { .least_loaded = true, .window_ms = 1,
	                         .high = 80, .low = 50 };
	tgc_steer_t *s = steer_make(&p, 1, NULL);
	/* Node 0 lightly loaded but over: answered only while no other is. */
	agent(0, 9, 10);
	agent(1, 30, 100);
	agent(2, 40, 100);
	agent(3, 50, 100);
	tgc_policy_state_t st;
	tgc_policy_state_init(&st, 1);
	uint32_t out[NODES];
	size_t count = 0;
	ck_assert_int_eq(pick(s, &st, 0, out, &count), TGC_ANSWER_LIVE);
	ck_assert_uint_eq(count, 3);
	for (size_t i = 0; i < count; i++) {
		ck_assert_uint_ne(out[i], 0);
	}
	/* Below high but above low: still over. */
	agent(0, 7, 10);
	ck_assert_int_eq(pick(s, &st, 0, out, &count), TGC_ANSWER_LIVE);
	ck_assert_uint_eq(count, 3);
	/* Below low: back, and first (least loaded). */
	agent(0, 2, 10);
	ck_assert_int_eq(pick(s, &st, 0, out, &count), TGC_ANSWER_LIVE);
	ck_assert_uint_eq(count, 4);
	ck_assert_uint_eq(out[0], 0);
	/* Every node over: answered as drained ones. */
	for (uint32_t i = 0; i < NODES; i++) {
		agent(i, 95, 100);
	}
	ck_assert_int_eq(pick(s, &st, 0, out, &count), TGC_ANSWER_DRAIN);
	ck_assert_uint_eq(count, NODES);
	/* No maxconn reported: the watermark does not apply. */
	for (uint32_t i = 0; i < NODES; i++) {
		agent(i, 95, 0);
	}
	ck_assert_int_eq(pick(s, &st, 0, out, &count), TGC_ANSWER_LIVE);
	tgc_steer_free(s);
}
END_TEST

START_TEST(slow_start_ramps_a_new_node)
{
	setup();
	tgc_steer_params_t p = { .least_loaded = true, .window_ms = 15000,
	                         .slow_start_ms = 100000 };
	tgc_steer_t *s = steer_make(&p, 1, NULL);
	agent(0, 10, 100);
	agent(1, 10, 100);
	uint64_t t0 = 1000000;
	/* Node 0 answerable since t0; node 1 not (down). */
	uint32_t c[2] = { 0 };
	tgc_steer_seen(s, 0, fam4, 2, c, 1, t0);
	/* Node 1 comes at t1: its share starts at the floor. */
	uint64_t t1 = t0 + 500000;
	uint32_t both[2] = { 0, 1 };
	tgc_steer_seen(s, 0, fam4, 2, both, 2, t1);
	uint32_t o[2] = { 0, 1 };
	tgc_steer_order(s, 0, &table, o, 2, 0, t1);
	ck_assert_uint_eq(o[0], 0);
	/* Half way: capacity halved, so 4 sessions (8 per unit) lead over
	 * node 0's 10, and 6 (12 per unit) do not. */
	agent(1, 4, 100);
	uint32_t h[2] = { 0, 1 };
	tgc_steer_order(s, 0, &table, h, 2, 0, t1 + 50000);
	ck_assert_uint_eq(h[0], 1);
	agent(1, 6, 100);
	uint32_t k[2] = { 0, 1 };
	tgc_steer_order(s, 0, &table, k, 2, 0, t1 + 50000);
	ck_assert_uint_eq(k[0], 0);
	/* Ramp done: full share, 6 < 10. */
	uint32_t f[2] = { 0, 1 };
	tgc_steer_order(s, 0, &table, f, 2, 0, t1 + 100000);
	ck_assert_uint_eq(f[0], 1);
	/* It leaves (down) and comes back: the ramp starts again. */
	tgc_steer_seen(s, 0, fam4, 2, c, 1, t1 + 200000);
	tgc_steer_seen(s, 0, fam4, 2, both, 2, t1 + 300000);
	uint32_t r[2] = { 0, 1 };
	tgc_steer_order(s, 0, &table, r, 2, 0, t1 + 300000);
	ck_assert_uint_eq(r[0], 0);
	tgc_steer_free(s);

	/* A node answerable at a worker's first look does not ramp (knotd
	 * starting is not a node coming up)... */
	s = steer_make(&p, 1, NULL);
	agent(0, 10, 100);
	agent(1, 6, 100);
	tgc_steer_seen(s, 0, fam4, 2, both, 2, t0);
	uint32_t a[2] = { 0, 1 };
	tgc_steer_order(s, 0, &table, a, 2, 0, t0);
	ck_assert_uint_eq(a[0], 1);
	/* ...but one whose health went up after down (a second transition)
	 * ramps from that moment, whatever the worker saw. */
	atomic_store(&recs[1].transitions, 2);
	atomic_store(&recs[1].since_ms, t0);
	uint32_t b[2] = { 0, 1 };
	tgc_steer_order(s, 0, &table, b, 2, 0, t0 + 1000);
	ck_assert_uint_eq(b[0], 0);
	uint32_t d[2] = { 0, 1 };
	tgc_steer_order(s, 0, &table, d, 2, 0, t0 + 100000);
	ck_assert_uint_eq(d[0], 1);
	tgc_steer_free(s);
}
END_TEST

START_TEST(order_given_by_report)
{
	setup();
	tgc_steer_params_t p = { .least_loaded = true, .window_ms = 15000 };
	tgc_steer_t *s = steer_make(&p, 1, NULL);
	/* Positions 0..3 of an answer, their grant slots elsewhere. */
	const uint32_t slots[NODES] = { 2, 3, 0, 1 };
	const uint32_t sessions[NODES] = { 10, 5, 12, 16 };
	double capacity[NODES] = { 1.0, 1.0, 2.0, 4.0 };
	uint64_t now = 1000000;
	/* Loads 10, 5, 6, 4. */
	uint32_t o[NODES] = { 0, 1, 2, 3 };
	tgc_steer_order_given(s, 0, o, NODES, slots, sessions, capacity, 0, now);
	const uint32_t want[NODES] = { 3, 1, 2, 0 };
	ck_assert_mem_eq(o, want, sizeof(want));
	/* Any order of the positions in, the same order out. */
	uint32_t o2[NODES] = { 2, 0, 3, 1 };
	tgc_steer_order_given(s, 0, o2, NODES, slots, sessions, capacity, 0, now);
	ck_assert_mem_eq(o2, want, sizeof(want));

	/* 20 grants in position 3's slot (1): (16 + 20) / 4 = 9. */
	for (int i = 0; i < 20; i++) {
		tgc_steer_grant(s, 0, slots[3], now);
	}
	uint32_t o3[NODES] = { 0, 1, 2, 3 };
	tgc_steer_order_given(s, 0, o3, NODES, slots, sessions, capacity, 0, now);
	const uint32_t want3[NODES] = { 1, 2, 3, 0 };
	ck_assert_mem_eq(o3, want3, sizeof(want3));
	/* Grants in slot 3 (position 1's): 5 + 5 = 10, ties position 0 at
	 * 10 (by position: 0 first at rotor 0). */
	for (int i = 0; i < 5; i++) {
		tgc_steer_grant(s, 0, slots[1], now);
	}
	uint32_t o4[NODES] = { 0, 1, 2, 3 };
	tgc_steer_order_given(s, 0, o4, NODES, slots, sessions, capacity, 0, now);
	const uint32_t want4[NODES] = { 2, 3, 0, 1 };
	ck_assert_mem_eq(o4, want4, sizeof(want4));

	/* Capacity 0 takes nothing: last whatever its sessions. */
	const uint32_t none[NODES] = { 0, 0, 0, 0 };
	capacity[2] = 0.0;
	uint32_t o5[NODES] = { 0, 1, 2, 3 };
	tgc_steer_order_given(s, 0, o5, NODES, slots, none, capacity, 0, now);
	ck_assert_uint_eq(o5[NODES - 1], 2);
	tgc_steer_free(s);
}
END_TEST

START_TEST(order_given_grants_of_other_workers)
{
	setup();
	tgc_steer_params_t p = { .least_loaded = true, .window_ms = 15000 };
	tgc_steer_t *s = steer_make(&p, 2, NULL);
	const uint32_t slots[2] = { 3, 0 };
	const uint32_t sessions[2] = { 1, 2 };
	const double capacity[2] = { 1.0, 1.0 };
	uint64_t now = 1000000;
	uint32_t o[2] = { 0, 1 };
	tgc_steer_order_given(s, 1, o, 2, slots, sessions, capacity, 0, now);
	ck_assert_uint_eq(o[0], 0);
	/* Worker 0 grants position 0's slot; worker 1 sees it once its copy
	 * of the others' grants is refreshed. */
	tgc_steer_grant(s, 0, 3, now);
	tgc_steer_grant(s, 0, 3, now);
	uint32_t o2[2] = { 0, 1 };
	tgc_steer_order_given(s, 1, o2, 2, slots, sessions, capacity, 0,
	                      now + TGC_STEER_REFRESH_MS);
	ck_assert_uint_eq(o2[0], 1);
	tgc_steer_free(s);
}
END_TEST

START_TEST(order_given_ties_and_limits)
{
	setup();
	tgc_steer_params_t p = { .least_loaded = true, .window_ms = 15000 };
	tgc_steer_t *s = steer_make(&p, 1, NULL);
	const uint32_t slots[NODES + 1] = { 0, 1, 2, 3, 0 };
	const uint32_t sessions[NODES + 1] = { 4, 4, 4, 4, 0 };
	const double capacity[NODES + 1] = { 2.0, 2.0, 2.0, 2.0, 1.0 };
	unsigned lead[NODES] = { 0 };
	for (uint64_t r = 0; r < 3 * NODES; r++) {
		uint32_t o[NODES] = { 0, 1, 2, 3 };
		tgc_steer_order_given(s, 0, o, NODES, slots, sessions, capacity, r,
		                      1000);
		lead[o[0]]++;
	}
	for (unsigned i = 0; i < NODES; i++) {
		ck_assert_uint_eq(lead[i], 3);
	}

	/* More positions than the instance has grant slots (nodes): left as
	 * they are, though position 4 is the least loaded. */
	uint32_t o[NODES + 1] = { 3, 1, 4, 0, 2 };
	const uint32_t same[NODES + 1] = { 3, 1, 4, 0, 2 };
	tgc_steer_order_given(s, 0, o, NODES + 1, slots, sessions, capacity, 0, 1000);
	ck_assert_mem_eq(o, same, sizeof(same));
	/* Not positions (one past count): left as they are too. */
	uint32_t bad[3] = { 2, 7, 0 };
	const uint32_t bad_same[3] = { 2, 7, 0 };
	const uint32_t s3[3] = { 9, 0, 5 };
	tgc_steer_order_given(s, 0, bad, 3, slots, s3, capacity, 0, 1000);
	ck_assert_mem_eq(bad, bad_same, sizeof(bad_same));
	/* No steering state: nothing done. */
	uint32_t n[2] = { 1, 0 };
	tgc_steer_order_given(NULL, 0, n, 2, slots, s3, capacity, 0, 1000);
	ck_assert_uint_eq(n[0], 1);
	/* A slot past the nodes counts no grants (and reads nothing). */
	const uint32_t far[2] = { 1000, 0 };
	for (int i = 0; i < 10; i++) {
		tgc_steer_grant(s, 0, 0, 1000);
	}
	uint32_t f[2] = { 1, 0 };
	const uint32_t s2[2] = { 3, 3 };
	tgc_steer_order_given(s, 0, f, 2, far, s2, capacity, 0, 1000);
	ck_assert_uint_eq(f[0], 0);
	tgc_steer_free(s);
}
END_TEST

START_TEST(report_of_node)
{
	setup();
	tgc_steer_params_t p = { .least_loaded = true, .window_ms = 10000 };
	uint32_t weights[NODES] = { 1, 1, 2, 4 };
	tgc_steer_t *s = steer_make(&p, 2, weights);
	agent(2, 12, 100);
	uint64_t now = 1000000;
	/* Grants of both workers: 3 + 1. */
	for (int i = 0; i < 3; i++) {
		tgc_steer_grant(s, 0, 2, now);
	}
	tgc_steer_grant(s, 1, 2, now);
	uint32_t sessions = 0;
	double capacity = 0.0;
	bool has = false;
	tgc_steer_report(s, 0, &table, 2, 999, now, &sessions, &capacity, &has);
	ck_assert(has);
	ck_assert_uint_eq(sessions, 16);
	/* Weight 2 (the instance's, not the argument) x maxconn 100. */
	ck_assert(fabs(capacity - 200.0) < 1e-9);
	/* 4 s later: 4 x e^-0.4 = 2.68 grants, 14.68 rounds to 15. */
	tgc_steer_report(s, 1, &table, 2, 999, now + 4000, &sessions, &capacity, &has);
	ck_assert_uint_eq(sessions, 15);
	/* 9 s later: 4 x e^-0.9 = 1.63, 13.63 rounds to 14. */
	tgc_steer_report(s, 0, &table, 2, 999, now + 9000, &sessions, &capacity, &has);
	ck_assert_uint_eq(sessions, 14);
	/* The agent's percentage scales it. */
	atomic_store(&recs[2].agent_pct, 50);
	atomic_fetch_or(&recs[2].agent_flags, TGC_AGENT_F_PCT);
	tgc_steer_report(s, 0, &table, 2, 999, now, &sessions, &capacity, &has);
	ck_assert(fabs(capacity - 100.0) < 1e-9);
	/* No sessions reported: the grants alone, flagged as such. */
	atomic_fetch_and(&recs[2].agent_flags, (uint8_t)~TGC_AGENT_F_SESSIONS);
	tgc_steer_report(s, 0, &table, 2, 999, now, &sessions, &capacity, &has);
	ck_assert(!has);
	ck_assert_uint_eq(sessions, 4);
	/* No agent at all: weight alone (node 3, weight 4). */
	tgc_steer_report(s, 0, &table, 3, 999, now, &sessions, &capacity, &has);
	ck_assert(!has);
	ck_assert_uint_eq(sessions, 0);
	ck_assert(fabs(capacity - 4.0) < 1e-9);
	tgc_steer_free(s);
}
END_TEST

START_TEST(report_without_steering)
{
	setup();
	agent(1, 7, 40);
	atomic_store(&recs[1].agent_pct, 50);
	atomic_fetch_or(&recs[1].agent_flags, TGC_AGENT_F_PCT);
	uint32_t sessions = 0;
	double capacity = 0.0;
	bool has = false;
	/* Weight 3 x 50 % x maxconn 40. */
	tgc_steer_report(NULL, 0, &table, 1, 3, 1000, &sessions, &capacity, &has);
	ck_assert(has);
	ck_assert_uint_eq(sessions, 7);
	ck_assert(fabs(capacity - 60.0) < 1e-9);
	/* Weight 0: no capacity. */
	tgc_steer_report(NULL, 0, &table, 1, 0, 1000, &sessions, &capacity, &has);
	ck_assert(capacity == 0.0);
	/* No agent report: the weight; no sessions. */
	tgc_steer_report(NULL, 0, &table, 0, 5, 1000, &sessions, &capacity, &has);
	ck_assert(!has);
	ck_assert_uint_eq(sessions, 0);
	ck_assert(fabs(capacity - 5.0) < 1e-9);
}
END_TEST

static Suite *steer_suite(void)
{
	Suite *s = suite_create("steer");

	test_add_case(s, "weight_values", weight_values, 30);
	test_add_case(s, "order_by_sessions_and_capacity", order_by_sessions_and_capacity, 30);
	test_add_case(s, "ties_rotate", ties_rotate, 30);
	test_add_case(s, "grants_spread_a_burst", grants_spread_a_burst, 30);
	test_add_case(s, "grants_per_worker", grants_per_worker, 30);
	test_add_case(s, "watermark_drains_with_hysteresis", watermark_drains_with_hysteresis, 30);
	test_add_case(s, "slow_start_ramps_a_new_node", slow_start_ramps_a_new_node, 30);
	test_add_case(s, "order_given_by_report", order_given_by_report, 30);
	test_add_case(s, "order_given_grants_of_other_workers",
	              order_given_grants_of_other_workers, 30);
	test_add_case(s, "order_given_ties_and_limits", order_given_ties_and_limits, 30);
	test_add_case(s, "report_of_node", report_of_node, 30);
	test_add_case(s, "report_without_steering", report_without_steering, 30);

	return s;
}

TEST_MAIN(steer)
