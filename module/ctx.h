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
 * \brief Instance context of mod-tgcluster: a part common to both roles and
 *        one part per role, the configuration keys and the counters, and
 *        the helpers the glue (tgcluster.c) and both query paths (lb.c,
 *        translator.c) share.
 */

#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <knot/module.h>

#include "module/addr.h"
#include "module/admin.h"
#include "module/answer.h"
#include "module/conf.h"
#include "module/forward.h"
#include "module/health.h"
#include "module/natmap.h"
#include "module/policy.h"
#include "module/probe_tls.h"
#include "module/sign.h"
#include "module/table.h"

/* Items of a mod-tgcluster section. */
#define MOD_NAME		"\x04""name"
#define MOD_NODE		"\x04""node"
#define MOD_CHECK		"\x05""check"
#define MOD_CHECK_PORT		"\x0a""check-port"
#define MOD_CHECK_INTERVAL	"\x0e""check-interval"
#define MOD_CHECK_TIMEOUT	"\x0d""check-timeout"
#define MOD_CHECK_RISE		"\x0a""check-rise"
#define MOD_CHECK_FALL		"\x0a""check-fall"
#define MOD_TTL			"\x03""ttl"
#define MOD_ANSWERS		"\x07""answers"
#define MOD_POLICY		"\x06""policy"
#define MOD_ALL_DOWN		"\x08""all-down"
#define MOD_SHM			"\x03""shm"
#define MOD_NAT_BASE		"\x08""nat-base"
#define MOD_NAT_MAP		"\x07""nat-map"
#define MOD_NAT_CLIENT		"\x0a""nat-client"
#define MOD_UPSTREAM		"\x08""upstream"
#define MOD_UPSTREAM_INTERVAL	"\x11""upstream-interval"
#define MOD_UPSTREAM_TIMEOUT	"\x10""upstream-timeout"
#define MOD_STALE_LIMIT		"\x0b""stale-limit"
#define MOD_FORWARD_LIMIT	"\x0d""forward-limit"
#define MOD_FORWARD_UDP		"\x0b""forward-udp"
#define MOD_FORWARD_ECS		"\x0b""forward-ecs"
#define MOD_FORWARD_ECS_PREFIX4	"\x13""forward-ecs-prefix4"
#define MOD_FORWARD_ECS_PREFIX6	"\x13""forward-ecs-prefix6"

/*! \brief Largest `forward-limit`. */
#define TGC_FORWARD_LIMIT_MAX	1024
#define MOD_CHECK_PATH		"\x0a""check-path"
#define MOD_CHECK_HOST		"\x0a""check-host"
#define MOD_CHECK_STATUS	"\x0c""check-status"
#define MOD_CHECK_TLS_VERIFY	"\x10""check-tls-verify"
#define MOD_CHECK_TLS_CA	"\x0c""check-tls-ca"
#define MOD_BACKUP		"\x06""backup"
#define MOD_BACKUP_WHEN		"\x0b""backup-when"
#define MOD_MIN_LIVE		"\x08""min-live"
/* Steering by sessions (agent check, weights, least-loaded). */
#define MOD_AGENT_PORT		"\x0a""agent-port"
#define MOD_NODE_WEIGHT		"\x0b""node-weight"
#define MOD_GRANT_WINDOW	"\x0c""grant-window"
#define MOD_LOAD_HIGH		"\x09""load-high"
#define MOD_LOAD_LOW		"\x08""load-low"
#define MOD_SLOW_START		"\x0a""slow-start"

/* knotd's own sections read by a translator (names of knot.conf's schema). */
#define C_RMT			"\x06""remote"
#define C_ADDR			"\x07""address"
#define C_KEY			"\x03""key"
#define C_ALG			"\x09""algorithm"
#define C_SECRET		"\x06""secret"

/*! \brief Values of `forward-udp`: where a query over UDP for a name the
 *         translator forwards goes. */
enum {
	TGC_FORWARD_UDP_TRUNCATE = 0, /*!< Empty answer with TC: the client asks
	                               *   again over TCP, a TCP worker forwards. */
	TGC_FORWARD_UDP_FORWARD  = 1, /*!< Forwarded by the UDP worker. */
};

