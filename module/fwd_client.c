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

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libknot/libknot.h>

#include "module/fwd_client.h"

/*! \brief Largest DNS message (UDP datagram or TCP message). */
#define MSG_MAX			65535
/*! \brief Size of a query buffer: a question, OPT and a TSIG. */
#define QUERY_MAX		1024

const char *tgc_forward_err_str(tgc_fwd_err_t err)
{
	switch (err) {
	case TGC_FWD_ERR_TIMEOUT: return "timeout";
	case TGC_FWD_ERR_NETWORK: return "network";
	case TGC_FWD_ERR_INVALID: return "invalid";
	case TGC_FWD_ERR_TSIG:    return "tsig";
	case TGC_FWD_ERR_RCODE:   return "rcode";
	case TGC_FWD_TRY_OK:      return "ok";
	default:                  return "unknown";
	}
}

/*! \brief Error kind counting a rejected reply. */
static tgc_fwd_err_t verdict_kind(tgc_fwd_verdict_t verdict)
{
	return (verdict == TGC_FWD_TSIG_MISSING || verdict == TGC_FWD_TSIG_BAD) ?
	       TGC_FWD_ERR_TSIG : TGC_FWD_ERR_INVALID;
}

uint32_t tgc_forward_fresh_ms(uint32_t interval_ms, const tgc_fwd_conf_t *conf)
{
	uint64_t round = (conf != NULL) ?
	                 (uint64_t)conf->timeout_ms * (conf->count ? conf->count : 1) : 0;
	uint64_t fresh = (uint64_t)interval_ms + 2 * round +
	                 ((conf != NULL) ? conf->timeout_ms : 0);

	return (fresh > UINT32_MAX) ? UINT32_MAX : (uint32_t)fresh;
}

uint32_t tgc_forward_budget_ms(const tgc_fwd_conf_t *conf)
{
	if (conf == NULL) {
		return 0;
	}
	uint64_t budget = (uint64_t)conf->timeout_ms * (conf->count ? conf->count : 1);
	if (budget > TGC_FORWARD_BUDGET_MAX_MS) {
		budget = (conf->timeout_ms > TGC_FORWARD_BUDGET_MAX_MS) ?
		         conf->timeout_ms : TGC_FORWARD_BUDGET_MAX_MS;
	}

	return (uint32_t)budget;
}

/*
 * The synchronous exchange.
 */

/*! \brief Monotonic time in ms. */
static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*! \brief Monotonic time in us. */
static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*! \brief Length of a socket address of the given family. */
static socklen_t sa_len(const struct sockaddr_storage *ss)
{
	return (ss->ss_family == AF_INET6) ? sizeof(struct sockaddr_in6) :
	                                     sizeof(struct sockaddr_in);
}

/*! \brief Tells whether a datagram came from the address/port we sent to. */
static bool same_source(const struct sockaddr_storage *from,
                        const struct sockaddr_storage *to)
{
	if (from->ss_family != to->ss_family) {
		return false;
	}
	if (from->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)from;
		const struct sockaddr_in *b = (const struct sockaddr_in *)to;
		return a->sin_port == b->sin_port &&
		       a->sin_addr.s_addr == b->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)from;
	const struct sockaddr_in6 *b = (const struct sockaddr_in6 *)to;
	return a->sin6_port == b->sin6_port &&
	       memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0;
}

/*!
 * \brief Waits until \a fd has \a events, \a cancel_fd is readable or the
 *        deadline passes.
 *
 * \retval 1            Ready.
 * \retval 0            Deadline passed.
 * \retval KNOT_EAGAIN  Cancelled.
 * \retval KNOT_ERROR   poll() failed.
 */
static int wait_fd(int fd, short events, int cancel_fd, uint64_t deadline_ms)
{
	for (;;) {
		uint64_t now = mono_ms();
		if (now >= deadline_ms) {
			return 0;
		}
		struct pollfd pfd[2] = {
			{ .fd = fd, .events = events },
			{ .fd = cancel_fd, .events = POLLIN },
		};
		int n = poll(pfd, (cancel_fd >= 0) ? 2 : 1, (int)(deadline_ms - now));
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return KNOT_ERROR;
		}
		if (cancel_fd >= 0 && pfd[1].revents != 0) {
			return KNOT_EAGAIN;
		}
		if (n > 0 && pfd[0].revents != 0) {
			return 1;
		}
	}
}

