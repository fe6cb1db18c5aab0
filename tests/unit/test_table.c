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
 * \brief Unit tests of module/table*.c: segment names, creation, reuse,
 *        adoption and replacement of the shared-memory table, validation,
 *        CLI attachment and the per-record seqlock.
 */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libknot/errcode.h>

#include "tests/unit/test_main.h"
#include "tests/unit/test_util.h"
#include "module/table.h"

/*! \brief Parses an address that must be valid. */
#define A(str)	test_addr(str)

/*! \brief Relaxed atomic store (as the checker writes record details). */
#define STORE(x, v)	atomic_store_explicit(&(x), (v), memory_order_relaxed)

/*! \brief Segment name of the current test. */
static char seg[TGC_TABLE_NAME_MAX + 1];

static void seg_setup(void)
{
	test_shm_name(seg, sizeof(seg), "table");
}

static void seg_teardown(void)
{
	(void)tgc_table_unlink(seg);
}

/*! \brief Path of the segment file of \a name ("/tgcluster...."). */
static void seg_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "/dev/shm%s", name);
}

/*! \brief Nodes of a test spec, storage for up to 8. */
typedef struct {
	tgc_table_node_t nodes[8];
	tgc_table_spec_t spec;
} spec_buf_t;

/*!
 * \brief Builds a spec of nodes "ADDR@PORT" (mapped addresses if \a mapped is
 *        not NULL).
 */
static tgc_table_spec_t *make_spec(spec_buf_t *sb, const char *const *addrs,
                                   const uint16_t *ports, size_t count,
                                   const char *const *mapped)
{
	ck_assert_uint_le(count, 8);
	memset(sb, 0, sizeof(*sb));
	for (size_t i = 0; i < count; i++) {
		sb->nodes[i].addr = A(addrs[i]);
		sb->nodes[i].port = ports[i];
		if (mapped != NULL) {
			sb->nodes[i].mapped = A(mapped[i]);
		}
	}
	sb->spec = (tgc_table_spec_t){
		.role = TGC_ROLE_LB, .zone = "example.com", .instance = "lb",
		.name = "cluster.example.com", .nodes = sb->nodes,
		.node_count = (uint32_t)count, .check = 1, .interval_ms = 1000,
		.timeout_ms = 500, .rise = 2, .fall = 2,
	};
	return &sb->spec;
}

/*! \brief The standard three-node spec. */
static tgc_table_spec_t *spec3(spec_buf_t *sb)
{
	static const char *addrs[] = { "10.10.10.100", "10.10.10.101", "2001:db8::1" };
	static const char *mapped[] = { "192.168.1.100", "192.168.1.101", "fd00::1" };
	static const uint16_t ports[] = { 5900, 5901, 5900 };
	return make_spec(sb, addrs, ports, 3, mapped);
}

/*! \brief Opens \a seg for \a spec, asserting success and the origin. */
static void open_ok(tgc_table_t *t, const tgc_table_spec_t *spec,
                    tgc_table_origin_t want)
{
	tgc_table_origin_t origin = 99;
	const char *err = NULL;
	int ret = tgc_table_open(t, seg, spec, &origin, &err);
	ck_assert_msg(ret == KNOT_EOK, "open: %d (%s)", ret, err ? err : "-");
	ck_assert_msg(origin == want, "origin %d, want %d (%s)", origin, want,
	              err ? err : "-");
	ck_assert_ptr_nonnull(t->hdr);
	ck_assert(t->writable);
	ck_assert_str_eq(t->name, seg);
}

/*! \brief Gives node \a idx a distinctive state derived from \a tag. */
static void set_state(tgc_table_t *t, uint32_t idx, uint32_t tag)
{
	tgc_node_rec_t *r = &t->nodes[idx];
	ck_assert(tgc_table_write_begin(r));
	STORE(r->health, (uint8_t)TGC_HEALTH_DOWN);
	STORE(r->last_probe, (uint8_t)TGC_PROBE_REFUSED);
	STORE(r->consec_ok, 0);
	STORE(r->consec_fail, tag);
	STORE(r->last_rtt_us, tag + 1);
	STORE(r->last_check_ms, (uint64_t)tag + 2);
	STORE(r->since_ms, (uint64_t)tag + 3);
	STORE(r->probes, (uint64_t)tag + 4);
	STORE(r->transitions, (uint64_t)tag + 5);
	tgc_table_write_end(t, r);
	STORE(r->answers, (uint64_t)tag + 6);
	ck_assert_int_eq(tgc_table_admin_set(t, idx, TGC_ADMIN_DRAIN), KNOT_EOK);
}

/*! \brief Asserts the state set by set_state(\a tag). */
static void check_state(const tgc_table_t *t, uint32_t idx, uint32_t tag)
{
	tgc_node_snap_t s;
	tgc_table_node_read(t, idx, &s);
	ck_assert_int_eq(s.health, TGC_HEALTH_DOWN);
	ck_assert_int_eq(s.admin, TGC_ADMIN_DRAIN);
	ck_assert_int_eq(s.last_probe, TGC_PROBE_REFUSED);
	ck_assert_uint_eq(s.consec_ok, 0);
	ck_assert_uint_eq(s.consec_fail, tag);
	ck_assert_uint_eq(s.last_rtt_us, tag + 1);
	ck_assert_uint_eq(s.last_check_ms, (uint64_t)tag + 2);
	ck_assert_uint_eq(s.since_ms, (uint64_t)tag + 3);
	ck_assert_uint_eq(s.probes, (uint64_t)tag + 4);
	ck_assert_uint_eq(s.transitions, (uint64_t)tag + 5);
	ck_assert_uint_eq(s.answers, (uint64_t)tag + 6);
}

/*! \brief Asserts that node \a idx has the state of a new node. */
static void check_fresh(const tgc_table_t *t, uint32_t idx)
{
	tgc_node_snap_t s;
	tgc_table_node_read(t, idx, &s);
	ck_assert_int_eq(s.health, TGC_HEALTH_UNKNOWN);
	ck_assert_int_eq(s.admin, TGC_ADMIN_AUTO);
	ck_assert_int_eq(s.last_probe, TGC_PROBE_NONE);
	ck_assert_uint_eq(s.consec_ok, 0);
	ck_assert_uint_eq(s.consec_fail, 0);
	ck_assert_uint_eq(s.probes, 0);
	ck_assert_uint_eq(s.transitions, 0);
	ck_assert_uint_eq(s.answers, 0);
}

/*! \brief Asserts that the records of \a t describe \a spec's nodes. */
static void check_records(const tgc_table_t *t, const tgc_table_spec_t *spec)
{
	ck_assert_uint_eq(t->hdr->node_count, spec->node_count);
	for (uint32_t i = 0; i < spec->node_count; i++) {
		tgc_node_snap_t s;
		tgc_table_node_read(t, i, &s);
		ck_assert(tgc_addr_equal(&s.addr, &spec->nodes[i].addr));
		ck_assert_uint_eq(s.port, spec->nodes[i].port);
		ck_assert_int_eq(s.mapped.family, spec->nodes[i].mapped.family);
		if (s.mapped.family != 0) {
			ck_assert(tgc_addr_equal(&s.mapped, &spec->nodes[i].mapped));
		}
	}
}

/*! \brief Mode bits and size of the segment file. */
static void seg_stat(const char *name, mode_t *mode, off_t *size, uid_t *uid)
{
	char path[300];
	seg_path(path, sizeof(path), name);
	struct stat st;
	ck_assert_msg(stat(path, &st) == 0, "stat %s: %s", path, strerror(errno));
	if (mode != NULL) {
		*mode = st.st_mode & 07777;
	}
	if (size != NULL) {
		*size = st.st_size;
	}
	if (uid != NULL) {
		*uid = st.st_uid;
	}
}

/*! \brief Writes a segment file with the given bytes and mode. */
static void seg_write(const char *name, const void *data, size_t len, mode_t mode)
{
	char path[300];
	seg_path(path, sizeof(path), name);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	ck_assert_msg(fd >= 0, "create %s: %s", path, strerror(errno));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	if (len > 0) {
		ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	}
	close(fd);
}

START_TEST(name_build)
{
	char buf[TGC_TABLE_NAME_MAX + 1];
	ck_assert_int_eq(tgc_table_name(buf, sizeof(buf), "example.com", "lb"), KNOT_EOK);
	ck_assert_str_eq(buf, "/tgcluster.example.com.lb");
	/* Lowered. */
	ck_assert_int_eq(tgc_table_name(buf, sizeof(buf), "Example.COM", "LB-1"), KNOT_EOK);
	ck_assert_str_eq(buf, "/tgcluster.example.com.lb-1");
	/* Global instance. */
	ck_assert_int_eq(tgc_table_name(buf, sizeof(buf), "", "lb"), KNOT_EOK);
	ck_assert_str_eq(buf, "/tgcluster._global.lb");
	/* Sanitised: every character outside [a-z0-9._-] becomes '_'. */
	ck_assert_int_eq(tgc_table_name(buf, sizeof(buf), "a b/c\\d*", "x:y"), KNOT_EOK);
	ck_assert_str_eq(buf, "/tgcluster.a_b_c_d_.x_y");
	ck_assert_int_eq(tgc_table_name(buf, sizeof(buf), "\xc3\xa9t\xc3\xa9", "lb"),
	                 KNOT_EOK);
	ck_assert_str_eq(buf, "/tgcluster.__t__.lb");
	ck_assert_int_eq(tgc_table_name(buf, sizeof(buf), "..", "/"), KNOT_EOK);
	ck_assert_str_eq(buf, "/tgcluster...._");
	/* Generated names pass the user-name check unchanged. */
	char norm[TGC_TABLE_NAME_MAX + 1];
	ck_assert_int_eq(tgc_table_name(buf, sizeof(buf), "Ex ample.org", "Id"), KNOT_EOK);
	ck_assert_int_eq(tgc_table_name_check(buf, norm, sizeof(norm)), KNOT_EOK);
	ck_assert_str_eq(norm, buf);

	/* Too long for the buffer or for a segment name. */
	char zone[300];
	memset(zone, 'a', sizeof(zone) - 1);
	zone[sizeof(zone) - 1] = '\0';
	ck_assert_int_eq(tgc_table_name(buf, sizeof(buf), zone, "lb"), KNOT_ESPACE);
	char small[16];
	ck_assert_int_eq(tgc_table_name(small, sizeof(small), "example.com", "lb"),
	                 KNOT_ESPACE);
	char big[512];
	/* "/tgcluster." (11) + zone + "." + "lb" = 256 characters. */
	zone[256 - 11 - 3] = '\0';
	ck_assert_int_eq(tgc_table_name(big, sizeof(big), zone, "lb"), KNOT_ESPACE);
	ck_assert_int_eq(tgc_table_name(NULL, 10, "a", "b"), KNOT_EINVAL);
	ck_assert_int_eq(tgc_table_name(buf, sizeof(buf), NULL, "b"), KNOT_EINVAL);
	ck_assert_int_eq(tgc_table_name(buf, sizeof(buf), "a", NULL), KNOT_EINVAL);
}
END_TEST

START_TEST(name_auto)
{
	char buf[TGC_TABLE_NAME_MAX + 1];
	/* Short names are those of tgc_table_name(). */
	ck_assert_int_eq(tgc_table_name_auto(buf, sizeof(buf), "example.com", "lb"),
	                 KNOT_EOK);
	ck_assert_str_eq(buf, "/tgcluster.example.com.lb");

	/* Too long: zone prefix + 16 hex digits, stable, distinct. */
	char zone[201], name1[201], name2[201];
	memset(zone, 'z', sizeof(zone) - 1);
	zone[sizeof(zone) - 1] = '\0';
	memset(name1, 'n', sizeof(name1) - 1);
	name1[sizeof(name1) - 1] = '\0';
	memcpy(name2, name1, sizeof(name2));
	name2[100] = 'm';
	ck_assert_int_eq(tgc_table_name(buf, sizeof(buf), zone, name1), KNOT_ESPACE);
	ck_assert_int_eq(tgc_table_name_auto(buf, sizeof(buf), zone, name1), KNOT_EOK);
	ck_assert_uint_eq(strlen(buf), strlen("/tgcluster.") + 48 + 1 + 16);
	ck_assert_int_eq(strncmp(buf, "/tgcluster.zzzz", 15), 0);
	ck_assert_int_eq(tgc_table_name_check(buf, NULL, 0), KNOT_EOK);
	char again[TGC_TABLE_NAME_MAX + 1], other[TGC_TABLE_NAME_MAX + 1];
	ck_assert_int_eq(tgc_table_name_auto(again, sizeof(again), zone, name1), KNOT_EOK);
	ck_assert_str_eq(buf, again);
	ck_assert_int_eq(tgc_table_name_auto(other, sizeof(other), zone, name2), KNOT_EOK);
	ck_assert_str_ne(buf, other);
}
END_TEST

