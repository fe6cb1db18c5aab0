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

#include <string.h>
#include <sys/random.h>

#include <libknot/libknot.h>

#include "module/answer.h"
#include "module/ecs.h"
#include "module/loadopt.h"
#include "module/reply.h"

/*
 * Queries and replies.
 */

int tgc_forward_build(knot_pkt_t *query, tgc_fwd_sent_t *sent,
                      const knot_dname_t *qname, uint16_t qtype,
                      uint16_t qclass, const knot_tsig_key_t *key,
                      const knot_edns_client_subnet_t *ecs, bool load_report)
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
	if (ecs != NULL && (ret = tgc_ecs_add(&opt, ecs, &query->mm)) != KNOT_EOK) {
		knot_rrset_clear(&opt, &query->mm);
		return ret;
	}
	static const uint8_t version = TGC_LOADOPT_VERSION;
	if (load_report &&
	    (ret = knot_edns_add_option(&opt, TGC_LOADOPT_CODE, sizeof(version),
	                                &version, &query->mm)) != KNOT_EOK) {
		knot_rrset_clear(&opt, &query->mm);
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

/*!
 * \brief Takes the load report of the reply (loadopt.h) into the snapshot:
 *        each cached address gets its entry's sessions and capacity, an
 *        address without one neutral values (no sessions, capacity 1). A
 *        report that does not parse is not used: every address is neutral.
 */
static void extract_load(const knot_pkt_t *reply, tgc_cache_snap_t *out)
{
	out->reported = false;
	for (unsigned i = 0; i < TGC_CACHE_ADDRS_MAX; i++) {
		out->sessions[i] = 0;
		out->capacity_x100[i] = 100;
	}
	size_t len = 0;
	const uint8_t *data = tgc_loadopt_find(reply->opt_rr, &len);
	if (data == NULL) {
		return;
	}
	tgc_loadopt_entry_t entries[TGC_CACHE_ADDRS_MAX];
	size_t count = 0;
	if (tgc_loadopt_parse(data, len, entries, TGC_CACHE_ADDRS_MAX,
	                      &count) != KNOT_EOK) {
		return;
	}
	out->reported = true;
	for (unsigned i = 0; i < out->count; i++) {
		for (size_t e = 0; e < count; e++) {
			if (tgc_addr_equal(&entries[e].addr, &out->addrs[i])) {
				out->sessions[i] = entries[e].sessions;
				out->capacity_x100[i] = entries[e].capacity_x100;
				break;
			}
		}
	}
}

void tgc_forward_slots(const tgc_cache_snap_t *prev, tgc_cache_snap_t *next,
                       uint64_t *left_ms, uint64_t now_ms)
{
	bool taken[TGC_CACHE_SLOTS] = { false };
	bool placed[TGC_CACHE_ADDRS_MAX] = { false };
	unsigned prev_count = (prev != NULL && prev->valid &&
	                       prev->count <= TGC_CACHE_ADDRS_MAX) ? prev->count : 0;

	/* An address still answered keeps its slot. */
	for (unsigned i = 0; i < next->count; i++) {
		for (unsigned j = 0; j < prev_count; j++) {
			uint8_t slot = prev->slot[j];
			if (slot < TGC_CACHE_SLOTS && !taken[slot] &&
			    tgc_addr_equal(&prev->addrs[j], &next->addrs[i])) {
				next->slot[i] = slot;
				taken[slot] = true;
				placed[i] = true;
				break;
			}
		}
	}
	/* The slots of addresses that left are marked as left now. */
	for (unsigned j = 0; j < prev_count; j++) {
		uint8_t slot = prev->slot[j];
		if (slot < TGC_CACHE_SLOTS && !taken[slot]) {
			left_ms[slot] = now_ms;
		}
	}
	/* A new address takes the free slot that was left longest ago (the
	 * grants of the address that had it have decayed the most); there is
	 * always one not left in this poll: slots are twice the addresses. */
	for (unsigned i = 0; i < next->count; i++) {
		if (placed[i]) {
			continue;
		}
		unsigned best = TGC_CACHE_SLOTS;
		for (unsigned s = 0; s < TGC_CACHE_SLOTS; s++) {
			if (!taken[s] && (best == TGC_CACHE_SLOTS ||
			                  left_ms[s] < left_ms[best])) {
				best = s;
			}
		}
		next->slot[i] = (uint8_t)best;
		taken[best] = true;
	}
}

int tgc_forward_extract(const knot_pkt_t *reply, const knot_dname_t *qname,
                        uint16_t qtype, tgc_cache_snap_t *out)
{
	if (reply == NULL || qname == NULL || out == NULL ||
	    (qtype != KNOT_RRTYPE_A && qtype != KNOT_RRTYPE_AAAA)) {
		return KNOT_EINVAL;
	}
	uint8_t rcode = knot_wire_get_rcode(reply->wire);
	unsigned scope = 0;
	if ((rcode != KNOT_RCODE_NOERROR && rcode != KNOT_RCODE_NXDOMAIN) ||
	    tgc_ecs_reply_scope(reply, NULL, &scope) != KNOT_EOK) {
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
	extract_load(reply, out);

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

uint32_t tgc_forward_cache_ttl(tgc_cache_state_t state, uint32_t upstream_ttl,
                               uint32_t ttl)
{
	if (state == TGC_CACHE_FRESH) {
		return (upstream_ttl < ttl) ? upstream_ttl : ttl;
	}

	return (ttl < TGC_FORWARD_STALE_TTL) ? ttl : TGC_FORWARD_STALE_TTL;
}
