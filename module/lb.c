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
 *        live nodes, zone admin records, signed answers) and its setup.
 */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libknot/rrtype/soa.h>

#include "module/conf.h"
#include "module/ctx.h"
#include "module/probe_http.h"

/*! \brief Index names of the transition counter. */
static char *transition_to_str(uint32_t idx, uint32_t count)
{
	(void)count;
	return strdup(idx == 0 ? "up" : "down");
}

/*! \brief Checker transition callback: counts transitions. */
static void checker_event(void *arg, uint32_t idx, tgc_health_t from,
                          tgc_health_t to)
{
	(void)idx;
	(void)from;
	tgc_ctx_t *ctx = arg;
	/* Stats slots are updated atomically by knotd: slot 0 is shared. */
	knotd_mod_stats_incr(ctx->mod, 0, CTR_TRANSITION,
	                     (to == TGC_HEALTH_DOWN) ? 1 : 0, 1);
}

/*! \brief Checker refusal callback: counts refused rfb probes per node. */
static void checker_refused(void *arg, uint32_t idx)
{
	tgc_ctx_t *ctx = arg;
	/* Slot 0 is shared with the workers: knotd updates it atomically. */
	knotd_mod_stats_incr(ctx->mod, 0, CTR_RFB_REFUSED, idx, 1);
}

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

/*!
 * \brief Takes the NAT result of the section read into the context, and the
 *        mapped addresses into the table spec (so tgclusterctl shows them).
 */
static void nat_setup(tgc_ctx_t *ctx, tgc_conf_t *conf,
                      tgc_table_node_t *spec_nodes)
{
	if (conf->nat.mapped == NULL) {
		return;
	}
	ctx->lb.mapped = conf->nat.mapped;
	ctx->lb.is_mapped = conf->nat.is_mapped;
	ctx->clients = knotd_conf_mod(ctx->mod, MOD_NAT_CLIENT);
	conf->nat.mapped = NULL;
	conf->nat.is_mapped = NULL;
	for (uint32_t i = 0; i < ctx->lb.node_count; i++) {
		if (ctx->lb.is_mapped[i]) {
			spec_nodes[i].mapped = ctx->lb.mapped[i];
		}
	}
}

/*!
 * \brief Computes the representatives of shared addresses (node and mapped)
 *        for the answer view; none when all addresses differ.
 */
static int answer_reps_setup(tgc_ctx_t *ctx)
{
	ctx->lb.answer.node_count = ctx->lb.node_count;
	uint32_t **reps[] = { &ctx->lb.rep, &ctx->lb.rep_mapped };
	const tgc_addr_t *addrs[] = { ctx->lb.addrs, ctx->lb.mapped };
	for (size_t k = 0; k < 2; k++) {
		if (addrs[k] == NULL) {
			continue;
		}
		*reps[k] = calloc(ctx->lb.node_count + 1, sizeof(**reps[k]));
		if (*reps[k] == NULL) {
			return KNOT_ENOMEM;
		}
		int ret = tgc_answer_reps(addrs[k], ctx->lb.node_count, *reps[k]);
		if (ret == KNOT_ENOENT) {
			free(*reps[k]);
			*reps[k] = NULL;
		} else if (ret != KNOT_EOK) {
			return ret;
		}
	}
	ctx->lb.answer.rep = ctx->lb.rep;
	ctx->lb.answer.rep_mapped = ctx->lb.rep_mapped;

	return KNOT_EOK;
}

/*! \brief Reads the http, https and tls items into the context. */
static int probe_setup(tgc_ctx_t *ctx, knotd_mod_t *mod,
                       tgc_health_params_t *params)
{
	if (!tgc_health_check_is_http(params->check)) {
		return KNOT_EOK;
	}
	knotd_conf_t path = knotd_conf_mod(mod, MOD_CHECK_PATH);
	knotd_conf_t host = knotd_conf_mod(mod, MOD_CHECK_HOST);
	knotd_conf_t status = knotd_conf_mod(mod, MOD_CHECK_STATUS);
	ctx->lb.http_path = strdup((path.count > 0) ? path.single.string : "/");
	ctx->lb.http_host = (host.count > 0) ? strdup(host.single.string) : NULL;
	size_t codes = (status.count > 0) ? status.count : 1;
	ctx->lb.statuses = calloc(codes, sizeof(*ctx->lb.statuses));
	if (ctx->lb.statuses != NULL) {
		ctx->lb.statuses[0] = 200;
		for (size_t i = 0; i < status.count; i++) {
			ctx->lb.statuses[i] = (uint16_t)status.multi[i].integer;
		}
	}
	knotd_conf_free(&status);
	if (ctx->lb.http_path == NULL || ctx->lb.statuses == NULL ||
	    (host.count > 0 && ctx->lb.http_host == NULL)) {
		return KNOT_ENOMEM;
	}
	params->http_path = ctx->lb.http_path;
	params->http_host = ctx->lb.http_host;
	params->statuses = ctx->lb.statuses;
	params->status_count = codes;
	if (params->check == TGC_CHECK_HTTP) {
		return KNOT_EOK;
	}

	bool verify = knotd_conf_mod(mod, MOD_CHECK_TLS_VERIFY).single.boolean;
	knotd_conf_t ca = knotd_conf_mod(mod, MOD_CHECK_TLS_CA);
	const char *why = NULL;
	int ret = tgc_tls_creds_new(&ctx->lb.tls, verify,
	                            (ca.count > 0) ? ca.single.string : NULL, &why);
	if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "'%s' %s",
		              (ca.count > 0) ? "check-tls-ca" : "check-tls-verify",
		              why ? why : knot_strerror(ret));
	}
	knotd_conf_free(&ca);
	params->tls = ctx->lb.tls;

	return ret;
}

