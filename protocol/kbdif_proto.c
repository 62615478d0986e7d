/* SPDX-License-Identifier: MIT */
/* kbdif events, the rules of a safe device, and the IN ring producer (PROTOCOL.md §3). */
#include <errno.h>
#include <string.h>

#include "kbdif_proto.h"

_Static_assert(sizeof(union xenkbd_in_event) == XENKBD_IN_EVENT_SIZE, "kbdif slot size");
_Static_assert(XENKBD_IN_RING_LEN == 51, "kbdif ring length");

/* ---- encoding ---- */

void vd_kbd_encode_key(union xenkbd_in_event *slot, uint32_t keycode, bool pressed)
{
	memset(slot, 0, sizeof(*slot));
	slot->key.type = XENKBD_TYPE_KEY;
	slot->key.pressed = pressed ? 1 : 0;
	slot->key.keycode = keycode;
}

void vd_kbd_encode_motion(union xenkbd_in_event *slot, int32_t rel_x, int32_t rel_y, int32_t rel_z)
{
	memset(slot, 0, sizeof(*slot));
	slot->motion.type = XENKBD_TYPE_MOTION;
	slot->motion.rel_x = rel_x;
	slot->motion.rel_y = rel_y;
	slot->motion.rel_z = rel_z;
}

void vd_kbd_encode_pos(union xenkbd_in_event *slot, int32_t abs_x, int32_t abs_y, int32_t rel_z)
{
	memset(slot, 0, sizeof(*slot));
	slot->pos.type = XENKBD_TYPE_POS;
	slot->pos.abs_x = abs_x;
	slot->pos.abs_y = abs_y;
	slot->pos.rel_z = rel_z;
}

void vd_kbd_encode_mtouch(union xenkbd_in_event *slot, uint8_t mt_ev, uint8_t contact_id,
			  int32_t abs_x, int32_t abs_y)
{
	memset(slot, 0, sizeof(*slot));
	slot->mtouch.type = XENKBD_TYPE_MTOUCH;
	slot->mtouch.event_type = mt_ev;
	slot->mtouch.contact_id = contact_id;
	if (mt_ev == XENKBD_MT_EV_DOWN || mt_ev == XENKBD_MT_EV_MOTION) {
		slot->mtouch.u.pos.abs_x = abs_x;
		slot->mtouch.u.pos.abs_y = abs_y;
	}
}

/* ---- validation ---- */

bool vd_kbd_keycode_valid(uint32_t keycode)
{
	return keycode > 0 && keycode < VD_KBD_KEY_CNT;
}

bool vd_kbd_contact_valid(uint32_t contact_id, uint32_t num_contacts)
{
	return contact_id < num_contacts && contact_id < VD_KBD_MAX_CONTACTS;
}

int32_t vd_kbd_scale(uint32_t pos, uint32_t src_extent, uint32_t dst_extent)
{
	uint64_t v;

	if (src_extent == 0)
		return 0;
	if (pos > src_extent)
		pos = src_extent;
	v = (uint64_t)pos * dst_extent / src_extent; /* < 2^64: both factors < 2^32 */
	return v > INT32_MAX ? INT32_MAX : (int32_t)v;
}

/* ---- the rules ---- */

int vd_kbd_make_key(const struct vd_kbd_features *f, uint32_t keycode, bool pressed,
		    union xenkbd_in_event *slot)
{
	if (f->kbd_disabled || f->ptr_disabled)
		return -EOPNOTSUPP;
	if (!vd_kbd_keycode_valid(keycode))
		return -EINVAL;
	vd_kbd_encode_key(slot, keycode, pressed);
	return 0;
}

static int32_t clamp_add(int32_t pos, int32_t d, uint32_t max)
{
	int64_t v = (int64_t)pos + d;

	if (v < 0)
		return 0;
	return v > (int64_t)max ? (int32_t)max : (int32_t)v;
}

/* -wheel without overflow: INT32_MIN has no negation. */
static int32_t wire_wheel(int32_t wheel)
{
	return wheel == INT32_MIN ? INT32_MAX : -wheel;
}

