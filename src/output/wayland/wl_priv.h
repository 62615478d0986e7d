/* SPDX-License-Identifier: MIT */
/*
 * Private to src/output/wayland: the Wayland output's objects and their
 * lifetimes.
 *
 *  wlo_output  the connection to the compositor (or none: "blind"), its
 *              globals, the loop sources for the display fd and for
 *              reconnecting, the connectors and fbs. Lives from create to
 *              destroy; the connection comes and goes with the compositor.
 *  wlo_conn    one virtual connector: a window (an xdg toplevel titled
 *              "<guest>:<n>", app_id "vdispld.<guest>.<n>", or an IVI
 *              surface) while connected, whose size the compositor decides.
 *              With wp_viewporter and wl_subcompositor the window is a
 *              black pixel (wl_draw.c) stretched to its size, and the
 *              picture a subsurface (synchronized: it changes with the
 *              window's commit) scaled into it, aspect kept; its buffers
 *              are sized by what it shows (wl_fit.c). Without them the
 *              window is the connector's size and its buffers too, and
 *              only what changed is cleared. Its flips are the
 *              output core's: at most one frame is taken, committed and
 *              waiting for the surface's frame callback; the core's
 *              watchdog (WLO_FALLBACK_US) completes it when the compositor
 *              withholds callbacks (hidden surface), and the core paces the
 *              connector blind while it has no window, so a guest never
 *              waits for its own watchdog.
 *  wlo_fb      a guest framebuffer: the guest's memory (borrowed) and, if
 *              the compositor took its dma-buf through zwp_linux_dmabuf_v1,
 *              a wl_buffer made of it (zero copy). Otherwise frames are
 *              copied into the connector's wl_shm buffers.
 *
 * Every wl_* object belongs to one connection: wlo_disconnect destroys them
 * all, and they are made anew when the compositor is back.
 */
#ifndef VD_OUTPUT_WAYLAND_PRIV_H
#define VD_OUTPUT_WAYLAND_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <wayland-client.h>

#include "output/output_impl.h"
#include "output/wayland/wayland.h"

#define WLO_NBUF 2u
/* No frame callback this long after a commit: complete the flip anyway. */
#define WLO_FALLBACK_US 50000u
#define WLO_RECONNECT_US 1000000u
#define WLO_MAX_FORMATS 128u
/* Larger window sizes from the compositor are taken as this (surface coordinates). */
#define WLO_MAX_WINDOW 32767u

struct ivi_application;
struct ivi_surface;
struct xdg_wm_base;
struct xdg_surface;
struct xdg_toplevel;
struct zwp_linux_dmabuf_v1;
struct zxdg_output_manager_v1;
struct zwp_linux_dmabuf_feedback_v1;
struct zxdg_output_v1;
struct zwp_linux_buffer_params_v1;
struct wp_viewporter;
struct wp_viewport;
struct wlo_seat_src;
struct vd_input_source;

/* A wl_shm buffer of a connector; busy from attach until wl_buffer.release. */
struct wlo_shmbuf {
	struct wlo_conn *conn;
	struct wl_buffer *buffer; /* NULL: not made yet */
	uint8_t *map;
	size_t size;
	uint32_t width, height, stride, format, bpp;
	struct vd_rect drawn; /* where it holds anything but black (zero when made) */
	bool busy;
};

/*
 * A connector's picture in its window (surface coordinates): the whole
 * picture (outer, centred, aspect kept) and the part with pixels (dest);
 * the buffer carrying that part has every step-th pixel of it, buf_w x
 * buf_h.
 */
struct wlo_place {
	struct vd_rect outer, dest;
	uint32_t step, buf_w, buf_h;
};

struct wlo_conn {
	struct vd_output_conn base; /* cur: what it shows (set_config or the last flip) */
	struct wlo_output *out;

