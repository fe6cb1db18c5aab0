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

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <urcu.h>

#include <knot/module.h>
#include <libknot/rrtype/soa.h>
#include <libknot/rrtype/rrsig.h>

#include "module/admin.h"
#include "module/answer.h"
#include "module/conf.h"
#include "module/fault.h"
#include "module/forward.h"
#include "module/health.h"
#include "module/natmap.h"
#include "module/policy.h"
#include "module/probe_http.h"
#include "module/probe_tls.h"
#include "module/sign.h"
#include "module/steer.h"
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
#define MOD_UPSTREAM		"\x08""upstream"
#define MOD_UPSTREAM_INTERVAL	"\x11""upstream-interval"
#define MOD_UPSTREAM_TIMEOUT	"\x10""upstream-timeout"
#define MOD_STALE_LIMIT		"\x0b""stale-limit"
#define MOD_FORWARD_LIMIT	"\x0d""forward-limit"
#define MOD_FORWARD_UDP		"\x0b""forward-udp"
/* Node-reported load (agent check). */
#define MOD_AGENT_PORT		"\x0a""agent-port"
#define MOD_NODE_WEIGHT		"\x0b""node-weight"
#define MOD_GRANT_WINDOW	"\x0c""grant-window"
#define MOD_LOAD_HIGH		"\x09""load-high"
#define MOD_LOAD_LOW		"\x08""load-low"
#define MOD_SLOW_START		"\x0a""slow-start"

/*! \brief Largest `forward-limit`. */
#define TGC_FORWARD_LIMIT_MAX	1024
#define MOD_CHECK_PATH		"\x0a""check-path"
#define MOD_CHECK_HOST		"\x0a""check-host"
#define MOD_CHECK_STATUS	"\x0c""check-status"
#define MOD_CHECK_TLS_VERIFY	"\x10""check-tls-verify"
#define MOD_CHECK_TLS_CA	"\x0c""check-tls-ca"
#define MOD_BACKUP		"\x06""backup"
#define MOD_BACKUP_WHEN		"\x0b""backup-when"
#define MOD_MIN_LIVE		"\x08""min-live"

/* knotd's own sections read by a translator (names of knot.conf's schema). */
#define C_RMT			"\x06""remote"
#define C_ADDR			"\x07""address"
#define C_KEY			"\x03""key"
#define C_ALG			"\x09""algorithm"
#define C_SECRET		"\x06""secret"

/*! \brief Values of `check`. */
static const knot_lookup_t check_kinds[] = {
	{ TGC_CHECK_TCP,  "tcp" },
	{ TGC_CHECK_RFB,  "rfb" },
	{ TGC_CHECK_NONE, "none" },
	{ TGC_CHECK_HTTP, "http" },
	{ TGC_CHECK_HTTPS, "https" },
	{ TGC_CHECK_TLS,  "tls" },
	{ 0, NULL }
};

/*! \brief Values of `policy`. */
static const knot_lookup_t policies[] = {
	{ TGC_POLICY_ROUND_ROBIN, "round-robin" },
	{ TGC_POLICY_RANDOM,      "random" },
	{ TGC_POLICY_ORDERED,     "ordered" },
	{ TGC_POLICY_STICKY,      "sticky" },
	{ TGC_POLICY_LEAST_LOADED, "least-loaded" },
	{ 0, NULL }
};

/*! \brief Values of `all-down`. */
static const knot_lookup_t all_down_modes[] = {
	{ TGC_ALL_DOWN_ALL,      "all" },
	{ TGC_ALL_DOWN_SERVFAIL, "servfail" },
	{ TGC_ALL_DOWN_NODATA,   "nodata" },
	{ 0, NULL }
};

/*! \brief Values of `forward-udp`: where a query over UDP for a name the
 *         translator forwards goes. */
enum {
	TGC_FORWARD_UDP_TRUNCATE = 0, /*!< Empty answer with TC: the client asks
	                               *   again over TCP, a TCP worker forwards. */
	TGC_FORWARD_UDP_FORWARD  = 1, /*!< Forwarded by the UDP worker. */
};

/*! \brief Values of `forward-udp`. */
static const knot_lookup_t forward_udp_modes[] = {
	{ TGC_FORWARD_UDP_TRUNCATE, "truncate" },
	{ TGC_FORWARD_UDP_FORWARD,  "forward" },
	{ 0, NULL }
};

/*! \brief Item check of `node`: one value. */
static int check_node(knotd_conf_check_args_t *args)
{
	tgc_node_conf_t node;
	return tgc_conf_node_parse((const char *)args->data, &node, &args->err_str);
}

/*! \brief Item check of `node-weight`. */
static int check_node_weight(knotd_conf_check_args_t *args)
{
	tgc_addr_t addr;
	uint16_t port;
	uint32_t weight;
	return tgc_steer_weight_parse((const char *)args->data, &addr, &port,
	                              &weight, &args->err_str);
}

/*! \brief Item check of `check-path`. */
static int check_path(knotd_conf_check_args_t *args)
{
	if (!tgc_http_path_valid((const char *)args->data)) {
		args->err_str = "expected '/' then at most "
		                TGC_CONF_STR(TGC_HTTP_PATH_MAX) " visible ASCII "
		                "characters";
		return KNOT_EINVAL;
	}

	return KNOT_EOK;
}

/*! \brief Item check of `check-host`. */
static int check_host(knotd_conf_check_args_t *args)
{
	if (!tgc_http_host_valid((const char *)args->data)) {
		args->err_str = "expected a host name or address, optionally with "
		                "':port' (letters, digits, - . _ : [ ])";
		return KNOT_EINVAL;
	}

	return KNOT_EOK;
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

/*!
 * \brief Item check of `remote`: never valid.
 *
 * knotd 3.2 first builds a shared module's items as a schema of their own
 * and resolves every reference in it, so `upstream` (a reference to the
 * `remote` section) only loads if an item named `remote` precedes it; the
 * final schema resolves the reference to knotd's `remote` section. This
 * placeholder is that item; using it is an error.
 */
static int check_no_remote(knotd_conf_check_args_t *args)
{
	args->err_str = "not an item of mod-tgcluster, use 'upstream'";
	return KNOT_EINVAL;
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
	/* Must precede MOD_UPSTREAM: see check_no_remote(). */
	{ C_RMT,              YP_TSTR,   YP_VNONE, YP_FMULTI, { check_no_remote } },
	{ MOD_UPSTREAM,       YP_TREF,   YP_VREF = { C_RMT }, YP_FMULTI,
	                                 { knotd_conf_check_ref } },
	{ MOD_UPSTREAM_INTERVAL, YP_TINT, YP_VINT = { 10, 86400000, 1000 } },
	{ MOD_UPSTREAM_TIMEOUT,  YP_TINT, YP_VINT = { 1, 86400000, 500 } },
	{ MOD_STALE_LIMIT,    YP_TINT,   YP_VINT = { 0, 604800, 60, YP_STIME } },
	{ MOD_FORWARD_LIMIT,  YP_TINT,   YP_VINT = { 0, TGC_FORWARD_LIMIT_MAX, 0 } },
	{ MOD_FORWARD_UDP,    YP_TOPT,   YP_VOPT = { forward_udp_modes,
	                                             TGC_FORWARD_UDP_TRUNCATE } },
	/* http, https, tls checks and the backup tier. */
	{ MOD_CHECK_PATH,     YP_TSTR,   YP_VSTR = { "/" }, YP_FNONE, { check_path } },
	{ MOD_CHECK_HOST,     YP_TSTR,   YP_VNONE, YP_FNONE, { check_host } },
	{ MOD_CHECK_STATUS,   YP_TINT,   YP_VINT = { 100, 599, 200 }, YP_FMULTI },
	{ MOD_CHECK_TLS_VERIFY, YP_TBOOL, YP_VBOOL = { true } },
	{ MOD_CHECK_TLS_CA,   YP_TSTR,   YP_VNONE },
	{ MOD_BACKUP,         YP_TSTR,   YP_VNONE, YP_FMULTI, { check_node } },
	{ MOD_BACKUP_WHEN,    YP_TINT,   YP_VINT = { 1, TGC_CONF_NODES_MAX, 1 } },
	{ MOD_MIN_LIVE,       YP_TINT,   YP_VINT = { 0, TGC_TABLE_NODES_MAX, 0 } },
	/* Node-reported load (agent check); 0 = no agent. */
	{ MOD_AGENT_PORT,     YP_TINT,   YP_VINT = { 0, 65535, 0 } },
	/* Steering by sessions (steer.h). */
	{ MOD_NODE_WEIGHT,    YP_TSTR,   YP_VNONE, YP_FMULTI, { check_node_weight } },
	{ MOD_GRANT_WINDOW,   YP_TINT,   YP_VINT = { 0, 3600, TGC_STEER_GRANT_WINDOW } },
	{ MOD_LOAD_HIGH,      YP_TINT,   YP_VINT = { 0, 1000, 0 } },
	{ MOD_LOAD_LOW,       YP_TINT,   YP_VINT = { 0, 1000, 0 } },
	{ MOD_SLOW_START,     YP_TINT,   YP_VINT = { 0, 3600, 0 } },
	{ NULL }
};

/*!
 * \brief Message buffer of the section check: err_str must outlive the check
 *        call, and knotd runs configuration checks in one thread.
 */
static char check_msg[256];

/*!
 * \brief Checks `nat-base` or `nat-map` (one of them given) against the
 *         (valid) nodes: the rules as a set, and the address each node is
 *         answered as (tgc_natmap_nodes(), as load computes it).
 */
static int check_nat_nodes(knotd_conf_check_args_t *args, const knotd_conf_t *base,
                           const knotd_conf_t *map, const tgc_node_conf_t *nodes,
                           size_t node_count)
{
	tgc_natmap_rule_t *rules = calloc(map->count + 1, sizeof(*rules));
	tgc_addr_t *addrs = calloc(node_count + 1, sizeof(*addrs));
	tgc_addr_t *mapped = calloc(node_count + 1, sizeof(*mapped));
	const char *item = (base->count > 0) ? "nat-base" : "nat-map";
	const char *value = NULL;
	const char *why = NULL;
	size_t bad = SIZE_MAX;
	tgc_addr_t base_addr;
	int ret = KNOT_EOK;
	if (rules == NULL || addrs == NULL || mapped == NULL) {
		ret = KNOT_ENOMEM;
		goto done;
	}

	if (base->count > 0) {
		value = base->single.string;
		ret = tgc_addr_parse(value, &base_addr);
	}
	for (size_t i = 0; ret == KNOT_EOK && i < map->count; i++) {
		value = map->multi[i].string;
		ret = tgc_natmap_rule_parse(value, &rules[i], &why);
	}
	if (ret == KNOT_EOK && map->count > 0) {
		size_t clash = 0;
		ret = tgc_natmap_rules_check(rules, map->count, &why, &clash);
		value = map->multi[clash].string;
	}
	if (ret != KNOT_EOK) {
		if (why != NULL) {
			snprintf(check_msg, sizeof(check_msg), "'%s' %s: %s",
			         item, value, why);
			args->err_str = check_msg;
		}
		goto done;
	}

	for (size_t i = 0; i < node_count; i++) {
		addrs[i] = nodes[i].addr;
	}
	ret = tgc_natmap_nodes((base->count > 0) ? &base_addr : NULL, rules,
	                       map->count, addrs, node_count, mapped, NULL, &bad,
	                       &why);
	if (ret == KNOT_EADDRNOTAVAIL && bad < node_count) {
		/* The value of the rule that produced it, for nat-map. */
		const tgc_natmap_rule_t *rule = tgc_natmap_match(rules, map->count,
		                                                 &addrs[bad]);
		if (rule != NULL) {
			value = map->multi[rule - rules].string;
		}
		char node_txt[TGC_ADDR_STRLEN], out_txt[TGC_ADDR_STRLEN];
		snprintf(check_msg, sizeof(check_msg),
		         "'%s' %s: node %zu (%s) would be answered as %s, an %s",
		         item, value, bad,
		         tgc_addr_format(&addrs[bad], node_txt, sizeof(node_txt)),
		         tgc_addr_format(&mapped[bad], out_txt, sizeof(out_txt)), why);
		args->err_str = check_msg;
		ret = KNOT_EINVAL;
	} else if (ret != KNOT_EOK && why != NULL) {
		snprintf(check_msg, sizeof(check_msg), "'%s' %s: %s", item, value, why);
		args->err_str = check_msg;
	}
done:
	free(rules);
	free(addrs);
	free(mapped);

	return ret;
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
	} else if (base.count > 0 || map.count > 0) {
		ret = check_nat_nodes(args, &base, &map, nodes, node_count);
	}

	knotd_conf_free(&map);
	knotd_conf_free(&client);

	return ret;
}

/*!
 * \brief Checks the addresses of the remotes `upstream` refers to as
 *        upstream_setup() reads them at load: IP addresses (not a unix
 *        socket), at most TGC_FORWARD_TARGETS_MAX of them in all.
 *
 * knotd_conf_check_item() reads an item of the section that args->item
 * names, with the identifier args->id: pointed at the `remote` section and
 * a referenced identifier, it reads that remote's `address`.
 */
