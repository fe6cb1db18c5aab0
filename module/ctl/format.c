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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <libknot/errcode.h>

#include "module/conf.h"
#include "module/ctl/format.h"
#include "module/health.h"
#include "module/probe_agent.h"

/*! \brief Relaxed atomic load shorthand (header fields). */
#define LOAD(x)		atomic_load_explicit(&(x), memory_order_relaxed)

/* -- Text buffer ---------------------------------------------------------- */

void tgc_ctl_buf_init(tgc_ctl_buf_t *buf)
{
	memset(buf, 0, sizeof(*buf));
}

void tgc_ctl_buf_free(tgc_ctl_buf_t *buf)
{
	free(buf->data);
	memset(buf, 0, sizeof(*buf));
}

void tgc_ctl_buf_reset(tgc_ctl_buf_t *buf)
{
	buf->len = 0;
	buf->failed = false;
	if (buf->data != NULL) {
		buf->data[0] = '\0';
	}
}

const char *tgc_ctl_buf_str(const tgc_ctl_buf_t *buf)
{
	return (buf->data != NULL) ? buf->data : "";
}

/*! \brief Makes room for \a more bytes plus the terminating zero. */
static bool buf_reserve(tgc_ctl_buf_t *buf, size_t more)
{
	if (buf->failed) {
		return false;
	}
	size_t need = buf->len + more + 1;
	if (need <= buf->cap) {
		return true;
	}
	size_t cap = (buf->cap > 0) ? buf->cap : 256;
	while (cap < need) {
		cap *= 2;
	}
	char *data = realloc(buf->data, cap);
	if (data == NULL) {
		buf->failed = true;
		return false;
	}
	buf->data = data;
	buf->cap = cap;

	return true;
}

void tgc_ctl_buf_put(tgc_ctl_buf_t *buf, const char *str, size_t len)
{
	if (!buf_reserve(buf, len)) {
		return;
	}
	memcpy(buf->data + buf->len, str, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
}

/*! \brief Appends one character \a n times. */
static void buf_fill(tgc_ctl_buf_t *buf, char c, size_t n)
{
	if (!buf_reserve(buf, n)) {
		return;
	}
	memset(buf->data + buf->len, c, n);
	buf->len += n;
	buf->data[buf->len] = '\0';
}

void tgc_ctl_buf_printf(tgc_ctl_buf_t *buf, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int ret = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (ret < 0) {
		buf->failed = true;
		return;
	}
	if (!buf_reserve(buf, (size_t)ret)) {
		return;
	}
	va_start(ap, fmt);
	(void)vsnprintf(buf->data + buf->len, (size_t)ret + 1, fmt, ap);
	va_end(ap);
	buf->len += (size_t)ret;
}

size_t tgc_ctl_utf8_len(const char *str, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char c = s[0];
	size_t len;
	uint32_t min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2; min = 0x80; *cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3; min = 0x800; *cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4; min = 0x10000; *cp = c & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			return 0;
		}
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff)) {
		return 0;
	}

	return len;
}

bool tgc_ctl_cp_unsafe(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f ||                /* C0, DEL */
	       (cp >= 0x80 && cp <= 0x9f) ||              /* C1 (U+009B: CSI) */
	       cp == 0x061c ||                            /* ALM */
	       (cp >= 0x200b && cp <= 0x200f) ||          /* ZW space/joiners, LRM, RLM */
	       (cp >= 0x2028 && cp <= 0x202e) ||          /* LS, PS, LRE..RLO */
	       (cp >= 0x2060 && cp <= 0x2069) ||          /* WJ.., LRI..PDI */
	       cp == 0xfeff;                              /* ZWNBSP (BOM) */
}

void tgc_ctl_buf_safe_str(tgc_ctl_buf_t *buf, const char *str)
{
	const unsigned char *s = (const unsigned char *)((str != NULL) ? str : "");
	while (*s != '\0') {
		uint32_t cp;
		size_t len = tgc_ctl_utf8_len((const char *)s, &cp);
		if (len == 0 || (len == 1 && tgc_ctl_cp_unsafe(cp))) {
			tgc_ctl_buf_printf(buf, "\\x%02x", (unsigned)*s);
			s++;
		} else if (tgc_ctl_cp_unsafe(cp)) {
			tgc_ctl_buf_printf(buf, "\\u{%04x}", (unsigned)cp);
			s += len;
		} else {
			tgc_ctl_buf_put(buf, (const char *)s, len);
			s += len;
		}
	}
}

