/* SPDX-License-Identifier: MIT */
/*
 * The guests' accounts and the pool (buffers/account.h): per-guest caps,
 * the global cap, and the reservations that keep a guest's share when
 * another has run into the global cap - whether it connected before or
 * after.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "buffers/account.h"
#include "log.h"

#define G 1600u                             /* global cap of every resource */
#define SLOT (G / (2 * VD_POOL_SHARES))     /* one reservation: 100 */

static const struct vd_res_vec all_g = {{G, G, G, G}};

/* Charge n of r alone. */
static int charge1(struct vd_account *a, enum vd_res r, uint64_t n)
{
	struct vd_res_vec v = {{0}};

	v.v[r] = n;
	return vd_account_charge(a, &v);
}

static struct vd_res_use use_of(struct vd_account *a, enum vd_res r)
{
	struct vd_res_use u;

	vd_account_get(a, r, &u);
	return u;
}

/* The most of r a can take now, one at a time. */
static uint64_t take_all(struct vd_account *a, enum vd_res r)
{
	uint64_t n = 0;

	while (charge1(a, r, 1) == 0)
		n++;
	return n;
}

static void setup_log(void)
{
	vd_log_set_level(LOG_ERR);
}

/* A guest over its own cap is refused, with the resource's status. */
static void guest_cap(void **state)
{
	struct vd_pool *p;
	struct vd_account *a;
	struct vd_res_vec caps = {{10, 20, 30, 40}};

	setup_log();
	assert_int_equal(vd_pool_create(&all_g, &p), 0);
	assert_int_equal(vd_pool_join(p, 7, &caps, &a), 0);
	assert_int_equal(vd_account_charge(a, &(struct vd_res_vec){{10, 20, 30, 40}}), 0);
	assert_int_equal(charge1(a, VD_RES_MAPS, 1), -ENOSPC);
	assert_int_equal(charge1(a, VD_RES_FDS, 1), -EMFILE);
	assert_int_equal(charge1(a, VD_RES_BE_PAGES, 1), -ENOMEM);
	assert_int_equal(vd_account_check(a, VD_RES_RETRY, 1), -EBUSY);
	/* All or nothing: a refused vector charges none of its parts. */
	vd_account_credit(a, VD_RES_MAPS, 10);
	assert_int_equal(vd_account_charge(a, &(struct vd_res_vec){{5, 1, 0, 0}}), -EMFILE);
	assert_int_equal(use_of(a, VD_RES_MAPS).used, 0);
	assert_int_equal(use_of(a, VD_RES_FDS).refused, 2);
	assert_int_equal(use_of(a, VD_RES_FDS).peak, 20);
	/* Forced charges count past the cap. */
	vd_account_force(a, VD_RES_MAPS, 15);
	assert_int_equal(use_of(a, VD_RES_MAPS).used, 15);
	vd_account_credit(a, VD_RES_MAPS, 15);
	vd_account_credit(a, VD_RES_FDS, 20);
	vd_account_credit(a, VD_RES_BE_PAGES, 30);
	vd_account_credit(a, VD_RES_RETRY, 40);
	vd_account_leave(a);
	assert_null(vd_pool_find(p, 7));
	vd_pool_destroy(p);
}

/*
 * A guest whose cap is the global cap takes what nobody reserved; the
 * guests connected before and after it still get their reservation.
 */
static void reservation_survives_global_cap(void **state)
{
	struct vd_pool *p;
	struct vd_account *a, *b, *c;
	struct vd_res_use pu;

	setup_log();
	assert_int_equal(vd_pool_create(&all_g, &p), 0);
	assert_int_equal(vd_pool_join(p, 1, &all_g, &a), 0);
	assert_int_equal(vd_pool_join(p, 2, &all_g, &b), 0);
	assert_int_equal(use_of(a, VD_RES_MAPS).reserved, SLOT);
	/* a: the shared half and its own reservation, not the others'. */
	assert_int_equal(take_all(a, VD_RES_MAPS), G - (VD_POOL_SHARES - 1) * SLOT);
	assert_int_equal(use_of(a, VD_RES_MAPS).refused, 1);
	vd_pool_get(p, VD_RES_MAPS, &pu);
	assert_int_equal(pu.reserved, G);
	assert_int_equal(pu.refused, 1);
	/* b, connected before: its reservation, no more. */
	assert_int_equal(take_all(b, VD_RES_MAPS), SLOT);
	/* c, connecting after: its reservation too. */
	assert_int_equal(vd_pool_join(p, 3, &all_g, &c), 0);
	assert_int_equal(use_of(c, VD_RES_MAPS).reserved, SLOT);
	assert_int_equal(take_all(c, VD_RES_MAPS), SLOT);
	/* a gives some back: the shared half is open to all again. */
	vd_account_credit(a, VD_RES_MAPS, 50);
	assert_int_equal(take_all(b, VD_RES_MAPS), 50);
	vd_account_credit(a, VD_RES_MAPS, use_of(a, VD_RES_MAPS).used);
	vd_account_credit(b, VD_RES_MAPS, use_of(b, VD_RES_MAPS).used);
	vd_account_credit(c, VD_RES_MAPS, use_of(c, VD_RES_MAPS).used);
	vd_account_leave(a);
	vd_account_leave(b);
	vd_account_leave(c);
	vd_pool_get(p, VD_RES_MAPS, &pu);
	assert_int_equal(pu.used, 0);
	assert_int_equal(pu.reserved, VD_POOL_SHARES * SLOT);
	vd_pool_destroy(p);
}

