/* SPDX-License-Identifier: MIT */
/* The daemon object: the loop and everything that runs on it. */
#ifndef VD_DAEMON_H
#define VD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

struct vd_config;
struct vd_config_override;

struct vd_daemon_opts {
	const char *hypervisor;   /* "xen", "sim" or "simhost" */
	const char *output;       /* "headless", "kms" or "wayland" */
	const char *capture_dir;  /* NULL: no capture */
	const char *drm_device;   /* kms: NULL: the first card with a display */
	bool force_copy;
	uint32_t refresh_mhz;
	uint32_t run_for_s;       /* 0: until a signal */
	uint32_t sim_guests;
	uint32_t sim_connectors;
	uint32_t sim_width, sim_height;
	uint32_t sim_frames;      /* per connector, 0: forever */
	bool sim_get_edid;        /* simulated guests send GET_EDID and log the answer */
	bool sim_be_alloc;        /* simulated guests ask for backend-allocated buffers */
	bool sim_span;            /* one fb spans a simulated guest's connectors */
	bool sim_churn;           /* simulated guests: a fresh buffer every frame */
	uint32_t sim_fourcc;      /* buffer format of simulated guests, 0: XRGB8888 */
	uint32_t status_interval_s;
	/* Input */
	const char *input;        /* "auto", "libinput", "wayland", "none"; NULL: the config's */
	const char *seat;         /* libinput seat; NULL: the config's */
	bool sim_vkb;             /* sim: every simulated guest gets a vkb too */
	/* Service (see service.h) */
	const struct vd_config *config; /* loaded at start; borrowed; NULL: defaults */
	const char *config_path;        /* reloaded on SIGHUP; NULL: the default path */
	bool config_required;           /* a missing file is an error (--config) */
	const char *control_socket;     /* NULL or "": none */
	const char *control_group;      /* NULL or "": root only */
	/* The command line's settings, put over each configuration loaded (reloads too) */
	const struct vd_config_override *overrides;
	uint32_t noverrides;
};

struct vd_summary {
	bool started; /* set up and served: false after a start-up failure (logged) */
	uint64_t flips, events, copies, requests, errors;
	uint32_t guests;
	double seconds;
};

/*
 * Runs until SIGTERM/SIGINT or run_for. Returns 0 or -errno; a start-up
 * failure (started false) is logged already.
 */
int vd_daemon_run(const struct vd_daemon_opts *opts, struct vd_summary *ret_summary);

#endif
