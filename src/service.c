/* SPDX-License-Identifier: MIT */
#include "service.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "config.h"
#include "control/control.h"
#include "daemon_input.h"
#include "log.h"
#include "notify.h"

struct vd_service {
	sd_event *loop;
	const struct vd_daemon_opts *opts;
	const struct vd_config *cfg; /* in effect: opts->config or owned */
	struct vd_global_conf running; /* as at start: what a reload cannot change */
	struct vd_config *owned;     /* loaded by a reload */
	struct vd_control *ctl;
	struct vd_dinput *input; /* borrowed: the input router's focus; or NULL */
	sd_event_source *hup_src;
	uint32_t reloads;
	uint64_t started_us; /* the daemon's start, about: vdispctl's uptime */
	struct vd_notify reloaded; /* vd_service_on_reload */
	char status[512];          /* STATUS= while serving (vd_service_set_status) */
};

const struct vd_config *vd_service_config(struct vd_service *svc)
{
	return svc->cfg;
}

void vd_service_on_reload(struct vd_service *svc, void (*fn)(void *userdata), void *userdata)
{
	vd_notify_set(&svc->reloaded, fn, userdata);
}

/* vd_log_level_fn: a guest's log-level, from the configuration in effect. */
static int guest_log_level(void *userdata, const char *name)
{
	struct vd_service *svc = userdata;

	return vd_config_guest(svc->cfg, name && name[0] ? name : NULL)->log_level;
}

int vd_service_create(sd_event *loop, const struct vd_daemon_opts *opts,
		      struct vd_service **ret_svc)
{
	struct vd_service *svc = calloc(1, sizeof(*svc));
	int r;

	if (!svc)
		return -ENOMEM;
	svc->loop = loop;
	svc->opts = opts;
	svc->started_us = vd_now_us();
	svc->cfg = opts->config;
	if (!svc->cfg) {
		r = vd_config_new_default(&svc->owned);
		if (r < 0) {
			free(svc);
			return r;
		}
		svc->cfg = svc->owned;
	}
	svc->running = svc->cfg->global;
	snprintf(svc->status, sizeof(svc->status), "Serving");
	vd_log_set_guest_levels(guest_log_level, svc);
	*ret_svc = svc;
	return 0;
}

void vd_service_guest_lookup(void *userdata, uint32_t domid, const char *name,
			     struct vd_guest_settings *inout)
{
	struct vd_service *svc = userdata;
	const struct vd_guest_conf *g = vd_config_guest(svc->cfg, name);

	vd_config_apply_bufs(svc->cfg, g, &inout->bufs);
	/* --copy copies from the CPU mapping: a dma-buf nobody imports only doubles the maps. */
	if (svc->opts->force_copy)
		inout->bufs.zero_copy = false;
	for (uint32_t i = 0; i < VD_CONF_MAX_CONNECTORS && i < VD_BACKEND_MAX_CONNECTORS; i++)
		snprintf(inout->mapping[i], sizeof(inout->mapping[i]), "%s", g->connector[i]);
	vd_log_dom(domid, LOG_INFO, "%s (dom%u): settings from %s", name, domid,
		   g->source[0] ? g->source : "built-in defaults");
}

/* ---- reload ---- */

/* Global settings read once, at start: a reload can only say that a change waits. */
static const char *const restart_keys[] = {
	"hypervisor", "output", "drm-device", "capture-dir", "control-socket", "control-group",
	"copy", "refresh", "status-interval", "input-source", "seat", "cycle-hotkey",
	"focus-follows-pointer", NULL};

/* The command-line option that sets key, or NULL. */
static const char *override_of(const struct vd_daemon_opts *o, const char *key)
{
	const char *opt = NULL;

	for (uint32_t i = 0; i < o->noverrides; i++)
		if (!strcmp(o->overrides[i].key, key))
			opt = o->overrides[i].option;
	return opt;
}

/* Setting names for a message. */
struct names {
	char v[16][80];
	uint32_t n;
};

static void names_add(struct names *l, const char *key, const char *opt)
{
	if (l->n < 16)
		snprintf(l->v[l->n++], sizeof(l->v[0]), opt ? "%s (%s)" : "%s", key, opt);
}

/* "a", "a and b", "a, b and c" */
static const char *names_join(const struct names *l, char *buf, size_t size)
{
	buf[0] = '\0';
	for (uint32_t i = 0; i < l->n; i++) {
		size_t len = strlen(buf);

		snprintf(buf + len, size - len, "%s%s", !i ? "" : i + 1 == l->n ? " and " : ", ",
			 l->v[i]);
	}
	return buf;
}

/*
 * Each restart-only setting the reload changed against the running one
 * (none after a change reverted), and each the file now sets in vain
 * because the command line sets it. file: the file's values, before the
 * command line went over them (cfg).
 */
