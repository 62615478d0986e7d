/* SPDX-License-Identifier: MIT */
/*
 * The simulated machine: reference counting, domains and connections.
 * Ownership: see sim_priv.h (every handle holds a machine reference).
 */
#include "hv/sim/sim_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

int vd_hv_sim_create(struct vd_hv **ret_hv);

static void sim_conn_destroy(struct vd_hv *hv);
static uint32_t sim_own_domid(struct vd_hv *hv);
static int sim_domain_alive(struct vd_hv *hv, uint32_t domid);

static const struct vd_hv_impl sim_impl = {
    .name = "sim",
    .export_extra_fds = 1, /* the read end of the export's pipe */
    .import_extra_fds = 1, /* the backing's dup of the buffer */
    .destroy = sim_conn_destroy,
    .own_domid = sim_own_domid,
    .domain_alive = sim_domain_alive,
    .xs_read = vd_sim_xs_read,
    .xs_write = vd_sim_xs_write,
    .xs_rm = vd_sim_xs_rm,
    .xs_directory = vd_sim_xs_directory,
    .xs_get_perms = vd_sim_xs_get_perms,
    .xs_txn_start = vd_sim_xs_txn_start,
    .xs_txn_end = vd_sim_xs_txn_end,
    .xs_watch = vd_sim_xs_watch,
    .xs_unwatch = vd_sim_xs_unwatch,
    .xs_watch_fd = vd_sim_xs_watch_fd,
    .xs_read_watch = vd_sim_xs_read_watch,
    .evtchn_bind = vd_sim_evtchn_bind,
    .evtchn_unbind = vd_sim_evtchn_unbind,
    .evtchn_fd = vd_sim_evtchn_fd,
    .evtchn_ack = vd_sim_evtchn_ack,
    .evtchn_notify = vd_sim_evtchn_notify,
    .gnt_open = vd_sim_gnt_open,
    .gnt_close = vd_sim_gnt_close,
    .gnt_map = vd_sim_gnt_map,
    .gnt_unmap = vd_sim_gnt_unmap,
    .dmabuf_exp_from_refs = vd_sim_dmabuf_exp_from_refs,
    .dmabuf_exp_wait_released = vd_sim_dmabuf_exp_wait_released,
    .dmabuf_imp_to_refs = vd_sim_dmabuf_imp_to_refs,
    .dmabuf_imp_release = vd_sim_dmabuf_imp_release,
};

/* ---- machine ---- */

/* Machines without handles whose exported dma-bufs are still alive. */
static struct vd_sim_list orphans = {&orphans, &orphans};

static void sim_free(struct vd_sim *sim)
{
	for (uint32_t i = 0; i < sim->ndoms; i++) {
		struct vd_sim_domain *d = sim->doms[i];

		vd_sim_domain_mem_finish(d);
		vd_sim_domain_grants_finish(d);
		free(d);
	}
	free(sim->doms);
	vd_sim_xs_finish(&sim->xs);
	if (sim->exports_ep >= 0)
		close(sim->exports_ep);
	free(sim);
}

void vd_sim_ref(struct vd_sim *sim)
{
	sim->refs++;
}

/* The last handle went: free now, or once the exports are released. */
static void sim_release(struct vd_sim *sim)
{
	vd_sim_exports_reap(sim);
	if (vd_sim_list_empty(&sim->exports)) {
		sim_free(sim);
		return;
	}
	vd_sim_list_add(&orphans, &sim->orphan);
}

static void orphans_reap(void)
{
	struct vd_sim_list *pos, *tmp;

	vd_sim_list_each(pos, tmp, &orphans)
	{
		struct vd_sim *sim = vd_sim_container_of(pos, struct vd_sim, orphan);

		vd_sim_exports_reap(sim);
		if (vd_sim_list_empty(&sim->exports)) {
			vd_sim_list_del(&sim->orphan);
			sim_free(sim);
		}
	}
}

/*
 * Free the orphans whose dma-bufs were closed after their last handle. One
 * whose fds are still open at exit stays reachable from the list.
 */
__attribute__((destructor)) static void orphans_reap_at_exit(void)
{
	orphans_reap();
}

void vd_sim_unref(struct vd_sim *sim)
{
	if (--sim->refs == 0)
		sim_release(sim);
}

