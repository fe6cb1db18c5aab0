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
 * \brief Helpers both roles share: the context's lifetime, the segment, the
 *        thread callbacks and the query's client.
 */

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <urcu.h>

#include "module/ctx.h"

void tgc_ctx_log(void *arg, int priority, const char *fmt, ...)
{
	tgc_ctx_t *ctx = arg;
	pthread_mutex_lock(&ctx->log_lock);
	if (ctx->log_on) {
		va_list ap;
		va_start(ap, fmt);
		knotd_mod_vlog(ctx->mod, priority, fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&ctx->log_lock);
}

void tgc_ctx_thread_start(void *arg)
{
	(void)arg;
	rcu_register_thread();
}

void tgc_ctx_thread_stop(void *arg)
{
	(void)arg;
	rcu_unregister_thread();
}

/*! \brief Tells whether an ECS option names a client subnet to use (RFC 7871:
 *         a source prefix of 0 asks not to use the client subnet). */
static bool ecs_usable(const knot_edns_client_subnet_t *ecs)
{
	return ecs != NULL && ecs->source_len > 0 &&
	       (ecs->family == KNOT_ADDR_FAMILY_IPV4 ||
	        ecs->family == KNOT_ADDR_FAMILY_IPV6);
}

bool tgc_ctx_query_client(knotd_qdata_t *qdata, tgc_addr_t *addr, unsigned *prefix)
{
	knot_edns_client_subnet_t ecs_buf;
	const knot_edns_client_subnet_t *ecs = qdata->ecs;

	if (ecs == NULL) {
		/* knotd parses ECS only with edns-client-subnet enabled. */
		uint8_t *opt = knot_pkt_edns_option(qdata->query,
		                                    KNOT_EDNS_OPTION_CLIENT_SUBNET);
		if (opt != NULL &&
		    knot_edns_client_subnet_parse(&ecs_buf, knot_edns_opt_get_data(opt),
		                                  knot_edns_opt_get_length(opt)) == KNOT_EOK) {
			ecs = &ecs_buf;
		}
	}

	if (ecs_usable(ecs)) {
		memset(addr, 0, sizeof(*addr));
		bool v4 = (ecs->family == KNOT_ADDR_FAMILY_IPV4);
		addr->family = v4 ? AF_INET : AF_INET6;
		addr->len = v4 ? 4 : 16;
		memcpy(addr->bytes, ecs->address, addr->len);
		*prefix = ecs->source_len;
		return true;
	}
	if (tgc_addr_from_sockaddr(knotd_qdata_remote_addr(qdata), addr) == KNOT_EOK) {
		*prefix = addr->len * 8;
		return true;
	}

	return false;
}

bool tgc_ctx_client_match(const tgc_ctx_t *ctx, const tgc_addr_t *client)
{
	struct sockaddr_storage ss;
	tgc_addr_to_sockaddr(client, 0, &ss);
	return knotd_conf_addr_range_match(&ctx->clients, &ss);
}

void tgc_ctx_ecs_scope(knotd_qdata_t *qdata, unsigned scope)
{
	/* knotd echoes qdata->ecs when its edns-client-subnet is on; the
	 * client was taken from it exactly when it is usable. */
	if (ecs_usable(qdata->ecs) && scope > qdata->ecs->scope_len) {
		qdata->ecs->scope_len = scope;
	}
}

void tgc_ctx_table_watch(tgc_ctx_t *ctx, knotd_mod_t *mod, unsigned thr,
                         int counter)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	uint64_t hb = atomic_load_explicit(&ctx->table.hdr->heartbeat_ms,
	                                   memory_order_relaxed);
	if (now > hb + ctx->stale_after_ms) {
		knotd_mod_stats_incr(mod, thr, counter, 0, 1);
		if (!atomic_exchange_explicit(&ctx->stale_logged, true,
		                              memory_order_relaxed)) {
			knotd_mod_log(mod, LOG_ERR, "segment %s: no heartbeat for "
			              "%" PRIu64 " ms, answering from the last known "
			              "states", ctx->table.name, now - hb);
		}
	} else if (atomic_load_explicit(&ctx->stale_logged, memory_order_relaxed) &&
	           atomic_exchange_explicit(&ctx->stale_logged, false,
	                                    memory_order_relaxed)) {
		knotd_mod_log(mod, LOG_NOTICE, "segment %s: heartbeat back",
		              ctx->table.name);
	}
}

/*! \brief Logs that another live knotd owns the segment, and what to do. */
static void log_busy(knotd_mod_t *mod, const char *shm_name, pid_t pid)
{
	knotd_mod_log(mod, LOG_ERR, "'shm' segment %s is owned by another running "
	              "process, pid %d (a second knotd with the same configuration?); "
	              "not loading: give each knotd on this host its own 'shm'",
	              shm_name, (int)pid);
}

/*!
 * \brief Name of the instance's segment: the `shm` item, or one derived from
 *        the zone and the cluster name (the module API does not expose the
 *        section id).
 */
static int segment_name(knotd_mod_t *mod, const char *zone_txt,
                        const char *name_txt, char *buf, size_t buf_len)
{
	knotd_conf_t shm = knotd_conf_mod(mod, MOD_SHM);
	if (shm.count > 0) {
		return tgc_table_name_check(shm.single.string, buf, buf_len);
	}

	return tgc_table_name_auto(buf, buf_len, zone_txt, name_txt);
}

