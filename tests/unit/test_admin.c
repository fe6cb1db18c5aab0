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
 * \brief Unit tests of module/admin.c: the zone admin record parser (with
 *        hostile rdata), the precedence rule and the min-live guard, the
 *        mailbox.
 */

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libknot/errcode.h>

#include "tests/unit/test_main.h"
#include "tests/unit/test_util.h"
#include "module/admin.h"

/*! \brief Builds TXT rdata from up to 8 strings (NULL-terminated list). */
static size_t txt(uint8_t *out, size_t out_len, const char *const *strs)
{
	size_t pos = 0;
	for (size_t i = 0; strs[i] != NULL; i++) {
		size_t len = strlen(strs[i]);
		ck_assert(len < 256 && pos + 1 + len <= out_len);
		out[pos++] = (uint8_t)len;
		memcpy(out + pos, strs[i], len);
		pos += len;
	}
	return pos;
}

/*! \brief Parses the strings given as a TXT record. */
#define PARSE(rec, ...) ({ \
	const char *strs_[] = { __VA_ARGS__, NULL }; \
	uint8_t rd_[2048]; \
	size_t len_ = txt(rd_, sizeof(rd_), strs_); \
	const char *err_ = NULL; \
	int ret_ = tgc_admin_parse(rd_, len_, (rec), &err_); \
	ck_assert(ret_ != KNOT_EMALF || err_ != NULL); \
	ret_; \
})

START_TEST(parse_valid)
{
	tgc_admin_rec_t rec;
	ck_assert_int_eq(PARSE(&rec, "tgcluster-admin", "10.10.10.102", "drain",
	                       "reason=kernel update"), KNOT_EOK);
	ck_assert_int_eq(rec.state, TGC_ADMIN_DRAIN);
	tgc_addr_t want = test_addr("10.10.10.102");
	ck_assert(tgc_addr_equal(&rec.addr, &want));
	ck_assert_int_eq(rec.port, 0);
	ck_assert_str_eq(rec.reason, "kernel update");
	ck_assert(!rec.has_name);
	ck_assert(tgc_admin_name_match(&rec, "anything.example."));

	ck_assert_int_eq(PARSE(&rec, "tgcluster-admin", "fd00::1@5901", "down",
	                       "name=Internet.Intern.Netz."), KNOT_EOK);
	ck_assert_int_eq(rec.state, TGC_ADMIN_DOWN);
	ck_assert_int_eq(rec.port, 5901);
	ck_assert_str_eq(rec.name, "internet.intern.netz");
	ck_assert(tgc_admin_name_match(&rec, "internet.intern.netz."));
	ck_assert(tgc_admin_name_match(&rec, "INTERNET.intern.netz"));
	ck_assert(!tgc_admin_name_match(&rec, "other.intern.netz."));
	ck_assert(!tgc_admin_name_match(&rec, "internet.intern.netz.x"));

	ck_assert_int_eq(PARSE(&rec, "tgcluster-admin", "10.0.0.1", "up",
	                       "reason="), KNOT_EOK);
	ck_assert_int_eq(rec.state, TGC_ADMIN_UP);
	ck_assert_str_eq(rec.reason, "");
}
END_TEST

START_TEST(parse_not_ours)
{
	tgc_admin_rec_t rec;
	ck_assert_int_eq(PARSE(&rec, "v=spf1 -all"), KNOT_ENOENT);
	ck_assert_int_eq(PARSE(&rec, "TGCLUSTER-ADMIN", "10.0.0.1", "drain"),
	                 KNOT_ENOENT);
	ck_assert_int_eq(PARSE(&rec, "tgcluster-admin2", "10.0.0.1", "drain"),
	                 KNOT_ENOENT);
	ck_assert_int_eq(tgc_admin_parse((const uint8_t *)"", 0, &rec, NULL),
	                 KNOT_ENOENT);
}
END_TEST

