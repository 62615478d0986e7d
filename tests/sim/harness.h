/* SPDX-License-Identifier: MIT */
/*
 * The end-to-end harness: the daemon's backend and headless output on the
 * sim hypervisor, simulated guests, and a frame observer that checks every
 * frame reaching the output against what the guest drew.
 */
#ifndef VD_TEST_HARNESS_H
#define VD_TEST_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <systemd/sd-event.h>

#include "hv/hv.h"
#include "hv/sim/sim.h"
#include "output/output.h"
#include "simfront/simfront.h"
#include "xenbus/backend.h"

#define H_MAX_GUESTS 8
#define H_MAX_TRACK 32

struct h_track {
	uint32_t domid, idx;
	int64_t last;        /* last frame number seen, -1 none */
	uint64_t shown;      /* frames seen */
	uint64_t bad;        /* frames that differ from what the guest drew */
	uint64_t out_of_order;
};

struct harness {
	sd_event *loop;
	struct vd_hv *hv;
	struct vd_output *out;
	struct vd_backend *be;
	struct vd_backend_opts bopts;
	struct vd_simfront *guests[H_MAX_GUESTS];
	uint32_t nguests;
	struct h_track track[H_MAX_TRACK];
	uint32_t ntrack;
	/* Optional: every frame shown, before the pattern check (tests that draw their own). */
	void (*on_view)(struct harness *h, uint32_t domid, uint32_t idx,
			const struct vd_frame_view *v);
	void *view_userdata;
};

/* refresh_mhz 0: flips complete at once. */
void h_init(struct harness *h, bool copy, uint32_t refresh_mhz);
/* wrap: replaces the headless output with one built on it (taken). bo: backend options. */
typedef struct vd_output *(*h_wrap_output)(struct harness *h, struct vd_output *headless);
void h_init_with(struct harness *h, h_wrap_output wrap, const struct vd_backend_opts *bo,
		 bool copy, uint32_t refresh_mhz);
void h_fini(struct harness *h);
void h_backend_start(struct harness *h);
void h_backend_stop(struct harness *h);
struct vd_simfront *h_guest(struct harness *h, const char *name,
			    const struct vd_simfront_opts *opts);
typedef bool (*h_cond)(struct harness *h, void *arg);
/* Run the loop until cond holds; false on timeout. */
bool h_run_until(struct harness *h, h_cond cond, void *arg, uint32_t timeout_ms);
void h_run_for(struct harness *h, uint32_t ms);
struct h_track *h_track_of(struct harness *h, uint32_t domid, uint32_t idx);
/* Conditions */
bool h_all_finished(struct harness *h, void *arg);
bool h_guest_connected(struct harness *h, void *guest);
bool h_guest_finished(struct harness *h, void *guest);
struct vd_simfront_stats h_stats(struct vd_simfront *g);
void h_assert_clean(struct harness *h, struct vd_simfront *g, uint32_t nconn, uint32_t frames);

/*
 * Raw requests, for tests that speak for a guest themselves (no_client):
 * builders with every other byte zero, and h_send, which sends req on
 * ring conn of g and runs the loop until its response (asserted: within
 * 2 s, the same operation echoed).
 */
struct xendispl_req h_req(uint8_t op);
struct xendispl_req h_req_dbuf_create(uint64_t cookie, uint32_t w, uint32_t h, uint32_t bpp,
				      uint32_t size, uint32_t gref_dir);
struct xendispl_req h_req_dbuf_destroy(uint64_t cookie);
struct xendispl_req h_req_fb_attach(uint64_t dbuf, uint64_t fb, uint32_t w, uint32_t h,
				    uint32_t fourcc);
struct xendispl_req h_req_fb_detach(uint64_t fb);
struct xendispl_req h_req_set_config(uint64_t fb, uint32_t x, uint32_t y, uint32_t w,
				     uint32_t h);
struct xendispl_req h_req_pg_flip(uint64_t fb);
struct xendispl_req h_req_get_edid(uint32_t size, uint32_t gref_dir);
struct xendispl_resp h_send(struct harness *h, struct vd_simfront *g, uint32_t conn,
			    const struct xendispl_req *req);
/* stderr, where the daemon logs, into a temporary file. */
struct h_log {
	FILE *file;
	int saved_stderr;
};
void h_log_capture(struct h_log *l);
/* What was logged since the capture began (the caller frees); the capture goes on. */
char *h_log_text(struct h_log *l);
/*
 * stderr back. What was not the daemon's (cmocka's failure report, the
 * test's own messages) goes on to it; everything with VD_TEST_DEBUG set.
 */
void h_log_release(struct h_log *l);
/* Occurrences of needle in hay. */
unsigned h_count(const char *hay, const char *needle);

#endif
