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

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libknot/errcode.h>

#include "module/admin.h"
#include "module/table.h"

_Static_assert(sizeof(tgc_table_hdr_t) == 1024, "header layout changed");
_Static_assert(sizeof(tgc_node_rec_t) == 256, "record layout changed");
_Static_assert(sizeof(tgc_cache_rec_t) == 1376, "cache layout changed");
_Static_assert(offsetof(tgc_table_hdr_t, cache_off) == 672,
               "header layout changed");
_Static_assert(offsetof(tgc_cache_rec_t, addrs) == 64, "cache layout changed");
_Static_assert(offsetof(tgc_table_hdr_t, owner) == 688 &&
               offsetof(tgc_table_hdr_t, admin_ack) == 696 &&
               offsetof(tgc_table_hdr_t, min_live) == 704 &&
               offsetof(tgc_table_hdr_t, all_down_answers) == 720 &&
               offsetof(tgc_table_hdr_t, _reserved) == 728, "header layout changed");
_Static_assert(offsetof(tgc_node_rec_t, probe_start_ms) == 96 &&
               offsetof(tgc_node_rec_t, admin_local) == 112 &&
               offsetof(tgc_node_rec_t, zone_serial) == 116 &&
               offsetof(tgc_node_rec_t, admin_since_ms) == 120 &&
               offsetof(tgc_node_rec_t, admin_uid) == 128 &&
               offsetof(tgc_node_rec_t, zone_reason) == 136 &&
               offsetof(tgc_node_rec_t, agent_sessions) == 232 &&
               offsetof(tgc_node_rec_t, agent_errors) == 244 &&
               offsetof(tgc_node_rec_t, _reserved) == 248 &&
               sizeof(((tgc_node_rec_t *)0)->_reserved) % 8 == 0,
               "record layout changed");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2 &&
               ATOMIC_CHAR_LOCK_FREE == 2,
               "shared-memory atomics must be lock-free (address-free)");

/*! \brief Relaxed atomic load shorthand. */
#define LOAD(x)		atomic_load_explicit(&(x), memory_order_relaxed)
/*! \brief Relaxed atomic store shorthand. */
#define STORE(x, v)	atomic_store_explicit(&(x), (v), memory_order_relaxed)

/*! \brief Copies the agent fields of a node record. */
static void agent_copy(tgc_node_rec_t *dst, const tgc_node_rec_t *src_c)
{
	tgc_node_rec_t *src = (tgc_node_rec_t *)src_c;
	STORE(dst->agent_sessions, LOAD(src->agent_sessions));
	STORE(dst->agent_maxconn, LOAD(src->agent_maxconn));
	STORE(dst->agent_pct, LOAD(src->agent_pct));
	STORE(dst->agent_state, LOAD(src->agent_state));
	STORE(dst->agent_flags, LOAD(src->agent_flags));
	STORE(dst->agent_errors, LOAD(src->agent_errors));
}

uint64_t tgc_table_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*! \brief Characters allowed in segment names. */
static bool name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

int tgc_table_name(char *buf, size_t buf_len, const char *zone,
                   const char *instance)
{
	if (buf == NULL || zone == NULL || instance == NULL) {
		return KNOT_EINVAL;
	}

	int ret = snprintf(buf, buf_len, "/" TGC_TABLE_PREFIX "%s.%s",
	                   (*zone != '\0') ? zone : "_global", instance);
	if (ret < 0 || (size_t)ret >= buf_len || ret > TGC_TABLE_NAME_MAX) {
		return KNOT_ESPACE;
	}
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z') {
			*p = (char)(*p - 'A' + 'a');
		} else if (!name_char_ok(*p)) {
			*p = '_';
		}
	}

	return KNOT_EOK;
}

int tgc_table_name_auto(char *buf, size_t buf_len, const char *zone,
                        const char *instance)
{
	int ret = tgc_table_name(buf, buf_len, zone, instance);
	if (ret != KNOT_ESPACE) {
		return ret;
	}

	/* FNV-1a over both names, separated by a byte no name contains. */
	uint64_t h = 0xcbf29ce484222325ULL;
	for (const char *p = zone; *p != '\0'; p++) {
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	}
	h = (h ^ 0xffu) * 0x100000001b3ULL;
	for (const char *p = instance; *p != '\0'; p++) {
		h = (h ^ (uint8_t)*p) * 0x100000001b3ULL;
	}
	char short_zone[49];
	char hashed[17];
	snprintf(short_zone, sizeof(short_zone), "%s", zone);
	snprintf(hashed, sizeof(hashed), "%016llx", (unsigned long long)h);

	return tgc_table_name(buf, buf_len, short_zone, hashed);
}

int tgc_table_name_check(const char *in, char *buf, size_t buf_len)
{
	if (in == NULL) {
		return KNOT_EINVAL;
	}
	if (*in == '/') {
		in++;
	}
	size_t len = strlen(in);
	if (len == 0 || len > 200) {
		return KNOT_EINVAL;
	}
	for (const char *p = in; *p != '\0'; p++) {
		if (!name_char_ok(*p)) {
			return KNOT_EINVAL;
		}
	}
	if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0) {
		return KNOT_EINVAL;
	}
	if (buf == NULL) {
		return KNOT_EOK;
	}

	bool prefixed = strncmp(in, TGC_TABLE_PREFIX, strlen(TGC_TABLE_PREFIX)) == 0;
	int ret = snprintf(buf, buf_len, "/%s%s", prefixed ? "" : TGC_TABLE_PREFIX, in);
	if (ret < 0 || (size_t)ret >= buf_len) {
		return KNOT_ESPACE;
	}

	return KNOT_EOK;
}

/*! \brief Size of the cache area of a segment of \a role. */
static size_t cache_size(uint32_t role)
{
	return (role == TGC_ROLE_TRANSLATOR) ?
	       TGC_CACHE_RECS * sizeof(tgc_cache_rec_t) : 0;
}

size_t tgc_table_size(tgc_role_t role, uint32_t node_count)
{
	return sizeof(tgc_table_hdr_t) +
	       (size_t)node_count * sizeof(tgc_node_rec_t) + cache_size(role);
}

/*! \brief Largest valid segment (for sanity checks before mapping). */
static size_t table_size_max(void)
{
	return tgc_table_size(TGC_ROLE_TRANSLATOR, TGC_TABLE_NODES_MAX);
}

/*! \brief Tells whether a fixed char array holds a terminated string. */
static bool str_terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

int tgc_table_validate(const void *mem, size_t size, const char **err)
{
	const char *dummy;
	if (err == NULL) {
		err = &dummy;
	}
	if (mem == NULL || size < sizeof(tgc_table_hdr_t)) {
		*err = "segment smaller than the header";
		return KNOT_EMALF;
	}

	const tgc_table_hdr_t *hdr = mem;
	if (atomic_load_explicit(&hdr->magic, memory_order_acquire) != TGC_TABLE_MAGIC) {
		*err = "bad magic";
		return KNOT_EMALF;
	}
	if (hdr->version != TGC_TABLE_VERSION) {
		*err = "unsupported layout version";
		return KNOT_ENOTSUP;
	}
	if (hdr->hdr_size != sizeof(tgc_table_hdr_t) ||
	    hdr->rec_size != sizeof(tgc_node_rec_t)) {
		*err = "bad header or record size";
		return KNOT_EMALF;
	}
	if (hdr->node_count > TGC_TABLE_NODES_MAX) {
		*err = "too many nodes";
		return KNOT_EMALF;
	}
	if (hdr->role != TGC_ROLE_LB && hdr->role != TGC_ROLE_TRANSLATOR) {
		*err = "bad role";
		return KNOT_EMALF;
	}
	uint64_t expect = tgc_table_size(hdr->role, hdr->node_count);
	if (hdr->size != expect || size != expect) {
		*err = "segment size does not match its node count";
		return KNOT_EMALF;
	}
	if (hdr->role == TGC_ROLE_TRANSLATOR) {
		uint64_t off = sizeof(tgc_table_hdr_t) +
		               (uint64_t)hdr->node_count * sizeof(tgc_node_rec_t);
		if (hdr->cache_off != off || hdr->cache_count != TGC_CACHE_RECS ||
		    hdr->cache_rec_size != sizeof(tgc_cache_rec_t)) {
			*err = "bad cache layout";
			return KNOT_EMALF;
		}
		const tgc_cache_rec_t *c = (const tgc_cache_rec_t *)
		                           ((const uint8_t *)mem + off);
		for (unsigned i = 0; i < TGC_CACHE_RECS; i++) {
			if (LOAD(c[i].count) > TGC_CACHE_ADDRS_MAX ||
			    (uint32_t)LOAD(c[i].soa_owner_len) +
			    LOAD(c[i].soa_rdata_len) > TGC_CACHE_SOA_MAX) {
				*err = "bad cache record";
				return KNOT_EMALF;
			}
		}
	} else if (hdr->cache_off != 0 || hdr->cache_count != 0 ||
	           hdr->cache_rec_size != 0) {
		*err = "cache fields in a load-balancer segment";
		return KNOT_EMALF;
	}
	if (!str_terminated(hdr->zone, sizeof(hdr->zone)) ||
	    !str_terminated(hdr->instance, sizeof(hdr->instance)) ||
	    !str_terminated(hdr->name, sizeof(hdr->name))) {
		*err = "unterminated string in header";
		return KNOT_EMALF;
	}
	const tgc_node_rec_t *recs = (const tgc_node_rec_t *)(hdr + 1);
	for (uint32_t i = 0; i < hdr->node_count; i++) {
		const tgc_node_rec_t *r = &recs[i];
		if (r->family != AF_INET && r->family != AF_INET6) {
			*err = "bad node address family";
			return KNOT_EMALF;
		}
		if (r->mapped_family != 0 && r->mapped_family != AF_INET &&
		    r->mapped_family != AF_INET6) {
			*err = "bad mapped address family";
			return KNOT_EMALF;
		}
		if (r->tier > 1) {
			*err = "bad node tier";
			return KNOT_EMALF;
		}
	}

	return KNOT_EOK;
}

/*! \brief The fields of table_set() that read nothing from \a mem. */
static void table_set_common(tgc_table_t *table, void *mem, size_t size,
                             bool writable, const char *name)
{
	table->hdr = mem;
	table->nodes = (tgc_node_rec_t *)(table->hdr + 1);
	table->cache = NULL;
	table->size = size;
	table->writable = writable;
	table->fd = -1;
	table->fd_open = false;
	size_t len = strnlen(name, sizeof(table->name) - 1);
	memcpy(table->name, name, len);
	table->name[len] = '\0';
}

static void table_set_layout(tgc_table_t *table, void *mem,
                             const tgc_table_hdr_t *layout, size_t size,
                             bool writable, const char *name);

