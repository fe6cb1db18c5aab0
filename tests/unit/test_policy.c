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
 * \brief Unit tests of module/policy.c: round-robin, random, ordered and
 *        sticky (rendezvous hash) orderings.
 */

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libknot/errcode.h>

#include "tests/unit/test_main.h"
#include "tests/unit/test_util.h"
#include "module/addr.h"
#include "module/policy.h"

/*! \brief Most nodes used by these tests. */
#define NODES_MAX	256
/*! \brief Number of client keys in the sticky tests. */
#define CLIENTS		10000

/*! rief Parses an address that must be valid. */
#define A(str)	test_addr(str)

/*! \brief Fills \a cand with 0..n-1. */
static void iota(uint32_t *cand, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cand[i] = (uint32_t)i;
	}
}

/*! \brief Asserts that \a out[0..n) is a permutation of \a in[0..n). */
static void check_permutation(const uint32_t *in, const uint32_t *out, size_t n)
{
	bool seen[NODES_MAX * 4] = { false };
	for (size_t i = 0; i < n; i++) {
		ensure(out[i] < NODES_MAX * 4, "node %u", out[i]);
		ensure(!seen[out[i]], "node %u twice", out[i]);
		seen[out[i]] = true;
	}
	for (size_t i = 0; i < n; i++) {
		ensure(seen[in[i]], "node %u lost", in[i]);
	}
}

/*! \brief Pearson's chi-square statistic of \a counts against uniform. */
static double chi_square(const unsigned *counts, size_t bins, unsigned total)
{
	double expect = (double)total / (double)bins, chi = 0;
	for (size_t i = 0; i < bins; i++) {
		double d = counts[i] - expect;
		chi += d * d / expect;
	}
	return chi;
}

/*! \brief Node keys of nodes 10.0.0.1, 10.0.0.2, ... (port 5900). */
static void make_node_keys(uint64_t *keys, tgc_addr_t *addrs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char text[TGC_ADDR_STRLEN];
		snprintf(text, sizeof(text), "10.0.%zu.%zu", (i + 1) / 256, (i + 1) % 256);
		addrs[i] = A(text);
		keys[i] = tgc_policy_node_key(&addrs[i], 5900);
	}
}

/*! \brief Client keys of random IPv4 clients, as the module computes them. */
static void make_client_keys(uint64_t *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		tgc_addr_t c;
		memset(&c, 0, sizeof(c));
		c.family = AF_INET;
		c.len = 4;
		uint64_t r = test_rnd();
		memcpy(c.bytes, &r, 4);
		keys[i] = tgc_policy_client_key(&c, TGC_STICKY_PREFIX4);
	}
}

/*! \brief First choice of the sticky policy among \a cand. */
static uint32_t sticky_first(const uint32_t *cand, size_t n, uint64_t client,
                             const uint64_t *node_keys)
{
	uint32_t tmp[NODES_MAX];
	memcpy(tmp, cand, n * sizeof(*tmp));
	tgc_policy_state_t st;
	tgc_policy_state_init(&st, 1);
	size_t got = tgc_policy_order(TGC_POLICY_STICKY, tmp, n, 1, &st, client,
	                              node_keys);
	ensure(got == 1, "%zu answers", got);
	return tmp[0];
}

START_TEST(round_robin_rotates)
{
	const size_t n = 5, rounds = 1000;
	tgc_policy_state_t st;
	tgc_policy_state_init(&st, 7);

	unsigned first_count[5] = { 0 };
	uint32_t prev_first = UINT32_MAX;
	for (size_t k = 0; k < n * rounds; k++) {
		uint32_t cand[5], in[5];
		iota(cand, n);
		iota(in, n);
		size_t got = tgc_policy_order(TGC_POLICY_ROUND_ROBIN, cand, n, 0,
		                              &st, 0, NULL);
		ensure(got == n, "%zu answers", got);
		check_permutation(in, cand, n);
		/* A rotation of the input... */
		for (size_t i = 0; i < n; i++) {
			ensure(cand[i] == (cand[0] + i) % n, "query %zu", k);
		}
		/* ...starting one further than the previous query. */
		if (prev_first != UINT32_MAX) {
			ensure(cand[0] == (prev_first + 1) % n, "query %zu", k);
		}
		prev_first = cand[0];
		first_count[cand[0]]++;
	}
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(first_count[i], rounds);
	}
}
END_TEST

