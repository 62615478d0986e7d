/* SPDX-License-Identifier: MIT */
/*
 * Discovery of vkb frontends (backend/vinput, the kind libxl uses for
 * backend-type=linux) and the xenbus state machine of each device, as the
 * display backend's (docs/architecture.md), with one difference: a device
 * closed for a violation stays Closed (no InitWait) until its frontend
 * starts over (Initialising, or Initialised again after Closed: a new probe
 * publishes a new page). Otherwise xen-kbdfront, which goes back to
 * Connected with the same page on every InitWait, would loop with us.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xenbus.h>

#include "hv/sim/sim.h"
#include "input/kbdback_priv.h"
#include "log.h"

#define TOKEN_ROOT "vinput"
#define TOKEN_RELEASE "release"

static const struct vd_hv_impl *hvi(struct vd_kbdback *kb)
{
	return kb->hv->impl;
}

static int read_state(struct vd_kbdback *kb, const char *dir)
{
	char path[256];
	uint32_t v;

	snprintf(path, sizeof(path), "%s/state", dir);
	if (vd_xs_read_u32(kb->hv, VD_XS_NO_TXN, path, &v) < 0)
		return -1;
	return v > XenbusStateReconfigured ? -1 : (int)v;
}

static void set_state(struct vd_kbd_dev *dev, int state)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/state", dev->be_path);
	if (vd_xs_printf(dev->kb->hv, VD_XS_NO_TXN, path, "%d", state) < 0)
		vd_warn("dom%u: vkb %u: cannot write backend state", dev->domid, dev->devid);
	dev->be_state = state;
}

bool vd_kbd_dev_is_up(const struct vd_kbd_dev *dev)
{
	return dev->be_state == XenbusStateConnected && dev->page && !dev->failed;
}

/* ---- violations ---- */

static int on_fail(sd_event_source *s, void *userdata)
{
	struct vd_kbd_dev *dev = userdata;

	vd_kbd_dev_disconnect(dev);
	set_state(dev, XenbusStateClosed);
	dev->fail_src = sd_event_source_disable_unref(dev->fail_src);
	return 0;
}

/*
 * Stop sending at once; tear down from the loop (the caller may be in the
 * middle of a flush) and go Closed.
 */
void vd_kbd_dev_fail(struct vd_kbd_dev *dev, const char *why)
{
	if (dev->failed)
		return;
	dev->failed = true;
	dev->kb->stats.protocol_errors++;
	vd_log_rl(LOG_WARNING, "%s (dom%u) vkb %u: %s: closing the device", dev->name, dev->domid,
		  dev->devid, why);
	if (sd_event_add_defer(dev->kb->loop, &dev->fail_src, on_fail, dev) < 0)
		on_fail(NULL, dev);
}

/* ---- the state machine ---- */

static void on_fe_initialising(struct vd_kbd_dev *dev)
{
	dev->await_reinit = false;
	dev->failed = false;
	if (dev->be_state != XenbusStateInitWait) {
		vd_kbd_dev_disconnect(dev);
		set_state(dev, XenbusStateInitWait);
	} else if (dev->fe_state != XenbusStateInitialising) {
		set_state(dev, XenbusStateInitWait); /* Linux only reacts to changes */
	}
}

static void on_fe_ready(struct vd_kbd_dev *dev, int fe)
{
	/* Initialised after Closed: a new probe with a new page. Give it a chance. */
	if (fe == XenbusStateInitialised && dev->fe_state != XenbusStateInitialised &&
	    dev->be_state == XenbusStateClosed && !dev->fail_src) {
		dev->failed = false;
		set_state(dev, XenbusStateInitWait);
	}
	if (dev->be_state == XenbusStateConnected) {
		vd_kbd_dev_check_transport(dev);
		return;
	}
	if (dev->be_state != XenbusStateInitWait || dev->await_reinit || dev->failed)
		return;
	if (vd_kbd_dev_connect(dev) < 0) {
		dev->failed = true;
		dev->kb->stats.protocol_errors++;
		set_state(dev, XenbusStateClosed);
		return;
	}
	set_state(dev, XenbusStateConnected);
}

