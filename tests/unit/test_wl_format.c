/* SPDX-License-Identifier: MIT */
/*
 * The Wayland output's format logic, without a compositor: wl_shm format
 * choice (own format when advertised, else converted), the conversions,
 * and linux-dmabuf selection from v3 events and v4 feedback tranches
 * (format table + indices), which no CI compositor here can exercise
 * (no DRM device, no udmabuf).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <drm_fourcc.h>

#include "output/wayland/wl_priv.h"

static void test_shm_choose(void **state)
{
	const uint32_t weston10[] = {WL_SHM_FORMAT_ARGB8888, WL_SHM_FORMAT_XRGB8888,
				     DRM_FORMAT_RGB565};
	struct wlo_shm_choice c;

	assert_int_equal(wlo_shm_choose(weston10, 3, DRM_FORMAT_RGB565, 16, &c), 0);
	assert_int_equal(c.format, DRM_FORMAT_RGB565);
	assert_int_equal(c.bpp, 16);
	assert_false(c.convert);
	assert_int_equal(wlo_shm_choose(weston10, 3, DRM_FORMAT_XRGB8888, 32, &c), 0);
	assert_int_equal(c.format, WL_SHM_FORMAT_XRGB8888);
	assert_false(c.convert);
	/* not advertised: converted, alpha kept where the format has it */
	assert_int_equal(wlo_shm_choose(weston10, 3, DRM_FORMAT_RGB888, 24, &c), 0);
	assert_int_equal(c.format, WL_SHM_FORMAT_XRGB8888);
	assert_int_equal(c.bpp, 32);
	assert_true(c.convert);
	assert_int_equal(wlo_shm_choose(weston10, 3, DRM_FORMAT_ARGB4444, 16, &c), 0);
	assert_int_equal(c.format, WL_SHM_FORMAT_ARGB8888);
	assert_true(c.convert);
	assert_int_equal(wlo_shm_choose(weston10, 3, DRM_FORMAT_YUYV, 16, &c), 0);
	assert_true(c.convert);
	/* a compositor that has RGB888 gets it as is */
	const uint32_t more[] = {DRM_FORMAT_RGB888};
	assert_int_equal(wlo_shm_choose(more, 1, DRM_FORMAT_RGB888, 24, &c), 0);
	assert_false(c.convert);
	assert_int_equal(c.bpp, 24);
	/* a format neither advertised nor convertible */
	assert_int_equal(wlo_shm_choose(weston10, 3, DRM_FORMAT_C8, 8, &c), -1);
}

static void test_convert(void **state)
{
	const uint8_t rgb565[] = {0x1f, 0xf8, 0xe0, 0x07}; /* red+blue, green */
	const uint8_t rgb888[] = {0x01, 0x02, 0x03};	   /* B G R */
	const uint8_t argb1555[] = {0x00, 0x7c};	   /* red, alpha 0 */
	const uint8_t xrgb4444[] = {0x48, 0x0c};	   /* R=c G=4 B=8 */
	const uint8_t yuyv[] = {235, 128, 16, 128};	   /* white, black */
	uint32_t px[2];

	wlo_convert_row(DRM_FORMAT_RGB565, rgb565, sizeof(rgb565) / 2, 0, 2, px);
	assert_int_equal(px[0], 0xffff00ff);
	assert_int_equal(px[1], 0xff00ff00);
	/* x0: a clipped source rectangle */
	wlo_convert_row(DRM_FORMAT_RGB565, rgb565, sizeof(rgb565) / 2, 1, 1, px);
	assert_int_equal(px[0], 0xff00ff00);
	wlo_convert_row(DRM_FORMAT_RGB888, rgb888, sizeof(rgb888) / 3, 0, 1, px);
	assert_int_equal(px[0], 0xff030201);
	wlo_convert_row(DRM_FORMAT_ARGB1555, argb1555, sizeof(argb1555) / 2, 0, 1, px);
	assert_int_equal(px[0], 0x00ff0000);
	wlo_convert_row(DRM_FORMAT_XRGB4444, xrgb4444, sizeof(xrgb4444) / 2, 0, 1, px);
	assert_int_equal(px[0], 0xffcc4488);
	wlo_convert_row(DRM_FORMAT_YUYV, yuyv, sizeof(yuyv) / 2, 0, 2, px);
	assert_int_equal(px[0], 0xffffffff);
	assert_int_equal(px[1], 0xff000000);
}

/*
 * A YUYV row of odd width ends in a pixel without its pair: its chroma has
 * no V in the row. Nothing past the row's bytes may be read (a guest's
 * buffer can end right there), the pixel gets a neutral V.
 */
