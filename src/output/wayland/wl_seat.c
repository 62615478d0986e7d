/* SPDX-License-Identifier: MIT */
/*
 * The compositor's wl_seat as an input source (vd_output_input_source).
 *
 * The compositor decides the focus: keys go to the guest whose window has
 * the keyboard focus (wl_keyboard.enter), pointer events to the guest whose
 * window the pointer is over (wl_pointer.enter), a touch to the guest whose
 * window it went down on. Every event is addressed to that guest
 * (to_guest); positions are in the connector's width x height (the
 * window's surface coordinates mapped through where the picture is in it,
 * wlo_conn_to_connector), which the kbdback scales to the vkb's.
 *
 * Keys are wl_keyboard.key codes: evdev codes already (the keymap, which
 * we do not need, maps them to symbols; its fd is closed at once). The
 * guest gets modifiers as the key events of the modifier keys, as from a
 * keyboard of its own; wl_keyboard.modifiers adds nothing to that.
 *
 * Nothing sticks: keys and buttons delivered pressed are released in their
 * guest when its window loses the focus (leave), when the seat loses a
 * capability, and when the connection to the compositor ends; touches
 * still down are lifted likewise. A key pressed elsewhere and released in
 * a window is not delivered: its guest never saw it go down.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/input-event-codes.h>

#include "input/source.h"
#include "log.h"
#include "output/wayland/wl_priv.h"

#define HELD_WORDS ((KEY_MAX + 1u) / 64u)
#define MAX_TOUCH 16u

/* Keys (or buttons) pressed in one guest, as delivered. */
struct held {
	bool focus;
	uint32_t domid;
	uint64_t bits[HELD_WORDS];
};

struct wlo_touch {
	bool active;
	int32_t id;
	uint32_t domid, w, h;
	struct wl_surface *surface; /* went down on: positions map through its window */
};

struct wlo_seat_src {
	struct vd_input_source base;
	struct wlo_output *out; /* NULL once the output is gone */
	vd_input_sink sink;	/* NULL until started */
	void *userdata;
	struct held keys, buttons;
	uint32_t ptr_w, ptr_h; /* the pointer focus's connector size */
	struct wl_surface *ptr_surface; /* the pointer focus (compared, never used) */
	bool ptr_sent;	       /* ptr_x, ptr_y delivered since the pointer entered */
	int32_t ptr_x, ptr_y;
	int32_t discrete; /* wl_pointer.axis_discrete steps before their axis event */
	struct wlo_touch touches[MAX_TOUCH];
};

static void deliver(struct wlo_seat_src *s, struct vd_input_event *ev)
{
	if (s && s->sink)
		s->sink(s->userdata, ev);
}

static void send_key(struct wlo_seat_src *s, uint32_t domid, uint32_t code, bool pressed)
{
	struct vd_input_event ev = {.kind = VD_INPUT_KEY,
				    .code = code,
				    .pressed = pressed,
				    .to_guest = true,
				    .domid = domid};

	deliver(s, &ev);
}

/* false for the release of a key the guest never got pressed: not delivered. */
static bool held_set(struct held *h, uint32_t code, bool pressed)
{
	if (code > KEY_MAX)
		return false;
	if (!pressed && !(h->bits[code / 64] & (1ull << (code % 64))))
		return false;
	if (pressed)
		h->bits[code / 64] |= 1ull << (code % 64);
	else
		h->bits[code / 64] &= ~(1ull << (code % 64));
	return true;
}

/* Release in the guest what is held there, and forget the focus. */
static void held_release(struct wlo_seat_src *s, struct held *h)
{
	for (uint32_t w = 0; h->focus && w < HELD_WORDS; w++)
		for (uint32_t b = 0; h->bits[w] && b < 64; b++)
			if (h->bits[w] & (1ull << b)) {
				h->bits[w] &= ~(1ull << b);
				send_key(s, h->domid, w * 64 + b, false);
			}
	memset(h, 0, sizeof(*h));
}

