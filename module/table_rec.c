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
 * The record protocol: every write of a node or cache record runs inside a
 * write section of the record's seqlock (tgc_seq_begin()/tgc_seq_end());
 * readers load the fields with acquire order between two loads of the
 * sequence number and retry a bounded number of times.
 */

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libknot/errcode.h>

#include "module/table_int.h"

/*! \brief The mutable details of a node record that a seqlock read or a
 *         publish copies, X(field) each; then comes zone_reason (not the admin states set by the CLI, not the
 *         answer counts). */
#define REC_DETAILS(X) \
	X(health) X(last_probe) X(consec_ok) X(consec_fail) X(last_rtt_us) \
	X(last_check_ms) X(since_ms) X(probes) X(transitions) \
	X(probe_start_ms) X(next_due_ms) X(admin_zone) X(admin_src) \
	X(admin_flags) X(zone_serial) X(admin_since_ms) X(agent_sessions) \
	X(agent_maxconn) X(agent_pct) X(agent_state) X(agent_flags) \
	X(agent_errors) X(weight) X(capacity_x100)

/*! \brief The scalar fields of a cache record but its seq, X(field) each;
 *         then come the address and SOA words. */
#define CACHE_FIELDS(X) \
	X(valid) X(rcode) X(count) X(ok) X(ttl) X(soa_owner_len) \
	X(soa_rdata_len) X(fetched_ms) X(polled_ms) X(refreshes) X(failures) \
	X(upstream) X(reported)

/*! \brief Copies field \a f from src to dst: acquire load, relaxed store. */
#define COPY_FIELD(f)	STORE(dst->f, LOAD_ACQ(src->f));

