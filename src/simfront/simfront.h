/* SPDX-License-Identifier: MIT */
/*
 * A simulated guest over the sim hypervisor: a domain with a vdispl
 * device added the way libxl adds it, a frontend that behaves as Linux
 * xen-front does (PROTOCOL.md §2: one outstanding request per ring, 3000 ms
 * response timeout, 3100 ms frame-done watchdog, request slots reused
 * without clearing, events with unexpected ids skipped), and a client that
 * draws an animated test pattern and page-flips it. Used by the demo, the
 * tests and the benchmarks.
 */
#ifndef VD_SIMFRONT_H
#define VD_SIMFRONT_H

#include <stdbool.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "displif_proto.h"
#include "hv/hv.h"
#include "output/output.h"

struct vd_simfront;

struct vd_simfront_opts {
	uint32_t nconn;         /* connectors, 1..4 */
	/*
	 * Connectors the toolstack configures (read-only for the guest, as
	 * libxl writes them); 0: nconn. The frontend still probes nconn: the
	 * rest are for a hostile guest to add itself.
	 */
	uint32_t ts_nconn;
	uint32_t width, height; /* resolution of every connector */
	uint32_t fourcc;        /* buffer format; 0: XRGB8888 */
	bool pitch_align8;      /* dumb pitch aligned to 8 bytes (Linux 2025+) */
	uint32_t nbufs;         /* buffers per connector; 0: 2 */
	/*
	 * One set of buffers for all connectors, side by side, each connector
	 * showing its window at x = index * width (SET_CONFIG's x), as
	 * multi-head KMS programs do. Each window holds its connector's own
	 * test pattern and frame numbers.
	 */
	bool span;
	/*
	 * A fresh buffer every frame, the previous one detached and destroyed
	 * as soon as the new frame's flip is accepted, while it is still on
	 * screen (not with span).
	 */
	bool churn;
	uint32_t frames;        /* flips per connector, then stop; 0: forever */
	bool no_client;         /* connect only: tests drive requests themselves */
	/*
	 * The toolstack's part only: no frontend driver runs (its state stays
	 * Initialising, nothing is published); tests speak for the guest.
	 */
	bool no_frontend;
	bool destroy_at_end;    /* after the last frame: disable, detach, destroy */
	bool be_alloc;
	uint32_t be_domid;      /* backend domain, 0 */
	bool get_edid;          /* GET_EDID on each connector first; the answer is logged */
	/*
	 * Optional, for benchmarks: a PG_FLIP was pushed on connector conn's
	 * ring (before the notify), and the PG_FLIP event for it was taken.
	 * Called on the frontend's loop with hook_userdata.
	 */
	void (*on_flip_sent)(void *userdata, uint32_t conn);
	void (*on_flip_done)(void *userdata, uint32_t conn);
	/* Optional: every response taken on conn's ring, latency_us after its request. */
	void (*on_response)(void *userdata, uint32_t conn, const struct xendispl_resp *rsp,
			    uint64_t latency_us);
	void *hook_userdata;
};

struct vd_simfront_stats {
	int state;              /* frontend xenbus state */
	uint32_t connects;      /* times the frontend reached Connected */
	uint64_t requests;      /* requests answered */
	uint64_t errors;        /* answered with a non-zero status */
	uint64_t timeouts;      /* no response within 3000 ms */
	uint64_t max_response_us; /* the slowest response, from the push to its arrival */
	uint64_t flips;         /* PG_FLIP requests accepted */
	uint64_t events;        /* PG_FLIP events taken */
	uint64_t events_skipped;/* events with an unexpected id (Linux skips them) */
	uint64_t watchdogs;     /* frame done after 3100 ms without an event */
	uint64_t frames_done;   /* frames completed, all connectors */
	uint64_t deferred_ends; /* grants ended while the backend still mapped them */
	bool finished;          /* every connector showed its last frame */
	bool destroyed;         /* xl destroy: the toolstack removed the device */
	uint64_t toolstack_timeouts; /* the backend did not say Closed within 10 s */
	bool buffers_destroyed; /* destroy_at_end completed with success statuses */
	uint64_t errors_churn;  /* churn: FB_DETACH or DBUF_DESTROY answered with an error */
};

