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
 * \brief Unit tests of module/sign.c: canonical RRset keys and the RRSIG
 *        cache (hits, refresh margin, keyset generation, eviction).
 */

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libknot/errcode.h>

#include "tests/unit/test_main.h"
#include "tests/unit/test_util.h"
#include "module/sign.h"

#define T_A	1
#define T_AAAA	28

static const uint8_t A1[4] = { 10, 0, 0, 1 };
static const uint8_t A2[4] = { 10, 0, 0, 2 };
static const uint8_t A3[4] = { 10, 0, 0, 3 };

static tgc_sign_key_t key3(const uint8_t *x, const uint8_t *y, const uint8_t *z,
                           uint16_t type, uint32_t ttl)
{
	tgc_sign_rdata_t rd[3] = { { x, 4 }, { y, 4 }, { z, 4 } };
	tgc_sign_key_t k;
	ck_assert_int_eq(tgc_sign_key_build(&k, type, ttl, rd, 3), KNOT_EOK);
	return k;
}

START_TEST(key_order_independent)
{
	tgc_sign_key_t a = key3(A1, A2, A3, T_A, 5);
	tgc_sign_key_t b = key3(A3, A1, A2, T_A, 5);
	tgc_sign_key_t c = key3(A2, A3, A1, T_A, 5);
	ck_assert_uint_eq(a.hash, b.hash);
	ck_assert_uint_eq(a.len, b.len);
	ck_assert_mem_eq(a.buf, b.buf, a.len);
	ck_assert_mem_eq(a.buf, c.buf, a.len);
	/* Duplicates collapse: {1,1,2} is the set {1,2}. */
	tgc_sign_key_t d = key3(A1, A1, A2, T_A, 5);
	tgc_sign_rdata_t rd[2] = { { A2, 4 }, { A1, 4 } };
	tgc_sign_key_t e;
	ck_assert_int_eq(tgc_sign_key_build(&e, T_A, 5, rd, 2), KNOT_EOK);
	ck_assert_uint_eq(d.len, e.len);
	ck_assert_mem_eq(d.buf, e.buf, d.len);
}
END_TEST

START_TEST(key_distinguishes)
{
	tgc_sign_key_t a = key3(A1, A2, A3, T_A, 5);
	tgc_sign_key_t ttl = key3(A1, A2, A3, T_A, 6);
	tgc_sign_key_t type = key3(A1, A2, A3, T_AAAA, 5);
	tgc_sign_key_t other = key3(A1, A2, A2, T_A, 5);
	ck_assert(a.len != other.len || memcmp(a.buf, other.buf, a.len) != 0);
	ck_assert(memcmp(a.buf, ttl.buf, a.len) != 0);
	ck_assert(memcmp(a.buf, type.buf, a.len) != 0);

	tgc_sign_rdata_t big[TGC_SIGN_RDATA_MAX + 1];
	for (size_t i = 0; i <= TGC_SIGN_RDATA_MAX; i++) {
		big[i] = (tgc_sign_rdata_t){ A1, 4 };
	}
	tgc_sign_key_t k;
	ck_assert_int_eq(tgc_sign_key_build(&k, T_A, 5, big, TGC_SIGN_RDATA_MAX + 1),
	                 KNOT_ESPACE);
	uint8_t long_rd[17] = { 0 };
	tgc_sign_rdata_t lr = { long_rd, 17 };
	ck_assert_int_eq(tgc_sign_key_build(&k, T_A, 5, &lr, 1), KNOT_ESPACE);
	ck_assert_int_eq(tgc_sign_key_build(NULL, T_A, 5, &lr, 1), KNOT_EINVAL);
}
END_TEST

