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
 * \brief Load balancer setup: reads a load balancer's section into the
 *        context, opens its table, registers its counters and starts its
 *        checker (the query path is in lb.c).
 */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "module/conf.h"
#include "module/ctx.h"
#include "module/probe_http.h"
#include "module/steer.h"

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

/*! \brief Checker agent callback: counts agent polls without a line. */
static void checker_agent_error(void *arg, uint32_t idx)
{
	tgc_ctx_t *ctx = arg;
	/* Slot 0 is shared with the workers: knotd updates it atomically. */
	knotd_mod_stats_incr(ctx->mod, 0, CTR_AGENT_ERROR, idx, 1);
}

/*!
 * \brief Creates the steering state when the instance steers by sessions
 *        (policy least-loaded or load-high): the section's weights per node,
 *        grants and watermark state per worker.
 */
static int steer_setup(tgc_ctx_t *ctx, const tgc_conf_t *conf)
{
	tgc_steer_params_t sp = {
		.least_loaded = conf->least_loaded,
		.window_ms = (ctx->ttl + conf->grant_window_s) * 1000u,
		.high = conf->load_high,
		.low = conf->load_low,
		.slow_start_ms = conf->slow_start_s * 1000u,
	};
	if (!sp.least_loaded && sp.high == 0) {
		return KNOT_EOK;
	}
	ctx->lb.answer.steer = tgc_steer_new(&sp, ctx->threads, ctx->lb.node_count,
	                                     conf->weights);
	return (ctx->lb.answer.steer != NULL) ? KNOT_EOK : KNOT_ENOMEM;
}

/*! \brief Takes the weights of the section read (the checker writes them
 *         into the records for tgclusterctl), then the steering state. */
static int weights_setup(tgc_ctx_t *ctx, tgc_conf_t *conf)
{
	int ret = steer_setup(ctx, conf);
	ctx->lb.weights = conf->weights;
	conf->weights = NULL;
	return ret;
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
	if (ret == KNOT_EOK) {
		ret = weights_setup(ctx, conf);
	}
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
		ctx->lb.states[i].worker = i;
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
		[CTR_AGENT_ERROR]     = { "agent-error", ctx->lb.node_count, NULL },
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
		.agent_port = conf->agent_port,
		.weights = ctx->lb.weights,
		.agent_error = checker_agent_error,
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
