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
 * \brief The live-node table in POSIX shared memory.
 *
 * One segment per module instance: a fixed header followed by node_count
 * fixed-size node records. The layout is the contract between the module
 * (knotd workers and the checker thread) and tgclusterctl.
 *
 * Translator segments (role TGC_ROLE_TRANSLATOR, same layout version as
 * load-balancer segments) describe the upstream
 * addresses in the node records (address, DNS port; health = upstream state
 * as the poller last saw it, probes/last_* = its queries, answers = queries
 * forwarded on demand) and are followed, at header cache_off, by
 * TGC_CACHE_RECS cache records (A, AAAA) holding the polled answer for the
 * cluster name. In load-balancer segments the cache fields are zero and no
 * cache follows the records.
 *
 * Two kinds of tables share this layout:
 *  - the segment itself, mapped by tgclusterctl (tgc_table_attach()) and by
 *    tgc_table_open();
 *  - a module instance's private view (tgc_table_view()): a heap copy of the
 *    segment that knotd's query workers read. Only the instance's checker or
 *    poller thread touches the segment behind it, in tgc_table_claim() and
 *    tgc_table_sync(), which copy records in and out under a SIGBUS guard
 *    after checking the file (owner, mode, size, links). A segment that is
 *    truncated, re-moded or removed under knotd is dropped; the view keeps
 *    answering. Query workers therefore never read a mapping that can shrink
 *    and never wait for a writer outside their own process.
 *
 * The code: table.c (names, validation, open and attach), table_rec.c (the
 * record protocol), table_owner.c (owner words, writer tokens, claim, the
 * SIGBUS guard), table_view.c (the private view); table_int.h holds what
 * they share.
 *
 * Record protocol (one place: table_rec.c): a write section opens by
 * compare-and-swap of an even \a seq s to s+1 (tgc_table_write_begin()) and
 * closes by compare-and-swap of the odd value back to even
 * (tgc_table_write_end()), so a late end after a forced close never reopens
 * a record. Records are forced closed only when the process owning the
 * segment is gone (tgc_table_claim(), tgc_table_sync()). Readers load the
 * fields with acquire order between two loads of \a seq, retry a bounded
 * number of times and then report the record busy. Every record write goes
 * through table_rec.c: probe and poll results through
 * tgc_table_node_update(), the load-time reset through
 * tgc_table_node_reset(), admin changes through tgc_table_admin_set(),
 * cache records through tgc_table_cache_write(), and the copies between a
 * view and its segment through tgc_table_sync() and tgc_table_publish().
 *
 * Shared fields (W = writers, R = readers, order):
 *
 * | field | W | R | order |
 * |---|---|---|---|
 * | header above \a writer, record address/port/mapped | creator (before magic) | all | magic: release store / acquire load |
 * | hdr \a owner | claim, sync (retake) | claim, sync, CLI | CAS acq_rel / acquire |
 * | hdr \a writer (token) | claim, sync (retake) | sync; checker/poller on the view | relaxed (the view copies it) |
 * | hdr \a writer_pid | claim, sync (retake) | CLI | relaxed (informational) |
 * | hdr \a generation | write_end, sync (relaxed); admin_set (release, after the admin store) | sync (acquire, before it copies admin states); CLI | see W/R |
 * | hdr \a admin_ack | sync (release) | CLI after admin_set (acquire) | release/acquire |
 * | hdr \a heartbeat_ms | checker/poller (view), sync (segment) | workers (view), CLI | relaxed |
 * | rec \a seq | write_begin/end, unstick | node/cache readers | CAS acquire, release fence / CAS release; readers acquire, then relaxed after the field loads |
 * | rec \a health | checker (view, inside seq), sync | workers (view), CLI | relaxed (single byte, read alone); acquire inside a seqlock read |
 * | rec probe details | checker/poller inside seq, sync | node_read, sync | relaxed stores inside seq / acquire loads |
 * | rec weight, capacity_x100 (bytes 248..255) | checker (view, inside seq, tgc_table_node_update() TGC_NODE_UPD_CAPACITY), sync (segment) | node_read, sync, CLI | relaxed stores inside seq / acquire loads |
 * | rec agent fields (bytes 232..247) | checker (view, inside seq, tgc_table_node_update() TGC_NODE_UPD_AGENT), sync (segment) | node_read, sync, CLI (acquire loads inside seq); workers: agent_state, agent_sessions, agent_maxconn, agent_pct alone (tgc_table_agent_read(), relaxed) | relaxed stores inside seq / acquire loads |
 * | rec \a admin (effective) | sync (view, then segment); CLI (segment, until the next sync) | workers (view), checker, CLI | relaxed (single byte) |
 * | rec \a admin_local, \a admin_uid | CLI (segment), sync (view) | sync, checker, CLI | relaxed |
 * | rec admin_zone, zone_serial, zone_reason, admin_src/flags/since | checker (view, inside seq), sync (segment) | sync, CLI | relaxed stores inside seq / acquire loads |
 * | hdr min_live, admin_guarded, zone_serial, zone_malformed | load/checker (view), sync (segment) | CLI | relaxed |
 * | rec \a answers, hdr \a all_down_answers | workers (view, relaxed add), sync (segment, add of the delta) | CLI, sync | relaxed |
 * | cache record fields | poller (view) inside seq, sync (segment) | workers (view), CLI | relaxed stores inside seq / acquire loads |
 *
 * Readers never block; a worker's read of the view meets only its own
 * process's writer, and gives up after TGC_TABLE_READ_TRIES tries.
 */

