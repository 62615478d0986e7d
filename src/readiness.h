/* SPDX-License-Identifier: MIT */
/*
 * The readiness node: what a toolstack in another domain can wait for
 * before it creates guests whose backend is this daemon (a display
 * domain), as systemd waits for READY=1 on this domain's side.
 *
 * ~/data/vdispld/state = "running" in the backend domain's xenstore home
 * (/local/domain/<own domid>/data/vdispld/state), written once every
 * backend watches its directory, removed at a clean stop (a crash leaves
 * it: a restart writes it again). data/ is the one place libxl lets every
 * domain write for the toolstack to read (Xen's xenstore-paths.pandoc:
 * "~/data/ [w]: available for arbitrary domain use"); the value follows
 * the node libxl itself waits for, QEMU's ~/device-model/<domid>/state =
 * "running".
 */
#ifndef VD_READINESS_H
#define VD_READINESS_H

#include <stddef.h>

#include "hv/hv.h"

#define VD_READINESS_VALUE "running"

/* The node's path for this connection's domain into buf. */
void vd_readiness_path(struct vd_hv *hv, char *buf, size_t size);
/* Write the node; -errno if xenstore refused (logged: the toolstack will not see us ready). */
int vd_readiness_announce(struct vd_hv *hv);
/* Remove data/vdispld (absent is fine). */
void vd_readiness_withdraw(struct vd_hv *hv);

#endif
