/* SPDX-License-Identifier: MIT */
/*
 * The hypervisor interface on real Xen: libxenstore for xenstore,
 * libxenevtchn for event channels, libxengnttab for grant mapping and the
 * gntdev dma-buf ioctls (PROTOCOL.md §4).
 *
 * Every library call returns -1/NULL/false with errno on failure; each is
 * converted to -errno at once. The libraries' own xtl logging is routed to
 * our debug level: the caller that decides what a failure means logs it.
 *
 * Each event channel gets its own xenevtchn handle so that each channel has
 * its own pollable fd and its own sd-event source; the fd is non-blocking so
 * that a spurious wake-up cannot stall the loop.
 *
 * Note: libxenstore (when built with pthreads, as distributions do) starts
 * an internal reader thread at the first xs_watch and signals watch events
 * through the pipe that xs_fileno returns. That thread never calls into
 * vdispld; our code stays single-threaded.
 */
#include "hv/xen/hv_xen.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>
#include <xentoollog.h>

#include "hv/hv.h"
#include "log.h"
#include "parse.h"

struct xen_hv {
	struct vd_hv base;
	struct xs_handle *xs;
	uint32_t own_domid;
	bool privileged; /* xenstored answers IS_DOMAIN_INTRODUCED: Dom0 (or a domain it trusts) */
};

struct vd_evtchn {
	xenevtchn_handle *xce; /* owned: one handle per channel */
	evtchn_port_t port;    /* local port */
};

struct vd_gnt {
	xengnttab_handle *xgt; /* owned */
};

static const struct vd_hv_impl xen_impl;

static struct xen_hv *xen_hv_from(struct vd_hv *hv)
{
	assert(hv->impl == &xen_impl);
	return (struct xen_hv *)hv;
}

/* errno of the failed library call as -errno; never 0. */
static int neg_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

/* ---- library logging ---- */

__attribute__((format(printf, 5, 0))) static void
xen_log_vmessage(struct xentoollog_logger *logger, xentoollog_level level, int errnoval,
		 const char *context, const char *format, va_list al)
{
	char msg[256];

	if (vd_log_get_level() < LOG_DEBUG)
		return;
	vsnprintf(msg, sizeof(msg), format, al);
	vd_debug("%s: %s%s%s", context ? context : "xen", msg, errnoval > 0 ? ": " : "",
		 errnoval > 0 ? strerror(errnoval) : "");
}

static void xen_log_progress(struct xentoollog_logger *logger, const char *context,
			     const char *doing_what, int percent, unsigned long done,
			     unsigned long total)
{
}

static void xen_log_destroy(struct xentoollog_logger *logger)
{
}

/* Static: the libraries never destroy a logger they were given. */
static struct xentoollog_logger xen_logger = {
	.vmessage = xen_log_vmessage,
	.progress = xen_log_progress,
	.destroy = xen_log_destroy,
};

/* ---- domains ---- */

static uint32_t xen_own_domid(struct vd_hv *hv)
{
	return xen_hv_from(hv)->own_domid;
}

/*
 * xs_is_domain_introduced answers false both for "not introduced" and on
 * failure; errno tells them apart. A dying domain stays introduced until
 * the toolstack releases it, which is when "@releaseDomain" fires: callers
 * re-check on that watch.
 *
 * xenstored answers IS_DOMAIN_INTRODUCED to privileged callers only, and
 * sends @releaseDomain only to them (or to domains Dom0 allowed by
 * SET_PERMS on it). A driver domain can tell no other domain's death: a
 * domain counts as alive there, and what ends its devices is the
 * toolstack's removal of their frontend and backend directories, which
 * libxl does on every destroy (docs/driver-domain.md).
 */
static int xen_domain_alive(struct vd_hv *hv, uint32_t domid)
{
	struct xen_hv *xh = xen_hv_from(hv);

	if (!xh->privileged)
		return 1;
	errno = 0;
	if (xs_is_domain_introduced(xh->xs, domid))
		return 1;
	if (errno == 0 || errno == ENOENT || errno == EINVAL || errno == ESRCH)
		return 0;
	return -errno;
}

/* "domid" relative to our own xenstore home; dom0 may lack it. */
static uint32_t xen_read_own_domid(struct xs_handle *xs)
{
	unsigned int len;
	char *val;
	uint32_t v, domid = 0;

	val = xs_read(xs, XBT_NULL, "domid", &len);
	if (!val)
		return 0;
	if (vd_parse_u32(val, &v) == 0 && v < 0x7ff0)
		domid = v;
	else
		vd_warn("xen: ignoring malformed own domid \"%s\"", val);
	free(val);
	return domid;
}

/* ---- xenstore ---- */

