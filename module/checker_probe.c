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

/*
 * The exchanges of a connected probe: the RFB handshake (rfb), and a TLS
 * handshake (https, tls) then a GET whose response head is parsed (http,
 * https). At most TGC_HTTP_HEAD_MAX response bytes are read; the probe
 * timer (module/health.c) bounds all. Everything runs on the checker's loop.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>

#include <libknot/libknot.h>
#include <uv.h>

#include "module/checker_node.h"
#include "module/probe_http.h"
#include "module/probe_tls.h"
#include "module/probe_rfb.h"

/*! \brief Maps a failed connect/read status to a probe outcome. */
tgc_probe_t tgc_checker_status_probe(int status)
{
	switch (status) {
	case UV_ECONNREFUSED:
	case UV_ECONNRESET:
	case UV_ECONNABORTED:
	case UV_EPIPE:
	case UV_EOF:
		return TGC_PROBE_REFUSED;
	case UV_ETIMEDOUT:
		return TGC_PROBE_TIMEOUT;
	default:
		return TGC_PROBE_ERROR;
	}
}

/*! \brief Read buffer of an rfb probe. */
static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	node_t *n = handle->data;
	(void)suggested;

	buf->base = (char *)n->rx;
	buf->len = sizeof(n->rx);
}

/*! \brief Probe outcome of a final RFB handshake status. */
static tgc_probe_t rfb_probe(tgc_rfb_status_t st)
{
	switch (st) {
	case TGC_RFB_OFFERED:    return TGC_PROBE_OK;
	case TGC_RFB_REFUSED:    return TGC_PROBE_RFB_REFUSED;
	case TGC_RFB_BAD_BANNER: return TGC_PROBE_BANNER;
	default:                 return TGC_PROBE_HANDSHAKE;
	}
}

/*!
 * \brief Follows whether a node's server refuses the checker: logs when a
 *        refusal starts and when the server accepts again, once each, and
 *        reports every refused probe. Only the writing instance does.
 */
static void rfb_track(node_t *n, tgc_probe_t probe)
{
	tgc_checker_t *ck = n->ck;

	if (ck->ul.th.stopping || !tgc_checker_is_writer(ck)) {
		return;
	}
	if (probe == TGC_PROBE_RFB_REFUSED) {
		if (ck->conf.refused != NULL) {
			ck->conf.refused(ck->conf.ctx, n->idx);
		}
		if (!n->rfb_refused) {
			n->rfb_refused = true;
			CK_LOG(ck, LOG_WARNING, "node %s port %u refuses the "
			       "checker: \"%s\"%s (server alive, health "
			       "unchanged)", n->text, n->port, n->rfb.reason,
			       (n->rfb.reason_total > n->rfb.reason_len) ?
			       "..." : "");
		}
	} else if (probe == TGC_PROBE_OK && n->rfb_refused) {
		n->rfb_refused = false;
		CK_LOG(ck, LOG_NOTICE, "node %s port %u accepts the checker "
		       "again", n->text, n->port);
	}
}

/*! \brief Ends an rfb probe with a final handshake status. */
static void rfb_end(node_t *n, tgc_rfb_status_t st)
{
	tgc_probe_t probe = rfb_probe(st);

	rfb_track(n, probe);
	tgc_checker_probe_end(n, probe, true);
}

/*!
 * \brief Sends the version reply of an rfb probe.
 *
 * \return False if the probe ended (local failure).
 */
