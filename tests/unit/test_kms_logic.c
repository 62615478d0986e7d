/* SPDX-License-Identifier: MIT */
/*
 * The KMS output's decisions without a DRM device: mode selection, the
 * side-by-side layout and centring, which connectors a display connected
 * later takes, and IN_FORMATS parsing (including malformed blobs, since a
 * buggy driver's blob must not crash us).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "output/kms/kms_logic.h"

#define FOURCC(a, b, c, d)                                                                         \
	((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))
#define XRGB8888 FOURCC('X', 'R', '2', '4')
#define ARGB8888 FOURCC('A', 'R', '2', '4')
#define RGB565 FOURCC('R', 'G', '1', '6')
#define NV12 FOURCC('N', 'V', '1', '2')
#define MOD_X_TILED 0x0100000000000001ull

static const struct vd_kms_mode modes[] = {
	{1920, 1080, 60000, true},  {1920, 1080, 50000, false}, {1280, 1024, 75000, false},
	{1280, 1024, 60000, false}, {1024, 768, 60000, false},  {2560, 1440, 30000, false},
};
#define NMODES (sizeof(modes) / sizeof(modes[0]))

static void test_mode_exact(void **state)
{
	assert_int_equal(vd_kms_mode_pick(modes, NMODES, 1024, 768), 4);
	/* several exact: the highest refresh */
	assert_int_equal(vd_kms_mode_pick(modes, NMODES, 1280, 1024), 2);
	/* preferred wins among exact ones */
	assert_int_equal(vd_kms_mode_pick(modes, NMODES, 1920, 1080), 0);
}

static void test_mode_fallback(void **state)
{
	static const struct vd_kms_mode nopref[] = {
		{800, 600, 60000, false}, {2560, 1440, 60000, false}, {1024, 768, 60000, false}};

	/* no exact: the preferred mode, even if a larger one exists */
	assert_int_equal(vd_kms_mode_pick(modes, NMODES, 1600, 900), 0);
	/* no preferred: the largest */
	assert_int_equal(vd_kms_mode_pick(nopref, 3, 1600, 900), 1);
	assert_int_equal(vd_kms_mode_pick(modes, 0, 1024, 768), -ENOENT);
}

static void assert_rect(struct vd_rect r, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	assert_int_equal(r.x, x);
	assert_int_equal(r.y, y);
	assert_int_equal(r.width, w);
	assert_int_equal(r.height, h);
}

static void test_layout_cells(void **state)
{
	assert_rect(vd_kms_layout_cell(1024, 768, 1, 0), 0, 0, 1024, 768);
	assert_rect(vd_kms_layout_cell(1024, 768, 2, 0), 0, 0, 512, 768);
	assert_rect(vd_kms_layout_cell(1024, 768, 2, 1), 512, 0, 512, 768);
	/* the last cell takes the remainder: no column lost */
	assert_rect(vd_kms_layout_cell(1000, 600, 3, 0), 0, 0, 333, 600);
	assert_rect(vd_kms_layout_cell(1000, 600, 3, 2), 666, 0, 334, 600);
	assert_rect(vd_kms_layout_cell(1000, 600, 0, 0), 0, 0, 0, 0);
	assert_rect(vd_kms_layout_cell(1000, 600, 2, 2), 0, 0, 0, 0);
}

static void test_fit_centre(void **state)
{
	struct vd_rect cell = {512, 0, 512, 768}, src, dst;

	assert_true(vd_kms_fit(&cell, 320, 240, false, &src, &dst));
	assert_rect(src, 0, 0, 320, 240);
	assert_rect(dst, 512 + 96, 264, 320, 240);
	/* exactly fitting: no offset */
	assert_true(vd_kms_fit(&cell, 512, 768, true, &src, &dst));
	assert_rect(dst, 512, 0, 512, 768);
}

