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

#define VD_BACKEND_MAX_CONNECTORS 4u

/* What a guest's device gets when it connects (see vd_guest_lookup). */
struct vd_guest_settings {
	struct vd_bufs_opts bufs; /* be_alloc is set from xenstore afterwards */
	/* Per connector, handed to the output as vd_output_conn_desc.mapping; "" none. */
	char mapping[VD_BACKEND_MAX_CONNECTORS][64];
};

/*
 * Asked every time a device connects, so that a reloaded configuration
 * applies to new guests and reconnects. name is the domain's name in
 * xenstore ("dom<N>" without one). inout comes with the backend's
 * defaults (vd_backend_opts.bufs, no mapping).
 */
typedef void (*vd_guest_lookup)(void *userdata, uint32_t domid, const char *name,
				struct vd_guest_settings *inout);

struct vd_backend_opts {
	struct vd_bufs_opts bufs;
	uint32_t max_pending_flips; /* per connector; more get -EBUSY */
	vd_frame_observer on_frame;  /* optional */
	void *on_frame_userdata;
	vd_guest_lookup guest_lookup; /* optional: per-guest settings */
	void *guest_lookup_userdata;
	/* The global caps, over every guest (0 grant maps or fds: the default, see VD_LIMITS_DEFAULT). */
	struct vd_res_vec limits;
};
#define VD_BACKEND_OPTS_DEFAULT {VD_BUFS_OPTS_DEFAULT, 4, NULL, NULL, NULL, NULL, VD_LIMITS_DEFAULT}

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
	/* Turns (dispatch.c): device turns run, the most pages one did, requests that took several. */
	uint64_t turns, max_turn_pages, split_requests;
};

/* Borrows loop, hv and out. Starts watching at once. */
int vd_backend_create(sd_event *loop, struct vd_hv *hv, struct vd_output *out,
		      const struct vd_backend_opts *opts, struct vd_backend **ret_be);
/* Tells every guest the backend is gone (Closed) and releases everything. */
void vd_backend_destroy(struct vd_backend *be);
void vd_backend_get_stats(struct vd_backend *be, struct vd_backend_stats *ret);

/*
 * fn(userdata) is called when what vd_backend_foreach_device shows of the
 * guests' connectors may have changed: a device connected (its connectors
 * and their output connectors exist) or torn down, a SET_CONFIG done. It
 * may come from inside the backend's work, before that work is complete:
 * the listener only notes it and looks from the loop. One listener;
 * another call replaces it, fn NULL removes it.
 */
void vd_backend_on_change(struct vd_backend *be, void (*fn)(void *userdata), void *userdata);

/* ---- read-only views for the control socket ---- */

struct vd_conn_info {
	uint32_t idx, width, height;
	const char *unique_id;        /* NULL if none */
	const char *mapping;          /* from vd_guest_settings, "" none */
	struct vd_output_conn *oconn; /* NULL unless connected; borrowed */
	uint64_t flips;               /* PG_FLIP accepted since the device connected */
	uint32_t flips_pending;
};

struct vd_dev_info {
	uint32_t domid, devid;
	const char *name;        /* domain name */
	int be_state, fe_state;  /* xenbus states; -1 absent */
	int version;             /* displif protocol version in use */
	bool be_alloc;
	bool failed;             /* closed for a protocol violation */
	bool await_reinit;       /* found Connected after a restart, waiting for the frontend */
	uint32_t nconn;          /* connectors read at connect (0 when not connected) */
	struct vd_conn_info conns[VD_BACKEND_MAX_CONNECTORS];
	bool has_bufs;           /* connected: bufs and bufs_opts are valid */
	struct vd_bufs_stats bufs;
	struct vd_bufs_opts bufs_opts; /* caps and zero-copy policy in effect */
};

/*
 * fn is called once per device. Everything in info is borrowed for the
 * call; fn must not create or destroy devices or the backend.
 */
typedef void (*vd_dev_info_fn)(void *userdata, const struct vd_dev_info *info);
void vd_backend_foreach_device(struct vd_backend *be, vd_dev_info_fn fn, void *userdata);
/* Resources of guest domid (its account; -ENOENT if it has none) and of all guests. */
int vd_backend_guest_resources(struct vd_backend *be, uint32_t domid,
			       struct vd_res_use ret[VD_RES_COUNT]);
void vd_backend_resources(struct vd_backend *be, struct vd_res_use ret[VD_RES_COUNT]);
/* The DESTROY retry list (vd_gates_list): up to max entries, oldest first. */
uint32_t vd_backend_list_gates(struct vd_backend *be, struct vd_gate_info *out, uint32_t max);

#endif
