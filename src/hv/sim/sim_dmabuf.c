/* SPDX-License-Identifier: MIT */
/*
 * The gntdev dma-buf ioctls (PROTOCOL.md §4), modelled on Linux
 * drivers/xen/gntdev-dmabuf.c.
 *
 * Export: the foreign pages are held as a grant mapping holds them, but
 * not mapped into the process: the real exporter has no mmap or vmap, so
 * nobody gets a CPU view. The dma-buf is the write end of a pipe whose
 * read end the sim keeps; it is released exactly when every copy of the
 * write end (dup()s of an importer included) is closed, which shows as
 * POLLHUP on the read end. Release unmaps the pages. Exports are found by
 * the fd number they had when exported, newest first, among the exports of
 * the handle that made them; so after close(fd) a newer export that got
 * the same number is found instead (the pitfall of the real list lookup).
 * Exports outlive their handle (the real dma-buf holds the gntdev file).
 *
 * Import: the buffer must be an mmap-able local file of exactly count
 * pages (the headless output passes a memfd). The sim keeps a dup of it and
 * grants its pages read-write from the handle's domain; the grantee maps
 * them with the ordinary gnt_map and shares the memory with the importer.
 * The importer must not shrink the file while it is granted (a real
 * dma-buf cannot change size; here a guest access would fault).
 */
#include "hv/sim/sim_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

/* gntdev's default `limit` module parameter: grants per request. */
#define DMABUF_COUNT_MAX 65536u

struct vd_sim_export {
	struct vd_sim_list link;   /* in sim->exports, newest first */
	struct vd_sim_gnt *owner;  /* NULL once its handle is closed */
	int fd;			   /* number of the write end at export time */
	int hup_fd;		   /* the read end: POLLHUP once no copy of fd is open */
	struct vd_sim *sim;
	struct vd_sim_domain *dom; /* the granting domain; lives as long as the machine */
	struct vd_sim_domain *mapper; /* the exporter's domain, whose maptrack holds it */
	uint32_t count;
	uint32_t refs[];
};

struct vd_sim_import {
	struct vd_sim_list link; /* in gnt->imports, newest first */
	int fd;			 /* the importer's fd number (the lookup key) */
	struct vd_sim_backing *backing;
	struct vd_sim_domain *dom; /* the granting domain: the handle's */
	uint32_t count;		   /* refs[0..count) are granted */
	uint32_t refs[];
};

/* -errno of a failed call, certainly negative. */
static int neg_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

void vd_sim_backing_unref(struct vd_sim_backing *b)
{
	if (!b || --b->refs)
		return;
	close(b->fd);
	free(b);
}

/* ---- export ---- */

/* An error of poll counts as "not yet": the caller may ask again. */
static bool hung_up(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd};

	return poll(&p, 1, timeout_ms) > 0 && (p.revents & POLLHUP);
}

/* The dma-buf's release callback: the foreign pages are unmapped. */
static void export_release(struct vd_sim_export *x)
{
	vd_sim_list_del(&x->link);
	x->dom->stats.dmabufs_exported--;
	vd_sim_maptrack_put(x->mapper, x->count);
	vd_sim_grants_drop(x->dom, x->count, x->refs);
	epoll_ctl(x->sim->exports_ep, EPOLL_CTL_DEL, x->hup_fd, NULL);
	close(x->hup_fd);
	free(x);
}

/*
 * Release the exports whose dma-bufs were closed: the epoll set reports
 * only those, so the cost is theirs, not that of every export alive. An
 * error of epoll_wait counts as "not yet": the caller may ask again.
 */
void vd_sim_exports_reap(struct vd_sim *sim)
{
	struct epoll_event ev[64];
	int n;

	do {
		n = epoll_wait(sim->exports_ep, ev, 64, 0);
		for (int i = 0; i < n; i++)
			export_release(ev[i].data.ptr);
	} while (n == 64);
}

/*
 * A pipe whose write end has the lowest free fd number, as the single fd
 * of a real dma-buf would, so numbers get reused as they do there. pipe2
 * gives the read end the lower number: move it, put the write end there.
 */
static int export_pipe(int *ret_fd, int *ret_hup_fd)
{
	int p[2], hup;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return neg_errno();
	hup = fcntl(p[0], F_DUPFD_CLOEXEC, 0);
	if (hup < 0 || dup3(p[1], p[0], O_CLOEXEC) < 0) {
		int r = neg_errno();

		if (hup >= 0)
			close(hup);
		close(p[0]);
		close(p[1]);
		return r;
	}
	close(p[1]);
	*ret_fd = p[0];
	*ret_hup_fd = hup;
	return 0;
}