const char *tgc_ctl_safe_copy(const char *str, char *out, size_t out_len)
{
	tgc_ctl_buf_t b;
	tgc_ctl_buf_init(&b);
	tgc_ctl_buf_safe_str(&b, str);
	snprintf(out, out_len, "%s", b.failed ? "?" : tgc_ctl_buf_str(&b));
	tgc_ctl_buf_free(&b);

	return out;
}

/* -- Scalars -------------------------------------------------------------- */

const char *tgc_ctl_fmt_duration(uint64_t ms, char *out, size_t out_len)
{
	const uint64_t sec = 1000, min = 60 * sec, hour = 60 * min, day = 24 * hour;
	if (ms < sec) {
		snprintf(out, out_len, "%" PRIu64 "ms", ms);
	} else if (ms < min) {
		snprintf(out, out_len, "%" PRIu64 ".%" PRIu64 "s", ms / sec,
		         (ms % sec) / 100);
	} else if (ms < hour) {
		snprintf(out, out_len, "%" PRIu64 "m%02" PRIu64 "s", ms / min,
		         (ms % min) / sec);
	} else if (ms < day) {
		snprintf(out, out_len, "%" PRIu64 "h%02" PRIu64 "m", ms / hour,
		         (ms % hour) / min);
	} else {
		snprintf(out, out_len, "%" PRIu64 "d%02" PRIu64 "h", ms / day,
		         (ms % day) / hour);
	}

	return out;
}

const char *tgc_ctl_fmt_rtt(uint32_t us, char *out, size_t out_len)
{
	if (us < 1000) {
		snprintf(out, out_len, "%uus", us);
	} else if (us < 1000000) {
		snprintf(out, out_len, "%u.%ums", us / 1000, (us % 1000) / 100);
	} else {
		snprintf(out, out_len, "%u.%02us", us / 1000000, (us % 1000000) / 10000);
	}

	return out;
}

const char *tgc_ctl_fmt_node(const tgc_addr_t *addr, uint16_t port, char *out,
                             size_t out_len)
{
	char txt[TGC_ADDR_STRLEN];
	snprintf(out, out_len, "%s@%u", tgc_addr_format(addr, txt, sizeof(txt)),
	         (unsigned)port);

	return out;
}

const char *tgc_ctl_role_str(uint32_t role)
{
	switch (role) {
	case TGC_ROLE_LB:         return "lb";
	case TGC_ROLE_TRANSLATOR: return "translator";
	default:                  return "invalid";
	}
}

const char *tgc_ctl_check_str(uint32_t check)
{
	return tgc_conf_check_str(check);
}

/* -- Aligned tables ------------------------------------------------------- */

void tgc_ctl_grid_init(tgc_ctl_grid_t *grid, size_t cols,
                       const char *const *head, const bool *right)
{
	memset(grid, 0, sizeof(*grid));
	grid->cols = (cols <= TGC_CTL_GRID_COLS) ? cols : TGC_CTL_GRID_COLS;
	for (size_t c = 0; c < grid->cols; c++) {
		grid->head[c] = (head != NULL && head[c] != NULL) ? head[c] : "";
		grid->right[c] = (right != NULL) ? right[c] : false;
	}
}

void tgc_ctl_grid_add(tgc_ctl_grid_t *grid, const char *const *cells)
{
	if (grid->failed) {
		return;
	}
	if (grid->rows == grid->cap) {
		size_t cap = (grid->cap > 0) ? 2 * grid->cap : 16;
		char **mem = realloc(grid->cells, cap * grid->cols * sizeof(char *));
		if (mem == NULL) {
			grid->failed = true;
			return;
		}
		grid->cells = mem;
		grid->cap = cap;
	}
	char **row = grid->cells + grid->rows * grid->cols;
	for (size_t c = 0; c < grid->cols; c++) {
		row[c] = strdup((cells[c] != NULL) ? cells[c] : "-");
		if (row[c] == NULL) {
			grid->failed = true;
		}
	}
	grid->rows++;
}

