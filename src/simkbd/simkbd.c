/* SPDX-License-Identifier: MIT */
/* The simulated xen-kbdfront (see simkbd.h). */
#include "simkbd/simkbd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xenbus.h>

#include "hv/sim/sim.h"
#include "log.h"

struct vd_simkbd {
	struct vd_sim *sim;
	struct vd_hv *dom0; /* borrowed: the toolstack's connection */
	struct vd_hv *hv;   /* the guest's own connection */
	sd_event *loop;
	char *name;
	uint32_t domid;
	bool own_domain;
	struct vd_simkbd_opts opts;
	char *fe_path, *be_path;
	sd_event_source *xs_src, *ch_src;
	int state;
	/* What the driver read at probe (reverse logic for the disables). */
	bool has_kbd, has_ptr, abs, mtouch;
	uint32_t num_contacts;
	/* The page and the port, kept from probe to remove (as Linux). */
	struct xenkbd_page *page;
	uint32_t pfn, gref, port;
	struct vd_evtchn *ch;
	struct vd_simkbd_event log[VD_SIMKBD_LOG_MAX];
	uint32_t nlog;
	struct vd_simkbd_stats stats;
};

static int node_write(struct vd_hv *hv, vd_xs_txn t, const char *dir, const char *node,
		      const char *value)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	return hv->impl->xs_write(hv, t, path, value);
}

static int node_u32(struct vd_hv *hv, vd_xs_txn t, const char *dir, const char *node, uint32_t v)
{
	char val[16];

	snprintf(val, sizeof(val), "%u", v);
	return node_write(hv, t, dir, node, val);
}

/* ---- the toolstack: libxl__device_vkb_add with backend-type=linux ---- */

static int toolstack_features(struct vd_simkbd *k, vd_xs_txn t)
{
	const struct vd_simkbd_opts *o = &k->opts;
	struct vd_hv *hv = k->dom0;
	int r = 0;

	r |= node_u32(hv, t, k->be_path, XENKBD_FIELD_FEAT_DSBL_KEYBRD, o->disable_keyboard);
	r |= node_u32(hv, t, k->be_path, XENKBD_FIELD_FEAT_DSBL_POINTER, o->disable_pointer);
	r |= node_u32(hv, t, k->be_path, XENKBD_FIELD_FEAT_ABS_POINTER, o->abs_pointer);
	r |= node_u32(hv, t, k->be_path, XENKBD_FIELD_FEAT_RAW_POINTER, 0);
	r |= node_u32(hv, t, k->be_path, XENKBD_FIELD_FEAT_MTOUCH, o->multi_touch);
	if (o->width)
		r |= node_u32(hv, t, k->be_path, XENKBD_FIELD_WIDTH, o->width);
	if (o->height)
		r |= node_u32(hv, t, k->be_path, XENKBD_FIELD_HEIGHT, o->height);
	if (o->multi_touch && o->mt_contacts)
		r |= node_u32(hv, t, k->be_path, XENKBD_FIELD_MT_NUM_CONTACTS, o->mt_contacts);
	if (o->multi_touch && o->mt_width)
		r |= node_u32(hv, t, k->be_path, XENKBD_FIELD_MT_WIDTH, o->mt_width);
	if (o->multi_touch && o->mt_height)
		r |= node_u32(hv, t, k->be_path, XENKBD_FIELD_MT_HEIGHT, o->mt_height);
	return r;
}

/* A directory made with its permissions, as libxl__device_generic_add makes both. */
static int ts_mkdir(struct vd_hv *hv, vd_xs_txn t, const char *path, uint32_t owner,
		    uint32_t reader)
{
	const struct vd_xs_perm perms[] = {{owner, VD_XS_PERM_NONE}, {reader, VD_XS_PERM_READ}};

	hv->impl->xs_rm(hv, t, path);
	if (hv->impl->xs_write(hv, t, path, "") < 0)
		return -EIO;
	return vd_sim_xs_set_perms(hv, t, path, perms, 2);
}

