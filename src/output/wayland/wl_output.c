/* SPDX-License-Identifier: MIT */
/*
 * The Wayland output: the connection to the compositor, its globals, the
 * display fd in the loop, reconnecting, the interface table. Connectors
 * and their flips live in wl_conn.c, framebuffers in wl_fb.c.
 *
 * The display fd is one io source. Its prepare callback runs before every
 * poll: it dispatches what is queued, announces the read
 * (wl_display_prepare_read) and flushes our requests (EPOLLOUT while the
 * socket is full). The io callback reads or cancels the announced read and
 * dispatches. Nothing blocks: the first round trip is a wl_display_sync
 * whose done event says the globals are known.
 */
#include "output/wayland/wl_priv.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include <drm_fourcc.h>

#include "ivi-application-client-protocol.h"
#include "linux-dmabuf-unstable-v1-client-protocol.h"
#include "log.h"
#include "viewporter-client-protocol.h"
#include "xdg-output-unstable-v1-client-protocol.h"
#include "xdg-shell-client-protocol.h"

static const struct vd_output_impl wlo_impl;

struct wlo_output *wlo_output_from(struct vd_output *out)
{
	assert(out->impl == &wlo_impl);
	return (struct wlo_output *)out;
}

uint64_t wlo_now(const struct wlo_output *out)
{
	uint64_t now;

	if (sd_event_now(out->loop, CLOCK_MONOTONIC, &now) < 0)
		return vd_now_us();
	return now;
}

static int connect_display(struct wlo_output *out);
static void arm_reconnect(struct wlo_output *out, uint64_t delay_us);

/* ---- globals ---- */

static void wm_base_ping(void *data, struct xdg_wm_base *wm_base, uint32_t serial)
{
	xdg_wm_base_pong(wm_base, serial);
}

static const struct xdg_wm_base_listener wm_base_listener = {
	.ping = wm_base_ping,
};

static void shm_format(void *data, struct wl_shm *shm, uint32_t format)
{
	struct wlo_output *out = data;

	if (out->nshm_formats < WLO_MAX_FORMATS)
		out->shm_formats[out->nshm_formats++] = format;
}

static const struct wl_shm_listener shm_listener = {
	.format = shm_format,
};

static void dmabuf_add(struct wlo_output *out, uint32_t fourcc, uint64_t modifier)
{
	out->ndmabuf_formats = wlo_format_add(out->dmabuf_formats, out->ndmabuf_formats,
					      WLO_MAX_FORMATS, fourcc, modifier);
}

static void dmabuf_format(void *data, struct zwp_linux_dmabuf_v1 *d, uint32_t format)
{
	dmabuf_add(data, format, DRM_FORMAT_MOD_INVALID); /* before version 3: implicit */
}

static void dmabuf_modifier(void *data, struct zwp_linux_dmabuf_v1 *d, uint32_t format,
			    uint32_t hi, uint32_t lo)
{
	dmabuf_add(data, format, (uint64_t)hi << 32 | lo);
}

static const struct zwp_linux_dmabuf_v1_listener dmabuf_listener = {
	.format = dmabuf_format,
	.modifier = dmabuf_modifier,
};

/* ---- linux-dmabuf feedback (version 4) ---- */

static void feedback_table_drop(struct wlo_output *out)
{
	if (out->fb_table)
		munmap(out->fb_table, out->fb_table_size);
	out->fb_table = NULL;
	out->fb_table_size = 0;
}

static void feedback_format_table(void *data, struct zwp_linux_dmabuf_feedback_v1 *f, int32_t fd,
				  uint32_t size)
{
	struct wlo_output *out = data;
	void *map;

	feedback_table_drop(out);
	map = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	close(fd);
	if (map == MAP_FAILED) {
		vd_warn("wayland: cannot map the linux-dmabuf format table (%u bytes)", size);
		return;
	}
	out->fb_table = map;
	out->fb_table_size = size;
}

static void feedback_main_device(void *data, struct zwp_linux_dmabuf_feedback_v1 *f,
				 struct wl_array *dev)
{
}

static void feedback_tranche_target_device(void *data, struct zwp_linux_dmabuf_feedback_v1 *f,
					   struct wl_array *dev)
{
}