START_TEST(cache_hit_refresh_gen)
{
	tgc_sign_cache_t c;
	ck_assert_int_eq(tgc_sign_cache_init(&c, 16, 100), KNOT_EOK);
	tgc_sign_key_t k = key3(A1, A2, A3, T_A, 5);
	tgc_sign_key_t rot = key3(A2, A3, A1, T_A, 5);
	uint8_t out[TGC_SIGN_SIG_MAX];
	const uint8_t sig[] = "signature-bytes";

	ck_assert_uint_eq(tgc_sign_cache_get(&c, &k, 1000, out, sizeof(out)), 0);
	ck_assert(tgc_sign_cache_set_gen(&c, 1));
	ck_assert(!tgc_sign_cache_set_gen(&c, 1));
	ck_assert_int_eq(tgc_sign_cache_put(&c, &k, 1, 2000, sig, sizeof(sig)), KNOT_EOK);

	/* Hit, also for a rotated order of the same set. */
	ck_assert_uint_eq(tgc_sign_cache_get(&c, &rot, 1000, out, sizeof(out)), sizeof(sig));
	ck_assert_mem_eq(out, sig, sizeof(sig));
	/* Inside the refresh margin (expire - now <= 100): miss. */
	ck_assert_uint_eq(tgc_sign_cache_get(&c, &k, 1899, out, sizeof(out)), sizeof(sig));
	ck_assert_uint_eq(tgc_sign_cache_get(&c, &k, 1900, out, sizeof(out)), 0);
	ck_assert_uint_eq(tgc_sign_cache_get(&c, &k, 3000, out, sizeof(out)), 0);
	/* Output buffer too small: miss, never a truncated copy. */
	ck_assert_uint_eq(tgc_sign_cache_get(&c, &k, 1000, out, 3), 0);

	/* Refresh replaces in place. */
	const uint8_t sig2[] = "newer";
	ck_assert_int_eq(tgc_sign_cache_put(&c, &k, 1, 5000, sig2, sizeof(sig2)), KNOT_EOK);
	ck_assert_uint_eq(tgc_sign_cache_get(&c, &k, 4000, out, sizeof(out)), sizeof(sig2));
	ck_assert_mem_eq(out, sig2, sizeof(sig2));

	/* Key change drops everything; a late store of the old generation is refused. */
	ck_assert(tgc_sign_cache_set_gen(&c, 2));
	ck_assert_uint_eq(tgc_sign_cache_get(&c, &k, 1000, out, sizeof(out)), 0);
	ck_assert_int_eq(tgc_sign_cache_put(&c, &k, 1, 5000, sig, sizeof(sig)), KNOT_ESEMCHECK);
	ck_assert_uint_eq(tgc_sign_cache_get(&c, &k, 1000, out, sizeof(out)), 0);
	ck_assert_int_eq(tgc_sign_cache_put(&c, &k, 2, 5000, sig, sizeof(sig)), KNOT_EOK);
	ck_assert_uint_eq(tgc_sign_cache_get(&c, &k, 1000, out, sizeof(out)), sizeof(sig));

	uint8_t huge[TGC_SIGN_SIG_MAX + 1] = { 0 };
	ck_assert_int_eq(tgc_sign_cache_put(&c, &k, 2, 5000, huge, sizeof(huge)), KNOT_ESPACE);
	tgc_sign_cache_deinit(&c);
}
END_TEST

/* Many distinct sets in a small cache: every lookup returns either a miss or
 * exactly the signature stored for that set, never another set's. */
START_TEST(cache_eviction_no_mixup)
{
	tgc_sign_cache_t c;
	ck_assert_int_eq(tgc_sign_cache_init(&c, 8, 10), KNOT_EOK);
	tgc_sign_cache_set_gen(&c, 7);
	enum { N = 200 };
	size_t hits = 0;
	for (int round = 0; round < 2; round++) {
		for (uint32_t i = 0; i < N; i++) {
			uint8_t a[4] = { 10, 1, (uint8_t)(i >> 8), (uint8_t)i };
			tgc_sign_rdata_t rd = { a, 4 };
			tgc_sign_key_t k;
			ck_assert_int_eq(tgc_sign_key_build(&k, T_A, 5, &rd, 1), KNOT_EOK);
			uint8_t out[TGC_SIGN_SIG_MAX];
			size_t n = tgc_sign_cache_get(&c, &k, 100, out, sizeof(out));
			if (n > 0) {
				ensure(n == 4 && memcmp(out, &i, 4) == 0, "set %u got wrong sig", i);
				hits++;
			} else if (round == 0) {
				ensure(tgc_sign_cache_put(&c, &k, 7, 1000 + i,
				       (const uint8_t *)&i, 4) == KNOT_EOK, "put %u", i);
			}
		}
	}
	/* The 8 slots hold some of the last sets stored. */
	ck_assert_uint_gt(hits, 0);
	ck_assert_uint_le(hits, 8);
	tgc_sign_cache_deinit(&c);
}
END_TEST

/*! \brief Shared state of the concurrency test. */
typedef struct {
	tgc_sign_cache_t *c;
	unsigned seed;
	size_t wrong;
} worker_t;

/* A signature is the generation followed by the set's first address, so a
 * reader can tell whether what it got belongs to the set and to a
 * generation that was current at some point. */
static void *worker(void *arg)
{
	worker_t *w = arg;
	for (unsigned i = 0; i < 20000; i++) {
		uint8_t a[4] = { 10, 2, 0, (uint8_t)((i * 7 + w->seed) % 32) };
		tgc_sign_rdata_t rd = { a, 4 };
		tgc_sign_key_t k;
		if (tgc_sign_key_build(&k, T_A, 5, &rd, 1) != KNOT_EOK) {
			w->wrong++;
			continue;
		}
		uint8_t out[TGC_SIGN_SIG_MAX];
		size_t n = tgc_sign_cache_get(w->c, &k, 100, out, sizeof(out));
		if (n > 0) {
			if (n != 12 || memcmp(out + 8, a, 4) != 0) {
				w->wrong++;
			}
			continue;
		}
		pthread_rwlock_rdlock(&w->c->lock);
		uint64_t gen = w->c->gen;
		pthread_rwlock_unlock(&w->c->lock);
		uint8_t sig[12];
		memcpy(sig, &gen, 8);
		memcpy(sig + 8, a, 4);
		int ret = tgc_sign_cache_put(w->c, &k, gen, 1000, sig, sizeof(sig));
		if (ret != KNOT_EOK && ret != KNOT_ESEMCHECK) {
			w->wrong++;
		}
	}
	return NULL;
}