/*! \brief Appends one line of a table. */
static void grid_line(tgc_ctl_buf_t *out, const tgc_ctl_grid_t *grid,
                      const size_t *width, const char *const *cells)
{
	for (size_t c = 0; c < grid->cols; c++) {
		const char *cell = (cells[c] != NULL) ? cells[c] : "?";
		size_t len = strlen(cell);
		size_t pad = (width[c] > len) ? width[c] - len : 0;
		bool last = (c + 1 == grid->cols);
		if (c > 0) {
			tgc_ctl_buf_put(out, "  ", 2);
		}
		if (grid->right[c]) {
			buf_fill(out, ' ', pad);
		}
		tgc_ctl_buf_put(out, cell, len);
		if (!grid->right[c] && !last) {
			buf_fill(out, ' ', pad);
		}
	}
	/* An empty last cell leaves blanks behind. */
	while (!out->failed && out->len > 0 && out->data[out->len - 1] == ' ') {
		out->data[--out->len] = '\0';
	}
	tgc_ctl_buf_put(out, "\n", 1);
}

void tgc_ctl_grid_render(const tgc_ctl_grid_t *grid, tgc_ctl_buf_t *out)
{
	size_t width[TGC_CTL_GRID_COLS] = { 0 };
	for (size_t c = 0; c < grid->cols; c++) {
		width[c] = strlen(grid->head[c]);
		for (size_t r = 0; r < grid->rows; r++) {
			const char *cell = grid->cells[r * grid->cols + c];
			size_t len = (cell != NULL) ? strlen(cell) : 1;
			width[c] = (len > width[c]) ? len : width[c];
		}
	}
	grid_line(out, grid, width, grid->head);
	for (size_t r = 0; r < grid->rows; r++) {
		grid_line(out, grid, width,
		          (const char *const *)(grid->cells + r * grid->cols));
	}
	if (grid->failed) {
		out->failed = true;
	}
}

void tgc_ctl_grid_free(tgc_ctl_grid_t *grid)
{
	for (size_t i = 0; grid->cells != NULL && i < grid->rows * grid->cols; i++) {
		free(grid->cells[i]);
	}
	free(grid->cells);
	grid->cells = NULL;
	grid->rows = 0;
	grid->cap = 0;
}

/* -- Status snapshots ----------------------------------------------------- */