static int xen_xs_read(struct vd_hv *hv, vd_xs_txn t, const char *path, char **ret_value,
		       size_t *ret_len)
{
	unsigned int len;
	char *val;

	val = xs_read(xen_hv_from(hv)->xs, t, path, &len);
	if (!val)
		return neg_errno();
	*ret_value = val;
	*ret_len = len;
	return 0;
}

static int xen_xs_write(struct vd_hv *hv, vd_xs_txn t, const char *path, const char *value)
{
	size_t len = strlen(value);

	if (len > UINT32_MAX)
		return -EINVAL;
	if (!xs_write(xen_hv_from(hv)->xs, t, path, value, (unsigned int)len))
		return neg_errno();
	return 0;
}

static int xen_xs_rm(struct vd_hv *hv, vd_xs_txn t, const char *path)
{
	if (!xs_rm(xen_hv_from(hv)->xs, t, path) && errno != ENOENT)
		return neg_errno();
	return 0;
}

/*
 * libxenstore returns the names and the array in one allocation; the
 * interface promises one allocation per name (vd_hv_free_list).
 */
static int xen_xs_directory(struct vd_hv *hv, vd_xs_txn t, const char *path, char ***ret_list,
			    unsigned *ret_n)
{
	unsigned int n, i;
	char **dir, **list;

	dir = xs_directory(xen_hv_from(hv)->xs, t, path, &n);
	if (!dir)
		return neg_errno();
	list = calloc(n ? n : 1, sizeof(*list));
	if (!list)
		goto err_dir;
	for (i = 0; i < n; i++) {
		list[i] = strdup(dir[i]);
		if (!list[i])
			goto err_list;
	}
	free(dir);
	*ret_list = list;
	*ret_n = n;
	return 0;

err_list:
	vd_hv_free_list(list, i);
err_dir:
	free(dir);
	return -ENOMEM;
}

/* xs_permissions carries more flags than read and write (XS_PERM_OWNER etc.): those two only. */
static int xen_xs_get_perms(struct vd_hv *hv, vd_xs_txn t, const char *path,
			    struct vd_xs_perm **ret_perms, unsigned *ret_n)
{
	struct xs_permissions *xp;
	struct vd_xs_perm *p;
	unsigned int n;

	xp = xs_get_permissions(xen_hv_from(hv)->xs, t, path, &n);
	if (!xp)
		return neg_errno();
	p = n ? calloc(n, sizeof(*p)) : NULL;
	if (!p) {
		free(xp);
		return n ? -ENOMEM : -EPROTO;
	}
	for (unsigned int i = 0; i < n; i++) {
		p[i].domid = xp[i].id;
		p[i].perms = (uint32_t)xp[i].perms & (VD_XS_PERM_READ | VD_XS_PERM_WRITE);
	}
	free(xp);
	*ret_perms = p;
	*ret_n = n;
	return 0;
}

static int xen_xs_txn_start(struct vd_hv *hv, vd_xs_txn *ret_t)
{
	xs_transaction_t t;

	t = xs_transaction_start(xen_hv_from(hv)->xs);
	if (t == XBT_NULL)
		return neg_errno();
	*ret_t = t;
	return 0;
}

static int xen_xs_txn_end(struct vd_hv *hv, vd_xs_txn t, bool abort)
{
	if (!xs_transaction_end(xen_hv_from(hv)->xs, t, abort))
		return neg_errno();
	return 0;
}

static int xen_xs_watch(struct vd_hv *hv, const char *path, const char *token)
{
	if (!xs_watch(xen_hv_from(hv)->xs, path, token))
		return neg_errno();
	return 0;
}

static int xen_xs_unwatch(struct vd_hv *hv, const char *path, const char *token)
{
	if (!xs_unwatch(xen_hv_from(hv)->xs, path, token))
		return neg_errno();
	return 0;
}

static int xen_xs_watch_fd(struct vd_hv *hv)
{
	return xs_fileno(xen_hv_from(hv)->xs);
}

/* xs_check_watch never blocks: NULL with EAGAIN means nothing is pending. */
static int xen_xs_read_watch(struct vd_hv *hv, char **ret_path, char **ret_token)
{
	char **ev, *path, *token;

	ev = xs_check_watch(xen_hv_from(hv)->xs);
	if (!ev)
		return neg_errno();
	path = strdup(ev[XS_WATCH_PATH]);
	token = strdup(ev[XS_WATCH_TOKEN]);
	free(ev);
	if (!path || !token) {
		free(path);
		free(token);
		return -ENOMEM;
	}
	*ret_path = path;
	*ret_token = token;
	return 0;
}

/* ---- event channels ---- */

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return neg_errno();
	return 0;
}

