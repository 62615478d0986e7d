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

static char *path_of(const char *rel)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return path;
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
	/* At the header, not at a key under it (whose value is not checked then). */
	assert_true(has_err(&e, "guests.d/web.conf:12: [x]: sections are not used in guest files"));
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
				 "hotkey = ctrl+ctrl+f1\n");
	put("guests.d/web2.conf", "hotkey = hyper+f1\n");
	put("guests.d/web3.conf", "hotkey = ctrl+f25\n");
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
	assert_true(has_err(&e, "guests.d/web2.conf:1: hotkey: expected modifiers"));
	assert_true(has_err(&e, "guests.d/web3.conf:1: hotkey: expected modifiers"));
	assert_int_equal(e.n, 9);
	unlink(path_of("guests.d/web2.conf"));
	unlink(path_of("guests.d/web3.conf"));
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
	assert_true(has_err(&e, "vdispld.conf:1: hypervisor: expected xen, sim or simhost, got \"kvm\""));
	assert_true(has_err(&e, "vdispld.conf:2: refresh: expected a number 0..1000"));
	assert_true(has_err(&e, "vdispld.conf:3: max-buffers: a guest setting"));
	assert_true(has_err(&e, "vdispld.conf:4: control-socket: expected an absolute path"));
	assert_true(has_err(&e, "vdispld.conf:5: syntax:"));
	assert_true(has_err(&e, "vdispld.conf:6: [screens]: unknown section (only [default])"));
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

/* Errors in order, for the record. */
static void show(const struct errs *e)
{
	for (unsigned i = 0; i < e->n && i < 16; i++)
		print_message("%s\n", e->msg[i]);
}

/* A repeated key or section is an error, not "the last one wins"; so is an empty unknown section. */
static void test_sections_and_duplicates(void **state)
{
	struct vd_config *cfg = NULL;
	struct errs e;

	put("vdispld.conf", "output = headless\nrefresh = 30\nrefresh = 50\n[defualt]\n"
			    "[default]\nmax-buffers = 8\nmax-buffers = 9\nzero-copy = no\n"
			    "[default]\nmax-framebuffers = 4\n");
	put("guests.d/web.conf", "zero-copy = no\nzero-copy = yes\ninput = /dev/input/event1\n"
				 "input = /dev/input/event2\n[x]\n");
	assert_int_equal(load(&cfg, &e), -EINVAL);
	show(&e);
	assert_true(has_err(&e, "vdispld.conf:3: refresh: set again (first at line 2)"));
	assert_true(has_err(&e, "vdispld.conf:4: [defualt]: unknown section (only [default])"));
	assert_true(has_err(&e, "vdispld.conf:7: max-buffers: set again (first at line 6)"));
	assert_true(has_err(&e, "vdispld.conf:9: [default]: a second [default] (the first is at line 5)"));
	assert_true(has_err(&e, "guests.d/web.conf:2: zero-copy: set again (first at line 1)"));
	assert_true(has_err(&e, "guests.d/web.conf:5: [x]: sections are not used in guest files"));
	assert_int_equal(e.n, 6);
	/* zero-copy at the top and in [default] are two settings; input repeats. */
	put("vdispld.conf", "zero-copy = yes\n[default]\nzero-copy = no\n");
	put("guests.d/web.conf", "input = /dev/input/event1\ninput = /dev/input/event2\n");
	assert_int_equal(load(&cfg, &e), 0);
	assert_int_equal(vd_config_guest(cfg, "web")->ninputs, 2);
	vd_config_free(cfg);
	put("guests.d/web.conf", "max-buffers = 2\n");
}