int vd_kbd_make_rel(const struct vd_kbd_features *f, struct vd_kbd_ptr_state *st, int32_t dx,
		    int32_t dy, int32_t wheel, union xenkbd_in_event *slot)
{
	if (f->ptr_disabled)
		return -EOPNOTSUPP;
	if (!f->abs) {
		vd_kbd_encode_motion(slot, dx, dy, wire_wheel(wheel));
		return 0;
	}
	st->x = clamp_add(st->x, dx, f->width);
	st->y = clamp_add(st->y, dy, f->height);
	vd_kbd_encode_pos(slot, st->x, st->y, wire_wheel(wheel));
	return 0;
}

int vd_kbd_make_abs(const struct vd_kbd_features *f, struct vd_kbd_ptr_state *st, uint32_t x,
		    uint32_t y, uint32_t src_w, uint32_t src_h, union xenkbd_in_event *slot)
{
	int32_t sx, sy;

	if (f->ptr_disabled)
		return -EOPNOTSUPP;
	if (src_w == 0 || src_h == 0)
		return -EINVAL;
	sx = vd_kbd_scale(x, src_w, f->width);
	sy = vd_kbd_scale(y, src_h, f->height);
	if (f->abs)
		vd_kbd_encode_pos(slot, sx, sy, 0);
	else /* both in [0, INT32_MAX]: the difference fits */
		vd_kbd_encode_motion(slot, sx - st->x, sy - st->y, 0);
	st->x = sx;
	st->y = sy;
	return 0;
}

int vd_kbd_make_touch(const struct vd_kbd_features *f, uint8_t mt_ev, uint32_t contact_id,
		      uint32_t x, uint32_t y, uint32_t src_w, uint32_t src_h,
		      union xenkbd_in_event *slot)
{
	bool has_pos = mt_ev == XENKBD_MT_EV_DOWN || mt_ev == XENKBD_MT_EV_MOTION;

	if (!f->mtouch)
		return -EOPNOTSUPP;
	if (mt_ev > XENKBD_MT_EV_SYN || !vd_kbd_contact_valid(contact_id, f->mt_contacts))
		return -EINVAL;
	if (has_pos && (src_w == 0 || src_h == 0))
		return -EINVAL;
	vd_kbd_encode_mtouch(slot, mt_ev, (uint8_t)contact_id,
			     has_pos ? vd_kbd_scale(x, src_w, f->mt_width) : 0,
			     has_pos ? vd_kbd_scale(y, src_h, f->mt_height) : 0);
	return 0;
}

/* ---- the ring ---- */

static struct xenkbd_page *hdr(void *page)
{
	return page;
}

void vd_kbd_ring_init(struct vd_kbd_ring *r, void *page)
{
	r->prod = __atomic_load_n(&hdr(page)->in_cons, __ATOMIC_ACQUIRE);
	__atomic_store_n(&hdr(page)->in_prod, r->prod, __ATOMIC_RELEASE);
}

int vd_kbd_ring_space(const struct vd_kbd_ring *r, const void *page)
{
	const struct xenkbd_page *h = page;
	/*
	 * Acquire: the frontend finished reading a slot before it advanced
	 * in_cons past it, so a later slot write must not move above this load.
	 */
	uint32_t used = r->prod - __atomic_load_n(&h->in_cons, __ATOMIC_ACQUIRE);

	if (used > VD_KBD_RING_LEN)
		return -EPROTO;
	return (int)(VD_KBD_RING_LEN - used);
}

int vd_kbd_ring_put(struct vd_kbd_ring *r, void *page, const union xenkbd_in_event *ev)
{
	int space = vd_kbd_ring_space(r, page);

	if (space < 0)
		return space;
	if (space == 0)
		return -EAGAIN;
	/* Same slot rule as the frontend: free-running u32 index modulo 51. */
	memcpy(&XENKBD_IN_RING_REF(page, r->prod), ev, sizeof(*ev));
	/* Release: the slot is visible before the new in_prod (wmb). */
	__atomic_store_n(&hdr(page)->in_prod, r->prod + 1, __ATOMIC_RELEASE);
	r->prod++;
	return 0;
}
