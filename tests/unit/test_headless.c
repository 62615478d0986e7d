/* SPDX-License-Identifier: MIT */
/*
 * The headless output on a real sd-event loop: flip order and completion,
 * vblank pacing, copy vs direct frames, fb destruction, PNG output and
 * the capture directory.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <png.h>

#include "output/output_impl.h"
#include "output/png.h"

#define FOURCC(a, b, c, d)                                                                         \
	((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))
#define XRGB8888 FOURCC('X', 'R', '2', '4')
#define ARGB8888 FOURCC('A', 'R', '2', '4')
#define RGB565 FOURCC('R', 'G', '1', '6')
#define YUYV FOURCC('Y', 'U', 'Y', 'V')

#define MAX_EVENTS 64

struct rec {
	unsigned n_done;
	uint64_t tokens[MAX_EVENTS];
	uint64_t done_us[MAX_EVENTS];
	unsigned n_shown;
	struct vd_frame_view last;
	/* Set by a test: destroy this connector from the callback. */
	struct vd_output *out;
	struct vd_output_conn *destroy_in_flip_done;
};

struct fx {
	sd_event *loop;
	struct vd_output *out;
	struct vd_output_conn *conn;
	struct rec rec;
	uint8_t *mem;
	size_t mem_size;
	struct vd_frame_src src;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void on_flip_done(void *userdata, uint64_t token)
{
	struct rec *rec = userdata;

	assert_true(rec->n_done < MAX_EVENTS);
	rec->tokens[rec->n_done] = token;
	rec->done_us[rec->n_done] = now_us();
	rec->n_done++;
	if (rec->destroy_in_flip_done) {
		vd_output_conn_destroy(rec->destroy_in_flip_done);
		rec->destroy_in_flip_done = NULL;
	}
}

static void on_frame_shown(void *userdata, const struct vd_frame_view *view)
{
	struct rec *rec = userdata;

	rec->n_shown++;
	rec->last = *view;
}

/* Run the loop until *count reaches want or timeout_ms passes. */
static void run_until(sd_event *loop, const unsigned *count, unsigned want, unsigned timeout_ms)
{
	uint64_t end = now_us() + (uint64_t)timeout_ms * 1000u;

	while (*count < want && now_us() < end)
		assert_true(sd_event_run(loop, 10000) >= 0);
}

struct shot_wait {
	bool done;
	int status;
};

static void on_shot(void *userdata, int status)
{
	struct shot_wait *w = userdata;

	w->done = true;
	w->status = status;
}

/* A screenshot as vdispctl takes it, waited for: the written PNG's status. */
static int shot_sync(struct vd_output_conn *conn, const char *path)
{
	struct shot_wait w = {false, 0};
	uint64_t end = now_us() + 5000000;
	int r = vd_output_conn_screenshot(conn, path, on_shot, &w, NULL);

	if (r < 0)
		return r;
	while (!w.done && now_us() < end)
		assert_true(sd_event_run(conn->out->loop, 10000) >= 0);
	assert_true(w.done);
	return w.status;
}

/* Run the loop for ms, whatever happens. */
static void run_for(sd_event *loop, unsigned ms)
{
	uint64_t end = now_us() + (uint64_t)ms * 1000u;

	while (now_us() < end)
		assert_true(sd_event_run(loop, 5000) >= 0);
}

/* XRGB8888 64x32 with padded stride and a data offset, filled with a pattern. */
static void fx_src_init(struct fx *fx)
{
	const uint32_t w = 64, h = 32, stride = w * 4 + 32, offset = 128;

	fx->mem_size = offset + (size_t)stride * h;
	fx->mem = malloc(fx->mem_size);
	assert_non_null(fx->mem);
	for (size_t i = 0; i < fx->mem_size; i++)
		fx->mem[i] = (uint8_t)(i * 7 + 3);
	fx->src = (struct vd_frame_src){
		.map = fx->mem,
		.dmabuf_fd = -1,
		.size = fx->mem_size,
		.offset = offset,
		.stride = stride,
		.width = w,
		.height = h,
		.fourcc = XRGB8888,
		.bpp = 32,
	};
}

static void fx_open(struct fx *fx, const struct vd_output_opts *opts)
{
	struct vd_output_conn_desc desc = {
		.name = "dom1:0",
		.width = 64,
		.height = 32,
		.flip_done = on_flip_done,
		.frame_shown = on_frame_shown,
		.userdata = &fx->rec,
	};

	assert_int_equal(vd_output_create("headless", fx->loop, opts, &fx->out), 0);
	fx->rec.out = fx->out;
	assert_int_equal(vd_output_conn_create(fx->out, &desc, &fx->conn), 0);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(sd_event_new(&fx->loop), 0);
	fx_src_init(fx);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	vd_output_destroy(fx->out);
	sd_event_unref(fx->loop);
	free(fx->mem);
	free(fx);
	return 0;
}

static struct vd_output_fb *fb_new(struct fx *fx)
{
	struct vd_output_fb *fb = NULL;

