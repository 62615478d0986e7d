/* SPDX-License-Identifier: MIT */
/* Clocks, sample sets and the result table of vdispl-bench. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define MAX_RESULTS 192

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t bench_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t bench_cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

/*
 * The thread CPU clock is a system call, not a vDSO read: an interval
 * delimited by two reads contains about one read's cost. The median of
 * back-to-back differences estimates it.
 */
uint64_t bench_cpu_clock_cost_ns(void)
{
	struct bench_samples s = {0};
	uint64_t cost;

	for (int i = 0; i < 2001; i++) {
		uint64_t a = bench_cpu_ns();

		bench_samples_add(&s, bench_cpu_ns() - a);
	}
	cost = bench_samples_quantile(&s, 0.5);
	bench_samples_free(&s);
	return cost;
}

/* ---- samples ---- */

void bench_samples_add(struct bench_samples *s, uint64_t value)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		uint64_t *v = realloc(s->v, cap * sizeof(*v));

		if (!v) {
			fprintf(stderr, "vdispl-bench: out of memory\n");
			abort();
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = value;
}

void bench_samples_clear(struct bench_samples *s)
{
	s->n = 0;
}

void bench_samples_free(struct bench_samples *s)
{
	free(s->v);
	*s = (struct bench_samples){0};
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

uint64_t bench_samples_quantile(struct bench_samples *s, double q)
{
	size_t rank;

	if (s->n == 0)
		return 0;
	qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
	rank = (size_t)ceil(q * (double)s->n);
	return s->v[rank ? rank - 1 : 0];
}

/* ---- results ---- */

static struct bench_result results[MAX_RESULTS];
static size_t nresults;

static const struct bench_result *find_result(const char *name)
{
	for (size_t i = 0; i < nresults; i++)
		if (strcmp(results[i].name, name) == 0)
			return &results[i];
	return NULL;
}

void bench_report(const char *name, double value, const char *unit, const char *baseline,
		  const char *what)
{
	struct bench_result *r;
	const struct bench_result *b = baseline ? find_result(baseline) : NULL;

	if (nresults == MAX_RESULTS) {
		fprintf(stderr, "vdispl-bench: too many results, %s dropped\n", name);
		return;
	}
	r = &results[nresults++];
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->baseline, sizeof(r->baseline), "%s", b ? baseline : "");
	r->value = value;
	r->unit = unit;
	snprintf(r->what, sizeof(r->what), "%s", what ? what : "");
	r->ratio = b && b->value > 0 ? value / b->value : NAN;
}

void bench_report_count(const char *name, double value, const char *unit, const char *baseline,
			const char *what)
{
	bench_report(name, value, unit, baseline, what);
	if (nresults && !strcmp(results[nresults - 1].name, name))
		results[nresults - 1].zero_ok = true;
}

bool bench_results_ok(void)
{
	for (size_t i = 0; i < nresults; i++)
		if (!isfinite(results[i].value) || results[i].value < 0 ||
		    (results[i].value == 0 && !results[i].zero_ok))
			return false;
	return nresults > 0;
}

void bench_print_text(void)
{
	printf("%-34s %12s %-6s %8s  %-26s %s\n", "metric", "value", "unit", "ratio", "baseline",
	       "what");
	for (size_t i = 0; i < nresults; i++) {
		const struct bench_result *r = &results[i];
		char ratio[32] = "-";

		if (!isnan(r->ratio))
			snprintf(ratio, sizeof(ratio), "%.2fx", r->ratio);
		printf("%-34s %12.3f %-6s %8s  %-26s %s\n", r->name, r->value, r->unit, ratio,
		       r->baseline[0] ? r->baseline : "-", r->what);
	}
}

/* Names and units are ours (no quoting needed); "what" is left to the text table. */
void bench_print_json(bool quick, const char *build_type)
{
	struct utsname u;

	if (uname(&u) < 0)
		memset(&u, 0, sizeof(u));
	printf("{\n  \"machine\": {\"cpus\": %ld, \"kernel\": \"%s\", \"arch\": \"%s\"},\n",
	       sysconf(_SC_NPROCESSORS_ONLN), u.release, u.machine);
	printf("  \"build\": \"%s\",\n  \"quick\": %s,\n  \"results\": [\n", build_type,
	       quick ? "true" : "false");
	for (size_t i = 0; i < nresults; i++) {
		const struct bench_result *r = &results[i];

		printf("    {\"name\": \"%s\", \"value\": %.6g, \"unit\": \"%s\"", r->name,
		       r->value, r->unit);
		if (!isnan(r->ratio))
			printf(", \"baseline\": \"%s\", \"ratio\": %.6g", r->baseline, r->ratio);
		printf("}%s\n", i + 1 < nresults ? "," : "");
	}
	printf("  ]\n}\n");
}