START_TEST(name_check)
{
	char buf[TGC_TABLE_NAME_MAX + 1];
	static const struct {
		const char *in, *out;
	} good[] = {
		{ "foo", "/tgcluster.foo" },
		{ "/foo", "/tgcluster.foo" },
		{ "tgcluster.foo", "/tgcluster.foo" },
		{ "/tgcluster.a-b_c.1", "/tgcluster.a-b_c.1" },
		{ "Mixed.Case", "/tgcluster.Mixed.Case" },
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(tgc_table_name_check(good[i].in, buf, sizeof(buf)) == KNOT_EOK,
		              "'%s' rejected", good[i].in);
		ck_assert_str_eq(buf, good[i].out);
		ck_assert_int_eq(tgc_table_name_check(good[i].in, NULL, 0), KNOT_EOK);
	}
	char name[210];
	memset(name, 'x', 200);
	name[200] = '\0';
	ck_assert_int_eq(tgc_table_name_check(name, buf, sizeof(buf)), KNOT_EOK);
	ck_assert_uint_eq(strlen(buf), 1 + strlen(TGC_TABLE_PREFIX) + 200);
	name[200] = 'x';
	name[201] = '\0';
	ck_assert_int_eq(tgc_table_name_check(name, buf, sizeof(buf)), KNOT_EINVAL);

	static const char *bad[] = {
		"", "/", "//foo", "a/b", "foo/", "a b", ".", "..", "/..", "\xc3\xa9",
		"foo\n", "foo*", "$HOME", "a:b", "a\\b",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(tgc_table_name_check(bad[i], buf, sizeof(buf)) == KNOT_EINVAL,
		              "'%s' accepted", bad[i]);
		ck_assert_int_eq(tgc_table_name_check(bad[i], NULL, 0), KNOT_EINVAL);
	}
	ck_assert_int_eq(tgc_table_name_check(NULL, buf, sizeof(buf)), KNOT_EINVAL);
	char small[8];
	ck_assert_int_eq(tgc_table_name_check("foo", small, sizeof(small)), KNOT_ESPACE);
}
END_TEST

START_TEST(create)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);

	/* Whatever the umask, the segment is 0600. */
	const mode_t umasks[] = { 0, 022, 0277 };
	for (size_t u = 0; u < sizeof(umasks) / sizeof(umasks[0]); u++) {
		mode_t old = umask(umasks[u]);
		tgc_table_t t;
		uint64_t t0 = tgc_table_now_ms();
		open_ok(&t, spec, TGC_TABLE_CREATED);
		umask(old);

		mode_t mode;
		off_t size;
		uid_t uid;
		seg_stat(seg, &mode, &size, &uid);
		ck_assert_msg(mode == 0600, "umask %03o: mode %03o", umasks[u], mode);
		ck_assert_uint_eq(uid, geteuid());
		size_t want = sizeof(tgc_table_hdr_t) + 3 * sizeof(tgc_node_rec_t);
		ck_assert_uint_eq((size_t)size, want);
		ck_assert_uint_eq(t.size, want);

		const tgc_table_hdr_t *h = t.hdr;
		ck_assert_uint_eq(atomic_load(&h->magic), TGC_TABLE_MAGIC);
		ck_assert_uint_eq(h->version, TGC_TABLE_VERSION);
		ck_assert_uint_eq(h->size, want);
		ck_assert_uint_eq(h->hdr_size, sizeof(tgc_table_hdr_t));
		ck_assert_uint_eq(h->rec_size, sizeof(tgc_node_rec_t));
		ck_assert_uint_eq(h->role, TGC_ROLE_LB);
		ck_assert_str_eq(h->zone, "example.com");
		ck_assert_str_eq(h->instance, "lb");
		ck_assert_str_eq(h->name, "cluster.example.com");
		ck_assert_uint_eq(h->interval_ms, 1000);
		ck_assert_uint_eq(h->timeout_ms, 500);
		ck_assert_uint_eq(h->rise, 2);
		ck_assert_uint_eq(h->fall, 2);
		ck_assert_uint_ge(h->created_ms, t0);
		ck_assert_uint_le(h->created_ms, tgc_table_now_ms());
		ck_assert_uint_eq(atomic_load(&h->generation), 0);
		ck_assert_int_eq(tgc_table_validate(h, t.size, NULL), KNOT_EOK);
		check_records(&t, spec);
		for (uint32_t i = 0; i < 3; i++) {
			check_fresh(&t, i);
		}

		tgc_table_close(&t);
		ck_assert_ptr_null(t.hdr);
		ck_assert_int_eq(tgc_table_unlink(seg), KNOT_EOK);
	}
	ck_assert_int_eq(tgc_table_unlink(seg), KNOT_ENOENT);

	/* No node at all is a valid table. */
	tgc_table_t t;
	spec->node_count = 0;
	open_ok(&t, spec, TGC_TABLE_CREATED);
	ck_assert_uint_eq(t.size, sizeof(tgc_table_hdr_t));
	tgc_table_close(&t);

	/* Bad arguments. */
	ck_assert_int_eq(tgc_table_open(NULL, seg, spec, NULL, NULL), KNOT_EINVAL);
	ck_assert_int_eq(tgc_table_open(&t, NULL, spec, NULL, NULL), KNOT_EINVAL);
	ck_assert_int_eq(tgc_table_open(&t, seg, NULL, NULL, NULL), KNOT_EINVAL);
	spec->node_count = 2;
	spec->nodes = NULL;
	ck_assert_int_eq(tgc_table_open(&t, seg, spec, NULL, NULL), KNOT_EINVAL);
	spec->nodes = sb.nodes;
	spec->node_count = TGC_TABLE_NODES_MAX + 1;
	ck_assert_int_eq(tgc_table_open(&t, seg, spec, NULL, NULL), KNOT_EINVAL);
}
END_TEST

START_TEST(reuse_keeps_states)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	tgc_table_t t;
	open_ok(&t, spec, TGC_TABLE_CREATED);
	set_state(&t, 0, 100);
	set_state(&t, 2, 300);
	uint64_t created = t.hdr->created_ms;
	uint64_t gen = atomic_load(&t.hdr->generation);
	ck_assert_uint_gt(gen, 0);
	tgc_table_close(&t);

	/* A restart: same spec, states kept. */
	open_ok(&t, spec, TGC_TABLE_REUSED);
	check_state(&t, 0, 100);
	check_fresh(&t, 1);
	check_state(&t, 2, 300);
	ck_assert_uint_eq(t.hdr->created_ms, created);
	ck_assert_uint_eq(atomic_load(&t.hdr->generation), gen);
	check_records(&t, spec);

	/* A reload: the new instance opens while the old one still maps it;
	 * both see the same memory. */
	tgc_table_t t2;
	open_ok(&t2, spec, TGC_TABLE_REUSED);
	check_state(&t2, 0, 100);
	ck_assert_int_eq(tgc_table_admin_set(&t2, 1, TGC_ADMIN_DOWN), KNOT_EOK);
	ck_assert_int_eq(tgc_table_admin(&t, 1), TGC_ADMIN_DOWN);
	tgc_table_close(&t);
	tgc_table_close(&t2);
}
END_TEST

START_TEST(adopt_carries_states)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	tgc_table_t old;
	open_ok(&old, spec, TGC_TABLE_CREATED);
	set_state(&old, 0, 100); /* 10.10.10.100@5900 */
	set_state(&old, 1, 200); /* 10.10.10.101@5901 */
	set_state(&old, 2, 300); /* 2001:db8::1@5900 */

	/* New list: 2001:db8::1 kept (moved to index 0), 10.10.10.101 on
	 * another port, 10.10.10.100 gone, a new node. */
	static const char *addrs[] = { "2001:db8::1", "10.10.10.101", "10.10.10.102" };
	static const uint16_t ports[] = { 5900, 5900, 5900 };
	spec_buf_t nb;
	tgc_table_spec_t *nspec = make_spec(&nb, addrs, ports, 3, NULL);
	tgc_table_t t;
	open_ok(&t, nspec, TGC_TABLE_ADOPTED);
	check_records(&t, nspec);
	check_state(&t, 0, 300);
	check_fresh(&t, 1);
	check_fresh(&t, 2);
	mode_t mode;
	seg_stat(seg, &mode, NULL, NULL);
	ck_assert_uint_eq(mode, 0600);

	/* The old instance keeps a valid, unchanged mapping until it closes. */
	ck_assert_int_eq(tgc_table_validate(old.hdr, old.size, NULL), KNOT_EOK);
	check_records(&old, spec);
	check_state(&old, 0, 100);
	check_state(&old, 1, 200);
	/* ...which is no longer the segment: writes do not leak over. */
	ck_assert_int_eq(tgc_table_admin_set(&old, 0, TGC_ADMIN_UP), KNOT_EOK);
	ck_assert_int_eq(tgc_table_admin(&t, 0), TGC_ADMIN_DRAIN);
	tgc_table_close(&old);
	tgc_table_close(&t);

	/* Reopening with the new list now reuses. */
	open_ok(&t, nspec, TGC_TABLE_REUSED);
	check_state(&t, 0, 300);
	tgc_table_close(&t);
}
END_TEST

START_TEST(adopt_on_settings_change)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	tgc_table_t t;
	open_ok(&t, spec, TGC_TABLE_CREATED);
	for (uint32_t i = 0; i < 3; i++) {
		set_state(&t, i, 10 * (i + 1));
	}
	tgc_table_close(&t);

	/* Other settings, same nodes: every state carried over. */
	spec->interval_ms = 2000;
	open_ok(&t, spec, TGC_TABLE_ADOPTED);
	ck_assert_uint_eq(t.hdr->interval_ms, 2000);
	for (uint32_t i = 0; i < 3; i++) {
		check_state(&t, i, 10 * (i + 1));
	}
	tgc_table_close(&t);

	spec->name = "other.example.com";
	open_ok(&t, spec, TGC_TABLE_ADOPTED);
	ck_assert_str_eq(t.hdr->name, "other.example.com");
	check_state(&t, 1, 20);
	tgc_table_close(&t);

	/* Other mapped addresses: a new table, states carried. */
	sb.nodes[1].mapped = A("192.168.9.9");
	open_ok(&t, spec, TGC_TABLE_ADOPTED);
	check_records(&t, spec);
	check_state(&t, 1, 20);
	tgc_table_close(&t);

	/* A node moved to the backup tier: a new table, its state carried,
	 * the tier recorded and read back. */
	sb.nodes[2].tier = 1;
	open_ok(&t, spec, TGC_TABLE_ADOPTED);
	check_state(&t, 2, 30);
	ck_assert_uint_eq(t.nodes[2].tier, 1);
	ck_assert_uint_eq(t.nodes[1].tier, 0);
	tgc_node_snap_t snap;
	tgc_table_node_read(&t, 2, &snap);
	ck_assert_uint_eq(snap.tier, 1);
	tgc_table_close(&t);
	open_ok(&t, spec, TGC_TABLE_REUSED);
	tgc_table_close(&t);
}
END_TEST

/*! \brief Creates a valid segment with states, closes it, and maps it again
 *         writable so a test can corrupt it. */
static void make_victim(tgc_table_t *t, const tgc_table_spec_t *spec)
{
	open_ok(t, spec, TGC_TABLE_CREATED);
	for (uint32_t i = 0; i < spec->node_count; i++) {
		set_state(t, i, 7 * (i + 1));
	}
}

/*! \brief Reopens a corrupted segment: must be replaced, nothing carried. */
static void check_replaced(const tgc_table_spec_t *spec, const char *what)
{
	tgc_table_t t;
	tgc_table_origin_t origin = 99;
	const char *err = NULL;
	int ret = tgc_table_open(&t, seg, spec, &origin, &err);
	ck_assert_msg(ret == KNOT_EOK, "%s: open %d (%s)", what, ret, err ? err : "-");
	ck_assert_msg(origin == TGC_TABLE_REPLACED, "%s: origin %d", what, origin);
	ck_assert_int_eq(tgc_table_validate(t.hdr, t.size, NULL), KNOT_EOK);
	check_records(&t, spec);
	for (uint32_t i = 0; i < spec->node_count; i++) {
		check_fresh(&t, i);
	}
	mode_t mode;
	off_t size;
	seg_stat(seg, &mode, &size, NULL);
	ck_assert_msg(mode == 0600, "%s: mode %03o", what, mode);
	ck_assert_uint_eq((size_t)size, t.size);
	tgc_table_close(&t);
	ck_assert_int_eq(tgc_table_unlink(seg), KNOT_EOK);
}