	assert_int_equal(vd_output_fb_create(fx->out, &fx->src, &fb), 0);
	return fb;
}

static struct vd_output_stats stats_of(struct fx *fx)
{
	struct vd_output_stats st;

	vd_output_get_stats(fx->out, &st);
	return st;
}

/* ---- flips ---- */

static void test_flips_in_order(void **state)
{
	struct vd_output_opts opts = {.refresh_mhz = 1000000}; /* 1000 Hz */
	struct fx *fx = *state;
	struct vd_output_fb *a, *b;
	struct vd_output_stats st;

	fx_open(fx, &opts);
	a = fb_new(fx);
	b = fb_new(fx);
	for (uint64_t t = 1; t <= 5; t++)
		assert_int_equal(vd_output_conn_flip(fx->conn, t % 2 ? a : b, t), 0);
	assert_int_equal(fx->rec.n_done, 0); /* never synchronous */
	run_until(fx->loop, &fx->rec.n_done, 5, 2000);
	run_for(fx->loop, 20);
	assert_int_equal(fx->rec.n_done, 5);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(fx->rec.tokens[i], i + 1);
	assert_int_equal(fx->rec.n_shown, 5);
	assert_int_equal(fx->rec.last.seq, 5);
	st = stats_of(fx);
	assert_int_equal(st.flips, 5);
	assert_int_equal(st.frames_shown, 5);
	assert_int_equal(st.copies, 0);
}

static void test_vblank_pacing_60hz(void **state)
{
	struct vd_output_opts opts = {.refresh_mhz = 60000};
	const uint64_t period = 1000000000u / 60000u;
	struct fx *fx = *state;
	struct vd_output_fb *a;
	uint64_t queued;

	fx_open(fx, &opts);
	a = fb_new(fx);
	queued = now_us();
	assert_int_equal(vd_output_conn_flip(fx->conn, a, 1), 0);
	assert_int_equal(vd_output_conn_flip(fx->conn, a, 2), 0);
	run_until(fx->loop, &fx->rec.n_done, 2, 2000);
	assert_int_equal(fx->rec.n_done, 2);
	/* One flip per vblank: the second lands at least one grid step after queueing. */
	assert_true(fx->rec.done_us[1] - queued >= period);
	assert_true(fx->rec.done_us[1] > fx->rec.done_us[0]);
	/* Idle: no timer left armed, so the loop has nothing to dispatch. */
	assert_int_equal(sd_event_run(fx->loop, 3 * period), 0);
}

static void test_refresh_zero_completes_next_iteration(void **state)
{
	struct vd_output_opts opts = {0};
	struct fx *fx = *state;
	struct vd_output_fb *a;

	fx_open(fx, &opts);
	a = fb_new(fx);
	for (uint64_t t = 10; t < 13; t++)
		assert_int_equal(vd_output_conn_flip(fx->conn, a, t), 0);
	assert_int_equal(fx->rec.n_done, 0);
	assert_true(sd_event_run(fx->loop, 0) > 0);
	assert_int_equal(fx->rec.n_done, 1);
	run_until(fx->loop, &fx->rec.n_done, 3, 1000);
	assert_int_equal(fx->rec.n_done, 3);
	assert_int_equal(fx->rec.tokens[2], 12);
}

/* ---- direct and copy ---- */

static void assert_view_matches_src(const struct vd_frame_view *v, const struct vd_frame_src *s,
				    const uint8_t *mem, uint32_t x, uint32_t y)
{
	for (uint32_t row = 0; row < v->height; row++) {
		const uint8_t *want = mem + s->offset + (size_t)(y + row) * s->stride + x * 4;

		assert_memory_equal(v->pixels + (size_t)row * v->stride, want, v->width * 4);
	}
}

static void test_direct_mode_shows_guest_memory(void **state)
{
	struct vd_output_opts opts = {0};
	struct fx *fx = *state;
	struct vd_output_stats st;

	fx_open(fx, &opts);
	assert_int_equal(vd_output_conn_flip(fx->conn, fb_new(fx), 1), 0);
	run_until(fx->loop, &fx->rec.n_done, 1, 1000);
	assert_int_equal(fx->rec.n_shown, 1);
	assert_ptr_equal(fx->rec.last.pixels, fx->mem + fx->src.offset);
	assert_int_equal(fx->rec.last.stride, fx->src.stride);
	assert_int_equal(fx->rec.last.width, 64);
	assert_int_equal(fx->rec.last.height, 32);
	st = stats_of(fx);
	assert_int_equal(st.copies, 0);
	assert_int_equal(st.bytes_copied, 0);
}

/*
 * Copy mode copies a frame when it is presented (its vblank), into the
 * connector's own two buffers: queued flips hold no copies, whatever the
 * queue's length, and what is shown stays as it was at its vblank while
 * the guest draws on.
 */
static void test_copy_mode_copies_when_presented(void **state)
{
	struct vd_output_opts opts = {.force_copy = true, .refresh_mhz = 20000}; /* 50 ms */
	struct fx *fx = *state;
	struct vd_output_stats st;
	struct vd_output_fb *a;
	uint8_t *at_vblank;

	fx_open(fx, &opts);
	a = fb_new(fx);
	for (uint64_t t = 1; t <= 4; t++)
		assert_int_equal(vd_output_conn_flip(fx->conn, a, t), 0);
	st = stats_of(fx);
	assert_int_equal(st.copies, 0);
	memset(fx->mem, 0x11, fx->mem_size); /* drawn before the vblank: shown */
	run_until(fx->loop, &fx->rec.n_done, 1, 1000);
	assert_int_equal(fx->rec.n_shown, 1);
	assert_true(fx->rec.last.pixels < fx->mem || fx->rec.last.pixels >= fx->mem + fx->mem_size);
	assert_int_equal(fx->rec.last.stride, 64 * 4);
	assert_view_matches_src(&fx->rec.last, &fx->src, fx->mem, 0, 0);
	assert_int_equal(stats_of(fx).copies, 1);
	at_vblank = malloc(fx->mem_size);
	assert_non_null(at_vblank);
	memcpy(at_vblank, fx->mem, fx->mem_size);
	memset(fx->mem, 0x22, fx->mem_size); /* drawn after: the copy stays */
	assert_view_matches_src(&fx->rec.last, &fx->src, at_vblank, 0, 0);
	run_until(fx->loop, &fx->rec.n_done, 4, 1000);
	assert_view_matches_src(&fx->rec.last, &fx->src, fx->mem, 0, 0);
	st = stats_of(fx);
	assert_int_equal(st.flips, 4);
	assert_int_equal(st.copies, 4);
	assert_int_equal(st.bytes_copied, 4u * 64 * 32 * 4);
	free(at_vblank);
}

static void test_set_config_rect(void **state)
{
	struct vd_output_opts opts = {0};
	struct vd_rect r = {3, 2, 10, 5}, bad = {64, 0, 10, 5};
	struct fx *fx = *state;
	struct vd_output_fb *a;

	fx_open(fx, &opts);
	a = fb_new(fx);
	assert_int_equal(vd_output_conn_set_config(fx->conn, a, &bad), -EINVAL);
	assert_int_equal(fx->rec.n_shown, 0);
	assert_int_equal(vd_output_conn_set_config(fx->conn, a, &r), 0);
	assert_int_equal(fx->rec.n_shown, 1); /* at once, without the loop */
	assert_int_equal(fx->rec.n_done, 0);
	assert_ptr_equal(fx->rec.last.pixels, fx->mem + fx->src.offset + 2 * fx->src.stride + 3 * 4);
	assert_int_equal(fx->rec.last.width, 10);
	assert_int_equal(fx->rec.last.height, 5);
	/* Flips keep the configured source rectangle. */
	assert_int_equal(vd_output_conn_flip(fx->conn, a, 1), 0);
	run_until(fx->loop, &fx->rec.n_done, 1, 1000);
	assert_int_equal(fx->rec.last.width, 10);
	assert_view_matches_src(&fx->rec.last, &fx->src, fx->mem, 3, 2);
	assert_int_equal(vd_output_conn_set_config(fx->conn, NULL, NULL), 0);
	assert_int_equal(shot_sync(fx->conn, "/nonexistent/x.png"), -ENODATA);
}

static void test_set_config_rect_copy(void **state)
{
	struct vd_output_opts opts = {.force_copy = true};
	struct vd_rect r = {5, 7, 20, 9};
	struct fx *fx = *state;

	fx_open(fx, &opts);
	assert_int_equal(vd_output_conn_set_config(fx->conn, fb_new(fx), &r), 0);
	assert_int_equal(fx->rec.last.width, 20);
	assert_int_equal(fx->rec.last.stride, 20 * 4);
	assert_view_matches_src(&fx->rec.last, &fx->src, fx->mem, 5, 7);
	assert_int_equal(stats_of(fx).bytes_copied, 20u * 9 * 4);
}

/* ---- fb lifetime ---- */

static void test_fb_destroy_while_shown_blanks(void **state)
{
	struct vd_output_opts opts = {0};
	struct fx *fx = *state;
	struct vd_output_fb *a;
	char path[] = "/tmp/vd-headless-XXXXXX.png";
	int fd;

	fx_open(fx, &opts);
	fd = mkstemps(path, 4);
	assert_true(fd >= 0);
	close(fd);
	a = fb_new(fx);
	assert_int_equal(vd_output_conn_set_config(fx->conn, a, NULL), 0);
	assert_int_equal(shot_sync(fx->conn, path), 0);
	vd_output_fb_destroy(a);
	assert_int_equal(shot_sync(fx->conn, path), -ENODATA);
	unlink(path);
}

static void fb_destroy_queued(struct fx *fx, bool copy)
{
	struct vd_output_opts opts = {.force_copy = copy, .refresh_mhz = 1000000};
	struct vd_output_fb *a, *b;

	fx_open(fx, &opts);
	a = fb_new(fx);
	b = fb_new(fx);
	assert_int_equal(vd_output_conn_flip(fx->conn, a, 1), 0);
	assert_int_equal(vd_output_conn_flip(fx->conn, b, 2), 0);
	vd_output_fb_destroy(a);
	run_until(fx->loop, &fx->rec.n_done, 1, 1000);
	/* Still one flip_done for the flip of the destroyed fb, but a blank frame. */
	assert_int_equal(fx->rec.n_done, 1);
	assert_int_equal(fx->rec.tokens[0], 1);
	assert_int_equal(fx->rec.n_shown, 0);
	assert_int_equal(shot_sync(fx->conn, "/nonexistent/x.png"),
			 -ENODATA);
	run_until(fx->loop, &fx->rec.n_done, 2, 1000);
	assert_int_equal(fx->rec.n_done, 2);
	assert_int_equal(fx->rec.n_shown, 1);
	assert_int_equal(stats_of(fx).frames_shown, 1);
}

static void test_fb_destroy_queued_direct(void **state)
{
	fb_destroy_queued(*state, false);
}

static void test_fb_destroy_queued_copy(void **state)
{
	fb_destroy_queued(*state, true);
}

static void test_conn_destroy_drops_flips(void **state)
{
	struct vd_output_opts opts = {0};
	struct fx *fx = *state;
	struct vd_output_fb *a;

	fx_open(fx, &opts);
	a = fb_new(fx);
	assert_int_equal(vd_output_conn_flip(fx->conn, a, 1), 0);
	assert_int_equal(vd_output_conn_flip(fx->conn, a, 2), 0);
	assert_int_equal(vd_output_conn_flip(fx->conn, a, 3), 0);
	/* flip_done of 1 destroys the connector: 2 and 3 never complete. */
	fx->rec.destroy_in_flip_done = fx->conn;
	run_for(fx->loop, 30);
	assert_int_equal(fx->rec.n_done, 1);
	fx->conn = NULL;
}

/* ---- PNG ---- */

static uint8_t *png_read_rgba(const char *path, uint32_t *ret_w, uint32_t *ret_h)
{
	png_image img;
	uint8_t *buf;

	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_file(&img, path))
		return NULL;
	img.format = PNG_FORMAT_RGBA;
	buf = malloc(PNG_IMAGE_SIZE(img));
	assert_non_null(buf);
	if (!png_image_finish_read(&img, NULL, buf, 0, NULL)) {
		free(buf);
		return NULL;
	}
	*ret_w = img.width;
	*ret_h = img.height;
	return buf;
}

