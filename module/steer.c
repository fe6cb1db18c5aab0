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

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libknot/errcode.h>

#include "module/conf.h"
#include "module/load.h"
#include "module/steer.h"

/*! \brief since_ms of a node a worker last saw not answerable. */
#define SINCE_OUT	UINT64_MAX

/*! \brief Grants of one node counted by one worker. */
typedef struct {
	_Atomic double value;    /*!< Grants as of \a at_ms (writer: the
	                          *   worker; readers: every worker; relaxed). */
	_Atomic uint64_t at_ms;  /*!< Time of \a value (same). */
} grant_t;

/*! \brief One worker's block. */
typedef struct {
	grant_t *grants;         /*!< Per node, written by this worker only. */
	double *others;          /*!< Per node: the other workers' grants as of
	                          *   \a others_at_ms (private). */
	uint64_t *since_ms;      /*!< Per node: when this worker saw it become
	                          *   answerable again; 0 = answerable since
	                          *   the worker's first look (no ramp);
	                          *   SINCE_OUT = not answerable (private). */
	uint8_t *over;           /*!< Per node: over the high watermark
	                          *   (private hysteresis state). */
	uint8_t *mark;           /*!< Per node scratch of tgc_steer_seen(). */
	uint64_t others_at_ms;   /*!< Refresh time of \a others (private). */
	double *score;           /*!< Per node scratch for the order (private). */
} worker_t;

struct tgc_steer {
	tgc_steer_params_t params;
	unsigned threads;
	uint32_t nodes;
	uint32_t *weights;
	worker_t *workers;
};

uint64_t tgc_steer_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int tgc_steer_weight_parse(const char *str, tgc_addr_t *addr, uint16_t *port,
                           uint32_t *weight, const char **err)
{
	const char *dummy;
	err = (err != NULL) ? err : &dummy;
	const char *eq = (str != NULL) ? strrchr(str, '=') : NULL;
	if (eq == NULL || eq == str || eq[1] == '\0') {
		*err = "expected ADDRESS=WEIGHT or ADDRESS@PORT=WEIGHT";
		return KNOT_EINVAL;
	}
	unsigned long w = 0;
	for (const char *p = eq + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || p - eq > 6) {
			*err = "weight must be an integer 0-" TGC_CONF_STR(TGC_STEER_WEIGHT_MAX);
			return KNOT_EINVAL;
		}
		w = w * 10 + (unsigned long)(*p - '0');
	}
	if (w > TGC_STEER_WEIGHT_MAX) {
		*err = "weight must be an integer 0-" TGC_CONF_STR(TGC_STEER_WEIGHT_MAX);
		return KNOT_EINVAL;
	}
	char buf[TGC_ADDR_STRLEN + 8];
	size_t len = (size_t)(eq - str);
	if (len >= sizeof(buf)) {
		*err = "expected ADDRESS=WEIGHT or ADDRESS@PORT=WEIGHT";
		return KNOT_EINVAL;
	}
	memcpy(buf, str, len);
	buf[len] = '\0';
	tgc_node_conf_t node;
	if (tgc_conf_node_parse(buf, &node, err) != KNOT_EOK) {
		return KNOT_EINVAL;
	}
	*addr = node.addr;
	*port = node.port;
	*weight = (uint32_t)w;

	return KNOT_EOK;
}

int tgc_steer_weights(const char *const *values, size_t count,
                      const tgc_addr_t *addrs, const uint16_t *ports,
                      size_t nodes, uint32_t *weights, size_t *bad,
                      const char **err)
{
	for (size_t v = 0; v < count; v++) {
		tgc_addr_t addr;
		uint16_t port;
		uint32_t w;
		*bad = v;
		if (tgc_steer_weight_parse(values[v], &addr, &port, &w, err) != KNOT_EOK) {
			return KNOT_EINVAL;
		}
		bool found = false;
		for (size_t i = 0; i < nodes; i++) {
			if (tgc_addr_equal(&addrs[i], &addr) &&
			    (port == 0 || ports[i] == port)) {
				weights[i] = w;
				found = true;
			}
		}
		if (!found) {
			*err = "names no 'node' or 'backup'";
			return KNOT_EINVAL;
		}
	}

	return KNOT_EOK;
}

