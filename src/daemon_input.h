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

struct vd_dinput_deps {
	sd_event *loop;
	struct vd_kbdback *kb;
	struct vd_backend *be; /* the guests' connectors, for their place in the layout; or NULL */
	struct vd_output *out; /* for its own input ("wayland"); or NULL */
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
/* The scripted source when kind was "script", else NULL. Borrowed. */
struct vd_input_source *vd_dinput_script(struct vd_dinput *di);

#endif
