/* SPDX-License-Identifier: MIT */
/* Private to src/output: the Wayland output (a client of a compositor). */
#ifndef VD_OUTPUT_WAYLAND_H
#define VD_OUTPUT_WAYLAND_H

#include "output/output.h"

/*
 * Connects to the compositor named by WAYLAND_DISPLAY. A compositor that
 * is not there (yet) is not an error: connectors complete their flips
 * without a screen and the output tries to connect again every second.
 * Borrows loop and opts.
 */
int vd_output_wayland_create(sd_event *loop, const struct vd_output_opts *opts,
			     struct vd_output **ret_out);

#endif
