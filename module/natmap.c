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

#include <netinet/in.h>
#include <string.h>

#include <libknot/errcode.h>

#include "module/natmap.h"

int tgc_natmap_rule_parse(const char *str, tgc_natmap_rule_t *out,
                          const char **err)
{
	const char *dummy;
	err = (err != NULL) ? err : &dummy;
	if (str == NULL || out == NULL) {
		*err = "missing value";
		return KNOT_EINVAL;
	}
	memset(out, 0, sizeof(*out));

	const char *eq = strchr(str, '=');
	if (eq == NULL || strchr(eq + 1, '=') != NULL) {
		*err = "expected FROM=TO";
		return KNOT_EINVAL;
	}
	char from[TGC_ADDR_STRLEN + 8];
	size_t from_len = (size_t)(eq - str);
	if (from_len == 0 || from_len >= sizeof(from)) {
		*err = "invalid FROM";
		return KNOT_EINVAL;
	}
	memcpy(from, str, from_len);
	from[from_len] = '\0';

	unsigned from_prefix = 0, to_prefix = 0;
	if (tgc_addr_parse_prefix(from, &out->from, &from_prefix) != KNOT_EOK) {
		*err = "invalid FROM address or prefix";
		return KNOT_EINVAL;
	}
	if (tgc_addr_parse_prefix(eq + 1, &out->to, &to_prefix) != KNOT_EOK) {
		*err = "invalid TO address or prefix";
		return KNOT_EINVAL;
	}
	if (out->from.family != out->to.family) {
		*err = "FROM and TO of different address families";
		return KNOT_EINVAL;
	}
	if (from_prefix != to_prefix) {
		*err = "FROM and TO prefix lengths differ";
		return KNOT_EINVAL;
	}
	out->prefix = from_prefix;
	/* Only the network part is significant. */
	tgc_addr_mask(&out->from, out->prefix);
	tgc_addr_mask(&out->to, out->prefix);
	/* Every address TO can produce is refused by tgc_addr_usable(): a
	 * host rule onto such an address, or a multicast network. */
	bool v4 = (out->to.family == AF_INET);
	if ((out->prefix == out->to.len * 8u && !tgc_addr_usable(&out->to)) ||
	    (v4 && out->prefix >= 4 && (out->to.bytes[0] & 0xf0) == 0xe0) ||
	    (!v4 && out->prefix >= 8 && out->to.bytes[0] == 0xff)) {
		*err = "TO is an unspecified, broadcast or multicast address or network";
		return KNOT_EINVAL;
	}

	return KNOT_EOK;
}

int tgc_natmap_rules_check(const tgc_natmap_rule_t *rules, size_t count,
                           const char **err, size_t *bad)
{
	for (size_t i = 1; i < count; i++) {
		for (size_t j = 0; j < i; j++) {
			if (rules[i].prefix == rules[j].prefix &&
			    tgc_addr_equal(&rules[i].from, &rules[j].from)) {
				if (err != NULL) {
					*err = "two rules map the same FROM";
				}
				if (bad != NULL) {
					*bad = i;
				}
				return KNOT_EINVAL;
			}
		}
	}

	return KNOT_EOK;
}

const tgc_natmap_rule_t *tgc_natmap_match(const tgc_natmap_rule_t *rules,
                                          size_t count, const tgc_addr_t *in)
{
	const tgc_natmap_rule_t *best = NULL;
	for (size_t i = 0; i < count; i++) {
		if ((best == NULL || rules[i].prefix > best->prefix) &&
		    tgc_addr_in_prefix(in, &rules[i].from, rules[i].prefix)) {
			best = &rules[i];
		}
	}

	return best;
}

bool tgc_natmap_apply(const tgc_natmap_rule_t *rules, size_t count,
                      const tgc_addr_t *in, tgc_addr_t *out)
{
	const tgc_natmap_rule_t *best = tgc_natmap_match(rules, count, in);
	if (best == NULL) {
		return false;
	}

	/* Network bits from TO, host bits from the input. */
	tgc_addr_t res = *in;
	unsigned bits = best->prefix;
	for (unsigned i = 0; i < res.len && bits > 0; i++) {
		uint8_t mask = (bits >= 8) ? 0xff : (uint8_t)(0xff << (8 - bits));
		res.bytes[i] = (uint8_t)((best->to.bytes[i] & mask) |
		                         (res.bytes[i] & (uint8_t)~mask));
		bits = (bits >= 8) ? bits - 8 : 0;
	}
	*out = res;

	return true;
}

int tgc_natmap_base_check(const tgc_addr_t *base, const tgc_addr_t *nodes,
                          size_t count, const char **err)
{
	const char *dummy;
	err = (err != NULL) ? err : &dummy;
	for (size_t i = 0; i < count; i++) {
		if (nodes[i].family != base->family) {
			*err = "address family differs from the nodes'";
			return KNOT_EINVAL;
		}
	}
	tgc_addr_t last;
	if (count > 0 && tgc_addr_add(base, count - 1, &last) != KNOT_EOK) {
		*err = "base + node count overflows the address space";
		return KNOT_ERANGE;
	}

	return KNOT_EOK;
}

int tgc_natmap_nodes(const tgc_addr_t *base, const tgc_natmap_rule_t *rules,
                     size_t rule_count, const tgc_addr_t *nodes, size_t count,
                     tgc_addr_t *mapped, bool *is_mapped, size_t *bad,
                     const char **err)
{
	const char *dummy_err;
	size_t dummy_bad;
	err = (err != NULL) ? err : &dummy_err;
	bad = (bad != NULL) ? bad : &dummy_bad;
	if (base != NULL) {
		int ret = tgc_natmap_base_check(base, nodes, count, err);
		if (ret != KNOT_EOK) {
			return ret;
		}
	}

	for (size_t i = 0; i < count; i++) {
		bool hit = true;
		if (base != NULL) {
			if (tgc_addr_add(base, i, &mapped[i]) != KNOT_EOK) {
				*err = "base + node count overflows the address space";
				*bad = i;
				return KNOT_ERANGE;
			}
		} else if (!tgc_natmap_apply(rules, rule_count, &nodes[i], &mapped[i])) {
			mapped[i] = nodes[i];
			hit = false;
		}
		if (is_mapped != NULL) {
			is_mapped[i] = hit;
		}
		if (hit && !tgc_addr_usable(&mapped[i])) {
			*err = "unspecified, broadcast or multicast address";
			*bad = i;
			return KNOT_EADDRNOTAVAIL;
		}
	}

	return KNOT_EOK;
}
