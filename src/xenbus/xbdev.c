/* SPDX-License-Identifier: MIT */
/*
 * Discovery of the devices of one backend kind and the xenbus state
 * machine of each (xbdev.h). Driven by xenstore watches only: one on
 * backend/<kind>, one per device on the frontend's directory, and
 * @releaseDomain.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xenbus.h>

#include "log.h"
#include "parse.h"
#include "xenbus/xbdev.h"

#define TOKEN_RELEASE "release"

static const struct vd_hv_impl *hvi(struct vd_xbdir *dir)
{
	return dir->hv->impl;
}

static const char *state_name(int s)
{
	static const char *const names[] = {"Unknown",   "Initialising", "InitWait",
					    "Initialised", "Connected",  "Closing",
					    "Closed",    "Reconfiguring", "Reconfigured"};
	return (s >= 0 && s <= 8) ? names[s] : "absent";
}

static int read_state(struct vd_xbdir *dir, const char *node_dir)
{
	char path[256];
	uint32_t v;

	snprintf(path, sizeof(path), "%s/state", node_dir);
	if (vd_xs_read_u32(dir->hv, VD_XS_NO_TXN, path, &v) < 0)
		return -1;
	return v > XenbusStateReconfigured ? -1 : (int)v;
}

static void set_state(struct vd_xbdev *dev, int state)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/state", dev->be_path);
	if (vd_xs_printf(dev->dir->hv, VD_XS_NO_TXN, path, "%d", state) < 0)
		vd_warn("dom%u: %s %u: cannot write backend state", dev->domid,
			dev->dir->ops->label, dev->devid);
	else
		vd_debug_dom(dev->domid, "dom%u %s %u: backend -> %s", dev->domid,
			     dev->dir->ops->label, dev->devid, state_name(state));
	dev->be_state = state;
}

static void teardown(struct vd_xbdev *dev)
{
	dev->dir->ops->teardown(dev);
}

/* ---- violations ---- */

static int on_fail(sd_event_source *s, void *userdata)
{
	struct vd_xbdev *dev = userdata;

	teardown(dev);
	set_state(dev, XenbusStateClosed);
	dev->fail_src = sd_event_source_disable_unref(dev->fail_src);
	return 0;
}

void vd_xbdev_fail(struct vd_xbdev *dev, const char *why)
{
	if (dev->failed)
		return;
	dev->failed = true;
	dev->dir->protocol_errors++;
	vd_log_rl_dom(dev->domid, LOG_WARNING, "%s (dom%u) %s %u: %s: closing the device",
		      dev->name, dev->domid, dev->dir->ops->label, dev->devid, why);
	if (sd_event_add_defer(dev->dir->loop, &dev->fail_src, on_fail, dev) < 0)
		on_fail(NULL, dev);
}

/* ---- toolstack settings ---- */

static int refuse(struct vd_xbdev *dev, const char *path, uint32_t owner)
{
	if (!dev->refused)
		vd_warn("%s (dom%u) %s %u: refusing the device: %s is not a toolstack setting: %s "
			"(owner dom%u); only a node the toolstack wrote read-only for the guest is "
			"trusted",
			dev->name, dev->domid, dev->dir->ops->label, dev->devid, path,
			owner == dev->domid ? "the guest owns it" : "the guest may write it",
			owner);
	dev->refused = true;
	return -EPERM;
}

/* The toolstack's (domain 0's, or the backend domain's as libxl sets it), read-only for the guest. */
static bool setting_trusted(struct vd_xbdev *dev, const struct vd_xs_perm *p, unsigned n)
{
	uint32_t own = hvi(dev->dir)->own_domid(dev->dir->hv);

	return n > 0 && (p[0].domid == 0 || p[0].domid == own) &&
	       !vd_xs_perms_writable_by(p, n, dev->domid);
}

/*
 * The value is read before the permissions: a node the guest wrote is its
 * own and only domain 0 can give it away, so permissions that say
 * "toolstack's" afterwards held when the value was read (unless the
 * toolstack itself rewrote the node in between, and then it restarts the
 * device too).
 */