int tgc_ctx_table_open(tgc_ctx_t *ctx, knotd_mod_t *mod, tgc_table_spec_t *spec,
                       tgc_table_origin_t *origin, const char **err)
{
	char zone_txt[KNOT_DNAME_TXT_MAXLEN + 1];
	char name_txt[KNOT_DNAME_TXT_MAXLEN + 1];
	char shm_name[TGC_TABLE_NAME_MAX + 1];
	tgc_ctx_dname_text(knotd_mod_zone(mod), zone_txt, sizeof(zone_txt));
	tgc_ctx_dname_text(ctx->name, name_txt, sizeof(name_txt));
	int ret = segment_name(mod, zone_txt, name_txt, shm_name, sizeof(shm_name));
	if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "'shm' invalid segment name");
		return ret;
	}
	spec->zone = zone_txt;
	spec->instance = shm_name + 1;
	spec->name = name_txt;

	ret = tgc_table_open(&ctx->table, shm_name, spec, origin, err);
	if (ret == KNOT_EBUSY) {
		log_busy(mod, shm_name, ctx->table.owner_pid);
		return ret;
	} else if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "'shm' segment %s refused: %s (%s)",
		              shm_name, *err ? *err : "", knot_strerror(ret));
		return ret;
	}
	ret = tgc_table_view(&ctx->table);
	if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "'shm' segment %s unusable (%s)",
		              shm_name, knot_strerror(ret));
		tgc_table_close(&ctx->table);
	}

	return ret;
}

int tgc_ctx_counters_add(knotd_mod_t *mod, const tgc_ctx_counter_t *list,
                         size_t count)
{
	for (size_t i = 0; i < count; i++) {
		int ret = knotd_mod_stats_add(mod, list[i].name, list[i].count,
		                              list[i].to_str);
		if (ret != KNOT_EOK) {
			return ret;
		}
	}

	return KNOT_EOK;
}

/*! \brief Frees each of \a count allocations. */
static void free_all(void *const *ptrs, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(ptrs[i]);
	}
}

/*! \brief Frees the load-balancer part (its checker stopped or never
 *         started). */
static void lb_free(tgc_lb_ctx_t *lb)
{
	void *const arrays[] = {
		lb->addrs, lb->node_keys, lb->idx4, lb->idx6, lb->mapped,
		lb->is_mapped, lb->rep, lb->rep_mapped, lb->states, lb->weights,
		lb->http_path, lb->http_host, lb->statuses, lb->name_txt,
	};
	free_all(arrays, sizeof(arrays) / sizeof(arrays[0]));
	tgc_tls_creds_free(lb->tls);
	tgc_steer_free(lb->answer.steer);
	tgc_admin_box_deinit(&lb->admin_box);
	if (lb->sign_on) {
		tgc_sign_cache_deinit(&lb->sign);
		pthread_rwlock_destroy(&lb->key_lock);
	}
}

/*! \brief Frees the translator part (its poller stopped or never
 *         started). */
static void tr_free(tgc_tr_ctx_t *tr)
{
	for (size_t i = 0; i < tr->key_count; i++) {
		knot_tsig_key_deinit(&tr->keys[i]);
	}
	void *const arrays[] = {
		tr->scope, tr->targets, tr->keys, tr->rules, tr->rest_until,
		tr->states,
	};
	free_all(arrays, sizeof(arrays) / sizeof(arrays[0]));
	tgc_steer_free(tr->steer);
}

void tgc_ctx_free(tgc_ctx_t *ctx)
{
	if (ctx == NULL) {
		return;
	}
	tgc_table_release(ctx->token);
	tgc_table_close(&ctx->table);
	free(ctx->name);
	knotd_conf_free(&ctx->clients);
	lb_free(&ctx->lb);
	tr_free(&ctx->tr);
	pthread_mutex_destroy(&ctx->log_lock);
	free(ctx);
}

void tgc_ctx_dname_text(const knot_dname_t *name, char *buf, size_t len)
{
	buf[0] = '\0';
	if (name == NULL || knot_dname_to_str(buf, name, len) == NULL) {
		buf[0] = '\0';
		return;
	}
	size_t n = strlen(buf);
	if (n > 1 && buf[n - 1] == '.') {
		buf[n - 1] = '\0';
	}
}

int tgc_ctx_become_writer(tgc_ctx_t *ctx, knotd_mod_t *mod, uint64_t seed,
                          uint32_t stale_ms)
{
	uint64_t token = 0;
	while (token == 0 && getrandom(&token, sizeof(token), 0) != sizeof(token)) {
		token = seed ^ 0x5bd1e995ULL;
	}
	unsigned stuck = 0;
	int ret = tgc_table_claim(&ctx->table, token, &stuck);
	if (ret == KNOT_EBUSY) {
		log_busy(mod, ctx->table.name, ctx->table.owner_pid);
		return ret;
	} else if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "segment %s unusable (%s)",
		              ctx->table.name, knot_strerror(ret));
		return ret;
	}
	ctx->token = token;
	ctx->stale_after_ms = stale_ms;
	/* The view holds the heartbeat of the segment's previous writer:
	 * ours starts now. */
	atomic_store_explicit(&ctx->table.hdr->heartbeat_ms, tgc_table_now_ms(),
	                      memory_order_relaxed);
	if (stuck > 0) {
		knotd_mod_log(mod, LOG_WARNING, "segment %s: closed %u records left "
		              "open by a writer that died", ctx->table.name, stuck);
	}

	return KNOT_EOK;
}

