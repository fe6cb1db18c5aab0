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
 * \brief The agent poll of one node on the checker's libuv loop: every
 *        interval, connect to the agent, read one line (probe_agent.h)
 *        within the timeout, hand the report to the checker.
 *
 * Everything runs on the loop's thread; nothing here is shared. The owner
 * (the checker) decides what a report does (records, logs) in its \a done
 * callback and may veto a poll (\a may_poll: not the table's writer).
 */

#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "module/probe_agent.h"

/*!
 * \brief End of a poll: \a rep is the parsed line, or NULL when the agent
 *        gave no usable line (\a why says what went wrong).
 */
typedef void (*tgc_agent_poll_done_t)(void *ctx, const tgc_agent_report_t *rep,
                                      const char *why);

/*! \brief Whether a poll may start now (false: skipped, next one later). */
typedef bool (*tgc_agent_poll_may_t)(void *ctx);

/*! \brief Whether the owner is stopping (true: no callback, no new poll). */
typedef bool (*tgc_agent_poll_stopped_t)(void *ctx);

/*! \brief One node's agent poll (embedded in the checker's node). */
typedef struct {
	uv_timer_t timer;     /*!< Next poll while idle, its timeout while
	                       *   polling. */
	uv_tcp_t tcp;         /*!< Poll connection (while tcp_open). */
	uv_connect_t connect; /*!< Connect request of the poll. */
	bool timer_open;      /*!< timer initialised. */
	bool tcp_open;        /*!< tcp initialised and not yet closed. */
	bool polling;         /*!< A poll is in flight. */
	struct sockaddr_storage sa; /*!< Agent address. */
	tgc_agent_reader_t rd; /*!< Line of the poll. */
	uint8_t rx[64];       /*!< Read buffer of the poll. */
	uint32_t interval_ms; /*!< Between polls. */
	uint32_t timeout_ms;  /*!< Bound of one poll. */
	tgc_agent_poll_done_t done; /*!< Result callback. */
	tgc_agent_poll_may_t may_poll; /*!< Veto (NULL: always). */
	tgc_agent_poll_stopped_t stopped; /*!< Owner stopping (NULL: never). */
	void *ctx;            /*!< Of the callbacks. */
} tgc_agent_poll_t;

/*!
 * \brief Initialises a poll of the agent at \a sa on \a loop (its timer;
 *        no poll yet).
 *
 * \return 0 or a libuv error.
 */
int tgc_agent_poll_init(tgc_agent_poll_t *p, uv_loop_t *loop,
                        const struct sockaddr_storage *sa, uint32_t interval_ms,
                        uint32_t timeout_ms, tgc_agent_poll_done_t done,
                        tgc_agent_poll_may_t may_poll,
                        tgc_agent_poll_stopped_t stopped, void *ctx);

/*! \brief Schedules the next poll in \a delay_ms. */
void tgc_agent_poll_start(tgc_agent_poll_t *p, uint64_t delay_ms);

/*
 * Stopping: once \a stopped says so, no callback runs and no poll starts;
 * the handles stay for the loop's shutdown to close (tgc_uvloop_shutdown()
 * walks them).
 */
