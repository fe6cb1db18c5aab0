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
 * \brief Load balancer: signed answers (RRSIGs from the instance's cache,
 *        signed apex NODATA) and the check of the zone's signing at load.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libknot/rrtype/soa.h>
#include <libknot/rrtype/rrsig.h>

#include "module/ctx.h"

/*! \brief Seconds before an RRSIG expires that the module re-signs. */
#define SIGN_REFRESH_S	3600
/*! \brief RRSIG cache slots per instance. */
#define SIGN_SLOTS	1024

/*! \brief Hash of the zone's apex DNSKEY rdata (0 when there is none). */
static uint64_t dnskey_hash(knotd_qdata_t *qdata)
{
	knot_rrset_t keys = knotd_qdata_zone_apex_rrset(qdata, KNOT_RRTYPE_DNSKEY);
	if (keys.rrs.count == 0) {
		return 0;
	}
	uint64_t h = 0xcbf29ce484222325ULL;
	const uint8_t *p = (const uint8_t *)keys.rrs.rdata;
	for (uint32_t i = 0; i < keys.rrs.size; i++) {
		h = (h ^ p[i]) * 0x100000001b3ULL;
	}
	return h | 1;
}

int tgc_lb_sign(knot_pkt_t *pkt, knotd_qdata_t *qdata, knotd_mod_t *mod,
                tgc_ctx_t *ctx, const knot_rrset_t *rr)
{
	/* The keyset follows the zone's DNSKEY set: knotd creates the keys
	 * after load on a first signing and changes them on rollovers. One
	 * worker reloads per change; the others wait on key_lock. */
	uint64_t keys = dnskey_hash(qdata);
	if (keys == 0) {
		return KNOT_EOK; /* Zone not signed (yet). */
	}
	if (atomic_load_explicit(&ctx->lb.sign_keys, memory_order_acquire) != keys) {
		pthread_rwlock_wrlock(&ctx->lb.key_lock);
		int ret = KNOT_EOK;
		if (atomic_load_explicit(&ctx->lb.sign_keys, memory_order_relaxed) != keys) {
			if (atomic_load_explicit(&ctx->lb.sign_ok, memory_order_relaxed)) {
				knotd_mod_dnssec_unload_keyset(mod);
			}
			ret = knotd_mod_dnssec_load_keyset(mod, false);
			/* Tried once per DNSKEY set: a failure leaves answers
			 * unsigned until the set changes or a reload. */
			atomic_store_explicit(&ctx->lb.sign_ok, ret == KNOT_EOK,
			                      memory_order_relaxed);
			if (ret == KNOT_EOK) {
				tgc_sign_cache_set_gen(&ctx->lb.sign, keys);
			} else {
				knotd_mod_log(mod, LOG_WARNING, "answers unsigned, cannot load "
				              "the zone's DNSSEC keys (%s): its DNSKEY set "
				              "changed since the module loaded, run 'knotc "
				              "reload' to use the keys knotd has now",
				              knot_strerror(ret));
			}
			atomic_store_explicit(&ctx->lb.sign_keys, keys, memory_order_release);
		}
		pthread_rwlock_unlock(&ctx->lb.key_lock);
	}
	if (!atomic_load_explicit(&ctx->lb.sign_ok, memory_order_relaxed)) {
		return KNOT_EOK;
	}
	/* The zone's apex NSEC/NSEC3 must list the type answered, or resolvers
	 * that answer from cached denials (RFC 8198) deny the cluster name. */
	if (!ctx->lb.below_apex &&
	    !atomic_load_explicit(&ctx->lb.placeholder_logged, memory_order_relaxed) &&
	    knotd_qdata_zone_apex_rrset(qdata, rr->type).rrs.count == 0 &&
	    !atomic_exchange_explicit(&ctx->lb.placeholder_logged, true, memory_order_relaxed)) {
		knotd_mod_log(mod, LOG_WARNING, "the signed zone has no %s record at the "
		              "apex: its denial says the type does not exist there, and "
		              "resolvers that answer from cached denials (RFC 8198, e.g. "
		              "unbound) answer NODATA for the cluster name; add a "
		              "placeholder %s record at the apex (the module's answers "
		              "override it)", rr->type == KNOT_RRTYPE_A ? "A" : "AAAA",
		              rr->type == KNOT_RRTYPE_A ? "A" : "AAAA");
	}

	tgc_sign_rdata_t rd[TGC_SIGN_RDATA_MAX];
	size_t n = rr->rrs.count;
	tgc_sign_key_t key;
	bool cacheable = (n <= TGC_SIGN_RDATA_MAX);
	if (cacheable) {
		knot_rdata_t *it = rr->rrs.rdata;
		for (size_t i = 0; i < n; i++) {
			rd[i] = (tgc_sign_rdata_t){ it->data, it->len };
			it = knot_rdataset_next(it);
		}
		cacheable = tgc_sign_key_build(&key, rr->type, rr->ttl, rd, n) == KNOT_EOK;
	}

	knot_rrset_t *sigs = qdata->mm->alloc(qdata->mm->ctx, sizeof(*sigs));
	uint8_t *blob = qdata->mm->alloc(qdata->mm->ctx, TGC_SIGN_SIG_MAX);
	if (sigs == NULL || blob == NULL) {
		return KNOT_ENOMEM;
	}
	knot_rrset_init(sigs, rr->owner, KNOT_RRTYPE_RRSIG, KNOT_CLASS_IN, rr->ttl);
	size_t got = 0;
	if (cacheable) {
		got = tgc_sign_cache_get(&ctx->lb.sign, &key, (uint32_t)time(NULL),
		                         blob, TGC_SIGN_SIG_MAX);
	}
	if (got > 2) {
		/* Blob: count (2 bytes, host order) and the rdataset. */
		memcpy(&sigs->rrs.count, blob, 2);
		sigs->rrs.size = (uint32_t)(got - 2);
		sigs->rrs.rdata = (knot_rdata_t *)(blob + 2);
	} else {
		/* The rdataset is signed in canonical order whatever the
		 * answer order: sign a sorted copy. */
		knot_rrset_t copy;
		knot_rrset_init(&copy, rr->owner, rr->type, rr->rclass, rr->ttl);
		int ret = KNOT_EOK;
		knot_rdata_t *it = rr->rrs.rdata;
		for (uint16_t i = 0; i < rr->rrs.count && ret == KNOT_EOK; i++) {
			/* knot_rdataset_add() keeps the set sorted. */
			ret = knot_rdataset_add(&copy.rrs, it, qdata->mm);
			it = knot_rdataset_next(it);
		}
		if (ret == KNOT_EOK) {
			pthread_rwlock_rdlock(&ctx->lb.key_lock);
			ret = knotd_mod_dnssec_sign_rrset(mod, sigs, &copy, qdata->mm);
			pthread_rwlock_unlock(&ctx->lb.key_lock);
		}
		if (ret != KNOT_EOK) {
			return ret;
		}
		if (cacheable && sigs->rrs.count > 0 &&
		    sigs->rrs.size + 2 <= TGC_SIGN_SIG_MAX) {
			uint32_t expire = UINT32_MAX;
			knot_rdata_t *it = sigs->rrs.rdata;
			for (uint16_t i = 0; i < sigs->rrs.count; i++) {
				uint32_t e = knot_rrsig_sig_expiration(it);
				expire = e < expire ? e : expire;
				it = knot_rdataset_next(it);
			}
			memcpy(blob, &sigs->rrs.count, 2);
			memcpy(blob + 2, sigs->rrs.rdata, sigs->rrs.size);
			(void)tgc_sign_cache_put(&ctx->lb.sign, &key, keys, expire,
			                         blob, sigs->rrs.size + 2);
		}
	}
	return knot_pkt_put(pkt, KNOT_COMPR_HINT_QNAME, sigs, 0);
}

