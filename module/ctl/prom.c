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

#include <inttypes.h>
#include <stdio.h>

#include "module/ctl/format.h"
#include "module/probe_agent.h"
#include "module/health.h"

void tgc_ctl_buf_prom_label(tgc_ctl_buf_t *buf, const char *str)
{
	const unsigned char *s = (const unsigned char *)((str != NULL) ? str : "");
	while (*s != '\0') {
		uint32_t cp;
		size_t len = tgc_ctl_utf8_len((const char *)s, &cp);
		if (len == 0) {
			tgc_ctl_buf_put(buf, "\xef\xbf\xbd", 3); /* U+FFFD */
			s++;
			continue;
		}
		switch (cp) {
		case '\\': tgc_ctl_buf_put(buf, "\\\\", 2); break;
		case '"':  tgc_ctl_buf_put(buf, "\\\"", 2); break;
		case '\n': tgc_ctl_buf_put(buf, "\\n", 2); break;
		default:   tgc_ctl_buf_put(buf, (const char *)s, len); break;
		}
		s += len;
	}
}

/*! \brief Kinds of metric families. */
typedef enum {
	PROM_GAUGE,
	PROM_COUNTER,
} prom_type_t;

/*!
 * \brief Metric families, in output order: the instance families
 *        (IM_*), then the node families (NM_*).
 */
typedef enum {
	IM_WRITER_ALIVE, IM_WRITER_PID, IM_HEARTBEAT_AGE, IM_NODES, IM_LIVE_NODES,
	IM_ALL_DOWN, IM_ALL_DOWN_ANSWERS,
	NM_HEALTH, NM_ADMIN, NM_RTT, NM_CHECK_TIME, NM_PROBES, NM_TRANSITIONS,
	NM_ANSWERS, NM_AGENT_SESSIONS, NM_AGENT_MAXCONN, NM_AGENT_STATE,
	NM_AGENT_ERRORS, NM_WEIGHT, NM_CAPACITY, NM_LOAD, METRICS
} metric_t;

/*! \brief First node family. */
#define NODE_FIRST	NM_HEALTH

/*! \brief A metric family: name, type and help text. */
typedef struct {
	const char *name;
	prom_type_t type;
	const char *help;
} prom_family_t;

/*! \brief Metric families. */
static const prom_family_t families[METRICS] = {
	[IM_WRITER_ALIVE] = { "tgcluster_writer_alive", PROM_GAUGE,
		"1 if the knotd owning the segment is running, 0 for a leftover segment." },
	[IM_WRITER_PID] = { "tgcluster_writer_pid", PROM_GAUGE,
		"PID of the knotd owning the segment." },
	[IM_HEARTBEAT_AGE] = { "tgcluster_heartbeat_age_seconds", PROM_GAUGE,
		"Time since the checker (or poller) last ticked." },
	[IM_NODES] = { "tgcluster_nodes", PROM_GAUGE,
		"Configured nodes (upstreams of a translator)." },
	[IM_LIVE_NODES] = { "tgcluster_live_nodes", PROM_GAUGE,
		"Nodes that may be answered: admin up, or not admin down, health down or agent down/maint." },
	[IM_ALL_DOWN] = { "tgcluster_all_down", PROM_GAUGE,
		"1 while no node is live (answers follow the all-down setting)." },
	[IM_ALL_DOWN_ANSWERS] = { "tgcluster_all_down_answers_total", PROM_COUNTER,
		"Answers given while no node was eligible (the all-down setting applied)." },
	[NM_HEALTH] = { "tgcluster_node_health", PROM_GAUGE,
		"Health state of the node as the checker sees it (1 for the current state)." },
	[NM_ADMIN] = { "tgcluster_node_admin_state", PROM_GAUGE,
		"Admin state of the node (1 for the current state)." },
	[NM_RTT] = { "tgcluster_node_last_rtt_seconds", PROM_GAUGE,
		"Duration of the last probe of the node." },
	[NM_CHECK_TIME] = { "tgcluster_node_last_check_timestamp_seconds", PROM_GAUGE,
		"Unix time of the last probe of the node." },
	[NM_PROBES] = { "tgcluster_node_probes_total", PROM_COUNTER,
		"Probes of the node." },
	[NM_TRANSITIONS] = { "tgcluster_node_transitions_total", PROM_COUNTER,
		"Health state changes of the node." },
	[NM_ANSWERS] = { "tgcluster_node_answers_total", PROM_COUNTER,
		"Answers that included the node." },
	[NM_AGENT_SESSIONS] = { "tgcluster_node_agent_sessions", PROM_GAUGE,
		"Sessions the node's agent reports (sessions:N)." },
	[NM_AGENT_MAXCONN] = { "tgcluster_node_agent_maxconn", PROM_GAUGE,
		"Capacity in sessions the node's agent reports (maxconn:N)." },
	[NM_AGENT_STATE] = { "tgcluster_node_agent_state", PROM_GAUGE,
		"State words in force from the node's agent (1 if set)." },
	[NM_AGENT_ERRORS] = { "tgcluster_node_agent_errors_total", PROM_COUNTER,
		"Polls of the node's agent that gave no usable line." },
	[NM_WEIGHT] = { "tgcluster_node_weight", PROM_GAUGE,
		"Static weight of the node (node-weight)." },
	[NM_CAPACITY] = { "tgcluster_node_capacity", PROM_GAUGE,
		"Effective capacity: weight x agent percentage / 100 x agent maxconn." },
	[NM_LOAD] = { "tgcluster_node_load_ratio", PROM_GAUGE,
		"Sessions the agent reports divided by the effective capacity." },
};