START_TEST(replace_garbage)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	size_t size = sizeof(tgc_table_hdr_t) + 3 * sizeof(tgc_node_rec_t);
	uint8_t *junk = malloc(size);
	ck_assert_ptr_nonnull(junk);

	/* Random bytes of the right size. */
	for (size_t i = 0; i < size; i++) {
		junk[i] = (uint8_t)test_rnd();
	}
	seg_write(seg, junk, size, 0600);
	check_replaced(spec, "random bytes");

	/* Random bytes behind a valid magic. */
	uint32_t magic = TGC_TABLE_MAGIC;
	memcpy(junk, &magic, sizeof(magic));
	seg_write(seg, junk, size, 0600);
	check_replaced(spec, "random bytes, good magic");

	/* Zeros. */
	memset(junk, 0, size);
	seg_write(seg, junk, size, 0600);
	check_replaced(spec, "zeros");

	/* Empty and tiny files. */
	seg_write(seg, NULL, 0, 0600);
	check_replaced(spec, "empty");
	seg_write(seg, "TGCL", 4, 0600);
	check_replaced(spec, "4 bytes");

	/* Larger than any table (sparse). */
	seg_write(seg, NULL, 0, 0600);
	char path[300];
	seg_path(path, sizeof(path), seg);
	ck_assert_int_eq(truncate(path, (off_t)(sizeof(tgc_table_hdr_t) +
	                 (TGC_TABLE_NODES_MAX + 1) * sizeof(tgc_node_rec_t))), 0);
	check_replaced(spec, "huge");

	free(junk);
}
END_TEST

START_TEST(replace_bad_header)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	tgc_table_t t;
	char path[300];
	seg_path(path, sizeof(path), seg);

	make_victim(&t, spec);
	atomic_store(&t.hdr->magic, 0x4c434755u);
	tgc_table_close(&t);
	check_replaced(spec, "magic");

	make_victim(&t, spec);
	t.hdr->version = TGC_TABLE_VERSION + 1;
	tgc_table_close(&t);
	check_replaced(spec, "version");

	make_victim(&t, spec);
	t.hdr->rec_size = 64;
	tgc_table_close(&t);
	check_replaced(spec, "record size");

	make_victim(&t, spec);
	t.hdr->size += sizeof(tgc_node_rec_t);
	tgc_table_close(&t);
	check_replaced(spec, "size field");

	make_victim(&t, spec);
	t.hdr->node_count = 4;
	tgc_table_close(&t);
	check_replaced(spec, "node count");

	make_victim(&t, spec);
	t.hdr->role = 7;
	tgc_table_close(&t);
	check_replaced(spec, "role");

	make_victim(&t, spec);
	memset(t.hdr->zone, 'a', sizeof(t.hdr->zone));
	tgc_table_close(&t);
	check_replaced(spec, "unterminated zone");

	make_victim(&t, spec);
	t.nodes[2].family = 99;
	tgc_table_close(&t);
	check_replaced(spec, "node family");

	make_victim(&t, spec);
	t.nodes[1].mapped_family = 3;
	tgc_table_close(&t);
	check_replaced(spec, "mapped family");

	make_victim(&t, spec);
	t.nodes[1].tier = 2;
	tgc_table_close(&t);
	check_replaced(spec, "node tier");

	/* File size not matching the header. */
	make_victim(&t, spec);
	size_t size = t.size;
	tgc_table_close(&t);
	ck_assert_int_eq(truncate(path, (off_t)(size + sizeof(tgc_node_rec_t))), 0);
	check_replaced(spec, "file longer");
	make_victim(&t, spec);
	tgc_table_close(&t);
	ck_assert_int_eq(truncate(path, (off_t)(size - 1)), 0);
	check_replaced(spec, "file shorter");
}
END_TEST

START_TEST(replace_bad_mode)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	char path[300];
	seg_path(path, sizeof(path), seg);
	const mode_t modes[] = { 0644, 0640, 0604, 0660, 0666 };
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		tgc_table_t t;
		make_victim(&t, spec);
		tgc_table_close(&t);
		ck_assert_int_eq(chmod(path, modes[i]), 0);
		/* Accessible to others: never trusted, states not carried. */
		check_replaced(spec, "mode");
	}
}
END_TEST

START_TEST(refuse_other_owner)
{
	if (geteuid() != 0) {
		/* Needs to give a file away; nothing to check otherwise. */
		fprintf(stderr, "refuse_other_owner: not root, not checked\n");
		return;
	}
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	tgc_table_t t;
	make_victim(&t, spec);
	tgc_table_close(&t);
	char path[300];
	seg_path(path, sizeof(path), seg);
	ck_assert_int_eq(chown(path, 65534, 65534), 0);

	const char *err = NULL;
	ck_assert_int_eq(tgc_table_open(&t, seg, spec, NULL, &err), KNOT_EACCES);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_null(t.hdr);
	/* Left alone. */
	uid_t uid;
	seg_stat(seg, NULL, NULL, &uid);
	ck_assert_uint_eq(uid, 65534);
}
END_TEST

/*! \brief Validates a private copy of \a len bytes (exact allocation, so
 *         that ASan sees any read past the end). */
static int validate_copy(const void *mem, size_t len)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, mem, len);
	const char *err = NULL;
	int ret = tgc_table_validate(copy, len, &err);
	if (ret != KNOT_EOK) {
		ensure(err != NULL, "no reason for %d", ret);
	}
	free(copy);
	return ret;
}

START_TEST(validate_fuzz)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	tgc_table_t t;
	open_ok(&t, spec, TGC_TABLE_CREATED);
	size_t size = t.size;
	uint8_t *img = malloc(size + 512);
	ck_assert_ptr_nonnull(img);
	memcpy(img, t.hdr, size);
	memset(img + size, 0, 512);
	tgc_table_close(&t);

	/* The image itself is valid. */
	ck_assert_int_eq(validate_copy(img, size), KNOT_EOK);
	ck_assert_int_eq(tgc_table_validate(NULL, size, NULL), KNOT_EMALF);

	/* Every truncation and extension is refused. */
	for (size_t len = 0; len < size; len++) {
		int ret = validate_copy(img, len);
		ensure(ret != KNOT_EOK, "truncated to %zu accepted", len);
	}
	for (size_t len = size + 1; len <= size + 512; len++) {
		int ret = validate_copy(img, len);
		ensure(ret != KNOT_EOK, "extended to %zu accepted", len);
	}

	/* Other version: not supported, not malformed. */
	tgc_table_hdr_t *h = (tgc_table_hdr_t *)img;
	h->version = TGC_TABLE_VERSION + 1;
	ck_assert_int_eq(validate_copy(img, size), KNOT_ENOTSUP);
	h->version = TGC_TABLE_VERSION;

	/* Counts and sizes that would overflow. */
	uint32_t count = h->node_count;
	uint64_t hsize = h->size;
	h->node_count = UINT32_MAX;
	ck_assert_int_eq(validate_copy(img, size), KNOT_EMALF);
	h->node_count = count;
	h->size = UINT64_MAX;
	ck_assert_int_eq(validate_copy(img, size), KNOT_EMALF);
	h->size = hsize;
	ck_assert_int_eq(validate_copy(img, size), KNOT_EOK);

	/* Too many nodes, even with consistent sizes. */
	size_t big = sizeof(tgc_table_hdr_t) +
	             (TGC_TABLE_NODES_MAX + 1) * sizeof(tgc_node_rec_t);
	uint8_t *huge = calloc(1, big);
	ck_assert_ptr_nonnull(huge);
	memcpy(huge, img, sizeof(tgc_table_hdr_t));
	((tgc_table_hdr_t *)huge)->node_count = TGC_TABLE_NODES_MAX + 1;
	((tgc_table_hdr_t *)huge)->size = big;
	tgc_node_rec_t *recs = (tgc_node_rec_t *)(huge + sizeof(tgc_table_hdr_t));
	for (size_t i = 0; i <= TGC_TABLE_NODES_MAX; i++) {
		recs[i].family = AF_INET;
	}
	ck_assert_int_eq(tgc_table_validate(huge, big, NULL), KNOT_EMALF);
	free(huge);

	/* Random images, with and without a valid magic and version. */
	for (int k = 0; k < 3000; k++) {
		size_t len = (size_t)(test_rnd() % 4096);
		uint8_t *buf = malloc(len > 0 ? len : 1);
		ck_assert_ptr_nonnull(buf);
		for (size_t i = 0; i < len; i++) {
			buf[i] = (uint8_t)test_rnd();
		}
		if (k % 2 == 0 && len >= sizeof(tgc_table_hdr_t)) {
			memcpy(buf, img, 8); /* magic and version */
		}
		int ret = tgc_table_validate(buf, len, NULL);
		ensure(ret != KNOT_EOK, "random image %d of %zu bytes accepted", k, len);
		free(buf);
	}

	/* Single-byte corruption of a checked field is refused. */
	const size_t checked[] = {
		0, 3, 4, 8, 12, 16, 20, 24,
		offsetof(tgc_table_hdr_t, zone), offsetof(tgc_table_hdr_t, instance),
		offsetof(tgc_table_hdr_t, name),
	};
	for (size_t i = 0; i < sizeof(checked) / sizeof(checked[0]); i++) {
		uint8_t *c = malloc(size);
		ck_assert_ptr_nonnull(c);
		memcpy(c, img, size);
		if (checked[i] >= offsetof(tgc_table_hdr_t, zone)) {
			/* Fill the string: unterminated. */
			memset(c + checked[i], 'x', (checked[i] == offsetof(tgc_table_hdr_t, instance))
			       ? 64 : 256);
		} else {
			c[checked[i]] ^= 0x5a;
		}
		int ret = tgc_table_validate(c, size, NULL);
		ck_assert_msg(ret != KNOT_EOK, "corruption at %zu accepted", checked[i]);
		free(c);
	}
	free(img);
}
END_TEST

START_TEST(attach_readonly)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	tgc_table_t t;
	open_ok(&t, spec, TGC_TABLE_CREATED);
	set_state(&t, 1, 50);

	tgc_table_t ro;
	const char *err = NULL;
	ck_assert_int_eq(tgc_table_attach(&ro, seg, false, &err), KNOT_EOK);
	ck_assert(!ro.writable);
	ck_assert_str_eq(ro.name, seg);
	check_records(&ro, spec);
	check_state(&ro, 1, 50);
	check_fresh(&ro, 0);

	/* Read-only: admin changes are refused and nothing changes. */
	uint64_t gen = atomic_load(&t.hdr->generation);
	ck_assert_int_eq(tgc_table_admin_set(&ro, 0, TGC_ADMIN_DOWN), KNOT_EACCES);
	ck_assert_int_eq(tgc_table_admin(&t, 0), TGC_ADMIN_AUTO);
	ck_assert_uint_eq(atomic_load(&t.hdr->generation), gen);

	/* Changes of the module show through. */
	atomic_store(&t.nodes[0].health, (uint8_t)TGC_HEALTH_UP);
	ck_assert_int_eq(tgc_table_health(&ro, 0), TGC_HEALTH_UP);
	tgc_table_close(&ro);
	ck_assert_ptr_null(ro.hdr);

	/* Writable, name without the slash. */
	tgc_table_t rw;
	ck_assert_int_eq(tgc_table_attach(&rw, seg + 1, true, &err), KNOT_EOK);
	ck_assert(rw.writable);
	ck_assert_str_eq(rw.name, seg);
	ck_assert_int_eq(tgc_table_admin_set(&rw, 0, TGC_ADMIN_DOWN), KNOT_EOK);
	ck_assert_int_eq(tgc_table_admin(&t, 0), TGC_ADMIN_DOWN);
	ck_assert_uint_eq(atomic_load(&t.hdr->generation), gen + 1);
	/* Bad index or state. */
	ck_assert_int_eq(tgc_table_admin_set(&rw, 3, TGC_ADMIN_UP), KNOT_EINVAL);
	ck_assert_int_eq(tgc_table_admin_set(&rw, 0, (tgc_admin_t)4), KNOT_EINVAL);
	ck_assert_int_eq(tgc_table_admin_set(NULL, 0, TGC_ADMIN_UP), KNOT_EINVAL);
	ck_assert_int_eq(tgc_table_admin(&t, 0), TGC_ADMIN_DOWN);
	ck_assert_uint_eq(atomic_load(&t.hdr->generation), gen + 1);
	tgc_table_close(&rw);
	tgc_table_close(&t);
}
END_TEST

START_TEST(attach_errors)
{
	tgc_table_t t;
	const char *err = NULL;

	/* Nothing there. */
	ck_assert_int_eq(tgc_table_attach(&t, seg, false, &err), KNOT_ENOENT);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_null(t.hdr);

	/* Other layout version. */
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	tgc_table_t mod;
	open_ok(&mod, spec, TGC_TABLE_CREATED);
	mod.hdr->version = TGC_TABLE_VERSION + 1;
	err = NULL;
	ck_assert_int_eq(tgc_table_attach(&t, seg, false, &err), KNOT_ENOTSUP);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_null(t.hdr);
	mod.hdr->version = TGC_TABLE_VERSION;
	ck_assert_int_eq(tgc_table_attach(&t, seg, false, &err), KNOT_EOK);
	tgc_table_close(&t);

	/* Not a table. */
	atomic_store(&mod.hdr->magic, 0);
	ck_assert_int_eq(tgc_table_attach(&t, seg, true, &err), KNOT_EMALF);
	ck_assert_ptr_null(t.hdr);
	tgc_table_close(&mod);
	ck_assert_int_eq(tgc_table_unlink(seg), KNOT_EOK);
	seg_write(seg, "short", 5, 0600);
	ck_assert_int_eq(tgc_table_attach(&t, seg, false, &err), KNOT_EMALF);
	ck_assert_int_eq(tgc_table_unlink(seg), KNOT_EOK);

	/* Arguments. */
	ck_assert_int_eq(tgc_table_attach(NULL, seg, false, &err), KNOT_EINVAL);
	ck_assert_int_eq(tgc_table_attach(&t, NULL, false, &err), KNOT_EINVAL);
	char longname[400];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(tgc_table_attach(&t, longname, false, &err), KNOT_EINVAL);
	tgc_table_close(NULL);
}
END_TEST

