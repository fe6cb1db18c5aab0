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
 * \brief libFuzzer harness: the load report option parser
 *        (tgc_loadopt_parse(), module/loadopt.h).
 *
 * The option data comes from the network (a load balancer's answer to a
 * translator's poll, or anyone who can spoof one). The whole input is the
 * option data. It is parsed twice: with room for a few entries (input size
 * mod 5) and with room for every entry it can hold. Invariants: never more
 * entries than room; both parses agree on the verdict and on the entries
 * the small one keeps; an error stores nothing; an accepted report written
 * back (tgc_loadopt_write_entry() after the version) is the input byte for
 * byte, and its size is tgc_loadopt_size() of its families;
 * tgc_loadopt_is_request() holds exactly for a first byte of 1.
 */

#include <netinet/in.h>

#include "fuzz_util.h"
#include "module/loadopt.h"

/*! \brief Entries as the parser gives them (whole structs compared). */
static bool entry_equal(const tgc_loadopt_entry_t *a, const tgc_loadopt_entry_t *b)
{
	return a->addr.family == b->addr.family && a->addr.len == b->addr.len &&
	       memcmp(a->addr.bytes, b->addr.bytes, a->addr.len) == 0 &&
	       a->flags == b->flags && a->sessions == b->sessions &&
	       a->capacity_x100 == b->capacity_x100;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65535) {
		return 0; /* An EDNS option holds at most this much. */
	}
	/* Exactly the input: ASan sees any read past it. */
	uint8_t *in = malloc(size > 0 ? size : 1);
	FUZZ_ASSERT(in != NULL);
	memcpy(in, data, size);

	size_t small_max = size % 5;
	size_t large_max = size / TGC_LOADOPT_ENTRY_HDR + 1;
	tgc_loadopt_entry_t small[4];
	tgc_loadopt_entry_t *large = malloc(large_max * sizeof(*large));
	FUZZ_ASSERT(large != NULL);
	size_t small_count = 12345;
	size_t large_count = 12345;
	int small_ret = tgc_loadopt_parse(size > 0 ? in : NULL, size,
	                                  small_max > 0 ? small : NULL,
	                                  small_max, &small_count);
	int ret = tgc_loadopt_parse(size > 0 ? in : NULL, size, large, large_max,
	                            &large_count);

	FUZZ_ASSERT(ret == KNOT_EOK || ret == KNOT_EMALF || ret == KNOT_ENOTSUP);
	FUZZ_ASSERT(small_ret == ret);
	FUZZ_ASSERT(small_count <= small_max);
	FUZZ_ASSERT(large_count <= large_max);
	FUZZ_ASSERT(tgc_loadopt_is_request(size > 0 ? in : NULL, size) ==
	            (size >= 1 && in[0] == TGC_LOADOPT_VERSION));
	if (size == 0) {
		FUZZ_ASSERT(ret == KNOT_EMALF);
	} else if (in[0] != TGC_LOADOPT_VERSION) {
		FUZZ_ASSERT(ret == KNOT_ENOTSUP);
	}

	if (ret != KNOT_EOK) {
		FUZZ_ASSERT(small_count == 0 && large_count == 0);
		goto out;
	}
	/* Room for all: every entry stored; the small parse keeps a prefix. */
	FUZZ_ASSERT(large_count < large_max);
	FUZZ_ASSERT(small_count == (large_count < small_max ? large_count : small_max));
	for (size_t i = 0; i < small_count; i++) {
		FUZZ_ASSERT(entry_equal(&small[i], &large[i]));
	}

	/* Written back: the input itself. */
	uint8_t *back = malloc(size);
	FUZZ_ASSERT(back != NULL);
	size_t off = 0;
	size_t v4 = 0, v6 = 0;
	back[off++] = TGC_LOADOPT_VERSION;
	for (size_t i = 0; i < large_count; i++) {
		const tgc_loadopt_entry_t *e = &large[i];
		FUZZ_ASSERT(e->addr.family == AF_INET || e->addr.family == AF_INET6);
		FUZZ_ASSERT(e->addr.len == (e->addr.family == AF_INET ? 4 : 16));
		if (e->addr.family == AF_INET) {
			v4++;
		} else {
			v6++;
		}
		FUZZ_ASSERT(size - off >= TGC_LOADOPT_ENTRY_HDR + e->addr.len);
		size_t n = tgc_loadopt_write_entry(back + off, e);
		FUZZ_ASSERT(n == TGC_LOADOPT_ENTRY_HDR + e->addr.len);
		off += n;
	}
	FUZZ_ASSERT(off == size);
	FUZZ_ASSERT(memcmp(back, in, size) == 0);
	FUZZ_ASSERT(tgc_loadopt_size(v4, v6) == size);
	free(back);
out:
	free(large);
	free(in);
	return 0;
}