/*! \brief Fills a table structure from a mapping. */
static void table_set(tgc_table_t *table, void *mem, size_t size, bool writable,
                      const char *name)
{
	table_set_layout(table, mem, mem, size, writable, name);
}

/*!
 * \brief Like table_set(), but takes the role and cache offset from
 *        \a layout (a validated private copy) instead of reading \a mem.
 */
static void table_set_layout(tgc_table_t *table, void *mem,
                             const tgc_table_hdr_t *layout, size_t size,
                             bool writable, const char *name)
{
	table_set_common(table, mem, size, writable, name);
	table->cache = (layout->role == TGC_ROLE_TRANSLATOR) ?
	               (tgc_cache_rec_t *)((uint8_t *)mem + layout->cache_off) :
	               NULL;
}

/*! \brief Converts errno to a KNOT_E* code. */
static int errno_to_knot(int err)
{
	switch (err) {
	case ENOENT: return KNOT_ENOENT;
	case EACCES:
	case EPERM:  return KNOT_EACCES;
	case ENOMEM: return KNOT_ENOMEM;
	case EEXIST: return KNOT_EEXIST;
	default:     return knot_map_errno_code(err);
	}
}

/*! \brief Builds a tgc_addr_t from a record's raw bytes. */
static void rec_addr(tgc_addr_t *out, uint8_t family, const uint8_t *bytes)
{
	memset(out, 0, sizeof(*out));
	if (family == AF_INET || family == AF_INET6) {
		out->family = family;
		out->len = (family == AF_INET) ? 4 : 16;
		memcpy(out->bytes, bytes, out->len);
	}
}

/*! \brief Tells whether a record describes the given node. */
static bool rec_is_node(const tgc_node_rec_t *rec, const tgc_table_node_t *node)
{
	tgc_addr_t addr;
	rec_addr(&addr, rec->family, rec->addr);
	return rec->port == node->port && tgc_addr_equal(&addr, &node->addr);
}

/*!
 * \brief Compares a fixed header string with the value it was made from: the
 *        header keeps at most size - 1 characters (see hdr_str()).
 */
static bool hdr_str_equal(const char *field, size_t size, const char *value)
{
	value = (value != NULL) ? value : "";
	size_t len = strnlen(value, size - 1);
	return strncmp(field, value, len) == 0 && field[len] == '\0';
}

/*! \brief Tells whether a valid segment holds exactly what \a spec needs. */
static bool same_spec(const tgc_table_hdr_t *hdr, const tgc_table_spec_t *spec)
{
	if (hdr->role != spec->role || hdr->node_count != spec->node_count ||
	    !hdr_str_equal(hdr->zone, sizeof(hdr->zone), spec->zone) ||
	    !hdr_str_equal(hdr->instance, sizeof(hdr->instance), spec->instance) ||
	    !hdr_str_equal(hdr->name, sizeof(hdr->name), spec->name) ||
	    hdr->check != spec->check ||
	    hdr->interval_ms != spec->interval_ms ||
	    hdr->timeout_ms != spec->timeout_ms || hdr->rise != spec->rise ||
	    hdr->fall != spec->fall ||
	    (spec->role == TGC_ROLE_TRANSLATOR &&
	     hdr->stale_limit_s != spec->stale_limit_s)) {
		return false;
	}
	const tgc_node_rec_t *recs = (const tgc_node_rec_t *)(hdr + 1);
	for (uint32_t i = 0; i < spec->node_count; i++) {
		const tgc_table_node_t *n = &spec->nodes[i];
		tgc_addr_t mapped;
		rec_addr(&mapped, recs[i].mapped_family, recs[i].mapped);
		if (!rec_is_node(&recs[i], n) || recs[i].tier != n->tier ||
		    recs[i].mapped_family != n->mapped.family ||
		    (n->mapped.family != 0 && !tgc_addr_equal(&mapped, &n->mapped))) {
			return false;
		}
	}

	return true;
}

/*! \brief Copies the zone admin state and the effective state's source. */
static void rec_admin_copy(tgc_node_rec_t *dst, const tgc_node_rec_t *src_c)
{
	tgc_node_rec_t *src = (tgc_node_rec_t *)src_c;
	STORE(dst->admin_zone, LOAD(src->admin_zone));
	STORE(dst->admin_src, LOAD(src->admin_src));
	STORE(dst->admin_flags, LOAD(src->admin_flags));
	STORE(dst->zone_serial, LOAD(src->zone_serial));
	STORE(dst->admin_since_ms, LOAD(src->admin_since_ms));
	for (size_t i = 0; i < sizeof(src->zone_reason) / 8; i++) {
		STORE(dst->zone_reason[i], LOAD(src->zone_reason[i]));
	}
}

/*! \brief Copies the state of one record into another (same node). */
static void rec_copy_state(tgc_node_rec_t *dst, const tgc_node_rec_t *src)
{
	STORE(dst->health, LOAD(src->health));
	STORE(dst->admin, LOAD(src->admin));
	STORE(dst->admin_local, LOAD(src->admin_local));
	STORE(dst->admin_uid, LOAD(src->admin_uid));
	rec_admin_copy(dst, src);
	STORE(dst->last_probe, LOAD(src->last_probe));
	STORE(dst->consec_ok, LOAD(src->consec_ok));
	STORE(dst->consec_fail, LOAD(src->consec_fail));
	STORE(dst->last_rtt_us, LOAD(src->last_rtt_us));
	STORE(dst->last_check_ms, LOAD(src->last_check_ms));
	STORE(dst->since_ms, LOAD(src->since_ms));
	STORE(dst->probes, LOAD(src->probes));
	STORE(dst->transitions, LOAD(src->transitions));
	STORE(dst->answers, LOAD(src->answers));
	STORE(dst->probe_start_ms, LOAD(src->probe_start_ms));
	STORE(dst->next_due_ms, LOAD(src->next_due_ms));
	agent_copy(dst, src);
}

/*!
 * \brief Copies a cache record into a fresh segment (not yet visible to
 *        readers); the source may be in use, hence the snapshot.
 */
static void cache_copy(tgc_cache_rec_t *dst, const tgc_cache_rec_t *src)
{
	tgc_table_t view = { .cache = (tgc_cache_rec_t *)src };
	tgc_table_hdr_t hdr = { .role = TGC_ROLE_TRANSLATOR };
	view.hdr = &hdr;
	tgc_cache_snap_t *snap = malloc(sizeof(*snap));
	if (snap == NULL) {
		return;
	}
	if (tgc_table_cache_read(&view, 0, snap, true) == KNOT_EOK && snap->valid) {
		tgc_table_t out = { .hdr = &hdr, .cache = dst };
		(void)tgc_table_cache_write(&out, 0, snap);
		STORE(dst->refreshes, snap->refreshes);
		STORE(dst->failures, snap->failures);
	}
	free(snap);
}

/*! \brief Copies a string into a fixed header field (truncating). */
static void hdr_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", (src != NULL) ? src : "");
}

/*!
 * \brief Creates a new segment (O_EXCL) for \a spec, importing node states
 *        from \a old (may be NULL) by address and port.
 */
static int table_create(tgc_table_t *table, const char *name,
                        const tgc_table_spec_t *spec,
                        const tgc_table_hdr_t *old, const char **err)
{
	size_t size = tgc_table_size(spec->role, spec->node_count);

	int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		*err = "cannot create the segment";
		return errno_to_knot(errno);
	}
	/* The umask may have cleared bits we want, never set ones we don't. */
	if (fchmod(fd, 0600) != 0 || ftruncate(fd, (off_t)size) != 0) {
		int ret = errno_to_knot(errno);
		*err = "cannot size the segment";
		close(fd);
		shm_unlink(name);
		return ret;
	}
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		int ret = errno_to_knot(errno);
		*err = "cannot map the segment";
		close(fd);
		shm_unlink(name);
		return ret;
	}

	/* ftruncate() zero-fills: only non-zero fields need setting. */
	tgc_table_hdr_t *hdr = mem;
	hdr->version = TGC_TABLE_VERSION;
	hdr->size = size;
	hdr->hdr_size = sizeof(tgc_table_hdr_t);
	hdr->rec_size = sizeof(tgc_node_rec_t);
	hdr->node_count = spec->node_count;
	hdr->role = spec->role;
	hdr->created_ms = tgc_table_now_ms();
	hdr_str(hdr->zone, sizeof(hdr->zone), spec->zone);
	hdr_str(hdr->instance, sizeof(hdr->instance), spec->instance);
	hdr_str(hdr->name, sizeof(hdr->name), spec->name);
	hdr->check = spec->check;
	hdr->interval_ms = spec->interval_ms;
	hdr->timeout_ms = spec->timeout_ms;
	hdr->rise = spec->rise;
	hdr->fall = spec->fall;
	if (spec->role == TGC_ROLE_TRANSLATOR) {
		hdr->cache_off = sizeof(tgc_table_hdr_t) +
		                 spec->node_count * sizeof(tgc_node_rec_t);
		hdr->cache_count = TGC_CACHE_RECS;
		hdr->cache_rec_size = sizeof(tgc_cache_rec_t);
		hdr->stale_limit_s = spec->stale_limit_s;
	}

	tgc_node_rec_t *recs = (tgc_node_rec_t *)(hdr + 1);
	const tgc_node_rec_t *old_recs = (old != NULL) ?
	                                 (const tgc_node_rec_t *)(old + 1) : NULL;
	for (uint32_t i = 0; i < spec->node_count; i++) {
		const tgc_table_node_t *n = &spec->nodes[i];
		tgc_node_rec_t *r = &recs[i];
		r->family = n->addr.family;
		memcpy(r->addr, n->addr.bytes, n->addr.len);
		r->port = n->port;
		r->mapped_family = n->mapped.family;
		memcpy(r->mapped, n->mapped.bytes, n->mapped.len);
		r->tier = n->tier;
		for (uint32_t j = 0; old != NULL && j < old->node_count; j++) {
			if (rec_is_node(&old_recs[j], n)) {
				rec_copy_state(r, &old_recs[j]);
				break;
			}
		}
	}
	/* A translator of the same name keeps its cached answer (e.g. after
	 * an upstream was added): it stays subject to the stale limit. */
	if (spec->role == TGC_ROLE_TRANSLATOR && old != NULL &&
	    old->role == TGC_ROLE_TRANSLATOR && strcmp(old->name, hdr->name) == 0) {
		tgc_cache_rec_t *dst = (tgc_cache_rec_t *)((uint8_t *)mem + hdr->cache_off);
		const tgc_cache_rec_t *src = (const tgc_cache_rec_t *)
		                             ((const uint8_t *)old + old->cache_off);
		for (unsigned i = 0; i < TGC_CACHE_RECS; i++) {
			cache_copy(&dst[i], &src[i]);
		}
	}
	atomic_store_explicit(&hdr->magic, TGC_TABLE_MAGIC, memory_order_release);

	table_set(table, mem, size, true, name);
	table->fd = fd;
	table->fd_open = true;

	return KNOT_EOK;
}

