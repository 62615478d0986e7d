/* SPDX-License-Identifier: MIT */
/*
 * The per-turn budget (docs/resources.md, "Work per turn"): a guest that
 * keeps its rings full of the most expensive requests there are -
 * DBUF_CREATE of 256 MiB and DBUF_DESTROY, over and over - gets its work
 * done in turns of bounded cost, and a neighbour flipping at 60 Hz is
 * served after at most one such turn.
 *
 * What is asserted is the structure, not the time (this runs on loaded
 * two-core machines): while one PG_FLIP of the neighbour waits for its
 * answer, the hypervisor maps or exports no more of the attacker's pages
 * than two turns can (the attacker's turn under way when the flip is
 * served, and one before its answer is read), where one turn does at most
 * one indivisible call of one buffer's size. The benchmark (vdispl-bench
 * --only budget) prints the times.
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

#define REFRESH_60HZ 60000u
#define RING_SLOTS 32u
#define BIG_PAGES VD_MAX_BUFFER_PAGES /* 256 MiB, the largest buffer accepted */
#define ATTACK_CONNS 2u
/* One turn maps or exports at most one buffer's pages in one call, plus a directory. */
#define TURN_MAX_PAGES (BIG_PAGES + BIG_PAGES / VD_GREFS_PER_DIR_PAGE + 1)
#define MIN_FLIPS 20u
#define ATTACK_MS_MAX 20000u

struct ctx {
	struct harness h;
	struct vd_simfront *good, *bad;
	uint32_t bad_domid;
	struct vd_simfront_buf *big;
	/* Per attacked ring: the next request index to write. */
	RING_IDX prod[ATTACK_CONNS];
	uint32_t cookie;
	/* The neighbour's flip in flight: the attacker's map work when it was sent. */
	uint64_t pages_at_send;
	bool attacking, sent_attacking;
	uint64_t flips, max_window_pages, max_latency_us;
	uint64_t bad_errors, bad_answers;
};

static uint64_t bad_map_pages(struct ctx *c)
{
	struct vd_sim_stats ss;

	assert_int_equal(vd_sim_domain_stats(vd_sim_from_hv(c->h.hv), c->bad_domid, &ss), 0);
	return ss.map_pages_total;
}

static void on_flip_sent(void *userdata, uint32_t conn)
{
	struct ctx *c = userdata;

	c->pages_at_send = bad_map_pages(c);
	c->sent_attacking = c->attacking;
}

static void on_response(void *userdata, uint32_t conn, const struct xendispl_resp *rsp,
			uint64_t latency_us)
{
	struct ctx *c = userdata;
	uint64_t window = bad_map_pages(c) - c->pages_at_send;

	if (!c->attacking || !c->sent_attacking || rsp->operation != XENDISPL_OP_PG_FLIP)
		return;
	c->flips++;
	if (window > c->max_window_pages)
		c->max_window_pages = window;
	if (latency_us > c->max_latency_us)
		c->max_latency_us = latency_us;
}

static bool both_connected(struct harness *h, void *arg)
{
	struct ctx *c = arg;

	return h_guest_connected(h, c->good) && h_guest_connected(h, c->bad);
}

static bool good_warm(struct harness *h, void *arg)
{
	return h_stats(((struct ctx *)arg)->good).frames_done >= 10;
}

/* The attacker's caps let it have a 256 MiB buffer, so its requests cost what they can. */
static void lookup(void *userdata, uint32_t domid, const char *name,
		   struct vd_guest_settings *inout)
{
	if (!strcmp(name, "attacker"))
		inout->bufs.caps.max_grant_maps = 2ull * ATTACK_CONNS * BIG_PAGES + 64;
}

static struct ctx *ctx_new(void)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct vd_simfront_opts go = {.nconn = 1,
				      .width = 320,
				      .height = 240,
				      .on_flip_sent = on_flip_sent,
				      .on_response = on_response};
	struct vd_simfront_opts bo = {
	    .nconn = ATTACK_CONNS, .width = 320, .height = 240, .no_client = true};

	assert_non_null(c);
	struct vd_backend_opts opts = VD_BACKEND_OPTS_DEFAULT;

	go.hook_userdata = c;
	opts.guest_lookup = lookup;
	opts.limits.v[VD_RES_MAPS] = 8ull * BIG_PAGES;
	h_init_with(&c->h, NULL, &opts, false, REFRESH_60HZ);
	/* Dom0 booted with room for it (gnttab_max_maptrack_frames). */
	assert_int_equal(vd_sim_set_maptrack(vd_sim_from_hv(c->h.hv), 0, 16ull * BIG_PAGES), 0);
	c->good = h_guest(&c->h, "neighbour", &go);
	c->bad = h_guest(&c->h, "attacker", &bo);
	c->bad_domid = vd_simfront_domid(c->bad);
	assert_true(h_run_until(&c->h, both_connected, c, 5000));
	assert_true(h_run_until(&c->h, good_warm, c, 5000));
	assert_int_equal(vd_simfront_buf_alloc(c->bad, BIG_PAGES, &c->big), 0);
	for (uint32_t i = 0; i < ATTACK_CONNS; i++)
		c->prod[i] = vd_simfront_sring(c->bad, i)->req_prod;
	return c;
}

static void ctx_free(struct ctx *c)
{
	h_backend_stop(&c->h);
	vd_simfront_buf_free(c->bad, c->big);
	h_fini(&c->h);
	free(c);
}

