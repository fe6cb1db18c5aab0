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
 * Suite "natmap": nat-map rule parsing, most-specific match, prefix mapping
 * with host bits kept, duplicate FROM detection, nat-base checks and base + i
 * arithmetic.
 *
 * The example addresses (10.10.10.x NAT side, 192.168.1.x LAN side) are pure
 * data here: nothing is ever contacted.
 */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libknot/errcode.h>

#include "module/addr.h"
#include "module/natmap.h"
#include "tests/unit/test_main.h"

/*! \brief Parses an address literal that must be valid. */
static tgc_addr_t A(const char *str)
{
	tgc_addr_t a;
	ck_assert_msg(tgc_addr_parse(str, &a) == KNOT_EOK, "bad test address %s", str);
	return a;
}

/*! \brief Formats an address (static buffers, rotating, for messages). */
static const char *T(const tgc_addr_t *a)
{
	static char bufs[4][TGC_ADDR_STRLEN];
	static unsigned n;
	char *buf = bufs[n++ % 4];
	return tgc_addr_format(a, buf, TGC_ADDR_STRLEN);
}

/*! \brief Asserts that \a a is the address \a str. */
#define ck_assert_addr(a, str) do { \
	tgc_addr_t _exp = A(str); \
	ck_assert_msg(tgc_addr_equal(&(a), &_exp), "address %s, expected %s", \
	              T(&(a)), (str)); \
} while (0)

/*! \brief Parses a rule that must be valid. */
static tgc_natmap_rule_t R(const char *str)
{
	tgc_natmap_rule_t r;
	const char *err = NULL;
	int ret = tgc_natmap_rule_parse(str, &r, &err);
	ck_assert_msg(ret == KNOT_EOK, "rule '%s' rejected: %s", str,
	              err ? err : "(no reason)");
	return r;
}

/*! \brief Maps \a in with \a rules; asserts the match and the result. */
static void expect_map(const tgc_natmap_rule_t *rules, size_t count,
                       const char *in, const char *expected)
{
	tgc_addr_t a = A(in), out;
	memset(&out, 0xa5, sizeof(out));
	ck_assert_msg(tgc_natmap_apply(rules, count, &a, &out),
	              "%s matched no rule", in);
	tgc_addr_t exp = A(expected);
	ck_assert_msg(tgc_addr_equal(&out, &exp), "%s mapped to %s, expected %s",
	              in, T(&out), expected);
}

/*! \brief Asserts that no rule maps \a in (and \a out stays untouched). */
static void expect_nomap(const tgc_natmap_rule_t *rules, size_t count,
                         const char *in)
{
	tgc_addr_t a = A(in), out, before;
	memset(&out, 0x5a, sizeof(out));
	before = out;
	ck_assert_msg(!tgc_natmap_apply(rules, count, &a, &out),
	              "%s matched a rule (-> %s)", in, T(&out));
	ck_assert_msg(memcmp(&out, &before, sizeof(out)) == 0,
	              "output written although %s matched no rule", in);
}

/*
 * Rule parsing.
 */

START_TEST(parse_seed_rules)
{
	/* Prefix pair of the example: NAT 10.10.10.0/24 -> LAN 192.168.1.0/24. */
	tgc_natmap_rule_t r = R("10.10.10.0/24=192.168.1.0/24");
	ck_assert_uint_eq(r.prefix, 24);
	ck_assert_addr(r.from, "10.10.10.0");
	ck_assert_addr(r.to, "192.168.1.0");
	ck_assert_int_eq(r.from.family, AF_INET);
	ck_assert_int_eq(r.from.len, 4);

	/* Single address pair (the example's third server): a host rule. */
	r = R("10.10.10.102=192.168.1.103");
	ck_assert_uint_eq(r.prefix, 32);
	ck_assert_addr(r.from, "10.10.10.102");
	ck_assert_addr(r.to, "192.168.1.103");

	/* Explicit /32 is the same as a bare address. */
	tgc_natmap_rule_t r2 = R("10.10.10.102/32=192.168.1.103/32");
	ck_assert_uint_eq(r2.prefix, 32);
	ck_assert(tgc_addr_equal(&r.from, &r2.from));
	ck_assert(tgc_addr_equal(&r.to, &r2.to));

	/* Host bits on either side are not significant. */
	r = R("10.10.10.77/24=192.168.1.200/24");
	ck_assert_addr(r.from, "10.10.10.0");
	ck_assert_addr(r.to, "192.168.1.0");
	r = R("10.10.10.77/20=192.168.31.200/20");
	ck_assert_addr(r.from, "10.10.0.0");
	ck_assert_addr(r.to, "192.168.16.0");
}
END_TEST

