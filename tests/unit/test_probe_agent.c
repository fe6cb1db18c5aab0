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
 * \brief Unit tests of the agent check's line reader and word parser
 *        (module/probe_agent.c).
 */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "module/probe_agent.h"
#include "tests/unit/test_util.h"
#include "tests/unit/test_main.h"

/*! \brief Bytes of a string literal without its NUL. */
#define LIT(s)	(const uint8_t *)(s), (sizeof(s) - 1)

/*! \brief Reads \a len bytes in pieces of \a step (0: at once), then eof. */
static tgc_agent_status_t read_all(tgc_agent_reader_t *r, const uint8_t *d,
                                   size_t len, size_t step, bool eof)
{
	tgc_agent_status_t st = TGC_AGENT_MORE;
	size_t off = 0;

	tgc_agent_reader_init(r);
	while (off < len && st == TGC_AGENT_MORE) {
		size_t chunk = (step == 0 || len - off < step) ? len - off : step;
		size_t used = 0;
		st = tgc_agent_feed(r, d + off, chunk, &used);
		ck_assert_uint_le(used, chunk);
		off += used;
	}
	if (st == TGC_AGENT_MORE && eof) {
		st = tgc_agent_eof(r);
	}
	return st;
}

/*! \brief Parses a literal line. */
static tgc_agent_report_t parse(const char *s)
{
	tgc_agent_report_t rep;
	tgc_agent_parse(s, strlen(s), &rep);
	return rep;
}

START_TEST(words)
{
	tgc_agent_report_t r = parse("ready 75% maxconn:40 sessions:12");
	ck_assert_uint_eq(r.words, 4);
	ck_assert_uint_eq(r.unknown, 0);
	ck_assert(r.has_pct && r.pct == 75);
	ck_assert(r.has_maxconn && r.maxconn == 40);
	ck_assert(r.has_sessions && r.sessions == 12);
	ck_assert_uint_eq(tgc_agent_apply_state(TGC_AGENT_DRAIN | TGC_AGENT_DOWN, &r), 0);

	/* Case, commas and tabs. */
	r = parse("UP,\tSessions:0,,MAXCONN:7  100%");
	ck_assert_uint_eq(r.words, 4);
	ck_assert_uint_eq(r.unknown, 0);
	ck_assert(r.has_sessions && r.sessions == 0);
	ck_assert_uint_eq(r.maxconn, 7);
	ck_assert_uint_eq(r.pct, 100);

	/* Nothing said: nothing changes. */
	r = parse("");
	ck_assert_uint_eq(r.words + r.unknown, 0);
	ck_assert(!r.has_pct && !r.has_maxconn && !r.has_sessions);
	ck_assert_uint_eq(tgc_agent_apply_state(TGC_AGENT_DRAIN, &r), TGC_AGENT_DRAIN);
	r = parse(" ,\t ");
	ck_assert_uint_eq(r.words + r.unknown, 0);
}
END_TEST

START_TEST(state_words)
{
	tgc_agent_report_t r = parse("drain");
	ck_assert_uint_eq(tgc_agent_apply_state(0, &r), TGC_AGENT_DRAIN);
	/* A word not about the state keeps it. */
	r = parse("sessions:3");
	ck_assert_uint_eq(tgc_agent_apply_state(TGC_AGENT_DRAIN, &r), TGC_AGENT_DRAIN);
	r = parse("down");
	ck_assert_uint_eq(tgc_agent_apply_state(TGC_AGENT_DRAIN, &r),
	                  TGC_AGENT_DRAIN | TGC_AGENT_DOWN);
	r = parse("MAINT");
	ck_assert_uint_eq(tgc_agent_apply_state(0, &r), TGC_AGENT_MAINT);
	r = parse("ready");
	ck_assert_uint_eq(tgc_agent_apply_state(TGC_AGENT_MAINT | TGC_AGENT_DOWN, &r), 0);
	/* Left to right. */
	r = parse("down up");
	ck_assert_uint_eq(tgc_agent_apply_state(TGC_AGENT_DRAIN, &r), 0);
	r = parse("up drain");
	ck_assert_uint_eq(tgc_agent_apply_state(TGC_AGENT_DOWN, &r), TGC_AGENT_DRAIN);
}
END_TEST

