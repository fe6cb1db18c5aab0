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
 * \brief knotd glue of mod-tgcluster: schema, configuration checks, load and
 *        unload, the query hook and the counters. Everything else lives in the
 *        core library (addr, conf, table, health, policy, answer).
 */

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <urcu.h>

#include <knot/module.h>

#include "module/answer.h"
#include "module/conf.h"
#include "module/health.h"
#include "module/natmap.h"
#include "module/policy.h"
#include "module/table.h"

#define MOD_NAME		"\x04""name"
#define MOD_NODE		"\x04""node"
#define MOD_CHECK		"\x05""check"
#define MOD_CHECK_PORT		"\x0a""check-port"
#define MOD_CHECK_INTERVAL	"\x0e""check-interval"
#define MOD_CHECK_TIMEOUT	"\x0d""check-timeout"
#define MOD_CHECK_RISE		"\x0a""check-rise"
#define MOD_CHECK_FALL		"\x0a""check-fall"
#define MOD_TTL			"\x03""ttl"
#define MOD_ANSWERS		"\x07""answers"
#define MOD_POLICY		"\x06""policy"
#define MOD_ALL_DOWN		"\x08""all-down"
#define MOD_SHM			"\x03""shm"
#define MOD_NAT_BASE		"\x08""nat-base"
#define MOD_NAT_MAP		"\x07""nat-map"
#define MOD_NAT_CLIENT		"\x0a""nat-client"

/*! \brief Values of `check`. */
static const knot_lookup_t check_kinds[] = {
	{ TGC_CHECK_TCP,  "tcp" },
	{ TGC_CHECK_RFB,  "rfb" },
	{ TGC_CHECK_NONE, "none" },
	{ 0, NULL }
};

/*! \brief Values of `policy`. */
static const knot_lookup_t policies[] = {
	{ TGC_POLICY_ROUND_ROBIN, "round-robin" },
	{ TGC_POLICY_RANDOM,      "random" },
	{ TGC_POLICY_ORDERED,     "ordered" },
	{ TGC_POLICY_STICKY,      "sticky" },
	{ 0, NULL }
};

/*! \brief Values of `all-down`. */
static const knot_lookup_t all_down_modes[] = {
	{ TGC_ALL_DOWN_ALL,      "all" },
	{ TGC_ALL_DOWN_SERVFAIL, "servfail" },
	{ TGC_ALL_DOWN_NODATA,   "nodata" },
	{ 0, NULL }
};

/*! \brief Item check of `node`: one value. */
static int check_node(knotd_conf_check_args_t *args)
{
	tgc_node_conf_t node;
	return tgc_conf_node_parse((const char *)args->data, &node, &args->err_str);
}

/*! \brief Item check of `shm`. */
static int check_shm(knotd_conf_check_args_t *args)
{
	if (tgc_table_name_check((const char *)args->data, NULL, 0) != KNOT_EOK) {
		args->err_str = "expected 1-200 characters of A-Z a-z 0-9 . - _";
		return KNOT_EINVAL;
	}

	return KNOT_EOK;
}

/*! \brief Item check of `nat-base`. */
static int check_nat_base(knotd_conf_check_args_t *args)
{
	tgc_addr_t addr;
	if (tgc_addr_parse((const char *)args->data, &addr) != KNOT_EOK) {
		args->err_str = "not an IPv4 or IPv6 address";
		return KNOT_EINVAL;
	}

	return KNOT_EOK;
}

/*! \brief Item check of `nat-map`: one value. */
static int check_nat_map(knotd_conf_check_args_t *args)
{
	tgc_natmap_rule_t rule;
	return tgc_natmap_rule_parse((const char *)args->data, &rule, &args->err_str);
}

/*! \brief Item check of `nat-client`: one value. */
static int check_nat_client(knotd_conf_check_args_t *args)
{
	tgc_natmap_range_t range;
	return tgc_natmap_range_parse((const char *)args->data, &range, &args->err_str);
}