static char *tmp_png_path(void)
{
	char *path = strdup("/tmp/vd-png-XXXXXX.png");
	int fd;

	assert_non_null(path);
	fd = mkstemps(path, 4);
	assert_true(fd >= 0);
	close(fd);
	return path;
}

/* Write view, read it back, compare with want (RGBA, width*height). */
static void png_roundtrip(const struct vd_frame_view *view, const uint8_t *want)
{
	char *path = tmp_png_path(), *tmp;
	uint32_t w = 0, h = 0;
	uint8_t *got;

	assert_int_equal(vd_png_write(path, view), 0);
	got = png_read_rgba(path, &w, &h);
	assert_non_null(got);
	assert_int_equal(w, view->width);
	assert_int_equal(h, view->height);
	assert_memory_equal(got, want, (size_t)w * h * 4);
	assert_true(asprintf(&tmp, "%s.tmp", path) > 0);
	assert_int_equal(access(tmp, F_OK), -1); /* renamed away */
	free(tmp);
	free(got);
	unlink(path);
	free(path);
}

/* The pixel of the fixture's fb at (x, y), as a PNG reads it back (RGBA). */
static void fx_rgba(const struct fx *fx, uint32_t x, uint32_t y, uint8_t *ret)
{
	const uint8_t *p = fx->mem + fx->src.offset + (size_t)y * fx->src.stride + (size_t)x * 4;

	ret[0] = p[2];
	ret[1] = p[1];
	ret[2] = p[0];
	ret[3] = 0xff;
}