/* A connector's frame in its place, its picture at the frame's top-left. */
static void test_fit_frame(void **state)
{
	struct vd_rect cell = {100, 0, 1024, 768}, src, dst;

	/* a 640x480 fb on a 800x600 connector centred in a 1024x768 place */
	assert_true(vd_kms_fit_frame(&cell, 800, 600, 640, 480, &src, &dst));
	assert_rect(src, 0, 0, 640, 480);
	assert_rect(dst, 100 + 112, 84, 640, 480);
	/* the picture fills the frame: same as vd_kms_fit */
	assert_true(vd_kms_fit_frame(&cell, 800, 600, 800, 600, &src, &dst));
	assert_rect(dst, 212, 84, 800, 600);
	/* a frame larger than the place is cropped around its centre, the picture with it */
	cell = (struct vd_rect){0, 0, 400, 300};
	assert_true(vd_kms_fit_frame(&cell, 800, 600, 640, 480, &src, &dst));
	assert_rect(src, 200, 150, 400, 300);
	assert_rect(dst, 0, 0, 400, 300);
	assert_true(vd_kms_fit_frame(&cell, 800, 600, 500, 400, &src, &dst));
	assert_rect(src, 200, 150, 300, 250);
	assert_rect(dst, 0, 0, 300, 250);
	/* the picture lies wholly in the cropped-away part */
	assert_false(vd_kms_fit_frame(&cell, 800, 600, 150, 100, &src, &dst));
	assert_false(vd_kms_fit_frame(&cell, 800, 600, 0, 100, &src, &dst));
}

static void test_fit_crop_and_scale(void **state)
{
	struct vd_rect cell = {0, 0, 512, 768}, src, dst;

	/* a 1024x768 guest in half a 1024x768 screen: cropped around its centre */
	assert_true(vd_kms_fit(&cell, 1024, 768, false, &src, &dst));
	assert_rect(src, 256, 0, 512, 768);
	assert_rect(dst, 0, 0, 512, 768);
	/* with a scaling plane: the whole picture, aspect kept, centred */
	assert_true(vd_kms_fit(&cell, 1024, 768, true, &src, &dst));
	assert_rect(src, 0, 0, 1024, 768);
	assert_rect(dst, 0, 192, 512, 384);
	assert_false(vd_kms_fit(&cell, 0, 768, false, &src, &dst));
	cell.width = 0;
	assert_false(vd_kms_fit(&cell, 10, 10, false, &src, &dst));
}

/* An IN_FORMATS blob: formats, then modifiers, little endian as the kernel lays it out. */
struct blob {
	uint32_t version, flags, count_formats, formats_offset, count_modifiers, modifiers_offset;
	uint32_t formats[4];
	struct {
		uint64_t formats;
		uint32_t offset, pad;
		uint64_t modifier;
	} mods[2];
};

static struct blob make_blob(void)
{
	struct blob b = {
		.version = 1,
		.count_formats = 4,
		.formats_offset = offsetof(struct blob, formats),
		.count_modifiers = 2,
		.modifiers_offset = offsetof(struct blob, mods),
		.formats = {XRGB8888, ARGB8888, RGB565, NV12},
	};
	/* linear: XRGB, ARGB, RGB565; X-tiled: XRGB and NV12 */
	b.mods[0].formats = 0x7;
	b.mods[0].modifier = VD_KMS_MOD_LINEAR;
	b.mods[1].formats = 0x9;
	b.mods[1].modifier = MOD_X_TILED;
	return b;
}

static void test_in_formats(void **state)
{
	struct blob b = make_blob();

	assert_true(vd_kms_in_formats_has(&b, sizeof(b), XRGB8888, VD_KMS_MOD_LINEAR));
	assert_true(vd_kms_in_formats_has(&b, sizeof(b), RGB565, VD_KMS_MOD_LINEAR));
	assert_false(vd_kms_in_formats_has(&b, sizeof(b), NV12, VD_KMS_MOD_LINEAR));
	assert_true(vd_kms_in_formats_has(&b, sizeof(b), NV12, MOD_X_TILED));
	assert_true(vd_kms_in_formats_has(&b, sizeof(b), NV12, VD_KMS_MOD_INVALID));
	assert_false(vd_kms_in_formats_has(&b, sizeof(b), ARGB8888, MOD_X_TILED));
	assert_false(vd_kms_in_formats_has(&b, sizeof(b), FOURCC('Y', 'U', 'Y', 'V'),
					   VD_KMS_MOD_INVALID));
}

