/* SPDX-License-Identifier: MIT */
/* Focus and routing of input events to guests (see router.h). */
#include "input/router.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/input-event-codes.h>

#include <xen/io/kbdif.h>

#include "kbdif_proto.h"
#include "log.h"

#define MAX_SOURCES 8u
#define HELD_WORDS (VD_KBD_KEY_CNT / 64u)

struct guest {
	uint32_t domid;
	bool has_rect;
	bool touch_dirty; /* touch events since the last frame */
	struct vd_input_rect rect;
	struct vd_hotkey hotkey; /* gives this guest the focus */
	char rules[VD_ROUTER_MAX_RULES][VD_ROUTER_RULE_LEN];
	uint32_t nrules;
};

struct touch {
	bool active;
	uint32_t domid;
};

struct vd_router {
	sd_event *loop;
	struct vd_kbdback *kb;
	struct vd_router_opts opts;
	struct vd_input_source *sources[MAX_SOURCES];
	uint32_t nsources;
	struct guest guests[VD_ROUTER_MAX_GUESTS];
	uint32_t nguests;
	uint32_t focus;
	uint64_t held[HELD_WORDS]; /* keys delivered pressed to the focus */
	uint32_t mods;	      /* VD_MOD_* held (any device) */
	uint32_t mod_keys;    /* which of the eight modifier keys are down */
	uint32_t swallow;     /* KEY_* whose release is not delivered either (a hotkey's), 0 */
	uint64_t gen;	      /* bumped when device rules change: devices' memos are stale */
	int32_t cx, cy;	      /* layout cursor */
	struct touch touches[VD_ROUTER_MAX_TOUCH];
	struct vd_router_stats stats;
};

static struct guest *find_guest(struct vd_router *r, uint32_t domid)
{
	for (uint32_t i = 0; i < r->nguests; i++)
		if (r->guests[i].domid == domid)
			return &r->guests[i];
	return NULL;
}

static void count(struct vd_router *r, int result)
{
	if (result == 0)
		r->stats.delivered++;
	else
		r->stats.dropped++;
}

/* ---- focus ---- */

static void release_held(struct vd_router *r)
{
	for (uint32_t w = 0; w < HELD_WORDS; w++)
		for (uint32_t b = 0; r->held[w] && b < 64; b++)
			if (r->held[w] & (1ull << b))
				vd_kbdback_send_key(r->kb, r->focus, w * 64 + b, false);
	memset(r->held, 0, sizeof(r->held));
}

static void set_focus(struct vd_router *r, uint32_t domid)
{
	if (domid == r->focus)
		return;
	if (r->focus != VD_ROUTER_NO_FOCUS)
		release_held(r);
	memset(r->held, 0, sizeof(r->held));
	r->focus = domid;
	r->stats.focus_changes++;
	vd_debug("input: focus -> dom%u", domid);
}

/* The next guest after the focus, in order, whose vkb is connected. */
static void cycle_focus(struct vd_router *r)
{
	uint32_t start = 0;

	for (uint32_t i = 0; i < r->nguests; i++)
		if (r->guests[i].domid == r->focus)
			start = i + 1;
	for (uint32_t k = 0; k < r->nguests; k++) {
		struct guest *g = &r->guests[(start + k) % r->nguests];

		if (vd_kbdback_connected(r->kb, g->domid)) {
			set_focus(r, g->domid);
			return;
		}
	}
}

/* ---- keys ---- */

/* A key went to domid (res 0) or was refused. */
static void key_sent(struct vd_router *r, uint32_t domid, int res)
{
	if (res == 0) {
		r->stats.last_key_domid = domid;
		r->stats.last_key_us = vd_now_us();
	}
	count(r, res);
}

static void track_held(struct vd_router *r, uint32_t code, bool pressed)
{
	if (code >= VD_KBD_KEY_CNT)
		return;
	if (pressed)
		r->held[code / 64] |= 1ull << (code % 64);
	else
		r->held[code / 64] &= ~(1ull << (code % 64));
}

static const uint32_t mod_keys[8] = {KEY_LEFTCTRL,  KEY_RIGHTCTRL, KEY_LEFTALT,  KEY_RIGHTALT,
				     KEY_LEFTSHIFT, KEY_RIGHTSHIFT, KEY_LEFTMETA, KEY_RIGHTMETA};

