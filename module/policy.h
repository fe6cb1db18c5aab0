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
 * \brief Answer ordering policies.
 *
 * A policy orders the eligible nodes of one query (given as node indexes in
 * ascending order) and says how many of them to answer. The functions are
 * pure apart from the per-thread state passed in, so each knotd worker keeps
 * its own state and no policy shares a cache line between workers.
 */

#pragma once

#include <stddef.h>
#include <stdint.h>

#include "module/addr.h"

/*! \brief Answer ordering policy. */
typedef enum {
	TGC_POLICY_ROUND_ROBIN = 0, /*!< Rotate the start per query. */
	TGC_POLICY_RANDOM      = 1, /*!< Uniform random order. */
	TGC_POLICY_ORDERED     = 2, /*!< Lowest node index first. */
	TGC_POLICY_STICKY      = 3, /*!< Rendezvous hash of the client subnet. */
	TGC_POLICY_LEAST_LOADED = 4, /*!< Lowest (sessions + grants) / capacity
	                              *   first (ordered in steer.c; here: kept
	                              *   as given). */
} tgc_policy_t;

/*! \brief Client prefix hashed by the sticky policy without ECS (IPv4). */
#define TGC_STICKY_PREFIX4	24
/*! \brief Client prefix hashed by the sticky policy without ECS (IPv6). */
#define TGC_STICKY_PREFIX6	56

/*! \brief Per-thread policy state (one per knotd worker, cache-line sized). */
typedef struct {
	uint64_t rr;  /*!< Round-robin counter. */
	uint64_t rng; /*!< PRNG state (xorshift64*, never 0). */
	uint32_t worker; /*!< Index of the worker owning the state (its
	                  *   block of steering state, steer.h). */
	uint8_t _pad[44];
} __attribute__((aligned(64))) tgc_policy_state_t;

/*!
 * \brief Seeds a per-thread state.
 */
void tgc_policy_state_init(tgc_policy_state_t *st, uint64_t seed);

/*!
 * \brief Stable key of a node (hash of address and port) for sticky.
 */
uint64_t tgc_policy_node_key(const tgc_addr_t *addr, uint16_t port);

/*!
 * \brief Key of a client for sticky: hash of \a client masked to \a prefix
 *        bits (use the ECS source prefix when present).
 */
uint64_t tgc_policy_client_key(const tgc_addr_t *client, unsigned prefix);

/*!
 * \brief Sticky key of a client: its subnet, at most TGC_STICKY_PREFIX4 or
 *        TGC_STICKY_PREFIX6 bits long (shorter when \a prefix is).
 *
 * \param[in]  client  Client address (the subnet address of its ECS).
 * \param[in]  prefix  Known bits of \a client (ECS source prefix, or the
 *                     full length).
 * \param[out] hashed  Prefix length the key was made of (the ECS scope of
 *                     the answer).
 */
uint64_t tgc_policy_sticky_key(const tgc_addr_t *client, unsigned prefix,
                               unsigned *hashed);

/*!
 * \brief Orders candidates in place and returns how many to answer.
 *
 * \param[in]     policy     Policy.
 * \param[in,out] cand       Node indexes, ascending on input.
 * \param[in]     count      Number of candidates.
 * \param[in]     limit      Most answers (0 = all).
 * \param[in,out] st         Per-thread state.
 * \param[in]     client     Client key (sticky only).
 * \param[in]     node_keys  Node keys by node index (sticky only).
 *
 * \return Number of leading entries of \a cand to answer.
 */
size_t tgc_policy_order(tgc_policy_t policy, uint32_t *cand, size_t count,
                        size_t limit, tgc_policy_state_t *st, uint64_t client,
                        const uint64_t *node_keys);

/*!
 * \brief As tgc_policy_order(), but a candidate whose representative (the
 *        first node answering the same address) is already among the
 *        answered ones is left out: the result is the policy's order of all
 *        candidates with every repeated address dropped, cut to \a limit.
 *
 * Linear in \a count for round-robin, ordered and random; sticky takes
 * O(answered x count) as without duplicates.
 *
 * \param[in]     rep   Representative by node index (rep[rep[i]] == rep[i]);
 *                      NULL: all addresses differ (as tgc_policy_order()).
 * \param[in,out] seen  Bitmap by node index (bit i: word i / 64, bit i % 64),
 *                      clear for every representative on input; the bits of
 *                      the answered representatives are set on return.
 *
 * \return Number of leading entries of \a cand to answer.
 */
size_t tgc_policy_order_unique(tgc_policy_t policy, uint32_t *cand, size_t count,
                               size_t limit, tgc_policy_state_t *st,
                               uint64_t client, const uint64_t *node_keys,
                               const uint32_t *rep, uint64_t *seen);
