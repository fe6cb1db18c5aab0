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

#include "module/probe_http.h"

/*! \brief RFC 9110 tchar. */
static bool is_tchar(uint8_t c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z')) {
		return true;
	}
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/*! \brief Octets allowed in a reason phrase or a field value. */
static bool is_text(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/*!
 * \brief Finds the end of the line starting at \a pos.
 *
 * \return 1 with \a *eol at the LF and \a *next after it; 0 if no LF yet
 *         (and no bad CR); -1 for a CR not followed by LF.
 */
static int line_end(const uint8_t *buf, size_t len, size_t pos, size_t *eol,
                    size_t *next)
{
	for (size_t i = pos; i < len; i++) {
		if (buf[i] == '\n') {
			*eol = (i > pos && buf[i - 1] == '\r') ? i - 1 : i;
			*next = i + 1;
			return 1;
		}
		if (buf[i] == '\r' && i + 1 < len && buf[i + 1] != '\n') {
			return -1;
		}
	}
	return 0;
}

/*! \brief Checks the status line buf[0, end). */
static bool status_line(const uint8_t *buf, size_t end, tgc_http_resp_t *r)
{
	/* "HTTP/1.D SP DDD" */
	if (end < 12 || memcmp(buf, "HTTP/1.", 7) != 0 ||
	    buf[7] < '0' || buf[7] > '9' || buf[8] != ' ') {
		return false;
	}
	uint16_t status = 0;
	for (size_t i = 9; i < 12; i++) {
		if (buf[i] < '0' || buf[i] > '9') {
			return false;
		}
		status = status * 10 + (buf[i] - '0');
	}
	if (status < 100 || status > 599) {
		return false;
	}
	if (end > 12) {
		if (buf[12] != ' ') {
			return false;
		}
		for (size_t i = 13; i < end; i++) {
			if (!is_text(buf[i])) {
				return false;
			}
		}
	}
	r->major = 1;
	r->minor = buf[7] - '0';
	r->status = status;
	return true;
}

/*! \brief Checks the header field line buf[pos, end). */
static bool field_line(const uint8_t *buf, size_t pos, size_t end)
{
	size_t i = pos;
	while (i < end && is_tchar(buf[i])) {
		i++;
	}
	/* A name of at least one character, a colon right after it. */
	if (i == pos || i == end || buf[i] != ':') {
		return false;
	}
	for (i++; i < end; i++) {
		if (!is_text(buf[i])) {
			return false;
		}
	}
	return true;
}

/*!
 * \brief Checks a line that has no end yet: whether it can still become
 *        valid (the status line or a field), so that garbage fails at once
 *        rather than at the timeout.
 */
static bool partial_ok(const uint8_t *buf, size_t pos, size_t len, bool first)
{
	static const char proto[] = "HTTP/1.";
	size_t n = len - pos;
	/* A trailing CR may precede the LF still to come. */
	if (n > 0 && buf[len - 1] == '\r') {
		n--;
	}
	const uint8_t *p = buf + pos;
	if (first) {
		for (size_t i = 0; i < n; i++) {
			bool ok;
			if (i < 7) {
				ok = p[i] == (uint8_t)proto[i];
			} else if (i == 7) {
				ok = p[i] >= '0' && p[i] <= '9';
			} else if (i == 8 || i == 12) {
				ok = p[i] == ' ';
			} else if (i < 12) {
				ok = p[i] >= '0' && p[i] <= '9';
			} else {
				ok = is_text(p[i]);
			}
			if (!ok) {
				return false;
			}
		}
		return true;
	}
	size_t i = 0;
	while (i < n && is_tchar(p[i])) {
		i++;
	}
	if (i == n) {
		return true;
	}
	if (i == 0 || p[i] != ':') {
		return false;
	}
	for (i++; i < n; i++) {
		if (!is_text(p[i])) {
			return false;
		}
	}
	return true;
}

tgc_http_ret_t tgc_http_parse(const uint8_t *buf, size_t len,
                              tgc_http_resp_t *out)
{
	tgc_http_resp_t r = { 0 };
	tgc_http_ret_t ret = TGC_HTTP_MORE;
	size_t pos = 0;

	if (buf == NULL && len > 0) {
		ret = TGC_HTTP_BAD;
		goto done;
	}
	if (len > TGC_HTTP_HEAD_MAX) {
		/* Only the head limit counts: look at that much. */
		len = TGC_HTTP_HEAD_MAX + 1;
	}
	for (bool first = true; ; first = false) {
		size_t eol = 0, next = 0;
		int found = line_end(buf, len, pos, &eol, &next);
		if (found < 0) {
			ret = TGC_HTTP_BAD;
			break;
		}
		if (found == 0) {
			ret = (len > TGC_HTTP_HEAD_MAX ||
			       !partial_ok(buf, pos, len, first)) ?
			      TGC_HTTP_BAD : TGC_HTTP_MORE;
			break;
		}
		if (next > TGC_HTTP_HEAD_MAX) {
			ret = TGC_HTTP_BAD;
			break;
		}
		if (first) {
			if (!status_line(buf, eol, &r)) {
				ret = TGC_HTTP_BAD;
				break;
			}
		} else if (eol == pos) {
			r.head_len = next;
			ret = TGC_HTTP_DONE;
			break;
		} else if (!field_line(buf, pos, eol)) {
			/* Includes obsolete folding (leading white space). */
			ret = TGC_HTTP_BAD;
			break;
		} else if (r.fields < UINT16_MAX) {
			r.fields++;
		}
		pos = next;
	}
done:
	if (out != NULL) {
		*out = r;
	}
	return ret;
}

bool tgc_http_path_valid(const char *path)
{
	if (path == NULL || path[0] != '/') {
		return false;
	}
	size_t len = strlen(path);
	if (len > TGC_HTTP_PATH_MAX) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)path[i];
		if (c <= 0x20 || c >= 0x7f) {
			return false;
		}
	}
	return true;
}

bool tgc_http_host_valid(const char *host)
{
	if (host == NULL) {
		return false;
	}
	size_t len = strlen(host);
	if (len == 0 || len > TGC_HTTP_HOST_MAX) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = host[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || strchr("-._:[]", c) != NULL)) {
			return false;
		}
	}
	return true;
}

size_t tgc_http_request(char *buf, size_t size, const char *path,
                        const char *host)
{
	if (buf == NULL || !tgc_http_path_valid(path) ||
	    !tgc_http_host_valid(host)) {
		return 0;
	}
	int n = snprintf(buf, size, "GET %s HTTP/1.1\r\n"
	                 "Host: %s\r\n"
	                 "User-Agent: mod-tgcluster\r\n"
	                 "Accept: */*\r\n"
	                 "Connection: close\r\n"
	                 "\r\n", path, host);
	return (n > 0 && (size_t)n < size) ? (size_t)n : 0;
}

size_t tgc_http_default_host(char *buf, size_t size, const char *addr_text,
                             bool v6, uint16_t port, bool tls)
{
	if (buf == NULL || addr_text == NULL) {
		return 0;
	}
	uint16_t dflt = tls ? 443 : 80;
	int n;
	if (port == dflt) {
		n = snprintf(buf, size, v6 ? "[%s]" : "%s", addr_text);
	} else {
		n = snprintf(buf, size, v6 ? "[%s]:%u" : "%s:%u", addr_text,
		             (unsigned)port);
	}
	return (n > 0 && (size_t)n < size) ? (size_t)n : 0;
}

bool tgc_http_status_ok(uint16_t status, const uint16_t *codes, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (codes[i] == status) {
			return true;
		}
	}
	return false;
}
