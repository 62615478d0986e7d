/* SPDX-License-Identifier: MIT */
/*
 * The headless output: connectors with a virtual vblank and no screen. It
 * makes the daemon testable without hardware, and with a capture directory
 * it shows what a guest displays as one PNG per connector.
 *
 * Timing: a connector's vblanks lie on a grid epoch + k * period, epoch
 * being its creation time. Each vblank completes at most one queued flip.
 * The vblank timer is armed only while flips are queued, so an idle
 * connector costs no wake-ups. refresh_mhz 0 completes one flip per loop
 * iteration instead.
 *
 * Memory: "direct" shows the guest's mapping itself (the view points into
 * it); "copy" (force_copy) copies the visible rows once per flip, when the
 * flip is queued, into buffers the connector owns: what is shown is the
 * frame as it was at flip time. Copy buffers are recycled through one
 * spare per connector, so steady double-buffered flipping allocates
 * nothing.
 *
 * Destroying an fb removes its image everywhere, in both modes: a
 * connector showing it goes blank, and a queued flip of it still completes
 * at its vblank, as a blank frame, with flip_done - the guest gets exactly
 * one event per accepted flip. Blank frames do not call frame_shown and do
 * not count in frames_shown.
 *
 * Callbacks may call back into the output, including conn_destroy of the
 * connector being dispatched: that is deferred until the dispatch returns.
 */
#include "output/headless.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/mman.h>

#include "log.h"
#include "output/png.h"

#define DEFAULT_CAPTURE_INTERVAL_MS 1000u
/* sd-event's timer slack; 0 would mean its default of 250 ms. */
#define TIMER_ACCURACY_US 1u

struct hl_output {
	struct vd_output base;
	sd_event *loop;      /* borrowed */
	bool force_copy;
	uint64_t period_us;  /* 0: complete flips at once */
	char *capture_dir;   /* owned; NULL: capture off */
	uint64_t capture_interval_us;
	struct vd_output_stats stats;
	struct hl_conn *conns;
	struct hl_fb *fbs;
};

struct hl_fb {
	struct vd_output_fb base;
	struct vd_frame_src src; /* borrowed guest memory: valid until fb_destroy */
	int dmabuf;              /* our reference to the buffer's dma-buf, or -1 */
	struct hl_fb *next, **pprev;
};

/* A copy buffer owned by a connector or by one of its queued flips. */
struct hl_buf {
	uint8_t *data;
	size_t cap;
};

struct hl_flip {
	struct hl_flip *next;
	struct hl_fb *fb;     /* NULL once the fb is destroyed: completes blank */
	struct vd_rect rect;  /* source rectangle when queued */
	struct hl_buf copy;   /* copy mode: the frame as it was at flip time */
	struct vd_frame_view view; /* copy mode: describes copy */
	uint64_t token;
};

struct hl_conn {
	struct vd_output_conn base;
	struct hl_output *out;
	struct hl_conn *next, **pprev;
	struct vd_output_conn_desc desc; /* desc.name is name */
	char *name;
	struct vd_rect rect;             /* source rectangle of the last set_config */

	struct hl_fb *fb;           /* shown fb; NULL: blank */
	struct vd_frame_view view;  /* what is shown, valid while fb != NULL */
	struct hl_buf shown, spare; /* copy mode */
	uint64_t seq;               /* frames shown so far */

	struct hl_flip *head, **tail;
	sd_event_source *vblank;
	uint64_t epoch_us;

	sd_event_source *capture; /* NULL: capture off */
	char *capture_path;
	bool capture_dirty; /* a new frame since the last capture */
	uint64_t capture_last_us;

	bool dispatching, destroyed;
};

static const struct vd_output_impl hl_impl;

static struct hl_output *hl_output_from(struct vd_output *out)
{
	assert(out->impl == &hl_impl);
	return (struct hl_output *)out;
}

static struct hl_conn *hl_conn_from(struct vd_output_conn *conn)
{
	assert(conn->out->impl == &hl_impl);
	return (struct hl_conn *)conn;
}

static struct hl_fb *hl_fb_from(struct vd_output_fb *fb)
{
	assert(fb->out->impl == &hl_impl);
	return (struct hl_fb *)fb;
}

static uint64_t loop_now(const struct hl_output *out)
{
	uint64_t now;

	if (sd_event_now(out->loop, CLOCK_MONOTONIC, &now) < 0)
		return vd_now_us();
	return now;
}

