/* SPDX-License-Identifier: MIT */
/*
 * A neighbour under attack (docs/resources.md, "Work per turn"): one guest
 * flips a 320x240 connector at 60 Hz (headless vblank) while another
 * keeps its ring full of the most expensive requests it can make -
 * DBUF_CREATE of a big zero-copy buffer, DBUF_DESTROY of it, over and
 * over. Two attackers, one phase each: "attack" with its caps raised so
 * that 256 MiB buffers (the largest the protocol side accepts) are
 * served, not refused; "attack_capped" at the default caps, with the
 * largest buffer they allow (16383 pages: 2 grant maps a page and 2 for
 * the ring within 32768). Reported for the neighbour: the interval
 * between its PG_FLIP events (p50, p99, the worst) and the time from a
 * PG_FLIP to its answer (p99, the worst); beside each, the same with no
 * attacker, measured in the same run in alternating phases.
 *
 * Unlike the other measurements this one runs the daemon and both guests
 * on one sd-event loop, as the sim tests do: the attacker's requests and
 * the neighbour's flips compete for the one thread the way they compete
 * for the daemon's, and a turn that takes too long shows in the
 * neighbour's intervals. The simulated guests' own work (drawing, the
 * attacker refilling its ring) is on that thread too, so the numbers are
 * an upper bound of what the daemon alone would cost the neighbour.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

#define REFRESH_MHZ 60000u
#define BIG_PAGES VD_MAX_BUFFER_PAGES /* 256 MiB */
#define CAPPED_PAGES 16383u            /* the largest zero-copy buffer at the default caps */
#define NPHASES 3u                     /* idle, attack, attack_capped */
#define RING_SLOTS 32u
#define CONNECT_TIMEOUT_MS 10000u

struct attacker {
	struct vd_simfront *front;
	struct vd_simfront_buf *buf;
	uint32_t pages;
	RING_IDX prod, cons; /* requests written, answers counted */
	uint64_t answers;
};

struct budget {
	sd_event *loop;
	struct vd_hv *hv;
	struct vd_output *out;
	struct vd_backend *be;
	struct vd_simfront *good;
	struct attacker att[NPHASES]; /* [phase], 0 unused */
	unsigned phase; /* 0: idle */
	bool measuring;
	int sent_in; /* the phase the flip in flight was sent in, -1 none measured */
	uint64_t last_event_ns;
	struct bench_samples interval[NPHASES], response[NPHASES];
};

static void on_flip_done(void *userdata, uint32_t conn)
{
	struct budget *b = userdata;
	uint64_t now = bench_now_ns();

	if (b->measuring && b->last_event_ns)
		bench_samples_add(&b->interval[b->phase], now - b->last_event_ns);
	b->last_event_ns = b->measuring ? now : 0;
}

static void on_flip_sent(void *userdata, uint32_t conn)
{
	struct budget *b = userdata;

	b->sent_in = b->measuring ? (int)b->phase : -1;
}

/* A flip sent in one phase and answered in it (not in the drain between phases). */
static void on_response(void *userdata, uint32_t conn, const struct xendispl_resp *rsp,
			uint64_t latency_us)
{
	struct budget *b = userdata;

	if (b->measuring && rsp->operation == XENDISPL_OP_PG_FLIP && b->sent_in == (int)b->phase)
		bench_samples_add(&b->response[b->phase], latency_us * 1000u);
}

/* The first attacker's caps and Dom0's maptrack let its 256 MiB buffers be served. */
static void lookup(void *userdata, uint32_t domid, const char *name,
		   struct vd_guest_settings *inout)
{
	if (!strcmp(name, "attacker"))
		inout->bufs.caps.max_grant_maps = 2ull * BIG_PAGES + 64;
}

static bool connected(struct budget *b, struct vd_simfront *g)
{
	uint64_t end = bench_now_ns() + CONNECT_TIMEOUT_MS * 1000000ull;

	while (!bench_guest_connected(g) && bench_now_ns() < end)
		if (sd_event_run(b->loop, 10000) < 0)
			return false;
	return bench_guest_connected(g);
}

