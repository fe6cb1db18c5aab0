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
 *        unload, and the query hooks that hand a query to its role (lb.c,
 *        translator.c). Everything else lives in the core library (addr,
 *        conf, table, health, policy, answer, forward, ...).
 */

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <knot/module.h>

#include "module/conf.h"
#include "module/ctx.h"
#include "module/fault.h"
#include "module/probe_http.h"
#include "module/steer.h"

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


/*! \brief Values of `forward-udp`. */
static const knot_lookup_t forward_udp_modes[] = {
	{ TGC_FORWARD_UDP_TRUNCATE, "truncate" },
	{ TGC_FORWARD_UDP_FORWARD,  "forward" },
	{ 0, NULL }
};

/*! \brief Item check of `node-weight` (the value alone; the nodes it names
 *         are checked by conf_read_steer()). */
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
	{ MOD_NODE,           YP_TSTR,   YP_VNONE, YP_FMULTI },
	{ MOD_CHECK,          YP_TOPT,   YP_VOPT = { tgc_conf_check_kinds, TGC_CHECK_TCP } },
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
	{ MOD_NAT_BASE,       YP_TSTR,   YP_VNONE },
	{ MOD_NAT_MAP,        YP_TSTR,   YP_VNONE, YP_FMULTI },
	{ MOD_NAT_CLIENT,     YP_TNET,   YP_VNONE, YP_FMULTI },
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
	{ MOD_FORWARD_ECS,    YP_TBOOL,  YP_VBOOL = { false } },
	{ MOD_FORWARD_ECS_PREFIX4, YP_TINT, YP_VINT = { 0, 32, 24 } },
	{ MOD_FORWARD_ECS_PREFIX6, YP_TINT, YP_VINT = { 0, 128, 56 } },
	/* http, https, tls checks and the backup tier. */
	{ MOD_CHECK_PATH,     YP_TSTR,   YP_VSTR = { "/" }, YP_FNONE, { check_path } },
	{ MOD_CHECK_HOST,     YP_TSTR,   YP_VNONE, YP_FNONE, { check_host } },
	{ MOD_CHECK_STATUS,   YP_TINT,   YP_VINT = { 100, 599, 200 }, YP_FMULTI },
	{ MOD_CHECK_TLS_VERIFY, YP_TBOOL, YP_VBOOL = { true } },
	{ MOD_CHECK_TLS_CA,   YP_TSTR,   YP_VNONE },
	{ MOD_BACKUP,         YP_TSTR,   YP_VNONE, YP_FMULTI },
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

/*!
 * \brief Where conf_read() reads a section: the one knotd checks (a dry run
 *        for conf-check) or the one of the module being loaded.
 */
typedef struct {
	knotd_conf_check_args_t *args; /*!< Set for the dry run. */
	knotd_mod_t *mod;              /*!< Set for load. */
} conf_src_t;

/*! \brief An item of the section being read. */
static knotd_conf_t conf_get(const conf_src_t *src, const yp_name_t *item)
{
	return (src->args != NULL) ? knotd_conf_check_item(src->args, item) :
	                             knotd_conf_mod(src->mod, item);
}

/*! \brief Reports why the section is invalid: the check's error string, or
 *         an error logged by load. Returns \a ret. */
