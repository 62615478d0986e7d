/* SPDX-License-Identifier: MIT */
/*
 * The vdispl backend: discovers frontends under backend/vdispl, runs the
 * xenbus state machine of each device (PROTOCOL.md §1.3), serves the
 * request rings of their connectors and sends PG_FLIP events.
 */
#ifndef VD_BACKEND_H
#define VD_BACKEND_H

#include <stdint.h>

#include <systemd/sd-event.h>

#include "buffers/buffers.h"
#include "hv/hv.h"
#include "output/output.h"

struct vd_backend;

/* Observer of every frame that becomes visible (tests, benchmarks). */
typedef void (*vd_frame_observer)(void *userdata, uint32_t domid, uint32_t conn_idx,
				  const struct vd_frame_view *view);

struct vd_backend_opts {
	struct vd_bufs_opts bufs;
	uint32_t max_pending_flips; /* per connector; more get -EBUSY */
	vd_frame_observer on_frame;  /* optional */
	void *on_frame_userdata;
};
#define VD_BACKEND_OPTS_DEFAULT {VD_BUFS_OPTS_DEFAULT, 4, NULL, NULL}

struct vd_backend_stats {
	uint32_t devices;   /* vdispl devices known */
	uint32_t connected; /* devices Connected */
	uint64_t requests;  /* requests answered */
	uint64_t errors;    /* requests answered with an error status */
	uint64_t flips;     /* PG_FLIP accepted */
	uint64_t events;    /* PG_FLIP events put on event pages */
	uint64_t protocol_errors; /* devices closed for a protocol violation */
	uint32_t zero_copy;  /* devices whose buffers are shared as dma-bufs */
	uint32_t copy_only;  /* devices that fell back to grant mapping (see the log) */
	struct vd_gates_stats gates; /* DBUF_DESTROY waiting for releases */
};

/* Borrows loop, hv and out. Starts watching at once. */
int vd_backend_create(sd_event *loop, struct vd_hv *hv, struct vd_output *out,
		      const struct vd_backend_opts *opts, struct vd_backend **ret_be);
/* Tells every guest the backend is gone (Closed) and releases everything. */
void vd_backend_destroy(struct vd_backend *be);
void vd_backend_get_stats(struct vd_backend *be, struct vd_backend_stats *ret);

#endif
