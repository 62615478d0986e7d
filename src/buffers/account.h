/* SPDX-License-Identifier: MIT */
/*
 * What the guests' buffers cost this domain, counted per guest domain (an
 * account) and in total (the pool), each against a cap (docs/resources.md):
 *
 *   maps     - grant mappings: entries of this domain's maptrack, which
 *              Xen shares among every backend here (blkback, netback...):
 *              a CPU mapping and a dma-buf export each hold one per page;
 *   fds      - file descriptors held for buffers and framebuffers;
 *   be_pages - memory allocated here for backend-allocated buffers;
 *   retry    - buffers on the DESTROY retry list (released late).
 *
 * Fairness: the per-guest caps may add up to more than a global cap, so
 * half of every global cap is held back as reservations for up to
 * VD_POOL_SHARES guests: a guest that connects takes one (min(its cap,
 * global cap / (2 * VD_POOL_SHARES))) and is guaranteed that much while
 * it has a device connected; the other half is shared, first come first
 * served, within each guest's cap. An account's claim on the pool is the
 * larger of what it uses and its reservation, and the claims together with
 * the reservations not taken yet never exceed the global cap: a guest that
 * runs into the global cap has used up only the shared half, and every
 * other guest - connected already or connecting later - still gets its
 * reservation. A guest beyond the first VD_POOL_SHARES connected at once
 * is reserved only what is free when it connects.
 *
 * An account outlives its devices while anything of its guest is still
 * held (a buffer on the retry list keeps a reference), so a guest cannot
 * shed what it holds by reconnecting.
 */
#ifndef VD_ACCOUNT_H
#define VD_ACCOUNT_H

#include <stdbool.h>
#include <stdint.h>

enum vd_res {
	VD_RES_MAPS,
	VD_RES_FDS,
	VD_RES_BE_PAGES,
	VD_RES_RETRY,
	VD_RES_COUNT,
};

/* Reservations: up to this many guests are guaranteed 1/(2 * VD_POOL_SHARES) of a global cap. */
#define VD_POOL_SHARES 8u

struct vd_res_vec {
	uint64_t v[VD_RES_COUNT];
};

/* One resource of an account or of the pool, for the status. */
struct vd_res_use {
	uint64_t used, max;
	/* account: its guaranteed part; pool: what is claimed (used or reserved, with the
	 * reservations held for guests not connected yet) */
	uint64_t reserved;
	uint64_t peak;     /* the most used at once */
	uint64_t refused;  /* charges refused for this resource */
};

struct vd_pool;
struct vd_account;

/* "grant maps", "fds", "backend memory", "retry list" */
const char *vd_res_name(enum vd_res r);
/* The status a refused charge of r answers: -ENOSPC, -EMFILE, -ENOMEM, -EBUSY. */
int vd_res_errno(enum vd_res r);

int vd_pool_create(const struct vd_res_vec *max, struct vd_pool **ret_pool);
/* Every account must be gone (vd_account_unref). NULL ok. */
void vd_pool_destroy(struct vd_pool *pool);
void vd_pool_get(const struct vd_pool *pool, enum vd_res r, struct vd_res_use *ret);
/* The account of domid if it exists (borrowed), else NULL. */
struct vd_account *vd_pool_find(struct vd_pool *pool, uint32_t domid);

/*
 * A device of domid connects with these caps: its account (created on
 * first use) with one more reference and one more device; the first
 * device takes the reservation. Caps replace the account's (a reload
 * applies at the next connect).
 */
int vd_pool_join(struct vd_pool *pool, uint32_t domid, const struct vd_res_vec *max,
		 struct vd_account **ret_acct);
/* The device goes: one device and one reference less; the last device gives the reservation back. */
void vd_account_leave(struct vd_account *acct);
struct vd_account *vd_account_ref(struct vd_account *acct);
void vd_account_unref(struct vd_account *acct); /* NULL ok */

/*
 * All of need, or nothing: 0, or vd_res_errno() of the first resource
 * that would go over the guest's cap or the pool's (counted as refused).
 */
int vd_account_charge(struct vd_account *acct, const struct vd_res_vec *need);
/* Would one more of r fit now? 0 or its errno (not counted). */
int vd_account_check(const struct vd_account *acct, enum vd_res r, uint64_t n);
/* Counted even past the caps: what cannot be refused (ring pages, a buffer going on the retry list). */
void vd_account_force(struct vd_account *acct, enum vd_res r, uint64_t n);
void vd_account_credit(struct vd_account *acct, enum vd_res r, uint64_t n);
void vd_account_get(const struct vd_account *acct, enum vd_res r, struct vd_res_use *ret);
uint32_t vd_account_domid(const struct vd_account *acct);

#endif
