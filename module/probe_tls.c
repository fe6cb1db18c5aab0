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

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <libknot/errcode.h>

#include "module/probe_tls.h"

/*! \brief Most input bytes a session buffers (a server's first flight
 *         with its certificate chain fits easily). */
#define TLS_IN_MAX	(64 * 1024)

struct tgc_tls_creds {
	gnutls_certificate_credentials_t cred; /*!< Trust anchors. */
	gnutls_priority_t priority;            /*!< Default priorities, parsed
	                                        *   once. */
	bool verify;                           /*!< Verify the server. */
};

struct tgc_tls {
	gnutls_session_t session; /*!< The GnuTLS session. */
	uv_stream_t *stream;      /*!< Where pushed bytes go. */
	uint8_t *in;              /*!< Fed bytes not yet pulled. */
	size_t in_off;            /*!< First unpulled byte. */
	size_t in_len;            /*!< End of the fed bytes. */
	size_t in_cap;            /*!< Size of \a in. */
	bool push_failed;         /*!< A write could not be queued. */
};

/*! \brief A queued write and its copy of the bytes. */
typedef struct {
	uv_write_t req;
	uint8_t data[];
} tls_write_t;

int tgc_tls_creds_new(tgc_tls_creds_t **out, bool verify, const char *ca_file,
                      const char **err)
{
	tgc_tls_creds_t *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return KNOT_ENOMEM;
	}
	if (gnutls_certificate_allocate_credentials(&c->cred) != GNUTLS_E_SUCCESS) {
		free(c);
		return KNOT_ENOMEM;
	}
	c->verify = verify;
	/* The default priorities with X25519 as the first group: its key
	 * share (the only one sent) is the cheapest to make. */
	if (gnutls_priority_init2(&c->priority, "-GROUP-ALL:+GROUP-X25519:"
	                          "+GROUP-SECP256R1:+GROUP-SECP384R1:"
	                          "+GROUP-SECP521R1:+GROUP-X448:+GROUP-FFDHE2048:"
	                          "+GROUP-FFDHE3072", NULL,
	                          GNUTLS_PRIORITY_INIT_DEF_APPEND) != GNUTLS_E_SUCCESS) {
		gnutls_certificate_free_credentials(c->cred);
		free(c);
		return KNOT_ENOMEM;
	}
	if (verify) {
		int ret = (ca_file != NULL) ?
		          gnutls_certificate_set_x509_trust_file(c->cred, ca_file,
		                                                 GNUTLS_X509_FMT_PEM) :
		          gnutls_certificate_set_x509_system_trust(c->cred);
		if (ret <= 0) {
			if (err != NULL) {
				*err = (ca_file != NULL) ?
				       "no CA certificate could be read from the file" :
				       "no system CA certificate could be loaded";
			}
			gnutls_priority_deinit(c->priority);
			gnutls_certificate_free_credentials(c->cred);
			free(c);
			return KNOT_EINVAL;
		}
	}

	*out = c;
	return KNOT_EOK;
}

void tgc_tls_creds_free(tgc_tls_creds_t *creds)
{
	if (creds == NULL) {
		return;
	}
	gnutls_priority_deinit(creds->priority);
	gnutls_certificate_free_credentials(creds->cred);
	free(creds);
}

/*! \brief Write completion: frees the copy (also on cancellation). */
static void on_write(uv_write_t *req, int status)
{
	(void)status;
	free(req->data);
}

/*! \brief GnuTLS push: queue a copy of the bytes on the stream. */
static ssize_t tls_push(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
	tgc_tls_t *tls = ptr;
	tls_write_t *w = malloc(sizeof(*w) + len);
	if (w == NULL) {
		tls->push_failed = true;
		gnutls_transport_set_errno(tls->session, ENOMEM);
		return -1;
	}
	memcpy(w->data, data, len);
	w->req.data = w;
	uv_buf_t buf = uv_buf_init((char *)w->data, (unsigned)len);
	if (uv_write(&w->req, tls->stream, &buf, 1, on_write) != 0) {
		free(w);
		tls->push_failed = true;
		gnutls_transport_set_errno(tls->session, EPIPE);
		return -1;
	}
	return (ssize_t)len;
}

