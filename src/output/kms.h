/* SPDX-License-Identifier: MIT */
/* Private to src/output: the KMS output (DRM master, atomic, planes). */
#ifndef VD_OUTPUT_KMS_H
#define VD_OUTPUT_KMS_H

#include "output/output.h"

/*
 * Opens opts->drm_device, or the first /dev/dri/card* with a connected
 * connector, and becomes its DRM master; the display's state is restored
 * and mastership dropped by destroy. Borrows loop and opts.
 */
int vd_output_kms_create(sd_event *loop, const struct vd_output_opts *opts,
			 struct vd_output **ret_out);

#endif
