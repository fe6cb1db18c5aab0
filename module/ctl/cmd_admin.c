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

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libknot/errcode.h>

#include "module/admin.h"
#include "module/ctl/cli.h"

/*! \brief How long set waits for knotd to take an admin change in, ms. */
#define SET_WAIT_MS	2000
/*! \brief drain --wait: answer count unchanged this long = no answers, ms
 *         (knotd folds its workers' counts into the segment every 200 ms). */
#define DRAIN_QUIET_MS		1000

/*! \brief Prints the candidates of an ambiguous node. */
static void print_node_cands(const tgc_ctl_status_t *st, const uint32_t *cands,
                             size_t n)
{
	for (size_t i = 0; i < n && i < CANDS_MAX; i++) {
		const tgc_node_snap_t *node = &st->nodes[cands[i]];
		char txt[TGC_ADDR_STRLEN + 8], mapped[TGC_ADDR_STRLEN];
		fprintf(stderr, "  %u  %s%s%s\n", cands[i],
		        tgc_ctl_fmt_node(&node->addr, node->port, txt, sizeof(txt)),
		        (node->mapped.family != 0) ? "  mapped " : "",
		        (node->mapped.family != 0) ?
		        tgc_addr_format(&node->mapped, mapped, sizeof(mapped)) : "");
	}
	if (n > CANDS_MAX) {
		fprintf(stderr, "  ... and %zu more\n", n - CANDS_MAX);
	}
}

/*!
 * \brief Finds the node \a arg names in a snapshot, explaining a failure on
 *        stderr.
 *
 * \return An exit code, or -1 with \a idx set.
 */
static int find_node(const ctl_snap_t *snap, const char *arg, uint32_t *idx)
{
	const tgc_ctl_status_t *st = &snap->st;
	uint32_t cands[CANDS_MAX];
	size_t ncands = 0;
	switch (tgc_ctl_node_find(st->nodes, st->node_count, arg, idx, cands,
	                          CANDS_MAX, &ncands)) {
	case TGC_CTL_MATCH_ONE:
		return -1;
	case TGC_CTL_MATCH_AMBIGUOUS:
		ctl_errorf("node '%s' is ambiguous in %s, use INDEX or ADDRESS@PORT; "
		           "candidates:", arg, snap->segment);
		print_node_cands(st, cands, ncands);
		return TGC_CTL_EXIT_NONODE;
	case TGC_CTL_MATCH_INVALID:
		ctl_errorf("invalid node '%s' (an index, ADDRESS or ADDRESS@PORT)", arg);
		return TGC_CTL_EXIT_USAGE;
	case TGC_CTL_MATCH_NONE:
	default:
		ctl_errorf("no such node: '%s' in %s (%u node%s, see '" PROGRAM
		           " status %s')", arg, snap->segment, st->node_count,
		           (st->node_count == 1) ? "" : "s", snap->segment);
		return TGC_CTL_EXIT_NONODE;
	}
}

/*!
 * \brief Counts the nodes that would stay answerable if node \a idx took
 *        the local admin state \a state (the min-live guard).
 *
 * \return An exit code, or -1 with \a live set.
 */
static int live_after(const tgc_ctl_status_t *st, uint32_t idx,
                      tgc_admin_t state, uint32_t *live)
{
	tgc_admin_in_t *in = calloc(st->node_count + 1, sizeof(*in));
	if (in == NULL) {
		ctl_errorf("out of memory");
		return TGC_CTL_EXIT_FAIL;
	}
	for (uint32_t i = 0; i < st->node_count; i++) {
		in[i].health = st->nodes[i].health;
		in[i].local = st->nodes[i].admin_local;
		in[i].zone = st->nodes[i].admin_zone;
	}
	*live = tgc_admin_live_after(in, st->node_count, idx, state, st->min_live);
	free(in);

	return -1;
}

/*!
 * \brief Sets the local admin state of node \a idx (\a state_arg as the
 *        user wrote it), unless the min-live guard refuses and \a force is
 *        false; says what happened and waits for knotd to take it in.
 *
 * \return An exit code.
 */
