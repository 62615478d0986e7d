/* SPDX-License-Identifier: MIT */
/* What buffers.c (the registry) and jobs.c (creation and release in stages) share. */
#ifndef VD_BUFFERS_PRIV_H
#define VD_BUFFERS_PRIV_H

#include "buffers/buffers.h"

#define VD_NBUCKETS 64u

struct dbuf {
	struct dbuf *next; /* hash chain */
	struct vd_dbuf_create d; /* as the guest asked, validated */
	/*
	 * CPU view, d.num_pages long: guest grants mapped by us, or the
	 * output's be-alloc memory. An exported buffer has none until an
	 * output reads its pixels (mapper, refs): then it is held while
	 * cpu_users fbs use it.
	 */
	void *map;
	struct vd_frame_mapper mapper;
	struct vd_bufs *bufs; /* for mapper */
	uint32_t *refs;       /* exported: the data grefs, to map them later */
	uint32_t cpu_users;
	int dmabuf;       /* exported (frontend-allocated) or allocated (be-alloc) dma-buf, or -1 */
	bool granted;     /* be-alloc: its pages are granted to the guest (imp_to_refs) */
	bool ready;       /* created: FB_ATTACH and DBUF_DESTROY may use it */
	uint32_t fb_refs; /* fbs attached to this dbuf */
	struct vd_res_vec held; /* charged to the guest's account for it, not given back yet */
};

struct fbuf {
	struct fbuf *next;
	uint64_t cookie;
	struct dbuf *dbuf; /* borrowed; the dbuf outlives its fbs */
	struct vd_output_fb *ofb;
	uint32_t width, height, bpp, fourcc;
	uint32_t fds; /* charged: the output's reference to the dma-buf */
};

struct vd_bufs {
	struct vd_hv *hv;
	struct vd_gnt_ref *gref; /* the guest's grant handle, shared with gates */
	struct vd_gnt *gnt;      /* gref->gnt */
	struct vd_output *out;
	struct vd_gates *gates;
	struct vd_account *acct; /* the guest's, joined: one device of it */
	uint32_t domid;
	struct vd_bufs_opts opts;
	struct dbuf *dbufs[VD_NBUCKETS];
	struct fbuf *fbs[VD_NBUCKETS];
	struct vd_bufs_stats stats;
};

/* buffers.c */
struct dbuf **vd_bufs_dbuf_slot(struct vd_bufs *bufs, uint64_t cookie);
/* Drop every fb that views db (a guest may destroy a dbuf with fbs attached). */
void vd_bufs_detach_fbs(struct vd_bufs *bufs, const struct dbuf *db);
/* Give n of r held for db back to the account (at most what db holds). */
void vd_dbuf_give_back(struct vd_bufs *bufs, struct dbuf *db, enum vd_res r, uint64_t n);

/* jobs.c */
/* The data grefs of a page directory, each directory page copied before it is read. */
int vd_bufs_read_pgdir(struct vd_bufs *bufs, uint32_t first, uint32_t num_grefs,
		       uint32_t *grefs);
/*
 * Release a dbuf that is out of the table, all at once (the teardown):
 * what the guest shares goes now, an export through the gate (cb may be
 * NULL). Frees db. Returns what vd_gate_start returns (0 if nothing waits).
 */
int vd_dbuf_release(struct vd_bufs *bufs, struct dbuf *db, uint32_t deadline_ms, vd_gate_cb cb,
		    void *userdata);

#endif