/* ---- frames and copy buffers ---- */

/* Take the spare buffer, grown to at least size. */
static int buf_take(struct hl_conn *conn, size_t size, struct hl_buf *ret)
{
	struct hl_buf b = conn->spare;
	uint8_t *p;

	if (b.cap < size) {
		p = realloc(b.data, size);
		if (!p)
			return -ENOMEM;
		b.data = p;
		b.cap = size;
	}
	conn->spare = (struct hl_buf){NULL, 0};
	*ret = b;
	return 0;
}

/* Hand back a buffer no longer needed: kept as the spare if larger. */
static void buf_give(struct hl_conn *conn, struct hl_buf *b)
{
	if (b->cap > conn->spare.cap) {
		free(conn->spare.data);
		conn->spare = *b;
	} else {
		free(b->data);
	}
	*b = (struct hl_buf){NULL, 0};
}

/* Copy the visible rows of src into a buffer from buf_take; only width*bpp/8 per row. */
static int frame_copy(struct hl_conn *conn, const struct vd_frame_view *src, struct hl_buf *ret,
		      struct vd_frame_view *ret_view)
{
	size_t row = (size_t)src->width * (src->bpp / 8);
	struct hl_buf b;
	int r;

	r = buf_take(conn, row * src->height, &b);
	if (r < 0)
		return r;
	for (uint32_t y = 0; y < src->height; y++)
		memcpy(b.data + y * row, src->pixels + (size_t)y * src->stride, row);
	conn->out->stats.copies++;
	conn->out->stats.bytes_copied += row * src->height;
	*ret_view = *src;
	ret_view->pixels = b.data;
	ret_view->stride = (uint32_t)row;
	*ret = b;
	return 0;
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

static void capture_write(struct hl_conn *conn)
{
	int r;

	conn->capture_dirty = false;
	conn->capture_last_us = loop_now(conn->out);
	if (!conn->fb)
		return;
	r = vd_png_write_canvas(conn->capture_path, &conn->view, conn->desc.width,
				conn->desc.height);
	if (r < 0)
		vd_log_rl(LOG_WARNING, "headless: capture %s: %s", conn->capture_path,
			  strerror(-r));
}

static int capture_handler(sd_event_source *s, uint64_t usec, void *userdata)
{
	capture_write(userdata);
	return 0;
}

/* A new frame is visible: capture it at most once per interval. */
static void capture_mark(struct hl_conn *conn)
{
	uint64_t at = conn->capture_last_us + conn->out->capture_interval_us;
	int enabled = SD_EVENT_OFF;

	if (!conn->capture)
		return;
	conn->capture_dirty = true;
	sd_event_source_get_enabled(conn->capture, &enabled);
	if (enabled != SD_EVENT_OFF)
		return;
	if (sd_event_source_set_time(conn->capture, at) < 0 ||
	    sd_event_source_set_enabled(conn->capture, SD_EVENT_ONESHOT) < 0)
		vd_log_rl(LOG_WARNING, "headless: cannot arm capture timer");
}

static int capture_init(struct hl_conn *conn)
{
	struct hl_output *out = conn->out;
	int r;

	if (!out->capture_dir)
		return 0;
	conn->capture_path = capture_path_new(out->capture_dir, conn->desc.name);
	if (!conn->capture_path)
		return -ENOMEM;
	r = sd_event_add_time(out->loop, &conn->capture, CLOCK_MONOTONIC, 0, TIMER_ACCURACY_US,
			      capture_handler, conn);
	if (r < 0)
		return r;
	return sd_event_source_set_enabled(conn->capture, SD_EVENT_OFF);
}

/* ---- showing frames ---- */

/* Take down what is shown; the copy buffer becomes the spare. */
static void conn_blank(struct hl_conn *conn)
{
	conn->fb = NULL;
	conn->view = (struct vd_frame_view){0};
	if (conn->shown.data)
		buf_give(conn, &conn->shown);
}

/*
 * Make view of fb visible; takes copy (may be empty in direct mode).
 * frame_shown is called last: it may destroy the connector.
 */
static void conn_show(struct hl_conn *conn, struct hl_fb *fb, const struct vd_frame_view *view,
		      struct hl_buf *copy)
{
	conn_blank(conn);
	conn->shown = *copy;
	*copy = (struct hl_buf){NULL, 0};
	conn->fb = fb;
	conn->view = *view;
	conn->view.seq = ++conn->seq;
	capture_mark(conn);
	if (conn->desc.frame_shown)
		conn->desc.frame_shown(conn->desc.userdata, &conn->view);
}

/* ---- vblank and flips ---- */

/*
 * Next grid point strictly after now; refresh 0: at once. The clock, not
 * the loop's cached iteration time: a flip queued after a long idle spell
 * must not land on a grid point that has already passed.
 */
static int vblank_arm(struct hl_conn *conn)
{
	uint64_t period = conn->out->period_us, next = 0, now;
	int r;

	if (period) {
		now = vd_now_us();
		if (now < conn->epoch_us)
			now = conn->epoch_us;
		next = conn->epoch_us + ((now - conn->epoch_us) / period + 1) * period;
	}
	r = sd_event_source_set_time(conn->vblank, next);
	if (r < 0)
		return r;
	return sd_event_source_set_enabled(conn->vblank, SD_EVENT_ONESHOT);
}

static struct hl_flip *flip_pop(struct hl_conn *conn)
{
	struct hl_flip *flip = conn->head;

