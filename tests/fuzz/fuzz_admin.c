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
 * \brief libFuzzer harness: the zone admin record parser and the precedence
 *        rule.
 *
 * The input is the rdata of one TXT record, as knotd hands it from a zone
 * (tgc_admin_parse()). An accepted record must name a usable state and hold
 * zero-terminated printable text; its state, with every local state and
 * health, goes through tgc_admin_resolve(), whose result must respect the
 * precedence rule and the min-live guard.
 */

#include <string.h>

#include "fuzz_util.h"
#include "module/admin.h"

/*! \brief The text is zero-terminated within \a len and printable. */
static void text_ok(const char *s, size_t len)
{
	size_t n = strnlen(s, len);
	FUZZ_ASSERT(n < len);
	for (size_t i = 0; i < n; i++) {
		FUZZ_ASSERT(s[i] >= 0x20 && s[i] <= 0x7e);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tgc_admin_rec_t rec;
	const char *err = NULL;
	int ret = tgc_admin_parse(data, size, &rec, &err);
	FUZZ_ASSERT(ret == KNOT_EOK || ret == KNOT_ENOENT || ret == KNOT_EMALF);
	FUZZ_ASSERT(ret != KNOT_EMALF || err != NULL);
	if (ret != KNOT_EOK) {
		return 0;
	}
	FUZZ_ASSERT(rec.state == TGC_ADMIN_DRAIN || rec.state == TGC_ADMIN_DOWN ||
	            rec.state == TGC_ADMIN_UP);
	FUZZ_ASSERT(rec.addr.family == AF_INET || rec.addr.family == AF_INET6);
	text_ok(rec.reason, sizeof(rec.reason));
	text_ok(rec.name, sizeof(rec.name));
	(void)tgc_admin_name_match(&rec, "internet.intern.netz.");

	/* Three nodes: the record's state on node 1, every local state and
	 * health on the others, min-live 0..3. */
	for (unsigned min_live = 0; min_live <= 3; min_live++) {
		for (unsigned local = 0; local <= TGC_ADMIN_DOWN; local++) {
			tgc_admin_in_t in[3] = {
				{ TGC_HEALTH_UP, (tgc_admin_t)local, TGC_ADMIN_AUTO },
				{ TGC_HEALTH_UP, TGC_ADMIN_AUTO, rec.state },
				{ TGC_HEALTH_DOWN, TGC_ADMIN_AUTO, rec.state },
			};
			tgc_admin_out_t out[3];
			tgc_admin_resolve(in, out, 3, min_live);
			FUZZ_ASSERT(out[0].admin == (tgc_admin_t)local);
			FUZZ_ASSERT(out[1].admin == rec.state ||
			            (out[1].guarded && out[1].admin == TGC_ADMIN_AUTO));
			FUZZ_ASSERT(out[2].admin == rec.state); /* Down: not counted. */
		}
	}

	return 0;
}