static void feedback_tranche_formats(void *data, struct zwp_linux_dmabuf_feedback_v1 *f,
				     struct wl_array *indices)
{
	struct wlo_output *out = data;

	/* Tranches come in the compositor's order of preference; any of them will do. */
	out->nfb_next = wlo_feedback_tranche(out->fb_next, out->nfb_next, WLO_MAX_FORMATS,
					     out->fb_table, out->fb_table_size, indices->data,
					     (uint32_t)(indices->size / sizeof(uint16_t)));
}

static void feedback_tranche_flags(void *data, struct zwp_linux_dmabuf_feedback_v1 *f,
				   uint32_t flags)
{
}

static void feedback_tranche_done(void *data, struct zwp_linux_dmabuf_feedback_v1 *f)
{
}

/* A complete feedback: its tranches' formats replace what was known. */
static void feedback_done(void *data, struct zwp_linux_dmabuf_feedback_v1 *f)
{
	struct wlo_output *out = data;

	memcpy(out->dmabuf_formats, out->fb_next, out->nfb_next * sizeof(out->fb_next[0]));
	out->ndmabuf_formats = out->nfb_next;
	out->nfb_next = 0;
	out->fb_got_done = true;
	vd_debug("wayland: linux-dmabuf feedback: %u format/modifier pairs", out->ndmabuf_formats);
	if (out->ready)
		for (struct vd_output_fb *fb = out->base.fbs; fb; fb = fb->next)
			wlo_fb_import((struct wlo_fb *)fb);
}

static const struct zwp_linux_dmabuf_feedback_v1_listener feedback_listener = {
	.done = feedback_done,
	.format_table = feedback_format_table,
	.main_device = feedback_main_device,
	.tranche_done = feedback_tranche_done,
	.tranche_target_device = feedback_tranche_target_device,
	.tranche_formats = feedback_tranche_formats,
	.tranche_flags = feedback_tranche_flags,
};

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/* ---- outputs (heads) ---- */

static void head_set_name(struct wlo_head *h, const char *name)
{
	snprintf(h->name, sizeof(h->name), "%s", name);
	vd_debug("wayland: output %s", h->name);
}

static void wl_output_geometry(void *data, struct wl_output *o, int32_t x, int32_t y,
			       int32_t pw, int32_t ph, int32_t subpixel, const char *make,
			       const char *model, int32_t transform)
{
}

/* The current mode: windows we size ourselves fit in the largest output. */
static void wl_output_mode(void *data, struct wl_output *o, uint32_t flags, int32_t w, int32_t h,
			   int32_t refresh)
{
	struct wlo_head *head = data;

	if (flags & WL_OUTPUT_MODE_CURRENT) {
		head->mode_w = w;
		head->mode_h = h;
	}
}

static void wl_output_done(void *data, struct wl_output *o)
{
}

static void wl_output_scale(void *data, struct wl_output *o, int32_t factor)
{
	struct wlo_head *head = data;

	head->scale = factor;
}

static void wl_output_name(void *data, struct wl_output *o, const char *name)
{
	head_set_name(data, name);
}

static void wl_output_description(void *data, struct wl_output *o, const char *desc)
{
}

static const struct wl_output_listener wl_output_listener = {
	.geometry = wl_output_geometry,
	.mode = wl_output_mode,
	.done = wl_output_done,
	.scale = wl_output_scale,
	.name = wl_output_name,
	.description = wl_output_description,
};

static void xdg_output_position(void *data, struct zxdg_output_v1 *o, int32_t x, int32_t y)
{
}

static void xdg_output_size(void *data, struct zxdg_output_v1 *o, int32_t w, int32_t h)
{
}

static void xdg_output_done(void *data, struct zxdg_output_v1 *o)
{
}

static void xdg_output_name(void *data, struct zxdg_output_v1 *o, const char *name)
{
	struct wlo_head *h = data;

	if (!h->name[0] || wl_output_get_version(h->output) < 4)
		head_set_name(h, name);
}

static void xdg_output_description(void *data, struct zxdg_output_v1 *o, const char *desc)
{
}

