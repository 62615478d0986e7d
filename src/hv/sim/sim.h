/* SPDX-License-Identifier: MIT */
/*
 * The simulated Xen: domains, grant tables over shared memory, event
 * channels as eventfds, an in-memory xenstore with watches and
 * transactions, domain destruction. Single-threaded: everything runs on
 * the caller's event loop.
 *
 * vd_hv_create("sim") makes a machine with Domain-0 (domid 0) and returns
 * Domain-0's connection. Simulated guests use the guest-side calls below
 * and a connection of their own (vd_sim_connect_as) for xenstore.
 */
#ifndef VD_SIM_H
#define VD_SIM_H

#include "hv/hv.h"

struct vd_sim;

/* The machine behind a sim connection; NULL if hv is not a sim. Borrowed. */
struct vd_sim *vd_sim_from_hv(struct vd_hv *hv);

/*
 * A further xenstore/evtchn/grant connection acting as domid (its own
 * watches and watch fd). Destroy with vd_hv_destroy. The grant ops of such
 * a connection map grants other domains gave to domid (be-alloc).
 */
int vd_sim_connect_as(struct vd_sim *sim, uint32_t domid, struct vd_hv **ret_hv);

/*
 * Set a node's permissions (xs_set_permissions) through a sim connection,
 * as the toolstack does: only the owner or domain 0 may, and only domain 0
 * may name another owner (-EPERM). The daemon never sets permissions; the
 * simulated toolstack (simfront, simkbd) sets those libxl sets.
 */
int vd_sim_xs_set_perms(struct vd_hv *hv, vd_xs_txn t, const char *path,
			const struct vd_xs_perm *perms, unsigned nperms);

/*
 * Create a guest domain: /local/domain/<id> with {name,domid,device} read
 * only for the guest and data/ its own, as libxl__domain_make sets them.
 * Domain ids start at 1.
 */
int vd_sim_domain_create(struct vd_sim *sim, const char *name, uint32_t *ret_domid);
/*
 * The domain dies at once, as a crashed or destroyed guest does: its ports
 * close (peers see no more events and notify fails with -ENOTCONN), its
 * grant table is gone (new maps fail) but pages other domains still map
 * stay alive until they unmap (Xen keeps a dying domain's mapped pages),
 * /local/domain/<id> is removed and @releaseDomain fires.
 */
int vd_sim_domain_destroy(struct vd_sim *sim, uint32_t domid);

/*
 * Guest memory: count fresh zeroed pages of domid, mapped contiguously at
 * *ret_addr in the guest's view. The guest frame numbers (pfns[i]) are
 * deliberately not consecutive, like a real guest's scattered pages.
 */
int vd_sim_mem_alloc(struct vd_sim *sim, uint32_t domid, uint32_t count, void **ret_addr,
		     uint32_t *pfns);
int vd_sim_mem_free(struct vd_sim *sim, uint32_t domid, void *addr, uint32_t count);

/*
 * Grant access to one guest page (pfn) to to_domid. ref 0 is never handed
 * out. vd_sim_grant_end fails with -EBUSY while the page is still mapped
 * by another domain (Linux would defer and leak it); the grant is ended
 * anyway and counted in stats.deferred_ends.
 */
int vd_sim_grant(struct vd_sim *sim, uint32_t domid, uint32_t to_domid, uint32_t pfn,
		 bool readonly, uint32_t *ret_ref);
int vd_sim_grant_end(struct vd_sim *sim, uint32_t domid, uint32_t ref);

/*
 * Event channel, guest side: allocate an unbound port that remote_domid
 * may bind to. The returned channel works with the vd_hv_impl evtchn ops
 * of any connection (fd/ack/notify); close it with vd_sim_evtchn_close.
 */
int vd_sim_evtchn_alloc_unbound(struct vd_sim *sim, uint32_t domid, uint32_t remote_domid,
				uint32_t *ret_port, struct vd_evtchn **ret_ch);
void vd_sim_evtchn_close(struct vd_sim *sim, struct vd_evtchn *ch);
int vd_sim_evtchn_fd(struct vd_evtchn *ch);
int vd_sim_evtchn_ack(struct vd_evtchn *ch);
int vd_sim_evtchn_notify(struct vd_evtchn *ch);

/*
 * Make every dma-buf export fail with err (< 0), as where zero-copy cannot
 * work: -EINVAL in an x86 PV backend domain, -EOPNOTSUPP (ENOTTY) with a
 * kernel without CONFIG_XEN_GNTDEV_DMABUF. 0 allows exports again.
 */
int vd_sim_refuse_dmabuf_export(struct vd_sim *sim, int err);

/*
 * Xen keeps a maptrack per domain: one entry per grant page it maps (a
 * gntdev mapping, a dma-buf export), shared by every backend in that
 * domain; once it is full every further map of that domain fails. The
 * sim's default is Xen's for a domain (gnttab_max_maptrack_frames = 1024
 * frames of 256 entries); a map or an export past it fails -ENOSPC.
 */
#define VD_SIM_MAPTRACK_DEFAULT (1024u * 256u)
int vd_sim_set_maptrack(struct vd_sim *sim, uint32_t domid, uint64_t entries);

struct vd_sim_stats {
	uint64_t grants_active;    /* grants of this domain not ended */
	uint64_t pages_mapped;     /* this domain's pages mapped by other domains now */
	uint64_t maps_total;       /* map operations on this domain's grants, ever */
	uint64_t map_pages_total;  /* pages of those (an export's pages too), ever: the work done */
	uint64_t deferred_ends;    /* grant ends while still mapped (a leak in Linux) */
	uint64_t ports_open;       /* event channel ports of this domain */
	uint64_t notifications_in; /* notifications delivered to this domain's ports */
	uint64_t dmabufs_exported; /* dma-bufs of this domain's pages alive (not released) */
	uint64_t imports_granted;  /* refs this domain grants via dmabuf_imp_to_refs now */
	/* Pages of other domains this domain maps now (maps and exports): its maptrack entries. */
	uint64_t maptrack_used;
};
/*
 * Works for a destroyed domain too (its zombie pages). The gntdev dma-buf
 * ops (PROTOCOL.md §4) are modelled: an exported dma-buf is the write end
 * of a pipe (no CPU mapping, as the real exporter has none), released once
 * every copy of it is closed; its pages count in pages_mapped (and once in
 * maps_total) until then. Imported buffers (an mmap-able file, e.g. a
 * memfd) are granted page by page and count in grants_active.
 */
int vd_sim_domain_stats(struct vd_sim *sim, uint32_t domid, struct vd_sim_stats *ret);

#endif