const yp_item_t tgcluster_conf[] = {
	{ MOD_NAME,           YP_TDNAME, YP_VNONE },
	{ MOD_NODE,           YP_TSTR,   YP_VNONE, YP_FMULTI, { check_node } },
	{ MOD_CHECK,          YP_TOPT,   YP_VOPT = { check_kinds, TGC_CHECK_TCP } },
	{ MOD_CHECK_PORT,     YP_TINT,   YP_VINT = { 1, 65535, TGC_CONF_CHECK_PORT } },
	{ MOD_CHECK_INTERVAL, YP_TINT,   YP_VINT = { 10, 86400000, 1000 } },
	{ MOD_CHECK_TIMEOUT,  YP_TINT,   YP_VINT = { 1, 86400000, 500 } },
	{ MOD_CHECK_RISE,     YP_TINT,   YP_VINT = { 1, 1000, 2 } },
	{ MOD_CHECK_FALL,     YP_TINT,   YP_VINT = { 1, 1000, 2 } },
	{ MOD_TTL,            YP_TINT,   YP_VINT = { 0, 86400, 5, YP_STIME } },
	{ MOD_ANSWERS,        YP_TINT,   YP_VINT = { 0, 65535, 0 } },
	{ MOD_POLICY,         YP_TOPT,   YP_VOPT = { policies, TGC_POLICY_ROUND_ROBIN } },
	{ MOD_ALL_DOWN,       YP_TOPT,   YP_VOPT = { all_down_modes, TGC_ALL_DOWN_ALL } },
	{ MOD_SHM,            YP_TSTR,   YP_VNONE, YP_FNONE, { check_shm } },
	{ MOD_NAT_BASE,       YP_TSTR,   YP_VNONE, YP_FNONE, { check_nat_base } },
	{ MOD_NAT_MAP,        YP_TSTR,   YP_VNONE, YP_FMULTI, { check_nat_map } },
	{ MOD_NAT_CLIENT,     YP_TSTR,   YP_VNONE, YP_FMULTI, { check_nat_client } },
	{ NULL }
};

/*!
 * \brief Message buffer of the section check: err_str must outlive the check
 *        call, and knotd runs configuration checks in one thread.
 */
static char check_msg[256];

/*! \brief Collects the string values of a multi-valued item. */
static const char **conf_strings(const knotd_conf_t *conf)
{
	const char **out = calloc(conf->count + 1, sizeof(*out));
	for (size_t i = 0; out != NULL && i < conf->count; i++) {
		out[i] = conf->multi[i].string;
	}

	return out;
}

/*! \brief Checks `nat-base`, `nat-map` and `nat-client` against each other
 *         and against the (valid) nodes. */
static int check_nat(knotd_conf_check_args_t *args, const tgc_node_conf_t *nodes,
                     size_t node_count)
{
	knotd_conf_t base = knotd_conf_check_item(args, MOD_NAT_BASE);
	knotd_conf_t map = knotd_conf_check_item(args, MOD_NAT_MAP);
	knotd_conf_t client = knotd_conf_check_item(args, MOD_NAT_CLIENT);
	int ret = KNOT_EOK;

	if (base.count > 0 && map.count > 0) {
		args->err_str = "'nat-base' and 'nat-map' cannot be used together";
		ret = KNOT_EINVAL;
	} else if (client.count > 0 && base.count == 0 && map.count == 0) {
		args->err_str = "'nat-client' needs 'nat-base' or 'nat-map'";
		ret = KNOT_EINVAL;
	} else if (base.count > 0) {
		tgc_addr_t addr;
		tgc_addr_t *addrs = calloc(node_count + 1, sizeof(*addrs));
		const char *why = NULL;
		if (addrs == NULL) {
			ret = KNOT_ENOMEM;
		} else if ((ret = tgc_addr_parse(base.single.string, &addr)) == KNOT_EOK) {
			for (size_t i = 0; i < node_count; i++) {
				addrs[i] = nodes[i].addr;
			}
			ret = tgc_natmap_base_check(&addr, addrs, node_count, &why);
		}
		free(addrs);
		if (ret != KNOT_EOK && why != NULL) {
			snprintf(check_msg, sizeof(check_msg), "'nat-base' %s: %s",
			         base.single.string, why);
			args->err_str = check_msg;
		}
	} else if (map.count > 0) {
		tgc_natmap_rule_t *rules = calloc(map.count, sizeof(*rules));
		const char *why = NULL;
		size_t bad = 0;
		ret = (rules == NULL) ? KNOT_ENOMEM : KNOT_EOK;
		for (size_t i = 0; ret == KNOT_EOK && i < map.count; i++) {
			ret = tgc_natmap_rule_parse(map.multi[i].string, &rules[i], &why);
			bad = i;
		}
		if (ret == KNOT_EOK) {
			ret = tgc_natmap_rules_check(rules, map.count, &why, &bad);
		}
		free(rules);
		if (ret != KNOT_EOK && why != NULL) {
			snprintf(check_msg, sizeof(check_msg), "'nat-map' %s: %s",
			         map.multi[bad].string, why);
			args->err_str = check_msg;
		}
	}

	knotd_conf_free(&map);
	knotd_conf_free(&client);

	return ret;
}