/*! \brief Appends the HELP and TYPE lines of a family. */
static void prom_family(tgc_ctl_buf_t *out, const prom_family_t *f)
{
	tgc_ctl_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help,
	                   f->name, (f->type == PROM_COUNTER) ? "counter" : "gauge");
}

/*! \brief Appends the instance labels (zone, cluster, segment), without
 *         the closing brace. */
static void prom_inst_labels(tgc_ctl_buf_t *out, const char *name,
                             const tgc_ctl_status_t *st)
{
	tgc_ctl_buf_printf(out, "%s{zone=\"", name);
	tgc_ctl_buf_prom_label(out, st->zone);
	tgc_ctl_buf_printf(out, "\",cluster=\"");
	tgc_ctl_buf_prom_label(out, st->name);
	tgc_ctl_buf_printf(out, "\",segment=\"");
	tgc_ctl_buf_prom_label(out, st->segment);
	tgc_ctl_buf_printf(out, "\"");
}

/*! \brief Appends the node labels (instance labels, address, port),
 *         without the closing brace. */
static void prom_node_labels(tgc_ctl_buf_t *out, const char *name,
                             const tgc_ctl_status_t *st, uint32_t idx)
{
	char addr[TGC_ADDR_STRLEN];
	const tgc_node_snap_t *node = &st->nodes[idx];
	prom_inst_labels(out, name, st);
	tgc_ctl_buf_printf(out, ",address=\"%s\",port=\"%u\"",
	                   tgc_addr_format(&node->addr, addr, sizeof(addr)),
	                   (unsigned)node->port);
}

/*! \brief Whether a node may be answered (admin up, or not admin down,
 *         not health down and not agent down or maint). */
static bool node_live(const tgc_node_snap_t *node)
{
	return node->admin == TGC_ADMIN_UP ||
	       (node->admin != TGC_ADMIN_DOWN && node->health != TGC_HEALTH_DOWN &&
	        (node->agent_state & (TGC_AGENT_DOWN | TGC_AGENT_MAINT)) == 0);
}

