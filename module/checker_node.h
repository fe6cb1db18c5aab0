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
 * \brief The checker's per-node state, shared by the checker thread
 *        (module/health.c) and the exchanges it drives on a connected probe
 *        (module/checker_probe.c). Private to these two files.
 */

#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

#include "module/addr.h"
#include "module/agent_poll.h"
#include "module/health.h"
#include "module/probe_rfb.h"
#include "module/table.h"
#include "module/uvloop.h"

/*! \brief Where a node is in its probe cycle. */
typedef enum {
	NODE_IDLE    = 0, /*!< Waiting for the next probe (timer armed). */
	NODE_PROBING = 1, /*!< Probe in flight (timer bounds it). */
	NODE_CLOSING = 2, /*!< Probe done, connection closing. */
} node_phase_t;

/*!
 * \brief Per-node probe state.
 *
 * Initialised by tgc_checker_start() before the checker thread exists;
 * afterwards touched by the checker thread only.
 */
typedef struct {
	struct tgc_checker *ck;       /*!< Owner. */
	uint32_t idx;                 /*!< Record index. */
	bool valid;                   /*!< Record has a usable address. */
	struct sockaddr_storage sa;   /*!< Probe destination. */
	char text[TGC_ADDR_STRLEN];   /*!< Address text for logs. */
	uint16_t port;                /*!< Check port. */
	uv_timer_t timer;             /*!< Next probe while idle, probe timeout
	                               *   while probing. */
	uv_tcp_t tcp;                 /*!< Probe connection (while tcp_open). */
	uv_connect_t connect;         /*!< Connect request of the probe. */
	bool tcp_open;                /*!< tcp initialised and not yet closed. */
	node_phase_t phase;           /*!< Probe cycle position. */
	uint64_t start_ns;            /*!< Probe start (uv_hrtime; back-dated
	                               *   like start_ms). */
	uint64_t start_ms;            /*!< Probe start (loop time); for a probe
	                               *   resumed from a previous instance, when
	                               *   that one started it. */
	uint64_t start_rt;            /*!< Probe start as recorded in the table
	                               *   (CLOCK_REALTIME ms, same meaning). */
	tgc_rfb_t rfb;                /*!< RFB handshake of the probe (rfb). */
	uint8_t rx[64];               /*!< Read buffer of the probe (rfb). */
	bool rfb_refused;             /*!< The server refuses the checker (the
	                               *   refusal is logged, not yet cleared). */
	tgc_agent_poll_t agent;       /*!< Agent poll (agent_port set). */
	bool agent_unknown_logged;    /*!< Unknown agent words were logged. */
	bool agent_failing;           /*!< The agent's failure was logged. */
	tgc_health_sm_t sm;           /*!< State machine (mirrors the record). */
	bool synced;                  /*!< sm was loaded from the record since
	                               *   we last (re)gained the writer role. */
	bool admin_known;             /*!< admin_seen is valid. */
	tgc_admin_t admin_seen;       /*!< Last observed admin state. */
	struct http_probe *http;      /*!< http/https/tls exchange of the probe
	                               *   in flight (freed once closed). */
	void *tls_sess;               /*!< https: session saved for resumption
	                               *   (NULL = full handshake next). */
	size_t tls_sess_len;          /*!< Its length. */
	uint64_t tls_full_ms;         /*!< Loop time of the last full handshake. */
	uint8_t src_seen;             /*!< Its source (tgc_admin_src_t). */
	bool guard_seen;              /*!< A zone drain/down was held back. */
} node_t;

/*!
 * \brief A running checker.
 *
 * Ownership across threads: tgc_checker_start() fills everything before it
 * creates the checker thread; from then on the loop, the handles and the
 * nodes belong to the checker thread, until tgc_checker_stop() has joined it.
 * The only cross-thread operations in between are uv_async_send() on the
 * stop async (module/uvloop.h) and on \a wake_async (libuv makes it
 * thread-safe).
 */
struct tgc_checker {
	tgc_uvloop_t ul;          /*!< Thread and loop (module/uvloop.h); first,
	                           *   so that the setup callback finds the
	                           *   checker. */
	tgc_checker_conf_t conf;  /*!< Written by start, then read-only. */
	uint32_t count;           /*!< Number of nodes (read-only). */
	node_t *nodes;            /*!< Per-node state (checker thread). */
	uv_timer_t admin_timer;   /*!< Admin scan and heartbeat (checker thread). */
	uv_async_t wake_async;    /*!< Sent by a query worker that posted zone
	                           *   admin states (tgc_checker_wake()), handled
	                           *   in the checker thread: an admin scan now. */
	bool sock_failing;        /*!< Socket creation failing, logged
	                           *   (checker thread only). */
	bool disabled_marked;     /*!< check: none recorded (checker thread only). */
	bool agent_fields_done;   /*!< Weights, capacities (and, without an
	                           *   agent, agent fields) written (checker
	                           *   thread only). */
};

/*! \brief Logs through the configured logger, unless stopping. */
#define CK_LOG(ck, prio, fmt, ...) TGC_UVTHREAD_LOG(&(ck)->ul.th, prio, fmt, ##__VA_ARGS__)

/*! \brief Tells whether this instance may write the table now. */
static inline bool tgc_checker_is_writer(const tgc_checker_t *ck)
{
	return tgc_uvthread_is_writer(&ck->ul.th);
}

/*!
 * \brief Ends the probe in flight: records \a probe, closes the connection
 *        and schedules the next probe (once the connection is closed).
 *        \a feed: the outcome counts for the state machine.
 */
void tgc_checker_probe_end(node_t *n, tgc_probe_t probe, bool feed);

/*! \brief Maps a failed connect/read status to a probe outcome. */
tgc_probe_t tgc_checker_status_probe(int status);

/*! \brief Connected: starts the RFB handshake of an rfb probe. */
void tgc_checker_rfb_begin(node_t *n);

/*! \brief Connected: starts the exchange of an http/https/tls probe. */
void tgc_checker_http_begin(node_t *n);

/*! \brief Frees the http/https/tls exchange of a node (closed handle). */
void tgc_checker_http_free(node_t *n);

/*! \brief Drops the saved TLS session of a node. */
void tgc_checker_tls_forget(node_t *n);
