/* SPDX-License-Identifier: MIT */
/*
 * Display buffers (dbuf) and framebuffers (fb) of one guest device, named
 * by the guest's cookies. A dbuf is the guest's memory, mapped through
 * the hypervisor's grants; an fb is a (width, height, format) view of a
 * dbuf, made into an output framebuffer. Every request handler here gets
 * an already validated request (protocol/) and answers with a status.
 */
#ifndef VD_BUFFERS_H
#define VD_BUFFERS_H

#include <stdint.h>

#include <systemd/sd-event.h>

#include "buffers/gate.h"
#include "displif_proto.h"
#include "hv/hv.h"
#include "output/output.h"

struct vd_bufs;

/* Per-guest resource caps. A guest over a cap gets an error status. */
struct vd_caps {
	uint32_t max_dbufs;
	uint32_t max_fbs;
	uint64_t max_pages; /* pages of all dbufs together */
};
#define VD_CAPS_DEFAULT {256, 512, 262144 /* 1 GiB */}

struct vd_bufs_opts {
	struct vd_caps caps;
	bool zero_copy;              /* try gntdev dma-buf export first */
	bool be_alloc;               /* the toolstack allowed backend allocation (be-alloc=1) */
	uint32_t destroy_timeout_ms; /* DBUF_DESTROY answer deadline while a release is awaited */
};
#define VD_BUFS_OPTS_DEFAULT {VD_CAPS_DEFAULT, true, false, 2500}

/* Zero-copy state of a guest, decided at its first buffer. */
enum vd_zc_state {
	VD_ZC_UNKNOWN, /* no buffer yet */
	VD_ZC_ON,      /* buffers exported as dma-bufs, or backend-allocated ones */
	VD_ZC_OFF,     /* grant mapping (+ copy where the output needs one); see zc_reason */
};

struct vd_fb_info {
	struct vd_output_fb *ofb; /* borrowed */
	uint32_t width, height, bpp, fourcc;
};

struct vd_bufs_stats {
	uint32_t dbufs, fbs;
	uint32_t be_alloc;       /* of dbufs, allocated by the backend */
	uint64_t pages_mapped;
	uint64_t refused;        /* requests refused for a cap */
	enum vd_zc_state zc;
	char zc_reason[96];      /* why zero-copy is off */
};

/*
 * Borrows hv, out and gates; they must outlive the registry. Opens the
 * guest's grant handle (shared with the gates still waiting on its buffers).
 */
int vd_bufs_create(struct vd_hv *hv, uint32_t domid, struct vd_output *out,
		   struct vd_gates *gates, const struct vd_bufs_opts *opts,
		   struct vd_bufs **ret_bufs);
/*
 * Releases every fb and dbuf: nothing of the guest stays mapped by us;
 * dma-bufs an importer still holds go on the retry list. NULL ok.
 */
void vd_bufs_destroy(struct vd_bufs *bufs);

int vd_bufs_dbuf_create(struct vd_bufs *bufs, const struct vd_dbuf_create *req);
/*
 * 0: destroyed. 1: destroyed locally, the answer waits for the dma-buf's
 * release: cb(userdata, status) follows once (vd_gates_cancel stops it).
 */
int vd_bufs_dbuf_destroy(struct vd_bufs *bufs, uint64_t dbuf_cookie, vd_gate_cb cb,
			 void *userdata);
int vd_bufs_fb_attach(struct vd_bufs *bufs, const struct vd_fb_attach *req);
int vd_bufs_fb_detach(struct vd_bufs *bufs, uint64_t fb_cookie);
/* 0 and *ret filled, or -ENOENT. */
int vd_bufs_fb_lookup(struct vd_bufs *bufs, uint64_t fb_cookie, struct vd_fb_info *ret);
/*
 * Write data (len bytes) into the guest buffer described by a page
 * directory (GET_EDID). Returns 0 or a negative status.
 */
int vd_bufs_write_pgdir(struct vd_bufs *bufs, uint32_t gref_directory, uint32_t buffer_sz,
			const void *data, uint32_t len);
void vd_bufs_get_stats(struct vd_bufs *bufs, struct vd_bufs_stats *ret);

#endif