static int export_new(struct vd_sim *sim, struct vd_sim_domain *d, uint32_t count,
		      const uint32_t *refs, struct vd_sim_export **ret)
{
	struct vd_sim_export *x = calloc(1, sizeof(*x) + count * sizeof(*refs));
	struct epoll_event ev = {.events = EPOLLHUP};
	int r;

	if (!x)
		return -ENOMEM;
	r = export_pipe(&x->fd, &x->hup_fd);
	ev.data.ptr = x;
	if (r >= 0 && epoll_ctl(sim->exports_ep, EPOLL_CTL_ADD, x->hup_fd, &ev) < 0) {
		r = -errno;
		close(x->fd);
		close(x->hup_fd);
	}
	if (r < 0) {
		free(x);
		return r;
	}
	x->sim = sim;
	x->dom = d;
	x->count = count;
	memcpy(x->refs, refs, count * sizeof(*refs));
	*ret = x;
	return 0;
}

int vd_sim_dmabuf_exp_from_refs(struct vd_gnt *gnt, uint32_t domid, uint32_t count,
				const uint32_t *refs, int *ret_fd)
{
	struct vd_sim_gnt *g = vd_sim_gnt_from(gnt);
	struct vd_sim_domain *d;
	struct vd_sim_export *x;
	int r;

	if (count == 0 || count > DMABUF_COUNT_MAX || !refs)
		return -EINVAL;
	if (g->sim->export_refusal)
		return g->sim->export_refusal;
	vd_sim_exports_reap(g->sim);
	d = vd_sim_domain_live(g->sim, domid);
	if (!d)
		return -ESRCH;
	/* gntdev maps them writable: a read-only grant fails the export. */
	r = vd_sim_grants_check(d, g->domid, count, refs, true, NULL, NULL);
	if (r < 0)
		return r;
	r = vd_sim_maptrack_take(vd_sim_domain_get(g->sim, g->domid), count);
	if (r < 0)
		return r;
	r = export_new(g->sim, d, count, refs, &x);
	if (r < 0) {
		vd_sim_maptrack_put(vd_sim_domain_get(g->sim, g->domid), count);
		return r;
	}
	x->mapper = vd_sim_domain_get(g->sim, g->domid);
	x->owner = g;
	vd_sim_grants_hold(d, count, refs);
	d->stats.dmabufs_exported++;
	vd_sim_list_add(g->sim->exports.next, &x->link);
	*ret_fd = x->fd;
	return 0;
}

/* The newest alive export of g made under the number fd. */
static struct vd_sim_export *export_find(struct vd_sim_gnt *g, int fd)
{
	struct vd_sim_list *pos, *tmp;

	vd_sim_list_each(pos, tmp, &g->sim->exports)
	{
		struct vd_sim_export *x = vd_sim_container_of(pos, struct vd_sim_export, link);

		if (x->owner == g && x->fd == fd)
			return x;
	}
	return NULL;
}

int vd_sim_dmabuf_exp_wait_released(struct vd_gnt *gnt, int fd, uint32_t timeout_ms)
{
	struct vd_sim_gnt *g = vd_sim_gnt_from(gnt);
	struct vd_sim_export *x;

	if (fd < 0)
		return -EBADF;
	vd_sim_exports_reap(g->sim);
	x = export_find(g, fd);
	/* Released already: the library turns the ioctl's ENOENT into success. */
	if (!x)
		return 0;
	if (!hung_up(x->hup_fd, timeout_ms > INT_MAX ? INT_MAX : (int)timeout_ms))
		return -ETIMEDOUT;
	export_release(x);
	return 0;
}

/* ---- import ---- */

/*
 * A local buffer the sim can map read-write, of exactly count pages (as
 * gntdev insists): shared memory, or a real dma-buf (a DRM driver's, whose
 * size only lseek tells).
 */
static int import_check(int fd, uint32_t count)
{
	struct stat st;
	off_t size;
	int flags;

	if (fstat(fd, &st) < 0)
		return neg_errno();
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || (flags & O_ACCMODE) != O_RDWR || S_ISDIR(st.st_mode) ||
	    S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode))
		return -EINVAL;
	size = S_ISREG(st.st_mode) ? st.st_size : lseek(fd, 0, SEEK_END);
	if (size < 0 || (uint64_t)size != (uint64_t)count * VD_SIM_PAGE_SIZE)
		return -EINVAL;
	return 0;
}

/* Borrows fd; the backing holds a dup of it. */
static int import_new(struct vd_sim_domain *d, int fd, uint32_t count, struct vd_sim_import **ret)
{
	struct vd_sim_import *im = calloc(1, sizeof(*im) + count * sizeof(*im->refs));
	struct vd_sim_backing *b = malloc(sizeof(*b));
	int r = -ENOMEM;

	if (!im || !b)
		goto fail;
	b->refs = 1;
	b->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (b->fd < 0) {
		r = neg_errno();
		goto fail;
	}
	vd_sim_list_init(&im->link);
	im->fd = fd;
	im->backing = b;
	im->dom = d;
	*ret = im;
	return 0;
fail:
	free(b);
	free(im);
	return r;
}