START_TEST(round_robin_sparse_and_large)
{
	tgc_policy_state_t st;
	tgc_policy_state_init(&st, 0);

	/* Node indexes need not be contiguous. */
	const uint32_t in[] = { 2, 5, 7, 9, 11, 40 };
	const size_t n = sizeof(in) / sizeof(in[0]);
	unsigned seen[41] = { 0 };
	for (size_t k = 0; k < n * 10; k++) {
		uint32_t cand[6];
		memcpy(cand, in, sizeof(in));
		tgc_policy_order(TGC_POLICY_ROUND_ROBIN, cand, n, 0, &st, 0, NULL);
		size_t pos = 0;
		while (pos < n && in[pos] != cand[0]) {
			pos++;
		}
		ck_assert_uint_lt(pos, n);
		for (size_t i = 0; i < n; i++) {
			ck_assert_uint_eq(cand[i], in[(pos + i) % n]);
		}
		seen[cand[0]]++;
	}
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(seen[in[i]], 10);
	}

	/* Many nodes: rotations by more than 64 positions too. */
	const size_t big = 200;
	unsigned big_seen[200] = { 0 };
	for (size_t k = 0; k < big * 2; k++) {
		uint32_t cand[200], ref[200];
		iota(cand, big);
		iota(ref, big);
		tgc_policy_order(TGC_POLICY_ROUND_ROBIN, cand, big, 3, &st, 0, NULL);
		check_permutation(ref, cand, big);
		for (size_t i = 0; i < big; i++) {
			ensure(cand[i] == (cand[0] + i) % big, "query %zu", k);
		}
		big_seen[cand[0]]++;
	}
	for (size_t i = 0; i < big; i++) {
		ck_assert_uint_eq(big_seen[i], 2);
	}

	/* More nodes than the rotation buffer: every shift, so that the
	 * buffered left and right rotations and the in-place one all run. */
	const size_t huge = 2600;
	uint32_t *hc = malloc(huge * sizeof(*hc));
	ck_assert_ptr_nonnull(hc);
	tgc_policy_state_init(&st, 0);
	st.rr = 0;
	for (size_t k = 0; k < huge; k++) {
		iota(hc, huge);
		tgc_policy_order(TGC_POLICY_ROUND_ROBIN, hc, huge, 3, &st, 0, NULL);
		ck_assert_uint_eq(hc[0], k);
		/* Exact positions (so also a permutation). */
		for (size_t i = 0; i < huge; i++) {
			ensure(hc[i] == (k + i) % huge, "shift %zu", k);
		}
	}
	free(hc);
}
END_TEST

START_TEST(limit)
{
	const tgc_policy_t policies[] = {
		TGC_POLICY_ROUND_ROBIN, TGC_POLICY_RANDOM, TGC_POLICY_ORDERED,
		TGC_POLICY_STICKY,
	};
	uint64_t keys[8];
	tgc_addr_t addrs[8];
	make_node_keys(keys, addrs, 8);
	tgc_policy_state_t st;
	tgc_policy_state_init(&st, 3);

	for (size_t p = 0; p < sizeof(policies) / sizeof(policies[0]); p++) {
		for (size_t lim = 0; lim <= 10; lim++) {
			for (int rep = 0; rep < 20; rep++) {
				uint32_t cand[8], in[8];
				iota(cand, 8);
				iota(in, 8);
				size_t got = tgc_policy_order(policies[p], cand, 8, lim,
				                              &st, test_rnd(), keys);
				size_t want = (lim == 0 || lim > 8) ? 8 : lim;
				ck_assert_msg(got == want, "policy %d limit %zu: %zu",
				              policies[p], lim, got);
				/* The whole array stays a permutation, so the
				 * answered prefix has no duplicates. */
				check_permutation(in, cand, 8);
			}
		}
		uint32_t none[1] = { 0 };
		ck_assert_uint_eq(tgc_policy_order(policies[p], none, 0, 0, &st, 1,
		                                   keys), 0);
		ck_assert_uint_eq(tgc_policy_order(policies[p], none, 0, 3, &st, 1,
		                                   keys), 0);
		uint32_t one[1] = { 5 };
		ck_assert_uint_eq(tgc_policy_order(policies[p], one, 1, 0, &st, 1,
		                                   keys), 1);
		ck_assert_uint_eq(one[0], 5);
	}
}
END_TEST

