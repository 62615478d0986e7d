/* SPDX-License-Identifier: MIT */
/*
 * kbdif (xl `vkb`) wire format: event encoding into the 40-byte slots of
 * the shared page's IN ring, the ring producer, and the rules that keep a
 * Linux xen-kbdfront safe (PROTOCOL.md §3, §6). Pure C, no I/O.
 *
 * The frontend owns the page and is hostile: in_cons is the only value read
 * from it, once per put, and it is checked before it is trusted.
 */
#ifndef VD_KBDIF_PROTO_H
#define VD_KBDIF_PROTO_H

#include <stdbool.h>
#include <stdint.h>

#include <xen/io/kbdif.h>

/* Linux KEY_CNT: keycodes are bit indices into keybit[] in the guest. */
#define VD_KBD_KEY_CNT 0x300u
#define VD_KBD_RING_LEN ((uint32_t)XENKBD_IN_RING_LEN) /* 51 */
/* Contact ids travel in a u8. */
#define VD_KBD_MAX_CONTACTS 256u
/* xen-kbdfront's defaults when the backend wrote no size (XENFB_WIDTH/HEIGHT). */
#define VD_KBD_DEFAULT_WIDTH 800u
#define VD_KBD_DEFAULT_HEIGHT 600u

/* ---- encoding: the whole slot is zeroed first (reserved fields must be 0) ---- */

void vd_kbd_encode_key(union xenkbd_in_event *slot, uint32_t keycode, bool pressed);
void vd_kbd_encode_motion(union xenkbd_in_event *slot, int32_t rel_x, int32_t rel_y, int32_t rel_z);
void vd_kbd_encode_pos(union xenkbd_in_event *slot, int32_t abs_x, int32_t abs_y, int32_t rel_z);
/* mt_ev: XENKBD_MT_EV_DOWN/MOTION carry x, y; UP and SYN ignore them. */
void vd_kbd_encode_mtouch(union xenkbd_in_event *slot, uint8_t mt_ev, uint8_t contact_id,
			  int32_t abs_x, int32_t abs_y);

/* ---- validation ---- */

/* 0 < keycode < KEY_CNT (0 is KEY_RESERVED, in no keybit of the guest). */
bool vd_kbd_keycode_valid(uint32_t keycode);
bool vd_kbd_contact_valid(uint32_t contact_id, uint32_t num_contacts);
/*
 * Scale pos in [0, src_extent) to [0, dst_extent] (xen-kbdfront declares
 * ABS_X as [0, width]). pos is clamped to src_extent; the result to
 * INT32_MAX. src_extent == 0 gives 0. Equal extents are the identity.
 */
int32_t vd_kbd_scale(uint32_t pos, uint32_t src_extent, uint32_t dst_extent);

/* ---- what a device accepts ---- */

/*
 * The device as negotiated: backend features libxl wrote, and what the
 * frontend requested (abs = feature-abs-pointer && request-abs-pointer,
 * mtouch = feature-multi-touch && request-multi-touch).
 */
struct vd_kbd_features {
	bool kbd_disabled, ptr_disabled; /* feature-disable-keyboard/-pointer */
	bool abs, mtouch;
	uint32_t width, height;	      /* pointer extent, <= INT32_MAX */
	uint32_t mt_width, mt_height; /* touch extent, <= INT32_MAX */
	uint32_t mt_contacts;	      /* <= VD_KBD_MAX_CONTACTS */
};

/* The pointer position the guest was last told, in device pixels. */
struct vd_kbd_ptr_state {
	int32_t x, y;
};

/*
 * Build the slot for one input event under the device's rules, or refuse:
 * -EOPNOTSUPP when the class is disabled or not requested (nothing must be
 * sent), -EINVAL for a value out of range. Never writes the slot on error.
 *
 * KEY: refused when the keyboard OR the pointer is disabled: Linux
 * xen-kbdfront tests ptr->keybit and kbd->keybit without NULL checks (older
 * versions kbd first, newer ptr first), so a KEY event to a device with
 * either one disabled dereferences NULL in the guest.
 */
int vd_kbd_make_key(const struct vd_kbd_features *f, uint32_t keycode, bool pressed,
		    union xenkbd_in_event *slot);
/*
 * Relative motion dx, dy and wheel (REL_WHEEL sign: positive away from the
 * user; the wire carries rel_z = -wheel since Linux reports -rel_z). For a
 * device in abs mode (relative axes are not declared there) the motion is
 * applied to st and sent as POS, clamped to [0, width] x [0, height].
 */
int vd_kbd_make_rel(const struct vd_kbd_features *f, struct vd_kbd_ptr_state *st, int32_t dx,
		    int32_t dy, int32_t wheel, union xenkbd_in_event *slot);
/*
 * Absolute position x, y in a source area of src_w x src_h, scaled to the
 * device's width/height. Abs mode: POS; relative mode: MOTION by the
 * difference from st. st is updated.
 */
int vd_kbd_make_abs(const struct vd_kbd_features *f, struct vd_kbd_ptr_state *st, uint32_t x,
		    uint32_t y, uint32_t src_w, uint32_t src_h, union xenkbd_in_event *slot);
/* Multi-touch: contact_id < mt_contacts; x, y scaled to mt_width/mt_height. */
int vd_kbd_make_touch(const struct vd_kbd_features *f, uint8_t mt_ev, uint32_t contact_id,
		      uint32_t x, uint32_t y, uint32_t src_w, uint32_t src_h,
		      union xenkbd_in_event *slot);

/* ---- the IN ring producer (51 slots of 40 bytes at XENKBD_IN_RING_OFFS) ---- */

struct vd_kbd_ring {
	uint32_t prod; /* private in_prod: we are the only producer, never read it back */
};
/* At connect: in_prod = in_cons (stale events are dropped). */
void vd_kbd_ring_init(struct vd_kbd_ring *r, void *page);
/*
 * Free slots now, or -EPROTO if in_cons is impossible (prod - cons > 51).
 */
int vd_kbd_ring_space(const struct vd_kbd_ring *r, const void *page);
/*
 * Copy ev into the next slot if it is free. 0: put (the caller notifies),
 * -EAGAIN: full, -EPROTO: in_cons corrupt. Contains the barriers.
 */
int vd_kbd_ring_put(struct vd_kbd_ring *r, void *page, const union xenkbd_in_event *ev);

#endif
