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
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "module/ctl/format.h"
#include "module/probe_agent.h"

/*!
 * \brief Dump flags: one line, keys in insertion order, every non-ASCII
 *        character as \\uNNNN (so no raw C1, bidi or invisible character
 *        reaches a terminal), numbers with a fraction to 10 significant
 *        digits.
 */
#define DUMP_FLAGS	(JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER | \
			 JSON_REAL_PRECISION(10))

/*!
 * \brief json_dump_callback() sink appending to a tgc_ctl_buf_t.
 *
 * The text is ASCII (JSON_ENSURE_ASCII), and DEL, the one ASCII control
 * character JSON lets through raw, can only stand inside a string: it is
 * written as \\u007f.
 */
static int dump_to_buf(const char *text, size_t len, void *data)
{
	tgc_ctl_buf_t *buf = data;
	const char *end = text + len;
	while (text < end) {
		const char *del = memchr(text, 0x7f, (size_t)(end - text));
		size_t run = (del != NULL) ? (size_t)(del - text) : (size_t)(end - text);
		tgc_ctl_buf_put(buf, text, run);
		if (del != NULL) {
			tgc_ctl_buf_put(buf, "\\u007f", 6);
			run++;
		}
		text += run;
	}

	return buf->failed ? -1 : 0;
}

/*! \brief Appends \a val (any JSON value) and releases it; a value that
 *         could not be built (NULL, or \a failed) fails the buffer. */
static void dump(tgc_ctl_buf_t *out, json_t *val, bool failed)
{
	if (failed || val == NULL ||
	    json_dump_callback(val, dump_to_buf, out, DUMP_FLAGS | JSON_ENCODE_ANY) != 0) {
		out->failed = true;
	}
	json_decref(val);
}

/*!
 * \brief A JSON string of untrusted text: each byte that is not part of
 *        valid UTF-8 becomes U+FFFD (jansson takes valid UTF-8 only).
 *
 * \return The string, null for NULL text, NULL if out of memory.
 */
static json_t *text_new(const char *str)
{
	if (str == NULL) {
		return json_null();
	}
	/* Valid UTF-8, the usual case, goes as it is. */
	const char *p = str;
	uint32_t cp;
	size_t len;
	while (*p != '\0' && (len = tgc_ctl_utf8_len(p, &cp)) > 0) {
		p += len;
	}
	if (*p == '\0') {
		return json_string(str);
	}
	tgc_ctl_buf_t clean;
	tgc_ctl_buf_init(&clean);
	while (*str != '\0') {
		len = tgc_ctl_utf8_len(str, &cp);
		if (len == 0) {
			tgc_ctl_buf_put(&clean, "\xef\xbf\xbd", 3);
			str++;
		} else {
			tgc_ctl_buf_put(&clean, str, len);
			str += len;
		}
	}
	json_t *val = clean.failed ? NULL :
	              json_stringn(tgc_ctl_buf_str(&clean), clean.len);
	tgc_ctl_buf_free(&clean);

	return val;
}

/*!
 * \brief A JSON integer, or null when \a valid is false.
 *
 * JSON integers are signed 64-bit in jansson: a value above INT64_MAX (only
 * a corrupt counter gets there) is written as INT64_MAX.
 */
static json_t *u64_new(bool valid, uint64_t val)
{
	if (!valid) {
		return json_null();
	}

	return json_integer((json_int_t)((val > INT64_MAX) ? INT64_MAX : val));
}

/*! \brief Sets \a key of \a obj to \a val (stolen); a failure (\a obj or
 *         \a val NULL, out of memory) sets \a *failed. */
static void set(json_t *obj, const char *key, json_t *val, bool *failed)
{
	if (json_object_set_new(obj, key, val) != 0) {
		*failed = true;
	}
}

/*! \brief Appends \a val (stolen) to \a arr; a failure sets \a *failed. */
static void append(json_t *arr, json_t *val, bool *failed)
{
	if (json_array_append_new(arr, val) != 0) {
		*failed = true;
	}
}

