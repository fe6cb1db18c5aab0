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
 * \brief NAT translator: the query path (the cluster name from the polled
 *        cache, other names forwarded on demand) and its setup.
 */

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "module/ctx.h"
#include "module/ecs.h"

/*! \brief Index names of the upstream-error counter. */
static char *upstream_error_to_str(uint32_t idx, uint32_t count)
{
	(void)count;
	return strdup(tgc_forward_err_str((tgc_fwd_err_t)idx));
}

/*! \brief The nat-map rules for this query's client (NULL: no rewriting). */
static const tgc_natmap_rule_t *translator_rules(tgc_ctx_t *ctx,
                                                 knotd_qdata_t *qdata)
{
	if (ctx->tr.rule_count == 0) {
		return NULL;
	}
	if (ctx->clients.count == 0) {
		return ctx->tr.rules;
	}
	tgc_addr_t client;
	unsigned prefix = 0;
	if (!tgc_ctx_query_client(qdata, &client, &prefix)) {
		return NULL;
	}
	/* The answer depends on the whole subnet (the range match). */
	tgc_ctx_ecs_scope(qdata, prefix);
	if (tgc_ctx_client_match(ctx, &client)) {
		return ctx->tr.rules;
	}

	return NULL;
}

/*! \brief Adds the counts of one forward to the counters of a thread. */
static void translator_count(knotd_mod_t *mod, unsigned thr,
                             const tgc_fwd_stats_t *stats)
{
	for (unsigned i = 0; i < TGC_FWD_ERR_COUNT; i++) {
		if (stats->errors[i] > 0) {
			knotd_mod_stats_incr(mod, thr, TCTR_UPSTREAM_ERROR, i,
			                     stats->errors[i]);
		}
	}
	if (stats->failovers > 0) {
		knotd_mod_stats_incr(mod, thr, TCTR_FAILOVER, 0, stats->failovers);
	}
	if (stats->tcp > 0) {
		knotd_mod_stats_incr(mod, thr, TCTR_TCP, 0, stats->tcp);
	}
}

/*! \brief Answers SERVFAIL (counted). */
static knotd_state_t translator_servfail(knotd_qdata_t *qdata, knotd_mod_t *mod,
                                         unsigned thr)
{
	knotd_mod_stats_incr(mod, thr, TCTR_SERVFAIL, 0, 1);
	qdata->rcode = KNOT_RCODE_SERVFAIL;
	return KNOTD_STATE_FAIL;
}

/*! \brief CLOCK_MONOTONIC in ms. */
static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*! \brief Keyed hash of a name, case-insensitive (FNV-1a, then mixed). */
static uint64_t name_hash(uint64_t key, const knot_dname_t *name)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ key;
	size_t len = knot_dname_size(name);
	for (size_t i = 0; i < len; i++) {
		uint8_t c = name[i];
		if (c >= 'A' && c <= 'Z') {
			c += 'a' - 'A';
		}
		h = (h ^ c) * 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;

	return h;
}

/*! \brief Tells whether a forward of the name with this hash failed less
 *         than TGC_FAILED_HOLD_MS ago. */
static bool failed_recently(tgc_ctx_t *ctx, uint64_t hash, uint64_t now)
{
	uint64_t v = atomic_load_explicit(&ctx->tr.failed[hash & (TGC_FAILED_SLOTS - 1)],
	                                  memory_order_relaxed);
	uint64_t mask = (1ULL << TGC_FAILED_TIME_BITS) - 1;
	return v != 0 && (v >> TGC_FAILED_TIME_BITS) == (hash >> TGC_FAILED_TIME_BITS) &&
	       (v & mask) > (now & mask);
}

/*! \brief Remembers a failed forward of the name with this hash (replaces
 *         whatever the slot held: the memory is small and best effort). */
static void failed_note(tgc_ctx_t *ctx, uint64_t hash, uint64_t now)
{
	uint64_t mask = (1ULL << TGC_FAILED_TIME_BITS) - 1;
	uint64_t v = (hash >> TGC_FAILED_TIME_BITS) << TGC_FAILED_TIME_BITS |
	             ((now + TGC_FAILED_HOLD_MS) & mask);
	atomic_store_explicit(&ctx->tr.failed[hash & (TGC_FAILED_SLOTS - 1)], v,
	                      memory_order_relaxed);
}

/*!
 * \brief Tells whether the poller last found every upstream address down
 *        and unreachable (timeout, refused): a forward would only wait.
 *
 * Upstreams that answered with an error RCODE or an invalid reply do not
 * count: they may still answer other names.
 */
