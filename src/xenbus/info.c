/* SPDX-License-Identifier: MIT */
/* Read-only views of the backend's devices, for the control socket. */
#include <errno.h>
#include <string.h>

#include "xenbus/xenbus_priv.h"

static void conn_info(const struct vd_conn *conn, struct vd_conn_info *ret)
{
	*ret = (struct vd_conn_info){
		.idx = conn->idx,
		.width = conn->width,
		.height = conn->height,
		.unique_id = conn->unique_id,
		.mapping = conn->mapping,
		.oconn = conn->oconn,
		.flips = conn->flips,
		.flips_pending = conn->flips_pending,
	};
}

static void dev_info(const struct vd_dev *dev, struct vd_dev_info *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->domid = dev->xb.domid;
	ret->devid = dev->xb.devid;
	ret->name = dev->xb.name;
	ret->be_state = dev->xb.be_state;
	ret->fe_state = dev->xb.fe_state;
	ret->version = dev->version;
	ret->be_alloc = dev->be_alloc;
	ret->failed = dev->xb.failed;
	ret->await_reinit = dev->xb.await_reinit;
	ret->nconn = dev->nconn;
	for (uint32_t i = 0; i < dev->nconn; i++)
		conn_info(&dev->conns[i], &ret->conns[i]);
	if (dev->bufs) {
		ret->has_bufs = true;
		vd_bufs_get_stats(dev->bufs, &ret->bufs);
		ret->bufs_opts = dev->bufs_opts;
	}
}

void vd_backend_foreach_device(struct vd_backend *be, vd_dev_info_fn fn, void *userdata)
{
	struct vd_dev_info info;

	for (struct vd_xbdev *x = be->xbdir.devs; x; x = x->next) {
		dev_info(vd_dev_from_xbdev(x), &info);
		fn(userdata, &info);
	}
}

uint32_t vd_backend_list_gates(struct vd_backend *be, struct vd_gate_info *out, uint32_t max)
{
	return be->gates ? vd_gates_list(be->gates, out, max) : 0;
}

int vd_backend_guest_resources(struct vd_backend *be, uint32_t domid,
			       struct vd_res_use ret[VD_RES_COUNT])
{
	struct vd_account *a = vd_pool_find(be->pool, domid);

	if (!a)
		return -ENOENT;
	for (int r = 0; r < VD_RES_COUNT; r++)
		vd_account_get(a, r, &ret[r]);
	return 0;
}

void vd_backend_resources(struct vd_backend *be, struct vd_res_use ret[VD_RES_COUNT])
{
	for (int r = 0; r < VD_RES_COUNT; r++)
		vd_pool_get(be->pool, r, &ret[r]);
}
