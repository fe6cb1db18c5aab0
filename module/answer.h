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
 * \brief Answer path: which nodes answer a query, and writing them into the
 *        response packet.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libknot/libknot.h>

#include "module/policy.h"
#include "module/steer.h"
#include "module/table.h"

/*! \brief What to answer when no node is live. */
typedef enum {
	TGC_ALL_DOWN_ALL      = 0, /*!< Every configured node (not admin-down). */
	TGC_ALL_DOWN_SERVFAIL = 1, /*!< SERVFAIL. */
	TGC_ALL_DOWN_NODATA   = 2, /*!< NOERROR, empty answer. */
} tgc_all_down_t;

/*! \brief Outcome of a selection. */
typedef enum {
	TGC_ANSWER_LIVE     = 0, /*!< Live auto/up nodes. */
	TGC_ANSWER_DRAIN    = 1, /*!< Only drained nodes were live. */
	TGC_ANSWER_ALL      = 2, /*!< All down: every configured node. */
	TGC_ANSWER_SERVFAIL = 3, /*!< All down: answer SERVFAIL. */
	TGC_ANSWER_NODATA   = 4, /*!< All down (or no node at all): NODATA. */
} tgc_answer_kind_t;

/*! \brief Nodes of one address family, by index into the table. */
typedef struct {
	const uint32_t *idx; /*!< Node indexes, ascending. */
	size_t count;        /*!< Their number. */
} tgc_answer_family_t;

/*! \brief Read-only view an instance gives the answer path. */
typedef struct {
	const tgc_table_t *table;       /*!< Live table. */
	tgc_answer_family_t v4;         /*!< IPv4 nodes. */
	tgc_answer_family_t v6;         /*!< IPv6 nodes. */
	const uint64_t *node_keys;      /*!< Sticky keys by node index. */
	tgc_policy_t policy;            /*!< Ordering policy. */
	uint32_t answers;               /*!< Most records (0 = all). */
	tgc_all_down_t all_down;        /*!< All-down behaviour. */
	uint32_t node_count;            /*!< Number of nodes (entries of the
	                                 *   representative arrays). */
	const uint32_t *rep;            /*!< Per node: the first node with the
	                                 *   same address (tgc_answer_reps());
	                                 *   NULL when all addresses differ. */
	const uint32_t *rep_mapped;     /*!< The same over the mapped (NAT)
	                                 *   addresses; NULL when they all differ
	                                 *   or nothing is mapped. */
	uint32_t backup_from;           /*!< First backup node index (backups
	                                 *   follow the primaries); 0 = no
	                                 *   backups. */
	uint32_t backup_when;           /*!< Backups answer while fewer primaries
	                                 *   of the family are live (>= 1). */
	tgc_steer_t *steer;             /*!< Steering by sessions (least-loaded
	                                 *   order, watermarks, grants); NULL =
	                                 *   none. */
} tgc_answer_cfg_t;

/*!
 * \brief Selects and orders the nodes answering one query.
 *
 * Eligible: admin up; admin auto and not health down (unknown counts as up).
 * If none, admin drain and not health down. If none, the all-down behaviour.
 * Admin down is never answered.
 *
 * Backup nodes (index >= backup_from) are left out while at least
 * backup_when primaries of the family are live (admin up, or auto and not
 * down); below that, primaries and backups are one set for the rules above
 * (live, then drained, then all-down over both tiers). With watermarks
 * (\a cfg steer), a live node over its high watermark counts as drained.
 * With least-loaded, the candidates are ordered by load (steer.h); the
 * caller grants the node it answers first (tgc_answer_grant()) when the
 * answer goes to a client. An address is answered once: of the nodes
 * sharing it, the first in the policy's order stands for it (the
 * representatives of \a cfg, by node or by mapped address); `answers`
 * counts addresses. The cost is linear in the number of nodes whether or not
 * they share addresses.
 *
 * \param[in]  cfg     Instance view.
 * \param[in]  family  AF_INET (A) or AF_INET6 (AAAA).
 * \param[in]  mapped  The answer carries the mapped addresses.
 * \param[in,out] st   Per-thread policy state.
 * \param[in]  client  Sticky client key.
 * \param[out] out     Selected node indexes, in answer order (room for every
 *                     node of the family).
 * \param[out] count   Number of selected nodes.
 *
 * \return What kind of answer this is.
 */