static bool rfb_send_reply(node_t *n)
{
	const uint8_t *reply = tgc_rfb_reply(&n->rfb);
	uv_os_fd_t fd;

	if (reply == NULL || uv_fileno((uv_handle_t *)&n->tcp, &fd) != 0) {
		tgc_checker_probe_end(n, TGC_PROBE_ERROR, true);
		return false;
	}
	/* 12 bytes into the empty send buffer of a fresh connection. A peer
	 * that already went away (EPIPE, ECONNRESET) is left to the reading
	 * side, which still has what the server sent before it closed. */
	ssize_t r = send(fd, reply, TGC_RFB_VERSION_LEN, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (r == TGC_RFB_VERSION_LEN || (r < 0 && (errno == EPIPE ||
	                                            errno == ECONNRESET))) {
		return true;
	}
	tgc_checker_probe_end(n, TGC_PROBE_ERROR, true);
	return false;
}

/*! \brief Handshake data of an rfb probe. */
static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	node_t *n = stream->data;
	(void)buf;

	if (n->ck->ul.th.stopping || n->phase != NODE_PROBING || nread == 0) {
		return;
	}
	if (nread < 0) {
		/* Closed or reset: nothing at all means the service turned us
		 * away; otherwise the handshake ended early (a refusal whose
		 * reason was cut short still counts as a refusal). */
		if (n->rfb.banner_len == 0) {
			tgc_checker_probe_end(n, tgc_checker_status_probe((int)nread), true);
		} else {
			rfb_end(n, tgc_rfb_eof(&n->rfb));
		}
		return;
	}

	const uint8_t *data = n->rx;
	size_t len = (size_t)nread;
	while (true) {
		size_t used = 0;
		tgc_rfb_status_t st = tgc_rfb_feed(&n->rfb, data, len, &used);
		data += used;
		len -= used;
		if (st == TGC_RFB_MORE) {
			return;
		}
		if (st != TGC_RFB_SEND) {
			rfb_end(n, st);
			return;
		}
		if (!rfb_send_reply(n)) {
			return;
		}
	}
}

/*!
 * \brief Longest time an https probe resumes the session of its last full
 *        handshake, in ms: a full handshake (with certificate verification)
 *        at least this often.
 */
#define TLS_RESUME_MS	60000

/*! \brief The exchange of one http/https/tls probe. */
typedef struct http_probe {
	tgc_tls_t *tls;               /*!< TLS session (https, tls). */
	bool handshaken;              /*!< TLS handshake done. */
	bool keep;                    /*!< A complete response came: the TLS
	                               *   session may be resumed. */
	uv_write_t write;             /*!< Request write (plain http). */
	size_t req_len;               /*!< Request length. */
	char name[TGC_HTTP_HOST_MAX + 1]; /*!< Expected TLS name (GnuTLS keeps
	                               *   a pointer to it for the session). */
	char req[TGC_HTTP_PATH_MAX + TGC_HTTP_HOST_MAX + 128]; /*!< Request. */
	size_t resp_len;              /*!< Response bytes in \a resp. */
	uint8_t resp[TGC_HTTP_HEAD_MAX + 1]; /*!< Response head (one byte more
	                               *   than a head may take). */
	uint8_t raw[];                /*!< Read buffer (TLS records; none for
	                               *   plain http). */
} http_probe_t;

/*! \brief Read buffer size of a TLS probe. */
#define TLS_RAW_SIZE	16384

void tgc_checker_tls_forget(node_t *n)
{
	free(n->tls_sess);
	n->tls_sess = NULL;
	n->tls_sess_len = 0;
}

void tgc_checker_http_free(node_t *n)
{
	http_probe_t *h = n->http;
	if (h == NULL) {
		return;
	}
	if (h->tls != NULL && n->ck->conf.params.check == TGC_CHECK_HTTPS) {
		/* Keep a session that served a complete response; a probe
		 * that failed otherwise starts over with a full handshake. */
		void *data = NULL;
		size_t len = 0;
		if (!h->keep) {
			tgc_checker_tls_forget(n);
		} else if (tgc_tls_save(h->tls, &data, &len) == KNOT_EOK) {
			tgc_checker_tls_forget(n);
			n->tls_sess = data;
			n->tls_sess_len = len;
		}
		if (h->keep && !tgc_tls_resumed(h->tls)) {
			n->tls_full_ms = n->start_ms;
		}
	}
	tgc_tls_free(h->tls);
	free(h);
	n->http = NULL;
}

/*! \brief The expected TLS name: check-host without brackets and port, or
 *         the node address. */
static void tls_name(const node_t *n, char *buf, size_t size)
{
	const char *host = n->ck->conf.params.http_host;
	if (host == NULL) {
		snprintf(buf, size, "%s", n->text);
		return;
	}
	const char *end = host + strlen(host);
	if (host[0] == '[') {
		const char *close = strchr(host, ']');
		host++;
		end = (close != NULL) ? close : end;
	} else {
		const char *colon = strchr(host, ':');
		/* One colon is a port; more is a bare IPv6 address. */
		if (colon != NULL && strchr(colon + 1, ':') == NULL) {
			end = colon;
		}
	}
	snprintf(buf, size, "%.*s", (int)(end - host), host);
}

