/* SPDX-License-Identifier: MIT */
/*
 * The copy path: the headless output with force_copy (--copy) copies
 * every flipped frame when the flip is queued. A 1920x1080 XRGB8888
 * frame is flipped again and again through the output API; the time
 * inside conn_flip and the output's bytes_copied give its copy rate.
 * Baseline: one plain memcpy of the same frame, timed in the same loop,
 * alternating with the flips so that both see the same machine; and a
 * memcpy into two destinations in turn, the output's working set.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define WIDTH 1920u
#define HEIGHT 1080u
#define STRIDE (WIDTH * 4u)
#define FRAME_BYTES ((size_t)STRIDE * HEIGHT)
#define WARMUP 5u

struct cp_bench {
	sd_event *loop;
	struct vd_output *out;
	struct vd_output_conn *conn;
	struct vd_output_fb *fb;
	uint8_t *frame, *dst[3]; /* dst[0] plain, dst[1..2] in turn */
	uint64_t done;
	struct bench_samples flip, plain, plain2;
};

static void on_flip_done(void *userdata, uint64_t token)
{
	struct cp_bench *b = userdata;

	b->done++;
}

static uint8_t *frame_alloc(void)
{
	uint8_t *p = aligned_alloc(4096, FRAME_BYTES);

	if (p)
		for (size_t i = 0; i < FRAME_BYTES; i++)
			p[i] = (uint8_t)(i * 7u + (i >> 12));
	return p;
}

static int setup(struct cp_bench *b)
{
	struct vd_output_opts oo = {.force_copy = true, .refresh_mhz = 0};
	struct vd_output_conn_desc desc = {.name = "bench:0",
					   .width = WIDTH,
					   .height = HEIGHT,
					   .flip_done = on_flip_done,
					   .userdata = b};
	struct vd_frame_src src = {.dmabuf_fd = -1,
				   .size = FRAME_BYTES,
				   .stride = STRIDE,
				   .width = WIDTH,
				   .height = HEIGHT,
				   .fourcc = BENCH_XRGB8888,
				   .bpp = 32};
	int r;

	b->frame = frame_alloc();
	for (int i = 0; i < 3; i++)
		b->dst[i] = frame_alloc();
	if (!b->frame || !b->dst[0] || !b->dst[1] || !b->dst[2])
		return -ENOMEM;
	src.map = b->frame;
	r = sd_event_new(&b->loop);
	if (r >= 0)
		r = vd_output_create("headless", b->loop, &oo, &b->out);
	if (r >= 0)
		r = vd_output_conn_create(b->out, &desc, &b->conn);
	if (r >= 0)
		r = vd_output_fb_create(b->out, &src, &b->fb);
	if (r >= 0)
		r = vd_output_conn_set_config(b->conn, b->fb, NULL);
	return r;
}

static void teardown(struct cp_bench *b)
{
	if (b->out) {
		vd_output_conn_destroy(b->conn);
		vd_output_fb_destroy(b->fb);
		vd_output_destroy(b->out);
	}
	sd_event_unref(b->loop);
	free(b->frame);
	for (int i = 0; i < 3; i++)
		free(b->dst[i]);
	bench_samples_free(&b->flip);
	bench_samples_free(&b->plain);
	bench_samples_free(&b->plain2);
}

/* One flip, timed, then the loop until it completed: its copy buffer returns as the spare. */
static int one_flip(struct cp_bench *b, uint64_t i, bool keep)
{
	uint64_t t0 = bench_now_ns(), want = b->done + 1;
	int r = vd_output_conn_flip(b->conn, b->fb, i);
	uint64_t t1 = bench_now_ns();

	if (r < 0)
		return r;
	if (keep)
		bench_samples_add(&b->flip, t1 - t0);
	while (b->done < want)
		if ((r = sd_event_run(b->loop, 1000000)) < 0)
			return r;
	return 0;
}

static uint64_t timed_memcpy(uint8_t *dst, const uint8_t *src)
{
	uint64_t t0 = bench_now_ns();

	memcpy(dst, src, FRAME_BYTES);
	__asm__ volatile("" : : "r"(dst) : "memory"); /* the copy is used */
	return bench_now_ns() - t0;
}

/*
 * The plain copy, and the same into two buffers in turn: the output must
 * keep the shown frame while it copies the next, so its working set is
 * the larger one.
 */
static void memcpys(struct cp_bench *b, uint64_t i, bool keep)
{
	uint64_t plain = timed_memcpy(b->dst[0], b->frame);
	uint64_t plain2 = timed_memcpy(b->dst[1 + (i & 1)], b->frame);

	if (keep) {
		bench_samples_add(&b->plain, plain);
		bench_samples_add(&b->plain2, plain2);
	}
}

/*
 * Rates from the median time per frame: on a shared machine a few frames
 * are preempted, and a mean would mostly measure that.
 */
static double rate(struct bench_samples *s, double bytes_per_frame)
{
	return bytes_per_frame / (double)bench_samples_quantile(s, 0.5);
}

static double ms(struct bench_samples *s, double q)
{
	return (double)bench_samples_quantile(s, q) / 1e6;
}

/* bytes: what the output copied in the timed flips, by its own count. */
static void report(struct cp_bench *b, uint64_t bytes)
{
	double per_flip = (double)bytes / (double)b->flip.n;

	bench_report("copy.memcpy_rate", rate(&b->plain, FRAME_BYTES), "GB/s", NULL,
		     "memcpy of one 1080p XRGB8888 frame");
	bench_report("copy.memcpy_2buf_rate", rate(&b->plain2, FRAME_BYTES), "GB/s",
		     "copy.memcpy_rate", "memcpy of the frame into two buffers in turn");
	bench_report("copy.headless_rate", rate(&b->flip, per_flip), "GB/s", "copy.memcpy_rate",
		     "headless --copy: bytes_copied per flip / time in conn_flip");
	bench_report("copy.memcpy_p50", ms(&b->plain, 0.5), "ms", NULL,
		     "memcpy of one frame, median");
	bench_report("copy.memcpy_p99", ms(&b->plain, 0.99), "ms", NULL,
		     "memcpy of one frame, p99");
	bench_report("copy.headless_p50", ms(&b->flip, 0.5), "ms", "copy.memcpy_p50",
		     "conn_flip with copy, median");
	bench_report("copy.headless_p99", ms(&b->flip, 0.99), "ms", "copy.memcpy_p99",
		     "conn_flip with copy, p99");
}

int bench_copy(const struct bench_cfg *cfg)
{
	uint32_t frames = cfg->quick ? 20 : 300;
	struct cp_bench b = {0};
	struct vd_output_stats s0, s1;
	int r = setup(&b);

	for (uint32_t i = 0; r >= 0 && i < WARMUP; i++) {
		r = one_flip(&b, i, false);
		memcpys(&b, i, false);
	}
	if (r >= 0)
		vd_output_get_stats(b.out, &s0);
	for (uint32_t i = 0; r >= 0 && i < frames; i++) {
		r = one_flip(&b, WARMUP + i, true);
		memcpys(&b, i, true);
	}
	if (r >= 0) {
		vd_output_get_stats(b.out, &s1);
		report(&b, s1.bytes_copied - s0.bytes_copied);
	} else {
		fprintf(stderr, "vdispl-bench: copy: %s\n", strerror(-r));
	}
	teardown(&b);
	return r < 0 ? r : 0;
}
