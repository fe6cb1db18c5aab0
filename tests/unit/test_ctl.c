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
 * \brief Unit tests of the tgclusterctl library (module/ctl/{format,match,
 *        json,prom}.c): durations, JSON escaping, node and instance
 *        matching, aligned tables, status rendering and metrics.
 *
 * Status tests build real segments with tgc_table_open() under unique names
 * ("/tgcluster.test-ctl-<pid>-<n>") and unlink them in the teardown.
 */

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <jansson.h>
#include <libknot/errcode.h>

#include "module/ctl/format.h"
#include "module/health.h"
#include "module/probe_agent.h"
#include "module/table.h"
#include "tests/unit/test_main.h"

/*! \brief Checks the text of a buffer and empties it. */
#define ck_buf(buf, expect) do { \
	ck_assert(!(buf)->failed); \
	ck_assert_str_eq(tgc_ctl_buf_str(buf), (expect)); \
	tgc_ctl_buf_reset(buf); \
} while (0)

/*! \brief JSON-quotes \a in and compares with \a expect. */
static void json_is(const char *in, const char *expect)
{
	tgc_ctl_buf_t b;
	tgc_ctl_buf_init(&b);
	tgc_ctl_buf_json_str(&b, in);
	ck_buf(&b, expect);
	tgc_ctl_buf_free(&b);
}

/*! \brief Formats a duration and compares. */
static void dur_is(uint64_t ms, const char *expect)
{
	char buf[32];
	ck_assert_str_eq(tgc_ctl_fmt_duration(ms, buf, sizeof(buf)), expect);
}

/*! \brief Formats an RTT and compares. */
static void rtt_is(uint32_t us, const char *expect)
{
	char buf[32];
	ck_assert_str_eq(tgc_ctl_fmt_rtt(us, buf, sizeof(buf)), expect);
}

START_TEST(durations)
{
	dur_is(0, "0ms");
	dur_is(999, "999ms");
	dur_is(1000, "1.0s");
	dur_is(12345, "12.3s");
	dur_is(59999, "59.9s");
	dur_is(60000, "1m00s");
	dur_is(303999, "5m03s");
	dur_is(3599999, "59m59s");
	dur_is(3600000, "1h00m");
	dur_is(2 * 3600000 + 5 * 60000, "2h05m");
	dur_is(86400000, "1d00h");
	dur_is(3 * 86400000ULL + 4 * 3600000, "3d04h");
	dur_is(UINT64_MAX, "213503982334d14h");

	rtt_is(0, "0us");
	rtt_is(850, "850us");
	rtt_is(1000, "1.0ms");
	rtt_is(12345, "12.3ms");
	rtt_is(999999, "999.9ms");
	rtt_is(1200000, "1.20s");

	/* A short buffer truncates, never overflows. */
	char small[4];
	ck_assert_str_eq(tgc_ctl_fmt_duration(12345, small, sizeof(small)), "12.");
}
END_TEST

START_TEST(json_escape)
{
	json_is(NULL, "null");
	json_is("", "\"\"");
	json_is("plain.zone", "\"plain.zone\"");
	json_is("a\"b\\c", "\"a\\\"b\\\\c\"");
	json_is("\n\r\t\b\f", "\"\\n\\r\\t\\b\\f\"");
	json_is("\x01\x1f", "\"\\u0001\\u001F\"");
	json_is("\x7f", "\"\\u007f\"");
	json_is("/", "\"/\"");
	/* The output is ASCII: every other code point as \uNNNN. */
	json_is("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	        "\"caf\\u00E9 \\u20AC \\uD83D\\uDE00\"");
	json_is("\xc2\xa0\xe2\x80\xaf\xe2\x81\xaa", "\"\\u00A0\\u202F\\u206A\"");
	/* C1 controls, bidi controls and invisible characters among them. */
	json_is("a\xc2\x9b" "2J", "\"a\\u009B2J\"");
	json_is("\xc2\x80\xc2\x9f", "\"\\u0080\\u009F\"");
	json_is("evil\xe2\x80\xaetxt.exe", "\"evil\\u202Etxt.exe\"");
	json_is("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad",
	        "\"\\u202A\\u202B\\u202C\\u202D\"");
	json_is("\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9",
	        "\"\\u2066\\u2067\\u2068\\u2069\"");
	json_is("\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c", "\"\\u200E\\u200F\\u061C\"");
	json_is("\xe2\x80\x8b\xe2\x80\xa8\xe2\x80\xa9\xef\xbb\xbf",
	        "\"\\u200B\\u2028\\u2029\\uFEFF\"");
	/* Invalid bytes, overlong forms, surrogates, truncated sequences:
	 * the replacement character, never the byte as a code point. */
	json_is("\xff", "\"\\uFFFD\"");
	json_is("\x9b", "\"\\uFFFD\"");
	json_is("\xc0\x80", "\"\\uFFFD\\uFFFD\"");
	json_is("\xed\xa0\x80", "\"\\uFFFD\\uFFFD\\uFFFD\"");
	json_is("\xe2\x82", "\"\\uFFFD\\uFFFD\"");
	json_is("x\xc3", "\"x\\uFFFD\"");
	json_is("\xf4\x90\x80\x80", "\"\\uFFFD\\uFFFD\\uFFFD\\uFFFD\"");

	/* Terminal-safe text. */
	tgc_ctl_buf_t b;
	tgc_ctl_buf_init(&b);
	tgc_ctl_buf_safe_str(&b, "\033[2Jzone\xc2\x9b\xff caf\xc3\xa9");
	ck_buf(&b, "\\x1b[2Jzone\\u{009b}\\xff caf\xc3\xa9");
	tgc_ctl_buf_safe_str(&b, "evil\xe2\x80\xaetxt.exe\t\n\x7f");
	ck_buf(&b, "evil\\u{202e}txt.exe\\x09\\x0a\\x7f");
	tgc_ctl_buf_safe_str(&b, "\xe2\x81\xa6\xd8\x9c\xe2\x80\x8e\xef\xbb\xbf");
	ck_buf(&b, "\\u{2066}\\u{061c}\\u{200e}\\u{feff}");
	tgc_ctl_buf_safe_str(&b, "\xed\xa0\x80x\xe2\x82");
	ck_buf(&b, "\\xed\\xa0\\x80x\\xe2\\x82");
	tgc_ctl_buf_safe_str(&b, "plain.zone \\032 \xc2\xa0\xe2\x82\xac");
	ck_buf(&b, "plain.zone \\032 \xc2\xa0\xe2\x82\xac");
	tgc_ctl_buf_safe_str(&b, NULL);
	ck_buf(&b, "");
	tgc_ctl_buf_free(&b);

	/* Fixed-size copies: escaped, and never overflow. */
	char out[TGC_CTL_SAFE_LEN(4)];
	ck_assert_str_eq(tgc_ctl_safe_copy("\x9b\x9b\x9b\x9b", out, sizeof(out)),
	                 "\\x9b\\x9b\\x9b\\x9b");
	char small[6];
	ck_assert_str_eq(tgc_ctl_safe_copy("\033[2J", small, sizeof(small)), "\\x1b[");

	/* The class boundaries. */
	const uint32_t unsafe[] = { 0, 0x1f, 0x7f, 0x80, 0x9b, 0x9f, 0x61c, 0x200b,
	                            0x200e, 0x200f, 0x2028, 0x202a, 0x202e, 0x2060,
	                            0x2066, 0x2069, 0xfeff };
	const uint32_t safe[] = { 0x20, 0x7e, 0xa0, 0xe9, 0x61b, 0x61d, 0x200a,
	                          0x2010, 0x2027, 0x202f, 0x205f, 0x206a, 0xfefe,
	                          0xff00, 0x1f600, 0x10ffff };
	for (size_t i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++) {
		ck_assert_msg(tgc_ctl_cp_unsafe(unsafe[i]), "U+%04X", unsafe[i]);
	}
	for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++) {
		ck_assert_msg(!tgc_ctl_cp_unsafe(safe[i]), "U+%04X", safe[i]);
	}
}
END_TEST

/*!
 * \brief Decodes strict UTF-8 (no overlong forms, surrogates or code points
 *        above U+10FFFF); an independent oracle for the escapers.
 *
 * \return Code points decoded, -1 if \a s is not valid UTF-8 or has a code
 *         point of tgc_ctl_cp_unsafe().
 */
static int utf8_clean(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	int n = 0;
	while (*s != '\0') {
		uint32_t cp;
		int len;
		if (*s < 0x80) {
			cp = *s; len = 1;
		} else if ((*s & 0xe0) == 0xc0) {
			cp = *s & 0x1f; len = 2;
		} else if ((*s & 0xf0) == 0xe0) {
			cp = *s & 0x0f; len = 3;
		} else if ((*s & 0xf8) == 0xf0) {
			cp = *s & 0x07; len = 4;
		} else {
			return -1;
		}
		for (int i = 1; i < len; i++) {
			if ((s[i] & 0xc0) != 0x80) {
				return -1;
			}
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
		if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    tgc_ctl_cp_unsafe(cp)) {
			return -1;
		}
		s += len;
		n++;
	}
	return n;
}

/*! \brief Encodes one code point as UTF-8 (surrogates too, as the bytes
 *         an encoder that does not check would write). */
