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
 * \brief NAT translator: forwarding to the upstream load balancers.
 *
 * Pieces, from pure to threaded:
 *  - reply validation (tgc_forward_validate), extraction of a reply into a
 *    cache record (tgc_forward_extract), address rewriting of a parsed RRset
 *    (tgc_forward_rewrite) and the cache state machine
 *    (tgc_forward_cache_state): pure functions, time passed in;
 *  - tgc_forward_query(): one question sent to the upstreams in turn,
 *    synchronous and bounded (poll()), from a fresh random-port connected
 *    UDP socket per try, retried over TCP when truncated; used by knotd
 *    workers for names other than the cluster name, and by the poller;
 *  - the poller: a libuv loop thread per translator instance that asks the
 *    upstreams for the cluster name (A and AAAA) every interval and
 *    publishes the validated answer in the instance's table.
 */

#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <libknot/libknot.h>

#include "module/addr.h"
#include "module/natmap.h"
#include "module/table.h"

/*! \brief Most upstream addresses of one instance. */
#define TGC_FORWARD_TARGETS_MAX		64
/*! \brief Cap of the total time of one on-demand forward, in ms. */
#define TGC_FORWARD_BUDGET_MAX_MS	3000
/*!
 * \brief TTL cap of a stale answer, in seconds: short, so that resolvers
 *        come back for the fresh answer as soon as an upstream answers
 *        again (cheap: stale answers come from the cache).
 */
#define TGC_FORWARD_STALE_TTL		1
/*! \brief EDNS payload size announced to the upstreams. */
#define TGC_FORWARD_EDNS_PAYLOAD	1232

/*! \brief Verdict on a reply. */
typedef enum {
	TGC_FWD_OK           = 0, /*!< Accepted. */
	TGC_FWD_MALFORMED    = 1, /*!< Not parsable as a DNS message. */
	TGC_FWD_BAD_ID       = 2, /*!< ID differs from the query's. */
	TGC_FWD_NOT_RESPONSE = 3, /*!< QR bit clear. */
	TGC_FWD_BAD_OPCODE   = 4, /*!< Opcode is not QUERY. */
	TGC_FWD_BAD_QUESTION = 5, /*!< Not exactly our question. */
	TGC_FWD_BAD_SOURCE   = 6, /*!< From another address/port (the caller
	                           *   decides this one). */
	TGC_FWD_TSIG_MISSING = 7, /*!< Unsigned, but the upstream has a key. */
	TGC_FWD_TSIG_BAD     = 8, /*!< Signature (or its key/time) invalid. */
	TGC_FWD_BAD_SOA      = 9, /*!< Negative answer with a SOA outside the
	                           *   scope (not the zone's). */
	TGC_FWD_TRUNCATED    = 10, /*!< TC set in a reply over TCP. */
} tgc_fwd_verdict_t;

/*! \brief Outcome kinds of one try (counters `upstream-error` by index). */
typedef enum {
	TGC_FWD_ERR_TIMEOUT = 0, /*!< No acceptable reply in time. */
	TGC_FWD_ERR_NETWORK = 1, /*!< Refused/unreachable/socket error. */
	TGC_FWD_ERR_INVALID = 2, /*!< A reply was rejected (ID, question, ...). */
	TGC_FWD_ERR_TSIG    = 3, /*!< A reply failed TSIG. */
	TGC_FWD_ERR_RCODE   = 4, /*!< Valid reply with SERVFAIL, REFUSED etc. */
	TGC_FWD_ERR_COUNT   = 5,
	TGC_FWD_TRY_OK      = 6, /*!< Not an error: usable reply. */
} tgc_fwd_err_t;

/*! \brief What a reply must match (filled by tgc_forward_build()). */
typedef struct {
	uint16_t id;                  /*!< Query ID. */
	const knot_dname_t *qname;    /*!< Question name. */
	uint16_t qtype;               /*!< Question type. */
	uint16_t qclass;              /*!< Question class. */
	const knot_tsig_key_t *key;   /*!< TSIG key (NULL = unsigned). */
	uint8_t mac[64];              /*!< Request MAC of a signed query. */
	size_t mac_len;               /*!< Its length. */
	const knot_dname_t *scope;    /*!< Names a reply may carry: the
	                               *   translator's zone (NULL = any; not
	                               *   set by tgc_forward_build()). */
	bool tcp;                     /*!< The reply comes over TCP (not set by
	                               *   tgc_forward_build()). */
} tgc_fwd_sent_t;