static void touch_release_all(struct wlo_seat_src *s)
{
	bool any = false;

	for (uint32_t i = 0; i < MAX_TOUCH; i++) {
		struct wlo_touch *t = &s->touches[i];
		struct vd_input_event ev = {.kind = VD_INPUT_TOUCH_UP,
					    .slot = i,
					    .to_guest = true,
					    .domid = t->domid,
					    .range_w = t->w,
					    .range_h = t->h};

		if (!t->active)
			continue;
		t->active = false;
		any = true;
		deliver(s, &ev);
	}
	if (any) {
		struct vd_input_event fr = {.kind = VD_INPUT_TOUCH_FRAME};

		deliver(s, &fr);
	}
}

/* Our connector whose window is surface, or NULL (not ours, or gone). */
static struct wlo_conn *conn_of(struct wlo_output *out, struct wl_surface *surface)
{
	return wlo_conn_of_surface(out, surface);
}

/*
 * A position in surface's window in its connector's coordinates; false if
 * the window is gone (then the event is not delivered). The window's size
 * may change while the pointer is in it: mapped with the size of now.
 */
static bool to_connector(struct wlo_output *out, struct wl_surface *surface, uint32_t domid,
			 wl_fixed_t x, wl_fixed_t y, int32_t *ret_x, int32_t *ret_y)
{
	struct wlo_conn *c = out ? conn_of(out, surface) : NULL;

	if (!c || c->base.desc.domid != domid)
		return false;
	wlo_conn_to_connector(c, x, y, ret_x, ret_y);
	return true;
}

/* ---- keyboard ---- */

static void kb_keymap(void *data, struct wl_keyboard *kb, uint32_t format, int32_t fd,
		      uint32_t size)
{
	close(fd); /* the codes are evdev codes: the guest has its own keymap */
}

static void kb_enter(void *data, struct wl_keyboard *kb, uint32_t serial,
		     struct wl_surface *surface, struct wl_array *keys)
{
	struct wlo_output *out = data;
	struct wlo_seat_src *s = out->input;
	struct wlo_conn *c = conn_of(out, surface);

	if (!s)
		return;
	held_release(s, &s->keys);
	/* Keys already down (keys) were pressed elsewhere: their presses are not ours to send. */
	if (c) {
		s->keys.focus = true;
		s->keys.domid = c->base.desc.domid;
		vd_debug("wayland: keyboard focus -> %s", c->base.desc.name);
	}
}

static void kb_leave(void *data, struct wl_keyboard *kb, uint32_t serial,
		     struct wl_surface *surface)
{
	struct wlo_output *out = data;

	if (out->input)
		held_release(out->input, &out->input->keys);
}

static void kb_key(void *data, struct wl_keyboard *kb, uint32_t serial, uint32_t time, uint32_t key,
		   uint32_t state)
{
	struct wlo_output *out = data;
	struct wlo_seat_src *s = out->input;
	bool pressed = state == WL_KEYBOARD_KEY_STATE_PRESSED;

	if (!s || !s->keys.focus)
		return;
	if (held_set(&s->keys, key, pressed))
		send_key(s, s->keys.domid, key, pressed);
}

static void kb_modifiers(void *data, struct wl_keyboard *kb, uint32_t serial, uint32_t depressed,
			 uint32_t latched, uint32_t locked, uint32_t group)
{
}

static void kb_repeat_info(void *data, struct wl_keyboard *kb, int32_t rate, int32_t delay)
{
	/* The guest repeats keys itself. */
}

static const struct wl_keyboard_listener keyboard_listener = {
    .keymap = kb_keymap,
    .enter = kb_enter,
    .leave = kb_leave,
    .key = kb_key,
    .modifiers = kb_modifiers,
    .repeat_info = kb_repeat_info,
};

/* ---- pointer ---- */

static void ptr_motion_to(struct wlo_seat_src *s, wl_fixed_t x, wl_fixed_t y)
{
	struct vd_input_event ev = {.kind = VD_INPUT_ABS,
				    .range_w = s->ptr_w,
				    .range_h = s->ptr_h,
				    .to_guest = true,
				    .domid = s->buttons.domid};

	if (!s->buttons.focus ||
	    !to_connector(s->out, s->ptr_surface, s->buttons.domid, x, y, &ev.x, &ev.y))
		return;
	/* Motion within a pixel (or none: weston repeats the position at a click) is none. */
	if (s->ptr_sent && ev.x == s->ptr_x && ev.y == s->ptr_y)
		return;
	s->ptr_sent = true;
	s->ptr_x = ev.x;
	s->ptr_y = ev.y;
	deliver(s, &ev);
}

