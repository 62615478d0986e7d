/* SPDX-License-Identifier: MIT */
#include "buffers/account.h"

#include <errno.h>
#include <stdlib.h>

#include "log.h"

struct vd_account {
	struct vd_pool *pool;
	struct vd_account *next; /* in pool->accounts */
	uint32_t domid;
	unsigned refs;    /* devices, and gates holding its buffers */
	unsigned devices; /* devices connected: while > 0 the reservation stands */
	bool has_slot;    /* it took one of the pool's VD_POOL_SHARES reservations */
	struct vd_res_vec max, used, reserved, peak, refused;
};

struct vd_pool {
	struct vd_res_vec max, used, peak, refused;
	struct vd_res_vec slot; /* one reservation: max / (2 * VD_POOL_SHARES) */
	unsigned free_slots;    /* reservations no guest took yet */
	/*
	 * The accounts' max(used, reserved), and a slot per free slot: never
	 * above max but by forced charges (and a slot given back by a guest
	 * that leaves while the others use the shared half).
	 */
	struct vd_res_vec claimed;
	struct vd_account *accounts;
};

const char *vd_res_name(enum vd_res r)
{
	static const char *const names[VD_RES_COUNT] = {"grant maps", "fds", "backend memory",
							"retry list"};

	return r < VD_RES_COUNT ? names[r] : "?";
}