/*
 * The frontend directory is the guest's (the backend may read it), the
 * backend directory the backend domain's (the guest may read it): what is
 * written below each takes its permissions.
 */
static int toolstack_write(struct vd_simkbd *k, vd_xs_txn t)
{
	struct vd_hv *hv = k->dom0;
	int r = 0;

	r |= ts_mkdir(hv, t, k->fe_path, k->domid, k->opts.be_domid);
	r |= node_write(hv, t, k->fe_path, "backend", k->be_path);
	r |= node_u32(hv, t, k->fe_path, "backend-id", k->opts.be_domid);
	r |= node_write(hv, t, k->fe_path, "state", "1");
	r |= ts_mkdir(hv, t, k->be_path, k->opts.be_domid, k->domid);
	r |= node_write(hv, t, k->be_path, "frontend", k->fe_path);
	r |= node_u32(hv, t, k->be_path, "frontend-id", k->domid);
	r |= node_write(hv, t, k->be_path, "online", "1");
	r |= node_write(hv, t, k->be_path, "state", "1");
	r |= toolstack_features(k, t);
	return r ? -EIO : 0;
}

static int toolstack_add(struct vd_simkbd *k)
{
	vd_xs_txn t;
	int r;

	do {
		r = k->dom0->impl->xs_txn_start(k->dom0, &t);
		if (r < 0)
			return r;
		if (toolstack_write(k, t) < 0) {
			k->dom0->impl->xs_txn_end(k->dom0, t, true);
			return -EIO;
		}
		r = k->dom0->impl->xs_txn_end(k->dom0, t, false);
	} while (r == -EAGAIN);
	return r;
}

static void toolstack_remove(struct vd_simkbd *k)
{
	if (k->be_path)
		k->dom0->impl->xs_rm(k->dom0, VD_XS_NO_TXN, k->be_path);
	if (k->fe_path)
		k->dom0->impl->xs_rm(k->dom0, VD_XS_NO_TXN, k->fe_path);
}

/* ---- the consumer (input_handler) ---- */

static bool zero(const union xenkbd_in_event *e, size_t from, size_t to)
{
	const uint8_t *b = (const uint8_t *)e;

	for (size_t i = from; i < to; i++)
		if (b[i])
			return false;
	return true;
}

/* What xenkbd_handle_event does with it: 1 crash, -1 violation, 0 fine. */
static int judge(const struct vd_simkbd *k, const union xenkbd_in_event *e)
{
	switch (e->type) {
	case XENKBD_TYPE_KEY:
		if (!k->has_ptr || !k->has_kbd || e->key.keycode >= VD_KBD_KEY_CNT)
			return 1;
		return zero(e, 2, 4) && zero(e, 8, 40) && e->key.pressed <= 1 ? 0 : -1;
	case XENKBD_TYPE_MOTION:
		return k->has_ptr && zero(e, 1, 4) && zero(e, 16, 40) ? 0 : -1;
	case XENKBD_TYPE_POS:
		return k->has_ptr && k->abs && zero(e, 1, 4) && zero(e, 16, 40) ? 0 : -1;
	case XENKBD_TYPE_MTOUCH:
		if (!k->mtouch || e->mtouch.contact_id >= k->num_contacts ||
		    e->mtouch.event_type > XENKBD_MT_EV_SYN || !zero(e, 3, 8))
			return -1;
		if (e->mtouch.event_type == XENKBD_MT_EV_UP ||
		    e->mtouch.event_type == XENKBD_MT_EV_SYN)
			return zero(e, 8, 40) ? 0 : -1;
		return zero(e, 16, 40) ? 0 : -1;
	default:
		return -1;
	}
}

