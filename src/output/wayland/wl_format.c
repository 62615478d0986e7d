/* SPDX-License-Identifier: MIT */
/*
 * Pixel formats of the wl_shm path. Every format Linux xen-front offers
 * (PROTOCOL.md §2) has a wl_shm code (the DRM fourcc, except the two
 * mandatory 8888 formats). A frame is copied in its own format when the
 * compositor advertised it (wl_shm.format); otherwise it is converted to
 * XRGB8888 (ARGB8888 for formats with alpha), which every compositor takes.
 * Narrow channels widen by bit replication (5 bits abcde -> abcdeabc), as
 * pixman does, so a converted frame looks as the compositor would show the
 * native one.
 */
#include "output/wayland/wl_priv.h"

#include <string.h>

#include <drm_fourcc.h>

uint32_t wlo_shm_format(uint32_t fourcc)
{
	/* wl_shm's two mandatory formats have their own codes; the rest are fourccs. */
	switch (fourcc) {
	case DRM_FORMAT_ARGB8888:
		return WL_SHM_FORMAT_ARGB8888;
	case DRM_FORMAT_XRGB8888:
		return WL_SHM_FORMAT_XRGB8888;
	default:
		return fourcc;
	}
}

static bool has_alpha(uint32_t fourcc)
{
	return fourcc == DRM_FORMAT_ARGB8888 || fourcc == DRM_FORMAT_ARGB4444 ||
	       fourcc == DRM_FORMAT_ARGB1555;
}

static bool convertible(uint32_t fourcc)
{
	switch (fourcc) {
	case DRM_FORMAT_RGB565:
	case DRM_FORMAT_RGB888:
	case DRM_FORMAT_XRGB8888:
	case DRM_FORMAT_ARGB8888:
	case DRM_FORMAT_XRGB4444:
	case DRM_FORMAT_ARGB4444:
	case DRM_FORMAT_XRGB1555:
	case DRM_FORMAT_ARGB1555:
	case DRM_FORMAT_YUYV:
		return true;
	default:
		return false;
	}
}

static bool offered(const uint32_t *formats, uint32_t n, uint32_t format)
{
	for (uint32_t i = 0; i < n; i++)
		if (formats[i] == format)
			return true;
	return false;
}

int wlo_shm_choose(const uint32_t *formats, uint32_t nformats, uint32_t fourcc, uint32_t bpp,
		   struct wlo_shm_choice *ret)
{
	uint32_t own = wlo_shm_format(fourcc);

	if (bpp % 8 == 0 && bpp && offered(formats, nformats, own)) {
		*ret = (struct wlo_shm_choice){.format = own, .bpp = bpp, .convert = false};
		return 0;
	}
	if (!convertible(fourcc))
		return -1;
	*ret = (struct wlo_shm_choice){
	    .format = has_alpha(fourcc) ? WL_SHM_FORMAT_ARGB8888 : WL_SHM_FORMAT_XRGB8888,
	    .bpp = 32,
	    .convert = true,
	};
	return 0;
}

static uint32_t widen(uint32_t v, unsigned bits)
{
	/* v has bits bits; replicate them into 8 */
	uint32_t r = v << (8 - bits);

	for (unsigned have = bits; have < 8; have += bits)
		r |= r >> have;
	return r & 0xff;
}

static uint32_t clamp8(int32_t v)
{
	return v < 0 ? 0u : v > 255 ? 255u : (uint32_t)v;
}

