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
 * \brief libFuzzer harness: the load-balancer answer path fed arbitrary
 *        query packets.
 *
 * The knotd glue (tgc_lb_answer() in module/lb.c) needs knotd; this
 * harness runs the same core calls in the same order: knot_pkt_parse() of the
 * query, the client of the query (EDNS Client Subnet parsed by libknot, or
 * a source address) and its sticky key (tgc_policy_client_key), the
 * nat-client match, tgc_answer_select() over an in-memory table,
 * tgc_answer_put() (or tgc_answer_put_soa() for NODATA)
 * into a response built with knot_pkt_init_response(), and checks the
 * response: it parses again and holds what was selected, or has TC set.
 *
 * Input: FUZZ_PREFIX control bytes, then the query packet.
 *  byte 0: bits 0-1 policy, 2-3 all-down, 4-5 `answers` (0, 1, 2, 5),
 *          bit 6 answer mapped (NAT) addresses, bit 7 TCP (64 KiB response)
 *  byte 1: table: 0 small (8 IPv4 + 4 IPv6 nodes), 1 shared addresses
 *          (representatives), 2 large (100 + 70 nodes: heap buffers, long rotations);
 *          bit 7 nat-client ranges configured
 *  bytes 2-9: node states, one byte per node i % 8 (rotated by i / 8):
 *          bits 0-1 health, 2-4 admin; out-of-range values included, as a
 *          validated segment does not constrain them
 */

#include <arpa/inet.h>
#include <netinet/in.h>

#include "fuzz_util.h"
#include "module/answer.h"
#include "module/natmap.h"
#include "module/policy.h"
#include "module/table.h"

#define FUZZ_PREFIX	10

/*! \brief One configured instance (what ctx_setup builds in the glue). */
typedef struct {
	tgc_table_t table;
	uint32_t count;
	tgc_addr_t *addrs;
	tgc_addr_t *mapped;
	bool *is_mapped;
	uint64_t *keys;
	uint32_t *idx4, *idx6;
	size_t n4, n6;
	uint32_t *rep, *rep_mapped; /* NULL: all addresses differ */
} inst_t;

static inst_t insts[3];
/*! \brief nat-client ranges (knotd matches them in the glue:
 *         knotd_conf_addr_range_match). */
static const struct {
	const char *net;
	unsigned prefix;
} client_ranges[2] = { { "192.0.2.0", 24 }, { "2001:db8::", 32 } };
static tgc_addr_t client_nets[2];
static knot_dname_t *cluster_name;
static knot_rrset_t soa;
static uint8_t soa_rdata[256];

/*! \brief Builds an instance of n4 IPv4 and n6 IPv6 nodes; \a dup makes
 *         nodes share addresses (other ports) and mapped addresses. */
