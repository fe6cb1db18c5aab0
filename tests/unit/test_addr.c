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
 * \brief Unit tests of module/addr.c: parsing, formatting and arithmetic of
 *        IPv4/IPv6 addresses.
 */

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <libknot/errcode.h>

#include "tests/unit/test_main.h"
#include "tests/unit/test_util.h"
#include "module/addr.h"

/*! rief Parses an address that must be valid. */
#define A(str)	test_addr(str)

/*! \brief Builds an IPv4 address from a host-order integer (test oracle). */
static tgc_addr_t v4_from_u32(uint32_t v)
{
	tgc_addr_t a;
	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	a.len = 4;
	uint32_t n = htonl(v);
	memcpy(a.bytes, &n, 4);
	return a;
}

/*! \brief Host-order integer of an IPv4 address (test oracle). */
static uint32_t v4_to_u32(const tgc_addr_t *a)
{
	uint32_t n;
	memcpy(&n, a->bytes, 4);
	return ntohl(n);
}

typedef unsigned __int128 u128;

static tgc_addr_t v6_from_u128(u128 v)
{
	tgc_addr_t a;
	memset(&a, 0, sizeof(a));
	a.family = AF_INET6;
	a.len = 16;
	for (int i = 15; i >= 0; i--) {
		a.bytes[i] = (uint8_t)v;
		v >>= 8;
	}
	return a;
}

static u128 v6_to_u128(const tgc_addr_t *a)
{
	u128 v = 0;
	for (int i = 0; i < 16; i++) {
		v = (v << 8) | a->bytes[i];
	}
	return v;
}

/*! \brief Asserts \a str + \a n == \a expect (all as text). */
static void check_add(const char *str, uint64_t n, const char *expect)
{
	tgc_addr_t base = A(str), want = A(expect), out;
	memset(&out, 0xaa, sizeof(out));
	int ret = tgc_addr_add(&base, n, &out);
	ck_assert_msg(ret == KNOT_EOK, "%s + %llu: ret %d", str,
	              (unsigned long long)n, ret);
	char buf[TGC_ADDR_STRLEN];
	ck_assert_msg(tgc_addr_equal(&out, &want), "%s + %llu = %s, want %s", str,
	              (unsigned long long)n, tgc_addr_format(&out, buf, sizeof(buf)),
	              expect);
	ck_assert_int_eq(out.family, want.family);
	ck_assert_int_eq(out.len, want.len);
}

/*! \brief Asserts \a str + \a n overflows. */
static void check_add_range(const char *str, uint64_t n)
{
	tgc_addr_t base = A(str), out;
	ck_assert_msg(tgc_addr_add(&base, n, &out) == KNOT_ERANGE,
	              "%s + %llu should overflow", str, (unsigned long long)n);
}

START_TEST(parse_ipv4)
{
	tgc_addr_t a;
	memset(&a, 0xaa, sizeof(a));
	ck_assert_int_eq(tgc_addr_parse("10.10.10.100", &a), KNOT_EOK);
	ck_assert_int_eq(a.family, AF_INET);
	ck_assert_int_eq(a.len, 4);
	const uint8_t want[16] = { 10, 10, 10, 100 };
	ck_assert_mem_eq(a.bytes, want, 16); /* The unused tail is zeroed. */

	ck_assert_int_eq(tgc_addr_parse("0.0.0.0", &a), KNOT_EOK);
	ck_assert_int_eq(a.family, AF_INET);
	const uint8_t zero[16] = { 0 };
	ck_assert_mem_eq(a.bytes, zero, 16);

	ck_assert_int_eq(tgc_addr_parse("255.255.255.255", &a), KNOT_EOK);
	const uint8_t ones[4] = { 255, 255, 255, 255 };
	ck_assert_mem_eq(a.bytes, ones, 4);
}
END_TEST