int tgc_ctl_status_load(tgc_ctl_status_t *st, const tgc_table_t *table,
                        uint64_t now_ms)
{
	memset(st, 0, sizeof(*st));
	if (table == NULL || table->hdr == NULL) {
		return KNOT_EINVAL;
	}
	const tgc_table_hdr_t *hdr = table->hdr;

	snprintf(st->segment, sizeof(st->segment), "%s",
	         table->name + (table->name[0] == '/' ? 1 : 0));
	snprintf(st->zone, sizeof(st->zone), "%s", hdr->zone);
	snprintf(st->instance, sizeof(st->instance), "%s", hdr->instance);
	snprintf(st->name, sizeof(st->name), "%s", hdr->name);
	st->role = hdr->role;
	st->check = hdr->check;
	st->interval_ms = hdr->interval_ms;
	st->timeout_ms = hdr->timeout_ms;
	st->rise = hdr->rise;
	st->fall = hdr->fall;
	st->created_ms = hdr->created_ms;
	st->writer_pid = LOAD(((tgc_table_hdr_t *)hdr)->writer_pid);
	st->heartbeat_ms = LOAD(((tgc_table_hdr_t *)hdr)->heartbeat_ms);
	st->all_down_answers = LOAD(((tgc_table_hdr_t *)hdr)->all_down_answers);
	st->owner = atomic_load_explicit(&((tgc_table_hdr_t *)hdr)->owner,
	                                 memory_order_acquire);
	st->writer_alive = tgc_table_owner_alive(st->owner);
	st->generation = atomic_load_explicit(&((tgc_table_hdr_t *)hdr)->generation,
	                                      memory_order_acquire);
	st->now_ms = now_ms;
	st->node_count = hdr->node_count;
	/* Never more records than the mapping holds (see tgc_table_node_read()). */
	if (table->size < sizeof(tgc_table_hdr_t) + (size_t)st->node_count *
	                  sizeof(tgc_node_rec_t)) {
		st->node_count = (table->size < sizeof(tgc_table_hdr_t)) ? 0 :
		                 (uint32_t)((table->size - sizeof(tgc_table_hdr_t)) /
		                            sizeof(tgc_node_rec_t));
	}
	tgc_table_hdr_t *mh = (tgc_table_hdr_t *)hdr;
	st->min_live = LOAD(mh->min_live);
	st->admin_guarded = LOAD(mh->admin_guarded);
	st->zone_serial = LOAD(mh->zone_serial);
	st->zone_malformed = LOAD(mh->zone_malformed);
	if (hdr->role == TGC_ROLE_TRANSLATOR && table->cache != NULL) {
		st->stale_limit_s = hdr->stale_limit_s;
		st->has_cache = true;
		for (unsigned i = 0; i < TGC_CACHE_RECS; i++) {
			if (tgc_table_cache_read(table, i, &st->cache[i], false) != KNOT_EOK) {
				memset(&st->cache[i], 0, sizeof(st->cache[i]));
			}
		}
	}
	if (st->node_count == 0) {
		return KNOT_EOK;
	}

	st->nodes = calloc(st->node_count, sizeof(*st->nodes));
	if (st->nodes == NULL) {
		st->node_count = 0;
		return KNOT_ENOMEM;
	}
	for (uint32_t i = 0; i < st->node_count; i++) {
		tgc_table_node_read(table, i, &st->nodes[i]);
	}

	return KNOT_EOK;
}

void tgc_ctl_status_free(tgc_ctl_status_t *st)
{
	free(st->nodes);
	st->nodes = NULL;
	st->node_count = 0;
}

int64_t tgc_ctl_age(const tgc_ctl_status_t *st, uint64_t when_ms)
{
	if (when_ms == 0) {
		return -1;
	}

	return (st->now_ms > when_ms) ? (int64_t)(st->now_ms - when_ms) : 0;
}

int64_t tgc_ctl_heartbeat_age(const tgc_ctl_status_t *st)
{
	return tgc_ctl_age(st, st->heartbeat_ms);
}

bool tgc_ctl_heartbeat_stale(const tgc_ctl_status_t *st)
{
	int64_t age = tgc_ctl_heartbeat_age(st);

	return age < 0 || (uint64_t)age > 3 * (uint64_t)st->interval_ms + 1000;
}

int64_t tgc_ctl_in_state(const tgc_ctl_status_t *st, uint32_t idx)
{
	return (idx < st->node_count) ? tgc_ctl_age(st, st->nodes[idx].since_ms) : -1;
}

const char *tgc_ctl_admin_src_str(tgc_admin_src_t src)
{
	switch (src) {
	case TGC_ADMIN_SRC_LOCAL: return "local";
	case TGC_ADMIN_SRC_ZONE:  return "zone";
	default:                  return "none";
	}
}

char *tgc_ctl_admin_source(const tgc_node_snap_t *n, char *buf, size_t len)
{
	if (n->admin_src == TGC_ADMIN_SRC_LOCAL) {
		snprintf(buf, len, "local uid %u", n->admin_uid);
	} else if (n->admin_src == TGC_ADMIN_SRC_ZONE) {
		snprintf(buf, len, "zone %u", n->zone_serial);
	} else if (n->admin_flags & TGC_ADMIN_F_GUARDED) {
		snprintf(buf, len, "zone %u %s held", n->zone_serial,
		         tgc_table_admin_str(n->admin_zone));
	} else {
		snprintf(buf, len, "-");
	}
	if (n->admin_src != TGC_ADMIN_SRC_ZONE && n->admin_zone != TGC_ADMIN_AUTO &&
	    !(n->admin_flags & TGC_ADMIN_F_GUARDED)) {
		size_t used = strlen(buf);
		snprintf(buf + used, len - used, " (zone %s)",
		         tgc_table_admin_str(n->admin_zone));
	}

	return buf;
}