START_TEST(parse_ipv6_rules)
{
	tgc_natmap_rule_t r = R("2001:db8:a::/64=fd00:1:2:3::/64");
	ck_assert_uint_eq(r.prefix, 64);
	ck_assert_int_eq(r.from.family, AF_INET6);
	ck_assert_int_eq(r.from.len, 16);
	ck_assert_addr(r.from, "2001:db8:a::");
	ck_assert_addr(r.to, "fd00:1:2:3::");

	r = R("2001:db8::1=fd00::2");
	ck_assert_uint_eq(r.prefix, 128);
	ck_assert_addr(r.from, "2001:db8::1");
	ck_assert_addr(r.to, "fd00::2");

	/* Host bits masked, non-nibble prefix. */
	r = R("2001:db8:a:ffff::1/50=fd00:1:2:ffff::9/50");
	ck_assert_uint_eq(r.prefix, 50);
	ck_assert_addr(r.from, "2001:db8:a:c000::");
	ck_assert_addr(r.to, "fd00:1:2:c000::");

	/* A full-length IPv6 literal (39 characters) on both sides. */
	r = R("2001:0db8:0000:0000:0000:0000:0000:0001/128="
	      "fd00:0000:0000:0000:0000:0000:0000:0002/128");
	ck_assert_addr(r.from, "2001:db8::1");
	ck_assert_addr(r.to, "fd00::2");
}
END_TEST

/*! \brief Rejected rule values and a word the reason must contain. */
static const struct {
	const char *value;
	const char *why;
} bad_rules[] = {
	{ "10.10.10.0/24",                       "FROM=TO" },   /* no '=' */
	{ "10.10.10.102",                        "FROM=TO" },
	{ "",                                    "FROM=TO" },
	{ "10.10.10.0/24=192.168.1.0/24=1.2.3.0/24", "FROM=TO" }, /* two '=' */
	{ "10.10.10.1==192.168.1.1",             "FROM=TO" },
	{ "10.10.10.0/24=2001:db8::/24",         "famil" },     /* mixed families */
	{ "2001:db8::1=192.168.1.1",             "famil" },
	{ "10.10.10.0/24=192.168.1.0/25",        "prefix" },    /* length mismatch */
	{ "10.10.10.0/24=192.168.1.0",           "prefix" },    /* /24 vs /32 */
	{ "10.10.10.102=192.168.1.0/24",         "prefix" },
	{ "2001:db8::/64=fd00::/48",             "prefix" },
	{ "10.10.10.300=192.168.1.1",            "FROM" },      /* bad address */
	{ "10.10.10=192.168.1.1",                "FROM" },
	{ "host.example=192.168.1.1",            "FROM" },
	{ "10.10.10.1=192.168.1.256",            "TO" },
	{ "10.10.10.1=192.168.1.x",              "TO" },
	{ "10.10.10.0/33=192.168.1.0/33",        "FROM" },      /* bad prefix */
	{ "10.10.10.0/-1=192.168.1.0/-1",        "FROM" },
	{ "10.10.10.0/=192.168.1.0/",            "FROM" },
	{ "10.10.10.0/24=192.168.1.0/2a",        "TO" },
	{ "2001:db8::/129=fd00::/129",           "FROM" },
	{ "=192.168.1.1",                        "FROM" },      /* empty side */
	{ "10.10.10.1=",                         "TO" },
	{ "=",                                   "FROM" },
	{ " 10.10.10.1=192.168.1.1",             "FROM" },      /* stray blanks */
	{ "10.10.10.1= 192.168.1.1",             "TO" },
	{ "10.10.10.1@5900=192.168.1.1",         "FROM" },      /* a port */
	/* TO produces only addresses no node may have. */
	{ "10.10.10.1=0.0.0.0",                  "TO" },
	{ "10.10.10.1=255.255.255.255",          "TO" },
	{ "10.10.10.0/24=224.1.2.0/24",          "TO" },
	{ "10.0.0.0/4=224.0.0.0/4",              "TO" },
	{ "2001:db8::1=::",                      "TO" },
	{ "2001:db8::/32=ff02::/32",             "TO" },
};