static void test_in_formats_offset(void **state)
{
	struct blob b = make_blob();

	/* a modifier entry whose 64-format window starts at format 2 */
	b.mods[1].offset = 2;
	b.mods[1].formats = 0x2; /* format 3: NV12 */
	assert_true(vd_kms_in_formats_has(&b, sizeof(b), NV12, MOD_X_TILED));
	assert_false(vd_kms_in_formats_has(&b, sizeof(b), XRGB8888, MOD_X_TILED));
}

static void test_in_formats_malformed(void **state)
{
	struct blob b = make_blob();

	assert_false(vd_kms_in_formats_has(NULL, 0, XRGB8888, VD_KMS_MOD_LINEAR));
	assert_false(vd_kms_in_formats_has(&b, 20, XRGB8888, VD_KMS_MOD_LINEAR));
	/* truncated: the modifier table runs past the end */
	assert_false(vd_kms_in_formats_has(&b, sizeof(b) - 1, XRGB8888, VD_KMS_MOD_LINEAR));
	b.version = 2;
	assert_false(vd_kms_in_formats_has(&b, sizeof(b), XRGB8888, VD_KMS_MOD_LINEAR));
	b = make_blob();
	b.count_formats = 0x40000001u; /* count * 4 wraps 32 bits */
	assert_false(vd_kms_in_formats_has(&b, sizeof(b), XRGB8888, VD_KMS_MOD_LINEAR));
	b = make_blob();
	b.modifiers_offset = 0xfffffff0u;
	assert_false(vd_kms_in_formats_has(&b, sizeof(b), XRGB8888, VD_KMS_MOD_LINEAR));
	b = make_blob();
	b.formats_offset = 4; /* inside the header */
	assert_false(vd_kms_in_formats_has(&b, sizeof(b), XRGB8888, VD_KMS_MOD_LINEAR));
	b = make_blob();
	b.mods[0].offset = 0xffffffffu; /* window far beyond the formats */
	assert_false(vd_kms_in_formats_has(&b, sizeof(b), XRGB8888, VD_KMS_MOD_LINEAR));
}

static void test_parse_rect(void **state)
{
	struct vd_rect r;

	(void)state;
	assert_true(vd_kms_parse_rect("1920,0,1280x1024", &r));
	assert_int_equal(r.x, 1920);
	assert_int_equal(r.y, 0);
	assert_int_equal(r.width, 1280);
	assert_int_equal(r.height, 1024);
	assert_false(vd_kms_parse_rect("HDMI-A-1", &r));
	assert_false(vd_kms_parse_rect("0,0,0x10", &r));
	assert_false(vd_kms_parse_rect("0,0,10x", &r));
	assert_false(vd_kms_parse_rect("0,0,10x10 ", &r));
	assert_false(vd_kms_parse_rect("-1,0,10x10", &r));
	assert_false(vd_kms_parse_rect("4294967295,0,2x2", &r));
	assert_false(vd_kms_parse_rect("99999999999,0,2x2", &r));
	assert_false(vd_kms_parse_rect(NULL, &r));
}

static void test_clip_overlap(void **state)
{
	struct vd_rect r, a = {100, 50, 640, 480}, b = {739, 529, 10, 10}, c = {740, 50, 5, 5};

	(void)state;
	assert_true(vd_kms_clip(&a, 1024, 768, &r));
	assert_memory_equal(&r, &a, sizeof(r));
	assert_true(vd_kms_clip(&(struct vd_rect){900, 700, 640, 480}, 1024, 768, &r));
	assert_int_equal(r.width, 124);
	assert_int_equal(r.height, 68);
	assert_false(vd_kms_clip(&(struct vd_rect){1024, 0, 10, 10}, 1024, 768, &r));
	assert_false(vd_kms_clip(&(struct vd_rect){0, 768, 10, 10}, 1024, 768, &r));
	assert_true(vd_kms_overlap(&a, &b));
	assert_false(vd_kms_overlap(&a, &c)); /* touching edges share no pixel */
	assert_false(vd_kms_overlap(&a, &(struct vd_rect){0, 0, 0, 0}));
}