/*! \brief Counters of a load balancer in `knotc zone-stats`. */
enum {
	CTR_ANSWER     = 0, /*!< Answers per node (index = node order). */
	CTR_ALL_DOWN   = 1, /*!< Answers given while no node was live. */
	CTR_TRANSITION = 2, /*!< Health transitions (up, down). */
	CTR_DRAIN      = 3, /*!< Answers served by drained nodes only. */
	CTR_TRUNCATED  = 4, /*!< Answers that did not fit (TC). */
	CTR_MAPPED     = 5, /*!< Answers with NAT-mapped addresses. */
	CTR_STALE_TABLE = 6, /*!< Answers given while the table's heartbeat
	                      *   was stale. */
	CTR_RFB_REFUSED = 7, /*!< rfb probes a node's server refused (per node). */
	CTR_BACKUP     = 8, /*!< Answers that included backup nodes. */
	CTR_ADMIN_MALFORMED = 9, /*!< Malformed zone admin records (once per
	                          *   zone serial). */
	CTR_AGENT_ERROR = 10, /*!< Agent polls without a usable line (per node). */
};

/*! \brief Counters of a translator in `knotc zone-stats`. */
enum {
	TCTR_CACHED     = 0, /*!< Answers from a fresh cached answer. */
	TCTR_STALE      = 1, /*!< Answers from a stale cached answer. */
	TCTR_FORWARDED  = 2, /*!< Queries forwarded on demand and answered. */
	TCTR_SERVFAIL   = 3, /*!< SERVFAIL: cache expired or forward failed. */
	TCTR_UPSTREAM_ERROR = 4, /*!< Upstream errors by kind (tgc_fwd_err_t). */
	TCTR_FAILOVER   = 5, /*!< Tries of a next upstream address. */
	TCTR_TCP        = 6, /*!< TCP retries after a truncated reply. */
	TCTR_TRUNCATED  = 7, /*!< Answers that did not fit (TC). */
	TCTR_MAPPED     = 8, /*!< Answers with NAT-mapped addresses. */
	TCTR_STALE_TABLE = 9, /*!< Answers given while the cache's heartbeat
	                       *   was stale. */
	TCTR_BUSY       = 10, /*!< Forwards refused: forward-limit reached or
	                       *   this worker resting after a failed one. */
	TCTR_RECENT_FAIL = 11, /*!< Forwards refused: the name failed lately. */
	TCTR_UNREACHABLE = 12, /*!< Forwards refused: every upstream down. */
	TCTR_TO_TCP     = 13, /*!< Queries over UDP of forwarded names answered
	                       *   empty with TC (forward-udp truncate). */
};

/*! \brief Slots of the memory of recently failed forwards (power of 2). */
#define TGC_FAILED_SLOTS	256
/*! \brief How long a name whose forward failed is answered SERVFAIL at once
 *         (RFC 9520 asks resolvers to remember failures at least 1 s). */
#define TGC_FAILED_HOLD_MS	5000
/*! \brief Bits of a failed-forward slot that hold the expiry time (ms of
 *         CLOCK_MONOTONIC, 2^40 ms = 34 years); the high 24 bits hold a tag
 *         of the name's hash. */
#define TGC_FAILED_TIME_BITS	40

