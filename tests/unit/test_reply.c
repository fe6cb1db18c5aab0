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
 * \brief Unit tests of module/reply.c: query building, reply validation
 *        and confinement, extraction, rewriting and the cache state machine
 *        (and the time bounds of module/fwd_client.h derived from it).
 */

#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <libknot/libknot.h>

#include "module/ecs.h"
#include "module/forward.h"
#include "module/loadopt.h"
#include "tests/unit/test_dns.h"
#include "tests/unit/test_main.h"

/*! \brief A query and what a reply must match. */
typedef struct {
	uint8_t wire[1024];
	knot_pkt_t *pkt;
	tgc_fwd_sent_t sent;
} query_t;

/*! \brief Builds a query for NAME/qtype, signed with \a key if not NULL. */
static void query_make(query_t *q, uint16_t qtype, const knot_tsig_key_t *key)
{
	q->pkt = knot_pkt_new(q->wire, sizeof(q->wire), NULL);
	ck_assert_ptr_nonnull(q->pkt);
	ck_assert_int_eq(tgc_forward_build(q->pkt, &q->sent, NAME, qtype,
	                                   KNOT_CLASS_IN, key, NULL, false), KNOT_EOK);
}

/*! \brief Options of a test reply. */
typedef struct {
	int id_delta;              /*!< Added to the query ID. */
	bool qr_clear;             /*!< Leave QR clear. */
	uint8_t opcode;            /*!< Opcode. */
	const knot_dname_t *qname; /*!< Question name (NULL: the query's). */
	uint16_t qtype;            /*!< 0: the query's. */
	uint16_t qclass;           /*!< 0: the query's. */
	uint8_t rcode;             /*!< RCODE. */
	const char *const *addrs;  /*!< A/AAAA answers of the question name. */
	uint32_t ttl;              /*!< Their TTL. */
	bool soa;                  /*!< Put a SOA (TTL 300, MINIMUM 30) in AUTHORITY. */
	const knot_dname_t *soa_owner; /*!< Its owner (NULL: intern.netz). */
	bool no_other;             /*!< Leave out the A record of OTHER. */
	const knot_dname_t *extra; /*!< Owner of an A record in ADDITIONAL. */
	bool tc;                   /*!< Set TC. */
	const knot_tsig_key_t *key; /*!< Sign with this key. */
	const uint8_t *mac;        /*!< Request MAC for signing (NULL: the query's). */
	size_t mac_len;            /*!< Its length. */
	const uint8_t *load;       /*!< Data of a load report option (OPT in
	                            *   ADDITIONAL; NULL: no OPT). */
	uint16_t load_len;         /*!< Its length. */
	bool opt_only;             /*!< An OPT without the load report. */
} reply_opt_t;

/*! \brief A reply on the wire. */
typedef struct {
	uint8_t wire[2048];
	size_t len;
} reply_t;

/*! \brief Adds one RR (owner, type, ttl, rdata) to the current section. */
static void put_rr(knot_pkt_t *pkt, const knot_dname_t *owner, uint16_t type,
                   uint32_t ttl, const uint8_t *rd, uint16_t rd_len)
{
	/* The packet frees the owner and rdata (KNOT_PF_FREE), not the RRset
	 * structure: that one lives on the stack. */
	knot_rrset_t rr;
	knot_rrset_init(&rr, knot_dname_copy(owner, &pkt->mm), type, KNOT_CLASS_IN, ttl);
	ck_assert_ptr_nonnull(rr.owner);
	ck_assert_int_eq(knot_rrset_add_rdata(&rr, rd, rd_len, &pkt->mm), KNOT_EOK);
	ck_assert_int_eq(knot_pkt_put(pkt, KNOT_COMPR_HINT_NONE, &rr, KNOT_PF_FREE),
	                 KNOT_EOK);
}

/*! \brief Builds the reply to \a q as \a o says. */
static void reply_make(reply_t *r, const query_t *q, const reply_opt_t *o)
{
	knot_pkt_t *pkt = knot_pkt_new(r->wire, sizeof(r->wire), NULL);
	ck_assert_ptr_nonnull(pkt);
	knot_pkt_clear(pkt);
	uint16_t qtype = o->qtype ? o->qtype : q->sent.qtype;
	uint16_t qclass = o->qclass ? o->qclass : q->sent.qclass;
	const knot_dname_t *qname = o->qname ? o->qname : q->sent.qname;

	knot_wire_set_id(pkt->wire, (uint16_t)(q->sent.id + o->id_delta));
	ck_assert_int_eq(knot_pkt_put_question(pkt, qname, qclass, qtype), KNOT_EOK);
	if (!o->qr_clear) {
		knot_wire_set_qr(pkt->wire);
	}
	knot_wire_set_opcode(pkt->wire, o->opcode);
	knot_wire_set_aa(pkt->wire);
	knot_wire_set_rcode(pkt->wire, o->rcode);
	if (o->tc) {
		knot_wire_set_tc(pkt->wire);
	}

	ck_assert_int_eq(knot_pkt_begin(pkt, KNOT_ANSWER), KNOT_EOK);
	for (size_t i = 0; o->addrs != NULL && o->addrs[i] != NULL; i++) {
		uint8_t buf[16];
		bool v6 = strchr(o->addrs[i], ':') != NULL;
		ck_assert_int_eq(inet_pton(v6 ? AF_INET6 : AF_INET, o->addrs[i], buf), 1);
		put_rr(pkt, qname, v6 ? KNOT_RRTYPE_AAAA : KNOT_RRTYPE_A,
		       o->ttl + (uint32_t)i, buf, v6 ? 16 : 4);
	}
	/* Unrelated data that must never be cached as the name's. */
	static const uint8_t other_a[4] = { 192, 0, 2, 99 };
	if (!o->no_other) {
		put_rr(pkt, OTHER, KNOT_RRTYPE_A, 7, other_a, 4);
	}

	ck_assert_int_eq(knot_pkt_begin(pkt, KNOT_AUTHORITY), KNOT_EOK);
	if (o->soa) {
		uint8_t soa[64];
		size_t n = 0;
		memcpy(soa + n, "\x02ns\x06intern\x04netz", 16); n += 16;
		memcpy(soa + n, "\x02hm\x06intern\x04netz", 16); n += 16;
		static const uint8_t nums[20] = { 0, 0, 0, 1, 0, 0, 14, 16, 0, 0, 3, 132,
		                                  0, 9, 58, 128, 0, 0, 0, 30 };
		memcpy(soa + n, nums, sizeof(nums)); n += sizeof(nums);
		put_rr(pkt, o->soa_owner ? o->soa_owner : ZONE,
		       KNOT_RRTYPE_SOA, 300, soa, (uint16_t)n);
	}
	ck_assert_int_eq(knot_pkt_begin(pkt, KNOT_ADDITIONAL), KNOT_EOK);
	if (o->extra != NULL) {
		static const uint8_t extra_a[4] = { 192, 0, 2, 66 };
		put_rr(pkt, o->extra, KNOT_RRTYPE_A, 7, extra_a, 4);
	}
	if (o->load != NULL || o->opt_only) {
		knot_rrset_t opt;
		ck_assert_int_eq(knot_edns_init(&opt, 1232, 0, 0, &pkt->mm), KNOT_EOK);
		if (o->load != NULL) {
			ck_assert_int_eq(knot_edns_add_option(&opt, TGC_LOADOPT_CODE,
			                                      o->load_len, o->load,
			                                      &pkt->mm), KNOT_EOK);
		}
		ck_assert_int_eq(knot_pkt_put(pkt, KNOT_COMPR_HINT_NONE, &opt,
		                              KNOT_PF_FREE), KNOT_EOK);
	}

	r->len = pkt->size;
	if (o->key != NULL) {
		uint8_t digest[64];
		size_t digest_len = sizeof(digest);
		ck_assert_int_eq(knot_tsig_sign(pkt->wire, &pkt->size, pkt->max_size,
		                                o->mac ? o->mac : q->sent.mac,
		                                o->mac ? o->mac_len : q->sent.mac_len,
		                                digest, &digest_len, o->key, 0, 0),
		                 KNOT_EOK);
		r->len = pkt->size;
	}
	knot_pkt_free(pkt);
}

/*! \brief Validates a reply wire against a query. */
static tgc_fwd_verdict_t check_reply(const query_t *q, reply_t *r)
{
	knot_pkt_t *pkt = knot_pkt_new(r->wire, r->len, NULL);
	ck_assert_ptr_nonnull(pkt);
	tgc_fwd_verdict_t v = tgc_forward_validate(pkt, &q->sent);
	knot_pkt_free(pkt);
	return v;
}