static size_t utf8_put(uint32_t cp, char *out)
{
	unsigned char *o = (unsigned char *)out;
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	} else if (cp < 0x800) {
		o[0] = 0xc0 | (cp >> 6);
		o[1] = 0x80 | (cp & 0x3f);
		return 2;
	} else if (cp < 0x10000) {
		o[0] = 0xe0 | (cp >> 12);
		o[1] = 0x80 | ((cp >> 6) & 0x3f);
		o[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	o[0] = 0xf0 | (cp >> 18);
	o[1] = 0x80 | ((cp >> 12) & 0x3f);
	o[2] = 0x80 | ((cp >> 6) & 0x3f);
	o[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/*! \brief Test inputs per JSON document in escape_every_code_point. */
#define JSON_BATCH	4096

/*! \brief Input of escape_every_code_point for code point \a cp: "a", its
 *         UTF-8 bytes (a surrogate's too), "z"; returns the UTF-8 length. */
static size_t cp_input(uint32_t cp, char *in)
{
	in[0] = 'a';
	size_t len = utf8_put(cp, in + 1);
	in[1 + len] = 'z';
	in[2 + len] = '\0';

	return len;
}

/*!
 * \brief Checks a batch of JSON strings written as one array ("[" s "," s
 *        ... "]"): the text is printable ASCII, jansson parses it, and it has
 *        \a n strings; with \a first set, string k is the input of code point
 *        *first + k (a surrogate decoding to "a", three U+FFFD, "z").
 */
static bool json_batch_ok(const char *doc, size_t n, const uint32_t *first)
{
	for (const char *p = doc; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e) {
			return false;
		}
	}
	json_t *arr = json_loads(doc, 0, NULL);
	bool ok = json_is_array(arr) && json_array_size(arr) == n;
	for (size_t k = 0; ok && k < n; k++) {
		const char *got = json_string_value(json_array_get(arr, k));
		char in[16];
		if (got == NULL) {
			ok = false;
		} else if (first != NULL) {
			uint32_t cp = *first + (uint32_t)k;
			cp_input(cp, in);
			ok = strcmp(got, (cp >= 0xd800 && cp <= 0xdfff) ?
			            "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz" : in) == 0;
		}
	}
	json_decref(arr);

	return ok;
}

/*! \brief Appends one JSON string to a batch (\a *n strings so far). */
static void json_batch_add(tgc_ctl_buf_t *batch, size_t *n, const char *in)
{
	tgc_ctl_buf_put(batch, (*n == 0) ? "[" : ",", 1);
	tgc_ctl_buf_json_str(batch, in);
	(*n)++;
}

START_TEST(escape_every_code_point)
{
	/* Every code point, alone between two letters, and every pair of
	 * bytes: the terminal text is strict UTF-8 without one unsafe code
	 * point, and safe code points come through unchanged; the JSON string
	 * is printable ASCII and decodes to the input (invalid bytes to
	 * U+FFFD). JSON strings are checked in batches, as arrays. (ck_assert
	 * is slow in a loop this long: the first failure is kept.) */
	tgc_ctl_buf_t b, batch;
	tgc_ctl_buf_init(&b);
	tgc_ctl_buf_init(&batch);
	size_t nbatch = 0;
	uint32_t first = 1;
	char in[16];
	const char *bad = NULL;
	uint32_t bad_at = 0;
	for (uint32_t cp = 1; cp <= 0x10ffff && bad == NULL; cp++) {
		cp_input(cp, in);
		bool keep = !(cp >= 0xd800 && cp <= 0xdfff) && !tgc_ctl_cp_unsafe(cp);
		bad_at = cp;

		tgc_ctl_buf_safe_str(&b, in);
		if (b.failed || utf8_clean(tgc_ctl_buf_str(&b)) < 0) {
			bad = "text not clean";
		} else if (keep && strcmp(tgc_ctl_buf_str(&b), in) != 0) {
			bad = "text changed";
		}
		tgc_ctl_buf_reset(&b);

		json_batch_add(&batch, &nbatch, in);
		if (nbatch == JSON_BATCH || cp == 0x10ffff) {
			tgc_ctl_buf_put(&batch, "]", 1);
			if (batch.failed || !json_batch_ok(tgc_ctl_buf_str(&batch),
			                                   nbatch, &first)) {
				bad = "JSON not clean or changed (in the batch ending here)";
			}
			tgc_ctl_buf_reset(&batch);
			nbatch = 0;
			first = cp + 1;
		}
	}
	ck_assert_msg(bad == NULL, "U+%04X: %s", bad_at, bad);
	for (unsigned x = 0x100; x < 65536 && bad == NULL; x++) {
		in[0] = (char)(x >> 8);
		in[1] = (char)(x & 0xff);
		in[2] = '\0';
		bad_at = x;
		tgc_ctl_buf_safe_str(&b, in);
		if (utf8_clean(tgc_ctl_buf_str(&b)) < 0) {
			bad = "text not clean";
		}
		tgc_ctl_buf_reset(&b);
		json_batch_add(&batch, &nbatch, in);
		if (nbatch == JSON_BATCH || x == 65535) {
			tgc_ctl_buf_put(&batch, "]", 1);
			if (batch.failed || !json_batch_ok(tgc_ctl_buf_str(&batch),
			                                   nbatch, NULL)) {
				bad = "JSON not clean (in the batch ending here)";
			}
			tgc_ctl_buf_reset(&batch);
			nbatch = 0;
		}
	}
	ck_assert_msg(bad == NULL, "bytes %04x: %s", bad_at, bad);
	tgc_ctl_buf_free(&b);
	tgc_ctl_buf_free(&batch);
}
END_TEST

START_TEST(buffer)
{
	tgc_ctl_buf_t b;
	tgc_ctl_buf_init(&b);
	ck_assert_str_eq(tgc_ctl_buf_str(&b), "");
	for (int i = 0; i < 1000; i++) {
		tgc_ctl_buf_printf(&b, "%d,", i % 10);
	}
	ck_assert_uint_eq(b.len, 2000);
	ck_assert_uint_eq(strlen(tgc_ctl_buf_str(&b)), 2000);
	tgc_ctl_buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(tgc_ctl_buf_str(&b), "");
	tgc_ctl_buf_free(&b);
}
END_TEST

/*! \brief Fake nodes for the node lookup tests. */
static void fake_nodes(tgc_node_snap_t *n, size_t count)
{
	static const struct {
		const char *addr;
		uint16_t port;
		const char *mapped;
	} def[] = {
		{ "10.0.0.1", 5900, "192.168.1.100" },
		{ "10.0.0.2", 5900, "192.168.1.101" },
		{ "10.0.0.2", 5901, "192.168.1.102" },
		{ "fd00::1", 5900, NULL },
		{ "fd00::2", 5900, "192.168.1.104" },
		{ "10.0.0.5", 5900, "192.168.1.104" },
	};
	ck_assert_uint_le(count, sizeof(def) / sizeof(def[0]));
	memset(n, 0, count * sizeof(*n));
	for (size_t i = 0; i < count; i++) {
		ck_assert_int_eq(tgc_addr_parse(def[i].addr, &n[i].addr), KNOT_EOK);
		n[i].port = def[i].port;
		if (def[i].mapped != NULL) {
			ck_assert_int_eq(tgc_addr_parse(def[i].mapped, &n[i].mapped),
			                 KNOT_EOK);
		}
	}
}

/*! \brief Looks a node up and checks the outcome and the index. */
static void node_is(const tgc_node_snap_t *nodes, uint32_t count, const char *arg,
                    tgc_ctl_match_t expect, uint32_t expect_idx)
{
	uint32_t idx = UINT32_MAX;
	size_t ncands = 99;
	tgc_ctl_match_t m = tgc_ctl_node_find(nodes, count, arg, &idx, NULL, 0,
	                                      &ncands);
	ck_assert_msg(m == expect, "'%s': outcome %d, expected %d", arg, m, expect);
	if (expect == TGC_CTL_MATCH_ONE) {
		ck_assert_msg(idx == expect_idx, "'%s': index %u, expected %u", arg,
		              idx, expect_idx);
	}
}

START_TEST(node_parse)
{
	tgc_node_snap_t n[6];
	fake_nodes(n, 6);

	/* Indexes. */
	node_is(n, 6, "0", TGC_CTL_MATCH_ONE, 0);
	node_is(n, 6, "5", TGC_CTL_MATCH_ONE, 5);
	node_is(n, 6, "005", TGC_CTL_MATCH_ONE, 5);
	node_is(n, 6, "007", TGC_CTL_MATCH_NONE, 0);
	node_is(n, 6, "6", TGC_CTL_MATCH_NONE, 0);
	node_is(n, 6, "4294967296", TGC_CTL_MATCH_NONE, 0);
	node_is(n, 6, "99999999999999999999999", TGC_CTL_MATCH_INVALID, 0);
	node_is(n, 0, "0", TGC_CTL_MATCH_NONE, 0);

	/* Addresses, with and without ports, compared as values. */
	node_is(n, 6, "10.0.0.1", TGC_CTL_MATCH_ONE, 0);
	node_is(n, 6, "10.0.0.1@5900", TGC_CTL_MATCH_ONE, 0);
	node_is(n, 6, "10.0.0.1@5901", TGC_CTL_MATCH_NONE, 0);
	node_is(n, 6, "10.0.0.2@5901", TGC_CTL_MATCH_ONE, 2);
	node_is(n, 6, "fd00:0:0::1", TGC_CTL_MATCH_ONE, 3);
	node_is(n, 6, "FD00::2@5900", TGC_CTL_MATCH_ONE, 4);
	node_is(n, 6, "10.0.0.9", TGC_CTL_MATCH_NONE, 0);

	/* Mapped (LAN) addresses when no node address matches. */
	node_is(n, 6, "192.168.1.101", TGC_CTL_MATCH_ONE, 1);
	node_is(n, 6, "192.168.1.102@5901", TGC_CTL_MATCH_ONE, 2);
	node_is(n, 6, "192.168.1.103", TGC_CTL_MATCH_NONE, 0);

	/* Malformed. */
	node_is(n, 6, "", TGC_CTL_MATCH_INVALID, 0);
	node_is(n, 6, NULL, TGC_CTL_MATCH_INVALID, 0);
	node_is(n, 6, "-1", TGC_CTL_MATCH_INVALID, 0);
	node_is(n, 6, "1x", TGC_CTL_MATCH_INVALID, 0);
	node_is(n, 6, "node1", TGC_CTL_MATCH_INVALID, 0);
	node_is(n, 6, "10.0.0.1@", TGC_CTL_MATCH_INVALID, 0);
	node_is(n, 6, "10.0.0.1@0", TGC_CTL_MATCH_INVALID, 0);
	node_is(n, 6, "10.0.0.1@65536", TGC_CTL_MATCH_INVALID, 0);
	node_is(n, 6, "10.0.0.1@59x", TGC_CTL_MATCH_INVALID, 0);
	node_is(n, 6, "10.0.0.256", TGC_CTL_MATCH_INVALID, 0);
	node_is(n, 6, "10.0.0.0/24", TGC_CTL_MATCH_INVALID, 0);
	node_is(n, 6, "[fd00::1]@5900", TGC_CTL_MATCH_INVALID, 0);
	node_is(n, 6, "fd00::1:5900:1:2:3:4:5:6:7:8:9:10:11", TGC_CTL_MATCH_INVALID, 0);
}
END_TEST

START_TEST(node_ambiguous)
{
	tgc_node_snap_t n[6];
	fake_nodes(n, 6);

	uint32_t idx, cands[4];
	size_t ncands;
	ck_assert_int_eq(tgc_ctl_node_find(n, 6, "10.0.0.2", &idx, cands, 4, &ncands),
	                 TGC_CTL_MATCH_AMBIGUOUS);
	ck_assert_uint_eq(ncands, 2);
	ck_assert_uint_eq(cands[0], 1);
	ck_assert_uint_eq(cands[1], 2);

	/* Two nodes answered with the same LAN address. */
	ck_assert_int_eq(tgc_ctl_node_find(n, 6, "192.168.1.104", &idx, cands, 4,
	                                   &ncands), TGC_CTL_MATCH_AMBIGUOUS);
	ck_assert_uint_eq(ncands, 2);
	ck_assert_uint_eq(cands[0], 4);
	ck_assert_uint_eq(cands[1], 5);

	/* More candidates than room: all counted, the room filled. */
	ck_assert_int_eq(tgc_ctl_node_find(n, 6, "10.0.0.2", &idx, cands, 1, &ncands),
	                 TGC_CTL_MATCH_AMBIGUOUS);
	ck_assert_uint_eq(ncands, 2);
	ck_assert_uint_eq(cands[0], 1);

	/* A node address wins over a mapped address. */
	tgc_addr_parse("10.0.0.2", &n[0].mapped);
	ck_assert_int_eq(tgc_ctl_node_find(n, 6, "10.0.0.2@5901", &idx, NULL, 0, NULL),
	                 TGC_CTL_MATCH_ONE);
	ck_assert_uint_eq(idx, 2);
}
END_TEST

START_TEST(grid_widths)
{
	static const char *const head[] = { "IDX", "ADDRESS", "HEALTH", "NOTE" };
	static const bool right[] = { true, false, false, false };
	tgc_ctl_grid_t g;
	tgc_ctl_grid_init(&g, 4, head, right);
	const char *r1[] = { "0", "10.0.0.1", "up", "" };
	const char *r2[] = { "10", "fd00::1234:5678", NULL, "x" };
	tgc_ctl_grid_add(&g, r1);
	tgc_ctl_grid_add(&g, r2);

	tgc_ctl_buf_t b;
	tgc_ctl_buf_init(&b);
	tgc_ctl_grid_render(&g, &b);
	ck_buf(&b,
	       "IDX  ADDRESS          HEALTH  NOTE\n"
	       "  0  10.0.0.1         up\n"
	       " 10  fd00::1234:5678  -       x\n");

	/* Every line aligned: a long cell widens its whole column. */
	const char *r3[] = { "12345", "a", "unknown", "long note" };
	tgc_ctl_grid_add(&g, r3);
	tgc_ctl_grid_render(&g, &b);
	ck_buf(&b,
	       "  IDX  ADDRESS          HEALTH   NOTE\n"
	       "    0  10.0.0.1         up\n"
	       "   10  fd00::1234:5678  -        x\n"
	       "12345  a                unknown  long note\n");
	tgc_ctl_grid_free(&g);

	/* Only titles. */
	tgc_ctl_grid_init(&g, 2, head, NULL);
	tgc_ctl_grid_render(&g, &b);
	ck_buf(&b, "IDX  ADDRESS\n");
	tgc_ctl_grid_free(&g);
	tgc_ctl_buf_free(&b);
}
END_TEST

/*! \brief Looks an instance up and checks the outcome and the index. */
static void inst_is(const tgc_ctl_seg_t *segs, size_t count, const char *arg,
                    tgc_ctl_match_t expect, size_t expect_idx, size_t expect_cands)
{
	size_t idx = SIZE_MAX, cands[8], ncands = 99;
	tgc_ctl_match_t m = tgc_ctl_instance_find(segs, count, arg, &idx, cands, 8,
	                                          &ncands);
	ck_assert_msg(m == expect, "'%s': outcome %d, expected %d",
	              arg ? arg : "(null)", m, expect);
	if (expect == TGC_CTL_MATCH_ONE) {
		ck_assert_msg(idx == expect_idx, "'%s': index %zu, expected %zu",
		              arg ? arg : "(null)", idx, expect_idx);
	}
	if (expect == TGC_CTL_MATCH_AMBIGUOUS) {
		ck_assert_uint_eq(ncands, expect_cands);
	}
}

START_TEST(instance_match)
{
	tgc_ctl_seg_t segs[7] = {
		{ "tgcluster.a.example.a.example", "a.example", true, NULL, false },
		{ "tgcluster.b.example.b.example", "b.example", true, NULL, false },
		{ "tgcluster.b.example.www.b.example", "b.example", true, NULL, false },
		{ "tgcluster.secret", "", false, NULL, false },
		{ "tgcluster.a.example", "c.example", true, NULL, false },
		/* Not regular files: matched by name only. */
		{ "tgcluster.fifo", "", false, "a FIFO", false },
		{ "tgcluster.dir", "d.example", true, "a directory", true },
	};

	/* Omitted: only when exactly one exists. */
	inst_is(segs, 1, NULL, TGC_CTL_MATCH_ONE, 0, 0);
	inst_is(segs, 0, NULL, TGC_CTL_MATCH_NONE, 0, 0);
	inst_is(segs, 5, NULL, TGC_CTL_MATCH_AMBIGUOUS, 0, 5);

	/* Segment names, with or without the slash and the prefix. */
	inst_is(segs, 5, "tgcluster.b.example.b.example", TGC_CTL_MATCH_ONE, 1, 0);
	inst_is(segs, 5, "/tgcluster.b.example.b.example", TGC_CTL_MATCH_ONE, 1, 0);
	inst_is(segs, 5, "b.example.www.b.example", TGC_CTL_MATCH_ONE, 2, 0);
	inst_is(segs, 5, "secret", TGC_CTL_MATCH_ONE, 3, 0);
	inst_is(segs, 5, "/secret", TGC_CTL_MATCH_ONE, 3, 0);
	/* A segment name wins over a zone of the same text. */
	inst_is(segs, 5, "a.example", TGC_CTL_MATCH_ONE, 4, 0);

	/* Zones: case-insensitive, trailing dot ignored, unique. */
	inst_is(segs, 5, "C.Example.", TGC_CTL_MATCH_ONE, 4, 0);
	inst_is(segs, 5, "c.example", TGC_CTL_MATCH_ONE, 4, 0);
	inst_is(segs, 5, "b.example", TGC_CTL_MATCH_AMBIGUOUS, 0, 2);
	inst_is(segs, 5, "B.EXAMPLE.", TGC_CTL_MATCH_AMBIGUOUS, 0, 2);

	/* No match, unreadable zones never match, malformed. */
	inst_is(segs, 5, "nope", TGC_CTL_MATCH_NONE, 0, 0);
	inst_is(segs, 5, "tgcluster.nope", TGC_CTL_MATCH_NONE, 0, 0);
	inst_is(segs, 5, "tgcluster.", TGC_CTL_MATCH_NONE, 0, 0);
	inst_is(segs, 5, "", TGC_CTL_MATCH_INVALID, 0, 0);
	inst_is(segs, 5, "/", TGC_CTL_MATCH_INVALID, 0, 0);

	/* What is not a regular file: found by its name (the caller says
	 * what it is), never by a zone, never counted as an instance. */
	inst_is(segs, 7, "fifo", TGC_CTL_MATCH_ONE, 5, 0);
	inst_is(segs, 7, "tgcluster.dir", TGC_CTL_MATCH_ONE, 6, 0);
	inst_is(segs, 7, "d.example", TGC_CTL_MATCH_NONE, 0, 0);
	inst_is(segs, 7, NULL, TGC_CTL_MATCH_AMBIGUOUS, 0, 5);
	inst_is(segs + 4, 3, NULL, TGC_CTL_MATCH_ONE, 0, 0);
	inst_is(segs + 5, 2, NULL, TGC_CTL_MATCH_NONE, 0, 0);
}
END_TEST

START_TEST(instance_match_live)
{
	/* Leftovers of a stopped knotd next to the live segment of a zone. */
	tgc_ctl_seg_t segs[5] = {
		{ "tgcluster.old1", "b.example", true, NULL, false },
		{ "tgcluster.b.example.b.example", "b.example", true, NULL, true },
		{ "tgcluster.old2", "B.example.", true, NULL, false },
		{ "tgcluster.c.example", "c.example", true, NULL, true },
		/* Not a segment: never the live one, whatever the flag says. */
		{ "tgcluster.fifo", "b.example", true, "a FIFO", true },
	};

	/* Exactly one live segment of the zone: it, not ambiguous. */
	inst_is(segs, 5, "b.example", TGC_CTL_MATCH_ONE, 1, 0);
	inst_is(segs, 3, "b.example.", TGC_CTL_MATCH_ONE, 1, 0);
	/* Only leftovers: ambiguous, all of them candidates. */
	inst_is(segs, 1, "b.example", TGC_CTL_MATCH_ONE, 0, 0);
	segs[1].live = false;
	inst_is(segs, 5, "b.example", TGC_CTL_MATCH_AMBIGUOUS, 0, 3);
	/* Two live segments of one zone: still ambiguous. */
	segs[0].live = true;
	segs[1].live = true;
	inst_is(segs, 5, "b.example", TGC_CTL_MATCH_AMBIGUOUS, 0, 3);
	segs[0].live = false;

	/* Omitted: exactly one live segment on the host is the one. */
	inst_is(segs, 3, NULL, TGC_CTL_MATCH_ONE, 1, 0);
	inst_is(segs, 5, NULL, TGC_CTL_MATCH_AMBIGUOUS, 0, 4);
	segs[3].live = false;
	inst_is(segs, 5, NULL, TGC_CTL_MATCH_ONE, 1, 0);
	/* A name always wins, live or not. */
	inst_is(segs, 5, "old2", TGC_CTL_MATCH_ONE, 2, 0);
}
END_TEST

START_TEST(path_kinds)
{
	char dir[] = "/tmp/tgc-ctl-kinds-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[5][64];
	const char *names[5] = { "file", "fifo", "dir", "link", "dangling" };
	for (int i = 0; i < 5; i++) {
		snprintf(path[i], sizeof(path[i]), "%s/%s", dir, names[i]);
	}
	FILE *f = fopen(path[0], "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(mkfifo(path[1], 0600), 0);
	ck_assert_int_eq(mkdir(path[2], 0700), 0);
	ck_assert_int_eq(symlink(path[0], path[3]), 0);
	ck_assert_int_eq(symlink("/nonexistent/x", path[4]), 0);

	ck_assert_ptr_null(tgc_ctl_path_kind(path[0]));
	ck_assert_str_eq(tgc_ctl_path_kind(path[1]), "a FIFO"); /* no open: no block */
	ck_assert_str_eq(tgc_ctl_path_kind(path[2]), "a directory");
	/* A link is a link, even to a regular file. */
	ck_assert_str_eq(tgc_ctl_path_kind(path[3]), "a symbolic link");
	ck_assert_str_eq(tgc_ctl_path_kind(path[4]), "a symbolic link");
	ck_assert_str_eq(tgc_ctl_path_kind("/dev/null"), "a character device");
	ck_assert_ptr_null(tgc_ctl_path_kind("/nonexistent/x"));
	ck_assert_ptr_null(tgc_ctl_path_kind(NULL));

	for (int i = 4; i >= 0; i--) {
		ck_assert_int_eq((i == 2) ? rmdir(path[i]) : unlink(path[i]), 0);
	}
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(attach_fifo_never_blocks)
{
	/* A FIFO that appears at a segment's name after the CLI looked: the
	 * attach must fail at once, not wait for a writer (the test's timeout
	 * would end a blocked open). A link is not followed. */
	char name[64], path[96];
	snprintf(name, sizeof(name), "tgcluster.test-ctl-fifo-%d", (int)getpid());
	snprintf(path, sizeof(path), "/dev/shm/%s", name);
	(void)unlink(path);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	tgc_table_t t;
	for (int w = 0; w < 2; w++) {
		const char *err = NULL;
		ck_assert_int_ne(tgc_table_attach(&t, name, w == 1, &err), KNOT_EOK);
		ck_assert_ptr_null(t.hdr);
	}
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(symlink("/dev/zero", path), 0);
	ck_assert_int_ne(tgc_table_attach(&t, name, false, NULL), KNOT_EOK);
	ck_assert_int_eq(unlink(path), 0);
}
END_TEST

START_TEST(heartbeat)
{
	tgc_ctl_status_t st = { .interval_ms = 1000, .now_ms = 100000 };

	ck_assert_int_eq(tgc_ctl_heartbeat_age(&st), -1);
	ck_assert(tgc_ctl_heartbeat_stale(&st));

	st.heartbeat_ms = 100000 - 4000;
	ck_assert_int_eq(tgc_ctl_heartbeat_age(&st), 4000);
	ck_assert(!tgc_ctl_heartbeat_stale(&st));
	st.heartbeat_ms = 100000 - 4001;
	ck_assert(tgc_ctl_heartbeat_stale(&st));

	/* A heartbeat in the future (clock step) is fresh, age 0. */
	st.heartbeat_ms = 200000;
	ck_assert_int_eq(tgc_ctl_heartbeat_age(&st), 0);
	ck_assert(!tgc_ctl_heartbeat_stale(&st));
}
END_TEST

/* -- Status of real segments ---------------------------------------------- */

/*! \brief Segment name of the current test. */
static char seg_name[TGC_TABLE_NAME_MAX + 1];
/*! \brief Segment of the current test. */
static tgc_table_t seg_table;

/*!
 * \brief Names the segment of a test case (unchecked fixture: runs in the
 *        runner process, so the name is known there even with CK_FORK).
 */
static void seg_name_setup(void)
{
	static unsigned serial;
	snprintf(seg_name, sizeof(seg_name), "/tgcluster.test-ctl-%d-%u",
	         (int)getpid(), serial++);
}

/*! \brief Removes the segment even after a failed (forked) test. */
static void seg_name_teardown(void)
{
	char tr[TGC_TABLE_NAME_MAX + 8];
	snprintf(tr, sizeof(tr), "%s-tr", seg_name);
	(void)tgc_table_unlink(seg_name);
	(void)tgc_table_unlink(tr);
}

/*! \brief Creates a three-node segment (checked fixture). */
static void seg_setup(void)
{
	tgc_table_node_t nodes[3];
	memset(nodes, 0, sizeof(nodes));
	ck_assert_int_eq(tgc_addr_parse("127.0.0.11", &nodes[0].addr), KNOT_EOK);
	ck_assert_int_eq(tgc_addr_parse("192.168.1.100", &nodes[0].mapped), KNOT_EOK);
	ck_assert_int_eq(tgc_addr_parse("127.0.0.12", &nodes[1].addr), KNOT_EOK);
	ck_assert_int_eq(tgc_addr_parse("fd00::1234:5678:9abc", &nodes[2].addr),
	                 KNOT_EOK);
	nodes[0].port = 5900;
	nodes[1].port = 5900;
	nodes[2].port = 15901;
	nodes[2].tier = 1; /* A backup. */
	tgc_table_spec_t spec = {
		.role = TGC_ROLE_LB,
		.zone = "cluster.test",
		.instance = seg_name + 1,
		.name = "we\"ird\\name\x01.cluster.test",
		.nodes = nodes,
		.node_count = 3,
		.check = TGC_CHECK_RFB,
		.interval_ms = 200,
		.timeout_ms = 100,
		.rise = 2,
		.fall = 3,
	};
	const char *err = NULL;
	(void)tgc_table_unlink(seg_name);
	ck_assert_int_eq(tgc_table_open(&seg_table, seg_name, &spec, NULL, &err),
	                 KNOT_EOK);
}

/*! \brief Unmaps and removes the segment (check fixture). */
static void seg_teardown(void)
{
	tgc_table_close(&seg_table);
	(void)tgc_table_unlink(seg_name);
}

/*! \brief Writes probe details as the checker would. */
static void put_probe(uint32_t idx, tgc_health_t health, tgc_probe_t probe,
                      uint32_t ok, uint32_t fail, uint32_t rtt, uint64_t since,
                      uint64_t probes)
{
	tgc_node_rec_t *r = &seg_table.nodes[idx];
	ck_assert(tgc_table_write_begin(r));
	atomic_store(&r->health, (uint8_t)health);
	atomic_store(&r->last_probe, (uint8_t)probe);
	atomic_store(&r->consec_ok, ok);
	atomic_store(&r->consec_fail, fail);
	atomic_store(&r->last_rtt_us, rtt);
	atomic_store(&r->since_ms, since);
	atomic_store(&r->last_check_ms, since);
	atomic_store(&r->probes, probes);
	tgc_table_write_end(&seg_table, r);
}

/*! \brief Column of \a title in a header line. */
static size_t col_of(const char *line, const char *title)
{
	const char *p = strstr(line, title);
	ck_assert_ptr_nonnull(p);
	return (size_t)(p - line);
}

START_TEST(status_render)
{
	uint64_t now = 10 * 86400000ULL;
	put_probe(0, TGC_HEALTH_UP, TGC_PROBE_OK, 7, 0, 250, now - 65000, 9);
	put_probe(1, TGC_HEALTH_DOWN, TGC_PROBE_REFUSED, 0, 3, 1234, now - 1500, 9);
	atomic_store(&seg_table.nodes[0].answers, 123456789);
	ck_assert_int_eq(tgc_table_admin_set(&seg_table, 1, TGC_ADMIN_DRAIN), KNOT_EOK);
	atomic_store(&seg_table.hdr->writer_pid, 4242);
	atomic_store(&seg_table.hdr->heartbeat_ms, now - 300);

	/* A read-only attachment, as the CLI makes. */
	tgc_table_t ro;
	ck_assert_int_eq(tgc_table_attach(&ro, seg_name + 1, false, NULL), KNOT_EOK);
	tgc_ctl_status_t st;
	ck_assert_int_eq(tgc_ctl_status_load(&st, &ro, now), KNOT_EOK);
	tgc_table_close(&ro);
	ck_assert_str_eq(st.segment, seg_name + 1);
	ck_assert_uint_eq(st.node_count, 3);
	ck_assert_int_eq(tgc_ctl_in_state(&st, 0), 65000);
	ck_assert_int_eq(tgc_ctl_in_state(&st, 2), -1);

	tgc_ctl_buf_t b;
	tgc_ctl_buf_init(&b);
	tgc_ctl_render_status(&b, &st);
	ck_assert(!b.failed);
	const char *text = tgc_ctl_buf_str(&b);

	/* Header: zone, name (terminal-safe), check parameters, heartbeat. */
	char *expect_l1 = NULL;
	ck_assert_int_gt(asprintf(&expect_l1, "%s: zone cluster.test, name "
	                 "we\"ird\\name\\x01.cluster.test, role lb, 3 nodes, knotd pid "
	                 "4242\ncheck rfb, interval 200 ms, timeout 100 ms, rise 2, "
	                 "fall 3; checker heartbeat 300ms ago\nmin-live 0; zone "
	                 "admin records: none taken in yet\n\n", seg_name + 1), 0);
	ck_assert_msg(strncmp(text, expect_l1, strlen(expect_l1)) == 0,
	              "header:\n%s\nexpected:\n%s", text, expect_l1);
	free(expect_l1);
	ck_assert_ptr_null(strstr(text, "STALE"));

	/* Table: every row lines up under the titles. */
	const char *table = strstr(text, "\n\n") + 2;
	char *copy = strdup(table);
	char *save = NULL;
	char *head = strtok_r(copy, "\n", &save);
	size_t c_health = col_of(head, "HEALTH"), c_admin = col_of(head, "ADMIN");
	size_t c_tier = col_of(head, "TIER");
	size_t c_answers_end = col_of(head, "ANSWERS") + strlen("ANSWERS");
	size_t c_agent = col_of(head, "AGENT");
	size_t c_source = col_of(head, "SOURCE"), c_reason = col_of(head, "REASON");
	ck_assert_uint_eq(strlen(head), c_reason + strlen("REASON"));
	const char *health[] = { "up", "down", "unknown" };
	const char *admin[] = { "auto", "drain", "auto" };
	const char *tier[] = { "primary", "primary", "backup" };
	for (int i = 0; i < 3; i++) {
		char *row = strtok_r(NULL, "\n", &save);
		ck_assert_ptr_nonnull(row);
		ck_assert_msg(strncmp(row + c_tier, tier[i], strlen(tier[i])) == 0,
		              "row %d: %s", i, row);
		ck_assert_msg(strncmp(row + c_health, health[i], strlen(health[i])) == 0,
		              "row %d: %s", i, row);
		ck_assert_msg(strncmp(row + c_admin, admin[i], strlen(admin[i])) == 0,
		              "row %d: %s", i, row);
		/* ANSWERS is right-aligned and the widest row sets the width;
		 * AGENT follows ("-": no agent polled); no admin source or
		 * reason without knotd's sync. */
		ck_assert(strlen(row) > c_answers_end && row[c_answers_end - 1] != ' ');
		ck_assert(row[c_answers_end] == ' ');
		ck_assert_msg(strncmp(row + c_agent, "-  ", 3) == 0, "row %d: %s", i, row);
		ck_assert_msg(strncmp(row + c_source, "-  ", 3) == 0, "row %d: %s", i, row);
		ck_assert_str_eq(row + c_reason, "-");
	}
	ck_assert_ptr_null(strtok_r(NULL, "\n", &save));
	free(copy);
	ck_assert_ptr_nonnull(strstr(table, "192.168.1.100"));
	ck_assert_ptr_nonnull(strstr(table, "fd00::1234:5678:9abc"));
	ck_assert_ptr_nonnull(strstr(table, "1m05s"));
	ck_assert_ptr_nonnull(strstr(table, "1.2ms"));
	ck_assert_ptr_nonnull(strstr(table, "refused"));
	tgc_ctl_buf_reset(&b);

	/* Stale heartbeat: older than 3 intervals + 1 s. */
	st.heartbeat_ms = now - 1601;
	tgc_ctl_render_status(&b, &st);
	ck_assert_ptr_nonnull(strstr(tgc_ctl_buf_str(&b),
	                      "checker heartbeat 1.6s ago STALE\n"));
	tgc_ctl_buf_reset(&b);
	st.heartbeat_ms = 0;
	tgc_ctl_render_status(&b, &st);
	ck_assert_ptr_nonnull(strstr(tgc_ctl_buf_str(&b),
	                      "checker heartbeat never STALE\n"));

	tgc_ctl_buf_free(&b);
	tgc_ctl_status_free(&st);
}
END_TEST

/*! \brief JSON admin fields of a node with no admin state set. */
#define ADMIN_NONE "\"admin_source\":\"none\",\"admin_local\":\"auto\"," \
	"\"admin_local_uid\":null,\"admin_zone\":\"auto\",\"zone_serial\":null," \
	"\"reason\":null,\"admin_guarded\":false,\"admin_since_ms\":null,"

START_TEST(status_json)
{
	uint64_t now = 10 * 86400000ULL;
	put_probe(0, TGC_HEALTH_UP, TGC_PROBE_OK, 7, 0, 250, now - 65000, 9);
	atomic_store(&seg_table.nodes[0].answers, 5);
	ck_assert_int_eq(tgc_table_admin_set(&seg_table, 2, TGC_ADMIN_DOWN), KNOT_EOK);
	atomic_store(&seg_table.hdr->heartbeat_ms, now - 300);
	/* Node 1's agent: drained, 17 sessions, 50 %, no maxconn. */
	atomic_store(&seg_table.nodes[1].agent_flags, TGC_AGENT_F_POLLED |
	             TGC_AGENT_F_ANSWERED | TGC_AGENT_F_SESSIONS | TGC_AGENT_F_PCT);
	atomic_store(&seg_table.nodes[1].agent_state, TGC_AGENT_DRAIN);
	atomic_store(&seg_table.nodes[1].agent_sessions, 17);
	atomic_store(&seg_table.nodes[1].agent_pct, 50);
	atomic_store(&seg_table.nodes[1].agent_maxconn, 99); /* not flagged */
	atomic_store(&seg_table.nodes[1].agent_errors, 3);
	/* Weights and capacities as the checker writes them: node 0 without
	 * an agent (weight 3), node 1 weight 6 x 50 %; node 2 not written. */
	atomic_fetch_or(&seg_table.nodes[0].agent_flags, TGC_AGENT_F_CAPACITY);
	atomic_store(&seg_table.nodes[0].weight, 3);
	atomic_store(&seg_table.nodes[0].capacity_x100, 300);
	atomic_fetch_or(&seg_table.nodes[1].agent_flags, TGC_AGENT_F_CAPACITY);
	atomic_store(&seg_table.nodes[1].weight, 6);
	atomic_store(&seg_table.nodes[1].capacity_x100, 300);

	tgc_ctl_status_t st;
	ck_assert_int_eq(tgc_ctl_status_load(&st, &seg_table, now), KNOT_EOK);
	tgc_ctl_buf_t b;
	tgc_ctl_buf_init(&b);
	tgc_ctl_render_json(&b, &st);
	ck_assert(!b.failed);

	char *expect = NULL;
	ck_assert_int_gt(asprintf(&expect,
	    "{\"version\":1,\"segment\":\"%s\",\"zone\":\"cluster.test\","
	    "\"name\":\"we\\\"ird\\\\name\\u0001.cluster.test\",\"role\":\"lb\","
	    "\"check\":{\"kind\":\"rfb\",\"interval_ms\":200,\"timeout_ms\":100,"
	    "\"rise\":2,\"fall\":3},\"writer_pid\":null,\"created_ms\":%" PRIu64
	    ",\"now_ms\":%" PRIu64 ",\"generation\":%" PRIu64 ","
	    "\"heartbeat_ms\":%" PRIu64 ",\"heartbeat_age_ms\":300,"
	    "\"heartbeat_stale\":false,\"all_down_answers\":0,\"min_live\":0,\"zone_serial\":null,"
	    "\"zone_malformed\":0,\"admin_guarded\":0,\"nodes\":["
	    "{\"index\":0,\"address\":\"127.0.0.11\",\"port\":5900,"
	    "\"mapped\":\"192.168.1.100\",\"tier\":\"primary\",\"health\":\"up\",\"admin\":\"auto\","
	    ADMIN_NONE
	    "\"since_ms\":%" PRIu64 ",\"in_state_ms\":65000,\"last_probe\":\"ok\","
	    "\"last_check_ms\":%" PRIu64 ",\"last_rtt_us\":250,\"consec_ok\":7,"
	    "\"consec_fail\":0,\"probes\":9,\"transitions\":0,\"answers\":5,"
	    "\"agent\":null,\"weight\":3,\"capacity\":3.0,\"load_pct\":null},"
	    "{\"index\":1,\"address\":\"127.0.0.12\",\"port\":5900,\"mapped\":null,"
	    "\"tier\":\"primary\",\"health\":\"unknown\",\"admin\":\"auto\"," ADMIN_NONE "\"since_ms\":null,"
	    "\"in_state_ms\":null,\"last_probe\":\"none\",\"last_check_ms\":null,"
	    "\"last_rtt_us\":null,\"consec_ok\":0,\"consec_fail\":0,\"probes\":0,"
	    "\"transitions\":0,\"answers\":0,\"agent\":{\"answered\":true,"
	    "\"down\":false,\"drain\":true,\"maint\":false,\"sessions\":17,"
	    "\"maxconn\":null,\"weight_pct\":50,\"errors\":3},\"weight\":6,"
	    "\"capacity\":3.0,\"load_pct\":566.67},"
	    "{\"index\":2,\"address\":\"fd00::1234:5678:9abc\",\"port\":15901,"
	    "\"mapped\":null,\"tier\":\"backup\",\"health\":\"unknown\",\"admin\":\"down\","
	    "\"admin_source\":\"none\",\"admin_local\":\"down\","
	    "\"admin_local_uid\":%u,\"admin_zone\":\"auto\",\"zone_serial\":null,"
	    "\"reason\":null,\"admin_guarded\":false,\"admin_since_ms\":null,"
	    "\"since_ms\":null,\"in_state_ms\":null,\"last_probe\":\"none\","
	    "\"last_check_ms\":null,\"last_rtt_us\":null,\"consec_ok\":0,"
	    "\"consec_fail\":0,\"probes\":0,\"transitions\":0,\"answers\":0,"
	    "\"agent\":null,\"weight\":null,\"capacity\":null,\"load_pct\":null}"
	    "],\"cache\":null}\n", seg_name + 1, st.created_ms, now, st.generation, now - 300,
	    now - 65000, now - 65000, (unsigned)getuid()), 0);
	ck_assert_str_eq(tgc_ctl_buf_str(&b), expect);
	free(expect);
	/* Two changes so far: one probe write and one admin write. */
	ck_assert_uint_eq(st.generation, 2);

	tgc_ctl_buf_free(&b);
	tgc_ctl_status_free(&st);
}
END_TEST

static int lines_with(const char *text, const char *prefix);

START_TEST(status_capacity)
{
	/* Capacity and load in the status table and the metrics: a node with
	 * an agent (weight 4 x maxconn 100, 100 sessions), one with a weight
	 * of 0.5 x 3 (no maxconn: relative units, no sessions), one the
	 * checker has not written. */
	tgc_node_snap_t nodes[3] = {
		{ .agent_flags = TGC_AGENT_F_POLLED | TGC_AGENT_F_ANSWERED |
		                 TGC_AGENT_F_SESSIONS | TGC_AGENT_F_MAXCONN |
		                 TGC_AGENT_F_CAPACITY,
		  .agent_sessions = 100, .agent_maxconn = 100, .weight = 4,
		  .capacity_x100 = 40000, .port = 5900 },
		{ .agent_flags = TGC_AGENT_F_CAPACITY, .weight = 3,
		  .capacity_x100 = 150, .agent_pct = 50, .port = 5900 },
		{ .agent_sessions = 7, .weight = 9, .capacity_x100 = 900,
		  .port = 5900 },
	};
	for (int i = 0; i < 3; i++) {
		nodes[i].addr.family = AF_INET;
		nodes[i].addr.len = 4;
		nodes[i].addr.bytes[0] = 127;
		nodes[i].addr.bytes[3] = 21 + i;
	}
	tgc_ctl_status_t st = { .node_count = 3, .nodes = nodes, .role = TGC_ROLE_LB,
	                        .writer_alive = true, .writer_pid = 1 };
	snprintf(st.zone, sizeof(st.zone), "cluster.test");
	snprintf(st.name, sizeof(st.name), "cluster.test");
	snprintf(st.segment, sizeof(st.segment), "seg");

	double cap, load;
	ck_assert(tgc_ctl_node_load(&nodes[0], &cap, &load));
	ck_assert(cap == 400.0 && load == 25.0);
	ck_assert(tgc_ctl_node_load(&nodes[1], &cap, &load));
	ck_assert(cap == 1.5 && load == -1.0);
	ck_assert(!tgc_ctl_node_load(&nodes[2], &cap, &load));

	tgc_ctl_buf_t b;
	tgc_ctl_buf_init(&b);
	tgc_ctl_render_status(&b, &st);
	ck_assert(!b.failed);
	const char *table = strstr(tgc_ctl_buf_str(&b), "\n\n") + 2;
	char *copy = strdup(table);
	char *save = NULL;
	char *head = strtok_r(copy, "\n", &save);
	/* Right-aligned: the cell ends where the title ends. */
	size_t c_cap_end = col_of(head, "CAPACITY") + strlen("CAPACITY");
	size_t c_load_end = col_of(head, "LOAD") + strlen("LOAD");
	size_t c_agent = col_of(head, "AGENT");
	const char *caps[] = { "400", "1.50", "-" };
	const char *loads[] = { "25.0%", "-", "-" };
	const char *agents[] = { "ready 100/100", "-", "-" };
	for (int i = 0; i < 3; i++) {
		char *row = strtok_r(NULL, "\n", &save);
		ck_assert_ptr_nonnull(row);
		ck_assert_msg(strncmp(row + c_cap_end - strlen(caps[i]), caps[i],
		                      strlen(caps[i])) == 0 && row[c_cap_end] == ' ',
		              "row %d: %s", i, row);
		ck_assert_msg(strncmp(row + c_load_end - strlen(loads[i]), loads[i],
		                      strlen(loads[i])) == 0 && row[c_load_end] == ' ',
		              "row %d: %s", i, row);
		ck_assert_msg(strncmp(row + c_agent, agents[i], strlen(agents[i])) == 0,
		              "row %d: %s", i, row);
	}
	free(copy);
	tgc_ctl_buf_reset(&b);

	tgc_ctl_render_metrics(&b, &st, 1);
	ck_assert(!b.failed);
	const char *text = tgc_ctl_buf_str(&b);
	const char *lbl = "zone=\"cluster.test\",cluster=\"cluster.test\","
	                  "segment=\"seg\"";
	char want[512];
	snprintf(want, sizeof(want), "\ntgcluster_node_weight{%s,address=\"127.0.0.21\","
	         "port=\"5900\"} 4\n", lbl);
	ck_assert_msg(strstr(text, want) != NULL, "%s", text);
	snprintf(want, sizeof(want), "\ntgcluster_node_capacity{%s,address=\"127.0.0.22\","
	         "port=\"5900\"} 1.50\n", lbl);
	ck_assert_msg(strstr(text, want) != NULL, "%s", text);
	snprintf(want, sizeof(want), "\ntgcluster_node_load_ratio{%s,address=\"127.0.0.21\","
	         "port=\"5900\"} 0.250000\n", lbl);
	ck_assert_msg(strstr(text, want) != NULL, "%s", text);
	ck_assert_ptr_nonnull(strstr(text, "# TYPE tgcluster_node_capacity gauge\n"));
	/* Unknown: no sample (node 2 unwritten; node 1 reports no sessions). */
	ck_assert_int_eq(lines_with(text, "tgcluster_node_weight{"), 2);
	ck_assert_int_eq(lines_with(text, "tgcluster_node_capacity{"), 2);
	ck_assert_int_eq(lines_with(text, "tgcluster_node_load_ratio{"), 1);
	tgc_ctl_buf_free(&b);
}
END_TEST

START_TEST(json_hostile)
{
	/* A snapshot as a hostile or corrupt segment may hold: text with
	 * invalid UTF-8, escape sequences, bidi controls and DEL, filling
	 * whole fields, and counters above INT64_MAX. */
	tgc_node_snap_t node = { .admin_zone = TGC_ADMIN_DRAIN,
	                         .last_probe = TGC_PROBE_OK,
	                         .probes = UINT64_MAX, .answers = (1ULL << 63),
	                         .transitions = INT64_MAX,
	                         .consec_ok = UINT32_MAX };
	tgc_ctl_status_t st = { .node_count = 1, .nodes = &node,
	                        .now_ms = UINT64_MAX, .generation = UINT64_MAX,
	                        .check = 9999, .role = 7 };
	memset(st.zone, 0xff, sizeof(st.zone) - 1);
	memset(st.segment, '"', sizeof(st.segment) - 1);
	snprintf(st.name, sizeof(st.name), "\033[2J\xc2\x9b\xe2\x80\xae\x7f\xc3");
	memset(node.zone_reason, 0xc3, sizeof(node.zone_reason) - 1);

	tgc_ctl_buf_t b;
	tgc_ctl_buf_init(&b);
	tgc_ctl_render_json(&b, &st);
	ck_assert(!b.failed);
	const char *text = tgc_ctl_buf_str(&b);
	size_t len = strlen(text);
	ck_assert_uint_gt(len, 1);
	ck_assert_int_eq(text[len - 1], '\n');
	for (size_t i = 0; i + 1 < len; i++) {
		ck_assert_msg(text[i] >= 0x20 && text[i] <= 0x7e, "byte %zu: %02x", i,
		              (unsigned char)text[i]);
	}
	json_error_t err;
	json_t *doc = json_loads(text, 0, &err);
	ck_assert_msg(doc != NULL, "%s at %d", err.text, err.position);

	/* Every invalid byte is one U+FFFD; valid text comes back as it was. */
	const char *zone = json_string_value(json_object_get(doc, "zone"));
	ck_assert_uint_eq(strlen(zone), 3 * (sizeof(st.zone) - 1));
	ck_assert(strncmp(zone, "\xef\xbf\xbd\xef\xbf\xbd", 6) == 0);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "name")),
	                 "\033[2J\xc2\x9b\xe2\x80\xae\x7f\xef\xbf\xbd");
	ck_assert_uint_eq(strlen(json_string_value(json_object_get(doc, "segment"))),
	                  sizeof(st.segment) - 1);
	ck_assert_str_eq(json_string_value(json_object_get(doc, "role")), "invalid");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc,
	                 "check"), "kind")), "invalid");
	/* Integers stay integers: above INT64_MAX, INT64_MAX. */
	ck_assert(json_integer_value(json_object_get(doc, "now_ms")) == INT64_MAX);
	ck_assert(json_integer_value(json_object_get(doc, "generation")) == INT64_MAX);
	json_t *n = json_array_get(json_object_get(doc, "nodes"), 0);
	ck_assert_uint_eq(strlen(json_string_value(json_object_get(n, "reason"))),
	                  3 * (sizeof(node.zone_reason) - 1));
	ck_assert(json_integer_value(json_object_get(n, "probes")) == INT64_MAX);
	ck_assert(json_integer_value(json_object_get(n, "answers")) == INT64_MAX);
	ck_assert(json_integer_value(json_object_get(n, "transitions")) == INT64_MAX);
	ck_assert(json_integer_value(json_object_get(n, "consec_ok")) == UINT32_MAX);
	ck_assert(json_is_null(json_object_get(n, "since_ms")));
	json_decref(doc);
	tgc_ctl_buf_free(&b);
}
END_TEST

