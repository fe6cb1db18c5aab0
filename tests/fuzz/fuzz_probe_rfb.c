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
 * \brief libFuzzer harness: the RFB handshake parser of the rfb check
 *        (module/probe_rfb.c) fed what a hostile server could send.
 *
 * Input: one byte choosing the piece size (0: all at once, else 1..255),
 * then the server's bytes. The bytes are fed once in pieces of that size
 * and once whole, each followed by the server's close; both runs must end
 * with the same status and reason. Invariants: no byte is used twice or
 * past the input, the reply is asked for at most once and is one of the
 * three versions the checker speaks, the one RFC 6143 pairs with the
 * server's (3.8 for 3.8 and newer, 3.7, else 3.3; none below 3), a final
 * status stays final, the reason is printable ASCII within its bound.
 */

#include "fuzz_util.h"
#include "module/probe_rfb.h"

/*! \brief Feeds \a data in pieces of \a step (0: whole); returns the end. */
static tgc_rfb_status_t run(tgc_rfb_t *p, const uint8_t *data, size_t len,
                            size_t step)
{
	tgc_rfb_status_t st = TGC_RFB_MORE;
	int sends = 0;
	size_t off = 0;

	tgc_rfb_init(p);
	while (off < len) {
		size_t chunk = (step == 0 || len - off < step) ? len - off : step;
		size_t used = 0;
		st = tgc_rfb_feed(p, data + off, chunk, &used);
		FUZZ_ASSERT(used <= chunk);
		off += used;
		if (st == TGC_RFB_SEND) {
			sends++;
			FUZZ_ASSERT(sends == 1);
			FUZZ_ASSERT(off == TGC_RFB_VERSION_LEN);
			const uint8_t *reply = tgc_rfb_reply(p);
			FUZZ_ASSERT(reply != NULL);
			FUZZ_ASSERT(tgc_rfb_version_valid(reply, TGC_RFB_VERSION_LEN));
			FUZZ_ASSERT(memcmp(reply, "RFB 003.00", 10) == 0);
			FUZZ_ASSERT(reply[10] == '3' || reply[10] == '7' ||
			            reply[10] == '8');
			/* 3.8 for 3.8 and newer, 3.7 for 3.7, else 3.3. */
			char want = '3';
			if (memcmp(data + 4, "003.", 4) != 0 ||
			    memcmp(data + 8, "008", 3) >= 0) {
				want = '8';
			} else if (memcmp(data + 8, "007", 3) == 0) {
				want = '7';
			}
			FUZZ_ASSERT(reply[10] == want);
			FUZZ_ASSERT(memcmp(data + 4, "003.", 4) >= 0);
			continue;
		}
		if (st != TGC_RFB_MORE) {
			/* Final: sticky, takes nothing more. */
			size_t again = 1;
			FUZZ_ASSERT(tgc_rfb_feed(p, data, len, &again) == st);
			FUZZ_ASSERT(again == 0);
			break;
		}
		FUZZ_ASSERT(used == chunk);
	}
	if (st == TGC_RFB_MORE || st == TGC_RFB_SEND) {
		st = tgc_rfb_eof(p);
	}
	FUZZ_ASSERT(st >= TGC_RFB_OFFERED && st <= TGC_RFB_BAD);
	FUZZ_ASSERT(tgc_rfb_eof(p) == st);
	FUZZ_ASSERT(p->reason_len <= TGC_RFB_REASON_MAX);
	FUZZ_ASSERT(strlen(p->reason) == p->reason_len);
	for (size_t i = 0; i < p->reason_len; i++) {
		FUZZ_ASSERT(p->reason[i] >= 0x20 && p->reason[i] < 0x7f);
	}
	if (st == TGC_RFB_OFFERED) {
		FUZZ_ASSERT(p->types > 0 && p->reason_len == 0);
	}
	return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1) {
		return 0;
	}
	size_t step = data[0];
	data++;
	size--;

	tgc_rfb_t a, b;
	tgc_rfb_status_t sa = run(&a, data, size, step);
	tgc_rfb_status_t sb = run(&b, data, size, 0);
	FUZZ_ASSERT(sa == sb);
	FUZZ_ASSERT(strcmp(a.reason, b.reason) == 0);
	FUZZ_ASSERT(a.types == b.types);

	return 0;
}
