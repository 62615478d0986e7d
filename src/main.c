/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "config.h"
#include "daemon.h"
#include "hv/simhost/simhost.h"
#include "displif_proto.h"
#include "log.h"
#include "parse.h"

#define UNSET UINT32_MAX /* not given on the command line: the config file decides */

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
	      "Xen para-virtual display backend (displif, xl 'vdispl' devices).\n\n"
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
	      "  --capture-dir DIR      write one PNG per connector, refreshed\n"
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
	      "  --control-socket PATH  control socket for vdispctl (default: " VD_CONFIG_DEFAULT_SOCKET
	      ";\n"
	      "                         \"\": none)\n"
	      "  --control-group GROUP  group allowed on the control socket (default: root only)\n"
	      "  -v, --verbose          more logging (repeat for debug)\n"
	      "  -q, --quiet            errors only\n"
	      "  -h, --help             this text\n"
	      "      --version          print the version\n",
	      f);
}

static int parse_u32(const char *arg, const char *what, uint32_t max, uint32_t *ret)
{
	uint32_t v;

	if (vd_parse_u32(arg, &v) < 0 || v > max) {
		fprintf(stderr, "vdispld: invalid %s \"%s\" (expected 0..%u)\n", what, arg, max);
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

static int parse_one(int c, const char *arg, struct vd_daemon_opts *o, int *verbosity)
{
	uint32_t hz;

	switch (c) {
	case OPT_HYPERVISOR:
		if (strcmp(arg, "xen") && strcmp(arg, "sim") && strcmp(arg, "simhost")) {
			fprintf(stderr, "vdispld: unknown hypervisor \"%s\" (xen, sim or simhost)\n",
				arg);
			return -EINVAL;
		}
		o->hypervisor = arg;
		return 0;
	case OPT_OUTPUT: o->output = arg; return 0;
	case OPT_DRM_DEVICE: o->drm_device = arg; return 0;
	case OPT_CONFIG: o->config_path = arg; o->config_required = true; return 0;
	case OPT_CONTROL_SOCKET: o->control_socket = arg; return 0;
	case OPT_CONTROL_GROUP: o->control_group = arg; return 0;
	case OPT_COPY: o->force_copy = true; return 0;
	case OPT_SIM_VKB: o->sim_vkb = true; return 0;
	case OPT_SEAT: o->seat = arg; return 0;
	case OPT_INPUT:
		if (strcmp(arg, "auto") && strcmp(arg, "libinput") && strcmp(arg, "wayland") &&
		    strcmp(arg, "none") && strcmp(arg, "script")) {
			fprintf(stderr,
				"vdispld: unknown input \"%s\" (auto, libinput, wayland or none)\n",
				arg);
			return -EINVAL;
		}
		o->input = arg;
		return 0;
	case OPT_CAPTURE_DIR: o->capture_dir = arg; return 0;
	case OPT_SIM_GUESTS: return parse_u32(arg, "number of guests", 64, &o->sim_guests);
	case OPT_SIM_CONNECTORS:
		if (parse_u32(arg, "number of connectors", 4, &o->sim_connectors) < 0)
			return -EINVAL;
		return o->sim_connectors ? 0 : (fprintf(stderr, "vdispld: 1-4 connectors\n"), -EINVAL);
	case OPT_SIM_RESOLUTION: return parse_resolution(arg, o);
	case OPT_SIM_FRAMES: return parse_u32(arg, "number of frames", UINT32_MAX, &o->sim_frames);
	case OPT_SIM_SOCKET: return vd_hv_simhost_set_socket(arg);
	case OPT_SIM_GET_EDID: o->sim_get_edid = true; return 0;
	case OPT_SIM_BE_ALLOC: o->sim_be_alloc = true; return 0;
	case OPT_SIM_SPAN: o->sim_span = true; return 0;
	case OPT_SIM_FORMAT: return parse_fourcc(arg, &o->sim_fourcc);
	case OPT_RUN_FOR: return parse_u32(arg, "run time", 86400 * 365, &o->run_for_s);
	case OPT_STATUS_INTERVAL:
		return parse_u32(arg, "status interval", 86400, &o->status_interval_s);
	case OPT_REFRESH:
		if (parse_u32(arg, "refresh rate", 1000, &hz) < 0)
			return -EINVAL;
		o->refresh_mhz = hz * 1000;
		return 0;
	case 'v': (*verbosity)++; return 0;
	case 'q': *verbosity = -1; return 0;
	default: return -EINVAL;
	}
}

static int parse_args(int argc, char **argv, struct vd_daemon_opts *o, bool *ret_check)
{
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
	int c, verbosity = 0;

	while ((c = getopt_long(argc, argv, "vqh", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c == OPT_VERSION) {
			puts("vdispld " VD_VERSION);
			exit(0);
		}
		if (c == OPT_CHECK_CONFIG) {
			*ret_check = true;
			continue;
		}
		if (c == '?' || parse_one(c, optarg, o, &verbosity) < 0) {
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vdispld: unexpected argument \"%s\"\n", argv[optind]);
		return -EINVAL;
	}
	vd_log_set_level(verbosity < 0 ? LOG_ERR : verbosity == 0 ? LOG_INFO : LOG_DEBUG);
	return 0;
}

/* The command line wins over the file: only what it left unset comes from cfg. */
static void apply_config(struct vd_daemon_opts *o, const struct vd_config *cfg)
{
	const struct vd_global_conf *g = &cfg->global;

	o->config = cfg;
	o->hypervisor = o->hypervisor ? o->hypervisor : g->hypervisor;
	o->output = o->output ? o->output : g->output;
	if (!o->drm_device && g->drm_device[0])
		o->drm_device = g->drm_device;
	if (!o->capture_dir && g->capture_dir[0])
		o->capture_dir = g->capture_dir;
	o->control_socket = o->control_socket ? o->control_socket : g->control_socket;
	o->control_group = o->control_group ? o->control_group : g->control_group;
	o->force_copy = o->force_copy || g->copy;
	if (o->refresh_mhz == UNSET)
		o->refresh_mhz = g->refresh_mhz;
	if (o->status_interval_s == UNSET)
		o->status_interval_s = g->status_interval_s;
}

static void print_error(void *userdata, const char *msg)
{
	fprintf(stderr, "vdispld: %s\n", msg);
}

/* --check-config: 0 if every file is good. */
static int check_config(const struct vd_daemon_opts *o)
{
	struct vd_config *cfg;
	int r = vd_config_load(o->config_path, o->config_required, print_error, NULL, &cfg);

	if (r < 0)
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
	struct vd_daemon_opts o = {
		.refresh_mhz = UNSET,
		.sim_guests = 2,
		.sim_connectors = 1,
		.sim_width = 1024,
		.sim_height = 768,
		.status_interval_s = UNSET,
	};
	struct vd_config *cfg;
	struct vd_summary s;
	bool check = false, sim;
	int r;

	if (parse_args(argc, argv, &o, &check) < 0)
		return 2;
	if (check)
		return check_config(&o);
	if (vd_config_load(o.config_path, o.config_required, NULL, NULL, &cfg) < 0) {
		vd_err("the configuration has errors: not starting");
		return 1;
	}
	apply_config(&o, cfg);
	r = vd_daemon_run(&o, &s);
	/* o's strings may be the configuration's: read them before it goes */
	sim = o.hypervisor && strcmp(o.hypervisor, "sim") == 0;
	vd_config_free(cfg);
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
