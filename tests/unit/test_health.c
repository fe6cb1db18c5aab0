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

#include <check.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <syslog.h>

#include <libknot/libknot.h>

#include "module/addr.h"
#include "module/health.h"
#include "module/table.h"
#include "tests/unit/test_health_srv.h"
#include "tests/unit/test_main.h"

/*! \brief Longest wait for a condition, in ms. */
#define WAIT_MS		5000
/*! \brief Probe interval of the checker tests, ms. */
#define INTERVAL_MS	50
/*!
 * \brief Probe timeout of the checker tests, ms: longer than the interval so
 *        that a slow run (valgrind, sanitizers, loaded CI) never times out a
 *        healthy loopback probe; the checker never overlaps probes anyway.
 */
#define TIMEOUT_MS	250
/*! \brief Writer token of the checker under test. */
#define TOKEN		0x5eed0001ull
/*! \brief Writer token of "another instance". */
#define OTHER_TOKEN	0x0bad0002ull

/*!
 * \brief Polls \a expr every 2 ms until it holds or WAIT_MS pass.
 *
 * \return The last value of \a expr.
 */
#define WAIT_UNTIL(expr) ({ \
	uint64_t _end = srv_mono_ms() + WAIT_MS; \
	bool _ok; \
	while (!(_ok = (expr)) && srv_mono_ms() < _end) { \
		usleep(2000); \
	} \
	_ok; \
})

/*
 * Checker fixtures.
 */

/*! \brief Most log lines kept. */
#define REC_LOG_MAX	512
/*! \brief Most nodes of a test table. */
#define REC_NODES_MAX	24

/*! \brief Callback recorder (ctx of the checker). */
typedef struct {
	pthread_mutex_t lock;
	char log[REC_LOG_MAX][256];      /*!< Log lines. */
	int log_prio[REC_LOG_MAX];       /*!< Their priorities. */
	unsigned log_count;
	unsigned events[REC_NODES_MAX][3][3]; /*!< [idx][from][to]. */
	unsigned events_total;
	uint32_t ev_consec_ok[REC_NODES_MAX];   /*!< Record at the last event. */
	uint32_t ev_consec_fail[REC_NODES_MAX];
	tgc_health_t ev_rec_health[REC_NODES_MAX];
	unsigned bad_idx;                /*!< Events with an index out of range. */
	unsigned refused[REC_NODES_MAX]; /*!< Refused rfb probes by node. */
	unsigned thread_start_calls;
	unsigned thread_stop_calls;
	pthread_t checker_thread;        /*!< Thread of thread_start. */
	unsigned foreign_thread_calls;   /*!< Callbacks in another thread. */
	unsigned calls_before_start;     /*!< Callbacks before thread_start. */
	unsigned calls_after_stop;       /*!< Callbacks after thread_stop. */
	bool stopped;                    /*!< tgc_checker_stop() returned. */
	unsigned calls_after_return;     /*!< Callbacks after that. */
	tgc_table_t *table;              /*!< For snapshots in the event hook. */
} recorder_t;

/*! \brief Common bookkeeping of every callback (lock held). */
static void rec_call(recorder_t *r)
{
	if (r->stopped) {
		r->calls_after_return++;
	}
	if (r->thread_start_calls == 0) {
		r->calls_before_start++;
	} else if (!pthread_equal(pthread_self(), r->checker_thread)) {
		r->foreign_thread_calls++;
	}
	if (r->thread_stop_calls > 0) {
		r->calls_after_stop++;
	}
}

/*! \brief Log hook: keeps the line. */
static void rec_log(void *ctx, int prio, const char *fmt, ...)
{
	recorder_t *r = ctx;
	pthread_mutex_lock(&r->lock);
	rec_call(r);
	if (r->log_count < REC_LOG_MAX) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(r->log[r->log_count], sizeof(r->log[0]), fmt, ap);
		va_end(ap);
		r->log_prio[r->log_count] = prio;
	}
	r->log_count++;
	pthread_mutex_unlock(&r->lock);
}

/*! \brief Event hook: counts, and snapshots the record. */
static void rec_event(void *ctx, uint32_t idx, tgc_health_t from, tgc_health_t to)
{
	recorder_t *r = ctx;
	tgc_node_snap_t snap;
	memset(&snap, 0, sizeof(snap));
	if (r->table != NULL && idx < r->table->hdr->node_count) {
		tgc_table_node_read(r->table, idx, &snap);
	}
	pthread_mutex_lock(&r->lock);
	rec_call(r);
	if (idx >= REC_NODES_MAX || from > 2 || to > 2) {
		r->bad_idx++;
	} else {
		r->events[idx][from][to]++;
		r->ev_consec_ok[idx] = snap.consec_ok;
		r->ev_consec_fail[idx] = snap.consec_fail;
		r->ev_rec_health[idx] = snap.health;
	}
	r->events_total++;
	pthread_mutex_unlock(&r->lock);
}

/*! \brief Refusal hook: counts per node. */
static void rec_refused(void *ctx, uint32_t idx)
{
	recorder_t *r = ctx;
	pthread_mutex_lock(&r->lock);
	rec_call(r);
	if (idx >= REC_NODES_MAX) {
		r->bad_idx++;
	} else {
		r->refused[idx]++;
	}
	pthread_mutex_unlock(&r->lock);
}

/*! \brief Copy of a refusal counter. */
static unsigned refused(recorder_t *r, uint32_t idx)
{
	pthread_mutex_lock(&r->lock);
	unsigned n = r->refused[idx];
	pthread_mutex_unlock(&r->lock);
	return n;
}

/*! \brief Thread start hook: notes the checker thread. */
static void rec_thread_start(void *ctx)
{
	recorder_t *r = ctx;
	pthread_mutex_lock(&r->lock);
	if (r->thread_start_calls++ == 0) {
		r->checker_thread = pthread_self();
	}
	pthread_mutex_unlock(&r->lock);
}

/*! \brief Thread stop hook. */
static void rec_thread_stop(void *ctx)
{
	recorder_t *r = ctx;
	pthread_mutex_lock(&r->lock);
	rec_call(r);
	r->thread_stop_calls++;
	pthread_mutex_unlock(&r->lock);
}

