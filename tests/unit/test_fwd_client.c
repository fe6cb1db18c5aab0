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
 * \brief Unit tests of module/fwd_client.c: tgc_forward_query() against an
 *        in-process upstream on loopback.
 */

#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <libknot/libknot.h>

#include "module/forward.h"
#include "tests/unit/test_main.h"
#include "tests/unit/test_upstream.h"

/*! \brief Records the try callbacks. */
typedef struct {
	int count;
	size_t idx[8];
	tgc_fwd_err_t res[8];
} tries_t;

static void on_try(void *ctx, size_t idx, tgc_fwd_err_t res, uint32_t rtt_us)
{
	(void)rtt_us;
	tries_t *t = ctx;
	if (t->count < 8) {
		t->idx[t->count] = idx;
		t->res[t->count] = res;
	}
	t->count++;
}

START_TEST(query_ignores_spoofed_first)
{
	upstream_t u = { .bad_first = 2 };
	upstream_start(&u);
	tgc_fwd_target_t t;
	target_at(&t, u.port);
	tgc_fwd_conf_t c = { .targets = &t, .count = 1, .timeout_ms = 1000 };
	tgc_fwd_stats_t st;
	memset(&st, 0, sizeof(st));
	tries_t tries = { 0 };
	knot_pkt_t *reply = NULL;
	size_t used = 9;
	ck_assert_int_eq(tgc_forward_query(&c, 0, NAME, KNOT_RRTYPE_A, KNOT_CLASS_IN,
	                                   2000, -1, NULL, &reply, &used, &st,
	                                   on_try, &tries), KNOT_EOK);
	ck_assert_uint_eq(used, 0);
	ck_assert_uint_eq(st.errors[TGC_FWD_ERR_INVALID], 2);
	ck_assert_int_eq(tries.count, 1);
	ck_assert_int_eq(tries.res[0], TGC_FWD_TRY_OK);
	tgc_cache_snap_t snap;
	ck_assert_int_eq(tgc_forward_extract(reply, NAME, KNOT_RRTYPE_A, &snap), KNOT_EOK);
	ck_assert_uint_eq(snap.count, 1);
	tgc_forward_reply_free(reply, NULL);
	upstream_stop(&u);
}
END_TEST

START_TEST(query_tcp_after_tc)
{
	upstream_t u = { .truncate = true };
	upstream_start(&u);
	tgc_fwd_target_t t;
	target_at(&t, u.port);
	tgc_fwd_conf_t c = { .targets = &t, .count = 1, .timeout_ms = 1000 };
	tgc_fwd_stats_t st;
	memset(&st, 0, sizeof(st));
	knot_pkt_t *reply = NULL;
	ck_assert_int_eq(tgc_forward_query(&c, 0, NAME, KNOT_RRTYPE_A, KNOT_CLASS_IN,
	                                   2000, -1, NULL, &reply, NULL, &st,
	                                   NULL, NULL), KNOT_EOK);
	ck_assert_uint_eq(st.tcp, 1);
	ck_assert_int_eq(atomic_load(&u.tcp_queries), 1);
	ck_assert(!knot_wire_get_tc(reply->wire));
	ck_assert_uint_eq(knot_wire_get_ancount(reply->wire), 1);
	tgc_forward_reply_free(reply, NULL);
	upstream_stop(&u);
}
END_TEST

START_TEST(query_confined_to_scope)
{
	upstream_t u = { .extra_foreign = true };
	upstream_start(&u);
	tgc_fwd_target_t t;
	target_at(&t, u.port);
	tgc_fwd_conf_t c = { .targets = &t, .count = 1, .timeout_ms = 1000 };
	/* Not confined: the victim's record comes through. */
	knot_pkt_t *reply = NULL;
	ck_assert_int_eq(tgc_forward_query(&c, 0, NAME, KNOT_RRTYPE_A, KNOT_CLASS_IN,
	                                   2000, -1, NULL, &reply, NULL, NULL,
	                                   NULL, NULL), KNOT_EOK);
	ck_assert(has_owner(reply, VICTIM, NULL));
	tgc_forward_reply_free(reply, NULL);

	/* Confined to the zone: it does not, the answer does. */
	c.scope = ZONE;
	ck_assert_int_eq(tgc_forward_query(&c, 0, NAME, KNOT_RRTYPE_A, KNOT_CLASS_IN,
	                                   2000, -1, NULL, &reply, NULL, NULL,
	                                   NULL, NULL), KNOT_EOK);
	ck_assert(!has_owner(reply, VICTIM, NULL));
	ck_assert(has_owner(reply, NAME, NULL));
	tgc_forward_reply_free(reply, NULL);
	upstream_stop(&u);
}
END_TEST