/*
 * What a guest still holds after its devices went (buffers on the retry
 * list) keeps counting, and its slot goes to the next guest; its account
 * goes with the last reference.
 */
static void leave_and_hold(void **state)
{
	struct vd_pool *p;
	struct vd_account *a, *a2, *d;
	struct vd_res_use pu;

	setup_log();
	assert_int_equal(vd_pool_create(&all_g, &p), 0);
	assert_int_equal(vd_pool_join(p, 1, &all_g, &a), 0);
	assert_int_equal(charge1(a, VD_RES_RETRY, 300), 0);
	vd_account_ref(a); /* a gate */
	vd_account_leave(a);
	assert_int_equal(use_of(a, VD_RES_RETRY).reserved, 0);
	vd_pool_get(p, VD_RES_RETRY, &pu);
	assert_int_equal(pu.used, 300);
	assert_int_equal(pu.reserved, 300 + VD_POOL_SHARES * SLOT);
	/* It comes back: the same account, with what it holds. */
	assert_int_equal(vd_pool_join(p, 1, &all_g, &a2), 0);
	assert_ptr_equal(a2, a);
	assert_int_equal(use_of(a, VD_RES_RETRY).used, 300);
	vd_account_leave(a2);
	/* Another guest gets its reservation meanwhile. */
	assert_int_equal(vd_pool_join(p, 2, &all_g, &d), 0);
	assert_int_equal(take_all(d, VD_RES_RETRY), G - 300 - (VD_POOL_SHARES - 1) * SLOT);
	vd_account_credit(d, VD_RES_RETRY, use_of(d, VD_RES_RETRY).used);
	vd_account_leave(d);
	vd_account_credit(a, VD_RES_RETRY, 300);
	vd_account_unref(a);
	assert_null(vd_pool_find(p, 1));
	vd_pool_get(p, VD_RES_RETRY, &pu);
	assert_int_equal(pu.used, 0);
	assert_int_equal(pu.reserved, VD_POOL_SHARES * SLOT);
	vd_pool_destroy(p);
}

/* More guests than reservations: the late ones get what is free, the reserved keep theirs. */
static void more_guests_than_slots(void **state)
{
	struct vd_pool *p;
	struct vd_account *g[VD_POOL_SHARES + 2];

	setup_log();
	assert_int_equal(vd_pool_create(&all_g, &p), 0);
	for (uint32_t i = 0; i < VD_POOL_SHARES + 2; i++)
		assert_int_equal(vd_pool_join(p, i + 1, &all_g, &g[i]), 0);
	for (uint32_t i = 0; i < VD_POOL_SHARES; i++)
		assert_int_equal(use_of(g[i], VD_RES_FDS).reserved, SLOT);
	/* The shared half is free at their connect: they reserve from it. */
	assert_int_equal(use_of(g[VD_POOL_SHARES], VD_RES_FDS).reserved, SLOT);
	/* The shared half, and no more, goes to the first who asks. */
	assert_int_equal(take_all(g[VD_POOL_SHARES + 1], VD_RES_FDS),
			 G - (VD_POOL_SHARES + 1) * SLOT);
	for (uint32_t i = 0; i < VD_POOL_SHARES + 1; i++)
		assert_int_equal(take_all(g[i], VD_RES_FDS), SLOT);
	for (uint32_t i = 0; i < VD_POOL_SHARES + 2; i++) {
		vd_account_credit(g[i], VD_RES_FDS, use_of(g[i], VD_RES_FDS).used);
		vd_account_leave(g[i]);
	}
	vd_pool_destroy(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(guest_cap),
	    cmocka_unit_test(reservation_survives_global_cap),
	    cmocka_unit_test(leave_and_hold),
	    cmocka_unit_test(more_guests_than_slots),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
