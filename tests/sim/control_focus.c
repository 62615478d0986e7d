/* SPDX-License-Identifier: MIT */
/*
 * `vdispctl focus` end to end: the real vdispctl (argv[1]) asks the
 * daemon's control socket (the service as the daemon starts it), the input
 * router's focus moves, and the simulated xen-kbdfront of the guest named
 * receives the keys that come next, the other guest none. A guest nobody
 * has, or one without a vkb, is refused (exit 1) and the focus stays;
 * status shows the router's focus, not the last name asked for.
 *
 * Before the focus was routed, vdispctl answered "focus: NAME" and exited
 * 0 while every key still went to the first guest: each test here fails
 * there.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/input-event-codes.h>
#include <xen/io/xenbus.h>

#include "config.h"
#include "daemon.h"
#include "daemon_input.h"
#include "harness.h"
#include "service.h"
#include "simkbd/simkbd.h"

#define TIMEOUT_MS 5000u

static const char *vdispctl;

struct ctx {
	struct harness h;
	struct vd_kbdback *kb;
	struct vd_dinput *di;
	struct vd_service *svc;
	struct vd_daemon_opts opts;
	struct vd_config *cfg;
	struct vd_simkbd *g[2];
	char dir[64], sock[96];
};

static const struct vd_config *ctx_config(void *userdata)
{
	struct ctx *c = userdata;

	return c->cfg;
}

static bool both_connected(struct harness *h, void *arg)
{
	struct ctx *c = arg;

	for (int i = 0; i < 2; i++)
		if (!vd_kbdback_connected(c->kb, vd_simkbd_domid(c->g[i])))
			return false;
	return vd_router_focused(vd_dinput_router(c->di)) != VD_ROUTER_NO_FOCUS;
}

/* The daemon's pieces as vd_daemon_run sets them up: input first, then the service. */
static void ctx_init(struct ctx *c)
{
	struct vd_dinput_deps deps;
	struct vd_simkbd_opts ko = {0};

	memset(c, 0, sizeof(*c));
	snprintf(c->dir, sizeof(c->dir), "/tmp/vdispld-focus-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(c->sock, sizeof(c->sock), "%s/control", c->dir);
	h_init(&c->h, false, 0);
	assert_int_equal(vd_config_new_default(&c->cfg), 0);
	assert_int_equal(vd_kbdback_create(c->h.loop, c->h.hv, &c->kb), 0);
	deps = (struct vd_dinput_deps){
		.loop = c->h.loop,
		.kb = c->kb,
		.be = c->h.be,
		.out = c->h.out,
		.config = ctx_config,
		.config_userdata = c,
	};
	assert_int_equal(vd_dinput_create(&deps, "script", NULL, &c->di), 0);
	c->opts = (struct vd_daemon_opts){
		.hypervisor = "sim",
		.output = "headless",
		.config = c->cfg,
		.control_socket = c->sock,
	};
	assert_int_equal(vd_service_create(c->h.loop, &c->opts, &c->svc), 0);
	assert_int_equal(vd_service_start(c->svc, c->h.be, c->h.out, c->di), 0);
	assert_int_equal(vd_simkbd_create(c->h.hv, c->h.loop, "sim-guest-1", &ko, &c->g[0]), 0);
	assert_int_equal(vd_simkbd_create(c->h.hv, c->h.loop, "sim-guest-2", &ko, &c->g[1]), 0);
	assert_true(h_run_until(&c->h, both_connected, c, TIMEOUT_MS));
}

static void ctx_fini(struct ctx *c)
{
	char cmd[128];

	vd_service_destroy(c->svc);
	vd_dinput_destroy(c->di);
	vd_kbdback_destroy(c->kb);
	for (int i = 0; i < 2; i++)
		vd_simkbd_destroy(c->g[i]);
	h_fini(&c->h);
	vd_config_free(c->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- running vdispctl while the loop serves it ---- */

struct child {
	pid_t pid;
	int status;
	bool done;
};

static bool child_done(struct harness *h, void *arg)
{
	struct child *ch = arg;

	if (!ch->done && waitpid(ch->pid, &ch->status, WNOHANG) == ch->pid)
		ch->done = true;
	return ch->done;
}

static void slurp(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

/* vdispctl -s SOCK ARGS...: its exit status, stdout and stderr. */
static int ctl(struct ctx *c, char *out, char *err, size_t len, const char *a1, const char *a2,
	       const char *a3)
{
	char opath[128], epath[128];
	struct child ch = {0};

	snprintf(opath, sizeof(opath), "%s/out", c->dir);
	snprintf(epath, sizeof(epath), "%s/err", c->dir);
	ch.pid = fork();
	assert_true(ch.pid >= 0);
	if (ch.pid == 0) {
		int o = open(opath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(epath, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
			_exit(127);
		execl(vdispctl, vdispctl, "-s", c->sock, a1, a2, a3, (char *)NULL);
		_exit(127);
	}
	assert_true(h_run_until(&c->h, child_done, &ch, TIMEOUT_MS));
	slurp(opath, out, len);
	slurp(epath, err, len);
	print_message("vdispctl %s %s %s: %d: %s%s", a1, a2 ? a2 : "", a3 ? a3 : "",
		      WEXITSTATUS(ch.status), out, err);
	assert_true(WIFEXITED(ch.status));
	return WEXITSTATUS(ch.status);
}

/* ---- keys ---- */

static uint32_t nevents(struct vd_simkbd *g)
{
	const struct vd_simkbd_event *e;

	return vd_simkbd_events(g, &e);
}

struct count_arg {
	struct vd_simkbd *g;
	uint32_t n;
};

static bool has_events(struct harness *h, void *arg)
{
	struct count_arg *a = arg;

	return nevents(a->g) >= a->n;
}

/* One key typed: the guest that must get it gets it, press and release, the other nothing. */
static void type_key(struct ctx *c, uint32_t code, int to)
{
	const struct vd_input_event evs[] = {
		{.kind = VD_INPUT_KEY, .code = code, .pressed = true},
		{.kind = VD_INPUT_KEY, .code = code, .pressed = false},
	};
	uint32_t before[2] = {nevents(c->g[0]), nevents(c->g[1])};
	struct count_arg a = {c->g[to], before[to] + 2};
	const struct vd_simkbd_event *e;

	assert_int_equal(vd_input_script_feed(vd_dinput_script(c->di), evs, 2), 0);
	assert_true(h_run_until(&c->h, has_events, &a, TIMEOUT_MS));
	h_run_for(&c->h, 50); /* time for anything that should not arrive */
	assert_int_equal(nevents(c->g[to]), before[to] + 2);
	assert_int_equal(nevents(c->g[!to]), before[!to]);
	vd_simkbd_events(c->g[to], &e);
	assert_int_equal(e[before[to]].keycode, code);
	assert_true(e[before[to]].pressed);
	assert_int_equal(e[before[to] + 1].keycode, code);
	assert_false(e[before[to] + 1].pressed);
}

static void focus_by_name_moves_the_keys(void **state)
{
	char out[4096], err[4096], want[64];
	struct ctx c;

	ctx_init(&c);
	type_key(&c, KEY_A, 0); /* the first guest has the focus to begin with */
	assert_int_equal(ctl(&c, out, err, sizeof(out), "focus", "sim-guest-2", NULL), 0);
	snprintf(want, sizeof(want), "focus: sim-guest-2 (dom%u)\n", vd_simkbd_domid(c.g[1]));
	assert_string_equal(out, want);
	type_key(&c, KEY_B, 1);
	type_key(&c, KEY_C, 1);
	/* by domain id, back */
	snprintf(want, sizeof(want), "dom%u", vd_simkbd_domid(c.g[0]));
	assert_int_equal(ctl(&c, out, err, sizeof(out), "--json", "focus", want), 0);
	snprintf(want, sizeof(want), "{\"focus\":\"sim-guest-1\",\"domid\":%u}\n",
		 vd_simkbd_domid(c.g[0]));
	assert_string_equal(out, want);
	type_key(&c, KEY_D, 0);
	ctx_fini(&c);
}

static void unknown_guest_is_refused(void **state)
{
	char out[4096], err[4096], want[96];
	struct ctx c;

	ctx_init(&c);
	assert_int_equal(ctl(&c, out, err, sizeof(out), "focus", "sim-guest-2", NULL), 0);
	type_key(&c, KEY_A, 1);
	assert_int_equal(ctl(&c, out, err, sizeof(out), "focus", "nosuch", NULL), 1);
	assert_string_equal(out, "");
	assert_string_equal(err, "vdispctl: no such guest \"nosuch\"\n");
	type_key(&c, KEY_B, 1); /* the focus stayed */
	/* a guest with a display and no vkb: said so, refused too */
	const struct vd_simfront_opts so = {.nconn = 1, .width = 64, .height = 48, .no_client = true};
	struct vd_simfront *display = h_guest(&c.h, "sim-display", &so);

	assert_true(h_run_until(&c.h, h_guest_connected, display, TIMEOUT_MS));
	assert_int_equal(ctl(&c, out, err, sizeof(out), "focus", "sim-display", NULL), 1);
	assert_string_equal(err, "vdispctl: guest \"sim-display\" has no vkb device: it takes no "
				 "input\n");
	type_key(&c, KEY_C, 1);
	/* status: the router's focus, not the name last asked for */
	assert_int_equal(ctl(&c, out, err, sizeof(out), "status", NULL, NULL), 0);
	snprintf(want, sizeof(want), ", focus sim-guest-2 (dom%u), up ", vd_simkbd_domid(c.g[1]));
	assert_non_null(strstr(out, want));
	assert_int_equal(ctl(&c, out, err, sizeof(out), "--json", "status", NULL), 0);
	snprintf(want, sizeof(want), "\"focus\":\"sim-guest-2\",\"focus_domid\":%u,",
		 vd_simkbd_domid(c.g[1]));
	assert_non_null(strstr(out, want));
	ctx_fini(&c);
}

/* The text fmt makes is in out. */
static void has(const char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void has(const char *out, const char *fmt, ...)
{
	char want[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	if (!strstr(out, want))
		fail_msg("\"%s\" not in:\n%s", want, out);
}

/*
 * The input section of the status: the source, the focus, where keys
 * really went last, every vkb; a display without a drawing client shows
 * nothing and has had no flip (the runbook's "Connected, 0 flips"); and
 * `vdispctl guests` (completion) names every guest, with or without vkb.
 */
static void status_says_where_input_went(void **state)
{
	const struct vd_simfront_opts so = {.nconn = 1, .width = 64, .height = 48, .no_client = true};
	uint32_t d1, d2, d3;
	char out[8192], err[4096];
	struct vd_simfront *display;
	struct ctx c;

	ctx_init(&c);
	d1 = vd_simkbd_domid(c.g[0]);
	d2 = vd_simkbd_domid(c.g[1]);
	display = h_guest(&c.h, "sim-display", &so);
	assert_true(h_run_until(&c.h, h_guest_connected, display, TIMEOUT_MS));
	d3 = vd_simfront_domid(display);
	assert_int_equal(ctl(&c, out, err, sizeof(out), "status", NULL, NULL), 0);
	assert_null(strstr(out, "keys last went")); /* no key yet */
	assert_int_equal(ctl(&c, out, err, sizeof(out), "focus", "sim-guest-2", NULL), 0);
	type_key(&c, KEY_B, 1);
	assert_int_equal(ctl(&c, out, err, sizeof(out), "status", NULL, NULL), 0);
	has(out, "\ninput: script, focus sim-guest-2 (dom%u), keys last went to sim-guest-2 "
		 "(dom%u) 0.", d2, d2);
	has(out, "\n  vkb 0 of sim-guest-1 (dom%u): Connected (frontend Connected), keyboard", d1);
	has(out, "\n  vkb 0 of sim-guest-2 (dom%u): Connected (frontend Connected), keyboard", d2);
	has(out, "guest sim-display (dom%u), settings from built-in defaults\n", d3);
	assert_non_null(strstr(out, ", shows nothing, no flip yet\n"));
	assert_non_null(strstr(out, "\nbuffers awaiting release: none\n"));
	assert_int_equal(ctl(&c, out, err, sizeof(out), "--json", "status", NULL), 0);
	has(out, "\"input\":{\"source\":\"script\",\"seat\":null,\"last_key_guest\":"
		 "\"sim-guest-2\",\"last_key_domid\":%u,", d2);
	has(out, "\"format\":null,\"format_name\":null,\"last_flip_seconds_ago\":null,");
	has(out, "\"vkbs\":[");
	has(out, "{\"domid\":%u,\"name\":\"sim-guest-1\",\"devid\":0,\"state\":\"Connected\"", d1);
	has(out, "\"devices\":[]}");
	assert_int_equal(ctl(&c, out, err, sizeof(out), "guests", NULL, NULL), 0);
	has(out, "dom%u sim-guest-1: 0 connector(s), vkb\n", d1);
	has(out, "dom%u sim-guest-2: 0 connector(s), vkb\n", d2);
	has(out, "dom%u sim-display: 1 connector(s)\n", d3);
	ctx_fini(&c);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(focus_by_name_moves_the_keys),
		cmocka_unit_test(unknown_guest_is_refused),
		cmocka_unit_test(status_says_where_input_went),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s VDISPCTL\n", argv[0]);
		return 2;
	}
	vdispctl = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
