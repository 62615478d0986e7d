/* SPDX-License-Identifier: MIT */
/*
 * SET_CONFIG's window, end to end over the simulated hypervisor: a
 * connector shows its resolution's worth of its framebuffer from the x, y
 * the guest sends (Linux sends crtc->x/y and the fb's own size). One fb
 * spanning two connectors, one fb cloned on both, two fbs of different
 * sizes, a fb smaller than its connector, a window at a non-zero y, and
 * windows that reach past the fb (refused, nothing changes on screen).
 * The test speaks for the guest (no_client) and draws pixels whose value
 * names their place in the fb, so a wrong offset cannot pass.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <errno.h>
#include <png.h>

#include "harness.h"

#define CONN_W 320u
#define CONN_H 240u
#define XRGB8888 0x34325258u
#define YUYV 0x56595559u
#define MAX_FBS 8u
#define VBLANK 1000000u /* 1 kHz */

/* What the output last showed on each connector. */
struct shown {
	uint32_t n, width, height;
	uint32_t px[CONN_W * CONN_H];
};

struct wctx {
	struct harness h;
	struct vd_simfront *g;
	uint32_t domid;
	struct shown conn[2];
	struct vd_simfront_buf *bufs[MAX_FBS];
	uint32_t nbufs;
};

static void on_view(struct harness *h, uint32_t domid, uint32_t idx, const struct vd_frame_view *v)
{
	struct wctx *c = (struct wctx *)h; /* h is the first member */
	struct shown *s;

	if (domid != c->domid || idx >= 2)
		return;
	s = &c->conn[idx];
	s->n++;
	assert_true(v->width <= CONN_W && v->height <= CONN_H);
	s->width = v->width;
	s->height = v->height;
	for (uint32_t y = 0; y < v->height; y++)
		memcpy(&s->px[y * CONN_W], v->pixels + (size_t)y * v->stride,
		       (size_t)v->width * (v->bpp / 8));
}

static int setup(void **state)
{
	struct wctx *c = calloc(1, sizeof(*c));
	struct vd_simfront_opts o = {.nconn = 2, .width = CONN_W, .height = CONN_H,
				     .no_client = true};

	assert_non_null(c);
	h_init(&c->h, false, VBLANK);
	c->h.on_view = on_view;
	c->g = h_guest(&c->h, "multi", &o);
	c->domid = vd_simfront_domid(c->g);
	assert_true(h_run_until(&c->h, h_guest_connected, c->g, 5000));
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct wctx *c = *state;

	for (uint32_t i = 0; i < c->nbufs; i++)
		vd_simfront_buf_free(c->g, c->bufs[i]);
	h_fini(&c->h);
	free(c);
	return 0;
}

/* The pixel the test draws at (x, y) of fb number n: it names its place. */
static uint32_t px_of(uint32_t n, uint32_t x, uint32_t y)
{
	return 0xff000000u | n << 21 | (y & 0x3ff) << 11 | (x & 0x7ff);
}

static int32_t status(struct wctx *c, uint32_t ring, const struct xendispl_req *r)
{
	return h_send(&c->h, c->g, ring, r).status;
}

/* A w x h XRGB8888 fb (dbuf cookie 0x100 + n, fb cookie 0x200 + n) drawn with px_of(n). */
static uint64_t make_fb(struct wctx *c, uint32_t n, uint32_t w, uint32_t h)
{
	uint32_t size = w * h * 4;
	struct vd_simfront_buf *b = NULL;
	struct xendispl_req r;

	assert_true(c->nbufs < MAX_FBS);
	assert_int_equal(vd_simfront_buf_alloc(c->g, vd_pages_for_bytes(size), &b), 0);
	c->bufs[c->nbufs++] = b;
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++)
			((uint32_t *)b->data)[y * w + x] = px_of(n, x, y);
	r = h_req_dbuf_create(0x100 + n, w, h, 32, size, b->dir_grefs[0]);
	assert_int_equal(status(c, 0, &r), 0);
	r = h_req_fb_attach(0x100 + n, 0x200 + n, w, h, XRGB8888);
	assert_int_equal(status(c, 0, &r), 0);
	return 0x200 + n;
}