	struct wl_surface *surface; /* NULL: no window (not connected) */
	struct xdg_surface *xdg_surface;
	struct xdg_toplevel *toplevel;
	struct ivi_surface *ivi_surface; /* instead of xdg: the compositor offers ivi_application */
	uint32_t ivi_id;                 /* the connector's IVI surface id (configured or default) */
	char *fullscreen;                /* output name to be fullscreen on, or NULL */
	bool configured; /* the first configure is acked: buffers may be attached */
	bool stale;      /* a redraw without a flip waits: for the flip in flight or a free buffer */
	bool starved;    /* a frame found no free buffer: blind until one is released */
	uint64_t drawn_seq;              /* base.seq of what was committed last */
	uint32_t win_w, win_h;           /* the window's size (0: not decided yet) */
	uint32_t pend_w, pend_h;         /* of the toplevel configure not acked yet */
	/* scaled windows only (wp_viewporter and wl_subcompositor): */
	struct wp_viewport *bg_viewport; /* stretches the black pixel over the window */
	struct wl_surface *pic;          /* the picture, a subsurface of surface */
	struct wl_subsurface *pic_sub;
	struct wp_viewport *pic_viewport;
	bool pic_mapped;                 /* pic has a buffer */
	struct vd_rect pic_dest;         /* where pic was put last (in the window) */
	uint32_t bg_w, bg_h;             /* the black pixel's size last committed; 0: not attached */
	struct wlo_shmbuf bufs[WLO_NBUF];
	struct wlo_fb *attached_dmabuf; /* fb whose own wl_buffer is attached, or NULL */
	struct wl_callback *frame_cb;   /* for the frame taken, committed */
};

enum wlo_import { WLO_IMPORT_NONE, WLO_IMPORT_PENDING, WLO_IMPORT_OK, WLO_IMPORT_FAILED };

struct wlo_fb {
	struct vd_output_fb base; /* src: borrowed guest memory, valid until fb_finish */
	struct wlo_output *out;
	int dmabuf;              /* our reference to the guest's dma-buf, or -1 */
	enum wlo_import import;
	struct zwp_linux_buffer_params_v1 *params; /* while PENDING */
	struct wl_buffer *buffer;                  /* while OK */
};

/* A compositor output (wl_output), known by its name for fullscreen windows. */
struct wlo_head {
	struct wlo_head *next;
	struct wlo_output *out;
	uint32_t global;
	struct wl_output *output;
	struct zxdg_output_v1 *xdg_output; /* names outputs before wl_output v4 */
	int32_t mode_w, mode_h, scale;     /* the current mode (0: not known), the scale */
	char name[64];                     /* "" not known yet */
};

struct wlo_format {
	uint32_t fourcc;
	uint64_t modifier;
};

struct wlo_output {
	struct vd_output base;
	sd_event *loop; /* borrowed */
	bool force_copy;

	struct wl_display *display; /* NULL: not connected */
	struct wl_registry *registry;
	struct wl_callback *sync;   /* the first round trip: globals known when done */
	bool globals_bound;         /* the first round trip is done */
	bool ready;                 /* globals and their events known: windows can be made */
	bool broken;                /* the connection failed: disconnect after dispatch */
	bool read_prepared;         /* wl_display_prepare_read done, read or cancel due */
	struct wl_compositor *compositor;
	struct wl_subcompositor *subcompositor;   /* NULL if not offered */
	struct wp_viewporter *viewporter;         /* NULL if not offered */
	struct wl_buffer *black;                  /* 3x3 black wl_shm buffer, made on use */
	struct xdg_wm_base *wm_base;
	struct ivi_application *ivi_application; /* NULL if not offered */
	struct wl_shm *shm;
	struct zxdg_output_manager_v1 *xdg_output_manager; /* NULL if not offered */
	struct wlo_head *heads;
	struct zwp_linux_dmabuf_v1 *linux_dmabuf; /* NULL if not offered */
	uint32_t shm_formats[WLO_MAX_FORMATS], nshm_formats;
	struct wlo_format dmabuf_formats[WLO_MAX_FORMATS];
	uint32_t ndmabuf_formats;
	/* linux-dmabuf v4: the default feedback, its format table and the next set */
	struct zwp_linux_dmabuf_feedback_v1 *feedback;
	void *fb_table;
	size_t fb_table_size;
	struct wlo_format fb_next[WLO_MAX_FORMATS];
	uint32_t nfb_next;
	bool fb_got_done; /* a feedback done arrived: dmabuf_formats are the feedback's */
	sd_event_source *io, *reconnect;