/*! \brief Puts the apex RRset of \a type and the RRSIGs covering it. */
static int put_apex_signed(knot_pkt_t *pkt, knotd_qdata_t *qdata, uint16_t type)
{
	knot_rrset_t rr = knotd_qdata_zone_apex_rrset(qdata, type);
	knot_rrset_t all = knotd_qdata_zone_apex_rrset(qdata, KNOT_RRTYPE_RRSIG);
	if (rr.rrs.count == 0 || all.rrs.count == 0) {
		return KNOT_ENOENT;
	}
	knot_rrset_t *sigs = qdata->mm->alloc(qdata->mm->ctx, sizeof(*sigs));
	knot_rrset_t *copy = qdata->mm->alloc(qdata->mm->ctx, sizeof(*copy));
	if (sigs == NULL || copy == NULL) {
		return KNOT_ENOMEM;
	}
	*copy = rr;
	knot_rrset_init(sigs, all.owner, KNOT_RRTYPE_RRSIG, all.rclass, all.ttl);
	knot_rdata_t *it = all.rrs.rdata;
	for (uint16_t i = 0; i < all.rrs.count; i++) {
		if (knot_rrsig_type_covered(it) == type) {
			int ret = knot_rdataset_add(&sigs->rrs, it, qdata->mm);
			if (ret != KNOT_EOK) {
				return ret;
			}
		}
		it = knot_rdataset_next(it);
	}
	if (sigs->rrs.count == 0) {
		return KNOT_ENOENT;
	}
	int ret = knot_pkt_put(pkt, KNOT_COMPR_HINT_NONE, copy, 0);
	if (ret == KNOT_EOK) {
		ret = knot_pkt_put(pkt, KNOT_COMPR_HINT_NONE, sigs, 0);
	}
	return ret;
}

int tgc_lb_signed_nodata(knot_pkt_t *pkt, knotd_qdata_t *qdata)
{
	int ret = knot_pkt_begin(pkt, KNOT_AUTHORITY);
	if (ret == KNOT_EOK) {
		ret = put_apex_signed(pkt, qdata, KNOT_RRTYPE_SOA);
	}
	/* An NSEC3 zone has no apex NSEC, and a name below the apex would
	 * need its own NSEC: the module API reads apex RRsets only. Those
	 * answers carry the signed SOA without a denial proof. */
	if (ret == KNOT_EOK &&
	    knot_dname_is_equal(knot_pkt_qname(qdata->query), knotd_qdata_zone_name(qdata))) {
		ret = put_apex_signed(pkt, qdata, KNOT_RRTYPE_NSEC);
		if (ret == KNOT_ENOENT) {
			ret = KNOT_EOK;
		}
	}
	return ret;
}

