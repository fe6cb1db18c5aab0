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
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <libknot/libknot.h>

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

/*
 * The module thread (tgc_uvthread_t) and the loop thread (tgc_uvloop_t).
 */

/*! \brief What the hooks, the body and the logger saw (module thread). */
typedef struct {
	tgc_uvthread_t th;      /*!< First: allocated by tgc_uvthread_new(). */
	char order[8];          /*!< Hook and body calls in order. */
	size_t calls;           /*!< Their number. */
	int logged;             /*!< Log calls that reached the logger. */
	bool term_blocked;      /*!< SIGTERM blocked in the body. */
	bool other_thread;      /*!< The body did not run in the owner. */
	pthread_t owner;        /*!< The spawning thread. */
} probe_t;

static void probe_log(void *ctx, int priority, const char *fmt, ...)
{
	(void)priority;
	(void)fmt;
	((probe_t *)ctx)->logged++;
}

static void probe_start(void *ctx)
{
	probe_t *p = ctx;
	p->order[p->calls++] = 's';
}

static void probe_stop(void *ctx)
{
	probe_t *p = ctx;
	p->order[p->calls++] = 'e';
	/* The body has returned: stopping, no more logging. */
	TGC_UVTHREAD_LOG(&p->th, 0, "after the body");
}

static void probe_body(void *arg)
{
	probe_t *p = arg;
	p->order[p->calls++] = 'b';
	sigset_t cur;
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
	p->term_blocked = sigismember(&cur, SIGTERM) == 1;
	p->other_thread = !pthread_equal(pthread_self(), p->owner);
	TGC_UVTHREAD_LOG(&p->th, 0, "in the body %d", 1);
}

START_TEST(uvthread_new_needs_writable_table)
{
	tgc_table_t table;
	memset(&table, 0, sizeof(table));
	probe_t *p = NULL;
	ck_assert_int_eq(tgc_uvthread_new((void **)&p, sizeof(*p), &table, 7,
	                                  probe_log, NULL, NULL, NULL), KNOT_EACCES);
	ck_assert_ptr_null(p);

	table.writable = true;
	ck_assert_int_eq(tgc_uvthread_new((void **)&p, sizeof(*p), &table, 7,
	                                  probe_log, probe_start, probe_stop,
	                                  &table), KNOT_EOK);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_eq(p->th.table, &table);
	ck_assert_uint_eq(p->th.writer_token, 7);
	ck_assert(p->th.log == probe_log);
	ck_assert(p->th.thread_start == probe_start);
	ck_assert(p->th.thread_stop == probe_stop);
	ck_assert_ptr_eq(p->th.ctx, &table);
	ck_assert(!p->th.stopping);
	ck_assert_uint_eq(p->calls, 0); /* The rest is zeroed. */
	free(p);
}
END_TEST

START_TEST(uvthread_hooks_signals_logging)
{
	tgc_table_t table;
	memset(&table, 0, sizeof(table));
	table.writable = true;
	probe_t *p = NULL;
	ck_assert_int_eq(tgc_uvthread_new((void **)&p, sizeof(*p), &table, 1,
	                                  probe_log, probe_start, probe_stop,
	                                  NULL), KNOT_EOK);
	p->th.ctx = p;
	p->owner = pthread_self();

	/* SIGTERM open in the owner: the thread blocks it all the same. */
	sigset_t term, old;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	ck_assert_int_eq(pthread_sigmask(SIG_UNBLOCK, &term, &old), 0);
	ck_assert_int_eq(tgc_uvthread_spawn(&p->th, probe_body, p), 0);
	tgc_uvthread_join(&p->th);
	ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);

	ck_assert_str_eq(p->order, "sbe");
	ck_assert(p->term_blocked);
	ck_assert(p->other_thread);
	ck_assert_int_eq(p->logged, 1);
	ck_assert(p->th.stopping);
	free(p);
}
END_TEST

/*! \brief A loop thread whose setup arms a repeating timer. */
typedef struct {
	tgc_uvloop_t ul;        /*!< First (setup callback finds the rest). */
	uv_timer_t timer;       /*!< Armed by the setup (loop thread). */
	_Atomic int ticks;      /*!< Written by the loop thread, read by the
	                         *   test thread (seq_cst). */
} ticker_t;

static void on_tick(uv_timer_t *timer)
{
	ticker_t *t = timer->data;
	atomic_fetch_add(&t->ticks, 1);
}

static void ticker_setup(tgc_uvloop_t *ul)
{
	ticker_t *t = (ticker_t *)ul;
	ck_assert_int_eq(uv_timer_init(&ul->loop, &t->timer), 0);
	t->timer.data = t;
	ck_assert_int_eq(uv_timer_start(&t->timer, on_tick, 1, 1), 0);
}

START_TEST(uvloop_start_stop)
{
	tgc_table_t table;
	memset(&table, 0, sizeof(table));
	table.writable = true;
	ticker_t *t = NULL;
	ck_assert_int_eq(tgc_uvthread_new((void **)&t, sizeof(*t), &table, 1,
	                                  NULL, NULL, NULL, NULL), KNOT_EOK);
	t->ul.setup = ticker_setup;
	ck_assert_int_eq(tgc_uvloop_init(&t->ul), 0);
	ck_assert_int_eq(tgc_uvloop_start(&t->ul), 0);

	/* The setup ran in the thread and the loop runs its timer. */
	for (int i = 0; i < 10000 && atomic_load(&t->ticks) < 3; i++) {
		usleep(1000);
	}
	ck_assert_int_ge(atomic_load(&t->ticks), 3);

	/* The stop closes the armed timer too: the loop closes. */
	ck_assert(tgc_uvloop_stop(&t->ul));
	ck_assert_int_eq(t->ul.close_ret, 0);
	ck_assert(t->ul.th.stopping);
	free(t);
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
	tc = tcase_create("threads");
	tcase_add_test(tc, uvthread_new_needs_writable_table);
	tcase_add_test(tc, uvthread_hooks_signals_logging);
	tcase_add_test(tc, uvloop_start_stop);
	suite_add_tcase(s, tc);
	return s;
}

TEST_MAIN(uvloop)
