/* SPDX-License-Identifier: MIT */
/*
 * Grant tables and grant mapping (the gntdev side).
 *
 * Refs count up from 1 (0 is never handed out). An ended ref waits in a
 * FIFO and is reused only once REUSE_DELAY others have been ended after
 * it, so a stale ref rarely aliases a new grant at once. A ref ended
 * while still mapped stays ENDED (not reusable) until its last unmap.
 *
 * An entry is backed by a frame of the domain's memory or, for grants made
 * by dmabuf_imp_to_refs, by a page of an imported buffer (ext).
 */
#include "hv/sim/sim_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define REUSE_DELAY 1024u
#define NO_REF 0u

/* One grant mapping made through a handle. */
struct vd_sim_map {
	struct vd_sim_list link; /* in gnt->maps */
	void *addr;
	uint32_t count;
	struct vd_sim_domain *dom; /* the granting domain; lives as long as the machine */
	struct vd_sim_domain *mapper; /* the handle's domain, whose maptrack holds it */
	uint32_t *refs;
};

/* ---- the grant table of a domain ---- */

static int table_grow(struct vd_sim_domain *d)
{
	uint32_t cap = d->grant_cap ? d->grant_cap * 2 : 256;
	struct vd_sim_grant *g;

	if (cap > VD_SIM_GRANTS_MAX)
		cap = VD_SIM_GRANTS_MAX;
	if (cap <= d->grant_cap)
		return -ENOSPC;
	g = realloc(d->grants, cap * sizeof(*g));
	if (!g)
		return -ENOMEM;
	memset(g + d->grant_cap, 0, (cap - d->grant_cap) * sizeof(*g));
	d->grants = g;
	d->grant_cap = cap;
	return 0;
}

static uint32_t free_pop(struct vd_sim_domain *d)
{
	uint32_t ref = d->free_head;

	d->free_head = d->grants[ref].next_free;
	if (d->free_head == NO_REF)
		d->free_tail = NO_REF;
	d->nfree--;
	return ref;
}

static void ref_free(struct vd_sim_domain *d, uint32_t ref)
{
	struct vd_sim_grant *e = &d->grants[ref];

	vd_sim_backing_unref(e->ext);
	memset(e, 0, sizeof(*e));
	if (d->free_tail != NO_REF)
		d->grants[d->free_tail].next_free = ref;
	else
		d->free_head = ref;
	d->free_tail = ref;
	d->nfree++;
}

static int ref_alloc(struct vd_sim_domain *d, uint32_t *ret_ref)
{
	int r;

	if (d->nfree > REUSE_DELAY) {
		*ret_ref = free_pop(d);
		return 0;
	}
	if (d->next_ref >= d->grant_cap) {
		r = table_grow(d);
		if (r < 0 && d->nfree == 0)
			return r;
		if (r < 0) {
			*ret_ref = free_pop(d);
			return 0;
		}
	}
	*ret_ref = d->next_ref++;
	return 0;
}

int vd_sim_grant(struct vd_sim *sim, uint32_t domid, uint32_t to_domid, uint32_t pfn, bool readonly,
		 uint32_t *ret_ref)
{
	struct vd_sim_domain *d = vd_sim_domain_live(sim, domid);
	struct vd_sim_grant *e;
	uint32_t ref;
	int r;

	if (!d)
		return -ESRCH;
	if (pfn >= d->nframes)
		return -EINVAL;
	vd_sim_exports_reap(sim);
	r = ref_alloc(d, &ref);
	if (r < 0)
		return r;
	e = &d->grants[ref];
	e->to_domid = to_domid;
	e->pfn = pfn;
	e->readonly = readonly;
	e->state = VD_SIM_GNT_ACTIVE;
	d->stats.grants_active++;
	*ret_ref = ref;
	return 0;
}

int vd_sim_grant_external(struct vd_sim_domain *d, uint32_t to_domid, struct vd_sim_backing *b,
			  uint32_t page, uint32_t *ret_ref)
{
	struct vd_sim_grant *e;
	uint32_t ref;
	int r;

	r = ref_alloc(d, &ref);
	if (r < 0)
		return r;
	e = &d->grants[ref];
	e->to_domid = to_domid;
	e->pfn = page;
	e->ext = b;
	b->refs++;
	e->state = VD_SIM_GNT_ACTIVE;
	d->stats.grants_active++;
	d->stats.imports_granted++;
	*ret_ref = ref;
	return 0;
}

