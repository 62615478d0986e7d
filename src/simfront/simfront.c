/* SPDX-License-Identifier: MIT */
/*
 * The simulated guest: the toolstack's part (domain, xenstore nodes as
 * libxl writes them) and the frontend's xenbus state machine, as Linux
 * xen-front's displback_changed (PROTOCOL.md §1.3 table).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xenbus.h>

#include "log.h"
#include "simfront/simfront_priv.h"

#define DRM_FORMAT_XRGB8888 0x34325258u

static int txn_write(struct vd_hv *hv, vd_xs_txn t, const char *dir, const char *node,
		     const char *value)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	return hv->impl->xs_write(hv, t, path, value);
}

/* libxl__xs_writev_perms: the node, then its permissions. */
static int ts_write(struct vd_hv *hv, vd_xs_txn t, const char *dir, const char *node,
		    const char *value, const struct vd_xs_perm *perms)
{
	char path[256];

	snprintf(path, sizeof(path), "%s%s%s", dir, node ? "/" : "", node ? node : "");
	if (hv->impl->xs_write(hv, t, path, value) < 0)
		return -EIO;
	return vd_sim_xs_set_perms(hv, t, path, perms, 2);
}

/*
 * libxl__set_xenstore_vdispl's ro_front: be-alloc, and each connector's
 * resolution and unique-id, owned by the backend domain and read-only for
 * the guest. The connector directories themselves are created on the way
 * and so are the guest's, like the frontend directory.
 */
static int toolstack_ro_front(struct vd_simfront *f, vd_xs_txn t, const struct vd_xs_perm *ro)
{
	uint32_t n = f->opts.ts_nconn ? f->opts.ts_nconn : f->opts.nconn;
	struct vd_hv *hv = f->dom0;
	char val[64], node[32];
	int r = 0;

	r |= ts_write(hv, t, f->fe_path, "be-alloc", f->opts.be_alloc ? "1" : "0", ro);
	for (uint32_t i = 0; i < n; i++) {
		snprintf(node, sizeof(node), "%u/resolution", i);
		snprintf(val, sizeof(val), "%ux%u", f->opts.width, f->opts.height);
		r |= ts_write(hv, t, f->fe_path, node, val, ro);
		snprintf(node, sizeof(node), "%u/unique-id", i);
		snprintf(val, sizeof(val), "Virtual-%u", i + 1);
		r |= ts_write(hv, t, f->fe_path, node, val, ro);
	}
	return r;
}

/*
 * libxl__device_generic_add: the frontend directory is the guest's, the
 * backend may read it; the backend directory is the backend domain's, the
 * guest may read it (and so is every ro_front node).
 */
static int toolstack_write(struct vd_simfront *f, vd_xs_txn t)
{
	const uint32_t be = f->opts.be_domid, fe = f->domid;
	const struct vd_xs_perm fe_perms[] = {{fe, VD_XS_PERM_NONE}, {be, VD_XS_PERM_READ}};
	const struct vd_xs_perm be_perms[] = {{be, VD_XS_PERM_NONE}, {fe, VD_XS_PERM_READ}};
	struct vd_hv *hv = f->dom0;
	char val[64];
	int r = 0;

	hv->impl->xs_rm(hv, t, f->fe_path);
	r |= ts_write(hv, t, f->fe_path, NULL, "", fe_perms);
	snprintf(val, sizeof(val), "%u", be);
	r |= ts_write(hv, t, f->fe_path, "backend", f->be_path, fe_perms);
	r |= ts_write(hv, t, f->fe_path, "backend-id", val, fe_perms);
	r |= ts_write(hv, t, f->fe_path, "state", "1", fe_perms);
	r |= toolstack_ro_front(f, t, be_perms);
	hv->impl->xs_rm(hv, t, f->be_path);
	r |= ts_write(hv, t, f->be_path, NULL, "", be_perms);
	snprintf(val, sizeof(val), "%u", fe);
	r |= txn_write(hv, t, f->be_path, "frontend", f->fe_path);
	r |= txn_write(hv, t, f->be_path, "frontend-id", val);
	r |= txn_write(hv, t, f->be_path, "online", "1");
	r |= txn_write(hv, t, f->be_path, "state", "1");
	return r ? -EIO : 0;
}

static int toolstack_add(struct vd_simfront *f)
{
	vd_xs_txn t;
	int r;

	do {
		r = f->dom0->impl->xs_txn_start(f->dom0, &t);
		if (r < 0)
			return r;
		if (toolstack_write(f, t) < 0) {
			f->dom0->impl->xs_txn_end(f->dom0, t, true);
			return -EIO;
		}
		r = f->dom0->impl->xs_txn_end(f->dom0, t, false);
	} while (r == -EAGAIN);
	return r;
}