static int attacker(struct budget *b, unsigned phase, const char *name, uint32_t pages)
{
	struct vd_simfront_opts ao = {.nconn = 1, .width = 320, .height = 240, .no_client = true};
	int r = vd_simfront_create(b->hv, b->loop, name, &ao, &b->att[phase].front);

	if (r >= 0 && !connected(b, b->att[phase].front))
		r = -ETIMEDOUT;
	if (r >= 0)
		r = vd_simfront_buf_alloc(b->att[phase].front, pages, &b->att[phase].buf);
	if (r < 0)
		return r;
	b->att[phase].pages = pages;
	b->att[phase].prod = b->att[phase].cons = vd_simfront_sring(b->att[phase].front, 0)->req_prod;
	return 0;
}

static int setup(struct budget *b)
{
	struct vd_output_opts oo = {.refresh_mhz = REFRESH_MHZ};
	struct vd_backend_opts bo = VD_BACKEND_OPTS_DEFAULT;
	struct vd_simfront_opts go = {.nconn = 1, .width = 320, .height = 240,
				      .on_flip_sent = on_flip_sent, .on_flip_done = on_flip_done,
				      .on_response = on_response, .hook_userdata = b};
	int r;

	bo.guest_lookup = lookup;
	bo.limits.v[VD_RES_MAPS] = 8ull * BIG_PAGES;
	r = sd_event_new(&b->loop);
	if (r >= 0)
		r = vd_hv_create("sim", &b->hv);
	if (r >= 0)
		r = vd_sim_set_maptrack(vd_sim_from_hv(b->hv), 0, 16ull * BIG_PAGES);
	if (r >= 0)
		r = vd_output_create("headless", b->loop, &oo, &b->out);
	if (r >= 0)
		r = vd_backend_create(b->loop, b->hv, b->out, &bo, &b->be);
	if (r >= 0)
		r = vd_simfront_create(b->hv, b->loop, "neighbour", &go, &b->good);
	if (r >= 0 && !connected(b, b->good))
		r = -ETIMEDOUT;
	if (r >= 0)
		r = attacker(b, 1, "attacker", BIG_PAGES);
	if (r >= 0)
		r = attacker(b, 2, "attacker-capped", CAPPED_PAGES);
	return r;
}

static void teardown(struct budget *b)
{
	vd_backend_destroy(b->be);
	for (unsigned p = 1; p < NPHASES; p++) {
		if (b->att[p].buf)
			vd_simfront_buf_free(b->att[p].front, b->att[p].buf);
		vd_simfront_destroy(b->att[p].front);
	}
	vd_simfront_destroy(b->good);
	if (b->out)
		vd_output_destroy(b->out);
	if (b->hv)
		vd_hv_destroy(b->hv);
	sd_event_unref(b->loop);
	for (unsigned p = 0; p < NPHASES; p++) {
		bench_samples_free(&b->interval[p]);
		bench_samples_free(&b->response[p]);
	}
}

/* Request n of the churn: create the attacker's buffer, destroy it. */
static void churn_req(const struct vd_simfront_buf *buf, uint32_t pages, struct xendispl_req *r,
		      RING_IDX n)
{
	memset(r, 0, sizeof(*r));
	r->id = (uint16_t)n;
	if (n % 2 == 0) {
		r->operation = XENDISPL_OP_DBUF_CREATE;
		r->op.dbuf_create.dbuf_cookie = 1 + n / 2;
		r->op.dbuf_create.buffer_sz = pages * VD_PAGE_SIZE;
		r->op.dbuf_create.gref_directory = buf->dir_grefs[0];
	} else {
		r->operation = XENDISPL_OP_DBUF_DESTROY;
		r->op.dbuf_destroy.dbuf_cookie = 1 + n / 2;
	}
}

/* Count the phase's attacker's answers and keep its ring full. */
static void top_up(struct budget *b)
{
	struct xen_displif_sring *s = vd_simfront_sring(b->att[b->phase].front, 0);
	struct xendispl_req *slots = (struct xendispl_req *)((char *)s + 64);
	RING_IDX rp = __atomic_load_n(&s->rsp_prod, __ATOMIC_ACQUIRE), start;
	struct attacker *a = &b->att[b->phase];

	start = a->prod;
	a->answers += rp - a->cons;
	a->cons = rp;
	while (a->prod - rp < RING_SLOTS) {
		churn_req(a->buf, a->pages, &slots[a->prod & (RING_SLOTS - 1)], a->prod);
		a->prod++;
	}
	if (a->prod != start) {
		__atomic_store_n(&s->req_prod, a->prod, __ATOMIC_RELEASE);
		vd_simfront_notify(a->front, 0);
	}
}

