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

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <libknot/libknot.h>

#include "module/answer.h"
#include "module/probe_agent.h"

/*! \brief Tells whether a node may answer: 1 live, 2 live but drained, 0 not. */
static inline int node_eligible(const tgc_table_t *table, uint32_t idx)
{
	tgc_admin_t admin = tgc_table_admin(table, idx);
	if (admin == TGC_ADMIN_UP) {
		return 1;
	}
	uint8_t agent = tgc_table_agent_state(table, idx);
	if (admin == TGC_ADMIN_DOWN || tgc_table_health(table, idx) == TGC_HEALTH_DOWN ||
	    (agent & (TGC_AGENT_DOWN | TGC_AGENT_MAINT)) != 0) {
		return 0;
	}

	return (admin == TGC_ADMIN_DRAIN || (agent & TGC_AGENT_DRAIN) != 0) ? 2 : 1;
}

/*! \brief Allocates from a knot memory context (NULL without one). */
static void *pool_alloc(knot_mm_t *mm, size_t len)
{
	return (mm != NULL && mm->alloc != NULL) ? mm->alloc(mm->ctx, len) : NULL;
}

/*! \brief Words of the per-answer bitmap of answered representatives. */
#define SEEN_WORDS	((TGC_TABLE_NODES_MAX + 63) / 64)

tgc_answer_kind_t tgc_answer_select(const tgc_answer_cfg_t *cfg, int family,
                                    bool mapped, tgc_policy_state_t *st,
                                    uint64_t client, uint32_t *out,
                                    size_t *count)
{
	const tgc_answer_family_t *fam = (family == AF_INET6) ? &cfg->v6 : &cfg->v4;
	*count = 0;
	if (fam->count == 0) {
		return TGC_ANSWER_NODATA;
	}

	/* Live nodes fill 'out' from the front, drained ones from the back
	 * (reversed, restored below): one pass, no extra buffer. A live node
	 * over its high watermark goes with the drained ones. */
	tgc_steer_t *steer = cfg->steer;
	bool wm = tgc_steer_watermarks(steer);
	uint64_t now = (steer != NULL) ? tgc_steer_now_ms() : 0;
	size_t live = 0, drained = 0;
	for (size_t i = 0; i < fam->count; i++) {
		uint32_t idx = fam->idx[i];
		int elig;
		/* Fast path of node_eligible() for the common admin state. */
		if (tgc_table_admin(cfg->table, idx) == TGC_ADMIN_AUTO &&
		    tgc_table_agent_state(cfg->table, idx) == 0) {
			elig = (tgc_table_health(cfg->table, idx) != TGC_HEALTH_DOWN);
		} else {
			elig = node_eligible(cfg->table, idx);
		}
		if (elig == 1 && wm &&
		    tgc_steer_over(steer, st->worker, cfg->table, idx, now)) {
			elig = 2;
		}
		switch (elig) {
		case 1:
			out[live++] = idx;
			break;
		case 2:
			out[fam->count - 1 - drained++] = idx;
			break;
		default:
			break;
		}
	}

	/* Enough live primaries: the backups found live are left out (one
	 * stable pass; only instances with backups pay for it). */
	if (cfg->backup_from > 0 && live > 0) {
		size_t primaries = 0;
		for (size_t i = 0; i < live; i++) {
			primaries += (out[i] < cfg->backup_from);
		}
		uint32_t when = (cfg->backup_when > 0) ? cfg->backup_when : 1;
		if (primaries >= when && primaries < live) {
			size_t k = 0;
			for (size_t i = 0; i < live; i++) {
				if (out[i] < cfg->backup_from) {
					out[k++] = out[i];
				}
			}
			live = k;
		}
	}

	tgc_answer_kind_t kind = TGC_ANSWER_LIVE;
	size_t n = live;
	if (live == 0 && drained > 0) {
		kind = TGC_ANSWER_DRAIN;
		n = drained;
		/* Reverse the tail in place, then move it to the front: the
		 * two ranges overlap when more than half the nodes drain. */
		uint32_t *tail = out + fam->count - drained;
		for (size_t a = 0, b = drained - 1; a < b; a++, b--) {
			uint32_t t = tail[a];
			tail[a] = tail[b];
			tail[b] = t;
		}
		memmove(out, tail, drained * sizeof(*out));
	} else if (live == 0) {
		switch (cfg->all_down) {
		case TGC_ALL_DOWN_SERVFAIL:
			return TGC_ANSWER_SERVFAIL;
		case TGC_ALL_DOWN_NODATA:
			return TGC_ANSWER_NODATA;
		case TGC_ALL_DOWN_ALL:
		default:
			for (size_t i = 0; i < fam->count; i++) {
				uint32_t idx = fam->idx[i];
				/* Agent maint is like admin down. */
				if (tgc_table_admin(cfg->table, idx) != TGC_ADMIN_DOWN &&
				    (tgc_table_agent_state(cfg->table, idx) &
				     TGC_AGENT_MAINT) == 0) {
					out[n++] = idx;
				}
			}
			if (n == 0) {
				return TGC_ANSWER_NODATA;
			}
			kind = TGC_ANSWER_ALL;
			break;
		}
	}

	tgc_policy_t policy = cfg->policy;
	if (steer != NULL && kind != TGC_ANSWER_ALL) {
		tgc_steer_seen(steer, st->worker, fam->idx, fam->count, out, n, now);
	}
	if (policy == TGC_POLICY_LEAST_LOADED && tgc_steer_least_loaded(steer)) {
		tgc_steer_order(steer, st->worker, cfg->table, out, n, st->rr++, now);
		policy = TGC_POLICY_ORDERED;
	} else if (policy == TGC_POLICY_LEAST_LOADED) {
		policy = TGC_POLICY_ROUND_ROBIN;
	}

	const uint32_t *rep = mapped ? cfg->rep_mapped : cfg->rep;
	if (rep == NULL || cfg->node_count > SEEN_WORDS * 64) {
		*count = tgc_policy_order(policy, out, n, cfg->answers, st,
		                          client, cfg->node_keys);
	} else {
		/* 2 KiB at most on the stack; only the words in use are
		 * cleared. */
		uint64_t seen[SEEN_WORDS];
		memset(seen, 0, ((cfg->node_count + 63) / 64) * sizeof(*seen));
		*count = tgc_policy_order_unique(policy, out, n, cfg->answers, st,
		                                 client, cfg->node_keys, rep, seen);
	}
	return kind;
}