/*
 * What a 32x16 connector's screenshot holds: its window at (wx, wy) of the
 * 64x32 fb, black where the window reaches past the fb.
 */
static void assert_window_shot(struct fx *fx, struct vd_output_conn *conn, uint32_t wx,
			       uint32_t wy)
{
	char *path = tmp_png_path();
	uint32_t w = 0, h = 0;
	uint8_t *got, want[4];

	assert_int_equal(shot_sync(conn, path), 0);
	got = png_read_rgba(path, &w, &h);
	assert_non_null(got);
	assert_int_equal(w, 32);
	assert_int_equal(h, 16);
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++) {
			static const uint8_t black[4] = {0, 0, 0, 0xff};

			if (wx + x < fx->src.width && wy + y < fx->src.height)
				fx_rgba(fx, wx + x, wy + y, want);
			else
				memcpy(want, black, 4);
			assert_memory_equal(got + ((size_t)y * w + x) * 4, want, 4);
		}
	free(got);
	unlink(path);
	free(path);
}

/*
 * A connector's window into a larger fb (one fb spanning connectors):
 * shown from its offset, kept by flips, clipped where it reaches past the
 * fb (black there), refused where it starts outside.
 */
static void test_set_config_window(void **state)
{
	struct vd_output_opts opts = {0};
	struct vd_output_conn_desc desc = {
		.name = "dom1:1",
		.width = 32,
		.height = 16,
		.flip_done = on_flip_done,
		.frame_shown = on_frame_shown,
		.userdata = NULL,
	};
	struct vd_rect win = {16, 8, 32, 16}, edge = {40, 24, 32, 16}, off = {64, 0, 32, 16};
	struct fx *fx = *state;
	struct vd_output_conn *conn = NULL;
	struct vd_output_fb *a;

	fx_open(fx, &opts);
	desc.userdata = &fx->rec;
	assert_int_equal(vd_output_conn_create(fx->out, &desc, &conn), 0);
	a = fb_new(fx);
	assert_int_equal(vd_output_conn_set_config(conn, a, &off), -EINVAL);
	assert_int_equal(vd_output_conn_set_config(conn, a, &win), 0);
	assert_int_equal(fx->rec.last.width, 32);
	assert_view_matches_src(&fx->rec.last, &fx->src, fx->mem, 16, 8);
	assert_window_shot(fx, conn, 16, 8);
	assert_int_equal(vd_output_conn_flip(conn, a, 1), 0);
	run_until(fx->loop, &fx->rec.n_done, 1, 1000);
	assert_view_matches_src(&fx->rec.last, &fx->src, fx->mem, 16, 8);
	/* reaching past the fb: the part inside, at the connector's top-left */
	assert_int_equal(vd_output_conn_set_config(conn, a, &edge), 0);
	assert_int_equal(fx->rec.last.width, 24);
	assert_int_equal(fx->rec.last.height, 8);
	assert_view_matches_src(&fx->rec.last, &fx->src, fx->mem, 40, 24);
	assert_window_shot(fx, conn, 40, 24);
	vd_output_conn_destroy(conn);
}

