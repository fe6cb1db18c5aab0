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
 * \brief What the table files share among themselves (not an API: the
 *        module, the CLI and the tests use module/table.h).
 *
 * - table.c: segment names, sizes, validation, open/attach/close (the
 *   trust decisions on a segment file).
 * - table_rec.c: the record protocol (seqlock write sections, reads of
 *   node and cache records, admin set, forced close of dead writers).
 * - table_owner.c: owner words, writer tokens, claim and retake, the
 *   SIGBUS guard around segment copies.
 * - table_view.c: the private view (copy, sync, publish, zone admin).
 *
 * The shared fields and their memory orders are listed in table.h.
 */

#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "module/admin.h"
#include "module/table.h"

/*! \brief Relaxed atomic load shorthand. */
#define LOAD(x)		atomic_load_explicit(&(x), memory_order_relaxed)
/*! \brief Acquire atomic load shorthand (seqlock readers' field loads). */
#define LOAD_ACQ(x)	atomic_load_explicit(&(x), memory_order_acquire)
/*! \brief Relaxed atomic store shorthand. */
#define STORE(x, v)	atomic_store_explicit(&(x), (v), memory_order_relaxed)

/*! \brief The segment behind a private view (checker/poller thread only). */
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

/*! \brief Converts errno to a KNOT_E* code (table.c). */
int tgc_table_errno(int err);

/*! \brief Builds a tgc_addr_t from a record's raw bytes (table_rec.c). */
void tgc_rec_addr(tgc_addr_t *out, uint8_t family, const uint8_t *bytes);

/*!
 * \brief Opens a write section on \a seq: even s -> s+1 (table_rec.c).
 *
 * \return The odd value of the open section, 0 if another writer is inside.
 */
uint32_t tgc_seq_begin(_Atomic uint32_t *seq);

/*!
 * \brief Closes the write section opened as \a open (odd s+1) by
 *        compare-and-swap to s+2 (table_rec.c). If the record was forced
 *        closed meanwhile (its writer was taken for dead), nothing changes:
 *        an end never makes a sequence number odd, nor closes another
 *        writer's section.
 */
void tgc_seq_end(_Atomic uint32_t *seq, uint32_t open);

/*!
 * \brief Copies the mutable details of a node record, not admin and
 *        answers (table_rec.c; acquire loads of \a src, relaxed stores).
 */
void tgc_rec_details_copy(tgc_node_rec_t *dst, const tgc_node_rec_t *src);

/*!
 * \brief Copies a whole cache record except its sequence number
 *        (table_rec.c; acquire loads of \a src, relaxed stores).
 */
void tgc_cache_rec_copy(tgc_cache_rec_t *dst, const tgc_cache_rec_t *src);

/*!
 * \brief Closes every open record of a mapping whose writer is dead
 *        (table_rec.c).
 *
 * \a layout gives node_count, role and cache_off: the checked copy of the
 * header (a view's), never fields of a segment others can still write.
 *
 * \return Number of records closed.
 */
unsigned tgc_rec_unstick(tgc_table_hdr_t *hdr, const tgc_table_hdr_t *layout);

/*! \brief Installs the SIGBUS guard's handler, one more user (table_owner.c). */
void tgc_seg_guard_get(void);

/*! \brief Removes the SIGBUS guard's handler after its last user. */
void tgc_seg_guard_put(void);

/*!
 * \brief Runs \a fn(arg) with segment faults caught (table_owner.c).
 *
 * \return False if it faulted (it did not finish).
 */
bool tgc_seg_guarded(void (*fn)(void *), void *arg);

/*!
 * \brief Decides whether \a token writes the segment \a hdr; takes it back
 *        from a writer that is gone (table_owner.c, see tgc_table_claim()).
 *
 * \param[in]  layout  Checked header (see tgc_rec_unstick()).
 * \param[out] out     Retake details (retaken, gone_pid, closed).
 */
bool tgc_seg_writer(tgc_table_hdr_t *hdr, const tgc_table_hdr_t *layout,
                    uint64_t token, tgc_table_sync_t *out);

/*! \brief Frees a private view and unmaps its segment (table_view.c). */
void tgc_seg_free(tgc_table_t *table);
