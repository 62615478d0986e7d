/* SPDX-License-Identifier: MIT */
/*
 * The hypervisor interface: the only way the daemon talks to Xen.
 * Implementations: "xen" (libxenstore, libxenevtchn, libxengnttab), "sim"
 * (an in-process simulated Xen) and "simhost" (the simulated Xen of a
 * vdispl-simhost process, over its socket: hv/simhost/simhost.h). Code
 * above this interface cannot tell them apart.
 *
 * Conventions: functions return 0 (or a positive count) on success and
 * -errno on failure. ret_ out-parameters are written only on success.
 * Strings returned through ret_ pointers are heap-allocated and owned by
 * the caller (free()).
 */
#ifndef VD_HV_H
#define VD_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vd_hv;
struct vd_evtchn;
struct vd_gnt;

/* A xenstore transaction id; VD_XS_NO_TXN outside a transaction. */
typedef uint32_t vd_xs_txn;
#define VD_XS_NO_TXN 0u

/*
 * One entry of a xenstore node's permissions (xenstored's xs_permissions).
 * Entry 0 names the owner, who may do anything, and in perms what a domain
 * that no other entry names may do; each further entry what the domain it
 * names may do (the first one naming it counts). Domain 0 may do anything
 * everywhere. docs/misc/xenstore.txt of Xen; docs/architecture.md "Trust
 * boundary" for what vdispld makes of them.
 */
#define VD_XS_PERM_NONE 0u
#define VD_XS_PERM_READ 1u
#define VD_XS_PERM_WRITE 2u
struct vd_xs_perm {
	uint32_t domid;
	uint32_t perms; /* VD_XS_PERM_READ | VD_XS_PERM_WRITE */
};

struct vd_hv_impl {
	const char *name;
	/*
	 * File descriptors of this process one dma-buf export (one import)
	 * holds besides the fd the caller gets (the in-process sim keeps one
	 * each): counted against the fd caps.
	 */
	uint8_t export_extra_fds, import_extra_fds;
	void (*destroy)(struct vd_hv *hv);

	/* The domain this backend runs in. */
	uint32_t (*own_domid)(struct vd_hv *hv);
	/*
	 * 1 if the domain exists and is not dying, 0 if gone, -errno on error.
	 * Where the backend may not ask (a driver domain on Xen), always 1:
	 * the toolstack's removal of a device's directories ends it instead.
	 */
	int (*domain_alive)(struct vd_hv *hv, uint32_t domid);

	/* ---- xenstore ---- */
	/* -ENOENT if absent. The value is NUL-terminated; *ret_len excludes the NUL. */
	int (*xs_read)(struct vd_hv *hv, vd_xs_txn t, const char *path, char **ret_value,
		       size_t *ret_len);
	int (*xs_write)(struct vd_hv *hv, vd_xs_txn t, const char *path, const char *value);
	/* Removes the node and its children; absent is not an error. */
	int (*xs_rm)(struct vd_hv *hv, vd_xs_txn t, const char *path);
	/* Child names of path: an array of *ret_n strings, free with vd_hv_free_list. */
	int (*xs_directory)(struct vd_hv *hv, vd_xs_txn t, const char *path, char ***ret_list,
			    unsigned *ret_n);
	/* The node's permissions (GET_PERMS): *ret_n >= 1 entries, free(). -ENOENT if absent. */
	int (*xs_get_perms)(struct vd_hv *hv, vd_xs_txn t, const char *path,
			    struct vd_xs_perm **ret_perms, unsigned *ret_n);
	int (*xs_txn_start)(struct vd_hv *hv, vd_xs_txn *ret_t);
	/* Commit (abort = false) or abort. -EAGAIN: conflict, retry the transaction. */
	int (*xs_txn_end)(struct vd_hv *hv, vd_xs_txn t, bool abort);
	/*
	 * Watches fire once when registered and then on every change of the
	 * path or below it (Xen semantics). "@releaseDomain" fires when a
	 * domain dies.
	 */
	int (*xs_watch)(struct vd_hv *hv, const char *path, const char *token);
	int (*xs_unwatch)(struct vd_hv *hv, const char *path, const char *token);
	/* Pollable: readable while watch events are pending. */
	int (*xs_watch_fd)(struct vd_hv *hv);
	/* Next pending watch event; -EAGAIN when there is none. */
	int (*xs_read_watch)(struct vd_hv *hv, char **ret_path, char **ret_token);