/*! \brief Load-balancer part of the context (role TGC_ROLE_LB). */
typedef struct {
	/* Immutable after load (read by workers and the checker). */
	uint32_t node_count;         /*!< Number of nodes. */
	tgc_addr_t *addrs;           /*!< Node addresses by index. */
	uint64_t *node_keys;         /*!< Sticky keys by index. */
	uint32_t *idx4;              /*!< IPv4 node indexes. */
	uint32_t *idx6;              /*!< IPv6 node indexes. */
	tgc_addr_t *mapped;          /*!< Mapped (LAN) address by index, equal
	                              *   to the node's own when no rule maps it;
	                              *   NULL without nat-base/nat-map. */
	bool *is_mapped;             /*!< Whether a rule maps node i (NULL
	                              *   without nat-base/nat-map). */
	uint32_t *rep;               /*!< First node with the same address, by
	                              *   index (NULL: all addresses differ). */
	uint32_t *rep_mapped;        /*!< The same for the mapped addresses. */
	tgc_answer_cfg_t answer;     /*!< Answer view (points into this struct;
	                              *   its steering state is owned here). */
	uint32_t *weights;           /*!< `node-weight` by index (read by the
	                              *   checker, immutable after load). */
	tgc_policy_state_t *states;  /*!< Per worker: written and read only by
	                              *   the worker with that thread_id. */
	tgc_checker_t *checker;      /*!< Checker (started and stopped by knotd's
	                              *   main thread in load/unload). */
	/* http, https, tls checks: built in load, read by the checker,
	 * freed after it stopped. */
	char *http_path;             /*!< check-path. */
	char *http_host;             /*!< check-host (NULL = node address). */
	uint16_t *statuses;          /*!< check-status codes. */
	tgc_tls_creds_t *tls;        /*!< TLS credentials (https, tls). */
	/* Zone admin records. */
	char *name_txt;              /*!< Cluster name text (immutable). */
	tgc_admin_box_t admin_box;   /*!< To the checker (see admin.h). */
	_Atomic uint64_t zone_seen;  /*!< Serial | 1 << 32 of the apex TXT
	                              *   records last parsed, 0 = none (workers:
	                              *   compare-and-swap, relaxed: the box's
	                              *   lock orders the data). */
	_Atomic uint64_t zone_seen_ms; /*!< When zone_seen last changed
	                              *   (workers, relaxed). */
	/* Signed answers (zone with dnssec-signing: on). sign_on and the
	 * keyset are set in load only; the cache locks itself. */
	bool sign_on;                /*!< Sign positive answers. */
	tgc_sign_cache_t sign;       /*!< RRSIGs per distinct RRset. */
	_Atomic uint64_t sign_keys;  /*!< Hash of the apex DNSKEY set the keyset
	                              *   and the cache generation were loaded
	                              *   for, 0 before the first load (writer:
	                              *   a worker holding key_lock exclusively,
	                              *   release; readers: workers, acquire). */
	_Atomic bool sign_ok;        /*!< The keyset of sign_keys loaded (same
	                              *   writer, published by sign_keys'
	                              *   release; readers: workers). */
	pthread_rwlock_t key_lock;   /*!< Shared while a worker signs with
	                              *   knotd's keyset, exclusive while one
	                              *   reloads it after a key change. */
	bool below_apex;             /*!< The cluster name is below the zone
	                              *   apex (immutable after load). */
	_Atomic bool placeholder_logged; /*!< A signed answer of a type the
	                              *   apex lacks was logged (workers:
	                              *   exchange, relaxed). */
	_Atomic bool nodata_logged;  /*!< A zone answer to a NODATA left to
	                              *   knotd was not NODATA and was logged
	                              *   (workers: exchange, relaxed). */
} tgc_lb_ctx_t;

/*! \brief Translator part of the context (role TGC_ROLE_TRANSLATOR):
 *         immutable after load unless said otherwise. */
