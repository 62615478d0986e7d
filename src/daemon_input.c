/* SPDX-License-Identifier: MIT */
/*
 * The daemon's input: the router fed by the chosen source, and the
 * router's view of the guests kept in step with the backends, the
 * output's layout and the configuration.
 *
 * The guests' rectangles come from the output (vd_output_conn_layout of each
 * guest's first connector), never recomputed here. They, the guests'
 * vkb devices and a reloaded configuration change at run time, and each
 * change is told: the kbdback when a vkb connects or goes
 * (vd_kbdback_on_change), the display backend when a device connects or
 * goes or does SET_CONFIG (vd_backend_on_change), the output when any
 * connector's place on the screen may have moved (vd_output_add_layout_listener:
 * KMS placement, hotplug, a display connected later), the daemon after a
 * reload (vd_dinput_changed). A change only enables a defer source; the
 * sync runs once from the loop, however many changes came before it, and
 * walks everything again (cheap: a few guests). It runs at a higher
 * priority than the sources, so no input event is routed by a stale view:
 * a vkb that just connected gets the very next event, a connector that
 * just moved gets the pointer. Nothing changes, nothing runs: no timer.
 */
#include "daemon_input.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

#define MAX_TRACKED VD_ROUTER_MAX_GUESTS

struct vd_dinput {
	struct vd_dinput_deps deps;
	struct vd_router *router;
	sd_event_source *sync; /* defer, ONESHOT when something changed */
	struct vd_listener layout; /* on the output's layout changes */
	struct vd_input_source *script; /* the scripted source, owned by the router; or NULL */
	uint32_t known[MAX_TRACKED];	/* domids given to the router */
	char known_name[MAX_TRACKED][128]; /* their domain names, "" unknown */
	uint32_t nknown;
	char kind[16], seat[64]; /* the source, as created */
	uint32_t seen[MAX_TRACKED]; /* in this sync, by domid */
	char seen_name[MAX_TRACKED][128];
	uint32_t nseen;
};

static bool has(const uint32_t *set, uint32_t n, uint32_t domid)
{
	for (uint32_t i = 0; i < n; i++)
		if (set[i] == domid)
			return true;
	return false;
}

struct placement {
	uint32_t domid;
	bool found;
	struct vd_input_rect rect;
};

static void find_placement(void *userdata, const struct vd_dev_info *info)
{
	struct placement *p = userdata;
	struct vd_output_conn *oc = info->nconn ? info->conns[0].oconn : NULL;
	struct vd_rect r;

	if (p->found || info->domid != p->domid || !oc ||
	    vd_output_conn_layout(oc, &r) < 0 || !r.width || !r.height)
		return;
	p->rect = (struct vd_input_rect){(int32_t)r.x, (int32_t)r.y, r.width, r.height};
	p->found = true;
}

static void guest_config(struct vd_dinput *di, uint32_t domid, const char *name)
{
	const struct vd_config *cfg = di->deps.config(di->deps.config_userdata);
	const struct vd_guest_conf *g = vd_config_guest(cfg, name[0] ? name : NULL);
	const char *rules[VD_CONF_MAX_INPUTS];
	struct vd_hotkey hk = {0, 0};

	for (uint32_t i = 0; i < g->ninputs; i++)
		rules[i] = g->input[i];
	if (g->hotkey[0] && vd_hotkey_parse(g->hotkey, &hk) < 0)
		hk.key = 0; /* the configuration was validated: cannot happen */
	if (vd_router_set_guest_input(di->router, domid, &hk, rules, g->ninputs) < 0)
		vd_log_rl(LOG_WARNING, "input: %s (dom%u): input rules refused", name, domid);
}

/* Kept in domid order: the hotkey cycles in that order, the first has the focus. */
static void collect_guest(void *userdata, uint32_t domid, const char *name)
{
	struct vd_dinput *di = userdata;
	uint32_t i = di->nseen;

	if (has(di->seen, di->nseen, domid) || di->nseen == MAX_TRACKED)
		return;
	for (; i > 0 && di->seen[i - 1] > domid; i--) {
		di->seen[i] = di->seen[i - 1];
		memcpy(di->seen_name[i], di->seen_name[i - 1], sizeof(di->seen_name[i]));
	}
	di->seen[i] = domid;
	snprintf(di->seen_name[i], sizeof(di->seen_name[i]), "%s", name);
	di->nseen++;
}

