/* SPDX-License-Identifier: MIT */
/*
 * Reading the files: lines, sections, duplicates, guests.d, layering. What
 * each key means and accepts is config_keys.c's.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <ini.h>

#include "config_priv.h"
#include "log.h"

static const struct vd_guest_conf guest_defaults = {
	.zero_copy = true,
	.caps = VD_CAPS_DEFAULT,
	.log_level = VD_LOG_LEVEL_UNSET,
};

void vd_config_report(vd_config_err_fn err, void *userdata, const char *fmt, ...)
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

/* inih ends a value at " ;" only: "3 # comment" is the value "3 # comment". */
static const char *comment_hint(const struct parse *p)
{
	const char *hash = p->val ? strchr(p->val, '#') : NULL;

	if (!hash || hash == p->val || (hash[-1] != ' ' && hash[-1] != '\t'))
		return "";
	return " (\"#\" starts a comment only at the start of a line; after a value use \";\")";
}

int vd_config_bad(struct parse *p, const char *key, const char *fmt, ...)
{
	char what[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (p->option)
		vd_config_report(p->err, p->userdata, "%s: %s", p->option, what);
	else
		vd_config_report(p->err, p->userdata, "%s:%u: %s: %s%s", p->file, p->line, key,
				 what, comment_hint(p));
	p->errors++;
	return 0;
}

/* ---- sections and keys ---- */

/*
 * A section header, at its own line (inih tells the handler only of keys,
 * so an empty section would go unnoticed). Only [default], once, and only
 * in the main file; the keys of a refused section are skipped, not
 * reported one by one.
 */
static void on_section(struct parse *p, const char *name, size_t len)
{
	char hdr[80];

	snprintf(hdr, sizeof(hdr), "[%.*s]", (int)(len < 64 ? len : 64), name);
	p->section_bad = true;
	if (p->guest_file)
		vd_config_bad(p, hdr, "sections are not used in guest files");
	else if (len != 7 || strncmp(name, "default", 7))
		vd_config_bad(p, hdr, "unknown section (only [default])");
	else if (p->default_line)
		vd_config_bad(p, hdr, "a second [default] (the first is at line %u)",
			      p->default_line);
	else
		p->section_bad = false;
	if (!p->section_bad)
		p->default_line = p->line;
}

/* A key set twice in one file: the first line, else 0 (and the key is noted). */
static unsigned seen_before(struct parse *p, bool in_section, const char *key)
{
	struct seen_key *s;

	if (strlen(key) >= sizeof(s->key))
		return 0; /* no known key is that long */
	for (size_t i = 0; i < p->nseen; i++)
		if (p->seen[i].in_section == in_section && !strcmp(p->seen[i].key, key))
			return p->seen[i].line;
	if (p->nseen == p->seen_cap) {
		size_t cap = p->seen_cap ? 2 * p->seen_cap : 16;

		s = realloc(p->seen, cap * sizeof(*s));
		if (!s)
			return 0; /* only the check is lost */
		p->seen = s;
		p->seen_cap = cap;
	}
	s = &p->seen[p->nseen++];
	snprintf(s->key, sizeof(s->key), "%s", key);
	s->in_section = in_section;
	s->line = p->line;
	return 0;
}

/* Where a key that is not allowed here belongs, for the message. */
static void misplaced(struct parse *p, const char *section, const char *key)
{
	if (!p->guest_file && !section[0] && vd_config_is_guest_key(key))
		vd_config_bad(p, key, "a guest setting: put it in [default] or a guest file");
	else if ((p->guest_file || section[0]) && vd_config_is_global_key(key))
		vd_config_bad(p, key, "a global setting: put it at the top of vdispld.conf");
	else
		vd_config_bad(p, key, "unknown key");
}

static int on_key(void *user, const char *section, const char *key, const char *val)
{
	struct parse *p = user;
	bool guest = p->guest_file || section[0];
	unsigned first;

	if (section[0] && p->section_bad)
		return 1; /* reported at the header */
	if (guest ? !vd_config_is_guest_key(key) : !vd_config_is_global_key(key)) {
		misplaced(p, section, key);
		return 1;
	}
	first = strcmp(key, "input") ? seen_before(p, section[0], key) : 0;
	p->val = val;
	if (first)
		vd_config_bad(p, key, "set again (first at line %u): one value per key", first);
	else if (guest)
		vd_config_guest_key(p, key, val);
	else
		vd_config_global_key(p, key, val);
	p->val = NULL;
	/*
	 * Errors are counted by vd_config_bad(). Returning 1 keeps inih going
	 * and leaves its return value to syntax errors alone.
	 */
	return 1;
}

/*
 * fgets for inih that counts lines (inih's handler gets no line number),
 * sees section headers, and strips leading blanks, so that an indented key
 * is a key and not the continuation of the previous value.
 */
static char *read_line(char *str, int num, void *stream)
{
	struct parse *p = stream;
	const char *end;
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
		vd_config_bad(p, "(line)", "longer than %d characters", num - 2);
		while ((c = fgetc(p->f)) != EOF && c != '\n')
			;
		s[0] = '\0';
		return s;
	}
	lead = strspn(s, " \t");
	memmove(s, s + lead, len - lead + 1);
	/* As inih reads a header: the name up to the first ']' (none: its syntax error). */
	if (s[0] == '[' && (end = strchr(s + 1, ']')))
		on_section(p, s + 1, (size_t)(end - s - 1));
	return s;
}