static void ptr_enter(void *data, struct wl_pointer *p, uint32_t serial, struct wl_surface *surface,
		      wl_fixed_t x, wl_fixed_t y)
{
	struct wlo_output *out = data;
	struct wlo_seat_src *s = out->input;
	struct wlo_conn *c = conn_of(out, surface);

	if (!s)
		return;
	held_release(s, &s->buttons);
	s->discrete = 0;
	s->ptr_sent = false;
	if (!c)
		return;
	s->buttons.focus = true;
	s->buttons.domid = c->base.desc.domid;
	s->ptr_w = c->base.desc.width;
	s->ptr_h = c->base.desc.height;
	s->ptr_surface = surface;
	vd_debug("wayland: pointer focus -> %s", c->base.desc.name);
	ptr_motion_to(s, x, y);
}

static void ptr_leave(void *data, struct wl_pointer *p, uint32_t serial, struct wl_surface *surface)
{
	struct wlo_output *out = data;

	if (out->input)
		held_release(out->input, &out->input->buttons);
}

static void ptr_motion(void *data, struct wl_pointer *p, uint32_t time, wl_fixed_t x, wl_fixed_t y)
{
	struct wlo_output *out = data;

	if (out->input)
		ptr_motion_to(out->input, x, y);
}

static void ptr_button(void *data, struct wl_pointer *p, uint32_t serial, uint32_t time,
		       uint32_t button, uint32_t state)
{
	struct wlo_output *out = data;
	struct wlo_seat_src *s = out->input;
	bool pressed = state == WL_POINTER_BUTTON_STATE_PRESSED;

	if (!s || !s->buttons.focus)
		return;
	if (held_set(&s->buttons, button, pressed))
		send_key(s, s->buttons.domid, button, pressed);
}

/*
 * Vertical scrolling only (the vkb has one wheel). Wayland's axis is
 * positive towards the user, the wheel away from the user. Discrete steps
 * (a wheel's clicks) when the compositor sends them, else 10 units a step
 * (libinput's and weston's convention for a click).
 */
static void ptr_axis(void *data, struct wl_pointer *p, uint32_t time, uint32_t axis,
		     wl_fixed_t value)
{
	struct wlo_output *out = data;
	struct wlo_seat_src *s = out->input;
	struct vd_input_event ev = {.kind = VD_INPUT_WHEEL, .to_guest = true};

	if (!s || !s->buttons.focus || axis != WL_POINTER_AXIS_VERTICAL_SCROLL)
		return;
	ev.domid = s->buttons.domid;
	ev.wheel = s->discrete ? -s->discrete : -(int32_t)(wl_fixed_to_double(value) / 10.0);
	s->discrete = 0;
	if (ev.wheel)
		deliver(s, &ev);
}

static void ptr_frame(void *data, struct wl_pointer *p)
{
}

static void ptr_axis_source(void *data, struct wl_pointer *p, uint32_t source)
{
}

static void ptr_axis_stop(void *data, struct wl_pointer *p, uint32_t time, uint32_t axis)
{
}

static void ptr_axis_discrete(void *data, struct wl_pointer *p, uint32_t axis, int32_t discrete)
{
	struct wlo_output *out = data;

	if (out->input && axis == WL_POINTER_AXIS_VERTICAL_SCROLL)
		out->input->discrete = discrete;
}

static const struct wl_pointer_listener pointer_listener = {
    .enter = ptr_enter,
    .leave = ptr_leave,
    .motion = ptr_motion,
    .button = ptr_button,
    .axis = ptr_axis,
    .frame = ptr_frame,
    .axis_source = ptr_axis_source,
    .axis_stop = ptr_axis_stop,
    .axis_discrete = ptr_axis_discrete,
};

/* ---- touch: a contact stays with the window it went down on ---- */

