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


#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <libknot/libknot.h>
#include <uv.h>

#include "module/answer.h"
#include "module/forward.h"
#include "module/uvloop.h"
#include "module/health.h"

/*! \brief Largest DNS message (UDP datagram or TCP message). */
#define MSG_MAX			65535
/*! \brief Size of a query buffer: a question, OPT and a TSIG. */
#define QUERY_MAX		1024

/*
 * Queries and replies (pure).
 */

int tgc_forward_build(knot_pkt_t *query, tgc_fwd_sent_t *sent,
                      const knot_dname_t *qname, uint16_t qtype,
                      uint16_t qclass, const knot_tsig_key_t *key)
{
	if (query == NULL || sent == NULL || qname == NULL) {
		return KNOT_EINVAL;
	}

	uint16_t id = 0;
	if (getrandom(&id, sizeof(id), 0) != sizeof(id)) {
		return KNOT_ERROR;
	}
	knot_pkt_clear(query);
	memset(query->wire, 0, KNOT_WIRE_HEADER_SIZE);
	knot_wire_set_id(query->wire, id);
	knot_wire_set_opcode(query->wire, KNOT_OPCODE_QUERY);

	int ret = knot_pkt_put_question(query, qname, qclass, qtype);
	if (ret != KNOT_EOK) {
		return ret;
	}
	ret = knot_pkt_begin(query, KNOT_ADDITIONAL);
	if (ret != KNOT_EOK) {
		return ret;
	}
	knot_rrset_t opt;
	ret = knot_edns_init(&opt, TGC_FORWARD_EDNS_PAYLOAD, 0, 0, &query->mm);
	if (ret != KNOT_EOK) {
		return ret;
	}
	ret = knot_pkt_put(query, KNOT_COMPR_HINT_NONE, &opt, KNOT_PF_FREE);
	if (ret != KNOT_EOK) {
		knot_rrset_clear(&opt, &query->mm);
		return ret;
	}

	memset(sent, 0, sizeof(*sent));
	sent->id = id;
	sent->qname = qname;
	sent->qtype = qtype;
	sent->qclass = qclass;
	sent->key = key;
	if (key != NULL) {
		sent->mac_len = sizeof(sent->mac);
		ret = knot_tsig_sign(query->wire, &query->size, query->max_size,
		                     NULL, 0, sent->mac, &sent->mac_len, key, 0, 0);
		if (ret != KNOT_EOK) {
			return ret;
		}
	}

	return KNOT_EOK;
}

/*! \brief Tells whether \a name is \a apex or below it (any case). */
static bool name_under(const knot_dname_t *name, const knot_dname_t *apex)
{
	int below = knot_dname_labels(name, NULL) - knot_dname_labels(apex, NULL);
	if (below < 0) {
		return false;
	}
	for (int i = 0; i < below; i++) {
		name = knot_wire_next_label(name, NULL);
	}

	return knot_dname_is_case_equal(name, apex);
}

/*! \brief Tells whether a record may stay in a confined reply. */
static bool rr_in_scope(const knot_rrset_t *rr, const knot_dname_t *scope)
{
	return rr->type == KNOT_RRTYPE_OPT || rr->type == KNOT_RRTYPE_TSIG ||
	       name_under(rr->owner, scope);
}

size_t tgc_forward_confine(knot_pkt_t *reply, const knot_dname_t *scope)
{
	if (reply == NULL || scope == NULL) {
		return 0;
	}

	/* knot_pkt_parse() keeps the sections contiguous and in order in
	 * reply->rr (each starts at the count so far): compact the array,
	 * moving opt_rr/tsig_rr along, and free what is dropped as
	 * knot_pkt_free() would. */
	size_t dropped = 0;
	uint16_t out = 0;
	for (int s = KNOT_ANSWER; s <= KNOT_ADDITIONAL; s++) {
		knot_pktsection_t *sec = &reply->sections[s];
		uint16_t start = out;
		for (uint16_t i = 0; i < sec->count; i++) {
			uint16_t at = sec->pos + i;
			knot_rrset_t *rr = &reply->rr[at];
			if (!rr_in_scope(rr, scope)) {
				if (reply->rr_info[at].flags & KNOT_PF_FREE) {
					knot_rrset_clear(rr, &reply->mm);
				}
				dropped++;
				continue;
			}
			if (at != out) {
				reply->rr[out] = *rr;
				reply->rr_info[out] = reply->rr_info[at];
				if (reply->opt_rr == rr) {
					reply->opt_rr = &reply->rr[out];
				}
				if (reply->tsig_rr == rr) {
					reply->tsig_rr = &reply->rr[out];
				}
			}
			out++;
		}
		sec->pos = start;
		sec->count = out - start;
	}
	reply->rrset_count = out;

	return dropped;
}

