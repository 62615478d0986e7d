/* SPDX-License-Identifier: MIT */
/*
 * Input end to end over the simulated hypervisor: a scripted source, the
 * router, the kbdif backend, and simulated Linux xen-kbdfront guests that
 * record what they receive and count what would crash them.
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

#include "harness.h"
#include "input/kbdback.h"
#include "input/router.h"
#include "input/source.h"
#include "simkbd/simkbd.h"

#define TIMEOUT_MS 5000u

struct ctx {
	struct harness h;
	struct vd_kbdback *kb;
	struct vd_router *router;
	struct vd_input_source *src; /* owned by the router */
	struct vd_simkbd *g[4];
	uint32_t ng;
};

static void ctx_init(struct ctx *c)
{
	struct vd_router_opts ro = VD_ROUTER_OPTS_DEFAULT;

	memset(c, 0, sizeof(*c));
	h_init(&c->h, false, 0);
	assert_int_equal(vd_kbdback_create(c->h.loop, c->h.hv, &c->kb), 0);
	assert_int_equal(vd_router_create(c->h.loop, c->kb, &ro, &c->router), 0);
	assert_int_equal(vd_input_script_create(&c->src), 0);
	assert_int_equal(vd_router_add_source(c->router, c->src), 0);
}

static void ctx_fini(struct ctx *c)
{
	vd_router_destroy(c->router);
	vd_kbdback_destroy(c->kb);
	for (uint32_t i = 0; i < c->ng; i++)
		vd_simkbd_destroy(c->g[i]);
	h_fini(&c->h);
}

struct conn_arg {
	struct ctx *c;
	struct vd_simkbd *g;
};

static bool cond_connected(struct harness *h, void *arg)
{
	struct conn_arg *a = arg;
	struct vd_simkbd_stats s;

	vd_simkbd_get_stats(a->g, &s);
	return s.state == XenbusStateConnected &&
	       vd_kbdback_connected(a->c->kb, vd_simkbd_domid(a->g));
}

static void wait_connected(struct ctx *c, struct vd_simkbd *g)
{
	struct conn_arg a = {c, g};

	assert_true(h_run_until(&c->h, cond_connected, &a, TIMEOUT_MS));
}

static struct vd_simkbd *guest(struct ctx *c, const char *name, const struct vd_simkbd_opts *o,
			       bool wait)
{
	struct vd_simkbd *g = NULL;

	assert_true(c->ng < 4);
	assert_int_equal(vd_simkbd_create(c->h.hv, c->h.loop, name, o, &g), 0);
	c->g[c->ng++] = g;
	if (wait)
		wait_connected(c, g);
	return g;
}

static uint32_t nevents(struct vd_simkbd *g)
{
	const struct vd_simkbd_event *e;

	return vd_simkbd_events(g, &e);
}

static const struct vd_simkbd_event *event(struct vd_simkbd *g, uint32_t i)
{
	const struct vd_simkbd_event *e;

	assert_true(i < vd_simkbd_events(g, &e));
	return &e[i];
}

struct count_arg {
	struct vd_simkbd *g;
	uint32_t n;
};

static bool cond_nevents(struct harness *h, void *arg)
{
	struct count_arg *a = arg;

	return nevents(a->g) >= a->n;
}

static void wait_events(struct ctx *c, struct vd_simkbd *g, uint32_t n)
{
	struct count_arg a = {g, n};

	assert_true(h_run_until(&c->h, cond_nevents, &a, TIMEOUT_MS));
	assert_int_equal(nevents(g), n);
}

static void feed(struct ctx *c, const struct vd_input_event *evs, size_t n)
{
	assert_int_equal(vd_input_script_feed(c->src, evs, n), 0);
}

static void assert_safe(struct vd_simkbd *g)
{
	struct vd_simkbd_stats s;

	vd_simkbd_get_stats(g, &s);
	assert_int_equal(s.crashes, 0);
	assert_int_equal(s.violations, 0);
}

static void assert_key(struct vd_simkbd *g, uint32_t i, uint32_t code, bool pressed)
{
	const struct vd_simkbd_event *e = event(g, i);

	assert_int_equal(e->type, XENKBD_TYPE_KEY);
	assert_int_equal(e->keycode, code);
	assert_int_equal(e->pressed, pressed);
}

static void assert_ev(struct vd_simkbd *g, uint32_t i, uint8_t type, int32_t x, int32_t y,
		      int32_t z)
{
	const struct vd_simkbd_event *e = event(g, i);

	assert_int_equal(e->type, type);
	assert_int_equal(e->x, x);
	assert_int_equal(e->y, y);
	assert_int_equal(e->z, z);
}

