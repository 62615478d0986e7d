/* SPDX-License-Identifier: MIT */
/*
 * The keys of vdispld.conf(5) and their values: checked the same way
 * whether they come from a file or from the command line.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/input-event-codes.h>

#include "config_priv.h"
#include "log.h"
#include "input/router.h"
#include "output/output.h"

#define PAGE_SIZE_ 4096u

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
		return vd_config_bad(p, key, "expected a number %u..%u, got \"%s\"", min, max, val);
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
	return vd_config_bad(p, key, "expected yes/no (on/off, true/false, 1/0), got \"%s\"", val);
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
	return vd_config_bad(p, key,
			     "expected a size 1M..64G (bytes, or with K, M or G), got \"%s\"", val);
}

static int get_str(struct parse *p, const char *key, const char *val, char *dst, size_t size)
{
	if (strlen(val) >= size)
		return vd_config_bad(p, key, "longer than %zu characters", size - 1);
	memcpy(dst, val, strlen(val) + 1);
	return 1;
}

static int get_path(struct parse *p, const char *key, const char *val, char *dst, size_t size,
		    bool empty_ok)
{
	if (!val[0] && empty_ok)
		return get_str(p, key, val, dst, size);
	if (val[0] != '/')
		return vd_config_bad(p, key, "expected an absolute path, got \"%s\"", val);
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

/* ---- hotkeys ---- */

/*
 * A hotkey's key is never delivered to a guest. Alone (no modifier) it
 * would be taken from every guest for good: only keys guests hardly need.
 */
static bool fine_alone(uint32_t key)
{
	return key == KEY_SCROLLLOCK || key == KEY_PAUSE;
}

/* Modifiers and a key joined by '+' (vd_hotkey_parse), or "" for none. */
static int get_hotkey(struct parse *p, const char *key, const char *val, char *dst, size_t size)
{
	struct vd_hotkey hk;

	if (vd_hotkey_parse(val, &hk) < 0)
		return vd_config_bad(p, key,
				     "expected modifiers (ctrl, alt, shift, meta) and one key joined "
				     "by '+' (e.g. ctrl+alt+f1), got \"%s\"",
				     val);
	if (hk.key && !hk.mods && !fine_alone(hk.key))
		return vd_config_bad(p, key,
				     "\"%s\" alone would never reach a guest again: add modifiers "
				     "(e.g. ctrl+alt+%s; only scrolllock and pause may stand alone)",
				     val, val);
	return get_str(p, key, val, dst, size);
}

/* One key press with both held would match both (the router needs the modifiers, not only them). */
static bool hotkeys_clash(const char *a, const char *b)
{
	struct vd_hotkey x, y;

	if (vd_hotkey_parse(a, &x) < 0 || vd_hotkey_parse(b, &y) < 0 || !x.key || x.key != y.key)
		return false;
	return (x.mods & y.mods) == x.mods || (x.mods & y.mods) == y.mods;
}

/* A guest's own hotkey: in its own file, and unlike every other hotkey. */
static int guest_hotkey(struct parse *p, const char *key, const char *val)
{
	struct vd_config *cfg = p->cfg;
	struct vd_guest_conf *g = p->guest;

	if (val[0] && (!p->guest_file || p->default_file))
		return vd_config_bad(p, key,
				     "a hotkey gives one guest the focus: set it in that guest's "
				     "file (guests.d/NAME.conf)");
	if (!get_hotkey(p, key, val, g->hotkey, sizeof(g->hotkey)))
		return 0;
	if (hotkeys_clash(val, cfg->global.cycle_hotkey))
		return vd_config_bad(p, key, "\"%s\" clashes with the cycle-hotkey \"%s\"", val,
				     cfg->global.cycle_hotkey);
	for (uint32_t i = 0; i < cfg->nguests; i++)
		if (&cfg->guests[i].conf != g && hotkeys_clash(val, cfg->guests[i].conf.hotkey))
			return vd_config_bad(p, key, "\"%s\" clashes with guest %s's hotkey \"%s\"",
					     val, cfg->guests[i].name, cfg->guests[i].conf.hotkey);
	return 1;
}

/* ---- guest keys ---- */

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
	return vd_config_bad(p, key,
			     "expected a connector name (e.g. HDMI-A-1), a rectangle X,Y,WxH "
			     "(e.g. 0,0,1920x1080) or an IVI surface id (e.g. 4711), got \"%s\"",
			     val);
}

