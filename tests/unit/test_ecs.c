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
 * \brief Unit tests of module/ecs.c: the client subnet a forward carries,
 *        the check of the option in a reply, and the poll cache refusing an
 *        answer scoped to one subnet.
 */

#include <check.h>
#include <netinet/in.h>
#include <string.h>

#include <libknot/libknot.h>

#include "tests/unit/test_main.h"
#include "tests/unit/test_util.h"
#include "module/ecs.h"
#include "module/forward.h"

static const knot_dname_t *NAME = (const knot_dname_t *)"\x03""www""\x04""test";

/*! \brief A reply buffer and its parsed packet. */
typedef struct {
	uint8_t wire[512];
	size_t size;
	knot_pkt_t *pkt;
} reply_t;

/*!
 * \brief Builds and parses a NOERROR reply for NAME/A with one A record,
 *        with an OPT carrying \a opt_len raw bytes of an ECS option (no OPT
 *        when \a with_opt is false; no ECS when \a opt is NULL).
 */
static void reply_make(reply_t *r, bool with_opt, const uint8_t *opt,
                       uint16_t opt_len)
{
	knot_pkt_t *b = knot_pkt_new(r->wire, sizeof(r->wire), NULL);
	ck_assert_ptr_nonnull(b);
	knot_pkt_clear(b);
	memset(b->wire, 0, KNOT_WIRE_HEADER_SIZE);
	knot_wire_set_id(b->wire, 7);
	knot_wire_set_qr(b->wire);
	ck_assert_int_eq(knot_pkt_put_question(b, NAME, KNOT_CLASS_IN,
	                                       KNOT_RRTYPE_A), KNOT_EOK);
	ck_assert_int_eq(knot_pkt_begin(b, KNOT_ANSWER), KNOT_EOK);
	knot_rrset_t *a = knot_rrset_new(NAME, KNOT_RRTYPE_A, KNOT_CLASS_IN, 5, NULL);
	const uint8_t ip[4] = { 192, 0, 2, 1 };
	ck_assert_int_eq(knot_rrset_add_rdata(a, ip, 4, NULL), KNOT_EOK);
	ck_assert_int_eq(knot_pkt_put(b, KNOT_COMPR_HINT_NONE, a, 0), KNOT_EOK);
	if (with_opt) {
		ck_assert_int_eq(knot_pkt_begin(b, KNOT_ADDITIONAL), KNOT_EOK);
		knot_rrset_t o;
		ck_assert_int_eq(knot_edns_init(&o, 1232, 0, 0, &b->mm), KNOT_EOK);
		if (opt != NULL) {
			ck_assert_int_eq(knot_edns_add_option(&o, KNOT_EDNS_OPTION_CLIENT_SUBNET,
			                                      opt_len, opt, &b->mm), KNOT_EOK);
		}
		ck_assert_int_eq(knot_pkt_put(b, KNOT_COMPR_HINT_NONE, &o,
		                              KNOT_PF_FREE), KNOT_EOK);
	}
	r->size = b->size;
	knot_rrset_free(a, NULL);
	knot_pkt_free(b);
	r->pkt = knot_pkt_new(r->wire, r->size, NULL);
	ck_assert_ptr_nonnull(r->pkt);
	ck_assert_int_eq(knot_pkt_parse(r->pkt, 0), KNOT_EOK);
}

/*! \brief Reply echoing \a ecs with scope \a scope. */
static void reply_echo(reply_t *r, const knot_edns_client_subnet_t *ecs,
                       uint8_t scope)
{
	knot_edns_client_subnet_t e = *ecs;
	e.scope_len = scope;
	uint8_t opt[32];
	uint16_t len = knot_edns_client_subnet_size(&e);
	ck_assert_int_eq(knot_edns_client_subnet_write(opt, len, &e), KNOT_EOK);
	reply_make(r, true, opt, len);
}

