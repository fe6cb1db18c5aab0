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
 * \brief tgclusterctl internals shared by its command files: the parsed
 *        command line, messages, and the way to a segment (scan, resolve
 *        the INSTANCE argument, attach with a trust check, snapshot).
 *
 * tgclusterctl.c parses the command line and dispatches; segment.c finds
 * and opens segments; cmd_show.c (list, status, watch), cmd_explain.c,
 * cmd_admin.c (set, drain, prune) and cmd_metrics.c run the commands.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "module/ctl/format.h"
#include "module/table.h"

/*! \brief Program name in messages. */
#define PROGRAM		"tgclusterctl"
/*! \brief Directory holding POSIX shared-memory segments. */
#define SHM_DIR		"/dev/shm"
/*! \brief Most candidates listed for an ambiguous argument. */
#define CANDS_MAX	32
/*! \brief Default of drain --timeout, s. */
#define DRAIN_TIMEOUT_S		60

/*! \brief Commands. */
typedef enum {
	CMD_NONE, CMD_LIST, CMD_STATUS, CMD_SET, CMD_WATCH, CMD_METRICS, CMD_PRUNE,
	CMD_DRAIN, CMD_EXPLAIN,
} cmd_t;

/*! \brief Parsed command line. */
typedef struct {
	cmd_t cmd;          /*!< Command. */
	bool json;          /*!< --json given. */
	bool force;         /*!< --force given. */
	bool wait;          /*!< --wait given (drain). */
	bool timeout_set;   /*!< --timeout given. */
	uint32_t timeout_s; /*!< --timeout (drain --wait). */
	int ecs;            /*!< --ecs prefix length, -1 = the full address. */
	const char *server; /*!< --server (explain). */
	bool interval_set;  /*!< --interval given. */
	bool count_set;     /*!< --count given. */
	uint32_t interval_ms; /*!< --interval. */
	uint64_t count;     /*!< --count (frames). */
	const char *output; /*!< --output FILE (metrics). */
	bool dry_run;       /*!< --dry-run (prune). */
	char **pos;         /*!< Positional arguments after the command. */
	int npos;           /*!< Their number. */
} args_t;

/*! \brief Segments found on the host. */
typedef struct {
	tgc_ctl_seg_t *segs; /*!< Sorted by name. */
	size_t count;        /*!< Number of segments. */
	size_t unreadable;   /*!< How many could not be read. */
} seg_list_t;

/*! \brief Text escaped for a terminal (tgc_ctl_safe_copy()), in a buffer
 *         large enough for any segment name or zone. */
#define SAFE(str, buf)	tgc_ctl_safe_copy((str), (buf), sizeof(buf))

/*! \brief Room for one escaped name (segment, zone, argument). */
typedef char safe_buf_t[TGC_CTL_SAFE_LEN(TGC_TABLE_NAME_MAX + 1)];

/*! \brief Room for the path of a segment file (SHM_DIR/name). */
typedef char seg_path_t[sizeof(SHM_DIR) + TGC_TABLE_NAME_MAX + 2];

/*! \brief An attached segment and a snapshot of it. */
typedef struct {
	char segment[TGC_TABLE_NAME_MAX + 1]; /*!< Segment name (no slash). */
	tgc_table_t table;                    /*!< Attached table. */
	tgc_ctl_status_t st;                  /*!< Snapshot taken on opening. */
} ctl_snap_t;

/*!
 * \brief Prints an error message on stderr.
 *
 * The message is escaped as a whole: segment names, zones and arguments in
 * it may come from other users (anyone may create files in SHM_DIR).
 */
void ctl_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*! \brief Writes a buffer to stdout; returns an exit code. */
int ctl_emit(const tgc_ctl_buf_t *buf);

/*! \brief Path of segment file \a segment in SHM_DIR, into \a path. */
const char *ctl_seg_path(const char *segment, seg_path_t path);

/*! \brief Lists the segments in SHM_DIR and reads their zones; returns an
 *         exit code. */
int ctl_segs_scan(seg_list_t *list);

/*!
 * \brief Resolves the INSTANCE argument (NULL: none given) to a segment
 *        name, explaining a failure on stderr.
 *
 * \return An exit code, or -1 on success.
 */
int ctl_resolve(const char *arg, char *out, size_t out_len);

/*! \brief Reads the version field of a segment file (0 if unreadable). */
uint32_t ctl_seg_version(const char *segment);

/*! \brief Short error text of an attach failure (KNOT_E*) for lists. */
const char *ctl_attach_error(int ret);

/*!
 * \brief Trust check: a segment whose writer is a live process is used only
 *        if that process's user owns the segment file (a look-alike planted
 *        by another user names the real knotd but cannot be owned by it).
 *
 * \return NULL if trusted, else the reason (in \a buf).
 */
const char *ctl_untrusted(const tgc_table_t *table, char *buf, size_t len);

/*!
 * \brief Attaches to a segment, with the trust check.
 *
 * \param[in]  segment   Segment name.
 * \param[in]  writable  Map it writable.
 * \param[out] table     Table.
 * \param[in]  quiet     Print no error (only into \a why).
 * \param[out] why       The error text (may be NULL).
 * \param[in]  why_len   Its room.
 *
 * \return An exit code, or -1 on success.
 */
int ctl_open_table(const char *segment, bool writable, tgc_table_t *table,
                   bool quiet, char *why, size_t why_len);

/*!
 * \brief Attaches to \a segment (ctl_open_table()) and takes a snapshot.
 *
 * \return An exit code, or -1 on success (close with ctl_snap_close()).
 */
int ctl_snap_open(ctl_snap_t *snap, const char *segment, bool writable,
                  bool quiet, char *why, size_t why_len);

/*!
 * \brief Resolves the INSTANCE argument \a inst (ctl_resolve()), attaches
 *        to the segment and takes a snapshot, explaining a failure on stderr.
 *
 * \return An exit code, or -1 on success (close with ctl_snap_close()).
 */
int ctl_snap_resolve(ctl_snap_t *snap, const char *inst, bool writable);

/*! \brief Frees the snapshot and detaches. */
void ctl_snap_close(ctl_snap_t *snap);

/*! \brief tgclusterctl list. */
int ctl_cmd_list(const args_t *args);

/*! \brief tgclusterctl status. */
int ctl_cmd_status(const args_t *args);

/*! \brief tgclusterctl watch. */
int ctl_cmd_watch(const args_t *args);

/*!
 * \brief tgclusterctl explain: asks knotd (\a --server) for the cluster
 *        name, A and AAAA, as the client would (ECS = the client's subnet),
 *        prints the answers, and per node whether it is in (position in the
 *        answer = policy order, mapped address) or why it is out (admin
 *        state and its source, health).
 */
int ctl_cmd_explain(const args_t *args);

/*! \brief tgclusterctl set. */
int ctl_cmd_set(const args_t *args);

/*!
 * \brief tgclusterctl drain: set NODE drain (as set does, guard included);
 *        with --wait, poll until knotd applies it and the node's answer
 *        count stays unchanged for a while.
 */
int ctl_cmd_drain(const args_t *args);

/*! \brief tgclusterctl prune. */
int ctl_cmd_prune(const args_t *args);

/*! \brief tgclusterctl metrics. */
int ctl_cmd_metrics(const args_t *args);