/* A directory where a file should be is an error, not an empty file. */
static void test_directories(void **state)
{
	struct vd_config *cfg = NULL;
	struct errs e;

	put("vdispld.conf", "output = headless\n");
	assert_int_equal(mkdir(path_of("guests.d/dir.conf"), 0755), 0);
	assert_int_equal(load(&cfg, &e), -EINVAL);
	show(&e);
	assert_true(has_err(&e, "guests.d/dir.conf: Is a directory"));
	assert_int_equal(e.n, 1);
	assert_int_equal(rmdir(path_of("guests.d/dir.conf")), 0);
	assert_int_equal(unlink(path_of("vdispld.conf")), 0);
	assert_int_equal(mkdir(path_of("vdispld.conf"), 0755), 0);
	assert_true(load(&cfg, &e) < 0);
	show(&e);
	assert_true(has_err(&e, "vdispld.conf: Is a directory"));
	/* Absent is fine where absence is (the default path); a directory never. */
	memset(&e, 0, sizeof(e));
	assert_true(vd_config_load(path_of("vdispld.conf"), false, collect, &e, &cfg) < 0);
	assert_true(has_err(&e, "vdispld.conf: Is a directory"));
	assert_int_equal(rmdir(path_of("vdispld.conf")), 0);
	assert_int_equal(mkfifo(path_of("vdispld.conf"), 0600), 0); /* no writer: must not wait */
	assert_true(load(&cfg, &e) < 0);
	assert_true(has_err(&e, "vdispld.conf: not a regular file"));
	assert_int_equal(unlink(path_of("vdispld.conf")), 0);
	/* /dev/null: no settings, the usual idiom */
	memset(&e, 0, sizeof(e));
	assert_int_equal(vd_config_load("/dev/null", true, collect, &e, &cfg), 0);
	assert_true(cfg->found);
	vd_config_free(cfg);
	put("vdispld.conf", "output = headless\n");
}

/*
 * Hotkeys that cannot work: a key alone (taken from every guest), two
 * guests on one chord (or one chord inside another: the router matches
 * the modifiers held, not only them), a guest's equal to the cycle-hotkey,
 * a "guest" hotkey for every guest.
 */
static void test_hotkeys(void **state)
{
	struct vd_config *cfg = NULL;
	struct errs e;

	put("vdispld.conf", "cycle-hotkey = ctrl+alt+f12\n[default]\nhotkey = ctrl+f9\n");
	put("guests.d/default.conf", "hotkey = ctrl+f3\n");
	put("guests.d/a.conf", "hotkey = f1\n");
	put("guests.d/b.conf", "hotkey = ctrl+alt+f2\n");
	put("guests.d/c.conf", "hotkey = Ctrl+Alt+F2\n");
	put("guests.d/d.conf", "hotkey = alt+f12\n");
	put("guests.d/e.conf", "hotkey = scrolllock\n");
	put("guests.d/f.conf", "hotkey = shift+alt+ctrl+f2\n");
	put("guests.d/web.conf", "hotkey = meta+f2\n");
	assert_int_equal(load(&cfg, &e), -EINVAL);
	show(&e);
	assert_true(has_err(&e, "vdispld.conf:3: hotkey: a hotkey gives one guest the focus: set "
				"it in that guest's file"));
	assert_true(has_err(&e, "guests.d/default.conf:1: hotkey: a hotkey gives one guest"));
	assert_true(has_err(&e, "guests.d/a.conf:1: hotkey: \"f1\" alone would never reach a "
				"guest again: add modifiers (e.g. ctrl+alt+f1;"));
	assert_true(has_err(&e, "guests.d/c.conf:1: hotkey: \"Ctrl+Alt+F2\" clashes with guest "
				"b's hotkey \"ctrl+alt+f2\""));
	assert_true(has_err(&e, "guests.d/d.conf:1: hotkey: \"alt+f12\" clashes with the "
				"cycle-hotkey \"ctrl+alt+f12\""));
	assert_true(has_err(&e, "guests.d/f.conf:1: hotkey: \"shift+alt+ctrl+f2\" clashes with "
				"guest b's hotkey"));
	assert_int_equal(e.n, 6);
	put("vdispld.conf", "cycle-hotkey = f12\n");
	unlink(path_of("guests.d/default.conf"));
	for (const char *f = "acdf"; *f; f++) {
		char rel[32];

		snprintf(rel, sizeof(rel), "guests.d/%c.conf", *f);
		unlink(path_of(rel));
	}
	assert_int_equal(load(&cfg, &e), -EINVAL);
	show(&e);
	assert_true(has_err(&e, "vdispld.conf:1: cycle-hotkey: \"f12\" alone would never"));
	assert_int_equal(e.n, 1);
	put("vdispld.conf", "cycle-hotkey = scrolllock\n");
	assert_int_equal(load(&cfg, &e), -EINVAL);
	assert_true(has_err(&e, "guests.d/e.conf:1: hotkey: \"scrolllock\" clashes with the "
				"cycle-hotkey \"scrolllock\""));
	assert_int_equal(e.n, 1);
	put("vdispld.conf", "cycle-hotkey = pause\n");
	assert_int_equal(load(&cfg, &e), 0);
	assert_string_equal(vd_config_guest(cfg, "b")->hotkey, "ctrl+alt+f2");
	vd_config_free(cfg);
	unlink(path_of("guests.d/b.conf"));
	unlink(path_of("guests.d/e.conf"));
	put("guests.d/web.conf", "max-buffers = 2\n");
	put("vdispld.conf", "output = headless\n");
}

