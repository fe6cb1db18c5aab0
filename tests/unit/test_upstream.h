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
 * \brief An in-process DNS upstream on loopback (UDP and TCP) for the
 *        client and poller suites (test code only).
 */

#pragma once

#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <libknot/libknot.h>

#include "module/forward.h"
#include "module/loadopt.h"
#include "tests/unit/test_dns.h"

/*! \brief Behaviour of the test upstream. */
typedef struct {
	int udp;             /*!< Bound UDP socket. */
	int tcp;             /*!< Listening TCP socket. */
	uint16_t port;       /*!< Their port. */
	int bad_first;       /*!< Replies with a wrong ID sent before the good one. */
	bool truncate;       /*!< UDP replies have TC set and no answer. */
	bool tc_tcp;         /*!< TCP replies have TC set and no answer too. */
	bool foreign_soa;    /*!< Replies are NXDOMAIN with the SOA of com. */
	bool extra_foreign;  /*!< Replies carry victim.example. A in ADDITIONAL. */
	uint8_t rcode;       /*!< RCODE of the replies. */
	bool report;         /*!< Answer a load report request (loadopt.h):
	                      *   10.0.0.1 with 7 sessions, capacity 2.5. */
	uint8_t ecs_scope;   /*!< Non-zero: replies carry ECS 10.0.0.0/24
	                      *   with this scope (an answer for one subnet). */
	_Atomic int report_asked; /*!< Queries that asked for the report. */
	_Atomic bool silent; /*!< Never reply over UDP (set by the test while running). */
	_Atomic int udp_queries; /*!< Counted queries. */
	_Atomic int tcp_queries; /*!< Counted TCP queries. */
	pthread_t thread;
	int stop[2];         /*!< Pipe to stop the thread. */
} upstream_t;

/*! \brief Puts a record of \a owner into the current section of \a r. */
static void upstream_put(knot_pkt_t *r, const knot_dname_t *owner, uint16_t type,
                         const uint8_t *rd, uint16_t rd_len)
{
	knot_rrset_t rr;
	knot_rrset_init(&rr, knot_dname_copy(owner, &r->mm), type, KNOT_CLASS_IN, 5);
	knot_rrset_add_rdata(&rr, rd, rd_len, &r->mm);
	knot_pkt_put(r, KNOT_COMPR_HINT_NONE, &rr, KNOT_PF_FREE);
}

/*! \brief Makes the reply to a query wire (A 10.0.0.1 unless truncated). */
static size_t upstream_reply(upstream_t *u, const uint8_t *in, size_t len,
                             uint8_t *out, size_t out_max, bool tc, uint16_t id_delta)
{
	knot_pkt_t *q = knot_pkt_new((uint8_t *)in, len, NULL);
	if (q == NULL || knot_pkt_parse(q, 0) != KNOT_EOK) {
		knot_pkt_free(q);
		return 0;
	}
	knot_pkt_t *r = knot_pkt_new(out, out_max, NULL);
	knot_pkt_init_response(r, q);
	knot_wire_set_id(r->wire, (uint16_t)(knot_wire_get_id(in) + id_delta));
	knot_wire_set_rcode(r->wire, u->rcode);
	if (tc) {
		knot_wire_set_tc(r->wire);
	} else if (u->foreign_soa) {
		static const uint8_t soa[22] = { 0, 0, 0, 0, 0, 1, 0, 0, 14, 16,
		                                 0, 0, 3, 132, 0, 9, 58, 128, 0, 0, 0, 30 };
		knot_wire_set_rcode(r->wire, KNOT_RCODE_NXDOMAIN);
		knot_pkt_begin(r, KNOT_AUTHORITY);
		upstream_put(r, COM, KNOT_RRTYPE_SOA, soa, sizeof(soa));
	} else if (knot_pkt_qtype(q) == KNOT_RRTYPE_A) {
		static const uint8_t a[4] = { 10, 0, 0, 1 };
		upstream_put(r, knot_pkt_qname(q), KNOT_RRTYPE_A, a, 4);
	}
	if (u->extra_foreign && !tc) {
		static const uint8_t a[4] = { 192, 0, 2, 66 };
		knot_pkt_begin(r, KNOT_ADDITIONAL);
		upstream_put(r, VICTIM, KNOT_RRTYPE_A, a, 4);
	}
	size_t ask_len = 0;
	const uint8_t *ask = tgc_loadopt_find(q->opt_rr, &ask_len);
	bool asked = ask != NULL && tgc_loadopt_is_request(ask, ask_len);
	if (asked) {
		atomic_fetch_add(&u->report_asked, 1);
	}
	if (!tc && q->opt_rr != NULL && ((asked && u->report) || u->ecs_scope != 0)) {
		knot_rrset_t opt;
		knot_edns_init(&opt, 1232, 0, 0, &r->mm);
		if (asked && u->report) {
			uint8_t data[1 + TGC_LOADOPT_ENTRY_MAX] = { TGC_LOADOPT_VERSION };
			tgc_loadopt_entry_t e = { .sessions = 7, .capacity_x100 = 250,
			                          .flags = TGC_LOADOPT_F_SESSIONS };
			tgc_addr_parse("10.0.0.1", &e.addr);
			size_t n = 1 + tgc_loadopt_write_entry(data + 1, &e);
			knot_edns_add_option(&opt, TGC_LOADOPT_CODE, n, data, &r->mm);
		}
		if (u->ecs_scope != 0) {
			const uint8_t ecs[7] = { 0, 1, 24, u->ecs_scope, 10, 0, 0 };
			knot_edns_add_option(&opt, KNOT_EDNS_OPTION_CLIENT_SUBNET,
			                     sizeof(ecs), ecs, &r->mm);
		}
		knot_pkt_begin(r, KNOT_ADDITIONAL);
		knot_pkt_put(r, KNOT_COMPR_HINT_NONE, &opt, KNOT_PF_FREE);
	}
	size_t size = r->size;
	knot_pkt_free(r);
	knot_pkt_free(q);
	return size;
}