static void track_mods(struct vd_router *r, const struct vd_input_event *ev)
{
	for (uint32_t i = 0; i < 8; i++) {
		if (ev->code != mod_keys[i])
			continue;
		r->mod_keys = ev->pressed ? r->mod_keys | 1u << i : r->mod_keys & ~(1u << i);
	}
	r->mods = 0;
	for (uint32_t i = 0; i < 4; i++)
		if (r->mod_keys & 3u << (2 * i))
			r->mods |= 1u << i; /* VD_MOD_CTRL, _ALT, _SHIFT, _META in mod_keys order */
}

static bool hotkey_down(const struct vd_router *r, const struct vd_hotkey *hk,
			const struct vd_input_event *ev)
{
	return hk->key && ev->code == hk->key && (r->mods & hk->mods) == hk->mods;
}

/* true if the event was a hotkey (and is not delivered). */
static bool hotkey(struct vd_router *r, const struct vd_input_event *ev)
{
	if (!ev->pressed) {
		if (!r->swallow || ev->code != r->swallow)
			return false;
		r->swallow = 0;
		return true;
	}
	if (hotkey_down(r, &r->opts.cycle, ev)) {
		r->swallow = ev->code;
		r->stats.hotkeys++;
		cycle_focus(r);
		return true;
	}
	for (uint32_t i = 0; i < r->nguests; i++) {
		if (!hotkey_down(r, &r->guests[i].hotkey, ev))
			continue;
		r->swallow = ev->code;
		r->stats.hotkeys++;
		set_focus(r, r->guests[i].domid);
		return true;
	}
	return false;
}

/* The guest that claimed the event's device, else the focus. */
static uint32_t device_guest(struct vd_router *r, const struct vd_input_event *ev)
{
	struct vd_input_device *dev = ev->device;

	if (ev->to_guest)
		return ev->domid; /* the source knows: the compositor's focus */
	if (!dev)
		return VD_ROUTER_NO_FOCUS;
	/* The memo fields of the source's device are ours (source.h). */
	if (dev->sink_gen != r->gen) {
		dev->sink_gen = r->gen;
		dev->sink_data = VD_ROUTER_NO_FOCUS;
		for (uint32_t i = 0; i < r->nguests && dev->sink_data == VD_ROUTER_NO_FOCUS; i++)
			for (uint32_t k = 0; k < r->guests[i].nrules; k++)
				if (vd_input_rule_match(r->guests[i].rules[k], dev)) {
					dev->sink_data = r->guests[i].domid;
					break;
				}
	}
	return dev->sink_data;
}

uint32_t vd_router_device_owner(struct vd_router *r, struct vd_input_device *dev)
{
	struct vd_input_event ev = {.device = dev};

	return device_guest(r, &ev);
}

struct device_walk {
	struct vd_router *r;
	vd_router_device_fn fn;
	void *userdata;
};

static void device_walk_one(void *userdata, struct vd_input_device *dev)
{
	struct device_walk *w = userdata;

	w->fn(w->userdata, dev, vd_router_device_owner(w->r, dev));
}

void vd_router_foreach_device(struct vd_router *r, vd_router_device_fn fn, void *userdata)
{
	struct device_walk w = {r, fn, userdata};

	for (uint32_t i = 0; i < r->nsources; i++)
		if (r->sources[i]->impl->foreach_device)
			r->sources[i]->impl->foreach_device(r->sources[i], device_walk_one, &w);
}

static void on_key(struct vd_router *r, const struct vd_input_event *ev)
{
	uint32_t owner = device_guest(r, ev);
	int res;

	track_mods(r, ev);
	if (!ev->to_guest && hotkey(r, ev)) /* the compositor moves its focus itself */
		return;
	if (owner != VD_ROUTER_NO_FOCUS) {
		key_sent(r, owner, vd_kbdback_send_key(r->kb, owner, ev->code, ev->pressed));
		return;
	}
	if (r->focus == VD_ROUTER_NO_FOCUS) {
		r->stats.dropped++;
		return;
	}
	res = vd_kbdback_send_key(r->kb, r->focus, ev->code, ev->pressed);
	if (res == 0)
		track_held(r, ev->code, ev->pressed);
	key_sent(r, r->focus, res);
}

/* ---- pointer ---- */

static struct guest *guest_at(struct vd_router *r, int32_t x, int32_t y)
{
	for (uint32_t i = 0; i < r->nguests; i++) {
		const struct guest *g = &r->guests[i];

		if (g->has_rect && x >= g->rect.x && y >= g->rect.y &&
		    (int64_t)x < (int64_t)g->rect.x + g->rect.w &&
		    (int64_t)y < (int64_t)g->rect.y + g->rect.h)
			return &r->guests[i];
	}
	return NULL;
}