/*! \brief Address list helper. */
static const char *const ADDRS2[] = { "10.10.10.100", "10.10.10.102", NULL };

/*
 * Validation.
 */

START_TEST(validate_ok)
{
	query_t q;
	query_make(&q, KNOT_RRTYPE_A, NULL);
	ck_assert(!knot_wire_get_rd(q.pkt->wire));
	/* On the wire: the question, then EDNS announcing our payload size
	 * as the only additional record (no key, no TSIG). */
	knot_pkt_t *sent = knot_pkt_new(q.pkt->wire, q.pkt->size, NULL);
	ck_assert_int_eq(knot_pkt_parse(sent, 0), KNOT_EOK);
	ck_assert_uint_eq(knot_wire_get_qdcount(sent->wire), 1);
	ck_assert_uint_eq(knot_wire_get_arcount(sent->wire), 1);
	ck_assert(knot_pkt_has_edns(sent));
	ck_assert_uint_eq(knot_edns_get_payload(sent->opt_rr),
	                  TGC_FORWARD_EDNS_PAYLOAD);
	ck_assert_ptr_null(sent->tsig_rr);
	knot_pkt_free(sent);
	reply_t r;
	reply_make(&r, &q, &(reply_opt_t){ .addrs = ADDRS2, .ttl = 5 });
	ck_assert_int_eq(check_reply(&q, &r), TGC_FWD_OK);
	knot_pkt_free(q.pkt);
}
END_TEST

START_TEST(validate_case_insensitive)
{
	query_t q;
	query_make(&q, KNOT_RRTYPE_A, NULL);
	reply_t r;
	reply_make(&r, &q, &(reply_opt_t){ .qname = NAME_UC, .addrs = ADDRS2 });
	ck_assert_int_eq(check_reply(&q, &r), TGC_FWD_OK);
	knot_pkt_free(q.pkt);
}
END_TEST

START_TEST(validate_random_ids)
{
	/* Two queries in a row get different IDs (1/65536 chance of a
	 * false failure per try: allow a retry). */
	query_t a, b;
	query_make(&a, KNOT_RRTYPE_A, NULL);
	query_make(&b, KNOT_RRTYPE_A, NULL);
	if (a.sent.id == b.sent.id) {
		knot_pkt_free(b.pkt);
		query_make(&b, KNOT_RRTYPE_A, NULL);
	}
	ck_assert_uint_ne(a.sent.id, b.sent.id);
	knot_pkt_free(a.pkt);
	knot_pkt_free(b.pkt);
}
END_TEST

START_TEST(validate_wrong_id)
{
	query_t q;
	query_make(&q, KNOT_RRTYPE_A, NULL);
	reply_t r;
	reply_make(&r, &q, &(reply_opt_t){ .id_delta = 1, .addrs = ADDRS2 });
	ck_assert_int_eq(check_reply(&q, &r), TGC_FWD_BAD_ID);
	knot_pkt_free(q.pkt);
}
END_TEST

START_TEST(validate_qr_clear)
{
	query_t q;
	query_make(&q, KNOT_RRTYPE_A, NULL);
	reply_t r;
	reply_make(&r, &q, &(reply_opt_t){ .qr_clear = true, .addrs = ADDRS2 });
	ck_assert_int_eq(check_reply(&q, &r), TGC_FWD_NOT_RESPONSE);
	knot_pkt_free(q.pkt);
}
END_TEST

START_TEST(validate_opcode)
{
	query_t q;
	query_make(&q, KNOT_RRTYPE_A, NULL);
	reply_t r;
	reply_make(&r, &q, &(reply_opt_t){ .opcode = KNOT_OPCODE_NOTIFY });
	ck_assert_int_eq(check_reply(&q, &r), TGC_FWD_BAD_OPCODE);
	knot_pkt_free(q.pkt);
}
END_TEST

START_TEST(validate_question)
{
	query_t q;
	query_make(&q, KNOT_RRTYPE_A, NULL);
	reply_t r;
	reply_make(&r, &q, &(reply_opt_t){ .qname = OTHER, .addrs = ADDRS2 });
	ck_assert_int_eq(check_reply(&q, &r), TGC_FWD_BAD_QUESTION);
	reply_make(&r, &q, &(reply_opt_t){ .qtype = KNOT_RRTYPE_AAAA });
	ck_assert_int_eq(check_reply(&q, &r), TGC_FWD_BAD_QUESTION);
	reply_make(&r, &q, &(reply_opt_t){ .qclass = KNOT_CLASS_CH });
	ck_assert_int_eq(check_reply(&q, &r), TGC_FWD_BAD_QUESTION);
	knot_pkt_free(q.pkt);
}
END_TEST

START_TEST(validate_question_count)
{
	query_t q;
	query_make(&q, KNOT_RRTYPE_A, NULL);
	reply_t r;
	/* No question: header only, answer-less. */
	reply_make(&r, &q, &(reply_opt_t){ 0 });
	reply_t none = r;
	knot_wire_set_qdcount(none.wire, 0);
	none.len = KNOT_WIRE_HEADER_SIZE;
	knot_wire_set_ancount(none.wire, 0);
	knot_wire_set_nscount(none.wire, 0);
	knot_wire_set_arcount(none.wire, 0);
	ck_assert_int_eq(check_reply(&q, &none), TGC_FWD_BAD_QUESTION);

	/* Two questions: the question repeated. */
	reply_t two;
	size_t qlen = knot_dname_size(NAME) + 4;
	memcpy(two.wire, r.wire, KNOT_WIRE_HEADER_SIZE + qlen);
	memcpy(two.wire + KNOT_WIRE_HEADER_SIZE + qlen,
	       r.wire + KNOT_WIRE_HEADER_SIZE, qlen);
	two.len = KNOT_WIRE_HEADER_SIZE + 2 * qlen;
	knot_wire_set_qdcount(two.wire, 2);
	knot_wire_set_ancount(two.wire, 0);
	knot_wire_set_nscount(two.wire, 0);
	knot_wire_set_arcount(two.wire, 0);
	ck_assert_int_eq(check_reply(&q, &two), TGC_FWD_BAD_QUESTION);
	knot_pkt_free(q.pkt);
}
END_TEST

START_TEST(validate_malformed)
{
	query_t q;
	query_make(&q, KNOT_RRTYPE_A, NULL);
	reply_t r;
	reply_make(&r, &q, &(reply_opt_t){ .addrs = ADDRS2 });
	reply_t cut = r;
	cut.len = r.len - 3; /* In the middle of the last RR. */
	ck_assert_int_eq(check_reply(&q, &cut), TGC_FWD_MALFORMED);
	cut.len = 11;
	ck_assert_int_eq(check_reply(&q, &cut), TGC_FWD_MALFORMED);
	cut.len = 0;
	ck_assert_int_eq(check_reply(&q, &cut), TGC_FWD_MALFORMED);
	/* Bad label in the question. */
	reply_t bad = r;
	bad.wire[KNOT_WIRE_HEADER_SIZE] = 0xc0;
	ck_assert_int_eq(check_reply(&q, &bad), TGC_FWD_MALFORMED);
	ck_assert_int_eq(tgc_forward_validate(NULL, &q.sent), TGC_FWD_MALFORMED);
	knot_pkt_free(q.pkt);
}
END_TEST


/*
 * What an authentic reply may carry: the scope, negative answers, TC.
 */


/*! \brief Validates \a r against \a q with \a scope; the packet stays
 *         (NULL when rejected, \a v says why). */
static knot_pkt_t *scoped(query_t *q, reply_t *r, const knot_dname_t *scope,
                          tgc_fwd_verdict_t *v)
{
	knot_pkt_t *pkt = knot_pkt_new(r->wire, r->len, NULL);
	ck_assert_ptr_nonnull(pkt);
	q->sent.scope = scope;
	*v = tgc_forward_validate(pkt, &q->sent);
	q->sent.scope = NULL;
	if (*v != TGC_FWD_OK) {
		knot_pkt_free(pkt);
		return NULL;
	}
	return pkt;
}

