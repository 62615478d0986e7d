/* SPDX-License-Identifier: MIT */
/*
 * The noisy neighbour (neighbour.h): the catalogue of attacks and the run.
 */
#include "neighbour.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xen/io/xenbus.h>

#include "hv/hv.h"
#include "hv/sim/sim.h"
#include "log.h"
#include "output/output.h"
#include "simfront/simfront.h"
#include "xenbus/backend.h"

#define XRGB8888 0x34325258u
#define RING_SLOTS 32u
#define WARMUP_MS 300u
#define CONNECT_MS 10000u
#define CAPTURE_MS 100u      /* the headless capture interval of every run */
#define BIG_W 4096u          /* the attacker's big connector: 64 MB, under its default caps */
#define BIG_H 4000u
#define COPY_W 2048u         /* copy mode: copied at each of the attacker's vblanks */
#define COPY_H 2048u
#define CHURN_PAGES 16000u   /* the largest zero-copy buffer at the default caps, about */

enum kind { K_CAPTURE, K_SCREENSHOT, K_CHURN, K_CAPS, K_COPY, K_STATE };

const struct nb_attack nb_attacks[] = {
	{"capture", "a 4096x4000 connector captured every 100 ms and screenshot (item 3)"},
	{"screenshot", "screenshots of a 1024x1 fb on a 1920x1080 connector (item 1)"},
	{"churn", "ring full of DBUF_CREATE/DESTROY of 62 MiB buffers (item 4)"},
	{"caps", "buffers until every cap refuses, frontend- and backend-allocated (items 5, 6, 8)"},
	{"copy", "--copy, 2048x2048 flips queued 4 deep (item 7)"},
	{"state", "xenbus state churned with no ring nodes (item 11)"},
	{NULL, NULL},
};

struct nb {
	const struct nb_attack *attack;
	enum kind kind;
	sd_event *loop;
	struct vd_hv *hv;
	struct vd_output *out;
	struct vd_backend *be;
	struct vd_simfront *good, *bad, *bad2;
	struct vd_hv *bad_hv; /* the attacker's own xenstore connection (state churn) */
	uint32_t good_domid, bad_domid;
	char capdir[64];
	/* measurement */
	bool measuring;
	uint64_t last_event_us, *intervals, nintervals, cap, response_max_us;
	/* the attacker */
	struct vd_simfront_buf *buf, *dir;
	RING_IDX prod, cons;
	uint64_t cookie, next_us, answers, refused, shots;
	struct vd_output_screenshot *shot;
	bool shot_busy, refused_all;
	int state;
};

/* ---- measurement ---- */

static void on_flip_done(void *userdata, uint32_t conn)
{
	struct nb *n = userdata;
	uint64_t now = vd_now_us(), *p;

	if (n->measuring && n->last_event_us) {
		if (n->nintervals == n->cap) {
			n->cap = n->cap ? 2 * n->cap : 256;
			p = realloc(n->intervals, n->cap * sizeof(*p));
			if (!p)
				abort();
			n->intervals = p;
		}
		n->intervals[n->nintervals++] = now - n->last_event_us;
	}
	n->last_event_us = n->measuring ? now : 0;
}

