/* SPDX-License-Identifier: MIT */
/* Packets with fds over the simhost socket; shared by client and server. */
#ifndef VD_SIMHOST_WIRE_H
#define VD_SIMHOST_WIRE_H

#include <stddef.h>

#include "hv/simhost/simhost_proto.h"

/* Most fds a packet carries. */
#define VD_SH_FDS_MAX VD_SH_MAP_FDS_MAX

/*
 * Send one packet: hdr, then payload (may be NULL), with nfds fds
 * (borrowed). flags: MSG_DONTWAIT or 0. 0 or -errno.
 */
int vd_sh_send(int sock, const struct vd_sh_hdr *hdr, const void *payload, size_t len,
	       const int *fds, unsigned nfds, int flags);
/*
 * Receive one packet into buf (cap bytes, at least a header). The fds it
 * carried go to fds[0..*ret_nfds) (taken by the caller; close-on-exec);
 * extra fds beyond max_fds are closed. Returns the packet length, 0 at
 * EOF, -EBADMSG for a truncated or short packet, or -errno.
 */
long vd_sh_recv(int sock, void *buf, size_t cap, int *fds, unsigned max_fds, unsigned *ret_nfds,
		int flags);
void vd_sh_close_fds(int *fds, unsigned n);

#endif