int vd_xbdev_read_setting(struct vd_xbdev *dev, const char *node, char **ret_value)
{
	const struct vd_hv_impl *hv = hvi(dev->dir);
	struct vd_xs_perm *p;
	char path[256], *val;
	unsigned n;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dev->fe_path, node);
	r = hv->xs_read(dev->dir->hv, VD_XS_NO_TXN, path, &val, &len);
	if (r < 0)
		return r;
	r = hv->xs_get_perms(dev->dir->hv, VD_XS_NO_TXN, path, &p, &n);
	if (r < 0) {
		if (r != -ENOENT)
			vd_log_rl_dom(dev->domid, LOG_WARNING,
				      "%s (dom%u) %s %u: cannot read the permissions of %s: %s",
				      dev->name, dev->domid, dev->dir->ops->label, dev->devid,
				      path, strerror(-r));
		free(val);
		return r;
	}
	if (!setting_trusted(dev, p, n)) {
		r = refuse(dev, path, p[0].domid);
		free(p);
		free(val);
		return r;
	}
	free(p);
	*ret_value = val;
	return 0;
}

/* ---- the state machine ---- */

static void on_fe_initialising(struct vd_xbdev *dev)
{
	dev->await_reinit = false;
	dev->failed = false;
	if (dev->be_state != XenbusStateInitWait) {
		teardown(dev);
		set_state(dev, XenbusStateInitWait);
	} else if (dev->fe_state != XenbusStateInitialising) {
		/* Linux only reacts to changes: say InitWait again. */
		set_state(dev, XenbusStateInitWait);
	}
}

static void on_fe_ready(struct vd_xbdev *dev, int fe)
{
	const struct vd_xbdev_ops *ops = dev->dir->ops;

	/* Sticky: Initialised after Closed is a new probe with new rings. Give it a chance. */
	if (ops->sticky_fail && fe == XenbusStateInitialised &&
	    dev->fe_state != XenbusStateInitialised && dev->be_state == XenbusStateClosed &&
	    !dev->fail_src) {
		dev->failed = false;
		set_state(dev, XenbusStateInitWait);
	}
	if (dev->be_state == XenbusStateConnected && ops->recheck) {
		ops->recheck(dev);
		return;
	}
	if (dev->be_state != XenbusStateInitWait || dev->await_reinit || dev->failed)
		return;
	if (ops->connect(dev) < 0) {
		if (ops->sticky_fail) {
			dev->failed = true;
			dev->dir->protocol_errors++;
		}
		set_state(dev, XenbusStateClosed);
		return;
	}
	set_state(dev, XenbusStateConnected);
}

static void on_fe_closed(struct vd_xbdev *dev)
{
	bool was_up = dev->be_state == XenbusStateConnected ||
		      dev->be_state == XenbusStateInitialised;

	teardown(dev);
	if (was_up)
		set_state(dev, XenbusStateClosed);
	/* The Linux frontend expects InitWait after its removal; sticky: not after a violation. */
	if (dev->be_state == XenbusStateClosed && !(dev->dir->ops->sticky_fail && dev->failed))
		set_state(dev, XenbusStateInitWait);
}

static void dev_update(struct vd_xbdev *dev)
{
	int fe = read_state(dev->dir, dev->fe_path);

	if (dev->detaching)
		return;
	if (dev->refused) {
		dev->fe_state = fe;
		return;
	}
	if (fe != dev->fe_state)
		vd_debug_dom(dev->domid, "dom%u %s %u: frontend %s -> %s", dev->domid,
			     dev->dir->ops->label, dev->devid, state_name(dev->fe_state),
			     state_name(fe));
	/*
	 * After a restart we wait for the frontend to leave the Connected state
	 * it had with the previous instance. Linux answers our InitWait with
	 * Reconfiguring -> Initialising -> Initialised in one go, and a watch
	 * only says "changed": by the time we read the node it may already say
	 * Initialised. Any state but Connected shows it started over, and it
	 * publishes fresh rings before it says Initialised.
	 */
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
		teardown(dev);
		break;
	default:
		break;
	}
	dev->fe_state = fe;
}

