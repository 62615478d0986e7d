/* SPDX-License-Identifier: MIT */
/*
 * Frames to PNG files (screenshots, headless capture). Converts the DRM
 * fourccs a guest may use to 8-bit RGB, or RGBA when the format has alpha.
 */
#ifndef VD_OUTPUT_PNG_H
#define VD_OUTPUT_PNG_H

#include <stdint.h>

#include "output/output.h"

/* Bits per pixel of fourcc if vd_png_write can convert it, else 0. */
uint32_t vd_png_format_bpp(uint32_t fourcc);

/*
 * Write view (borrowed) to path. Atomic: written to "<path>.tmp" and
 * renamed over path, so a reader never sees a partial file.
 * -EOPNOTSUPP for a format it cannot convert, -EINVAL for an empty view.
 */
int vd_png_write(const char *path, const struct vd_frame_view *view);
/*
 * The same, view at the top-left of a width x height image (at least
 * view's size), black around it: what a connector of that size shows of
 * a smaller picture.
 */
int vd_png_write_canvas(const char *path, const struct vd_frame_view *view, uint32_t width,
			uint32_t height);

#endif
