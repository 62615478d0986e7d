/* SPDX-License-Identifier: MIT */
/*
 * Private to src/output/kms: the decisions of the KMS output as pure
 * functions (no DRM device needed), so that unit tests cover them on
 * machines without /dev/dri: which mode a display gets, where each
 * virtual connector goes on a shared screen, and whether a plane can
 * scan out a format/modifier (IN_FORMATS).
 */
#ifndef VD_OUTPUT_KMS_LOGIC_H
#define VD_OUTPUT_KMS_LOGIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "output/output.h"

/* DRM_FORMAT_MOD_LINEAR and _INVALID (drm_fourcc.h), without the header. */
#define VD_KMS_MOD_LINEAR 0ull
#define VD_KMS_MOD_INVALID 0x00ffffffffffffffull

/* What mode selection needs of a drmModeModeInfo. */
struct vd_kms_mode {
	uint32_t width, height;
	uint32_t refresh_mhz; /* vertical refresh in mHz */
	bool preferred;       /* DRM_MODE_TYPE_PREFERRED */
};

/*
 * The index of the mode for a virtual connector of width x height: an
 * exact match if the display has one (the preferred one among several,
 * else the highest refresh), else the preferred mode, else the largest.
 * -ENOENT if n is 0.
 */
int vd_kms_mode_pick(const struct vd_kms_mode *modes, size_t n, uint32_t width, uint32_t height);

/*
 * Cell i of n equal columns side by side on a screen_w x screen_h screen
 * (the last takes the remainder). n 0 or i >= n: an empty rectangle.
 */
struct vd_rect vd_kms_layout_cell(uint32_t screen_w, uint32_t screen_h, uint32_t n, uint32_t i);

/*
 * Where a src_w x src_h picture goes in cell: centred 1:1 if it fits. If
 * it does not, and scale is true, scaled down keeping the aspect ratio
 * (for planes that scale); else cropped to the cell, around the centre of
 * the picture (a CPU copy does not scale). ret_src is the part of the
 * picture shown, ret_dst where it lands (same size unless scaled). False
 * if nothing is visible.
 */
bool vd_kms_fit(const struct vd_rect *cell, uint32_t src_w, uint32_t src_h, bool scale,
		struct vd_rect *ret_src, struct vd_rect *ret_dst);
/*
 * A connector's frame (frame_w x frame_h, its resolution) fitted into cell
 * as vd_kms_fit does without scaling, with a picture of pic_w x pic_h at
 * the frame's top-left (a fb smaller than the connector; the rest of the
 * frame is black). ret_src: the part of the picture shown, ret_dst: where
 * on the screen. False if none of the picture is visible.
 */
bool vd_kms_fit_frame(const struct vd_rect *cell, uint32_t frame_w, uint32_t frame_h,
		      uint32_t pic_w, uint32_t pic_h, struct vd_rect *ret_src,
		      struct vd_rect *ret_dst);

/*
 * A placement rectangle "X,Y,WxH" (connector.N in a guest's configuration:
 * decimal, no signs, W and H at least 1, X + W and Y + H within 32 bits).
 * False for anything else (a connector name, garbage).
 */
bool vd_kms_parse_rect(const char *s, struct vd_rect *ret);

/* r clipped to a screen_w x screen_h screen; false if nothing of it is on it. */
bool vd_kms_clip(const struct vd_rect *r, uint32_t screen_w, uint32_t screen_h,
		 struct vd_rect *ret);

/* Whether two rectangles share a pixel. */
bool vd_kms_overlap(const struct vd_rect *a, const struct vd_rect *b);

/*
 * The screen coordinates of placement rectangles: the displays side by
 * side, left to right in the order given, display i widths[i] wide. The
 * index of the display whose span holds r's left edge, with r in that
 * display's own coordinates in *ret_local (not clipped); -ENOENT if r
 * starts right of every display.
 */
int vd_kms_desktop_locate(const uint32_t *widths, size_t n, const struct vd_rect *r,
			  struct vd_rect *ret_local);

/* A virtual connector, for vd_kms_claim: what placed it and where it is. */
struct vd_kms_claim_conn {
	const char *mapping; /* its configuration's connector.N: a name or "X,Y,WxH"; NULL: none */
	const char *target;  /* the display its guest's unique-id names; NULL: none */
	size_t head;         /* the index of the display it is on now */
};

/*
 * The connectors display idx (of n: names[], widths[] as for
 * vd_kms_desktop_locate) takes when it is connected after they were
 * placed: each one for which it ranks better than the display it is on,
 * by the rule that placed it. A display ranks 0 for a connector whose
 * mapping names it or whose rectangle starts on it, 1 if only the
 * guest's unique-id names it, 2 otherwise. So a connector whose display
 * was missing (placed by default, possibly on a display that is off)
 * goes to it, one already on its display stays. At most room, rank 0
 * before rank 1, else in the order given; ret_take[i] says which.
 * Returns how many.
 */
uint32_t vd_kms_claim(const struct vd_kms_claim_conn *conns, uint32_t nconns,
		      const char *const *names, const uint32_t *widths, size_t n, size_t idx,
		      uint32_t room, bool *ret_take);

/* One connector on a head, for the plane plan, in stacking order (bottom first). */
struct vd_kms_plane_req {
	struct vd_rect dst;    /* where its picture lands on the screen */
	uint32_t src_w, src_h; /* the part of its buffer shown: scaled when not dst's size */
	bool importable;       /* its buffer is a DRM fb the planes can scan out */
	/*
	 * The opaque area it covers (its place: black around a smaller
	 * picture), which only the primary plane's composition can draw;
	 * empty: dst.
	 */
	struct vd_rect cover;
};

struct vd_kms_plane_caps {
	uint32_t noverlays; /* overlay planes usable on the head's CRTC */
	bool scaling;       /* they scale */
};

#define VD_KMS_PLANE_COMPOSED (-1)
#define VD_KMS_PLANE_PRIMARY 0

/*
 * Which plane shows each of n connectors (ret_plane[i]): the primary
 * plane directly (one importable connector filling a screen_w x
 * screen_h screen 1:1), overlay k (k + 1, stacked upwards in k), or the
 * composition in the primary plane's buffer (VD_KMS_PLANE_COMPOSED).
 * Overlays go to importable connectors from the top of the stack down; a
 * connector gets one only if nothing composed covers its picture from
 * above: every connector above it whose cover overlaps its dst must be on
 * an overlay too, with a picture filling its cover (an overlay is above
 * the primary plane, so the composition cannot hide it), and only
 * unscaled unless caps->scaling.
 * Returns how many connectors are composed (copies per frame at most).
 * The driver still decides (an atomic TEST_ONLY commit); a refused plan
 * falls back to composing everything.
 */
uint32_t vd_kms_plane_plan(const struct vd_kms_plane_req *reqs, uint32_t n,
			   const struct vd_kms_plane_caps *caps, uint32_t screen_w,
			   uint32_t screen_h, int *ret_plane);

/*
 * Whether an IN_FORMATS blob (struct drm_format_modifier_blob, len bytes,
 * untrusted: every offset and count is checked) lists fourcc with
 * modifier. VD_KMS_MOD_INVALID ("implicit") matches a format listed with
 * any modifier. False for a malformed blob.
 */
bool vd_kms_in_formats_has(const void *blob, size_t len, uint32_t fourcc, uint64_t modifier);

#endif