	if (!flip)
		return NULL;
	conn->head = flip->next;
	if (!conn->head)
		conn->tail = &conn->head;
	return flip;
}

static void flips_drop(struct hl_conn *conn)
{
	struct hl_flip *flip;

	while ((flip = flip_pop(conn))) {
		free(flip->copy.data);
		free(flip);
	}
}

/* What the flip shows; false for a blank frame (fb destroyed, empty region). */
static bool flip_view(const struct hl_conn *conn, const struct hl_flip *flip,
		      struct vd_frame_view *ret)
{
	if (!flip->fb)
		return false;
	if (!conn->out->force_copy)
		return vd_frame_view_of(&flip->fb->src, &flip->rect, ret);
	if (!flip->copy.data)
		return false;
	*ret = flip->view;
	return true;
}

/* The flip's frame becomes visible, or the connector goes blank. */
static void flip_complete(struct hl_conn *conn, struct hl_flip *flip)
{
	struct vd_frame_view view;

	if (!flip_view(conn, flip, &view)) {
		conn_blank(conn);
		return;
	}
	conn->out->stats.frames_shown++;
	conn_show(conn, flip->fb, &view, &flip->copy);
}

static void conn_free(struct hl_conn *conn);

/* One vblank: complete the oldest flip. The callbacks may destroy conn. */
static int vblank_handler(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct hl_conn *conn = userdata;
	struct hl_flip *flip = flip_pop(conn);
	int r;

	if (!flip)
		return 0;
	r = conn->head ? vblank_arm(conn) : 0;
	if (r < 0)
		vd_err("headless %s: cannot arm vblank: %s", conn->name, strerror(-r));
	conn->dispatching = true;
	flip_complete(conn, flip);
	if (!conn->destroyed)
		conn->desc.flip_done(conn->desc.userdata, flip->token);
	conn->dispatching = false;
	free(flip->copy.data);
	free(flip);
	if (conn->destroyed)
		conn_free(conn);
	return 0;
}

static int hl_conn_flip(struct vd_output_conn *base, struct vd_output_fb *fb_base, uint64_t token)
{
	struct hl_conn *conn = hl_conn_from(base);
	struct vd_frame_view view;
	struct hl_flip *flip;
	int r;

	if (!fb_base)
		return -EINVAL;
	assert(fb_base->out == base->out);
	flip = calloc(1, sizeof(*flip));
	if (!flip)
		return -ENOMEM;
	flip->fb = hl_fb_from(fb_base);
	flip->rect = conn->rect;
	flip->token = token;
	if (conn->out->force_copy && vd_frame_view_of(&flip->fb->src, &flip->rect, &view)) {
		r = frame_copy(conn, &view, &flip->copy, &flip->view);
		if (r < 0)
			goto err_flip;
	}
	if (!conn->head) {
		r = vblank_arm(conn);
		if (r < 0)
			goto err_copy;
	}
	*conn->tail = flip;
	conn->tail = &flip->next;
	conn->out->stats.flips++;
	return 0;

err_copy:
	buf_give(conn, &flip->copy);
err_flip:
	free(flip);
	return r;
}

/* ---- configuration ---- */

/* r NULL: the window at 0,0. The new frame is visible at once; no flip_done. */
static int hl_conn_set_config(struct vd_output_conn *base, struct vd_output_fb *fb_base,
			      const struct vd_rect *r)
{
	struct hl_conn *conn = hl_conn_from(base);
	struct hl_buf copy = {NULL, 0};
	struct vd_frame_view view, shown;
	struct vd_rect whole;
	struct hl_fb *fb;
	int ret;

	if (!fb_base) {
		conn_blank(conn);
		return 0;
	}
	assert(fb_base->out == base->out);
	fb = hl_fb_from(fb_base);
	whole = (struct vd_rect){0, 0, conn->desc.width, conn->desc.height};
	if (!r)
		r = &whole;
	if (!vd_frame_view_of(&fb->src, r, &view))
		return -EINVAL;
	shown = view;
	if (conn->out->force_copy) {
		ret = frame_copy(conn, &view, &copy, &shown);
		if (ret < 0)
			return ret;
	}
	conn->rect = *r;
	conn_show(conn, fb, &shown, &copy);
	return 0;
}

static int hl_conn_screenshot(struct vd_output_conn *base, const char *path)
{
	struct hl_conn *conn = hl_conn_from(base);

	if (!conn->fb)
		return -ENODATA;
	return vd_png_write_canvas(path, &conn->view, conn->desc.width, conn->desc.height);
}

/* ---- connectors ---- */

/* Frees what conn owns; everything shared with the output is already undone. */
static void conn_free(struct hl_conn *conn)
{
	flips_drop(conn);
	sd_event_source_disable_unref(conn->vblank);
	sd_event_source_disable_unref(conn->capture);
	free(conn->shown.data);
	free(conn->spare.data);
	free(conn->capture_path);
	free(conn->name);
	free(conn);
}

/* Pending flips are dropped without flip_done; the capture gets a last write. */
static void hl_conn_destroy(struct vd_output_conn *base)
{
	struct hl_conn *conn;

	if (!base)
		return;
	conn = hl_conn_from(base);
	if (conn->capture && conn->capture_dirty)
		capture_write(conn);
	conn->vblank = sd_event_source_disable_unref(conn->vblank);
	conn->capture = sd_event_source_disable_unref(conn->capture);
	flips_drop(conn);
	VD_LIST_UNLINK(conn);
	conn->destroyed = true;
	if (!conn->dispatching)
		conn_free(conn);
}

static int conn_init(struct hl_conn *conn, const struct vd_output_conn_desc *desc)
{
	struct hl_output *out = conn->out;
	int r;

	conn->name = strdup(desc->name);
	if (!conn->name)
		return -ENOMEM;
	conn->desc.name = conn->name;
	conn->rect = (struct vd_rect){0, 0, desc->width, desc->height};
	conn->tail = &conn->head;
	conn->epoch_us = vd_now_us();
	r = sd_event_add_time(out->loop, &conn->vblank, CLOCK_MONOTONIC, 0, TIMER_ACCURACY_US,
			      vblank_handler, conn);
	if (r < 0)
		return r;
	r = sd_event_source_set_enabled(conn->vblank, SD_EVENT_OFF);
	if (r < 0)
		return r;
	return capture_init(conn);
}

static int hl_conn_create(struct vd_output *base, const struct vd_output_conn_desc *desc,
			  struct vd_output_conn **ret_conn)
{
	struct hl_output *out = hl_output_from(base);
	struct hl_conn *conn;
	int r;