tgc_answer_kind_t tgc_answer_select(const tgc_answer_cfg_t *cfg, int family,
                                    bool mapped, tgc_policy_state_t *st,
                                    uint64_t client, uint32_t *out,
                                    size_t *count);

/*!
 * \brief Counts the answer tgc_answer_select() chose as a grant for its
 *        first node (the client opens its session there): nothing without
 *        steering state, no node, or an all-down answer.
 */
static inline void tgc_answer_grant(const tgc_answer_cfg_t *cfg,
                                    const tgc_policy_state_t *st,
                                    tgc_answer_kind_t kind, const uint32_t *out,
                                    size_t count)
{
	if (cfg->steer != NULL && count > 0 && kind != TGC_ANSWER_ALL) {
		tgc_steer_grant(cfg->steer, st->worker, out[0], tgc_steer_now_ms());
	}
}

/*!
 * \brief Computes the representative of each of \a count addresses: the index
 *        of the first address equal to it (its own index if none precedes).
 *        O(count log count).
 *
 * \param[out] rep  \a count entries.
 *
 * \retval KNOT_EOK     Some addresses are equal.
 * \retval KNOT_ENOENT  All differ (\a rep holds every own index).
 * \retval KNOT_ENOMEM  Out of memory.
 */
int tgc_answer_reps(const tgc_addr_t *addrs, size_t count, uint32_t *rep);

/*!
 * \brief Puts one A or AAAA RRset with the given addresses, in the given order,
 *        into the answer section.
 *
 * \param[in,out] pkt    Response (current section must be the answer).
 * \param[in]  owner     Owner name (the QNAME from the query, compressed).
 * \param[in]  rtype     KNOT_RRTYPE_A or KNOT_RRTYPE_AAAA.
 * \param[in]  ttl       TTL.
 * \param[in]  addrs     Addresses (family must match \a rtype).
 * \param[in]  count     Their number (> 0).
 * \param[in]  mm        Memory context living as long as the packet.
 *
 * \retval KNOT_EOK     Written.
 * \retval KNOT_ESPACE  Did not fit: nothing written, TC bit set.
 * \retval KNOT_E*      Other error.
 */
int tgc_answer_put(knot_pkt_t *pkt, const knot_dname_t *owner, uint16_t rtype,
                   uint32_t ttl, const tgc_addr_t *const *addrs, size_t count,
                   knot_mm_t *mm);

/*!
 * \brief Length of the two names of SOA rdata, or 0 if they are not two
 *        uncompressed names followed by the 20 bytes of numbers within the
 *        rdata. SOA rdata from an upstream or from the shared segment must
 *        pass this before knot_soa_*() read it (they do not check bounds).
 */
size_t tgc_answer_soa_names_len(const knot_rdata_t *rd);

/*!
 * \brief Puts a copy of the zone's SOA into the authority section with its TTL
 *        and MINIMUM capped to \a ttl, so that a NODATA answer is cached no
 *        longer than a positive one.
 *
 * \retval KNOT_EOK     Written (or \a soa empty: nothing to write).
 * \retval KNOT_EMALF   The rdata is not a well-formed SOA (two uncompressed
 *                      names and 20 bytes): nothing written.
 * \retval KNOT_E*      Error.
 */
int tgc_answer_put_soa(knot_pkt_t *pkt, const knot_rrset_t *soa, uint32_t ttl,
                       knot_mm_t *mm);
