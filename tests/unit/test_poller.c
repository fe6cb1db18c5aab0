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
 * \brief Unit tests of module/poller.c: the cache records of the table the
 *        poller writes and the workers read, and the poller thread against
 *        an in-process upstream.
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
#include "module/table.h"
#include "tests/unit/test_main.h"
#include "tests/unit/test_upstream.h"

/*
 * Cache records in the table.
 */

/*! \brief Segment of the table tests. */
static char seg_name[64];

static void seg_setup(void)
{
	test_shm_name(seg_name, sizeof(seg_name), "poller");
	(void)tgc_table_unlink(seg_name);
}

static void seg_teardown(void)
{
	(void)tgc_table_unlink(seg_name);
}

/*! \brief Opens a translator table with \a n upstreams. */
static void seg_open(tgc_table_t *t, uint32_t n, const char *name, tgc_table_origin_t *origin)
{
	tgc_table_node_t nodes[4];
	memset(nodes, 0, sizeof(nodes));
	for (uint32_t i = 0; i < n; i++) {
		char txt[32];
		snprintf(txt, sizeof(txt), "127.0.0.%u", i + 1);
		ck_assert_int_eq(tgc_addr_parse(txt, &nodes[i].addr), KNOT_EOK);
		nodes[i].port = 53;
	}
	tgc_table_spec_t spec = {
		.role = TGC_ROLE_TRANSLATOR, .zone = "intern.netz", .instance = "t",
		.name = name, .nodes = nodes, .node_count = n, .interval_ms = 1000,
		.timeout_ms = 500, .rise = 1, .fall = 1, .stale_limit_s = 60,
	};
	const char *err = NULL;
	ck_assert_int_eq(tgc_table_open(t, seg_name, &spec, origin, &err), KNOT_EOK);
}

/*! \brief A snapshot with \a n addresses 10.0.<v>.<i>. */
static void snap_fill(tgc_cache_snap_t *s, unsigned n, uint8_t v)
{
	memset(s, 0, sizeof(*s));
	s->valid = s->ok = true;
	s->rcode = 0;
	s->count = n;
	s->ttl = v;
	s->fetched_ms = s->polled_ms = 1000 + v;
	for (unsigned i = 0; i < n; i++) {
		s->addrs[i].family = AF_INET;
		s->addrs[i].len = 4;
		s->addrs[i].bytes[0] = 10;
		s->addrs[i].bytes[2] = v;
		s->addrs[i].bytes[3] = (uint8_t)i;
	}
}

