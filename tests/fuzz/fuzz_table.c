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
 * \brief libFuzzer harness: shared-memory segment validation fed arbitrary
 *        segment bytes, and every reader of a segment that passed it.
 *
 * The input is a whole segment image. tgc_table_validate() judges it; if it
 * passes, the image is written to a real POSIX segment (0600, this process's
 * own, named after the PID) and read the way each party reads it:
 * tgclusterctl (tgc_table_attach() read-only and read-write,
 * tgc_table_node_read() of every node, tgc_table_cache_read() of a
 * translator's cache, the status snapshot and both renderings), a knotd
 * worker of a translator (the cached negative-answer SOA put into a
 * response, as translator_put_soa() does), and the module's load
 * (tgc_table_open() with a fixed spec: reuse, adopt or replace). The segment
 * is removed after each input.
 */

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "module/answer.h"
#include "module/ctl/format.h"
#include "module/table.h"

static char seg_name[64];

static void soa_put(const tgc_cache_snap_t *snap)
{
	if (snap->soa_owner_len == 0 ||
	    knot_dname_wire_check(snap->soa, snap->soa + snap->soa_owner_len,
	                          NULL) != snap->soa_owner_len) {
		return;
	}
	fuzz_arena_t arena;
	knot_mm_t mm;
	fuzz_arena_init(&arena, &mm);
	knot_pkt_t *resp = knot_pkt_new(NULL, KNOT_WIRE_MAX_PKTSIZE, NULL);
	FUZZ_ASSERT(resp != NULL);
	uint8_t *owner = mm.alloc(mm.ctx, snap->soa_owner_len);
	/* Exactly the rdata length: ASan sees any read beyond it. */
	uint8_t *rd = mm.alloc(mm.ctx, knot_rdata_size(snap->soa_rdata_len));
	FUZZ_ASSERT(owner != NULL && rd != NULL);
	memcpy(owner, snap->soa, snap->soa_owner_len);
	knot_rdata_init((knot_rdata_t *)rd, snap->soa_rdata_len,
	                snap->soa + snap->soa_owner_len);
	knot_rrset_t soa;
	knot_rrset_init(&soa, owner, KNOT_RRTYPE_SOA, KNOT_CLASS_IN, 60);
	soa.rrs.count = 1;
	soa.rrs.size = knot_rdata_size(snap->soa_rdata_len);
	soa.rrs.rdata = (knot_rdata_t *)rd;
	(void)tgc_answer_put_soa(resp, &soa, 5, &mm);
	knot_pkt_free(resp);
	fuzz_arena_clear(&arena);
}

static bool write_segment(const uint8_t *data, size_t size)
{
	int fd = shm_open(seg_name, O_RDWR | O_CREAT | O_TRUNC, 0600);
	FUZZ_ASSERT(fd >= 0);
	FUZZ_ASSERT(fchmod(fd, 0600) == 0);
	size_t done = 0;
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);
		FUZZ_ASSERT(n > 0);
		done += (size_t)n;
	}
	close(fd);
	return true;
}

static void cli_reads(void)
{
	for (int writable = 0; writable < 2; writable++) {
		tgc_table_t t;
		const char *err = NULL;
		int ret = tgc_table_attach(&t, seg_name, writable, &err);
		FUZZ_ASSERT(ret == KNOT_EOK); /* validated bytes */
		for (uint32_t i = 0; i < t.hdr->node_count; i++) {
			tgc_node_snap_t snap;
			tgc_table_node_read(&t, i, &snap);
			FUZZ_ASSERT(snap.addr.family == AF_INET || snap.addr.family == AF_INET6);
		}
		if (t.hdr->role == TGC_ROLE_TRANSLATOR) {
			FUZZ_ASSERT(t.cache != NULL);
			tgc_cache_snap_t *c = malloc(sizeof(*c));
			FUZZ_ASSERT(c != NULL);
			for (unsigned i = 0; i < TGC_CACHE_RECS; i++) {
				if (tgc_table_cache_read(&t, i, c, true) == KNOT_EOK) {
					FUZZ_ASSERT(c->count <= TGC_CACHE_ADDRS_MAX);
					soa_put(c);
				}
			}
			free(c);
		}
		if (writable && t.hdr->node_count > 0) {
			FUZZ_ASSERT(tgc_table_admin_set(&t, 0, TGC_ADMIN_DRAIN) == KNOT_EOK);
		}
		tgc_ctl_status_t st;
		if (tgc_ctl_status_load(&st, &t, tgc_table_now_ms()) == KNOT_EOK) {
			tgc_ctl_buf_t buf;
			tgc_ctl_buf_init(&buf);
			tgc_ctl_render_status(&buf, &st);
			tgc_ctl_buf_reset(&buf);
			tgc_ctl_render_json(&buf, &st);
			tgc_ctl_buf_free(&buf);
			tgc_ctl_status_free(&st);
		}
		tgc_table_close(&t);
	}
}