static void on_fe_closed(struct vd_kbd_dev *dev)
{
	vd_kbd_dev_disconnect(dev);
	if (dev->be_state == XenbusStateConnected || dev->be_state == XenbusStateInitialised)
		set_state(dev, XenbusStateClosed);
	/* The frontend expects InitWait after its removal; not after a violation. */
	if (dev->be_state == XenbusStateClosed && !dev->failed)
		set_state(dev, XenbusStateInitWait);
}

static void dev_update(struct vd_kbd_dev *dev)
{
	int fe = read_state(dev->kb, dev->fe_path);

	if (dev->detaching)
		return;
	if (dev->await_reinit && fe != XenbusStateConnected)
		dev->await_reinit = false;
	switch (fe) {
	case XenbusStateInitialising:
		on_fe_initialising(dev);
		break;
	case XenbusStateInitialised:
	case XenbusStateConnected:
		on_fe_ready(dev, fe);
		break;
	case XenbusStateClosing:
	case XenbusStateClosed:
		on_fe_closed(dev);
		break;
	case XenbusStateUnknown:
	case -1:
		vd_kbd_dev_disconnect(dev);
		break;
	default:
		break;
	}
	dev->fe_state = fe;
}

/* The toolstack wrote our state node: Closing means detach. */
static void on_be_state(struct vd_kbd_dev *dev)
{
	int s = read_state(dev->kb, dev->be_path);

	if (s == dev->be_state || s < 0)
		return;
	if (s == XenbusStateClosing || s == XenbusStateClosed) {
		vd_info("%s (dom%u) vkb %u: detached by the toolstack", dev->name, dev->domid,
			dev->devid);
		dev->detaching = true;
		vd_kbd_dev_disconnect(dev);
		set_state(dev, XenbusStateClosed);
	} else if (s == XenbusStateInitialising) {
		dev->detaching = false;
		vd_kbd_dev_disconnect(dev);
		set_state(dev, XenbusStateInitWait);
	}
}

/* ---- devices ---- */

static char *read_str(struct vd_kbdback *kb, const char *path)
{
	char *val;
	size_t len;

	return hvi(kb)->xs_read(kb->hv, VD_XS_NO_TXN, path, &val, &len) < 0 ? NULL : val;
}

static struct vd_kbd_dev **find_dev(struct vd_kbdback *kb, uint32_t domid, uint32_t devid)
{
	struct vd_kbd_dev **p = &kb->devs;

	while (*p && ((*p)->domid != domid || (*p)->devid != devid))
		p = &(*p)->next;
	return p;
}

static void dev_free(struct vd_kbd_dev *dev)
{
	struct vd_kbdback *kb = dev->kb;

	vd_kbd_dev_disconnect(dev);
	dev->fail_src = sd_event_source_disable_unref(dev->fail_src);
	hvi(kb)->xs_unwatch(kb->hv, dev->fe_path, dev->fe_token);
	hvi(kb)->gnt_close(dev->gnt);
	kb->stats.devices--;
	free(dev->be_path);
	free(dev->fe_path);
	free(dev->name);
	free(dev);
}

static void dev_remove(struct vd_kbdback *kb, struct vd_kbd_dev **slot, const char *why)
{
	struct vd_kbd_dev *dev = *slot;

	vd_info("%s (dom%u) vkb %u: %s, released", dev->name, dev->domid, dev->devid, why);
	*slot = dev->next;
	dev_free(dev);
}

/* libxl keeps the frontend under device/vkbd even when the backend kind is vinput. */
static int check_fe_path(const char *fe_path, uint32_t domid, uint32_t devid)
{
	char want[128];

	snprintf(want, sizeof(want), "/local/domain/%u/device/" XENKBD_DRIVER_NAME "/%u", domid,
		 devid);
	return strcmp(fe_path, want) == 0 ? 0 : -EINVAL;
}

static void dev_start(struct vd_kbd_dev *dev)
{
	int s = read_state(dev->kb, dev->be_path);

	dev->await_reinit = s > XenbusStateInitWait && s != XenbusStateClosed;
	dev->fe_state = read_state(dev->kb, dev->fe_path);
	set_state(dev, XenbusStateInitWait);
	vd_info("%s (dom%u) vkb %u: %s, backend InitWait", dev->name, dev->domid, dev->devid,
		dev->await_reinit ? "reconnecting after a restart" : "new device");
}

