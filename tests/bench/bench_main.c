/* SPDX-License-Identifier: MIT */
/*
 * vdispl-bench [--quick] [--json] [--only sys,flip,bufmode,copy,dbuf,mem,budget,caps,neighbour]
 *
 * Prints a table of numbers (or JSON), each with the baseline it is
 * compared with and the ratio. Exits 1 if a measurement failed or
 * produced no number, 2 on a usage error. See docs/performance.md.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "log.h"

static const struct {
	const char *name;
	int (*run)(const struct bench_cfg *cfg);
} benches[] = {
    {"sys", bench_sys},
    {"flip", bench_flip},
    {"bufmode", bench_bufmode},
    {"copy", bench_copy},
    {"dbuf", bench_dbuf},
    {"mem", bench_mem},
    {"budget", bench_budget},
    {"caps", bench_caps},
    {"neighbour", bench_neighbour},
};
#define NBENCHES (sizeof(benches) / sizeof(benches[0]))

struct args {
	struct bench_cfg cfg;
	bool json;
	bool run[NBENCHES];
};

static void usage(FILE *f)
{
	fprintf(f, "usage: vdispl-bench [--quick] [--json] "
		   "[--only sys,flip,bufmode,copy,dbuf,mem,budget,caps,neighbour]\n"
		   "  --quick  short runs (a smoke test; numbers are noisy)\n"
		   "  --json   print JSON instead of the table\n"
		   "  --only   run only these measurements\n");
}

/* "flip,dbuf" -> run[]; false for an unknown name. */
static bool parse_only(const char *list, bool *run)
{
	char *copy = strdup(list), *save = NULL;
	bool ok = copy != NULL;

	memset(run, 0, NBENCHES * sizeof(*run));
	for (char *t = copy ? strtok_r(copy, ",", &save) : NULL; t && ok;
	     t = strtok_r(NULL, ",", &save)) {
		size_t i = 0;

		while (i < NBENCHES && strcmp(t, benches[i].name) != 0)
			i++;
		ok = i < NBENCHES;
		if (ok)
			run[i] = true;
	}
	free(copy);
	return ok;
}

/* -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {{"quick", no_argument, NULL, 'q'},
					     {"json", no_argument, NULL, 'j'},
					     {"only", required_argument, NULL, 'o'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int c;

	memset(a, 0, sizeof(*a));
	for (size_t i = 0; i < NBENCHES; i++)
		a->run[i] = true;
	while ((c = getopt_long(argc, argv, "qjo:h", opts, NULL)) != -1) {
		if (c == 'q') {
			a->cfg.quick = true;
		} else if (c == 'j') {
			a->json = true;
		} else if (c == 'o' && parse_only(optarg, a->run)) {
			continue;
		} else {
			usage(c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

#ifndef VD_BENCH_BUILD_TYPE
#define VD_BENCH_BUILD_TYPE "unknown"
#endif

static void print_header(bool quick)
{
	printf("vdispl-bench: sim hypervisor, headless output, %ld CPUs, %s build%s%s\n",
	       sysconf(_SC_NPROCESSORS_ONLN), VD_BENCH_BUILD_TYPE, quick ? ", --quick (noisy)" : "",
#ifdef VD_BENCH_SANITIZE
	       ", SANITIZER BUILD: not representative"
#else
	       ""
#endif
	);
}

int main(int argc, char **argv)
{
	struct args a;
	bool ok = true;
	int r = parse_args(argc, argv, &a);

	if (r >= 0)
		return r;
	vd_log_set_level(getenv("VD_BENCH_DEBUG") ? LOG_DEBUG : LOG_ERR);
	for (size_t i = 0; i < NBENCHES; i++)
		if (a.run[i] && benches[i].run(&a.cfg) < 0)
			ok = false;
	if (a.json) {
		bench_print_json(a.cfg.quick, VD_BENCH_BUILD_TYPE);
	} else {
		print_header(a.cfg.quick);
		bench_print_text();
	}
	ok = ok && bench_results_ok();
	if (!ok)
		fprintf(stderr, "vdispl-bench: a measurement failed\n");
	return ok ? 0 : 1;
}
