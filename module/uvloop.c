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


#include "module/uvloop.h"

/*! \brief uv_walk() callback: closes a handle unless it is closing. */
static void close_walk(uv_handle_t *handle, void *arg)
{
	(void)arg;
	if (!uv_is_closing(handle)) {
		uv_close(handle, NULL);
	}
}

void tgc_uvloop_close_all(uv_loop_t *loop)
{
	uv_walk(loop, close_walk, NULL);
}

int tgc_uvloop_shutdown(uv_loop_t *loop)
{
	int ret = UV_EBUSY;
	/* A close callback may start closing further handles: a few rounds. */
	for (int tries = 0; tries < 3 && ret == UV_EBUSY; tries++) {
		tgc_uvloop_close_all(loop);
		(void)uv_run(loop, UV_RUN_DEFAULT);
		ret = uv_loop_close(loop);
	}

	return ret;
}