/* -- Rendering ------------------------------------------------------------ */

/*! \brief Columns of the human status table. */
enum {
	COL_IDX, COL_ADDR, COL_PORT, COL_MAPPED, COL_TIER, COL_HEALTH, COL_ADMIN,
	COL_IN_STATE, COL_LAST, COL_RTT, COL_OK, COL_FAIL, COL_PROBES,
	COL_ANSWERS, COL_AGENT, COL_CAPACITY, COL_LOAD, COL_SOURCE, COL_REASON,
	STATUS_COLS
};
_Static_assert(STATUS_COLS <= TGC_CTL_GRID_COLS, "status table wider than a grid");

/*! \brief Titles of the human status table. */
static const char *const status_head[STATUS_COLS] = {
	"IDX", "ADDRESS", "PORT", "MAPPED", "TIER", "HEALTH", "ADMIN", "IN-STATE",
	"LAST", "RTT", "OK", "FAIL", "PROBES", "ANSWERS", "AGENT", "CAPACITY",
	"LOAD", "SOURCE", "REASON"
};

/*! \brief Right-aligned columns of the human status table. */
static const bool status_right[STATUS_COLS] = {
	[COL_IDX] = true, [COL_PORT] = true, [COL_IN_STATE] = true,
	[COL_RTT] = true, [COL_OK] = true, [COL_FAIL] = true,
	[COL_PROBES] = true, [COL_ANSWERS] = true, [COL_CAPACITY] = true,
	[COL_LOAD] = true,
};

bool tgc_ctl_node_load(const tgc_node_snap_t *n, double *capacity,
                       double *load_pct)
{
	*capacity = (double)n->capacity_x100 / 100.0;
	*load_pct = -1.0;
	if ((n->agent_flags & TGC_AGENT_F_CAPACITY) == 0) {
		return false;
	}
	if ((n->agent_flags & TGC_AGENT_F_SESSIONS) != 0 && n->capacity_x100 > 0) {
		*load_pct = (double)n->agent_sessions * 10000.0 / (double)n->capacity_x100;
	}

	return true;
}

/*!
 * \brief The AGENT cell of a node: "-" without an agent, "no-answer" when
 *        its last poll gave no line, else its state words ("ready" for
 *        none) and "sessions/maxconn" ("?" for what it did not report).
 */
static const char *agent_cell(const tgc_node_snap_t *n, char *buf, size_t len)
{
	if ((n->agent_flags & TGC_AGENT_F_POLLED) == 0) {
		return "-";
	}
	if ((n->agent_flags & TGC_AGENT_F_ANSWERED) == 0) {
		return "no-answer";
	}
	char sess[16] = "?", max[16] = "?";
	if (n->agent_flags & TGC_AGENT_F_SESSIONS) {
		snprintf(sess, sizeof(sess), "%u", n->agent_sessions);
	}
	if (n->agent_flags & TGC_AGENT_F_MAXCONN) {
		snprintf(max, sizeof(max), "%u", n->agent_maxconn);
	}
	snprintf(buf, len, "%s%s%s%s %s/%s",
	         (n->agent_state == 0) ? "ready" : "",
	         (n->agent_state & TGC_AGENT_DOWN) ? "down" : "",
	         (n->agent_state & TGC_AGENT_DRAIN) ?
	         ((n->agent_state & TGC_AGENT_DOWN) ? ",drain" : "drain") : "",
	         (n->agent_state & TGC_AGENT_MAINT) ?
	         ((n->agent_state & (TGC_AGENT_DOWN | TGC_AGENT_DRAIN)) ?
	          ",maint" : "maint") : "",
	         sess, max);
	return buf;
}