/* Workers look up and store while the keyset generation changes: no torn or
 * mixed signature is ever returned, and after the last change only entries
 * of the last generation are served. */
START_TEST(cache_concurrent_gen_change)
{
	tgc_sign_cache_t c;
	ck_assert_int_eq(tgc_sign_cache_init(&c, 64, 10), KNOT_EOK);
	tgc_sign_cache_set_gen(&c, 1);
	worker_t w[4];
	pthread_t t[4];
	for (unsigned i = 0; i < 4; i++) {
		w[i] = (worker_t){ .c = &c, .seed = i };
		ck_assert_int_eq(pthread_create(&t[i], NULL, worker, &w[i]), 0);
	}
	for (uint64_t g = 2; g < 200; g++) {
		tgc_sign_cache_set_gen(&c, g);
	}
	for (unsigned i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_uint_eq(w[i].wrong, 0);
	}
	uint64_t last = 199;
	for (unsigned j = 0; j < 32; j++) {
		uint8_t a[4] = { 10, 2, 0, (uint8_t)j };
		tgc_sign_rdata_t rd = { a, 4 };
		tgc_sign_key_t k;
		ck_assert_int_eq(tgc_sign_key_build(&k, T_A, 5, &rd, 1), KNOT_EOK);
		uint8_t out[TGC_SIGN_SIG_MAX];
		if (tgc_sign_cache_get(&c, &k, 100, out, sizeof(out)) == 12) {
			ck_assert_mem_eq(out, &last, 8);
		}
	}
	tgc_sign_cache_deinit(&c);
}
END_TEST

START_TEST(zone_check_rules)
{
	const char *msg = "x";
	tgc_sign_zone_t z = { .signing = true };
	ck_assert_int_eq(tgc_sign_zone_check(&z, &msg), KNOT_EOK);
	ck_assert_ptr_null(msg);
	z.nsec3 = true;	/* NSEC3 at the apex: knotd's own NODATA proves it. */
	ck_assert_int_eq(tgc_sign_zone_check(&z, &msg), KNOT_EOK);
	ck_assert_ptr_null(msg);
	z.below_apex = true;
	ck_assert_int_eq(tgc_sign_zone_check(&z, &msg), KNOT_EOK);
	ck_assert_ptr_nonnull(strstr(msg, "NSEC3"));
	ck_assert_ptr_nonnull(strstr(msg, "placeholder A record at the name"));
	z.nsec3 = false;
	ck_assert_int_eq(tgc_sign_zone_check(&z, &msg), KNOT_EOK);
	ck_assert_ptr_nonnull(strstr(msg, "placeholder A record at the name"));
	z.signing = false;	/* Unsigned: nothing to say. */
	ck_assert_int_eq(tgc_sign_zone_check(&z, &msg), KNOT_EOK);
	ck_assert_ptr_null(msg);
	z.onlinesign = true;	/* Refused whether or not knotd signs. */
	ck_assert_int_eq(tgc_sign_zone_check(&z, &msg), KNOT_ENOTSUP);
	ck_assert_ptr_nonnull(strstr(msg, "mod-onlinesign"));
	ck_assert_ptr_nonnull(strstr(msg, "mod-tgcluster"));
	z.signing = true;
	ck_assert_int_eq(tgc_sign_zone_check(&z, &msg), KNOT_ENOTSUP);
	ck_assert_int_eq(tgc_sign_zone_check(NULL, &msg), KNOT_EINVAL);

	/* Apex: left to knotd unless the apex has records of the type. */
	ck_assert(tgc_sign_nodata_by_zone(true, false, false));
	ck_assert(tgc_sign_nodata_by_zone(true, false, true));
	ck_assert(!tgc_sign_nodata_by_zone(true, true, false));
	ck_assert(!tgc_sign_nodata_by_zone(true, true, true));
	/* Below: left to knotd for a family without nodes (no placeholder). */
	ck_assert(tgc_sign_nodata_by_zone(false, false, false));
	ck_assert(tgc_sign_nodata_by_zone(false, true, false));
	ck_assert(!tgc_sign_nodata_by_zone(false, false, true));
	ck_assert(!tgc_sign_nodata_by_zone(false, true, true));
}
END_TEST

static Suite *sign_suite(void)
{
	Suite *s = suite_create("sign");
	test_add_case(s, "key_order_independent", key_order_independent, 30);
	test_add_case(s, "key_distinguishes", key_distinguishes, 30);
	test_add_case(s, "cache_hit_refresh_gen", cache_hit_refresh_gen, 30);
	test_add_case(s, "cache_eviction_no_mixup", cache_eviction_no_mixup, 30);
	test_add_case(s, "cache_concurrent_gen_change", cache_concurrent_gen_change, 120);
	test_add_case(s, "zone_check_rules", zone_check_rules, 30);
	return s;
}

TEST_MAIN(sign)
