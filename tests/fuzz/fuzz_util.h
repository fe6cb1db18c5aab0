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
 * \brief Helpers shared by the libFuzzer harnesses (test code only).
 */

#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libknot/libknot.h>

/*! \brief Aborts (a crash libFuzzer reports) when an invariant fails. */
#define FUZZ_ASSERT(expr) do { \
	if (!(expr)) { \
		fprintf(stderr, "%s:%d: invariant '%s' failed\n", \
		        __FILE__, __LINE__, #expr); \
		abort(); \
	} \
} while (0)

/*! \brief Arena behind a knot_mm_t: every block is freed at once. */
typedef struct {
	void *blocks[256];
	size_t count;
} fuzz_arena_t;

static void *fuzz_arena_alloc(void *ctx, size_t len)
{
	fuzz_arena_t *a = ctx;
	if (a->count >= sizeof(a->blocks) / sizeof(a->blocks[0])) {
		return NULL;
	}
	void *p = malloc(len > 0 ? len : 1);
	if (p != NULL) {
		a->blocks[a->count++] = p;
	}
	return p;
}

static void fuzz_arena_free_one(void *p)
{
	(void)p; /* Freed with the arena. */
}

static inline void fuzz_arena_init(fuzz_arena_t *a, knot_mm_t *mm)
{
	a->count = 0;
	mm->ctx = a;
	mm->alloc = fuzz_arena_alloc;
	mm->free = fuzz_arena_free_one;
}

static inline void fuzz_arena_clear(fuzz_arena_t *a)
{
	for (size_t i = 0; i < a->count; i++) {
		free(a->blocks[i]);
	}
	a->count = 0;
}

/*! \brief NUL-terminated copy of fuzz input (caller frees). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s == NULL) {
		abort();
	}
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}