/*! \brief Appends the heartbeat description ("0.2s ago", "never") + STALE. */
static void render_heartbeat(tgc_ctl_buf_t *out, const tgc_ctl_status_t *st)
{
	char dur[32];
	int64_t age = tgc_ctl_heartbeat_age(st);
	if (age < 0) {
		tgc_ctl_buf_printf(out, "never");
	} else {
		tgc_ctl_buf_printf(out, "%s ago",
		                   tgc_ctl_fmt_duration((uint64_t)age, dur, sizeof(dur)));
	}
	if (tgc_ctl_heartbeat_stale(st)) {
		tgc_ctl_buf_printf(out, " STALE");
	}
}

const char *tgc_ctl_cache_type_str(unsigned rec)
{
	switch (rec) {
	case TGC_CACHE_A:    return "A";
	case TGC_CACHE_AAAA: return "AAAA";
	default:             return "?";
	}
}

/*! \brief Appends the translator cache lines (nothing for a load balancer). */
static void render_cache(tgc_ctl_buf_t *out, const tgc_ctl_status_t *st)
{
	if (!st->has_cache) {
		return;
	}
	tgc_ctl_buf_printf(out, "\nanswer cache (stale-limit %u s):\n",
	                   st->stale_limit_s);
	for (unsigned i = 0; i < TGC_CACHE_RECS; i++) {
		const tgc_cache_snap_t *c = &st->cache[i];
		char dur[32];
		tgc_ctl_buf_printf(out, "  %-4s ", tgc_ctl_cache_type_str(i));
		if (!c->valid) {
			tgc_ctl_buf_printf(out, "empty");
		} else {
			int64_t age = tgc_ctl_age(st, c->fetched_ms);
			tgc_ctl_buf_printf(out, "%s, %u address%s, ttl %u, age %s, "
			                   "from upstream %u",
			                   (c->rcode == 0) ? "NOERROR" : "NXDOMAIN",
			                   c->count, (c->count == 1) ? "" : "es", c->ttl,
			                   (age >= 0) ? tgc_ctl_fmt_duration((uint64_t)age,
			                   dur, sizeof(dur)) : "-", c->upstream);
		}
		int64_t polled = tgc_ctl_age(st, c->polled_ms);
		tgc_ctl_buf_printf(out, "; last poll %s", c->ok ? "ok" : "failed");
		if (polled >= 0) {
			tgc_ctl_buf_printf(out, " %s ago", tgc_ctl_fmt_duration(
			                   (uint64_t)polled, dur, sizeof(dur)));
		}
		tgc_ctl_buf_printf(out, "; refreshes %" PRIu64 ", failures %" PRIu64 "\n",
		                   c->refreshes, c->failures);
		/* The upstream's load report: sessions/capacity per address. */
		for (unsigned j = 0; c->valid && c->reported && j < c->count &&
		                     j < TGC_CACHE_ADDRS_MAX; j++) {
			char addr[TGC_ADDR_STRLEN];
			tgc_ctl_buf_printf(out, "%s%s %" PRIu32 "/%" PRIu32 ".%02" PRIu32,
			                   (j == 0) ? "       load (sessions/capacity): " : ", ",
			                   tgc_addr_format(&c->addrs[j], addr, sizeof(addr)),
			                   c->sessions[j], c->capacity_x100[j] / 100,
			                   c->capacity_x100[j] % 100);
		}
		if (c->valid && c->reported && c->count > 0) {
			tgc_ctl_buf_printf(out, "\n");
		}
	}
}