typedef struct {
	knot_dname_t *scope;         /*!< Names forwarded: the zone, or `name`
	                              *   and below for a global instance. */
	tgc_fwd_target_t *targets;   /*!< Upstream addresses (table order). */
	knot_tsig_key_t *keys;       /*!< TSIG key per upstream remote. */
	size_t key_count;            /*!< Number of entries of \a keys. */
	tgc_fwd_conf_t fwd;          /*!< Upstreams view (points to targets). */
	tgc_natmap_rule_t *rules;    /*!< nat-map rules (rewriting). */
	size_t rule_count;           /*!< Number of rules. */
	uint32_t interval_ms;        /*!< upstream-interval. */
	uint32_t stale_limit_s;      /*!< stale-limit. */
	uint32_t fresh_ms;           /*!< Age up to which a polled answer is
	                              *   fresh (tgc_forward_fresh_ms()). */
	uint32_t budget_ms;          /*!< Bound of an on-demand forward. */
	_Atomic uint32_t preferred;  /*!< Upstream that answered last (writer:
	                              *   poller; readers: workers). */
	tgc_poller_t *poller;        /*!< Poller (started and stopped by knotd's
	                              *   main thread in load/unload). */
	/* Guards of on-demand forwarding (translator_forward()). */
	bool udp_truncate;           /*!< forward-udp truncate: queries over
	                              *   UDP are sent to TCP, not forwarded. */
	uint32_t forward_limit;      /*!< Most forwards in flight at once. */
	_Atomic uint32_t forwards;   /*!< Forwards in flight (writers and
	                              *   readers: workers; relaxed, the count
	                              *   publishes no other data). */
	uint64_t *rest_until;        /*!< Per worker: CLOCK_MONOTONIC ms before
	                              *   which it starts no forward after a
	                              *   failed one (written and read only by
	                              *   the worker with that thread_id). */
	uint64_t failed_key;         /*!< Key of the name hash. */
	/* Answers from the cache: `policy` and `answers` over the cached
	 * addresses, as a load balancer applies them to its live nodes. */
	tgc_policy_t policy;         /*!< policy. */
	uint32_t answers;            /*!< answers (0 = all cached). */
	tgc_policy_state_t *states;  /*!< Per worker: written and read only by
	                              *   the worker with that thread_id. */
	tgc_steer_t *steer;          /*!< policy least-loaded: grants per grant
	                              *   slot of the cache records (steer.h
	                              *   says who writes and reads them);
	                              *   NULL for other policies. */
	/* Client subnet sent with on-demand forwards (forward-ecs). */
	bool ecs_on;                 /*!< forward-ecs. */
	uint8_t ecs_prefix4;         /*!< forward-ecs-prefix4. */
	uint8_t ecs_prefix6;         /*!< forward-ecs-prefix6. */
	_Atomic uint64_t failed[TGC_FAILED_SLOTS]; /*!< Recently failed names:
	                              *   tag << TGC_FAILED_TIME_BITS | expiry
	                              *   ms, 0 = empty (writers and readers:
	                              *   workers; relaxed, each slot is one
	                              *   self-contained value). */
} tgc_tr_ctx_t;

/*! \brief Instance context. */
typedef struct {
	/* Immutable after load (read by workers and the checker or poller). */
	tgc_role_t role;             /*!< TGC_ROLE_LB or TGC_ROLE_TRANSLATOR. */
	knot_dname_t *name;          /*!< Cluster name (lower case). */
	size_t name_size;            /*!< Its wire size. */
	uint32_t ttl;                /*!< Record TTL. */
	bool tsig_later;             /*!< Zone instance: signed queries are
	                              *   answered at PREANSWER (after knotd's
	                              *   TSIG check), not at BEGIN. */
	bool zone_bound;             /*!< Zone instance: nothing is answered
	                              *   while the zone is not loaded. */
	knotd_conf_t clients;        /*!< nat-client ranges, count 0 = all
	                              *   clients (read in load, freed by
	                              *   tgc_ctx_free()). */
	unsigned threads;            /*!< Number of worker states. */
	knotd_mod_t *mod;            /*!< Module handle, for logs and stats. */
	tgc_table_t table;           /*!< Private view of the segment (see
	                              *   table.h for who writes which field). */
	uint64_t token;              /*!< Writer token (immutable after load). */
	uint32_t stale_after_ms;     /*!< Heartbeat age that makes the table
	                              *   stale (immutable after load). */
	_Atomic bool stale_logged;   /*!< A stale table was logged (workers:
	                              *   exchange, relaxed). */
	/* Log gate: the checker or poller logs only while log_on is set;
	 * unload clears it under log_lock before it stops the thread (knotd
	 * may have freed the zone name by then). */
	pthread_mutex_t log_lock;    /*!< Serialises log_on and thread logs. */
	bool log_on;                 /*!< Writer: load and unload; reader:
	                              *   checker or poller. */
	tgc_lb_ctx_t lb;             /*!< Load balancer only (zero otherwise). */
	tgc_tr_ctx_t tr;             /*!< Translator only (zero otherwise). */
} tgc_ctx_t;