START_TEST(query_foreign_soa_fails_over)
{
	upstream_t bad = { .foreign_soa = true }, good = { 0 };
	upstream_start(&bad);
	upstream_start(&good);
	tgc_fwd_target_t t[2];
	target_at(&t[0], bad.port);
	target_at(&t[1], good.port);
	tgc_fwd_conf_t c = { .targets = t, .count = 2, .timeout_ms = 5000,
	                     .scope = ZONE };
	tgc_fwd_stats_t st;
	memset(&st, 0, sizeof(st));
	tries_t tries = { 0 };
	knot_pkt_t *reply = NULL;
	size_t used = 9;
	ck_assert_int_eq(tgc_forward_query(&c, 0, NAME, KNOT_RRTYPE_A, KNOT_CLASS_IN,
	                                   10000, -1, NULL, &reply, &used, &st,
	                                   on_try, &tries), KNOT_EOK);
	ck_assert_uint_eq(used, 1);
	ck_assert_int_eq(tries.count, 2);
	ck_assert_int_eq(tries.res[0], TGC_FWD_ERR_INVALID);
	ck_assert_int_eq(tries.res[1], TGC_FWD_TRY_OK);
	ck_assert_uint_eq(st.errors[TGC_FWD_ERR_INVALID], 1);
	/* The rejected reply ended the try: no wait for the timeout. */
	ck_assert_uint_eq(st.errors[TGC_FWD_ERR_TIMEOUT], 0);
	ck_assert_uint_eq(st.failovers, 1);
	tgc_cache_snap_t snap;
	ck_assert_int_eq(tgc_forward_extract(reply, NAME, KNOT_RRTYPE_A, &snap), KNOT_EOK);
	ck_assert_uint_eq(snap.count, 1);
	tgc_forward_reply_free(reply, NULL);

	/* Only the bad one: no usable reply, nothing to cache. */
	c.count = 1;
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(tgc_forward_query(&c, 0, NAME, KNOT_RRTYPE_A, KNOT_CLASS_IN,
	                                   10000, -1, NULL, &reply, NULL, &st,
	                                   NULL, NULL), KNOT_ETIMEOUT);
	ck_assert_ptr_null(reply);
	ck_assert_uint_eq(st.errors[TGC_FWD_ERR_INVALID], 1);
	ck_assert_uint_eq(st.errors[TGC_FWD_ERR_TIMEOUT], 0);
	upstream_stop(&bad);
	upstream_stop(&good);
}
END_TEST

START_TEST(query_tc_over_tcp_is_an_error)
{
	upstream_t bad = { .truncate = true, .tc_tcp = true }, good = { .truncate = true };
	upstream_start(&bad);
	upstream_start(&good);
	tgc_fwd_target_t t[2];
	target_at(&t[0], bad.port);
	target_at(&t[1], good.port);
	tgc_fwd_conf_t c = { .targets = t, .count = 2, .timeout_ms = 1000 };
	tgc_fwd_stats_t st;
	memset(&st, 0, sizeof(st));
	tries_t tries = { 0 };
	knot_pkt_t *reply = NULL;
	size_t used = 9;
	ck_assert_int_eq(tgc_forward_query(&c, 0, NAME, KNOT_RRTYPE_A, KNOT_CLASS_IN,
	                                   4000, -1, NULL, &reply, &used, &st,
	                                   on_try, &tries), KNOT_EOK);
	ck_assert_uint_eq(used, 1);
	ck_assert_int_eq(atomic_load(&bad.tcp_queries), 1);
	ck_assert_int_eq(atomic_load(&good.tcp_queries), 1);
	ck_assert_uint_eq(st.tcp, 2);
	ck_assert_int_eq(tries.res[0], TGC_FWD_ERR_INVALID);
	ck_assert_int_eq(tries.res[1], TGC_FWD_TRY_OK);
	ck_assert_uint_eq(st.errors[TGC_FWD_ERR_INVALID], 1);
	ck_assert(!knot_wire_get_tc(reply->wire));
	ck_assert_uint_eq(knot_wire_get_ancount(reply->wire), 1);
	tgc_forward_reply_free(reply, NULL);

	/* Alone: no reply at all rather than an empty one. */
	c.count = 1;
	ck_assert_int_eq(tgc_forward_query(&c, 0, NAME, KNOT_RRTYPE_A, KNOT_CLASS_IN,
	                                   2000, -1, NULL, &reply, NULL, NULL,
	                                   NULL, NULL), KNOT_ETIMEOUT);
	ck_assert_ptr_null(reply);
	upstream_stop(&bad);
	upstream_stop(&good);
}
END_TEST