START_TEST(scope_out_of_zone_records_removed)
{
	query_t q;
	query_make(&q, KNOT_RRTYPE_A, NULL);
	reply_t r;
	reply_make(&r, &q, &(reply_opt_t){ .addrs = ADDRS2, .ttl = 5,
	                                   .extra = VICTIM });
	tgc_fwd_verdict_t v;

	/* Not confined: everything stays (what the tests above rely on). */
	knot_pkt_t *pkt = scoped(&q, &r, NULL, &v);
	ck_assert_int_eq(v, TGC_FWD_OK);
	ck_assert(has_owner(pkt, VICTIM, NULL));
	knot_pkt_free(pkt);

	/* The zone: the victim's record goes, the zone's names stay. */
	uint16_t counts[3];
	pkt = scoped(&q, &r, ZONE, &v);
	ck_assert_int_eq(v, TGC_FWD_OK);
	ck_assert(!has_owner(pkt, VICTIM, counts));
	ck_assert(has_owner(pkt, NAME, NULL));
	ck_assert(has_owner(pkt, OTHER, NULL));
	/* One RR per address (TTLs differ) and the one of OTHER. */
	ck_assert_uint_eq(counts[KNOT_ANSWER], 3);
	ck_assert_uint_eq(counts[KNOT_ADDITIONAL], 0);
	ck_assert_uint_eq(pkt->rrset_count, 3);
	tgc_cache_snap_t snap;
	ck_assert_int_eq(tgc_forward_extract(pkt, NAME, KNOT_RRTYPE_A, &snap), KNOT_EOK);
	ck_assert_uint_eq(snap.count, 2);
	knot_pkt_free(pkt);

	/* A scope in other case, and the cluster name as the scope (a global
	 * instance): www.intern.netz is outside it too. */
	pkt = scoped(&q, &r, NAME_UC, &v);
	ck_assert_int_eq(v, TGC_FWD_OK);
	ck_assert(!has_owner(pkt, VICTIM, counts));
	ck_assert(!has_owner(pkt, OTHER, NULL));
	ck_assert(has_owner(pkt, NAME, NULL));
	ck_assert_uint_eq(counts[KNOT_ANSWER], 2);
	ck_assert_uint_eq(counts[KNOT_AUTHORITY], 0);
	ck_assert_uint_eq(counts[KNOT_ADDITIONAL], 0);
	knot_pkt_free(pkt);
	knot_pkt_free(q.pkt);
}
END_TEST

START_TEST(scope_keeps_opt_and_tsig)
{
	/* Confinement after the signature check: OPT and TSIG are kept and
	 * their pointers follow the records they moved with. */
	knot_tsig_key_t key;
	ck_assert_int_eq(knot_tsig_key_init(&key, "hmac-sha256", "k.",
	                                    "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"), KNOT_EOK);
	query_t q;
	query_make(&q, KNOT_RRTYPE_A, &key);
	reply_t r;
	uint8_t wire[2048];
	reply_make(&r, &q, &(reply_opt_t){ .addrs = ADDRS2, .extra = VICTIM,
	                                   .soa = true, .soa_owner = COM });
	/* Put an OPT after the victim's record, then sign. */
	knot_pkt_t *pkt = knot_pkt_new(r.wire, r.len, NULL);
	ck_assert_int_eq(knot_pkt_parse(pkt, 0), KNOT_EOK);
	knot_pkt_t *out = knot_pkt_new(wire, sizeof(wire), NULL);
	ck_assert_int_eq(knot_pkt_copy(out, pkt), KNOT_EOK);
	knot_pkt_free(pkt);
	knot_rrset_t opt;
	ck_assert_int_eq(knot_edns_init(&opt, 1232, 0, 0, &out->mm), KNOT_EOK);
	ck_assert_int_eq(knot_pkt_put(out, KNOT_COMPR_HINT_NONE, &opt, KNOT_PF_FREE),
	                 KNOT_EOK);
	uint8_t digest[64];
	size_t digest_len = sizeof(digest);
	ck_assert_int_eq(knot_tsig_sign(out->wire, &out->size, out->max_size,
	                                q.sent.mac, q.sent.mac_len, digest,
	                                &digest_len, &key, 0, 0), KNOT_EOK);
	memcpy(r.wire, out->wire, out->size);
	r.len = out->size;
	knot_pkt_free(out);

	tgc_fwd_verdict_t v;
	uint16_t counts[3];
	pkt = scoped(&q, &r, ZONE, &v);
	ck_assert_int_eq(v, TGC_FWD_OK); /* Positive: the SOA of com. just goes. */
	ck_assert(!has_owner(pkt, VICTIM, counts));
	ck_assert(!has_owner(pkt, COM, NULL));
	ck_assert_uint_eq(counts[KNOT_AUTHORITY], 0);
	ck_assert_ptr_nonnull(pkt->opt_rr);
	ck_assert_uint_eq(pkt->opt_rr->type, KNOT_RRTYPE_OPT);
	ck_assert_ptr_nonnull(pkt->tsig_rr);
	ck_assert_uint_eq(pkt->tsig_rr->type, KNOT_RRTYPE_TSIG);
	ck_assert_uint_eq(knot_edns_get_payload(pkt->opt_rr), 1232);
	ck_assert_uint_eq(counts[KNOT_ADDITIONAL], 2); /* OPT, TSIG */
	knot_pkt_free(pkt);
	knot_pkt_free(q.pkt);
	knot_tsig_key_deinit(&key);
}
END_TEST

START_TEST(scope_negative_soa)
{
	query_t q;
	query_make(&q, KNOT_RRTYPE_AAAA, NULL);
	reply_t r;
	tgc_fwd_verdict_t v;
	knot_pkt_t *pkt;
	static const knot_dname_t *other_zone = (const knot_dname_t *)"\x05""other""\x04""netz";

	/* NXDOMAIN or NODATA with the SOA of com. (above the zone), of an
	 * unrelated zone, or of a name beside the question: rejected. */
	const knot_dname_t *bad[] = { COM, other_zone, OTHER, VICTIM,
	                              (const knot_dname_t *)"" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		reply_make(&r, &q, &(reply_opt_t){ .rcode = KNOT_RCODE_NXDOMAIN,
		                                   .soa = true, .soa_owner = bad[i] });
		ck_assert_ptr_null(scoped(&q, &r, ZONE, &v));
		ck_assert_int_eq(v, TGC_FWD_BAD_SOA);
		reply_make(&r, &q, &(reply_opt_t){ .soa = true, .soa_owner = bad[i],
		                                   .no_other = true });
		ck_assert_ptr_null(scoped(&q, &r, ZONE, &v));
		ck_assert_int_eq(v, TGC_FWD_BAD_SOA);
	}
	/* NODATA whose only answer record is outside the zone: negative. */
	reply_make(&r, &q, &(reply_opt_t){ .soa = true, .soa_owner = COM });
	ck_assert_ptr_null(scoped(&q, &r, NAME, &v));
	ck_assert_int_eq(v, TGC_FWD_BAD_SOA);
	/* The zone's SOA above the scope (a global instance, scope = name). */
	reply_make(&r, &q, &(reply_opt_t){ .rcode = KNOT_RCODE_NXDOMAIN, .soa = true });
	ck_assert_ptr_null(scoped(&q, &r, NAME, &v));
	ck_assert_int_eq(v, TGC_FWD_BAD_SOA);
	/* Not an answer (SERVFAIL): left to the RCODE check of the caller. */
	reply_make(&r, &q, &(reply_opt_t){ .rcode = KNOT_RCODE_SERVFAIL, .soa = true,
	                                   .soa_owner = COM });
	pkt = scoped(&q, &r, ZONE, &v);
	ck_assert_int_eq(v, TGC_FWD_OK);
	ck_assert(!has_owner(pkt, COM, NULL));
	knot_pkt_free(pkt);
	/* Unconfined (no scope): accepted as before. */
	reply_make(&r, &q, &(reply_opt_t){ .rcode = KNOT_RCODE_NXDOMAIN, .soa = true,
	                                   .soa_owner = COM });
	pkt = scoped(&q, &r, NULL, &v);
	ck_assert_int_eq(v, TGC_FWD_OK);
	knot_pkt_free(pkt);

	/* Accepted: the zone's SOA (any case), a zone cut between the zone
	 * and the question, the question itself, and no SOA at all. */
	const knot_dname_t *good[] = {
		ZONE, (const knot_dname_t *)"\x06""INTERN""\x04""Netz", NAME, NULL
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		reply_make(&r, &q, &(reply_opt_t){ .rcode = KNOT_RCODE_NXDOMAIN,
		                                   .soa = good[i] != NULL,
		                                   .soa_owner = good[i] });
		pkt = scoped(&q, &r, ZONE, &v);
		ck_assert_int_eq(v, TGC_FWD_OK);
		tgc_cache_snap_t snap;
		ck_assert_int_eq(tgc_forward_extract(pkt, NAME, KNOT_RRTYPE_AAAA, &snap),
		                 KNOT_EOK);
		ck_assert_uint_eq(snap.rcode, KNOT_RCODE_NXDOMAIN);
		ck_assert_uint_eq(snap.soa_owner_len,
		                  good[i] ? knot_dname_size(good[i]) : 0);
		knot_pkt_free(pkt);
	}
	/* A positive answer is not judged by its authority section: the
	 * foreign SOA is removed. */
	static const char *const v6[] = { "fd00::1", NULL };
	reply_make(&r, &q, &(reply_opt_t){ .addrs = v6, .soa = true, .soa_owner = COM });
	pkt = scoped(&q, &r, ZONE, &v);
	ck_assert_int_eq(v, TGC_FWD_OK);
	ck_assert(!has_owner(pkt, COM, NULL));
	knot_pkt_free(pkt);
	knot_pkt_free(q.pkt);
}
END_TEST

