/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "input/router.h"
#include "log.h"

#define PAGE_SIZE_ 4096u

/* One file being parsed. */
struct parse {
	struct vd_config *cfg;
	const char *file;
	FILE *f;
	unsigned line;
	bool line_done;    /* the last read ended a line */
	bool guest_file;   /* guests.d/: no sections, no global keys */
	struct vd_guest_conf *guest; /* where guest keys go */
	bool inputs_set;   /* this file set input= already (replaces, not appends) */
	unsigned errors;
	vd_config_err_fn err;
	void *userdata;
};

static const struct vd_guest_conf guest_defaults = {
	.zero_copy = true,
	.caps = VD_CAPS_DEFAULT,
};

static void report(vd_config_err_fn err, void *userdata, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void report(vd_config_err_fn err, void *userdata, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err)
		err(userdata, msg);
	else
		vd_err("%s", msg);
}

/* "FILE:LINE: KEY: what" */
static int bad(struct parse *p, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad(struct parse *p, const char *key, const char *fmt, ...)
{
	char what[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	report(p->err, p->userdata, "%s:%u: %s: %s", p->file, p->line, key, what);
	p->errors++;
	return 0;
}

/* ---- values ---- */

static int parse_num(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int get_u32(struct parse *p, const char *key, const char *val, uint32_t min,
		   uint32_t max, uint32_t *ret)
{
	uint64_t v;

	if (parse_num(val, &v) < 0 || v < min || v > max)
		return bad(p, key, "expected a number %u..%u, got \"%s\"", min, max, val);
	*ret = (uint32_t)v;
	return 1;
}

static int get_u64(struct parse *p, const char *key, const char *val, uint32_t min,
		   uint32_t max, uint64_t *ret)
{
	uint32_t v = 0;
	int r = get_u32(p, key, val, min, max, &v);

	if (r > 0)
		*ret = v;
	return r;
}

static int get_bool(struct parse *p, const char *key, const char *val, bool *ret)
{
	static const char *const yes[] = {"yes", "on", "true", "1"};
	static const char *const no[] = {"no", "off", "false", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(val, yes[i]) || !strcasecmp(val, no[i])) {
			*ret = !strcasecmp(val, yes[i]);
			return 1;
		}
	}
	return bad(p, key, "expected yes/no (on/off, true/false, 1/0), got \"%s\"", val);
}

/* 64M, 1G, 512K or plain bytes; 1 MiB .. 64 GiB. */
static int get_bytes(struct parse *p, const char *key, const char *val, uint64_t *ret_pages)
{
	static const char units[] = "KMG";
	uint64_t v, mul = 1;
	char num[32];
	size_t len = strlen(val);
	const char *u;

	if (len == 0 || len >= sizeof(num))
		goto fail;
	memcpy(num, val, len + 1);
	u = strchr(units, toupper((unsigned char)num[len - 1]));
	if (u && *u) {
		mul = 1ull << (10 * (u - units + 1));
		num[len - 1] = '\0';
	}
	if (parse_num(num, &v) < 0 || v > (64ull << 30) / mul || v * mul < (1ull << 20))
		goto fail;
	*ret_pages = (v * mul + PAGE_SIZE_ - 1) / PAGE_SIZE_;
	return 1;
fail:
	return bad(p, key, "expected a size 1M..64G (bytes, or with K, M or G), got \"%s\"", val);
}

static int get_str(struct parse *p, const char *key, const char *val, char *dst, size_t size)
{
	if (strlen(val) >= size)
		return bad(p, key, "longer than %zu characters", size - 1);
	memcpy(dst, val, strlen(val) + 1);
	return 1;
}

static int get_path(struct parse *p, const char *key, const char *val, char *dst, size_t size,
		    bool empty_ok)
{
	if (!val[0] && empty_ok)
		return get_str(p, key, val, dst, size);
	if (val[0] != '/')
		return bad(p, key, "expected an absolute path, got \"%s\"", val);
	return get_str(p, key, val, dst, size);
}

static bool is_word(const char *s, const char *extra)
{
	if (!isalpha((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
			return false;
	return true;
}

/* Modifiers and a key joined by '+' (vd_hotkey_parse), or "" for none. */
static int get_hotkey(struct parse *p, const char *key, const char *val, char *dst, size_t size)
{
	struct vd_hotkey hk;

	if (vd_hotkey_parse(val, &hk) < 0)
		return bad(p, key,
			   "expected modifiers (ctrl, alt, shift, meta) and one key joined by '+' "
			   "(e.g. ctrl+alt+f1), got \"%s\"",
			   val);
	return get_str(p, key, val, dst, size);
}

/*
 * A physical connector name (HDMI-A-1), a screen rectangle X,Y,WxH, or an
 * IVI surface id 1..4294967295 (the Wayland output on an IVI compositor).
 */
static int get_mapping(struct parse *p, const char *key, const char *val, char *dst, size_t size)
{
	unsigned x, y, w, h;
	uint64_t id;
	char tail;

	if (is_word(val, "-_"))
		return get_str(p, key, val, dst, size);
	if (isdigit((unsigned char)val[0]) && !strchr(val, ',') && parse_num(val, &id) == 0 &&
	    id >= 1 && id <= UINT32_MAX)
		return get_str(p, key, val, dst, size);
	if (sscanf(val, "%u,%u,%ux%u%c", &x, &y, &w, &h, &tail) == 4 && isdigit((unsigned char)val[0]) &&
	    x <= 16384 && y <= 16384 && w >= 1 && h >= 1 && w <= 8192 && h <= 8192)
		return get_str(p, key, val, dst, size);
	return bad(p, key,
		   "expected a connector name (e.g. HDMI-A-1), a rectangle X,Y,WxH "
		   "(e.g. 0,0,1920x1080) or an IVI surface id (e.g. 4711), got \"%s\"",
		   val);
}

/* ---- keys ---- */

static int guest_connector(struct parse *p, const char *key, const char *val)
{
	const char *n = key + strlen("connector.");
	uint64_t idx;

	if (parse_num(n, &idx) < 0 || idx >= VD_CONF_MAX_CONNECTORS)
		return bad(p, key, "connector index must be 0..%u", VD_CONF_MAX_CONNECTORS - 1);
	return get_mapping(p, key, val, p->guest->connector[idx], sizeof(p->guest->connector[0]));
}

static int guest_input(struct parse *p, const char *key, const char *val)
{
	struct vd_guest_conf *g = p->guest;

	if (!p->inputs_set) {
		g->ninputs = 0;
		p->inputs_set = true;
	}
	if (g->ninputs == VD_CONF_MAX_INPUTS)
		return bad(p, key, "more than %u input devices", VD_CONF_MAX_INPUTS);
	if (vd_input_rule_check(val) < 0)
		return bad(p, key,
			   "expected a device path (/dev/input/...), name=GLOB or "
			   "UDEV_PROPERTY=GLOB (e.g. ID_PATH=pci-0000:00:14.0-usb-0:1:1.0), got \"%s\"",
			   val);
	if (!get_str(p, key, val, g->input[g->ninputs], sizeof(g->input[0])))
		return 0;
	g->ninputs++;
	return 1;
}

static int guest_key(struct parse *p, const char *key, const char *val)
{
	struct vd_guest_conf *g = p->guest;
	int r;

	if (!strcmp(key, "zero-copy"))
		r = get_bool(p, key, val, &g->zero_copy);
	else if (!strcmp(key, "max-buffers"))
		r = get_u32(p, key, val, 1, 4096, &g->caps.max_dbufs);
	else if (!strcmp(key, "max-framebuffers"))
		r = get_u32(p, key, val, 1, 8192, &g->caps.max_fbs);
	else if (!strcmp(key, "max-bytes"))
		r = get_bytes(p, key, val, &g->caps.max_pages);
	else if (!strcmp(key, "max-grant-maps"))
		r = get_u64(p, key, val, 16, 1u << 24, &g->caps.max_grant_maps);
	else if (!strcmp(key, "max-fds"))
		r = get_u64(p, key, val, 8, 1u << 20, &g->caps.max_fds);
	else if (!strcmp(key, "max-backend-bytes"))
		r = get_bytes(p, key, val, &g->caps.max_be_pages);
	else if (!strcmp(key, "max-retry-buffers"))
		r = get_u64(p, key, val, 1, 4096, &g->caps.max_retry);
	else if (!strncmp(key, "connector.", 10))
		r = guest_connector(p, key, val);
	else if (!strcmp(key, "input"))
		r = guest_input(p, key, val);
	else if (!strcmp(key, "hotkey"))
		r = get_hotkey(p, key, val, g->hotkey, sizeof(g->hotkey));
	else
		return -ENOENT;
	if (r)
		snprintf(g->source, sizeof(g->source), "%s", p->file);
	return r;
}

static int global_str_key(struct parse *p, struct vd_global_conf *gl, const char *key,
			  const char *val)
{
	if (!strcmp(key, "hypervisor"))
		return strcmp(val, "xen") && strcmp(val, "sim")
			       ? bad(p, key, "expected xen or sim, got \"%s\"", val)
			       : get_str(p, key, val, gl->hypervisor, sizeof(gl->hypervisor));
	if (!strcmp(key, "output"))
		return is_word(val, "-_") ? get_str(p, key, val, gl->output, sizeof(gl->output))
					  : bad(p, key, "expected an output name, got \"%s\"", val);
	if (!strcmp(key, "drm-device"))
		return get_path(p, key, val, gl->drm_device, sizeof(gl->drm_device), true);
	if (!strcmp(key, "capture-dir"))
		return get_path(p, key, val, gl->capture_dir, sizeof(gl->capture_dir), true);
	if (!strcmp(key, "control-socket"))
		return get_path(p, key, val, gl->control_socket, sizeof(gl->control_socket), true);
	if (!strcmp(key, "input-source"))
		return strcmp(val, "auto") && strcmp(val, "libinput") && strcmp(val, "wayland") &&
				       strcmp(val, "none")
			       ? bad(p, key, "expected auto, libinput, wayland or none, got \"%s\"",
				     val)
			       : get_str(p, key, val, gl->input_source, sizeof(gl->input_source));
	if (!strcmp(key, "seat"))
		return is_word(val, "-_") ? get_str(p, key, val, gl->seat, sizeof(gl->seat))
					  : bad(p, key, "expected a seat name, got \"%s\"", val);
	if (!strcmp(key, "cycle-hotkey"))
		return get_hotkey(p, key, val, gl->cycle_hotkey, sizeof(gl->cycle_hotkey));
	if (!strcmp(key, "control-group")) {
		if (val[0] && !getgrnam(val))
			return bad(p, key, "no group \"%s\" on this system", val);
		return get_str(p, key, val, gl->control_group, sizeof(gl->control_group));
	}
	return -ENOENT;
}

static int global_cap_key(struct parse *p, struct vd_global_conf *gl, const char *key,
			  const char *val)
{
	if (!strcmp(key, "maptrack-frames"))
		return get_u32(p, key, val, 16, 1u << 20, &gl->maptrack_frames);
	if (!strcmp(key, "total-grant-maps"))
		return get_u64(p, key, val, 1024, 1u << 28, &gl->total_grant_maps);
	if (!strcmp(key, "total-fds"))
		return get_u64(p, key, val, 64, 1u << 24, &gl->total_fds);
	if (!strcmp(key, "total-backend-bytes"))
		return get_bytes(p, key, val, &gl->total_be_pages);
	if (!strcmp(key, "total-retry-buffers"))
		return get_u64(p, key, val, 1, 65536, &gl->total_retry);
	return -ENOENT;
}

static int global_key(struct parse *p, const char *key, const char *val)
{
	struct vd_global_conf *gl = &p->cfg->global;
	uint32_t hz = 0;
	int r = global_str_key(p, gl, key, val);

	if (r != -ENOENT)
		return r;
	if (!strcmp(key, "refresh")) {
		r = get_u32(p, key, val, 0, 1000, &hz);
		gl->refresh_mhz = r ? hz * 1000 : gl->refresh_mhz;
		return r;
	}
	if (!strcmp(key, "destroy-timeout-ms"))
		return get_u32(p, key, val, 1, 2900, &gl->destroy_timeout_ms);
	if (!strcmp(key, "status-interval"))
		return get_u32(p, key, val, 0, 86400, &gl->status_interval_s);
	if (!strcmp(key, "zero-copy"))
		return get_bool(p, key, val, &gl->zero_copy);
	if (!strcmp(key, "copy"))
		return get_bool(p, key, val, &gl->copy);
	if (!strcmp(key, "focus-follows-pointer"))
		return get_bool(p, key, val, &gl->focus_follows_pointer);
	return global_cap_key(p, gl, key, val);
}

static bool in_list(const char *key, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(key, *list))
			return true;
	return false;
}

static const char *const global_keys[] = {
	"hypervisor", "output", "drm-device", "capture-dir", "control-socket", "control-group",
	"refresh", "destroy-timeout-ms", "status-interval", "zero-copy", "copy", "input-source",
	"seat", "cycle-hotkey", "focus-follows-pointer", "maptrack-frames", "total-grant-maps",
	"total-fds", "total-backend-bytes", "total-retry-buffers", NULL};
static const char *const guest_keys[] = {"zero-copy", "max-buffers", "max-framebuffers",
					 "max-bytes", "max-grant-maps", "max-fds",
					 "max-backend-bytes", "max-retry-buffers", "input",
					 "hotkey", NULL};

static bool is_guest_key(const char *key)
{
	return in_list(key, guest_keys) || !strncmp(key, "connector.", 10);
}

/* Where a key that is not allowed here belongs, for the message. */
static void misplaced(struct parse *p, const char *section, const char *key)
{
	if (!p->guest_file && !section[0] && is_guest_key(key))
		bad(p, key, "a guest setting: put it in [default] or a guest file");
	else if ((p->guest_file || section[0]) && in_list(key, global_keys))
		bad(p, key, "a global setting: put it at the top of vdispld.conf");
	else
		bad(p, key, "unknown key");
}

static int on_key(void *user, const char *section, const char *key, const char *val)
{
	struct parse *p = user;
	bool guest = p->guest_file || section[0];

	if (p->guest_file && section[0])
		bad(p, key, "sections are not used in guest files (found [%s])", section);
	else if (!p->guest_file && section[0] && strcmp(section, "default"))
		bad(p, key, "unknown section [%s] (only [default])", section);
	else if (guest ? !is_guest_key(key) : !in_list(key, global_keys))
		misplaced(p, section, key);
	else if (guest)
		guest_key(p, key, val);
	else
		global_key(p, key, val);
	/*
	 * Errors are counted by bad(). Returning 1 keeps inih going and
	 * leaves its return value to syntax errors alone.
	 */
	return 1;
}

/*
 * fgets for inih that counts lines (inih's handler gets no line number)
 * and strips leading blanks, so that an indented key is a key and not
 * the continuation of the previous value.
 */
static char *read_line(char *str, int num, void *stream)
{
	struct parse *p = stream;
	char *s;
	size_t len, lead;
	int c;

	if (p->line_done)
		p->line++;
	s = fgets(str, num, p->f);
	if (!s)
		return NULL;
	len = strlen(s);
	p->line_done = true;
	if (len && s[len - 1] != '\n' && !feof(p->f)) {
		bad(p, "(line)", "longer than %d characters", num - 2);
		while ((c = fgetc(p->f)) != EOF && c != '\n')
			;
		s[0] = '\0';
		return s;
	}
	lead = strspn(s, " \t");
	memmove(s, s + lead, len - lead + 1);
	return s;
}

static int parse_file(struct parse *p)
{
	int r;

	p->f = fopen(p->file, "re");
	if (!p->f)
		return -errno;
	p->line = 0;
	p->line_done = true;
	r = ini_parse_stream(read_line, p, on_key, p);
	fclose(p->f);
	p->f = NULL;
	if (r > 0) {
		p->line = (unsigned)r;
		bad(p, "syntax", "expected \"key = value\", \"[section]\" or a comment");
	}
	return r < 0 ? -ENOMEM : 0;
}

/* ---- guests.d ---- */

static int conf_file_filter(const struct dirent *e)
{
	size_t len = strlen(e->d_name);

	return e->d_name[0] != '.' && len > 5 && !strcmp(e->d_name + len - 5, ".conf");
}

static int add_guest(struct parse *p, const char *name, char *path)
{
	struct vd_config *cfg = p->cfg;
	struct vd_guest_entry *g;

	if (strlen(name) >= sizeof(g->name)) {
		report(p->err, p->userdata, "%s: guest name longer than %zu characters", path,
		       sizeof(g->name) - 1);
		p->errors++;
		return 0;
	}
	g = realloc(cfg->guests, (cfg->nguests + 1) * sizeof(*g));
	if (!g)
		return -ENOMEM;
	cfg->guests = g;
	g = &cfg->guests[cfg->nguests++];
	memset(g, 0, sizeof(*g));
	memcpy(g->name, name, strlen(name));
	g->conf = cfg->defaults;
	p->guest = &g->conf;
	return 1;
}

static int parse_guest_file(struct parse *p, const char *dir, const char *fname, bool is_default)
{
	char *path, name[256];
	int r;

	if (asprintf(&path, "%s/%s", dir, fname) < 0)
		return -ENOMEM;
	snprintf(name, sizeof(name), "%.*s", (int)(strlen(fname) - 5), fname);
	p->guest = &p->cfg->defaults;
	r = is_default ? 1 : add_guest(p, name, path);
	if (r > 0) {
		p->file = path;
		p->inputs_set = false;
		if (!is_default)
			snprintf(p->guest->source, sizeof(p->guest->source), "%s", path);
		r = parse_file(p);
		if (r < 0) {
			report(p->err, p->userdata, "%s: %s", path, strerror(-r));
			p->errors++;
			r = 0;
		}
	}
	free(path);
	return r;
}

/* default.conf first: every other guest file starts from the defaults. */
static int parse_guests_dir(struct parse *p)
{
	struct dirent **list;
	char *dir;
	int n, r = 0;

	if (asprintf(&dir, "%s/guests.d", p->cfg->dir) < 0)
		return -ENOMEM;
	n = scandir(dir, &list, conf_file_filter, alphasort);
	if (n < 0) {
		r = errno == ENOENT ? 0 : -errno;
		if (r < 0)
			report(p->err, p->userdata, "%s: %s", dir, strerror(-r));
		free(dir);
		return r;
	}
	for (int i = 0; i < n && r >= 0; i++)
		if (!strcmp(list[i]->d_name, "default.conf"))
			r = parse_guest_file(p, dir, list[i]->d_name, true);
	for (int i = 0; i < n && r >= 0; i++)
		if (strcmp(list[i]->d_name, "default.conf"))
			r = parse_guest_file(p, dir, list[i]->d_name, false);
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
	free(dir);
	return r;
}

/* ---- loading ---- */

int vd_config_new_default(struct vd_config **ret_cfg)
{
	struct vd_config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return -ENOMEM;
	cfg->global = (struct vd_global_conf){
		.hypervisor = "xen",
		.output = "headless",
		.control_socket = VD_CONFIG_DEFAULT_SOCKET,
		.zero_copy = true,
		.refresh_mhz = 60000,
		.destroy_timeout_ms = 2500,
		.status_interval_s = 5,
		.input_source = "auto",
		.seat = "seat0",
		.cycle_hotkey = "meta+f12",
		.focus_follows_pointer = true,
		.maptrack_frames = VD_MAPTRACK_FRAMES_DEFAULT,
	};
	cfg->global.total_be_pages = ((struct vd_res_vec)VD_LIMITS_DEFAULT).v[VD_RES_BE_PAGES];
	cfg->global.total_retry = ((struct vd_res_vec)VD_LIMITS_DEFAULT).v[VD_RES_RETRY];
	cfg->defaults = guest_defaults;
	*ret_cfg = cfg;
	return 0;
}

static int set_paths(struct vd_config *cfg, const char *path)
{
	const char *slash = strrchr(path, '/');

	if (strlen(path) >= sizeof(cfg->path))
		return -ENAMETOOLONG;
	memcpy(cfg->path, path, strlen(path) + 1);
	if (!slash)
		snprintf(cfg->dir, sizeof(cfg->dir), ".");
	else if (slash == path)
		snprintf(cfg->dir, sizeof(cfg->dir), "/");
	else
		snprintf(cfg->dir, sizeof(cfg->dir), "%.*s", (int)(slash - path), path);
	return 0;
}

static int load_main(struct parse *p, bool must_exist)
{
	int r;

	p->file = p->cfg->path;
	p->guest = &p->cfg->defaults;
	r = parse_file(p);
	if (r == -ENOENT && !must_exist)
		return 0;
	if (r < 0) {
		report(p->err, p->userdata, "%s: %s", p->cfg->path, strerror(-r));
		return r;
	}
	p->cfg->found = true;
	return 0;
}

int vd_config_load(const char *path, bool must_exist, vd_config_err_fn err, void *userdata,
		   struct vd_config **ret_cfg)
{
	struct parse p = {.err = err, .userdata = userdata};
	struct vd_config *cfg;
	int r;

	r = vd_config_new_default(&cfg);
	if (r < 0)
		return r;
	p.cfg = cfg;
	r = set_paths(cfg, path ? path : VD_CONFIG_DEFAULT_PATH);
	if (r < 0)
		report(err, userdata, "%s: %s", path, strerror(-r));
	if (r >= 0)
		r = load_main(&p, must_exist);
	if (r >= 0) {
		p.guest_file = true;
		r = parse_guests_dir(&p);
	}
	if (r >= 0 && p.errors)
		r = -EINVAL;
	if (r < 0) {
		vd_config_free(cfg);
		return r;
	}
	*ret_cfg = cfg;
	return 0;
}

void vd_config_free(struct vd_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->guests);
	free(cfg);
}

const struct vd_guest_conf *vd_config_guest(const struct vd_config *cfg, const char *name)
{
	for (uint32_t i = 0; name && i < cfg->nguests; i++)
		if (!strcmp(cfg->guests[i].name, name))
			return &cfg->guests[i].conf;
	return &cfg->defaults;
}

void vd_config_apply_bufs(const struct vd_config *cfg, const struct vd_guest_conf *g,
			  struct vd_bufs_opts *bo)
{
	bo->caps = g->caps;
	bo->zero_copy = cfg->global.zero_copy && g->zero_copy;
	bo->destroy_timeout_ms = cfg->global.destroy_timeout_ms;
}

void vd_config_apply_limits(const struct vd_config *cfg, struct vd_res_vec *limits)
{
	const struct vd_global_conf *g = &cfg->global;

	limits->v[VD_RES_MAPS] = g->total_grant_maps
					 ? g->total_grant_maps
					 : (uint64_t)g->maptrack_frames * VD_MAPTRACK_PER_FRAME / 2;
	limits->v[VD_RES_FDS] = g->total_fds;
	limits->v[VD_RES_BE_PAGES] = g->total_be_pages;
	limits->v[VD_RES_RETRY] = g->total_retry;
}