START_TEST(parse_ipv6)
{
	tgc_addr_t a;
	ck_assert_int_eq(tgc_addr_parse("::1", &a), KNOT_EOK);
	ck_assert_int_eq(a.family, AF_INET6);
	ck_assert_int_eq(a.len, 16);
	uint8_t want[16] = { 0 };
	want[15] = 1;
	ck_assert_mem_eq(a.bytes, want, 16);

	ck_assert_int_eq(tgc_addr_parse("fe80::1", &a), KNOT_EOK);
	ck_assert_int_eq(a.family, AF_INET6);
	memset(want, 0, sizeof(want));
	want[0] = 0xfe; want[1] = 0x80; want[15] = 1;
	ck_assert_mem_eq(a.bytes, want, 16);

	ck_assert_int_eq(tgc_addr_parse("2001:DB8:0:0:0:0:0:ffff", &a), KNOT_EOK);
	memset(want, 0, sizeof(want));
	want[0] = 0x20; want[1] = 0x01; want[2] = 0x0d; want[3] = 0xb8;
	want[14] = 0xff; want[15] = 0xff;
	ck_assert_mem_eq(a.bytes, want, 16);

	/* IPv4-mapped is IPv6. */
	ck_assert_int_eq(tgc_addr_parse("::ffff:10.1.2.3", &a), KNOT_EOK);
	ck_assert_int_eq(a.family, AF_INET6);
	ck_assert_int_eq(a.bytes[10], 0xff);
	ck_assert_int_eq(a.bytes[12], 10);
	ck_assert_int_eq(a.bytes[15], 3);

	ck_assert_int_eq(tgc_addr_parse("::", &a), KNOT_EOK);
	ck_assert_int_eq(a.family, AF_INET6);
}
END_TEST

START_TEST(parse_reject)
{
	static const char *bad[] = {
		"", "foo", "localhost", "1.2.3", "1.2.3.4/24", "1.2.3.4.5",
		"256.1.1.1", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4@53", "1.2.3.4:53",
		"::1::2", "fe80::1%lo", "[::1]", "::1/128", "12345::", "/tmp/sock",
		"1.2.3.-4", "0x01020304",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tgc_addr_t a;
		ck_assert_msg(tgc_addr_parse(bad[i], &a) == KNOT_EINVAL,
		              "'%s' accepted", bad[i]);
	}
	tgc_addr_t a;
	ck_assert_int_eq(tgc_addr_parse(NULL, &a), KNOT_EINVAL);
	ck_assert_int_eq(tgc_addr_parse("1.2.3.4", NULL), KNOT_EINVAL);
}
END_TEST

START_TEST(parse_prefix)
{
	static const struct {
		const char *text;
		int family;
		unsigned prefix;
	} good[] = {
		{ "10.0.0.0/8", AF_INET, 8 },
		{ "10.1.2.3", AF_INET, 32 },
		{ "0.0.0.0/0", AF_INET, 0 },
		{ "1.2.3.4/0", AF_INET, 0 },
		{ "1.2.3.4/32", AF_INET, 32 },
		{ "192.168.1.0/27", AF_INET, 27 },
		{ "::/0", AF_INET6, 0 },
		{ "::1", AF_INET6, 128 },
		{ "::1/128", AF_INET6, 128 },
		{ "2001:db8::/33", AF_INET6, 33 },
		{ "1111:2222:3333:4444:5555:6666:7777:8888/100", AF_INET6, 100 },
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		tgc_addr_t a;
		unsigned prefix = 999;
		ck_assert_msg(tgc_addr_parse_prefix(good[i].text, &a, &prefix) == KNOT_EOK,
		              "'%s' rejected", good[i].text);
		ck_assert_int_eq(a.family, good[i].family);
		ck_assert_uint_eq(prefix, good[i].prefix);
	}
	/* The address part is parsed as such. */
	tgc_addr_t a, b = A("192.168.1.0");
	unsigned prefix;
	ck_assert_int_eq(tgc_addr_parse_prefix("192.168.1.0/24", &a, &prefix), KNOT_EOK);
	ck_assert(tgc_addr_equal(&a, &b));

	static const char *bad[] = {
		"", "/", "/24", "1.2.3.4/", "1.2.3.4/33", "1.2.3.4/100",
		"::1/129", "::/1000", "1.2.3.4/024", "1.2.3.4/00", "::/0128",
		"1.2.3.4/-1", "1.2.3.4/+8", "1.2.3.4/ 8", "1.2.3.4/8 ", "1.2.3.4/2a",
		"1.2.3.4/8/8", "foo/8", "1.2.3/24", "1.2.3.4 /8",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb/64",
		"1.2.3.4/99999999999999999999",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(tgc_addr_parse_prefix(bad[i], &a, &prefix) == KNOT_EINVAL,
		              "'%s' accepted", bad[i]);
	}
	ck_assert_int_eq(tgc_addr_parse_prefix(NULL, &a, &prefix), KNOT_EINVAL);
	ck_assert_int_eq(tgc_addr_parse_prefix("1.2.3.4/8", &a, NULL), KNOT_EINVAL);
}
END_TEST

