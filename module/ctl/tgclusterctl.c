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
 * Commands: list, status, set, drain, explain, watch, metrics, prune (see
 * docs/tgclusterctl.rst). Reads the shared-memory segments with the core's
 * table code; the only writes are the admin state of one node
 * (tgc_table_admin_set(), one atomic store), the metrics file, and the
 * removal of segments no live process owns (prune).
 *
 * This file parses the command line and runs the command (cli.h lists the
 * files that implement them).
 */

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "module/ctl/cli.h"

#ifndef TGC_CTL_VERSION
/*! \brief Program version (set by meson). */
#define TGC_CTL_VERSION	"unknown"
#endif

/*! \brief Default and bounds of the watch interval, ms. */
#define WATCH_DEFAULT_MS	1000
#define WATCH_MIN_MS		10
#define WATCH_MAX_MS		3600000

void ctl_errorf(const char *fmt, ...)
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

/*! \brief Text of a number (a macro's value). */
#define NUM_TXT(x)	#x
/*! \brief NUM_TXT() of the value of macro \a x. */
#define MACRO_TXT(x)	NUM_TXT(x)

/*! \brief An option with a numeric value. */
typedef struct {
	int opt;           /*!< getopt character. */
	const char *name;  /*!< Long name. */
	uint64_t min, max; /*!< Bounds. */
	const char *hint;  /*!< What the value is (error messages). */
} num_opt_t;

/*! \brief Numeric options. */
static const num_opt_t num_opts[] = {
	{ 'e', "ecs",      0, 128, "a prefix length" },
	{ 't', "timeout",  1, 86400, "seconds, 1-86400" },
	{ 'i', "interval", WATCH_MIN_MS, WATCH_MAX_MS, "milliseconds, "
	  MACRO_TXT(WATCH_MIN_MS) "-" MACRO_TXT(WATCH_MAX_MS) },
	{ 'n', "count",    1, UINT32_MAX, "a positive number" },
};

/*! \brief The numeric option \a opt, NULL if it is not one. */
static const num_opt_t *num_opt(int opt)
{
	for (size_t i = 0; i < sizeof(num_opts) / sizeof(num_opts[0]); i++) {
		if (num_opts[i].opt == opt) {
			return &num_opts[i];
		}
	}

	return NULL;
}

/*! \brief A command and the positional arguments it takes. */
typedef struct {
	const char *name;  /*!< Name on the command line. */
	cmd_t cmd;         /*!< Command. */
	int min_pos;       /*!< Fewest positional arguments. */
	int max_pos;       /*!< Most positional arguments. */
	const char *takes; /*!< What it takes (error messages). */
} cmd_def_t;

/*! \brief The commands. */
static const cmd_def_t cmds[] = {
	{ "list",    CMD_LIST,    0, 0,       "no arguments" },
	{ "status",  CMD_STATUS,  0, 1,       "at most an INSTANCE" },
	{ "set",     CMD_SET,     2, 3,       "[INSTANCE] NODE STATE" },
	{ "watch",   CMD_WATCH,   0, 1,       "at most an INSTANCE" },
	{ "metrics", CMD_METRICS, 0, 1,       "at most an INSTANCE" },
	{ "prune",   CMD_PRUNE,   0, INT_MAX, "SEGMENTs" },
	{ "drain",   CMD_DRAIN,   1, 2,       "[INSTANCE] NODE" },
	{ "explain", CMD_EXPLAIN, 1, 2,       "[INSTANCE] CLIENT-IP" },
};

