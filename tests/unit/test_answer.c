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
 * \brief Unit tests of module/answer.c: which nodes answer a query, and the
 *        A/AAAA and SOA records written into the response.
 */

#include <check.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libknot/libknot.h>

#include "tests/unit/test_main.h"
#include "tests/unit/test_util.h"
#include "module/answer.h"
#include "module/policy.h"
#include "module/table.h"

/*! \brief Parses an address that must be valid. */
#define A(str)	test_addr(str)

/*! \brief Nodes of the test instance, by index: IPv4 and IPv6 interleaved. */
static const char *node_text[] = {
	"10.0.0.1", "10.0.0.2", "2001:db8::1", "10.0.0.3", "10.0.0.4",
	"2001:db8::2",
};
#define NODES	6
/*! \brief IPv4 node indexes. */
static const uint32_t v4_idx[] = { 0, 1, 3, 4 };
/*! \brief IPv6 node indexes. */
static const uint32_t v6_idx[] = { 2, 5 };

/*! \brief Fixture: a table, the instance view and a policy state. */
static char shm_name[TGC_TABLE_NAME_MAX + 1];
static tgc_table_t table;
static uint64_t node_keys[NODES];
static tgc_answer_cfg_t cfg;
static tgc_policy_state_t st;

static void table_setup(void)
{
	tgc_table_node_t nodes[NODES];
	memset(nodes, 0, sizeof(nodes));
	for (size_t i = 0; i < NODES; i++) {
		nodes[i].addr = A(node_text[i]);
		nodes[i].port = 5900;
		node_keys[i] = tgc_policy_node_key(&nodes[i].addr, 5900);
	}
	tgc_table_spec_t spec = {
		.role = TGC_ROLE_LB, .zone = "example", .instance = "test",
		.name = "cluster.example", .nodes = nodes, .node_count = NODES,
		.interval_ms = 1000, .timeout_ms = 500, .rise = 2, .fall = 2,
	};
	test_shm_name(shm_name, sizeof(shm_name), "answer");
	tgc_table_origin_t origin;
	const char *err = NULL;
	ck_assert_int_eq(tgc_table_open(&table, shm_name, &spec, &origin, &err),
	                 KNOT_EOK);
	ck_assert_int_eq(origin, TGC_TABLE_CREATED);

	memset(&cfg, 0, sizeof(cfg));
	cfg.table = &table;
	cfg.v4.idx = v4_idx;
	cfg.v4.count = sizeof(v4_idx) / sizeof(v4_idx[0]);
	cfg.v6.idx = v6_idx;
	cfg.v6.count = sizeof(v6_idx) / sizeof(v6_idx[0]);
	cfg.node_keys = node_keys;
	cfg.policy = TGC_POLICY_ORDERED;
	cfg.answers = 0;
	cfg.all_down = TGC_ALL_DOWN_ALL;
	tgc_policy_state_init(&st, 1);
}

static void table_teardown(void)
{
	tgc_table_close(&table);
	(void)tgc_table_unlink(shm_name);
}

/*! \brief Sets the states of node \a idx as the checker and the CLI would. */
static void set_node(uint32_t idx, tgc_health_t health, tgc_admin_t admin)
{
	atomic_store(&table.nodes[idx].health, (uint8_t)health);
	atomic_store(&table.nodes[idx].admin, (uint8_t)admin);
}

/*! \brief Sets the health of every IPv4 node. */
static void set_v4_health(tgc_health_t health)
{
	for (size_t i = 0; i < sizeof(v4_idx) / sizeof(v4_idx[0]); i++) {
		atomic_store(&table.nodes[v4_idx[i]].health, (uint8_t)health);
	}
}

/*!
 * \brief Runs a selection and asserts its kind and exact result.
 *
 * \a want is terminated by UINT32_MAX.
 */
#define END	UINT32_MAX
static void check_select_at(int line, int family, tgc_answer_kind_t kind,
                            const uint32_t *want)
{
	uint32_t out[NODES];
	memset(out, 0xff, sizeof(out));
	size_t count = 12345;
	tgc_answer_kind_t got = tgc_answer_select(&cfg, family, false, &st, 42, out, &count);
	size_t want_count = 0;
	while (want[want_count] != END) {
		want_count++;
	}
	char got_text[128] = "", want_text[128] = "";
	for (size_t i = 0; i < count && i < NODES; i++) {
		snprintf(got_text + strlen(got_text), sizeof(got_text) - strlen(got_text),
		         " %u", out[i]);
	}
	for (size_t i = 0; i < want_count; i++) {
		snprintf(want_text + strlen(want_text), sizeof(want_text) - strlen(want_text),
		         " %u", want[i]);
	}
	ck_assert_msg(got == kind && count == want_count &&
	              memcmp(out, want, count * sizeof(*out)) == 0,
	              "line %d: kind %d nodes [%s ], want kind %d nodes [%s ]",
	              line, got, got_text, kind, want_text);
}
#define check_select(family, kind, ...) \
	check_select_at(__LINE__, family, kind, (const uint32_t[]){ __VA_ARGS__ })

START_TEST(select_unknown_is_up)
{
	/* Never probed: every node answers. */
	check_select(AF_INET, TGC_ANSWER_LIVE, 0, 1, 3, 4, END);
	check_select(AF_INET6, TGC_ANSWER_LIVE, 2, 5, END);
	/* Confirmed up and unknown mix. */
	set_node(1, TGC_HEALTH_UP, TGC_ADMIN_AUTO);
	check_select(AF_INET, TGC_ANSWER_LIVE, 0, 1, 3, 4, END);
}
END_TEST