static int guest_connector(struct parse *p, const char *key, const char *val)
{
	const char *n = key + strlen("connector.");
	uint64_t idx;

	if (parse_num(n, &idx) < 0 || idx >= VD_CONF_MAX_CONNECTORS)
		return vd_config_bad(p, key, "connector index must be 0..%u",
				     VD_CONF_MAX_CONNECTORS - 1);
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
		return vd_config_bad(p, key, "more than %u input devices", VD_CONF_MAX_INPUTS);
	if (vd_input_rule_check(val) < 0)
		return vd_config_bad(p, key,
				     "expected a device path (/dev/input/...), name=GLOB or "
				     "UDEV_PROPERTY=GLOB (e.g. ID_PATH=pci-0000:00:14.0-usb-0:1:1.0), "
				     "got \"%s\"",
				     val);
	if (!get_str(p, key, val, g->input[g->ninputs], sizeof(g->input[0])))
		return 0;
	g->ninputs++;
	return 1;
}

/* The levels of vd_log, by their names in the log lines. */
static int get_log_level(struct parse *p, const char *key, const char *val, int *ret)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {{"error", LOG_ERR},
		      {"warning", LOG_WARNING},
		      {"notice", LOG_NOTICE},
		      {"info", LOG_INFO},
		      {"debug", LOG_DEBUG}};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcasecmp(val, levels[i].name)) {
			*ret = levels[i].level;
			return 1;
		}
	return vd_config_bad(p, key, "expected error, warning, notice, info or debug, got \"%s\"",
			     val);
}

int vd_config_guest_key(struct parse *p, const char *key, const char *val)
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
		r = guest_hotkey(p, key, val);
	else if (!strcmp(key, "log-level"))
		r = get_log_level(p, key, val, &g->log_level);
	else
		return -ENOENT;
	if (r)
		snprintf(g->source, sizeof(g->source), "%s", p->file);
	return r;
}

static const char *const guest_keys[] = {"zero-copy", "max-buffers", "max-framebuffers",
					 "max-bytes", "max-grant-maps", "max-fds",
					 "max-backend-bytes", "max-retry-buffers", "input",
					 "hotkey", "log-level", NULL};

bool vd_config_is_guest_key(const char *key)
{
	for (const char *const *k = guest_keys; *k; k++)
		if (!strcmp(key, *k))
			return true;
	return !strncmp(key, "connector.", 10);
}

/* ---- global keys ---- */

static int get_output(struct parse *p, const char *key, const char *val, char *dst, size_t size)
{
	char names[128] = "";
	const char *n;

	for (size_t i = 0; (n = vd_output_table_name(i)); i++)
		if (!strcmp(val, n))
			return get_str(p, key, val, dst, size);
	for (size_t i = 0; (n = vd_output_table_name(i)); i++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
			 i ? (vd_output_table_name(i + 1) ? ", " : " or ") : "", n);
	return vd_config_bad(p, key, "expected %s, got \"%s\"", names, val);
}

static int get_group(struct parse *p, const char *key, const char *val, char *dst, size_t size)
{
	if (val[0] && !getgrnam(val))
		return vd_config_bad(p, key, "no group \"%s\" on this system", val);
	return get_str(p, key, val, dst, size);
}

static int get_choice(struct parse *p, const char *key, const char *val, const char *const *ok,
		      const char *expected, char *dst, size_t size)
{
	for (; *ok; ok++)
		if (!strcmp(val, *ok))
			return get_str(p, key, val, dst, size);
	return vd_config_bad(p, key, "expected %s, got \"%s\"", expected, val);
}

static int global_str_key(struct parse *p, struct vd_global_conf *gl, const char *key,
			  const char *val)
{
	static const char *const hvs[] = {"xen", "sim", "simhost", NULL};
	static const char *const inputs[] = {"auto", "libinput", "wayland", "none", NULL};

	if (!strcmp(key, "hypervisor"))
		return get_choice(p, key, val, hvs, "xen, sim or simhost", gl->hypervisor,
				  sizeof(gl->hypervisor));
	if (!strcmp(key, "output"))
		return get_output(p, key, val, gl->output, sizeof(gl->output));
	if (!strcmp(key, "drm-device"))
		return get_path(p, key, val, gl->drm_device, sizeof(gl->drm_device), true);
	if (!strcmp(key, "capture-dir"))
		return get_path(p, key, val, gl->capture_dir, sizeof(gl->capture_dir), true);
	if (!strcmp(key, "control-socket"))
		return get_path(p, key, val, gl->control_socket, sizeof(gl->control_socket), true);
	if (!strcmp(key, "input-source"))
		return get_choice(p, key, val, inputs, "auto, libinput, wayland or none",
				  gl->input_source, sizeof(gl->input_source));
	if (!strcmp(key, "seat"))
		return is_word(val, "-_")
			       ? get_str(p, key, val, gl->seat, sizeof(gl->seat))
			       : vd_config_bad(p, key, "expected a seat name, got \"%s\"", val);
	if (!strcmp(key, "cycle-hotkey"))
		return get_hotkey(p, key, val, gl->cycle_hotkey, sizeof(gl->cycle_hotkey));
	if (!strcmp(key, "control-group"))
		return get_group(p, key, val, gl->control_group, sizeof(gl->control_group));
	return -ENOENT;
}

