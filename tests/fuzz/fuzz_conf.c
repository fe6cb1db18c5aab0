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
 * \brief libFuzzer harness: every configuration value parser, and the
 *        operator arguments tgclusterctl parses.
 *
 * The input is one value (text, any bytes). It is given to each parser:
 * tgc_addr_parse, tgc_addr_parse_prefix, tgc_conf_node_parse,
 * tgc_steer_weight_parse (`node-weight`),
 * tgc_natmap_rule_parse, tgc_table_name_check, and,
 * split at newlines into a list, tgc_conf_nodes_parse (the multi-valued
 * `node` item) and the nat-map rule set checks. Every accepted value is
 * checked for consistency (formatted values parse back to the same address,
 * prefixes within the family, normalised segment names well-formed) and
 * used the way load uses it (nat-base arithmetic, rule application, client
 * ranges). The CLI's node selector (tgc_ctl_node_find) and its output
 * escaping (JSON, terminal) get the same text.
 */

#include <netinet/in.h>

#include "fuzz_util.h"
#include "module/addr.h"
#include "module/conf.h"
#include "module/ctl/format.h"
#include "module/natmap.h"
#include "module/steer.h"
#include "module/table.h"

/*! \brief A parsed address formats to text that parses to the same value. */
static void addr_roundtrip(const tgc_addr_t *a)
{
	char buf[TGC_ADDR_STRLEN];
	tgc_addr_format(a, buf, sizeof(buf));
	tgc_addr_t back;
	FUZZ_ASSERT(tgc_addr_parse(buf, &back) == KNOT_EOK);
	FUZZ_ASSERT(tgc_addr_equal(a, &back));
	FUZZ_ASSERT(a->len == (a->family == AF_INET ? 4 : 16));
}

static void one_value(const char *s)
{
	tgc_addr_t a;
	if (tgc_addr_parse(s, &a) == KNOT_EOK) {
		addr_roundtrip(&a);
		/* nat-base arithmetic: base + i for up to NODES_MAX nodes. */
		tgc_addr_t nodes[3] = { a, a, a };
		const char *err = NULL;
		int ret = tgc_natmap_base_check(&a, nodes, 3, &err);
		FUZZ_ASSERT(ret == KNOT_EOK || ret == KNOT_ERANGE);
		/* What the check accepts, load answers: only usable addresses. */
		tgc_addr_t mapped[3];
		size_t bad = 0;
		ret = tgc_natmap_nodes(&a, NULL, 0, nodes, 3, mapped, NULL, &bad, &err);
		FUZZ_ASSERT(ret == KNOT_EOK || ret == KNOT_ERANGE ||
		            ret == KNOT_EADDRNOTAVAIL);
		for (size_t i = 0; ret == KNOT_EOK && i < 3; i++) {
			FUZZ_ASSERT(tgc_addr_usable(&mapped[i]));
		}
		FUZZ_ASSERT(ret != KNOT_EADDRNOTAVAIL ||
		            (bad < 3 && !tgc_addr_usable(&mapped[bad])));
		tgc_addr_t sum;
		if (tgc_addr_add(&a, TGC_TABLE_NODES_MAX - 1, &sum) == KNOT_EOK) {
			FUZZ_ASSERT(sum.family == a.family);
		}
		struct sockaddr_storage ss;
		tgc_addr_to_sockaddr(&a, 53, &ss);
		tgc_addr_t back;
		FUZZ_ASSERT(tgc_addr_from_sockaddr(&ss, &back) == KNOT_EOK);
		FUZZ_ASSERT(tgc_addr_equal(&a, &back));
	}

	unsigned prefix = 999;
	if (tgc_addr_parse_prefix(s, &a, &prefix) == KNOT_EOK) {
		addr_roundtrip(&a);
		FUZZ_ASSERT(prefix <= a.len * 8u);
		tgc_addr_t m = a;
		tgc_addr_mask(&m, prefix);
		FUZZ_ASSERT(tgc_addr_in_prefix(&a, &m, prefix));
	}

	tgc_node_conf_t node;
	const char *err = NULL;
	if (tgc_conf_node_parse(s, &node, &err) == KNOT_EOK) {
		addr_roundtrip(&node.addr);
		FUZZ_ASSERT(strchr(s, '@') == NULL || node.port > 0);
	} else {
		FUZZ_ASSERT(err != NULL);
	}

	tgc_addr_t waddr;
	uint16_t wport = 0;
	uint32_t weight = 0;
	err = NULL;
	if (tgc_steer_weight_parse(s, &waddr, &wport, &weight, &err) == KNOT_EOK) {
		addr_roundtrip(&waddr);
		FUZZ_ASSERT(weight <= TGC_STEER_WEIGHT_MAX);
		FUZZ_ASSERT(strchr(s, '=') != NULL);
	} else {
		FUZZ_ASSERT(err != NULL);
	}

	tgc_natmap_rule_t rule;
	err = NULL;
	if (tgc_natmap_rule_parse(s, &rule, &err) == KNOT_EOK) {
		FUZZ_ASSERT(rule.from.family == rule.to.family);
		FUZZ_ASSERT(rule.prefix <= rule.from.len * 8u);
		/* The network itself maps into TO's network. */
		tgc_addr_t out;
		FUZZ_ASSERT(tgc_natmap_apply(&rule, 1, &rule.from, &out));
		FUZZ_ASSERT(tgc_addr_in_prefix(&out, &rule.to, rule.prefix));
		FUZZ_ASSERT(out.family == rule.to.family);
	} else {
		FUZZ_ASSERT(err != NULL);
	}

	char name[TGC_TABLE_NAME_MAX + 1];
	if (tgc_table_name_check(s, NULL, 0) == KNOT_EOK) {
		FUZZ_ASSERT(tgc_table_name_check(s, name, sizeof(name)) == KNOT_EOK);
		FUZZ_ASSERT(name[0] == '/');
		FUZZ_ASSERT(strncmp(name + 1, TGC_TABLE_PREFIX, strlen(TGC_TABLE_PREFIX)) == 0);
		FUZZ_ASSERT(strchr(name + 1, '/') == NULL);
		FUZZ_ASSERT(strlen(name) <= TGC_TABLE_NAME_MAX);
		FUZZ_ASSERT(strcmp(name + 1, ".") != 0 && strcmp(name + 1, "..") != 0);
	}
}