static bool upstreams_unreachable(tgc_ctx_t *ctx)
{
	for (size_t i = 0; i < ctx->tr.fwd.count; i++) {
		if (tgc_table_health(&ctx->table, (uint32_t)i) != TGC_HEALTH_DOWN) {
			return false;
		}
		uint8_t probe = atomic_load_explicit(&ctx->table.nodes[i].last_probe,
		                                     memory_order_relaxed);
		if (probe != TGC_PROBE_TIMEOUT && probe != TGC_PROBE_REFUSED) {
			return false;
		}
	}

	return ctx->tr.fwd.count > 0;
}

/*! \brief Takes one of the forward-limit slots (false: all taken). */
static bool forward_slot_take(tgc_ctx_t *ctx)
{
	uint32_t busy = atomic_fetch_add_explicit(&ctx->tr.forwards, 1,
	                                          memory_order_relaxed);
	if (busy >= ctx->tr.forward_limit) {
		atomic_fetch_sub_explicit(&ctx->tr.forwards, 1, memory_order_relaxed);
		return false;
	}

	return true;
}

/*!
 * \brief The client subnet option of a forward (forward-ecs): the query's
 *        own ECS or the client's address, cut to forward-ecs-prefix4/6.
 *
 * \return \a buf filled, or NULL: no option to send.
 */
static const knot_edns_client_subnet_t *translator_ecs(tgc_ctx_t *ctx,
                                                       knotd_qdata_t *qdata,
                                                       knot_edns_client_subnet_t *buf)
{
	tgc_addr_t client;
	unsigned prefix = 0;
	if (!ctx->tr.ecs_on || !tgc_ctx_query_client(qdata, &client, &prefix) ||
	    tgc_ecs_for_client(&client, prefix, ctx->tr.ecs_prefix4,
	                       ctx->tr.ecs_prefix6, buf) != KNOT_EOK) {
		return NULL;
	}

	return buf;
}

/*! \brief Answers SERVFAIL at once for a forward not attempted (counted). */
static knotd_state_t translator_refused(knotd_qdata_t *qdata, knotd_mod_t *mod,
                                        unsigned thr, int why)
{
	knotd_mod_stats_incr(mod, thr, why, 0, 1);
	return translator_servfail(qdata, mod, thr);
}

/*!
 * \brief Answers a query over UDP with an empty response with TC (and AA)
 *        set, question only, as knotd truncates: the client asks again over
 *        TCP (counted). knotd adds EDNS, and TSIG for a verified query.
 */
static knotd_state_t translator_to_tcp(knot_pkt_t *pkt, knotd_mod_t *mod,
                                       unsigned thr)
{
	knot_wire_set_aa(pkt->wire);
	knot_wire_set_tc(pkt->wire);
	knotd_mod_stats_incr(mod, thr, TCTR_TO_TCP, 0, 1);
	return KNOTD_STATE_DONE;
}

/*!
 * \brief Forwards the query to the upstreams and copies their answer (A/AAAA
 *        rewritten), RCODE and AA into the response.
 *
 * A forward blocks the worker, so it is only started if the name did not
 * fail lately, the poller does not see every upstream unreachable, fewer
 * than forward-limit forwards are in flight and this worker is not resting
 * after a failed forward (as long as the failed one took): otherwise the
 * answer is SERVFAIL at once. The workers left free keep answering the
 * cluster name from the cache.
 *
 * With forward-udp truncate, a query over UDP that passes the first two
 * checks is not forwarded but answered empty with TC: knotd gives each UDP
 * worker its own socket, so a query for the cluster name that the kernel
 * queued to a UDP worker busy forwarding would wait for that forward. The
 * client asks again over TCP, and a TCP worker forwards. QUIC (over XDP)
 * has no truncation: only pure UDP, over sockets or XDP, is sent to TCP.
 */
