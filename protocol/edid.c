/* SPDX-License-Identifier: MIT */
/*
 * EDID 1.4 base block for a virtual monitor: one detailed timing at 60 Hz
 * with CVT reduced-blanking (v1) porches, range limits that bracket it, and
 * a monitor name. The physical size claims 96 DPI.
 */
#include <errno.h>
#include <string.h>

#include "displif_proto.h"

/* CVT-RB v1 constants (VESA CVT 1.2). */
#define RB_H_BLANK 160u
#define RB_H_FRONT 48u
#define RB_H_SYNC 32u
#define RB_V_FRONT 3u
#define RB_MIN_V_BACK 6u
#define RB_MIN_V_BLANK_US 460u
#define REFRESH_HZ 60u

#define EDID_MAX_12BIT 4095u
/* edid-decode treats a DTD clock under 10 MHz as invalid data. */
#define MIN_FRAME_PIXELS ((10000000u + REFRESH_HZ - 1) / REFRESH_HZ)
#define EDID_DPI 96u
#define DESC_LEN 18u
#define DESC_OFFS(n) (0x36u + (n) * DESC_LEN)

struct edid_timing {
	uint32_t hactive, hblank, hfront, hsync;
	uint32_t vactive, vblank, vfront, vsync;
	uint32_t clock_10khz;
	uint32_t width_mm, height_mm;
};

/* CVT picks the vsync width from the aspect ratio so sinks can recognise it. */
static uint32_t cvt_vsync(uint32_t w, uint32_t h)
{
	static const struct {
		uint32_t num, den, vsync;
	} ratios[] = {{4, 3, 4}, {16, 9, 5}, {16, 10, 6}, {5, 4, 7}, {15, 9, 7}};
	size_t i;

	for (i = 0; i < sizeof(ratios) / sizeof(ratios[0]); i++) {
		if ((uint64_t)w * ratios[i].den == (uint64_t)h * ratios[i].num)
			return ratios[i].vsync;
	}
	return 10;
}

/* Never 0: a DTD image size of 0 means "not set" and contradicts byte 0x15. */
static uint32_t mm_at_dpi(uint32_t px)
{
	uint32_t mm = (uint32_t)(((uint64_t)px * 254 + EDID_DPI * 5) / (EDID_DPI * 10));

	return mm ? mm : 1;
}

static uint32_t blank_for(uint32_t active, uint32_t other_total, uint32_t blank)
{
	uint64_t need = (MIN_FRAME_PIXELS + other_total - 1) / other_total;

	if (need > (uint64_t)active + blank)
		blank = (uint32_t)(need - active);
	return blank < EDID_MAX_12BIT ? blank : EDID_MAX_12BIT;
}

/* Tiny modes: widen the blanking (horizontal first) to reach 10 MHz. */
static void edid_stretch_blanking(struct edid_timing *t)
{
	t->hblank = blank_for(t->hactive, t->vactive + t->vblank, t->hblank);
	t->vblank = blank_for(t->vactive, t->hactive + t->hblank, t->vblank);
}

/*
 * Vertical blanking must last at least 460 us. With the line period
 * estimated as (1/60 s - 460 us) / vactive, that is
 * floor(460 * 60 * vactive / (10^6 - 460 * 60)) + 1 lines.
 */
static int edid_compute_timing(uint32_t w, uint32_t h, struct edid_timing *t)
{
	uint64_t vbi, min_vbi, htotal, vtotal, clock;

	if (w == 0 || h == 0 || w > EDID_MAX_12BIT || h > EDID_MAX_12BIT)
		return -EINVAL;
	t->hactive = w;
	t->hblank = RB_H_BLANK;
	t->hfront = RB_H_FRONT;
	t->hsync = RB_H_SYNC;
	t->vactive = h;
	t->vfront = RB_V_FRONT;
	t->vsync = cvt_vsync(w, h);
	vbi = (uint64_t)RB_MIN_V_BLANK_US * REFRESH_HZ * h;
	vbi = vbi / (1000000u - RB_MIN_V_BLANK_US * REFRESH_HZ) + 1;
	min_vbi = RB_V_FRONT + t->vsync + RB_MIN_V_BACK;
	t->vblank = (uint32_t)(vbi > min_vbi ? vbi : min_vbi);
	edid_stretch_blanking(t);
	htotal = (uint64_t)w + t->hblank;
	vtotal = (uint64_t)h + t->vblank;
	/* Rounded up so the refresh is never below 60 Hz. */
	clock = (htotal * vtotal * REFRESH_HZ + 9999) / 10000;
	if (t->vblank > EDID_MAX_12BIT || clock > UINT16_MAX)
		return -EINVAL;
	t->clock_10khz = (uint32_t)clock;
	t->width_mm = mm_at_dpi(w);
	t->height_mm = mm_at_dpi(h);
	return 0;
}

static void put_le16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v & 0xff);
	p[1] = (uint8_t)(v >> 8);
}

/* Two 12-bit values as low byte, low byte, then high nibbles in one byte. */
static void put_12bit_pair(uint8_t *p, uint32_t a, uint32_t b)
{
	p[0] = (uint8_t)(a & 0xff);
	p[1] = (uint8_t)(b & 0xff);
	p[2] = (uint8_t)(((a >> 8) << 4) | (b >> 8));
}