/* BT.601, limited range (what Linux and pixman assume for YUYV). */
static uint32_t yuv_to_xrgb(int32_t y, int32_t u, int32_t v)
{
	int32_t c = 298 * (y - 16), d = u - 128, e = v - 128;

	return 0xff000000u | clamp8((c + 409 * e + 128) >> 8) << 16 |
	       clamp8((c - 100 * d - 208 * e + 128) >> 8) << 8 | clamp8((c + 516 * d + 128) >> 8);
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

uint32_t wlo_convert_px(uint32_t fourcc, const uint8_t *src, uint32_t row_w, uint32_t x)
{
	uint32_t p, a = 0xffu;

	switch (fourcc) {
	case DRM_FORMAT_RGB565:
		p = rd16(src + 2 * x);
		return 0xff000000u | widen(p >> 11, 5) << 16 | widen(p >> 5 & 0x3f, 6) << 8 |
		       widen(p & 0x1f, 5);
	case DRM_FORMAT_RGB888:
		return 0xff000000u | (uint32_t)src[3 * x + 2] << 16 | (uint32_t)src[3 * x + 1] << 8 |
		       src[3 * x];
	case DRM_FORMAT_XRGB8888:
	case DRM_FORMAT_ARGB8888:
		memcpy(&p, src + 4 * x, 4);
		return fourcc == DRM_FORMAT_XRGB8888 ? p | 0xff000000u : p;
	case DRM_FORMAT_XRGB4444:
	case DRM_FORMAT_ARGB4444:
		p = rd16(src + 2 * x);
		if (fourcc == DRM_FORMAT_ARGB4444)
			a = widen(p >> 12, 4);
		return a << 24 | widen(p >> 8 & 0xf, 4) << 16 | widen(p >> 4 & 0xf, 4) << 8 |
		       widen(p & 0xf, 4);
	case DRM_FORMAT_XRGB1555:
	case DRM_FORMAT_ARGB1555:
		p = rd16(src + 2 * x);
		if (fourcc == DRM_FORMAT_ARGB1555)
			a = p >> 15 ? 0xffu : 0u;
		return a << 24 | widen(p >> 10 & 0x1f, 5) << 16 | widen(p >> 5 & 0x1f, 5) << 8 |
		       widen(p & 0x1f, 5);
	case DRM_FORMAT_YUYV: {
		const uint8_t *m = src + (size_t)(x / 2) * 4; /* Y0 U Y1 V */

		/* an odd row's last pixel has no pair: no V in the row, neutral */
		return yuv_to_xrgb(m[(x & 1) * 2], m[1], x + 1 < row_w || x & 1 ? m[3] : 128);
	}
	default:
		return 0xff000000u;
	}
}

void wlo_convert_row(uint32_t fourcc, const uint8_t *src, uint32_t row_w, uint32_t x0, uint32_t w,
		     uint32_t *dst)
{
	for (uint32_t i = 0; i < w; i++)
		dst[i] = wlo_convert_px(fourcc, src, row_w, x0 + i);
}

/* ---- linux-dmabuf formats ---- */

static bool format_has(const struct wlo_format *f, uint32_t n, uint32_t fourcc, uint64_t mod)
{
	for (uint32_t i = 0; i < n; i++)
		if (f[i].fourcc == fourcc && f[i].modifier == mod)
			return true;
	return false;
}

uint32_t wlo_format_add(struct wlo_format *f, uint32_t n, uint32_t max, uint32_t fourcc,
			uint64_t modifier)
{
	if (n >= max || format_has(f, n, fourcc, modifier))
		return n;
	f[n] = (struct wlo_format){fourcc, modifier};
	return n + 1;
}

uint32_t wlo_feedback_tranche(struct wlo_format *f, uint32_t n, uint32_t max, const void *table,
			      size_t table_size, const uint16_t *idx, uint32_t nidx)
{
	size_t entries = table ? table_size / 16 : 0;

	for (uint32_t i = 0; i < nidx; i++) {
		const uint8_t *e;
		uint32_t fourcc;
		uint64_t mod;

		if (idx[i] >= entries)
			continue; /* an index past the table: the compositor's bug, not ours to
				     follow */
		e = (const uint8_t *)table + (size_t)idx[i] * 16;
		memcpy(&fourcc, e, 4);
		memcpy(&mod, e + 8, 8);
		n = wlo_format_add(f, n, max, fourcc, mod);
	}
	return n;
}

int wlo_dmabuf_modifier(const struct wlo_format *f, uint32_t n, uint32_t fourcc, uint64_t *ret_mod)
{
	/* Guest buffers are linear: say so if the compositor takes linear ... */
	if (format_has(f, n, fourcc, DRM_FORMAT_MOD_LINEAR)) {
		*ret_mod = DRM_FORMAT_MOD_LINEAR;
		return 0;
	}
	/* ... else an implicit modifier, which drivers take as linear for imports. */
	if (format_has(f, n, fourcc, DRM_FORMAT_MOD_INVALID)) {
		*ret_mod = DRM_FORMAT_MOD_INVALID;
		return 0;
	}
	return -1; /* only tiled or compressed layouts: copy to wl_shm */
}