START_TEST(table_cache_roundtrip)
{
	tgc_table_t t;
	tgc_table_origin_t origin;
	seg_open(&t, 2, "internet.intern.netz", &origin);
	ck_assert_int_eq(origin, TGC_TABLE_CREATED);
	ck_assert_ptr_nonnull(t.cache);
	ck_assert_uint_eq(t.size, tgc_table_size(TGC_ROLE_TRANSLATOR, 2));
	ck_assert_uint_eq(t.hdr->cache_off, sizeof(tgc_table_hdr_t) + 2 * sizeof(tgc_node_rec_t));
	ck_assert_int_eq(tgc_table_validate(t.hdr, t.size, NULL), KNOT_EOK);

	tgc_cache_snap_t in, out;
	ck_assert_int_eq(tgc_table_cache_read(&t, TGC_CACHE_A, &out, true), KNOT_EOK);
	ck_assert(!out.valid);
	snap_fill(&in, 3, 7);
	ck_assert_int_eq(tgc_table_cache_write(&t, TGC_CACHE_A, &in), KNOT_EOK);
	ck_assert_int_eq(tgc_table_cache_read(&t, TGC_CACHE_A, &out, false), KNOT_EOK);
	ck_assert(out.valid && out.ok);
	ck_assert_uint_eq(out.count, 3);
	ck_assert_uint_eq(out.refreshes, 1);
	ck_assert(tgc_addr_equal(&out.addrs[2], &in.addrs[2]));

	/* A failed poll keeps the answer. */
	tgc_cache_snap_t fail = { .polled_ms = 5000 };
	ck_assert_int_eq(tgc_table_cache_write(&t, TGC_CACHE_A, &fail), KNOT_EOK);
	ck_assert_int_eq(tgc_table_cache_read(&t, TGC_CACHE_A, &out, false), KNOT_EOK);
	ck_assert(out.valid && !out.ok);
	ck_assert_uint_eq(out.count, 3);
	ck_assert_uint_eq(out.failures, 1);
	ck_assert_uint_eq(out.polled_ms, 5000);
	ck_assert_uint_eq(out.fetched_ms, in.fetched_ms);

	/* SOA of a negative AAAA answer. */
	tgc_cache_snap_t neg;
	memset(&neg, 0, sizeof(neg));
	neg.valid = neg.ok = true;
	neg.rcode = KNOT_RCODE_NXDOMAIN;
	neg.soa_owner_len = 5;
	neg.soa_rdata_len = 11;
	memcpy(neg.soa, "\x04netzABCDEFGHIJK", 16);
	ck_assert_int_eq(tgc_table_cache_write(&t, TGC_CACHE_AAAA, &neg), KNOT_EOK);
	ck_assert_int_eq(tgc_table_cache_read(&t, TGC_CACHE_AAAA, &out, true), KNOT_EOK);
	ck_assert_uint_eq(out.rcode, KNOT_RCODE_NXDOMAIN);
	ck_assert(memcmp(out.soa, neg.soa, 16) == 0);

	/* Bad arguments. */
	ck_assert_int_eq(tgc_table_cache_read(&t, 2, &out, false), KNOT_EINVAL);
	in.count = TGC_CACHE_ADDRS_MAX + 1;
	ck_assert_int_eq(tgc_table_cache_write(&t, TGC_CACHE_A, &in), KNOT_EINVAL);

	/* Reuse keeps the cache; other upstreams (adopt) keep it too. */
	tgc_table_t t2;
	seg_open(&t2, 2, "internet.intern.netz", &origin);
	ck_assert_int_eq(origin, TGC_TABLE_REUSED);
	tgc_table_close(&t2);
	seg_open(&t2, 3, "internet.intern.netz", &origin);
	ck_assert_int_eq(origin, TGC_TABLE_ADOPTED);
	ck_assert_int_eq(tgc_table_cache_read(&t2, TGC_CACHE_A, &out, false), KNOT_EOK);
	ck_assert(out.valid);
	ck_assert_uint_eq(out.count, 3);
	tgc_table_close(&t2);
	/* Another name: the cache is dropped. */
	seg_open(&t2, 2, "other.intern.netz", &origin);
	ck_assert_int_eq(origin, TGC_TABLE_ADOPTED);
	ck_assert_int_eq(tgc_table_cache_read(&t2, TGC_CACHE_A, &out, false), KNOT_EOK);
	ck_assert(!out.valid);
	tgc_table_close(&t2);
	tgc_table_close(&t);
}
END_TEST

START_TEST(table_cache_validate)
{
	tgc_table_t t;
	seg_open(&t, 1, "internet.intern.netz", NULL);
	size_t size = t.size;
	uint8_t *copy = malloc(size);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, t.hdr, size);
	tgc_table_hdr_t *h = (tgc_table_hdr_t *)copy;
	const char *err = NULL;

	h->cache_off += 8;
	ck_assert_int_eq(tgc_table_validate(copy, size, &err), KNOT_EMALF);
	memcpy(copy, t.hdr, size);
	/* An LB segment of the same bytes has the wrong size. */
	h->role = TGC_ROLE_LB;
	ck_assert_int_eq(tgc_table_validate(copy, size, &err), KNOT_EMALF);
	memcpy(copy, t.hdr, size);
	/* Cut off cache. */
	ck_assert_int_eq(tgc_table_validate(copy, size - 8, &err), KNOT_EMALF);
	/* A cache record with a count out of range. */
	tgc_cache_rec_t *c = (tgc_cache_rec_t *)(copy + h->cache_off);
	atomic_store(&c[1].count, TGC_CACHE_ADDRS_MAX + 1);
	ck_assert_int_eq(tgc_table_validate(copy, size, &err), KNOT_EMALF);
	free(copy);
	tgc_table_close(&t);
}
END_TEST

/*! \brief Shared state of the seqlock test. */
typedef struct {
	tgc_table_t *table;
	_Atomic bool stop;
	_Atomic unsigned long reads;
	_Atomic unsigned long torn;
} race_t;

