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

#include <string.h>

#include "module/agent_poll.h"

static void on_agent_due(uv_timer_t *timer);

/*! \brief Whether the owner stops. */
static bool stopped(const tgc_agent_poll_t *p)
{
	return p->stopped != NULL && p->stopped(p->ctx);
}

void tgc_agent_poll_start(tgc_agent_poll_t *p, uint64_t delay_ms)
{
	uv_timer_start(&p->timer, on_agent_due, delay_ms, 0);
}

/*! \brief Close callback of an agent connection: next poll. */
static void on_agent_closed(uv_handle_t *handle)
{
	tgc_agent_poll_t *p = handle->data;

	p->tcp_open = false;
	if (!stopped(p)) {
		tgc_agent_poll_start(p, p->interval_ms);
	}
}

/*! \brief Text of a reader status that ends a poll without a line. */
static const char *status_str(tgc_agent_status_t st)
{
	switch (st) {
	case TGC_AGENT_LONG:    return "line too long";
	case TGC_AGENT_BADBYTE: return "control byte in the line";
	case TGC_AGENT_EMPTY:   return "closed without a line";
	default:                return "no line";
	}
}

/*! \brief Ends the poll in flight with \a status (a reader status, or MORE
 *         for a connection that failed) and the line read. */
static void poll_end(tgc_agent_poll_t *p, tgc_agent_status_t status,
                     const char *why)
{
	p->polling = false;
	uv_timer_stop(&p->timer);
	if (status == TGC_AGENT_LINE) {
		tgc_agent_report_t rep;
		tgc_agent_parse(p->rd.line, p->rd.len, &rep);
		p->done(p->ctx, &rep, NULL);
	} else {
		p->done(p->ctx, NULL, why);
	}
	if (p->tcp_open) {
		if (!uv_is_closing((uv_handle_t *)&p->tcp)) {
			uv_close((uv_handle_t *)&p->tcp, on_agent_closed);
		}
	} else if (!stopped(p)) {
		tgc_agent_poll_start(p, p->interval_ms);
	}
}

/*! \brief Poll timeout. */
static void on_agent_timeout(uv_timer_t *timer)
{
	tgc_agent_poll_t *p = timer->data;

	if (stopped(p) || !p->polling) {
		return;
	}
	poll_end(p, TGC_AGENT_MORE, "no line within check-timeout");
}

/*! \brief Read buffer of a poll. */
static void on_agent_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
	tgc_agent_poll_t *p = handle->data;
	(void)suggested;

	buf->base = (char *)p->rx;
	buf->len = sizeof(p->rx);
}

/*! \brief Data of a poll. */
static void on_agent_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	tgc_agent_poll_t *p = stream->data;
	(void)buf;

	if (stopped(p) || !p->polling || nread == 0) {
		return;
	}
	tgc_agent_status_t st;
	if (nread < 0) {
		st = (nread == UV_EOF) ? tgc_agent_eof(&p->rd) : TGC_AGENT_MORE;
		poll_end(p, st, (nread == UV_EOF) ? status_str(st) :
		                                    uv_strerror((int)nread));
		return;
	}
	st = tgc_agent_feed(&p->rd, p->rx, (size_t)nread, NULL);
	if (st != TGC_AGENT_MORE) {
		poll_end(p, st, status_str(st));
	}
}

/*! \brief Connect result of a poll. */
static void on_agent_connect(uv_connect_t *req, int status)
{
	tgc_agent_poll_t *p = req->data;

	if (stopped(p) || !p->polling) {
		return;
	}
	if (status != 0) {
		poll_end(p, TGC_AGENT_MORE, uv_strerror(status));
		return;
	}
	tgc_agent_reader_init(&p->rd);
	int ret = uv_read_start((uv_stream_t *)&p->tcp, on_agent_alloc,
	                        on_agent_read);
	if (ret != 0) {
		poll_end(p, TGC_AGENT_MORE, uv_strerror(ret));
	}
}

/*! \brief The timer fired: time for a poll. */
static void on_agent_due(uv_timer_t *timer)
{
	tgc_agent_poll_t *p = timer->data;
	uv_loop_t *loop = timer->loop;

	if (stopped(p) || p->polling || p->tcp_open) {
		return;
	}
	if (p->may_poll != NULL && !p->may_poll(p->ctx)) {
		tgc_agent_poll_start(p, p->interval_ms);
		return;
	}
	p->polling = true;
	uv_update_time(loop);
	int ret = uv_tcp_init_ex(loop, &p->tcp, p->sa.ss_family);
	if (ret != 0) {
		poll_end(p, TGC_AGENT_MORE, uv_strerror(ret));
		return;
	}
	p->tcp_open = true;
	p->tcp.data = p;
	p->connect.data = p;
	ret = uv_tcp_connect(&p->connect, &p->tcp, (const struct sockaddr *)&p->sa,
	                     on_agent_connect);
	if (ret != 0) {
		poll_end(p, TGC_AGENT_MORE, uv_strerror(ret));
		return;
	}
	uv_timer_start(&p->timer, on_agent_timeout, p->timeout_ms, 0);
}

int tgc_agent_poll_init(tgc_agent_poll_t *p, uv_loop_t *loop,
                        const struct sockaddr_storage *sa, uint32_t interval_ms,
                        uint32_t timeout_ms, tgc_agent_poll_done_t done,
                        tgc_agent_poll_may_t may_poll,
                        tgc_agent_poll_stopped_t stopped_cb, void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->sa = *sa;
	p->interval_ms = interval_ms;
	p->timeout_ms = timeout_ms;
	p->done = done;
	p->may_poll = may_poll;
	p->stopped = stopped_cb;
	p->ctx = ctx;
	int ret = uv_timer_init(loop, &p->timer);
	if (ret == 0) {
		p->timer_open = true;
		p->timer.data = p;
	}

	return ret;
}