START_TEST(for_client_caps_and_masks)
{
	knot_edns_client_subnet_t e;
	tgc_addr_t v4 = test_addr("192.0.2.77");
	ck_assert_int_eq(tgc_ecs_for_client(&v4, 32, 24, 56, &e), KNOT_EOK);
	ck_assert_uint_eq(e.family, KNOT_ADDR_FAMILY_IPV4);
	ck_assert_uint_eq(e.source_len, 24);
	ck_assert_uint_eq(e.scope_len, 0);
	const uint8_t want24[4] = { 192, 0, 2, 0 };
	ck_assert_mem_eq(e.address, want24, 4);

	/* A client's ECS shorter than the cap is kept as it is. */
	ck_assert_int_eq(tgc_ecs_for_client(&v4, 12, 24, 56, &e), KNOT_EOK);
	ck_assert_uint_eq(e.source_len, 12);
	const uint8_t want12[4] = { 192, 0, 0, 0 };
	ck_assert_mem_eq(e.address, want12, 4);

	/* Cap 0: the option says "do not use my subnet". */
	ck_assert_int_eq(tgc_ecs_for_client(&v4, 32, 0, 56, &e), KNOT_EOK);
	ck_assert_uint_eq(e.source_len, 0);

	tgc_addr_t v6 = test_addr("2001:db8:1:2:3::9");
	ck_assert_int_eq(tgc_ecs_for_client(&v6, 128, 24, 56, &e), KNOT_EOK);
	ck_assert_uint_eq(e.family, KNOT_ADDR_FAMILY_IPV6);
	ck_assert_uint_eq(e.source_len, 56);
	const uint8_t want56[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0 };
	ck_assert_mem_eq(e.address, want56, 16);

	tgc_addr_t none;
	memset(&none, 0, sizeof(none));
	ck_assert_int_eq(tgc_ecs_for_client(&none, 32, 24, 56, &e), KNOT_EINVAL);
}
END_TEST

START_TEST(query_carries_the_option)
{
	knot_edns_client_subnet_t e;
	tgc_addr_t v4 = test_addr("198.51.100.9");
	ck_assert_int_eq(tgc_ecs_for_client(&v4, 32, 20, 56, &e), KNOT_EOK);

	uint8_t wire[1024];
	knot_pkt_t *q = knot_pkt_new(wire, sizeof(wire), NULL);
	tgc_fwd_sent_t sent;
	ck_assert_int_eq(tgc_forward_build(q, &sent, NAME, KNOT_RRTYPE_A,
	                                   KNOT_CLASS_IN, NULL, &e, false), KNOT_EOK);
	knot_pkt_t *p = knot_pkt_new(q->wire, q->size, NULL);
	ck_assert_int_eq(knot_pkt_parse(p, 0), KNOT_EOK);
	uint8_t *opt = knot_pkt_edns_option(p, KNOT_EDNS_OPTION_CLIENT_SUBNET);
	ck_assert_ptr_nonnull(opt);
	knot_edns_client_subnet_t got;
	ck_assert_int_eq(knot_edns_client_subnet_parse(&got, knot_edns_opt_get_data(opt),
	                                               knot_edns_opt_get_length(opt)),
	                 KNOT_EOK);
	ck_assert_uint_eq(got.source_len, 20);
	const uint8_t want[3] = { 198, 51, 96 };
	ck_assert_mem_eq(got.address, want, 3);
	knot_pkt_free(p);

	/* Without: no option. */
	ck_assert_int_eq(tgc_forward_build(q, &sent, NAME, KNOT_RRTYPE_A,
	                                   KNOT_CLASS_IN, NULL, NULL, false), KNOT_EOK);
	p = knot_pkt_new(q->wire, q->size, NULL);
	ck_assert_int_eq(knot_pkt_parse(p, 0), KNOT_EOK);
	ck_assert_ptr_nonnull(p->opt_rr);
	ck_assert_ptr_null(knot_pkt_edns_option(p, KNOT_EDNS_OPTION_CLIENT_SUBNET));
	knot_pkt_free(p);
	knot_pkt_free(q);
}
END_TEST