/* The toolstack wrote our state node: Closing means detach. */
static void on_be_state(struct vd_xbdev *dev)
{
	int s = read_state(dev->dir, dev->be_path);

	if (s == dev->be_state || s < 0)
		return;
	if (s == XenbusStateClosing || s == XenbusStateClosed) {
		vd_log_dom(dev->domid, LOG_INFO, "%s (dom%u) %s %u: detached by the toolstack",
			   dev->name, dev->domid, dev->dir->ops->label, dev->devid);
		dev->detaching = true;
		teardown(dev);
		set_state(dev, XenbusStateClosed);
	} else if (s == XenbusStateInitialising) {
		/* The toolstack added the device again: its settings are new. */
		dev->detaching = false;
		dev->refused = false;
		teardown(dev);
		set_state(dev, XenbusStateInitWait);
	}
}

/* ---- devices ---- */

static char *read_str(struct vd_xbdir *dir, const char *path)
{
	char *val;
	size_t len;

	return hvi(dir)->xs_read(dir->hv, VD_XS_NO_TXN, path, &val, &len) < 0 ? NULL : val;
}

static struct vd_xbdev **find_dev(struct vd_xbdir *dir, uint32_t domid, uint32_t devid)
{
	struct vd_xbdev **p = &dir->devs;

	while (*p && ((*p)->domid != domid || (*p)->devid != devid))
		p = &(*p)->next;
	return p;
}

/* The base's resources, then the derived object. */
static void dev_release(struct vd_xbdev *dev)
{
	hvi(dev->dir)->gnt_close(dev->gnt);
	free(dev->be_path);
	free(dev->fe_path);
	free(dev->name);
	dev->dir->ops->destroy(dev);
}

static void dev_free(struct vd_xbdev *dev)
{
	struct vd_xbdir *dir = dev->dir;

	teardown(dev);
	dev->fail_src = sd_event_source_disable_unref(dev->fail_src);
	hvi(dir)->xs_unwatch(dir->hv, dev->fe_path, dev->fe_token);
	vd_ratelimit_forget_guest(dev->domid);
	vd_log_guest_remove(dev->domid);
	dir->ndevices--;
	dev_release(dev);
}

static void dev_remove(struct vd_xbdev **slot, const char *why)
{
	struct vd_xbdev *dev = *slot;

	vd_log_dom(dev->domid, LOG_INFO, "%s (dom%u) %s %u: %s, released", dev->name, dev->domid,
		   dev->dir->ops->label, dev->devid, why);
	*slot = dev->next;
	dev_free(dev);
}

/* The frontend path the toolstack wrote must be the guest's own device dir. */
static int check_fe_path(struct vd_xbdev *dev)
{
	char want[128];

	snprintf(want, sizeof(want), "/local/domain/%u/device/%s/%u", dev->domid,
		 dev->dir->ops->fe_kind, dev->devid);
	return strcmp(dev->fe_path, want) == 0 ? 0 : -EINVAL;
}

static void dev_start(struct vd_xbdev *dev)
{
	int s;

	if (dev->dir->ops->start)
		dev->dir->ops->start(dev);
	s = read_state(dev->dir, dev->be_path);
	/* Found Connected (or mid-way) from an earlier run: make the frontend start over. */
	dev->await_reinit = s > XenbusStateInitWait && s != XenbusStateClosed;
	dev->fe_state = read_state(dev->dir, dev->fe_path);
	set_state(dev, XenbusStateInitWait);
	vd_log_dom(dev->domid, LOG_INFO, "%s (dom%u) %s %u: %s, backend InitWait", dev->name,
		   dev->domid, dev->dir->ops->label, dev->devid,
		   dev->await_reinit ? "reconnecting after a restart" : "new device");
}