void tgc_rec_addr(tgc_addr_t *out, uint8_t family, const uint8_t *bytes)
{
	memset(out, 0, sizeof(*out));
	if (family == AF_INET || family == AF_INET6) {
		out->family = family;
		out->len = (family == AF_INET) ? 4 : 16;
		memcpy(out->bytes, bytes, out->len);
	}
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

int tgc_table_node_read(const tgc_table_t *table, uint32_t idx,
                        tgc_node_snap_t *out)
{
	memset(out, 0, sizeof(*out));
	if (!rec_ok(table, idx)) {
		return KNOT_EINVAL;
	}
	/* The record is mapped read-only by the CLI: only loads here. */
	tgc_node_rec_t *r = (tgc_node_rec_t *)&table->nodes[idx];

	tgc_rec_addr(&out->addr, r->family, r->addr);
	tgc_rec_addr(&out->mapped, r->mapped_family, r->mapped);
	out->port = r->port;
	out->tier = r->tier;

	/* The fields are copied with acquire loads: the second load of seq
	 * cannot pass them, and a field stored after a writer's release
	 * fence makes its odd seq visible to that second load. */
	tgc_node_rec_t d;
	memset(&d, 0, sizeof(d));
	int ret = KNOT_EOK;
	uint64_t deadline = 0;
	uint32_t last_seq = 0;
	for (unsigned spins = 0; ; spins++) {
		uint32_t s1 = LOAD_ACQ(r->seq);
		if ((s1 & 1u) == 0) {
			tgc_rec_details_copy(&d, r);
			if (LOAD(r->seq) == s1) {
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
				ret = KNOT_EBUSY;
				break;
			}
			sched_yield();
		}
	}
#define SNAP_FIELD(f)	out->f = LOAD(d.f);
	REC_DETAILS(SNAP_FIELD)
#undef SNAP_FIELD
	memcpy(out->zone_reason, d.zone_reason, sizeof(out->zone_reason));
	out->admin = LOAD(r->admin);
	out->admin_local = LOAD(r->admin_local);
	out->admin_uid = LOAD(r->admin_uid);
	out->zone_reason[sizeof(out->zone_reason) - 1] = '\0';
	out->answers = LOAD(r->answers);

	return ret;
}

uint32_t tgc_seq_begin(_Atomic uint32_t *seq)
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

void tgc_seq_end(_Atomic uint32_t *seq, uint32_t open)
{
	(void)atomic_compare_exchange_strong_explicit(seq, &open, open + 1,
	                                              memory_order_release,
	                                              memory_order_relaxed);
}

uint32_t tgc_table_write_begin(tgc_node_rec_t *rec)
{
	return tgc_seq_begin(&rec->seq);
}

void tgc_table_write_end(tgc_table_t *table, tgc_node_rec_t *rec)
{
	/* The section's odd value is the current one unless the record was
	 * forced closed, which happens only after its writer process died. */
	uint32_t open = atomic_load_explicit(&rec->seq, memory_order_relaxed);
	if ((open & 1u) != 0) {
		tgc_seq_end(&rec->seq, open);
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
	uint32_t open = tgc_seq_begin(&rec->seq);
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
	if (u->what & TGC_NODE_UPD_CAPACITY) {
		STORE(rec->weight, u->weight);
		STORE(rec->capacity_x100, u->capacity_x100);
	}
	tgc_seq_end(&rec->seq, open);
	atomic_fetch_add_explicit(&table->hdr->generation, 1, memory_order_relaxed);

	return true;
}

bool tgc_table_node_reset(tgc_table_t *table, uint32_t idx)
{
	if (table == NULL || table->hdr == NULL || idx >= table->hdr->node_count) {
		return false;
	}
	tgc_node_rec_t *rec = &table->nodes[idx];
	uint32_t open = tgc_seq_begin(&rec->seq);
	if (open == 0) {
		return false;
	}
	STORE(rec->health, (uint8_t)TGC_HEALTH_UNKNOWN);
	STORE(rec->consec_ok, 0);
	STORE(rec->consec_fail, 0);
	STORE(rec->probe_start_ms, 0);
	STORE(rec->next_due_ms, 0);
	tgc_seq_end(&rec->seq, open);
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

unsigned tgc_rec_unstick(tgc_table_hdr_t *hdr, const tgc_table_hdr_t *layout)
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

	return tgc_rec_unstick(table->hdr, table->hdr);
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

/*! \brief Names of the health states, by value. */
static const char *health_names[] = {
	[TGC_HEALTH_UNKNOWN] = "unknown",
	[TGC_HEALTH_UP] = "up",
	[TGC_HEALTH_DOWN] = "down",
};

const char *tgc_table_health_str(tgc_health_t health)
{
	return ((unsigned)health <= TGC_HEALTH_DOWN) ? health_names[health] : "invalid";
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

	/* Acquire loads of the fields, as in tgc_table_node_read(). */
	for (unsigned spins = 0; ; spins++) {
		uint32_t s1 = LOAD_ACQ(c->seq);
		if ((s1 & 1u) == 0) {
			out->valid = LOAD_ACQ(c->valid) != 0;
			out->ok = LOAD_ACQ(c->ok) != 0;
			out->rcode = LOAD_ACQ(c->rcode);
			out->count = LOAD_ACQ(c->count);
			out->ttl = LOAD_ACQ(c->ttl);
			out->upstream = LOAD_ACQ(c->upstream);
			out->fetched_ms = LOAD_ACQ(c->fetched_ms);
			out->polled_ms = LOAD_ACQ(c->polled_ms);
			out->refreshes = LOAD_ACQ(c->refreshes);
			out->failures = LOAD_ACQ(c->failures);
			out->soa_owner_len = LOAD_ACQ(c->soa_owner_len);
			out->soa_rdata_len = LOAD_ACQ(c->soa_rdata_len);
			if (out->count > TGC_CACHE_ADDRS_MAX) {
				out->count = 0; /* Torn read, retried below. */
			}
			int family = (idx == TGC_CACHE_A) ? AF_INET : AF_INET6;
			for (unsigned i = 0; i < out->count; i++) {
				uint64_t w[2] = { LOAD_ACQ(c->addrs[2 * i]),
				                  LOAD_ACQ(c->addrs[2 * i + 1]) };
				tgc_addr_t *a = &out->addrs[i];
				a->family = family;
				a->len = (family == AF_INET) ? 4 : 16;
				memcpy(a->bytes, w, sizeof(w));
				uint64_t l = LOAD_ACQ(c->load[i]);
				out->sessions[i] = (uint32_t)(l >> 32);
				out->capacity_x100[i] = (uint32_t)l;
				uint64_t sl = LOAD_ACQ(c->slots[i / 8]);
				out->slot[i] = (uint8_t)(sl >> (8 * (i % 8)));
			}
			out->reported = LOAD_ACQ(c->reported) != 0;
			size_t soa_len = (size_t)out->soa_owner_len + out->soa_rdata_len;
			if (soa_len > TGC_CACHE_SOA_MAX) {
				soa_len = 0;
			}
			for (size_t i = 0; with_soa && i < (soa_len + 7) / 8; i++) {
				uint64_t w = LOAD_ACQ(c->soa[i]);
				memcpy(out->soa + 8 * i, &w, sizeof(w));
			}
			if (LOAD(c->seq) == s1) {
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

	uint32_t open = tgc_seq_begin(&c->seq);
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
			STORE(c->load[i], (uint64_t)snap->sessions[i] << 32 |
			                  snap->capacity_x100[i]);
		}
		uint64_t sl[TGC_CACHE_ADDRS_MAX / 8] = { 0 };
		for (unsigned i = 0; i < snap->count; i++) {
			sl[i / 8] |= (uint64_t)snap->slot[i] << (8 * (i % 8));
		}
		for (unsigned i = 0; i < TGC_CACHE_ADDRS_MAX / 8; i++) {
			STORE(c->slots[i], sl[i]);
		}
		STORE(c->reported, snap->reported ? 1 : 0);
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

	tgc_seq_end(&c->seq, open);
	atomic_fetch_add_explicit(&table->hdr->generation, 1, memory_order_relaxed);

	return KNOT_EOK;
}

/*! \brief Copy of 64-bit words (seqlock-protected areas): acquire loads,
 *         relaxed stores. */
static void words_copy(void *dst, const void *src, size_t len)
{
	_Atomic uint64_t *d = dst;
	_Atomic uint64_t *s = (_Atomic uint64_t *)src;
	for (size_t i = 0; i < len / 8; i++) {
		STORE(d[i], LOAD_ACQ(s[i]));
	}
}

void tgc_rec_details_copy(tgc_node_rec_t *dst, const tgc_node_rec_t *src_c)
{
	tgc_node_rec_t *src = (tgc_node_rec_t *)src_c;
	REC_DETAILS(COPY_FIELD)
	words_copy(dst->zone_reason, src->zone_reason, sizeof(src->zone_reason));
}

void tgc_cache_rec_copy(tgc_cache_rec_t *dst, const tgc_cache_rec_t *src_c)
{
	tgc_cache_rec_t *src = (tgc_cache_rec_t *)src_c;
	CACHE_FIELDS(COPY_FIELD)
	words_copy(dst->addrs, src->addrs, sizeof(src->addrs));
	words_copy(dst->soa, src->soa, sizeof(src->soa));
	words_copy(dst->load, src->load, sizeof(src->load));
	words_copy(dst->slots, src->slots, sizeof(src->slots));
}
