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
 * \brief Unit tests of the load report option (module/loadopt.c): entry
 *        writer, size, request check and parser.
 */

#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libknot/errcode.h>

#include "module/loadopt.h"
#include "tests/unit/test_util.h"
#include "tests/unit/test_main.h"

/*! \brief Room for the option data of 8 IPv6 entries. */
#define BUF_MAX	(1 + 8 * TGC_LOADOPT_ENTRY_MAX)

/*! \brief An entry for \a addr. */
static tgc_loadopt_entry_t entry(const char *addr, uint8_t flags,
                                 uint32_t sessions, uint32_t capacity_x100)
{
	return (tgc_loadopt_entry_t){
		.addr = test_addr(addr),
		.flags = flags,
		.sessions = sessions,
		.capacity_x100 = capacity_x100,
	};
}

/*! \brief Writes the version and \a count entries; returns the length. */
static size_t write_all(uint8_t *buf, const tgc_loadopt_entry_t *e, size_t count)
{
	size_t off = 0;
	buf[off++] = TGC_LOADOPT_VERSION;
	for (size_t i = 0; i < count; i++) {
		size_t n = tgc_loadopt_write_entry(buf + off, &e[i]);
		ck_assert_uint_eq(n, TGC_LOADOPT_ENTRY_HDR + e[i].addr.len);
		off += n;
	}
	return off;
}

/*! \brief Asserts that \a got equals \a want field by field. */
static void entry_eq(const tgc_loadopt_entry_t *got, const tgc_loadopt_entry_t *want)
{
	ck_assert(tgc_addr_equal(&got->addr, &want->addr));
	ck_assert_int_eq(got->addr.family, want->addr.family);
	ck_assert_uint_eq(got->addr.len, want->addr.len);
	ck_assert_uint_eq(got->flags, want->flags);
	ck_assert_uint_eq(got->sessions, want->sessions);
	ck_assert_uint_eq(got->capacity_x100, want->capacity_x100);
}

START_TEST(round_trip_mixed)
{
	const tgc_loadopt_entry_t in[] = {
		entry("10.10.10.100", TGC_LOADOPT_F_SESSIONS, 12, 4000),
		entry("2001:db8::1", 0, 0, 100),
		entry("10.10.10.101", TGC_LOADOPT_F_SESSIONS, 7, 0),
		entry("fd00::ff:1", TGC_LOADOPT_F_SESSIONS, 300, 250),
		entry("192.0.2.1", 0x80, 1, 1),
	};
	size_t n = sizeof(in) / sizeof(in[0]);
	uint8_t buf[BUF_MAX];
	size_t len = write_all(buf, in, n);
	ck_assert_uint_eq(len, tgc_loadopt_size(3, 2));
	ck_assert_uint_eq(buf[0], TGC_LOADOPT_VERSION);

	/* The format of loadopt.h, byte by byte, for the first entry. */
	static const uint8_t first[] = { 1, TGC_LOADOPT_F_SESSIONS, 0, 0, 0, 12,
	                                 0, 0, 0x0f, 0xa0, 10, 10, 10, 100 };
	ck_assert_mem_eq(buf + 1, first, sizeof(first));
	/* Family 2 and 16 address bytes for the second. */
	ck_assert_uint_eq(buf[1 + sizeof(first)], 2);
	ck_assert_uint_eq(buf[1 + sizeof(first) + TGC_LOADOPT_ENTRY_HDR], 0x20);

	tgc_loadopt_entry_t out[8];
	memset(out, 0xa5, sizeof(out));
	size_t count = 99;
	ck_assert_int_eq(tgc_loadopt_parse(buf, len, out, 8, &count), KNOT_EOK);
	ck_assert_uint_eq(count, n);
	for (size_t i = 0; i < n; i++) {
		entry_eq(&out[i], &in[i]);
	}
}
END_TEST

START_TEST(round_trip_one_family)
{
	uint8_t buf[BUF_MAX];
	tgc_loadopt_entry_t v4[] = {
		entry("10.0.0.1", TGC_LOADOPT_F_SESSIONS, 1, 100),
		entry("10.0.0.2", TGC_LOADOPT_F_SESSIONS, 2, 200),
	};
	size_t len = write_all(buf, v4, 2);
	ck_assert_uint_eq(len, tgc_loadopt_size(2, 0));
	ck_assert_uint_eq(len, 1 + 2 * 14);
	tgc_loadopt_entry_t out[4];
	size_t count = 0;
	ck_assert_int_eq(tgc_loadopt_parse(buf, len, out, 4, &count), KNOT_EOK);
	ck_assert_uint_eq(count, 2);
	entry_eq(&out[0], &v4[0]);
	entry_eq(&out[1], &v4[1]);

	tgc_loadopt_entry_t v6[] = {
		entry("::1", 0, 5, 500),
		entry("2001:db8:ffff::ffff", TGC_LOADOPT_F_SESSIONS, 6, 600),
		entry("fe80::1", 0, 7, 700),
	};
	len = write_all(buf, v6, 3);
	ck_assert_uint_eq(len, tgc_loadopt_size(0, 3));
	ck_assert_uint_eq(len, 1 + 3 * 26);
	ck_assert_int_eq(tgc_loadopt_parse(buf, len, out, 4, &count), KNOT_EOK);
	ck_assert_uint_eq(count, 3);
	for (size_t i = 0; i < 3; i++) {
		entry_eq(&out[i], &v6[i]);
	}
	ck_assert_uint_eq(tgc_loadopt_size(0, 0), 1);
}
END_TEST