static int check_upstream_addrs(knotd_conf_check_args_t *args)
{
	knotd_conf_t ups = knotd_conf_check_item(args, MOD_UPSTREAM);
	const yp_item_t remote = { .name = (const yp_name_t *)C_RMT };
	size_t total = 0;
	int ret = KNOT_EOK;
	for (size_t i = 0; ret == KNOT_EOK && i < ups.count; i++) {
		knotd_conf_check_args_t ref = *args;
		ref.item = &remote;
		ref.id = ups.multi[i].data;
		ref.id_len = ups.multi[i].data_len;
		knotd_conf_t addrs = knotd_conf_check_item(&ref, C_ADDR);
		int idlen = (int)ups.multi[i].data_len;
		const char *idtxt = (const char *)ups.multi[i].data;
		if (idlen > 0 && idtxt[idlen - 1] == '\0') {
			idlen--;
		}
		if (addrs.count == 0) {
			snprintf(check_msg, sizeof(check_msg),
			         "'upstream' %.*s has no address", idlen, idtxt);
			ret = KNOT_EINVAL;
		}
		for (size_t j = 0; ret == KNOT_EOK && j < addrs.count; j++) {
			sa_family_t family = addrs.multi[j].addr.ss_family;
			if (family != AF_INET && family != AF_INET6) {
				snprintf(check_msg, sizeof(check_msg),
				         "'upstream' %.*s: address %zu is not an IP "
				         "address", idlen, idtxt, j + 1);
				ret = KNOT_EINVAL;
			}
		}
		total += addrs.count;
		knotd_conf_free(&addrs);
	}
	knotd_conf_free(&ups);
	if (ret == KNOT_EOK && total > TGC_FORWARD_TARGETS_MAX) {
		snprintf(check_msg, sizeof(check_msg), "'upstream' too many "
		         "addresses: %zu in its remotes (max %u)", total,
		         TGC_FORWARD_TARGETS_MAX);
		ret = KNOT_ERANGE;
	}
	if (ret != KNOT_EOK) {
		args->err_str = check_msg;
	}

	return ret;
}

/*! \brief Section check of a translator (`upstream` given, no `node`). */
static int translator_conf_check(knotd_conf_check_args_t *args)
{
	knotd_conf_t base = knotd_conf_check_item(args, MOD_NAT_BASE);
	if (base.count > 0) {
		args->err_str = "'nat-base' cannot be used with 'upstream' (use 'nat-map')";
		return KNOT_EINVAL;
	}
	int ret = check_upstream_addrs(args);
	if (ret != KNOT_EOK) {
		return ret;
	}
	ret = check_nat(args, NULL, 0);
	if (ret != KNOT_EOK) {
		return ret;
	}

	knotd_conf_t interval = knotd_conf_check_item(args, MOD_UPSTREAM_INTERVAL);
	knotd_conf_t timeout = knotd_conf_check_item(args, MOD_UPSTREAM_TIMEOUT);
	if (timeout.single.integer >= interval.single.integer) {
		args->err_str = "'upstream-timeout' must be below 'upstream-interval'";
		return KNOT_EINVAL;
	}

	return KNOT_EOK;
}

/*!
 * \brief Collects the values of `node` then `backup` (one index space:
 *        backups follow the nodes).
 */
static const char **node_strings(const knotd_conf_t *nodes,
                                 const knotd_conf_t *backups)
{
	const char **out = calloc(nodes->count + backups->count + 1, sizeof(*out));
	for (size_t i = 0; out != NULL && i < nodes->count; i++) {
		out[i] = nodes->multi[i].string;
	}
	for (size_t i = 0; out != NULL && i < backups->count; i++) {
		out[nodes->count + i] = backups->multi[i].string;
	}

	return out;
}

/*!
 * \brief Section check of the steering items: `node-weight` values name
 *        nodes; `load-low` needs `load-high` and is not above it; watermarks
 *        need `agent-port`; `slow-start` needs `policy: least-loaded`.
 */
static int check_steer(knotd_conf_check_args_t *args,
                       const tgc_node_conf_t *parsed, size_t total,
                       uint16_t check_port)
{
	knotd_conf_t high = knotd_conf_check_item(args, MOD_LOAD_HIGH);
	knotd_conf_t low = knotd_conf_check_item(args, MOD_LOAD_LOW);
	knotd_conf_t agent = knotd_conf_check_item(args, MOD_AGENT_PORT);
	knotd_conf_t policy = knotd_conf_check_item(args, MOD_POLICY);
	knotd_conf_t slow = knotd_conf_check_item(args, MOD_SLOW_START);
	if (low.single.integer > 0 && high.single.integer == 0) {
		args->err_str = "'load-low' needs 'load-high'";
		return KNOT_EINVAL;
	}
	if (low.single.integer > high.single.integer) {
		args->err_str = "'load-low' above 'load-high'";
		return KNOT_EINVAL;
	}
	if (high.single.integer > 0 && agent.single.integer == 0) {
		args->err_str = "'load-high' needs 'agent-port' (the agents report "
		                "sessions and maxconn)";
		return KNOT_EINVAL;
	}
	if (slow.single.integer > 0 && policy.single.option != TGC_POLICY_LEAST_LOADED) {
		args->err_str = "'slow-start' needs 'policy: least-loaded'";
		return KNOT_EINVAL;
	}
	knotd_conf_t weights = knotd_conf_check_item(args, MOD_NODE_WEIGHT);
	if (weights.count == 0) {
		return KNOT_EOK;
	}
	int ret = KNOT_ENOMEM;
	const char **values = calloc(weights.count, sizeof(*values));
	tgc_addr_t *addrs = calloc(total + 1, sizeof(*addrs));
	uint16_t *ports = calloc(total + 1, sizeof(*ports));
	uint32_t *w = calloc(total + 1, sizeof(*w));
	if (values != NULL && addrs != NULL && ports != NULL && w != NULL) {
		for (size_t i = 0; i < weights.count; i++) {
			values[i] = weights.multi[i].string;
		}
		for (size_t i = 0; i < total; i++) {
			addrs[i] = parsed[i].addr;
			ports[i] = parsed[i].port ? parsed[i].port : check_port;
		}
		size_t bad = 0;
		const char *why = NULL;
		ret = tgc_steer_weights(values, weights.count, addrs, ports, total,
		                        w, &bad, &why);
		if (ret != KNOT_EOK) {
			snprintf(check_msg, sizeof(check_msg), "'node-weight' %s: %s",
			         values[bad], why);
			args->err_str = check_msg;
		}
	}
	free(values);
	free(addrs);
	free(ports);
	free(w);
	knotd_conf_free(&weights);

	return ret;
}

/*! \brief Section check of the http, https and tls items. */
static int check_probe_items(knotd_conf_check_args_t *args)
{
	knotd_conf_t status = knotd_conf_check_item(args, MOD_CHECK_STATUS);
	size_t codes = status.count;
	knotd_conf_free(&status);
	if (codes > TGC_HTTP_STATUS_MAX) {
		args->err_str = "'check-status' more than "
		                TGC_CONF_STR(TGC_HTTP_STATUS_MAX) " codes";
		return KNOT_ERANGE;
	}

	knotd_conf_t check = knotd_conf_check_item(args, MOD_CHECK);
	knotd_conf_t verify = knotd_conf_check_item(args, MOD_CHECK_TLS_VERIFY);
	knotd_conf_t ca = knotd_conf_check_item(args, MOD_CHECK_TLS_CA);
	int ret = KNOT_EOK;
	if (ca.count > 0 && !verify.single.boolean) {
		args->err_str = "'check-tls-ca' needs 'check-tls-verify: on'";
		ret = KNOT_EINVAL;
	} else if ((check.single.option == TGC_CHECK_HTTPS ||
	            check.single.option == TGC_CHECK_TLS) &&
	           verify.single.boolean) {
		/* The trust anchors load now as they will at load. */
		tgc_tls_creds_t *creds = NULL;
		const char *why = NULL;
		ret = tgc_tls_creds_new(&creds, true,
		                        (ca.count > 0) ? ca.single.string : NULL, &why);
		tgc_tls_creds_free(creds);
		if (ret != KNOT_EOK) {
			snprintf(check_msg, sizeof(check_msg), "'%s' %s",
			         (ca.count > 0) ? "check-tls-ca" : "check-tls-verify",
			         why ? why : knot_strerror(ret));
			args->err_str = check_msg;
		}
	}
	knotd_conf_free(&ca);

	return ret;
}

/*! \brief Section check: rules spanning several items. */
static int tgcluster_conf_check(knotd_conf_check_args_t *args)
{
	knotd_conf_t nodes = knotd_conf_check_item(args, MOD_NODE);
	knotd_conf_t backups = knotd_conf_check_item(args, MOD_BACKUP);
	knotd_conf_t upstream = knotd_conf_check_item(args, MOD_UPSTREAM);
	size_t upstreams = upstream.count;
	knotd_conf_free(&upstream);
	if ((nodes.count > 0 || backups.count > 0) && upstreams > 0) {
		args->err_str = (nodes.count > 0) ?
		                "'node' and 'upstream' cannot be used together" :
		                "'backup' and 'upstream' cannot be used together";
		knotd_conf_free(&nodes);
		knotd_conf_free(&backups);
		return KNOT_EINVAL;
	}
	if (upstreams > 0) {
		/* The check-* items do not apply to a translator. */
		return translator_conf_check(args);
	}
	if (nodes.count == 0) {
		args->err_str = (backups.count > 0) ? "'backup' needs 'node'" :
		                "no 'node' or 'upstream' specified";
		knotd_conf_free(&backups);
		return KNOT_EINVAL;
	}
	knotd_conf_t when = knotd_conf_check_item(args, MOD_BACKUP_WHEN);
	if (when.count > 0 && backups.count == 0) {
		args->err_str = "'backup-when' needs 'backup'";
		knotd_conf_free(&nodes);
		return KNOT_EINVAL;
	}
	if (when.single.integer > (int64_t)nodes.count) {
		snprintf(check_msg, sizeof(check_msg), "'backup-when' %" PRId64
		         " exceeds the %zu nodes (backups would always answer)",
		         when.single.integer, nodes.count);
		args->err_str = check_msg;
		knotd_conf_free(&nodes);
		knotd_conf_free(&backups);
		return KNOT_EINVAL;
	}
	knotd_conf_t min_live = knotd_conf_check_item(args, MOD_MIN_LIVE);
	if ((size_t)min_live.single.integer > nodes.count) {
		snprintf(check_msg, sizeof(check_msg), "'min-live' %" PRId64
		         " exceeds the number of nodes (%zu)",
		         min_live.single.integer, nodes.count);
		args->err_str = check_msg;
		knotd_conf_free(&nodes);
		return KNOT_EINVAL;
	}

	size_t total = nodes.count + backups.count;
	knotd_conf_t port = knotd_conf_check_item(args, MOD_CHECK_PORT);
	const char **values = node_strings(&nodes, &backups);
	tgc_node_conf_t *parsed = calloc(total + 1, sizeof(*parsed));
	if (values == NULL || parsed == NULL) {
		free(values);
		free(parsed);
		knotd_conf_free(&nodes);
		knotd_conf_free(&backups);
		return KNOT_ENOMEM;
	}
	size_t bad = 0;
	const char *why = NULL;
	int ret = tgc_conf_nodes_parse(values, total,
	                               (uint16_t)port.single.integer, parsed,
	                               &why, &bad);
	if (ret != KNOT_EOK) {
		snprintf(check_msg, sizeof(check_msg), "'%s' %s: %s",
		         (bad < nodes.count || bad >= total) ? "node" : "backup",
		         (bad < total) ? values[bad] : "", why);
		args->err_str = check_msg;
	} else {
		ret = check_nat(args, parsed, total);
	}
	if (ret == KNOT_EOK) {
		ret = check_steer(args, parsed, total, (uint16_t)port.single.integer);
	}
	free(values);
	free(parsed);
	knotd_conf_free(&nodes);
	knotd_conf_free(&backups);
	if (ret != KNOT_EOK) {
		return ret;
	}

	knotd_conf_t interval = knotd_conf_check_item(args, MOD_CHECK_INTERVAL);
	knotd_conf_t timeout = knotd_conf_check_item(args, MOD_CHECK_TIMEOUT);
	ret = tgc_conf_timing_check(interval.single.integer,
	                            timeout.single.integer, &args->err_str);
	if (ret != KNOT_EOK) {
		return ret;
	}

	return check_probe_items(args);
}

/*! \brief Counters in `knotc zone-stats`. */
enum {
	CTR_ANSWER     = 0, /*!< Answers per node (index = node order). */
	CTR_ALL_DOWN   = 1, /*!< Answers given while no node was live. */
	CTR_TRANSITION = 2, /*!< Health transitions (up, down). */
	CTR_DRAIN      = 3, /*!< Answers served by drained nodes only. */
	CTR_TRUNCATED  = 4, /*!< Answers that did not fit (TC). */
	CTR_MAPPED     = 5, /*!< Answers with NAT-mapped addresses. */
	CTR_STALE_TABLE = 6, /*!< Answers given while the table's heartbeat
	                      *   was stale. */
	CTR_RFB_REFUSED = 7, /*!< rfb probes a node's server refused (per node). */
	CTR_BACKUP     = 8, /*!< Answers that included backup nodes. */
	CTR_ADMIN_MALFORMED = 9, /*!< Malformed zone admin records (once per
	                          *   zone serial). */
	CTR_AGENT_ERROR = 10, /*!< Agent polls without a usable line (per node). */
};

