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

/*! \brief Appends \a len bytes. */
static void buf_put(tgc_ctl_buf_t *buf, const char *str, size_t len)
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

/*!
 * \brief Length of the valid UTF-8 sequence at \a s (0 if invalid).
 *
 * Rejects overlong forms, surrogates and code points above U+10FFFF.
 * \a cp receives the code point.
 */
static size_t utf8_len(const unsigned char *s, uint32_t *cp)
{
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

void tgc_ctl_buf_json_str(tgc_ctl_buf_t *buf, const char *str)
{
	if (str == NULL) {
		buf_put(buf, "null", 4);
		return;
	}
	buf_put(buf, "\"", 1);
	const unsigned char *s = (const unsigned char *)str;
	while (*s != '\0') {
		uint32_t cp;
		size_t len = utf8_len(s, &cp);
		if (len == 0) {
			/* Not UTF-8: the replacement character, never the byte
			 * as a code point (0x9b would become U+009B). */
			buf_put(buf, "\\ufffd", 6);
			s++;
			continue;
		}
		switch (cp) {
		case '"':  buf_put(buf, "\\\"", 2); break;
		case '\\': buf_put(buf, "\\\\", 2); break;
		case '\b': buf_put(buf, "\\b", 2); break;
		case '\f': buf_put(buf, "\\f", 2); break;
		case '\n': buf_put(buf, "\\n", 2); break;
		case '\r': buf_put(buf, "\\r", 2); break;
		case '\t': buf_put(buf, "\\t", 2); break;
		default:
			if (tgc_ctl_cp_unsafe(cp)) {
				/* All of them are in the BMP. */
				tgc_ctl_buf_printf(buf, "\\u%04x", (unsigned)cp);
			} else {
				buf_put(buf, (const char *)s, len);
			}
			break;
		}
		s += len;
	}
	buf_put(buf, "\"", 1);
}

void tgc_ctl_buf_safe_str(tgc_ctl_buf_t *buf, const char *str)
{
	const unsigned char *s = (const unsigned char *)((str != NULL) ? str : "");
	while (*s != '\0') {
		uint32_t cp;
		size_t len = utf8_len(s, &cp);
		if (len == 0 || (len == 1 && tgc_ctl_cp_unsafe(cp))) {
			tgc_ctl_buf_printf(buf, "\\x%02x", (unsigned)*s);
			s++;
		} else if (tgc_ctl_cp_unsafe(cp)) {
			tgc_ctl_buf_printf(buf, "\\u{%04x}", (unsigned)cp);
			s += len;
		} else {
			buf_put(buf, (const char *)s, len);
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
	switch (check) {
	case TGC_CHECK_TCP:  return "tcp";
	case TGC_CHECK_RFB:  return "rfb";
	case TGC_CHECK_NONE: return "none";
	case TGC_CHECK_HTTP: return "http";
	case TGC_CHECK_HTTPS: return "https";
	case TGC_CHECK_TLS:  return "tls";
	default:             return "invalid";
	}
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
			buf_put(out, "  ", 2);
		}
		if (grid->right[c]) {
			buf_fill(out, ' ', pad);
		}
		buf_put(out, cell, len);
		if (!grid->right[c] && !last) {
			buf_fill(out, ' ', pad);
		}
	}
	/* An empty last cell leaves blanks behind. */
	while (!out->failed && out->len > 0 && out->data[out->len - 1] == ' ') {
		out->data[--out->len] = '\0';
	}
	buf_put(out, "\n", 1);
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

/* -- Matching ------------------------------------------------------------- */

/*! \brief Parses a decimal number made of digits only (no sign, no blanks). */
static bool parse_uint(const char *str, uint64_t max, uint64_t *out)
{
	if (*str == '\0') {
		return false;
	}
	uint64_t val = 0;
	for (const char *p = str; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			return false;
		}
		unsigned d = (unsigned)(*p - '0');
		if (val > (max - d) / 10) {
			return false;
		}
		val = val * 10 + d;
	}
	*out = val;

	return true;
}

/*! \brief Records a candidate of a lookup. */
static void add_cand(uint32_t idx, uint32_t *cands, size_t cands_max, size_t *n)
{
	if (cands != NULL && *n < cands_max) {
		cands[*n] = idx;
	}
	(*n)++;
}

tgc_ctl_match_t tgc_ctl_node_find(const tgc_node_snap_t *nodes, uint32_t count,
                                  const char *arg, uint32_t *found,
                                  uint32_t *cands, size_t cands_max,
                                  size_t *ncands)
{
	size_t dummy;
	ncands = (ncands != NULL) ? ncands : &dummy;
	*ncands = 0;
	if (arg == NULL || *arg == '\0') {
		return TGC_CTL_MATCH_INVALID;
	}

	/* An index. */
	uint64_t idx;
	if (arg[0] >= '0' && arg[0] <= '9' && strchr(arg, '.') == NULL &&
	    strchr(arg, ':') == NULL && strchr(arg, '@') == NULL) {
		if (!parse_uint(arg, UINT64_MAX, &idx)) {
			return TGC_CTL_MATCH_INVALID;
		}
		if (idx >= count) {
			return TGC_CTL_MATCH_NONE;
		}
		*found = (uint32_t)idx;
		return TGC_CTL_MATCH_ONE;
	}

	/* ADDR or ADDR@PORT. */
	char text[TGC_ADDR_STRLEN + 8];
	if (strlen(arg) >= sizeof(text)) {
		return TGC_CTL_MATCH_INVALID;
	}
	strcpy(text, arg);
	bool with_port = false;
	uint64_t port = 0;
	char *at = strrchr(text, '@');
	if (at != NULL) {
		*at = '\0';
		if (!parse_uint(at + 1, UINT16_MAX, &port) || port == 0) {
			return TGC_CTL_MATCH_INVALID;
		}
		with_port = true;
	}
	tgc_addr_t addr;
	if (tgc_addr_parse(text, &addr) != KNOT_EOK) {
		return TGC_CTL_MATCH_INVALID;
	}

	/* Node addresses first, then mapped (LAN) addresses. */
	for (int pass = 0; pass < 2 && *ncands == 0; pass++) {
		for (uint32_t i = 0; i < count; i++) {
			const tgc_addr_t *a = (pass == 0) ? &nodes[i].addr : &nodes[i].mapped;
			if (a->family != 0 && tgc_addr_equal(a, &addr) &&
			    (!with_port || nodes[i].port == port)) {
				if (*ncands == 0) {
					*found = i;
				}
				add_cand(i, cands, cands_max, ncands);
			}
		}
	}

	switch (*ncands) {
	case 0:  return TGC_CTL_MATCH_NONE;
	case 1:  return TGC_CTL_MATCH_ONE;
	default: return TGC_CTL_MATCH_AMBIGUOUS;
	}
}

/*! \brief Compares zone names ignoring case and one trailing dot. */
static bool zone_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 1 && a[la - 1] == '.') {
		la--;
	}
	if (lb > 1 && b[lb - 1] == '.') {
		lb--;
	}

	return la == lb && strncasecmp(a, b, la) == 0;
}

