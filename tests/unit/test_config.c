/* SPDX-License-Identifier: MIT */
/* Configuration files: layering, and broken files whose errors name file, line and key. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

struct errs {
	char msg[16][512];
	unsigned n;
};

static void collect(void *userdata, const char *msg)
{
	struct errs *e = userdata;

	if (e->n < 16)
		snprintf(e->msg[e->n], sizeof(e->msg[0]), "%s", msg);
	e->n++;
}

static bool has_err(const struct errs *e, const char *want)
{
	for (unsigned i = 0; i < e->n && i < 16; i++)
		if (strstr(e->msg[i], want))
			return true;
	return false;
}

static char dir[64];

static void put(const char *rel, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	char path[128];

	snprintf(dir, sizeof(dir), "/tmp/vdispld-conf-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/guests.d", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int load(struct vd_config **cfg, struct errs *e)
{
	char path[128];

	memset(e, 0, sizeof(*e));
	snprintf(path, sizeof(path), "%s/vdispld.conf", dir);
	return vd_config_load(path, true, collect, e, cfg);
}

static void test_good(void **state)
{
	struct vd_config *cfg = NULL;
	const struct vd_guest_conf *g;
	struct vd_bufs_opts bo = VD_BUFS_OPTS_DEFAULT;
	struct vd_res_vec limits;
	char path[128];
	struct errs e;

	put("vdispld.conf", "# comment\nhypervisor = sim\n  refresh = 30\nzero-copy = yes\n"
			    "destroy-timeout-ms = 1000\nmaptrack-frames = 2048\ntotal-fds = 4000\n"
			    "total-backend-bytes = 256M\ntotal-retry-buffers = 99\n"
			    "[default]\nmax-buffers = 8\nmax-fds = 300\n");
	put("guests.d/default.conf", "max-framebuffers = 16\n");
	put("guests.d/web.conf", "; the web guest\nmax-bytes = 64M\nzero-copy = off\n"
				 "max-grant-maps = 20000\nmax-backend-bytes = 32M\n"
				 "max-retry-buffers = 3\n"
				 "connector.0 = HDMI-A-1\nconnector.1 = 0,0,1920x1080\n"
				 "connector.2 = 4711\n"
				 "input = /dev/input/event3\ninput = /dev/input/event4\n"
				 "hotkey = ctrl+alt+f1\n");
	assert_int_equal(load(&cfg, &e), 0);
	assert_int_equal(e.n, 0);
	assert_string_equal(cfg->global.hypervisor, "sim");
	assert_int_equal(cfg->global.refresh_mhz, 30000);
	assert_int_equal(cfg->nguests, 1);
	g = vd_config_guest(cfg, "web");
	assert_int_equal(g->caps.max_dbufs, 8);  /* [default] */
	assert_int_equal(g->caps.max_fbs, 16);   /* default.conf */
	assert_int_equal(g->caps.max_pages, 64 * 256);
	assert_int_equal(g->caps.max_grant_maps, 20000);
	assert_int_equal(g->caps.max_fds, 300); /* [default] */
	assert_int_equal(g->caps.max_be_pages, 32 * 256);
	assert_int_equal(g->caps.max_retry, 3);
	assert_false(g->zero_copy);
	assert_string_equal(g->connector[0], "HDMI-A-1");
	assert_string_equal(g->connector[1], "0,0,1920x1080");
	assert_string_equal(g->connector[2], "4711"); /* an IVI surface id */
	assert_int_equal(g->ninputs, 2);
	assert_string_equal(g->input[1], "/dev/input/event4");
	assert_string_equal(g->hotkey, "ctrl+alt+f1");
	assert_non_null(strstr(g->source, "guests.d/web.conf"));
	g = vd_config_guest(cfg, "other");
	assert_ptr_equal(g, &cfg->defaults);
	assert_int_equal(g->caps.max_dbufs, 8);
	assert_true(g->zero_copy);
	vd_config_apply_bufs(cfg, vd_config_guest(cfg, "web"), &bo);
	assert_int_equal(bo.caps.max_dbufs, 8);
	assert_false(bo.zero_copy);
	assert_int_equal(bo.destroy_timeout_ms, 1000);
	assert_int_equal(bo.caps.max_grant_maps, 20000);
	vd_config_apply_limits(cfg, &limits);
	assert_int_equal(limits.v[VD_RES_MAPS], 2048 * 256 / 2); /* half the maptrack */
	assert_int_equal(limits.v[VD_RES_FDS], 4000);
	assert_int_equal(limits.v[VD_RES_BE_PAGES], 256 * 256);
	assert_int_equal(limits.v[VD_RES_RETRY], 99);
	vd_config_free(cfg);
	snprintf(path, sizeof(path), "%s/guests.d/default.conf", dir);
	unlink(path);
}