static void assert_mt(struct vd_simkbd *g, uint32_t i, uint8_t mt_ev, uint8_t contact, int32_t x,
		      int32_t y)
{
	const struct vd_simkbd_event *e = event(g, i);

	assert_int_equal(e->type, XENKBD_TYPE_MTOUCH);
	assert_int_equal(e->mt_ev, mt_ev);
	assert_int_equal(e->contact, contact);
	assert_int_equal(e->x, x);
	assert_int_equal(e->y, y);
}

static struct vd_input_event key(uint32_t code, bool pressed)
{
	return (struct vd_input_event){.kind = VD_INPUT_KEY, .code = code, .pressed = pressed};
}

static struct vd_input_event at(enum vd_input_kind kind, int32_t x, int32_t y, uint32_t slot)
{
	return (struct vd_input_event){.kind = kind, .x = x, .y = y, .slot = slot};
}

/* ---- events arrive with the right values ---- */

static void all_event_classes(void **state)
{
	struct ctx c;
	struct vd_simkbd_opts o = {.abs_pointer = true,
				   .multi_touch = true,
				   .width = 1024,
				   .height = 768,
				   .mt_width = 2048,
				   .mt_height = 1536,
				   .mt_contacts = 4};
	const struct vd_input_rect rect = {100, 50, 1920, 1080};
	struct vd_simkbd *g;

	ctx_init(&c);
	g = guest(&c, "tablet", &o, true);
	assert_int_equal(vd_router_set_guest(c.router, vd_simkbd_domid(g), &rect), 0);
	assert_int_equal(vd_router_focus(c.router, vd_simkbd_domid(g)), 0);
	const struct vd_input_event evs[] = {
	    key(KEY_A, true),
	    key(KEY_A, false),
	    key(BTN_LEFT, true),
	    at(VD_INPUT_ABS, 100 + 960, 50 + 540, 0),
	    {.kind = VD_INPUT_REL, .dx = 15, .dy = -30},
	    {.kind = VD_INPUT_WHEEL, .wheel = 1},
	    at(VD_INPUT_TOUCH_DOWN, 100 + 480, 50 + 270, 2),
	    at(VD_INPUT_TOUCH_FRAME, 0, 0, 0),
	    at(VD_INPUT_TOUCH_MOTION, 100 + 1919, 50 + 1079, 2),
	    at(VD_INPUT_TOUCH_UP, 0, 0, 2),
	    at(VD_INPUT_TOUCH_FRAME, 0, 0, 0),
	};
	feed(&c, evs, sizeof(evs) / sizeof(evs[0]));
	wait_events(&c, g, 11);
	assert_key(g, 0, KEY_A, true);
	assert_key(g, 1, KEY_A, false);
	assert_key(g, 2, BTN_LEFT, true);
	assert_ev(g, 3, XENKBD_TYPE_POS, 512, 384, 0); /* 960/1920*1024, 540/1080*768 */
	assert_ev(g, 4, XENKBD_TYPE_POS, 975 * 1024 / 1920, 510 * 768 / 1080, 0);
	assert_ev(g, 5, XENKBD_TYPE_POS, 975 * 1024 / 1920, 510 * 768 / 1080, -1); /* wheel */
	assert_mt(g, 6, XENKBD_MT_EV_DOWN, 2, 512, 384); /* 480/1920*2048, 270/1080*1536 */
	assert_mt(g, 7, XENKBD_MT_EV_SYN, 0, 0, 0);
	assert_mt(g, 8, XENKBD_MT_EV_MOTION, 2, 1919 * 2048 / 1920, 1079 * 1536 / 1080);
	assert_mt(g, 9, XENKBD_MT_EV_UP, 2, 0, 0);
	assert_mt(g, 10, XENKBD_MT_EV_SYN, 0, 0, 0);
	assert_safe(g);
	ctx_fini(&c);
}

