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
 * The private view: a heap copy of the segment that the query workers read.
 * Only the instance's checker or poller thread touches the segment behind
 * it, in tgc_table_claim() (table_owner.c), tgc_table_sync() and
 * tgc_table_publish(), under the SIGBUS guard and after checking the file.
 */

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libknot/errcode.h>

#include "module/table_int.h"

/*! \brief tgc_rec_details_copy() for read_consistent(). */
static void rec_copy_fn(void *dst, const void *src)
{
	tgc_rec_details_copy(dst, src);
}

/*! \brief tgc_cache_rec_copy() for read_consistent(). */
static void cache_copy_fn(void *dst, const void *src)
{
	tgc_cache_rec_copy(dst, src);
}

/*!
 * \brief Reads a node or cache record of another writer into \a tmp: runs
 *        \a copy from \a src while the record's sequence number \a seq is
 *        even and the same before and after, at most TGC_TABLE_READ_TRIES
 *        times. \a copy loads with acquire order, so the second load of
 *        \a seq cannot pass its loads.
 *
 * \return False if every try met a writer.
 */
static bool read_consistent(const _Atomic uint32_t *seq,
                            void (*copy)(void *, const void *),
                            void *tmp, const void *src)
{
	for (unsigned i = 0; i < TGC_TABLE_READ_TRIES; i++) {
		uint32_t s1 = atomic_load_explicit(seq, memory_order_acquire);
		if ((s1 & 1u) != 0) {
			continue;
		}
		copy(tmp, src);
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
		if (!read_consistent(&sr[i].seq, rec_copy_fn, &tmp, &sr[i])) {
			tgc_rec_details_copy(&tmp, &sr[i]);
		}
		tgc_rec_details_copy(&dr[i], &tmp);
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
			if (!read_consistent(&sc[i].seq, cache_copy_fn, tmp, &sc[i])) {
				tgc_cache_rec_copy(tmp, &sc[i]);
			}
			tgc_cache_rec_copy(&dc[i], tmp);
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

/*! \brief Frees the per-node arrays of \a seg and \a seg (NULL: nothing). */
static void seg_mem_free(struct tgc_table_seg *seg)
{
	if (seg == NULL) {
		return;
	}
	free(seg->pub_seq);
	free(seg->folded);
	free(seg->adm_in);
	free(seg->adm_out);
	free(seg);
}

int tgc_table_view(tgc_table_t *table)
{
	if (table == NULL || table->hdr == NULL || table->seg != NULL ||
	    !table->fd_open || !table->writable) {
		return KNOT_EINVAL;
	}
	struct stat st;
	if (fstat(table->fd, &st) != 0) {
		return tgc_table_errno(errno);
	}
	/* Even the count is read under the guard: the segment may have been
	 * truncated since the open. */
	tgc_seg_guard_get();
	count_read_t cr = { .hdr = table->hdr };
	if (!tgc_seg_guarded(count_read, &cr)) {
		tgc_seg_guard_put();
		return KNOT_EFILE;
	}
	uint32_t count = cr.count;
	if (count > TGC_TABLE_NODES_MAX) {
		tgc_seg_guard_put();
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
		seg_mem_free(seg);
		free(mem);
		tgc_seg_guard_put();
		return KNOT_ENOMEM;
	}
	memset(mem, 0, table->size);

	view_copy_t arg = { .dst = mem, .src = table->hdr, .size = table->size,
	                    .count = count };
	if (!tgc_seg_guarded(view_copy, &arg) || arg.bad) {
		tgc_seg_guard_put();
		seg_mem_free(seg);
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

void tgc_seg_free(tgc_table_t *table)
{
	struct tgc_table_seg *seg = table->seg;
	/* The last answers of an unloading instance still count. */
	if (seg->hdr != NULL && table->fd_open && seg_check(table) == NULL) {
		(void)tgc_seg_guarded(fold_run, table);
	}
	seg_drop(table);
	seg_mem_free(seg);
	free(table->hdr);
	table->seg = NULL;
	tgc_seg_guard_put();
}

/*! \brief Arguments of the guarded sync. */
typedef struct {
	tgc_table_t *view;
	uint64_t token;
	tgc_table_sync_t *out;
} sync_t;

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
		uint32_t open = tgc_seq_begin(&v->seq);
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
		tgc_seq_end(&v->seq, open);
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
	bool writer = tgc_seg_writer(sh, vh, a->token, a->out);
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
			uint32_t open = tgc_seq_begin(&s->seq);
			if (open == 0) {
				continue; /* The previous instance ends it: next tick. */
			}
			tgc_rec_details_copy(s, v);
			tgc_seq_end(&s->seq, open);
			seg->pub_seq[i] = vseq;
			changed = true;
		} else {
			tgc_node_rec_t tmp;
			uint32_t open;
			if (read_consistent(&s->seq, rec_copy_fn, &tmp, s) &&
			    (open = tgc_seq_begin(&v->seq)) != 0) {
				tgc_rec_details_copy(v, &tmp);
				tgc_seq_end(&v->seq, open);
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
				    (open = tgc_seq_begin(&sc[i].seq)) == 0) {
					continue;
				}
				tgc_cache_rec_copy(&sc[i], v);
				tgc_seq_end(&sc[i].seq, open);
				seg->cache_pub_seq[i] = vseq;
				changed = true;
			} else {
				tgc_cache_rec_t tmp;
				uint32_t open;
				if (read_consistent(&sc[i].seq, cache_copy_fn, &tmp, &sc[i]) &&
				    LOAD(tmp.count) <= TGC_CACHE_ADDRS_MAX &&
				    (uint32_t)LOAD(tmp.soa_owner_len) +
				    LOAD(tmp.soa_rdata_len) <= TGC_CACHE_SOA_MAX &&
				    (open = tgc_seq_begin(&v->seq)) != 0) {
					tgc_cache_rec_copy(v, &tmp);
					tgc_seq_end(&v->seq, open);
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
	uint32_t open = tgc_seq_begin(&s->seq);
	if (open == 0) {
		return; /* The previous instance ends it; the next sync retries. */
	}
	tgc_rec_details_copy(s, v);
	tgc_seq_end(&s->seq, open);
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
	(void)tgc_seg_guarded(publish_run, &arg);
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
		out->writer = tgc_seg_writer(table->hdr, table->hdr, token, out);
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
	if (why == NULL && !tgc_seg_guarded(sync_run, &arg)) {
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
		uint32_t open = tgc_seq_begin(&v->seq);
		if (open == 0) {
			return KNOT_EBUSY; /* Not reached: one writer per view. */
		}
		STORE(v->admin_zone, states[i]);
		STORE(v->zone_serial, states[i] == TGC_ADMIN_AUTO ? 0 : serial);
		for (size_t w = 0; w < TGC_ADMIN_REASON_MAX / 8; w++) {
			STORE(v->zone_reason[w], words[w]);
		}
		tgc_seq_end(&v->seq, open);
	}
	STORE(view->hdr->zone_serial, serial);
	STORE(view->hdr->zone_malformed, malformed);
	admin_apply(view, view->seg->adm_in, view->seg->adm_out);

	return KNOT_EOK;
}
