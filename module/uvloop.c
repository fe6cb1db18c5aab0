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

#include <assert.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <syslog.h>

#include <libknot/errcode.h>

#include "module/uvloop.h"

/*! \brief Entry of a module thread: the hooks around the body. */
static void uvthread_main(void *arg)
{
	tgc_uvthread_t *t = arg;

	if (t->thread_start != NULL) {
		t->thread_start(t->ctx);
	}
	t->body(t->arg);
	t->stopping = true;
	if (t->thread_stop != NULL) {
		t->thread_stop(t->ctx);
	}
}

int tgc_uvthread_new(void **out, size_t size, tgc_table_t *table,
                     uint64_t writer_token, tgc_uvthread_log_f log,
                     tgc_uvthread_hook_f thread_start,
                     tgc_uvthread_hook_f thread_stop, void *ctx)
{
	assert(size >= sizeof(tgc_uvthread_t));
	if (!table->writable) {
		return KNOT_EACCES;
	}
	tgc_uvthread_t *t = calloc(1, size);
	if (t == NULL) {
		return KNOT_ENOMEM;
	}
	*t = (tgc_uvthread_t){
		.table = table, .writer_token = writer_token, .log = log,
		.thread_start = thread_start, .thread_stop = thread_stop,
		.ctx = ctx,
	};

	*out = t;
	return KNOT_EOK;
}

int tgc_uvthread_spawn(tgc_uvthread_t *t, tgc_uvthread_body_f body, void *arg)
{
	t->body = body;
	t->arg = arg;

	/* Signals belong to knotd's main thread. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int ret = uv_thread_create(&t->thread, uvthread_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	return ret;
}

void tgc_uvthread_join(tgc_uvthread_t *t)
{
	int ret = uv_thread_join(&t->thread);
	assert(ret == 0);
	(void)ret;
}

bool tgc_uvthread_is_writer(const tgc_uvthread_t *t)
{
	return atomic_load(&t->table->hdr->writer) == t->writer_token;
}

void tgc_uvthread_heartbeat(const tgc_uvthread_t *t)
{
	atomic_store_explicit(&t->table->hdr->heartbeat_ms, tgc_table_now_ms(),
	                      memory_order_relaxed);
}

void tgc_uvthread_table_sync(tgc_uvthread_t *t)
{
	tgc_table_sync_t ev;
	tgc_table_sync(t->table, t->writer_token, &ev);
	if (ev.retaken) {
		TGC_UVTHREAD_LOG(t, LOG_WARNING, "segment %s: took the writer role "
		                 "back from pid %d, which is gone (%u records "
		                 "closed)", t->table->name, (int)ev.gone_pid,
		                 ev.closed);
	}
	if (ev.dropped) {
		TGC_UVTHREAD_LOG(t, ev.removed ? LOG_NOTICE : LOG_ERR,
		                 "segment %s: %s; no longer using it, answers "
		                 "continue from this instance's own copy (knotc "
		                 "reload recreates the segment)", t->table->name,
		                 ev.why);
	}
}


/*! \brief uv_walk() callback: closes a handle unless it is closing. */
static void close_walk(uv_handle_t *handle, void *arg)
{
	(void)arg;
	if (!uv_is_closing(handle)) {
		uv_close(handle, NULL);
	}
}

void tgc_uvloop_close_all(uv_loop_t *loop)
{
	uv_walk(loop, close_walk, NULL);
}

int tgc_uvloop_shutdown(uv_loop_t *loop)
{
	int ret = UV_EBUSY;
	/* A close callback may start closing further handles: a few rounds. */
	for (int tries = 0; tries < 3 && ret == UV_EBUSY; tries++) {
		tgc_uvloop_close_all(loop);
		(void)uv_run(loop, UV_RUN_DEFAULT);
		ret = uv_loop_close(loop);
	}

	return ret;
}

/*! \brief Stop request: close every handle so that uv_run() returns. */
static void on_stop_async(uv_async_t *async)
{
	tgc_uvloop_t *l = async->data;

	l->th.stopping = true;
	tgc_uvloop_close_all(&l->loop);
}

int tgc_uvloop_init(tgc_uvloop_t *l)
{
	int ret = uv_loop_init(&l->loop);
	if (ret != 0) {
		return ret;
	}
	ret = uv_async_init(&l->loop, &l->stop_async, on_stop_async);
	if (ret != 0) {
		(void)tgc_uvloop_shutdown(&l->loop);
		return ret;
	}
	l->stop_async.data = l;

	return 0;
}

/*! \brief Body of a loop thread. */
static void uvloop_run(void *arg)
{
	tgc_uvloop_t *l = arg;

	uv_update_time(&l->loop);
	if (l->setup != NULL) {
		l->setup(l);
	}
	(void)uv_run(&l->loop, UV_RUN_DEFAULT);

	/* Stopped (or, defensively, out of work): nothing may stay open. */
	l->th.stopping = true;
	l->close_ret = tgc_uvloop_shutdown(&l->loop);
	assert(l->close_ret == 0);
}

int tgc_uvloop_start(tgc_uvloop_t *l)
{
	int ret = tgc_uvthread_spawn(&l->th, uvloop_run, l);
	if (ret != 0) {
		l->th.stopping = true;
		l->close_ret = tgc_uvloop_shutdown(&l->loop);
	}

	return ret;
}

bool tgc_uvloop_stop(tgc_uvloop_t *l)
{
	int ret = uv_async_send(&l->stop_async);
	assert(ret == 0);
	(void)ret;
	tgc_uvthread_join(&l->th);

	return l->close_ret == 0;
}