/* Create a domain named name with one vdispl device and start its frontend. */
int vd_simfront_create(struct vd_hv *dom0, sd_event *loop, const char *name,
		       const struct vd_simfront_opts *opts, struct vd_simfront **ret_front);
/* Free the frontend and its memory; the domain is destroyed too. NULL ok. */
void vd_simfront_destroy(struct vd_simfront *front);
/* Driver removal and a new probe, as a module reload does (Connected only). */
int vd_simfront_reprobe(struct vd_simfront *front);
/* The domain dies at once (a crash); the toolstack then removes the device. */
int vd_simfront_kill(struct vd_simfront *front);
/*
 * xl destroy as libxl does it: the domain and its device directory go, the
 * backend is asked to close (state Closing) and given 10 s to say Closed,
 * then its directory is removed (stats.destroyed).
 */
int vd_simfront_xl_destroy(struct vd_simfront *front);
uint32_t vd_simfront_domid(struct vd_simfront *front);
void vd_simfront_get_stats(struct vd_simfront *front, struct vd_simfront_stats *ret);

/*
 * Check a frame the output showed against the test pattern. Returns the
 * frame number stamped in it, or -EINVAL if any byte differs from what the
 * client drew for that frame. *ret_seed receives the drawer's seed
 * (domain and connector).
 */
int64_t vd_simfront_check_frame(const struct vd_frame_view *view, uint32_t *ret_seed);
uint32_t vd_simfront_seed(uint32_t domid, uint32_t conn_idx);

/* ---- raw access for hostile-guest tests ---- */

/* Called with the response (NULL on timeout). */
typedef void (*vd_simfront_resp_cb)(void *userdata, const struct xendispl_resp *rsp);
/*
 * Queue a raw request on connector conn's ring (one in flight at a time,
 * id assigned by the frontend as Linux does, the slot not cleared).
 */
int vd_simfront_send_raw(struct vd_simfront *front, uint32_t conn, const struct xendispl_req *req,
			 vd_simfront_resp_cb cb, void *userdata);
/* The shared request ring page of conn, for index corruption. Borrowed. */
struct xen_displif_sring *vd_simfront_sring(struct vd_simfront *front, uint32_t conn);
struct xendispl_event_page *vd_simfront_evt_page(struct vd_simfront *front, uint32_t conn);
int vd_simfront_notify(struct vd_simfront *front, uint32_t conn);

/* A guest buffer with its page directory, for crafted DBUF_CREATE requests. */
struct vd_simfront_buf {
	void *data;          /* guest view of the data pages */
	uint32_t num_pages;
	uint32_t *grefs;     /* data grefs */
	void *dir;           /* guest view of the directory pages */
	uint32_t num_dir;
	uint32_t *dir_grefs; /* dir_grefs[0] goes into gref_directory */
	bool be_alloc;       /* data pages are the backend's, mapped after DBUF_CREATE */
};
int vd_simfront_buf_alloc(struct vd_simfront *front, uint32_t num_pages,
			  struct vd_simfront_buf **ret_buf);
/* be-alloc: the directory only; the backend fills in its grants. */
int vd_simfront_buf_alloc_dir(struct vd_simfront *front, uint32_t num_pages,
			      struct vd_simfront_buf **ret_buf);
/* be-alloc, after DBUF_CREATE: map the backend's grants (writable) at buf->data. */
int vd_simfront_buf_map_backend(struct vd_simfront *front, struct vd_simfront_buf *buf);
/* be-alloc, before DBUF_DESTROY: Linux unmaps the backend's pages first. */
void vd_simfront_buf_unmap_backend(struct vd_simfront *front, struct vd_simfront_buf *buf);
void vd_simfront_buf_free(struct vd_simfront *front, struct vd_simfront_buf *buf);

#endif