#pragma once

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "module/addr.h"

#include "module/table_layout.h"

/*! \brief A consistent copy of one cache record. */
typedef struct {
	bool valid;          /*!< A good answer was ever stored. */
	bool ok;             /*!< The last poll succeeded. */
	uint8_t rcode;       /*!< RCODE of the answer. */
	uint8_t count;       /*!< Number of addresses. */
	uint32_t ttl;        /*!< TTL of the answer. */
	uint32_t upstream;   /*!< Upstream record index. */
	uint64_t fetched_ms; /*!< When it was received. */
	uint64_t polled_ms;  /*!< End of the last poll. */
	uint64_t refreshes;  /*!< Good polls. */
	uint64_t failures;   /*!< Failed polls. */
	tgc_addr_t addrs[TGC_CACHE_ADDRS_MAX]; /*!< Addresses in answer order. */
	uint16_t soa_owner_len; /*!< SOA owner length (0 = no SOA). */
	uint16_t soa_rdata_len; /*!< SOA rdata length. */
	uint8_t soa[TGC_CACHE_SOA_MAX]; /*!< SOA owner then rdata (only read
	                                 *   when asked for). */
	bool reported;       /*!< The upstream sent a load report. */
	uint32_t sessions[TGC_CACHE_ADDRS_MAX];  /*!< Per address (reported). */
	uint32_t capacity_x100[TGC_CACHE_ADDRS_MAX]; /*!< Per address
	                                 *   (reported; 100 when not). */
	uint8_t slot[TGC_CACHE_ADDRS_MAX]; /*!< Per address: grant slot. */
} tgc_cache_snap_t;

