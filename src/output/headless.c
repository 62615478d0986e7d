/* SPDX-License-Identifier: MIT */
/*
 * The headless output: connectors with a virtual vblank and no screen. It
 * makes the daemon testable without hardware, and with a capture directory
 * it shows what a guest displays as one PNG per connector.
 *
 * The output core paces it (VD_PACE_TIMER: a vblank grid per connector,
 * armed only while flips are queued) and keeps the flip contract; all
 * that is left here is what "showing" means:
 *
 *  - direct: the connector's view is the guest's memory itself, its window
 *    of the current fb;
 *  - copy (force_copy): at each vblank the visible rows are copied into one
 *    of two buffers the connector owns (the shown one and a spare), so the
 *    memory a connector holds does not grow with its queue;
 *  - capture: at most once per interval, a changed picture is written as
 *    a PNG, off the loop (shot.c); a picture shown just before the
 *    connector goes away gets a last write if it is small enough to copy
 *    at once.
 */
#include "output/headless.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/mman.h>

#include "log.h"
#include "output/output_impl.h"
#include "output/png.h"
#include "output/shot.h"

#define DEFAULT_CAPTURE_INTERVAL_MS 1000u
/* sd-event's timer slack; 0 would mean its default of 250 ms. */
#define TIMER_ACCURACY_US 1u
/* A last capture at teardown is copied at once: only this big (a 2048x2048 frame). */
#define LAST_CAPTURE_MAX_BYTES (16u << 20)

struct hl_output {
	struct vd_output base;
	char *capture_dir;   /* owned; NULL: capture off */
	uint64_t capture_interval_us;
};

struct hl_fb {
	struct vd_output_fb base;
	int dmabuf; /* our reference to the buffer's dma-buf, or -1 (an importer's, as KMS holds) */
};

/* A copy buffer of a connector. */
#define HUGE_PAGE ((size_t)2 << 20)

struct hl_buf {
	uint8_t *data;
	size_t cap;
};

struct hl_conn {
	struct vd_output_conn base;
	struct hl_buf shown, spare;   /* copy mode */
	struct vd_frame_view copy;    /* copy mode: what shown holds; pixels NULL: blank */

	sd_event_source *capture;     /* NULL: capture off */
	char *capture_path;
	bool capture_dirty;           /* a new picture since the last capture began */
	uint64_t capture_last_us;
	struct vd_output_shot *capture_shot;
};

static const struct vd_output_impl hl_impl;

static struct hl_output *hl_output_from(struct vd_output *out)
{
	assert(out->impl == &hl_impl);
	return (struct hl_output *)out;
}

static struct hl_conn *hl_conn_from(struct vd_output_conn *conn)
{
	hl_output_from(conn->out);
	return (struct hl_conn *)conn;
}

static struct hl_fb *hl_fb_from(struct vd_output_fb *fb)
{
	hl_output_from(fb->out);
	return (struct hl_fb *)fb;
}

/* ---- copy mode ---- */

static void buf_free(struct hl_buf *b)
{
	if (b->data)
		munmap(b->data, b->cap);
	*b = (struct hl_buf){NULL, 0};
}

/*
 * The spare buffer, grown to at least size; it becomes the shown one. In
 * huge pages where the kernel has them: the first copy into a 4K-paged
 * 16 MiB buffer takes 4096 page faults, tens of milliseconds of one loop
 * turn; in 2 MiB pages it takes 8.
 */