/*! \brief Records a candidate of an instance lookup. */
static void add_seg_cand(size_t idx, size_t *cands, size_t cands_max, size_t *n)
{
	if (cands != NULL && *n < cands_max) {
		cands[*n] = idx;
	}
	(*n)++;
}

/*! \brief Tells whether segment \a i is a candidate of \a arg (NULL: any
 *         segment file; else a readable segment of zone \a arg). */
static bool seg_matches(const tgc_ctl_seg_t *seg, const char *arg)
{
	if (seg->kind != NULL) {
		return false;
	}
	return arg == NULL || (seg->readable && zone_equal(seg->zone, arg));
}

/*!
 * \brief Outcome of a lookup with \a n candidates: several of which
 *        exactly one is live match the live one (the others are leftovers).
 */
static tgc_ctl_match_t only_live(const tgc_ctl_seg_t *segs, size_t count,
                                 const char *arg, size_t *found, size_t n)
{
	if (n == 0) {
		return TGC_CTL_MATCH_NONE;
	} else if (n == 1) {
		return TGC_CTL_MATCH_ONE;
	}
	size_t live = 0;
	for (size_t i = 0; i < count; i++) {
		if (seg_matches(&segs[i], arg) && segs[i].live) {
			*found = i;
			live++;
		}
	}

	return (live == 1) ? TGC_CTL_MATCH_ONE : TGC_CTL_MATCH_AMBIGUOUS;
}

