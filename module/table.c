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
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libknot/errcode.h>

#include "module/table.h"

_Static_assert(sizeof(tgc_table_hdr_t) == 1024, "header layout changed");
_Static_assert(sizeof(tgc_node_rec_t) == 128, "record layout changed");
_Static_assert(sizeof(tgc_cache_rec_t) == 1376, "cache layout changed");
_Static_assert(offsetof(tgc_table_hdr_t, cache_off) == 672,
               "header layout changed");
_Static_assert(offsetof(tgc_cache_rec_t, addrs) == 64, "cache layout changed");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2 &&
               ATOMIC_CHAR_LOCK_FREE == 2,
               "shared-memory atomics must be lock-free (address-free)");

/*! \brief Relaxed atomic load shorthand. */
#define LOAD(x)		atomic_load_explicit(&(x), memory_order_relaxed)
/*! \brief Relaxed atomic store shorthand. */
#define STORE(x, v)	atomic_store_explicit(&(x), (v), memory_order_relaxed)

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
	}

	return KNOT_EOK;
}

/*! \brief Fills a table structure from a mapping. */
static void table_set(tgc_table_t *table, void *mem, size_t size, bool writable,
                      const char *name)
{
	table->hdr = mem;
	table->nodes = (tgc_node_rec_t *)(table->hdr + 1);
	table->cache = (table->hdr->role == TGC_ROLE_TRANSLATOR) ?
	               (tgc_cache_rec_t *)((uint8_t *)mem + table->hdr->cache_off) :
	               NULL;
	table->size = size;
	table->writable = writable;
	size_t len = strnlen(name, sizeof(table->name) - 1);
	memcpy(table->name, name, len);
	table->name[len] = '\0';
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
		if (!rec_is_node(&recs[i], n) ||
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
	STORE(dst->health, LOAD(src->health));
	STORE(dst->admin, LOAD(src->admin));
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
	close(fd);
	if (mem == MAP_FAILED) {
		int ret = errno_to_knot(errno);
		*err = "cannot map the segment";
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

	void *mem = MAP_FAILED;
	if ((st.st_mode & 0077) == 0 && st.st_size >= (off_t)sizeof(tgc_table_hdr_t) &&
	    st.st_size <= (off_t)table_size_max()) {
		mem = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
		           MAP_SHARED, fd, 0);
	}
	close(fd);

	const char *why = "bad mode or size";
	if (mem != MAP_FAILED &&
	    tgc_table_validate(mem, (size_t)st.st_size, &why) == KNOT_EOK) {
		if (same_spec(mem, spec)) {
			*origin = TGC_TABLE_REUSED;
			table_set(table, mem, (size_t)st.st_size, true, name);
			return KNOT_EOK;
		}
		/* Other nodes: a new segment under the same name. A previous
		 * instance that still maps the old one keeps a valid mapping. */
		*origin = TGC_TABLE_ADOPTED;
		(void)shm_unlink(name);
		int ret = table_create(table, name, spec, mem, err);
		munmap(mem, (size_t)st.st_size);
		return ret;
	}

	/* Ours but not trustworthy: never use its contents. */
	if (mem != MAP_FAILED) {
		munmap(mem, (size_t)st.st_size);
	}
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

	return KNOT_EOK;
}

void tgc_table_close(tgc_table_t *table)
{
	if (table == NULL || table->hdr == NULL) {
		return;
	}
	munmap(table->hdr, table->size);
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

void tgc_table_node_read(const tgc_table_t *table, uint32_t idx,
                         tgc_node_snap_t *out)
{
	memset(out, 0, sizeof(*out));
	if (table == NULL || table->hdr == NULL || idx >= table->hdr->node_count) {
		return;
	}
	/* The record is mapped read-only by the CLI: only loads here. */
	tgc_node_rec_t *r = (tgc_node_rec_t *)&table->nodes[idx];

	rec_addr(&out->addr, r->family, r->addr);
	rec_addr(&out->mapped, r->mapped_family, r->mapped);
	out->port = r->port;

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
			atomic_thread_fence(memory_order_acquire);
			uint32_t s2 = atomic_load_explicit(&r->seq, memory_order_relaxed);
			if (s1 == s2) {
				break;
			}
		}
		/* A writer that died inside its section (it cannot, short of
		 * a crash of knotd) must not hang the reader: give up on the
		 * consistency of the details after many tries. */
		if (spins > 100000) {
			break;
		}
		if (spins > 100) {
			sched_yield();
		}
	}
	out->admin = LOAD(r->admin);
	out->answers = LOAD(r->answers);
}

