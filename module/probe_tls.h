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
 * \brief TLS client sessions of the https and tls probes: GnuTLS over a
 *        libuv TCP stream, non-blocking.
 *
 * GnuTLS never touches the socket: its push function queues a uv_write()
 * of a copy of the bytes, its pull function takes bytes that the checker
 * fed from its uv_read callback (tgc_tls_feed()) and reports EAGAIN when
 * none are left. The checker calls tgc_tls_handshake() and tgc_tls_recv()
 * again after each feed. Everything runs in the checker thread; the
 * credentials are built at load and only read afterwards.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

/*! \brief Credentials shared by the sessions of one checker. */
typedef struct tgc_tls_creds tgc_tls_creds_t;

/*! \brief One client session (opaque). */
typedef struct tgc_tls tgc_tls_t;

/*!
 * \brief Builds the credentials: trust anchors for verification.
 *
 * \param[out] out      Credentials.
 * \param[in]  verify   Verify the server certificate (chain and name).
 * \param[in]  ca_file  PEM file of trusted CAs; NULL = the system CAs.
 * \param[out] err      Static reason on failure.
 *
 * \retval KNOT_EOK     Success.
 * \retval KNOT_EINVAL  The CA file holds no certificate or cannot be read.
 * \retval KNOT_ENOMEM  Out of memory.
 */
int tgc_tls_creds_new(tgc_tls_creds_t **out, bool verify, const char *ca_file,
                      const char **err);

/*! \brief Frees credentials no session uses any more. */
void tgc_tls_creds_free(tgc_tls_creds_t *creds);

/*!
 * \brief Starts a client session writing to \a stream.
 *
 * \param[in] name  Expected server name: sent as SNI unless it is an IP
 *                  address, and checked against the certificate when the
 *                  credentials verify. Must stay valid until tgc_tls_free()
 *                  (GnuTLS keeps the pointer).
 *
 * \retval KNOT_EOK     Success.
 * \retval KNOT_E*      GnuTLS or memory failure.
 */
int tgc_tls_new(tgc_tls_t **out, tgc_tls_creds_t *creds, uv_stream_t *stream,
                const char *name);

/*! \brief Hands bytes read from the stream to the session (copied). */
int tgc_tls_feed(tgc_tls_t *tls, const uint8_t *data, size_t len);

/*! \brief Outcome of tgc_tls_handshake(). */
typedef enum {
	TGC_TLS_DONE  = 0, /*!< Handshake (and verification) complete. */
	TGC_TLS_AGAIN = 1, /*!< Needs more input: feed and call again. */
	TGC_TLS_FAIL  = 2, /*!< Handshake failed (protocol, alert, closed). */
	TGC_TLS_CERT  = 3, /*!< The certificate failed verification. */
} tgc_tls_ret_t;

/*!
 * \brief Advances the handshake with the bytes fed so far.
 *
 * \param[out] why  Static reason on FAIL or CERT (may be NULL).
 */
tgc_tls_ret_t tgc_tls_handshake(tgc_tls_t *tls, const char **why);

/*!
 * \brief Sends application data (queued on the stream).
 *
 * \retval KNOT_EOK  Queued.
 * \retval KNOT_E*   Session error.
 */
int tgc_tls_send(tgc_tls_t *tls, const void *data, size_t len);

/*!
 * \brief Reads application data decrypted from the bytes fed so far.
 *
 * \return Bytes read (> 0), 0 when the server closed the session,
 *         KNOT_EAGAIN when more input is needed, another KNOT_E* on error.
 */
ssize_t tgc_tls_recv(tgc_tls_t *tls, void *buf, size_t len);

/*!
 * \brief Offers a session saved by tgc_tls_save() for resumption; call
 *        before the first tgc_tls_handshake(). A server that refuses it
 *        gets a full handshake (with verification).
 */
int tgc_tls_resume(tgc_tls_t *tls, const void *data, size_t len);

/*!
 * \brief Saves the session for a later resumption (after the handshake and
 *        once the server's session ticket may have arrived).
 *
 * \param[out] data  malloc()ed copy, to be freed by the caller.
 *
 * \retval KNOT_EOK     Saved.
 * \retval KNOT_ENOENT  Nothing to resume (no ticket, no handshake).
 */
int tgc_tls_save(tgc_tls_t *tls, void **data, size_t *len);

/*! \brief Tells whether the completed handshake resumed a session. */
bool tgc_tls_resumed(tgc_tls_t *tls);

/*!
 * \brief Frees a session. Writes it queued complete (or are cancelled when
 *        the stream closes) without it.
 */
void tgc_tls_free(tgc_tls_t *tls);
