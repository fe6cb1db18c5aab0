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
 * \brief Unit tests of module/probe_http.c: the response head parser with
 *        good and hostile input, the request, the item validators.
 */

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/test_main.h"
#include "tests/unit/test_util.h"
#include "module/probe_http.h"

/*! \brief Parses a C string. */
static tgc_http_ret_t parse(const char *s, tgc_http_resp_t *r)
{
	return tgc_http_parse((const uint8_t *)s, strlen(s), r);
}

START_TEST(good_heads)
{
	tgc_http_resp_t r;
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-A:\r\n\r\nbody";
	ck_assert_int_eq(parse(ok, &r), TGC_HTTP_DONE);
	ck_assert_uint_eq(r.status, 200);
	ck_assert_uint_eq(r.minor, 1);
	ck_assert_uint_eq(r.fields, 2);
	ck_assert_uint_eq(r.head_len, strlen(ok) - 4);

	ck_assert_int_eq(parse("HTTP/1.0 503 Service Unavailable\r\n\r\n", &r),
	                 TGC_HTTP_DONE);
	ck_assert_uint_eq(r.status, 503);
	ck_assert_uint_eq(r.minor, 0);
	/* No reason phrase, bare LF line ends, tab and obs-text in values. */
	ck_assert_int_eq(parse("HTTP/1.1 204\nA: b\tc\xff\n\n", &r), TGC_HTTP_DONE);
	ck_assert_uint_eq(r.status, 204);
	ck_assert_int_eq(parse("HTTP/1.1 599 \r\n\r\n", &r), TGC_HTTP_DONE);
	ck_assert_int_eq(parse("HTTP/1.1 100 Continue\r\n\r\n", &r), TGC_HTTP_DONE);
	ck_assert_uint_eq(r.status, 100);
}
END_TEST

START_TEST(incomplete)
{
	const char *full = "HTTP/1.1 200 OK\r\nServer: x\r\n\r\n";
	tgc_http_resp_t r;
	/* Every proper prefix is "more", the whole is done. */
	for (size_t i = 0; i < strlen(full); i++) {
		ck_assert_msg(tgc_http_parse((const uint8_t *)full, i, &r) ==
		              TGC_HTTP_MORE, "prefix %zu", i);
	}
	ck_assert_int_eq(parse(full, &r), TGC_HTTP_DONE);
	/* The status is known before the head ends. */
	ck_assert_int_eq(parse("HTTP/1.1 503 x\r\nA: b\r\n", &r), TGC_HTTP_MORE);
	ck_assert_uint_eq(r.status, 503);
	ck_assert_int_eq(tgc_http_parse(NULL, 0, &r), TGC_HTTP_MORE);
	ck_assert_int_eq(tgc_http_parse(NULL, 1, &r), TGC_HTTP_BAD);
}
END_TEST

START_TEST(hostile)
{
	static const char *bad[] = {
		"SSH-2.0-OpenSSH_9.2\r\n",
		"RFB 003.008\n",
		"HTTP/2 200\r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n",
		"HTTP/1.1 99 x\r\n\r\n",
		"HTTP/1.1 600 x\r\n\r\n",
		"HTTP/1.1 2000 x\r\n\r\n",
		"HTTP/1.1 20a x\r\n\r\n",
		"HTTP/1.1  200 x\r\n\r\n",
		"http/1.1 200 x\r\n\r\n",
		"HTTP/1.x 200 x\r\n\r\n",
		"HTTP/1.1 200 a\rb\r\n\r\n",
		"HTTP/1.1 200 a\x01\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\nName : v\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: v\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA: b\x7f\r\n\r\n",
		"HTTP/1.1 200 OK\r\nA\x80: b\r\n\r\n",
		"\r\nHTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\r\n\r\n",
	};
	tgc_http_resp_t r;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse(bad[i], &r) == TGC_HTTP_BAD, "case %zu", i);
	}
	/* A NUL anywhere in the head. */
	static const uint8_t nul[] = "HTTP/1.1 200 O\0K\r\n\r\n";
	ck_assert_int_eq(tgc_http_parse(nul, sizeof(nul) - 1, &r), TGC_HTTP_BAD);
	static const uint8_t nul2[] = "HTTP/1.1 200 OK\r\nA: \0\r\n\r\n";
	ck_assert_int_eq(tgc_http_parse(nul2, sizeof(nul2) - 1, &r), TGC_HTTP_BAD);

	/* Garbage is refused before any line end arrives. */
	ck_assert_int_eq(parse("GARBAGE", &r), TGC_HTTP_BAD);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nbad name", &r), TGC_HTTP_BAD);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nok-name", &r), TGC_HTTP_MORE);
}
END_TEST