START_TEST(parse_rejects)
{
	const char *value = bad_rules[_i].value;
	tgc_natmap_rule_t r;
	const char *err = NULL;
	int ret = tgc_natmap_rule_parse(value, &r, &err);
	ck_assert_msg(ret == KNOT_EINVAL, "'%s' accepted (ret %d)", value, ret);
	ck_assert_msg(err != NULL && *err != '\0', "'%s': no reason given", value);
	ck_assert_msg(strstr(err, bad_rules[_i].why) != NULL,
	              "'%s': reason '%s' does not mention '%s'", value, err,
	              bad_rules[_i].why);
}
END_TEST

START_TEST(parse_null_and_long)
{
	tgc_natmap_rule_t r;
	const char *err = NULL;
	ck_assert_int_eq(tgc_natmap_rule_parse(NULL, &r, &err), KNOT_EINVAL);
	ck_assert_ptr_nonnull(err);
	/* A NULL err pointer is allowed. */
	ck_assert_int_eq(tgc_natmap_rule_parse("x", &r, NULL), KNOT_EINVAL);
	ck_assert_int_eq(tgc_natmap_rule_parse("10.0.0.1=10.0.0.2", &r, NULL), KNOT_EOK);

	/* Over-long sides must be rejected, never overrun a buffer. */
	char longv[512];
	memset(longv, '1', sizeof(longv));
	longv[sizeof(longv) - 1] = '\0';
	longv[200] = '=';
	ck_assert_int_eq(tgc_natmap_rule_parse(longv, &r, &err), KNOT_EINVAL);
	char longto[300];
	snprintf(longto, sizeof(longto), "10.0.0.1=%0250d", 1);
	ck_assert_int_eq(tgc_natmap_rule_parse(longto, &r, &err), KNOT_EINVAL);
}
END_TEST

/*
 * Mapping.
 */

START_TEST(match_most_specific)
{
	/* The example: the /24 maps 10.10.10.x onto 192.168.1.x, but server 3
	 * (10.10.10.102) is answered as 192.168.1.103. */
	tgc_natmap_rule_t rules[] = {
		R("10.10.10.0/24=192.168.1.0/24"),
		R("10.10.10.102=192.168.1.103"),
	};
	expect_map(rules, 2, "10.10.10.100", "192.168.1.100");
	expect_map(rules, 2, "10.10.10.101", "192.168.1.101");
	expect_map(rules, 2, "10.10.10.102", "192.168.1.103");

	/* Order of the rules does not matter. */
	tgc_natmap_rule_t rev[] = { rules[1], rules[0] };
	expect_map(rev, 2, "10.10.10.100", "192.168.1.100");
	expect_map(rev, 2, "10.10.10.102", "192.168.1.103");

	/* Three nested levels, shuffled. */
	tgc_natmap_rule_t nested[] = {
		R("10.10.10.128/25=172.16.0.128/25"),
		R("10.0.0.0/8=11.0.0.0/8"),
		R("10.10.10.200=192.0.2.1"),
		R("10.10.0.0/16=192.168.0.0/16"),
	};
	expect_map(nested, 4, "10.1.2.3", "11.1.2.3");
	expect_map(nested, 4, "10.10.10.100", "192.168.10.100");
	expect_map(nested, 4, "10.10.10.129", "172.16.0.129");
	expect_map(nested, 4, "10.10.10.200", "192.0.2.1");
	expect_map(nested, 4, "10.10.200.1", "192.168.200.1");

	/* A /0 rule matches everything of its family, and only that. */
	tgc_natmap_rule_t all[] = { R("0.0.0.0/0=0.0.0.0/0"),
	                            R("10.10.10.102=192.168.1.103") };
	expect_map(all, 2, "203.0.113.7", "203.0.113.7");
	expect_map(all, 2, "10.10.10.102", "192.168.1.103");
	expect_nomap(all, 2, "2001:db8::1");
}
END_TEST

