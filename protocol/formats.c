/* SPDX-License-Identifier: MIT */
/*
 * DRM fourccs a frontend may name in FB_ATTACH. A local table keeps the
 * protocol library free of libdrm; the values are the drm_fourcc.h ones.
 */
#include <errno.h>

#include "displif_proto.h"

struct vd_format {
	uint32_t fourcc;
	uint8_t bpp;
	bool xen_front; /* offered by Linux xen-front (conn.c) */
	const char *name; /* drm_fourcc.h's, without DRM_FORMAT_ */
};

static const struct vd_format vd_formats[] = {
	{VD_FOURCC('R', 'G', '1', '6'), 16, true, "RGB565"},
	{VD_FOURCC('R', 'G', '2', '4'), 24, true, "RGB888"},
	{VD_FOURCC('X', 'R', '2', '4'), 32, true, "XRGB8888"},
	{VD_FOURCC('A', 'R', '2', '4'), 32, true, "ARGB8888"},
	{VD_FOURCC('X', 'R', '1', '2'), 16, true, "XRGB4444"},
	{VD_FOURCC('A', 'R', '1', '2'), 16, true, "ARGB4444"},
	{VD_FOURCC('X', 'R', '1', '5'), 16, true, "XRGB1555"},
	{VD_FOURCC('A', 'R', '1', '5'), 16, true, "ARGB1555"},
	{VD_FOURCC('Y', 'U', 'Y', 'V'), 16, true, "YUYV"},
	{VD_FOURCC('X', 'B', '2', '4'), 32, false, "XBGR8888"},
	{VD_FOURCC('A', 'B', '2', '4'), 32, false, "ABGR8888"},
	{VD_FOURCC('B', 'G', '2', '4'), 24, false, "BGR888"},
	{VD_FOURCC('R', 'G', 'B', '8'), 8, false, "RGB332"},
	{VD_FOURCC('C', '8', ' ', ' '), 8, false, "C8"},
};

static const struct vd_format *format_find(uint32_t fourcc)
{
	size_t i;

	for (i = 0; i < sizeof(vd_formats) / sizeof(vd_formats[0]); i++) {
		if (vd_formats[i].fourcc == fourcc)
			return &vd_formats[i];
	}
	return NULL;
}

int vd_format_bpp(uint32_t fourcc)
{
	const struct vd_format *f = format_find(fourcc);

	return f ? f->bpp : -EINVAL;
}

const char *vd_format_name(uint32_t fourcc)
{
	const struct vd_format *f = format_find(fourcc);

	return f ? f->name : NULL;
}

bool vd_format_supported(uint32_t fourcc)
{
	const struct vd_format *f = format_find(fourcc);

	return f && f->xen_front;
}

uint32_t vd_format_hsub(uint32_t fourcc)
{
	return fourcc == VD_FOURCC('Y', 'U', 'Y', 'V') ? 2 : 1;
}
