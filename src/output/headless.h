/* SPDX-License-Identifier: MIT */
/* Private to src/output: the headless output (virtual vblank, frame capture). */
#ifndef VD_OUTPUT_HEADLESS_H
#define VD_OUTPUT_HEADLESS_H

#include "output/output.h"

/* Borrows loop and opts (capture_dir is copied). */
int vd_output_headless_create(sd_event *loop, const struct vd_output_opts *opts,
			      struct vd_output **ret_out);

#endif