START_TEST(match_none)
{
	tgc_natmap_rule_t rules[] = {
		R("10.10.10.0/24=192.168.1.0/24"),
		R("10.10.10.102=192.168.1.103"),
		R("2001:db8:a::/64=fd00:1:2:3::/64"),
	};
	expect_nomap(rules, 3, "10.10.11.100");
	expect_nomap(rules, 3, "10.10.9.255");
	expect_nomap(rules, 3, "192.168.1.100");  /* a TO network is not a FROM */
	expect_nomap(rules, 3, "2001:db8:b::1");
	/* The IPv4 rules never match an IPv6 address with the same bytes. */
	expect_nomap(rules, 2, "a0a:a64::");
	expect_nomap(rules, 2, "::ffff:10.10.10.100");
	/* No rules at all. */
	expect_nomap(rules, 0, "10.10.10.100");
}
END_TEST

START_TEST(map_host_bits)
{
	/* Byte-aligned /24 and /16. */
	tgc_natmap_rule_t r24[] = { R("10.10.10.0/24=192.168.1.0/24") };
	expect_map(r24, 1, "10.10.10.0", "192.168.1.0");
	expect_map(r24, 1, "10.10.10.255", "192.168.1.255");
	tgc_natmap_rule_t r16[] = { R("10.10.0.0/16=192.168.0.0/16") };
	expect_map(r16, 1, "10.10.254.3", "192.168.254.3");

	/* /20: the boundary is inside the third byte (0xf0 network part). */
	tgc_natmap_rule_t r20[] = { R("10.10.16.0/20=192.168.32.0/20") };
	expect_map(r20, 1, "10.10.16.1", "192.168.32.1");
	expect_map(r20, 1, "10.10.31.254", "192.168.47.254");
	expect_map(r20, 1, "10.10.23.45", "192.168.39.45");
	expect_nomap(r20, 1, "10.10.32.1");
	expect_nomap(r20, 1, "10.10.15.255");
	/* TO with bits set below its prefix: they must not leak into results. */
	tgc_natmap_rule_t r20b[] = { R("10.10.16.0/20=192.168.47.255/20") };
	expect_map(r20b, 1, "10.10.16.1", "192.168.32.1");

	/* /27: 32 addresses, boundary in the last byte. */
	tgc_natmap_rule_t r27[] = { R("10.10.10.96/27=192.168.1.224/27") };
	expect_map(r27, 1, "10.10.10.96", "192.168.1.224");
	expect_map(r27, 1, "10.10.10.100", "192.168.1.228");
	expect_map(r27, 1, "10.10.10.127", "192.168.1.255");
	expect_nomap(r27, 1, "10.10.10.128");
	expect_nomap(r27, 1, "10.10.10.95");

	/* /1 and /31. */
	tgc_natmap_rule_t r1[] = { R("0.0.0.0/1=128.0.0.0/1") };
	expect_map(r1, 1, "10.10.10.100", "138.10.10.100");
	expect_nomap(r1, 1, "192.168.1.1");
	tgc_natmap_rule_t r31[] = { R("10.10.10.100/31=192.168.1.7/31") };
	expect_map(r31, 1, "10.10.10.100", "192.168.1.6");
	expect_map(r31, 1, "10.10.10.101", "192.168.1.7");
	expect_nomap(r31, 1, "10.10.10.102");

	/* IPv6 /64: the interface identifier stays. */
	tgc_natmap_rule_t r64[] = { R("2001:db8:a:b::/64=fd00:1:2:3::/64") };
	expect_map(r64, 1, "2001:db8:a:b::100", "fd00:1:2:3::100");
	expect_map(r64, 1, "2001:db8:a:b:dead:beef:1:2", "fd00:1:2:3:dead:beef:1:2");
	expect_nomap(r64, 1, "2001:db8:a:c::100");
	/* IPv6 /56 and /121 (not byte aligned). */
	tgc_natmap_rule_t r56[] = { R("2001:db8:a:b00::/56=fd00:9:9:9900::/56") };
	expect_map(r56, 1, "2001:db8:a:bcd::1", "fd00:9:9:99cd::1");
	tgc_natmap_rule_t r121[] = { R("2001:db8::80/121=fd00::100/121") };
	expect_map(r121, 1, "2001:db8::85", "fd00::105");
	expect_map(r121, 1, "2001:db8::ff", "fd00::17f");
	expect_nomap(r121, 1, "2001:db8::7f");
}
END_TEST

