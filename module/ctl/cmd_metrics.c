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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libknot/errcode.h>

#include "module/ctl/cli.h"

/*!
 * \brief Writes \a buf to \a path atomically: a temporary file in the same
 *        directory (mode 0644, synced), renamed over \a path.
 *
 * \return An exit code.
 */
static int write_atomic(const char *path, const tgc_ctl_buf_t *buf)
{
	if (buf->failed) {
		ctl_errorf("out of memory");
		return TGC_CTL_EXIT_FAIL;
	}
	const char *slash = strrchr(path, '/');
	size_t dir_len = (slash != NULL) ? (size_t)(slash - path) + 1 : 0;
	const char *base = path + dir_len;
	if (*base == '\0') {
		ctl_errorf("--output '%s' names a directory, not a file", path);
		return TGC_CTL_EXIT_USAGE;
	}
	/* A dot name: not read by node_exporter's textfile collector (*.prom). */
	char *tmp = NULL;
	if (asprintf(&tmp, "%.*s.%s.XXXXXX", (int)dir_len, path, base) < 0) {
		ctl_errorf("out of memory");
		return TGC_CTL_EXIT_FAIL;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		ctl_errorf("cannot create a temporary file beside %s: %s", path,
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
		ctl_errorf("cannot write %s (%s of %s): %s", path, what, tmp, strerror(errno));
		(void)unlink(tmp);
		ret = TGC_CTL_EXIT_FAIL;
	}
	free(tmp);

	return ret;
}

int ctl_cmd_metrics(const args_t *args)
{
	seg_list_t list;
	char one[TGC_TABLE_NAME_MAX + 1];
	int ret;
	if (args->npos > 0) {
		ret = ctl_resolve(args->pos[0], one, sizeof(one));
		if (ret >= 0) {
			return ret;
		}
		memset(&list, 0, sizeof(list));
		list.segs = calloc(1, sizeof(*list.segs));
		if (list.segs == NULL) {
			ctl_errorf("out of memory");
			return TGC_CTL_EXIT_FAIL;
		}
		snprintf(list.segs[0].segment, sizeof(list.segs[0].segment), "%s", one);
		list.count = 1;
	} else {
		ret = ctl_segs_scan(&list);
		if (ret != TGC_CTL_EXIT_OK) {
			return ret;
		}
	}

	tgc_ctl_status_t *sts = calloc(list.count + 1, sizeof(*sts));
	if (sts == NULL) {
		free(list.segs);
		ctl_errorf("out of memory");
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
		int r = ctl_open_table(list.segs[i].segment, false, &table,
		                       args->npos == 0, why, sizeof(why));
		if (r >= 0) {
			if (args->npos > 0) {
				ret = r;
				break;
			}
			ctl_errorf("skipped: %s", why);
			continue;
		}
		if (tgc_ctl_status_load(&sts[count], &table, tgc_table_now_ms()) !=
		    KNOT_EOK) {
			tgc_table_close(&table);
			ctl_errorf("out of memory");
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
		                               ctl_emit(&out);
		tgc_ctl_buf_free(&out);
	}
	for (size_t i = 0; i < count; i++) {
		tgc_ctl_status_free(&sts[i]);
	}
	free(sts);
	free(list.segs);

	return ret;
}