/* Position inside g's rectangle, clamped to it. */
static uint32_t rel_coord(int32_t v, int32_t origin, uint32_t extent)
{
	int64_t d = (int64_t)v - origin;

	if (d < 0)
		return 0;
	return d >= extent ? extent - 1 : (uint32_t)d;
}

static void abs_to(struct vd_router *r, struct guest *g, int32_t x, int32_t y)
{
	if (r->opts.focus_follows_pointer)
		set_focus(r, g->domid);
	count(r, vd_kbdback_send_pointer_abs(r->kb, g->domid, rel_coord(x, g->rect.x, g->rect.w),
					     rel_coord(y, g->rect.y, g->rect.h), g->rect.w,
					     g->rect.h));
}

static void on_abs(struct vd_router *r, int32_t x, int32_t y)
{
	struct guest *g = guest_at(r, x, y);

	r->cx = x;
	r->cy = y;
	if (g)
		abs_to(r, g, x, y);
	else
		r->stats.dropped++;
}

static bool layout_bounds(struct vd_router *r, int64_t *x0, int64_t *y0, int64_t *x1, int64_t *y1)
{
	bool any = false;

	for (uint32_t i = 0; i < r->nguests; i++) {
		const struct vd_input_rect *rc = &r->guests[i].rect;

		if (!r->guests[i].has_rect)
			continue;
		*x0 = any && *x0 < rc->x ? *x0 : rc->x;
		*y0 = any && *y0 < rc->y ? *y0 : rc->y;
		*x1 = any && *x1 > (int64_t)rc->x + rc->w - 1 ? *x1 : (int64_t)rc->x + rc->w - 1;
		*y1 = any && *y1 > (int64_t)rc->y + rc->h - 1 ? *y1 : (int64_t)rc->y + rc->h - 1;
		any = true;
	}
	return any;
}

static int32_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
	return (int32_t)(v < lo ? lo : v > hi ? hi : v);
}

static void on_rel(struct vd_router *r, int32_t dx, int32_t dy)
{
	int64_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;

	if (!layout_bounds(r, &x0, &y0, &x1, &y1)) {
		if (r->focus == VD_ROUTER_NO_FOCUS)
			r->stats.dropped++;
		else
			count(r, vd_kbdback_send_pointer_rel(r->kb, r->focus, dx, dy));
		return;
	}
	on_abs(r, clamp64((int64_t)r->cx + dx, x0, x1), clamp64((int64_t)r->cy + dy, y0, y1));
}

static void on_wheel(struct vd_router *r, int32_t wheel)
{
	if (r->focus == VD_ROUTER_NO_FOCUS)
		r->stats.dropped++;
	else
		count(r, vd_kbdback_send_wheel(r->kb, r->focus, wheel));
}

/* ---- touch: a contact stays with the guest it went down on ---- */

static void touch_send(struct vd_router *r, struct guest *g, uint8_t mt_ev, uint32_t slot,
		       int32_t x, int32_t y)
{
	uint32_t w = g->has_rect ? g->rect.w : 1, h = g->has_rect ? g->rect.h : 1;

	g->touch_dirty = true;
	count(r, vd_kbdback_send_touch(r->kb, g->domid, mt_ev, slot, rel_coord(x, g->rect.x, w),
				       rel_coord(y, g->rect.y, h), w, h));
}

static void on_touch(struct vd_router *r, const struct vd_input_event *ev)
{
	struct touch *t = ev->slot < VD_ROUTER_MAX_TOUCH ? &r->touches[ev->slot] : NULL;
	struct guest *g;

	if (!t) {
		r->stats.dropped++;
		return;
	}
	if (ev->kind == VD_INPUT_TOUCH_DOWN) {
		g = guest_at(r, ev->x, ev->y);
		t->active = g != NULL;
		if (g && r->opts.focus_follows_pointer)
			set_focus(r, g->domid);
		if (g)
			t->domid = g->domid;
	}
	g = t->active ? find_guest(r, t->domid) : NULL;
	if (!g) {
		r->stats.dropped++;
		return;
	}
	touch_send(r, g,
		   ev->kind == VD_INPUT_TOUCH_DOWN     ? XENKBD_MT_EV_DOWN
		   : ev->kind == VD_INPUT_TOUCH_MOTION ? XENKBD_MT_EV_MOTION
						       : XENKBD_MT_EV_UP,
		   ev->slot, ev->x, ev->y);
	if (ev->kind == VD_INPUT_TOUCH_UP)
		t->active = false;
}

