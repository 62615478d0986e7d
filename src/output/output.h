/* SPDX-License-Identifier: MIT */
/*
 * The output interface: where guest frames are shown. Chosen by name from
 * a table at start-up (vd_output_create). A frame reaches an output in one
 * of two ways: the output shows the guest's mapped memory directly, or it
 * copies each flipped frame into a buffer it owns (what KMS needs when an
 * import is refused, and what wl_shm needs).
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

/* A guest buffer as the output sees it. Borrowed: valid until fb_destroy. */
struct vd_frame_src {
	const void *map;   /* CPU mapping of the whole buffer, or NULL */
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
	/* Optional: a new frame became visible (tests, capture). */
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

struct vd_output_impl {
	const char *name;
	void (*destroy)(struct vd_output *out);
	int (*conn_create)(struct vd_output *out, const struct vd_output_conn_desc *desc,
			   struct vd_output_conn **ret_conn);
	/* Pending flips are dropped without flip_done. NULL is a no-op. */
	void (*conn_destroy)(struct vd_output_conn *conn);
	int (*fb_create)(struct vd_output *out, const struct vd_frame_src *src,
			 struct vd_output_fb **ret_fb);
	/*
	 * After this returns the output holds no reference to the guest's
	 * memory: a connector showing fb goes blank. NULL is a no-op.
	 */
	void (*fb_destroy)(struct vd_output_fb *fb);
	/* Show fb with source rectangle r (enable), or blank (fb NULL). No flip_done. */
	int (*conn_set_config)(struct vd_output_conn *conn, struct vd_output_fb *fb,
			       const struct vd_rect *r);
	/*
	 * Queue fb to be shown at the next vblank; flip_done(token) follows
	 * exactly once unless the connector is destroyed first. Flips queue
	 * in order.
	 */
	int (*conn_flip)(struct vd_output_conn *conn, struct vd_output_fb *fb, uint64_t token);
	/*
	 * Backend-allocated buffers (be-alloc): size bytes (page multiple) the
	 * output can show, exported as a dma-buf (*ret_fd, owned by the caller)
	 * and mapped for the CPU (*ret_map, size bytes, or NULL if the output
	 * has no CPU view). -EOPNOTSUPP if the output cannot allocate.
	 */
	int (*buffer_alloc)(struct vd_output *out, uint64_t size, int *ret_fd, void **ret_map);
	void (*buffer_free)(struct vd_output *out, int fd, void *map, uint64_t size);
	/* Write what the connector shows now as PNG. -ENODATA if blank. */
	int (*conn_screenshot)(struct vd_output_conn *conn, const char *path);
	void (*get_stats)(struct vd_output *out, struct vd_output_stats *ret);
	/*
	 * The EDID of the physical display conn maps onto 1:1 (kms: on it by
	 * name, from the configuration or the guest's unique-id, and alone on
	 * it), at most size bytes into buf; its length, or
	 * -ENODATA (not 1:1, or the display has none), -ENOSPC (larger than
	 * size). The caller synthesises one then. NULL: always -ENODATA.
	 */
	int (*conn_get_edid)(struct vd_output_conn *conn, void *buf, size_t size);
	/* See vd_output_conn_layout. NULL: -EOPNOTSUPP. */
	int (*conn_layout)(struct vd_output_conn *conn, struct vd_rect *ret);
	/* See vd_output_input_source. NULL: -EOPNOTSUPP. */
	int (*input_source)(struct vd_output *out, struct vd_input_source **ret_src);
	/* See vd_output_conn_scanout. NULL: -EOPNOTSUPP. */
	int (*conn_scanout)(struct vd_output_conn *conn, struct vd_scanout *ret);
};

struct vd_output {
	const struct vd_output_impl *impl;
	struct vd_notify layout_changed; /* vd_output_on_layout_change; zeroed at create */
};

/*
 * Bases of every output's connectors and framebuffers. An implementation
 * embeds them as its first member and downcasts with a helper that checks
 * out->impl, so a connector or fb handed to the wrong output is caught.
 */
struct vd_output_conn {
	struct vd_output *out;
};

struct vd_output_fb {
	struct vd_output *out;
};

struct vd_output_opts {
	bool force_copy;        /* --copy: copy every flipped frame */
	uint32_t refresh_mhz;   /* vblank rate in mHz; 0: complete flips at once */
	const char *capture_dir; /* headless: one PNG per connector, refreshed; NULL: off */
	uint32_t capture_interval_ms;
	const char *drm_device;  /* kms: /dev/dri/cardN; NULL: the first with a display */
};

/*
 * Helpers shared by the outputs. vd_frame_src_valid: the geometry fits the
 * buffer (64-bit arithmetic), whole bytes per pixel, and a CPU map (if
 * need_map) or at least a map or a dma-buf.
 */
bool vd_frame_src_valid(const struct vd_frame_src *src, bool need_map);
/* A non-empty source rectangle inside a width x height frame (SET_CONFIG). */
bool vd_rect_within(const struct vd_rect *r, uint32_t width, uint32_t height);
/* be-alloc in shared memory: the memfd stands in for the dma-buf. */
int vd_output_shm_alloc(uint64_t size, int *ret_fd, void **ret_map);
void vd_output_shm_free(int fd, void *map, uint64_t size);

/*
 * Where connector conn's picture is on the screen now, in screen
 * coordinates (for pointer focus): the displays of the output side by
 * side, left to right (vdispld.conf(5), connector.N). -ENODATA if it is
 * not on any display; -EOPNOTSUPP if the output has no shared screen.
 */
int vd_output_conn_layout(struct vd_output_conn *conn, struct vd_rect *ret);

/*
 * fn(userdata) is called whenever what vd_output_conn_layout says of any
 * connector may have changed: a connector placed, moved or removed, a
 * display connected, unplugged or back, a mode set, a new source
 * rectangle (SET_CONFIG, or a flip carrying one). It may come from inside
 * any call into the output and more often than needed: the listener only
 * notes it and looks at the layout from the loop (the input's sync). One
 * listener; another call replaces it, fn NULL removes it. Outputs without
 * a shared screen (conn_layout NULL: headless, wayland) never call it.
 */
void vd_output_on_layout_change(struct vd_output *out, void (*fn)(void *userdata),
				void *userdata);
/* For the outputs: tell the listener, if any. */
void vd_output_layout_changed(struct vd_output *out);

/*
 * Which display conn is on and how its last committed frame reaches it
 * (for the status: is a guest scanned out with no copy?). -EOPNOTSUPP if
 * the output has no displays of its own (headless, wayland).
 */
int vd_output_conn_scanout(struct vd_output_conn *conn, struct vd_scanout *ret);

/*
 * The input the output's own display system gives (wayland: the
 * compositor's seat), as an input source whose events are addressed to the
 * guest owning the surface in focus (to_guest). The caller owns the source;
 * if it outlives the output it delivers nothing more. At most one at a
 * time (-EBUSY).
 * -EOPNOTSUPP if the output has no input.
 */
int vd_output_input_source(struct vd_output *out, struct vd_input_source **ret_src);

/* Create by name ("headless", ...). -ENOENT for an unknown name. Borrows loop. */
int vd_output_create(const char *name, sd_event *loop, const struct vd_output_opts *opts,
		     struct vd_output **ret_out);
/* The i-th name vd_output_create knows, NULL past the last (configuration checks). */
const char *vd_output_name(size_t i);
void vd_output_destroy(struct vd_output *out);

/*
 * The outputs keep their connectors and framebuffers on intrusive lists:
 * a node has `next` and `pprev` (the link that points at it), so it unlinks
 * itself in O(1) without knowing the list's head.
 */
#define VD_LIST_PUSH(headp, node)                                                          \
	do {                                                                                \
		(node)->next = *(headp);                                                    \
		if (*(headp))                                                               \
			(*(headp))->pprev = &(node)->next;                                  \
		(node)->pprev = (headp);                                                    \
		*(headp) = (node);                                                          \
	} while (0)
#define VD_LIST_UNLINK(node)                                                               \
	do {                                                                                \
		if ((node)->next)                                                           \
			(node)->next->pprev = (node)->pprev;                                \
		*(node)->pprev = (node)->next;                                              \
	} while (0)

#endif
