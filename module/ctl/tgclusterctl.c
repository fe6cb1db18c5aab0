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
 * \brief tgclusterctl: shows and steers the live-node tables of mod-tgcluster.
 *
 * Commands: list, status, set, watch, metrics, prune (see
 * docs/tgclusterctl.rst). Reads the shared-memory segments with the core's
 * table code; the only writes are the admin state of one node
 * (tgc_table_admin_set(), one atomic store), the metrics file, and the
 * removal of segments no live process owns (prune).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#include <libknot/errcode.h>
#include <libknot/error.h>
#include <libknot/libknot.h>

#include "module/admin.h"
#include "module/ctl/format.h"
#include "module/table.h"

#ifndef TGC_CTL_VERSION
/*! \brief Program version (set by meson). */
#define TGC_CTL_VERSION	"unknown"
#endif

/*! \brief Program name in messages. */
#define PROGRAM		"tgclusterctl"
/*! \brief Directory holding POSIX shared-memory segments. */
#define SHM_DIR		"/dev/shm"
/*! \brief Most candidates listed for an ambiguous argument. */
#define CANDS_MAX	32
/*! \brief How long set waits for knotd to take an admin change in, ms. */
#define SET_WAIT_MS	2000
/*! \brief Default and bounds of the watch interval, ms. */
#define WATCH_DEFAULT_MS	1000
#define WATCH_MIN_MS		10
#define WATCH_MAX_MS		3600000
/*! \brief Default of drain --timeout, s. */
#define DRAIN_TIMEOUT_S		60
/*! \brief drain --wait: answer count unchanged this long = no answers, ms
 *         (knotd folds its workers' counts into the segment every 200 ms). */
#define DRAIN_QUIET_MS		1000

/*! \brief Commands. */
typedef enum {
	CMD_NONE, CMD_LIST, CMD_STATUS, CMD_SET, CMD_WATCH, CMD_METRICS, CMD_PRUNE,
	CMD_DRAIN, CMD_EXPLAIN,
} cmd_t;

/*! \brief Parsed command line. */
typedef struct {
	cmd_t cmd;          /*!< Command. */
	bool json;          /*!< --json given. */
	bool force;         /*!< --force given. */
	bool wait;          /*!< --wait given (drain). */
	bool timeout_set;   /*!< --timeout given. */
	uint32_t timeout_s; /*!< --timeout (drain --wait). */
	int ecs;            /*!< --ecs prefix length, -1 = the full address. */
	const char *server; /*!< --server (explain). */
	bool interval_set;  /*!< --interval given. */
	bool count_set;     /*!< --count given. */
	uint32_t interval_ms; /*!< --interval. */
	uint64_t count;     /*!< --count (frames). */
	const char *output; /*!< --output FILE (metrics). */
	bool dry_run;       /*!< --dry-run (prune). */
	char **pos;         /*!< Positional arguments after the command. */
	int npos;           /*!< Their number. */
} args_t;

/*! \brief Segments found on the host. */
typedef struct {
	tgc_ctl_seg_t *segs; /*!< Sorted by name. */
	size_t count;        /*!< Number of segments. */
	size_t unreadable;   /*!< How many could not be read. */
} seg_list_t;

/*! \brief Text escaped for a terminal (tgc_ctl_safe_copy()), in a buffer
 *         large enough for any segment name or zone. */
#define SAFE(str, buf)	tgc_ctl_safe_copy((str), (buf), sizeof(buf))

/*! \brief Room for one escaped name (segment, zone, argument). */
typedef char safe_buf_t[TGC_CTL_SAFE_LEN(TGC_TABLE_NAME_MAX + 1)];

/*!
 * \brief Prints an error message on stderr.
 *
 * The message is escaped as a whole: segment names, zones and arguments in
 * it may come from other users (anyone may create files in SHM_DIR).
 */
static void errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void errorf(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tgc_ctl_buf_t buf;
	tgc_ctl_buf_init(&buf);
	tgc_ctl_buf_safe_str(&buf, msg);
	fprintf(stderr, PROGRAM ": %s\n", buf.failed ? "out of memory" :
	                                   tgc_ctl_buf_str(&buf));
	tgc_ctl_buf_free(&buf);
}

/*! \brief Prints the usage text. */
static void usage(FILE *out)
{
	fprintf(out,
	"Usage: " PROGRAM " [options] COMMAND [arguments]\n"
	"\n"
	"Shows and steers the live-node tables of mod-tgcluster (Knot DNS).\n"
	"\n"
	"Commands:\n"
	"  list [--json]                         Segments on this host.\n"
	"  status [INSTANCE] [--json]            Nodes of an instance.\n"
	"  set [INSTANCE] NODE auto|drain|up|down [--force]\n"
	"                                        Set the local admin state of a\n"
	"                                        node (beats the zone's admin\n"
	"                                        records; auto hands it back).\n"
	"  drain [INSTANCE] NODE [--wait [--timeout S]] [--force]\n"
	"                                        set NODE drain; with --wait return\n"
	"                                        when it no longer gets answers.\n"
	"  explain [INSTANCE] CLIENT-IP [--ecs PREFIX] [--server ADDR@PORT]\n"
	"                                        Ask knotd for the answer this client\n"
	"                                        gets now (ECS) and say per node why\n"
	"                                        it is in or out.\n"
	"  watch [INSTANCE] [--interval MS] [--count N]\n"
	"                                        Redraw the status until interrupted.\n"
	"  metrics [INSTANCE] [--output FILE]    Prometheus text format (all\n"
	"                                        instances without INSTANCE).\n"
	"  prune [--dry-run] [SEGMENT...]        Remove segments without a live\n"
	"                                        writer (leftovers of a stopped knotd);\n"
	"                                        only the SEGMENTs named, if any.\n"
	"\n"
	"INSTANCE  segment name (with or without \"" TGC_TABLE_PREFIX "\") or zone;\n"
	"          may be omitted when exactly one segment exists, or exactly\n"
	"          one has a live writer.\n"
	"NODE      index, address, or address@port.\n"
	"\n"
	"Options:\n"
	"  -j, --json          JSON output (status, list).\n"
	"  -f, --force         Set, drain: apply a drain/down that min-live refuses.\n"
	"  -w, --wait          Drain: wait until the node gets no more answers\n"
	"                      (and its agent reports 0 sessions, if it reports any).\n"
	"  -t, --timeout S     Drain --wait: give up after S seconds [%d].\n"
	"  -e, --ecs PREFIX    Explain: client subnet length [the full address].\n"
	"  -s, --server A@P    Explain: knotd to ask [127.0.0.1@53].\n"
	"  -i, --interval MS   Watch refresh period [%d].\n"
	"  -n, --count N       Watch: stop after N frames.\n"
	"  -o, --output FILE   Metrics: write FILE atomically (temporary file in\n"
	"                      its directory, then rename) instead of stdout.\n"
	"  --dry-run           Prune: only say what would be removed.\n"
	"  -h, --help          This text.\n"
	"  -V, --version       Program and layout versions.\n"
	"\n"
	"Exit codes: 0 ok, 1 other error, 2 usage, 3 no such instance,\n"
	"4 permission denied, 5 incompatible segment version, 6 no such node,\n"
	"7 invalid segment, 8 refused by the min-live guard, 9 drain --wait\n"
	"timed out.\n", WATCH_DEFAULT_MS, DRAIN_TIMEOUT_S);
}

/*! \brief Parses a decimal option value within bounds. */
static bool parse_num(const char *str, uint64_t min, uint64_t max, uint64_t *out)
{
	if (str == NULL || *str < '0' || *str > '9') {
		return false;
	}
	errno = 0;
	char *end = NULL;
	unsigned long long val = strtoull(str, &end, 10);
	if (errno != 0 || *end != '\0' || val < min || val > max) {
		return false;
	}
	*out = val;

	return true;
}