START_TEST(tc_over_tcp)
{
	query_t q;
	query_make(&q, KNOT_RRTYPE_A, NULL);
	reply_t r;
	reply_make(&r, &q, &(reply_opt_t){ .tc = true, .no_other = true });
	/* Over UDP: accepted (the caller asks again over TCP). */
	ck_assert_int_eq(check_reply(&q, &r), TGC_FWD_OK);
	/* Over TCP: an error, never an empty answer. */
	q.sent.tcp = true;
	ck_assert_int_eq(check_reply(&q, &r), TGC_FWD_TRUNCATED);
	reply_make(&r, &q, &(reply_opt_t){ .tc = true, .addrs = ADDRS2 });
	ck_assert_int_eq(check_reply(&q, &r), TGC_FWD_TRUNCATED);
	reply_make(&r, &q, &(reply_opt_t){ .addrs = ADDRS2 });
	ck_assert_int_eq(check_reply(&q, &r), TGC_FWD_OK);
	knot_pkt_free(q.pkt);
}
END_TEST

/*! \brief TSIG keys of the tests. */
static knot_tsig_key_t key_a, key_a_other_secret, key_b;

static void keys_setup(void)
{
	ck_assert_int_eq(knot_tsig_key_init(&key_a, "hmac-sha256", "tgc-key.",
	                 "Wp0m4pkCIJ1n4c1sbG5V5HGQ0O0yqZbI0C5q7K8yvbM="), KNOT_EOK);
	ck_assert_int_eq(knot_tsig_key_init(&key_a_other_secret, "hmac-sha256",
	                 "tgc-key.", "c2VjcmV0IHRoYXQgaXMgbm90IHRoZSBzYW1lIG9uZSE="),
	                 KNOT_EOK);
	ck_assert_int_eq(knot_tsig_key_init(&key_b, "hmac-sha256", "other-key.",
	                 "Wp0m4pkCIJ1n4c1sbG5V5HGQ0O0yqZbI0C5q7K8yvbM="), KNOT_EOK);
}

static void keys_teardown(void)
{
	knot_tsig_key_deinit(&key_a);
	knot_tsig_key_deinit(&key_a_other_secret);
	knot_tsig_key_deinit(&key_b);
}

START_TEST(tsig_valid)
{
	query_t q;
	query_make(&q, KNOT_RRTYPE_A, &key_a);
	ck_assert(q.sent.mac_len > 0);
	ck_assert_int_eq(knot_wire_get_arcount(q.pkt->wire), 2); /* OPT, TSIG */
	reply_t r;
	reply_make(&r, &q, &(reply_opt_t){ .addrs = ADDRS2, .key = &key_a });
	ck_assert_int_eq(check_reply(&q, &r), TGC_FWD_OK);
	knot_pkt_free(q.pkt);
}
END_TEST

START_TEST(tsig_missing)
{
	query_t q;
	query_make(&q, KNOT_RRTYPE_A, &key_a);
	reply_t r;
	reply_make(&r, &q, &(reply_opt_t){ .addrs = ADDRS2 });
	ck_assert_int_eq(check_reply(&q, &r), TGC_FWD_TSIG_MISSING);
	knot_pkt_free(q.pkt);
}
END_TEST

START_TEST(tsig_wrong)
{
	query_t q;
	query_make(&q, KNOT_RRTYPE_A, &key_a);
	reply_t r;
	reply_make(&r, &q, &(reply_opt_t){ .addrs = ADDRS2, .key = &key_a_other_secret });
	ck_assert_int_eq(check_reply(&q, &r), TGC_FWD_TSIG_BAD);
	reply_make(&r, &q, &(reply_opt_t){ .addrs = ADDRS2, .key = &key_b });
	ck_assert_int_eq(check_reply(&q, &r), TGC_FWD_TSIG_BAD);
	/* Right key, but signed over another request MAC (a replay). */
	static const uint8_t other_mac[32] = { 1, 2, 3 };
	reply_make(&r, &q, &(reply_opt_t){ .addrs = ADDRS2, .key = &key_a,
	                                   .mac = other_mac, .mac_len = 32 });
	ck_assert_int_eq(check_reply(&q, &r), TGC_FWD_TSIG_BAD);
	/* A byte changed after signing. */
	reply_make(&r, &q, &(reply_opt_t){ .addrs = ADDRS2, .key = &key_a });
	static const uint8_t rd[4] = { 10, 10, 10, 100 };
	uint8_t *at = memmem(r.wire, r.len, rd, sizeof(rd));
	ck_assert_ptr_nonnull(at);
	at[3] ^= 1;
	ck_assert_int_eq(check_reply(&q, &r), TGC_FWD_TSIG_BAD);
	knot_pkt_free(q.pkt);
}
END_TEST

START_TEST(tsig_unexpected)
{
	/* No key configured: a signed reply is accepted (nothing to check). */
	query_t q;
	query_make(&q, KNOT_RRTYPE_A, NULL);
	reply_t r;
	reply_make(&r, &q, &(reply_opt_t){ .addrs = ADDRS2, .key = &key_a });
	ck_assert_int_eq(check_reply(&q, &r), TGC_FWD_OK);
	knot_pkt_free(q.pkt);
}
END_TEST

START_TEST(verdict_strings)
{
	for (int v = TGC_FWD_OK; v <= TGC_FWD_TRUNCATED; v++) {
		ck_assert_str_ne(tgc_forward_verdict_str(v), "invalid");
	}
	for (int e = TGC_FWD_ERR_TIMEOUT; e < TGC_FWD_ERR_COUNT; e++) {
		ck_assert_str_ne(tgc_forward_err_str(e), "unknown");
	}
}
END_TEST

/*
 * Extraction and rewriting.
 */

/*! \brief Parses a reply (validated) into a packet. */
static knot_pkt_t *parsed(const query_t *q, reply_t *r)
{
	knot_pkt_t *pkt = knot_pkt_new(r->wire, r->len, NULL);
	ck_assert_ptr_nonnull(pkt);
	ck_assert_int_eq(tgc_forward_validate(pkt, &q->sent), TGC_FWD_OK);
	return pkt;
}

START_TEST(extract_addresses)
{
	query_t q;
	query_make(&q, KNOT_RRTYPE_A, NULL);
	reply_t r;
	static const char *const three[] = { "10.0.0.3", "10.0.0.1", "10.0.0.2", NULL };
	reply_make(&r, &q, &(reply_opt_t){ .addrs = three, .ttl = 30 });
	knot_pkt_t *pkt = parsed(&q, &r);

	tgc_cache_snap_t snap;
	memset(&snap, 0xff, sizeof(snap));
	ck_assert_int_eq(tgc_forward_extract(pkt, NAME, KNOT_RRTYPE_A, &snap), KNOT_EOK);
	ck_assert(snap.valid && snap.ok);
	ck_assert_uint_eq(snap.rcode, KNOT_RCODE_NOERROR);
	ck_assert_uint_eq(snap.count, 3);
	ck_assert_uint_eq(snap.ttl, 30); /* min of 30, 31, 32 */
	ck_assert_uint_eq(snap.soa_owner_len, 0);
	char txt[TGC_ADDR_STRLEN];
	for (int i = 0; i < 3; i++) { /* answer order, other name ignored */
		ck_assert_str_eq(tgc_addr_format(&snap.addrs[i], txt, sizeof(txt)), three[i]);
	}
	knot_pkt_free(pkt);
	knot_pkt_free(q.pkt);
}
END_TEST