START_TEST(node_read)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	tgc_table_t t;
	open_ok(&t, spec, TGC_TABLE_CREATED);

	tgc_node_snap_t s;
	tgc_table_node_read(&t, 2, &s);
	tgc_addr_t want = A("2001:db8::1"), mapped = A("fd00::1");
	ck_assert(tgc_addr_equal(&s.addr, &want));
	ck_assert(tgc_addr_equal(&s.mapped, &mapped));
	ck_assert_uint_eq(s.port, 5900);

	/* Out of range: all zero. */
	memset(&s, 0xaa, sizeof(s));
	ck_assert_int_eq(tgc_table_node_read(&t, 3, &s), KNOT_EINVAL);
	ck_assert_int_eq(s.addr.family, 0);
	ck_assert_uint_eq(s.probes, 0);
	ck_assert_uint_eq(s.answers, 0);
	memset(&s, 0xaa, sizeof(s));
	tgc_table_node_read(NULL, 0, &s);
	ck_assert_int_eq(s.addr.family, 0);

	/* Without mapped addresses. */
	tgc_table_close(&t);
	ck_assert_int_eq(tgc_table_unlink(seg), KNOT_EOK);
	static const char *addrs[] = { "10.0.0.1" };
	static const uint16_t ports[] = { 1 };
	spec = make_spec(&sb, addrs, ports, 1, NULL);
	open_ok(&t, spec, TGC_TABLE_CREATED);
	tgc_table_node_read(&t, 0, &s);
	ck_assert_int_eq(s.mapped.family, 0);
	ck_assert_uint_eq(s.port, 1);
	tgc_table_close(&t);
}
END_TEST

START_TEST(node_update_parts)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	tgc_table_t t;
	open_ok(&t, spec, TGC_TABLE_CREATED);
	tgc_node_snap_t s;

	/* A probe start: only probe_start_ms changes. */
	uint64_t gen = atomic_load(&t.hdr->generation);
	tgc_node_update_t u = { .what = TGC_NODE_UPD_START, .probe_start_ms = 77 };
	ck_assert(tgc_table_node_update(&t, 1, &u));
	tgc_table_node_read(&t, 1, &s);
	ck_assert_uint_eq(s.probe_start_ms, 77);
	ck_assert_uint_eq(s.probes, 0);
	ck_assert_int_eq(s.health, TGC_HEALTH_UNKNOWN);
	ck_assert_uint_eq(atomic_load(&t.hdr->generation), gen + 1);

	/* A result with a transition: counters move, start cleared, due set. */
	u = (tgc_node_update_t) {
		.what = TGC_NODE_UPD_RESULT | TGC_NODE_UPD_HEALTH |
		        TGC_NODE_UPD_START | TGC_NODE_UPD_DUE,
		.health = TGC_HEALTH_DOWN, .consec_ok = 0, .consec_fail = 2,
		.last_probe = TGC_PROBE_REFUSED, .last_rtt_us = 5, .now_ms = 1000,
		.probe_start_ms = 0, .next_due_ms = 2000,
	};
	ck_assert(tgc_table_node_update(&t, 1, &u));
	tgc_table_node_read(&t, 1, &s);
	ck_assert_int_eq(s.health, TGC_HEALTH_DOWN);
	ck_assert_uint_eq(s.since_ms, 1000);
	ck_assert_uint_eq(s.transitions, 1);
	ck_assert_uint_eq(s.consec_fail, 2);
	ck_assert_int_eq(s.last_probe, TGC_PROBE_REFUSED);
	ck_assert_uint_eq(s.last_rtt_us, 5);
	ck_assert_uint_eq(s.last_check_ms, 1000);
	ck_assert_uint_eq(s.probes, 1);
	ck_assert_uint_eq(s.probe_start_ms, 0);
	ck_assert_uint_eq(s.next_due_ms, 2000);

	/* A result without a transition keeps health and since. */
	u.what = TGC_NODE_UPD_RESULT;
	u.health = TGC_HEALTH_UP;
	u.now_ms = 3000;
	ck_assert(tgc_table_node_update(&t, 1, &u));
	tgc_table_node_read(&t, 1, &s);
	ck_assert_int_eq(s.health, TGC_HEALTH_DOWN);
	ck_assert_uint_eq(s.since_ms, 1000);
	ck_assert_uint_eq(s.transitions, 1);
	ck_assert_uint_eq(s.probes, 2);
	ck_assert_uint_eq(s.next_due_ms, 2000);

	/* The probe outcome alone. */
	u = (tgc_node_update_t) { .what = TGC_NODE_UPD_PROBE,
	                          .last_probe = TGC_PROBE_DISABLED };
	ck_assert(tgc_table_node_update(&t, 1, &u));
	tgc_table_node_read(&t, 1, &s);
	ck_assert_int_eq(s.last_probe, TGC_PROBE_DISABLED);
	ck_assert_uint_eq(s.probes, 2);

	/* Busy record or bad index: refused, nothing written. */
	ck_assert(tgc_table_write_begin(&t.nodes[2]));
	ck_assert(!tgc_table_node_update(&t, 2, &u));
	tgc_table_write_end(&t, &t.nodes[2]);
	ck_assert(!tgc_table_node_update(&t, 3, &u));
	tgc_table_node_read(&t, 2, &s);
	ck_assert_int_eq(s.last_probe, TGC_PROBE_NONE);

	tgc_table_close(&t);
}
END_TEST

START_TEST(write_exclusive)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	tgc_table_t t;
	open_ok(&t, spec, TGC_TABLE_CREATED);
	tgc_node_rec_t *r = &t.nodes[1];

	uint64_t gen = atomic_load(&t.hdr->generation);
	ck_assert(tgc_table_write_begin(r));
	/* Another writer is refused while the first is inside... */
	ck_assert(!tgc_table_write_begin(r));
	ck_assert(!tgc_table_write_begin(r));
	/* ...other records are independent... */
	ck_assert(tgc_table_write_begin(&t.nodes[0]));
	tgc_table_write_end(&t, &t.nodes[0]);
	tgc_table_write_end(&t, r);
	ck_assert_uint_eq(atomic_load(&t.hdr->generation), gen + 2);
	/* ...and admitted again afterwards. */
	ck_assert(tgc_table_write_begin(r));
	tgc_table_write_end(&t, r);
	ck_assert_uint_eq(atomic_load(&t.hdr->generation), gen + 3);
	ck_assert_uint_eq(atomic_load(&r->seq) % 2, 0);

	/* A reader does not hang on a writer that died inside its section. */
	ck_assert(tgc_table_write_begin(r));
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tgc_node_snap_t s;
	ck_assert_int_eq(tgc_table_node_read(&t, 1, &s), KNOT_EBUSY);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_msg(secs < 10.0, "reader blocked %.1f s", secs);
	ck_assert_uint_eq(s.port, 5901);
	tgc_table_write_end(&t, r);
	tgc_table_close(&t);
}
END_TEST

/*! \brief Shared state of the seqlock race. */
typedef struct {
	tgc_table_t *writer_table;       /*!< Module mapping. */
	const tgc_table_t *reader_table; /*!< Mapping of this reader. */
	atomic_bool *stop;
	uint64_t ops;       /*!< Writes or reads done. */
	uint64_t busy;      /*!< Reads that gave up on a writer inside the
	                     *   record (KNOT_EBUSY: not a snapshot). */
	uint64_t bad;       /*!< Inconsistent snapshots or failed begins. */
	uint64_t backwards; /*!< Snapshots older than a previous one. */
	uint64_t last_bad_ok, last_bad_fail, last_bad_probes;
} race_t;

static void *race_writer(void *arg)
{
	race_t *r = arg;
	tgc_node_rec_t *rec = &r->writer_table->nodes[1];
	uint32_t v = 0;
	while (!atomic_load_explicit(r->stop, memory_order_relaxed)) {
		if (!tgc_table_write_begin(rec)) {
			r->bad++;
			continue;
		}
		v++;
		STORE(rec->consec_ok, v);
		STORE(rec->last_rtt_us, v);
		STORE(rec->consec_fail, v);
		STORE(rec->last_check_ms, (uint64_t)v);
		STORE(rec->probes, (uint64_t)v);
		tgc_table_write_end(r->writer_table, rec);
		r->ops++;
	}
	return NULL;
}

static void *race_reader(void *arg)
{
	race_t *r = arg;
	uint64_t last = 0;
	while (!atomic_load_explicit(r->stop, memory_order_relaxed)) {
		tgc_node_snap_t s;
		int ret = tgc_table_node_read(r->reader_table, 1, &s);
		r->ops++;
		/* A writer descheduled inside its section for longer than the
		 * reader waits (a loaded machine) makes the read give up: it
		 * says so, and promises no snapshot. */
		if (ret == KNOT_EBUSY) {
			r->busy++;
			continue;
		}
		if (ret != KNOT_EOK) {
			r->bad++;
			continue;
		}
		if (s.consec_ok != s.consec_fail || s.probes != s.consec_ok ||
		    s.last_rtt_us != s.consec_ok || s.last_check_ms != s.probes) {
			if (r->bad++ == 0) {
				r->last_bad_ok = s.consec_ok;
				r->last_bad_fail = s.consec_fail;
				r->last_bad_probes = s.probes;
			}
		}
		if (s.probes < last) {
			r->backwards++;
		}
		last = s.probes;
	}
	return NULL;
}

START_TEST(seqlock_race)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	tgc_table_t t, ro;
	open_ok(&t, spec, TGC_TABLE_CREATED);
	ck_assert_int_eq(tgc_table_attach(&ro, seg, false, NULL), KNOT_EOK);
	uint64_t gen0 = atomic_load(&t.hdr->generation);

	/* One reader shares the writer's mapping (visible to TSan), the
	 * other maps the segment read-only as tgclusterctl does. */
	atomic_bool stop = false;
	race_t w = { .writer_table = &t, .stop = &stop };
	race_t r1 = { .reader_table = &t, .stop = &stop };
	race_t r2 = { .reader_table = &ro, .stop = &stop };
	pthread_t tw, tr1, tr2;
	ck_assert_int_eq(pthread_create(&tr1, NULL, race_reader, &r1), 0);
	ck_assert_int_eq(pthread_create(&tr2, NULL, race_reader, &r2), 0);
	ck_assert_int_eq(pthread_create(&tw, NULL, race_writer, &w), 0);

	struct timespec pause = { .tv_sec = 1 };
	nanosleep(&pause, NULL);
	atomic_store(&stop, true);
	pthread_join(tw, NULL);
	pthread_join(tr1, NULL);
	pthread_join(tr2, NULL);

	fprintf(stderr, "seqlock_race: %llu writes, %llu + %llu reads "
	        "(%llu + %llu gave up)\n",
	        (unsigned long long)w.ops, (unsigned long long)r1.ops,
	        (unsigned long long)r2.ops, (unsigned long long)r1.busy,
	        (unsigned long long)r2.busy);
	ck_assert_uint_eq(w.bad, 0);
	ck_assert_uint_gt(w.ops, 100);
	/* Enough snapshots were checked for the asserts below to mean
	 * something. */
	ck_assert_uint_gt(r1.ops - r1.busy, 100);
	ck_assert_uint_gt(r2.ops - r2.busy, 100);
	ck_assert_msg(r1.bad == 0, "%llu torn snapshots (ok %llu fail %llu probes %llu)",
	              (unsigned long long)r1.bad, (unsigned long long)r1.last_bad_ok,
	              (unsigned long long)r1.last_bad_fail,
	              (unsigned long long)r1.last_bad_probes);
	ck_assert_msg(r2.bad == 0, "%llu torn snapshots (ok %llu fail %llu probes %llu)",
	              (unsigned long long)r2.bad, (unsigned long long)r2.last_bad_ok,
	              (unsigned long long)r2.last_bad_fail,
	              (unsigned long long)r2.last_bad_probes);
	ck_assert_uint_eq(r1.backwards, 0);
	ck_assert_uint_eq(r2.backwards, 0);
	/* Every write bumped the generation once. */
	ck_assert_uint_eq(atomic_load(&t.hdr->generation), gen0 + w.ops);
	tgc_node_snap_t s;
	ck_assert_int_eq(tgc_table_node_read(&ro, 1, &s), KNOT_EOK);
	ck_assert_uint_eq(s.probes, w.ops);

	tgc_table_close(&ro);
	tgc_table_close(&t);
}
END_TEST

