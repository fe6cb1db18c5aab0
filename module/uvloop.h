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
 * \brief Closing a module thread's libuv loop (checker and poller).
 */

#pragma once

#include <uv.h>

/*!
 * \brief Starts closing every handle of \a loop that is not closing yet.
 *        Called from the loop's own thread (e.g. in the stop async callback).
 */
void tgc_uvloop_close_all(uv_loop_t *loop);

/*!
 * \brief Closes every handle, runs the loop until they are closed, and
 *        closes the loop.
 *
 * \return uv_loop_close() result (0 when everything was released).
 */
int tgc_uvloop_shutdown(uv_loop_t *loop);
