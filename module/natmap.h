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
 * \brief NAT/alias address mapping: `nat-base` and `nat-map` (`nat-client`
 *        ranges are knotd address ranges, matched by the glue).
 *
 * Clients behind a NAT must receive the LAN (alias) addresses that the NAT
 * translates to the nodes. A mapped address is computed per node at load
 * (base + node index, or the most specific `nat-map` rule); the answer path
 * picks the mapped or the original address per query, after health, policy
 * and `answers` have chosen the nodes.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "module/addr.h"

/*! \brief One `nat-map` rule: FROM/prefix maps onto TO/prefix. */
typedef struct {
	tgc_addr_t from;  /*!< Network (or address) matched. */
	tgc_addr_t to;    /*!< Replacement network (or address). */
	unsigned prefix;  /*!< Prefix length of both sides. */
} tgc_natmap_rule_t;

/*!
 * \brief Parses a `nat-map` value "FROM=TO" where each side is an address or
 *        ADDRESS/LEN; both sides must be of one family and one length, and
 *        TO must hold an address a node may have (a multicast network or a
 *        single unspecified or broadcast address is refused).
 *
 * \retval KNOT_EOK     Success.
 * \retval KNOT_EINVAL  Malformed (\a err says why).
 */
int tgc_natmap_rule_parse(const char *str, tgc_natmap_rule_t *out,
                          const char **err);

/*!
 * \brief Checks a set of rules: no two rules with the same FROM network.
 *
 * \param[out] bad  Index of the second of two clashing rules.
 *
 * \retval KNOT_EOK     Valid.
 * \retval KNOT_EINVAL  Clash (\a err says why).
 */
int tgc_natmap_rules_check(const tgc_natmap_rule_t *rules, size_t count,
                           const char **err, size_t *bad);

/*!
 * \brief The most specific rule matching \a in (NULL if none).
 */
const tgc_natmap_rule_t *tgc_natmap_match(const tgc_natmap_rule_t *rules,
                                          size_t count, const tgc_addr_t *in);

/*!
 * \brief Maps \a in by the most specific matching rule.
 *
 * Host bits beyond the prefix are kept, network bits are replaced.
 *
 * \return True if a rule matched (\a out set), false otherwise.
 */
bool tgc_natmap_apply(const tgc_natmap_rule_t *rules, size_t count,
                      const tgc_addr_t *in, tgc_addr_t *out);

/*!
 * \brief Checks `nat-base` against the nodes: one family, and base + (count -
 *        1) must not overflow.
 *
 * \retval KNOT_EOK     Valid.
 * \retval KNOT_EINVAL  Family mismatch (\a err says why).
 * \retval KNOT_ERANGE  Overflow.
 */
int tgc_natmap_base_check(const tgc_addr_t *base, const tgc_addr_t *nodes,
                          size_t count, const char **err);

/*!
 * \brief Computes the address answered in place of each node: \a base + i
 *        with a base, else the result of the most specific of \a rules (the
 *        node's own address when none matches). The section check and the
 *        load both use it, so that every configuration the check accepts
 *        loads.
 *
 * \param[in]  base        `nat-base`, or NULL to apply \a rules.
 * \param[out] mapped      \a count addresses.
 * \param[out] is_mapped   Whether node i is mapped (\a count entries, may be
 *                         NULL).
 * \param[out] bad         Index of the node that fails (may be NULL).
 * \param[out] err         Static reason on failure (may be NULL).
 *
 * \retval KNOT_EOK            Success.
 * \retval KNOT_EINVAL         `nat-base` of another family than a node.
 * \retval KNOT_ERANGE         base + index overflows the address space.
 * \retval KNOT_EADDRNOTAVAIL  A node would be answered as an address no node
 *                             may have (see tgc_addr_usable()): \a mapped[bad]
 *                             holds it.
 */
int tgc_natmap_nodes(const tgc_addr_t *base, const tgc_natmap_rule_t *rules,
                     size_t rule_count, const tgc_addr_t *nodes, size_t count,
                     tgc_addr_t *mapped, bool *is_mapped, size_t *bad,
                     const char **err);