START_TEST(ordered)
{
	tgc_policy_state_t st;
	tgc_policy_state_init(&st, 11);
	const uint32_t in[] = { 1, 3, 4, 8, 9 };
	for (int k = 0; k < 100; k++) {
		uint32_t cand[5];
		memcpy(cand, in, sizeof(in));
		ck_assert_uint_eq(tgc_policy_order(TGC_POLICY_ORDERED, cand, 5, 0,
		                                   &st, test_rnd(), NULL), 5);
		ck_assert_mem_eq(cand, in, sizeof(in));
		memcpy(cand, in, sizeof(in));
		ck_assert_uint_eq(tgc_policy_order(TGC_POLICY_ORDERED, cand, 5, 2,
		                                   &st, test_rnd(), NULL), 2);
		ck_assert_uint_eq(cand[0], 1);
		ck_assert_uint_eq(cand[1], 3);
	}
}
END_TEST

/*! \brief Index of a permutation of 0..4 (base-5 digits, 5^5 slots). */
static unsigned perm_code(const uint32_t *p)
{
	unsigned code = 0;
	for (size_t i = 0; i < 5; i++) {
		code = code * 5 + p[i];
	}
	return code;
}

START_TEST(random_uniform)
{
	const size_t n = 5;
	const unsigned calls = 60000;
	tgc_policy_state_t st;
	tgc_policy_state_init(&st, 12345);

	unsigned first[5] = { 0 }, second[5] = { 0 };
	static unsigned perms[3125];
	memset(perms, 0, sizeof(perms));
	for (unsigned k = 0; k < calls; k++) {
		uint32_t cand[5], in[5];
		iota(cand, n);
		iota(in, n);
		size_t got = tgc_policy_order(TGC_POLICY_RANDOM, cand, n, 0, &st,
		                              0, NULL);
		ensure(got == n, "%zu answers", got);
		check_permutation(in, cand, n);
		first[cand[0]]++;
		second[cand[1]]++;
		perms[perm_code(cand)]++;
	}

	/* Every node comes first; chi-square with 4 degrees of freedom: the
	 * 99.999 % quantile is about 25.7. */
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_gt(first[i], 0);
	}
	double chi1 = chi_square(first, n, calls), chi2 = chi_square(second, n, calls);
	ck_assert_msg(chi1 < 26.0, "first position chi-square %.1f", chi1);
	ck_assert_msg(chi2 < 26.0, "second position chi-square %.1f", chi2);

	/* All 120 orders occur, roughly equally (119 degrees of freedom,
	 * mean 119, sd 15.4). */
	unsigned counts[120], distinct = 0;
	for (size_t c = 0; c < 3125; c++) {
		if (perms[c] > 0) {
			ck_assert_uint_lt(distinct, 120);
			counts[distinct++] = perms[c];
		}
	}
	ck_assert_uint_eq(distinct, 120);
	double chi = chi_square(counts, 120, calls);
	ck_assert_msg(chi < 220.0, "permutation chi-square %.1f", chi);
}
END_TEST