int tgc_table_open(tgc_table_t *table, const char *name,
                   const tgc_table_spec_t *spec, tgc_table_origin_t *origin,
                   const char **err)
{
	const char *dummy_err;
	tgc_table_origin_t dummy_origin;
	err = (err != NULL) ? err : &dummy_err;
	origin = (origin != NULL) ? origin : &dummy_origin;
	*err = NULL;

	if (table == NULL || name == NULL || spec == NULL ||
	    spec->node_count > TGC_TABLE_NODES_MAX ||
	    (spec->node_count > 0 && spec->nodes == NULL)) {
		*err = "invalid arguments";
		return KNOT_EINVAL;
	}
	memset(table, 0, sizeof(*table));

	int fd = shm_open(name, O_RDWR, 0);
	if (fd < 0) {
		if (errno != ENOENT) {
			*err = "cannot open the existing segment";
			return errno_to_knot(errno);
		}
		*origin = TGC_TABLE_CREATED;
		return table_create(table, name, spec, NULL, err);
	}

	struct stat st;
	if (fstat(fd, &st) != 0) {
		int ret = errno_to_knot(errno);
		close(fd);
		*err = "cannot stat the existing segment";
		return ret;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		close(fd);
		*err = "existing segment is owned by another user";
		return KNOT_EACCES;
	}

	/* The decisions below read a private copy taken with pread(): a
	 * segment truncated or rewritten meanwhile cannot fault or change
	 * what was validated (a short read fails the validation). */
	uint8_t *snap = NULL;
	size_t snap_len = 0;
	if ((st.st_mode & 0077) == 0 && st.st_size >= (off_t)sizeof(tgc_table_hdr_t) &&
	    st.st_size <= (off_t)table_size_max()) {
		snap = aligned_alloc(64, ((size_t)st.st_size + 63) & ~(size_t)63);
		while (snap != NULL && snap_len < (size_t)st.st_size) {
			ssize_t n = pread(fd, snap + snap_len,
			                  (size_t)st.st_size - snap_len, (off_t)snap_len);
			if (n < 0 && errno == EINTR) {
				continue;
			}
			if (n <= 0) {
				break;
			}
			snap_len += (size_t)n;
		}
	}

	const char *why = "bad mode or size";
	if (snap != NULL && snap_len == (size_t)st.st_size &&
	    tgc_table_validate(snap, snap_len, &why) == KNOT_EOK) {
		const tgc_table_hdr_t *sh = (const tgc_table_hdr_t *)snap;
		/* Never reuse, adopt or replace the segment of another live
		 * process (a second knotd with the same configuration). */
		uint64_t owner = LOAD(sh->owner);
		if (owner != 0 && owner != tgc_table_owner_self() &&
		    tgc_table_owner_alive(owner)) {
			free(snap);
			close(fd);
			table->owner_pid = TGC_TABLE_OWNER_PID(owner);
			*err = "segment is in use by another live process";
			return KNOT_EBUSY;
		}
		if (same_spec(sh, spec)) {
			void *mem = mmap(NULL, snap_len, PROT_READ | PROT_WRITE,
			                 MAP_SHARED, fd, 0);
			if (mem == MAP_FAILED) {
				int ret = errno_to_knot(errno);
				free(snap);
				close(fd);
				*err = "cannot map the existing segment";
				return ret;
			}
			*origin = TGC_TABLE_REUSED;
			table_set_layout(table, mem, sh, snap_len, true, name);
			table->fd = fd;
			table->fd_open = true;
			free(snap);
			return KNOT_EOK;
		}
		close(fd);
		/* Other nodes: a new segment under the same name, states
		 * adopted from the copy. A previous instance that still maps
		 * the old one keeps a valid mapping. */
		*origin = TGC_TABLE_ADOPTED;
		(void)shm_unlink(name);
		int ret = table_create(table, name, spec, sh, err);
		free(snap);
		return ret;
	}

	/* Ours but not trustworthy: never use its contents. */
	close(fd);
	free(snap);
	*origin = TGC_TABLE_REPLACED;
	*err = why;
	(void)shm_unlink(name);
	const char *create_err = NULL;
	int ret = table_create(table, name, spec, NULL, &create_err);
	if (ret != KNOT_EOK) {
		*err = create_err;
	}

	return ret;
}