static knotd_state_t translator_forward(knot_pkt_t *pkt, knotd_qdata_t *qdata,
                                        tgc_ctx_t *ctx, knotd_mod_t *mod,
                                        unsigned thr)
{
	const knot_dname_t *qname = knot_pkt_qname(qdata->query);
	uint16_t qtype = knot_pkt_qtype(qdata->query);

	uint64_t start = mono_ms();
	uint64_t hash = name_hash(ctx->tr.failed_key, qname);
	if (failed_recently(ctx, hash, start)) {
		return translator_refused(qdata, mod, thr, TCTR_RECENT_FAIL);
	}
	if (upstreams_unreachable(ctx)) {
		return translator_refused(qdata, mod, thr, TCTR_UNREACHABLE);
	}
	if (ctx->tr.udp_truncate && qdata->params->proto == KNOTD_QUERY_PROTO_UDP) {
		return translator_to_tcp(pkt, mod, thr);
	}
	if (start < ctx->tr.rest_until[thr] || !forward_slot_take(ctx)) {
		return translator_refused(qdata, mod, thr, TCTR_BUSY);
	}

	uint32_t first = atomic_load_explicit(&ctx->tr.preferred, memory_order_relaxed);
	tgc_fwd_stats_t stats;
	memset(&stats, 0, sizeof(stats));
	knot_pkt_t *reply = NULL;
	size_t used = 0;
	tgc_fwd_conf_t fwd = ctx->tr.fwd;
	knot_edns_client_subnet_t ecs;
	fwd.ecs = translator_ecs(ctx, qdata, &ecs);
	fwd.load_report = false; /* Only the polls ask for it. */

	int ret = tgc_forward_query(&fwd, first % fwd.count, qname,
	                            qtype, KNOT_CLASS_IN, ctx->tr.budget_ms, -1,
	                            qdata->mm, &reply, &used, &stats, NULL, NULL);
	atomic_fetch_sub_explicit(&ctx->tr.forwards, 1, memory_order_relaxed);
	translator_count(mod, thr, &stats);
	if (ret != KNOT_EOK) {
		uint64_t end = mono_ms();
		ctx->tr.rest_until[thr] = end + (end - start);
		if (ret == KNOT_ETIMEOUT) {
			failed_note(ctx, hash, end);
		}
		return translator_servfail(qdata, mod, thr);
	}
	/* RFC 7871: a reply whose option does not repeat the subnet sent is
	 * not used; the answer holds for the scope the upstream gave, which
	 * the client's resolver learns from the option knotd echoes. */
	unsigned scope = 0;
	if (tgc_ecs_reply_scope(reply, fwd.ecs, &scope) != KNOT_EOK) {
		knotd_mod_stats_incr(mod, thr, TCTR_UPSTREAM_ERROR,
		                     TGC_FWD_ERR_INVALID, 1);
		return translator_servfail(qdata, mod, thr);
	}
	tgc_ctx_ecs_scope(qdata, scope);
	atomic_fetch_add_explicit(&ctx->table.nodes[used].answers, 1,
	                          memory_order_relaxed);

	const tgc_natmap_rule_t *rules = translator_rules(ctx, qdata);
	size_t mapped = 0;
	if (knot_wire_get_aa(reply->wire)) {
		knot_wire_set_aa(pkt->wire);
	}
	/* The reply lives in the query's memory pool: its RRsets can be put
	 * into the response as they are (rewritten in place). */
	static const knot_section_t sections[] = {
		KNOT_ANSWER, KNOT_AUTHORITY, KNOT_ADDITIONAL
	};
	for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
		const knot_pktsection_t *sec = knot_pkt_section(reply, sections[s]);
		ret = knot_pkt_begin(pkt, sections[s]);
		for (uint16_t i = 0; ret == KNOT_EOK && i < sec->count; i++) {
			knot_rrset_t *rr = (knot_rrset_t *)knot_pkt_rr(sec, i);
			if (rr->type == KNOT_RRTYPE_OPT || rr->type == KNOT_RRTYPE_TSIG) {
				continue;
			}
			if (rules != NULL) {
				mapped += tgc_forward_rewrite(rr, rules, ctx->tr.rule_count);
			}
			ret = knot_pkt_put(pkt, KNOT_COMPR_HINT_NONE, rr, 0);
		}
		if (ret == KNOT_ESPACE) {
			/* Additional data may be left out, the rest may not. */
			if (sections[s] != KNOT_ADDITIONAL) {
				knot_wire_set_tc(pkt->wire);
				knotd_mod_stats_incr(mod, thr, TCTR_TRUNCATED, 0, 1);
			}
			break;
		} else if (ret != KNOT_EOK) {
			return translator_servfail(qdata, mod, thr);
		}
	}

	qdata->rcode = knot_wire_get_rcode(reply->wire);
	knotd_mod_stats_incr(mod, thr, TCTR_FORWARDED, 0, 1);
	if (mapped > 0) {
		knotd_mod_stats_incr(mod, thr, TCTR_MAPPED, 0, 1);
	}

	return KNOTD_STATE_DONE;
}

/*!
 * \brief Puts the SOA of a cached negative answer into the authority
 *        section (TTL and MINIMUM capped to \a ttl).
 */
static int translator_put_soa(knot_pkt_t *pkt, const tgc_cache_snap_t *snap,
                              uint32_t ttl, knot_mm_t *mm)
{
	if (snap->soa_owner_len == 0 ||
	    knot_dname_wire_check(snap->soa, snap->soa + snap->soa_owner_len,
	                          NULL) != snap->soa_owner_len) {
		return KNOT_EOK;
	}
	knot_dname_t *owner = mm->alloc(mm->ctx, snap->soa_owner_len);
	_Alignas(8) uint8_t rd_buf[TGC_CACHE_SOA_MAX + 8];
	if (owner == NULL) {
		return KNOT_ENOMEM;
	}
	memcpy(owner, snap->soa, snap->soa_owner_len);

	knot_rrset_t soa;
	knot_rrset_init(&soa, owner, KNOT_RRTYPE_SOA, KNOT_CLASS_IN, ttl);
	knot_rdata_init((knot_rdata_t *)rd_buf, snap->soa_rdata_len,
	                snap->soa + snap->soa_owner_len);
	soa.rrs.count = 1;
	soa.rrs.size = knot_rdata_size(snap->soa_rdata_len);
	soa.rrs.rdata = (knot_rdata_t *)rd_buf;

	return tgc_answer_put_soa(pkt, &soa, ttl, mm);
}