static void module_open(const uint8_t *data, size_t size)
{
	/* A valid image naming another live process as its owner is refused. */
	uint64_t owner = 0;
	size_t off = offsetof(tgc_table_hdr_t, owner);
	if (size >= off + sizeof(owner)) {
		memcpy(&owner, data + off, sizeof(owner));
	}
	bool foreign = owner != 0 && owner != tgc_table_owner_self() &&
	               tgc_table_owner_alive(owner);
	tgc_table_node_t nodes[3];
	memset(nodes, 0, sizeof(nodes));
	FUZZ_ASSERT(tgc_addr_parse("10.10.10.100", &nodes[0].addr) == KNOT_EOK);
	FUZZ_ASSERT(tgc_addr_parse("10.10.10.101", &nodes[1].addr) == KNOT_EOK);
	FUZZ_ASSERT(tgc_addr_parse("fd00::1", &nodes[2].addr) == KNOT_EOK);
	for (int i = 0; i < 3; i++) {
		nodes[i].port = 5900;
	}
	tgc_table_spec_t spec = {
		.role = TGC_ROLE_LB, .zone = "internet.intern.netz",
		.instance = "lb", .name = "internet.intern.netz.",
		.nodes = nodes, .node_count = 3,
		.interval_ms = 1000, .timeout_ms = 500, .rise = 2, .fall = 2,
	};
	tgc_table_t t;
	tgc_table_origin_t origin;
	const char *err = NULL;
	int ret = tgc_table_open(&t, seg_name, &spec, &origin, &err);
	if (ret == KNOT_EBUSY) {
		FUZZ_ASSERT(foreign && t.hdr == NULL);
		(void)tgc_table_unlink(seg_name);
		return;
	}
	FUZZ_ASSERT(ret == KNOT_EOK);
	/* Whatever it found, the mapping now describes exactly our nodes. */
	FUZZ_ASSERT(t.hdr->node_count == 3 && t.hdr->role == TGC_ROLE_LB);
	FUZZ_ASSERT(tgc_table_validate(t.hdr, t.size, NULL) == KNOT_EOK);
	for (uint32_t i = 0; i < 3; i++) {
		tgc_node_snap_t snap;
		tgc_table_node_read(&t, i, &snap);
		FUZZ_ASSERT(tgc_addr_equal(&snap.addr, &nodes[i].addr));
	}
	/* As a module instance: private view, claim, one exchange. */
	FUZZ_ASSERT(tgc_table_view(&t) == KNOT_EOK);
	FUZZ_ASSERT(tgc_table_claim(&t, 0x1234, NULL) == KNOT_EOK);
	tgc_table_sync_t ev;
	tgc_table_sync(&t, 0x1234, &ev);
	FUZZ_ASSERT(ev.writer && !ev.dropped);
	for (uint32_t i = 0; i < 3; i++) {
		tgc_node_snap_t snap;
		tgc_table_node_read(&t, i, &snap);
		FUZZ_ASSERT(tgc_addr_equal(&snap.addr, &nodes[i].addr));
	}
	tgc_table_close(&t);
	tgc_table_release(0x1234);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (seg_name[0] == '\0') {
		snprintf(seg_name, sizeof(seg_name), "/tgcluster.fuzz-%d", (int)getpid());
	}
	const char *err = NULL;
	int ret = tgc_table_validate(data, size, &err);
	if (ret != KNOT_EOK) {
		FUZZ_ASSERT(err != NULL);
		FUZZ_ASSERT(ret == KNOT_EMALF || ret == KNOT_ENOTSUP);
		/* The module replaces an invalid segment of ours. */
		if (size > 0 && (data[0] & 1)) {
			write_segment(data, size);
			module_open(data, size);
			shm_unlink(seg_name);
		}
		return 0;
	}
	write_segment(data, size);
	cli_reads();
	module_open(data, size);
	shm_unlink(seg_name);
	return 0;
}
