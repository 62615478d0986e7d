/* SPDX-License-Identifier: MIT */
/*
 * Connectors of the Wayland output: one xdg toplevel each, and their flips.
 *
 * A flip is committed when the previous one has completed: the guest's
 * frame is attached (its own wl_buffer when the dma-buf was imported, else
 * a copy in one of the connector's two wl_shm buffers), damaged and
 * committed with a frame callback. The callback completes it (flip_done);
 * so does the fallback timer if the compositor withholds the callback
 * (hidden or minimised surface, compositor asleep or gone). Without a
 * window the flip completes after a blind period instead. Either way each
 * accepted flip gets exactly one flip_done, in order.
 *
 * A wl_shm buffer is written only when the compositor has released it; if
 * both are still held the frame is dropped (counted) and the flip still
 * completes.
 */
#include "output/wayland/wl_priv.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "ivi-application-client-protocol.h"
#include "output/png.h"
#include "xdg-shell-client-protocol.h"

static struct wlo_conn *wlo_conn_from(struct vd_output_conn *conn)
{
	(void)wlo_output_from(conn->out); /* checks the implementation */
	return (struct wlo_conn *)conn;
}

/* ---- wl_shm buffers ---- */

static void conn_redraw(struct wlo_conn *conn);

static void shmbuf_release(void *data, struct wl_buffer *buffer)
{
	struct wlo_shmbuf *b = data;

	b->busy = false;
	if (b->conn->starved) {
		b->conn->starved = false;
		wlo_conn_kick(&b->conn->base);
	}
	if (b->conn->stale)
		conn_redraw(b->conn);
}

static const struct wl_buffer_listener shmbuf_listener = {
	.release = shmbuf_release,
};

static void shmbuf_destroy(struct wlo_shmbuf *b)
{
	if (b->buffer)
		wl_buffer_destroy(b->buffer);
	if (b->map)
		munmap(b->map, b->size);
	*b = (struct wlo_shmbuf){0};
}

/*
 * A buffer of the connector's size in format (bpp bits a pixel, rows
 * 4-byte aligned as pixman wants); owns its memfd only while making it.
 */
static int shmbuf_create(struct wlo_conn *conn, struct wlo_shmbuf *b, uint32_t format,
			 uint32_t bpp)
{
	uint32_t stride = ((conn->base.desc.width * bpp / 8) + 3) & ~3u;
	size_t size = (size_t)stride * conn->base.desc.height;
	struct wl_shm_pool *pool;
	int fd, r = 0;

	fd = memfd_create("vdispld-wl-shm", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		r = -errno;
		goto close_fd;
	}
	b->map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (b->map == MAP_FAILED) {
		b->map = NULL;
		r = -errno;
		goto close_fd;
	}
	pool = wl_shm_create_pool(conn->out->shm, fd, (int32_t)size);
	b->buffer = wl_shm_pool_create_buffer(pool, 0, (int32_t)conn->base.desc.width,
					      (int32_t)conn->base.desc.height, (int32_t)stride, format);
	wl_shm_pool_destroy(pool);
	wl_buffer_add_listener(b->buffer, &shmbuf_listener, b);
	b->conn = conn;
	b->size = size;
	b->stride = stride;
	b->format = format;
	b->bpp = bpp;
close_fd:
	close(fd);
	return r;
}

/* A buffer the compositor does not hold, made or remade for format; NULL if none. */
static struct wlo_shmbuf *shmbuf_get(struct wlo_conn *conn, uint32_t format, uint32_t bpp)
{
	for (uint32_t i = 0; i < WLO_NBUF; i++) {
		struct wlo_shmbuf *b = &conn->bufs[i];

		if (b->busy)
			continue;
		if (b->buffer && (b->format != format || b->bpp != bpp))
			shmbuf_destroy(b);
		if (!b->buffer && shmbuf_create(conn, b, format, bpp) < 0) {
			shmbuf_destroy(b);
			return NULL;
		}
		return b;
	}
	return NULL;
}

/*
 * Copy the part r of fb (clipped) into b, as is or converted (how); the
 * rest of b is black.
 */