static void test_png_xrgb8888(void **state)
{
	/* 3x2, stride 16 (4 bytes padding): B, G, R, X in memory. */
	static const uint8_t px[2][16] = {
		{0x00, 0x00, 0xff, 0x99, 0x00, 0xff, 0x00, 0x99, 0xff, 0x00, 0x00, 0x99, 1, 2, 3, 4},
		{0x10, 0x20, 0x30, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 5, 6, 7, 8},
	};
	static const uint8_t want[] = {
		0xff, 0x00, 0x00, 0xff, 0x00, 0xff, 0x00, 0xff, 0x00, 0x00, 0xff, 0xff,
		0x30, 0x20, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0xff,
	};
	struct vd_frame_view v = {&px[0][0], 16, 3, 2, XRGB8888, 32, 1};

	png_roundtrip(&v, want);
}

static void test_png_rgb565(void **state)
{
	/* red, green, blue, white, black, 0x8410 (mid grey) */
	static const uint16_t px[6] = {0xf800, 0x07e0, 0x001f, 0xffff, 0x0000, 0x8410};
	static const uint8_t want[] = {
		255, 0, 0, 255, 0, 255, 0, 255, 0,   0,   255, 255,
		255, 255, 255, 255, 0, 0, 0, 255, 132, 130, 132, 255,
	};
	uint8_t mem[12];
	struct vd_frame_view v = {mem, 6, 3, 2, RGB565, 16, 1};

	for (unsigned i = 0; i < 6; i++) {
		mem[2 * i] = (uint8_t)(px[i] & 0xff);
		mem[2 * i + 1] = (uint8_t)(px[i] >> 8);
	}
	png_roundtrip(&v, want);
}

