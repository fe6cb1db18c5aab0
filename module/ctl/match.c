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

#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <libknot/errcode.h>

#include "module/ctl/format.h"

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

/*!
 * \brief Records candidate \a i of a lookup: the first one is the match (if
 *        it stays alone), the first \a cands_max go to \a cands (may be
 *        NULL); \a *ncands counts them all. For the index types of both
 *        lookups (uint32_t nodes, size_t segments).
 */
#define ADD_CAND(i, found, cands, cands_max, ncands) do { \
	if (*(ncands) == 0) { \
		*(found) = (i); \
	} \
	if ((cands) != NULL && *(ncands) < (cands_max)) { \
		(cands)[*(ncands)] = (i); \
	} \
	(*(ncands))++; \
} while (0)

tgc_ctl_match_t tgc_ctl_node_find(const tgc_node_snap_t *nodes, uint32_t count,
                                  const char *arg, uint32_t *found,
                                  uint32_t *cands, size_t cands_max,
                                  size_t *ncands)
{
	uint64_t idx;
	size_t dummy;
	ncands = (ncands != NULL) ? ncands : &dummy;
	*ncands = 0;
	if (arg == NULL || *arg == '\0') {
		return TGC_CTL_MATCH_INVALID;
	}

	/* An index. */
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
				ADD_CAND(i, found, cands, cands_max, ncands);
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
				ADD_CAND(i, found, cands, cands_max, ncands);
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
			ADD_CAND(i, found, cands, cands_max, ncands);
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
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:  return NULL;
	case S_IFIFO:  return "a FIFO";
	case S_IFDIR:  return "a directory";
	case S_IFLNK:  return "a symbolic link";
	case S_IFSOCK: return "a socket";
	case S_IFCHR:  return "a character device";
	case S_IFBLK:  return "a block device";
	default:       return "not a regular file";
	}
}

