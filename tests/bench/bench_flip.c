/* SPDX-License-Identifier: MIT */
/*
 * The flip path: 1, 4 and 16 guests, one 640x480 XRGB8888 connector each,
 * flipping as fast as their events come back; headless with refresh 0, so
 * a flip completes at the daemon's next loop iteration and what is
 * measured is the daemon, not a vblank.
 *
 * Per flip: the daemon's CPU time, and two latencies from the guest's
 * push of PG_FLIP (before its notify):
 *   daemon latency - until the event is on the event page, seen right
 *                    after the daemon's loop run that put it there;
 *   guest latency  - until the guest's event handler took it. In one
 *                    thread this also waits for other guests' work (each
 *                    draws its next frame), so it grows with the guests.
 * Baseline: a bare event-channel echo through the same loops - a "guest"
 * notifies, a "daemon" source acks and notifies back. That is the floor
 * of any request the daemon answers over the sim hypervisor.
 *
 * bufmode: the same flip loop with 4 guests in each way the daemon can
 * share their buffers with the output - zero-copy (the default), grant
 * mapping (zero_copy off) and copy (--copy) - in rounds that alternate the
 * modes, so each sees the same machine. Baseline: zero-copy.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

#define MAX_GUESTS 16u
#define WIDTH 640u
#define HEIGHT 480u
#define WARMUP_FRAMES 10u
#define CONNECT_TIMEOUT_MS 30000u

struct fl_bench;

struct fl_guest {
	struct fl_bench *b;
	struct vd_simfront *front;
	uint64_t sent_ns; /* push of the outstanding PG_FLIP; 0: none */
	bool on_page;	  /* its event is on the page already */
	uint32_t seen_prod;
};

struct fl_bench {
	struct bench_rig rig;
	struct fl_guest g[MAX_GUESTS];
	uint32_t n;
	bool measuring;
	struct bench_samples lat_daemon, lat_guest;
	uint64_t run_ns, warmup_ns;

	/* the echo baseline */
	struct vd_evtchn *echo_gch, *echo_dch;
	sd_event_source *echo_gsrc, *echo_dsrc;
	uint64_t echo_sent_ns, echo_served, echo_seen_served, echo_rtts;
};

/* ---- what one run measured ---- */

struct fl_window {
	uint64_t wall0, cpu0, dcpu0, disp0, count0;
	double wall_s, daemon_ns, other_ns, dispatches, count; /* per op, but wall_s, count */
	double dcpu_total, other_total, disp_total; /* what the per-op values come from */
};

/* Per-op values of w from its totals. */
static void window_finish(struct fl_window *w)
{
	w->daemon_ns = w->dcpu_total / w->count;
	w->other_ns = w->other_total / w->count;
	w->dispatches = w->disp_total / w->count;
}

/* Add window w to the sum of windows acc. */
static void window_add(struct fl_window *acc, const struct fl_window *w)
{
	acc->wall_s += w->wall_s;
	acc->count += w->count;
	acc->dcpu_total += w->dcpu_total;
	acc->other_total += w->other_total;
	acc->disp_total += w->disp_total;
	if (acc->count > 0)
		window_finish(acc);
}

static void window_open(struct fl_bench *b, struct fl_window *w, uint64_t count)
{
	bench_samples_clear(&b->lat_daemon);
	bench_samples_clear(&b->lat_guest);
	w->count0 = count;
	w->dcpu0 = bench_rig_daemon_cpu(&b->rig);
	w->disp0 = b->rig.daemon_dispatches;
	w->cpu0 = bench_cpu_ns();
	w->wall0 = bench_now_ns();
	b->measuring = true;
}

static void window_close(struct fl_bench *b, struct fl_window *w, uint64_t count)
{
	double dcpu = (double)(bench_rig_daemon_cpu(&b->rig) - w->dcpu0);

	b->measuring = false;
	w->wall_s = (double)(bench_now_ns() - w->wall0) / 1e9;
	w->count = (double)(count - w->count0);
	w->dcpu_total = dcpu;
	w->other_total = (double)(bench_cpu_ns() - w->cpu0) - dcpu;
	w->disp_total = (double)(b->rig.daemon_dispatches - w->disp0);
	if (w->count > 0)
		window_finish(w);
}

static int run_for(struct fl_bench *b, uint64_t ns)
{
	uint64_t end = bench_now_ns() + ns;
	int r = 0;

	while (r >= 0 && bench_now_ns() < end)
		r = bench_rig_step(&b->rig, 10);
	return r;
}

