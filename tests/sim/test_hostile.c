/* SPDX-License-Identifier: MIT */
/*
 * Hostile guests over the simulated hypervisor (DESIGN.md "Trust boundary",
 * PROTOCOL.md §1.4-1.6, §6). In every case a well-behaved guest flips
 * frames during and after the attack and must not notice anything: its
 * frames keep coming, pixel-exact, with no watchdog, timeout or error. The
 * hostile guest only connects (no_client) and the test speaks for it, through
 * the simulated frontend's raw hooks or by writing its shared pages directly.
 * Every hostile action is answered with a specific error status, or closes
 * the hostile device alone - and each case asserts which.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <xen/io/xenbus.h>

#include "harness.h"
#include "log.h"

/*
 * Zero-copy (the default) maps each guest buffer page once, for the
 * dma-buf export; a CPU view is mapped only when an output reads the
 * pixels, which none of these buffers is shown for.
 */
#define MAPS_PER_PAGE 1
#define FAST_VBLANK 2000000u /* 2 kHz, as test_e2e */
#define GOOD_W 160u
#define GOOD_H 120u
#define BAD_W 320u
#define BAD_H 240u
#define XRGB8888 0x34325258u
#define RING_SLOTS 32u
#define MAX_HBUFS 16u
/* The good guest runs this long after every attack. */
#define AFTER_MS 150u
/* Frames the good guest must complete over an attack window, and after it. */
#define MIN_WINDOW_FRAMES 40u
#define MIN_AFTER_FRAMES 20u
#define RSP_WAIT_MS 2000u /* well under the frontend's 3000 ms timeout */
/*
 * Hostile requests are spread out: the good guest flips between them, so
 * every attack overlaps its flip loop, not only precedes it.
 */
#define PACE_MS 2u
/* And over the whole attack it keeps at least this rate (frames per second). */
#define MIN_RATE_FPS 20u

struct ctx {
	struct harness h;
	struct vd_simfront *good, *bad;
	uint32_t good_domid, bad_domid;
	uint64_t good_before; /* frames_done at attack start */
	uint64_t t_before;
	struct vd_backend_stats bs_before;
	struct vd_simfront_buf *bufs[MAX_HBUFS]; /* the hostile guest's crafted buffers */
	uint32_t nbufs;
	uint32_t bad_nconn;
	uint32_t pace_ms;      /* the loop runs this long after each hostile response */
	uint32_t bad_connects; /* expected hostile connects (reconnects after a close) */
	/* Every transition of the hostile backend state into Closed, seen by a post source. */
	sd_event_source *post;
	int bad_last_state;
	uint32_t bad_closes;
	uint64_t mapped_at_close; /* hostile pages still mapped when it went Closed */
};

/* ---- fixture ---- */

static bool both_connected(struct harness *h, void *arg)
{
	struct ctx *c = arg;

	return h_guest_connected(h, c->good) && h_guest_connected(h, c->bad);
}

static bool good_warm(struct harness *h, void *arg)
{
	return h_stats(((struct ctx *)arg)->good).frames_done >= 20;
}

static int be_state(struct ctx *c);
static uint64_t bad_mapped(struct ctx *c);

/*
 * Runs (at top priority) after every dispatch of any other source, so a
 * transient Closed is seen before the frontend can react to it.
 */
static int on_post(sd_event_source *s, void *userdata)
{
	struct ctx *c = userdata;
	int st = be_state(c);

	if (st == XenbusStateClosed && c->bad_last_state != XenbusStateClosed) {
		c->bad_closes++;
		c->mapped_at_close = bad_mapped(c);
	}
	c->bad_last_state = st;
	return 0;
}

static void attack_begin(struct ctx *c)
{
	c->good_before = h_stats(c->good).frames_done;
	c->t_before = vd_now_ms();
	vd_backend_get_stats(c->h.be, &c->bs_before);
}

static struct ctx *ctx_new_opts(bool copy, uint32_t bad_nconn)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct vd_simfront_opts go = {.nconn = 1, .width = GOOD_W, .height = GOOD_H};
	struct vd_simfront_opts bo = {
	    .nconn = bad_nconn, .width = BAD_W, .height = BAD_H, .no_client = true};

	assert_non_null(c);
	h_init(&c->h, copy, FAST_VBLANK);
	c->good = h_guest(&c->h, "good", &go);
	c->bad = h_guest(&c->h, "hostile", &bo);
	c->good_domid = vd_simfront_domid(c->good);
	c->bad_domid = vd_simfront_domid(c->bad);
	c->bad_nconn = bad_nconn;
	c->pace_ms = PACE_MS;
	c->bad_connects = 1;
	assert_int_equal(sd_event_add_post(c->h.loop, &c->post, on_post, c), 0);
	assert_int_equal(sd_event_source_set_priority(c->post, SD_EVENT_PRIORITY_IMPORTANT), 0);
	assert_true(h_run_until(&c->h, both_connected, c, 5000));
	assert_true(h_run_until(&c->h, good_warm, c, 5000));
	attack_begin(c);
	return c;
}

static struct ctx *ctx_new(void)
{
	return ctx_new_opts(false, 1);
}

/* The well-behaved guest is unharmed: flipping, pixel-exact, never waiting. */
static void assert_good_clean(struct ctx *c)
{
	struct vd_simfront_stats s = h_stats(c->good);
	struct h_track *t = h_track_of(&c->h, c->good_domid, 0);

	assert_int_equal(s.state, XenbusStateConnected);
	assert_int_equal(s.connects, 1);
	assert_int_equal(s.watchdogs, 0);
	assert_int_equal(s.timeouts, 0);
	assert_int_equal(s.errors, 0);
	assert_int_equal(s.events_skipped, 0);
	/* One event per flip; at most one of them between response and event. */
	assert_true(s.events <= s.flips + 1 && s.flips <= s.events + 1);
	assert_true(t->shown > 0);
	assert_int_equal(t->bad, 0);
	assert_int_equal(t->out_of_order, 0);
}

/* The good guest made real progress since attack_begin; then it runs on. */
static void attack_end(struct ctx *c)
{
	uint64_t during = h_stats(c->good).frames_done - c->good_before, after0, after;
	uint64_t attack_ms = vd_now_ms() - c->t_before;

	assert_good_clean(c);
	/*
	 * Kept flipping all along the attack, not only after it. (The rate is
	 * far below the 2 kHz vblank: a loaded CI machine must not fail it; a
	 * starved guest makes next to nothing.) Attacks shorter than a few
	 * scheduler slices are judged by the window check below.
	 */
	if (attack_ms >= 100)
		assert_true(during * 1000 >= attack_ms * MIN_RATE_FPS);
	after0 = h_stats(c->good).frames_done;
	h_run_for(&c->h, AFTER_MS);
	after = h_stats(c->good).frames_done - after0;
	if (getenv("VD_HOSTILE_VERBOSE"))
		print_message("good guest: %llu frames during the attack (%llu ms), %llu after\n",
			      (unsigned long long)during, (unsigned long long)attack_ms,
			      (unsigned long long)after);
	assert_true(during + after >= MIN_WINDOW_FRAMES);
	assert_true(after >= MIN_AFTER_FRAMES);
	assert_good_clean(c);
}

static void ctx_free(struct ctx *c)
{
	c->post = sd_event_source_disable_unref(c->post);
	/* The backend first, so that no buffer is still mapped when the guest frees it. */
	h_backend_stop(&c->h);
	for (uint32_t i = 0; i < c->nbufs; i++)
		vd_simfront_buf_free(c->bad, c->bufs[i]);
	h_fini(&c->h);
	free(c);
}

/* ---- the hostile device, seen from the backend ---- */

static int be_state(struct ctx *c)
{
	char path[128];
	uint32_t v;

	snprintf(path, sizeof(path), "/local/domain/0/backend/vdispl/%u/0/state", c->bad_domid);
	return vd_xs_read_u32(c->h.hv, VD_XS_NO_TXN, path, &v) < 0 ? -1 : (int)v;
}

static struct vd_backend_stats be_stats(struct ctx *c)
{
	struct vd_backend_stats s;

	vd_backend_get_stats(c->h.be, &s);
	return s;
}

