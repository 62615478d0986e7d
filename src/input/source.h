/* SPDX-License-Identifier: MIT */
/*
 * Input sources: where key, pointer and touch events come from. One
 * interface, several implementations: "script" (tests, demos), libinput
 * (KMS mode: open_restricted/close_restricted, one pollable fd), and the
 * compositor's wl_seat (Wayland mode). A source delivers
 * events to a sink (the router), which picks the guest.
 *
 * Coordinates of absolute and touch events are in the layout space of the
 * outputs (the space the router's guest rectangles are in), or, when the
 * event gives a range, relative to that range over the whole layout (a
 * tablet or touch screen that covers every output).
 *
 * A source that knows which guest an event is for (the compositor's
 * wl_seat: the guest owning the focused surface) says so (to_guest):
 * the router delivers it to that guest, not by focus or layout, and its
 * positions are in [0, range_w) x [0, range_h) of that guest's area.
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

/*
 * A physical device of a source, as routing rules see it (by name or udev
 * property). Owned by the source; valid from the first event that names it
 * until the source removes the device.
 */
struct vd_input_device {
	const char *name;    /* the kernel's name, "AT Translated Set 2 keyboard" */
	const char *devnode; /* "/dev/input/event3", or NULL */
	/* A udev property ("ID_PATH"), or NULL. NULL callback: none known. */
	const char *(*property)(const struct vd_input_device *dev, const char *key);
	/* The sink's memo for this device (routing); 0 when the device appears. */
	uint64_t sink_gen;
	uint32_t sink_data;
};

struct vd_input_event {
	enum vd_input_kind kind;
	uint32_t code;
	bool pressed;
	int32_t dx, dy, wheel;
	int32_t x, y;
	uint32_t slot;
	/* ABS and TOUCH: 0, or x, y are in [0, range_w) x [0, range_h) of the whole layout. */
	uint32_t range_w, range_h;
	struct vd_input_device *device; /* borrowed (the sink writes its memo); NULL: none */
	bool to_guest;			/* for guest domid, whatever the router's focus */
	uint32_t domid;
};

/* Takes nothing; ev is borrowed for the call. */
typedef void (*vd_input_sink)(void *userdata, const struct vd_input_event *ev);

struct vd_input_source;

/* A device of a source, borrowed for the call (vd_input_source_impl.foreach_device). */
typedef void (*vd_input_device_fn)(void *userdata, struct vd_input_device *dev);

struct vd_input_source_impl {
	const char *name;
	/* Start delivering to sink on loop. Borrows loop. */
	int (*start)(struct vd_input_source *src, sd_event *loop, vd_input_sink sink,
		     void *userdata);
	void (*destroy)(struct vd_input_source *src);
	/* Optional: fn for each physical device the source has now (the status). */
	void (*foreach_device)(struct vd_input_source *src, vd_input_device_fn fn, void *userdata);
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

/*
 * libinput on a udev seat (KMS mode): devices are opened through
 * open_restricted (plain open(2) here: the daemon runs as root or with the
 * input group) and come and go at run time. Positions of absolute devices
 * are relative to the whole layout (range_w/range_h). seat NULL: seat0.
 */
int vd_input_libinput_create(const char *seat, struct vd_input_source **ret_src);

/*
 * The syslog level of one of libinput's log messages (prio: its
 * enum libinput_log_priority): errors are warnings, except its "event
 * processing lagging behind" (a busy machine, events delivered anyway): a
 * notice; the rest debug.
 */
int vd_input_libinput_log_level(int prio, const char *msg);

/*
 * The compositor's wl_seat (Wayland mode) is made by the Wayland output,
 * which knows the surfaces: vd_output_input_source (output/output.h).
 */

#endif