/*! \brief One upstream address. */
typedef struct {
	struct sockaddr_storage addr; /*!< Address and port. */
	const knot_tsig_key_t *key;   /*!< Key of its remote (NULL = none). */
	char text[TGC_ADDR_STRLEN + 8]; /*!< "ADDR@PORT" for logs. */
} tgc_fwd_target_t;

/*! \brief Upstreams of one instance (immutable after load). */
typedef struct {
	const tgc_fwd_target_t *targets; /*!< In configuration order. */
	size_t count;                    /*!< Their number. */
	uint32_t timeout_ms;             /*!< Time bound of one try. */
	const knot_dname_t *scope;       /*!< Replies are confined to this name
	                                  *   and below (tgc_fwd_sent_t.scope;
	                                  *   NULL = not confined). */
	const knot_edns_client_subnet_t *ecs; /*!< EDNS Client Subnet option
	                                  *   every query carries (NULL =
	                                  *   none); set per forward on a copy. */
} tgc_fwd_conf_t;

/*! \brief Counts of one tgc_forward_query() call. */
typedef struct {
	uint32_t errors[TGC_FWD_ERR_COUNT]; /*!< Failed tries (and rejected
	                                     *   replies) by kind. */
	uint32_t failovers;                 /*!< Tries of a next target. */
	uint32_t tcp;                       /*!< TCP retries after TC. */
} tgc_fwd_stats_t;

/*!
 * \brief Called after each try (poller: upstream state).
 *
 * \param ctx     Callback context.
 * \param idx     Target index.
 * \param result  TGC_FWD_TRY_OK or the tgc_fwd_err_t of the failure.
 * \param rtt_us  Duration of the try.
 */
typedef void (*tgc_fwd_tried_f)(void *ctx, size_t idx, tgc_fwd_err_t result,
                                uint32_t rtt_us);

/*!
 * \brief Builds a query: random ID, RD clear, EDNS (with the client subnet
 *        option \a ecs unless NULL), signed with \a key.
 *
 * \param[in,out] query  Empty packet (max size >= 512 + TSIG room).
 * \param[out] sent      What the reply must match (keeps \a qname, \a key).
 *
 * \retval KNOT_EOK  Success.
 * \retval KNOT_E*   Error.
 */
int tgc_forward_build(knot_pkt_t *query, tgc_fwd_sent_t *sent,
                      const knot_dname_t *qname, uint16_t qtype,
                      uint16_t qclass, const knot_tsig_key_t *key,
                      const knot_edns_client_subnet_t *ecs);

/*!
 * \brief Validates a reply (pure apart from TSIG's clock).
 *
 * Checks, in order: header size, ID, QR, opcode, exactly one question equal
 * (case-insensitively) to the one asked, parsability, and TSIG when
 * \a sent has a key. Then what an authentic reply may say: over TCP
 * (sent->tcp) TC must be clear; with a scope (sent->scope), a negative
 * answer (NXDOMAIN, or no answer record at or below the scope) may only
 * carry SOA records owned by the scope or by a name between the scope and
 * the question (a zone cut below it), and every record outside the scope is
 * removed (tgc_forward_confine()). On TGC_FWD_OK \a reply is parsed (TSIG
 * stripped) and confined; its wire is left as received.
 *
 * \param[in,out] reply  Packet over the received wire (not yet parsed).
 * \param[in] sent       The query.
 */
tgc_fwd_verdict_t tgc_forward_validate(knot_pkt_t *reply,
                                       const tgc_fwd_sent_t *sent);

