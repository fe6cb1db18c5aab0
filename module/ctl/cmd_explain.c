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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#include <libknot/errcode.h>
#include <libknot/libknot.h>

#include "module/ctl/cli.h"

/*! \brief Most addresses one explain answer keeps. */
#define EXPLAIN_ADDRS	256

/*! \brief One answer of explain. */
typedef struct {
	int rcode;                         /*!< RCODE, -1 = no reply. */
	size_t count;                      /*!< Addresses. */
	tgc_addr_t addrs[EXPLAIN_ADDRS];   /*!< In answer order. */
	uint32_t ttl;                      /*!< TTL of the first record. */
} explain_answer_t;

/*!
 * \brief Sends one query for \a name / \a type with ECS \a client/\a prefix
 *        to \a server over UDP and collects the A/AAAA addresses answered.
 */
static void explain_query(const struct sockaddr_storage *server,
                          const knot_dname_t *name, uint16_t type,
                          const tgc_addr_t *client, unsigned prefix,
                          explain_answer_t *out)
{
	memset(out, 0, sizeof(*out));
	out->rcode = -1;
	knot_pkt_t *q = knot_pkt_new(NULL, 512, NULL);
	knot_rrset_t opt;
	if (q == NULL || knot_edns_init(&opt, 1232, 0, 0, NULL) != KNOT_EOK) {
		knot_pkt_free(q);
		return;
	}
	knot_wire_set_id(q->wire, (uint16_t)getpid());
	struct sockaddr_storage cs;
	tgc_addr_to_sockaddr(client, 0, &cs);
	knot_edns_client_subnet_t ecs = { 0 };
	uint8_t ecs_wire[32];
	int ret = knot_pkt_put_question(q, name, KNOT_CLASS_IN, type);
	if (ret == KNOT_EOK) {
		ret = knot_edns_client_subnet_set_addr(&ecs, &cs);
	}
	if (ret == KNOT_EOK) {
		ecs.source_len = (uint8_t)prefix;
		uint16_t size = knot_edns_client_subnet_size(&ecs);
		ret = knot_edns_client_subnet_write(ecs_wire, sizeof(ecs_wire), &ecs);
		if (ret == KNOT_EOK) {
			ret = knot_edns_add_option(&opt, KNOT_EDNS_OPTION_CLIENT_SUBNET,
			                           size, ecs_wire, NULL);
		}
	}
	if (ret == KNOT_EOK) {
		ret = knot_pkt_begin(q, KNOT_ADDITIONAL);
	}
	if (ret == KNOT_EOK) {
		ret = knot_pkt_put(q, KNOT_COMPR_HINT_NONE, &opt, 0);
	}
	int fd = (ret == KNOT_EOK) ? socket(server->ss_family, SOCK_DGRAM, 0) : -1;
	socklen_t slen = (server->ss_family == AF_INET) ? sizeof(struct sockaddr_in) :
	                                                  sizeof(struct sockaddr_in6);
	uint8_t buf[65535];
	ssize_t got = -1;
	if (fd >= 0 && sendto(fd, q->wire, q->size, 0, (const struct sockaddr *)server,
	                      slen) == (ssize_t)q->size) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, 2000) == 1) {
			got = recv(fd, buf, sizeof(buf), 0);
		}
	}
	if (fd >= 0) {
		close(fd);
	}
	knot_rrset_clear(&opt, NULL);
	knot_pkt_free(q);
	knot_pkt_t *r = (got > 0) ? knot_pkt_new(buf, (size_t)got, NULL) : NULL;
	if (r == NULL || knot_pkt_parse(r, 0) != KNOT_EOK) {
		knot_pkt_free(r);
		return;
	}
	out->rcode = knot_wire_get_rcode(r->wire);
	const knot_pktsection_t *ans = knot_pkt_section(r, KNOT_ANSWER);
	for (uint16_t i = 0; i < ans->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(ans, i);
		if (rr->type != type) {
			continue;
		}
		knot_rdata_t *rd = rr->rrs.rdata;
		for (uint16_t k = 0; k < rr->rrs.count && out->count < EXPLAIN_ADDRS;
		     k++, rd = knot_rdataset_next(rd)) {
			tgc_addr_t *a = &out->addrs[out->count++];
			memset(a, 0, sizeof(*a));
			a->family = (type == KNOT_RRTYPE_A) ? AF_INET : AF_INET6;
			a->len = (type == KNOT_RRTYPE_A) ? 4 : 16;
			memcpy(a->bytes, rd->data, (rd->len < a->len) ? rd->len : a->len);
			out->ttl = rr->ttl;
		}
	}
	knot_pkt_free(r);
}