START_TEST(reply_scope_checks_the_echo)
{
	knot_edns_client_subnet_t e;
	tgc_addr_t v4 = test_addr("192.0.2.77");
	ck_assert_int_eq(tgc_ecs_for_client(&v4, 32, 24, 56, &e), KNOT_EOK);
	reply_t r;
	unsigned scope = 99;

	/* No OPT, or an OPT without the option: every client, scope 0. */
	reply_make(&r, false, NULL, 0);
	ck_assert_int_eq(tgc_ecs_reply_scope(r.pkt, &e, &scope), KNOT_EOK);
	ck_assert_uint_eq(scope, 0);
	knot_pkt_free(r.pkt);
	reply_make(&r, true, NULL, 0);
	scope = 99;
	ck_assert_int_eq(tgc_ecs_reply_scope(r.pkt, &e, &scope), KNOT_EOK);
	ck_assert_uint_eq(scope, 0);
	knot_pkt_free(r.pkt);

	/* The echo with a scope. */
	reply_echo(&r, &e, 16);
	ck_assert_int_eq(tgc_ecs_reply_scope(r.pkt, &e, &scope), KNOT_EOK);
	ck_assert_uint_eq(scope, 16);
	knot_pkt_free(r.pkt);

	/* Another subnet, source prefix or family: not ours. */
	knot_edns_client_subnet_t other = e;
	other.address[2] = 3;
	reply_echo(&r, &other, 24);
	ck_assert_int_eq(tgc_ecs_reply_scope(r.pkt, &e, &scope), KNOT_EINVAL);
	knot_pkt_free(r.pkt);
	other = e;
	other.source_len = 16;
	reply_echo(&r, &other, 16);
	ck_assert_int_eq(tgc_ecs_reply_scope(r.pkt, &e, &scope), KNOT_EINVAL);
	knot_pkt_free(r.pkt);
	tgc_addr_t v6 = test_addr("2001:db8::1");
	ck_assert_int_eq(tgc_ecs_for_client(&v6, 128, 24, 24, &other), KNOT_EOK);
	reply_echo(&r, &other, 0);
	ck_assert_int_eq(tgc_ecs_reply_scope(r.pkt, &e, &scope), KNOT_EINVAL);
	knot_pkt_free(r.pkt);

	/* Nothing sent: an unscoped option is harmless, a scoped one is an
	 * answer for one subnet. */
	reply_echo(&r, &e, 0);
	ck_assert_int_eq(tgc_ecs_reply_scope(r.pkt, NULL, &scope), KNOT_EOK);
	ck_assert_uint_eq(scope, 0);
	knot_pkt_free(r.pkt);
	reply_echo(&r, &e, 24);
	ck_assert_int_eq(tgc_ecs_reply_scope(r.pkt, NULL, &scope), KNOT_EINVAL);
	knot_pkt_free(r.pkt);

	/* Malformed: too short, unknown family, prefix beyond the family. */
	const uint8_t short_opt[2] = { 0, 1 };
	reply_make(&r, true, short_opt, sizeof(short_opt));
	ck_assert_int_eq(tgc_ecs_reply_scope(r.pkt, &e, &scope), KNOT_EMALF);
	knot_pkt_free(r.pkt);
	const uint8_t bad_family[7] = { 0, 9, 24, 0, 192, 0, 2 };
	reply_make(&r, true, bad_family, sizeof(bad_family));
	ck_assert_int_eq(tgc_ecs_reply_scope(r.pkt, &e, &scope), KNOT_EMALF);
	knot_pkt_free(r.pkt);
	const uint8_t long_scope[7] = { 0, 1, 24, 40, 192, 0, 2 };
	reply_make(&r, true, long_scope, sizeof(long_scope));
	ck_assert_int_eq(tgc_ecs_reply_scope(r.pkt, &e, &scope), KNOT_EMALF);
	knot_pkt_free(r.pkt);
}
END_TEST

START_TEST(poll_cache_refuses_a_scoped_answer)
{
	knot_edns_client_subnet_t e;
	tgc_addr_t v4 = test_addr("192.0.2.77");
	ck_assert_int_eq(tgc_ecs_for_client(&v4, 32, 24, 56, &e), KNOT_EOK);
	reply_t r;
	tgc_cache_snap_t snap;

	reply_echo(&r, &e, 24);
	ck_assert_int_eq(tgc_forward_extract(r.pkt, NAME, KNOT_RRTYPE_A, &snap),
	                 KNOT_EINVAL);
	knot_pkt_free(r.pkt);

	reply_echo(&r, &e, 0);
	ck_assert_int_eq(tgc_forward_extract(r.pkt, NAME, KNOT_RRTYPE_A, &snap),
	                 KNOT_EOK);
	ck_assert_uint_eq(snap.count, 1);
	knot_pkt_free(r.pkt);
}
END_TEST

static Suite *ecs_suite(void)
{
	Suite *s = suite_create("ecs");
	test_add_case(s, "for_client_caps_and_masks", for_client_caps_and_masks, 60);
	test_add_case(s, "query_carries_the_option", query_carries_the_option, 60);
	test_add_case(s, "reply_scope_checks_the_echo", reply_scope_checks_the_echo, 60);
	test_add_case(s, "poll_cache_refuses_a_scoped_answer",
	              poll_cache_refuses_a_scoped_answer, 60);
	return s;
}

TEST_MAIN(ecs)
