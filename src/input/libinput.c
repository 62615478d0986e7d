/* SPDX-License-Identifier: MIT */
/*
 * The libinput source: a udev seat, one pollable fd on the daemon's loop.
 *
 * Relative motion is passed unaccelerated (in libinput's normalised 1000
 * dpi units, which for a common mouse are its counts): the guest's own
 * input stack applies its acceleration, as it would for a mouse plugged
 * into it. Fractions are carried over so slow motion is not lost. The
 * wheel is passed in detents (v120 / 120, carried over likewise).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libinput.h>
#include <libudev.h>
#include <linux/input-event-codes.h>

#include "input/source.h"
#include "log.h"

/* ABS and touch positions: fractions of the whole layout in this range. */
#define LI_RANGE 65536u

struct li_device {
	struct vd_input_device base;
	struct li_device *next, **pprev; /* the source's devices */
	struct libinput_device *dev; /* a reference */
	struct udev_device *udev;    /* a reference, or NULL */
	char name[128];
};

struct li_source {
	struct vd_input_source base;
	char seat[64];
	struct udev *udev;
	struct libinput *li;
	sd_event_source *io;
	vd_input_sink sink;
	void *userdata;
	struct li_device *devices; /* present now */
	double rx, ry; /* unsent fractions of relative motion */
	int32_t v120;  /* unsent part of a wheel detent */
	uint64_t devices_added, devices_removed;
};

static const struct vd_input_source_impl li_impl;

/* ---- opening devices ---- */

/* libinput asks the caller to open: a seat manager could hand out fds here. */
static int open_restricted(const char *path, int flags, void *user_data)
{
	int fd = open(path, flags | O_CLOEXEC);

	/* Read-only is enough for events: only the keyboard LEDs are lost. */
	if (fd < 0 && (errno == EACCES || errno == EPERM) && (flags & O_ACCMODE) == O_RDWR)
		fd = open(path, (flags & ~O_ACCMODE) | O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		vd_log_rl(LOG_WARNING, "input: cannot open %s: %s", path, strerror(err));
		return -err;
	}
	return fd;
}

static void close_restricted(int fd, void *user_data)
{
	close(fd);
}

static const struct libinput_interface li_iface = {
    .open_restricted = open_restricted,
    .close_restricted = close_restricted,
};

/*
 * libinput's errors are warnings for us, except its complaint that events
 * were read late ("event processing lagging behind by N ms"): that says
 * the machine was busy (a loaded or emulated CPU), not that a device or
 * the daemon is wrong, and the events are delivered anyway. A notice.
 */
int vd_input_libinput_log_level(int prio, const char *msg)
{
	if (prio < (int)LIBINPUT_LOG_PRIORITY_ERROR)
		return LOG_DEBUG;
	return strstr(msg, "event processing lagging behind") ? LOG_NOTICE : LOG_WARNING;
}

static void li_log(struct libinput *li, enum libinput_log_priority prio, const char *fmt,
		   va_list ap) __attribute__((format(printf, 3, 0)));
static void li_log(struct libinput *li, enum libinput_log_priority prio, const char *fmt,
		   va_list ap)
{
	char msg[512];
	size_t n;
	int level;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	if (n && msg[n - 1] == '\n')
		msg[n - 1] = '\0';
	level = vd_input_libinput_log_level((int)prio, msg);

	/*
	 * A device can make libinput complain at its event rate. A site per
	 * level, so that its debug chatter (with -v -v) never crowds out its
	 * errors.
	 */
	if (level == LOG_WARNING)
		vd_log_rl(LOG_WARNING, "libinput: %s", msg);
	else if (level == LOG_NOTICE)
		vd_log_rl(LOG_NOTICE, "libinput: %s", msg);
	else
		vd_log_rl(LOG_DEBUG, "libinput: %s", msg);
}

/* ---- devices ---- */

static const char *li_property(const struct vd_input_device *d, const char *key)
{
	const struct li_device *ld = (const struct li_device *)d;

	return ld->udev ? udev_device_get_property_value(ld->udev, key) : NULL;
}

