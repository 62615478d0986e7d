/* SPDX-License-Identifier: MIT */
/*
 * Where a connector's picture goes in its window, and how big the buffer
 * that carries it is: pure arithmetic, no Wayland calls (unit-tested in
 * tests/unit/test_wl_fit.c).
 *
 * The compositor sizes the window; the connector's picture (its
 * resolution) is fitted into it with its aspect kept, centred, black
 * around. Of that picture only the part inside the guest's fb has pixels
 * (SET_CONFIG: the rest is black); that part is what a buffer carries,
 * and where the window shows it smaller than half its size, every step-th
 * pixel is enough: the buffer is then no bigger than what the window
 * shows.
 */
#include "output/wayland/wl_priv.h"

/* v * num / den rounded to nearest, without overflow for 32-bit inputs. */
static uint32_t scale_round(uint32_t v, uint32_t num, uint32_t den)
{
	return (uint32_t)(((uint64_t)v * num + den / 2) / den);
}

static uint32_t max1(uint32_t v)
{
	return v ? v : 1;
}

void wlo_fit(uint32_t win_w, uint32_t win_h, uint32_t conn_w, uint32_t conn_h,
	     const struct vd_rect *part, struct wlo_place *ret)
{
	uint32_t ow, oh, ox, oy, x1, y1;

	win_w = max1(win_w);
	win_h = max1(win_h);
	/* the whole picture: as wide as the window, or as high */
	if ((uint64_t)win_w * conn_h <= (uint64_t)win_h * conn_w) {
		ow = win_w;
		oh = max1(scale_round(conn_h, win_w, conn_w));
		if (oh > win_h)
			oh = win_h;
	} else {
		oh = win_h;
		ow = max1(scale_round(conn_w, win_h, conn_h));
		if (ow > win_w)
			ow = win_w;
	}
	ox = (win_w - ow) / 2;
	oy = (win_h - oh) / 2;
	ret->outer = (struct vd_rect){ox, oy, ow, oh};
	/* the part's edges scaled the same way as the picture's, so parts tile */
	ret->dest.x = ox + scale_round(part->x, ow, conn_w);
	ret->dest.y = oy + scale_round(part->y, oh, conn_h);
	x1 = ox + scale_round(part->x + part->width, ow, conn_w);
	y1 = oy + scale_round(part->y + part->height, oh, conn_h);
	ret->dest.width = x1 > ret->dest.x ? x1 - ret->dest.x : 1;
	ret->dest.height = y1 > ret->dest.y ? y1 - ret->dest.y : 1;
	ret->step = conn_w / ow < conn_h / oh ? conn_w / ow : conn_h / oh;
	ret->step = max1(ret->step);
	ret->buf_w = (part->width + ret->step - 1) / ret->step;
	ret->buf_h = (part->height + ret->step - 1) / ret->step;
}

void wlo_default_size(uint32_t conn_w, uint32_t conn_h, uint32_t max_w, uint32_t max_h,
		      uint32_t *ret_w, uint32_t *ret_h)
{
	struct vd_rect all = {0, 0, conn_w, conn_h};
	struct wlo_place p;

	if (!max_w || !max_h || (conn_w <= max_w && conn_h <= max_h)) {
		*ret_w = conn_w;
		*ret_h = conn_h;
		return;
	}
	wlo_fit(max_w, max_h, conn_w, conn_h, &all, &p);
	*ret_w = p.outer.width;
	*ret_h = p.outer.height;
}

uint32_t wlo_rect_minus(const struct vd_rect *a, const struct vd_rect *b, struct vd_rect ret[4])
{
	uint64_t ax1 = (uint64_t)a->x + a->width, ay1 = (uint64_t)a->y + a->height;
	uint64_t bx1 = (uint64_t)b->x + b->width, by1 = (uint64_t)b->y + b->height;
	uint32_t n = 0, top, bottom;

	if (!a->width || !a->height)
		return 0;
	if (!b->width || !b->height || b->x >= ax1 || b->y >= ay1 || bx1 <= a->x || by1 <= a->y) {
		ret[0] = *a;
		return 1;
	}
	/* rows of a above b, below b; then left and right of b on b's rows */
	top = b->y > a->y ? b->y : a->y;
	bottom = (uint32_t)(by1 < ay1 ? by1 : ay1);
	if (top > a->y)
		ret[n++] = (struct vd_rect){a->x, a->y, a->width, top - a->y};
	if (bottom < ay1)
		ret[n++] = (struct vd_rect){a->x, bottom, a->width, (uint32_t)(ay1 - bottom)};
	if (b->x > a->x)
		ret[n++] = (struct vd_rect){a->x, top, b->x - a->x, bottom - top};
	if (bx1 < ax1)
		ret[n++] = (struct vd_rect){(uint32_t)bx1, top, (uint32_t)(ax1 - bx1), bottom - top};
	return n;
}