START_TEST(format)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "10.10.10.100", "10.10.10.100" },
		{ "0.0.0.0", "0.0.0.0" },
		{ "fe80::1", "fe80::1" },
		{ "2001:DB8:0:0:0:0:0:1", "2001:db8::1" },
		{ "::", "::" },
	};
	char buf[TGC_ADDR_STRLEN];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tgc_addr_t a = A(cases[i].in);
		ck_assert_ptr_eq(tgc_addr_format(&a, buf, sizeof(buf)), buf);
		ck_assert_str_eq(buf, cases[i].out);
	}
	/* The longest IPv6 text fits TGC_ADDR_STRLEN. */
	tgc_addr_t a = A("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
	tgc_addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");

	/* Unset address and too small a buffer. */
	tgc_addr_t unset;
	memset(&unset, 0, sizeof(unset));
	ck_assert_str_eq(tgc_addr_format(&unset, buf, sizeof(buf)), "?");
	ck_assert_str_eq(tgc_addr_format(NULL, buf, sizeof(buf)), "?");
	a = A("10.10.10.100");
	char small[4];
	ck_assert_str_eq(tgc_addr_format(&a, small, sizeof(small)), "?");
	ck_assert_str_eq(tgc_addr_format(&a, buf, 0), "");
	ck_assert_str_eq(tgc_addr_format(&a, NULL, 10), "");
}
END_TEST

START_TEST(equal)
{
	tgc_addr_t a = A("10.0.0.1"), b = A("10.0.0.1"), c = A("10.0.0.2");
	ck_assert(tgc_addr_equal(&a, &b));
	ck_assert(!tgc_addr_equal(&a, &c));
	ck_assert(!tgc_addr_equal(&c, &a));

	/* Same leading bytes, other family. */
	tgc_addr_t v4 = A("1.2.3.4"), v6 = A("102:304::");
	ck_assert_mem_eq(v4.bytes, v6.bytes, 4);
	ck_assert(!tgc_addr_equal(&v4, &v6));
	ck_assert(!tgc_addr_equal(&v6, &v4));

	/* IPv6 texts of one address. */
	tgc_addr_t x = A("fe80::1"), y = A("FE80:0:0::0:1"), z = A("fe80::2");
	ck_assert(tgc_addr_equal(&x, &y));
	ck_assert(!tgc_addr_equal(&x, &z));

	/* Differ in the last byte only. */
	tgc_addr_t p = A("2001:db8::1:0"), q = A("2001:db8::1:1");
	ck_assert(!tgc_addr_equal(&p, &q));
}
END_TEST

START_TEST(usable)
{
	static const char *yes[] = {
		"10.0.0.1", "0.0.0.1", "223.255.255.255", "240.0.0.1",
		"255.255.255.254", "127.0.0.1", "::1", "fe80::1", "feff::",
		"2001:db8::",
	};
	static const char *no[] = {
		"0.0.0.0", "255.255.255.255", "224.0.0.0", "239.255.255.255",
		"::", "ff02::1", "ff00::",
	};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		tgc_addr_t a = A(yes[i]);
		ck_assert_msg(tgc_addr_usable(&a), "%s refused", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		tgc_addr_t a = A(no[i]);
		ck_assert_msg(!tgc_addr_usable(&a), "%s accepted", no[i]);
	}
	tgc_addr_t unset;
	memset(&unset, 0, sizeof(unset));
	ck_assert(!tgc_addr_usable(&unset));
}
END_TEST

