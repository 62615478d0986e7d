/* SPDX-License-Identifier: MIT */
/*
 * Generated EDID: structure decoded back by hand, and conformance checked
 * by edid-decode --check. edid-decode is required (CI installs it): if it
 * is missing the test fails rather than skips.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "displif_proto.h"

static const uint32_t modes[][2] = {
	{640, 480},   {800, 600},   {1024, 768}, {1280, 720}, {1366, 768}, {1920, 1080},
	{2560, 1440}, {4095, 2047}, {3840, 2160}, {1, 1},     {320, 240}, {4095, 1},
};
#define NUM_MODES (sizeof(modes) / sizeof(modes[0]))

struct dtd {
	uint32_t clock_khz;
	uint32_t hactive, hblank, hfront, hsync;
	uint32_t vactive, vblank, vfront, vsync;
	uint32_t width_mm, height_mm;
};

static void dtd_decode(const uint8_t *d, struct dtd *t)
{
	t->clock_khz = (uint32_t)(d[0] | d[1] << 8) * 10;
	t->hactive = d[2] | (uint32_t)(d[4] >> 4) << 8;
	t->hblank = d[3] | (uint32_t)(d[4] & 0xf) << 8;
	t->vactive = d[5] | (uint32_t)(d[7] >> 4) << 8;
	t->vblank = d[6] | (uint32_t)(d[7] & 0xf) << 8;
	t->hfront = d[8] | (uint32_t)(d[11] >> 6) << 8;
	t->hsync = d[9] | (uint32_t)((d[11] >> 4) & 3) << 8;
	t->vfront = (uint32_t)(d[10] >> 4) | (uint32_t)((d[11] >> 2) & 3) << 4;
	t->vsync = (uint32_t)(d[10] & 0xf) | (uint32_t)(d[11] & 3) << 4;
	t->width_mm = d[12] | (uint32_t)(d[14] >> 4) << 8;
	t->height_mm = d[13] | (uint32_t)(d[14] & 0xf) << 8;
}

static uint8_t edid_sum(const uint8_t *e)
{
	uint8_t s = 0;
	size_t i;

	for (i = 0; i < VD_EDID_SIZE; i++)
		s = (uint8_t)(s + e[i]);
	return s;
}

static void check_structure(uint32_t w, uint32_t h)
{
	static const uint8_t hdr[8] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
	uint8_t e[VD_EDID_SIZE];
	struct dtd t;
	uint64_t htotal, vtotal, refresh_mhz;

	assert_int_equal(vd_edid_generate(w, h, "vdispl-test", e), 0);
	assert_memory_equal(e, hdr, sizeof(hdr));
	assert_int_equal(edid_sum(e), 0);
	assert_int_equal(e[0x12], 1); /* version 1.4 */
	assert_int_equal(e[0x13], 4);
	assert_int_equal(e[0x7e], 0); /* no extensions */
	assert_true(e[0x14] & 0x80);  /* digital */
	assert_true(e[0x18] & 0x02);  /* first DTD is the preferred (native) mode */
	/* Descriptor 1 is a detailed timing (clock != 0) of exactly w x h. */
	dtd_decode(e + 0x36, &t);
	assert_int_equal(t.hactive, w);
	assert_int_equal(t.vactive, h);
	assert_true(t.clock_khz >= 10000);
	assert_true(t.hfront + t.hsync <= t.hblank);
	assert_true(t.vfront + t.vsync < t.vblank);
	assert_true(t.width_mm > 0 && t.height_mm > 0);
	/* Refresh 60 Hz within 0.5%. */
	htotal = t.hactive + t.hblank;
	vtotal = t.vactive + t.vblank;
	refresh_mhz = (uint64_t)t.clock_khz * 1000000 / (htotal * vtotal);
	assert_in_range(refresh_mhz, 59700, 60300);
	/* Vertical blanking lasts at least 460 us (CVT-RB). */
	assert_true((uint64_t)t.vblank * htotal * 1000 >= (uint64_t)460 * t.clock_khz);
	/* Descriptors 2 and 3: range limits, then the name. */
	assert_int_equal(e[0x48 + 3], 0xfd);
	assert_int_equal(e[0x5a + 3], 0xfc);
	assert_memory_equal(e + 0x5a + 5, "vdispl-test\n ", 13);
}

static void test_edid_structure(void **state)
{
	size_t i;

	for (i = 0; i < NUM_MODES; i++)
		check_structure(modes[i][0], modes[i][1]);
}

static void test_edid_reject(void **state)
{
	uint8_t e[VD_EDID_SIZE];

	assert_int_equal(vd_edid_generate(0, 480, NULL, e), -EINVAL);
	assert_int_equal(vd_edid_generate(640, 0, NULL, e), -EINVAL);
	assert_int_equal(vd_edid_generate(4096, 2047, NULL, e), -EINVAL);
	assert_int_equal(vd_edid_generate(1024, 4096, NULL, e), -EINVAL);
	/* 12-bit fields fit but the clock would exceed 655.35 MHz. */
	assert_int_equal(vd_edid_generate(4095, 4095, NULL, e), -EINVAL);
	assert_int_equal(vd_edid_generate(0xffffffffu, 0xffffffffu, NULL, e), -EINVAL);
}

static void test_edid_name(void **state)
{
	uint8_t e[VD_EDID_SIZE];

	/* Long names are cut at 13 characters, no terminator. */
	assert_int_equal(vd_edid_generate(800, 600, "ABCDEFGHIJKLMNOPQ", e), 0);
	assert_memory_equal(e + 0x5a + 5, "ABCDEFGHIJKLM", 13);
	/* Control characters do not reach the EDID. */
	assert_int_equal(vd_edid_generate(800, 600, "a\tb\x01", e), 0);
	assert_memory_equal(e + 0x5a + 5, "a?b?\n        ", 13);
	assert_int_equal(edid_sum(e), 0);
	/* NULL: a default name. */
	assert_int_equal(vd_edid_generate(800, 600, NULL, e), 0);
	assert_int_equal(e[0x5a + 3], 0xfc);
	assert_true(e[0x5a + 5] != 0x0a);
}

/* Returns edid-decode's exit status; 127 if it could not be run. */
static int run_edid_decode(const uint8_t *e)
{
	char path[] = "/tmp/vd-edid-XXXXXX", cmd[128];
	int fd, status;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, e, VD_EDID_SIZE), VD_EDID_SIZE);
	close(fd);
	snprintf(cmd, sizeof(cmd), "edid-decode --check %s >/dev/null 2>&1", path);
	status = system(cmd);
	unlink(path);
	assert_true(status != -1 && WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_edid_decode_check(void **state)
{
	uint8_t e[VD_EDID_SIZE];
	size_t i;
	int rc;

	rc = system("edid-decode --help >/dev/null 2>&1");
	if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) == 127)
		fail_msg("edid-decode is not installed (required: CI installs it)");
	for (i = 0; i < NUM_MODES; i++) {
		assert_int_equal(vd_edid_generate(modes[i][0], modes[i][1], "vdispl", e), 0);
		rc = run_edid_decode(e);
		if (rc != 0)
			fail_msg("edid-decode --check failed (%d) for %ux%u", rc, modes[i][0],
				 modes[i][1]);
	}
	/* Sanity of the harness: a corrupted checksum must be caught. */
	e[VD_EDID_SIZE - 1] ^= 0xff;
	assert_int_not_equal(run_edid_decode(e), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edid_structure),
		cmocka_unit_test(test_edid_reject),
		cmocka_unit_test(test_edid_name),
		cmocka_unit_test(test_edid_decode_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