/* ---- domains ---- */

struct vd_sim_domain *vd_sim_domain_get(struct vd_sim *sim, uint32_t domid)
{
	return domid < sim->ndoms ? sim->doms[domid] : NULL;
}

struct vd_sim_domain *vd_sim_domain_live(struct vd_sim *sim, uint32_t domid)
{
	struct vd_sim_domain *d = vd_sim_domain_get(sim, domid);

	return d && !d->dead ? d : NULL;
}

/* Append a new domain record with the next domid. */
static int domain_new(struct vd_sim *sim, struct vd_sim_domain **ret)
{
	struct vd_sim_domain *d;

	if (sim->ndoms >= VD_SIM_DOMID_MAX)
		return -ENOSPC;
	if (sim->ndoms == sim->doms_cap) {
		uint32_t cap = sim->doms_cap ? sim->doms_cap * 2 : 8;
		struct vd_sim_domain **doms = realloc(sim->doms, cap * sizeof(*doms));

		if (!doms)
			return -ENOMEM;
		sim->doms = doms;
		sim->doms_cap = cap;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->domid = sim->ndoms;
	d->memfd = -1;
	d->maptrack_max = VD_SIM_MAPTRACK_DEFAULT;
	d->next_ref = 1;
	d->next_port = 1;
	vd_sim_list_init(&d->views);
	vd_sim_list_init(&d->ports);
	sim->doms[sim->ndoms++] = d;
	*ret = d;
	return 0;
}

static int domain_xs_write(struct vd_sim *sim, uint32_t domid, const char *leaf, const char *value)
{
	char path[64];

	snprintf(path, sizeof(path), "/local/domain/%u%s", domid, leaf);
	return vd_sim_xs_write_internal(sim, path, value);
}

/*
 * libxl__domain_make: the domain's home is Domain-0's and read-only for the
 * guest, and so is what is created in it; data/ is the guest's own.
 */
static int domain_xs_populate(struct vd_sim *sim, uint32_t domid, const char *name)
{
	const struct vd_xs_perm ro[] = {{0, VD_XS_PERM_NONE}, {domid, VD_XS_PERM_READ}};
	const struct vd_xs_perm rw[] = {{domid, VD_XS_PERM_NONE}};
	char id[16], path[64];
	int r;

	snprintf(id, sizeof(id), "%u", domid);
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	r = vd_sim_xs_write_internal(sim, path, "");
	if (r >= 0)
		r = vd_sim_xs_set_perms_internal(sim, path, ro, 2);
	if (r >= 0)
		r = domain_xs_write(sim, domid, "/name", name);
	if (r >= 0)
		r = domain_xs_write(sim, domid, "/domid", id);
	if (r >= 0)
		r = domain_xs_write(sim, domid, "/device", "");
	if (r >= 0)
		r = domain_xs_write(sim, domid, "/data", "");
	snprintf(path, sizeof(path), "/local/domain/%u/data", domid);
	if (r >= 0)
		r = vd_sim_xs_set_perms_internal(sim, path, rw, 1);
	return r;
}

static int domain_create(struct vd_sim *sim, const char *name, uint32_t *ret_domid)
{
	struct vd_sim_domain *d;
	int r;

	if (!name || strlen(name) >= VD_SIM_XS_VALUE_MAX)
		return -EINVAL;
	r = domain_new(sim, &d);
	if (r < 0)
		return r;
	r = domain_xs_populate(sim, d->domid, name);
	if (r < 0) {
		/* The record stays as a dead domain: domids are never reused. */
		d->dead = true;
		return r;
	}
	vd_sim_xs_fire_special(sim, "@introduceDomain");
	*ret_domid = d->domid;
	return 0;
}

int vd_sim_domain_create(struct vd_sim *sim, const char *name, uint32_t *ret_domid)
{
	return domain_create(sim, name, ret_domid);
}

int vd_sim_domain_destroy(struct vd_sim *sim, uint32_t domid)
{
	struct vd_sim_domain *d;
	char path[64];

	if (domid == 0)
		return -EPERM;
	d = vd_sim_domain_live(sim, domid);
	if (!d)
		return -ESRCH;
	vd_sim_exports_reap(sim);
	d->dead = true;
	vd_sim_domain_ports_close(d);
	vd_sim_domain_grants_revoke(d);
	vd_sim_domain_release_if_unused(d);
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	vd_sim_xs_rm_internal(sim, path);
	vd_sim_xs_fire_special(sim, "@releaseDomain");
	return 0;
}

int vd_sim_domain_stats(struct vd_sim *sim, uint32_t domid, struct vd_sim_stats *ret)
{
	struct vd_sim_domain *d = vd_sim_domain_get(sim, domid);

	if (!d)
		return -ESRCH;
	vd_sim_exports_reap(sim);
	*ret = d->stats;
	return 0;
}

/* ---- connections ---- */

struct vd_sim_conn *vd_sim_conn_from_hv(struct vd_hv *hv)
{
	return vd_sim_container_of(hv, struct vd_sim_conn, base);
}

struct vd_sim *vd_sim_from_hv(struct vd_hv *hv)
{
	if (!hv || hv->impl != &sim_impl)
		return NULL;
	return vd_sim_conn_from_hv(hv)->sim;
}

static int conn_create(struct vd_sim *sim, uint32_t domid, struct vd_hv **ret_hv)
{
	struct vd_sim_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->efd < 0) {
		int r = -errno;

		free(c);
		return r;
	}
	c->base.impl = &sim_impl;
	c->sim = sim;
	c->domid = domid;
	vd_sim_list_init(&c->watches);
	vd_sim_list_init(&c->events);
	vd_sim_list_init(&c->txns);
	vd_sim_list_add(&sim->conns, &c->link);
	vd_sim_ref(sim);
	*ret_hv = &c->base;
	return 0;
}