/*
 * Duplicate FROM.
 */

START_TEST(rules_duplicate_from)
{
	const char *err = NULL;
	size_t bad = 99;

	/* The example's two rules are fine together: different FROM. */
	tgc_natmap_rule_t ok[] = {
		R("10.10.10.0/24=192.168.1.0/24"),
		R("10.10.10.102=192.168.1.103"),
		R("10.10.10.0/25=192.168.2.0/25"),  /* same address, other length */
		R("2001:db8::/64=fd00::/64"),
	};
	ck_assert_int_eq(tgc_natmap_rules_check(ok, 4, &err, &bad), KNOT_EOK);
	ck_assert_int_eq(tgc_natmap_rules_check(ok, 0, &err, &bad), KNOT_EOK);
	ck_assert_int_eq(tgc_natmap_rules_check(ok, 1, NULL, NULL), KNOT_EOK);

	/* Same FROM, different TO: the second one is reported. */
	tgc_natmap_rule_t dup[] = {
		R("10.10.10.0/24=192.168.1.0/24"),
		R("10.10.10.102=192.168.1.103"),
		R("10.10.10.0/24=192.168.7.0/24"),
	};
	err = NULL;
	ck_assert_int_eq(tgc_natmap_rules_check(dup, 3, &err, &bad), KNOT_EINVAL);
	ck_assert_uint_eq(bad, 2);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "FROM") != NULL, "reason '%s'", err);

	/* Same network written with host bits: still the same FROM. */
	tgc_natmap_rule_t masked[] = {
		R("10.10.10.5/24=192.168.1.0/24"),
		R("10.10.10.0/24=192.168.1.0/24"),
	};
	bad = 99;
	ck_assert_int_eq(tgc_natmap_rules_check(masked, 2, &err, &bad), KNOT_EINVAL);
	ck_assert_uint_eq(bad, 1);

	/* Identical single-address rules; IPv6 written two ways. */
	tgc_natmap_rule_t hosts[] = {
		R("10.10.10.102=192.168.1.103"),
		R("2001:db8::1=fd00::1"),
		R("10.10.10.102/32=192.168.1.104"),
	};
	bad = 99;
	ck_assert_int_eq(tgc_natmap_rules_check(hosts, 3, NULL, &bad), KNOT_EINVAL);
	ck_assert_uint_eq(bad, 2);
	tgc_natmap_rule_t six[] = {
		R("2001:db8:0:0::/64=fd00::/64"),
		R("2001:0db8::ffff/64=fd01::/64"),
	};
	ck_assert_int_eq(tgc_natmap_rules_check(six, 2, NULL, NULL), KNOT_EINVAL);
}
END_TEST

/*
 * nat-base.
 */

START_TEST(base_seed)
{
	tgc_addr_t nodes[] = { A("10.10.10.100"), A("10.10.10.101"), A("10.10.10.102") };
	tgc_addr_t base = A("192.168.1.100");
	const char *err = NULL;
	ck_assert_int_eq(tgc_natmap_base_check(&base, nodes, 3, &err), KNOT_EOK);

	/* Node i is answered as base + i. */
	const char *lan[] = { "192.168.1.100", "192.168.1.101", "192.168.1.102" };
	for (size_t i = 0; i < 3; i++) {
		tgc_addr_t out;
		ck_assert_int_eq(tgc_addr_add(&base, i, &out), KNOT_EOK);
		ck_assert_addr(out, lan[i]);
	}

	/* Increment carries over byte boundaries. */
	tgc_addr_t b2 = A("192.168.1.254"), out;
	ck_assert_int_eq(tgc_addr_add(&b2, 2, &out), KNOT_EOK);
	ck_assert_addr(out, "192.168.2.0");
	ck_assert_int_eq(tgc_addr_add(&b2, 0x10000, &out), KNOT_EOK);
	ck_assert_addr(out, "192.169.1.254");
	/* The last address of the space itself is fine. */
	tgc_addr_t b3 = A("255.255.255.253");
	ck_assert_int_eq(tgc_natmap_base_check(&b3, nodes, 3, &err), KNOT_EOK);
	ck_assert_int_eq(tgc_addr_add(&b3, 2, &out), KNOT_EOK);
	ck_assert_addr(out, "255.255.255.255");
	/* No nodes: nothing to check. */
	ck_assert_int_eq(tgc_natmap_base_check(&base, nodes, 0, &err), KNOT_EOK);
}
END_TEST