/* "3 # comment" is a value: say why it is wrong. An output no table has is an error. */
static void test_hints_and_names(void **state)
{
	struct vd_config *cfg = NULL;
	struct errs e;

	put("vdispld.conf", "output = kmss\nhypervisor = simhost\n[default]\n"
			    "max-buffers = 3 # comment\nmax-framebuffers = 9 ; comment\n");
	assert_int_equal(load(&cfg, &e), -EINVAL);
	show(&e);
	assert_true(has_err(&e, "vdispld.conf:1: output: expected headless, kms or wayland, got "
				"\"kmss\""));
	assert_true(has_err(&e, "vdispld.conf:4: max-buffers: expected a number 1..4096, got "
				"\"3 # comment\" (\"#\" starts a comment only at the start of a "
				"line; after a value use \";\")"));
	assert_int_equal(e.n, 2);
	put("vdispld.conf", "output = wayland\nhypervisor = simhost\n");
	assert_int_equal(load(&cfg, &e), 0);
	assert_string_equal(cfg->global.hypervisor, "simhost");
	vd_config_free(cfg);
	put("vdispld.conf", "output = headless\n");
}

/* The command line over the file: the file's checks, its messages; what the file itself set. */
static void test_overrides(void **state)
{
	const struct vd_config_override good[] = {
		{"--output", "output", "kms"},
		{"--refresh", "refresh", "30"},
		{"--copy", "copy", "yes"},
		{"--hypervisor", "hypervisor", "simhost"},
	};
	const struct vd_config_override bad[] = {
		{"--output", "output", "kmss"},
		{"--control-socket", "control-socket", "ctl.sock"},
		{"--control-group", "control-group", "no-such-group-vdispld"},
		{"--seat", "seat", "a b"},
	};
	struct vd_config *cfg = NULL;
	char v[64];
	struct errs e;

	put("vdispld.conf", "output = headless\nstatus-interval = 7\n");
	assert_int_equal(load(&cfg, &e), 0);
	assert_int_equal(vd_config_override(cfg, good, 4, collect, &e), 0);
	assert_string_equal(cfg->global.output, "kms");
	assert_int_equal(cfg->global.refresh_mhz, 30000);
	assert_true(cfg->global.copy);
	assert_string_equal(cfg->global.hypervisor, "simhost");
	assert_true(vd_config_global_in_file(cfg, "output"));
	assert_true(vd_config_global_in_file(cfg, "status-interval"));
	assert_false(vd_config_global_in_file(cfg, "refresh")); /* the command line's only */
	assert_int_equal(vd_config_global_value(&cfg->global, "refresh", v, sizeof(v)), 0);
	assert_string_equal(v, "30");
	assert_int_equal(vd_config_global_value(&cfg->global, "copy", v, sizeof(v)), 0);
	assert_string_equal(v, "yes");
	assert_int_equal(vd_config_override(cfg, bad, 4, collect, &e), -EINVAL);
	show(&e);
	assert_true(has_err(&e, "--output: expected headless, kms or wayland, got \"kmss\""));
	assert_true(has_err(&e, "--control-socket: expected an absolute path, got \"ctl.sock\""));
	assert_true(has_err(&e, "--control-group: no group \"no-such-group-vdispld\" on this system"));
	assert_true(has_err(&e, "--seat: expected a seat name, got \"a b\""));
	assert_int_equal(e.n, 4);
	vd_config_free(cfg);
	put("vdispld.conf", "output = headless\n");
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
		cmocka_unit_test(test_sections_and_duplicates),
		cmocka_unit_test(test_directories),
		cmocka_unit_test(test_hotkeys),
		cmocka_unit_test(test_hints_and_names),
		cmocka_unit_test(test_overrides),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
