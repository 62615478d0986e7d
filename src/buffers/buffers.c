/* SPDX-License-Identifier: MIT */
#include "buffers/buffers.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

#define NBUCKETS 64u

struct dbuf {
	struct dbuf *next; /* hash chain */
	struct vd_dbuf_create d; /* as the guest asked, validated */
	void *map;      /* CPU view, d.num_pages long: guest grants mapped, or be-alloc memory */
	int dmabuf;     /* exported (frontend-allocated) or allocated (be-alloc) dma-buf, or -1 */
	uint32_t fb_refs; /* fbs attached to this dbuf */
};

struct fbuf {
	struct fbuf *next;
	uint64_t cookie;
	struct dbuf *dbuf; /* borrowed; the dbuf outlives its fbs */
	struct vd_output_fb *ofb;
	uint32_t width, height, bpp, fourcc;
};

struct vd_bufs {
	struct vd_hv *hv;
	struct vd_gnt_ref *gref; /* the guest's grant handle, shared with gates */
	struct vd_gnt *gnt;      /* gref->gnt */
	struct vd_output *out;
	struct vd_gates *gates;
	uint32_t domid;
	struct vd_bufs_opts opts;
	struct dbuf *dbufs[NBUCKETS];
	struct fbuf *fbs[NBUCKETS];
	struct vd_bufs_stats stats;
};

static unsigned bucket(uint64_t cookie)
{
	return (unsigned)((cookie * 0x9E3779B97F4A7C15ull) >> 58) % NBUCKETS;
}

static struct dbuf **dbuf_slot(struct vd_bufs *bufs, uint64_t cookie)
{
	struct dbuf **p = &bufs->dbufs[bucket(cookie)];

	while (*p && (*p)->d.dbuf_cookie != cookie)
		p = &(*p)->next;
	return p;
}

static struct fbuf **fb_slot(struct vd_bufs *bufs, uint64_t cookie)
{
	struct fbuf **p = &bufs->fbs[bucket(cookie)];

	while (*p && (*p)->cookie != cookie)
		p = &(*p)->next;
	return p;
}

int vd_bufs_create(struct vd_hv *hv, uint32_t domid, struct vd_output *out,
		   struct vd_gates *gates, const struct vd_bufs_opts *opts,
		   struct vd_bufs **ret_bufs)
{
	struct vd_bufs *bufs = calloc(1, sizeof(*bufs));
	int r;

	if (!bufs)
		return -ENOMEM;
	r = vd_gnt_ref_open(hv, &bufs->gref);
	if (r < 0) {
		free(bufs);
		return r;
	}
	bufs->hv = hv;
	bufs->gnt = bufs->gref->gnt;
	bufs->out = out;
	bufs->gates = gates;
	bufs->domid = domid;
	bufs->opts = *opts;
	if (!opts->zero_copy) {
		bufs->stats.zc = VD_ZC_OFF;
		snprintf(bufs->stats.zc_reason, sizeof(bufs->stats.zc_reason),
			 "disabled by configuration");
	}
	*ret_bufs = bufs;
	return 0;
}

/* Unlink and free one fb; the output forgets it first. */
static void fb_free(struct vd_bufs *bufs, struct fbuf **slot)
{
	struct fbuf *fb = *slot;

	*slot = fb->next;
	vd_output_fb_destroy(fb->ofb);
	fb->dbuf->fb_refs--;
	bufs->stats.fbs--;
	free(fb);
}

/* be-alloc: take the grants back from the guest, then free the memory. */
static void be_alloc_free(struct vd_bufs *bufs, struct dbuf *db)
{
	uint64_t size = (uint64_t)db->d.num_pages * VD_PAGE_SIZE;

	bufs->hv->impl->dmabuf_imp_release(bufs->gnt, db->dmabuf);
	vd_output_buffer_free(bufs->out, db->dmabuf, db->map, size);
	bufs->stats.be_alloc--;
}

/*
 * Unlink and release one dbuf: our mapping goes at once; an exported
 * dma-buf goes through the gate. Returns what vd_gate_start returns (0
 * when nothing is left to wait for).
 */
static int dbuf_free(struct vd_bufs *bufs, struct dbuf **slot, vd_gate_cb cb, void *userdata)
{
	struct dbuf *db = *slot;
	int r = 0;

	*slot = db->next;
	bufs->stats.dbufs--;
	bufs->stats.pages_mapped -= db->d.num_pages;
	if (db->d.be_alloc) {
		be_alloc_free(bufs, db);
	} else {
		bufs->hv->impl->gnt_unmap(bufs->gnt, db->map, db->d.num_pages);
		if (db->dmabuf >= 0)
			r = vd_gate_start(bufs->gates, bufs->gref, db->dmabuf, bufs->domid,
					  db->d.dbuf_cookie, bufs->opts.destroy_timeout_ms, cb,
					  userdata);
	}
	free(db);
	return r;
}