__attribute__((format(printf, 3, 4)))
static int conf_fail(const conf_src_t *src, int ret, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (src->args != NULL) {
		(void)vsnprintf(check_msg, sizeof(check_msg), fmt, ap);
		src->args->err_str = check_msg;
	} else {
		knotd_mod_vlog(src->mod, LOG_ERR, fmt, ap);
	}
	va_end(ap);

	return ret;
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
 * \brief The first of \a items that the section sets explicitly, NULL if
 *        none. Only the dry run (conf-check) tells an explicit value from
 *        the default: at load this is always NULL.
 */
static const char *conf_explicit(const conf_src_t *src, const char *const *items,
                                 size_t count)
{
	for (size_t i = 0; src->args != NULL && i < count; i++) {
		if (conf_get(src, items[i]).count > 0) {
			return items[i];
		}
	}

	return NULL;
}

/*! \brief Values of a multi-valued string item as an array (NULL on
 *         allocation failure). */
static const char **conf_strings(const knotd_conf_t *item)
{
	const char **out = calloc(item->count + 1, sizeof(*out));
	for (size_t i = 0; out != NULL && i < item->count; i++) {
		out[i] = item->multi[i].string;
	}

	return out;
}

/*!
 * \brief Reads and checks the steering items of a load balancer whose nodes
 *        are read: `node-weight` values name nodes; `load-low` needs
 *        `load-high` and is not above it; watermarks need `agent-port`;
 *        `slow-start` needs `policy: least-loaded`.
 */
static int conf_read_steer(const conf_src_t *src, tgc_conf_t *conf)
{
	conf->least_loaded = (conf_get(src, MOD_POLICY).single.option ==
	                      TGC_POLICY_LEAST_LOADED);
	conf->agent_port = conf_get(src, MOD_AGENT_PORT).single.integer;
	conf->grant_window_s = conf_get(src, MOD_GRANT_WINDOW).single.integer;
	conf->load_high = conf_get(src, MOD_LOAD_HIGH).single.integer;
	conf->load_low = conf_get(src, MOD_LOAD_LOW).single.integer;
	conf->slow_start_s = conf_get(src, MOD_SLOW_START).single.integer;
	if (conf->load_low > 0 && conf->load_high == 0) {
		return conf_fail(src, KNOT_EINVAL, "'load-low' needs 'load-high'");
	}
	if (conf->load_low > conf->load_high) {
		return conf_fail(src, KNOT_EINVAL, "'load-low' above 'load-high'");
	}
	if (conf->load_high > 0 && conf->agent_port == 0) {
		return conf_fail(src, KNOT_EINVAL, "'load-high' needs 'agent-port' "
		                 "(the agents report sessions and maxconn)");
	}
	if (conf->slow_start_s > 0 && !conf->least_loaded) {
		return conf_fail(src, KNOT_EINVAL, "'slow-start' needs 'policy: "
		                 "least-loaded'");
	}

	size_t total = conf->node_count;
	knotd_conf_t wconf = conf_get(src, MOD_NODE_WEIGHT);
	const char **values = conf_strings(&wconf);
	tgc_addr_t *addrs = calloc(total + 1, sizeof(*addrs));
	uint16_t *ports = calloc(total + 1, sizeof(*ports));
	conf->weights = calloc(total + 1, sizeof(*conf->weights));
	int ret = KNOT_ENOMEM;
	if (values != NULL && addrs != NULL && ports != NULL && conf->weights != NULL) {
		for (size_t i = 0; i < total; i++) {
			conf->weights[i] = 1;
			addrs[i] = conf->nodes[i].addr;
			ports[i] = conf->nodes[i].port ? conf->nodes[i].port :
			                                 conf->check_port;
		}
		size_t bad = 0;
		const char *why = NULL;
		ret = tgc_steer_weights(values, wconf.count, addrs, ports, total,
		                        conf->weights, &bad, &why);
		if (ret != KNOT_EOK) {
			ret = conf_fail(src, ret, "'node-weight' %s: %s",
			                values[bad], why);
		}
	}
	free(values);
	free(addrs);
	free(ports);
	knotd_conf_free(&wconf);

	return ret;
}

/*! \brief Reads and checks the load-balancer items: nodes and backups,
 *         backup-when, min-live, the check timing and the steering items. */
static int conf_read_lb(const conf_src_t *src, tgc_conf_t *conf,
                        const knotd_conf_t *nodes, const knotd_conf_t *backups)
{
	if (nodes->count == 0) {
		return conf_fail(src, KNOT_EINVAL, "%s", (backups->count > 0) ?
		                 "'backup' needs 'node'" :
		                 "no 'node' or 'upstream' specified");
	}
	knotd_conf_t when = conf_get(src, MOD_BACKUP_WHEN);
	if (src->args != NULL && when.count > 0 && backups->count == 0) {
		/* Only the dry run tells an explicit value from the default. */
		return conf_fail(src, KNOT_EINVAL, "'backup-when' needs 'backup'");
	}
	if (when.single.integer > (int64_t)nodes->count) {
		return conf_fail(src, KNOT_EINVAL, "'backup-when' %" PRId64
		                 " exceeds the %zu nodes (backups would always "
		                 "answer)", when.single.integer, nodes->count);
	}
	static const char *const tr_only[] = {
		MOD_FORWARD_ECS, MOD_FORWARD_ECS_PREFIX4, MOD_FORWARD_ECS_PREFIX6,
	};
	const char *given = conf_explicit(src, tr_only, sizeof(tr_only) / sizeof(tr_only[0]));
	if (given != NULL) {
		return conf_fail(src, KNOT_EINVAL, "'%s' needs 'upstream'", given + 1);
	}
	knotd_conf_t min_live = conf_get(src, MOD_MIN_LIVE);
	if ((size_t)min_live.single.integer > nodes->count) {
		return conf_fail(src, KNOT_EINVAL, "'min-live' %" PRId64
		                 " exceeds the number of nodes (%zu)",
		                 min_live.single.integer, nodes->count);
	}

	size_t total = nodes->count + backups->count;
	conf->check_port = conf_get(src, MOD_CHECK_PORT).single.integer;
	conf->primary_count = nodes->count;
	conf->nodes = calloc(total + 1, sizeof(*conf->nodes));
	const char **values = node_strings(nodes, backups);
	if (values == NULL || conf->nodes == NULL) {
		free(values);
		return KNOT_ENOMEM;
	}
	size_t bad = 0;
	const char *why = NULL;
	int ret = tgc_conf_nodes_parse(values, total, conf->check_port,
	                               conf->nodes, &why, &bad);
	if (ret != KNOT_EOK) {
		ret = conf_fail(src, ret, "'%s' %s: %s",
		                (bad < nodes->count || bad >= total) ? "node" : "backup",
		                (bad < total) ? values[bad] : "", why);
	}
	free(values);
	if (ret != KNOT_EOK) {
		return ret;
	}
	conf->node_count = total;

	ret = tgc_conf_timing_check(TGC_CONF_TIMING_CHECK,
	                            conf_get(src, MOD_CHECK_INTERVAL).single.integer,
	                            conf_get(src, MOD_CHECK_TIMEOUT).single.integer,
	                            &why);
	if (ret != KNOT_EOK) {
		return conf_fail(src, ret, "%s", why);
	}

	return conf_read_steer(src, conf);
}

/*! \brief Reads and checks the translator items (the upstream timing). */
static int conf_read_translator(const conf_src_t *src)
{
	knotd_conf_t base = conf_get(src, MOD_NAT_BASE);
	if (base.count > 0) {
		return conf_fail(src, KNOT_EINVAL, "'nat-base' cannot be used "
		                 "with 'upstream' (use 'nat-map')");
	}
	static const char *const prefixes[] = {
		MOD_FORWARD_ECS_PREFIX4, MOD_FORWARD_ECS_PREFIX6,
	};
	const char *given = conf_get(src, MOD_FORWARD_ECS).single.boolean ? NULL :
	                    conf_explicit(src, prefixes, sizeof(prefixes) / sizeof(prefixes[0]));
	if (given != NULL) {
		return conf_fail(src, KNOT_EINVAL, "'%s' needs 'forward-ecs: on'",
		                 given + 1);
	}
	/* The load balancers steer by load; a translator follows their load
	 * report (loadopt.h) and has no nodes to weigh or hold back. */
	static const char *const lb_only[] = {
		MOD_NODE_WEIGHT, MOD_LOAD_HIGH, MOD_LOAD_LOW, MOD_SLOW_START,
	};
	given = conf_explicit(src, lb_only, sizeof(lb_only) / sizeof(lb_only[0]));
	if (given != NULL) {
		return conf_fail(src, KNOT_EINVAL, "'%s' applies to load balancers "
		                 "(a translator follows their load report)", given + 1);
	}
	const char *why = NULL;
	int ret = tgc_conf_timing_check(TGC_CONF_TIMING_UPSTREAM,
	                                conf_get(src, MOD_UPSTREAM_INTERVAL).single.integer,
	                                conf_get(src, MOD_UPSTREAM_TIMEOUT).single.integer,
	                                &why);
	return (ret == KNOT_EOK) ? ret : conf_fail(src, ret, "%s", why);
}

/*!
 * \brief Reads a section into \a conf and checks the rules that span items:
 *        the one parser of the section, run by the section check as a dry
 *        run and by load. On failure \a conf is empty.
 */
static int conf_read(const conf_src_t *src, tgc_conf_t *conf)
{
	memset(conf, 0, sizeof(*conf));
	knotd_conf_t nodes = conf_get(src, MOD_NODE);
	knotd_conf_t backups = conf_get(src, MOD_BACKUP);
	knotd_conf_t ups = conf_get(src, MOD_UPSTREAM);
	knotd_conf_t base = conf_get(src, MOD_NAT_BASE);
	knotd_conf_t maps = conf_get(src, MOD_NAT_MAP);
	knotd_conf_t clients = conf_get(src, MOD_NAT_CLIENT);
	tgc_conf_nat_text_t nat = {
		.base = (base.count > 0) ? base.single.string : NULL,
		.maps = conf_strings(&maps),
		.map_count = maps.count,
		.client_count = clients.count,
	};
	conf->translator = (ups.count > 0);

	int ret = KNOT_EOK;
	if (nat.maps == NULL) {
		ret = KNOT_ENOMEM;
	} else if ((nodes.count > 0 || backups.count > 0) && conf->translator) {
		ret = conf_fail(src, KNOT_EINVAL, "'%s' and 'upstream' cannot be "
		                "used together", (nodes.count > 0) ? "node" : "backup");
	} else if (conf->translator) {
		ret = conf_read_translator(src);
	} else {
		ret = conf_read_lb(src, conf, &nodes, &backups);
	}
	if (ret == KNOT_EOK) {
		char msg[sizeof(check_msg)];
		ret = tgc_conf_nat_parse(&conf->nat, &nat, conf->nodes,
		                         conf->node_count, msg, sizeof(msg));
		if (ret != KNOT_EOK) {
			ret = conf_fail(src, ret, "%s", msg);
		}
	}

	free((void *)nat.maps);
	knotd_conf_free(&nodes);
	knotd_conf_free(&backups);
	knotd_conf_free(&ups);
	knotd_conf_free(&maps);
	knotd_conf_free(&clients);
	if (ret != KNOT_EOK) {
		tgc_conf_deinit(conf);
	}

	return ret;
}

/*! \brief Section check: the section read as load reads it (a dry run),
 *         then what only a check does. */
static int tgcluster_conf_check(knotd_conf_check_args_t *args)
{
	const conf_src_t src = { .args = args };
	tgc_conf_t conf;
	int ret = conf_read(&src, &conf);
	bool translator = conf.translator;
	tgc_conf_deinit(&conf);
	if (ret != KNOT_EOK) {
		return ret;
	}
	if (translator) {
		/* The check-* items do not apply to a translator. */
		return check_upstream_addrs(args);
	}

	return check_probe_items(args);
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
		return tgc_tr_begin(state, pkt, qdata, ctx, mod);
	}

	return tgc_lb_answer(state, pkt, qdata, mod);
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
	                    tgc_tr_begin(KNOTD_STATE_NOOP, pkt, qdata, ctx, mod) :
	                    tgc_lb_answer(KNOTD_STATE_NOOP, pkt, qdata, mod);
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

	tgc_checker_stop(ctx->lb.checker);
	tgc_poller_stop(ctx->tr.poller);
	tgc_ctx_free(ctx);
}