/*! \brief A consistent copy of one node record. */
typedef struct {
	tgc_addr_t addr;      /*!< Node address. */
	tgc_addr_t mapped;    /*!< Mapped address (family 0 if none). */
	uint16_t port;        /*!< Check port. */
	uint8_t tier;         /*!< 0 = primary, 1 = backup. */
	tgc_health_t health;  /*!< Health state. */
	tgc_admin_t admin;    /*!< Admin state. */
	tgc_probe_t last_probe; /*!< Last probe outcome. */
	uint32_t consec_ok;   /*!< Consecutive successes. */
	uint32_t consec_fail; /*!< Consecutive failures. */
	uint32_t last_rtt_us; /*!< Last probe duration. */
	uint64_t last_check_ms; /*!< Last probe time. */
	uint64_t since_ms;    /*!< Last health change. */
	uint64_t probes;      /*!< Probes done. */
	uint64_t transitions; /*!< Health changes. */
	uint64_t answers;     /*!< Answers served. */
	tgc_admin_t admin_local; /*!< Admin state set locally. */
	tgc_admin_t admin_zone;  /*!< Admin state from the zone. */
	tgc_admin_src_t admin_src; /*!< Source of \a admin. */
	uint8_t admin_flags;  /*!< TGC_ADMIN_F_*. */
	uint32_t zone_serial; /*!< Serial of the zone record applied. */
	uint32_t admin_uid;   /*!< User of the last local change. */
	uint64_t admin_since_ms; /*!< Since when \a admin holds. */
	char zone_reason[TGC_ADMIN_REASON_MAX]; /*!< Reason of the zone record. */
	uint64_t probe_start_ms; /*!< Start of the probe in flight (0 = none). */
	uint64_t next_due_ms; /*!< Next probe due (0 = never scheduled). */
	uint32_t agent_sessions; /*!< Agent: sessions (see the record). */
	uint32_t agent_maxconn;  /*!< Agent: maxconn. */
	uint16_t agent_pct;      /*!< Agent: weight percentage. */
	uint8_t agent_state;     /*!< Agent: TGC_AGENT_DOWN/DRAIN/MAINT bits. */
	uint8_t agent_flags;     /*!< Agent: TGC_AGENT_F_* bits. */
	uint32_t agent_errors;   /*!< Agent: polls without a usable line. */
	uint32_t weight;         /*!< node-weight (see the record). */
	uint32_t capacity_x100;  /*!< Effective capacity in hundredths. */
} tgc_node_snap_t;

/*! \brief Immutable description of a node, used to create a segment. */
typedef struct {
	tgc_addr_t addr;   /*!< Node address. */
	uint16_t port;     /*!< Check port. */
	tgc_addr_t mapped; /*!< Mapped address (family 0 if none). */
	uint8_t tier;      /*!< 0 = primary, 1 = backup. */
} tgc_table_node_t;

/*! \brief What an instance needs its segment to hold. */
typedef struct {
	tgc_role_t role;               /*!< Role. */
	const char *zone;              /*!< Zone text ("" if global). */
	const char *instance;          /*!< Section id. */
	const char *name;              /*!< Cluster name text. */
	const tgc_table_node_t *nodes; /*!< Nodes in configuration order. */
	uint32_t node_count;           /*!< Number of nodes. */
	uint32_t check;                /*!< Informational header fields. */
	uint32_t interval_ms;          /*!< Informational. */
	uint32_t timeout_ms;           /*!< Informational. */
	uint32_t rise;                 /*!< Informational. */
	uint32_t fall;                 /*!< Informational. */
	uint32_t stale_limit_s;        /*!< Informational (translator). */
} tgc_table_spec_t;

/*! \brief How tgc_table_open() got its segment. */
typedef enum {
	TGC_TABLE_CREATED  = 0, /*!< No segment existed: new one. */
	TGC_TABLE_REUSED   = 1, /*!< Same nodes: mapped as is, states kept. */
	TGC_TABLE_ADOPTED  = 2, /*!< Different nodes: new segment, states of
	                         *   nodes with the same address/port copied. */
	TGC_TABLE_REPLACED = 3, /*!< Invalid segment of ours: recreated. */
} tgc_table_origin_t;