static RING_IDX rsp_prod_now(struct xen_displif_sring *s)
{
	return __atomic_load_n(&s->rsp_prod, __ATOMIC_ACQUIRE);
}

static struct xendispl_req *ring_req(struct xen_displif_sring *s, RING_IDX i)
{
	return &((struct xendispl_req *)((char *)s + 64))[i & (RING_SLOTS - 1)];
}

static const struct xendispl_resp *ring_rsp(struct xen_displif_sring *s, RING_IDX i)
{
	return &((const struct xendispl_resp *)((const char *)s + 64))[i & (RING_SLOTS - 1)];
}

/* Request n of the churn: DBUF_CREATE of the big buffer, then its DBUF_DESTROY. */
static void churn_req(struct ctx *c, struct xendispl_req *r, uint32_t ring, RING_IDX n)
{
	uint64_t cookie = ((uint64_t)(ring + 1) << 32) + n / 2;

	memset(r, 0, sizeof(*r));
	r->id = (uint16_t)n;
	if (n % 2 == 0) {
		r->operation = XENDISPL_OP_DBUF_CREATE;
		r->op.dbuf_create.dbuf_cookie = cookie;
		r->op.dbuf_create.buffer_sz = BIG_PAGES * VD_PAGE_SIZE;
		r->op.dbuf_create.gref_directory = c->big->dir_grefs[0];
	} else {
		r->operation = XENDISPL_OP_DBUF_DESTROY;
		r->op.dbuf_destroy.dbuf_cookie = cookie;
	}
}

/* Keep every attacked ring full; count the answers (and check each is well formed). */
static void top_up(struct ctx *c)
{
	for (uint32_t i = 0; i < ATTACK_CONNS; i++) {
		struct xen_displif_sring *s = vd_simfront_sring(c->bad, i);
		RING_IDX rp = rsp_prod_now(s), start = c->prod[i];

		while (c->prod[i] - rp < RING_SLOTS) {
			churn_req(c, ring_req(s, c->prod[i]), i, c->prod[i]);
			c->prod[i]++;
		}
		if (c->prod[i] != start) {
			__atomic_store_n(&s->req_prod, c->prod[i], __ATOMIC_RELEASE);
			assert_int_equal(vd_simfront_notify(c->bad, i), 0);
		}
	}
}

static void count_answers(struct ctx *c, RING_IDX *cons)
{
	for (uint32_t i = 0; i < ATTACK_CONNS; i++) {
		struct xen_displif_sring *s = vd_simfront_sring(c->bad, i);
		RING_IDX rp = rsp_prod_now(s);

		for (; cons[i] != rp; cons[i]++) {
			const struct xendispl_resp *rsp = ring_rsp(s, cons[i]);

			assert_int_equal(rsp->id, (uint16_t)cons[i]);
			c->bad_answers++;
			c->bad_errors += rsp->status != 0;
			if (rsp->status)
				print_message("attacker: op %u status %d\n", rsp->operation,
					      rsp->status);
		}
	}
}

/* The attack lasts until the neighbour got MIN_FLIPS flips answered under it. */
static void attack(struct ctx *c)
{
	RING_IDX cons[ATTACK_CONNS];
	uint64_t end = vd_now_ms() + ATTACK_MS_MAX;

	for (uint32_t i = 0; i < ATTACK_CONNS; i++)
		cons[i] = rsp_prod_now(vd_simfront_sring(c->bad, i));
	c->attacking = true;
	while (c->flips < MIN_FLIPS && vd_now_ms() < end) {
		top_up(c);
		assert_true(sd_event_run(c->h.loop, 10000) >= 0);
		count_answers(c, cons);
	}
	c->attacking = false;
}

/*
 * The attacker's churn costs the neighbour at most two of its turns per
 * flip, and both keep being served: the neighbour cleanly, the attacker
 * with its buffers created and destroyed.
 */
static void expensive_churn_yields(void **state)
{
	struct ctx *c = ctx_new();
	struct vd_simfront_stats gs;
	struct vd_backend_stats bs;

	attack(c);
	vd_backend_get_stats(c->h.be, &bs);
	gs = h_stats(c->good);
	print_message("neighbour: %llu flips under attack, slowest %.1f ms; attacker: %llu "
		      "answers (%llu errors); at most %llu attacker pages mapped while one flip "
		      "waited (bound %llu)\n",
		      (unsigned long long)c->flips, (double)c->max_latency_us / 1e3,
		      (unsigned long long)c->bad_answers, (unsigned long long)c->bad_errors,
		      (unsigned long long)c->max_window_pages,
		      (unsigned long long)(2 * TURN_MAX_PAGES));
	print_message("daemon: %llu turns, the biggest %llu pages, %llu requests over several\n",
		      (unsigned long long)bs.turns, (unsigned long long)bs.max_turn_pages,
		      (unsigned long long)bs.split_requests);
	assert_int_equal(c->flips, MIN_FLIPS);
	assert_true(c->max_window_pages <= 2 * TURN_MAX_PAGES);
	/* The daemon's own count: no turn did more than one big stage. */
	assert_true(bs.max_turn_pages <= TURN_MAX_PAGES);
	assert_true(bs.split_requests >= 2);
	assert_true(c->bad_answers >= 2);
	assert_int_equal(c->bad_errors, 0);
	assert_int_equal(gs.errors, 0);
	assert_int_equal(gs.timeouts, 0);
	assert_int_equal(gs.watchdogs, 0);
	assert_int_equal(gs.events_skipped, 0);
	ctx_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(expensive_churn_yields),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