	/* The compositor's first wl_seat and its devices (per its capabilities), or NULL. */
	struct wl_seat *seat;
	uint32_t seat_global;
	struct wl_keyboard *keyboard;
	struct wl_pointer *pointer;
	struct wl_touch *touch;
	struct wlo_seat_src *input; /* the input source made of the seat, or NULL */

	/* how flips completed, and through which buffers */
	uint64_t callbacks, fallbacks, blind, zero_copy, dropped, connects;
	uint64_t conversions; /* wl_shm copies converted: the compositor lacks the format */
	uint64_t shm_peak;    /* most wl_shm bytes one connector held at once */
	uint64_t copy_ns;     /* time spent copying frames into wl_shm */
};

/* wl_output.c */
struct wlo_output *wlo_output_from(struct vd_output *out);
uint64_t wlo_now(const struct wlo_output *out);
/* The output named name, or NULL. */
struct wlo_head *wlo_head_find(struct wlo_output *out, const char *name);
/* The connection failed: drop it (from outside any wayland callback). */
void wlo_disconnect(struct wlo_output *out);

/* wl_conn.c: the core's operations */
int wlo_conn_init(struct vd_output_conn *conn, const struct vd_output_conn_desc *desc);
void wlo_conn_finish(struct vd_output_conn *conn);
void wlo_conn_kick(struct vd_output_conn *conn);
void wlo_conn_late(struct vd_output_conn *conn);
/* Make the connector's window (connected and ready) or forget it (disconnected). */
void wlo_conn_window_create(struct wlo_conn *conn);
void wlo_conn_window_destroy(struct wlo_conn *conn);
/* fb is going away: the compositor must let go of its own wl_buffer (black instead). */
void wlo_conn_forget_fb(struct wlo_conn *conn, const struct wlo_fb *fb);

/* wl_draw.c: a connector's buffers and what its window shows */
/* Windows are scaled: the compositor offers wp_viewporter and wl_subcompositor. */
bool wlo_scaled(const struct wlo_output *out);
/* Make the picture's subsurface of a new window (scaled windows only). */
void wlo_draw_init(struct wlo_conn *conn);
/*
 * Put what conn shows now (base.cur) into its window's surfaces, the
 * picture's committed (a synchronized subsurface: applied with the
 * window's); the caller commits conn->surface. false: no free buffer.
 */
bool wlo_draw(struct wlo_conn *conn);
/* Forget the buffers and the picture's surfaces (local: the window goes). */
void wlo_draw_finish(struct wlo_conn *conn);
/* A window position (surface coordinates) in the connector's coordinates. */
void wlo_conn_to_connector(const struct wlo_conn *conn, wl_fixed_t x, wl_fixed_t y,
			   int32_t *ret_x, int32_t *ret_y);
/* conn's window belongs to surface: the window or its picture; NULL: none of ours. */
struct wlo_conn *wlo_conn_of_surface(struct wlo_output *out, struct wl_surface *surface);

/* wl_fit.c */
/*
 * Fit a conn_w x conn_h picture into a win_w x win_h window; part is the
 * rectangle of the picture with pixels (inside conn_w x conn_h, not empty).
 */
void wlo_fit(uint32_t win_w, uint32_t win_h, uint32_t conn_w, uint32_t conn_h,
	     const struct vd_rect *part, struct wlo_place *ret);
/* A window for a conn_w x conn_h picture: its size, shrunk to fit max_w x max_h (0: no limit). */
void wlo_default_size(uint32_t conn_w, uint32_t conn_h, uint32_t max_w, uint32_t max_h,
		      uint32_t *ret_w, uint32_t *ret_h);
/* a minus b as up to 4 disjoint rectangles; their count. */
uint32_t wlo_rect_minus(const struct vd_rect *a, const struct vd_rect *b, struct vd_rect ret[4]);