static void test_png_argb8888_keeps_alpha(void **state)
{
	static const uint8_t px[] = {0x30, 0x20, 0x10, 0x80, 0xff, 0xff, 0xff, 0x00};
	static const uint8_t want[] = {0x10, 0x20, 0x30, 0x80, 0xff, 0xff, 0xff, 0x00};
	struct vd_frame_view v = {px, 8, 2, 1, ARGB8888, 32, 1};

	png_roundtrip(&v, want);
}

static void test_png_yuyv(void **state)
{
	/* Y0 U Y1 V: white then black with neutral chroma. */
	static const uint8_t px[] = {235, 128, 16, 128};
	static const uint8_t want[] = {255, 255, 255, 255, 0, 0, 0, 255};
	struct vd_frame_view v = {px, 4, 2, 1, YUYV, 16, 1};

	png_roundtrip(&v, want);
}

static void test_png_unknown_format(void **state)
{
	static const uint8_t px[4];
	struct vd_frame_view v = {px, 4, 1, 1, FOURCC('N', 'V', '1', '2'), 8, 1};

	assert_int_equal(vd_png_write("/tmp/vd-never-written.png", &v), -EOPNOTSUPP);
	assert_int_equal(access("/tmp/vd-never-written.png", F_OK), -1);
}

/* ---- capture ---- */

