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

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libknot/errcode.h>

#include "module/addr.h"

int tgc_addr_parse(const char *str, tgc_addr_t *out)
{
	if (str == NULL || out == NULL) {
		return KNOT_EINVAL;
	}

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, str, out->bytes) == 1) {
		out->family = AF_INET;
		out->len = 4;
		return KNOT_EOK;
	}
	if (inet_pton(AF_INET6, str, out->bytes) == 1) {
		out->family = AF_INET6;
		out->len = 16;
		return KNOT_EOK;
	}
	memset(out, 0, sizeof(*out));

	return KNOT_EINVAL;
}

int tgc_addr_parse_prefix(const char *str, tgc_addr_t *out, unsigned *prefix)
{
	if (str == NULL || out == NULL || prefix == NULL) {
		return KNOT_EINVAL;
	}

	char buf[TGC_ADDR_STRLEN + 8];
	const char *slash = strchr(str, '/');
	size_t addr_len = (slash != NULL) ? (size_t)(slash - str) : strlen(str);
	if (addr_len == 0 || addr_len >= TGC_ADDR_STRLEN) {
		return KNOT_EINVAL;
	}
	memcpy(buf, str, addr_len);
	buf[addr_len] = '\0';

	int ret = tgc_addr_parse(buf, out);
	if (ret != KNOT_EOK) {
		return ret;
	}

	unsigned max = out->len * 8;
	if (slash == NULL) {
		*prefix = max;
		return KNOT_EOK;
	}

	const char *num = slash + 1;
	if (*num == '\0' || strlen(num) > 3) {
		return KNOT_EINVAL;
	}
	unsigned val = 0;
	for (const char *p = num; *p != '\0'; p++) {
		if (*p < '0' || *p > '9') {
			return KNOT_EINVAL;
		}
		val = val * 10 + (unsigned)(*p - '0');
	}
	if (val > max || (num[0] == '0' && num[1] != '\0')) {
		return KNOT_EINVAL;
	}
	*prefix = val;

	return KNOT_EOK;
}

const char *tgc_addr_format(const tgc_addr_t *addr, char *buf, size_t buf_len)
{
	if (buf == NULL || buf_len == 0) {
		return "";
	}
	if (addr == NULL || (addr->family != AF_INET && addr->family != AF_INET6) ||
	    inet_ntop(addr->family, addr->bytes, buf, buf_len) == NULL) {
		snprintf(buf, buf_len, "?");
	}

	return buf;
}

bool tgc_addr_equal(const tgc_addr_t *a, const tgc_addr_t *b)
{
	return a->family == b->family && a->len == b->len &&
	       memcmp(a->bytes, b->bytes, a->len) == 0;
}

bool tgc_addr_usable(const tgc_addr_t *addr)
{
	static const uint8_t zero[16] = { 0 };
	if ((addr->family != AF_INET && addr->family != AF_INET6) ||
	    addr->len != ((addr->family == AF_INET) ? 4 : 16) ||
	    memcmp(addr->bytes, zero, addr->len) == 0) {
		return false;
	}
	if (addr->family == AF_INET) {
		return (addr->bytes[0] & 0xf0) != 0xe0 &&  /* 224.0.0.0/4 */
		       memcmp(addr->bytes, "\xff\xff\xff\xff", 4) != 0;
	}
	return addr->bytes[0] != 0xff;                     /* ff00::/8 */
}

int tgc_addr_add(const tgc_addr_t *base, uint64_t n, tgc_addr_t *out)
{
	if (base == NULL || out == NULL || (base->len != 4 && base->len != 16)) {
		return KNOT_EINVAL;
	}

	tgc_addr_t res = *base;
	uint64_t carry = n;
	for (int i = res.len - 1; i >= 0 && carry > 0; i--) {
		uint64_t sum = res.bytes[i] + (carry & 0xff);
		res.bytes[i] = (uint8_t)sum;
		carry = (carry >> 8) + (sum >> 8);
	}
	if (carry > 0) {
		return KNOT_ERANGE;
	}
	*out = res;

	return KNOT_EOK;
}

bool tgc_addr_in_prefix(const tgc_addr_t *addr, const tgc_addr_t *net,
                        unsigned prefix)
{
	if (addr->family != net->family || prefix > addr->len * 8u) {
		return false;
	}

	unsigned full = prefix / 8;
	if (memcmp(addr->bytes, net->bytes, full) != 0) {
		return false;
	}
	unsigned rest = prefix % 8;
	if (rest == 0) {
		return true;
	}
	uint8_t mask = (uint8_t)(0xff << (8 - rest));

	return (addr->bytes[full] & mask) == (net->bytes[full] & mask);
}

void tgc_addr_mask(tgc_addr_t *addr, unsigned prefix)
{
	for (unsigned i = 0; i < addr->len; i++) {
		if (prefix >= 8) {
			prefix -= 8;
		} else {
			addr->bytes[i] &= (uint8_t)(0xff << (8 - prefix));
			prefix = 0;
		}
	}
}

int tgc_addr_from_sockaddr(const struct sockaddr_storage *ss, tgc_addr_t *out)
{
	memset(out, 0, sizeof(*out));
	if (ss == NULL) {
		return KNOT_EINVAL;
	}
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		out->family = AF_INET;
		out->len = 4;
		memcpy(out->bytes, &sin->sin_addr, 4);
		return KNOT_EOK;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
		out->family = AF_INET6;
		out->len = 16;
		memcpy(out->bytes, &sin6->sin6_addr, 16);
		return KNOT_EOK;
	}

	return KNOT_EINVAL;
}

void tgc_addr_to_sockaddr(const tgc_addr_t *addr, uint16_t port,
                          struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (addr->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr->bytes, 4);
	} else if (addr->family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, addr->bytes, 16);
	}
}
