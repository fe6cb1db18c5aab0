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
 * \brief Load balancer: the query path (A/AAAA of the cluster name from the
 *        live nodes, zone admin records, signed answers); its setup is in
 *        lb_load.c.
 */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libknot/rrtype/soa.h>

#include "module/conf.h"
#include "module/ctx.h"
#include "module/load.h"
#include "module/loadopt.h"
#include "module/probe_http.h"

/*!
 * \brief Applies the zone's admin records (apex TXT) when the zone's SOA
 *        serial changed since they were last read: parses them and posts
 *        the per-node states to the checker (tgc_admin_box_post()).
 *
 * The module API offers no zone-load event: the zone is only visible to a
 * query (knotd_qdata_zone_apex_rrset()). A new serial is therefore taken in
 * at the first query for the cluster name (or the zone's SOA) after knotd
 * loaded it; the checker, woken at once, applies it. A serial older than
 * the one seen (a worker still on the previous zone contents) is ignored
 * unless the seen one is more than a second old (a zone rolled back).
 */
static void zone_admin_check(tgc_ctx_t *ctx, knotd_qdata_t *qdata,
                             knotd_mod_t *mod, unsigned thr)
{
	knot_rrset_t soa = knotd_qdata_zone_apex_rrset(qdata, KNOT_RRTYPE_SOA);
	if (knot_rrset_empty(&soa) || ctx->lb.admin_box.nodes == NULL) {
		return;
	}
	uint32_t serial = knot_soa_serial(soa.rrs.rdata);
	uint64_t tagged = (uint64_t)serial | (1ull << 32);
	uint64_t seen = atomic_load_explicit(&ctx->lb.zone_seen, memory_order_relaxed);
	if (seen == tagged) {
		return;
	}
	uint64_t now = tgc_table_now_ms();
	if (seen != 0 && (int32_t)(serial - (uint32_t)seen) < 0 &&
	    now < atomic_load_explicit(&ctx->lb.zone_seen_ms, memory_order_relaxed) + 1000) {
		return;
	}
	if (!atomic_compare_exchange_strong_explicit(&ctx->lb.zone_seen, &seen, tagged,
	                                             memory_order_relaxed,
	                                             memory_order_relaxed)) {
		return; /* Another worker takes this serial in. */
	}
	atomic_store_explicit(&ctx->lb.zone_seen_ms, now, memory_order_relaxed);

	tgc_admin_zone_t *nodes = calloc(ctx->lb.node_count + 1, sizeof(*nodes));
	if (nodes == NULL) {
		atomic_store_explicit(&ctx->lb.zone_seen, 0, memory_order_relaxed);
		return;
	}
	uint32_t malformed = 0;
	knot_rrset_t txt = knotd_qdata_zone_apex_rrset(qdata, KNOT_RRTYPE_TXT);
	knot_rdata_t *rd = txt.rrs.rdata;
	for (uint16_t i = 0; i < txt.rrs.count; i++, rd = knot_rdataset_next(rd)) {
		tgc_admin_rec_t rec;
		const char *why = NULL;
		int ret = tgc_admin_parse(rd->data, rd->len, &rec, &why);
		if (ret == KNOT_ENOENT) {
			continue;
		}
		if (ret != KNOT_EOK) {
			if (malformed++ < 4) {
				knotd_mod_log(mod, LOG_WARNING, "zone admin record ignored "
				              "(serial %u): %s", serial, why);
			}
			continue;
		}
		if (!tgc_admin_name_match(&rec, ctx->lb.name_txt)) {
			continue;
		}
		bool found = false;
		for (uint32_t n = 0; n < ctx->lb.node_count; n++) {
			if (!tgc_addr_equal(&ctx->lb.addrs[n], &rec.addr) ||
			    (rec.port != 0 && ctx->table.nodes[n].port != rec.port)) {
				continue;
			}
			found = true;
			/* Several records for one node: the strongest wins
			 * (down > drain > up), whatever their order. */
			static const uint8_t rank[] = {
				[TGC_ADMIN_AUTO] = 0, [TGC_ADMIN_UP] = 1,
				[TGC_ADMIN_DRAIN] = 2, [TGC_ADMIN_DOWN] = 3,
			};
			if (rank[rec.state] > rank[nodes[n].state]) {
				nodes[n].state = rec.state;
				memcpy(nodes[n].reason, rec.reason, sizeof(rec.reason));
			}
		}
		if (!found && malformed++ < 4) {
			knotd_mod_log(mod, LOG_WARNING, "zone admin record ignored "
			              "(serial %u): no such node", serial);
		}
	}
	if (malformed > 0) {
		knotd_mod_stats_incr(mod, thr, CTR_ADMIN_MALFORMED, 0, malformed);
	}
	tgc_admin_box_post(&ctx->lb.admin_box, serial, malformed, nodes);
	free(nodes);
	tgc_checker_wake(ctx->lb.checker);
}