static int xen_evtchn_bind(struct vd_hv *hv, uint32_t domid, uint32_t remote_port,
			   struct vd_evtchn **ret_ch)
{
	xenevtchn_port_or_error_t port;
	struct vd_evtchn *ch;
	int r;

	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->xce = xenevtchn_open(&xen_logger, 0);
	if (!ch->xce) {
		r = neg_errno();
		goto err_free;
	}
	port = xenevtchn_bind_interdomain(ch->xce, domid, remote_port);
	if (port < 0) {
		r = neg_errno();
		goto err_close;
	}
	ch->port = (evtchn_port_t)port;
	r = set_nonblock(xenevtchn_fd(ch->xce));
	if (r < 0)
		goto err_unbind;
	*ret_ch = ch;
	return 0;

err_unbind:
	xenevtchn_unbind(ch->xce, ch->port);
err_close:
	xenevtchn_close(ch->xce);
err_free:
	free(ch);
	return r;
}

static void xen_evtchn_unbind(struct vd_hv *hv, struct vd_evtchn *ch)
{
	if (!ch)
		return;
	xenevtchn_unbind(ch->xce, ch->port);
	xenevtchn_close(ch->xce);
	free(ch);
}

static int xen_evtchn_fd(struct vd_evtchn *ch)
{
	return xenevtchn_fd(ch->xce);
}

/*
 * The kernel queues a port once and masks it until unmasked, so with one
 * port per handle a single read consumes everything. EAGAIN: spurious
 * wake-up, nothing to acknowledge.
 */
static int xen_evtchn_ack(struct vd_evtchn *ch)
{
	xenevtchn_port_or_error_t port;

	port = xenevtchn_pending(ch->xce);
	if (port < 0)
		return errno == EAGAIN ? 0 : neg_errno();
	if (xenevtchn_unmask(ch->xce, (evtchn_port_t)port) < 0)
		return neg_errno();
	return 0;
}

static int xen_evtchn_notify(struct vd_evtchn *ch)
{
	if (xenevtchn_notify(ch->xce, ch->port) < 0)
		return neg_errno();
	return 0;
}

/* ---- grants ---- */

static int xen_gnt_open(struct vd_hv *hv, struct vd_gnt **ret_gnt)
{
	struct vd_gnt *gnt;
	int r;

	gnt = calloc(1, sizeof(*gnt));
	if (!gnt)
		return -ENOMEM;
	gnt->xgt = xengnttab_open(&xen_logger, 0);
	if (!gnt->xgt) {
		r = neg_errno();
		free(gnt);
		return r;
	}
	*ret_gnt = gnt;
	return 0;
}

static void xen_gnt_close(struct vd_gnt *gnt)
{
	if (!gnt)
		return;
	xengnttab_close(gnt->xgt);
	free(gnt);
}

/* libxengnttab takes a non-const array; map from a private copy. */
static int xen_gnt_map(struct vd_gnt *gnt, uint32_t domid, uint32_t count, const uint32_t *refs,
		       bool writable, void **ret_addr)
{
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	uint32_t *copy;
	void *addr;
	int r = 0;

	if (count == 0)
		return -EINVAL;
	copy = calloc(count, sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, refs, (size_t)count * sizeof(*copy));
	addr = xengnttab_map_domain_grant_refs(gnt->xgt, count, domid, copy, prot);
	if (!addr)
		r = neg_errno();
	free(copy);
	if (r == 0)
		*ret_addr = addr;
	return r;
}

static int xen_gnt_unmap(struct vd_gnt *gnt, void *addr, uint32_t count)
{
	if (xengnttab_unmap(gnt->xgt, addr, count) < 0)
		return neg_errno();
	return 0;
}

/* ---- gntdev dma-buf ---- */

/* An unknown ioctl (kernel without CONFIG_XEN_GNTDEV_DMABUF) is ENOTTY. */
static int dmabuf_errno(void)
{
	if (errno == ENOTTY || errno == ENOSYS || errno == EOPNOTSUPP)
		return -EOPNOTSUPP;
	return neg_errno();
}

#ifdef __linux__
static int xen_dmabuf_exp_from_refs(struct vd_gnt *gnt, uint32_t domid, uint32_t count,
				    const uint32_t *refs, int *ret_fd)
{
	uint32_t fd;

	if (count == 0)
		return -EINVAL;
	if (xengnttab_dmabuf_exp_from_refs(gnt->xgt, domid, 0, count, refs, &fd) < 0)
		return dmabuf_errno();
	*ret_fd = (int)fd;
	return 0;
}

/* The library turns "already released" (ENOENT) into success. */
static int xen_dmabuf_exp_wait_released(struct vd_gnt *gnt, int fd, uint32_t timeout_ms)
{
	if (fd < 0)
		return -EBADF;
	if (xengnttab_dmabuf_exp_wait_released(gnt->xgt, (uint32_t)fd, timeout_ms) < 0)
		return dmabuf_errno();
	return 0;
}

