/* SPDX-License-Identifier: MIT */
/*
 * What an output implementation needs (users of an output need only
 * output.h). The output core (core.c) owns the flip contract once for
 * every output:
 *
 *  - each connector's queue of flips, in order, and the window each flip
 *    shows (SET_CONFIG's);
 *  - exactly one flip_done per accepted flip, even when the connector or
 *    the fb goes away meanwhile, and callbacks that may call back into the
 *    output (a connector destroyed from its own flip_done is freed later);
 *  - fb lifetimes: a destroyed fb is forgotten by every queued and shown
 *    frame before the output releases it;
 *  - pacing: a vblank grid per connector for outputs without a device
 *    (VD_PACE_TIMER), or the device's own completion (VD_PACE_DEVICE) with
 *    a watchdog, and "blind" pacing while a connector has no display;
 *  - statistics, latency, layout listeners, screenshots (off the loop).
 *
 * An output then only presents pictures and says when they were shown:
 *
 *  VD_PACE_TIMER   the core calls present(conn, frame) at each vblank (and
 *                  at set_config) and completes the flip itself;
 *  VD_PACE_DEVICE  the core calls kick(conn) when conn has something new
 *                  (a queued flip, a set_config, a blank); the output takes
 *                  the frames it can show (vd_output_conn_take), shows them
 *                  and reports vd_output_conn_presented when the device
 *                  says so. A frame taken and not presented within
 *                  watchdog_us is completed by the core all the same.
 *
 * Connector and fb objects are allocated by the core (conn_size, fb_size
 * bytes, the base first), so an implementation embeds the base as its
 * first member and downcasts with a helper that checks out->impl.
 */
#ifndef VD_OUTPUT_IMPL_H
#define VD_OUTPUT_IMPL_H

#include "output/output.h"

enum vd_output_pacing {
	VD_PACE_TIMER,  /* no device: the core's vblank grid (refresh_mhz) */
	VD_PACE_DEVICE, /* the device says when a frame is shown */
};

/* A picture a connector shows: an fb (NULL: black) and its window into it. */
struct vd_output_frame {
	struct vd_output_fb *fb;
	struct vd_rect window;
};

struct vd_output_flip; /* the core's */
struct vd_output_shot;
struct vd_shot_service;

struct vd_output_impl {
	const char *name;
	enum vd_output_pacing pacing;
	uint64_t watchdog_us; /* VD_PACE_DEVICE: taken and not presented this long: completed */
	size_t conn_size, fb_size; /* of the implementation's structs, base first */

	void (*destroy)(struct vd_output *out);
	/* Place the new connector (conn->desc is set; desc->mapping/target for the call). */
	int (*conn_init)(struct vd_output_conn *conn, const struct vd_output_conn_desc *desc);
	/* The core has dropped its flips; let go of everything of conn (not its memory). */
	void (*conn_finish)(struct vd_output_conn *conn);
	/* Import fb->src if the output can use it directly. */
	int (*fb_init)(struct vd_output_fb *fb);
	/*
	 * No frame shows or will show fb any more (the core made them blank
	 * and kicked the connectors that showed it): drop every CPU reference
	 * to fb->src now; a device may keep scanning out an import until its
	 * next commit, released later by the output itself.
	 */
	void (*fb_finish)(struct vd_output_fb *fb);
	/* VD_PACE_DEVICE: conn has a queued flip or a new picture to show. */
	void (*kick)(struct vd_output_conn *conn);
	/* A taken frame's watchdog fired (the device is late or silent). Optional. */
	void (*late)(struct vd_output_conn *conn);
	/*
	 * VD_PACE_TIMER: conn shows frame from now (a vblank, or set_config).
	 * Optional (a copying output copies here).
	 */
	void (*present)(struct vd_output_conn *conn, const struct vd_output_frame *frame);
	/*
	 * What conn shows for the CPU, if the output shows something other
	 * than the guest's memory (a copy). Optional: else the window of the
	 * current frame's fb through its map. false: nothing readable.
	 */
	bool (*view)(struct vd_output_conn *conn, struct vd_frame_view *ret);

	/* Optional operations: the wrappers in core.c answer for a missing one. */
	int (*buffer_alloc)(struct vd_output *out, uint64_t size, int *ret_fd, void **ret_map);
	void (*buffer_free)(struct vd_output *out, int fd, void *map, uint64_t size);
	int (*conn_get_edid)(struct vd_output_conn *conn, void *buf, size_t size);
	int (*conn_layout)(struct vd_output_conn *conn, struct vd_rect *ret);
	int (*conn_scanout)(struct vd_output_conn *conn, struct vd_scanout *ret);
	int (*input_source)(struct vd_output *out, struct vd_input_source **ret_src);
	/* At vd_output_destroy, before destroy: the output's own exit lines. */
	void (*report)(struct vd_output *out);
};

/* Latency samples kept per output (the last flips). */
#define VD_OUTPUT_LAT_SAMPLES 4096u

struct vd_output_lat {
	uint32_t take_us, done_us; /* from the flip request */
};