/*!
 * \brief Tells whether the SOA records of a negative answer belong to the
 *        scope: owned by the scope or by a zone cut between the scope and
 *        the question (never above the scope, never beside the question).
 */
static bool negative_soa_ok(const knot_pkt_t *reply, const knot_dname_t *scope,
                            const knot_dname_t *qname)
{
	uint8_t rcode = knot_wire_get_rcode(reply->wire);
	if (rcode != KNOT_RCODE_NOERROR && rcode != KNOT_RCODE_NXDOMAIN) {
		return true; /* Not an answer at all: counted by its RCODE. */
	}
	if (rcode == KNOT_RCODE_NOERROR) {
		const knot_pktsection_t *an = knot_pkt_section(reply, KNOT_ANSWER);
		for (uint16_t i = 0; i < an->count; i++) {
			if (rr_in_scope(knot_pkt_rr(an, i), scope)) {
				return true; /* Not negative. */
			}
		}
	}

	const knot_pktsection_t *ns = knot_pkt_section(reply, KNOT_AUTHORITY);
	for (uint16_t i = 0; i < ns->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(ns, i);
		if (rr->type == KNOT_RRTYPE_SOA &&
		    (!name_under(rr->owner, scope) || !name_under(qname, rr->owner))) {
			return false;
		}
	}

	return true;
}

tgc_fwd_verdict_t tgc_forward_validate(knot_pkt_t *reply,
                                       const tgc_fwd_sent_t *sent)
{
	if (reply == NULL || sent == NULL || reply->size < KNOT_WIRE_HEADER_SIZE) {
		return TGC_FWD_MALFORMED;
	}
	/* Header checks on the raw wire: cheap, and before any parsing of
	 * data that may come from anyone. */
	if (knot_wire_get_id(reply->wire) != sent->id) {
		return TGC_FWD_BAD_ID;
	}
	if (!knot_wire_get_qr(reply->wire)) {
		return TGC_FWD_NOT_RESPONSE;
	}
	if (knot_wire_get_opcode(reply->wire) != KNOT_OPCODE_QUERY) {
		return TGC_FWD_BAD_OPCODE;
	}
	if (knot_wire_get_qdcount(reply->wire) != 1) {
		return TGC_FWD_BAD_QUESTION;
	}
	if (knot_pkt_parse(reply, 0) != KNOT_EOK || reply->qname_size == 0) {
		return TGC_FWD_MALFORMED;
	}
	if (!knot_dname_is_case_equal(knot_pkt_qname(reply), sent->qname) ||
	    knot_pkt_qtype(reply) != sent->qtype ||
	    knot_pkt_qclass(reply) != sent->qclass) {
		return TGC_FWD_BAD_QUESTION;
	}
	if (sent->key != NULL) {
		if (reply->tsig_rr == NULL) {
			return TGC_FWD_TSIG_MISSING;
		}
		/* knot_pkt_parse() stripped the TSIG RR from the wire and the
		 * ARCOUNT, which is what the MAC covers. */
		int ret = knot_tsig_client_check(reply->tsig_rr, reply->wire,
		                                 reply->size, sent->mac,
		                                 sent->mac_len, sent->key, 0);
		if (ret != KNOT_EOK) {
			return TGC_FWD_TSIG_BAD;
		}
	}
	/* The reply is authentic: now what it says. */
	if (sent->tcp && knot_wire_get_tc(reply->wire)) {
		return TGC_FWD_TRUNCATED;
	}
	if (sent->scope != NULL) {
		if (!negative_soa_ok(reply, sent->scope, sent->qname)) {
			return TGC_FWD_BAD_SOA;
		}
		(void)tgc_forward_confine(reply, sent->scope);
	}

	return TGC_FWD_OK;
}

