/* SPDX-License-Identifier: MIT */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <systemd/sd-event.h>

#include "config.h"
#include "daemon_input.h"
#include "hv/hv.h"
#include "input/kbdback.h"
#include "log.h"
#include "output/output.h"
#include "readiness.h"
#include "service.h"
#include "simfront/simfront.h"
#include "simkbd/simkbd.h"
#include "xenbus/backend.h"

#define MAX_SIM_GUESTS 64u
/* How often systemd's STATUS= is brought up to date. */
#define STATUS_NOTIFY_US (5u * 1000000u)

/* Flips per second between two samples of one consumer of the status line. */
struct status_rate {
	uint64_t flips, at_us;
};

struct daemon {
	const struct vd_daemon_opts *opts;
	sd_event *loop;
	struct vd_hv *hv;
	struct vd_output *out;
	struct vd_backend *be;
	struct vd_kbdback *kb; /* vkb devices (input) */
	struct vd_dinput *input;
	struct vd_service *svc;
	struct vd_simfront *guests[MAX_SIM_GUESTS];
	struct vd_simkbd *kbds[MAX_SIM_GUESTS]; /* --sim-vkb */
	uint32_t nguests;
	uint64_t start_us;
	struct status_rate log_rate, notify_rate; /* the status line's flips/s, per consumer */
	bool announced; /* the readiness node is written */
};

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct daemon *d = userdata;

	vd_notice("%s: shutting down", strsignal((int)si->ssi_signo));
	return sd_event_exit(d->loop, 0);
}

static int on_run_for(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	return sd_event_exit(d->loop, 0);
}

struct guest_count {
	uint32_t domids[64];
	uint32_t n; /* distinct domids, counted past 64 too (then approximately) */
};

static void count_guest(void *userdata, const struct vd_dev_info *info)
{
	struct guest_count *c = userdata;

	for (uint32_t i = 0; i < c->n && i < 64; i++)
		if (c->domids[i] == info->domid)
			return;
	if (c->n < 64)
		c->domids[c->n] = info->domid;
	c->n++;
}

/*
 * The status line, without its "status: " prefix: in the log every
 * status-interval and in systemd's STATUS= (systemctl status).
 */
static void status_text(struct daemon *d, struct status_rate *rate, char *buf, size_t size)
{
	struct guest_count guests = {.n = 0};
	struct vd_backend_stats st;
	uint64_t now = vd_now_us();
	double dt = (double)(now - rate->at_us) / 1e6;

	vd_backend_get_stats(d->be, &st);
	vd_backend_foreach_device(d->be, count_guest, &guests);
	snprintf(buf, size,
		 "%u guest(s), %u device(s), %u connected (%u zero-copy, %u grant-mapped), "
		 "%.1f flips/s, %llu events, %llu errors, %u buffer(s) awaiting release "
		 "(%u past deadline)",
		 guests.n, st.devices, st.connected, st.zero_copy, st.copy_only,
		 dt > 0 && st.flips >= rate->flips ? (double)(st.flips - rate->flips) / dt : 0.0,
		 (unsigned long long)st.events, (unsigned long long)st.errors, st.gates.waiting,
		 st.gates.retrying);
	rate->flips = st.flips;
	rate->at_us = now;
}