/*! \brief Position (1-based) of \a a in \a ans, 0 if absent. */
static size_t explain_pos(const explain_answer_t *ans, const tgc_addr_t *a)
{
	for (size_t i = 0; i < ans->count; i++) {
		if (tgc_addr_equal(&ans->addrs[i], a)) {
			return i + 1;
		}
	}
	return 0;
}

/*! \brief Parses --server ADDRESS[@PORT] (NULL: 127.0.0.1@53). */
static bool parse_server(const char *arg, tgc_addr_t *addr, unsigned long *port)
{
	char txt[TGC_ADDR_STRLEN + 8];
	snprintf(txt, sizeof(txt), "%s", (arg != NULL) ? arg : "127.0.0.1");
	*port = 53;
	char *at = strchr(txt, '@');
	if (at != NULL) {
		*at = '\0';
		char *end = NULL;
		*port = strtoul(at + 1, &end, 10);
		if (end == at + 1 || *end != '\0' || *port == 0 || *port > 65535) {
			return false;
		}
	}

	return tgc_addr_parse(txt, addr) == KNOT_EOK;
}

/*! \brief Prints the answer of one type ("A" or "AAAA"); false if none. */
static bool print_answer(const char *type, const explain_answer_t *ans)
{
	char a[TGC_ADDR_STRLEN];
	printf("  %-4s ", type);
	if (ans->rcode < 0) {
		printf("no reply\n");
		return false;
	}
	const knot_lookup_t *rc = knot_lookup_by_id(knot_rcode_names, ans->rcode);
	printf("%s", rc ? rc->name : "?");
	for (size_t i = 0; i < ans->count; i++) {
		printf(" %s", tgc_addr_format(&ans->addrs[i], a, sizeof(a)));
	}
	if (ans->count > 0) {
		printf(" (ttl %u)", ans->ttl);
	}
	printf("\n");

	return true;
}

/*! \brief Prints node \a i: its state, and whether it is in the answer
 *         \a ans of its family (and where) or why it is out. */
static void print_node(const tgc_node_snap_t *n, uint32_t i,
                       const explain_answer_t *ans)
{
	char a[TGC_ADDR_STRLEN];
	size_t pos = explain_pos(ans, &n->addr), mpos = 0;
	if (pos == 0 && n->mapped.family != 0) {
		mpos = explain_pos(ans, &n->mapped);
	}
	char src[48], reason[TGC_CTL_SAFE_LEN(TGC_ADMIN_REASON_MAX)];
	tgc_ctl_admin_source(n, src, sizeof(src));
	printf("  node %u %s: health %s, admin %s (%s", i,
	       tgc_addr_format(&n->addr, a, sizeof(a)),
	       tgc_table_health_str(n->health), tgc_table_admin_str(n->admin), src);
	if (n->admin_zone != TGC_ADMIN_AUTO && n->zone_reason[0] != '\0') {
		printf(", reason '%s'", tgc_ctl_safe_copy(n->zone_reason, reason,
		                                           sizeof(reason)));
	}
	printf("): ");
	if (pos > 0) {
		printf("IN at position %zu, unmapped\n", pos);
	} else if (mpos > 0) {
		printf("IN at position %zu, as %s (NAT mapping)\n", mpos,
		       tgc_addr_format(&n->mapped, a, sizeof(a)));
	} else if (n->admin == TGC_ADMIN_DOWN) {
		printf("OUT: admin down\n");
	} else if (n->admin == TGC_ADMIN_DRAIN) {
		printf("OUT: drained (answered only when no other node is live)\n");
	} else if (n->admin != TGC_ADMIN_UP && n->health == TGC_HEALTH_DOWN) {
		printf("OUT: health down (last probe %s)\n",
		       tgc_table_probe_str(n->last_probe));
	} else {
		printf("OUT: live but not picked (answers limit or policy)\n");
	}
}