/* Relative guests get MOTION; abs offered but not requested is relative too. */
static void relative_guests(void **state)
{
	struct ctx c;
	struct vd_simkbd_opts rel = {.width = 800, .height = 600};
	struct vd_simkbd_opts no_req = {
	    .abs_pointer = true, .no_requests = true, .width = 800, .height = 600};
	struct vd_simkbd *g[2];

	ctx_init(&c);
	g[0] = guest(&c, "rel", &rel, true);
	g[1] = guest(&c, "noreq", &no_req, true);
	for (int i = 0; i < 2; i++) {
		uint32_t d = vd_simkbd_domid(g[i]);

		assert_int_equal(vd_kbdback_send_pointer_rel(c.kb, d, -7, 9), 0);
		assert_int_equal(vd_kbdback_send_wheel(c.kb, d, -2), 0);
		assert_int_equal(vd_kbdback_send_pointer_abs(c.kb, d, 400, 300, 1600, 1200), 0);
		assert_int_equal(vd_kbdback_send_pointer_abs(c.kb, d, 0, 1200, 1600, 1200), 0);
		/* keycodes out of range never leave */
		assert_int_equal(vd_kbdback_send_key(c.kb, d, VD_KBD_KEY_CNT, true), -EINVAL);
		assert_int_equal(vd_kbdback_send_key(c.kb, d, 0, true), -EINVAL);
		/* no multi-touch offered */
		assert_int_equal(vd_kbdback_send_touch(c.kb, d, XENKBD_MT_EV_DOWN, 0, 1, 1, 2, 2),
				 -EOPNOTSUPP);
		wait_events(&c, g[i], 4);
		assert_ev(g[i], 0, XENKBD_TYPE_MOTION, -7, 9, 0);
		assert_ev(g[i], 1, XENKBD_TYPE_MOTION, 0, 0, 2); /* the guest reports -rel_z = -2 */
		assert_ev(g[i], 2, XENKBD_TYPE_MOTION, 200, 150, 0);
		assert_ev(g[i], 3, XENKBD_TYPE_MOTION, -200, 450, 0);
		assert_safe(g[i]);
	}
	ctx_fini(&c);
}

/* ---- features: never a KEY to a device with the pointer or keyboard disabled ---- */

static void disabled_devices_get_no_keys(void **state)
{
	struct ctx c;
	struct vd_simkbd_opts no_ptr = {.disable_pointer = true};
	struct vd_simkbd_opts no_kbd = {.disable_keyboard = true};
	struct vd_simkbd *g[2];

	ctx_init(&c);
	g[0] = guest(&c, "noptr", &no_ptr, true);
	g[1] = guest(&c, "nokbd", &no_kbd, true);
	for (int i = 0; i < 2; i++) {
		uint32_t d = vd_simkbd_domid(g[i]);

		assert_int_equal(vd_router_set_guest(c.router, d, NULL), 0);
		assert_int_equal(vd_router_focus(c.router, d), 0);
		const struct vd_input_event evs[] = {key(KEY_A, true), key(KEY_A, false),
						     key(BTN_LEFT, true), key(BTN_LEFT, false)};
		feed(&c, evs, 4);
		h_run_for(&c.h, 50);
		assert_int_equal(vd_kbdback_send_key(c.kb, d, KEY_B, true), -EOPNOTSUPP);
	}
	/* The pointer-less guest gets no pointer events either. */
	assert_int_equal(vd_kbdback_send_pointer_rel(c.kb, vd_simkbd_domid(g[0]), 1, 1),
			 -EOPNOTSUPP);
	/* The keyboard-less guest still has its pointer. */
	assert_int_equal(vd_kbdback_send_pointer_rel(c.kb, vd_simkbd_domid(g[1]), 1, 1), 0);
	wait_events(&c, g[1], 1);
	assert_int_equal(nevents(g[0]), 0);
	assert_safe(g[0]);
	assert_safe(g[1]);
	ctx_fini(&c);
}

/* The crash detector is live: a KEY put by hand on a pointer-less device counts. */
static void simkbd_detects_the_hazard(void **state)
{
	struct ctx c;
	struct vd_simkbd_opts no_ptr = {.disable_pointer = true, .manual_consume = true};
	struct vd_simkbd *g;
	struct xenkbd_page *p;
	struct vd_simkbd_stats s;

	ctx_init(&c);
	g = guest(&c, "victim", &no_ptr, true);
	p = vd_simkbd_page(g);
	vd_kbd_encode_key(&XENKBD_IN_RING_REF(p, p->in_prod), KEY_A, true);
	p->in_prod++;
	assert_int_equal(vd_simkbd_consume(g), 1);
	vd_simkbd_get_stats(g, &s);
	assert_int_equal(s.crashes, 1);
	ctx_fini(&c);
}

/* ---- the ring: queue while full, flush on the frontend's notification ---- */

static uint32_t code_of(uint32_t i)
{
	return 1 + i % (VD_KBD_KEY_CNT - 1);
}

