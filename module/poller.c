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

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <libknot/libknot.h>
#include <uv.h>

#include "module/health_sm.h"
#include "module/poller.h"

/*!
 * \brief A running poller.
 *
 * Ownership across threads: tgc_poller_start() fills everything before it
 * creates the poller thread; from then on the state machines, the scratch
 * snapshot and the flags belong to the poller thread until
 * tgc_poller_stop() has joined it. The only cross-thread operation in
 * between is the eventfd write of tgc_poller_stop() (the kernel orders it
 * with the poller's poll()).
 */
struct tgc_poller {
	tgc_uvthread_t th;        /*!< The thread, logger and writer role
	                           *   (see module/uvloop.h). */
	tgc_poller_conf_t conf;   /*!< Written by start, then read-only. */
	char name_txt[KNOT_DNAME_TXT_MAXLEN + 1]; /*!< Name for logs (read-only). */
	tgc_health_sm_t *sm;      /*!< Per-target state (poller thread). */
	tgc_cache_snap_t snap;    /*!< Scratch snapshot (poller thread). */
	tgc_cache_snap_t prev;    /*!< The answer cached before (poller). */
	uint64_t left_ms[TGC_CACHE_RECS][TGC_CACHE_SLOTS]; /*!< When each grant
	                           *   slot's address left (poller thread). */
	int cancel_fd;            /*!< eventfd: written by stop, polled by the
	                           *   poller thread (between polls and inside
	                           *   a poll); read-only descriptor. */
	bool lost;                /*!< No upstream answered the last poll and
	                           *   that was logged (poller thread only). */
	bool expired_logged;      /*!< Stale limit passed, logged (poller). */
	bool synced;              /*!< sm loaded from the records (poller). */
};

/*! \brief Logs through the configured logger, unless stopping. */
#define PL_LOG(p, prio, fmt, ...) TGC_UVTHREAD_LOG(&(p)->th, prio, fmt, ##__VA_ARGS__)

/*! \brief Upstream states: one try decides (rise and fall of one). */
#define UPSTREAM_RISE	1
#define UPSTREAM_FALL	1

/*! \brief Probe outcome shown for a try result. */
static tgc_probe_t try_probe(tgc_fwd_err_t res)
{
	switch (res) {
	case TGC_FWD_TRY_OK:      return TGC_PROBE_OK;
	case TGC_FWD_ERR_TIMEOUT: return TGC_PROBE_TIMEOUT;
	case TGC_FWD_ERR_NETWORK: return TGC_PROBE_REFUSED;
	default:                  return TGC_PROBE_ERROR;
	}
}

/*! \brief Per-try callback: upstream state in the record, logged on change. */
static void on_tried(void *arg, size_t idx, tgc_fwd_err_t res, uint32_t rtt_us)
{
	tgc_poller_t *p = arg;
	tgc_table_t *table = p->conf.table;
	if (idx >= table->hdr->node_count || !tgc_uvthread_is_writer(&p->th)) {
		return;
	}

	tgc_health_sm_t sm = p->sm[idx];
	tgc_health_t from = sm.health;
	bool changed = tgc_health_sm_feed(&sm, res == TGC_FWD_TRY_OK,
	                                  UPSTREAM_RISE, UPSTREAM_FALL);
	uint64_t now = tgc_table_now_ms();
	tgc_node_update_t upd = {
		.what = TGC_NODE_UPD_RESULT | (changed ? TGC_NODE_UPD_HEALTH : 0),
		.health = sm.health,
		.consec_ok = sm.consec_ok,
		.consec_fail = sm.consec_fail,
		.last_probe = try_probe(res),
		.last_rtt_us = rtt_us,
		.now_ms = now,
	};
	if (!tgc_table_node_update(table, (uint32_t)idx, &upd)) {
		return;
	}
	p->sm[idx] = sm;

	if (changed) {
		PL_LOG(p, (sm.health == TGC_HEALTH_DOWN) ? LOG_WARNING : LOG_NOTICE,
		       "upstream %s %s -> %s (%s, %u ms)",
		       p->conf.fwd->targets[idx].text, tgc_table_health_str(from),
		       tgc_table_health_str(sm.health), tgc_forward_err_str(res),
		       (unsigned)(rtt_us / 1000));
	}
}

/*! \brief Loads the upstream state machines from the records. */
static void pl_sync(tgc_poller_t *p)
{
	for (uint32_t i = 0; i < p->conf.table->hdr->node_count; i++) {
		tgc_node_snap_t snap;
		tgc_table_node_read(p->conf.table, i, &snap);
		p->sm[i].health = (snap.health <= TGC_HEALTH_DOWN) ? snap.health :
		                                                     TGC_HEALTH_UNKNOWN;
		p->sm[i].consec_ok = snap.consec_ok;
		p->sm[i].consec_fail = snap.consec_fail;
	}
	p->synced = true;
}