/*! \brief Parses the command line; returns an exit code or -1 to go on. */
static int parse_args(int argc, char **argv, args_t *args)
{
	static const struct option opts[] = {
		{ "json",     no_argument,       NULL, 'j' },
		{ "force",    no_argument,       NULL, 'f' },
		{ "wait",     no_argument,       NULL, 'w' },
		{ "timeout",  required_argument, NULL, 't' },
		{ "ecs",      required_argument, NULL, 'e' },
		{ "server",   required_argument, NULL, 's' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count",    required_argument, NULL, 'n' },
		{ "output",   required_argument, NULL, 'o' },
		{ "dry-run",  no_argument,       NULL, 'D' },
		{ "help",     no_argument,       NULL, 'h' },
		{ "version",  no_argument,       NULL, 'V' },
		{ NULL }
	};

	memset(args, 0, sizeof(*args));
	args->interval_ms = WATCH_DEFAULT_MS;
	args->ecs = -1;
	uint64_t val;
	int opt;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":jfwt:e:s:i:n:o:hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			args->json = true;
			break;
		case 'f':
			args->force = true;
			break;
		case 'w':
			args->wait = true;
			break;
		case 'e':
			if (!parse_num(optarg, 0, 128, &val)) {
				errorf("invalid --ecs '%s' (a prefix length)", optarg);
				return TGC_CTL_EXIT_USAGE;
			}
			args->ecs = (int)val;
			break;
		case 's':
			args->server = optarg;
			break;
		case 't':
			if (!parse_num(optarg, 1, 86400, &val)) {
				errorf("invalid --timeout '%s' (seconds, 1-86400)", optarg);
				return TGC_CTL_EXIT_USAGE;
			}
			args->timeout_s = (uint32_t)val;
			args->timeout_set = true;
			break;
		case 'i':
			if (!parse_num(optarg, WATCH_MIN_MS, WATCH_MAX_MS, &val)) {
				errorf("invalid --interval '%s' (milliseconds, %d-%d)",
				       optarg, WATCH_MIN_MS, WATCH_MAX_MS);
				return TGC_CTL_EXIT_USAGE;
			}
			args->interval_ms = (uint32_t)val;
			args->interval_set = true;
			break;
		case 'n':
			if (!parse_num(optarg, 1, UINT32_MAX, &val)) {
				errorf("invalid --count '%s' (a positive number)", optarg);
				return TGC_CTL_EXIT_USAGE;
			}
			args->count = val;
			args->count_set = true;
			break;
		case 'o':
			if (*optarg == '\0') {
				errorf("--output needs a file name");
				return TGC_CTL_EXIT_USAGE;
			}
			args->output = optarg;
			break;
		case 'D':
			args->dry_run = true;
			break;
		case 'h':
			usage(stdout);
			return TGC_CTL_EXIT_OK;
		case 'V':
			printf(PROGRAM " (mod-tgcluster) %s\n"
			       "segment layout version %u, JSON version %d\n",
			       TGC_CTL_VERSION, TGC_TABLE_VERSION, TGC_CTL_JSON_VERSION);
			return TGC_CTL_EXIT_OK;
		case ':':
			errorf("option '%s' needs a value", argv[optind - 1]);
			return TGC_CTL_EXIT_USAGE;
		default:
			errorf("unknown option '%s' (see --help)", argv[optind - 1]);
			return TGC_CTL_EXIT_USAGE;
		}
	}

	if (optind >= argc) {
		usage(stderr);
		return TGC_CTL_EXIT_USAGE;
	}
	const char *cmd = argv[optind];
	args->pos = argv + optind + 1;
	args->npos = argc - optind - 1;
	if (strcmp(cmd, "list") == 0) {
		args->cmd = CMD_LIST;
	} else if (strcmp(cmd, "status") == 0) {
		args->cmd = CMD_STATUS;
	} else if (strcmp(cmd, "set") == 0) {
		args->cmd = CMD_SET;
	} else if (strcmp(cmd, "watch") == 0) {
		args->cmd = CMD_WATCH;
	} else if (strcmp(cmd, "metrics") == 0) {
		args->cmd = CMD_METRICS;
	} else if (strcmp(cmd, "prune") == 0) {
		args->cmd = CMD_PRUNE;
	} else if (strcmp(cmd, "drain") == 0) {
		args->cmd = CMD_DRAIN;
	} else if (strcmp(cmd, "explain") == 0) {
		args->cmd = CMD_EXPLAIN;
	} else if (strcmp(cmd, "help") == 0) {
		usage(stdout);
		return TGC_CTL_EXIT_OK;
	} else {
		errorf("unknown command '%s' (see --help)", cmd);
		return TGC_CTL_EXIT_USAGE;
	}

	if (args->json && args->cmd != CMD_STATUS && args->cmd != CMD_LIST) {
		errorf("--json applies to 'status' and 'list' only");
		return TGC_CTL_EXIT_USAGE;
	}
	if ((args->interval_set || args->count_set) && args->cmd != CMD_WATCH) {
		errorf("--interval and --count apply to 'watch' only");
		return TGC_CTL_EXIT_USAGE;
	}
	if ((args->wait || args->timeout_set) && args->cmd != CMD_DRAIN) {
		errorf("--wait and --timeout apply to 'drain' only");
		return TGC_CTL_EXIT_USAGE;
	}
	if (args->force && args->cmd != CMD_SET && args->cmd != CMD_DRAIN) {
		errorf("--force applies to 'set' and 'drain' only");
		return TGC_CTL_EXIT_USAGE;
	}
	if ((args->ecs >= 0 || args->server != NULL) && args->cmd != CMD_EXPLAIN) {
		errorf("--ecs and --server apply to 'explain' only");
		return TGC_CTL_EXIT_USAGE;
	}
	if (args->output != NULL && args->cmd != CMD_METRICS) {
		errorf("--output applies to 'metrics' only");
		return TGC_CTL_EXIT_USAGE;
	}
	if (args->dry_run && args->cmd != CMD_PRUNE) {
		errorf("--dry-run applies to 'prune' only");
		return TGC_CTL_EXIT_USAGE;
	}
	bool two = (args->cmd == CMD_DRAIN || args->cmd == CMD_EXPLAIN);
	int max_pos = (args->cmd == CMD_LIST) ? 0 : (args->cmd == CMD_SET) ? 3 :
	              (args->cmd == CMD_PRUNE) ? INT_MAX : two ? 2 : 1;
	int min_pos = (args->cmd == CMD_SET) ? 2 : two ? 1 : 0;
	if (args->npos < min_pos || args->npos > max_pos) {
		errorf("'%s' takes %s (see --help)", cmd,
		       (args->cmd == CMD_LIST) ? "no arguments" :
		       (args->cmd == CMD_SET) ? "[INSTANCE] NODE STATE" :
		       (args->cmd == CMD_DRAIN) ? "[INSTANCE] NODE" :
		       (args->cmd == CMD_EXPLAIN) ? "[INSTANCE] CLIENT-IP" :
		                                "at most an INSTANCE");
		return TGC_CTL_EXIT_USAGE;
	}

	return -1;
}

/* -- Segments ------------------------------------------------------------- */

/*! \brief qsort() comparator of segments by name. */
static int seg_cmp(const void *a, const void *b)
{
	return strcmp(((const tgc_ctl_seg_t *)a)->segment,
	              ((const tgc_ctl_seg_t *)b)->segment);
}

/*! \brief What stands at a segment's name if not a regular file (NULL:
 *         a regular file, or nothing). */
static const char *seg_kind(const char *segment)
{
	char path[sizeof(SHM_DIR) + TGC_TABLE_NAME_MAX + 2];
	snprintf(path, sizeof(path), SHM_DIR "/%s", segment);

	return tgc_ctl_path_kind(path);
}

static const char *untrusted(const tgc_table_t *table, char *buf, size_t len);