START_TEST(parse_malformed)
{
	tgc_admin_rec_t rec;
	const char *T = "tgcluster-admin";
	ck_assert_int_eq(PARSE(&rec, T), KNOT_EMALF);
	ck_assert_int_eq(PARSE(&rec, T, "10.0.0.1"), KNOT_EMALF);
	ck_assert_int_eq(PARSE(&rec, T, "10.0.0.1", "auto"), KNOT_EMALF);
	ck_assert_int_eq(PARSE(&rec, T, "10.0.0.1", "Drain"), KNOT_EMALF);
	ck_assert_int_eq(PARSE(&rec, T, "10.0.0.1", "drained"), KNOT_EMALF);
	ck_assert_int_eq(PARSE(&rec, T, "node1", "drain"), KNOT_EMALF);
	ck_assert_int_eq(PARSE(&rec, T, "", "drain"), KNOT_EMALF);
	ck_assert_int_eq(PARSE(&rec, T, "10.0.0.1@", "drain"), KNOT_EMALF);
	ck_assert_int_eq(PARSE(&rec, T, "10.0.0.1@0", "drain"), KNOT_EMALF);
	ck_assert_int_eq(PARSE(&rec, T, "10.0.0.1@65536", "drain"), KNOT_EMALF);
	ck_assert_int_eq(PARSE(&rec, T, "10.0.0.1@123456", "drain"), KNOT_EMALF);
	ck_assert_int_eq(PARSE(&rec, T, "10.0.0.1@-1", "drain"), KNOT_EMALF);
	ck_assert_int_eq(PARSE(&rec, T, "10.0.0.1@1@2", "drain"), KNOT_EMALF);
	ck_assert_int_eq(PARSE(&rec, T, "10.0.0.1/24", "drain"), KNOT_EMALF);
	ck_assert_int_eq(PARSE(&rec, T, "10.0.0.1", "drain", "weight=3"), KNOT_EMALF);
	ck_assert_int_eq(PARSE(&rec, T, "10.0.0.1", "drain", "name="), KNOT_EMALF);
	ck_assert_int_eq(PARSE(&rec, T, "10.0.0.1", "drain", "reason=a", "reason=b"),
	                 KNOT_EMALF);
	ck_assert_int_eq(PARSE(&rec, T, "10.0.0.1", "drain", "name=a", "name=a"),
	                 KNOT_EMALF);
	ck_assert_int_eq(PARSE(&rec, T, "10.0.0.1", "drain", ""), KNOT_EMALF);
	/* A NODE longer than any address. */
	char big[200];
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(PARSE(&rec, T, big, "drain"), KNOT_EMALF);
}
END_TEST

