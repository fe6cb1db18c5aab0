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

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libknot/errcode.h>

#include "module/admin.h"

/*! \brief Sets \a *err and returns KNOT_EMALF. */
static int malformed(const char **err, const char *why)
{
	if (err != NULL) {
		*err = why;
	}
	return KNOT_EMALF;
}

/*! \brief Tells whether \a len bytes at \a s equal the text \a word. */
static bool str_is(const uint8_t *s, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(s, word, len) == 0;
}

/*! \brief Parses NODE ("ADDRESS" or "ADDRESS@PORT"). */
static int parse_node(const uint8_t *s, size_t len, tgc_admin_rec_t *out)
{
	char buf[TGC_ADMIN_NODE_MAX];
	if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len) != NULL) {
		return KNOT_EMALF;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	out->port = 0;
	char *at = strchr(buf, '@');
	if (at != NULL) {
		*at = '\0';
		const char *p = at + 1;
		unsigned long port = 0;
		if (*p == '\0' || strlen(p) > 5) {
			return KNOT_EMALF;
		}
		for (; *p != '\0'; p++) {
			if (*p < '0' || *p > '9') {
				return KNOT_EMALF;
			}
			port = port * 10 + (unsigned long)(*p - '0');
		}
		if (port == 0 || port > 65535) {
			return KNOT_EMALF;
		}
		out->port = (uint16_t)port;
	}

	return tgc_addr_parse(buf, &out->addr) == KNOT_EOK ? KNOT_EOK : KNOT_EMALF;
}

/*! \brief Copies \a len bytes as text: printable ASCII, others '?'. */
static void text_copy(char *dst, size_t dst_len, const uint8_t *s, size_t len,
                      bool lower)
{
	size_t n = (len < dst_len - 1) ? len : dst_len - 1;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (c < 0x20 || c > 0x7e) {
			c = '?';
		} else if (lower && c >= 'A' && c <= 'Z') {
			c = (uint8_t)(c - 'A' + 'a');
		}
		dst[i] = (char)c;
	}
	dst[n] = '\0';
}

int tgc_admin_parse(const uint8_t *rdata, size_t len, tgc_admin_rec_t *out,
                    const char **err)
{
	if (rdata == NULL || out == NULL) {
		return KNOT_EINVAL;
	}
	memset(out, 0, sizeof(*out));
	bool has_reason = false;
	unsigned idx = 0;
	size_t pos = 0;
	while (pos < len) {
		size_t slen = rdata[pos++];
		if (slen > len - pos) {
			/* Only reached with broken rdata (knotd checks it). */
			return idx == 0 ? KNOT_ENOENT :
			       malformed(err, "truncated string");
		}
		const uint8_t *s = rdata + pos;
		pos += slen;
		switch (idx++) {
		case 0:
			if (!str_is(s, slen, TGC_ADMIN_TAG)) {
				return KNOT_ENOENT;
			}
			continue;
		case 1:
			if (parse_node(s, slen, out) != KNOT_EOK) {
				return malformed(err, "NODE is not an address");
			}
			continue;
		case 2:
			if (str_is(s, slen, "drain")) {
				out->state = TGC_ADMIN_DRAIN;
			} else if (str_is(s, slen, "down")) {
				out->state = TGC_ADMIN_DOWN;
			} else if (str_is(s, slen, "up")) {
				out->state = TGC_ADMIN_UP;
			} else {
				return malformed(err, "STATE is not drain, down or up");
			}
			continue;
		default:
			break;
		}
		if (slen > 5 && memcmp(s, "name=", 5) == 0) {
			if (out->has_name || slen - 5 >= TGC_ADMIN_NAME_MAX) {
				return malformed(err, "name= repeated or too long");
			}
			if (memchr(s + 5, '\0', slen - 5) != NULL) {
				return malformed(err, "name= holds a zero byte");
			}
			text_copy(out->name, sizeof(out->name), s + 5, slen - 5, true);
			size_t nlen = strlen(out->name);
			if (nlen > 1 && out->name[nlen - 1] == '.') {
				out->name[nlen - 1] = '\0';
			}
			out->has_name = true;
		} else if (slen >= 7 && memcmp(s, "reason=", 7) == 0) {
			if (has_reason) {
				return malformed(err, "reason= repeated");
			}
			text_copy(out->reason, sizeof(out->reason), s + 7, slen - 7, false);
			has_reason = true;
		} else {
			return malformed(err, "unknown string after STATE");
		}
	}
	if (idx == 0) {
		return KNOT_ENOENT;
	}
	if (idx < 3) {
		return malformed(err, "NODE or STATE missing");
	}

	return KNOT_EOK;
}