static void on_response(void *userdata, uint32_t conn, const struct xendispl_resp *rsp,
			uint64_t latency_us)
{
	struct nb *n = userdata;

	if (n->measuring && latency_us > n->response_max_us)
		n->response_max_us = latency_us;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static uint64_t pct(const uint64_t *v, uint64_t len, unsigned p)
{
	return len ? v[(p * len + 99) / 100 - 1] : 0;
}

/* ---- the set-up ---- */

static bool run_until_connected(struct nb *n, struct vd_simfront *g)
{
	uint64_t end = vd_now_ms() + CONNECT_MS;
	struct vd_simfront_stats s;

	for (;;) {
		vd_simfront_get_stats(g, &s);
		if (s.state == XenbusStateConnected)
			return true;
		if (vd_now_ms() > end || sd_event_run(n->loop, 10000) < 0)
			return false;
	}
}

static void run_for(struct nb *n, uint32_t ms, void (*tick)(struct nb *n))
{
	uint64_t end = vd_now_us() + (uint64_t)ms * 1000u;

	while (vd_now_us() < end) {
		if (sd_event_run(n->loop, 1000) < 0)
			return;
		if (tick)
			tick(n);
	}
}

static int setup(struct nb *n)
{
	struct vd_output_opts oo = {.refresh_mhz = NB_REFRESH_MHZ,
				    .capture_interval_ms = CAPTURE_MS,
				    .force_copy = n->kind == K_COPY};
	struct vd_backend_opts bo = VD_BACKEND_OPTS_DEFAULT;
	struct vd_simfront_opts go = {.nconn = 1, .width = 320, .height = 240,
				      .on_flip_done = on_flip_done, .on_response = on_response,
				      .hook_userdata = n};
	int r;

	snprintf(n->capdir, sizeof(n->capdir), "/tmp/vd-neighbour-XXXXXX");
	if (!mkdtemp(n->capdir))
		return -errno;
	oo.capture_dir = n->capdir;
	r = sd_event_new(&n->loop);
	if (r >= 0)
		r = vd_hv_create("sim", &n->hv);
	if (r >= 0)
		r = vd_output_create("headless", n->loop, &oo, &n->out);
	if (r >= 0)
		r = vd_backend_create(n->loop, n->hv, n->out, &bo, &n->be);
	if (r >= 0)
		r = vd_simfront_create(n->hv, n->loop, "neighbour", &go, &n->good);
	if (r >= 0 && !run_until_connected(n, n->good))
		r = -ETIMEDOUT;
	if (r >= 0)
		n->good_domid = vd_simfront_domid(n->good);
	return r;
}

static void rm_captures(const char *dir)
{
	static const char *const names[] = {"neighbour_0.png", "attacker_0.png", "attacker-b_0.png"};
	char path[128];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void teardown(struct nb *n)
{
	vd_output_screenshot_cancel(n->shot);
	vd_backend_destroy(n->be);
	if (n->buf)
		vd_simfront_buf_free(n->bad, n->buf);
	if (n->dir)
		vd_simfront_buf_free(n->bad, n->dir);
	vd_hv_destroy(n->bad_hv);
	vd_simfront_destroy(n->bad);
	vd_simfront_destroy(n->bad2);
	vd_simfront_destroy(n->good);
	vd_output_destroy(n->out);
	vd_hv_destroy(n->hv);
	sd_event_unref(n->loop);
	rm_captures(n->capdir);
	free(n->intervals);
}

/* ---- the attacker's requests ---- */

struct wait {
	bool done;
	int32_t status;
};

static void on_answer(void *userdata, const struct xendispl_resp *rsp)
{
	struct wait *w = userdata;

	w->done = true;
	w->status = rsp ? rsp->status : -ETIMEDOUT;
}

/* A request of the attacker, answered: its status. */
static int32_t ask(struct nb *n, struct vd_simfront *g, uint32_t conn, struct xendispl_req *r)
{
	struct wait w = {false, 0};
	uint64_t end = vd_now_ms() + CONNECT_MS;

	if (vd_simfront_send_raw(g, conn, r, on_answer, &w) < 0)
		return -EIO;
	while (!w.done && vd_now_ms() < end)
		if (sd_event_run(n->loop, 10000) < 0)
			return -EIO;
	return w.done ? w.status : -ETIMEDOUT;
}

static struct xendispl_req req(uint8_t op)
{
	struct xendispl_req r;

	memset(&r, 0, sizeof(r));
	r.operation = op;
	return r;
}

/* An attacker with one connector of w x h (no client: it speaks for itself). */
static int attacker(struct nb *n, const char *name, uint32_t w, uint32_t h, bool be_alloc,
		    struct vd_simfront **ret)
{
	struct vd_simfront_opts o = {.nconn = 1, .width = w, .height = h, .no_client = true,
				     .be_alloc = be_alloc};
	int r = vd_simfront_create(n->hv, n->loop, name, &o, ret);

	if (r >= 0 && !run_until_connected(n, *ret))
		r = -ETIMEDOUT;
	return r;
}

/* DBUF_CREATE + FB_ATTACH (XRGB8888, w x h) of the attacker's buffer, SET_CONFIG: shown. */
static int show_buffer(struct nb *n, uint32_t w, uint32_t h, uint32_t size)
{
	struct xendispl_req r = req(XENDISPL_OP_DBUF_CREATE);
	int st;

	st = vd_simfront_buf_alloc(n->bad, (size + VD_PAGE_SIZE - 1) / VD_PAGE_SIZE, &n->buf);
	if (st < 0)
		return st;
	memset(n->buf->data, 0x5a, size);
	r.op.dbuf_create = (struct xendispl_dbuf_create_req){
		.dbuf_cookie = 1, .width = w, .height = h, .bpp = 32, .buffer_sz = size,
		.gref_directory = n->buf->dir_grefs[0]};
	if ((st = ask(n, n->bad, 0, &r)) != 0)
		return st;
	r = req(XENDISPL_OP_FB_ATTACH);
	r.op.fb_attach = (struct xendispl_fb_attach_req){
		.dbuf_cookie = 1, .fb_cookie = 2, .width = w, .height = h, .pixel_format = XRGB8888};
	if ((st = ask(n, n->bad, 0, &r)) != 0)
		return st;
	r = req(XENDISPL_OP_SET_CONFIG);
	r.op.set_config = (struct xendispl_set_config_req){
		.fb_cookie = 2, .width = w, .height = h, .bpp = 32};
	return ask(n, n->bad, 0, &r);
}

/* The ring written directly: requests put in free slots, answers counted. */
static struct xendispl_req *ring_slot(struct nb *n, RING_IDX i)
{
	struct xen_displif_sring *s = vd_simfront_sring(n->bad, 0);

	return (struct xendispl_req *)((char *)s + 64) + (i & (RING_SLOTS - 1));
}

static RING_IDX ring_answered(struct nb *n)
{
	struct xen_displif_sring *s = vd_simfront_sring(n->bad, 0);
	struct xendispl_resp *rs = (struct xendispl_resp *)((char *)s + 64);
	RING_IDX rp = __atomic_load_n(&s->rsp_prod, __ATOMIC_ACQUIRE);

	for (RING_IDX i = n->cons; i != rp; i++) {
		n->answers++;
		n->refused += rs[i & (RING_SLOTS - 1)].status != 0;
	}
	n->cons = rp;
	return rp;
}

static void ring_push(struct nb *n)
{
	struct xen_displif_sring *s = vd_simfront_sring(n->bad, 0);

	__atomic_store_n(&s->req_prod, n->prod, __ATOMIC_RELEASE);
	vd_simfront_notify(n->bad, 0);
}

/* ---- the attacks ---- */

static void shot_done(void *userdata, int status)
{
	struct nb *n = userdata;

	n->shot = NULL;
	n->shot_busy = false;
	n->shots += status == 0;
}

struct find {
	uint32_t domid;
	struct vd_output_conn *oconn;
};

static void find_conn(void *userdata, const struct vd_dev_info *d)
{
	struct find *f = userdata;

	if (d->domid == f->domid && d->nconn)
		f->oconn = d->conns[0].oconn;
}

/* A screenshot of the attacker's connector when none is in progress. */
static void screenshot(struct nb *n)
{
	struct find f = {n->bad_domid, NULL};
	char path[128];

	if (n->shot_busy)
		return;
	vd_backend_foreach_device(n->be, find_conn, &f);
	snprintf(path, sizeof(path), "%s/attacker_shot.png", n->capdir);
	if (f.oconn && vd_output_conn_screenshot(f.oconn, path, shot_done, n, &n->shot) == 0)
		n->shot_busy = true;
}

static int start_capture(struct nb *n)
{
	int r = attacker(n, "attacker", BIG_W, BIG_H, false, &n->bad);

	if (r >= 0)
		n->bad_domid = vd_simfront_domid(n->bad);
	if (r >= 0)
		r = show_buffer(n, BIG_W, BIG_H, BIG_W * BIG_H * 4);
	n->prod = n->cons = vd_simfront_sring(n->bad, 0)->req_prod;
	return r;
}

/* A flip every capture interval (each makes a capture due), a screenshot when done. */
static void tick_capture(struct nb *n)
{
	RING_IDX rp = ring_answered(n);

	if (vd_now_us() >= n->next_us && n->prod == rp) {
		struct xendispl_req *r = ring_slot(n, n->prod);

		memset(r, 0, sizeof(*r));
		r->id = (uint16_t)n->prod;
		r->operation = XENDISPL_OP_PG_FLIP;
		r->op.pg_flip.fb_cookie = 2;
		n->prod++;
		ring_push(n);
		n->next_us = vd_now_us() + CAPTURE_MS * 1000u;
	}
	screenshot(n);
}

static int start_screenshot(struct nb *n)
{
	struct xendispl_req r;
	int st = attacker(n, "attacker", 1920, 1080, false, &n->bad);

	if (st < 0)
		return st;
	n->bad_domid = vd_simfront_domid(n->bad);
	/* 1024x1 in one page, flipped on a 1920x1080 connector */
	if ((st = show_buffer(n, 1024, 1, 4096)) != 0)
		return st;
	r = req(XENDISPL_OP_PG_FLIP);
	r.op.pg_flip.fb_cookie = 2;
	return ask(n, n->bad, 0, &r);
}

static void tick_screenshot(struct nb *n)
{
	screenshot(n);
}

static int start_churn(struct nb *n)
{
	int r = attacker(n, "attacker", 320, 240, false, &n->bad);

	if (r < 0)
		return r;
	n->bad_domid = vd_simfront_domid(n->bad);
	r = vd_simfront_buf_alloc(n->bad, CHURN_PAGES, &n->buf);
	n->prod = n->cons = vd_simfront_sring(n->bad, 0)->req_prod;
	return r;
}

/* Request i of the churn: create the buffer, destroy it. */
static void tick_churn(struct nb *n)
{
	RING_IDX rp = ring_answered(n), start = n->prod;

	while (n->prod - rp < RING_SLOTS) {
		struct xendispl_req *r = ring_slot(n, n->prod);

		memset(r, 0, sizeof(*r));
		r->id = (uint16_t)n->prod;
		if (n->prod % 2 == 0) {
			r->operation = XENDISPL_OP_DBUF_CREATE;
			r->op.dbuf_create.dbuf_cookie = 1 + n->prod / 2;
			r->op.dbuf_create.buffer_sz = CHURN_PAGES * VD_PAGE_SIZE;
			r->op.dbuf_create.gref_directory = n->buf->dir_grefs[0];
		} else {
			r->operation = XENDISPL_OP_DBUF_DESTROY;
			r->op.dbuf_destroy.dbuf_cookie = 1 + n->prod / 2;
		}
		n->prod++;
	}
	if (n->prod != start)
		ring_push(n);
}

static int start_caps(struct nb *n)
{
	int r = attacker(n, "attacker", 320, 240, false, &n->bad);

	if (r >= 0)
		r = attacker(n, "attacker-b", 320, 240, true, &n->bad2);
	if (r < 0)
		return r;
	n->bad_domid = vd_simfront_domid(n->bad);
	/* one page of buffer, 1 directory page: each costs a grant map (2) and an fd (2) */
	r = vd_simfront_buf_alloc(n->bad, 1, &n->buf);
	if (r >= 0)
		r = vd_simfront_buf_alloc_dir(n->bad2, 16384, &n->dir);
	n->prod = n->cons = vd_simfront_sring(n->bad, 0)->req_prod;
	return r;
}

/* More buffers and fbs, always: refused at the caps; backend memory too, 64 MiB each. */
static void tick_caps(struct nb *n)
{
	RING_IDX rp = ring_answered(n), start = n->prod;
	struct xendispl_req r;

	while (n->prod - rp < RING_SLOTS) {
		struct xendispl_req *q = ring_slot(n, n->prod);
		uint64_t k = n->prod / 2 + 1;

		memset(q, 0, sizeof(*q));
		q->id = (uint16_t)n->prod;
		if (n->prod % 2 == 0) {
			q->operation = XENDISPL_OP_DBUF_CREATE;
			q->op.dbuf_create = (struct xendispl_dbuf_create_req){
				.dbuf_cookie = k, .width = 1024, .height = 1, .bpp = 32,
				.buffer_sz = VD_PAGE_SIZE, .gref_directory = n->buf->dir_grefs[0]};
		} else {
			q->operation = XENDISPL_OP_FB_ATTACH;
			q->op.fb_attach = (struct xendispl_fb_attach_req){
				.dbuf_cookie = k, .fb_cookie = k, .width = 1024, .height = 1,
				.pixel_format = XRGB8888};
		}
		n->prod++;
	}
	if (n->prod != start)
		ring_push(n);
	if (vd_now_us() >= n->next_us) {
		/* the be-alloc attacker: one more 64 MiB buffer of backend memory */
		r = req(XENDISPL_OP_DBUF_CREATE);
		r.op.dbuf_create = (struct xendispl_dbuf_create_req){
			.dbuf_cookie = ++n->cookie, .width = 4096, .height = 4096, .bpp = 32,
			.buffer_sz = 16384 * VD_PAGE_SIZE, .flags = XENDISPL_DBUF_FLG_REQ_ALLOC,
			.gref_directory = n->dir->dir_grefs[0]};
		if (ask(n, n->bad2, 0, &r) != 0)
			n->refused++;
		n->next_us = vd_now_us() + 50000u;
	}
}

static int start_copy(struct nb *n)
{
	int r = attacker(n, "attacker", COPY_W, COPY_H, false, &n->bad);

	if (r >= 0)
		n->bad_domid = vd_simfront_domid(n->bad);
	if (r >= 0)
		r = show_buffer(n, COPY_W, COPY_H, COPY_W * COPY_H * 4);
	n->prod = n->cons = vd_simfront_sring(n->bad, 0)->req_prod;
	return r;
}

/*
 * Flips of the shown fb, 4 unanswered at most, as fast as the answers come:
 * those beyond max-pending-flips are refused, and each of the attacker's
 * vblanks copies a 2048x2048 frame.
 */
static void tick_copy(struct nb *n)
{
	RING_IDX rp = ring_answered(n), start = n->prod;

	while (n->prod - rp < 4) {
		struct xendispl_req *q = ring_slot(n, n->prod);

		memset(q, 0, sizeof(*q));
		q->id = (uint16_t)n->prod;
		q->operation = XENDISPL_OP_PG_FLIP;
		q->op.pg_flip.fb_cookie = 2;
		n->prod++;
	}
	if (n->prod != start)
		ring_push(n);
}

static int start_state(struct nb *n)
{
	struct vd_simfront_opts o = {.nconn = 1, .width = 320, .height = 240, .no_frontend = true};
	int r = vd_simfront_create(n->hv, n->loop, "attacker", &o, &n->bad);

	if (r >= 0)
		n->bad_domid = vd_simfront_domid(n->bad);
	if (r >= 0)
		r = vd_sim_connect_as(vd_sim_from_hv(n->hv), n->bad_domid, &n->bad_hv);
	return r;
}

/* Initialising and Initialised in turns, as fast as the loop goes, never a ring. */
static void tick_state(struct nb *n)
{
	n->state = n->state == XenbusStateInitialised ? XenbusStateInitialising
						       : XenbusStateInitialised;
	vd_xs_printf(n->bad_hv, VD_XS_NO_TXN, "device/vdispl/0/state", "%d", n->state);
	n->answers++;
}

static const struct {
	int (*start)(struct nb *n);
	void (*tick)(struct nb *n);
} ops[] = {
	[K_CAPTURE] = {start_capture, tick_capture},
	[K_SCREENSHOT] = {start_screenshot, tick_screenshot},
	[K_CHURN] = {start_churn, tick_churn},
	[K_CAPS] = {start_caps, tick_caps},
	[K_COPY] = {start_copy, tick_copy},
	[K_STATE] = {start_state, tick_state},
};

/* ---- the run ---- */

struct zc {
	uint32_t domid;
	bool on;
};

static void zc_of(void *userdata, const struct vd_dev_info *d)
{
	struct zc *z = userdata;

	if (d->domid == z->domid && d->has_bufs)
		z->on = d->bufs.zc == VD_ZC_ON;
}

int nb_run(const struct nb_attack *attack, uint32_t ms, struct nb_result *ret)
{
	struct nb *n = calloc(1, sizeof(*n));
	struct zc z;
	int r;

	if (!n)
		return -ENOMEM;
	n->attack = attack;
	n->kind = attack ? (enum kind)(attack - nb_attacks) : K_CAPTURE;
	r = setup(n);
	if (r >= 0)
		run_for(n, WARMUP_MS, NULL);
	if (r >= 0 && attack)
		r = ops[n->kind].start(n);
	if (r >= 0) {
		n->measuring = true;
		run_for(n, ms, attack ? ops[n->kind].tick : NULL);
		n->measuring = false;
		qsort(n->intervals, n->nintervals, sizeof(n->intervals[0]), cmp_u64);
		z = (struct zc){n->good_domid, false};
		vd_backend_foreach_device(n->be, zc_of, &z);
		*ret = (struct nb_result){
			.flips = n->nintervals,
			.interval_p50_us = pct(n->intervals, n->nintervals, 50),
			.interval_p99_us = pct(n->intervals, n->nintervals, 99),
			.interval_max_us = pct(n->intervals, n->nintervals, 100),
			.response_max_us = n->response_max_us,
			.zero_copy = z.on,
			.attacker_requests = n->answers,
			.attacker_refused = n->refused,
			.attacker_shots = n->shots,
		};
	}
	teardown(n);
	free(n);
	return r;
}
