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
 * \brief The load report option: entry writer and parser.
 */

#include <string.h>
#include <sys/socket.h>

#include <libknot/errcode.h>

#include "module/loadopt.h"

/*! \brief IANA address family numbers (RFC 7871 uses the same). */
#define FAMILY_IP4	1
#define FAMILY_IP6	2

/*! \brief Big-endian 32-bit store and load. */
static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

size_t tgc_loadopt_size(size_t v4, size_t v6)
{
	return 1 + v4 * (TGC_LOADOPT_ENTRY_HDR + 4) +
	       v6 * (TGC_LOADOPT_ENTRY_HDR + 16);
}

size_t tgc_loadopt_write_entry(uint8_t *out, const tgc_loadopt_entry_t *e)
{
	if (e->addr.family != AF_INET && e->addr.family != AF_INET6) {
		return 0;
	}
	size_t alen = (e->addr.family == AF_INET) ? 4 : 16;
	out[0] = (e->addr.family == AF_INET) ? FAMILY_IP4 : FAMILY_IP6;
	out[1] = e->flags;
	put32(out + 2, e->sessions);
	put32(out + 6, e->capacity_x100);
	memcpy(out + TGC_LOADOPT_ENTRY_HDR, e->addr.bytes, alen);

	return TGC_LOADOPT_ENTRY_HDR + alen;
}

bool tgc_loadopt_is_request(const uint8_t *data, size_t len)
{
	return data != NULL && len >= 1 && data[0] == TGC_LOADOPT_VERSION;
}

int tgc_loadopt_parse(const uint8_t *data, size_t len, tgc_loadopt_entry_t *out,
                      size_t max, size_t *count)
{
	*count = 0;
	if (data == NULL || len < 1) {
		return KNOT_EMALF;
	}
	if (data[0] != TGC_LOADOPT_VERSION) {
		return KNOT_ENOTSUP;
	}
	size_t n = 0;
	size_t off = 1;
	while (off < len) {
		if (len - off < TGC_LOADOPT_ENTRY_HDR) {
			return KNOT_EMALF;
		}
		const uint8_t *p = data + off;
		size_t alen = (p[0] == FAMILY_IP4) ? 4 : (p[0] == FAMILY_IP6) ? 16 : 0;
		if (alen == 0 || len - off - TGC_LOADOPT_ENTRY_HDR < alen) {
			return KNOT_EMALF;
		}
		if (n < max) {
			tgc_loadopt_entry_t *e = &out[n];
			memset(e, 0, sizeof(*e));
			e->addr.family = (alen == 4) ? AF_INET : AF_INET6;
			e->addr.len = (uint8_t)alen;
			memcpy(e->addr.bytes, p + TGC_LOADOPT_ENTRY_HDR, alen);
			e->flags = p[1];
			e->sessions = get32(p + 2);
			e->capacity_x100 = get32(p + 6);
			n++;
		}
		off += TGC_LOADOPT_ENTRY_HDR + alen;
	}
	*count = n;

	return KNOT_EOK;
}
