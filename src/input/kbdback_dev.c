/* SPDX-License-Identifier: MIT */
/*
 * A connected vkb device: the features it negotiated, its shared page and
 * event channel, and the queue of events waiting for room on its ring.
 *
 * A full ring is normal for a moment: xen-kbdfront notifies after each
 * batch it consumed, and the queue is flushed then. A frontend that never
 * consumes (a paused guest, or a hostile one) fills the queue; then the
 * oldest event is dropped with a rate-limited log. We drop rather than
 * close because a paused guest is legitimate and comes back; the cost is
 * that a dropped key release may leave a key down in the guest, which the
 * router's release-all on focus change repairs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input/kbdback_priv.h"
#include "log.h"

static const struct vd_hv_impl *hvi(struct vd_kbd_dev *dev)
{
	return dev->kb->hv->impl;
}

static bool read_flag(struct vd_kbd_dev *dev, const char *dir, const char *node)
{
	char path[256];
	uint32_t v;

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	return vd_xs_read_u32(dev->kb->hv, VD_XS_NO_TXN, path, &v) == 0 && v == 1;
}

/* An absent or unparsable node keeps the default, as xen-kbdfront does. */
static uint32_t read_dim(struct vd_kbd_dev *dev, const char *node, uint32_t def, uint32_t max)
{
	char path[256];
	uint32_t v;

	snprintf(path, sizeof(path), "%s/%s", dev->xb.be_path, node);
	if (vd_xs_read_u32(dev->kb->hv, VD_XS_NO_TXN, path, &v) < 0)
		return def;
	return v > max ? max : v;
}

/*
 * Features from the backend directory (written by libxl, not by the guest),
 * requests from the frontend directory (the guest's; only 1 counts).
 */
static void read_features(struct vd_kbd_dev *dev)
{
	struct vd_kbd_features *f = &dev->feat;
	const char *be = dev->xb.be_path, *fe = dev->xb.fe_path;

	memset(f, 0, sizeof(*f));
	f->kbd_disabled = read_flag(dev, be, XENKBD_FIELD_FEAT_DSBL_KEYBRD);
	f->ptr_disabled = read_flag(dev, be, XENKBD_FIELD_FEAT_DSBL_POINTER);
	f->abs = read_flag(dev, be, XENKBD_FIELD_FEAT_ABS_POINTER) &&
		 read_flag(dev, fe, XENKBD_FIELD_REQ_ABS_POINTER);
	f->mtouch = read_flag(dev, be, XENKBD_FIELD_FEAT_MTOUCH) &&
		    read_flag(dev, fe, XENKBD_FIELD_REQ_MTOUCH);
	f->width = read_dim(dev, XENKBD_FIELD_WIDTH, VD_KBD_DEFAULT_WIDTH, INT32_MAX);
	f->height = read_dim(dev, XENKBD_FIELD_HEIGHT, VD_KBD_DEFAULT_HEIGHT, INT32_MAX);
	f->mt_width = read_dim(dev, XENKBD_FIELD_MT_WIDTH, VD_KBD_DEFAULT_WIDTH, INT32_MAX);
	f->mt_height = read_dim(dev, XENKBD_FIELD_MT_HEIGHT, VD_KBD_DEFAULT_HEIGHT, INT32_MAX);
	f->mt_contacts = read_dim(dev, XENKBD_FIELD_MT_NUM_CONTACTS, 1, VD_KBD_MAX_CONTACTS);
}

static int read_fe_u32(struct vd_kbd_dev *dev, const char *node, uint32_t *ret)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dev->xb.fe_path, node);
	return vd_xs_read_u32(dev->kb->hv, VD_XS_NO_TXN, path, ret);
}

/* ---- the ring and the queue ---- */

static void q_push(struct vd_kbd_dev *dev, const union xenkbd_in_event *slot)
{
	if (dev->q_len == VD_KBD_QUEUE_MAX) {
		dev->q_head = (dev->q_head + 1) % VD_KBD_QUEUE_MAX;
		dev->q_len--;
		dev->kb->stats.dropped++;
		vd_log_rl_dom(dev->xb.domid, LOG_WARNING,
			      "%s (dom%u) vkb %u: input not consumed, dropping events",
			      dev->xb.name, dev->xb.domid, dev->xb.devid);
	}
	dev->queue[(dev->q_head + dev->q_len) % VD_KBD_QUEUE_MAX] = *slot;
	dev->q_len++;
	dev->kb->stats.queued++;
}