tgc_ctl_match_t tgc_ctl_instance_find(const tgc_ctl_seg_t *segs, size_t count,
                                      const char *arg, size_t *found,
                                      size_t *cands, size_t cands_max,
                                      size_t *ncands)
{
	size_t dummy;
	ncands = (ncands != NULL) ? ncands : &dummy;
	*ncands = 0;

	if (arg == NULL) {
		for (size_t i = 0; i < count; i++) {
			if (segs[i].kind == NULL) {
				if (*ncands == 0) {
					*found = i;
				}
				add_seg_cand(i, cands, cands_max, ncands);
			}
		}
		return only_live(segs, count, arg, found, *ncands);
	}

	if (*arg == '/') {
		arg++;
	}
	if (*arg == '\0') {
		return TGC_CTL_MATCH_INVALID;
	}
	const size_t plen = strlen(TGC_TABLE_PREFIX);
	for (size_t i = 0; i < count; i++) {
		if (strcmp(segs[i].segment, arg) == 0) {
			*found = i;
			return TGC_CTL_MATCH_ONE;
		}
	}
	for (size_t i = 0; i < count; i++) {
		const char *s = segs[i].segment;
		if (strncmp(s, TGC_TABLE_PREFIX, plen) == 0 && strcmp(s + plen, arg) == 0) {
			*found = i;
			return TGC_CTL_MATCH_ONE;
		}
	}
	for (size_t i = 0; i < count; i++) {
		if (segs[i].readable && segs[i].kind == NULL &&
		    zone_equal(segs[i].zone, arg)) {
			if (*ncands == 0) {
				*found = i;
			}
			add_seg_cand(i, cands, cands_max, ncands);
		}
	}

	return only_live(segs, count, arg, found, *ncands);
}