/*! \brief Appends one node sample of family \a m. */
static void prom_node_sample(tgc_ctl_buf_t *out, metric_t m,
                             const tgc_ctl_status_t *st, uint32_t idx)
{
	static const tgc_health_t healths[] = {
		TGC_HEALTH_UNKNOWN, TGC_HEALTH_UP, TGC_HEALTH_DOWN
	};
	static const tgc_admin_t admins[] = {
		TGC_ADMIN_AUTO, TGC_ADMIN_DRAIN, TGC_ADMIN_UP, TGC_ADMIN_DOWN
	};
	static const struct {
		const char *name;
		uint8_t bit;
	} agent_states[] = {
		{ "down", TGC_AGENT_DOWN }, { "drain", TGC_AGENT_DRAIN },
		{ "maint", TGC_AGENT_MAINT },
	};
	const tgc_node_snap_t *node = &st->nodes[idx];
	const char *name = families[m].name;

	switch (m) {
	case NM_HEALTH:
	case NM_ADMIN: {
		/* One sample per state, 1 for the current one. */
		bool health = (m == NM_HEALTH);
		size_t states = health ? sizeof(healths) / sizeof(healths[0]) :
		                         sizeof(admins) / sizeof(admins[0]);
		for (size_t i = 0; i < states; i++) {
			prom_node_labels(out, name, st, idx);
			tgc_ctl_buf_printf(out, ",state=\"%s\"} %d\n",
			                   health ? tgc_table_health_str(healths[i]) :
			                            tgc_table_admin_str(admins[i]),
			                   health ? node->health == healths[i] :
			                            node->admin == admins[i]);
		}
		return;
	}
	case NM_RTT:
	case NM_CHECK_TIME:
		if (node->last_check_ms == 0) {
			return; /* Never probed: no sample. */
		}
		prom_node_labels(out, name, st, idx);
		if (m == NM_RTT) {
			tgc_ctl_buf_printf(out, "} %u.%06u\n", node->last_rtt_us / 1000000,
			                   node->last_rtt_us % 1000000);
		} else {
			tgc_ctl_buf_printf(out, "} %" PRIu64 ".%03u\n",
			                   node->last_check_ms / 1000,
			                   (unsigned)(node->last_check_ms % 1000));
		}
		return;
	case NM_PROBES:
	case NM_TRANSITIONS:
	case NM_ANSWERS:
		prom_node_labels(out, name, st, idx);
		tgc_ctl_buf_printf(out, "} %" PRIu64 "\n",
		                   (m == NM_PROBES) ? node->probes :
		                   (m == NM_TRANSITIONS) ? node->transitions :
		                                           node->answers);
		return;
	case NM_AGENT_SESSIONS:
	case NM_AGENT_MAXCONN:
		if ((node->agent_flags & ((m == NM_AGENT_SESSIONS) ?
		     TGC_AGENT_F_SESSIONS : TGC_AGENT_F_MAXCONN)) == 0) {
			return; /* Not reported: no sample. */
		}
		prom_node_labels(out, name, st, idx);
		tgc_ctl_buf_printf(out, "} %u\n", (m == NM_AGENT_SESSIONS) ?
		                   node->agent_sessions : node->agent_maxconn);
		return;
	case NM_AGENT_STATE:
		if ((node->agent_flags & TGC_AGENT_F_POLLED) == 0) {
			return;
		}
		for (size_t i = 0; i < sizeof(agent_states) / sizeof(agent_states[0]); i++) {
			prom_node_labels(out, name, st, idx);
			tgc_ctl_buf_printf(out, ",state=\"%s\"} %d\n",
			                   agent_states[i].name,
			                   (node->agent_state & agent_states[i].bit) != 0);
		}
		return;
	case NM_AGENT_ERRORS:
		if ((node->agent_flags & TGC_AGENT_F_POLLED) == 0) {
			return;
		}
		prom_node_labels(out, name, st, idx);
		tgc_ctl_buf_printf(out, "} %u\n", node->agent_errors);
		return;
	case NM_WEIGHT:
	case NM_CAPACITY:
	case NM_LOAD: {
		double cap, load_pct;
		if (!tgc_ctl_node_load(node, &cap, &load_pct) ||
		    (m == NM_LOAD && load_pct < 0)) {
			return; /* Unknown: no sample. */
		}
		prom_node_labels(out, name, st, idx);
		if (m == NM_WEIGHT) {
			tgc_ctl_buf_printf(out, "} %u\n", node->weight);
		} else if (m == NM_CAPACITY) {
			tgc_ctl_buf_printf(out, "} %u.%02u\n", node->capacity_x100 / 100,
			                   node->capacity_x100 % 100);
		} else {
			tgc_ctl_buf_printf(out, "} %.6f\n", load_pct / 100.0);
		}
		return;
	}
	default:
		return;
	}
}

/*! \brief Appends one instance sample of family \a m. */
static void prom_inst_sample(tgc_ctl_buf_t *out, metric_t m,
                             const tgc_ctl_status_t *st)
{
	const char *name = families[m].name;
	uint32_t live = 0;
	for (uint32_t i = 0; i < st->node_count; i++) {
		live += node_live(&st->nodes[i]);
	}
	int64_t age = tgc_ctl_heartbeat_age(st);

	switch (m) {
	case IM_WRITER_ALIVE:
		prom_inst_labels(out, name, st);
		tgc_ctl_buf_printf(out, "} %d\n", st->writer_alive);
		return;
	case IM_WRITER_PID:
		if (st->writer_pid == 0) {
			return;
		}
		prom_inst_labels(out, name, st);
		tgc_ctl_buf_printf(out, "} %" PRIu64 "\n", st->writer_pid);
		return;
	case IM_HEARTBEAT_AGE:
		if (age < 0) {
			return;
		}
		prom_inst_labels(out, name, st);
		tgc_ctl_buf_printf(out, "} %" PRId64 ".%03u\n", age / 1000,
		                   (unsigned)(age % 1000));
		return;
	case IM_NODES:
	case IM_LIVE_NODES:
	case IM_ALL_DOWN:
		if (m != IM_NODES && !st->writer_alive) {
			return; /* Nobody checks a leftover's nodes. */
		}
		prom_inst_labels(out, name, st);
		tgc_ctl_buf_printf(out, "} %u\n", (m == IM_NODES) ? st->node_count :
		                   (m == IM_LIVE_NODES) ? live :
		                   (unsigned)(live == 0 && st->node_count > 0));
		return;
	case IM_ALL_DOWN_ANSWERS:
		if (st->role != TGC_ROLE_LB) {
			return;
		}
		prom_inst_labels(out, name, st);
		tgc_ctl_buf_printf(out, "} %" PRIu64 "\n", st->all_down_answers);
		return;
	default:
		return;
	}
}

void tgc_ctl_render_metrics(tgc_ctl_buf_t *out, const tgc_ctl_status_t *sts,
                            size_t count)
{
	for (metric_t m = 0; m < METRICS; m++) {
		prom_family(out, &families[m]);
		for (size_t i = 0; i < count; i++) {
			if (m < NODE_FIRST) {
				prom_inst_sample(out, m, &sts[i]);
				continue;
			}
			if (!sts[i].writer_alive) {
				continue;
			}
			for (uint32_t n = 0; n < sts[i].node_count; n++) {
				prom_node_sample(out, m, &sts[i], n);
			}
		}
	}
}
