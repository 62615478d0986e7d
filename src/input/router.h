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
 * The hotkey (default Left Meta + F12) is a chord: the modifier is an
 * ordinary key (delivered), the key itself is never delivered, neither its
 * press nor its release. Keys held in a guest are released in it when the
 * focus leaves, so nothing stays stuck (including the modifier).
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

struct vd_router_opts {
	uint32_t hotkey_mod; /* KEY_* that must be held, 0: none */
	uint32_t hotkey_key; /* KEY_* that cycles the focus, 0: no hotkey */
	bool focus_follows_pointer;
};
/* KEY_LEFTMETA (125) + KEY_F12 (88): not a chord applications commonly bind. */
#define VD_ROUTER_OPTS_DEFAULT                                                                     \
	{                                                                                          \
		125u, 88u, true                                                                    \
	}

struct vd_input_rect {
	int32_t x, y;
	uint32_t w, h; /* > 0 */
};

struct vd_router_stats {
	uint64_t delivered; /* events a guest took */
	uint64_t dropped;   /* no guest to take them, or refused by the device */
	uint64_t hotkeys;   /* focus cycles by the hotkey */
	uint64_t focus_changes;
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
/* -ENOENT for a guest not added. */
int vd_router_focus(struct vd_router *r, uint32_t domid);
uint32_t vd_router_focused(struct vd_router *r);
void vd_router_get_stats(struct vd_router *r, struct vd_router_stats *ret);

/* The sink the sources deliver to (also usable directly). */
void vd_router_handle(void *router, const struct vd_input_event *ev);

#endif
