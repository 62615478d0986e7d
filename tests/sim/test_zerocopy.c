/* SPDX-License-Identifier: MIT */
/*
 * Zero-copy over the simulated hypervisor: guest buffers exported as
 * dma-bufs, backend-allocated buffers granted to the guest, and the
 * DESTROY gate that answers only once nothing here holds the buffer.
 *
 * "lag" (lag.h) is an importer that releases buffers late.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include <cmocka.h>

#include "harness.h"
#include "lag.h"
#include "log.h"
#include "output/output_impl.h"

#define FAST_VBLANK 2000000u

static struct vd_sim_stats dom_stats(struct harness *h, uint32_t domid)
{
	struct vd_sim_stats s;

	assert_int_equal(vd_sim_domain_stats(vd_sim_from_hv(h->hv), domid, &s), 0);
	return s;
}

/* The guest's account counts the grant mappings the sim has, and the fds it holds. */
static void assert_counted(struct harness *h, struct vd_simfront *g, uint64_t fds)
{
	struct vd_res_use u[VD_RES_COUNT];

	assert_int_equal(vd_backend_guest_resources(h->be, vd_simfront_domid(g), u), 0);
	assert_int_equal(u[VD_RES_MAPS].used, dom_stats(h, vd_simfront_domid(g)).pages_mapped);
	assert_int_equal(u[VD_RES_FDS].used, fds);
}

static struct vd_backend_stats be_stats(struct harness *h)
{
	struct vd_backend_stats s;

	vd_backend_get_stats(h->be, &s);
	return s;
}

/* Frontend-allocated buffers go out as dma-bufs; frames stay pixel-exact, no copy. */
static void exported_and_released(void **state)
{
	struct harness h;
	struct vd_simfront_opts o = {.nconn = 2, .width = 200, .height = 120, .frames = 30,
				     .destroy_at_end = true};
	struct vd_simfront *g;
	struct vd_output_stats os;

	h_init(&h, false, 60000); /* slow enough to look while it flips */
	g = h_guest(&h, "zc", &o);
	assert_true(h_run_until(&h, h_guest_connected, g, 5000));
	h_run_for(&h, 100);
	assert_int_equal(dom_stats(&h, vd_simfront_domid(g)).dmabufs_exported, 4);
	assert_int_equal(be_stats(&h).zero_copy, 1);
	assert_true(h_run_until(&h, h_all_finished, NULL, 20000));
	h_assert_clean(&h, g, 2, 30);
	assert_true(h_stats(g).buffers_destroyed);
	assert_int_equal(h_stats(g).deferred_ends, 0);
	assert_int_equal(dom_stats(&h, vd_simfront_domid(g)).dmabufs_exported, 0);
	assert_int_equal(dom_stats(&h, vd_simfront_domid(g)).pages_mapped, 4); /* rings */
	vd_output_get_stats(h.out, &os);
	assert_int_equal(os.copies, 0);
	assert_int_equal(be_stats(&h).gates.immediate, 4);
	h_fini(&h);
}

struct find_conn {
	uint32_t domid;
	struct vd_output_conn *oconn;
};

static void find_conn(void *userdata, const struct vd_dev_info *d)
{
	struct find_conn *f = userdata;

	if (d->domid == f->domid && d->nconn)
		f->oconn = d->conns[0].oconn;
}

/*
 * A zero-copy buffer costs one grant mapping a page, the export's; a CPU
 * view is mapped only when something reads its pixels (here a view, as a
 * screenshot takes), charged to the guest, and goes with the buffer.
 */
