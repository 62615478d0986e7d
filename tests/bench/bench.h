/* SPDX-License-Identifier: MIT */
/*
 * vdispl-bench: numbers for the daemon over the sim hypervisor with the
 * headless output, each beside a baseline measured in the same run.
 *
 * The rig keeps the daemon (backend + output) and the simulated guests on
 * two sd-event loops of one thread and drives them in turn, so that the
 * thread CPU time spent dispatching the daemon's loop is the daemon's and
 * nobody else's. See docs/performance.md.
 */
#ifndef VD_BENCH_H
#define VD_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

#include "hv/hv.h"
#include "hv/sim/sim.h"
#include "output/output.h"
#include "simfront/simfront.h"
#include "xenbus/backend.h"

#define BENCH_XRGB8888 0x34325258u

/* ---- clocks and samples (bench_util.c) ---- */

uint64_t bench_now_ns(void); /* CLOCK_MONOTONIC */
uint64_t bench_cpu_ns(void); /* CLOCK_THREAD_CPUTIME_ID */
/* What one bench_cpu_ns() call adds to an interval it delimits. */
uint64_t bench_cpu_clock_cost_ns(void);

struct bench_samples {
	uint64_t *v; /* owned */
	size_t n, cap;
};
/* Out of memory aborts: a benchmark has nothing better to do. */
void bench_samples_add(struct bench_samples *s, uint64_t value);
void bench_samples_clear(struct bench_samples *s);
void bench_samples_free(struct bench_samples *s);
/* q in [0, 1], nearest rank; sorts s. 0 if empty. */
uint64_t bench_samples_quantile(struct bench_samples *s, double q);

/* ---- results (bench_util.c) ---- */

/*
 * One number. baseline names an earlier result; ratio is value divided by
 * the baseline's value (NaN when there is none): for times, how many
 * baselines one operation costs; for rates, the fraction of the baseline's
 * rate reached.
 */
struct bench_result {
	char name[64];
	double value;
	const char *unit;
	char baseline[64];
	double ratio;
	char what[96]; /* one line for the text table */
	bool zero_ok;  /* a count that may rightly be 0 */
};

/* Record a result; baseline may be NULL. */
void bench_report(const char *name, double value, const char *unit, const char *baseline,
		  const char *what);
/* The same for a count whose right value may be 0 (any other result must be > 0). */
void bench_report_count(const char *name, double value, const char *unit, const char *baseline,
			const char *what);
void bench_print_text(void);
void bench_print_json(bool quick, const char *build_type);
/* Some results, each a finite number > 0 (a smoke test checks this). */
bool bench_results_ok(void);

/* ---- the two-loop rig (bench_rig.c) ---- */

struct bench_rig {
	sd_event *dloop; /* the daemon's: backend and output */
	sd_event *gloop; /* the simulated guests' */
	struct vd_hv *hv;
	struct vd_sim *sim;
	struct vd_output *out;
	struct vd_backend *be;

	/* Daemon accounting: only loop runs that dispatched something count. */
	uint64_t daemon_cpu_ns;
	uint64_t daemon_wakeups;
	uint64_t daemon_dispatches;
	uint64_t clock_cost_ns;

	/* Called after each daemon wake-up with the wall clock. Optional. */
	void (*after_daemon)(void *userdata, uint64_t now_ns);
	void *userdata;
};

/*
 * Creates both loops, the sim machine, a headless output and the backend
 * (bo NULL: VD_BACKEND_OPTS_DEFAULT, zero-copy on).
 */
int bench_rig_init(struct bench_rig *rig, const struct vd_output_opts *oo,
		   const struct vd_backend_opts *bo);
void bench_rig_fini(struct bench_rig *rig);
/* One guest dispatch, then the daemon until idle; sleeps if neither had work. */
int bench_rig_step(struct bench_rig *rig, int idle_timeout_ms);
typedef bool (*bench_cond)(void *arg);
/* Step until cond(arg); false on timeout or error. */
bool bench_rig_run_until(struct bench_rig *rig, bench_cond cond, void *arg, uint32_t timeout_ms);
/* Daemon CPU so far, net of the clock reads. */
uint64_t bench_rig_daemon_cpu(const struct bench_rig *rig);
bool bench_guest_connected(void *front);

/* ---- the measurements ---- */

struct bench_cfg {
	bool quick;
};

/*
 * How the daemon shares a guest's buffers with the output: the modes the
 * zero-copy measurements compare.
 */
enum bench_bufmode {
	BENCH_ZC,   /* default: dma-buf export + grant map, headless direct */
	BENCH_MAP,  /* bufs.zero_copy = false: grant map, headless direct */
	BENCH_COPY, /* headless force_copy (--copy), backend defaults */
	BENCH_BE,   /* be-alloc: the backend allocates, the guest maps its grants */
};
/* "zc", "map", "copy", "be": the mode's part of a metric name. */
const char *bench_bufmode_name(enum bench_bufmode m);
/* The output and backend options of mode m (refresh 0). */
void bench_bufmode_opts(enum bench_bufmode m, struct vd_output_opts *oo,
			struct vd_backend_opts *bo);

int bench_sys(const struct bench_cfg *cfg);     /* bench_sys.c */
int bench_flip(const struct bench_cfg *cfg);    /* bench_flip.c */
int bench_bufmode(const struct bench_cfg *cfg); /* bench_flip.c */
int bench_copy(const struct bench_cfg *cfg);    /* bench_copy.c */
int bench_dbuf(const struct bench_cfg *cfg);    /* bench_dbuf.c */
int bench_mem(const struct bench_cfg *cfg);     /* bench_mem.c */
int bench_budget(const struct bench_cfg *cfg);  /* bench_budget.c */
int bench_caps(const struct bench_cfg *cfg);    /* bench_caps.c */
int bench_neighbour(const struct bench_cfg *cfg); /* bench_neighbour.c */

#endif
