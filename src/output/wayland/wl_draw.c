/* SPDX-License-Identifier: MIT */
/*
 * What a connector's window shows, and the wl_shm buffers that carry it.
 *
 * Scaled windows (the compositor offers wp_viewporter and
 * wl_subcompositor): the window's own surface is one black pixel stretched
 * to the window's size (the compositor's, not the guest's), and the
 * picture is a synchronized subsurface above it, placed and scaled by
 * wlo_fit (aspect kept, centred). Its buffer holds only the part of the
 * connector's window that lies inside the guest's fb, and where the window
 * shows the picture at less than half its size only every step-th pixel:
 * a buffer is never much bigger than what is on screen, and nothing is
 * cleared (the black around is the black pixel's). A dma-buf the
 * compositor imported is shown as it is, the viewport cutting out the
 * connector's window (zero copy for any window).
 *
 * Plain windows (no viewporter): the window is the connector's size and
 * so are its buffers; the picture sits at the top-left with black around
 * it, and each buffer remembers where it holds pixels, so a frame clears
 * only what the last frame in that buffer drew and this one does not.
 */
#include "output/wayland/wl_priv.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <drm_fourcc.h>

#include "log.h"
#include "viewporter-client-protocol.h"

bool wlo_scaled(const struct wlo_output *out)
{
	return out->viewporter && out->subcompositor;
}

/* ---- wl_shm buffers ---- */

