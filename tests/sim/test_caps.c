/* SPDX-License-Identifier: MIT */
/*
 * One guest at its resource caps (docs/resources.md) changes nothing for
 * another: it gets error statuses for what is over its budget, and the
 * other guest - connected before the attack or after it - keeps its
 * buffers, its zero-copy and its frames. One case per shared resource:
 * Dom0's maptrack (grant mappings), the fd table, backend memory, and the
 * DESTROY retry list.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <errno.h>
#include <xen/io/xenbus.h>

#include "harness.h"
#include "lag.h"
#include "log.h"

#define FAST_VBLANK 2000000u
#define RSP_WAIT_MS 5000u
#define XRGB8888 0x34325258u
#define MIB (1024u * 1024u)

struct ctx {
	struct harness h;
	struct vd_simfront *good, *bad;
	uint32_t bad_domid;
};

static bool connected(struct harness *h, void *guest)
{
	return h_guest_connected(h, guest);
}

static bool warm(struct harness *h, void *guest)
{
	return h_stats(guest).frames_done >= 20;
}

/* A well-behaved guest, flipping (started before or after the attack). */
static struct vd_simfront *neighbour(struct ctx *c, const char *name, bool be_alloc)
{
	struct vd_simfront_opts o = {.nconn = 1, .width = 160, .height = 120, .be_alloc = be_alloc};

	c->good = h_guest(&c->h, name, &o);
	assert_true(h_run_until(&c->h, warm, c->good, 10000));
	return c->good;
}

static void attacker(struct ctx *c, bool be_alloc)
{
	struct vd_simfront_opts o = {
	    .nconn = 1, .width = 320, .height = 240, .no_client = true, .be_alloc = be_alloc};

	c->bad = h_guest(&c->h, "attacker", &o);
	c->bad_domid = vd_simfront_domid(c->bad);
	assert_true(h_run_until(&c->h, connected, c->bad, 5000));
}

/* The neighbour flipped on, clean: pixel-exact, no error, no timeout. */
static void assert_neighbour_clean(struct ctx *c)
{
	struct vd_simfront_stats s = h_stats(c->good);
	struct h_track *t = h_track_of(&c->h, vd_simfront_domid(c->good), 0);
	uint64_t before = s.frames_done;

	h_run_for(&c->h, 100);
	s = h_stats(c->good);
	assert_true(s.frames_done >= before + 10);
	assert_int_equal(s.errors, 0);
	assert_int_equal(s.timeouts, 0);
	assert_int_equal(s.watchdogs, 0);
	assert_int_equal(t->bad, 0);
}

/* Zero-copy state of domid's device: VD_ZC_*. */
struct zc_find {
	uint32_t domid;
	int zc;
	char reason[96];
};

static void zc_of_dev(void *userdata, const struct vd_dev_info *d)
{
	struct zc_find *f = userdata;

	if (d->domid == f->domid && d->has_bufs) {
		f->zc = d->bufs.zc;
		snprintf(f->reason, sizeof(f->reason), "%s", d->bufs.zc_reason);
	}
}

static int zc_state(struct ctx *c, struct vd_simfront *g)
{
	struct zc_find f = {.domid = vd_simfront_domid(g), .zc = -1};

	vd_backend_foreach_device(c->h.be, zc_of_dev, &f);
	if (f.zc == VD_ZC_OFF)
		print_message("dom%u zero-copy off: %s\n", f.domid, f.reason);
	return f.zc;
}

/* ---- raw requests of the attacker ---- */

struct rsp_wait {
	bool done;
	struct xendispl_resp rsp;
};

static void on_rsp(void *userdata, const struct xendispl_resp *rsp)
{
	struct rsp_wait *w = userdata;

	w->done = true;
	w->rsp = rsp ? *rsp : (struct xendispl_resp){.status = -ETIMEDOUT};
}

static bool rsp_done(struct harness *h, void *arg)
{
	return ((struct rsp_wait *)arg)->done;
}