static int dev_init(struct vd_xbdev *dev)
{
	struct vd_xbdir *dir = dev->dir;
	char path[256];

	if (asprintf(&dev->be_path, "%s/%u/%u", dir->root, dev->domid, dev->devid) < 0) {
		dev->be_path = NULL;
		return -ENOMEM;
	}
	snprintf(path, sizeof(path), "%s/frontend", dev->be_path);
	dev->fe_path = read_str(dir, path);
	if (!dev->fe_path || check_fe_path(dev) < 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "/local/domain/%u/name", dev->domid);
	dev->name = read_str(dir, path);
	if (!dev->name && asprintf(&dev->name, "dom%u", dev->domid) < 0) {
		dev->name = NULL;
		return -ENOMEM;
	}
	snprintf(dev->fe_token, sizeof(dev->fe_token), "%s:%u:%u", dir->ops->token, dev->domid,
		 dev->devid);
	return hvi(dir)->gnt_open(dir->hv, &dev->gnt);
}

static int dev_new(struct vd_xbdir *dir, uint32_t domid, uint32_t devid)
{
	struct vd_xbdev *dev;
	int r;

	r = dir->ops->create(dir, &dev);
	if (r < 0)
		return r;
	dev->dir = dir;
	dev->domid = domid;
	dev->devid = devid;
	dev->be_state = -1;
	r = dev_init(dev);
	if (r < 0) {
		dev_release(dev);
		return r;
	}
	dev->next = dir->devs;
	dir->devs = dev;
	dir->ndevices++;
	vd_log_guest_add(domid, dev->name); /* its log-level from here on */
	dev_start(dev);
	/* The whole frontend directory: fires at once, then on every change under it. */
	r = hvi(dir)->xs_watch(dir->hv, dev->fe_path, dev->fe_token);
	if (r < 0)
		vd_err("dom%u: cannot watch %s: %s", domid, dev->fe_path, strerror(-r));
	return 0;
}

/* ---- discovery ---- */

/* Look at backend/<kind>/<domid>/<devid>: new, gone, or a state change. */
static void scan_dev(struct vd_xbdir *dir, uint32_t domid, uint32_t devid)
{
	struct vd_xbdev **slot = find_dev(dir, domid, devid);
	char path[256], *val;
	bool exists;

	snprintf(path, sizeof(path), "%s/%u/%u/frontend", dir->root, domid, devid);
	val = read_str(dir, path);
	exists = val != NULL;
	free(val);
	if (*slot && !exists)
		dev_remove(slot, "backend directory removed");
	else if (*slot)
		on_be_state(*slot);
	else if (exists && hvi(dir)->domain_alive(dir->hv, domid) == 1)
		dev_new(dir, domid, devid);
}

static void scan_domain(struct vd_xbdir *dir, uint32_t domid)
{
	char path[256], **list = NULL;
	unsigned n = 0;
	uint32_t devid;

	snprintf(path, sizeof(path), "%s/%u", dir->root, domid);
	if (hvi(dir)->xs_directory(dir->hv, VD_XS_NO_TXN, path, &list, &n) < 0)
		n = 0;
	for (unsigned i = 0; i < n; i++)
		if (vd_parse_u32(list[i], &devid) == 0)
			scan_dev(dir, domid, devid);
	vd_hv_free_list(list, n);
}

/* Devices whose backend directory vanished while we were not looking. */
static void drop_missing(struct vd_xbdir *dir)
{
	struct vd_xbdev **p = &dir->devs;
	char path[256], *val;

	while (*p) {
		snprintf(path, sizeof(path), "%s/frontend", (*p)->be_path);
		val = read_str(dir, path);
		if (!val) {
			dev_remove(p, "backend directory removed");
			continue;
		}
		free(val);
		p = &(*p)->next;
	}
}

