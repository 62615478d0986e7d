/* SPDX-License-Identifier: MIT */
#ifndef VD_XENBUS_PRIV_H
#define VD_XENBUS_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "buffers/buffers.h"
#include "displif_proto.h"
#include "hv/hv.h"
#include "xenbus/backend.h"

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
	uint64_t evq[VD_EVQ_MAX]; /* fb cookies of events waiting for room */
	uint32_t evq_head, evq_len;
};

struct vd_dev {
	struct vd_backend *be;
	struct vd_dev *next;
	uint32_t domid, devid;
	char *be_path, *fe_path, *name;
	char fe_token[48];
	int be_state;       /* last state we wrote */
	int fe_state;       /* last frontend state seen */
	bool await_reinit;  /* found Connected at start: wait until the frontend leaves Connected */
	bool detaching;     /* toolstack asked to close */
	bool failed;        /* protocol violation: closed until the frontend re-initialises */
	int version;
	bool be_alloc;
	uint32_t nconn;
	struct vd_conn conns[VD_MAX_CONNECTORS];
	struct vd_gnt *gnt;
	struct vd_bufs *bufs;
	struct vd_bufs_opts bufs_opts; /* what bufs was created with */
	sd_event_source *fail_src; /* deferred teardown after a violation */
};

struct vd_backend {
	sd_event *loop;
	struct vd_hv *hv;
	struct vd_output *out;
	struct vd_backend_opts opts;
	uint32_t own_domid;
	char *root; /* /local/domain/<own>/backend/vdispl */
	sd_event_source *xs_src;
	struct vd_gates *gates;
	struct vd_dev *devs;
	struct vd_backend_stats stats;
};

/* conn.c */
int vd_conn_connect(struct vd_dev *dev, struct vd_conn *conn);
void vd_conn_disconnect(struct vd_conn *conn);
/* backend.c */
void vd_dev_fail(struct vd_dev *dev, const char *why);

#endif
