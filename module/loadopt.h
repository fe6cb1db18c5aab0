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
 * \brief The load report: a private EDNS option between our own instances
 *        that carries per-address load from a load balancer to a translator.
 *
 * Option code TGC_LOADOPT_CODE, from the range RFC 6891 leaves for local
 * and experimental use. A translator's poll asks with one byte of data, the
 * version. A load balancer that sees the option in a query for the cluster
 * name answers it with the version and, for every address in its answer,
 * one entry (all integers in network byte order):
 *
 * | bytes | field |
 * |-------|-------|
 * | 1 | family: 1 IPv4, 2 IPv6 (the IANA numbers ECS uses) |
 * | 1 | flags: TGC_LOADOPT_F_SESSIONS |
 * | 4 | sessions: the node's agent report plus the load balancer's grants |
 * | 4 | capacity x 100: weight x agent % x maxconn x slow-start share |
 * | 4 or 16 | the address as answered |
 *
 * A resolver never sends the option, so it never sees the reply either;
 * knotd signs the whole answer, the option with it, when the query has TSIG.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libknot/rrset.h>

#include "module/addr.h"

/*! \brief EDNS option code of the load report. */
#define TGC_LOADOPT_CODE	65350
/*! \brief Version of the format described above. */
#define TGC_LOADOPT_VERSION	1
/*! \brief Entry flag: the node's agent reports sessions. */
#define TGC_LOADOPT_F_SESSIONS	0x01u
/*! \brief Bytes of an entry before the address. */
#define TGC_LOADOPT_ENTRY_HDR	10
/*! \brief Largest entry (IPv6). */
#define TGC_LOADOPT_ENTRY_MAX	(TGC_LOADOPT_ENTRY_HDR + 16)

/*! \brief Load of one address. */
typedef struct {
	tgc_addr_t addr;        /*!< Address as answered. */
	uint8_t flags;          /*!< TGC_LOADOPT_F_*. */
	uint32_t sessions;      /*!< Sessions known to the load balancer. */
	uint32_t capacity_x100; /*!< Capacity in hundredths (0: takes none). */
} tgc_loadopt_entry_t;

/*! \brief Size of the option data for \a v4 IPv4 and \a v6 IPv6 entries. */
size_t tgc_loadopt_size(size_t v4, size_t v6);

/*!
 * \brief Writes one entry at \a out (room for TGC_LOADOPT_ENTRY_MAX).
 *
 * \return Bytes written; 0 when the address is neither IPv4 nor IPv6.
 */
size_t tgc_loadopt_write_entry(uint8_t *out, const tgc_loadopt_entry_t *e);

/*!
 * \brief Finds the load report option in an OPT record (NULL: none).
 *
 * \param[out] len  Length of its data.
 *
 * \return Its data, or NULL without an OPT record or the option.
 */
const uint8_t *tgc_loadopt_find(const knot_rrset_t *opt_rr, size_t *len);

/*!
 * \brief Tells whether the option data of a query asks for the report in a
 *        version this build answers (data of at least one byte whose first
 *        is TGC_LOADOPT_VERSION).
 */
bool tgc_loadopt_is_request(const uint8_t *data, size_t len);

/*!
 * \brief Parses the option data of a reply.
 *
 * \param[out] out    Room for \a max entries; entries past it are checked
 *                    but not stored.
 * \param[out] count  Entries stored.
 *
 * \retval KNOT_EOK      Parsed.
 * \retval KNOT_ENOTSUP  Another version (nothing stored).
 * \retval KNOT_EMALF    Empty, truncated, or an unknown family (nothing
 *                       usable: \a count is 0).
 */
int tgc_loadopt_parse(const uint8_t *data, size_t len, tgc_loadopt_entry_t *out,
                      size_t max, size_t *count);