/*! \brief Counters of a translator in `knotc zone-stats`. */
enum {
	TCTR_CACHED     = 0, /*!< Answers from a fresh cached answer. */
	TCTR_STALE      = 1, /*!< Answers from a stale cached answer. */
	TCTR_FORWARDED  = 2, /*!< Queries forwarded on demand and answered. */
	TCTR_SERVFAIL   = 3, /*!< SERVFAIL: cache expired or forward failed. */
	TCTR_UPSTREAM_ERROR = 4, /*!< Upstream errors by kind (tgc_fwd_err_t). */
	TCTR_FAILOVER   = 5, /*!< Tries of a next upstream address. */
	TCTR_TCP        = 6, /*!< TCP retries after a truncated reply. */
	TCTR_TRUNCATED  = 7, /*!< Answers that did not fit (TC). */
	TCTR_MAPPED     = 8, /*!< Answers with NAT-mapped addresses. */
	TCTR_STALE_TABLE = 9, /*!< Answers given while the cache's heartbeat
	                       *   was stale. */
	TCTR_BUSY       = 10, /*!< Forwards refused: forward-limit reached or
	                       *   this worker resting after a failed one. */
	TCTR_RECENT_FAIL = 11, /*!< Forwards refused: the name failed lately. */
	TCTR_UNREACHABLE = 12, /*!< Forwards refused: every upstream down. */
	TCTR_TO_TCP     = 13, /*!< Queries over UDP of forwarded names answered
	                       *   empty with TC (forward-udp truncate). */
};

/*! \brief Slots of the memory of recently failed forwards (power of 2). */
#define TGC_FAILED_SLOTS	256
/*! \brief How long a name whose forward failed is answered SERVFAIL at once
 *         (RFC 9520 asks resolvers to remember failures at least 1 s). */
#define TGC_FAILED_HOLD_MS	5000
/*! \brief Bits of a failed-forward slot that hold the expiry time (ms of
 *         CLOCK_MONOTONIC, 2^40 ms = 34 years); the high 24 bits hold a tag
 *         of the name's hash. */
#define TGC_FAILED_TIME_BITS	40

/*! \brief Index names of the upstream-error counter. */
static char *upstream_error_to_str(uint32_t idx, uint32_t count)
{
	(void)count;
	return strdup(tgc_forward_err_str((tgc_fwd_err_t)idx));
}

/*! \brief Index names of the transition counter. */
static char *transition_to_str(uint32_t idx, uint32_t count)
{
	(void)count;
	return strdup(idx == 0 ? "up" : "down");
}

/*! \brief Instance context. */
typedef struct {
	/* Immutable after load (read by workers and the checker). */
	knot_dname_t *name;          /*!< Cluster name (lower case). */
	size_t name_size;            /*!< Its wire size. */
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
	uint32_t *rep;               /*!< First node with the same address, by
	                              *   index (NULL: all addresses differ). */
	uint32_t *rep_mapped;        /*!< The same for the mapped addresses. */
	tgc_natmap_range_t *clients; /*!< nat-client ranges (none = all). */
	size_t client_count;         /*!< Number of nat-client ranges. */
	tgc_answer_cfg_t answer;     /*!< Answer view (points into this struct). */
	tgc_table_t table;           /*!< Private view of the segment (see
	                              *   table.h for who writes which field). */
	uint64_t token;              /*!< Writer token (immutable after load). */
	uint32_t stale_after_ms;     /*!< Heartbeat age that makes the table
	                              *   stale (immutable after load). */
	_Atomic bool stale_logged;   /*!< A stale table was logged (workers:
	                              *   exchange, relaxed). */
	unsigned threads;            /*!< Number of worker states. */
	tgc_policy_state_t *states;  /*!< Per worker: written and read only by
	                              *   the worker with that thread_id. */
	tgc_checker_t *checker;      /*!< Checker (started and stopped by knotd's
	                              *   main thread in load/unload). */
	/* http, https, tls checks: built in load, read by the checker,
	 * freed after it stopped. */
	char *http_path;             /*!< check-path. */
	char *http_host;             /*!< check-host (NULL = node address). */
	uint16_t *statuses;          /*!< check-status codes. */
	tgc_tls_creds_t *tls;        /*!< TLS credentials (https, tls). */
	/* Translator only: immutable after load unless said otherwise. */
	tgc_role_t role;             /*!< TGC_ROLE_LB or TGC_ROLE_TRANSLATOR. */
	bool tsig_later;             /*!< Zone instance: signed queries are
	                              *   answered at PREANSWER (after knotd's
	                              *   TSIG check), not at BEGIN. */
	bool zone_bound;             /*!< Zone instance: nothing is answered
	                              *   while the zone is not loaded. */
	knot_dname_t *scope;         /*!< Names forwarded: the zone, or `name`
	                              *   and below for a global instance. */
	tgc_fwd_target_t *targets;   /*!< Upstream addresses (table order). */
	knot_tsig_key_t *keys;       /*!< TSIG key per upstream remote. */
	size_t key_count;            /*!< Number of entries of \a keys. */
	tgc_fwd_conf_t fwd;          /*!< Upstreams view (points to targets). */
	tgc_natmap_rule_t *rules;    /*!< nat-map rules (rewriting). */
	size_t rule_count;           /*!< Number of rules. */
	uint32_t interval_ms;        /*!< upstream-interval. */
	uint32_t stale_limit_s;      /*!< stale-limit. */
	uint32_t fresh_ms;           /*!< Age up to which a polled answer is
	                              *   fresh (tgc_forward_fresh_ms()). */
	uint32_t budget_ms;          /*!< Bound of an on-demand forward. */
	_Atomic uint32_t preferred;  /*!< Upstream that answered last (writer:
	                              *   poller; readers: workers). */
	tgc_poller_t *poller;        /*!< Poller (started and stopped by knotd's
	                              *   main thread in load/unload). */
	/* Translator: guards of on-demand forwarding (translator_forward()). */
	bool udp_truncate;           /*!< forward-udp truncate: queries over
	                              *   UDP are sent to TCP, not forwarded
	                              *   (immutable after load). */
	uint32_t forward_limit;      /*!< Most forwards in flight at once. */
	_Atomic uint32_t forwards;   /*!< Forwards in flight (writers and
	                              *   readers: workers; relaxed, the count
	                              *   publishes no other data). */
	uint64_t *rest_until;        /*!< Per worker: CLOCK_MONOTONIC ms before
	                              *   which it starts no forward after a
	                              *   failed one (written and read only by
	                              *   the worker with that thread_id). */
	uint64_t failed_key;         /*!< Key of the name hash (immutable). */
	_Atomic uint64_t failed[TGC_FAILED_SLOTS]; /*!< Recently failed names:
	                              *   tag << TGC_FAILED_TIME_BITS | expiry
	                              *   ms, 0 = empty (writers and readers:
	                              *   workers; relaxed, each slot is one
	                              *   self-contained value). */
	knotd_mod_t *mod;            /*!< Module handle, for logs and stats. */
	/* Zone admin records (load balancer). */
	char *name_txt;              /*!< Cluster name text (immutable). */
	tgc_admin_box_t admin_box;   /*!< To the checker (see admin.h). */
	_Atomic uint64_t zone_seen;  /*!< Serial | 1 << 32 of the apex TXT
	                              *   records last parsed, 0 = none (workers:
	                              *   compare-and-swap, relaxed: the box's
	                              *   lock orders the data). */
	_Atomic uint64_t zone_seen_ms; /*!< When zone_seen last changed
	                              *   (workers, relaxed). */
	/* Log gate: the checker logs only while log_on is set; unload clears it
	 * under log_lock before it stops the checker (knotd may have freed the
	 * zone name by then). */
	pthread_mutex_t log_lock;    /*!< Serialises log_on and checker logs. */
	bool log_on;                 /*!< Writer: unload; reader: checker. */
	/* Signed answers (zone with dnssec-signing: on). sign_on and the
	 * keyset are set in load only; the cache locks itself. */
	bool sign_on;                /*!< Sign positive answers. */
	tgc_sign_cache_t sign;       /*!< RRSIGs per distinct RRset. */
	_Atomic uint64_t sign_keys;  /*!< Hash of the apex DNSKEY set the keyset
	                              *   and the cache generation were loaded
	                              *   for, 0 before the first load (writer:
	                              *   a worker holding key_lock exclusively,
	                              *   release; readers: workers, acquire). */
	_Atomic bool sign_ok;        /*!< The keyset of sign_keys loaded (same
	                              *   writer, published by sign_keys'
	                              *   release; readers: workers). */
	pthread_rwlock_t key_lock;   /*!< Shared while a worker signs with
	                              *   knotd's keyset, exclusive while one
	                              *   reloads it after a key change. */
} tgc_ctx_t;

/*!
 * \brief Tells whether the QNAME is the cluster name.
 *
 * knotd lower-cases the QNAME before the first hook (prepare_answer() in
 * process_query.c) and ctx->name is lower case: sizes and bytes are compared
 * first (callgrind: about 300 instructions per query fewer than
 * knot_dname_is_case_equal() alone); the case-insensitive compare remains
 * for a same-size name that differs, so this does not rely on knotd's
 * lower-casing.
 */
static inline bool is_cluster_name(knotd_qdata_t *qdata, const tgc_ctx_t *ctx)
{
	const knot_dname_t *qname = knot_pkt_qname(qdata->query);
	return qname != NULL && qdata->query->qname_size == ctx->name_size &&
	       (memcmp(qname, ctx->name, ctx->name_size) == 0 ||
	        knot_dname_is_case_equal(qname, ctx->name));
}

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

/*!
 * \brief Notices a table whose checker or poller stopped beating: logs it
 *        once at error level and counts the answer in \a counter. Answers
 *        keep flowing from the last published states.
 */
static void table_watch(tgc_ctx_t *ctx, knotd_mod_t *mod, unsigned thr,
                        int counter)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	uint64_t hb = atomic_load_explicit(&ctx->table.hdr->heartbeat_ms,
	                                   memory_order_relaxed);
	if (now > hb + ctx->stale_after_ms) {
		knotd_mod_stats_incr(mod, thr, counter, 0, 1);
		if (!atomic_exchange_explicit(&ctx->stale_logged, true,
		                              memory_order_relaxed)) {
			knotd_mod_log(mod, LOG_ERR, "segment %s: no heartbeat for "
			              "%" PRIu64 " ms, answering from the last known "
			              "states", ctx->table.name, now - hb);
		}
	} else if (atomic_load_explicit(&ctx->stale_logged, memory_order_relaxed) &&
	           atomic_exchange_explicit(&ctx->stale_logged, false,
	                                    memory_order_relaxed)) {
		knotd_mod_log(mod, LOG_NOTICE, "segment %s: heartbeat back",
		              ctx->table.name);
	}
}

/*
 * Translator.
 */

/*! \brief The nat-map rules for this query's client (NULL: no rewriting). */
static const tgc_natmap_rule_t *translator_rules(tgc_ctx_t *ctx,
                                                 knotd_qdata_t *qdata)
{
	if (ctx->rule_count == 0) {
		return NULL;
	}
	if (ctx->client_count == 0) {
		return ctx->rules;
	}
	tgc_addr_t client;
	unsigned prefix = 0;
	if (query_client(qdata, &client, &prefix) &&
	    tgc_natmap_client_match(ctx->clients, ctx->client_count, &client)) {
		return ctx->rules;
	}

	return NULL;
}

/*! \brief Adds the counts of one forward to the counters of a thread. */
static void translator_count(knotd_mod_t *mod, unsigned thr,
                             const tgc_fwd_stats_t *stats)
{
	for (unsigned i = 0; i < TGC_FWD_ERR_COUNT; i++) {
		if (stats->errors[i] > 0) {
			knotd_mod_stats_incr(mod, thr, TCTR_UPSTREAM_ERROR, i,
			                     stats->errors[i]);
		}
	}
	if (stats->failovers > 0) {
		knotd_mod_stats_incr(mod, thr, TCTR_FAILOVER, 0, stats->failovers);
	}
	if (stats->tcp > 0) {
		knotd_mod_stats_incr(mod, thr, TCTR_TCP, 0, stats->tcp);
	}
}

/*! \brief Answers SERVFAIL (counted). */
static knotd_state_t translator_servfail(knotd_qdata_t *qdata, knotd_mod_t *mod,
                                         unsigned thr)
{
	knotd_mod_stats_incr(mod, thr, TCTR_SERVFAIL, 0, 1);
	qdata->rcode = KNOT_RCODE_SERVFAIL;
	return KNOTD_STATE_FAIL;
}

/*! \brief CLOCK_MONOTONIC in ms. */
static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*! \brief Keyed hash of a name, case-insensitive (FNV-1a, then mixed). */
static uint64_t name_hash(uint64_t key, const knot_dname_t *name)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ key;
	size_t len = knot_dname_size(name);
	for (size_t i = 0; i < len; i++) {
		uint8_t c = name[i];
		if (c >= 'A' && c <= 'Z') {
			c += 'a' - 'A';
		}
		h = (h ^ c) * 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;

	return h;
}

/*! \brief Tells whether a forward of the name with this hash failed less
 *         than TGC_FAILED_HOLD_MS ago. */
