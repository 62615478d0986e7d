/* SPDX-License-Identifier: MIT */
/*
 * Private to src/output/kms: the KMS output's objects and their lifetimes.
 *
 *  kms_output  the DRM fd (master), the loop source for its events, the
 *              heads, connectors and fbs. Lives from create to destroy.
 *  kms_head    one physical connector driven by one CRTC and its primary
 *              plane, with the mode we set and the state we found (put back
 *              at destroy). Heads live as long as the output, so a page-flip
 *              event's user_data can name one: the ones found at start, and
 *              those appended when a display is connected later (hotplug).
 *              A head is "enabled" after its modeset; one atomic commit at
 *              a time is in flight per head.
 *  kms_conn    one virtual connector (a guest's), placed on a head: on a
 *              rectangle of the screen from the guest's configuration, or
 *              in a cell of the default layout. Its queue of flips and what
 *              it shows now are the output core's (base). A head's conns
 *              are kept in name order, which is also their stacking order
 *              where rectangles overlap (the later name on top). It
 *              remembers its mapping and unique-id target: a display
 *              connected later takes the connectors that belong there
 *              (vd_kms_claim), with their queued flips; a frame in flight
 *              on the old head is presented there first.
 *  kms_fb      a guest framebuffer: the guest's memory (borrowed) and, if
 *              its dma-buf was imported, a DRM fb the plane can scan out
 *              directly. Otherwise frames are copied into the head's
 *              composition buffers (dumb buffers) when a commit is built.
 *  zombie      a DRM fb whose guest fb is gone but which a plane still
 *              shows: removed (RmFB) once a commit without it is on screen,
 *              so taking a buffer off the screen never blocks the loop.
 *
 * Flips: the core calls kms_conn_kick; the head takes one frame of each of
 * its conns (vd_output_conn_take) into one atomic commit, non-blocking with
 * a page-flip event, whose event presents them (vd_output_conn_presented).
 * The core's watchdog completes them if the event is late; the head is then
 * "stuck" and its conns flip blind (core-paced) until the event comes. A
 * head without a display, a mode, or whose commit failed flips blind too.
 *
 * The primary plane shows either one fb directly (one conn on the head,
 * imported, exactly the mode's size: zero copy) or a composition buffer;
 * conns whose imported fb can be shown unscaled go onto the head's
 * overlay planes above it where the plane plan (vd_kms_plane_plan) allows
 * (zero copy too), their places left black in the composition.
 */
#ifndef VD_OUTPUT_KMS_PRIV_H
#define VD_OUTPUT_KMS_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <xf86drm.h>
#include <xf86drmMode.h>

#include "output/kms.h"
#include "output/output_impl.h"
#include "output/kms/kms_logic.h"

#define KMS_MAX_CONNS_PER_HEAD 4u
#define KMS_NBUF 2u
#define KMS_MAX_HEADS 8u
/* No page-flip event this long after a commit: complete its flips anyway. */
#define KMS_WATCHDOG_US 100000u
/* A failed commit is tried again after this (flips complete blind meanwhile). */
#define KMS_RETRY_US 16667u

/* A dumb buffer: CPU-mapped, scanout-capable. */
struct kms_dumb {
	uint32_t handle, fb_id;
	uint32_t width, height, pitch;
	uint64_t size;
	uint8_t *map;
};

struct kms_plane_props {
	uint32_t fb_id, crtc_id, src_x, src_y, src_w, src_h, crtc_x, crtc_y, crtc_w, crtc_h;
};

/* A plane of a head: its properties and what it scans out. */
struct kms_plane {
	uint32_t id;
	struct kms_plane_props pp;
	uint8_t *in_formats; /* IN_FORMATS blob copy, or NULL */
	size_t in_formats_len;
	uint32_t *formats;   /* the plane's format list (no IN_FORMATS) */
	uint32_t nformats;
};

/* What the head's objects showed before we took over; put back at destroy. */
struct kms_saved {
	bool valid;
	drmModeModeInfo mode;
	bool mode_valid;
	uint32_t fb_id;
	uint32_t conn_crtc; /* CRTC the connector was on, 0: none */
};

/* A DRM fb a plane still shows after its guest fb went: released by a later commit. */
struct kms_zombie {
	struct kms_zombie *next;
	uint32_t fb_id, handle;
};