/*!
 * \brief `least-loaded` over a cached answer: orders its addresses by
 *        (reported sessions + this instance's grants) / reported capacity,
 *        ties rotating, and grants the first (the client opens its session
 *        there). Grants are kept per grant slot of the record, which follows
 *        an address from poll to poll (tgc_forward_slots()).
 */
static size_t translator_least_loaded(tgc_ctx_t *ctx, unsigned thr, unsigned idx,
                                      const tgc_cache_snap_t *snap,
                                      uint32_t *order)
{
	uint32_t slots[TGC_CACHE_ADDRS_MAX];
	double capacity[TGC_CACHE_ADDRS_MAX];
	for (uint32_t i = 0; i < snap->count; i++) {
		/* A slot out of range (a damaged segment) counts its grants
		 * in the slot of its position: the order stays sound. */
		uint32_t slot = (snap->slot[i] < TGC_CACHE_SLOTS) ? snap->slot[i] : i;
		slots[i] = idx * TGC_CACHE_SLOTS + slot;
		capacity[i] = snap->capacity_x100[i] / 100.0;
	}
	tgc_policy_state_t *st = &ctx->tr.states[thr];
	uint64_t now = tgc_steer_now_ms();
	tgc_steer_order_given(ctx->tr.steer, thr, order, snap->count, slots,
	                      snap->sessions, capacity, st->rr++, now);
	tgc_steer_grant(ctx->tr.steer, thr, slots[order[0]], now);

	return (ctx->tr.answers == 0 || ctx->tr.answers > snap->count) ?
	       snap->count : ctx->tr.answers;
}

/*!
 * \brief Orders the cached addresses of one answer by `policy` and cuts
 *        them to `answers`, as a load balancer orders its live nodes:
 *        `ordered` keeps the upstream's order, `sticky` hashes the client
 *        (ECS subnet or address) against each address, `least-loaded`
 *        follows the load report.
 *
 * \param[out] order  Indexes into snap->addrs, in answer order.
 *
 * \return Number of leading entries of \a order to answer.
 */
static size_t translator_order(tgc_ctx_t *ctx, knotd_qdata_t *qdata,
                               unsigned thr, unsigned idx,
                               const tgc_cache_snap_t *snap, uint32_t *order)
{
	for (uint32_t i = 0; i < snap->count; i++) {
		order[i] = i;
	}
	if (ctx->tr.steer != NULL) {
		return translator_least_loaded(ctx, thr, idx, snap, order);
	}
	uint64_t client = 0;
	uint64_t keys[TGC_CACHE_ADDRS_MAX];
	if (ctx->tr.policy == TGC_POLICY_STICKY) {
		tgc_addr_t addr;
		unsigned prefix = 0, hashed = 0;
		if (tgc_ctx_query_client(qdata, &addr, &prefix)) {
			client = tgc_policy_sticky_key(&addr, prefix, &hashed);
			tgc_ctx_ecs_scope(qdata, hashed);
		}
		/* The key of an address, not of its position: a client keeps
		 * its address whatever order the upstream answers in. */
		for (uint32_t i = 0; i < snap->count; i++) {
			keys[i] = tgc_policy_node_key(&snap->addrs[i], 0);
		}
	}

	return tgc_policy_order(ctx->tr.policy, order, snap->count,
	                        ctx->tr.answers, &ctx->tr.states[thr], client, keys);
}

/*!
 * \brief Answers A/AAAA for the cluster name from the polled cache.
 *
 * \return False if there is no answer yet and no poll has finished (the
 *         caller forwards the query).
 */
