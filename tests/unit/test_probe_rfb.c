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
 * \brief Unit tests of the RFB handshake parser (module/probe_rfb.c).
 */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "module/probe_rfb.h"
#include "tests/unit/test_main.h"
#include "tests/unit/test_util.h"

/*! \brief Bytes of a string literal without its NUL. */
#define LIT(s)	(const uint8_t *)(s), (sizeof(s) - 1)

/*!
 * \brief Runs a whole exchange: \a srv fed in pieces of \a step bytes (0: at
 *        once), the reply checked against \a reply (NULL: none due).
 *
 * \return The final status (MORE if the input ended before one).
 */
static tgc_rfb_status_t run(tgc_rfb_t *p, const uint8_t *srv, size_t len,
                            size_t step, const char *reply, bool eof)
{
	bool replied = false;
	tgc_rfb_status_t st = TGC_RFB_MORE;

	tgc_rfb_init(p);
	size_t off = 0;
	while (off < len) {
		size_t chunk = (step == 0 || len - off < step) ? len - off : step;
		size_t used = 0;
		st = tgc_rfb_feed(p, srv + off, chunk, &used);
		ck_assert_uint_le(used, chunk);
		off += used;
		if (st == TGC_RFB_SEND) {
			ck_assert_msg(!replied, "SEND twice");
			replied = true;
			ck_assert_ptr_nonnull(reply);
			ck_assert_ptr_nonnull(tgc_rfb_reply(p));
			ck_assert_mem_eq(tgc_rfb_reply(p), reply, TGC_RFB_VERSION_LEN);
			st = TGC_RFB_MORE;
			continue;
		}
		if (st != TGC_RFB_MORE) {
			break;
		}
		ck_assert_uint_eq(used, chunk);
	}
	if (st == TGC_RFB_MORE && eof) {
		st = tgc_rfb_eof(p);
	}
	if (reply != NULL && st != TGC_RFB_BAD_BANNER) {
		ck_assert_msg(replied, "no reply asked for");
	}
	return st;
}

/*! \brief Runs \a srv at once and byte by byte; both must agree. */
static tgc_rfb_status_t run_all(tgc_rfb_t *p, const uint8_t *srv, size_t len,
                                const char *reply, bool eof)
{
	tgc_rfb_t q;
	tgc_rfb_status_t a = run(&q, srv, len, 1, reply, eof);
	tgc_rfb_status_t b = run(p, srv, len, 0, reply, eof);
	ck_assert_int_eq(a, b);
	ck_assert_str_eq(p->reason, q.reason);
	ck_assert_uint_eq(p->types, q.types);
	return b;
}