int ctl_cmd_explain(const args_t *args)
{
	const char *client_arg = args->pos[args->npos - 1];
	tgc_addr_t client;
	if (tgc_addr_parse(client_arg, &client) != KNOT_EOK) {
		ctl_errorf("invalid CLIENT-IP '%s'", client_arg);
		return TGC_CTL_EXIT_USAGE;
	}
	unsigned prefix = (args->ecs >= 0) ? (unsigned)args->ecs : client.len * 8u;
	if (prefix > client.len * 8u) {
		ctl_errorf("--ecs %u is longer than the address", prefix);
		return TGC_CTL_EXIT_USAGE;
	}
	tgc_addr_t srv_addr;
	unsigned long srv_port;
	if (!parse_server(args->server, &srv_addr, &srv_port)) {
		ctl_errorf("invalid --server '%s' (ADDRESS[@PORT])", args->server);
		return TGC_CTL_EXIT_USAGE;
	}
	struct sockaddr_storage server;
	tgc_addr_to_sockaddr(&srv_addr, (uint16_t)srv_port, &server);

	ctl_snap_t snap;
	int ret = ctl_snap_resolve(&snap, (args->npos == 2) ? args->pos[0] : NULL,
	                           false);
	if (ret >= 0) {
		return ret;
	}
	const tgc_ctl_status_t *st = &snap.st;
	knot_dname_t *name = knot_dname_from_str_alloc(st->name);
	explain_answer_t *ans = NULL;
	if (name == NULL || st->role != TGC_ROLE_LB) {
		ctl_errorf("%s", (name == NULL) ? "bad cluster name in the segment" :
		           "explain applies to load balancers");
		ret = TGC_CTL_EXIT_FAIL;
	} else if ((ans = calloc(2, sizeof(*ans))) == NULL) {
		ctl_errorf("out of memory");
		ret = TGC_CTL_EXIT_FAIL;
	}
	if (ret >= 0) {
		free(name);
		ctl_snap_close(&snap);
		return ret;
	}
	explain_query(&server, name, KNOT_RRTYPE_A, &client, prefix, &ans[0]);
	explain_query(&server, name, KNOT_RRTYPE_AAAA, &client, prefix, &ans[1]);
	free(name);

	char cl[TGC_ADDR_STRLEN], sv[TGC_ADDR_STRLEN];
	safe_buf_t nm;
	SAFE(st->name, nm);
	printf("%s for client %s/%u (ECS) from knotd at %s@%lu\n", nm,
	       tgc_addr_format(&client, cl, sizeof(cl)), prefix,
	       tgc_addr_format(&srv_addr, sv, sizeof(sv)), srv_port);
	bool replied = print_answer("A", &ans[0]);
	replied = print_answer("AAAA", &ans[1]) && replied;
	printf("min-live %u; answer order is the policy's (round-robin and random "
	       "change per query)\n", st->min_live);
	for (uint32_t i = 0; i < st->node_count; i++) {
		const tgc_node_snap_t *n = &st->nodes[i];
		print_node(n, i, &ans[n->addr.family == AF_INET6 ? 1 : 0]);
	}
	free(ans);
	ctl_snap_close(&snap);
	if (fflush(stdout) != 0) {
		return TGC_CTL_EXIT_FAIL;
	}

	return replied ? TGC_CTL_EXIT_OK : TGC_CTL_EXIT_FAIL;
}