static void record(struct vd_simkbd *k, const union xenkbd_in_event *e)
{
	struct vd_simkbd_event *l;
	int j = judge(k, e);

	k->stats.events++;
	k->stats.crashes += j > 0;
	k->stats.violations += j < 0;
	if (k->nlog == VD_SIMKBD_LOG_MAX)
		return;
	l = &k->log[k->nlog++];
	*l = (struct vd_simkbd_event){.type = e->type};
	if (e->type == XENKBD_TYPE_KEY) {
		l->pressed = e->key.pressed;
		l->keycode = e->key.keycode;
	} else if (e->type == XENKBD_TYPE_MOTION) {
		*l = (struct vd_simkbd_event){
		    e->type, 0, 0, false, 0, e->motion.rel_x, e->motion.rel_y, e->motion.rel_z};
	} else if (e->type == XENKBD_TYPE_POS) {
		*l = (struct vd_simkbd_event){e->type,	    0,		 0, false, 0, e->pos.abs_x,
					      e->pos.abs_y, e->pos.rel_z};
	} else if (e->type == XENKBD_TYPE_MTOUCH) {
		l->mt_ev = e->mtouch.event_type;
		l->contact = e->mtouch.contact_id;
		l->x = e->mtouch.u.pos.abs_x;
		l->y = e->mtouch.u.pos.abs_y;
	}
}

int vd_simkbd_consume(struct vd_simkbd *k)
{
	uint32_t prod, cons;
	int n = 0;

	if (!k->page)
		return 0;
	prod = __atomic_load_n(&k->page->in_prod, __ATOMIC_ACQUIRE); /* rmb */
	if (prod == k->page->in_cons)
		return 0;
	for (cons = k->page->in_cons; cons != prod; cons++, n++) {
		union xenkbd_in_event e;

		memcpy(&e, &XENKBD_IN_RING_REF(k->page, cons), sizeof(e));
		record(k, &e);
	}
	__atomic_store_n(&k->page->in_cons, cons, __ATOMIC_SEQ_CST); /* mb */
	k->stats.batches++;
	vd_sim_evtchn_notify(k->ch);
	return n;
}

static int on_evtchn(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct vd_simkbd *k = userdata;

	vd_sim_evtchn_ack(k->ch);
	if (!k->opts.manual_consume)
		vd_simkbd_consume(k);
	return 0;
}

/* ---- probe / remove ---- */

static bool be_flag(struct vd_simkbd *k, const char *node)
{
	char path[256];
	uint32_t v;

	snprintf(path, sizeof(path), "%s/%s", k->be_path, node);
	return vd_xs_read_u32(k->hv, VD_XS_NO_TXN, path, &v) == 0 && v;
}

static void read_features(struct vd_simkbd *k)
{
	char path[256];
	uint32_t v;

	k->has_kbd = !be_flag(k, XENKBD_FIELD_FEAT_DSBL_KEYBRD);
	k->has_ptr = !be_flag(k, XENKBD_FIELD_FEAT_DSBL_POINTER);
	k->abs = be_flag(k, XENKBD_FIELD_FEAT_ABS_POINTER);
	k->mtouch = be_flag(k, XENKBD_FIELD_FEAT_MTOUCH);
	snprintf(path, sizeof(path), "%s/%s", k->be_path, XENKBD_FIELD_MT_NUM_CONTACTS);
	k->num_contacts = vd_xs_read_u32(k->hv, VD_XS_NO_TXN, path, &v) == 0 ? v : 1;
	if (!k->opts.no_requests) {
		if (k->abs)
			node_write(k->hv, VD_XS_NO_TXN, k->fe_path, XENKBD_FIELD_REQ_ABS_POINTER,
				   "1");
		if (k->mtouch)
			node_write(k->hv, VD_XS_NO_TXN, k->fe_path, XENKBD_FIELD_REQ_MTOUCH, "1");
	} else {
		k->abs = k->mtouch = false; /* the device is created without them */
	}
}