/*! \brief GnuTLS pull: bytes fed so far, EAGAIN when none. */
static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
	tgc_tls_t *tls = ptr;
	size_t avail = tls->in_len - tls->in_off;
	if (avail == 0) {
		gnutls_transport_set_errno(tls->session, EAGAIN);
		return -1;
	}
	size_t n = (len < avail) ? len : avail;
	memcpy(data, tls->in + tls->in_off, n);
	tls->in_off += n;
	if (tls->in_off == tls->in_len) {
		tls->in_off = tls->in_len = 0;
	}
	return (ssize_t)n;
}

/*! \brief Tells whether \a name is an IPv4 or IPv6 address (no SNI then). */
static bool is_ip(const char *name)
{
	uint8_t buf[16];
	return inet_pton(AF_INET, name, buf) == 1 ||
	       inet_pton(AF_INET6, name, buf) == 1;
}

int tgc_tls_new(tgc_tls_t **out, tgc_tls_creds_t *creds, uv_stream_t *stream,
                const char *name)
{
	if (out == NULL || creds == NULL || stream == NULL || name == NULL) {
		return KNOT_EINVAL;
	}
	tgc_tls_t *tls = calloc(1, sizeof(*tls));
	if (tls == NULL) {
		return KNOT_ENOMEM;
	}
	tls->stream = stream;
	/* One key share (the preferred group, X25519) in the ClientHello
	 * rather than one per group kind: the second key generation would be
	 * most of a resumed probe's CPU. A server without that group asks
	 * for another (one more round trip). */
	if (gnutls_init(&tls->session, GNUTLS_CLIENT | GNUTLS_NONBLOCK |
	                               GNUTLS_KEY_SHARE_TOP) !=
	    GNUTLS_E_SUCCESS) {
		free(tls);
		return KNOT_ENOMEM;
	}
	int ret = gnutls_priority_set(tls->session, creds->priority);
	if (ret == GNUTLS_E_SUCCESS) {
		ret = gnutls_credentials_set(tls->session, GNUTLS_CRD_CERTIFICATE,
		                             creds->cred);
	}
	if (ret == GNUTLS_E_SUCCESS && !is_ip(name)) {
		ret = gnutls_server_name_set(tls->session, GNUTLS_NAME_DNS, name,
		                             strlen(name));
	}
	if (ret != GNUTLS_E_SUCCESS) {
		tgc_tls_free(tls);
		return KNOT_ERROR;
	}
	if (creds->verify) {
		/* Chain to a trusted CA, validity dates, and the name (an IP
		 * address is matched against the certificate's IP entries). */
		gnutls_session_set_verify_cert(tls->session, name, 0);
	}
	gnutls_transport_set_ptr(tls->session, tls);
	gnutls_transport_set_push_function(tls->session, tls_push);
	gnutls_transport_set_pull_function(tls->session, tls_pull);

	*out = tls;
	return KNOT_EOK;
}

int tgc_tls_feed(tgc_tls_t *tls, const uint8_t *data, size_t len)
{
	if (len == 0) {
		return KNOT_EOK;
	}
	if (tls->in_off > 0) {
		memmove(tls->in, tls->in + tls->in_off, tls->in_len - tls->in_off);
		tls->in_len -= tls->in_off;
		tls->in_off = 0;
	}
	if (tls->in_len + len > TLS_IN_MAX) {
		return KNOT_ESPACE;
	}
	if (tls->in_len + len > tls->in_cap) {
		size_t cap = tls->in_cap ? tls->in_cap : 4096;
		while (cap < tls->in_len + len) {
			cap *= 2;
		}
		uint8_t *in = realloc(tls->in, cap);
		if (in == NULL) {
			return KNOT_ENOMEM;
		}
		tls->in = in;
		tls->in_cap = cap;
	}
	memcpy(tls->in + tls->in_len, data, len);
	tls->in_len += len;
	return KNOT_EOK;
}

/*!
 * \brief Tells whether a call that returned EAGAIN should be repeated: fed
 *        bytes remain and the call consumed some of the \a before left.
 */