/*! \brief Everything one try needs. */
typedef struct {
	const tgc_fwd_target_t *target; /*!< Where to. */
	const knot_pkt_t *query;        /*!< Built query. */
	const tgc_fwd_sent_t *sent;     /*!< What the reply must match. */
	uint64_t deadline_ms;           /*!< End of the try (monotonic). */
	int cancel_fd;                  /*!< Cancel descriptor or -1. */
	uint8_t *buf;                   /*!< MSG_MAX bytes for the reply. */
	knot_mm_t *mm;                  /*!< Memory of the reply packet. */
	tgc_fwd_stats_t *stats;         /*!< Counts. */
	knot_pkt_t *reply;              /*!< Out: the accepted reply. */
	bool final;                     /*!< Out: the last rejected reply was
	                                 *   authentic, no better one comes. */
} try_t;

/*!
 * \brief Checks one received message.
 *
 * \return True if accepted (try->reply set); rejections are counted and
 *         remembered in \a last.
 */
static bool try_accept(try_t *try, size_t len, bool source_ok, int *last)
{
	knot_pkt_t *pkt = knot_pkt_new(try->buf, len, try->mm);
	if (pkt == NULL) {
		*last = KNOT_ENOMEM;
		return false;
	}
	tgc_fwd_verdict_t v = source_ok ? tgc_forward_validate(pkt, try->sent) :
	                                  TGC_FWD_BAD_SOURCE;
	if (v == TGC_FWD_OK) {
		try->reply = pkt;
		return true;
	}
	knot_pkt_free(pkt);
	tgc_fwd_err_t kind = verdict_kind(v);
	try->stats->errors[kind]++;
	*last = kind;
	try->final = (v == TGC_FWD_BAD_SOA || v == TGC_FWD_TRUNCATED);

	return false;
}

/*!
 * \brief A non-blocking socket of \a type for the try's upstream; -1 (counted
 *        as a network error) when there is none.
 */
static int try_socket(try_t *try, int type)
{
	int fd = socket(try->target->addr.ss_family,
	                type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		try->stats->errors[TGC_FWD_ERR_NETWORK]++;
	}
	return fd;
}

/*!
 * \brief One try over UDP: waits for an acceptable reply until the deadline.
 *
 * \return TGC_FWD_TRY_OK, a tgc_fwd_err_t (the last rejection when replies
 *         were rejected and then time ran out), or a negative KNOT_E*.
 */
static int try_udp(try_t *try)
{
	const struct sockaddr_storage *to = &try->target->addr;
	int fd = try_socket(try, SOCK_DGRAM);
	if (fd < 0) {
		return TGC_FWD_ERR_NETWORK;
	}
	/* Connected: the kernel picks a random source port and drops
	 * datagrams from anyone but the upstream's address and port. */
	if (connect(fd, (const struct sockaddr *)to, sa_len(to)) != 0 ||
	    send(fd, try->query->wire, try->query->size, 0) != (ssize_t)try->query->size) {
		close(fd);
		try->stats->errors[TGC_FWD_ERR_NETWORK]++;
		return TGC_FWD_ERR_NETWORK;
	}

	int last = -1;
	int result;
	for (;;) {
		int w = wait_fd(fd, POLLIN, try->cancel_fd, try->deadline_ms);
		if (w == KNOT_EAGAIN) {
			result = KNOT_EAGAIN;
			break;
		} else if (w <= 0) {
			try->stats->errors[TGC_FWD_ERR_TIMEOUT]++;
			result = (last >= 0) ? last : TGC_FWD_ERR_TIMEOUT;
			break;
		}
		struct sockaddr_storage from;
		socklen_t from_len = sizeof(from);
		ssize_t n = recvfrom(fd, try->buf, MSG_MAX, 0,
		                     (struct sockaddr *)&from, &from_len);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				continue;
			}
			/* ECONNREFUSED: ICMP port unreachable. */
			try->stats->errors[TGC_FWD_ERR_NETWORK]++;
			result = TGC_FWD_ERR_NETWORK;
			break;
		}
		if (try_accept(try, (size_t)n, same_source(&from, to), &last)) {
			result = TGC_FWD_TRY_OK;
			break;
		}
		if (last == KNOT_ENOMEM) {
			result = KNOT_ENOMEM;
			break;
		}
		if (try->final) {
			result = last;
			break;
		}
	}
	close(fd);

	return result;
}