/*!
 * \brief Removes from a parsed reply every record whose owner is not the
 *        scope or below it (OPT and TSIG stay).
 *
 * Only the parsed sections change (knot_pkt_section(), knot_pkt_rr()); the
 * wire and its counts stay as received.
 *
 * \param[in,out] reply  Parsed packet.
 * \param[in] scope      Zone apex (any case).
 *
 * \return Number of records removed.
 */
size_t tgc_forward_confine(knot_pkt_t *reply, const knot_dname_t *scope);

/*! \brief Text of a verdict. */
const char *tgc_forward_verdict_str(tgc_fwd_verdict_t verdict);

/*! \brief Text of a try outcome. */
const char *tgc_forward_err_str(tgc_fwd_err_t err);

/*!
 * \brief Asks the targets one question, in order from \a first (wrapping),
 *        until one gives a valid reply with RCODE NOERROR or NXDOMAIN.
 *
 * Each try has its own socket: UDP connected to the target (random source
 * port chosen by the kernel), replies not passing tgc_forward_validate() are
 * counted and ignored while waiting, except that an authentic reply with
 * unusable content (TGC_FWD_BAD_SOA) ends the try at once; a truncated reply
 * is asked again over TCP, where TC is an error. Replies are confined to
 * conf->scope. Each try lasts at most conf->timeout_ms, all together
 * \a budget_ms.
 *
 * \param[in]  conf       Targets and per-try timeout.
 * \param[in]  first      Index of the first target to try.
 * \param[in]  qname      Question name.
 * \param[in]  qtype      Question type.
 * \param[in]  qclass     Question class.
 * \param[in]  budget_ms  Total time bound.
 * \param[in]  cancel_fd  Readable = give up at once (-1 = none).
 * \param[in]  mm         Memory of the reply (NULL = malloc).
 * \param[out] reply      Parsed reply (free with tgc_forward_reply_free()).
 * \param[out] used       Index of the target that answered (may be NULL).
 * \param[in,out] stats   Counts added to (may be NULL).
 * \param[in]  tried      Per-try callback (may be NULL).
 * \param[in]  tried_ctx  Its context.
 *
 * \retval KNOT_EOK       Reply in \a reply.
 * \retval KNOT_ETIMEOUT  No target gave a usable reply.
 * \retval KNOT_EAGAIN    Cancelled.
 * \retval KNOT_E*        Local error.
 */
int tgc_forward_query(const tgc_fwd_conf_t *conf, size_t first,
                      const knot_dname_t *qname, uint16_t qtype,
                      uint16_t qclass, uint32_t budget_ms, int cancel_fd,
                      knot_mm_t *mm, knot_pkt_t **reply, size_t *used,
                      tgc_fwd_stats_t *stats, tgc_fwd_tried_f tried,
                      void *tried_ctx);

/*!
 * \brief Frees a reply of tgc_forward_query() and its wire.
 *
 * \param reply  Reply (may be NULL).
 * \param mm     The memory context given to tgc_forward_query().
 */
void tgc_forward_reply_free(knot_pkt_t *reply, knot_mm_t *mm);

/*!
 * \brief Total time bound of an on-demand forward: timeout x targets,
 *        capped by TGC_FORWARD_BUDGET_MAX_MS (at least one timeout).
 */
uint32_t tgc_forward_budget_ms(const tgc_fwd_conf_t *conf);

/*!
 * \brief Stores a validated reply for (\a qname, A or AAAA) into a cache
 *        snapshot: the addresses owned by \a qname in answer order (at most
 *        TGC_CACHE_ADDRS_MAX), their smallest TTL, the RCODE, and for a
 *        negative answer the SOA of the authority section with
 *        min(TTL, MINIMUM) as the TTL.
 *
 * The cache serves every client: a reply whose client subnet option has a
 * non-zero scope (an answer for one subnet only) is not usable.
 *
 * \retval KNOT_EOK     Filled (valid, ok set; times left to the caller).
 * \retval KNOT_EINVAL  Not a usable answer (RCODE, type, ECS scope).
 */
int tgc_forward_extract(const knot_pkt_t *reply, const knot_dname_t *qname,
                        uint16_t qtype, tgc_cache_snap_t *out);

