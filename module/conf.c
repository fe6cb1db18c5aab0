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

#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libknot/errcode.h>

#include "module/conf.h"
#include "module/health.h"
#include "module/table.h"

_Static_assert(TGC_CONF_NODES_MAX <= TGC_TABLE_NODES_MAX,
               "every configurable node has a record in the table");

int tgc_conf_node_parse(const char *str, tgc_node_conf_t *out, const char **err)
{
	const char *dummy;
	err = (err != NULL) ? err : &dummy;
	if (str == NULL || out == NULL) {
		*err = "missing value";
		return KNOT_EINVAL;
	}
	memset(out, 0, sizeof(*out));

	char buf[TGC_ADDR_STRLEN];
	const char *at = strchr(str, '@');
	size_t addr_len = (at != NULL) ? (size_t)(at - str) : strlen(str);
	if (addr_len == 0 || addr_len >= sizeof(buf)) {
		*err = "expected ADDRESS or ADDRESS@PORT";
		return KNOT_EINVAL;
	}
	memcpy(buf, str, addr_len);
	buf[addr_len] = '\0';
	if (tgc_addr_parse(buf, &out->addr) != KNOT_EOK) {
		*err = "not an IPv4 or IPv6 address";
		return KNOT_EINVAL;
	}
	if (!tgc_addr_usable(&out->addr)) {
		*err = "unspecified, broadcast or multicast address";
		return KNOT_EINVAL;
	}

	if (at != NULL) {
		const char *p = at + 1;
		size_t len = strlen(p);
		if (len == 0 || len > 5 || p[0] == '0') {
			*err = "invalid port";
			return KNOT_EINVAL;
		}
		unsigned port = 0;
		for (; *p != '\0'; p++) {
			if (*p < '0' || *p > '9') {
				*err = "invalid port";
				return KNOT_EINVAL;
			}
			port = port * 10 + (unsigned)(*p - '0');
		}
		if (port == 0 || port > 65535) {
			*err = "port out of range 1-65535";
			return KNOT_EINVAL;
		}
		out->port = (uint16_t)port;
	}

	return KNOT_EOK;
}

int tgc_conf_nodes_parse(const char *const *values, size_t count,
                         uint16_t check_port, tgc_node_conf_t *out,
                         const char **err, size_t *bad)
{
	const char *dummy_err;
	size_t dummy_bad;
	err = (err != NULL) ? err : &dummy_err;
	bad = (bad != NULL) ? bad : &dummy_bad;

	if (count > TGC_CONF_NODES_MAX) {
		*err = "too many nodes (max " TGC_CONF_STR(TGC_CONF_NODES_MAX) ")";
		*bad = TGC_CONF_NODES_MAX;
		return KNOT_ERANGE;
	}

	tgc_node_conf_t *nodes = out;
	if (nodes == NULL && count > 0) {
		nodes = calloc(count, sizeof(*nodes));
		if (nodes == NULL) {
			*err = "out of memory";
			return KNOT_ENOMEM;
		}
	}

	int ret = KNOT_EOK;
	for (size_t i = 0; i < count && ret == KNOT_EOK; i++) {
		ret = tgc_conf_node_parse(values[i], &nodes[i], err);
		if (ret != KNOT_EOK) {
			*bad = i;
			break;
		}
		uint16_t port_i = nodes[i].port ? nodes[i].port : check_port;
		/* Quadratic, but only at configuration time. */
		for (size_t j = 0; j < i; j++) {
			uint16_t port_j = nodes[j].port ? nodes[j].port : check_port;
			if (port_i == port_j &&
			    tgc_addr_equal(&nodes[i].addr, &nodes[j].addr)) {
				*err = "duplicate node";
				*bad = i;
				ret = KNOT_EINVAL;
				break;
			}
		}
	}

	if (nodes != out) {
		free(nodes);
	}

	return ret;
}

int tgc_conf_timing_check(tgc_conf_timing_t pair, int64_t interval_ms,
                          int64_t timeout_ms, const char **err)
{
	static const char *const msgs[] = {
		[TGC_CONF_TIMING_CHECK] =
			"'check-timeout' must be lower than 'check-interval'",
		[TGC_CONF_TIMING_UPSTREAM] =
			"'upstream-timeout' must be below 'upstream-interval'",
	};
	if (timeout_ms >= interval_ms) {
		if (err != NULL) {
			*err = msgs[pair];
		}
		return KNOT_EINVAL;
	}

	return KNOT_EOK;
}

/*! \brief Formats a failure of a NAT item into \a msg; returns \a ret. */
static int nat_fail(int ret, char *msg, size_t msg_len, const char *item,
                    const char *value, const char *why)
{
	if (item != NULL && value != NULL) {
		snprintf(msg, msg_len, "'%s' %s: %s", item, value, why);
	} else if (item != NULL) {
		snprintf(msg, msg_len, "'%s': %s", item, why);
	} else {
		snprintf(msg, msg_len, "%s", why);
	}
	return ret;
}

/*! \brief Applies the parsed base or rules to the nodes (tgc_natmap_nodes())
 *         and explains a node that fails. */
