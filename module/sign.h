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
 * \brief Cache of RRSIGs over synthesised RRsets.
 *
 * A synthesised RRset is identified by its type, TTL and the set of its
 * rdata taken in canonical order (RFC 4034 section 6.3), so the order an
 * answer policy gives the records in does not make a new entry. Each entry
 * holds the RRSIG rdata made for that set, the time the signature expires
 * and the keyset generation it was made with. A lookup misses when the
 * entry is absent, was made with another keyset generation, or is within
 * the refresh margin of its expiry; the caller then signs and stores.
 *
 * The cache is shared by all knotd workers of one module instance. A
 * read-write lock guards it: lookups take it shared and copy the signature
 * out, stores and generation changes take it exclusively. The cache has a
 * fixed number of slots; a store into a full probe window replaces the
 * entry that expires first.
 */

#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*! \brief Most rdata items in one cached RRset. */
#define TGC_SIGN_RDATA_MAX	64
/*! \brief Most bytes of canonical RRset key (rdata with length prefixes). */
#define TGC_SIGN_KEY_MAX	(TGC_SIGN_RDATA_MAX * 18 + 8)
/*! \brief Most bytes of one RRSIG rdata kept in the cache. */
#define TGC_SIGN_SIG_MAX	640

/*! \brief One rdata item of an RRset to look up. */
typedef struct {
	const uint8_t *data;	/*!< Rdata wire bytes. */
	uint16_t len;		/*!< Rdata length. */
} tgc_sign_rdata_t;

/*! \brief Canonical identity of one RRset (built by tgc_sign_key_build). */
typedef struct {
	uint64_t hash;			/*!< FNV-1a over buf. */
	uint16_t len;			/*!< Bytes used in buf. */
	uint8_t buf[TGC_SIGN_KEY_MAX];	/*!< type, ttl, sorted rdata. */
} tgc_sign_key_t;

/*! \brief One cache slot. Written only under the exclusive lock. */
typedef struct {
	bool used;			/*!< Slot holds an entry. */
	uint64_t gen;			/*!< Keyset generation of the signature. */
	uint32_t expire;		/*!< RRSIG expiration, UNIX seconds. */
	tgc_sign_key_t key;		/*!< RRset identity. */
	uint16_t sig_len;		/*!< Bytes in sig. */
	uint8_t sig[TGC_SIGN_SIG_MAX];	/*!< RRSIG rdata (all signatures). */
} tgc_sign_slot_t;

/*! \brief Signature cache of one module instance. */
typedef struct {
	pthread_rwlock_t lock;	/*!< Guards every field below. */
	uint64_t gen;		/*!< Current keyset generation; written by
				     tgc_sign_cache_set_gen under the exclusive
				     lock, read under either lock. */
	uint32_t refresh;	/*!< Seconds before expiry a signature is
				     treated as missing (set at init only). */
	size_t nslots;		/*!< Slot count, a power of two (init only). */
	tgc_sign_slot_t *slots;	/*!< Slot array (init only). */
} tgc_sign_cache_t;

/*!
 * \brief Build the canonical key of an RRset.
 *
 * \param key     Key to fill.
 * \param type    RR type.
 * \param ttl     TTL of the set.
 * \param rd      Rdata items in any order.
 * \param count   Number of items (at most TGC_SIGN_RDATA_MAX, each at most
 *                16 bytes: addresses).
 *
 * \return KNOT_EOK, KNOT_EINVAL on a null argument, KNOT_ESPACE when the set
 *         is too large.
 */
int tgc_sign_key_build(tgc_sign_key_t *key, uint16_t type, uint32_t ttl,
                       const tgc_sign_rdata_t *rd, size_t count);

/*!
 * \brief Initialise a cache.
 *
 * \param c        Cache.
 * \param slots    Slot count (rounded up to a power of two, at least 8).
 * \param refresh  Seconds before expiry a signature is re-made.
 *
 * \return KNOT_EOK, KNOT_EINVAL, KNOT_ENOMEM.
 */
int tgc_sign_cache_init(tgc_sign_cache_t *c, size_t slots, uint32_t refresh);