static bool translator_cached(knot_pkt_t *pkt, knotd_qdata_t *qdata,
                              tgc_ctx_t *ctx, knotd_mod_t *mod, unsigned thr,
                              knotd_state_t *state)
{
	const knot_dname_t *qname = knot_pkt_qname(qdata->query);
	uint16_t qtype = knot_pkt_qtype(qdata->query);
	unsigned idx = (qtype == KNOT_RRTYPE_A) ? TGC_CACHE_A : TGC_CACHE_AAAA;

	tgc_ctx_table_watch(ctx, mod, thr, TCTR_STALE_TABLE);
	tgc_cache_snap_t snap;
	if (tgc_table_cache_read(&ctx->table, idx, &snap, false) != KNOT_EOK) {
		return false; /* Busy beyond the read bound: forward instead. */
	}
	tgc_cache_state_t cs = tgc_forward_cache_state(&snap, tgc_table_now_ms(),
	                                               ctx->tr.fresh_ms,
	                                               ctx->tr.stale_limit_s);
	if (cs == TGC_CACHE_EMPTY && snap.polled_ms == 0) {
		return false;
	}
	if (cs == TGC_CACHE_EMPTY || cs == TGC_CACHE_EXPIRED) {
		*state = translator_servfail(qdata, mod, thr);
		return true;
	}
	uint32_t ttl = tgc_forward_cache_ttl(cs, snap.ttl, ctx->ttl);
	knotd_mod_stats_incr(mod, thr, (cs == TGC_CACHE_STALE) ? TCTR_STALE :
	                                                         TCTR_CACHED, 0, 1);
	knot_wire_set_aa(pkt->wire);
	*state = KNOTD_STATE_DONE;

	if (snap.count == 0) {
		/* Negative: NXDOMAIN or NODATA with the upstream's SOA. */
		if (tgc_table_cache_read(&ctx->table, idx, &snap, true) != KNOT_EOK ||
		    snap.count != 0) {
			*state = translator_servfail(qdata, mod, thr);
			return true;
		}
		qdata->rcode = snap.rcode;
		(void)translator_put_soa(pkt, &snap, ttl, qdata->mm);
		return true;
	}

	const tgc_natmap_rule_t *rules = translator_rules(ctx, qdata);
	uint32_t order[TGC_CACHE_ADDRS_MAX];
	size_t count = translator_order(ctx, qdata, thr, idx, &snap, order);
	const tgc_addr_t *addrs[TGC_CACHE_ADDRS_MAX];
	tgc_addr_t mapped[TGC_CACHE_ADDRS_MAX];
	bool any_mapped = false;
	for (size_t i = 0; i < count; i++) {
		const tgc_addr_t *addr = &snap.addrs[order[i]];
		addrs[i] = addr;
		if (rules != NULL &&
		    tgc_natmap_apply(rules, ctx->tr.rule_count, addr, &mapped[i]) &&
		    mapped[i].family == addr->family) {
			addrs[i] = &mapped[i];
			any_mapped = true;
		}
	}
	int ret = tgc_answer_put(pkt, qname, qtype, ttl, addrs, count,
	                         qdata->mm);
	if (ret == KNOT_ESPACE) {
		knotd_mod_stats_incr(mod, thr, TCTR_TRUNCATED, 0, 1);
	} else if (ret != KNOT_EOK) {
		*state = translator_servfail(qdata, mod, thr);
	} else if (any_mapped) {
		knotd_mod_stats_incr(mod, thr, TCTR_MAPPED, 0, 1);
	}

	return true;
}

knotd_state_t tgc_tr_begin(knotd_state_t state, knot_pkt_t *pkt,
                           knotd_qdata_t *qdata, tgc_ctx_t *ctx,
                           knotd_mod_t *mod)
{
	const knot_dname_t *qname = knot_pkt_qname(qdata->query);
	if (qname == NULL || knot_pkt_qclass(qdata->query) != KNOT_CLASS_IN ||
	    knot_dname_in_bailiwick(qname, ctx->tr.scope) < 0) {
		return state;
	}
	unsigned thr = qdata->params->thread_id % ctx->threads;
	uint16_t qtype = knot_pkt_qtype(qdata->query);

	if ((qtype == KNOT_RRTYPE_A || qtype == KNOT_RRTYPE_AAAA) &&
	    tgc_ctx_is_cluster_name(qdata, ctx)) {
		knotd_state_t out;
		if (translator_cached(pkt, qdata, ctx, mod, thr, &out)) {
			return out;
		}
	}

	return translator_forward(pkt, qdata, ctx, mod, thr);
}

/*! \brief Reads the TSIG key \a key (a `key` reference) into \a out. */
static int upstream_key(knotd_mod_t *mod, const knotd_conf_t *key,
                        knot_tsig_key_t *out)
{
	knotd_conf_t alg = knotd_conf(mod, C_KEY, C_ALG, key);
	knotd_conf_t secret = knotd_conf(mod, C_KEY, C_SECRET, key);
	if (alg.single.option == DNSSEC_TSIG_UNKNOWN || secret.single.data == NULL ||
	    secret.single.data_len == 0) {
		return KNOT_EINVAL;
	}
	out->algorithm = alg.single.option;
	out->name = knot_dname_copy(key->single.data, NULL);
	out->secret.data = malloc(secret.single.data_len);
	if (out->name == NULL || out->secret.data == NULL) {
		return KNOT_ENOMEM;
	}
	memcpy(out->secret.data, secret.single.data, secret.single.data_len);
	out->secret.size = secret.single.data_len;

	return KNOT_EOK;
}

/*!
 * \brief Reads the `upstream` remotes: their addresses become the targets
 *        (in configuration order) and the table nodes, their keys the TSIG
 *        keys.
 */