	/* ---- event channels ---- */
	int (*evtchn_bind)(struct vd_hv *hv, uint32_t domid, uint32_t remote_port,
			   struct vd_evtchn **ret_ch);
	/* Takes ch (NULL is a no-op). */
	void (*evtchn_unbind)(struct vd_hv *hv, struct vd_evtchn *ch);
	/* Pollable fd, readable while the channel has a pending event. Borrowed. */
	int (*evtchn_fd)(struct vd_evtchn *ch);
	/* Consume the pending event and unmask: call after the fd polls readable. */
	int (*evtchn_ack)(struct vd_evtchn *ch);
	int (*evtchn_notify)(struct vd_evtchn *ch);

	/* ---- grants (one handle per guest) ---- */
	int (*gnt_open)(struct vd_hv *hv, struct vd_gnt **ret_gnt);
	/*
	 * Takes gnt (NULL is a no-op). Unmaps nothing (unmap first); releases
	 * the handle's dma-buf imports; exported dma-bufs outlive it until
	 * their last reference goes.
	 */
	void (*gnt_close)(struct vd_gnt *gnt);
	/*
	 * Map count grant refs of domid into one contiguous, page-aligned range.
	 * -EINVAL / -ENOENT / -EACCES when a ref is bad; nothing stays mapped
	 * on failure.
	 */
	int (*gnt_map)(struct vd_gnt *gnt, uint32_t domid, uint32_t count, const uint32_t *refs,
		       bool writable, void **ret_addr);
	int (*gnt_unmap)(struct vd_gnt *gnt, void *addr, uint32_t count);

	/*
	 * ---- gntdev dma-buf (zero-copy; -EOPNOTSUPP where unavailable) ----
	 * Semantics of xengnttab_dmabuf_*: see PROTOCOL.md §4.
	 */
	int (*dmabuf_exp_from_refs)(struct vd_gnt *gnt, uint32_t domid, uint32_t count,
				    const uint32_t *refs, int *ret_fd);
	/* 0: released; -ETIMEDOUT: still referenced. */
	int (*dmabuf_exp_wait_released)(struct vd_gnt *gnt, int fd, uint32_t timeout_ms);
	int (*dmabuf_imp_to_refs)(struct vd_gnt *gnt, uint32_t domid, int fd, uint32_t count,
				  uint32_t *refs);
	int (*dmabuf_imp_release)(struct vd_gnt *gnt, int fd);
};

struct vd_hv {
	const struct vd_hv_impl *impl;
};

/* Create by name ("xen", "sim" or "simhost"). -ENOENT for an unknown name. */
int vd_hv_create(const char *name, struct vd_hv **ret_hv);
void vd_hv_destroy(struct vd_hv *hv);
void vd_hv_free_list(char **list, unsigned n);

/*
 * Whether domid (not domain 0) may write, create below or remove a node
 * with these permissions, as xenstored decides. An entry naming a
 * reserved domid (0x7ff0 and above: newer xenstoreds have a wildcard
 * there) is taken to name every domain.
 */
bool vd_xs_perms_writable_by(const struct vd_xs_perm *perms, unsigned n, uint32_t domid);

/* Convenience wrappers over the ops. */
int vd_xs_read_u32(struct vd_hv *hv, vd_xs_txn t, const char *path, uint32_t *ret);
int vd_xs_printf(struct vd_hv *hv, vd_xs_txn t, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
