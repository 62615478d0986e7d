/* SPDX-License-Identifier: MIT */
/*
 * The control socket (vdispctl(1)): a unix stream socket served on the
 * daemon's loop. One request per connection, one line:
 *
 *     [json ]status
 *     [json ]guests             (one line each: "domN NAME: ...", for completion)
 *     [json ]screenshot GUEST[:CONNECTOR]
 *     [json ]focus GUEST        (the input router's focus; refused: no such guest)
 *
 * The answer is a line "ok" or "error MESSAGE", then a body (text, or
 * one JSON object with "json"), then the daemon closes the connection.
 * A screenshot comes as a PNG file descriptor (SCM_RIGHTS) with the
 * answer, so the file is written with the client's rights, not ours.
 *
 * Access is the socket file's: root only (0600), or root and one group
 * (0660, control-group).
 */
#ifndef VD_CONTROL_H
#define VD_CONTROL_H

#include <stdint.h>

#include <systemd/sd-event.h>

#include "config.h"
#include "daemon_input.h"
#include "output/output.h"
#include "xenbus/backend.h"

struct vd_control;

/* What the control socket reports on. Borrowed; must outlive the control. */
struct vd_control_env {
	struct vd_backend *be;
	struct vd_output *out;
	const char *hypervisor, *output;
	/* The configuration in effect now (it changes on reload). */
	const struct vd_config *(*config)(void *userdata);
	/*
	 * The input focus, the input router's (NULL: no input). focus_get: the
	 * guest with it, -ENOENT for none. focus_set: give it to guest (a
	 * domain name or "domN"), -ENOENT if no such guest takes input. Both
	 * write its domid and domain name ("" unknown).
	 */
	int (*focus_get)(void *userdata, uint32_t *ret_domid, char *name, size_t size);
	int (*focus_set)(void *userdata, const char *guest, uint32_t *ret_domid, char *name,
			 size_t size);
	void *userdata;
	/* The input (its source, vkb devices, physical devices), or NULL. */
	struct vd_dinput *input;
	uint64_t started_us; /* when the daemon started (CLOCK_MONOTONIC): its uptime */
};

/*
 * Listen on path (a stale socket is replaced, a live one is an error:
 * -EADDRINUSE). group NULL or "": mode 0600; else 0660 and that group.
 */
int vd_control_create(sd_event *loop, const char *path, const char *group,
		      const struct vd_control_env *env, struct vd_control **ret_ctl);
/* Closes every client and removes the socket file. NULL ok. */
void vd_control_destroy(struct vd_control *ctl);

/* ---- internal: render.c ---- */

/* A growable string; on allocation failure it stays truncated and oom is set. */
struct vd_sbuf {
	char *data;
	size_t len, cap;
	bool oom;
};
void vd_sbuf_printf(struct vd_sbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vd_sbuf_json_str(struct vd_sbuf *sb, const char *s); /* quoted and escaped; NULL: null */
void vd_sbuf_free(struct vd_sbuf *sb);

/* Flips per second per connector, sampled once a second. */
struct vd_rate {
	uint32_t domid, devid, idx;
	uint64_t flips;
	double per_s;
};
struct vd_rates {
	struct vd_rate *v;
	uint32_t n;
	uint64_t at_us;
};
void vd_rates_sample(struct vd_rates *rates, struct vd_backend *be);
void vd_rates_free(struct vd_rates *rates);

void vd_render_status(struct vd_sbuf *sb, bool json, const struct vd_control_env *env,
		      const struct vd_rates *rates);
/* render_input.c: the input section (JSON: the ",\"input\":{...}" member). */
void vd_render_input(struct vd_sbuf *sb, bool json, const struct vd_control_env *env);
/* The guests' names: every guest with a vdispl or a vkb device. */
void vd_render_guests(struct vd_sbuf *sb, bool json, const struct vd_control_env *env);

#endif
