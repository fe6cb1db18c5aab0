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

#include "module/ecs.h"

int tgc_ecs_for_client(const tgc_addr_t *client, unsigned prefix,
                       unsigned cap4, unsigned cap6,
                       knot_edns_client_subnet_t *out)
{
	if (client == NULL || out == NULL ||
	    (client->family != AF_INET && client->family != AF_INET6)) {
		return KNOT_EINVAL;
	}
	bool v4 = (client->family == AF_INET);
	unsigned cap = v4 ? cap4 : cap6;
	unsigned bits = v4 ? 32 : 128;
	unsigned len = (prefix < cap) ? prefix : cap;
	len = (len < bits) ? len : bits;

	tgc_addr_t masked = *client;
	tgc_addr_mask(&masked, len);
	memset(out, 0, sizeof(*out));
	out->family = v4 ? KNOT_ADDR_FAMILY_IPV4 : KNOT_ADDR_FAMILY_IPV6;
	out->source_len = (uint8_t)len;
	out->scope_len = 0;
	memcpy(out->address, masked.bytes, v4 ? 4 : 16);

	return KNOT_EOK;
}

int tgc_ecs_add(knot_rrset_t *opt, const knot_edns_client_subnet_t *ecs,
                knot_mm_t *mm)
{
	uint8_t data[4 + KNOT_EDNS_CLIENT_SUBNET_ADDRESS_MAXLEN];
	uint16_t size = knot_edns_client_subnet_size(ecs);
	if (size == 0 || size > sizeof(data)) {
		return KNOT_EINVAL;
	}
	int ret = knot_edns_client_subnet_write(data, size, ecs);
	if (ret != KNOT_EOK) {
		return ret;
	}

	return knot_edns_add_option(opt, KNOT_EDNS_OPTION_CLIENT_SUBNET, size,
	                            data, mm);
}

/*! \brief Address bytes of an ECS family (0: unknown family). */
static size_t family_len(uint16_t family)
{
	return (family == KNOT_ADDR_FAMILY_IPV4) ? 4 :
	       (family == KNOT_ADDR_FAMILY_IPV6) ? 16 : 0;
}

/*! \brief Tells whether the first \a bits of two addresses are equal. */
static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	size_t whole = bits / 8;
	if (memcmp(a, b, whole) != 0) {
		return false;
	}
	unsigned rest = bits % 8;
	if (rest == 0) {
		return true;
	}
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return ((a[whole] ^ b[whole]) & mask) == 0;
}

int tgc_ecs_reply_scope(const knot_pkt_t *reply,
                        const knot_edns_client_subnet_t *sent, unsigned *scope)
{
	*scope = 0;
	if (reply == NULL || reply->opt_rr == NULL) {
		return KNOT_EOK;
	}
	uint8_t *opt = knot_edns_get_option(reply->opt_rr,
	                                    KNOT_EDNS_OPTION_CLIENT_SUBNET, NULL);
	if (opt == NULL) {
		return KNOT_EOK;
	}
	knot_edns_client_subnet_t got;
	if (knot_edns_client_subnet_parse(&got, knot_edns_opt_get_data(opt),
	                                  knot_edns_opt_get_length(opt)) != KNOT_EOK) {
		return KNOT_EMALF;
	}
	size_t len = family_len(got.family);
	if (len == 0 || got.source_len > len * 8 || got.scope_len > len * 8) {
		return KNOT_EMALF;
	}
	if (sent == NULL) {
		return (got.scope_len == 0) ? KNOT_EOK : KNOT_EINVAL;
	}
	if (got.family != sent->family || got.source_len != sent->source_len ||
	    !prefix_equal(got.address, sent->address, sent->source_len)) {
		return KNOT_EINVAL;
	}
	*scope = got.scope_len;

	return KNOT_EOK;
}