/*! \brief Section check: rules spanning several items. */
static int tgcluster_conf_check(knotd_conf_check_args_t *args)
{
	knotd_conf_t nodes = knotd_conf_check_item(args, MOD_NODE);
	if (nodes.count == 0) {
		args->err_str = "no 'node' specified";
		return KNOT_EINVAL;
	}

	knotd_conf_t port = knotd_conf_check_item(args, MOD_CHECK_PORT);
	const char **values = conf_strings(&nodes);
	tgc_node_conf_t *parsed = calloc(nodes.count + 1, sizeof(*parsed));
	if (values == NULL || parsed == NULL) {
		free(values);
		free(parsed);
		knotd_conf_free(&nodes);
		return KNOT_ENOMEM;
	}
	size_t bad = 0;
	const char *why = NULL;
	int ret = tgc_conf_nodes_parse(values, nodes.count,
	                               (uint16_t)port.single.integer, parsed,
	                               &why, &bad);
	if (ret != KNOT_EOK) {
		snprintf(check_msg, sizeof(check_msg), "'node' %s: %s",
		         (bad < nodes.count) ? values[bad] : "", why);
		args->err_str = check_msg;
	} else {
		ret = check_nat(args, parsed, nodes.count);
	}
	free(values);
	free(parsed);
	knotd_conf_free(&nodes);
	if (ret != KNOT_EOK) {
		return ret;
	}

	knotd_conf_t interval = knotd_conf_check_item(args, MOD_CHECK_INTERVAL);
	knotd_conf_t timeout = knotd_conf_check_item(args, MOD_CHECK_TIMEOUT);

	return tgc_conf_timing_check(interval.single.integer,
	                             timeout.single.integer, &args->err_str);
}

/*! \brief Counters in `knotc zone-stats`. */
enum {
	CTR_ANSWER     = 0, /*!< Answers per node (index = node order). */
	CTR_ALL_DOWN   = 1, /*!< Answers given while no node was live. */
	CTR_TRANSITION = 2, /*!< Health transitions (up, down). */
	CTR_DRAIN      = 3, /*!< Answers served by drained nodes only. */
	CTR_TRUNCATED  = 4, /*!< Answers that did not fit (TC). */
	CTR_MAPPED     = 5, /*!< Answers with NAT-mapped addresses. */
};

/*! \brief Index names of the transition counter. */
static char *transition_to_str(uint32_t idx, uint32_t count)
{
	(void)count;
	return strdup(idx == 0 ? "up" : "down");
}

/*! \brief Instance context. */
typedef struct {
	/* Immutable after load (read by workers and the checker). */
	knot_dname_t *name;          /*!< Cluster name. */
	uint32_t ttl;                /*!< Record TTL. */
	uint32_t node_count;         /*!< Number of nodes. */
	tgc_addr_t *addrs;           /*!< Node addresses by index. */
	uint64_t *node_keys;         /*!< Sticky keys by index. */
	uint32_t *idx4;              /*!< IPv4 node indexes. */
	uint32_t *idx6;              /*!< IPv6 node indexes. */
	tgc_addr_t *mapped;          /*!< Mapped (LAN) address by index, equal
	                              *   to the node's own when no rule maps it;
	                              *   NULL without nat-base/nat-map. */
	bool *is_mapped;             /*!< Whether a rule maps node i (NULL
	                              *   without nat-base/nat-map). */
	tgc_natmap_range_t *clients; /*!< nat-client ranges (none = all). */
	size_t client_count;         /*!< Number of nat-client ranges. */
	tgc_answer_cfg_t answer;     /*!< Answer view (points into this struct). */
	tgc_table_t table;           /*!< Mapped segment (see table.h for who
	                              *   writes which field). */
	unsigned threads;            /*!< Number of worker states. */
	tgc_policy_state_t *states;  /*!< Per worker: written and read only by
	                              *   the worker with that thread_id. */
	tgc_checker_t *checker;      /*!< Checker (started and stopped by knotd's
	                              *   main thread in load/unload). */
	knotd_mod_t *mod;            /*!< Module handle, for logs and stats. */
	/* Log gate: the checker logs only while log_on is set; unload clears it
	 * under log_lock before it stops the checker (knotd may have freed the
	 * zone name by then). */
	pthread_mutex_t log_lock;    /*!< Serialises log_on and checker logs. */
	bool log_on;                 /*!< Writer: unload; reader: checker. */
} tgc_ctx_t;

