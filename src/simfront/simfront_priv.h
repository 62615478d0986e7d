/* SPDX-License-Identifier: MIT */
#ifndef VD_SIMFRONT_PRIV_H
#define VD_SIMFRONT_PRIV_H

#include "hv/sim/sim.h"
#include "simfront/simfront.h"

#define SF_MAX_CONN 4u
#define SF_MAX_BUFS 8u
#define SF_WAIT_BACK_US 3000000ull   /* XEN_DRM_FRONT_WAIT_BACK_MS */
#define SF_FRAME_DONE_US 3100000ull  /* FRAME_DONE_TO_MS */
#define SF_TOOLSTACK_TIMEOUT_US 10000000ull /* LIBXL_DESTROY_TIMEOUT */

struct vd_simfront;

struct sf_req {
	struct sf_req *next;
	struct xendispl_req req;
	vd_simfront_resp_cb cb;
	void *userdata;
	uint64_t sent_us; /* pushed on the ring (vd_now_us) */
};

/* One connector's channels: request ring and event page ("evtchnl"). */
struct sf_chan {
	struct vd_simfront *front;
	uint32_t idx;
	void *ring_page, *evt_page;
	uint32_t ring_pfn, evt_pfn, ring_ref, evt_ref;
	uint32_t req_port, evt_port;
	struct vd_evtchn *req_ch, *evt_ch;
	sd_event_source *req_src, *evt_src, *timeout_src;
	xen_displif_front_ring_t ring;
	uint16_t evt_next_id; /* request ids */
	uint16_t evt_id;      /* expected event id */
	struct sf_req *queue, *inflight;
};

struct sf_client;

struct sf_buffer {
	struct sf_client *client;
	uint32_t index;
	struct vd_simfront_buf *mem;
	uint64_t dbuf_cookie, fb_cookie;
	uint32_t stride;
};

/* The client of one connector: its buffers and its flip loop. */
struct sf_client {
	struct vd_simfront *front;
	uint32_t idx;
	struct sf_buffer bufs[SF_MAX_BUFS];
	uint32_t nbufs, created;
	uint64_t frame;        /* frame currently shown / being flipped */
	bool flip_inflight, flip_acked, event_seen;
	bool flips_over; /* destroy_at_end: its last frame flipped, its connector disabled */
	bool finished;
	sd_event_source *watchdog_src;
	uint32_t destroy_pending;
	struct vd_simfront_buf *edid; /* GET_EDID's buffer while it is asked */
};

struct vd_simfront {
	struct vd_sim *sim;
	struct vd_hv *dom0; /* borrowed: the toolstack's connection */
	struct vd_hv *hv;   /* the guest's own connection */
	struct vd_gnt *gnt; /* the guest's grant handle (be-alloc maps) */
	struct vd_hv *ts;   /* the toolstack's own connection during xl destroy */
	sd_event_source *ts_src, *ts_timer;
	sd_event *loop;
	char *name;
	uint32_t domid;
	struct vd_simfront_opts opts;
	char *fe_path, *be_path;
	sd_event_source *xs_src;
	int state;
	bool dead;
	bool removing; /* driver removal under way */
	uint32_t nconn;
	uint32_t width, height, bpp, fourcc;
	struct sf_chan chans[SF_MAX_CONN];
	struct sf_client clients[SF_MAX_CONN];
	uint64_t next_cookie;
	struct vd_simfront_stats stats;
};

/* simfront_chan.c */
int sf_chan_open(struct vd_simfront *f, struct sf_chan *ch, uint32_t idx);
void sf_chan_close(struct vd_simfront *f, struct sf_chan *ch);
int sf_chan_send(struct sf_chan *ch, const struct xendispl_req *req, vd_simfront_resp_cb cb,
		 void *userdata);
/* simfront_client.c */
void sf_client_start(struct vd_simfront *f, struct sf_client *c, uint32_t idx);
void sf_client_stop(struct vd_simfront *f, struct sf_client *c);
void sf_client_frame_done(struct sf_client *c);
void sf_draw(void *dst, uint32_t stride, uint32_t width_bytes, uint32_t height, uint64_t frame,
	     uint32_t seed);
/* simfront.c */
void sf_update_finished(struct vd_simfront *f);

#endif
