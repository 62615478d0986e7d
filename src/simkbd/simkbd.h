/* SPDX-License-Identifier: MIT */
/*
 * A simulated xen-kbdfront over the sim hypervisor (PROTOCOL.md §3.4):
 * the toolstack's part (libxl with backend-type=linux: backend/vinput and
 * device/vkbd), the frontend's probe (features read once, request-* written,
 * the page granted writable, the event channel allocated, page-ref,
 * page-gref and event-channel written in one transaction, Initialised at
 * once), its xenbus reactions, and its consumer: in_prod, rmb, handle every
 * slot, mb, in_cons, notify the backend after each batch.
 *
 * Every event is checked against what the Linux driver would do with it: a
 * KEY event while the keyboard or the pointer is disabled (NULL
 * dereference), or a keycode >= KEY_CNT (bit index out of range), counts as
 * a crash; an event for a class the device does not have, an unknown type,
 * or non-zero reserved bytes count as violations.
 */
#ifndef VD_SIMKBD_H
#define VD_SIMKBD_H

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "hv/hv.h"
#include "kbdif_proto.h"

struct vd_simkbd;

struct vd_simkbd_opts {
	uint32_t domid;	   /* an existing guest domain; 0: create one */
	uint32_t be_domid; /* backend domain, 0 */
	uint32_t devid;
	/* What the xl vkb line says (libxl writes it to the backend directory). */
	bool disable_keyboard, disable_pointer, abs_pointer, multi_touch;
	uint32_t width, height;			   /* 0: not written (800x600 in the guest) */
	uint32_t mt_width, mt_height, mt_contacts; /* 0: not written */
	/* Frontend behaviour */
	bool no_requests;    /* does not write request-abs-pointer / request-multi-touch */
	bool manual_consume; /* events stay on the ring until vd_simkbd_consume */
	/* Hostile: published instead of the real values (NULL: the real ones). */
	const char *page_gref;
	const char *event_channel;
};

/* One event as the guest received it (raw fields of the slot). */
struct vd_simkbd_event {
	uint8_t type;	  /* XENKBD_TYPE_* */
	uint8_t mt_ev;	  /* MTOUCH */
	uint8_t contact;  /* MTOUCH */
	bool pressed;	  /* KEY */
	uint32_t keycode; /* KEY */
	int32_t x, y, z;  /* MOTION rel_x/y/z, POS abs_x/y + rel_z, MTOUCH abs_x/y */
};

struct vd_simkbd_stats {
	int state;	     /* frontend xenbus state */
	uint32_t connects;   /* times the frontend reached Connected */
	uint64_t events;     /* slots consumed */
	uint64_t batches;    /* notifications after consuming */
	uint64_t crashes;    /* events that would oops Linux xen-kbdfront */
	uint64_t violations; /* events the device cannot take, or with reserved bytes set */
};

#define VD_SIMKBD_LOG_MAX 4096u

int vd_simkbd_create(struct vd_hv *dom0, sd_event *loop, const char *name,
		     const struct vd_simkbd_opts *opts, struct vd_simkbd **ret_kbd);
/* Frees the frontend; a domain it created is destroyed. NULL ok. */
void vd_simkbd_destroy(struct vd_simkbd *kbd);
uint32_t vd_simkbd_domid(struct vd_simkbd *kbd);
void vd_simkbd_get_stats(struct vd_simkbd *kbd, struct vd_simkbd_stats *ret);
/* The events consumed so far, oldest first (at most VD_SIMKBD_LOG_MAX kept). */
uint32_t vd_simkbd_events(struct vd_simkbd *kbd, const struct vd_simkbd_event **ret);
void vd_simkbd_clear_events(struct vd_simkbd *kbd);

/* Consume what is on the ring now (as the interrupt handler). Returns the count. */
int vd_simkbd_consume(struct vd_simkbd *kbd);
void vd_simkbd_set_manual(struct vd_simkbd *kbd, bool manual);
/* Slots produced and not consumed. */
uint32_t vd_simkbd_pending(struct vd_simkbd *kbd);

/* ---- hostile and lifecycle ---- */

/* Write a node of the frontend directory (as the guest may at any time). */
int vd_simkbd_write_node(struct vd_simkbd *kbd, const char *node, const char *value);
/* The shared page (guest view), for index corruption. Borrowed. */
struct xenkbd_page *vd_simkbd_page(struct vd_simkbd *kbd);
/* The driver goes away mid-stream: Closing, then Closed. */
int vd_simkbd_close(struct vd_simkbd *kbd);
/* A new probe: page and port released, fresh ones published, Initialised. */
int vd_simkbd_reprobe(struct vd_simkbd *kbd);

#endif
