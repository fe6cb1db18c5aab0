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
 * \brief Layout of the shared segment: header, node records and cache
 *        records, their constants and enumerations (module/table.h
 *        describes the protocol and who writes and reads each field).
 */

#pragma once

#include <stdatomic.h>
#include <stdint.h>

/*! \brief Segment magic, "TGCL" read as a little-endian integer. */
#define TGC_TABLE_MAGIC		0x4c434754u
/*! \brief Layout version; bumped on any incompatible change. */
#define TGC_TABLE_VERSION	3u
/*! \brief Most nodes an instance may have. */
#define TGC_TABLE_NODES_MAX	16384u
/*! \brief Prefix of every segment name in /dev/shm. */
#define TGC_TABLE_PREFIX	"tgcluster."
/*! \brief Longest segment name incl. the leading slash (without the zero). */
#define TGC_TABLE_NAME_MAX	255

/*! \brief Health state of a node, as the checker sees it. */
typedef enum {
	TGC_HEALTH_UNKNOWN = 0, /*!< Not probed yet: counts as up. */
	TGC_HEALTH_UP      = 1, /*!< Confirmed up (rise successes). */
	TGC_HEALTH_DOWN    = 2, /*!< Confirmed down (fall failures). */
} tgc_health_t;

/*! \brief Operator (admin) state of a node. */
typedef enum {
	TGC_ADMIN_AUTO  = 0, /*!< Health decides. */
	TGC_ADMIN_DRAIN = 1, /*!< Left out while any auto/up node is live. */
	TGC_ADMIN_UP    = 2, /*!< Answered whatever the checks say. */
	TGC_ADMIN_DOWN  = 3, /*!< Never answered. */
} tgc_admin_t;

/*! \brief Role of the instance owning a segment. */
typedef enum {
	TGC_ROLE_LB         = 1, /*!< Load balancer: nodes + health checks. */
	TGC_ROLE_TRANSLATOR = 2, /*!< NAT translator: upstream cache. */
} tgc_role_t;

/*! \brief Outcome of the last probe of a node. */
typedef enum {
	TGC_PROBE_NONE     = 0, /*!< Never probed. */
	TGC_PROBE_OK       = 1, /*!< Connected (rfb: security types offered). */
	TGC_PROBE_REFUSED  = 2, /*!< Connection refused or reset. */
	TGC_PROBE_TIMEOUT  = 3, /*!< No connection or banner within the timeout. */
	TGC_PROBE_BANNER   = 4, /*!< Connected but the banner was not RFB, or
	                         *   the response not HTTP/1.x (http, https). */
	TGC_PROBE_ERROR    = 5, /*!< Local error (socket creation, unreachable). */
	TGC_PROBE_DISABLED = 6, /*!< check: none. */
	TGC_PROBE_RFB_REFUSED = 7, /*!< rfb: alive, but offers this client no
	                            *   security type (e.g. blacklisted); counts
	                            *   as a success. */
	TGC_PROBE_HANDSHAKE = 8, /*!< rfb: valid banner, then a broken or
	                          *   truncated handshake. */
	TGC_PROBE_STATUS   = 9, /*!< HTTP status not in check-status. */
	TGC_PROBE_TLS      = 10, /*!< TLS handshake failed. */
	TGC_PROBE_CERT     = 11, /*!< TLS certificate failed verification. */
} tgc_probe_t;