/*! \brief An address and its index, as sorted by tgc_answer_reps(). */
typedef struct {
	tgc_addr_t addr;
	uint32_t idx;
} indexed_addr_t;

/*! \brief qsort() order: by address, then by index. */
static int indexed_addr_cmp(const void *a, const void *b)
{
	const indexed_addr_t *x = a, *y = b;
	if (x->addr.family != y->addr.family) {
		return (x->addr.family < y->addr.family) ? -1 : 1;
	}
	int cmp = memcmp(x->addr.bytes, y->addr.bytes, x->addr.len);
	if (cmp != 0) {
		return cmp;
	}
	return (x->idx < y->idx) ? -1 : (x->idx > y->idx);
}

int tgc_answer_reps(const tgc_addr_t *addrs, size_t count, uint32_t *rep)
{
	for (size_t i = 0; i < count; i++) {
		rep[i] = (uint32_t)i;
	}
	if (count < 2) {
		return KNOT_ENOENT;
	}
	indexed_addr_t *sorted = malloc(count * sizeof(*sorted));
	if (sorted == NULL) {
		return KNOT_ENOMEM;
	}
	for (size_t i = 0; i < count; i++) {
		sorted[i].addr = addrs[i];
		sorted[i].idx = (uint32_t)i;
	}
	qsort(sorted, count, sizeof(*sorted), indexed_addr_cmp);
	bool dup = false;
	for (size_t k = 1; k < count; k++) {
		if (tgc_addr_equal(&sorted[k - 1].addr, &sorted[k].addr)) {
			/* Ascending index within a group: the previous one's
			 * representative is the group's first. */
			rep[sorted[k].idx] = rep[sorted[k - 1].idx];
			dup = true;
		}
	}
	free(sorted);

	return dup ? KNOT_EOK : KNOT_ENOENT;
}