START_TEST(extract_negative)
{
	query_t q;
	query_make(&q, KNOT_RRTYPE_AAAA, NULL);
	reply_t r;
	reply_make(&r, &q, &(reply_opt_t){ .soa = true });
	knot_pkt_t *pkt = parsed(&q, &r);
	tgc_cache_snap_t snap;
	ck_assert_int_eq(tgc_forward_extract(pkt, NAME, KNOT_RRTYPE_AAAA, &snap), KNOT_EOK);
	ck_assert_uint_eq(snap.rcode, KNOT_RCODE_NOERROR);
	ck_assert_uint_eq(snap.count, 0);
	ck_assert_uint_eq(snap.ttl, 30); /* min(SOA TTL 300, MINIMUM 30) */
	ck_assert_uint_eq(snap.soa_owner_len, 13);
	ck_assert_uint_eq(snap.soa_rdata_len, 16 + 16 + 20);
	ck_assert(memcmp(snap.soa, "\x06intern\x04netz", 13) == 0);
	knot_pkt_free(pkt);

	reply_make(&r, &q, &(reply_opt_t){ .rcode = KNOT_RCODE_NXDOMAIN, .soa = true });
	pkt = parsed(&q, &r);
	ck_assert_int_eq(tgc_forward_extract(pkt, NAME, KNOT_RRTYPE_AAAA, &snap), KNOT_EOK);
	ck_assert_uint_eq(snap.rcode, KNOT_RCODE_NXDOMAIN);
	ck_assert_uint_eq(snap.count, 0);
	knot_pkt_free(pkt);

	/* No SOA: TTL 0 (not to be cached downstream). */
	reply_make(&r, &q, &(reply_opt_t){ 0 });
	pkt = parsed(&q, &r);
	ck_assert_int_eq(tgc_forward_extract(pkt, NAME, KNOT_RRTYPE_AAAA, &snap), KNOT_EOK);
	ck_assert_uint_eq(snap.ttl, 0);
	knot_pkt_free(pkt);

	reply_make(&r, &q, &(reply_opt_t){ .rcode = KNOT_RCODE_SERVFAIL });
	pkt = parsed(&q, &r);
	ck_assert_int_eq(tgc_forward_extract(pkt, NAME, KNOT_RRTYPE_AAAA, &snap), KNOT_EINVAL);
	knot_pkt_free(pkt);
	knot_pkt_free(q.pkt);
}
END_TEST

/*! \brief NXDOMAIN reply for NAME AAAA with one SOA of \a rdlen bytes in
 *         class \a rclass (libknot checks SOA rdata in class IN only, the
 *         fuzzer's crash input had class 9). */
static knot_pkt_t *nxdomain_with_soa(uint8_t *wire, const uint8_t *rdata,
                                     uint16_t rdlen, uint16_t rclass)
{
	static const uint8_t head[] = {
		0x12, 0x34, 0x81, 0x83, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
	};
	size_t len = 0;
	memcpy(wire, head, sizeof(head));
	len += sizeof(head);
	size_t name_len = knot_dname_size(NAME);
	memcpy(wire + len, NAME, name_len);
	len += name_len;
	static const uint8_t q_tail[] = { 0x00, 0x1c, 0x00, 0x01 };
	memcpy(wire + len, q_tail, sizeof(q_tail));
	len += sizeof(q_tail);
	/* Owner: compression pointer to "intern.netz" in the question. */
	uint8_t rr[] = { 0xc0, 12 + 9, 0x00, 0x06, (uint8_t)(rclass >> 8),
	                 (uint8_t)rclass, 0x00, 0x00, 0x01, 0x2c,
	                 (uint8_t)(rdlen >> 8), (uint8_t)rdlen };
	memcpy(wire + len, rr, sizeof(rr));
	len += sizeof(rr);
	memcpy(wire + len, rdata, rdlen);
	len += rdlen;

	knot_pkt_t *pkt = knot_pkt_new(wire, len, NULL);
	ck_assert_ptr_nonnull(pkt);
	if (knot_pkt_parse(pkt, 0) != KNOT_EOK) {
		knot_pkt_free(pkt);
		return NULL; /* libknot refuses it: cannot reach the extractor. */
	}
	return pkt;
}

START_TEST(extract_malformed_soa)
{
	/* Regression (fuzz_forward): knot_soa_minimum() read past SOA rdata
	 * that libknot accepts although it is too short. */
	uint8_t rdata[64] = { 0 };
	uint8_t wire[512];
	const uint16_t bad_lens[] = { 0, 1, 2, 3, 10, 21 };
	unsigned parsed = 0;
	for (size_t i = 0; i < 2 * sizeof(bad_lens) / sizeof(bad_lens[0]); i++) {
		uint16_t rdlen = bad_lens[i / 2];
		uint16_t rclass = (i % 2 == 0) ? KNOT_CLASS_IN : 9;
		knot_pkt_t *pkt = nxdomain_with_soa(wire, rdata, rdlen, rclass);
		if (pkt == NULL) {
			continue;
		}
		parsed++;
		tgc_cache_snap_t snap;
		ck_assert_int_eq(tgc_forward_extract(pkt, NAME, KNOT_RRTYPE_AAAA, &snap),
		                 KNOT_EOK);
		ck_assert_uint_eq(snap.rcode, KNOT_RCODE_NXDOMAIN);
		ck_assert_msg(snap.soa_owner_len == 0, "SOA of %u bytes kept",
		              (unsigned)rdlen);
		knot_pkt_free(pkt);
	}

	/* libknot accepts short SOA rdata outside class IN. */
	ck_assert_uint_gt(parsed, 0);

	/* Two root names and 20 bytes: the shortest well-formed SOA is kept. */
	knot_pkt_t *pkt = nxdomain_with_soa(wire, rdata, 22, KNOT_CLASS_IN);
	ck_assert_ptr_nonnull(pkt);
	tgc_cache_snap_t snap;
	ck_assert_int_eq(tgc_forward_extract(pkt, NAME, KNOT_RRTYPE_AAAA, &snap), KNOT_EOK);
	ck_assert_uint_eq(snap.soa_owner_len, 13);
	ck_assert_uint_eq(snap.soa_rdata_len, 22);
	knot_pkt_free(pkt);
}
END_TEST

START_TEST(extract_limit)
{
	query_t q;
	query_make(&q, KNOT_RRTYPE_A, NULL);
	static char bufs[40][16];
	const char *many[41];
	for (int i = 0; i < 40; i++) {
		snprintf(bufs[i], sizeof(bufs[i]), "10.1.0.%d", i + 1);
		many[i] = bufs[i];
	}
	many[40] = NULL;
	reply_t r;
	reply_make(&r, &q, &(reply_opt_t){ .addrs = many, .ttl = 5 });
	knot_pkt_t *pkt = parsed(&q, &r);
	tgc_cache_snap_t snap;
	ck_assert_int_eq(tgc_forward_extract(pkt, NAME, KNOT_RRTYPE_A, &snap), KNOT_EOK);
	ck_assert_uint_eq(snap.count, TGC_CACHE_ADDRS_MAX);
	knot_pkt_free(pkt);
	knot_pkt_free(q.pkt);
}
END_TEST

/*
 * The load report (loadopt.h) in a reply and the query that asks for it.
 */

/*! \brief Option data: the version then one entry per address of \a e. */
static size_t load_data(uint8_t *buf, const tgc_loadopt_entry_t *e, size_t count)
{
	size_t off = 0;
	buf[off++] = TGC_LOADOPT_VERSION;
	for (size_t i = 0; i < count; i++) {
		size_t n = tgc_loadopt_write_entry(buf + off, &e[i]);
		ck_assert_uint_gt(n, 0);
		off += n;
	}
	return off;
}

/*! \brief Extracts the A reply to \a q built with \a o into \a snap (first
 *         filled with 0xff: everything read must have been written). */
static void extract_with(const query_t *q, const reply_opt_t *o,
                         tgc_cache_snap_t *snap)
{
	reply_t r;
	reply_make(&r, q, o);
	knot_pkt_t *pkt = parsed(q, &r);
	memset(snap, 0xff, sizeof(*snap));
	ck_assert_int_eq(tgc_forward_extract(pkt, NAME, KNOT_RRTYPE_A, snap), KNOT_EOK);
	knot_pkt_free(pkt);
}

/*! \brief Asserts that \a snap holds \a addrs and no load report. */
static void check_neutral(const tgc_cache_snap_t *snap, const char *const *addrs,
                          unsigned count)
{
	ck_assert(snap->valid && snap->ok);
	ck_assert(!snap->reported);
	ck_assert_uint_eq(snap->count, count);
	char txt[TGC_ADDR_STRLEN];
	for (unsigned i = 0; i < count; i++) {
		ck_assert_str_eq(tgc_addr_format(&snap->addrs[i], txt, sizeof(txt)),
		                 addrs[i]);
	}
	for (unsigned i = 0; i < TGC_CACHE_ADDRS_MAX; i++) {
		ck_assert_uint_eq(snap->sessions[i], 0);
		ck_assert_uint_eq(snap->capacity_x100[i], 100);
	}
}

static const char *const LOAD3[] = { "10.0.0.1", "10.0.0.2", "10.0.0.3", NULL };