/* SET_CONFIG as Linux sends it: crtc->x/y and the fb's own size. */
static int32_t set_config(struct wctx *c, uint32_t conn, uint64_t fb, uint32_t x, uint32_t y,
			  uint32_t fb_w, uint32_t fb_h)
{
	struct xendispl_req r = h_req_set_config(fb, x, y, fb_w, fb_h);

	return status(c, conn, &r);
}

static bool flipped(struct harness *h, void *arg)
{
	const uint32_t *want = arg;

	return ((struct wctx *)h)->conn[want[0]].n >= want[1];
}

static void flip(struct wctx *c, uint32_t conn, uint64_t fb)
{
	struct xendispl_req r = h_req_pg_flip(fb);
	uint32_t want[2] = {conn, c->conn[conn].n + 1};

	assert_int_equal(status(c, conn, &r), 0);
	assert_true(h_run_until(&c->h, flipped, want, 2000));
}

/*
 * Connector conn shows a w x h picture: fb n's pixels from (x, y). The
 * output hands over only the part inside the fb, at the connector's top-left.
 */
static void assert_shows(struct wctx *c, uint32_t conn, uint32_t n, uint32_t x, uint32_t y,
			 uint32_t w, uint32_t h)
{
	const struct shown *s = &c->conn[conn];

	assert_int_equal(s->width, w);
	assert_int_equal(s->height, h);
	for (uint32_t j = 0; j < h; j++)
		for (uint32_t i = 0; i < w; i++)
			if (s->px[j * CONN_W + i] != px_of(n, x + i, y + j))
				fail_msg("conn %u (%u,%u): %#x, want fb %u (%u,%u)", conn, i, j,
					 s->px[j * CONN_W + i], n, x + i, y + j);
}

/* One fb, 640 wide: connector 0 shows x 0..319, connector 1 x 320..639. */
static void span_two_connectors(void **state)
{
	struct wctx *c = *state;
	uint64_t a = make_fb(c, 1, 2 * CONN_W, CONN_H), b = make_fb(c, 2, 2 * CONN_W, CONN_H);

	assert_int_equal(set_config(c, 0, a, 0, 0, 2 * CONN_W, CONN_H), 0);
	assert_int_equal(set_config(c, 1, a, CONN_W, 0, 2 * CONN_W, CONN_H), 0);
	assert_shows(c, 0, 1, 0, 0, CONN_W, CONN_H);
	assert_shows(c, 1, 1, CONN_W, 0, CONN_W, CONN_H);
	/* flips keep each connector's window, of each new fb */
	flip(c, 1, b);
	assert_shows(c, 1, 2, CONN_W, 0, CONN_W, CONN_H);
	flip(c, 0, b);
	assert_shows(c, 0, 2, 0, 0, CONN_W, CONN_H);
	flip(c, 1, a);
	assert_shows(c, 1, 1, CONN_W, 0, CONN_W, CONN_H);
}

/* Cloning from the guest side: one fb, the same window on both connectors. */
static void clone_one_fb(void **state)
{
	struct wctx *c = *state;
	uint64_t a = make_fb(c, 1, CONN_W, CONN_H);

	assert_int_equal(set_config(c, 0, a, 0, 0, CONN_W, CONN_H), 0);
	assert_int_equal(set_config(c, 1, a, 0, 0, CONN_W, CONN_H), 0);
	assert_shows(c, 0, 1, 0, 0, CONN_W, CONN_H);
	assert_shows(c, 1, 1, 0, 0, CONN_W, CONN_H);
	flip(c, 0, a);
	flip(c, 1, a);
	assert_shows(c, 1, 1, 0, 0, CONN_W, CONN_H);
}