static void report_latencies(struct fl_bench *b, const char *prefix, bool baseline)
{
	static const struct {
		const char *suffix, *base, *what;
		bool daemon;
		double q;
	} lat[] = {
	    {"lat_daemon_p50", "echo.lat_daemon_p50", "push -> event on page, median", true, 0.5},
	    {"lat_daemon_p99", "echo.lat_daemon_p99", "push -> event on page, p99", true, 0.99},
	    {"lat_guest_p50", "echo.lat_guest_p50", "push -> guest took event, median", false, 0.5},
	    {"lat_guest_p99", "echo.lat_guest_p99", "push -> guest took event, p99", false, 0.99},
	};
	char name[64];

	for (size_t i = 0; i < sizeof(lat) / sizeof(lat[0]); i++) {
		struct bench_samples *s = lat[i].daemon ? &b->lat_daemon : &b->lat_guest;

		snprintf(name, sizeof(name), "%s.%s", prefix, lat[i].suffix);
		bench_report(name, (double)bench_samples_quantile(s, lat[i].q) / 1e3, "us",
			     baseline ? NULL : lat[i].base, lat[i].what);
	}
}

/* A flip, or an echo round trip when baseline. */
static void report_window(struct fl_bench *b, const char *prefix, const struct fl_window *w,
			  bool baseline)
{
	const char *op = baseline ? "round trip" : "flip";
	char name[64], what[96];

	snprintf(name, sizeof(name), "%s.daemon_cpu", prefix);
	snprintf(what, sizeof(what), "daemon CPU per %s", op);
	bench_report(name, w->daemon_ns / 1e3, "us", baseline ? NULL : "echo.daemon_cpu", what);
	snprintf(name, sizeof(name), "%s.dispatches", prefix);
	snprintf(what, sizeof(what), "daemon loop dispatches per %s", op);
	bench_report(name, w->dispatches, "n", baseline ? NULL : "echo.dispatches", what);
	snprintf(name, sizeof(name), "%s.other_cpu", prefix);
	snprintf(what, sizeof(what), "guests+harness CPU per %s", op);
	bench_report(name, w->other_ns / 1e3, "us", NULL, what);
	snprintf(name, sizeof(name), "%s.%s", prefix, baseline ? "rtt_per_s" : "flips_per_s");
	snprintf(what, sizeof(what), "%ss per second%s", op, baseline ? "" : ", all guests");
	bench_report(name, w->count / w->wall_s, "1/s", NULL, what);
	report_latencies(b, prefix, baseline);
}

/* ---- the echo baseline ---- */

static int on_echo_daemon(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct fl_bench *b = userdata;
	const struct vd_hv_impl *hv = b->rig.hv->impl;

	hv->evtchn_ack(b->echo_dch);
	b->echo_served++;
	hv->evtchn_notify(b->echo_dch);
	return 0;
}

static void echo_send(struct fl_bench *b)
{
	b->echo_sent_ns = bench_now_ns();
	vd_sim_evtchn_notify(b->echo_gch);
}

static int on_echo_guest(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct fl_bench *b = userdata;

	vd_sim_evtchn_ack(b->echo_gch);
	if (b->measuring)
		bench_samples_add(&b->lat_guest, bench_now_ns() - b->echo_sent_ns);
	b->echo_rtts++;
	echo_send(b);
	return 0;
}

static void echo_after_daemon(void *userdata, uint64_t now)
{
	struct fl_bench *b = userdata;

	if (b->echo_served == b->echo_seen_served)
		return;
	b->echo_seen_served = b->echo_served;
	if (b->measuring)
		bench_samples_add(&b->lat_daemon, now - b->echo_sent_ns);
}

static int echo_open(struct fl_bench *b)
{
	struct vd_hv *hv = b->rig.hv;
	uint32_t domid, port;
	int r;

	r = vd_sim_domain_create(b->rig.sim, "echo", &domid);
	if (r >= 0)
		r = vd_sim_evtchn_alloc_unbound(b->rig.sim, domid, 0, &port, &b->echo_gch);
	if (r >= 0)
		r = hv->impl->evtchn_bind(hv, domid, port, &b->echo_dch);
	if (r >= 0)
		r = sd_event_add_io(b->rig.dloop, &b->echo_dsrc, hv->impl->evtchn_fd(b->echo_dch),
				    EPOLLIN, on_echo_daemon, b);
	if (r >= 0)
		r = sd_event_add_io(b->rig.gloop, &b->echo_gsrc, vd_sim_evtchn_fd(b->echo_gch),
				    EPOLLIN, on_echo_guest, b);
	return r;
}

static void echo_close(struct fl_bench *b)
{
	sd_event_source_disable_unref(b->echo_gsrc);
	sd_event_source_disable_unref(b->echo_dsrc);
	b->rig.hv->impl->evtchn_unbind(b->rig.hv, b->echo_dch);
	vd_sim_evtchn_close(b->rig.sim, b->echo_gch);
}

