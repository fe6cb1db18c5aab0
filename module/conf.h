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
 * \brief Parsing and validation of configuration values (no knotd needed).
 *
 * The knotd glue (tgcluster.c) declares the schema and reads a section once
 * into a tgc_conf_t with these helpers: the section check runs that read as
 * a dry run, load runs it for real, so that every rule lives in one place
 * and is unit-tested.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libknot/lookup.h>

#include "module/addr.h"
#include "module/natmap.h"

/*! \brief Default check port. */
#define TGC_CONF_CHECK_PORT	5900

/*!
 * \brief Most `node` values of one instance.
 *
 * knotd keeps all values of one item in at most 65535 bytes, each value
 * taking its length plus 3 bytes; a longer list fails in knotd's parser
 * ("not enough space provided") before the module sees it. The longest node
 * value ("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255@65535", 51
 * characters) takes 54 bytes, so 1213 nodes fit however they are written;
 * this maximum stays below that.
 */
#define TGC_CONF_NODES_MAX	1200

/*! \brief Text of a numeric macro (for messages). */
#define TGC_CONF_STR(x)		TGC_CONF_STR_(x)
#define TGC_CONF_STR_(x)	#x

/*! \brief A configured node. */
typedef struct {
	tgc_addr_t addr; /*!< Node address. */
	uint16_t port;   /*!< Explicit check port, 0 = use check-port. */
} tgc_node_conf_t;

/*!
 * \brief Parses a `node` value: "ADDRESS" or "ADDRESS@PORT".
 *
 * \param[in]  str  Value text.
 * \param[out] out  Parsed node.
 * \param[out] err  Static reason on failure.
 *
 * \retval KNOT_EOK     Success.
 * \retval KNOT_EINVAL  Malformed value.
 */
int tgc_conf_node_parse(const char *str, tgc_node_conf_t *out, const char **err);

/*!
 * \brief Parses all `node` values and checks them as a set.
 *
 * Rejects malformed values, more than TGC_CONF_NODES_MAX nodes and duplicates
 * (same address and effective port).
 *
 * \param[in]  values      Value texts.
 * \param[in]  count       Their number.
 * \param[in]  check_port  Port used by nodes without "@PORT".
 * \param[out] out         Parsed nodes (\a count entries), may be NULL.
 * \param[out] err         Static reason on failure.
 * \param[out] bad         Index of the offending value on failure.
 *
 * \retval KNOT_EOK     Success.
 * \retval KNOT_EINVAL  Malformed or duplicate value.
 * \retval KNOT_ERANGE  Too many nodes.
 */
int tgc_conf_nodes_parse(const char *const *values, size_t count,
                         uint16_t check_port, tgc_node_conf_t *out,
                         const char **err, size_t *bad);

/*! \brief A pair of timing items: an interval and the timeout of one try. */
typedef enum {
	TGC_CONF_TIMING_CHECK = 0,    /*!< check-interval, check-timeout. */
	TGC_CONF_TIMING_UPSTREAM = 1, /*!< upstream-interval, upstream-timeout. */
} tgc_conf_timing_t;

/*!
 * \brief Checks a pair of timing items together: the timeout must be below
 *        the interval.
 *
 * \retval KNOT_EOK     Valid.
 * \retval KNOT_EINVAL  Timeout not below the interval (\a err names both
 *                      items).
 */
int tgc_conf_timing_check(tgc_conf_timing_t pair, int64_t interval_ms,
                          int64_t timeout_ms, const char **err);

/*! \brief The NAT items of a section, parsed and applied to its nodes. */
typedef struct {
	bool has_base;               /*!< `nat-base` given. */
	tgc_addr_t base;             /*!< `nat-base`. */
	tgc_natmap_rule_t *rules;    /*!< `nat-map` rules. */
	size_t rule_count;           /*!< Their number. */
	tgc_addr_t *mapped;          /*!< Per node: the address answered in its
	                              *   place (NULL without nodes or without
	                              *   `nat-base` and `nat-map`). */
	bool *is_mapped;             /*!< Per node: whether a rule maps it. */
} tgc_conf_nat_t;

/*!
 * \brief The items of a `mod-tgcluster` section that need parsing, read once
 *        by the section check (a dry run) and by load.
 */
typedef struct {
	bool translator;             /*!< `upstream` given. */
	tgc_node_conf_t *nodes;      /*!< `node` values, then `backup` values. */
	size_t node_count;           /*!< Number of all of them. */
	size_t primary_count;        /*!< Number of `node` values. */
	uint16_t check_port;         /*!< `check-port`. */
	tgc_conf_nat_t nat;          /*!< NAT items. */
	/* Steering by sessions (load balancer; steer.h). */
	bool least_loaded;           /*!< `policy: least-loaded`. */
	uint16_t agent_port;         /*!< `agent-port` (0 = no agent). */
	uint32_t *weights;           /*!< Per node: `node-weight` (1 when no
	                              *   value names the node). */
	uint32_t grant_window_s;     /*!< `grant-window`. */
	uint32_t load_high;          /*!< `load-high`, percent (0 = off). */
	uint32_t load_low;           /*!< `load-low`, percent. */
	uint32_t slow_start_s;       /*!< `slow-start`. */
} tgc_conf_t;

/*! \brief Text of the NAT items of a section, as tgc_conf_nat_parse() takes
 *         it. */
typedef struct {
	const char *base;                /*!< `nat-base` (NULL: none). */
	const char *const *maps;         /*!< `nat-map` values. */
	size_t map_count;                /*!< Their number. */
	size_t client_count;             /*!< Number of `nat-client` values
	                                  *   (knotd parses them: YP_TNET). */
} tgc_conf_nat_text_t;

/*!
 * \brief Parses the NAT items and applies them to the nodes: the values,
 *        their combination, the rules as a set and the address each node is
 *        answered as (tgc_natmap_nodes()).
 *
 * \param[out] nat       Parsed items (tgc_conf_nat_deinit() frees them, also
 *                       after a failure).
 * \param[in]  text      Item values.
 * \param[in]  nodes     Nodes (none for a translator).
 * \param[out] msg       Reason on failure, naming the item and the value.
 *
 * \retval KNOT_EOK     Success.
 * \retval KNOT_EINVAL  Invalid value or combination.
 * \retval KNOT_ERANGE  `nat-base` + node index overflows.
 * \retval KNOT_ENOMEM  Out of memory.
 */
int tgc_conf_nat_parse(tgc_conf_nat_t *nat, const tgc_conf_nat_text_t *text,
                       const tgc_node_conf_t *nodes, size_t node_count,
                       char *msg, size_t msg_len);

/*! \brief Frees what tgc_conf_nat_parse() allocated. */
void tgc_conf_nat_deinit(tgc_conf_nat_t *nat);

/*! \brief Frees what a section read allocated in \a conf. */
void tgc_conf_deinit(tgc_conf_t *conf);

/*!
 * \brief Names of the check kinds (tgc_check_t): the values of `check` and
 *        what tgclusterctl shows.
 */
extern const knot_lookup_t tgc_conf_check_kinds[];

/*! \brief Name of a check kind ("invalid" for an unknown value). */
const char *tgc_conf_check_str(uint32_t check);