START_TEST(state_names)
{
	for (int a = TGC_ADMIN_AUTO; a <= TGC_ADMIN_DOWN; a++) {
		const char *name = tgc_table_admin_str((tgc_admin_t)a);
		ck_assert_int_eq(tgc_table_admin_parse(name), a);
	}
	ck_assert_str_eq(tgc_table_admin_str(TGC_ADMIN_DRAIN), "drain");
	ck_assert_str_eq(tgc_table_admin_str((tgc_admin_t)9), "invalid");
	ck_assert_int_eq(tgc_table_admin_parse("DRAIN"), -1);
	ck_assert_int_eq(tgc_table_admin_parse("invalid"), -1);
	ck_assert_int_eq(tgc_table_admin_parse(""), -1);
	ck_assert_int_eq(tgc_table_admin_parse(NULL), -1);
	ck_assert_str_eq(tgc_table_health_str(TGC_HEALTH_UNKNOWN), "unknown");
	ck_assert_str_eq(tgc_table_health_str(TGC_HEALTH_UP), "up");
	ck_assert_str_eq(tgc_table_health_str(TGC_HEALTH_DOWN), "down");
	ck_assert_str_eq(tgc_table_health_str((tgc_health_t)3), "invalid");
	ck_assert_str_eq(tgc_table_probe_str(TGC_PROBE_OK), "ok");
	ck_assert_str_eq(tgc_table_probe_str(TGC_PROBE_RFB_REFUSED), "rfb-refused");
	ck_assert_str_eq(tgc_table_probe_str(TGC_PROBE_HANDSHAKE), "bad-handshake");
	ck_assert_str_eq(tgc_table_probe_str((tgc_probe_t)42), "invalid");
	/* Distinct names for distinct outcomes. */
	for (int i = TGC_PROBE_NONE; i <= TGC_PROBE_HANDSHAKE; i++) {
		for (int j = i + 1; j <= TGC_PROBE_HANDSHAKE; j++) {
			ck_assert_str_ne(tgc_table_probe_str((tgc_probe_t)i),
			                 tgc_table_probe_str((tgc_probe_t)j));
		}
	}
}
END_TEST

/*
 * Ownership and the private view. The interleavings of two writers are
 * driven step by step: "instance A" and "instance B" are two opens of the
 * segment in this process (what knotc reload does), a "dead process" is the
 * owner word of a reaped child, a "live process" that of a blocked child.
 */

/*! \brief A child process blocked on a pipe until child_end(). */
typedef struct {
	pid_t pid;
	int fd;          /*!< Write end: closing it lets the child exit. */
	uint64_t owner;  /*!< Its owner word. */
} child_t;

static void child_start(child_t *c)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	c->pid = fork();
	ck_assert_int_ge(c->pid, 0);
	if (c->pid == 0) {
		close(p[1]);
		char b;
		while (read(p[0], &b, 1) < 0 && errno == EINTR) {
		}
		_exit(0);
	}
	close(p[0]);
	c->fd = p[1];
	uint64_t start = tgc_table_proc_start(c->pid);
	ck_assert_uint_ne(start, 0);
	c->owner = TGC_TABLE_OWNER(c->pid, start);
	ck_assert(tgc_table_owner_alive(c->owner));
}

static void child_end(child_t *c)
{
	close(c->fd);
	int st;
	ck_assert_int_eq(waitpid(c->pid, &st, 0), c->pid);
	ck_assert(!tgc_table_owner_alive(c->owner));
}

/*! \brief Owner word of a process that existed and is gone. */
static uint64_t dead_owner(pid_t *pid)
{
	child_t c;
	child_start(&c);
	child_end(&c);
	if (pid != NULL) {
		*pid = c.pid;
	}
	return c.owner;
}

/*! \brief Opens \a seg as a module instance does: open, view, claim. */
static void instance_open(tgc_table_t *t, const tgc_table_spec_t *spec,
                          uint64_t token, unsigned *closed)
{
	const char *err = NULL;
	int ret = tgc_table_open(t, seg, spec, NULL, &err);
	ck_assert_msg(ret == KNOT_EOK, "open: %d (%s)", ret, err ? err : "-");
	ck_assert_int_eq(tgc_table_view(t), KNOT_EOK);
	ck_assert_int_eq(tgc_table_claim(t, token, closed), KNOT_EOK);
}

#define TOKEN_A	0xa0a0a0a0a0a0a0a0ULL
#define TOKEN_B	0xb0b0b0b0b0b0b0b0ULL

START_TEST(owner_self_and_proc)
{
	uint64_t self = tgc_table_owner_self();
	ck_assert_int_eq(TGC_TABLE_OWNER_PID(self), getpid());
	ck_assert(tgc_table_owner_alive(self));
	ck_assert_uint_eq(tgc_table_proc_start(getpid()), self >> TGC_TABLE_OWNER_PID_BITS);
	/* Same pid, other start time: not alive (pid reuse). */
	ck_assert(!tgc_table_owner_alive(TGC_TABLE_OWNER(getpid(),
	                                 tgc_table_proc_start(getpid()) + 1)));
	ck_assert(!tgc_table_owner_alive(0));
	ck_assert(!tgc_table_owner_alive(dead_owner(NULL)));
	ck_assert_uint_eq(tgc_table_proc_start(-1), 0);
}
END_TEST

START_TEST(owner_live_foreign_refused)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	tgc_table_t t;
	open_ok(&t, spec, TGC_TABLE_CREATED);
	child_t other;
	child_start(&other);
	atomic_store(&t.hdr->owner, other.owner);
	atomic_store(&t.hdr->writer, TOKEN_B);

	/* Another live process owns it: neither open nor claim takes it, and
	 * the refusal names that process. */
	tgc_table_t t2;
	const char *err = NULL;
	ck_assert_int_eq(tgc_table_open(&t2, seg, spec, NULL, &err), KNOT_EBUSY);
	ck_assert_int_eq(t2.owner_pid, other.pid);
	ck_assert_ptr_nonnull(err);
	ck_assert_int_eq(tgc_table_claim(&t, TOKEN_A, NULL), KNOT_EBUSY);
	ck_assert_int_eq(t.owner_pid, other.pid);
	ck_assert_uint_eq(atomic_load(&t.hdr->writer), TOKEN_B);
	/* Nor does the periodic sync. */
	tgc_table_sync_t ev;
	tgc_table_sync(&t, TOKEN_A, &ev);
	ck_assert(!ev.writer && !ev.retaken);
	ck_assert_uint_eq(atomic_load(&t.hdr->owner), other.owner);

	/* Once it is gone the segment is ours. */
	child_end(&other);
	tgc_table_close(&t);
	unsigned closed = 99;
	instance_open(&t, spec, TOKEN_A, &closed);
	ck_assert_uint_eq(closed, 0);
	tgc_table_close(&t);
	ck_assert_int_eq(tgc_table_attach(&t, seg, false, NULL), KNOT_EOK);
	ck_assert_uint_eq(atomic_load(&t.hdr->owner), tgc_table_owner_self());
	ck_assert_uint_eq(atomic_load(&t.hdr->writer), TOKEN_A);
	ck_assert_uint_eq(atomic_load(&t.hdr->writer_pid), (uint64_t)getpid());
	tgc_table_close(&t);
	tgc_table_release(TOKEN_A);
}
END_TEST

START_TEST(takeover_reload_never_forces)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	tgc_table_t a, b, m;
	tgc_table_sync_t ev;
	instance_open(&a, spec, TOKEN_A, NULL);
	tgc_table_sync(&a, TOKEN_A, &ev);
	ck_assert(ev.writer);
	ck_assert_int_eq(tgc_table_attach(&m, seg, true, NULL), KNOT_EOK);

	/* A is inside a write of record 0 of the segment when B loads. */
	uint32_t s = tgc_table_write_begin(&m.nodes[0]);
	ck_assert_uint_ne(s, 0);
	unsigned closed = 99;
	instance_open(&b, spec, TOKEN_B, &closed);
	ck_assert_uint_eq(closed, 0);  /* A is alive: not forced. */
	ck_assert_uint_eq(atomic_load(&m.nodes[0].seq), s);

	/* B probes: its view changes; the busy record waits. */
	ck_assert(tgc_table_write_begin(&b.nodes[0]));
	STORE(b.nodes[0].consec_ok, 77);
	tgc_table_write_end(&b, &b.nodes[0]);
	tgc_table_sync(&b, TOKEN_B, &ev);
	ck_assert(ev.writer && !ev.retaken && !ev.dropped);
	ck_assert_uint_eq(atomic_load(&m.nodes[0].consec_ok), 0);

	/* A's late end closes its own section (s+1 -> s+2) ... */
	tgc_table_write_end(&m, &m.nodes[0]);
	ck_assert_uint_eq(atomic_load(&m.nodes[0].seq), s + 1);
	/* ... and B's next sync publishes: nothing is frozen. */
	tgc_table_sync(&b, TOKEN_B, &ev);
	ck_assert_uint_eq(atomic_load(&m.nodes[0].consec_ok), 77);
	ck_assert_uint_eq(atomic_load(&m.nodes[0].seq) & 1u, 0);

	/* A follows B from now on, and never takes the table back while B
	 * lives. */
	tgc_table_sync(&a, TOKEN_A, &ev);
	ck_assert(!ev.writer && !ev.retaken);
	ck_assert_uint_eq(atomic_load(&a.hdr->writer), TOKEN_B);
	ck_assert_uint_eq(atomic_load(&a.nodes[0].consec_ok), 77);
	ck_assert_uint_eq(atomic_load(&m.hdr->writer), TOKEN_B);

	/* B unloads without A having gone (a failed reload): A takes over
	 * within one sync. */
	tgc_table_close(&b);
	tgc_table_release(TOKEN_B);
	tgc_table_sync(&a, TOKEN_A, &ev);
	ck_assert(ev.writer && ev.retaken);
	ck_assert_int_eq(ev.gone_pid, getpid());
	ck_assert_uint_eq(ev.closed, 0);
	ck_assert_uint_eq(atomic_load(&m.hdr->writer), TOKEN_A);

	tgc_table_close(&a);
	tgc_table_close(&m);
	tgc_table_release(TOKEN_A);
}
END_TEST

START_TEST(dead_writer_closed_late_end_never_reopens)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	tgc_table_t m, b;
	open_ok(&m, spec, TGC_TABLE_CREATED);
	/* A writer process that died inside a write of record 1. */
	pid_t dead_pid;
	atomic_store(&m.hdr->owner, dead_owner(&dead_pid));
	atomic_store(&m.hdr->writer, TOKEN_A);
	uint32_t s = tgc_table_write_begin(&m.nodes[1]);
	ck_assert_uint_ne(s, 0);

	unsigned closed = 0;
	instance_open(&b, spec, TOKEN_B, &closed);
	ck_assert_uint_eq(closed, 1);
	ck_assert_uint_eq(atomic_load(&m.nodes[1].seq), s + 1);

	/* Had it only seemed dead, its late end must not reopen the record. */
	tgc_table_write_end(&m, &m.nodes[1]);
	ck_assert_uint_eq(atomic_load(&m.nodes[1].seq), s + 1);
	tgc_table_write_end(&m, &m.nodes[1]);
	ck_assert_uint_eq(atomic_load(&m.nodes[1].seq), s + 1);

	/* The new writer's writes go through. */
	ck_assert(tgc_table_write_begin(&b.nodes[1]));
	STORE(b.nodes[1].probes, 5);
	tgc_table_write_end(&b, &b.nodes[1]);
	tgc_table_sync_t ev;
	tgc_table_sync(&b, TOKEN_B, &ev);
	ck_assert(ev.writer);
	ck_assert_uint_eq(atomic_load(&m.nodes[1].probes), 5);
	ck_assert_uint_eq(atomic_load(&m.nodes[1].seq), s + 3);
	tgc_table_close(&b);
	tgc_table_close(&m);
	tgc_table_release(TOKEN_B);
}
END_TEST

START_TEST(retake_from_gone_process)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	tgc_table_t a, m;
	instance_open(&a, spec, TOKEN_A, NULL);
	ck_assert_int_eq(tgc_table_attach(&m, seg, true, NULL), KNOT_EOK);
	/* The segment went to another process, which is gone now, inside a
	 * write. */
	pid_t dead_pid;
	atomic_store(&m.hdr->owner, dead_owner(&dead_pid));
	atomic_store(&m.hdr->writer, TOKEN_B);
	ck_assert(tgc_table_write_begin(&m.nodes[2]));
	tgc_table_sync_t ev;
	tgc_table_sync(&a, TOKEN_A, &ev);
	ck_assert(ev.writer && ev.retaken);
	ck_assert_int_eq(ev.gone_pid, dead_pid);
	ck_assert_uint_eq(ev.closed, 1);
	ck_assert_uint_eq(atomic_load(&m.hdr->owner), tgc_table_owner_self());
	ck_assert_uint_eq(atomic_load(&m.hdr->writer), TOKEN_A);
	ck_assert_uint_eq(atomic_load(&m.nodes[2].seq) & 1u, 0);
	tgc_table_close(&a);
	tgc_table_close(&m);
	tgc_table_release(TOKEN_A);
}
END_TEST