START_TEST(base_ipv6)
{
	tgc_addr_t nodes[] = { A("2001:db8::100"), A("2001:db8::101"),
	                       A("2001:db8::102") };
	tgc_addr_t base = A("fd00::ff");
	const char *err = NULL;
	ck_assert_int_eq(tgc_natmap_base_check(&base, nodes, 3, &err), KNOT_EOK);
	const char *lan[] = { "fd00::ff", "fd00::100", "fd00::101" };
	for (size_t i = 0; i < 3; i++) {
		tgc_addr_t out;
		ck_assert_int_eq(tgc_addr_add(&base, i, &out), KNOT_EOK);
		ck_assert_addr(out, lan[i]);
	}
	/* Carry through 64-bit halves. */
	tgc_addr_t mid = A("fd00::ffff:ffff:ffff:ffff"), out;
	ck_assert_int_eq(tgc_addr_add(&mid, 1, &out), KNOT_EOK);
	ck_assert_addr(out, "fd00:0:0:1::");
}
END_TEST

START_TEST(base_family_mismatch)
{
	tgc_addr_t nodes4[] = { A("10.10.10.100"), A("10.10.10.101") };
	tgc_addr_t nodes6[] = { A("2001:db8::100"), A("2001:db8::101") };
	tgc_addr_t mixed[] = { A("10.10.10.100"), A("2001:db8::101") };
	tgc_addr_t base4 = A("192.168.1.100"), base6 = A("fd00::100");
	const char *err = NULL;

	ck_assert_int_eq(tgc_natmap_base_check(&base6, nodes4, 2, &err), KNOT_EINVAL);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "famil") != NULL, "reason '%s'", err);
	err = NULL;
	ck_assert_int_eq(tgc_natmap_base_check(&base4, nodes6, 2, &err), KNOT_EINVAL);
	ck_assert_ptr_nonnull(err);
	ck_assert_int_eq(tgc_natmap_base_check(&base4, mixed, 2, &err), KNOT_EINVAL);
	ck_assert_int_eq(tgc_natmap_base_check(&base6, mixed, 2, NULL), KNOT_EINVAL);
}
END_TEST