int tgc_table_attach(tgc_table_t *table, const char *name, bool writable,
                     const char **err)
{
	const char *dummy;
	err = (err != NULL) ? err : &dummy;
	if (table == NULL || name == NULL) {
		*err = "invalid arguments";
		return KNOT_EINVAL;
	}
	memset(table, 0, sizeof(*table));

	char full[TGC_TABLE_NAME_MAX + 2];
	int ret = snprintf(full, sizeof(full), "%s%s", (*name == '/') ? "" : "/", name);
	if (ret < 0 || (size_t)ret >= sizeof(full)) {
		*err = "name too long";
		return KNOT_EINVAL;
	}

	/* Never follow a link, never block on a FIFO put at the name. */
	int fd = shm_open(full, (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW |
	                  O_NONBLOCK, 0);
	if (fd < 0) {
		ret = errno_to_knot(errno);
		*err = (ret == KNOT_ENOENT) ? "no such segment" :
		       (ret == KNOT_EACCES) ? "permission denied" :
		                              "cannot open the segment";
		return ret;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size < (off_t)sizeof(tgc_table_hdr_t) ||
	    st.st_size > (off_t)table_size_max()) {
		close(fd);
		*err = "not a tgcluster segment (size)";
		return KNOT_EMALF;
	}
	void *mem = mmap(NULL, (size_t)st.st_size,
	                 writable ? PROT_READ | PROT_WRITE : PROT_READ,
	                 MAP_SHARED, fd, 0);
	close(fd);
	if (mem == MAP_FAILED) {
		ret = errno_to_knot(errno);
		*err = "cannot map the segment";
		return ret;
	}
	ret = tgc_table_validate(mem, (size_t)st.st_size, err);
	if (ret != KNOT_EOK) {
		munmap(mem, (size_t)st.st_size);
		return ret;
	}
	table_set(table, mem, (size_t)st.st_size, writable, full);
	table->file_uid = st.st_uid;

	return KNOT_EOK;
}

static void seg_free(tgc_table_t *table);

void tgc_table_close(tgc_table_t *table)
{
	if (table == NULL || table->hdr == NULL) {
		return;
	}
	if (table->seg != NULL) {
		seg_free(table);
	} else {
		munmap(table->hdr, table->size);
	}
	if (table->fd_open) {
		close(table->fd);
	}
	memset(table, 0, sizeof(*table));
}

int tgc_table_unlink(const char *name)
{
	if (name == NULL) {
		return KNOT_EINVAL;
	}
	char full[TGC_TABLE_NAME_MAX + 2];
	snprintf(full, sizeof(full), "%s%s", (*name == '/') ? "" : "/", name);
	if (shm_unlink(full) != 0) {
		return errno_to_knot(errno);
	}

	return KNOT_EOK;
}

/*!
 * \brief Tells whether record \a idx exists and lies inside the mapping (the
 *        node count of a segment mapped by the CLI can be rewritten after
 *        it was validated).
 */
static bool rec_ok(const tgc_table_t *table, uint32_t idx)
{
	return table != NULL && table->hdr != NULL &&
	       idx < table->hdr->node_count &&
	       sizeof(tgc_table_hdr_t) + ((size_t)idx + 1) * sizeof(tgc_node_rec_t) <=
	       table->size;
}

void tgc_table_node_read(const tgc_table_t *table, uint32_t idx,
                         tgc_node_snap_t *out)
{
	memset(out, 0, sizeof(*out));
	if (!rec_ok(table, idx)) {
		return;
	}
	/* The record is mapped read-only by the CLI: only loads here. */
	tgc_node_rec_t *r = (tgc_node_rec_t *)&table->nodes[idx];

	rec_addr(&out->addr, r->family, r->addr);
	rec_addr(&out->mapped, r->mapped_family, r->mapped);
	out->port = r->port;
	out->tier = r->tier;

	uint64_t deadline = 0;
	uint32_t last_seq = 0;
	for (unsigned spins = 0; ; spins++) {
		uint32_t s1 = atomic_load_explicit(&r->seq, memory_order_acquire);
		if ((s1 & 1u) == 0) {
			out->health = LOAD(r->health);
			out->last_probe = LOAD(r->last_probe);
			out->consec_ok = LOAD(r->consec_ok);
			out->consec_fail = LOAD(r->consec_fail);
			out->last_rtt_us = LOAD(r->last_rtt_us);
			out->last_check_ms = LOAD(r->last_check_ms);
			out->since_ms = LOAD(r->since_ms);
			out->probes = LOAD(r->probes);
			out->transitions = LOAD(r->transitions);
			out->probe_start_ms = LOAD(r->probe_start_ms);
			out->next_due_ms = LOAD(r->next_due_ms);
			out->admin_zone = LOAD(r->admin_zone);
			out->admin_src = LOAD(r->admin_src);
			out->admin_flags = LOAD(r->admin_flags);
			out->zone_serial = LOAD(r->zone_serial);
			out->admin_since_ms = LOAD(r->admin_since_ms);
			for (size_t i = 0; i < sizeof(r->zone_reason) / 8; i++) {
				uint64_t w = LOAD(r->zone_reason[i]);
				memcpy(out->zone_reason + 8 * i, &w, 8);
			}
			out->agent_sessions = LOAD(r->agent_sessions);
			out->agent_maxconn = LOAD(r->agent_maxconn);
			out->agent_pct = LOAD(r->agent_pct);
			out->agent_state = LOAD(r->agent_state);
			out->agent_flags = LOAD(r->agent_flags);
			out->agent_errors = LOAD(r->agent_errors);
			atomic_thread_fence(memory_order_acquire);
			uint32_t s2 = atomic_load_explicit(&r->seq, memory_order_relaxed);
			if (s1 == s2) {
				break;
			}
		}
		/* A writer that died inside its section (until the next
		 * writer closes it) must not hang the reader: give up on the
		 * consistency of the details. Not used on the query path (CLI,
		 * checker). */
		if (spins > 64) {
			/* Give up when the writer makes no progress for 50 ms
			 * (it died inside its section), or after many tries. */
			if (s1 != last_seq) {
				last_seq = s1;
				deadline = 0;
			}
			if (deadline == 0) {
				deadline = tgc_table_now_ms() + 50;
			} else if (spins > 100000 || tgc_table_now_ms() > deadline) {
				break;
			}
			sched_yield();
		}
	}
	out->admin = LOAD(r->admin);
	out->admin_local = LOAD(r->admin_local);
	out->admin_uid = LOAD(r->admin_uid);
	out->zone_reason[sizeof(out->zone_reason) - 1] = '\0';
	out->answers = LOAD(r->answers);
}

/*! \brief Opens a write section on \a seq: even s -> s+1 (0 if busy). */
static uint32_t seq_begin(_Atomic uint32_t *seq)
{
	uint32_t s = atomic_load_explicit(seq, memory_order_relaxed);
	if ((s & 1u) != 0 ||
	    !atomic_compare_exchange_strong_explicit(seq, &s, s + 1,
	                                             memory_order_acquire,
	                                             memory_order_relaxed)) {
		return 0;
	}
	/* Keep the field stores below after the odd sequence number. */
	atomic_thread_fence(memory_order_release);

	return s + 1;
}

/*!
 * \brief Closes the write section opened as \a open (odd s+1) by
 *        compare-and-swap to s+2. If the record was forced closed meanwhile
 *        (its writer was taken for dead), nothing changes: an end never makes
 *        a sequence number odd, nor closes another writer's section.
 */
static void seq_end(_Atomic uint32_t *seq, uint32_t open)
{
	(void)atomic_compare_exchange_strong_explicit(seq, &open, open + 1,
	                                              memory_order_release,
	                                              memory_order_relaxed);
}

uint32_t tgc_table_write_begin(tgc_node_rec_t *rec)
{
	return seq_begin(&rec->seq);
}

void tgc_table_write_end(tgc_table_t *table, tgc_node_rec_t *rec)
{
	/* The section's odd value is the current one unless the record was
	 * forced closed, which happens only after its writer process died. */
	uint32_t open = atomic_load_explicit(&rec->seq, memory_order_relaxed);
	if ((open & 1u) != 0) {
		seq_end(&rec->seq, open);
	}
	if (table != NULL && table->hdr != NULL) {
		atomic_fetch_add_explicit(&table->hdr->generation, 1,
		                          memory_order_relaxed);
	}
}

bool tgc_table_node_update(tgc_table_t *table, uint32_t idx,
                           const tgc_node_update_t *u)
{
	if (table == NULL || table->hdr == NULL || u == NULL ||
	    idx >= table->hdr->node_count) {
		return false;
	}
	tgc_node_rec_t *rec = &table->nodes[idx];
	uint32_t open = seq_begin(&rec->seq);
	if (open == 0) {
		return false;
	}
	if (u->what & TGC_NODE_UPD_HEALTH) {
		STORE(rec->health, (uint8_t)u->health);
		STORE(rec->since_ms, u->now_ms);
		STORE(rec->transitions, LOAD(rec->transitions) + 1);
	}
	if (u->what & TGC_NODE_UPD_RESULT) {
		STORE(rec->consec_ok, u->consec_ok);
		STORE(rec->consec_fail, u->consec_fail);
		STORE(rec->last_probe, (uint8_t)u->last_probe);
		STORE(rec->last_rtt_us, u->last_rtt_us);
		STORE(rec->last_check_ms, u->now_ms);
		STORE(rec->probes, LOAD(rec->probes) + 1);
	} else if (u->what & TGC_NODE_UPD_PROBE) {
		STORE(rec->last_probe, (uint8_t)u->last_probe);
	}
	if (u->what & TGC_NODE_UPD_START) {
		STORE(rec->probe_start_ms, u->probe_start_ms);
	}
	if (u->what & TGC_NODE_UPD_DUE) {
		STORE(rec->next_due_ms, u->next_due_ms);
	}
	if (u->what & TGC_NODE_UPD_AGENT) {
		STORE(rec->agent_sessions, u->agent_sessions);
		STORE(rec->agent_maxconn, u->agent_maxconn);
		STORE(rec->agent_pct, u->agent_pct);
		STORE(rec->agent_state, u->agent_state);
		STORE(rec->agent_flags, u->agent_flags);
		STORE(rec->agent_errors, LOAD(rec->agent_errors) + u->agent_errors_add);
	}
	seq_end(&rec->seq, open);
	atomic_fetch_add_explicit(&table->hdr->generation, 1, memory_order_relaxed);

	return true;
}

bool tgc_table_node_reset(tgc_table_t *table, uint32_t idx)
{
	if (table == NULL || table->hdr == NULL || idx >= table->hdr->node_count) {
		return false;
	}
	tgc_node_rec_t *rec = &table->nodes[idx];
	uint32_t open = seq_begin(&rec->seq);
	if (open == 0) {
		return false;
	}
	STORE(rec->health, (uint8_t)TGC_HEALTH_UNKNOWN);
	STORE(rec->consec_ok, 0);
	STORE(rec->consec_fail, 0);
	STORE(rec->probe_start_ms, 0);
	STORE(rec->next_due_ms, 0);
	seq_end(&rec->seq, open);
	atomic_fetch_add_explicit(&table->hdr->generation, 1, memory_order_relaxed);

	return true;
}

/*! \brief Closes an odd sequence number (dead writer). */
static bool seq_force_close(_Atomic uint32_t *seq)
{
	uint32_t s = atomic_load_explicit(seq, memory_order_acquire);
	return (s & 1u) != 0 &&
	       atomic_compare_exchange_strong_explicit(seq, &s, s + 1,
	                                               memory_order_acq_rel,
	                                               memory_order_relaxed);
}

/*!
 * \brief Closes every open record of a mapping (its writer is dead).
 *
 * \a layout gives node_count, role and cache_off: the checked copy of the
 * header (a view's), never fields of a segment others can still write.
 */
static unsigned unstick_mem(tgc_table_hdr_t *hdr, const tgc_table_hdr_t *layout)
{
	unsigned closed = 0;
	tgc_node_rec_t *recs = (tgc_node_rec_t *)(hdr + 1);
	for (uint32_t i = 0; i < layout->node_count; i++) {
		closed += seq_force_close(&recs[i].seq) ? 1 : 0;
	}
	if (layout->role == TGC_ROLE_TRANSLATOR && layout->cache_off != 0) {
		tgc_cache_rec_t *c = (tgc_cache_rec_t *)((uint8_t *)hdr + layout->cache_off);
		for (unsigned i = 0; i < TGC_CACHE_RECS; i++) {
			closed += seq_force_close(&c[i].seq) ? 1 : 0;
		}
	}

	return closed;
}

unsigned tgc_table_unstick(tgc_table_t *table)
{
	if (table == NULL || table->hdr == NULL || !table->writable) {
		return 0;
	}

	return unstick_mem(table->hdr, table->hdr);
}

int tgc_table_admin_set(tgc_table_t *table, uint32_t idx, tgc_admin_t admin)
{
	if (!rec_ok(table, idx) || (unsigned)admin > TGC_ADMIN_DOWN) {
		return KNOT_EINVAL;
	}
	if (!table->writable) {
		return KNOT_EACCES;
	}
	tgc_node_rec_t *r = &table->nodes[idx];
	STORE(r->admin_uid, (uint32_t)getuid());
	STORE(r->admin_local, (uint8_t)admin);
	/* knotd's sync recomputes the effective state from this. */
	STORE(r->admin, (uint8_t)admin);
	/* Pairs with the acquire load of tgc_table_sync(). */
	atomic_fetch_add_explicit(&table->hdr->generation, 1, memory_order_release);

	return KNOT_EOK;
}

/*! \brief CLOCK_MONOTONIC in milliseconds. */
static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int tgc_table_admin_wait(const tgc_table_t *table, unsigned timeout_ms)
{
	if (table == NULL || table->hdr == NULL) {
		return KNOT_EINVAL;
	}
	tgc_table_hdr_t *hdr = table->hdr;
	uint64_t gen = atomic_load_explicit(&hdr->generation, memory_order_acquire);
	/* Monotonic: a clock set back must not stretch the wait. */
	uint64_t deadline = mono_ms() + timeout_ms;
	while (atomic_load_explicit(&hdr->admin_ack, memory_order_acquire) < gen) {
		if (mono_ms() >= deadline) {
			return KNOT_ETIMEOUT;
		}
		struct timespec pause = { .tv_nsec = 5 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}

	return KNOT_EOK;
}

const char *tgc_table_health_str(tgc_health_t health)
{
	switch (health) {
	case TGC_HEALTH_UNKNOWN: return "unknown";
	case TGC_HEALTH_UP:      return "up";
	case TGC_HEALTH_DOWN:    return "down";
	default:                 return "invalid";
	}
}

/*! \brief Names of the admin states, by value. */
static const char *admin_names[] = {
	[TGC_ADMIN_AUTO] = "auto",
	[TGC_ADMIN_DRAIN] = "drain",
	[TGC_ADMIN_UP] = "up",
	[TGC_ADMIN_DOWN] = "down",
};

const char *tgc_table_admin_str(tgc_admin_t admin)
{
	return ((unsigned)admin <= TGC_ADMIN_DOWN) ? admin_names[admin] : "invalid";
}

int tgc_table_admin_parse(const char *str)
{
	for (int i = TGC_ADMIN_AUTO; str != NULL && i <= TGC_ADMIN_DOWN; i++) {
		if (strcmp(str, admin_names[i]) == 0) {
			return i;
		}
	}

	return -1;
}

const char *tgc_table_probe_str(tgc_probe_t probe)
{
	switch (probe) {
	case TGC_PROBE_NONE:     return "none";
	case TGC_PROBE_OK:       return "ok";
	case TGC_PROBE_REFUSED:  return "refused";
	case TGC_PROBE_TIMEOUT:  return "timeout";
	case TGC_PROBE_BANNER:   return "bad-banner";
	case TGC_PROBE_ERROR:    return "error";
	case TGC_PROBE_DISABLED: return "disabled";
	case TGC_PROBE_RFB_REFUSED: return "rfb-refused";
	case TGC_PROBE_HANDSHAKE: return "bad-handshake";
	case TGC_PROBE_STATUS:   return "bad-status";
	case TGC_PROBE_TLS:      return "tls-failed";
	case TGC_PROBE_CERT:     return "bad-cert";
	default:                 return "invalid";
	}
}

/*! \brief The cache record \a idx of a translator table, or NULL. */
static tgc_cache_rec_t *cache_rec(const tgc_table_t *table, unsigned idx)
{
	if (table == NULL || table->hdr == NULL || table->cache == NULL ||
	    table->hdr->role != TGC_ROLE_TRANSLATOR || idx >= TGC_CACHE_RECS) {
		return NULL;
	}

	return &table->cache[idx];
}

int tgc_table_cache_read(const tgc_table_t *table, unsigned idx,
                         tgc_cache_snap_t *out, bool with_soa)
{
	tgc_cache_rec_t *c = cache_rec(table, idx);
	if (c == NULL || out == NULL) {
		return KNOT_EINVAL;
	}

	for (unsigned spins = 0; ; spins++) {
		uint32_t s1 = atomic_load_explicit(&c->seq, memory_order_acquire);
		if ((s1 & 1u) == 0) {
			out->valid = LOAD(c->valid) != 0;
			out->ok = LOAD(c->ok) != 0;
			out->rcode = LOAD(c->rcode);
			out->count = LOAD(c->count);
			out->ttl = LOAD(c->ttl);
			out->upstream = LOAD(c->upstream);
			out->fetched_ms = LOAD(c->fetched_ms);
			out->polled_ms = LOAD(c->polled_ms);
			out->refreshes = LOAD(c->refreshes);
			out->failures = LOAD(c->failures);
			out->soa_owner_len = LOAD(c->soa_owner_len);
			out->soa_rdata_len = LOAD(c->soa_rdata_len);
			if (out->count > TGC_CACHE_ADDRS_MAX) {
				out->count = 0; /* Torn read, retried below. */
			}
			int family = (idx == TGC_CACHE_A) ? AF_INET : AF_INET6;
			for (unsigned i = 0; i < out->count; i++) {
				uint64_t w[2] = { LOAD(c->addrs[2 * i]),
				                  LOAD(c->addrs[2 * i + 1]) };
				tgc_addr_t *a = &out->addrs[i];
				a->family = family;
				a->len = (family == AF_INET) ? 4 : 16;
				memcpy(a->bytes, w, sizeof(w));
			}
			size_t soa_len = (size_t)out->soa_owner_len + out->soa_rdata_len;
			if (soa_len > TGC_CACHE_SOA_MAX) {
				soa_len = 0;
			}
			for (size_t i = 0; with_soa && i < (soa_len + 7) / 8; i++) {
				uint64_t w = LOAD(c->soa[i]);
				memcpy(out->soa + 8 * i, &w, sizeof(w));
			}
			atomic_thread_fence(memory_order_acquire);
			uint32_t s2 = atomic_load_explicit(&c->seq, memory_order_relaxed);
			if (s1 == s2) {
				return KNOT_EOK;
			}
		}
		/* See tgc_table_node_read(): never hang on a dead writer. */
		if (spins >= TGC_TABLE_READ_TRIES) {
			memset(out, 0, sizeof(*out));
			return KNOT_EBUSY;
		}
	}
}

int tgc_table_cache_write(tgc_table_t *table, unsigned idx,
                          const tgc_cache_snap_t *snap)
{
	tgc_cache_rec_t *c = cache_rec(table, idx);
	if (c == NULL || snap == NULL || snap->count > TGC_CACHE_ADDRS_MAX ||
	    (size_t)snap->soa_owner_len + snap->soa_rdata_len > TGC_CACHE_SOA_MAX) {
		return KNOT_EINVAL;
	}

	uint32_t open = seq_begin(&c->seq);
	if (open == 0) {
		return KNOT_EBUSY;
	}

	STORE(c->ok, snap->ok ? 1 : 0);
	STORE(c->polled_ms, snap->polled_ms);
	if (snap->ok) {
		STORE(c->refreshes, LOAD(c->refreshes) + 1);
	} else {
		STORE(c->failures, LOAD(c->failures) + 1);
	}
	if (snap->valid) {
		STORE(c->valid, 1);
		STORE(c->rcode, snap->rcode);
		STORE(c->count, snap->count);
		STORE(c->ttl, snap->ttl);
		STORE(c->upstream, snap->upstream);
		STORE(c->fetched_ms, snap->fetched_ms);
		for (unsigned i = 0; i < snap->count; i++) {
			uint64_t w[2] = { 0, 0 };
			memcpy(w, snap->addrs[i].bytes,
			       (snap->addrs[i].len <= 16) ? snap->addrs[i].len : 16);
			STORE(c->addrs[2 * i], w[0]);
			STORE(c->addrs[2 * i + 1], w[1]);
		}
		size_t soa_len = (size_t)snap->soa_owner_len + snap->soa_rdata_len;
		for (size_t i = 0; i < (soa_len + 7) / 8; i++) {
			uint64_t w = 0;
			size_t n = (soa_len - 8 * i < 8) ? soa_len - 8 * i : 8;
			memcpy(&w, snap->soa + 8 * i, n);
			STORE(c->soa[i], w);
		}
		STORE(c->soa_owner_len, snap->soa_owner_len);
		STORE(c->soa_rdata_len, snap->soa_rdata_len);
	}

	seq_end(&c->seq, open);
	atomic_fetch_add_explicit(&table->hdr->generation, 1, memory_order_relaxed);

	return KNOT_EOK;
}

/*
 * Ownership.
 */

uint64_t tgc_table_proc_start(pid_t pid)
{
	if (pid <= 0) {
		return 0;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return 0;
	}
	char buf[1024];
	ssize_t len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0) {
		return 0;
	}
	buf[len] = '\0';
	/* The command name (field 2) may hold spaces and parentheses: count
	 * fields from the last ')'. Field 3 follows it; we want field 22. */
	char *p = strrchr(buf, ')');
	if (p == NULL) {
		return 0;
	}
	p++;
	for (int field = 2; field < 21 && p != NULL; field++) {
		p = strchr(p + 1, ' ');
	}
	if (p == NULL) {
		return 0;
	}
	char *end = NULL;
	unsigned long long start = strtoull(p + 1, &end, 10);
	if (end == p + 1) {
		return 0;
	}

	return (start == 0) ? 1 : (uint64_t)start;
}

uint64_t tgc_table_owner_self(void)
{
	static _Atomic uint64_t self;
	static _Atomic pid_t self_pid;
	pid_t pid = getpid();
	/* Cached per process (a fork gets its own pid, hence a new value). */
	if (atomic_load_explicit(&self_pid, memory_order_acquire) != pid) {
		atomic_store_explicit(&self, TGC_TABLE_OWNER(pid, tgc_table_proc_start(pid)),
		                      memory_order_relaxed);
		atomic_store_explicit(&self_pid, pid, memory_order_release);
	}

	return atomic_load_explicit(&self, memory_order_relaxed);
}

bool tgc_table_owner_alive(uint64_t owner)
{
	if (owner == 0) {
		return false;
	}
	uint64_t start = tgc_table_proc_start(TGC_TABLE_OWNER_PID(owner));

	return start != 0 && TGC_TABLE_OWNER(TGC_TABLE_OWNER_PID(owner), start) == owner;
}

/*
 * Writer tokens of this process's instances (claimed and not yet released):
 * a token in a segment owned by this process whose instance is gone (a
 * failed load) is taken back by the next sync.
 */

/*! \brief Most instances of one process that hold tokens at once. */
#define TOKENS_MAX	1024

static pthread_mutex_t tokens_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t tokens[TOKENS_MAX];

/*! \brief Records a live token. */
static void token_add(uint64_t token)
{
	pthread_mutex_lock(&tokens_lock);
	for (size_t i = 0; i < TOKENS_MAX; i++) {
		if (tokens[i] == token) {
			break;
		}
		if (tokens[i] == 0) {
			tokens[i] = token;
			break;
		}
	}
	pthread_mutex_unlock(&tokens_lock);
}

/*! \brief Tells whether a token belongs to a live instance of this process
 *         (a full registry answers yes: never take from a live instance). */
static bool token_live(uint64_t token)
{
	bool live = false;
	pthread_mutex_lock(&tokens_lock);
	for (size_t i = 0; i < TOKENS_MAX && !live; i++) {
		live = (tokens[i] == token) || (i == TOKENS_MAX - 1 && tokens[i] != 0);
	}
	pthread_mutex_unlock(&tokens_lock);

	return live;
}

void tgc_table_release(uint64_t token)
{
	if (token == 0) {
		return;
	}
	pthread_mutex_lock(&tokens_lock);
	for (size_t i = 0; i < TOKENS_MAX; i++) {
		if (tokens[i] == token) {
			tokens[i] = 0;
		}
	}
	pthread_mutex_unlock(&tokens_lock);
}

/*
 * SIGBUS guard: the segment can be truncated under us by its owner or root.
 * Copies in and out of it run inside guarded(): a fault there jumps back
 * and the segment is dropped. A SIGBUS anywhere else goes to the previous
 * disposition. The handler is installed while private views exist.
 */

static __thread sigjmp_buf *guard_env __attribute__((tls_model("initial-exec")));
static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned guard_users;
static struct sigaction guard_prev;

static void guard_handler(int sig, siginfo_t *info, void *uctx)
{
	sigjmp_buf *env = guard_env;
	if (env != NULL && info != NULL && info->si_code > 0) {
		guard_env = NULL;
		siglongjmp(*env, 1);
	}
	/* Not ours: a previous handler gets it as if we were not there, and
	 * the guard stays installed for the segment copies still to come. */
	bool dfl = (guard_prev.sa_handler == SIG_DFL);
	bool ign = (guard_prev.sa_handler == SIG_IGN);
	if (!dfl && !ign) {
		if ((guard_prev.sa_flags & SA_SIGINFO) != 0) {
			guard_prev.sa_sigaction(sig, info, uctx);
		} else {
			guard_prev.sa_handler(sig);
		}
		return;
	}
	if (ign && (info == NULL || info->si_code <= 0)) {
		return; /* A sent signal, ignored before us. */
	}
	/* Default action (a fault cannot be ignored): restore it. A fault
	 * happens again when the instruction is retried; a sent signal is
	 * sent again. Either ends the process. */
	sigaction(SIGBUS, &guard_prev, NULL);
	if (info == NULL || info->si_code <= 0) {
		raise(sig);
	}
}

/*! \brief Installs the SIGBUS handler (one more user). */
static void guard_get(void)
{
	pthread_mutex_lock(&guard_lock);
	if (guard_users++ == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = guard_handler;
		sa.sa_flags = SA_SIGINFO | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGBUS, &sa, &guard_prev);
	}
	pthread_mutex_unlock(&guard_lock);
}