/*!
 * \brief Tells whether the QNAME is the cluster name.
 *
 * knotd lower-cases the QNAME before the first hook (prepare_answer() in
 * process_query.c) and ctx->name is lower case: sizes and bytes are compared
 * first, which is cheaper than knot_dname_is_case_equal() alone; the
 * case-insensitive compare remains for a same-size name that differs, so
 * this does not rely on knotd's lower-casing.
 */
static inline bool tgc_ctx_is_cluster_name(knotd_qdata_t *qdata,
                                           const tgc_ctx_t *ctx)
{
	const knot_dname_t *qname = knot_pkt_qname(qdata->query);
	return qname != NULL && qdata->query->qname_size == ctx->name_size &&
	       (memcmp(qname, ctx->name, ctx->name_size) == 0 ||
	        knot_dname_is_case_equal(qname, ctx->name));
}

/*! \brief Checker log callback: forwards to knotd's log while allowed. */
void tgc_ctx_log(void *arg, int priority, const char *fmt, ...);

/*! \brief Registers the checker thread with RCU (knotd's log needs it). */
void tgc_ctx_thread_start(void *arg);

/*! \brief Unregisters the checker thread from RCU. */
void tgc_ctx_thread_stop(void *arg);

/*!
 * \brief The client of a query: the EDNS Client Subnet when present (with its
 *        source prefix), else the source address (full length).
 *
 * Reads the query only: the caller tells ECS caches what the answer
 * depends on with tgc_ctx_ecs_scope().
 *
 * \param[out] addr    Client address (subnet address for ECS).
 * \param[out] prefix  Its significant length in bits.
 *
 * \return False if neither is usable.
 */
bool tgc_ctx_query_client(knotd_qdata_t *qdata, tgc_addr_t *addr, unsigned *prefix);

/*!
 * \brief Tells whether a client lies in a nat-client range (false without
 *        nat-client: the caller checks ctx->clients.count).
 */
bool tgc_ctx_client_match(const tgc_ctx_t *ctx, const tgc_addr_t *client);

/*!
 * \brief Sets the scope prefix of the ECS option knotd echoes (qdata->ecs,
 *        with knotd's edns-client-subnet on) to at least \a scope: the
 *        leading bits of the client subnet the answer depends on.
 *
 * Does nothing when the client did not come from that option (no ECS, or a
 * source prefix of 0).
 */
void tgc_ctx_ecs_scope(knotd_qdata_t *qdata, unsigned scope);

/*!
 * \brief Notices a table whose checker or poller stopped beating: logs it
 *        once at error level and counts the answer in \a counter. Answers
 *        keep flowing from the last published states.
 */
void tgc_ctx_table_watch(tgc_ctx_t *ctx, knotd_mod_t *mod, unsigned thr,
                         int counter);

/*!
 * \brief Names the instance's segment (the `shm` item, or a name derived
 *        from the zone and the cluster name), opens it and turns it into the
 *        private view that workers read (see table.h).
 *
 * \param spec  The role's part of the spec; the zone, instance and cluster
 *              name are filled in here.
 */
int tgc_ctx_table_open(tgc_ctx_t *ctx, knotd_mod_t *mod, tgc_table_spec_t *spec,
                       tgc_table_origin_t *origin, const char **err);

/*! \brief A counter of `knotc zone-stats`. */
typedef struct {
	const char *name;               /*!< Counter name. */
	uint32_t count;                 /*!< Number of indexes. */
	knotd_mod_idx_to_str_f to_str;  /*!< Index names (NULL: numbers). */
} tgc_ctx_counter_t;

/*! \brief Registers counters in order (list[i] gets id i). */
int tgc_ctx_counters_add(knotd_mod_t *mod, const tgc_ctx_counter_t *list,
                         size_t count);

/*! \brief Frees a context (checker already stopped or never started). */
void tgc_ctx_free(tgc_ctx_t *ctx);

