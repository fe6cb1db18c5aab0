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
#include <libknot/rrtype/opt.h>
#include <libknot/wire.h>

#include "module/loadopt.h"

/*! \brief IANA address family numbers (RFC 7871 uses the same). */
#define FAMILY_IP4	1
#define FAMILY_IP6	2

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
	knot_wire_write_u32(out + 2, e->sessions);
	knot_wire_write_u32(out + 6, e->capacity_x100);
	memcpy(out + TGC_LOADOPT_ENTRY_HDR, e->addr.bytes, alen);

	return TGC_LOADOPT_ENTRY_HDR + alen;
}

const uint8_t *tgc_loadopt_find(const knot_rrset_t *opt_rr, size_t *len)
{
	/* knot_pkt_edns_option() only indexes the options libknot knows. */
	uint8_t *opt = (opt_rr != NULL) ?
	               knot_edns_get_option(opt_rr, TGC_LOADOPT_CODE, NULL) : NULL;
	if (opt == NULL) {
		return NULL;
	}
	*len = knot_edns_opt_get_length(opt);
	return knot_edns_opt_get_data(opt);
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
			e->sessions = knot_wire_read_u32(p + 2);
			e->capacity_x100 = knot_wire_read_u32(p + 6);
			n++;
		}
		off += TGC_LOADOPT_ENTRY_HDR + alen;
	}
	*count = n;

	return KNOT_EOK;
}