static void frame_copy(struct wlo_conn *conn, struct wlo_shmbuf *b, const struct wlo_fb *fb,
		       const struct vd_rect *r, const struct wlo_shm_choice *how)
{
	const struct vd_frame_src *s = &fb->base.src;
	struct vd_rect c;
	uint32_t w, h, row;

	memset(b->map, 0, b->size);
	if (!vd_rect_clip(r, s->width, s->height, &c))
		return;
	w = c.width;
	h = c.height;
	if (w > conn->base.desc.width)
		w = conn->base.desc.width;
	if (h > conn->base.desc.height)
		h = conn->base.desc.height;
	row = w * (b->bpp / 8);
	for (uint32_t y = 0; y < h; y++) {
		const uint8_t *src = (const uint8_t *)s->map + s->offset + (size_t)(r->y + y) * s->stride;
		uint8_t *dst = b->map + (size_t)y * b->stride;

		if (how->convert)
			wlo_convert_row(s->fourcc, src, s->width, r->x, w, (uint32_t *)(void *)dst);
		else
			memcpy(dst, src + (size_t)r->x * (s->bpp / 8), row);
	}
	vd_output_count_copy(&conn->out->base, (uint64_t)row * h);
	if (how->convert)
		conn->out->conversions++;
}

/* ---- drawing ---- */

static bool window_ready(const struct wlo_conn *conn)
{
	return conn->surface && conn->configured;
}

/* The wl_buffer showing fb's part r: its own (zero copy) or a copy; NULL: none free. */
static struct wl_buffer *frame_buffer(struct wlo_conn *conn, struct wlo_fb *fb,
				      const struct vd_rect *r)
{
	struct wlo_output *out = conn->out;
	struct wlo_shm_choice how = {WL_SHM_FORMAT_XRGB8888, 32, false};
	struct wlo_shmbuf *b;

	if (fb && fb->import == WLO_IMPORT_OK && !out->force_copy && r->x == 0 && r->y == 0 &&
	    fb->base.src.width == conn->base.desc.width && fb->base.src.height == conn->base.desc.height) {
		conn->attached_dmabuf = fb;
		out->zero_copy++;
		return fb->buffer;
	}
	if (fb && (!fb->base.src.map || wlo_shm_choose(out->shm_formats, out->nshm_formats,
						  fb->base.src.fourcc, fb->base.src.bpp, &how) < 0)) {
		vd_log_rl(LOG_WARNING, "wayland %s: cannot show format %#x", conn->base.desc.name,
			  fb->base.src.fourcc);
		fb = NULL;
		how = (struct wlo_shm_choice){WL_SHM_FORMAT_XRGB8888, 32, false};
	}
	b = shmbuf_get(conn, how.format, how.bpp);
	if (!b)
		return NULL;
	if (fb)
		frame_copy(conn, b, fb, r, &how);
	else
		memset(b->map, 0, b->size);
	b->busy = true;
	conn->attached_dmabuf = NULL;
	return b->buffer;
}

static void frame_done(void *data, struct wl_callback *cb, uint32_t time);

static const struct wl_callback_listener frame_listener = {
	.done = frame_done,
};

/* Attach what the connector shows now and commit; a frame callback if asked. */
static bool conn_draw(struct wlo_conn *conn, bool want_frame)
{
	struct wl_buffer *buffer = frame_buffer(conn, (struct wlo_fb *)conn->base.cur.fb,
						&conn->base.cur.window);

	if (!buffer)
		return false;
	wl_surface_attach(conn->surface, buffer, 0, 0);
	wl_surface_damage_buffer(conn->surface, 0, 0, INT32_MAX, INT32_MAX);
	if (want_frame) {
		conn->frame_cb = wl_surface_frame(conn->surface);
		wl_callback_add_listener(conn->frame_cb, &frame_listener, conn);
	}
	wl_surface_commit(conn->surface);
	conn->stale = false;
	return true;
}

/*
 * Show what the connector shows now (set_config, blanking) without a flip.
 * A flip in flight will show it when it completes; with no free buffer it
 * is done when the compositor releases one.
 */
static void conn_redraw(struct wlo_conn *conn)
{
	conn->stale = false;
	if (!window_ready(conn) || conn->base.taken)
		return;
	if (!conn_draw(conn, false))
		conn->stale = true;
}

/* ---- flips ---- */

static void frame_done(void *data, struct wl_callback *cb, uint32_t time)
{
	struct wlo_conn *conn = data;

	conn->out->callbacks++;
	wl_callback_destroy(conn->frame_cb);
	conn->frame_cb = NULL;
	vd_output_conn_presented(&conn->base, true);
	wlo_conn_kick(&conn->base);
}

/*
 * The core: conn has a queued flip or a new picture. One frame at a time
 * is committed; the next waits for its frame callback (or the watchdog).
 * Without a window the core completes the flips (blind).
 */