/* Move queued events onto the ring while there is room; one notify for all. */
static void flush(struct vd_kbd_dev *dev)
{
	bool sent = false;
	int r = 0;

	while (dev->q_len) {
		r = vd_kbd_ring_put(&dev->ring, dev->page, &dev->queue[dev->q_head]);
		if (r < 0)
			break;
		dev->q_head = (dev->q_head + 1) % VD_KBD_QUEUE_MAX;
		dev->q_len--;
		dev->kb->stats.events++;
		sent = true;
	}
	if (sent)
		hvi(dev)->evtchn_notify(dev->ch);
	if (r == -EPROTO)
		vd_xbdev_fail(&dev->xb, "in_cons corrupt");
}

int vd_kbd_dev_send(struct vd_kbd_dev *dev, const union xenkbd_in_event *slot)
{
	if (!vd_kbd_dev_is_up(dev))
		return -ENOTCONN;
	/* Order is kept: nothing overtakes what already waits. */
	q_push(dev, slot);
	flush(dev);
	return 0;
}

/* xen-kbdfront notifies after consuming a batch: room again. */
static int on_notify(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct vd_kbd_dev *dev = userdata;

	hvi(dev)->evtchn_ack(dev->ch);
	if (vd_kbd_dev_is_up(dev) && dev->q_len)
		flush(dev);
	return 0;
}

/* ---- connect / disconnect ---- */

static int map_and_bind(struct vd_kbd_dev *dev)
{
	int r;

	/* page-gref (a grant), never the obsolete page-ref (a frame number). */
	r = hvi(dev)->gnt_map(dev->xb.gnt, dev->xb.domid, 1, &dev->gref, true, &dev->page);
	if (r < 0) {
		dev->page = NULL;
		return r;
	}
	r = hvi(dev)->evtchn_bind(dev->kb->hv, dev->xb.domid, dev->port, &dev->ch);
	if (r < 0) {
		dev->ch = NULL;
		return r;
	}
	return sd_event_add_io(dev->kb->loop, &dev->ch_src, hvi(dev)->evtchn_fd(dev->ch), EPOLLIN,
			       on_notify, dev);
}

int vd_kbd_dev_connect(struct vd_kbd_dev *dev)
{
	int r;

	if ((r = read_fe_u32(dev, XENKBD_FIELD_RING_GREF, &dev->gref)) < 0 ||
	    (r = read_fe_u32(dev, XENKBD_FIELD_EVT_CHANNEL, &dev->port)) < 0) {
		vd_log_rl_dom(dev->xb.domid, LOG_WARNING,
			      "%s (dom%u) vkb %u: page-gref/event-channel missing or invalid",
			      dev->xb.name, dev->xb.domid, dev->xb.devid);
		return r;
	}
	read_features(dev);
	r = map_and_bind(dev);
	if (r < 0) {
		vd_log_rl_dom(dev->xb.domid, LOG_WARNING, "%s (dom%u) vkb %u: cannot connect: %s",
			      dev->xb.name, dev->xb.domid, dev->xb.devid, strerror(-r));
		vd_kbd_dev_disconnect(dev);
		return r;
	}
	vd_kbd_ring_init(&dev->ring, dev->page);
	dev->ptr = (struct vd_kbd_ptr_state){0};
	dev->q_head = dev->q_len = 0;
	vd_log_dom(dev->xb.domid, LOG_INFO, "%s (dom%u) vkb %u connected:%s%s pointer %s %ux%u%s",
		   dev->xb.name, dev->xb.domid, dev->xb.devid,
		   dev->feat.kbd_disabled ? " no keyboard," : " keyboard,",
		   dev->feat.ptr_disabled ? " no" : "", dev->feat.abs ? "abs" : "rel",
		   dev->feat.width, dev->feat.height, dev->feat.mtouch ? ", multi-touch" : "");
	return 0;
}

/* Linux never rewrites them while connected: a change is a violation. */
void vd_kbd_dev_check_transport(struct vd_kbd_dev *dev)
{
	uint32_t gref, port;

	if (!vd_kbd_dev_is_up(dev))
		return;
	if (read_fe_u32(dev, XENKBD_FIELD_RING_GREF, &gref) < 0 || gref != dev->gref ||
	    read_fe_u32(dev, XENKBD_FIELD_EVT_CHANNEL, &port) < 0 || port != dev->port)
		vd_xbdev_fail(&dev->xb, "page-gref or event-channel changed while connected");
}

/* The channel goes before the page it signals about. */
void vd_kbd_dev_disconnect(struct vd_kbd_dev *dev)
{
	dev->ch_src = sd_event_source_disable_unref(dev->ch_src);
	hvi(dev)->evtchn_unbind(dev->kb->hv, dev->ch);
	dev->ch = NULL;
	if (dev->page)
		hvi(dev)->gnt_unmap(dev->xb.gnt, dev->page, 1);
	dev->page = NULL;
	dev->q_head = dev->q_len = 0;
}
