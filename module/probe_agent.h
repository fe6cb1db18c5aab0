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
 * \brief The agent check's line: what a node's agent reports about itself,
 *        in the words of HAProxy's agent-check plus \c sessions:N.
 *
 * A pure parser in two steps. The reader collects the bytes the agent sends
 * (in pieces of any size) up to the end of the first line: a newline, or
 * the agent closing the connection after some bytes. The line parser then
 * splits the line into words (separated by spaces, commas or tabs, matched
 * case-insensitively) and reports what they set:
 *
 *   up, ready      clear the agent's state (no down, drain or maint)
 *   down           the node is down (overrides its health check)
 *   drain          the node is drained (like admin drain)
 *   maint          drained and down (like admin down)
 *   NN%            weight percentage, 0 to TGC_AGENT_PCT_MAX
 *   maxconn:N      capacity in sessions, 0 to TGC_AGENT_NUM_MAX
 *   sessions:N     sessions the node holds now, 0 to TGC_AGENT_NUM_MAX
 *
 * State words apply left to right. A word that is none of these (including
 * a number out of range or with a sign, a space or other junk) is ignored
 * and counted; the first one is kept, escaped, for a log line. It never
 * touches a socket.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*! \brief Most bytes of a line, without its newline (and optional CR). */
#define TGC_AGENT_LINE_MAX	256
/*! \brief Largest value of maxconn:N and sessions:N. */
#define TGC_AGENT_NUM_MAX	1000000000u
/*! \brief Largest weight percentage (NN%). */
#define TGC_AGENT_PCT_MAX	1000u
/*! \brief Most bytes of the first unknown word kept (escaped) for a log. */
#define TGC_AGENT_WORD_MAX	32

/*! \brief Agent state bits (a node record's agent_state). */
enum {
	TGC_AGENT_DOWN  = 1 << 0, /*!< down: the node is down. */
	TGC_AGENT_DRAIN = 1 << 1, /*!< drain: the node is drained. */
	TGC_AGENT_MAINT = 1 << 2, /*!< maint: drained and down. */
};

/*! \brief Result of feeding bytes to the reader. */
typedef enum {
	TGC_AGENT_MORE    = 0, /*!< Needs more bytes. */
	TGC_AGENT_LINE    = 1, /*!< A line is complete: tgc_agent_line(). */
	TGC_AGENT_LONG    = 2, /*!< No newline within TGC_AGENT_LINE_MAX bytes. */
	TGC_AGENT_BADBYTE = 3, /*!< A NUL or other control byte in the line. */
	TGC_AGENT_EMPTY   = 4, /*!< Closed before any byte (at eof only). */
} tgc_agent_status_t;

/*! \brief Line reader state (one per connection; plain data). */
typedef struct {
	char line[TGC_AGENT_LINE_MAX + 1]; /*!< Bytes of the line, NUL-ended. */
	uint16_t len;                      /*!< Number of them (no CR/LF). */
	bool cr;                           /*!< The last byte was a CR. */
	tgc_agent_status_t status;         /*!< Final status, else MORE. */
} tgc_agent_reader_t;

/*! \brief What one line reports (each has_* tells whether it was said). */
typedef struct {
	uint8_t state_clear; /*!< TGC_AGENT_* bits the line clears... */
	uint8_t state_set;   /*!< ...then the bits it sets: apply as
	                      *   state = (state & ~clear) | set. */
	bool has_pct;        /*!< NN% was said. */
	bool has_maxconn;    /*!< maxconn:N was said. */
	bool has_sessions;   /*!< sessions:N was said. */
	uint16_t pct;        /*!< Weight percentage. */
	uint32_t maxconn;    /*!< Capacity in sessions. */
	uint32_t sessions;   /*!< Sessions held now. */
	uint32_t words;      /*!< Words understood. */
	uint32_t unknown;    /*!< Words ignored. */
	char first_unknown[4 * TGC_AGENT_WORD_MAX + 1]; /*!< The first ignored
	                      *   word (at most TGC_AGENT_WORD_MAX bytes of
	                      *   it), bytes outside printable ASCII and '\\'
	                      *   as \\xHH; NUL-terminated. */
} tgc_agent_report_t;

/*! \brief Resets \a r for a new connection. */
void tgc_agent_reader_init(tgc_agent_reader_t *r);

/*!
 * \brief Feeds \a len bytes the agent sent.
 *
 * Stores the number of bytes consumed in \a used (may be NULL): all of them
 * while MORE, up to and including the newline for LINE. After a final status
 * the reader takes no more bytes and returns that status again.
 */
tgc_agent_status_t tgc_agent_feed(tgc_agent_reader_t *r, const uint8_t *data,
                                  size_t len, size_t *used);

/*!
 * \brief The agent closed the connection: the final status.
 *
 * Bytes without a newline are a LINE (agents may close instead of ending
 * the line); nothing at all is EMPTY.
 */
tgc_agent_status_t tgc_agent_eof(tgc_agent_reader_t *r);

/*!
 * \brief Parses the words of a line (\a len bytes, no newline).
 *
 * Never fails: unknown words are counted in \a out. A NUL or control byte
 * other than a tab ends nothing and separates nothing: it makes its word
 * unknown.
 */
void tgc_agent_parse(const char *line, size_t len, tgc_agent_report_t *out);

/*! \brief Applies \a rep's state words to an agent state \a state. */
static inline uint8_t tgc_agent_apply_state(uint8_t state,
                                            const tgc_agent_report_t *rep)
{
	return (uint8_t)((state & ~rep->state_clear) | rep->state_set);
}
