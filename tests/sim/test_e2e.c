/* SPDX-License-Identifier: MIT */
/*
 * End to end over the simulated hypervisor: guests connect, create
 * buffers, set a mode and flip; every frame that reaches the output is
 * the one the guest drew, and every flip gets exactly one event.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>
#include <xen/io/xenbus.h>

#include "harness.h"
#include "log.h"

#define FRAMES 600u
#define FAST_VBLANK 2000000u /* 2 kHz: the flip loop runs fast, still vblank-paced */

static void run_guests(bool copy, uint32_t nguests, const uint32_t *nconn)
{
	struct harness h;
	struct vd_simfront *g[4];
	struct vd_output_stats os;
	uint64_t mode_sets = 0;

	h_init(&h, copy, FAST_VBLANK);
	for (uint32_t i = 0; i < nguests; i++) {
		mode_sets += nconn[i];
		struct vd_simfront_opts o = {.nconn = nconn[i], .width = 320, .height = 200,
					     .frames = FRAMES};
		char name[16];

		snprintf(name, sizeof(name), "guest%u", i);
		g[i] = h_guest(&h, name, &o);
	}
	assert_true(h_run_until(&h, h_all_finished, NULL, 60000));
	for (uint32_t i = 0; i < nguests; i++)
		h_assert_clean(&h, g[i], nconn[i], FRAMES);
	vd_output_get_stats(h.out, &os);
	if (copy)
		/* once per flip and once per mode set, no more */
		assert_int_equal(os.copies, os.flips + mode_sets);
	else
		assert_int_equal(os.copies, 0);
	h_fini(&h);
}

static void one_guest_direct(void **state)
{
	const uint32_t nconn[] = {1};

	run_guests(false, 1, nconn);
}

static void one_guest_copy(void **state)
{
	const uint32_t nconn[] = {1};

	run_guests(true, 1, nconn);
}

static void three_guests_many_connectors(void **state)
{
	const uint32_t nconn[] = {1, 2, 4};

	run_guests(false, 3, nconn);
	run_guests(true, 3, nconn);
}

/* Odd widths and 16/24-bit formats: the stride rules of both Linux layouts. */
static void formats_and_strides(void **state)
{
	static const struct {
		uint32_t fourcc, width;
		bool align8;
	} cases[] = {
		{0x36314752 /* RG16 */, 333, false}, {0x36314752, 333, true},
		{0x34324752 /* RG24 */, 333, false}, {0x34324752, 331, true},
		{0x56595559 /* YUYV */, 322, false}, {0x34325241 /* AR24 */, 101, false},
		{0x32315258 /* XR12 */, 97, true},
	};

	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (int copy = 0; copy < 2; copy++) {
			struct harness h;
			struct vd_simfront_opts o = {.nconn = 1, .width = cases[c].width,
						     .height = 61, .frames = 30,
						     .fourcc = cases[c].fourcc,
						     .pitch_align8 = cases[c].align8};
			struct vd_simfront *g;

			h_init(&h, copy, FAST_VBLANK);
			g = h_guest(&h, "fmt", &o);
			assert_true(h_run_until(&h, h_all_finished, NULL, 20000));
			h_assert_clean(&h, g, 1, 30);
			h_fini(&h);
		}
	}
}

/*
 * One framebuffer spanning a guest's connectors side by side (SET_CONFIG
 * x = 0, 320, 640), as multi-head KMS programs use xen-front: each
 * connector shows exactly its own window of each flipped fb, direct and
 * copied, and at the end the shared buffers go once no connector flips them.
 */