int vd_sim_grant_end(struct vd_sim *sim, uint32_t domid, uint32_t ref)
{
	struct vd_sim_domain *d = vd_sim_domain_live(sim, domid);

	if (!d)
		return -ESRCH;
	vd_sim_exports_reap(sim);
	return vd_sim_domain_grant_end(d, ref);
}

int vd_sim_domain_grant_end(struct vd_sim_domain *d, uint32_t ref)
{
	struct vd_sim_grant *e;

	if (ref == NO_REF || ref >= d->grant_cap || d->grants[ref].state != VD_SIM_GNT_ACTIVE)
		return -EINVAL;
	e = &d->grants[ref];
	d->stats.grants_active--;
	if (e->ext)
		d->stats.imports_granted--;
	if (e->map_count == 0) {
		ref_free(d, ref);
		return 0;
	}
	e->state = VD_SIM_GNT_ENDED;
	d->stats.deferred_ends++;
	return -EBUSY;
}

void vd_sim_domain_grants_revoke(struct vd_sim_domain *d)
{
	for (uint32_t ref = 1; ref < d->grant_cap; ref++) {
		struct vd_sim_grant *e = &d->grants[ref];

		if (e->state == VD_SIM_GNT_ACTIVE && e->map_count == 0)
			ref_free(d, ref);
		else if (e->state == VD_SIM_GNT_ACTIVE)
			e->state = VD_SIM_GNT_ENDED;
	}
	d->stats.grants_active = 0;
	d->stats.imports_granted = 0;
}

void vd_sim_domain_grants_finish(struct vd_sim_domain *d)
{
	for (uint32_t ref = 1; ref < d->grant_cap; ref++)
		vd_sim_backing_unref(d->grants[ref].ext);
	free(d->grants);
	d->grants = NULL;
	d->grant_cap = 0;
	d->free_head = d->free_tail = NO_REF;
	d->nfree = 0;
}

void vd_sim_domain_release_if_unused(struct vd_sim_domain *d)
{
	if (!d->dead || d->stats.pages_mapped)
		return;
	vd_sim_domain_grants_finish(d);
	vd_sim_domain_mem_release(d);
}

/* ---- handles and mappings ---- */

int vd_sim_gnt_open(struct vd_hv *hv, struct vd_gnt **ret_gnt)
{
	struct vd_sim_conn *c = vd_sim_conn_from_hv(hv);
	struct vd_sim_gnt *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->sim = c->sim;
	g->domid = c->domid;
	vd_sim_list_init(&g->maps);
	vd_sim_list_init(&g->imports);
	vd_sim_ref(g->sim);
	*ret_gnt = (struct vd_gnt *)(void *)g;
	return 0;
}

int vd_sim_maptrack_take(struct vd_sim_domain *mapper, uint32_t count)
{
	if (mapper->stats.maptrack_used + count > mapper->maptrack_max)
		return -ENOSPC;
	mapper->stats.maptrack_used += count;
	return 0;
}

void vd_sim_maptrack_put(struct vd_sim_domain *mapper, uint32_t count)
{
	mapper->stats.maptrack_used -= count;
}

void vd_sim_grants_hold(struct vd_sim_domain *d, uint32_t count, const uint32_t *refs)
{
	for (uint32_t i = 0; i < count; i++)
		d->grants[refs[i]].map_count++;
	d->stats.pages_mapped += count;
	d->stats.map_pages_total += count;
	d->stats.maps_total++;
}

/* May free the grant table and memory of a dead domain (the last user). */
void vd_sim_grants_drop(struct vd_sim_domain *d, uint32_t count, const uint32_t *refs)
{
	for (uint32_t i = 0; i < count; i++) {
		struct vd_sim_grant *e = &d->grants[refs[i]];

		if (--e->map_count == 0 && e->state == VD_SIM_GNT_ENDED)
			ref_free(d, refs[i]);
	}
	d->stats.pages_mapped -= count;
	vd_sim_domain_release_if_unused(d);
}

static void map_release(struct vd_sim_map *m)
{
	munmap(m->addr, (size_t)m->count * VD_SIM_PAGE_SIZE);
	vd_sim_maptrack_put(m->mapper, m->count);
	vd_sim_grants_drop(m->dom, m->count, m->refs);
	vd_sim_list_del(&m->link);
	free(m->refs);
	free(m);
}

/*
 * As closing /dev/xen/gntdev: whatever is still mapped goes, imports are
 * released, exported dma-bufs live on until their fds are closed.
 */