/*! \brief A translator spec over the standard nodes. */
static tgc_table_spec_t *spec_translator(spec_buf_t *sb)
{
	tgc_table_spec_t *spec = spec3(sb);
	spec->role = TGC_ROLE_TRANSLATOR;
	for (unsigned i = 0; i < spec->node_count; i++) {
		memset(&sb->nodes[i].mapped, 0, sizeof(sb->nodes[i].mapped));
	}
	spec->check = 2;
	spec->stale_limit_s = 60;
	return spec;
}

START_TEST(stuck_cache_record)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec_translator(&sb);
	tgc_table_t m, b;
	open_ok(&m, spec, TGC_TABLE_CREATED);
	tgc_cache_snap_t *in = calloc(1, sizeof(*in));
	tgc_cache_snap_t *out = calloc(1, sizeof(*out));
	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	in->valid = true;
	in->ok = true;
	in->count = 1;
	in->ttl = 5;
	in->addrs[0] = A("192.0.2.7");
	in->fetched_ms = in->polled_ms = tgc_table_now_ms();
	ck_assert_int_eq(tgc_table_cache_write(&m, TGC_CACHE_A, in), KNOT_EOK);
	/* knotd killed inside the next cache write. */
	atomic_store(&m.hdr->owner, dead_owner(NULL));
	uint32_t s = atomic_load(&m.cache[TGC_CACHE_A].seq);
	atomic_store(&m.cache[TGC_CACHE_A].seq, s + 1);

	/* A reader of the stuck record gives up quickly (never ms of spinning):
	 * the mean of 100 reads (the bound on a loaded machine is loose; the
	 * figure is printed). */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(tgc_table_cache_read(&m, TGC_CACHE_A, out, false),
		                 KNOT_EBUSY);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 +
	             (t1.tv_nsec - t0.tv_nsec) / 1e3) / 100;
	fprintf(stderr, "stuck_cache_record: busy reported after %.2f us (mean)\n", us);
	ck_assert_msg(us < 1000.0, "reader spun %.0f us", us);
	ck_assert_int_eq(tgc_table_cache_write(&m, TGC_CACHE_A, in), KNOT_EBUSY);

	/* The restarted instance: its view answers at once from the kept
	 * cache, the claim closes the record, the poller's writes go through. */
	unsigned closed = 0;
	instance_open(&b, spec, TOKEN_B, &closed);
	ck_assert_uint_eq(closed, 1);
	ck_assert_int_eq(tgc_table_cache_read(&b, TGC_CACHE_A, out, false), KNOT_EOK);
	ck_assert(out->valid);
	ck_assert_uint_eq(out->count, 1);
	ck_assert(tgc_addr_equal(&out->addrs[0], &in->addrs[0]));
	ck_assert_int_eq(tgc_table_cache_read(&m, TGC_CACHE_A, out, false), KNOT_EOK);
	in->addrs[0] = A("192.0.2.8");
	ck_assert_int_eq(tgc_table_cache_write(&b, TGC_CACHE_A, in), KNOT_EOK);
	tgc_table_sync_t ev;
	tgc_table_sync(&b, TOKEN_B, &ev);
	ck_assert(ev.writer);
	ck_assert_int_eq(tgc_table_cache_read(&m, TGC_CACHE_A, out, false), KNOT_EOK);
	ck_assert(tgc_addr_equal(&out->addrs[0], &in->addrs[0]));
	tgc_table_close(&b);
	tgc_table_close(&m);
	tgc_table_release(TOKEN_B);
	free(in);
	free(out);
}
END_TEST

/*! \brief Asserts that the load report fields of \a out match \a in. */
static void check_load(const tgc_cache_snap_t *out, const tgc_cache_snap_t *in)
{
	ck_assert_uint_eq(out->count, in->count);
	ck_assert_int_eq(out->reported, in->reported);
	for (unsigned i = 0; i < in->count; i++) {
		ck_assert_msg(tgc_addr_equal(&out->addrs[i], &in->addrs[i]),
		              "address %u", i);
		ck_assert_msg(out->sessions[i] == in->sessions[i],
		              "sessions[%u] %u, want %u", i, out->sessions[i],
		              in->sessions[i]);
		ck_assert_msg(out->capacity_x100[i] == in->capacity_x100[i],
		              "capacity_x100[%u] %u, want %u", i,
		              out->capacity_x100[i], in->capacity_x100[i]);
		ck_assert_msg(out->slot[i] == in->slot[i], "slot[%u] %u, want %u",
		              i, out->slot[i], in->slot[i]);
	}
}

START_TEST(cache_load_round_trip)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec_translator(&sb);
	tgc_table_t a, m;
	instance_open(&a, spec, TOKEN_A, NULL);
	ck_assert_int_eq(tgc_table_attach(&m, seg, true, NULL), KNOT_EOK);
	tgc_cache_snap_t *in = calloc(1, sizeof(*in));
	tgc_cache_snap_t *out = calloc(1, sizeof(*out));
	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);

	for (unsigned rec = 0; rec < TGC_CACHE_RECS; rec++) {
		memset(in, 0, sizeof(*in));
		in->valid = true;
		in->ok = true;
		in->count = TGC_CACHE_ADDRS_MAX;
		in->ttl = 5;
		in->reported = true;
		in->fetched_ms = in->polled_ms = tgc_table_now_ms();
		for (unsigned i = 0; i < TGC_CACHE_ADDRS_MAX; i++) {
			char txt[64];
			snprintf(txt, sizeof(txt), (rec == TGC_CACHE_A) ?
			         "10.20.0.%u" : "2001:db8::%u", i + 1);
			in->addrs[i] = A(txt);
			/* Distinct in every byte: a word or a shift off shows. */
			in->sessions[i] = 0x01000000u * (i + 1) + 0x10203u * i + 7;
			in->capacity_x100[i] = 0xfedcba98u - 0x01010101u * i;
			in->slot[i] = (uint8_t)((37 * i + 5) % TGC_CACHE_SLOTS);
		}
		in->sessions[31] = UINT32_MAX;
		in->capacity_x100[31] = UINT32_MAX;
		in->sessions[8] = 0;
		in->capacity_x100[8] = 0;
		ck_assert_int_eq(tgc_table_cache_write(&a, rec, in), KNOT_EOK);
		/* The view the poller writes... */
		ck_assert_int_eq(tgc_table_cache_read(&a, rec, out, false), KNOT_EOK);
		check_load(out, in);
		ck_assert_uint_eq(out->slot[0], in->slot[0]);
		ck_assert_uint_eq(out->slot[7], in->slot[7]);
		ck_assert_uint_eq(out->slot[8], in->slot[8]);
		ck_assert_uint_eq(out->slot[31], in->slot[31]);
		/* ...and the segment the others read, after the copy. */
		tgc_table_sync_t ev;
		tgc_table_sync(&a, TOKEN_A, &ev);
		ck_assert(ev.writer);
		memset(out, 0, sizeof(*out));
		ck_assert_int_eq(tgc_table_cache_read(&m, rec, out, false), KNOT_EOK);
		check_load(out, in);

		/* A shorter answer without a report replaces it all. */
		in->count = 9;
		in->reported = false;
		for (unsigned i = 0; i < in->count; i++) {
			in->sessions[i] = i;
			in->capacity_x100[i] = 100;
			in->slot[i] = (uint8_t)(i + 20);
		}
		ck_assert_int_eq(tgc_table_cache_write(&a, rec, in), KNOT_EOK);
		ck_assert_int_eq(tgc_table_cache_read(&a, rec, out, false), KNOT_EOK);
		check_load(out, in);
		tgc_table_sync(&a, TOKEN_A, &ev);
		ck_assert_int_eq(tgc_table_cache_read(&m, rec, out, false), KNOT_EOK);
		check_load(out, in);
	}

	tgc_table_close(&a);
	tgc_table_close(&m);
	tgc_table_release(TOKEN_A);
	free(in);
	free(out);
}
END_TEST

START_TEST(node_update_agent)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	tgc_table_t a, m;
	instance_open(&a, spec, TOKEN_A, NULL);
	ck_assert_int_eq(tgc_table_attach(&m, seg, true, NULL), KNOT_EOK);
	tgc_node_snap_t s;

	/* An agent report: the agent fields, nothing of the probe's. */
	uint64_t gen = atomic_load(&a.hdr->generation);
	tgc_node_update_t u = {
		.what = TGC_NODE_UPD_AGENT,
		.agent_sessions = 17, .agent_maxconn = 40, .agent_pct = 50,
		.agent_state = 0x02, /* TGC_AGENT_DRAIN */
		.agent_flags = TGC_AGENT_F_POLLED | TGC_AGENT_F_ANSWERED |
		               TGC_AGENT_F_SESSIONS | TGC_AGENT_F_MAXCONN |
		               TGC_AGENT_F_PCT,
	};
	ck_assert(tgc_table_node_update(&a, 1, &u));
	ck_assert_uint_eq(atomic_load(&a.hdr->generation), gen + 1);
	tgc_table_node_read(&a, 1, &s);
	ck_assert_uint_eq(s.agent_sessions, 17);
	ck_assert_uint_eq(s.agent_maxconn, 40);
	ck_assert_uint_eq(s.agent_pct, 50);
	ck_assert_uint_eq(s.agent_state, 0x02);
	ck_assert_uint_eq(s.agent_flags, u.agent_flags);
	ck_assert_uint_eq(s.agent_errors, 0);
	ck_assert_uint_eq(s.probes, 0);
	ck_assert_int_eq(s.health, TGC_HEALTH_UNKNOWN);
	ck_assert_int_eq(s.last_probe, TGC_PROBE_NONE);
	tgc_table_agent_t ag;
	tgc_table_agent_read(&a, 1, &ag);
	ck_assert_uint_eq(ag.sessions, 17);
	ck_assert_uint_eq(ag.maxconn, 40);
	ck_assert_uint_eq(ag.pct, 50);
	ck_assert_uint_eq(ag.state, 0x02);
	ck_assert_uint_eq(ag.flags, u.agent_flags);

	/* A failed poll: errors add up, state and sessions cleared. */
	u = (tgc_node_update_t) { .what = TGC_NODE_UPD_AGENT,
	                          .agent_flags = TGC_AGENT_F_POLLED,
	                          .agent_errors_add = 1 };
	ck_assert(tgc_table_node_update(&a, 1, &u));
	ck_assert(tgc_table_node_update(&a, 1, &u));
	tgc_table_node_read(&a, 1, &s);
	ck_assert_uint_eq(s.agent_errors, 2);
	ck_assert_uint_eq(s.agent_state, 0);
	ck_assert_uint_eq(s.agent_sessions, 0);
	ck_assert_uint_eq(s.agent_flags, TGC_AGENT_F_POLLED);

	/* Published into the segment, at record bytes 232..247 (the layout
	 * tests/integration/tgc.py reads). */
	u = (tgc_node_update_t) { .what = TGC_NODE_UPD_AGENT,
	                          .agent_sessions = 0x01020304,
	                          .agent_maxconn = 0x05060708,
	                          .agent_pct = 0x090a, .agent_state = 0x0b,
	                          .agent_flags = 0x0c, .agent_errors_add = 0 };
	ck_assert(tgc_table_node_update(&a, 2, &u));
	tgc_table_publish(&a, TOKEN_A, 2);
	tgc_table_node_read(&m, 2, &s);
	ck_assert_uint_eq(s.agent_sessions, 0x01020304);
	const uint8_t *raw = (const uint8_t *)&m.nodes[2];
	const uint8_t want[16] = { 4, 3, 2, 1, 8, 7, 6, 5, 0x0a, 0x09, 0x0b, 0x0c,
	                           0, 0, 0, 0 };
	ck_assert_mem_eq(raw + 232, want, sizeof(want));

	/* Weight and capacity (bytes 248..255): written apart from the agent
	 * fields, published, and read back. */
	u = (tgc_node_update_t) { .what = TGC_NODE_UPD_CAPACITY,
	                          .weight = 0x11121314,
	                          .capacity_x100 = 0x15161718 };
	ck_assert(tgc_table_node_update(&a, 2, &u));
	tgc_table_node_read(&a, 2, &s);
	ck_assert_uint_eq(s.weight, 0x11121314);
	ck_assert_uint_eq(s.capacity_x100, 0x15161718);
	ck_assert_uint_eq(s.agent_sessions, 0x01020304);
	ck_assert_uint_eq(s.agent_flags, 0x0c);
	tgc_table_publish(&a, TOKEN_A, 2);
	tgc_table_node_read(&m, 2, &s);
	ck_assert_uint_eq(s.weight, 0x11121314);
	ck_assert_uint_eq(s.capacity_x100, 0x15161718);
	const uint8_t want_cap[8] = { 0x14, 0x13, 0x12, 0x11, 0x18, 0x17, 0x16, 0x15 };
	ck_assert_mem_eq(raw + 248, want_cap, sizeof(want_cap));
	/* The agent update leaves them. */
	u = (tgc_node_update_t) { .what = TGC_NODE_UPD_AGENT,
	                          .agent_flags = TGC_AGENT_F_POLLED };
	ck_assert(tgc_table_node_update(&a, 2, &u));
	tgc_table_node_read(&a, 2, &s);
	ck_assert_uint_eq(s.weight, 0x11121314);
	ck_assert_uint_eq(s.capacity_x100, 0x15161718);

	/* Busy record: refused, nothing written. */
	ck_assert(tgc_table_write_begin(&a.nodes[0]));
	ck_assert(!tgc_table_node_update(&a, 0, &u));
	tgc_table_write_end(&a, &a.nodes[0]);
	tgc_table_node_read(&a, 0, &s);
	ck_assert_uint_eq(s.agent_sessions, 0);

	tgc_table_close(&a);
	tgc_table_close(&m);
	tgc_table_release(TOKEN_A);
}
END_TEST