static void test_broken_guest_file(void **state)
{
	struct vd_config *cfg = NULL;
	struct errs e;

	put("vdispld.conf", "output = headless\n");
	put("guests.d/web.conf", "zero-copy = on\n\n\n\n\n\nmax-buffers = lots\n"
				 "max-bytes = 3X\nconnector.7 = HDMI-A-1\nconnector.0 = 1,2\n"
				 "colour = blue\n[x]\nzero-copy = maybe\n");
	assert_int_equal(load(&cfg, &e), -EINVAL);
	assert_null(cfg);
	for (unsigned i = 0; i < e.n; i++)
		print_message("%s\n", e.msg[i]);
	assert_true(has_err(&e, "guests.d/web.conf:7: max-buffers: expected a number 1..4096, "
				"got \"lots\""));
	assert_true(has_err(&e, "guests.d/web.conf:8: max-bytes: expected a size"));
	assert_true(has_err(&e, "guests.d/web.conf:9: connector.7: connector index must be 0..3"));
	assert_true(has_err(&e, "guests.d/web.conf:10: connector.0: expected a connector name"));
	assert_true(has_err(&e, "guests.d/web.conf:11: colour: unknown key"));
	assert_true(has_err(&e, "guests.d/web.conf:13: zero-copy: sections are not used"));
	assert_int_equal(e.n, 6);
	put("guests.d/web.conf", "max-buffers = 2\n");
}

/* Input rules and hotkeys are checked when the file is read, not when a device appears. */
static void test_input_keys(void **state)
{
	struct vd_config *cfg = NULL;
	const struct vd_guest_conf *g;
	struct errs e;

	put("vdispld.conf", "input-source = libinput\nseat = seat1\ncycle-hotkey = ctrl+alt+tab\n"
			    "focus-follows-pointer = no\n");
	put("guests.d/web.conf", "input = ID_PATH=pci-0000:00:14.0-usb-0:1*\n"
				 "input = name=Logitech *\ninput = /dev/input/by-id/kbd\n"
				 "hotkey = Super+F3\n");
	assert_int_equal(load(&cfg, &e), 0);
	assert_string_equal(cfg->global.input_source, "libinput");
	assert_string_equal(cfg->global.seat, "seat1");
	assert_string_equal(cfg->global.cycle_hotkey, "ctrl+alt+tab");
	assert_false(cfg->global.focus_follows_pointer);
	g = vd_config_guest(cfg, "web");
	assert_int_equal(g->ninputs, 3);
	assert_string_equal(g->input[0], "ID_PATH=pci-0000:00:14.0-usb-0:1*");
	assert_string_equal(g->input[1], "name=Logitech *");
	assert_string_equal(g->hotkey, "Super+F3");
	vd_config_free(cfg);

	put("vdispld.conf", "input-source = evdev\ncycle-hotkey = ctrl+\nseat = a b\n");
	put("guests.d/web.conf", "input = event3\ninput = id_path=x\ninput = name=\n"
				 "hotkey = ctrl+ctrl+f1\nhotkey = hyper+f1\nhotkey = ctrl+f25\n");
	assert_int_equal(load(&cfg, &e), -EINVAL);
	for (unsigned i = 0; i < e.n; i++)
		print_message("%s\n", e.msg[i]);
	assert_true(has_err(&e, "vdispld.conf:1: input-source: expected auto, libinput, wayland or none"));
	assert_true(has_err(&e, "vdispld.conf:2: cycle-hotkey: expected modifiers"));
	assert_true(has_err(&e, "vdispld.conf:3: seat: expected a seat name"));
	assert_true(has_err(&e, "guests.d/web.conf:1: input: expected a device path"));
	assert_true(has_err(&e, "guests.d/web.conf:2: input: expected a device path"));
	assert_true(has_err(&e, "guests.d/web.conf:3: input: expected a device path"));
	assert_true(has_err(&e, "guests.d/web.conf:4: hotkey: expected modifiers"));
	assert_true(has_err(&e, "guests.d/web.conf:5: hotkey: expected modifiers"));
	assert_true(has_err(&e, "guests.d/web.conf:6: hotkey: expected modifiers"));
	assert_int_equal(e.n, 9);
	put("guests.d/web.conf", "max-buffers = 2\n");
	put("vdispld.conf", "output = headless\n");
}

