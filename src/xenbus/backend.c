/* SPDX-License-Identifier: MIT */
/*
 * Discovery of vdispl frontends and the xenbus state machine of each
 * device (PROTOCOL.md §1.3). The backend reacts to xenstore watches only:
 * one on its backend/vdispl directory, one per device on the frontend's
 * state node, and @releaseDomain.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/xenbus.h>

#include "log.h"
#include "xenbus/xenbus_priv.h"

#define TOKEN_ROOT "vdispl"
#define TOKEN_RELEASE "release"

static const struct vd_hv_impl *hvi(struct vd_backend *be)
{
	return be->hv->impl;
}

static const char *state_name(int s)
{
	static const char *const names[] = {"Unknown",   "Initialising", "InitWait",
					    "Initialised", "Connected",  "Closing",
					    "Closed",    "Reconfiguring", "Reconfigured"};
	return (s >= 0 && s <= 8) ? names[s] : "absent";
}

static char *path_join(const char *a, const char *b)
{
	char *p;

	return asprintf(&p, "%s/%s", a, b) < 0 ? NULL : p;
}

static int read_state(struct vd_backend *be, const char *dir)
{
	char *path = path_join(dir, "state");
	uint32_t v;
	int r;

	if (!path)
		return -ENOMEM;
	r = vd_xs_read_u32(be->hv, VD_XS_NO_TXN, path, &v);
	free(path);
	if (r < 0)
		return -1;
	return v > XenbusStateReconfigured ? -1 : (int)v;
}

static void set_state(struct vd_dev *dev, int state)
{
	char *path = path_join(dev->be_path, "state");

	if (!path)
		return;
	if (vd_xs_printf(dev->be->hv, VD_XS_NO_TXN, path, "%d", state) < 0)
		vd_warn("dom%u: cannot write backend state", dev->domid);
	else
		vd_debug("dom%u dev %u: backend -> %s", dev->domid, dev->devid, state_name(state));
	dev->be_state = state;
	free(path);
}

/* ---- configuration read at connect ---- */

static int read_connector(struct vd_dev *dev, uint32_t i)
{
	struct vd_conn *conn = &dev->conns[i];
	char path[256], *val, tail;
	size_t len;
	unsigned w, h;
	int r;

	snprintf(path, sizeof(path), "%s/%u/" XENDISPL_FIELD_RESOLUTION, dev->fe_path, i);
	r = hvi(dev->be)->xs_read(dev->be->hv, VD_XS_NO_TXN, path, &val, &len);
	if (r < 0)
		return r;
	r = sscanf(val, "%u" XENDISPL_RESOLUTION_SEPARATOR "%u%c", &w, &h, &tail);
	free(val);
	if (r != 2 || w == 0 || h == 0 || w > VD_MAX_DIM || h > VD_MAX_DIM)
		return -EINVAL;
	conn->idx = i;
	conn->width = w;
	conn->height = h;
	snprintf(path, sizeof(path), "%s/%u/" XENDISPL_FIELD_UNIQUE_ID, dev->fe_path, i);
	if (hvi(dev->be)->xs_read(dev->be->hv, VD_XS_NO_TXN, path, &val, &len) >= 0)
		conn->unique_id = val;
	return 0;
}

static int read_config(struct vd_dev *dev)
{
	char path[256];
	uint32_t v;

	snprintf(path, sizeof(path), "%s/" XENDISPL_FIELD_BE_ALLOC, dev->fe_path);
	dev->be_alloc = vd_xs_read_u32(dev->be->hv, VD_XS_NO_TXN, path, &v) == 0 && v == 1;
	snprintf(path, sizeof(path), "%s/" XENDISPL_FIELD_FE_VERSION, dev->fe_path);
	dev->version = (vd_xs_read_u32(dev->be->hv, VD_XS_NO_TXN, path, &v) == 0 && v == 1) ? 1
											      : 2;
	dev->nconn = 0;
	while (dev->nconn < VD_MAX_CONNECTORS && read_connector(dev, dev->nconn) == 0)
		dev->nconn++;
	return dev->nconn ? 0 : -ENODEV;
}

