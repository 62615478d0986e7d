/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "hv/simhost/simhost.h"
#include "displif_proto.h"
#include "log.h"
#include "parse.h"

enum {
	OPT_HYPERVISOR = 256,
	OPT_OUTPUT,
	OPT_SIM_GUESTS,
	OPT_SIM_CONNECTORS,
	OPT_SIM_RESOLUTION,
	OPT_SIM_FRAMES,
	OPT_SIM_SOCKET,
	OPT_SIM_GET_EDID,
	OPT_SIM_BE_ALLOC,
	OPT_SIM_SPAN,
	OPT_SIM_CHURN,
	OPT_SIM_FORMAT,
	OPT_CAPTURE_DIR,
	OPT_RUN_FOR,
	OPT_COPY,
	OPT_REFRESH,
	OPT_STATUS_INTERVAL,
	OPT_VERSION,
	OPT_DRM_DEVICE,
	OPT_CONFIG,
	OPT_CHECK_CONFIG,
	OPT_CONTROL_SOCKET,
	OPT_CONTROL_GROUP,
	OPT_INPUT,
	OPT_SEAT,
	OPT_SIM_VKB,
};

static void usage(FILE *f)
{
	fputs("Usage: vdispld [OPTIONS]\n"
	      "Xen para-virtual display backend (displif, xl 'vdispl' devices).\n"
	      "Options that are settings of " VD_CONFIG_DEFAULT_PATH " override it.\n\n"
	      "  --hypervisor xen|sim|simhost\n"
	      "                         hypervisor to serve (default: xen; sim: simulated, with\n"
	      "                         its guests, in this process; simhost: the simulated Xen\n"
	      "                         of a vdispl-simhost process, which outlives this one)\n"
	      "  --output headless|kms|wayland\n"
	      "                         where guest frames go (default: headless; wayland:\n"
	      "                         windows of the compositor at $WAYLAND_DISPLAY)\n"
	      "  --drm-device PATH      kms: the card to drive (default: the first with a display)\n"
	      "  --copy                 copy every flipped frame into an output buffer\n"
	      "  --refresh HZ           headless vblank rate (default: 60; 0: no wait)\n"
	      "  --capture-dir DIR      write one PNG per connector into DIR, refreshed each\n"
	      "                         second (headless)\n"
	      "  --run-for SECONDS      exit after SECONDS (default: run until a signal)\n"
	      "  --status-interval S    log a status line every S seconds (default: 5; 0: off)\n"
	      "  --sim-guests N         simulated guests to start (sim only; default: 2)\n"
	      "  --sim-connectors N     connectors per simulated guest, 1-4 (default: 1)\n"
	      "  --sim-resolution WxH   connector resolution of simulated guests (default: 1024x768)\n"
	      "  --sim-frames N         frames each simulated connector flips (default: 0, endless)\n"
	      "  --sim-socket PATH      simhost: the vdispl-simhost socket (default:\n"
	      "                         $VDISPL_SIM_SOCKET, else " VD_SIMHOST_DEFAULT_SOCKET ")\n"
	      "  --sim-get-edid         simulated guests ask for each connector's EDID and log it\n"
	      "  --sim-be-alloc         simulated guests ask the backend to allocate their buffers\n"
	      "                         (be-alloc: kms dumb buffers, headless shared memory)\n"
	      "  --sim-span             one framebuffer spans each simulated guest's connectors,\n"
	      "                         side by side, each showing its own window of it\n"
	      "  --sim-churn            simulated guests make a fresh buffer for every frame and\n"
	      "                         take the previous one down while it is still on screen\n"
	      "  --sim-vkb              each simulated guest gets a vkb too; what they receive\n"
	      "                         is printed at exit\n"
	      "  --input auto|libinput|wayland|none\n"
	      "                         where guest input comes from (default: auto, libinput\n"
	      "                         with --output kms, the compositor's seat with --output\n"
	      "                         wayland, else none)\n"
	      "  --seat NAME            libinput's udev seat (default: seat0)\n"
	      "  --sim-format FOURCC    buffer format of simulated guests, a DRM fourcc code that\n"
	      "                         xen-front offers: RG16 RG24 XR24 AR24 XR12 AR12 XR15 AR15\n"
	      "                         YUYV (default: XR24)\n"
	      "  --config PATH          configuration file (default: " VD_CONFIG_DEFAULT_PATH ")\n"
	      "  --check-config         validate the configuration and exit (0 good, 1 errors)\n"
	      "  --control-socket PATH  control socket for vdispctl, an absolute path (default:\n"
	      "                         " VD_CONFIG_DEFAULT_SOCKET "; \"\": none)\n"
	      "  --control-group GROUP  group allowed on the control socket (default: root only)\n"
	      "  -v, --verbose          more logging (repeat for debug)\n"
	      "  -q, --quiet            errors only\n"
	      "  -h, --help             this text\n"
	      "      --version          print the version\n",
	      f);
}