START_TEST(random_limit_and_seed)
{
	/* A limited answer is a uniform ordered sample. */
	const size_t n = 10;
	const unsigned calls = 45000;
	tgc_policy_state_t st;
	tgc_policy_state_init(&st, 99);
	unsigned pairs[100] = { 0 };
	for (unsigned k = 0; k < calls; k++) {
		uint32_t cand[10], in[10];
		iota(cand, n);
		iota(in, n);
		size_t got = tgc_policy_order(TGC_POLICY_RANDOM, cand, n, 2, &st,
		                              0, NULL);
		ensure(got == 2, "%zu answers", got);
		check_permutation(in, cand, n);
		ensure(cand[0] != cand[1], "node %u twice", cand[0]);
		pairs[cand[0] * 10 + cand[1]]++;
	}
	unsigned counts[90], m = 0;
	for (size_t a = 0; a < n; a++) {
		for (size_t b = 0; b < n; b++) {
			if (a != b) {
				ck_assert_uint_gt(pairs[a * 10 + b], 0);
				counts[m++] = pairs[a * 10 + b];
			}
		}
	}
	double chi = chi_square(counts, 90, calls);
	ck_assert_msg(chi < 180.0, "pair chi-square %.1f", chi); /* df 89 */

	/* Different seeds (threads) give different sequences. */
	tgc_policy_state_t s1, s2;
	tgc_policy_state_init(&s1, 1);
	tgc_policy_state_init(&s2, 2);
	unsigned same = 0;
	for (int k = 0; k < 100; k++) {
		uint32_t c1[10], c2[10];
		iota(c1, n);
		iota(c2, n);
		tgc_policy_order(TGC_POLICY_RANDOM, c1, n, 0, &s1, 0, NULL);
		tgc_policy_order(TGC_POLICY_RANDOM, c2, n, 0, &s2, 0, NULL);
		same += (memcmp(c1, c2, sizeof(c1)) == 0);
	}
	ck_assert_uint_lt(same, 5);

	/* A zero seed still gives random orders. */
	tgc_policy_state_t z;
	tgc_policy_state_init(&z, 0);
	unsigned zfirst[10] = { 0 };
	for (int k = 0; k < 1000; k++) {
		uint32_t c[10];
		iota(c, n);
		tgc_policy_order(TGC_POLICY_RANDOM, c, n, 0, &z, 0, NULL);
		zfirst[c[0]]++;
	}
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_gt(zfirst[i], 0);
	}
}
END_TEST

START_TEST(sticky_same_client)
{
	const size_t n = 10;
	uint64_t keys[10];
	tgc_addr_t addrs[10];
	make_node_keys(keys, addrs, n);

	for (int c = 0; c < 200; c++) {
		uint64_t client = test_rnd();
		uint32_t ref[10];
		iota(ref, n);
		tgc_policy_state_t st;
		tgc_policy_state_init(&st, 1);
		tgc_policy_order(TGC_POLICY_STICKY, ref, n, 0, &st, client, keys);
		for (int k = 0; k < 20; k++) {
			/* Any thread, any state: the same order. */
			tgc_policy_state_t other;
			tgc_policy_state_init(&other, test_rnd());
			uint32_t cand[10];
			iota(cand, n);
			tgc_policy_order(TGC_POLICY_STICKY, cand, n, 0, &other, client,
			                 keys);
			ck_assert_mem_eq(cand, ref, sizeof(ref));
			/* A limited answer is the head of the full order. */
			iota(cand, n);
			ck_assert_uint_eq(tgc_policy_order(TGC_POLICY_STICKY, cand, n,
			                                   3, &other, client, keys), 3);
			ck_assert_mem_eq(cand, ref, 3 * sizeof(*cand));
		}
	}
}
END_TEST

/*! \brief Asserts that sticky first choices of random clients are even. */
static void check_sticky_spread(size_t n)
{
	uint64_t keys[NODES_MAX];
	tgc_addr_t addrs[NODES_MAX];
	make_node_keys(keys, addrs, n);
	static uint64_t clients[CLIENTS];
	make_client_keys(clients, CLIENTS);

	unsigned first[NODES_MAX] = { 0 };
	uint32_t cand[NODES_MAX];
	iota(cand, n);
	for (size_t c = 0; c < CLIENTS; c++) {
		first[sticky_first(cand, n, clients[c], keys)]++;
	}
	double expect = (double)CLIENTS / (double)n;
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(first[i] > expect * 0.8 && first[i] < expect * 1.2,
		              "n=%zu: node %zu first for %u clients", n, i, first[i]);
	}
	/* 99.999 % quantiles: df 4 -> 25.7, df 9 -> 35.9. */
	double chi = chi_square(first, n, CLIENTS);
	ck_assert_msg(chi < (n == 5 ? 26.0 : 36.0), "n=%zu chi-square %.1f", n, chi);
}