/*! \brief Lists the segments in SHM_DIR and reads their zones. */
static int segs_scan(seg_list_t *list)
{
	memset(list, 0, sizeof(*list));
	DIR *dir = opendir(SHM_DIR);
	if (dir == NULL) {
		errorf("cannot read %s: %s", SHM_DIR, strerror(errno));
		return TGC_CTL_EXIT_FAIL;
	}

	size_t cap = 0;
	const size_t plen = strlen(TGC_TABLE_PREFIX);
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		if (strncmp(de->d_name, TGC_TABLE_PREFIX, plen) != 0 ||
		    strlen(de->d_name) > TGC_TABLE_NAME_MAX - 1) {
			continue;
		}
		if (list->count == cap) {
			cap = (cap > 0) ? 2 * cap : 16;
			tgc_ctl_seg_t *mem = realloc(list->segs, cap * sizeof(*mem));
			if (mem == NULL) {
				closedir(dir);
				errorf("out of memory");
				return TGC_CTL_EXIT_FAIL;
			}
			list->segs = mem;
		}
		tgc_ctl_seg_t *seg = &list->segs[list->count++];
		memset(seg, 0, sizeof(*seg));
		snprintf(seg->segment, sizeof(seg->segment), "%s", de->d_name);
		/* A FIFO, directory or link at a segment's name is listed (it
		 * keeps knotd from creating the segment) but never opened. */
		seg->kind = seg_kind(seg->segment);
		if (seg->kind != NULL) {
			continue;
		}

		tgc_table_t table;
		if (tgc_table_attach(&table, seg->segment, false, NULL) == KNOT_EOK) {
			snprintf(seg->zone, sizeof(seg->zone), "%s", table.hdr->zone);
			seg->readable = true;
			/* Live: owned by a running process whose user owns the
			 * file (a look-alike never counts as the live one). */
			char why[16];
			seg->live = tgc_table_owner_alive(atomic_load_explicit(
				&table.hdr->owner, memory_order_acquire)) &&
				untrusted(&table, why, sizeof(why)) == NULL;
			tgc_table_close(&table);
		} else {
			list->unreadable++;
		}
	}
	closedir(dir);
	if (list->count > 1) {
		qsort(list->segs, list->count, sizeof(*list->segs), seg_cmp);
	}

	return TGC_CTL_EXIT_OK;
}

/*! \brief Prints candidate segments after an error. */
static void print_seg_cands(const seg_list_t *list, const size_t *cands, size_t n)
{
	for (size_t i = 0; i < n && i < CANDS_MAX; i++) {
		const tgc_ctl_seg_t *s = &list->segs[cands[i]];
		safe_buf_t seg, zone;
		fprintf(stderr, "  %s%s%s%s%s\n", SAFE(s->segment, seg),
		        s->readable ? " (zone " : "",
		        s->readable ? SAFE(s->zone, zone) : "", s->readable ? ")" : "",
		        !s->readable ? "" : s->live ? " live" :
		        " no live writer (see '" PROGRAM " prune')");
	}
	if (n > CANDS_MAX) {
		fprintf(stderr, "  ... and %zu more\n", n - CANDS_MAX);
	}
}

/*!
 * \brief Resolves the INSTANCE argument to a segment name.
 *
 * \return An exit code, or -1 on success.
 */
static int resolve_instance(const char *arg, char *out, size_t out_len)
{
	seg_list_t list;
	int ret = segs_scan(&list);
	if (ret != TGC_CTL_EXIT_OK) {
		return ret;
	}

	size_t found = 0, ncands = 0, cands[CANDS_MAX];
	tgc_ctl_match_t m = tgc_ctl_instance_find(list.segs, list.count, arg, &found,
	                                          cands, CANDS_MAX, &ncands);
	ret = -1;
	switch (m) {
	case TGC_CTL_MATCH_ONE:
		snprintf(out, out_len, "%s", list.segs[found].segment);
		break;
	case TGC_CTL_MATCH_NONE:
		if (arg == NULL) {
			errorf("no mod-tgcluster segments on this host (%s/%s*)",
			       SHM_DIR, TGC_TABLE_PREFIX);
			for (size_t i = 0; i < list.count; i++) {
				safe_buf_t seg;
				if (list.segs[i].kind != NULL) {
					fprintf(stderr, "  note: %s/%s is %s, not a "
					        "tgcluster segment\n", SHM_DIR,
					        SAFE(list.segs[i].segment, seg),
					        list.segs[i].kind);
				}
			}
		} else {
			errorf("no such instance: '%s' (see '" PROGRAM " list')", arg);
			if (list.unreadable > 0) {
				fprintf(stderr, "  note: %zu segment(s) could not be read "
				        "(permission?); name them by segment name\n",
				        list.unreadable);
			}
		}
		ret = TGC_CTL_EXIT_NOINST;
		break;
	case TGC_CTL_MATCH_AMBIGUOUS:
		if (arg == NULL) {
			errorf("%zu instances on this host, name one of:", ncands);
			print_seg_cands(&list, cands, ncands);
			ret = TGC_CTL_EXIT_USAGE;
		} else {
			errorf("instance '%s' is ambiguous, candidates:", arg);
			print_seg_cands(&list, cands, ncands);
			ret = TGC_CTL_EXIT_NOINST;
		}
		break;
	case TGC_CTL_MATCH_INVALID:
	default:
		errorf("invalid instance name '%s'", (arg != NULL) ? arg : "");
		ret = TGC_CTL_EXIT_USAGE;
		break;
	}
	free(list.segs);

	return ret;
}

/*! \brief Reads the version field of a segment file (0 if unreadable). */
static uint32_t seg_file_version(const char *segment)
{
	char path[sizeof(SHM_DIR) + TGC_TABLE_NAME_MAX + 2];
	snprintf(path, sizeof(path), SHM_DIR "/%s", segment);
	uint32_t word[2] = { 0, 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		return 0;
	}
	ssize_t got = pread(fd, word, sizeof(word), 0);
	close(fd);

	return (got == (ssize_t)sizeof(word)) ? word[1] : 0;
}

/*! \brief Explains a permission error with the segment's owner and mode. */
static void explain_perm(const char *segment, bool writable)
{
	char path[sizeof(SHM_DIR) + TGC_TABLE_NAME_MAX + 2];
	snprintf(path, sizeof(path), SHM_DIR "/%s", segment);
	struct stat st;
	if (lstat(path, &st) != 0) {
		errorf("permission denied on %s", path);
		return;
	}
	struct passwd *pw = getpwuid(st.st_uid);
	char uid[24];
	snprintf(uid, sizeof(uid), "uid %u", (unsigned)st.st_uid);
	errorf("permission denied: cannot %s %s (owner %s, mode %04o); run as "
	       "that user (knotd's user) or root", writable ? "write" : "read",
	       path, (pw != NULL) ? pw->pw_name : uid, (unsigned)(st.st_mode & 07777));
}

/*! \brief Effective uid of process \a pid (-1 if unknown). */
static long proc_euid(pid_t pid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		return -1;
	}
	long euid = -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned long r, e;
		if (sscanf(line, "Uid: %lu %lu", &r, &e) == 2) {
			euid = (long)e;
			break;
		}
	}
	fclose(f);

	return euid;
}

/*! \brief Name of a user (or "uid N") into \a buf. */
static const char *user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);
	if (pw != NULL) {
		snprintf(buf, len, "%s", pw->pw_name);
	} else {
		snprintf(buf, len, "uid %u", (unsigned)uid);
	}
	return buf;
}

/*!
 * \brief Trust check: a segment whose writer is a live process is used only
 *        if that process's user owns the segment file (a look-alike planted
 *        by another user names the real knotd but cannot be owned by it).
 *
 * \return NULL if trusted, else the reason (in \a buf).
 */