void tgc_ctl_buf_json_str(tgc_ctl_buf_t *buf, const char *str)
{
	dump(buf, text_new(str), false);
}

/*! \brief The translator cache (null for a load balancer). */
static json_t *cache_new(const tgc_ctl_status_t *st, bool *failed)
{
	if (!st->has_cache) {
		return json_null();
	}
	json_t *cache = json_object(), *recs = json_array();
	set(cache, "stale_limit_s", json_integer(st->stale_limit_s), failed);
	for (unsigned i = 0; i < TGC_CACHE_RECS; i++) {
		const tgc_cache_snap_t *c = &st->cache[i];
		int64_t age = tgc_ctl_age(st, c->fetched_ms);
		json_t *rec = json_object(), *addrs = json_array();
		set(rec, "type", json_string(tgc_ctl_cache_type_str(i)), failed);
		set(rec, "valid", json_boolean(c->valid), failed);
		set(rec, "last_poll_ok", json_boolean(c->ok), failed);
		set(rec, "rcode", !c->valid ? json_null() :
		    json_string((c->rcode == 0) ? "NOERROR" : "NXDOMAIN"), failed);
		set(rec, "ttl", u64_new(c->valid, c->ttl), failed);
		set(rec, "upstream", u64_new(c->valid, c->upstream), failed);
		set(rec, "fetched_ms", u64_new(c->fetched_ms != 0, c->fetched_ms), failed);
		set(rec, "age_ms", u64_new(c->valid && age >= 0, (uint64_t)age), failed);
		set(rec, "polled_ms", u64_new(c->polled_ms != 0, c->polled_ms), failed);
		set(rec, "refreshes", u64_new(true, c->refreshes), failed);
		set(rec, "failures", u64_new(true, c->failures), failed);
		for (unsigned j = 0; c->valid && j < c->count && j < TGC_CACHE_ADDRS_MAX; j++) {
			char addr[TGC_ADDR_STRLEN];
			append(addrs, json_string(tgc_addr_format(&c->addrs[j], addr,
			                                          sizeof(addr))), failed);
		}
		set(rec, "addresses", addrs, failed);
		/* The load report of the upstream, per address (null: none). */
		json_t *loads = (c->valid && c->reported) ? json_array() : json_null();
		for (unsigned j = 0; json_is_array(loads) && j < c->count &&
		                     j < TGC_CACHE_ADDRS_MAX; j++) {
			json_t *l = json_object();
			set(l, "sessions", u64_new(true, c->sessions[j]), failed);
			set(l, "capacity", json_real(c->capacity_x100[j] / 100.0), failed);
			append(loads, l, failed);
		}
		set(rec, "load", loads, failed);
		append(recs, rec, failed);
	}
	set(cache, "records", recs, failed);

	return cache;
}

/*! \brief What a node's agent reports (null when no agent is polled). */
static json_t *agent_new(const tgc_node_snap_t *n, bool *failed)
{
	if ((n->agent_flags & TGC_AGENT_F_POLLED) == 0) {
		return json_null();
	}
	json_t *agent = json_object();
	set(agent, "answered", json_boolean(n->agent_flags & TGC_AGENT_F_ANSWERED),
	    failed);
	set(agent, "down", json_boolean(n->agent_state & TGC_AGENT_DOWN), failed);
	set(agent, "drain", json_boolean(n->agent_state & TGC_AGENT_DRAIN), failed);
	set(agent, "maint", json_boolean(n->agent_state & TGC_AGENT_MAINT), failed);
	set(agent, "sessions", u64_new(n->agent_flags & TGC_AGENT_F_SESSIONS,
	                               n->agent_sessions), failed);
	set(agent, "maxconn", u64_new(n->agent_flags & TGC_AGENT_F_MAXCONN,
	                              n->agent_maxconn), failed);
	set(agent, "weight_pct", u64_new(n->agent_flags & TGC_AGENT_F_PCT,
	                                 n->agent_pct), failed);
	set(agent, "errors", u64_new(true, n->agent_errors), failed);

	return agent;
}