static void test_desktop_locate(void **state)
{
	const uint32_t widths[] = {1920, 1280};
	struct vd_rect r;

	(void)state;
	assert_int_equal(vd_kms_desktop_locate(widths, 2, &(struct vd_rect){10, 20, 30, 40}, &r), 0);
	assert_int_equal(r.x, 10);
	assert_int_equal(vd_kms_desktop_locate(widths, 2, &(struct vd_rect){1920, 0, 1280, 1024}, &r),
			 1);
	assert_int_equal(r.x, 0);
	assert_int_equal(r.width, 1280);
	assert_int_equal(vd_kms_desktop_locate(widths, 2, &(struct vd_rect){3199, 5, 1, 1}, &r), 1);
	assert_int_equal(r.x, 1279);
	assert_int_equal(vd_kms_desktop_locate(widths, 2, &(struct vd_rect){3200, 0, 1, 1}, &r),
			 -ENOENT);
	assert_int_equal(vd_kms_desktop_locate(widths, 0, &(struct vd_rect){0, 0, 1, 1}, &r),
			 -ENOENT);
}

static void test_claim(void **state)
{
	/* Virtual-1 and HDMI-A-1 at start, DP-1 connected later (index 2) */
	const char *const names[] = {"Virtual-1", "HDMI-A-1", "DP-1"};
	const uint32_t widths[] = {1024, 1920, 1280};
	const struct vd_kms_claim_conn c[] = {
		{"DP-1", NULL, 0},             /* its display was missing: placed by default */
		{"Virtual-1", "DP-1", 0},      /* on its display by name: stays */
		{NULL, "DP-1", 1},             /* its unique-id names DP-1 */
		{"3000,0,640x480", NULL, 0},   /* starts right of the first two: on DP-1 */
		{"100,0,640x480", NULL, 0},    /* on Virtual-1 as configured: stays */
		{"DP-1", NULL, 2},             /* already there */
		{NULL, NULL, 1},               /* unmapped: stays */
		{"DP-2", "DP-1", 1},           /* its mapping still missing; its unique-id's is here */
		{"HDMI-A-1", NULL, 0},         /* HDMI-A-1 was full: not DP-1's */
	};
	const struct vd_kms_claim_conn far = {"9000,0,10x10", NULL, 0}, other = {"DP-2", NULL, 0};
	bool take[9];

	(void)state;
	assert_int_equal(vd_kms_claim(c, 9, names, widths, 3, 2, 4, take), 4);
	assert_true(take[0]);
	assert_false(take[1]);
	assert_true(take[2]);
	assert_true(take[3]);
	assert_false(take[4]);
	assert_false(take[5]);
	assert_false(take[6]);
	assert_true(take[7]);
	assert_false(take[8]);
	/* room for 3: the mapped ones first, then the unique-id ones in the order given */
	assert_int_equal(vd_kms_claim(c, 9, names, widths, 3, 2, 3, take), 3);
	assert_true(take[0] && take[2] && take[3] && !take[7]);
	/* room for 1: the first mapped one, though a unique-id one comes before the second */
	assert_int_equal(vd_kms_claim(c, 9, names, widths, 3, 2, 1, take), 1);
	assert_true(take[0] && !take[2] && !take[3]);
	/* more room takes no more */
	assert_int_equal(vd_kms_claim(c, 9, names, widths, 3, 2, 8, take), 4);
	/* a rectangle still right of every display, and a name that is not this one */
	assert_int_equal(vd_kms_claim(&far, 1, names, widths, 3, 2, 4, take), 0);
	assert_int_equal(vd_kms_claim(&other, 1, names, widths, 3, 2, 4, take), 0);
	/* no room, no conns */
	assert_int_equal(vd_kms_claim(c, 9, names, widths, 3, 2, 0, take), 0);
	assert_int_equal(vd_kms_claim(c, 0, names, widths, 3, 2, 4, take), 0);
}