static void cpu_view_only_when_read(void **state)
{
	struct harness h;
	struct vd_simfront_opts o = {.nconn = 1, .width = 320, .height = 240, .frames = 120,
				     .destroy_at_end = true};
	struct vd_simfront *g;
	struct find_conn f = {0};
	struct vd_frame_view v;
	struct vd_sim_stats s;
	const uint64_t pages = 320 * 240 * 4 / 4096, rings = 2;
	struct vd_res_use u[VD_RES_COUNT];
	uint32_t seed = 0;
	uint64_t fds;

	h_init(&h, false, 60000);
	h_backend_stop(&h);
	h.bopts.on_frame = NULL; /* nobody reads the frames */
	h_backend_start(&h);
	g = h_guest(&h, "zc", &o);
	assert_true(h_run_until(&h, h_guest_connected, g, 5000));
	h_run_for(&h, 200);
	s = dom_stats(&h, vd_simfront_domid(g));
	assert_true(s.dmabufs_exported >= 1);
	assert_int_equal(s.pages_mapped, rings + pages * s.dmabufs_exported);
	assert_int_equal(vd_backend_guest_resources(h.be, vd_simfront_domid(g), u), 0);
	fds = u[VD_RES_FDS].used;
	assert_counted(&h, g, fds);

	f.domid = vd_simfront_domid(g);
	vd_backend_foreach_device(h.be, find_conn, &f);
	assert_non_null(f.oconn);
	assert_true(vd_output_conn_view(f.oconn, &v));
	assert_true(vd_simfront_check_frame(&v, &seed) >= 0); /* the guest's picture */
	assert_int_equal(seed, vd_simfront_seed(f.domid, 0));
	s = dom_stats(&h, vd_simfront_domid(g));
	assert_int_equal(s.pages_mapped, rings + pages * (s.dmabufs_exported + 1));
	assert_counted(&h, g, fds); /* the maps, and no fd more */

	assert_true(h_run_until(&h, h_guest_finished, g, 20000));
	assert_true(h_stats(g).buffers_destroyed);
	s = dom_stats(&h, vd_simfront_domid(g));
	assert_int_equal(s.dmabufs_exported, 0);
	assert_int_equal(s.pages_mapped, rings);
	assert_counted(&h, g, 0);
	h_fini(&h);
}

/*
 * A guest whose exports fill its grant-map cap gets no CPU view: the read
 * fails (a screenshot errs, a composition shows black), counted as a
 * refusal; its frames go on.
 */
static void cpu_view_at_the_cap(void **state)
{
	struct harness h;
	struct vd_backend_opts bo = VD_BACKEND_OPTS_DEFAULT;
	struct vd_simfront_opts o = {.nconn = 1, .width = 320, .height = 240};
	struct vd_simfront *g;
	struct find_conn f = {0};
	struct vd_frame_view v;
	struct vd_res_use u[VD_RES_COUNT];
	uint64_t frames, mapped;

	bo.bufs.caps.max_grant_maps = 2 + 2 * 75 + 20; /* rings, two exports, not a view more */
	h_init_with(&h, NULL, &bo, false, 60000);
	h_backend_stop(&h);
	h.bopts.on_frame = NULL;
	h_backend_start(&h);
	g = h_guest(&h, "capped", &o);
	assert_true(h_run_until(&h, h_guest_connected, g, 5000));
	h_run_for(&h, 200);
	mapped = dom_stats(&h, vd_simfront_domid(g)).pages_mapped;
	assert_int_equal(mapped, 2 + 2 * 75);
	f.domid = vd_simfront_domid(g);
	vd_backend_foreach_device(h.be, find_conn, &f);
	assert_non_null(f.oconn);
	assert_false(vd_output_conn_view(f.oconn, &v));
	assert_int_equal(vd_backend_guest_resources(h.be, f.domid, u), 0);
	assert_true(u[VD_RES_MAPS].refused >= 1);
	assert_int_equal(u[VD_RES_MAPS].used, mapped);
	assert_int_equal(dom_stats(&h, f.domid).pages_mapped, mapped);
	frames = h_stats(g).frames_done;
	h_run_for(&h, 200);
	assert_true(h_stats(g).frames_done >= frames + 6); /* 60 Hz, still */
	h_fini(&h);
}

/* An importer holds the buffer: DESTROY is answered when it lets go, and nobody waits. */
static void destroy_waits_for_release(void **state)
{
	struct harness h;
	struct vd_backend_opts bo = VD_BACKEND_OPTS_DEFAULT;
	struct vd_simfront_opts o = {.nconn = 1, .width = 128, .height = 64, .frames = 20,
				     .destroy_at_end = true};
	struct vd_simfront_opts busy = {.nconn = 1, .width = 128, .height = 64};
	struct vd_simfront *g, *other;
	uint64_t other_before;

	bo.bufs.destroy_timeout_ms = 2000;
	h_init_with(&h, lag_wrap, &bo, false, FAST_VBLANK);
	the_lag->hold = true;
	other = h_guest(&h, "busy", &busy);
	g = h_guest(&h, "holder", &o);
	assert_true(h_run_until(&h, h_guest_connected, g, 5000));
	h_run_for(&h, 300);
	assert_false(h_stats(g).finished); /* its first DESTROY waits */
	assert_int_equal(be_stats(&h).gates.waiting, 1);
	other_before = h_stats(other).frames_done;
	h_run_for(&h, 100);
	assert_true(h_stats(other).frames_done > other_before + 20); /* never blocks others */
	lag_release(the_lag);
	the_lag->hold = false;
	assert_true(h_run_until(&h, h_guest_finished, g, 2000));
	assert_true(h_stats(g).buffers_destroyed); /* answered 0, in time */
	assert_int_equal(h_stats(g).deferred_ends, 0);
	assert_int_equal(be_stats(&h).gates.waiting, 0);
	assert_true(be_stats(&h).gates.released >= 1);
	assert_int_equal(h_stats(g).timeouts, 0);
	h_fini(&h);
}