/* The global caps over every guest (docs/resources.md). */
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

/* Every global key, and how to show its value (vd_config_global_value). */
enum gtype { G_STR, G_BOOL, G_U32, G_MHZ, G_U64, G_PAGES };
#define G(name, field, type) {name, offsetof(struct vd_global_conf, field), type}
static const struct {
	const char *name;
	size_t off;
	enum gtype type;
} global_table[] = {
	G("hypervisor", hypervisor, G_STR),
	G("output", output, G_STR),
	G("drm-device", drm_device, G_STR),
	G("capture-dir", capture_dir, G_STR),
	G("control-socket", control_socket, G_STR),
	G("control-group", control_group, G_STR),
	G("refresh", refresh_mhz, G_MHZ),
	G("destroy-timeout-ms", destroy_timeout_ms, G_U32),
	G("status-interval", status_interval_s, G_U32),
	G("zero-copy", zero_copy, G_BOOL),
	G("copy", copy, G_BOOL),
	G("input-source", input_source, G_STR),
	G("seat", seat, G_STR),
	G("cycle-hotkey", cycle_hotkey, G_STR),
	G("focus-follows-pointer", focus_follows_pointer, G_BOOL),
	G("maptrack-frames", maptrack_frames, G_U32),
	G("total-grant-maps", total_grant_maps, G_U64),
	G("total-fds", total_fds, G_U64),
	G("total-backend-bytes", total_be_pages, G_PAGES),
	G("total-retry-buffers", total_retry, G_U64),
};
#undef G

static int global_index(const char *key)
{
	for (size_t i = 0; i < sizeof(global_table) / sizeof(global_table[0]); i++)
		if (!strcmp(key, global_table[i].name))
			return (int)i;
	return -ENOENT;
}

bool vd_config_is_global_key(const char *key)
{
	return global_index(key) >= 0;
}

int vd_config_global_key(struct parse *p, const char *key, const char *val)
{
	int r = global_key(p, key, val), i = global_index(key);

	if (r > 0 && !p->option && i >= 0)
		p->cfg->global_in_file |= 1u << i;
	return r;
}

bool vd_config_global_in_file(const struct vd_config *cfg, const char *key)
{
	int i = global_index(key);

	return i >= 0 && (cfg->global_in_file & 1u << i);
}

int vd_config_global_value(const struct vd_global_conf *g, const char *key, char *buf,
			   size_t size)
{
	int i = global_index(key);
	const char *field;

	if (i < 0)
		return i;
	field = (const char *)g + global_table[i].off;
	switch (global_table[i].type) {
	case G_STR: snprintf(buf, size, "%s", field); break;
	case G_BOOL: snprintf(buf, size, "%s", *(const bool *)field ? "yes" : "no"); break;
	case G_U32: snprintf(buf, size, "%u", *(const uint32_t *)field); break;
	case G_MHZ: snprintf(buf, size, "%u", *(const uint32_t *)field / 1000); break;
	case G_U64: snprintf(buf, size, "%llu", (unsigned long long)*(const uint64_t *)field); break;
	case G_PAGES:
		snprintf(buf, size, "%lluK", (unsigned long long)*(const uint64_t *)field * 4);
		break;
	}
	return 0;
}

int vd_config_override(struct vd_config *cfg, const struct vd_config_override *ov, size_t n,
		       vd_config_err_fn err, void *userdata)
{
	struct parse p = {.cfg = cfg, .err = err, .userdata = userdata};

	for (size_t i = 0; i < n; i++) {
		p.option = ov[i].option;
		if (vd_config_global_key(&p, ov[i].key, ov[i].value) == -ENOENT)
			return -ENOENT;
	}
	return p.errors ? -EINVAL : 0;
}