START_TEST(add_ipv4)
{
	check_add("10.10.10.100", 0, "10.10.10.100");
	check_add("10.10.10.100", 2, "10.10.10.102");
	check_add("192.168.1.255", 1, "192.168.2.0");
	check_add("192.168.1.100", 156, "192.168.2.0");
	check_add("10.255.255.255", 1, "11.0.0.0");
	check_add("1.2.3.4", 0x01010101, "2.3.4.5");
	check_add("1.2.3.4", 256, "1.2.4.4");
	check_add("0.0.0.0", 0xffffffffULL, "255.255.255.255");
	check_add("255.255.255.254", 1, "255.255.255.255");
	check_add_range("255.255.255.255", 1);
	check_add_range("255.255.255.254", 2);
	check_add_range("0.0.0.1", 0xffffffffULL);
	check_add_range("0.0.0.0", 0x100000000ULL);
	check_add_range("0.0.0.0", UINT64_MAX);
	check_add_range("10.0.0.0", 1ULL << 40);

	/* Against integer arithmetic over random operands. */
	for (int i = 0; i < 20000; i++) {
		uint32_t base = (uint32_t)test_rnd();
		uint64_t n;
		switch (i % 4) {
		case 0: n = test_rnd() & 0xff; break;
		case 1: n = test_rnd() & 0xffff; break;
		case 2: n = test_rnd() & 0xffffffffULL; break;
		default: n = test_rnd(); break;
		}
		tgc_addr_t b = v4_from_u32(base), out;
		int ret = tgc_addr_add(&b, n, &out);
		if ((uint64_t)base + n > 0xffffffffULL || n > 0xffffffffULL) {
			ensure(ret == KNOT_ERANGE, "0x%08x + 0x%llx: %d",
			       base, (unsigned long long)n, ret);
		} else {
			ensure(ret == KNOT_EOK && out.family == AF_INET && out.len == 4 &&
			       v4_to_u32(&out) == (uint32_t)(base + n),
			       "0x%08x + 0x%llx: %d", base, (unsigned long long)n, ret);
		}
	}
}
END_TEST