static int set_state(ctl_snap_t *snap, uint32_t idx, tgc_admin_t state,
                     const char *state_arg, bool force)
{
	const tgc_ctl_status_t *st = &snap->st;
	char txt[TGC_ADDR_STRLEN + 8];
	safe_buf_t seg;
	SAFE(snap->segment, seg);
	tgc_ctl_fmt_node(&st->nodes[idx].addr, st->nodes[idx].port, txt,
	                 sizeof(txt));
	tgc_admin_t old = st->nodes[idx].admin_local;
	uint32_t live = 0, min_live = st->min_live;
	bool refuse = false;
	if ((state == TGC_ADMIN_DRAIN || state == TGC_ADMIN_DOWN) &&
	    min_live > 0 && !force) {
		int ret = live_after(st, idx, state, &live);
		if (ret >= 0) {
			return ret;
		}
		refuse = live < min_live;
	}

	int ret;
	if (refuse) {
		ctl_errorf("refused: %s of node %u (%s) would leave %u answerable "
		           "node%s, below min-live %u (use --force to override)",
		           state_arg, idx, txt, live, (live == 1) ? "" : "s",
		           min_live);
		ret = TGC_CTL_EXIT_GUARD;
	} else if (old == state) {
		printf("%s: node %u (%s) admin already %s, unchanged\n", seg,
		       idx, txt, tgc_table_admin_str(old));
		ret = TGC_CTL_EXIT_OK;
	} else if (tgc_table_admin_set(&snap->table, idx, state) != KNOT_EOK) {
		ctl_errorf("cannot set the admin state of node %u", idx);
		ret = TGC_CTL_EXIT_FAIL;
	} else {
		printf("%s: node %u (%s) admin %s -> %s (local)\n", seg, idx,
		       txt, tgc_table_admin_str(old), tgc_table_admin_str(state));
		ret = TGC_CTL_EXIT_OK;
	}
	if (ret == TGC_CTL_EXIT_OK && tgc_ctl_heartbeat_stale(st)) {
		fprintf(stderr, PROGRAM ": warning: the checker heartbeat of %s "
		        "is stale (knotd not running?); the state is stored in "
		        "the segment and applies when knotd serves it\n", seg);
	} else if (ret == TGC_CTL_EXIT_OK &&
	           tgc_table_admin_wait(&snap->table, SET_WAIT_MS) != KNOT_EOK) {
		/* knotd copies admin states in every 200 ms. */
		fprintf(stderr, PROGRAM ": warning: knotd has not taken the "
		        "change in within %u ms; it is stored in the segment "
		        "and applies when knotd reads it\n", SET_WAIT_MS);
	}
	if (fflush(stdout) != 0) {
		ret = TGC_CTL_EXIT_FAIL;
	}

	return ret;
}

int ctl_cmd_set(const args_t *args)
{
	const char *inst = (args->npos == 3) ? args->pos[0] : NULL;
	const char *node_arg = args->pos[args->npos - 2];
	const char *state_arg = args->pos[args->npos - 1];

	int state = tgc_table_admin_parse(state_arg);
	if (state < 0) {
		ctl_errorf("invalid state '%s' (auto, drain, up or down)", state_arg);
		return TGC_CTL_EXIT_USAGE;
	}

	ctl_snap_t snap;
	int ret = ctl_snap_resolve(&snap, inst, true);
	if (ret >= 0) {
		return ret;
	}
	uint32_t idx = 0;
	ret = find_node(&snap, node_arg, &idx);
	if (ret < 0) {
		ret = set_state(&snap, idx, (tgc_admin_t)state, state_arg, args->force);
	}
	ctl_snap_close(&snap);

	return ret;
}

/*!
 * \brief Whether the node's agent answered its last poll with a sessions
 *        count (drain --wait waits for it to reach 0; an agent that does
 *        not answer or reports no sessions is not waited for).
 */