/*! \brief Free a cache's slots and lock. */
void tgc_sign_cache_deinit(tgc_sign_cache_t *c);

/*!
 * \brief Set the keyset generation; entries of other generations stop
 *        matching and are dropped.
 *
 * \return true when the generation changed.
 */
bool tgc_sign_cache_set_gen(tgc_sign_cache_t *c, uint64_t gen);

/*!
 * \brief Look a signature up.
 *
 * \param c        Cache.
 * \param key      RRset identity.
 * \param now      Current UNIX time.
 * \param out      Buffer for the RRSIG rdata.
 * \param out_max  Size of out.
 *
 * \return Bytes copied to out, 0 on a miss (absent, other generation,
 *         within the refresh margin of expiry, or out too small).
 */
size_t tgc_sign_cache_get(tgc_sign_cache_t *c, const tgc_sign_key_t *key,
                          uint32_t now, uint8_t *out, size_t out_max);

/*!
 * \brief Store a signature made with keyset generation gen.
 *
 * A store for a generation other than the current one is ignored (the
 * keyset changed while the caller signed).
 *
 * \return KNOT_EOK, KNOT_EINVAL, KNOT_ESPACE (sig too large), KNOT_ESEMCHECK
 *         (stale generation, not stored).
 */
int tgc_sign_cache_put(tgc_sign_cache_t *c, const tgc_sign_key_t *key,
                       uint64_t gen, uint32_t expire,
                       const uint8_t *sig, size_t sig_len);

/*! \brief What a zone's configuration says about signing its answers. */
typedef struct {
	bool signing;		/*!< The zone has dnssec-signing: on. */
	bool nsec3;		/*!< Its dnssec-policy has nsec3: on. */
	bool below_apex;	/*!< The cluster name is below the zone apex. */
	bool onlinesign;	/*!< mod-onlinesign is a module of the zone. */
} tgc_sign_zone_t;

/*!
 * \brief Check that the module's answers can be signed the way the zone is.
 *
 * knotd checks a module section without the zones that use it, so this
 * runs at load, with what the zone's configuration says:
 *
 * - mod-onlinesign signs only what knotd answers from the zone; the
 *   module's answers would go out unsigned and fail validation. The two
 *   modules on one zone are refused.
 * - NODATA of a signed zone (NSEC or NSEC3) is proven by knotd's own answer
 *   from the zone (see tgc_sign_nodata_by_zone()). For a name below the apex
 *   the zone must hold placeholder records at the name (which the module
 *   cannot check): the caller logs \a msg as a notice.
 *
 * \param z    The zone's configuration.
 * \param msg  Set to a message (without the zone or name) or NULL.
 *
 * \return KNOT_EOK (\a msg is a notice when set), KNOT_ENOTSUP (refused,
 *         \a msg says why), KNOT_EINVAL.
 */
int tgc_sign_zone_check(const tgc_sign_zone_t *z, const char **msg);

/*!
 * \brief Tell whether a NODATA to a DNSSEC query of a signed zone is left to
 *        knotd's answer from the zone.
 *
 * knotd proves NODATA from the zone with the denial its own signing made
 * (NSEC or NSEC3, at any name), which the module API cannot read. That
 * answer is NODATA only when the zone has no record of the asked type at
 * the name. A type the module answers with addresses needs a record in the
 * zone at the name (a placeholder the module's answers override), or the
 * zone's NSEC/NSEC3 denies it and resolvers that synthesise answers from
 * cached denials (RFC 8198) answer NODATA for the cluster name. So:
 *
 * - at the apex (its RRsets are readable): left to knotd when the apex has
 *   no record of the type;
 * - below the apex: left to knotd when the cluster has no node of that
 *   family (the zone then has no placeholder for it).
 *
 * Otherwise no valid denial exists; the caller answers NODATA with the
 * signed SOA only.
 *
 * \param at_apex           The cluster name is the zone apex.
 * \param apex_has_type     The zone's apex has records of the asked type.
 * \param family_has_nodes  The cluster has nodes of the asked family.
 */
bool tgc_sign_nodata_by_zone(bool at_apex, bool apex_has_type, bool family_has_nodes);
