/* SPDX-License-Identifier: MIT */
/*
 * The noisy neighbour (tests/sim/neighbour.h): for each attack of the
 * isolation catalogue, what a guest flipping at 60 Hz sees while another
 * guest runs it - the interval between its frames (p50, p99, the worst)
 * and its slowest answer - beside the same with no attacker, measured
 * first in the same run. The sim test test_neighbour holds the thresholds.
 */
#include <stdio.h>

#include "bench.h"
#include "neighbour.h"

static void report(const char *attack, const struct nb_result *r, bool base)
{
	char name[64], what[96];

	snprintf(name, sizeof(name), "neighbour.%s.interval_p50", attack);
	snprintf(what, sizeof(what), "neighbour's frame interval, median (%s)", attack);
	bench_report(name, r->interval_p50_us / 1e3, "ms",
		     base ? NULL : "neighbour.none.interval_p50", what);
	snprintf(name, sizeof(name), "neighbour.%s.interval_p99", attack);
	snprintf(what, sizeof(what), "neighbour's frame interval, p99 (%s)", attack);
	bench_report(name, r->interval_p99_us / 1e3, "ms",
		     base ? NULL : "neighbour.none.interval_p99", what);
	snprintf(name, sizeof(name), "neighbour.%s.interval_max", attack);
	snprintf(what, sizeof(what), "neighbour's frame interval, worst (%s)", attack);
	bench_report(name, r->interval_max_us / 1e3, "ms",
		     base ? NULL : "neighbour.none.interval_max", what);
	snprintf(name, sizeof(name), "neighbour.%s.response_max", attack);
	snprintf(what, sizeof(what), "neighbour's slowest answer (%s)", attack);
	/* at least a microsecond: the table wants a number > 0 */
	bench_report(name, (r->response_max_us ? r->response_max_us : 1) / 1e3, "ms",
		     base ? NULL : "neighbour.none.response_max", what);
	snprintf(name, sizeof(name), "neighbour.%s.zero_copy", attack);
	snprintf(what, sizeof(what), "neighbour still zero-copy, 1 yes (%s)", attack);
	bench_report(name, r->zero_copy ? 1 : 0.001, "bool", NULL, what);
}

int bench_neighbour(const struct bench_cfg *cfg)
{
	uint32_t ms = cfg->quick ? 600 : 5000;
	struct nb_result r;
	int rc;

	rc = nb_run(NULL, ms, &r);
	if (rc < 0)
		return rc;
	report("none", &r, true);
	for (const struct nb_attack *a = nb_attacks; a->name; a++) {
		rc = nb_run(a, ms, &r);
		if (rc < 0) {
			fprintf(stderr, "neighbour: %s: %d\n", a->name, rc);
			return rc;
		}
		report(a->name, &r, false);
	}
	return 0;
}