static void sim_conn_destroy(struct vd_hv *hv)
{
	struct vd_sim_conn *c = vd_sim_conn_from_hv(hv);
	struct vd_sim *sim = c->sim;

	vd_sim_conn_watches_finish(c);
	vd_sim_conn_xs_finish(c);
	vd_sim_list_del(&c->link);
	close(c->efd);
	free(c);
	vd_sim_unref(sim);
}

int vd_sim_connect_as(struct vd_sim *sim, uint32_t domid, struct vd_hv **ret_hv)
{
	if (!vd_sim_domain_live(sim, domid))
		return -ESRCH;
	return conn_create(sim, domid, ret_hv);
}

static uint32_t sim_own_domid(struct vd_hv *hv)
{
	return vd_sim_conn_from_hv(hv)->domid;
}

static int sim_domain_alive(struct vd_hv *hv, uint32_t domid)
{
	return vd_sim_domain_live(vd_sim_conn_from_hv(hv)->sim, domid) != NULL;
}

/* The machine starts with a reference of its own, dropped once Dom0's
 * connection holds one. */
static int sim_new(struct vd_sim **ret)
{
	struct vd_sim *sim;
	uint32_t domid;
	int r;

	if (sysconf(_SC_PAGESIZE) != VD_SIM_PAGE_SIZE)
		return -EOPNOTSUPP;
	sim = calloc(1, sizeof(*sim));
	if (!sim)
		return -ENOMEM;
	sim->refs = 1;
	vd_sim_list_init(&sim->conns);
	vd_sim_list_init(&sim->exports);
	vd_sim_list_init(&sim->orphan);
	sim->exports_ep = epoll_create1(EPOLL_CLOEXEC);
	r = sim->exports_ep < 0 ? -errno : vd_sim_xs_init(&sim->xs);
	if (r >= 0)
		r = domain_create(sim, "Domain-0", &domid);
	if (r < 0) {
		vd_sim_unref(sim);
		return r;
	}
	*ret = sim;
	return 0;
}

int vd_hv_sim_create(struct vd_hv **ret_hv)
{
	struct vd_sim *sim;
	int r;

	orphans_reap();
	r = sim_new(&sim);
	if (r < 0)
		return r;
	r = conn_create(sim, 0, ret_hv);
	vd_sim_unref(sim);
	return r;
}

int vd_sim_set_maptrack(struct vd_sim *sim, uint32_t domid, uint64_t entries)
{
	struct vd_sim_domain *d = vd_sim_domain_get(sim, domid);

	if (!d)
		return -ESRCH;
	d->maptrack_max = entries;
	return 0;
}
