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

#include <stdlib.h>
#include <string.h>

#include <libknot/errcode.h>

#include "module/sign.h"

/*! \brief Slots probed from the home slot of a hash. */
#define PROBE	4

/*! \brief Rdata items of one key must fit this (addresses). */
#define RDATA_ITEM_MAX	16

static int rdata_cmp(const void *a, const void *b)
{
	const tgc_sign_rdata_t *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int r = memcmp(x->data, y->data, n);
	if (r != 0) {
		return r;
	}
	return (int)x->len - (int)y->len;
}

static uint64_t fnv1a(const uint8_t *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

int tgc_sign_key_build(tgc_sign_key_t *key, uint16_t type, uint32_t ttl,
                       const tgc_sign_rdata_t *rd, size_t count)
{
	if (key == NULL || (rd == NULL && count > 0)) {
		return KNOT_EINVAL;
	}
	if (count > TGC_SIGN_RDATA_MAX) {
		return KNOT_ESPACE;
	}
	tgc_sign_rdata_t sorted[TGC_SIGN_RDATA_MAX];
	for (size_t i = 0; i < count; i++) {
		if (rd[i].len > RDATA_ITEM_MAX || (rd[i].data == NULL && rd[i].len > 0)) {
			return KNOT_ESPACE;
		}
		sorted[i] = rd[i];
	}
	qsort(sorted, count, sizeof(sorted[0]), rdata_cmp);

	uint8_t *p = key->buf;
	*p++ = type >> 8;
	*p++ = type & 0xff;
	*p++ = ttl >> 24;
	*p++ = (ttl >> 16) & 0xff;
	*p++ = (ttl >> 8) & 0xff;
	*p++ = ttl & 0xff;
	for (size_t i = 0; i < count; i++) {
		/* An RRset is a set: equal rdata collapse into one. */
		if (i > 0 && rdata_cmp(&sorted[i - 1], &sorted[i]) == 0) {
			continue;
		}
		*p++ = (uint8_t)sorted[i].len;
		if (sorted[i].len > 0) {
			memcpy(p, sorted[i].data, sorted[i].len);
		}
		p += sorted[i].len;
	}
	key->len = (uint16_t)(p - key->buf);
	key->hash = fnv1a(key->buf, key->len);
	return KNOT_EOK;
}

int tgc_sign_cache_init(tgc_sign_cache_t *c, size_t slots, uint32_t refresh)
{
	if (c == NULL || slots == 0) {
		return KNOT_EINVAL;
	}
	size_t n = 8;
	while (n < slots) {
		n <<= 1;
	}
	memset(c, 0, sizeof(*c));
	c->slots = calloc(n, sizeof(c->slots[0]));
	if (c->slots == NULL) {
		return KNOT_ENOMEM;
	}
	if (pthread_rwlock_init(&c->lock, NULL) != 0) {
		free(c->slots);
		c->slots = NULL;
		return KNOT_ENOMEM;
	}
	c->nslots = n;
	c->refresh = refresh;
	return KNOT_EOK;
}

void tgc_sign_cache_deinit(tgc_sign_cache_t *c)
{
	if (c == NULL || c->slots == NULL) {
		return;
	}
	pthread_rwlock_destroy(&c->lock);
	free(c->slots);
	c->slots = NULL;
	c->nslots = 0;
}

bool tgc_sign_cache_set_gen(tgc_sign_cache_t *c, uint64_t gen)
{
	if (c == NULL || c->slots == NULL) {
		return false;
	}
	pthread_rwlock_wrlock(&c->lock);
	bool changed = (c->gen != gen);
	if (changed) {
		c->gen = gen;
		for (size_t i = 0; i < c->nslots; i++) {
			c->slots[i].used = false;
		}
	}
	pthread_rwlock_unlock(&c->lock);
	return changed;
}

static bool key_eq(const tgc_sign_key_t *a, const tgc_sign_key_t *b)
{
	return a->hash == b->hash && a->len == b->len &&
	       memcmp(a->buf, b->buf, a->len) == 0;
}

size_t tgc_sign_cache_get(tgc_sign_cache_t *c, const tgc_sign_key_t *key,
                          uint32_t now, uint8_t *out, size_t out_max)
{
	if (c == NULL || c->slots == NULL || key == NULL || out == NULL) {
		return 0;
	}
	size_t ret = 0;
	pthread_rwlock_rdlock(&c->lock);
	for (size_t i = 0; i < PROBE; i++) {
		const tgc_sign_slot_t *s = &c->slots[(key->hash + i) & (c->nslots - 1)];
		if (!s->used || !key_eq(&s->key, key)) {
			continue;
		}
		/* Serial arithmetic is not needed: expiry is absolute and
		 * within 2^31 s of now in any realistic signing policy. */
		if (s->gen == c->gen && (int64_t)s->expire - now > (int64_t)c->refresh &&
		    s->sig_len <= out_max) {
			memcpy(out, s->sig, s->sig_len);
			ret = s->sig_len;
		}
		break;
	}
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

int tgc_sign_cache_put(tgc_sign_cache_t *c, const tgc_sign_key_t *key,
                       uint64_t gen, uint32_t expire,
                       const uint8_t *sig, size_t sig_len)
{
	if (c == NULL || c->slots == NULL || key == NULL || sig == NULL) {
		return KNOT_EINVAL;
	}
	if (sig_len > TGC_SIGN_SIG_MAX) {
		return KNOT_ESPACE;
	}
	int ret = KNOT_EOK;
	pthread_rwlock_wrlock(&c->lock);
	if (gen != c->gen) {
		ret = KNOT_ESEMCHECK;
		goto out;
	}
	tgc_sign_slot_t *victim = NULL;
	for (size_t i = 0; i < PROBE; i++) {
		tgc_sign_slot_t *s = &c->slots[(key->hash + i) & (c->nslots - 1)];
		if (s->used && key_eq(&s->key, key)) {
			victim = s;
			break;
		}
		if (victim == NULL || (victim->used &&
		    (!s->used || s->expire < victim->expire))) {
			victim = s;
		}
	}
	victim->used = true;
	victim->gen = gen;
	victim->expire = expire;
	victim->key = *key;
	victim->sig_len = (uint16_t)sig_len;
	memcpy(victim->sig, sig, sig_len);
out:
	pthread_rwlock_unlock(&c->lock);
	return ret;
}

int tgc_sign_zone_check(const tgc_sign_zone_t *z, const char **msg)
{
	if (z == NULL || msg == NULL) {
		return KNOT_EINVAL;
	}
	*msg = NULL;
	if (z->onlinesign) {
		*msg = "mod-tgcluster and mod-onlinesign cannot serve one zone: "
		       "mod-onlinesign signs only answers made from the zone, "
		       "mod-tgcluster's answers would go out unsigned and fail "
		       "validation; remove one of them from the zone's 'module' "
		       "(to sign the zone use 'dnssec-signing: on')";
		return KNOT_ENOTSUP;
	}
	if (z->signing && z->below_apex) {
		*msg = z->nsec3 ?
		       "is below the apex of a zone signed with NSEC3: the zone's "
		       "NSEC3 for that name must list the answered types, so the "
		       "zone needs a placeholder A record at the name if the "
		       "cluster has IPv4 nodes, AAAA if it has IPv6 nodes, and "
		       "none of a family without nodes" :
		       "is below the apex of a signed zone: the zone's NSEC for "
		       "that name must list the answered types, so the zone needs "
		       "a placeholder A record at the name if the cluster has "
		       "IPv4 nodes, AAAA if it has IPv6 nodes, and none of a "
		       "family without nodes";
	}
	return KNOT_EOK;
}

bool tgc_sign_nodata_by_zone(bool at_apex, bool apex_has_type, bool family_has_nodes)
{
	return at_apex ? !apex_has_type : !family_has_nodes;
}