int vd_res_errno(enum vd_res r)
{
	static const int err[VD_RES_COUNT] = {-ENOSPC, -EMFILE, -ENOMEM, -EBUSY};

	return r < VD_RES_COUNT ? err[r] : -ENOSPC;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

int vd_pool_create(const struct vd_res_vec *max, struct vd_pool **ret_pool)
{
	struct vd_pool *pool = calloc(1, sizeof(*pool));

	if (!pool)
		return -ENOMEM;
	pool->max = *max;
	pool->free_slots = VD_POOL_SHARES;
	for (int r = 0; r < VD_RES_COUNT; r++) {
		pool->slot.v[r] = max->v[r] / (2 * VD_POOL_SHARES);
		pool->claimed.v[r] = VD_POOL_SHARES * pool->slot.v[r];
	}
	*ret_pool = pool;
	return 0;
}

void vd_pool_destroy(struct vd_pool *pool)
{
	if (!pool)
		return;
	if (pool->accounts)
		vd_warn("resource accounts still referenced at exit");
	free(pool);
}

void vd_pool_get(const struct vd_pool *pool, enum vd_res r, struct vd_res_use *ret)
{
	*ret = (struct vd_res_use){pool->used.v[r], pool->max.v[r], pool->claimed.v[r],
				   pool->peak.v[r], pool->refused.v[r]};
}

struct vd_account *vd_pool_find(struct vd_pool *pool, uint32_t domid)
{
	struct vd_account *a = pool->accounts;

	while (a && a->domid != domid)
		a = a->next;
	return a;
}

static uint64_t claim(const struct vd_account *a, enum vd_res r)
{
	return max_u64(a->used.v[r], a->reserved.v[r]);
}

/*
 * Reserve up to want of r for a, as far as the pool has room beside the
 * others' claims (an account's own claim is room for it).
 */
static void set_reserve(struct vd_account *a, enum vd_res r, uint64_t want)
{
	struct vd_pool *p = a->pool;
	uint64_t old = claim(a, r), others = p->claimed.v[r] - old;
	uint64_t room = p->max.v[r] > others ? p->max.v[r] - others : 0;

	a->reserved.v[r] = min_u64(want, room);
	p->claimed.v[r] = others + claim(a, r);
}

/* What a connected guest is guaranteed of r. */
static uint64_t fair_share(const struct vd_account *a, enum vd_res r)
{
	return a->devices ? min_u64(a->max.v[r], a->pool->slot.v[r]) : 0;
}

/*
 * Take a slot when the first device connects (its reservation replaces
 * the slot's claim), give it back when the last goes; then set the
 * reservations.
 */
static void reserve_all(struct vd_account *a)
{
	struct vd_pool *p = a->pool;
	bool slot = a->devices && (a->has_slot || p->free_slots);

	if (slot != a->has_slot) {
		p->free_slots += slot ? -1 : 1;
		for (int r = 0; r < VD_RES_COUNT; r++) {
			if (slot)
				p->claimed.v[r] -= p->slot.v[r];
			else
				p->claimed.v[r] += p->slot.v[r];
		}
		a->has_slot = slot;
	}
	for (int r = 0; r < VD_RES_COUNT; r++)
		set_reserve(a, r, fair_share(a, r));
}

int vd_pool_join(struct vd_pool *pool, uint32_t domid, const struct vd_res_vec *max,
		 struct vd_account **ret_acct)
{
	struct vd_account *a = vd_pool_find(pool, domid);

	if (!a) {
		a = calloc(1, sizeof(*a));
		if (!a)
			return -ENOMEM;
		a->pool = pool;
		a->domid = domid;
		a->next = pool->accounts;
		pool->accounts = a;
	}
	a->max = *max;
	a->refs++;
	a->devices++;
	reserve_all(a);
	*ret_acct = a;
	return 0;
}

void vd_account_leave(struct vd_account *a)
{
	if (a->devices && --a->devices == 0)
		reserve_all(a);
	vd_account_unref(a);
}

struct vd_account *vd_account_ref(struct vd_account *a)
{
	a->refs++;
	return a;
}

/* Whatever it still counts goes back to the pool with it. */
void vd_account_unref(struct vd_account *a)
{
	struct vd_account **p;

	if (!a || --a->refs)
		return;
	a->devices = 0;
	reserve_all(a);
	for (int r = 0; r < VD_RES_COUNT; r++) {
		a->pool->claimed.v[r] -= claim(a, r);
		a->pool->used.v[r] -= a->used.v[r];
	}
	for (p = &a->pool->accounts; *p != a; p = &(*p)->next)
		;
	*p = a->next;
	free(a);
}

/* 0 if n more of r fit a's cap and the pool (beside the others' claims). */
static int fits(const struct vd_account *a, enum vd_res r, uint64_t n)
{
	const struct vd_pool *p = a->pool;
	uint64_t after = a->used.v[r] + n;
	uint64_t grow = max_u64(after, a->reserved.v[r]) - claim(a, r);

	if (n == 0)
		return 0;
	if (after > a->max.v[r] || after < n)
		return vd_res_errno(r);
	if (p->claimed.v[r] + grow > p->max.v[r])
		return vd_res_errno(r);
	return 0;
}

int vd_account_check(const struct vd_account *a, enum vd_res r, uint64_t n)
{
	return fits(a, r, n);
}

static void refuse(struct vd_account *a, enum vd_res r, uint64_t n)
{
	const struct vd_pool *p = a->pool;
	bool own = a->used.v[r] + n > a->max.v[r];

	a->refused.v[r]++;
	a->pool->refused.v[r]++;
	vd_log_rl(LOG_WARNING,
		  "dom%u: %s %s cap reached: %llu more asked, %llu in use (guest cap %llu), "
		  "%llu in use by all guests (cap %llu)",
		  a->domid, vd_res_name(r), own ? "guest" : "global", (unsigned long long)n,
		  (unsigned long long)a->used.v[r], (unsigned long long)a->max.v[r],
		  (unsigned long long)p->used.v[r], (unsigned long long)p->max.v[r]);
}

void vd_account_force(struct vd_account *a, enum vd_res r, uint64_t n)
{
	struct vd_pool *p = a->pool;
	uint64_t old = claim(a, r);

	a->used.v[r] += n;
	p->used.v[r] += n;
	p->claimed.v[r] += claim(a, r) - old;
	a->peak.v[r] = max_u64(a->peak.v[r], a->used.v[r]);
	p->peak.v[r] = max_u64(p->peak.v[r], p->used.v[r]);
}

int vd_account_charge(struct vd_account *a, const struct vd_res_vec *need)
{
	for (int r = 0; r < VD_RES_COUNT; r++) {
		int err = fits(a, r, need->v[r]);

		if (err < 0) {
			refuse(a, r, need->v[r]);
			return err;
		}
	}
	for (int r = 0; r < VD_RES_COUNT; r++)
		vd_account_force(a, r, need->v[r]);
	return 0;
}

void vd_account_credit(struct vd_account *a, enum vd_res r, uint64_t n)
{
	struct vd_pool *p = a->pool;
	uint64_t old = claim(a, r);

	if (n > a->used.v[r]) {
		vd_err("dom%u: %s: crediting %llu, only %llu in use", a->domid, vd_res_name(r),
		       (unsigned long long)n, (unsigned long long)a->used.v[r]);
		n = a->used.v[r];
	}
	a->used.v[r] -= n;
	p->used.v[r] -= n;
	p->claimed.v[r] -= old - claim(a, r);
}

void vd_account_get(const struct vd_account *a, enum vd_res r, struct vd_res_use *ret)
{
	*ret = (struct vd_res_use){a->used.v[r], a->max.v[r], a->reserved.v[r], a->peak.v[r],
				   a->refused.v[r]};
}

uint32_t vd_account_domid(const struct vd_account *a)
{
	return a->domid;
}