/*! \brief Writer thread: alternates two consistent answers. */
static void *race_writer(void *arg)
{
	race_t *r = arg;
	tgc_cache_snap_t s;
	for (unsigned i = 0; !atomic_load(&r->stop); i++) {
		snap_fill(&s, 1 + (i % TGC_CACHE_ADDRS_MAX), (uint8_t)(i & 0x7f));
		(void)tgc_table_cache_write(r->table, TGC_CACHE_A, &s);
	}
	return NULL;
}

/*! \brief Reader thread: every snapshot must be one of the written ones. */
static void *race_reader(void *arg)
{
	race_t *r = arg;
	tgc_cache_snap_t s;
	time_t end = time(NULL) + 10;
	for (int n = 0; n < 20000 && time(NULL) < end; ) {
		if (tgc_table_cache_read(r->table, TGC_CACHE_A, &s, false) != KNOT_EOK ||
		    !s.valid) {
			continue;
		}
		n++;
		bool ok = s.count >= 1 && s.fetched_ms == 1000u + s.ttl;
		for (unsigned j = 0; ok && j < s.count; j++) {
			ok = s.addrs[j].bytes[2] == s.ttl && s.addrs[j].bytes[3] == j;
		}
		if (!ok) {
			atomic_fetch_add(&r->torn, 1);
		}
		atomic_fetch_add(&r->reads, 1);
	}
	return NULL;
}

