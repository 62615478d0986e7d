/* SPDX-License-Identifier: MIT */
/* Private to src/hv: the real Xen implementation of the hypervisor interface. */
#ifndef VD_HV_XEN_H
#define VD_HV_XEN_H

struct vd_hv;

/*
 * Connect to xenstore. Event channels and grant handles are opened later,
 * one per channel / per guest. Fails with -errno (typically -ENOENT or
 * -EACCES) on a host without Xen or without the rights to use it.
 */
int vd_hv_xen_create(struct vd_hv **ret_hv);

#endif
