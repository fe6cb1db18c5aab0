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
 * \brief A module thread (checker, poller) and a module thread running a
 *        libuv loop (checker).
 *
 * tgc_uvthread_t is what every module thread shares: it starts with every
 * signal blocked (signals belong to knotd's main thread), runs the owner's
 * thread hooks first and last (e.g. rcu_register_thread(), which a thread
 * that logs through knotd needs), logs through the owner's logger unless
 * stopping, and holds the writer role of the instance's table: whether it
 * may write now, the heartbeat, and the exchange with the segment
 * (tgc_table_sync()) with its log messages.
 *
 * tgc_uvloop_t adds a libuv loop run by such a thread: a stop async that
 * closes every handle so that uv_run() returns, and the shutdown that
 * closes the loop afterwards. Its users arm their handles in the setup
 * callback (in the thread, before uv_run()).
 *
 * Threading: the structures are filled by the owner before the thread
 * exists and read-only afterwards, except \a stopping (the module thread
 * only) and \a close_ret (written by the thread before it ends, read by the
 * owner after the join). The only cross-thread operations are
 * uv_async_send() (libuv makes it thread-safe) and the join.
 */

#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "module/table.h"

/*! \brief Log callback of a module thread (printf-like). */
typedef void (*tgc_uvthread_log_f)(void *ctx, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*! \brief Thread hook, called in the module thread. */
typedef void (*tgc_uvthread_hook_f)(void *ctx);

/*! \brief Body of a module thread. */
typedef void (*tgc_uvthread_body_f)(void *arg);

/*! \brief A module thread and the writer role of its table. */
typedef struct {
	tgc_table_t *table;          /*!< Instance table (read-only). */
	uint64_t writer_token;       /*!< Write only while the header's writer
	                              *   equals this token (read-only). */
	tgc_uvthread_log_f log;      /*!< Logger (may be NULL; read-only). */
	tgc_uvthread_hook_f thread_start; /*!< First in the thread (may be NULL). */
	tgc_uvthread_hook_f thread_stop;  /*!< Last in the thread (may be NULL). */
	void *ctx;                   /*!< Passed to the callbacks (read-only). */
	bool stopping;               /*!< No more logging (module thread only). */
	tgc_uvthread_body_f body;    /*!< Set by tgc_uvthread_spawn(). */
	void *arg;                   /*!< Its argument (idem). */
	uv_thread_t thread;          /*!< Written by spawn, joined by join. */
} tgc_uvthread_t;

/*!
 * \brief Allocates a zeroed object of \a size bytes that starts with a
 *        tgc_uvthread_t (as its first member, or as the first member of a
 *        tgc_uvloop_t that is its first member) and fills that thread's
 *        role (owner thread, before the spawn). Free it with free().
 *
 * \retval KNOT_EOK     Success.
 * \retval KNOT_EACCES  The table is read-only: nothing to run for.
 * \retval KNOT_ENOMEM  Out of memory.
 */
int tgc_uvthread_new(void **out, size_t size, tgc_table_t *table,
                     uint64_t writer_token, tgc_uvthread_log_f log,
                     tgc_uvthread_hook_f thread_start,
                     tgc_uvthread_hook_f thread_stop, void *ctx);

/*! \brief tgc_uvthread_new() of \a *out's type from an owner's configuration
 *         with the fields table, writer_token, log, thread_start,
 *         thread_stop and ctx (checker, poller). */
#define TGC_UVTHREAD_NEW(out, conf) \
	tgc_uvthread_new((void **)(out), sizeof(**(out)), (conf)->table, \
	                 (conf)->writer_token, (conf)->log, \
	                 (conf)->thread_start, (conf)->thread_stop, (conf)->ctx)

/*! \brief Logs through the thread's logger, unless stopping. */
#define TGC_UVTHREAD_LOG(t, prio, fmt, ...) do { \
	if ((t)->log != NULL && !(t)->stopping) { \
		(t)->log((t)->ctx, (prio), (fmt), ##__VA_ARGS__); \
	} \
} while (0)

/*!
 * \brief Starts the thread with every signal blocked: thread_start, \a body,
 *        thread_stop.
 *
 * \return 0 or a libuv error code.
 */
int tgc_uvthread_spawn(tgc_uvthread_t *t, tgc_uvthread_body_f body, void *arg);

/*! \brief Joins the thread (after the owner made its body return). */
void tgc_uvthread_join(tgc_uvthread_t *t);

/*! \brief Tells whether this instance may write the table now (seq_cst
 *         load of the header's writer). */
bool tgc_uvthread_is_writer(const tgc_uvthread_t *t);

/*! \brief Stores the heartbeat in the view (relaxed; the next
 *         tgc_uvthread_table_sync() copies it to the segment). */
void tgc_uvthread_heartbeat(const tgc_uvthread_t *t);

/*!
 * \brief Exchanges the thread's view with its segment (tgc_table_sync())
 *        and logs a writer role taken back or a segment dropped.
 */
void tgc_uvthread_table_sync(tgc_uvthread_t *t);

/*! \brief A module thread running a libuv loop. */
typedef struct tgc_uvloop {
	tgc_uvthread_t th;         /*!< The thread. */
	uv_loop_t loop;            /*!< The loop (module thread once started). */
	uv_async_t stop_async;     /*!< Sent by the stopping thread. */
	void (*setup)(struct tgc_uvloop *l); /*!< Arms the handles, in the
	                            *   thread before uv_run() (may be NULL). */
	int close_ret;             /*!< uv_loop_close() result: written by the
	                            *   module thread before it ends, read by
	                            *   the owner after the join. */
} tgc_uvloop_t;

/*!
 * \brief Opens the loop and its stop async (owner thread). Fill \a l->th
 *        and \a l->setup before or after; on failure nothing stays open.
 *
 * \return 0 or a libuv error code.
 */
int tgc_uvloop_init(tgc_uvloop_t *l);

/*!
 * \brief Starts the thread: setup, uv_run() until stopped, shutdown.
 *        On failure the loop is shut down (l->close_ret says whether it
 *        closed).
 *
 * \return 0 or a libuv error code.
 */
int tgc_uvloop_start(tgc_uvloop_t *l);

/*!
 * \brief Stops the loop (every handle closed, the thread joined).
 *
 * \return True if the loop closed: its memory may be freed. A loop that
 *         failed to close still owns kernel objects and memory that libuv
 *         may reference: leak it rather than free it.
 */
bool tgc_uvloop_stop(tgc_uvloop_t *l);

/*!
 * \brief Starts closing every handle of \a loop that is not closing yet.
 *        Called from the loop's own thread (e.g. in the stop async callback).
 */
void tgc_uvloop_close_all(uv_loop_t *loop);

/*!
 * \brief Closes every handle, runs the loop until they are closed, and
 *        closes the loop.
 *
 * \return uv_loop_close() result (0 when everything was released).
 */
int tgc_uvloop_shutdown(uv_loop_t *loop);
