/* SPDX-License-Identifier: MIT */
/*
 * DBUF_CREATE and DBUF_DESTROY in stages, each stage one piece of work
 * whose cost in pages is known before it starts (buffers.h, struct
 * vd_turn):
 *
 *   frontend-allocated: DIR (read the page directory) -> EXPORT (the
 *                       dma-buf, unless zero-copy is off) -> MAP (the CPU
 *                       view, only without an export: an exported buffer
 *                       is mapped for the CPU when an output reads its
 *                       pixels, see cpu_map);
 *   backend-allocated:  ALLOC (the output's memory) -> GRANT (to the
 *                       guest, imp_to_refs) -> FILL (the refs into its
 *                       directory);
 *   destroy:            UNMAP (our CPU view, or the guest's grants of our
 *                       memory) -> RELEASE (the export through the DESTROY
 *                       gate, or our memory).
 *
 * A create holds its cookie from the start (not ready: FB_ATTACH and
 * DBUF_DESTROY do not see it) and charges the guest's account for what
 * the buffer will hold before any work is done, so a refusal is cheap and
 * rings working in parallel cannot overshoot a cap.
 */
#include "buffers/buffers_priv.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

enum stage { ST_DIR, ST_EXPORT, ST_MAP, ST_ALLOC, ST_GRANT, ST_FILL, ST_UNMAP, ST_RELEASE, ST_END };

struct vd_bufs_job {
	const uint8_t *seq; /* stages, ST_END last */
	unsigned step;
	struct dbuf *db; /* create: in the table, not ready; destroy: out of it */
	uint32_t *refs;  /* create: the data grefs read, or granted */
	int exp_err;     /* EXPORT's result, judged once MAP knows whether the grants are good */
	vd_gate_cb cb;   /* destroy */
	void *userdata;
};

static const uint8_t fe_create[] = {ST_DIR, ST_EXPORT, ST_MAP, ST_END};
static const uint8_t be_create[] = {ST_ALLOC, ST_GRANT, ST_FILL, ST_END};
static const uint8_t destroy_seq[] = {ST_UNMAP, ST_RELEASE, ST_END};

bool vd_turn_take(struct vd_turn *t, uint64_t pages)
{
	if (pages && t->pages && t->pages + pages > t->budget)
		return false;
	t->pages += pages;
	t->stages++;
	return true;
}

static const struct vd_hv_impl *hvi(struct vd_bufs *bufs)
{
	return bufs->hv->impl;
}

/* ---- page directories ---- */