void tgc_ctl_render_status(tgc_ctl_buf_t *out, const tgc_ctl_status_t *st)
{
	tgc_ctl_buf_safe_str(out, st->segment);
	tgc_ctl_buf_printf(out, ": zone ");
	tgc_ctl_buf_safe_str(out, (st->zone[0] != '\0') ? st->zone : "(global)");
	tgc_ctl_buf_printf(out, ", name ");
	tgc_ctl_buf_safe_str(out, st->name);
	tgc_ctl_buf_printf(out, ", role %s, %u node%s, knotd pid ",
	                   tgc_ctl_role_str(st->role), st->node_count,
	                   (st->node_count == 1) ? "" : "s");
	if (st->writer_pid != 0) {
		tgc_ctl_buf_printf(out, "%" PRIu64 "\n", st->writer_pid);
	} else {
		tgc_ctl_buf_printf(out, "-\n");
	}
	tgc_ctl_buf_printf(out, "check %s, interval %u ms, timeout %u ms, "
	                   "rise %u, fall %u; checker heartbeat ",
	                   tgc_ctl_check_str(st->check), st->interval_ms,
	                   st->timeout_ms, st->rise, st->fall);
	render_heartbeat(out, st);
	if (st->role == TGC_ROLE_LB) {
		tgc_ctl_buf_printf(out, "\nmin-live %u; zone admin records: ",
		                   st->min_live);
		if (st->zone_serial != 0) {
			tgc_ctl_buf_printf(out, "serial %u, %u malformed, %u held "
			                   "back by min-live", st->zone_serial,
			                   st->zone_malformed, st->admin_guarded);
		} else {
			tgc_ctl_buf_printf(out, "none taken in yet");
		}
	}
	tgc_ctl_buf_printf(out, "\n\n");

	tgc_ctl_grid_t grid;
	tgc_ctl_grid_init(&grid, STATUS_COLS, status_head, status_right);
	for (uint32_t i = 0; i < st->node_count; i++) {
		const tgc_node_snap_t *n = &st->nodes[i];
		char idx[16], addr[TGC_ADDR_STRLEN], port[8], mapped[TGC_ADDR_STRLEN];
		char in_state[32], rtt[32], ok[16], fail[16], probes[24], answers[24];
		char agent[64], capacity[24], load[24];
		const char *cells[STATUS_COLS];

		snprintf(idx, sizeof(idx), "%u", i);
		snprintf(port, sizeof(port), "%u", (unsigned)n->port);
		int64_t age = tgc_ctl_in_state(st, i);
		if (age >= 0) {
			tgc_ctl_fmt_duration((uint64_t)age, in_state, sizeof(in_state));
		}
		bool probed = (n->last_probe != TGC_PROBE_NONE &&
		               n->last_probe != TGC_PROBE_DISABLED);
		if (probed) {
			tgc_ctl_fmt_rtt(n->last_rtt_us, rtt, sizeof(rtt));
		}
		snprintf(ok, sizeof(ok), "%u", n->consec_ok);
		snprintf(fail, sizeof(fail), "%u", n->consec_fail);
		snprintf(probes, sizeof(probes), "%" PRIu64, n->probes);
		snprintf(answers, sizeof(answers), "%" PRIu64, n->answers);

		cells[COL_IDX] = idx;
		cells[COL_ADDR] = tgc_addr_format(&n->addr, addr, sizeof(addr));
		cells[COL_PORT] = port;
		cells[COL_MAPPED] = (n->mapped.family != 0) ?
		                    tgc_addr_format(&n->mapped, mapped, sizeof(mapped)) :
		                    "-";
		cells[COL_TIER] = n->tier ? "backup" : "primary";
		cells[COL_HEALTH] = tgc_table_health_str(n->health);
		cells[COL_ADMIN] = tgc_table_admin_str(n->admin);
		cells[COL_IN_STATE] = (age >= 0) ? in_state : "-";
		cells[COL_LAST] = tgc_table_probe_str(n->last_probe);
		cells[COL_RTT] = probed ? rtt : "-";
		cells[COL_OK] = ok;
		cells[COL_FAIL] = fail;
		cells[COL_PROBES] = probes;
		cells[COL_ANSWERS] = answers;
		cells[COL_AGENT] = agent_cell(n, agent, sizeof(agent));
		double cap, load_pct;
		bool has_cap = tgc_ctl_node_load(n, &cap, &load_pct);
		if (has_cap) {
			snprintf(capacity, sizeof(capacity), "%.*f",
			         (n->capacity_x100 % 100 == 0) ? 0 : 2, cap);
			snprintf(load, sizeof(load), "%.1f%%", load_pct);
		}
		cells[COL_CAPACITY] = has_cap ? capacity : "-";
		cells[COL_LOAD] = (has_cap && load_pct >= 0) ? load : "-";
		char source[48], reason[TGC_CTL_SAFE_LEN(TGC_ADMIN_REASON_MAX)];
		tgc_ctl_admin_source(n, source, sizeof(source));
		cells[COL_SOURCE] = source;
		cells[COL_REASON] = (n->admin_src == TGC_ADMIN_SRC_ZONE ||
		                     (n->admin_flags & TGC_ADMIN_F_GUARDED)) &&
		                    n->zone_reason[0] != '\0' ?
		                    tgc_ctl_safe_copy(n->zone_reason, reason,
		                                      sizeof(reason)) : "-";
		tgc_ctl_grid_add(&grid, cells);
	}
	tgc_ctl_grid_render(&grid, out);
	tgc_ctl_grid_free(&grid);
	render_cache(out, st);
}