/* Read a PNG back as RGBA; its size in *ret_w, *ret_h. */
static uint8_t *png_read(const char *path, uint32_t *ret_w, uint32_t *ret_h)
{
	png_image img;
	uint8_t *buf;

	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	assert_true(png_image_begin_read_from_file(&img, path));
	img.format = PNG_FORMAT_RGBA;
	buf = malloc(PNG_IMAGE_SIZE(img));
	assert_non_null(buf);
	assert_true(png_image_finish_read(&img, NULL, buf, 0, NULL));
	*ret_w = img.width;
	*ret_h = img.height;
	return buf;
}

struct shot {
	struct wctx *c;
	uint32_t conn;
	const char *path;
	int status; /* -EINPROGRESS while the output writes it */
};

static void on_shot(void *userdata, int status)
{
	((struct shot *)userdata)->status = status;
}

/* What `vdispctl screenshot` does: the output's screenshot of the connector. */
static void take_shot(void *userdata, const struct vd_dev_info *info)
{
	struct shot *s = userdata;
	struct vd_output_conn *oc;
	int r;

	if (info->domid != s->c->domid || s->conn >= info->nconn)
		return;
	oc = info->conns[s->conn].oconn;
	r = oc ? vd_output_conn_screenshot(oc, s->path, on_shot, s, NULL) : -ENODATA;
	s->status = r < 0 ? r : -EINPROGRESS;
}

static bool shot_done(struct harness *h, void *arg)
{
	return ((struct shot *)arg)->status != -EINPROGRESS;
}

/*
 * The screenshot of connector conn is the connector's size: fb n from
 * (x, y) over w x h at its top-left, black around it.
 */
static void assert_screenshot(struct wctx *c, uint32_t conn, uint32_t n, uint32_t x, uint32_t y,
			      uint32_t w, uint32_t h)
{
	char path[] = "/tmp/vd-window-XXXXXX";
	struct shot shot = {c, conn, path, -1};
	uint32_t pw, ph;
	uint8_t *got;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	vd_backend_foreach_device(c->h.be, take_shot, &shot);
	assert_true(h_run_until(&c->h, shot_done, &shot, 5000));
	assert_int_equal(shot.status, 0);
	got = png_read(path, &pw, &ph);
	assert_int_equal(pw, CONN_W);
	assert_int_equal(ph, CONN_H);
	for (uint32_t j = 0; j < CONN_H; j++)
		for (uint32_t i = 0; i < CONN_W; i++) {
			const uint8_t *p = got + ((size_t)j * CONN_W + i) * 4;
			uint32_t v = i < w && j < h ? px_of(n, x + i, y + j) : 0xff000000u;
			uint8_t want[4] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v, 0xff};

			if (memcmp(p, want, 4) != 0)
				fail_msg("screenshot conn %u (%u,%u)", conn, i, j);
		}
	free(got);
	unlink(path);
}

/*
 * Two fbs of different sizes: a larger one with the window at (80, 60), a
 * smaller one (200x100) shown at the top-left with black around it.
 */
static void two_sizes_and_a_small_fb(void **state)
{
	struct wctx *c = *state;
	uint64_t big = make_fb(c, 1, 400, 300), small = make_fb(c, 2, 200, 100);

	assert_int_equal(set_config(c, 0, big, 80, 60, 400, 300), 0);
	assert_int_equal(set_config(c, 1, small, 0, 0, 200, 100), 0);
	assert_shows(c, 0, 1, 80, 60, CONN_W, CONN_H);
	assert_shows(c, 1, 2, 0, 0, 200, 100);
	assert_screenshot(c, 0, 1, 80, 60, CONN_W, CONN_H);
	assert_screenshot(c, 1, 2, 0, 0, 200, 100);
	/* the small fb flipped on the big one's connector: its window clipped to it */
	flip(c, 0, small);
	assert_shows(c, 0, 2, 80, 60, 120, 40);
	assert_screenshot(c, 0, 2, 80, 60, 120, 40);
}

