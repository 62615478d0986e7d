/* SPDX-License-Identifier: MIT */
/*
 * Logs a guest can trigger are rate-limited per guest and per call site
 * (CONVENTIONS.md "Logging"): a guest that churns its xenbus state gets a
 * bounded number of lines, another guest's warning from the same call
 * site still appears meanwhile, and what was suppressed is counted for the
 * guest it came from.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xen/io/xenbus.h>

#include "harness.h"
#include "log.h"

/* Initialising -> Initialised with no ring nodes, this many times. */
#define CHURNS 2000u
/*
 * The churner's lines: 10 per 5 s interval and site (the default
 * burst), the test takes a few seconds at most, one connect path.
 */
#define MAX_CHURNER_LINES 40u

struct ctx {
	struct harness h;
	struct h_log log;
	struct vd_simfront *a, *b;
	struct vd_hv *a_hv, *b_hv; /* the guests' own xenstore connections */
	uint32_t a_id, b_id;
};

static int be_state(struct ctx *c, uint32_t domid)
{
	char path[96];
	uint32_t v;

	snprintf(path, sizeof(path), "/local/domain/0/backend/vdispl/%u/0/state", domid);
	return vd_xs_read_u32(c->h.hv, VD_XS_NO_TXN, path, &v) < 0 ? -1 : (int)v;
}

struct wait {
	struct ctx *c;
	uint32_t domid;
	int state;
};

static bool be_is(struct harness *h, void *arg)
{
	struct wait *w = arg;

	return be_state(w->c, w->domid) == w->state;
}

static void wait_be(struct ctx *c, uint32_t domid, int state)
{
	struct wait w = {c, domid, state};

	assert_true(h_run_until(&c->h, be_is, &w, 5000));
}

/* As the guest: its frontend state. */
static void fe_state(struct vd_hv *g, int state)
{
	assert_int_equal(vd_xs_printf(g, VD_XS_NO_TXN, "device/vdispl/0/state", "%d", state), 0);
}

/* Initialised with nothing published: the connect fails and says so; then start over. */
static void churn_once(struct ctx *c, struct vd_hv *g, uint32_t domid)
{
	fe_state(g, XenbusStateInitialised);
	wait_be(c, domid, XenbusStateClosed);
	fe_state(g, XenbusStateInitialising);
	wait_be(c, domid, XenbusStateInitWait);
}

static struct vd_simfront *guest(struct ctx *c, const char *name, struct vd_hv **ret_hv)
{
	struct vd_simfront_opts o = {.nconn = 1, .width = 320, .height = 240, .no_frontend = true};
	struct vd_simfront *g = h_guest(&c->h, name, &o);

	assert_int_equal(vd_sim_connect_as(vd_sim_from_hv(c->h.hv), vd_simfront_domid(g), ret_hv),
			 0);
	return g;
}

static int ctx_free(void **state)
{
	struct ctx *c = *state;

	vd_hv_destroy(c->a_hv);
	vd_hv_destroy(c->b_hv);
	h_fini(&c->h);
	h_log_release(&c->log);
	free(c);
	return 0;
}

/* Lines that name the guest (as "domN:" or "(domN)"). */
static unsigned lines_of(const char *log, uint32_t domid)
{
	char a[32], b[32], line[1024];
	unsigned n = 0;
	const char *p = log;

	snprintf(a, sizeof(a), "dom%u:", domid);
	snprintf(b, sizeof(b), "(dom%u)", domid);
	while (*p) {
		size_t len = strcspn(p, "\n");

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		n += strstr(line, a) || strstr(line, b);
		p += len + (p[len] == '\n');
	}
	return n;
}

/* The sum of M over the "domN: M similar messages suppressed" lines. */
static unsigned suppressed_of(const char *log, uint32_t domid)
{
	char prefix[32];
	unsigned sum = 0, m;
	int len;

	len = snprintf(prefix, sizeof(prefix), "dom%u: ", domid);
	for (const char *p = strstr(log, prefix); p; p = strstr(p + 1, prefix))
		if (sscanf(p + len, "%u similar messages suppressed", &m) == 1 &&
		    strstr(p + len, " similar messages suppressed") ==
			p + len + strspn(p + len, "0123456789"))
			sum += m;
	return sum;
}

static void churn_does_not_hide_another_guest(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	char want[96], *log;
	unsigned a_lines;
	uint64_t t0;

	assert_non_null(c);
	*state = c;
	h_log_capture(&c->log);
	h_init(&c->h, false, 0);
	vd_log_set_level(LOG_WARNING);
	c->a = guest(c, "churner", &c->a_hv);
	c->b = guest(c, "quiet", &c->b_hv);
	c->a_id = vd_simfront_domid(c->a);
	c->b_id = vd_simfront_domid(c->b);
	wait_be(c, c->a_id, XenbusStateInitWait);
	wait_be(c, c->b_id, XenbusStateInitWait);
	t0 = vd_now_ms();
	for (uint32_t i = 0; i < CHURNS; i++) {
		if (i == CHURNS / 2)
			churn_once(c, c->b_hv, c->b_id); /* one warning of its own, mid-flood */
		churn_once(c, c->a_hv, c->a_id);
	}
	print_message("%u churns in %llu ms\n", CHURNS, (unsigned long long)(vd_now_ms() - t0));
	log = h_log_text(&c->log);
	a_lines = lines_of(log, c->a_id);
	print_message("churner: %u lines; quiet guest: %u\n", a_lines, lines_of(log, c->b_id));
	/* The other guest's warning, from the very call site the flood uses. */
	snprintf(want, sizeof(want), "dom%u: connector 0: transport nodes missing", c->b_id);
	assert_non_null(strstr(log, want));
	assert_true(a_lines >= 1);
	assert_true(a_lines <= MAX_CHURNER_LINES);
	free(log);
	/* The churner goes: what it had suppressed is reported, counted for it alone. */
	assert_int_equal(vd_simfront_kill(c->a), 0);
	h_run_for(&c->h, 50);
	log = h_log_text(&c->log);
	snprintf(want, sizeof(want), "dom%u: connector 0: transport nodes missing", c->a_id);
	a_lines = h_count(log, want);
	if (suppressed_of(log, c->a_id) + a_lines != CHURNS)
		print_error("%u printed, %u suppressed, in:\n%s\n", a_lines,
			    suppressed_of(log, c->a_id), log);
	assert_int_equal(suppressed_of(log, c->a_id) + a_lines, CHURNS);
	assert_int_equal(suppressed_of(log, c->b_id), 0);
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(churn_does_not_hide_another_guest, ctx_free),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
