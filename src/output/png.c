/* SPDX-License-Identifier: MIT */
/*
 * PNG writing with libpng. Pixels are converted one row at a time into a
 * scratch row, so no full-frame temporary is needed. Fourccs are defined
 * locally (values as in drm_fourcc.h) to keep libdrm out of this file.
 */
#include "output/png.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <png.h>

#include "log.h"

#define FOURCC(a, b, c, d)                                                                         \
	((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))

/* One colour channel inside a little-endian packed pixel; bits 0: absent. */
struct chan {
	uint8_t shift, bits;
};

struct png_format {
	uint32_t fourcc;
	uint8_t bpp;
	bool yuyv; /* packed 4:2:2 Y0 U Y1 V, else packed RGB */
	struct chan r, g, b, a;
};

static const struct png_format png_formats[] = {
	{FOURCC('X', 'R', '2', '4'), 32, false, {16, 8}, {8, 8}, {0, 8}, {0, 0}},
	{FOURCC('A', 'R', '2', '4'), 32, false, {16, 8}, {8, 8}, {0, 8}, {24, 8}},
	{FOURCC('X', 'B', '2', '4'), 32, false, {0, 8}, {8, 8}, {16, 8}, {0, 0}},
	{FOURCC('A', 'B', '2', '4'), 32, false, {0, 8}, {8, 8}, {16, 8}, {24, 8}},
	{FOURCC('R', 'G', '2', '4'), 24, false, {16, 8}, {8, 8}, {0, 8}, {0, 0}},
	{FOURCC('B', 'G', '2', '4'), 24, false, {0, 8}, {8, 8}, {16, 8}, {0, 0}},
	{FOURCC('R', 'G', '1', '6'), 16, false, {11, 5}, {5, 6}, {0, 5}, {0, 0}},
	{FOURCC('X', 'R', '1', '5'), 16, false, {10, 5}, {5, 5}, {0, 5}, {0, 0}},
	{FOURCC('A', 'R', '1', '5'), 16, false, {10, 5}, {5, 5}, {0, 5}, {15, 1}},
	{FOURCC('X', 'R', '1', '2'), 16, false, {8, 4}, {4, 4}, {0, 4}, {0, 0}},
	{FOURCC('A', 'R', '1', '2'), 16, false, {8, 4}, {4, 4}, {0, 4}, {12, 4}},
	{FOURCC('R', 'G', 'B', '8'), 8, false, {5, 3}, {2, 3}, {0, 2}, {0, 0}},
	{FOURCC('Y', 'U', 'Y', 'V'), 16, true, {0, 0}, {0, 0}, {0, 0}, {0, 0}},
};

static const struct png_format *format_find(uint32_t fourcc)
{
	for (size_t i = 0; i < sizeof(png_formats) / sizeof(png_formats[0]); i++)
		if (png_formats[i].fourcc == fourcc)
			return &png_formats[i];
	return NULL;
}

uint32_t vd_png_format_bpp(uint32_t fourcc)
{
	const struct png_format *f = format_find(fourcc);

	return f ? f->bpp : 0;
}

/* ---- conversion ---- */

/* Scale a bits-wide value to 8 bits by bit replication (0x1f -> 0xff). */
static uint8_t expand(uint32_t v, unsigned bits)
{
	uint32_t out = 0;
	int pos = 8;

	while (pos > 0) {
		pos -= (int)bits;
		out |= pos >= 0 ? v << pos : v >> -pos;
	}
	return (uint8_t)out;
}

static uint8_t chan_get(uint32_t px, struct chan c)
{
	return expand((px >> c.shift) & ((1u << c.bits) - 1), c.bits);
}

static uint32_t load_le(const uint8_t *p, unsigned bytes)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < bytes; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static void row_packed(uint8_t *dst, const uint8_t *src, uint32_t width,
		       const struct png_format *f)
{
	unsigned bytes = f->bpp / 8;

	for (uint32_t x = 0; x < width; x++, src += bytes) {
		uint32_t px = load_le(src, bytes);

		*dst++ = chan_get(px, f->r);
		*dst++ = chan_get(px, f->g);
		*dst++ = chan_get(px, f->b);
		if (f->a.bits)
			*dst++ = chan_get(px, f->a);
	}
}

static uint8_t clamp8(int v)
{
	if (v < 0)
		return 0;
	v >>= 8;
	return v > 255 ? 255 : (uint8_t)v;
}