static int run_echo(struct fl_bench *b)
{
	struct vd_output_opts oo = {.refresh_mhz = 0};
	struct fl_window w = {0};
	int r = bench_rig_init(&b->rig, &oo, NULL);

	if (r < 0)
		return r;
	b->rig.after_daemon = echo_after_daemon;
	b->rig.userdata = b;
	r = echo_open(b);
	if (r >= 0) {
		echo_send(b);
		r = run_for(b, b->warmup_ns);
	}
	if (r >= 0) {
		window_open(b, &w, b->echo_rtts);
		r = run_for(b, b->run_ns);
		window_close(b, &w, b->echo_rtts);
	}
	if (r >= 0 && w.count > 0)
		report_window(b, "echo", &w, true);
	echo_close(b);
	bench_rig_fini(&b->rig);
	return r < 0 ? r : w.count > 0 ? 0 : -EIO;
}

/* ---- guests flipping ---- */

static void on_flip_sent(void *userdata, uint32_t conn)
{
	struct fl_guest *g = userdata;

	g->sent_ns = bench_now_ns();
	g->on_page = false;
}

static void on_flip_done(void *userdata, uint32_t conn)
{
	struct fl_guest *g = userdata;

	if (g->b->measuring && g->sent_ns)
		bench_samples_add(&g->b->lat_guest, bench_now_ns() - g->sent_ns);
	g->sent_ns = 0;
}

/* The daemon produced on this guest's event page: its flip is done, daemon-side. */
static void flips_after_daemon(void *userdata, uint64_t now)
{
	struct fl_bench *b = userdata;

	for (uint32_t i = 0; i < b->n; i++) {
		struct fl_guest *g = &b->g[i];
		struct xendispl_event_page *page = vd_simfront_evt_page(g->front, 0);
		uint32_t prod;

		if (!page)
			continue;
		prod = __atomic_load_n(&page->in_prod, __ATOMIC_ACQUIRE);
		if (prod == g->seen_prod)
			continue;
		g->seen_prod = prod;
		if (g->sent_ns && !g->on_page && b->measuring)
			bench_samples_add(&b->lat_daemon, now - g->sent_ns);
		g->on_page = true;
	}
}

static bool all_warm(void *arg)
{
	struct fl_bench *b = arg;

	for (uint32_t i = 0; i < b->n; i++) {
		struct vd_simfront_stats s;

		vd_simfront_get_stats(b->g[i].front, &s);
		if (s.frames_done < WARMUP_FRAMES)
			return false;
	}
	return true;
}

static int add_guests(struct fl_bench *b, uint32_t n)
{
	for (b->n = 0; b->n < n; b->n++) {
		struct fl_guest *g = &b->g[b->n];
		struct vd_simfront_opts o = {.nconn = 1,
					     .width = WIDTH,
					     .height = HEIGHT,
					     .fourcc = BENCH_XRGB8888,
					     .on_flip_sent = on_flip_sent,
					     .on_flip_done = on_flip_done,
					     .hook_userdata = g};
		char name[32];
		int r;

		*g = (struct fl_guest){.b = b};
		snprintf(name, sizeof(name), "bench%u", b->n);
		r = vd_simfront_create(b->rig.hv, b->rig.gloop, name, &o, &g->front);
		if (r < 0)
			return r;
	}
	return 0;
}

static uint64_t backend_flips(struct fl_bench *b)
{
	struct vd_backend_stats s;

	vd_backend_get_stats(b->rig.be, &s);
	return s.flips;
}

/* n guests flipping in buffer mode m; *w what the run measured (count 0: nothing). */
static int run_guests(struct fl_bench *b, uint32_t n, enum bench_bufmode m, struct fl_window *w)
{
	struct vd_output_opts oo;
	struct vd_backend_opts bo;
	int r;

	bench_bufmode_opts(m, &oo, &bo);
	*w = (struct fl_window){0};
	r = bench_rig_init(&b->rig, &oo, &bo);
	if (r < 0)
		return r;
	b->rig.after_daemon = flips_after_daemon;
	b->rig.userdata = b;
	r = add_guests(b, n);
	if (r >= 0 && !bench_rig_run_until(&b->rig, all_warm, b, CONNECT_TIMEOUT_MS))
		r = -ETIMEDOUT;
	if (r >= 0) {
		window_open(b, w, backend_flips(b));
		r = run_for(b, b->run_ns);
		window_close(b, w, backend_flips(b));
	}
	for (uint32_t i = 0; i < b->n; i++)
		vd_simfront_destroy(b->g[i].front);
	b->n = 0;
	bench_rig_fini(&b->rig);
	return r < 0 ? r : w->count > 0 ? 0 : -EIO;
}

static int run_flips(struct fl_bench *b, uint32_t n)
{
	struct fl_window w;
	char prefix[32];
	int r = run_guests(b, n, BENCH_ZC, &w);

	if (r >= 0) {
		snprintf(prefix, sizeof(prefix), "flip.%ug", n);
		report_window(b, prefix, &w, false);
	}
	return r;
}

