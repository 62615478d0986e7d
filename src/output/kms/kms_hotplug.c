/* SPDX-License-Identifier: MIT */
/*
 * Hotplug. A libudev monitor on the kernel's uevent netlink group (it
 * works without udevd, as in an initramfs or a minimal Dom0) reports
 * "drm" change events for our card: HOTPLUG=1 from a driver that saw a
 * display come or go, or a synthetic one (udevadm trigger, or writing
 * "change" to the card's uevent file) asking for a re-probe. Each
 * re-probes the heads' connectors:
 *
 *  - a display that went away is switched off (its CRTC freed); its
 *    guests keep flipping, completed blind at the vblank pace
 *    (kms_flip.c), so they notice nothing;
 *  - a display that came back is probed again (modes, EDID) and gets a
 *    modeset and a composed picture of what its connectors show now;
 *  - a display that was not connected before (no head) becomes a head,
 *    right of the others in the screen coordinates, and takes the guests'
 *    connectors mapped to it (by name, rectangle or unique-id) that were
 *    placed by default meanwhile: they move there with their queued flips
 *    (kms_head.c, kms_conn.c; docs/architecture.md).
 */
#include "output/kms/kms_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libudev.h>

#include "log.h"

static void reprobe(struct kms_output *out, uint64_t t_event)
{
	for (uint32_t i = 0; i < out->nheads; i++) {
		struct kms_head *head = &out->heads[i];
		bool connected = kms_head_probe(head);

		if (!connected && !head->unplugged)
			kms_head_unplug(head);
		else if (connected && head->unplugged)
			kms_head_replug(head);
	}
	kms_heads_add_new(out, t_event);
}

static bool is_our_card(const struct kms_output *out, struct udev_device *dev)
{
	struct stat st;

	return fstat(out->fd, &st) == 0 && udev_device_get_devnum(dev) == st.st_rdev;
}

static int on_uevent(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct kms_output *out = userdata;
	struct udev_device *dev;
	uint64_t t = vd_now_us();

	while ((dev = udev_monitor_receive_device(out->udev_mon))) {
		const char *hp = udev_device_get_property_value(dev, "HOTPLUG");
		const char *subsys = udev_device_get_subsystem(dev);
		const char *action = udev_device_get_action(dev);

		if (subsys && strcmp(subsys, "drm") == 0 && action &&
		    strcmp(action, "change") == 0 && is_our_card(out, dev)) {
			out->hotplugs++;
			vd_info("kms: %s: probing the displays",
				hp && strcmp(hp, "1") == 0 ? "hotplug event" : "change event");
			reprobe(out, t);
		}
		udev_device_unref(dev);
	}
	return 0;
}

int kms_hotplug_init(struct kms_output *out)
{
	int r;

	out->udev = udev_new();
	if (out->udev)
		out->udev_mon = udev_monitor_new_from_netlink(out->udev, "kernel");
	if (!out->udev_mon ||
	    udev_monitor_filter_add_match_subsystem_devtype(out->udev_mon, "drm", NULL) < 0 ||
	    udev_monitor_enable_receiving(out->udev_mon) < 0) {
		vd_warn("kms: no uevent monitor (%m): displays plugged or unplugged go unnoticed");
		kms_hotplug_finish(out);
		return 0;
	}
	r = sd_event_add_io(out->loop, &out->udev_source, udev_monitor_get_fd(out->udev_mon),
			    EPOLLIN, on_uevent, out);
	if (r < 0) {
		vd_warn("kms: cannot watch uevents: %s", strerror(-r));
		kms_hotplug_finish(out);
	}
	return 0;
}

void kms_hotplug_finish(struct kms_output *out)
{
	out->udev_source = sd_event_source_disable_unref(out->udev_source);
	out->udev_mon = udev_monitor_unref(out->udev_mon);
	out->udev = udev_unref(out->udev);
}