/*! \brief Reads a load balancer's configuration and opens its table. */
static int lb_setup(tgc_ctx_t *ctx, knotd_mod_t *mod, tgc_conf_t *conf,
                    tgc_health_params_t *params)
{
	params->check = knotd_conf_mod(mod, MOD_CHECK).single.option;
	params->interval_ms = knotd_conf_mod(mod, MOD_CHECK_INTERVAL).single.integer;
	params->timeout_ms = knotd_conf_mod(mod, MOD_CHECK_TIMEOUT).single.integer;
	params->rise = knotd_conf_mod(mod, MOD_CHECK_RISE).single.integer;
	params->fall = knotd_conf_mod(mod, MOD_CHECK_FALL).single.integer;
	ctx->lb.answer.answers = knotd_conf_mod(mod, MOD_ANSWERS).single.integer;
	ctx->lb.answer.policy = knotd_conf_mod(mod, MOD_POLICY).single.option;
	ctx->lb.answer.all_down = knotd_conf_mod(mod, MOD_ALL_DOWN).single.option;

	int ret = probe_setup(ctx, mod, params);
	if (ret != KNOT_EOK) {
		return ret;
	}

	/* Nodes, then backups (one index space). */
	size_t total = conf->node_count;
	tgc_table_node_t *spec_nodes = calloc(total + 1, sizeof(*spec_nodes));
	ctx->lb.node_count = total;
	ctx->lb.addrs = calloc(total + 1, sizeof(*ctx->lb.addrs));
	ctx->lb.node_keys = calloc(total + 1, sizeof(*ctx->lb.node_keys));
	ctx->lb.idx4 = calloc(total + 1, sizeof(*ctx->lb.idx4));
	ctx->lb.idx6 = calloc(total + 1, sizeof(*ctx->lb.idx6));
	ret = KNOT_ENOMEM;
	if (spec_nodes == NULL || ctx->lb.addrs == NULL ||
	    ctx->lb.node_keys == NULL || ctx->lb.idx4 == NULL ||
	    ctx->lb.idx6 == NULL) {
		goto nodes_done;
	}
	if (total > conf->primary_count) {
		ctx->lb.answer.backup_from = conf->primary_count;
		ctx->lb.answer.backup_when = knotd_conf_mod(mod, MOD_BACKUP_WHEN).single.integer;
	}
	size_t n4 = 0, n6 = 0;
	for (uint32_t i = 0; i < total; i++) {
		const tgc_node_conf_t *node = &conf->nodes[i];
		ctx->lb.addrs[i] = node->addr;
		spec_nodes[i].addr = node->addr;
		spec_nodes[i].port = node->port ? node->port : conf->check_port;
		spec_nodes[i].tier = (i >= conf->primary_count) ? 1 : 0;
		ctx->lb.node_keys[i] = tgc_policy_node_key(&node->addr,
		                                           spec_nodes[i].port);
		if (node->addr.family == AF_INET) {
			ctx->lb.idx4[n4++] = i;
		} else {
			ctx->lb.idx6[n6++] = i;
		}
	}
	ctx->lb.answer.v4.idx = ctx->lb.idx4;
	ctx->lb.answer.v4.count = n4;
	ctx->lb.answer.v6.idx = ctx->lb.idx6;
	ctx->lb.answer.v6.count = n6;
	ctx->lb.answer.node_keys = ctx->lb.node_keys;

	nat_setup(ctx, conf, spec_nodes);
	ret = answer_reps_setup(ctx);
	if (ret != KNOT_EOK) {
		goto nodes_done;
	}

	/* Shared table. */
	tgc_table_spec_t spec = {
		.role = TGC_ROLE_LB,
		.nodes = spec_nodes,
		.node_count = total,
		.check = params->check,
		.interval_ms = params->interval_ms,
		.timeout_ms = params->timeout_ms,
		.rise = params->rise,
		.fall = params->fall,
	};
	tgc_table_origin_t origin;
	const char *err = NULL;
	ret = tgc_ctx_table_open(ctx, mod, &spec, &origin, &err);
	if (ret != KNOT_EOK) {
		goto nodes_done;
	}
	ctx->lb.answer.table = &ctx->table;
	static const char *origins[] = {
		[TGC_TABLE_CREATED] = "created",
		[TGC_TABLE_REUSED] = "reused, states kept",
		[TGC_TABLE_ADOPTED] = "recreated for new nodes, states of kept nodes carried over",
		[TGC_TABLE_REPLACED] = "replaced an invalid segment",
	};
	knotd_mod_log(mod, (origin == TGC_TABLE_REPLACED) ? LOG_WARNING : LOG_INFO,
	              "segment %s %s%s%s, %u nodes, %u backups", ctx->table.name,
	              origins[origin], (origin == TGC_TABLE_REPLACED) ? ": " : "",
	              (origin == TGC_TABLE_REPLACED && err) ? err : "",
	              (unsigned)conf->primary_count,
	              (unsigned)(total - conf->primary_count));
nodes_done:
	free(spec_nodes);

	return ret;
}