/*! \brief Removes the SIGBUS handler after its last user. */
static void guard_put(void)
{
	pthread_mutex_lock(&guard_lock);
	if (guard_users > 0 && --guard_users == 0) {
		struct sigaction cur;
		if (sigaction(SIGBUS, NULL, &cur) == 0 &&
		    (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == guard_handler) {
			sigaction(SIGBUS, &guard_prev, NULL);
		}
	}
	pthread_mutex_unlock(&guard_lock);
}

/*!
 * \brief Runs \a fn(arg) with segment faults caught.
 *
 * \return False if it faulted (it did not finish).
 */
static bool guarded(void (*fn)(void *), void *arg)
{
	sigset_t bus, old;
	sigemptyset(&bus);
	sigaddset(&bus, SIGBUS);
	/* Module threads run with signals blocked; a blocked fault kills. */
	pthread_sigmask(SIG_UNBLOCK, &bus, &old);

	sigjmp_buf env;
	volatile bool ok = true;
	if (sigsetjmp(env, 1) == 0) {
		guard_env = &env;
		fn(arg);
	} else {
		ok = false;
	}
	guard_env = NULL;
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	return ok;
}

/*
 * Private views.
 */

/*! \brief The segment behind a private view. */
struct tgc_table_seg {
	tgc_table_hdr_t *hdr;     /*!< Its mapping (NULL once dropped). */
	size_t size;              /*!< Mapped size. */
	dev_t dev;                /*!< File identity at open. */
	ino_t ino;                /*!< File identity at open. */
	uint32_t *pub_seq;        /*!< Per node: view seq last published. */
	uint32_t cache_pub_seq[TGC_CACHE_RECS]; /*!< Same for cache records. */
	bool pub_all;             /*!< Publish everything at the next sync. */
	uint64_t *folded;         /*!< Per node: view answers already added
	                           *   to the segment. */
	uint64_t folded_all_down; /*!< View all-down answers already added. */
	tgc_admin_in_t *adm_in;   /*!< Per node: tgc_admin_resolve() input. */
	tgc_admin_out_t *adm_out; /*!< Per node: its output. */
};

/*! \brief Relaxed copy of 64-bit words (seqlock-protected areas). */
static void words_copy(void *dst, const void *src, size_t len)
{
	_Atomic uint64_t *d = dst;
	_Atomic uint64_t *s = (_Atomic uint64_t *)src;
	for (size_t i = 0; i < len / 8; i++) {
		STORE(d[i], LOAD(s[i]));
	}
}

/*! \brief Copies the mutable details of a node record (not admin, answers). */
static void rec_details_copy(tgc_node_rec_t *dst, const tgc_node_rec_t *src_c)
{
	tgc_node_rec_t *src = (tgc_node_rec_t *)src_c;
	STORE(dst->health, LOAD(src->health));
	STORE(dst->last_probe, LOAD(src->last_probe));
	STORE(dst->consec_ok, LOAD(src->consec_ok));
	STORE(dst->consec_fail, LOAD(src->consec_fail));
	STORE(dst->last_rtt_us, LOAD(src->last_rtt_us));
	STORE(dst->last_check_ms, LOAD(src->last_check_ms));
	STORE(dst->since_ms, LOAD(src->since_ms));
	STORE(dst->probes, LOAD(src->probes));
	STORE(dst->transitions, LOAD(src->transitions));
	STORE(dst->probe_start_ms, LOAD(src->probe_start_ms));
	STORE(dst->next_due_ms, LOAD(src->next_due_ms));
	rec_admin_copy(dst, src);
	agent_copy(dst, src);
	words_copy(dst->_reserved, src->_reserved, sizeof(src->_reserved));
}

/*! \brief Copies a whole cache record except its sequence number. */
static void cache_rec_copy(tgc_cache_rec_t *dst, const tgc_cache_rec_t *src)
{
	tgc_cache_rec_t *s = (tgc_cache_rec_t *)src;
	STORE(dst->valid, LOAD(s->valid));
	STORE(dst->rcode, LOAD(s->rcode));
	STORE(dst->count, LOAD(s->count));
	STORE(dst->ok, LOAD(s->ok));
	STORE(dst->ttl, LOAD(s->ttl));
	STORE(dst->soa_owner_len, LOAD(s->soa_owner_len));
	STORE(dst->soa_rdata_len, LOAD(s->soa_rdata_len));
	STORE(dst->fetched_ms, LOAD(s->fetched_ms));
	STORE(dst->polled_ms, LOAD(s->polled_ms));
	STORE(dst->refreshes, LOAD(s->refreshes));
	STORE(dst->failures, LOAD(s->failures));
	STORE(dst->upstream, LOAD(s->upstream));
	words_copy(dst->addrs, s->addrs, sizeof(s->addrs));
	words_copy(dst->soa, s->soa, sizeof(s->soa));
}

/*! \brief Reads a node record of another writer into \a tmp (bounded). */
static bool rec_read_consistent(tgc_node_rec_t *tmp, const tgc_node_rec_t *src)
{
	_Atomic uint32_t *seq = (_Atomic uint32_t *)&src->seq;
	for (unsigned i = 0; i < TGC_TABLE_READ_TRIES; i++) {
		uint32_t s1 = atomic_load_explicit(seq, memory_order_acquire);
		if ((s1 & 1u) != 0) {
			continue;
		}
		rec_details_copy(tmp, src);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(seq, memory_order_relaxed) == s1) {
			return true;
		}
	}

	return false;
}