static void ring_full_queues_and_flushes(void **state)
{
	struct ctx c;
	struct vd_simkbd_opts o = {.manual_consume = true};
	struct vd_kbdback_stats ks;
	struct vd_simkbd *g;
	uint32_t d, n = 200;

	ctx_init(&c);
	g = guest(&c, "slow", &o, true);
	d = vd_simkbd_domid(g);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(vd_kbdback_send_key(c.kb, d, code_of(i), i & 1), 0);
	assert_int_equal(vd_simkbd_pending(g), 51); /* nothing overwritten */
	vd_kbdback_get_stats(c.kb, &ks);
	assert_int_equal(ks.events, 51);
	assert_int_equal(ks.dropped, 0);
	/* Each consumed batch is followed by a notify; the backend refills. */
	while (nevents(g) < n) {
		uint32_t before = nevents(g);

		vd_simkbd_consume(g);
		assert_true(nevents(g) > before);
		h_run_for(&c.h, 5);
	}
	assert_int_equal(nevents(g), n);
	for (uint32_t i = 0; i < n; i++)
		assert_key(g, i, code_of(i), i & 1);
	assert_safe(g);

	/* A frontend that never consumes: the oldest queued events go. */
	vd_simkbd_clear_events(g);
	for (uint32_t i = 0; i < 51 + VD_KBD_QUEUE_MAX + 10; i++)
		assert_int_equal(vd_kbdback_send_key(c.kb, d, code_of(i), true), 0);
	vd_kbdback_get_stats(c.kb, &ks);
	assert_int_equal(ks.dropped, 10);
	while (vd_simkbd_pending(g)) {
		vd_simkbd_consume(g);
		h_run_for(&c.h, 5);
	}
	assert_int_equal(nevents(g), 51 + VD_KBD_QUEUE_MAX);
	assert_key(g, 50, code_of(50), true);
	assert_key(g, 51, code_of(61), true); /* 51..60 were the oldest waiting */
	ctx_fini(&c);
}

/* ---- routing ---- */

static void focus_and_routing(void **state)
{
	struct ctx c;
	struct vd_simkbd_opts o = {.abs_pointer = true, .width = 800, .height = 600};
	const struct vd_input_rect r1 = {0, 0, 800, 600}, r2 = {800, 0, 1600, 1200};
	struct vd_simkbd *g1, *g2;
	uint32_t d1, d2;

	ctx_init(&c);
	g1 = guest(&c, "left", &o, true);
	g2 = guest(&c, "right", &o, true);
	d1 = vd_simkbd_domid(g1);
	d2 = vd_simkbd_domid(g2);
	assert_int_equal(vd_router_set_guest(c.router, d1, &r1), 0);
	assert_int_equal(vd_router_set_guest(c.router, d2, &r2), 0);
	assert_int_equal(vd_router_focus(c.router, d1), 0);
	const struct vd_input_event first[] = {key(KEY_LEFTSHIFT, true), key(KEY_X, true),
					       key(KEY_X, false)};
	feed(&c, first, 3);
	wait_events(&c, g1, 3);
	/* Switching focus releases what is held in the guest left behind. */
	assert_int_equal(vd_router_focus(c.router, d2), 0);
	wait_events(&c, g1, 4);
	assert_key(g1, 3, KEY_LEFTSHIFT, false);
	const struct vd_input_event second[] = {key(KEY_Y, true), key(KEY_Y, false)};
	feed(&c, second, 2);
	wait_events(&c, g2, 2);
	assert_key(g2, 0, KEY_Y, true);
	/* The pointer over the left guest takes the focus there, mapped into its rectangle. */
	const struct vd_input_event move[] = {at(VD_INPUT_ABS, 400, 300, 0), key(KEY_Z, true),
					      at(VD_INPUT_ABS, 800 + 1200, 900, 0),
					      key(KEY_Z, true)};
	feed(&c, move, 4);
	wait_events(&c, g1, 7); /* POS, Z, then Z released as the focus leaves */
	wait_events(&c, g2, 4);
	assert_ev(g1, 4, XENKBD_TYPE_POS, 400, 300, 0);
	assert_key(g1, 5, KEY_Z, true);
	assert_key(g1, 6, KEY_Z, false);
	assert_ev(g2, 2, XENKBD_TYPE_POS, 600, 450, 0); /* (1200, 900) of 1600x1200 -> 800x600 */
	assert_key(g2, 3, KEY_Z, true);
	assert_int_equal(vd_router_focused(c.router), d2);
	assert_safe(g1);
	assert_safe(g2);
	ctx_fini(&c);
}

static bool never_key(struct vd_simkbd *g, uint32_t code)
{
	for (uint32_t i = 0; i < nevents(g); i++)
		if (event(g, i)->type == XENKBD_TYPE_KEY && event(g, i)->keycode == code)
			return false;
	return true;
}

/* ---- devices claimed by configuration, positions relative to a device range ---- */

static const char *dev_prop(const struct vd_input_device *dev, const char *key)
{
	return !strcmp(key, "ID_PATH") ? "platform-i8042-serio-0" : NULL;
}

static struct vd_input_event from(struct vd_input_event ev, struct vd_input_device *dev)
{
	ev.device = dev;
	return ev;
}

