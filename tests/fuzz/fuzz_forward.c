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
 * \brief libFuzzer harness: the translator's upstream reply validator and
 *        everything that consumes an accepted reply.
 *
 * A reply comes from the network (a load balancer, or anyone who can spoof
 * one). The harness runs tgc_forward_validate() on it (against a fixed
 * question with ID 0x4242, optionally a TSIG key), then on an accepted reply:
 * tgc_forward_extract() into a cache snapshot, tgc_table_cache_write() and
 * tgc_table_cache_read() through an in-memory translator table (what the
 * poller and the knotd workers do), the negative-answer SOA put into a
 * response the way translator_put_soa() does, the cached addresses mapped
 * and put with tgc_answer_put(), and tgc_forward_rewrite() of every answer
 * RRset (on-demand forwarding), and tgc_ecs_reply_scope() on the client
 * subnet option of the reply. The load report option of the reply
 * (loadopt.h) is checked against what the snapshot took of it, the grant
 * slots tgc_forward_slots() gives the addresses, and both through the table.
 *
 * Input: one control byte (bit 0: ask AAAA instead of A; bit 1: the
 * upstream has a TSIG key; bit 2: the reply is confined to the zone
 * intern.netz., as a translator's are; bit 3: the reply came over TCP;
 * bit 4: the query carried the client subnet 192.0.2.0/24), then the reply
 * wire.
 */

#include <netinet/in.h>

#include "fuzz_util.h"
#include "module/answer.h"
#include "module/ecs.h"
#include "module/forward.h"
#include "module/loadopt.h"
#include "module/natmap.h"
#include "module/table.h"

#define FUZZ_ID	0x4242

static knot_dname_t *qname;
static knot_dname_t *scope;
static knot_tsig_key_t key;
static tgc_natmap_rule_t rules[2];
static tgc_table_t table;

static void init_once(void)
{
	static bool done;
	if (done) {
		return;
	}
	done = true;
	qname = knot_dname_from_str_alloc("internet.intern.netz.");
	scope = knot_dname_from_str_alloc("intern.netz.");
	FUZZ_ASSERT(qname != NULL && scope != NULL);
	FUZZ_ASSERT(knot_tsig_key_init(&key, "hmac-sha256", "tgc-key.",
	                               "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0") == KNOT_EOK);
	FUZZ_ASSERT(tgc_natmap_rule_parse("10.10.10.0/24=192.168.1.0/24", &rules[0], NULL) == KNOT_EOK);
	FUZZ_ASSERT(tgc_natmap_rule_parse("fd00::/64=fd01::/64", &rules[1], NULL) == KNOT_EOK);

	/* A translator table with one upstream, in memory. */
	size_t size = tgc_table_size(TGC_ROLE_TRANSLATOR, 1);
	uint8_t *mem = calloc(1, size);
	FUZZ_ASSERT(mem != NULL);
	table.hdr = (tgc_table_hdr_t *)mem;
	table.hdr->role = TGC_ROLE_TRANSLATOR;
	table.hdr->node_count = 1;
	table.hdr->cache_off = sizeof(tgc_table_hdr_t) + sizeof(tgc_node_rec_t);
	table.nodes = (tgc_node_rec_t *)(table.hdr + 1);
	table.cache = (tgc_cache_rec_t *)(mem + table.hdr->cache_off);
	table.size = size;
	table.writable = true;
}

/*! \brief Tells whether \a name is \a apex or below it (any case). */
static bool under(const knot_dname_t *name, const knot_dname_t *apex)
{
	int below = knot_dname_labels(name, NULL) - knot_dname_labels(apex, NULL);
	for (int i = 0; i < below; i++) {
		name = knot_wire_next_label(name, NULL);
	}
	return below >= 0 && knot_dname_is_case_equal(name, apex);
}

/*!
 * \brief Checks what tgc_forward_extract() took of the load report: with
 *        a report that parses, each address has the figures of the first
 *        entry for it (among the first TGC_CACHE_ADDRS_MAX) or neutral
 *        ones; without, every address is neutral. Then the grant slots.
 */