START_TEST(parse_hostile_bytes)
{
	tgc_admin_rec_t rec;
	const char *T = "tgcluster-admin";
	/* A zero byte inside NODE. */
	uint8_t rd[64] = { 15 };
	memcpy(rd + 1, T, 15);
	size_t pos = 16;
	rd[pos++] = 9;
	memcpy(rd + pos, "10.0.0.1\0", 9);
	pos += 9;
	rd[pos++] = 5;
	memcpy(rd + pos, "drain", 5);
	pos += 5;
	ck_assert_int_eq(tgc_admin_parse(rd, pos, &rec, NULL), KNOT_EMALF);

	/* A string longer than the rdata left. */
	uint8_t cut[] = { 15, 't','g','c','l','u','s','t','e','r','-','a','d','m','i','n',
	                  200, '1' };
	ck_assert_int_eq(tgc_admin_parse(cut, sizeof(cut), &rec, NULL), KNOT_EMALF);
	ck_assert_int_eq(tgc_admin_parse(cut, 1, &rec, NULL), KNOT_ENOENT);

	/* Control bytes, escapes and 8-bit bytes in the reason are not passed
	 * on to logs and terminals; a long reason is cut. */
	char reason[256] = "reason=\x1b[31m\x01\xff";
	size_t len = strlen(reason);
	memset(reason + len, 'A', 250 - len);
	reason[250] = '\0';
	ck_assert_int_eq(PARSE(&rec, T, "10.0.0.1", "down", reason), KNOT_EOK);
	ck_assert_uint_eq(strlen(rec.reason), TGC_ADMIN_REASON_MAX - 1);
	for (size_t i = 0; rec.reason[i] != '\0'; i++) {
		ck_assert(rec.reason[i] >= 0x20 && rec.reason[i] <= 0x7e);
	}
	ck_assert(strncmp(rec.reason, "?[31m??AAA", 10) == 0);

	/* Random rdata never crashes and, when accepted, is sane. */
	for (unsigned round = 0; round < 200000; round++) {
		uint8_t buf[96];
		size_t n = test_rnd() % sizeof(buf);
		for (size_t i = 0; i < n; i++) {
			buf[i] = (uint8_t)test_rnd();
		}
		if (n > 17 && (round & 1)) {
			buf[0] = 15;
			memcpy(buf + 1, T, 15);
		}
		int ret = tgc_admin_parse(buf, n, &rec, NULL);
		ensure(ret == KNOT_EOK || ret == KNOT_ENOENT || ret == KNOT_EMALF,
		       "ret %d", ret);
		if (ret == KNOT_EOK) {
			ensure(rec.state >= TGC_ADMIN_DRAIN && rec.state <= TGC_ADMIN_DOWN,
			       "state %d", rec.state);
			ensure(strlen(rec.reason) < sizeof(rec.reason), "reason");
		}
	}
}
END_TEST

/*! \brief Shorthands of the resolve tests. */
#define U TGC_HEALTH_UP
#define D TGC_HEALTH_DOWN
#define AUTO TGC_ADMIN_AUTO
#define DRAIN TGC_ADMIN_DRAIN
#define DOWN TGC_ADMIN_DOWN
#define UP TGC_ADMIN_UP

START_TEST(resolve_precedence)
{
	tgc_admin_in_t in[4] = {
		{ U, AUTO, AUTO },   /* nothing */
		{ U, AUTO, DRAIN },  /* zone */
		{ U, UP, DOWN },     /* local beats zone */
		{ D, AUTO, UP },     /* zone up */
	};
	tgc_admin_out_t out[4];
	tgc_admin_resolve(in, out, 4, 0);
	ck_assert_int_eq(out[0].admin, AUTO);
	ck_assert_int_eq(out[0].src, TGC_ADMIN_SRC_NONE);
	ck_assert_int_eq(out[1].admin, DRAIN);
	ck_assert_int_eq(out[1].src, TGC_ADMIN_SRC_ZONE);
	ck_assert_int_eq(out[2].admin, UP);
	ck_assert_int_eq(out[2].src, TGC_ADMIN_SRC_LOCAL);
	ck_assert_int_eq(out[3].admin, UP);
	ck_assert_int_eq(out[3].src, TGC_ADMIN_SRC_ZONE);
	for (int i = 0; i < 4; i++) {
		ck_assert(!out[i].guarded);
	}
	/* Local auto hands the node back to the zone. */
	in[2].local = AUTO;
	tgc_admin_resolve(in, out, 4, 0);
	ck_assert_int_eq(out[2].admin, DOWN);
	ck_assert_int_eq(out[2].src, TGC_ADMIN_SRC_ZONE);
}
END_TEST