START_TEST(query_failover)
{
	/* First target: nobody listens (refused); second: silent (timeout);
	 * third: SERVFAIL; fourth: good. */
	upstream_t silent = { .silent = true }, sf = { .rcode = KNOT_RCODE_SERVFAIL },
	           good = { 0 };
	upstream_start(&silent);
	upstream_start(&sf);
	upstream_start(&good);
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bind(s, (struct sockaddr *)&sa, sizeof(sa));
	socklen_t sl = sizeof(sa);
	getsockname(s, (struct sockaddr *)&sa, &sl);
	close(s); /* Port now closed: ICMP unreachable. */

	tgc_fwd_target_t t[4];
	target_at(&t[0], ntohs(sa.sin_port));
	target_at(&t[1], silent.port);
	target_at(&t[2], sf.port);
	target_at(&t[3], good.port);
	tgc_fwd_conf_t c = { .targets = t, .count = 4, .timeout_ms = 200 };
	tgc_fwd_stats_t st;
	memset(&st, 0, sizeof(st));
	tries_t tries = { 0 };
	knot_pkt_t *reply = NULL;
	size_t used = 9;
	ck_assert_int_eq(tgc_forward_query(&c, 0, NAME, KNOT_RRTYPE_A, KNOT_CLASS_IN,
	                                   2000, -1, NULL, &reply, &used, &st,
	                                   on_try, &tries), KNOT_EOK);
	ck_assert_uint_eq(used, 3);
	ck_assert_uint_eq(st.failovers, 3);
	ck_assert_int_eq(tries.count, 4);
	ck_assert_int_eq(tries.res[0], TGC_FWD_ERR_NETWORK);
	ck_assert_int_eq(tries.res[1], TGC_FWD_ERR_TIMEOUT);
	ck_assert_int_eq(tries.res[2], TGC_FWD_ERR_RCODE);
	ck_assert_int_eq(tries.res[3], TGC_FWD_TRY_OK);
	tgc_forward_reply_free(reply, NULL);

	/* Starting at the last good target: one try. */
	tries.count = 0;
	ck_assert_int_eq(tgc_forward_query(&c, 3, NAME, KNOT_RRTYPE_A, KNOT_CLASS_IN,
	                                   2000, -1, NULL, &reply, &used, NULL,
	                                   on_try, &tries), KNOT_EOK);
	ck_assert_int_eq(tries.count, 1);
	tgc_forward_reply_free(reply, NULL);

	/* Budget smaller than one timeout: bounded, fails. */
	c.count = 2;
	uint64_t t0 = (uint64_t)time(NULL);
	ck_assert_int_eq(tgc_forward_query(&c, 1, NAME, KNOT_RRTYPE_A, KNOT_CLASS_IN,
	                                   100, -1, NULL, &reply, NULL, NULL,
	                                   NULL, NULL), KNOT_ETIMEOUT);
	ck_assert_ptr_null(reply);
	ck_assert_uint_le((uint64_t)time(NULL) - t0, 1);
	upstream_stop(&silent);
	upstream_stop(&sf);
	upstream_stop(&good);
}
END_TEST

START_TEST(query_cancel)
{
	upstream_t silent = { .silent = true };
	upstream_start(&silent);
	tgc_fwd_target_t t;
	target_at(&t, silent.port);
	tgc_fwd_conf_t c = { .targets = &t, .count = 1, .timeout_ms = 5000 };
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	knot_pkt_t *reply = NULL;
	time_t t0 = time(NULL);
	ck_assert_int_eq(tgc_forward_query(&c, 0, NAME, KNOT_RRTYPE_A, KNOT_CLASS_IN,
	                                   5000, p[0], NULL, &reply, NULL, NULL,
	                                   NULL, NULL), KNOT_EAGAIN);
	ck_assert_int_le(time(NULL) - t0, 1);
	close(p[0]);
	close(p[1]);
	upstream_stop(&silent);
}
END_TEST


static Suite *fwd_client_suite(void)
{
	Suite *s = suite_create("fwd_client");

	TCase *tc = tcase_create("query");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, query_ignores_spoofed_first);
	tcase_add_test(tc, query_tcp_after_tc);
	tcase_add_test(tc, query_confined_to_scope);
	tcase_add_test(tc, query_foreign_soa_fails_over);
	tcase_add_test(tc, query_tc_over_tcp_is_an_error);
	tcase_add_test(tc, query_failover);
	tcase_add_test(tc, query_cancel);
	suite_add_tcase(s, tc);

	return s;
}

TEST_MAIN(fwd_client)
