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
 * \brief Names and packet checks shared by the translator's unit suites
 *        (test code only).
 */

#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <libknot/libknot.h>

/*! \brief The cluster name of the tests. */
static const knot_dname_t *const NAME = (const knot_dname_t *)"\x08""internet""\x06""intern""\x04""netz";
/*! \brief The same name in other case. */
static const knot_dname_t *const NAME_UC = (const knot_dname_t *)"\x08""INTERNET""\x06""Intern""\x04""NETZ";
/*! \brief Another name. */
static const knot_dname_t *const OTHER = (const knot_dname_t *)"\x03""www""\x06""intern""\x04""netz";
/*! \brief The zone of the names (the translator's scope). */
static const knot_dname_t *const ZONE = (const knot_dname_t *)"\x06""intern""\x04""netz";
/*! \brief A name outside the zone. */
static const knot_dname_t *const VICTIM = (const knot_dname_t *)"\x06""victim""\x07""example";
/*! \brief A TLD above the zone. */
static const knot_dname_t *const COM = (const knot_dname_t *)"\x03""com";

/*! \brief Tells whether a parsed packet has a record of \a owner in any
 *         section (and counts the records per section). */
static inline bool has_owner(const knot_pkt_t *pkt, const knot_dname_t *owner,
                             uint16_t counts[3])
{
	bool found = false;
	for (int s = KNOT_ANSWER; s <= KNOT_ADDITIONAL; s++) {
		const knot_pktsection_t *sec = knot_pkt_section(pkt, s);
		if (counts != NULL) {
			counts[s] = sec->count;
		}
		for (uint16_t i = 0; i < sec->count; i++) {
			if (knot_dname_is_case_equal(knot_pkt_rr(sec, i)->owner, owner)) {
				found = true;
			}
		}
	}
	return found;
}