/* BT.601, limited range, fixed point with 8 fractional bits. */
static void yuv_to_rgb(uint8_t *dst, int y, int u, int v)
{
	int c = 298 * (y - 16) + 128, d = u - 128, e = v - 128;

	dst[0] = clamp8(c + 409 * e);
	dst[1] = clamp8(c - 100 * d - 208 * e);
	dst[2] = clamp8(c + 516 * d);
}

/* An odd last pixel has no V byte within the row: neutral chroma. */
static void row_yuyv(uint8_t *dst, const uint8_t *src, uint32_t width)
{
	for (uint32_t x = 0; x < width; x += 2, src += 4, dst += 6) {
		if (x + 1 == width) {
			yuv_to_rgb(dst, src[0], src[1], 128);
			break;
		}
		yuv_to_rgb(dst, src[0], src[1], src[3]);
		yuv_to_rgb(dst + 3, src[2], src[1], src[3]);
	}
}

/* ---- encoding ---- */

__attribute__((noreturn)) static void png_error_fn(png_structp png, png_const_charp msg)
{
	vd_debug("png: %s", msg);
	png_longjmp(png, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg)
{
	vd_debug("png warning: %s", msg);
}

/* The image: v at the top-left of a canvas of w x h (>= v's size), black around it. */
struct png_canvas {
	uint32_t width, height;
};

/* row: scratch of c->width * 4 bytes, zeroed. */
static void write_rows(png_structp png, const struct vd_frame_view *v,
		       const struct png_format *f, const struct png_canvas *c, uint8_t *row)
{
	const uint8_t *src = v->pixels;
	uint32_t y;

	for (y = 0; y < v->height; y++, src += v->stride) {
		if (f->yuyv)
			row_yuyv(row, src, v->width);
		else
			row_packed(row, src, v->width, f);
		png_write_row(png, row);
	}
	if (y < c->height)
		memset(row, 0, (size_t)c->width * 4);
	for (; y < c->height; y++)
		png_write_row(png, row);
}

/* row: scratch of canvas width * 4 bytes, zeroed. Nothing here is modified after setjmp. */
static int png_encode(FILE *file, const struct vd_frame_view *v, const struct png_format *f,
		      const struct png_canvas *c, uint8_t *row)
{
	int color = f->a.bits ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB;
	png_structp png;
	png_infop info;

	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_error_fn, png_warning_fn);
	if (!png)
		return -ENOMEM;
	info = png_create_info_struct(png);
	if (!info) {
		png_destroy_write_struct(&png, NULL);
		return -ENOMEM;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		return -EIO;
	}
	png_init_io(png, file);
	/* Captures run on the event loop: favour speed over size. */
	png_set_compression_level(png, 1);
	png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_UP);
	png_set_IHDR(png, info, c->width, c->height, 8, color, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	write_rows(png, v, f, c, row);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	return 0;
}

/* Encode into an open file; takes fd (closed on return). */
static int png_write_fd(int fd, const struct vd_frame_view *v, const struct png_format *f,
			const struct png_canvas *c)
{
	uint8_t *row;
	FILE *file;
	int r;

	row = calloc(c->width, 4);
	if (!row) {
		close(fd);
		return -ENOMEM;
	}
	file = fdopen(fd, "wb");
	if (!file) {
		r = -errno;
		close(fd);
		goto out_row;
	}
	r = png_encode(file, v, f, c, row);
	if (fclose(file) != 0 && r == 0)
		r = -errno;
out_row:
	free(row);
	return r;
}

int vd_png_write(const char *path, const struct vd_frame_view *view)
{
	return vd_png_write_canvas(path, view, view->width, view->height);
}

int vd_png_write_canvas(const char *path, const struct vd_frame_view *view, uint32_t width,
			uint32_t height)
{
	const struct png_format *f = format_find(view->fourcc);
	struct png_canvas c = {
		.width = width > view->width ? width : view->width,
		.height = height > view->height ? height : view->height,
	};
	char *tmp;
	int fd, r;

	if (!f || f->bpp != view->bpp)
		return -EOPNOTSUPP;
	if (!view->pixels || view->width == 0 || view->height == 0)
		return -EINVAL;
	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		r = -errno;
		goto out_tmp;
	}
	r = png_write_fd(fd, view, f, &c);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
out_tmp:
	free(tmp);
	return r;
}