/* wl_fb.c */
int wlo_fb_init(struct vd_output_fb *fb);
void wlo_fb_finish(struct vd_output_fb *fb);
struct wlo_fb *wlo_fb_from(struct vd_output_fb *fb);
/* Offer fb's dma-buf to the compositor (connected and ready). */
void wlo_fb_import(struct wlo_fb *fb);
/* Forget the wayland objects of fb (the connection is gone). */
void wlo_fb_forget_import(struct wlo_fb *fb);
int wlo_buffer_alloc(struct vd_output *out, uint64_t size, int *ret_fd, void **ret_map);
void wlo_buffer_free(struct vd_output *out, int fd, void *map, uint64_t size);

/*
 * The IVI surface id of a connector: its mapping when that is a decimal
 * number (connector.N = 1234 in vdispld.conf); without a mapping, the
 * guest's unique-id when that is one (xl's connectors=1234:WxH, the id
 * displ_be used as the surface id); else WLO_IVI_ID_BASE + domid * 100 +
 * index. 0 if the number chosen is out of range. mapping, unique_id: NULL
 * or "" for none.
 */
#define WLO_IVI_ID_BASE 1000000u
uint32_t wlo_ivi_id(const char *mapping, const char *unique_id, uint32_t domid, uint32_t index);

/* wl_seat.c */
void wlo_seat_bind(struct wlo_output *out, struct wl_registry *reg, uint32_t name,
		   uint32_t version);
/* Release what is held in the guests (input delivered), forget the seat's proxies. */
void wlo_seat_destroy(struct wlo_output *out);
int wlo_input_source(struct vd_output *out, struct vd_input_source **ret_src);
/* The output goes: the source (owned by the router) outlives it, deaf. */
void wlo_seat_forget_source(struct wlo_output *out);

/* wl_format.c */
/* The wl_shm format of a DRM fourcc. */
uint32_t wlo_shm_format(uint32_t fourcc);
/* How a frame of fourcc goes into a wl_shm buffer. */
struct wlo_shm_choice {
	uint32_t format; /* wl_shm format of the buffer */
	uint32_t bpp;    /* of the buffer */
	bool convert;    /* wlo_convert_row into XRGB8888/ARGB8888, else copied as is */
};
/*
 * The frame's own format if it is among the nformats the compositor
 * advertised, else a conversion to 32 bpp. -1: a format we cannot show.
 */
int wlo_shm_choose(const uint32_t *formats, uint32_t nformats, uint32_t fourcc, uint32_t bpp,
		   struct wlo_shm_choice *ret);
/*
 * linux-dmabuf format selection. wlo_format_add: (fourcc, modifier) added
 * to the n of f unless there or f is full (max); returns the new count.
 * wlo_feedback_tranche: the entries of a feedback format table (16 bytes
 * each: u32 format, u32 padding, u64 modifier; table_size bytes) that a
 * tranche names by index, added; indices past the table are skipped.
 * wlo_dmabuf_modifier: the modifier to import a linear guest buffer of
 * fourcc with (LINEAR if offered, else INVALID = implicit); -1: none.
 */
uint32_t wlo_format_add(struct wlo_format *f, uint32_t n, uint32_t max, uint32_t fourcc,
			uint64_t modifier);
uint32_t wlo_feedback_tranche(struct wlo_format *f, uint32_t n, uint32_t max,
			      const void *table, size_t table_size, const uint16_t *idx,
			      uint32_t nidx);
int wlo_dmabuf_modifier(const struct wlo_format *f, uint32_t n, uint32_t fourcc,
			uint64_t *ret_mod);
/*
 * Pixels x0..x0+w-1 of a row of row_w pixels of fourcc as XRGB8888
 * (ARGB8888 with alpha); nothing past the row's row_w pixels is read.
 */
void wlo_convert_row(uint32_t fourcc, const uint8_t *src, uint32_t row_w, uint32_t x0, uint32_t w,
		     uint32_t *dst);
/* Pixel x of such a row as XRGB8888 (ARGB8888 with alpha). */
uint32_t wlo_convert_px(uint32_t fourcc, const uint8_t *src, uint32_t row_w, uint32_t x);

#endif