START_TEST(list_render)
{
	uint64_t now = 10 * 86400000ULL;
	atomic_store(&seg_table.hdr->writer_pid, 77);
	atomic_store(&seg_table.hdr->heartbeat_ms, now - 100);
	tgc_ctl_status_t st;
	ck_assert_int_eq(tgc_ctl_status_load(&st, &seg_table, now), KNOT_EOK);

	tgc_ctl_list_entry_t e[2] = {
		{ .segment = seg_name + 1, .st = &st },
		{ .segment = "tgcluster.other", .error = "permission denied" },
	};
	tgc_ctl_buf_t b;
	tgc_ctl_buf_init(&b);
	tgc_ctl_render_list(&b, e, 2, false);
	const char *text = tgc_ctl_buf_str(&b);
	ck_assert(strncmp(text, "SEGMENT ", 8) == 0);
	ck_assert_ptr_nonnull(strstr(text, "  cluster.test  lb  "));
	ck_assert_ptr_nonnull(strstr(text, "  100ms\n"));
	ck_assert_ptr_nonnull(strstr(text, "permission denied\n"));
	ck_assert_ptr_null(strstr(text, " \n"));
	tgc_ctl_buf_reset(&b);

	e[0].writer_gone = true;
	tgc_ctl_render_list(&b, e, 2, true);
	char *expect = NULL;
	ck_assert_int_gt(asprintf(&expect,
	    "{\"version\":1,\"segments\":["
	    "{\"segment\":\"%s\",\"zone\":\"cluster.test\","
	    "\"name\":\"we\\\"ird\\\\name\\u0001.cluster.test\",\"role\":\"lb\","
	    "\"node_count\":3,\"writer_pid\":77,\"writer_alive\":false,"
	    "\"heartbeat_age_ms\":100,\"heartbeat_stale\":false,\"error\":null},"
	    "{\"segment\":\"tgcluster.other\",\"zone\":null,\"name\":null,"
	    "\"role\":null,\"node_count\":null,\"writer_pid\":null,"
	    "\"writer_alive\":null,\"heartbeat_age_ms\":null,"
	    "\"heartbeat_stale\":null,\"error\":\"permission denied\"}"
	    "]}\n", seg_name + 1), 0);
	ck_assert_str_eq(tgc_ctl_buf_str(&b), expect);
	free(expect);
	tgc_ctl_buf_reset(&b);

	tgc_ctl_render_list(&b, e, 0, true);
	ck_buf(&b, "{\"version\":1,\"segments\":[]}\n");

	tgc_ctl_buf_free(&b);
	tgc_ctl_status_free(&st);
}
END_TEST

