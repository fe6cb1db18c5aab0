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

#include <string.h>

#include "module/policy.h"

/*! \brief 64-bit finaliser (splitmix64): a cheap, well-mixing hash step. */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/*! \brief Hashes bytes into 64 bits (FNV-1a followed by mix64). */
static uint64_t hash_bytes(const uint8_t *data, size_t len, uint64_t seed)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;
	for (size_t i = 0; i < len; i++) {
		h ^= data[i];
		h *= 0x100000001b3ULL;
	}
	return mix64(h);
}

void tgc_policy_state_init(tgc_policy_state_t *st, uint64_t seed)
{
	memset(st, 0, sizeof(*st));
	st->rr = seed;
	st->rng = mix64(seed + 0x9e3779b97f4a7c15ULL);
	if (st->rng == 0) {
		st->rng = 0x9e3779b97f4a7c15ULL;
	}
}

uint64_t tgc_policy_node_key(const tgc_addr_t *addr, uint16_t port)
{
	uint8_t buf[19];
	buf[0] = addr->family;
	memcpy(buf + 1, addr->bytes, 16);
	buf[17] = (uint8_t)(port >> 8);
	buf[18] = (uint8_t)port;
	return hash_bytes(buf, sizeof(buf), 0x6e6f6465ULL);
}

uint64_t tgc_policy_client_key(const tgc_addr_t *client, unsigned prefix)
{
	tgc_addr_t masked = *client;
	tgc_addr_mask(&masked, prefix);
	uint8_t buf[18];
	buf[0] = masked.family;
	buf[1] = (uint8_t)prefix;
	memcpy(buf + 2, masked.bytes, 16);
	return hash_bytes(buf, sizeof(buf), 0x636c6e74ULL);
}

/*! \brief xorshift64* step. */
static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/*! \brief Unbiased enough random number below \a n (n <= 2^32). */
static inline size_t rng_below(uint64_t *s, size_t n)
{
	return (size_t)(((rng_next(s) >> 32) * (uint64_t)n) >> 32);
}

/*! \brief Rotates \a cand left by \a k positions (k < count). */
static void rotate(uint32_t *cand, size_t count, size_t k)
{
	if (k == 0) {
		return;
	}
	/* Through a buffer for the shorter side (4 KiB: every rotation of up
	 * to 2048 nodes): three libc copies, which beat element-wise reversals
	 * by far on large candidate lists. */
	uint32_t tmp[1024];
	const size_t tmp_len = sizeof(tmp) / sizeof(tmp[0]);
	if (k <= tmp_len) {
		memcpy(tmp, cand, k * sizeof(*cand));
		memmove(cand, cand + k, (count - k) * sizeof(*cand));
		memcpy(cand + count - k, tmp, k * sizeof(*cand));
		return;
	}
	if (count - k <= tmp_len) {
		/* Left by k = right by count - k. */
		size_t m = count - k;
		memcpy(tmp, cand + k, m * sizeof(*cand));
		memmove(cand + m, cand, k * sizeof(*cand));
		memcpy(cand, tmp, m * sizeof(*cand));
		return;
	}
	/* Three reversals: in place for any size. */
	for (size_t a = 0, b = k - 1; a < b; a++, b--) {
		uint32_t t = cand[a]; cand[a] = cand[b]; cand[b] = t;
	}
	for (size_t a = k, b = count - 1; a < b; a++, b--) {
		uint32_t t = cand[a]; cand[a] = cand[b]; cand[b] = t;
	}
	for (size_t a = 0, b = count - 1; a < b; a++, b--) {
		uint32_t t = cand[a]; cand[a] = cand[b]; cand[b] = t;
	}
}

/*!
 * \brief Rendezvous (highest random weight) ordering: the \a want best-scoring
 *        nodes first, best first. Removing a node only moves the clients for
 *        which it scored best.
 */
