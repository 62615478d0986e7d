/* SPDX-License-Identifier: MIT */
/*
 * The real Xen hypervisor backend on a host without Xen (CI, developer
 * machines): creating it must fail cleanly with -errno, not crash, hang
 * or hand back a half-made object.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "hv/hv.h"

/* Never used as a hypervisor: only its address, to see that ret_hv stays untouched. */
static struct vd_hv dummy_hv;

static bool host_has_xen(void)
{
	return access("/dev/xen/xenbus", F_OK) == 0 ||
	       access("/var/run/xenstored/socket", F_OK) == 0 ||
	       access("/run/xenstored/socket", F_OK) == 0;
}

static void test_create_fails_without_xen(void **state)
{
	struct vd_hv *sentinel = &dummy_hv;
	struct vd_hv *hv = sentinel;
	int r;

	if (host_has_xen())
		skip();
	r = vd_hv_create("xen", &hv);
	assert_true(r < 0);
	assert_true(r > -4096);
	/* ret_ parameters are written only on success. */
	assert_ptr_equal(hv, sentinel);
}

static void test_unknown_name(void **state)
{
	struct vd_hv *sentinel = &dummy_hv;
	struct vd_hv *hv = sentinel;

	assert_int_equal(vd_hv_create("no-such-hypervisor", &hv), -ENOENT);
	assert_ptr_equal(hv, sentinel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_fails_without_xen),
		cmocka_unit_test(test_unknown_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