static bool drain_agent_reports(const tgc_node_snap_t *node)
{
	uint8_t want = TGC_AGENT_F_POLLED | TGC_AGENT_F_ANSWERED | TGC_AGENT_F_SESSIONS;
	return (node->agent_flags & want) == want;
}

/*! \brief Whether drain --wait still waits for the node's sessions. */
static bool drain_sessions(const tgc_node_snap_t *node)
{
	return drain_agent_reports(node) && node->agent_sessions > 0;
}

/*!
 * \brief drain --wait: polls node \a idx until knotd applies the drain and
 *        the node's answer count stays unchanged for DRAIN_QUIET_MS (and,
 *        when the node's agent reports sessions, they are 0), or
 *        \a timeout_s passes.
 *
 * \return An exit code.
 */
static int drain_wait(const tgc_table_t *table, uint32_t idx, uint32_t timeout_s)
{
	uint64_t start = tgc_table_now_ms();
	uint64_t deadline = start + (uint64_t)timeout_s * 1000;
	uint64_t last_answers = 0, quiet_since = 0;
	int ret = TGC_CTL_EXIT_TIMEOUT;
	for (;;) {
		tgc_node_snap_t node;
		tgc_table_node_read(table, idx, &node);
		uint64_t now = tgc_table_now_ms();
		if (node.admin != TGC_ADMIN_DRAIN && node.admin != TGC_ADMIN_DOWN) {
			quiet_since = 0; /* Not applied (yet), or undone. */
		} else if (quiet_since == 0 || node.answers != last_answers) {
			quiet_since = now;
			last_answers = node.answers;
		} else if (now - quiet_since >= DRAIN_QUIET_MS && !drain_sessions(&node)) {
			printf("node %u drained: no answers for %u ms%s (%.1f s after "
			       "the drain)\n", idx, DRAIN_QUIET_MS,
			       drain_agent_reports(&node) ?
			       ", its agent reports 0 sessions" : "",
			       (double)(now - start) / 1000.0);
			ret = TGC_CTL_EXIT_OK;
			break;
		}
		if (now >= deadline) {
			if (quiet_since != 0 && now - quiet_since >= DRAIN_QUIET_MS) {
				ctl_errorf("timed out after %u s: node %u gets no "
				           "answers but its agent reports %u sessions",
				           timeout_s, idx, node.agent_sessions);
				break;
			}
			ctl_errorf("timed out after %u s: node %u is %s%s", timeout_s, idx,
			           (node.admin == TGC_ADMIN_DRAIN) ? "drained but still "
			           "answered (no other live node?)" : "not drained: admin ",
			           (node.admin == TGC_ADMIN_DRAIN) ? "" :
			           tgc_table_admin_str(node.admin));
			break;
		}
		struct timespec pause = { .tv_nsec = 50 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
	if (fflush(stdout) != 0) {
		ret = TGC_CTL_EXIT_FAIL;
	}

	return ret;
}

int ctl_cmd_drain(const args_t *args)
{
	char *pos[3] = { NULL };
	args_t set = *args;
	int n = 0;
	for (int i = 0; i < args->npos; i++) {
		pos[n++] = args->pos[i];
	}
	pos[n++] = "drain";
	set.pos = pos;
	set.npos = n;
	int ret = ctl_cmd_set(&set);
	if (ret != TGC_CTL_EXIT_OK || !args->wait) {
		return ret;
	}

	ctl_snap_t snap;
	ret = ctl_snap_resolve(&snap, (args->npos == 2) ? args->pos[0] : NULL, false);
	if (ret >= 0) {
		return ret;
	}
	const char *node_arg = args->pos[args->npos - 1];
	uint32_t idx = 0;
	if (tgc_ctl_node_find(snap.st.nodes, snap.st.node_count, node_arg, &idx,
	                      NULL, 0, NULL) != TGC_CTL_MATCH_ONE) {
		ctl_errorf("node '%s' vanished from %s", node_arg, snap.segment);
		ret = TGC_CTL_EXIT_NONODE;
	} else {
		ret = drain_wait(&snap.table, idx, args->timeout_set ? args->timeout_s :
		                                   DRAIN_TIMEOUT_S);
	}
	ctl_snap_close(&snap);

	return ret;
}

/*! \brief A segment younger than this without an owner may be one knotd is
 *         creating right now (ms): prune leaves it. */
#define PRUNE_FRESH_MS	10000

/*! \brief Tells whether prune was asked for \a name (all without
 *         arguments; else by segment name, with or without the prefix). */
static bool prune_wanted(const args_t *args, const char *name)
{
	if (args->npos == 0) {
		return true;
	}
	const size_t plen = strlen(TGC_TABLE_PREFIX);
	for (int i = 0; i < args->npos; i++) {
		const char *arg = args->pos[i] + (args->pos[i][0] == '/');
		if (strcmp(arg, name) == 0 ||
		    (strncmp(name, TGC_TABLE_PREFIX, plen) == 0 &&
		     strcmp(arg, name + plen) == 0)) {
			return true;
		}
	}
	return false;
}

int ctl_cmd_prune(const args_t *args)
{
	seg_list_t list;
	int ret = ctl_segs_scan(&list);
	if (ret != TGC_CTL_EXIT_OK) {
		return ret;
	}

	size_t removed = 0, kept = 0, failed = 0;
	bool perm = false;
	for (size_t i = 0; i < list.count; i++) {
		const char *name = list.segs[i].segment;
		if (!prune_wanted(args, name)) {
			continue;
		}
		safe_buf_t seg;
		SAFE(name, seg);
		if (list.segs[i].kind != NULL) {
			printf("%s: left alone: %s, not a tgcluster segment\n", seg,
			       list.segs[i].kind);
			continue;
		}
		/* Checked right before the removal: a knotd that claims the
		 * segment in between is the only race, and it needs a knotd
		 * starting on a leftover at that very moment. */
		tgc_table_t table;
		int r = tgc_table_attach(&table, name, false, NULL);
		if (r != KNOT_EOK) {
			printf("%s: left alone: %s; its writer cannot be told\n", seg,
			       ctl_attach_error(r));
			failed++;
			perm = perm || r == KNOT_EACCES;
			continue;
		}
		uint64_t owner = atomic_load_explicit(&table.hdr->owner,
		                                      memory_order_acquire);
		uint64_t created = table.hdr->created_ms;
		char zone[TGC_CTL_SAFE_LEN(sizeof(table.hdr->zone))];
		SAFE(table.hdr->zone, zone);
		tgc_table_close(&table);
		uint64_t now = tgc_table_now_ms();
		if (tgc_table_owner_alive(owner)) {
			kept++;
			continue;
		}
		if (owner == 0 && created + PRUNE_FRESH_MS > now) {
			printf("%s: left alone: created %" PRIu64 " ms ago and not "
			       "owned yet\n", seg, now - created);
			failed++;
			continue;
		}
		char who[48];
		if (owner != 0) {
			snprintf(who, sizeof(who), "knotd pid %d gone",
			         (int)TGC_TABLE_OWNER_PID(owner));
		} else {
			snprintf(who, sizeof(who), "never owned");
		}
		if (args->dry_run) {
			printf("%s: would remove (zone %s, %s)\n", seg, zone, who);
			removed++;
			continue;
		}
		seg_path_t path;
		if (unlink(ctl_seg_path(name, path)) != 0) {
			int err = errno;
			printf("%s: not removed (zone %s, %s): %s\n", seg, zone, who,
			       strerror(err));
			failed++;
			perm = perm || err == EACCES || err == EPERM;
			continue;
		}
		printf("%s: removed (zone %s, %s)\n", seg, zone, who);
		removed++;
	}
	printf("%zu %s, %zu kept (live writer), %zu left alone or failed\n",
	       removed, args->dry_run ? "to remove" : "removed", kept, failed);
	free(list.segs);
	if (fflush(stdout) != 0) {
		return TGC_CTL_EXIT_FAIL;
	}

	return perm ? TGC_CTL_EXIT_PERM : TGC_CTL_EXIT_OK;
}