START_TEST(extract_load_report)
{
	query_t q;
	query_make(&q, KNOT_RRTYPE_A, NULL);
	/* Entries for the third and the first address (not in answer
	 * order), one for an address not answered, one of the other family
	 * with the first's bytes; none for the second. */
	tgc_loadopt_entry_t e[] = {
		{ .addr = test_addr("10.0.0.3"), .flags = TGC_LOADOPT_F_SESSIONS,
		  .sessions = 33, .capacity_x100 = 3000 },
		{ .addr = test_addr("10.0.0.9"), .sessions = 99, .capacity_x100 = 9900 },
		{ .addr = test_addr("::a00:1"), .sessions = 77, .capacity_x100 = 7700 },
		{ .addr = test_addr("10.0.0.1"), .flags = TGC_LOADOPT_F_SESSIONS,
		  .sessions = UINT32_MAX, .capacity_x100 = 0 },
	};
	uint8_t data[1 + 4 * TGC_LOADOPT_ENTRY_MAX];
	size_t len = load_data(data, e, 4);
	tgc_cache_snap_t snap;
	extract_with(&q, &(reply_opt_t){ .addrs = LOAD3, .ttl = 5, .load = data,
	                                 .load_len = (uint16_t)len }, &snap);
	ck_assert(snap.valid && snap.ok);
	ck_assert(snap.reported);
	ck_assert_uint_eq(snap.count, 3);
	char txt[TGC_ADDR_STRLEN];
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_str_eq(tgc_addr_format(&snap.addrs[i], txt, sizeof(txt)),
		                 LOAD3[i]);
	}
	ck_assert_uint_eq(snap.sessions[0], UINT32_MAX);
	ck_assert_uint_eq(snap.capacity_x100[0], 0);
	ck_assert_uint_eq(snap.sessions[1], 0);
	ck_assert_uint_eq(snap.capacity_x100[1], 100);
	ck_assert_uint_eq(snap.sessions[2], 33);
	ck_assert_uint_eq(snap.capacity_x100[2], 3000);
	/* Past the answer: neutral, nothing of the entries. */
	for (unsigned i = 3; i < TGC_CACHE_ADDRS_MAX; i++) {
		ck_assert_uint_eq(snap.sessions[i], 0);
		ck_assert_uint_eq(snap.capacity_x100[i], 100);
	}

	/* A report that names none of them is still a report. */
	uint8_t other[1 + TGC_LOADOPT_ENTRY_MAX];
	size_t olen = load_data(other, &e[1], 1);
	extract_with(&q, &(reply_opt_t){ .addrs = LOAD3, .ttl = 5, .load = other,
	                                 .load_len = (uint16_t)olen }, &snap);
	ck_assert(snap.reported);
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_uint_eq(snap.sessions[i], 0);
		ck_assert_uint_eq(snap.capacity_x100[i], 100);
	}
	/* So is one without entries (the version alone). */
	extract_with(&q, &(reply_opt_t){ .addrs = LOAD3, .ttl = 5, .load = other,
	                                 .load_len = 1 }, &snap);
	ck_assert(snap.reported);
	ck_assert_uint_eq(snap.count, 3);
	ck_assert_uint_eq(snap.capacity_x100[0], 100);
	knot_pkt_free(q.pkt);
}
END_TEST

START_TEST(extract_load_unusable)
{
	query_t q;
	query_make(&q, KNOT_RRTYPE_A, NULL);
	tgc_loadopt_entry_t e[] = {
		{ .addr = test_addr("10.0.0.1"), .sessions = 11, .capacity_x100 = 1100 },
		{ .addr = test_addr("10.0.0.2"), .sessions = 22, .capacity_x100 = 2200 },
	};
	uint8_t data[1 + 2 * TGC_LOADOPT_ENTRY_MAX];
	size_t len = load_data(data, e, 2);
	tgc_cache_snap_t snap;

	/* Well formed first (the data below are otherwise usable). */
	extract_with(&q, &(reply_opt_t){ .addrs = LOAD3, .ttl = 5, .load = data,
	                                 .load_len = (uint16_t)len }, &snap);
	ck_assert(snap.reported);
	ck_assert_uint_eq(snap.sessions[1], 22);

	/* Truncated inside the last entry: nothing of it, not even the
	 * first entry's figures; the answer itself is cached. */
	extract_with(&q, &(reply_opt_t){ .addrs = LOAD3, .ttl = 5, .load = data,
	                                 .load_len = (uint16_t)(len - 1) }, &snap);
	check_neutral(&snap, LOAD3, 3);
	/* An unknown family in the second entry. */
	data[1 + 14] = 3;
	extract_with(&q, &(reply_opt_t){ .addrs = LOAD3, .ttl = 5, .load = data,
	                                 .load_len = (uint16_t)len }, &snap);
	check_neutral(&snap, LOAD3, 3);
	data[1 + 14] = 1;
	/* Another version. */
	data[0] = TGC_LOADOPT_VERSION + 1;
	extract_with(&q, &(reply_opt_t){ .addrs = LOAD3, .ttl = 5, .load = data,
	                                 .load_len = (uint16_t)len }, &snap);
	check_neutral(&snap, LOAD3, 3);
	data[0] = TGC_LOADOPT_VERSION;
	/* Empty option data. */
	extract_with(&q, &(reply_opt_t){ .addrs = LOAD3, .ttl = 5, .load = data,
	                                 .load_len = 0 }, &snap);
	check_neutral(&snap, LOAD3, 3);
	/* An OPT without the option, and no OPT at all. */
	extract_with(&q, &(reply_opt_t){ .addrs = LOAD3, .ttl = 5, .opt_only = true },
	             &snap);
	check_neutral(&snap, LOAD3, 3);
	extract_with(&q, &(reply_opt_t){ .addrs = LOAD3, .ttl = 5 }, &snap);
	check_neutral(&snap, LOAD3, 3);
	/* A negative answer: no report either (the snapshot is the poller's
	 * scratch; nothing of an earlier answer may stay). */
	extract_with(&q, &(reply_opt_t){ .soa = true }, &snap);
	check_neutral(&snap, LOAD3, 0);
	knot_pkt_free(q.pkt);
}
END_TEST

/*! \brief Looks for the load report option in a built query: copies its
 *         data into \a data (room for 16 bytes), tells whether the query
 *         also carries a client subnet option. */
static bool built_option(const knot_pkt_t *query, uint8_t *data, uint16_t *len,
                         bool *ecs)
{
	uint8_t copy[1024];
	ck_assert_uint_le(query->size, sizeof(copy));
	memcpy(copy, query->wire, query->size);
	knot_pkt_t *pkt = knot_pkt_new(copy, query->size, NULL);
	ck_assert_ptr_nonnull(pkt);
	ck_assert_int_eq(knot_pkt_parse(pkt, 0), KNOT_EOK);
	ck_assert_ptr_nonnull(pkt->opt_rr);
	*ecs = knot_edns_get_option(pkt->opt_rr, KNOT_EDNS_OPTION_CLIENT_SUBNET,
	                            NULL) != NULL;
	uint8_t *opt = knot_edns_get_option(pkt->opt_rr, TGC_LOADOPT_CODE, NULL);
	*len = 0;
	if (opt != NULL) {
		*len = knot_edns_opt_get_length(opt);
		ck_assert_uint_le(*len, 16);
		memcpy(data, knot_edns_opt_get_data(opt), *len);
	}
	knot_pkt_free(pkt);
	return opt != NULL;
}

START_TEST(build_load_request)
{
	tgc_addr_t client = test_addr("192.0.2.9");
	knot_edns_client_subnet_t ecs;
	ck_assert_int_eq(tgc_ecs_for_client(&client, 32, 24, 56, &ecs), KNOT_EOK);
	for (int with_ecs = 0; with_ecs < 2; with_ecs++) {
		for (int report = 0; report < 2; report++) {
			uint8_t wire[1024];
			knot_pkt_t *pkt = knot_pkt_new(wire, sizeof(wire), NULL);
			ck_assert_ptr_nonnull(pkt);
			tgc_fwd_sent_t sent;
			ck_assert_int_eq(tgc_forward_build(pkt, &sent, NAME, KNOT_RRTYPE_A,
			                                   KNOT_CLASS_IN, NULL,
			                                   with_ecs ? &ecs : NULL,
			                                   report != 0), KNOT_EOK);
			uint8_t data[16] = { 0 };
			uint16_t len = 0;
			bool has_ecs = false;
			bool found = built_option(pkt, data, &len, &has_ecs);
			ck_assert_int_eq(has_ecs, with_ecs != 0);
			ck_assert_int_eq(found, report != 0);
			if (report) {
				ck_assert_uint_eq(len, 1);
				ck_assert_uint_eq(data[0], TGC_LOADOPT_VERSION);
				ck_assert(tgc_loadopt_is_request(data, len));
			}
			knot_pkt_free(pkt);
		}
	}
}
END_TEST

