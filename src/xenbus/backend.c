/* SPDX-License-Identifier: MIT */
/*
 * The vdispl devices: their configuration, connect and teardown. Discovery
 * and the xenbus state machine are xbdev.c's (PROTOCOL.md §1.3).
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xenbus.h>

#include "log.h"
#include "parse.h"
#include "xenbus/xenbus_priv.h"

/* ---- configuration read at connect ---- */

/*
 * The connector's size and unique-id are the toolstack's (libxl's
 * ro_front): the size of everything made for the connector follows from
 * them, so they count only where the guest cannot have written them
 * (vd_xbdev_read_setting). -ENOENT: no such connector.
 */
static int read_connector(struct vd_dev *dev, uint32_t i)
{
	struct vd_conn *conn = &dev->conns[i];
	char node[64], *val, tail;
	unsigned w, h;
	int r;

	snprintf(node, sizeof(node), "%u/" XENDISPL_FIELD_RESOLUTION, i);
	r = vd_xbdev_read_setting(&dev->xb, node, &val);
	if (r < 0)
		return r;
	r = sscanf(val, "%u" XENDISPL_RESOLUTION_SEPARATOR "%u%c", &w, &h, &tail);
	free(val);
	if (r != 2 || w == 0 || h == 0 || w > VD_MAX_DIM || h > VD_MAX_DIM)
		return -EINVAL;
	conn->idx = i;
	conn->width = w;
	conn->height = h;
	snprintf(node, sizeof(node), "%u/" XENDISPL_FIELD_UNIQUE_ID, i);
	r = vd_xbdev_read_setting(&dev->xb, node, &val);
	if (r == 0)
		conn->unique_id = val;
	return r == -ENOENT ? 0 : r;
}

static void forget_config(struct vd_dev *dev)
{
	for (uint32_t i = 0; i < VD_MAX_CONNECTORS; i++) {
		free(dev->conns[i].unique_id);
		dev->conns[i].unique_id = NULL;
	}
	dev->nconn = 0;
}

/* be-alloc is the toolstack's too; version is the frontend's to choose. */
static int read_config(struct vd_dev *dev)
{
	char path[256], *val;
	uint32_t v;
	int r;

	r = vd_xbdev_read_setting(&dev->xb, XENDISPL_FIELD_BE_ALLOC, &val);
	if (r < 0 && r != -ENOENT)
		return r;
	dev->be_alloc = r == 0 && vd_parse_u32(val, &v) == 0 && v == 1;
	if (r == 0)
		free(val);
	snprintf(path, sizeof(path), "%s/" XENDISPL_FIELD_FE_VERSION, dev->xb.fe_path);
	dev->version = (vd_xs_read_u32(dev->be->hv, VD_XS_NO_TXN, path, &v) == 0 && v == 1) ? 1
											      : 2;
	dev->nconn = 0;
	while (dev->nconn < VD_MAX_CONNECTORS && (r = read_connector(dev, dev->nconn)) == 0)
		dev->nconn++;
	if (r == -EPERM || dev->nconn == 0) {
		forget_config(dev);
		return r == -EPERM ? r : -ENODEV;
	}
	return 0;
}

/* ---- connect / teardown ---- */

void vd_backend_changed(struct vd_backend *be)
{
	vd_notify(&be->changed);
}

void vd_backend_on_change(struct vd_backend *be, void (*fn)(void *userdata), void *userdata)
{
	vd_notify_set(&be->changed, fn, userdata);
}

static void teardown(struct vd_dev *dev)
{
	bool had_conns = dev->nconn != 0;

	for (uint32_t i = 0; i < VD_MAX_CONNECTORS; i++) {
		vd_conn_disconnect(&dev->conns[i]);
		free(dev->conns[i].unique_id);
		memset(&dev->conns[i], 0, sizeof(dev->conns[i]));
	}
	vd_bufs_destroy(dev->bufs);
	dev->bufs = NULL;
	dev->nconn = 0;
	if (had_conns)
		vd_backend_changed(dev->be);
}

/* The guest's settings as of now: a reloaded configuration applies at the next connect. */
static void apply_settings(struct vd_dev *dev)
{
	struct vd_backend *be = dev->be;
	struct vd_guest_settings gs = {.bufs = be->opts.bufs};

	if (be->opts.guest_lookup)
		be->opts.guest_lookup(be->opts.guest_lookup_userdata, dev->xb.domid, dev->xb.name, &gs);
	gs.bufs.be_alloc = dev->be_alloc;
	dev->bufs_opts = gs.bufs;
	for (uint32_t i = 0; i < VD_MAX_CONNECTORS; i++)
		snprintf(dev->conns[i].mapping, sizeof(dev->conns[i].mapping), "%s", gs.mapping[i]);
}