static void shmbuf_release(void *data, struct wl_buffer *buffer)
{
	struct wlo_shmbuf *b = data;

	b->busy = false;
	if (b->conn->starved) {
		b->conn->starved = false;
		wlo_conn_kick(&b->conn->base);
	}
	if (b->conn->stale)
		wlo_conn_kick(&b->conn->base);
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

/* Most wl_shm bytes conn holds: the output's high-water mark. */
static void shm_account(struct wlo_conn *conn)
{
	uint64_t bytes = 0;

	for (uint32_t i = 0; i < WLO_NBUF; i++)
		bytes += conn->bufs[i].size;
	if (bytes > conn->out->shm_peak)
		conn->out->shm_peak = bytes;
}

/*
 * A w x h buffer in format (bpp bits a pixel, rows 4-byte aligned as
 * pixman wants), all black; owns its memfd only while making it.
 */
static int shmbuf_create(struct wlo_conn *conn, struct wlo_shmbuf *b, uint32_t format,
			 uint32_t bpp, uint32_t w, uint32_t h)
{
	uint32_t stride = ((w * bpp / 8) + 3) & ~3u;
	size_t size = (size_t)stride * h;
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
	b->buffer = wl_shm_pool_create_buffer(pool, 0, (int32_t)w, (int32_t)h, (int32_t)stride,
					      format);
	wl_shm_pool_destroy(pool);
	wl_buffer_add_listener(b->buffer, &shmbuf_listener, b);
	b->conn = conn;
	b->size = size;
	b->width = w;
	b->height = h;
	b->stride = stride;
	b->format = format;
	b->bpp = bpp;
close_fd:
	close(fd);
	return r;
}

/* A w x h buffer the compositor does not hold, made or remade as asked; NULL if none. */
static struct wlo_shmbuf *shmbuf_get(struct wlo_conn *conn, const struct wlo_shm_choice *how,
				     uint32_t w, uint32_t h)
{
	for (uint32_t i = 0; i < WLO_NBUF; i++) {
		struct wlo_shmbuf *b = &conn->bufs[i];

		if (b->busy)
			continue;
		if (b->buffer && (b->format != how->format || b->bpp != how->bpp ||
				  b->width != w || b->height != h))
			shmbuf_destroy(b);
		if (!b->buffer) {
			if (shmbuf_create(conn, b, how->format, how->bpp, w, h) < 0) {
				shmbuf_destroy(b);
				return NULL;
			}
			shm_account(conn);
		}
		return b;
	}
	return NULL;
}

static void fill_black(struct wlo_shmbuf *b, const struct vd_rect *r)
{
	size_t px = b->bpp / 8;

	for (uint32_t y = 0; y < r->height; y++)
		memset(b->map + (size_t)(r->y + y) * b->stride + r->x * px, 0, r->width * px);
}

/* Every step-th pixel of one row, of px bytes each, from pixel x0 of src. */
static void copy_row_step(uint8_t *dst, const uint8_t *src, uint32_t x0, uint32_t n, uint32_t step,
			  uint32_t px)
{
	if (step == 1) {
		memcpy(dst, src + (size_t)x0 * px, (size_t)n * px);
		return;
	}
	if (px == 4) { /* the common case, without a call per pixel */
		for (uint32_t i = 0; i < n; i++) {
			uint32_t v;

			memcpy(&v, src + ((size_t)x0 + (size_t)i * step) * 4, 4);
			memcpy(dst + (size_t)i * 4, &v, 4);
		}
		return;
	}
	for (uint32_t i = 0; i < n; i++)
		memcpy(dst + (size_t)i * px, src + ((size_t)x0 + (size_t)i * step) * px, px);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Every step-th pixel of fb's rectangle c (inside fb), as is or converted
 * (how), into b from its top-left; b is at least that big.
 */
static void copy_part(struct wlo_conn *conn, struct wlo_shmbuf *b, const struct wlo_fb *fb,
		      const struct vd_rect *c, uint32_t step, const struct wlo_shm_choice *how)
{
	const struct vd_frame_src *s = &fb->base.src;
	uint32_t w = (c->width + step - 1) / step, h = (c->height + step - 1) / step;
	uint32_t px = b->bpp / 8;
	uint64_t t0 = mono_ns();

	for (uint32_t y = 0; y < h; y++) {
		const uint8_t *src = (const uint8_t *)s->map + s->offset +
				     ((size_t)c->y + (size_t)y * step) * s->stride;
		uint8_t *dst = b->map + (size_t)y * b->stride;

		if (!how->convert) {
			copy_row_step(dst, src, c->x, w, step, px);
			continue;
		}
		for (uint32_t i = 0; i < w; i++) {
			uint32_t v = wlo_convert_px(s->fourcc, src, s->width, c->x + i * step);

			memcpy(dst + 4 * (size_t)i, &v, 4);
		}
	}
	conn->out->copy_ns += mono_ns() - t0;
	vd_output_count_copy(&conn->out->base, (uint64_t)w * px * h);
	if (how->convert)
		conn->out->conversions++;
}

/*
 * How fb goes into a wl_shm buffer read every step-th pixel; false: it
 * cannot (no CPU map, a format we cannot show), logged.
 */
static bool shm_choice(struct wlo_conn *conn, struct wlo_fb *fb, uint32_t step,
		       struct wlo_shm_choice *ret)
{
	const struct wlo_output *out = conn->out;
	const struct vd_frame_src *s = &fb->base.src;

	if (!vd_output_fb_map(&fb->base) ||
	    wlo_shm_choose(out->shm_formats, out->nshm_formats, s->fourcc, s->bpp, ret) < 0) {
		vd_log_rl(LOG_WARNING, "wayland %s: cannot show format %#x", conn->base.desc.name,
			  s->fourcc);
		return false;
	}
	/* YUYV pairs share chroma: picking pixels apart breaks the pairs. */
	if (step > 1 && !ret->convert && s->fourcc == DRM_FORMAT_YUYV)
		*ret = (struct wlo_shm_choice){WL_SHM_FORMAT_XRGB8888, 32, true};
	return true;
}

/* fb's rectangle of the connector's window (clipped to fb), if anything of it shows. */
static bool frame_part(struct wlo_conn *conn, const struct wlo_fb *fb, struct vd_rect *ret)
{
	return fb && vd_rect_clip(&conn->base.cur.window, fb->base.src.width, fb->base.src.height,
				  ret);
}

static bool zero_copy(const struct wlo_conn *conn, const struct wlo_fb *fb)
{
	return fb->import == WLO_IMPORT_OK && !conn->out->force_copy;
}

/* ---- plain windows: the connector's size, no scaling ---- */

/* b shows part c of fb at its top-left (nothing: c NULL), black elsewhere. */
static void plain_fill(struct wlo_conn *conn, struct wlo_shmbuf *b, const struct wlo_fb *fb,
		       const struct vd_rect *c, const struct wlo_shm_choice *how)
{
	struct vd_rect now = {0, 0, c ? c->width : 0, c ? c->height : 0}, gone[4];
	uint32_t n;

	/* the window is the connector's size, so c fits; only what now leaves black is cleared */
	n = wlo_rect_minus(&b->drawn, &now, gone);
	for (uint32_t i = 0; i < n; i++)
		fill_black(b, &gone[i]);
	if (c)
		copy_part(conn, b, fb, c, 1, how);
	b->drawn = now;
}

static bool draw_plain(struct wlo_conn *conn, struct wlo_fb *fb)
{
	struct wlo_shm_choice how = {WL_SHM_FORMAT_XRGB8888, 32, false};
	const struct vd_output_conn_desc *d = &conn->base.desc;
	struct vd_rect c;
	struct wlo_shmbuf *b;
	bool part = frame_part(conn, fb, &c);

	if (part && zero_copy(conn, fb) && c.x == 0 && c.y == 0 &&
	    fb->base.src.width == d->width && fb->base.src.height == d->height) {
		conn->attached_dmabuf = fb;
		conn->out->zero_copy++;
		wl_surface_attach(conn->surface, fb->buffer, 0, 0);
		wl_surface_damage_buffer(conn->surface, 0, 0, INT32_MAX, INT32_MAX);
		return true;
	}
	if (part && !shm_choice(conn, fb, 1, &how))
		part = false;
	b = shmbuf_get(conn, &how, d->width, d->height);
	if (!b)
		return false;
	plain_fill(conn, b, fb, part ? &c : NULL, &how);
	b->busy = true;
	conn->attached_dmabuf = NULL;
	wl_surface_attach(conn->surface, b->buffer, 0, 0);
	wl_surface_damage_buffer(conn->surface, 0, 0, INT32_MAX, INT32_MAX);
	return true;
}

/* ---- scaled windows: a black pixel and the picture's subsurface ---- */

/*
 * 3x3 black pixels (XRGB8888 zero: a new memfd is zeros), shared by every
 * window, of which the middle one is stretched over the window: a
 * renderer whose fixed-point scale overshoots the source (wlroots' pixman
 * renderer stretching one pixel to 480 rows does) then still samples
 * black, not the transparent outside of the buffer.
 */
static struct wl_buffer *black_pixel(struct wlo_output *out)
{
	struct wl_shm_pool *pool;
	int fd;

	if (out->black)
		return out->black;
	fd = memfd_create("vdispld-wl-black", MFD_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (ftruncate(fd, 36) == 0) {
		pool = wl_shm_create_pool(out->shm, fd, 36);
		out->black = wl_shm_pool_create_buffer(pool, 0, 3, 3, 12, WL_SHM_FORMAT_XRGB8888);
		wl_shm_pool_destroy(pool);
	}
	close(fd);
	return out->black;
}

void wlo_draw_init(struct wlo_conn *conn)
{
	struct wlo_output *out = conn->out;
	struct wl_region *none;

	if (!wlo_scaled(out))
		return;
	conn->bg_viewport = wp_viewporter_get_viewport(out->viewporter, conn->surface);
	conn->pic = wl_compositor_create_surface(out->compositor);
	/* Input goes to the window (wl_seat.c maps it), never to the picture. */
	none = wl_compositor_create_region(out->compositor);
	wl_surface_set_input_region(conn->pic, none);
	wl_region_destroy(none);
	conn->pic_sub = wl_subcompositor_get_subsurface(out->subcompositor, conn->pic, conn->surface);
	conn->pic_viewport = wp_viewporter_get_viewport(out->viewporter, conn->pic);
}

/* The window's black pixel covers its current size. */
static bool draw_background(struct wlo_conn *conn)
{
	struct wl_buffer *black;

	if (conn->bg_w == conn->win_w && conn->bg_h == conn->win_h)
		return true;
	black = black_pixel(conn->out);
	if (!black)
		return false;
	wl_surface_attach(conn->surface, black, 0, 0);
	wl_surface_damage_buffer(conn->surface, 0, 0, 3, 3);
	wp_viewport_set_source(conn->bg_viewport, wl_fixed_from_int(1), wl_fixed_from_int(1),
			       wl_fixed_from_int(1), wl_fixed_from_int(1));
	wp_viewport_set_destination(conn->bg_viewport, (int32_t)conn->win_w, (int32_t)conn->win_h);
	conn->bg_w = conn->win_w;
	conn->bg_h = conn->win_h;
	return true;
}

static void pic_unmap(struct wlo_conn *conn)
{
	conn->attached_dmabuf = NULL;
	if (!conn->pic_mapped)
		return;
	wl_surface_attach(conn->pic, NULL, 0, 0);
	wl_surface_commit(conn->pic);
	conn->pic_mapped = false;
}

/* pic shows buffer's src (buffer pixels) at dest of the window. */
static void pic_show(struct wlo_conn *conn, struct wl_buffer *buffer, const struct vd_rect *src,
		     const struct vd_rect *dest)
{
	wl_surface_attach(conn->pic, buffer, 0, 0);
	wl_surface_damage_buffer(conn->pic, 0, 0, INT32_MAX, INT32_MAX);
	wp_viewport_set_source(conn->pic_viewport, wl_fixed_from_int((int32_t)src->x),
			       wl_fixed_from_int((int32_t)src->y), wl_fixed_from_int((int32_t)src->width),
			       wl_fixed_from_int((int32_t)src->height));
	wp_viewport_set_destination(conn->pic_viewport, (int32_t)dest->width, (int32_t)dest->height);
	if (!conn->pic_mapped || dest->x != conn->pic_dest.x || dest->y != conn->pic_dest.y)
		wl_subsurface_set_position(conn->pic_sub, (int32_t)dest->x, (int32_t)dest->y);
	wl_surface_commit(conn->pic);
	conn->pic_dest = *dest;
	conn->pic_mapped = true;
}

static bool draw_scaled(struct wlo_conn *conn, struct wlo_fb *fb)
{
	const struct vd_output_conn_desc *d = &conn->base.desc;
	const struct vd_rect *win = &conn->base.cur.window;
	struct wlo_shm_choice how;
	struct vd_rect c, part, all;
	struct wlo_place p;
	struct wlo_shmbuf *b;

	if (!draw_background(conn))
		return false;
	if (!frame_part(conn, fb, &c)) {
		pic_unmap(conn);
		return true;
	}
	/* the window starts inside fb: the part is at the connector's top-left */
	part = (struct vd_rect){c.x - win->x, c.y - win->y, c.width, c.height};
	wlo_fit(conn->win_w, conn->win_h, d->width, d->height, &part, &p);
	if (zero_copy(conn, fb)) {
		conn->attached_dmabuf = fb;
		conn->out->zero_copy++;
		pic_show(conn, fb->buffer, &c, &p.dest);
		return true;
	}
	if (!shm_choice(conn, fb, p.step, &how)) {
		pic_unmap(conn);
		return true;
	}
	b = shmbuf_get(conn, &how, p.buf_w, p.buf_h);
	if (!b)
		return false;
	copy_part(conn, b, fb, &c, p.step, &how);
	b->busy = true;
	conn->attached_dmabuf = NULL;
	all = (struct vd_rect){0, 0, p.buf_w, p.buf_h};
	pic_show(conn, b->buffer, &all, &p.dest);
	return true;
}

bool wlo_draw(struct wlo_conn *conn)
{
	struct wlo_fb *fb = (struct wlo_fb *)conn->base.cur.fb;

	return wlo_scaled(conn->out) && conn->pic ? draw_scaled(conn, fb) : draw_plain(conn, fb);
}

void wlo_draw_finish(struct wlo_conn *conn)
{
	for (uint32_t i = 0; i < WLO_NBUF; i++)
		shmbuf_destroy(&conn->bufs[i]);
	if (conn->pic_viewport)
		wp_viewport_destroy(conn->pic_viewport);
	if (conn->pic_sub)
		wl_subsurface_destroy(conn->pic_sub);
	if (conn->pic)
		wl_surface_destroy(conn->pic);
	if (conn->bg_viewport)
		wp_viewport_destroy(conn->bg_viewport);
	conn->pic_viewport = NULL;
	conn->pic_sub = NULL;
	conn->pic = NULL;
	conn->bg_viewport = NULL;
	conn->pic_mapped = false;
	conn->bg_w = conn->bg_h = 0;
}

/* ---- input ---- */

void wlo_conn_to_connector(const struct wlo_conn *conn, wl_fixed_t x, wl_fixed_t y,
			   int32_t *ret_x, int32_t *ret_y)
{
	const struct vd_output_conn_desc *d = &conn->base.desc;
	struct vd_rect all = {0, 0, d->width, d->height};
	double fx = wl_fixed_to_double(x), fy = wl_fixed_to_double(y);
	struct wlo_place p;
	int64_t gx, gy;

	if (conn->pic && conn->win_w && conn->win_h) {
		wlo_fit(conn->win_w, conn->win_h, d->width, d->height, &all, &p);
		fx = (fx - p.outer.x) * d->width / p.outer.width;
		fy = (fy - p.outer.y) * d->height / p.outer.height;
	}
	gx = (int64_t)floor(fx);
	gy = (int64_t)floor(fy);
	*ret_x = (int32_t)(gx < 0 ? 0 : gx >= d->width ? d->width - 1 : gx);
	*ret_y = (int32_t)(gy < 0 ? 0 : gy >= d->height ? d->height - 1 : gy);
}

struct wlo_conn *wlo_conn_of_surface(struct wlo_output *out, struct wl_surface *surface)
{
	struct vd_output_conn *b;

	if (!surface)
		return NULL;
	vd_output_for_each_conn(b, &out->base) {
		struct wlo_conn *c = (struct wlo_conn *)b;

		if (c->surface == surface || c->pic == surface)
			return c;
	}
	return NULL;
}