static int upstream_setup(tgc_ctx_t *ctx, knotd_mod_t *mod,
                          const knotd_conf_t *ups, tgc_table_node_t **spec_nodes)
{
	ctx->tr.keys = calloc(ups->count, sizeof(*ctx->tr.keys));
	ctx->tr.targets = calloc(TGC_FORWARD_TARGETS_MAX, sizeof(*ctx->tr.targets));
	*spec_nodes = calloc(TGC_FORWARD_TARGETS_MAX, sizeof(**spec_nodes));
	if (ctx->tr.keys == NULL || ctx->tr.targets == NULL || *spec_nodes == NULL) {
		return KNOT_ENOMEM;
	}
	ctx->tr.key_count = ups->count;

	size_t n = 0;
	for (size_t i = 0; i < ups->count; i++) {
		knotd_conf_t id = { .single = ups->multi[i], .count = 1 };
		int idlen = (int)ups->multi[i].data_len;
		const char *idtxt = (const char *)ups->multi[i].data;
		if (idlen > 0 && idtxt[idlen - 1] == '\0') {
			idlen--;
		}

		knotd_conf_t key = knotd_conf(mod, C_RMT, C_KEY, &id);
		const knot_tsig_key_t *keyp = NULL;
		if (key.count > 0) {
			int ret = upstream_key(mod, &key, &ctx->tr.keys[i]);
			if (ret != KNOT_EOK) {
				knotd_mod_log(mod, LOG_ERR, "'upstream' %.*s: unusable "
				              "'key' (%s)", idlen, idtxt,
				              knot_strerror(ret));
				return ret;
			}
			keyp = &ctx->tr.keys[i];
		}

		knotd_conf_t addrs = knotd_conf(mod, C_RMT, C_ADDR, &id);
		if (addrs.count == 0) {
			knotd_mod_log(mod, LOG_ERR, "'upstream' %.*s has no address",
			              idlen, idtxt);
			return KNOT_EINVAL;
		}
		int ret = KNOT_EOK;
		for (size_t j = 0; ret == KNOT_EOK && j < addrs.count; j++) {
			const struct sockaddr_storage *ss = &addrs.multi[j].addr;
			tgc_addr_t addr;
			if (n >= TGC_FORWARD_TARGETS_MAX) {
				knotd_mod_log(mod, LOG_ERR, "'upstream' more than %u "
				              "addresses", TGC_FORWARD_TARGETS_MAX);
				ret = KNOT_ERANGE;
				break;
			}
			if (tgc_addr_from_sockaddr(ss, &addr) != KNOT_EOK) {
				knotd_mod_log(mod, LOG_ERR, "'upstream' %.*s: not an "
				              "IP address", idlen, idtxt);
				ret = KNOT_EINVAL;
				break;
			}
			uint16_t port = ntohs((ss->ss_family == AF_INET) ?
			                      ((const struct sockaddr_in *)ss)->sin_port :
			                      ((const struct sockaddr_in6 *)ss)->sin6_port);
			tgc_fwd_target_t *t = &ctx->tr.targets[n];
			tgc_addr_to_sockaddr(&addr, port ? port : 53, &t->addr);
			t->key = keyp;
			char txt[TGC_ADDR_STRLEN];
			snprintf(t->text, sizeof(t->text), "%s@%u",
			         tgc_addr_format(&addr, txt, sizeof(txt)),
			         port ? port : 53);
			(*spec_nodes)[n].addr = addr;
			(*spec_nodes)[n].port = port ? port : 53;
			n++;
		}
		knotd_conf_free(&addrs);
		if (ret != KNOT_EOK) {
			return ret;
		}
	}
	ctx->tr.fwd.targets = ctx->tr.targets;
	ctx->tr.fwd.count = n;

	return KNOT_EOK;
}

/*! \brief Takes the nat-map rules and nat-client ranges of the section
 *         read into the context. */
static void translator_nat_setup(tgc_ctx_t *ctx, tgc_conf_t *conf)
{
	ctx->tr.rules = conf->nat.rules;
	ctx->tr.rule_count = conf->nat.rule_count;
	ctx->clients = knotd_conf_mod(ctx->mod, MOD_NAT_CLIENT);
	conf->nat.rules = NULL;
}