START_TEST(view_admin_answers_ack)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	tgc_table_t a, m;
	instance_open(&a, spec, TOKEN_A, NULL);
	ck_assert_int_eq(tgc_table_attach(&m, seg, true, NULL), KNOT_EOK);
	ck_assert_int_eq(tgc_table_admin_set(&m, 1, TGC_ADMIN_DRAIN), KNOT_EOK);
	ck_assert_int_eq(tgc_table_admin_wait(&m, 0), KNOT_ETIMEOUT);
	ck_assert_int_eq(tgc_table_admin(&a, 1), TGC_ADMIN_AUTO);
	tgc_table_sync(&a, TOKEN_A, NULL);
	ck_assert_int_eq(tgc_table_admin(&a, 1), TGC_ADMIN_DRAIN);
	ck_assert_int_eq(tgc_table_admin_wait(&m, 0), KNOT_EOK);
	/* Worker counts are folded into the segment, once. */
	atomic_fetch_add(&a.nodes[0].answers, 5);
	tgc_table_sync(&a, TOKEN_A, NULL);
	tgc_table_sync(&a, TOKEN_A, NULL);
	ck_assert_uint_eq(atomic_load(&m.nodes[0].answers), 5);
	/* The heartbeat of the writer's view is published. */
	atomic_store(&a.hdr->heartbeat_ms, 12345);
	tgc_table_sync(&a, TOKEN_A, NULL);
	ck_assert_uint_eq(atomic_load(&m.hdr->heartbeat_ms), 12345);
	/* Answers counted after the last sync are folded in at close. */
	atomic_fetch_add(&a.nodes[0].answers, 3);
	tgc_table_close(&a);
	ck_assert_uint_eq(atomic_load(&m.nodes[0].answers), 8);
	tgc_table_close(&m);
	tgc_table_release(TOKEN_A);
}
END_TEST

START_TEST(view_zone_admin_precedence)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	tgc_table_t a, m;
	instance_open(&a, spec, TOKEN_A, NULL);
	ck_assert_int_eq(tgc_table_attach(&m, seg, true, NULL), KNOT_EOK);
	atomic_store(&a.hdr->min_live, 2);

	/* The zone drains nodes 0 and 1: node 0 applies, node 1 is held back
	 * by min-live 2; the segment shows both after a sync. */
	uint8_t states[3] = { TGC_ADMIN_DRAIN, TGC_ADMIN_DRAIN, TGC_ADMIN_AUTO };
	char reasons[3][TGC_ADMIN_REASON_MAX] = { "kernel", "disk", "" };
	ck_assert_int_eq(tgc_table_zone_admin(&a, 42, 1, states, reasons), KNOT_EOK);
	ck_assert_int_eq(tgc_table_admin(&a, 0), TGC_ADMIN_DRAIN);
	ck_assert_int_eq(tgc_table_admin(&a, 1), TGC_ADMIN_AUTO);
	tgc_table_sync(&a, TOKEN_A, NULL);
	tgc_node_snap_t n;
	tgc_table_node_read(&m, 0, &n);
	ck_assert_int_eq(n.admin, TGC_ADMIN_DRAIN);
	ck_assert_int_eq(n.admin_src, TGC_ADMIN_SRC_ZONE);
	ck_assert_uint_eq(n.zone_serial, 42);
	ck_assert_str_eq(n.zone_reason, "kernel");
	ck_assert_uint_ne(n.admin_since_ms, 0);
	tgc_table_node_read(&m, 1, &n);
	ck_assert_int_eq(n.admin, TGC_ADMIN_AUTO);
	ck_assert_int_eq(n.admin_zone, TGC_ADMIN_DRAIN);
	ck_assert(n.admin_flags & TGC_ADMIN_F_GUARDED);
	ck_assert_uint_eq(atomic_load(&m.hdr->admin_guarded), 1);
	ck_assert_uint_eq(atomic_load(&m.hdr->zone_serial), 42);
	ck_assert_uint_eq(atomic_load(&m.hdr->zone_malformed), 1);
	ck_assert_uint_eq(atomic_load(&m.hdr->min_live), 2);

	/* A local state beats the zone; auto hands the node back. */
	ck_assert_int_eq(tgc_table_admin_set(&m, 0, TGC_ADMIN_UP), KNOT_EOK);
	tgc_table_sync(&a, TOKEN_A, NULL);
	ck_assert_int_eq(tgc_table_admin(&a, 0), TGC_ADMIN_UP);
	tgc_table_node_read(&m, 0, &n);
	ck_assert_int_eq(n.admin_src, TGC_ADMIN_SRC_LOCAL);
	ck_assert_uint_eq(n.admin_uid, (uint32_t)getuid());
	ck_assert_int_eq(tgc_table_admin_set(&m, 0, TGC_ADMIN_AUTO), KNOT_EOK);
	tgc_table_sync(&a, TOKEN_A, NULL);
	ck_assert_int_eq(tgc_table_admin(&a, 0), TGC_ADMIN_DRAIN);
	ck_assert_int_eq(tgc_table_admin(&m, 0), TGC_ADMIN_DRAIN);

	/* Node 2 fails: the guard takes node 0's drain back too. */
	atomic_store(&a.nodes[2].health, TGC_HEALTH_DOWN);
	tgc_table_sync(&a, TOKEN_A, NULL);
	ck_assert_int_eq(tgc_table_admin(&a, 0), TGC_ADMIN_AUTO);

	/* A newer serial without records clears the zone states. */
	atomic_store(&a.nodes[2].health, TGC_HEALTH_UP);
	uint8_t none[3] = { 0 };
	char empty[3][TGC_ADMIN_REASON_MAX] = { "" };
	ck_assert_int_eq(tgc_table_zone_admin(&a, 43, 0, none, empty), KNOT_EOK);
	tgc_table_sync(&a, TOKEN_A, NULL);
	for (uint32_t i = 0; i < 3; i++) {
		tgc_table_node_read(&m, i, &n);
		ck_assert_int_eq(n.admin, TGC_ADMIN_AUTO);
		ck_assert_int_eq(n.admin_src, TGC_ADMIN_SRC_NONE);
		ck_assert_int_eq(n.admin_zone, TGC_ADMIN_AUTO);
	}
	/* A plain mapping is not a view. */
	ck_assert_int_eq(tgc_table_zone_admin(&m, 44, 0, none, empty), KNOT_EINVAL);
	tgc_table_close(&a);
	tgc_table_close(&m);
	tgc_table_release(TOKEN_A);
}
END_TEST

START_TEST(view_survives_truncate_and_chmod)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	char path[TGC_TABLE_NAME_MAX + 16];
	seg_path(path, sizeof(path), seg);
	tgc_table_sync_t ev;

	for (int round = 0; round < 3; round++) {
		tgc_table_t a;
		instance_open(&a, spec, TOKEN_A, NULL);
		ck_assert(tgc_table_write_begin(&a.nodes[0]));
		STORE(a.nodes[0].health, TGC_HEALTH_DOWN);
		tgc_table_write_end(&a, &a.nodes[0]);
		tgc_table_sync(&a, TOKEN_A, &ev);
		ck_assert(ev.writer && !ev.dropped);

		if (round == 0) {
			ck_assert_int_eq(truncate(path, 0), 0);
		} else if (round == 1) {
			ck_assert_int_eq(truncate(path, sizeof(tgc_table_hdr_t)), 0);
		} else {
			ck_assert_int_eq(chmod(path, 0666), 0);
		}
		tgc_table_sync(&a, TOKEN_A, &ev);
		ck_assert(ev.dropped && ev.writer);
		ck_assert_ptr_nonnull(strstr(ev.why, (round < 2) ? "size" : "other users"));
		/* The view goes on: readable, writable, synced without effect. */
		ck_assert_int_eq(tgc_table_health(&a, 0), TGC_HEALTH_DOWN);
		tgc_table_sync(&a, TOKEN_A, &ev);
		ck_assert(ev.writer && !ev.dropped);
		tgc_table_close(&a);
		tgc_table_release(TOKEN_A);
		(void)tgc_table_unlink(seg);
	}

	/* A fault inside a guarded copy (the file shrank after the check): the
	 * call fails, the process lives. */
	tgc_table_t b;
	const char *err = NULL;
	ck_assert_int_eq(tgc_table_open(&b, seg, spec, NULL, &err), KNOT_EOK);
	ck_assert_int_eq(tgc_table_view(&b), KNOT_EOK);
	ck_assert_int_eq(truncate(path, 0), 0);
	ck_assert_int_eq(tgc_table_claim(&b, TOKEN_B, NULL), KNOT_EFILE);
	tgc_table_close(&b);
}
END_TEST

/*
 * A segment whose layout fields were overwritten after it was checked (a
 * corrupted or forged header of the same size): the sync, the retake and
 * the cache publish follow the layout the view was made from and stay
 * inside the mapping.
 */
START_TEST(sync_ignores_forged_layout)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec_translator(&sb);
	tgc_table_t a, m;
	instance_open(&a, spec, TOKEN_A, NULL);
	ck_assert_int_eq(tgc_table_attach(&m, seg, true, NULL), KNOT_EOK);
	tgc_cache_snap_t *in = calloc(1, sizeof(*in));
	tgc_cache_snap_t *out = calloc(1, sizeof(*out));
	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	in->valid = true;
	in->ok = true;
	in->count = 1;
	in->ttl = 5;
	in->addrs[0] = A("192.0.2.9");
	in->fetched_ms = in->polled_ms = tgc_table_now_ms();
	ck_assert_int_eq(tgc_table_cache_write(&a, TGC_CACHE_A, in), KNOT_EOK);

	/* The writer publishes its cache: the forged offset points 4 GB away. */
	m.hdr->cache_off = 0xfffff000u;
	tgc_table_sync_t ev;
	tgc_table_sync(&a, TOKEN_A, &ev);
	ck_assert(ev.writer);
	m.hdr->cache_off = (uint32_t)(sizeof(tgc_table_hdr_t) +
	                              3 * sizeof(tgc_node_rec_t));
	ck_assert_int_eq(tgc_table_cache_read(&m, TGC_CACHE_A, out, false), KNOT_EOK);
	ck_assert(out->valid);
	ck_assert(tgc_addr_equal(&out->addrs[0], &in->addrs[0]));

	/* A dead owner left a record open and a forged node count and cache
	 * offset: the retake closes exactly that record. */
	atomic_store(&m.hdr->owner, dead_owner(NULL));
	atomic_store(&m.hdr->writer, TOKEN_B);
	ck_assert(tgc_table_write_begin(&m.nodes[1]));
	m.hdr->node_count = TGC_TABLE_NODES_MAX;
	m.hdr->cache_off = 0xfffff000u;
	tgc_table_sync(&a, TOKEN_A, &ev);
	ck_assert(ev.writer && ev.retaken);
	ck_assert_uint_eq(ev.closed, 1);
	ck_assert_uint_eq(atomic_load(&m.nodes[1].seq) & 1u, 0);

	tgc_table_close(&a);
	tgc_table_close(&m);
	tgc_table_release(TOKEN_A);
	free(in);
	free(out);
}
END_TEST

/*
 * A segment's node count raised after tgclusterctl attached it (anyone may
 * plant a segment and rewrite it at will): reads and admin writes stay
 * inside the mapping.
 */