/* ---- connect / teardown ---- */

static void teardown(struct vd_dev *dev)
{
	for (uint32_t i = 0; i < VD_MAX_CONNECTORS; i++) {
		vd_conn_disconnect(&dev->conns[i]);
		free(dev->conns[i].unique_id);
		memset(&dev->conns[i], 0, sizeof(dev->conns[i]));
	}
	vd_bufs_destroy(dev->bufs);
	dev->bufs = NULL;
	dev->nconn = 0;
}

/* The guest's settings as of now: a reloaded configuration applies at the next connect. */
static void apply_settings(struct vd_dev *dev)
{
	struct vd_backend *be = dev->be;
	struct vd_guest_settings gs = {.bufs = be->opts.bufs};

	if (be->opts.guest_lookup)
		be->opts.guest_lookup(be->opts.guest_lookup_userdata, dev->domid, dev->name, &gs);
	gs.bufs.be_alloc = dev->be_alloc;
	dev->bufs_opts = gs.bufs;
	for (uint32_t i = 0; i < VD_MAX_CONNECTORS; i++)
		snprintf(dev->conns[i].mapping, sizeof(dev->conns[i].mapping), "%s", gs.mapping[i]);
}

static int connect_dev(struct vd_dev *dev)
{
	struct vd_backend *be = dev->be;
	int r;

	r = read_config(dev);
	if (r < 0) {
		vd_warn("dom%u: vdispl %u has no valid connector", dev->domid, dev->devid);
		return r;
	}
	apply_settings(dev);
	r = vd_bufs_create(be->hv, dev->domid, be->out, be->gates, &dev->bufs_opts, &dev->bufs);
	for (uint32_t i = 0; r >= 0 && i < dev->nconn; i++)
		r = vd_conn_connect(dev, &dev->conns[i]);
	if (r < 0) {
		teardown(dev);
		return r;
	}
	vd_info("%s (dom%u) vdispl %u connected: %u connector(s), %ux%u, protocol v%d%s",
		dev->name, dev->domid, dev->devid, dev->nconn, dev->conns[0].width,
		dev->conns[0].height, dev->version, dev->be_alloc ? ", be-alloc" : "");
	return 0;
}

static int on_fail(sd_event_source *s, void *userdata)
{
	struct vd_dev *dev = userdata;

	teardown(dev);
	set_state(dev, XenbusStateClosed);
	dev->fail_src = sd_event_source_disable_unref(dev->fail_src);
	return 0;
}

/*
 * A protocol violation: stop serving this device at once, tear it down
 * from the loop (the caller may be inside the ring walk), and go Closed.
 * The device comes back when its frontend re-initialises.
 */
void vd_dev_fail(struct vd_dev *dev, const char *why)
{
	if (dev->failed)
		return;
	dev->failed = true;
	dev->be->stats.protocol_errors++;
	vd_log_rl(LOG_WARNING, "%s (dom%u) vdispl %u: %s: closing the device", dev->name,
		  dev->domid, dev->devid, why);
	if (sd_event_add_defer(dev->be->loop, &dev->fail_src, on_fail, dev) < 0)
		on_fail(NULL, dev);
}

static bool is_up(const struct vd_dev *dev)
{
	return dev->be_state == XenbusStateConnected;
}

/* ---- the state machine ---- */

static void on_fe_initialising(struct vd_dev *dev)
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

static void on_fe_ready(struct vd_dev *dev)
{
	if (dev->be_state != XenbusStateInitWait || dev->await_reinit || dev->failed)
		return;
	if (connect_dev(dev) < 0) {
		set_state(dev, XenbusStateClosed);
		return;
	}
	set_state(dev, XenbusStateConnected);
}

static void on_fe_closed(struct vd_dev *dev)
{
	if (dev->be_state == XenbusStateConnected || dev->be_state == XenbusStateInitialised ||
	    dev->be_state == XenbusStateClosed) {
		teardown(dev);
		if (dev->be_state != XenbusStateClosed)
			set_state(dev, XenbusStateClosed);
		/* The Linux frontend expects InitWait after its removal. */
		set_state(dev, XenbusStateInitWait);
	}
}