/* Past the deadline the guest gets an error; the buffer waits on the retry list. */
static void deadline_then_retry_list(void **state)
{
	struct harness h;
	struct vd_backend_opts bo = VD_BACKEND_OPTS_DEFAULT;
	struct vd_simfront_opts o = {.nconn = 1, .width = 128, .height = 64, .frames = 10,
				     .destroy_at_end = true};
	struct vd_simfront *g;
	uint32_t domid;

	bo.bufs.destroy_timeout_ms = 100;
	h_init_with(&h, lag_wrap, &bo, false, FAST_VBLANK);
	the_lag->hold = true;
	g = h_guest(&h, "late", &o);
	domid = vd_simfront_domid(g);
	assert_true(h_run_until(&h, h_guest_finished, g, 5000));
	assert_false(h_stats(g).buffers_destroyed); /* -ETIMEDOUT, well inside 3000 ms */
	assert_int_equal(h_stats(g).timeouts, 0);
	assert_int_equal(be_stats(&h).gates.retrying, 2);
	assert_int_equal(dom_stats(&h, domid).dmabufs_exported, 2); /* nothing forced */
	lag_release(the_lag);
	h_run_for(&h, 1500);
	assert_int_equal(be_stats(&h).gates.waiting, 0);
	assert_int_equal(be_stats(&h).gates.retrying, 0);
	assert_int_equal(be_stats(&h).gates.released_late, 2);
	assert_int_equal(dom_stats(&h, domid).dmabufs_exported, 0);
	assert_int_equal(dom_stats(&h, domid).pages_mapped, 2); /* ring + event page */
	h_fini(&h);
}

/* The guest dies while its buffer is held: nothing leaks once the importer lets go. */
static void domain_death_while_held(void **state)
{
	struct harness h;
	struct vd_simfront_opts o = {.nconn = 1, .width = 128, .height = 64};
	struct vd_simfront *g;
	uint32_t domid;

	h_init_with(&h, lag_wrap, NULL, false, FAST_VBLANK);
	the_lag->hold = true;
	g = h_guest(&h, "dying", &o);
	domid = vd_simfront_domid(g);
	assert_true(h_run_until(&h, h_guest_connected, g, 5000));
	h_run_for(&h, 100);
	assert_int_equal(vd_simfront_kill(g), 0);
	h_run_for(&h, 50);
	assert_int_equal(be_stats(&h).devices, 0);
	assert_int_equal(be_stats(&h).gates.waiting, 2);
	lag_release(the_lag);
	h_run_for(&h, 300);
	assert_int_equal(be_stats(&h).gates.waiting, 0);
	assert_int_equal(dom_stats(&h, domid).pages_mapped, 0);
	h_fini(&h);
}

/* be-alloc: the backend allocates, grants, and takes its grants back. */
static void backend_allocated(void **state)
{
	struct harness h;
	struct vd_simfront_opts o = {.nconn = 2, .width = 160, .height = 100, .frames = 30,
				     .destroy_at_end = true, .be_alloc = true};
	struct vd_simfront *g;
	uint32_t pages = (160 * 4 * 100 + 4095) / 4096;

	h_init(&h, false, 60000); /* slow enough to look while it flips */
	g = h_guest(&h, "bealloc", &o);
	assert_true(h_run_until(&h, h_guest_connected, g, 5000));
	h_run_for(&h, 50);
	assert_int_equal(dom_stats(&h, 0).imports_granted, 4 * pages);
	assert_int_equal(be_stats(&h).zero_copy, 1); /* reported so in status */
	assert_true(h_run_until(&h, h_all_finished, NULL, 20000));
	h_assert_clean(&h, g, 2, 30);
	assert_true(h_stats(g).buffers_destroyed);
	assert_int_equal(dom_stats(&h, 0).imports_granted, 0);
	assert_int_equal(dom_stats(&h, 0).deferred_ends, 0); /* the guest unmapped first */
	h_fini(&h);
}