static int dev_init(struct vd_kbdback *kb, struct vd_kbd_dev *dev)
{
	char path[256];

	if (asprintf(&dev->be_path, "%s/%u/%u", kb->root, dev->domid, dev->devid) < 0) {
		dev->be_path = NULL;
		return -ENOMEM;
	}
	snprintf(path, sizeof(path), "%s/frontend", dev->be_path);
	dev->fe_path = read_str(kb, path);
	if (!dev->fe_path || check_fe_path(dev->fe_path, dev->domid, dev->devid) < 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/local/domain/%u/name", dev->domid);
	dev->name = read_str(kb, path);
	if (!dev->name && asprintf(&dev->name, "dom%u", dev->domid) < 0) {
		dev->name = NULL;
		return -ENOMEM;
	}
	return hvi(kb)->gnt_open(kb->hv, &dev->gnt);
}

static int dev_new(struct vd_kbdback *kb, uint32_t domid, uint32_t devid)
{
	struct vd_kbd_dev *dev = calloc(1, sizeof(*dev));
	int r;

	if (!dev)
		return -ENOMEM;
	dev->kb = kb;
	dev->domid = domid;
	dev->devid = devid;
	dev->be_state = -1;
	r = dev_init(kb, dev);
	if (r < 0) {
		hvi(kb)->gnt_close(dev->gnt);
		free(dev->be_path);
		free(dev->fe_path);
		free(dev->name);
		free(dev);
		return r;
	}
	snprintf(dev->fe_token, sizeof(dev->fe_token), "kfe:%u:%u", domid, devid);
	dev->next = kb->devs;
	kb->devs = dev;
	kb->stats.devices++;
	dev_start(dev);
	/* The whole frontend directory: state, and transport nodes rewritten later. */
	r = hvi(kb)->xs_watch(kb->hv, dev->fe_path, dev->fe_token);
	if (r < 0)
		vd_err("dom%u: cannot watch %s: %s", domid, dev->fe_path, strerror(-r));
	return 0;
}

static int parse_u32(const char *s, uint32_t *ret)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

static void scan_dev(struct vd_kbdback *kb, uint32_t domid, uint32_t devid)
{
	struct vd_kbd_dev **slot = find_dev(kb, domid, devid);
	char path[256], *val;
	bool exists;

	snprintf(path, sizeof(path), "%s/%u/%u/frontend", kb->root, domid, devid);
	val = read_str(kb, path);
	exists = val != NULL;
	free(val);
	if (*slot && !exists)
		dev_remove(kb, slot, "backend directory removed");
	else if (*slot)
		on_be_state(*slot);
	else if (exists && hvi(kb)->domain_alive(kb->hv, domid) == 1)
		dev_new(kb, domid, devid);
}

static void scan_domain(struct vd_kbdback *kb, uint32_t domid)
{
	char path[256], **list = NULL;
	unsigned n = 0;
	uint32_t devid;

	snprintf(path, sizeof(path), "%s/%u", kb->root, domid);
	if (hvi(kb)->xs_directory(kb->hv, VD_XS_NO_TXN, path, &list, &n) < 0)
		n = 0;
	for (unsigned i = 0; i < n; i++)
		if (parse_u32(list[i], &devid) == 0)
			scan_dev(kb, domid, devid);
	vd_hv_free_list(list, n);
}

static void drop_missing(struct vd_kbdback *kb)
{
	struct vd_kbd_dev **p = &kb->devs;
	char path[256], *val;

	while (*p) {
		snprintf(path, sizeof(path), "%s/frontend", (*p)->be_path);
		val = read_str(kb, path);
		if (!val) {
			dev_remove(kb, p, "backend directory removed");
			continue;
		}
		free(val);
		p = &(*p)->next;
	}
}

static void scan_all(struct vd_kbdback *kb)
{
	char **list = NULL;
	unsigned n = 0;
	uint32_t domid;

	drop_missing(kb);
	if (hvi(kb)->xs_directory(kb->hv, VD_XS_NO_TXN, kb->root, &list, &n) < 0)
		n = 0;
	for (unsigned i = 0; i < n; i++)
		if (parse_u32(list[i], &domid) == 0)
			scan_domain(kb, domid);
	vd_hv_free_list(list, n);
}

static void on_root_event(struct vd_kbdback *kb, const char *path)
{
	size_t len = strlen(kb->root);
	uint32_t domid, devid;
	char rest[64];

	if (strncmp(path, kb->root, len) != 0 || path[len] != '/' ||
	    sscanf(path + len, "/%" SCNu32 "/%" SCNu32 "%63s", &domid, &devid, rest) < 2) {
		scan_all(kb);
		return;
	}
	scan_dev(kb, domid, devid);
}

static void on_release_domain(struct vd_kbdback *kb)
{
	struct vd_kbd_dev **p = &kb->devs;

	while (*p) {
		if (hvi(kb)->domain_alive(kb->hv, (*p)->domid) == 0) {
			dev_remove(kb, p, "domain is gone");
			continue;
		}
		p = &(*p)->next;
	}
}

static void on_fe_event(struct vd_kbdback *kb, const char *token)
{
	uint32_t domid, devid;
	struct vd_kbd_dev *dev;

	if (sscanf(token, "kfe:%" SCNu32 ":%" SCNu32, &domid, &devid) != 2)
		return;
	dev = *find_dev(kb, domid, devid);
	if (dev)
		dev_update(dev);
}

static int on_xs_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct vd_kbdback *kb = userdata;
	char *path, *token;

	for (int i = 0; i < 256; i++) {
		if (hvi(kb)->xs_read_watch(kb->hv, &path, &token) < 0)
			break;
		if (strcmp(token, TOKEN_ROOT) == 0)
			on_root_event(kb, path);
		else if (strcmp(token, TOKEN_RELEASE) == 0)
			on_release_domain(kb);
		else
			on_fe_event(kb, token);
		free(path);
		free(token);
	}
	return 0;
}

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