START_TEST(attach_forged_count_stays_in_mapping)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	tgc_table_t t, cli;
	open_ok(&t, spec, TGC_TABLE_CREATED);
	ck_assert_int_eq(tgc_table_attach(&cli, seg, true, NULL), KNOT_EOK);
	t.hdr->node_count = TGC_TABLE_NODES_MAX;

	ck_assert_int_eq(tgc_table_admin_set(&cli, 2, TGC_ADMIN_DRAIN), KNOT_EOK);
	ck_assert_int_eq(tgc_table_admin_set(&cli, 3, TGC_ADMIN_DRAIN), KNOT_EINVAL);
	ck_assert_int_eq(tgc_table_admin_set(&cli, TGC_TABLE_NODES_MAX - 1,
	                                     TGC_ADMIN_DRAIN), KNOT_EINVAL);
	tgc_node_snap_t s;
	tgc_table_node_read(&cli, 2, &s);
	ck_assert_int_eq(s.admin, TGC_ADMIN_DRAIN);
	ck_assert_int_eq(s.port, 5900);
	memset(&s, 0xff, sizeof(s));
	tgc_table_node_read(&cli, TGC_TABLE_NODES_MAX - 1, &s);
	ck_assert_int_eq(s.addr.family, 0);
	ck_assert_uint_eq(s.port, 0);
	tgc_table_close(&cli);
	tgc_table_close(&t);
}
END_TEST

/*! \brief Another SIGBUS handler of the process (knotd, a library), one
 *         that recovers: it jumps back to its own caller. */
static sigjmp_buf other_env;
static volatile sig_atomic_t other_hits;

static void other_handler(int sig, siginfo_t *info, void *uctx)
{
	(void)sig;
	(void)info;
	(void)uctx;
	other_hits++;
	siglongjmp(other_env, 1);
}

/*
 * A SIGBUS that is not a segment access goes to the handler installed
 * before the guard, and the guard stays: a segment truncated afterwards is
 * still caught (the other handler never sees it).
 */
START_TEST(guard_chains_and_stays)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = other_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGBUS, &sa, &old), 0);

	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	char path[TGC_TABLE_NAME_MAX + 16];
	seg_path(path, sizeof(path), seg);
	tgc_table_t b;
	const char *err = NULL;
	ck_assert_int_eq(tgc_table_open(&b, seg, spec, NULL, &err), KNOT_EOK);
	ck_assert_int_eq(tgc_table_view(&b), KNOT_EOK);

	/* A fault of the process's own: a mapping of a file that shrank. */
	char tmp[] = "/tmp/tgc-test-bus-XXXXXX";
	int fd = mkstemp(tmp);
	ck_assert_int_ge(fd, 0);
	unlink(tmp);
	ck_assert_int_eq(ftruncate(fd, 4096), 0);
	volatile uint8_t *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert(p != MAP_FAILED);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	if (sigsetjmp(other_env, 1) == 0) {
		(void)p[0];
		ck_abort_msg("no fault");
	}
	ck_assert_int_eq(other_hits, 1);
	munmap((void *)p, 4096);
	close(fd);

	/* The segment shrinks: the guard turns the fault into an error. */
	ck_assert_int_eq(truncate(path, 0), 0);
	volatile int ret = 0;
	if (sigsetjmp(other_env, 1) == 0) {
		ret = tgc_table_claim(&b, TOKEN_B, NULL);
	} else {
		ret = -12345;
	}
	ck_assert_int_eq(other_hits, 1);
	ck_assert_int_eq(ret, KNOT_EFILE);
	tgc_table_close(&b);
	ck_assert_int_eq(sigaction(SIGBUS, &old, NULL), 0);
}
END_TEST

/*
 * The header changed between the open's validation and the copy into the
 * private view (a corrupted or forged segment): the view is refused, no
 * copy runs past the view's buffer.
 */
START_TEST(view_refuses_changed_layout)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec_translator(&sb);
	for (int round = 0; round < 2; round++) {
		tgc_table_t t, m;
		const char *err = NULL;
		ck_assert_int_eq(tgc_table_open(&t, seg, spec, NULL, &err), KNOT_EOK);
		ck_assert_int_eq(tgc_table_attach(&m, seg, true, NULL), KNOT_EOK);
		if (round == 0) {
			m.hdr->node_count = TGC_TABLE_NODES_MAX;
		} else {
			m.hdr->cache_off = 0xfffff000u;
		}
		ck_assert_int_eq(tgc_table_view(&t), KNOT_EMALF);
		tgc_table_close(&t);
		tgc_table_close(&m);
		(void)tgc_table_unlink(seg);
	}
}
END_TEST

/*! \brief One instance's checker in reload_while_writing. */
typedef struct {
	tgc_table_t *t;
	uint64_t token;
	atomic_bool *stop;
	/* Written by the writer thread, read by the test's thread while it
	 * runs: relaxed atomics (counts only). */
	_Atomic uint64_t writes, syncs, busy;
} rw_writer_t;

/*! \brief Waits (up to 30 s) until \a counter exceeds \a than. */
static bool rw_wait_above(_Atomic uint64_t *counter, uint64_t than)
{
	struct timespec pause = { .tv_nsec = 1000 * 1000 };
	for (int i = 0; i < 30000; i++) {
		if (atomic_load_explicit(counter, memory_order_relaxed) > than) {
			return true;
		}
		nanosleep(&pause, NULL);
	}
	return false;
}

static void *rw_writer(void *arg)
{
	rw_writer_t *w = arg;
	uint32_t v = 0;
	while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
		for (uint32_t i = 0; i < w->t->hdr->node_count; i++) {
			tgc_node_rec_t *r = &w->t->nodes[i];
			if (!tgc_table_write_begin(r)) {
				atomic_fetch_add_explicit(&w->busy, 1, memory_order_relaxed);
				continue;
			}
			v++;
			STORE(r->consec_ok, v);
			STORE(r->probes, (uint64_t)v);
			tgc_table_write_end(w->t, r);
			atomic_fetch_add_explicit(&w->writes, 1, memory_order_relaxed);
		}
		atomic_store_explicit(&w->t->hdr->heartbeat_ms, tgc_table_now_ms(),
		                      memory_order_relaxed);
		tgc_table_sync(w->t, w->token, NULL);
		atomic_fetch_add_explicit(&w->syncs, 1, memory_order_relaxed);
	}
	return NULL;
}

/*! \brief Workers and the CLI reading while instances hand over. */
typedef struct {
	const tgc_table_t *view;
	const tgc_table_t *cli;
	atomic_bool *stop;
	uint64_t reads, torn;
} rw_reader_t;

static void *rw_reader(void *arg)
{
	rw_reader_t *r = arg;
	while (!atomic_load_explicit(r->stop, memory_order_relaxed)) {
		tgc_node_snap_t s;
		for (uint32_t i = 0; i < 3; i++) {
			(void)tgc_table_health(r->view, i);
			(void)tgc_table_admin(r->view, i);
			if (tgc_table_node_read(r->cli, i, &s) == KNOT_EOK &&
			    s.probes != s.consec_ok) {
				r->torn++;
			}
		}
		r->reads++;
	}
	return NULL;
}

/*
 * knotc reload while the checker writes: the new instance claims the table
 * in the main thread while the old one writes and syncs in its thread,
 * workers read the old view and the CLI reads the segment. Under TSan this
 * is the reload-while-writing race check; everywhere it asserts that the
 * new instance ends up the writer, no record is left open and nothing was
 * torn.
 */
START_TEST(reload_while_writing)
{
	spec_buf_t sb;
	tgc_table_spec_t *spec = spec3(&sb);
	tgc_table_t a, b, m;
	instance_open(&a, spec, TOKEN_A, NULL);
	ck_assert_int_eq(tgc_table_attach(&m, seg, false, NULL), KNOT_EOK);

	atomic_bool stop_a = false, stop_b = false, stop_r = false;
	rw_writer_t wa = { .t = &a, .token = TOKEN_A, .stop = &stop_a };
	rw_writer_t wb = { .t = &b, .token = TOKEN_B, .stop = &stop_b };
	rw_reader_t rd = { .view = &a, .cli = &m, .stop = &stop_r };
	pthread_t ta, tb, tr;
	ck_assert_int_eq(pthread_create(&ta, NULL, rw_writer, &wa), 0);
	ck_assert_int_eq(pthread_create(&tr, NULL, rw_reader, &rd), 0);
	/* A writes and syncs before B arrives. */
	ck_assert(rw_wait_above(&wa.syncs, 100));

	unsigned closed = 99;
	instance_open(&b, spec, TOKEN_B, &closed);
	ck_assert_uint_eq(closed, 0);
	ck_assert_int_eq(pthread_create(&tb, NULL, rw_writer, &wb), 0);
	/* Both write at once: B syncs, and A goes on after B started. */
	uint64_t a_syncs = atomic_load(&wa.syncs);
	ck_assert(rw_wait_above(&wb.syncs, 100));
	ck_assert(rw_wait_above(&wa.syncs, a_syncs + 100));

	/* Unload of the old instance: its checker stops, then it goes. */
	atomic_store(&stop_a, true);
	pthread_join(ta, NULL);
	atomic_store(&stop_r, true);
	pthread_join(tr, NULL);
	tgc_table_close(&a);
	tgc_table_release(TOKEN_A);
	/* B goes on alone. */
	uint64_t b_syncs = atomic_load(&wb.syncs);
	ck_assert(rw_wait_above(&wb.syncs, b_syncs + 100));
	atomic_store(&stop_b, true);
	pthread_join(tb, NULL);
	tgc_table_sync(&b, TOKEN_B, NULL);

	fprintf(stderr, "reload_while_writing: A %llu writes %llu syncs, B %llu "
	        "writes %llu syncs (%llu busy), %llu reads\n",
	        (unsigned long long)atomic_load(&wa.writes),
	        (unsigned long long)atomic_load(&wa.syncs),
	        (unsigned long long)atomic_load(&wb.writes),
	        (unsigned long long)atomic_load(&wb.syncs),
	        (unsigned long long)atomic_load(&wb.busy), (unsigned long long)rd.reads);
	ck_assert_uint_eq(rd.torn, 0);
	ck_assert_uint_eq(atomic_load(&m.hdr->writer), TOKEN_B);
	for (uint32_t i = 0; i < 3; i++) {
		ck_assert_uint_eq(atomic_load(&m.nodes[i].seq) & 1u, 0);
		/* The segment holds B's last values. */
		ck_assert_uint_eq(atomic_load(&m.nodes[i].probes),
		                  atomic_load(&b.nodes[i].probes));
	}
	tgc_table_close(&b);
	tgc_table_close(&m);
	tgc_table_release(TOKEN_B);
}
END_TEST

static void add_case(Suite *s, const char *name, const TTest *test, int timeout)
{
	TCase *tc = tcase_create(name);
	tcase_add_checked_fixture(tc, seg_setup, seg_teardown);
	tcase_set_timeout(tc, timeout);
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

static Suite *table_suite(void)
{
	Suite *s = suite_create("table");
	add_case(s, "name_build", name_build, 30);
	add_case(s, "name_auto", name_auto, 30);
	add_case(s, "name_check", name_check, 30);
	add_case(s, "create", create, 30);
	add_case(s, "reuse_keeps_states", reuse_keeps_states, 30);
	add_case(s, "adopt_carries_states", adopt_carries_states, 30);
	add_case(s, "adopt_on_settings_change", adopt_on_settings_change, 30);
	add_case(s, "replace_garbage", replace_garbage, 30);
	add_case(s, "replace_bad_header", replace_bad_header, 30);
	add_case(s, "replace_bad_mode", replace_bad_mode, 30);
	add_case(s, "refuse_other_owner", refuse_other_owner, 30);
	add_case(s, "validate_fuzz", validate_fuzz, 120);
	add_case(s, "attach_readonly", attach_readonly, 30);
	add_case(s, "attach_errors", attach_errors, 30);
	add_case(s, "node_read", node_read, 30);
	add_case(s, "write_exclusive", write_exclusive, 60);
	add_case(s, "node_update_parts", node_update_parts, 30);
	add_case(s, "seqlock_race", seqlock_race, 60);
	add_case(s, "state_names", state_names, 30);
	add_case(s, "owner_self_and_proc", owner_self_and_proc, 30);
	add_case(s, "owner_live_foreign_refused", owner_live_foreign_refused, 30);
	add_case(s, "takeover_reload_never_forces", takeover_reload_never_forces, 30);
	add_case(s, "dead_writer_closed_late_end_never_reopens",
	         dead_writer_closed_late_end_never_reopens, 30);
	add_case(s, "retake_from_gone_process", retake_from_gone_process, 30);
	add_case(s, "stuck_cache_record", stuck_cache_record, 30);
	add_case(s, "cache_load_round_trip", cache_load_round_trip, 30);
	add_case(s, "node_update_agent", node_update_agent, 30);
	add_case(s, "view_admin_answers_ack", view_admin_answers_ack, 30);
	add_case(s, "view_zone_admin_precedence", view_zone_admin_precedence, 30);
	add_case(s, "view_survives_truncate_and_chmod",
	         view_survives_truncate_and_chmod, 30);
	add_case(s, "reload_while_writing", reload_while_writing, 60);
	add_case(s, "sync_ignores_forged_layout", sync_ignores_forged_layout, 30);
	add_case(s, "guard_chains_and_stays", guard_chains_and_stays, 30);
	add_case(s, "view_refuses_changed_layout", view_refuses_changed_layout, 30);
	add_case(s, "attach_forged_count_stays_in_mapping",
	         attach_forged_count_stays_in_mapping, 30);
	return s;
}

TEST_MAIN(table)
