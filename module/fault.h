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
 * \brief Fault injection for the failure paths of a module load (tests only).
 *
 * Some steps of a load fail only when knotd runs out of memory (registering
 * the query hooks), so their cleanup cannot be provoked from outside. A test
 * build of the module (tests/meson.build: mod-tgcluster-fault.so, compiled
 * with TGC_FAULT_INJECT) makes the step named by the environment variable
 * TGC_FAULT fail with KNOT_ENOMEM instead of running it. Without
 * TGC_FAULT_INJECT (the shipped module) TGC_FAULT_POINT() is empty.
 */

#pragma once

#ifdef TGC_FAULT_INJECT

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libknot/errcode.h>

/*! \brief Tells whether TGC_FAULT names the step \a name. */
static inline bool tgc_fault_hit(const char *name)
{
	const char *want = secure_getenv("TGC_FAULT");
	return want != NULL && strcmp(want, name) == 0;
}

/*! \brief Makes step \a name fail (\a ret = KNOT_ENOMEM) when TGC_FAULT
 *         names it; the step must then be skipped by testing \a ret. */
#define TGC_FAULT_POINT(ret, name) do { \
	if ((ret) == KNOT_EOK && tgc_fault_hit(name)) { \
		(ret) = KNOT_ENOMEM; \
	} \
} while (0)

#else

/*! \brief Nothing outside fault-injection test builds. */
#define TGC_FAULT_POINT(ret, name) do { } while (0)

#endif