static int32_t send_req(struct ctx *c, struct xendispl_req *r)
{
	struct rsp_wait w = {0};

	assert_int_equal(vd_simfront_send_raw(c->bad, 0, r, on_rsp, &w), 0);
	assert_true(h_run_until(&c->h, rsp_done, &w, RSP_WAIT_MS));
	return w.rsp.status;
}

static int32_t dbuf_create(struct ctx *c, uint64_t cookie, const struct vd_simfront_buf *b,
			   uint32_t pages)
{
	struct xendispl_req r = {.operation = XENDISPL_OP_DBUF_CREATE};

	r.op.dbuf_create.dbuf_cookie = cookie;
	r.op.dbuf_create.buffer_sz = pages * VD_PAGE_SIZE;
	r.op.dbuf_create.gref_directory = b->dir_grefs[0];
	r.op.dbuf_create.flags = b->be_alloc ? XENDISPL_DBUF_FLG_REQ_ALLOC : 0;
	return send_req(c, &r);
}

static int32_t dbuf_destroy(struct ctx *c, uint64_t cookie)
{
	struct xendispl_req r = {.operation = XENDISPL_OP_DBUF_DESTROY};

	r.op.dbuf_destroy.dbuf_cookie = cookie;
	return send_req(c, &r);
}

static int32_t fb_attach(struct ctx *c, uint64_t dbuf, uint64_t fb)
{
	struct xendispl_req r = {.operation = XENDISPL_OP_FB_ATTACH};

	r.op.fb_attach.dbuf_cookie = dbuf;
	r.op.fb_attach.fb_cookie = fb;
	r.op.fb_attach.width = 32;
	r.op.fb_attach.height = 32;
	r.op.fb_attach.pixel_format = XRGB8888;
	return send_req(c, &r);
}

static struct vd_sim_stats dom_stats(struct ctx *c, uint32_t domid)
{
	struct vd_sim_stats s;

	assert_int_equal(vd_sim_domain_stats(vd_sim_from_hv(c->h.hv), domid, &s), 0);
	return s;
}

static void ctx_init(struct ctx *c, h_wrap_output wrap, const struct vd_backend_opts *bo)
{
	memset(c, 0, sizeof(*c));
	h_init_with(&c->h, wrap, bo, false, FAST_VBLANK);
}

/* ---- Dom0's maptrack ---- */

/*
 * Buffers of halving sizes, each kept if it is accepted, fill Dom0's
 * maptrack as far as the guest is let. It must leave room for the other
 * backends of Dom0 (a blkback mapping of another guest's pages) and for a
 * neighbour that creates buffers afterwards.
 */