/*! \brief Logs once when the stale limit has passed for both types. */
static void pl_check_expiry(tgc_poller_t *p)
{
	uint64_t now = tgc_table_now_ms();
	for (unsigned i = 0; i < TGC_CACHE_RECS; i++) {
		if (tgc_table_cache_read(p->conf.table, i, &p->snap, false) != KNOT_EOK) {
			return;
		}
		if (tgc_forward_cache_state(&p->snap, now, 0, p->conf.stale_limit_s) ==
		    TGC_CACHE_STALE) {
			return;
		}
	}
	p->expired_logged = true;
	PL_LOG(p, LOG_ERR, "no upstream answer for %s within stale-limit %u s, "
	       "answering SERVFAIL", p->name_txt, p->conf.stale_limit_s);
}

/*!
 * \brief One poll: A then AAAA, each sent to the upstreams from the last
 *        good one on; the outcome is written to the cache records.
 *
 * \return False if cancelled (stopping).
 */
static bool pl_round(tgc_poller_t *p)
{
	tgc_table_t *table = p->conf.table;
	static const uint16_t types[TGC_CACHE_RECS] = {
		[TGC_CACHE_A] = KNOT_RRTYPE_A, [TGC_CACHE_AAAA] = KNOT_RRTYPE_AAAA
	};

	tgc_uvthread_table_sync(&p->th);
	if (!tgc_uvthread_is_writer(&p->th)) {
		/* A newer instance polls; reload its history if we ever get
		 * the table back. */
		p->synced = false;
		return true;
	}
	tgc_uvthread_heartbeat(&p->th);
	if (!p->synced) {
		pl_sync(p);
	}
	/* Before polling: a poll that succeeds would skip the message. */
	if (p->lost && !p->expired_logged) {
		pl_check_expiry(p);
	}

	bool any_ok = false;
	size_t good = 0;
	const tgc_fwd_conf_t *fwd = p->conf.fwd;
	uint64_t budget = (uint64_t)fwd->timeout_ms * fwd->count;
	for (unsigned i = 0; i < TGC_CACHE_RECS; i++) {
		size_t first = (p->conf.preferred != NULL) ?
		               atomic_load_explicit(p->conf.preferred,
		                                    memory_order_relaxed) : 0;
		knot_pkt_t *reply = NULL;
		size_t used = 0;
		tgc_fwd_stats_t stats;
		memset(&stats, 0, sizeof(stats));
		int ret = tgc_forward_query(fwd, first % fwd->count, p->conf.name,
		                            types[i], KNOT_CLASS_IN,
		                            (budget > UINT32_MAX) ? UINT32_MAX : (uint32_t)budget,
		                            p->cancel_fd, NULL, &reply, &used, &stats,
		                            on_tried, p);
		if (ret == KNOT_EAGAIN) {
			return false;
		}

		tgc_cache_snap_t *snap = &p->snap;
		memset(snap, 0, sizeof(*snap));
		uint64_t now = tgc_table_now_ms();
		int usable = (ret == KNOT_EOK) ?
		             tgc_forward_extract(reply, p->conf.name, types[i], snap) :
		             ret;
		if (ret == KNOT_EOK && usable != KNOT_EOK) {
			/* A valid reply the cache cannot take (a client subnet
			 * scope): counted with the other unusable replies. */
			stats.errors[TGC_FWD_ERR_INVALID]++;
		}
		if (p->conf.count != NULL) {
			p->conf.count(p->conf.ctx, &stats);
		}
		if (usable == KNOT_EOK) {
			snap->fetched_ms = now;
			snap->upstream = used;
			/* Grant slots follow the addresses from poll to poll
			 * (read back from the record: a new writer goes on with
			 * the slots of the one before). */
			bool have_prev = tgc_table_cache_read(table, i, &p->prev,
			                                      false) == KNOT_EOK;
			tgc_forward_slots(have_prev ? &p->prev : NULL, snap,
			                  p->left_ms[i], now);
			any_ok = true;
			good = used;
			if (p->conf.preferred != NULL) {
				atomic_store_explicit(p->conf.preferred, (uint32_t)used,
				                      memory_order_relaxed);
			}
		} else {
			snap->valid = false;
			snap->ok = false;
		}
		snap->polled_ms = now;
		tgc_forward_reply_free(reply, NULL);
		if (tgc_uvthread_is_writer(&p->th)) {
			(void)tgc_table_cache_write(table, i, snap);
		}
	}

	if (!any_ok && !p->lost) {
		p->lost = true;
		PL_LOG(p, LOG_WARNING, "no upstream answers for %s, serving the "
		       "last answer for up to %u s", p->name_txt,
		       p->conf.stale_limit_s);
	} else if (any_ok && p->lost) {
		p->lost = false;
		p->expired_logged = false;
		PL_LOG(p, LOG_NOTICE, "upstream answers for %s again (%s)",
		       p->name_txt, fwd->targets[good].text);
	}
	if (p->lost && !p->expired_logged) {
		pl_check_expiry(p);
	}
	/* Publish this round at once (heartbeat, cache, upstream states). */
	tgc_uvthread_table_sync(&p->th);

	return true;
}