/*! \brief Text of a dname without the trailing dot ("" for NULL). */
void tgc_ctx_dname_text(const knot_dname_t *name, char *buf, size_t len);

/*!
 * \brief Makes this instance the writer of its table: a previous instance
 *        of this knotd (knotc reload loads us before unloading it) stops
 *        writing from now on; a segment owned by another live process is
 *        refused; records left mid-write by a knotd that is gone are closed.
 *
 * \param[in] stale_ms  Heartbeat age after which workers call the table
 *                      stale.
 */
int tgc_ctx_become_writer(tgc_ctx_t *ctx, knotd_mod_t *mod, uint64_t seed,
                          uint32_t stale_ms);

/*!
 * \brief Load of a load-balancer instance after the common items: nodes,
 *        checks, NAT, table, counters, checker and signing.
 *
 * \param conf  The section as read; the context takes what it keeps.
 *
 * On failure the caller stops and frees what was set up (tgc_ctx_free()
 * after stopping the checker).
 */
int tgc_lb_load(tgc_ctx_t *ctx, knotd_mod_t *mod, tgc_conf_t *conf,
                uint64_t seed);

/*!
 * \brief Load-balancer answer: A/AAAA for the cluster name (returns \a state
 *        unchanged for every other query).
 */
knotd_state_t tgc_lb_answer(knotd_state_t state, knot_pkt_t *pkt,
                            knotd_qdata_t *qdata, knotd_mod_t *mod);

/*!
 * \brief Query hook at ANSWER (load balancer in a signed zone, cluster name
 *        below the apex): a NODATA that tgc_lb_answer() left to knotd must
 *        come out of the zone as NODATA. Logs once when the zone answers
 *        otherwise. Registered when ctx->lb.sign_on and ctx->lb.below_apex.
 */
knotd_in_state_t tgc_lb_zone_nodata(knotd_in_state_t state, knot_pkt_t *pkt,
                                    knotd_qdata_t *qdata, knotd_mod_t *mod);

/*!
 * \brief Adds the RRSIGs of the answer RRset \a rr (just put into \a pkt),
 *        from the cache or signed now and cached.
 */
int tgc_lb_sign(knot_pkt_t *pkt, knotd_qdata_t *qdata, knotd_mod_t *mod,
                tgc_ctx_t *ctx, const knot_rrset_t *rr);

/*!
 * \brief Signed NODATA at the apex: the zone's SOA and apex NSEC with their
 *        RRSIGs, as knotd's own signing would prove it. The SOA goes out
 *        unmodified (its RRSIG covers the MINIMUM field).
 */
int tgc_lb_signed_nodata(knot_pkt_t *pkt, knotd_qdata_t *qdata);

/*!
 * \brief Checks the zone's signing against what the module can sign
 *        (tgc_sign_zone_check()), logs what it says.
 */
int tgc_lb_sign_zone_check(tgc_ctx_t *ctx, knotd_mod_t *mod);

/*!
 * \brief When knotd signs the zone: opens the zone's DNSSEC context and the
 *        instance's RRSIG cache, and turns signed answers on.
 */
int tgc_lb_sign_setup(tgc_ctx_t *ctx, knotd_mod_t *mod);

/*!
 * \brief Load of a translator instance after the common items: upstreams,
 *        NAT, table, counters and poller.
 *
 * \param ups   The `upstream` values.
 * \param conf  The section as read; the context takes what it keeps.
 *
 * On failure the caller stops and frees what was set up.
 */
int tgc_tr_load(tgc_ctx_t *ctx, knotd_mod_t *mod, const knotd_conf_t *ups,
                tgc_conf_t *conf, uint64_t seed);

/*!
 * \brief Query hook of a translator: the cluster name's A/AAAA from the
 *        cache, every other name in scope (and other types) forwarded.
 */
knotd_state_t tgc_tr_begin(knotd_state_t state, knot_pkt_t *pkt,
                           knotd_qdata_t *qdata, tgc_ctx_t *ctx,
                           knotd_mod_t *mod);