const char *tgc_ctl_path_kind(const char *path)
{
	struct stat st;
	if (path == NULL || lstat(path, &st) != 0) {
		return NULL;
	}
	if (S_ISREG(st.st_mode)) {
		return NULL;
	} else if (S_ISFIFO(st.st_mode)) {
		return "a FIFO";
	} else if (S_ISDIR(st.st_mode)) {
		return "a directory";
	} else if (S_ISLNK(st.st_mode)) {
		return "a symbolic link";
	} else if (S_ISSOCK(st.st_mode)) {
		return "a socket";
	} else if (S_ISCHR(st.st_mode)) {
		return "a character device";
	} else if (S_ISBLK(st.st_mode)) {
		return "a block device";
	}

	return "not a regular file";
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

int64_t tgc_ctl_heartbeat_age(const tgc_ctl_status_t *st)
{
	if (st->heartbeat_ms == 0) {
		return -1;
	}

	return (st->now_ms > st->heartbeat_ms) ?
	       (int64_t)(st->now_ms - st->heartbeat_ms) : 0;
}

bool tgc_ctl_heartbeat_stale(const tgc_ctl_status_t *st)
{
	int64_t age = tgc_ctl_heartbeat_age(st);

	return age < 0 || (uint64_t)age > 3 * (uint64_t)st->interval_ms + 1000;
}

int64_t tgc_ctl_in_state(const tgc_ctl_status_t *st, uint32_t idx)
{
	if (idx >= st->node_count || st->nodes[idx].since_ms == 0) {
		return -1;
	}
	uint64_t since = st->nodes[idx].since_ms;

	return (st->now_ms > since) ? (int64_t)(st->now_ms - since) : 0;
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
	COL_ANSWERS, COL_AGENT, COL_SOURCE, COL_REASON, STATUS_COLS
};
_Static_assert(STATUS_COLS <= TGC_CTL_GRID_COLS, "status table wider than a grid");

/*! \brief Titles of the human status table. */
static const char *const status_head[STATUS_COLS] = {
	"IDX", "ADDRESS", "PORT", "MAPPED", "TIER", "HEALTH", "ADMIN", "IN-STATE",
	"LAST", "RTT", "OK", "FAIL", "PROBES", "ANSWERS", "AGENT", "SOURCE", "REASON"
};

/*! \brief Right-aligned columns of the human status table. */
static const bool status_right[STATUS_COLS] = {
	[COL_IDX] = true, [COL_PORT] = true, [COL_IN_STATE] = true,
	[COL_RTT] = true, [COL_OK] = true, [COL_FAIL] = true,
	[COL_PROBES] = true, [COL_ANSWERS] = true,
};

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

/*! \brief Names of the cache records. */
static const char *const cache_type[TGC_CACHE_RECS] = {
	[TGC_CACHE_A] = "A", [TGC_CACHE_AAAA] = "AAAA",
};

/*! \brief Age of a time stamp relative to the snapshot, -1 if unset. */
static int64_t age_of(const tgc_ctl_status_t *st, uint64_t when_ms)
{
	if (when_ms == 0) {
		return -1;
	}

	return (st->now_ms > when_ms) ? (int64_t)(st->now_ms - when_ms) : 0;
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
		tgc_ctl_buf_printf(out, "  %-4s ", cache_type[i]);
		if (!c->valid) {
			tgc_ctl_buf_printf(out, "empty");
		} else {
			int64_t age = age_of(st, c->fetched_ms);
			tgc_ctl_buf_printf(out, "%s, %u address%s, ttl %u, age %s, "
			                   "from upstream %u",
			                   (c->rcode == 0) ? "NOERROR" : "NXDOMAIN",
			                   c->count, (c->count == 1) ? "" : "es", c->ttl,
			                   (age >= 0) ? tgc_ctl_fmt_duration((uint64_t)age,
			                   dur, sizeof(dur)) : "-", c->upstream);
		}
		int64_t polled = age_of(st, c->polled_ms);
		tgc_ctl_buf_printf(out, "; last poll %s", c->ok ? "ok" : "failed");
		if (polled >= 0) {
			tgc_ctl_buf_printf(out, " %s ago", tgc_ctl_fmt_duration(
			                   (uint64_t)polled, dur, sizeof(dur)));
		}
		tgc_ctl_buf_printf(out, "; refreshes %" PRIu64 ", failures %" PRIu64 "\n",
		                   c->refreshes, c->failures);
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
		char agent[64];
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

/*! \brief Appends a JSON number, or null when \a valid is false. */
static void json_u64(tgc_ctl_buf_t *out, bool valid, uint64_t val)
{
	if (valid) {
		tgc_ctl_buf_printf(out, "%" PRIu64, val);
	} else {
		tgc_ctl_buf_printf(out, "null");
	}
}

/*!
 * \brief Appends ",\"agent\":{...}" with what a node's agent reports, or
 *        ",\"agent\":null" when no agent is polled.
 */
static void json_agent(tgc_ctl_buf_t *out, const tgc_node_snap_t *n)
{
	if ((n->agent_flags & TGC_AGENT_F_POLLED) == 0) {
		tgc_ctl_buf_printf(out, ",\"agent\":null");
		return;
	}
	tgc_ctl_buf_printf(out, ",\"agent\":{\"answered\":%s,\"down\":%s,"
	                   "\"drain\":%s,\"maint\":%s,\"sessions\":",
	                   (n->agent_flags & TGC_AGENT_F_ANSWERED) ? "true" : "false",
	                   (n->agent_state & TGC_AGENT_DOWN) ? "true" : "false",
	                   (n->agent_state & TGC_AGENT_DRAIN) ? "true" : "false",
	                   (n->agent_state & TGC_AGENT_MAINT) ? "true" : "false");
	json_u64(out, (n->agent_flags & TGC_AGENT_F_SESSIONS) != 0, n->agent_sessions);
	tgc_ctl_buf_printf(out, ",\"maxconn\":");
	json_u64(out, (n->agent_flags & TGC_AGENT_F_MAXCONN) != 0, n->agent_maxconn);
	tgc_ctl_buf_printf(out, ",\"weight_pct\":");
	json_u64(out, (n->agent_flags & TGC_AGENT_F_PCT) != 0, n->agent_pct);
	tgc_ctl_buf_printf(out, ",\"errors\":%u}", n->agent_errors);
}

/*! \brief Appends the translator cache as JSON (null for a load balancer). */
static void render_cache_json(tgc_ctl_buf_t *out, const tgc_ctl_status_t *st)
{
	if (!st->has_cache) {
		tgc_ctl_buf_printf(out, "null");
		return;
	}
	tgc_ctl_buf_printf(out, "{\"stale_limit_s\":%u,\"records\":[",
	                   st->stale_limit_s);
	for (unsigned i = 0; i < TGC_CACHE_RECS; i++) {
		const tgc_cache_snap_t *c = &st->cache[i];
		int64_t age = age_of(st, c->fetched_ms);
		tgc_ctl_buf_printf(out, "%s\n{\"type\":\"%s\",\"valid\":%s,"
		                   "\"last_poll_ok\":%s,\"rcode\":",
		                   (i > 0) ? "," : "", cache_type[i],
		                   c->valid ? "true" : "false", c->ok ? "true" : "false");
		tgc_ctl_buf_json_str(out, !c->valid ? NULL :
		                     (c->rcode == 0) ? "NOERROR" : "NXDOMAIN");
		tgc_ctl_buf_printf(out, ",\"ttl\":");
		json_u64(out, c->valid, c->ttl);
		tgc_ctl_buf_printf(out, ",\"upstream\":");
		json_u64(out, c->valid, c->upstream);
		tgc_ctl_buf_printf(out, ",\"fetched_ms\":");
		json_u64(out, c->fetched_ms != 0, c->fetched_ms);
		tgc_ctl_buf_printf(out, ",\"age_ms\":");
		json_u64(out, c->valid && age >= 0, (uint64_t)age);
		tgc_ctl_buf_printf(out, ",\"polled_ms\":");
		json_u64(out, c->polled_ms != 0, c->polled_ms);
		tgc_ctl_buf_printf(out, ",\"refreshes\":%" PRIu64 ",\"failures\":%"
		                   PRIu64 ",\"addresses\":[", c->refreshes, c->failures);
		for (unsigned j = 0; c->valid && j < c->count && j < TGC_CACHE_ADDRS_MAX; j++) {
			char addr[TGC_ADDR_STRLEN];
			tgc_ctl_buf_printf(out, "%s", (j > 0) ? "," : "");
			tgc_ctl_buf_json_str(out, tgc_addr_format(&c->addrs[j], addr,
			                                          sizeof(addr)));
		}
		tgc_ctl_buf_printf(out, "]}");
	}
	tgc_ctl_buf_printf(out, "\n]}");
}

void tgc_ctl_render_json(tgc_ctl_buf_t *out, const tgc_ctl_status_t *st)
{
	int64_t hb_age = tgc_ctl_heartbeat_age(st);

	tgc_ctl_buf_printf(out, "{\"version\":%d,\"segment\":", TGC_CTL_JSON_VERSION);
	tgc_ctl_buf_json_str(out, st->segment);
	tgc_ctl_buf_printf(out, ",\"zone\":");
	tgc_ctl_buf_json_str(out, st->zone);
	tgc_ctl_buf_printf(out, ",\"name\":");
	tgc_ctl_buf_json_str(out, st->name);
	tgc_ctl_buf_printf(out, ",\"role\":");
	tgc_ctl_buf_json_str(out, tgc_ctl_role_str(st->role));
	tgc_ctl_buf_printf(out, ",\"check\":{\"kind\":");
	tgc_ctl_buf_json_str(out, tgc_ctl_check_str(st->check));
	tgc_ctl_buf_printf(out, ",\"interval_ms\":%u,\"timeout_ms\":%u,"
	                   "\"rise\":%u,\"fall\":%u}", st->interval_ms,
	                   st->timeout_ms, st->rise, st->fall);
	tgc_ctl_buf_printf(out, ",\"writer_pid\":");
	json_u64(out, st->writer_pid != 0, st->writer_pid);
	tgc_ctl_buf_printf(out, ",\"created_ms\":%" PRIu64 ",\"now_ms\":%" PRIu64
	                   ",\"generation\":%" PRIu64 ",\"heartbeat_ms\":",
	                   st->created_ms, st->now_ms, st->generation);
	json_u64(out, st->heartbeat_ms != 0, st->heartbeat_ms);
	tgc_ctl_buf_printf(out, ",\"heartbeat_age_ms\":");
	json_u64(out, hb_age >= 0, (uint64_t)hb_age);
	tgc_ctl_buf_printf(out, ",\"heartbeat_stale\":%s,\"all_down_answers\":%"
	                   PRIu64 ",\"min_live\":%u,\"zone_serial\":",
	                   tgc_ctl_heartbeat_stale(st) ? "true" : "false",
	                   st->all_down_answers, st->min_live);
	json_u64(out, st->zone_serial != 0, st->zone_serial);
	tgc_ctl_buf_printf(out, ",\"zone_malformed\":%u,\"admin_guarded\":%u,"
	                   "\"nodes\":[", st->zone_malformed, st->admin_guarded);

	for (uint32_t i = 0; i < st->node_count; i++) {
		const tgc_node_snap_t *n = &st->nodes[i];
		char addr[TGC_ADDR_STRLEN];
		int64_t age = tgc_ctl_in_state(st, i);

		tgc_ctl_buf_printf(out, "%s\n{\"index\":%u,\"address\":",
		                   (i > 0) ? "," : "", i);
		tgc_ctl_buf_json_str(out, tgc_addr_format(&n->addr, addr, sizeof(addr)));
		tgc_ctl_buf_printf(out, ",\"port\":%u,\"mapped\":", (unsigned)n->port);
		tgc_ctl_buf_json_str(out, (n->mapped.family != 0) ?
		                     tgc_addr_format(&n->mapped, addr, sizeof(addr)) :
		                     NULL);
		tgc_ctl_buf_printf(out, ",\"tier\":");
		tgc_ctl_buf_json_str(out, n->tier ? "backup" : "primary");
		tgc_ctl_buf_printf(out, ",\"health\":");
		tgc_ctl_buf_json_str(out, tgc_table_health_str(n->health));
		tgc_ctl_buf_printf(out, ",\"admin\":");
		tgc_ctl_buf_json_str(out, tgc_table_admin_str(n->admin));
		tgc_ctl_buf_printf(out, ",\"admin_source\":");
		tgc_ctl_buf_json_str(out, tgc_ctl_admin_src_str(n->admin_src));
		tgc_ctl_buf_printf(out, ",\"admin_local\":");
		tgc_ctl_buf_json_str(out, tgc_table_admin_str(n->admin_local));
		tgc_ctl_buf_printf(out, ",\"admin_local_uid\":");
		json_u64(out, n->admin_local != TGC_ADMIN_AUTO, n->admin_uid);
		tgc_ctl_buf_printf(out, ",\"admin_zone\":");
		tgc_ctl_buf_json_str(out, tgc_table_admin_str(n->admin_zone));
		tgc_ctl_buf_printf(out, ",\"zone_serial\":");
		json_u64(out, n->admin_zone != TGC_ADMIN_AUTO, n->zone_serial);
		tgc_ctl_buf_printf(out, ",\"reason\":");
		tgc_ctl_buf_json_str(out, (n->admin_zone != TGC_ADMIN_AUTO) ?
		                     n->zone_reason : NULL);
		tgc_ctl_buf_printf(out, ",\"admin_guarded\":%s,\"admin_since_ms\":",
		                   (n->admin_flags & TGC_ADMIN_F_GUARDED) ? "true" : "false");
		json_u64(out, n->admin_since_ms != 0, n->admin_since_ms);
		tgc_ctl_buf_printf(out, ",\"since_ms\":");
		json_u64(out, n->since_ms != 0, n->since_ms);
		tgc_ctl_buf_printf(out, ",\"in_state_ms\":");
		json_u64(out, age >= 0, (uint64_t)age);
		tgc_ctl_buf_printf(out, ",\"last_probe\":");
		tgc_ctl_buf_json_str(out, tgc_table_probe_str(n->last_probe));
		tgc_ctl_buf_printf(out, ",\"last_check_ms\":");
		json_u64(out, n->last_check_ms != 0, n->last_check_ms);
		tgc_ctl_buf_printf(out, ",\"last_rtt_us\":");
		json_u64(out, n->last_probe != TGC_PROBE_NONE &&
		              n->last_probe != TGC_PROBE_DISABLED, n->last_rtt_us);
		tgc_ctl_buf_printf(out, ",\"consec_ok\":%u,\"consec_fail\":%u,"
		                   "\"probes\":%" PRIu64 ",\"transitions\":%" PRIu64
		                   ",\"answers\":%" PRIu64,
		                   n->consec_ok, n->consec_fail, n->probes,
		                   n->transitions, n->answers);
		json_agent(out, n);
		tgc_ctl_buf_printf(out, "}");
	}
	tgc_ctl_buf_printf(out, "%s],\"cache\":", (st->node_count > 0) ? "\n" : "");
	render_cache_json(out, st);
	tgc_ctl_buf_printf(out, "}\n");
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

/*! \brief Renders the list as JSON. */
static void render_list_json(tgc_ctl_buf_t *out, const tgc_ctl_list_entry_t *entries,
                             size_t count)
{
	tgc_ctl_buf_printf(out, "{\"version\":%d,\"segments\":[", TGC_CTL_JSON_VERSION);
	for (size_t i = 0; i < count; i++) {
		const tgc_ctl_list_entry_t *e = &entries[i];
		const tgc_ctl_status_t *st = e->st;
		tgc_ctl_buf_printf(out, "%s\n{\"segment\":", (i > 0) ? "," : "");
		tgc_ctl_buf_json_str(out, e->segment);
		tgc_ctl_buf_printf(out, ",\"zone\":");
		tgc_ctl_buf_json_str(out, (st != NULL) ? st->zone : NULL);
		tgc_ctl_buf_printf(out, ",\"name\":");
		tgc_ctl_buf_json_str(out, (st != NULL) ? st->name : NULL);
		tgc_ctl_buf_printf(out, ",\"role\":");
		tgc_ctl_buf_json_str(out, (st != NULL) ? tgc_ctl_role_str(st->role) : NULL);
		tgc_ctl_buf_printf(out, ",\"node_count\":");
		json_u64(out, st != NULL, (st != NULL) ? st->node_count : 0);
		tgc_ctl_buf_printf(out, ",\"writer_pid\":");
		json_u64(out, st != NULL && st->writer_pid != 0,
		         (st != NULL) ? st->writer_pid : 0);
		tgc_ctl_buf_printf(out, ",\"writer_alive\":%s", (st == NULL) ? "null" :
		                   e->writer_gone ? "false" : "true");
		int64_t age = (st != NULL) ? tgc_ctl_heartbeat_age(st) : -1;
		tgc_ctl_buf_printf(out, ",\"heartbeat_age_ms\":");
		json_u64(out, age >= 0, (uint64_t)age);
		tgc_ctl_buf_printf(out, ",\"heartbeat_stale\":%s,\"error\":",
		                   (st == NULL) ? "null" :
		                   tgc_ctl_heartbeat_stale(st) ? "true" : "false");
		tgc_ctl_buf_json_str(out, (st == NULL) ? e->error : NULL);
		tgc_ctl_buf_printf(out, "}");
	}
	tgc_ctl_buf_printf(out, "%s]}\n", (count > 0) ? "\n" : "");
}

void tgc_ctl_render_list(tgc_ctl_buf_t *out, const tgc_ctl_list_entry_t *entries,
                         size_t count, bool json)
{
	if (json) {
		render_list_json(out, entries, count);
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

/* -- Prometheus metrics --------------------------------------------------- */

void tgc_ctl_buf_prom_label(tgc_ctl_buf_t *buf, const char *str)
{
	const unsigned char *s = (const unsigned char *)((str != NULL) ? str : "");
	while (*s != '\0') {
		uint32_t cp;
		size_t len = utf8_len(s, &cp);
		if (len == 0) {
			buf_put(buf, "\xef\xbf\xbd", 3); /* U+FFFD */
			s++;
			continue;
		}
		switch (cp) {
		case '\\': buf_put(buf, "\\\\", 2); break;
		case '"':  buf_put(buf, "\\\"", 2); break;
		case '\n': buf_put(buf, "\\n", 2); break;
		default:   buf_put(buf, (const char *)s, len); break;
		}
		s += len;
	}
}

/*! \brief Kinds of metric families. */
typedef enum {
	PROM_GAUGE,
	PROM_COUNTER,
} prom_type_t;

/*! \brief Per-node metric families. */
typedef enum {
	NM_HEALTH, NM_ADMIN, NM_RTT, NM_CHECK_TIME, NM_PROBES, NM_TRANSITIONS,
	NM_ANSWERS, NM_AGENT_SESSIONS, NM_AGENT_MAXCONN, NM_AGENT_STATE,
	NM_AGENT_ERRORS, NODE_METRICS
} node_metric_t;

/*! \brief Per-instance metric families. */
typedef enum {
	IM_WRITER_ALIVE, IM_WRITER_PID, IM_HEARTBEAT_AGE, IM_NODES, IM_LIVE_NODES,
	IM_ALL_DOWN, IM_ALL_DOWN_ANSWERS, INSTANCE_METRICS
} inst_metric_t;

/*! \brief A metric family: name, type and help text. */
typedef struct {
	const char *name;
	prom_type_t type;
	const char *help;
} prom_family_t;

/*! \brief Node metric families, in output order. */
static const prom_family_t node_families[NODE_METRICS] = {
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
};

/*! \brief Instance metric families, in output order. */
static const prom_family_t inst_families[INSTANCE_METRICS] = {
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
static void prom_node_sample(tgc_ctl_buf_t *out, node_metric_t m,
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
	const char *name = node_families[m].name;

	switch (m) {
	case NM_HEALTH:
		for (size_t i = 0; i < sizeof(healths) / sizeof(healths[0]); i++) {
			prom_node_labels(out, name, st, idx);
			tgc_ctl_buf_printf(out, ",state=\"%s\"} %d\n",
			                   tgc_table_health_str(healths[i]),
			                   node->health == healths[i]);
		}
		return;
	case NM_ADMIN:
		for (size_t i = 0; i < sizeof(admins) / sizeof(admins[0]); i++) {
			prom_node_labels(out, name, st, idx);
			tgc_ctl_buf_printf(out, ",state=\"%s\"} %d\n",
			                   tgc_table_admin_str(admins[i]),
			                   node->admin == admins[i]);
		}
		return;
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
	default:
		return;
	}
}

/*! \brief Appends one instance sample of family \a m. */
static void prom_inst_sample(tgc_ctl_buf_t *out, inst_metric_t m,
                             const tgc_ctl_status_t *st)
{
	const char *name = inst_families[m].name;
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
	for (int m = 0; m < INSTANCE_METRICS; m++) {
		prom_family(out, &inst_families[m]);
		for (size_t i = 0; i < count; i++) {
			prom_inst_sample(out, (inst_metric_t)m, &sts[i]);
		}
	}
	for (int m = 0; m < NODE_METRICS; m++) {
		prom_family(out, &node_families[m]);
		for (size_t i = 0; i < count; i++) {
			if (!sts[i].writer_alive) {
				continue;
			}
			for (uint32_t n = 0; n < sts[i].node_count; n++) {
				prom_node_sample(out, (node_metric_t)m, &sts[i], n);
			}
		}
	}
}
