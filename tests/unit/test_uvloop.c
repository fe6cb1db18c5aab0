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


#include <check.h>
#include <stdlib.h>
#include <uv.h>

#include "module/uvloop.h"
#include "tests/unit/test_main.h"

/*! \brief Counts close callbacks of handles closed by the test itself. */
static int closed;

static void on_close(uv_handle_t *handle)
{
	(void)handle;
	closed++;
}

static void on_timer(uv_timer_t *timer)
{
	(void)timer;
}

START_TEST(shutdown_closes_every_handle)
{
	uv_loop_t loop;
	ck_assert_int_eq(uv_loop_init(&loop), 0);

	uv_timer_t timers[3];
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(uv_timer_init(&loop, &timers[i]), 0);
		ck_assert_int_eq(uv_timer_start(&timers[i], on_timer, 60000, 60000), 0);
	}
	uv_tcp_t tcp;
	ck_assert_int_eq(uv_tcp_init(&loop, &tcp), 0);
	uv_async_t async;
	ck_assert_int_eq(uv_async_init(&loop, &async, NULL), 0);

	/* Without shutdown the loop cannot be closed. */
	ck_assert_int_eq(uv_loop_close(&loop), UV_EBUSY);

	/* A handle already closing is left to its own callback. */
	closed = 0;
	uv_close((uv_handle_t *)&timers[1], on_close);

	ck_assert_int_eq(tgc_uvloop_shutdown(&loop), 0);
	ck_assert_int_eq(closed, 1);
}
END_TEST

START_TEST(close_all_then_run)
{
	uv_loop_t loop;
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	uv_timer_t timer;
	ck_assert_int_eq(uv_timer_init(&loop, &timer), 0);
	ck_assert_int_eq(uv_timer_start(&timer, on_timer, 60000, 0), 0);

	tgc_uvloop_close_all(&loop);
	/* Everything is closing: the loop ends at once instead of waiting. */
	ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
	ck_assert_int_eq(uv_loop_close(&loop), 0);

	/* An empty loop shuts down too. */
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	ck_assert_int_eq(tgc_uvloop_shutdown(&loop), 0);
}
END_TEST

static Suite *uvloop_suite(void)
{
	Suite *s = suite_create("uvloop");
	TCase *tc = tcase_create("shutdown_closes_every_handle");
	tcase_add_test(tc, shutdown_closes_every_handle);
	suite_add_tcase(s, tc);
	tc = tcase_create("close_all_then_run");
	tcase_add_test(tc, close_all_then_run);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(uvloop)