/* Drop every fb that views db (a guest may destroy a dbuf with fbs attached). */
static void detach_fbs_of(struct vd_bufs *bufs, const struct dbuf *db)
{
	for (unsigned b = 0; b < NBUCKETS && db->fb_refs; b++) {
		struct fbuf **p = &bufs->fbs[b];

		while (*p) {
			if ((*p)->dbuf == db)
				fb_free(bufs, p);
			else
				p = &(*p)->next;
		}
	}
}

void vd_bufs_destroy(struct vd_bufs *bufs)
{
	if (!bufs)
		return;
	for (unsigned b = 0; b < NBUCKETS; b++)
		while (bufs->fbs[b])
			fb_free(bufs, &bufs->fbs[b]);
	for (unsigned b = 0; b < NBUCKETS; b++)
		while (bufs->dbufs[b])
			dbuf_free(bufs, &bufs->dbufs[b], NULL, NULL);
	vd_gnt_ref_put(bufs->gref);
	free(bufs);
}

/*
 * Collect the data grefs of a page directory into grefs[num_grefs]. Each
 * directory page is mapped, copied and unmapped before it is looked at, so
 * the guest cannot change it under the walker.
 */
static int read_pgdir(struct vd_bufs *bufs, uint32_t first, uint32_t num_grefs, uint32_t *grefs)
{
	const struct vd_hv_impl *hv = bufs->hv->impl;
	struct vd_pgdir_walk w;
	uint8_t copy[VD_PAGE_SIZE];
	int r;

	r = vd_pgdir_walk_init(&w, num_grefs, first, grefs);
	while (r >= 0) {
		void *page;
		uint32_t gref = w.next_gref;

		r = hv->gnt_map(bufs->gnt, bufs->domid, 1, &gref, false, &page);
		if (r < 0)
			return r;
		memcpy(copy, page, sizeof(copy));
		hv->gnt_unmap(bufs->gnt, page, 1);
		r = vd_pgdir_walk_feed(&w, copy);
		if (r == 0)
			return 0;
	}
	return r;
}

/* Map the pages named by a page directory. *ret_map is num_pages long. */
static int map_pgdir(struct vd_bufs *bufs, uint32_t gref_dir, uint32_t num_pages, bool writable,
		     void **ret_map)
{
	uint32_t *grefs = calloc(num_pages, sizeof(*grefs));
	int r;

	if (!grefs)
		return -ENOMEM;
	r = read_pgdir(bufs, gref_dir, num_pages, grefs);
	if (r >= 0)
		r = bufs->hv->impl->gnt_map(bufs->gnt, bufs->domid, num_pages, grefs, writable,
					    ret_map);
	free(grefs);
	return r < 0 ? r : 0;
}

static int check_dbuf_caps(struct vd_bufs *bufs, uint32_t num_pages)
{
	if (bufs->stats.dbufs >= bufs->opts.caps.max_dbufs ||
	    bufs->stats.pages_mapped + num_pages > bufs->opts.caps.max_pages) {
		bufs->stats.refused++;
		vd_log_rl(LOG_WARNING, "dom%u: buffer cap reached (%u buffers, %llu pages)",
			  bufs->domid, bufs->stats.dbufs,
			  (unsigned long long)bufs->stats.pages_mapped);
		return -ENOSPC;
	}
	return 0;
}

/* Decided once per guest, at its first buffer; logged once, visible in status. */
static void zc_set(struct vd_bufs *bufs, enum vd_zc_state zc, int err)
{
	bufs->stats.zc = zc;
	if (zc == VD_ZC_ON) {
		vd_info("dom%u: buffers are shared zero-copy (gntdev dma-buf)", bufs->domid);
		return;
	}
	snprintf(bufs->stats.zc_reason, sizeof(bufs->stats.zc_reason),
		 "dma-buf export refused: %s%s", strerror(-err),
		 err == -EINVAL ? " (an x86 PV backend domain cannot export)"
		 : err == -EOPNOTSUPP ? " (kernel without CONFIG_XEN_GNTDEV_DMABUF)"
				      : "");
	vd_notice("dom%u: zero-copy unavailable, mapping grants instead: %s", bufs->domid,
		  bufs->stats.zc_reason);
}

/*
 * Frontend-allocated: export the grants as a dma-buf (zero-copy) and map
 * them for the CPU (the headless output and captures read pixels; the
 * gntdev exporter has no mmap). Falls back to mapping alone for the guest
 * when the export is refused but the grants are good.
 */