/*! \brief Checker log callback: forwards to knotd's log while allowed. */
static void checker_log(void *arg, int priority, const char *fmt, ...)
{
	tgc_ctx_t *ctx = arg;
	pthread_mutex_lock(&ctx->log_lock);
	if (ctx->log_on) {
		va_list ap;
		va_start(ap, fmt);
		knotd_mod_vlog(ctx->mod, priority, fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&ctx->log_lock);
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

/*! \brief Registers the checker thread with RCU (knotd's log needs it). */
static void checker_thread_start(void *arg)
{
	(void)arg;
	rcu_register_thread();
}

/*! \brief Unregisters the checker thread from RCU. */
static void checker_thread_stop(void *arg)
{
	(void)arg;
	rcu_unregister_thread();
}

/*!
 * \brief The client of a query: the EDNS Client Subnet when present (with its
 *        source prefix), else the source address (full length).
 *
 * \return False if neither is usable.
 */
static bool query_client(knotd_qdata_t *qdata, tgc_addr_t *addr, unsigned *prefix)
{
	knot_edns_client_subnet_t ecs_buf;
	const knot_edns_client_subnet_t *ecs = qdata->ecs;

	if (ecs == NULL) {
		/* knotd parses ECS only with edns-client-subnet enabled. */
		uint8_t *opt = knot_pkt_edns_option(qdata->query,
		                                    KNOT_EDNS_OPTION_CLIENT_SUBNET);
		if (opt != NULL &&
		    knot_edns_client_subnet_parse(&ecs_buf, knot_edns_opt_get_data(opt),
		                                  knot_edns_opt_get_length(opt)) == KNOT_EOK) {
			ecs = &ecs_buf;
		}
	}

	/* RFC 7871: a source prefix of 0 asks not to use the client subnet. */
	if (ecs != NULL && ecs->source_len > 0 &&
	    (ecs->family == KNOT_ADDR_FAMILY_IPV4 ||
	     ecs->family == KNOT_ADDR_FAMILY_IPV6)) {
		/* The answer depends on the subnet: tell ECS caches so (knotd
		 * echoes qdata->ecs when its edns-client-subnet is on). */
		if (qdata->ecs != NULL) {
			qdata->ecs->scope_len = qdata->ecs->source_len;
		}
		memset(addr, 0, sizeof(*addr));
		bool v4 = (ecs->family == KNOT_ADDR_FAMILY_IPV4);
		addr->family = v4 ? AF_INET : AF_INET6;
		addr->len = v4 ? 4 : 16;
		memcpy(addr->bytes, ecs->address, addr->len);
		*prefix = ecs->source_len;
		return true;
	}
	if (tgc_addr_from_sockaddr(knotd_qdata_remote_addr(qdata), addr) == KNOT_EOK) {
		*prefix = addr->len * 8;
		return true;
	}

	return false;
}

/*! \brief Sticky key of a client: its subnet, at most /24 or /56 long. */
static uint64_t client_key(const tgc_addr_t *addr, unsigned prefix)
{
	unsigned dflt = (addr->family == AF_INET) ? TGC_STICKY_PREFIX4 : TGC_STICKY_PREFIX6;
	return tgc_policy_client_key(addr, (prefix < dflt) ? prefix : dflt);
}

/*! \brief Query hook: answers A/AAAA for the cluster name. */
static knotd_state_t tgcluster_begin(knotd_state_t state, knot_pkt_t *pkt,
                                     knotd_qdata_t *qdata, knotd_mod_t *mod)
{
	if (qdata->type != KNOTD_QUERY_TYPE_NORMAL) {
		return state;
	}
	uint16_t qtype = knot_pkt_qtype(qdata->query);
	if ((qtype != KNOT_RRTYPE_A && qtype != KNOT_RRTYPE_AAAA) ||
	    knot_pkt_qclass(qdata->query) != KNOT_CLASS_IN) {
		return state;
	}
	tgc_ctx_t *ctx = knotd_mod_ctx(mod);
	const knot_dname_t *qname = knot_pkt_qname(qdata->query);
	if (ctx == NULL || !knot_dname_is_case_equal(qname, ctx->name)) {
		return state;
	}

	unsigned thr = qdata->params->thread_id % ctx->threads;
	int family = (qtype == KNOT_RRTYPE_A) ? AF_INET : AF_INET6;
	tgc_addr_t client_addr;
	unsigned client_prefix = 0;
	bool have_client = false;
	if (ctx->answer.policy == TGC_POLICY_STICKY || ctx->client_count > 0) {
		have_client = query_client(qdata, &client_addr, &client_prefix);
	}
	uint64_t client = (ctx->answer.policy == TGC_POLICY_STICKY && have_client) ?
	                  client_key(&client_addr, client_prefix) : 0;

	uint32_t stack_sel[64];
	uint32_t *sel = stack_sel;
	if (ctx->node_count > sizeof(stack_sel) / sizeof(stack_sel[0])) {
		sel = qdata->mm->alloc(qdata->mm->ctx, ctx->node_count * sizeof(*sel));
		if (sel == NULL) {
			qdata->rcode = KNOT_RCODE_SERVFAIL;
			return KNOTD_STATE_FAIL;
		}
	}
	size_t count = 0;
	tgc_answer_kind_t kind = tgc_answer_select(&ctx->answer, family,
	                                           &ctx->states[thr], client,
	                                           sel, &count);

	knot_wire_set_aa(pkt->wire);
	if (kind == TGC_ANSWER_ALL || kind == TGC_ANSWER_SERVFAIL ||
	    (kind == TGC_ANSWER_NODATA &&
	     ctx->answer.all_down == TGC_ALL_DOWN_NODATA &&
	     (family == AF_INET ? ctx->answer.v4.count : ctx->answer.v6.count) > 0)) {
		knotd_mod_stats_incr(mod, thr, CTR_ALL_DOWN, 0, 1);
	}

	if (kind == TGC_ANSWER_SERVFAIL) {
		qdata->rcode = KNOT_RCODE_SERVFAIL;
		return KNOTD_STATE_FAIL;
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
	/* NAT mapping comes after the selection: health, policy and the
	 * sticky hash stay tied to the node, not to the address answered. */
	const tgc_addr_t *source = ctx->addrs;
	if (ctx->mapped != NULL &&
	    (ctx->client_count == 0 ||
	     (have_client && tgc_natmap_client_match(ctx->clients, ctx->client_count,
	                                             &client_addr)))) {
		source = ctx->mapped;
	}
	for (size_t i = 0; i < count; i++) {
		addrs[i] = &source[sel[i]];
	}
	if (ctx->answer.dup_addrs) {
		count = tgc_answer_unique(sel, addrs, count, ctx->answer.answers);
	}

	int ret = tgc_answer_put(pkt, qname, qtype, ctx->ttl, addrs, count,
	                         qdata->mm);
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
	if (source != ctx->addrs) {
		for (size_t i = 0; i < count; i++) {
			if (ctx->is_mapped[sel[i]]) {
				knotd_mod_stats_incr(mod, thr, CTR_MAPPED, 0, 1);
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

/*! \brief Frees a context (checker already stopped or never started). */
static void ctx_free(tgc_ctx_t *ctx)
{
	if (ctx == NULL) {
		return;
	}
	tgc_table_close(&ctx->table);
	free(ctx->name);
	free(ctx->addrs);
	free(ctx->node_keys);
	free(ctx->idx4);
	free(ctx->idx6);
	free(ctx->mapped);
	free(ctx->is_mapped);
	free(ctx->clients);
	free(ctx->states);
	pthread_mutex_destroy(&ctx->log_lock);
	free(ctx);
}

/*! \brief Text of a dname without the trailing dot ("" for NULL). */
static void dname_text(const knot_dname_t *name, char *buf, size_t len)
{
	buf[0] = '\0';
	if (name == NULL || knot_dname_to_str(buf, name, len) == NULL) {
		buf[0] = '\0';
		return;
	}
	size_t n = strlen(buf);
	if (n > 1 && buf[n - 1] == '.') {
		buf[n - 1] = '\0';
	}
}

/*!
 * \brief Reads `nat-base`, `nat-map` and `nat-client` (already checked) into
 *        the context and the table spec (so tgclusterctl shows them).
 */
static int nat_setup(tgc_ctx_t *ctx, knotd_mod_t *mod, tgc_table_node_t *spec_nodes)
{
	knotd_conf_t base = knotd_conf_mod(mod, MOD_NAT_BASE);
	knotd_conf_t map = knotd_conf_mod(mod, MOD_NAT_MAP);
	int ret = KNOT_EOK;

	if (base.count == 0 && map.count == 0) {
		goto done;
	}
	ctx->mapped = calloc(ctx->node_count + 1, sizeof(*ctx->mapped));
	ctx->is_mapped = calloc(ctx->node_count + 1, sizeof(*ctx->is_mapped));
	tgc_natmap_rule_t *rules = calloc(map.count + 1, sizeof(*rules));
	if (ctx->mapped == NULL || ctx->is_mapped == NULL || rules == NULL) {
		free(rules);
		ret = KNOT_ENOMEM;
		goto done;
	}
	tgc_addr_t base_addr = { 0 };
	if (base.count > 0) {
		ret = tgc_addr_parse(base.single.string, &base_addr);
	}
	for (size_t i = 0; ret == KNOT_EOK && i < map.count; i++) {
		ret = tgc_natmap_rule_parse(map.multi[i].string, &rules[i], NULL);
	}
	for (uint32_t i = 0; ret == KNOT_EOK && i < ctx->node_count; i++) {
		if (base.count > 0) {
			ret = tgc_addr_add(&base_addr, i, &ctx->mapped[i]);
		} else if (!tgc_natmap_apply(rules, map.count, &ctx->addrs[i],
		                             &ctx->mapped[i])) {
			ctx->mapped[i] = ctx->addrs[i];
			continue;
		}
		ctx->is_mapped[i] = true;
		spec_nodes[i].mapped = ctx->mapped[i];
	}
	free(rules);
	if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "'%s' cannot be applied to the nodes",
		              (base.count > 0) ? "nat-base" : "nat-map");
		goto done;
	}

	knotd_conf_t clients = knotd_conf_mod(mod, MOD_NAT_CLIENT);
	ctx->clients = calloc(clients.count + 1, sizeof(*ctx->clients));
	if (ctx->clients == NULL) {
		ret = KNOT_ENOMEM;
	}
	for (size_t i = 0; ret == KNOT_EOK && i < clients.count; i++) {
		ret = tgc_natmap_range_parse(clients.multi[i].string,
		                             &ctx->clients[i], NULL);
	}
	ctx->client_count = (ret == KNOT_EOK) ? clients.count : 0;
	knotd_conf_free(&clients);
done:
	knotd_conf_free(&map);

	return ret;
}

/*! \brief Reads the configuration and opens the table. */
static int ctx_setup(tgc_ctx_t *ctx, knotd_mod_t *mod, tgc_health_params_t *params)
{
	const knot_dname_t *zone = knotd_mod_zone(mod);

	knotd_conf_t conf = knotd_conf_mod(mod, MOD_NAME);
	const knot_dname_t *name = (conf.count > 0) ? conf.single.dname : zone;
	if (name == NULL) {
		knotd_mod_log(mod, LOG_ERR, "'name' is required for a global instance");
		return KNOT_EINVAL;
	}
	if (zone != NULL && knot_dname_in_bailiwick(name, zone) < 0) {
		char txt[KNOT_DNAME_TXT_MAXLEN + 1];
		dname_text(name, txt, sizeof(txt));
		knotd_mod_log(mod, LOG_ERR, "'name' %s is outside the zone", txt);
		return KNOT_EOUTOFZONE;
	}
	ctx->name = knot_dname_copy(name, NULL);
	if (ctx->name == NULL) {
		return KNOT_ENOMEM;
	}
	knot_dname_to_lower(ctx->name);

	params->check = knotd_conf_mod(mod, MOD_CHECK).single.option;
	params->interval_ms = knotd_conf_mod(mod, MOD_CHECK_INTERVAL).single.integer;
	params->timeout_ms = knotd_conf_mod(mod, MOD_CHECK_TIMEOUT).single.integer;
	params->rise = knotd_conf_mod(mod, MOD_CHECK_RISE).single.integer;
	params->fall = knotd_conf_mod(mod, MOD_CHECK_FALL).single.integer;
	uint16_t check_port = knotd_conf_mod(mod, MOD_CHECK_PORT).single.integer;
	ctx->ttl = knotd_conf_mod(mod, MOD_TTL).single.integer;
	ctx->answer.answers = knotd_conf_mod(mod, MOD_ANSWERS).single.integer;
	ctx->answer.policy = knotd_conf_mod(mod, MOD_POLICY).single.option;
	ctx->answer.all_down = knotd_conf_mod(mod, MOD_ALL_DOWN).single.option;

	/* Nodes. */
	knotd_conf_t nodes = knotd_conf_mod(mod, MOD_NODE);
	const char **values = conf_strings(&nodes);
	tgc_node_conf_t *parsed = calloc(nodes.count + 1, sizeof(*parsed));
	tgc_table_node_t *spec_nodes = calloc(nodes.count + 1, sizeof(*spec_nodes));
	ctx->node_count = nodes.count;
	ctx->addrs = calloc(nodes.count + 1, sizeof(*ctx->addrs));
	ctx->node_keys = calloc(nodes.count + 1, sizeof(*ctx->node_keys));
	ctx->idx4 = calloc(nodes.count + 1, sizeof(*ctx->idx4));
	ctx->idx6 = calloc(nodes.count + 1, sizeof(*ctx->idx6));
	int ret = KNOT_ENOMEM;
	if (values == NULL || parsed == NULL || spec_nodes == NULL ||
	    ctx->addrs == NULL || ctx->node_keys == NULL || ctx->idx4 == NULL ||
	    ctx->idx6 == NULL) {
		goto nodes_done;
	}
	const char *why = NULL;
	size_t bad = 0;
	ret = tgc_conf_nodes_parse(values, nodes.count, check_port, parsed, &why, &bad);
	if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "'node' %s: %s",
		              (bad < nodes.count) ? values[bad] : "", why);
		goto nodes_done;
	}
	size_t n4 = 0, n6 = 0;
	for (uint32_t i = 0; i < nodes.count; i++) {
		ctx->addrs[i] = parsed[i].addr;
		spec_nodes[i].addr = parsed[i].addr;
		spec_nodes[i].port = parsed[i].port ? parsed[i].port : check_port;
		ctx->node_keys[i] = tgc_policy_node_key(&parsed[i].addr,
		                                        spec_nodes[i].port);
		if (parsed[i].addr.family == AF_INET) {
			ctx->idx4[n4++] = i;
		} else {
			ctx->idx6[n6++] = i;
		}
	}
	ctx->answer.v4.idx = ctx->idx4;
	ctx->answer.v4.count = n4;
	ctx->answer.v6.idx = ctx->idx6;
	ctx->answer.v6.count = n6;
	ctx->answer.node_keys = ctx->node_keys;

	ret = nat_setup(ctx, mod, spec_nodes);
	if (ret != KNOT_EOK) {
		goto nodes_done;
	}
	ctx->answer.dup_addrs = tgc_answer_has_dups(ctx->addrs, ctx->node_count) ||
	                        (ctx->mapped != NULL &&
	                         tgc_answer_has_dups(ctx->mapped, ctx->node_count));

	/* Shared table. */
	char zone_txt[KNOT_DNAME_TXT_MAXLEN + 1];
	char name_txt[KNOT_DNAME_TXT_MAXLEN + 1];
	char shm_name[TGC_TABLE_NAME_MAX + 1];
	dname_text(zone, zone_txt, sizeof(zone_txt));
	dname_text(ctx->name, name_txt, sizeof(name_txt));
	knotd_conf_t shm = knotd_conf_mod(mod, MOD_SHM);
	if (shm.count > 0) {
		ret = tgc_table_name_check(shm.single.string, shm_name, sizeof(shm_name));
	} else {
		/* The section id is not exposed by the module API; the zone and
		 * the cluster name identify an instance well enough. */
		ret = tgc_table_name(shm_name, sizeof(shm_name), zone_txt, name_txt);
	}
	if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "'shm' invalid segment name");
		goto nodes_done;
	}

	tgc_table_spec_t spec = {
		.role = TGC_ROLE_LB,
		.zone = zone_txt,
		.instance = shm_name + 1,
		.name = name_txt,
		.nodes = spec_nodes,
		.node_count = nodes.count,
		.check = params->check,
		.interval_ms = params->interval_ms,
		.timeout_ms = params->timeout_ms,
		.rise = params->rise,
		.fall = params->fall,
	};
	tgc_table_origin_t origin;
	const char *err = NULL;
	ret = tgc_table_open(&ctx->table, shm_name, &spec, &origin, &err);
	if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "'shm' segment %s refused: %s (%s)",
		              shm_name, err ? err : "", knot_strerror(ret));
		goto nodes_done;
	}
	ctx->answer.table = &ctx->table;
	static const char *origins[] = {
		[TGC_TABLE_CREATED] = "created",
		[TGC_TABLE_REUSED] = "reused, states kept",
		[TGC_TABLE_ADOPTED] = "recreated for new nodes, states of kept nodes carried over",
		[TGC_TABLE_REPLACED] = "replaced an invalid segment",
	};
	knotd_mod_log(mod, (origin == TGC_TABLE_REPLACED) ? LOG_WARNING : LOG_INFO,
	              "segment %s %s%s%s, %u nodes", shm_name, origins[origin],
	              (origin == TGC_TABLE_REPLACED) ? ": " : "",
	              (origin == TGC_TABLE_REPLACED && err) ? err : "",
	              (unsigned)nodes.count);