/* Settings the file also has: checked and applied as the file's (vd_config_override). */
#define MAX_OVERRIDES 32u

struct cmdline {
	struct vd_daemon_opts o;
	struct vd_config_override ov[MAX_OVERRIDES];
	char ov_option[MAX_OVERRIDES][64]; /* ov[i].option */
	uint32_t nov;
	bool check;
	int verbosity;
	char capture_dir[4096]; /* --capture-dir made absolute */
};

static void try_help(void)
{
	fputs("Try 'vdispld --help' for more information.\n", stderr);
}

static int parse_u32(const char *arg, const char *what, uint32_t min, uint32_t max, uint32_t *ret)
{
	uint32_t v;

	if (vd_parse_u32(arg, &v) < 0 || v < min || v > max) {
		fprintf(stderr, "vdispld: invalid %s \"%s\" (expected %u..%u)\n", what, arg, min, max);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

static int parse_resolution(const char *arg, struct vd_daemon_opts *o)
{
	unsigned w, h;
	char tail;

	if (sscanf(arg, "%ux%u%c", &w, &h, &tail) != 2 || w < 8 || h < 1 || w > 4095 ||
	    h > 2047) {
		fprintf(stderr, "vdispld: invalid resolution \"%s\" (expected WxH, up to 4095x2047)\n",
			arg);
		return -EINVAL;
	}
	o->sim_width = w;
	o->sim_height = h;
	return 0;
}

/* A DRM fourcc code ("RG16", "C8": shorter codes are padded with spaces). */
static int parse_fourcc(const char *arg, uint32_t *ret)
{
	char c[4] = {' ', ' ', ' ', ' '};
	size_t n = strlen(arg);

	if (n >= 1 && n <= 4) {
		memcpy(c, arg, n);
		*ret = VD_FOURCC(c[0], c[1], c[2], c[3]);
		if (vd_format_supported(*ret))
			return 0;
	}
	fprintf(stderr, "vdispld: \"%s\" is not a format xen-front offers "
			"(RG16 RG24 XR24 AR24 XR12 AR12 XR15 AR15 YUYV)\n",
		arg);
	return -EINVAL;
}

static int add_override(struct cmdline *cl, const char *option, const char *key,
			const char *value)
{
	if (cl->nov == MAX_OVERRIDES) {
		fprintf(stderr, "vdispld: more than %u settings on the command line\n",
			MAX_OVERRIDES);
		return -E2BIG;
	}
	snprintf(cl->ov_option[cl->nov], sizeof(cl->ov_option[0]), "%s", option);
	cl->ov[cl->nov] = (struct vd_config_override){cl->ov_option[cl->nov], key, value};
	cl->nov++;
	return 0;
}

/*
 * On the command line a relative directory is the current directory's (the
 * quick start's --capture-dir captures); the file wants absolute paths.
 */
static int capture_dir(struct cmdline *cl, const char *arg)
{
	char cwd[2048];

	if (arg[0] == '/' || !arg[0])
		return add_override(cl, "--capture-dir", "capture-dir", arg);
	if (!getcwd(cwd, sizeof(cwd))) {
		fprintf(stderr, "vdispld: --capture-dir %s: %s\n", arg, strerror(errno));
		return -errno;
	}
	snprintf(cl->capture_dir, sizeof(cl->capture_dir), "%s/%s", cwd, arg);
	return add_override(cl, "--capture-dir", "capture-dir", cl->capture_dir);
}

/* Options that are settings of the file: the key they set, else NULL. */
static const char *setting_of(int c)
{
	switch (c) {
	case OPT_HYPERVISOR: return "hypervisor";
	case OPT_OUTPUT: return "output";
	case OPT_DRM_DEVICE: return "drm-device";
	case OPT_CONTROL_SOCKET: return "control-socket";
	case OPT_CONTROL_GROUP: return "control-group";
	case OPT_REFRESH: return "refresh";
	case OPT_STATUS_INTERVAL: return "status-interval";
	case OPT_INPUT: return "input-source";
	case OPT_SEAT: return "seat";
	default: return NULL;
	}
}

static int parse_one(int c, const char *opt, const char *arg, struct cmdline *cl)
{
	struct vd_daemon_opts *o = &cl->o;
	const char *key = setting_of(c);

	if (key)
		return add_override(cl, opt, key, arg);
	switch (c) {
	case OPT_CAPTURE_DIR: return capture_dir(cl, arg);
	case OPT_COPY: return add_override(cl, "--copy", "copy", "yes");
	case OPT_CONFIG: o->config_path = arg; o->config_required = true; return 0;
	case OPT_SIM_VKB: o->sim_vkb = true; return 0;
	case OPT_SIM_GUESTS: return parse_u32(arg, "number of guests", 0, 64, &o->sim_guests);
	case OPT_SIM_CONNECTORS:
		return parse_u32(arg, "number of connectors", 1, 4, &o->sim_connectors);
	case OPT_SIM_RESOLUTION: return parse_resolution(arg, o);
	case OPT_SIM_FRAMES:
		return parse_u32(arg, "number of frames", 0, UINT32_MAX, &o->sim_frames);
	case OPT_SIM_SOCKET: return vd_hv_simhost_set_socket(arg);
	case OPT_SIM_GET_EDID: o->sim_get_edid = true; return 0;
	case OPT_SIM_BE_ALLOC: o->sim_be_alloc = true; return 0;
	case OPT_SIM_SPAN: o->sim_span = true; return 0;
	case OPT_SIM_CHURN: o->sim_churn = true; return 0;
	case OPT_SIM_FORMAT: return parse_fourcc(arg, &o->sim_fourcc);
	case OPT_RUN_FOR: return parse_u32(arg, "run time", 0, 86400 * 365, &o->run_for_s);
	case OPT_CHECK_CONFIG: cl->check = true; return 0;
	case 'v': cl->verbosity++; return 0;
	case 'q': cl->verbosity = -1; return 0;
	default: return -EINVAL;
	}
}

static const struct option longopts[] = {
	{"hypervisor", required_argument, NULL, OPT_HYPERVISOR},
	{"output", required_argument, NULL, OPT_OUTPUT},
	{"sim-guests", required_argument, NULL, OPT_SIM_GUESTS},
	{"sim-connectors", required_argument, NULL, OPT_SIM_CONNECTORS},
	{"sim-resolution", required_argument, NULL, OPT_SIM_RESOLUTION},
	{"sim-frames", required_argument, NULL, OPT_SIM_FRAMES},
	{"sim-socket", required_argument, NULL, OPT_SIM_SOCKET},
	{"sim-get-edid", no_argument, NULL, OPT_SIM_GET_EDID},
	{"sim-be-alloc", no_argument, NULL, OPT_SIM_BE_ALLOC},
	{"sim-span", no_argument, NULL, OPT_SIM_SPAN},
	{"sim-churn", no_argument, NULL, OPT_SIM_CHURN},
	{"sim-format", required_argument, NULL, OPT_SIM_FORMAT},
	{"capture-dir", required_argument, NULL, OPT_CAPTURE_DIR},
	{"run-for", required_argument, NULL, OPT_RUN_FOR},
	{"drm-device", required_argument, NULL, OPT_DRM_DEVICE},
	{"config", required_argument, NULL, OPT_CONFIG},
	{"check-config", no_argument, NULL, OPT_CHECK_CONFIG},
	{"control-socket", required_argument, NULL, OPT_CONTROL_SOCKET},
	{"control-group", required_argument, NULL, OPT_CONTROL_GROUP},
	{"copy", no_argument, NULL, OPT_COPY},
	{"input", required_argument, NULL, OPT_INPUT},
	{"seat", required_argument, NULL, OPT_SEAT},
	{"sim-vkb", no_argument, NULL, OPT_SIM_VKB},
	{"refresh", required_argument, NULL, OPT_REFRESH},
	{"status-interval", required_argument, NULL, OPT_STATUS_INTERVAL},
	{"verbose", no_argument, NULL, 'v'},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, OPT_VERSION},
	{0},
};

/* The option as the user typed it, for messages ("--output"). */
static const char *option_name(int c, int longindex)
{
	static char buf[48];

	if (longindex >= 0) {
		snprintf(buf, sizeof(buf), "--%s", longopts[longindex].name);
		return buf;
	}
	snprintf(buf, sizeof(buf), "-%c", c);
	return buf;
}

/* Bad usage: what was wrong is said (here, by getopt or by parse_one), not the whole usage. */
static int parse_args(int argc, char **argv, struct cmdline *cl)
{
	int c, longindex = -1;

	while ((c = getopt_long(argc, argv, "vqh", longopts, &longindex)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c == OPT_VERSION) {
			puts("vdispld " VD_VERSION);
			exit(0);
		}
		if (c == '?' || parse_one(c, option_name(c, longindex), optarg, cl) < 0) {
			try_help();
			return -EINVAL;
		}
		longindex = -1;
	}
	if (optind < argc) {
		fprintf(stderr, "vdispld: unexpected argument \"%s\"\n", argv[optind]);
		try_help();
		return -EINVAL;
	}
	vd_log_set_level(cl->verbosity < 0 ? LOG_ERR : cl->verbosity == 0 ? LOG_INFO : LOG_DEBUG);
	return 0;
}

static void print_error(void *userdata, const char *msg)
{
	fprintf(stderr, "vdispld: %s\n", msg);
}

/* The command line's settings, checked before any file is read: bad ones are bad usage. */
static int check_overrides(const struct cmdline *cl)
{
	struct vd_config *cfg;
	int r = vd_config_new_default(&cfg);

	if (r >= 0)
		r = vd_config_override(cfg, cl->ov, cl->nov, print_error, NULL);
	vd_config_free(cfg);
	if (r < 0)
		try_help();
	return r;
}

/* The files, then the command line over them. err NULL: errors to the log. */
static int load_config(const struct cmdline *cl, vd_config_err_fn err, struct vd_config **ret)
{
	struct vd_config *cfg;
	int r = vd_config_load(cl->o.config_path, cl->o.config_required, err, NULL, &cfg);

	if (r < 0)
		return r;
	r = vd_config_override(cfg, cl->ov, cl->nov, err, NULL);
	if (r < 0) {
		vd_config_free(cfg);
		return r;
	}
	*ret = cfg;
	return 0;
}

/* The daemon runs on the configuration as the command line left it. */
static void apply_config(struct cmdline *cl, const struct vd_config *cfg)
{
	struct vd_daemon_opts *o = &cl->o;
	const struct vd_global_conf *g = &cfg->global;

	o->config = cfg;
	o->overrides = cl->ov;
	o->noverrides = cl->nov;
	o->hypervisor = g->hypervisor;
	o->output = g->output;
	o->drm_device = g->drm_device[0] ? g->drm_device : NULL;
	o->capture_dir = g->capture_dir[0] ? g->capture_dir : NULL;
	o->control_socket = g->control_socket;
	o->control_group = g->control_group;
	o->force_copy = g->copy;
	o->refresh_mhz = g->refresh_mhz;
	o->status_interval_s = g->status_interval_s;
	o->input = g->input_source;
	o->seat = g->seat;
}

/* --check-config: 0 if every file is good (with the command line over it). */
static int check_config(const struct cmdline *cl)
{
	struct vd_config *cfg;

	if (load_config(cl, print_error, &cfg) < 0)
		return 1;
	printf("%s: %s, %u guest file(s) in %s/guests.d\n", cfg->path,
	       cfg->found ? "ok" : "absent (built-in defaults)", cfg->nguests, cfg->dir);
	vd_config_free(cfg);
	return 0;
}

/* The CPU time this process used, and per flip: what a flip path costs (same workload compared). */
static void print_cpu(bool sim, uint64_t flips)
{
	struct rusage ru;
	double user, sys;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return;
	user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	printf("cpu: user=%.3fs system=%.3fs, %.1f us per flip%s\n", user, sys,
	       flips ? (user + sys) * 1e6 / (double)flips : 0.0,
	       sim ? " (the simulated guests' drawing included)" : "");
}

int main(int argc, char **argv)
{
	struct cmdline cl = {
		.o = {
			.sim_guests = 2,
			.sim_connectors = 1,
			.sim_width = 1024,
			.sim_height = 768,
		},
	};
	struct vd_config *cfg;
	struct vd_summary s;
	bool sim;
	int r;

	if (parse_args(argc, argv, &cl) < 0 || check_overrides(&cl) < 0)
		return 2;
	if (cl.check)
		return check_config(&cl);
	if (load_config(&cl, NULL, &cfg) < 0) {
		vd_err("the configuration has errors: not starting");
		return 1;
	}
	apply_config(&cl, cfg);
	r = vd_daemon_run(&cl.o, &s);
	/* o's strings are the configuration's: read them before it goes */
	sim = strcmp(cl.o.hypervisor, "sim") == 0;
	vd_config_free(cfg);
	if (!s.started)
		return 1; /* said why; nothing ran to sum up */
	printf("summary: flips=%llu events=%llu copies=%llu requests=%llu errors=%llu guests=%u "
	       "seconds=%.1f\n",
	       (unsigned long long)s.flips, (unsigned long long)s.events,
	       (unsigned long long)s.copies, (unsigned long long)s.requests,
	       (unsigned long long)s.errors, s.guests, s.seconds);
	print_cpu(sim, s.flips);
	if (r < 0)
		vd_err("exiting: %s", strerror(-r));
	return r < 0 ? 1 : 0;
}