/*! \brief Node \a i of a snapshot. */
static json_t *node_new(const tgc_ctl_status_t *st, uint32_t i, bool *failed)
{
	const tgc_node_snap_t *n = &st->nodes[i];
	char addr[TGC_ADDR_STRLEN];
	int64_t age = tgc_ctl_in_state(st, i);
	bool zone = (n->admin_zone != TGC_ADMIN_AUTO);
	bool probed = (n->last_probe != TGC_PROBE_NONE &&
	               n->last_probe != TGC_PROBE_DISABLED);

	json_t *node = json_object();
	set(node, "index", json_integer(i), failed);
	set(node, "address", json_string(tgc_addr_format(&n->addr, addr,
	                                                 sizeof(addr))), failed);
	set(node, "port", json_integer(n->port), failed);
	set(node, "mapped", (n->mapped.family == 0) ? json_null() :
	    json_string(tgc_addr_format(&n->mapped, addr, sizeof(addr))), failed);
	set(node, "tier", json_string(n->tier ? "backup" : "primary"), failed);
	set(node, "health", json_string(tgc_table_health_str(n->health)), failed);
	set(node, "admin", json_string(tgc_table_admin_str(n->admin)), failed);
	set(node, "admin_source", json_string(tgc_ctl_admin_src_str(n->admin_src)),
	    failed);
	set(node, "admin_local", json_string(tgc_table_admin_str(n->admin_local)),
	    failed);
	set(node, "admin_local_uid", u64_new(n->admin_local != TGC_ADMIN_AUTO,
	                                     n->admin_uid), failed);
	set(node, "admin_zone", json_string(tgc_table_admin_str(n->admin_zone)),
	    failed);
	set(node, "zone_serial", u64_new(zone, n->zone_serial), failed);
	set(node, "reason", text_new(zone ? n->zone_reason : NULL), failed);
	set(node, "admin_guarded", json_boolean(n->admin_flags & TGC_ADMIN_F_GUARDED),
	    failed);
	set(node, "admin_since_ms", u64_new(n->admin_since_ms != 0,
	                                    n->admin_since_ms), failed);
	set(node, "since_ms", u64_new(n->since_ms != 0, n->since_ms), failed);
	set(node, "in_state_ms", u64_new(age >= 0, (uint64_t)age), failed);
	set(node, "last_probe", json_string(tgc_table_probe_str(n->last_probe)),
	    failed);
	set(node, "last_check_ms", u64_new(n->last_check_ms != 0, n->last_check_ms),
	    failed);
	set(node, "last_rtt_us", u64_new(probed, n->last_rtt_us), failed);
	set(node, "consec_ok", json_integer(n->consec_ok), failed);
	set(node, "consec_fail", json_integer(n->consec_fail), failed);
	set(node, "probes", u64_new(true, n->probes), failed);
	set(node, "transitions", u64_new(true, n->transitions), failed);
	set(node, "answers", u64_new(true, n->answers), failed);
	set(node, "agent", agent_new(n, failed), failed);
	double cap, load_pct;
	bool has_cap = tgc_ctl_node_load(n, &cap, &load_pct);
	set(node, "weight", u64_new(has_cap, n->weight), failed);
	set(node, "capacity", has_cap ? json_real(cap) : json_null(), failed);
	/* Load in percent with two decimals. */
	set(node, "load_pct", (has_cap && load_pct >= 0) ?
	    json_real(round(load_pct * 100.0) / 100.0) : json_null(), failed);

	return node;
}