/*! \brief Frees one worker's arrays. */
static void worker_free(worker_t *w)
{
	free(w->grants);
	free(w->others);
	free(w->since_ms);
	free(w->over);
	free(w->mark);
	free(w->score);
}

/*! \brief aligned_alloc() of \a n bytes rounded up to cache lines, zeroed. */
static void *line_alloc(size_t n)
{
	size_t len = (n + 63) / 64 * 64;
	void *p = aligned_alloc(64, len > 0 ? len : 64);
	if (p != NULL) {
		memset(p, 0, len > 0 ? len : 64);
	}
	return p;
}

tgc_steer_t *tgc_steer_new(const tgc_steer_params_t *params, unsigned threads,
                           uint32_t nodes, const uint32_t *weights)
{
	if (params == NULL || threads == 0 || weights == NULL) {
		return NULL;
	}
	tgc_steer_t *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return NULL;
	}
	s->params = *params;
	if (s->params.low == 0 || s->params.low > s->params.high) {
		s->params.low = s->params.high;
	}
	s->threads = threads;
	s->nodes = nodes;
	s->weights = malloc((nodes > 0 ? nodes : 1) * sizeof(*s->weights));
	s->workers = calloc(threads, sizeof(*s->workers));
	if (s->weights == NULL || s->workers == NULL) {
		tgc_steer_free(s);
		return NULL;
	}
	memcpy(s->weights, weights, nodes * sizeof(*weights));
	for (unsigned t = 0; t < threads; t++) {
		worker_t *w = &s->workers[t];
		/* Each array in its own cache lines: the shared grants never
		 * share a line with another worker's data. */
		w->grants = line_alloc(nodes * sizeof(*w->grants));
		w->others = line_alloc(nodes * sizeof(*w->others));
		w->since_ms = line_alloc(nodes * sizeof(*w->since_ms));
		w->over = line_alloc(nodes * sizeof(*w->over));
		w->mark = line_alloc(nodes * sizeof(*w->mark));
		w->score = line_alloc(nodes * sizeof(*w->score));
		if (w->grants == NULL || w->others == NULL || w->since_ms == NULL ||
		    w->over == NULL || w->mark == NULL || w->score == NULL) {
			tgc_steer_free(s);
			return NULL;
		}
		for (uint32_t i = 0; i < nodes; i++) {
			atomic_init(&w->grants[i].value, 0.0);
			atomic_init(&w->grants[i].at_ms, 0);
		}
	}

	return s;
}

void tgc_steer_free(tgc_steer_t *s)
{
	if (s == NULL) {
		return;
	}
	if (s->workers != NULL) {
		for (unsigned t = 0; t < s->threads; t++) {
			worker_free(&s->workers[t]);
		}
	}
	free(s->workers);
	free(s->weights);
	free(s);
}

bool tgc_steer_least_loaded(const tgc_steer_t *s)
{
	return s != NULL && s->params.least_loaded;
}

bool tgc_steer_watermarks(const tgc_steer_t *s)
{
	return s != NULL && s->params.high > 0;
}

/*! \brief Grants of node \a idx counted by worker \a w at \a now_ms. */
static double grants_of(const tgc_steer_t *s, const worker_t *w, uint32_t idx,
                        uint64_t now_ms)
{
	tgc_load_grants_t g = {
		.value = atomic_load_explicit(&w->grants[idx].value, memory_order_relaxed),
		.at_ms = atomic_load_explicit(&w->grants[idx].at_ms, memory_order_relaxed),
	};
	return tgc_load_grants_at(&g, now_ms, s->params.window_ms);
}

/*! \brief Refreshes worker \a thr's copy of the other workers' grants. */
static void others_refresh(tgc_steer_t *s, unsigned thr, uint64_t now_ms)
{
	worker_t *me = &s->workers[thr];
	if (s->threads < 2 ||
	    (me->others_at_ms != 0 && now_ms < me->others_at_ms + TGC_STEER_REFRESH_MS)) {
		return;
	}
	for (uint32_t i = 0; i < s->nodes; i++) {
		double sum = 0.0;
		for (unsigned t = 0; t < s->threads; t++) {
			if (t != thr) {
				sum += grants_of(s, &s->workers[t], i, now_ms);
			}
		}
		me->others[i] = sum;
	}
	me->others_at_ms = now_ms;
}