static void set_state(struct vd_simfront *f, int state)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/state", f->fe_path);
	vd_xs_printf(f->hv, VD_XS_NO_TXN, path, "%d", state);
	f->state = state;
}

static int read_be_state_as(struct vd_hv *hv, struct vd_simfront *f)
{
	char path[256];
	uint32_t v;

	snprintf(path, sizeof(path), "%s/state", f->be_path);
	return vd_xs_read_u32(hv, VD_XS_NO_TXN, path, &v) < 0 ? -1 : (int)v;
}

static int read_be_state(struct vd_simfront *f)
{
	return read_be_state_as(f->hv, f);
}

/* ---- connect: channels published in one transaction (evtchnl_publish_all) ---- */

static int publish_chan(struct vd_simfront *f, vd_xs_txn t, const struct sf_chan *ch)
{
	static const char *const nodes[] = {XENDISPL_FIELD_REQ_RING_REF,
					    XENDISPL_FIELD_REQ_CHANNEL,
					    XENDISPL_FIELD_EVT_RING_REF,
					    XENDISPL_FIELD_EVT_CHANNEL};
	const uint32_t vals[] = {ch->ring_ref, ch->req_port, ch->evt_ref, ch->evt_port};
	char path[256];
	int r = 0;

	for (int i = 0; i < 4 && r >= 0; i++) {
		snprintf(path, sizeof(path), "%s/%u/%s", f->fe_path, ch->idx, nodes[i]);
		r = vd_xs_printf(f->hv, t, path, "%u", vals[i]);
	}
	return r;
}

static int publish_all(struct vd_simfront *f)
{
	vd_xs_txn t;
	int r;

	do {
		r = f->hv->impl->xs_txn_start(f->hv, &t);
		for (uint32_t i = 0; r >= 0 && i < f->nconn; i++)
			r = publish_chan(f, t, &f->chans[i]);
		if (r < 0) {
			f->hv->impl->xs_txn_end(f->hv, t, true);
			return r;
		}
		r = f->hv->impl->xs_txn_end(f->hv, t, false);
	} while (r == -EAGAIN);
	return r;
}

static void close_all(struct vd_simfront *f)
{
	for (uint32_t i = 0; i < f->nconn; i++) {
		sf_client_stop(f, &f->clients[i]);
		sf_chan_close(f, &f->chans[i]);
	}
	f->nconn = 0;
}

/* Driver removal done: the backend went InitWait, free and probe again. */
static void finish_reprobe(struct vd_simfront *f)
{
	close_all(f);
	f->removing = false;
	set_state(f, XenbusStateClosed);
	set_state(f, XenbusStateInitialising);
}

static void on_initwait(struct vd_simfront *f)
{
	int r = 0;

	if (f->state == XenbusStateReconfiguring)
		return;
	if (f->state == XenbusStateClosing)
		finish_reprobe(f);
	if (f->state == XenbusStateConnected) {
		/*
		 * displback_disconnect: the DRM device is unplugged, buffers
		 * freed. Linux goes Reconfiguring, Initialising and (below)
		 * Initialised in one go: the backend's watch may show only the
		 * last of them, as it did on real Xen.
		 */
		set_state(f, XenbusStateReconfiguring);
		close_all(f);
		set_state(f, XenbusStateInitialising);
	}
	if (f->state != XenbusStateInitialising)
		return;
	f->nconn = f->opts.nconn;
	for (uint32_t i = 0; r >= 0 && i < f->nconn; i++)
		r = sf_chan_open(f, &f->chans[i], i);
	if (r >= 0)
		r = publish_all(f);
	if (r < 0) {
		vd_warn("simfront %s: cannot publish channels: %s", f->name, strerror(-r));
		close_all(f);
		return;
	}
	set_state(f, XenbusStateInitialised);
}

static void on_connected(struct vd_simfront *f)
{
	if (f->state != XenbusStateInitialised)
		return;
	set_state(f, XenbusStateConnected);
	f->stats.connects++;
	if (f->opts.no_client)
		return;
	for (uint32_t i = 0; i < f->nconn; i++)
		sf_client_start(f, &f->clients[i], i);
}

static void on_be_change(struct vd_simfront *f)
{
	int bs = read_be_state(f);

	switch (bs) {
	case XenbusStateInitWait:
		on_initwait(f);
		break;
	case XenbusStateConnected:
		on_connected(f);
		break;
	case XenbusStateClosed:
	case XenbusStateUnknown:
	case -1:
		if (f->state == XenbusStateConnected || f->state == XenbusStateInitialised) {
			close_all(f);
			set_state(f, XenbusStateInitialising);
		}
		break;
	default:
		break;
	}
}