static bool failed_recently(tgc_ctx_t *ctx, uint64_t hash, uint64_t now)
{
	uint64_t v = atomic_load_explicit(&ctx->failed[hash & (TGC_FAILED_SLOTS - 1)],
	                                  memory_order_relaxed);
	uint64_t mask = (1ULL << TGC_FAILED_TIME_BITS) - 1;
	return v != 0 && (v >> TGC_FAILED_TIME_BITS) == (hash >> TGC_FAILED_TIME_BITS) &&
	       (v & mask) > (now & mask);
}

/*! \brief Remembers a failed forward of the name with this hash (replaces
 *         whatever the slot held: the memory is small and best effort). */
static void failed_note(tgc_ctx_t *ctx, uint64_t hash, uint64_t now)
{
	uint64_t mask = (1ULL << TGC_FAILED_TIME_BITS) - 1;
	uint64_t v = (hash >> TGC_FAILED_TIME_BITS) << TGC_FAILED_TIME_BITS |
	             ((now + TGC_FAILED_HOLD_MS) & mask);
	atomic_store_explicit(&ctx->failed[hash & (TGC_FAILED_SLOTS - 1)], v,
	                      memory_order_relaxed);
}

/*!
 * \brief Tells whether the poller last found every upstream address down
 *        and unreachable (timeout, refused): a forward would only wait.
 *
 * Upstreams that answered with an error RCODE or an invalid reply do not
 * count: they may still answer other names.
 */
static bool upstreams_unreachable(tgc_ctx_t *ctx)
{
	for (size_t i = 0; i < ctx->fwd.count; i++) {
		if (tgc_table_health(&ctx->table, (uint32_t)i) != TGC_HEALTH_DOWN) {
			return false;
		}
		uint8_t probe = atomic_load_explicit(&ctx->table.nodes[i].last_probe,
		                                     memory_order_relaxed);
		if (probe != TGC_PROBE_TIMEOUT && probe != TGC_PROBE_REFUSED) {
			return false;
		}
	}

	return ctx->fwd.count > 0;
}

/*! \brief Takes one of the forward-limit slots (false: all taken). */
static bool forward_slot_take(tgc_ctx_t *ctx)
{
	uint32_t busy = atomic_fetch_add_explicit(&ctx->forwards, 1,
	                                          memory_order_relaxed);
	if (busy >= ctx->forward_limit) {
		atomic_fetch_sub_explicit(&ctx->forwards, 1, memory_order_relaxed);
		return false;
	}

	return true;
}

/*! \brief Answers SERVFAIL at once for a forward not attempted (counted). */
static knotd_state_t translator_refused(knotd_qdata_t *qdata, knotd_mod_t *mod,
                                        unsigned thr, int why)
{
	knotd_mod_stats_incr(mod, thr, why, 0, 1);
	return translator_servfail(qdata, mod, thr);
}

/*!
 * \brief Answers a query over UDP with an empty response with TC (and AA)
 *        set, question only, as knotd truncates: the client asks again over
 *        TCP (counted). knotd adds EDNS, and TSIG for a verified query.
 */
static knotd_state_t translator_to_tcp(knot_pkt_t *pkt, knotd_mod_t *mod,
                                       unsigned thr)
{
	knot_wire_set_aa(pkt->wire);
	knot_wire_set_tc(pkt->wire);
	knotd_mod_stats_incr(mod, thr, TCTR_TO_TCP, 0, 1);
	return KNOTD_STATE_DONE;
}

/*!
 * \brief Forwards the query to the upstreams and copies their answer (A/AAAA
 *        rewritten), RCODE and AA into the response.
 *
 * A forward blocks the worker, so it is only started if the name did not
 * fail lately, the poller does not see every upstream unreachable, fewer
 * than forward-limit forwards are in flight and this worker is not resting
 * after a failed forward (as long as the failed one took): otherwise the
 * answer is SERVFAIL at once. The workers left free keep answering the
 * cluster name from the cache.
 *
 * With forward-udp truncate, a query over UDP that passes the first two
 * checks is not forwarded but answered empty with TC: knotd gives each UDP
 * worker its own socket, so a query for the cluster name that the kernel
 * queued to a UDP worker busy forwarding would wait for that forward. The
 * client asks again over TCP, and a TCP worker forwards. QUIC (over XDP)
 * has no truncation: only pure UDP, over sockets or XDP, is sent to TCP.
 */
static knotd_state_t translator_forward(knot_pkt_t *pkt, knotd_qdata_t *qdata,
                                        tgc_ctx_t *ctx, knotd_mod_t *mod,
                                        unsigned thr)
{
	const knot_dname_t *qname = knot_pkt_qname(qdata->query);
	uint16_t qtype = knot_pkt_qtype(qdata->query);

	uint64_t start = mono_ms();
	uint64_t hash = name_hash(ctx->failed_key, qname);
	if (failed_recently(ctx, hash, start)) {
		return translator_refused(qdata, mod, thr, TCTR_RECENT_FAIL);
	}
	if (upstreams_unreachable(ctx)) {
		return translator_refused(qdata, mod, thr, TCTR_UNREACHABLE);
	}
	if (ctx->udp_truncate && qdata->params->proto == KNOTD_QUERY_PROTO_UDP) {
		return translator_to_tcp(pkt, mod, thr);
	}
	if (start < ctx->rest_until[thr] || !forward_slot_take(ctx)) {
		return translator_refused(qdata, mod, thr, TCTR_BUSY);
	}

	uint32_t first = atomic_load_explicit(&ctx->preferred, memory_order_relaxed);
	tgc_fwd_stats_t stats;
	memset(&stats, 0, sizeof(stats));
	knot_pkt_t *reply = NULL;
	size_t used = 0;

	int ret = tgc_forward_query(&ctx->fwd, first % ctx->fwd.count, qname,
	                            qtype, KNOT_CLASS_IN, ctx->budget_ms, -1,
	                            qdata->mm, &reply, &used, &stats, NULL, NULL);
	atomic_fetch_sub_explicit(&ctx->forwards, 1, memory_order_relaxed);
	translator_count(mod, thr, &stats);
	if (ret != KNOT_EOK) {
		uint64_t end = mono_ms();
		ctx->rest_until[thr] = end + (end - start);
		if (ret == KNOT_ETIMEOUT) {
			failed_note(ctx, hash, end);
		}
		return translator_servfail(qdata, mod, thr);
	}
	atomic_fetch_add_explicit(&ctx->table.nodes[used].answers, 1,
	                          memory_order_relaxed);

	const tgc_natmap_rule_t *rules = translator_rules(ctx, qdata);
	size_t mapped = 0;
	if (knot_wire_get_aa(reply->wire)) {
		knot_wire_set_aa(pkt->wire);
	}
	/* The reply lives in the query's memory pool: its RRsets can be put
	 * into the response as they are (rewritten in place). */
	static const knot_section_t sections[] = {
		KNOT_ANSWER, KNOT_AUTHORITY, KNOT_ADDITIONAL
	};
	for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
		const knot_pktsection_t *sec = knot_pkt_section(reply, sections[s]);
		ret = knot_pkt_begin(pkt, sections[s]);
		for (uint16_t i = 0; ret == KNOT_EOK && i < sec->count; i++) {
			knot_rrset_t *rr = (knot_rrset_t *)knot_pkt_rr(sec, i);
			if (rr->type == KNOT_RRTYPE_OPT || rr->type == KNOT_RRTYPE_TSIG) {
				continue;
			}
			if (rules != NULL) {
				mapped += tgc_forward_rewrite(rr, rules, ctx->rule_count);
			}
			ret = knot_pkt_put(pkt, KNOT_COMPR_HINT_NONE, rr, 0);
		}
		if (ret == KNOT_ESPACE) {
			/* Additional data may be left out, the rest may not. */
			if (sections[s] != KNOT_ADDITIONAL) {
				knot_wire_set_tc(pkt->wire);
				knotd_mod_stats_incr(mod, thr, TCTR_TRUNCATED, 0, 1);
			}
			break;
		} else if (ret != KNOT_EOK) {
			return translator_servfail(qdata, mod, thr);
		}
	}

	qdata->rcode = knot_wire_get_rcode(reply->wire);
	knotd_mod_stats_incr(mod, thr, TCTR_FORWARDED, 0, 1);
	if (mapped > 0) {
		knotd_mod_stats_incr(mod, thr, TCTR_MAPPED, 0, 1);
	}

	return KNOTD_STATE_DONE;
}

/*!
 * \brief Puts the SOA of a cached negative answer into the authority
 *        section (TTL and MINIMUM capped to \a ttl).
 */
static int translator_put_soa(knot_pkt_t *pkt, const tgc_cache_snap_t *snap,
                              uint32_t ttl, knot_mm_t *mm)
{
	if (snap->soa_owner_len == 0 ||
	    knot_dname_wire_check(snap->soa, snap->soa + snap->soa_owner_len,
	                          NULL) != snap->soa_owner_len) {
		return KNOT_EOK;
	}
	knot_dname_t *owner = mm->alloc(mm->ctx, snap->soa_owner_len);
	_Alignas(8) uint8_t rd_buf[TGC_CACHE_SOA_MAX + 8];
	if (owner == NULL) {
		return KNOT_ENOMEM;
	}
	memcpy(owner, snap->soa, snap->soa_owner_len);

	knot_rrset_t soa;
	knot_rrset_init(&soa, owner, KNOT_RRTYPE_SOA, KNOT_CLASS_IN, ttl);
	knot_rdata_init((knot_rdata_t *)rd_buf, snap->soa_rdata_len,
	                snap->soa + snap->soa_owner_len);
	soa.rrs.count = 1;
	soa.rrs.size = knot_rdata_size(snap->soa_rdata_len);
	soa.rrs.rdata = (knot_rdata_t *)rd_buf;

	return tgc_answer_put_soa(pkt, &soa, ttl, mm);
}

/*!
 * \brief Answers A/AAAA for the cluster name from the polled cache.
 *
 * \return False if there is no answer yet and no poll has finished (the
 *         caller forwards the query).
 */
static bool translator_cached(knot_pkt_t *pkt, knotd_qdata_t *qdata,
                              tgc_ctx_t *ctx, knotd_mod_t *mod, unsigned thr,
                              knotd_state_t *state)
{
	const knot_dname_t *qname = knot_pkt_qname(qdata->query);
	uint16_t qtype = knot_pkt_qtype(qdata->query);
	unsigned idx = (qtype == KNOT_RRTYPE_A) ? TGC_CACHE_A : TGC_CACHE_AAAA;

	table_watch(ctx, mod, thr, TCTR_STALE_TABLE);
	tgc_cache_snap_t snap;
	if (tgc_table_cache_read(&ctx->table, idx, &snap, false) != KNOT_EOK) {
		return false; /* Busy beyond the read bound: forward instead. */
	}
	tgc_cache_state_t cs = tgc_forward_cache_state(&snap, tgc_table_now_ms(),
	                                               ctx->fresh_ms,
	                                               ctx->stale_limit_s);
	if (cs == TGC_CACHE_EMPTY && snap.polled_ms == 0) {
		return false;
	}
	if (cs == TGC_CACHE_EMPTY || cs == TGC_CACHE_EXPIRED) {
		*state = translator_servfail(qdata, mod, thr);
		return true;
	}
	uint32_t ttl = tgc_forward_cache_ttl(cs, snap.ttl, ctx->ttl);
	knotd_mod_stats_incr(mod, thr, (cs == TGC_CACHE_STALE) ? TCTR_STALE :
	                                                         TCTR_CACHED, 0, 1);
	knot_wire_set_aa(pkt->wire);
	*state = KNOTD_STATE_DONE;

	if (snap.count == 0) {
		/* Negative: NXDOMAIN or NODATA with the upstream's SOA. */
		if (tgc_table_cache_read(&ctx->table, idx, &snap, true) != KNOT_EOK ||
		    snap.count != 0) {
			*state = translator_servfail(qdata, mod, thr);
			return true;
		}
		qdata->rcode = snap.rcode;
		(void)translator_put_soa(pkt, &snap, ttl, qdata->mm);
		return true;
	}

	const tgc_natmap_rule_t *rules = translator_rules(ctx, qdata);
	const tgc_addr_t *addrs[TGC_CACHE_ADDRS_MAX];
	tgc_addr_t mapped[TGC_CACHE_ADDRS_MAX];
	bool any_mapped = false;
	for (unsigned i = 0; i < snap.count; i++) {
		addrs[i] = &snap.addrs[i];
		if (rules != NULL &&
		    tgc_natmap_apply(rules, ctx->rule_count, &snap.addrs[i], &mapped[i]) &&
		    mapped[i].family == snap.addrs[i].family) {
			addrs[i] = &mapped[i];
			any_mapped = true;
		}
	}
	int ret = tgc_answer_put(pkt, qname, qtype, ttl, addrs, snap.count,
	                         qdata->mm);
	if (ret == KNOT_ESPACE) {
		knotd_mod_stats_incr(mod, thr, TCTR_TRUNCATED, 0, 1);
	} else if (ret != KNOT_EOK) {
		*state = translator_servfail(qdata, mod, thr);
	} else if (any_mapped) {
		knotd_mod_stats_incr(mod, thr, TCTR_MAPPED, 0, 1);
	}

	return true;
}