nodes_done:
	free(values);
	free(parsed);
	free(spec_nodes);
	knotd_conf_free(&nodes);

	return ret;
}

int tgcluster_load(knotd_mod_t *mod)
{
	tgc_ctx_t *ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		return KNOT_ENOMEM;
	}
	pthread_mutex_init(&ctx->log_lock, NULL);
	ctx->mod = mod;

	tgc_health_params_t params = { 0 };
	int ret = ctx_setup(ctx, mod, &params);
	if (ret != KNOT_EOK) {
		ctx_free(ctx);
		return ret;
	}

	/* Per-worker policy state. */
	ctx->threads = knotd_mod_threads(mod);
	if (ctx->threads == 0) {
		ctx->threads = 1;
	}
	ctx->states = aligned_alloc(64, ctx->threads * sizeof(*ctx->states));
	if (ctx->states == NULL) {
		ctx_free(ctx);
		return KNOT_ENOMEM;
	}
	uint64_t seed = 0;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) {
		seed = (uint64_t)getpid() ^ tgc_table_now_ms();
	}
	for (unsigned i = 0; i < ctx->threads; i++) {
		tgc_policy_state_init(&ctx->states[i], seed + i);
	}

	/* Counters. */
	if ((ret = knotd_mod_stats_add(mod, "answer", ctx->node_count, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "all-down", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "transition", 2, transition_to_str)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "drain-only", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "truncated", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "mapped", 1, NULL)) != KNOT_EOK) {
		ctx_free(ctx);
		return ret;
	}

	/* Become the writer of the table: a previous instance (knotc reload
	 * loads us before unloading it) stops writing from now on. */
	uint64_t token = 0;
	while (token == 0 && getrandom(&token, sizeof(token), 0) != sizeof(token)) {
		token = seed ^ 0x5bd1e995ULL;
	}
	atomic_store(&ctx->table.hdr->writer, token);
	atomic_store(&ctx->table.hdr->writer_pid, (uint64_t)getpid());

	ctx->log_on = true;
	tgc_checker_conf_t cconf = {
		.table = &ctx->table,
		.writer_token = token,
		.params = params,
		.log = checker_log,
		.event = checker_event,
		.thread_start = checker_thread_start,
		.thread_stop = checker_thread_stop,
		.ctx = ctx,
	};
	ret = tgc_checker_start(&ctx->checker, &cconf);
	if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "cannot start the health checker (%s)",
		              knot_strerror(ret));
		ctx_free(ctx);
		return ret;
	}

	knotd_mod_ctx_set(mod, ctx);

	return knotd_mod_hook(mod, KNOTD_STAGE_BEGIN, tgcluster_begin);
}

void tgcluster_unload(knotd_mod_t *mod)
{
	tgc_ctx_t *ctx = knotd_mod_ctx(mod);
	knotd_mod_ctx_set(mod, NULL);
	if (ctx == NULL) {
		return;
	}

	/* knotd may already have freed the zone name: no logging from now. */
	pthread_mutex_lock(&ctx->log_lock);
	ctx->log_on = false;
	pthread_mutex_unlock(&ctx->log_lock);

	tgc_checker_stop(ctx->checker);
	ctx_free(ctx);
}

KNOTD_MOD_API(tgcluster, KNOTD_MOD_FLAG_SCOPE_ANY,
              tgcluster_load, tgcluster_unload, tgcluster_conf,
              tgcluster_conf_check);