/*! \brief Reads a translator's configuration and opens its table. */
static int translator_setup(tgc_ctx_t *ctx, knotd_mod_t *mod,
                            const knotd_conf_t *ups, tgc_conf_t *conf)
{
	const knot_dname_t *zone = knotd_mod_zone(mod);

	ctx->tr.scope = knot_dname_copy((zone != NULL) ? zone : ctx->name, NULL);
	if (ctx->tr.scope == NULL) {
		return KNOT_ENOMEM;
	}
	knot_dname_to_lower(ctx->tr.scope);
	ctx->tr.fwd.scope = ctx->tr.scope;
	ctx->tr.fwd.load_report = true;
	ctx->tr.interval_ms = knotd_conf_mod(mod, MOD_UPSTREAM_INTERVAL).single.integer;
	ctx->tr.fwd.timeout_ms = knotd_conf_mod(mod, MOD_UPSTREAM_TIMEOUT).single.integer;
	ctx->tr.stale_limit_s = knotd_conf_mod(mod, MOD_STALE_LIMIT).single.integer;

	tgc_table_node_t *spec_nodes = NULL;
	translator_nat_setup(ctx, conf);
	int ret = upstream_setup(ctx, mod, ups, &spec_nodes);
	if (ret != KNOT_EOK) {
		free(spec_nodes);
		return ret;
	}
	ctx->tr.fresh_ms = tgc_forward_fresh_ms(ctx->tr.interval_ms, &ctx->tr.fwd);
	ctx->tr.budget_ms = tgc_forward_budget_ms(&ctx->tr.fwd);

	tgc_table_spec_t spec = {
		.role = TGC_ROLE_TRANSLATOR,
		.nodes = spec_nodes,
		.node_count = ctx->tr.fwd.count,
		.check = TGC_CHECK_NONE,
		.interval_ms = ctx->tr.interval_ms,
		.timeout_ms = ctx->tr.fwd.timeout_ms,
		.rise = 1,
		.fall = 1,
		.stale_limit_s = ctx->tr.stale_limit_s,
	};
	tgc_table_origin_t origin;
	const char *err = NULL;
	ret = tgc_ctx_table_open(ctx, mod, &spec, &origin, &err);
	free(spec_nodes);
	if (ret != KNOT_EOK) {
		return ret;
	}
	char name_txt[KNOT_DNAME_TXT_MAXLEN + 1];
	tgc_ctx_dname_text(ctx->name, name_txt, sizeof(name_txt));
	knotd_mod_log(mod, (origin == TGC_TABLE_REPLACED) ? LOG_WARNING : LOG_INFO,
	              "translator for %s, segment %s %s, %zu upstream addresses",
	              name_txt, ctx->table.name,
	              (origin == TGC_TABLE_CREATED) ? "created" :
	              (origin == TGC_TABLE_REUSED) ? "reused" :
	              (origin == TGC_TABLE_ADOPTED) ? "recreated, cache kept" :
	                                              "replaced an invalid segment",
	              ctx->tr.fwd.count);

	return KNOT_EOK;
}

/*! \brief Poller counter callback: counts into the shared slot 0. */
static void poller_count(void *arg, const tgc_fwd_stats_t *stats)
{
	tgc_ctx_t *ctx = arg;
	translator_count(ctx->mod, 0, stats);
}

/*!
 * \brief The most forwards in flight: `forward-limit`, by default half of
 *        the knotd workers that forward (TCP workers with forward-udp
 *        truncate, UDP workers with forward), never all of them when there
 *        are several.
 *
 * knotd_conf_env() gives the numbers of workers knotd runs (its defaults
 * applied; a reload does not change them).
 */
static uint32_t translator_forward_limit(knotd_mod_t *mod, bool udp_truncate)
{
	int64_t limit = knotd_conf_mod(mod, MOD_FORWARD_LIMIT).single.integer;
	const char *kind = udp_truncate ? "TCP" : "UDP";
	knotd_conf_t conf = knotd_conf_env(mod, udp_truncate ?
	                                        KNOTD_CONF_ENV_WORKERS_TCP :
	                                        KNOTD_CONF_ENV_WORKERS_UDP);
	int64_t workers = (conf.single.integer > 0) ? conf.single.integer : 1;

	if (limit == 0) {
		limit = (workers >= 2) ? workers / 2 : 1;
	} else if (workers >= 2 && limit >= workers) {
		knotd_mod_log(mod, LOG_NOTICE, "'forward-limit' %" PRId64 " lowered "
		              "to %" PRId64 ", below the %" PRId64 " %s workers",
		              limit, workers - 1, workers, kind);
		limit = workers - 1;
	}
	if (workers < 2) {
		knotd_mod_log(mod, LOG_NOTICE, "one %s worker: a forward holds it "
		              "(%s wait meanwhile)", kind, udp_truncate ?
		              "other queries over TCP" : "cached answers");
	}
	knotd_mod_log(mod, LOG_INFO, "forwarding at most %" PRId64 " queries at "
	              "once (%" PRId64 " %s workers)%s", limit, workers, kind,
	              udp_truncate ? ", other names over UDP get TC" : "");

	return (uint32_t)limit;
}