/*! \brief A node's weight and agent report as load.h takes them. */
static void agent_cap(uint32_t weight, const tgc_table_agent_t *ag,
                      tgc_load_cap_t *cap)
{
	cap->weight = weight;
	cap->has_pct = (ag->flags & TGC_AGENT_F_PCT) != 0;
	cap->pct = ag->pct;
	cap->has_maxconn = (ag->flags & TGC_AGENT_F_MAXCONN) != 0;
	cap->maxconn = ag->maxconn;
}

bool tgc_steer_over(tgc_steer_t *s, unsigned thr, const tgc_table_t *table,
                    uint32_t idx, uint64_t now_ms)
{
	if (s == NULL || s->params.high == 0 || idx >= s->nodes) {
		return false;
	}
	thr %= s->threads;
	worker_t *me = &s->workers[thr];
	tgc_table_agent_t ag;
	tgc_table_agent_read(table, idx, &ag);
	if ((ag.flags & TGC_AGENT_F_MAXCONN) == 0) {
		me->over[idx] = 0;
		return false;
	}
	tgc_load_cap_t cap;
	agent_cap(s->weights[idx], &ag, &cap);
	others_refresh(s, thr, now_ms);
	uint32_t sessions = (ag.flags & TGC_AGENT_F_SESSIONS) ? ag.sessions : 0;
	double grants = grants_of(s, me, idx, now_ms) + me->others[idx];
	double load = tgc_load_score(sessions, grants, tgc_load_capacity(&cap));
	bool over = tgc_load_over(me->over[idx] != 0, load * 100.0,
	                          s->params.high, s->params.low);
	me->over[idx] = over;

	return over;
}

void tgc_steer_seen(tgc_steer_t *s, unsigned thr, const uint32_t *fam,
                    size_t fam_count, const uint32_t *cand, size_t count,
                    uint64_t now_ms)
{
	if (s == NULL || s->params.slow_start_ms == 0) {
		return;
	}
	worker_t *me = &s->workers[thr % s->threads];
	/* Candidates seen out before: answerable since now; then every
	 * other node of the family: out (linear: candidates are marked
	 * first). A node answerable at the worker's first look has no ramp:
	 * knotd starting is not a node coming up. */
	for (size_t i = 0; i < count; i++) {
		uint32_t idx = cand[i];
		if (idx < s->nodes && me->since_ms[idx] == SINCE_OUT) {
			me->since_ms[idx] = now_ms;
		}
		if (idx < s->nodes) {
			me->mark[idx] = 1;
		}
	}
	for (size_t i = 0; i < fam_count; i++) {
		uint32_t idx = fam[i];
		if (idx >= s->nodes) {
			continue;
		}
		if (me->mark[idx] != 0) {
			me->mark[idx] = 0;
		} else {
			me->since_ms[idx] = SINCE_OUT;
		}
	}
}

/*! \brief Capacity of node \a idx for worker \a me: the agent's report and
 *         the weight, times the slow-start share. */
static double node_capacity(const tgc_steer_t *s, const worker_t *me,
                            const tgc_table_t *table, const tgc_table_agent_t *ag,
                            uint32_t idx, uint64_t now_ms)
{
	tgc_load_cap_t cap;
	agent_cap(s->weights[idx], ag, &cap);
	double capacity = tgc_load_capacity(&cap);
	if (s->params.slow_start_ms > 0) {
		uint64_t since = me->since_ms[idx];
		since = (since == SINCE_OUT) ? 0 : since;
		/* Health up after down (more than the first transition from
		 * unknown, which counts as up already). */
		const tgc_node_rec_t *r = &table->nodes[idx];
		if (tgc_table_health(table, idx) == TGC_HEALTH_UP &&
		    atomic_load_explicit(&r->transitions, memory_order_relaxed) > 1) {
			uint64_t up = atomic_load_explicit(&r->since_ms,
			                                   memory_order_relaxed);
			since = (up > since) ? up : since;
		}
		if (since != 0) {
			capacity *= tgc_load_slow_start(since, now_ms,
			                                s->params.slow_start_ms);
		}
	}

	return capacity;
}