START_TEST(resolve_guard)
{
	/* Three live nodes, min-live 2: the zone drains two, the first in node
	 * order applies, the second is held back. */
	tgc_admin_in_t in[3] = {
		{ U, AUTO, AUTO }, { U, AUTO, DRAIN }, { U, AUTO, DOWN },
	};
	tgc_admin_out_t out[3];
	tgc_admin_resolve(in, out, 3, 2);
	ck_assert_int_eq(out[1].admin, DRAIN);
	ck_assert(!out[1].guarded);
	ck_assert_int_eq(out[2].admin, AUTO);
	ck_assert(out[2].guarded);
	ck_assert_int_eq(tgc_admin_live_after(in, 3, 3, AUTO, 2), 2);

	/* Node 0 fails: the guard takes the drain back too. */
	in[0].health = D;
	tgc_admin_resolve(in, out, 3, 2);
	ck_assert(out[1].guarded && out[2].guarded);
	ck_assert_int_eq(out[1].admin, AUTO);

	/* A node already down costs nothing: its zone state applies. */
	in[0] = (tgc_admin_in_t){ U, AUTO, AUTO };
	in[2].health = D;
	tgc_admin_resolve(in, out, 3, 2);
	ck_assert_int_eq(out[2].admin, DOWN);
	ck_assert(!out[2].guarded);
	ck_assert_int_eq(out[1].admin, AUTO);
	ck_assert(out[1].guarded);

	/* Local states are not guarded here (the CLI refuses them), and count. */
	in[2] = (tgc_admin_in_t){ U, DRAIN, AUTO };
	in[1] = (tgc_admin_in_t){ U, AUTO, DRAIN };
	tgc_admin_resolve(in, out, 3, 2);
	ck_assert_int_eq(out[2].admin, DRAIN);
	ck_assert_int_eq(out[1].admin, AUTO);
	ck_assert(out[1].guarded);

	/* What the CLI asks before a local drain. */
	tgc_admin_in_t all[3] = { { U, AUTO, AUTO }, { U, AUTO, AUTO }, { U, AUTO, AUTO } };
	ck_assert_int_eq(tgc_admin_live_after(all, 3, 0, DRAIN, 2), 2);
	all[1].local = DOWN;
	ck_assert_int_eq(tgc_admin_live_after(all, 3, 0, DRAIN, 2), 1);
	ck_assert_int_eq(tgc_admin_live_after(all, 3, 0, UP, 2), 2);

	/* min-live 0 never holds anything back. */
	tgc_admin_in_t z[2] = { { U, AUTO, DOWN }, { U, AUTO, DOWN } };
	tgc_admin_out_t zo[2];
	tgc_admin_resolve(z, zo, 2, 0);
	ck_assert(zo[0].admin == DOWN && zo[1].admin == DOWN);
}
END_TEST

START_TEST(mailbox)
{
	tgc_admin_box_t box;
	ck_assert_int_eq(tgc_admin_box_init(&box, 3), KNOT_EOK);
	tgc_admin_zone_t in[3] = { { DRAIN, "r0" }, { AUTO, "" }, { DOWN, "r2" } };
	tgc_admin_zone_t out[3];
	uint32_t serial = 0, bad = 0;
	ck_assert(!tgc_admin_box_take(&box, &serial, &bad, out));
	tgc_admin_box_post(&box, 7, 1, in);
	in[0].state = UP;
	tgc_admin_box_post(&box, 8, 0, in);
	ck_assert(tgc_admin_box_take(&box, &serial, &bad, out));
	ck_assert_int_eq(serial, 8);
	ck_assert_int_eq(bad, 0);
	ck_assert_int_eq(out[0].state, UP);
	ck_assert_str_eq(out[2].reason, "r2");
	ck_assert(!tgc_admin_box_take(&box, &serial, &bad, out));
	tgc_admin_box_deinit(&box);
}
END_TEST

static Suite *admin_suite(void)
{
	Suite *s = suite_create("admin");
	test_add_case(s, "parse_valid", parse_valid, 60);
	test_add_case(s, "parse_not_ours", parse_not_ours, 60);
	test_add_case(s, "parse_malformed", parse_malformed, 60);
	test_add_case(s, "parse_hostile_bytes", parse_hostile_bytes, 120);
	test_add_case(s, "resolve_precedence", resolve_precedence, 60);
	test_add_case(s, "resolve_guard", resolve_guard, 60);
	test_add_case(s, "mailbox", mailbox, 60);
	return s;
}

TEST_MAIN(admin)
