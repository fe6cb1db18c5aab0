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

/*
 * Who writes a segment: owner words (a process named by its pid and start
 * time), the writer tokens of this process's instances, the claim and the
 * retake from a writer that is gone, and the SIGBUS guard under which the
 * copies between a private view and its segment run.
 */

#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libknot/errcode.h>

#include "module/table_int.h"

/*
 * Ownership.
 */

uint64_t tgc_table_proc_start(pid_t pid)
{
	if (pid <= 0) {
		return 0;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return 0;
	}
	char buf[1024];
	ssize_t len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0) {
		return 0;
	}
	buf[len] = '\0';
	/* The command name (field 2) may hold spaces and parentheses: count
	 * fields from the last ')'. Field 3 follows it; we want field 22. */
	char *p = strrchr(buf, ')');
	if (p == NULL) {
		return 0;
	}
	p++;
	for (int field = 2; field < 21 && p != NULL; field++) {
		p = strchr(p + 1, ' ');
	}
	if (p == NULL) {
		return 0;
	}
	char *end = NULL;
	unsigned long long start = strtoull(p + 1, &end, 10);
	if (end == p + 1) {
		return 0;
	}

	return (start == 0) ? 1 : (uint64_t)start;
}

uint64_t tgc_table_owner_self(void)
{
	static _Atomic uint64_t self;
	static _Atomic pid_t self_pid;
	pid_t pid = getpid();
	/* Cached per process (a fork gets its own pid, hence a new value). */
	if (atomic_load_explicit(&self_pid, memory_order_acquire) != pid) {
		atomic_store_explicit(&self, TGC_TABLE_OWNER(pid, tgc_table_proc_start(pid)),
		                      memory_order_relaxed);
		atomic_store_explicit(&self_pid, pid, memory_order_release);
	}

	return atomic_load_explicit(&self, memory_order_relaxed);
}

bool tgc_table_owner_alive(uint64_t owner)
{
	if (owner == 0) {
		return false;
	}
	uint64_t start = tgc_table_proc_start(TGC_TABLE_OWNER_PID(owner));

	return start != 0 && TGC_TABLE_OWNER(TGC_TABLE_OWNER_PID(owner), start) == owner;
}

/*
 * Writer tokens of this process's instances (claimed and not yet released):
 * a token in a segment owned by this process whose instance is gone (a
 * failed load) is taken back by the next sync.
 */

/*! \brief Most instances of one process that hold tokens at once. */
#define TOKENS_MAX	1024

static pthread_mutex_t tokens_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t tokens[TOKENS_MAX];

/*! \brief Records a live token. */
static void token_add(uint64_t token)
{
	pthread_mutex_lock(&tokens_lock);
	for (size_t i = 0; i < TOKENS_MAX; i++) {
		if (tokens[i] == token) {
			break;
		}
		if (tokens[i] == 0) {
			tokens[i] = token;
			break;
		}
	}
	pthread_mutex_unlock(&tokens_lock);
}

/*! \brief Tells whether a token belongs to a live instance of this process
 *         (a full registry answers yes: never take from a live instance). */
static bool token_live(uint64_t token)
{
	bool live = false;
	pthread_mutex_lock(&tokens_lock);
	for (size_t i = 0; i < TOKENS_MAX && !live; i++) {
		live = (tokens[i] == token) || (i == TOKENS_MAX - 1 && tokens[i] != 0);
	}
	pthread_mutex_unlock(&tokens_lock);

	return live;
}

void tgc_table_release(uint64_t token)
{
	if (token == 0) {
		return;
	}
	pthread_mutex_lock(&tokens_lock);
	for (size_t i = 0; i < TOKENS_MAX; i++) {
		if (tokens[i] == token) {
			tokens[i] = 0;
		}
	}
	pthread_mutex_unlock(&tokens_lock);
}

/*
 * SIGBUS guard: the segment can be truncated under us by its owner or root.
 * Copies in and out of it run inside tgc_seg_guarded(): a fault there jumps back
 * and the segment is dropped. A SIGBUS anywhere else goes to the previous
 * disposition. The handler is installed while private views exist.
 */

static __thread sigjmp_buf *guard_env __attribute__((tls_model("initial-exec")));
static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned guard_users;
static struct sigaction guard_prev;

static void guard_handler(int sig, siginfo_t *info, void *uctx)
{
	sigjmp_buf *env = guard_env;
	if (env != NULL && info != NULL && info->si_code > 0) {
		guard_env = NULL;
		siglongjmp(*env, 1);
	}
	/* Not ours: a previous handler gets it as if we were not there, and
	 * the guard stays installed for the segment copies still to come. */
	bool dfl = (guard_prev.sa_handler == SIG_DFL);
	bool ign = (guard_prev.sa_handler == SIG_IGN);
	if (!dfl && !ign) {
		if ((guard_prev.sa_flags & SA_SIGINFO) != 0) {
			guard_prev.sa_sigaction(sig, info, uctx);
		} else {
			guard_prev.sa_handler(sig);
		}
		return;
	}
	if (ign && (info == NULL || info->si_code <= 0)) {
		return; /* A sent signal, ignored before us. */
	}
	/* Default action (a fault cannot be ignored): restore it. A fault
	 * happens again when the instruction is retried; a sent signal is
	 * sent again. Either ends the process. */
	sigaction(SIGBUS, &guard_prev, NULL);
	if (info == NULL || info->si_code <= 0) {
		raise(sig);
	}
}

