/* SPDX-License-Identifier: MIT */
/*
 * Screenshots off the event loop, for the output core (core.c): a PNG of
 * what a connector shows, for `vdispctl screenshot` and the headless
 * capture. Encoding a big frame takes seconds (an 8192x8192 connector:
 * about 4.5 s here), so it must not run on the loop:
 *
 *  1. copying: the pixels are copied into a private buffer on the loop, a
 *     slice (VD_SHOT_SLICE_BYTES) per loop turn at idle priority, re-reading
 *     the connector's view each turn, so no single turn is long and the
 *     guest's memory is only read while it is shown (a fb destroyed
 *     meanwhile is simply not read again). A frame that changes under the
 *     copy restarts it, twice at most; after that the copy goes on and
 *     the picture may mix two frames, as a screen grab without vsync does;
 *  2. encoding: one worker thread owns the private copy, encodes it and
 *     writes the file (vd_png_write_canvas: a temporary file renamed over
 *     the path); the result comes back to the loop through an eventfd.
 *
 * One shot at a time per connector (the core's rule), and all shots
 * together hold at most VD_SHOT_MAX_BYTES of copies (more: -EBUSY).
 */
#ifndef VD_OUTPUT_SHOT_H
#define VD_OUTPUT_SHOT_H

#include <stdint.h>

#include <systemd/sd-event.h>

#include "output/output.h"

/* One slice of a copy per loop turn: ~0.1-0.3 ms of memcpy here. */
#define VD_SHOT_SLICE_BYTES (1u << 20)
/* Copies held by shots in progress: one 8192x8192 32-bit frame, and some. */
#define VD_SHOT_MAX_BYTES (320ull << 20)

struct vd_shot_service;
struct vd_output_shot;

/* Where a shot reads from, each slice: false when there is nothing to read. */
typedef bool (*vd_shot_source)(void *source, struct vd_frame_view *ret);

int vd_shot_service_create(sd_event *loop, struct vd_shot_service **ret_svc);
/* Shots still encoding are finished (their files written), none is called back. NULL ok. */
void vd_shot_service_destroy(struct vd_shot_service *svc);

/*
 * Start a shot of what read(source) gives, written as a canvas_w x
 * canvas_h PNG (the picture at its top-left, black around) to path
 * (copied). done(userdata, status) follows on the loop, once, unless
 * cancelled. -ENODATA if read gives nothing now, -EBUSY over the budget.
 */
int vd_shot_start(struct vd_shot_service *svc, vd_shot_source read, void *source,
		  uint32_t canvas_w, uint32_t canvas_h, const char *path, vd_output_shot_done done,
		  void *userdata, struct vd_output_shot **ret_shot);
/*
 * Copy the rest now, in one go, and queue the encoding: for a last shot
 * just before its source goes (the caller bounds the size: this turn is
 * as long as the copy).
 */
void vd_shot_copy_now(struct vd_output_shot *shot);
/* The source is gone: a shot still copying ends with status (-ENODEV). */
void vd_shot_source_gone(struct vd_output_shot *shot, int status);
/* No callback after this; the shot's memory goes when the worker is done with it. */
void vd_shot_cancel(struct vd_output_shot *shot);
/* Bytes held by copies now (status, tests). */
uint64_t vd_shot_bytes_held(const struct vd_shot_service *svc);

#endif