START_TEST(table_cache_seqlock)
{
	tgc_table_t t;
	seg_open(&t, 1, "internet.intern.netz", NULL);
	race_t r = { .table = &t };
	tgc_cache_snap_t first;
	snap_fill(&first, 1, 0);
	ck_assert_int_eq(tgc_table_cache_write(&t, TGC_CACHE_A, &first), KNOT_EOK);
	pthread_t w, rd[2];
	ck_assert_int_eq(pthread_create(&w, NULL, race_writer, &r), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(pthread_create(&rd[i], NULL, race_reader, &r), 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(rd[i], NULL);
	}
	atomic_store(&r.stop, true);
	pthread_join(w, NULL);
	ck_assert_uint_eq(atomic_load(&r.torn), 0);
	ck_assert_uint_gt(atomic_load(&r.reads), 0);
	tgc_table_close(&t);
}
END_TEST


/*
 * The poller (module thread) against the in-process upstream.
 */

START_TEST(poller_publishes)
{
	upstream_t u = { 0 };
	upstream_start(&u);
	tgc_fwd_target_t t[2];
	target_at(&t[0], 1); /* Port 1: refused. */
	target_at(&t[1], u.port);
	tgc_fwd_conf_t c = { .targets = t, .count = 2, .timeout_ms = 200 };

	tgc_table_t table;
	tgc_table_node_t nodes[2] = { 0 };
	for (int i = 0; i < 2; i++) {
		tgc_addr_parse("127.0.0.1", &nodes[i].addr);
		nodes[i].port = (i == 0) ? 1 : u.port;
	}
	tgc_table_spec_t spec = {
		.role = TGC_ROLE_TRANSLATOR, .zone = "intern.netz", .instance = "t",
		.name = "internet.intern.netz", .nodes = nodes, .node_count = 2,
		.interval_ms = 100, .timeout_ms = 200, .stale_limit_s = 60,
	};
	ck_assert_int_eq(tgc_table_open(&table, seg_name, &spec, NULL, NULL), KNOT_EOK);
	atomic_store(&table.hdr->writer, 42);
	_Atomic uint32_t preferred = 0;
	tgc_poller_conf_t pc = {
		.table = &table, .writer_token = 42, .fwd = &c, .name = NAME,
		.interval_ms = 100, .stale_limit_s = 60, .preferred = &preferred,
	};
	tgc_poller_t *p = NULL;
	ck_assert_int_eq(tgc_poller_start(&p, &pc), KNOT_EOK);

	tgc_cache_snap_t s;
	bool got = false;
	for (int i = 0; i < 300 && !got; i++) {
		usleep(10000);
		got = tgc_table_cache_read(&table, TGC_CACHE_A, &s, false) == KNOT_EOK &&
		      s.valid && s.count == 1;
	}
	ck_assert(got);
	ck_assert_uint_eq(s.upstream, 1);
	ck_assert_uint_eq(atomic_load(&preferred), 1);
	/* AAAA: NODATA (no SOA from this upstream). A poll asks A first, then
	 * AAAA: the AAAA record may still be on its way. */
	got = false;
	for (int i = 0; i < 300 && !got; i++) {
		got = tgc_table_cache_read(&table, TGC_CACHE_AAAA, &s, false) == KNOT_EOK &&
		      s.valid;
		if (!got) {
			usleep(10000);
		}
	}
	ck_assert(got);
	ck_assert(s.count == 0 && s.rcode == 0);
	tgc_node_snap_t n0, n1;
	tgc_table_node_read(&table, 0, &n0);
	tgc_table_node_read(&table, 1, &n1);
	ck_assert_int_eq(n0.health, TGC_HEALTH_DOWN);
	ck_assert_int_eq(n1.health, TGC_HEALTH_UP);

	/* Stop promptly even with a poll in flight against a silent upstream:
	 * a query it received after going silent is never answered. */
	atomic_store(&u.silent, true);
	int asked = atomic_load(&u.udp_queries);
	got = false;
	for (int i = 0; i < 1000 && !got; i++) {
		usleep(10000);
		got = atomic_load(&u.udp_queries) > asked;
	}
	ck_assert(got);
	tgc_poller_stop(p);
	upstream_stop(&u);
	tgc_table_close(&table);
}
END_TEST

/*! \brief Upstream error counts of the polls (written by the poller
 *         thread, read by the test after the stop joined it). */
typedef struct {
	uint32_t errors[TGC_FWD_ERR_COUNT];
} counted_t;

static void count_errors(void *ctx, const tgc_fwd_stats_t *stats)
{
	counted_t *c = ctx;
	for (unsigned i = 0; i < TGC_FWD_ERR_COUNT; i++) {
		c->errors[i] += stats->errors[i];
	}
}

/*! \brief Polls \a u with a poller until the A record was written \a polls
 *         times (refreshes + failures); returns the last A snapshot. */
static void poll_upstream(upstream_t *u, bool load_report, int polls,
                          tgc_cache_snap_t *s, counted_t *counted)
{
	tgc_fwd_target_t t;
	target_at(&t, u->port);
	tgc_fwd_conf_t c = { .targets = &t, .count = 1, .timeout_ms = 200,
	                     .load_report = load_report };
	tgc_table_t table;
	tgc_table_node_t node = { .port = u->port };
	tgc_addr_parse("127.0.0.1", &node.addr);
	tgc_table_spec_t spec = {
		.role = TGC_ROLE_TRANSLATOR, .zone = "intern.netz", .instance = "t",
		.name = "internet.intern.netz", .nodes = &node, .node_count = 1,
		.interval_ms = 20, .timeout_ms = 200, .stale_limit_s = 60,
	};
	ck_assert_int_eq(tgc_table_open(&table, seg_name, &spec, NULL, NULL), KNOT_EOK);
	atomic_store(&table.hdr->writer, 42);
	tgc_poller_conf_t pc = {
		.table = &table, .writer_token = 42, .fwd = &c, .name = NAME,
		.interval_ms = 20, .stale_limit_s = 60, .count = count_errors,
		.ctx = counted,
	};
	tgc_poller_t *p = NULL;
	ck_assert_int_eq(tgc_poller_start(&p, &pc), KNOT_EOK);
	bool got = false;
	for (int i = 0; i < 500 && !got; i++) {
		usleep(10000);
		got = tgc_table_cache_read(&table, TGC_CACHE_A, s, false) == KNOT_EOK &&
		      s->refreshes + s->failures >= (uint64_t)polls;
	}
	tgc_poller_stop(p);
	ck_assert(got);
	tgc_table_close(&table);
	tgc_table_unlink(seg_name);
}

START_TEST(poller_stores_the_load_report)
{
	upstream_t u = { .report = true };
	upstream_start(&u);
	tgc_cache_snap_t s;
	counted_t counted = { 0 };
	poll_upstream(&u, true, 3, &s, &counted);
	ck_assert(atomic_load(&u.report_asked) >= 3);
	ck_assert(s.valid && s.reported);
	ck_assert_uint_eq(s.count, 1);
	ck_assert_uint_eq(s.sessions[0], 7);
	ck_assert_uint_eq(s.capacity_x100[0], 250);
	ck_assert_uint_lt(s.slot[0], TGC_CACHE_SLOTS);

	/* Not asked: no report sent, none stored. */
	int asked = atomic_load(&u.report_asked);
	poll_upstream(&u, false, 2, &s, &counted);
	ck_assert_int_eq(atomic_load(&u.report_asked), asked);
	ck_assert(s.valid && !s.reported);
	ck_assert_uint_eq(s.capacity_x100[0], 100);
	upstream_stop(&u);
}
END_TEST

START_TEST(poller_counts_a_reply_the_cache_cannot_take)
{
	/* A reply for one client subnet only: the poll fails and the reply
	 * is counted as invalid. */
	upstream_t u = { .ecs_scope = 24 };
	upstream_start(&u);
	tgc_cache_snap_t s;
	counted_t counted = { 0 };
	poll_upstream(&u, false, 2, &s, &counted);
	ck_assert(!s.valid && !s.ok);
	ck_assert_uint_ge(counted.errors[TGC_FWD_ERR_INVALID], 2);
	upstream_stop(&u);
}
END_TEST

/*! \brief Counts of the poller's thread hooks (written by the poller
 *         thread, read by the test after the stop joined it). */
typedef struct {
	int started;
	int stopped;
} hooks_t;

static void hook_start(void *ctx)
{
	((hooks_t *)ctx)->started++;
}

static void hook_stop(void *ctx)
{
	((hooks_t *)ctx)->stopped++;
}

START_TEST(poller_waits_interval_and_stops_at_once)
{
	upstream_t u = { 0 };
	upstream_start(&u);
	tgc_fwd_target_t t;
	target_at(&t, u.port);
	tgc_fwd_conf_t c = { .targets = &t, .count = 1, .timeout_ms = 1000 };

	tgc_table_t table;
	tgc_table_node_t node = { .port = u.port };
	tgc_addr_parse("127.0.0.1", &node.addr);
	tgc_table_spec_t spec = {
		.role = TGC_ROLE_TRANSLATOR, .zone = "intern.netz", .instance = "t",
		.name = "internet.intern.netz", .nodes = &node, .node_count = 1,
		.interval_ms = 120000, .timeout_ms = 1000, .stale_limit_s = 60,
	};
	ck_assert_int_eq(tgc_table_open(&table, seg_name, &spec, NULL, NULL), KNOT_EOK);
	atomic_store(&table.hdr->writer, 42);
	hooks_t hooks = { 0 };
	tgc_poller_conf_t pc = {
		.table = &table, .writer_token = 42, .fwd = &c, .name = NAME,
		.interval_ms = 120000, .stale_limit_s = 60,
		.thread_start = hook_start, .thread_stop = hook_stop, .ctx = &hooks,
	};
	tgc_poller_t *p = NULL;
	ck_assert_int_eq(tgc_poller_start(&p, &pc), KNOT_EOK);

	/* The first poll (A, then AAAA) starts at once. */
	tgc_cache_snap_t s;
	bool got = false;
	for (int i = 0; i < 1000 && !got; i++) {
		got = tgc_table_cache_read(&table, TGC_CACHE_AAAA, &s, false) == KNOT_EOK &&
		      s.valid;
		if (!got) {
			usleep(10000);
		}
	}
	ck_assert(got);

	/* Now it waits two minutes for the next poll: a stop ends the wait. */
	time_t t0 = time(NULL);
	tgc_poller_stop(p);
	ck_assert_int_le(time(NULL) - t0, 30);
	ck_assert_int_eq(atomic_load(&u.udp_queries), 2);
	ck_assert_int_eq(hooks.started, 1);
	ck_assert_int_eq(hooks.stopped, 1);
	upstream_stop(&u);
	tgc_table_close(&table);
}
END_TEST


static Suite *poller_suite(void)
{
	Suite *s = suite_create("poller");

	TCase *tc = tcase_create("table_cache");
	tcase_add_checked_fixture(tc, seg_setup, seg_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, table_cache_roundtrip);
	tcase_add_test(tc, table_cache_validate);
	tcase_add_test(tc, table_cache_seqlock);
	suite_add_tcase(s, tc);

	tc = tcase_create("poller");
	tcase_add_checked_fixture(tc, seg_setup, seg_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, poller_publishes);
	tcase_add_test(tc, poller_waits_interval_and_stops_at_once);
	tcase_add_test(tc, poller_stores_the_load_report);
	tcase_add_test(tc, poller_counts_a_reply_the_cache_cannot_take);
	suite_add_tcase(s, tc);

	return s;
}

TEST_MAIN(poller)
