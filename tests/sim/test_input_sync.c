/* SPDX-License-Identifier: MIT */
/*
 * The daemon's input (daemon_input.c) follows the guests as they change,
 * with no delay: the router's view is brought up to date before the next
 * input event is routed, not by a timer. A vkb that just connected gets the
 * event injected right after; a connector that appeared, left or moved
 * changes where the pointer goes at once; a reloaded configuration's hotkey
 * works at once.
 *
 * Checked against the 200 ms polling timer these replace (daemon_input.c
 * of before, with a no-op vd_dinput_changed): every test here fails with it
 * (the event goes to no guest, or to the guest of the stale layout).
 *
 * The output is headless wrapped in a "grid": one shared screen, the
 * connectors side by side in the order they came (or reversed, as a
 * display connected later reshuffles them), each with its rectangle in
 * vd_output_conn_layout, and the layout listener told of each change.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <linux/input-event-codes.h>
#include <xen/io/xenbus.h>

#include "config.h"
#include "daemon_input.h"
#include "harness.h"
#include "input/kbdback.h"
#include "log.h"
#include "output/output_impl.h"
#include "simkbd/simkbd.h"

#define TIMEOUT_MS 5000u
/*
 * "At once": within this many loop turns that do not wait (timeout 0), so
 * no timer can fire in between and a loaded machine changes nothing.
 */
#define PROMPT_TURNS 50u
#define SCREEN_W 1200
#define SCREEN_H 600
#define GRID_MAX 8

/* ---- the grid output: a shared screen, on the output core ---- */

struct gconn {
	struct vd_output_conn base;
};

struct grid {
	struct vd_output base;
	struct vd_output_impl impl;
	struct gconn *conns[GRID_MAX]; /* in the order they came */
	uint32_t nconns;
	bool reversed;
	uint32_t gen; /* bumped at each layout change */
};

static struct grid *grid_of(struct vd_output *out)
{
	return (struct grid *)out;
}

static struct gconn *gconn_of(struct vd_output_conn *c)
{
	return (struct gconn *)c;
}

static void grid_changed(struct grid *g)
{
	g->gen++;
	vd_output_layout_changed(&g->base);
}

static int grid_conn_init(struct vd_output_conn *base, const struct vd_output_conn_desc *d)
{
	struct grid *g = grid_of(base->out);

	assert_true(g->nconns < GRID_MAX);
	g->conns[g->nconns++] = gconn_of(base);
	grid_changed(g);
	return 0;
}

static void grid_conn_finish(struct vd_output_conn *base)
{
	struct grid *g = grid_of(base->out);
	uint32_t i = 0;

	while (i < g->nconns && g->conns[i] != gconn_of(base))
		i++;
	assert_true(i < g->nconns);
	memmove(&g->conns[i], &g->conns[i + 1], (g->nconns - i - 1) * sizeof(g->conns[0]));
	g->nconns--;
	grid_changed(g);
}

static int grid_conn_layout(struct vd_output_conn *base, struct vd_rect *ret)
{
	struct grid *g = grid_of(base->out);
	uint32_t w = SCREEN_W / (g->nconns ? g->nconns : 1);

	for (uint32_t i = 0; i < g->nconns; i++)
		if (g->conns[i] == gconn_of(base)) {
			uint32_t cell = g->reversed ? g->nconns - 1 - i : i;

			*ret = (struct vd_rect){cell * w, 0, w, SCREEN_H};
			return 0;
		}
	return -ENODATA;
}

static int grid_fb_init(struct vd_output_fb *fb)
{
	return vd_frame_src_valid(&fb->src, true) ? 0 : -EINVAL;
}

static void grid_fb_finish(struct vd_output_fb *fb)
{
}

static struct grid *the_grid; /* one grid per test */

static void grid_destroy(struct vd_output *out)
{
	vd_output_finish(out);
	free(grid_of(out));
	the_grid = NULL;
}

/* The harness made a headless output: the grid replaces it. */
static struct vd_output *grid_wrap(struct harness *h, struct vd_output *headless)
{
	struct vd_output_opts oo = {.refresh_mhz = 0}; /* as the harness's: flips at once */
	struct grid *g = calloc(1, sizeof(*g));