/* Run ms of phase (0 idle, else that attacker's ring kept full); its tail drains after. */
static int phase(struct budget *b, unsigned phase, uint32_t ms)
{
	uint64_t end = bench_now_ns() + (uint64_t)ms * 1000000u;

	b->phase = phase;
	b->measuring = true;
	b->last_event_ns = 0;
	b->sent_in = -1;
	while (bench_now_ns() < end) {
		if (phase)
			top_up(b);
		if (sd_event_run(b->loop, 10000) < 0)
			return -EIO;
	}
	b->measuring = false;
	while (phase && b->att[phase].cons != b->att[phase].prod) {
		struct xen_displif_sring *s = vd_simfront_sring(b->att[phase].front, 0);

		if (sd_event_run(b->loop, 10000) < 0)
			return -EIO;
		b->att[phase].cons = __atomic_load_n(&s->rsp_prod, __ATOMIC_ACQUIRE);
	}
	return 0;
}

static double ms(struct bench_samples *s, double q)
{
	return (double)bench_samples_quantile(s, q) / 1e6;
}

static void report(struct budget *b, double phase_s)
{
	static const char *const ph[NPHASES] = {"idle", "attack", "attack_capped"};
	struct vd_backend_stats bs;

	for (unsigned p = 0; p < NPHASES; p++) {
		char name[64], base[64];
		const struct {
			const char *metric, *what;
			struct bench_samples *s;
			double q;
		} rows[] = {
		    {"interval_p50", "neighbour: PG_FLIP event interval, median", &b->interval[p],
		     0.5},
		    {"interval_p99", "neighbour: PG_FLIP event interval, p99", &b->interval[p], 0.99},
		    {"interval_max", "neighbour: PG_FLIP event interval, worst", &b->interval[p], 1},
		    {"response_p99", "neighbour: PG_FLIP answer, p99", &b->response[p], 0.99},
		    {"response_max", "neighbour: PG_FLIP answer, worst", &b->response[p], 1},
		};

		for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			snprintf(name, sizeof(name), "budget.%s.%s", ph[p], rows[i].metric);
			snprintf(base, sizeof(base), "budget.idle.%s", rows[i].metric);
			bench_report(name, ms(rows[i].s, rows[i].q), "ms", p ? base : NULL,
				     rows[i].what);
		}
	}
	bench_report("budget.attack.answers_per_s", (double)b->att[1].answers / phase_s, "1/s",
		     NULL, "attacker: 256 MiB DBUF_CREATE/DESTROY answered per second");
	bench_report("budget.attack_capped.answers_per_s", (double)b->att[2].answers / phase_s,
		     "1/s", NULL, "attacker: 64 MiB DBUF_CREATE/DESTROY answered per second");
	vd_backend_get_stats(b->be, &bs);
	bench_report("budget.max_turn_pages", (double)bs.max_turn_pages, "pages", NULL,
		     "daemon: the most pages one device's turn handled");
}

int bench_budget(const struct bench_cfg *cfg)
{
	static struct budget b;
	uint32_t rounds = cfg->quick ? 1 : 3, phase_ms = cfg->quick ? 700 : 2000;
	int r;

	memset(&b, 0, sizeof(b));
	r = setup(&b);
	for (uint32_t i = 0; r >= 0 && i < rounds * NPHASES; i++)
		r = phase(&b, i % NPHASES, phase_ms);
	for (unsigned p = 0; r >= 0 && p < NPHASES; p++)
		if (b.interval[p].n < 2 || b.response[p].n < 2 || (p && !b.att[p].answers))
			r = -ENODATA;
	if (r >= 0)
		report(&b, rounds * phase_ms / 1e3);
	else
		fprintf(stderr, "vdispl-bench: budget: %s\n", strerror(-r));
	teardown(&b);
	return r;
}