/*! \brief The test upstream's thread. */
static void *upstream_run(void *arg)
{
	upstream_t *u = arg;
	uint8_t in[1500], out[1500];
	for (;;) {
		struct pollfd p[3] = {
			{ .fd = u->udp, .events = POLLIN }, { .fd = u->tcp, .events = POLLIN },
			{ .fd = u->stop[0], .events = POLLIN },
		};
		if (poll(p, 3, 5000) <= 0 || p[2].revents) {
			return NULL;
		}
		if (p[0].revents) {
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(u->udp, in, sizeof(in), 0, (struct sockaddr *)&from, &fl);
			if (n <= 0) {
				continue;
			}
			atomic_fetch_add(&u->udp_queries, 1);
			if (u->silent) {
				continue;
			}
			for (int i = 0; i < u->bad_first; i++) {
				size_t m = upstream_reply(u, in, n, out, sizeof(out), false, 1);
				sendto(u->udp, out, m, 0, (struct sockaddr *)&from, fl);
			}
			size_t m = upstream_reply(u, in, n, out, sizeof(out), u->truncate, 0);
			sendto(u->udp, out, m, 0, (struct sockaddr *)&from, fl);
		}
		if (p[1].revents) {
			int c = accept(u->tcp, NULL, NULL);
			if (c < 0) {
				continue;
			}
			atomic_fetch_add(&u->tcp_queries, 1);
			uint8_t hdr[2];
			if (recv(c, hdr, 2, MSG_WAITALL) == 2) {
				size_t len = knot_wire_read_u16(hdr);
				if (recv(c, in, len, MSG_WAITALL) == (ssize_t)len) {
					size_t m = upstream_reply(u, in, len, out + 2,
					                          sizeof(out) - 2, u->tc_tcp, 0);
					knot_wire_write_u16(out, m);
					(void)send(c, out, m + 2, 0);
				}
			}
			close(c);
		}
	}
}

/*! \brief Starts a test upstream on 127.0.0.1 (UDP and TCP, same port). */
static void upstream_start(upstream_t *u)
{
	for (int tries = 0; tries < 50; tries++) {
		u->udp = socket(AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_in sa = { .sin_family = AF_INET,
		                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		ck_assert_int_eq(bind(u->udp, (struct sockaddr *)&sa, sizeof(sa)), 0);
		socklen_t sl = sizeof(sa);
		getsockname(u->udp, (struct sockaddr *)&sa, &sl);
		u->tcp = socket(AF_INET, SOCK_STREAM, 0);
		int one = 1;
		setsockopt(u->tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(u->tcp, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			u->port = ntohs(sa.sin_port);
			break;
		}
		close(u->udp);
		close(u->tcp);
	}
	ck_assert_uint_ne(u->port, 0);
	ck_assert_int_eq(listen(u->tcp, 8), 0);
	ck_assert_int_eq(pipe(u->stop), 0);
	ck_assert_int_eq(pthread_create(&u->thread, NULL, upstream_run, u), 0);
}

static void upstream_stop(upstream_t *u)
{
	ck_assert_int_eq(write(u->stop[1], "x", 1), 1);
	pthread_join(u->thread, NULL);
	close(u->udp);
	close(u->tcp);
	close(u->stop[0]);
	close(u->stop[1]);
}

/*! \brief Target at 127.0.0.1@port. */
static void target_at(tgc_fwd_target_t *t, uint16_t port)
{
	memset(t, 0, sizeof(*t));
	tgc_addr_t a;
	tgc_addr_parse("127.0.0.1", &a);
	tgc_addr_to_sockaddr(&a, port, &t->addr);
	snprintf(t->text, sizeof(t->text), "127.0.0.1@%u", port);
}