int tgc_lb_load(tgc_ctx_t *ctx, knotd_mod_t *mod, tgc_conf_t *conf,
                uint64_t seed)
{
	tgc_health_params_t params = { 0 };
	int ret = lb_setup(ctx, mod, conf, &params);
	if (ret != KNOT_EOK) {
		return ret;
	}

	/* Per-worker policy state. */
	ctx->lb.states = aligned_alloc(64, ctx->threads * sizeof(*ctx->lb.states));
	if (ctx->lb.states == NULL) {
		return KNOT_ENOMEM;
	}
	for (unsigned i = 0; i < ctx->threads; i++) {
		tgc_policy_state_init(&ctx->lb.states[i], seed + i);
	}

	/* Counters. */
	const tgc_ctx_counter_t counters[] = {
		[CTR_ANSWER]          = { "answer", ctx->lb.node_count, NULL },
		[CTR_ALL_DOWN]        = { "all-down", 1, NULL },
		[CTR_TRANSITION]      = { "transition", 2, transition_to_str },
		[CTR_DRAIN]           = { "drain-only", 1, NULL },
		[CTR_TRUNCATED]       = { "truncated", 1, NULL },
		[CTR_MAPPED]          = { "mapped", 1, NULL },
		[CTR_STALE_TABLE]     = { "stale-table", 1, NULL },
		[CTR_RFB_REFUSED]     = { "rfb-refused", ctx->lb.node_count, NULL },
		[CTR_BACKUP]          = { "backup", 1, NULL },
		[CTR_ADMIN_MALFORMED] = { "admin-malformed", 1, NULL },
	};
	ret = tgc_ctx_counters_add(mod, counters,
	                           sizeof(counters) / sizeof(counters[0]));
	if (ret != KNOT_EOK) {
		return ret;
	}
	char name_txt[KNOT_DNAME_TXT_MAXLEN + 1];
	tgc_ctx_dname_text(ctx->name, name_txt, sizeof(name_txt));
	ctx->lb.name_txt = strdup(name_txt);
	if (ctx->lb.name_txt == NULL ||
	    (ret = tgc_admin_box_init(&ctx->lb.admin_box, ctx->lb.node_count)) != KNOT_EOK) {
		return KNOT_ENOMEM;
	}
	atomic_store_explicit(&ctx->table.hdr->min_live,
	                      knotd_conf_mod(mod, MOD_MIN_LIVE).single.integer,
	                      memory_order_relaxed);
	if ((ret = tgc_lb_sign_zone_check(ctx, mod)) != KNOT_EOK) {
		return ret;
	}

	ret = tgc_ctx_become_writer(ctx, mod, seed, 3 * params.interval_ms + params.timeout_ms);
	if (ret != KNOT_EOK) {
		return ret;
	}
	if (params.check == TGC_CHECK_NONE) {
		/* No probes will ever correct states kept from an earlier
		 * configuration that had them: start from unknown (= up). */
		for (uint32_t i = 0; i < ctx->lb.node_count; i++) {
			(void)tgc_table_node_reset(&ctx->table, i);
		}
	}

	ctx->log_on = true;
	tgc_checker_conf_t cconf = {
		.table = &ctx->table,
		.writer_token = ctx->token,
		.params = params,
		.log = tgc_ctx_log,
		.event = checker_event,
		.refused = checker_refused,
		.thread_start = tgc_ctx_thread_start,
		.thread_stop = tgc_ctx_thread_stop,
		.ctx = ctx,
		.admin_box = &ctx->lb.admin_box,
	};
	ret = tgc_checker_start(&ctx->lb.checker, &cconf);
	if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "cannot start the health checker (%s)",
		              knot_strerror(ret));
		return ret;
	}

	return tgc_lb_sign_setup(ctx, mod);
}
