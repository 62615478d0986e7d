/* SPDX-License-Identifier: MIT */
/*
 * The wire protocol between vdispl-simhost (a simulated Xen in a process
 * of its own) and its clients (the "simhost" hypervisor of vdispld).
 *
 * Transport: a SOCK_SEQPACKET Unix socket, one message per request and one
 * per response, in order; fds travel as SCM_RIGHTS. A message is a header
 * followed by an op-specific payload (the rest of the packet). Watch events
 * do not use this socket: HELLO hands the client the end of a second
 * SEQPACKET pair on which the simhost pushes them, so the client's watch fd
 * is that socket and polls readable exactly while events are pending.
 *
 * Ops (a..d: header fields; "->": the response; every response carries ret,
 * 0 or -errno):
 *   HELLO                                 -> a = own domid, fd: the watch socket
 *   DOMAIN_ALIVE a=domid                  -> ret 1/0
 *   XS_READ a=txn, "path"                 -> value bytes (no NUL)
 *   XS_WRITE a=txn, "path\0value"
 *   XS_RM a=txn, "path"
 *   XS_DIRECTORY a=txn, "path"            -> a = n, "name\0name\0..."
 *   XS_GET_PERMS a=txn, "path"            -> a = n, n x (u32 domid, u32 perms)
 *   XS_TXN_START                          -> a = txn
 *   XS_TXN_END a=txn b=abort
 *   XS_WATCH / XS_UNWATCH "path\0token"
 *   EVTCHN_BIND a=domid b=remote port     -> a = channel id, fd: its eventfd
 *   EVTCHN_UNBIND a=channel               (no fd: the client closes its copy)
 *   EVTCHN_NOTIFY a=channel
 *   GNT_OPEN                              -> a = handle id
 *   GNT_CLOSE a=handle
 *   GNT_MAP a=handle b=domid c=count d=writable, refs[count]
 *                                         -> a = map key, b = nfds, fds: the files,
 *                                            pfns[count] (u32), fd index[count] (u8)
 *   GNT_UNMAP a=handle b=map key c=count
 *   EXP_FROM_REFS a=handle b=domid c=count, refs[count]
 *                                         -> a = the simhost's number of the fd, fd
 *   EXP_REKEY a=handle b=old number c=the client's number
 *   EXP_WAIT a=handle b=fd c=timeout ms
 *   IMP_TO_REFS a=handle b=domid c=the client's fd number d=count, fd
 *                                         -> refs[count]
 *   IMP_RELEASE a=handle b=fd
 *   STATUS a=argument                     -> text (the simhost's status report)
 *
 * Watch socket: one packet per event, "path\0token".
 */
#ifndef VD_SIMHOST_PROTO_H
#define VD_SIMHOST_PROTO_H

#include <stdint.h>

enum vd_sh_op {
	VD_SH_HELLO = 1,
	VD_SH_DOMAIN_ALIVE,
	VD_SH_XS_READ,
	VD_SH_XS_WRITE,
	VD_SH_XS_RM,
	VD_SH_XS_DIRECTORY,
	VD_SH_XS_TXN_START,
	VD_SH_XS_TXN_END,
	VD_SH_XS_WATCH,
	VD_SH_XS_UNWATCH,
	VD_SH_EVTCHN_BIND,
	VD_SH_EVTCHN_UNBIND,
	VD_SH_EVTCHN_NOTIFY,
	VD_SH_GNT_OPEN,
	VD_SH_GNT_CLOSE,
	VD_SH_GNT_MAP,
	VD_SH_GNT_UNMAP,
	VD_SH_EXP_FROM_REFS,
	VD_SH_EXP_REKEY,
	VD_SH_EXP_WAIT,
	VD_SH_IMP_TO_REFS,
	VD_SH_IMP_RELEASE,
	VD_SH_STATUS,
	VD_SH_XS_GET_PERMS,
};

struct vd_sh_hdr {
	uint32_t op;
	int32_t ret;
	uint64_t a, b, c, d;
};

/* Largest packet either way; fits the default Unix socket buffer. */
#define VD_SH_MSG_MAX (160u * 1024u)
#define VD_SH_PAYLOAD_MAX (VD_SH_MSG_MAX - sizeof(struct vd_sh_hdr))
/* Pages per GNT_MAP (the response has 5 bytes per page): 96 MiB. */
#define VD_SH_MAP_MAX 24576u
/* Distinct files behind one mapping (SCM_MAX_FD is 253). */
#define VD_SH_MAP_FDS_MAX 64u

#endif