static int buf_take(struct hl_conn *conn, size_t size, struct hl_buf *ret)
{
	struct hl_buf b = conn->spare;
	size_t cap;
	void *p;

	if (b.cap < size) {
		cap = (size + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
		p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return -ENOMEM;
		madvise(p, cap, MADV_HUGEPAGE); /* advice: fine if refused */
		buf_free(&b);
		b = (struct hl_buf){p, cap};
	}
	conn->spare = conn->shown;
	*ret = b;
	return 0;
}

/* Copy the visible rows of src into the spare buffer, which becomes the shown one. */
static void frame_copy(struct hl_conn *conn, const struct vd_frame_view *src)
{
	size_t row = (size_t)src->width * (src->bpp / 8);
	struct hl_buf b;

	if (buf_take(conn, row * src->height, &b) < 0) {
		vd_log_rl(LOG_WARNING, "headless %s: no memory for a copy", conn->base.desc.name);
		conn->copy.pixels = NULL;
		return;
	}
	conn->shown = b;
	for (uint32_t y = 0; y < src->height; y++)
		memcpy(b.data + y * row, src->pixels + (size_t)y * src->stride, row);
	vd_output_count_copy(conn->base.out, row * src->height);
	conn->copy = *src;
	conn->copy.pixels = b.data;
	conn->copy.stride = (uint32_t)row;
}

static bool hl_view(struct vd_output_conn *base, struct vd_frame_view *ret)
{
	struct hl_conn *conn = hl_conn_from(base);

	if (!base->out->force_copy)
		return base->cur.fb && vd_output_fb_map(base->cur.fb) &&
		       vd_frame_view_of(&base->cur.fb->src, &base->cur.window, ret);
	if (!conn->copy.pixels)
		return false;
	*ret = conn->copy;
	return true;
}

/* ---- capture ---- */

static bool name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/* "<guest>:<index>" -> "<dir>/<guest>_<index>.png": no separators, no hidden files. */
static char *capture_path_new(const char *dir, const char *name)
{
	char *path, *p, *end;

	if (asprintf(&path, "%s/%s.png", dir, name[0] ? name : "conn") < 0)
		return NULL;
	p = path + strlen(dir) + 1;
	end = path + strlen(path) - strlen(".png");
	if (*p == '.')
		*p = '_';
	for (; p < end; p++)
		if (!name_char_ok(*p))
			*p = '_';
	return path;
}

static bool capture_read(void *source, struct vd_frame_view *ret)
{
	return vd_output_conn_view(source, ret);
}

static void capture_arm(struct hl_conn *conn);

static void capture_done(void *userdata, int status)
{
	struct hl_conn *conn = userdata;

	conn->capture_shot = NULL;
	if (status < 0 && status != -ENODATA)
		conn->capture_dirty = true; /* try again at the next interval */
	if (conn->capture_dirty)
		capture_arm(conn);
}

/* Begin writing what conn shows now; false if it shows nothing. */
static bool capture_start(struct hl_conn *conn)
{
	struct vd_output_conn *base = &conn->base;
	int r;

	conn->capture_dirty = false;
	conn->capture_last_us = vd_now_us();
	r = vd_shot_start(base->out->shots, capture_read, base, base->desc.width, base->desc.height,
			  conn->capture_path, capture_done, conn, &conn->capture_shot);
	if (r == -EBUSY)
		conn->capture_dirty = true; /* the budget is taken: later */
	else if (r < 0 && r != -ENODATA)
		vd_log_rl(LOG_WARNING, "headless: capture %s: %s", conn->capture_path, strerror(-r));
	return r >= 0;
}

static int capture_handler(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct hl_conn *conn = userdata;

	if (!conn->capture_shot && conn->capture_dirty && !capture_start(conn) &&
	    conn->capture_dirty)
		capture_arm(conn);
	return 0;
}

/* At most one capture per interval, and one at a time. */
static void capture_arm(struct hl_conn *conn)
{
	struct hl_output *out = hl_output_from(conn->base.out);
	int enabled = SD_EVENT_OFF;

	if (!conn->capture || conn->capture_shot)
		return;
	sd_event_source_get_enabled(conn->capture, &enabled);
	if (enabled != SD_EVENT_OFF)
		return;
	if (sd_event_source_set_time(conn->capture,
				     conn->capture_last_us + out->capture_interval_us) < 0 ||
	    sd_event_source_set_enabled(conn->capture, SD_EVENT_ONESHOT) < 0)
		vd_log_rl(LOG_WARNING, "headless: cannot arm capture timer");
}

static void capture_mark(struct hl_conn *conn)
{
	if (!conn->capture)
		return;
	conn->capture_dirty = true;
	capture_arm(conn);
}

static int capture_init(struct hl_conn *conn)
{
	struct hl_output *out = hl_output_from(conn->base.out);
	int r;

	if (!out->capture_dir)
		return 0;
	conn->capture_path = capture_path_new(out->capture_dir, conn->base.desc.name);
	if (!conn->capture_path)
		return -ENOMEM;
	r = sd_event_add_time(conn->base.out->loop, &conn->capture, CLOCK_MONOTONIC, 0,
			      TIMER_ACCURACY_US, capture_handler, conn);
	if (r < 0)
		return r;
	return sd_event_source_set_enabled(conn->capture, SD_EVENT_OFF);
}

/* The connector goes: a picture not captured yet gets a last write if it is small. */
static void capture_last(struct hl_conn *conn)
{
	struct vd_frame_view v;

	if (!conn->capture)
		return;
	/*
	 * No callback may come after the connector: a capture in progress is
	 * cancelled (one encoding still writes its file), the last one too
	 * once its copy is taken (the worker writes it, in order).
	 */
	vd_shot_cancel(conn->capture_shot);
	conn->capture_shot = NULL;
	if (!conn->capture_dirty || !vd_output_conn_view(&conn->base, &v) ||
	    (size_t)v.width * (v.bpp / 8) * v.height > LAST_CAPTURE_MAX_BYTES) {
		/* nothing new to write, or too big to write now */
	} else if (sd_event_get_state(conn->base.out->loop) == SD_EVENT_FINISHED) {
		/* The daemon exits: no loop turn is left to start the worker. */
		int r = vd_png_write_canvas(conn->capture_path, &v, conn->base.desc.width,
					    conn->base.desc.height);

		if (r < 0)
			vd_log_rl(LOG_WARNING, "headless: capture %s: %s", conn->capture_path,
				  strerror(-r));
	} else if (capture_start(conn)) {
		vd_shot_copy_now(conn->capture_shot);
		vd_shot_cancel(conn->capture_shot);
		conn->capture_shot = NULL;
	}
	conn->capture = sd_event_source_disable_unref(conn->capture);
}

/* ---- the output's operations ---- */

static void hl_present(struct vd_output_conn *base, const struct vd_output_frame *frame)
{
	struct hl_conn *conn = hl_conn_from(base);
	struct vd_frame_view view;

	if (base->out->force_copy) {
		if (frame->fb && vd_output_fb_map(frame->fb) &&
		    vd_frame_view_of(&frame->fb->src, &frame->window, &view))
			frame_copy(conn, &view);
		else
			conn->copy.pixels = NULL;
	}
	if (frame->fb)
		capture_mark(conn);
}

static int hl_conn_init(struct vd_output_conn *base, const struct vd_output_conn_desc *desc)
{
	return capture_init(hl_conn_from(base));
}

static void hl_conn_finish(struct vd_output_conn *base)
{
	struct hl_conn *conn = hl_conn_from(base);

	capture_last(conn);
	free(conn->capture_path);
	buf_free(&conn->shown);
	buf_free(&conn->spare);
}

/*
 * The guest's memory must be mappable (headless reads it with the CPU when
 * it captures, copies or takes a screenshot: mapped then), and bpp agree
 * with the format where the PNG writer knows it.
 */
static int hl_fb_init(struct vd_output_fb *base)
{
	struct hl_fb *fb = hl_fb_from(base);
	uint32_t known = vd_png_format_bpp(base->src.fourcc);

	if (!vd_frame_src_valid(&base->src, true) || (known && known != base->src.bpp))
		return -EINVAL;
	fb->dmabuf = -1;
	if (base->src.dmabuf_fd >= 0) {
		fb->dmabuf = fcntl(base->src.dmabuf_fd, F_DUPFD_CLOEXEC, 3);
		if (fb->dmabuf < 0)
			return -errno;
	}
	return 0;
}

static void hl_fb_finish(struct vd_output_fb *base)
{
	struct hl_fb *fb = hl_fb_from(base);

	if (fb->dmabuf >= 0)
		close(fb->dmabuf);
}

/* be-alloc in shared memory: the memfd stands in for the dma-buf. */
static int hl_buffer_alloc(struct vd_output *out, uint64_t size, int *ret_fd, void **ret_map)
{
	return vd_output_shm_alloc(size, ret_fd, ret_map);
}

static void hl_buffer_free(struct vd_output *out, int fd, void *map, uint64_t size)
{
	vd_output_shm_free(fd, map, size);
}

static void hl_destroy(struct vd_output *base)
{
	struct hl_output *out = hl_output_from(base);

	vd_output_finish(base);
	free(out->capture_dir);
	free(out);
}

static const struct vd_output_impl hl_impl = {
	.name = "headless",
	.pacing = VD_PACE_TIMER,
	.conn_size = sizeof(struct hl_conn),
	.fb_size = sizeof(struct hl_fb),
	.destroy = hl_destroy,
	.conn_init = hl_conn_init,
	.conn_finish = hl_conn_finish,
	.fb_init = hl_fb_init,
	.fb_finish = hl_fb_finish,
	.present = hl_present,
	.view = hl_view,
	.buffer_alloc = hl_buffer_alloc,
	.buffer_free = hl_buffer_free,
};

/* The directory must exist and be writable: fail at start-up, not at the first frame. */
static int capture_dir_check(const char *dir)
{
	return access(dir, W_OK | X_OK) < 0 ? -errno : 0;
}

int vd_output_headless_create(sd_event *loop, const struct vd_output_opts *opts,
			      struct vd_output **ret_out)
{
	struct hl_output *out;
	int r;

	out = calloc(1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	r = vd_output_init(&out->base, &hl_impl, loop, opts);
	if (r >= 0 && opts && opts->capture_dir) {
		r = capture_dir_check(opts->capture_dir);
		if (r < 0)
			vd_err("headless: capture directory %s: %s", opts->capture_dir,
			       strerror(-r));
		else if (!(out->capture_dir = strdup(opts->capture_dir)))
			r = -ENOMEM;
		out->capture_interval_us =
			(uint64_t)(opts->capture_interval_ms ? opts->capture_interval_ms
							     : DEFAULT_CAPTURE_INTERVAL_MS) *
			1000u;
	}
	if (r < 0) {
		hl_destroy(&out->base);
		return r;
	}
	*ret_out = &out->base;
	return 0;
}