/*!
 * \brief Query hook of a translator: the cluster name's A/AAAA from the
 *        cache, every other name in scope (and other types) forwarded.
 */
static knotd_state_t translator_begin(knotd_state_t state, knot_pkt_t *pkt,
                                      knotd_qdata_t *qdata, tgc_ctx_t *ctx,
                                      knotd_mod_t *mod)
{
	const knot_dname_t *qname = knot_pkt_qname(qdata->query);
	if (qname == NULL || knot_pkt_qclass(qdata->query) != KNOT_CLASS_IN ||
	    knot_dname_in_bailiwick(qname, ctx->scope) < 0) {
		return state;
	}
	unsigned thr = qdata->params->thread_id % ctx->threads;
	uint16_t qtype = knot_pkt_qtype(qdata->query);

	if ((qtype == KNOT_RRTYPE_A || qtype == KNOT_RRTYPE_AAAA) &&
	    is_cluster_name(qdata, ctx)) {
		knotd_state_t out;
		if (translator_cached(pkt, qdata, ctx, mod, thr, &out)) {
			return out;
		}
	}

	return translator_forward(pkt, qdata, ctx, mod, thr);
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
	if (knot_rrset_empty(&soa) || ctx->admin_box.nodes == NULL) {
		return;
	}
	uint32_t serial = knot_soa_serial(soa.rrs.rdata);
	uint64_t tagged = (uint64_t)serial | (1ull << 32);
	uint64_t seen = atomic_load_explicit(&ctx->zone_seen, memory_order_relaxed);
	if (seen == tagged) {
		return;
	}
	uint64_t now = tgc_table_now_ms();
	if (seen != 0 && (int32_t)(serial - (uint32_t)seen) < 0 &&
	    now < atomic_load_explicit(&ctx->zone_seen_ms, memory_order_relaxed) + 1000) {
		return;
	}
	if (!atomic_compare_exchange_strong_explicit(&ctx->zone_seen, &seen, tagged,
	                                             memory_order_relaxed,
	                                             memory_order_relaxed)) {
		return; /* Another worker takes this serial in. */
	}
	atomic_store_explicit(&ctx->zone_seen_ms, now, memory_order_relaxed);

	tgc_admin_zone_t *nodes = calloc(ctx->node_count + 1, sizeof(*nodes));
	if (nodes == NULL) {
		atomic_store_explicit(&ctx->zone_seen, 0, memory_order_relaxed);
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
		if (!tgc_admin_name_match(&rec, ctx->name_txt)) {
			continue;
		}
		bool found = false;
		for (uint32_t n = 0; n < ctx->node_count; n++) {
			if (!tgc_addr_equal(&ctx->addrs[n], &rec.addr) ||
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
	tgc_admin_box_post(&ctx->admin_box, serial, malformed, nodes);
	free(nodes);
	tgc_checker_wake(ctx->checker);
}

/*! \brief Seconds before an RRSIG expires that the module re-signs. */
#define SIGN_REFRESH_S	3600
/*! \brief RRSIG cache slots per instance. */
#define SIGN_SLOTS	1024

/*! \brief Hash of the zone's apex DNSKEY rdata (0 when there is none). */
static uint64_t dnskey_hash(knotd_qdata_t *qdata)
{
	knot_rrset_t keys = knotd_qdata_zone_apex_rrset(qdata, KNOT_RRTYPE_DNSKEY);
	if (keys.rrs.count == 0) {
		return 0;
	}
	uint64_t h = 0xcbf29ce484222325ULL;
	const uint8_t *p = (const uint8_t *)keys.rrs.rdata;
	for (uint32_t i = 0; i < keys.rrs.size; i++) {
		h = (h ^ p[i]) * 0x100000001b3ULL;
	}
	return h | 1;
}

/*!
 * \brief Adds the RRSIGs of the answer RRset \a rr (just put into \a pkt),
 *        from the cache or signed now and cached.
 */
static int lb_sign(knot_pkt_t *pkt, knotd_qdata_t *qdata, knotd_mod_t *mod,
                   tgc_ctx_t *ctx, const knot_rrset_t *rr)
{
	/* The keyset follows the zone's DNSKEY set: knotd creates the keys
	 * after load on a first signing and changes them on rollovers. One
	 * worker reloads per change; the others wait on key_lock. */
	uint64_t keys = dnskey_hash(qdata);
	if (keys == 0) {
		return KNOT_EOK; /* Zone not signed (yet). */
	}
	if (atomic_load_explicit(&ctx->sign_keys, memory_order_acquire) != keys) {
		pthread_rwlock_wrlock(&ctx->key_lock);
		int ret = KNOT_EOK;
		if (atomic_load_explicit(&ctx->sign_keys, memory_order_relaxed) != keys) {
			if (atomic_load_explicit(&ctx->sign_ok, memory_order_relaxed)) {
				knotd_mod_dnssec_unload_keyset(mod);
			}
			ret = knotd_mod_dnssec_load_keyset(mod, false);
			/* Tried once per DNSKEY set: a failure leaves answers
			 * unsigned until the set changes or a reload. */
			atomic_store_explicit(&ctx->sign_ok, ret == KNOT_EOK,
			                      memory_order_relaxed);
			if (ret == KNOT_EOK) {
				tgc_sign_cache_set_gen(&ctx->sign, keys);
			} else {
				knotd_mod_log(mod, LOG_WARNING, "answers unsigned, cannot load "
				              "the zone's DNSSEC keys (%s), reload after "
				              "knotd made them", knot_strerror(ret));
			}
			atomic_store_explicit(&ctx->sign_keys, keys, memory_order_release);
		}
		pthread_rwlock_unlock(&ctx->key_lock);
	}
	if (!atomic_load_explicit(&ctx->sign_ok, memory_order_relaxed)) {
		return KNOT_EOK;
	}

	tgc_sign_rdata_t rd[TGC_SIGN_RDATA_MAX];
	size_t n = rr->rrs.count;
	tgc_sign_key_t key;
	bool cacheable = (n <= TGC_SIGN_RDATA_MAX);
	if (cacheable) {
		knot_rdata_t *it = rr->rrs.rdata;
		for (size_t i = 0; i < n; i++) {
			rd[i] = (tgc_sign_rdata_t){ it->data, it->len };
			it = knot_rdataset_next(it);
		}
		cacheable = tgc_sign_key_build(&key, rr->type, rr->ttl, rd, n) == KNOT_EOK;
	}

	knot_rrset_t *sigs = qdata->mm->alloc(qdata->mm->ctx, sizeof(*sigs));
	uint8_t *blob = qdata->mm->alloc(qdata->mm->ctx, TGC_SIGN_SIG_MAX);
	if (sigs == NULL || blob == NULL) {
		return KNOT_ENOMEM;
	}
	knot_rrset_init(sigs, rr->owner, KNOT_RRTYPE_RRSIG, KNOT_CLASS_IN, rr->ttl);
	size_t got = 0;
	if (cacheable) {
		got = tgc_sign_cache_get(&ctx->sign, &key, (uint32_t)time(NULL),
		                         blob, TGC_SIGN_SIG_MAX);
	}
	if (got > 2) {
		/* Blob: count (2 bytes, host order) and the rdataset. */
		memcpy(&sigs->rrs.count, blob, 2);
		sigs->rrs.size = (uint32_t)(got - 2);
		sigs->rrs.rdata = (knot_rdata_t *)(blob + 2);
	} else {
		/* The rdataset is signed in canonical order whatever the
		 * answer order: sign a sorted copy. */
		knot_rrset_t copy;
		knot_rrset_init(&copy, rr->owner, rr->type, rr->rclass, rr->ttl);
		int ret = KNOT_EOK;
		knot_rdata_t *it = rr->rrs.rdata;
		for (uint16_t i = 0; i < rr->rrs.count && ret == KNOT_EOK; i++) {
			/* knot_rdataset_add() keeps the set sorted. */
			ret = knot_rdataset_add(&copy.rrs, it, qdata->mm);
			it = knot_rdataset_next(it);
		}
		if (ret == KNOT_EOK) {
			pthread_rwlock_rdlock(&ctx->key_lock);
			ret = knotd_mod_dnssec_sign_rrset(mod, sigs, &copy, qdata->mm);
			pthread_rwlock_unlock(&ctx->key_lock);
		}
		if (ret != KNOT_EOK) {
			return ret;
		}
		if (cacheable && sigs->rrs.count > 0 &&
		    sigs->rrs.size + 2 <= TGC_SIGN_SIG_MAX) {
			uint32_t expire = UINT32_MAX;
			knot_rdata_t *it = sigs->rrs.rdata;
			for (uint16_t i = 0; i < sigs->rrs.count; i++) {
				uint32_t e = knot_rrsig_sig_expiration(it);
				expire = e < expire ? e : expire;
				it = knot_rdataset_next(it);
			}
			memcpy(blob, &sigs->rrs.count, 2);
			memcpy(blob + 2, sigs->rrs.rdata, sigs->rrs.size);
			(void)tgc_sign_cache_put(&ctx->sign, &key, keys, expire,
			                         blob, sigs->rrs.size + 2);
		}
	}
	return knot_pkt_put(pkt, KNOT_COMPR_HINT_QNAME, sigs, 0);
}

/*! \brief Puts the apex RRset of \a type and the RRSIGs covering it. */
static int put_apex_signed(knot_pkt_t *pkt, knotd_qdata_t *qdata, uint16_t type)
{
	knot_rrset_t rr = knotd_qdata_zone_apex_rrset(qdata, type);
	knot_rrset_t all = knotd_qdata_zone_apex_rrset(qdata, KNOT_RRTYPE_RRSIG);
	if (rr.rrs.count == 0 || all.rrs.count == 0) {
		return KNOT_ENOENT;
	}
	knot_rrset_t *sigs = qdata->mm->alloc(qdata->mm->ctx, sizeof(*sigs));
	knot_rrset_t *copy = qdata->mm->alloc(qdata->mm->ctx, sizeof(*copy));
	if (sigs == NULL || copy == NULL) {
		return KNOT_ENOMEM;
	}
	*copy = rr;
	knot_rrset_init(sigs, all.owner, KNOT_RRTYPE_RRSIG, all.rclass, all.ttl);
	knot_rdata_t *it = all.rrs.rdata;
	for (uint16_t i = 0; i < all.rrs.count; i++) {
		if (knot_rrsig_type_covered(it) == type) {
			int ret = knot_rdataset_add(&sigs->rrs, it, qdata->mm);
			if (ret != KNOT_EOK) {
				return ret;
			}
		}
		it = knot_rdataset_next(it);
	}
	if (sigs->rrs.count == 0) {
		return KNOT_ENOENT;
	}
	int ret = knot_pkt_put(pkt, KNOT_COMPR_HINT_NONE, copy, 0);
	if (ret == KNOT_EOK) {
		ret = knot_pkt_put(pkt, KNOT_COMPR_HINT_NONE, sigs, 0);
	}
	return ret;
}

/*!
 * \brief Signed NODATA at the apex: the zone's SOA and apex NSEC with their
 *        RRSIGs, as knotd's own signing would prove it. The SOA goes out
 *        unmodified (its RRSIG covers the MINIMUM field).
 */
static int lb_signed_nodata(knot_pkt_t *pkt, knotd_qdata_t *qdata)
{
	int ret = knot_pkt_begin(pkt, KNOT_AUTHORITY);
	if (ret == KNOT_EOK) {
		ret = put_apex_signed(pkt, qdata, KNOT_RRTYPE_SOA);
	}
	/* An NSEC3 zone has no apex NSEC, and a name below the apex would
	 * need its own NSEC: the module API reads apex RRsets only. Those
	 * answers carry the signed SOA without a denial proof. */
	if (ret == KNOT_EOK &&
	    knot_dname_is_equal(knot_pkt_qname(qdata->query), knotd_qdata_zone_name(qdata))) {
		ret = put_apex_signed(pkt, qdata, KNOT_RRTYPE_NSEC);
		if (ret == KNOT_ENOENT) {
			ret = KNOT_EOK;
		}
	}
	return ret;
}

/*! \brief Load-balancer answer: A/AAAA for the cluster name (returns
 *         \a state unchanged for every other query). */
static knotd_state_t lb_answer(knotd_state_t state, knot_pkt_t *pkt,
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
	if (ctx == NULL || !is_cluster_name(qdata, ctx)) {
		return state;
	}

	unsigned thr = qdata->params->thread_id % ctx->threads;
	zone_admin_check(ctx, qdata, mod, thr);
	table_watch(ctx, mod, thr, CTR_STALE_TABLE);
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
	/* NAT mapping applies to the nodes selected: health, policy and the
	 * sticky hash stay tied to the node, not to the address answered. */
	const tgc_addr_t *source = ctx->addrs;
	if (ctx->mapped != NULL &&
	    (ctx->client_count == 0 ||
	     (have_client && tgc_natmap_client_match(ctx->clients, ctx->client_count,
	                                             &client_addr)))) {
		source = ctx->mapped;
	}
	size_t count = 0;
	tgc_answer_kind_t kind = tgc_answer_select(&ctx->answer, family,
	                                           source == ctx->mapped,
	                                           &ctx->states[thr], client,
	                                           sel, &count);

	knot_wire_set_aa(pkt->wire);
	/* NODATA for a family with nodes means none could answer: all-down
	 * "nodata", or "all" with every node admin-down. */
	if (kind == TGC_ANSWER_ALL || kind == TGC_ANSWER_SERVFAIL ||
	    (kind == TGC_ANSWER_NODATA &&
	     (family == AF_INET ? ctx->answer.v4.count : ctx->answer.v6.count) > 0)) {
		knotd_mod_stats_incr(mod, thr, CTR_ALL_DOWN, 0, 1);
		atomic_fetch_add_explicit(&ctx->table.hdr->all_down_answers, 1,
		                          memory_order_relaxed);
	}

	if (kind == TGC_ANSWER_SERVFAIL) {
		qdata->rcode = KNOT_RCODE_SERVFAIL;
		return KNOTD_STATE_FAIL;
	}
	if ((kind == TGC_ANSWER_NODATA || count == 0) && ctx->sign_on &&
	    knot_pkt_has_dnssec(qdata->query) &&
	    knotd_qdata_zone_apex_rrset(qdata, KNOT_RRTYPE_DNSKEY).rrs.count > 0) {
		int ret = lb_signed_nodata(pkt, qdata);
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
	if (ret == KNOT_EOK && ctx->sign_on && knot_pkt_has_dnssec(qdata->query)) {
		ret = lb_sign(pkt, qdata, mod, ctx, &pkt->rr[pkt->rrset_count - 1]);
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
	if (source != ctx->addrs) {
		for (size_t i = 0; i < count; i++) {
			if (ctx->is_mapped[sel[i]]) {
				knotd_mod_stats_incr(mod, thr, CTR_MAPPED, 0, 1);
				break;
			}
		}
	}
	if (ctx->answer.backup_from > 0) {
		for (size_t i = 0; i < count; i++) {
			if (sel[i] >= ctx->answer.backup_from) {
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

/*! \brief Tells whether the query's zone has contents (knotd answers
 *         SERVFAIL for a zone that failed to load or expired). */
static bool zone_loaded(knotd_qdata_t *qdata)
{
	knot_rrset_t soa = knotd_qdata_zone_apex_rrset(qdata, KNOT_RRTYPE_SOA);
	return !knot_rrset_empty(&soa);
}

/*!
 * \brief Query hook at BEGIN: queries without TSIG (zone instances), or all
 *        of them (global load-balancer instances).
 *
 * knotd verifies a query's TSIG (zone `acl` with action query) only after
 * BEGIN, and signs the response only if it verified the query. A zone
 * instance therefore answers signed queries at PREANSWER (tgcluster_signed):
 * an unknown key gets knotd's BADKEY, a wrong signature BADSIG, a valid one
 * a signed answer. A global translator has no zone whose ACL could allow a
 * key and leaves signed queries to knotd.
 *
 * A zone instance answers nothing while its zone is not loaded: knotd's
 * own SERVFAIL is the answer for every type then.
 */
static knotd_state_t tgcluster_begin(knotd_state_t state, knot_pkt_t *pkt,
                                     knotd_qdata_t *qdata, knotd_mod_t *mod)
{
	if (qdata->type != KNOTD_QUERY_TYPE_NORMAL) {
		return state;
	}
	tgc_ctx_t *ctx = knotd_mod_ctx(mod);
	if (ctx == NULL || (ctx->zone_bound && !zone_loaded(qdata))) {
		return state;
	}
	if ((ctx->tsig_later || ctx->role == TGC_ROLE_TRANSLATOR) &&
	    knot_pkt_has_tsig(qdata->query)) {
		return state;
	}
	if (ctx->role == TGC_ROLE_TRANSLATOR) {
		return translator_begin(state, pkt, qdata, ctx, mod);
	}

	return lb_answer(state, pkt, qdata, mod);
}

/*!
 * \brief Query hook at PREANSWER (zone instances): signed queries, which
 *        knotd has verified by now (it runs only for a loaded zone).
 */
static knotd_in_state_t tgcluster_signed(knotd_in_state_t state, knot_pkt_t *pkt,
                                         knotd_qdata_t *qdata, knotd_mod_t *mod)
{
	if (qdata->type != KNOTD_QUERY_TYPE_NORMAL ||
	    !knot_pkt_has_tsig(qdata->query)) {
		return state;
	}

	tgc_ctx_t *ctx = knotd_mod_ctx(mod);
	knotd_state_t out = (ctx != NULL && ctx->role == TGC_ROLE_TRANSLATOR) ?
	                    translator_begin(KNOTD_STATE_NOOP, pkt, qdata, ctx, mod) :
	                    lb_answer(KNOTD_STATE_NOOP, pkt, qdata, mod);
	switch (out) {
	case KNOTD_STATE_NOOP:
		return state;
	case KNOTD_STATE_DONE:
		/* Answered (records, NODATA with SOA, or truncated). */
		return knot_wire_get_tc(pkt->wire) ? KNOTD_IN_STATE_TRUNC :
		                                     KNOTD_IN_STATE_HIT;
	default:
		return KNOTD_IN_STATE_ERROR; /* qdata->rcode is set. */
	}
}

/*! \brief Logs that another live knotd owns the segment, and what to do. */
static void log_busy(knotd_mod_t *mod, const char *shm_name, pid_t pid)
{
	knotd_mod_log(mod, LOG_ERR, "'shm' segment %s is owned by another running "
	              "process, pid %d (a second knotd with the same configuration?); "
	              "not loading: give each knotd on this host its own 'shm'",
	              shm_name, (int)pid);
}

/*!
 * \brief Opens the instance's segment and turns it into the private view
 *        that workers read (see table.h).
 */
static int table_open(tgc_ctx_t *ctx, knotd_mod_t *mod, const char *shm_name,
                      const tgc_table_spec_t *spec, tgc_table_origin_t *origin,
                      const char **err)
{
	int ret = tgc_table_open(&ctx->table, shm_name, spec, origin, err);
	if (ret == KNOT_EBUSY) {
		log_busy(mod, shm_name, ctx->table.owner_pid);
		return ret;
	} else if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "'shm' segment %s refused: %s (%s)",
		              shm_name, *err ? *err : "", knot_strerror(ret));
		return ret;
	}
	ret = tgc_table_view(&ctx->table);
	if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "'shm' segment %s unusable (%s)",
		              shm_name, knot_strerror(ret));
		tgc_table_close(&ctx->table);
	}

	return ret;
}

/*! \brief Frees a context (checker already stopped or never started). */
static void ctx_free(tgc_ctx_t *ctx)
{
	if (ctx == NULL) {
		return;
	}
	tgc_table_release(ctx->token);
	tgc_table_close(&ctx->table);
	free(ctx->name);
	free(ctx->addrs);
	free(ctx->node_keys);
	free(ctx->idx4);
	free(ctx->idx6);
	free(ctx->mapped);
	free(ctx->is_mapped);
	free(ctx->rep);
	free(ctx->rep_mapped);
	free(ctx->clients);
	free(ctx->states);
	tgc_steer_free(ctx->answer.steer);
	free(ctx->scope);
	free(ctx->targets);
	for (size_t i = 0; i < ctx->key_count; i++) {
		knot_tsig_key_deinit(&ctx->keys[i]);
	}
	free(ctx->keys);
	free(ctx->rules);
	free(ctx->http_path);
	free(ctx->http_host);
	free(ctx->statuses);
	tgc_tls_creds_free(ctx->tls);
	free(ctx->rest_until);
	free(ctx->name_txt);
	tgc_admin_box_deinit(&ctx->admin_box);
	if (ctx->sign_on) {
		tgc_sign_cache_deinit(&ctx->sign);
		pthread_rwlock_destroy(&ctx->key_lock);
	}
	pthread_mutex_destroy(&ctx->log_lock);
	free(ctx);
}

/*!
 * \brief Name of the instance's segment: the `shm` item, or one derived from
 *        the zone and the cluster name (the module API does not expose the
 *        section id).
 */
static int segment_name(knotd_mod_t *mod, const char *zone_txt,
                        const char *name_txt, char *buf, size_t buf_len)
{
	knotd_conf_t shm = knotd_conf_mod(mod, MOD_SHM);
	if (shm.count > 0) {
		return tgc_table_name_check(shm.single.string, buf, buf_len);
	}

	return tgc_table_name_auto(buf, buf_len, zone_txt, name_txt);
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
	if (ret == KNOT_EOK) {
		ret = tgc_natmap_nodes((base.count > 0) ? &base_addr : NULL, rules,
		                       map.count, ctx->addrs, ctx->node_count,
		                       ctx->mapped, ctx->is_mapped, NULL, NULL);
	}
	for (uint32_t i = 0; ret == KNOT_EOK && i < ctx->node_count; i++) {
		if (ctx->is_mapped[i]) {
			spec_nodes[i].mapped = ctx->mapped[i];
		}
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

/*! \brief Reads the TSIG key \a key (a `key` reference) into \a out. */
static int upstream_key(knotd_mod_t *mod, const knotd_conf_t *key,
                        knot_tsig_key_t *out)
{
	knotd_conf_t alg = knotd_conf(mod, C_KEY, C_ALG, key);
	knotd_conf_t secret = knotd_conf(mod, C_KEY, C_SECRET, key);
	if (alg.single.option == DNSSEC_TSIG_UNKNOWN || secret.single.data == NULL ||
	    secret.single.data_len == 0) {
		return KNOT_EINVAL;
	}
	out->algorithm = alg.single.option;
	out->name = knot_dname_copy(key->single.data, NULL);
	out->secret.data = malloc(secret.single.data_len);
	if (out->name == NULL || out->secret.data == NULL) {
		return KNOT_ENOMEM;
	}
	memcpy(out->secret.data, secret.single.data, secret.single.data_len);
	out->secret.size = secret.single.data_len;

	return KNOT_EOK;
}

/*!
 * \brief Reads the `upstream` remotes: their addresses become the targets
 *        (in configuration order) and the table nodes, their keys the TSIG
 *        keys.
 */
static int upstream_setup(tgc_ctx_t *ctx, knotd_mod_t *mod,
                          const knotd_conf_t *ups, tgc_table_node_t **spec_nodes)
{
	ctx->keys = calloc(ups->count, sizeof(*ctx->keys));
	ctx->targets = calloc(TGC_FORWARD_TARGETS_MAX, sizeof(*ctx->targets));
	*spec_nodes = calloc(TGC_FORWARD_TARGETS_MAX, sizeof(**spec_nodes));
	if (ctx->keys == NULL || ctx->targets == NULL || *spec_nodes == NULL) {
		return KNOT_ENOMEM;
	}
	ctx->key_count = ups->count;

	size_t n = 0;
	for (size_t i = 0; i < ups->count; i++) {
		knotd_conf_t id = { .single = ups->multi[i], .count = 1 };
		int idlen = (int)ups->multi[i].data_len;
		const char *idtxt = (const char *)ups->multi[i].data;
		if (idlen > 0 && idtxt[idlen - 1] == '\0') {
			idlen--;
		}

		knotd_conf_t key = knotd_conf(mod, C_RMT, C_KEY, &id);
		const knot_tsig_key_t *keyp = NULL;
		if (key.count > 0) {
			int ret = upstream_key(mod, &key, &ctx->keys[i]);
			if (ret != KNOT_EOK) {
				knotd_mod_log(mod, LOG_ERR, "'upstream' %.*s: unusable "
				              "'key' (%s)", idlen, idtxt,
				              knot_strerror(ret));
				return ret;
			}
			keyp = &ctx->keys[i];
		}

		knotd_conf_t addrs = knotd_conf(mod, C_RMT, C_ADDR, &id);
		if (addrs.count == 0) {
			knotd_mod_log(mod, LOG_ERR, "'upstream' %.*s has no address",
			              idlen, idtxt);
			return KNOT_EINVAL;
		}
		int ret = KNOT_EOK;
		for (size_t j = 0; ret == KNOT_EOK && j < addrs.count; j++) {
			const struct sockaddr_storage *ss = &addrs.multi[j].addr;
			tgc_addr_t addr;
			if (n >= TGC_FORWARD_TARGETS_MAX) {
				knotd_mod_log(mod, LOG_ERR, "'upstream' more than %u "
				              "addresses", TGC_FORWARD_TARGETS_MAX);
				ret = KNOT_ERANGE;
				break;
			}
			if (tgc_addr_from_sockaddr(ss, &addr) != KNOT_EOK) {
				knotd_mod_log(mod, LOG_ERR, "'upstream' %.*s: not an "
				              "IP address", idlen, idtxt);
				ret = KNOT_EINVAL;
				break;
			}
			uint16_t port = ntohs((ss->ss_family == AF_INET) ?
			                      ((const struct sockaddr_in *)ss)->sin_port :
			                      ((const struct sockaddr_in6 *)ss)->sin6_port);
			tgc_fwd_target_t *t = &ctx->targets[n];
			tgc_addr_to_sockaddr(&addr, port ? port : 53, &t->addr);
			t->key = keyp;
			char txt[TGC_ADDR_STRLEN];
			snprintf(t->text, sizeof(t->text), "%s@%u",
			         tgc_addr_format(&addr, txt, sizeof(txt)),
			         port ? port : 53);
			(*spec_nodes)[n].addr = addr;
			(*spec_nodes)[n].port = port ? port : 53;
			n++;
		}
		knotd_conf_free(&addrs);
		if (ret != KNOT_EOK) {
			return ret;
		}
	}
	ctx->fwd.targets = ctx->targets;
	ctx->fwd.count = n;

	return KNOT_EOK;
}

/*! \brief Reads `nat-map` and `nat-client` (already checked) of a translator. */
static int translator_nat_setup(tgc_ctx_t *ctx, knotd_mod_t *mod)
{
	knotd_conf_t map = knotd_conf_mod(mod, MOD_NAT_MAP);
	knotd_conf_t clients = knotd_conf_mod(mod, MOD_NAT_CLIENT);
	int ret = KNOT_EOK;

	ctx->rules = calloc(map.count + 1, sizeof(*ctx->rules));
	ctx->clients = calloc(clients.count + 1, sizeof(*ctx->clients));
	if (ctx->rules == NULL || ctx->clients == NULL) {
		ret = KNOT_ENOMEM;
	}
	for (size_t i = 0; ret == KNOT_EOK && i < map.count; i++) {
		ret = tgc_natmap_rule_parse(map.multi[i].string, &ctx->rules[i], NULL);
	}
	for (size_t i = 0; ret == KNOT_EOK && i < clients.count; i++) {
		ret = tgc_natmap_range_parse(clients.multi[i].string,
		                             &ctx->clients[i], NULL);
	}
	if (ret == KNOT_EOK) {
		ctx->rule_count = map.count;
		ctx->client_count = clients.count;
	}
	knotd_conf_free(&map);
	knotd_conf_free(&clients);

	return ret;
}

/*! \brief Reads a translator's configuration and opens its table. */
static int translator_setup(tgc_ctx_t *ctx, knotd_mod_t *mod,
                            const knotd_conf_t *ups)
{
	const knot_dname_t *zone = knotd_mod_zone(mod);

	ctx->role = TGC_ROLE_TRANSLATOR;
	ctx->tsig_later = (zone != NULL);
	ctx->scope = knot_dname_copy((zone != NULL) ? zone : ctx->name, NULL);
	if (ctx->scope == NULL) {
		return KNOT_ENOMEM;
	}
	knot_dname_to_lower(ctx->scope);
	ctx->fwd.scope = ctx->scope;
	ctx->interval_ms = knotd_conf_mod(mod, MOD_UPSTREAM_INTERVAL).single.integer;
	ctx->fwd.timeout_ms = knotd_conf_mod(mod, MOD_UPSTREAM_TIMEOUT).single.integer;
	ctx->stale_limit_s = knotd_conf_mod(mod, MOD_STALE_LIMIT).single.integer;

	tgc_table_node_t *spec_nodes = NULL;
	int ret = upstream_setup(ctx, mod, ups, &spec_nodes);
	if (ret == KNOT_EOK) {
		ret = translator_nat_setup(ctx, mod);
	}
	if (ret != KNOT_EOK) {
		free(spec_nodes);
		return ret;
	}
	ctx->fresh_ms = tgc_forward_fresh_ms(ctx->interval_ms, &ctx->fwd);
	ctx->budget_ms = tgc_forward_budget_ms(&ctx->fwd);

	char zone_txt[KNOT_DNAME_TXT_MAXLEN + 1];
	char name_txt[KNOT_DNAME_TXT_MAXLEN + 1];
	char shm_name[TGC_TABLE_NAME_MAX + 1];
	dname_text(zone, zone_txt, sizeof(zone_txt));
	dname_text(ctx->name, name_txt, sizeof(name_txt));
	ret = segment_name(mod, zone_txt, name_txt, shm_name, sizeof(shm_name));
	if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "'shm' invalid segment name");
		free(spec_nodes);
		return ret;
	}

	tgc_table_spec_t spec = {
		.role = TGC_ROLE_TRANSLATOR,
		.zone = zone_txt,
		.instance = shm_name + 1,
		.name = name_txt,
		.nodes = spec_nodes,
		.node_count = ctx->fwd.count,
		.check = TGC_CHECK_NONE,
		.interval_ms = ctx->interval_ms,
		.timeout_ms = ctx->fwd.timeout_ms,
		.rise = 1,
		.fall = 1,
		.stale_limit_s = ctx->stale_limit_s,
	};
	tgc_table_origin_t origin;
	const char *err = NULL;
	ret = table_open(ctx, mod, shm_name, &spec, &origin, &err);
	free(spec_nodes);
	if (ret != KNOT_EOK) {
		return ret;
	}
	knotd_mod_log(mod, (origin == TGC_TABLE_REPLACED) ? LOG_WARNING : LOG_INFO,
	              "translator for %s, segment %s %s, %zu upstream addresses",
	              name_txt, shm_name,
	              (origin == TGC_TABLE_CREATED) ? "created" :
	              (origin == TGC_TABLE_REUSED) ? "reused" :
	              (origin == TGC_TABLE_ADOPTED) ? "recreated, cache kept" :
	                                              "replaced an invalid segment",
	              ctx->fwd.count);

	return KNOT_EOK;
}

/*!
 * \brief Creates the steering state when the instance steers by sessions
 *        (policy least-loaded or load-high): weights per node, grants and
 *        watermark state per worker.
 */
static int steer_setup(tgc_ctx_t *ctx, knotd_mod_t *mod,
                       const tgc_table_node_t *spec_nodes)
{
	tgc_steer_params_t sp = {
		.least_loaded = (ctx->answer.policy == TGC_POLICY_LEAST_LOADED),
		.window_ms = (ctx->ttl + (uint32_t)knotd_conf_mod(mod, MOD_GRANT_WINDOW).single.integer) * 1000u,
		.high = knotd_conf_mod(mod, MOD_LOAD_HIGH).single.integer,
		.low = knotd_conf_mod(mod, MOD_LOAD_LOW).single.integer,
		.slow_start_ms = knotd_conf_mod(mod, MOD_SLOW_START).single.integer * 1000u,
	};
	if (!sp.least_loaded && sp.high == 0) {
		return KNOT_EOK;
	}
	uint32_t *weights = calloc(ctx->node_count + 1, sizeof(*weights));
	tgc_addr_t *addrs = calloc(ctx->node_count + 1, sizeof(*addrs));
	uint16_t *ports = calloc(ctx->node_count + 1, sizeof(*ports));
	knotd_conf_t wconf = knotd_conf_mod(mod, MOD_NODE_WEIGHT);
	const char **values = calloc(wconf.count + 1, sizeof(*values));
	int ret = KNOT_ENOMEM;
	if (weights == NULL || addrs == NULL || ports == NULL || values == NULL) {
		goto done;
	}
	for (size_t i = 0; i < ctx->node_count; i++) {
		weights[i] = 1;
		addrs[i] = spec_nodes[i].addr;
		ports[i] = spec_nodes[i].port;
	}
	for (size_t i = 0; i < wconf.count; i++) {
		values[i] = wconf.multi[i].string;
	}
	size_t bad = 0;
	const char *why = NULL;
	ret = tgc_steer_weights(values, wconf.count, addrs, ports, ctx->node_count,
	                        weights, &bad, &why);
	if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "'node-weight' %s: %s", values[bad], why);
		goto done;
	}
	unsigned threads = knotd_mod_threads(mod);
	ctx->answer.steer = tgc_steer_new(&sp, threads > 0 ? threads : 1,
	                                  ctx->node_count, weights);
	ret = (ctx->answer.steer != NULL) ? KNOT_EOK : KNOT_ENOMEM;
done:
	knotd_conf_free(&wconf);
	free(values);
	free(weights);
	free(addrs);
	free(ports);
	return ret;
}

/*!
 * \brief Computes the representatives of shared addresses (node and mapped)
 *        for the answer view; none when all addresses differ.
 */
static int answer_reps_setup(tgc_ctx_t *ctx)
{
	ctx->answer.node_count = ctx->node_count;
	uint32_t **reps[] = { &ctx->rep, &ctx->rep_mapped };
	const tgc_addr_t *addrs[] = { ctx->addrs, ctx->mapped };
	for (size_t k = 0; k < 2; k++) {
		if (addrs[k] == NULL) {
			continue;
		}
		*reps[k] = calloc(ctx->node_count + 1, sizeof(**reps[k]));
		if (*reps[k] == NULL) {
			return KNOT_ENOMEM;
		}
		int ret = tgc_answer_reps(addrs[k], ctx->node_count, *reps[k]);
		if (ret == KNOT_ENOENT) {
			free(*reps[k]);
			*reps[k] = NULL;
		} else if (ret != KNOT_EOK) {
			return ret;
		}
	}
	ctx->answer.rep = ctx->rep;
	ctx->answer.rep_mapped = ctx->rep_mapped;

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
	ctx->http_path = strdup((path.count > 0) ? path.single.string : "/");
	ctx->http_host = (host.count > 0) ? strdup(host.single.string) : NULL;
	size_t codes = (status.count > 0) ? status.count : 1;
	ctx->statuses = calloc(codes, sizeof(*ctx->statuses));
	if (ctx->statuses != NULL) {
		ctx->statuses[0] = 200;
		for (size_t i = 0; i < status.count; i++) {
			ctx->statuses[i] = (uint16_t)status.multi[i].integer;
		}
	}
	knotd_conf_free(&status);
	if (ctx->http_path == NULL || ctx->statuses == NULL ||
	    (host.count > 0 && ctx->http_host == NULL)) {
		return KNOT_ENOMEM;
	}
	params->http_path = ctx->http_path;
	params->http_host = ctx->http_host;
	params->statuses = ctx->statuses;
	params->status_count = codes;
	if (params->check == TGC_CHECK_HTTP) {
		return KNOT_EOK;
	}

	bool verify = knotd_conf_mod(mod, MOD_CHECK_TLS_VERIFY).single.boolean;
	knotd_conf_t ca = knotd_conf_mod(mod, MOD_CHECK_TLS_CA);
	const char *why = NULL;
	int ret = tgc_tls_creds_new(&ctx->tls, verify,
	                            (ca.count > 0) ? ca.single.string : NULL, &why);
	if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "'%s' %s",
		              (ca.count > 0) ? "check-tls-ca" : "check-tls-verify",
		              why ? why : knot_strerror(ret));
	}
	knotd_conf_free(&ca);
	params->tls = ctx->tls;

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
	ctx->name_size = knot_dname_size(ctx->name);

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

	ctx->zone_bound = (zone != NULL);
	knotd_conf_t ups = knotd_conf_mod(mod, MOD_UPSTREAM);
	if (ups.count > 0) {
		int ret = translator_setup(ctx, mod, &ups);
		knotd_conf_free(&ups);
		return ret;
	}
	knotd_conf_free(&ups);
	ctx->role = TGC_ROLE_LB;
	ctx->tsig_later = (zone != NULL);

	int ret = probe_setup(ctx, mod, params);
	if (ret != KNOT_EOK) {
		return ret;
	}

	/* Nodes, then backups (one index space). */
	knotd_conf_t nodes = knotd_conf_mod(mod, MOD_NODE);
	knotd_conf_t backups = knotd_conf_mod(mod, MOD_BACKUP);
	size_t total = nodes.count + backups.count;
	const char **values = node_strings(&nodes, &backups);
	tgc_node_conf_t *parsed = calloc(total + 1, sizeof(*parsed));
	tgc_table_node_t *spec_nodes = calloc(total + 1, sizeof(*spec_nodes));
	ctx->node_count = total;
	ctx->addrs = calloc(total + 1, sizeof(*ctx->addrs));
	ctx->node_keys = calloc(total + 1, sizeof(*ctx->node_keys));
	ctx->idx4 = calloc(total + 1, sizeof(*ctx->idx4));
	ctx->idx6 = calloc(total + 1, sizeof(*ctx->idx6));
	ret = KNOT_ENOMEM;
	if (values == NULL || parsed == NULL || spec_nodes == NULL ||
	    ctx->addrs == NULL || ctx->node_keys == NULL || ctx->idx4 == NULL ||
	    ctx->idx6 == NULL) {
		goto nodes_done;
	}
	const char *why = NULL;
	size_t bad = 0;
	ret = tgc_conf_nodes_parse(values, total, check_port, parsed, &why, &bad);
	if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "'%s' %s: %s",
		              (bad < nodes.count || bad >= total) ? "node" : "backup",
		              (bad < total) ? values[bad] : "", why);
		goto nodes_done;
	}
	if (backups.count > 0) {
		ctx->answer.backup_from = nodes.count;
		ctx->answer.backup_when = knotd_conf_mod(mod, MOD_BACKUP_WHEN).single.integer;
	}
	size_t n4 = 0, n6 = 0;
	for (uint32_t i = 0; i < total; i++) {
		ctx->addrs[i] = parsed[i].addr;
		spec_nodes[i].addr = parsed[i].addr;
		spec_nodes[i].port = parsed[i].port ? parsed[i].port : check_port;
		spec_nodes[i].tier = (i >= nodes.count) ? 1 : 0;
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
	ret = answer_reps_setup(ctx);
	if (ret != KNOT_EOK) {
		goto nodes_done;
	}
	ret = steer_setup(ctx, mod, spec_nodes);
	if (ret != KNOT_EOK) {
		goto nodes_done;
	}

	/* Shared table. */
	char zone_txt[KNOT_DNAME_TXT_MAXLEN + 1];
	char name_txt[KNOT_DNAME_TXT_MAXLEN + 1];
	char shm_name[TGC_TABLE_NAME_MAX + 1];
	dname_text(zone, zone_txt, sizeof(zone_txt));
	dname_text(ctx->name, name_txt, sizeof(name_txt));
	ret = segment_name(mod, zone_txt, name_txt, shm_name, sizeof(shm_name));
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
		.node_count = total,
		.check = params->check,
		.interval_ms = params->interval_ms,
		.timeout_ms = params->timeout_ms,
		.rise = params->rise,
		.fall = params->fall,
	};
	tgc_table_origin_t origin;
	const char *err = NULL;
	ret = table_open(ctx, mod, shm_name, &spec, &origin, &err);
	if (ret != KNOT_EOK) {
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
	              "segment %s %s%s%s, %u nodes, %u backups", shm_name,
	              origins[origin], (origin == TGC_TABLE_REPLACED) ? ": " : "",
	              (origin == TGC_TABLE_REPLACED && err) ? err : "",
	              (unsigned)nodes.count, (unsigned)backups.count);