	assert_non_null(g);
	vd_output_destroy(headless);
	g->impl = (struct vd_output_impl){
		.name = "grid",
		.pacing = VD_PACE_TIMER,
		.conn_size = sizeof(struct gconn),
		.fb_size = sizeof(struct vd_output_fb),
		.destroy = grid_destroy,
		.conn_init = grid_conn_init,
		.conn_finish = grid_conn_finish,
		.fb_init = grid_fb_init,
		.fb_finish = grid_fb_finish,
		.conn_layout = grid_conn_layout,
	};
	assert_int_equal(vd_output_init(&g->base, &g->impl, h->loop, &oo), 0);
	the_grid = g;
	return &g->base;
}

/* A display connected later reshuffles the connectors: only the output knows. */
static void grid_reverse(struct grid *g)
{
	g->reversed = !g->reversed;
	grid_changed(g);
}

/* ---- the daemon's input on the harness ---- */

struct ctx {
	struct harness h;
	struct vd_kbdback *kb;
	struct vd_dinput *di;
	struct vd_config *cfg; /* in effect */
	struct vd_config *old; /* replaced, freed at the end */
	struct vd_simkbd *k[GRID_MAX];
	uint32_t nk;
};

static const struct vd_config *ctx_config(void *userdata)
{
	struct ctx *c = userdata;

	return c->cfg;
}

static void ctx_init(struct ctx *c)
{
	struct vd_dinput_deps deps;

	memset(c, 0, sizeof(*c));
	h_init_with(&c->h, grid_wrap, NULL, false, 0);
	assert_int_equal(vd_config_new_default(&c->cfg), 0);
	assert_int_equal(vd_kbdback_create(c->h.loop, c->h.hv, &c->kb), 0);
	deps = (struct vd_dinput_deps){
		.loop = c->h.loop,
		.kb = c->kb,
		.be = c->h.be,
		.out = c->h.out,
		.config = ctx_config,
		.config_userdata = c,
	};
	assert_int_equal(vd_dinput_create(&deps, "script", NULL, &c->di), 0);
	assert_non_null(vd_dinput_script(c->di));
}

static void ctx_fini(struct ctx *c)
{
	vd_dinput_destroy(c->di);
	vd_kbdback_destroy(c->kb);
	for (uint32_t i = 0; i < c->nk; i++)
		vd_simkbd_destroy(c->k[i]);
	h_fini(&c->h);
	vd_config_free(c->cfg);
	vd_config_free(c->old);
}

static uint32_t nevents(struct vd_simkbd *k)
{
	const struct vd_simkbd_event *e;

	return vd_simkbd_events(k, &e);
}

static const struct vd_simkbd_event *last_event(struct vd_simkbd *k)
{
	const struct vd_simkbd_event *e;
	uint32_t n = vd_simkbd_events(k, &e);

	assert_true(n > 0);
	return &e[n - 1];
}

static void feed(struct ctx *c, const struct vd_input_event *evs, size_t n)
{
	assert_int_equal(vd_input_script_feed(vd_dinput_script(c->di), evs, n), 0);
}

static void feed_key(struct ctx *c, uint32_t code)
{
	const struct vd_input_event evs[] = {
	    {.kind = VD_INPUT_KEY, .code = code, .pressed = true},
	    {.kind = VD_INPUT_KEY, .code = code, .pressed = false},
	};

	feed(c, evs, 2);
}

static void feed_abs(struct ctx *c, int32_t x, int32_t y)
{
	const struct vd_input_event ev = {.kind = VD_INPUT_ABS, .x = x, .y = y};

	feed(c, &ev, 1);
}

struct kbd_arg {
	struct ctx *c;
	struct vd_simkbd *k;
	uint32_t n;
};

static bool cond_kbd_up(struct harness *h, void *arg)
{
	struct kbd_arg *a = arg;

	return vd_kbdback_connected(a->c->kb, vd_simkbd_domid(a->k));
}

static bool cond_nevents(struct harness *h, void *arg)
{
	struct kbd_arg *a = arg;

	return nevents(a->k) >= a->n;
}

static void wait_events(struct ctx *c, struct vd_simkbd *k, uint32_t n, uint32_t ms)
{
	struct kbd_arg a = {c, k, n};

	assert_true(h_run_until(&c->h, cond_nevents, &a, ms));
}

/* Run loop turns that do not wait until cond holds: false after PROMPT_TURNS. */
static bool turns_until(struct ctx *c, h_cond cond, void *arg)
{
	for (uint32_t i = 0; i < PROMPT_TURNS; i++) {
		if (cond(&c->h, arg))
			return true;
		assert_true(sd_event_run(c->h.loop, 0) >= 0);
	}
	return cond(&c->h, arg);
}