static void inst_build(inst_t *in, uint32_t n4, uint32_t n6, bool dup)
{
	uint32_t n = n4 + n6;
	size_t size = tgc_table_size(TGC_ROLE_LB, n);
	void *mem = calloc(1, size);
	FUZZ_ASSERT(mem != NULL);
	in->table.hdr = mem;
	in->table.nodes = (tgc_node_rec_t *)(in->table.hdr + 1);
	in->table.size = size;
	in->table.writable = true;
	in->table.hdr->node_count = n;
	in->table.hdr->role = TGC_ROLE_LB;
	in->count = n;
	in->addrs = calloc(n, sizeof(*in->addrs));
	in->mapped = calloc(n, sizeof(*in->mapped));
	in->is_mapped = calloc(n, sizeof(*in->is_mapped));
	in->keys = calloc(n, sizeof(*in->keys));
	in->idx4 = calloc(n, sizeof(uint32_t));
	in->idx6 = calloc(n, sizeof(uint32_t));
	FUZZ_ASSERT(in->addrs && in->mapped && in->is_mapped && in->keys &&
	            in->idx4 && in->idx6);

	tgc_addr_t base4, base6, lan4, lan6;
	FUZZ_ASSERT(tgc_addr_parse("10.10.10.100", &base4) == KNOT_EOK);
	FUZZ_ASSERT(tgc_addr_parse("fd00::100", &base6) == KNOT_EOK);
	FUZZ_ASSERT(tgc_addr_parse("192.168.1.100", &lan4) == KNOT_EOK);
	FUZZ_ASSERT(tgc_addr_parse("fd01::100", &lan6) == KNOT_EOK);
	for (uint32_t i = 0; i < n; i++) {
		bool v4 = i < n4;
		uint32_t k = v4 ? i : i - n4;
		uint32_t off = dup ? k / 2 : k;     /* pairs share an address */
		uint16_t port = (uint16_t)(5900 + (dup ? k % 2 : 0));
		FUZZ_ASSERT(tgc_addr_add(v4 ? &base4 : &base6, off, &in->addrs[i]) == KNOT_EOK);
		/* Mapped: base + index, or (dup) one LAN address per 3 nodes. */
		FUZZ_ASSERT(tgc_addr_add(v4 ? &lan4 : &lan6, dup ? k / 3 : k,
		                         &in->mapped[i]) == KNOT_EOK);
		in->is_mapped[i] = (i % 5) != 4;
		if (!in->is_mapped[i]) {
			in->mapped[i] = in->addrs[i];
		}
		in->keys[i] = tgc_policy_node_key(&in->addrs[i], port);
		if (v4) {
			in->idx4[in->n4++] = i;
		} else {
			in->idx6[in->n6++] = i;
		}
		tgc_node_rec_t *r = &in->table.nodes[i];
		r->family = in->addrs[i].family;
		r->port = port;
		memcpy(r->addr, in->addrs[i].bytes, in->addrs[i].len);
	}
	in->rep = calloc(n, sizeof(*in->rep));
	in->rep_mapped = calloc(n, sizeof(*in->rep_mapped));
	FUZZ_ASSERT(in->rep != NULL && in->rep_mapped != NULL);
	int r1 = tgc_answer_reps(in->addrs, n, in->rep);
	int r2 = tgc_answer_reps(in->mapped, n, in->rep_mapped);
	FUZZ_ASSERT((r1 == KNOT_EOK || r1 == KNOT_ENOENT) &&
	            (r2 == KNOT_EOK || r2 == KNOT_ENOENT));
	FUZZ_ASSERT((r1 == KNOT_EOK) == dup && (r2 == KNOT_EOK) == dup);
	if (r1 == KNOT_ENOENT) {
		free(in->rep);
		in->rep = NULL;
	}
	if (r2 == KNOT_ENOENT) {
		free(in->rep_mapped);
		in->rep_mapped = NULL;
	}
}

static void init_once(void)
{
	static bool done;
	if (done) {
		return;
	}
	done = true;
	inst_build(&insts[0], 8, 4, false);
	inst_build(&insts[1], 8, 6, true);
	inst_build(&insts[2], 100, 70, false);
	for (size_t i = 0; i < 2; i++) {
		FUZZ_ASSERT(tgc_addr_parse(client_ranges[i].net, &client_nets[i]) == KNOT_EOK);
	}
	cluster_name = knot_dname_from_str_alloc("internet.intern.netz.");
	FUZZ_ASSERT(cluster_name != NULL);

	/* The zone's SOA, for NODATA answers. */
	static uint8_t owner[] = "\x06intern\x04netz";
	uint8_t *p = soa_rdata;
	static const uint8_t names[] = "\x02ns\x06intern\x04netz\x00"
	                               "\x0ahostmaster\x06intern\x04netz";
	memcpy(p, names, sizeof(names));
	p += sizeof(names);
	for (int i = 0; i < 5; i++, p += 4) {
		knot_wire_write_u32(p, (uint32_t)(3600 * (i + 1)));
	}
	knot_rrset_init(&soa, owner, KNOT_RRTYPE_SOA, KNOT_CLASS_IN, 3600);
	FUZZ_ASSERT(knot_rrset_add_rdata(&soa, soa_rdata, (uint16_t)(p - soa_rdata),
	                                 NULL) == KNOT_EOK);
}

/*! \brief The nat-client match of the glue over the first \a count ranges. */
static bool client_match(size_t count, const tgc_addr_t *client)
{
	for (size_t i = 0; i < count; i++) {
		if (tgc_addr_in_prefix(client, &client_nets[i], client_ranges[i].prefix)) {
			return true;
		}
	}
	return false;
}

