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
 * \brief libFuzzer harness: the HTTP response head parser of the http and
 *        https probes, and the probe request built from item values.
 *
 * A response comes from a node (or anyone listening on its check port).
 * Input: the response bytes. The harness parses them whole and in
 * prefixes, as the checker sees them arrive, and checks that the verdicts
 * agree: a prefix of a good or unfinished head is never bad, a bad head
 * stays bad whatever follows, a done head reports the same status and
 * length from any longer buffer. The first bytes up to a NUL are also used
 * as check-path and check-host for the request builder, whose output must
 * then be one request head with no other line breaks.
 */

#include "fuzz_util.h"
#include "module/probe_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tgc_http_resp_t whole;
	tgc_http_ret_t ret = tgc_http_parse(data, size, &whole);
	FUZZ_ASSERT(ret == TGC_HTTP_MORE || ret == TGC_HTTP_DONE ||
	            ret == TGC_HTTP_BAD);
	if (ret == TGC_HTTP_DONE) {
		FUZZ_ASSERT(whole.head_len >= 14 && whole.head_len <= size &&
		            whole.head_len <= TGC_HTTP_HEAD_MAX);
		FUZZ_ASSERT(whole.status >= 100 && whole.status <= 599);
		FUZZ_ASSERT(data[whole.head_len - 1] == '\n');
		/* The head alone gives the same verdict. */
		tgc_http_resp_t head;
		FUZZ_ASSERT(tgc_http_parse(data, whole.head_len, &head) == TGC_HTTP_DONE);
		FUZZ_ASSERT(head.status == whole.status &&
		            head.head_len == whole.head_len);
	}
	if (ret == TGC_HTTP_MORE) {
		FUZZ_ASSERT(size <= TGC_HTTP_HEAD_MAX);
	}

	/* Prefixes, as reads deliver them. */
	size_t cuts[] = { size / 3, size / 2, size - (size > 0), size };
	tgc_http_ret_t prev = TGC_HTTP_MORE;
	size_t prev_len = 0;
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		tgc_http_resp_t r;
		tgc_http_ret_t p = tgc_http_parse(data, cuts[i], &r);
		if (prev == TGC_HTTP_BAD) {
			FUZZ_ASSERT(p == TGC_HTTP_BAD);
		}
		if (prev == TGC_HTTP_DONE) {
			FUZZ_ASSERT(p == TGC_HTTP_DONE && r.head_len == prev_len);
		}
		if (p == TGC_HTTP_DONE) {
			prev_len = r.head_len;
		}
		prev = p;
	}

	/* The request from hostile item values. */
	char value[TGC_HTTP_PATH_MAX + 2];
	size_t vlen = strnlen((const char *)data, size);
	if (vlen < sizeof(value)) {
		memcpy(value, data, vlen);
		value[vlen] = '\0';
		char req[2 * TGC_HTTP_PATH_MAX];
		const char *path = tgc_http_path_valid(value) ? value : "/";
		const char *host = tgc_http_host_valid(value) ? value : "h";
		size_t n = tgc_http_request(req, sizeof(req), path, host);
		FUZZ_ASSERT(n > 0 && n == strlen(req));
		/* Six CRLFs: five lines and the empty one; no bare CR or LF. */
		size_t crlf = 0;
		for (size_t i = 0; i < n; i++) {
			if (req[i] == '\r') {
				FUZZ_ASSERT(i + 1 < n && req[i + 1] == '\n');
				crlf++;
			} else if (req[i] == '\n') {
				FUZZ_ASSERT(i > 0 && req[i - 1] == '\r');
			}
		}
		FUZZ_ASSERT(crlf == 6);
		FUZZ_ASSERT(memcmp(req + n - 4, "\r\n\r\n", 4) == 0);
	}

	return 0;
}