static void one_fb_spans_connectors(void **state)
{
	for (int copy = 0; copy < 2; copy++) {
		struct harness h;
		struct vd_simfront_opts o = {.nconn = 3, .width = 320, .height = 200,
					     .frames = 120, .span = true, .nbufs = 3,
					     .destroy_at_end = true};
		struct vd_simfront *g;
		struct vd_output_stats os;

		h_init(&h, copy, FAST_VBLANK);
		g = h_guest(&h, "span", &o);
		assert_true(h_run_until(&h, h_all_finished, NULL, 20000));
		h_assert_clean(&h, g, 3, 120);
		assert_true(h_stats(g).buffers_destroyed);
		assert_int_equal(h_stats(g).deferred_ends, 0);
		vd_output_get_stats(h.out, &os);
		/* copied: one connector's window per flip, not the whole fb */
		if (copy)
			assert_int_equal(os.bytes_copied, (os.flips + 3) * 320u * 200u * 4u);
		h_fini(&h);
	}
}

/*
 * A fresh buffer every frame, the previous one detached and destroyed
 * while it is still on screen (until the new frame's vblank): every frame
 * pixel-exact, every request answered with success, direct and copied.
 */
static bool requests_reach(struct harness *h, void *g)
{
	return h_stats(g).requests == 2u * (1 + 81 * 2 + 80 + 80 * 2);
}

static void churn_every_frame(void **state)
{
	for (int copy = 0; copy < 2; copy++) {
		struct harness h;
		struct vd_simfront_opts o = {.nconn = 2, .width = 256, .height = 160,
					     .frames = 80, .churn = true};
		struct vd_simfront *g;

		h_init(&h, copy, FAST_VBLANK);
		g = h_guest(&h, "churn", &o);
		assert_true(h_run_until(&h, h_all_finished, NULL, 20000));
		h_assert_clean(&h, g, 2, 80);
		/* 81 buffers per connector came, all went but the last (the last goes after) */
		assert_true(h_run_until(&h, requests_reach, g, 2000));
		assert_int_equal(h_stats(g).errors_churn, 0);
		assert_int_equal(h_stats(g).deferred_ends, 0);
		h_fini(&h);
	}
}

/* The client exits: disable, detach, destroy; nothing stays mapped. */
static void destroy_releases_everything(void **state)
{
	struct harness h;
	struct vd_simfront_opts o = {.nconn = 2, .width = 256, .height = 128, .frames = 50,
				     .destroy_at_end = true, .nbufs = 3};
	struct vd_simfront *g;
	struct vd_sim_stats ss;

	h_init(&h, false, FAST_VBLANK);
	g = h_guest(&h, "destroyer", &o);
	assert_true(h_run_until(&h, h_all_finished, NULL, 20000));
	assert_true(h_stats(g).buffers_destroyed);
	assert_int_equal(h_stats(g).deferred_ends, 0);
	assert_int_equal(vd_sim_domain_stats(vd_sim_from_hv(h.hv), vd_simfront_domid(g), &ss), 0);
	assert_int_equal(ss.pages_mapped, 4); /* only the two connectors' ring + event pages */
	h_fini(&h);
}

/* The daemon goes away and comes back: the frontend reconnects and draws again. */
static void backend_restart_reconnects(void **state)
{
	struct harness h;
	struct vd_simfront_opts o = {.nconn = 1, .width = 128, .height = 64};
	struct vd_simfront *g;
	struct vd_sim_stats ss;
	uint64_t before;

	h_init(&h, false, FAST_VBLANK);
	g = h_guest(&h, "restart", &o);
	assert_true(h_run_until(&h, h_guest_connected, g, 5000));
	h_run_for(&h, 200);
	before = h_stats(g).frames_done;
	assert_true(before > 10);
	h_backend_stop(&h);
	assert_int_equal(vd_sim_domain_stats(vd_sim_from_hv(h.hv), vd_simfront_domid(g), &ss), 0);
	assert_int_equal(ss.pages_mapped, 0);
	h_run_for(&h, 50);
	assert_int_equal(h_stats(g).state, XenbusStateInitialising);
	h_backend_start(&h);
	assert_true(h_run_until(&h, h_guest_connected, g, 5000));
	assert_int_equal(h_stats(g).connects, 2);
	h_run_for(&h, 200);
	assert_true(h_stats(g).frames_done > before + 10);
	assert_int_equal(h_stats(g).watchdogs, 0);
	h_fini(&h);
}

static bool h_guest_finished_destroy(struct harness *h, void *guest)
{
	return h_stats(guest).destroyed;
}