int tgc_answer_put(knot_pkt_t *pkt, const knot_dname_t *owner, uint16_t rtype,
                   uint32_t ttl, const tgc_addr_t *const *addrs, size_t count,
                   knot_mm_t *mm)
{
	if (pkt == NULL || owner == NULL || addrs == NULL || count == 0 ||
	    count > UINT16_MAX ||
	    (rtype != KNOT_RRTYPE_A && rtype != KNOT_RRTYPE_AAAA)) {
		return KNOT_EINVAL;
	}
	uint16_t len = (rtype == KNOT_RRTYPE_A) ? 4 : 16;
	int family = (rtype == KNOT_RRTYPE_A) ? AF_INET : AF_INET6;
	size_t rd_size = knot_rdata_size(len);

	/* One allocation for the RRset and its rdata (sizeof(knot_rrset_t) is
	 * a multiple of 8, so the rdata that follows stays aligned). */
	_Static_assert(sizeof(knot_rrset_t) % 8 == 0, "rdata alignment");
	knot_rrset_t *rr = pool_alloc(mm, sizeof(*rr) + rd_size * count);
	if (rr == NULL) {
		return KNOT_ENOMEM;
	}
	uint8_t *rdata = (uint8_t *)(rr + 1);
	knot_rrset_init(rr, (knot_dname_t *)owner, rtype, KNOT_CLASS_IN, ttl);

	/* Written in our order: knot_rdataset_add() would sort them. The
	 * constant-size copies (4 and 16 bytes, no padding needed) compile to
	 * moves; knot_rdata_init() would call memcpy() for each. */
	for (size_t i = 0; i < count; i++) {
		if (addrs[i]->family != family) {
			return KNOT_EINVAL;
		}
		knot_rdata_t *rd = (knot_rdata_t *)(rdata + i * rd_size);
		rd->len = len;
		if (len == 4) {
			memcpy(rd->data, addrs[i]->bytes, 4);
		} else {
			memcpy(rd->data, addrs[i]->bytes, 16);
		}
	}
	rr->rrs.count = (uint16_t)count;
	rr->rrs.size = (uint32_t)(rd_size * count);
	rr->rrs.rdata = (knot_rdata_t *)rdata;

	int ret = knot_pkt_put(pkt, KNOT_COMPR_HINT_QNAME, rr, 0);
	if (ret == KNOT_ESPACE) {
		knot_wire_set_tc(pkt->wire);
	}

	return ret;
}

size_t tgc_answer_soa_names_len(const knot_rdata_t *rd)
{
	const uint8_t *end = rd->data + rd->len;
	int mname = knot_dname_wire_check(rd->data, end, NULL);
	if (mname <= 0) {
		return 0;
	}
	int rname = knot_dname_wire_check(rd->data + mname, end, NULL);
	if (rname <= 0) {
		return 0;
	}
	size_t names = (size_t)mname + (size_t)rname;

	return (names + 20 <= rd->len) ? names : 0;
}

int tgc_answer_put_soa(knot_pkt_t *pkt, const knot_rrset_t *soa, uint32_t ttl,
                       knot_mm_t *mm)
{
	if (pkt == NULL || soa == NULL) {
		return KNOT_EINVAL;
	}
	if (soa->rrs.count == 0) {
		return KNOT_EOK;
	}
	size_t names_len = tgc_answer_soa_names_len(soa->rrs.rdata);
	if (names_len == 0) {
		return KNOT_EMALF;
	}

	knot_rrset_t *rr = pool_alloc(mm, sizeof(*rr));
	uint8_t *rdata = pool_alloc(mm, soa->rrs.size);
	if (rr == NULL || rdata == NULL) {
		return KNOT_ENOMEM;
	}
	*rr = *soa;
	memcpy(rdata, soa->rrs.rdata, soa->rrs.size);
	rr->rrs.count = 1;
	rr->rrs.rdata = (knot_rdata_t *)rdata;
	rr->rrs.size = (uint32_t)knot_rdata_size(rr->rrs.rdata->len);

	knot_rdata_t *rd = rr->rrs.rdata;
	size_t min_off = names_len + 16;
	if (knot_soa_minimum(rd) > ttl) {
		knot_wire_write_u32(rd->data + min_off, ttl);
	}
	if (rr->ttl > ttl) {
		rr->ttl = ttl;
	}

	int ret = knot_pkt_begin(pkt, KNOT_AUTHORITY);
	if (ret != KNOT_EOK) {
		return ret;
	}

	return knot_pkt_put(pkt, KNOT_COMPR_HINT_NONE, rr, 0);
}