static void claimed_devices_and_guest_hotkeys(void **state)
{
	struct ctx c;
	struct vd_simkbd_opts o = {0};
	struct vd_input_device kbd = {.name = "AT keyboard", .property = dev_prop};
	struct vd_input_device other = {.name = "USB keyboard"};
	const char *by_path[] = {"ID_PATH=platform-i8042-*"};
	const char *by_name[] = {"name=USB*"};
	const struct vd_hotkey to_one = {VD_MOD_CTRL | VD_MOD_ALT, KEY_F1};
	struct vd_simkbd *g1, *g2;
	uint32_t d1, d2;

	ctx_init(&c);
	g1 = guest(&c, "one", &o, true);
	g2 = guest(&c, "two", &o, true);
	d1 = vd_simkbd_domid(g1);
	d2 = vd_simkbd_domid(g2);
	assert_int_equal(vd_router_set_guest(c.router, d1, NULL), 0);
	assert_int_equal(vd_router_set_guest(c.router, d2, NULL), 0);
	assert_int_equal(vd_router_set_guest_input(c.router, d1, &to_one, NULL, 0), 0);
	assert_int_equal(vd_router_set_guest_input(c.router, d2, NULL, by_path, 1), 0);
	assert_int_equal(vd_router_set_guest_input(c.router, d2, NULL, (const char *[]){"bad"}, 1),
			 -EINVAL);
	assert_int_equal(vd_router_focus(c.router, d1), 0);
	/* The claimed keyboard feeds guest two although one has the focus. */
	const struct vd_input_event a[] = {
	    from(key(KEY_A, true), &kbd), from(key(KEY_A, false), &kbd),
	    from(key(KEY_B, true), &other), from(key(KEY_B, false), &other),
	    from((struct vd_input_event){.kind = VD_INPUT_REL, .dx = 3, .dy = -4}, &kbd)};
	feed(&c, a, 5);
	wait_events(&c, g2, 3);
	wait_events(&c, g1, 2);
	assert_key(g2, 0, KEY_A, true);
	assert_key(g2, 1, KEY_A, false);
	assert_ev(g2, 2, XENKBD_TYPE_MOTION, 3, -4, 0);
	assert_key(g1, 0, KEY_B, true);
	/* Guest two's own hotkey (none) and guest one's: ctrl+alt+f1 from the claimed keyboard. */
	assert_int_equal(vd_router_focus(c.router, d2), 0);
	const struct vd_input_event b[] = {
	    from(key(KEY_LEFTCTRL, true), &other), from(key(KEY_RIGHTALT, true), &other),
	    from(key(KEY_F1, true), &kbd),	   from(key(KEY_F1, false), &kbd),
	    from(key(KEY_RIGHTALT, false), &other), from(key(KEY_LEFTCTRL, false), &other),
	    from(key(KEY_C, true), &other)};
	feed(&c, b, 7);
	wait_events(&c, g1, 5); /* ctrl+alt released as it came back, C */
	assert_key(g1, 2, KEY_RIGHTALT, false);
	assert_key(g1, 3, KEY_LEFTCTRL, false);
	assert_key(g1, 4, KEY_C, true);
	assert_int_equal(vd_router_focused(c.router), d1);
	assert_true(never_key(g1, KEY_F1));
	assert_true(never_key(g2, KEY_F1));
	/* A new rule set: the claim moves by name, the AT keyboard follows the focus again. */
	assert_int_equal(vd_router_set_guest_input(c.router, d2, NULL, by_name, 1), 0);
	const struct vd_input_event d[] = {from(key(KEY_D, true), &kbd),
					   from(key(KEY_E, true), &other)};
	feed(&c, d, 2);
	wait_events(&c, g1, 6);
	assert_key(g1, 5, KEY_D, true);
	wait_events(&c, g2, 8); /* 3 + ctrl, alt pressed and released while focused, + E */
	assert_key(g2, 7, KEY_E, true);
	assert_safe(g1);
	assert_safe(g2);
	ctx_fini(&c);
}