static void edid_put_dtd(uint8_t *d, const struct edid_timing *t)
{
	put_le16(d, t->clock_10khz);
	put_12bit_pair(d + 2, t->hactive, t->hblank);
	put_12bit_pair(d + 5, t->vactive, t->vblank);
	d[8] = (uint8_t)(t->hfront & 0xff);
	d[9] = (uint8_t)(t->hsync & 0xff);
	d[10] = (uint8_t)(((t->vfront & 0xf) << 4) | (t->vsync & 0xf));
	d[11] = (uint8_t)(((t->hfront >> 8) << 6) | ((t->hsync >> 8) << 4) |
			  ((t->vfront >> 4) << 2) | (t->vsync >> 4));
	put_12bit_pair(d + 12, t->width_mm, t->height_mm);
	/* d[15], d[16]: no borders. Digital separate sync, +hsync -vsync (CVT-RB). */
	d[17] = 0x18 | 0x02;
}

static uint8_t clamp_u8(uint64_t v, uint8_t lo, uint8_t hi)
{
	return v < lo ? lo : v > hi ? hi : (uint8_t)v;
}

/* Range limits bracketing the one timing by at least 1 Hz / 1 kHz. */
static void edid_put_range(uint8_t *d, const struct edid_timing *t)
{
	uint64_t clock_hz = (uint64_t)t->clock_10khz * 10000;
	uint64_t htotal = t->hactive + t->hblank, vtotal = t->vactive + t->vblank;
	uint64_t hfreq = clock_hz / htotal; /* Hz, rounded down */
	uint64_t vfreq = hfreq / vtotal;

	d[3] = 0xfd;
	d[5] = clamp_u8(vfreq - 1, 1, 255);
	d[6] = clamp_u8(vfreq + 2, 1, 255);
	d[7] = clamp_u8(hfreq / 1000 - 1, 1, 255);
	d[8] = clamp_u8(hfreq / 1000 + 2, 1, 255);
	d[9] = clamp_u8((clock_hz + 9999999) / 10000000, 1, 255);
	d[10] = 0x01; /* range limits only, no timing formula */
	d[11] = 0x0a;
	memset(d + 12, 0x20, DESC_LEN - 12);
}

/* Display product name: up to 13 printable ASCII chars, 0x0A, spaces. */
static void edid_put_name(uint8_t *d, const char *name)
{
	size_t i = 0;

	d[3] = 0xfc;
	memset(d + 5, 0x20, DESC_LEN - 5);
	for (; name && name[i] && i < 13; i++) {
		char c = name[i];

		d[5 + i] = (uint8_t)(c >= 0x20 && c < 0x7f ? c : '?');
	}
	if (i < 13)
		d[5 + i] = 0x0a;
}

/* "VDP": three 5-bit letters, 'A' = 1, big endian. */
static void edid_put_vendor(uint8_t *e)
{
	static const uint8_t hdr[8] = {0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
	uint32_t id = ((uint32_t)('V' - '@') << 10) | ((uint32_t)('D' - '@') << 5) | ('P' - '@');

	memcpy(e, hdr, sizeof(hdr));
	e[8] = (uint8_t)(id >> 8);
	e[9] = (uint8_t)(id & 0xff);
	put_le16(e + 10, 0x0001); /* product code */
	e[12] = 1;                /* serial number 1, little endian */
	e[16] = 0;                /* week unspecified */
	e[17] = 2024 - 1990;      /* year of manufacture */
	e[18] = 1;                /* EDID 1.4 */
	e[19] = 4;
}

/* sRGB primaries and D65, 10-bit binary fractions. */
static void edid_put_chroma(uint8_t *e)
{
	/* Rx, Ry, Gx, Gy, Bx, By, Wx, Wy */
	static const uint16_t c[8] = {655, 338, 307, 614, 154, 61, 320, 337};
	int i;

	e[0x19] = (uint8_t)(((c[0] & 3) << 6) | ((c[1] & 3) << 4) | ((c[2] & 3) << 2) | (c[3] & 3));
	e[0x1a] = (uint8_t)(((c[4] & 3) << 6) | ((c[5] & 3) << 4) | ((c[6] & 3) << 2) | (c[7] & 3));
	for (i = 0; i < 8; i++)
		e[0x1b + i] = (uint8_t)(c[i] >> 2);
}

static void edid_put_basic(uint8_t *e, const struct edid_timing *t)
{
	e[0x14] = 0x80 | (2 << 4); /* digital, 8 bits per colour */
	e[0x15] = clamp_u8((t->width_mm + 5) / 10, 1, 255);
	e[0x16] = clamp_u8((t->height_mm + 5) / 10, 1, 255);
	e[0x17] = 220 - 100; /* gamma 2.2 */
	e[0x18] = 0x04 | 0x02; /* sRGB default, preferred timing is native */
	edid_put_chroma(e);
	/* 0x23..0x25: no established timings; standard timings unused. */
	memset(e + 0x26, 0x01, 16);
}

int vd_edid_generate(uint32_t width, uint32_t height, const char *monitor_name,
		     uint8_t out[VD_EDID_SIZE])
{
	struct edid_timing t;
	uint8_t sum = 0;
	int ret, i;

	ret = edid_compute_timing(width, height, &t);
	if (ret < 0)
		return ret;
	memset(out, 0, VD_EDID_SIZE);
	edid_put_vendor(out);
	edid_put_basic(out, &t);
	edid_put_dtd(out + DESC_OFFS(0), &t);
	edid_put_range(out + DESC_OFFS(1), &t);
	edid_put_name(out + DESC_OFFS(2), monitor_name ? monitor_name : "vdispl");
	out[DESC_OFFS(3) + 3] = 0x10; /* dummy descriptor */
	/* out[126]: no extension blocks. */
	for (i = 0; i < (int)VD_EDID_SIZE - 1; i++)
		sum = (uint8_t)(sum + out[i]);
	out[VD_EDID_SIZE - 1] = (uint8_t)(0x100 - sum);
	return 0;
}