/*! \brief A mapped segment. */
typedef struct {
	tgc_table_hdr_t *hdr;   /*!< Header (NULL if not mapped). */
	tgc_node_rec_t *nodes;  /*!< Node records. */
	tgc_cache_rec_t *cache; /*!< Cache records (translator), else NULL. */
	size_t size;            /*!< Mapped size. */
	bool writable;          /*!< Mapped read-write. */
	char name[TGC_TABLE_NAME_MAX + 1]; /*!< Segment name ("/tgcluster..."). */
	int fd;                 /*!< Segment descriptor kept by tgc_table_open()
	                         *   (valid if fd_open). */
	bool fd_open;           /*!< \a fd is open. */
	uid_t file_uid;         /*!< Owner of the segment file when mapped. */
	pid_t owner_pid;        /*!< tgc_table_open()/claim() refused with
	                         *   KNOT_EBUSY: the live process owning it. */
	struct tgc_table_seg *seg; /*!< Private view: the segment behind it
	                            *   (opaque; NULL for a plain mapping). */
} tgc_table_t;

/*! \brief Most tries of a reader before it reports a record busy (each try
 *         a few dozen ns; the whole bound stays far below 50 us). */
#define TGC_TABLE_READ_TRIES	256

/*! \brief What tgc_table_sync() did, for the caller to log. */
typedef struct {
	bool writer;          /*!< This instance writes the segment now. */
	bool retaken;         /*!< It took the segment back from a process that
	                       *   is gone (\a gone_pid). */
	pid_t gone_pid;       /*!< That process. */
	unsigned closed;      /*!< Records closed after the dead writer. */
	bool dropped;         /*!< The segment failed its check this time and
	                       *   is no longer used (\a why). */
	const char *why;      /*!< Static reason for \a dropped. */
	bool removed;         /*!< It was unlinked (e.g. a reload recreated it
	                       *   for other nodes): not an error. */
} tgc_table_sync_t;

/*!
 * \brief Builds the default segment name "/tgcluster.<zone>.<id>".
 *
 * \param[out] buf       Output buffer (at least TGC_TABLE_NAME_MAX + 1).
 * \param[in]  buf_len   Its size.
 * \param[in]  zone      Zone text without the trailing dot ("" if global).
 * \param[in]  instance  Section id.
 *
 * \retval KNOT_EOK     Success.
 * \retval KNOT_ESPACE  Too long.
 */
int tgc_table_name(char *buf, size_t buf_len, const char *zone,
                   const char *instance);

/*!
 * \brief Like tgc_table_name(), but a name too long for a file name becomes
 *        "/tgcluster.<first 48 characters of the zone>.<64-bit hash of the
 *        zone and the instance>", so that long names still work.
 */
int tgc_table_name_auto(char *buf, size_t buf_len, const char *zone,
                        const char *instance);

/*!
 * \brief Checks a user-given segment name ("shm" item).
 *
 * Allowed: 1-200 characters of [A-Za-z0-9._-], optionally with one leading
 * slash. The "tgcluster." prefix is added when missing, so tgclusterctl can
 * find the segment.
 *
 * \param[in]  in       User text.
 * \param[out] buf      Normalised name "/tgcluster....", may be NULL.
 * \param[in]  buf_len  Size of \a buf.
 *
 * \retval KNOT_EOK     Valid.
 * \retval KNOT_EINVAL  Invalid characters or length.
 */
int tgc_table_name_check(const char *in, char *buf, size_t buf_len);

/*!
 * \brief Validates a segment image (pure function, no system calls).
 *
 * \param[in] mem   Segment bytes.
 * \param[in] size  Their number (the size of the segment file).
 * \param[out] err  Static reason on failure.
 *
 * \retval KNOT_EOK       Header and size consistent.
 * \retval KNOT_EMALF     Wrong magic, sizes or counts.
 * \retval KNOT_ENOTSUP   Other layout version.
 */
int tgc_table_validate(const void *mem, size_t size, const char **err);

