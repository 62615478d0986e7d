/* SPDX-License-Identifier: MIT */
/*
 * The readiness node (src/readiness.h) on the simulated Xen: written where
 * a toolstack in Dom0 reads it, by Dom0 and by a driver domain (whose only
 * writable place in its home is data/, as libxl makes it), gone after a
 * clean stop; refused cleanly where the domain may not write.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hv/sim/sim.h"
#include "log.h"
#include "readiness.h"

struct fixture {
	struct vd_hv *dom0;
	struct vd_sim *sim;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(vd_hv_create("sim", &f->dom0), 0);
	f->sim = vd_sim_from_hv(f->dom0);
	assert_non_null(f->sim);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vd_hv_destroy(f->dom0);
	free(f);
	return 0;
}

/* What the toolstack (Domain-0) reads at path: the value, or NULL if absent. */
static char *dom0_read(struct fixture *f, const char *path)
{
	char *v = NULL;
	size_t len;
	int r = f->dom0->impl->xs_read(f->dom0, VD_XS_NO_TXN, path, &v, &len);

	assert_true(r == 0 || r == -ENOENT);
	return r == 0 ? v : NULL;
}

static void test_dom0(void **state)
{
	struct fixture *f = *state;
	char path[80], *v;

	vd_readiness_path(f->dom0, path, sizeof(path));
	assert_string_equal(path, "/local/domain/0/data/vdispld/state");
	assert_null(dom0_read(f, path));
	assert_int_equal(vd_readiness_announce(f->dom0), 0);
	v = dom0_read(f, path);
	assert_non_null(v);
	assert_string_equal(v, "running");
	free(v);
	vd_readiness_withdraw(f->dom0);
	assert_null(dom0_read(f, path));
	assert_null(dom0_read(f, "/local/domain/0/data/vdispld"));
}

static void test_driver_domain(void **state)
{
	struct fixture *f = *state;
	struct vd_xs_perm *p;
	struct vd_hv *domd;
	uint32_t id;
	unsigned n;
	char path[80], want[80], *v;

	assert_int_equal(vd_sim_domain_create(f->sim, "domd", &id), 0);
	assert_int_equal(vd_sim_connect_as(f->sim, id, &domd), 0);
	vd_readiness_path(domd, path, sizeof(path));
	snprintf(want, sizeof(want), "/local/domain/%u/data/vdispld/state", id);
	assert_string_equal(path, want);
	assert_int_equal(vd_readiness_announce(domd), 0);
	v = dom0_read(f, path);
	assert_non_null(v);
	assert_string_equal(v, "running");
	free(v);
	/* The driver domain's own node: another guest cannot fake or remove it. */
	assert_int_equal(f->dom0->impl->xs_get_perms(f->dom0, VD_XS_NO_TXN, path, &p, &n), 0);
	assert_int_equal(p[0].domid, id);
	assert_false(vd_xs_perms_writable_by(p, n, id + 1));
	free(p);
	vd_readiness_withdraw(domd);
	assert_null(dom0_read(f, path));
	vd_hv_destroy(domd);
}

/* A domain whose home has no data/ of its own may write nothing there: -EACCES, no node. */
static void test_refused(void **state)
{
	struct fixture *f = *state;
	struct vd_hv *domd;
	char path[80], dir[80];
	uint32_t id;

	assert_int_equal(vd_sim_domain_create(f->sim, "domd", &id), 0);
	snprintf(dir, sizeof(dir), "/local/domain/%u/data", id);
	assert_int_equal(f->dom0->impl->xs_rm(f->dom0, VD_XS_NO_TXN, dir), 0);
	assert_int_equal(vd_sim_connect_as(f->sim, id, &domd), 0);
	assert_int_equal(vd_readiness_announce(domd), -EACCES);
	vd_readiness_path(domd, path, sizeof(path));
	assert_null(dom0_read(f, path));
	vd_readiness_withdraw(domd);
	vd_hv_destroy(domd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dom0, setup, teardown),
		cmocka_unit_test_setup_teardown(test_driver_domain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	};

	vd_log_set_level(LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