/*! \brief Asserts that CLI output is valid UTF-8 with no raw control, C1,
 *         bidi or invisible formatting character. */
static void terminal_clean(const char *str)
{
	const unsigned char *p = (const unsigned char *)str;
	while (*p != '\0') {
		uint32_t cp;
		int len = (*p < 0x80) ? 1 : ((*p & 0xe0) == 0xc0) ? 2 :
		          ((*p & 0xf0) == 0xe0) ? 3 : ((*p & 0xf8) == 0xf0) ? 4 : 0;
		FUZZ_ASSERT(len > 0);
		cp = (len == 1) ? *p : (*p & (0x7f >> len));
		for (int i = 1; i < len; i++) {
			FUZZ_ASSERT((p[i] & 0xc0) == 0x80);
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		FUZZ_ASSERT(cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff));
		/* U+009B is a CSI in some terminals; U+202E reverses text. */
		FUZZ_ASSERT(!tgc_ctl_cp_unsafe(cp));
		p += len;
	}
}

/*! \brief The CLI's node selector over a small node list. */
static void ctl_args(const char *s)
{
	static tgc_node_snap_t nodes[4];
	static bool init;
	if (!init) {
		init = true;
		FUZZ_ASSERT(tgc_addr_parse("10.0.0.1", &nodes[0].addr) == KNOT_EOK);
		FUZZ_ASSERT(tgc_addr_parse("10.0.0.1", &nodes[1].addr) == KNOT_EOK);
		FUZZ_ASSERT(tgc_addr_parse("fd00::2", &nodes[2].addr) == KNOT_EOK);
		FUZZ_ASSERT(tgc_addr_parse("10.0.0.3", &nodes[3].addr) == KNOT_EOK);
		FUZZ_ASSERT(tgc_addr_parse("192.168.1.3", &nodes[3].mapped) == KNOT_EOK);
		nodes[0].port = 5900;
		nodes[1].port = 5901;
		nodes[2].port = 5900;
		nodes[3].port = 5900;
	}
	uint32_t found = UINT32_MAX;
	uint32_t cands[2];
	size_t ncands = 0;
	tgc_ctl_match_t m = tgc_ctl_node_find(nodes, 4, s, &found, cands, 2, &ncands);
	if (m == TGC_CTL_MATCH_ONE) {
		FUZZ_ASSERT(found < 4);
	}

	tgc_ctl_buf_t buf;
	tgc_ctl_buf_init(&buf);
	tgc_ctl_buf_json_str(&buf, s);
	const char *j = tgc_ctl_buf_str(&buf);
	FUZZ_ASSERT(j[0] == '"' && strlen(j) >= 2 && j[strlen(j) - 1] == '"');
	terminal_clean(j);
	tgc_ctl_buf_reset(&buf);
	tgc_ctl_buf_safe_str(&buf, s);
	terminal_clean(tgc_ctl_buf_str(&buf));
	tgc_ctl_buf_free(&buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096) {
		return 0;
	}
	char *s = fuzz_strndup(data, size);
	one_value(s);
	ctl_args(s);

	/* A list: one value per line (the multi-valued items). */
	const char *values[64];
	size_t count = 0;
	char *save = NULL;
	char *copy = fuzz_strndup(data, size);
	for (char *t = strtok_r(copy, "\n", &save); t != NULL && count < 64;
	     t = strtok_r(NULL, "\n", &save)) {
		values[count++] = t;
	}
	if (count > 0) {
		const char *err = NULL;
		size_t bad = SIZE_MAX;
		tgc_node_conf_t parsed[64];
		int ret = tgc_conf_nodes_parse(values, count, 5900, parsed, &err, &bad);
		if (ret != KNOT_EOK) {
			FUZZ_ASSERT(err != NULL && bad < count);
		} else {
			/* The same verdict without an output array. */
			FUZZ_ASSERT(tgc_conf_nodes_parse(values, count, 5900, NULL,
			                                 NULL, NULL) == KNOT_EOK);
			tgc_addr_t addrs[64];
			for (size_t i = 0; i < count; i++) {
				addrs[i] = parsed[i].addr;
			}
			(void)tgc_natmap_base_check(&addrs[0], addrs, count, &err);
		}
		tgc_natmap_rule_t rules[64];
		size_t nrules = 0;
		for (size_t i = 0; i < count; i++) {
			if (tgc_natmap_rule_parse(values[i], &rules[nrules], NULL) == KNOT_EOK) {
				nrules++;
			}
		}
		size_t rbad = SIZE_MAX;
		if (tgc_natmap_rules_check(rules, nrules, &err, &rbad) != KNOT_EOK) {
			FUZZ_ASSERT(rbad < nrules);
		}
		for (size_t i = 0; i < nrules; i++) {
			tgc_addr_t out;
			if (tgc_natmap_apply(rules, nrules, &rules[i].from, &out)) {
				FUZZ_ASSERT(out.family == rules[i].from.family);
			}
		}
	}
	free(copy);
	free(s);
	return 0;
}
