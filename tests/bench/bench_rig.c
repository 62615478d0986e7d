/* SPDX-License-Identifier: MIT */
/*
 * The two-loop rig. The daemon's sources (backend, headless output) live
 * on dloop, the simulated guests' on gloop. A step dispatches one guest
 * source, then runs the daemon's loop until it has nothing left: every
 * request a guest makes is served before the next guest runs, as if the
 * daemon had a CPU of its own and woke at once.
 *
 * Accounting: thread CPU time is read around each daemon drain. A drain
 * that dispatched nothing is not counted: it stands for the daemon
 * sleeping in epoll_wait. A drain that did work includes its final empty
 * loop iteration, which stands for the daemon going back to sleep.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include <xen/io/xenbus.h>

#include "bench.h"
#include "log.h"

/* A daemon that keeps finding work is cut off here, so guests cannot starve. */
#define MAX_DISPATCHES_PER_DRAIN 4096

int bench_rig_init(struct bench_rig *rig, const struct vd_output_opts *oo,
		   const struct vd_backend_opts *bo)
{
	static const struct vd_backend_opts def = VD_BACKEND_OPTS_DEFAULT;
	int r;

	memset(rig, 0, sizeof(*rig));
	rig->clock_cost_ns = bench_cpu_clock_cost_ns();
	r = sd_event_new(&rig->dloop);
	if (r >= 0)
		r = sd_event_new(&rig->gloop);
	if (r >= 0)
		r = vd_hv_create("sim", &rig->hv);
	if (r >= 0)
		rig->sim = vd_sim_from_hv(rig->hv);
	if (r >= 0)
		r = vd_output_create("headless", rig->dloop, oo, &rig->out);
	if (r >= 0)
		r = vd_backend_create(rig->dloop, rig->hv, rig->out, bo ? bo : &def, &rig->be);
	if (r < 0)
		bench_rig_fini(rig);
	return r;
}

/* Guests are the caller's: destroy them first. */
void bench_rig_fini(struct bench_rig *rig)
{
	vd_backend_destroy(rig->be);
	if (rig->out)
		vd_output_destroy(rig->out);
	if (rig->hv)
		vd_hv_destroy(rig->hv);
	sd_event_unref(rig->gloop);
	sd_event_unref(rig->dloop);
	memset(rig, 0, sizeof(*rig));
}

/* Run the daemon's loop until idle. Returns the number of dispatches. */
static int drain_daemon(struct bench_rig *rig)
{
	uint64_t c0 = bench_cpu_ns(), c1;
	int n = 0, r = 0;

	while (n < MAX_DISPATCHES_PER_DRAIN && (r = sd_event_run(rig->dloop, 0)) > 0)
		n++;
	c1 = bench_cpu_ns();
	if (r < 0)
		return r;
	if (n == 0)
		return 0;
	rig->daemon_cpu_ns += c1 - c0;
	rig->daemon_wakeups++;
	rig->daemon_dispatches += (uint64_t)n;
	if (rig->after_daemon)
		rig->after_daemon(rig->userdata, bench_now_ns());
	return n;
}

/*
 * Each loop's last run found nothing, and armed its timers while
 * preparing: so the loops' epoll fds tell the whole truth now.
 */
static int sleep_both(struct bench_rig *rig, int timeout_ms)
{
	struct pollfd fds[2] = {
	    {.fd = sd_event_get_fd(rig->dloop), .events = POLLIN},
	    {.fd = sd_event_get_fd(rig->gloop), .events = POLLIN},
	};

	if (poll(fds, 2, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

int bench_rig_step(struct bench_rig *rig, int idle_timeout_ms)
{
	int g = sd_event_run(rig->gloop, 0), d;

	if (g < 0)
		return g;
	d = drain_daemon(rig);
	if (d < 0)
		return d;
	if (g == 0 && d == 0)
		return sleep_both(rig, idle_timeout_ms);
	return 0;
}

bool bench_rig_run_until(struct bench_rig *rig, bench_cond cond, void *arg, uint32_t timeout_ms)
{
	uint64_t end = bench_now_ns() + (uint64_t)timeout_ms * 1000000u;

	while (!cond(arg)) {
		if (bench_now_ns() >= end)
			return false;
		if (bench_rig_step(rig, 10) < 0)
			return false;
	}
	return true;
}

uint64_t bench_rig_daemon_cpu(const struct bench_rig *rig)
{
	uint64_t overhead = rig->daemon_wakeups * rig->clock_cost_ns;

	return rig->daemon_cpu_ns > overhead ? rig->daemon_cpu_ns - overhead : 0;
}

const char *bench_bufmode_name(enum bench_bufmode m)
{
	static const char *const names[] = {"zc", "map", "copy", "be"};

	return names[m];
}

void bench_bufmode_opts(enum bench_bufmode m, struct vd_output_opts *oo,
			struct vd_backend_opts *bo)
{
	static const struct vd_backend_opts def = VD_BACKEND_OPTS_DEFAULT;

	*oo = (struct vd_output_opts){.force_copy = m == BENCH_COPY, .refresh_mhz = 0};
	*bo = def;
	bo->bufs.zero_copy = m != BENCH_MAP;
}

bool bench_guest_connected(void *front)
{
	struct vd_simfront_stats s;

	vd_simfront_get_stats(front, &s);
	return s.state == XenbusStateConnected;
}