START_TEST(big_numbers)
{
	tgc_loadopt_entry_t in[] = {
		entry("10.0.0.1", 0xff, UINT32_MAX, UINT32_MAX),
		entry("2001:db8::1", TGC_LOADOPT_F_SESSIONS, UINT32_MAX - 1, 0x80000001u),
	};
	uint8_t buf[BUF_MAX];
	size_t len = write_all(buf, in, 2);
	tgc_loadopt_entry_t out[2];
	size_t count = 0;
	ck_assert_int_eq(tgc_loadopt_parse(buf, len, out, 2, &count), KNOT_EOK);
	ck_assert_uint_eq(count, 2);
	entry_eq(&out[0], &in[0]);
	entry_eq(&out[1], &in[1]);
}
END_TEST

START_TEST(write_other_family)
{
	tgc_loadopt_entry_t e = { .sessions = 1, .capacity_x100 = 100 };
	e.addr.family = AF_UNSPEC;
	uint8_t buf[TGC_LOADOPT_ENTRY_MAX];
	memset(buf, 0x5a, sizeof(buf));
	ck_assert_uint_eq(tgc_loadopt_write_entry(buf, &e), 0);
	for (size_t i = 0; i < sizeof(buf); i++) {
		ck_assert_uint_eq(buf[i], 0x5a);
	}
}
END_TEST

START_TEST(version_only)
{
	static const uint8_t data[] = { TGC_LOADOPT_VERSION };
	tgc_loadopt_entry_t out[2];
	size_t count = 99;
	ck_assert_int_eq(tgc_loadopt_parse(data, 1, out, 2, &count), KNOT_EOK);
	ck_assert_uint_eq(count, 0);
}
END_TEST

START_TEST(empty_and_version)
{
	static const uint8_t data[] = { TGC_LOADOPT_VERSION };
	tgc_loadopt_entry_t out[2];
	size_t count = 99;
	ck_assert_int_eq(tgc_loadopt_parse(data, 0, out, 2, &count), KNOT_EMALF);
	ck_assert_uint_eq(count, 0);
	count = 99;
	ck_assert_int_eq(tgc_loadopt_parse(NULL, 0, out, 2, &count), KNOT_EMALF);
	ck_assert_uint_eq(count, 0);

	/* Another version, with a well-formed version 1 body after it. */
	tgc_loadopt_entry_t e = entry("10.0.0.1", 0, 1, 100);
	uint8_t buf[BUF_MAX];
	size_t len = write_all(buf, &e, 1);
	buf[0] = 2;
	count = 99;
	ck_assert_int_eq(tgc_loadopt_parse(buf, len, out, 2, &count), KNOT_ENOTSUP);
	ck_assert_uint_eq(count, 0);
	buf[0] = 0;
	count = 99;
	ck_assert_int_eq(tgc_loadopt_parse(buf, 1, out, 2, &count), KNOT_ENOTSUP);
	ck_assert_uint_eq(count, 0);
}
END_TEST