int vd_bufs_read_pgdir(struct vd_bufs *bufs, uint32_t first, uint32_t num_grefs, uint32_t *grefs)
{
	const struct vd_hv_impl *hv = hvi(bufs);
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

/* be-alloc: hand the guest's directory our grants, page by page. */
static int fill_pgdir(struct vd_bufs *bufs, uint32_t first, uint32_t num_grefs, uint32_t *grefs)
{
	const struct vd_hv_impl *hv = hvi(bufs);
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

/* ---- release ---- */

static uint64_t unmap_cost(const struct dbuf *db)
{
	return (db->d.be_alloc ? db->granted : db->map != NULL) ? db->d.num_pages : 0;
}

static void cpu_unmap_now(struct vd_bufs *bufs, struct dbuf *db)
{
	hvi(bufs)->gnt_unmap(bufs->gnt, db->map, db->d.num_pages);
	db->map = NULL;
	vd_dbuf_give_back(bufs, db, VD_RES_MAPS, db->d.num_pages);
}

/* ---- the CPU view of an exported buffer, on demand (struct vd_frame_mapper) ---- */

static struct dbuf *dbuf_of_mapper(struct vd_frame_mapper *m)
{
	return (struct dbuf *)((char *)m - offsetof(struct dbuf, mapper));
}

/*
 * Map the pages for the CPU, charged to the guest's account (-ENOSPC at
 * its cap). Not a stage: an output asks in the middle of its work, so the
 * pages are mapped at once, outside the turn's budget; the guest paid for
 * them at most once per fb it shows that way.
 */
static int cpu_map(struct vd_frame_mapper *m, const void **ret_map)
{
	struct dbuf *db = dbuf_of_mapper(m);
	struct vd_bufs *bufs = db->bufs;
	struct vd_res_vec need = {.v[VD_RES_MAPS] = db->d.num_pages};
	int r;

	if (!db->map) {
		r = vd_account_charge(bufs->acct, &need);
		if (r < 0) {
			bufs->stats.refused++;
			return r;
		}
		r = hvi(bufs)->gnt_map(bufs->gnt, bufs->domid, db->d.num_pages, db->refs, false,
				       &db->map);
		if (r < 0) {
			db->map = NULL;
			vd_account_credit(bufs->acct, VD_RES_MAPS, db->d.num_pages);
			return r;
		}
		db->held.v[VD_RES_MAPS] += db->d.num_pages;
	}
	db->cpu_users++;
	*ret_map = db->map;
	return 0;
}

static void cpu_unmap(struct vd_frame_mapper *m)
{
	struct dbuf *db = dbuf_of_mapper(m);

	if (db->cpu_users && --db->cpu_users == 0 && db->map)
		cpu_unmap_now(db->bufs, db);
}

static void mapper_init(struct vd_bufs *bufs, struct dbuf *db)
{
	db->bufs = bufs;
	db->mapper = (struct vd_frame_mapper){.map = cpu_map, .unmap = cpu_unmap};
}

/* Our CPU view of the guest's pages, or the guest's grants of ours. */
static void release_first(struct vd_bufs *bufs, struct dbuf *db)
{
	if (db->d.be_alloc && db->granted) {
		hvi(bufs)->dmabuf_imp_release(bufs->gnt, db->dmabuf);
		db->granted = false;
	} else if (!db->d.be_alloc && db->map) {
		cpu_unmap_now(bufs, db); /* its fbs are gone, and their CPU users */
		db->cpu_users = 0;
	}
}

/* The export goes through the gate, which gives back what it holds at the release. */
static int release_export(struct vd_bufs *bufs, struct dbuf *db, uint32_t deadline_ms,
			  vd_gate_cb cb, void *userdata)
{
	struct vd_gate_hold hold = {
	    .acct = bufs->acct,
	    .maps = db->d.num_pages < db->held.v[VD_RES_MAPS] ? db->d.num_pages
							       : db->held.v[VD_RES_MAPS],
	    .fds = db->held.v[VD_RES_FDS],
	};

	db->held.v[VD_RES_MAPS] -= hold.maps;
	db->held.v[VD_RES_FDS] -= hold.fds;
	return vd_gate_start(bufs->gates, bufs->gref, db->dmabuf, &hold, bufs->domid,
			     db->d.dbuf_cookie, deadline_ms, cb, userdata);
}

/* The export or our memory; everything still held goes back to the account. Frees db. */
static int release_last(struct vd_bufs *bufs, struct dbuf *db, uint32_t deadline_ms,
			vd_gate_cb cb, void *userdata)
{
	uint64_t size = (uint64_t)db->d.num_pages * VD_PAGE_SIZE;
	int r = 0;

	if (db->d.be_alloc && db->dmabuf >= 0)
		vd_output_buffer_free(bufs->out, db->dmabuf, db->map, size);
	else if (db->dmabuf >= 0)
		r = release_export(bufs, db, deadline_ms, cb, userdata);
	for (int res = 0; res < VD_RES_COUNT; res++)
		vd_dbuf_give_back(bufs, db, res, db->held.v[res]);
	free(db->refs);
	free(db);
	return r;
}

int vd_dbuf_release(struct vd_bufs *bufs, struct dbuf *db, uint32_t deadline_ms, vd_gate_cb cb,
		    void *userdata)
{
	release_first(bufs, db);
	return release_last(bufs, db, deadline_ms, cb, userdata);
}

/* ---- zero-copy: decided at a guest's first buffer whose grants are good ---- */

/* The export cannot work here at all (as opposed to: not now, or not these grants). */
static bool export_impossible(int err)
{
	return err == -EINVAL || err == -EOPNOTSUPP || err == -ENOTTY || err == -ENOSYS;
}

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

/* A created buffer holds its export, or its CPU map: give back the rest. */
static void keep_held(struct vd_bufs *bufs, struct dbuf *db)
{
	uint64_t maps = db->d.num_pages;

	if (db->held.v[VD_RES_MAPS] > maps)
		vd_dbuf_give_back(bufs, db, VD_RES_MAPS, db->held.v[VD_RES_MAPS] - maps);
	if (db->dmabuf < 0)
		vd_dbuf_give_back(bufs, db, VD_RES_FDS, db->held.v[VD_RES_FDS]);
}

/*
 * The grants are good (MAP worked): judge the export. A refusal that says
 * the export cannot work here turns zero-copy off for this guest, once; a
 * passing one (no fd, no memory: a cap of this process, maybe reached
 * because of another guest) fails this request only, and changes nothing.
 */
static int judge_export(struct vd_bufs *bufs, struct vd_bufs_job *job)
{
	struct dbuf *db = job->db;

	if (job->exp_err < 0 && bufs->stats.zc == VD_ZC_UNKNOWN &&
	    export_impossible(job->exp_err))
		zc_set(bufs, VD_ZC_OFF, job->exp_err);
	else if (job->exp_err < 0 && bufs->stats.zc != VD_ZC_OFF)
		return job->exp_err;
	if (db->dmabuf >= 0 && bufs->stats.zc == VD_ZC_UNKNOWN)
		zc_set(bufs, VD_ZC_ON, 0);
	keep_held(bufs, db);
	return 0;
}

/* ---- stages ---- */

static uint64_t stage_cost(const struct vd_bufs *bufs, const struct vd_bufs_job *job, enum stage st)
{
	const struct dbuf *db = job->db;

	switch (st) {
	case ST_DIR:
	case ST_FILL: return db->d.num_dir_pages;
	case ST_EXPORT: return bufs->stats.zc == VD_ZC_OFF ? 0 : db->d.num_pages;
	case ST_MAP: return db->dmabuf >= 0 ? 0 : db->d.num_pages;
	case ST_ALLOC:
	case ST_GRANT: return db->d.num_pages;
	case ST_UNMAP: return unmap_cost(db);
	case ST_RELEASE: return db->dmabuf >= 0 ? db->d.num_pages : 0;
	default: return 0;
	}
}

static int stage_export(struct vd_bufs *bufs, struct vd_bufs_job *job)
{
	struct dbuf *db = job->db;

	if (bufs->stats.zc == VD_ZC_OFF)
		return 0;
	job->exp_err = hvi(bufs)->dmabuf_exp_from_refs(bufs->gnt, bufs->domid, db->d.num_pages,
						       job->refs, &db->dmabuf);
	if (job->exp_err < 0)
		db->dmabuf = -1;
	return 0;
}

/*
 * Exported: the grants are good (the export mapped them); keep the refs
 * for a CPU view later. Else map them, which also tells bad grants (the
 * guest's fault) from an export that cannot work here.
 */
static int stage_map(struct vd_bufs *bufs, struct vd_bufs_job *job)
{
	struct dbuf *db = job->db;
	int r;

	if (db->dmabuf >= 0) {
		db->refs = job->refs;
		job->refs = NULL;
		mapper_init(bufs, db);
		return judge_export(bufs, job);
	}
	r = hvi(bufs)->gnt_map(bufs->gnt, bufs->domid, db->d.num_pages, job->refs, false,
			       &db->map);
	if (r < 0) {
		db->map = NULL;
		return r; /* bad grants: the guest's fault, not a reason to judge zero-copy */
	}
	return judge_export(bufs, job);
}

static int stage_alloc(struct vd_bufs *bufs, struct vd_bufs_job *job)
{
	struct vd_output *out = bufs->out;
	struct dbuf *db = job->db;
	int r;

	r = vd_output_buffer_alloc(out, (uint64_t)db->d.num_pages * VD_PAGE_SIZE, &db->dmabuf,
				   &db->map);
	if (r < 0)
		db->dmabuf = -1;
	return r;
}

static int stage_grant(struct vd_bufs *bufs, struct vd_bufs_job *job)
{
	struct dbuf *db = job->db;
	int r = hvi(bufs)->dmabuf_imp_to_refs(bufs->gnt, bufs->domid, db->dmabuf, db->d.num_pages,
					      job->refs);

	db->granted = r >= 0;
	return r;
}

static int stage_run(struct vd_bufs *bufs, struct vd_bufs_job *job, enum stage st)
{
	struct dbuf *db = job->db;
	int r;

	switch (st) {
	case ST_DIR:
		return vd_bufs_read_pgdir(bufs, db->d.gref_directory, db->d.num_pages, job->refs);
	case ST_EXPORT: return stage_export(bufs, job);
	case ST_MAP: return stage_map(bufs, job);
	case ST_ALLOC: return stage_alloc(bufs, job);
	case ST_GRANT: return stage_grant(bufs, job);
	case ST_FILL:
		return fill_pgdir(bufs, db->d.gref_directory, db->d.num_pages, job->refs);
	case ST_UNMAP: release_first(bufs, db); return 0;
	case ST_RELEASE:
		job->db = NULL;
		r = release_last(bufs, db, bufs->opts.destroy_timeout_ms, job->cb, job->userdata);
		return r == 1 ? VD_BUFS_WAIT : 0; /* an error: destroyed here anyway */
	default: return -EINVAL;
	}
}

/* ---- jobs ---- */

static void job_free(struct vd_bufs_job *job)
{
	free(job->refs);
	free(job);
}

static bool is_create(const struct vd_bufs_job *job)
{
	return job->seq != destroy_seq;
}

/* Take a create's dbuf out of the table and of the counts, and release what it has. */
static void create_undo(struct vd_bufs *bufs, struct vd_bufs_job *job)
{
	struct dbuf *db = job->db, **slot = vd_bufs_dbuf_slot(bufs, db->d.dbuf_cookie);

	*slot = db->next;
	bufs->stats.dbufs--;
	bufs->stats.pages_mapped -= db->d.num_pages;
	vd_dbuf_release(bufs, db, 0, NULL, NULL);
	job->db = NULL;
}

static int job_done(struct vd_bufs *bufs, struct vd_bufs_job *job)
{
	struct dbuf *db = job->db;

	if (is_create(job)) {
		db->ready = true;
		if (db->d.be_alloc)
			bufs->stats.be_alloc++;
		/* The output's own buffer, drawn into by the guest: nothing to copy. */
		if (db->d.be_alloc && bufs->stats.zc == VD_ZC_UNKNOWN) {
			bufs->stats.zc = VD_ZC_ON;
			vd_info("dom%u: buffers are shared zero-copy (backend-allocated dma-bufs "
				"granted to the guest)",
				bufs->domid);
		}
	}
	job_free(job);
	return 0;
}

int vd_bufs_job_run(struct vd_bufs *bufs, struct vd_bufs_job *job, struct vd_turn *turn)
{
	for (;;) {
		enum stage st = job->seq[job->step];
		int r;

		if (st == ST_END)
			return job_done(bufs, job);
		if (!vd_turn_take(turn, stage_cost(bufs, job, st)))
			return VD_BUFS_MORE;
		r = stage_run(bufs, job, st);
		job->step++;
		if (r < 0 && is_create(job))
			create_undo(bufs, job);
		if (r < 0 || r == VD_BUFS_WAIT) {
			job_free(job);
			return r;
		}
	}
}

void vd_bufs_job_cancel(struct vd_bufs *bufs, struct vd_bufs_job *job)
{
	if (!job)
		return;
	if (is_create(job))
		create_undo(bufs, job);
	else if (job->db)
		vd_dbuf_release(bufs, job->db, bufs->opts.destroy_timeout_ms, NULL, NULL);
	job_free(job);
}

/* Start job and run what fits the turn. */
static int job_start(struct vd_bufs *bufs, struct vd_bufs_job *job, struct vd_turn *turn,
		     struct vd_bufs_job **ret_job)
{
	int r = vd_bufs_job_run(bufs, job, turn);

	if (r == VD_BUFS_MORE)
		*ret_job = job;
	return r;
}

/* ---- DBUF_CREATE ---- */

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

/*
 * What the buffer will hold of the account, at most: a frontend-allocated
 * one a grant mapping of its pages (the export, or else a CPU view) and
 * the export's fd; a backend-allocated one our memory and its fd. A CPU
 * view of an exported buffer is charged when an output maps it. A guest with buffers
 * still on the retry list at its cap gets no new exportable one.
 */
static int charge(struct vd_bufs *bufs, struct dbuf *db)
{
	const struct vd_hv_impl *hv = hvi(bufs);
	uint64_t n = db->d.num_pages;
	bool exp = !db->d.be_alloc && bufs->stats.zc != VD_ZC_OFF;
	int r;

	if (db->d.be_alloc)
		db->held = (struct vd_res_vec){{0, 1 + hv->import_extra_fds, n, 0}};
	else
		db->held = (struct vd_res_vec){{n, exp ? 1 + hv->export_extra_fds : 0, 0, 0}};
	r = exp ? vd_account_check(bufs->acct, VD_RES_RETRY, 1) : 0;
	if (r >= 0)
		r = vd_account_charge(bufs->acct, &db->held);
	if (r < 0) {
		bufs->stats.refused++;
		db->held = (struct vd_res_vec){{0}};
	}
	return r;
}

static int create_job_new(struct vd_bufs *bufs, struct dbuf *db, struct vd_bufs_job **ret)
{
	struct vd_bufs_job *job = calloc(1, sizeof(*job));

	if (job)
		job->refs = calloc(db->d.num_pages, sizeof(*job->refs));
	if (!job || !job->refs) {
		free(job);
		return -ENOMEM;
	}
	job->seq = db->d.be_alloc ? be_create : fe_create;
	job->db = db;
	*ret = job;
	return 0;
}

int vd_bufs_dbuf_create(struct vd_bufs *bufs, const struct vd_dbuf_create *req,
			struct vd_turn *turn, struct vd_bufs_job **ret_job)
{
	struct dbuf **slot = vd_bufs_dbuf_slot(bufs, req->dbuf_cookie), *db;
	struct vd_bufs_job *job;
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
	*db = (struct dbuf){.d = *req, .dmabuf = -1};
	r = charge(bufs, db);
	if (r >= 0)
		r = create_job_new(bufs, db, &job);
	if (r < 0) {
		vd_dbuf_release(bufs, db, 0, NULL, NULL);
		return r;
	}
	*slot = db;
	bufs->stats.dbufs++;
	bufs->stats.pages_mapped += req->num_pages;
	return job_start(bufs, job, turn, ret_job);
}

/* ---- DBUF_DESTROY ---- */

int vd_bufs_dbuf_destroy(struct vd_bufs *bufs, uint64_t dbuf_cookie, struct vd_turn *turn,
			 vd_gate_cb cb, void *userdata, struct vd_bufs_job **ret_job)
{
	struct dbuf **slot = vd_bufs_dbuf_slot(bufs, dbuf_cookie), *db = *slot;
	struct vd_bufs_job *job;

	if (!db)
		return -ENOENT;
	if (!db->ready)
		return -EBUSY; /* being created, on another of its rings */
	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	vd_bufs_detach_fbs(bufs, db);
	*slot = db->next;
	bufs->stats.dbufs--;
	bufs->stats.pages_mapped -= db->d.num_pages;
	bufs->stats.be_alloc -= db->d.be_alloc;
	*job = (struct vd_bufs_job){.seq = destroy_seq, .db = db, .cb = cb, .userdata = userdata};
	return job_start(bufs, job, turn, ret_job);
}