static void positions_relative_to_a_range(void **state)
{
	struct ctx c;
	struct vd_simkbd_opts o = {.abs_pointer = true, .width = 800, .height = 600};
	const struct vd_input_rect r1 = {0, 0, 800, 600}, r2 = {800, 0, 800, 600};
	struct vd_input_event tab = {.kind = VD_INPUT_ABS, .range_w = 65536, .range_h = 65536};
	struct vd_simkbd *g1, *g2;
	uint32_t d1, d2;

	ctx_init(&c);
	g1 = guest(&c, "left", &o, true);
	g2 = guest(&c, "right", &o, true);
	d1 = vd_simkbd_domid(g1);
	d2 = vd_simkbd_domid(g2);
	/* No layout yet (headless): the focus gets the whole range. */
	assert_int_equal(vd_router_set_guest(c.router, d1, NULL), 0);
	assert_int_equal(vd_router_set_guest(c.router, d2, NULL), 0);
	assert_int_equal(vd_router_focus(c.router, d1), 0);
	tab.x = 32768;
	tab.y = 16384;
	feed(&c, &tab, 1);
	wait_events(&c, g1, 1);
	assert_ev(g1, 0, XENKBD_TYPE_POS, 400, 150, 0);
	/* Two guests side by side: three quarters across is the middle of the right one. */
	assert_int_equal(vd_router_set_guest(c.router, d1, &r1), 0);
	assert_int_equal(vd_router_set_guest(c.router, d2, &r2), 0);
	tab.x = 49152;
	tab.y = 32768;
	feed(&c, &tab, 1);
	wait_events(&c, g2, 1);
	assert_ev(g2, 0, XENKBD_TYPE_POS, 400, 300, 0);
	assert_int_equal(vd_router_focused(c.router), d2);
	tab.x = 70000; /* out of the device's range: clamped to its edge */
	tab.y = -5;
	feed(&c, &tab, 1);
	wait_events(&c, g2, 2);
	assert_ev(g2, 1, XENKBD_TYPE_POS, 799, 0, 0);
	assert_safe(g1);
	assert_safe(g2);
	ctx_fini(&c);
}

/* The compositor's seat: events addressed to a guest go there, whatever the router thinks. */
static struct vd_input_event to(struct vd_input_event ev, uint32_t domid)
{
	ev.to_guest = true;
	ev.domid = domid;
	ev.range_w = ev.kind == VD_INPUT_KEY || ev.kind == VD_INPUT_TOUCH_FRAME ? 0 : 320;
	ev.range_h = ev.range_w ? 240 : 0;
	return ev;
}

static void addressed_events_ignore_focus(void **state)
{
	struct ctx c;
	struct vd_simkbd_opts o = {.abs_pointer = true,
				   .multi_touch = true,
				   .width = 800,
				   .height = 600,
				   .mt_width = 800,
				   .mt_height = 600,
				   .mt_contacts = 4};
	const struct vd_input_rect r1 = {0, 0, 800, 600}, r2 = {800, 0, 800, 600};
	struct vd_simkbd *g1, *g2;
	uint32_t d1, d2;

	ctx_init(&c);
	g1 = guest(&c, "one", &o, true);
	g2 = guest(&c, "two", &o, true);
	d1 = vd_simkbd_domid(g1);
	d2 = vd_simkbd_domid(g2);
	assert_int_equal(vd_router_set_guest(c.router, d1, &r1), 0);
	assert_int_equal(vd_router_set_guest(c.router, d2, &r2), 0);
	assert_int_equal(vd_router_focus(c.router, d1), 0);
	/*
	 * Positions in the guest's window (320x240 here), scaled to its vkb;
	 * not the layout (r2 would put x=160 in guest one). The cycle hotkey
	 * is an ordinary chord: the compositor moves its focus itself.
	 */
	const struct vd_input_event evs[] = {
	    to(key(KEY_A, true), d2),
	    to(key(KEY_A, false), d2),
	    to(at(VD_INPUT_ABS, 160, 120, 0), d2),
	    to(key(BTN_LEFT, true), d2),
	    to((struct vd_input_event){.kind = VD_INPUT_WHEEL, .wheel = 1}, d2),
	    to(key(KEY_LEFTMETA, true), d2),
	    to(key(KEY_F12, true), d2),
	    to(key(KEY_F12, false), d2),
	    to(at(VD_INPUT_TOUCH_DOWN, 400, -3, 1), d2),
	    to(at(VD_INPUT_TOUCH_FRAME, 0, 0, 0), d2),
	};
	feed(&c, evs, sizeof(evs) / sizeof(evs[0]));
	wait_events(&c, g2, 10);
	assert_key(g2, 0, KEY_A, true);
	assert_key(g2, 1, KEY_A, false);
	assert_ev(g2, 2, XENKBD_TYPE_POS, 400, 300, 0);
	assert_key(g2, 3, BTN_LEFT, true);
	assert_ev(g2, 4, XENKBD_TYPE_POS, 400, 300, -1);
	assert_key(g2, 5, KEY_LEFTMETA, true);
	assert_key(g2, 6, KEY_F12, true);
	assert_key(g2, 7, KEY_F12, false);
	assert_mt(g2, 8, XENKBD_MT_EV_DOWN, 1, 319 * 800 / 320, 0); /* clamped to the window */
	assert_mt(g2, 9, XENKBD_MT_EV_SYN, 0, 0, 0);
	assert_int_equal(vd_router_focused(c.router), d1);
	assert_int_equal(nevents(g1), 0);
	assert_safe(g1);
	assert_safe(g2);
	ctx_fini(&c);
}