static void dev_update(struct vd_dev *dev)
{
	int fe = read_state(dev->be, dev->fe_path);

	if (dev->detaching)
		return;
	if (fe != dev->fe_state)
		vd_debug("dom%u dev %u: frontend %s -> %s", dev->domid, dev->devid,
			 state_name(dev->fe_state), state_name(fe));
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
		on_fe_ready(dev);
		break;
	case XenbusStateClosing:
	case XenbusStateClosed:
		on_fe_closed(dev);
		break;
	case XenbusStateUnknown:
	case -1:
		if (is_up(dev))
			teardown(dev);
		break;
	default:
		break;
	}
	dev->fe_state = fe;
}

/* The toolstack wrote our state node: Closing means detach. */
static void on_be_state(struct vd_dev *dev)
{
	int s = read_state(dev->be, dev->be_path);

	if (s == dev->be_state || s < 0)
		return;
	if (s == XenbusStateClosing || s == XenbusStateClosed) {
		vd_info("%s (dom%u) vdispl %u: detached by the toolstack", dev->name, dev->domid,
			dev->devid);
		dev->detaching = true;
		teardown(dev);
		set_state(dev, XenbusStateClosed);
	} else if (s == XenbusStateInitialising) {
		dev->detaching = false;
		teardown(dev);
		set_state(dev, XenbusStateInitWait);
	}
}

/* ---- devices ---- */

static char *read_str(struct vd_backend *be, const char *path)
{
	char *val;
	size_t len;

	return hvi(be)->xs_read(be->hv, VD_XS_NO_TXN, path, &val, &len) < 0 ? NULL : val;
}

static struct vd_dev **find_dev(struct vd_backend *be, uint32_t domid, uint32_t devid)
{
	struct vd_dev **p = &be->devs;

	while (*p && ((*p)->domid != domid || (*p)->devid != devid))
		p = &(*p)->next;
	return p;
}

static void dev_free(struct vd_dev *dev)
{
	struct vd_backend *be = dev->be;

	teardown(dev);
	dev->fail_src = sd_event_source_disable_unref(dev->fail_src);
	hvi(be)->xs_unwatch(be->hv, dev->fe_path, dev->fe_token);
	hvi(be)->gnt_close(dev->gnt);
	be->stats.devices--;
	free(dev->be_path);
	free(dev->fe_path);
	free(dev->name);
	free(dev);
}

static void dev_remove(struct vd_backend *be, struct vd_dev **slot, const char *why)
{
	struct vd_dev *dev = *slot;

	vd_info("%s (dom%u) vdispl %u: %s, released", dev->name, dev->domid, dev->devid, why);
	*slot = dev->next;
	dev_free(dev);
}

/* The frontend path the toolstack wrote must be the guest's own device dir. */
static int check_fe_path(const char *fe_path, uint32_t domid, uint32_t devid)
{
	char want[128];

	snprintf(want, sizeof(want), "/local/domain/%u/device/vdispl/%u", domid, devid);
	return strcmp(fe_path, want) == 0 ? 0 : -EINVAL;
}

static void dev_start(struct vd_dev *dev)
{
	char *path = path_join(dev->be_path, XENDISPL_FIELD_BE_VERSIONS);
	int s = read_state(dev->be, dev->be_path);

	if (path)
		vd_xs_printf(dev->be->hv, VD_XS_NO_TXN, path, "1,2");
	free(path);
	/* Found Connected (or mid-way) from an earlier run: make the frontend start over. */
	dev->await_reinit = s > XenbusStateInitWait && s != XenbusStateClosed;
	dev->fe_state = read_state(dev->be, dev->fe_path);
	set_state(dev, XenbusStateInitWait);
	vd_info("%s (dom%u) vdispl %u: %s, backend InitWait", dev->name, dev->domid, dev->devid,
		dev->await_reinit ? "reconnecting after a restart" : "new device");
}

