/* SPDX-License-Identifier: MIT */
#ifndef VD_KBDBACK_PRIV_H
#define VD_KBDBACK_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "hv/hv.h"
#include "input/kbdback.h"
#include "kbdif_proto.h"
#include "notify.h"
#include "xenbus/xbdev.h"

struct vd_kbdback;

struct vd_kbd_dev {
	struct vd_xbdev xb; /* first: the xenbus device (xbdev.h) */
	struct vd_kbdback *kb;

	/* Valid while connected. */
	uint32_t gref, port; /* as read at connect: a change later is a violation */
	void *page;	     /* the frontend's shared page, mapped writable; owned */
	struct vd_evtchn *ch;
	sd_event_source *ch_src;
	struct vd_kbd_ring ring;
	struct vd_kbd_features feat;
	struct vd_kbd_ptr_state ptr;
	union xenkbd_in_event queue[VD_KBD_QUEUE_MAX]; /* waiting for room on the ring */
	uint32_t q_head, q_len;
};

struct vd_kbdback {
	struct vd_xbdir xbdir; /* backend/vinput */
	sd_event *loop;
	struct vd_hv *hv; /* our own connection; owned */
	struct vd_kbdback_stats stats; /* devices and protocol_errors live in xbdir */
	struct vd_notify changed; /* vd_kbdback_on_change */
};

struct vd_kbd_dev *vd_kbd_dev_from_xbdev(struct vd_xbdev *xb);

/* kbdback_dev.c: the connected device (page, channel, ring, queue). */
int vd_kbd_dev_connect(struct vd_kbd_dev *dev);
void vd_kbd_dev_disconnect(struct vd_kbd_dev *dev);
/* A frontend node changed while connected: page-gref / event-channel must stay. */
void vd_kbd_dev_check_transport(struct vd_kbd_dev *dev);
/* Put slot on the ring, or queue it. 0, or -ENOTCONN when the device is not up. */
int vd_kbd_dev_send(struct vd_kbd_dev *dev, const union xenkbd_in_event *slot);
/* kbdback.c */
bool vd_kbd_dev_is_up(const struct vd_kbd_dev *dev);

#endif