/*!
 * \brief Reads the items both roles use: the cluster name, TTL, zone binding
 *        and the number of workers.
 */
static int ctx_setup(tgc_ctx_t *ctx, knotd_mod_t *mod)
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
		tgc_ctx_dname_text(name, txt, sizeof(txt));
		knotd_mod_log(mod, LOG_ERR, "'name' %s is outside the zone", txt);
		return KNOT_EOUTOFZONE;
	}
	ctx->name = knot_dname_copy(name, NULL);
	if (ctx->name == NULL) {
		return KNOT_ENOMEM;
	}
	knot_dname_to_lower(ctx->name);
	ctx->name_size = knot_dname_size(ctx->name);
	ctx->ttl = knotd_conf_mod(mod, MOD_TTL).single.integer;
	ctx->zone_bound = (zone != NULL);
	ctx->tsig_later = (zone != NULL);

	ctx->threads = knotd_mod_threads(mod);
	if (ctx->threads == 0) {
		ctx->threads = 1;
	}

	return KNOT_EOK;
}

int tgcluster_load(knotd_mod_t *mod)
{
	tgc_ctx_t *ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		return KNOT_ENOMEM;
	}
	pthread_mutex_init(&ctx->log_lock, NULL);
	ctx->mod = mod;

	uint64_t seed = 0;
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) {
		seed = (uint64_t)getpid() ^ tgc_table_now_ms();
	}

	const conf_src_t src = { .mod = mod };
	tgc_conf_t conf = { 0 };
	int ret = ctx_setup(ctx, mod);
	if (ret == KNOT_EOK) {
		ret = conf_read(&src, &conf);
	}
	if (ret != KNOT_EOK) {
		goto fail;
	}
	ctx->role = conf.translator ? TGC_ROLE_TRANSLATOR : TGC_ROLE_LB;
	knotd_conf_t ups = knotd_conf_mod(mod, MOD_UPSTREAM);
	ret = conf.translator ? tgc_tr_load(ctx, mod, &ups, &conf, seed) :
	                        tgc_lb_load(ctx, mod, &conf, seed);
	knotd_conf_free(&ups);
	tgc_conf_deinit(&conf);
	if (ret != KNOT_EOK) {
		goto fail;
	}

	knotd_mod_ctx_set(mod, ctx);

	TGC_FAULT_POINT(ret, (ctx->role == TGC_ROLE_TRANSLATOR) ?
	                     "translator-hooks" : "lb-hooks");
	if (ret == KNOT_EOK) {
		ret = knotd_mod_hook(mod, KNOTD_STAGE_BEGIN, tgcluster_begin);
	}
	if (ret == KNOT_EOK && ctx->tsig_later) {
		ret = knotd_mod_in_hook(mod, KNOTD_STAGE_PREANSWER, tgcluster_signed);
	}
	if (ret == KNOT_EOK && ctx->role == TGC_ROLE_LB && ctx->lb.sign_on && ctx->lb.below_apex) {
		ret = knotd_mod_in_hook(mod, KNOTD_STAGE_ANSWER, tgc_lb_zone_nodata);
	}
	if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "cannot register the query hooks (%s)",
		              knot_strerror(ret));
		goto fail;
	}

	return KNOT_EOK;
fail:
	/* knotd does not unload a module whose load failed. */
	tgc_conf_deinit(&conf);
	tgcluster_stop(mod, ctx);
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