START_TEST(sticky_spread)
{
	check_sticky_spread(5);
	check_sticky_spread(10);
}
END_TEST

/*!
 * \brief Removes each node in turn (as down, and from the configuration) and
 *        asserts that only the clients whose first choice it was move.
 */
static void check_sticky_stability(size_t n)
{
	uint64_t keys[NODES_MAX];
	tgc_addr_t addrs[NODES_MAX];
	make_node_keys(keys, addrs, n);
	static uint64_t clients[CLIENTS];
	make_client_keys(clients, CLIENTS);
	static uint32_t before[CLIENTS];

	uint32_t all[NODES_MAX];
	iota(all, n);
	for (size_t c = 0; c < CLIENTS; c++) {
		before[c] = sticky_first(all, n, clients[c], keys);
	}

	for (uint32_t gone = 0; gone < n; gone++) {
		/* The node is down: it leaves the candidates, indexes stay. */
		uint32_t cand[NODES_MAX];
		size_t m = 0;
		for (uint32_t i = 0; i < n; i++) {
			if (i != gone) {
				cand[m++] = i;
			}
		}
		/* The node is removed from the configuration: indexes shift,
		 * keys come from the addresses. */
		uint64_t conf_keys[NODES_MAX];
		tgc_addr_t conf_addrs[NODES_MAX];
		uint32_t conf_cand[NODES_MAX];
		for (size_t i = 0; i < m; i++) {
			conf_addrs[i] = addrs[cand[i]];
			conf_keys[i] = tgc_policy_node_key(&conf_addrs[i], 5900);
			conf_cand[i] = (uint32_t)i;
		}

		unsigned owned = 0, moved = 0, moved_conf = 0;
		for (size_t c = 0; c < CLIENTS; c++) {
			uint32_t after = sticky_first(cand, m, clients[c], keys);
			uint32_t after_conf = sticky_first(conf_cand, m, clients[c],
			                                   conf_keys);
			ensure(after != gone, "client %zu", c);
			ensure(tgc_addr_equal(&conf_addrs[after_conf], &addrs[after]),
			       "client %zu", c);
			owned += (before[c] == gone);
			moved += (after != before[c]);
			moved_conf += !tgc_addr_equal(&conf_addrs[after_conf],
			                              &addrs[before[c]]);
			if (before[c] != gone) {
				ensure(after == before[c],
				              "n=%zu: removing %u moved a client of %u to %u",
				              n, gone, before[c], after);
			}
		}
		ck_assert_uint_gt(owned, 0);
		ck_assert_uint_eq(moved, owned);
		ck_assert_uint_eq(moved_conf, owned);
	}

	/* Adding a node only takes clients to the new node. */
	uint64_t more_keys[NODES_MAX];
	tgc_addr_t more_addrs[NODES_MAX];
	make_node_keys(more_keys, more_addrs, n + 1);
	uint32_t more[NODES_MAX];
	iota(more, n + 1);
	unsigned taken = 0;
	for (size_t c = 0; c < CLIENTS; c++) {
		uint32_t after = sticky_first(more, n + 1, clients[c], more_keys);
		if (after != before[c]) {
			ensure(after == n, "client %zu went to %u", c, after);
			taken++;
		}
	}
	ck_assert_uint_gt(taken, CLIENTS / (n + 1) / 2);
	ck_assert_uint_lt(taken, CLIENTS / (n + 1) * 2);
}

START_TEST(sticky_stability)
{
	check_sticky_stability(5);
	check_sticky_stability(10);
}
END_TEST