static void device_added(struct li_source *s, struct libinput_device *dev)
{
	struct li_device *ld = calloc(1, sizeof(*ld));

	if (!ld) {
		vd_err("input: out of memory for a device: ignored");
		return;
	}
	ld->dev = libinput_device_ref(dev);
	ld->udev = libinput_device_get_udev_device(dev); /* takes a reference */
	snprintf(ld->name, sizeof(ld->name), "%s", libinput_device_get_name(dev));
	ld->base.name = ld->name;
	ld->base.devnode = ld->udev ? udev_device_get_devnode(ld->udev) : NULL;
	ld->base.property = li_property;
	libinput_device_set_user_data(dev, ld);
	ld->next = s->devices;
	if (ld->next)
		ld->next->pprev = &ld->next;
	ld->pprev = &s->devices;
	s->devices = ld;
	s->devices_added++;
	vd_info(
	    "input: device added: %s (%s)%s%s%s%s", ld->name,
	    ld->base.devnode ? ld->base.devnode : libinput_device_get_sysname(dev),
	    libinput_device_has_capability(dev, LIBINPUT_DEVICE_CAP_KEYBOARD) ? " keyboard" : "",
	    libinput_device_has_capability(dev, LIBINPUT_DEVICE_CAP_POINTER) ? " pointer" : "",
	    libinput_device_has_capability(dev, LIBINPUT_DEVICE_CAP_TOUCH) ? " touch" : "",
	    libinput_device_has_capability(dev, LIBINPUT_DEVICE_CAP_TABLET_TOOL) ? " tablet" : "");
}

static void device_free(struct li_device *ld)
{
	*ld->pprev = ld->next;
	if (ld->next)
		ld->next->pprev = ld->pprev;
	libinput_device_set_user_data(ld->dev, NULL);
	if (ld->udev)
		udev_device_unref(ld->udev);
	libinput_device_unref(ld->dev);
	free(ld);
}

static void device_removed(struct li_source *s, struct libinput_device *dev)
{
	struct li_device *ld = libinput_device_get_user_data(dev);

	if (!ld)
		return;
	vd_info("input: device removed: %s", ld->name);
	s->devices_removed++;
	device_free(ld);
}

/* ---- events ---- */

static void emit(struct li_source *s, struct libinput_event *e, struct vd_input_event *ev)
{
	struct li_device *ld = libinput_device_get_user_data(libinput_event_get_device(e));

	ev->device = ld ? &ld->base : NULL;
	s->sink(s->userdata, ev);
}

static void on_key(struct li_source *s, struct libinput_event *e)
{
	struct libinput_event_keyboard *k = libinput_event_get_keyboard_event(e);
	struct vd_input_event ev = {
	    .kind = VD_INPUT_KEY,
	    .code = libinput_event_keyboard_get_key(k),
	    .pressed = libinput_event_keyboard_get_key_state(k) == LIBINPUT_KEY_STATE_PRESSED,
	};

	emit(s, e, &ev);
}

/* The whole part of *acc + v, keeping the fraction in *acc. */
static int32_t take_whole(double *acc, double v)
{
	double t;

	*acc += v;
	if (!isfinite(*acc) || fabs(*acc) > 1e6) /* a device reporting nonsense */
		*acc = 0;
	t = trunc(*acc);
	*acc -= t;
	return (int32_t)t;
}

static void on_motion(struct li_source *s, struct libinput_event *e)
{
	struct libinput_event_pointer *p = libinput_event_get_pointer_event(e);
	struct vd_input_event ev = {.kind = VD_INPUT_REL};

	ev.dx = take_whole(&s->rx, libinput_event_pointer_get_dx_unaccelerated(p));
	ev.dy = take_whole(&s->ry, libinput_event_pointer_get_dy_unaccelerated(p));
	if (ev.dx || ev.dy)
		emit(s, e, &ev);
}

static void on_motion_abs(struct li_source *s, struct libinput_event *e)
{
	struct libinput_event_pointer *p = libinput_event_get_pointer_event(e);
	struct vd_input_event ev = {.kind = VD_INPUT_ABS, .range_w = LI_RANGE, .range_h = LI_RANGE};

	ev.x = (int32_t)libinput_event_pointer_get_absolute_x_transformed(p, LI_RANGE);
	ev.y = (int32_t)libinput_event_pointer_get_absolute_y_transformed(p, LI_RANGE);
	emit(s, e, &ev);
}

static void on_button(struct li_source *s, struct libinput_event *e)
{
	struct libinput_event_pointer *p = libinput_event_get_pointer_event(e);
	struct vd_input_event ev = {
	    .kind = VD_INPUT_KEY,
	    .code = libinput_event_pointer_get_button(p),
	    .pressed = libinput_event_pointer_get_button_state(p) == LIBINPUT_BUTTON_STATE_PRESSED,
	};

	emit(s, e, &ev);
}