struct kms_head {
	struct kms_output *out;
	char name[32]; /* "HDMI-A-1" */
	uint32_t conn_id, crtc_id, crtc_index;
	uint32_t prop_conn_crtc, prop_mode_id, prop_active;
	struct kms_plane primary;
	/*
	 * Overlay planes of the CRTC that no other head claimed, in the
	 * driver's plane order (bottom first where the driver has no zpos),
	 * and the DRM fb each shows now or pending (0: off). no_overlays: the
	 * driver refused a commit with them; everything is composed since.
	 */
	struct kms_plane overlays[KMS_MAX_CONNS_PER_HEAD];
	uint32_t noverlays;
	uint32_t overlay_fb[KMS_MAX_CONNS_PER_HEAD];
	bool no_overlays;
	drmModeModeInfo *modes; /* the connector's modes */
	uint32_t nmodes;
	uint8_t *edid; /* the connector's EDID property, or NULL */
	size_t edid_len;
	/* Its span of the screen coordinates: its preferred mode's width from desk_x. */
	uint32_t pref_w, pref_h, desk_x;
	struct kms_saved saved;

	bool enabled, broken;
	bool unplugged; /* the display went away (hotplug): off, its flips complete blind */
	uint64_t t_connected; /* connected after start: its uevent (us), until its first flip */
	drmModeModeInfo mode;
	uint32_t mode_blob;
	struct kms_conn *conns[KMS_MAX_CONNS_PER_HEAD];
	uint32_t nconns;

	struct kms_dumb bufs[KMS_NBUF];
	uint32_t back; /* next composition buffer to draw */
	/* conn seq drawn into each buffer's cell i; 0: nothing (clear it) */
	uint64_t drawn[KMS_NBUF][KMS_MAX_CONNS_PER_HEAD];
	bool dirty; /* a commit is due without a flip (layout, set_config) */

	uint32_t shown_fb;  /* DRM fb on the plane (or pending) */
	bool pending, stuck; /* commit in flight; the core's watchdog fired for it */
	bool failed;         /* the last commit failed: blind until retry */
	/* conns with a frame on the commit in flight (they may move heads meanwhile) */
	struct kms_conn *committed[KMS_MAX_CONNS_PER_HEAD];
	uint32_t ncommitted;
	sd_event_source *retry; /* after a failed commit */
};

struct kms_conn {
	struct vd_output_conn base; /* cur: what it shows now (fb NULL: blank) */
	struct kms_output *out;
	struct kms_head *head;
	bool placed;         /* want comes from the configuration (a rectangle) */
	bool by_name;        /* on its head because its mapping or unique-id names it */
	char *mapping, *target; /* copies of desc's (NULL: none), for a display connected later */
	struct vd_rect want; /* that rectangle, in its head's coordinates, unclipped */
	struct vd_rect place; /* where it is on the head's screen now (clipped or a cell) */
	int plane;            /* VD_KMS_PLANE_*: how it is shown by the last commit built */
	uint64_t counted_seq; /* base.seq last counted in the output's plane use */
};

struct kms_fb {
	struct vd_output_fb base; /* src: borrowed guest memory, valid until fb_finish */
	struct kms_output *out;
	uint32_t handle, fb_id;  /* imported dma-buf; 0: copy only */
	/*
	 * The driver took the import (AddFB2) but refused to scan it out (a
	 * commit failed: e.g. a CPU-composing driver and an exporter without
	 * vmap): copied from now on.
	 */
	bool no_direct;
};

/* GEM handles from PRIME imports are per (device, dma-buf): refcounted. */
struct kms_handle_ref {
	struct kms_handle_ref *next;
	uint32_t handle, refs;
};

struct kms_output {
	struct vd_output base;
	sd_event *loop; /* borrowed */
	int fd;
	bool force_copy, master;
	sd_event_source *drm_source;
	struct kms_head heads[KMS_MAX_HEADS];
	uint32_t nheads;
	struct kms_handle_ref *handles;
	struct kms_zombie *zombies;
	uint64_t events, watchdog_fired, hotplugs, blocking_commits;
	/* Connector frames shown directly on the primary plane, on overlays, composed. */
	uint64_t use_direct, use_overlay, use_composed;
	struct udev *udev;
	struct udev_monitor *udev_mon;
	sd_event_source *udev_source;
	uint32_t refused[KMS_MAX_HEADS]; /* connectors without a free CRTC/plane: not tried again */
	uint32_t nrefused;
	bool quiet; /* tearing down: events complete nothing */
};

static inline struct kms_fb *kms_conn_fb(const struct kms_conn *conn)
{
	return (struct kms_fb *)conn->base.cur.fb;
}

static inline const char *kms_conn_name(const struct kms_conn *conn)
{
	return conn->base.desc.name;
}

struct udev;
struct udev_monitor;

/*
 * What kms_conn_layout says may have changed (a conn placed, moved or
 * removed, a head enabled, off or broken, the heads' places, a source
 * rectangle): tell the listener (the input's focus follows it).
 */