static int nat_apply(tgc_conf_nat_t *nat, const tgc_conf_nat_text_t *text,
                     const tgc_node_conf_t *nodes, size_t node_count,
                     char *msg, size_t msg_len)
{
	tgc_addr_t *addrs = calloc(node_count + 1, sizeof(*addrs));
	nat->mapped = calloc(node_count + 1, sizeof(*nat->mapped));
	nat->is_mapped = calloc(node_count + 1, sizeof(*nat->is_mapped));
	if (addrs == NULL || nat->mapped == NULL || nat->is_mapped == NULL) {
		free(addrs);
		return nat_fail(KNOT_ENOMEM, msg, msg_len, NULL, NULL, "out of memory");
	}
	for (size_t i = 0; i < node_count; i++) {
		addrs[i] = nodes[i].addr;
	}

	const char *item = nat->has_base ? "nat-base" : "nat-map";
	const char *value = text->base;
	const char *why = "cannot be applied to the nodes";
	size_t bad = SIZE_MAX;
	int ret = tgc_natmap_nodes(nat->has_base ? &nat->base : NULL, nat->rules,
	                           nat->rule_count, addrs, node_count, nat->mapped,
	                           nat->is_mapped, &bad, &why);
	if (ret == KNOT_EADDRNOTAVAIL && bad < node_count) {
		/* The value of the rule that produced it, for nat-map. */
		const tgc_natmap_rule_t *rule = tgc_natmap_match(nat->rules,
		                                                 nat->rule_count,
		                                                 &addrs[bad]);
		if (rule != NULL) {
			value = text->maps[rule - nat->rules];
		}
		char node_txt[TGC_ADDR_STRLEN], out_txt[TGC_ADDR_STRLEN];
		snprintf(msg, msg_len,
		         "'%s' %s: node %zu (%s) would be answered as %s, an %s",
		         item, value, bad,
		         tgc_addr_format(&addrs[bad], node_txt, sizeof(node_txt)),
		         tgc_addr_format(&nat->mapped[bad], out_txt, sizeof(out_txt)),
		         why);
		ret = KNOT_EINVAL;
	} else if (ret != KNOT_EOK) {
		nat_fail(ret, msg, msg_len, item, value, why);
	}
	free(addrs);

	return ret;
}

int tgc_conf_nat_parse(tgc_conf_nat_t *nat, const tgc_conf_nat_text_t *text,
                       const tgc_node_conf_t *nodes, size_t node_count,
                       char *msg, size_t msg_len)
{
	memset(nat, 0, sizeof(*nat));
	const char *why = NULL;

	if (text->base != NULL) {
		if (tgc_addr_parse(text->base, &nat->base) != KNOT_EOK) {
			return nat_fail(KNOT_EINVAL, msg, msg_len, "nat-base",
			                text->base, "not an IPv4 or IPv6 address");
		}
		nat->has_base = true;
	}
	nat->rules = calloc(text->map_count + 1, sizeof(*nat->rules));
	if (nat->rules == NULL) {
		return nat_fail(KNOT_ENOMEM, msg, msg_len, NULL, NULL, "out of memory");
	}
	for (size_t i = 0; i < text->map_count; i++) {
		int ret = tgc_natmap_rule_parse(text->maps[i], &nat->rules[i], &why);
		if (ret != KNOT_EOK) {
			return nat_fail(ret, msg, msg_len, "nat-map", text->maps[i], why);
		}
	}
	nat->rule_count = text->map_count;

	if (nat->has_base && nat->rule_count > 0) {
		return nat_fail(KNOT_EINVAL, msg, msg_len, NULL, NULL,
		                "'nat-base' and 'nat-map' cannot be used together");
	}
	if (text->client_count > 0 && !nat->has_base && nat->rule_count == 0) {
		return nat_fail(KNOT_EINVAL, msg, msg_len, NULL, NULL,
		                "'nat-client' needs 'nat-base' or 'nat-map'");
	}
	if (nat->rule_count > 0) {
		size_t clash = 0;
		int ret = tgc_natmap_rules_check(nat->rules, nat->rule_count, &why,
		                                 &clash);
		if (ret != KNOT_EOK) {
			return nat_fail(ret, msg, msg_len, "nat-map",
			                text->maps[clash], why);
		}
	}
	if (node_count == 0 || (!nat->has_base && nat->rule_count == 0)) {
		return KNOT_EOK;
	}

	return nat_apply(nat, text, nodes, node_count, msg, msg_len);
}

void tgc_conf_nat_deinit(tgc_conf_nat_t *nat)
{
	free(nat->rules);
	free(nat->mapped);
	free(nat->is_mapped);
	memset(nat, 0, sizeof(*nat));
}

void tgc_conf_deinit(tgc_conf_t *conf)
{
	free(conf->nodes);
	free(conf->weights);
	tgc_conf_nat_deinit(&conf->nat);
	memset(conf, 0, sizeof(*conf));
}

const knot_lookup_t tgc_conf_check_kinds[] = {
	{ TGC_CHECK_TCP,   "tcp" },
	{ TGC_CHECK_RFB,   "rfb" },
	{ TGC_CHECK_NONE,  "none" },
	{ TGC_CHECK_HTTP,  "http" },
	{ TGC_CHECK_HTTPS, "https" },
	{ TGC_CHECK_TLS,   "tls" },
	{ 0, NULL }
};

const char *tgc_conf_check_str(uint32_t check)
{
	const knot_lookup_t *kind = (check <= INT32_MAX) ?
	                            knot_lookup_by_id(tgc_conf_check_kinds, (int)check) :
	                            NULL;
	return (kind != NULL) ? kind->name : "invalid";
}