/*!
 * \brief Opens (module side) the segment for an instance.
 *
 * Reuses a valid segment with the same nodes, adopts states from one with
 * other nodes into a new segment, recreates a corrupt segment that we own, and
 * refuses a segment owned by another user or accessible to others.
 *
 * \param[out] table   Mapped table.
 * \param[in]  name    Segment name ("/tgcluster...").
 * \param[in]  spec    What the instance needs.
 * \param[out] origin  How the segment was obtained (may be NULL).
 * \param[out] err     Reason on failure (static text).
 *
 * \retval KNOT_EOK     Success.
 * \retval KNOT_EACCES  A segment with a wrong owner or mode exists.
 * \retval KNOT_E*      System error.
 */
int tgc_table_open(tgc_table_t *table, const char *name,
                   const tgc_table_spec_t *spec, tgc_table_origin_t *origin,
                   const char **err);

/*!
 * \brief Attaches (CLI side) to an existing segment.
 *
 * \param[out] table     Mapped table.
 * \param[in]  name      Segment name ("/tgcluster..." or without the slash).
 * \param[in]  writable  Map read-write (for admin changes).
 * \param[out] err       Reason on failure.
 *
 * \retval KNOT_EOK       Success.
 * \retval KNOT_ENOENT    No such segment.
 * \retval KNOT_EACCES    No permission.
 * \retval KNOT_ENOTSUP   Other layout version.
 * \retval KNOT_EMALF     Not a valid segment.
 */
int tgc_table_attach(tgc_table_t *table, const char *name, bool writable,
                     const char **err);

/*!
 * \brief Unmaps a table (never removes the segment).
 */
void tgc_table_close(tgc_table_t *table);

/*!
 * \brief Removes a segment by name (tests and tgclusterctl only).
 */
int tgc_table_unlink(const char *name);

/*!
 * \brief Takes a consistent snapshot of node \a idx (lock-free, retries while
 *        the checker writes). For the CLI and the checker, not the query
 *        path.
 *
 * \note A writer that died inside its write section (a crash of knotd), or
 *       one that is not scheduled for long, keeps a record busy: when the
 *       sequence number has not moved for 50 ms (or after 100,000 tries)
 *       the reader gives up and returns KNOT_EBUSY with the probe details
 *       of its last try, possibly inconsistent (zero if it never saw the
 *       record closed).
 *
 * \retval KNOT_EOK     A consistent snapshot.
 * \retval KNOT_EBUSY   Gave up on a writer inside the record (see note).
 * \retval KNOT_EINVAL  No such record (\a out zeroed).
 */
int tgc_table_node_read(const tgc_table_t *table, uint32_t idx,
                        tgc_node_snap_t *out);

/*!
 * \brief Starts a write of node \a idx's probe details (the record write
 *        API of the checker, the poller and the load-time reset): a
 *        compare-and-swap of an even sequence number s to s+1.
 *
 * \return The odd sequence number of the open section, 0 if another writer
 *         is inside the record (the caller skips).
 */
uint32_t tgc_table_write_begin(tgc_node_rec_t *rec);

/*!
 * \brief Ends a write started by tgc_table_write_begin() (compare-and-swap of
 *        the odd s+1 to s+2; a record closed meanwhile by
 *        tgc_table_unstick() stays closed) and bumps the generation.
 */
void tgc_table_write_end(tgc_table_t *table, tgc_node_rec_t *rec);

/*! \brief Parts of a node record that tgc_table_node_update() writes. */
enum {
	TGC_NODE_UPD_RESULT = 1 << 0, /*!< A probe ended: consec_ok/fail,
	                               *   last_probe, last_rtt_us,
	                               *   last_check_ms = now_ms, probes + 1. */
	TGC_NODE_UPD_HEALTH = 1 << 1, /*!< A transition: health, since_ms =
	                               *   now_ms, transitions + 1. */
	TGC_NODE_UPD_START  = 1 << 2, /*!< probe_start_ms (0 = none). */
	TGC_NODE_UPD_DUE    = 1 << 3, /*!< next_due_ms. */
	TGC_NODE_UPD_PROBE  = 1 << 4, /*!< last_probe alone. */
	TGC_NODE_UPD_AGENT  = 1 << 5, /*!< What the agent reports:
	                               *   agent_sessions, agent_maxconn,
	                               *   agent_pct, agent_state, agent_flags;
	                               *   agent_errors + agent_errors_add. */
	TGC_NODE_UPD_CAPACITY = 1 << 6, /*!< weight, capacity_x100. */
};