knotd_in_state_t tgc_lb_zone_nodata(knotd_in_state_t state, knot_pkt_t *pkt,
                                    knotd_qdata_t *qdata, knotd_mod_t *mod)
{
	(void)pkt;
	uint16_t qtype = knot_pkt_qtype(qdata->query);
	tgc_ctx_t *ctx = knotd_mod_ctx(mod);
	if (state == KNOTD_IN_STATE_NODATA || ctx == NULL ||
	    qdata->type != KNOTD_QUERY_TYPE_NORMAL ||
	    (qtype != KNOT_RRTYPE_A && qtype != KNOT_RRTYPE_AAAA) ||
	    !knot_pkt_has_dnssec(qdata->query) || !tgc_ctx_is_cluster_name(qdata, ctx) ||
	    atomic_exchange_explicit(&ctx->lb.nodata_logged, true, memory_order_relaxed)) {
		return state;
	}
	knotd_mod_log(mod, LOG_WARNING, "'name' %s: a NODATA for %s is answered from the "
	              "zone, which has %s at that name; the zone needs a placeholder "
	              "record at the name for each family the cluster has nodes of, "
	              "and none of a family without nodes",
	              ctx->lb.name_txt, qtype == KNOT_RRTYPE_A ? "A" : "AAAA",
	              state == KNOTD_IN_STATE_MISS ? "no record" : "records of that type");
	return state;
}

int tgc_lb_sign_zone_check(tgc_ctx_t *ctx, knotd_mod_t *mod)
{
	const knot_dname_t *zone = knotd_mod_zone(mod);
	if (zone == NULL) {
		return KNOT_EOK;
	}
	tgc_sign_zone_t z = { .below_apex = !knot_dname_is_equal(ctx->name, zone) };
	knotd_conf_t val = knotd_conf_zone(mod, (const yp_name_t *)"\x0e""dnssec-signing", zone);
	z.signing = val.count > 0 && val.single.boolean;
	knotd_conf_t policy = knotd_conf_zone(mod, (const yp_name_t *)"\x0d""dnssec-policy", zone);
	if (policy.count > 0 && policy.single.data != NULL) {
		val = knotd_conf(mod, (const yp_name_t *)"\x06""policy",
		                 (const yp_name_t *)"\x05""nsec3", &policy);
		z.nsec3 = val.count > 0 && val.single.boolean;
	}
	/* A module reference is the module's name (length-prefixed) and the
	 * section id. */
	static const uint8_t onlinesign[] = "\x0e""mod-onlinesign";
	knotd_conf_t mods = knotd_conf_zone(mod, (const yp_name_t *)"\x06""module", zone);
	for (size_t i = 0; i < mods.count; i++) {
		const knotd_conf_val_t *m = &mods.multi[i];
		if (m->data != NULL && m->data_len >= sizeof(onlinesign) - 1 &&
		    memcmp(m->data, onlinesign, sizeof(onlinesign) - 1) == 0) {
			z.onlinesign = true;
		}
	}
	knotd_conf_free(&mods);

	ctx->lb.below_apex = z.below_apex;
	const char *msg = NULL;
	int ret = tgc_sign_zone_check(&z, &msg);
	if (ret != KNOT_EOK) {
		knotd_mod_log(mod, LOG_ERR, "not loading: %s", msg);
	} else if (msg != NULL) {
		knotd_mod_log(mod, LOG_NOTICE, "'name' %s %s", ctx->lb.name_txt, msg);
	}
	return ret;
}

int tgc_lb_sign_setup(tgc_ctx_t *ctx, knotd_mod_t *mod)
{
	/* The zone's keys come from knotd's KASP DB. */
	knotd_conf_t signing = knotd_conf_zone(mod, (const yp_name_t *)"\x0e""dnssec-signing",
	                                       knotd_mod_zone(mod));
	if (signing.count > 0 && signing.single.boolean) {
		/* The keyset itself is loaded by the first signed answer
		 * (tgc_lb_sign): on a first start knotd makes the keys after
		 * the module is loaded. */
		int ret = knotd_mod_dnssec_init(mod);
		if (ret == KNOT_EOK) {
			ret = tgc_sign_cache_init(&ctx->lb.sign, SIGN_SLOTS, SIGN_REFRESH_S);
		}
		if (ret == KNOT_EOK && pthread_rwlock_init(&ctx->lb.key_lock, NULL) != 0) {
			tgc_sign_cache_deinit(&ctx->lb.sign);
			ret = KNOT_ENOMEM;
		}
		if (ret != KNOT_EOK) {
			knotd_mod_log(mod, LOG_ERR, "cannot open the zone's DNSSEC context (%s)",
			              knot_strerror(ret));
			return ret;
		}
		ctx->lb.sign_on = true;
	}

	return KNOT_EOK;
}