bool tgc_table_write_begin(tgc_node_rec_t *rec)
{
	uint32_t s = atomic_load_explicit(&rec->seq, memory_order_relaxed);
	if ((s & 1u) != 0) {
		return false;
	}
	if (!atomic_compare_exchange_strong_explicit(&rec->seq, &s, s + 1,
	                                             memory_order_acquire,
	                                             memory_order_relaxed)) {
		return false;
	}
	/* Keep the field stores below after the odd sequence number. */
	atomic_thread_fence(memory_order_release);

	return true;
}

void tgc_table_write_end(tgc_table_t *table, tgc_node_rec_t *rec)
{
	atomic_fetch_add_explicit(&rec->seq, 1, memory_order_release);
	if (table != NULL && table->hdr != NULL) {
		atomic_fetch_add_explicit(&table->hdr->generation, 1,
		                          memory_order_release);
	}
}

unsigned tgc_table_unstick(tgc_table_t *table, unsigned wait_ms)
{
	if (table == NULL || table->hdr == NULL || !table->writable) {
		return 0;
	}
	uint64_t deadline = tgc_table_now_ms() + wait_ms;
	unsigned closed = 0;
	for (uint32_t i = 0; i < table->hdr->node_count; i++) {
		_Atomic uint32_t *seq = &table->nodes[i].seq;
		uint32_t s = atomic_load_explicit(seq, memory_order_acquire);
		/* A live writer leaves its section within microseconds. */
		while ((s & 1u) != 0 && tgc_table_now_ms() < deadline) {
			sched_yield();
			s = atomic_load_explicit(seq, memory_order_acquire);
		}
		if ((s & 1u) != 0 &&
		    atomic_compare_exchange_strong_explicit(seq, &s, s + 1,
		                                            memory_order_acq_rel,
		                                            memory_order_relaxed)) {
			closed++;
		}
	}

	return closed;
}

int tgc_table_admin_set(tgc_table_t *table, uint32_t idx, tgc_admin_t admin)
{
	if (table == NULL || table->hdr == NULL || idx >= table->hdr->node_count ||
	    (unsigned)admin > TGC_ADMIN_DOWN) {
		return KNOT_EINVAL;
	}
	if (!table->writable) {
		return KNOT_EACCES;
	}
	atomic_store_explicit(&table->nodes[idx].admin, (uint8_t)admin,
	                      memory_order_release);
	atomic_fetch_add_explicit(&table->hdr->generation, 1, memory_order_release);

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
		if (spins > 100000) {
			memset(out, 0, sizeof(*out));
			return KNOT_EBUSY;
		}
		if (spins > 100) {
			sched_yield();
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

	uint32_t s = atomic_load_explicit(&c->seq, memory_order_relaxed);
	if ((s & 1u) != 0 ||
	    !atomic_compare_exchange_strong_explicit(&c->seq, &s, s + 1,
	                                             memory_order_acquire,
	                                             memory_order_relaxed)) {
		return KNOT_EBUSY;
	}
	atomic_thread_fence(memory_order_release);

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

	atomic_fetch_add_explicit(&c->seq, 1, memory_order_release);
	atomic_fetch_add_explicit(&table->hdr->generation, 1, memory_order_release);

	return KNOT_EOK;
}
