/* SPDX-License-Identifier: MIT */
/*
 * Private structures of the simulated Xen. See sim.h for the public side.
 *
 * Lifetime: the machine (struct vd_sim) is reference counted. Every
 * connection (vd_hv), every grant handle (vd_gnt) and every event channel
 * end (vd_evtchn) holds one reference; the machine, with its xenstore,
 * domains and guest memory, is freed when the last of them goes. So
 * handles may be destroyed in any order, and a handle leaked by a test
 * shows up as a leak of the whole machine under LSan.
 *
 * An exported dma-buf keeps the machine too (the real one holds the gntdev
 * file), without a reference: the machine cannot learn when the exporter's
 * fds close, so released exports are reaped (vd_sim_exports_reap) at the
 * entry points whose result depends on what is mapped, and at teardown.
 * A machine whose last handle went while exports were alive waits on a
 * static orphan list (so it is reachable, not leaked) and is freed by a
 * later reap: at the next vd_hv_create("sim") or at exit.
 *
 * Domains are never freed before the machine: a destroyed domain stays as
 * a zombie record (for stats, and for the bookkeeping of pages other
 * domains still map). Its memfd and grant table are released once it is
 * dead and no page of it is mapped any more.
 */
#ifndef VD_SIM_PRIV_H
#define VD_SIM_PRIV_H

#include "hv/sim/sim.h"

#include <stddef.h>
#include <stdint.h>

#define VD_SIM_PAGE_SIZE 4096u
/* Xen's DOMID_FIRST_RESERVED: domids at or above are special. */
#define VD_SIM_DOMID_MAX 0x7ff0u
#define VD_SIM_WATCH_QUEUE_MAX 65536u
#define VD_SIM_TXN_MAX 64u
#define VD_SIM_TXN_OPS_MAX 65536u
#define VD_SIM_XS_PATH_MAX 3072u
#define VD_SIM_XS_VALUE_MAX 4096u
#define VD_SIM_XS_TOKEN_MAX 1024u
/* Entries of one node's permissions (xenstored's default quota is 5). */
#define VD_SIM_XS_PERMS_MAX 16u
/* Per domain: 2^24 frames = 64 GiB of (sparse) guest memory. */
#define VD_SIM_FRAMES_MAX (1u << 24)
#define VD_SIM_GRANTS_MAX (1u << 20)
#define VD_SIM_MAP_MAX (1u << 20)

#define vd_sim_container_of(ptr, type, member)                                                     \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* A circular doubly linked list with a sentinel head, as wl_list. */
struct vd_sim_list {
	struct vd_sim_list *prev, *next;
};

static inline void vd_sim_list_init(struct vd_sim_list *l)
{
	l->prev = l->next = l;
}

static inline int vd_sim_list_empty(const struct vd_sim_list *l)
{
	return l->next == l;
}

/* Append e at the tail of list l; vd_sim_list_add(l->next, e) prepends. */
static inline void vd_sim_list_add(struct vd_sim_list *l, struct vd_sim_list *e)
{
	e->prev = l->prev;
	e->next = l;
	l->prev->next = e;
	l->prev = e;
}

static inline void vd_sim_list_del(struct vd_sim_list *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->prev = e->next = e;
}

/* Iterate; the current element may be removed (next is fetched first). */
#define vd_sim_list_each(pos, tmp, head)                                                           \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);                           \
	     (pos) = (tmp), (tmp) = (pos)->next)

/* ---- xenstore ---- */

/*
 * Permissions as xenstored keeps them (hv.h struct vd_xs_perm): a new node
 * takes its parent's, and a node an unprivileged domain creates is owned
 * by that domain. Domain 0 is the only privileged domain here.
 */
struct vd_sim_node {
	char *name;
	char *value;
	size_t len;
	struct vd_xs_perm *perms; /* nperms >= 1 */
	unsigned nperms;
	/* Store generation of the last change of the value or the child set. */
	uint64_t gen;
	struct vd_sim_node *parent;
	struct vd_sim_list children;
	struct vd_sim_list link; /* in parent->children */
};

struct vd_sim_xs {
	struct vd_sim_node *root;
	uint64_t gen;
	vd_xs_txn next_txn;
};

/* ---- domains ---- */

