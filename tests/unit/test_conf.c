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
 * \brief Unit tests of module/conf.c: `node` values, the timing items, the
 *        NAT items and the check-kind names.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libknot/errcode.h>

#include "tests/unit/test_main.h"
#include "tests/unit/test_util.h"
#include "module/conf.h"
#include "module/health.h"
#include "module/table.h"

/*! rief Parses an address that must be valid. */
#define A(str)	test_addr(str)

/*! \brief Asserts that \a str parses to \a addr and \a port. */
static void check_node(const char *str, const char *addr, uint16_t port)
{
	tgc_node_conf_t node;
	const char *err = NULL;
	memset(&node, 0xaa, sizeof(node));
	ck_assert_msg(tgc_conf_node_parse(str, &node, &err) == KNOT_EOK,
	              "'%s' rejected: %s", str, err ? err : "(no reason)");
	tgc_addr_t want = A(addr);
	ck_assert_msg(tgc_addr_equal(&node.addr, &want), "'%s': wrong address", str);
	ck_assert_msg(node.port == port, "'%s': port %u, want %u", str, node.port, port);
}

START_TEST(node_parse_ok)
{
	check_node("10.10.10.100", "10.10.10.100", 0);
	check_node("10.10.10.100@5901", "10.10.10.100", 5901);
	check_node("::1@5901", "::1", 5901);
	check_node("fe80::1", "fe80::1", 0);
	check_node("2001:db8::ffff:1@22", "2001:db8::ffff:1", 22);
	check_node("1.2.3.4@1", "1.2.3.4", 1);
	check_node("1.2.3.4@65535", "1.2.3.4", 65535);
	check_node("feff:ffff:ffff:ffff:ffff:ffff:255.255.255.255@65535",
	           "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
	check_node("223.255.255.255", "223.255.255.255", 0);
	check_node("240.0.0.1", "240.0.0.1", 0);
	check_node("0.0.0.1", "0.0.0.1", 0);

	/* The reason is optional. */
	tgc_node_conf_t node;
	ck_assert_int_eq(tgc_conf_node_parse("10.0.0.1@80", &node, NULL), KNOT_EOK);
	ck_assert_uint_eq(node.port, 80);
}
END_TEST

START_TEST(node_parse_reject)
{
	static const char *bad[] = {
		"", "foo", "localhost", "/run/knot/sock", "10.10.10.100@",
		"@5900", "@65536", "@05900", "1.2.3.4@0", "1.2.3.4@00",
		"1.2.3.4@05900", "1.2.3.4@65536", "1.2.3.4@99999",
		"1.2.3.4@100000", "1.2.3.4@4294967297", "1.2.3.4@12ab",
		"1.2.3.4@-1", "1.2.3.4@+80", "1.2.3.4@ 80", "1.2.3.4@80 ",
		"1.2.3.4@80@81", "1.2.3.4:5900", "[::1]@5900", "[::1]:5900",
		"10.0.0.0/24", "10.0.0.0/24@5900", "1.2.3", " 1.2.3.4", "1.2.3.4 ",
		"fe80::1%lo", "fe80::1%lo@5900", "foo@5900",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999@1",
		/* Parse, but can be neither probed nor answered usefully. */
		"0.0.0.0", "0.0.0.0@5900", "::", "::@5900", "224.0.0.1",
		"239.255.255.255", "255.255.255.255", "ff02::1", "ff00::@80",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tgc_node_conf_t node;
		const char *err = NULL;
		ck_assert_msg(tgc_conf_node_parse(bad[i], &node, &err) == KNOT_EINVAL,
		              "'%s' accepted", bad[i]);
		ck_assert_msg(err != NULL && *err != '\0', "'%s': no reason", bad[i]);
		ck_assert_int_eq(tgc_conf_node_parse(bad[i], &node, NULL), KNOT_EINVAL);
	}
	tgc_node_conf_t node;
	const char *err = NULL;
	ck_assert_int_eq(tgc_conf_node_parse(NULL, &node, &err), KNOT_EINVAL);
	ck_assert_ptr_nonnull(err);
	ck_assert_int_eq(tgc_conf_node_parse("1.2.3.4", NULL, &err), KNOT_EINVAL);
}
END_TEST

START_TEST(nodes_parse_ok)
{
	const char *vals[] = {
		"10.10.10.100", "10.10.10.101@5901", "10.10.10.101", "::1",
		"::1@5901", "10.10.10.102@5900", "10.10.10.102@5901",
	};
	size_t n = sizeof(vals) / sizeof(vals[0]);
	tgc_node_conf_t out[7];
	const char *err = NULL;
	size_t bad = 12345;
	ck_assert_int_eq(tgc_conf_nodes_parse(vals, n, 5900, out, &err, &bad), KNOT_EOK);
	/* Parsed in configuration order. */
	for (size_t i = 0; i < n; i++) {
		tgc_node_conf_t one;
		ck_assert_int_eq(tgc_conf_node_parse(vals[i], &one, NULL), KNOT_EOK);
		ck_assert(tgc_addr_equal(&out[i].addr, &one.addr));
		ck_assert_uint_eq(out[i].port, one.port);
	}
	ck_assert_uint_eq(out[1].port, 5901);
	ck_assert_uint_eq(out[2].port, 0);

	/* Without output array, without reason and index. */
	ck_assert_int_eq(tgc_conf_nodes_parse(vals, n, 5900, NULL, NULL, NULL), KNOT_EOK);
	/* No node at all. */
	ck_assert_int_eq(tgc_conf_nodes_parse(vals, 0, 5900, NULL, &err, &bad), KNOT_EOK);
}
END_TEST

/*! \brief Asserts that \a vals are refused as a duplicate at index \a want_bad. */
static void check_dup(const char *const *vals, size_t n, uint16_t check_port,
                      size_t want_bad)
{
	const char *err = NULL;
	size_t bad = 12345;
	tgc_node_conf_t out[8];
	ck_assert_int_eq(tgc_conf_nodes_parse(vals, n, check_port, out, &err, &bad),
	                 KNOT_EINVAL);
	ck_assert_uint_eq(bad, want_bad);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "duplicate") != NULL, "reason '%s'", err);
	/* Same outcome without an output array. */
	bad = 12345;
	ck_assert_int_eq(tgc_conf_nodes_parse(vals, n, check_port, NULL, &err, &bad),
	                 KNOT_EINVAL);
	ck_assert_uint_eq(bad, want_bad);
}