START_TEST(prom_label_escape)
{
	tgc_ctl_buf_t b;
	tgc_ctl_buf_init(&b);
	/* The three escapes of the exposition format, nothing else. */
	tgc_ctl_buf_prom_label(&b, "a\\b\"c\nd\te\x01" "f{g}=h,i");
	ck_buf(&b, "a\\\\b\\\"c\\nd\te\x01" "f{g}=h,i");
	tgc_ctl_buf_reset(&b);
	/* UTF-8 is kept; a byte that is not UTF-8 becomes U+FFFD. */
	tgc_ctl_buf_prom_label(&b, "\xc3\xa4\xff" "x\xc0\xaf" "y\xed\xa0\x80");
	ck_buf(&b, "\xc3\xa4\xef\xbf\xbdx\xef\xbf\xbd\xef\xbf\xbdy"
	           "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	tgc_ctl_buf_reset(&b);
	tgc_ctl_buf_prom_label(&b, NULL);
	tgc_ctl_buf_prom_label(&b, "");
	ck_buf(&b, "");
	tgc_ctl_buf_free(&b);
}
END_TEST

/*! \brief Counts the lines of \a text starting with \a prefix. */
static int lines_with(const char *text, const char *prefix)
{
	int n = 0;
	size_t len = strlen(prefix);
	for (const char *l = text; *l != '\0'; ) {
		if (strncmp(l, prefix, len) == 0) {
			n++;
		}
		const char *nl = strchr(l, '\n');
		if (nl == NULL) {
			break;
		}
		l = nl + 1;
	}
	return n;
}

START_TEST(metrics_render)
{
	uint64_t now = 10 * 86400000ULL;
	put_probe(0, TGC_HEALTH_UP, TGC_PROBE_OK, 7, 0, 1250, now - 65000, 9);
	put_probe(1, TGC_HEALTH_DOWN, TGC_PROBE_REFUSED, 0, 3, 2000123, now - 1500, 4);
	atomic_store(&seg_table.nodes[0].answers, 123456789);
	atomic_store(&seg_table.nodes[1].transitions, 2);
	/* Node 0's agent: maint, 12 sessions, no maxconn, 5 errors. */
	atomic_store(&seg_table.nodes[0].agent_flags, TGC_AGENT_F_POLLED |
	             TGC_AGENT_F_ANSWERED | TGC_AGENT_F_SESSIONS);
	atomic_store(&seg_table.nodes[0].agent_state, TGC_AGENT_MAINT);
	atomic_store(&seg_table.nodes[0].agent_sessions, 12);
	atomic_store(&seg_table.nodes[0].agent_errors, 5);
	ck_assert_int_eq(tgc_table_admin_set(&seg_table, 2, TGC_ADMIN_DRAIN), KNOT_EOK);
	atomic_store(&seg_table.hdr->writer_pid, 4242);
	atomic_store(&seg_table.hdr->heartbeat_ms, now - 1300);
	atomic_store(&seg_table.hdr->all_down_answers, 17);

	tgc_ctl_status_t st[2];
	ck_assert_int_eq(tgc_ctl_status_load(&st[0], &seg_table, now), KNOT_EOK);
	ck_assert_int_eq(tgc_ctl_status_load(&st[1], &seg_table, now), KNOT_EOK);
	st[0].writer_alive = true;
	/* The second: a leftover of another zone, no live writer. */
	st[1].writer_alive = false;
	snprintf(st[1].zone, sizeof(st[1].zone), "old.test");
	snprintf(st[1].segment, sizeof(st[1].segment), "tgcluster.old");

	tgc_ctl_buf_t b;
	tgc_ctl_buf_init(&b);
	tgc_ctl_render_metrics(&b, st, 2);
	ck_assert(!b.failed);
	const char *text = tgc_ctl_buf_str(&b);
	char *lbl = NULL, *line = NULL;
	/* The cluster name holds '"', '\\' and a control byte. */
	ck_assert_int_gt(asprintf(&lbl, "zone=\"cluster.test\",cluster=\"we\\\"ird"
	                          "\\\\name\x01.cluster.test\",segment=\"%s\"",
	                          seg_name + 1), 0);

#define HAS(...) do { \
		free(line); \
		ck_assert_int_gt(asprintf(&line, __VA_ARGS__), 0); \
		ck_assert_msg(strstr(text, line) != NULL, "missing:\n%s\nin:\n%s", \
		              line, text); \
	} while (0)
	HAS("\ntgcluster_writer_alive{%s} 1\n", lbl);
	HAS("\ntgcluster_writer_pid{%s} 4242\n", lbl);
	HAS("\ntgcluster_heartbeat_age_seconds{%s} 1.300\n", lbl);
	HAS("\ntgcluster_nodes{%s} 3\n", lbl);
	/* Node 1 is down, node 0's agent says maint; node 2 (drain, never
	 * probed) still counts. */
	HAS("\ntgcluster_live_nodes{%s} 1\n", lbl);
	HAS("\ntgcluster_all_down{%s} 0\n", lbl);
	HAS("\ntgcluster_all_down_answers_total{%s} 17\n", lbl);
	HAS("# TYPE tgcluster_all_down_answers_total counter\n");
	HAS("\ntgcluster_node_health{%s,address=\"127.0.0.11\",port=\"5900\","
	    "state=\"up\"} 1\n", lbl);
	HAS("\ntgcluster_node_health{%s,address=\"127.0.0.11\",port=\"5900\","
	    "state=\"down\"} 0\n", lbl);
	HAS("\ntgcluster_node_health{%s,address=\"127.0.0.12\",port=\"5900\","
	    "state=\"down\"} 1\n", lbl);
	HAS("\ntgcluster_node_health{%s,address=\"fd00::1234:5678:9abc\","
	    "port=\"15901\",state=\"unknown\"} 1\n", lbl);
	HAS("\ntgcluster_node_admin_state{%s,address=\"fd00::1234:5678:9abc\","
	    "port=\"15901\",state=\"drain\"} 1\n", lbl);
	HAS("\ntgcluster_node_admin_state{%s,address=\"fd00::1234:5678:9abc\","
	    "port=\"15901\",state=\"auto\"} 0\n", lbl);
	/* Seconds, not microseconds or milliseconds. */
	HAS("\ntgcluster_node_last_rtt_seconds{%s,address=\"127.0.0.11\","
	    "port=\"5900\"} 0.001250\n", lbl);
	HAS("\ntgcluster_node_last_rtt_seconds{%s,address=\"127.0.0.12\","
	    "port=\"5900\"} 2.000123\n", lbl);
	HAS("\ntgcluster_node_last_check_timestamp_seconds{%s,address=\"127.0.0.12\","
	    "port=\"5900\"} 863998.500\n", lbl);
	HAS("\ntgcluster_node_answers_total{%s,address=\"127.0.0.11\","
	    "port=\"5900\"} 123456789\n", lbl);
	HAS("\ntgcluster_node_transitions_total{%s,address=\"127.0.0.12\","
	    "port=\"5900\"} 2\n", lbl);
	HAS("\ntgcluster_node_probes_total{%s,address=\"127.0.0.11\","
	    "port=\"5900\"} 9\n", lbl);
	HAS("# TYPE tgcluster_node_answers_total counter\n");
	HAS("\ntgcluster_node_agent_sessions{%s,address=\"127.0.0.11\","
	    "port=\"5900\"} 12\n", lbl);
	HAS("\ntgcluster_node_agent_state{%s,address=\"127.0.0.11\","
	    "port=\"5900\",state=\"maint\"} 1\n", lbl);
	HAS("\ntgcluster_node_agent_state{%s,address=\"127.0.0.11\","
	    "port=\"5900\",state=\"drain\"} 0\n", lbl);
	HAS("\ntgcluster_node_agent_errors_total{%s,address=\"127.0.0.11\","
	    "port=\"5900\"} 5\n", lbl);
	HAS("# TYPE tgcluster_node_agent_errors_total counter\n");
	/* Not reported, or no agent: no sample. */
	ck_assert_int_eq(lines_with(text, "tgcluster_node_agent_maxconn{"), 0);
	ck_assert_int_eq(lines_with(text, "tgcluster_node_agent_sessions{"), 1);
	ck_assert_int_eq(lines_with(text, "tgcluster_node_agent_errors_total{"), 1);
	HAS("# TYPE tgcluster_node_health gauge\n");
	/* The leftover: writer_alive 0, and no node samples at all. */
	HAS("\ntgcluster_writer_alive{zone=\"old.test\",cluster=\"we\\\"ird\\\\name"
	    "\x01.cluster.test\",segment=\"tgcluster.old\"} 0\n");
#undef HAS
	free(line);
	free(lbl);
	ck_assert_int_eq(lines_with(text, "tgcluster_live_nodes{zone=\"old.test\""), 0);
	ck_assert_int_eq(lines_with(text, "tgcluster_node_answers_total{zone=\"old.test\""), 0);
	/* Never probed: no RTT sample. 3 health + 4 admin samples per node. */
	ck_assert_int_eq(lines_with(text, "tgcluster_node_last_rtt_seconds{"), 2);
	ck_assert_int_eq(lines_with(text, "tgcluster_node_health{"), 9);
	ck_assert_int_eq(lines_with(text, "tgcluster_node_admin_state{"), 12);
	/* One HELP and one TYPE per family, before its samples. */
	ck_assert_int_eq(lines_with(text, "# TYPE "), 21);
	ck_assert_int_eq(lines_with(text, "# HELP "), 21);
	const char *type = strstr(text, "# TYPE tgcluster_node_probes_total");
	const char *sample = strstr(text, "\ntgcluster_node_probes_total{");
	ck_assert(type != NULL && sample != NULL && type < sample);
	ck_assert(text[b.len - 1] == '\n');

	/* No instance at all: the families without samples. */
	tgc_ctl_buf_reset(&b);
	tgc_ctl_render_metrics(&b, st, 0);
	ck_assert_int_eq(lines_with(tgc_ctl_buf_str(&b), "tgcluster_"), 0);
	ck_assert_int_eq(lines_with(tgc_ctl_buf_str(&b), "# TYPE "), 21);

	tgc_ctl_buf_free(&b);
	tgc_ctl_status_free(&st[0]);
	tgc_ctl_status_free(&st[1]);
}
END_TEST