/*
 * A local buffer granted through dmabuf_imp_to_refs: a dup of the
 * importer's fd. Held by the import and by every grant entry backed by it
 * until the entry is freed (an ended entry may still be mapped).
 */
struct vd_sim_backing {
	unsigned refs;
	int fd;
};

/* One grant table entry; ref is the index. */
enum vd_sim_grant_state { VD_SIM_GNT_FREE, VD_SIM_GNT_ACTIVE, VD_SIM_GNT_ENDED };

struct vd_sim_grant {
	uint32_t to_domid;
	uint32_t pfn;		    /* frame of the domain, or page of ext */
	struct vd_sim_backing *ext; /* NULL: the domain's own memory; holds a reference */
	uint32_t map_count;
	uint32_t next_free; /* FIFO of free refs, while FREE */
	uint8_t state;
	bool readonly;
};

struct vd_sim_domain {
	uint32_t domid;
	bool dead;
	int memfd;		  /* -1 once released */
	uint32_t nframes;	  /* frames ever allocated; the memfd is this long */
	struct vd_sim_list views; /* struct vd_sim_view: guest's own mappings */
	struct vd_sim_grant *grants;
	uint32_t grant_cap, next_ref;
	uint32_t free_head, free_tail, nfree; /* FIFO of ended refs */
	uint32_t next_port;
	struct vd_sim_list ports; /* struct vd_sim_port, open ports */
	uint64_t maptrack_max;    /* stats.maptrack_used may not go above */
	struct vd_sim_stats stats;
};

/* ---- handles ---- */

struct vd_sim {
	unsigned refs;
	struct vd_sim_domain **doms; /* indexed by domid, never reused */
	uint32_t ndoms, doms_cap;
	struct vd_sim_xs xs;
	struct vd_sim_list conns;   /* struct vd_sim_conn */
	struct vd_sim_list exports; /* struct vd_sim_export, alive, newest first */
	int exports_ep;             /* epoll of the exports' hang-up ends: the released */
	struct vd_sim_list orphan;  /* in the orphan list while refs == 0 */
	int export_refusal;         /* 0, or what every dma-buf export answers */
};

struct vd_sim_conn {
	struct vd_hv base;
	struct vd_sim *sim;
	uint32_t domid;
	struct vd_sim_list link; /* in sim->conns */
	int efd;		 /* eventfd, readable while events is non-empty */
	struct vd_sim_list watches;
	struct vd_sim_list events;
	uint32_t nevents;
	struct vd_sim_list txns;
};

/*
 * An event channel end (the sim's struct vd_evtchn). Unbound while peer is
 * NULL; closed (its domain died) while dom is NULL.
 */
struct vd_sim_port {
	struct vd_sim *sim;
	struct vd_sim_domain *dom;
	struct vd_sim_list link; /* in dom->ports */
	uint32_t port;
	uint32_t remote_domid;
	struct vd_sim_port *peer;
	int efd;
};

/*
 * A grant handle (the sim's struct vd_gnt), acting as domid. Its exports
 * are those of sim->exports whose owner it is.
 */
struct vd_sim_gnt {
	struct vd_sim *sim;
	uint32_t domid;
	struct vd_sim_list maps;    /* struct vd_sim_map */
	struct vd_sim_list imports; /* struct vd_sim_import, newest first */
};

static inline struct vd_sim_gnt *vd_sim_gnt_from(struct vd_gnt *gnt)
{
	return (struct vd_sim_gnt *)(void *)gnt;
}

/* sim.c */
void vd_sim_ref(struct vd_sim *sim);
void vd_sim_unref(struct vd_sim *sim);
/* The domain record, dead or alive; NULL if domid never existed. */
struct vd_sim_domain *vd_sim_domain_get(struct vd_sim *sim, uint32_t domid);
/* The domain if it exists and is alive, else NULL. */
struct vd_sim_domain *vd_sim_domain_live(struct vd_sim *sim, uint32_t domid);
struct vd_sim_conn *vd_sim_conn_from_hv(struct vd_hv *hv);

/* sim_xs_tree.c: the node tree, no watches, no transactions. */
int vd_sim_xs_path_check(const char *path);
struct vd_sim_node *vd_sim_node_new(const char *name, size_t name_len);
void vd_sim_node_free(struct vd_sim_node *n);
struct vd_sim_node *vd_sim_node_lookup(struct vd_sim_node *root, const char *path);
/* The node at path or its deepest existing ancestor. */
struct vd_sim_node *vd_sim_node_lookup_closest(struct vd_sim_node *root, const char *path);
/* creator: the writing domain, which owns the nodes it creates unless it is domain 0. */
int vd_sim_node_write(struct vd_sim_node *root, const char *path, const char *value, uint64_t gen,
		      uint32_t creator);