/*!
 * \brief Rewrites the addresses of an A or AAAA RRset in place by the most
 *        specific matching rule.
 *
 * \return Number of addresses rewritten (0 for other types).
 */
size_t tgc_forward_rewrite(knot_rrset_t *rr, const tgc_natmap_rule_t *rules,
                           size_t count);

/*! \brief State of a cached answer. */
typedef enum {
	TGC_CACHE_EMPTY   = 0, /*!< Never fetched. */
	TGC_CACHE_FRESH   = 1, /*!< Last poll good and recent. */
	TGC_CACHE_STALE   = 2, /*!< Upstreams failing (or poller late), answer
	                        *   younger than stale-limit. */
	TGC_CACHE_EXPIRED = 3, /*!< Older than stale-limit: SERVFAIL. */
} tgc_cache_state_t;

/*!
 * \brief Classifies a cached answer.
 *
 * Fresh: the last poll succeeded and the answer is at most \a fresh_ms old.
 * Otherwise stale while at most \a stale_limit_s old (counted from the last
 * good answer), then expired. A clock that went back counts as age 0.
 */
tgc_cache_state_t tgc_forward_cache_state(const tgc_cache_snap_t *snap,
                                          uint64_t now_ms, uint32_t fresh_ms,
                                          uint32_t stale_limit_s);

/*!
 * \brief How old a fresh answer may be: a poll interval plus the longest
 *        poll (A and AAAA, each timeout x targets), plus one timeout slack.
 */
uint32_t tgc_forward_fresh_ms(uint32_t interval_ms, const tgc_fwd_conf_t *conf);

/*!
 * \brief TTL of an answer served from the cache: min(upstream TTL, \a ttl)
 *        when fresh, min(\a ttl, TGC_FORWARD_STALE_TTL) when stale.
 */
uint32_t tgc_forward_cache_ttl(tgc_cache_state_t state, uint32_t upstream_ttl,
                               uint32_t ttl);

/*! \brief Log callback of the poller (printf-like). */
typedef void (*tgc_poller_log_f)(void *ctx, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*! \brief Counter callback: the counts of one poll query. */
typedef void (*tgc_poller_count_f)(void *ctx, const tgc_fwd_stats_t *stats);

/*! \brief Thread hook, called in the poller thread. */
typedef void (*tgc_poller_thread_f)(void *ctx);

/*! \brief Poller configuration. */
typedef struct {
	tgc_table_t *table;         /*!< Translator table (records = targets). */
	uint64_t writer_token;      /*!< Poll and write only while the header's
	                             *   writer equals this token. */
	const tgc_fwd_conf_t *fwd;  /*!< Upstreams (outlive the poller). */
	const knot_dname_t *name;   /*!< Cluster name (outlives the poller). */
	uint32_t interval_ms;       /*!< Time between polls. */
	uint32_t stale_limit_s;     /*!< For the expiry log message. */
	_Atomic uint32_t *preferred; /*!< Target that answered last: written by
	                             *   the poller, read by knotd workers (may
	                             *   be NULL). */
	tgc_poller_log_f log;       /*!< Logger (may be NULL). */
	tgc_poller_count_f count;   /*!< Counters (may be NULL). */
	tgc_poller_thread_f thread_start; /*!< First in the thread (may be NULL). */
	tgc_poller_thread_f thread_stop;  /*!< Last in the thread (may be NULL). */
	void *ctx;                  /*!< Passed to the callbacks. */
} tgc_poller_conf_t;

/*! \brief A running poller (opaque). */
typedef struct tgc_poller tgc_poller_t;

/*!
 * \brief Starts the poller thread; the first poll starts at once.
 *
 * \retval KNOT_EOK  Success.
 * \retval KNOT_E*   Thread, loop or eventfd creation failed.
 */
int tgc_poller_start(tgc_poller_t **out, const tgc_poller_conf_t *conf);

/*!
 * \brief Stops the poller: cancels a poll in flight, closes every handle,
 *        joins the thread and frees everything. No callback runs after it
 *        returns.
 */
void tgc_poller_stop(tgc_poller_t *poller);