static int publish(struct vd_simkbd *k)
{
	char gref[16], port[16];
	vd_xs_txn t;
	int r;

	snprintf(gref, sizeof(gref), "%u", k->gref);
	snprintf(port, sizeof(port), "%u", k->port);
	do {
		r = k->hv->impl->xs_txn_start(k->hv, &t);
		if (r < 0)
			return r;
		r = node_u32(k->hv, t, k->fe_path, XENKBD_FIELD_RING_REF, k->pfn);
		r |= node_write(k->hv, t, k->fe_path, XENKBD_FIELD_RING_GREF,
				k->opts.page_gref ? k->opts.page_gref : gref);
		r |= node_write(k->hv, t, k->fe_path, XENKBD_FIELD_EVT_CHANNEL,
				k->opts.event_channel ? k->opts.event_channel : port);
		if (r) {
			k->hv->impl->xs_txn_end(k->hv, t, true);
			return -EIO;
		}
		r = k->hv->impl->xs_txn_end(k->hv, t, false);
	} while (r == -EAGAIN);
	return r;
}

static void set_state(struct vd_simkbd *k, int state)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/state", k->fe_path);
	vd_xs_printf(k->hv, VD_XS_NO_TXN, path, "%d", state);
	k->state = state;
	if (state == XenbusStateConnected)
		k->stats.connects++;
}

static void release(struct vd_simkbd *k)
{
	k->ch_src = sd_event_source_disable_unref(k->ch_src);
	vd_sim_evtchn_close(k->sim, k->ch);
	k->ch = NULL;
	if (k->page) {
		vd_sim_grant_end(k->sim, k->domid,
				 k->gref); /* -EBUSY if still mapped: Linux leaks */
		vd_sim_mem_free(k->sim, k->domid, k->page, 1);
	}
	k->page = NULL;
}

/* xenkbd_probe + xenkbd_connect_backend */
static int probe(struct vd_simkbd *k)
{
	void *page;
	int r;

	read_features(k);
	r = vd_sim_mem_alloc(k->sim, k->domid, 1, &page, &k->pfn);
	if (r < 0)
		return r;
	k->page = page; /* zeroed: in_cons = in_prod = 0 */
	r = vd_sim_grant(k->sim, k->domid, k->opts.be_domid, k->pfn, false, &k->gref);
	if (r >= 0)
		r = vd_sim_evtchn_alloc_unbound(k->sim, k->domid, k->opts.be_domid, &k->port,
						&k->ch);
	if (r >= 0)
		r = sd_event_add_io(k->loop, &k->ch_src, vd_sim_evtchn_fd(k->ch), EPOLLIN,
				    on_evtchn, k);
	if (r >= 0)
		r = publish(k);
	if (r < 0) {
		release(k);
		return r;
	}
	set_state(k, XenbusStateInitialised);
	return 0;
}

/* xenkbd_backend_changed */
static void on_be_change(struct vd_simkbd *k)
{
	char path[256];
	uint32_t bs;

	snprintf(path, sizeof(path), "%s/state", k->be_path);
	if (vd_xs_read_u32(k->hv, VD_XS_NO_TXN, path, &bs) < 0)
		return;
	switch (bs) {
	case XenbusStateInitWait:
		if (k->page && k->state != XenbusStateConnected)
			set_state(k, XenbusStateConnected);
		break;
	case XenbusStateConnected:
		if (k->page && k->state != XenbusStateConnected)
			set_state(k, XenbusStateConnected);
		break;
	case XenbusStateClosed:
		if (k->state == XenbusStateClosed)
			break;
		__attribute__((fallthrough)); /* missed the backend's Closing */
	case XenbusStateClosing:
		set_state(k, XenbusStateClosed); /* xenbus_frontend_closed */
		break;
	default:
		break;
	}
}

static int on_xs(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct vd_simkbd *k = userdata;
	char *path, *token;

	while (k->hv->impl->xs_read_watch(k->hv, &path, &token) >= 0) {
		free(path);
		free(token);
		on_be_change(k);
	}
	return 0;
}

/* ---- life ---- */

