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
 * \brief tgclusterctl helpers: text buffers, durations, JSON, aligned tables,
 *        node and instance matching, status snapshots and their rendering.
 *
 * Everything here is free of terminal and process handling so that the unit
 * tests can exercise it; the command-line glue is tgclusterctl.c and the
 * cmd_*.c files. Implemented by format.c (buffers, text, tables, snapshots,
 * text rendering), match.c (node and instance lookups), json.c (JSON
 * documents, written by jansson) and prom.c (Prometheus text format).
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "module/table.h"

/*! \brief Version of the JSON documents printed by tgclusterctl. */
#define TGC_CTL_JSON_VERSION	1
/*! \brief Most columns of an aligned text table. */
#define TGC_CTL_GRID_COLS	20

/*! \brief Exit codes of tgclusterctl (part of its contract). */
typedef enum {
	TGC_CTL_EXIT_OK       = 0, /*!< Success (also: watch interrupted). */
	TGC_CTL_EXIT_FAIL     = 1, /*!< Other failure (system error). */
	TGC_CTL_EXIT_USAGE    = 2, /*!< Bad command line. */
	TGC_CTL_EXIT_NOINST   = 3, /*!< No such (or ambiguous) instance. */
	TGC_CTL_EXIT_PERM     = 4, /*!< Permission denied on the segment. */
	TGC_CTL_EXIT_VERSION  = 5, /*!< Segment of another layout version. */
	TGC_CTL_EXIT_NONODE   = 6, /*!< No such (or ambiguous) node. */
	TGC_CTL_EXIT_CORRUPT  = 7, /*!< Invalid or corrupt segment. */
	TGC_CTL_EXIT_GUARD    = 8, /*!< Refused: min-live would not hold. */
	TGC_CTL_EXIT_TIMEOUT  = 9, /*!< drain --wait: not drained in time. */
} tgc_ctl_exit_t;

/*! \brief Outcome of a node or instance lookup. */
typedef enum {
	TGC_CTL_MATCH_ONE       = 0, /*!< Exactly one match. */
	TGC_CTL_MATCH_NONE      = 1, /*!< No match. */
	TGC_CTL_MATCH_AMBIGUOUS = 2, /*!< Several matches (candidates listed). */
	TGC_CTL_MATCH_INVALID   = 3, /*!< The argument is malformed. */
} tgc_ctl_match_t;

/*! \brief A growable text buffer; allocation failures are sticky. */
typedef struct {
	char *data;   /*!< Zero-terminated text (NULL while empty). */
	size_t len;   /*!< Length of the text. */
	size_t cap;   /*!< Allocated size. */
	bool failed;  /*!< An allocation failed: the text is incomplete. */
} tgc_ctl_buf_t;

/*! \brief Initialises an empty buffer. */
void tgc_ctl_buf_init(tgc_ctl_buf_t *buf);

/*! \brief Frees a buffer's memory and empties it. */
void tgc_ctl_buf_free(tgc_ctl_buf_t *buf);

/*! \brief Empties a buffer, keeping its memory. */
void tgc_ctl_buf_reset(tgc_ctl_buf_t *buf);

/*! \brief Text of a buffer ("" while empty). */
const char *tgc_ctl_buf_str(const tgc_ctl_buf_t *buf);

/*! \brief Appends \a len bytes of \a str. */
void tgc_ctl_buf_put(tgc_ctl_buf_t *buf, const char *str, size_t len);

/*!
 * \brief Appends printf-formatted text.
 *
 * \param[in,out] buf  Buffer.
 * \param[in]     fmt  Format string.
 */