static void hotkey_cycles_and_is_never_delivered(void **state)
{
	struct ctx c;
	struct vd_simkbd_opts o = {0};
	struct vd_simkbd *g1, *g2;
	uint32_t d1, d2;

	ctx_init(&c);
	g1 = guest(&c, "one", &o, true);
	g2 = guest(&c, "two", &o, true);
	d1 = vd_simkbd_domid(g1);
	d2 = vd_simkbd_domid(g2);
	assert_int_equal(vd_router_set_guest(c.router, d1, NULL), 0);
	assert_int_equal(vd_router_set_guest(c.router, d2, NULL), 0);
	assert_int_equal(vd_router_focus(c.router, d1), 0);
	const struct vd_input_event evs[] = {
	    key(KEY_F12, true),	      key(KEY_F12, false), /* no modifier: an ordinary key */
	    key(KEY_LEFTMETA, true),  key(KEY_F12, true),  key(KEY_F12, false),
	    key(KEY_LEFTMETA, false), key(KEY_Q, true),	   key(KEY_Q, false),
	    key(KEY_LEFTMETA, true),  key(KEY_F12, true),  key(KEY_LEFTMETA, false),
	    key(KEY_F12, false),      key(KEY_W, true),
	};
	feed(&c, evs, sizeof(evs) / sizeof(evs[0]));
	wait_events(&c, g1, 6);
	assert_key(g1, 0, KEY_F12, true);
	assert_key(g1, 1, KEY_F12, false);
	assert_key(g1, 2, KEY_LEFTMETA, true);
	assert_key(g1, 3, KEY_LEFTMETA, false); /* released as the focus left */
	assert_key(g1, 4, KEY_LEFTMETA, false); /* the user's release, after coming back */
	assert_key(g1, 5, KEY_W, true);
	wait_events(&c, g2, 5);
	assert_key(g2, 0, KEY_LEFTMETA, false);
	assert_key(g2, 1, KEY_Q, true);
	assert_key(g2, 2, KEY_Q, false);
	assert_key(g2, 3, KEY_LEFTMETA, true);
	assert_key(g2, 4, KEY_LEFTMETA, false);
	assert_int_equal(nevents(g1), 6);
	assert_true(never_key(g2, KEY_F12));
	assert_int_equal(vd_router_focused(c.router), d1);
	ctx_fini(&c);
}

/* ---- hostile frontends: that device closes; the daemon and the others go on ---- */

static int be_state(struct ctx *c, struct vd_simkbd *g)
{
	char path[128];
	uint32_t v;

	snprintf(path, sizeof(path), "/local/domain/0/backend/vinput/%u/0/state",
		 vd_simkbd_domid(g));
	return vd_xs_read_u32(c->h.hv, VD_XS_NO_TXN, path, &v) < 0 ? -1 : (int)v;
}

struct state_arg {
	struct ctx *c;
	struct vd_simkbd *g;
	int state;
};

static bool cond_be_state(struct harness *h, void *arg)
{
	struct state_arg *a = arg;

	return be_state(a->c, a->g) == a->state;
}

static void wait_be_state(struct ctx *c, struct vd_simkbd *g, int state)
{
	struct state_arg a = {c, g, state};

	assert_true(h_run_until(&c->h, cond_be_state, &a, TIMEOUT_MS));
}

/* The well-behaved guest still gets its keys. */
static void assert_good_alive(struct ctx *c, struct vd_simkbd *good)
{
	uint32_t n = nevents(good);

	assert_int_equal(vd_kbdback_send_key(c->kb, vd_simkbd_domid(good), KEY_ENTER, true), 0);
	wait_events(c, good, n + 1);
	assert_key(good, n, KEY_ENTER, true);
	assert_safe(good);
}