static const char *untrusted(const tgc_table_t *table, char *buf, size_t len)
{
	uint64_t owner = atomic_load_explicit(&table->hdr->owner,
	                                      memory_order_acquire);
	if (!tgc_table_owner_alive(owner)) {
		return NULL; /* Nobody serves it: shown as such, harmless. */
	}
	long euid = proc_euid(TGC_TABLE_OWNER_PID(owner));
	if (euid >= 0 && (uid_t)euid == table->file_uid) {
		return NULL;
	}
	char file_user[64], proc_user[64];
	snprintf(buf, len, "segment %s is owned by %s, but its writer pid %d runs "
	         "as %s: not a segment of that knotd, refusing to use it",
	         table->name, user_name(table->file_uid, file_user, sizeof(file_user)),
	         (int)TGC_TABLE_OWNER_PID(owner),
	         (euid >= 0) ? user_name((uid_t)euid, proc_user, sizeof(proc_user)) :
	                       "an unknown user");
	return buf;
}

/*!
 * \brief Attaches to a segment, reporting errors.
 *
 * \return An exit code, or -1 on success.
 */
static int open_table(const char *segment, bool writable, tgc_table_t *table,
                      bool quiet, char *why, size_t why_len)
{
	char msg[512];
	int code;
	const char *kind = seg_kind(segment);
	if (kind != NULL) {
		memset(table, 0, sizeof(*table));
		snprintf(msg, sizeof(msg), "%s/%s is %s, not a tgcluster segment",
		         SHM_DIR, segment, kind);
		if (why != NULL) {
			snprintf(why, why_len, "%s", msg);
		}
		if (!quiet) {
			errorf("%s", msg);
		}
		return TGC_CTL_EXIT_CORRUPT;
	}

	const char *err = NULL;
	int ret = tgc_table_attach(table, segment, writable, &err);
	if (ret == KNOT_EOK) {
		if (untrusted(table, msg, sizeof(msg)) == NULL) {
			return -1;
		}
		tgc_table_close(table);
		if (why != NULL) {
			snprintf(why, why_len, "%s", msg);
		}
		if (!quiet) {
			errorf("%s", msg);
		}
		return TGC_CTL_EXIT_PERM;
	}

	switch (ret) {
	case KNOT_ENOENT:
		snprintf(msg, sizeof(msg), "no such instance: segment %s does not "
		         "exist (any more)", segment);
		code = TGC_CTL_EXIT_NOINST;
		break;
	case KNOT_EACCES:
		snprintf(msg, sizeof(msg), "permission denied on segment %s", segment);
		if (!quiet) {
			explain_perm(segment, writable);
			return TGC_CTL_EXIT_PERM;
		}
		code = TGC_CTL_EXIT_PERM;
		break;
	case KNOT_ENOTSUP:
		snprintf(msg, sizeof(msg), "segment %s: segment layout version %u, "
		         "this " PROGRAM " understands %u", segment,
		         seg_file_version(segment), TGC_TABLE_VERSION);
		code = TGC_CTL_EXIT_VERSION;
		break;
	case KNOT_EMALF:
		snprintf(msg, sizeof(msg), "segment %s is invalid or corrupt: %s",
		         segment, (err != NULL) ? err : "malformed");
		code = TGC_CTL_EXIT_CORRUPT;
		break;
	default:
		snprintf(msg, sizeof(msg), "cannot open segment %s: %s (%s)", segment,
		         (err != NULL) ? err : "error", knot_strerror(ret));
		code = TGC_CTL_EXIT_FAIL;
		break;
	}
	if (why != NULL) {
		snprintf(why, why_len, "%s", msg);
	}
	if (!quiet) {
		errorf("%s", msg);
	}

	return code;
}

/*! \brief Writes a buffer to stdout; returns an exit code. */
static int emit(const tgc_ctl_buf_t *buf)
{
	if (buf->failed) {
		errorf("out of memory");
		return TGC_CTL_EXIT_FAIL;
	}
	if (fwrite(tgc_ctl_buf_str(buf), 1, buf->len, stdout) != buf->len ||
	    fflush(stdout) != 0) {
		return TGC_CTL_EXIT_FAIL;
	}

	return TGC_CTL_EXIT_OK;
}

/* -- Commands ------------------------------------------------------------- */

/*! \brief Short error text of an attach failure for the list. */
static const char *attach_error(int ret)
{
	switch (ret) {
	case KNOT_EACCES:  return "permission denied";
	case KNOT_ENOTSUP: return "other layout version";
	case KNOT_ENOENT:  return "vanished";
	case KNOT_EMALF:   return "invalid segment";
	default:           return "unreadable";
	}
}

/*! \brief tgclusterctl list. */
static int cmd_list(const args_t *args)
{
	seg_list_t list;
	int ret = segs_scan(&list);
	if (ret != TGC_CTL_EXIT_OK) {
		return ret;
	}

	tgc_ctl_status_t *sts = calloc(list.count + 1, sizeof(*sts));
	tgc_ctl_list_entry_t *entries = calloc(list.count + 1, sizeof(*entries));
	char (*errs)[64] = calloc(list.count + 1, sizeof(*errs));
	if (sts == NULL || entries == NULL || errs == NULL) {
		free(sts);
		free(entries);
		free(errs);
		free(list.segs);
		errorf("out of memory");
		return TGC_CTL_EXIT_FAIL;
	}
	uint64_t now = tgc_table_now_ms();
	for (size_t i = 0; i < list.count; i++) {
		tgc_ctl_list_entry_t *e = &entries[i];
		e->segment = list.segs[i].segment;
		if (list.segs[i].kind != NULL) {
			snprintf(errs[i], sizeof(errs[i]), "%s, not a tgcluster segment",
			         list.segs[i].kind);
			e->error = errs[i];
			continue;
		}
		tgc_table_t table;
		int r = tgc_table_attach(&table, e->segment, false, NULL);
		if (r == KNOT_ENOTSUP) {
			snprintf(errs[i], sizeof(errs[i]), "layout version %u, expected %u",
			         seg_file_version(e->segment), TGC_TABLE_VERSION);
			e->error = errs[i];
			continue;
		} else if (r != KNOT_EOK) {
			e->error = attach_error(r);
			continue;
		}
		char why[16];
		if (untrusted(&table, why, sizeof(why)) != NULL) {
			e->error = "untrusted: not owned by its writer's user";
			tgc_table_close(&table);
			continue;
		}
		if (tgc_ctl_status_load(&sts[i], &table, now) == KNOT_EOK) {
			e->st = &sts[i];
			e->writer_gone = !sts[i].writer_alive;
		} else {
			e->error = "out of memory";
		}
		tgc_table_close(&table);
	}

	tgc_ctl_buf_t out;
	tgc_ctl_buf_init(&out);
	if (list.count == 0 && !args->json) {
		tgc_ctl_buf_printf(&out, "no mod-tgcluster segments (%s/%s*)\n",
		                   SHM_DIR, TGC_TABLE_PREFIX);
	} else {
		tgc_ctl_render_list(&out, entries, list.count, args->json);
	}
	ret = emit(&out);
	tgc_ctl_buf_free(&out);

	for (size_t i = 0; i < list.count; i++) {
		tgc_ctl_status_free(&sts[i]);
	}
	free(sts);
	free(entries);
	free(errs);
	free(list.segs);

	return ret;
}

/*!
 * \brief Renders the status of a segment into \a out.
 *
 * \return An exit code, or -1 on success.
 */
static int render_segment(const char *segment, bool json, tgc_ctl_buf_t *out,
                          bool quiet, char *why, size_t why_len)
{
	tgc_table_t table;
	int ret = open_table(segment, false, &table, quiet, why, why_len);
	if (ret >= 0) {
		return ret;
	}
	tgc_ctl_status_t st;
	if (tgc_ctl_status_load(&st, &table, tgc_table_now_ms()) != KNOT_EOK) {
		tgc_table_close(&table);
		snprintf(why, why_len, "out of memory");
		if (!quiet) {
			errorf("out of memory");
		}
		return TGC_CTL_EXIT_FAIL;
	}
	tgc_table_close(&table);
	if (json) {
		tgc_ctl_render_json(out, &st);
	} else {
		tgc_ctl_render_status(out, &st);
	}
	tgc_ctl_status_free(&st);

	return -1;
}