/* The frontend driver is removed and probed again while flipping. */
static void frontend_reprobe_reconnects(void **state)
{
	struct harness h;
	struct vd_simfront_opts o = {.nconn = 2, .width = 128, .height = 64};
	struct vd_simfront *g;
	uint64_t before;

	h_init(&h, false, FAST_VBLANK);
	g = h_guest(&h, "reprobe", &o);
	assert_true(h_run_until(&h, h_guest_connected, g, 5000));
	h_run_for(&h, 100);
	before = h_stats(g).frames_done;
	assert_int_equal(vd_simfront_reprobe(g), 0);
	h_run_for(&h, 20);
	assert_true(h_run_until(&h, h_guest_connected, g, 5000));
	assert_int_equal(h_stats(g).connects, 2);
	/* the backend unmapped everything before the frontend ended its grants */
	assert_int_equal(h_stats(g).deferred_ends, 0);
	h_run_for(&h, 200);
	assert_true(h_stats(g).frames_done > before + 20);
	assert_int_equal(h_stats(g).watchdogs, 0);
	assert_int_equal(h_track_of(&h, vd_simfront_domid(g), 1)->bad, 0);
	h_fini(&h);
}

/* A guest dies mid-flip: everything of it is released, the other keeps flipping. */
static void guest_destroyed_mid_flip(void **state)
{
	struct harness h;
	struct vd_simfront_opts o = {.nconn = 2, .width = 200, .height = 100};
	struct vd_simfront *a, *b;
	struct vd_backend_stats bs;
	struct vd_sim_stats ss;
	uint64_t b_before;

	h_init(&h, false, FAST_VBLANK);
	a = h_guest(&h, "victim", &o);
	b = h_guest(&h, "survivor", &o);
	assert_true(h_run_until(&h, h_guest_connected, a, 5000));
	assert_true(h_run_until(&h, h_guest_connected, b, 5000));
	h_run_for(&h, 200);
	assert_int_equal(vd_simfront_kill(a), 0);
	b_before = h_stats(b).frames_done;
	h_run_for(&h, 300);
	vd_backend_get_stats(h.be, &bs);
	assert_int_equal(bs.devices, 1);
	assert_int_equal(vd_sim_domain_stats(vd_sim_from_hv(h.hv), vd_simfront_domid(a), &ss), 0);
	assert_int_equal(ss.pages_mapped, 0);
	assert_true(h_stats(b).frames_done > b_before + 20);
	assert_int_equal(h_stats(b).watchdogs, 0);
	assert_int_equal(h_track_of(&h, vd_simfront_domid(b), 1)->bad, 0);
	h_fini(&h);
}

/* xl destroy in libxl's order: the backend says Closed well inside libxl's 10 s. */
static void xl_destroy_mid_flip(void **state)
{
	struct harness h;
	struct vd_simfront_opts o = {.nconn = 2, .width = 200, .height = 100};
	struct vd_simfront *a, *b;
	struct vd_sim_stats ss;
	uint64_t b_before;

	h_init(&h, false, FAST_VBLANK);
	a = h_guest(&h, "destroyed", &o);
	b = h_guest(&h, "bystander", &o);
	assert_true(h_run_until(&h, h_guest_connected, a, 5000));
	assert_true(h_run_until(&h, h_guest_connected, b, 5000));
	h_run_for(&h, 100);
	b_before = h_stats(b).frames_done;
	assert_int_equal(vd_simfront_xl_destroy(a), 0);
	assert_true(h_run_until(&h, h_guest_finished_destroy, a, 2000));
	assert_int_equal(h_stats(a).toolstack_timeouts, 0);
	h_run_for(&h, 50);
	assert_int_equal(vd_sim_domain_stats(vd_sim_from_hv(h.hv), vd_simfront_domid(a), &ss), 0);
	assert_int_equal(ss.pages_mapped, 0);
	assert_true(h_stats(b).frames_done > b_before + 20);
	assert_int_equal(h_stats(b).watchdogs, 0);
	h_fini(&h);
}