START_TEST(base_overflow)
{
	tgc_addr_t nodes4[] = { A("10.10.10.100"), A("10.10.10.101"), A("10.10.10.102") };
	tgc_addr_t nodes6[] = { A("2001:db8::100"), A("2001:db8::101"),
	                        A("2001:db8::102") };
	const char *err = NULL;

	/* 255.255.255.254 + 2 does not fit. */
	tgc_addr_t b4 = A("255.255.255.254"), out;
	ck_assert_int_eq(tgc_natmap_base_check(&b4, nodes4, 3, &err), KNOT_ERANGE);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "overflow") != NULL, "reason '%s'", err);
	ck_assert_int_eq(tgc_natmap_base_check(&b4, nodes4, 2, &err), KNOT_EOK);
	ck_assert_int_eq(tgc_addr_add(&b4, 1, &out), KNOT_EOK);
	ck_assert_addr(out, "255.255.255.255");
	memset(&out, 0x77, sizeof(out));
	tgc_addr_t before = out;
	ck_assert_int_eq(tgc_addr_add(&b4, 2, &out), KNOT_ERANGE);
	ck_assert_msg(memcmp(&out, &before, sizeof(out)) == 0,
	              "output written on overflow");

	/* ffff:...:fffe + 2 does not fit. */
	tgc_addr_t b6 = A("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
	err = NULL;
	ck_assert_int_eq(tgc_natmap_base_check(&b6, nodes6, 3, &err), KNOT_ERANGE);
	ck_assert_ptr_nonnull(err);
	ck_assert_int_eq(tgc_natmap_base_check(&b6, nodes6, 2, &err), KNOT_EOK);
	ck_assert_int_eq(tgc_addr_add(&b6, 1, &out), KNOT_EOK);
	ck_assert_addr(out, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	ck_assert_int_eq(tgc_addr_add(&b6, 2, &out), KNOT_ERANGE);

	/* A large count overflows even from a low base; IPv4 does not spill
	 * into the unused bytes of the buffer. */
	tgc_addr_t low = A("0.0.0.1");
	ck_assert_int_eq(tgc_addr_add(&low, 0xffffffffull, &out), KNOT_ERANGE);
	ck_assert_int_eq(tgc_addr_add(&low, 0xfffffffeull, &out), KNOT_EOK);
	ck_assert_addr(out, "255.255.255.255");
	tgc_addr_t low6 = A("::1");
	ck_assert_int_eq(tgc_addr_add(&low6, UINT64_MAX, &out), KNOT_EOK);
	ck_assert_addr(out, "::1:0:0:0:0");
}
END_TEST

/*! \brief Runs tgc_natmap_nodes() with a base (text) or rules (texts). */
static int nodes_map(const char *base, const char *const *rules, size_t rule_count,
                     const tgc_addr_t *nodes, size_t count, tgc_addr_t *mapped,
                     bool *is_mapped, size_t *bad, const char **err)
{
	tgc_natmap_rule_t r[8];
	ck_assert_uint_le(rule_count, 8);
	for (size_t i = 0; i < rule_count; i++) {
		ck_assert_int_eq(tgc_natmap_rule_parse(rules[i], &r[i], NULL), KNOT_EOK);
	}
	tgc_addr_t b;
	if (base != NULL) {
		b = A(base);
	}
	return tgc_natmap_nodes(base ? &b : NULL, r, rule_count, nodes, count,
	                        mapped, is_mapped, bad, err);
}

START_TEST(nodes_base)
{
	tgc_addr_t nodes[3] = { A("10.10.10.100"), A("10.10.10.101"), A("10.10.10.102") };
	tgc_addr_t mapped[3];
	bool is_mapped[3] = { false, false, false };
	size_t bad = 99;
	const char *err = NULL;
	ck_assert_int_eq(nodes_map("192.168.1.100", NULL, 0, nodes, 3, mapped,
	                           is_mapped, &bad, &err), KNOT_EOK);
	ck_assert_addr(mapped[0], "192.168.1.100");
	ck_assert_addr(mapped[2], "192.168.1.102");
	ck_assert(is_mapped[0] && is_mapped[1] && is_mapped[2]);

	/* The base + 2 of three nodes is the broadcast address. */
	ck_assert_int_eq(nodes_map("255.255.255.253", NULL, 0, nodes, 3, mapped,
	                           NULL, &bad, &err), KNOT_EADDRNOTAVAIL);
	ck_assert_uint_eq(bad, 2);
	ck_assert_addr(mapped[2], "255.255.255.255");
	ck_assert_ptr_nonnull(strstr(err, "broadcast"));
	ck_assert_int_eq(nodes_map("255.255.255.253", NULL, 0, nodes, 2, mapped,
	                           NULL, &bad, &err), KNOT_EOK);
	/* Unspecified at index 0, multicast in the middle. */
	ck_assert_int_eq(nodes_map("0.0.0.0", NULL, 0, nodes, 3, mapped, NULL,
	                           &bad, &err), KNOT_EADDRNOTAVAIL);
	ck_assert_uint_eq(bad, 0);
	ck_assert_int_eq(nodes_map("223.255.255.254", NULL, 0, nodes, 3, mapped,
	                           NULL, &bad, &err), KNOT_EADDRNOTAVAIL);
	ck_assert_uint_eq(bad, 2);
	ck_assert_addr(mapped[2], "224.0.0.0");
	/* Overflow and family are reported as by tgc_natmap_base_check(). */
	ck_assert_int_eq(nodes_map("255.255.255.254", NULL, 0, nodes, 3, mapped,
	                           NULL, &bad, &err), KNOT_ERANGE);
	ck_assert_int_eq(nodes_map("fd00::1", NULL, 0, nodes, 3, mapped, NULL,
	                           &bad, &err), KNOT_EINVAL);

	tgc_addr_t nodes6[2] = { A("2001:db8::1"), A("2001:db8::2") };
	ck_assert_int_eq(nodes_map("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL, 0,
	                           nodes6, 2, mapped, NULL, &bad, &err),
	                 KNOT_EADDRNOTAVAIL);
	ck_assert_uint_eq(bad, 1);
	ck_assert_addr(mapped[1], "ff00::");
}
END_TEST

START_TEST(nodes_rules)
{
	tgc_addr_t nodes[4] = { A("10.10.10.0"), A("10.10.10.1"), A("10.10.11.5"),
	                        A("10.10.10.255") };
	tgc_addr_t mapped[4];
	bool is_mapped[4];
	size_t bad = 99;
	const char *err = NULL;
	const char *ok[] = { "10.10.10.0/24=192.168.1.0/24" };
	ck_assert_int_eq(nodes_map(NULL, ok, 1, nodes, 4, mapped, is_mapped, &bad,
	                           &err), KNOT_EOK);
	ck_assert_addr(mapped[1], "192.168.1.1");
	ck_assert(is_mapped[0] && is_mapped[1] && is_mapped[3]);
	/* No rule matches: answered as itself, not mapped. */
	ck_assert(!is_mapped[2]);
	ck_assert_addr(mapped[2], "10.10.11.5");

	/* A rule onto 0.0.0.0/24 answers node .0 as 0.0.0.0. */
	const char *zero[] = { "10.10.10.0/24=0.0.0.0/24" };
	ck_assert_int_eq(nodes_map(NULL, zero, 1, nodes, 4, mapped, NULL, &bad,
	                           &err), KNOT_EADDRNOTAVAIL);
	ck_assert_uint_eq(bad, 0);
	/* .255 onto 255.255.255.0/24 is the broadcast address; the more
	 * specific rule decides. */
	const char *bcast[] = { "10.10.10.0/24=192.168.1.0/24",
	                        "10.10.10.128/25=255.255.255.128/25" };
	ck_assert_int_eq(nodes_map(NULL, bcast, 2, nodes, 4, mapped, NULL, &bad,
	                           &err), KNOT_EADDRNOTAVAIL);
	ck_assert_uint_eq(bad, 3);
	ck_assert_addr(mapped[3], "255.255.255.255");
	ck_assert_int_eq(nodes_map(NULL, bcast, 2, nodes, 3, mapped, NULL, &bad,
	                           &err), KNOT_EOK);
	/* The multicast range from an IPv4 prefix shorter than /4. */
	const char *mc[] = { "10.0.0.0/3=224.0.0.0/3" };
	ck_assert_int_eq(nodes_map(NULL, mc, 1, nodes, 4, mapped, NULL, &bad,
	                           &err), KNOT_EADDRNOTAVAIL);
	ck_assert_uint_eq(bad, 0);
	ck_assert_addr(mapped[0], "234.10.10.0");
}
END_TEST

static Suite *natmap_suite(void)
{
	Suite *s = suite_create("natmap");
	TCase *tc;

#define ADD(name) \
	tc = tcase_create(#name); \
	tcase_add_test(tc, name); \
	suite_add_tcase(s, tc);

	ADD(parse_seed_rules);
	ADD(parse_ipv6_rules);
	tc = tcase_create("parse_rejects");
	tcase_add_loop_test(tc, parse_rejects, 0,
	                    sizeof(bad_rules) / sizeof(bad_rules[0]));
	suite_add_tcase(s, tc);
	ADD(parse_null_and_long);
	ADD(match_most_specific);
	ADD(match_none);
	ADD(map_host_bits);
	ADD(rules_duplicate_from);
	ADD(base_seed);
	ADD(base_ipv6);
	ADD(base_family_mismatch);
	ADD(base_overflow);
	ADD(nodes_base);
	ADD(nodes_rules);
#undef ADD

	return s;
}

TEST_MAIN(natmap)
