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
 * \brief Zone admin records and the precedence of admin states.
 *
 * An admin record is a TXT record at the zone apex:
 *
 *   @ TXT "tgcluster-admin" NODE STATE ["name=CLUSTER"] ["reason=TEXT"]
 *
 * NODE is a node as written in the `node` item or its address, STATE one
 * of drain, down, up. The parser is pure (no allocation, no system call):
 * it is fed TXT rdata straight from the zone.
 *
 * Precedence, applied in one place (tgc_admin_resolve(), called by
 * tgc_table_sync()): a local state other than auto beats the zone's, the
 * zone's beats auto; a zone drain or down that would leave fewer than
 * `min-live` answerable nodes is held back.
 */

#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "module/addr.h"
#include "module/table.h"

/*! \brief First string of an admin record. */
#define TGC_ADMIN_TAG		"tgcluster-admin"
/*! \brief Longest NODE string accepted (an IPv6 address with @port). */
#define TGC_ADMIN_NODE_MAX	64
/*! \brief Longest name= value accepted (a domain name in text). */
#define TGC_ADMIN_NAME_MAX	256

/*! \brief One parsed admin record. */
typedef struct {
	tgc_addr_t addr;       /*!< Node address. */
	uint16_t port;         /*!< Node check port, 0 = any. */
	tgc_admin_t state;     /*!< drain, down or up. */
	bool has_name;         /*!< A name= was given. */
	char name[TGC_ADMIN_NAME_MAX]; /*!< Cluster name, lower case, no
	                                *   trailing dot (if \a has_name). */
	char reason[TGC_ADMIN_REASON_MAX]; /*!< Reason ("" if none), printable
	                                    *   ASCII only (others become '?'),
	                                    *   truncated. */
} tgc_admin_rec_t;

/*!
 * \brief Parses the rdata of one TXT record.
 *
 * \param[in]  rdata  TXT rdata (a sequence of length-prefixed strings).
 * \param[in]  len    Its length.
 * \param[out] out    Parsed record.
 * \param[out] err    Static reason when malformed (may be NULL).
 *
 * \retval KNOT_EOK     An admin record.
 * \retval KNOT_ENOENT  Not an admin record (first string differs).
 * \retval KNOT_EMALF   An admin record that is malformed.
 */
int tgc_admin_parse(const uint8_t *rdata, size_t len, tgc_admin_rec_t *out,
                    const char **err);

/*!
 * \brief Tells whether a record's name= (if any) selects the cluster
 *        \a name (text, any case, with or without the trailing dot).
 */
bool tgc_admin_name_match(const tgc_admin_rec_t *rec, const char *name);

/*! \brief Input of tgc_admin_resolve() for one node. */
typedef struct {
	tgc_health_t health; /*!< Health as the checker sees it. */
	tgc_admin_t local;   /*!< State set locally (auto = none). */
	tgc_admin_t zone;    /*!< State from the zone (auto = none). */
} tgc_admin_in_t;

/*! \brief Output of tgc_admin_resolve() for one node. */
typedef struct {
	tgc_admin_t admin;   /*!< Effective state. */
	tgc_admin_src_t src; /*!< Its source. */
	bool guarded;        /*!< A zone drain/down held back by min-live. */
} tgc_admin_out_t;

/*!
 * \brief Applies the precedence rule and the min-live guard (pure).
 *
 * Local states other than auto apply as they are (the CLI guards them).
 * Zone states apply where the local one is auto; zone drains and downs are
 * taken in node order and one that would bring the number of answerable
 * nodes (admin up, or admin auto and health not down) below \a min_live is
 * held back (the node stays auto, \a guarded set).
 */
void tgc_admin_resolve(const tgc_admin_in_t *in, tgc_admin_out_t *out,
                       uint32_t count, uint32_t min_live);

/*!
 * \brief Number of answerable nodes if node \a idx took \a state locally
 *        (the CLI's guard check; \a idx = count for the current number).
 */
uint32_t tgc_admin_live_after(const tgc_admin_in_t *in, uint32_t count,
                              uint32_t idx, tgc_admin_t state, uint32_t min_live);

/*! \brief Zone admin state of one node, as handed to the checker. */
typedef struct {
	tgc_admin_t state;                 /*!< auto when no record names it. */
	char reason[TGC_ADMIN_REASON_MAX]; /*!< Its reason. */
} tgc_admin_zone_t;

/*!
 * \brief Mailbox from the query workers (which see the zone) to the checker
 *        thread (which alone writes the table's view).
 *
 * All fields but \a lock and \a count are read and written under \a lock
 * (writers: a worker that parsed a new serial; reader: the checker tick,
 * which clears \a pending). \a count is immutable after init.
 */
typedef struct tgc_admin_box {
	pthread_mutex_t lock;    /*!< Guards the fields below. */
	uint32_t count;          /*!< Number of nodes (immutable). */
	bool pending;            /*!< \a nodes holds states not taken yet. */
	uint32_t serial;         /*!< Zone SOA serial they come from. */
	uint32_t malformed;      /*!< Malformed admin records in that serial. */
	tgc_admin_zone_t *nodes; /*!< Per node. */
} tgc_admin_box_t;

/*! \brief Initialises a mailbox for \a count nodes. */
int tgc_admin_box_init(tgc_admin_box_t *box, uint32_t count);

/*! \brief Frees a mailbox (no thread may use it any more). */
void tgc_admin_box_deinit(tgc_admin_box_t *box);

/*! \brief Posts the zone states of \a serial (copies \a nodes, count of the
 *         box). */
void tgc_admin_box_post(tgc_admin_box_t *box, uint32_t serial,
                        uint32_t malformed, const tgc_admin_zone_t *nodes);

/*!
 * \brief Takes posted states out (checker).
 *
 * \return True if there were any (copied into \a nodes, \a serial,
 *         \a malformed).
 */
bool tgc_admin_box_take(tgc_admin_box_t *box, uint32_t *serial,
                        uint32_t *malformed, tgc_admin_zone_t *nodes);