static int xen_dmabuf_imp_to_refs(struct vd_gnt *gnt, uint32_t domid, int fd, uint32_t count,
				  uint32_t *refs)
{
	if (fd < 0)
		return -EBADF;
	if (count == 0)
		return -EINVAL;
	if (xengnttab_dmabuf_imp_to_refs(gnt->xgt, domid, (uint32_t)fd, count, refs) < 0)
		return dmabuf_errno();
	return 0;
}

static int xen_dmabuf_imp_release(struct vd_gnt *gnt, int fd)
{
	if (fd < 0)
		return -EBADF;
	if (xengnttab_dmabuf_imp_release(gnt->xgt, (uint32_t)fd) < 0)
		return dmabuf_errno();
	return 0;
}
#else
/* The BSD builds of libxengnttab abort() in these functions (PROTOCOL.md §4). */
static int xen_dmabuf_exp_from_refs(struct vd_gnt *gnt, uint32_t domid, uint32_t count,
				    const uint32_t *refs, int *ret_fd)
{
	return -EOPNOTSUPP;
}

static int xen_dmabuf_exp_wait_released(struct vd_gnt *gnt, int fd, uint32_t timeout_ms)
{
	return -EOPNOTSUPP;
}

static int xen_dmabuf_imp_to_refs(struct vd_gnt *gnt, uint32_t domid, int fd, uint32_t count,
				  uint32_t *refs)
{
	return -EOPNOTSUPP;
}

static int xen_dmabuf_imp_release(struct vd_gnt *gnt, int fd)
{
	return -EOPNOTSUPP;
}
#endif

/* ---- lifetime ---- */

static void xen_destroy(struct vd_hv *hv)
{
	struct xen_hv *xh = xen_hv_from(hv);

	xs_close(xh->xs);
	free(xh);
}

static const struct vd_hv_impl xen_impl = {
	.name = "xen",
	.destroy = xen_destroy,
	.own_domid = xen_own_domid,
	.domain_alive = xen_domain_alive,
	.xs_read = xen_xs_read,
	.xs_write = xen_xs_write,
	.xs_rm = xen_xs_rm,
	.xs_directory = xen_xs_directory,
	.xs_get_perms = xen_xs_get_perms,
	.xs_txn_start = xen_xs_txn_start,
	.xs_txn_end = xen_xs_txn_end,
	.xs_watch = xen_xs_watch,
	.xs_unwatch = xen_xs_unwatch,
	.xs_watch_fd = xen_xs_watch_fd,
	.xs_read_watch = xen_xs_read_watch,
	.evtchn_bind = xen_evtchn_bind,
	.evtchn_unbind = xen_evtchn_unbind,
	.evtchn_fd = xen_evtchn_fd,
	.evtchn_ack = xen_evtchn_ack,
	.evtchn_notify = xen_evtchn_notify,
	.gnt_open = xen_gnt_open,
	.gnt_close = xen_gnt_close,
	.gnt_map = xen_gnt_map,
	.gnt_unmap = xen_gnt_unmap,
	.dmabuf_exp_from_refs = xen_dmabuf_exp_from_refs,
	.dmabuf_exp_wait_released = xen_dmabuf_exp_wait_released,
	.dmabuf_imp_to_refs = xen_dmabuf_imp_to_refs,
	.dmabuf_imp_release = xen_dmabuf_imp_release,
};

/*
 * xs_open tries xenstored's socket, then /dev/xen/xenbus; without Xen both
 * are absent and errno is ENOENT (EACCES without the rights).
 */
static int xen_xs_open(struct xs_handle **ret_xs)
{
	struct xs_handle *xs;
	int r;

	errno = 0;
	xs = xs_open(0);
	if (!xs)
		return errno > 0 ? -errno : -ENOENT;
	/* Creates the watch pipe now, so xs_watch_fd cannot fail later. */
	if (xs_fileno(xs) < 0) {
		r = neg_errno();
		xs_close(xs);
		return r;
	}
	*ret_xs = xs;
	return 0;
}

int vd_hv_xen_create(struct vd_hv **ret_hv)
{
	struct xen_hv *xh;
	int r;

	xh = calloc(1, sizeof(*xh));
	if (!xh)
		return -ENOMEM;
	xh->base.impl = &xen_impl;
	r = xen_xs_open(&xh->xs);
	if (r < 0) {
		vd_err("xen: cannot connect to xenstore: %s", strerror(-r));
		free(xh);
		return r;
	}
	xh->own_domid = xen_read_own_domid(xh->xs);
	/* Our own domain is introduced: only a refusal makes this false. */
	errno = 0;
	xh->privileged = xs_is_domain_introduced(xh->xs, xh->own_domid) || errno != EACCES;
	vd_info("xen: connected to xenstore, backend domain %u%s", xh->own_domid,
		xh->privileged ? ""
			       : " (a driver domain: a guest's devices end when the toolstack "
				 "removes them)");
	*ret_hv = &xh->base;
	return 0;
}