/* /dev/null: the idiom for "no settings" (--config /dev/null). */
static bool is_dev_null(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && major(st->st_rdev) == 1 && minor(st->st_rdev) == 3;
}

/*
 * Opened for parsing: a regular file. A directory reads as empty, a FIFO
 * would block the loop (O_NONBLOCK: not even the open waits for a writer).
 */
static int open_file(struct parse *p)
{
	struct stat st;
	int fd = open(p->file, O_RDONLY | O_CLOEXEC | O_NONBLOCK), r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode) && !is_dev_null(&st))
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	else if (!(p->f = fdopen(fd, "r")))
		r = -errno;
	if (r < 0)
		close(fd);
	return r;
}

/* Why a file could not be parsed (-errno of parse_file). */
static const char *file_error(int r)
{
	return r == -EINVAL ? "not a regular file" : strerror(-r);
}

static int parse_file(struct parse *p)
{
	int r = open_file(p);

	if (r < 0)
		return r;
	p->line = 0;
	p->line_done = true;
	p->default_line = 0;
	p->section_bad = false;
	p->nseen = 0;
	r = ini_parse_stream(read_line, p, on_key, p);
	if (r >= 0 && ferror(p->f))
		r = -EIO;
	fclose(p->f);
	p->f = NULL;
	if (r > 0) {
		p->line = (unsigned)r;
		vd_config_bad(p, "syntax", "expected \"key = value\", \"[section]\" or a comment");
	}
	return r == -EIO ? r : r < 0 ? -ENOMEM : 0;
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
		vd_config_report(p->err, p->userdata, "%s: guest name longer than %zu characters", path,
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
		p->default_file = is_default;
		if (!is_default)
			snprintf(p->guest->source, sizeof(p->guest->source), "%s", path);
		r = parse_file(p);
		if (r < 0) {
			vd_config_report(p->err, p->userdata, "%s: %s", path, file_error(r));
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
			vd_config_report(p->err, p->userdata, "%s: %s", dir, strerror(-r));
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
		vd_config_report(p->err, p->userdata, "%s: %s", p->cfg->path, file_error(r));
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
		vd_config_report(err, userdata, "%s: %s", path, strerror(-r));
	if (r >= 0)
		r = load_main(&p, must_exist);
	if (r >= 0) {
		p.guest_file = true;
		r = parse_guests_dir(&p);
	}
	free(p.seen);
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