/* The guest has n events at once (turns_until). */
static void prompt_events(struct ctx *c, struct vd_simkbd *k, uint32_t n)
{
	struct kbd_arg a = {c, k, n};

	assert_true(turns_until(c, cond_nevents, &a));
}

/* A vkb for domid (0: a domain of its own), absolute, as big as a grid cell of two. */
static struct vd_simkbd *kbd(struct ctx *c, const char *name, uint32_t domid)
{
	struct vd_simkbd_opts o = {
	    .domid = domid, .abs_pointer = true, .width = SCREEN_W, .height = SCREEN_H};
	struct vd_simkbd *k = NULL;

	assert_true(c->nk < GRID_MAX);
	assert_int_equal(vd_simkbd_create(c->h.hv, c->h.loop, name, &o, &k), 0);
	c->k[c->nk++] = k;
	return k;
}

static void wait_kbd_up(struct ctx *c, struct vd_simkbd *k)
{
	struct kbd_arg a = {c, k, 0};

	assert_true(h_run_until(&c->h, cond_kbd_up, &a, TIMEOUT_MS));
}

/* A display of one connector that connects and does nothing else. */
static struct vd_simfront *display(struct ctx *c, const char *name)
{
	struct vd_simfront_opts o = {.nconn = 1, .width = 640, .height = 480, .no_client = true};

	return h_guest(&c->h, name, &o);
}

/* ---- a vkb that connects gets the very next event ---- */

#define ROUNDS 8

/*
 * A key fed in the loop turn right after a vkb connects reaches it: the
 * router learns of the vkb from the connect itself, not from a timer
 * (the 200 ms one it replaces dropped such a key). Counted in loop turns
 * that do not wait, so a loaded machine cannot make it pass or fail.
 */
static void vkb_connect_routes_the_next_event(void **state)
{
	uint32_t turns[ROUNDS], max = 0;
	struct ctx c;

	ctx_init(&c);
	for (uint32_t i = 0; i < ROUNDS; i++) {
		char name[32];
		struct vd_router_stats rs;
		struct vd_simkbd *k;

		snprintf(name, sizeof(name), "kbd-%u", i);
		k = kbd(&c, name, 0);
		wait_kbd_up(&c, k);
		feed_key(&c, KEY_A);
		for (turns[i] = 0; !nevents(k) && turns[i] < PROMPT_TURNS; turns[i]++)
			assert_true(sd_event_run(c.h.loop, 0) >= 0);
		assert_true(nevents(k) > 0);
		vd_router_get_stats(vd_dinput_router(c.di), &rs);
		assert_int_equal(rs.dropped, 0); /* the key went to the new vkb, not nowhere */
		assert_int_equal(last_event(k)->type, XENKBD_TYPE_KEY);
		assert_int_equal(last_event(k)->keycode, KEY_A);
		max = turns[i] > max ? turns[i] : max;
		/* The guest goes; its successor takes the focus. */
		vd_simkbd_destroy(k);
		c.k[--c.nk] = NULL;
	}
	print_message("vkb connected -> first key in the guest within %u loop turns (%u rounds)\n",
		      max, ROUNDS);
	ctx_fini(&c);
}

/* ---- the pointer follows the layout at once ---- */

struct gen_arg {
	struct ctx *c;
	uint32_t gen;
	int32_t x; /* fed as soon as the layout changed */
};

static bool cond_layout_changed(struct harness *h, void *arg)
{
	struct gen_arg *a = arg;

	if (the_grid->gen == a->gen)
		return false;
	feed_abs(a->c, a->x, SCREEN_H / 2);
	return true;
}

/* Run until the layout changes, and point at x in the loop iteration right after. */
static void point_when_layout_changes(struct ctx *c, int32_t x)
{
	struct gen_arg a = {c, the_grid->gen, x};

	assert_true(h_run_until(&c->h, cond_layout_changed, &a, TIMEOUT_MS));
}

/* The pointer at x went to k (as its POS event), and nobody else got anything. */
static void assert_pointed(struct ctx *c, const char *step, struct vd_simkbd *k, uint32_t *seen,
			   int32_t x_in_k)
{
	struct kbd_arg a = {c, k, seen[k == c->k[0] ? 0 : 1] + 1};

	if (!turns_until(c, cond_nevents, &a))
		fail_msg("%s: the pointer did not reach its guest", step);
	assert_int_equal(last_event(k)->type, XENKBD_TYPE_POS);
	assert_int_equal(last_event(k)->x, x_in_k);
	h_run_for(&c->h, 10);
	seen[0] = nevents(c->k[0]);
	seen[1] = nevents(c->k[1]);
}