/* Zero-copy off by configuration: grant mapping, same pictures. */
static void zero_copy_disabled(void **state)
{
	struct harness h;
	struct vd_backend_opts bo = VD_BACKEND_OPTS_DEFAULT;
	struct vd_simfront_opts o = {.nconn = 1, .width = 100, .height = 50, .frames = 40};
	struct vd_simfront *g;

	bo.bufs.zero_copy = false;
	h_init_with(&h, NULL, &bo, true, FAST_VBLANK);
	g = h_guest(&h, "nozc", &o);
	assert_true(h_run_until(&h, h_all_finished, NULL, 20000));
	h_assert_clean(&h, g, 1, 40);
	assert_counted(&h, g, 0);
	assert_int_equal(dom_stats(&h, vd_simfront_domid(g)).dmabufs_exported, 0);
	assert_int_equal(be_stats(&h).zero_copy, 0);
	assert_int_equal(be_stats(&h).copy_only, 1);
	h_fini(&h);
}

static unsigned count_fds(void)
{
	unsigned n = 0;
	char path[64];

	for (int fd = 0; fd < 4096; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n += access(path, F_OK) == 0;
	}
	return n;
}

/* fe-alloc and be-alloc side by side, 600 frames each: exact, no copy, nothing left. */
static void six_hundred_frames_no_copy(void **state)
{
	struct harness h;
	struct vd_simfront_opts fe = {.nconn = 1, .width = 320, .height = 200, .frames = 600,
				      .destroy_at_end = true};
	struct vd_simfront_opts be = fe;
	struct vd_simfront *a, *b;
	struct vd_output_stats os;
	unsigned fds = count_fds();

	be.be_alloc = true;
	h_init(&h, false, FAST_VBLANK);
	a = h_guest(&h, "fe-alloc", &fe);
	b = h_guest(&h, "be-alloc", &be);
	assert_true(h_run_until(&h, h_all_finished, NULL, 60000));
	h_assert_clean(&h, a, 1, 600);
	h_assert_clean(&h, b, 1, 600);
	assert_true(h_stats(a).buffers_destroyed && h_stats(b).buffers_destroyed);
	vd_output_get_stats(h.out, &os);
	assert_int_equal(os.copies, 0);
	assert_int_equal(os.flips, 1200);
	assert_int_equal(dom_stats(&h, vd_simfront_domid(a)).dmabufs_exported, 0);
	assert_int_equal(dom_stats(&h, 0).imports_granted, 0);
	assert_int_equal(dom_stats(&h, 0).deferred_ends, 0);
	assert_int_equal(dom_stats(&h, vd_simfront_domid(a)).deferred_ends, 0);
	h_fini(&h);
	assert_int_equal(count_fds(), fds); /* no fd left behind */
}

/* Where the export is refused the guest is grant-mapped instead, and says so. */
static void fallback_when_export_refused(void **state)
{
	static const int refusals[] = {-EINVAL, -EOPNOTSUPP};

	for (unsigned i = 0; i < 2; i++) {
		struct harness h;
		struct vd_simfront_opts o = {.nconn = 1, .width = 100, .height = 50, .frames = 40,
					     .destroy_at_end = true};
		struct vd_simfront *g;

		h_init(&h, false, FAST_VBLANK);
		assert_int_equal(vd_sim_refuse_dmabuf_export(vd_sim_from_hv(h.hv), refusals[i]), 0);
		g = h_guest(&h, "refused", &o);
		assert_true(h_run_until(&h, h_guest_connected, g, 5000));
		h_run_for(&h, 10);
		assert_int_equal(be_stats(&h).zero_copy, 0);
		assert_int_equal(be_stats(&h).copy_only, 1);
		assert_counted(&h, g, 0);
		assert_true(h_run_until(&h, h_all_finished, NULL, 20000));
		h_assert_clean(&h, g, 1, 40);
		assert_true(h_stats(g).buffers_destroyed);
		assert_int_equal(dom_stats(&h, vd_simfront_domid(g)).dmabufs_exported, 0);
		assert_int_equal(dom_stats(&h, vd_simfront_domid(g)).deferred_ends, 0);
		h_fini(&h);
	}
}