static void check_load(const knot_pkt_t *reply, tgc_cache_snap_t *snap)
{
	uint8_t *opt = (reply->opt_rr != NULL) ?
	               knot_edns_get_option(reply->opt_rr, TGC_LOADOPT_CODE, NULL) :
	               NULL;
	tgc_loadopt_entry_t entries[TGC_CACHE_ADDRS_MAX];
	size_t count = 0;
	bool usable = opt != NULL &&
	              tgc_loadopt_parse(knot_edns_opt_get_data(opt),
	                                knot_edns_opt_get_length(opt), entries,
	                                TGC_CACHE_ADDRS_MAX, &count) == KNOT_EOK;
	FUZZ_ASSERT(snap->reported == usable);
	FUZZ_ASSERT(count <= TGC_CACHE_ADDRS_MAX);
	for (unsigned i = 0; i < TGC_CACHE_ADDRS_MAX; i++) {
		uint32_t sessions = 0, capacity = 100;
		for (size_t e = 0; usable && i < snap->count && e < count; e++) {
			if (tgc_addr_equal(&entries[e].addr, &snap->addrs[i])) {
				sessions = entries[e].sessions;
				capacity = entries[e].capacity_x100;
				break;
			}
		}
		FUZZ_ASSERT(snap->sessions[i] == sessions);
		FUZZ_ASSERT(snap->capacity_x100[i] == capacity);
	}

	/* Grant slots: distinct, in range; the same answer polled again keeps
	 * every one of them and marks none as left. */
	uint64_t left[TGC_CACHE_SLOTS] = { 0 };
	tgc_forward_slots(NULL, snap, left, 1000);
	bool seen[TGC_CACHE_SLOTS] = { false };
	for (unsigned i = 0; i < snap->count; i++) {
		FUZZ_ASSERT(snap->slot[i] < TGC_CACHE_SLOTS && !seen[snap->slot[i]]);
		seen[snap->slot[i]] = true;
	}
	uint8_t first[TGC_CACHE_ADDRS_MAX];
	memcpy(first, snap->slot, sizeof(first));
	tgc_cache_snap_t again = *snap;
	tgc_forward_slots(snap, &again, left, 2000);
	FUZZ_ASSERT(memcmp(again.slot, first, snap->count) == 0);
	for (unsigned s = 0; s < TGC_CACHE_SLOTS; s++) {
		FUZZ_ASSERT(left[s] == 0);
	}
}