/*! \brief Columns of the segment list. */
enum {
	LCOL_SEGMENT, LCOL_ZONE, LCOL_ROLE, LCOL_NODES, LCOL_PID,
	LCOL_HEARTBEAT, LCOL_NOTE, LIST_COLS
};

/*! \brief Titles of the segment list. */
static const char *const list_head[LIST_COLS] = {
	"SEGMENT", "ZONE", "ROLE", "NODES", "PID", "HEARTBEAT", "NOTE"
};

/*! \brief Right-aligned columns of the segment list. */
static const bool list_right[LIST_COLS] = {
	[LCOL_NODES] = true, [LCOL_PID] = true, [LCOL_HEARTBEAT] = true,
};

void tgc_ctl_render_list(tgc_ctl_buf_t *out, const tgc_ctl_list_entry_t *entries,
                         size_t count, bool json)
{
	if (json) {
		tgc_ctl_render_list_json(out, entries, count);
		return;
	}

	tgc_ctl_grid_t grid;
	tgc_ctl_grid_init(&grid, LIST_COLS, list_head, list_right);
	for (size_t i = 0; i < count; i++) {
		const tgc_ctl_list_entry_t *e = &entries[i];
		const tgc_ctl_status_t *st = e->st;
		char seg[TGC_CTL_SAFE_LEN(TGC_TABLE_NAME_MAX)];
		char zone[TGC_CTL_SAFE_LEN(sizeof(st->zone))], nodes[16], pid[24];
		char hb[32], note[TGC_CTL_SAFE_LEN(128)];
		const char *cells[LIST_COLS] = { NULL };

		cells[LCOL_SEGMENT] = tgc_ctl_safe_copy(e->segment, seg, sizeof(seg));
		if (st == NULL) {
			cells[LCOL_NOTE] = tgc_ctl_safe_copy((e->error != NULL) ?
			                                     e->error : "unreadable",
			                                     note, sizeof(note));
			tgc_ctl_grid_add(&grid, cells);
			continue;
		}
		cells[LCOL_ZONE] = tgc_ctl_safe_copy((st->zone[0] != '\0') ?
		                                     st->zone : "(global)",
		                                     zone, sizeof(zone));
		cells[LCOL_ROLE] = tgc_ctl_role_str(st->role);
		snprintf(nodes, sizeof(nodes), "%u", st->node_count);
		cells[LCOL_NODES] = nodes;
		if (st->writer_pid != 0) {
			snprintf(pid, sizeof(pid), "%" PRIu64, st->writer_pid);
			cells[LCOL_PID] = pid;
		}
		int64_t age = tgc_ctl_heartbeat_age(st);
		cells[LCOL_HEARTBEAT] = (age >= 0) ?
		                        tgc_ctl_fmt_duration((uint64_t)age, hb, sizeof(hb)) :
		                        "never";
		note[0] = '\0';
		if (tgc_ctl_heartbeat_stale(st)) {
			snprintf(note, sizeof(note), "STALE%s",
			         e->writer_gone ? ", no live writer" : "");
		} else if (e->writer_gone) {
			snprintf(note, sizeof(note), "no live writer");
		}
		cells[LCOL_NOTE] = note;
		tgc_ctl_grid_add(&grid, cells);
	}
	tgc_ctl_grid_render(&grid, out);
	tgc_ctl_grid_free(&grid);
}
