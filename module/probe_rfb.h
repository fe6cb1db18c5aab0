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
 * \brief The client side of the RFB handshake up to the security types, as
 *        the rfb health check speaks it (RFC 6143, sections 7.1.1 and 7.1.2).
 *
 * A pure, incremental parser: the caller feeds the bytes the server sends in
 * pieces of any size, sends the version reply when asked to, and learns at
 * the end whether the server offers a security type (it will serve viewers),
 * refuses the client with a reason (it is alive but turns this client away,
 * e.g. a blacklist), or breaks the protocol. It never touches a socket.
 *
 * The exchange:
 *   server: "RFB xxx.yyy\n" (ProtocolVersion, 12 bytes)
 *   client: "RFB 003.003\n", "RFB 003.007\n" or "RFB 003.008\n"
 *   3.7/3.8 server: u8 count, then count security types (u8 each);
 *                   count 0: u32 reason length, reason
 *   3.3 server:     u32 security type; 0: u32 reason length, reason
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*! \brief Length of a ProtocolVersion message ("RFB 003.008\n"). */
#define TGC_RFB_VERSION_LEN	12
/*! \brief Most reason bytes kept (the rest is neither read nor kept). */
#define TGC_RFB_REASON_MAX	128

/*! \brief Result of feeding bytes to the parser. */
typedef enum {
	TGC_RFB_MORE       = 0, /*!< Needs more bytes. */
	TGC_RFB_SEND       = 1, /*!< The server's version is in: send
	                         *   tgc_rfb_reply(), then feed the rest. */
	TGC_RFB_OFFERED    = 2, /*!< The server offers at least one security
	                         *   type: it accepts clients. */
	TGC_RFB_REFUSED    = 3, /*!< The server offers no security type; its
	                         *   reason is in \a reason. */
	TGC_RFB_BAD_BANNER = 4, /*!< Not an RFB version message, or a version
	                         *   older than 3.3. */
	TGC_RFB_BAD        = 5, /*!< A valid version, then a handshake that
	                         *   breaks the protocol or ends early. */
} tgc_rfb_status_t;

/*! \brief Parser state (one per connection; plain data, no allocation). */
typedef struct {
	uint8_t phase;        /*!< Internal: what the next bytes are. */
	uint8_t minor;        /*!< Minor version answered (3, 7 or 8), 0 until
	                       *   the version is in. */
	uint8_t banner[TGC_RFB_VERSION_LEN]; /*!< Version bytes received. */
	uint8_t banner_len;   /*!< Number of them. */
	uint8_t word[4];      /*!< Big-endian integer being read. */
	uint8_t word_len;     /*!< Bytes of it received. */
	uint32_t left;        /*!< Types still to read, or reason bytes still
	                       *   to keep. */
	uint32_t types;       /*!< Non-zero (valid) security types seen. */
	uint32_t reason_total; /*!< Reason length the server announced. */
	char reason[TGC_RFB_REASON_MAX + 1]; /*!< Reason kept, printable ASCII
	                       *   (other bytes as '?'), NUL-terminated. */
	uint32_t reason_len;  /*!< Bytes of reason kept. */
	tgc_rfb_status_t status; /*!< Final status once reached, else MORE. */
} tgc_rfb_t;

/*! \brief Resets \a p for a new connection. */
void tgc_rfb_init(tgc_rfb_t *p);

/*!
 * \brief Feeds \a len bytes the server sent.
 *
 * Consumes bytes up to the next event and stores their number in \a used
 * (may be NULL): after TGC_RFB_SEND the caller sends the reply and feeds the
 * unused rest; after a final status (OFFERED, REFUSED, BAD_BANNER, BAD) the
 * parser takes no more bytes and returns that status again.
 */
tgc_rfb_status_t tgc_rfb_feed(tgc_rfb_t *p, const uint8_t *data, size_t len,
                              size_t *used);

/*!
 * \brief The server closed the connection (or reset it): the final status.
 *
 * Nothing received is BAD_BANNER as well as a partial version; a refusal
 * whose reason was cut short is still REFUSED (with the part received);
 * any other incomplete handshake is BAD.
 */
tgc_rfb_status_t tgc_rfb_eof(tgc_rfb_t *p);

/*!
 * \brief The version message to send after TGC_RFB_SEND
 *        (TGC_RFB_VERSION_LEN bytes, static storage).
 *
 * The highest of 3.3, 3.7 and 3.8 not above the server's version: 3.3 for
 * 3.3 to 3.6 (3.5 and others are read as 3.3, RFC 6143 7.1.1), 3.7 for 3.7,
 * 3.8 for 3.8 and anything newer. NULL before the version is in.
 */
const uint8_t *tgc_rfb_reply(const tgc_rfb_t *p);

/*!
 * \brief Tells whether \a buf holds exactly a valid ProtocolVersion message
 *        ("RFB xxx.yyy\n", x and y digits, 12 bytes).
 */
bool tgc_rfb_version_valid(const uint8_t *buf, size_t len);