nodes_done:
	free(values);
	free(parsed);
	free(spec_nodes);
	knotd_conf_free(&nodes);
	knotd_conf_free(&backups);

	return ret;
}

/*! \brief Poller counter callback: counts into the shared slot 0. */
static void poller_count(void *arg, const tgc_fwd_stats_t *stats)
{
	tgc_ctx_t *ctx = arg;
	translator_count(ctx->mod, 0, stats);
}

/*!
 * \brief Makes this instance the writer of its table: a previous instance
 *        of this knotd (knotc reload loads us before unloading it) stops
 *        writing from now on; a segment owned by another live process is
 *        refused; records left mid-write by a knotd that is gone are closed.
 *
 * \param[in] stale_ms  Heartbeat age after which workers call the table
 *                      stale.
 */
static int become_writer(tgc_ctx_t *ctx, knotd_mod_t *mod, uint64_t seed,
                         uint32_t stale_ms)
{
	uint64_t token = 0;
	while (token == 0 && getrandom(&token, sizeof(token), 0) != sizeof(token)) {
		token = seed ^ 0x5bd1e995ULL;
	}
	unsigned stuck = 0;
	int ret = tgc_table_claim(&ctx->table, token, &stuck);
	if (ret == KNOT_EBUSY) {
		log_busy(mod, ctx->table.name, ctx->table.owner_pid);
		return ret;
	} else if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "segment %s unusable (%s)",
		              ctx->table.name, knot_strerror(ret));
		return ret;
	}
	ctx->token = token;
	ctx->stale_after_ms = stale_ms;
	/* The view holds the heartbeat of the segment's previous writer:
	 * ours starts now. */
	atomic_store_explicit(&ctx->table.hdr->heartbeat_ms, tgc_table_now_ms(),
	                      memory_order_relaxed);
	if (stuck > 0) {
		knotd_mod_log(mod, LOG_WARNING, "segment %s: closed %u records left "
		              "open by a writer that died", ctx->table.name, stuck);
	}

	return KNOT_EOK;
}

