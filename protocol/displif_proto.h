/* SPDX-License-Identifier: MIT */
/*
 * displif wire codec: decode and validate requests copied out of a ring,
 * encode responses and events. Pure C, no I/O, no Xen calls.
 *
 * Every function here takes data that a hostile guest controls. All
 * arithmetic on guest values is done in 64 bits or overflow-checked.
 */
#ifndef VD_DISPLIF_PROTO_H
#define VD_DISPLIF_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ring.h expects the OS to provide these barriers. */
#ifndef mb
#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#endif
#ifndef rmb
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#endif
#ifndef wmb
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif

#include <xen/grant_table.h>
#include <xen/io/displif.h>

#define VD_PAGE_SIZE 4096u
/* Caps on guest-supplied geometry (PROTOCOL.md §6). */
#define VD_MAX_DIM 8192u
/* gntdev's default per-request grant limit: 65536 pages = 256 MiB. */
#define VD_MAX_BUFFER_PAGES 65536u
#define VD_GREFS_PER_DIR_PAGE ((VD_PAGE_SIZE - sizeof(uint32_t)) / sizeof(uint32_t)) /* 1023 */
#define VD_EDID_SIZE 128u

/* Status values as the frontend expects them (XEN_E*, equal to Linux errno). */
#define VD_STATUS_OK 0

/* DRM fourcc code, same value as fourcc_code() in drm_fourcc.h. */
#define VD_FOURCC(a, b, c, d)                                                                      \
	((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))

struct vd_dbuf_create {
	uint64_t dbuf_cookie;
	uint32_t width, height, bpp; /* all 0 for an imported PRIME buffer */
	uint32_t buffer_sz;
	uint32_t gref_directory;
	uint32_t data_ofs; /* 0 for protocol v1 */
	bool be_alloc;     /* XENDISPL_DBUF_FLG_REQ_ALLOC */
	/* derived */
	uint32_t num_pages;     /* ceil(buffer_sz / 4096) */
	uint32_t num_dir_pages; /* ceil(num_pages / 1023), >= 1 */
	uint32_t stride;        /* inferred byte stride, 0 for an imported buffer */
};

struct vd_fb_attach {
	uint64_t dbuf_cookie, fb_cookie;
	uint32_t width, height, pixel_format;
	uint32_t bpp; /* derived from pixel_format */
};

struct vd_set_config {
	uint64_t fb_cookie; /* 0: disable */
	uint32_t x, y, width, height, bpp;
};

struct vd_get_edid {
	uint32_t buffer_sz;
	uint32_t gref_directory;
	uint32_t num_pages;
	uint32_t num_dir_pages;
};

struct vd_req {
	uint16_t id;
	uint8_t operation;
	union {
		struct vd_dbuf_create dbuf_create;
		uint64_t dbuf_destroy_cookie;
		struct vd_fb_attach fb_attach;
		uint64_t fb_detach_cookie;
		struct vd_set_config set_config;
		uint64_t pg_flip_cookie;
		struct vd_get_edid get_edid;
	};
};

/*
 * Decode and validate one request that the caller already copied out of
 * the shared ring. id and operation are always filled in (so that the
 * caller can answer even a rejected request). version is the protocol
 * version in use (1 or 2): GET_EDID is unknown in v1 and data_ofs is 0.
 * Returns 0, or a negative XEN_E* status to send back (-XEN_EINVAL for a
 * bad field, -XEN_ENOSYS for an unknown operation). Reserved bytes are
 * ignored: Linux does not clear request slots (PROTOCOL.md §2).
 *
 * Checked here: cookies != 0; DBUF_CREATE flags only REQ_ALLOC, bpp in
 * {8,16,24,32} with 1 <= width, height <= VD_MAX_DIM (or all three 0 for an
 * imported buffer), 1 <= num_pages <= VD_MAX_BUFFER_PAGES, gref_directory
 * != 0, data_ofs + stride * height <= num_pages * 4096; FB_ATTACH a known
 * fourcc; SET_CONFIG (unless fb_cookie == 0, which zeroes the rest) width,
 * height, bpp as above and x, y <= VD_MAX_DIM, so x + width cannot wrap
 * (the window against the fb is vd_proto_window_valid's); GET_EDID 128 <=
 * buffer_sz <= XENDISPL_EDID_MAX_SIZE and gref_directory != 0.
 */
int vd_proto_decode_req(const struct xendispl_req *raw, int version, struct vd_req *ret_req);

/*
 * SET_CONFIG's window: a connector of conn_w x conn_h shows the part of
 * its framebuffer (fb_w x fb_h) that starts at (x, y). Linux sends
 * crtc->x/y and the fb's own size, so one fb may span several connectors,
 * each showing its own window (docs/protocol-notes.md, "SET_CONFIG"). On
 * each axis the window must lie inside the fb, or, where the whole fb is
 * smaller than the connector, start at 0: the fb is shown at the
 * connector's top-left and the rest is black, as a display shows a plane
 * smaller than its CRTC. x must not split a pixel pair of a format
 * that shares chroma between two pixels (YUYV: even x). Overflow-safe for
 * any 32-bit values.
 */
