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
 * \brief NAT translator: the blocking client asking the upstreams.
 *
 * tgc_forward_query() sends one question to the upstreams in turn,
 * synchronous and bounded (poll()), from a fresh random-port connected UDP
 * socket per try, retried over TCP when truncated. knotd workers call it
 * for names other than the cluster name, the poller thread for the cluster
 * name. A readable cancel descriptor ends it at once.
 */

#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <libknot/libknot.h>

#include "module/addr.h"
#include "module/reply.h"

/*! \brief Most upstream addresses of one instance. */
#define TGC_FORWARD_TARGETS_MAX		64
/*! \brief Cap of the total time of one on-demand forward, in ms. */
#define TGC_FORWARD_BUDGET_MAX_MS	3000

/*! \brief Outcome kinds of one try (counters `upstream-error` by index). */
typedef enum {
	TGC_FWD_ERR_TIMEOUT = 0, /*!< No acceptable reply in time. */
	TGC_FWD_ERR_NETWORK = 1, /*!< Refused/unreachable/socket error. */
	TGC_FWD_ERR_INVALID = 2, /*!< A reply was rejected (ID, question, ...). */
	TGC_FWD_ERR_TSIG    = 3, /*!< A reply failed TSIG. */
	TGC_FWD_ERR_RCODE   = 4, /*!< Valid reply with SERVFAIL, REFUSED etc. */
	TGC_FWD_ERR_COUNT   = 5,
	TGC_FWD_TRY_OK      = 6, /*!< Not an error: usable reply. */
} tgc_fwd_err_t;

/*! \brief One upstream address. */
typedef struct {
	struct sockaddr_storage addr; /*!< Address and port. */
	const knot_tsig_key_t *key;   /*!< Key of its remote (NULL = none). */
	char text[TGC_ADDR_STRLEN + 8]; /*!< "ADDR@PORT" for logs. */
} tgc_fwd_target_t;

/*! \brief Upstreams of one instance (immutable after load). */
typedef struct {
	const tgc_fwd_target_t *targets; /*!< In configuration order. */
	size_t count;                    /*!< Their number. */
	uint32_t timeout_ms;             /*!< Time bound of one try. */
	const knot_dname_t *scope;       /*!< Replies are confined to this name
	                                  *   and below (tgc_fwd_sent_t.scope;
	                                  *   NULL = not confined). */
	const knot_edns_client_subnet_t *ecs; /*!< EDNS Client Subnet option
	                                  *   every query carries (NULL =
	                                  *   none); set per forward on a copy. */
	bool load_report;                /*!< Ask for the load report
	                                  *   (loadopt.h; the poller's copy). */
} tgc_fwd_conf_t;

/*! \brief Counts of one tgc_forward_query() call. */
typedef struct {
	uint32_t errors[TGC_FWD_ERR_COUNT]; /*!< Failed tries (and rejected
	                                     *   replies) by kind. */
	uint32_t failovers;                 /*!< Tries of a next target. */
	uint32_t tcp;                       /*!< TCP retries after TC. */
} tgc_fwd_stats_t;

/*!
 * \brief Called after each try (poller: upstream state).
 *
 * \param ctx     Callback context.
 * \param idx     Target index.
 * \param result  TGC_FWD_TRY_OK or the tgc_fwd_err_t of the failure.
 * \param rtt_us  Duration of the try.
 */
typedef void (*tgc_fwd_tried_f)(void *ctx, size_t idx, tgc_fwd_err_t result,
                                uint32_t rtt_us);

/*! \brief Text of a try outcome. */
const char *tgc_forward_err_str(tgc_fwd_err_t err);

/*!
 * \brief Asks the targets one question, in order from \a first (wrapping),
 *        until one gives a valid reply with RCODE NOERROR or NXDOMAIN.
 *
 * Each try has its own socket: UDP connected to the target (random source
 * port chosen by the kernel), replies not passing tgc_forward_validate() are
 * counted and ignored while waiting, except that an authentic reply with
 * unusable content (TGC_FWD_BAD_SOA) ends the try at once; a truncated reply
 * is asked again over TCP, where TC is an error. Replies are confined to
 * conf->scope. Each try lasts at most conf->timeout_ms, all together
 * \a budget_ms.
 *
 * \param[in]  conf       Targets and per-try timeout.
 * \param[in]  first      Index of the first target to try.
 * \param[in]  qname      Question name.
 * \param[in]  qtype      Question type.
 * \param[in]  qclass     Question class.
 * \param[in]  budget_ms  Total time bound.
 * \param[in]  cancel_fd  Readable = give up at once (-1 = none).
 * \param[in]  mm         Memory of the reply (NULL = malloc).
 * \param[out] reply      Parsed reply (free with tgc_forward_reply_free()).
 * \param[out] used       Index of the target that answered (may be NULL).
 * \param[in,out] stats   Counts added to (may be NULL).
 * \param[in]  tried      Per-try callback (may be NULL).
 * \param[in]  tried_ctx  Its context.
 *
 * \retval KNOT_EOK       Reply in \a reply.
 * \retval KNOT_ETIMEOUT  No target gave a usable reply.
 * \retval KNOT_EAGAIN    Cancelled.
 * \retval KNOT_E*        Local error.
 */
int tgc_forward_query(const tgc_fwd_conf_t *conf, size_t first,
                      const knot_dname_t *qname, uint16_t qtype,
                      uint16_t qclass, uint32_t budget_ms, int cancel_fd,
                      knot_mm_t *mm, knot_pkt_t **reply, size_t *used,
                      tgc_fwd_stats_t *stats, tgc_fwd_tried_f tried,
                      void *tried_ctx);

/*!
 * \brief Frees a reply of tgc_forward_query() and its wire.
 *
 * \param reply  Reply (may be NULL).
 * \param mm     The memory context given to tgc_forward_query().
 */
void tgc_forward_reply_free(knot_pkt_t *reply, knot_mm_t *mm);

/*!
 * \brief Total time bound of an on-demand forward: timeout x targets,
 *        capped by TGC_FORWARD_BUDGET_MAX_MS (at least one timeout).
 */
uint32_t tgc_forward_budget_ms(const tgc_fwd_conf_t *conf);

/*!
 * \brief How old a fresh answer may be: a poll interval plus the longest
 *        poll (A and AAAA, each timeout x targets), plus one timeout slack.
 */
uint32_t tgc_forward_fresh_ms(uint32_t interval_ms, const tgc_fwd_conf_t *conf);