/*! \brief Builds the request of an http/https probe. */
static bool http_request(node_t *n)
{
	const tgc_health_params_t *p = &n->ck->conf.params;
	char host[TGC_HTTP_HOST_MAX + 1];
	if (p->http_host != NULL) {
		snprintf(host, sizeof(host), "%s", p->http_host);
	} else if (tgc_http_default_host(host, sizeof(host), n->text,
	                                 n->sa.ss_family == AF_INET6, n->port,
	                                 p->check == TGC_CHECK_HTTPS) == 0) {
		return false;
	}
	n->http->req_len = tgc_http_request(n->http->req, sizeof(n->http->req),
	                                    p->http_path ? p->http_path : "/",
	                                    host);
	return n->http->req_len > 0;
}

/*! \brief Read buffer: the raw buffer (TLS) or the room left in the head. */
static void on_http_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	node_t *n = handle->data;
	http_probe_t *h = n->http;
	(void)suggested;

	if (h->tls != NULL) {
		*buf = uv_buf_init((char *)h->raw, TLS_RAW_SIZE);
	} else {
		*buf = uv_buf_init((char *)h->resp + h->resp_len,
		                   (unsigned)(sizeof(h->resp) - h->resp_len));
	}
}

/*!
 * \brief Judges the response head received so far; ends the probe when
 *        the verdict is known. \a closed: the server closed the stream.
 */
static void http_judge(node_t *n, bool closed)
{
	const tgc_health_params_t *p = &n->ck->conf.params;
	http_probe_t *h = n->http;
	tgc_http_resp_t resp;

	switch (tgc_http_parse(h->resp, h->resp_len, &resp)) {
	case TGC_HTTP_DONE:
		h->keep = true;
		tgc_checker_probe_end(n, tgc_http_status_ok(resp.status, p->statuses,
		                                            p->status_count) ?
		                         TGC_PROBE_OK : TGC_PROBE_STATUS, true);
		break;
	case TGC_HTTP_BAD:
		tgc_checker_probe_end(n, TGC_PROBE_BANNER, true);
		break;
	default:
		if (closed) {
			/* Closed before the head ended: nothing at all is a
			 * refusal, a partial head a bad response. */
			tgc_checker_probe_end(n, (h->resp_len == 0) ?
			                         TGC_PROBE_REFUSED : TGC_PROBE_BANNER,
			                      true);
		}
		break;
	}
}

/*! \brief Drives a TLS probe with the bytes fed so far. */
static void tls_drive(node_t *n)
{
	tgc_checker_t *ck = n->ck;
	http_probe_t *h = n->http;

	if (!h->handshaken) {
		const char *why = NULL;
		switch (tgc_tls_handshake(h->tls, &why)) {
		case TGC_TLS_AGAIN:
			return;
		case TGC_TLS_CERT:
			CK_LOG(ck, LOG_DEBUG, "node %s port %u: %s", n->text,
			       n->port, why);
			tgc_checker_probe_end(n, TGC_PROBE_CERT, true);
			return;
		case TGC_TLS_FAIL:
			CK_LOG(ck, LOG_DEBUG, "node %s port %u: TLS %s", n->text,
			       n->port, why);
			tgc_checker_probe_end(n, TGC_PROBE_TLS, true);
			return;
		default:
			break;
		}
		h->handshaken = true;
		if (ck->conf.params.check == TGC_CHECK_TLS) {
			tgc_checker_probe_end(n, TGC_PROBE_OK, true);
			return;
		}
		if (tgc_tls_send(h->tls, h->req, h->req_len) != KNOT_EOK) {
			tgc_checker_probe_end(n, TGC_PROBE_TLS, true);
			return;
		}
	}
	for (;;) {
		size_t room = sizeof(h->resp) - h->resp_len;
		ssize_t got = tgc_tls_recv(h->tls, h->resp + h->resp_len, room);
		if (got == KNOT_EAGAIN) {
			http_judge(n, false);
			return;
		}
		if (got < 0) {
			tgc_checker_probe_end(n, (h->resp_len == 0) ?
			                         TGC_PROBE_TLS : TGC_PROBE_BANNER, true);
			return;
		}
		h->resp_len += (size_t)got;
		if (got == 0 || h->resp_len == sizeof(h->resp)) {
			http_judge(n, true);
			return;
		}
		/* Judge what came so far: a bad head ends the probe now. */
		tgc_http_resp_t resp;
		if (tgc_http_parse(h->resp, h->resp_len, &resp) != TGC_HTTP_MORE) {
			http_judge(n, false);
			return;
		}
	}
}