/*!
 * \brief The most forwards in flight: `forward-limit`, by default half of
 *        the knotd workers that forward (TCP workers with forward-udp
 *        truncate, UDP workers with forward), never all of them when there
 *        are several.
 *
 * knotd_conf_env() gives the numbers of workers knotd runs (its defaults
 * applied; a reload does not change them).
 */
static uint32_t translator_forward_limit(knotd_mod_t *mod, bool udp_truncate)
{
	int64_t limit = knotd_conf_mod(mod, MOD_FORWARD_LIMIT).single.integer;
	const char *kind = udp_truncate ? "TCP" : "UDP";
	knotd_conf_t conf = knotd_conf_env(mod, udp_truncate ?
	                                        KNOTD_CONF_ENV_WORKERS_TCP :
	                                        KNOTD_CONF_ENV_WORKERS_UDP);
	int64_t workers = (conf.single.integer > 0) ? conf.single.integer : 1;

	if (limit == 0) {
		limit = (workers >= 2) ? workers / 2 : 1;
	} else if (workers >= 2 && limit >= workers) {
		knotd_mod_log(mod, LOG_NOTICE, "'forward-limit' %" PRId64 " lowered "
		              "to %" PRId64 ", below the %" PRId64 " %s workers",
		              limit, workers - 1, workers, kind);
		limit = workers - 1;
	}
	if (workers < 2) {
		knotd_mod_log(mod, LOG_NOTICE, "one %s worker: a forward holds it "
		              "(%s wait meanwhile)", kind, udp_truncate ?
		              "other queries over TCP" : "cached answers");
	}
	knotd_mod_log(mod, LOG_INFO, "forwarding at most %" PRId64 " queries at "
	              "once (%" PRId64 " %s workers)%s", limit, workers, kind,
	              udp_truncate ? ", other names over UDP get TC" : "");

	return (uint32_t)limit;
}