static const struct zxdg_output_v1_listener xdg_output_listener = {
	.logical_position = xdg_output_position,
	.logical_size = xdg_output_size,
	.done = xdg_output_done,
	.name = xdg_output_name,
	.description = xdg_output_description,
};

/* Before wl_output version 4 only xdg-output names outputs. */
static void head_ask_name(struct wlo_output *out, struct wlo_head *h)
{
	if (h->xdg_output || !out->xdg_output_manager || wl_output_get_version(h->output) >= 4)
		return;
	h->xdg_output = zxdg_output_manager_v1_get_xdg_output(out->xdg_output_manager, h->output);
	zxdg_output_v1_add_listener(h->xdg_output, &xdg_output_listener, h);
}

static void head_add(struct wlo_output *out, struct wl_registry *reg, uint32_t name,
		     uint32_t version)
{
	struct wlo_head *h = calloc(1, sizeof(*h));

	if (!h)
		return;
	h->out = out;
	h->global = name;
	h->output = wl_registry_bind(reg, name, &wl_output_interface, min_u32(version, 4));
	wl_output_add_listener(h->output, &wl_output_listener, h);
	h->next = out->heads;
	out->heads = h;
	head_ask_name(out, h);
}

static void head_free(struct wlo_head *h)
{
	if (h->xdg_output)
		zxdg_output_v1_destroy(h->xdg_output);
	if (wl_output_get_version(h->output) >= 3)
		wl_output_release(h->output);
	else
		wl_output_destroy(h->output);
	free(h);
}

struct wlo_head *wlo_head_find(struct wlo_output *out, const char *name)
{
	for (struct wlo_head *h = out->heads; h; h = h->next)
		if (h->name[0] && !strcmp(h->name, name))
			return h;
	return NULL;
}

static void registry_global(void *data, struct wl_registry *reg, uint32_t name,
			    const char *iface, uint32_t version)
{
	struct wlo_output *out = data;

	vd_debug("wayland: global %s v%u", iface, version);
	if (!strcmp(iface, wl_compositor_interface.name) && !out->compositor) {
		out->compositor = wl_registry_bind(reg, name, &wl_compositor_interface,
						   min_u32(version, 4));
	} else if (!strcmp(iface, wl_subcompositor_interface.name) && !out->subcompositor) {
		out->subcompositor = wl_registry_bind(reg, name, &wl_subcompositor_interface, 1);
	} else if (!strcmp(iface, wp_viewporter_interface.name) && !out->viewporter) {
		out->viewporter = wl_registry_bind(reg, name, &wp_viewporter_interface, 1);
	} else if (!strcmp(iface, xdg_wm_base_interface.name) && !out->wm_base) {
		out->wm_base = wl_registry_bind(reg, name, &xdg_wm_base_interface, 1);
		xdg_wm_base_add_listener(out->wm_base, &wm_base_listener, out);
	} else if (!strcmp(iface, wl_seat_interface.name)) {
		wlo_seat_bind(out, reg, name, version);
	} else if (!strcmp(iface, wl_output_interface.name)) {
		head_add(out, reg, name, version);
	} else if (!strcmp(iface, zxdg_output_manager_v1_interface.name) &&
		   !out->xdg_output_manager && version >= 2) {
		/* Version 2: outputs have names. */
		out->xdg_output_manager = wl_registry_bind(reg, name,
							   &zxdg_output_manager_v1_interface, 2);
		for (struct wlo_head *h = out->heads; h; h = h->next)
			head_ask_name(out, h);
	} else if (!strcmp(iface, ivi_application_interface.name) && !out->ivi_application) {
		out->ivi_application = wl_registry_bind(reg, name, &ivi_application_interface, 1);
	} else if (!strcmp(iface, wl_shm_interface.name) && !out->shm) {
		out->shm = wl_registry_bind(reg, name, &wl_shm_interface, 1);
		wl_shm_add_listener(out->shm, &shm_listener, out);
	} else if (!strcmp(iface, zwp_linux_dmabuf_v1_interface.name) && !out->linux_dmabuf) {
		/*
		 * Version 4: the default feedback's tranches say which formats
		 * and modifiers the compositor takes (no format events then);
		 * before it, format and modifier events.
		 */
		out->linux_dmabuf = wl_registry_bind(reg, name, &zwp_linux_dmabuf_v1_interface,
						     min_u32(version, 4));
		zwp_linux_dmabuf_v1_add_listener(out->linux_dmabuf, &dmabuf_listener, out);
		if (version >= 4) {
			out->feedback = zwp_linux_dmabuf_v1_get_default_feedback(out->linux_dmabuf);
			zwp_linux_dmabuf_feedback_v1_add_listener(out->feedback,
								  &feedback_listener, out);
		}
	}
}