START_TEST(unknown_words)
{
	tgc_agent_report_t r = parse("stopped sessions:5 fail");
	ck_assert_uint_eq(r.words, 1);
	ck_assert_uint_eq(r.unknown, 2);
	ck_assert_str_eq(r.first_unknown, "stopped");
	ck_assert_uint_eq(r.sessions, 5);

	/* Numbers: signs, junk, empty, out of range are unknown words. */
	const char *bad[] = {
		"sessions:-1", "sessions:+1", "sessions:", "sessions:1x",
		"sessions:1000000001", "sessions:18446744073709551617",
		"maxconn:4294967296", "1001%", "%", "-5%", "5.5%", "sessions=1",
		"session:1", "upx", "d", "maxconn:0x10",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = parse(bad[i]);
		ck_assert_msg(r.unknown == 1 && r.words == 0, "%s", bad[i]);
		ck_assert(!r.has_pct && !r.has_maxconn && !r.has_sessions);
		ck_assert_str_eq(r.first_unknown, bad[i]);
	}
	/* The bounds themselves are fine. */
	r = parse("sessions:1000000000 maxconn:1000000000 1000% 0%");
	ck_assert_uint_eq(r.words, 4);
	ck_assert_uint_eq(r.sessions, TGC_AGENT_NUM_MAX);
	ck_assert_uint_eq(r.pct, 0);

	/* The kept word is bounded and escaped. */
	char line[200];
	memset(line, 'A', sizeof(line));
	line[0] = '\\';
	line[1] = '\x01';
	line[2] = (char)0xff;
	tgc_agent_parse(line, sizeof(line), &r);
	ck_assert_uint_eq(r.unknown, 1);
	ck_assert_str_eq(r.first_unknown, "\\x5c\\x01\\xff"
	                 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	/* A NUL inside a word makes it unknown; it does not end the line. */
	tgc_agent_parse("up\0down sessions:2", 18, &r);
	ck_assert_uint_eq(r.unknown, 1);
	ck_assert_uint_eq(r.words, 1);
	ck_assert_uint_eq(r.sessions, 2);
	ck_assert_str_eq(r.first_unknown, "up\\x00down");
}
END_TEST

START_TEST(reader_lines)
{
	tgc_agent_reader_t r;
	static const uint8_t msg[] = "ready 50% sessions:9\r\nnext line\n";

	/* Any piece size gives the same first line; the rest is not used. */
	for (size_t step = 0; step < sizeof(msg); step++) {
		ck_assert_int_eq(read_all(&r, msg, sizeof(msg) - 1, step, true),
		                 TGC_AGENT_LINE);
		ck_assert_str_eq(r.line, "ready 50% sessions:9");
		ck_assert_uint_eq(r.len, 20);
	}
	size_t used = 0;
	tgc_agent_reader_init(&r);
	ck_assert_int_eq(tgc_agent_feed(&r, msg, sizeof(msg) - 1, &used),
	                 TGC_AGENT_LINE);
	ck_assert_uint_eq(used, 22);
	/* Final: sticky, takes nothing. */
	ck_assert_int_eq(tgc_agent_feed(&r, msg, 5, &used), TGC_AGENT_LINE);
	ck_assert_uint_eq(used, 0);
	ck_assert_int_eq(tgc_agent_eof(&r), TGC_AGENT_LINE);

	/* A partial line: more is awaited; the close ends it. */
	ck_assert_int_eq(read_all(&r, LIT("sessions:4"), 1, false), TGC_AGENT_MORE);
	ck_assert_int_eq(tgc_agent_eof(&r), TGC_AGENT_LINE);
	ck_assert_str_eq(r.line, "sessions:4");
	/* Nothing at all. */
	ck_assert_int_eq(read_all(&r, NULL, 0, 0, true), TGC_AGENT_EMPTY);
	/* An empty line is a line. */
	ck_assert_int_eq(read_all(&r, LIT("\n"), 0, true), TGC_AGENT_LINE);
	ck_assert_uint_eq(r.len, 0);
}
END_TEST

START_TEST(reader_hostile)
{
	tgc_agent_reader_t r;
	uint8_t buf[1024];

	/* Exactly the bound, then the newline: fine; one more: too long. */
	memset(buf, 'x', sizeof(buf));
	buf[TGC_AGENT_LINE_MAX] = '\n';
	for (size_t step = 0; step < 4; step++) {
		ck_assert_int_eq(read_all(&r, buf, TGC_AGENT_LINE_MAX + 1, step, true),
		                 TGC_AGENT_LINE);
		ck_assert_uint_eq(r.len, TGC_AGENT_LINE_MAX);
	}
	buf[TGC_AGENT_LINE_MAX] = 'x';
	ck_assert_int_eq(read_all(&r, buf, sizeof(buf), 7, true), TGC_AGENT_LONG);
	ck_assert_uint_eq(r.len, TGC_AGENT_LINE_MAX);
	ck_assert_uint_eq(strlen(r.line), TGC_AGENT_LINE_MAX);
	/* An endless sender is cut at the bound without a newline too. */
	ck_assert_int_eq(read_all(&r, buf, TGC_AGENT_LINE_MAX + 1, 1, false),
	                 TGC_AGENT_LONG);

	/* NUL and control bytes; a lone CR. */
	ck_assert_int_eq(read_all(&r, LIT("up\0down\n"), 0, true), TGC_AGENT_BADBYTE);
	ck_assert_int_eq(read_all(&r, LIT("up\x1b[m\n"), 0, true), TGC_AGENT_BADBYTE);
	ck_assert_int_eq(read_all(&r, LIT("up\rdown\n"), 0, true), TGC_AGENT_BADBYTE);
	ck_assert_int_eq(read_all(&r, LIT("up\x7f\n"), 0, true), TGC_AGENT_BADBYTE);
	/* High bytes are kept (and make their word unknown). */
	ck_assert_int_eq(read_all(&r, LIT("up \xc3\xa9\n"), 0, true), TGC_AGENT_LINE);
	tgc_agent_report_t rep;
	tgc_agent_parse(r.line, r.len, &rep);
	ck_assert_uint_eq(rep.words, 1);
	ck_assert_uint_eq(rep.unknown, 1);

	/* A slow sender: one byte per feed still gives the line. */
	ck_assert_int_eq(read_all(&r, LIT("maxconn:10\n"), 1, false), TGC_AGENT_LINE);
	ck_assert_str_eq(r.line, "maxconn:10");
}
END_TEST

START_TEST(random_input)
{
	uint8_t buf[600];
	tgc_agent_reader_t a, b;

	for (int n = 0; n < 20000; n++) {
		size_t len = (size_t)(test_rnd() % sizeof(buf));
		for (size_t i = 0; i < len; i++) {
			/* Mostly word bytes, some separators and junk. */
			static const char alpha[] = "updownrainmtsesio:c%0123456789 ,\t\n\r\0\xff";
			buf[i] = (uint8_t)alpha[test_rnd() % (sizeof(alpha) - 1)];
		}
		size_t step = 1 + (size_t)(test_rnd() % 16);
		tgc_agent_status_t sa = read_all(&a, buf, len, step, true);
		tgc_agent_status_t sb = read_all(&b, buf, len, 0, true);
		ck_assert_int_eq(sa, sb);
		ck_assert_str_eq(a.line, b.line);
		ck_assert_uint_le(a.len, TGC_AGENT_LINE_MAX);
		tgc_agent_report_t rep;
		tgc_agent_parse((const char *)buf, len, &rep);
		ck_assert_uint_le(rep.sessions, TGC_AGENT_NUM_MAX);
		ck_assert_uint_le(rep.maxconn, TGC_AGENT_NUM_MAX);
		ck_assert_uint_le(rep.pct, TGC_AGENT_PCT_MAX);
		ck_assert_uint_lt(strlen(rep.first_unknown), sizeof(rep.first_unknown));
	}
}
END_TEST

static Suite *probe_agent_suite(void)
{
	Suite *s = suite_create("probe_agent");

	test_add_case(s, "words", words, 30);
	test_add_case(s, "state_words", state_words, 30);
	test_add_case(s, "unknown_words", unknown_words, 30);
	test_add_case(s, "reader_lines", reader_lines, 30);
	test_add_case(s, "reader_hostile", reader_hostile, 30);
	test_add_case(s, "random_input", random_input, 120);

	return s;
}

TEST_MAIN(probe_agent)