void tgc_steer_order(tgc_steer_t *s, unsigned thr, const tgc_table_t *table,
                     uint32_t *cand, size_t count, uint64_t rotor,
                     uint64_t now_ms)
{
	if (s == NULL || count == 0) {
		return;
	}
	thr %= s->threads;
	worker_t *me = &s->workers[thr];
	others_refresh(s, thr, now_ms);
	for (size_t i = 0; i < count; i++) {
		uint32_t idx = cand[i];
		if (idx >= s->nodes) {
			continue;
		}
		tgc_table_agent_t ag;
		tgc_table_agent_read(table, idx, &ag);
		double capacity = node_capacity(s, me, table, &ag, idx, now_ms);
		uint32_t sessions = (ag.flags & TGC_AGENT_F_SESSIONS) ? ag.sessions : 0;
		double grants = grants_of(s, me, idx, now_ms) + me->others[idx];
		me->score[idx] = tgc_load_score(sessions, grants, capacity);
	}
	tgc_load_order(cand, count, me->score, rotor);
}

void tgc_steer_report(const tgc_steer_t *s, unsigned thr, const tgc_table_t *table,
                      uint32_t idx, uint32_t weight, uint64_t now_ms,
                      uint32_t *sessions, double *capacity, bool *has_sessions)
{
	tgc_table_agent_t ag;
	tgc_table_agent_read(table, idx, &ag);
	*has_sessions = (ag.flags & TGC_AGENT_F_SESSIONS) != 0;
	uint32_t own = *has_sessions ? ag.sessions : 0;
	if (s == NULL || idx >= s->nodes) {
		tgc_load_cap_t cap;
		agent_cap(weight, &ag, &cap);
		*sessions = own;
		*capacity = tgc_load_capacity(&cap);
		return;
	}
	const worker_t *me = &s->workers[thr % s->threads];
	*capacity = node_capacity(s, me, table, &ag, idx, now_ms);
	double total = (double)own + tgc_steer_grants(s, idx, now_ms);
	*sessions = (total >= (double)UINT32_MAX) ? UINT32_MAX :
	            (uint32_t)(total + 0.5);
}

void tgc_steer_order_given(tgc_steer_t *s, unsigned thr, uint32_t *order,
                           size_t count, const uint32_t *slots,
                           const uint32_t *sessions, const double *capacity,
                           uint64_t rotor, uint64_t now_ms)
{
	if (s == NULL || count == 0 || count > s->nodes) {
		return;
	}
	thr %= s->threads;
	worker_t *me = &s->workers[thr];
	others_refresh(s, thr, now_ms);
	for (size_t i = 0; i < count; i++) {
		uint32_t pos = order[i];
		if (pos >= count) {
			return; /* Not positions: left as they are. */
		}
		uint32_t slot = slots[pos];
		double grants = (slot < s->nodes) ?
		                grants_of(s, me, slot, now_ms) + me->others[slot] : 0.0;
		me->score[pos] = tgc_load_score(sessions[pos], grants, capacity[pos]);
	}
	tgc_load_order(order, count, me->score, rotor);
}

void tgc_steer_grant(tgc_steer_t *s, unsigned thr, uint32_t idx, uint64_t now_ms)
{
	if (s == NULL || idx >= s->nodes) {
		return;
	}
	grant_t *g = &s->workers[thr % s->threads].grants[idx];
	tgc_load_grants_t v = {
		.value = atomic_load_explicit(&g->value, memory_order_relaxed),
		.at_ms = atomic_load_explicit(&g->at_ms, memory_order_relaxed),
	};
	tgc_load_grant(&v, now_ms, s->params.window_ms, 1.0);
	atomic_store_explicit(&g->value, v.value, memory_order_relaxed);
	atomic_store_explicit(&g->at_ms, v.at_ms, memory_order_relaxed);
}

double tgc_steer_grants(const tgc_steer_t *s, uint32_t idx, uint64_t now_ms)
{
	if (s == NULL || idx >= s->nodes) {
		return 0.0;
	}
	double sum = 0.0;
	for (unsigned t = 0; t < s->threads; t++) {
		sum += grants_of(s, &s->workers[t], idx, now_ms);
	}
	return sum;
}