/*!
 * \brief Sends or receives exactly \a len bytes on a non-blocking stream.
 *
 * \return 1 done, 0 deadline or peer closed/failed, KNOT_EAGAIN cancelled.
 */
static int stream_io(int fd, uint8_t *data, size_t len, bool out,
                     int cancel_fd, uint64_t deadline_ms)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = out ? send(fd, data + done, len - done, MSG_NOSIGNAL) :
		                  recv(fd, data + done, len - done, 0);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			return 0;
		}
		int w = wait_fd(fd, out ? POLLOUT : POLLIN, cancel_fd, deadline_ms);
		if (w <= 0) {
			return w;
		}
	}

	return 1;
}

/*! \brief One try over TCP (after a truncated UDP reply). */
static int try_tcp(try_t *try)
{
	const struct sockaddr_storage *to = &try->target->addr;
	int fd = try_socket(try, SOCK_STREAM);
	if (fd < 0) {
		return TGC_FWD_ERR_NETWORK;
	}

	int result = TGC_FWD_ERR_NETWORK;
	if (connect(fd, (const struct sockaddr *)to, sa_len(to)) != 0 &&
	    errno != EINPROGRESS) {
		goto done;
	}
	int w = wait_fd(fd, POLLOUT, try->cancel_fd, try->deadline_ms);
	if (w == KNOT_EAGAIN) {
		result = KNOT_EAGAIN;
		goto done;
	} else if (w <= 0) {
		result = TGC_FWD_ERR_TIMEOUT;
		goto done;
	}
	int err = 0;
	socklen_t err_len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0 || err != 0) {
		goto done;
	}

	uint8_t msg[2 + QUERY_MAX];
	size_t len = try->query->size;
	if (len > QUERY_MAX) {
		goto done;
	}
	knot_wire_write_u16(msg, len);
	memcpy(msg + 2, try->query->wire, len);
	w = stream_io(fd, msg, len + 2, true, try->cancel_fd, try->deadline_ms);
	if (w == 1) {
		w = stream_io(fd, try->buf, 2, false, try->cancel_fd, try->deadline_ms);
	}
	if (w == 1) {
		len = knot_wire_read_u16(try->buf);
		w = stream_io(fd, try->buf, len, false, try->cancel_fd, try->deadline_ms);
	}
	if (w == KNOT_EAGAIN) {
		result = KNOT_EAGAIN;
		goto done;
	} else if (w != 1) {
		result = (mono_ms() >= try->deadline_ms) ? TGC_FWD_ERR_TIMEOUT :
		                                          TGC_FWD_ERR_NETWORK;
		goto done;
	}
	int last = -1;
	/* Our own connection: one message, accepted or not. */
	if (try_accept(try, len, true, &last)) {
		result = TGC_FWD_TRY_OK;
	} else {
		close(fd);
		return (last == KNOT_ENOMEM) ? KNOT_ENOMEM : last;
	}
done:
	if (result == TGC_FWD_ERR_TIMEOUT || result == TGC_FWD_ERR_NETWORK) {
		try->stats->errors[result]++;
	}
	close(fd);

	return result;
}

/*! \brief Allocates from \a mm (NULL = malloc). */
static void *msg_alloc(knot_mm_t *mm, size_t len)
{
	return (mm != NULL) ? mm->alloc(mm->ctx, len) : malloc(len);
}

/*! \brief Frees memory of msg_alloc() (no-op for pools without free). */
static void msg_free(knot_mm_t *mm, void *mem)
{
	if (mm == NULL) {
		free(mem);
	} else if (mm->free != NULL) {
		mm->free(mem);
	}
}