/*! \brief Second half of the load of a translator: counters and poller. */
static int translator_load(tgc_ctx_t *ctx, knotd_mod_t *mod, uint64_t seed)
{
	ctx->udp_truncate = (knotd_conf_mod(mod, MOD_FORWARD_UDP).single.option ==
	                     TGC_FORWARD_UDP_TRUNCATE);
	ctx->forward_limit = translator_forward_limit(mod, ctx->udp_truncate);
	ctx->failed_key = seed * 0x9e3779b97f4a7c15ULL + 1;
	ctx->rest_until = calloc(ctx->threads, sizeof(*ctx->rest_until));
	if (ctx->rest_until == NULL) {
		return KNOT_ENOMEM;
	}

	int ret;
	if ((ret = knotd_mod_stats_add(mod, "cached", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "stale", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "forwarded", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "servfail", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "upstream-error", TGC_FWD_ERR_COUNT,
	                               upstream_error_to_str)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "failover", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "tcp-retry", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "truncated", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "mapped", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "stale-table", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "busy", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "recent-failure", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "unreachable", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "to-tcp", 1, NULL)) != KNOT_EOK) {
		return ret;
	}

	ret = become_writer(ctx, mod, seed, 3 * ctx->interval_ms + ctx->budget_ms);
	if (ret != KNOT_EOK) {
		return ret;
	}

	ctx->log_on = true;
	tgc_poller_conf_t pconf = {
		.table = &ctx->table,
		.writer_token = ctx->token,
		.fwd = &ctx->fwd,
		.name = ctx->name,
		.interval_ms = ctx->interval_ms,
		.stale_limit_s = ctx->stale_limit_s,
		.preferred = &ctx->preferred,
		.log = checker_log,
		.count = poller_count,
		.thread_start = checker_thread_start,
		.thread_stop = checker_thread_stop,
		.ctx = ctx,
	};
	ret = tgc_poller_start(&ctx->poller, &pconf);
	if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "cannot start the upstream poller (%s)",
		              knot_strerror(ret));
		return ret;
	}

	knotd_mod_ctx_set(mod, ctx);

	ret = KNOT_EOK;
	TGC_FAULT_POINT(ret, "translator-hooks");
	if (ret == KNOT_EOK) {
		ret = knotd_mod_hook(mod, KNOTD_STAGE_BEGIN, tgcluster_begin);
	}
	if (ret == KNOT_EOK && ctx->tsig_later) {
		ret = knotd_mod_in_hook(mod, KNOTD_STAGE_PREANSWER, tgcluster_signed);
	}
	if (ret != KNOT_EOK) {
		/* The caller stops the poller (knotd does not unload a module
		 * whose load failed). */
		knotd_mod_log(mod, LOG_ERR, "cannot register the query hooks (%s)",
		              knot_strerror(ret));
	}

	return ret;
}

/*!
 * \brief Stops what a load started (checker or poller, context): used by
 *        unload and by a load that fails half-way. No log calls after the
 *        log gate closes (knotd may have freed the zone name).
 */
static void tgcluster_stop(knotd_mod_t *mod, tgc_ctx_t *ctx)
{
	knotd_mod_ctx_set(mod, NULL);
	pthread_mutex_lock(&ctx->log_lock);
	ctx->log_on = false;
	pthread_mutex_unlock(&ctx->log_lock);

	tgc_checker_stop(ctx->checker);
	tgc_poller_stop(ctx->poller);
	ctx_free(ctx);
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
		ctx->states[i].worker = i;
	}

	if (ctx->role == TGC_ROLE_TRANSLATOR) {
		ret = translator_load(ctx, mod, seed);
		if (ret != KNOT_EOK) {
			tgcluster_stop(mod, ctx);
		}
		return ret;
	}

	/* Counters. */
	if ((ret = knotd_mod_stats_add(mod, "answer", ctx->node_count, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "all-down", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "transition", 2, transition_to_str)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "drain-only", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "truncated", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "mapped", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "stale-table", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "rfb-refused", ctx->node_count, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "backup", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "admin-malformed", 1, NULL)) != KNOT_EOK ||
	    (ret = knotd_mod_stats_add(mod, "agent-error", ctx->node_count, NULL)) != KNOT_EOK) {
		ctx_free(ctx);
		return ret;
	}
	char name_txt[KNOT_DNAME_TXT_MAXLEN + 1];
	dname_text(ctx->name, name_txt, sizeof(name_txt));
	ctx->name_txt = strdup(name_txt);
	if (ctx->name_txt == NULL ||
	    (ret = tgc_admin_box_init(&ctx->admin_box, ctx->node_count)) != KNOT_EOK) {
		ctx_free(ctx);
		return KNOT_ENOMEM;
	}
	atomic_store_explicit(&ctx->table.hdr->min_live,
	                      knotd_conf_mod(mod, MOD_MIN_LIVE).single.integer,
	                      memory_order_relaxed);

	ret = become_writer(ctx, mod, seed, 3 * params.interval_ms + params.timeout_ms);
	if (ret != KNOT_EOK) {
		ctx_free(ctx);
		return ret;
	}
	if (params.check == TGC_CHECK_NONE) {
		/* No probes will ever correct states kept from an earlier
		 * configuration that had them: start from unknown (= up). */
		for (uint32_t i = 0; i < ctx->node_count; i++) {
			(void)tgc_table_node_reset(&ctx->table, i);
		}
	}

	ctx->log_on = true;
	tgc_checker_conf_t cconf = {
		.table = &ctx->table,
		.writer_token = ctx->token,
		.params = params,
		.log = checker_log,
		.event = checker_event,
		.refused = checker_refused,
		.agent_port = (uint16_t)knotd_conf_mod(mod, MOD_AGENT_PORT).single.integer,
		.agent_error = checker_agent_error,
		.thread_start = checker_thread_start,
		.thread_stop = checker_thread_stop,
		.ctx = ctx,
		.admin_box = &ctx->admin_box,
	};
	ret = tgc_checker_start(&ctx->checker, &cconf);
	if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "cannot start the health checker (%s)",
		              knot_strerror(ret));
		ctx_free(ctx);
		return ret;
	}

	/* Signed answers when knotd signs the zone: its keys, from its KASP
	 * DB. */
	knotd_conf_t signing = knotd_conf_zone(mod, (const yp_name_t *)"\x0e""dnssec-signing",
	                                       knotd_mod_zone(mod));
	if (signing.count > 0 && signing.single.boolean) {
		/* The keyset itself is loaded by the first signed answer
		 * (lb_sign): on a first start knotd makes the keys after
		 * the module is loaded. */
		ret = knotd_mod_dnssec_init(mod);
		if (ret == KNOT_EOK) {
			ret = tgc_sign_cache_init(&ctx->sign, SIGN_SLOTS, SIGN_REFRESH_S);
		}
		if (ret == KNOT_EOK && pthread_rwlock_init(&ctx->key_lock, NULL) != 0) {
			tgc_sign_cache_deinit(&ctx->sign);
			ret = KNOT_ENOMEM;
		}
		if (ret != KNOT_EOK) {
			knotd_mod_log(mod, LOG_ERR, "cannot open the zone's DNSSEC context (%s)",
			              knot_strerror(ret));
			tgc_checker_stop(ctx->checker);
			ctx_free(ctx);
			return ret;
		}
		ctx->sign_on = true;
	}

	knotd_mod_ctx_set(mod, ctx);

	ret = KNOT_EOK;
	TGC_FAULT_POINT(ret, "lb-hooks");
	if (ret == KNOT_EOK) {
		ret = knotd_mod_hook(mod, KNOTD_STAGE_BEGIN, tgcluster_begin);
	}
	if (ret == KNOT_EOK && ctx->tsig_later) {
		ret = knotd_mod_in_hook(mod, KNOTD_STAGE_PREANSWER, tgcluster_signed);
	}
	if (ret != KNOT_EOK) {
		/* knotd does not unload a module whose load failed. */
		knotd_mod_log(mod, LOG_ERR, "cannot register the query hooks (%s)",
		              knot_strerror(ret));
		tgcluster_stop(mod, ctx);
	}

	return ret;
}

void tgcluster_unload(knotd_mod_t *mod)
{
	tgc_ctx_t *ctx = knotd_mod_ctx(mod);
	knotd_mod_ctx_set(mod, NULL);
	if (ctx == NULL) {
		return;
	}

	/* knotd may already have freed the zone name: no logging from now. */
	tgcluster_stop(mod, ctx);
}

KNOTD_MOD_API(tgcluster, KNOTD_MOD_FLAG_SCOPE_ANY,
              tgcluster_load, tgcluster_unload, tgcluster_conf,
              tgcluster_conf_check);