static int dev_new(struct vd_backend *be, uint32_t domid, uint32_t devid)
{
	struct vd_dev *dev = calloc(1, sizeof(*dev));
	char path[256];
	int r = -ENOMEM;

	if (!dev)
		return -ENOMEM;
	dev->be = be;
	dev->domid = domid;
	dev->devid = devid;
	dev->be_state = -1;
	if (asprintf(&dev->be_path, "%s/%u/%u", be->root, domid, devid) < 0) {
		dev->be_path = NULL;
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/frontend", dev->be_path);
	dev->fe_path = read_str(be, path);
	r = -EINVAL;
	if (!dev->fe_path || check_fe_path(dev->fe_path, domid, devid) < 0)
		goto fail;
	snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
	dev->name = read_str(be, path);
	if (!dev->name && asprintf(&dev->name, "dom%u", domid) < 0)
		dev->name = NULL;
	r = hvi(be)->gnt_open(be->hv, &dev->gnt);
	if (r < 0 || !dev->name)
		goto fail;
	snprintf(dev->fe_token, sizeof(dev->fe_token), "fe:%u:%u", domid, devid);
	dev->next = be->devs;
	be->devs = dev;
	be->stats.devices++;
	dev_start(dev);
	/* Fires at once and then on every frontend change. */
	r = hvi(be)->xs_watch(be->hv, dev->fe_path, dev->fe_token);
	if (r < 0)
		vd_err("dom%u: cannot watch %s: %s", domid, dev->fe_path, strerror(-r));
	return 0;
fail:
	hvi(be)->gnt_close(dev->gnt);
	free(dev->be_path);
	free(dev->fe_path);
	free(dev->name);
	free(dev);
	return r;
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

/* Look at backend/vdispl/<domid>/<devid>: new, gone, or a state change. */
static void scan_dev(struct vd_backend *be, uint32_t domid, uint32_t devid)
{
	struct vd_dev **slot = find_dev(be, domid, devid);
	char path[256], *val;
	bool exists;

	snprintf(path, sizeof(path), "%s/%u/%u/frontend", be->root, domid, devid);
	val = read_str(be, path);
	exists = val != NULL;
	free(val);
	if (*slot && !exists)
		dev_remove(be, slot, "backend directory removed");
	else if (*slot)
		on_be_state(*slot);
	else if (exists && hvi(be)->domain_alive(be->hv, domid) == 1)
		dev_new(be, domid, devid);
}

static void scan_domain(struct vd_backend *be, uint32_t domid)
{
	char path[256], **list = NULL;
	unsigned n = 0;
	uint32_t devid;

	snprintf(path, sizeof(path), "%s/%u", be->root, domid);
	if (hvi(be)->xs_directory(be->hv, VD_XS_NO_TXN, path, &list, &n) < 0)
		n = 0;
	for (unsigned i = 0; i < n; i++)
		if (parse_u32(list[i], &devid) == 0)
			scan_dev(be, domid, devid);
	vd_hv_free_list(list, n);
}

/* Devices whose backend directory vanished while we were not looking. */
static void drop_missing(struct vd_backend *be)
{
	struct vd_dev **p = &be->devs;
	char path[256], *val;

	while (*p) {
		snprintf(path, sizeof(path), "%s/frontend", (*p)->be_path);
		val = read_str(be, path);
		if (!val) {
			dev_remove(be, p, "backend directory removed");
			continue;
		}
		free(val);
		p = &(*p)->next;
	}
}

static void scan_all(struct vd_backend *be)
{
	char **list = NULL;
	unsigned n = 0;
	uint32_t domid;

	drop_missing(be);
	if (hvi(be)->xs_directory(be->hv, VD_XS_NO_TXN, be->root, &list, &n) < 0)
		n = 0;
	for (unsigned i = 0; i < n; i++)
		if (parse_u32(list[i], &domid) == 0)
			scan_domain(be, domid);
	vd_hv_free_list(list, n);
}

/* A change under backend/vdispl: work on the device it names, if any. */
static void on_root_event(struct vd_backend *be, const char *path)
{
	size_t len = strlen(be->root);
	uint32_t domid, devid;
	char rest[64];

	if (strncmp(path, be->root, len) != 0 || path[len] != '/' ||
	    sscanf(path + len, "/%" SCNu32 "/%" SCNu32 "%63s", &domid, &devid, rest) < 2) {
		scan_all(be);
		return;
	}
	scan_dev(be, domid, devid);
}

static void on_release_domain(struct vd_backend *be)
{
	struct vd_dev **p = &be->devs;

	while (*p) {
		if (hvi(be)->domain_alive(be->hv, (*p)->domid) == 0) {
			dev_remove(be, p, "domain is gone");
			continue;
		}
		p = &(*p)->next;
	}
}

static void on_fe_event(struct vd_backend *be, const char *token)
{
	uint32_t domid, devid;
	struct vd_dev *dev;

	if (sscanf(token, "fe:%" SCNu32 ":%" SCNu32, &domid, &devid) != 2)
		return;
	dev = *find_dev(be, domid, devid);
	if (dev)
		dev_update(dev);
}

static int on_xs_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct vd_backend *be = userdata;
	char *path, *token;

	/* Bounded: a flood of watch events yields to the rest of the loop. */
	for (int i = 0; i < 256; i++) {
		if (hvi(be)->xs_read_watch(be->hv, &path, &token) < 0)
			break;
		if (strcmp(token, TOKEN_ROOT) == 0)
			on_root_event(be, path);
		else if (strcmp(token, TOKEN_RELEASE) == 0)
			on_release_domain(be);
		else
			on_fe_event(be, token);
		free(path);
		free(token);
	}
	return 0;
}

int vd_backend_create(sd_event *loop, struct vd_hv *hv, struct vd_output *out,
		      const struct vd_backend_opts *opts, struct vd_backend **ret_be)
{
	struct vd_backend *be = calloc(1, sizeof(*be));
	int r;

	if (!be)
		return -ENOMEM;
	be->loop = loop;
	be->hv = hv;
	be->out = out;
	be->opts = *opts;
	be->own_domid = hv->impl->own_domid(hv);
	r = asprintf(&be->root, "/local/domain/%u/backend/" XENDISPL_DRIVER_NAME, be->own_domid);
	if (r < 0) {
		free(be);
		return -ENOMEM;
	}
	r = vd_gates_create(loop, &be->gates);
	if (r >= 0)
		r = sd_event_add_io(loop, &be->xs_src, hv->impl->xs_watch_fd(hv), EPOLLIN,
				    on_xs_event, be);
	if (r >= 0)
		r = hv->impl->xs_watch(hv, be->root, TOKEN_ROOT);
	if (r >= 0)
		r = hv->impl->xs_watch(hv, "@releaseDomain", TOKEN_RELEASE);
	if (r < 0) {
		vd_backend_destroy(be);
		return r;
	}
	/* Devices that exist already are picked up now, not at the first event. */
	scan_all(be);
	*ret_be = be;
	return 0;
}

void vd_backend_destroy(struct vd_backend *be)
{
	if (!be)
		return;
	while (be->devs) {
		struct vd_dev *dev = be->devs;

		be->devs = dev->next;
		teardown(dev);
		set_state(dev, XenbusStateClosed);
		dev_free(dev);
	}
	be->hv->impl->xs_unwatch(be->hv, be->root, TOKEN_ROOT);
	be->hv->impl->xs_unwatch(be->hv, "@releaseDomain", TOKEN_RELEASE);
	sd_event_source_disable_unref(be->xs_src);
	vd_gates_destroy(be->gates);
	free(be->root);
	free(be);
}

void vd_backend_get_stats(struct vd_backend *be, struct vd_backend_stats *ret)
{
	*ret = be->stats;
	if (be->gates)
		vd_gates_get_stats(be->gates, &ret->gates);
	ret->connected = ret->zero_copy = ret->copy_only = 0;
	for (struct vd_dev *d = be->devs; d; d = d->next) {
		struct vd_bufs_stats bs;

		ret->connected += d->be_state == XenbusStateConnected;
		if (!d->bufs)
			continue;
		vd_bufs_get_stats(d->bufs, &bs);
		ret->zero_copy += bs.zc == VD_ZC_ON;
		ret->copy_only += bs.zc == VD_ZC_OFF;
	}
}
