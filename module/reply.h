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
 * \brief NAT translator: queries to the upstreams and what their replies
 *        may say (pure).
 *
 * Building a query (tgc_forward_build), validating a reply
 * (tgc_forward_validate) and confining it to the zone
 * (tgc_forward_confine), extracting it into a cache record
 * (tgc_forward_extract), rewriting addresses (tgc_forward_rewrite) and the
 * state of a cached answer (tgc_forward_cache_state). No sockets, no
 * threads; time is passed in.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libknot/libknot.h>

#include "module/natmap.h"
#include "module/table.h"

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

/*!
 * \brief Builds a query: random ID, RD clear, EDNS (with the client subnet
 *        option \a ecs unless NULL, and the load report request when
 *        \a load_report, loadopt.h), signed with \a key.
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
                      const knot_edns_client_subnet_t *ecs, bool load_report);

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
 * A load report in the reply (loadopt.h) gives each address its sessions
 * and capacity (\a reported set); addresses it does not name, and all of
 * them without a usable report, get none and capacity 1 (100). The grant
 * slots are left to tgc_forward_slots().
 *
 * \retval KNOT_EOK     Filled (valid, ok set; times left to the caller).
 * \retval KNOT_EINVAL  Not a usable answer (RCODE, type, ECS scope).
 */
int tgc_forward_extract(const knot_pkt_t *reply, const knot_dname_t *qname,
                        uint16_t qtype, tgc_cache_snap_t *out);

/*!
 * \brief Gives each address of \a next its grant slot: the slot it had in
 *        \a prev (the answer cached before, may be NULL or invalid), else
 *        the free slot that was left longest ago.
 *
 * \param[in,out] left_ms  Per slot (TGC_CACHE_SLOTS): when its address
 *                         left the answer (0 = never used); updated.
 */
void tgc_forward_slots(const tgc_cache_snap_t *prev, tgc_cache_snap_t *next,
                       uint64_t *left_ms, uint64_t now_ms);

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
 * \brief TTL of an answer served from the cache: min(upstream TTL, \a ttl)
 *        when fresh, min(\a ttl, TGC_FORWARD_STALE_TTL) when stale.
 */
uint32_t tgc_forward_cache_ttl(tgc_cache_state_t state, uint32_t upstream_ttl,
                               uint32_t ttl);