/* Red pixel at (0,0) of the PNG at path, as 0xRRGGBB; -1 if unreadable. */
static long png_first_pixel(const char *path)
{
	uint32_t w, h;
	uint8_t *px = png_read_rgba(path, &w, &h);
	long v;

	if (!px)
		return -1;
	v = (long)px[0] << 16 | (long)px[1] << 8 | px[2];
	free(px);
	return v;
}

static void fill_xrgb(struct fx *fx, uint32_t rgb)
{
	for (uint32_t y = 0; y < fx->src.height; y++)
		for (uint32_t x = 0; x < fx->src.width; x++)
			memcpy(fx->mem + fx->src.offset + y * fx->src.stride + x * 4, &rgb, 4);
}

static void test_capture_dir(void **state)
{
	char dir[] = "/tmp/vd-capture-XXXXXX";
	struct vd_output_opts opts = {.capture_interval_ms = 20};
	struct fx *fx = *state;
	struct vd_output_fb *a;
	char *path;
	uint64_t end;

	assert_non_null(mkdtemp(dir));
	opts.capture_dir = dir;
	assert_true(asprintf(&path, "%s/dom1_0.png", dir) > 0);
	fx_open(fx, &opts);
	a = fb_new(fx);
	fill_xrgb(fx, 0xff0000);
	assert_int_equal(vd_output_conn_set_config(fx->conn, a, NULL), 0);
	end = now_us() + 2000000;
	while (access(path, F_OK) != 0 && now_us() < end)
		assert_true(sd_event_run(fx->loop, 10000) >= 0);
	assert_int_equal(png_first_pixel(path), 0xff0000);
	/*
	 * A frame shown just before the connector goes away is still captured
	 * (written off the loop: the output waits for it when it goes).
	 */
	fill_xrgb(fx, 0x0000ff);
	assert_int_equal(vd_output_conn_set_config(fx->conn, a, NULL), 0);
	vd_output_conn_destroy(fx->conn);
	fx->conn = NULL;
	vd_output_fb_destroy(a);
	vd_output_destroy(fx->out);
	fx->out = NULL;
	assert_int_equal(png_first_pixel(path), 0x0000ff);
	unlink(path);
	free(path);
	assert_int_equal(rmdir(dir), 0); /* nothing else left behind */
}

/*
 * A picture bigger than one slice of the copy (VD_SHOT_SLICE_BYTES) is
 * copied over several loop turns, then encoded off the loop: every pixel
 * arrives; a connector blanked during the copy ends it with -ENODATA.
 */
