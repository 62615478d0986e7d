/* SPDX-License-Identifier: MIT */
/*
 * Toolstack settings in the frontend's directory are trusted only where
 * xenstore's permissions say the guest cannot have written them
 * (DESIGN.md "Trust boundary"). libxl makes read-only only the nodes it
 * writes there (be-alloc, <i>/resolution, <i>/unique-id); the directory,
 * and each connector's directory, are the guest's. A guest that adds a
 * connector or replaces a resolution makes the size of its connectors -
 * and so of captures, copies, backend memory and output buffers - its own
 * choice: the backend refuses such a device and says which node and why.
 * A well-behaved guest flips on, untouched, all along.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xen/io/xenbus.h>

#include "harness.h"
#include "log.h"

#define FAST_VBLANK 2000000u /* 2 kHz */
#define HUGE "8192x8192"

struct ctx {
	struct harness h;
	struct vd_simfront *good, *bad;
	struct vd_hv *bad_hv; /* the hostile guest's own xenstore connection */
	uint32_t bad_domid;
	struct h_log log;
};

/* ---- the two guests ---- */

static bool good_flipping(struct harness *h, void *arg)
{
	return h_stats(((struct ctx *)arg)->good).frames_done >= 20;
}

/*
 * The hostile guest's device as the toolstack made it (ts_nconn
 * connectors of 320x240, nconn probed by its frontend), before the
 * backend has looked at it: the test then writes as that guest.
 */
static struct ctx *ctx_new(void **state, uint32_t nconn, uint32_t ts_nconn)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct vd_simfront_opts go = {.nconn = 1, .width = 160, .height = 120};
	struct vd_simfront_opts bo = {
	    .nconn = nconn, .ts_nconn = ts_nconn, .width = 320, .height = 240, .no_client = true};

	assert_non_null(c);
	*state = c;
	h_log_capture(&c->log);
	h_init(&c->h, false, FAST_VBLANK);
	vd_log_set_level(LOG_INFO);
	c->good = h_guest(&c->h, "good", &go);
	assert_true(h_run_until(&c->h, good_flipping, c, 5000));
	c->bad = h_guest(&c->h, "hostile", &bo);
	c->bad_domid = vd_simfront_domid(c->bad);
	assert_int_equal(vd_sim_connect_as(vd_sim_from_hv(c->h.hv), c->bad_domid, &c->bad_hv), 0);
	return c;
}

/* The teardown: also after a failed assertion. */
static int ctx_free(void **state)
{
	struct ctx *c = *state;

	if (!c)
		return 0;
	vd_hv_destroy(c->bad_hv);
	if (c->h.loop)
		h_fini(&c->h);
	h_log_release(&c->log);
	free(c);
	return 0;
}

/* As the hostile guest, relative to its own home. */
static void guest_write(struct ctx *c, const char *node, const char *value)
{
	assert_int_equal(c->bad_hv->impl->xs_write(c->bad_hv, VD_XS_NO_TXN, node, value), 0);
}

struct dev_seen {
	uint32_t domid;
	bool found;
	int be_state;
	uint32_t nconn, max_width;
};

static void on_dev(void *userdata, const struct vd_dev_info *info)
{
	struct dev_seen *s = userdata;

	if (info->domid != s->domid)
		return;
	s->found = true;
	s->be_state = info->be_state;
	s->nconn = info->nconn;
	for (uint32_t i = 0; i < info->nconn; i++)
		if (info->conns[i].width > s->max_width)
			s->max_width = info->conns[i].width;
}

static struct dev_seen bad_dev(struct ctx *c)
{
	struct dev_seen s = {.domid = c->bad_domid};

	vd_backend_foreach_device(c->h.be, on_dev, &s);
	return s;
}

/* Connected, or refused (said so in the log). */
static bool bad_settled(struct harness *h, void *arg)
{
	struct ctx *c = arg;
	char *log;
	bool refused;

	if (!bad_dev(c).found)
		return false;
	if (bad_dev(c).be_state == XenbusStateConnected)
		return true;
	log = h_log_text(&c->log);
	refused = strstr(log, "refusing the device") != NULL;
	free(log);
	return refused;
}

/*
 * The device is refused, once, with a line naming the node; its frontend
 * is left Closed (Linux would go Initialising again and again otherwise);
 * the good guest never noticed.
 */
static void assert_refused(struct ctx *c, const char *node)
{
	char want[160], *log;
	struct dev_seen s;
	uint64_t before = h_stats(c->good).frames_done;

	assert_true(h_run_until(&c->h, bad_settled, c, 5000));
	h_run_for(&c->h, 300);
	s = bad_dev(c);
	assert_true(s.found);
	if (s.be_state == XenbusStateConnected)
		print_error("connected: %u connectors, widest %u\n", s.nconn, s.max_width);
	assert_false(s.be_state == XenbusStateConnected);
	assert_int_equal(s.be_state, XenbusStateClosed);
	assert_int_equal(s.nconn, 0);
	assert_int_equal(h_stats(c->bad).connects, 0);
	log = h_log_text(&c->log);
	snprintf(want, sizeof(want), "/local/domain/%u/device/vdispl/0/%s", c->bad_domid, node);
	if (!strstr(log, want) || h_count(log, "refusing the device") != 1)
		print_error("log:\n%s\n", log);
	assert_non_null(strstr(log, want));
	assert_int_equal(h_count(log, "refusing the device"), 1);
	assert_non_null(strstr(log, "not a toolstack setting"));
	free(log);
	/* The good guest flipped on, clean. */
	assert_true(h_stats(c->good).frames_done > before + 20);
	assert_int_equal(h_stats(c->good).errors, 0);
	assert_int_equal(h_stats(c->good).watchdogs, 0);
	assert_int_equal(h_stats(c->good).connects, 1);
}

/* ---- the cases ---- */

/* The toolstack configured one connector; the guest adds three more, huge. */
static void guest_adds_connectors(void **state)
{
	struct ctx *c = ctx_new(state, 4, 1);

	guest_write(c, "device/vdispl/0/1/resolution", HUGE);
	guest_write(c, "device/vdispl/0/2/resolution", HUGE);
	guest_write(c, "device/vdispl/0/3/resolution", HUGE);
	assert_refused(c, "1/resolution");
}

/* The connector's directory is the guest's: it replaces the toolstack's resolution. */
static void guest_replaces_resolution(void **state)
{
	struct ctx *c = ctx_new(state, 1, 1);

	assert_int_equal(c->bad_hv->impl->xs_rm(c->bad_hv, VD_XS_NO_TXN, "device/vdispl/0/0"), 0);
	guest_write(c, "device/vdispl/0/0/resolution", HUGE);
	assert_refused(c, "0/resolution");
}

/* What the toolstack wrote read-only is trusted: the same guest, left alone, connects. */
static void toolstack_settings_trusted(void **state)
{
	struct ctx *c = ctx_new(state, 2, 2);
	struct dev_seen s;
	char *log;

	assert_true(h_run_until(&c->h, bad_settled, c, 5000));
	s = bad_dev(c);
	assert_int_equal(s.be_state, XenbusStateConnected);
	assert_int_equal(s.nconn, 2);
	assert_int_equal(s.max_width, 320);
	log = h_log_text(&c->log);
	assert_null(strstr(log, "refusing the device"));
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(guest_adds_connectors, ctx_free),
	    cmocka_unit_test_teardown(guest_replaces_resolution, ctx_free),
	    cmocka_unit_test_teardown(toolstack_settings_trusted, ctx_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
