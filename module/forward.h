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
 * \brief NAT translator: forwarding to the upstream load balancers.
 *
 * Pieces, from pure to threaded, each in its own file:
 *  - module/reply.h: building queries, validating, confining and extracting
 *    replies, rewriting addresses, the cache state (pure);
 *  - module/fwd_client.h: the blocking UDP/TCP client (tgc_forward_query());
 *  - module/poller.h: the poller thread publishing the cluster name's
 *    answer in the table.
 */

#pragma once

#include "module/fwd_client.h"
#include "module/poller.h"
#include "module/reply.h"