void wlo_conn_kick(struct vd_output_conn *base)
{
	struct wlo_conn *conn = wlo_conn_from(base);

	if (base->destroyed || base->taken)
		return;
	if (!window_ready(conn) || conn->starved) {
		vd_output_conn_set_blind(base, true);
		return;
	}
	vd_output_conn_set_blind(base, false);
	if (!vd_output_conn_has_queued(base)) {
		if (conn->stale)
			conn_redraw(conn);
		return;
	}
	vd_output_conn_take(base);
	if (conn_draw(conn, true))
		return;
	/* both buffers held: this frame is not shown; blind until one comes back */
	conn->out->dropped++;
	conn->starved = true;
	vd_output_conn_presented(base, false);
	vd_output_conn_set_blind(base, true);
}

/* The core's watchdog: the compositor withholds the frame callback (hidden surface). */
void wlo_conn_late(struct vd_output_conn *base)
{
	struct wlo_conn *conn = wlo_conn_from(base);

	conn->out->fallbacks++;
	if (conn->frame_cb)
		wl_callback_destroy(conn->frame_cb);
	conn->frame_cb = NULL;
	wlo_conn_kick(base);
}

void wlo_conn_forget_fb(struct wlo_conn *conn, const struct wlo_fb *fb)
{
	if (conn->attached_dmabuf != fb)
		return;
	conn->attached_dmabuf = NULL;
	if (window_ready(conn)) {
		conn->stale = true;
		if (!conn->base.taken)
			conn_redraw(conn);
	}
}

/* ---- windows ---- */

static void xdg_surface_configure(void *data, struct xdg_surface *xs, uint32_t serial)
{
	struct wlo_conn *conn = data;
	bool first = !conn->configured;

	xdg_surface_ack_configure(xs, serial);
	conn->configured = true;
	/* The first buffer maps the window; later configures change nothing we draw. */
	if (first) {
		conn_redraw(conn);
		wlo_conn_kick(&conn->base);
	}
}

static const struct xdg_surface_listener xdg_surface_listener = {
	.configure = xdg_surface_configure,
};

static void toplevel_configure(void *data, struct xdg_toplevel *t, int32_t w, int32_t h,
			       struct wl_array *states)
{
}

static void toplevel_close(void *data, struct xdg_toplevel *t)
{
	struct wlo_conn *conn = data;

	/* The guest owns the connector; closing its window is not ours to do. */
	vd_log_rl(LOG_NOTICE, "wayland %s: the compositor asked to close the window; ignored",
		  conn->base.desc.name);
}

static const struct xdg_toplevel_listener toplevel_listener = {
	.configure = toplevel_configure,
	.close = toplevel_close,
};

/* s as an IVI id: 1 and the id (0: out of range), or 0 if s is no decimal number. */
static int ivi_number(const char *s, uint32_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || s[0] < '0' || s[0] > '9')
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return 0;
	*ret = errno || v == 0 || v > UINT32_MAX ? 0 : (uint32_t)v;
	return 1;
}

uint32_t wlo_ivi_id(const char *mapping, const char *unique_id, uint32_t domid, uint32_t index)
{
	uint32_t id;

	if (ivi_number(mapping, &id))
		return id;
	/* A mapping that is a name or a rectangle says where, not which id: the unique-id may. */
	if ((!mapping || !mapping[0]) && ivi_number(unique_id, &id))
		return id;
	return WLO_IVI_ID_BASE + domid * 100u + index;
}

static void ivi_configure(void *data, struct ivi_surface *s, int32_t w, int32_t h)
{
	struct wlo_conn *conn = data;

	/* The guest's resolution is the buffer size; the controller scales if it wants. */
	vd_debug("wayland %s: the IVI controller suggests %dx%d", conn->base.desc.name, w, h);
}

static const struct ivi_surface_listener ivi_surface_listener = {
	.configure = ivi_configure,
};

/* Another of our connectors has the id: asking for it again is a protocol error. */
static bool ivi_id_taken(const struct wlo_conn *conn)
{
	const struct vd_output_conn *b;

	vd_output_for_each_conn(b, &conn->out->base) {
		const struct wlo_conn *c = (const struct wlo_conn *)b;

		if (c != conn && c->ivi_surface && c->ivi_id == conn->ivi_id)
			return true;
	}
	return false;
}

/*
 * An IVI surface needs no configure: it can show a buffer at once. Where
 * it goes is the compositor's layout controller's business.
 */