static void note_restart_only(struct vd_service *svc, const struct vd_global_conf *file,
			      const struct vd_config *cfg)
{
	struct names changed = {0}, ignored = {0};
	char a[300], b[300], list[1024];

	for (const char *const *k = restart_keys; *k; k++) {
		const char *opt = override_of(svc->opts, *k);

		if (opt && !vd_config_global_in_file(cfg, *k))
			continue; /* the command line's, and the file says nothing */
		vd_config_global_value(opt ? file : &cfg->global, *k, a, sizeof(a));
		vd_config_global_value(opt ? &cfg->global : &svc->running, *k, b, sizeof(b));
		if (strcmp(a, b))
			names_add(opt ? &ignored : &changed, *k, opt);
	}
	if (changed.n)
		vd_notice("reload: %s changed: %s at the next restart",
			  names_join(&changed, list, sizeof(list)),
			  changed.n > 1 ? "they take effect" : "it takes effect");
	if (ignored.n)
		vd_notice("reload: the command line sets %s: the file's value%s no effect",
			  names_join(&ignored, list, sizeof(list)), ignored.n > 1 ? "s have" : " has");
}

static void reload(struct vd_service *svc)
{
	struct vd_global_conf file;
	struct vd_config *cfg;
	int r;

	sd_notify(0, "RELOADING=1\nSTATUS=Reloading the configuration");
	r = vd_config_load(svc->opts->config_path, svc->opts->config_required, NULL, NULL, &cfg);
	/* The command line still wins (checked at start: cannot fail but for a group gone since) */
	if (r >= 0) {
		file = cfg->global;
		if (vd_config_override(cfg, svc->opts->overrides, svc->opts->noverrides, NULL,
				       NULL) < 0) {
			vd_config_free(cfg);
			r = -EINVAL;
		}
	}
	/* Each error above names its file and line: a guest file's as much as the main one's. */
	if (r < 0) {
		vd_err("reload: the configuration has errors (above): keeping the previous "
		       "configuration");
	} else {
		note_restart_only(svc, &file, cfg);
		vd_config_free(svc->owned);
		svc->cfg = svc->owned = cfg;
		svc->reloads++;
		vd_log_set_guest_levels(guest_log_level, svc); /* each guest's log-level at once */
		vd_notice("reload: configuration %s loaded (%u guest file(s)); new guests and "
			  "reconnects use it",
			  cfg->found ? cfg->path : "(defaults)", cfg->nguests);
		vd_notify(&svc->reloaded);
	}
	sd_notifyf(0, "READY=1\nSTATUS=%s", svc->status);
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	reload(userdata);
	return 0;
}

/* ---- start / stop ---- */

static const struct vd_config *current_config(void *userdata)
{
	struct vd_service *svc = userdata;

	return svc->cfg;
}

static int focus_get(void *userdata, uint32_t *ret_domid, char *name, size_t size)
{
	struct vd_service *svc = userdata;
	uint32_t domid = vd_dinput_focused(svc->input, name, size);

	if (domid == VD_ROUTER_NO_FOCUS)
		return -ENOENT;
	*ret_domid = domid;
	return 0;
}

static int focus_set(void *userdata, const char *guest, uint32_t *ret_domid, char *name,
		     size_t size)
{
	struct vd_service *svc = userdata;

	return vd_dinput_focus(svc->input, guest, ret_domid, name, size);
}

static void start_control(struct vd_service *svc, struct vd_backend *be, struct vd_output *out)
{
	const struct vd_daemon_opts *o = svc->opts;
	struct vd_control_env env = {
		.be = be,
		.out = out,
		.hypervisor = o->hypervisor,
		.output = o->output,
		.config = current_config,
		.focus_get = svc->input ? focus_get : NULL,
		.focus_set = svc->input ? focus_set : NULL,
		.userdata = svc,
		.input = svc->input,
		.started_us = svc->started_us,
	};
	int r;

	if (!o->control_socket || !o->control_socket[0])
		return;
	r = vd_control_create(svc->loop, o->control_socket, o->control_group, &env, &svc->ctl);
	/* The displays matter more than the control socket: go on without it. */
	if (r == -EADDRINUSE)
		vd_err("control socket %s: another vdispld is listening: running without control",
		       o->control_socket);
	else if (r < 0)
		vd_err("control socket %s: %s: running without control", o->control_socket,
		       strerror(-r));
}

int vd_service_start(struct vd_service *svc, struct vd_backend *be, struct vd_output *out,
		     struct vd_dinput *input)
{
	int r;

	svc->input = input;
	start_control(svc, be, out);
	r = sd_event_add_signal(svc->loop, &svc->hup_src, SIGHUP | SD_EVENT_SIGNAL_PROCMASK,
				on_sighup, svc);
	if (r < 0)
		return r;
	/* WATCHDOG_USEC from systemd: pinged from the loop, so a stuck loop is noticed. */
	r = sd_event_set_watchdog(svc->loop, true);
	if (r < 0)
		return r;
	sd_notifyf(0, "READY=1\nSTATUS=%s", svc->status);
	return 0;
}

void vd_service_set_status(struct vd_service *svc, const char *text)
{
	snprintf(svc->status, sizeof(svc->status), "%s", text);
	sd_notifyf(0, "STATUS=%s", svc->status);
}

void vd_service_destroy(struct vd_service *svc)
{
	if (!svc)
		return;
	sd_notify(0, "STOPPING=1");
	vd_log_set_guest_levels(NULL, NULL);
	vd_control_destroy(svc->ctl);
	sd_event_source_disable_unref(svc->hup_src);
	vd_config_free(svc->owned);
	free(svc);
}