/*! \brief Segment header (1024 bytes). */
typedef struct {
	/* Immutable after creation (magic is stored last, with release). */
	_Atomic uint32_t magic;  /*!< TGC_TABLE_MAGIC. */
	uint32_t version;        /*!< TGC_TABLE_VERSION. */
	uint64_t size;           /*!< Total segment size in bytes. */
	uint32_t hdr_size;       /*!< sizeof(tgc_table_hdr_t). */
	uint32_t rec_size;       /*!< sizeof(tgc_node_rec_t). */
	uint32_t node_count;     /*!< Number of node records. */
	uint32_t role;           /*!< tgc_role_t. */
	uint64_t created_ms;     /*!< Creation time (CLOCK_REALTIME, ms). */
	char zone[256];          /*!< Zone of the instance ("" when global). */
	char instance[64];       /*!< Module section id. */
	char name[256];          /*!< Cluster name answered (text). */
	uint32_t check;          /*!< Check kind (tgc_check_t), informational. */
	uint32_t interval_ms;    /*!< check-interval, informational. */
	uint32_t timeout_ms;     /*!< check-timeout, informational. */
	uint32_t rise;           /*!< check-rise, informational. */
	uint32_t fall;           /*!< check-fall, informational. */
	uint32_t _pad0;
	/* Mutable. */
	_Atomic uint64_t writer;       /*!< Token of the instance allowed to write
	                                *   health (writer: load of the newest
	                                *   instance; readers: checkers). */
	_Atomic uint64_t writer_pid;   /*!< PID of that knotd (same writer). */
	_Atomic uint64_t generation;   /*!< Bumped after every health or admin
	                                *   change (writers: checker, CLI;
	                                *   readers: CLI). */
	_Atomic uint64_t heartbeat_ms; /*!< Last checker loop tick, CLOCK_REALTIME
	                                *   ms (writer: checker; readers: CLI). */
	/* Translator segments only (zero in load-balancer segments);
	 * immutable after creation. */
	uint32_t cache_off;      /*!< Offset of the cache records (0 = none). */
	uint32_t cache_count;    /*!< Number of cache records (TGC_CACHE_RECS). */
	uint32_t cache_rec_size; /*!< sizeof(tgc_cache_rec_t). */
	uint32_t stale_limit_s;  /*!< stale-limit, informational. */
	/* Ownership (see tgc_table_claim()). */
	_Atomic uint64_t owner;  /*!< Process holding the segment:
	                          *   TGC_TABLE_OWNER(pid, start time); 0 = none
	                          *   (writers: claim by compare-and-swap, acq_rel;
	                          *   readers: knotd, CLI, acquire). */
	_Atomic uint64_t admin_ack; /*!< The generation up to which knotd has
	                          *   taken the admin states in (writer: sync,
	                          *   release; reader: CLI, acquire). */
	/* Admin guard and zone admin records (writer: the checker in the
	 * view, load for min_live; sync publishes them; readers: sync, CLI;
	 * relaxed, informational outside the view). */
	_Atomic uint32_t min_live;       /*!< min-live of the instance. */
	_Atomic uint32_t admin_guarded;  /*!< Zone drains/downs held back. */
	_Atomic uint32_t zone_serial;    /*!< Serial of the zone admin records
	                                  *   last taken in (0 = none yet). */
	_Atomic uint32_t zone_malformed; /*!< Malformed admin records in it. */
	_Atomic uint64_t all_down_answers; /*!< Answers given while no node
	                          *   was eligible (the zone-stats all-down
	                          *   counter); in the view: workers, relaxed
	                          *   add; in the segment: sync and unload add
	                          *   what the view counted since (relaxed);
	                          *   reader: CLI. */
	uint8_t _reserved[1024 - 728];
} tgc_table_hdr_t;

/*! \brief Bits of the pid in an owner word (Linux pids are below 2^22). */
#define TGC_TABLE_OWNER_PID_BITS	22
/*! \brief Owner word of process \a pid started at \a start (clock ticks
 *         since boot, /proc/PID/stat field 22). */
#define TGC_TABLE_OWNER(pid, start) \
	(((uint64_t)(start) << TGC_TABLE_OWNER_PID_BITS) | \
	 ((uint64_t)(pid) & ((1u << TGC_TABLE_OWNER_PID_BITS) - 1)))
/*! \brief Pid of an owner word. */
#define TGC_TABLE_OWNER_PID(owner) \
	((pid_t)((owner) & ((1u << TGC_TABLE_OWNER_PID_BITS) - 1)))

/*! \brief Room for the reason of a zone admin record, incl. the zero. */
#define TGC_ADMIN_REASON_MAX	96

/*! \brief Where the effective admin state of a node comes from. */
typedef enum {
	TGC_ADMIN_SRC_NONE  = 0, /*!< Nothing set: auto. */
	TGC_ADMIN_SRC_LOCAL = 1, /*!< tgclusterctl set on this load balancer. */
	TGC_ADMIN_SRC_ZONE  = 2, /*!< An admin TXT record of the zone. */
} tgc_admin_src_t;

/*! \brief Admin flag: a zone drain/down is held back by min-live. */
#define TGC_ADMIN_F_GUARDED	0x01