static void on_resp(void *userdata, const struct xendispl_resp *rsp)
{
	struct xendispl_resp *out = userdata;

	*out = rsp ? *rsp : (struct xendispl_resp){.status = -9999};
	out->reserved = 1; /* answered */
}

static bool answered(struct harness *h, void *resp)
{
	return ((struct xendispl_resp *)resp)->reserved == 1;
}

static void send(struct harness *h, struct vd_simfront *g, uint32_t ring,
		 const struct xendispl_req *req, struct xendispl_resp *resp)
{
	memset(resp, 0, sizeof(*resp));
	assert_int_equal(vd_simfront_send_raw(g, ring, req, on_resp, resp), 0);
}

static void dbuf_req(struct xendispl_req *req, uint64_t cookie, struct vd_simfront_buf *b)
{
	memset(req, 0, sizeof(*req));
	req->operation = XENDISPL_OP_DBUF_CREATE;
	req->op.dbuf_create = (struct xendispl_dbuf_create_req){
		.dbuf_cookie = cookie, .width = 64, .height = 16, .bpp = 32,
		.buffer_sz = 64 * 16 * 4, .gref_directory = b->dir_grefs[0]};
}

/*
 * wait_released finds an export by fd number: while A's DESTROY waits, B's
 * export must not get A's number, or A's gate would wait on B.
 */
static void fd_number_not_reused(void **state)
{
	struct harness h;
	struct vd_backend_opts bo = VD_BACKEND_OPTS_DEFAULT;
	struct vd_simfront_opts o = {.nconn = 2, .width = 64, .height = 16, .no_client = true};
	struct vd_simfront_buf *a, *b;
	struct xendispl_resp ra, rb;
	struct xendispl_req req;
	struct vd_simfront *g;

	bo.bufs.destroy_timeout_ms = 1000;
	h_init_with(&h, lag_wrap, &bo, false, FAST_VBLANK);
	the_lag->hold = true;
	g = h_guest(&h, "reuse", &o);
	assert_true(h_run_until(&h, h_guest_connected, g, 5000));
	assert_int_equal(vd_simfront_buf_alloc(g, 1, &a), 0);
	assert_int_equal(vd_simfront_buf_alloc(g, 1, &b), 0);
	dbuf_req(&req, 0xa, a);
	send(&h, g, 0, &req, &ra);
	assert_true(h_run_until(&h, answered, &ra, 1000));
	assert_int_equal(ra.status, 0);
	memset(&req, 0, sizeof(req));
	req.operation = XENDISPL_OP_FB_ATTACH;
	req.op.fb_attach = (struct xendispl_fb_attach_req){0xa, 0xfa, 64, 16, 0x34325258};
	send(&h, g, 0, &req, &ra);
	assert_true(h_run_until(&h, answered, &ra, 1000));
	assert_int_equal(ra.status, 0);
	memset(&req, 0, sizeof(req));
	req.operation = XENDISPL_OP_DBUF_DESTROY; /* drops the fb; the importer holds on */
	req.op.dbuf_destroy.dbuf_cookie = 0xa;
	send(&h, g, 0, &req, &ra);
	h_run_for(&h, 50);
	assert_false(answered(&h, &ra));
	dbuf_req(&req, 0xb, b); /* a new export while A's waits, on the other ring */
	send(&h, g, 1, &req, &rb);
	assert_true(h_run_until(&h, answered, &rb, 1000));
	assert_int_equal(rb.status, 0);
	lag_release(the_lag);
	assert_true(h_run_until(&h, answered, &ra, 500)); /* before the 1000 ms deadline */
	assert_int_equal(ra.status, 0);
	vd_simfront_buf_free(g, a);
	vd_simfront_buf_free(g, b);
	h_fini(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(exported_and_released),
		cmocka_unit_test(cpu_view_only_when_read),
		cmocka_unit_test(cpu_view_at_the_cap),
		cmocka_unit_test(destroy_waits_for_release),
		cmocka_unit_test(deadline_then_retry_list),
		cmocka_unit_test(domain_death_while_held),
		cmocka_unit_test(backend_allocated),
		cmocka_unit_test(zero_copy_disabled),
		cmocka_unit_test(fd_number_not_reused),
		cmocka_unit_test(six_hundred_frames_no_copy),
		cmocka_unit_test(fallback_when_export_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