/*
 * Grant slots (tgc_forward_slots()).
 */

/*! \brief A valid snapshot of the IPv4 addresses 10.(base).0.i, i < count. */
static void slots_snap(tgc_cache_snap_t *s, unsigned base, const unsigned *host,
                       unsigned count)
{
	memset(s, 0, sizeof(*s));
	s->valid = true;
	s->ok = true;
	s->count = count;
	for (unsigned i = 0; i < count; i++) {
		char a[32];
		snprintf(a, sizeof(a), "10.%u.0.%u", base, host[i]);
		s->addrs[i] = test_addr(a);
		s->slot[i] = 0xee;
	}
}

START_TEST(slots_follow_addresses)
{
	uint64_t left[TGC_CACHE_SLOTS];
	for (unsigned i = 0; i < TGC_CACHE_SLOTS; i++) {
		left[i] = 1000 + i;
	}
	tgc_cache_snap_t prev, next, third;
	static const unsigned h_prev[] = { 1, 2, 3 };
	slots_snap(&prev, 1, h_prev, 3);
	prev.slot[0] = 5;
	prev.slot[1] = 9;
	prev.slot[2] = 2;
	/* The upstream reorders them: each keeps its slot. */
	static const unsigned h_next[] = { 3, 1, 2 };
	slots_snap(&next, 1, h_next, 3);
	tgc_forward_slots(&prev, &next, left, 50000);
	ck_assert_uint_eq(next.slot[0], 2);
	ck_assert_uint_eq(next.slot[1], 5);
	ck_assert_uint_eq(next.slot[2], 9);
	/* Nobody left: no slot marked. */
	for (unsigned i = 0; i < TGC_CACHE_SLOTS; i++) {
		ck_assert_uint_eq(left[i], 1000 + i);
	}

	/* 10.1.0.3 and 10.1.0.1 leave, 10.1.0.2 stays (now last), 10.1.0.7
	 * comes. Slot 5 (10.1.0.1's) carries the oldest mark but is freed in
	 * this call: the newcomer takes the free slot left longest ago among
	 * the others, 40. */
	static const unsigned h_third[] = { 7, 2 };
	slots_snap(&third, 1, h_third, 2);
	left[5] = 1;
	left[2] = 2;
	left[40] = 3;
	tgc_forward_slots(&next, &third, left, 60000);
	ck_assert_uint_eq(third.slot[1], 9);
	ck_assert_uint_eq(third.slot[0], 40);
	ck_assert_uint_eq(left[5], 60000);
	ck_assert_uint_eq(left[2], 60000);
	ck_assert_uint_eq(left[9], 1009);
	ck_assert_uint_eq(left[40], 3);
}
END_TEST

START_TEST(slots_never_used_first)
{
	uint64_t left[TGC_CACHE_SLOTS];
	for (unsigned i = 0; i < TGC_CACHE_SLOTS; i++) {
		left[i] = 500 + i;
	}
	left[50] = 0;   /* never used */
	left[3] = 1;    /* left long ago */
	tgc_cache_snap_t prev, next;
	static const unsigned h_prev[] = { 1 };
	slots_snap(&prev, 2, h_prev, 1);
	prev.slot[0] = 7;
	static const unsigned h_next[] = { 1, 8, 9 };
	slots_snap(&next, 2, h_next, 3);
	tgc_forward_slots(&prev, &next, left, 9000);
	ck_assert_uint_eq(next.slot[0], 7);
	ck_assert_uint_eq(next.slot[1], 50);  /* the never used one first */
	ck_assert_uint_eq(next.slot[2], 3);   /* then the one left longest ago */
	ck_assert_uint_eq(left[7], 507);
}
END_TEST

START_TEST(slots_without_prev)
{
	for (int round = 0; round < 3; round++) {
		uint64_t left[TGC_CACHE_SLOTS] = { 0 };
		if (round == 2) {
			for (unsigned i = 0; i < TGC_CACHE_SLOTS; i++) {
				left[i] = 777; /* all left at the same time */
			}
		}
		tgc_cache_snap_t prev, next;
		unsigned h[TGC_CACHE_ADDRS_MAX];
		for (unsigned i = 0; i < TGC_CACHE_ADDRS_MAX; i++) {
			h[i] = i + 1;
		}
		slots_snap(&next, 3, h, TGC_CACHE_ADDRS_MAX);
		/* No previous answer, or one not valid: its slots are not
		 * followed and nothing is marked as left. */
		slots_snap(&prev, 3, h, TGC_CACHE_ADDRS_MAX);
		for (unsigned i = 0; i < TGC_CACHE_ADDRS_MAX; i++) {
			prev.slot[i] = (uint8_t)(TGC_CACHE_SLOTS - 1 - i);
		}
		prev.valid = false;
		tgc_forward_slots(round == 1 ? &prev : NULL, &next, left, 1234);
		bool seen[TGC_CACHE_SLOTS] = { false };
		for (unsigned i = 0; i < TGC_CACHE_ADDRS_MAX; i++) {
			ck_assert_uint_lt(next.slot[i], TGC_CACHE_SLOTS);
			ck_assert_msg(!seen[next.slot[i]], "slot %u given twice",
			              next.slot[i]);
			seen[next.slot[i]] = true;
			if (round == 1) {
				ck_assert_uint_ne(next.slot[i], prev.slot[i]);
			}
		}
		for (unsigned i = 0; i < TGC_CACHE_SLOTS; i++) {
			ck_assert_uint_eq(left[i], round == 2 ? 777 : 0);
		}
	}
}
END_TEST

START_TEST(slots_all_replaced)
{
	uint64_t left[TGC_CACHE_SLOTS] = { 0 };
	tgc_cache_snap_t *a = calloc(3, sizeof(*a));
	ck_assert_ptr_nonnull(a);
	unsigned h[TGC_CACHE_ADDRS_MAX];
	for (unsigned i = 0; i < TGC_CACHE_ADDRS_MAX; i++) {
		h[i] = i + 1;
	}
	slots_snap(&a[0], 4, h, TGC_CACHE_ADDRS_MAX);
	tgc_forward_slots(NULL, &a[0], left, 1000);
	/* 32 new addresses: 32 other slots (the 32 never used). */
	slots_snap(&a[1], 5, h, TGC_CACHE_ADDRS_MAX);
	tgc_forward_slots(&a[0], &a[1], left, 2000);
	/* And 32 newer ones: the 32 slots left first (at 2000), not the ones
	 * left now. */
	slots_snap(&a[2], 6, h, TGC_CACHE_ADDRS_MAX);
	tgc_forward_slots(&a[1], &a[2], left, 3000);
	for (int r = 1; r <= 2; r++) {
		bool seen[TGC_CACHE_SLOTS] = { false };
		bool old[TGC_CACHE_SLOTS] = { false };
		for (unsigned i = 0; i < TGC_CACHE_ADDRS_MAX; i++) {
			old[a[r - 1].slot[i]] = true;
		}
		for (unsigned i = 0; i < TGC_CACHE_ADDRS_MAX; i++) {
			uint8_t sl = a[r].slot[i];
			ck_assert_uint_lt(sl, TGC_CACHE_SLOTS);
			ck_assert_msg(!seen[sl], "round %d: slot %u given twice", r, sl);
			ck_assert_msg(!old[sl], "round %d: slot %u of a leaver taken", r, sl);
			seen[sl] = true;
			ck_assert_uint_eq(left[a[r - 1].slot[i]], r == 1 ? 2000 : 3000);
		}
	}
	/* Round 2 reuses exactly round 0's slots. */
	bool zero[TGC_CACHE_SLOTS] = { false };
	for (unsigned i = 0; i < TGC_CACHE_ADDRS_MAX; i++) {
		zero[a[0].slot[i]] = true;
	}
	for (unsigned i = 0; i < TGC_CACHE_ADDRS_MAX; i++) {
		ck_assert(zero[a[2].slot[i]]);
	}
	free(a);
}
END_TEST

