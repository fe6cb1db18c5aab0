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
 * \brief Small helpers shared by the Check unit suites (test code only).
 */

#pragma once

#include <check.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <libknot/errcode.h>

#include "module/addr.h"

/*!
 * \brief Asserts \a expr in a hot loop.
 *
 * ck_assert() reports every passing assertion to the runner (a pipe write in
 * fork mode), which makes loops of millions of checks slow; this one calls
 * into Check only on failure.
 */
#define ensure(expr, fmt, ...) do { \
	if (!(expr)) { \
		ck_abort_msg("'%s' failed: " fmt, #expr, ##__VA_ARGS__); \
	} \
} while (0)

/*! \brief State of the deterministic test PRNG. */
static uint64_t test_rnd_state = 0x0123456789abcdefULL;

/*! \brief Deterministic test PRNG (splitmix64), independent of the code. */
static inline uint64_t test_rnd(void)
{
	uint64_t z = (test_rnd_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*! \brief Parses an address literal that must be valid. */
static inline tgc_addr_t test_addr(const char *str)
{
	tgc_addr_t a;
	ck_assert_msg(tgc_addr_parse(str, &a) == KNOT_EOK, "cannot parse '%s'", str);
	return a;
}

/*! \brief Adds a TCase holding one test to \a s. */
static inline void test_add_case(Suite *s, const char *name, const TTest *test,
                                 int timeout)
{
	TCase *tc = tcase_create(name);
	tcase_set_timeout(tc, timeout);
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

/*! \brief PID of the test runner (the parent of forked tests). */
static pid_t test_runner_pid;

/*!
 * \brief Builds a segment name unique to this runner, test process and call:
 *        "/tgcluster.test-<suite>-<runner pid>-<pid>-<n>".
 */
static inline void test_shm_name(char *buf, size_t len, const char *suite)
{
	static unsigned counter;
	snprintf(buf, len, "/tgcluster.test-%s-%d-%d-%u", suite,
	         (int)test_runner_pid, (int)getpid(), counter++);
}

/*!
 * \brief Removes the segments of this runner that failed tests left behind
 *        (a failing forked test never reaches its teardown).
 */
static inline void test_shm_cleanup(const char *suite)
{
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "tgcluster.test-%s-%d-", suite,
	         (int)test_runner_pid);
	DIR *dir = opendir("/dev/shm");
	if (dir == NULL) {
		return;
	}
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0) {
			char name[300];
			snprintf(name, sizeof(name), "/%s", de->d_name);
			(void)shm_unlink(name);
		}
	}
	closedir(dir);
}