/*! \brief Tells whether the query asks for the load report (loadopt.h). */
static bool report_asked(const knotd_qdata_t *qdata)
{
	size_t len = 0;
	const uint8_t *data = tgc_loadopt_find(qdata->query->opt_rr, &len);
	return data != NULL && tgc_loadopt_is_request(data, len);
}

/*!
 * \brief Adds the load report of the answered nodes to the answer's OPT:
 *        the first TGC_CACHE_ADDRS_MAX addresses (what a translator caches).
 *        An answer without room for it goes out without it.
 */
static void report_put(knot_pkt_t *pkt, knotd_qdata_t *qdata, tgc_ctx_t *ctx,
                       unsigned thr, const uint32_t *sel,
                       const tgc_addr_t *const *addrs, size_t count)
{
	if (knot_rrset_empty(&qdata->opt_rr)) {
		return;
	}
	count = (count < TGC_CACHE_ADDRS_MAX) ? count : TGC_CACHE_ADDRS_MAX;
	size_t v6 = (addrs[0]->family == AF_INET6) ? count : 0;
	size_t len = tgc_loadopt_size(count - v6, v6);
	if (knot_pkt_reserve(pkt, KNOT_EDNS_OPTION_HDRLEN + len) != KNOT_EOK) {
		return;
	}
	uint8_t *data = NULL;
	if (knot_edns_reserve_option(&qdata->opt_rr, TGC_LOADOPT_CODE, len, &data,
	                             qdata->mm) != KNOT_EOK) {
		(void)knot_pkt_reclaim(pkt, KNOT_EDNS_OPTION_HDRLEN + len);
		return;
	}
	uint64_t now = tgc_steer_now_ms();
	size_t off = 0;
	data[off++] = TGC_LOADOPT_VERSION;
	for (size_t i = 0; i < count; i++) {
		uint32_t idx = sel[i];
		tgc_loadopt_entry_t e = { .addr = *addrs[i] };
		double capacity = 0.0;
		bool has_sessions = false;
		tgc_steer_report(ctx->lb.answer.steer, thr, &ctx->table, idx,
		                 ctx->lb.weights[idx], now, &e.sessions, &capacity,
		                 &has_sessions);
		e.flags = has_sessions ? TGC_LOADOPT_F_SESSIONS : 0;
		e.capacity_x100 = tgc_load_x100(capacity);
		off += tgc_loadopt_write_entry(data + off, &e);
	}
}

