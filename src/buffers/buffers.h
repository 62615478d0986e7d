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

#include "buffers/account.h"
#include "buffers/gate.h"
#include "displif_proto.h"
#include "hv/hv.h"
#include "output/output.h"

struct vd_bufs;

/*
 * Per-guest resource caps (docs/resources.md). A guest over a cap gets an
 * error status. The first three count per device; the others per guest
 * domain, over all its devices (buffers/account.h).
 */
struct vd_caps {
	uint32_t max_dbufs;
	uint32_t max_fbs;
	uint64_t max_pages;      /* pages of all dbufs together */
	uint64_t max_grant_maps; /* grant mappings; 0: the global cap / VD_GRANT_MAPS_SHARE */
	uint64_t max_fds;        /* file descriptors for buffers and framebuffers */
	uint64_t max_be_pages;   /* backend-allocated memory, in pages */
	uint64_t max_retry;      /* buffers on the DESTROY retry list */
};
#define VD_GRANT_MAPS_SHARE 4u
#define VD_CAPS_DEFAULT {256, 512, 262144 /* 1 GiB */, 0, 1024, 16384 /* 64 MiB */, 16}

/*
 * The global caps, over every guest (struct vd_res_vec, indexed by enum
 * vd_res). Grant maps: half of Dom0's maptrack at Xen's default
 * gnttab_max_maptrack_frames (1024 frames of 256 entries), the other half
 * left to blkback, netback and the rest. fds 0: RLIMIT_NOFILE's soft limit
 * less VD_FDS_RESERVED for everything else the daemon opens.
 */
#define VD_MAPTRACK_FRAMES_DEFAULT 1024u
#define VD_MAPTRACK_PER_FRAME 256u
#define VD_FDS_RESERVED 256u
#define VD_LIMITS_DEFAULT                                                                          \
	{{VD_MAPTRACK_FRAMES_DEFAULT * VD_MAPTRACK_PER_FRAME / 2, 0, 32768 /* 128 MiB */, 64}}

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
 * The pool of every guest's account, with limits (VD_LIMITS_DEFAULT where
 * 0: grant maps the default, fds from RLIMIT_NOFILE).
 */
int vd_bufs_pool_create(const struct vd_res_vec *limits, struct vd_pool **ret_pool);

/*
 * Borrows hv, out, gates and pool; they must outlive the registry. Opens
 * the guest's grant handle (shared with the gates still waiting on its
 * buffers) and joins the guest's account in pool (opts->caps).
 */
int vd_bufs_create(struct vd_hv *hv, uint32_t domid, struct vd_output *out,
		   struct vd_gates *gates, struct vd_pool *pool, const struct vd_bufs_opts *opts,
		   struct vd_bufs **ret_bufs);
/*
 * Releases every fb and dbuf: nothing of the guest stays mapped by us;
 * dma-bufs an importer still holds go on the retry list. NULL ok.
 */
void vd_bufs_destroy(struct vd_bufs *bufs);

/*
 * The work one device may do in one turn (one wake-up of its rings),
 * counted in pages the hypervisor maps, exports, unmaps or grants and the
 * output allocates for the guest. A request costs what its stages cost; a
 * stage that does not fit what is left of the turn waits for the next
 * turn, and a stage bigger than a whole turn (one hypervisor call for one
 * big buffer: it cannot be split) runs alone in a turn of its own.
 */
#define VD_TURN_PAGES 8192u /* 32 MiB: a 4K-sized buffer's export or map */
struct vd_turn {
	uint64_t budget; /* pages */
	uint64_t pages;  /* spent */
	uint32_t stages; /* stages run */
};
#define VD_TURN_INIT {VD_TURN_PAGES, 0, 0}
/* May a stage of this cost run now? If so it is counted. */
bool vd_turn_take(struct vd_turn *turn, uint64_t pages);
static inline bool vd_turn_spent(const struct vd_turn *turn)
{
	return turn->pages >= turn->budget;
}

/* A DBUF_CREATE or DBUF_DESTROY whose stages go on over several turns. */
struct vd_bufs_job;
#define VD_BUFS_MORE 1 /* the request goes on in a later turn: vd_bufs_job_run */
#define VD_BUFS_WAIT 2 /* DBUF_DESTROY: the gate answers through cb later */

/*
 * Both return a status (0 or -errno) when the request is done within
 * turn, or VD_BUFS_MORE with *ret_job, or (destroy) VD_BUFS_WAIT: the
 * buffer is gone here, cb(userdata, status) follows once
 * (vd_gates_cancel stops it).
 */
int vd_bufs_dbuf_create(struct vd_bufs *bufs, const struct vd_dbuf_create *req,
			struct vd_turn *turn, struct vd_bufs_job **ret_job);
int vd_bufs_dbuf_destroy(struct vd_bufs *bufs, uint64_t dbuf_cookie, struct vd_turn *turn,
			 vd_gate_cb cb, void *userdata, struct vd_bufs_job **ret_job);
/* Go on with a job in a new turn: as above; the job is freed unless VD_BUFS_MORE. */
int vd_bufs_job_run(struct vd_bufs *bufs, struct vd_bufs_job *job, struct vd_turn *turn);
/* The requester goes away: a create is undone, a destroy completed. Frees the job. */
void vd_bufs_job_cancel(struct vd_bufs *bufs, struct vd_bufs_job *job);
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
/* The guest's account (borrowed): the transport's pages are counted there too. */
struct vd_account *vd_bufs_account(struct vd_bufs *bufs);

#endif