static struct wlo_touch *touch_find(struct wlo_seat_src *s, int32_t id)
{
	for (uint32_t i = 0; i < MAX_TOUCH; i++)
		if (s->touches[i].active && s->touches[i].id == id)
			return &s->touches[i];
	return NULL;
}

static void touch_send(struct wlo_seat_src *s, enum vd_input_kind kind, struct wlo_touch *t,
		       wl_fixed_t x, wl_fixed_t y)
{
	struct vd_input_event ev = {.kind = kind,
				    .slot = (uint32_t)(t - s->touches),
				    .range_w = t->w,
				    .range_h = t->h,
				    .to_guest = true,
				    .domid = t->domid};

	/* an up has no position; a contact whose window went keeps its last */
	if (kind != VD_INPUT_TOUCH_UP &&
	    !to_connector(s->out, t->surface, t->domid, x, y, &ev.x, &ev.y))
		return;
	deliver(s, &ev);
}

static void touch_down(void *data, struct wl_touch *wt, uint32_t serial, uint32_t time,
		       struct wl_surface *surface, int32_t id, wl_fixed_t x, wl_fixed_t y)
{
	struct wlo_output *out = data;
	struct wlo_seat_src *s = out->input;
	struct wlo_conn *c = conn_of(out, surface);
	struct wlo_touch *t = NULL;

	if (!s || !c || touch_find(s, id))
		return;
	for (uint32_t i = 0; i < MAX_TOUCH && !t; i++)
		if (!s->touches[i].active)
			t = &s->touches[i];
	if (!t)
		return; /* more fingers than we track */
	*t = (struct wlo_touch){true, id, c->base.desc.domid, c->base.desc.width, c->base.desc.height,
				surface};
	touch_send(s, VD_INPUT_TOUCH_DOWN, t, x, y);
}

static void touch_up(void *data, struct wl_touch *wt, uint32_t serial, uint32_t time, int32_t id)
{
	struct wlo_output *out = data;
	struct wlo_touch *t = out->input ? touch_find(out->input, id) : NULL;

	if (!t)
		return;
	touch_send(out->input, VD_INPUT_TOUCH_UP, t, 0, 0);
	t->active = false;
}

static void touch_motion(void *data, struct wl_touch *wt, uint32_t time, int32_t id, wl_fixed_t x,
			 wl_fixed_t y)
{
	struct wlo_output *out = data;
	struct wlo_touch *t = out->input ? touch_find(out->input, id) : NULL;

	if (t)
		touch_send(out->input, VD_INPUT_TOUCH_MOTION, t, x, y);
}

static void touch_frame(void *data, struct wl_touch *wt)
{
	struct wlo_output *out = data;
	struct vd_input_event ev = {.kind = VD_INPUT_TOUCH_FRAME};

	deliver(out->input, &ev);
}

static void touch_cancel(void *data, struct wl_touch *wt)
{
	struct wlo_output *out = data;

	if (out->input)
		touch_release_all(out->input);
}

static void touch_shape(void *data, struct wl_touch *wt, int32_t id, wl_fixed_t major,
			wl_fixed_t minor)
{
}

static void touch_orientation(void *data, struct wl_touch *wt, int32_t id, wl_fixed_t orientation)
{
}

static const struct wl_touch_listener touch_listener = {
    .down = touch_down,
    .up = touch_up,
    .motion = touch_motion,
    .frame = touch_frame,
    .cancel = touch_cancel,
    .shape = touch_shape,
    .orientation = touch_orientation,
};

/* ---- the seat ---- */

static void release_keyboard(struct wlo_output *out)
{
	if (out->input)
		held_release(out->input, &out->input->keys);
	if (out->keyboard && wl_keyboard_get_version(out->keyboard) >= 3)
		wl_keyboard_release(out->keyboard);
	else if (out->keyboard)
		wl_keyboard_destroy(out->keyboard);
	out->keyboard = NULL;
}

static void release_pointer(struct wlo_output *out)
{
	if (out->input)
		held_release(out->input, &out->input->buttons);
	if (out->pointer && wl_pointer_get_version(out->pointer) >= 3)
		wl_pointer_release(out->pointer);
	else if (out->pointer)
		wl_pointer_destroy(out->pointer);
	out->pointer = NULL;
}