static void maptrack_left_to_others(void **state)
{
	struct ctx c;
	struct vd_simfront_buf *big[17], *nb;
	struct vd_gnt *blkback;
	const struct vd_hv_impl *hv;
	uint32_t accepted = 0, refused = 0, n = 0;
	uint64_t cookie = 1;
	void *addr;

	ctx_init(&c, NULL, NULL);
	hv = c.h.hv->impl;
	neighbour(&c, "neighbour", false);
	attacker(&c, false);
	for (uint32_t pages = VD_MAX_BUFFER_PAGES; pages >= 1; pages /= 2, n++) {
		assert_int_equal(vd_simfront_buf_alloc(c.bad, pages, &big[n]), 0);
		for (int k = 0; k < 4; k++) {
			int32_t st = dbuf_create(&c, cookie++, big[n], pages);

			assert_true(st == 0 || st == -ENOSPC);
			accepted += st == 0;
			refused += st != 0;
			if (st)
				break;
		}
	}
	print_message("attacker: %u buffers accepted, %u refused; Dom0 maptrack %llu of %u\n",
		      accepted, refused, (unsigned long long)dom_stats(&c, 0).maptrack_used,
		      VD_SIM_MAPTRACK_DEFAULT);
	assert_true(refused >= 1);
	/* The daemon counts the mappings Xen counts: per guest, and all of Dom0's. */
	{
		struct vd_res_use u[VD_RES_COUNT];

		assert_int_equal(vd_backend_guest_resources(c.h.be, c.bad_domid, u), 0);
		assert_int_equal(u[VD_RES_MAPS].used, dom_stats(&c, c.bad_domid).pages_mapped);
		assert_true(u[VD_RES_MAPS].refused >= 1);
		vd_backend_resources(c.h.be, u);
		assert_int_equal(u[VD_RES_MAPS].used, dom_stats(&c, 0).maptrack_used);
	}
	/* Another backend of Dom0 maps a neighbour's 4 MiB. */
	assert_int_equal(vd_simfront_buf_alloc(c.good, 1024, &nb), 0);
	assert_int_equal(hv->gnt_open(c.h.hv, &blkback), 0);
	assert_int_equal(hv->gnt_map(blkback, vd_simfront_domid(c.good), 1024, nb->grefs, false,
				     &addr),
			 0);
	assert_int_equal(hv->gnt_unmap(blkback, addr, 1024), 0);
	hv->gnt_close(blkback);
	vd_simfront_buf_free(c.good, nb);
	/* The neighbour starts over (driver reload): new buffers, zero-copy. */
	assert_int_equal(vd_simfront_reprobe(c.good), 0);
	h_run_for(&c.h, 200);
	assert_neighbour_clean(&c);
	assert_int_equal(zc_state(&c, c.good), VD_ZC_ON);
	h_backend_stop(&c.h);
	for (uint32_t i = 0; i < n; i++)
		vd_simfront_buf_free(c.bad, big[i]);
	h_fini(&c.h);
}

/* The attacker's cap is the whole global cap: only the reservations stop it. */
static void lookup_greedy(void *userdata, uint32_t domid, const char *name,
			  struct vd_guest_settings *inout)
{
	if (!strcmp(name, "attacker"))
		inout->bufs.caps.max_grant_maps = 65536;
}

/*
 * A guest allowed the whole global cap of grant maps takes the shared
 * half and its reservation, no more: the guest connected before it starts
 * over and gets its buffers, and so does one that connects afterwards,
 * both zero-copy.
 */
static void global_cap_fair_share(void **state)
{
	struct ctx c;
	struct vd_backend_opts bo = VD_BACKEND_OPTS_DEFAULT;
	struct vd_simfront_buf *b;
	struct vd_simfront *first;
	struct vd_res_use u[VD_RES_COUNT];
	uint32_t accepted = 0;
	int32_t st = 0;

	bo.limits.v[VD_RES_MAPS] = 65536;
	bo.guest_lookup = lookup_greedy;
	ctx_init(&c, NULL, &bo);
	first = neighbour(&c, "neighbour", false);
	attacker(&c, false);
	assert_int_equal(vd_simfront_buf_alloc(c.bad, 1024, &b), 0);
	for (uint64_t i = 1; i <= 64 && st == 0; i++) {
		st = dbuf_create(&c, i, b, 1024);
		accepted += st == 0;
	}
	assert_int_equal(st, -ENOSPC);
	vd_backend_guest_resources(c.h.be, c.bad_domid, u);
	print_message("attacker: %u buffers of 4 MiB, %llu grant maps of 65536\n", accepted,
		      (unsigned long long)u[VD_RES_MAPS].used);
	/* Everything but the other 7 reservations (4096 each). */
	assert_true(u[VD_RES_MAPS].used <= 65536 - 7 * 4096);
	assert_int_equal(vd_simfront_reprobe(first), 0);
	h_run_for(&c.h, 200);
	assert_neighbour_clean(&c);
	assert_int_equal(zc_state(&c, first), VD_ZC_ON);
	neighbour(&c, "late-neighbour", false);
	assert_neighbour_clean(&c);
	assert_int_equal(zc_state(&c, c.good), VD_ZC_ON);
	h_backend_stop(&c.h);
	vd_simfront_buf_free(c.bad, b);
	h_fini(&c.h);
}