static void pointer_follows_the_layout(void **state)
{
	struct vd_simfront *fa, *fb, *fc;
	uint32_t seen[2];
	struct ctx c;

	ctx_init(&c);
	/* A and B: a display and a vkb each; halves of the screen, A left. */
	fa = display(&c, "guest-a");
	kbd(&c, "guest-a", vd_simfront_domid(fa));
	wait_kbd_up(&c, c.k[0]);
	/* A's display first: the grid lays connectors out in the order they come */
	assert_true(h_run_until(&c.h, h_guest_connected, fa, TIMEOUT_MS));
	fb = display(&c, "guest-b");
	kbd(&c, "guest-b", vd_simfront_domid(fb));
	wait_kbd_up(&c, c.k[1]);
	assert_true(h_run_until(&c.h, h_guest_connected, fa, TIMEOUT_MS));
	assert_true(h_run_until(&c.h, h_guest_connected, fb, TIMEOUT_MS));
	assert_int_equal(the_grid->nconns, 2);
	h_run_for(&c.h, 250); /* settled, whatever keeps the router up to date */
	seen[0] = seen[1] = 0;
	feed_abs(&c, 700, SCREEN_H / 2); /* B's half: 100 of its 600 */
	assert_pointed(&c, "halves", c.k[1], seen, 100 * SCREEN_W / 600);

	/* C's display (no vkb) comes: thirds, A B C. 500 is B's now (it was A's). */
	fc = display(&c, "guest-c");
	point_when_layout_changes(&c, 500);
	assert_pointed(&c, "thirds", c.k[1], seen, 100 * SCREEN_W / 400);

	/* The output alone reshuffles them (no backend event): C B A. 1000 is A's now. */
	grid_reverse(the_grid);
	feed_abs(&c, 1000, SCREEN_H / 2);
	assert_pointed(&c, "reversed", c.k[0], seen, 200 * SCREEN_W / 400);

	/* C's display goes: halves, B A. 500 is B's now (it was A's as the thirds were). */
	vd_simfront_destroy(fc);
	c.h.guests[--c.h.nguests] = NULL;
	point_when_layout_changes(&c, 500);
	assert_pointed(&c, "C gone", c.k[1], seen, 500 * SCREEN_W / 600);
	ctx_fini(&c);
}

/* ---- a reloaded configuration's hotkey works at once ---- */

static void reload_applies_at_once(void **state)
{
	struct vd_simkbd *a, *b;
	struct vd_config *cfg;
	struct ctx c;

	ctx_init(&c);
	a = kbd(&c, "kbd-a", 0);
	b = kbd(&c, "kbd-b", 0);
	wait_kbd_up(&c, a);
	wait_kbd_up(&c, b);
	h_run_for(&c.h, 250); /* settled, whatever keeps the router up to date */
	feed_key(&c, KEY_X);
	wait_events(&c, a, 2, TIMEOUT_MS); /* the first guest has the focus */

	/* The new configuration gives kbd-b a hotkey of its own: F9. */
	assert_int_equal(vd_config_new_default(&cfg), 0);
	cfg->guests = calloc(1, sizeof(*cfg->guests));
	assert_non_null(cfg->guests);
	cfg->nguests = 1;
	snprintf(cfg->guests[0].name, sizeof(cfg->guests[0].name), "kbd-b");
	cfg->guests[0].conf = cfg->defaults;
	snprintf(cfg->guests[0].conf.hotkey, sizeof(cfg->guests[0].conf.hotkey), "f9");
	c.old = c.cfg;
	c.cfg = cfg;
	vd_dinput_changed(c.di); /* what the daemon does after a reload */
	feed_key(&c, KEY_F9);
	feed_key(&c, KEY_Y);
	prompt_events(&c, b, 2);
	assert_int_equal(last_event(b)->keycode, KEY_Y);
	assert_int_equal(nevents(b), 2); /* F9 itself is never delivered */
	h_run_for(&c.h, 10);
	assert_int_equal(nevents(a), 2); /* nor anything else to A */
	ctx_fini(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(vkb_connect_routes_the_next_event),
	    cmocka_unit_test(pointer_follows_the_layout),
	    cmocka_unit_test(reload_applies_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
