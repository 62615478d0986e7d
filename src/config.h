/* SPDX-License-Identifier: MIT */
/*
 * Configuration files (vdispld.conf(5)): the global file and one file per
 * guest in <confdir>/guests.d/, matched by the domain's name in xenstore.
 * Parsed with libinih; every error names file, line and key.
 *
 * A guest's settings are layered: built-in defaults, the [default]
 * section of the global file, guests.d/default.conf, guests.d/<name>.conf.
 *
 * A loaded configuration is plain data (fixed-size strings, no pointers
 * into other objects), so a reload builds a new one and swaps it in whole.
 */
#ifndef VD_CONFIG_H
#define VD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buffers/buffers.h"

#define VD_CONFIG_DEFAULT_PATH "/etc/vdispld/vdispld.conf"
#define VD_CONFIG_DEFAULT_SOCKET "/run/vdispld/control"
#define VD_CONF_MAX_CONNECTORS 4u
#define VD_CONF_MAX_INPUTS 8u

struct vd_guest_conf {
	bool zero_copy; /* try dma-buf export (the global zero-copy can veto it) */
	struct vd_caps caps;
	/* "HDMI-A-1" or "X,Y,WxH"; "" unmapped. Passed to the output as is. */
	char connector[VD_CONF_MAX_CONNECTORS][64];
	/* Devices this guest claims (vd_input_rule_check forms), fed to it only. */
	char input[VD_CONF_MAX_INPUTS][128];
	uint32_t ninputs;
	char hotkey[64];    /* gives this guest the focus (vd_hotkey_parse), "" none */
	int log_level;      /* LOG_ERR .. LOG_DEBUG for its lines, or -1: the daemon's */
	char source[256];   /* the file that set anything last, "" built-in */
};

struct vd_global_conf {
	char hypervisor[8];      /* "xen", "sim" or "simhost" */
	char output[32];
	char drm_device[256];    /* "" the output's choice */
	char capture_dir[256];   /* "" no capture */
	char control_socket[108]; /* "" no control socket */
	char control_group[64];  /* "" root only (0600) */
	bool copy;
	bool zero_copy;          /* off: no guest gets zero-copy */
	uint32_t refresh_mhz;
	uint32_t destroy_timeout_ms;
	uint32_t status_interval_s;
	char input_source[16];   /* "auto" (libinput with kms), "libinput", "none" */
	char seat[64];           /* libinput's udev seat */
	char cycle_hotkey[64];   /* cycles the input focus, "" none */
	bool focus_follows_pointer;
	/* Global caps over every guest (docs/resources.md); 0: derived at start. */
	uint32_t maptrack_frames;   /* Dom0's gnttab_max_maptrack_frames */
	uint64_t total_grant_maps;  /* 0: half of maptrack_frames x 256 */
	uint64_t total_fds;         /* 0: RLIMIT_NOFILE less what the daemon needs besides */
	uint64_t total_be_pages;
	uint64_t total_retry;
};

struct vd_guest_entry {
	char name[128]; /* domain name: guests.d/<name>.conf */
	struct vd_guest_conf conf;
};

struct vd_config {
	char path[256];   /* the global file ("" none) */
	char dir[256];    /* where guests.d/ is looked for */
	bool found;       /* the global file existed */
	struct vd_global_conf global;
	uint32_t global_in_file; /* which global keys the file set (vd_config_global_in_file) */
	struct vd_guest_conf defaults; /* for guests without a file of their own */
	struct vd_guest_entry *guests;
	uint32_t nguests;
};

/* Gets each error message ("FILE:LINE: KEY: what"), without a newline. */
typedef void (*vd_config_err_fn)(void *userdata, const char *msg);

/*
 * Load path (NULL: VD_CONFIG_DEFAULT_PATH) and <its dir>/guests.d/. A
 * missing global file is an error only if must_exist; a missing guests.d
 * is fine. Every problem goes to err (NULL: the log). Returns 0, or
 * -EINVAL after reporting every error found, or another -errno.
 */
int vd_config_load(const char *path, bool must_exist, vd_config_err_fn err, void *userdata,
		   struct vd_config **ret_cfg);
/* Built-in defaults only. */
int vd_config_new_default(struct vd_config **ret_cfg);
/* A global setting from the command line. */
struct vd_config_override {
	const char *option; /* names it in messages: "--output" */
	const char *key;    /* as in the file: "output" */
	const char *value;  /* as text: "kms", "yes", "60" */
};
/*
 * Put ov[0..n) over what the files said, in order, checked as in a file
 * ("--output: expected headless, kms or wayland, got ..."). 0, -EINVAL
 * (each error reported to err, NULL: the log), -ENOENT for a key that is
 * not a global one (a programmer's error).
 */
int vd_config_override(struct vd_config *cfg, const struct vd_config_override *ov, size_t n,
		       vd_config_err_fn err, void *userdata);
/* The global file set key (not the built-in default, not only the command line). */
bool vd_config_global_in_file(const struct vd_config *cfg, const char *key);
/* A global key's value as the file would say it ("yes", "60"); -ENOENT for no such key. */
int vd_config_global_value(const struct vd_global_conf *g, const char *key, char *buf,
			   size_t size);
void vd_config_free(struct vd_config *cfg); /* NULL ok */

/* The settings of the guest named name (NULL: unnamed): its file's, or the defaults. Borrowed. */
const struct vd_guest_conf *vd_config_guest(const struct vd_config *cfg, const char *name);
/* Fill caps and zero_copy of bo from a guest's settings and the global policy. */
void vd_config_apply_bufs(const struct vd_config *cfg, const struct vd_guest_conf *g,
			  struct vd_bufs_opts *bo);
/* The global caps (vd_backend_opts.limits); 0 where the backend derives them. */
void vd_config_apply_limits(const struct vd_config *cfg, struct vd_res_vec *limits);

#endif