static void on_touch_frame(struct vd_router *r)
{
	for (uint32_t i = 0; i < r->nguests; i++) {
		struct guest *g = &r->guests[i];

		if (!g->touch_dirty)
			continue;
		g->touch_dirty = false;
		count(r, vd_kbdback_send_touch(r->kb, g->domid, XENKBD_MT_EV_SYN, 0, 0, 0, 0, 0));
	}
}

/* A claimed device's pointer and touch go to its guest, over the guest's whole area. */
static void on_claimed(struct vd_router *r, uint32_t domid, const struct vd_input_event *ev)
{
	struct guest *g = find_guest(r, domid);
	uint32_t w = ev->range_w, h = ev->range_h;
	uint32_t x = ev->x < 0 ? 0 : (uint32_t)ev->x, y = ev->y < 0 ? 0 : (uint32_t)ev->y;
	uint8_t mt = ev->kind == VD_INPUT_TOUCH_DOWN	 ? XENKBD_MT_EV_DOWN
		     : ev->kind == VD_INPUT_TOUCH_MOTION ? XENKBD_MT_EV_MOTION
							 : XENKBD_MT_EV_UP;

	if (!w || !h) { /* layout coordinates: relative to the guest's rectangle */
		if (!g || !g->has_rect) {
			r->stats.dropped++;
			return;
		}
		x = rel_coord(ev->x, g->rect.x, g->rect.w);
		y = rel_coord(ev->y, g->rect.y, g->rect.h);
		w = g->rect.w;
		h = g->rect.h;
	}
	x = x < w ? x : w - 1;
	y = y < h ? y : h - 1;
	if (ev->kind == VD_INPUT_ABS) {
		count(r, vd_kbdback_send_pointer_abs(r->kb, domid, x, y, w, h));
		return;
	}
	if (g)
		g->touch_dirty = true;
	count(r, vd_kbdback_send_touch(r->kb, domid, mt, ev->slot, x, y, w, h));
}

/* Positions relative to a range are spread over the layout; false if there is none. */
static bool to_layout(struct vd_router *r, struct vd_input_event *ev)
{
	int64_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;
	int64_t x = ev->x < 0 ? 0 : ev->x, y = ev->y < 0 ? 0 : ev->y;

	if (!ev->range_w || !ev->range_h)
		return true;
	if (!layout_bounds(r, &x0, &y0, &x1, &y1))
		return false;
	x = x >= ev->range_w ? ev->range_w - 1 : x;
	y = y >= ev->range_h ? ev->range_h - 1 : y;
	ev->x = (int32_t)(x0 + x * (x1 - x0 + 1) / ev->range_w);
	ev->y = (int32_t)(y0 + y * (y1 - y0 + 1) / ev->range_h);
	ev->range_w = ev->range_h = 0;
	return true;
}

/* Pointer and touch events; false if they go the usual way (by the layout, to the focus). */
static bool routed_apart(struct vd_router *r, struct vd_input_event *ev)
{
	uint32_t owner = device_guest(r, ev);
	bool positioned = ev->kind == VD_INPUT_ABS || ev->kind == VD_INPUT_TOUCH_DOWN ||
			  ev->kind == VD_INPUT_TOUCH_MOTION || ev->kind == VD_INPUT_TOUCH_UP;

	if (owner == VD_ROUTER_NO_FOCUS) {
		if (!positioned || to_layout(r, ev))
			return false;
		owner = r->focus; /* no layout: the focus takes the whole range */
		if (owner == VD_ROUTER_NO_FOCUS) {
			r->stats.dropped++;
			return true;
		}
	}
	if (positioned)
		on_claimed(r, owner, ev);
	else if (ev->kind == VD_INPUT_REL)
		count(r, vd_kbdback_send_pointer_rel(r->kb, owner, ev->dx, ev->dy));
	else if (ev->kind == VD_INPUT_WHEEL)
		count(r, vd_kbdback_send_wheel(r->kb, owner, ev->wheel));
	else
		return false;
	return true;
}

void vd_router_handle(void *router, const struct vd_input_event *event)
{
	struct vd_router *r = router;
	struct vd_input_event copy = *event, *ev = &copy;

	if (ev->kind != VD_INPUT_KEY && ev->kind != VD_INPUT_TOUCH_FRAME && routed_apart(r, ev))
		return;
	switch (ev->kind) {
	case VD_INPUT_KEY:
		on_key(r, ev);
		break;
	case VD_INPUT_REL:
		on_rel(r, ev->dx, ev->dy);
		break;
	case VD_INPUT_ABS:
		on_abs(r, ev->x, ev->y);
		break;
	case VD_INPUT_WHEEL:
		on_wheel(r, ev->wheel);
		break;
	case VD_INPUT_TOUCH_DOWN:
	case VD_INPUT_TOUCH_MOTION:
	case VD_INPUT_TOUCH_UP:
		on_touch(r, ev);
		break;
	case VD_INPUT_TOUCH_FRAME:
		on_touch_frame(r);
		break;
	default:
		r->stats.dropped++;
		break;
	}
}