bool tgc_admin_name_match(const tgc_admin_rec_t *rec, const char *name)
{
	if (!rec->has_name) {
		return true;
	}
	if (name == NULL) {
		return false;
	}
	size_t len = strlen(name);
	if (len > 1 && name[len - 1] == '.') {
		len--;
	}

	return strlen(rec->name) == len && strncasecmp(rec->name, name, len) == 0;
}

/*! \brief Whether a node in \a admin with \a health gets answers. */
static bool answerable(tgc_admin_t admin, tgc_health_t health)
{
	return admin == TGC_ADMIN_UP ||
	       (admin == TGC_ADMIN_AUTO && health != TGC_HEALTH_DOWN);
}

void tgc_admin_resolve(const tgc_admin_in_t *in, tgc_admin_out_t *out,
                       uint32_t count, uint32_t min_live)
{
	uint32_t live = 0;
	for (uint32_t i = 0; i < count; i++) {
		out[i].guarded = false;
		if (in[i].local != TGC_ADMIN_AUTO) {
			out[i].admin = in[i].local;
			out[i].src = TGC_ADMIN_SRC_LOCAL;
		} else if (in[i].zone == TGC_ADMIN_UP) {
			out[i].admin = TGC_ADMIN_UP;
			out[i].src = TGC_ADMIN_SRC_ZONE;
		} else {
			out[i].admin = TGC_ADMIN_AUTO;
			out[i].src = TGC_ADMIN_SRC_NONE;
		}
		live += answerable(out[i].admin, in[i].health);
	}
	for (uint32_t i = 0; i < count; i++) {
		if (in[i].local != TGC_ADMIN_AUTO ||
		    (in[i].zone != TGC_ADMIN_DRAIN && in[i].zone != TGC_ADMIN_DOWN)) {
			continue;
		}
		bool counted = answerable(out[i].admin, in[i].health);
		if (counted && live <= min_live) {
			out[i].guarded = true;
			continue;
		}
		out[i].admin = in[i].zone;
		out[i].src = TGC_ADMIN_SRC_ZONE;
		live -= counted;
	}
}

uint32_t tgc_admin_live_after(const tgc_admin_in_t *in, uint32_t count,
                              uint32_t idx, tgc_admin_t state, uint32_t min_live)
{
	tgc_admin_in_t *tmp = malloc(count * sizeof(*tmp) + 1);
	tgc_admin_out_t *res = malloc(count * sizeof(*res) + 1);
	uint32_t live = 0;
	if (tmp != NULL && res != NULL) {
		memcpy(tmp, in, count * sizeof(*tmp));
		if (idx < count) {
			tmp[idx].local = state;
		}
		tgc_admin_resolve(tmp, res, count, min_live);
		for (uint32_t i = 0; i < count; i++) {
			live += answerable(res[i].admin, tmp[i].health);
		}
	}
	free(tmp);
	free(res);

	return live;
}

int tgc_admin_box_init(tgc_admin_box_t *box, uint32_t count)
{
	memset(box, 0, sizeof(*box));
	box->nodes = calloc(count + 1, sizeof(*box->nodes));
	if (box->nodes == NULL) {
		return KNOT_ENOMEM;
	}
	box->count = count;
	pthread_mutex_init(&box->lock, NULL);

	return KNOT_EOK;
}

void tgc_admin_box_deinit(tgc_admin_box_t *box)
{
	if (box->nodes != NULL) {
		pthread_mutex_destroy(&box->lock);
		free(box->nodes);
		box->nodes = NULL;
	}
}

void tgc_admin_box_post(tgc_admin_box_t *box, uint32_t serial,
                        uint32_t malformed, const tgc_admin_zone_t *nodes)
{
	pthread_mutex_lock(&box->lock);
	memcpy(box->nodes, nodes, box->count * sizeof(*nodes));
	box->serial = serial;
	box->malformed = malformed;
	box->pending = true;
	pthread_mutex_unlock(&box->lock);
}

bool tgc_admin_box_take(tgc_admin_box_t *box, uint32_t *serial,
                        uint32_t *malformed, tgc_admin_zone_t *nodes)
{
	pthread_mutex_lock(&box->lock);
	bool pending = box->pending;
	if (pending) {
		memcpy(nodes, box->nodes, box->count * sizeof(*nodes));
		*serial = box->serial;
		*malformed = box->malformed;
		box->pending = false;
	}
	pthread_mutex_unlock(&box->lock);

	return pending;
}