const char *tgc_forward_verdict_str(tgc_fwd_verdict_t verdict)
{
	switch (verdict) {
	case TGC_FWD_OK:           return "ok";
	case TGC_FWD_MALFORMED:    return "malformed";
	case TGC_FWD_BAD_ID:       return "wrong ID";
	case TGC_FWD_NOT_RESPONSE: return "not a response";
	case TGC_FWD_BAD_OPCODE:   return "wrong opcode";
	case TGC_FWD_BAD_QUESTION: return "wrong question";
	case TGC_FWD_BAD_SOURCE:   return "wrong source";
	case TGC_FWD_TSIG_MISSING: return "TSIG missing";
	case TGC_FWD_TSIG_BAD:     return "TSIG invalid";
	case TGC_FWD_BAD_SOA:      return "SOA outside the zone";
	case TGC_FWD_TRUNCATED:    return "truncated over TCP";
	default:                   return "invalid";
	}
}

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

/*! \brief Reads an address out of A/AAAA rdata. */
static bool rdata_addr(uint16_t type, const knot_rdata_t *rd, tgc_addr_t *out)
{
	size_t len = (type == KNOT_RRTYPE_A) ? 4 : 16;
	if (rd->len != len) {
		return false;
	}
	memset(out, 0, sizeof(*out));
	out->family = (len == 4) ? AF_INET : AF_INET6;
	out->len = len;
	memcpy(out->bytes, rd->data, len);

	return true;
}

int tgc_forward_extract(const knot_pkt_t *reply, const knot_dname_t *qname,
                        uint16_t qtype, tgc_cache_snap_t *out)
{
	if (reply == NULL || qname == NULL || out == NULL ||
	    (qtype != KNOT_RRTYPE_A && qtype != KNOT_RRTYPE_AAAA)) {
		return KNOT_EINVAL;
	}
	uint8_t rcode = knot_wire_get_rcode(reply->wire);
	if (rcode != KNOT_RCODE_NOERROR && rcode != KNOT_RCODE_NXDOMAIN) {
		return KNOT_EINVAL;
	}

	out->valid = true;
	out->ok = true;
	out->rcode = rcode;
	out->count = 0;
	out->soa_owner_len = 0;
	out->soa_rdata_len = 0;
	uint32_t ttl = UINT32_MAX;

	/* Only records owned by the name itself: the load balancers answer
	 * it directly (no CNAME chain to follow). */
	const knot_pktsection_t *an = knot_pkt_section(reply, KNOT_ANSWER);
	for (uint16_t i = 0; rcode == KNOT_RCODE_NOERROR && i < an->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(an, i);
		if (rr->type != qtype || rr->rclass != KNOT_CLASS_IN ||
		    !knot_dname_is_case_equal(rr->owner, qname)) {
			continue;
		}
		knot_rdata_t *rd = rr->rrs.rdata;
		for (uint16_t j = 0; j < rr->rrs.count; j++) {
			if (out->count < TGC_CACHE_ADDRS_MAX &&
			    rdata_addr(qtype, rd, &out->addrs[out->count])) {
				out->count++;
			}
			rd = knot_rdataset_next(rd);
		}
		ttl = (rr->ttl < ttl) ? rr->ttl : ttl;
	}

	if (out->count == 0) {
		/* Negative answer: keep the SOA, TTL as RFC 2308 says. */
		ttl = 0;
		const knot_pktsection_t *ns = knot_pkt_section(reply, KNOT_AUTHORITY);
		for (uint16_t i = 0; i < ns->count; i++) {
			const knot_rrset_t *rr = knot_pkt_rr(ns, i);
			if (rr->type != KNOT_RRTYPE_SOA || rr->rrs.count < 1) {
				continue;
			}
			size_t owner_len = knot_dname_size(rr->owner);
			const knot_rdata_t *rd = rr->rrs.rdata;
			if (tgc_answer_soa_names_len(rd) == 0) {
				continue; /* Malformed: never read past it. */
			}
			if (owner_len + rd->len > TGC_CACHE_SOA_MAX) {
				break;
			}
			memcpy(out->soa, rr->owner, owner_len);
			memcpy(out->soa + owner_len, rd->data, rd->len);
			out->soa_owner_len = owner_len;
			out->soa_rdata_len = rd->len;
			uint32_t minimum = knot_soa_minimum(rd);
			ttl = (rr->ttl < minimum) ? rr->ttl : minimum;
			break;
		}
	}
	out->ttl = (ttl == UINT32_MAX) ? 0 : ttl;

	return KNOT_EOK;
}