/*! \brief Bit of command \a cmd in a set of commands. */
#define CMD_BIT(cmd)	(1u << (cmd))

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
		const num_opt_t *num = num_opt(opt);
		if (num != NULL && !parse_num(optarg, num->min, num->max, &val)) {
			ctl_errorf("invalid --%s '%s' (%s)", num->name, optarg, num->hint);
			return TGC_CTL_EXIT_USAGE;
		}
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
			args->ecs = (int)val;
			break;
		case 's':
			args->server = optarg;
			break;
		case 't':
			args->timeout_s = (uint32_t)val;
			args->timeout_set = true;
			break;
		case 'i':
			args->interval_ms = (uint32_t)val;
			args->interval_set = true;
			break;
		case 'n':
			args->count = val;
			args->count_set = true;
			break;
		case 'o':
			if (*optarg == '\0') {
				ctl_errorf("--output needs a file name");
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
			ctl_errorf("option '%s' needs a value", argv[optind - 1]);
			return TGC_CTL_EXIT_USAGE;
		default:
			ctl_errorf("unknown option '%s' (see --help)", argv[optind - 1]);
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
	const cmd_def_t *def = NULL;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]) && def == NULL; i++) {
		def = (strcmp(cmd, cmds[i].name) == 0) ? &cmds[i] : NULL;
	}
	if (strcmp(cmd, "help") == 0) {
		usage(stdout);
		return TGC_CTL_EXIT_OK;
	} else if (def == NULL) {
		ctl_errorf("unknown command '%s' (see --help)", cmd);
		return TGC_CTL_EXIT_USAGE;
	}
	args->cmd = def->cmd;

	/* Options that apply to some commands only. */
	const struct {
		bool given;        /*!< The option was given. */
		unsigned cmds;     /*!< CMD_BIT()s of the commands it applies to. */
		const char *msg;   /*!< The error otherwise. */
	} only[] = {
		{ args->json, CMD_BIT(CMD_STATUS) | CMD_BIT(CMD_LIST),
		  "--json applies to 'status' and 'list' only" },
		{ args->interval_set || args->count_set, CMD_BIT(CMD_WATCH),
		  "--interval and --count apply to 'watch' only" },
		{ args->wait || args->timeout_set, CMD_BIT(CMD_DRAIN),
		  "--wait and --timeout apply to 'drain' only" },
		{ args->force, CMD_BIT(CMD_SET) | CMD_BIT(CMD_DRAIN),
		  "--force applies to 'set' and 'drain' only" },
		{ args->ecs >= 0 || args->server != NULL, CMD_BIT(CMD_EXPLAIN),
		  "--ecs and --server apply to 'explain' only" },
		{ args->output != NULL, CMD_BIT(CMD_METRICS),
		  "--output applies to 'metrics' only" },
		{ args->dry_run, CMD_BIT(CMD_PRUNE),
		  "--dry-run applies to 'prune' only" },
	};
	for (size_t i = 0; i < sizeof(only) / sizeof(only[0]); i++) {
		if (only[i].given && !(only[i].cmds & CMD_BIT(args->cmd))) {
			ctl_errorf("%s", only[i].msg);
			return TGC_CTL_EXIT_USAGE;
		}
	}
	if (args->npos < def->min_pos || args->npos > def->max_pos) {
		ctl_errorf("'%s' takes %s (see --help)", cmd, def->takes);
		return TGC_CTL_EXIT_USAGE;
	}

	return -1;
}

int ctl_emit(const tgc_ctl_buf_t *buf)
{
	if (buf->failed) {
		ctl_errorf("out of memory");
		return TGC_CTL_EXIT_FAIL;
	}
	if (fwrite(tgc_ctl_buf_str(buf), 1, buf->len, stdout) != buf->len ||
	    fflush(stdout) != 0) {
		return TGC_CTL_EXIT_FAIL;
	}

	return TGC_CTL_EXIT_OK;
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
	case CMD_LIST:   return ctl_cmd_list(&args);
	case CMD_STATUS: return ctl_cmd_status(&args);
	case CMD_SET:    return ctl_cmd_set(&args);
	case CMD_WATCH:  return ctl_cmd_watch(&args);
	case CMD_METRICS: return ctl_cmd_metrics(&args);
	case CMD_PRUNE:  return ctl_cmd_prune(&args);
	case CMD_DRAIN:  return ctl_cmd_drain(&args);
	case CMD_EXPLAIN: return ctl_cmd_explain(&args);
	default:         return TGC_CTL_EXIT_USAGE;
	}
}
