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

#include "module/load.h"

/*! \brief Share a node gets at the start of its slow start. */
#define SLOW_START_FLOOR	(1.0 / 64.0)

double tgc_load_capacity(const tgc_load_cap_t *cap)
{
	double c = (double)cap->weight;
	if (cap->has_pct) {
		c *= (double)cap->pct / 100.0;
	}
	if (cap->has_maxconn) {
		c *= (double)cap->maxconn;
	}
	return c;
}

uint32_t tgc_load_x100(double capacity)
{
	double c = capacity * 100.0 + 0.5;
	return (c >= (double)UINT32_MAX) ? UINT32_MAX : (uint32_t)c;
}

uint32_t tgc_load_capacity_x100(const tgc_load_cap_t *cap)
{
	return tgc_load_x100(tgc_load_capacity(cap));
}

double tgc_load_grants_at(const tgc_load_grants_t *g, uint64_t now_ms,
                          uint32_t window_ms)
{
	if (g->value <= 0.0) {
		return 0.0;
	}
	if (now_ms <= g->at_ms) {
		return g->value;
	}
	if (window_ms == 0) {
		return 0.0;
	}
	return g->value * exp(-(double)(now_ms - g->at_ms) / (double)window_ms);
}

void tgc_load_grant(tgc_load_grants_t *g, uint64_t now_ms, uint32_t window_ms,
                    double n)
{
	double v = tgc_load_grants_at(g, now_ms, window_ms);
	g->value = v + n;
	if (now_ms > g->at_ms) {
		g->at_ms = now_ms;
	}
}

double tgc_load_score(uint32_t sessions, double grants, double capacity)
{
	if (!(capacity > 0.0)) {
		return HUGE_VAL;
	}
	return ((double)sessions + grants) / capacity;
}

/*! \brief Reverses a[from..to). */
static void reverse(uint32_t *a, size_t from, size_t to)
{
	while (to > from + 1) {
		uint32_t t = a[from];
		a[from++] = a[--to];
		a[to] = t;
	}
}

void tgc_load_order(uint32_t *cand, size_t count, const double *score,
                    uint64_t rotor)
{
	if (count < 2) {
		return;
	}
	/* Insertion sort by (score, index) (answers hold few candidates),
	 * then each run of equal scores rotated by the rotor, so that equal
	 * nodes take turns in leading. */
	for (size_t i = 1; i < count; i++) {
		uint32_t x = cand[i];
		size_t j = i;
		while (j > 0 && (score[cand[j - 1]] > score[x] ||
		                 (score[cand[j - 1]] == score[x] &&
		                  cand[j - 1] > x))) {
			cand[j] = cand[j - 1];
			j--;
		}
		cand[j] = x;
	}
	for (size_t i = 0; i < count; ) {
		size_t end = i + 1;
		while (end < count && score[cand[end]] == score[cand[i]]) {
			end++;
		}
		size_t k = end - i;
		size_t shift = (size_t)(rotor % k);
		if (shift > 0) {
			/* Rotate left by shift: three reversals. */
			reverse(cand, i, i + shift);
			reverse(cand, i + shift, end);
			reverse(cand, i, end);
		}
		i = end;
	}
}

bool tgc_load_over(bool over, double load_pct, uint32_t high, uint32_t low)
{
	if (high == 0) {
		return false;
	}
	if (low > high) {
		low = high;
	}
	if (over) {
		return load_pct >= (double)low;
	}
	return load_pct > (double)high;
}

double tgc_load_slow_start(uint64_t since_ms, uint64_t now_ms, uint32_t ramp_ms)
{
	if (ramp_ms == 0 || now_ms >= since_ms + ramp_ms) {
		return 1.0;
	}
	if (now_ms <= since_ms) {
		return SLOW_START_FLOOR;
	}
	double share = (double)(now_ms - since_ms) / (double)ramp_ms;
	return (share > SLOW_START_FLOOR) ? share : SLOW_START_FLOOR;
}