/* ---- life ---- */

int vd_router_create(sd_event *loop, struct vd_kbdback *kb, const struct vd_router_opts *opts,
		     struct vd_router **ret_router)
{
	struct vd_router *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->loop = loop;
	r->kb = kb;
	r->opts = *opts;
	r->focus = VD_ROUTER_NO_FOCUS;
	r->stats.last_key_domid = VD_ROUTER_NO_FOCUS;
	r->gen = 1; /* a new device's memo (0) is stale */
	*ret_router = r;
	return 0;
}

void vd_router_destroy(struct vd_router *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < r->nsources; i++)
		vd_input_source_destroy(r->sources[i]);
	free(r);
}

int vd_router_add_source(struct vd_router *r, struct vd_input_source *src)
{
	int res = r->nsources < MAX_SOURCES ? 0 : -ENOSPC;

	if (res == 0)
		res = src->impl->start(src, r->loop, vd_router_handle, r);
	if (res < 0) {
		vd_input_source_destroy(src);
		return res;
	}
	r->sources[r->nsources++] = src;
	return 0;
}

int vd_router_set_guest(struct vd_router *r, uint32_t domid, const struct vd_input_rect *rect)
{
	struct guest *g = find_guest(r, domid);

	if (rect && (rect->w == 0 || rect->h == 0))
		return -EINVAL;
	if (!g) {
		if (r->nguests == VD_ROUTER_MAX_GUESTS)
			return -ENOSPC;
		g = &r->guests[r->nguests++];
		*g = (struct guest){.domid = domid};
		r->gen++;
	}
	if (rect && (!g->has_rect || memcmp(&g->rect, rect, sizeof(*rect))))
		vd_info("input: layout: dom%u at %d,%d %ux%u", domid, rect->x, rect->y, rect->w,
			rect->h);
	g->has_rect = rect != NULL;
	if (rect)
		g->rect = *rect;
	return 0;
}

void vd_router_remove_guest(struct vd_router *r, uint32_t domid)
{
	struct guest *g = find_guest(r, domid);

	if (!g)
		return;
	if (r->focus == domid) {
		memset(r->held, 0,
		       sizeof(r->held)); /* the device may be gone: nothing to release */
		r->focus = VD_ROUTER_NO_FOCUS;
	}
	for (uint32_t i = 0; i < VD_ROUTER_MAX_TOUCH; i++)
		if (r->touches[i].domid == domid)
			r->touches[i].active = false;
	/* Keep the order: it is the hotkey's cycle. */
	memmove(g, g + 1, (size_t)(r->guests + r->nguests - (g + 1)) * sizeof(*g));
	r->nguests--;
	r->gen++;
}

static bool rules_equal(const struct guest *g, const char *const *rules, uint32_t n)
{
	if (g->nrules != n)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(g->rules[i], rules[i]))
			return false;
	return true;
}

int vd_router_set_guest_input(struct vd_router *r, uint32_t domid, const struct vd_hotkey *hotkey,
			      const char *const *rules, uint32_t n)
{
	struct guest *g = find_guest(r, domid);

	if (!g)
		return -ENOENT;
	if (n > VD_ROUTER_MAX_RULES)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++)
		if (strlen(rules[i]) >= VD_ROUTER_RULE_LEN || vd_input_rule_check(rules[i]) < 0)
			return -EINVAL;
	g->hotkey = hotkey ? *hotkey : (struct vd_hotkey){0, 0};
	if (rules_equal(g, rules, n))
		return 0; /* devices keep their memo */
	for (uint32_t i = 0; i < n; i++)
		snprintf(g->rules[i], sizeof(g->rules[i]), "%s", rules[i]);
	g->nrules = n;
	r->gen++;
	return 0;
}

int vd_router_focus(struct vd_router *r, uint32_t domid)
{
	if (!find_guest(r, domid))
		return -ENOENT;
	set_focus(r, domid);
	return 0;
}

uint32_t vd_router_focused(struct vd_router *r)
{
	return r->focus;
}

void vd_router_get_stats(struct vd_router *r, struct vd_router_stats *ret)
{
	*ret = r->stats;
}