struct vd_output {
	const struct vd_output_impl *impl;
	sd_event *loop;      /* borrowed */
	bool force_copy;     /* --copy */
	uint64_t period_us;  /* vblank grid and blind pace; 0: at once */
	struct vd_output_stats stats;
	uint64_t blind;      /* flips completed unshown while their connector was blind */
	struct vd_signal layout_changed;
	struct vd_output_conn *conns;
	struct vd_output_fb *fbs;
	struct vd_output_conn *dead;   /* destroyed, freed by reap */
	sd_event_source *reap;         /* deferred frees */
	sd_event_source *vblank;       /* the grid epoch_us + k * period_us, for all connectors */
	uint64_t epoch_us;
	uint32_t batch;                /* vd_output_present_begin depth */
	struct vd_shot_service *shots;
	struct vd_output_lat lat[VD_OUTPUT_LAT_SAMPLES];
	uint64_t nlat;
};

struct vd_output_conn {
	struct vd_output *out;
	struct vd_output_conn *next, **pprev;
	struct vd_output_conn *dead_next; /* destroyed, until reaped */
	struct vd_output_conn_desc desc; /* name is name; target and mapping NULL */
	char *name;                      /* owned */
	struct vd_rect window;           /* of the last set_config: for new flips */
	struct vd_output_frame cur;      /* what it shows now */
	uint64_t seq;                    /* bumped whenever cur changes */
	uint64_t flips, last_flip_us;    /* accepted; when the last was (vd_output_conn_get_state) */
	struct vd_output_flip *q, **qtail; /* accepted, not taken */
	struct vd_output_flip *taken, **ttail; /* taken by the output, not presented */
	sd_event_source *timer; /* the watchdog of frames taken by the device */
	bool vblank_due;        /* waits for the output's next vblank */
	bool blind;             /* no display: the core paces and completes */
	bool kick_pending;      /* a kick deferred by a present batch */
	bool dispatching, destroyed;
	struct vd_output_screenshot *screenshot; /* in progress, or NULL */
};

struct vd_output_fb {
	struct vd_output *out;
	struct vd_output_fb *next, **pprev;
	struct vd_frame_src src;
	bool cpu_mapped; /* src.map comes from src.mapper: unmapped when the fb goes */
};

/* ---- for implementations ---- */

/* create: the base of a new output (impl, loop, opts); 0 or -errno. */
int vd_output_init(struct vd_output *out, const struct vd_output_impl *impl, sd_event *loop,
		   const struct vd_output_opts *opts);
/* destroy: what vd_output_init made. */
void vd_output_finish(struct vd_output *out);

/*
 * VD_PACE_DEVICE: the oldest queued flip of conn becomes what it shows
 * (conn->cur, returned) and waits for vd_output_conn_presented; NULL if
 * none is queued. The watchdog runs from the first frame taken.
 */
const struct vd_output_frame *vd_output_conn_take(struct vd_output_conn *conn);
bool vd_output_conn_has_queued(const struct vd_output_conn *conn);
/*
 * Every frame taken from conn is on screen (shown) or was not shown after
 * all (a failed commit, the display gone): their flips complete, in order.
 * The callbacks may destroy conn or queue flips; kicks that queuing causes
 * wait until the batch ends (present_begin/end around several presented).
 */
void vd_output_conn_presented(struct vd_output_conn *conn, bool shown);
void vd_output_present_begin(struct vd_output *out);
void vd_output_present_end(struct vd_output *out);
/*
 * No display for conn (unplugged, stuck, no window): the core takes and
 * completes its flips at the vblank pace, unshown, keeping cur current.
 * false: the output shows it again (kicked if anything is queued).
 */
void vd_output_conn_set_blind(struct vd_output_conn *conn, bool blind);
/*
 * The CPU view of fb, mapped now if it has none yet (src.mapper) and kept
 * until the fb goes; NULL if it cannot be mapped (no mapper, the guest at
 * its cap). Only where pixels are read: a display that scans the dma-buf
 * out needs none.
 */
const void *vd_output_fb_map(struct vd_output_fb *fb);
/* A frame was copied into an output-owned buffer. */
void vd_output_count_copy(struct vd_output *out, uint64_t bytes);
/* Tell the layout listeners (outputs with a shared screen). */
void vd_output_layout_changed(struct vd_output *out);
/* The connectors and fbs of out, in no particular order. */
#define vd_output_for_each_conn(c, out) for (c = (out)->conns; c; c = c->next)

/* be-alloc in shared memory: the memfd stands in for the dma-buf. */
int vd_output_shm_alloc(uint64_t size, int *ret_fd, void **ret_map);
void vd_output_shm_free(int fd, void *map, uint64_t size);
/* The geometry fits the buffer, whole bytes per pixel, a CPU map (need_map) or a dma-buf. */
bool vd_frame_src_valid(const struct vd_frame_src *src, bool need_map);

/*
 * What conn shows now for the CPU (impl->view, else its window of the
 * current fb), with seq. False if nothing.
 */
bool vd_output_conn_view(struct vd_output_conn *conn, struct vd_frame_view *ret);

/*
 * The outputs keep objects of their own on intrusive lists: a node has
 * `next` and `pprev` (the link that points at it), so it unlinks itself in
 * O(1) without knowing the list's head.
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
