/* SPDX-License-Identifier: MIT */
/*
 * What makes the daemon a service: the configuration in effect (reloaded
 * on SIGHUP), the per-guest settings the backend asks for, the control
 * socket, and the systemd protocol (READY=1, WATCHDOG=1, RELOADING=1,
 * STOPPING=1).
 */
#ifndef VD_SERVICE_H
#define VD_SERVICE_H

#include <stdint.h>

#include <systemd/sd-event.h>

#include "daemon.h"
#include "daemon_input.h"
#include "output/output.h"
#include "xenbus/backend.h"

struct vd_service;

/* Borrows loop and opts (and opts->config). */
int vd_service_create(sd_event *loop, const struct vd_daemon_opts *opts,
		      struct vd_service **ret_svc);
/* vd_guest_lookup for vd_backend_opts (userdata: the service). */
void vd_service_guest_lookup(void *userdata, uint32_t domid, const char *name,
			     struct vd_guest_settings *inout);
/*
 * The backend is up and existing guests are picked up: open the control
 * socket, feed the watchdog, handle SIGHUP, tell systemd READY=1.
 * Borrows be, out and input (whose router's focus vdispctl shows and
 * moves; NULL: none) until vd_service_destroy.
 */
int vd_service_start(struct vd_service *svc, struct vd_backend *be, struct vd_output *out,
		     struct vd_dinput *input);
/*
 * systemd's STATUS= (what `systemctl status` shows): text now, and again
 * after a reload. One line; cut at 511 bytes.
 */
void vd_service_set_status(struct vd_service *svc, const char *text);
/* STOPPING=1, closes the control socket. NULL ok. Call before the backend goes. */
void vd_service_destroy(struct vd_service *svc);
/* The configuration in effect (replaced by a reload: do not keep it). */
const struct vd_config *vd_service_config(struct vd_service *svc);
/*
 * fn(userdata) after a reload put a new configuration in effect (not after
 * one that failed). One listener; another call replaces it, fn NULL
 * removes it.
 */
void vd_service_on_reload(struct vd_service *svc, void (*fn)(void *userdata), void *userdata);

#endif
