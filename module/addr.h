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
 * \brief IPv4/IPv6 address value type and arithmetic.
 *
 * Addresses are kept in network byte order in a fixed 16-byte buffer so that
 * they can be copied into shared memory and compared with memcmp().
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*! \brief Longest textual address incl. terminating zero (IPv6). */
#define TGC_ADDR_STRLEN	46

/*! \brief An IPv4 or IPv6 address (no port). */
typedef struct {
	uint8_t family;    /*!< AF_INET or AF_INET6 (0 = unset). */
	uint8_t len;       /*!< Number of significant bytes: 4 or 16. */
	uint8_t bytes[16]; /*!< Address in network byte order. */
} tgc_addr_t;

/*!
 * \brief Parses a strict IPv4 or IPv6 address literal (no port, no prefix).
 *
 * \param[in]  str  Text to parse.
 * \param[out] out  Parsed address.
 *
 * \retval KNOT_EOK     Success.
 * \retval KNOT_EINVAL  Not an address literal.
 */
int tgc_addr_parse(const char *str, tgc_addr_t *out);

/*!
 * \brief Parses "ADDR/LEN" or a bare "ADDR" (which means a host prefix).
 *
 * \param[in]  str     Text to parse.
 * \param[out] out     Parsed address.
 * \param[out] prefix  Parsed prefix length (32 or 128 for a bare address).
 *
 * \retval KNOT_EOK     Success.
 * \retval KNOT_EINVAL  Malformed text or prefix length out of range.
 */
int tgc_addr_parse_prefix(const char *str, tgc_addr_t *out, unsigned *prefix);

/*!
 * \brief Formats an address as text.
 *
 * \return Pointer to \a buf (contains "?" if the address is unset).
 */
const char *tgc_addr_format(const tgc_addr_t *addr, char *buf, size_t buf_len);

/*!
 * \brief Compares two addresses (family and bytes).
 */
bool tgc_addr_equal(const tgc_addr_t *a, const tgc_addr_t *b);

/*!
 * \brief Tells whether an address can be a node's: neither unspecified
 *        (0.0.0.0, ::) nor broadcast (255.255.255.255) nor multicast
 *        (224.0.0.0/4, ff00::/8). The one rule for `node` values and for the
 *        addresses `nat-base` and `nat-map` answer in their place.
 */
bool tgc_addr_usable(const tgc_addr_t *addr);

/*!
 * \brief Computes \a base + \a n treating the address as one big-endian integer.
 *
 * \retval KNOT_EOK     Success.
 * \retval KNOT_ERANGE  The result does not fit the address family.
 */
int tgc_addr_add(const tgc_addr_t *base, uint64_t n, tgc_addr_t *out);

/*!
 * \brief Tells whether the first \a prefix bits of \a addr equal those of \a net.
 *
 * Addresses of different families never match.
 */
bool tgc_addr_in_prefix(const tgc_addr_t *addr, const tgc_addr_t *net,
                        unsigned prefix);

/*!
 * \brief Clears all bits after the first \a prefix bits.
 */
void tgc_addr_mask(tgc_addr_t *addr, unsigned prefix);

/*!
 * \brief Converts a socket address to an address (the port is dropped).
 *
 * \retval KNOT_EOK     Success.
 * \retval KNOT_EINVAL  Neither AF_INET nor AF_INET6.
 */
int tgc_addr_from_sockaddr(const struct sockaddr_storage *ss, tgc_addr_t *out);

/*!
 * \brief Builds a socket address from an address and a port.
 */
void tgc_addr_to_sockaddr(const tgc_addr_t *addr, uint16_t port,
                          struct sockaddr_storage *ss);