/*! \brief Asserts that \a vals are accepted. */
static void check_no_dup(const char *const *vals, size_t n, uint16_t check_port)
{
	const char *err = NULL;
	size_t bad = 0;
	ck_assert_msg(tgc_conf_nodes_parse(vals, n, check_port, NULL, &err, &bad) == KNOT_EOK,
	              "refused: %s at %zu", err ? err : "?", bad);
}

START_TEST(nodes_parse_duplicates)
{
	/* Same address, both implicit port. */
	const char *d1[] = { "10.10.10.100", "10.10.10.101", "10.10.10.100" };
	check_dup(d1, 3, 5900, 2);
	/* Same address and explicit port. */
	const char *d2[] = { "10.10.10.100@5901", "10.10.10.100@5901" };
	check_dup(d2, 2, 5900, 1);
	/* An explicit port equal to check-port is the implicit one. */
	const char *d3[] = { "10.10.10.100@5900", "10.10.10.101", "10.10.10.100" };
	check_dup(d3, 3, 5900, 2);
	const char *d4[] = { "10.10.10.100", "10.10.10.100@5900" };
	check_dup(d4, 2, 5900, 1);
	const char *d5[] = { "10.10.10.100", "10.10.10.100@7000" };
	check_dup(d5, 2, 7000, 1);
	/* Two texts of one IPv6 address. */
	const char *d6[] = { "::1", "fe80::1", "FE80:0::0:1" };
	check_dup(d6, 3, 5900, 2);
	/* The first duplicate is reported. */
	const char *d7[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.2",
	                     "10.0.0.1" };
	check_dup(d7, 5, 5900, 3);

	/* Different ports are different nodes. */
	const char *o1[] = { "10.10.10.100", "10.10.10.100@5901" };
	check_no_dup(o1, 2, 5900);
	const char *o2[] = { "10.10.10.100@5901", "10.10.10.100@5902" };
	check_no_dup(o2, 2, 5900);
	const char *o3[] = { "10.10.10.100@5900", "10.10.10.100" };
	check_no_dup(o3, 2, 5901);
	/* Same bytes, other family. */
	const char *o4[] = { "1.2.3.4", "102:304::" };
	check_no_dup(o4, 2, 5900);
}
END_TEST