/* Pages of the hostile domain the daemon maps now. */
static uint64_t bad_mapped(struct ctx *c)
{
	struct vd_sim_stats ss;

	assert_int_equal(vd_sim_domain_stats(vd_sim_from_hv(c->h.hv), c->bad_domid, &ss), 0);
	return ss.pages_mapped;
}

/* Ring + event page per connector. */
static uint64_t transport_pages(struct ctx *c)
{
	return 2ull * c->bad_nconn;
}

/* Error answered, device still served: no close, no reconnect. */
static void assert_bad_alive(struct ctx *c)
{
	assert_int_equal(be_state(c), XenbusStateConnected);
	assert_int_equal(h_stats(c->bad).state, XenbusStateConnected);
	assert_int_equal(h_stats(c->bad).connects, c->bad_connects);
	assert_int_equal(be_stats(c).protocol_errors, c->bs_before.protocol_errors);
	assert_int_equal(h_stats(c->bad).timeouts, 0);
}

static bool closes_reached(struct harness *h, void *arg)
{
	struct ctx *c = arg;

	return c->bad_closes >= c->bad_connects;
}

static bool bad_reconnected(struct harness *h, void *arg)
{
	struct ctx *c = arg;

	return be_state(c) == XenbusStateConnected && h_guest_connected(h, c->bad) &&
	       h_stats(c->bad).connects == c->bad_connects;
}

/*
 * The hostile device was closed for a violation (backend Closed, one more
 * protocol error, nothing of it mapped), and only it. The frontend then
 * re-initialises as Linux does and the device is served again.
 */
static void assert_bad_closed_then_back(struct ctx *c, uint64_t nviolations)
{
	/* closes_reached: one close per connection so far */
	assert_true(h_run_until(&c->h, closes_reached, c, 2000));
	assert_int_equal(c->bad_closes, nviolations);
	assert_int_equal(c->mapped_at_close, 0); /* torn down before it said Closed */
	assert_int_equal(be_stats(c).protocol_errors, c->bs_before.protocol_errors + nviolations);
	assert_int_equal(be_stats(c).devices, 2);
	c->bad_connects++;
	assert_true(h_run_until(&c->h, bad_reconnected, c, 3000));
	assert_int_equal(bad_mapped(c), transport_pages(c));
	assert_int_equal(h_stats(c->bad).deferred_ends, 0);
}

/* ---- requests through the frontend (one in flight, id by the frontend) ---- */

struct rsp_wait {
	bool done, timeout;
	struct xendispl_resp rsp;
};

static void on_rsp(void *userdata, const struct xendispl_resp *rsp)
{
	struct rsp_wait *w = userdata;

	w->done = true;
	if (rsp)
		w->rsp = *rsp;
	else
		w->timeout = true;
}

static bool rsp_done(struct harness *h, void *arg)
{
	return ((struct rsp_wait *)arg)->done;
}

static struct xendispl_resp send_on(struct ctx *c, uint32_t conn, const struct xendispl_req *req)
{
	struct rsp_wait w = {0};

	assert_int_equal(vd_simfront_send_raw(c->bad, conn, req, on_rsp, &w), 0);
	assert_true(h_run_until(&c->h, rsp_done, &w, RSP_WAIT_MS));
	assert_false(w.timeout);
	assert_int_equal(w.rsp.operation, req->operation);
	if (c->pace_ms)
		h_run_for(&c->h, c->pace_ms);
	return w.rsp;
}

static int32_t status_of(struct ctx *c, const struct xendispl_req *req)
{
	return send_on(c, 0, req).status;
}

/* ---- the hostile guest's memory ---- */

static struct vd_simfront_buf *hbuf(struct ctx *c, uint32_t pages)
{
	struct vd_simfront_buf *b = NULL;

	assert_true(c->nbufs < MAX_HBUFS);
	assert_int_equal(vd_simfront_buf_alloc(c->bad, pages, &b), 0);
	c->bufs[c->nbufs++] = b;
	return b;
}

/* Word 0 of directory page d is gref_dir_next_page, word 1 + i is gref[i]. */
static uint32_t *dir_words(struct vd_simfront_buf *b, uint32_t d)
{
	assert_true(d < b->num_dir);
	return (uint32_t *)((uint8_t *)b->dir + (size_t)d * VD_PAGE_SIZE);
}

static uint32_t full_size(uint32_t w, uint32_t h)
{
	return w * h * 4;
}

/* A valid BAD_W x BAD_H XRGB8888 dbuf with an fb; returns the fb cookie. */
static uint64_t make_fb(struct ctx *c, uint64_t dbuf_cookie, uint64_t fb_cookie)
{
	uint32_t size = full_size(BAD_W, BAD_H);
	struct vd_simfront_buf *b = hbuf(c, vd_pages_for_bytes(size));
	struct xendispl_req r = h_req_dbuf_create(dbuf_cookie, BAD_W, BAD_H, 32, size, b->dir_grefs[0]);

	assert_int_equal(status_of(c, &r), 0);
	r = h_req_fb_attach(dbuf_cookie, fb_cookie, BAD_W, BAD_H, XRGB8888);
	assert_int_equal(status_of(c, &r), 0);
	return fb_cookie;
}

/* A valid fb, shown on the hostile connector. */
static uint64_t make_shown_fb(struct ctx *c, uint64_t dbuf_cookie, uint64_t fb_cookie)
{
	struct xendispl_req r;

	make_fb(c, dbuf_cookie, fb_cookie);
	r = h_req_set_config(fb_cookie, 0, 0, BAD_W, BAD_H);
	assert_int_equal(status_of(c, &r), 0);
	return fb_cookie;
}

/* ---- the shared request ring, written directly ---- */

static struct xendispl_req *ring_req(struct xen_displif_sring *s, RING_IDX i)
{
	return &((struct xendispl_req *)((char *)s + 64))[i & (RING_SLOTS - 1)];
}

static const struct xendispl_resp *ring_rsp(struct xen_displif_sring *s, RING_IDX i)
{
	return &((const struct xendispl_resp *)((const char *)s + 64))[i & (RING_SLOTS - 1)];
}

static RING_IDX rsp_prod_now(struct xen_displif_sring *s)
{
	return __atomic_load_n(&s->rsp_prod, __ATOMIC_ACQUIRE);
}

static void push_reqs(struct xen_displif_sring *s, RING_IDX prod)
{
	__atomic_store_n(&s->req_prod, prod, __ATOMIC_RELEASE);
}

/* ---- cases ---- */

/* req_prod far ahead of what the ring can hold: the device is closed, nothing else. */
static void ring_prod_overflow(void **state)
{
	struct ctx *c = ctx_new();
	struct xen_displif_sring *s = vd_simfront_sring(c->bad, 0);
	struct xendispl_req r;

	assert_non_null(s);
	assert_int_equal(s->req_prod, rsp_prod_now(s));
	push_reqs(s, rsp_prod_now(s) + 1000);
	assert_int_equal(vd_simfront_notify(c->bad, 0), 0);
	assert_bad_closed_then_back(c, 1);
	/* The new connection is served again. */
	r = h_req_pg_flip(0x5151);
	assert_int_equal(status_of(c, &r), -ENOENT);
	attack_end(c);
	ctx_free(c);
}

