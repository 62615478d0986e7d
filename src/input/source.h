/* SPDX-License-Identifier: MIT */
/*
 * Input sources: where key, pointer and touch events come from. One
 * interface, several implementations: "script" (tests, demos) now;
 * libinput (KMS mode: open_restricted/close_restricted, one pollable fd)
 * and the compositor's wl_seat (Wayland mode) later. A source delivers
 * events to a sink (the router), which picks the guest.
 *
 * Coordinates of absolute and touch events are in the layout space of the
 * outputs (the space the router's guest rectangles are in).
 */
#ifndef VD_INPUT_SOURCE_H
#define VD_INPUT_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

enum vd_input_kind {
	VD_INPUT_KEY,	       /* code (Linux KEY_* / BTN_*), pressed */
	VD_INPUT_REL,	       /* dx, dy */
	VD_INPUT_ABS,	       /* x, y in layout space */
	VD_INPUT_WHEEL,	       /* wheel: REL_WHEEL units, positive away from the user */
	VD_INPUT_TOUCH_DOWN,   /* slot, x, y */
	VD_INPUT_TOUCH_MOTION, /* slot, x, y */
	VD_INPUT_TOUCH_UP,     /* slot */
	VD_INPUT_TOUCH_FRAME,  /* end of a set of touch events */
};

struct vd_input_event {
	enum vd_input_kind kind;
	uint32_t code;
	bool pressed;
	int32_t dx, dy, wheel;
	int32_t x, y;
	uint32_t slot;
};

/* Takes nothing; ev is borrowed for the call. */
typedef void (*vd_input_sink)(void *userdata, const struct vd_input_event *ev);

struct vd_input_source;

struct vd_input_source_impl {
	const char *name;
	/* Start delivering to sink on loop. Borrows loop. */
	int (*start)(struct vd_input_source *src, sd_event *loop, vd_input_sink sink,
		     void *userdata);
	void (*destroy)(struct vd_input_source *src);
};

struct vd_input_source {
	const struct vd_input_source_impl *impl;
};

/* NULL is a no-op. */
void vd_input_source_destroy(struct vd_input_source *src);

/*
 * The scripted source: events fed by the caller are delivered in order
 * from the loop (not from inside vd_input_script_feed), as a device fd
 * would deliver them.
 */
int vd_input_script_create(struct vd_input_source **ret_src);
/* Copies n events. -EINVAL if src is not a scripted source. */
int vd_input_script_feed(struct vd_input_source *src, const struct vd_input_event *evs, size_t n);

#endif