static bool more_input(const tgc_tls_t *tls, size_t before)
{
	size_t left = tls->in_len - tls->in_off;
	return !tls->push_failed && left > 0 && left < before;
}

tgc_tls_ret_t tgc_tls_handshake(tgc_tls_t *tls, const char **why)
{
	int ret;
	size_t left;
	do {
		left = tls->in_len - tls->in_off;
		ret = gnutls_handshake(tls->session);
	} while ((ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) &&
	         more_input(tls, left));
	if (ret == GNUTLS_E_SUCCESS) {
		return TGC_TLS_DONE;
	}
	if ((ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) &&
	    !tls->push_failed) {
		return TGC_TLS_AGAIN;
	}
	if (ret == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		if (why != NULL) {
			unsigned status = gnutls_session_get_verify_cert_status(tls->session);
			*why = (status & GNUTLS_CERT_EXPIRED) ? "certificate expired" :
			       (status & GNUTLS_CERT_NOT_ACTIVATED) ? "certificate not yet valid" :
			       (status & GNUTLS_CERT_UNEXPECTED_OWNER) ? "certificate for another name" :
			       (status & GNUTLS_CERT_SIGNER_NOT_FOUND) ? "certificate signer not trusted" :
			       "certificate not valid";
		}
		return TGC_TLS_CERT;
	}
	if (why != NULL) {
		*why = gnutls_strerror(ret);
	}
	return TGC_TLS_FAIL;
}

int tgc_tls_send(tgc_tls_t *tls, const void *data, size_t len)
{
	/* The push function queues everything at once: no partial sends. */
	ssize_t ret = gnutls_record_send(tls->session, data, len);
	return (ret == (ssize_t)len && !tls->push_failed) ? KNOT_EOK : KNOT_ERROR;
}

ssize_t tgc_tls_recv(tgc_tls_t *tls, void *buf, size_t len)
{
	/* A post-handshake message (TLS 1.3 session tickets) makes GnuTLS
	 * return EAGAIN with bytes still fed: go on while there are any. */
	ssize_t ret;
	size_t left;
	do {
		left = tls->in_len - tls->in_off;
		ret = gnutls_record_recv(tls->session, buf, len);
	} while ((ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) &&
	         more_input(tls, left));
	if (ret >= 0) {
		return ret;
	}
	if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
		return KNOT_EAGAIN;
	}
	if (ret == GNUTLS_E_PREMATURE_TERMINATION) {
		/* Closed without close_notify: many servers do, after the
		 * response. */
		return 0;
	}
	return KNOT_ERROR;
}

int tgc_tls_resume(tgc_tls_t *tls, const void *data, size_t len)
{
	return (gnutls_session_set_data(tls->session, data, len) ==
	        GNUTLS_E_SUCCESS) ? KNOT_EOK : KNOT_EINVAL;
}

int tgc_tls_save(tgc_tls_t *tls, void **data, size_t *len)
{
	/* With TLS 1.3 only a received ticket makes a session resumable. */
	if (!gnutls_session_is_resumed(tls->session) &&
	    gnutls_protocol_get_version(tls->session) == GNUTLS_TLS1_3 &&
	    !(gnutls_session_get_flags(tls->session) & GNUTLS_SFLAGS_SESSION_TICKET)) {
		return KNOT_ENOENT;
	}
	gnutls_datum_t d = { 0 };
	if (gnutls_session_get_data2(tls->session, &d) != GNUTLS_E_SUCCESS ||
	    d.size == 0) {
		gnutls_free(d.data);
		return KNOT_ENOENT;
	}
	*data = malloc(d.size);
	if (*data == NULL) {
		gnutls_free(d.data);
		return KNOT_ENOMEM;
	}
	memcpy(*data, d.data, d.size);
	*len = d.size;
	gnutls_free(d.data);
	return KNOT_EOK;
}

bool tgc_tls_resumed(tgc_tls_t *tls)
{
	return gnutls_session_is_resumed(tls->session) != 0;
}

void tgc_tls_free(tgc_tls_t *tls)
{
	if (tls == NULL) {
		return;
	}
	gnutls_deinit(tls->session);
	free(tls->in);
	free(tls);
}