void tgc_ctl_buf_printf(tgc_ctl_buf_t *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*! \brief Room for \a len bytes escaped by tgc_ctl_buf_safe_str() (each
 *         byte takes at most 4), and the terminating zero. */
#define TGC_CTL_SAFE_LEN(len)	(4 * (len) + 1)

/*!
 * \brief Length of the valid UTF-8 sequence at \a str, 0 if the bytes there
 *        are not one (overlong forms, surrogates and code points above
 *        U+10FFFF are not).
 *
 * \param[in]  str  Text (not at its terminating zero).
 * \param[out] cp   The code point.
 */
size_t tgc_ctl_utf8_len(const char *str, uint32_t *cp);

/*!
 * \brief Tells whether a code point must not reach a terminal raw: C0
 *        controls, DEL, C1 controls (U+0080-U+009F, e.g. U+009B, a CSI),
 *        the bidi controls (U+061C, U+200E/F, U+202A-U+202E,
 *        U+2066-U+2069), invisible separators and joiners (U+200B-U+200D,
 *        U+2028/9, U+2060-U+2065, U+FEFF).
 */
bool tgc_ctl_cp_unsafe(uint32_t cp);

/*!
 * \brief Appends \a str as a quoted JSON string (RFC 8259), as every string
 *        of the JSON documents is written.
 *
 * The output is ASCII: '"', '\\' and the C0 controls are escaped (\\n,
 * \\t ... or \\u00NN), DEL and every non-ASCII code point are written as
 * \\uNNNN (a surrogate pair above U+FFFF), so valid JSON with no raw control,
 * bidi or invisible character. A byte that is not part of valid UTF-8
 * becomes \\uFFFD (the replacement character). NULL is written as null.
 *
 * \param[in,out] buf  Buffer.
 * \param[in]     str  Text to quote (may be NULL).
 */
void tgc_ctl_buf_json_str(tgc_ctl_buf_t *buf, const char *str);

/*!
 * \brief Appends \a str for a terminal: valid UTF-8 is kept except the code
 *        points of tgc_ctl_cp_unsafe(), written as \\xNN (below U+0080) or
 *        \\u{NNNN}; a byte that is not part of valid UTF-8 is written as
 *        \\xNN. NULL appends nothing.
 */
void tgc_ctl_buf_safe_str(tgc_ctl_buf_t *buf, const char *str);

/*!
 * \brief Copies \a str escaped as tgc_ctl_buf_safe_str() does into \a out
 *        (truncated to \a out_len; TGC_CTL_SAFE_LEN() is always enough).
 *
 * \return \a out.
 */
const char *tgc_ctl_safe_copy(const char *str, char *out, size_t out_len);

/*! \brief Name of an admin source ("local", "zone", "none"). */
const char *tgc_ctl_admin_src_str(tgc_admin_src_t src);

/*!
 * \brief Describes where a node's admin state comes from, e.g.
 *        "local uid 1000 (zone drain)", "zone 2026120401", "zone 5 drain
 *        held" (held back by min-live) or "-".
 */
char *tgc_ctl_admin_source(const tgc_node_snap_t *n, char *buf, size_t len);

/*!
 * \brief A node's effective capacity (weight x agent percentage x maxconn,
 *        as the checker last wrote it) and its load: the sessions its agent
 *        reports, in percent of that capacity (what load-high and load-low
 *        compare, without the answers granted since).
 *
 * \param[out] capacity  Capacity; valid when true is returned.
 * \param[out] load_pct  Load in percent, -1 when unknown (no sessions
 *                       reported, or no capacity).
 *
 * \return False when the record holds no capacity (not a load balancer
 *         checker's record, or not written yet).
 */
bool tgc_ctl_node_load(const tgc_node_snap_t *n, double *capacity,
                       double *load_pct);

/*!
 * \brief Formats a duration in milliseconds for humans.
 *
 * "850ms", "12.3s", "5m03s", "2h05m", "3d04h".
 *
 * \param[in]  ms       Duration.
 * \param[out] out      Output buffer.
 * \param[in]  out_len  Its size (16 is always enough).
 *
 * \return \a out.
 */
const char *tgc_ctl_fmt_duration(uint64_t ms, char *out, size_t out_len);

/*!
 * \brief Formats a probe round-trip time in microseconds for humans.
 *
 * "850us", "12.3ms", "1.20s".
 *
 * \return \a out.
 */
const char *tgc_ctl_fmt_rtt(uint32_t us, char *out, size_t out_len);

/*!
 * \brief Formats a node as "ADDR@PORT" ("[ADDR]" is never used: '@' is
 *        unambiguous for IPv6 too).
 *
 * \return \a out.
 */
const char *tgc_ctl_fmt_node(const tgc_addr_t *addr, uint16_t port, char *out,
                             size_t out_len);

/*! \brief Text of a role ("lb", "translator", "invalid"). */
const char *tgc_ctl_role_str(uint32_t role);

/*! \brief Text of a check kind ("tcp", "rfb", "none", "invalid"). */
const char *tgc_ctl_check_str(uint32_t check);

/*! \brief Text of a translator cache record ("A", "AAAA"). */
const char *tgc_ctl_cache_type_str(unsigned rec);

/*! \brief An aligned text table (columns separated by two spaces). */
typedef struct {
	size_t cols;                          /*!< Number of columns. */
	const char *head[TGC_CTL_GRID_COLS];  /*!< Column titles. */
	bool right[TGC_CTL_GRID_COLS];        /*!< Right-align the column. */
	char **cells;                         /*!< rows x cols copied cells. */
	size_t rows;                          /*!< Number of rows. */
	size_t cap;                           /*!< Rows allocated. */
	bool failed;                          /*!< An allocation failed. */
} tgc_ctl_grid_t;

/*!
 * \brief Initialises a table.
 *
 * \param[out] grid   Table.
 * \param[in]  cols   Number of columns (at most TGC_CTL_GRID_COLS).
 * \param[in]  head   Column titles (kept by reference; static text).
 * \param[in]  right  Right alignment per column (NULL = all left).
 */
void tgc_ctl_grid_init(tgc_ctl_grid_t *grid, size_t cols,
                       const char *const *head, const bool *right);

/*!
 * \brief Adds a row (the cells are copied; NULL cells print as "-").
 */
void tgc_ctl_grid_add(tgc_ctl_grid_t *grid, const char *const *cells);

/*!
 * \brief Renders the title line and the rows.
 *
 * Every column is as wide as its widest cell or title; cells are padded
 * (right-aligned ones on the left); the last column is not padded on the
 * right, so lines carry no trailing blanks.
 */
void tgc_ctl_grid_render(const tgc_ctl_grid_t *grid, tgc_ctl_buf_t *out);

/*! \brief Frees the rows of a table. */
void tgc_ctl_grid_free(tgc_ctl_grid_t *grid);

/*!
 * \brief Finds the node an operator named.
 *
 * \a arg is a node index ("2"), an address ("10.0.0.2", "fd00::2") or an
 * address with a port ("10.0.0.2@5900"). An address is compared as a value
 * ("fd00:0::2" equals "fd00::2"); when no node has the address, nodes whose
 * mapped (LAN) address it is match instead.
 *
 * \param[in]  nodes     Node snapshots.
 * \param[in]  count     Their number.
 * \param[in]  arg       Operator text.
 * \param[out] found     Index of the match (for TGC_CTL_MATCH_ONE).
 * \param[out] cands     Candidate indexes (for TGC_CTL_MATCH_AMBIGUOUS), may
 *                       be NULL.
 * \param[in]  cands_max Room in \a cands.
 * \param[out] ncands    Number of candidates (all of them, even beyond
 *                       \a cands_max), may be NULL.
 *
 * \return The outcome (an index out of range is TGC_CTL_MATCH_NONE).
 */
tgc_ctl_match_t tgc_ctl_node_find(const tgc_node_snap_t *nodes, uint32_t count,
                                  const char *arg, uint32_t *found,
                                  uint32_t *cands, size_t cands_max,
                                  size_t *ncands);

/*! \brief A segment found on the host, as far as it could be read. */
typedef struct {
	char segment[TGC_TABLE_NAME_MAX + 1]; /*!< File name ("tgcluster...."). */
	char zone[256];                       /*!< Zone ("" if unreadable). */
	bool readable;                        /*!< Zone is valid. */
	const char *kind;                     /*!< NULL for a regular file,
	                                       *   else what stands there
	                                       *   (tgc_ctl_path_kind()). */
	bool live;                            /*!< Readable and owned by a
	                                       *   live process (its writer). */
} tgc_ctl_seg_t;

/*!
 * \brief Says what stands at \a path if it is not a regular file.
 *
 * Uses lstat() only: never follows a symbolic link, never opens (a FIFO
 * would block an open()).
 *
 * \return NULL for a regular file or when nothing can be found there, else
 *         "a FIFO", "a directory", "a symbolic link", "a socket",
 *         "a character device", "a block device" or "not a regular file".
 */
const char *tgc_ctl_path_kind(const char *path);

/*!
 * \brief Finds the instance an operator named.
 *
 * Without \a arg, the only segment matches. Otherwise, in this order: the
 * segment name (with or without a leading '/'), "tgcluster." + \a arg, and
 * the zone of a readable segment (case-insensitive, trailing dot ignored).
 * A zone shared by several instances is ambiguous, unless exactly one of
 * them is live: the others are leftovers of a stopped knotd, and the live
 * one matches. Without \a arg the same holds for all segments: several
 * segments of which exactly one is live match the live one. Entries that are not
 * regular files (kind set) match by name only, so that the caller can say
 * what stands there.
 *
 * \param[in]  segs      Segments on the host.
 * \param[in]  count     Their number.
 * \param[in]  arg       Operator text (may be NULL).
 * \param[out] found     Index into \a segs of the match.
 * \param[out] cands     Candidates when ambiguous (may be NULL).
 * \param[in]  cands_max Room in \a cands.
 * \param[out] ncands    Number of candidates (may be NULL).
 *
 * \return The outcome.
 */
tgc_ctl_match_t tgc_ctl_instance_find(const tgc_ctl_seg_t *segs, size_t count,
                                      const char *arg, size_t *found,
                                      size_t *cands, size_t cands_max,
                                      size_t *ncands);

/*! \brief A consistent copy of a segment, taken at one instant. */
typedef struct {
	char segment[TGC_TABLE_NAME_MAX + 1]; /*!< Segment name (no slash). */
	char zone[256];        /*!< Zone text. */
	char instance[64];     /*!< Module section id. */
	char name[256];        /*!< Cluster name. */
	uint32_t role;         /*!< tgc_role_t. */
	uint32_t check;        /*!< Check kind (tgc_check_t). */
	uint32_t interval_ms;  /*!< check-interval. */
	uint32_t timeout_ms;   /*!< check-timeout. */
	uint32_t rise;         /*!< check-rise. */
	uint32_t fall;         /*!< check-fall. */
	uint64_t created_ms;   /*!< Segment creation time. */
	uint64_t writer_pid;   /*!< PID of the owning knotd (0 = none yet). */
	uint64_t owner;        /*!< Owner word (TGC_TABLE_OWNER(), 0 = none). */
	bool writer_alive;     /*!< \a owner names a live process. */
	uint64_t heartbeat_ms; /*!< Last checker tick (0 = never). */
	uint64_t generation;   /*!< Change counter. */
	uint64_t all_down_answers; /*!< Answers given while no node was
	                        *   eligible (load balancer). */
	uint64_t now_ms;       /*!< When the snapshot was taken. */
	uint32_t node_count;   /*!< Number of nodes (upstreams of a translator). */
	tgc_node_snap_t *nodes; /*!< Node snapshots (NULL if none). */
	uint32_t stale_limit_s; /*!< stale-limit (translator). */
	uint32_t min_live;      /*!< min-live (load balancer). */
	uint32_t admin_guarded; /*!< Zone drains/downs held back by min-live. */
	uint32_t zone_serial;   /*!< Zone serial of the admin records taken in. */
	uint32_t zone_malformed; /*!< Malformed admin records in it. */
	bool has_cache;        /*!< Translator: \a cache is valid. */
	tgc_cache_snap_t cache[TGC_CACHE_RECS]; /*!< Translator answer cache
	                        *   (A, AAAA; without the SOA). */
} tgc_ctl_status_t;

/*!
 * \brief Takes a snapshot of a mapped table.
 *
 * \param[out] st      Snapshot (free with tgc_ctl_status_free()).
 * \param[in]  table   Attached table.
 * \param[in]  now_ms  Current CLOCK_REALTIME time in ms.
 *
 * \retval KNOT_EOK     Success.
 * \retval KNOT_ENOMEM  Out of memory.
 * \retval KNOT_EINVAL  Table not mapped.
 */
int tgc_ctl_status_load(tgc_ctl_status_t *st, const tgc_table_t *table,
                        uint64_t now_ms);

/*! \brief Frees a snapshot's nodes. */
void tgc_ctl_status_free(tgc_ctl_status_t *st);

/*!
 * \brief Age of the time stamp \a when_ms at the snapshot, in ms (0 if in
 *        the future), -1 if unset (0).
 */
int64_t tgc_ctl_age(const tgc_ctl_status_t *st, uint64_t when_ms);

/*!
 * \brief Age of the checker heartbeat in ms, -1 if it never ticked.
 */
int64_t tgc_ctl_heartbeat_age(const tgc_ctl_status_t *st);

/*!
 * \brief Tells whether the checker heartbeat is stale: missing, or older
 *        than three check intervals plus one second.
 */
bool tgc_ctl_heartbeat_stale(const tgc_ctl_status_t *st);

/*!
 * \brief Time node \a idx has been in its health state, -1 if unknown.
 */
int64_t tgc_ctl_in_state(const tgc_ctl_status_t *st, uint32_t idx);

/*!
 * \brief Renders the human status: two header lines and an aligned table.
 */
void tgc_ctl_render_status(tgc_ctl_buf_t *out, const tgc_ctl_status_t *st);

/*!
 * \brief Renders the status as one JSON document (see docs/tgclusterctl.rst)
 *        on one line, terminated by a newline.
 *
 * Strings are written as tgc_ctl_buf_json_str() writes them. Counters and
 * times are integers; one above INT64_MAX (JSON integers are signed 64-bit
 * in jansson; only a corrupt segment holds such a value) is written as
 * INT64_MAX.
 */
void tgc_ctl_render_json(tgc_ctl_buf_t *out, const tgc_ctl_status_t *st);

/*! \brief One line of "tgclusterctl list". */
typedef struct {
	const char *segment;         /*!< Segment file name. */
	const tgc_ctl_status_t *st;  /*!< Snapshot, NULL if it could not be read. */
	const char *error;           /*!< Why it could not be read. */
	bool writer_gone;            /*!< No live process owns the segment
	                              *   (a leftover: prune removes it). */
} tgc_ctl_list_entry_t;

/*!
 * \brief Renders the segment list as an aligned table, or JSON.
 */
void tgc_ctl_render_list(tgc_ctl_buf_t *out, const tgc_ctl_list_entry_t *entries,
                         size_t count, bool json);

/*!
 * \brief Renders the segment list as one JSON document on one line,
 *        terminated by a newline (strings and integers as
 *        tgc_ctl_render_json() writes them).
 */
void tgc_ctl_render_list_json(tgc_ctl_buf_t *out,
                              const tgc_ctl_list_entry_t *entries, size_t count);

/*!
 * \brief Appends \a str as the value of a Prometheus label, without the
 *        quotes: '\\' becomes "\\\\", '"' becomes "\\\"" and a newline "\\n"
 *        (the text exposition format's escapes); a byte that is not part of
 *        valid UTF-8 becomes U+FFFD, since label values are UTF-8. Other
 *        characters are kept: the format has no other escape. NULL appends
 *        nothing.
 */
void tgc_ctl_buf_prom_label(tgc_ctl_buf_t *buf, const char *str);

/*!
 * \brief Renders the Prometheus text exposition format (version 0.0.4) of
 *        the snapshots \a sts (see docs/tgclusterctl.rst, "metrics").
 *
 * Each metric family is written once, with its HELP and TYPE lines, and then
 * its samples for every snapshot. Instance metrics are labelled zone,
 * cluster and segment; node metrics also address and port. Node metrics are
 * written only for snapshots whose writer is alive (a leftover segment's
 * nodes are not watched by anybody). Times are in seconds.
 *
 * \param[in,out] out    Buffer.
 * \param[in]     sts    Snapshots.
 * \param[in]     count  Their number.
 */
void tgc_ctl_render_metrics(tgc_ctl_buf_t *out, const tgc_ctl_status_t *sts,
                            size_t count);