/*! \brief Response data of an http/https/tls probe. */
static void on_http_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	node_t *n = stream->data;
	http_probe_t *h = n->http;

	if (n->ck->ul.th.stopping || n->phase != NODE_PROBING || nread == 0) {
		return;
	}
	if (nread < 0) {
		if (h->tls != NULL && !h->handshaken) {
			tgc_checker_probe_end(n, TGC_PROBE_TLS, true);
		} else if (h->tls != NULL) {
			tls_drive(n); /* What is left, then the end. */
			if (n->phase == NODE_PROBING) {
				http_judge(n, true);
			}
		} else if (nread == UV_EOF) {
			http_judge(n, true);
		} else {
			tgc_checker_probe_end(n, tgc_checker_status_probe((int)nread), true);
		}
		return;
	}
	if (h->tls != NULL) {
		if (tgc_tls_feed(h->tls, (const uint8_t *)buf->base,
		                 (size_t)nread) != KNOT_EOK) {
			tgc_checker_probe_end(n, TGC_PROBE_TLS, true);
			return;
		}
		tls_drive(n);
		return;
	}
	h->resp_len += (size_t)nread;
	/* A full buffer holds more than a head may take: bad. */
	http_judge(n, h->resp_len == sizeof(h->resp));
}

/*! \brief Request written (plain http); a failure ends the probe. */
static void on_http_written(uv_write_t *req, int status)
{
	node_t *n = req->data;

	if (status != 0 && !n->ck->ul.th.stopping && n->phase == NODE_PROBING) {
		tgc_checker_probe_end(n, tgc_checker_status_probe(status), true);
	}
}

void tgc_checker_http_begin(node_t *n)
{
	tgc_checker_t *ck = n->ck;
	tgc_check_t check = ck->conf.params.check;

	bool tls = (check != TGC_CHECK_HTTP);
	n->http = malloc(sizeof(*n->http) + (tls ? TLS_RAW_SIZE : 0));
	if (n->http != NULL) {
		/* Only the head: the buffers need no clearing. */
		memset(n->http, 0, offsetof(http_probe_t, req));
		n->http->resp_len = 0;
	}
	if (n->http == NULL ||
	    (check != TGC_CHECK_TLS && !http_request(n))) {
		tgc_checker_probe_end(n, TGC_PROBE_ERROR, false);
		return;
	}
	int ret = uv_read_start((uv_stream_t *)&n->tcp, on_http_alloc, on_http_read);
	if (ret != 0) {
		tgc_checker_probe_end(n, TGC_PROBE_ERROR, true);
		return;
	}
	if (check == TGC_CHECK_HTTP) {
		uv_buf_t buf = uv_buf_init(n->http->req, (unsigned)n->http->req_len);
		/* A fresh connection takes the small request at once: no write
		 * request, no extra loop turn. */
		ret = uv_try_write((uv_stream_t *)&n->tcp, &buf, 1);
		if (ret == (int)buf.len) {
			return;
		}
		if (ret > 0) {
			buf.base += ret;
			buf.len -= (size_t)ret;
		}
		n->http->write.data = n;
		ret = uv_write(&n->http->write, (uv_stream_t *)&n->tcp, &buf, 1,
		               on_http_written);
		if (ret != 0) {
			tgc_checker_probe_end(n, tgc_checker_status_probe(ret), true);
		}
		return;
	}
	tls_name(n, n->http->name, sizeof(n->http->name));
	if (ck->conf.params.tls == NULL ||
	    tgc_tls_new(&n->http->tls, ck->conf.params.tls,
	                (uv_stream_t *)&n->tcp, n->http->name) != KNOT_EOK) {
		tgc_checker_probe_end(n, TGC_PROBE_ERROR, false);
		return;
	}
	if (n->tls_sess != NULL &&
	    (n->start_ms - n->tls_full_ms < TLS_RESUME_MS) &&
	    tgc_tls_resume(n->http->tls, n->tls_sess, n->tls_sess_len) != KNOT_EOK) {
		tgc_checker_tls_forget(n);
	}
	tls_drive(n); /* Sends the ClientHello. */
}

void tgc_checker_rfb_begin(node_t *n)
{
	tgc_rfb_init(&n->rfb);
	int ret = uv_read_start((uv_stream_t *)&n->tcp, on_alloc, on_read);
	if (ret != 0) {
		tgc_checker_probe_end(n, TGC_PROBE_ERROR, true);
	}
}