size_t tgc_forward_rewrite(knot_rrset_t *rr, const tgc_natmap_rule_t *rules,
                           size_t count)
{
	if (rr == NULL || (rr->type != KNOT_RRTYPE_A && rr->type != KNOT_RRTYPE_AAAA) ||
	    rules == NULL || count == 0) {
		return 0;
	}

	size_t done = 0;
	knot_rdata_t *rd = rr->rrs.rdata;
	for (uint16_t i = 0; i < rr->rrs.count; i++) {
		tgc_addr_t in, out;
		if (rdata_addr(rr->type, rd, &in) &&
		    tgc_natmap_apply(rules, count, &in, &out) && out.len == rd->len) {
			memcpy(rd->data, out.bytes, out.len);
			done++;
		}
		rd = knot_rdataset_next(rd);
	}

	return done;
}

/*
 * The cache state machine (pure).
 */

tgc_cache_state_t tgc_forward_cache_state(const tgc_cache_snap_t *snap,
                                          uint64_t now_ms, uint32_t fresh_ms,
                                          uint32_t stale_limit_s)
{
	if (snap == NULL || !snap->valid) {
		return TGC_CACHE_EMPTY;
	}

	uint64_t age = (now_ms > snap->fetched_ms) ? now_ms - snap->fetched_ms : 0;
	if (snap->ok && age <= fresh_ms) {
		return TGC_CACHE_FRESH;
	}
	if (age <= (uint64_t)stale_limit_s * 1000) {
		return TGC_CACHE_STALE;
	}

	return TGC_CACHE_EXPIRED;
}

uint32_t tgc_forward_fresh_ms(uint32_t interval_ms, const tgc_fwd_conf_t *conf)
{
	uint64_t round = (conf != NULL) ?
	                 (uint64_t)conf->timeout_ms * (conf->count ? conf->count : 1) : 0;
	uint64_t fresh = (uint64_t)interval_ms + 2 * round +
	                 ((conf != NULL) ? conf->timeout_ms : 0);

	return (fresh > UINT32_MAX) ? UINT32_MAX : (uint32_t)fresh;
}