/*! \brief tgclusterctl status. */
static int cmd_status(const args_t *args)
{
	char segment[TGC_TABLE_NAME_MAX + 1];
	int ret = resolve_instance((args->npos > 0) ? args->pos[0] : NULL,
	                           segment, sizeof(segment));
	if (ret >= 0) {
		return ret;
	}
	tgc_ctl_buf_t out;
	tgc_ctl_buf_init(&out);
	char why[512];
	ret = render_segment(segment, args->json, &out, false, why, sizeof(why));
	if (ret < 0) {
		ret = emit(&out);
	}
	tgc_ctl_buf_free(&out);

	return ret;
}

/*! \brief Prints the candidates of an ambiguous node. */
static void print_node_cands(const tgc_ctl_status_t *st, const uint32_t *cands,
                             size_t n)
{
	for (size_t i = 0; i < n && i < CANDS_MAX; i++) {
		const tgc_node_snap_t *node = &st->nodes[cands[i]];
		char txt[TGC_ADDR_STRLEN + 8], mapped[TGC_ADDR_STRLEN];
		fprintf(stderr, "  %u  %s%s%s\n", cands[i],
		        tgc_ctl_fmt_node(&node->addr, node->port, txt, sizeof(txt)),
		        (node->mapped.family != 0) ? "  mapped " : "",
		        (node->mapped.family != 0) ?
		        tgc_addr_format(&node->mapped, mapped, sizeof(mapped)) : "");
	}
	if (n > CANDS_MAX) {
		fprintf(stderr, "  ... and %zu more\n", n - CANDS_MAX);
	}
}

/*! \brief tgclusterctl set. */
static int cmd_set(const args_t *args)
{
	const char *inst = (args->npos == 3) ? args->pos[0] : NULL;
	const char *node_arg = args->pos[args->npos - 2];
	const char *state_arg = args->pos[args->npos - 1];

	int state = tgc_table_admin_parse(state_arg);
	if (state < 0) {
		errorf("invalid state '%s' (auto, drain, up or down)", state_arg);
		return TGC_CTL_EXIT_USAGE;
	}

	char segment[TGC_TABLE_NAME_MAX + 1];
	int ret = resolve_instance(inst, segment, sizeof(segment));
	if (ret >= 0) {
		return ret;
	}
	tgc_table_t table;
	ret = open_table(segment, true, &table, false, NULL, 0);
	if (ret >= 0) {
		return ret;
	}
	tgc_ctl_status_t st;
	if (tgc_ctl_status_load(&st, &table, tgc_table_now_ms()) != KNOT_EOK) {
		tgc_table_close(&table);
		errorf("out of memory");
		return TGC_CTL_EXIT_FAIL;
	}

	uint32_t idx = 0, cands[CANDS_MAX];
	size_t ncands = 0;
	switch (tgc_ctl_node_find(st.nodes, st.node_count, node_arg, &idx, cands,
	                          CANDS_MAX, &ncands)) {
	case TGC_CTL_MATCH_ONE:
		ret = -1;
		break;
	case TGC_CTL_MATCH_AMBIGUOUS:
		errorf("node '%s' is ambiguous in %s, use INDEX or ADDRESS@PORT; "
		       "candidates:", node_arg, segment);
		print_node_cands(&st, cands, ncands);
		ret = TGC_CTL_EXIT_NONODE;
		break;
	case TGC_CTL_MATCH_INVALID:
		errorf("invalid node '%s' (an index, ADDRESS or ADDRESS@PORT)",
		       node_arg);
		ret = TGC_CTL_EXIT_USAGE;
		break;
	case TGC_CTL_MATCH_NONE:
	default:
		errorf("no such node: '%s' in %s (%u node%s, see '" PROGRAM
		       " status %s')", node_arg, segment, st.node_count,
		       (st.node_count == 1) ? "" : "s", segment);
		ret = TGC_CTL_EXIT_NONODE;
		break;
	}

	if (ret < 0) {
		char txt[TGC_ADDR_STRLEN + 8];
		safe_buf_t seg;
		SAFE(segment, seg);
		tgc_ctl_fmt_node(&st.nodes[idx].addr, st.nodes[idx].port, txt,
		                 sizeof(txt));
		tgc_admin_t old = st.nodes[idx].admin_local;
		uint32_t live = 0, min_live = st.min_live;
		bool refuse = false;
		if ((state == TGC_ADMIN_DRAIN || state == TGC_ADMIN_DOWN) &&
		    min_live > 0 && !args->force) {
			tgc_admin_in_t *in = calloc(st.node_count + 1, sizeof(*in));
			if (in == NULL) {
				errorf("out of memory");
				tgc_ctl_status_free(&st);
				tgc_table_close(&table);
				return TGC_CTL_EXIT_FAIL;
			}
			for (uint32_t i = 0; i < st.node_count; i++) {
				in[i].health = st.nodes[i].health;
				in[i].local = st.nodes[i].admin_local;
				in[i].zone = st.nodes[i].admin_zone;
			}
			live = tgc_admin_live_after(in, st.node_count, idx,
			                            (tgc_admin_t)state, min_live);
			refuse = live < min_live;
			free(in);
		}
		if (refuse) {
			errorf("refused: %s of node %u (%s) would leave %u answerable "
			       "node%s, below min-live %u (use --force to override)",
			       state_arg, idx, txt, live, (live == 1) ? "" : "s",
			       min_live);
			ret = TGC_CTL_EXIT_GUARD;
		} else if (old == (tgc_admin_t)state) {
			printf("%s: node %u (%s) admin already %s, unchanged\n", seg,
			       idx, txt, tgc_table_admin_str(old));
			ret = TGC_CTL_EXIT_OK;
		} else if (tgc_table_admin_set(&table, idx, (tgc_admin_t)state) != KNOT_EOK) {
			errorf("cannot set the admin state of node %u", idx);
			ret = TGC_CTL_EXIT_FAIL;
		} else {
			printf("%s: node %u (%s) admin %s -> %s (local)\n", seg, idx,
			       txt, tgc_table_admin_str(old),
			       tgc_table_admin_str((tgc_admin_t)state));
			ret = TGC_CTL_EXIT_OK;
		}
		if (ret == TGC_CTL_EXIT_OK && tgc_ctl_heartbeat_stale(&st)) {
			fprintf(stderr, PROGRAM ": warning: the checker heartbeat of %s "
			        "is stale (knotd not running?); the state is stored in "
			        "the segment and applies when knotd serves it\n",
			        seg);
		} else if (ret == TGC_CTL_EXIT_OK &&
		           tgc_table_admin_wait(&table, SET_WAIT_MS) != KNOT_EOK) {
			/* knotd copies admin states in every 200 ms. */
			fprintf(stderr, PROGRAM ": warning: knotd has not taken the "
			        "change in within %u ms; it is stored in the segment "
			        "and applies when knotd reads it\n", SET_WAIT_MS);
		}
		if (fflush(stdout) != 0) {
			ret = TGC_CTL_EXIT_FAIL;
		}
	}
	tgc_ctl_status_free(&st);
	tgc_table_close(&table);

	return ret;
}

/*!
 * \brief Writes \a buf to \a path atomically: a temporary file in the same
 *        directory (mode 0644, synced), renamed over \a path.
 *
 * \return An exit code.
 */