int tgc_tr_load(tgc_ctx_t *ctx, knotd_mod_t *mod, const knotd_conf_t *ups,
                tgc_conf_t *conf, uint64_t seed)
{
	int ret = translator_setup(ctx, mod, ups, conf);
	if (ret != KNOT_EOK) {
		return ret;
	}

	ctx->tr.udp_truncate = (knotd_conf_mod(mod, MOD_FORWARD_UDP).single.option ==
	                        TGC_FORWARD_UDP_TRUNCATE);
	ctx->tr.forward_limit = translator_forward_limit(mod, ctx->tr.udp_truncate);
	ctx->tr.failed_key = seed * 0x9e3779b97f4a7c15ULL + 1;
	ctx->tr.rest_until = calloc(ctx->threads, sizeof(*ctx->tr.rest_until));
	if (ctx->tr.rest_until == NULL) {
		return KNOT_ENOMEM;
	}
	ctx->tr.policy = knotd_conf_mod(mod, MOD_POLICY).single.option;
	ctx->tr.answers = knotd_conf_mod(mod, MOD_ANSWERS).single.integer;
	ctx->tr.states = aligned_alloc(64, ctx->threads * sizeof(*ctx->tr.states));
	if (ctx->tr.states == NULL) {
		return KNOT_ENOMEM;
	}
	for (unsigned i = 0; i < ctx->threads; i++) {
		tgc_policy_state_init(&ctx->tr.states[i], seed + i);
	}
	if (ctx->tr.policy == TGC_POLICY_LEAST_LOADED) {
		uint32_t weights[TGC_CACHE_RECS * TGC_CACHE_SLOTS];
		for (size_t i = 0; i < sizeof(weights) / sizeof(weights[0]); i++) {
			weights[i] = 1; /* Capacities come with the report. */
		}
		int64_t window = knotd_conf_mod(mod, MOD_GRANT_WINDOW).single.integer;
		tgc_steer_params_t sp = {
			.least_loaded = true,
			.window_ms = (uint32_t)(ctx->ttl + window) * 1000u,
		};
		ctx->tr.steer = tgc_steer_new(&sp, ctx->threads,
		                              TGC_CACHE_RECS * TGC_CACHE_SLOTS, weights);
		if (ctx->tr.steer == NULL) {
			return KNOT_ENOMEM;
		}
	}
	ctx->tr.ecs_on = knotd_conf_mod(mod, MOD_FORWARD_ECS).single.boolean;
	ctx->tr.ecs_prefix4 = knotd_conf_mod(mod, MOD_FORWARD_ECS_PREFIX4).single.integer;
	ctx->tr.ecs_prefix6 = knotd_conf_mod(mod, MOD_FORWARD_ECS_PREFIX6).single.integer;

	static const tgc_ctx_counter_t counters[] = {
		[TCTR_CACHED]         = { "cached", 1, NULL },
		[TCTR_STALE]          = { "stale", 1, NULL },
		[TCTR_FORWARDED]      = { "forwarded", 1, NULL },
		[TCTR_SERVFAIL]       = { "servfail", 1, NULL },
		[TCTR_UPSTREAM_ERROR] = { "upstream-error", TGC_FWD_ERR_COUNT,
		                          upstream_error_to_str },
		[TCTR_FAILOVER]       = { "failover", 1, NULL },
		[TCTR_TCP]            = { "tcp-retry", 1, NULL },
		[TCTR_TRUNCATED]      = { "truncated", 1, NULL },
		[TCTR_MAPPED]         = { "mapped", 1, NULL },
		[TCTR_STALE_TABLE]    = { "stale-table", 1, NULL },
		[TCTR_BUSY]           = { "busy", 1, NULL },
		[TCTR_RECENT_FAIL]    = { "recent-failure", 1, NULL },
		[TCTR_UNREACHABLE]    = { "unreachable", 1, NULL },
		[TCTR_TO_TCP]         = { "to-tcp", 1, NULL },
	};
	ret = tgc_ctx_counters_add(mod, counters,
	                           sizeof(counters) / sizeof(counters[0]));
	if (ret != KNOT_EOK) {
		return ret;
	}

	ret = tgc_ctx_become_writer(ctx, mod, seed,
	                            3 * ctx->tr.interval_ms + ctx->tr.budget_ms);
	if (ret != KNOT_EOK) {
		return ret;
	}

	ctx->log_on = true;
	tgc_poller_conf_t pconf = {
		.table = &ctx->table,
		.writer_token = ctx->token,
		.fwd = &ctx->tr.fwd,
		.name = ctx->name,
		.interval_ms = ctx->tr.interval_ms,
		.stale_limit_s = ctx->tr.stale_limit_s,
		.preferred = &ctx->tr.preferred,
		.log = tgc_ctx_log,
		.count = poller_count,
		.thread_start = tgc_ctx_thread_start,
		.thread_stop = tgc_ctx_thread_stop,
		.ctx = ctx,
	};
	ret = tgc_poller_start(&ctx->tr.poller, &pconf);
	if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "cannot start the upstream poller (%s)",
		              knot_strerror(ret));
	}

	return ret;
}