static bool window_create_ivi(struct wlo_conn *conn)
{
	struct wlo_output *out = conn->out;

	if (!conn->ivi_id || ivi_id_taken(conn)) {
		vd_log_rl(LOG_WARNING, "wayland %s: IVI surface id %" PRIu32 " %s; %s", conn->base.desc.name,
			  conn->ivi_id, conn->ivi_id ? "is taken" : "is invalid",
			  out->wm_base ? "using xdg-shell" : "no window");
		return false;
	}
	conn->ivi_surface = ivi_application_surface_create(out->ivi_application, conn->ivi_id,
							    conn->surface);
	ivi_surface_add_listener(conn->ivi_surface, &ivi_surface_listener, conn);
	vd_info("wayland %s: IVI surface id %" PRIu32, conn->base.desc.name, conn->ivi_id);
	conn->configured = true;
	conn_redraw(conn);
	wlo_conn_kick(&conn->base);
	return true;
}

void wlo_conn_window_create(struct wlo_conn *conn)
{
	struct wlo_output *out = conn->out;

	if (conn->surface || !out->ready)
		return;
	conn->surface = wl_compositor_create_surface(out->compositor);
	if (out->ivi_application && window_create_ivi(conn))
		return;
	if (!out->wm_base)
		return; /* a surface without a role: never shown, flips complete by the timer */
	conn->xdg_surface = xdg_wm_base_get_xdg_surface(out->wm_base, conn->surface);
	xdg_surface_add_listener(conn->xdg_surface, &xdg_surface_listener, conn);
	conn->toplevel = xdg_surface_get_toplevel(conn->xdg_surface);
	xdg_toplevel_add_listener(conn->toplevel, &toplevel_listener, conn);
	xdg_toplevel_set_title(conn->toplevel, conn->base.desc.name);
	xdg_toplevel_set_app_id(conn->toplevel, "vdispld");
	xdg_toplevel_set_min_size(conn->toplevel, (int32_t)conn->base.desc.width,
				  (int32_t)conn->base.desc.height);
	xdg_toplevel_set_max_size(conn->toplevel, (int32_t)conn->base.desc.width,
				  (int32_t)conn->base.desc.height);
	if (conn->fullscreen) {
		struct wlo_head *h = wlo_head_find(out, conn->fullscreen);

		if (h)
			xdg_toplevel_set_fullscreen(conn->toplevel, h->output);
		else
			vd_log_rl(LOG_WARNING, "wayland %s: no output named %s; not fullscreen",
				  conn->base.desc.name, conn->fullscreen);
	}
	wl_surface_commit(conn->surface);
}

/* Local only: the compositor frees its side of the objects itself. */
void wlo_conn_window_destroy(struct wlo_conn *conn)
{
	if (conn->frame_cb)
		wl_callback_destroy(conn->frame_cb);
	conn->frame_cb = NULL;
	/* A flip in flight keeps its fallback timer: it completes on time. */
	for (uint32_t i = 0; i < WLO_NBUF; i++)
		shmbuf_destroy(&conn->bufs[i]);
	if (conn->ivi_surface)
		ivi_surface_destroy(conn->ivi_surface);
	if (conn->toplevel)
		xdg_toplevel_destroy(conn->toplevel);
	if (conn->xdg_surface)
		xdg_surface_destroy(conn->xdg_surface);
	if (conn->surface)
		wl_surface_destroy(conn->surface);
	conn->ivi_surface = NULL;
	conn->toplevel = NULL;
	conn->xdg_surface = NULL;
	conn->surface = NULL;
	conn->configured = false;
	conn->attached_dmabuf = NULL;
	conn->starved = false;
	vd_output_conn_set_blind(&conn->base, true);
}

/* ---- connectors ---- */

void wlo_conn_finish(struct vd_output_conn *base)
{
	struct wlo_conn *conn = wlo_conn_from(base);

	wlo_conn_window_destroy(conn);
	if (conn->out->display)
		wl_display_flush(conn->out->display);
	free(conn->fullscreen);
	conn->fullscreen = NULL;
}

int wlo_conn_init(struct vd_output_conn *base, const struct vd_output_conn_desc *desc)
{
	struct wlo_conn *conn = wlo_conn_from(base);

	if (desc->width > 16384 || desc->height > 16384)
		return -EINVAL;
	conn->out = wlo_output_from(base->out);
	conn->ivi_id = wlo_ivi_id(desc->mapping, desc->target, desc->domid, desc->index);
	/* A name (not an IVI id, not a rectangle): the output to be fullscreen on. */
	if (desc->mapping && desc->mapping[0] && !strchr(desc->mapping, ',') &&
	    !(desc->mapping[0] >= '0' && desc->mapping[0] <= '9')) {
		conn->fullscreen = strdup(desc->mapping);
		if (!conn->fullscreen)
			return -ENOMEM;
	}
	wlo_conn_window_create(conn);
	if (!window_ready(conn))
		vd_output_conn_set_blind(base, true);
	return 0;
}