static void release_touch(struct wlo_output *out)
{
	if (out->input)
		touch_release_all(out->input);
	if (out->touch && wl_touch_get_version(out->touch) >= 3)
		wl_touch_release(out->touch);
	else if (out->touch)
		wl_touch_destroy(out->touch);
	out->touch = NULL;
}

static void seat_capabilities(void *data, struct wl_seat *seat, uint32_t caps)
{
	struct wlo_output *out = data;

	vd_info("wayland: seat:%s%s%s", caps & WL_SEAT_CAPABILITY_KEYBOARD ? " keyboard" : "",
		caps & WL_SEAT_CAPABILITY_POINTER ? " pointer" : "",
		caps & WL_SEAT_CAPABILITY_TOUCH ? " touch" : "");
	if ((caps & WL_SEAT_CAPABILITY_KEYBOARD) && !out->keyboard) {
		out->keyboard = wl_seat_get_keyboard(seat);
		wl_keyboard_add_listener(out->keyboard, &keyboard_listener, out);
	} else if (!(caps & WL_SEAT_CAPABILITY_KEYBOARD)) {
		release_keyboard(out);
	}
	if ((caps & WL_SEAT_CAPABILITY_POINTER) && !out->pointer) {
		out->pointer = wl_seat_get_pointer(seat);
		wl_pointer_add_listener(out->pointer, &pointer_listener, out);
	} else if (!(caps & WL_SEAT_CAPABILITY_POINTER)) {
		release_pointer(out);
	}
	if ((caps & WL_SEAT_CAPABILITY_TOUCH) && !out->touch) {
		out->touch = wl_seat_get_touch(seat);
		wl_touch_add_listener(out->touch, &touch_listener, out);
	} else if (!(caps & WL_SEAT_CAPABILITY_TOUCH)) {
		release_touch(out);
	}
}

static void seat_name(void *data, struct wl_seat *seat, const char *name)
{
}

static const struct wl_seat_listener seat_listener = {
    .capabilities = seat_capabilities,
    .name = seat_name,
};

void wlo_seat_bind(struct wlo_output *out, struct wl_registry *reg, uint32_t name, uint32_t version)
{
	if (out->seat)
		return; /* one seat: the compositor's first */
	/* Version 5: axis_discrete; 7 is the newest with it (8 replaces it by value120). */
	out->seat = wl_registry_bind(reg, name, &wl_seat_interface, version < 7 ? version : 7);
	out->seat_global = name;
	wl_seat_add_listener(out->seat, &seat_listener, out);
}

void wlo_seat_destroy(struct wlo_output *out)
{
	release_keyboard(out);
	release_pointer(out);
	release_touch(out);
	if (out->seat && wl_seat_get_version(out->seat) >= 5)
		wl_seat_release(out->seat);
	else if (out->seat)
		wl_seat_destroy(out->seat);
	out->seat = NULL;
	out->seat_global = 0;
}

/* ---- the source ---- */

static int src_start(struct vd_input_source *base, sd_event *loop, vd_input_sink sink,
		     void *userdata)
{
	struct wlo_seat_src *s = (struct wlo_seat_src *)base;

	s->sink = sink;
	s->userdata = userdata;
	return 0;
}

static void src_destroy(struct vd_input_source *base)
{
	struct wlo_seat_src *s = (struct wlo_seat_src *)base;

	if (s->out)
		s->out->input = NULL;
	free(s);
}

static const struct vd_input_source_impl seat_src_impl = {
    .name = "wayland",
    .start = src_start,
    .destroy = src_destroy,
};

int wlo_input_source(struct vd_output *base, struct vd_input_source **ret_src)
{
	struct wlo_output *out = wlo_output_from(base);
	struct wlo_seat_src *s;

	if (out->input)
		return -EBUSY;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base.impl = &seat_src_impl;
	s->out = out;
	out->input = s;
	*ret_src = &s->base;
	return 0;
}

void wlo_seat_forget_source(struct wlo_output *out)
{
	if (out->input)
		out->input->out = NULL;
	out->input = NULL;
}