/*! \brief Reads a cache record of another writer into \a tmp (bounded). */
static bool cache_read_consistent(tgc_cache_rec_t *tmp, const tgc_cache_rec_t *src)
{
	_Atomic uint32_t *seq = (_Atomic uint32_t *)&src->seq;
	for (unsigned i = 0; i < TGC_TABLE_READ_TRIES; i++) {
		uint32_t s1 = atomic_load_explicit(seq, memory_order_acquire);
		if ((s1 & 1u) != 0) {
			continue;
		}
		cache_rec_copy(tmp, src);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(seq, memory_order_relaxed) == s1) {
			return true;
		}
	}

	return false;
}

/*! \brief Arguments of the guarded read of a segment's node count. */
typedef struct {
	const tgc_table_hdr_t *hdr; /*!< The segment. */
	uint32_t count;             /*!< Out: its node count. */
} count_read_t;

/*! \brief Reads a segment's node count (guarded). */
static void count_read(void *arg)
{
	count_read_t *a = arg;
	a->count = a->hdr->node_count;
}

/*! \brief Arguments of the guarded view copy. */
typedef struct {
	uint8_t *dst;               /*!< The view (zeroed, segment-sized). */
	const tgc_table_hdr_t *src; /*!< The segment (validated). */
	size_t size;                /*!< Size of both. */
	uint32_t count;             /*!< Node count the view was sized for. */
	bool bad;                   /*!< Out: the layout changed since the
	                             *   validation; nothing was copied. */
} view_copy_t;

/*! \brief Copies a segment into a fresh view (nobody reads the view yet). */
static void view_copy(void *arg)
{
	view_copy_t *a = arg;
	const tgc_table_hdr_t *h = a->src;
	tgc_table_hdr_t *d = (tgc_table_hdr_t *)a->dst;
	/* Immutable part of the header and of the records, then the mutable
	 * fields with atomic loads. */
	memcpy(d, h, offsetof(tgc_table_hdr_t, writer));
	memcpy((uint8_t *)d + offsetof(tgc_table_hdr_t, cache_off),
	       (const uint8_t *)h + offsetof(tgc_table_hdr_t, cache_off),
	       offsetof(tgc_table_hdr_t, owner) - offsetof(tgc_table_hdr_t, cache_off));
	/* The copied layout is the one every later access trusts: it must
	 * still be the validated one (the segment may have been rewritten). */
	if (d->node_count != a->count ||
	    (d->role != TGC_ROLE_LB && d->role != TGC_ROLE_TRANSLATOR) ||
	    tgc_table_size(d->role, d->node_count) != a->size ||
	    d->cache_off != ((d->role == TGC_ROLE_TRANSLATOR) ?
	                     sizeof(tgc_table_hdr_t) +
	                     (size_t)d->node_count * sizeof(tgc_node_rec_t) : 0)) {
		a->bad = true;
		return;
	}
	tgc_table_hdr_t *hs = (tgc_table_hdr_t *)h;
	atomic_store(&d->magic, LOAD(hs->magic));
	STORE(d->writer, LOAD(hs->writer));
	STORE(d->writer_pid, LOAD(hs->writer_pid));
	STORE(d->generation, LOAD(hs->generation));
	STORE(d->heartbeat_ms, LOAD(hs->heartbeat_ms));
	STORE(d->owner, LOAD(hs->owner));
	const tgc_node_rec_t *sr = (const tgc_node_rec_t *)(h + 1);
	tgc_node_rec_t *dr = (tgc_node_rec_t *)(d + 1);
	for (uint32_t i = 0; i < d->node_count; i++) {
		memcpy((uint8_t *)&dr[i] + offsetof(tgc_node_rec_t, port),
		       (const uint8_t *)&sr[i] + offsetof(tgc_node_rec_t, port),
		       offsetof(tgc_node_rec_t, health) - offsetof(tgc_node_rec_t, port));
		tgc_node_rec_t tmp;
		/* A record left open by a dead writer: take it as it is. */
		if (!rec_read_consistent(&tmp, &sr[i])) {
			rec_details_copy(&tmp, &sr[i]);
		}
		rec_details_copy(&dr[i], &tmp);
		STORE(dr[i].admin, LOAD(((tgc_node_rec_t *)&sr[i])->admin));
		STORE(dr[i].admin_local, LOAD(((tgc_node_rec_t *)&sr[i])->admin_local));
		STORE(dr[i].admin_uid, LOAD(((tgc_node_rec_t *)&sr[i])->admin_uid));
		STORE(dr[i].answers, LOAD(((tgc_node_rec_t *)&sr[i])->answers));
	}
	if (d->role == TGC_ROLE_TRANSLATOR && d->cache_off != 0) {
		const tgc_cache_rec_t *sc = (const tgc_cache_rec_t *)
		                            ((const uint8_t *)h + d->cache_off);
		tgc_cache_rec_t *dc = (tgc_cache_rec_t *)(a->dst + d->cache_off);
		for (unsigned i = 0; i < TGC_CACHE_RECS; i++) {
			tgc_cache_rec_t *tmp = malloc(sizeof(*tmp));
			if (tmp == NULL) {
				continue;
			}
			if (!cache_read_consistent(tmp, &sc[i])) {
				cache_rec_copy(tmp, &sc[i]);
			}
			cache_rec_copy(&dc[i], tmp);
			free(tmp);
			/* Never trust counts from a torn copy. */
			if (LOAD(dc[i].count) > TGC_CACHE_ADDRS_MAX ||
			    (uint32_t)LOAD(dc[i].soa_owner_len) +
			    LOAD(dc[i].soa_rdata_len) > TGC_CACHE_SOA_MAX) {
				STORE(dc[i].valid, 0);
				STORE(dc[i].count, 0);
				STORE(dc[i].soa_owner_len, 0);
				STORE(dc[i].soa_rdata_len, 0);
			}
		}
	}
}