int vd_sim_node_set_perms(struct vd_sim_node *n, const struct vd_xs_perm *perms, unsigned nperms,
			  uint64_t gen);
/* VD_XS_PERM_* that domid has on n (xenstored's perm_for_conn). */
uint32_t vd_sim_node_access(const struct vd_sim_node *n, uint32_t domid);
/* Removes path and its subtree; nothing if absent. gen goes to the parent. */
void vd_sim_node_rm(struct vd_sim_node *root, const char *path, uint64_t gen);
int vd_sim_node_clone(struct vd_sim_node *n, struct vd_sim_node **ret);
int vd_sim_node_read(struct vd_sim_node *root, const char *path, char **ret_value, size_t *ret_len);
int vd_sim_node_directory(struct vd_sim_node *root, const char *path, char ***ret_list,
			  unsigned *ret_n);

/* sim_xs.c: the xenstore ops of a connection. */
int vd_sim_xs_init(struct vd_sim_xs *xs);
/* Absolute, checked path (relative: under /local/domain/<domid>); caller frees. */
int vd_sim_xs_resolve(struct vd_sim_conn *c, const char *path, char **ret_abs);
void vd_sim_xs_finish(struct vd_sim_xs *xs);
/* A store change not made through a connection (domain create/destroy). */
int vd_sim_xs_write_internal(struct vd_sim *sim, const char *path, const char *value);
void vd_sim_xs_rm_internal(struct vd_sim *sim, const char *path);
/* Queue an event to every watch on a special path such as "@releaseDomain". */
void vd_sim_xs_fire_special(struct vd_sim *sim, const char *path);
void vd_sim_conn_xs_finish(struct vd_sim_conn *c);
int vd_sim_xs_read(struct vd_hv *hv, vd_xs_txn t, const char *path, char **ret_value,
		   size_t *ret_len);
int vd_sim_xs_write(struct vd_hv *hv, vd_xs_txn t, const char *path, const char *value);
int vd_sim_xs_rm(struct vd_hv *hv, vd_xs_txn t, const char *path);
int vd_sim_xs_directory(struct vd_hv *hv, vd_xs_txn t, const char *path, char ***ret_list,
			unsigned *ret_n);
int vd_sim_xs_get_perms(struct vd_hv *hv, vd_xs_txn t, const char *path,
			struct vd_xs_perm **ret_perms, unsigned *ret_n);
/* A store change not made through a connection: set permissions as domain 0. */
int vd_sim_xs_set_perms_internal(struct vd_sim *sim, const char *path,
				 const struct vd_xs_perm *perms, unsigned nperms);
int vd_sim_xs_txn_start(struct vd_hv *hv, vd_xs_txn *ret_t);
int vd_sim_xs_txn_end(struct vd_hv *hv, vd_xs_txn t, bool abort);

/* sim_xs_watch.c */
int vd_sim_xs_watch(struct vd_hv *hv, const char *path, const char *token);
int vd_sim_xs_unwatch(struct vd_hv *hv, const char *path, const char *token);
int vd_sim_xs_watch_fd(struct vd_hv *hv);
int vd_sim_xs_read_watch(struct vd_hv *hv, char **ret_path, char **ret_token);
/* Fire the watches for a write of path (or a removal, before it happens). */
void vd_sim_xs_fire_write(struct vd_sim *sim, const char *path);
void vd_sim_xs_fire_rm(struct vd_sim *sim, const char *path);
void vd_sim_conn_watches_finish(struct vd_sim_conn *c);

/* sim_mem.c: guest memory. */
/*
 * Map frames pfns[0..count) into one new contiguous region, one mmap per
 * run of consecutive frames of one file. Frame i is in fds[i], or in fd
 * if fds is NULL (borrowed). The caller owns the region (munmap).
 */
int vd_sim_map_frames(int fd, const int *fds, const uint32_t *pfns, uint32_t count, int prot,
		      void **ret_addr);