	if (!desc->name || !desc->flip_done || !desc->width || !desc->height)
		return -EINVAL;
	conn = calloc(1, sizeof(*conn));
	if (!conn)
		return -ENOMEM;
	conn->base.out = base;
	conn->out = out;
	conn->desc = *desc;
	conn->desc.name = NULL;
	r = conn_init(conn, desc);
	if (r < 0) {
		conn_free(conn);
		return r;
	}
	VD_LIST_PUSH(&out->conns, conn);
	*ret_conn = &conn->base;
	return 0;
}

/* ---- framebuffers ---- */

/* Headless reads pixels: it needs the CPU map, and a known format's bpp. */
static bool src_valid(const struct vd_frame_src *s)
{
	uint32_t known = vd_png_format_bpp(s->fourcc);

	return vd_frame_src_valid(s, true) && (!known || known == s->bpp);
}

/* Headless needs CPU access: a dma-buf alone (map NULL) is -EINVAL. */
static int hl_fb_create(struct vd_output *base, const struct vd_frame_src *src,
			struct vd_output_fb **ret_fb)
{
	struct hl_output *out = hl_output_from(base);
	struct hl_fb *fb;

	if (!src_valid(src))
		return -EINVAL;
	fb = calloc(1, sizeof(*fb));
	if (!fb)
		return -ENOMEM;
	fb->base.out = base;
	fb->src = *src;
	/* Hold the dma-buf as an importer would: the DESTROY gate sees it. */
	fb->dmabuf = src->dmabuf_fd >= 0 ? fcntl(src->dmabuf_fd, F_DUPFD_CLOEXEC, 3) : -1;
	VD_LIST_PUSH(&out->fbs, fb);
	*ret_fb = &fb->base;
	return 0;
}

/* Drop every reference conn holds to fb. */
static void conn_forget_fb(struct hl_conn *conn, const struct hl_fb *fb)
{
	struct hl_flip *flip;

	if (conn->fb == fb)
		conn_blank(conn);
	for (flip = conn->head; flip; flip = flip->next) {
		if (flip->fb != fb)
			continue;
		flip->fb = NULL;
		if (flip->copy.data)
			buf_give(conn, &flip->copy);
	}
}

static void hl_fb_destroy(struct vd_output_fb *base)
{
	struct hl_output *out;
	struct hl_conn *conn;
	struct hl_fb *fb;

	if (!base)
		return;
	fb = hl_fb_from(base);
	out = hl_output_from(base->out);
	for (conn = out->conns; conn; conn = conn->next)
		conn_forget_fb(conn, fb);
	VD_LIST_UNLINK(fb);
	if (fb->dmabuf >= 0)
		close(fb->dmabuf);
	free(fb);
}

/* be-alloc: shared memory stands in for a dumb buffer; its fd is the dma-buf. */
static int hl_buffer_alloc(struct vd_output *base, uint64_t size, int *ret_fd, void **ret_map)
{
	return vd_output_shm_alloc(size, ret_fd, ret_map);
}

static void hl_buffer_free(struct vd_output *base, int fd, void *map, uint64_t size)
{
	vd_output_shm_free(fd, map, size);
}

/* ---- the output ---- */

static void hl_get_stats(struct vd_output *base, struct vd_output_stats *ret)
{
	*ret = hl_output_from(base)->stats;
}

static void hl_destroy(struct vd_output *base)
{
	struct hl_output *out = hl_output_from(base);

	while (out->conns)
		hl_conn_destroy(&out->conns->base);
	while (out->fbs)
		hl_fb_destroy(&out->fbs->base);
	free(out->capture_dir);
	free(out);
}

static const struct vd_output_impl hl_impl = {
	.name = "headless",
	.destroy = hl_destroy,
	.conn_create = hl_conn_create,
	.conn_destroy = hl_conn_destroy,
	.fb_create = hl_fb_create,
	.fb_destroy = hl_fb_destroy,
	.conn_set_config = hl_conn_set_config,
	.conn_flip = hl_conn_flip,
	.buffer_alloc = hl_buffer_alloc,
	.buffer_free = hl_buffer_free,
	.conn_screenshot = hl_conn_screenshot,
	.get_stats = hl_get_stats,
};

/* The directory must exist and be writable: fail at start-up, not at the first frame. */
static int capture_dir_init(struct hl_output *out, const struct vd_output_opts *opts)
{
	uint32_t ms = opts->capture_interval_ms ? opts->capture_interval_ms
						: DEFAULT_CAPTURE_INTERVAL_MS;

	if (!opts->capture_dir)
		return 0;
	if (access(opts->capture_dir, W_OK | X_OK) < 0)
		return -errno;
	out->capture_dir = strdup(opts->capture_dir);
	if (!out->capture_dir)
		return -ENOMEM;
	out->capture_interval_us = (uint64_t)ms * 1000u;
	return 0;
}

int vd_output_headless_create(sd_event *loop, const struct vd_output_opts *opts,
			      struct vd_output **ret_out)
{
	static const struct vd_output_opts defaults;
	struct hl_output *out;
	int r;

	if (!opts)
		opts = &defaults;
	out = calloc(1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	out->base.impl = &hl_impl;
	out->loop = loop;
	out->force_copy = opts->force_copy;
	if (opts->refresh_mhz)
		out->period_us = opts->refresh_mhz < 1000000000u ? 1000000000u / opts->refresh_mhz : 1;
	r = capture_dir_init(out, opts);
	if (r < 0) {
		vd_err("headless: capture directory %s: %s", opts->capture_dir, strerror(-r));
		free(out);
		return r;
	}
	*ret_out = &out->base;
	return 0;
}