static void sync_guest(struct vd_dinput *di, uint32_t domid, const char *name)
{
	struct placement p = {.domid = domid};

	if (di->deps.be)
		vd_backend_foreach_device(di->deps.be, find_placement, &p);
	if (vd_router_set_guest(di->router, domid, p.found ? &p.rect : NULL) < 0)
		return;
	if (!has(di->known, di->nknown, domid))
		vd_info("input: %s (dom%u) takes input%s", name, domid,
			p.found ? "" : " (no layout)");
	guest_config(di, domid, name);
}

static void sync_router(struct vd_dinput *di)
{
	di->nseen = 0;
	vd_kbdback_foreach_guest(di->deps.kb, collect_guest, di);
	for (uint32_t i = 0; i < di->nknown; i++)
		if (!has(di->seen, di->nseen, di->known[i])) {
			vd_info("input: dom%u no longer takes input", di->known[i]);
			vd_router_remove_guest(di->router, di->known[i]);
		}
	for (uint32_t i = 0; i < di->nseen; i++)
		sync_guest(di, di->seen[i], di->seen_name[i]);
	memcpy(di->known, di->seen, sizeof(di->known));
	memcpy(di->known_name, di->seen_name, sizeof(di->known_name));
	di->nknown = di->nseen;
	/* All devices feed the focus: the first guest has it until someone moves it. */
	if (vd_router_focused(di->router) == VD_ROUTER_NO_FOCUS && di->nknown)
		vd_router_focus(di->router, di->known[0]);
}

static int on_sync(sd_event_source *s, void *userdata)
{
	sync_router(userdata);
	return 0;
}

void vd_dinput_changed(struct vd_dinput *di)
{
	int r;

	if (!di || !di->sync)
		return;
	r = sd_event_source_set_enabled(di->sync, SD_EVENT_ONESHOT);
	if (r < 0) /* cannot happen with a live loop; the next change tries again */
		vd_log_rl(LOG_ERR, "input: cannot schedule a sync: %s", strerror(-r));
}

static void on_change(void *userdata)
{
	vd_dinput_changed(userdata);
}

static void on_layout(struct vd_listener *l)
{
	vd_dinput_changed(vd_container_of(l, struct vd_dinput, layout));
}

/* The first sync runs at the first loop iteration (a defer source starts ONESHOT). */
static int start_sync(struct vd_dinput *di)
{
	int r = sd_event_add_defer(di->deps.loop, &di->sync, on_sync, di);

	if (r >= 0)
		r = sd_event_source_set_priority(di->sync, SD_EVENT_PRIORITY_IMPORTANT);
	if (r >= 0)
		(void)sd_event_source_set_description(di->sync, "input-sync");
	if (r < 0)
		return r;
	vd_kbdback_on_change(di->deps.kb, on_change, di);
	if (di->deps.be)
		vd_backend_on_change(di->deps.be, on_change, di);
	di->layout.notify = on_layout;
	if (di->deps.out)
		vd_output_add_layout_listener(di->deps.out, &di->layout);
	return 0;
}

static int router_opts(const struct vd_config *cfg, struct vd_router_opts *ro)
{
	*ro = (struct vd_router_opts)VD_ROUTER_OPTS_DEFAULT;
	ro->focus_follows_pointer = cfg->global.focus_follows_pointer;
	return vd_hotkey_parse(cfg->global.cycle_hotkey, &ro->cycle);
}

static int add_source(struct vd_dinput *di, const char *kind, const char *seat)
{
	struct vd_input_source *src = NULL;
	int r;

	if (!strcmp(kind, "libinput"))
		r = vd_input_libinput_create(seat, &src);
	else if (!strcmp(kind, "wayland"))
		r = di->deps.out ? vd_output_input_source(di->deps.out, &src) : -EOPNOTSUPP;
	else if (!strcmp(kind, "script"))
		r = vd_input_script_create(&src);
	else
		return -ENOENT;
	if (r < 0)
		return r;
	r = vd_router_add_source(di->router, src);
	if (r >= 0 && !strcmp(kind, "script"))
		di->script = src;
	return r;
}