/*! \brief Number of log lines containing \a needle. */
static unsigned log_has(recorder_t *r, const char *needle)
{
	unsigned n = 0;
	pthread_mutex_lock(&r->lock);
	unsigned count = (r->log_count < REC_LOG_MAX) ? r->log_count : REC_LOG_MAX;
	for (unsigned i = 0; i < count; i++) {
		if (strstr(r->log[i], needle) != NULL) {
			n++;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return n;
}

/*! \brief Copy of an event counter. */
static unsigned ev(recorder_t *r, uint32_t idx, tgc_health_t from, tgc_health_t to)
{
	pthread_mutex_lock(&r->lock);
	unsigned n = r->events[idx][from][to];
	pthread_mutex_unlock(&r->lock);
	return n;
}

/*! \brief Total events (locked read). */
static unsigned ev_total(recorder_t *r)
{
	pthread_mutex_lock(&r->lock);
	unsigned n = r->events_total;
	pthread_mutex_unlock(&r->lock);
	return n;
}

/*! \brief Tells whether thread_start ran (locked read). */
static bool thread_started(recorder_t *r)
{
	pthread_mutex_lock(&r->lock);
	bool started = r->thread_start_calls > 0;
	pthread_mutex_unlock(&r->lock);
	return started;
}

/*! \brief Log lines (locked read). */
static unsigned log_total(recorder_t *r)
{
	pthread_mutex_lock(&r->lock);
	unsigned n = r->log_count;
	pthread_mutex_unlock(&r->lock);
	return n;
}

/*! \brief Test fixture: a table, a recorder, a checker. */
typedef struct {
	char name[TGC_TABLE_NAME_MAX + 1];
	tgc_table_t table;
	recorder_t rec;
	tgc_checker_t *ck;
	tgc_checker_conf_t conf;
	uint32_t count;
	char ip[REC_NODES_MAX][INET6_ADDRSTRLEN];
	uint16_t port[REC_NODES_MAX];
} fixture_t;

static fixture_t fx;

/*! \brief Sequence number making table names unique within a process. */
static unsigned fx_seq;

/*! \brief Fixture setup: a unique segment name. */
static void fx_setup(void)
{
	memset(&fx, 0, sizeof(fx));
	pthread_mutex_init(&fx.rec.lock, NULL);
	snprintf(fx.name, sizeof(fx.name), "/tgcluster.test-health-%d-%u",
	         (int)getpid(), fx_seq++);
}

/*! \brief Fixture teardown: stop, unmap, unlink. */
static void fx_teardown(void)
{
	if (fx.ck != NULL) {
		tgc_checker_stop(fx.ck);
		fx.ck = NULL;
	}
	if (fx.table.hdr != NULL) {
		tgc_table_close(&fx.table);
	}
	(void)tgc_table_unlink(fx.name);
	pthread_mutex_destroy(&fx.rec.lock);
}

/*! \brief Adds a node to the fixture (before fx_open). */
static uint32_t fx_node(const char *ip, uint16_t port)
{
	ck_assert(fx.count < REC_NODES_MAX);
	ck_assert_msg(srv_is_loopback(ip), "test nodes must be loopback: %s", ip);
	snprintf(fx.ip[fx.count], sizeof(fx.ip[0]), "%s", ip);
	fx.port[fx.count] = port;
	return fx.count++;
}

/*! \brief Creates the shm table of the fixture's nodes, owned by TOKEN. */
static void fx_open(uint64_t writer)
{
	tgc_table_node_t nodes[REC_NODES_MAX];
	memset(nodes, 0, sizeof(nodes));
	for (uint32_t i = 0; i < fx.count; i++) {
		ck_assert_int_eq(tgc_addr_parse(fx.ip[i], &nodes[i].addr), KNOT_EOK);
		nodes[i].port = fx.port[i];
	}
	tgc_table_spec_t spec = {
		.role = TGC_ROLE_LB, .zone = "test", .instance = "health",
		.name = "cluster.test", .nodes = nodes, .node_count = fx.count,
		.check = TGC_CHECK_TCP, .interval_ms = 50, .timeout_ms = 30,
		.rise = 2, .fall = 2,
	};
	const char *err = NULL;
	int ret = tgc_table_open(&fx.table, fx.name, &spec, NULL, &err);
	ck_assert_msg(ret == KNOT_EOK, "tgc_table_open: %s (%s)",
	              knot_strerror(ret), err ? err : "");
	/* This process owns the segment and the writer token is that of a
	 * live instance of it (another instance only takes over a token whose
	 * instance is gone). */
	ck_assert_int_eq(tgc_table_claim(&fx.table, writer, NULL), KNOT_EOK);
	fx.rec.table = &fx.table;
}

/*! \brief Default checker configuration for the fixture. */
static void fx_conf(tgc_check_t check)
{
	fx.conf = (tgc_checker_conf_t){
		.table = &fx.table,
		.writer_token = TOKEN,
		.params = { .check = check, .interval_ms = INTERVAL_MS,
		            .timeout_ms = TIMEOUT_MS,
		            .rise = 2, .fall = 2 },
		.log = rec_log,
		.event = rec_event,
		.refused = rec_refused,
		.thread_start = rec_thread_start,
		.thread_stop = rec_thread_stop,
		.ctx = &fx.rec,
	};
}

/*! \brief Starts the checker with the fixture configuration. */
static void fx_start(void)
{
	ck_assert_int_eq(tgc_checker_start(&fx.ck, &fx.conf), KNOT_EOK);
	ck_assert_ptr_nonnull(fx.ck);
}

/*! \brief Stops the checker; later callbacks are counted as errors. */
static void fx_stop(void)
{
	tgc_checker_stop(fx.ck);
	fx.ck = NULL;
	pthread_mutex_lock(&fx.rec.lock);
	fx.rec.stopped = true;
	pthread_mutex_unlock(&fx.rec.lock);
}

/*! \brief Consistent copy of record \a idx. */
static tgc_node_snap_t snap(uint32_t idx)
{
	tgc_node_snap_t s;
	tgc_table_node_read(&fx.table, idx, &s);
	return s;
}

/*! \brief Health of record \a idx (one atomic load). */
static tgc_health_t health(uint32_t idx)
{
	return tgc_table_health(&fx.table, idx);
}

/*!
 * \brief Common checks after a stopped run: every transition of every node
 *        was reported exactly once by the event hook and by the log, from
 *        the checker thread, between thread_start and thread_stop.
 */
static void fx_check_reports(void)
{
	recorder_t *r = &fx.rec;
	ck_assert_ptr_null(fx.ck);
	ck_assert_uint_eq(r->thread_start_calls, 1);
	ck_assert_uint_eq(r->thread_stop_calls, 1);
	ck_assert_uint_eq(r->calls_before_start, 0);
	ck_assert_uint_eq(r->calls_after_stop, 0);
	ck_assert_uint_eq(r->foreign_thread_calls, 0);
	ck_assert_uint_eq(r->bad_idx, 0);
	ck_assert(!pthread_equal(r->checker_thread, pthread_self()));

	for (uint32_t i = 0; i < fx.count; i++) {
		tgc_node_snap_t s = snap(i);
		unsigned events = 0;
		for (int f = 0; f < 3; f++) {
			for (int t = 0; t < 3; t++) {
				events += r->events[i][f][t];
			}
		}
		char needle[96];
		snprintf(needle, sizeof(needle), "node %s port %u ", fx.ip[i],
		         fx.port[i]);
		unsigned lines = 0;
		for (unsigned l = 0; l < r->log_count && l < REC_LOG_MAX; l++) {
			if (strstr(r->log[l], needle) != NULL &&
			    strstr(r->log[l], " -> ") != NULL &&
			    strstr(r->log[l], " admin ") == NULL) {
				lines++;
			}
		}
		ck_assert_msg(events == s.transitions, "node %u: %u events, %" PRIu64
		              " transitions", i, events, s.transitions);
		ck_assert_msg(lines == s.transitions, "node %u: %u log lines, %" PRIu64
		              " transitions", i, lines, s.transitions);
	}
}

/*
 * Checker tests.
 */

START_TEST(checker_tcp)
{
	srv_t up, noaccept;
	ck_assert_int_eq(srv_start(&up, "127.0.0.1", 0, SRV_TCP), 0);
	ck_assert_int_eq(srv_start(&noaccept, "127.0.0.2", 0, SRV_NOACCEPT), 0);
	uint16_t closed = srv_closed_port("127.0.0.3");
	ck_assert_uint_ne(closed, 0);
	fx_node("127.0.0.1", up.port);
	fx_node("127.0.0.2", noaccept.port);
	fx_node("127.0.0.3", closed);
	fx_open(TOKEN);
	fx_conf(TGC_CHECK_TCP);

	uint64_t t0 = tgc_table_now_ms();
	fx_start();
	ck_assert(WAIT_UNTIL(health(0) == TGC_HEALTH_UP));
	ck_assert(WAIT_UNTIL(health(1) == TGC_HEALTH_UP));
	ck_assert(WAIT_UNTIL(health(2) == TGC_HEALTH_DOWN));
	/* A few more rounds: states must be stable. */
	ck_assert(WAIT_UNTIL(snap(0).probes >= 6 && snap(2).probes >= 6));
	fx_stop();
	srv_stop(&up);
	srv_stop(&noaccept);

	tgc_node_snap_t s0 = snap(0), s1 = snap(1), s2 = snap(2);
	ck_assert_int_eq(s0.health, TGC_HEALTH_UP);
	ck_assert_int_eq(s0.last_probe, TGC_PROBE_OK);
	ck_assert_uint_eq(s0.transitions, 1);
	ck_assert_uint_eq(s0.consec_fail, 0);
	ck_assert_uint_ge(s0.consec_ok, 6);
	ck_assert_uint_eq(s0.consec_ok, s0.probes);
	ck_assert_uint_lt(s0.last_rtt_us, TIMEOUT_MS * 1000);
	ck_assert_uint_ge(s0.since_ms, t0);
	ck_assert_uint_ge(s0.last_check_ms, s0.since_ms);
	ck_assert_uint_le(s0.last_check_ms, tgc_table_now_ms());

	ck_assert_int_eq(s1.health, TGC_HEALTH_UP);
	ck_assert_int_eq(s1.last_probe, TGC_PROBE_OK);

	ck_assert_int_eq(s2.health, TGC_HEALTH_DOWN);
	ck_assert_int_eq(s2.last_probe, TGC_PROBE_REFUSED);
	ck_assert_uint_eq(s2.transitions, 1);
	ck_assert_uint_eq(s2.consec_ok, 0);
	ck_assert_uint_eq(s2.consec_fail, s2.probes);
	ck_assert_uint_ge(s2.since_ms, t0);

	recorder_t *r = &fx.rec;
	ck_assert_uint_eq(r->events[0][TGC_HEALTH_UNKNOWN][TGC_HEALTH_UP], 1);
	ck_assert_uint_eq(r->events[1][TGC_HEALTH_UNKNOWN][TGC_HEALTH_UP], 1);
	ck_assert_uint_eq(r->events[2][TGC_HEALTH_UNKNOWN][TGC_HEALTH_DOWN], 1);
	ck_assert_uint_eq(r->events_total, 3);
	/* Down after exactly fall failures. */
	ck_assert_uint_eq(r->ev_consec_fail[2], 2);
	ck_assert_int_eq(r->ev_rec_health[2], TGC_HEALTH_DOWN);

	char line[128];
	snprintf(line, sizeof(line), "node 127.0.0.3 port %u unknown -> down "
	         "(refused, ", closed);
	ck_assert_uint_eq(log_has(r, line), 1);
	snprintf(line, sizeof(line), "node 127.0.0.1 port %u unknown -> up (ok, ",
	         up.port);
	ck_assert_uint_eq(log_has(r, line), 1);
	for (unsigned l = 0; l < r->log_count; l++) {
		if (strstr(r->log[l], "-> down") != NULL) {
			ck_assert_int_eq(r->log_prio[l], LOG_WARNING);
		} else if (strstr(r->log[l], "-> up") != NULL) {
			ck_assert_int_eq(r->log_prio[l], LOG_NOTICE);
		}
	}
	ck_assert_uint_gt(atomic_load(&fx.table.hdr->heartbeat_ms), 0);
	fx_check_reports();
}
END_TEST

START_TEST(checker_rfb)
{
	static const struct {
		const char *ip;
		const srv_mode_t *mode; /* NULL: closed port */
		tgc_health_t health;
		tgc_probe_t probe;
	} cases[] = {
		{ "127.0.0.1",  &SRV_RFB,        TGC_HEALTH_UP,   TGC_PROBE_OK },
		{ "127.0.0.2",  &SRV_RFB_SPLIT,  TGC_HEALTH_UP,   TGC_PROBE_OK },
		{ "127.0.0.3",  &SRV_RFB_LONG,   TGC_HEALTH_UP,   TGC_PROBE_OK },
		{ "127.0.0.4",  &SRV_SSH,        TGC_HEALTH_DOWN, TGC_PROBE_BANNER },
		{ "127.0.0.5",  &SRV_RFB_LETTER, TGC_HEALTH_DOWN, TGC_PROBE_BANNER },
		{ "127.0.0.6",  &SRV_HUNG,       TGC_HEALTH_DOWN, TGC_PROBE_TIMEOUT },
		{ "127.0.0.7",  &SRV_RFB_SHORT,  TGC_HEALTH_DOWN, TGC_PROBE_TIMEOUT },
		{ "127.0.0.8",  &SRV_CLOSE,      TGC_HEALTH_DOWN, TGC_PROBE_REFUSED },
		{ "127.0.0.9",  &SRV_NOACCEPT,   TGC_HEALTH_DOWN, TGC_PROBE_TIMEOUT },
		{ "127.0.0.10", NULL,            TGC_HEALTH_DOWN, TGC_PROBE_REFUSED },
		{ "127.0.0.11", &SRV_RFB_33,     TGC_HEALTH_UP,   TGC_PROBE_OK },
		{ "127.0.0.12", &SRV_RFB_37,     TGC_HEALTH_UP,   TGC_PROBE_OK },
		/* Refusals: alive, so up, with the refusal recorded. */
		{ "127.0.0.13", &SRV_RFB_BLACKLIST, TGC_HEALTH_UP, TGC_PROBE_RFB_REFUSED },
		{ "127.0.0.14", &SRV_RFB_NOTYPES, TGC_HEALTH_UP,  TGC_PROBE_RFB_REFUSED },
		/* A valid banner, then a broken handshake: down. */
		{ "127.0.0.15", &SRV_RFB_HALF,   TGC_HEALTH_DOWN, TGC_PROBE_HANDSHAKE },
		{ "127.0.0.16", &SRV_RFB_INVALID, TGC_HEALTH_DOWN, TGC_PROBE_HANDSHAKE },
		{ "127.0.0.17", &SRV_RFB_MUTE,   TGC_HEALTH_DOWN, TGC_PROBE_TIMEOUT },
	};
	enum { N = sizeof(cases) / sizeof(cases[0]) };
	srv_t srv[N];

	for (uint32_t i = 0; i < N; i++) {
		uint16_t port;
		if (cases[i].mode != NULL) {
			ck_assert_int_eq(srv_start(&srv[i], cases[i].ip, 0,
			                           *cases[i].mode), 0);
			port = srv[i].port;
		} else {
			srv[i].running = false;
			port = srv_closed_port(cases[i].ip);
			ck_assert_uint_ne(port, 0);
		}
		fx_node(cases[i].ip, port);
	}
	fx_open(TOKEN);
	fx_conf(TGC_CHECK_RFB);
	fx_start();

	for (uint32_t i = 0; i < N; i++) {
		ck_assert_msg(WAIT_UNTIL(health(i) == cases[i].health &&
		                         snap(i).probes >= 3),
		              "%s: health %s, expected %s", cases[i].ip,
		              tgc_table_health_str(health(i)),
		              tgc_table_health_str(cases[i].health));
	}
	fx_stop();
	for (uint32_t i = 0; i < N; i++) {
		srv_stop(&srv[i]);
	}

	for (uint32_t i = 0; i < N; i++) {
		tgc_node_snap_t s = snap(i);
		ck_assert_msg(s.health == cases[i].health, "%s", cases[i].ip);
		ck_assert_msg(s.last_probe == cases[i].probe, "%s: probe %s, "
		              "expected %s", cases[i].ip,
		              tgc_table_probe_str(s.last_probe),
		              tgc_table_probe_str(cases[i].probe));
		ck_assert_uint_eq(s.transitions, 1);
		if (cases[i].probe == TGC_PROBE_TIMEOUT) {
			/* The timeout (1 ms timer granularity) bounds
			 * the probe. */
			ck_assert_uint_ge(s.last_rtt_us, (TIMEOUT_MS - 2) * 1000);
			ck_assert_uint_lt(s.last_rtt_us, 1000000);
		}
		/* Every refused probe is reported, nothing else is. */
		if (cases[i].probe == TGC_PROBE_RFB_REFUSED) {
			ck_assert_uint_eq(refused(&fx.rec, i), s.probes);
		} else {
			ck_assert_uint_eq(refused(&fx.rec, i), 0);
		}
	}
	/* One warning per refusing node, with its (sanitised) reason. */
	ck_assert_uint_eq(log_has(&fx.rec, "refuses the checker"), 2);
	ck_assert_uint_eq(log_has(&fx.rec, "node 127.0.0.13 port"), 2); /* up + refusal */
	ck_assert_uint_eq(log_has(&fx.rec, "refuses the checker: \"Too many "
	                                   "security failures\""), 1);
	ck_assert_uint_eq(log_has(&fx.rec, "refuses the checker: \"Busy??[31mnow\""), 1);
	ck_assert_uint_eq(log_has(&fx.rec, "accepts the checker again"), 0);
	fx_check_reports();
}
END_TEST

/*! \brief Number of log lines at \a prio containing \a needle. */
static unsigned log_has_prio(recorder_t *r, const char *needle, int prio)
{
	unsigned n = 0;
	pthread_mutex_lock(&r->lock);
	unsigned count = (r->log_count < REC_LOG_MAX) ? r->log_count : REC_LOG_MAX;
	for (unsigned i = 0; i < count; i++) {
		if (strstr(r->log[i], needle) != NULL && r->log_prio[i] == prio) {
			n++;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return n;
}

START_TEST(checker_rfb_refusal)
{
	srv_t srv;
	ck_assert_int_eq(srv_start(&srv, "127.0.0.1", 0, SRV_RFB_BLACKLIST), 0);
	uint16_t port = srv.port;
	fx_node("127.0.0.1", port);
	fx_open(TOKEN);
	fx_conf(TGC_CHECK_RFB);
	fx_start();

	/* Refused: up (alive), logged once however many probes. */
	ck_assert(WAIT_UNTIL(snap(0).last_probe == TGC_PROBE_RFB_REFUSED &&
	                     snap(0).probes >= 5));
	ck_assert_int_eq(health(0), TGC_HEALTH_UP);
	ck_assert_uint_eq(log_has_prio(&fx.rec, "node 127.0.0.1 port", LOG_WARNING), 1);
	ck_assert_uint_eq(log_has(&fx.rec, "refuses the checker"), 1);
	ck_assert_uint_ge(refused(&fx.rec, 0), 5);

	/* The server accepts again: the refusal clears, logged once. */
	srv_stop(&srv);
	ck_assert_int_eq(srv_start(&srv, "127.0.0.1", port, SRV_RFB), 0);
	ck_assert(WAIT_UNTIL(snap(0).last_probe == TGC_PROBE_OK));
	uint64_t probes = snap(0).probes;
	ck_assert(WAIT_UNTIL(snap(0).probes >= probes + 3));
	ck_assert_uint_eq(log_has_prio(&fx.rec, "accepts the checker again",
	                               LOG_NOTICE), 1);
	unsigned counted = refused(&fx.rec, 0);

	/* Refused again: a new warning. */
	srv_stop(&srv);
	ck_assert_int_eq(srv_start(&srv, "127.0.0.1", port, SRV_RFB_BLACKLIST), 0);
	ck_assert(WAIT_UNTIL(refused(&fx.rec, 0) >= counted + 3));
	fx_stop();
	srv_stop(&srv);

	ck_assert_uint_eq(log_has(&fx.rec, "refuses the checker"), 2);
	ck_assert_uint_eq(log_has(&fx.rec, "accepts the checker again"), 1);
	/* Alive all along: unknown -> up and nothing else. */
	ck_assert_uint_eq(ev_total(&fx.rec), 1);
	ck_assert_uint_eq(snap(0).transitions, 1);
	fx_check_reports();
}
END_TEST

START_TEST(checker_flap)
{
	srv_t srv, other;
	ck_assert_int_eq(srv_start(&srv, "127.0.0.1", 0, SRV_TCP), 0);
	ck_assert_int_eq(srv_start(&other, "127.0.0.2", 0, SRV_TCP), 0);
	uint16_t port = srv.port;
	fx_node("127.0.0.1", port);
	fx_node("127.0.0.2", other.port);
	fx_open(TOKEN);
	fx_conf(TGC_CHECK_TCP);
	fx_start();

	ck_assert(WAIT_UNTIL(health(0) == TGC_HEALTH_UP));
	srv_stop(&srv);
	ck_assert(WAIT_UNTIL(health(0) == TGC_HEALTH_DOWN));
	ck_assert_int_eq(snap(0).last_probe, TGC_PROBE_REFUSED);
	ck_assert_uint_eq(ev(&fx.rec, 0, TGC_HEALTH_UP, TGC_HEALTH_DOWN), 1);
	pthread_mutex_lock(&fx.rec.lock);
	ck_assert_uint_eq(fx.rec.ev_consec_fail[0], 2); /* fall */
	pthread_mutex_unlock(&fx.rec.lock);

	ck_assert_int_eq(srv_start(&srv, "127.0.0.1", port, SRV_TCP), 0);
	ck_assert(WAIT_UNTIL(health(0) == TGC_HEALTH_UP));
	ck_assert_uint_eq(ev(&fx.rec, 0, TGC_HEALTH_DOWN, TGC_HEALTH_UP), 1);
	pthread_mutex_lock(&fx.rec.lock);
	ck_assert_uint_eq(fx.rec.ev_consec_ok[0], 2); /* rise */
	pthread_mutex_unlock(&fx.rec.lock);
	uint64_t probes = snap(0).probes;
	ck_assert(WAIT_UNTIL(snap(0).probes >= probes + 4));
	fx_stop();
	srv_stop(&srv);
	srv_stop(&other);

	ck_assert_uint_eq(snap(0).transitions, 3);
	ck_assert_uint_eq(fx.rec.events[0][TGC_HEALTH_UNKNOWN][TGC_HEALTH_UP], 1);
	ck_assert_uint_eq(fx.rec.events[0][TGC_HEALTH_UP][TGC_HEALTH_DOWN], 1);
	ck_assert_uint_eq(fx.rec.events[0][TGC_HEALTH_DOWN][TGC_HEALTH_UP], 1);
	/* The other node never changed after coming up. */
	ck_assert_uint_eq(snap(1).transitions, 1);
	ck_assert_int_eq(snap(1).health, TGC_HEALTH_UP);
	char line[96];
	snprintf(line, sizeof(line), "node 127.0.0.1 port %u up -> down", port);
	ck_assert_uint_eq(log_has(&fx.rec, line), 1);
	snprintf(line, sizeof(line), "node 127.0.0.1 port %u down -> up", port);
	ck_assert_uint_eq(log_has(&fx.rec, line), 1);
	fx_check_reports();
}
END_TEST

START_TEST(checker_writer)
{
	srv_t srv;
	ck_assert_int_eq(srv_start(&srv, "127.0.0.1", 0, SRV_TCP), 0);
	fx_node("127.0.0.1", srv.port);
	fx_open(OTHER_TOKEN);
	fx_conf(TGC_CHECK_TCP);
	fx_start();

	/* Another instance owns the table: in a window well beyond several
	 * intervals and admin ticks (thread up, then 500 ms), nothing may be
	 * written. */
	ck_assert(WAIT_UNTIL(thread_started(&fx.rec)));
	uint64_t until = srv_mono_ms() + 500;
	(void)WAIT_UNTIL(srv_mono_ms() >= until || snap(0).probes > 0);
	ck_assert_uint_eq(snap(0).probes, 0);
	ck_assert(tgc_table_admin_set(&fx.table, 0, TGC_ADMIN_DRAIN) == KNOT_EOK);
	until = srv_mono_ms() + 500;
	(void)WAIT_UNTIL(srv_mono_ms() >= until);
	tgc_node_snap_t s = snap(0);
	ck_assert_uint_eq(s.probes, 0);
	ck_assert_int_eq(s.last_probe, TGC_PROBE_NONE);
	ck_assert_int_eq(s.health, TGC_HEALTH_UNKNOWN);
	ck_assert_uint_eq(s.last_check_ms, 0);
	ck_assert_uint_eq(atomic_load(&fx.table.hdr->heartbeat_ms), 0);
	ck_assert_uint_eq(ev_total(&fx.rec), 0);
	ck_assert_uint_eq(log_total(&fx.rec), 0);
	/* Not the owner: no probe traffic either. */
	ck_assert_uint_eq(atomic_load(&srv.accepted), 0);

	/* Ownership handed to us: writes start. */
	atomic_store(&fx.table.hdr->writer, TOKEN);
	ck_assert(WAIT_UNTIL(health(0) == TGC_HEALTH_UP));
	ck_assert(WAIT_UNTIL(atomic_load(&fx.table.hdr->heartbeat_ms) > 0));

	/* Taken away again: writes stop. A probe result and a heartbeat the
	 * checker was storing while the role moved may still land, once each;
	 * over a window of 20 intervals and 5 admin ticks nothing more is
	 * written. */
	uint64_t probes = snap(0).probes;
	uint64_t hb = atomic_load(&fx.table.hdr->heartbeat_ms);
	atomic_store(&fx.table.hdr->writer, OTHER_TOKEN);
	unsigned hb_changes = 0;
	until = srv_mono_ms() + 1000;
	while (srv_mono_ms() < until) {
		uint64_t now_hb = atomic_load(&fx.table.hdr->heartbeat_ms);
		hb_changes += (now_hb != hb);
		hb = now_hb;
		usleep(1000);
	}
	ck_assert_uint_le(snap(0).probes, probes + 1);
	ck_assert_uint_le(hb_changes, 1);
	fx_stop();
	srv_stop(&srv);

	/* The drain made while another instance owned the table is not
	 * reported by this one. */
	ck_assert_uint_eq(log_has(&fx.rec, " admin "), 0);
	fx_check_reports();
}
END_TEST

START_TEST(checker_admin)
{
	srv_t srv;
	ck_assert_int_eq(srv_start(&srv, "127.0.0.1", 0, SRV_TCP), 0);
	fx_node("127.0.0.1", srv.port);
	fx_node("127.0.0.2", srv_closed_port("127.0.0.2"));
	fx_open(TOKEN);
	/* Set before the start: a first observation, not a change. */
	ck_assert_int_eq(tgc_table_admin_set(&fx.table, 1, TGC_ADMIN_DRAIN), KNOT_EOK);
	fx_conf(TGC_CHECK_TCP);
	fx_start();
	/* The first scan writes the heartbeat before it observes the admin
	 * states: only a second heartbeat shows that the first observation
	 * is over (the next change is then a change). */
	ck_assert(WAIT_UNTIL(atomic_load(&fx.table.hdr->heartbeat_ms) > 0));
	uint64_t first_hb = atomic_load(&fx.table.hdr->heartbeat_ms);
	ck_assert(WAIT_UNTIL(atomic_load(&fx.table.hdr->heartbeat_ms) > first_hb));

	char line[128];
	snprintf(line, sizeof(line), "node 127.0.0.1 port %u admin auto -> drain "
	         "(source local, uid %u)", srv.port, (unsigned)getuid());
	ck_assert_int_eq(tgc_table_admin_set(&fx.table, 0, TGC_ADMIN_DRAIN), KNOT_EOK);
	ck_assert(WAIT_UNTIL(log_has(&fx.rec, line) == 1));

	snprintf(line, sizeof(line), "node 127.0.0.1 port %u admin drain -> down "
	         "(source local, uid %u)", srv.port, (unsigned)getuid());
	ck_assert_int_eq(tgc_table_admin_set(&fx.table, 0, TGC_ADMIN_DOWN), KNOT_EOK);
	ck_assert(WAIT_UNTIL(log_has(&fx.rec, line) == 1));

	/* Let at least two more scans pass: nothing is logged twice. */
	uint64_t hb = atomic_load(&fx.table.hdr->heartbeat_ms);
	ck_assert(WAIT_UNTIL(atomic_load(&fx.table.hdr->heartbeat_ms) >= hb + 400));
	fx_stop();
	srv_stop(&srv);

	ck_assert_uint_eq(log_has(&fx.rec, " admin "), 2);
	ck_assert_uint_eq(log_has(&fx.rec, "admin auto -> drain (source local"), 1);
	/* Admin states are the operator's: the checker never changes them. */
	ck_assert_int_eq(tgc_table_admin(&fx.table, 0), TGC_ADMIN_DOWN);
	ck_assert_int_eq(tgc_table_admin(&fx.table, 1), TGC_ADMIN_DRAIN);
	fx_check_reports();
}
END_TEST

START_TEST(checker_resume)
{
	srv_t srv;
	uint16_t port = srv_closed_port("127.0.0.1");
	ck_assert_uint_ne(port, 0);
	fx_node("127.0.0.1", port);
	fx_open(TOKEN);
	fx_conf(TGC_CHECK_TCP);

	/* First instance: the node is down. */
	fx_start();
	ck_assert(WAIT_UNTIL(health(0) == TGC_HEALTH_DOWN));
	fx_stop();
	uint64_t probes = snap(0).probes;
	ck_assert_uint_ge(snap(0).consec_fail, 2);
	ck_assert_uint_eq(snap(0).transitions, 1);

	/* Second instance (a reload: new token) with rise 3: the history
	 * continues, the node needs 3 successes and goes down -> up. */
	pthread_mutex_destroy(&fx.rec.lock);
	memset(&fx.rec, 0, sizeof(fx.rec));
	pthread_mutex_init(&fx.rec.lock, NULL);
	fx.rec.table = &fx.table;
	atomic_store(&fx.table.hdr->writer, TOKEN + 1);
	ck_assert_int_eq(srv_start(&srv, "127.0.0.1", port, SRV_TCP), 0);
	fx_conf(TGC_CHECK_TCP);
	fx.conf.writer_token = TOKEN + 1;
	fx.conf.params.rise = 3;
	fx_start();
	ck_assert(WAIT_UNTIL(health(0) == TGC_HEALTH_UP));
	fx_stop();
	srv_stop(&srv);

	ck_assert_uint_eq(fx.rec.events[0][TGC_HEALTH_DOWN][TGC_HEALTH_UP], 1);
	ck_assert_uint_eq(fx.rec.events[0][TGC_HEALTH_UNKNOWN][TGC_HEALTH_UP], 0);
	ck_assert_uint_eq(fx.rec.events_total, 1);
	ck_assert_uint_eq(fx.rec.ev_consec_ok[0], 3);
	tgc_node_snap_t s = snap(0);
	ck_assert_uint_eq(s.transitions, 2);
	ck_assert_uint_ge(s.probes, probes + 3);
	ck_assert_uint_eq(log_has(&fx.rec, "down -> up"), 1);
}
END_TEST

/*! \brief Writes the history of record \a idx as a previous instance left it. */
static void fx_history(uint32_t idx, tgc_health_t h, uint32_t ok, uint32_t fail,
                       uint64_t probe_start, uint64_t next_due,
                       uint64_t last_check)
{
	tgc_node_rec_t *rec = &fx.table.nodes[idx];
	ck_assert(tgc_table_write_begin(rec));
	atomic_store(&rec->health, (uint8_t)h);
	atomic_store(&rec->consec_ok, ok);
	atomic_store(&rec->consec_fail, fail);
	atomic_store(&rec->probe_start_ms, probe_start);
	atomic_store(&rec->next_due_ms, next_due);
	atomic_store(&rec->last_check_ms, last_check);
	tgc_table_write_end(&fx.table, rec);
}

START_TEST(checker_takeover_progress)
{
	/* The previous instance saw one failure of an up node (fall 2): the
	 * first probe of the new one confirms it down. */
	uint16_t port = srv_closed_port("127.0.0.1");
	ck_assert_uint_ne(port, 0);
	fx_node("127.0.0.1", port);
	fx_open(TOKEN);
	uint64_t t0 = tgc_table_now_ms();
	fx_history(0, TGC_HEALTH_UP, 0, 1, 0, 0, t0 - 100);
	fx_conf(TGC_CHECK_TCP);
	fx.conf.params.interval_ms = 2000;
	fx.conf.params.timeout_ms = 500;
	fx_start();
	ck_assert(WAIT_UNTIL(health(0) == TGC_HEALTH_DOWN));
	fx_stop();

	tgc_node_snap_t s = snap(0);
	ck_assert_uint_eq(s.probes, 1);
	ck_assert_uint_eq(s.consec_fail, 2);
	ck_assert_uint_eq(s.transitions, 1);
	ck_assert_int_eq(s.last_probe, TGC_PROBE_REFUSED);
	ck_assert_uint_eq(fx.rec.events[0][TGC_HEALTH_UP][TGC_HEALTH_DOWN], 1);
	ck_assert_uint_eq(fx.rec.events_total, 1);
	/* The next probe is recorded as due after a normal interval. */
	ck_assert_uint_eq(s.probe_start_ms, 0);
	ck_assert_uint_gt(s.next_due_ms, s.last_check_ms + 1000);
	ck_assert_uint_le(s.next_due_ms, s.last_check_ms + 2000);
	fx_check_reports();
}
END_TEST

START_TEST(checker_takeover_due)
{
	/* The recorded due time is kept: no probe before it, although the
	 * stagger of node 0 would probe at once. */
	srv_t srv;
	ck_assert_int_eq(srv_start(&srv, "127.0.0.1", 0, SRV_TCP), 0);
	fx_node("127.0.0.1", srv.port);
	fx_open(TOKEN);
	uint64_t t0 = tgc_table_now_ms();
	fx_history(0, TGC_HEALTH_UP, 5, 0, 0, t0 + 1500, t0 - 1500);
	fx_conf(TGC_CHECK_TCP);
	fx.conf.params.interval_ms = 3000;
	fx.conf.params.timeout_ms = 500;
	fx_start();
	ck_assert(WAIT_UNTIL(thread_started(&fx.rec)));
	uint64_t until = srv_mono_ms() + 1000;
	(void)WAIT_UNTIL(srv_mono_ms() >= until || snap(0).probes > 0);
	ck_assert_uint_eq(snap(0).probes, 0);
	ck_assert_uint_eq(atomic_load(&srv.accepted), 0);

	ck_assert(WAIT_UNTIL(snap(0).probes == 1));
	fx_stop();
	srv_stop(&srv);
	tgc_node_snap_t s = snap(0);
	ck_assert_uint_ge(s.last_check_ms, t0 + 1490);
	ck_assert_int_eq(s.last_probe, TGC_PROBE_OK);
	ck_assert_uint_eq(s.consec_ok, 6);
	ck_assert_uint_eq(s.probe_start_ms, 0);
	ck_assert_uint_gt(s.next_due_ms, s.last_check_ms + 2000);
	ck_assert_uint_le(s.next_due_ms, s.last_check_ms + 3000);
	ck_assert_uint_eq(fx.rec.events_total, 0);
	fx_check_reports();
}
END_TEST

START_TEST(checker_takeover_inflight)
{
	/* A probe of a hung node was in flight for 1.5 s of its 2 s when the
	 * table was taken over: the new instance probes again but keeps the
	 * deadline, so the failure comes about 0.5 s later, not 2 s. */
	srv_t srv;
	ck_assert_int_eq(srv_start(&srv, "127.0.0.1", 0, SRV_HUNG), 0);
	fx_node("127.0.0.1", srv.port);
	fx_open(TOKEN);
	uint64_t t0 = tgc_table_now_ms();
	uint64_t started = t0 - 1500;
	fx_history(0, TGC_HEALTH_UP, 5, 0, started, started, started - 5000);
	fx_conf(TGC_CHECK_RFB);
	fx.conf.params.interval_ms = 5000;
	fx.conf.params.timeout_ms = 2000;
	fx_start();
	ck_assert(WAIT_UNTIL(snap(0).consec_fail >= 1));
	tgc_node_snap_t s = snap(0);
	ck_assert_int_eq(s.last_probe, TGC_PROBE_TIMEOUT);
	ck_assert_uint_ge(s.last_check_ms, started + 2000 - 5);
	ck_assert_msg(s.last_check_ms < t0 + 1500, "first failure %" PRIu64
	              " ms after the takeover: the deadline was extended",
	              s.last_check_ms - t0);
	ck_assert_uint_ge(atomic_load(&srv.accepted), 1);
	/* Its duration is that of the whole probe, both instances' parts. */
	ck_assert_uint_ge(s.last_rtt_us, 1900000);
	/* The fast-paced second probe (a full timeout) confirms it down. */
	ck_assert(WAIT_UNTIL(health(0) == TGC_HEALTH_DOWN));
	fx_stop();
	srv_stop(&srv);
	ck_assert_uint_eq(fx.rec.events[0][TGC_HEALTH_UP][TGC_HEALTH_DOWN], 1);
	ck_assert_uint_eq(snap(0).probes, 2);
	fx_check_reports();
}
END_TEST

START_TEST(checker_takeover_expired)
{
	/* A probe was in flight when the previous instance stopped, and its
	 * deadline passed before this one started: it counts as a timeout
	 * (here the second failure: down), although the node is fine now;
	 * then probes bring it back. */
	srv_t srv;
	ck_assert_int_eq(srv_start(&srv, "127.0.0.1", 0, SRV_TCP), 0);
	fx_node("127.0.0.1", srv.port);
	fx_open(TOKEN);
	uint64_t t0 = tgc_table_now_ms();
	fx_history(0, TGC_HEALTH_UP, 0, 1, t0 - 10000, t0 - 10000, t0 - 10250);
	fx_conf(TGC_CHECK_TCP);
	fx.conf.params.interval_ms = 2000;
	fx.conf.params.timeout_ms = 500;
	fx_start();
	ck_assert(WAIT_UNTIL(ev(&fx.rec, 0, TGC_HEALTH_UP, TGC_HEALTH_DOWN) == 1));
	ck_assert(WAIT_UNTIL(health(0) == TGC_HEALTH_UP));
	fx_stop();
	srv_stop(&srv);

	ck_assert_uint_eq(fx.rec.ev_consec_fail[0], 0); /* at the last event */
	ck_assert_uint_eq(fx.rec.events[0][TGC_HEALTH_DOWN][TGC_HEALTH_UP], 1);
	char line[128];
	snprintf(line, sizeof(line), "node 127.0.0.1 port %u up -> down "
	         "(timeout, 500 ms)", srv.port);
	ck_assert_uint_eq(log_has(&fx.rec, line), 1);
	/* One fed failure plus the probes that brought it back (rise 2). */
	tgc_node_snap_t s = snap(0);
	ck_assert_uint_ge(s.probes, 3);
	ck_assert_uint_eq(s.transitions, 2);
	ck_assert_uint_ge(atomic_load(&srv.accepted), 2);
	fx_check_reports();
}
END_TEST

START_TEST(checker_none)
{
	srv_t srv;
	ck_assert_int_eq(srv_start(&srv, "127.0.0.1", 0, SRV_TCP), 0);
	fx_node("127.0.0.1", srv.port);
	fx_node("127.0.0.2", srv_closed_port("127.0.0.2"));
	fx_open(TOKEN);
	/* A health left by an earlier configuration is not touched. */
	tgc_node_rec_t *rec = &fx.table.nodes[1];
	ck_assert(tgc_table_write_begin(rec));
	atomic_store(&rec->health, TGC_HEALTH_DOWN);
	tgc_table_write_end(&fx.table, rec);

	fx_conf(TGC_CHECK_NONE);
	fx_start();
	ck_assert(WAIT_UNTIL(snap(0).last_probe == TGC_PROBE_DISABLED &&
	                     snap(1).last_probe == TGC_PROBE_DISABLED));
	uint64_t hb = atomic_load(&fx.table.hdr->heartbeat_ms);
	ck_assert_uint_gt(hb, 0);
	ck_assert(WAIT_UNTIL(atomic_load(&fx.table.hdr->heartbeat_ms) >= hb + 400));
	fx_stop();
	srv_stop(&srv);

	ck_assert_int_eq(snap(0).health, TGC_HEALTH_UNKNOWN);
	ck_assert_int_eq(snap(1).health, TGC_HEALTH_DOWN);
	ck_assert_uint_eq(snap(0).probes, 0);
	ck_assert_uint_eq(snap(1).probes, 0);
	ck_assert_uint_eq(atomic_load(&srv.accepted), 0);
	ck_assert_uint_eq(fx.rec.events_total, 0);
	ck_assert_uint_eq(fx.rec.log_count, 0);
	ck_assert_uint_eq(fx.rec.thread_start_calls, 1);
	ck_assert_uint_eq(fx.rec.thread_stop_calls, 1);
}
END_TEST

/*! \brief Number of open file descriptors of the process. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL) {
		return -1;
	}
	int n = 0;
	while (readdir(d) != NULL) {
		n++;
	}
	closedir(d);
	return n;
}

/*! \brief Number of threads of the process. */
static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	if (d == NULL) {
		return -1;
	}
	int n = 0;
	while (readdir(d) != NULL) {
		n++;
	}
	closedir(d);
	return n;
}

START_TEST(checker_stop)
{
	enum { N = 8 };
	srv_t srv[N];
	char ip[N][INET_ADDRSTRLEN];
	for (int i = 0; i < N; i++) {
		snprintf(ip[i], sizeof(ip[i]), "127.0.1.%d", i + 1);
		ck_assert_int_eq(srv_start(&srv[i], ip[i], 0,
		                           (i % 2) ? SRV_NOACCEPT : SRV_HUNG), 0);
		fx_node(ip[i], srv[i].port);
	}
	fx_open(TOKEN);

	/* libuv opens a process-wide pipe pair with its first loop (signal
	 * handling, never closed): count after a first start/stop. */
	fx_conf(TGC_CHECK_NONE);
	fx_start();
	fx_stop();
	int fds = count_fds();
	int threads = count_threads();
	ck_assert_int_gt(fds, 0);

	for (int round = 0; round < 30; round++) {
		memset(&fx.rec, 0, sizeof(fx.rec));
		pthread_mutex_init(&fx.rec.lock, NULL);
		fx.rec.table = &fx.table;
		fx_conf((round % 3 == 0) ? TGC_CHECK_TCP : TGC_CHECK_RFB);
		/* Probes hang for 2 s: stopping always finds some in flight
		 * once the first connection was accepted. */
		fx.conf.params.interval_ms = 4000;
		fx.conf.params.timeout_ms = 2000;
		unsigned accepted = atomic_load(&srv[0].accepted);
		uint64_t started = srv_mono_ms();
		fx_start();
		if (round % 2 == 0) {
			/* Node 0 (hung) is probed at once. */
			ck_assert(WAIT_UNTIL(fx.conf.params.check == TGC_CHECK_TCP ||
			                     atomic_load(&srv[0].accepted) > accepted));
		} else {
			/* Stops 0 to 4 ms after the start (not a wait). */
			usleep((useconds_t)(round % 5) * 1000);
		}
		uint64_t t0 = srv_mono_ms();
		fx_stop();
		ck_assert_msg(srv_mono_ms() - t0 < 1000, "stop took %" PRIu64 " ms",
		              srv_mono_ms() - t0);
		ck_assert_uint_eq(fx.rec.thread_start_calls, 1);
		ck_assert_uint_eq(fx.rec.thread_stop_calls, 1);
		ck_assert_uint_eq(fx.rec.calls_after_stop, 0);
		/* The probes did not complete: no transitions, no events
		 * (unless getting here took longer than a timeout). */
		if (fx.conf.params.check == TGC_CHECK_RFB &&
		    t0 - started < fx.conf.params.timeout_ms) {
			ck_assert_uint_eq(fx.rec.events_total, 0);
		}
		/* The records keep the probes in flight, which the next start
		 * would resume and, once their timeout passed, count failed:
		 * each round starts without them. */
		for (uint32_t i = 0; i < N; i++) {
			tgc_node_update_t clear = {
				.what = TGC_NODE_UPD_START | TGC_NODE_UPD_DUE,
			};
			ck_assert(tgc_table_node_update(&fx.table, i, &clear));
		}
		pthread_mutex_destroy(&fx.rec.lock);
		/* No fd or thread outlives the checker. */
		/* (the hung listeners close their side when they see ours
		 * closed, asynchronously) */
		ck_assert_msg(WAIT_UNTIL(count_fds() == fds), "%d fds, %d before",
		              count_fds(), fds);
		ck_assert_msg(WAIT_UNTIL(count_threads() == threads),
		              "%d threads, %d before", count_threads(), threads);
	}
	pthread_mutex_init(&fx.rec.lock, NULL);
	/* Nothing calls back after stop returned (a window of 20 ms). */
	usleep(20000);
	ck_assert_uint_eq(fx.rec.calls_after_return, 0);

	for (int i = 0; i < N; i++) {
		srv_stop(&srv[i]);
	}
}
END_TEST

START_TEST(checker_emfile)
{
	srv_t srv;
	ck_assert_int_eq(srv_start(&srv, "127.0.0.1", 0, SRV_TCP), 0);
	fx_node("127.0.0.1", srv.port);
	fx_open(TOKEN);
	fx_conf(TGC_CHECK_TCP);
	fx_start();
	ck_assert(WAIT_UNTIL(health(0) == TGC_HEALTH_UP));

	/* Starve the process of file descriptors: a soft limit at the lowest
	 * free descriptor number (at most 3, the stdio ones are open) makes
	 * every new socket fail with EMFILE while the descriptors already
	 * open keep working. No descriptor is opened or closed by this thread
	 * meanwhile (TSan cannot see the kernel order of descriptor reuse). */
	struct rlimit old, low;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	int lowest = 0;
	while (lowest < 3 && fcntl(lowest, F_GETFD) != -1) {
		lowest++;
	}
	low = old;
	low.rlim_cur = (rlim_t)lowest;
	uint64_t probes = snap(0).probes;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	bool starved = WAIT_UNTIL(snap(0).last_probe == TGC_PROBE_ERROR &&
	                          snap(0).probes >= probes + 5);
	tgc_node_snap_t s = snap(0);
	unsigned logged = log_has(&fx.rec, "cannot probe node 127.0.0.1");
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);

	ck_assert(starved);
	/* Not fed to the state machine: the node keeps its state. */
	ck_assert_int_eq(s.health, TGC_HEALTH_UP);
	ck_assert_uint_eq(s.consec_fail, 0);
	ck_assert_uint_eq(logged, 1);

	/* Sockets again: probing resumes, logged once. */
	ck_assert(WAIT_UNTIL(snap(0).last_probe == TGC_PROBE_OK));
	ck_assert(WAIT_UNTIL(log_has(&fx.rec, "probing resumed") == 1));
	fx_stop();
	srv_stop(&srv);
	ck_assert_uint_eq(log_has(&fx.rec, "cannot probe node"), 1);
	ck_assert_uint_eq(log_has(&fx.rec, "probing resumed"), 1);
	ck_assert_int_eq(snap(0).health, TGC_HEALTH_UP);
	ck_assert_uint_eq(snap(0).transitions, 1);
	fx_check_reports();
}
END_TEST

START_TEST(checker_ipv6)
{
	srv_t srv;
	/* No IPv6 loopback is a failure, not a skip: the integration tests
	 * need it too. */
	ck_assert_msg(srv_start(&srv, "::1", 0, SRV_RFB) == 0,
	              "cannot listen on ::1 (no IPv6 loopback?)");
	uint16_t closed = srv_closed_port("::1");
	fx_node("::1", srv.port);
	fx_node("::1", closed);
	fx_open(TOKEN);
	fx_conf(TGC_CHECK_RFB);
	fx_start();
	ck_assert(WAIT_UNTIL(health(0) == TGC_HEALTH_UP));
	ck_assert(WAIT_UNTIL(health(1) == TGC_HEALTH_DOWN));
	fx_stop();
	srv_stop(&srv);
	char line[96];
	snprintf(line, sizeof(line), "node ::1 port %u unknown -> up (ok, ", srv.port);
	ck_assert_uint_eq(log_has(&fx.rec, line), 1);
	fx_check_reports();
}
END_TEST

START_TEST(checker_args)
{
	fx_node("127.0.0.1", 1);
	fx_open(TOKEN);
	fx_conf(TGC_CHECK_TCP);
	tgc_checker_t *ck = NULL;

	ck_assert_int_eq(tgc_checker_start(NULL, &fx.conf), KNOT_EINVAL);
	ck_assert_int_eq(tgc_checker_start(&ck, NULL), KNOT_EINVAL);
	tgc_checker_conf_t c = fx.conf;
	c.table = NULL;
	ck_assert_int_eq(tgc_checker_start(&ck, &c), KNOT_EINVAL);
	c = fx.conf;
	c.params.interval_ms = 0;
	ck_assert_int_eq(tgc_checker_start(&ck, &c), KNOT_EINVAL);
	c = fx.conf;
	c.params.check = (tgc_check_t)7;
	ck_assert_int_eq(tgc_checker_start(&ck, &c), KNOT_EINVAL);
	ck_assert_ptr_null(ck);
	tgc_checker_stop(NULL);

	/* No callbacks at all is fine. */
	c = fx.conf;
	c.log = NULL;
	c.event = NULL;
	c.thread_start = NULL;
	c.thread_stop = NULL;
	ck_assert_int_eq(tgc_checker_start(&ck, &c), KNOT_EOK);
	ck_assert(WAIT_UNTIL(snap(0).probes >= 2));
	tgc_checker_stop(ck);
}
END_TEST

/*! \brief Adds a TCase with the checker fixture. */
static void add_checker_case(Suite *s, const char *name, const TTest *test)
{
	TCase *tc = tcase_create(name);
	tcase_add_checked_fixture(tc, fx_setup, fx_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test);
	suite_add_tcase(s, tc);
}

/*! \brief The suite: one TCase per behaviour. */
static Suite *health_suite(void)
{
	Suite *s = suite_create("health");

	add_checker_case(s, "checker_tcp", checker_tcp);
	add_checker_case(s, "checker_rfb", checker_rfb);
	add_checker_case(s, "checker_rfb_refusal", checker_rfb_refusal);
	add_checker_case(s, "checker_flap", checker_flap);
	add_checker_case(s, "checker_writer", checker_writer);
	add_checker_case(s, "checker_admin", checker_admin);
	add_checker_case(s, "checker_resume", checker_resume);
	add_checker_case(s, "checker_takeover_progress", checker_takeover_progress);
	add_checker_case(s, "checker_takeover_due", checker_takeover_due);
	add_checker_case(s, "checker_takeover_inflight", checker_takeover_inflight);
	add_checker_case(s, "checker_takeover_expired", checker_takeover_expired);
	add_checker_case(s, "checker_none", checker_none);
	add_checker_case(s, "checker_stop", checker_stop);
	add_checker_case(s, "checker_emfile", checker_emfile);
	add_checker_case(s, "checker_ipv6", checker_ipv6);
	add_checker_case(s, "checker_args", checker_args);

	return s;
}

TEST_MAIN(health)
