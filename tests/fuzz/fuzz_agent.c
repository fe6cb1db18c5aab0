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
 * \brief libFuzzer harness: the agent check's line reader and word parser
 *        (module/probe_agent.c) fed what a hostile agent could send.
 *
 * Input: one byte choosing the piece size (0: all at once, else 1..255),
 * then the agent's bytes. They are read once in pieces of that size and
 * once whole, each followed by the agent's close; both runs must end with
 * the same status and line. Invariants: no byte is used twice or past the
 * input, a final status stays final and takes no byte, the line is within
 * its bound and holds no control byte but tabs, the parsed values are within
 * their bounds, the words counted are no more than the line allows, and
 * the kept unknown word is printable ASCII within its bound.
 */

#include "fuzz_util.h"
#include "module/probe_agent.h"

/*! \brief Reads \a data in pieces of \a step (0: whole); returns the end. */
static tgc_agent_status_t run(tgc_agent_reader_t *r, const uint8_t *data,
                              size_t len, size_t step)
{
	tgc_agent_status_t st = TGC_AGENT_MORE;
	size_t off = 0;

	tgc_agent_reader_init(r);
	while (off < len) {
		size_t chunk = (step == 0 || len - off < step) ? len - off : step;
		size_t used = 0;
		st = tgc_agent_feed(r, data + off, chunk, &used);
		FUZZ_ASSERT(used <= chunk);
		off += used;
		if (st != TGC_AGENT_MORE) {
			size_t again = 1;
			FUZZ_ASSERT(tgc_agent_feed(r, data, len, &again) == st);
			FUZZ_ASSERT(again == 0);
			break;
		}
		FUZZ_ASSERT(used == chunk);
	}
	if (st == TGC_AGENT_MORE) {
		st = tgc_agent_eof(r);
	}
	FUZZ_ASSERT(st >= TGC_AGENT_LINE && st <= TGC_AGENT_EMPTY);
	FUZZ_ASSERT(tgc_agent_eof(r) == st);
	FUZZ_ASSERT(r->len <= TGC_AGENT_LINE_MAX);
	FUZZ_ASSERT(strlen(r->line) == r->len);
	for (size_t i = 0; i < r->len; i++) {
		unsigned char c = (unsigned char)r->line[i];
		FUZZ_ASSERT(c == '\t' || (c >= 0x20 && c != 0x7f));
	}
	if (st == TGC_AGENT_EMPTY) {
		FUZZ_ASSERT(r->len == 0);
	}
	if (st == TGC_AGENT_LINE && off < len) {
		FUZZ_ASSERT(data[off - 1] == '\n');
	}
	return st;
}

/*! \brief Checks the report of any byte string. */
static void check_parse(const char *line, size_t len)
{
	tgc_agent_report_t rep;
	tgc_agent_parse(line, len, &rep);

	FUZZ_ASSERT(rep.words + rep.unknown <= len / 2 + 1);
	FUZZ_ASSERT(rep.pct <= TGC_AGENT_PCT_MAX);
	FUZZ_ASSERT(rep.maxconn <= TGC_AGENT_NUM_MAX);
	FUZZ_ASSERT(rep.sessions <= TGC_AGENT_NUM_MAX);
	FUZZ_ASSERT(rep.has_pct || rep.pct == 0);
	FUZZ_ASSERT(rep.has_maxconn || rep.maxconn == 0);
	FUZZ_ASSERT(rep.has_sessions || rep.sessions == 0);
	FUZZ_ASSERT((rep.state_set & ~7) == 0 && (rep.state_clear & ~7) == 0);
	size_t ul = strlen(rep.first_unknown);
	FUZZ_ASSERT(ul < sizeof(rep.first_unknown));
	FUZZ_ASSERT((rep.unknown == 0) == (ul == 0));
	for (size_t i = 0; i < ul; i++) {
		FUZZ_ASSERT(rep.first_unknown[i] >= 0x20 &&
		            rep.first_unknown[i] < 0x7f);
	}
	/* Parsing is a function of the bytes. */
	tgc_agent_report_t again;
	tgc_agent_parse(line, len, &again);
	FUZZ_ASSERT(memcmp(&rep, &again, sizeof(rep)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1) {
		return 0;
	}
	size_t step = data[0];
	data++;
	size--;

	tgc_agent_reader_t a, b;
	tgc_agent_status_t sa = run(&a, data, size, step);
	tgc_agent_status_t sb = run(&b, data, size, 0);
	FUZZ_ASSERT(sa == sb);
	FUZZ_ASSERT(a.len == b.len && strcmp(a.line, b.line) == 0);

	check_parse(a.line, a.len);
	/* The parser alone also takes any bytes (NULs included). */
	check_parse((const char *)data, size);

	return 0;
}
