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

#include <stdio.h>
#include <string.h>

#include "module/probe_agent.h"

void tgc_agent_reader_init(tgc_agent_reader_t *r)
{
	memset(r, 0, sizeof(*r));
	r->status = TGC_AGENT_MORE;
}

/*! \brief Ends reading with status \a st. */
static tgc_agent_status_t finish(tgc_agent_reader_t *r, tgc_agent_status_t st)
{
	r->line[r->len] = '\0';
	r->status = st;
	return st;
}

tgc_agent_status_t tgc_agent_feed(tgc_agent_reader_t *r, const uint8_t *data,
                                  size_t len, size_t *used)
{
	size_t i = 0;

	while (r->status == TGC_AGENT_MORE && i < len) {
		uint8_t c = data[i++];
		if (c == '\n') {
			finish(r, TGC_AGENT_LINE);
			break;
		}
		if (r->cr) {
			/* A CR is only allowed right before the newline. */
			finish(r, TGC_AGENT_BADBYTE);
			break;
		}
		if (c == '\r') {
			r->cr = true;
			continue;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			finish(r, TGC_AGENT_BADBYTE);
			break;
		}
		if (r->len >= TGC_AGENT_LINE_MAX) {
			finish(r, TGC_AGENT_LONG);
			break;
		}
		r->line[r->len++] = (char)c;
	}

	if (used != NULL) {
		*used = i;
	}
	return r->status;
}

tgc_agent_status_t tgc_agent_eof(tgc_agent_reader_t *r)
{
	if (r->status != TGC_AGENT_MORE) {
		return r->status;
	}
	if (r->len == 0 && !r->cr) {
		return finish(r, TGC_AGENT_EMPTY);
	}
	return finish(r, TGC_AGENT_LINE);
}

/*! \brief Tells whether \a c separates words. */
static bool is_sep(char c)
{
	return c == ' ' || c == ',' || c == '\t';
}

/*! \brief ASCII lower case (locale-independent). */
static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/*! \brief Tells whether word \a w (\a len bytes) is \a lit, any case. */
static bool word_is(const char *w, size_t len, const char *lit)
{
	size_t n = strlen(lit);
	if (len != n) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (lower(w[i]) != lit[i]) {
			return false;
		}
	}
	return true;
}

/*!
 * \brief Reads \a len decimal digits at \a s, at most \a max.
 *
 * \return false if empty, not all digits or above \a max.
 */
static bool parse_num(const char *s, size_t len, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (len == 0) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > max) {
			return false;
		}
	}
	*out = (uint32_t)v;
	return true;
}

/*! \brief Tells whether \a w starts with \a prefix (any case); skips it. */
static bool strip_prefix(const char **w, size_t *len, const char *prefix)
{
	size_t n = strlen(prefix);
	if (*len < n) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (lower((*w)[i]) != prefix[i]) {
			return false;
		}
	}
	*w += n;
	*len -= n;
	return true;
}

/*! \brief Keeps the first unknown word, escaped. */
static void keep_unknown(tgc_agent_report_t *out, const char *w, size_t len)
{
	size_t o = 0;

	if (len > TGC_AGENT_WORD_MAX) {
		len = TGC_AGENT_WORD_MAX;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)w[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			out->first_unknown[o++] = (char)c;
		} else {
			snprintf(out->first_unknown + o, 5, "\\x%02x", c);
			o += 4;
		}
	}
	out->first_unknown[o] = '\0';
}

/*! \brief Applies one word; false if it is not understood. */
static bool parse_word(tgc_agent_report_t *out, const char *w, size_t len)
{
	const uint8_t all = TGC_AGENT_DOWN | TGC_AGENT_DRAIN | TGC_AGENT_MAINT;
	uint32_t v;

	if (word_is(w, len, "up") || word_is(w, len, "ready")) {
		out->state_clear = all;
		out->state_set = 0;
		return true;
	}
	if (word_is(w, len, "down")) {
		out->state_set |= TGC_AGENT_DOWN;
		return true;
	}
	if (word_is(w, len, "drain")) {
		out->state_set |= TGC_AGENT_DRAIN;
		return true;
	}
	if (word_is(w, len, "maint")) {
		out->state_set |= TGC_AGENT_MAINT;
		return true;
	}
	if (len >= 2 && w[len - 1] == '%') {
		if (!parse_num(w, len - 1, TGC_AGENT_PCT_MAX, &v)) {
			return false;
		}
		out->has_pct = true;
		out->pct = (uint16_t)v;
		return true;
	}
	const char *rest = w;
	size_t rlen = len;
	if (strip_prefix(&rest, &rlen, "maxconn:")) {
		if (!parse_num(rest, rlen, TGC_AGENT_NUM_MAX, &v)) {
			return false;
		}
		out->has_maxconn = true;
		out->maxconn = v;
		return true;
	}
	if (strip_prefix(&rest, &rlen, "sessions:")) {
		if (!parse_num(rest, rlen, TGC_AGENT_NUM_MAX, &v)) {
			return false;
		}
		out->has_sessions = true;
		out->sessions = v;
		return true;
	}
	return false;
}

void tgc_agent_parse(const char *line, size_t len, tgc_agent_report_t *out)
{
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	if (line == NULL) {
		return;
	}
	while (i < len) {
		while (i < len && is_sep(line[i])) {
			i++;
		}
		size_t start = i;
		while (i < len && !is_sep(line[i])) {
			i++;
		}
		if (i == start) {
			break;
		}
		if (parse_word(out, line + start, i - start)) {
			out->words++;
		} else {
			if (out->unknown == 0) {
				keep_unknown(out, line + start, i - start);
			}
			out->unknown++;
		}
	}
}