void tgc_seg_guard_get(void)
{
	pthread_mutex_lock(&guard_lock);
	if (guard_users++ == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = guard_handler;
		sa.sa_flags = SA_SIGINFO | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGBUS, &sa, &guard_prev);
	}
	pthread_mutex_unlock(&guard_lock);
}

void tgc_seg_guard_put(void)
{
	pthread_mutex_lock(&guard_lock);
	if (guard_users > 0 && --guard_users == 0) {
		struct sigaction cur;
		if (sigaction(SIGBUS, NULL, &cur) == 0 &&
		    (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == guard_handler) {
			sigaction(SIGBUS, &guard_prev, NULL);
		}
	}
	pthread_mutex_unlock(&guard_lock);
}

bool tgc_seg_guarded(void (*fn)(void *), void *arg)
{
	sigset_t bus, old;
	sigemptyset(&bus);
	sigaddset(&bus, SIGBUS);
	/* Module threads run with signals blocked; a blocked fault kills. */
	pthread_sigmask(SIG_UNBLOCK, &bus, &old);

	sigjmp_buf env;
	volatile bool ok = true;
	if (sigsetjmp(env, 1) == 0) {
		guard_env = &env;
		fn(arg);
	} else {
		ok = false;
	}
	guard_env = NULL;
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	return ok;
}

/*! \brief The mapping that holds the shared state (segment or plain table). */
static tgc_table_hdr_t *seg_hdr(const tgc_table_t *table)
{
	return (table->seg != NULL) ? table->seg->hdr : table->hdr;
}

/*! \brief Arguments of the guarded claim. */
typedef struct {
	tgc_table_hdr_t *hdr;
	const tgc_table_hdr_t *layout; /*!< Checked header (see tgc_rec_unstick()). */
	uint64_t token;
	uint64_t self;
	bool take_dead_token;  /*!< Retake: also replace a token of a gone
	                        *   instance of this process. */
	int ret;
	uint64_t prev;         /*!< Owner before. */
	unsigned closed;
} claim_t;

/*! \brief The claim itself (see tgc_table_claim()). */
static void claim_run(void *arg)
{
	claim_t *c = arg;
	uint64_t owner = atomic_load_explicit(&c->hdr->owner, memory_order_acquire);
	for (;;) {
		c->prev = owner;
		if (owner != 0 && owner != c->self && tgc_table_owner_alive(owner)) {
			c->ret = KNOT_EBUSY;
			return;
		}
		if (owner == c->self ||
		    atomic_compare_exchange_strong_explicit(&c->hdr->owner, &owner,
		                                            c->self,
		                                            memory_order_acq_rel,
		                                            memory_order_acquire)) {
			break;
		}
		/* Another process claimed meanwhile: judge it again. */
	}
	STORE(c->hdr->writer, c->token);
	STORE(c->hdr->writer_pid, (uint64_t)TGC_TABLE_OWNER_PID(c->self));
	/* Open sections of a dead process are closed; those of this process
	 * (the previous instance during a reload) end by themselves. */
	if (c->prev != c->self) {
		c->closed = tgc_rec_unstick(c->hdr, c->layout);
	}
	c->ret = KNOT_EOK;
}

int tgc_table_claim(tgc_table_t *table, uint64_t token, unsigned *closed)
{
	if (closed != NULL) {
		*closed = 0;
	}
	if (table == NULL || table->hdr == NULL || token == 0 || !table->writable) {
		return KNOT_EINVAL;
	}
	tgc_table_hdr_t *hdr = seg_hdr(table);
	if (hdr == NULL) {
		return KNOT_EFILE;
	}
	claim_t c = { .hdr = hdr, .layout = table->hdr, .token = token,
	              .self = tgc_table_owner_self() };
	bool ok = (table->seg != NULL) ? tgc_seg_guarded(claim_run, &c) :
	                                 (claim_run(&c), true);
	if (!ok) {
		return KNOT_EFILE;
	}
	if (c.ret == KNOT_EBUSY) {
		table->owner_pid = TGC_TABLE_OWNER_PID(c.prev);
		return KNOT_EBUSY;
	}
	token_add(token);
	if (table->seg != NULL) {
		STORE(table->hdr->owner, c.self);
		STORE(table->hdr->writer, token);
		STORE(table->hdr->writer_pid, (uint64_t)TGC_TABLE_OWNER_PID(c.self));
		table->seg->pub_all = true;
	}
	if (closed != NULL) {
		*closed = c.closed;
	}

	return KNOT_EOK;
}

bool tgc_seg_writer(tgc_table_hdr_t *hdr, const tgc_table_hdr_t *layout,
                    uint64_t token, tgc_table_sync_t *out)
{
	uint64_t cur = LOAD(hdr->writer);
	if (cur == token) {
		return true;
	}
	uint64_t self = tgc_table_owner_self();
	uint64_t owner = atomic_load_explicit(&hdr->owner, memory_order_acquire);
	bool gone = (owner == self) ? !token_live(cur) :
	            (owner == 0 || !tgc_table_owner_alive(owner));
	if (!gone) {
		return false;
	}
	claim_t c = { .hdr = hdr, .layout = layout, .token = token, .self = self };
	claim_run(&c);
	if (c.ret != KNOT_EOK) {
		return false;
	}
	out->retaken = true;
	out->gone_pid = TGC_TABLE_OWNER_PID(c.prev);
	out->closed = c.closed;

	return true;
}