static int write_atomic(const char *path, const tgc_ctl_buf_t *buf)
{
	if (buf->failed) {
		errorf("out of memory");
		return TGC_CTL_EXIT_FAIL;
	}
	const char *slash = strrchr(path, '/');
	size_t dir_len = (slash != NULL) ? (size_t)(slash - path) + 1 : 0;
	const char *base = path + dir_len;
	if (*base == '\0') {
		errorf("--output '%s' names a directory, not a file", path);
		return TGC_CTL_EXIT_USAGE;
	}
	/* A dot name: not read by node_exporter's textfile collector (*.prom). */
	char *tmp = NULL;
	if (asprintf(&tmp, "%.*s.%s.XXXXXX", (int)dir_len, path, base) < 0) {
		errorf("out of memory");
		return TGC_CTL_EXIT_FAIL;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		errorf("cannot create a temporary file beside %s: %s", path,
		       strerror(errno));
		free(tmp);
		return TGC_CTL_EXIT_FAIL;
	}
	const char *what = NULL;
	const char *data = tgc_ctl_buf_str(buf);
	size_t done = 0;
	while (what == NULL && done < buf->len) {
		ssize_t n = write(fd, data + done, buf->len - done);
		if (n < 0 && errno != EINTR) {
			what = "write";
		} else if (n > 0) {
			done += (size_t)n;
		}
	}
	if (what == NULL && fchmod(fd, 0644) != 0) {
		what = "chmod";
	}
	if (what == NULL && fsync(fd) != 0) {
		what = "fsync";
	}
	if (close(fd) != 0 && what == NULL) {
		what = "close";
	}
	if (what == NULL && rename(tmp, path) != 0) {
		what = "rename";
	}
	int ret = TGC_CTL_EXIT_OK;
	if (what != NULL) {
		errorf("cannot write %s (%s of %s): %s", path, what, tmp, strerror(errno));
		(void)unlink(tmp);
		ret = TGC_CTL_EXIT_FAIL;
	}
	free(tmp);

	return ret;
}

/*! \brief tgclusterctl metrics. */
static int cmd_metrics(const args_t *args)
{
	seg_list_t list;
	char one[TGC_TABLE_NAME_MAX + 1];
	int ret;
	if (args->npos > 0) {
		ret = resolve_instance(args->pos[0], one, sizeof(one));
		if (ret >= 0) {
			return ret;
		}
		memset(&list, 0, sizeof(list));
		list.segs = calloc(1, sizeof(*list.segs));
		if (list.segs == NULL) {
			errorf("out of memory");
			return TGC_CTL_EXIT_FAIL;
		}
		snprintf(list.segs[0].segment, sizeof(list.segs[0].segment), "%s", one);
		list.count = 1;
	} else {
		ret = segs_scan(&list);
		if (ret != TGC_CTL_EXIT_OK) {
			return ret;
		}
	}

	tgc_ctl_status_t *sts = calloc(list.count + 1, sizeof(*sts));
	if (sts == NULL) {
		free(list.segs);
		errorf("out of memory");
		return TGC_CTL_EXIT_FAIL;
	}
	size_t count = 0;
	ret = TGC_CTL_EXIT_OK;
	for (size_t i = 0; i < list.count; i++) {
		if (list.segs[i].kind != NULL) {
			continue;
		}
		/* All instances: an unreadable segment is skipped with a note,
		 * the others are still written. One instance: an error. */
		tgc_table_t table;
		char why[512];
		int r = open_table(list.segs[i].segment, false, &table,
		                   args->npos == 0, why, sizeof(why));
		if (r >= 0) {
			if (args->npos > 0) {
				ret = r;
				break;
			}
			errorf("skipped: %s", why);
			continue;
		}
		if (tgc_ctl_status_load(&sts[count], &table, tgc_table_now_ms()) !=
		    KNOT_EOK) {
			tgc_table_close(&table);
			errorf("out of memory");
			ret = TGC_CTL_EXIT_FAIL;
			break;
		}
		tgc_table_close(&table);
		count++;
	}

	if (ret == TGC_CTL_EXIT_OK) {
		tgc_ctl_buf_t out;
		tgc_ctl_buf_init(&out);
		tgc_ctl_render_metrics(&out, sts, count);
		ret = (args->output != NULL) ? write_atomic(args->output, &out) :
		                               emit(&out);
		tgc_ctl_buf_free(&out);
	}
	for (size_t i = 0; i < count; i++) {
		tgc_ctl_status_free(&sts[i]);
	}
	free(sts);
	free(list.segs);

	return ret;
}

/*! \brief A segment younger than this without an owner may be one knotd is
 *         creating right now (ms): prune leaves it. */
#define PRUNE_FRESH_MS	10000

/*! \brief Tells whether prune was asked for \a name (all without
 *         arguments; else by segment name, with or without the prefix). */
static bool prune_wanted(const args_t *args, const char *name)
{
	if (args->npos == 0) {
		return true;
	}
	const size_t plen = strlen(TGC_TABLE_PREFIX);
	for (int i = 0; i < args->npos; i++) {
		const char *arg = args->pos[i] + (args->pos[i][0] == '/');
		if (strcmp(arg, name) == 0 ||
		    (strncmp(name, TGC_TABLE_PREFIX, plen) == 0 &&
		     strcmp(arg, name + plen) == 0)) {
			return true;
		}
	}
	return false;
}

/*! \brief tgclusterctl prune. */
static int cmd_prune(const args_t *args)
{
	seg_list_t list;
	int ret = segs_scan(&list);
	if (ret != TGC_CTL_EXIT_OK) {
		return ret;
	}

	size_t removed = 0, kept = 0, failed = 0;
	bool perm = false;
	for (size_t i = 0; i < list.count; i++) {
		const char *name = list.segs[i].segment;
		if (!prune_wanted(args, name)) {
			continue;
		}
		safe_buf_t seg;
		SAFE(name, seg);
		if (list.segs[i].kind != NULL) {
			printf("%s: left alone: %s, not a tgcluster segment\n", seg,
			       list.segs[i].kind);
			continue;
		}
		/* Checked right before the removal: a knotd that claims the
		 * segment in between is the only race, and it needs a knotd
		 * starting on a leftover at that very moment. */
		tgc_table_t table;
		int r = tgc_table_attach(&table, name, false, NULL);
		if (r != KNOT_EOK) {
			printf("%s: left alone: %s; its writer cannot be told\n", seg,
			       attach_error(r));
			failed++;
			perm = perm || r == KNOT_EACCES;
			continue;
		}
		uint64_t owner = atomic_load_explicit(&table.hdr->owner,
		                                      memory_order_acquire);
		uint64_t created = table.hdr->created_ms;
		char zone[TGC_CTL_SAFE_LEN(sizeof(table.hdr->zone))];
		SAFE(table.hdr->zone, zone);
		tgc_table_close(&table);
		uint64_t now = tgc_table_now_ms();
		if (tgc_table_owner_alive(owner)) {
			kept++;
			continue;
		}
		if (owner == 0 && created + PRUNE_FRESH_MS > now) {
			printf("%s: left alone: created %" PRIu64 " ms ago and not "
			       "owned yet\n", seg, now - created);
			failed++;
			continue;
		}
		char who[48];
		if (owner != 0) {
			snprintf(who, sizeof(who), "knotd pid %d gone",
			         (int)TGC_TABLE_OWNER_PID(owner));
		} else {
			snprintf(who, sizeof(who), "never owned");
		}
		if (args->dry_run) {
			printf("%s: would remove (zone %s, %s)\n", seg, zone, who);
			removed++;
			continue;
		}
		char path[sizeof(SHM_DIR) + TGC_TABLE_NAME_MAX + 2];
		snprintf(path, sizeof(path), SHM_DIR "/%s", name);
		if (unlink(path) != 0) {
			int err = errno;
			printf("%s: not removed (zone %s, %s): %s\n", seg, zone, who,
			       strerror(err));
			failed++;
			perm = perm || err == EACCES || err == EPERM;
			continue;
		}
		printf("%s: removed (zone %s, %s)\n", seg, zone, who);
		removed++;
	}
	printf("%zu %s, %zu kept (live writer), %zu left alone or failed\n",
	       removed, args->dry_run ? "to remove" : "removed", kept, failed);
	free(list.segs);
	if (fflush(stdout) != 0) {
		return TGC_CTL_EXIT_FAIL;
	}

	return perm ? TGC_CTL_EXIT_PERM : TGC_CTL_EXIT_OK;
}