START_TEST(nodes_parse_malformed)
{
	const char *vals[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3@0", "10.0.0.4" };
	const char *err = NULL;
	size_t bad = 12345;
	ck_assert_int_eq(tgc_conf_nodes_parse(vals, 4, 5900, NULL, &err, &bad),
	                 KNOT_EINVAL);
	ck_assert_uint_eq(bad, 2);
	ck_assert_ptr_nonnull(err);

	const char *first[] = { "foo", "10.0.0.1" };
	bad = 12345;
	ck_assert_int_eq(tgc_conf_nodes_parse(first, 2, 5900, NULL, &err, &bad),
	                 KNOT_EINVAL);
	ck_assert_uint_eq(bad, 0);
}
END_TEST

START_TEST(nodes_parse_too_many)
{
	size_t max = TGC_CONF_NODES_MAX;
	char (*text)[24] = calloc(max + 1, sizeof(*text));
	const char **vals = calloc(max + 1, sizeof(*vals));
	ck_assert_ptr_nonnull(text);
	ck_assert_ptr_nonnull(vals);
	for (size_t i = 0; i <= max; i++) {
		snprintf(text[i], sizeof(text[i]), "10.%zu.%zu.%zu",
		         (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
		vals[i] = text[i];
	}

	const char *err = NULL;
	size_t bad = 0;
	ck_assert_int_eq(tgc_conf_nodes_parse(vals, max + 1, 5900, NULL, &err, &bad),
	                 KNOT_ERANGE);
	ck_assert_str_eq(err, "too many nodes (max 1200)");
	ck_assert_uint_eq(bad, max);

	/* Exactly the maximum is fine. */
	ck_assert_int_eq(tgc_conf_nodes_parse(vals, max, 5900, NULL, &err, &bad),
	                 KNOT_EOK);

	free(vals);
	free(text);
}
END_TEST

START_TEST(timing_check)
{
	const char *err = NULL;
	const tgc_conf_timing_t C = TGC_CONF_TIMING_CHECK;
	ck_assert_int_eq(tgc_conf_timing_check(C, 1000, 500, &err), KNOT_EOK);
	ck_assert_int_eq(tgc_conf_timing_check(C, 1000, 999, &err), KNOT_EOK);
	ck_assert_int_eq(tgc_conf_timing_check(C, 2, 1, NULL), KNOT_EOK);

	err = NULL;
	ck_assert_int_eq(tgc_conf_timing_check(C, 1000, 1000, &err), KNOT_EINVAL);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "check-timeout") != NULL, "reason '%s'", err);
	ck_assert_msg(strstr(err, "check-interval") != NULL, "reason '%s'", err);
	err = NULL;
	ck_assert_int_eq(tgc_conf_timing_check(C, 500, 1000, &err), KNOT_EINVAL);
	ck_assert_ptr_nonnull(err);
	ck_assert_int_eq(tgc_conf_timing_check(C, 1000, 1001, NULL), KNOT_EINVAL);
}
END_TEST

START_TEST(timing_check_upstream)
{
	const char *err = NULL;
	const tgc_conf_timing_t U = TGC_CONF_TIMING_UPSTREAM;
	ck_assert_int_eq(tgc_conf_timing_check(U, 1000, 999, &err), KNOT_EOK);
	ck_assert_int_eq(tgc_conf_timing_check(U, 500, 500, &err), KNOT_EINVAL);
	ck_assert_str_eq(err, "'upstream-timeout' must be below 'upstream-interval'");
}
END_TEST

START_TEST(check_kind_names)
{
	static const struct { uint32_t kind; const char *name; } want[] = {
		{ TGC_CHECK_TCP, "tcp" }, { TGC_CHECK_RFB, "rfb" },
		{ TGC_CHECK_NONE, "none" }, { TGC_CHECK_HTTP, "http" },
		{ TGC_CHECK_HTTPS, "https" }, { TGC_CHECK_TLS, "tls" },
	};
	size_t n = 0;
	for (const knot_lookup_t *k = tgc_conf_check_kinds; k->name != NULL; k++) {
		n++;
	}
	ck_assert_uint_eq(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(tgc_conf_check_str(want[i].kind), want[i].name);
	}
	ck_assert_str_eq(tgc_conf_check_str(99), "invalid");
	ck_assert_str_eq(tgc_conf_check_str(UINT32_MAX), "invalid");
}
END_TEST

/*! \brief Parses \a nodes (addresses) and the NAT items; returns the code
 *         and leaves the result in \a nat and the reason in \a msg. */
static int nat_parse(tgc_conf_nat_t *nat, const char *base,
                     const char *const *maps, size_t map_count,
                     size_t client_count, const char *const *nodes,
                     size_t node_count, char *msg, size_t msg_len)
{
	tgc_node_conf_t parsed[8];
	ck_assert_uint_le(node_count, 8);
	ck_assert_int_eq(tgc_conf_nodes_parse(nodes, node_count, 5900, parsed,
	                                      NULL, NULL), KNOT_EOK);
	tgc_conf_nat_text_t text = {
		.base = base, .maps = maps, .map_count = map_count,
		.client_count = client_count,
	};
	msg[0] = '\0';
	return tgc_conf_nat_parse(nat, &text, parsed, node_count, msg, msg_len);
}

START_TEST(nat_parse_ok)
{
	static const char *const nodes[] = { "10.0.0.1", "10.0.0.2", "10.0.1.7" };
	static const char *const maps[] = { "10.0.0.0/24=192.168.1.0/24" };
	char msg[256];
	tgc_conf_nat_t nat;

	ck_assert_int_eq(nat_parse(&nat, "192.168.9.10", NULL, 0, 2, nodes, 3,
	                           msg, sizeof(msg)), KNOT_EOK);
	ck_assert(nat.has_base);
	tgc_addr_t want = A("192.168.9.12");
	ck_assert(tgc_addr_equal(&nat.mapped[2], &want));
	ck_assert(nat.is_mapped[0] && nat.is_mapped[2]);
	tgc_conf_nat_deinit(&nat);

	ck_assert_int_eq(nat_parse(&nat, NULL, maps, 1, 0, nodes, 3, msg,
	                           sizeof(msg)), KNOT_EOK);
	ck_assert_uint_eq(nat.rule_count, 1);
	want = A("192.168.1.2");
	ck_assert(tgc_addr_equal(&nat.mapped[1], &want));
	want = A("10.0.1.7");
	ck_assert(tgc_addr_equal(&nat.mapped[2], &want));
	ck_assert(nat.is_mapped[1] && !nat.is_mapped[2]);
	tgc_conf_nat_deinit(&nat);

	/* A translator: rules without nodes, nothing mapped. */
	ck_assert_int_eq(nat_parse(&nat, NULL, maps, 1, 1, NULL, 0, msg,
	                           sizeof(msg)), KNOT_EOK);
	ck_assert_ptr_null(nat.mapped);
	ck_assert_uint_eq(nat.rule_count, 1);
	tgc_conf_nat_deinit(&nat);

	/* No NAT items at all. */
	ck_assert_int_eq(nat_parse(&nat, NULL, NULL, 0, 0, nodes, 3, msg,
	                           sizeof(msg)), KNOT_EOK);
	ck_assert_ptr_null(nat.mapped);
	tgc_conf_nat_deinit(&nat);
}
END_TEST

/*! \brief Asserts that the NAT items fail with a reason holding \a words. */
static void nat_reject(const char *base, const char *const *maps,
                       size_t map_count, size_t client_count,
                       const char *const *nodes, size_t node_count,
                       const char *w1, const char *w2)
{
	char msg[256];
	tgc_conf_nat_t nat;
	int ret = nat_parse(&nat, base, maps, map_count, client_count, nodes,
	                    node_count, msg, sizeof(msg));
	tgc_conf_nat_deinit(&nat);
	ck_assert_int_ne(ret, KNOT_EOK);
	ck_assert_msg(strstr(msg, w1) != NULL, "'%s' lacks '%s'", msg, w1);
	ck_assert_msg(w2 == NULL || strstr(msg, w2) != NULL, "'%s' lacks '%s'",
	              msg, w2);
}

START_TEST(nat_parse_reject)
{
	static const char *const nodes[] = { "10.0.0.1", "10.0.0.2" };
	static const char *const v6[] = { "::1", "::2" };
	static const char *const map_ok[] = { "10.0.0.0/24=192.168.1.0/24" };
	static const char *const map_bad[] = { "10.0.0.0/24" };
	static const char *const map_dup[] = { "10.0.0.0/24=192.168.1.0/24",
	                                       "10.0.0.5/24=192.168.2.0/24" };
	static const char *const map_mc[] = { "10.0.0.0/24=239.1.1.0/24" };

	nat_reject("10.0.0.1/24", NULL, 0, 0, nodes, 2, "'nat-base'",
	           "10.0.0.1/24");
	nat_reject(NULL, map_bad, 1, 0, nodes, 2, "'nat-map'", "10.0.0.0/24");
	nat_reject(NULL, map_dup, 2, 0, nodes, 2, "'nat-map'",
	           "10.0.0.5/24=192.168.2.0/24");
	nat_reject(NULL, map_mc, 1, 0, nodes, 2, "'nat-map'",
	           "10.0.0.0/24=239.1.1.0/24");
	nat_reject("192.168.1.1", map_ok, 1, 0, nodes, 2, "'nat-base'",
	           "'nat-map'");
	nat_reject(NULL, NULL, 0, 1, nodes, 2, "'nat-client'", NULL);
	nat_reject("255.255.255.255", NULL, 0, 0, nodes, 2, "'nat-base'",
	           "255.255.255.255");
	nat_reject("192.168.1.1", NULL, 0, 0, v6, 2, "'nat-base'", NULL);
}
END_TEST

static Suite *conf_suite(void)
{
	Suite *s = suite_create("conf");
	test_add_case(s, "node_parse_ok", node_parse_ok, 120);
	test_add_case(s, "node_parse_reject", node_parse_reject, 120);
	test_add_case(s, "nodes_parse_ok", nodes_parse_ok, 120);
	test_add_case(s, "nodes_parse_duplicates", nodes_parse_duplicates, 120);
	test_add_case(s, "nodes_parse_malformed", nodes_parse_malformed, 120);
	test_add_case(s, "nodes_parse_too_many", nodes_parse_too_many, 120);
	test_add_case(s, "timing_check", timing_check, 120);
	test_add_case(s, "timing_check_upstream", timing_check_upstream, 120);
	test_add_case(s, "check_kind_names", check_kind_names, 120);
	test_add_case(s, "nat_parse_ok", nat_parse_ok, 120);
	test_add_case(s, "nat_parse_reject", nat_parse_reject, 120);
	return s;
}

TEST_MAIN(conf)