/* Close the memfd; guest views and other mappings stay valid. */
void vd_sim_domain_mem_release(struct vd_sim_domain *d);
/* Unmap the guest's views and release. */
void vd_sim_domain_mem_finish(struct vd_sim_domain *d);

/* sim_gnt.c */
/* The domain died: all grants end; mapped ones wait for their unmap. */
void vd_sim_domain_grants_revoke(struct vd_sim_domain *d);
void vd_sim_domain_grants_finish(struct vd_sim_domain *d);
/* Free memfd and grant table of a dead domain once nothing maps its pages. */
void vd_sim_domain_release_if_unused(struct vd_sim_domain *d);
/*
 * Check that refs of d are granted to domid (writable: not read-only) and
 * say where each page is: fds[i], pfns[i] (either may be NULL). Writes
 * nothing else; the first bad ref decides the error.
 */
int vd_sim_grants_check(struct vd_sim_domain *d, uint32_t domid, uint32_t count,
			const uint32_t *refs, bool writable, int *fds, uint32_t *pfns);
/* The mapper's maptrack: room for count more entries (0 or -ENOSPC); take / give back. */
int vd_sim_maptrack_take(struct vd_sim_domain *mapper, uint32_t count);
void vd_sim_maptrack_put(struct vd_sim_domain *mapper, uint32_t count);
/* Count a mapping of checked refs (stats.pages_mapped, maps_total...) / undo it. */
void vd_sim_grants_hold(struct vd_sim_domain *d, uint32_t count, const uint32_t *refs);
void vd_sim_grants_drop(struct vd_sim_domain *d, uint32_t count, const uint32_t *refs);
/* Grant page `page` of b to to_domid, read-write; the entry takes a reference on b. */
int vd_sim_grant_external(struct vd_sim_domain *d, uint32_t to_domid, struct vd_sim_backing *b,
			  uint32_t page, uint32_t *ret_ref);
/* End an active grant: 0, or -EBUSY if still mapped (ended, deferred, counted). */
int vd_sim_domain_grant_end(struct vd_sim_domain *d, uint32_t ref);
int vd_sim_gnt_open(struct vd_hv *hv, struct vd_gnt **ret_gnt);
void vd_sim_gnt_close(struct vd_gnt *gnt);
int vd_sim_gnt_map(struct vd_gnt *gnt, uint32_t domid, uint32_t count, const uint32_t *refs,
		   bool writable, void **ret_addr);
int vd_sim_gnt_unmap(struct vd_gnt *gnt, void *addr, uint32_t count);

/* sim_dmabuf.c */
void vd_sim_backing_unref(struct vd_sim_backing *b);
/* Release the exports whose fds are all closed. Cheap when there are none. */
void vd_sim_exports_reap(struct vd_sim *sim);
/* The handle closes: its exports live on (unowned), its imports are released. */
void vd_sim_gnt_dmabuf_finish(struct vd_sim_gnt *g);
int vd_sim_dmabuf_exp_from_refs(struct vd_gnt *gnt, uint32_t domid, uint32_t count,
				const uint32_t *refs, int *ret_fd);
int vd_sim_dmabuf_exp_wait_released(struct vd_gnt *gnt, int fd, uint32_t timeout_ms);
int vd_sim_dmabuf_imp_to_refs(struct vd_gnt *gnt, uint32_t domid, int fd, uint32_t count,
			      uint32_t *refs);
int vd_sim_dmabuf_imp_release(struct vd_gnt *gnt, int fd);
/*
 * The newest export (import) of gnt known by old_fd is known by new_fd from
 * now on: the number its fd has in the process that uses it, when that is
 * not this one (the simhost). 0 or -ENOENT.
 */
int vd_sim_dmabuf_exp_rekey(struct vd_gnt *gnt, int old_fd, int new_fd);
int vd_sim_dmabuf_imp_rekey(struct vd_gnt *gnt, int old_fd, int new_fd);

/* sim_evtchn.c */
/* Close every port of d (its domain died): peers become unbound. */
void vd_sim_domain_ports_close(struct vd_sim_domain *d);
int vd_sim_evtchn_bind(struct vd_hv *hv, uint32_t domid, uint32_t remote_port,
		       struct vd_evtchn **ret_ch);
void vd_sim_evtchn_unbind(struct vd_hv *hv, struct vd_evtchn *ch);

#endif