void tgc_ctl_render_json(tgc_ctl_buf_t *out, const tgc_ctl_status_t *st)
{
	int64_t hb_age = tgc_ctl_heartbeat_age(st);
	bool failed = false;

	json_t *doc = json_object(), *check = json_object(), *nodes = json_array();
	set(doc, "version", json_integer(TGC_CTL_JSON_VERSION), &failed);
	set(doc, "segment", text_new(st->segment), &failed);
	set(doc, "zone", text_new(st->zone), &failed);
	set(doc, "name", text_new(st->name), &failed);
	set(doc, "role", json_string(tgc_ctl_role_str(st->role)), &failed);
	set(check, "kind", json_string(tgc_ctl_check_str(st->check)), &failed);
	set(check, "interval_ms", json_integer(st->interval_ms), &failed);
	set(check, "timeout_ms", json_integer(st->timeout_ms), &failed);
	set(check, "rise", json_integer(st->rise), &failed);
	set(check, "fall", json_integer(st->fall), &failed);
	set(doc, "check", check, &failed);
	set(doc, "writer_pid", u64_new(st->writer_pid != 0, st->writer_pid), &failed);
	set(doc, "created_ms", u64_new(true, st->created_ms), &failed);
	set(doc, "now_ms", u64_new(true, st->now_ms), &failed);
	set(doc, "generation", u64_new(true, st->generation), &failed);
	set(doc, "heartbeat_ms", u64_new(st->heartbeat_ms != 0, st->heartbeat_ms),
	    &failed);
	set(doc, "heartbeat_age_ms", u64_new(hb_age >= 0, (uint64_t)hb_age), &failed);
	set(doc, "heartbeat_stale", json_boolean(tgc_ctl_heartbeat_stale(st)), &failed);
	set(doc, "all_down_answers", u64_new(true, st->all_down_answers), &failed);
	set(doc, "min_live", json_integer(st->min_live), &failed);
	set(doc, "zone_serial", u64_new(st->zone_serial != 0, st->zone_serial),
	    &failed);
	set(doc, "zone_malformed", json_integer(st->zone_malformed), &failed);
	set(doc, "admin_guarded", json_integer(st->admin_guarded), &failed);
	for (uint32_t i = 0; i < st->node_count; i++) {
		append(nodes, node_new(st, i, &failed), &failed);
	}
	set(doc, "nodes", nodes, &failed);
	set(doc, "cache", cache_new(st, &failed), &failed);

	dump(out, doc, failed);
	tgc_ctl_buf_put(out, "\n", 1);
}

void tgc_ctl_render_list_json(tgc_ctl_buf_t *out,
                              const tgc_ctl_list_entry_t *entries, size_t count)
{
	bool failed = false;
	json_t *doc = json_object(), *segs = json_array();
	set(doc, "version", json_integer(TGC_CTL_JSON_VERSION), &failed);
	for (size_t i = 0; i < count; i++) {
		const tgc_ctl_list_entry_t *e = &entries[i];
		const tgc_ctl_status_t *st = e->st;
		int64_t age = (st != NULL) ? tgc_ctl_heartbeat_age(st) : -1;
		json_t *seg = json_object();
		set(seg, "segment", text_new(e->segment), &failed);
		set(seg, "zone", text_new((st != NULL) ? st->zone : NULL), &failed);
		set(seg, "name", text_new((st != NULL) ? st->name : NULL), &failed);
		set(seg, "role", (st == NULL) ? json_null() :
		    json_string(tgc_ctl_role_str(st->role)), &failed);
		set(seg, "node_count", u64_new(st != NULL, (st != NULL) ?
		                               st->node_count : 0), &failed);
		set(seg, "writer_pid", u64_new(st != NULL && st->writer_pid != 0,
		                               (st != NULL) ? st->writer_pid : 0), &failed);
		set(seg, "writer_alive", (st == NULL) ? json_null() :
		    json_boolean(!e->writer_gone), &failed);
		set(seg, "heartbeat_age_ms", u64_new(age >= 0, (uint64_t)age), &failed);
		set(seg, "heartbeat_stale", (st == NULL) ? json_null() :
		    json_boolean(tgc_ctl_heartbeat_stale(st)), &failed);
		set(seg, "error", text_new((st == NULL) ? e->error : NULL), &failed);
		append(segs, seg, &failed);
	}
	set(doc, "segments", segs, &failed);

	dump(out, doc, failed);
	tgc_ctl_buf_put(out, "\n", 1);
}