static int connect_dev(struct vd_dev *dev)
{
	struct vd_backend *be = dev->be;
	int r;

	r = read_config(dev);
	if (r == -ENODEV)
		vd_log_rl_dom(dev->xb.domid, LOG_WARNING, "dom%u: vdispl %u has no valid connector",
			      dev->xb.domid, dev->xb.devid);
	if (r < 0)
		return r;
	apply_settings(dev);
	r = vd_bufs_create(be->hv, dev->xb.domid, be->out, be->gates, be->pool, &dev->bufs_opts,
			   &dev->bufs);
	for (uint32_t i = 0; r >= 0 && i < dev->nconn; i++)
		r = vd_conn_connect(dev, &dev->conns[i]);
	if (r < 0) {
		teardown(dev);
		return r;
	}
	vd_log_dom(dev->xb.domid, LOG_INFO,
		   "%s (dom%u) vdispl %u connected: %u connector(s), %ux%u, protocol v%d%s",
		   dev->xb.name, dev->xb.domid, dev->xb.devid, dev->nconn, dev->conns[0].width,
		   dev->conns[0].height, dev->version, dev->be_alloc ? ", be-alloc" : "");
	vd_backend_changed(be);
	return 0;
}

/* ---- the xenbus device ---- */

static const struct vd_xbdev_ops dev_xbdev_ops;

struct vd_dev *vd_dev_from_xbdev(struct vd_xbdev *xb)
{
	assert(xb->dir->ops == &dev_xbdev_ops);
	return (struct vd_dev *)xb;
}

static struct vd_dev *dev_of(struct vd_xbdev *xb)
{
	return vd_dev_from_xbdev(xb);
}

static struct vd_backend *backend_of(struct vd_xbdir *dir)
{
	assert(dir->ops == &dev_xbdev_ops);
	return (struct vd_backend *)((char *)dir - offsetof(struct vd_backend, xbdir));
}

static int xb_create(struct vd_xbdir *dir, struct vd_xbdev **ret)
{
	struct vd_dev *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return -ENOMEM;
	dev->be = backend_of(dir);
	*ret = &dev->xb;
	return 0;
}

static void xb_start(struct vd_xbdev *xb)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/" XENDISPL_FIELD_BE_VERSIONS, xb->be_path);
	vd_xs_printf(xb->dir->hv, VD_XS_NO_TXN, path, "1,2");
}

static int xb_connect(struct vd_xbdev *xb)
{
	return connect_dev(dev_of(xb));
}

static void xb_teardown(struct vd_xbdev *xb)
{
	teardown(dev_of(xb));
}

static void xb_destroy(struct vd_xbdev *xb)
{
	free(dev_of(xb));
}

static const struct vd_xbdev_ops dev_xbdev_ops = {
	.be_kind = XENDISPL_DRIVER_NAME,
	.fe_kind = XENDISPL_DRIVER_NAME,
	.label = "vdispl",
	.token = "fe",
	.create = xb_create,
	.start = xb_start,
	.connect = xb_connect,
	.teardown = xb_teardown,
	.destroy = xb_destroy,
};

int vd_backend_create(sd_event *loop, struct vd_hv *hv, struct vd_output *out,
		      const struct vd_backend_opts *opts, struct vd_backend **ret_be)
{
	struct vd_backend *be = calloc(1, sizeof(*be));
	int r;

	if (!be)
		return -ENOMEM;
	be->loop = loop;
	be->hv = hv;
	be->out = out;
	be->opts = *opts;
	r = vd_bufs_pool_create(&opts->limits, &be->pool);
	if (r >= 0)
		r = vd_gates_create(loop, &be->gates);
	if (r >= 0)
		r = vd_xbdir_init(&be->xbdir, loop, hv, &dev_xbdev_ops);
	if (r < 0) {
		vd_backend_destroy(be);
		return r;
	}
	*ret_be = be;
	return 0;
}

void vd_backend_destroy(struct vd_backend *be)
{
	if (!be)
		return;
	vd_xbdir_finish(&be->xbdir);
	vd_gates_destroy(be->gates);
	vd_pool_destroy(be->pool);
	free(be);
}

void vd_backend_get_stats(struct vd_backend *be, struct vd_backend_stats *ret)
{
	*ret = be->stats;
	ret->devices = be->xbdir.ndevices;
	ret->protocol_errors = be->xbdir.protocol_errors;
	if (be->gates)
		vd_gates_get_stats(be->gates, &ret->gates);
	ret->connected = ret->zero_copy = ret->copy_only = 0;
	for (struct vd_xbdev *x = be->xbdir.devs; x; x = x->next) {
		struct vd_dev *d = dev_of(x);
		struct vd_bufs_stats bs;

		ret->connected += x->be_state == XenbusStateConnected;
		if (!d->bufs)
			continue;
		vd_bufs_get_stats(d->bufs, &bs);
		ret->zero_copy += bs.zc == VD_ZC_ON;
		ret->copy_only += bs.zc == VD_ZC_OFF;
	}
}
