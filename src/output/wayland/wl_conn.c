/* SPDX-License-Identifier: MIT */
/*
 * Connectors of the Wayland output: one window each (an xdg toplevel or an
 * IVI surface), its size, and their flips.
 *
 * The compositor sizes the window (xdg_toplevel.configure, the IVI
 * controller's configure; else the connector's resolution, shrunk to fit
 * the largest output); wl_draw.c fits the picture into it. A flip is
 * committed when the previous one has completed: the guest's frame is
 * attached (its own wl_buffer when the dma-buf was imported, else a copy
 * in one of the connector's two wl_shm buffers), damaged and committed
 * with a frame callback on the window's surface. The callback completes
 * it (flip_done); so does the fallback timer if the compositor withholds the callback
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ivi-application-client-protocol.h"
#include "output/png.h"
#include "xdg-shell-client-protocol.h"

static struct wlo_conn *wlo_conn_from(struct vd_output_conn *conn)
{
	(void)wlo_output_from(conn->out); /* checks the implementation */
	return (struct wlo_conn *)conn;
}

/* ---- drawing ---- */

static bool window_ready(const struct wlo_conn *conn)
{
	return conn->surface && conn->configured;
}

static void frame_done(void *data, struct wl_callback *cb, uint32_t time);

static const struct wl_callback_listener frame_listener = {
	.done = frame_done,
};

/* Show what the connector shows now and commit; a frame callback if asked. */
static bool conn_draw(struct wlo_conn *conn, bool want_frame)
{
	if (!wlo_draw(conn))
		return false;
	if (want_frame) {
		conn->frame_cb = wl_surface_frame(conn->surface);
		wl_callback_add_listener(conn->frame_cb, &frame_listener, conn);
	}
	wl_surface_commit(conn->surface);
	conn->stale = false;
	conn->drawn_seq = conn->base.seq;
	return true;
}

/*
 * Show what the connector shows now (set_config, blanking, a new window
 * size) without a flip. With a flip in flight, or no free buffer, it is
 * due when the flip completes or the compositor releases a buffer.
 */
static void conn_redraw(struct wlo_conn *conn)
{
	if (!window_ready(conn))
		return;
	if (conn->base.taken || !conn_draw(conn, false))
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
		if (conn->stale || conn->drawn_seq != base->seq)
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

/* Logical size of the largest output the compositor has (0x0: none known). */
static void largest_output(const struct wlo_output *out, uint32_t *ret_w, uint32_t *ret_h)
{
	uint64_t best = 0;

	*ret_w = *ret_h = 0;
	for (const struct wlo_head *h = out->heads; h; h = h->next) {
		int32_t scale = h->scale > 0 ? h->scale : 1;
		uint32_t w = h->mode_w > 0 ? (uint32_t)(h->mode_w / scale) : 0;
		uint32_t hh = h->mode_h > 0 ? (uint32_t)(h->mode_h / scale) : 0;

		if ((uint64_t)w * hh > best) {
			best = (uint64_t)w * hh;
			*ret_w = w;
			*ret_h = hh;
		}
	}
}

/*
 * The window is w x h from now, as the compositor says (0: ours to
 * choose: the connector's resolution, shrunk to fit the largest output).
 * A plain window cannot scale: it stays the connector's size. true if
 * the size changed.
 */
static bool window_resize(struct wlo_conn *conn, int32_t w, int32_t h)
{
	const struct vd_output_conn_desc *d = &conn->base.desc;
	uint32_t nw = d->width, nh = d->height, mw, mh;

	if (wlo_scaled(conn->out) && w > 0 && h > 0) {
		nw = (uint32_t)w < WLO_MAX_WINDOW ? (uint32_t)w : WLO_MAX_WINDOW;
		nh = (uint32_t)h < WLO_MAX_WINDOW ? (uint32_t)h : WLO_MAX_WINDOW;
	} else if (wlo_scaled(conn->out)) {
		largest_output(conn->out, &mw, &mh);
		wlo_default_size(d->width, d->height, mw, mh, &nw, &nh);
	}
	if (nw == conn->win_w && nh == conn->win_h)
		return false;
	vd_debug("wayland %s: window %ux%u", d->name, nw, nh);
	conn->win_w = nw;
	conn->win_h = nh;
	return true;
}

static void xdg_surface_configure(void *data, struct xdg_surface *xs, uint32_t serial)
{
	struct wlo_conn *conn = data;
	bool first = !conn->configured;

	xdg_surface_ack_configure(xs, serial);
	conn->configured = true;
	/* The first buffer maps the window; a new size is drawn at once. */
	if (window_resize(conn, conn->pend_w, conn->pend_h) || first)
		conn_redraw(conn);
	if (first)
		wlo_conn_kick(&conn->base);
}

static const struct xdg_surface_listener xdg_surface_listener = {
	.configure = xdg_surface_configure,
};

/* A size for the xdg_surface.configure that follows (0x0: ours to choose). */
static void toplevel_configure(void *data, struct xdg_toplevel *t, int32_t w, int32_t h,
			       struct wl_array *states)
{
	struct wlo_conn *conn = data;

	conn->pend_w = w > 0 ? (uint32_t)w : 0;
	conn->pend_h = h > 0 ? (uint32_t)h : 0;
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

	/* The controller's size is the window's (a plain window keeps the connector's). */
	vd_debug("wayland %s: the IVI controller suggests %dx%d", conn->base.desc.name, w, h);
	if (w > 0 && h > 0 && window_resize(conn, w, h))
		conn_redraw(conn);
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
	window_resize(conn, 0, 0);
	conn_redraw(conn);
	wlo_conn_kick(&conn->base);
	return true;
}

/*
 * "vdispld.<guest>.<connector>" (the name's last ':' a '.'), so that
 * compositor rules (sway's for_window [app_id=...]) can place a guest's
 * window.
 */
static void set_app_id(struct wlo_conn *conn)
{
	const char *name = conn->base.desc.name;
	const char *colon = strrchr(name, ':');
	char id[256];

	if (colon)
		snprintf(id, sizeof(id), "vdispld.%.*s.%s", (int)(colon - name), name, colon + 1);
	else
		snprintf(id, sizeof(id), "vdispld.%s", name);
	xdg_toplevel_set_app_id(conn->toplevel, id);
}

void wlo_conn_window_create(struct wlo_conn *conn)
{
	struct wlo_output *out = conn->out;

	if (conn->surface || !out->ready)
		return;
	conn->surface = wl_compositor_create_surface(out->compositor);
	wlo_draw_init(conn);
	if (out->ivi_application && window_create_ivi(conn))
		return;
	if (!out->wm_base)
		return; /* a surface without a role: never shown, flips complete by the timer */
	conn->xdg_surface = xdg_wm_base_get_xdg_surface(out->wm_base, conn->surface);
	xdg_surface_add_listener(conn->xdg_surface, &xdg_surface_listener, conn);
	conn->toplevel = xdg_surface_get_toplevel(conn->xdg_surface);
	xdg_toplevel_add_listener(conn->toplevel, &toplevel_listener, conn);
	xdg_toplevel_set_title(conn->toplevel, conn->base.desc.name);
	set_app_id(conn);
	/*
	 * No min/max size: a window whose min and max are equal is a dialog
	 * to a tiling compositor (floated, all at one place). The compositor
	 * sizes the window; the picture is scaled into it (or, without
	 * wp_viewporter, shown at its own size in it).
	 */
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
	wlo_draw_finish(conn);
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
	conn->starved = conn->stale = false;
	conn->win_w = conn->win_h = conn->pend_w = conn->pend_h = 0;
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