/*! \brief What tgc_table_node_update() writes (fields per TGC_NODE_UPD_*). */
typedef struct {
	unsigned what;           /*!< TGC_NODE_UPD_* bits. */
	tgc_health_t health;     /*!< HEALTH. */
	uint32_t consec_ok;      /*!< RESULT. */
	uint32_t consec_fail;    /*!< RESULT. */
	tgc_probe_t last_probe;  /*!< RESULT, PROBE. */
	uint32_t last_rtt_us;    /*!< RESULT. */
	uint64_t now_ms;         /*!< RESULT, HEALTH: CLOCK_REALTIME ms. */
	uint64_t probe_start_ms; /*!< START. */
	uint64_t next_due_ms;    /*!< DUE. */
	uint32_t agent_sessions; /*!< AGENT. */
	uint32_t agent_maxconn;  /*!< AGENT. */
	uint16_t agent_pct;      /*!< AGENT. */
	uint8_t agent_state;     /*!< AGENT: TGC_AGENT_DOWN/DRAIN/MAINT bits. */
	uint8_t agent_flags;     /*!< AGENT: TGC_AGENT_F_* bits. */
	uint32_t agent_errors_add; /*!< AGENT: added to agent_errors. */
	uint32_t weight;         /*!< CAPACITY. */
	uint32_t capacity_x100;  /*!< CAPACITY. */
} tgc_node_update_t;

/*!
 * \brief Writes a checker's or poller's result into node \a idx inside one
 *        write section: the only way probe results reach a record.
 *
 * \return False if the record was busy or \a idx out of range (the caller
 *         keeps its own state and writes again next time).
 */
bool tgc_table_node_update(tgc_table_t *table, uint32_t idx,
                           const tgc_node_update_t *upd);

/*!
 * \brief Resets the health of node \a idx to unknown (0 consecutive
 *        successes and failures) inside a write section (load of an instance
 *        without probes).
 *
 * \return False if the record was busy.
 */
bool tgc_table_node_reset(tgc_table_t *table, uint32_t idx);

/*!
 * \brief Closes write sections (node and cache records) left open by a
 *        writer process that is gone (knotd killed inside a write). Call it
 *        only when the segment's previous owner is a dead process: a live
 *        writer's section is never forced.
 *
 * \return Number of records that had to be closed.
 */
unsigned tgc_table_unstick(tgc_table_t *table);

/*!
 * \brief Start time of process \a pid (clock ticks since boot, field 22 of
 *        /proc/PID/stat).
 *
 * \return 0 if the process does not exist (or /proc is unreadable).
 */
uint64_t tgc_table_proc_start(pid_t pid);

/*! \brief Owner word of the calling process. */
uint64_t tgc_table_owner_self(void);

/*! \brief Tells whether the owner word names a live process (its pid exists
 *         with the same start time). */
bool tgc_table_owner_alive(uint64_t owner);

/*!
 * \brief Turns a table from tgc_table_open() into a private view: the
 *        instance works on a heap copy and the segment is only touched by
 *        tgc_table_claim() and tgc_table_sync(). tgc_table_close() frees both.
 *
 * \retval KNOT_EOK     Success.
 * \retval KNOT_ENOMEM  Out of memory.
 * \retval KNOT_EFILE  The segment faulted while copied (truncated).
 * \retval KNOT_EMALF  Its layout (node count, role, cache offset) changed
 *                     after tgc_table_open() validated it.
 */
int tgc_table_view(tgc_table_t *table);