bool vd_proto_window_valid(uint32_t x, uint32_t y, uint32_t conn_w, uint32_t conn_h,
			   uint32_t fb_w, uint32_t fb_h, uint32_t fourcc);

/* Whole slot zeroed, id and operation echoed. */
void vd_proto_encode_resp(struct xendispl_resp *slot, uint16_t id, uint8_t operation,
			  int32_t status, uint32_t edid_sz);
void vd_proto_encode_pg_flip_evt(struct xendispl_evt *slot, uint16_t evt_id, uint64_t fb_cookie);

/* DRM fourcc -> bits per pixel of the first plane; -EINVAL if unsupported. */
int vd_format_bpp(uint32_t fourcc);
/*
 * true for exactly the formats Linux xen-front offers (PROTOCOL.md §2);
 * vd_format_bpp also knows a few more (XBGR8888, ABGR8888, BGR888, RGB332, C8).
 */
bool vd_format_supported(uint32_t fourcc);
/* "XRGB8888" (drm_fourcc.h's name without DRM_FORMAT_), or NULL if unknown. */
const char *vd_format_name(uint32_t fourcc);
/* Pixels that share one chroma sample horizontally: 2 for YUYV, else 1. */
uint32_t vd_format_hsub(uint32_t fourcc);

/*
 * Byte stride of a buffer of width x height at bpp with buffer_sz bytes,
 * as the Linux frontend laid it out: unaligned ceil(w*bpp/8) (Linux up to
 * 2025, size not page rounded) or aligned to 8 bytes (drm_mode_size_dumb).
 * Returns the stride, or -EINVAL if buffer_sz cannot hold the image.
 */
int64_t vd_infer_stride(uint32_t width, uint32_t height, uint32_t bpp, uint32_t buffer_sz);

/*
 * The event page producer. Ids are 0,1,2,... per connector per connection.
 * Never writes a slot the frontend has not consumed.
 */
struct vd_evt_ring {
	uint16_t next_id; /* id of the next event actually queued */
	uint32_t prod;    /* private in_prod: we are the only producer, never read it back */
};
/*
 * Put one PG_FLIP event on the page (4096 bytes, frontend owned) if there
 * is room. Returns 0 when queued (caller notifies), -EAGAIN if full,
 * -EPROTO if the frontend's in_cons is corrupt (prod - cons > 63).
 * Contains the required memory barriers.
 */
int vd_evt_ring_put_pg_flip(struct vd_evt_ring *r, void *page, uint64_t fb_cookie);
/* Reset the producer at connect: in_prod = in_cons, ids from 0. */
void vd_evt_ring_init(struct vd_evt_ring *r, void *page);

/*
 * Page directory walker. The caller maps the directory page named by
 * next_gref, copies it to local memory, unmaps it and feeds the copy. The
 * walk is bounded by the count computed from buffer_sz: a chain that is
 * short (ends early), long (does not end at the last page), loops, or holds
 * a gref 0 is rejected.
 */
struct vd_pgdir_walk {
	uint32_t num_grefs;     /* data pages expected */
	uint32_t num_dir_pages; /* directory pages expected */
	uint32_t dir_seen;      /* directory pages fed so far */
	uint32_t collected;     /* grefs collected so far */
	uint32_t next_gref;     /* directory page to feed next */
	uint32_t *grefs;        /* caller-owned, num_grefs entries */
	bool fill;              /* be-alloc: the walk writes grefs instead of reading */
};
/* grefs must hold num_grefs entries. Returns 0 or -EINVAL. */
int vd_pgdir_walk_init(struct vd_pgdir_walk *w, uint32_t num_grefs, uint32_t first_dir_gref,
		       uint32_t *grefs);
/*
 * Feed one local copy of a directory page. Returns 1 when another page is
 * needed (w->next_gref), 0 when the walk is complete, -EINVAL on a
 * malformed chain. For a be-alloc walk (w->fill = true) use
 * vd_pgdir_fill_page on the mapped page instead.
 */
int vd_pgdir_walk_feed(struct vd_pgdir_walk *w, const void *dir_page);
/*
 * be-alloc: write the next grefs into a mapped directory page (only the
 * gref[] part; gref_dir_next_page is the frontend's and is read back
 * through *ret_next). Returns 1 if more pages follow, 0 when done,
 * -EINVAL on a malformed chain.
 */
int vd_pgdir_fill_page(struct vd_pgdir_walk *w, void *dir_page_mapped, uint32_t *ret_next);

/* ceil(bytes / 4096) and ceil(pages / 1023). */
uint32_t vd_pages_for_bytes(uint32_t bytes);
uint32_t vd_dir_pages_for(uint32_t num_grefs);

/*
 * EDID 1.4 base block (128 bytes, checksum valid) with one detailed timing
 * of width x height at 60 Hz, a monitor name descriptor and range limits.
 * Returns 0 or -EINVAL if the resolution cannot be described.
 */
int vd_edid_generate(uint32_t width, uint32_t height, const char *monitor_name,
		     uint8_t out[VD_EDID_SIZE]);

#endif