/*! \brief One node record (256 bytes). */
typedef struct {
	_Atomic uint32_t seq;    /*!< Seqlock over the probe details below
	                          *   (writer: checker; readers: CLI). */
	uint16_t port;           /*!< Check port (immutable). */
	uint8_t family;          /*!< AF_INET or AF_INET6 (immutable). */
	uint8_t mapped_family;   /*!< Family of \a mapped, 0 if none (immutable). */
	uint8_t addr[16];        /*!< Node address (immutable). */
	uint8_t mapped[16];      /*!< LAN/alias address (immutable). */
	_Atomic uint8_t health;  /*!< tgc_health_t (writer: checker; readers: all). */
	_Atomic uint8_t admin;   /*!< tgc_admin_t (writer: CLI; readers: all). */
	_Atomic uint8_t last_probe; /*!< tgc_probe_t of the last probe (seq). */
	uint8_t tier;            /*!< 0 = primary (`node`), 1 = backup
	                          *   (`backup`) (immutable). */
	_Atomic uint32_t consec_ok;      /*!< Consecutive successes (seq). */
	_Atomic uint32_t consec_fail;    /*!< Consecutive failures (seq). */
	_Atomic uint32_t last_rtt_us;    /*!< Duration of the last probe (seq). */
	_Atomic uint64_t last_check_ms;  /*!< Time of the last probe, CLOCK_REALTIME (seq). */
	_Atomic uint64_t since_ms;       /*!< Time of the last health change (seq). */
	_Atomic uint64_t probes;         /*!< Probes done (seq). */
	_Atomic uint64_t transitions;    /*!< Health changes (seq). */
	_Atomic uint64_t answers; /*!< Answers that included the node
	                           *   (writers: knotd workers; readers: CLI). */
	_Atomic uint64_t probe_start_ms; /*!< Start of the probe in flight,
	                           *   CLOCK_REALTIME ms, 0 = none (seq; writer:
	                           *   checker at probe start and end; readers:
	                           *   the checker of the instance that takes
	                           *   the table over, which keeps the deadline
	                           *   start + check-timeout, and the CLI). */
	_Atomic uint64_t next_due_ms; /*!< When the next probe is due,
	                           *   CLOCK_REALTIME ms, 0 = never scheduled
	                           *   (seq; writer: checker at probe end;
	                           *   readers: the taking-over checker, which
	                           *   keeps this schedule, and the CLI). */
	/* Admin state by source (see tgc_admin_resolve()); the effective
	 * state is \a admin above. */
	_Atomic uint8_t admin_local; /*!< tgc_admin_t set with tgclusterctl
	                           *   (writer: CLI in the segment; sync copies
	                           *   it into the view; relaxed, single byte). */
	_Atomic uint8_t admin_zone; /*!< tgc_admin_t of the zone's admin record
	                           *   (seq; writer: checker in the view, sync
	                           *   publishes it). */
	_Atomic uint8_t admin_src; /*!< tgc_admin_src_t of \a admin (seq; writer:
	                           *   sync in the view, then in the segment). */
	_Atomic uint8_t admin_flags; /*!< TGC_ADMIN_F_* (seq; like admin_src). */
	_Atomic uint32_t zone_serial; /*!< Zone SOA serial of \a admin_zone
	                           *   (seq; like admin_zone). */
	_Atomic uint64_t admin_since_ms; /*!< Since when \a admin and
	                           *   \a admin_src hold, CLOCK_REALTIME ms (seq;
	                           *   like admin_src). */
	_Atomic uint32_t admin_uid; /*!< User who made the last local change
	                           *   (writer: CLI, before the generation bump;
	                           *   readers: checker for the audit log, CLI). */
	uint32_t _pad1;
	_Atomic uint64_t zone_reason[TGC_ADMIN_REASON_MAX / 8]; /*!< The zone
	                           *   record's reason, zero-padded text (seq;
	                           *   like admin_zone). */
	/* What the node's agent reports (agent-port; all zero without one).
	 * Writer: the checker, inside seq, after each agent poll, with
	 * tgc_table_node_update() (TGC_NODE_UPD_AGENT); the view and segment
	 * copies (sync). Readers: workers read them field by field, relaxed,
	 * without seq (tgc_table_agent_state(), tgc_table_agent_read()); the
	 * CLI and node_read read all of them inside seq. */
	_Atomic uint32_t agent_sessions; /*!< Sessions the node holds now
	                           *   (sessions:N; valid with
	                           *   TGC_AGENT_F_SESSIONS). */
	_Atomic uint32_t agent_maxconn; /*!< Capacity in sessions (maxconn:N;
	                           *   valid with TGC_AGENT_F_MAXCONN). */
	_Atomic uint16_t agent_pct; /*!< Weight percentage (NN%; valid with
	                           *   TGC_AGENT_F_PCT). */
	_Atomic uint8_t agent_state; /*!< TGC_AGENT_DOWN/DRAIN/MAINT bits in
	                           *   force (0 when the agent does not
	                           *   answer: the health check decides). */
	_Atomic uint8_t agent_flags; /*!< TGC_AGENT_F_* bits. */
	_Atomic uint32_t agent_errors; /*!< Agent polls that gave no usable
	                           *   line (no connection, timeout, long
	                           *   line, bad byte, closed empty). */
	/* What a node weighs in the least-loaded order, for tgclusterctl
	 * (valid with TGC_AGENT_F_CAPACITY). Writer: the checker, inside seq,
	 * with tgc_table_node_update() (TGC_NODE_UPD_CAPACITY) when it becomes
	 * the writer and after each agent poll; the view and segment copies
	 * (sync). Readers: node_read, sync, CLI (inside seq). The workers do
	 * not read them: they compute the capacity from the agent fields and
	 * their own copy of the weights (steer.h). */
	_Atomic uint32_t weight;  /*!< The node's `node-weight` (1 when no
	                           *   value names it). */
	_Atomic uint32_t capacity_x100; /*!< Effective capacity in hundredths:
	                           *   weight x agent percentage / 100 x
	                           *   maxconn, a factor absent when not
	                           *   reported (tgc_load_capacity_x100(); the
	                           *   slow-start share, per worker, is not in
	                           *   it). */
} tgc_node_rec_t;