/*! \brief query_client() of the glue: ECS when present, else the source. */
static bool query_client(const knot_pkt_t *query, const tgc_addr_t *source,
                         tgc_addr_t *addr, unsigned *prefix)
{
	knot_edns_client_subnet_t ecs;
	uint8_t *opt = knot_pkt_edns_option(query, KNOT_EDNS_OPTION_CLIENT_SUBNET);
	if (opt != NULL &&
	    knot_edns_client_subnet_parse(&ecs, knot_edns_opt_get_data(opt),
	                                  knot_edns_opt_get_length(opt)) == KNOT_EOK &&
	    ecs.source_len > 0 &&
	    (ecs.family == KNOT_ADDR_FAMILY_IPV4 || ecs.family == KNOT_ADDR_FAMILY_IPV6)) {
		memset(addr, 0, sizeof(*addr));
		bool v4 = (ecs.family == KNOT_ADDR_FAMILY_IPV4);
		addr->family = v4 ? AF_INET : AF_INET6;
		addr->len = v4 ? 4 : 16;
		memcpy(addr->bytes, ecs.address, addr->len);
		*prefix = ecs.source_len;
		/* libknot rejects a source prefix longer than the family's. */
		FUZZ_ASSERT(*prefix <= addr->len * 8u);
		return true;
	}
	*addr = *source;
	*prefix = addr->len * 8;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_once();
	if (size < FUZZ_PREFIX + KNOT_WIRE_HEADER_SIZE) {
		return 0;
	}
	const uint8_t *ctl = data;
	data += FUZZ_PREFIX;
	size -= FUZZ_PREFIX;

	inst_t *in = &insts[(ctl[1] & 0x7f) % 3];
	for (uint32_t i = 0; i < in->count; i++) {
		uint8_t b = ctl[2 + i % 8];
		b = (uint8_t)((b >> (i / 8 % 8)) | (b << (8 - i / 8 % 8)));
		atomic_store(&in->table.nodes[i].health, b & 3);
		atomic_store(&in->table.nodes[i].admin, (b >> 2) & 7);
	}
	static const uint32_t answers[] = { 0, 1, 2, 5 };
	tgc_answer_cfg_t cfg = {
		.table = &in->table,
		.v4 = { in->idx4, in->n4 },
		.v6 = { in->idx6, in->n6 },
		.node_keys = in->keys,
		.policy = (tgc_policy_t)(ctl[0] & 3),
		.answers = answers[(ctl[0] >> 4) & 3],
		.all_down = (tgc_all_down_t)(((ctl[0] >> 2) & 3) % 3),
		.node_count = in->count,
		.rep = in->rep,
		.rep_mapped = in->rep_mapped,
	};
	bool use_mapped = ctl[0] & 0x40;
	bool tcp = ctl[0] & 0x80;
	size_t client_count = (ctl[1] & 0x80) ? 2 : 0;

	/* The query, parsed as knotd does (over a private copy). */
	uint8_t *wire = malloc(size);
	FUZZ_ASSERT(wire != NULL);
	memcpy(wire, data, size);
	knot_pkt_t *query = knot_pkt_new(wire, (uint16_t)(size > UINT16_MAX ? UINT16_MAX : size), NULL);
	FUZZ_ASSERT(query != NULL);
	fuzz_arena_t arena;
	knot_mm_t mm;
	fuzz_arena_init(&arena, &mm);
	knot_pkt_t *resp = NULL;
	uint32_t *sel = NULL;
	const tgc_addr_t **addrs = NULL;
	size_t count = 0;
	uint16_t qtype = 0;

	if (knot_pkt_parse(query, 0) != KNOT_EOK || query->qname_size == 0 ||
	    knot_wire_get_qr(query->wire) ||
	    knot_wire_get_opcode(query->wire) != KNOT_OPCODE_QUERY) {
		goto out; /* knotd answers FORMERR/NOTIMPL itself. */
	}
	qtype = knot_pkt_qtype(query);
	if ((qtype != KNOT_RRTYPE_A && qtype != KNOT_RRTYPE_AAAA) ||
	    knot_pkt_qclass(query) != KNOT_CLASS_IN) {
		goto out; /* Passed on to the zone. */
	}
	const knot_dname_t *qname = knot_pkt_qname(query);
	/* The glue answers only the cluster name; the answer path itself does
	 * not depend on it, so every A/AAAA query is run through it. */
	(void)knot_dname_is_case_equal(qname, cluster_name);

	tgc_addr_t source;
	FUZZ_ASSERT(tgc_addr_parse((query->size & 1) ? "::1" : "192.0.2.7", &source) == KNOT_EOK);
	tgc_addr_t client;
	unsigned prefix = 0;
	bool have_client = query_client(query, &source, &client, &prefix);
	uint64_t key = 0;
	if (have_client && cfg.policy == TGC_POLICY_STICKY) {
		unsigned dflt = (client.family == AF_INET) ? TGC_STICKY_PREFIX4 : TGC_STICKY_PREFIX6;
		key = tgc_policy_client_key(&client, (prefix < dflt) ? prefix : dflt);
	}

	int family = (qtype == KNOT_RRTYPE_A) ? AF_INET : AF_INET6;
	const tgc_answer_family_t *fam = (family == AF_INET) ? &cfg.v4 : &cfg.v6;
	sel = calloc(in->count + 1, sizeof(*sel));
	addrs = calloc(in->count + 1, sizeof(*addrs));
	FUZZ_ASSERT(sel != NULL && addrs != NULL);
	tgc_policy_state_t st;
	tgc_policy_state_init(&st, (uint64_t)size * 0x9e3779b97f4a7c15ULL);
	const tgc_addr_t *src = in->addrs;
	if (use_mapped && (client_count == 0 ||
	    (have_client && client_match(client_count, &client)))) {
		src = in->mapped;
	}
	tgc_answer_kind_t kind = tgc_answer_select(&cfg, family, src == in->mapped,
	                                           &st, key, sel, &count);
	FUZZ_ASSERT(count <= fam->count);
	FUZZ_ASSERT(kind != TGC_ANSWER_SERVFAIL || count == 0);
	for (size_t i = 0; i < count; i++) {
		FUZZ_ASSERT(sel[i] < in->count);
		FUZZ_ASSERT(in->addrs[sel[i]].family == family);
		/* Admin down is never answered. */
		FUZZ_ASSERT(tgc_table_admin(&in->table, sel[i]) != TGC_ADMIN_DOWN);
		for (size_t j = 0; j < i; j++) {
			FUZZ_ASSERT(sel[i] != sel[j]);
		}
	}
	/* An address is never repeated; `answers` counts addresses. */
	FUZZ_ASSERT(cfg.answers == 0 || count <= cfg.answers);
	for (size_t i = 0; i < count; i++) {
		for (size_t j = 0; j < i; j++) {
			FUZZ_ASSERT(!tgc_addr_equal(&src[sel[i]], &src[sel[j]]));
		}
	}

	/* As knotd: a 64 KiB buffer, the size limit set by transport/EDNS. */
	resp = knot_pkt_new(NULL, KNOT_WIRE_MAX_PKTSIZE, NULL);
	FUZZ_ASSERT(resp != NULL);
	FUZZ_ASSERT(knot_pkt_init_response(resp, query) == KNOT_EOK);
	resp->max_size = tcp ? KNOT_WIRE_MAX_PKTSIZE : KNOT_WIRE_MIN_PKTSIZE;
	if (!tcp && knot_pkt_has_edns(query)) {
		uint16_t payload = knot_edns_get_payload(query->opt_rr);
		if (payload > KNOT_WIRE_MIN_PKTSIZE) {
			resp->max_size = payload;
		}
	}
	FUZZ_ASSERT(knot_pkt_begin(resp, KNOT_ANSWER) == KNOT_EOK);
	knot_wire_set_aa(resp->wire);

	if (kind == TGC_ANSWER_SERVFAIL) {
		goto out;
	}
	if (kind == TGC_ANSWER_NODATA || count == 0) {
		FUZZ_ASSERT(tgc_answer_put_soa(resp, &soa, 5, &mm) == KNOT_EOK);
		goto check;
	}
	for (size_t i = 0; i < count; i++) {
		addrs[i] = &src[sel[i]];
	}
	int ret = tgc_answer_put(resp, qname, qtype, 5, addrs, count, &mm);
	FUZZ_ASSERT(ret == KNOT_EOK || ret == KNOT_ESPACE);
	if (ret == KNOT_ESPACE) {
		FUZZ_ASSERT(knot_wire_get_tc(resp->wire));
		FUZZ_ASSERT(knot_wire_get_ancount(resp->wire) == 0);
	} else {
		FUZZ_ASSERT(knot_wire_get_ancount(resp->wire) == count);
	}
check:
	/* What we wrote parses back, answer in our order. */
	{
		knot_pkt_t *back = knot_pkt_new(resp->wire, resp->size, NULL);
		FUZZ_ASSERT(back != NULL);
		FUZZ_ASSERT(knot_pkt_parse(back, 0) == KNOT_EOK);
		const knot_pktsection_t *an = knot_pkt_section(back, KNOT_ANSWER);
		size_t seen = 0;
		for (uint16_t k = 0; k < an->count; k++) {
			const knot_rrset_t *rr = knot_pkt_rr(an, k);
			FUZZ_ASSERT(rr->type == qtype);
			knot_rdata_t *rd = rr->rrs.rdata;
			for (uint16_t i = 0; i < rr->rrs.count; i++, seen++) {
				FUZZ_ASSERT(seen < count);
				FUZZ_ASSERT(rd->len == addrs[seen]->len);
				FUZZ_ASSERT(memcmp(rd->data, addrs[seen]->bytes, rd->len) == 0);
				rd = knot_rdataset_next(rd);
			}
		}
		FUZZ_ASSERT(seen == knot_wire_get_ancount(resp->wire));
		knot_pkt_free(back);
	}
out:
	free(sel);
	free(addrs);
	knot_pkt_free(resp);
	knot_pkt_free(query);
	free(wire);
	fuzz_arena_clear(&arena);
	return 0;
}
