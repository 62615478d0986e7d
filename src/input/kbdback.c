/* SPDX-License-Identifier: MIT */
/*
 * The vkb devices under backend/vinput (the kind libxl uses for
 * backend-type=linux). Discovery and the xenbus state machine are
 * xbdev.c's, as for the display backend, with sticky_fail: a device
 * closed for a violation stays Closed (no InitWait) until its frontend
 * starts over (Initialising, or Initialised again after Closed: a new probe
 * publishes a new page). Otherwise xen-kbdfront, which goes back to
 * Connected with the same page on every InitWait, would loop with us.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xenbus.h>

#include "hv/sim/sim.h"
#include "input/kbdback_priv.h"
#include "log.h"

bool vd_kbd_dev_is_up(const struct vd_kbd_dev *dev)
{
	return dev->xb.be_state == XenbusStateConnected && dev->page && !dev->xb.failed;
}

/* ---- the xenbus device ---- */

static const struct vd_xbdev_ops kbd_xbdev_ops;

struct vd_kbd_dev *vd_kbd_dev_from_xbdev(struct vd_xbdev *xb)
{
	assert(xb->dir->ops == &kbd_xbdev_ops);
	return (struct vd_kbd_dev *)xb;
}

static struct vd_kbdback *kbdback_of(struct vd_xbdir *dir)
{
	assert(dir->ops == &kbd_xbdev_ops);
	return (struct vd_kbdback *)((char *)dir - offsetof(struct vd_kbdback, xbdir));
}

static int xb_create(struct vd_xbdir *dir, struct vd_xbdev **ret)
{
	struct vd_kbd_dev *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return -ENOMEM;
	dev->kb = kbdback_of(dir);
	*ret = &dev->xb;
	return 0;
}

static void changed(struct vd_kbdback *kb)
{
	vd_notify(&kb->changed);
}

/* Up once xbdev.c says Connected, right after this returns. */
static int xb_connect(struct vd_xbdev *xb)
{
	struct vd_kbd_dev *dev = vd_kbd_dev_from_xbdev(xb);
	int r = vd_kbd_dev_connect(dev);

	if (r >= 0)
		changed(dev->kb);
	return r;
}

/* Every way down passes here (a violation too: its teardown is deferred, not skipped). */
static void xb_teardown(struct vd_xbdev *xb)
{
	struct vd_kbd_dev *dev = vd_kbd_dev_from_xbdev(xb);
	bool was_connected = dev->page != NULL;

	vd_kbd_dev_disconnect(dev);
	if (was_connected)
		changed(dev->kb);
}

static void xb_recheck(struct vd_xbdev *xb)
{
	vd_kbd_dev_check_transport(vd_kbd_dev_from_xbdev(xb));
}

static void xb_destroy(struct vd_xbdev *xb)
{
	free(vd_kbd_dev_from_xbdev(xb));
}

/* libxl keeps the frontend under device/vkbd even when the backend kind is vinput. */
static const struct vd_xbdev_ops kbd_xbdev_ops = {
	.be_kind = "vinput",
	.fe_kind = XENKBD_DRIVER_NAME,
	.label = "vkb",
	.token = "kfe",
	.sticky_fail = true,
	.create = xb_create,
	.connect = xb_connect,
	.teardown = xb_teardown,
	.recheck = xb_recheck,
	.destroy = xb_destroy,
};

/*
 * A second connection to the same hypervisor. The hv interface has no
 * "another connection" operation yet; the simulator needs to be told which
 * machine, Xen just opens another handle.
 */
static int open_own_hv(struct vd_hv *hv, struct vd_hv **ret)
{
	struct vd_sim *sim = vd_sim_from_hv(hv);

	if (sim)
		return vd_sim_connect_as(sim, hv->impl->own_domid(hv), ret);
	return vd_hv_create(hv->impl->name, ret);
}

int vd_kbdback_create(sd_event *loop, struct vd_hv *hv, struct vd_kbdback **ret_kb)
{
	struct vd_kbdback *kb = calloc(1, sizeof(*kb));
	int r;

	if (!kb)
		return -ENOMEM;
	kb->loop = loop;
	r = open_own_hv(hv, &kb->hv);
	if (r < 0) {
		free(kb);
		return r;
	}
	r = vd_xbdir_init(&kb->xbdir, loop, kb->hv, &kbd_xbdev_ops);
	if (r < 0) {
		vd_kbdback_destroy(kb);
		return r;
	}
	*ret_kb = kb;
	return 0;
}

void vd_kbdback_destroy(struct vd_kbdback *kb)
{
	if (!kb)
		return;
	vd_xbdir_finish(&kb->xbdir);
	vd_hv_destroy(kb->hv);
	free(kb);
}

void vd_kbdback_get_stats(struct vd_kbdback *kb, struct vd_kbdback_stats *ret)
{
	*ret = kb->stats;
	ret->devices = kb->xbdir.ndevices;
	ret->protocol_errors = kb->xbdir.protocol_errors;
	ret->connected = 0;
	for (struct vd_xbdev *x = kb->xbdir.devs; x; x = x->next)
		ret->connected += vd_kbd_dev_is_up(vd_kbd_dev_from_xbdev(x));
}

void vd_kbdback_on_change(struct vd_kbdback *kb, void (*fn)(void *userdata), void *userdata)
{
	vd_notify_set(&kb->changed, fn, userdata);
}