START_TEST(client_key)
{
	/* Same /24: same key; other /24: other key. */
	tgc_addr_t a = A("192.0.2.10"), b = A("192.0.2.250"), c = A("192.0.3.10");
	uint64_t ka = tgc_policy_client_key(&a, TGC_STICKY_PREFIX4);
	ck_assert(ka == tgc_policy_client_key(&b, TGC_STICKY_PREFIX4));
	ck_assert(ka != tgc_policy_client_key(&c, TGC_STICKY_PREFIX4));
	/* The input is not modified. */
	tgc_addr_t a2 = A("192.0.2.10");
	ck_assert(tgc_addr_equal(&a, &a2));

	/* A shorter (ECS) prefix groups more. */
	ck_assert(tgc_policy_client_key(&a, 16) == tgc_policy_client_key(&c, 16));
	ck_assert(tgc_policy_client_key(&a, 32) != tgc_policy_client_key(&b, 32));
	tgc_addr_t d = A("192.0.2.127"), e = A("192.0.2.128");
	ck_assert(tgc_policy_client_key(&a, 25) == tgc_policy_client_key(&d, 25));
	ck_assert(tgc_policy_client_key(&a, 25) != tgc_policy_client_key(&e, 25));

	/* IPv6 /56. */
	tgc_addr_t x = A("2001:db8:0:100::1"), y = A("2001:db8:0:1ff:ffff::5"),
	           z = A("2001:db8:0:200::1");
	uint64_t kx = tgc_policy_client_key(&x, TGC_STICKY_PREFIX6);
	ck_assert(kx == tgc_policy_client_key(&y, TGC_STICKY_PREFIX6));
	ck_assert(kx != tgc_policy_client_key(&z, TGC_STICKY_PREFIX6));

	/* Same bytes, other family. */
	tgc_addr_t v4 = A("32.1.13.184"), v6 = A("2001:db8::");
	ck_assert(tgc_policy_client_key(&v4, 24) != tgc_policy_client_key(&v6, 24));

	/* Distinct subnets rarely collide. */
	static uint64_t keys[4096];
	for (uint32_t i = 0; i < 4096; i++) {
		tgc_addr_t s = A("10.0.0.1");
		s.bytes[1] = (uint8_t)(i >> 8);
		s.bytes[2] = (uint8_t)i;
		keys[i] = tgc_policy_client_key(&s, 24);
	}
	for (size_t i = 0; i < 4096; i++) {
		for (size_t j = i + 1; j < 4096; j++) {
			ensure(keys[i] != keys[j], "subnets %zu and %zu", i, j);
		}
	}
}
END_TEST

START_TEST(node_key)
{
	tgc_addr_t a = A("10.10.10.100"), b = A("10.10.10.101");
	uint64_t k = tgc_policy_node_key(&a, 5900);
	ck_assert(k == tgc_policy_node_key(&a, 5900));
	ck_assert(k != tgc_policy_node_key(&a, 5901));
	ck_assert(k != tgc_policy_node_key(&a, 5900 + 256));
	ck_assert(k != tgc_policy_node_key(&b, 5900));
	tgc_addr_t v4 = A("1.2.3.4"), v6 = A("102:304::");
	ck_assert(tgc_policy_node_key(&v4, 1) != tgc_policy_node_key(&v6, 1));

	/* The port changes the sticky choice of some clients. */
	uint64_t keys_a[5], keys_b[5];
	tgc_addr_t addrs[5];
	make_node_keys(keys_a, addrs, 5);
	for (size_t i = 0; i < 5; i++) {
		keys_b[i] = tgc_policy_node_key(&addrs[i], 5901);
	}
	uint32_t cand[5];
	iota(cand, 5);
	unsigned differ = 0;
	for (int c = 0; c < 1000; c++) {
		uint64_t client = test_rnd();
		differ += sticky_first(cand, 5, client, keys_a) !=
		          sticky_first(cand, 5, client, keys_b);
	}
	ck_assert_uint_gt(differ, 100);
}
END_TEST