/*! \brief agent_flags: the last agent poll gave a line. */
#define TGC_AGENT_F_ANSWERED	0x01u
/*! \brief agent_flags: agent_sessions holds a reported value. */
#define TGC_AGENT_F_SESSIONS	0x02u
/*! \brief agent_flags: agent_maxconn holds a reported value. */
#define TGC_AGENT_F_MAXCONN	0x04u
/*! \brief agent_flags: agent_pct holds a reported value. */
#define TGC_AGENT_F_PCT		0x08u
/*! \brief agent_flags: the node has an agent (agent-port set). */
#define TGC_AGENT_F_POLLED	0x10u
/*! \brief agent_flags: weight and capacity_x100 hold the checker's values. */
#define TGC_AGENT_F_CAPACITY	0x20u

/*! \brief Most addresses a cache record holds (more are dropped). */
#define TGC_CACHE_ADDRS_MAX	32
/*! \brief Room for the upstream SOA of a negative answer (owner + rdata). */
#define TGC_CACHE_SOA_MAX	800
/*! \brief Grant slots per cache record (twice the addresses: an address
 *         that joins the answer never takes the slot of one that left it
 *         in the same poll). */
#define TGC_CACHE_SLOTS		(2 * TGC_CACHE_ADDRS_MAX)
/*! \brief Cache records of a translator segment: A, then AAAA. */
#define TGC_CACHE_RECS		2
/*! \brief Index of the A cache record. */
#define TGC_CACHE_A		0
/*! \brief Index of the AAAA cache record. */
#define TGC_CACHE_AAAA		1

/*!
 * \brief The upstream answer for the cluster name and one type (translator).
 *
 * Writer: the translator's poller (one thread, the instance holding the
 * header's writer token), inside the seqlock \a seq. Readers: knotd workers
 * and tgclusterctl with tgc_table_cache_read(). Every field is an atomic
 * accessed with relaxed order inside the seqlock (no C11 data race).
 * Times are CLOCK_REALTIME ms, so that a cache survives a restart of knotd.
 */
typedef struct {
	_Atomic uint32_t seq;        /*!< Seqlock (odd while written). */
	_Atomic uint8_t valid;       /*!< A good answer was ever stored. */
	_Atomic uint8_t rcode;       /*!< Its RCODE (NOERROR or NXDOMAIN). */
	_Atomic uint8_t count;       /*!< Its number of addresses. */
	_Atomic uint8_t ok;          /*!< The last poll succeeded. */
	_Atomic uint32_t ttl;        /*!< Its TTL (min of the RRs; for a negative
	                              *   answer min(SOA TTL, SOA MINIMUM)). */
	_Atomic uint16_t soa_owner_len; /*!< SOA owner bytes in \a soa (0 = none). */
	_Atomic uint16_t soa_rdata_len; /*!< SOA rdata bytes after the owner. */
	_Atomic uint64_t fetched_ms; /*!< When it was received. */
	_Atomic uint64_t polled_ms;  /*!< End of the last poll (good or not). */
	_Atomic uint64_t refreshes;  /*!< Good polls. */
	_Atomic uint64_t failures;   /*!< Failed polls. */
	_Atomic uint32_t upstream;   /*!< Record index of the upstream that gave
	                              *   the answer. */
	_Atomic uint8_t reported;    /*!< The answer came with a load report
	                              *   (loadopt.h): \a load holds it. */
	uint8_t _pad0[64 - 53];
	_Atomic uint64_t addrs[TGC_CACHE_ADDRS_MAX * 2]; /*!< Addresses, 16 bytes
	                              *   each in network order (IPv4: first 4). */
	_Atomic uint64_t soa[TGC_CACHE_SOA_MAX / 8]; /*!< SOA owner (wire) then
	                              *   its rdata (wire, uncompressed). */
	_Atomic uint64_t load[TGC_CACHE_ADDRS_MAX]; /*!< Per address: reported
	                              *   sessions (high 32 bits) and capacity
	                              *   x 100 (low 32 bits). */
	_Atomic uint64_t slots[TGC_CACHE_ADDRS_MAX / 8]; /*!< Per address, one
	                              *   byte each: its grant slot (below
	                              *   TGC_CACHE_SLOTS), kept while the
	                              *   address stays in the answer. */
} tgc_cache_rec_t;