static int start(struct vd_simkbd *k, const char *name)
{
	char path[256];
	int r;

	if (!k->domid) {
		r = vd_sim_domain_create(k->sim, name, &k->domid);
		if (r < 0)
			return r;
		k->own_domain = true;
	}
	if (asprintf(&k->fe_path, "/local/domain/%u/device/vkbd/%u", k->domid, k->opts.devid) < 0 ||
	    asprintf(&k->be_path, "/local/domain/%u/backend/vinput/%u/%u", k->opts.be_domid,
		     k->domid, k->opts.devid) < 0)
		return -ENOMEM;
	r = vd_sim_connect_as(k->sim, k->domid, &k->hv);
	if (r >= 0)
		r = toolstack_add(k);
	if (r >= 0)
		r = probe(k);
	if (r >= 0)
		r = sd_event_add_io(k->loop, &k->xs_src, k->hv->impl->xs_watch_fd(k->hv), EPOLLIN,
				    on_xs, k);
	snprintf(path, sizeof(path), "%s/state", k->be_path);
	return r < 0 ? r : k->hv->impl->xs_watch(k->hv, path, "be");
}

int vd_simkbd_create(struct vd_hv *dom0, sd_event *loop, const char *name,
		     const struct vd_simkbd_opts *opts, struct vd_simkbd **ret_kbd)
{
	struct vd_simkbd *k = calloc(1, sizeof(*k));
	int r;

	if (!k)
		return -ENOMEM;
	k->sim = vd_sim_from_hv(dom0);
	k->dom0 = dom0;
	k->loop = loop;
	k->opts = *opts;
	k->domid = opts->domid;
	k->name = strdup(name);
	r = !k->sim ? -EOPNOTSUPP : !k->name ? -ENOMEM : 0;
	if (r >= 0)
		r = start(k, name);
	/* Borrowed, and used by the first probe only: a later probe is well-behaved. */
	k->opts.page_gref = k->opts.event_channel = NULL;
	if (r < 0) {
		vd_simkbd_destroy(k);
		return r;
	}
	*ret_kbd = k;
	return 0;
}

void vd_simkbd_destroy(struct vd_simkbd *k)
{
	if (!k)
		return;
	k->xs_src = sd_event_source_disable_unref(k->xs_src);
	release(k);
	if (k->own_domain)
		vd_sim_domain_destroy(k->sim, k->domid);
	if (k->domid && k->sim)
		toolstack_remove(k);
	vd_hv_destroy(k->hv);
	free(k->fe_path);
	free(k->be_path);
	free(k->name);
	free(k);
}

uint32_t vd_simkbd_domid(struct vd_simkbd *k)
{
	return k->domid;
}

void vd_simkbd_get_stats(struct vd_simkbd *k, struct vd_simkbd_stats *ret)
{
	*ret = k->stats;
	ret->state = k->state;
}

uint32_t vd_simkbd_events(struct vd_simkbd *k, const struct vd_simkbd_event **ret)
{
	*ret = k->log;
	return k->nlog;
}

void vd_simkbd_clear_events(struct vd_simkbd *k)
{
	k->nlog = 0;
}

void vd_simkbd_set_manual(struct vd_simkbd *k, bool manual)
{
	k->opts.manual_consume = manual;
}

uint32_t vd_simkbd_pending(struct vd_simkbd *k)
{
	return k->page ? k->page->in_prod - k->page->in_cons : 0;
}

int vd_simkbd_write_node(struct vd_simkbd *k, const char *node, const char *value)
{
	return node_write(k->hv, VD_XS_NO_TXN, k->fe_path, node, value);
}

struct xenkbd_page *vd_simkbd_page(struct vd_simkbd *k)
{
	return k->page;
}

int vd_simkbd_close(struct vd_simkbd *k)
{
	set_state(k, XenbusStateClosing);
	set_state(k, XenbusStateClosed);
	return 0;
}

/* xenkbd_remove, then xenkbd_probe of a reloaded driver. */
int vd_simkbd_reprobe(struct vd_simkbd *k)
{
	release(k);
	set_state(k, XenbusStateClosed);
	return probe(k);
}
