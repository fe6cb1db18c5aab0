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

/*
 * The segment file: names, sizes, validation, and the trust decisions of
 * open (reuse, adopt, replace) and attach. The record protocol is in
 * table_rec.c, ownership and the SIGBUS guard in table_owner.c, the private
 * view in table_view.c.
 */

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libknot/errcode.h>

#include "module/table_int.h"

_Static_assert(sizeof(tgc_table_hdr_t) == 1024, "header layout changed");
_Static_assert(sizeof(tgc_node_rec_t) == 256, "record layout changed");
_Static_assert(sizeof(tgc_cache_rec_t) == 1664, "cache layout changed");
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
               offsetof(tgc_node_rec_t, weight) == 248 &&
               offsetof(tgc_node_rec_t, capacity_x100) == 252,
               "record layout changed");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2 &&
               ATOMIC_CHAR_LOCK_FREE == 2,
               "shared-memory atomics must be lock-free (address-free)");

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

int tgc_table_errno(int err)
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

/*! \brief Tells whether a record describes the given node. */
static bool rec_is_node(const tgc_node_rec_t *rec, const tgc_table_node_t *node)
{
	tgc_addr_t addr;
	tgc_rec_addr(&addr, rec->family, rec->addr);
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
		tgc_rec_addr(&mapped, recs[i].mapped_family, recs[i].mapped);
		if (!rec_is_node(&recs[i], n) || recs[i].tier != n->tier ||
		    recs[i].mapped_family != n->mapped.family ||
		    (n->mapped.family != 0 && !tgc_addr_equal(&mapped, &n->mapped))) {
			return false;
		}
	}

	return true;
}

/*! \brief Copies the state of one record into another (same node). */
static void rec_copy_state(tgc_node_rec_t *dst, const tgc_node_rec_t *src)
{
	tgc_rec_details_copy(dst, src);
	STORE(dst->admin, LOAD(src->admin));
	STORE(dst->admin_local, LOAD(src->admin_local));
	STORE(dst->admin_uid, LOAD(src->admin_uid));
	STORE(dst->answers, LOAD(src->answers));
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
		return tgc_table_errno(errno);
	}
	/* The umask may have cleared bits we want, never set ones we don't. */
	if (fchmod(fd, 0600) != 0 || ftruncate(fd, (off_t)size) != 0) {
		int ret = tgc_table_errno(errno);
		*err = "cannot size the segment";
		close(fd);
		shm_unlink(name);
		return ret;
	}
	void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		int ret = tgc_table_errno(errno);
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
			return tgc_table_errno(errno);
		}
		*origin = TGC_TABLE_CREATED;
		return table_create(table, name, spec, NULL, err);
	}

	struct stat st;
	if (fstat(fd, &st) != 0) {
		int ret = tgc_table_errno(errno);
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
				int ret = tgc_table_errno(errno);
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
		ret = tgc_table_errno(errno);
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
		ret = tgc_table_errno(errno);
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

void tgc_table_close(tgc_table_t *table)
{
	if (table == NULL || table->hdr == NULL) {
		return;
	}
	if (table->seg != NULL) {
		tgc_seg_free(table);
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
		return tgc_table_errno(errno);
	}

	return KNOT_EOK;
}
