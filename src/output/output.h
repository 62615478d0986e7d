/* SPDX-License-Identifier: MIT */
/*
 * Outputs: where guest frames are shown. This is what users of an output
 * need (the xenbus backend, the buffers, the control socket); what an
 * output's implementation needs is output_impl.h.
 *
 * An output is chosen by name at start-up (vd_output_create). Guests'
 * virtual connectors become output connectors, their framebuffers output
 * fbs. A connector shows its window of one fb at a time: set_config shows
 * one at once, a flip queues one for the next vblank and gets exactly one
 * flip_done. A frame reaches the screen in one of two ways: the output
 * shows the guest's memory directly (scan-out, or a CPU view), or it
 * copies the frame into a buffer of its own when it is presented.
 */
#ifndef VD_OUTPUT_H
#define VD_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "notify.h"

struct vd_input_source;

struct vd_output;
struct vd_output_conn;
struct vd_output_fb;

/*
 * A buffer the output maps for the CPU only when it reads pixels (a
 * composition, a copy, a capture, a screenshot, the headless output):
 * a zero-copy guest buffer is shared as a dma-buf and costs one grant
 * mapping a page, and a second only while a CPU view is held. map gives
 * the whole buffer (size bytes at offset 0), counted against the guest's
 * caps (-ENOSPC at its cap); each successful map has one unmap.
 */
struct vd_frame_mapper {
	int (*map)(struct vd_frame_mapper *m, const void **ret_map);
	void (*unmap)(struct vd_frame_mapper *m);
};

/* A guest buffer as the output sees it. Borrowed: valid until fb_destroy. */
struct vd_frame_src {
	/*
	 * CPU mapping of the whole buffer, or NULL: then the output maps it
	 * through mapper when it needs to (vd_output_fb_map), if there is one.
	 */
	const void *map;
	struct vd_frame_mapper *mapper;
	/*
	 * dma-buf of the buffer, or -1. Borrowed: an output that imports it
	 * holds its own reference (as a PRIME import does) and drops it in
	 * fb_destroy at the latest.
	 */
	int dmabuf_fd;
	uint64_t size;     /* bytes mapped at map */
	uint32_t offset;   /* data_ofs: first pixel */
	uint32_t stride;   /* bytes per row */
	uint32_t width, height;
	uint32_t fourcc;   /* DRM fourcc */
	uint32_t bpp;
};

/* A view of the pixels on a connector at one moment. Borrowed. */
struct vd_frame_view {
	const uint8_t *pixels; /* first visible pixel */
	uint32_t stride;
	uint32_t width, height;
	uint32_t fourcc;
	uint32_t bpp;
	uint64_t seq; /* frames shown on this connector so far, counting this one */
};

struct vd_output_conn_desc {
	const char *name; /* "<guest>:<index>", for logs and capture file names */
	/*
	 * The guest's unique-id ("HDMI-A-1", "Virtual-1"): the physical
	 * connector it asks for, where an output has several. NULL: any.
	 */
	const char *target;
	/*
	 * The operator's placement from the guest's configuration file
	 * (connector.N, vdispld.conf(5)): a physical connector name
	 * ("HDMI-A-1") or a screen rectangle "X,Y,WxH"; NULL if none. It
	 * takes precedence over target. Borrowed for the call.
	 */
	const char *mapping;
	uint32_t width, height; /* connector resolution */
	uint32_t domid, index;  /* the guest and its connector index (window ids, input) */
	/* A flip's frame is on screen (vblank). token is what conn_flip got. */
	void (*flip_done)(void *userdata, uint64_t token);
	/* Optional: a new frame became visible (tests). */
	void (*frame_shown)(void *userdata, const struct vd_frame_view *view);
	void *userdata;
};

struct vd_rect {
	uint32_t x, y, width, height;
};

struct vd_output_stats {
	uint64_t flips;        /* flips accepted */
	uint64_t frames_shown; /* flips completed (vblanks with a new frame) */
	uint64_t copies;       /* frames copied into output-owned buffers */
	uint64_t bytes_copied;
};