static void registry_global_remove(void *data, struct wl_registry *reg, uint32_t name)
{
	struct wlo_output *out = data;

	if (out->seat && name == out->seat_global) {
		vd_info("wayland: the seat is gone");
		wlo_seat_destroy(out);
		return;
	}
	for (struct wlo_head **p = &out->heads; *p; p = &(*p)->next) {
		if ((*p)->global == name) {
			struct wlo_head *h = *p;

			*p = h->next;
			vd_info("wayland: output %s is gone", h->name[0] ? h->name : "(unnamed)");
			head_free(h);
			return;
		}
	}
}

static const struct wl_registry_listener registry_listener = {
	.global = registry_global,
	.global_remove = registry_global_remove,
};

static const struct wl_callback_listener sync_listener;

/*
 * The first round trip is over: the globals are known and bound. Their
 * own events (wl_shm formats, output names) follow the binds: a second
 * round trip collects them before windows are made.
 */
static void sync_done(void *data, struct wl_callback *cb, uint32_t serial)
{
	struct wlo_output *out = data;

	wl_callback_destroy(cb);
	out->sync = NULL;
	if (!out->globals_bound) {
		out->globals_bound = true;
		out->sync = wl_display_sync(out->display);
		wl_callback_add_listener(out->sync, &sync_listener, out);
		return;
	}
	if (!out->compositor || !(out->wm_base || out->ivi_application) || !out->shm) {
		vd_err("wayland: the compositor lacks wl_compositor, a shell (xdg_wm_base or "
		       "ivi_application) or wl_shm");
		out->broken = true;
		return;
	}
	out->ready = true;
	vd_info("wayland: connected (%s; %u wl_shm formats; %u linux-dmabuf format/modifier "
		"pairs%s; %s surfaces, %s)",
		out->linux_dmabuf ? "linux-dmabuf and wl_shm" : "wl_shm only", out->nshm_formats,
		out->ndmabuf_formats, out->fb_got_done ? " from feedback" : "",
		out->ivi_application ? "IVI" : "xdg-shell",
		wlo_scaled(out) ? "pictures scaled to their windows"
				: "windows of the guests' size (no wp_viewporter or wl_subcompositor)");
	for (uint32_t i = 0; i < out->nshm_formats; i++)
		vd_debug("wayland: wl_shm format %#x", out->shm_formats[i]);
	for (struct vd_output_fb *fb = out->base.fbs; fb; fb = fb->next)
		wlo_fb_import((struct wlo_fb *)fb);
	for (struct vd_output_conn *conn = out->base.conns; conn; conn = conn->next)
		wlo_conn_window_create((struct wlo_conn *)conn);
}

static const struct wl_callback_listener sync_listener = {
	.done = sync_done,
};

/* ---- the display fd ---- */

static int on_prepare(sd_event_source *s, void *userdata)
{
	struct wlo_output *out = userdata;
	uint32_t events = EPOLLIN;

	if (!out->display)
		return 0;
	while (!out->read_prepared && !out->broken) {
		if (wl_display_prepare_read(out->display) == 0)
			out->read_prepared = true;
		else if (wl_display_dispatch_pending(out->display) < 0)
			out->broken = true;
	}
	if (!out->broken && wl_display_flush(out->display) < 0) {
		if (errno == EAGAIN)
			events |= EPOLLOUT;
		else
			out->broken = true;
	}
	if (out->broken) {
		/* Not from here: the source being prepared would be freed. */
		arm_reconnect(out, 0);
		return 0;
	}
	return sd_event_source_set_io_events(s, events);
}

