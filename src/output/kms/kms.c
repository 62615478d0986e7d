/* SPDX-License-Identifier: MIT */
/*
 * The KMS output: opening the device, becoming its master, the interface
 * table. Heads (kms_head.c), flips and commits (kms_flip.c), composition
 * (kms_compose.c), connectors (kms_conn.c) and framebuffers (kms_fb.c)
 * live next door; kms_priv.h documents the objects.
 */
#include "output/kms/kms_priv.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define MAX_CARDS 16

static const struct vd_output_impl kms_impl;

struct kms_output *kms_output_from(struct vd_output *out)
{
	assert(out->impl == &kms_impl);
	return (struct kms_output *)out;
}

/* The id of property name on a KMS object; 0 if it has none. */
uint32_t kms_prop_id(int fd, uint32_t obj, uint32_t type, const char *name)
{
	drmModeObjectProperties *props = drmModeObjectGetProperties(fd, obj, type);
	uint32_t id = 0;

	if (!props)
		return 0;
	for (uint32_t i = 0; i < props->count_props && !id; i++) {
		drmModePropertyRes *p = drmModeGetProperty(fd, props->props[i]);

		if (p && strcmp(p->name, name) == 0)
			id = p->prop_id;
		drmModeFreeProperty(p);
	}
	drmModeFreeObjectProperties(props);
	return id;
}

static bool has_connected_connector(int fd)
{
	drmModeRes *res = drmModeGetResources(fd);
	bool found = false;

	if (!res)
		return false;
	for (int i = 0; i < res->count_connectors && !found; i++) {
		drmModeConnector *c = drmModeGetConnector(fd, res->connectors[i]);

		found = c && c->connection == DRM_MODE_CONNECTED && c->count_modes > 0;
		drmModeFreeConnector(c);
	}
	drmModeFreeResources(res);
	return found;
}

/* Returns an owned fd of a KMS device that can do atomic, or -errno. */
static int open_card(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);

	drmVersionPtr v;

	if (fd < 0)
		return -errno;
	v = drmGetVersion(fd); /* an ioctl only a DRM device answers */
	drmFreeVersion(v);
	if (!v) {
		close(fd);
		return -ENODEV;
	}
	if (drmSetClientCap(fd, DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1) < 0 ||
	    drmSetClientCap(fd, DRM_CLIENT_CAP_ATOMIC, 1) < 0) {
		close(fd);
		return -EOPNOTSUPP;
	}
	return fd;
}

/* The first /dev/dri/card* with a connected connector. */
static int open_default(char *ret_path, size_t len)
{
	for (int i = 0; i < MAX_CARDS; i++) {
		int fd;

		snprintf(ret_path, len, "/dev/dri/card%d", i);
		fd = open_card(ret_path);
		if (fd < 0)
			continue;
		if (has_connected_connector(fd))
			return fd;
		close(fd);
	}
	return -ENODEV;
}

static int open_device(struct kms_output *out, const char *path)
{
	char buf[64];
	int fd;

	fd = path ? open_card(path) : open_default(buf, sizeof(buf));
	if (fd < 0) {
		vd_err("kms: %s: %s", path ? path : "no /dev/dri/card* with a connected display",
		       path && fd == -ENODEV ? "not a DRM device" : strerror(-fd));
		return fd;
	}
	out->fd = fd;
	if (drmSetMaster(fd) < 0 && !drmIsMaster(fd)) {
		vd_err("kms: %s: cannot become DRM master: %m", path ? path : buf);
		return -EBUSY;
	}
	out->master = true;
	vd_info("kms: using %s", path ? path : buf);
	return 0;
}

static int add_event_source(struct kms_output *out)
{
	return sd_event_add_io(out->loop, &out->drm_source, out->fd, EPOLLIN, kms_on_drm_event,
			       out);
}

/* The output's own exit lines (the core prints the latency). */
static void kms_report(struct vd_output *base)
{
	struct kms_output *out = kms_output_from(base);

	vd_info("kms: %llu page-flip events, %llu watchdog completions, %llu hotplug events, "
		"%llu blocking commits",
		(unsigned long long)out->events, (unsigned long long)out->watchdog_fired,
		(unsigned long long)out->hotplugs, (unsigned long long)out->blocking_commits);
	vd_info("kms: plane use: direct=%llu overlay=%llu composed=%llu",
		(unsigned long long)out->use_direct, (unsigned long long)out->use_overlay,
		(unsigned long long)out->use_composed);
}

/* The core took connectors and fbs down (planes off guest memory); the display goes back. */
static void kms_destroy(struct vd_output *base)
{
	struct kms_output *out = kms_output_from(base);

	if (out->fd >= 0) {
		kms_heads_restore(out);
		kms_zombies_release(out, true);
		kms_heads_finish(out);
		if (out->master)
			drmDropMaster(out->fd);
		close(out->fd);
	}
	sd_event_source_disable_unref(out->drm_source);
	kms_hotplug_finish(out);
	vd_output_finish(base);
	free(out);
}

static const struct vd_output_impl kms_impl = {
	.name = "kms",
	.pacing = VD_PACE_DEVICE,
	.watchdog_us = KMS_WATCHDOG_US,
	.conn_size = sizeof(struct kms_conn),
	.fb_size = sizeof(struct kms_fb),
	.destroy = kms_destroy,
	.conn_init = kms_conn_init,
	.conn_finish = kms_conn_finish,
	.fb_init = kms_fb_init,
	.fb_finish = kms_fb_finish,
	.kick = kms_conn_kick,
	.late = kms_conn_late,
	.buffer_alloc = kms_buffer_alloc,
	.buffer_free = kms_buffer_free,
	.conn_layout = kms_conn_layout,
	.conn_scanout = kms_conn_scanout,
	.conn_get_edid = kms_conn_get_edid,
	.report = kms_report,
};

int vd_output_kms_create(sd_event *loop, const struct vd_output_opts *opts,
			 struct vd_output **ret_out)
{
	struct kms_output *out = calloc(1, sizeof(*out));
	int r;

	if (!out)
		return -ENOMEM;
	out->loop = loop;
	out->fd = -1;
	out->force_copy = opts && opts->force_copy;
	r = vd_output_init(&out->base, &kms_impl, loop, opts);
	if (r >= 0)
		r = open_device(out, opts ? opts->drm_device : NULL);
	if (r >= 0)
		r = kms_heads_init(out);
	if (r >= 0)
		r = add_event_source(out);
	if (r >= 0)
		r = kms_hotplug_init(out);
	if (r < 0) {
		kms_destroy(&out->base);
		return r;
	}
	*ret_out = &out->base;
	return 0;
}
