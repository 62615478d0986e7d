/* SPDX-License-Identifier: MIT */
#include "readiness.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

static void dir_path(struct vd_hv *hv, char *buf, size_t size)
{
	snprintf(buf, size, "/local/domain/%u/data/vdispld", hv->impl->own_domid(hv));
}

void vd_readiness_path(struct vd_hv *hv, char *buf, size_t size)
{
	char dir[64];

	dir_path(hv, dir, sizeof(dir));
	snprintf(buf, size, "%s/state", dir);
}

int vd_readiness_announce(struct vd_hv *hv)
{
	char path[80];
	int r;

	vd_readiness_path(hv, path, sizeof(path));
	r = hv->impl->xs_write(hv, VD_XS_NO_TXN, path, VD_READINESS_VALUE);
	if (r < 0) {
		vd_warn("cannot write %s: %s: a toolstack waiting for it will not see this "
			"backend ready",
			path, strerror(-r));
		return r;
	}
	vd_info("ready: %s = %s", path, VD_READINESS_VALUE);
	return 0;
}

void vd_readiness_withdraw(struct vd_hv *hv)
{
	char dir[64];
	int r;

	dir_path(hv, dir, sizeof(dir));
	r = hv->impl->xs_rm(hv, VD_XS_NO_TXN, dir);
	if (r < 0)
		vd_notice("cannot remove %s: %s", dir, strerror(-r));
}
