/* SPDX-License-Identifier: MIT */
/*
 * Private to src/output/kms: the decisions of the KMS output as pure
 * functions (no DRM device needed), so that unit tests cover them on
 * machines without /dev/dri: which mode a display gets, where each
 * virtual connector goes on a shared screen, and whether a plane can
 * scan out a format/modifier (IN_FORMATS).
 */
#ifndef VD_OUTPUT_KMS_LOGIC_H
#define VD_OUTPUT_KMS_LOGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "output/output.h"

/* DRM_FORMAT_MOD_LINEAR and _INVALID (drm_fourcc.h), without the header. */
#define VD_KMS_MOD_LINEAR 0ull
#define VD_KMS_MOD_INVALID 0x00ffffffffffffffull

/* What mode selection needs of a drmModeModeInfo. */
struct vd_kms_mode {
	uint32_t width, height;
	uint32_t refresh_mhz; /* vertical refresh in mHz */
	bool preferred;       /* DRM_MODE_TYPE_PREFERRED */
};

/*
 * The index of the mode for a virtual connector of width x height: an
 * exact match if the display has one (the preferred one among several,
 * else the highest refresh), else the preferred mode, else the largest.
 * -ENOENT if n is 0.
 */
int vd_kms_mode_pick(const struct vd_kms_mode *modes, size_t n, uint32_t width, uint32_t height);

/*
 * Cell i of n equal columns side by side on a screen_w x screen_h screen
 * (the last takes the remainder). n 0 or i >= n: an empty rectangle.
 */
struct vd_rect vd_kms_layout_cell(uint32_t screen_w, uint32_t screen_h, uint32_t n, uint32_t i);

/*
 * Where a src_w x src_h picture goes in cell: centred 1:1 if it fits. If
 * it does not, and scale is true, scaled down keeping the aspect ratio
 * (for planes that scale); else cropped to the cell, around the centre of
 * the picture (a CPU copy does not scale). ret_src is the part of the
 * picture shown, ret_dst where it lands (same size unless scaled). False
 * if nothing is visible.
 */
bool vd_kms_fit(const struct vd_rect *cell, uint32_t src_w, uint32_t src_h, bool scale,
		struct vd_rect *ret_src, struct vd_rect *ret_dst);

/*
 * Whether an IN_FORMATS blob (struct drm_format_modifier_blob, len bytes,
 * untrusted: every offset and count is checked) lists fourcc with
 * modifier. VD_KMS_MOD_INVALID ("implicit") matches a format listed with
 * any modifier. False for a malformed blob.
 */
bool vd_kms_in_formats_has(const void *blob, size_t len, uint32_t fourcc, uint64_t modifier);

#endif