static void scan_all(struct vd_xbdir *dir)
{
	char **list = NULL;
	unsigned n = 0;
	uint32_t domid;

	drop_missing(dir);
	if (hvi(dir)->xs_directory(dir->hv, VD_XS_NO_TXN, dir->root, &list, &n) < 0)
		n = 0;
	for (unsigned i = 0; i < n; i++)
		if (vd_parse_u32(list[i], &domid) == 0)
			scan_domain(dir, domid);
	vd_hv_free_list(list, n);
}

/* A change under backend/<kind>: work on the device it names, if any. */
static void on_root_event(struct vd_xbdir *dir, const char *path)
{
	size_t len = strlen(dir->root);
	uint32_t domid, devid;
	char rest[64];

	if (strncmp(path, dir->root, len) != 0 || path[len] != '/' ||
	    sscanf(path + len, "/%" SCNu32 "/%" SCNu32 "%63s", &domid, &devid, rest) < 2) {
		scan_all(dir);
		return;
	}
	scan_dev(dir, domid, devid);
}

static void on_release_domain(struct vd_xbdir *dir)
{
	struct vd_xbdev **p = &dir->devs;

	while (*p) {
		if (hvi(dir)->domain_alive(dir->hv, (*p)->domid) == 0) {
			dev_remove(p, "domain is gone");
			continue;
		}
		p = &(*p)->next;
	}
}

static void on_fe_event(struct vd_xbdir *dir, const char *token)
{
	size_t len = strlen(dir->ops->token);
	uint32_t domid, devid;
	struct vd_xbdev *dev;

	if (strncmp(token, dir->ops->token, len) != 0 ||
	    sscanf(token + len, ":%" SCNu32 ":%" SCNu32, &domid, &devid) != 2)
		return;
	dev = *find_dev(dir, domid, devid);
	if (dev)
		dev_update(dev);
}

static int on_xs_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct vd_xbdir *dir = userdata;
	char *path, *token;

	/* Bounded: a flood of watch events yields to the rest of the loop. */
	for (int i = 0; i < 256; i++) {
		if (hvi(dir)->xs_read_watch(dir->hv, &path, &token) < 0)
			break;
		if (strcmp(token, dir->ops->be_kind) == 0)
			on_root_event(dir, path);
		else if (strcmp(token, TOKEN_RELEASE) == 0)
			on_release_domain(dir);
		else
			on_fe_event(dir, token);
		free(path);
		free(token);
	}
	return 0;
}

int vd_xbdir_init(struct vd_xbdir *dir, sd_event *loop, struct vd_hv *hv,
		  const struct vd_xbdev_ops *ops)
{
	int r;

	dir->ops = ops;
	dir->loop = loop;
	dir->hv = hv;
	if (asprintf(&dir->root, "/local/domain/%u/backend/%s", hvi(dir)->own_domid(hv),
		     ops->be_kind) < 0) {
		dir->root = NULL;
		return -ENOMEM;
	}
	r = sd_event_add_io(loop, &dir->xs_src, hvi(dir)->xs_watch_fd(hv), EPOLLIN, on_xs_event,
			    dir);
	if (r >= 0)
		r = hvi(dir)->xs_watch(hv, dir->root, ops->be_kind);
	if (r >= 0)
		r = hvi(dir)->xs_watch(hv, "@releaseDomain", TOKEN_RELEASE);
	if (r < 0)
		return r;
	/* Devices that exist already are picked up now, not at the first event. */
	scan_all(dir);
	return 0;
}

void vd_xbdir_finish(struct vd_xbdir *dir)
{
	while (dir->devs) {
		struct vd_xbdev *dev = dir->devs;

		dir->devs = dev->next;
		teardown(dev);
		set_state(dev, XenbusStateClosed);
		dev_free(dev);
	}
	if (dir->root) {
		hvi(dir)->xs_unwatch(dir->hv, dir->root, dir->ops->be_kind);
		hvi(dir)->xs_unwatch(dir->hv, "@releaseDomain", TOKEN_RELEASE);
	}
	dir->xs_src = sd_event_source_disable_unref(dir->xs_src);
	free(dir->root);
	dir->root = NULL;
}