static int import_guest_pages(struct vd_bufs *bufs, struct dbuf *db, const uint32_t *grefs)
{
	const struct vd_hv_impl *hv = bufs->hv->impl;
	uint32_t n = db->d.num_pages;
	int exp = -EOPNOTSUPP, r;

	if (bufs->stats.zc != VD_ZC_OFF)
		exp = hv->dmabuf_exp_from_refs(bufs->gnt, bufs->domid, n, grefs, &db->dmabuf);
	r = hv->gnt_map(bufs->gnt, bufs->domid, n, grefs, false, &db->map);
	if (r < 0) {
		/* Bad grants: the guest's fault, not a reason to give up zero-copy. */
		if (exp >= 0)
			vd_gate_start(bufs->gates, bufs->gref, db->dmabuf, bufs->domid,
				      db->d.dbuf_cookie, 0, NULL, NULL);
		db->dmabuf = -1;
		return r;
	}
	if (bufs->stats.zc == VD_ZC_UNKNOWN)
		zc_set(bufs, exp >= 0 ? VD_ZC_ON : VD_ZC_OFF, exp);
	return 0;
}

static int create_guest_allocated(struct vd_bufs *bufs, struct dbuf *db)
{
	uint32_t *grefs = calloc(db->d.num_pages, sizeof(*grefs));
	int r;

	if (!grefs)
		return -ENOMEM;
	r = read_pgdir(bufs, db->d.gref_directory, db->d.num_pages, grefs);
	if (r >= 0)
		r = import_guest_pages(bufs, db, grefs);
	free(grefs);
	return r;
}

/* be-alloc: hand the guest's directory our grants, page by page. */
static int fill_pgdir(struct vd_bufs *bufs, uint32_t first, uint32_t num_grefs, uint32_t *grefs)
{
	const struct vd_hv_impl *hv = bufs->hv->impl;
	struct vd_pgdir_walk w;
	uint32_t next;
	int r;

	r = vd_pgdir_walk_init(&w, num_grefs, first, grefs);
	w.fill = true;
	while (r >= 0) {
		void *page;
		uint32_t gref = w.next_gref;

		r = hv->gnt_map(bufs->gnt, bufs->domid, 1, &gref, true, &page);
		if (r < 0)
			return r;
		r = vd_pgdir_fill_page(&w, page, &next);
		hv->gnt_unmap(bufs->gnt, page, 1);
		if (r == 0)
			return 0;
	}
	return r;
}

/*
 * Backend-allocated: the output allocates, the buffer is granted to the
 * guest writable (imp_to_refs) and the refs go into its directory before
 * the answer.
 */
static int create_backend_allocated(struct vd_bufs *bufs, struct dbuf *db)
{
	struct vd_output *out = bufs->out;
	uint64_t size = (uint64_t)db->d.num_pages * VD_PAGE_SIZE;
	uint32_t *refs;
	int r;

	refs = calloc(db->d.num_pages, sizeof(*refs));
	if (!refs)
		return -ENOMEM;
	r = vd_output_buffer_alloc(out, size, &db->dmabuf, &db->map);
	if (r >= 0) {
		r = bufs->hv->impl->dmabuf_imp_to_refs(bufs->gnt, bufs->domid, db->dmabuf,
						       db->d.num_pages, refs);
		if (r < 0)
			vd_output_buffer_free(out, db->dmabuf, db->map, size);
	}
	if (r >= 0) {
		bufs->stats.be_alloc++;
		r = fill_pgdir(bufs, db->d.gref_directory, db->d.num_pages, refs);
		if (r < 0)
			be_alloc_free(bufs, db);
	}
	/* The output's own buffer, drawn into by the guest: nothing to copy. */
	if (r >= 0 && bufs->stats.zc == VD_ZC_UNKNOWN) {
		bufs->stats.zc = VD_ZC_ON;
		vd_info("dom%u: buffers are shared zero-copy (backend-allocated dma-bufs granted "
			"to the guest)", bufs->domid);
	}
	free(refs);
	return r;
}

int vd_bufs_dbuf_create(struct vd_bufs *bufs, const struct vd_dbuf_create *req)
{
	struct dbuf **slot = dbuf_slot(bufs, req->dbuf_cookie);
	struct dbuf *db;
	int r;

	if (*slot)
		return -EEXIST;
	/* Backend memory is spent only where the toolstack allowed it. */
	if (req->be_alloc && !bufs->opts.be_alloc)
		return -EINVAL;
	r = check_dbuf_caps(bufs, req->num_pages);
	if (r < 0)
		return r;
	db = calloc(1, sizeof(*db));
	if (!db)
		return -ENOMEM;
	db->d = *req;
	db->dmabuf = -1;
	r = req->be_alloc ? create_backend_allocated(bufs, db) : create_guest_allocated(bufs, db);
	if (r < 0) {
		free(db);
		return r;
	}
	*slot = db;
	bufs->stats.dbufs++;
	bufs->stats.pages_mapped += req->num_pages;
	return 0;
}