/*!
 * \brief Whether the node's agent answered its last poll with a sessions
 *        count (drain --wait waits for it to reach 0; an agent that does
 *        not answer or reports no sessions is not waited for).
 */
static bool drain_agent_reports(const tgc_node_snap_t *snap)
{
	uint8_t want = TGC_AGENT_F_POLLED | TGC_AGENT_F_ANSWERED | TGC_AGENT_F_SESSIONS;
	return (snap->agent_flags & want) == want;
}

/*! \brief Whether drain --wait still waits for the node's sessions. */
static bool drain_sessions(const tgc_node_snap_t *snap)
{
	return drain_agent_reports(snap) && snap->agent_sessions > 0;
}

/*!
 * \brief tgclusterctl drain: set NODE drain (as set does, guard included);
 *        with --wait, poll until knotd applies it and the node's answer
 *        count stays unchanged for DRAIN_QUIET_MS, and, when the node's
 *        agent reports sessions, until they are 0.
 */
static int cmd_drain(const args_t *args)
{
	char *pos[3] = { NULL };
	args_t set = *args;
	int n = 0;
	for (int i = 0; i < args->npos; i++) {
		pos[n++] = args->pos[i];
	}
	pos[n++] = "drain";
	set.pos = pos;
	set.npos = n;
	int ret = cmd_set(&set);
	if (ret != TGC_CTL_EXIT_OK || !args->wait) {
		return ret;
	}

	char segment[TGC_TABLE_NAME_MAX + 1];
	ret = resolve_instance((args->npos == 2) ? args->pos[0] : NULL, segment,
	                       sizeof(segment));
	if (ret >= 0) {
		return ret;
	}
	tgc_table_t table;
	ret = open_table(segment, false, &table, false, NULL, 0);
	if (ret >= 0) {
		return ret;
	}
	tgc_ctl_status_t st;
	uint32_t idx = 0, cands[CANDS_MAX];
	size_t ncands = 0;
	if (tgc_ctl_status_load(&st, &table, tgc_table_now_ms()) != KNOT_EOK) {
		tgc_table_close(&table);
		errorf("out of memory");
		return TGC_CTL_EXIT_FAIL;
	}
	bool found = tgc_ctl_node_find(st.nodes, st.node_count,
	                               args->pos[args->npos - 1], &idx, cands,
	                               CANDS_MAX, &ncands) == TGC_CTL_MATCH_ONE;
	tgc_ctl_status_free(&st);
	if (!found) {
		tgc_table_close(&table);
		errorf("node '%s' vanished from %s", args->pos[args->npos - 1], segment);
		return TGC_CTL_EXIT_NONODE;
	}

	uint32_t timeout_s = args->timeout_set ? args->timeout_s : DRAIN_TIMEOUT_S;
	uint64_t start = tgc_table_now_ms();
	uint64_t deadline = start + (uint64_t)timeout_s * 1000;
	uint64_t last_answers = 0, quiet_since = 0;
	ret = TGC_CTL_EXIT_TIMEOUT;
	for (;;) {
		tgc_node_snap_t snap;
		tgc_table_node_read(&table, idx, &snap);
		uint64_t now = tgc_table_now_ms();
		if (snap.admin != TGC_ADMIN_DRAIN && snap.admin != TGC_ADMIN_DOWN) {
			quiet_since = 0; /* Not applied (yet), or undone. */
		} else if (quiet_since == 0 || snap.answers != last_answers) {
			quiet_since = now;
			last_answers = snap.answers;
		} else if (now - quiet_since >= DRAIN_QUIET_MS && !drain_sessions(&snap)) {
			printf("node %u drained: no answers for %u ms%s (%.1f s after "
			       "the drain)\n", idx, DRAIN_QUIET_MS,
			       drain_agent_reports(&snap) ?
			       ", its agent reports 0 sessions" : "",
			       (double)(now - start) / 1000.0);
			ret = TGC_CTL_EXIT_OK;
			break;
		}
		if (now >= deadline) {
			bool quiet = quiet_since != 0 && now - quiet_since >= DRAIN_QUIET_MS;
			if (quiet) {
				errorf("timed out after %u s: node %u gets no answers but "
				       "its agent reports %u sessions", timeout_s, idx,
				       snap.agent_sessions);
				break;
			}
			errorf("timed out after %u s: node %u is %s%s", timeout_s, idx,
			       (snap.admin == TGC_ADMIN_DRAIN) ? "drained but still "
			       "answered (no other live node?)" : "not drained: admin ",
			       (snap.admin == TGC_ADMIN_DRAIN) ? "" :
			       tgc_table_admin_str(snap.admin));
			break;
		}
		struct timespec pause = { .tv_nsec = 50 * 1000 * 1000 };
		nanosleep(&pause, NULL);
	}
	if (fflush(stdout) != 0) {
		ret = TGC_CTL_EXIT_FAIL;
	}
	tgc_table_close(&table);

	return ret;
}

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

/*!
 * \brief tgclusterctl explain: asks knotd (\a --server) for the cluster
 *        name, A and AAAA, as the client would (ECS = the client's subnet),
 *        prints the answers, and per node whether it is in (position in the
 *        answer = policy order, mapped address) or why it is out (admin
 *        state and its source, health).
 */