static int on_display(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct wlo_output *out = userdata;

	if (out->read_prepared) {
		out->read_prepared = false;
		if (revents & EPOLLIN) {
			if (wl_display_read_events(out->display) < 0)
				out->broken = true;
		} else {
			wl_display_cancel_read(out->display);
		}
	}
	if (!out->broken && wl_display_dispatch_pending(out->display) < 0)
		out->broken = true;
	if (revents & (EPOLLHUP | EPOLLERR) && !(revents & EPOLLIN))
		out->broken = true;
	if (out->broken)
		wlo_disconnect(out);
	return 0;
}

/* ---- connecting ---- */

static int on_reconnect(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct wlo_output *out = userdata;

	if (out->display && out->broken)
		wlo_disconnect(out);
	else if (!out->display)
		connect_display(out);
	return 0;
}

static void arm_reconnect(struct wlo_output *out, uint64_t delay_us)
{
	sd_event_source_set_time(out->reconnect, wlo_now(out) + delay_us);
	sd_event_source_set_enabled(out->reconnect, SD_EVENT_ONESHOT);
}

static void globals_destroy(struct wlo_output *out)
{
	if (out->sync)
		wl_callback_destroy(out->sync);
	wlo_seat_destroy(out);
	while (out->heads) {
		struct wlo_head *h = out->heads;

		out->heads = h->next;
		head_free(h);
	}
	if (out->xdg_output_manager)
		zxdg_output_manager_v1_destroy(out->xdg_output_manager);
	if (out->feedback)
		zwp_linux_dmabuf_feedback_v1_destroy(out->feedback);
	out->feedback = NULL;
	feedback_table_drop(out);
	out->nfb_next = 0;
	out->fb_got_done = false;
	if (out->linux_dmabuf)
		zwp_linux_dmabuf_v1_destroy(out->linux_dmabuf);
	if (out->shm)
		wl_shm_destroy(out->shm);
	if (out->wm_base)
		xdg_wm_base_destroy(out->wm_base);
	if (out->ivi_application)
		ivi_application_destroy(out->ivi_application);
	if (out->black)
		wl_buffer_destroy(out->black);
	if (out->viewporter)
		wp_viewporter_destroy(out->viewporter);
	if (out->subcompositor)
		wl_subcompositor_destroy(out->subcompositor);
	if (out->compositor)
		wl_compositor_destroy(out->compositor);
	if (out->registry)
		wl_registry_destroy(out->registry);
	out->sync = NULL;
	out->linux_dmabuf = NULL;
	out->xdg_output_manager = NULL;
	out->shm = NULL;
	out->wm_base = NULL;
	out->ivi_application = NULL;
	out->compositor = NULL;
	out->black = NULL;
	out->viewporter = NULL;
	out->subcompositor = NULL;
	out->registry = NULL;
	out->nshm_formats = out->ndmabuf_formats = 0;
}

/*
 * Windows and imports go first (their proxies are freed locally; the
 * compositor frees its side with the client), then the display. Flips in
 * flight complete by their fallback timers; new ones complete blind.
 */
void wlo_disconnect(struct wlo_output *out)
{
	int err;

	if (!out->display)
		return;
	err = wl_display_get_error(out->display);
	vd_warn("wayland: lost the compositor (%s); reconnecting every second",
		err ? strerror(err) : "hang-up");
	for (struct vd_output_conn *conn = out->base.conns; conn; conn = conn->next)
		wlo_conn_window_destroy((struct wlo_conn *)conn);
	for (struct vd_output_fb *fb = out->base.fbs; fb; fb = fb->next)
		wlo_fb_forget_import((struct wlo_fb *)fb);
	globals_destroy(out);
	if (out->read_prepared)
		wl_display_cancel_read(out->display);
	out->read_prepared = false;
	out->io = sd_event_source_disable_unref(out->io);
	wl_display_disconnect(out->display);
	out->display = NULL;
	out->ready = out->broken = out->globals_bound = false;
	arm_reconnect(out, WLO_RECONNECT_US);
}