START_TEST(translator_cache)
{
	char name[TGC_TABLE_NAME_MAX + 8];
	snprintf(name, sizeof(name), "%s-tr", seg_name);
	tgc_table_node_t up[1];
	memset(up, 0, sizeof(up));
	ck_assert_int_eq(tgc_addr_parse("127.0.0.41", &up[0].addr), KNOT_EOK);
	up[0].port = 53;
	tgc_table_spec_t spec = {
		.role = TGC_ROLE_TRANSLATOR, .zone = "cluster.test",
		.instance = name + 1, .name = "cluster.test", .nodes = up,
		.node_count = 1, .check = TGC_CHECK_NONE, .interval_ms = 1000,
		.timeout_ms = 500, .rise = 1, .fall = 1, .stale_limit_s = 60,
	};
	tgc_table_t tr;
	(void)tgc_table_unlink(name);
	ck_assert_int_eq(tgc_table_open(&tr, name, &spec, NULL, NULL), KNOT_EOK);

	uint64_t now = 10 * 86400000ULL;
	tgc_cache_snap_t *c = calloc(1, sizeof(*c));
	ck_assert_ptr_nonnull(c);
	c->valid = true;
	c->ok = true;
	c->count = 2;
	c->ttl = 5;
	c->fetched_ms = now - 1500;
	c->polled_ms = now - 500;
	ck_assert_int_eq(tgc_addr_parse("192.168.1.100", &c->addrs[0]), KNOT_EOK);
	ck_assert_int_eq(tgc_addr_parse("192.168.1.101", &c->addrs[1]), KNOT_EOK);
	c->reported = true;
	c->sessions[0] = 7;
	c->capacity_x100[0] = 250;
	c->sessions[1] = 0;
	c->capacity_x100[1] = 100;
	int ret = tgc_table_cache_write(&tr, TGC_CACHE_A, c);
	free(c);
	ck_assert_int_eq(ret, KNOT_EOK);

	tgc_ctl_status_t st;
	ck_assert_int_eq(tgc_ctl_status_load(&st, &tr, now), KNOT_EOK);
	tgc_table_close(&tr);
	(void)tgc_table_unlink(name);
	ck_assert(st.has_cache);

	tgc_ctl_buf_t b;
	tgc_ctl_buf_init(&b);
	tgc_ctl_render_json(&b, &st);
	const char *text = tgc_ctl_buf_str(&b);
	ck_assert_ptr_nonnull(strstr(text, "\"role\":\"translator\""));
	ck_assert_ptr_nonnull(strstr(text, "\"cache\":{\"stale_limit_s\":60,"
	                      "\"records\":[{\"type\":\"A\",\"valid\":true,"
	                      "\"last_poll_ok\":true,\"rcode\":\"NOERROR\",\"ttl\":5,"
	                      "\"upstream\":0,"));
	ck_assert_ptr_nonnull(strstr(text, "\"age_ms\":1500,"));
	ck_assert_ptr_nonnull(strstr(text, "\"addresses\":[\"192.168.1.100\","
	                      "\"192.168.1.101\"],\"load\":[{\"sessions\":7,"
	                      "\"capacity\":2.5},{\"sessions\":0,\"capacity\":1.0}]}"));
	ck_assert_ptr_nonnull(strstr(text, "{\"type\":\"AAAA\",\"valid\":false,"));
	ck_assert_ptr_nonnull(strstr(text, "\"addresses\":[],\"load\":null}]"));
	tgc_ctl_buf_reset(&b);

	tgc_ctl_render_status(&b, &st);
	text = tgc_ctl_buf_str(&b);
	ck_assert_ptr_nonnull(strstr(text, "role translator"));
	ck_assert_ptr_nonnull(strstr(text, "  A    NOERROR, 2 addresses, ttl 5, "
	                      "age 1.5s, from upstream 0; last poll ok 500ms ago"));
	ck_assert_ptr_nonnull(strstr(text, "       load (sessions/capacity): "
	                      "192.168.1.100 7/2.50, 192.168.1.101 0/1.00\n"));
	ck_assert_ptr_nonnull(strstr(text, "  AAAA empty; last poll failed;"));

	tgc_ctl_buf_free(&b);
	tgc_ctl_status_free(&st);
}
END_TEST