START_TEST(rewrite_parsed_answer)
{
	query_t q;
	query_make(&q, KNOT_RRTYPE_A, NULL);
	reply_t r;
	static const char *const three[] = { "10.10.10.100", "8.8.8.8", "10.10.10.102", NULL };
	reply_make(&r, &q, &(reply_opt_t){ .addrs = three, .ttl = 5 });
	knot_pkt_t *pkt = parsed(&q, &r);

	tgc_natmap_rule_t rules[2];
	ck_assert_int_eq(tgc_natmap_rule_parse("10.10.10.0/24=192.168.1.0/24",
	                                       &rules[0], NULL), KNOT_EOK);
	ck_assert_int_eq(tgc_natmap_rule_parse("fd00::/64=fd01::/64", &rules[1],
	                                       NULL), KNOT_EOK);
	const knot_pktsection_t *an = knot_pkt_section(pkt, KNOT_ANSWER);
	/* Each address is its own RRset (TTLs differ), plus the other name. */
	ck_assert_uint_eq(an->count, 4);
	size_t done = 0;
	for (uint16_t i = 0; i < an->count; i++) {
		done += tgc_forward_rewrite((knot_rrset_t *)knot_pkt_rr(an, i), rules, 2);
	}
	ck_assert_uint_eq(done, 2);
	static const uint8_t want[3][4] = {
		{ 192, 168, 1, 100 }, { 8, 8, 8, 8 }, { 192, 168, 1, 102 },
	};
	for (uint16_t i = 0; i < 3; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(an, i);
		ck_assert_uint_eq(rr->rrs.rdata->len, 4);
		ck_assert(memcmp(rr->rrs.rdata->data, want[i], 4) == 0);
	}
	/* Not an address type, no rules: nothing. */
	knot_rrset_t txt;
	knot_rrset_init(&txt, (knot_dname_t *)NAME, KNOT_RRTYPE_TXT, KNOT_CLASS_IN, 5);
	ck_assert_uint_eq(tgc_forward_rewrite(&txt, rules, 2), 0);
	ck_assert_uint_eq(tgc_forward_rewrite((knot_rrset_t *)knot_pkt_rr(an, 0),
	                                      rules, 0), 0);
	knot_pkt_free(pkt);
	knot_pkt_free(q.pkt);

	/* IPv6. */
	query_make(&q, KNOT_RRTYPE_AAAA, NULL);
	static const char *const v6[] = { "fd00::5", "2001:db8::1", NULL };
	reply_make(&r, &q, &(reply_opt_t){ .addrs = v6, .ttl = 5 });
	pkt = parsed(&q, &r);
	an = knot_pkt_section(pkt, KNOT_ANSWER);
	ck_assert_uint_eq(tgc_forward_rewrite((knot_rrset_t *)knot_pkt_rr(an, 0), rules, 2), 1);
	ck_assert_uint_eq(tgc_forward_rewrite((knot_rrset_t *)knot_pkt_rr(an, 1), rules, 2), 0);
	uint8_t exp6[16];
	inet_pton(AF_INET6, "fd01::5", exp6);
	ck_assert(memcmp(knot_pkt_rr(an, 0)->rrs.rdata->data, exp6, 16) == 0);
	knot_pkt_free(pkt);
	knot_pkt_free(q.pkt);
}
END_TEST

/*
 * The cache state machine (fake clock).
 */

START_TEST(cache_states)
{
	const uint32_t fresh = 2500, stale = 60;
	tgc_cache_snap_t s;
	memset(&s, 0, sizeof(s));
	uint64_t t = 1000000;

	ck_assert_int_eq(tgc_forward_cache_state(&s, t, fresh, stale), TGC_CACHE_EMPTY);
	ck_assert_int_eq(tgc_forward_cache_state(NULL, t, fresh, stale), TGC_CACHE_EMPTY);

	/* A good poll at t. */
	s.valid = s.ok = true;
	s.fetched_ms = t;
	ck_assert_int_eq(tgc_forward_cache_state(&s, t, fresh, stale), TGC_CACHE_FRESH);
	ck_assert_int_eq(tgc_forward_cache_state(&s, t + fresh, fresh, stale), TGC_CACHE_FRESH);
	/* The poller is late (hung): no longer fresh even with ok set. */
	ck_assert_int_eq(tgc_forward_cache_state(&s, t + fresh + 1, fresh, stale), TGC_CACHE_STALE);

	/* Every upstream fails from t + 1000 on. */
	s.ok = false;
	ck_assert_int_eq(tgc_forward_cache_state(&s, t + 1000, fresh, stale), TGC_CACHE_STALE);
	ck_assert_int_eq(tgc_forward_cache_state(&s, t + stale * 1000, fresh, stale), TGC_CACHE_STALE);
	ck_assert_int_eq(tgc_forward_cache_state(&s, t + stale * 1000 + 1, fresh, stale), TGC_CACHE_EXPIRED);

	/* Recovered: a new good poll. */
	t += 100000;
	s.ok = true;
	s.fetched_ms = t;
	ck_assert_int_eq(tgc_forward_cache_state(&s, t + 10, fresh, stale), TGC_CACHE_FRESH);

	/* A clock that went back counts as age 0. */
	ck_assert_int_eq(tgc_forward_cache_state(&s, t - 5000, fresh, stale), TGC_CACHE_FRESH);

	/* stale-limit 0: never stale. */
	s.ok = false;
	ck_assert_int_eq(tgc_forward_cache_state(&s, t + 1, fresh, 0), TGC_CACHE_EXPIRED);
}
END_TEST

START_TEST(cache_ttls)
{
	ck_assert_uint_eq(tgc_forward_cache_ttl(TGC_CACHE_FRESH, 3, 5), 3);
	ck_assert_uint_eq(tgc_forward_cache_ttl(TGC_CACHE_FRESH, 300, 5), 5);
	ck_assert_uint_eq(tgc_forward_cache_ttl(TGC_CACHE_STALE, 300, 5), TGC_FORWARD_STALE_TTL);
	ck_assert_uint_eq(tgc_forward_cache_ttl(TGC_CACHE_STALE, 300, 0), 0);
}
END_TEST

START_TEST(bounds)
{
	tgc_fwd_target_t t[4] = { 0 };
	tgc_fwd_conf_t c = { .targets = t, .count = 2, .timeout_ms = 500 };
	ck_assert_uint_eq(tgc_forward_budget_ms(&c), 1000);
	c.count = 4;
	c.timeout_ms = 1000;
	ck_assert_uint_eq(tgc_forward_budget_ms(&c), TGC_FORWARD_BUDGET_MAX_MS);
	c.count = 1;
	c.timeout_ms = 5000;
	ck_assert_uint_eq(tgc_forward_budget_ms(&c), 5000);
	c.count = 2;
	c.timeout_ms = 500;
	ck_assert_uint_eq(tgc_forward_fresh_ms(1000, &c), 1000 + 2 * 1000 + 500);
}
END_TEST


static Suite *reply_suite(void)
{
	Suite *s = suite_create("reply");

	TCase *tc = tcase_create("validate");
	tcase_add_test(tc, validate_ok);
	tcase_add_test(tc, validate_case_insensitive);
	tcase_add_test(tc, validate_random_ids);
	tcase_add_test(tc, validate_wrong_id);
	tcase_add_test(tc, validate_qr_clear);
	tcase_add_test(tc, validate_opcode);
	tcase_add_test(tc, validate_question);
	tcase_add_test(tc, validate_question_count);
	tcase_add_test(tc, validate_malformed);
	tcase_add_test(tc, scope_out_of_zone_records_removed);
	tcase_add_test(tc, scope_keeps_opt_and_tsig);
	tcase_add_test(tc, scope_negative_soa);
	tcase_add_test(tc, tc_over_tcp);
	tcase_add_test(tc, verdict_strings);
	suite_add_tcase(s, tc);

	tc = tcase_create("tsig");
	tcase_add_checked_fixture(tc, keys_setup, keys_teardown);
	tcase_add_test(tc, tsig_valid);
	tcase_add_test(tc, tsig_missing);
	tcase_add_test(tc, tsig_wrong);
	tcase_add_test(tc, tsig_unexpected);
	suite_add_tcase(s, tc);

	tc = tcase_create("extract");
	tcase_add_test(tc, extract_addresses);
	tcase_add_test(tc, extract_negative);
	tcase_add_test(tc, extract_malformed_soa);
	tcase_add_test(tc, extract_limit);
	tcase_add_test(tc, extract_load_report);
	tcase_add_test(tc, extract_load_unusable);
	tcase_add_test(tc, build_load_request);
	suite_add_tcase(s, tc);

	tc = tcase_create("slots");
	tcase_add_test(tc, slots_follow_addresses);
	tcase_add_test(tc, slots_never_used_first);
	tcase_add_test(tc, slots_without_prev);
	tcase_add_test(tc, slots_all_replaced);
	suite_add_tcase(s, tc);

	tc = tcase_create("rewrite");
	tcase_add_test(tc, rewrite_parsed_answer);
	suite_add_tcase(s, tc);

	tc = tcase_create("cache_state");
	tcase_add_test(tc, cache_states);
	tcase_add_test(tc, cache_ttls);
	tcase_add_test(tc, bounds);
	suite_add_tcase(s, tc);

	return s;
}

TEST_MAIN(reply)