knotd_state_t tgc_lb_answer(knotd_state_t state, knot_pkt_t *pkt,
                            knotd_qdata_t *qdata, knotd_mod_t *mod)
{
	uint16_t qtype = knot_pkt_qtype(qdata->query);
	uint16_t qclass = knot_pkt_qclass(qdata->query);
	if (qtype == KNOT_RRTYPE_SOA) {
		tgc_ctx_t *ctx = knotd_mod_ctx(mod);
		if (ctx != NULL) {
			zone_admin_check(ctx, qdata, mod,
			                 qdata->params->thread_id % ctx->threads);
		}
		return state;
	}
	/* QCLASS ANY gets the class IN records, as knotd answers it from a
	 * zone. */
	if ((qtype != KNOT_RRTYPE_A && qtype != KNOT_RRTYPE_AAAA) ||
	    (qclass != KNOT_CLASS_IN && qclass != KNOT_CLASS_ANY)) {
		return state;
	}
	tgc_ctx_t *ctx = knotd_mod_ctx(mod);
	const knot_dname_t *qname = knot_pkt_qname(qdata->query);
	if (ctx == NULL || !tgc_ctx_is_cluster_name(qdata, ctx)) {
		return state;
	}

	unsigned thr = qdata->params->thread_id % ctx->threads;
	zone_admin_check(ctx, qdata, mod, thr);
	tgc_ctx_table_watch(ctx, mod, thr, CTR_STALE_TABLE);
	int family = (qtype == KNOT_RRTYPE_A) ? AF_INET : AF_INET6;
	tgc_addr_t client_addr;
	unsigned client_prefix = 0;
	bool have_client = false;
	if (ctx->lb.answer.policy == TGC_POLICY_STICKY || ctx->clients.count > 0) {
		have_client = tgc_ctx_query_client(qdata, &client_addr, &client_prefix);
	}
	/* ECS scope: the prefix hashed by sticky, the whole subnet for a
	 * nat-client match. */
	uint64_t client = 0;
	unsigned scope = 0;
	if (ctx->lb.answer.policy == TGC_POLICY_STICKY && have_client) {
		client = tgc_policy_sticky_key(&client_addr, client_prefix, &scope);
	}
	if (ctx->clients.count > 0 && have_client) {
		scope = client_prefix;
	}
	tgc_ctx_ecs_scope(qdata, scope);

	uint32_t stack_sel[64];
	uint32_t *sel = stack_sel;
	if (ctx->lb.node_count > sizeof(stack_sel) / sizeof(stack_sel[0])) {
		sel = qdata->mm->alloc(qdata->mm->ctx, ctx->lb.node_count * sizeof(*sel));
		if (sel == NULL) {
			qdata->rcode = KNOT_RCODE_SERVFAIL;
			return KNOTD_STATE_FAIL;
		}
	}
	/* NAT mapping applies to the nodes selected: health, policy and the
	 * sticky hash stay tied to the node, not to the address answered. */
	const tgc_addr_t *source = ctx->lb.addrs;
	if (ctx->lb.mapped != NULL &&
	    (ctx->clients.count == 0 ||
	     (have_client && tgc_ctx_client_match(ctx, &client_addr)))) {
		source = ctx->lb.mapped;
	}
	size_t count = 0;
	tgc_answer_kind_t kind = tgc_answer_select(&ctx->lb.answer, family,
	                                           source == ctx->lb.mapped,
	                                           &ctx->lb.states[thr], client,
	                                           sel, &count);

	knot_wire_set_aa(pkt->wire);
	/* NODATA for a family with nodes means none could answer: all-down
	 * "nodata", or "all" with every node admin-down. */
	if (kind == TGC_ANSWER_ALL || kind == TGC_ANSWER_SERVFAIL ||
	    (kind == TGC_ANSWER_NODATA &&
	     (family == AF_INET ? ctx->lb.answer.v4.count : ctx->lb.answer.v6.count) > 0)) {
		knotd_mod_stats_incr(mod, thr, CTR_ALL_DOWN, 0, 1);
		atomic_fetch_add_explicit(&ctx->table.hdr->all_down_answers, 1,
		                          memory_order_relaxed);
	}

	if (kind == TGC_ANSWER_SERVFAIL) {
		qdata->rcode = KNOT_RCODE_SERVFAIL;
		return KNOTD_STATE_FAIL;
	}
	if ((kind == TGC_ANSWER_NODATA || count == 0) && ctx->lb.sign_on &&
	    knot_pkt_has_dnssec(qdata->query) &&
	    knotd_qdata_zone_apex_rrset(qdata, KNOT_RRTYPE_DNSKEY).rrs.count > 0) {
		if (tgc_sign_nodata_by_zone(!ctx->lb.below_apex,
		                            knotd_qdata_zone_apex_rrset(qdata, qtype).rrs.count > 0,
		                            (family == AF_INET ? ctx->lb.answer.v4.count :
		                                                 ctx->lb.answer.v6.count) > 0)) {
			return state;
		}
		int ret = tgc_lb_signed_nodata(pkt, qdata);
		if (ret == KNOT_ESPACE) {
			knot_wire_set_tc(pkt->wire);
		} else if (ret != KNOT_EOK) {
			qdata->rcode = KNOT_RCODE_SERVFAIL;
			return KNOTD_STATE_FAIL;
		}
		return KNOTD_STATE_DONE;
	}
	if (kind == TGC_ANSWER_NODATA || count == 0) {
		knot_rrset_t soa = knotd_qdata_zone_apex_rrset(qdata, KNOT_RRTYPE_SOA);
		(void)tgc_answer_put_soa(pkt, &soa, ctx->ttl, qdata->mm);
		return KNOTD_STATE_DONE;
	}

	const tgc_addr_t *stack_addrs[64];
	const tgc_addr_t **addrs = stack_addrs;
	if (count > sizeof(stack_addrs) / sizeof(stack_addrs[0])) {
		addrs = qdata->mm->alloc(qdata->mm->ctx, count * sizeof(*addrs));
		if (addrs == NULL) {
			qdata->rcode = KNOT_RCODE_SERVFAIL;
			return KNOTD_STATE_FAIL;
		}
	}
	for (size_t i = 0; i < count; i++) {
		addrs[i] = &source[sel[i]];
	}

	int ret = tgc_answer_put(pkt, qname, qtype, ctx->ttl, addrs, count,
	                         qdata->mm);
	if (ret == KNOT_EOK && ctx->lb.sign_on && knot_pkt_has_dnssec(qdata->query)) {
		ret = tgc_lb_sign(pkt, qdata, mod, ctx, &pkt->rr[pkt->rrset_count - 1]);
		if (ret == KNOT_ESPACE) {
			knot_wire_set_tc(pkt->wire);
		}
	}
	if (ret == KNOT_ESPACE) {
		knotd_mod_stats_incr(mod, thr, CTR_TRUNCATED, 0, 1);
		return KNOTD_STATE_DONE;
	} else if (ret != KNOT_EOK) {
		qdata->rcode = KNOT_RCODE_SERVFAIL;
		return KNOTD_STATE_FAIL;
	}

	/* A translator's poll carries the report and is no client's
	 * session: it is not granted. */
	if (report_asked(qdata)) {
		report_put(pkt, qdata, ctx, thr, sel, addrs, count);
	} else {
		tgc_answer_grant(&ctx->lb.answer, &ctx->lb.states[thr], kind, sel,
		                 count);
	}
	if (kind == TGC_ANSWER_DRAIN) {
		knotd_mod_stats_incr(mod, thr, CTR_DRAIN, 0, 1);
	}
	if (source != ctx->lb.addrs) {
		for (size_t i = 0; i < count; i++) {
			if (ctx->lb.is_mapped[sel[i]]) {
				knotd_mod_stats_incr(mod, thr, CTR_MAPPED, 0, 1);
				break;
			}
		}
	}
	if (ctx->lb.answer.backup_from > 0) {
		for (size_t i = 0; i < count; i++) {
			if (sel[i] >= ctx->lb.answer.backup_from) {
				knotd_mod_stats_incr(mod, thr, CTR_BACKUP, 0, 1);
				break;
			}
		}
	}
	for (size_t i = 0; i < count; i++) {
		knotd_mod_stats_incr(mod, thr, CTR_ANSWER, sel[i], 1);
		atomic_fetch_add_explicit(&ctx->table.nodes[sel[i]].answers, 1,
		                          memory_order_relaxed);
	}

	return KNOTD_STATE_DONE;
}
