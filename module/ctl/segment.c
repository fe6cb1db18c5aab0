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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libknot/errcode.h>
#include <libknot/error.h>

#include "module/ctl/cli.h"

const char *ctl_seg_path(const char *segment, seg_path_t path)
{
	snprintf(path, sizeof(seg_path_t), SHM_DIR "/%s", segment);

	return path;
}

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
	seg_path_t path;

	return tgc_ctl_path_kind(ctl_seg_path(segment, path));
}

int ctl_segs_scan(seg_list_t *list)
{
	memset(list, 0, sizeof(*list));
	DIR *dir = opendir(SHM_DIR);
	if (dir == NULL) {
		ctl_errorf("cannot read %s: %s", SHM_DIR, strerror(errno));
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
				ctl_errorf("out of memory");
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
				ctl_untrusted(&table, why, sizeof(why)) == NULL;
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

int ctl_resolve(const char *arg, char *out, size_t out_len)
{
	seg_list_t list;
	int ret = ctl_segs_scan(&list);
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
			ctl_errorf("no mod-tgcluster segments on this host (%s/%s*)",
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
			ctl_errorf("no such instance: '%s' (see '" PROGRAM " list')", arg);
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
			ctl_errorf("%zu instances on this host, name one of:", ncands);
			print_seg_cands(&list, cands, ncands);
			ret = TGC_CTL_EXIT_USAGE;
		} else {
			ctl_errorf("instance '%s' is ambiguous, candidates:", arg);
			print_seg_cands(&list, cands, ncands);
			ret = TGC_CTL_EXIT_NOINST;
		}
		break;
	case TGC_CTL_MATCH_INVALID:
	default:
		ctl_errorf("invalid instance name '%s'", (arg != NULL) ? arg : "");
		ret = TGC_CTL_EXIT_USAGE;
		break;
	}
	free(list.segs);

	return ret;
}

uint32_t ctl_seg_version(const char *segment)
{
	seg_path_t path;
	uint32_t word[2] = { 0, 0 };
	int fd = open(ctl_seg_path(segment, path), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
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
	seg_path_t path;
	struct stat st;
	if (lstat(ctl_seg_path(segment, path), &st) != 0) {
		ctl_errorf("permission denied on %s", path);
		return;
	}
	struct passwd *pw = getpwuid(st.st_uid);
	char uid[24];
	snprintf(uid, sizeof(uid), "uid %u", (unsigned)st.st_uid);
	ctl_errorf("permission denied: cannot %s %s (owner %s, mode %04o); run as "
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

const char *ctl_untrusted(const tgc_table_t *table, char *buf, size_t len)
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

int ctl_open_table(const char *segment, bool writable, tgc_table_t *table,
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
			ctl_errorf("%s", msg);
		}
		return TGC_CTL_EXIT_CORRUPT;
	}

	const char *err = NULL;
	int ret = tgc_table_attach(table, segment, writable, &err);
	if (ret == KNOT_EOK) {
		if (ctl_untrusted(table, msg, sizeof(msg)) == NULL) {
			return -1;
		}
		tgc_table_close(table);
		if (why != NULL) {
			snprintf(why, why_len, "%s", msg);
		}
		if (!quiet) {
			ctl_errorf("%s", msg);
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
		         ctl_seg_version(segment), TGC_TABLE_VERSION);
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
		ctl_errorf("%s", msg);
	}

	return code;
}

const char *ctl_attach_error(int ret)
{
	switch (ret) {
	case KNOT_EACCES:  return "permission denied";
	case KNOT_ENOTSUP: return "other layout version";
	case KNOT_ENOENT:  return "vanished";
	case KNOT_EMALF:   return "invalid segment";
	default:           return "unreadable";
	}
}

int ctl_snap_open(ctl_snap_t *snap, const char *segment, bool writable,
                  bool quiet, char *why, size_t why_len)
{
	memset(snap, 0, sizeof(*snap));
	snprintf(snap->segment, sizeof(snap->segment), "%s", segment);
	int ret = ctl_open_table(segment, writable, &snap->table, quiet, why, why_len);
	if (ret >= 0) {
		return ret;
	}
	if (tgc_ctl_status_load(&snap->st, &snap->table, tgc_table_now_ms()) != KNOT_EOK) {
		tgc_table_close(&snap->table);
		if (why != NULL) {
			snprintf(why, why_len, "out of memory");
		}
		if (!quiet) {
			ctl_errorf("out of memory");
		}
		return TGC_CTL_EXIT_FAIL;
	}

	return -1;
}

int ctl_snap_resolve(ctl_snap_t *snap, const char *inst, bool writable)
{
	char segment[TGC_TABLE_NAME_MAX + 1];
	int ret = ctl_resolve(inst, segment, sizeof(segment));
	if (ret >= 0) {
		return ret;
	}

	return ctl_snap_open(snap, segment, writable, false, NULL, 0);
}

void ctl_snap_close(ctl_snap_t *snap)
{
	tgc_ctl_status_free(&snap->st);
	tgc_table_close(&snap->table);
}
