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
 * \brief The main() of every Check unit suite (test code only).
 *
 * A suite file defines `static Suite *<name>_suite(void)` and ends with
 * `TEST_MAIN(<name>)`.
 */

#pragma once

#include <check.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/unit/test_util.h"

/*!
 * \brief Runs the suite built by \a build and returns the exit status.
 *
 * Records the runner PID (test_shm_name()) before the suite is built, runs
 * every test in Check's default mode (forked unless CK_FORK=no) with the
 * verbosity of CK_VERBOSITY (normal when unset), then removes the segments
 * named \a name that failed tests of this runner left behind.
 *
 * \param build  Function building the suite.
 * \param name   Suite name used in test_shm_name() / test_shm_cleanup().
 *
 * \return EXIT_SUCCESS if every test passed, EXIT_FAILURE otherwise.
 */
static inline int test_main(Suite *(*build)(void), const char *name)
{
	test_runner_pid = getpid();
	SRunner *sr = srunner_create(build());
	srunner_run_all(sr, CK_ENV);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	test_shm_cleanup(name);

	return (failed == 0) ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*! \brief Defines main() running the suite built by \a name ## _suite(). */
#define TEST_MAIN(name) \
int main(void) \
{ \
	return test_main(name##_suite, #name); \
}