/* ---- the fd table ---- */

static struct rlimit saved_nofile;

static void nofile_soft(rlim_t n)
{
	struct rlimit rl;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved_nofile), 0);
	rl = saved_nofile;
	rl.rlim_cur = n < rl.rlim_max ? n : rl.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

static unsigned open_fds(void)
{
	unsigned n = 0;
	char path[64];

	for (int fd = 0; fd < 4096; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n += access(path, F_OK) == 0;
	}
	return n;
}

/*
 * With the soft limit at 1024, as a daemon started by hand has it, one
 * guest makes buffers and framebuffers until it is refused. A neighbour
 * that connects afterwards gets zero-copy and flips; the process keeps
 * fds to spare.
 */
static void fd_budget(void **state)
{
	struct ctx c;
	struct vd_simfront_buf *b;
	uint32_t dbufs = 0, fbs = 0, errors = 0;
	int32_t st = 0;

	nofile_soft(1024);
	ctx_init(&c, NULL, NULL);
	attacker(&c, false);
	assert_int_equal(vd_simfront_buf_alloc(c.bad, 1, &b), 0);
	for (uint64_t i = 1; i <= 256 && errors < 8; i++) {
		st = dbuf_create(&c, i, b, 1);
		assert_true(st == 0 || st == -EMFILE);
		dbufs += st == 0;
		errors += st != 0;
		for (uint64_t k = 0; st == 0 && k < 2 && errors < 8; k++) {
			int32_t fst = fb_attach(&c, i, i * 16 + k);

			assert_true(fst == 0 || fst == -EMFILE);
			fbs += fst == 0;
			errors += fst != 0;
		}
	}
	print_message("attacker: %u buffers, %u framebuffers, %u refused (last %d); %u fds open\n",
		      dbufs, fbs, errors, st, open_fds());
	assert_true(errors >= 1);
	assert_true(open_fds() < 1024 - 100);
	neighbour(&c, "late-neighbour", false);
	assert_neighbour_clean(&c);
	assert_int_equal(zc_state(&c, c.good), VD_ZC_ON);
	h_backend_stop(&c.h);
	vd_simfront_buf_free(c.bad, b);
	h_fini(&c.h);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved_nofile), 0);
}

/* ---- backend memory ---- */

/* Bytes allocated in this process's be-alloc buffers (the daemon's memory), each file once. */
static uint64_t be_alloc_bytes(void)
{
	uint64_t total = 0;
	ino_t seen[256];
	unsigned nseen = 0;
	char path[64], target[256];

	for (int fd = 0; fd < 4096; fd++) {
		struct stat st;
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (!strstr(target, "vdispld-be-alloc") || fstat(fd, &st) < 0)
			continue;
		for (unsigned i = 0; i < nseen && st.st_ino; i++)
			if (seen[i] == st.st_ino)
				st.st_ino = 0;
		if (st.st_ino && nseen < 256)
			seen[nseen++] = st.st_ino;
		if (st.st_ino)
			total += (uint64_t)st.st_blocks * 512u;
	}
	return total;
}

/*
 * A be-alloc guest asks for 4 x 32 MiB and writes every page: the daemon
 * allocates no more than the guest's cap, and a be-alloc neighbour still
 * gets its buffers.
 */