static int on_xs(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct vd_simfront *f = userdata;
	char *path, *token;

	while (f->hv->impl->xs_read_watch(f->hv, &path, &token) >= 0) {
		free(path);
		free(token);
		if (!f->dead)
			on_be_change(f);
	}
	return 0;
}

void sf_update_finished(struct vd_simfront *f)
{
	bool all = f->nconn > 0;

	for (uint32_t i = 0; i < f->nconn; i++)
		all = all && f->clients[i].finished;
	f->stats.finished = all;
}

/* ---- life ---- */

static int fourcc_bpp(uint32_t fourcc, uint32_t *ret)
{
	int bpp = vd_format_bpp(fourcc);

	if (bpp <= 0)
		return -EINVAL;
	*ret = (uint32_t)bpp;
	return 0;
}

static int init_front(struct vd_simfront *f, const char *name, const struct vd_simfront_opts *o)
{
	int r;

	f->opts = *o;
	f->fourcc = o->fourcc ? o->fourcc : DRM_FORMAT_XRGB8888;
	f->width = o->width;
	f->height = o->height;
	f->stats.buffers_destroyed = true;
	if (o->nconn == 0 || o->nconn > SF_MAX_CONN || o->width < 4 || o->height == 0 ||
	    (o->span && o->churn))
		return -EINVAL;
	r = fourcc_bpp(f->fourcc, &f->bpp);
	if (r < 0)
		return r;
	if (((uint64_t)o->width * f->bpp + 7) / 8 < 8)
		return -EINVAL; /* the pattern stamps 8 bytes in row 0 */
	f->name = strdup(name);
	return f->name ? 0 : -ENOMEM;
}

static int start_front(struct vd_simfront *f)
{
	char path[256];
	int r;

	r = vd_sim_domain_create(f->sim, f->name, &f->domid);
	if (r < 0)
		return r;
	if (asprintf(&f->fe_path, "/local/domain/%u/device/vdispl/0", f->domid) < 0 ||
	    asprintf(&f->be_path, "/local/domain/%u/backend/vdispl/%u/0", f->opts.be_domid,
		     f->domid) < 0)
		return -ENOMEM;
	r = vd_sim_connect_as(f->sim, f->domid, &f->hv);
	if (r >= 0)
		r = f->hv->impl->gnt_open(f->hv, &f->gnt);
	if (r < 0)
		return r;
	r = toolstack_add(f);
	if (r < 0)
		return r;
	f->state = XenbusStateInitialising;
	if (f->opts.no_frontend)
		return 0;
	r = sd_event_add_io(f->loop, &f->xs_src, f->hv->impl->xs_watch_fd(f->hv), EPOLLIN, on_xs,
			    f);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/state", f->be_path);
	return f->hv->impl->xs_watch(f->hv, path, "be");
}

int vd_simfront_create(struct vd_hv *dom0, sd_event *loop, const char *name,
		       const struct vd_simfront_opts *opts, struct vd_simfront **ret_front)
{
	struct vd_simfront *f = calloc(1, sizeof(*f));
	int r;

	if (!f)
		return -ENOMEM;
	f->sim = vd_sim_from_hv(dom0);
	f->dom0 = dom0;
	f->loop = loop;
	r = f->sim ? init_front(f, name, opts) : -EOPNOTSUPP;
	if (r >= 0)
		r = start_front(f);
	if (r < 0) {
		vd_simfront_destroy(f);
		return r;
	}
	*ret_front = f;
	return 0;
}

/* libxl removes both directories once the device is gone. */
static void toolstack_remove(struct vd_simfront *f)
{
	if (f->be_path)
		f->dom0->impl->xs_rm(f->dom0, VD_XS_NO_TXN, f->be_path);
	if (f->fe_path)
		f->dom0->impl->xs_rm(f->dom0, VD_XS_NO_TXN, f->fe_path);
}

/*
 * xen_drv_remove then a new probe (module reload): Closing, wait for the
 * backend's InitWait, free everything, Closed, Initialising.
 */
int vd_simfront_reprobe(struct vd_simfront *f)
{
	if (f->dead || f->state != XenbusStateConnected)
		return -EBUSY;
	f->removing = true; /* no more flips; buffers stay shared until InitWait */
	set_state(f, XenbusStateClosing);
	return 0;
}

/* libxl's device removal is done: the directories go. */
static void toolstack_finish(struct vd_simfront *f)
{
	f->ts_src = sd_event_source_disable_unref(f->ts_src);
	f->ts_timer = sd_event_source_disable_unref(f->ts_timer);
	toolstack_remove(f);
	vd_sim_domain_destroy(f->sim, f->domid);
	f->stats.destroyed = true;
}