/* libinput: positive is down (towards the user); REL_WHEEL: positive is up. */
static void on_wheel(struct li_source *s, struct libinput_event *e)
{
	struct libinput_event_pointer *p = libinput_event_get_pointer_event(e);
	struct vd_input_event ev = {.kind = VD_INPUT_WHEEL};
	double v;

	if (!libinput_event_pointer_has_axis(p, LIBINPUT_POINTER_AXIS_SCROLL_VERTICAL))
		return;
	v = libinput_event_pointer_get_scroll_value_v120(p, LIBINPUT_POINTER_AXIS_SCROLL_VERTICAL);
	if (!isfinite(v) || fabs(v) > 1e6)
		return;
	s->v120 -= (int32_t)v;
	ev.wheel = s->v120 / 120;
	s->v120 %= 120;
	if (ev.wheel)
		emit(s, e, &ev);
}

static void on_touch(struct li_source *s, struct libinput_event *e, enum vd_input_kind kind)
{
	struct libinput_event_touch *t = libinput_event_get_touch_event(e);
	struct vd_input_event ev = {.kind = kind, .range_w = LI_RANGE, .range_h = LI_RANGE};
	int32_t slot = libinput_event_touch_get_seat_slot(t);

	if (slot < 0)
		return;
	ev.slot = (uint32_t)slot;
	if (kind != VD_INPUT_TOUCH_UP) {
		ev.x = (int32_t)libinput_event_touch_get_x_transformed(t, LI_RANGE);
		ev.y = (int32_t)libinput_event_touch_get_y_transformed(t, LI_RANGE);
	}
	emit(s, e, &ev);
}

/* A tablet tool is an absolute pointer; its tip is the left button. */
static void on_tablet(struct li_source *s, struct libinput_event *e)
{
	struct libinput_event_tablet_tool *t = libinput_event_get_tablet_tool_event(e);
	struct vd_input_event ev = {.kind = VD_INPUT_ABS, .range_w = LI_RANGE, .range_h = LI_RANGE};

	if (libinput_event_get_type(e) == LIBINPUT_EVENT_TABLET_TOOL_BUTTON) {
		ev = (struct vd_input_event){
		    .kind = VD_INPUT_KEY,
		    .code = libinput_event_tablet_tool_get_button(t),
		    .pressed = libinput_event_tablet_tool_get_button_state(t) ==
			       LIBINPUT_BUTTON_STATE_PRESSED,
		};
		emit(s, e, &ev);
		return;
	}
	ev.x = (int32_t)libinput_event_tablet_tool_get_x_transformed(t, LI_RANGE);
	ev.y = (int32_t)libinput_event_tablet_tool_get_y_transformed(t, LI_RANGE);
	emit(s, e, &ev);
	if (libinput_event_get_type(e) == LIBINPUT_EVENT_TABLET_TOOL_TIP) {
		ev = (struct vd_input_event){
		    .kind = VD_INPUT_KEY,
		    .code = BTN_LEFT,
		    .pressed = libinput_event_tablet_tool_get_tip_state(t) ==
			       LIBINPUT_TABLET_TOOL_TIP_DOWN,
		};
		emit(s, e, &ev);
	}
}

static void handle(struct li_source *s, struct libinput_event *e)
{
	switch (libinput_event_get_type(e)) {
	case LIBINPUT_EVENT_DEVICE_ADDED:
		device_added(s, libinput_event_get_device(e));
		break;
	case LIBINPUT_EVENT_DEVICE_REMOVED:
		device_removed(s, libinput_event_get_device(e));
		break;
	case LIBINPUT_EVENT_KEYBOARD_KEY:
		on_key(s, e);
		break;
	case LIBINPUT_EVENT_POINTER_MOTION:
		on_motion(s, e);
		break;
	case LIBINPUT_EVENT_POINTER_MOTION_ABSOLUTE:
		on_motion_abs(s, e);
		break;
	case LIBINPUT_EVENT_POINTER_BUTTON:
		on_button(s, e);
		break;
	case LIBINPUT_EVENT_POINTER_SCROLL_WHEEL:
		on_wheel(s, e);
		break;
	case LIBINPUT_EVENT_TOUCH_DOWN:
		on_touch(s, e, VD_INPUT_TOUCH_DOWN);
		break;
	case LIBINPUT_EVENT_TOUCH_MOTION:
		on_touch(s, e, VD_INPUT_TOUCH_MOTION);
		break;
	case LIBINPUT_EVENT_TOUCH_UP:
	case LIBINPUT_EVENT_TOUCH_CANCEL:
		on_touch(s, e, VD_INPUT_TOUCH_UP);
		break;
	case LIBINPUT_EVENT_TOUCH_FRAME: {
		struct vd_input_event ev = {.kind = VD_INPUT_TOUCH_FRAME};

		emit(s, e, &ev);
		break;
	}
	case LIBINPUT_EVENT_TABLET_TOOL_AXIS:
	case LIBINPUT_EVENT_TABLET_TOOL_TIP:
	case LIBINPUT_EVENT_TABLET_TOOL_BUTTON:
		on_tablet(s, e);
		break;
	default:
		break; /* gestures, switches, pads, the legacy axis event */
	}
}