static int on_status(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;
	char text[512];

	status_text(d, &d->log_rate, text, sizeof(text));
	vd_info("status: %s", text);
	sd_event_source_set_time_relative(s, (uint64_t)d->opts->status_interval_s * 1000000u);
	return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* systemd's STATUS=, whatever status-interval says: `systemctl status` shows it. */
static int on_notify_status(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;
	char text[512];

	status_text(d, &d->notify_rate, text, sizeof(text));
	vd_service_set_status(d->svc, text);
	sd_event_source_set_time_relative(s, STATUS_NOTIFY_US);
	return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static int add_timers(struct daemon *d)
{
	int r = 0;

	if (d->opts->run_for_s)
		r = sd_event_add_time_relative(d->loop, NULL, CLOCK_MONOTONIC,
					       (uint64_t)d->opts->run_for_s * 1000000u, 0,
					       on_run_for, d);
	if (r >= 0 && d->opts->status_interval_s)
		r = sd_event_add_time_relative(d->loop, NULL, CLOCK_MONOTONIC,
					       (uint64_t)d->opts->status_interval_s * 1000000u,
					       0, on_status, d);
	/* Under systemd only (NOTIFY_SOCKET): no wake-ups for nobody. The first after 1 s of flips. */
	if (r >= 0 && getenv("NOTIFY_SOCKET"))
		r = sd_event_add_time_relative(d->loop, NULL, CLOCK_MONOTONIC, 1000000u, 0,
					       on_notify_status, d);
	if (r >= 0)
		r = sd_event_add_signal(d->loop, NULL, SIGTERM | SD_EVENT_SIGNAL_PROCMASK, on_signal,
					d);
	if (r >= 0)
		r = sd_event_add_signal(d->loop, NULL, SIGINT | SD_EVENT_SIGNAL_PROCMASK, on_signal,
					d);
	return r;
}

static void print_kbd_event(const struct vd_simkbd_event *e)
{
	static const char mt[] = "dums"; /* XENKBD_MT_EV_DOWN, _UP, _MOTION, _SYN */

	switch (e->type) {
	case XENKBD_TYPE_KEY: printf(" K%u%c", e->keycode, e->pressed ? '+' : '-'); break;
	case XENKBD_TYPE_MOTION: printf(" M%d,%d,%d", e->x, e->y, e->z); break;
	case XENKBD_TYPE_POS: printf(" P%d,%d,%d", e->x, e->y, e->z); break;
	case XENKBD_TYPE_MTOUCH:
		printf(" T%u%c%d,%d", e->contact, e->mt_ev < 4 ? mt[e->mt_ev] : '?', e->x, e->y);
		break;
	default: printf(" ?%u", e->type); break;
	}
}

/* A vkb like xl's vkb=["backend-type=linux"], absolute pointer and touch as big as the screen. */
static int start_sim_vkb(struct daemon *d, uint32_t i)
{
	struct vd_simkbd_opts ko = {
		.domid = vd_simfront_domid(d->guests[i]),
		.abs_pointer = true,
		.multi_touch = true,
		.width = d->opts->sim_width,
		.height = d->opts->sim_height,
		.mt_width = d->opts->sim_width,
		.mt_height = d->opts->sim_height,
		.mt_contacts = 10,
	};
	char name[32];
	int r;

	snprintf(name, sizeof(name), "sim-vkb-%u", i + 1);
	r = vd_simkbd_create(d->hv, d->loop, name, &ko, &d->kbds[i]);
	if (r < 0)
		vd_err("cannot start simulated vkb %s: %s", name, strerror(-r));
	return r;
}

/* What each simulated vkb received, one line per guest (tests read it). */
static void report_sim_vkb(struct daemon *d)
{
	for (uint32_t i = 0; i < d->nguests; i++) {
		const struct vd_simkbd_event *ev;
		struct vd_simkbd_stats st;
		uint32_t n;

		if (!d->kbds[i])
			continue;
		n = vd_simkbd_events(d->kbds[i], &ev);
		vd_simkbd_get_stats(d->kbds[i], &st);
		printf("sim-vkb dom%u: events=%llu crashes=%llu violations=%llu:",
		       vd_simkbd_domid(d->kbds[i]), (unsigned long long)st.events,
		       (unsigned long long)st.crashes, (unsigned long long)st.violations);
		for (uint32_t k = 0; k < n; k++)
			print_kbd_event(&ev[k]);
		putchar('\n');
	}
	fflush(stdout);
}

static int start_sim_guests(struct daemon *d)
{
	const struct vd_daemon_opts *o = d->opts;
	struct vd_simfront_opts so = {
		.nconn = o->sim_connectors,
		.width = o->sim_width,
		.height = o->sim_height,
		.frames = o->sim_frames,
		.get_edid = o->sim_get_edid,
		.be_alloc = o->sim_be_alloc,
		.span = o->sim_span,
		.churn = o->sim_churn,
		.fourcc = o->sim_fourcc,
	};

	if (o->sim_guests > MAX_SIM_GUESTS)
		return -E2BIG;
	for (uint32_t i = 0; i < o->sim_guests; i++) {
		char name[32];
		int r;

		snprintf(name, sizeof(name), "sim-guest-%u", i + 1);
		r = vd_simfront_create(d->hv, d->loop, name, &so, &d->guests[i]);
		if (r < 0) {
			vd_err("cannot start simulated guest %s: %s", name, strerror(-r));
			return r;
		}
		d->nguests++;
		if (o->sim_vkb)
			r = start_sim_vkb(d, i);
		if (r < 0)
			return r;
	}
	return 0;
}

static const struct vd_config *current_config(void *userdata)
{
	return vd_service_config(userdata);
}

/* A reloaded configuration: the guests' input settings (hotkeys, devices) at once. */
static void on_reload(void *userdata)
{
	struct daemon *d = userdata;

	vd_dinput_changed(d->input);
}

static int start_input(struct daemon *d)
{
	const struct vd_daemon_opts *o = d->opts;
	const struct vd_config *cfg = vd_service_config(d->svc);
	struct vd_dinput_deps deps = {
		.loop = d->loop,
		.kb = d->kb,
		.be = d->be,
		.out = d->out,
		.config = current_config,
		.config_userdata = d->svc,
	};
	const char *kind = o->input ? o->input : cfg->global.input_source;

	const char *seat = o->seat ? o->seat : cfg->global.seat;
	int r;

	if (strcmp(kind, "auto"))
		return vd_dinput_create(&deps, kind, seat, &d->input);
	/* auto: displays without input are still useful; an explicit choice must work. */
	if (!strcmp(o->output, "kms") || !strcmp(o->output, "wayland")) {
		r = vd_dinput_create(&deps, !strcmp(o->output, "kms") ? "libinput" : "wayland",
				     seat, &d->input);
		if (r >= 0)
			return r;
		vd_warn("input: continuing without input devices");
	}
	return vd_dinput_create(&deps, "none", seat, &d->input);
}

/* Where to look when the hypervisor cannot be opened: the usual causes. */
static void hv_hint(const char *hypervisor)
{
	if (!strcmp(hypervisor, "xen"))
		vd_notice("is this Dom0 or a driver domain (/dev/xen/xenbus, /dev/xen/gntdev)? "
			  "is xenstored running? (--hypervisor sim runs without Xen, with "
			  "simulated guests)");
	else if (!strcmp(hypervisor, "simhost"))
		vd_notice("is vdispl-simhost running on that socket? (--sim-socket, "
			  "$VDISPL_SIM_SOCKET)");
}

/*
 * Guests' buffers hold fds: take the hard limit (no select() here), and
 * size the global fd cap from it (docs/resources.md). The unit sets both.
 */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
		vd_debug("fd limit raised to %llu", (unsigned long long)rl.rlim_cur);
}

static int setup(struct daemon *d)
{
	const struct vd_daemon_opts *o = d->opts;
	struct vd_output_opts oo = {
		.force_copy = o->force_copy,
		.refresh_mhz = o->refresh_mhz,
		.capture_dir = o->capture_dir,
		.capture_interval_ms = 1000,
		.drm_device = o->drm_device,
	};
	struct vd_backend_opts bo = VD_BACKEND_OPTS_DEFAULT;
	int r;

	raise_fd_limit();
	if (o->capture_dir && mkdir(o->capture_dir, 0755) < 0 && errno != EEXIST) {
		vd_err("cannot create capture directory %s: %m", o->capture_dir);
		return -errno;
	}
	r = vd_hv_create(o->hypervisor, &d->hv);
	if (r < 0) {
		vd_err("cannot open hypervisor \"%s\": %s", o->hypervisor, strerror(-r));
		hv_hint(o->hypervisor);
		return r;
	}
	r = vd_output_create(o->output, d->loop, &oo, &d->out);
	if (r < 0) {
		vd_err("cannot create output \"%s\": %s", o->output, strerror(-r));
		return r;
	}
	r = vd_service_create(d->loop, o, &d->svc);
	if (r < 0)
		return r;
	bo.guest_lookup = vd_service_guest_lookup;
	bo.guest_lookup_userdata = d->svc;
	vd_config_apply_limits(vd_service_config(d->svc), &bo.limits);
	r = vd_backend_create(d->loop, d->hv, d->out, &bo, &d->be);
	if (r < 0) {
		vd_err("cannot start the vdispl backend: %s", strerror(-r));
		return r;
	}
	r = vd_kbdback_create(d->loop, d->hv, &d->kb);
	if (r < 0) {
		vd_err("cannot start the vkb backend: %s", strerror(-r));
		return r;
	}
	r = start_input(d);
	if (r >= 0)
		vd_service_on_reload(d->svc, on_reload, d);
	if (r >= 0 && o->sim_guests && !strcmp(o->hypervisor, "sim"))
		r = start_sim_guests(d);
	if (r >= 0)
		r = add_timers(d);
	return r < 0 ? r : vd_service_start(d->svc, d->be, d->out, d->input);
}

static void summarise(struct daemon *d, struct vd_summary *ret)
{
	struct vd_backend_stats bs = {0};
	struct vd_output_stats os = {0};

	if (d->be)
		vd_backend_get_stats(d->be, &bs);
	if (d->out)
		vd_output_get_stats(d->out, &os);
	*ret = (struct vd_summary){
		.started = ret->started,
		.flips = bs.flips,
		.events = bs.events,
		.copies = os.copies,
		.requests = bs.requests,
		.errors = bs.errors,
		.guests = bs.devices,
		.seconds = (double)(vd_now_us() - d->start_us) / 1e6,
	};
}

/* Guests are told first (backend Closed), then everything is released. */
static void teardown(struct daemon *d)
{
	/* First: a toolstack must not start a guest against a backend going away. */
	if (d->announced)
		vd_readiness_withdraw(d->hv);
	vd_service_destroy(d->svc);
	report_sim_vkb(d);
	vd_dinput_destroy(d->input);
	vd_kbdback_destroy(d->kb);
	vd_backend_destroy(d->be);
	for (uint32_t i = 0; i < d->nguests; i++) {
		vd_simkbd_destroy(d->kbds[i]);
		vd_simfront_destroy(d->guests[i]);
	}
	vd_output_destroy(d->out);
	vd_hv_destroy(d->hv);
	sd_event_unref(d->loop);
}

int vd_daemon_run(const struct vd_daemon_opts *opts, struct vd_summary *ret_summary)
{
	struct daemon d = {.opts = opts};
	int r;

	ret_summary->started = false;
	d.start_us = d.log_rate.at_us = d.notify_rate.at_us = vd_now_us();
	r = sd_event_new(&d.loop);
	if (r < 0) {
		vd_err("cannot create the event loop: %s", strerror(-r));
		return r;
	}
	r = setup(&d);
	if (r >= 0) {
		ret_summary->started = true;
		vd_info("running: hypervisor %s, output %s%s", opts->hypervisor, opts->output,
			opts->force_copy ? " (copy)" : "");
		d.announced = vd_readiness_announce(d.hv) == 0;
		r = sd_event_loop(d.loop);
	}
	summarise(&d, ret_summary);
	teardown(&d);
	return r < 0 ? r : 0;
}