static int kb_start(struct vd_kbdback *kb)
{
	int r;

	r = sd_event_add_io(kb->loop, &kb->xs_src, hvi(kb)->xs_watch_fd(kb->hv), EPOLLIN,
			    on_xs_event, kb);
	if (r >= 0)
		r = hvi(kb)->xs_watch(kb->hv, kb->root, TOKEN_ROOT);
	if (r >= 0)
		r = hvi(kb)->xs_watch(kb->hv, "@releaseDomain", TOKEN_RELEASE);
	return r;
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
	kb->own_domid = hvi(kb)->own_domid(kb->hv);
	r = asprintf(&kb->root, "/local/domain/%u/backend/vinput", kb->own_domid);
	if (r < 0)
		kb->root = NULL;
	r = kb->root ? kb_start(kb) : -ENOMEM;
	if (r < 0) {
		vd_kbdback_destroy(kb);
		return r;
	}
	scan_all(kb);
	*ret_kb = kb;
	return 0;
}

void vd_kbdback_destroy(struct vd_kbdback *kb)
{
	if (!kb)
		return;
	while (kb->devs) {
		struct vd_kbd_dev *dev = kb->devs;

		kb->devs = dev->next;
		vd_kbd_dev_disconnect(dev);
		set_state(dev, XenbusStateClosed);
		dev_free(dev);
	}
	if (kb->root) {
		hvi(kb)->xs_unwatch(kb->hv, kb->root, TOKEN_ROOT);
		hvi(kb)->xs_unwatch(kb->hv, "@releaseDomain", TOKEN_RELEASE);
	}
	sd_event_source_disable_unref(kb->xs_src);
	vd_hv_destroy(kb->hv);
	free(kb->root);
	free(kb);
}

void vd_kbdback_get_stats(struct vd_kbdback *kb, struct vd_kbdback_stats *ret)
{
	*ret = kb->stats;
	ret->connected = 0;
	for (struct vd_kbd_dev *d = kb->devs; d; d = d->next)
		ret->connected += vd_kbd_dev_is_up(d);
}

bool vd_kbdback_connected(struct vd_kbdback *kb, uint32_t domid)
{
	for (struct vd_kbd_dev *d = kb->devs; d; d = d->next)
		if (d->domid == domid && vd_kbd_dev_is_up(d))
			return true;
	return false;
}

/* ---- input ---- */

typedef int (*make_fn)(struct vd_kbd_dev *dev, const void *arg, union xenkbd_in_event *slot);

/* Build and send to every connected device of domid; the best result wins. */
static int send_all(struct vd_kbdback *kb, uint32_t domid, make_fn make, const void *arg)
{
	int best = -ENOTCONN;

	for (struct vd_kbd_dev *d = kb->devs; d; d = d->next) {
		union xenkbd_in_event slot;
		int r;

		if (d->domid != domid || !vd_kbd_dev_is_up(d))
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