static void dispatch(struct li_source *s)
{
	struct libinput_event *e;
	int r = libinput_dispatch(s->li);

	if (r < 0)
		vd_log_rl(LOG_WARNING, "input: libinput_dispatch: %s", strerror(-r));
	while ((e = libinput_get_event(s->li))) {
		handle(s, e);
		libinput_event_destroy(e);
	}
}

static int on_io(sd_event_source *es, int fd, uint32_t revents, void *userdata)
{
	dispatch(userdata);
	return 0;
}

/* ---- life ---- */

static struct li_source *li_of(struct vd_input_source *src)
{
	return (struct li_source *)src;
}

static int li_start(struct vd_input_source *src, sd_event *loop, vd_input_sink sink, void *userdata)
{
	struct li_source *s = li_of(src);
	int r;

	s->sink = sink;
	s->userdata = userdata;
	s->udev = udev_new();
	if (!s->udev)
		return -ENOMEM;
	s->li = libinput_udev_create_context(&li_iface, s, s->udev);
	if (!s->li)
		return -ENOMEM;
	libinput_log_set_handler(s->li, li_log);
	libinput_log_set_priority(s->li, vd_log_get_level() >= LOG_DEBUG
					     ? LIBINPUT_LOG_PRIORITY_DEBUG
					     : LIBINPUT_LOG_PRIORITY_ERROR);
	if (libinput_udev_assign_seat(s->li, s->seat) < 0) {
		vd_err("input: libinput cannot use seat %s", s->seat);
		return -EIO;
	}
	r = sd_event_add_io(loop, &s->io, libinput_get_fd(s->li), EPOLLIN, on_io, s);
	if (r < 0)
		return r;
	dispatch(s); /* the devices present now */
	vd_info("input: libinput on %s, %llu device(s)", s->seat,
		(unsigned long long)s->devices_added);
	return 0;
}

/* Devices still known are released with the context. */
static void li_destroy(struct vd_input_source *src)
{
	struct li_source *s = li_of(src);

	sd_event_source_disable_unref(s->io);
	if (s->li) {
		struct libinput_event *e;

		libinput_suspend(s->li); /* removes every device: DEVICE_REMOVED events */
		libinput_dispatch(s->li);
		while ((e = libinput_get_event(s->li))) {
			if (libinput_event_get_type(e) == LIBINPUT_EVENT_DEVICE_REMOVED) {
				struct li_device *ld =
				    libinput_device_get_user_data(libinput_event_get_device(e));

				if (ld)
					device_free(ld);
			}
			libinput_event_destroy(e);
		}
		libinput_unref(s->li);
	}
	if (s->udev)
		udev_unref(s->udev);
	free(s);
}

static void li_foreach_device(struct vd_input_source *src, vd_input_device_fn fn, void *userdata)
{
	for (struct li_device *ld = li_of(src)->devices; ld; ld = ld->next)
		fn(userdata, &ld->base);
}

static const struct vd_input_source_impl li_impl = {
    .name = "libinput",
    .start = li_start,
    .destroy = li_destroy,
    .foreach_device = li_foreach_device,
};

int vd_input_libinput_create(const char *seat, struct vd_input_source **ret_src)
{
	struct li_source *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->base.impl = &li_impl;
	snprintf(s->seat, sizeof(s->seat), "%s", seat && seat[0] ? seat : "seat0");
	*ret_src = &s->base;
	return 0;
}
