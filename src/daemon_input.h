/* SPDX-License-Identifier: MIT */
/* The daemon's input part: a source, the router, and their view of the guests. */
#ifndef VD_DAEMON_INPUT_H
#define VD_DAEMON_INPUT_H

#include <systemd/sd-event.h>

#include "input/kbdback.h"
#include "input/router.h"
#include "input/source.h"
#include "output/output.h"
#include "xenbus/backend.h"

struct vd_config;
struct vd_dinput;

/*
 * The router's view of the guests follows kb, be and out by their change
 * listeners (vd_kbdback_on_change, vd_backend_on_change,
 * vd_output_add_layout_listener), which the dinput takes until it is
 * destroyed; the configuration by vd_dinput_changed.
 */
struct vd_dinput_deps {
	sd_event *loop;
	struct vd_kbdback *kb;
	struct vd_backend *be; /* the guests' connectors, for their place in the layout; or NULL */
	/* Where the connectors are (its layout listener), its own input ("wayland"); or NULL */
	struct vd_output *out;
	/* The configuration in effect now (it changes on reload). */
	const struct vd_config *(*config)(void *userdata);
	void *config_userdata;
};

/*
 * kind: "libinput" (on seat), "wayland" (the compositor's seat, from the
 * Wayland output), "script" (fed by the caller, tests), or "none" (the
 * router only). Borrows everything in deps.
 */
int vd_dinput_create(const struct vd_dinput_deps *deps, const char *kind, const char *seat,
		     struct vd_dinput **ret_di);
void vd_dinput_destroy(struct vd_dinput *di); /* NULL ok */
struct vd_router *vd_dinput_router(struct vd_dinput *di);
/*
 * Give the input focus to guest (its domain name or "domN") among those
 * taking input (a connected vkb): its domid and name ("" unknown) in the
 * ret_ values. -ENOENT if no such guest takes input.
 */
int vd_dinput_focus(struct vd_dinput *di, const char *guest, uint32_t *ret_domid, char *name,
		    size_t size);
/* The guest with the focus: its domid and name ("" unknown), or VD_ROUTER_NO_FOCUS. */
uint32_t vd_dinput_focused(struct vd_dinput *di, char *name, size_t size);
/* What the status shows of the input. Strings borrowed from di. */
struct vd_dinput_status {
	const char *source; /* the kind given to vd_dinput_create */
	const char *seat;   /* libinput's seat; NULL for other sources */
	struct vd_router_stats router;
	struct vd_kbdback_stats vkb;
};
void vd_dinput_get_status(struct vd_dinput *di, struct vd_dinput_status *ret);
/* The vkb backend the router delivers to. Borrowed. */
struct vd_kbdback *vd_dinput_kbdback(struct vd_dinput *di);
/* The scripted source when kind was "script", else NULL. Borrowed. */
struct vd_input_source *vd_dinput_script(struct vd_dinput *di);
/*
 * Something the router's view depends on changed, beyond what the
 * listeners tell (the configuration: call it after a reload). The router is
 * brought up to date once, from the loop, before the next input event.
 * Cheap, any number of times; NULL ok.
 */
void vd_dinput_changed(struct vd_dinput *di);

#endif