static void test_screenshot_over_many_turns(void **state)
{
	const uint32_t w = 1024, h = 700; /* 2.8 MiB: three slices */
	struct vd_output_conn_desc desc = {
		.name = "dom1:1", .width = w, .height = h, .flip_done = on_flip_done,
	};
	struct vd_output_opts opts = {0};
	struct fx *fx = *state;
	struct vd_output_conn *conn = NULL;
	struct vd_output_fb *fb = NULL;
	struct vd_frame_src src;
	char *path = tmp_png_path();
	uint32_t pw = 0, ph = 0, *mem = malloc((size_t)w * h * 4);
	uint8_t *got;
	struct shot_wait wait = {false, 0};

	assert_non_null(mem);
	for (uint32_t i = 0; i < w * h; i++)
		mem[i] = (i * 2654435761u) & 0xffffff;
	src = (struct vd_frame_src){.map = mem, .dmabuf_fd = -1, .size = (uint64_t)w * h * 4,
				    .stride = w * 4, .width = w, .height = h,
				    .fourcc = XRGB8888, .bpp = 32};
	fx_open(fx, &opts);
	desc.userdata = &fx->rec;
	assert_int_equal(vd_output_conn_create(fx->out, &desc, &conn), 0);
	assert_int_equal(vd_output_fb_create(fx->out, &src, &fb), 0);
	assert_int_equal(vd_output_conn_set_config(conn, fb, NULL), 0);
	assert_int_equal(shot_sync(conn, path), 0);
	got = png_read_rgba(path, &pw, &ph);
	assert_non_null(got);
	assert_int_equal(pw, w);
	assert_int_equal(ph, h);
	for (uint32_t i = 0; i < w * h; i++) {
		uint8_t want[4] = {(uint8_t)(mem[i] >> 16), (uint8_t)(mem[i] >> 8), (uint8_t)mem[i],
				   0xff};

		if (memcmp(got + (size_t)i * 4, want, 4) != 0)
			fail_msg("pixel %u of %u", i, w * h);
	}
	free(got);
	/* blank during the copy: the first slice was taken, the second finds nothing */
	assert_int_equal(vd_output_conn_screenshot(conn, path, on_shot, &wait, NULL), 0);
	assert_true(sd_event_run(fx->loop, 0) >= 0);
	assert_int_equal(vd_output_conn_set_config(conn, NULL, NULL), 0);
	while (!wait.done)
		assert_true(sd_event_run(fx->loop, 10000) >= 0);
	assert_int_equal(wait.status, -ENODATA);
	vd_output_conn_destroy(conn);
	vd_output_fb_destroy(fb);
	unlink(path);
	free(path);
	free(mem);
}

static void test_capture_dir_missing(void **state)
{
	struct vd_output_opts opts = {.capture_dir = "/nonexistent/vd-capture"};
	struct fx *fx = *state;

	assert_true(vd_output_create("headless", fx->loop, &opts, &fx->out) < 0);
	fx->out = NULL;
}

/* ---- validation ---- */

static void test_fb_create_validates(void **state)
{
	struct vd_output_opts opts = {0};
	struct fx *fx = *state;
	struct vd_output_fb *fb = NULL;
	struct vd_frame_src s;

	fx_open(fx, &opts);
	s = fx->src;
	s.map = NULL;
	assert_int_equal(vd_output_fb_create(fx->out, &s, &fb), -EINVAL);
	/* The last row needs no stride padding, but every visible byte. */
	s = fx->src;
	s.size = s.offset + (uint64_t)(s.height - 1) * s.stride + s.width * 4;
	assert_int_equal(vd_output_fb_create(fx->out, &s, &fb), 0);
	vd_output_fb_destroy(fb);
	fb = NULL;
	s.size -= 1;
	assert_int_equal(vd_output_fb_create(fx->out, &s, &fb), -EINVAL);
	s = fx->src;
	s.stride = s.width * 4 - 1;
	assert_int_equal(vd_output_fb_create(fx->out, &s, &fb), -EINVAL);
	s = fx->src;
	s.bpp = 16; /* does not match XRGB8888 */
	assert_int_equal(vd_output_fb_create(fx->out, &s, &fb), -EINVAL);
	s = fx->src;
	s.offset = UINT32_MAX;
	assert_int_equal(vd_output_fb_create(fx->out, &s, &fb), -EINVAL);
	assert_null(fb);
	assert_int_equal(vd_output_create("no-such-output", fx->loop, &opts, &fx->out), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_flips_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vblank_pacing_60hz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refresh_zero_completes_next_iteration, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_direct_mode_shows_guest_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_mode_copies_when_presented, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_config_rect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_config_rect_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_config_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fb_destroy_while_shown_blanks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fb_destroy_queued_direct, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fb_destroy_queued_copy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conn_destroy_drops_flips, setup, teardown),
		cmocka_unit_test(test_png_xrgb8888),
		cmocka_unit_test(test_png_rgb565),
		cmocka_unit_test(test_png_argb8888_keeps_alpha),
		cmocka_unit_test(test_png_yuyv),
		cmocka_unit_test(test_png_unknown_format),
		cmocka_unit_test_setup_teardown(test_capture_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_capture_dir_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_screenshot_over_many_turns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fb_create_validates, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