static void test_convert_yuyv_odd_width(void **state)
{
	static const uint8_t init[] = {235, 128, 16, 128, 81, 90}; /* white, black, Y 81 U 90 */
	uint8_t *row = malloc(sizeof(init)); /* exactly the row: ASan sees one byte more */
	uint32_t px[3];

	assert_non_null(row);
	memcpy(row, init, sizeof(init));
	wlo_convert_row(DRM_FORMAT_YUYV, row, 3, 0, 3, px);
	assert_int_equal(px[0], 0xffffffff);
	assert_int_equal(px[1], 0xff000000);
	/* Y 81, U 90, V 128 (BT.601 limited): R 76, G 91, B 0 */
	assert_int_equal(px[2], 0xff4c5b00);
	wlo_convert_row(DRM_FORMAT_YUYV, row, 3, 2, 1, px);
	assert_int_equal(px[0], 0xff4c5b00);
	free(row);
}

/* One 16-byte entry of a feedback format table. */
static void entry(uint8_t *table, uint32_t i, uint32_t fourcc, uint64_t mod)
{
	memset(table + 16 * i, 0, 16);
	memcpy(table + 16 * i, &fourcc, 4);
	memcpy(table + 16 * i + 8, &mod, 8);
}

static void test_feedback(void **state)
{
	uint8_t table[16 * 4];
	struct wlo_format f[8];
	uint32_t n = 0;
	uint64_t mod;
	const uint16_t scanout[] = {1, 3};
	const uint16_t render[] = {0, 2, 3, 9}; /* 9: past the table, skipped */

	entry(table, 0, DRM_FORMAT_XRGB8888, I915_FORMAT_MOD_X_TILED);
	entry(table, 1, DRM_FORMAT_XRGB8888, DRM_FORMAT_MOD_LINEAR);
	entry(table, 2, DRM_FORMAT_RGB565, DRM_FORMAT_MOD_INVALID);
	entry(table, 3, DRM_FORMAT_ARGB8888, I915_FORMAT_MOD_Y_TILED);

	n = wlo_feedback_tranche(f, n, 8, table, sizeof(table), scanout, 2);
	assert_int_equal(n, 2);
	n = wlo_feedback_tranche(f, n, 8, table, sizeof(table), render, 4);
	assert_int_equal(n, 4); /* entry 3 again is not added twice, 9 skipped */

	/* linear offered: imported as linear */
	assert_int_equal(wlo_dmabuf_modifier(f, n, DRM_FORMAT_XRGB8888, &mod), 0);
	assert_true(mod == DRM_FORMAT_MOD_LINEAR);
	/* only the implicit modifier: imported with it */
	assert_int_equal(wlo_dmabuf_modifier(f, n, DRM_FORMAT_RGB565, &mod), 0);
	assert_true(mod == DRM_FORMAT_MOD_INVALID);
	/* only tiled: a linear guest buffer must go through wl_shm */
	assert_int_equal(wlo_dmabuf_modifier(f, n, DRM_FORMAT_ARGB8888, &mod), -1);
	/* not offered at all */
	assert_int_equal(wlo_dmabuf_modifier(f, n, DRM_FORMAT_RGB888, &mod), -1);
	/* no table (format_table never came): nothing */
	assert_int_equal(wlo_feedback_tranche(f, 0, 8, NULL, 0, scanout, 2), 0);
	/* a full list keeps its first entries */
	assert_int_equal(wlo_feedback_tranche(f, 0, 1, table, sizeof(table), render, 4), 1);
	assert_int_equal(f[0].modifier, I915_FORMAT_MOD_X_TILED);
}

/*
 * The IVI surface id: the configuration's number, else a numeric unique-id
 * (displ_be's surface id: a guest configured for it keeps its place on an
 * IVI compositor), else 1000000 + 100 * domid + index.
 */
static void test_ivi_id(void **state)
{
	assert_int_equal(wlo_ivi_id("4711", "HDMI-A-1", 3, 1), 4711);
	assert_int_equal(wlo_ivi_id("4711", "2000", 3, 1), 4711);
	assert_int_equal(wlo_ivi_id(NULL, "2000", 3, 1), 2000);
	assert_int_equal(wlo_ivi_id("", "2000", 3, 1), 2000);
	/* A mapping to a named output or a rectangle is no id: the default, not the unique-id. */
	assert_int_equal(wlo_ivi_id("wayland1", "2000", 3, 1), 1000301);
	assert_int_equal(wlo_ivi_id(NULL, "HDMI-A-1", 3, 1), 1000301);
	assert_int_equal(wlo_ivi_id(NULL, "20x", 3, 0), 1000300);
	assert_int_equal(wlo_ivi_id(NULL, NULL, 0, 0), 1000000);
	/* Out of range: 0 (refused, logged, by the caller). */
	assert_int_equal(wlo_ivi_id(NULL, "4294967296", 3, 1), 0);
	assert_int_equal(wlo_ivi_id("0", NULL, 3, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ivi_id),
	    cmocka_unit_test(test_shm_choose),
	    cmocka_unit_test(test_convert),
	    cmocka_unit_test(test_convert_yuyv_odd_width),
	    cmocka_unit_test(test_feedback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