/*!
 * \brief Makes the calling instance (\a token) the writer of its segment.
 *
 * A segment owned by another live process is refused (its pid in
 * table->owner_pid); one owned by a process that is gone is taken over and
 * its open records closed; one owned by the calling process (a reload) is
 * handed over to the new token, open records left to their live writer.
 *
 * \param[in,out] table   Opened table or view.
 * \param[in]     token   The instance's writer token (non-zero).
 * \param[out]    closed  Records closed after a dead writer (may be NULL).
 *
 * \retval KNOT_EOK    The instance is the writer.
 * \retval KNOT_EBUSY  Another live process owns the segment.
 * \retval KNOT_EFILE The segment faulted (truncated meanwhile).
 */
int tgc_table_claim(tgc_table_t *table, uint64_t token, unsigned *closed);

/*!
 * \brief Periodic exchange between a private view and its segment (checker
 *        or poller thread of the instance, every tick).
 *
 * Checks the segment file (owner, mode, size, links) and drops a segment
 * that changed; takes the segment back if its writer is a process (or an
 * instance of this process) that is gone; as the writer publishes the view
 * (records that changed, heartbeat, cache) and, writer or not, folds the
 * view's answer counts into the segment and copies the admin states in. A
 * follower copies the writer's health, heartbeat and cache into its view.
 * Sets the view header's \a writer to \a token while this instance writes.
 * For a plain table only the retake applies.
 */
void tgc_table_sync(tgc_table_t *table, uint64_t token, tgc_table_sync_t *out);

/*!
 * \brief Publishes node record \a idx of a private view to its segment at
 *        once, if \a token still writes the segment (checker, after each
 *        probe result: a reloaded instance copies the latest states). Does
 *        nothing for a plain table or a dropped segment; a segment that fails
 *        its check is left to the next tgc_table_sync().
 */
void tgc_table_publish(tgc_table_t *table, uint64_t token, uint32_t idx);

/*! \brief Forgets a token given to tgc_table_claim() (instance unloading). */
void tgc_table_release(uint64_t token);

/*!
 * \brief Sets the admin state of node \a idx (CLI).
 *
 * \retval KNOT_EOK     Success.
 * \retval KNOT_EINVAL  Bad index or state.
 * \retval KNOT_EACCES  Table mapped read-only.
 */
int tgc_table_admin_set(tgc_table_t *table, uint32_t idx, tgc_admin_t admin);

/*!
 * \brief Stores the zone admin states of every node in a private view and
 *        recomputes the effective states (checker thread, the view's one
 *        writer; tgc_table_sync() publishes them).
 *
 * \param[in,out] view       Private view (tgc_table_view()).
 * \param[in]     serial     Zone SOA serial the states come from.
 * \param[in]     malformed  Malformed admin records in that serial.
 * \param[in]     states     Per node: tgc_admin_t from the zone (auto = none).
 * \param[in]     reasons    Per node: the record's reason.
 *
 * \retval KNOT_EOK     Stored.
 * \retval KNOT_EINVAL  Not a private view.
 */
int tgc_table_zone_admin(tgc_table_t *view, uint32_t serial, uint32_t malformed,
                         const uint8_t *states,
                         const char (*reasons)[TGC_ADMIN_REASON_MAX]);

/*!
 * \brief Waits until knotd has taken in the admin states written so far
 *        (CLI, after tgc_table_admin_set()).
 *
 * \retval KNOT_EOK       Taken in: answers follow them.
 * \retval KNOT_ETIMEOUT  Not within \a timeout_ms (no live knotd?).
 */
int tgc_table_admin_wait(const tgc_table_t *table, unsigned timeout_ms);

/*!
 * \brief Size of a segment of \a role with \a node_count records.
 */
size_t tgc_table_size(tgc_role_t role, uint32_t node_count);