int tgc_forward_query(const tgc_fwd_conf_t *conf, size_t first,
                      const knot_dname_t *qname, uint16_t qtype,
                      uint16_t qclass, uint32_t budget_ms, int cancel_fd,
                      knot_mm_t *mm, knot_pkt_t **reply, size_t *used,
                      tgc_fwd_stats_t *stats, tgc_fwd_tried_f tried,
                      void *tried_ctx)
{
	if (conf == NULL || conf->count == 0 || conf->targets == NULL ||
	    qname == NULL || reply == NULL) {
		return KNOT_EINVAL;
	}
	*reply = NULL;
	tgc_fwd_stats_t dummy;
	memset(&dummy, 0, sizeof(dummy));
	stats = (stats != NULL) ? stats : &dummy;

	uint8_t qwire[QUERY_MAX];
	knot_pkt_t *query = knot_pkt_new(qwire, sizeof(qwire), NULL);
	uint8_t *buf = msg_alloc(mm, MSG_MAX);
	if (query == NULL || buf == NULL) {
		knot_pkt_free(query);
		msg_free(mm, buf);
		return KNOT_ENOMEM;
	}

	uint64_t end = mono_ms() + budget_ms;
	int ret = KNOT_ETIMEOUT;
	for (size_t n = 0; n < conf->count; n++) {
		size_t idx = (first + n) % conf->count;
		const tgc_fwd_target_t *t = &conf->targets[idx];
		uint64_t start_us = mono_us();
		uint64_t now = start_us / 1000;
		if (now >= end) {
			break;
		}
		if (n > 0) {
			stats->failovers++;
		}

		tgc_fwd_sent_t sent;
		int res = tgc_forward_build(query, &sent, qname, qtype, qclass, t->key,
		                        conf->ecs, conf->load_report);
		if (res != KNOT_EOK) {
			ret = res;
			break;
		}
		sent.scope = conf->scope;
		try_t try = {
			.target = t, .query = query, .sent = &sent,
			.deadline_ms = (now + conf->timeout_ms < end) ?
			               now + conf->timeout_ms : end,
			.cancel_fd = cancel_fd, .buf = buf, .mm = mm, .stats = stats,
		};
		res = try_udp(&try);
		if (res == TGC_FWD_TRY_OK && knot_wire_get_tc(try.reply->wire)) {
			knot_pkt_free(try.reply);
			try.reply = NULL;
			stats->tcp++;
			res = tgc_forward_build(query, &sent, qname, qtype, qclass, t->key,
			                        conf->ecs, conf->load_report);
			if (res != KNOT_EOK) {
				ret = res;
				break;
			}
			sent.scope = conf->scope;
			sent.tcp = true;
			now = mono_ms();
			try.deadline_ms = (now + conf->timeout_ms < end) ?
			                  now + conf->timeout_ms : end;
			res = try_tcp(&try);
		}
		if (res < 0) {
			ret = res;
			break;
		}
		if (res == TGC_FWD_TRY_OK) {
			uint8_t rcode = knot_wire_get_rcode(try.reply->wire);
			if (rcode != KNOT_RCODE_NOERROR && rcode != KNOT_RCODE_NXDOMAIN) {
				knot_pkt_free(try.reply);
				try.reply = NULL;
				stats->errors[TGC_FWD_ERR_RCODE]++;
				res = TGC_FWD_ERR_RCODE;
			}
		}
		if (tried != NULL) {
			uint64_t rtt = mono_us() - start_us;
			tried(tried_ctx, idx, (tgc_fwd_err_t)res,
			      (rtt > UINT32_MAX) ? UINT32_MAX : (uint32_t)rtt);
		}
		if (res == TGC_FWD_TRY_OK) {
			/* The receive buffer is the reply's wire from now on. */
			*reply = try.reply;
			buf = NULL;
			if (used != NULL) {
				*used = idx;
			}
			ret = KNOT_EOK;
			break;
		}
	}

	knot_pkt_free(query);
	msg_free(mm, buf);

	return ret;
}

void tgc_forward_reply_free(knot_pkt_t *reply, knot_mm_t *mm)
{
	if (reply == NULL) {
		return;
	}
	uint8_t *wire = reply->wire;
	knot_pkt_free(reply);
	msg_free(mm, wire);
}