/* How a connector's picture reaches a display now (vd_output_conn_scanout). */
enum vd_scanout_path {
	VD_SCANOUT_NONE,     /* nothing shown (no frame yet, display off or away) */
	VD_SCANOUT_PRIMARY,  /* its buffer on the display's primary plane: no copy */
	VD_SCANOUT_OVERLAY,  /* its buffer on an overlay plane: no copy */
	VD_SCANOUT_COMPOSED, /* copied into the display's own buffer */
};

struct vd_scanout {
	const char *display; /* the display's name, valid until the next call into the output */
	enum vd_scanout_path path;
	uint32_t overlay; /* VD_SCANOUT_OVERLAY: which, 1 the lowest */
};

const char *vd_scanout_path_name(enum vd_scanout_path path);

struct vd_output_opts {
	bool force_copy;        /* --copy: copy every flipped frame */
	uint32_t refresh_mhz;   /* vblank rate in mHz; 0: complete flips at once */
	const char *capture_dir; /* headless: one PNG per connector, refreshed; NULL: off */
	uint32_t capture_interval_ms;
	const char *drm_device;  /* kms: /dev/dri/cardN; NULL: the first with a display */
};

/* ---- the output ---- */

/* Create by name ("headless", ...). -ENOENT for an unknown name. Borrows loop. */
int vd_output_create(const char *name, sd_event *loop, const struct vd_output_opts *opts,
		     struct vd_output **ret_out);
/* Connectors and fbs must be gone. NULL is a no-op. */
void vd_output_destroy(struct vd_output *out);
const char *vd_output_name(const struct vd_output *out);
void vd_output_get_stats(struct vd_output *out, struct vd_output_stats *ret);

/* ---- connectors ---- */

/* desc is copied (name too; target and mapping are only read during the call). */
int vd_output_conn_create(struct vd_output *out, const struct vd_output_conn_desc *desc,
			  struct vd_output_conn **ret_conn);
/*
 * Pending flips are dropped without flip_done; a screenshot in progress
 * ends with -ENODEV. May be called from the connector's own callbacks.
 * NULL is a no-op.
 */
void vd_output_conn_destroy(struct vd_output_conn *conn);
/*
 * Show fb at once (enable), or blank (fb NULL); no flip_done. r is the
 * connector's window into fb (NULL: at 0,0), the size of the connector;
 * it starts inside fb but may reach past it (a fb smaller than the
 * connector): the connector shows the part inside fb (vd_rect_clip) at
 * its top-left, black around it. -EINVAL if r starts outside fb. Later
 * flips show the same window of their fb.
 */
int vd_output_conn_set_config(struct vd_output_conn *conn, struct vd_output_fb *fb,
			      const struct vd_rect *r);
/*
 * Queue fb to be shown at the next vblank; flip_done(token) follows
 * exactly once unless the connector is destroyed first. Flips queue in
 * order. The window of the last set_config (else 0,0) selects what of fb
 * is shown, clipped to fb: a window outside fb shows black. The frame is
 * read (or copied) when it is presented, not when it is queued.
 */
int vd_output_conn_flip(struct vd_output_conn *conn, struct vd_output_fb *fb, uint64_t token);

/*
 * The EDID of the physical display conn maps onto 1:1 (kms: on it by
 * name, from the configuration or the guest's unique-id, and alone on
 * it), at most size bytes into buf; its length, or -ENODATA (not 1:1, or
 * the display has none), -ENOSPC (larger than size). The caller
 * synthesises one then.
 */
int vd_output_conn_get_edid(struct vd_output_conn *conn, void *buf, size_t size);

/*
 * Where connector conn's picture is on the screen now, in screen
 * coordinates (for pointer focus): the displays of the output side by
 * side, left to right (vdispld.conf(5), connector.N). -ENODATA if it is
 * not on any display; -EOPNOTSUPP if the output has no shared screen.
 */
int vd_output_conn_layout(struct vd_output_conn *conn, struct vd_rect *ret);

/*
 * Which display conn is on and how its last committed frame reaches it
 * (for the status: is a guest scanned out with no copy?). -EOPNOTSUPP if
 * the output has no displays of its own (headless, wayland).
 */
int vd_output_conn_scanout(struct vd_output_conn *conn, struct vd_scanout *ret);

/* What a connector shows, for the status. */
struct vd_output_conn_state {
	uint32_t fourcc;       /* the format of the fb it shows; 0: nothing (black) */
	uint64_t last_flip_us; /* CLOCK_MONOTONIC of the last flip accepted; 0: none yet */
	uint64_t flips;        /* flips accepted on it */
};
void vd_output_conn_get_state(struct vd_output_conn *conn, struct vd_output_conn_state *ret);