/*!
 * \brief Waits \a delay_ms for the cancel descriptor.
 *
 * \return True if cancelled (stopping).
 */
static bool pl_wait(const tgc_poller_t *p, uint64_t delay_ms)
{
	uint64_t end = uv_hrtime() / 1000000 + delay_ms;
	for (;;) {
		uint64_t now = uv_hrtime() / 1000000;
		int left = (now < end) ? (int)((end - now < INT32_MAX) ?
		                               end - now : INT32_MAX) : 0;
		struct pollfd pfd = { .fd = p->cancel_fd, .events = POLLIN };
		int n = poll(&pfd, 1, left);
		if (n > 0) {
			return true;
		}
		if (n == 0 && left == 0) {
			return false;
		}
		if (n < 0 && errno != EINTR) {
			/* poll() itself failed (ENOMEM): sleep the time out
			 * instead (a stop then waits for the next poll's
			 * cancel check). */
			struct timespec ts = { .tv_sec = left / 1000,
			                       .tv_nsec = (left % 1000) * 1000000L };
			(void)nanosleep(&ts, NULL);
			return false;
		}
	}
}

/*! \brief Body of the poller thread: a poll, then the wait for the next,
 *         an interval after the start of this one (at once if the poll
 *         took longer). */
static void pl_run(void *arg)
{
	tgc_poller_t *p = arg;

	for (;;) {
		uint64_t start = uv_hrtime() / 1000000;
		if (!pl_round(p)) {
			return; /* Cancelled. */
		}
		uint64_t took = uv_hrtime() / 1000000 - start;
		uint64_t delay = (took < p->conf.interval_ms) ?
		                 p->conf.interval_ms - took : 0;
		if (pl_wait(p, delay)) {
			return;
		}
	}
}

/*! \brief Frees a poller whose thread is gone (or never started). */
static void pl_free(tgc_poller_t *p)
{
	if (p->cancel_fd >= 0) {
		close(p->cancel_fd);
	}
	free(p->sm);
	free(p);
}

int tgc_poller_start(tgc_poller_t **out, const tgc_poller_conf_t *conf)
{
	if (out == NULL || conf == NULL || conf->table == NULL ||
	    conf->table->hdr == NULL || conf->table->cache == NULL ||
	    conf->fwd == NULL || conf->fwd->count == 0 ||
	    conf->fwd->count != conf->table->hdr->node_count ||
	    conf->name == NULL || conf->interval_ms == 0) {
		return KNOT_EINVAL;
	}

	tgc_poller_t *p = NULL;
	int ret = TGC_UVTHREAD_NEW(&p, conf);
	if (ret != KNOT_EOK) {
		return ret;
	}
	p->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	p->sm = calloc(conf->fwd->count, sizeof(*p->sm));
	if (p->sm == NULL || p->cancel_fd < 0) {
		ret = (p->sm == NULL) ? KNOT_ENOMEM : knot_map_errno();
		pl_free(p);
		return ret;
	}
	p->conf = *conf;
	if (knot_dname_to_str(p->name_txt, conf->name, sizeof(p->name_txt)) == NULL) {
		strcpy(p->name_txt, "?");
	}

	if (tgc_uvthread_spawn(&p->th, pl_run, p) != 0) {
		pl_free(p);
		return KNOT_ERROR;
	}

	*out = p;
	return KNOT_EOK;
}

void tgc_poller_stop(tgc_poller_t *poller)
{
	if (poller == NULL) {
		return;
	}

	/* Ends the wait for the next poll or the try in flight. */
	uint64_t one = 1;
	ssize_t w = write(poller->cancel_fd, &one, sizeof(one));
	(void)w;
	tgc_uvthread_join(&poller->th);
	pl_free(poller);
}