static int connect_display(struct wlo_output *out)
{
	int r;

	out->display = wl_display_connect(NULL);
	if (!out->display) {
		r = errno ? -errno : -ECONNREFUSED;
		vd_debug("wayland: cannot connect: %s", strerror(-r));
		arm_reconnect(out, WLO_RECONNECT_US);
		return r;
	}
	out->registry = wl_display_get_registry(out->display);
	wl_registry_add_listener(out->registry, &registry_listener, out);
	out->sync = wl_display_sync(out->display);
	wl_callback_add_listener(out->sync, &sync_listener, out);
	r = sd_event_add_io(out->loop, &out->io, wl_display_get_fd(out->display), EPOLLIN,
			    on_display, out);
	if (r >= 0)
		r = sd_event_source_set_prepare(out->io, on_prepare);
	if (r < 0) {
		out->broken = true;
		arm_reconnect(out, 0);
		return r;
	}
	out->connects++;
	return 0;
}

/* ---- the output ---- */

/* The output's own exit line (the core prints the latency). */
static void wlo_report(struct vd_output *base)
{
	struct wlo_output *out = wlo_output_from(base);

	/* a frame dropped for want of a free buffer completes unshown, blind */
	vd_info("wayland: %llu frame callbacks, %llu fallback completions, %llu blind, "
		"%llu zero-copy frames, %llu wl_shm copies, %llu dropped, %llu connection(s), "
		"%llu converted",
		(unsigned long long)out->callbacks, (unsigned long long)out->fallbacks,
		(unsigned long long)(base->blind + out->dropped), (unsigned long long)out->zero_copy,
		(unsigned long long)base->stats.copies, (unsigned long long)out->dropped,
		(unsigned long long)out->connects, (unsigned long long)out->conversions);
	/* what the copies cost: memory held per connector, time per copied frame */
	vd_info("wayland: wl_shm buffers: at most %llu bytes a connector; %.1f us a copy",
		(unsigned long long)out->shm_peak,
		base->stats.copies ? (double)out->copy_ns / 1000.0 / (double)base->stats.copies : 0.0);
}

/* The core took connectors and fbs down first. */
static void wlo_destroy(struct vd_output *base)
{
	struct wlo_output *out = wlo_output_from(base);

	wlo_seat_forget_source(out);
	if (out->display) {
		globals_destroy(out);
		if (out->read_prepared)
			wl_display_cancel_read(out->display);
		wl_display_flush(out->display);
		wl_display_disconnect(out->display);
	}
	sd_event_source_disable_unref(out->io);
	sd_event_source_disable_unref(out->reconnect);
	vd_output_finish(base);
	free(out);
}

static const struct vd_output_impl wlo_impl = {
	.name = "wayland",
	.pacing = VD_PACE_DEVICE,
	.watchdog_us = WLO_FALLBACK_US,
	.conn_size = sizeof(struct wlo_conn),
	.fb_size = sizeof(struct wlo_fb),
	.destroy = wlo_destroy,
	.conn_init = wlo_conn_init,
	.conn_finish = wlo_conn_finish,
	.fb_init = wlo_fb_init,
	.fb_finish = wlo_fb_finish,
	.kick = wlo_conn_kick,
	.late = wlo_conn_late,
	.buffer_alloc = wlo_buffer_alloc,
	.buffer_free = wlo_buffer_free,
	.input_source = wlo_input_source,
	.report = wlo_report,
};

int vd_output_wayland_create(sd_event *loop, const struct vd_output_opts *opts,
			     struct vd_output **ret_out)
{
	struct wlo_output *out = calloc(1, sizeof(*out));
	int r;

	if (!out)
		return -ENOMEM;
	out->loop = loop;
	out->force_copy = opts && opts->force_copy;
	r = vd_output_init(&out->base, &wlo_impl, loop, opts);
	if (r >= 0)
		r = sd_event_add_time(loop, &out->reconnect, CLOCK_MONOTONIC, 0, 1, on_reconnect,
				      out);
	if (r >= 0)
		r = sd_event_source_set_enabled(out->reconnect, SD_EVENT_OFF);
	if (r < 0) {
		wlo_destroy(&out->base);
		return r;
	}
	if (connect_display(out) < 0)
		vd_warn("wayland: no compositor at %s yet; trying every second",
			getenv("WAYLAND_DISPLAY") ? getenv("WAYLAND_DISPLAY") : "wayland-0");
	*ret_out = &out->base;
	return 0;
}