static int cmd_explain(const args_t *args)
{
	const char *client_arg = args->pos[args->npos - 1];
	tgc_addr_t client;
	if (tgc_addr_parse(client_arg, &client) != KNOT_EOK) {
		errorf("invalid CLIENT-IP '%s'", client_arg);
		return TGC_CTL_EXIT_USAGE;
	}
	unsigned prefix = (args->ecs >= 0) ? (unsigned)args->ecs : client.len * 8u;
	if (prefix > client.len * 8u) {
		errorf("--ecs %u is longer than the address", prefix);
		return TGC_CTL_EXIT_USAGE;
	}
	tgc_addr_t srv_addr;
	unsigned long srv_port = 53;
	char srv_txt[TGC_ADDR_STRLEN + 8];
	snprintf(srv_txt, sizeof(srv_txt), "%s", args->server ? args->server : "127.0.0.1");
	char *at = strchr(srv_txt, '@');
	if (at != NULL) {
		*at = '\0';
		char *end = NULL;
		srv_port = strtoul(at + 1, &end, 10);
		if (end == at + 1 || *end != '\0' || srv_port == 0 || srv_port > 65535) {
			errorf("invalid --server '%s' (ADDRESS[@PORT])", args->server);
			return TGC_CTL_EXIT_USAGE;
		}
	}
	if (tgc_addr_parse(srv_txt, &srv_addr) != KNOT_EOK) {
		errorf("invalid --server '%s' (ADDRESS[@PORT])", args->server);
		return TGC_CTL_EXIT_USAGE;
	}
	struct sockaddr_storage server;
	tgc_addr_to_sockaddr(&srv_addr, (uint16_t)srv_port, &server);

	char segment[TGC_TABLE_NAME_MAX + 1];
	int ret = resolve_instance((args->npos == 2) ? args->pos[0] : NULL, segment,
	                           sizeof(segment));
	if (ret >= 0) {
		return ret;
	}
	tgc_table_t table;
	ret = open_table(segment, false, &table, false, NULL, 0);
	if (ret >= 0) {
		return ret;
	}
	tgc_ctl_status_t st;
	if (tgc_ctl_status_load(&st, &table, tgc_table_now_ms()) != KNOT_EOK) {
		tgc_table_close(&table);
		errorf("out of memory");
		return TGC_CTL_EXIT_FAIL;
	}
	knot_dname_t *name = knot_dname_from_str_alloc(st.name);
	if (name == NULL || st.role != TGC_ROLE_LB) {
		errorf("%s", (name == NULL) ? "bad cluster name in the segment" :
		       "explain applies to load balancers");
		free(name);
		tgc_ctl_status_free(&st);
		tgc_table_close(&table);
		return TGC_CTL_EXIT_FAIL;
	}
	explain_answer_t *ans = calloc(2, sizeof(*ans));
	if (ans == NULL) {
		free(name);
		tgc_ctl_status_free(&st);
		tgc_table_close(&table);
		errorf("out of memory");
		return TGC_CTL_EXIT_FAIL;
	}
	explain_query(&server, name, KNOT_RRTYPE_A, &client, prefix, &ans[0]);
	explain_query(&server, name, KNOT_RRTYPE_AAAA, &client, prefix, &ans[1]);
	free(name);

	char cl[TGC_ADDR_STRLEN], sv[TGC_ADDR_STRLEN], a[TGC_ADDR_STRLEN];
	safe_buf_t nm;
	SAFE(st.name, nm);
	printf("%s for client %s/%u (ECS) from knotd at %s@%lu\n", nm,
	       tgc_addr_format(&client, cl, sizeof(cl)), prefix,
	       tgc_addr_format(&srv_addr, sv, sizeof(sv)), srv_port);
	bool replied = true;
	for (int t = 0; t < 2; t++) {
		printf("  %-4s ", t == 0 ? "A" : "AAAA");
		if (ans[t].rcode < 0) {
			printf("no reply\n");
			replied = false;
			continue;
		}
		const knot_lookup_t *rc = knot_lookup_by_id(knot_rcode_names, ans[t].rcode);
		printf("%s", rc ? rc->name : "?");
		for (size_t i = 0; i < ans[t].count; i++) {
			printf(" %s", tgc_addr_format(&ans[t].addrs[i], a, sizeof(a)));
		}
		if (ans[t].count > 0) {
			printf(" (ttl %u)", ans[t].ttl);
		}
		printf("\n");
	}
	printf("min-live %u; answer order is the policy's (round-robin and random "
	       "change per query)\n", st.min_live);
	for (uint32_t i = 0; i < st.node_count; i++) {
		const tgc_node_snap_t *n = &st.nodes[i];
		const explain_answer_t *fa = &ans[n->addr.family == AF_INET6 ? 1 : 0];
		size_t pos = explain_pos(fa, &n->addr), mpos = 0;
		if (pos == 0 && n->mapped.family != 0) {
			mpos = explain_pos(fa, &n->mapped);
		}
		char src[48], reason[TGC_CTL_SAFE_LEN(TGC_ADMIN_REASON_MAX)];
		tgc_ctl_admin_source(n, src, sizeof(src));
		printf("  node %u %s: health %s, admin %s (%s", i,
		       tgc_addr_format(&n->addr, a, sizeof(a)),
		       tgc_table_health_str(n->health), tgc_table_admin_str(n->admin),
		       src);
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
	free(ans);
	tgc_ctl_status_free(&st);
	tgc_table_close(&table);
	if (fflush(stdout) != 0) {
		return TGC_CTL_EXIT_FAIL;
	}

	return replied ? TGC_CTL_EXIT_OK : TGC_CTL_EXIT_FAIL;
}

/*! \brief Placeholder handler of the signals that end watch (blocked). */
static void on_signal(int sig)
{
	(void)sig;
}

/*! \brief tgclusterctl watch. */
static int cmd_watch(const args_t *args)
{
	char segment[TGC_TABLE_NAME_MAX + 1];
	int ret = resolve_instance((args->npos > 0) ? args->pos[0] : NULL,
	                           segment, sizeof(segment));
	if (ret >= 0) {
		return ret;
	}

	/* Signals are only taken in sigtimedwait(): no race with the redraw.
	 * An inherited "ignore" would discard them: install a handler that
	 * never runs (the signals stay blocked). */
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
		errorf("cannot block signals: %s", strerror(errno));
		return TGC_CTL_EXIT_FAIL;
	}

	bool tty = isatty(STDOUT_FILENO);
	tgc_ctl_buf_t out;
	tgc_ctl_buf_init(&out);
	ret = TGC_CTL_EXIT_OK;
	for (uint64_t frame = 0; ; frame++) {
		tgc_ctl_buf_reset(&out);
		if (tty) {
			tgc_ctl_buf_printf(&out, "\033[H\033[2J");
		} else if (frame > 0) {
			tgc_ctl_buf_printf(&out, "\n");
		}
		time_t now = time(NULL);
		struct tm tm;
		char clock[32] = "";
		if (localtime_r(&now, &tm) != NULL) {
			strftime(clock, sizeof(clock), "%Y-%m-%d %H:%M:%S", &tm);
		}
		tgc_ctl_buf_printf(&out, PROGRAM " watch ");
		tgc_ctl_buf_safe_str(&out, segment);
		tgc_ctl_buf_printf(&out, " every %u ms, %s%s\n\n",
		                   args->interval_ms, clock,
		                   tty ? " (Ctrl-C to quit)" : "");
		char why[512];
		int r = render_segment(segment, false, &out, frame > 0, why, sizeof(why));
		if (r >= 0 && frame == 0) {
			ret = r;
			break;
		} else if (r >= 0) {
			/* Transient (a restart replacing the segment): keep going. */
			tgc_ctl_buf_printf(&out, "unavailable: ");
			tgc_ctl_buf_safe_str(&out, why);
			tgc_ctl_buf_printf(&out, "\n");
		}
		if (emit(&out) != TGC_CTL_EXIT_OK) {
			ret = TGC_CTL_EXIT_FAIL;
			break;
		}
		if (args->count_set && frame + 1 >= args->count) {
			break;
		}
		struct timespec ts = {
			.tv_sec = args->interval_ms / 1000,
			.tv_nsec = (long)(args->interval_ms % 1000) * 1000000L,
		};
		int sig = sigtimedwait(&set, NULL, &ts);
		if (sig > 0) {
			break;
		}
	}
	tgc_ctl_buf_free(&out);

	return ret;
}

/*!
 * \brief SIGBUS: a segment was truncated while mapped (by its owner, or a
 *        look-alike's). Says so and exits as for a corrupt segment, instead
 *        of dying with "Bus error" (async-signal-safe calls only).
 */
static void on_sigbus(int sig)
{
	(void)sig;
	static const char msg[] = PROGRAM ": a segment shrank while it was being "
	                          "read (truncated under tgclusterctl)\n";
	ssize_t n = write(STDERR_FILENO, msg, sizeof(msg) - 1);
	(void)n;
	_exit(TGC_CTL_EXIT_CORRUPT);
}

int main(int argc, char **argv)
{
	args_t args;
	int ret = parse_args(argc, argv, &args);
	if (ret >= 0) {
		return ret;
	}
	/* A closed pipe is a write error, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	struct sigaction bus = { .sa_handler = on_sigbus };
	sigemptyset(&bus.sa_mask);
	sigaction(SIGBUS, &bus, NULL);

	switch (args.cmd) {
	case CMD_LIST:   return cmd_list(&args);
	case CMD_STATUS: return cmd_status(&args);
	case CMD_SET:    return cmd_set(&args);
	case CMD_WATCH:  return cmd_watch(&args);
	case CMD_METRICS: return cmd_metrics(&args);
	case CMD_PRUNE:  return cmd_prune(&args);
	case CMD_DRAIN:  return cmd_drain(&args);
	case CMD_EXPLAIN: return cmd_explain(&args);
	default:         return TGC_CTL_EXIT_USAGE;
	}
}