int tgc_table_view(tgc_table_t *table)
{
	if (table == NULL || table->hdr == NULL || table->seg != NULL ||
	    !table->fd_open || !table->writable) {
		return KNOT_EINVAL;
	}
	struct stat st;
	if (fstat(table->fd, &st) != 0) {
		return errno_to_knot(errno);
	}
	/* Even the count is read under the guard: the segment may have been
	 * truncated since the open. */
	guard_get();
	count_read_t cr = { .hdr = table->hdr };
	if (!guarded(count_read, &cr)) {
		guard_put();
		return KNOT_EFILE;
	}
	uint32_t count = cr.count;
	if (count > TGC_TABLE_NODES_MAX) {
		guard_put();
		return KNOT_EMALF; /* Rewritten since the open validated it. */
	}
	struct tgc_table_seg *seg = calloc(1, sizeof(*seg));
	uint8_t *mem = aligned_alloc(64, (table->size + 63) & ~(size_t)63);
	if (seg != NULL) {
		seg->pub_seq = calloc(count + 1, sizeof(*seg->pub_seq));
		seg->folded = calloc(count + 1, sizeof(*seg->folded));
		seg->adm_in = calloc(count + 1, sizeof(*seg->adm_in));
		seg->adm_out = calloc(count + 1, sizeof(*seg->adm_out));
	}
	if (seg == NULL || mem == NULL || seg->pub_seq == NULL || seg->folded == NULL ||
	    seg->adm_in == NULL || seg->adm_out == NULL) {
		if (seg != NULL) {
			free(seg->pub_seq);
			free(seg->folded);
			free(seg->adm_in);
			free(seg->adm_out);
		}
		free(seg);
		free(mem);
		guard_put();
		return KNOT_ENOMEM;
	}
	memset(mem, 0, table->size);

	view_copy_t arg = { .dst = mem, .src = table->hdr, .size = table->size,
	                    .count = count };
	if (!guarded(view_copy, &arg) || arg.bad) {
		guard_put();
		free(seg->pub_seq);
		free(seg->folded);
		free(seg->adm_in);
		free(seg->adm_out);
		free(seg);
		free(mem);
		return arg.bad ? KNOT_EMALF : KNOT_EFILE;
	}

	seg->hdr = table->hdr;
	seg->size = table->size;
	seg->dev = st.st_dev;
	seg->ino = st.st_ino;
	seg->pub_all = true;
	tgc_node_rec_t *vrecs = (tgc_node_rec_t *)((tgc_table_hdr_t *)mem + 1);
	for (uint32_t i = 0; i < count; i++) {
		seg->folded[i] = LOAD(vrecs[i].answers);
	}
	seg->folded_all_down = LOAD(((tgc_table_hdr_t *)mem)->all_down_answers);

	table->seg = seg;
	table->hdr = (tgc_table_hdr_t *)mem;
	table->nodes = vrecs;
	table->cache = (table->hdr->role == TGC_ROLE_TRANSLATOR) ?
	               (tgc_cache_rec_t *)(mem + table->hdr->cache_off) : NULL;

	return KNOT_EOK;
}

/*! \brief Unmaps the segment behind a view (it stays in /dev/shm). */
static void seg_drop(tgc_table_t *table)
{
	struct tgc_table_seg *seg = table->seg;
	if (seg->hdr != NULL) {
		munmap(seg->hdr, seg->size);
		seg->hdr = NULL;
	}
	if (table->fd_open) {
		close(table->fd);
		table->fd_open = false;
	}
}

/*! \brief Adds the view's all-down answers not yet in the segment. */
static void fold_all_down(tgc_table_t *view)
{
	struct tgc_table_seg *seg = view->seg;
	uint64_t n = LOAD(view->hdr->all_down_answers);
	if (n != seg->folded_all_down) {
		atomic_fetch_add_explicit(&seg->hdr->all_down_answers,
		                          n - seg->folded_all_down,
		                          memory_order_relaxed);
		seg->folded_all_down = n;
	}
}

/*! \brief Adds the view's answer counts not yet folded in (guarded). */
static void fold_run(void *arg)
{
	tgc_table_t *view = arg;
	struct tgc_table_seg *seg = view->seg;
	tgc_node_rec_t *srecs = (tgc_node_rec_t *)(seg->hdr + 1);
	fold_all_down(view);
	for (uint32_t i = 0; i < view->hdr->node_count; i++) {
		uint64_t answers = LOAD(view->nodes[i].answers);
		if (answers != seg->folded[i]) {
			atomic_fetch_add_explicit(&srecs[i].answers,
			                          answers - seg->folded[i],
			                          memory_order_relaxed);
			seg->folded[i] = answers;
		}
	}
}

static const char *seg_check(const tgc_table_t *view);

static void seg_free(tgc_table_t *table)
{
	struct tgc_table_seg *seg = table->seg;
	/* The last answers of an unloading instance still count. */
	if (seg->hdr != NULL && table->fd_open && seg_check(table) == NULL) {
		(void)guarded(fold_run, table);
	}
	seg_drop(table);
	free(seg->pub_seq);
	free(seg->folded);
	free(seg->adm_in);
	free(seg->adm_out);
	free(seg);
	free(table->hdr);
	table->seg = NULL;
	guard_put();
}

/*! \brief The mapping that holds the shared state (segment or plain table). */
static tgc_table_hdr_t *seg_hdr(const tgc_table_t *table)
{
	return (table->seg != NULL) ? table->seg->hdr : table->hdr;
}

/*! \brief Arguments of the guarded claim. */
typedef struct {
	tgc_table_hdr_t *hdr;
	const tgc_table_hdr_t *layout; /*!< Checked header (see unstick_mem()). */
	uint64_t token;
	uint64_t self;
	bool take_dead_token;  /*!< Retake: also replace a token of a gone
	                        *   instance of this process. */
	int ret;
	uint64_t prev;         /*!< Owner before. */
	unsigned closed;
} claim_t;

/*! \brief The claim itself (see tgc_table_claim()). */
static void claim_run(void *arg)
{
	claim_t *c = arg;
	uint64_t owner = atomic_load_explicit(&c->hdr->owner, memory_order_acquire);
	for (;;) {
		c->prev = owner;
		if (owner != 0 && owner != c->self && tgc_table_owner_alive(owner)) {
			c->ret = KNOT_EBUSY;
			return;
		}
		if (owner == c->self ||
		    atomic_compare_exchange_strong_explicit(&c->hdr->owner, &owner,
		                                            c->self,
		                                            memory_order_acq_rel,
		                                            memory_order_acquire)) {
			break;
		}
		/* Another process claimed meanwhile: judge it again. */
	}
	STORE(c->hdr->writer, c->token);
	STORE(c->hdr->writer_pid, (uint64_t)TGC_TABLE_OWNER_PID(c->self));
	/* Open sections of a dead process are closed; those of this process
	 * (the previous instance during a reload) end by themselves. */
	if (c->prev != c->self) {
		c->closed = unstick_mem(c->hdr, c->layout);
	}
	c->ret = KNOT_EOK;
}

int tgc_table_claim(tgc_table_t *table, uint64_t token, unsigned *closed)
{
	if (closed != NULL) {
		*closed = 0;
	}
	if (table == NULL || table->hdr == NULL || token == 0 || !table->writable) {
		return KNOT_EINVAL;
	}
	tgc_table_hdr_t *hdr = seg_hdr(table);
	if (hdr == NULL) {
		return KNOT_EFILE;
	}
	claim_t c = { .hdr = hdr, .layout = table->hdr, .token = token,
	              .self = tgc_table_owner_self() };
	bool ok = (table->seg != NULL) ? guarded(claim_run, &c) :
	                                 (claim_run(&c), true);
	if (!ok) {
		return KNOT_EFILE;
	}
	if (c.ret == KNOT_EBUSY) {
		table->owner_pid = TGC_TABLE_OWNER_PID(c.prev);
		return KNOT_EBUSY;
	}
	token_add(token);
	if (table->seg != NULL) {
		STORE(table->hdr->owner, c.self);
		STORE(table->hdr->writer, token);
		STORE(table->hdr->writer_pid, (uint64_t)TGC_TABLE_OWNER_PID(c.self));
		table->seg->pub_all = true;
	}
	if (closed != NULL) {
		*closed = c.closed;
	}

	return KNOT_EOK;
}

/*! \brief Arguments of the guarded sync. */
typedef struct {
	tgc_table_t *view;
	uint64_t token;
	tgc_table_sync_t *out;
} sync_t;

/*! \brief Decides who writes; retakes from a gone writer (see claim). */
static bool sync_writer(tgc_table_hdr_t *hdr, const tgc_table_hdr_t *layout,
                        uint64_t token, tgc_table_sync_t *out)
{
	uint64_t cur = LOAD(hdr->writer);
	if (cur == token) {
		return true;
	}
	uint64_t self = tgc_table_owner_self();
	uint64_t owner = atomic_load_explicit(&hdr->owner, memory_order_acquire);
	bool gone = (owner == self) ? !token_live(cur) :
	            (owner == 0 || !tgc_table_owner_alive(owner));
	if (!gone) {
		return false;
	}
	claim_t c = { .hdr = hdr, .layout = layout, .token = token, .self = self };
	claim_run(&c);
	if (c.ret != KNOT_EOK) {
		return false;
	}
	out->retaken = true;
	out->gone_pid = TGC_TABLE_OWNER_PID(c.prev);
	out->closed = c.closed;

	return true;
}

/*!
 * \brief Recomputes the effective admin state of every node of a view
 *        (tgc_admin_resolve(): local > zone > auto, min-live guard) and
 *        records a change of state or source inside the record's seqlock.
 *        Checker/poller thread only (the view's one writer).
 */
static void admin_apply(tgc_table_t *view, tgc_admin_in_t *in,
                        tgc_admin_out_t *out)
{
	tgc_table_hdr_t *vh = view->hdr;
	uint32_t count = vh->node_count;
	for (uint32_t i = 0; i < count; i++) {
		tgc_node_rec_t *v = &view->nodes[i];
		uint8_t local = LOAD(v->admin_local);
		uint8_t zone = LOAD(v->admin_zone);
		in[i].health = (tgc_health_t)LOAD(v->health);
		in[i].local = (local <= TGC_ADMIN_DOWN) ? (tgc_admin_t)local : TGC_ADMIN_AUTO;
		in[i].zone = (zone <= TGC_ADMIN_DOWN) ? (tgc_admin_t)zone : TGC_ADMIN_AUTO;
	}
	tgc_admin_resolve(in, out, count, LOAD(vh->min_live));

	uint32_t guarded = 0;
	uint64_t now = tgc_table_now_ms();
	for (uint32_t i = 0; i < count; i++) {
		tgc_node_rec_t *v = &view->nodes[i];
		uint8_t flags = out[i].guarded ? TGC_ADMIN_F_GUARDED : 0;
		guarded += out[i].guarded;
		if (LOAD(v->admin) == out[i].admin &&
		    LOAD(v->admin_src) == out[i].src &&
		    LOAD(v->admin_flags) == flags) {
			continue;
		}
		uint32_t open = seq_begin(&v->seq);
		if (open == 0) {
			continue; /* Not reached: this thread is the view's writer. */
		}
		if (LOAD(v->admin) != out[i].admin || LOAD(v->admin_src) != out[i].src) {
			STORE(v->admin_since_ms, now);
		}
		STORE(v->admin_src, (uint8_t)out[i].src);
		STORE(v->admin_flags, flags);
		/* Workers read this byte alone (relaxed). */
		STORE(v->admin, (uint8_t)out[i].admin);
		seq_end(&v->seq, open);
	}
	STORE(vh->admin_guarded, guarded);
}