int vd_dinput_create(const struct vd_dinput_deps *deps, const char *kind, const char *seat,
		     struct vd_dinput **ret_di)
{
	const struct vd_config *cfg = deps->config(deps->config_userdata);
	struct vd_router_opts ro;
	struct vd_dinput *di;
	int r;

	if (router_opts(cfg, &ro) < 0)
		return -EINVAL;
	di = calloc(1, sizeof(*di));
	if (!di)
		return -ENOMEM;
	di->deps = *deps;
	snprintf(di->kind, sizeof(di->kind), "%s", kind);
	snprintf(di->seat, sizeof(di->seat), "%s", seat ? seat : "seat0");
	r = vd_router_create(deps->loop, deps->kb, &ro, &di->router);
	if (r >= 0 && strcmp(kind, "none"))
		r = add_source(di, kind, seat);
	if (r >= 0)
		r = start_sync(di);
	if (r < 0) {
		vd_err("input: cannot start the %s source: %s", kind, strerror(-r));
		vd_dinput_destroy(di);
		return r;
	}
	*ret_di = di;
	return 0;
}

void vd_dinput_destroy(struct vd_dinput *di)
{
	if (!di)
		return;
	if (di->sync) {
		vd_kbdback_on_change(di->deps.kb, NULL, NULL);
		if (di->deps.be)
			vd_backend_on_change(di->deps.be, NULL, NULL);
		vd_listener_remove(&di->layout);
	}
	sd_event_source_disable_unref(di->sync);
	vd_router_destroy(di->router);
	free(di);
}

/* A change told and not yet seen by the router: see it now (a request must not race it). */
static void sync_pending(struct vd_dinput *di)
{
	int state = SD_EVENT_OFF;

	if (!di->sync || sd_event_source_get_enabled(di->sync, &state) < 0 || state == SD_EVENT_OFF)
		return;
	sd_event_source_set_enabled(di->sync, SD_EVENT_OFF);
	sync_router(di);
}

static bool guest_named(struct vd_dinput *di, uint32_t i, const char *guest)
{
	char dom[16];

	snprintf(dom, sizeof(dom), "dom%u", di->known[i]);
	return (di->known_name[i][0] && !strcmp(di->known_name[i], guest)) || !strcmp(dom, guest);
}

int vd_dinput_focus(struct vd_dinput *di, const char *guest, uint32_t *ret_domid, char *name,
		    size_t size)
{
	int r;

	sync_pending(di);
	for (uint32_t i = 0; i < di->nknown; i++) {
		if (!guest_named(di, i, guest))
			continue;
		r = vd_router_focus(di->router, di->known[i]);
		if (r < 0)
			return r;
		vd_info("input: focus on %s%sdom%u%s by request", di->known_name[i],
			di->known_name[i][0] ? " (" : "", di->known[i], di->known_name[i][0] ? ")" : "");
		*ret_domid = di->known[i];
		snprintf(name, size, "%s", di->known_name[i]);
		return 0;
	}
	return -ENOENT;
}

uint32_t vd_dinput_focused(struct vd_dinput *di, char *name, size_t size)
{
	uint32_t focus;

	sync_pending(di);
	focus = vd_router_focused(di->router);
	name[0] = '\0';
	for (uint32_t i = 0; i < di->nknown; i++)
		if (di->known[i] == focus)
			snprintf(name, size, "%s", di->known_name[i]);
	return focus;
}

struct vd_router *vd_dinput_router(struct vd_dinput *di)
{
	return di->router;
}

void vd_dinput_get_status(struct vd_dinput *di, struct vd_dinput_status *ret)
{
	sync_pending(di);
	*ret = (struct vd_dinput_status){
		.source = di->kind,
		.seat = !strcmp(di->kind, "libinput") ? di->seat : NULL,
	};
	vd_router_get_stats(di->router, &ret->router);
	vd_kbdback_get_stats(di->deps.kb, &ret->vkb);
}

struct vd_kbdback *vd_dinput_kbdback(struct vd_dinput *di)
{
	return di->deps.kb;
}

struct vd_input_source *vd_dinput_script(struct vd_dinput *di)
{
	return di->script;
}