static inline void kms_layout_changed(struct kms_output *out)
{
	vd_output_layout_changed(&out->base);
}

/* kms.c */
struct kms_output *kms_output_from(struct vd_output *out);
uint32_t kms_prop_id(int fd, uint32_t obj, uint32_t type, const char *name);

/* kms_head.c */
int kms_heads_init(struct kms_output *out);
int kms_commit_blocking(struct kms_output *out, drmModeAtomicReq *req);
int kms_head_enable(struct kms_head *head, uint32_t width, uint32_t height);
void kms_heads_restore(struct kms_output *out);
void kms_heads_finish(struct kms_output *out);
/* Probe the head's connector again (modes, EDID); whether a display is connected. */
bool kms_head_probe(struct kms_head *head);
void kms_head_unplug(struct kms_head *head);
void kms_head_replug(struct kms_head *head);
/* Connected connectors without a head (plugged after start): new heads. t_event: the uevent. */
void kms_heads_add_new(struct kms_output *out, uint64_t t_event);

/* kms_hotplug.c: the uevent monitor; without one (no netlink) hotplug goes unnoticed. */
int kms_hotplug_init(struct kms_output *out);
void kms_hotplug_finish(struct kms_output *out);
bool kms_head_can_scanout(const struct kms_head *head, uint32_t fourcc);
bool kms_plane_can_scanout(const struct kms_plane *plane, uint32_t fourcc);
void kms_head_plane_full(drmModeAtomicReq *req, const struct kms_head *head, uint32_t fb,
			 const struct vd_rect *src);
/* Put the part src of fb at dst on plane (fb 0: the plane off). */
void kms_plane_set(drmModeAtomicReq *req, const struct kms_plane *plane, uint32_t crtc,
		   uint32_t fb, const struct vd_rect *src, const struct vd_rect *dst);
/* Every overlay of the head off (in req). */
void kms_head_overlays_off(drmModeAtomicReq *req, struct kms_head *head);

/* kms_conn.c: place every conn of the head on its screen (after a modeset, add, remove). */
void kms_head_layout(struct kms_head *head);
/* kms_conn.c: a head added after start takes the conns that belong there; how many moved. */
uint32_t kms_head_claim(struct kms_head *head);

/* kms_flip.c */
bool kms_conn_picture(const struct kms_conn *conn, uint32_t screen_w, uint32_t screen_h,
		      struct vd_rect *ret_cell, struct vd_rect *ret_src, struct vd_rect *ret_dst);
void kms_head_kick(struct kms_head *head);
int kms_on_drm_event(sd_event_source *s, int fd, uint32_t revents, void *userdata);
/* The core's operations: something to show on conn; its frame's watchdog fired. */
void kms_conn_kick(struct vd_output_conn *conn);
void kms_conn_late(struct vd_output_conn *conn);
/* conn goes: no head's commit in flight names it any more. */
void kms_conn_forget_commits(struct kms_conn *conn);
/* Blind (core-paced) while the head cannot show its conns; the head's kicks follow. */
void kms_head_update_blind(struct kms_head *head);
/* RmFB the zombies no plane shows any more; all of them when force. */
void kms_zombies_release(struct kms_output *out, bool force);
/* Wait (bounded) for the commit in flight, handling its event without callbacks. */
void kms_head_wait_idle(struct kms_head *head);

/* kms_compose.c */
int kms_dumb_create(int fd, uint32_t width, uint32_t height, bool add_fb, struct kms_dumb *ret);
void kms_dumb_destroy(int fd, struct kms_dumb *d);
void kms_head_compose(struct kms_head *head, struct kms_dumb *buf, uint64_t *drawn);
void kms_head_invalidate(struct kms_head *head);

/* kms_fb.c */
int kms_fb_init(struct vd_output_fb *fb);
void kms_fb_finish(struct vd_output_fb *fb);
void kms_fb_release(struct kms_output *out, uint32_t fb_id, uint32_t handle);
int kms_buffer_alloc(struct vd_output *out, uint64_t size, int *ret_fd, void **ret_map);
void kms_buffer_free(struct vd_output *out, int fd, void *map, uint64_t size);
struct kms_fb *kms_fb_from(struct vd_output_fb *fb);

/* kms_conn.c */
int kms_conn_init(struct vd_output_conn *conn, const struct vd_output_conn_desc *desc);
void kms_conn_finish(struct vd_output_conn *conn);
int kms_conn_layout(struct vd_output_conn *conn, struct vd_rect *ret);
int kms_conn_scanout(struct vd_output_conn *conn, struct vd_scanout *ret);
int kms_conn_get_edid(struct vd_output_conn *conn, void *buf, size_t size);

#endif