START_TEST(truncated_and_unknown_family)
{
	tgc_loadopt_entry_t in[] = {
		entry("10.0.0.1", TGC_LOADOPT_F_SESSIONS, 3, 100),
		entry("2001:db8::2", TGC_LOADOPT_F_SESSIONS, 4, 200),
	};
	uint8_t buf[BUF_MAX];
	size_t len = write_all(buf, in, 2);
	size_t first_end = 1 + TGC_LOADOPT_ENTRY_HDR + 4;
	tgc_loadopt_entry_t out[4];
	size_t count;

	/* Every cut inside the second entry (its header, its address): the
	 * first entry is well formed, yet nothing is given. */
	for (size_t cut = first_end + 1; cut < len; cut++) {
		count = 99;
		ck_assert_msg(tgc_loadopt_parse(buf, cut, out, 4, &count) == KNOT_EMALF,
		              "cut at %zu of %zu accepted", cut, len);
		ck_assert_uint_eq(count, 0);
	}
	/* Cuts inside the first entry too. */
	for (size_t cut = 2; cut < first_end; cut++) {
		count = 99;
		ck_assert_int_eq(tgc_loadopt_parse(buf, cut, out, 4, &count), KNOT_EMALF);
		ck_assert_uint_eq(count, 0);
	}
	/* At an entry boundary it is a shorter report. */
	ck_assert_int_eq(tgc_loadopt_parse(buf, first_end, out, 4, &count), KNOT_EOK);
	ck_assert_uint_eq(count, 1);

	/* Family 3 (and 0) in the second entry, with room for an IPv6
	 * address behind it. */
	uint8_t fam = buf[first_end];
	ck_assert_uint_eq(fam, 2);
	static const uint8_t bad_families[] = { 0, 3, 0xff };
	for (size_t i = 0; i < sizeof(bad_families); i++) {
		buf[first_end] = bad_families[i];
		count = 99;
		ck_assert_int_eq(tgc_loadopt_parse(buf, len, out, 4, &count), KNOT_EMALF);
		ck_assert_uint_eq(count, 0);
	}
	/* An IPv4 family byte on a 16-byte address: the 12 bytes left are
	 * read as an entry of family 0. */
	buf[first_end] = 1;
	ck_assert_int_eq(tgc_loadopt_parse(buf, len, out, 4, &count), KNOT_EMALF);
	ck_assert_uint_eq(count, 0);
}
END_TEST

START_TEST(more_than_max)
{
	tgc_loadopt_entry_t in[6];
	for (uint32_t i = 0; i < 6; i++) {
		char a[32];
		snprintf(a, sizeof(a), (i % 2) ? "2001:db8::%u" : "10.0.0.%u", i + 1);
		in[i] = entry(a, TGC_LOADOPT_F_SESSIONS, i, 100 * (i + 1));
	}
	uint8_t buf[BUF_MAX];
	size_t len = write_all(buf, in, 6);
	ck_assert_uint_eq(len, tgc_loadopt_size(3, 3));
	/* Room for 4: the first 4 stored, the slot past them untouched. */
	tgc_loadopt_entry_t out[5];
	memset(out, 0xa5, sizeof(out));
	size_t count = 0;
	ck_assert_int_eq(tgc_loadopt_parse(buf, len, out, 4, &count), KNOT_EOK);
	ck_assert_uint_eq(count, 4);
	for (size_t i = 0; i < 4; i++) {
		entry_eq(&out[i], &in[i]);
	}
	const uint8_t *tail = (const uint8_t *)&out[4];
	for (size_t i = 0; i < sizeof(out[4]); i++) {
		ck_assert_uint_eq(tail[i], 0xa5);
	}
	/* No room at all: still checked. */
	ck_assert_int_eq(tgc_loadopt_parse(buf, len, NULL, 0, &count), KNOT_EOK);
	ck_assert_uint_eq(count, 0);
	/* Entries past max are checked as well: a bad last one fails it. */
	ck_assert_int_eq(tgc_loadopt_parse(buf, len - 1, out, 4, &count), KNOT_EMALF);
	ck_assert_uint_eq(count, 0);
}
END_TEST

START_TEST(is_request)
{
	static const uint8_t v1[] = { TGC_LOADOPT_VERSION, 0xff, 0xff };
	static const uint8_t v2[] = { 2 };
	static const uint8_t v0[] = { 0, 1 };
	ck_assert(tgc_loadopt_is_request(v1, 1));
	ck_assert(tgc_loadopt_is_request(v1, 3));
	ck_assert(!tgc_loadopt_is_request(v1, 0));
	ck_assert(!tgc_loadopt_is_request(NULL, 0));
	ck_assert(!tgc_loadopt_is_request(NULL, 1));
	ck_assert(!tgc_loadopt_is_request(v2, 1));
	ck_assert(!tgc_loadopt_is_request(v0, 2));
}
END_TEST

static Suite *loadopt_suite(void)
{
	Suite *s = suite_create("loadopt");

	test_add_case(s, "round_trip_mixed", round_trip_mixed, 30);
	test_add_case(s, "round_trip_one_family", round_trip_one_family, 30);
	test_add_case(s, "big_numbers", big_numbers, 30);
	test_add_case(s, "write_other_family", write_other_family, 30);
	test_add_case(s, "version_only", version_only, 30);
	test_add_case(s, "empty_and_version", empty_and_version, 30);
	test_add_case(s, "truncated_and_unknown_family", truncated_and_unknown_family, 30);
	test_add_case(s, "more_than_max", more_than_max, 30);
	test_add_case(s, "is_request", is_request, 30);

	return s;
}

TEST_MAIN(loadopt)