/*! \brief translator_put_soa() of the glue: the cached SOA, re-assembled. */
static void put_soa(knot_pkt_t *resp, const tgc_cache_snap_t *snap, knot_mm_t *mm)
{
	if (snap->soa_owner_len == 0 ||
	    knot_dname_wire_check(snap->soa, snap->soa + snap->soa_owner_len,
	                          NULL) != snap->soa_owner_len) {
		return;
	}
	knot_dname_t *owner = mm->alloc(mm->ctx, snap->soa_owner_len);
	FUZZ_ASSERT(owner != NULL);
	memcpy(owner, snap->soa, snap->soa_owner_len);
	/* Exactly the rdata length: ASan sees any read beyond it. */
	uint8_t *rd_buf = mm->alloc(mm->ctx, knot_rdata_size(snap->soa_rdata_len));
	FUZZ_ASSERT(rd_buf != NULL);
	knot_rdata_init((knot_rdata_t *)rd_buf, snap->soa_rdata_len,
	                snap->soa + snap->soa_owner_len);
	knot_rrset_t soa;
	knot_rrset_init(&soa, owner, KNOT_RRTYPE_SOA, KNOT_CLASS_IN, 60);
	soa.rrs.count = 1;
	soa.rrs.size = knot_rdata_size(snap->soa_rdata_len);
	soa.rrs.rdata = (knot_rdata_t *)rd_buf;
	(void)tgc_answer_put_soa(resp, &soa, 5, mm);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	if (size < 1 || size > KNOT_WIRE_MAX_PKTSIZE) {
		return 0;
	}
	uint8_t ctl = data[0];
	data++;
	size--;
	uint16_t qtype = (ctl & 1) ? KNOT_RRTYPE_AAAA : KNOT_RRTYPE_A;

	tgc_fwd_sent_t sent = {
		.id = FUZZ_ID,
		.qname = qname,
		.qtype = qtype,
		.qclass = KNOT_CLASS_IN,
		.key = (ctl & 2) ? &key : NULL,
		.mac_len = (ctl & 2) ? 32 : 0,
		.scope = (ctl & 4) ? scope : NULL,
		.tcp = (ctl & 8) != 0,
	};
	memset(sent.mac, 0x5a, sizeof(sent.mac));

	uint8_t *wire = malloc(size > 0 ? size : 1);
	FUZZ_ASSERT(wire != NULL);
	memcpy(wire, data, size);
	knot_pkt_t *reply = knot_pkt_new(wire, (uint16_t)size, NULL);
	FUZZ_ASSERT(reply != NULL);
	fuzz_arena_t arena;
	knot_mm_t mm;
	fuzz_arena_init(&arena, &mm);
	knot_pkt_t *resp = NULL;
	knot_pkt_t *query = NULL;

	tgc_fwd_verdict_t v = tgc_forward_validate(reply, &sent);
	FUZZ_ASSERT(tgc_forward_verdict_str(v) != NULL);
	if (v != TGC_FWD_OK) {
		goto out;
	}
	/* Accepted: exactly our question, a response, our ID. */
	FUZZ_ASSERT(knot_wire_get_id(reply->wire) == FUZZ_ID);
	FUZZ_ASSERT(knot_wire_get_qr(reply->wire));
	FUZZ_ASSERT(knot_dname_is_case_equal(knot_pkt_qname(reply), qname));
	FUZZ_ASSERT(sent.key == NULL); /* nobody forges HMAC-SHA256 here */
	FUZZ_ASSERT(!sent.tcp || !knot_wire_get_tc(reply->wire));
	/* Sections contiguous and in order, OPT/TSIG where they point. */
	uint16_t total = 0;
	for (int s = KNOT_ANSWER; s <= KNOT_ADDITIONAL; s++) {
		const knot_pktsection_t *sec = knot_pkt_section(reply, s);
		FUZZ_ASSERT(sec->pos == total);
		total += sec->count;
	}
	FUZZ_ASSERT(total == reply->rrset_count);
	FUZZ_ASSERT(reply->opt_rr == NULL || reply->opt_rr->type == KNOT_RRTYPE_OPT);
	FUZZ_ASSERT(reply->tsig_rr == NULL || reply->tsig_rr->type == KNOT_RRTYPE_TSIG);
	if (sent.scope != NULL) {
		/* Confined: nothing outside the zone is left. */
		for (uint16_t i = 0; i < reply->rrset_count; i++) {
			const knot_rrset_t *rr = &reply->rr[i];
			FUZZ_ASSERT(rr->type == KNOT_RRTYPE_OPT ||
			            rr->type == KNOT_RRTYPE_TSIG || under(rr->owner, scope));
		}
	}

	/* The client subnet option: an echo of the one sent or nothing, a
	 * scope within the family; a poll answer scoped to a subnet is never
	 * cached. */
	knot_edns_client_subnet_t ecs_sent;
	tgc_addr_t client = { .family = AF_INET, .len = 4, .bytes = { 192, 0, 2, 9 } };
	FUZZ_ASSERT(tgc_ecs_for_client(&client, 32, 24, 56, &ecs_sent) == KNOT_EOK);
	unsigned ecs_scope = 0;
	int ecs_ret = tgc_ecs_reply_scope(reply, (ctl & 16) ? &ecs_sent : NULL,
	                                  &ecs_scope);
	FUZZ_ASSERT(ecs_ret == KNOT_EOK || ecs_ret == KNOT_EMALF ||
	            ecs_ret == KNOT_EINVAL);
	FUZZ_ASSERT(ecs_ret == KNOT_EOK || ecs_scope == 0);
	FUZZ_ASSERT((ctl & 16) ? ecs_scope <= 32 : ecs_scope == 0);
	bool ecs_unscoped = (ctl & 16) ?
	                    tgc_ecs_reply_scope(reply, NULL, &ecs_scope) == KNOT_EOK :
	                    ecs_ret == KNOT_EOK;

	tgc_cache_snap_t *snap = mm.alloc(mm.ctx, sizeof(*snap));
	tgc_cache_snap_t *back = mm.alloc(mm.ctx, sizeof(*back));
	FUZZ_ASSERT(snap != NULL && back != NULL);
	memset(snap, 0, sizeof(*snap));
	if (tgc_forward_extract(reply, qname, qtype, snap) == KNOT_EOK) {
		FUZZ_ASSERT(ecs_unscoped);
		FUZZ_ASSERT(snap->count <= TGC_CACHE_ADDRS_MAX);
		FUZZ_ASSERT((size_t)snap->soa_owner_len + snap->soa_rdata_len <= TGC_CACHE_SOA_MAX);
		FUZZ_ASSERT(snap->count == 0 || snap->soa_owner_len == 0);
		/* A cached negative answer carries the zone's SOA (or a cut
		 * between the zone and the name), never another's. */
		FUZZ_ASSERT(sent.scope == NULL || snap->soa_owner_len == 0 ||
		            (under(snap->soa, scope) && under(qname, snap->soa)));
		for (unsigned i = 0; i < snap->count; i++) {
			FUZZ_ASSERT(snap->addrs[i].family == (qtype == KNOT_RRTYPE_A ? AF_INET : AF_INET6));
		}
		check_load(reply, snap);
		snap->polled_ms = snap->fetched_ms = 1;
		unsigned idx = (qtype == KNOT_RRTYPE_A) ? TGC_CACHE_A : TGC_CACHE_AAAA;
		FUZZ_ASSERT(tgc_table_cache_write(&table, idx, snap) == KNOT_EOK);
		FUZZ_ASSERT(tgc_table_cache_read(&table, idx, back, true) == KNOT_EOK);
		FUZZ_ASSERT(back->count == snap->count && back->rcode == snap->rcode &&
		            back->ttl == snap->ttl);
		FUZZ_ASSERT(back->soa_owner_len == snap->soa_owner_len &&
		            back->soa_rdata_len == snap->soa_rdata_len);
		FUZZ_ASSERT(memcmp(back->soa, snap->soa,
		                   back->soa_owner_len + back->soa_rdata_len) == 0);
		FUZZ_ASSERT(back->reported == snap->reported);
		for (unsigned i = 0; i < back->count; i++) {
			FUZZ_ASSERT(back->sessions[i] == snap->sessions[i] &&
			            back->capacity_x100[i] == snap->capacity_x100[i] &&
			            back->slot[i] == snap->slot[i]);
		}

		/* What a worker answers from it. */
		query = knot_pkt_new(NULL, KNOT_WIRE_MIN_PKTSIZE, NULL);
		FUZZ_ASSERT(query != NULL);
		FUZZ_ASSERT(knot_pkt_put_question(query, qname, KNOT_CLASS_IN, qtype) == KNOT_EOK);
		resp = knot_pkt_new(NULL, KNOT_WIRE_MIN_PKTSIZE, NULL);
		FUZZ_ASSERT(resp != NULL);
		FUZZ_ASSERT(knot_pkt_init_response(resp, query) == KNOT_EOK);
		FUZZ_ASSERT(knot_pkt_begin(resp, KNOT_ANSWER) == KNOT_EOK);
		if (back->count == 0) {
			put_soa(resp, back, &mm);
		} else {
			const tgc_addr_t *addrs[TGC_CACHE_ADDRS_MAX];
			tgc_addr_t mapped[TGC_CACHE_ADDRS_MAX];
			for (unsigned i = 0; i < back->count; i++) {
				addrs[i] = &back->addrs[i];
				if (tgc_natmap_apply(rules, 2, &back->addrs[i], &mapped[i]) &&
				    mapped[i].family == back->addrs[i].family) {
					addrs[i] = &mapped[i];
				}
			}
			int ret = tgc_answer_put(resp, qname, qtype, 5, addrs,
			                         back->count, &mm);
			FUZZ_ASSERT(ret == KNOT_EOK || ret == KNOT_ESPACE);
		}
		knot_pkt_t *check = knot_pkt_new(resp->wire, resp->size, NULL);
		FUZZ_ASSERT(check != NULL);
		FUZZ_ASSERT(knot_pkt_parse(check, 0) == KNOT_EOK);
		knot_pkt_free(check);
	}

	/* On-demand forwarding rewrites every A/AAAA RRset of the reply. */
	for (int s = KNOT_ANSWER; s <= KNOT_ADDITIONAL; s++) {
		const knot_pktsection_t *sec = knot_pkt_section(reply, s);
		for (uint16_t i = 0; i < sec->count; i++) {
			knot_rrset_t *rr = (knot_rrset_t *)knot_pkt_rr(sec, i);
			size_t n = tgc_forward_rewrite(rr, rules, 2);
			FUZZ_ASSERT(n <= rr->rrs.count);
		}
	}
out:
	knot_pkt_free(query);
	knot_pkt_free(resp);
	knot_pkt_free(reply);
	free(wire);
	fuzz_arena_clear(&arena);
	return 0;
}