int bench_flip(const struct bench_cfg *cfg)
{
	static const uint32_t guests[] = {1, 4, 16};
	static struct fl_bench b; /* large: the guests' state */
	int r;

	memset(&b, 0, sizeof(b));
	b.run_ns = cfg->quick ? 500000000ull : 4000000000ull;
	b.warmup_ns = cfg->quick ? 50000000ull : 200000000ull;
	r = run_echo(&b);
	for (size_t i = 0; r >= 0 && i < sizeof(guests) / sizeof(guests[0]); i++)
		r = run_flips(&b, guests[i]);
	if (r < 0)
		fprintf(stderr, "vdispl-bench: flip: %s\n", strerror(-r));
	bench_samples_free(&b.lat_daemon);
	bench_samples_free(&b.lat_guest);
	return r;
}

/* ---- bufmode: the same flips, zero-copy vs grant-mapped vs copy ---- */

#define BM_GUESTS 4u
#define BM_MODES 3u /* BENCH_ZC, BENCH_MAP, BENCH_COPY */

struct bm_mode {
	struct fl_window w; /* the sum of its rounds */
	struct bench_samples lat;
};

static void samples_append(struct bench_samples *to, const struct bench_samples *from)
{
	for (size_t i = 0; i < from->n; i++)
		bench_samples_add(to, from->v[i]);
}

static void report_bufmode(struct bm_mode *modes)
{
	static const char *const what[BM_MODES][2] = {
	    {"zero-copy (dma-buf + grant map): daemon CPU per flip",
	     "zero-copy: push -> event on page"},
	    {"grant-mapped (zero_copy off): daemon CPU per flip", "grant-mapped: push -> event on page"},
	    {"copy (--copy, 640x480 per flip): daemon CPU per flip", "copy: push -> event on page"},
	};
	char name[64], what2[96];

	for (uint32_t m = 0; m < BM_MODES; m++) {
		const char *mn = bench_bufmode_name((enum bench_bufmode)m);
		const struct fl_window *w = &modes[m].w;
		bool base = m == BENCH_ZC;

		snprintf(name, sizeof(name), "bufmode.%s.daemon_cpu", mn);
		bench_report(name, w->daemon_ns / 1e3, "us", base ? NULL : "bufmode.zc.daemon_cpu",
			     what[m][0]);
		snprintf(name, sizeof(name), "bufmode.%s.dispatches", mn);
		bench_report(name, w->dispatches, "n", base ? NULL : "bufmode.zc.dispatches",
			     "daemon loop dispatches per flip");
		snprintf(name, sizeof(name), "bufmode.%s.lat_daemon_p50", mn);
		snprintf(what2, sizeof(what2), "%s, median", what[m][1]);
		bench_report(name, (double)bench_samples_quantile(&modes[m].lat, 0.5) / 1e3, "us",
			     base ? NULL : "bufmode.zc.lat_daemon_p50", what2);
		snprintf(name, sizeof(name), "bufmode.%s.lat_daemon_p99", mn);
		snprintf(what2, sizeof(what2), "%s, p99", what[m][1]);
		bench_report(name, (double)bench_samples_quantile(&modes[m].lat, 0.99) / 1e3, "us",
			     base ? NULL : "bufmode.zc.lat_daemon_p99", what2);
		snprintf(name, sizeof(name), "bufmode.%s.flips_per_s", mn);
		bench_report(name, w->count / w->wall_s, "1/s", base ? NULL : "bufmode.zc.flips_per_s",
			     "flips per second, 4 guests");
	}
}

int bench_bufmode(const struct bench_cfg *cfg)
{
	static struct fl_bench b; /* large: the guests' state */
	struct bm_mode modes[BM_MODES];
	uint32_t rounds = cfg->quick ? 1 : 3;
	int r = 0;

	memset(&b, 0, sizeof(b));
	memset(modes, 0, sizeof(modes));
	b.run_ns = cfg->quick ? 400000000ull : 1500000000ull;
	for (uint32_t round = 0; r >= 0 && round < rounds; round++) {
		for (uint32_t m = 0; r >= 0 && m < BM_MODES; m++) {
			struct fl_window w;

			r = run_guests(&b, BM_GUESTS, (enum bench_bufmode)m, &w);
			if (r >= 0) {
				window_add(&modes[m].w, &w);
				samples_append(&modes[m].lat, &b.lat_daemon);
			}
		}
	}
	if (r >= 0)
		report_bufmode(modes);
	else
		fprintf(stderr, "vdispl-bench: bufmode: %s\n", strerror(-r));
	for (uint32_t m = 0; m < BM_MODES; m++)
		bench_samples_free(&modes[m].lat);
	bench_samples_free(&b.lat_daemon);
	bench_samples_free(&b.lat_guest);
	return r;
}
