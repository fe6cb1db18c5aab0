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
 * \brief HTTP health probes: the request a probe sends and the parser of
 *        the response head (status line and header fields).
 *
 * Pure functions over byte buffers, no I/O: the checker (health.c) feeds
 * them what it reads, TLS or not. The parser reads only the head of a
 * response, at most TGC_HTTP_HEAD_MAX bytes, and never the body.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*! \brief Most response bytes a probe reads (status line and headers). */
#define TGC_HTTP_HEAD_MAX	4096
/*! \brief Longest `check-path`. */
#define TGC_HTTP_PATH_MAX	1024
/*! \brief Longest `check-host`. */
#define TGC_HTTP_HOST_MAX	255
/*! \brief Most `check-status` codes. */
#define TGC_HTTP_STATUS_MAX	32

/*! \brief Result of tgc_http_parse(). */
typedef enum {
	TGC_HTTP_MORE = 0, /*!< A valid prefix of a response head: read on. */
	TGC_HTTP_DONE = 1, /*!< A complete, valid head. */
	TGC_HTTP_BAD  = 2, /*!< Not an HTTP/1.x response head. */
} tgc_http_ret_t;

/*! \brief What the parser found. */
typedef struct {
	uint16_t status;   /*!< Status code (100-599), 0 until the status line
	                    *   is complete. */
	uint8_t major;     /*!< HTTP major version (1). */
	uint8_t minor;     /*!< HTTP minor version (digit). */
	uint16_t fields;   /*!< Header fields seen. */
	size_t head_len;   /*!< Length of the head including the empty line
	                    *   (DONE only). */
} tgc_http_resp_t;

/*!
 * \brief Parses the head of an HTTP/1.x response.
 *
 * Accepted: `HTTP/1.D SP DDD [SP reason] CRLF`, status 100-599, then header
 * fields `token ":" value CRLF` (value: visible characters, space, tab,
 * bytes 0x80-0xFF), then an empty line. A bare LF ends a line like CRLF.
 * Rejected: any other version, status out of range, control characters
 * (NUL included) in the reason or a value, a field name that is not a
 * token or has white space before the colon, obsolete line folding, a CR
 * not followed by LF. A head of more than TGC_HTTP_HEAD_MAX bytes is bad.
 *
 * \param[in]  buf  Bytes received so far from the start of the response.
 * \param[in]  len  Their number.
 * \param[out] out  Result details (may be NULL).
 */
tgc_http_ret_t tgc_http_parse(const uint8_t *buf, size_t len,
                              tgc_http_resp_t *out);

/*!
 * \brief Writes the probe request: `GET PATH HTTP/1.1` with Host, Accept,
 *        User-Agent and `Connection: close`.
 *
 * \return Length written (without the terminating zero), or 0 if it does
 *         not fit into \a size bytes or the path or host is not valid.
 */
size_t tgc_http_request(char *buf, size_t size, const char *path,
                        const char *host);

/*!
 * \brief Tells whether \a path may be sent as the request target: `/`
 *        followed by visible ASCII characters, at most TGC_HTTP_PATH_MAX.
 */
bool tgc_http_path_valid(const char *path);

/*!
 * \brief Tells whether \a host may be sent as the Host field and used as
 *        the expected TLS name: 1 to TGC_HTTP_HOST_MAX characters of
 *        letters, digits, `-._:[]` (a name, an address, `[v6]` or with a
 *        `:port`).
 */
bool tgc_http_host_valid(const char *host);

/*!
 * \brief Writes the default Host of a node: its address, IPv6 in brackets,
 *        with `:port` unless \a port is the scheme's default (80, or 443
 *        when \a tls).
 *
 * \return Length written, 0 if it does not fit.
 */
size_t tgc_http_default_host(char *buf, size_t size, const char *addr_text,
                             bool v6, uint16_t port, bool tls);

/*! \brief Tells whether \a status is one of the \a count codes. */
bool tgc_http_status_ok(uint16_t status, const uint16_t *codes, size_t count);