uint32_t tgc_forward_cache_ttl(tgc_cache_state_t state, uint32_t upstream_ttl,
                               uint32_t ttl)
{
	if (state == TGC_CACHE_FRESH) {
		return (upstream_ttl < ttl) ? upstream_ttl : ttl;
	}

	return (ttl < TGC_FORWARD_STALE_TTL) ? ttl : TGC_FORWARD_STALE_TTL;
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
 * \brief One try over UDP: waits for an acceptable reply until the deadline.
 *
 * \return TGC_FWD_TRY_OK, a tgc_fwd_err_t (the last rejection when replies
 *         were rejected and then time ran out), or a negative KNOT_E*.
 */
static int try_udp(try_t *try)
{
	const struct sockaddr_storage *to = &try->target->addr;
	int fd = socket(to->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		try->stats->errors[TGC_FWD_ERR_NETWORK]++;
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
	int fd = socket(to->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		try->stats->errors[TGC_FWD_ERR_NETWORK]++;
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
static void *mm_get(knot_mm_t *mm, size_t len)
{
	return (mm != NULL) ? mm->alloc(mm->ctx, len) : malloc(len);
}

/*! \brief Frees memory of mm_get() (no-op for pools without free). */
static void mm_put(knot_mm_t *mm, void *mem)
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
	uint8_t *buf = mm_get(mm, MSG_MAX);
	if (query == NULL || buf == NULL) {
		knot_pkt_free(query);
		mm_put(mm, buf);
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
		int res = tgc_forward_build(query, &sent, qname, qtype, qclass, t->key);
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
			res = tgc_forward_build(query, &sent, qname, qtype, qclass, t->key);
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
	mm_put(mm, buf);

	return ret;
}

void tgc_forward_reply_free(knot_pkt_t *reply, knot_mm_t *mm)
{
	if (reply == NULL) {
		return;
	}
	uint8_t *wire = reply->wire;
	knot_pkt_free(reply);
	mm_put(mm, wire);
}

/*
 * The poller.
 */

/*!
 * \brief A running poller.
 *
 * Ownership across threads: tgc_poller_start() fills everything before it
 * creates the poller thread; from then on the loop, the handles, the state
 * machines and the flags belong to the poller thread until
 * tgc_poller_stop() has joined it. The only cross-thread operations in
 * between are the eventfd write and uv_async_send() of tgc_poller_stop().
 */
struct tgc_poller {
	tgc_poller_conf_t conf;   /*!< Written by start, then read-only. */
	char name_txt[KNOT_DNAME_TXT_MAXLEN + 1]; /*!< Name for logs (read-only). */
	tgc_health_sm_t *sm;      /*!< Per-target state (poller thread). */
	tgc_cache_snap_t snap;    /*!< Scratch snapshot (poller thread). */
	uv_loop_t loop;           /*!< The loop (poller thread). */
	uv_async_t stop_async;    /*!< Sent by the stopping thread. */
	uv_timer_t timer;         /*!< Next poll (poller thread). */
	uv_thread_t thread;       /*!< Written by start, joined by stop. */
	int cancel_fd;            /*!< eventfd: written by stop, polled by the
	                           *   poller thread inside a poll. */
	bool stopping;            /*!< Stop seen (poller thread only). */
	bool lost;                /*!< No upstream answered the last poll and
	                           *   that was logged (poller thread only). */
	bool expired_logged;      /*!< Stale limit passed, logged (poller). */
	bool synced;              /*!< sm loaded from the records (poller). */
	int loop_close_ret;       /*!< uv_loop_close() result: written by the
	                           *   poller thread before it ends, read by
	                           *   stop after the join. */
};

/*! \brief Logs through the configured logger, unless stopping. */
#define PL_LOG(p, prio, fmt, ...) do { \
	if ((p)->conf.log != NULL && !(p)->stopping) { \
		(p)->conf.log((p)->conf.ctx, (prio), (fmt), ##__VA_ARGS__); \
	} \
} while (0)

/*! \brief Tells whether this instance may write the table now. */
static bool pl_is_writer(const tgc_poller_t *p)
{
	return atomic_load(&p->conf.table->hdr->writer) == p->conf.writer_token;
}

/*! \brief Anti-flap parameters of upstream states: one try decides. */
static const tgc_health_params_t upstream_params = {
	.check = TGC_CHECK_NONE, .interval_ms = 1, .timeout_ms = 1,
	.rise = 1, .fall = 1,
};

/*! \brief Probe outcome shown for a try result. */
static tgc_probe_t try_probe(tgc_fwd_err_t res)
{
	switch (res) {
	case TGC_FWD_TRY_OK:      return TGC_PROBE_OK;
	case TGC_FWD_ERR_TIMEOUT: return TGC_PROBE_TIMEOUT;
	case TGC_FWD_ERR_NETWORK: return TGC_PROBE_REFUSED;
	default:                  return TGC_PROBE_ERROR;
	}
}

/*! \brief Per-try callback: upstream state in the record, logged on change. */
static void on_tried(void *arg, size_t idx, tgc_fwd_err_t res, uint32_t rtt_us)
{
	tgc_poller_t *p = arg;
	tgc_table_t *table = p->conf.table;
	if (idx >= table->hdr->node_count || !pl_is_writer(p)) {
		return;
	}

	tgc_health_sm_t sm = p->sm[idx];
	tgc_health_t from = sm.health;
	bool changed = tgc_health_feed(&sm, res == TGC_FWD_TRY_OK, &upstream_params);
	uint64_t now = tgc_table_now_ms();
	tgc_node_update_t upd = {
		.what = TGC_NODE_UPD_RESULT | (changed ? TGC_NODE_UPD_HEALTH : 0),
		.health = sm.health,
		.consec_ok = sm.consec_ok,
		.consec_fail = sm.consec_fail,
		.last_probe = try_probe(res),
		.last_rtt_us = rtt_us,
		.now_ms = now,
	};
	if (!tgc_table_node_update(table, (uint32_t)idx, &upd)) {
		return;
	}
	p->sm[idx] = sm;

	if (changed) {
		PL_LOG(p, (sm.health == TGC_HEALTH_DOWN) ? LOG_WARNING : LOG_NOTICE,
		       "upstream %s %s -> %s (%s, %u ms)",
		       p->conf.fwd->targets[idx].text, tgc_table_health_str(from),
		       tgc_table_health_str(sm.health), tgc_forward_err_str(res),
		       (unsigned)(rtt_us / 1000));
	}
}

/*! \brief Loads the upstream state machines from the records. */
static void pl_sync(tgc_poller_t *p)
{
	for (uint32_t i = 0; i < p->conf.table->hdr->node_count; i++) {
		tgc_node_snap_t snap;
		tgc_table_node_read(p->conf.table, i, &snap);
		p->sm[i].health = (snap.health <= TGC_HEALTH_DOWN) ? snap.health :
		                                                     TGC_HEALTH_UNKNOWN;
		p->sm[i].consec_ok = snap.consec_ok;
		p->sm[i].consec_fail = snap.consec_fail;
	}
	p->synced = true;
}

/*! \brief Logs once when the stale limit has passed for both types. */
static void pl_check_expiry(tgc_poller_t *p)
{
	uint64_t now = tgc_table_now_ms();
	for (unsigned i = 0; i < TGC_CACHE_RECS; i++) {
		if (tgc_table_cache_read(p->conf.table, i, &p->snap, false) != KNOT_EOK) {
			return;
		}
		if (tgc_forward_cache_state(&p->snap, now, 0, p->conf.stale_limit_s) ==
		    TGC_CACHE_STALE) {
			return;
		}
	}
	p->expired_logged = true;
	PL_LOG(p, LOG_ERR, "no upstream answer for %s within stale-limit %u s, "
	       "answering SERVFAIL", p->name_txt, p->conf.stale_limit_s);
}

/*!
 * \brief Exchanges the poller's view with its segment (see tgc_table_sync())
 *        and logs what happened.
 */
static void pl_table_sync(tgc_poller_t *p)
{
	tgc_table_sync_t ev;
	tgc_table_sync(p->conf.table, p->conf.writer_token, &ev);
	if (ev.retaken) {
		PL_LOG(p, LOG_WARNING, "segment %s: took the writer role back from "
		       "pid %d, which is gone (%u records closed)",
		       p->conf.table->name, (int)ev.gone_pid, ev.closed);
	}
	if (ev.dropped) {
		PL_LOG(p, ev.removed ? LOG_NOTICE : LOG_ERR,
		       "segment %s: %s; no longer using it, answers "
		       "continue from this instance's own copy (knotc reload "
		       "recreates the segment)", p->conf.table->name, ev.why);
	}
}

/*!
 * \brief One poll: A then AAAA, each sent to the upstreams from the last
 *        good one on; the outcome is written to the cache records.
 *
 * \return False if cancelled (stopping).
 */
static bool pl_round(tgc_poller_t *p)
{
	tgc_table_t *table = p->conf.table;
	static const uint16_t types[TGC_CACHE_RECS] = {
		[TGC_CACHE_A] = KNOT_RRTYPE_A, [TGC_CACHE_AAAA] = KNOT_RRTYPE_AAAA
	};

	pl_table_sync(p);
	if (!pl_is_writer(p)) {
		/* A newer instance polls; reload its history if we ever get
		 * the table back. */
		p->synced = false;
		return true;
	}
	atomic_store_explicit(&table->hdr->heartbeat_ms, tgc_table_now_ms(),
	                      memory_order_relaxed);
	if (!p->synced) {
		pl_sync(p);
	}
	/* Before polling: a poll that succeeds would skip the message. */
	if (p->lost && !p->expired_logged) {
		pl_check_expiry(p);
	}

	bool any_ok = false;
	size_t good = 0;
	const tgc_fwd_conf_t *fwd = p->conf.fwd;
	uint64_t budget = (uint64_t)fwd->timeout_ms * fwd->count;
	for (unsigned i = 0; i < TGC_CACHE_RECS; i++) {
		size_t first = (p->conf.preferred != NULL) ?
		               atomic_load_explicit(p->conf.preferred,
		                                    memory_order_relaxed) : 0;
		knot_pkt_t *reply = NULL;
		size_t used = 0;
		tgc_fwd_stats_t stats;
		memset(&stats, 0, sizeof(stats));
		int ret = tgc_forward_query(fwd, first % fwd->count, p->conf.name,
		                            types[i], KNOT_CLASS_IN,
		                            (budget > UINT32_MAX) ? UINT32_MAX : (uint32_t)budget,
		                            p->cancel_fd, NULL, &reply, &used, &stats,
		                            on_tried, p);
		if (ret == KNOT_EAGAIN) {
			return false;
		}
		if (p->conf.count != NULL) {
			p->conf.count(p->conf.ctx, &stats);
		}

		tgc_cache_snap_t *snap = &p->snap;
		memset(snap, 0, sizeof(*snap));
		uint64_t now = tgc_table_now_ms();
		if (ret == KNOT_EOK &&
		    tgc_forward_extract(reply, p->conf.name, types[i], snap) == KNOT_EOK) {
			snap->fetched_ms = now;
			snap->upstream = used;
			any_ok = true;
			good = used;
			if (p->conf.preferred != NULL) {
				atomic_store_explicit(p->conf.preferred, (uint32_t)used,
				                      memory_order_relaxed);
			}
		} else {
			snap->valid = false;
			snap->ok = false;
		}
		snap->polled_ms = now;
		tgc_forward_reply_free(reply, NULL);
		if (pl_is_writer(p)) {
			(void)tgc_table_cache_write(table, i, snap);
		}
	}

	if (!any_ok && !p->lost) {
		p->lost = true;
		PL_LOG(p, LOG_WARNING, "no upstream answers for %s, serving the "
		       "last answer for up to %u s", p->name_txt,
		       p->conf.stale_limit_s);
	} else if (any_ok && p->lost) {
		p->lost = false;
		p->expired_logged = false;
		PL_LOG(p, LOG_NOTICE, "upstream answers for %s again (%s)",
		       p->name_txt, fwd->targets[good].text);
	}
	if (p->lost && !p->expired_logged) {
		pl_check_expiry(p);
	}
	/* Publish this round at once (heartbeat, cache, upstream states). */
	pl_table_sync(p);

	return true;
}

/*! \brief Timer: time for a poll; the next one is an interval after the
 *         start of this one (at once if the poll took longer). */
static void on_poll_timer(uv_timer_t *timer)
{
	tgc_poller_t *p = timer->data;
	if (p->stopping) {
		return;
	}

	uint64_t start = uv_hrtime() / 1000000;
	if (!pl_round(p)) {
		return; /* Cancelled: the stop async closes everything. */
	}
	uint64_t took = uv_hrtime() / 1000000 - start;
	uint64_t delay = (took < p->conf.interval_ms) ? p->conf.interval_ms - took : 0;
	uv_update_time(&p->loop);
	uv_timer_start(&p->timer, on_poll_timer, delay, 0);
}

/*! \brief Stop request: close every handle so that uv_run() returns. */
static void on_pl_stop(uv_async_t *async)
{
	tgc_poller_t *p = async->data;

	p->stopping = true;
	tgc_uvloop_close_all(&p->loop);
}

/*! \brief Body of the poller thread. */
static void pl_run(void *arg)
{
	tgc_poller_t *p = arg;

	if (p->conf.thread_start != NULL) {
		p->conf.thread_start(p->conf.ctx);
	}

	uv_update_time(&p->loop);
	uv_timer_start(&p->timer, on_poll_timer, 0, 0);
	(void)uv_run(&p->loop, UV_RUN_DEFAULT);

	p->stopping = true;
	p->loop_close_ret = tgc_uvloop_shutdown(&p->loop);
	assert(p->loop_close_ret == 0);

	if (p->conf.thread_stop != NULL) {
		p->conf.thread_stop(p->conf.ctx);
	}
}

/*! \brief Frees a poller whose loop is closed (or was never opened). */
static void pl_free(tgc_poller_t *p)
{
	if (p->cancel_fd >= 0) {
		close(p->cancel_fd);
	}
	free(p->sm);
	free(p);
}

int tgc_poller_start(tgc_poller_t **out, const tgc_poller_conf_t *conf)
{
	if (out == NULL || conf == NULL || conf->table == NULL ||
	    conf->table->hdr == NULL || conf->table->cache == NULL ||
	    conf->fwd == NULL || conf->fwd->count == 0 ||
	    conf->fwd->count != conf->table->hdr->node_count ||
	    conf->name == NULL || conf->interval_ms == 0) {
		return KNOT_EINVAL;
	}
	if (!conf->table->writable) {
		return KNOT_EACCES;
	}

	tgc_poller_t *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return KNOT_ENOMEM;
	}
	p->conf = *conf;
	p->cancel_fd = -1;
	if (knot_dname_to_str(p->name_txt, conf->name, sizeof(p->name_txt)) == NULL) {
		strcpy(p->name_txt, "?");
	}
	p->sm = calloc(conf->fwd->count, sizeof(*p->sm));
	p->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->sm == NULL || p->cancel_fd < 0) {
		int ret = (p->sm == NULL) ? KNOT_ENOMEM : knot_map_errno();
		pl_free(p);
		return ret;
	}

	int ret = uv_loop_init(&p->loop);
	if (ret != 0) {
		pl_free(p);
		return KNOT_ERROR;
	}
	ret = uv_async_init(&p->loop, &p->stop_async, on_pl_stop);
	if (ret != 0) {
		(void)tgc_uvloop_shutdown(&p->loop);
		pl_free(p);
		return KNOT_ERROR;
	}
	p->stop_async.data = p;
	(void)uv_timer_init(&p->loop, &p->timer);
	p->timer.data = p;

	/* Signals belong to knotd's main thread. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	ret = uv_thread_create(&p->thread, pl_run, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret != 0) {
		p->stopping = true;
		if (tgc_uvloop_shutdown(&p->loop) == 0) {
			pl_free(p);
		} /* else leak rather than free a live loop. */
		return KNOT_ERROR;
	}

	*out = p;
	return KNOT_EOK;
}

void tgc_poller_stop(tgc_poller_t *poller)
{
	if (poller == NULL) {
		return;
	}

	/* Cancel a poll in flight first, then stop the loop. */
	uint64_t one = 1;
	ssize_t w = write(poller->cancel_fd, &one, sizeof(one));
	(void)w;
	int ret = uv_async_send(&poller->stop_async);
	assert(ret == 0);
	(void)ret;
	ret = uv_thread_join(&poller->thread);
	assert(ret == 0);

	if (poller->loop_close_ret == 0) {
		pl_free(poller);
	}
}