static void backend_memory_cap(void **state)
{
	struct ctx c;
	struct vd_simfront_buf *b[4];
	uint32_t accepted = 0;
	const uint32_t pages = 32 * MIB / VD_PAGE_SIZE;

	ctx_init(&c, NULL, NULL);
	neighbour(&c, "neighbour", true);
	attacker(&c, true);
	for (int i = 0; i < 4; i++) {
		int32_t st;

		assert_int_equal(vd_simfront_buf_alloc_dir(c.bad, pages, &b[i]), 0);
		st = dbuf_create(&c, 100 + i, b[i], pages);
		assert_true(st == 0 || st == -ENOMEM);
		if (st)
			continue;
		accepted++;
		assert_int_equal(vd_simfront_buf_map_backend(c.bad, b[i]), 0);
		memset(b[i]->data, 0x5a, (size_t)pages * VD_PAGE_SIZE);
	}
	print_message("attacker: %u of 4 x 32 MiB accepted; be-alloc memory %.1f MiB\n", accepted,
		      (double)be_alloc_bytes() / MIB);
	assert_true(accepted <= 2);
	assert_true(be_alloc_bytes() <= 64 * MIB + 4 * MIB);
	assert_int_equal(vd_simfront_reprobe(c.good), 0);
	h_run_for(&c.h, 200);
	assert_neighbour_clean(&c);
	for (int i = 0; i < 4; i++) {
		if (b[i]->data)
			vd_simfront_buf_unmap_backend(c.bad, b[i]);
	}
	h_backend_stop(&c.h);
	for (int i = 0; i < 4; i++)
		vd_simfront_buf_free(c.bad, b[i]);
	h_fini(&c.h);
}

/* ---- the DESTROY retry list ---- */

static uint32_t gates_waiting(struct ctx *c)
{
	struct vd_backend_stats s;

	vd_backend_get_stats(c->h.be, &s);
	return s.gates.waiting;
}

/*
 * An importer holds every buffer it is given; one guest creates, shows
 * and destroys buffers 40 times. Its DESTROYs are answered -ETIMEDOUT at
 * the deadline and the buffers wait on the retry list - a bounded list:
 * its next buffers are refused there. A neighbour flips on, and a guest
 * that connects then gets its buffers, zero-copy.
 */
static void retry_list_bounded(void **state)
{
	struct ctx c;
	struct vd_backend_opts bo = VD_BACKEND_OPTS_DEFAULT;
	struct vd_simfront_buf *b;
	uint32_t refused = 0, max_waiting = 0;

	bo.bufs.destroy_timeout_ms = 20;
	ctx_init(&c, lag_wrap, &bo);
	neighbour(&c, "neighbour", false);
	attacker(&c, false);
	the_lag->hold = true;
	assert_int_equal(vd_simfront_buf_alloc(c.bad, 1, &b), 0);
	for (uint64_t i = 1; i <= 40; i++) {
		int32_t st = dbuf_create(&c, i, b, 1);

		assert_true(st == 0 || st == -EBUSY);
		if (st) {
			refused++;
			continue;
		}
		assert_int_equal(fb_attach(&c, i, i), 0);
		st = dbuf_destroy(&c, i);
		assert_true(st == 0 || st == -ETIMEDOUT);
		if (gates_waiting(&c) > max_waiting)
			max_waiting = gates_waiting(&c);
	}
	print_message("attacker: %u of 40 refused; retry list up to %u\n", refused, max_waiting);
	assert_true(refused >= 1);
	assert_true(max_waiting <= 16 + 1);
	/* The neighbour flips on; a guest that comes now gets its buffers, zero-copy. */
	assert_neighbour_clean(&c);
	neighbour(&c, "late-neighbour", false);
	assert_neighbour_clean(&c);
	assert_int_equal(zc_state(&c, c.good), VD_ZC_ON);
	/* Released: the list empties and the guest gets buffers again. */
	lag_release(the_lag);
	the_lag->hold = false;
	h_run_for(&c.h, 1500);
	assert_int_equal(gates_waiting(&c), 0);
	assert_int_equal(dbuf_create(&c, 1000, b, 1), 0);
	h_backend_stop(&c.h);
	vd_simfront_buf_free(c.bad, b);
	h_fini(&c.h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(maptrack_left_to_others),
	    cmocka_unit_test(global_cap_fair_share),
	    cmocka_unit_test(fd_budget),
	    cmocka_unit_test(backend_memory_cap),
	    cmocka_unit_test(retry_list_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