START_TEST(add_ipv6)
{
	check_add("::", 1, "::1");
	check_add("::ff", 1, "::100");
	check_add("::ffff", 1, "::1:0");
	check_add("2001:db8::ffff:ffff", 1, "2001:db8::1:0:0");
	check_add("::ffff:ffff:ffff:ffff", 1, "0:0:0:1::");
	check_add("::", UINT64_MAX, "::ffff:ffff:ffff:ffff");
	check_add("::1", UINT64_MAX, "0:0:0:1::");
	check_add("2001:db8::", 0x100000000ULL, "2001:db8::1:0:0");
	check_add("fe80::1", 0x0102030405060708ULL, "fe80::102:304:506:709");
	check_add("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 1,
	          "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	check_add_range("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1);
	check_add_range("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 2);
	check_add_range("ffff:ffff:ffff:ffff:ffff:ffff:ffff:0", UINT64_MAX);
	check_add_range("ffff:ffff:ffff:ffff:0:0:0:1", UINT64_MAX);

	/* Against 128-bit arithmetic over random operands near the top. */
	for (int i = 0; i < 20000; i++) {
		u128 base = ((u128)test_rnd() << 64) | test_rnd();
		if (i % 2 == 0) {
			base |= (u128)UINT64_MAX << 64; /* Near overflow. */
		}
		uint64_t n = (i % 3 == 0) ? (test_rnd() & 0xffff) : test_rnd();
		tgc_addr_t b = v6_from_u128(base), out;
		int ret = tgc_addr_add(&b, n, &out);
		u128 sum = base + n;
		if (sum < base) {
			ensure(ret == KNOT_ERANGE, "case %d: %d", i, ret);
		} else {
			ensure(ret == KNOT_EOK && out.family == AF_INET6 &&
			       out.len == 16 && v6_to_u128(&out) == sum,
			       "case %d: %d", i, ret);
		}
	}

	/* An unset address cannot be incremented. */
	tgc_addr_t unset, out;
	memset(&unset, 0, sizeof(unset));
	ck_assert_int_eq(tgc_addr_add(&unset, 1, &out), KNOT_EINVAL);
}
END_TEST

START_TEST(in_prefix)
{
	tgc_addr_t a = A("10.10.10.100");
	tgc_addr_t net;

	/* Exact host prefix. */
	ck_assert(tgc_addr_in_prefix(&a, &a, 32));
	net = A("10.10.10.101");
	ck_assert(!tgc_addr_in_prefix(&a, &net, 32));
	ck_assert(tgc_addr_in_prefix(&a, &net, 31)); /* .100/.101 share /31 */
	net = A("10.10.10.99");
	ck_assert(!tgc_addr_in_prefix(&a, &net, 31));

	/* /0 matches everything of the family, and only of the family. */
	net = A("0.0.0.0");
	ck_assert(tgc_addr_in_prefix(&a, &net, 0));
	tgc_addr_t b = A("255.1.2.3");
	ck_assert(tgc_addr_in_prefix(&b, &net, 0));
	tgc_addr_t any6 = A("::");
	ck_assert(!tgc_addr_in_prefix(&a, &any6, 0));
	ck_assert(!tgc_addr_in_prefix(&any6, &net, 0));

	/* Byte-aligned. */
	net = A("10.10.10.0");
	ck_assert(tgc_addr_in_prefix(&a, &net, 24));
	net = A("10.10.11.0");
	ck_assert(!tgc_addr_in_prefix(&a, &net, 24));
	ck_assert(tgc_addr_in_prefix(&a, &net, 23)); /* 10.10.10.0/23 */
	ck_assert(!tgc_addr_in_prefix(&a, &net, 24));

	/* Not byte-aligned: 10.10.10.96/27 is .96 to .127. */
	net = A("10.10.10.96");
	ck_assert(tgc_addr_in_prefix(&a, &net, 27));
	tgc_addr_t edge = A("10.10.10.127");
	ck_assert(tgc_addr_in_prefix(&edge, &net, 27));
	edge = A("10.10.10.128");
	ck_assert(!tgc_addr_in_prefix(&edge, &net, 27));
	edge = A("10.10.10.95");
	ck_assert(!tgc_addr_in_prefix(&edge, &net, 27));

	/* /1 */
	net = A("128.0.0.0");
	b = A("200.1.1.1");
	ck_assert(tgc_addr_in_prefix(&b, &net, 1));
	b = A("127.255.255.255");
	ck_assert(!tgc_addr_in_prefix(&b, &net, 1));

	/* IPv6, aligned and not. */
	tgc_addr_t v6 = A("2001:db8:8000::1");
	net = A("2001:db8::");
	ck_assert(tgc_addr_in_prefix(&v6, &net, 32));
	ck_assert(!tgc_addr_in_prefix(&v6, &net, 33));
	net = A("2001:db8:8000::");
	ck_assert(tgc_addr_in_prefix(&v6, &net, 33));
	ck_assert(tgc_addr_in_prefix(&v6, &net, 127));
	ck_assert(!tgc_addr_in_prefix(&v6, &net, 128));
	net = A("2001:db8:8000::1");
	ck_assert(tgc_addr_in_prefix(&v6, &net, 128));

	/* Mixed family never matches, even with equal leading bytes. */
	tgc_addr_t v4 = A("32.1.13.184"); /* 2001:0db8 as IPv4 */
	net = A("2001:db8::");
	ck_assert(!tgc_addr_in_prefix(&v4, &net, 16));
	ck_assert(!tgc_addr_in_prefix(&net, &v4, 16));
	tgc_addr_t mapped = A("::ffff:10.10.10.100");
	ck_assert(!tgc_addr_in_prefix(&mapped, &a, 24));

	/* A prefix longer than the address never matches. */
	ck_assert(!tgc_addr_in_prefix(&a, &a, 33));

	/* Against integer masking over random operands. */
	for (int i = 0; i < 20000; i++) {
		uint32_t x = (uint32_t)test_rnd(), y = (uint32_t)test_rnd();
		unsigned p = (unsigned)(test_rnd() % 33);
		if (i % 2 == 0 && p > 0) {
			/* Make them share the first p bits, maybe not p+1. */
			uint32_t m = (p == 32) ? 0xffffffffu : ~(0xffffffffu >> p);
			y = (x & m) | (y & ~m);
		}
		uint32_t m = (p == 0) ? 0 : (p == 32) ? 0xffffffffu : ~(0xffffffffu >> p);
		bool want = ((x ^ y) & m) == 0;
		tgc_addr_t ax = v4_from_u32(x), ay = v4_from_u32(y);
		ensure(tgc_addr_in_prefix(&ax, &ay, p) == want,
		              "0x%08x in 0x%08x/%u", x, y, p);
	}
}
END_TEST

START_TEST(mask)
{
	static const struct {
		const char *in;
		unsigned prefix;
		const char *out;
	} cases[] = {
		{ "10.10.10.100", 24, "10.10.10.0" },
		{ "10.10.10.100", 27, "10.10.10.96" },
		{ "10.10.10.100", 32, "10.10.10.100" },
		{ "10.10.10.100", 0, "0.0.0.0" },
		{ "255.255.255.255", 1, "128.0.0.0" },
		{ "255.255.255.255", 17, "255.255.128.0" },
		{ "2001:db8:1234:5678:9abc::1", 56, "2001:db8:1234:5600::" },
		{ "2001:db8:1234:5678:9abc::1", 64, "2001:db8:1234:5678::" },
		{ "2001:db8:1234:5678:9abc::1", 0, "::" },
		{ "2001:db8:1234:5678:9abc::1", 128, "2001:db8:1234:5678:9abc::1" },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 121,
		  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff80" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tgc_addr_t a = A(cases[i].in), want = A(cases[i].out);
		tgc_addr_mask(&a, cases[i].prefix);
		char buf[TGC_ADDR_STRLEN];
		ck_assert_msg(tgc_addr_equal(&a, &want), "%s/%u -> %s, want %s",
		              cases[i].in, cases[i].prefix,
		              tgc_addr_format(&a, buf, sizeof(buf)), cases[i].out);
	}

	for (int i = 0; i < 20000; i++) {
		uint32_t x = (uint32_t)test_rnd();
		unsigned p = (unsigned)(test_rnd() % 33);
		uint32_t m = (p == 0) ? 0 : (p == 32) ? 0xffffffffu : ~(0xffffffffu >> p);
		tgc_addr_t a = v4_from_u32(x);
		tgc_addr_mask(&a, p);
		ensure(v4_to_u32(&a) == (x & m), "0x%08x/%u", x, p);
		/* The original address is inside the masked prefix. */
		tgc_addr_t orig = v4_from_u32(x);
		ensure(tgc_addr_in_prefix(&orig, &a, p), "0x%08x/%u", x, p);
	}
}
END_TEST

START_TEST(sockaddr)
{
	struct sockaddr_storage ss;
	tgc_addr_t a = A("10.10.10.100"), back;

	memset(&ss, 0xaa, sizeof(ss));
	tgc_addr_to_sockaddr(&a, 5900, &ss);
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&ss;
	ck_assert_int_eq(sin->sin_family, AF_INET);
	ck_assert_uint_eq(ntohs(sin->sin_port), 5900);
	ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), 0x0a0a0a64u);
	ck_assert_int_eq(tgc_addr_from_sockaddr(&ss, &back), KNOT_EOK);
	ck_assert(tgc_addr_equal(&a, &back));

	tgc_addr_t b = A("fe80::1234");
	tgc_addr_to_sockaddr(&b, 65535, &ss);
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&ss;
	ck_assert_int_eq(sin6->sin6_family, AF_INET6);
	ck_assert_uint_eq(ntohs(sin6->sin6_port), 65535);
	ck_assert_mem_eq(&sin6->sin6_addr, b.bytes, 16);
	ck_assert_uint_eq(sin6->sin6_scope_id, 0);
	ck_assert_uint_eq(sin6->sin6_flowinfo, 0);
	ck_assert_int_eq(tgc_addr_from_sockaddr(&ss, &back), KNOT_EOK);
	ck_assert(tgc_addr_equal(&b, &back));
	ck_assert_int_eq(back.len, 16);

	/* From a sockaddr filled by the system. */
	struct sockaddr_in6 sys;
	memset(&sys, 0, sizeof(sys));
	sys.sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::42", &sys.sin6_addr), 1);
	memset(&ss, 0, sizeof(ss));
	memcpy(&ss, &sys, sizeof(sys));
	ck_assert_int_eq(tgc_addr_from_sockaddr(&ss, &back), KNOT_EOK);
	tgc_addr_t want = A("2001:db8::42");
	ck_assert(tgc_addr_equal(&back, &want));

	/* Other families are refused. */
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	ck_assert_int_eq(tgc_addr_from_sockaddr(&ss, &back), KNOT_EINVAL);
	ss.ss_family = AF_UNSPEC;
	ck_assert_int_eq(tgc_addr_from_sockaddr(&ss, &back), KNOT_EINVAL);
	ck_assert_int_eq(tgc_addr_from_sockaddr(NULL, &back), KNOT_EINVAL);
}
END_TEST

static Suite *addr_suite(void)
{
	Suite *s = suite_create("addr");
	test_add_case(s, "parse_ipv4", parse_ipv4, 120);
	test_add_case(s, "parse_ipv6", parse_ipv6, 120);
	test_add_case(s, "parse_reject", parse_reject, 120);
	test_add_case(s, "parse_prefix", parse_prefix, 120);
	test_add_case(s, "format", format, 120);
	test_add_case(s, "equal", equal, 120);
	test_add_case(s, "usable", usable, 120);
	test_add_case(s, "add_ipv4", add_ipv4, 120);
	test_add_case(s, "add_ipv6", add_ipv6, 120);
	test_add_case(s, "in_prefix", in_prefix, 120);
	test_add_case(s, "mask", mask, 120);
	test_add_case(s, "sockaddr", sockaddr, 120);
	return s;
}

TEST_MAIN(addr)