static int on_ts_watch(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct vd_simfront *f = userdata;
	char *path, *token;

	while (f->ts->impl->xs_read_watch(f->ts, &path, &token) >= 0) {
		free(path);
		free(token);
	}
	if (f->ts_src && read_be_state_as(f->ts, f) == XenbusStateClosed)
		toolstack_finish(f);
	return 0;
}

/* LIBXL_DESTROY_TIMEOUT: the backend did not answer, libxl removes it anyway. */
static int on_ts_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct vd_simfront *f = userdata;

	f->stats.toolstack_timeouts++;
	toolstack_finish(f);
	return 0;
}

/*
 * xl destroy, in the order libxl did it on real Xen: the guest stops and
 * its device directory goes first, then the backend is asked to close
 * (online = 0, state = Closing) and given 10 s to say Closed, then the
 * backend directory is removed and the domain destroyed (@releaseDomain).
 */
int vd_simfront_xl_destroy(struct vd_simfront *f)
{
	char path[256];
	int r;

	if (f->dead)
		return -ESRCH;
	f->dead = true; /* paused: it ends no grant, sends nothing */
	close_all(f);
	f->dom0->impl->xs_rm(f->dom0, VD_XS_NO_TXN, f->fe_path);
	r = vd_sim_connect_as(f->sim, 0, &f->ts);
	if (r >= 0)
		r = sd_event_add_io(f->loop, &f->ts_src, f->ts->impl->xs_watch_fd(f->ts), EPOLLIN,
				    on_ts_watch, f);
	if (r >= 0)
		r = sd_event_add_time_relative(f->loop, &f->ts_timer, CLOCK_MONOTONIC,
					       SF_TOOLSTACK_TIMEOUT_US, 1000, on_ts_timeout, f);
	snprintf(path, sizeof(path), "%s/state", f->be_path);
	if (r >= 0)
		r = f->ts->impl->xs_watch(f->ts, path, "ts");
	snprintf(path, sizeof(path), "%s/online", f->be_path);
	f->dom0->impl->xs_write(f->dom0, VD_XS_NO_TXN, path, "0");
	snprintf(path, sizeof(path), "%s/state", f->be_path);
	f->dom0->impl->xs_write(f->dom0, VD_XS_NO_TXN, path, "5");
	if (r < 0)
		toolstack_finish(f);
	return r;
}

int vd_simfront_kill(struct vd_simfront *f)
{
	int r;

	if (f->dead)
		return -ESRCH;
	f->dead = true;
	r = vd_sim_domain_destroy(f->sim, f->domid);
	close_all(f);
	toolstack_remove(f);
	return r;
}

void vd_simfront_destroy(struct vd_simfront *f)
{
	if (!f)
		return;
	f->xs_src = sd_event_source_disable_unref(f->xs_src);
	f->ts_src = sd_event_source_disable_unref(f->ts_src);
	f->ts_timer = sd_event_source_disable_unref(f->ts_timer);
	vd_hv_destroy(f->ts);
	close_all(f);
	if (f->domid && !f->dead) {
		f->dead = true;
		vd_sim_domain_destroy(f->sim, f->domid);
		toolstack_remove(f);
	}
	if (f->gnt)
		f->hv->impl->gnt_close(f->gnt);
	vd_hv_destroy(f->hv);
	free(f->fe_path);
	free(f->be_path);
	free(f->name);
	free(f);
}

uint32_t vd_simfront_domid(struct vd_simfront *f)
{
	return f->domid;
}

void vd_simfront_get_stats(struct vd_simfront *f, struct vd_simfront_stats *ret)
{
	*ret = f->stats;
	ret->state = f->state;
}

/* ---- raw access ---- */

int vd_simfront_send_raw(struct vd_simfront *f, uint32_t conn, const struct xendispl_req *req,
			 vd_simfront_resp_cb cb, void *userdata)
{
	if (conn >= f->nconn)
		return -EINVAL;
	return sf_chan_send(&f->chans[conn], req, cb, userdata);
}

struct xen_displif_sring *vd_simfront_sring(struct vd_simfront *f, uint32_t conn)
{
	return conn < f->nconn ? f->chans[conn].ring_page : NULL;
}

struct xendispl_event_page *vd_simfront_evt_page(struct vd_simfront *f, uint32_t conn)
{
	return conn < f->nconn ? f->chans[conn].evt_page : NULL;
}

int vd_simfront_notify(struct vd_simfront *f, uint32_t conn)
{
	if (conn >= f->nconn)
		return -EINVAL;
	return vd_sim_evtchn_notify(f->chans[conn].req_ch);
}
