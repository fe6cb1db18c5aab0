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

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libknot/errcode.h>

#include "module/ctl/cli.h"

int ctl_cmd_list(const args_t *args)
{
	seg_list_t list;
	int ret = ctl_segs_scan(&list);
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
		ctl_errorf("out of memory");
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
			         ctl_seg_version(e->segment), TGC_TABLE_VERSION);
			e->error = errs[i];
			continue;
		} else if (r != KNOT_EOK) {
			e->error = ctl_attach_error(r);
			continue;
		}
		char why[16];
		if (ctl_untrusted(&table, why, sizeof(why)) != NULL) {
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
	ret = ctl_emit(&out);
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

/*! \brief Renders the snapshot of \a snap into \a out and closes it. */
static void render_snap(ctl_snap_t *snap, bool json, tgc_ctl_buf_t *out)
{
	if (json) {
		tgc_ctl_render_json(out, &snap->st);
	} else {
		tgc_ctl_render_status(out, &snap->st);
	}
	ctl_snap_close(snap);
}

int ctl_cmd_status(const args_t *args)
{
	ctl_snap_t snap;
	int ret = ctl_snap_resolve(&snap, (args->npos > 0) ? args->pos[0] : NULL,
	                           false);
	if (ret >= 0) {
		return ret;
	}
	tgc_ctl_buf_t out;
	tgc_ctl_buf_init(&out);
	render_snap(&snap, args->json, &out);
	ret = ctl_emit(&out);
	tgc_ctl_buf_free(&out);

	return ret;
}

/*! \brief Placeholder handler of the signals that end watch (blocked). */
static void on_signal(int sig)
{
	(void)sig;
}

int ctl_cmd_watch(const args_t *args)
{
	char segment[TGC_TABLE_NAME_MAX + 1];
	int ret = ctl_resolve((args->npos > 0) ? args->pos[0] : NULL,
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
		ctl_errorf("cannot block signals: %s", strerror(errno));
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
		ctl_snap_t snap;
		int r = ctl_snap_open(&snap, segment, false, frame > 0, why, sizeof(why));
		if (r < 0) {
			render_snap(&snap, false, &out);
		} else if (frame == 0) {
			ret = r;
			break;
		} else {
			/* Transient (a restart replacing the segment): keep going. */
			tgc_ctl_buf_printf(&out, "unavailable: ");
			tgc_ctl_buf_safe_str(&out, why);
			tgc_ctl_buf_printf(&out, "\n");
		}
		if (ctl_emit(&out) != TGC_CTL_EXIT_OK) {
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