START_TEST(version_valid)
{
	static const char *good[] = {
		"RFB 003.008\n", "RFB 003.003\n", "RFB 003.007\n", "RFB 000.000\n",
		"RFB 999.999\n", "RFB 004.001\n",
	};
	static const char *bad[] = {
		"RFB 003.008",     /* no newline (11 bytes) */
		"RFB 003.008\r\n", /* 13 bytes */
		"RFB 003.008 ",    /* space instead of newline */
		"RFB 03.008\n",    /* 11 bytes */
		"RFB 0003.008\n",  /* 13 bytes */
		"RFB 003.00a\n",   /* letter in digits */
		"RFB 0x3.008\n",
		"RFB 003,008\n",
		"RFX 003.008\n",
		"rfb 003.008\n",
		"RFB_003.008\n",
		"SSH-2.0-Open",
		"            ",
		"",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(tgc_rfb_version_valid((const uint8_t *)good[i],
		                                    strlen(good[i])), "%s", good[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(!tgc_rfb_version_valid((const uint8_t *)bad[i],
		                                     strlen(bad[i])), "'%s'", bad[i]);
	}
	static const uint8_t zero[] = "RFB 003\0008\n";
	ck_assert(!tgc_rfb_version_valid(zero, 12));
	ck_assert(!tgc_rfb_version_valid(NULL, 12));
}
END_TEST

START_TEST(reply_choice)
{
	static const struct {
		const char *server;
		const char *reply;
	} cases[] = {
		{ "RFB 003.003\n", "RFB 003.003\n" },
		{ "RFB 003.005\n", "RFB 003.003\n" }, /* 3.5: read as 3.3 */
		{ "RFB 003.006\n", "RFB 003.003\n" },
		{ "RFB 003.000\n", "RFB 003.003\n" },
		{ "RFB 003.007\n", "RFB 003.007\n" },
		{ "RFB 003.008\n", "RFB 003.008\n" },
		{ "RFB 003.889\n", "RFB 003.008\n" }, /* Apple */
		{ "RFB 004.001\n", "RFB 003.008\n" }, /* RealVNC 4 */
		{ "RFB 999.999\n", "RFB 003.008\n" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tgc_rfb_t p;
		tgc_rfb_init(&p);
		ck_assert_ptr_null(tgc_rfb_reply(&p));
		size_t used = 0;
		ck_assert_int_eq(tgc_rfb_feed(&p, (const uint8_t *)cases[i].server,
		                              12, &used), TGC_RFB_SEND);
		ck_assert_uint_eq(used, 12);
		ck_assert_mem_eq(tgc_rfb_reply(&p), cases[i].reply, 12);
	}
	/* Older than 3: nothing we speak. */
	tgc_rfb_t p;
	ck_assert_int_eq(run_all(&p, LIT("RFB 002.009\n"), NULL, true),
	                 TGC_RFB_BAD_BANNER);
	ck_assert_int_eq(run_all(&p, LIT("RFB 000.000\n"), NULL, true),
	                 TGC_RFB_BAD_BANNER);
}
END_TEST

START_TEST(offered)
{
	tgc_rfb_t p;
	/* 3.8 VncAuth, as Xvnc offers it. */
	ck_assert_int_eq(run_all(&p, LIT("RFB 003.008\n\x01\x02"),
	                         "RFB 003.008\n", false), TGC_RFB_OFFERED);
	ck_assert_uint_eq(p.types, 1);
	/* 3.7 with several types, one invalid among them. */
	ck_assert_int_eq(run_all(&p, LIT("RFB 003.007\n\x03\x00\x01\x10"),
	                         "RFB 003.007\n", false), TGC_RFB_OFFERED);
	ck_assert_uint_eq(p.types, 2);
	/* 255 types. */
	uint8_t many[12 + 1 + 255];
	memcpy(many, "RFB 003.008\n", 12);
	many[12] = 255;
	memset(many + 13, 2, 255);
	ck_assert_int_eq(run_all(&p, many, sizeof(many), "RFB 003.008\n", false),
	                 TGC_RFB_OFFERED);
	ck_assert_uint_eq(p.types, 255);
	/* 3.3: the server chose VncAuth; None; anything non-zero. */
	ck_assert_int_eq(run_all(&p, LIT("RFB 003.003\n\0\0\0\x02"),
	                         "RFB 003.003\n", false), TGC_RFB_OFFERED);
	ck_assert_int_eq(run_all(&p, LIT("RFB 003.003\n\0\0\0\x01"),
	                         "RFB 003.003\n", false), TGC_RFB_OFFERED);
	ck_assert_int_eq(run_all(&p, LIT("RFB 003.005\n\x80\0\0\0"),
	                         "RFB 003.003\n", false), TGC_RFB_OFFERED);
	ck_assert_str_eq(p.reason, "");
}
END_TEST

START_TEST(refused)
{
	tgc_rfb_t p;
	/* Xvnc's blacklist: 3.3, type 0, reason. */
	ck_assert_int_eq(run_all(&p, LIT("RFB 003.003\n\0\0\0\0\0\0\0\x1a"
	                                 "Too many security failures"),
	                         "RFB 003.003\n", false), TGC_RFB_REFUSED);
	ck_assert_str_eq(p.reason, "Too many security failures");
	ck_assert_uint_eq(p.reason_total, 26);
	/* 3.8: count 0, reason. */
	ck_assert_int_eq(run_all(&p, LIT("RFB 003.008\n\0\0\0\0\x04" "busy"),
	                         "RFB 003.008\n", false), TGC_RFB_REFUSED);
	ck_assert_str_eq(p.reason, "busy");
	/* Empty reason. */
	ck_assert_int_eq(run_all(&p, LIT("RFB 003.008\n\0\0\0\0\0"),
	                         "RFB 003.008\n", false), TGC_RFB_REFUSED);
	ck_assert_str_eq(p.reason, "");
	/* Control bytes, escapes and non-ASCII become '?'. */
	ck_assert_int_eq(run_all(&p, LIT("RFB 003.008\n\0\0\0\0\x08"
	                                 "a\n\x1b[m\xc3\xa9\x7f"),
	                         "RFB 003.008\n", false), TGC_RFB_REFUSED);
	ck_assert_str_eq(p.reason, "a??[m???");
	/* A huge announced length: only TGC_RFB_REASON_MAX bytes are read. */
	uint8_t big[12 + 1 + 4 + TGC_RFB_REASON_MAX + 10];
	memcpy(big, "RFB 003.008\n\0\xff\xff\xff\xff", 17);
	memset(big + 17, 'x', sizeof(big) - 17);
	tgc_rfb_init(&p);
	size_t used = 0;
	ck_assert_int_eq(tgc_rfb_feed(&p, big, sizeof(big), &used), TGC_RFB_SEND);
	size_t off = used;
	ck_assert_int_eq(tgc_rfb_feed(&p, big + off, sizeof(big) - off, &used),
	                 TGC_RFB_REFUSED);
	ck_assert_uint_eq(off + used, 17 + TGC_RFB_REASON_MAX);
	ck_assert_uint_eq(strlen(p.reason), TGC_RFB_REASON_MAX);
	ck_assert_uint_eq(p.reason_total, UINT32_MAX);
	/* Cut short by the server's close: still a refusal. */
	ck_assert_int_eq(run_all(&p, LIT("RFB 003.003\n\0\0\0\0\0\0\0\x1a" "Too"),
	                         "RFB 003.003\n", true), TGC_RFB_REFUSED);
	ck_assert_str_eq(p.reason, "Too");
}
END_TEST

START_TEST(broken)
{
	tgc_rfb_t p;
	/* Not RFB: decided at the first wrong byte. */
	tgc_rfb_init(&p);
	size_t used = 0;
	ck_assert_int_eq(tgc_rfb_feed(&p, LIT("SSH-2.0-OpenSSH\r\n"), &used),
	                 TGC_RFB_BAD_BANNER);
	ck_assert_uint_eq(used, 1);
	ck_assert_int_eq(run_all(&p, LIT("RFB 003.00x\n"), NULL, true),
	                 TGC_RFB_BAD_BANNER);
	/* Closed during the version: a bad banner; before any byte too. */
	ck_assert_int_eq(run_all(&p, LIT("RFB 003"), NULL, true),
	                 TGC_RFB_BAD_BANNER);
	ck_assert_int_eq(run_all(&p, NULL, 0, NULL, true), TGC_RFB_BAD_BANNER);
	/* A valid version, then the server closes: half-open handshake. */
	ck_assert_int_eq(run_all(&p, LIT("RFB 003.008\n"), "RFB 003.008\n", true),
	                 TGC_RFB_BAD);
	ck_assert_int_eq(run_all(&p, LIT("RFB 003.008\n\x02\x01"), "RFB 003.008\n",
	                         true), TGC_RFB_BAD);
	ck_assert_int_eq(run_all(&p, LIT("RFB 003.003\n\0\0"), "RFB 003.003\n",
	                         true), TGC_RFB_BAD);
	ck_assert_int_eq(run_all(&p, LIT("RFB 003.008\n\0\0\0"), "RFB 003.008\n",
	                         true), TGC_RFB_BAD);
	/* Only "Invalid" (0) types. */
	ck_assert_int_eq(run_all(&p, LIT("RFB 003.008\n\x02\0\0"), "RFB 003.008\n",
	                         false), TGC_RFB_BAD);
	/* Incomplete without the close: more is needed. */
	ck_assert_int_eq(run_all(&p, LIT("RFB 003.008\n\x02\x01"), "RFB 003.008\n",
	                         false), TGC_RFB_MORE);
}
END_TEST

START_TEST(final_is_sticky)
{
	tgc_rfb_t p;
	ck_assert_int_eq(run_all(&p, LIT("RFB 003.008\n\x01\x02"), "RFB 003.008\n",
	                         false), TGC_RFB_OFFERED);
	size_t used = 99;
	ck_assert_int_eq(tgc_rfb_feed(&p, LIT("\0\0\0\0"), &used), TGC_RFB_OFFERED);
	ck_assert_uint_eq(used, 0);
	ck_assert_int_eq(tgc_rfb_eof(&p), TGC_RFB_OFFERED);
	/* Extra bytes after the list are left unused. */
	tgc_rfb_init(&p);
	ck_assert_int_eq(tgc_rfb_feed(&p, LIT("RFB 003.008\n\x01\x02XYZ"), &used),
	                 TGC_RFB_SEND);
	ck_assert_int_eq(tgc_rfb_feed(&p, LIT("\x01\x02XYZ"), &used),
	                 TGC_RFB_OFFERED);
	ck_assert_uint_eq(used, 2);
	/* NULL used pointer is fine. */
	tgc_rfb_init(&p);
	ck_assert_int_eq(tgc_rfb_feed(&p, LIT("RFB"), NULL), TGC_RFB_MORE);
}
END_TEST

/*! \brief Random inputs: the parser ends, never overruns, keeps invariants. */
START_TEST(random_input)
{
	uint8_t buf[64];
	for (int round = 0; round < 200000; round++) {
		size_t len = test_rnd() % sizeof(buf);
		for (size_t i = 0; i < len; i++) {
			buf[i] = (uint8_t)test_rnd();
		}
		/* Half the rounds start with a valid version. */
		if (round % 2 == 0 && len >= 12) {
			memcpy(buf, (round % 4 == 0) ? "RFB 003.003\n" : "RFB 003.008\n", 12);
		}
		tgc_rfb_t p;
		tgc_rfb_init(&p);
		size_t off = 0;
		tgc_rfb_status_t st = TGC_RFB_MORE;
		int sends = 0;
		while (off < len) {
			size_t used = 0;
			st = tgc_rfb_feed(&p, buf + off, len - off, &used);
			ensure(used <= len - off, "used %zu", used);
			off += used;
			if (st == TGC_RFB_SEND) {
				sends++;
				continue;
			}
			break;
		}
		if (st == TGC_RFB_MORE || st == TGC_RFB_SEND) {
			st = tgc_rfb_eof(&p);
		}
		ensure(st >= TGC_RFB_OFFERED && st <= TGC_RFB_BAD, "status %d", st);
		ensure(sends <= 1, "%d sends", sends);
		ensure(strlen(p.reason) == p.reason_len, "reason length");
		ensure(p.reason_len <= TGC_RFB_REASON_MAX, "reason too long");
		for (size_t i = 0; i < p.reason_len; i++) {
			ensure(p.reason[i] >= 0x20 && p.reason[i] < 0x7f, "byte %zu", i);
		}
	}
}
END_TEST

static Suite *probe_rfb_suite(void)
{
	Suite *s = suite_create("probe_rfb");

	test_add_case(s, "version_valid", version_valid, 30);
	test_add_case(s, "reply_choice", reply_choice, 30);
	test_add_case(s, "offered", offered, 30);
	test_add_case(s, "refused", refused, 30);
	test_add_case(s, "broken", broken, 30);
	test_add_case(s, "final_is_sticky", final_is_sticky, 30);
	test_add_case(s, "random_input", random_input, 120);

	return s;
}

TEST_MAIN(probe_rfb)