/* Grant page i of the buffer as refs[i]; on failure only the granted count. */
static int import_grant(struct vd_sim_import *im, uint32_t domid, uint32_t count)
{
	for (; im->count < count; im->count++) {
		int r = vd_sim_grant_external(im->dom, domid, im->backing, im->count,
					      &im->refs[im->count]);

		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * End foreign access to every page still granted by im; a page the guest
 * still maps is ended deferred (counted in deferred_ends), as Linux does.
 * Those of a dead domain were revoked already (the table may be gone).
 */
static void import_end(struct vd_sim_import *im)
{
	struct vd_sim_domain *d = im->dom;

	for (uint32_t i = 0; i < im->count; i++) {
		uint32_t ref = im->refs[i];

		if (ref < d->grant_cap && d->grants[ref].state == VD_SIM_GNT_ACTIVE &&
		    d->grants[ref].ext == im->backing)
			vd_sim_domain_grant_end(d, ref);
	}
}

static void import_release(struct vd_sim_import *im)
{
	import_end(im);
	vd_sim_backing_unref(im->backing);
	vd_sim_list_del(&im->link);
	free(im);
}

int vd_sim_dmabuf_imp_to_refs(struct vd_gnt *gnt, uint32_t domid, int fd, uint32_t count,
			      uint32_t *refs)
{
	struct vd_sim_gnt *g = vd_sim_gnt_from(gnt);
	struct vd_sim_domain *d;
	struct vd_sim_import *im;
	int r;

	if (fd < 0)
		return -EBADF;
	if (count == 0 || count > DMABUF_COUNT_MAX || !refs)
		return -EINVAL;
	vd_sim_exports_reap(g->sim);
	d = vd_sim_domain_live(g->sim, g->domid);
	if (!d || !vd_sim_domain_live(g->sim, domid))
		return -ESRCH;
	r = import_check(fd, count);
	if (r < 0)
		return r;
	r = import_new(d, fd, count, &im);
	if (r < 0)
		return r;
	r = import_grant(im, domid, count);
	if (r < 0) {
		import_release(im);
		return r;
	}
	vd_sim_list_add(g->imports.next, &im->link);
	memcpy(refs, im->refs, count * sizeof(*refs));
	return 0;
}

int vd_sim_dmabuf_imp_release(struct vd_gnt *gnt, int fd)
{
	struct vd_sim_gnt *g = vd_sim_gnt_from(gnt);
	struct vd_sim_list *pos, *tmp;

	if (fd < 0)
		return -EBADF;
	vd_sim_exports_reap(g->sim);
	vd_sim_list_each(pos, tmp, &g->imports)
	{
		struct vd_sim_import *im = vd_sim_container_of(pos, struct vd_sim_import, link);

		if (im->fd == fd) {
			import_release(im);
			return 0;
		}
	}
	return -ENOENT;
}

void vd_sim_gnt_dmabuf_finish(struct vd_sim_gnt *g)
{
	struct vd_sim_list *pos, *tmp;

	vd_sim_list_each(pos, tmp, &g->imports)
	    import_release(vd_sim_container_of(pos, struct vd_sim_import, link));
	vd_sim_list_each(pos, tmp, &g->sim->exports)
	{
		struct vd_sim_export *x = vd_sim_container_of(pos, struct vd_sim_export, link);

		if (x->owner == g)
			x->owner = NULL;
	}
}

int vd_sim_refuse_dmabuf_export(struct vd_sim *sim, int err)
{
	if (err > 0)
		return -EINVAL;
	sim->export_refusal = err;
	return 0;
}

int vd_sim_dmabuf_exp_rekey(struct vd_gnt *gnt, int old_fd, int new_fd)
{
	struct vd_sim_export *x = export_find(vd_sim_gnt_from(gnt), old_fd);

	if (!x || new_fd < 0)
		return -ENOENT;
	x->fd = new_fd;
	return 0;
}

int vd_sim_dmabuf_imp_rekey(struct vd_gnt *gnt, int old_fd, int new_fd)
{
	struct vd_sim_gnt *g = vd_sim_gnt_from(gnt);
	struct vd_sim_list *pos, *tmp;

	vd_sim_list_each(pos, tmp, &g->imports)
	{
		struct vd_sim_import *im = vd_sim_container_of(pos, struct vd_sim_import, link);

		if (im->fd == old_fd && new_fd >= 0) {
			im->fd = new_fd;
			return 0;
		}
	}
	return -ENOENT;
}