int vd_bufs_dbuf_destroy(struct vd_bufs *bufs, uint64_t dbuf_cookie, vd_gate_cb cb,
			 void *userdata)
{
	struct dbuf **slot = dbuf_slot(bufs, dbuf_cookie);
	int r;

	if (!*slot)
		return -ENOENT;
	detach_fbs_of(bufs, *slot);
	r = dbuf_free(bufs, slot, cb, userdata);
	return r < 0 ? 0 : r; /* destroyed here either way */
}

/*
 * The stride of an fb: the dbuf's, or for an imported buffer (no geometry
 * in DBUF_CREATE) inferred from the fb. The fb must fit in the mapping.
 */
static int fb_stride(const struct dbuf *db, const struct vd_fb_attach *req, uint32_t *ret)
{
	int64_t stride = db->d.stride;
	uint64_t need;

	if (db->d.width == 0)
		stride = vd_infer_stride(req->width, req->height, req->bpp, db->d.buffer_sz);
	if (stride <= 0)
		return -EINVAL;
	if ((uint64_t)req->width * req->bpp > (uint64_t)stride * 8)
		return -EINVAL;
	need = (uint64_t)db->d.data_ofs + (uint64_t)stride * (req->height - 1) +
	       ((uint64_t)req->width * req->bpp + 7) / 8;
	if (need > (uint64_t)db->d.num_pages * VD_PAGE_SIZE)
		return -EINVAL;
	*ret = (uint32_t)stride;
	return 0;
}

int vd_bufs_fb_attach(struct vd_bufs *bufs, const struct vd_fb_attach *req)
{
	struct fbuf **slot = fb_slot(bufs, req->fb_cookie);
	struct dbuf *db = *dbuf_slot(bufs, req->dbuf_cookie);
	struct vd_frame_src src;
	struct fbuf *fb;
	uint32_t stride;
	int r;

	if (!db)
		return -ENOENT;
	if (*slot)
		return -EEXIST;
	if (bufs->stats.fbs >= bufs->opts.caps.max_fbs) {
		bufs->stats.refused++;
		return -ENOSPC;
	}
	r = fb_stride(db, req, &stride);
	if (r < 0)
		return r;
	fb = calloc(1, sizeof(*fb));
	if (!fb)
		return -ENOMEM;
	src = (struct vd_frame_src){
		.map = db->map,
		.dmabuf_fd = db->dmabuf,
		.size = (uint64_t)db->d.num_pages * VD_PAGE_SIZE,
		.offset = db->d.data_ofs,
		.stride = stride,
		.width = req->width,
		.height = req->height,
		.fourcc = req->pixel_format,
		.bpp = req->bpp,
	};
	r = vd_output_fb_create(bufs->out, &src, &fb->ofb);
	if (r < 0) {
		free(fb);
		return r;
	}
	fb->cookie = req->fb_cookie;
	fb->dbuf = db;
	fb->width = req->width;
	fb->height = req->height;
	fb->bpp = req->bpp;
	fb->fourcc = req->pixel_format;
	db->fb_refs++;
	*slot = fb;
	bufs->stats.fbs++;
	return 0;
}

int vd_bufs_fb_detach(struct vd_bufs *bufs, uint64_t fb_cookie)
{
	struct fbuf **slot = fb_slot(bufs, fb_cookie);

	if (!*slot)
		return -ENOENT;
	fb_free(bufs, slot);
	return 0;
}

int vd_bufs_fb_lookup(struct vd_bufs *bufs, uint64_t fb_cookie, struct vd_fb_info *ret)
{
	struct fbuf *fb = *fb_slot(bufs, fb_cookie);

	if (!fb)
		return -ENOENT;
	*ret = (struct vd_fb_info){fb->ofb, fb->width, fb->height, fb->bpp, fb->fourcc};
	return 0;
}

int vd_bufs_write_pgdir(struct vd_bufs *bufs, uint32_t gref_directory, uint32_t buffer_sz,
			const void *data, uint32_t len)
{
	uint32_t num_pages = vd_pages_for_bytes(buffer_sz);
	void *map;
	int r;

	if (len > buffer_sz || num_pages == 0 || num_pages > 8)
		return -EINVAL;
	r = map_pgdir(bufs, gref_directory, num_pages, true, &map);
	if (r < 0)
		return r;
	memcpy(map, data, len);
	bufs->hv->impl->gnt_unmap(bufs->gnt, map, num_pages);
	return 0;
}

void vd_bufs_get_stats(struct vd_bufs *bufs, struct vd_bufs_stats *ret)
{
	*ret = bufs->stats;
}