START_TEST(unique_many_shared)
{
	/* 3000 nodes, 1500 addresses each held by two nodes (node i and
	 * i + 1500); every policy answers each address once, as its full
	 * order with the repeats dropped would. */
	enum { N = 3000, HOSTS = 1500 };
	uint32_t *rep = calloc(N, sizeof(*rep));
	uint32_t *cand = calloc(N, sizeof(*cand));
	uint32_t *ref = calloc(N, sizeof(*ref));
	uint64_t *keys = calloc(N, sizeof(*keys));
	uint64_t *seen = calloc((N + 63) / 64, sizeof(*seen));
	bool *got = calloc(N, sizeof(*got));
	ck_assert(rep && cand && ref && keys && seen && got);
	for (uint32_t i = 0; i < N; i++) {
		rep[i] = i % HOSTS;
		tgc_addr_t a = A("10.1.0.0");
		ck_assert_int_eq(tgc_addr_add(&a, i % HOSTS, &a), KNOT_EOK);
		keys[i] = tgc_policy_node_key(&a, (uint16_t)(5900 + i / HOSTS));
	}
	static const tgc_policy_t policies[] = {
		TGC_POLICY_ROUND_ROBIN, TGC_POLICY_RANDOM, TGC_POLICY_ORDERED,
		TGC_POLICY_STICKY,
	};
	static const size_t limits[] = { 0, 1, 3, 1499, 1500, 2000 };
	for (size_t p = 0; p < 4; p++) {
		for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
			size_t lim = limits[l];
			size_t want = (lim == 0 || lim > HOSTS) ? HOSTS : lim;
			tgc_policy_state_t st, st_ref;
			tgc_policy_state_init(&st, 77 + l);
			tgc_policy_state_init(&st_ref, 77 + l);
			iota(cand, N);
			memset(seen, 0, ((N + 63) / 64) * sizeof(*seen));
			size_t n = tgc_policy_order_unique(policies[p], cand, N, lim,
			                                   &st, 4242, keys, rep, seen);
			ck_assert_uint_eq(n, want);
			memset(got, 0, N * sizeof(*got));
			for (size_t i = 0; i < n; i++) {
				ensure(!got[rep[cand[i]]], "policy %zu limit %zu: address "
				       "of node %u twice", p, lim, cand[i]);
				got[rep[cand[i]]] = true;
				ensure(seen[rep[cand[i]] / 64] & (1ULL << (rep[cand[i]] % 64)),
				       "answered address not marked");
			}
			if (policies[p] == TGC_POLICY_RANDOM) {
				continue;
			}
			/* Deterministic policies: the full order, deduplicated. */
			iota(ref, N);
			tgc_policy_order(policies[p], ref, N, 0, &st_ref, 4242, keys);
			size_t k = 0;
			memset(got, 0, N * sizeof(*got));
			for (size_t i = 0; i < N && k < want; i++) {
				if (!got[rep[ref[i]]]) {
					got[rep[ref[i]]] = true;
					ref[k++] = ref[i];
				}
			}
			ck_assert_mem_eq(cand, ref, want * sizeof(*cand));
		}
	}
	/* Without representatives it is tgc_policy_order(). */
	tgc_policy_state_t a, b;
	tgc_policy_state_init(&a, 5);
	tgc_policy_state_init(&b, 5);
	iota(cand, N);
	iota(ref, N);
	ck_assert_uint_eq(tgc_policy_order_unique(TGC_POLICY_RANDOM, cand, N, 3, &a,
	                                          0, keys, NULL, NULL), 3);
	ck_assert_uint_eq(tgc_policy_order(TGC_POLICY_RANDOM, ref, N, 3, &b, 0, keys), 3);
	ck_assert_mem_eq(cand, ref, N * sizeof(*cand));
	free(rep);
	free(cand);
	free(ref);
	free(keys);
	free(seen);
	free(got);
}
END_TEST

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	test_add_case(s, "round_robin_rotates", round_robin_rotates, 120);
	test_add_case(s, "round_robin_sparse_and_large", round_robin_sparse_and_large, 120);
	test_add_case(s, "limit", limit, 120);
	test_add_case(s, "ordered", ordered, 120);
	test_add_case(s, "random_uniform", random_uniform, 120);
	test_add_case(s, "random_limit_and_seed", random_limit_and_seed, 120);
	test_add_case(s, "sticky_same_client", sticky_same_client, 120);
	test_add_case(s, "sticky_spread", sticky_spread, 120);
	test_add_case(s, "sticky_stability", sticky_stability, 120);
	test_add_case(s, "client_key", client_key, 120);
	test_add_case(s, "node_key", node_key, 120);
	test_add_case(s, "unique_many_shared", unique_many_shared, 120);
	return s;
}

TEST_MAIN(policy)