START_TEST(admin_names)
{
	ck_assert_int_eq(tgc_table_admin_parse("drain"), TGC_ADMIN_DRAIN);
	ck_assert_int_eq(tgc_table_admin_parse("DRAIN"), -1);
	ck_assert_str_eq(tgc_ctl_role_str(TGC_ROLE_TRANSLATOR), "translator");
	ck_assert_str_eq(tgc_ctl_role_str(0), "invalid");
	ck_assert_str_eq(tgc_ctl_check_str(TGC_CHECK_NONE), "none");
	ck_assert_str_eq(tgc_ctl_check_str(99), "invalid");

	char buf[TGC_ADDR_STRLEN + 8];
	tgc_addr_t a;
	ck_assert_int_eq(tgc_addr_parse("fd00::1", &a), KNOT_EOK);
	ck_assert_str_eq(tgc_ctl_fmt_node(&a, 5900, buf, sizeof(buf)), "fd00::1@5900");
}
END_TEST

/*! \brief Adds a one-test case. */
static void add_case(Suite *s, const char *name, const TTest *test, bool segment)
{
	TCase *tc = tcase_create(name);
	/* As the other suites: Check's 4 s default is too short for the
	 * exhaustive escape test in a sanitizer build. */
	tcase_set_timeout(tc, 120);
	if (segment) {
		tcase_add_unchecked_fixture(tc, seg_name_setup, seg_name_teardown);
		tcase_add_checked_fixture(tc, seg_setup, seg_teardown);
	}
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

/*! \brief The "ctl" suite. */
static Suite *ctl_suite(void)
{
	Suite *s = suite_create("ctl");
	add_case(s, "durations", durations, false);
	add_case(s, "json_escape", json_escape, false);
	add_case(s, "escape_every_code_point", escape_every_code_point, false);
	add_case(s, "buffer", buffer, false);
	add_case(s, "node_parse", node_parse, false);
	add_case(s, "node_ambiguous", node_ambiguous, false);
	add_case(s, "grid_widths", grid_widths, false);
	add_case(s, "instance_match", instance_match, false);
	add_case(s, "instance_match_live", instance_match_live, false);
	add_case(s, "path_kinds", path_kinds, false);
	add_case(s, "attach_fifo_never_blocks", attach_fifo_never_blocks, false);
	add_case(s, "heartbeat", heartbeat, false);
	add_case(s, "admin_names", admin_names, false);
	add_case(s, "status_render", status_render, true);
	add_case(s, "status_json", status_json, true);
	add_case(s, "status_capacity", status_capacity, false);
	add_case(s, "json_hostile", json_hostile, false);
	add_case(s, "list_render", list_render, true);
	add_case(s, "translator_cache", translator_cache, true);
	add_case(s, "prom_label_escape", prom_label_escape, false);
	add_case(s, "metrics_render", metrics_render, true);
	return s;
}

TEST_MAIN(ctl)
