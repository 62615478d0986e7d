/* SPDX-License-Identifier: MIT */
/*
 * Where the Wayland output puts a connector's picture in the window the
 * compositor sized, and how big the buffer carrying it is (wl_fit.c):
 * aspect kept and centred, the part inside the guest's fb placed like the
 * whole, buffers no bigger than what the window shows, the default window
 * fitted to the screen, and the rectangles a plain window clears.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "output/wayland/wl_priv.h"

static void assert_rect(const struct vd_rect *r, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	assert_int_equal(r->x, x);
	assert_int_equal(r->y, y);
	assert_int_equal(r->width, w);
	assert_int_equal(r->height, h);
}

static void test_fit_same_size(void **state)
{
	struct vd_rect all = {0, 0, 320, 240};
	struct wlo_place p;

	wlo_fit(320, 240, 320, 240, &all, &p);
	assert_rect(&p.outer, 0, 0, 320, 240);
	assert_rect(&p.dest, 0, 0, 320, 240);
	assert_int_equal(p.step, 1);
	assert_int_equal(p.buf_w, 320);
	assert_int_equal(p.buf_h, 240);
}

/* A tiled window wider than the picture's aspect: black bars left and right. */
static void test_fit_letterbox(void **state)
{
	struct vd_rect all = {0, 0, 320, 240};
	struct wlo_place p;

	wlo_fit(1280, 480, 320, 240, &all, &p);
	assert_rect(&p.outer, 320, 0, 640, 480);
	assert_rect(&p.dest, 320, 0, 640, 480);
	assert_int_equal(p.step, 1); /* enlarged: every pixel, the compositor scales */
	assert_int_equal(p.buf_w, 320);
	/* taller than wide: bars above and below */
	wlo_fit(508, 741, 320, 240, &all, &p);
	assert_rect(&p.outer, 0, 180, 508, 381);
}

/* A picture shown at a quarter of its size: a buffer of what is shown. */
static void test_fit_shrunk(void **state)
{
	struct vd_rect all = {0, 0, 8192, 8192};
	struct wlo_place p;

	wlo_fit(512, 384, 2048, 1536, &(struct vd_rect){0, 0, 2048, 1536}, &p);
	assert_rect(&p.dest, 0, 0, 512, 384);
	assert_int_equal(p.step, 4);
	assert_int_equal(p.buf_w, 512);
	assert_int_equal(p.buf_h, 384);
	/* an 8192x8192 connector in a 1024x768 window: under 3 MiB a buffer, not 256 */
	wlo_fit(1024, 768, 8192, 8192, &all, &p);
	assert_rect(&p.outer, 128, 0, 768, 768);
	assert_int_equal(p.step, 10);
	assert_true((uint64_t)p.buf_w * p.buf_h * 4 <= 2u * 768 * 768 * 4);
	/* between half and full size: every pixel (the compositor shrinks less than 2x) */
	wlo_fit(200, 150, 320, 240, &(struct vd_rect){0, 0, 320, 240}, &p);
	assert_int_equal(p.step, 1);
	assert_int_equal(p.buf_w, 320);
}

/* A fb smaller than the connector: its part sits where the whole would put it. */
static void test_fit_part(void **state)
{
	struct wlo_place p;

	/* a 160x120 fb on a 320x240 connector, shown at 2x: top-left quarter */
	wlo_fit(640, 480, 320, 240, &(struct vd_rect){0, 0, 160, 120}, &p);
	assert_rect(&p.outer, 0, 0, 640, 480);
	assert_rect(&p.dest, 0, 0, 320, 240);
	assert_int_equal(p.buf_w, 160);
	assert_int_equal(p.buf_h, 120);
	/* a tiny part never has an empty destination (a protocol error) */
	wlo_fit(10, 10, 8000, 8000, &(struct vd_rect){0, 0, 1, 1}, &p);
	assert_int_equal(p.dest.width, 1);
	assert_int_equal(p.dest.height, 1);
	assert_int_equal(p.buf_w, 1);
	/* a window of nothing is taken as 1x1 */
	wlo_fit(0, 0, 320, 240, &(struct vd_rect){0, 0, 320, 240}, &p);
	assert_true(p.outer.width >= 1 && p.outer.height >= 1);
}

static void test_default_size(void **state)
{
	uint32_t w, h;

	wlo_default_size(320, 240, 1024, 768, &w, &h);
	assert_int_equal(w, 320);
	assert_int_equal(h, 240);
	wlo_default_size(4096, 3072, 1024, 768, &w, &h);
	assert_int_equal(w, 1024);
	assert_int_equal(h, 768);
	wlo_default_size(8192, 8192, 1920, 1080, &w, &h);
	assert_int_equal(w, 1080);
	assert_int_equal(h, 1080);
	wlo_default_size(8192, 8192, 0, 0, &w, &h); /* no output known */
	assert_int_equal(w, 8192);
}

static uint64_t area(const struct vd_rect *r, uint32_t n)
{
	uint64_t a = 0;

	for (uint32_t i = 0; i < n; i++)
		a += (uint64_t)r[i].width * r[i].height;
	return a;
}

static void test_rect_minus(void **state)
{
	struct vd_rect r[4];
	struct vd_rect big = {0, 0, 320, 240}, small = {0, 0, 160, 120}, none = {0};
	uint32_t n;

	/* same picture again: nothing to clear */
	assert_int_equal(wlo_rect_minus(&big, &big, r), 0);
	/* a smaller picture at the top-left: the rest of the old one */
	n = wlo_rect_minus(&big, &small, r);
	assert_int_equal(area(r, n), 320 * 240 - 160 * 120);
	for (uint32_t i = 0; i < n; i++)
		assert_true(r[i].x >= 160 || r[i].y >= 120);
	/* a bigger one covers the old: nothing */
	assert_int_equal(wlo_rect_minus(&small, &big, r), 0);
	/* black now: all of the old; black before: nothing */
	n = wlo_rect_minus(&big, &none, r);
	assert_int_equal(n, 1);
	assert_rect(&r[0], 0, 0, 320, 240);
	assert_int_equal(wlo_rect_minus(&none, &big, r), 0);
	/* a hole in the middle: four pieces around it */
	n = wlo_rect_minus(&big, &(struct vd_rect){100, 100, 10, 10}, r);
	assert_int_equal(n, 4);
	assert_int_equal(area(r, n), 320 * 240 - 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fit_same_size), cmocka_unit_test(test_fit_letterbox),
		cmocka_unit_test(test_fit_shrunk),    cmocka_unit_test(test_fit_part),
		cmocka_unit_test(test_default_size),  cmocka_unit_test(test_rect_minus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
