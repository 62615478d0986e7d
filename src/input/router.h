/* SPDX-License-Identifier: MIT */
/*
 * The input router: events from the sources go to the focused guest.
 *
 * One focus, for keyboard and pointer. It moves by vd_router_focus(), by
 * the hotkey (cycles through the guests whose vkb is connected, in the order
 * they were added), and, with focus_follows_pointer, to the guest under the
 * pointer or under a new touch. Each guest has a rectangle in layout space
 * (its connector on the screen, set by the output layout): absolute
 * positions and touches are mapped into it and scaled by the kbdback to the
 * device's width/height. Relative motion moves a layout cursor when any
 * rectangle is known, else it goes to the focused guest as is.
 *
 * The hotkey (default Meta + F12) is a chord: the modifiers are ordinary
 * keys (delivered), the key itself is never delivered, neither its press
 * nor its release. Keys held in a guest are released in it when the focus
 * leaves, so nothing stays stuck (including the modifiers). A guest may
 * have a hotkey of its own that gives it the focus, swallowed likewise.
 *
 * Devices: a guest may claim physical devices by rules (vd_input_rule_*);
 * a claimed device feeds that guest only, whatever has the focus (its
 * relative motion as such, its absolute positions over the guest's whole
 * area). Every other device feeds the focus. Hotkeys work on every device.
 *
 * Events a source addresses to a guest (to_guest, source.h: the
 * compositor's seat, whose focus is the compositor's) go to that guest as a
 * claimed device's do; they neither move the focus nor act as hotkeys.
 */
#ifndef VD_ROUTER_H
#define VD_ROUTER_H

#include <stdbool.h>
#include <stdint.h>

#include "input/kbdback.h"
#include "input/source.h"

struct vd_router;

#define VD_ROUTER_NO_FOCUS UINT32_MAX
#define VD_ROUTER_MAX_GUESTS 32u
#define VD_ROUTER_MAX_TOUCH 16u /* source touch slots tracked */

/* Modifiers of a hotkey: either the left or the right key counts. */
#define VD_MOD_CTRL 1u
#define VD_MOD_ALT 2u
#define VD_MOD_SHIFT 4u
#define VD_MOD_META 8u

struct vd_hotkey {
	uint32_t mods; /* VD_MOD_* that must be held */
	uint32_t key;  /* KEY_*; 0: no hotkey */
};

struct vd_router_opts {
	struct vd_hotkey cycle; /* cycles the focus */
	bool focus_follows_pointer;
};
/* Meta + F12 (KEY_F12 is 88): not a chord applications commonly bind. */
#define VD_ROUTER_OPTS_DEFAULT                                                                     \
	{                                                                                          \
		{VD_MOD_META, 88u}, true                                                           \
	}

/*
 * "ctrl+alt+f1", "meta+f12", "scrolllock": modifiers (ctrl, alt, shift,
 * meta/super/win) joined by '+' to one key (a-z, 0-9, f1-f24, esc, tab,
 * space, enter, pause, scrolllock, print, insert, delete, home, end,
 * pageup, pagedown, arrows, menu, grave); any case. "": no hotkey.
 * -EINVAL for anything else.
 */
int vd_hotkey_parse(const char *s, struct vd_hotkey *ret);

/*
 * Device rules (a guest's "input =" lines): "/dev/input/..." the device
 * node or a link to it (by-id, by-path: resolved when matched),
 * "name=GLOB" the device's name, "PROPERTY=GLOB" a udev property
 * (ID_PATH=..., ID_SERIAL=...); GLOB as fnmatch(3).
 * vd_input_rule_check: -EINVAL if rule has none of these forms.
 */
int vd_input_rule_check(const char *rule);
bool vd_input_rule_match(const char *rule, const struct vd_input_device *dev);
#define VD_ROUTER_MAX_RULES 8u
#define VD_ROUTER_RULE_LEN 128u

struct vd_input_rect {
	int32_t x, y;
	uint32_t w, h; /* > 0 */
};

struct vd_router_stats {
	uint64_t delivered; /* events a guest took */
	uint64_t dropped;   /* no guest to take them, or refused by the device */
	uint64_t hotkeys;   /* focus cycles by the hotkey */
	uint64_t focus_changes;
	/*
	 * Where keys really went last (the focus, a claiming guest, or the
	 * compositor's focus for a source that addresses guests itself):
	 * VD_ROUTER_NO_FOCUS and 0 before the first key delivered.
	 */
	uint32_t last_key_domid;
	uint64_t last_key_us; /* CLOCK_MONOTONIC */
};

/* Borrows loop and kb (both outlive the router). */
int vd_router_create(sd_event *loop, struct vd_kbdback *kb, const struct vd_router_opts *opts,
		     struct vd_router **ret_router);
/* Destroys the sources it took. NULL ok. */
void vd_router_destroy(struct vd_router *r);
/* Takes src and starts it on the router's loop. On failure src is destroyed. */
int vd_router_add_source(struct vd_router *r, struct vd_input_source *src);

/* Add the guest, or move its rectangle; rect NULL: known, no place on the screen. */
int vd_router_set_guest(struct vd_router *r, uint32_t domid, const struct vd_input_rect *rect);
void vd_router_remove_guest(struct vd_router *r, uint32_t domid);
/*
 * The guest's own focus hotkey (NULL or key 0: none) and the rules of the
 * devices it claims (n <= VD_ROUTER_MAX_RULES, each shorter than
 * VD_ROUTER_RULE_LEN). -ENOENT for a guest not added, -EINVAL for a bad rule.
 */
int vd_router_set_guest_input(struct vd_router *r, uint32_t domid, const struct vd_hotkey *hotkey,
			      const char *const *rules, uint32_t n);
/* -ENOENT for a guest not added. */
int vd_router_focus(struct vd_router *r, uint32_t domid);
uint32_t vd_router_focused(struct vd_router *r);
void vd_router_get_stats(struct vd_router *r, struct vd_router_stats *ret);

/* The guest that claims dev by its rules, or VD_ROUTER_NO_FOCUS (it feeds the focus). */
uint32_t vd_router_device_owner(struct vd_router *r, struct vd_input_device *dev);
/*
 * fn for each physical device the sources have now (those that can tell:
 * libinput), with the guest that claims it or VD_ROUTER_NO_FOCUS. dev is
 * borrowed for the call.
 */
typedef void (*vd_router_device_fn)(void *userdata, const struct vd_input_device *dev,
				    uint32_t owner);
void vd_router_foreach_device(struct vd_router *r, vd_router_device_fn fn, void *userdata);

/* The sink the sources deliver to (also usable directly). */
void vd_router_handle(void *router, const struct vd_input_event *ev);

#endif