static void test_broken_global(void **state)
{
	struct vd_config *cfg = NULL;
	struct errs e;

	put("vdispld.conf", "hypervisor = kvm\nrefresh = -1\nmax-buffers = 3\n"
			    "control-socket = relative/path\nthis line has no equals sign\n"
			    "[screens]\nfoo = 1\n[default]\nzero-copy = perhaps\n"
			    "destroy-timeout-ms = 5000\ncontrol-group = no-such-group-vdispld\n");
	assert_int_equal(load(&cfg, &e), -EINVAL);
	for (unsigned i = 0; i < e.n; i++)
		print_message("%s\n", e.msg[i]);
	assert_true(has_err(&e, "vdispld.conf:1: hypervisor: expected xen or sim, got \"kvm\""));
	assert_true(has_err(&e, "vdispld.conf:2: refresh: expected a number 0..1000"));
	assert_true(has_err(&e, "vdispld.conf:3: max-buffers: a guest setting"));
	assert_true(has_err(&e, "vdispld.conf:4: control-socket: expected an absolute path"));
	assert_true(has_err(&e, "vdispld.conf:5: syntax:"));
	assert_true(has_err(&e, "vdispld.conf:7: foo: unknown section [screens]"));
	assert_true(has_err(&e, "vdispld.conf:9: zero-copy: expected yes/no"));
	assert_true(has_err(&e, "vdispld.conf:10: destroy-timeout-ms: a global setting"));
	assert_true(has_err(&e, "vdispld.conf:11: control-group: a global setting"));
	assert_int_equal(e.n, 9);
	put("vdispld.conf", "control-group = no-such-group-vdispld\nmax-bytes = 1G\n"
			    "max-fds = 100\n[default]\ntotal-fds = 100\nmax-fds = 3\n");
	assert_int_equal(load(&cfg, &e), -EINVAL);
	assert_true(has_err(&e, "vdispld.conf:1: control-group: no group \"no-such-group-vdispld\""));
	assert_true(has_err(&e, "vdispld.conf:2: max-bytes: a guest setting"));
	assert_true(has_err(&e, "vdispld.conf:3: max-fds: a guest setting"));
	assert_true(has_err(&e, "vdispld.conf:5: total-fds: a global setting"));
	assert_true(has_err(&e, "vdispld.conf:6: max-fds: expected a number 8..1048576"));
}

static void test_missing(void **state)
{
	struct vd_res_vec limits;
	struct vd_config *cfg = NULL;
	struct errs e = {0};
	char path[128];

	snprintf(path, sizeof(path), "%s/nope/vdispld.conf", dir);
	assert_int_equal(vd_config_load(path, true, collect, &e, &cfg), -ENOENT);
	assert_true(has_err(&e, "nope/vdispld.conf: No such file"));
	/* The default path may be absent: built-in defaults. */
	assert_int_equal(vd_config_load(path, false, collect, &e, &cfg), 0);
	assert_false(cfg->found);
	assert_string_equal(cfg->global.hypervisor, "xen");
	assert_int_equal(cfg->defaults.caps.max_dbufs, 256);
	assert_int_equal(cfg->defaults.caps.max_grant_maps, 0); /* a quarter of the total */
	assert_int_equal(cfg->defaults.caps.max_fds, 1024);
	assert_int_equal(cfg->defaults.caps.max_be_pages, 64 * 256);
	assert_int_equal(cfg->defaults.caps.max_retry, 16);
	vd_config_apply_limits(cfg, &limits);
	assert_int_equal(limits.v[VD_RES_MAPS], 1024 * 256 / 2);
	assert_int_equal(limits.v[VD_RES_FDS], 0); /* from RLIMIT_NOFILE */
	assert_int_equal(limits.v[VD_RES_BE_PAGES], 128 * 256);
	assert_int_equal(limits.v[VD_RES_RETRY], 64);
	vd_config_free(cfg);
}

static void test_long_line(void **state)
{
	struct vd_config *cfg = NULL;
	char text[600];
	struct errs e;

	memset(text, 'a', sizeof(text));
	memcpy(text, "output = ", 9);
	snprintf(text + 400, sizeof(text) - 400, "\nrefresh = x\n");
	put("vdispld.conf", text);
	assert_int_equal(load(&cfg, &e), -EINVAL);
	for (unsigned i = 0; i < e.n; i++)
		print_message("%s\n", e.msg[i]);
	assert_true(has_err(&e, "vdispld.conf:1: (line): longer than"));
	assert_true(has_err(&e, "vdispld.conf:2: refresh: expected a number"));
	assert_int_equal(e.n, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_broken_guest_file),
		cmocka_unit_test(test_broken_global),
		cmocka_unit_test(test_input_keys),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_long_line),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
