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
/* Requests of one ring served per turn of its device (besides the turn's pages). */
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
	sd_event_source *req_src, *evq_src;
	struct vd_evt_ring evt;
	struct vd_output_conn *oconn;
	uint32_t flips_pending;
	uint64_t flips;     /* accepted since connect (status) */
	char mapping[64];   /* vd_guest_settings.mapping, "" none */
	bool serving;       /* counted in dev->serving */
	/* The ring pauses while its request is in progress: */
	struct vd_bufs_job *job; /* a DBUF_CREATE/DESTROY going on in the device's next turn */
	bool reply_pending; /* a DBUF_DESTROY waits for a release */
	uint16_t reply_id;  /* the request's id */
	uint8_t reply_op;   /* and operation */
	struct vd_req reply_req; /* a DBUF_CREATE as decoded, for the debug timing line */
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
	sd_event_source *serve_src; /* the device's next turn (dispatch.c) */
	uint32_t serving;           /* connectors connected: serve_src lives while > 0 */
	uint32_t rr;                /* the connector that comes first in the next turn */
};

struct vd_backend {
	struct vd_xbdir xbdir; /* backend/vdispl */
	sd_event *loop;
	struct vd_hv *hv;
	struct vd_output *out;
	struct vd_backend_opts opts;
	struct vd_gates *gates;
	struct vd_pool *pool; /* the guests' accounts and the global caps */
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
/* Put held-back events on the page while there is room. */
int vd_conn_evq_flush(struct vd_conn *conn);

/* dispatch.c */
/* A connector connects (goes): the device's turn source exists while any is connected. */
int vd_dev_serve_add(struct vd_dev *dev);
void vd_dev_serve_remove(struct vd_dev *dev);
/* A ring was notified: a turn now, unless one is queued already. */
void vd_dev_kick(struct vd_dev *dev);
/* A turn soon, from the loop. */
void vd_dev_serve_soon(struct vd_dev *dev);
/* Disconnect: no answer will come for the ring's request in progress (undone or completed). */
void vd_conn_stop_work(struct vd_conn *conn);

#endif
