/* SPDX-License-Identifier: MIT */
#include "buffers/buffers_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "log.h"

static unsigned bucket(uint64_t cookie)
{
	return (unsigned)((cookie * 0x9E3779B97F4A7C15ull) >> 58) % VD_NBUCKETS;
}

struct dbuf **vd_bufs_dbuf_slot(struct vd_bufs *bufs, uint64_t cookie)
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

/* The guest's caps as the account counts them; grant maps 0: a share of the global cap. */
static struct vd_res_vec account_caps(struct vd_pool *pool, const struct vd_caps *caps)
{
	struct vd_res_use maps;
	struct vd_res_vec v = {{caps->max_grant_maps, caps->max_fds, caps->max_be_pages,
				caps->max_retry}};

	vd_pool_get(pool, VD_RES_MAPS, &maps);
	if (v.v[VD_RES_MAPS] == 0)
		v.v[VD_RES_MAPS] = maps.max / VD_GRANT_MAPS_SHARE;
	return v;
}

/* What the fd table leaves for buffers: the soft limit less what the rest of the daemon opens. */
static uint64_t fds_for_buffers(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return 65536;
	return rl.rlim_cur > 2 * VD_FDS_RESERVED ? rl.rlim_cur - VD_FDS_RESERVED : rl.rlim_cur / 2;
}

int vd_bufs_pool_create(const struct vd_res_vec *limits, struct vd_pool **ret_pool)
{
	static const struct vd_res_vec defaults = VD_LIMITS_DEFAULT;
	struct vd_res_vec v = *limits;

	if (v.v[VD_RES_MAPS] == 0)
		v.v[VD_RES_MAPS] = defaults.v[VD_RES_MAPS];
	if (v.v[VD_RES_FDS] == 0)
		v.v[VD_RES_FDS] = fds_for_buffers();
	return vd_pool_create(&v, ret_pool);
}

int vd_bufs_create(struct vd_hv *hv, uint32_t domid, struct vd_output *out,
		   struct vd_gates *gates, struct vd_pool *pool, const struct vd_bufs_opts *opts,
		   struct vd_bufs **ret_bufs)
{
	struct vd_bufs *bufs = calloc(1, sizeof(*bufs));
	struct vd_res_vec caps = account_caps(pool, &opts->caps);
	int r;

	if (!bufs)
		return -ENOMEM;
	r = vd_pool_join(pool, domid, &caps, &bufs->acct);
	if (r >= 0)
		r = vd_gnt_ref_open(hv, &bufs->gref);
	if (r < 0) {
		if (bufs->acct)
			vd_account_leave(bufs->acct);
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

void vd_dbuf_give_back(struct vd_bufs *bufs, struct dbuf *db, enum vd_res r, uint64_t n)
{
	if (n > db->held.v[r])
		n = db->held.v[r];
	vd_account_credit(bufs->acct, r, n);
	db->held.v[r] -= n;
}

/* Unlink and free one fb; the output forgets it first. */
static void fb_free(struct vd_bufs *bufs, struct fbuf **slot)
{
	struct fbuf *fb = *slot;

	*slot = fb->next;
	vd_output_fb_destroy(fb->ofb);
	vd_account_credit(bufs->acct, VD_RES_FDS, fb->fds);
	fb->dbuf->fb_refs--;
	bufs->stats.fbs--;
	free(fb);
}

void vd_bufs_detach_fbs(struct vd_bufs *bufs, const struct dbuf *db)
{
	for (unsigned b = 0; b < VD_NBUCKETS && db->fb_refs; b++) {
		struct fbuf **p = &bufs->fbs[b];

		while (*p) {
			if ((*p)->dbuf == db)
				fb_free(bufs, p);
			else
				p = &(*p)->next;
		}
	}
}

/* Jobs are cancelled first (vd_bufs_job_cancel): every dbuf left is ready. */
void vd_bufs_destroy(struct vd_bufs *bufs)
{
	if (!bufs)
		return;
	for (unsigned b = 0; b < VD_NBUCKETS; b++)
		while (bufs->fbs[b])
			fb_free(bufs, &bufs->fbs[b]);
	for (unsigned b = 0; b < VD_NBUCKETS; b++) {
		while (bufs->dbufs[b]) {
			struct dbuf *db = bufs->dbufs[b];

			bufs->dbufs[b] = db->next;
			vd_dbuf_release(bufs, db, bufs->opts.destroy_timeout_ms, NULL, NULL);
		}
	}
	vd_gnt_ref_put(bufs->gref);
	vd_account_leave(bufs->acct);
	free(bufs);
}

/* Map the pages named by a page directory. *ret_map is num_pages long. */
static int map_pgdir(struct vd_bufs *bufs, uint32_t gref_dir, uint32_t num_pages, bool writable,
		     void **ret_map)
{
	uint32_t *grefs = calloc(num_pages, sizeof(*grefs));
	int r;

	if (!grefs)
		return -ENOMEM;
	r = vd_bufs_read_pgdir(bufs, gref_dir, num_pages, grefs);
	if (r >= 0)
		r = bufs->hv->impl->gnt_map(bufs->gnt, bufs->domid, num_pages, grefs, writable,
					    ret_map);
	free(grefs);
	return r < 0 ? r : 0;
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
	struct dbuf *db = *vd_bufs_dbuf_slot(bufs, req->dbuf_cookie);
	struct vd_frame_src src;
	struct fbuf *fb;
	uint32_t stride;
	int r;

	if (!db || !db->ready)
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
	/* The output keeps its own reference to a dma-buf: an fd (headless, wayland) at most. */
	fb->fds = db->dmabuf >= 0;
	r = vd_account_charge(bufs->acct, &(struct vd_res_vec){.v[VD_RES_FDS] = fb->fds});
	if (r < 0) {
		bufs->stats.refused++;
		free(fb);
		return r;
	}
	src = (struct vd_frame_src){
		/* an exported buffer's CPU view is the mapper's, counted per fb */
		.map = db->refs ? NULL : db->map,
		.mapper = db->refs ? &db->mapper : NULL,
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
		vd_account_credit(bufs->acct, VD_RES_FDS, fb->fds);
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

struct vd_account *vd_bufs_account(struct vd_bufs *bufs)
{
	return bufs->acct;
}