bool vd_kbdback_connected(struct vd_kbdback *kb, uint32_t domid)
{
	for (struct vd_xbdev *x = kb->xbdir.devs; x; x = x->next)
		if (x->domid == domid && vd_kbd_dev_is_up(vd_kbd_dev_from_xbdev(x)))
			return true;
	return false;
}

void vd_kbdback_foreach_guest(struct vd_kbdback *kb, vd_kbd_guest_fn fn, void *userdata)
{
	for (struct vd_xbdev *x = kb->xbdir.devs; x; x = x->next)
		if (vd_kbd_dev_is_up(vd_kbd_dev_from_xbdev(x)))
			fn(userdata, x->domid, x->name ? x->name : "");
}

void vd_kbdback_foreach_device(struct vd_kbdback *kb, vd_kbd_dev_fn fn, void *userdata)
{
	for (struct vd_xbdev *x = kb->xbdir.devs; x; x = x->next) {
		const struct vd_kbd_dev *dev = vd_kbd_dev_from_xbdev(x);
		bool up = vd_kbd_dev_is_up(dev);
		struct vd_kbd_dev_info info = {
			.domid = x->domid,
			.devid = x->devid,
			.name = x->name ? x->name : "",
			.be_state = x->be_state,
			.fe_state = x->fe_state,
			.connected = up,
			.failed = x->failed,
			.keyboard = up && !dev->feat.kbd_disabled,
			.pointer = up && !dev->feat.ptr_disabled,
			.abs_pointer = up && dev->feat.abs,
			.multi_touch = up && dev->feat.mtouch,
			.width = dev->feat.width,
			.height = dev->feat.height,
			.mt_contacts = up && dev->feat.mtouch ? dev->feat.mt_contacts : 0,
			.queued = dev->q_len,
		};

		fn(userdata, &info);
	}
}

/* ---- input ---- */

typedef int (*make_fn)(struct vd_kbd_dev *dev, const void *arg, union xenkbd_in_event *slot);

/* Build and send to every connected device of domid; the best result wins. */
static int send_all(struct vd_kbdback *kb, uint32_t domid, make_fn make, const void *arg)
{
	int best = -ENOTCONN;

	for (struct vd_xbdev *x = kb->xbdir.devs; x; x = x->next) {
		struct vd_kbd_dev *d = vd_kbd_dev_from_xbdev(x);
		union xenkbd_in_event slot;
		int r;

		if (x->domid != domid || !vd_kbd_dev_is_up(d))
			continue;
		r = make(d, arg, &slot);
		if (r == 0)
			r = vd_kbd_dev_send(d, &slot);
		else
			kb->stats.refused++;
		if (r == 0 || best == -ENOTCONN)
			best = r;
	}
	return best;
}

struct key_arg {
	uint32_t code;
	bool pressed;
};

static int make_key(struct vd_kbd_dev *dev, const void *arg, union xenkbd_in_event *slot)
{
	const struct key_arg *a = arg;

	return vd_kbd_make_key(&dev->feat, a->code, a->pressed, slot);
}

int vd_kbdback_send_key(struct vd_kbdback *kb, uint32_t domid, uint32_t keycode, bool pressed)
{
	struct key_arg a = {keycode, pressed};

	return send_all(kb, domid, make_key, &a);
}

struct rel_arg {
	int32_t dx, dy, wheel;
};

static int make_rel(struct vd_kbd_dev *dev, const void *arg, union xenkbd_in_event *slot)
{
	const struct rel_arg *a = arg;

	return vd_kbd_make_rel(&dev->feat, &dev->ptr, a->dx, a->dy, a->wheel, slot);
}

int vd_kbdback_send_pointer_rel(struct vd_kbdback *kb, uint32_t domid, int32_t dx, int32_t dy)
{
	struct rel_arg a = {dx, dy, 0};

	return send_all(kb, domid, make_rel, &a);
}

int vd_kbdback_send_wheel(struct vd_kbdback *kb, uint32_t domid, int32_t wheel)
{
	struct rel_arg a = {0, 0, wheel};

	return send_all(kb, domid, make_rel, &a);
}

struct abs_arg {
	uint8_t mt_ev;
	uint32_t contact, x, y, w, h;
};

static int make_abs(struct vd_kbd_dev *dev, const void *arg, union xenkbd_in_event *slot)
{
	const struct abs_arg *a = arg;

	return vd_kbd_make_abs(&dev->feat, &dev->ptr, a->x, a->y, a->w, a->h, slot);
}

int vd_kbdback_send_pointer_abs(struct vd_kbdback *kb, uint32_t domid, uint32_t x, uint32_t y,
				uint32_t src_w, uint32_t src_h)
{
	struct abs_arg a = {0, 0, x, y, src_w, src_h};

	return send_all(kb, domid, make_abs, &a);
}

static int make_touch(struct vd_kbd_dev *dev, const void *arg, union xenkbd_in_event *slot)
{
	const struct abs_arg *a = arg;

	return vd_kbd_make_touch(&dev->feat, a->mt_ev, a->contact, a->x, a->y, a->w, a->h, slot);
}

int vd_kbdback_send_touch(struct vd_kbdback *kb, uint32_t domid, uint8_t mt_ev, uint32_t contact_id,
			  uint32_t x, uint32_t y, uint32_t src_w, uint32_t src_h)
{
	struct abs_arg a = {mt_ev, contact_id, x, y, src_w, src_h};

	return send_all(kb, domid, make_touch, &a);
}