static void sticky_order(uint32_t *cand, size_t count, size_t want,
                         uint64_t client, const uint64_t *node_keys)
{
	/* Partial selection sort: want is small (answers), count is the number
	 * of live nodes; O(want * count) without allocation. */
	for (size_t i = 0; i < want; i++) {
		size_t best = i;
		uint64_t best_score = mix64(node_keys[cand[i]] ^ client);
		for (size_t j = i + 1; j < count; j++) {
			uint64_t score = mix64(node_keys[cand[j]] ^ client);
			if (score > best_score ||
			    (score == best_score && cand[j] < cand[best])) {
				best = j;
				best_score = score;
			}
		}
		uint32_t t = cand[i]; cand[i] = cand[best]; cand[best] = t;
	}
}

size_t tgc_policy_order(tgc_policy_t policy, uint32_t *cand, size_t count,
                        size_t limit, tgc_policy_state_t *st, uint64_t client,
                        const uint64_t *node_keys)
{
	if (count == 0) {
		return 0;
	}
	size_t want = (limit == 0 || limit > count) ? count : limit;

	switch (policy) {
	case TGC_POLICY_ROUND_ROBIN:
		rotate(cand, count, (size_t)(st->rr++ % count));
		break;
	case TGC_POLICY_RANDOM:
		/* Partial Fisher-Yates: the first 'want' entries are a uniform
		 * random ordered sample. */
		for (size_t i = 0; i < want && i + 1 < count; i++) {
			size_t j = i + rng_below(&st->rng, count - i);
			uint32_t t = cand[i]; cand[i] = cand[j]; cand[j] = t;
		}
		break;
	case TGC_POLICY_STICKY:
		sticky_order(cand, count, want, client, node_keys);
		break;
	case TGC_POLICY_ORDERED:
	default:
		break;
	}

	return want;
}

/*! \brief Marks the representative of \a idx; false if it was marked already. */
static inline bool first_of_address(uint32_t idx, const uint32_t *rep,
                                    uint64_t *seen)
{
	uint32_t r = rep[idx];
	uint64_t bit = 1ULL << (r % 64);
	if (seen[r / 64] & bit) {
		return false;
	}
	seen[r / 64] |= bit;
	return true;
}

/*! \brief Keeps the first candidate of each address, in order, up to \a want. */
static size_t keep_unique(uint32_t *cand, size_t count, size_t want,
                          const uint32_t *rep, uint64_t *seen)
{
	size_t out = 0;
	for (size_t i = 0; i < count && out < want; i++) {
		if (first_of_address(cand[i], rep, seen)) {
			cand[out++] = cand[i];
		}
	}

	return out;
}

size_t tgc_policy_order_unique(tgc_policy_t policy, uint32_t *cand, size_t count,
                               size_t limit, tgc_policy_state_t *st,
                               uint64_t client, const uint64_t *node_keys,
                               const uint32_t *rep, uint64_t *seen)
{
	if (rep == NULL || count == 0) {
		return tgc_policy_order(policy, cand, count, limit, st, client,
		                        node_keys);
	}
	size_t want = (limit == 0 || limit > count) ? count : limit;
	size_t out = 0;

	switch (policy) {
	case TGC_POLICY_ROUND_ROBIN:
		rotate(cand, count, (size_t)(st->rr++ % count));
		return keep_unique(cand, count, want, rep, seen);
	case TGC_POLICY_RANDOM:
		/* Partial Fisher-Yates as in tgc_policy_order(); a pick whose
		 * address is answered already is replaced by the last of the
		 * remaining candidates and the draw is repeated, so the kept
		 * ones are a uniform random ordered sample of the addresses'
		 * first picks, as a full shuffle followed by dropping the
		 * repeats would give. */
		while (out < want && out < count) {
			size_t j = out + rng_below(&st->rng, count - out);
			uint32_t t = cand[out]; cand[out] = cand[j]; cand[j] = t;
			if (first_of_address(cand[out], rep, seen)) {
				out++;
			} else {
				cand[out] = cand[--count];
			}
		}
		return out;
	case TGC_POLICY_STICKY:
		/* Best-scoring first, as sticky_order(); a node whose address
		 * a better-scoring node answers already is dropped. */
		while (out < want && out < count) {
			sticky_order(cand + out, count - out, 1, client, node_keys);
			if (first_of_address(cand[out], rep, seen)) {
				out++;
			} else {
				cand[out] = cand[--count];
			}
		}
		return out;
	case TGC_POLICY_ORDERED:
	default:
		return keep_unique(cand, count, want, rep, seen);
	}
}