/*!
 * \brief Takes a consistent snapshot of cache record \a idx (lock-free,
 *        retries while the poller writes).
 *
 * \param[in]  table     Translator table.
 * \param[in]  idx       TGC_CACHE_A or TGC_CACHE_AAAA.
 * \param[out] out       Snapshot (addresses: only \a count filled).
 * \param[in]  with_soa  Also copy the SOA (negative answers).
 *
 * \retval KNOT_EOK     Success.
 * \retval KNOT_EINVAL  Not a translator table or bad index.
 * \retval KNOT_EBUSY   The writer stayed inside the record (it crashed).
 */
int tgc_table_cache_read(const tgc_table_t *table, unsigned idx,
                         tgc_cache_snap_t *out, bool with_soa);

/*!
 * \brief Stores a cache record (poller only; single writer).
 *
 * With \a snap->valid false only the poll outcome (ok, polled_ms, failures)
 * is updated and the stored answer is kept.
 *
 * \retval KNOT_EOK     Written.
 * \retval KNOT_EINVAL  Not a translator table, bad index or sizes.
 * \retval KNOT_EBUSY   Another writer is inside the record (skipped).
 */
int tgc_table_cache_write(tgc_table_t *table, unsigned idx,
                          const tgc_cache_snap_t *snap);

/*! \brief Health of node \a idx (one atomic load, hot path). */
static inline tgc_health_t tgc_table_health(const tgc_table_t *table, uint32_t idx)
{
	return (tgc_health_t)atomic_load_explicit(&table->nodes[idx].health,
	                                          memory_order_relaxed);
}

/*! \brief Admin state of node \a idx (one atomic load, hot path). */
static inline tgc_admin_t tgc_table_admin(const tgc_table_t *table, uint32_t idx)
{
	return (tgc_admin_t)atomic_load_explicit(&table->nodes[idx].admin,
	                                         memory_order_relaxed);
}

/*! \brief Agent state bits of node \a idx (one atomic load, hot path). */
static inline uint8_t tgc_table_agent_state(const tgc_table_t *table, uint32_t idx)
{
	return atomic_load_explicit(&table->nodes[idx].agent_state,
	                            memory_order_relaxed);
}

/*! \brief What a worker reads of a node's agent report. */
typedef struct {
	uint32_t sessions; /*!< agent_sessions. */
	uint32_t maxconn;  /*!< agent_maxconn. */
	uint16_t pct;      /*!< agent_pct. */
	uint8_t state;     /*!< agent_state. */
	uint8_t flags;     /*!< agent_flags. */
} tgc_table_agent_t;

/*!
 * \brief Reads node \a idx's agent report without the seqlock (hot path:
 *        relaxed loads, field by field; a mix of two polls is possible and
 *        harmless to the least-loaded order, which only ranks nodes).
 */
static inline void tgc_table_agent_read(const tgc_table_t *table, uint32_t idx,
                                        tgc_table_agent_t *out)
{
	tgc_node_rec_t *r = &table->nodes[idx];
	out->flags = atomic_load_explicit(&r->agent_flags, memory_order_relaxed);
	out->state = atomic_load_explicit(&r->agent_state, memory_order_relaxed);
	out->sessions = atomic_load_explicit(&r->agent_sessions, memory_order_relaxed);
	out->maxconn = atomic_load_explicit(&r->agent_maxconn, memory_order_relaxed);
	out->pct = atomic_load_explicit(&r->agent_pct, memory_order_relaxed);
}

/*! \brief Text of a health state. */
const char *tgc_table_health_str(tgc_health_t health);

/*! \brief Text of an admin state. */
const char *tgc_table_admin_str(tgc_admin_t admin);

/*! \brief Parses an admin state name; returns -1 if unknown. */
int tgc_table_admin_parse(const char *str);

/*! \brief Text of a probe outcome. */
const char *tgc_table_probe_str(tgc_probe_t probe);

/*! \brief Current CLOCK_REALTIME in milliseconds. */
uint64_t tgc_table_now_ms(void);