/*! \brief The exchange between a view and its segment (guarded). */
static void sync_run(void *arg)
{
	sync_t *a = arg;
	tgc_table_t *view = a->view;
	struct tgc_table_seg *seg = view->seg;
	tgc_table_hdr_t *sh = seg->hdr;
	tgc_table_hdr_t *vh = view->hdr;
	tgc_node_rec_t *srecs = (tgc_node_rec_t *)(sh + 1);
	uint32_t count = vh->node_count;

	/* Admin states stored before this generation are copied below. */
	uint64_t admin_gen = atomic_load_explicit(&sh->generation, memory_order_acquire);
	bool writer = sync_writer(sh, vh, a->token, a->out);
	fold_all_down(view);
	if (writer && !a->out->writer) {
		seg->pub_all = true;
	}
	a->out->writer = writer;
	bool changed = false;

	/* The CLI's admin states in; the effective states follow. */
	for (uint32_t i = 0; i < count; i++) {
		STORE(view->nodes[i].admin_local, LOAD(srecs[i].admin_local));
		STORE(view->nodes[i].admin_uid, LOAD(srecs[i].admin_uid));
	}
	admin_apply(view, seg->adm_in, seg->adm_out);

	for (uint32_t i = 0; i < count; i++) {
		tgc_node_rec_t *v = &view->nodes[i];
		tgc_node_rec_t *s = &srecs[i];
		/* The effective admin state out (the CLI shows it), the
		 * workers' answer counts out. */
		if (writer && LOAD(s->admin) != LOAD(v->admin)) {
			STORE(s->admin, LOAD(v->admin));
		}
		uint64_t answers = LOAD(v->answers);
		if (answers != seg->folded[i]) {
			atomic_fetch_add_explicit(&s->answers, answers - seg->folded[i],
			                          memory_order_relaxed);
			seg->folded[i] = answers;
		}
		uint32_t vseq = LOAD(v->seq);
		if (writer) {
			if (!seg->pub_all && vseq == seg->pub_seq[i]) {
				continue;
			}
			uint32_t open = seq_begin(&s->seq);
			if (open == 0) {
				continue; /* The previous instance ends it: next tick. */
			}
			rec_details_copy(s, v);
			seq_end(&s->seq, open);
			seg->pub_seq[i] = vseq;
			changed = true;
		} else {
			tgc_node_rec_t tmp;
			uint32_t open;
			if (rec_read_consistent(&tmp, s) &&
			    (open = seq_begin(&v->seq)) != 0) {
				rec_details_copy(v, &tmp);
				seq_end(&v->seq, open);
			}
		}
	}

	if (view->cache != NULL) {
		/* The view's checked layout, not the segment's fields. */
		tgc_cache_rec_t *sc = (tgc_cache_rec_t *)((uint8_t *)sh + vh->cache_off);
		for (unsigned i = 0; i < TGC_CACHE_RECS; i++) {
			tgc_cache_rec_t *v = &view->cache[i];
			uint32_t vseq = LOAD(v->seq);
			if (writer) {
				uint32_t open;
				if ((!seg->pub_all && vseq == seg->cache_pub_seq[i]) ||
				    (open = seq_begin(&sc[i].seq)) == 0) {
					continue;
				}
				cache_rec_copy(&sc[i], v);
				seq_end(&sc[i].seq, open);
				seg->cache_pub_seq[i] = vseq;
				changed = true;
			} else {
				tgc_cache_rec_t tmp;
				uint32_t open;
				if (cache_read_consistent(&tmp, &sc[i]) &&
				    LOAD(tmp.count) <= TGC_CACHE_ADDRS_MAX &&
				    (uint32_t)LOAD(tmp.soa_owner_len) +
				    LOAD(tmp.soa_rdata_len) <= TGC_CACHE_SOA_MAX &&
				    (open = seq_begin(&v->seq)) != 0) {
					cache_rec_copy(v, &tmp);
					seq_end(&v->seq, open);
				}
			}
		}
	}

	if (writer) {
		seg->pub_all = false;
		STORE(sh->heartbeat_ms, LOAD(vh->heartbeat_ms));
		STORE(sh->min_live, LOAD(vh->min_live));
		STORE(sh->admin_guarded, LOAD(vh->admin_guarded));
		STORE(sh->zone_serial, LOAD(vh->zone_serial));
		STORE(sh->zone_malformed, LOAD(vh->zone_malformed));
		if (changed) {
			/* Our own bump covers no admin change we missed unless
			 * another one came in between. */
			uint64_t g = atomic_fetch_add_explicit(&sh->generation, 1,
			                                       memory_order_relaxed);
			if (g == admin_gen) {
				admin_gen = g + 1;
			}
		}
		STORE(vh->writer, a->token);
	} else {
		STORE(vh->heartbeat_ms, LOAD(sh->heartbeat_ms));
		STORE(vh->writer, LOAD(sh->writer));
	}
	STORE(vh->generation, LOAD(sh->generation));
	uint64_t acked = atomic_load_explicit(&sh->admin_ack, memory_order_relaxed);
	if (admin_gen > acked) {
		atomic_store_explicit(&sh->admin_ack, admin_gen, memory_order_release);
	}
}

/*! \brief Reason of a segment unlinked under a view. */
#define SEG_REMOVED	"the segment was removed or replaced"

/*! \brief Checks the segment file behind a view; NULL if it is still ours. */
static const char *seg_check(const tgc_table_t *view)
{
	struct stat st;
	if (fstat(view->fd, &st) != 0) {
		return "cannot stat the segment";
	}
	if (st.st_nlink == 0) {
		return SEG_REMOVED;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		return "the segment's owner changed";
	}
	if ((st.st_mode & 0077) != 0) {
		return "the segment became accessible to other users";
	}
	if (st.st_size != (off_t)view->seg->size) {
		return "the segment's size changed";
	}

	return NULL;
}

/*! \brief Arguments of the guarded single-record publish. */
typedef struct {
	tgc_table_t *view;
	uint64_t token;
	uint32_t idx;
} publish_t;

/*! \brief Publishes one record if the token still writes (guarded). */
static void publish_run(void *arg)
{
	publish_t *a = arg;
	struct tgc_table_seg *seg = a->view->seg;
	tgc_table_hdr_t *sh = seg->hdr;
	if (LOAD(sh->writer) != a->token) {
		return;
	}
	tgc_node_rec_t *v = &a->view->nodes[a->idx];
	tgc_node_rec_t *s = &((tgc_node_rec_t *)(sh + 1))[a->idx];
	uint32_t vseq = LOAD(v->seq);
	uint32_t open = seq_begin(&s->seq);
	if (open == 0) {
		return; /* The previous instance ends it; the next sync retries. */
	}
	rec_details_copy(s, v);
	seq_end(&s->seq, open);
	seg->pub_seq[a->idx] = vseq;
	atomic_fetch_add_explicit(&sh->generation, 1, memory_order_relaxed);
}

void tgc_table_publish(tgc_table_t *table, uint64_t token, uint32_t idx)
{
	if (table == NULL || table->seg == NULL || table->seg->hdr == NULL ||
	    idx >= table->hdr->node_count || seg_check(table) != NULL) {
		return;
	}
	publish_t arg = { .view = table, .token = token, .idx = idx };
	(void)guarded(publish_run, &arg);
}

void tgc_table_sync(tgc_table_t *table, uint64_t token, tgc_table_sync_t *out)
{
	tgc_table_sync_t dummy;
	out = (out != NULL) ? out : &dummy;
	bool was_writer = (table != NULL && table->hdr != NULL) &&
	                  LOAD(table->hdr->writer) == token;
	memset(out, 0, sizeof(*out));
	out->writer = was_writer;
	if (table == NULL || table->hdr == NULL || token == 0 || !table->writable) {
		return;
	}
	if (table->seg == NULL) {
		/* A plain mapping: only the retake. */
		out->writer = sync_writer(table->hdr, table->hdr, token, out);
		return;
	}
	if (table->seg->hdr == NULL) {
		/* Segment dropped: this instance goes on with its view alone. */
		out->writer = true;
		STORE(table->hdr->writer, token);
		admin_apply(table, table->seg->adm_in, table->seg->adm_out);
		return;
	}

	const char *why = seg_check(table);
	sync_t arg = { .view = table, .token = token, .out = out };
	if (why == NULL && !guarded(sync_run, &arg)) {
		why = "the segment faulted (truncated)";
	}
	if (why != NULL) {
		seg_drop(table);
		out->dropped = true;
		out->why = why;
		out->removed = (strcmp(why, SEG_REMOVED) == 0);
		out->writer = true;
		STORE(table->hdr->writer, token);
	}
}

int tgc_table_zone_admin(tgc_table_t *view, uint32_t serial, uint32_t malformed,
                         const uint8_t *states,
                         const char (*reasons)[TGC_ADMIN_REASON_MAX])
{
	if (view == NULL || view->hdr == NULL || view->seg == NULL ||
	    states == NULL || reasons == NULL) {
		return KNOT_EINVAL;
	}
	uint32_t count = view->hdr->node_count;
	for (uint32_t i = 0; i < count; i++) {
		tgc_node_rec_t *v = &view->nodes[i];
		uint64_t words[TGC_ADMIN_REASON_MAX / 8] = { 0 };
		memcpy(words, reasons[i], TGC_ADMIN_REASON_MAX);
		((char *)words)[TGC_ADMIN_REASON_MAX - 1] = '\0';
		bool same = LOAD(v->admin_zone) == states[i];
		for (size_t w = 0; same && w < TGC_ADMIN_REASON_MAX / 8; w++) {
			same = LOAD(v->zone_reason[w]) == words[w];
		}
		if (same && (states[i] == TGC_ADMIN_AUTO || LOAD(v->zone_serial) == serial)) {
			continue;
		}
		uint32_t open = seq_begin(&v->seq);
		if (open == 0) {
			return KNOT_EBUSY; /* Not reached: one writer per view. */
		}
		STORE(v->admin_zone, states[i]);
		STORE(v->zone_serial, states[i] == TGC_ADMIN_AUTO ? 0 : serial);
		for (size_t w = 0; w < TGC_ADMIN_REASON_MAX / 8; w++) {
			STORE(v->zone_reason[w], words[w]);
		}
		seq_end(&v->seq, open);
	}
	STORE(view->hdr->zone_serial, serial);
	STORE(view->hdr->zone_malformed, malformed);
	admin_apply(view, view->seg->adm_in, view->seg->adm_out);

	return KNOT_EOK;
}
