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
 * \brief EDNS Client Subnet (RFC 7871) between a translator and its
 *        upstreams: the option a forwarded query carries, and the check of
 *        the option in the reply.
 */

#pragma once

#include <stdbool.h>

#include <libknot/libknot.h>

#include "module/addr.h"

/*!
 * \brief Fills the option a forward carries for a client: the client's
 *        address masked to min(\a prefix, the cap of its family).
 *
 * \param[in]  client  Client address (or the subnet address of its ECS).
 * \param[in]  prefix  Bits of \a client that are known (the query's ECS
 *                     source prefix, or the full length).
 * \param[in]  cap4    Most bits sent of an IPv4 client (0..32).
 * \param[in]  cap6    Most bits sent of an IPv6 client (0..128).
 * \param[out] out     The option (scope 0).
 *
 * \retval KNOT_EOK     Filled.
 * \retval KNOT_EINVAL  Not an IPv4 or IPv6 address.
 */
int tgc_ecs_for_client(const tgc_addr_t *client, unsigned prefix,
                       unsigned cap4, unsigned cap6,
                       knot_edns_client_subnet_t *out);

/*!
 * \brief Appends \a ecs to the OPT record of a query being built.
 *
 * \retval KNOT_EOK  Added.
 * \retval KNOT_E*   Error (the OPT is left as it was or freed with \a mm
 *                   by the caller as usual).
 */
int tgc_ecs_add(knot_rrset_t *opt, const knot_edns_client_subnet_t *ecs,
                knot_mm_t *mm);

/*!
 * \brief Checks the ECS option of a parsed reply against the one sent and
 *        tells the scope the answer is valid for.
 *
 * RFC 7871: a reply without the option (a server without ECS support) is
 * valid for every client, scope 0. A reply with it must repeat the family,
 * source prefix and address sent; a reply to a query without ECS must not
 * carry one with a non-zero scope, since its answer would hold for one
 * subnet only.
 *
 * \param[in]  reply  Parsed reply.
 * \param[in]  sent   The option sent (NULL: none was sent).
 * \param[out] scope  Scope prefix of the answer (0: every client).
 *
 * \retval KNOT_EOK     Usable; \a scope set.
 * \retval KNOT_EMALF   Malformed option.
 * \retval KNOT_EINVAL  Option differs from the one sent (or is scoped
 *                      without one sent).
 */
int tgc_ecs_reply_scope(const knot_pkt_t *reply,
                        const knot_edns_client_subnet_t *sent, unsigned *scope);