static void hostile_at_connect(void **state)
{
	static const struct {
		const char *gref, *port;
	} cases[] = {
	    {"999999", NULL},  {"0", NULL},  {"-1", NULL}, {"1x", NULL},
	    {NULL, "garbage"}, {NULL, "77"}, {NULL, ""},   {NULL, "4294967296"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ctx c;
		struct vd_simkbd_opts good_o = {0};
		struct vd_simkbd_opts bad_o = {.page_gref = cases[i].gref,
					       .event_channel = cases[i].port};
		struct vd_simkbd *good, *bad;
		struct vd_kbdback_stats ks;

		ctx_init(&c);
		good = guest(&c, "good", &good_o, true);
		bad = guest(&c, "bad", &bad_o, false);
		wait_be_state(&c, bad, XenbusStateClosed);
		h_run_for(&c.h, 20);
		assert_int_equal(be_state(&c, bad), XenbusStateClosed); /* stays Closed */
		assert_int_equal(vd_kbdback_send_key(c.kb, vd_simkbd_domid(bad), KEY_A, true),
				 -ENOTCONN);
		vd_kbdback_get_stats(c.kb, &ks);
		assert_true(ks.protocol_errors >= 1);
		assert_good_alive(&c, good);
		/* A fresh probe with honest values connects. */
		assert_int_equal(vd_simkbd_reprobe(bad), 0);
		wait_connected(&c, bad);
		assert_good_alive(&c, bad);
		ctx_fini(&c);
	}
}

static void hostile_while_connected(void **state)
{
	enum { GREF_CHANGED, PORT_CHANGED, CONS_CORRUPT, CLOSE_MID_STREAM, DOMAIN_DIES, NCASES };

	for (int k = 0; k < NCASES; k++) {
		struct ctx c;
		struct vd_simkbd_opts o = {.manual_consume = true};
		struct vd_simkbd *good, *bad;
		uint32_t d;

		ctx_init(&c);
		good = guest(&c, "good", &(struct vd_simkbd_opts){0}, true);
		bad = guest(&c, "bad", &o, true);
		d = vd_simkbd_domid(bad);
		for (uint32_t i = 0; i < 120; i++) /* mid-stream: ring full, queue busy */
			vd_kbdback_send_key(c.kb, d, code_of(i), i & 1);
		switch (k) {
		case GREF_CHANGED:
			vd_simkbd_write_node(bad, "page-gref", "12345");
			break;
		case PORT_CHANGED:
			vd_simkbd_write_node(bad, "event-channel", "zzz");
			break;
		case CONS_CORRUPT:
			vd_simkbd_page(bad)->in_cons += 1000;
			vd_kbdback_send_key(c.kb, d, KEY_A, true);
			break;
		case CLOSE_MID_STREAM:
			vd_simkbd_close(bad);
			break;
		case DOMAIN_DIES:
			vd_sim_domain_destroy(vd_sim_from_hv(c.h.hv), d);
			break;
		}
		if (k == CLOSE_MID_STREAM) {
			/* Torn down, then offered again: xen-kbdfront reconnects with its page. */
			wait_connected(&c, bad);
			vd_simkbd_clear_events(bad);
			vd_simkbd_set_manual(bad, false);
			assert_good_alive(&c, bad);
		} else if (k == DOMAIN_DIES) {
			h_run_for(&c.h, 50);
			assert_false(vd_kbdback_connected(c.kb, d));
		} else {
			wait_be_state(&c, bad, XenbusStateClosed);
			assert_int_equal(vd_kbdback_send_key(c.kb, d, KEY_A, true), -ENOTCONN);
		}
		assert_good_alive(&c, good);
		ctx_fini(&c);
	}
}

/* The daemon's toolstack removes a device: everything of it is released. */
static void device_removed(void **state)
{
	struct ctx c;
	struct vd_simkbd *g;
	struct vd_kbdback_stats ks;
	struct vd_sim_stats ss;
	uint32_t d;

	ctx_init(&c);
	g = guest(&c, "gone", &(struct vd_simkbd_opts){0}, true);
	d = vd_simkbd_domid(g);
	assert_int_equal(vd_sim_domain_stats(vd_sim_from_hv(c.h.hv), d, &ss), 0);
	assert_int_equal(ss.pages_mapped, 1);
	vd_simkbd_destroy(g);
	c.ng = 0;
	h_run_for(&c.h, 50);
	vd_kbdback_get_stats(c.kb, &ks);
	assert_int_equal(ks.devices, 0);
	assert_int_equal(vd_sim_domain_stats(vd_sim_from_hv(c.h.hv), d, &ss), 0);
	assert_int_equal(ss.pages_mapped, 0);
	ctx_fini(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(all_event_classes),
	    cmocka_unit_test(relative_guests),
	    cmocka_unit_test(disabled_devices_get_no_keys),
	    cmocka_unit_test(simkbd_detects_the_hazard),
	    cmocka_unit_test(ring_full_queues_and_flushes),
	    cmocka_unit_test(focus_and_routing),
	    cmocka_unit_test(hotkey_cycles_and_is_never_delivered),
	    cmocka_unit_test(claimed_devices_and_guest_hotkeys),
	    cmocka_unit_test(positions_relative_to_a_range),
	    cmocka_unit_test(addressed_events_ignore_focus),
	    cmocka_unit_test(hostile_at_connect),
	    cmocka_unit_test(hostile_while_connected),
	    cmocka_unit_test(device_removed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