static void test_plane_plan(void **state)
{
	const struct vd_kms_plane_caps none = {0, false}, two = {2, false}, scaled = {2, true};
	struct vd_kms_plane_req r[3] = {
		{{0, 0, 640, 480}, 640, 480, true, {0, 0, 0, 0}},
		{{600, 0, 640, 480}, 640, 480, true, {0, 0, 0, 0}}, /* overlaps r[0] */
		{{0, 500, 320, 240}, 640, 480, true, {0, 0, 0, 0}}, /* scaled down 2x */
	};
	int p[3];

	(void)state;
	/* one fb filling the screen: the primary plane, zero copy */
	assert_int_equal(vd_kms_plane_plan(r, 1, &none, 640, 480, p), 0);
	assert_int_equal(p[0], VD_KMS_PLANE_PRIMARY);
	/* no overlays: everything composed */
	assert_int_equal(vd_kms_plane_plan(r, 2, &none, 1280, 800, p), 2);
	assert_int_equal(p[0], VD_KMS_PLANE_COMPOSED);
	assert_int_equal(p[1], VD_KMS_PLANE_COMPOSED);
	/* two overlays: both on planes, the upper one on the higher overlay */
	assert_int_equal(vd_kms_plane_plan(r, 2, &two, 1280, 800, p), 0);
	assert_int_equal(p[0], 1);
	assert_int_equal(p[1], 2);
	/* the scaled one needs scaling: composed; the two below it still fit */
	assert_int_equal(vd_kms_plane_plan(r, 3, &two, 1280, 800, p), 1);
	assert_int_equal(p[2], VD_KMS_PLANE_COMPOSED);
	assert_int_equal(p[0], 1);
	assert_int_equal(p[1], 2);
	/* with scaling: the top two get the two overlays, the bottom one is composed */
	assert_int_equal(vd_kms_plane_plan(r, 3, &scaled, 1280, 800, p), 1);
	assert_int_equal(p[0], VD_KMS_PLANE_COMPOSED);
	assert_int_equal(p[1], 1);
	assert_int_equal(p[2], 2);
	/* a composed connector on top keeps the one it covers off the overlays */
	r[1].importable = false;
	assert_int_equal(vd_kms_plane_plan(r, 2, &two, 1280, 800, p), 2);
	assert_int_equal(p[0], VD_KMS_PLANE_COMPOSED);
	/* ... but not one it does not cover */
	r[1].dst.x = 640;
	assert_int_equal(vd_kms_plane_plan(r, 2, &two, 1280, 800, p), 1);
	assert_int_equal(p[0], 1);
	assert_int_equal(p[1], VD_KMS_PLANE_COMPOSED);
	/*
	 * Covers: the upper connector's picture (on an overlay) is smaller than
	 * its place, whose black margin is composed into the primary plane; it
	 * must hide the picture below, which is then composed too.
	 */
	r[1] = (struct vd_kms_plane_req){{700, 100, 320, 240}, 320, 240, true, {600, 0, 640, 480}};
	assert_int_equal(vd_kms_plane_plan(r, 2, &two, 1280, 800, p), 1);
	assert_int_equal(p[0], VD_KMS_PLANE_COMPOSED);
	assert_int_equal(p[1], 1);
	/* ... unless the place does not reach it */
	r[1].cover.x = 640;
	assert_int_equal(vd_kms_plane_plan(r, 2, &two, 1280, 800, p), 0);
	assert_int_equal(p[0], 1);
	assert_int_equal(p[1], 2);
	/* a picture filling its place on an overlay hides what is below by itself */
	r[1] = (struct vd_kms_plane_req){{600, 0, 640, 480}, 640, 480, true, {600, 0, 640, 480}};
	assert_int_equal(vd_kms_plane_plan(r, 2, &two, 1280, 800, p), 0);
	assert_int_equal(p[0], 1);
	assert_int_equal(p[1], 2);
	/* a blank connector (nothing to scan out) covers its whole place */
	r[1].importable = false;
	assert_int_equal(vd_kms_plane_plan(r, 2, &two, 1280, 800, p), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mode_exact),
		cmocka_unit_test(test_mode_fallback),
		cmocka_unit_test(test_layout_cells),
		cmocka_unit_test(test_fit_centre),
		cmocka_unit_test(test_fit_crop_and_scale),
		cmocka_unit_test(test_fit_frame),
		cmocka_unit_test(test_in_formats),
		cmocka_unit_test(test_in_formats_offset),
		cmocka_unit_test(test_in_formats_malformed),
		cmocka_unit_test(test_parse_rect),
		cmocka_unit_test(test_clip_overlap),
		cmocka_unit_test(test_desktop_locate),
		cmocka_unit_test(test_claim),
		cmocka_unit_test(test_plane_plan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