START_TEST(select_health_down)
{
	set_node(1, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	set_node(3, TGC_HEALTH_UP, TGC_ADMIN_AUTO);
	check_select(AF_INET, TGC_ANSWER_LIVE, 0, 3, 4, END);
	set_node(0, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	set_node(4, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	check_select(AF_INET, TGC_ANSWER_LIVE, 3, END);
	/* Back up. */
	set_node(1, TGC_HEALTH_UP, TGC_ADMIN_AUTO);
	check_select(AF_INET, TGC_ANSWER_LIVE, 1, 3, END);
}
END_TEST

START_TEST(select_admin_down)
{
	/* Healthy but admin down: left out. */
	set_node(0, TGC_HEALTH_UP, TGC_ADMIN_DOWN);
	check_select(AF_INET, TGC_ANSWER_LIVE, 1, 3, 4, END);
	set_node(2, TGC_HEALTH_UNKNOWN, TGC_ADMIN_DOWN);
	check_select(AF_INET6, TGC_ANSWER_LIVE, 5, END);

	/* All down, all-down=all: every node but the admin-down one. */
	set_node(1, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	set_node(3, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	set_node(4, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	check_select(AF_INET, TGC_ANSWER_ALL, 1, 3, 4, END);

	/* Every node admin down: nothing to answer even with all-down=all. */
	for (size_t i = 0; i < 4; i++) {
		set_node(v4_idx[i], TGC_HEALTH_UP, TGC_ADMIN_DOWN);
	}
	check_select(AF_INET, TGC_ANSWER_NODATA, END);
	cfg.all_down = TGC_ALL_DOWN_SERVFAIL;
	check_select(AF_INET, TGC_ANSWER_SERVFAIL, END);
}
END_TEST

START_TEST(select_admin_up)
{
	set_v4_health(TGC_HEALTH_DOWN);
	set_node(3, TGC_HEALTH_DOWN, TGC_ADMIN_UP);
	check_select(AF_INET, TGC_ANSWER_LIVE, 3, END);
	set_node(0, TGC_HEALTH_UNKNOWN, TGC_ADMIN_UP);
	check_select(AF_INET, TGC_ANSWER_LIVE, 0, 3, END);
	/* Admin up beside healthy auto nodes: all of them. */
	set_v4_health(TGC_HEALTH_UP);
	check_select(AF_INET, TGC_ANSWER_LIVE, 0, 1, 3, 4, END);
}
END_TEST

START_TEST(select_drain)
{
	/* Drained while others are live: left out. */
	set_node(0, TGC_HEALTH_UP, TGC_ADMIN_DRAIN);
	check_select(AF_INET, TGC_ANSWER_LIVE, 1, 3, 4, END);
	set_node(3, TGC_HEALTH_UNKNOWN, TGC_ADMIN_DRAIN);
	check_select(AF_INET, TGC_ANSWER_LIVE, 1, 4, END);

	/* Only drained nodes are live: they answer. */
	set_node(1, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	set_node(4, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	check_select(AF_INET, TGC_ANSWER_DRAIN, 0, 3, END);

	/* A drained node that is down does not. */
	set_node(3, TGC_HEALTH_DOWN, TGC_ADMIN_DRAIN);
	check_select(AF_INET, TGC_ANSWER_DRAIN, 0, END);

	/* An admin-up node is live: drained nodes stay out. */
	set_node(4, TGC_HEALTH_DOWN, TGC_ADMIN_UP);
	check_select(AF_INET, TGC_ANSWER_LIVE, 4, END);
}
END_TEST

START_TEST(select_drain_majority)
{
	/* More drained than other nodes: three of four. */
	set_node(0, TGC_HEALTH_UP, TGC_ADMIN_DRAIN);
	set_node(1, TGC_HEALTH_UNKNOWN, TGC_ADMIN_DRAIN);
	set_node(3, TGC_HEALTH_UP, TGC_ADMIN_DRAIN);
	set_node(4, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	check_select(AF_INET, TGC_ANSWER_DRAIN, 0, 1, 3, END);

	/* Every node drained. */
	set_node(4, TGC_HEALTH_UP, TGC_ADMIN_DRAIN);
	check_select(AF_INET, TGC_ANSWER_DRAIN, 0, 1, 3, 4, END);
	set_node(2, TGC_HEALTH_UP, TGC_ADMIN_DRAIN);
	set_node(5, TGC_HEALTH_UP, TGC_ADMIN_DRAIN);
	check_select(AF_INET6, TGC_ANSWER_DRAIN, 2, 5, END);

	/* Whatever the policy, a drained answer has each node once. */
	cfg.policy = TGC_POLICY_RANDOM;
	for (int k = 0; k < 100; k++) {
		uint32_t out[NODES];
		size_t count = 0;
		ck_assert_int_eq(tgc_answer_select(&cfg, AF_INET, false, &st, 0, out, &count),
		                 TGC_ANSWER_DRAIN);
		ck_assert_uint_eq(count, 4);
		bool seen[NODES] = { false };
		for (size_t i = 0; i < count; i++) {
			ck_assert_uint_lt(out[i], NODES);
			ck_assert_msg(!seen[out[i]], "node %u answered twice", out[i]);
			seen[out[i]] = true;
		}
	}
}
END_TEST

START_TEST(select_all_down)
{
	set_v4_health(TGC_HEALTH_DOWN);

	cfg.all_down = TGC_ALL_DOWN_ALL;
	check_select(AF_INET, TGC_ANSWER_ALL, 0, 1, 3, 4, END);
	/* Drained nodes are configured nodes too. */
	set_node(1, TGC_HEALTH_DOWN, TGC_ADMIN_DRAIN);
	check_select(AF_INET, TGC_ANSWER_ALL, 0, 1, 3, 4, END);

	cfg.all_down = TGC_ALL_DOWN_SERVFAIL;
	check_select(AF_INET, TGC_ANSWER_SERVFAIL, END);

	cfg.all_down = TGC_ALL_DOWN_NODATA;
	check_select(AF_INET, TGC_ANSWER_NODATA, END);

	/* The other family is not affected. */
	check_select(AF_INET6, TGC_ANSWER_LIVE, 2, 5, END);

	/* One node back: a live answer again. */
	set_node(4, TGC_HEALTH_UP, TGC_ADMIN_AUTO);
	check_select(AF_INET, TGC_ANSWER_LIVE, 4, END);
}
END_TEST

START_TEST(select_backup_tier)
{
	/* Nodes 3, 4 (IPv4) and 5 (IPv6) are backups. */
	cfg.backup_from = 3;
	cfg.backup_when = 1;
	check_select(AF_INET, TGC_ANSWER_LIVE, 0, 1, END);
	check_select(AF_INET6, TGC_ANSWER_LIVE, 2, END);

	/* One primary left is enough for backup-when 1. */
	set_node(0, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	check_select(AF_INET, TGC_ANSWER_LIVE, 1, END);
	/* Not for backup-when 2: the live primary and the live backups. */
	cfg.backup_when = 2;
	check_select(AF_INET, TGC_ANSWER_LIVE, 1, 3, 4, END);
	cfg.backup_when = 1;

	/* No primary: backups take over, per family. */
	set_node(1, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	check_select(AF_INET, TGC_ANSWER_LIVE, 3, 4, END);
	check_select(AF_INET6, TGC_ANSWER_LIVE, 2, END);
	set_node(4, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	check_select(AF_INET, TGC_ANSWER_LIVE, 3, END);

	/* A live backup beats a drained primary. */
	set_node(1, TGC_HEALTH_UP, TGC_ADMIN_DRAIN);
	check_select(AF_INET, TGC_ANSWER_LIVE, 3, END);
	/* Drained nodes of both tiers answer when nothing else is live. */
	set_node(3, TGC_HEALTH_UP, TGC_ADMIN_DRAIN);
	check_select(AF_INET, TGC_ANSWER_DRAIN, 1, 3, END);

	/* All down: the all-down policy over both tiers. */
	set_node(1, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	set_node(3, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	cfg.all_down = TGC_ALL_DOWN_ALL;
	check_select(AF_INET, TGC_ANSWER_ALL, 0, 1, 3, 4, END);
	set_node(4, TGC_HEALTH_DOWN, TGC_ADMIN_DOWN);
	check_select(AF_INET, TGC_ANSWER_ALL, 0, 1, 3, END);
	cfg.all_down = TGC_ALL_DOWN_SERVFAIL;
	check_select(AF_INET, TGC_ANSWER_SERVFAIL, END);

	/* A primary back: the backups hand back at once. */
	set_node(3, TGC_HEALTH_UP, TGC_ADMIN_AUTO);
	check_select(AF_INET, TGC_ANSWER_LIVE, 3, END);
	set_node(0, TGC_HEALTH_UP, TGC_ADMIN_AUTO);
	check_select(AF_INET, TGC_ANSWER_LIVE, 0, END);
	/* An admin-up primary counts as live. */
	set_node(0, TGC_HEALTH_DOWN, TGC_ADMIN_UP);
	check_select(AF_INET, TGC_ANSWER_LIVE, 0, END);

	/* Backups follow the policy's limit like any node. */
	set_node(0, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	set_node(4, TGC_HEALTH_UP, TGC_ADMIN_AUTO);
	cfg.answers = 1;
	check_select(AF_INET, TGC_ANSWER_LIVE, 3, END);
}
END_TEST

START_TEST(select_family)
{
	check_select(AF_INET6, TGC_ANSWER_LIVE, 2, 5, END);
	/* IPv6 node states do not leak into IPv4 answers and back. */
	set_node(2, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	check_select(AF_INET6, TGC_ANSWER_LIVE, 5, END);
	check_select(AF_INET, TGC_ANSWER_LIVE, 0, 1, 3, 4, END);
	set_v4_health(TGC_HEALTH_DOWN);
	check_select(AF_INET6, TGC_ANSWER_LIVE, 5, END);

	/* No node of the family at all: NODATA, whatever all-down says. */
	cfg.v6.count = 0;
	check_select(AF_INET6, TGC_ANSWER_NODATA, END);
	cfg.all_down = TGC_ALL_DOWN_SERVFAIL;
	check_select(AF_INET6, TGC_ANSWER_NODATA, END);
}
END_TEST

START_TEST(select_answers_limit)
{
	cfg.answers = 2;
	check_select(AF_INET, TGC_ANSWER_LIVE, 0, 1, END);
	cfg.answers = 4;
	check_select(AF_INET, TGC_ANSWER_LIVE, 0, 1, 3, 4, END);
	cfg.answers = 10;
	check_select(AF_INET, TGC_ANSWER_LIVE, 0, 1, 3, 4, END);
	cfg.answers = 1;
	check_select(AF_INET6, TGC_ANSWER_LIVE, 2, END);

	/* The limit holds for all-down and drained answers too. */
	cfg.answers = 3;
	set_v4_health(TGC_HEALTH_DOWN);
	check_select(AF_INET, TGC_ANSWER_ALL, 0, 1, 3, END);
	set_node(0, TGC_HEALTH_UP, TGC_ADMIN_DRAIN);
	set_node(3, TGC_HEALTH_UP, TGC_ADMIN_DRAIN);
	cfg.answers = 1;
	check_select(AF_INET, TGC_ANSWER_DRAIN, 0, END);

	/* Round-robin with a limit: every node leads in turn. */
	set_v4_health(TGC_HEALTH_UP);
	set_node(0, TGC_HEALTH_UP, TGC_ADMIN_AUTO);
	set_node(3, TGC_HEALTH_UP, TGC_ADMIN_AUTO);
	cfg.policy = TGC_POLICY_ROUND_ROBIN;
	cfg.answers = 2;
	unsigned first[NODES] = { 0 };
	for (int k = 0; k < 40; k++) {
		uint32_t out[NODES];
		size_t count = 0;
		ck_assert_int_eq(tgc_answer_select(&cfg, AF_INET, false, &st, 0, out, &count),
		                 TGC_ANSWER_LIVE);
		ck_assert_uint_eq(count, 2);
		ck_assert_uint_ne(out[0], out[1]);
		first[out[0]]++;
	}
	for (size_t i = 0; i < 4; i++) {
		ck_assert_uint_eq(first[v4_idx[i]], 10);
	}
}
END_TEST

START_TEST(select_sticky)
{
	/* The sticky choice is the policy's over the eligible nodes. */
	cfg.policy = TGC_POLICY_STICKY;
	set_node(1, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	for (uint64_t client = 1; client < 200; client++) {
		uint32_t out[NODES], ref[3] = { 0, 3, 4 };
		size_t count = 0;
		tgc_policy_state_t other;
		tgc_policy_state_init(&other, client * 7);
		ck_assert_int_eq(tgc_answer_select(&cfg, AF_INET, false, &st, client, out, &count),
		                 TGC_ANSWER_LIVE);
		ck_assert_uint_eq(count, 3);
		tgc_policy_order(TGC_POLICY_STICKY, ref, 3, 0, &other, client, node_keys);
		ck_assert_mem_eq(out, ref, sizeof(ref));
	}
}
END_TEST

/*! \brief Representatives: nodes 0 and 3 share an address, so do 1 and 4. */
static const uint32_t shared_rep[NODES] = { 0, 1, 2, 0, 1, 5 };

START_TEST(reps_compute)
{
	tgc_addr_t addrs[7] = {
		A("10.0.0.1"), A("10.0.0.2"), A("2001:db8::1"), A("10.0.0.1"),
		A("10.0.0.2"), A("2001:db8::2"), A("10.0.0.1"),
	};
	uint32_t rep[7];
	ck_assert_int_eq(tgc_answer_reps(addrs, 7, rep), KNOT_EOK);
	const uint32_t want[7] = { 0, 1, 2, 0, 1, 5, 0 };
	ck_assert_mem_eq(rep, want, sizeof(want));

	/* All different (an IPv4 and an IPv6 address with equal leading
	 * bytes included): every node stands for itself. */
	addrs[3] = A("10.0.0.3");
	addrs[4] = A("a00:1::");
	addrs[6] = A("10.0.0.4");
	ck_assert_int_eq(tgc_answer_reps(addrs, 7, rep), KNOT_ENOENT);
	for (uint32_t i = 0; i < 7; i++) {
		ck_assert_uint_eq(rep[i], i);
	}
	ck_assert_int_eq(tgc_answer_reps(addrs, 1, rep), KNOT_ENOENT);
	ck_assert_uint_eq(rep[0], 0);

	/* Many nodes, pairs sharing an address in reverse order. */
	enum { BIG = 3000 };
	tgc_addr_t *big = calloc(BIG, sizeof(*big));
	uint32_t *big_rep = calloc(BIG, sizeof(*big_rep));
	ck_assert_ptr_nonnull(big);
	ck_assert_ptr_nonnull(big_rep);
	tgc_addr_t base = A("10.1.0.0");
	for (uint32_t i = 0; i < BIG; i++) {
		ck_assert_int_eq(tgc_addr_add(&base, (BIG - 1 - i) % (BIG / 2), &big[i]),
		                 KNOT_EOK);
	}
	ck_assert_int_eq(tgc_answer_reps(big, BIG, big_rep), KNOT_EOK);
	for (uint32_t i = 0; i < BIG; i++) {
		ck_assert_uint_eq(big_rep[i], i % (BIG / 2));
	}
	free(big);
	free(big_rep);
}
END_TEST

START_TEST(select_shared_addr)
{
	cfg.node_count = NODES;
	cfg.rep = shared_rep;
	/* Ordered: the first node of each address. */
	check_select(AF_INET, TGC_ANSWER_LIVE, 0, 1, END);
	check_select(AF_INET6, TGC_ANSWER_LIVE, 2, 5, END);
	cfg.answers = 1;
	check_select(AF_INET, TGC_ANSWER_LIVE, 0, END);
	cfg.answers = 0;

	/* The other node of an address answers for it when the first
	 * cannot: health down, admin down, or drained while others live. */
	set_node(0, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	check_select(AF_INET, TGC_ANSWER_LIVE, 1, 3, END);
	set_node(0, TGC_HEALTH_UP, TGC_ADMIN_DOWN);
	check_select(AF_INET, TGC_ANSWER_LIVE, 1, 3, END);
	set_node(0, TGC_HEALTH_UP, TGC_ADMIN_DRAIN);
	check_select(AF_INET, TGC_ANSWER_LIVE, 1, 3, END);
	/* Only drained nodes live: they answer, each address once. */
	set_node(1, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	set_node(3, TGC_HEALTH_UP, TGC_ADMIN_DRAIN);
	set_node(4, TGC_HEALTH_UP, TGC_ADMIN_DOWN);
	check_select(AF_INET, TGC_ANSWER_DRAIN, 0, END);
	/* All down: every node not admin-down, each address once. */
	set_node(0, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	set_node(3, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	check_select(AF_INET, TGC_ANSWER_ALL, 0, 1, END);
	cfg.answers = 1;
	check_select(AF_INET, TGC_ANSWER_ALL, 0, END);
	cfg.answers = 0;
	set_node(1, TGC_HEALTH_DOWN, TGC_ADMIN_DOWN);
	check_select(AF_INET, TGC_ANSWER_ALL, 0, END);

	/* The mapped answer uses the representatives of the mapped
	 * addresses: here every IPv4 node maps to one address. */
	set_v4_health(TGC_HEALTH_UP);
	for (uint32_t i = 0; i < NODES; i++) {
		atomic_store(&table.nodes[i].admin, (uint8_t)TGC_ADMIN_AUTO);
	}
	static const uint32_t one_lan[NODES] = { 0, 0, 2, 0, 0, 5 };
	cfg.rep = NULL;
	cfg.rep_mapped = one_lan;
	check_select(AF_INET, TGC_ANSWER_LIVE, 0, 1, 3, 4, END);
	uint32_t out[NODES];
	size_t count = 0;
	ck_assert_int_eq(tgc_answer_select(&cfg, AF_INET, true, &st, 0, out, &count),
	                 TGC_ANSWER_LIVE);
	ck_assert_uint_eq(count, 1);
	ck_assert_uint_eq(out[0], 0);
}
END_TEST

/*! \brief Drops later entries with an already seen representative. */
static size_t dedup_ref(uint32_t *v, size_t n, const uint32_t *rep, size_t limit)
{
	size_t out = 0;
	for (size_t i = 0; i < n && (limit == 0 || out < limit); i++) {
		bool seen = false;
		for (size_t j = 0; j < out; j++) {
			seen = seen || rep[v[j]] == rep[v[i]];
		}
		if (!seen) {
			v[out++] = v[i];
		}
	}
	return out;
}

START_TEST(select_shared_policies)
{
	cfg.node_count = NODES;
	cfg.rep = shared_rep;

	/* Round-robin: the rotation, then each address once; every node
	 * leads in turn (answers counts addresses). */
	cfg.policy = TGC_POLICY_ROUND_ROBIN;
	for (uint32_t lim = 0; lim <= 2; lim++) {
		cfg.answers = lim;
		unsigned first[NODES] = { 0 };
		for (int k = 0; k < 40; k++) {
			uint32_t out[NODES];
			size_t count = 0;
			ck_assert_int_eq(tgc_answer_select(&cfg, AF_INET, false, &st, 0,
			                                   out, &count), TGC_ANSWER_LIVE);
			ck_assert_uint_eq(count, (lim == 1) ? 1 : 2);
			if (count == 2) {
				ck_assert_uint_ne(shared_rep[out[0]], shared_rep[out[1]]);
			}
			first[out[0]]++;
		}
		for (size_t i = 0; i < 4; i++) {
			ck_assert_uint_eq(first[v4_idx[i]], 10);
		}
	}

	/* Random: each address once, every node first now and then, each
	 * address first about half of the time. */
	cfg.policy = TGC_POLICY_RANDOM;
	for (uint32_t lim = 0; lim <= 1; lim++) {
		cfg.answers = lim;
		unsigned first[NODES] = { 0 };
		for (int k = 0; k < 4000; k++) {
			uint32_t out[NODES];
			size_t count = 0;
			ck_assert_int_eq(tgc_answer_select(&cfg, AF_INET, false, &st, 0,
			                                   out, &count), TGC_ANSWER_LIVE);
			ck_assert_uint_eq(count, lim ? 1 : 2);
			if (count == 2) {
				ck_assert_uint_ne(shared_rep[out[0]], shared_rep[out[1]]);
			}
			first[out[0]]++;
		}
		for (size_t i = 0; i < 4; i++) {
			ck_assert_uint_gt(first[v4_idx[i]], 800);
			ck_assert_uint_lt(first[v4_idx[i]], 1200);
		}
	}

	/* Sticky: the full sticky order with repeated addresses dropped. */
	cfg.policy = TGC_POLICY_STICKY;
	set_node(4, TGC_HEALTH_DOWN, TGC_ADMIN_AUTO);
	for (uint32_t lim = 0; lim <= 1; lim++) {
		cfg.answers = lim;
		for (uint64_t client = 1; client < 300; client++) {
			uint32_t out[NODES], ref[3] = { 0, 1, 3 };
			size_t count = 0;
			tgc_policy_state_t other;
			tgc_policy_state_init(&other, client);
			ck_assert_int_eq(tgc_answer_select(&cfg, AF_INET, false, &st,
			                                   client, out, &count),
			                 TGC_ANSWER_LIVE);
			tgc_policy_order(TGC_POLICY_STICKY, ref, 3, 0, &other, client,
			                 node_keys);
			size_t want = dedup_ref(ref, 3, shared_rep, lim);
			ck_assert_uint_eq(count, want);
			ck_assert_mem_eq(out, ref, want * sizeof(*ref));
		}
	}
}
END_TEST

/*! \brief A knot_mm_t that records its allocations (freed in teardown). */
typedef struct {
	void *ptr[64];
	size_t count;
	size_t fail_after; /*!< Allocations that succeed (SIZE_MAX: all). */
} arena_t;

static void *arena_alloc(void *ctx, size_t len)
{
	arena_t *a = ctx;
	if (a->count >= a->fail_after || a->count >= 64) {
		return NULL;
	}
	void *p = malloc(len);
	if (p != NULL) {
		a->ptr[a->count++] = p;
	}
	return p;
}

static arena_t arena;
static knot_mm_t mm;
static knot_pkt_t *query, *resp;
static knot_dname_t *qname;

static void pkt_setup(void)
{
	memset(&arena, 0, sizeof(arena));
	arena.fail_after = SIZE_MAX;
	mm.ctx = &arena;
	mm.alloc = arena_alloc;
	mm.free = NULL;
	query = resp = NULL;
	qname = knot_dname_from_str_alloc("Cluster.Example.");
	ck_assert_ptr_nonnull(qname);
}

static void pkt_teardown(void)
{
	knot_pkt_free(resp);
	knot_pkt_free(query);
	free(qname);
	for (size_t i = 0; i < arena.count; i++) {
		free(arena.ptr[i]);
	}
	memset(&arena, 0, sizeof(arena));
}

/*! \brief Builds a query and an empty response of at most \a max bytes. */
static void make_packets(uint16_t qtype, uint16_t max)
{
	knot_pkt_free(resp);
	knot_pkt_free(query);
	query = knot_pkt_new(NULL, KNOT_WIRE_MAX_PKTSIZE, NULL);
	ck_assert_ptr_nonnull(query);
	knot_wire_set_id(query->wire, 0x1234);
	ck_assert_int_eq(knot_pkt_put_question(query, qname, KNOT_CLASS_IN, qtype),
	                 KNOT_EOK);
	resp = knot_pkt_new(NULL, max, NULL);
	ck_assert_ptr_nonnull(resp);
	ck_assert_int_eq(knot_pkt_init_response(resp, query), KNOT_EOK);
	ck_assert_int_eq(knot_pkt_begin(resp, KNOT_ANSWER), KNOT_EOK);
}

/*! \brief One resource record as found on the wire. */
typedef struct {
	size_t owner_off;     /*!< Offset of the owner name. */
	const uint8_t *owner; /*!< Owner bytes. */
	uint16_t type, rclass;
	uint32_t ttl;
	uint16_t rdlen;
	const uint8_t *rdata;
} wire_rr_t;

/*! \brief Skips a (possibly compressed) name at \a pos; returns the end. */
static size_t wire_skip_name(const uint8_t *wire, size_t size, size_t pos)
{
	while (pos < size) {
		uint8_t b = wire[pos];
		if ((b & 0xc0) == 0xc0) {
			return pos + 2;
		}
		pos += 1 + b;
		if (b == 0) {
			return pos;
		}
	}
	ck_abort_msg("name runs past the packet");
	return size;
}

/*!
 * \brief Walks the records of a response (own parser, independent of
 *        libknot), filling \a rrs; returns their number.
 */
static size_t wire_records(const uint8_t *wire, size_t size, wire_rr_t *rrs,
                           size_t max)
{
	ck_assert_uint_ge(size, KNOT_WIRE_HEADER_SIZE);
	ck_assert_uint_eq(knot_wire_get_qdcount(wire), 1);
	size_t pos = wire_skip_name(wire, size, KNOT_WIRE_HEADER_SIZE) + 4;
	size_t total = knot_wire_get_ancount(wire) + knot_wire_get_nscount(wire) +
	               knot_wire_get_arcount(wire);
	ck_assert_uint_le(total, max);
	for (size_t i = 0; i < total; i++) {
		wire_rr_t *rr = &rrs[i];
		rr->owner_off = pos;
		rr->owner = wire + pos;
		pos = wire_skip_name(wire, size, pos);
		ck_assert_uint_le(pos + 10, size);
		rr->type = knot_wire_read_u16(wire + pos);
		rr->rclass = knot_wire_read_u16(wire + pos + 2);
		rr->ttl = knot_wire_read_u32(wire + pos + 4);
		rr->rdlen = knot_wire_read_u16(wire + pos + 8);
		rr->rdata = wire + pos + 10;
		pos += 10 + rr->rdlen;
		ck_assert_uint_le(pos, size);
	}
	ck_assert_uint_eq(pos, size); /* Nothing after the last record. */
	return total;
}

/*! \brief Asserts that libknot parses the response wire back. */
static void check_reparse(const knot_pkt_t *pkt, size_t an, size_t ns)
{
	uint8_t *copy = malloc(pkt->size);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, pkt->wire, pkt->size);
	knot_pkt_t *p = knot_pkt_new(copy, pkt->size, NULL);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(knot_pkt_parse(p, 0), KNOT_EOK);
	ck_assert(knot_dname_is_case_equal(knot_pkt_qname(p), qname));
	const knot_pktsection_t *ans = knot_pkt_section(p, KNOT_ANSWER);
	const knot_pktsection_t *auth = knot_pkt_section(p, KNOT_AUTHORITY);
	ck_assert_uint_eq(ans->count, an);
	ck_assert_uint_eq(auth->count, ns);
	for (uint16_t i = 0; i < ans->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(ans, i);
		ck_assert(knot_dname_is_case_equal(rr->owner, qname));
	}
	knot_pkt_free(p);
	free(copy);
}

START_TEST(put_a_order)
{
	make_packets(KNOT_RRTYPE_A, KNOT_WIRE_MAX_PKTSIZE);
	/* Deliberately not sorted. */
	const char *text[] = { "10.0.0.3", "10.0.0.1", "192.168.1.100", "10.0.0.2" };
	tgc_addr_t addrs[4];
	const tgc_addr_t *ptrs[4];
	for (size_t i = 0; i < 4; i++) {
		addrs[i] = A(text[i]);
		ptrs[i] = &addrs[i];
	}
	size_t before = resp->size;
	ck_assert_int_eq(tgc_answer_put(resp, knot_pkt_qname(query), KNOT_RRTYPE_A,
	                                5, ptrs, 4, &mm), KNOT_EOK);
	ck_assert_uint_gt(resp->size, before);
	ck_assert_uint_eq(knot_wire_get_ancount(resp->wire), 4);
	ck_assert_uint_eq(knot_wire_get_nscount(resp->wire), 0);
	ck_assert(!knot_wire_get_tc(resp->wire));
	ck_assert_uint_eq(knot_wire_get_id(resp->wire), 0x1234);

	wire_rr_t rrs[8];
	ck_assert_uint_eq(wire_records(resp->wire, resp->size, rrs, 8), 4);
	for (size_t i = 0; i < 4; i++) {
		/* Owner: a pointer to the question name at offset 12. */
		ck_assert_uint_eq(rrs[i].owner[0], 0xc0);
		ck_assert_uint_eq(rrs[i].owner[1], KNOT_WIRE_HEADER_SIZE);
		ck_assert_uint_eq(rrs[i].type, KNOT_RRTYPE_A);
		ck_assert_uint_eq(rrs[i].rclass, KNOT_CLASS_IN);
		ck_assert_uint_eq(rrs[i].ttl, 5);
		ck_assert_uint_eq(rrs[i].rdlen, 4);
		ck_assert_mem_eq(rrs[i].rdata, addrs[i].bytes, 4);
	}
	/* Each record is 2 (pointer) + 10 + 4 bytes. */
	ck_assert_uint_eq(resp->size - before, 4 * 16);
	check_reparse(resp, 4, 0);
}
END_TEST

START_TEST(put_aaaa_order)
{
	make_packets(KNOT_RRTYPE_AAAA, KNOT_WIRE_MAX_PKTSIZE);
	const char *text[] = { "2001:db8::ff", "2001:db8::2", "fe80::1", "::1",
	                       "2001:db8::1" };
	tgc_addr_t addrs[5];
	const tgc_addr_t *ptrs[5];
	for (size_t i = 0; i < 5; i++) {
		addrs[i] = A(text[i]);
		ptrs[i] = &addrs[i];
	}
	ck_assert_int_eq(tgc_answer_put(resp, knot_pkt_qname(query), KNOT_RRTYPE_AAAA,
	                                3600, ptrs, 5, &mm), KNOT_EOK);
	ck_assert_uint_eq(knot_wire_get_ancount(resp->wire), 5);
	wire_rr_t rrs[8];
	ck_assert_uint_eq(wire_records(resp->wire, resp->size, rrs, 8), 5);
	for (size_t i = 0; i < 5; i++) {
		ck_assert_uint_eq(rrs[i].owner[0], 0xc0);
		ck_assert_uint_eq(rrs[i].owner[1], KNOT_WIRE_HEADER_SIZE);
		ck_assert_uint_eq(rrs[i].type, KNOT_RRTYPE_AAAA);
		ck_assert_uint_eq(rrs[i].ttl, 3600);
		ck_assert_uint_eq(rrs[i].rdlen, 16);
		ck_assert_mem_eq(rrs[i].rdata, addrs[i].bytes, 16);
	}
	check_reparse(resp, 5, 0);

	/* The records live in the memory context, not on our stack. */
	ck_assert_uint_gt(arena.count, 0);
}
END_TEST

START_TEST(put_reject)
{
	make_packets(KNOT_RRTYPE_A, KNOT_WIRE_MAX_PKTSIZE);
	tgc_addr_t v4 = A("10.0.0.1"), v6 = A("2001:db8::1");
	const tgc_addr_t *mixed[2] = { &v4, &v6 };
	const knot_dname_t *owner = knot_pkt_qname(query);
	size_t before = resp->size;

	/* Family does not match the type. */
	ck_assert_int_eq(tgc_answer_put(resp, owner, KNOT_RRTYPE_A, 5, mixed, 2, &mm),
	                 KNOT_EINVAL);
	ck_assert_int_eq(tgc_answer_put(resp, owner, KNOT_RRTYPE_AAAA, 5, mixed, 1, &mm),
	                 KNOT_EINVAL);
	/* Other type, no address, no packet. */
	ck_assert_int_eq(tgc_answer_put(resp, owner, KNOT_RRTYPE_TXT, 5, mixed, 1, &mm),
	                 KNOT_EINVAL);
	ck_assert_int_eq(tgc_answer_put(resp, owner, KNOT_RRTYPE_A, 5, mixed, 0, &mm),
	                 KNOT_EINVAL);
	ck_assert_int_eq(tgc_answer_put(NULL, owner, KNOT_RRTYPE_A, 5, mixed, 1, &mm),
	                 KNOT_EINVAL);
	ck_assert_int_eq(tgc_answer_put(resp, NULL, KNOT_RRTYPE_A, 5, mixed, 1, &mm),
	                 KNOT_EINVAL);
	/* No memory. */
	ck_assert_int_eq(tgc_answer_put(resp, owner, KNOT_RRTYPE_A, 5, mixed, 1, NULL),
	                 KNOT_ENOMEM);
	/* The RRset and its rdata are one allocation. */
	arena.fail_after = arena.count;
	ck_assert_int_eq(tgc_answer_put(resp, owner, KNOT_RRTYPE_A, 5, mixed, 1, &mm),
	                 KNOT_ENOMEM);

	/* Nothing was written. */
	ck_assert_uint_eq(resp->size, before);
	ck_assert_uint_eq(knot_wire_get_ancount(resp->wire), 0);
}
END_TEST

/*! \brief Bytes of header and question of the test query. */
static size_t question_end(void)
{
	return KNOT_WIRE_HEADER_SIZE + knot_dname_size(qname) + 4;
}

START_TEST(put_espace)
{
	tgc_addr_t addrs[40];
	const tgc_addr_t *ptrs[40];
	for (size_t i = 0; i < 40; i++) {
		char text[TGC_ADDR_STRLEN];
		snprintf(text, sizeof(text), "2001:db8::%zx", i + 1);
		addrs[i] = A(text);
		ptrs[i] = &addrs[i];
	}

	/* 40 AAAA (28 bytes each) do not fit 512 bytes. */
	make_packets(KNOT_RRTYPE_AAAA, 512);
	size_t before = resp->size;
	ck_assert_uint_eq(before, question_end());
	ck_assert_int_eq(tgc_answer_put(resp, knot_pkt_qname(query), KNOT_RRTYPE_AAAA,
	                                5, ptrs, 40, &mm), KNOT_ESPACE);
	ck_assert(knot_wire_get_tc(resp->wire));
	ck_assert_uint_eq(knot_wire_get_ancount(resp->wire), 0);
	ck_assert_uint_eq(resp->size, before);
	check_reparse(resp, 0, 0);

	/* The boundary: as many as fit, computed from the wire format. */
	size_t fit = (512 - question_end()) / (2 + 10 + 16);
	make_packets(KNOT_RRTYPE_AAAA, 512);
	ck_assert_int_eq(tgc_answer_put(resp, knot_pkt_qname(query), KNOT_RRTYPE_AAAA,
	                                5, ptrs, fit, &mm), KNOT_EOK);
	ck_assert(!knot_wire_get_tc(resp->wire));
	ck_assert_uint_eq(knot_wire_get_ancount(resp->wire), fit);
	ck_assert_uint_le(resp->size, 512);
	make_packets(KNOT_RRTYPE_AAAA, 512);
	ck_assert_int_eq(tgc_answer_put(resp, knot_pkt_qname(query), KNOT_RRTYPE_AAAA,
	                                5, ptrs, fit + 1, &mm), KNOT_ESPACE);
	ck_assert(knot_wire_get_tc(resp->wire));
	ck_assert_uint_eq(knot_wire_get_ancount(resp->wire), 0);

	/* A records too. */
	tgc_addr_t v4[40];
	const tgc_addr_t *v4p[40];
	for (size_t i = 0; i < 40; i++) {
		ck_assert_int_eq(tgc_addr_add(&(tgc_addr_t){ .family = AF_INET, .len = 4,
		                              .bytes = { 10 } }, i, &v4[i]), KNOT_EOK);
		v4p[i] = &v4[i];
	}
	make_packets(KNOT_RRTYPE_A, 512);
	ck_assert_int_eq(tgc_answer_put(resp, knot_pkt_qname(query), KNOT_RRTYPE_A,
	                                5, v4p, 40, &mm), KNOT_ESPACE);
	ck_assert(knot_wire_get_tc(resp->wire));
	ck_assert_uint_eq(knot_wire_get_ancount(resp->wire), 0);
}
END_TEST

/*! \brief Builds an SOA RRset for "example." with the given TTL and MINIMUM. */
static knot_rrset_t *make_soa(uint32_t ttl, uint32_t minimum)
{
	knot_dname_t *owner = knot_dname_from_str_alloc("example.");
	ck_assert_ptr_nonnull(owner);
	knot_rrset_t *soa = knot_rrset_new(owner, KNOT_RRTYPE_SOA, KNOT_CLASS_IN,
	                                   ttl, NULL);
	free(owner);
	ck_assert_ptr_nonnull(soa);
	uint8_t rd[128];
	size_t len = 0;
	static const uint8_t names[] = "\x02ns\x07" "example" "\x00"
	                               "\x05" "admin" "\x07" "example";
	memcpy(rd, names, sizeof(names)); /* Includes the final zero label. */
	len = sizeof(names);
	const uint32_t nums[5] = { 2024010101, 3600, 600, 86400, minimum };
	for (size_t i = 0; i < 5; i++) {
		knot_wire_write_u32(rd + len, nums[i]);
		len += 4;
	}
	ck_assert_int_eq(knot_rrset_add_rdata(soa, rd, (uint16_t)len, NULL), KNOT_EOK);
	return soa;
}

/*! \brief Asserts the one authority record written for \a soa. */
static void check_soa(uint32_t ttl, uint32_t minimum)
{
	ck_assert_uint_eq(knot_wire_get_ancount(resp->wire), 0);
	ck_assert_uint_eq(knot_wire_get_nscount(resp->wire), 1);
	wire_rr_t rrs[4];
	ck_assert_uint_eq(wire_records(resp->wire, resp->size, rrs, 4), 1);
	ck_assert_uint_eq(rrs[0].type, KNOT_RRTYPE_SOA);
	ck_assert_uint_eq(rrs[0].ttl, ttl);
	ck_assert_uint_ge(rrs[0].rdlen, 20);
	const uint8_t *nums = rrs[0].rdata + rrs[0].rdlen - 20;
	ck_assert_uint_eq(knot_wire_read_u32(nums), 2024010101);
	ck_assert_uint_eq(knot_wire_read_u32(nums + 4), 3600);
	ck_assert_uint_eq(knot_wire_read_u32(nums + 8), 600);
	ck_assert_uint_eq(knot_wire_read_u32(nums + 12), 86400);
	ck_assert_uint_eq(knot_wire_read_u32(nums + 16), minimum);
	check_reparse(resp, 0, 1);
}

START_TEST(put_soa_capped)
{
	knot_rrset_t *soa = make_soa(3600, 1800);
	make_packets(KNOT_RRTYPE_AAAA, KNOT_WIRE_MAX_PKTSIZE);
	ck_assert_int_eq(tgc_answer_put_soa(resp, soa, 5, &mm), KNOT_EOK);
	check_soa(5, 5);
	/* The zone's SOA is not modified. */
	ck_assert_uint_eq(soa->ttl, 3600);
	ck_assert_uint_eq(knot_soa_minimum(soa->rrs.rdata), 1800);
	knot_rrset_free(soa, NULL);
}
END_TEST

START_TEST(put_soa_lower_kept)
{
	/* Values already below the cap are kept, each on its own. */
	knot_rrset_t *soa = make_soa(2, 3);
	make_packets(KNOT_RRTYPE_A, KNOT_WIRE_MAX_PKTSIZE);
	ck_assert_int_eq(tgc_answer_put_soa(resp, soa, 5, &mm), KNOT_EOK);
	check_soa(2, 3);
	knot_rrset_free(soa, NULL);

	soa = make_soa(10, 1);
	make_packets(KNOT_RRTYPE_A, KNOT_WIRE_MAX_PKTSIZE);
	ck_assert_int_eq(tgc_answer_put_soa(resp, soa, 5, &mm), KNOT_EOK);
	check_soa(5, 1);
	knot_rrset_free(soa, NULL);

	soa = make_soa(1, 100);
	make_packets(KNOT_RRTYPE_A, KNOT_WIRE_MAX_PKTSIZE);
	ck_assert_int_eq(tgc_answer_put_soa(resp, soa, 5, &mm), KNOT_EOK);
	check_soa(1, 5);
	knot_rrset_free(soa, NULL);
}
END_TEST

START_TEST(put_soa_edge)
{
	make_packets(KNOT_RRTYPE_A, KNOT_WIRE_MAX_PKTSIZE);
	size_t before = resp->size;

	/* An empty SOA writes nothing. */
	knot_rrset_t empty;
	knot_rrset_init_empty(&empty);
	ck_assert_int_eq(tgc_answer_put_soa(resp, &empty, 5, &mm), KNOT_EOK);
	ck_assert_uint_eq(resp->size, before);
	ck_assert_uint_eq(knot_wire_get_nscount(resp->wire), 0);

	knot_rrset_t *soa = make_soa(3600, 3600);
	ck_assert_int_eq(tgc_answer_put_soa(NULL, soa, 5, &mm), KNOT_EINVAL);
	ck_assert_int_eq(tgc_answer_put_soa(resp, NULL, 5, &mm), KNOT_EINVAL);
	ck_assert_int_eq(tgc_answer_put_soa(resp, soa, 5, NULL), KNOT_ENOMEM);
	ck_assert_uint_eq(resp->size, before);
	ck_assert_uint_eq(knot_wire_get_nscount(resp->wire), 0);
	knot_rrset_free(soa, NULL);
}
END_TEST

/*!
 * \brief Regression (found by tests/fuzz/fuzz_table): SOA rdata that is not
 *        two names and 20 bytes within its length (a translator's cached SOA
 *        comes from the shared segment) is refused, never read past its end
 *        (the rdata is allocated to its exact size: ASan sees an over-read).
 */
START_TEST(put_soa_malformed)
{
	static const struct {
		const char *what;
		const uint8_t *rd;
		uint16_t len;
	} cases[] = {
		{ "empty", (const uint8_t *)"", 0 },
		{ "one label, unterminated", (const uint8_t *)"\x3fns", 3 },
		{ "label past the end", (const uint8_t *)"\x02ns\x00\x7f", 5 },
		{ "names only", (const uint8_t *)"\x02ns\x00\x05" "admin" "\x00", 11 },
		{ "19 number bytes", (const uint8_t *)"\x00\x00"
		  "\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00"
		  "\x00\x04\x00\x00\x00", 21 },
		{ "compression pointer", (const uint8_t *)"\xc0\x0c\x00"
		  "\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00"
		  "\x00\x04\x00\x00\x00\x05", 23 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		knot_dname_t *owner = knot_dname_from_str_alloc("example.");
		knot_rrset_t *soa = knot_rrset_new(owner, KNOT_RRTYPE_SOA,
		                                   KNOT_CLASS_IN, 60, NULL);
		free(owner);
		ck_assert_ptr_nonnull(soa);
		ck_assert_int_eq(knot_rrset_add_rdata(soa, cases[i].rd, cases[i].len,
		                                      NULL), KNOT_EOK);
		make_packets(KNOT_RRTYPE_A, KNOT_WIRE_MAX_PKTSIZE);
		size_t before = resp->size;
		ck_assert_msg(tgc_answer_put_soa(resp, soa, 5, &mm) == KNOT_EMALF,
		              "%s accepted", cases[i].what);
		ck_assert_uint_eq(resp->size, before);
		ck_assert_uint_eq(knot_wire_get_nscount(resp->wire), 0);
		knot_rrset_free(soa, NULL);
	}

	/* The smallest well-formed one (root names, 20 bytes) is written. */
	knot_dname_t *owner = knot_dname_from_str_alloc("example.");
	knot_rrset_t *soa = knot_rrset_new(owner, KNOT_RRTYPE_SOA, KNOT_CLASS_IN,
	                                   60, NULL);
	free(owner);
	uint8_t rd[22] = { 0 };
	knot_wire_write_u32(rd + 18, 3600);
	ck_assert_int_eq(knot_rrset_add_rdata(soa, rd, sizeof(rd), NULL), KNOT_EOK);
	make_packets(KNOT_RRTYPE_A, KNOT_WIRE_MAX_PKTSIZE);
	ck_assert_int_eq(tgc_answer_put_soa(resp, soa, 5, &mm), KNOT_EOK);
	ck_assert_uint_eq(knot_wire_get_nscount(resp->wire), 1);
	knot_rrset_free(soa, NULL);
}
END_TEST

static void add_case(Suite *s, const char *name, const TTest *test,
                     void (*setup)(void), void (*teardown)(void))
{
	TCase *tc = tcase_create(name);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

static Suite *answer_suite(void)
{
	Suite *s = suite_create("answer");
	add_case(s, "select_unknown_is_up", select_unknown_is_up, table_setup, table_teardown);
	add_case(s, "select_health_down", select_health_down, table_setup, table_teardown);
	add_case(s, "select_admin_down", select_admin_down, table_setup, table_teardown);
	add_case(s, "select_admin_up", select_admin_up, table_setup, table_teardown);
	add_case(s, "select_drain", select_drain, table_setup, table_teardown);
	add_case(s, "select_drain_majority", select_drain_majority, table_setup, table_teardown);
	add_case(s, "select_all_down", select_all_down, table_setup, table_teardown);
	add_case(s, "select_backup_tier", select_backup_tier, table_setup, table_teardown);
	add_case(s, "select_family", select_family, table_setup, table_teardown);
	add_case(s, "select_answers_limit", select_answers_limit, table_setup, table_teardown);
	add_case(s, "select_sticky", select_sticky, table_setup, table_teardown);
	add_case(s, "reps_compute", reps_compute, NULL, NULL);
	add_case(s, "select_shared_addr", select_shared_addr, table_setup, table_teardown);
	add_case(s, "select_shared_policies", select_shared_policies, table_setup, table_teardown);
	add_case(s, "put_a_order", put_a_order, pkt_setup, pkt_teardown);
	add_case(s, "put_aaaa_order", put_aaaa_order, pkt_setup, pkt_teardown);
	add_case(s, "put_reject", put_reject, pkt_setup, pkt_teardown);
	add_case(s, "put_espace", put_espace, pkt_setup, pkt_teardown);
	add_case(s, "put_soa_capped", put_soa_capped, pkt_setup, pkt_teardown);
	add_case(s, "put_soa_lower_kept", put_soa_lower_kept, pkt_setup, pkt_teardown);
	add_case(s, "put_soa_edge", put_soa_edge, pkt_setup, pkt_teardown);
	add_case(s, "put_soa_malformed", put_soa_malformed, pkt_setup, pkt_teardown);
	return s;
}

TEST_MAIN(answer)