/* A window at a non-zero y: the lower half of a 320x480 fb. */
static void window_below(void **state)
{
	struct wctx *c = *state;
	uint64_t tall = make_fb(c, 1, CONN_W, 2 * CONN_H);

	assert_int_equal(set_config(c, 1, tall, 0, CONN_H, CONN_W, 2 * CONN_H), 0);
	assert_shows(c, 1, 1, 0, CONN_H, CONN_W, CONN_H);
	flip(c, 1, tall);
	assert_shows(c, 1, 1, 0, CONN_H, CONN_W, CONN_H);
}

/*
 * Windows that do not fit are refused with -EINVAL, and the connector goes
 * on showing what it showed.
 */
static void windows_past_the_fb_refused(void **state)
{
	struct wctx *c = *state;
	uint64_t wide = make_fb(c, 1, 2 * CONN_W, CONN_H), small = make_fb(c, 2, 200, 100);
	uint32_t n;

	assert_int_equal(set_config(c, 1, wide, CONN_W, 0, 2 * CONN_W, CONN_H), 0);
	n = c->conn[1].n;
	/* one pixel further: 1 column past the fb */
	assert_int_equal(set_config(c, 1, wide, CONN_W + 1, 0, 2 * CONN_W, CONN_H), -EINVAL);
	/* starts outside */
	assert_int_equal(set_config(c, 1, wide, 2 * CONN_W, 0, 2 * CONN_W, CONN_H), -EINVAL);
	/* y past the fb */
	assert_int_equal(set_config(c, 1, wide, 0, 1, 2 * CONN_W, CONN_H), -EINVAL);
	/* a fb smaller than the connector, not at the top-left */
	assert_int_equal(set_config(c, 1, small, 1, 0, 200, 100), -EINVAL);
	assert_int_equal(set_config(c, 1, small, 0, 1, 200, 100), -EINVAL);
	/* the fb's size in the request does not change the window */
	assert_int_equal(set_config(c, 1, wide, CONN_W + 1, 0, 100, 100), -EINVAL);
	assert_int_equal(c->conn[1].n, n);
	assert_shows(c, 1, 1, CONN_W, 0, CONN_W, CONN_H);
	flip(c, 1, wide);
	assert_shows(c, 1, 1, CONN_W, 0, CONN_W, CONN_H);
}

/* YUYV shares chroma between pixel pairs: a window may not start between them. */
static void yuyv_odd_x_refused(void **state)
{
	struct wctx *c = *state;
	uint32_t size = 2 * CONN_W * CONN_H * 2;
	struct vd_simfront_buf *b = NULL;
	struct xendispl_req r;

	assert_int_equal(vd_simfront_buf_alloc(c->g, vd_pages_for_bytes(size), &b), 0);
	c->bufs[c->nbufs++] = b;
	r = h_req_dbuf_create(0x150, 2 * CONN_W, CONN_H, 16, size, b->dir_grefs[0]);
	assert_int_equal(status(c, 0, &r), 0);
	r = h_req_fb_attach(0x150, 0x250, 2 * CONN_W, CONN_H, YUYV);
	assert_int_equal(status(c, 0, &r), 0);
	r = h_req_set_config(0x250, 33, 0, 2 * CONN_W, CONN_H);
	r.op.set_config.bpp = 16;
	assert_int_equal(status(c, 1, &r), -EINVAL);
	r.op.set_config.x = 32;
	assert_int_equal(status(c, 1, &r), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(span_two_connectors, setup, teardown),
		cmocka_unit_test_setup_teardown(clone_one_fb, setup, teardown),
		cmocka_unit_test_setup_teardown(two_sizes_and_a_small_fb, setup, teardown),
		cmocka_unit_test_setup_teardown(window_below, setup, teardown),
		cmocka_unit_test_setup_teardown(windows_past_the_fb_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(yuyv_odd_x_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
