/* SPDX-License-Identifier: MIT */
#ifndef VD_XENBUS_PRIV_H
#define VD_XENBUS_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "buffers/buffers.h"
#include "displif_proto.h"
#include "hv/hv.h"
#include "notify.h"
#include "xenbus/backend.h"
#include "xenbus/xbdev.h"

#define VD_MAX_CONNECTORS VD_BACKEND_MAX_CONNECTORS
/* Requests served per wake-up before yielding to other guests. */
#define VD_REQ_BUDGET 32u
/* Events held back while a frontend's event page is full. */
#define VD_EVQ_MAX 64u

struct vd_dev;

struct vd_conn {
	struct vd_dev *dev;
	uint32_t idx;
	uint32_t width, height;
	char *unique_id;

	void *req_page; /* mapped request ring, owned */
	void *evt_page; /* mapped event page, owned */
	xen_displif_back_ring_t ring;
	struct vd_evtchn *req_ch, *evt_ch;
	sd_event_source *req_src, *defer_src, *evq_src;
	struct vd_evt_ring evt;
	struct vd_output_conn *oconn;
	uint32_t flips_pending;
	uint64_t flips;     /* accepted since connect (status) */
	char mapping[64];   /* vd_guest_settings.mapping, "" none */
	bool reply_pending; /* a DBUF_DESTROY waits for a release: the ring pauses */
	uint16_t reply_id;  /* its request id */
	uint64_t reply_t0;  /* when it came (vd_now_us), for the debug timing line */
	uint64_t evq[VD_EVQ_MAX]; /* fb cookies of events waiting for room */
	uint32_t evq_head, evq_len;
};

struct vd_dev {
	struct vd_xbdev xb; /* first: the xenbus device (xbdev.h) */
	struct vd_backend *be;
	int version;
	bool be_alloc;
	uint32_t nconn;
	struct vd_conn conns[VD_MAX_CONNECTORS];
	struct vd_bufs *bufs;
	struct vd_bufs_opts bufs_opts; /* what bufs was created with */
};

struct vd_backend {
	struct vd_xbdir xbdir; /* backend/vdispl */
	sd_event *loop;
	struct vd_hv *hv;
	struct vd_output *out;
	struct vd_backend_opts opts;
	struct vd_gates *gates;
	struct vd_backend_stats stats; /* devices and protocol_errors live in xbdir */
	struct vd_notify changed; /* vd_backend_on_change */
};

/* backend.c: tell the vd_backend_on_change listener, if any. */
void vd_backend_changed(struct vd_backend *be);

/* backend.c: the checked downcast */
struct vd_dev *vd_dev_from_xbdev(struct vd_xbdev *xb);

/* conn.c */
int vd_conn_connect(struct vd_dev *dev, struct vd_conn *conn);
void vd_conn_disconnect(struct vd_conn *conn);

#endif
