/* SPDX-License-Identifier: MIT */
/*
 * The kbdif backend for xl `vkb` devices with backend-type=linux: libxl
 * puts them under /local/domain/<be>/backend/vinput/<domid>/<devid>, the
 * guest side under device/vkbd/<devid> (PROTOCOL.md §3). Runs the xenbus
 * state machine of each device, maps its shared page (page-gref), binds its
 * event channel, and puts input events on its IN ring under the rules that
 * keep Linux xen-kbdfront safe (kbdif_proto.h).
 *
 * Input is addressed by guest (domid): every connected vkb device of that
 * guest gets the event (a guest normally has one).
 */
#ifndef VD_KBDBACK_H
#define VD_KBDBACK_H

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "hv/hv.h"

struct vd_kbdback;

/* Events held per device while its ring is full; then the oldest is dropped. */
#define VD_KBD_QUEUE_MAX 256u

struct vd_kbdback_stats {
	uint32_t devices;   /* vkb devices known */
	uint32_t connected; /* devices Connected */
	uint64_t events;    /* events put on rings */
	uint64_t queued;    /* events that had to wait for room */
	uint64_t dropped;   /* oldest events dropped: a frontend that does not consume */
	uint64_t
	    refused; /* events the device does not accept (disabled, not requested, bad value) */
	uint64_t protocol_errors; /* devices closed for a protocol violation */
};

/*
 * Borrows loop. hv names the hypervisor only: the kbdback opens a
 * connection of its own to it (its own xenstore watch queue, so that it
 * and the display backend do not read each other's watch events).
 */
int vd_kbdback_create(sd_event *loop, struct vd_hv *hv, struct vd_kbdback **ret_kb);
/* Tells every guest the backend is gone (Closed) and releases everything. NULL ok. */
void vd_kbdback_destroy(struct vd_kbdback *kb);
void vd_kbdback_get_stats(struct vd_kbdback *kb, struct vd_kbdback_stats *ret);
/* true if domid has a Connected vkb device. */
bool vd_kbdback_connected(struct vd_kbdback *kb, uint32_t domid);
/* fn once per Connected device (a guest with two devices comes twice); name borrowed. */
typedef void (*vd_kbd_guest_fn)(void *userdata, uint32_t domid, const char *name);
void vd_kbdback_foreach_guest(struct vd_kbdback *kb, vd_kbd_guest_fn fn, void *userdata);
/* One vkb device as the status shows it. Borrowed for the call. */
struct vd_kbd_dev_info {
	uint32_t domid, devid;
	const char *name;	/* the domain's */
	int be_state, fe_state; /* xenbus states; -1 absent */
	bool connected, failed;
	bool keyboard, pointer; /* not disabled by the frontend */
	bool abs_pointer, multi_touch;
	uint32_t width, height;	/* the pointer's extent (absolute), device pixels */
	uint32_t mt_contacts;
	uint32_t queued; /* events waiting for room on its ring now */
};
typedef void (*vd_kbd_dev_fn)(void *userdata, const struct vd_kbd_dev_info *info);
/* fn once per vkb device known, connected or not. */
void vd_kbdback_foreach_device(struct vd_kbdback *kb, vd_kbd_dev_fn fn, void *userdata);
/*
 * fn(userdata) is called when what vd_kbdback_foreach_guest and
 * vd_kbdback_connected say may have changed: a device connected or torn
 * down (closed, detached, failed, removed). It comes from inside the xenbus
 * work, before the device's state is final: the listener only notes it
 * and looks from the loop. One listener; another call replaces it, fn NULL
 * removes it.
 */
void vd_kbdback_on_change(struct vd_kbdback *kb, void (*fn)(void *userdata), void *userdata);

/*
 * Inject input into domid's devices. Returns 0 when at least one device
 * took the event (on its ring, or queued until the frontend consumes),
 * -ENOTCONN when domid has no connected device, -EOPNOTSUPP when the
 * device(s) do not accept the class (a KEY with the keyboard or the pointer
 * disabled, touch without multi-touch requested...), -EINVAL for a value
 * out of range (keycode >= KEY_CNT, contact id >= num_contacts).
 */
int vd_kbdback_send_key(struct vd_kbdback *kb, uint32_t domid, uint32_t keycode, bool pressed);
int vd_kbdback_send_pointer_rel(struct vd_kbdback *kb, uint32_t domid, int32_t dx, int32_t dy);
/* wheel in REL_WHEEL units, positive away from the user (what the guest reports). */
int vd_kbdback_send_wheel(struct vd_kbdback *kb, uint32_t domid, int32_t wheel);
/*
 * x, y inside an area of src_w x src_h (the guest's connector rectangle);
 * scaled to the device's width/height. Sent as MOTION when the guest did
 * not request absolute events.
 */
int vd_kbdback_send_pointer_abs(struct vd_kbdback *kb, uint32_t domid, uint32_t x, uint32_t y,
				uint32_t src_w, uint32_t src_h);
/*
 * mt_ev: XENKBD_MT_EV_DOWN, _UP, _MOTION or _SYN; x, y as for pointer_abs
 * (ignored for UP and SYN), scaled to multi-touch-width/-height.
 */
int vd_kbdback_send_touch(struct vd_kbdback *kb, uint32_t domid, uint8_t mt_ev, uint32_t contact_id,
			  uint32_t x, uint32_t y, uint32_t src_w, uint32_t src_h);

#endif