/* req_prod moved backwards (below the responses already produced): closed. */
static void ring_prod_backwards(void **state)
{
	struct ctx *c = ctx_new();
	struct xen_displif_sring *s = vd_simfront_sring(c->bad, 0);
	struct xendispl_req r = h_req_pg_flip(0x77);

	/* A few answered requests first, so the indices are not at 0. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(status_of(c, &r), -ENOENT);
	push_reqs(s, rsp_prod_now(s) - 2);
	assert_int_equal(vd_simfront_notify(c->bad, 0), 0);
	assert_bad_closed_then_back(c, 1);
	attack_end(c);
	ctx_free(c);
}

/* Unknown operations are answered -ENOSYS with id and operation echoed. */
static void unknown_opcodes(void **state)
{
	static const uint8_t ops[] = {0x7f, 0x00, 0x01, 0x0f, 0x17, 0x80, 0xff};
	struct ctx *c = ctx_new();

	for (unsigned i = 0; i < sizeof(ops); i++) {
		struct xendispl_req r = h_req(ops[i]);
		struct xendispl_resp rsp;

		memset(&r.op, 0x5a, sizeof(r.op)); /* junk payload */
		rsp = send_on(c, 0, &r);
		assert_int_equal(rsp.status, -ENOSYS);
		assert_int_equal(rsp.operation, ops[i]);
		assert_int_equal(rsp.reserved, 0);
	}
	assert_int_equal(be_stats(c).errors, c->bs_before.errors + sizeof(ops));
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

/* Cookie 0 is invalid; so is gref_directory 0. */
static void dbuf_cookie_zero(void **state)
{
	struct ctx *c = ctx_new();
	struct vd_simfront_buf *b = hbuf(c, 4);
	struct xendispl_req r = h_req_dbuf_create(0, 32, 32, 32, 4 * VD_PAGE_SIZE, b->dir_grefs[0]);

	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_dbuf_create(0x100, 32, 32, 32, 4 * VD_PAGE_SIZE, 0);
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_dbuf_destroy(0);
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_fb_attach(0, 0x200, 32, 32, XRGB8888);
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_fb_attach(0x100, 0, 32, 32, XRGB8888);
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_fb_detach(0);
	assert_int_equal(status_of(c, &r), -EINVAL);
	assert_int_equal(bad_mapped(c), transport_pages(c));
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

/* Two dbufs with one cookie: -EEXIST, the first stays usable; reuse after destroy is fine. */
static void dbuf_duplicate_cookie(void **state)
{
	struct ctx *c = ctx_new();
	struct vd_simfront_buf *a = hbuf(c, 16), *b = hbuf(c, 16);
	struct xendispl_req r = h_req_dbuf_create(0xd0b, 64, 64, 32, 16 * VD_PAGE_SIZE, a->dir_grefs[0]);

	assert_int_equal(status_of(c, &r), 0);
	assert_int_equal(bad_mapped(c), transport_pages(c) + MAPS_PER_PAGE * 16);
	r.op.dbuf_create.gref_directory = b->dir_grefs[0];
	assert_int_equal(status_of(c, &r), -EEXIST);
	assert_int_equal(bad_mapped(c), transport_pages(c) + MAPS_PER_PAGE * 16); /* b never mapped */
	r = h_req_fb_attach(0xd0b, 0xf0b, 64, 64, XRGB8888);
	assert_int_equal(status_of(c, &r), 0);
	r = h_req_fb_attach(0xd0b, 0xf0b, 64, 64, XRGB8888);
	assert_int_equal(status_of(c, &r), -EEXIST);
	r = h_req_dbuf_destroy(0xd0b);
	assert_int_equal(status_of(c, &r), 0);
	assert_int_equal(bad_mapped(c), transport_pages(c));
	r = h_req_dbuf_create(0xd0b, 64, 64, 32, 16 * VD_PAGE_SIZE, b->dir_grefs[0]);
	assert_int_equal(status_of(c, &r), 0);
	r = h_req_dbuf_destroy(0xd0b);
	assert_int_equal(status_of(c, &r), 0);
	r = h_req_dbuf_destroy(0xd0b);
	assert_int_equal(status_of(c, &r), -ENOENT);
	assert_int_equal(bad_mapped(c), transport_pages(c));
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

/* Flags other than REQ_ALLOC are -EINVAL; REQ_ALLOC without be-alloc is refused. */
static void dbuf_unknown_flags(void **state)
{
	static const uint32_t bad_flags[] = {1u << 1, 1u << 7, 1u << 31, 0xfffffffeu};
	struct ctx *c = ctx_new();
	struct vd_simfront_buf *b = hbuf(c, 4);
	struct xendispl_req r;

	for (unsigned i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
		r = h_req_dbuf_create(0x300 + i, 32, 32, 32, 4 * VD_PAGE_SIZE, b->dir_grefs[0]);
		r.op.dbuf_create.flags = bad_flags[i];
		assert_int_equal(status_of(c, &r), -EINVAL);
	}
	/* The frontend did not ask for be-alloc (be-alloc = 0 in xenstore). */
	r = h_req_dbuf_create(0x3ff, 32, 32, 32, 4 * VD_PAGE_SIZE, b->dir_grefs[0]);
	r.op.dbuf_create.flags = XENDISPL_DBUF_FLG_REQ_ALLOC;
	assert_true(status_of(c, &r) < 0);
	assert_int_equal(bad_mapped(c), transport_pages(c));
	/* Nothing was created under any of those cookies. */
	r = h_req_dbuf_destroy(0x300);
	assert_int_equal(status_of(c, &r), -ENOENT);
	r = h_req_dbuf_destroy(0x3ff);
	assert_int_equal(status_of(c, &r), -ENOENT);
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

/* buffer_sz cannot hold width * height * bpp, or is otherwise inconsistent. */
static void dbuf_buffer_too_small(void **state)
{
	struct ctx *c = ctx_new();
	struct vd_simfront_buf *b = hbuf(c, 4);
	uint32_t g = b->dir_grefs[0];
	struct xendispl_req r;

	r = h_req_dbuf_create(0x400, 640, 480, 32, 4 * VD_PAGE_SIZE, g); /* needs 300 pages */
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_dbuf_create(0x401, 64, 64, 32, 64 * 64 * 4 - 1, g); /* one byte short */
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_dbuf_create(0x402, 64, 64, 32, 0, g);
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_dbuf_create(0x403, 32, 32, 12, 4 * VD_PAGE_SIZE, g); /* bpp 12 */
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_dbuf_create(0x404, 32, 32, 32, 4 * VD_PAGE_SIZE, g);
	r.op.dbuf_create.data_ofs = 4 * VD_PAGE_SIZE; /* first pixel past the end */
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_dbuf_create(0x405, 32, 32, 32, 4 * VD_PAGE_SIZE, g);
	r.op.dbuf_create.data_ofs = 3 * VD_PAGE_SIZE + 1; /* image does not fit after it */
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_dbuf_create(0x406, 0, 0, 0, 4 * VD_PAGE_SIZE, g); /* imported: data_ofs past end */
	r.op.dbuf_create.data_ofs = 4 * VD_PAGE_SIZE;
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_dbuf_create(0x407, 32, 0, 32, 4 * VD_PAGE_SIZE, g); /* half-imported geometry */
	assert_int_equal(status_of(c, &r), -EINVAL);
	assert_int_equal(bad_mapped(c), transport_pages(c));
	/* The exact size is accepted. */
	r = h_req_dbuf_create(0x408, 32, 32, 32, 32 * 32 * 4, g); /* one page */
	assert_int_equal(status_of(c, &r), 0);
	assert_int_equal(bad_mapped(c), transport_pages(c) + MAPS_PER_PAGE * 1);
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

/* Geometry no display has, and sizes no gntdev would map. */
static void dbuf_absurd_geometry(void **state)
{
	struct ctx *c = ctx_new();
	struct vd_simfront_buf *b = hbuf(c, 4);
	uint32_t g = b->dir_grefs[0];
	struct xendispl_req r;

	r = h_req_dbuf_create(0x500, 100000, 100000, 32, 4 * VD_PAGE_SIZE, g);
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_dbuf_create(0x501, 100000, 100000, 32, 0xfffff000u, g);
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_dbuf_create(0x502, 8193, 1, 32, 4 * VD_PAGE_SIZE, g);
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_dbuf_create(0x503, 1, 0xffffffffu, 8, 0xffffffffu, g);
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_dbuf_create(0x504, 0, 0, 0, 0xffffffffu, g); /* 1 Mi pages */
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_fb_attach(0x505, 0x506, 100000, 100000, XRGB8888);
	assert_int_equal(status_of(c, &r), -EINVAL);
	assert_int_equal(bad_mapped(c), transport_pages(c));
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

/* 1100 pages need 2 directory pages; the first says it is the last. */
static void pgdir_short(void **state)
{
	struct ctx *c = ctx_new();
	struct vd_simfront_buf *b = hbuf(c, 1100);
	struct xendispl_req r =
	    h_req_dbuf_create(0x600, 1024, 1100, 32, 1100 * VD_PAGE_SIZE, b->dir_grefs[0]);

	assert_int_equal(b->num_dir, 2);
	dir_words(b, 0)[0] = 0;
	assert_int_equal(status_of(c, &r), -EINVAL);
	assert_int_equal(bad_mapped(c), transport_pages(c));
	/* Repaired, the same buffer is accepted. */
	dir_words(b, 0)[0] = b->dir_grefs[1];
	assert_int_equal(status_of(c, &r), 0);
	assert_int_equal(bad_mapped(c), transport_pages(c) + MAPS_PER_PAGE * 1100);
	r = h_req_dbuf_destroy(0x600);
	assert_int_equal(status_of(c, &r), 0);
	assert_int_equal(bad_mapped(c), transport_pages(c));
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

/* The last directory page does not end the chain. */
static void pgdir_long(void **state)
{
	struct ctx *c = ctx_new();
	struct vd_simfront_buf *one = hbuf(c, 16), *two = hbuf(c, 1100), *other = hbuf(c, 1);
	struct xendispl_req r;

	dir_words(one, 0)[0] = other->dir_grefs[0];
	r = h_req_dbuf_create(0x700, 64, 64, 32, 16 * VD_PAGE_SIZE, one->dir_grefs[0]);
	assert_int_equal(status_of(c, &r), -EINVAL);
	dir_words(two, 1)[0] = other->dir_grefs[0];
	r = h_req_dbuf_create(0x701, 1024, 1100, 32, 1100 * VD_PAGE_SIZE, two->dir_grefs[0]);
	assert_int_equal(status_of(c, &r), -EINVAL);
	/* A chain that points on at a gref that does not even exist. */
	dir_words(one, 0)[0] = 0xfffff;
	r = h_req_dbuf_create(0x702, 64, 64, 32, 16 * VD_PAGE_SIZE, one->dir_grefs[0]);
	assert_int_equal(status_of(c, &r), -EINVAL);
	assert_int_equal(bad_mapped(c), transport_pages(c));
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

/* A chain that points back at itself, or around a cycle. */
static void pgdir_loop(void **state)
{
	struct ctx *c = ctx_new();
	struct vd_simfront_buf *two = hbuf(c, 1100), *three = hbuf(c, 2100);
	struct xendispl_req r;

	dir_words(two, 0)[0] = two->dir_grefs[0]; /* self */
	r = h_req_dbuf_create(0x800, 1024, 1100, 32, 1100 * VD_PAGE_SIZE, two->dir_grefs[0]);
	assert_int_equal(status_of(c, &r), -EINVAL);
	dir_words(two, 0)[0] = two->dir_grefs[1];
	dir_words(two, 1)[0] = two->dir_grefs[1]; /* last page points at itself */
	assert_int_equal(status_of(c, &r), -EINVAL);
	dir_words(two, 1)[0] = two->dir_grefs[0]; /* 0 -> 1 -> 0 */
	assert_int_equal(status_of(c, &r), -EINVAL);
	assert_int_equal(three->num_dir, 3);
	dir_words(three, 1)[0] = three->dir_grefs[0]; /* 0 -> 1 -> 0 -> ... */
	r = h_req_dbuf_create(0x801, 1024, 2100, 32, 2100 * VD_PAGE_SIZE, three->dir_grefs[0]);
	assert_int_equal(status_of(c, &r), -EINVAL);
	assert_int_equal(bad_mapped(c), transport_pages(c));
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

/* Grant reference 0 (never handed to PV drivers) inside the directory. */
static void pgdir_gref_zero(void **state)
{
	struct ctx *c = ctx_new();
	struct vd_simfront_buf *b = hbuf(c, 16), *two = hbuf(c, 1100);
	struct xendispl_req r;

	dir_words(b, 0)[1 + 5] = 0;
	r = h_req_dbuf_create(0x900, 64, 64, 32, 16 * VD_PAGE_SIZE, b->dir_grefs[0]);
	assert_int_equal(status_of(c, &r), -EINVAL);
	dir_words(b, 0)[1 + 5] = b->grefs[5];
	dir_words(b, 0)[1 + 15] = 0; /* the last one */
	assert_int_equal(status_of(c, &r), -EINVAL);
	dir_words(two, 1)[1 + (1100 - 1023 - 1)] = 0; /* last gref, second directory page */
	r = h_req_dbuf_create(0x901, 1024, 1100, 32, 1100 * VD_PAGE_SIZE, two->dir_grefs[0]);
	assert_int_equal(status_of(c, &r), -EINVAL);
	assert_int_equal(bad_mapped(c), transport_pages(c));
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

/* Grants that do not exist, were ended, or are the guest's ring: an error or harmless. */
static void gref_never_granted(void **state)
{
	struct ctx *c = ctx_new();
	struct vd_simfront_buf *b = hbuf(c, 16), *gone;
	struct xendispl_req r;
	uint32_t gone_dir;

	dir_words(b, 0)[1 + 3] = 0xfffff;
	r = h_req_dbuf_create(0xa00, 64, 64, 32, 16 * VD_PAGE_SIZE, b->dir_grefs[0]);
	assert_true(status_of(c, &r) < 0);
	dir_words(b, 0)[1 + 3] = 0xffffffffu;
	assert_true(status_of(c, &r) < 0);
	dir_words(b, 0)[1 + 3] = b->grefs[3];
	r = h_req_dbuf_create(0xa01, 64, 64, 32, 16 * VD_PAGE_SIZE, 0xfffff); /* directory */
	assert_true(status_of(c, &r) < 0);
	r = h_req_get_edid(XENDISPL_EDID_MAX_SIZE, 0xfffff);
	assert_true(status_of(c, &r) < 0);
	/* A buffer the guest freed (grants ended) before handing it over. */
	assert_int_equal(vd_simfront_buf_alloc(c->bad, 16, &gone), 0);
	gone_dir = gone->dir_grefs[0];
	vd_simfront_buf_free(c->bad, gone);
	r = h_req_dbuf_create(0xa02, 64, 64, 32, 16 * VD_PAGE_SIZE, gone_dir);
	assert_true(status_of(c, &r) < 0);
	assert_int_equal(bad_mapped(c), transport_pages(c));
	/* Nothing half-created under those cookies. */
	r = h_req_fb_attach(0xa00, 0xb00, 64, 64, XRGB8888);
	assert_int_equal(status_of(c, &r), -ENOENT);
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

/* Flips of fbs that do not exist (here), and the good guest's cookies. */
static void pg_flip_unknown_fb(void **state)
{
	struct ctx *c = ctx_new();
	struct xendispl_req r;

	r = h_req_pg_flip(0x1234);
	assert_int_equal(status_of(c, &r), -ENOENT);
	r = h_req_pg_flip(0);
	assert_int_equal(status_of(c, &r), -EINVAL);
	/*
	 * Cookies are only unique per guest: the good guest's cookies (its
	 * simfront numbers them n * 0x10001000) mean nothing on this device.
	 */
	for (uint64_t n = 1; n <= 4; n++) {
		r = h_req_pg_flip(n * 0x10001000ull);
		assert_int_equal(status_of(c, &r), -ENOENT);
		r = h_req_set_config(n * 0x10001000ull, 0, 0, GOOD_W, GOOD_H);
		assert_int_equal(status_of(c, &r), -ENOENT);
		r = h_req_fb_detach(n * 0x10001000ull);
		assert_int_equal(status_of(c, &r), -ENOENT);
		r = h_req_dbuf_destroy(n * 0x10001000ull);
		assert_int_equal(status_of(c, &r), -ENOENT);
	}
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

/* FB_ATTACH to a dbuf that does not exist, or that cannot hold the fb. */
static void fb_attach_unknown_dbuf(void **state)
{
	struct ctx *c = ctx_new();
	struct vd_simfront_buf *b = hbuf(c, 4);
	struct xendispl_req r;

	r = h_req_fb_attach(0xc00, 0xc01, 32, 32, XRGB8888);
	assert_int_equal(status_of(c, &r), -ENOENT);
	r = h_req_dbuf_create(0xc10, 32, 32, 32, 32 * 32 * 4, b->dir_grefs[0]);
	assert_int_equal(status_of(c, &r), 0);
	r = h_req_fb_attach(0xc10, 0xc11, 33, 32, XRGB8888); /* wider than the buffer */
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_fb_attach(0xc10, 0xc11, 32, 33, XRGB8888); /* taller */
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_fb_attach(0xc10, 0xc11, 32, 32, 0x20202020u); /* no such fourcc */
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_fb_attach(0xc10, 0xc11, 0, 32, XRGB8888);
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_fb_detach(0xc11); /* none of those made an fb */
	assert_int_equal(status_of(c, &r), -ENOENT);
	r = h_req_fb_attach(0xc10, 0xc11, 32, 32, XRGB8888);
	assert_int_equal(status_of(c, &r), 0);
	r = h_req_fb_detach(0xc11);
	assert_int_equal(status_of(c, &r), 0);
	r = h_req_fb_detach(0xc11);
	assert_int_equal(status_of(c, &r), -ENOENT);
	/* An imported buffer (no geometry): the fb must still fit in its pages. */
	r = h_req_dbuf_create(0xc20, 0, 0, 0, VD_PAGE_SIZE, b->dir_grefs[0]);
	assert_int_equal(status_of(c, &r), 0);
	r = h_req_fb_attach(0xc20, 0xc21, 8192, 8192, XRGB8888);
	assert_int_equal(status_of(c, &r), -EINVAL);
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

/*
 * SET_CONFIG windows (the connector's 320x240, from x, y) that reach past
 * the fb (also 320x240), and fields out of range.
 */
static void set_config_out_of_bounds(void **state)
{
	struct ctx *c = ctx_new();
	uint64_t fb = make_fb(c, 0xe00, 0xe01);
	struct xendispl_req r;

	r = h_req_set_config(fb, 1, 0, BAD_W, BAD_H); /* x + 320 > 320 */
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_set_config(fb, 0, 1, BAD_W, BAD_H); /* y + 240 > 240 */
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_set_config(fb, 0xffffffffu, 0, 2, 2); /* x + width wraps in 32 bits */
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_set_config(fb, 0, 0xfffffff0u, 2, 0x20); /* y + height wraps */
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_set_config(fb, 0, 0, 0, BAD_H); /* empty */
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_set_config(fb, 0, 0, BAD_W, BAD_H);
	r.op.set_config.bpp = 7;
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_set_config(0xe99, 0, 0, BAD_W, BAD_H);
	assert_int_equal(status_of(c, &r), -ENOENT);
	/* width/height do not make the window smaller: it is the connector's */
	r = h_req_set_config(fb, 10, 10, 100, 100);
	assert_int_equal(status_of(c, &r), -EINVAL);
	/* Inside: accepted; all zero: disabled. */
	r = h_req_set_config(fb, 0, 0, BAD_W, BAD_H);
	assert_int_equal(status_of(c, &r), 0);
	r = h_req(XENDISPL_OP_SET_CONFIG);
	assert_int_equal(status_of(c, &r), 0);
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

static uint8_t flood_op(uint32_t n, uint64_t *cookie, int32_t *status)
{
	switch (n % 5) {
	case 0:
		*cookie = 0xf100 + n;
		*status = -ENOENT;
		return XENDISPL_OP_PG_FLIP;
	case 1:
		*status = -ENOSYS;
		return 0x7f;
	case 2:
		*cookie = 0;
		*status = -EINVAL;
		return XENDISPL_OP_DBUF_DESTROY;
	case 3:
		*cookie = 0xf200 + n;
		*status = -ENOENT;
		return XENDISPL_OP_FB_DETACH;
	default:
		*cookie = 0xf300 + n;
		*status = -ENOENT;
		return XENDISPL_OP_SET_CONFIG;
	}
}

static void flood_fill(struct xendispl_req *slot, uint32_t n, int32_t *status)
{
	uint64_t cookie = 0;

	memset(slot, 0xa5, sizeof(*slot)); /* dirty reserved bytes, as Linux leaves them */
	slot->operation = flood_op(n, &cookie, status);
	slot->id = (uint16_t)n;
	switch (slot->operation) {
	case XENDISPL_OP_SET_CONFIG:
		slot->op.set_config = (struct xendispl_set_config_req){cookie, 0, 0, 8, 8, 32};
		break;
	case 0x7f:
		break;
	default:
		slot->op.pg_flip.fb_cookie = cookie; /* same offset in every cookie request */
		break;
	}
}

/*
 * The ring kept full for FLOOD_MS: every slot the backend frees is refilled
 * at once, tens of thousands of requests. Every one is answered, in order,
 * with its own id, operation and status; the device stays up, and the good
 * guest keeps flipping during the flood (the backend's per-wake-up budget
 * lets the other sources in).
 */
#define FLOOD_MS 250u
#define FLOOD_MIN 8000u

static void request_flood(void **state)
{
	struct ctx *c = ctx_new();
	struct xen_displif_sring *s = vd_simfront_sring(c->bad, 0);
	RING_IDX base = s->req_prod, prod = base, cons = base;
	uint64_t req0 = be_stats(c).requests, good_req0 = h_stats(c->good).requests;
	uint64_t t_stop = vd_now_ms() + FLOOD_MS, t_end = t_stop + 5000, good_mid, hostile;
	bool filling = true;

	assert_int_equal(rsp_prod_now(s), base);
	while (filling || cons != prod) {
		RING_IDX rp;
		bool pushed = false;
		int32_t st;

		filling = vd_now_ms() < t_stop;
		while (filling && prod - cons < RING_SLOTS) {
			flood_fill(ring_req(s, prod), prod - base, &st);
			prod++;
			pushed = true;
		}
		if (pushed) {
			push_reqs(s, prod);
			assert_int_equal(vd_simfront_notify(c->bad, 0), 0);
		}
		assert_true(sd_event_run(c->h.loop, 10000) >= 0);
		rp = rsp_prod_now(s);
		assert_true(rp - cons <= prod - cons); /* never more answers than requests */
		for (; cons != rp; cons++) {
			const struct xendispl_resp *rsp = ring_rsp(s, cons);
			uint32_t n = cons - base;
			uint64_t ck;

			assert_int_equal(rsp->id, (uint16_t)n);
			assert_int_equal(rsp->operation, flood_op(n, &ck, &st));
			assert_int_equal(rsp->status, st);
		}
		assert_true(vd_now_ms() < t_end);
	}
	good_mid = h_stats(c->good).frames_done - c->good_before;
	hostile = prod - base;
	if (getenv("VD_HOSTILE_VERBOSE"))
		print_message("flood: %llu requests in %llu ms, good guest %llu frames meanwhile\n",
			      (unsigned long long)hostile,
			      (unsigned long long)(vd_now_ms() - c->t_before),
			      (unsigned long long)good_mid);
	assert_true(hostile >= FLOOD_MIN);
	assert_true(good_mid >= MIN_WINDOW_FRAMES); /* flipping during the flood */
	/* The backend answered exactly those, besides the good guest's own. */
	assert_true(be_stats(c).requests - req0 >=
		    hostile + (h_stats(c->good).requests - good_req0));
	assert_true(be_stats(c).requests - req0 <=
		    hostile + (h_stats(c->good).requests - good_req0) + 1);
	/* Nothing more comes back than was asked. */
	h_run_for(&c->h, 20);
	assert_int_equal(rsp_prod_now(s), prod);
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

/* 100000 notifications with nothing on the ring: nothing breaks, nothing answered. */
static void notification_flood(void **state)
{
	struct ctx *c = ctx_new();
	struct xen_displif_sring *s = vd_simfront_sring(c->bad, 0);
	uint64_t good0 = h_stats(c->good).frames_done;
	RING_IDX rsp0 = rsp_prod_now(s);
	struct xendispl_req r;

	for (int i = 0; i < 100000; i++) {
		assert_int_equal(vd_simfront_notify(c->bad, 0), 0);
		if (i % 2000 == 1999)
			h_run_for(&c->h, 2); /* the loop runs during the flood */
	}
	h_run_for(&c->h, 20);
	assert_true(h_stats(c->good).frames_done - good0 >= MIN_AFTER_FRAMES);
	assert_int_equal(rsp_prod_now(s), rsp0); /* nothing to answer, nothing answered */
	assert_int_equal(s->req_prod, rsp0);
	/* Still served. */
	r = h_req_pg_flip(0xabc);
	assert_int_equal(status_of(c, &r), -ENOENT);
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

/* Events on the hostile page from index from on, checked: PG_FLIP of fb, ids consecutive. */
static uint32_t count_events(struct xendispl_event_page *page, uint32_t from, uint64_t fb,
			     uint16_t *next_id)
{
	uint32_t prod = __atomic_load_n(&page->in_prod, __ATOMIC_ACQUIRE);

	assert_true(prod - from <= XENDISPL_IN_RING_LEN);
	for (uint32_t i = from; i != prod; i++) {
		const struct xendispl_evt *e = &XENDISPL_IN_RING_REF(page, i);

		assert_int_equal(e->type, XENDISPL_EVT_PG_FLIP);
		assert_int_equal(e->op.pg_flip.fb_cookie, fb);
		if (next_id)
			assert_int_equal(e->id, (*next_id)++);
	}
	return prod - from;
}

struct evt_wait {
	struct xendispl_event_page *page;
	uint32_t from, want;
};

static bool events_reached(struct harness *h, void *arg)
{
	struct evt_wait *w = arg;

	return __atomic_load_n(&w->page->in_prod, __ATOMIC_ACQUIRE) - w->from >= w->want;
}

/*
 * Eight PG_FLIPs on the ring at once: more than the backend lets wait
 * (max_pending_flips = 4); the rest get -EBUSY, and every accepted one
 * gets exactly one PG_FLIP event.
 */
static void too_many_pending_flips(void **state)
{
	enum { N = 8 };
	struct ctx *c = ctx_new();
	uint64_t fb = make_shown_fb(c, 0x1d00, 0x1f00);
	struct xen_displif_sring *s = vd_simfront_sring(c->bad, 0);
	struct xendispl_event_page *page = vd_simfront_evt_page(c->bad, 0);
	uint32_t accepted = 0, busy = 0, ev0 = page->in_prod;
	RING_IDX base = s->req_prod;
	struct evt_wait w;
	uint16_t id = 0;

	assert_int_equal(rsp_prod_now(s), base);
	assert_int_equal(ev0, 0); /* no event yet on this connection: ids start at 0 */
	for (uint32_t i = 0; i < N; i++) {
		struct xendispl_req *slot = ring_req(s, base + i);

		*slot = h_req_pg_flip(fb);
		slot->id = (uint16_t)(0x4000 + i);
	}
	push_reqs(s, base + N);
	assert_int_equal(vd_simfront_notify(c->bad, 0), 0);
	while (rsp_prod_now(s) - base < N)
		assert_true(sd_event_run(c->h.loop, 10000) >= 0);
	for (uint32_t i = 0; i < N; i++) {
		const struct xendispl_resp *rsp = ring_rsp(s, base + i);

		assert_int_equal(rsp->id, 0x4000 + i);
		assert_int_equal(rsp->operation, XENDISPL_OP_PG_FLIP);
		if (rsp->status == 0)
			accepted++;
		else if (rsp->status == -EBUSY)
			busy++;
		else
			fail_msg("PG_FLIP %u: status %d", i, rsp->status);
	}
	assert_int_equal(accepted + busy, N);
	assert_true(busy >= 1);
	assert_true(accepted >= 1);
	assert_true(accepted <= c->h.bopts.max_pending_flips);
	w = (struct evt_wait){page, ev0, accepted};
	assert_true(h_run_until(&c->h, events_reached, &w, 2000));
	h_run_for(&c->h, 30); /* and no more than that */
	assert_int_equal(count_events(page, ev0, fb, &id), accepted);
	assert_int_equal(h_stats(c->bad).events_skipped, 0);
	/* The slots are free again: a later flip is accepted and gets its event too. */
	*ring_req(s, base + N) = h_req_pg_flip(fb);
	push_reqs(s, base + N + 1);
	assert_int_equal(vd_simfront_notify(c->bad, 0), 0);
	w = (struct evt_wait){page, ev0, accepted + 1};
	assert_true(h_run_until(&c->h, events_reached, &w, 2000));
	assert_int_equal(ring_rsp(s, base + N)->status, 0);
	h_run_for(&c->h, 30);
	id = 0;
	assert_int_equal(count_events(page, ev0, fb, &id), accepted + 1);
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

/*
 * A request whose device may be closed under it: the response, or the
 * frontend's own -EIO (operation 0) when it saw the backend close first.
 */
static struct xendispl_resp send_maybe_closed(struct ctx *c, const struct xendispl_req *req)
{
	struct rsp_wait w = {0};

	assert_int_equal(vd_simfront_send_raw(c->bad, 0, req, on_rsp, &w), 0);
	assert_true(h_run_until(&c->h, rsp_done, &w, RSP_WAIT_MS));
	assert_false(w.timeout);
	if (!(w.rsp.status == -EIO && w.rsp.operation == 0))
		assert_int_equal(w.rsp.operation, req->operation);
	return w.rsp;
}

/* in_cons ahead of in_prod, or too far behind it: the event page is corrupt. */
static void evt_page_in_cons_corrupt(void **state)
{
	static const int32_t skew[] = {200, -100};
	struct ctx *c = ctx_new();

	for (unsigned k = 0; k < 2; k++) {
		uint64_t fb = make_shown_fb(c, 0x2d00 + k, 0x2f00 + k);
		struct xendispl_event_page *page = vd_simfront_evt_page(c->bad, 0);
		struct xendispl_req r = h_req_pg_flip(fb);
		int32_t st;

		page->in_cons = page->in_prod + (uint32_t)skew[k];
		/* The flip is accepted; its event cannot be placed. */
		st = send_maybe_closed(c, &r).status;
		assert_true(st == 0 || st == -EIO);
		assert_bad_closed_then_back(c, k + 1);
	}
	attack_end(c);
	ctx_free(c);
}

/*
 * A frontend that never consumes events (in_cons stuck a full ring behind):
 * the backend holds a bounded number of events back, then closes the device
 * instead of growing without limit. It never writes over unconsumed slots.
 */
static void evt_page_never_consumed(void **state)
{
	struct ctx *c = ctx_new();
	uint64_t fb = make_shown_fb(c, 0x3d00, 0x3f00);
	struct xendispl_event_page *page = vd_simfront_evt_page(c->bad, 0);
	struct xendispl_req r = h_req_pg_flip(fb);
	uint32_t prod0 = page->in_prod, accepted = 0;
	int n;

	page->in_cons = prod0 - XENDISPL_IN_RING_LEN; /* looks full */
	for (n = 0; n < 1000 && c->bad_closes == 0; n++) {
		int32_t st = send_maybe_closed(c, &r).status;

		if (c->bad_closes)
			break;
		assert_true(st == 0 || st == -EBUSY);
		accepted += st == 0;
		assert_int_equal(__atomic_load_n(&page->in_prod, __ATOMIC_ACQUIRE), prod0);
		h_run_for(&c->h, 1);
	}
	assert_true(n < 1000);
	/* Closed once more events waited than the backend keeps (64), not before. */
	assert_true(accepted >= 64);
	assert_bad_closed_then_back(c, 1);
	attack_end(c);
	ctx_free(c);
}

/*
 * A frontend that consumes late (its event page full for a while, and no
 * notification when it catches up, as Linux): nothing is written over
 * unconsumed slots, and the held-back events arrive afterwards, each once,
 * in order, with consecutive ids.
 */
static void evt_page_late_consumer(void **state)
{
	struct ctx *c = ctx_new();
	uint64_t fb = make_shown_fb(c, 0x6d00, 0x6f00);
	struct xendispl_event_page *page = vd_simfront_evt_page(c->bad, 0);
	struct xendispl_req r = h_req_pg_flip(fb);
	uint32_t prod0 = page->in_prod, accepted = 0;
	struct evt_wait w;
	uint64_t t0;
	uint16_t id = 0;

	page->in_cons = prod0 - XENDISPL_IN_RING_LEN; /* full */
	for (int i = 0; i < 10; i++) {
		int32_t st = status_of(c, &r);

		assert_true(st == 0 || st == -EBUSY);
		accepted += st == 0;
	}
	h_run_for(&c->h, 10);
	assert_true(accepted >= 1);
	assert_int_equal(page->in_prod, prod0);
	page->in_cons = prod0; /* caught up, silently */
	t0 = vd_now_ms();
	w = (struct evt_wait){page, prod0, accepted};
	assert_true(h_run_until(&c->h, events_reached, &w, 1000));
	if (getenv("VD_HOSTILE_VERBOSE"))
		print_message("late consumer: %u held events delivered %llu ms after room\n",
			      accepted, (unsigned long long)(vd_now_ms() - t0));
	h_run_for(&c->h, 30);
	assert_int_equal(count_events(page, prod0, fb, &id), accepted);
	assert_int_equal(h_stats(c->bad).events_skipped, 0);
	assert_int_equal(h_stats(c->bad).events, accepted);
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

/*
 * The guest scribbles over the backend's own ring fields (rsp_prod,
 * req_event) and sets a rsp_event that suppresses notifications: the
 * backend keeps its private indices, answers into the right slots and puts
 * rsp_prod right again.
 */
static void ring_backend_fields_corrupt(void **state)
{
	struct ctx *c = ctx_new();
	struct xen_displif_sring *s = vd_simfront_sring(c->bad, 0);
	RING_IDX base = s->req_prod;

	assert_int_equal(rsp_prod_now(s), base);
	s->rsp_prod = base + 1000;
	s->req_event = base - 1000;
	s->rsp_event = base + 7777;
	for (uint32_t i = 0; i < 4; i++) {
		struct xendispl_req *slot = ring_req(s, base + i);

		*slot = h_req_pg_flip(0x7700 + i);
		slot->id = (uint16_t)(0x6000 + i);
	}
	push_reqs(s, base + 4);
	assert_int_equal(vd_simfront_notify(c->bad, 0), 0);
	for (uint64_t end = vd_now_ms() + 2000; rsp_prod_now(s) != base + 4;)
		assert_true(sd_event_run(c->h.loop, 10000) >= 0 && vd_now_ms() < end);
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(ring_rsp(s, base + i)->id, 0x6000 + i);
		assert_int_equal(ring_rsp(s, base + i)->status, -ENOENT);
	}
	assert_true(s->req_event - base <= 5); /* re-armed from the backend's req_cons */
	h_run_for(&c->h, 20);
	assert_int_equal(rsp_prod_now(s), base + 4);
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

/*
 * GET_EDID aimed at the guest's own request ring page (it granted it
 * writable, so the write is legal): the EDID lands on the ring, whose
 * req_prod becomes nonsense, and the device is closed - memory safe, and
 * the good guest never notices.
 */
static void edid_into_own_ring(void **state)
{
	struct ctx *c = ctx_new();
	struct vd_simfront_buf *b = hbuf(c, 1);
	char path[128];
	uint32_t ring_ref;
	struct xendispl_req r;
	int32_t st;

	snprintf(path, sizeof(path), "/local/domain/%u/device/vdispl/0/0/req-ring-ref",
		 c->bad_domid);
	assert_int_equal(vd_xs_read_u32(c->h.hv, VD_XS_NO_TXN, path, &ring_ref), 0);
	dir_words(b, 0)[1] = ring_ref;
	r = h_req_get_edid(XENDISPL_EDID_BLOCK_SIZE, b->dir_grefs[0]);
	st = send_maybe_closed(c, &r).status;
	assert_true(st == 0 || st == -EIO);
	assert_bad_closed_then_back(c, 1);
	attack_end(c);
	ctx_free(c);
}

/*
 * DBUF_DESTROY of the buffer on screen, with a flip of it still pending:
 * success, the flip still gets its one event, and nothing of the buffer
 * stays mapped.
 */
static void dbuf_destroy_on_screen_mode(bool copy)
{
	struct ctx *c = ctx_new_opts(copy, 1);
	uint64_t fb = make_shown_fb(c, 0x4d00, 0x4f00);
	struct xendispl_event_page *page = vd_simfront_evt_page(c->bad, 0);
	uint32_t ev0 = page->in_prod;
	struct xendispl_req r = h_req_pg_flip(fb), d = h_req_dbuf_destroy(0x4d00);
	struct rsp_wait wf = {0}, wd = {0};
	struct evt_wait ew = {page, ev0, 1};

	assert_true(bad_mapped(c) > transport_pages(c));
	/* Both queued at once: the destroy follows the flip before its vblank. */
	assert_int_equal(vd_simfront_send_raw(c->bad, 0, &r, on_rsp, &wf), 0);
	assert_int_equal(vd_simfront_send_raw(c->bad, 0, &d, on_rsp, &wd), 0);
	assert_true(h_run_until(&c->h, rsp_done, &wd, RSP_WAIT_MS));
	assert_true(wf.done && !wf.timeout && !wd.timeout);
	assert_int_equal(wf.rsp.status, 0);
	assert_int_equal(wd.rsp.status, 0);
	assert_int_equal(bad_mapped(c), transport_pages(c));
	assert_true(h_run_until(&c->h, events_reached, &ew, 2000));
	h_run_for(&c->h, 30);
	assert_int_equal(count_events(page, ev0, fb, NULL), 1);
	/* The fb went with its buffer; the cookie may be reused. */
	r = h_req_pg_flip(fb);
	assert_int_equal(status_of(c, &r), -ENOENT);
	r = h_req_fb_detach(fb);
	assert_int_equal(status_of(c, &r), -ENOENT);
	r = h_req_dbuf_destroy(0x4d00);
	assert_int_equal(status_of(c, &r), -ENOENT);
	make_shown_fb(c, 0x4d00, 0x4f00);
	r = h_req_dbuf_destroy(0x4d00); /* shown, no flip pending */
	assert_int_equal(status_of(c, &r), 0);
	assert_int_equal(bad_mapped(c), transport_pages(c));

	/* FB_DETACH of the fb on screen with a flip of it pending: the same. */
	make_shown_fb(c, 0x4d01, 0x4f01);
	ev0 = page->in_prod;
	r = h_req_pg_flip(0x4f01);
	d = h_req_fb_detach(0x4f01);
	wf = wd = (struct rsp_wait){0};
	assert_int_equal(vd_simfront_send_raw(c->bad, 0, &r, on_rsp, &wf), 0);
	assert_int_equal(vd_simfront_send_raw(c->bad, 0, &d, on_rsp, &wd), 0);
	assert_true(h_run_until(&c->h, rsp_done, &wd, RSP_WAIT_MS));
	assert_int_equal(wf.rsp.status, 0);
	assert_int_equal(wd.rsp.status, 0);
	ew = (struct evt_wait){page, ev0, 1};
	assert_true(h_run_until(&c->h, events_reached, &ew, 2000));
	h_run_for(&c->h, 30);
	assert_int_equal(count_events(page, ev0, 0x4f01, NULL), 1);
	r = h_req_pg_flip(0x4f01);
	assert_int_equal(status_of(c, &r), -ENOENT);
	r = h_req_dbuf_destroy(0x4d01);
	assert_int_equal(status_of(c, &r), 0);
	assert_int_equal(bad_mapped(c), transport_pages(c));
	assert_int_equal(h_stats(c->bad).events_skipped, 0);
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

static void dbuf_destroy_on_screen(void **state)
{
	dbuf_destroy_on_screen_mode(false);
	dbuf_destroy_on_screen_mode(true);
}

/* GET_EDID (v2) into a valid 8-page buffer, and into buffers that are not. */
static void get_edid_valid(void **state)
{
	struct ctx *c = ctx_new();
	struct vd_simfront_buf *b = hbuf(c, 8);
	struct vd_sim *sim = vd_sim_from_hv(c->h.hv);
	struct xendispl_req r = h_req_get_edid(XENDISPL_EDID_MAX_SIZE, b->dir_grefs[0]);
	struct xendispl_resp rsp;
	static const uint8_t header[8] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
	const uint8_t *e = b->data;
	uint32_t sum = 0, pfns[9], refs[9];
	void *mem;

	memset(b->data, 0xee, 8 * VD_PAGE_SIZE);
	rsp = send_on(c, 0, &r);
	assert_int_equal(rsp.status, 0);
	assert_int_equal(rsp.op.get_edid.edid_sz, 128);
	assert_memory_equal(e, header, sizeof(header));
	for (int i = 0; i < 128; i++)
		sum += e[i];
	assert_int_equal(sum % 256, 0);
	/* The first detailed timing is the connector's 320x240. */
	assert_int_equal(e[0x38] | (e[0x3a] >> 4) << 8, BAD_W);
	assert_int_equal(e[0x3b] | (e[0x3d] >> 4) << 8, BAD_H);
	assert_int_equal(e[128], 0xee); /* nothing past edid_sz */
	assert_int_equal(bad_mapped(c), transport_pages(c));

	/* Too small, too large, no directory. */
	r = h_req_get_edid(127, b->dir_grefs[0]);
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_get_edid(XENDISPL_EDID_MAX_SIZE + 1, b->dir_grefs[0]);
	assert_int_equal(status_of(c, &r), -EINVAL);
	r = h_req_get_edid(XENDISPL_EDID_MAX_SIZE, 0);
	assert_int_equal(status_of(c, &r), -EINVAL);
	/* Directory chain that goes on past the last page. */
	dir_words(b, 0)[0] = b->dir_grefs[0];
	r = h_req_get_edid(XENDISPL_EDID_MAX_SIZE, b->dir_grefs[0]);
	assert_int_equal(status_of(c, &r), -EINVAL);
	dir_words(b, 0)[0] = 0;
	dir_words(b, 0)[1 + 7] = 0;
	assert_int_equal(status_of(c, &r), -EINVAL);
	dir_words(b, 0)[1 + 7] = b->grefs[7];

	/* Pages granted read-only: the backend cannot write there. */
	assert_int_equal(vd_sim_mem_alloc(sim, c->bad_domid, 9, &mem, pfns), 0);
	for (int i = 0; i < 9; i++)
		assert_int_equal(vd_sim_grant(sim, c->bad_domid, 0, pfns[i], true, &refs[i]), 0);
	((uint32_t *)mem)[0] = 0;
	memcpy((uint32_t *)mem + 1, &refs[1], 8 * sizeof(uint32_t));
	r = h_req_get_edid(XENDISPL_EDID_MAX_SIZE, refs[0]);
	assert_true(status_of(c, &r) < 0);
	assert_int_equal(((uint8_t *)mem)[VD_PAGE_SIZE], 0); /* untouched */
	assert_int_equal(bad_mapped(c), transport_pages(c));
	for (int i = 0; i < 9; i++)
		assert_int_equal(vd_sim_grant_end(sim, c->bad_domid, refs[i]), 0);
	assert_int_equal(vd_sim_mem_free(sim, c->bad_domid, mem, 9), 0);

	/* The valid request still works after all that. */
	r = h_req_get_edid(XENDISPL_EDID_MAX_SIZE, b->dir_grefs[0]);
	assert_int_equal(status_of(c, &r), 0);
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

/* Per-guest caps: the 257th buffer is refused, the guest's others stay. */
static void dbuf_count_cap(void **state)
{
	struct ctx *c = ctx_new();
	struct vd_simfront_buf *b = hbuf(c, 1);
	uint32_t max = c->h.bopts.bufs.caps.max_dbufs;
	struct xendispl_req r;

	c->pace_ms = 0; /* 513 requests back to back */
	for (uint32_t i = 0; i < max; i++) {
		r = h_req_dbuf_create(0x10000 + i, 32, 32, 32, 32 * 32 * 4, b->dir_grefs[0]);
		assert_int_equal(status_of(c, &r), 0);
	}
	assert_int_equal(bad_mapped(c), transport_pages(c) + MAPS_PER_PAGE * max);
	r = h_req_dbuf_create(0x10000 + max, 32, 32, 32, 32 * 32 * 4, b->dir_grefs[0]);
	assert_int_equal(status_of(c, &r), -ENOSPC);
	assert_int_equal(bad_mapped(c), transport_pages(c) + MAPS_PER_PAGE * max);
	for (uint32_t i = 0; i < max; i++) {
		r = h_req_dbuf_destroy(0x10000 + i);
		assert_int_equal(status_of(c, &r), 0);
	}
	assert_int_equal(bad_mapped(c), transport_pages(c));
	assert_bad_alive(c);
	attack_end(c);
	ctx_free(c);
}

/* Requests on the second connector's ring: served the same (any ring is accepted). */
static void second_connector_ring(void **state)
{
	struct ctx *c = ctx_new_opts(false, 2);
	struct vd_simfront_buf *b = hbuf(c, 4);
	struct xendispl_req r = h_req_dbuf_create(0x5d00, 32, 32, 32, 32 * 32 * 4, b->dir_grefs[0]);
	struct xen_displif_sring *s1;

	assert_int_equal(send_on(c, 1, &r).status, 0);
	r = h_req_fb_attach(0x5d00, 0x5f00, 32, 32, XRGB8888);
	assert_int_equal(send_on(c, 1, &r).status, 0);
	r = h_req_pg_flip(0x5f00);
	assert_int_equal(send_on(c, 0, &r).status, 0);
	assert_int_equal(send_on(c, 1, &r).status, 0);
	r = h_req(0x99);
	assert_int_equal(send_on(c, 1, &r).status, -ENOSYS);
	/* Overflow on connector 1 closes the whole device, as for connector 0. */
	s1 = vd_simfront_sring(c->bad, 1);
	push_reqs(s1, rsp_prod_now(s1) + 33);
	assert_int_equal(vd_simfront_notify(c->bad, 1), 0);
	assert_true(bad_mapped(c) >= transport_pages(c) + MAPS_PER_PAGE * 1);
	assert_bad_closed_then_back(c, 1);
	assert_int_equal(bad_mapped(c), 4); /* two connectors' ring + event pages */
	attack_end(c);
	ctx_free(c);
}

/* After a device was closed for a violation, a new guest connects and flips cleanly. */
static void fresh_guest_after_violation(void **state)
{
	enum { FRAMES = 100 };
	struct ctx *c = ctx_new();
	struct xen_displif_sring *s = vd_simfront_sring(c->bad, 0);
	struct vd_simfront_opts fo = {.nconn = 2, .width = 96, .height = 64, .frames = FRAMES};
	struct vd_simfront *fresh;
	struct vd_simfront_stats fs;

	push_reqs(s, rsp_prod_now(s) + 1000);
	assert_int_equal(vd_simfront_notify(c->bad, 0), 0);
	assert_true(h_run_until(&c->h, closes_reached, c, 2000));
	assert_int_equal(c->mapped_at_close, 0);
	fresh = h_guest(&c->h, "fresh", &fo);
	assert_true(h_run_until(&c->h, h_guest_finished, fresh, 10000));
	fs = h_stats(fresh);
	assert_int_equal(fs.connects, 1);
	assert_int_equal(fs.flips, 2 * FRAMES);
	assert_int_equal(fs.events, 2 * FRAMES);
	assert_int_equal(fs.events_skipped, 0);
	assert_int_equal(fs.watchdogs, 0);
	assert_int_equal(fs.timeouts, 0);
	assert_int_equal(fs.errors, 0);
	for (uint32_t i = 0; i < 2; i++) {
		struct h_track *t = h_track_of(&c->h, vd_simfront_domid(fresh), i);

		assert_int_equal(t->bad, 0);
		assert_int_equal(t->last, FRAMES);
	}
	assert_int_equal(be_stats(c).protocol_errors, c->bs_before.protocol_errors + 1);
	assert_int_equal(be_stats(c).devices, 3);
	/* The hostile device itself came back as well. */
	c->bad_connects++;
	assert_true(h_run_until(&c->h, bad_reconnected, c, 3000));
	attack_end(c);
	ctx_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ring_prod_overflow),
	    cmocka_unit_test(ring_prod_backwards),
	    cmocka_unit_test(unknown_opcodes),
	    cmocka_unit_test(dbuf_cookie_zero),
	    cmocka_unit_test(dbuf_duplicate_cookie),
	    cmocka_unit_test(dbuf_unknown_flags),
	    cmocka_unit_test(dbuf_buffer_too_small),
	    cmocka_unit_test(dbuf_absurd_geometry),
	    cmocka_unit_test(pgdir_short),
	    cmocka_unit_test(pgdir_long),
	    cmocka_unit_test(pgdir_loop),
	    cmocka_unit_test(pgdir_gref_zero),
	    cmocka_unit_test(gref_never_granted),
	    cmocka_unit_test(pg_flip_unknown_fb),
	    cmocka_unit_test(fb_attach_unknown_dbuf),
	    cmocka_unit_test(set_config_out_of_bounds),
	    cmocka_unit_test(request_flood),
	    cmocka_unit_test(notification_flood),
	    cmocka_unit_test(too_many_pending_flips),
	    cmocka_unit_test(evt_page_in_cons_corrupt),
	    cmocka_unit_test(evt_page_never_consumed),
	    cmocka_unit_test(evt_page_late_consumer),
	    cmocka_unit_test(ring_backend_fields_corrupt),
	    cmocka_unit_test(edid_into_own_ring),
	    cmocka_unit_test(dbuf_destroy_on_screen),
	    cmocka_unit_test(get_edid_valid),
	    cmocka_unit_test(dbuf_count_cap),
	    cmocka_unit_test(second_connector_ring),
	    cmocka_unit_test(fresh_guest_after_violation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