/*
 * A PNG of what conn shows now, written to path (atomically: a temporary
 * file renamed over it) off the event loop: the pixels are copied a slice
 * per loop turn and encoded by a worker thread, so neither a flip nor a
 * reply waits for it. done(userdata, status) comes on the loop exactly
 * once (0, or -errno: -ENODATA when the connector went blank meanwhile,
 * -ENODEV when it was destroyed), unless the screenshot is cancelled
 * first. One at a time per connector (-EBUSY), and all screenshots
 * together hold at most a bounded amount of memory (-EBUSY beyond it).
 * -ENODATA if conn shows nothing readable now.
 */
typedef void (*vd_output_shot_done)(void *userdata, int status);
struct vd_output_screenshot;
/*
 * *ret (may be NULL) names it for vd_output_screenshot_cancel; it stays
 * valid until done is called or it is cancelled, even if the connector
 * goes first (an encoding in progress then finishes and done says so).
 */
int vd_output_conn_screenshot(struct vd_output_conn *conn, const char *path,
			      vd_output_shot_done done, void *userdata,
			      struct vd_output_screenshot **ret);
/* No done callback after this. NULL is a no-op. */
void vd_output_screenshot_cancel(struct vd_output_screenshot *shot);

/* ---- framebuffers and backend-allocated buffers ---- */

/* src is copied; the memory it names is borrowed until vd_output_fb_destroy. */
int vd_output_fb_create(struct vd_output *out, const struct vd_frame_src *src,
			struct vd_output_fb **ret_fb);
/*
 * After this returns the output holds no reference to the guest's
 * memory through src: a connector showing fb goes blank, queued flips of
 * it complete blank. (A display may still scan out a dma-buf it imported
 * until its next vblank; the dma-buf's release tells.) NULL is a no-op.
 */
void vd_output_fb_destroy(struct vd_output_fb *fb);
/*
 * Backend-allocated buffers (be-alloc): size bytes (page multiple) the
 * output can show, exported as a dma-buf (*ret_fd, owned by the caller)
 * and mapped for the CPU (*ret_map, size bytes, or NULL if the output
 * has no CPU view). -EOPNOTSUPP if the output cannot allocate.
 */
int vd_output_buffer_alloc(struct vd_output *out, uint64_t size, int *ret_fd, void **ret_map);
void vd_output_buffer_free(struct vd_output *out, int fd, void *map, uint64_t size);

/* ---- listeners and input ---- */

/*
 * l is notified whenever what vd_output_conn_layout says of any connector
 * may have changed: a connector placed, moved or removed, a display
 * connected, unplugged or back, a mode set, a new window (SET_CONFIG). It
 * may come from inside any call into the output and more often than
 * needed: the listener only notes it and looks at the layout from the
 * loop. Any number of listeners; vd_listener_remove before l goes away.
 * Outputs without a shared screen (headless, wayland) never notify.
 */
void vd_output_add_layout_listener(struct vd_output *out, struct vd_listener *l);

/*
 * The input the output's own display system gives (wayland: the
 * compositor's seat), as an input source whose events are addressed to the
 * guest owning the surface in focus (to_guest). The caller owns the source;
 * if it outlives the output it delivers nothing more. At most one at a
 * time (-EBUSY).
 * -EOPNOTSUPP if the output has no input.
 */
int vd_output_input_source(struct vd_output *out, struct vd_input_source **ret_src);

/* The i-th name vd_output_create knows, NULL past the last (configuration checks). */
const char *vd_output_table_name(size_t i);

/* ---- geometry helpers ---- */

/*
 * The part of window r inside a width x height frame: same origin, size
 * cut at the frame's edges. False if nothing of r is inside.
 */
bool vd_rect_clip(const struct vd_rect *r, uint32_t width, uint32_t height,
		  struct vd_rect *ret);
/*
 * The pixels of src that window r shows (clipped to src, vd_rect_clip),
 * read through src->map. False if none are visible or src has no map.
 */
bool vd_frame_view_of(const struct vd_frame_src *src, const struct vd_rect *r,
		      struct vd_frame_view *ret);

#endif