void vd_sim_gnt_close(struct vd_gnt *gnt)
{
	struct vd_sim_gnt *g = vd_sim_gnt_from(gnt);
	struct vd_sim_list *pos, *tmp;

	if (!g)
		return;
	vd_sim_exports_reap(g->sim);
	vd_sim_gnt_dmabuf_finish(g);
	vd_sim_list_each(pos, tmp, &g->maps)
	    map_release(vd_sim_container_of(pos, struct vd_sim_map, link));
	vd_sim_unref(g->sim);
	free(g);
}

/* The page behind ref if domid may map it so. */
static int grant_check(struct vd_sim_domain *d, uint32_t domid, uint32_t ref, bool writable,
		       int *ret_fd, uint32_t *ret_pfn)
{
	struct vd_sim_grant *e;

	if (ref == NO_REF || ref >= d->grant_cap || d->grants[ref].state != VD_SIM_GNT_ACTIVE)
		return -EINVAL;
	e = &d->grants[ref];
	if (e->to_domid != domid || (writable && e->readonly))
		return -EACCES;
	if (ret_fd)
		*ret_fd = e->ext ? e->ext->fd : d->memfd;
	if (ret_pfn)
		*ret_pfn = e->pfn;
	return 0;
}

int vd_sim_grants_check(struct vd_sim_domain *d, uint32_t domid, uint32_t count,
			const uint32_t *refs, bool writable, int *fds, uint32_t *pfns)
{
	int r = 0;

	for (uint32_t i = 0; r == 0 && i < count; i++)
		r = grant_check(d, domid, refs[i], writable, fds ? &fds[i] : NULL,
				pfns ? &pfns[i] : NULL);
	return r;
}

static int map_new(struct vd_sim_domain *d, uint32_t count, const uint32_t *refs,
		   struct vd_sim_map **ret)
{
	struct vd_sim_map *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->refs = malloc(count * sizeof(*refs));
	if (!m->refs) {
		free(m);
		return -ENOMEM;
	}
	memcpy(m->refs, refs, count * sizeof(*refs));
	m->count = count;
	m->dom = d;
	*ret = m;
	return 0;
}

static void map_commit(struct vd_sim_gnt *g, struct vd_sim_map *m)
{
	vd_sim_grants_hold(m->dom, m->count, m->refs);
	vd_sim_list_add(&g->maps, &m->link);
}

static int map_frames_of(struct vd_sim_gnt *g, struct vd_sim_domain *d, uint32_t count,
			 const uint32_t *refs, bool writable, void **ret_addr)
{
	uint32_t *pfns = malloc(count * sizeof(*pfns));
	int *fds = malloc(count * sizeof(*fds));
	int r = pfns && fds ? 0 : -ENOMEM;

	if (r == 0)
		r = vd_sim_grants_check(d, g->domid, count, refs, writable, fds, pfns);
	if (r == 0)
		r = vd_sim_map_frames(-1, fds, pfns, count,
				      writable ? PROT_READ | PROT_WRITE : PROT_READ, ret_addr);
	free(fds);
	free(pfns);
	return r;
}

int vd_sim_gnt_map(struct vd_gnt *gnt, uint32_t domid, uint32_t count, const uint32_t *refs,
		   bool writable, void **ret_addr)
{
	struct vd_sim_gnt *g = vd_sim_gnt_from(gnt);
	struct vd_sim_domain *d = vd_sim_domain_live(g->sim, domid);
	struct vd_sim_map *m;
	void *addr;
	int r;

	if (!d)
		return -ESRCH;
	if (count == 0 || count > VD_SIM_MAP_MAX || !refs)
		return -EINVAL;
	vd_sim_exports_reap(g->sim);
	r = map_new(d, count, refs, &m);
	if (r < 0)
		return r;
	m->mapper = vd_sim_domain_get(g->sim, g->domid);
	r = vd_sim_maptrack_take(m->mapper, count);
	if (r >= 0) {
		r = map_frames_of(g, d, count, refs, writable, &addr);
		if (r < 0)
			vd_sim_maptrack_put(m->mapper, count);
	}
	if (r < 0) {
		free(m->refs);
		free(m);
		return r;
	}
	m->addr = addr;
	map_commit(g, m);
	*ret_addr = addr;
	return 0;
}

int vd_sim_gnt_unmap(struct vd_gnt *gnt, void *addr, uint32_t count)
{
	struct vd_sim_gnt *g = vd_sim_gnt_from(gnt);
	struct vd_sim_list *pos, *tmp;

	vd_sim_exports_reap(g->sim);
	vd_sim_list_each(pos, tmp, &g->maps)
	{
		struct vd_sim_map *m = vd_sim_container_of(pos, struct vd_sim_map, link);

		if (m->addr == addr && m->count == count) {
			map_release(m);
			return 0;
		}
	}
	return -EINVAL;
}