START_TEST(size_limit)
{
	size_t size = TGC_HTTP_HEAD_MAX * 2;
	uint8_t *buf = malloc(size);
	ck_assert_ptr_nonnull(buf);
	const char *line = "HTTP/1.1 200 OK\r\n";
	memcpy(buf, line, strlen(line));
	size_t pos = strlen(line);
	/* Fields up to exactly the limit: done; one byte more: bad. */
	while (pos + 12 <= TGC_HTTP_HEAD_MAX - 2) {
		memcpy(buf + pos, "X-Pad: 0123\r\n", 13);
		pos += 13;
	}
	size_t fill = TGC_HTTP_HEAD_MAX - 2 - pos;
	/* A last field padded so that the empty line ends at the limit. */
	ck_assert_uint_ge(fill, 5);
	memcpy(buf + pos, "Y: ", 3);
	memset(buf + pos + 3, 'a', fill - 5);
	memcpy(buf + pos + fill - 2, "\r\n", 2);
	memcpy(buf + TGC_HTTP_HEAD_MAX - 2, "\r\n", 2);
	tgc_http_resp_t r;
	ck_assert_int_eq(tgc_http_parse(buf, TGC_HTTP_HEAD_MAX, &r), TGC_HTTP_DONE);
	ck_assert_uint_eq(r.head_len, TGC_HTTP_HEAD_MAX);

	/* The same head one byte longer. */
	memmove(buf + pos + 4, buf + pos + 3, TGC_HTTP_HEAD_MAX - pos - 3);
	buf[pos + 3] = 'a';
	ck_assert_int_eq(tgc_http_parse(buf, TGC_HTTP_HEAD_MAX + 1, &r), TGC_HTTP_BAD);

	/* A head that never ends: more up to the limit, then bad. */
	memset(buf, 'a', size);
	memcpy(buf, "HTTP/1.1 200 ", 13);
	ck_assert_int_eq(tgc_http_parse(buf, TGC_HTTP_HEAD_MAX, &r), TGC_HTTP_MORE);
	ck_assert_int_eq(tgc_http_parse(buf, TGC_HTTP_HEAD_MAX + 1, &r), TGC_HTTP_BAD);
	ck_assert_int_eq(tgc_http_parse(buf, size, &r), TGC_HTTP_BAD);
	free(buf);
}
END_TEST

START_TEST(request)
{
	char buf[2048];
	size_t n = tgc_http_request(buf, sizeof(buf), "/health?x=1", "www.example");
	ck_assert_uint_eq(n, strlen(buf));
	ck_assert_str_eq(buf, "GET /health?x=1 HTTP/1.1\r\nHost: www.example\r\n"
	                 "User-Agent: mod-tgcluster\r\nAccept: */*\r\n"
	                 "Connection: close\r\n\r\n");
	ck_assert_uint_eq(tgc_http_request(buf, 20, "/", "a"), 0);
	ck_assert_uint_eq(tgc_http_request(buf, sizeof(buf), "x", "a"), 0);
	ck_assert_uint_eq(tgc_http_request(buf, sizeof(buf), "/", "a b"), 0);

	ck_assert_uint_gt(tgc_http_default_host(buf, sizeof(buf), "::1", true, 8080,
	                                        false), 0);
	ck_assert_str_eq(buf, "[::1]:8080");
	tgc_http_default_host(buf, sizeof(buf), "127.0.0.1", false, 80, false);
	ck_assert_str_eq(buf, "127.0.0.1");
	tgc_http_default_host(buf, sizeof(buf), "127.0.0.1", false, 80, true);
	ck_assert_str_eq(buf, "127.0.0.1:80");
	tgc_http_default_host(buf, sizeof(buf), "::1", true, 443, true);
	ck_assert_str_eq(buf, "[::1]");
	ck_assert_uint_eq(tgc_http_default_host(buf, 4, "::1", true, 443, true), 0);
}
END_TEST

START_TEST(validators)
{
	ck_assert(tgc_http_path_valid("/"));
	ck_assert(tgc_http_path_valid("/a/b?c=d&e=%20"));
	ck_assert(!tgc_http_path_valid(""));
	ck_assert(!tgc_http_path_valid("a"));
	ck_assert(!tgc_http_path_valid("/a b"));
	ck_assert(!tgc_http_path_valid("/a\r\nX: y"));
	ck_assert(!tgc_http_path_valid("/\xc3\xa9"));
	char long_path[TGC_HTTP_PATH_MAX + 2];
	memset(long_path, 'a', sizeof(long_path));
	long_path[0] = '/';
	long_path[TGC_HTTP_PATH_MAX] = '\0';
	ck_assert(tgc_http_path_valid(long_path));
	long_path[TGC_HTTP_PATH_MAX] = 'a';
	long_path[TGC_HTTP_PATH_MAX + 1] = '\0';
	ck_assert(!tgc_http_path_valid(long_path));

	ck_assert(tgc_http_host_valid("node1.example"));
	ck_assert(tgc_http_host_valid("[2001:db8::1]:8443"));
	ck_assert(!tgc_http_host_valid(""));
	ck_assert(!tgc_http_host_valid("a b"));
	ck_assert(!tgc_http_host_valid("a\r\nX: y"));
	ck_assert(!tgc_http_host_valid("a/b"));

	uint16_t codes[] = { 200, 204 };
	ck_assert(tgc_http_status_ok(204, codes, 2));
	ck_assert(!tgc_http_status_ok(503, codes, 2));
	ck_assert(!tgc_http_status_ok(200, codes, 0));
}
END_TEST

static Suite *probe_http_suite(void)
{
	Suite *s = suite_create("probe_http");
	test_add_case(s, "good_heads", good_heads, 120);
	test_add_case(s, "incomplete", incomplete, 120);
	test_add_case(s, "hostile", hostile, 120);
	test_add_case(s, "size_limit", size_limit, 120);
	test_add_case(s, "request", request, 120);
	test_add_case(s, "validators", validators, 120);
	return s;
}

TEST_MAIN(probe_http)