/* Shutdown with guests connected: they are told, nothing stays mapped. */
static void shutdown_with_guests(void **state)
{
	struct harness h;
	struct vd_simfront_opts o = {.nconn = 1, .width = 64, .height = 64};
	struct vd_simfront *g[3];
	struct vd_sim_stats ss;

	h_init(&h, true, FAST_VBLANK);
	for (int i = 0; i < 3; i++)
		g[i] = h_guest(&h, "g", &o);
	for (int i = 0; i < 3; i++)
		assert_true(h_run_until(&h, h_guest_connected, g[i], 5000));
	h_run_for(&h, 100);
	h_backend_stop(&h);
	h_run_for(&h, 50);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(h_stats(g[i]).state, XenbusStateInitialising);
		vd_sim_domain_stats(vd_sim_from_hv(h.hv), vd_simfront_domid(g[i]), &ss);
		assert_int_equal(ss.pages_mapped, 0);
		assert_int_equal(h_stats(g[i]).deferred_ends, 0);
	}
	h_fini(&h);
}

static bool backend_initwait(struct harness *h, void *guest)
{
	char path[128];
	uint32_t state;

	snprintf(path, sizeof(path), "/local/domain/0/backend/vdispl/%u/0/state",
		 vd_simfront_domid(guest));
	return vd_xs_read_u32(h->hv, VD_XS_NO_TXN, path, &state) == 0 && state >= 2;
}

/* libxl gives the backend 10 s to reach InitWait; vdispld takes one watch event. */
static void initwait_quickly(void **state)
{
	struct harness h;
	struct vd_simfront_opts o = {.nconn = 1, .width = 64, .height = 64, .no_client = true};
	struct vd_simfront *g;
	char path[128], *val;
	size_t len;
	uint64_t t0;

	h_init(&h, false, FAST_VBLANK);
	t0 = vd_now_ms();
	g = h_guest(&h, "quick", &o);
	assert_true(h_run_until(&h, backend_initwait, g, 1000));
	assert_true(vd_now_ms() - t0 < 500);
	snprintf(path, sizeof(path), "/local/domain/0/backend/vdispl/%u/0/versions",
		 vd_simfront_domid(g));
	assert_int_equal(h.hv->impl->xs_read(h.hv, VD_XS_NO_TXN, path, &val, &len), 0);
	assert_string_equal(val, "1,2");
	free(val);
	assert_true(h_run_until(&h, h_guest_connected, g, 1000));
	h_fini(&h);
}

/* At 60 Hz the flips are paced by the virtual vblank. */
static void vblank_paced_at_60hz(void **state)
{
	struct harness h;
	struct vd_simfront_opts o = {.nconn = 1, .width = 64, .height = 64, .frames = 30};
	struct vd_simfront *g;
	uint64_t t0;

	h_init(&h, false, 60000);
	g = h_guest(&h, "paced", &o);
	assert_true(h_run_until(&h, h_guest_connected, g, 5000));
	t0 = vd_now_ms();
	assert_true(h_run_until(&h, h_all_finished, NULL, 10000));
	assert_true(vd_now_ms() - t0 >= 29 * 1000 / 60); /* never faster than the vblank */
	h_assert_clean(&h, g, 1, 30);
	h_fini(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_guest_direct),
		cmocka_unit_test(one_guest_copy),
		cmocka_unit_test(three_guests_many_connectors),
		cmocka_unit_test(formats_and_strides),
		cmocka_unit_test(destroy_releases_everything),
		cmocka_unit_test(one_fb_spans_connectors),
		cmocka_unit_test(churn_every_frame),
		cmocka_unit_test(backend_restart_reconnects),
		cmocka_unit_test(frontend_reprobe_reconnects),
		cmocka_unit_test(guest_destroyed_mid_flip),
		cmocka_unit_test(xl_destroy_mid_flip),
		cmocka_unit_test(shutdown_with_guests),
		cmocka_unit_test(vblank_paced_at_60hz),
		cmocka_unit_test(initwait_quickly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
