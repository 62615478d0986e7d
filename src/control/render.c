/* SPDX-License-Identifier: MIT */
/* `vdispctl status`: what the daemon serves, as text or JSON. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/control.h"
#include "displif_proto.h"
#include "log.h"

#define MAX_GATES 64u

/* ---- strings ---- */

static bool sbuf_reserve(struct vd_sbuf *sb, size_t more)
{
	size_t cap = sb->cap ? sb->cap : 1024;
	char *p;

	if (sb->oom)
		return false;
	while (cap < sb->len + more + 1)
		cap *= 2;
	if (cap == sb->cap)
		return true;
	p = realloc(sb->data, cap);
	if (!p) {
		sb->oom = true;
		return false;
	}
	sb->data = p;
	sb->cap = cap;
	return true;
}

void vd_sbuf_printf(struct vd_sbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !sbuf_reserve(sb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

/* Names come from xenstore, i.e. from the guest's toolstack: escape everything. */
void vd_sbuf_json_str(struct vd_sbuf *sb, const char *s)
{
	if (!s) {
		vd_sbuf_printf(sb, "null");
		return;
	}
	vd_sbuf_printf(sb, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			vd_sbuf_printf(sb, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			vd_sbuf_printf(sb, "\\u%04x", c);
		else
			vd_sbuf_printf(sb, "%c", c);
	}
	vd_sbuf_printf(sb, "\"");
}

void vd_sbuf_free(struct vd_sbuf *sb)
{
	free(sb->data);
	*sb = (struct vd_sbuf){0};
}

/* Text output: control characters from a guest's names become '?'. */
static const char *printable(const char *s, char *buf, size_t size)
{
	size_t i = 0;

	if (!s)
		return "-";
	for (; s[i] && i + 1 < size; i++)
		buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

/* ---- flips per second ---- */

struct rate_sample {
	struct vd_rates *old, next;
	uint64_t now_us;
};

static const struct vd_rate *rate_find(const struct vd_rates *r, uint32_t domid, uint32_t devid,
				       uint32_t idx)
{
	for (uint32_t i = 0; r && i < r->n; i++)
		if (r->v[i].domid == domid && r->v[i].devid == devid && r->v[i].idx == idx)
			return &r->v[i];
	return NULL;
}

static void rate_dev(void *userdata, const struct vd_dev_info *info)
{
	struct rate_sample *s = userdata;
	double dt = (double)(s->now_us - s->old->at_us) / 1e6;
	struct vd_rate *v;

	/*
	 * A device without connectors (not connected yet, or its hypervisor
	 * gone) adds nothing: realloc to 0 bytes would free the array and
	 * return NULL, leaving s->next.v dangling for the next device.
	 */
	if (info->nconn == 0)
		return;
	v = realloc(s->next.v, (s->next.n + info->nconn) * sizeof(*v));
	if (!v)
		return;
	s->next.v = v;
	for (uint32_t i = 0; i < info->nconn; i++) {
		const struct vd_rate *prev = rate_find(s->old, info->domid, info->devid, i);
		struct vd_rate *cur = &v[s->next.n++];

		*cur = (struct vd_rate){info->domid, info->devid, i, info->conns[i].flips, 0};
		if (prev && prev->flips <= cur->flips && dt > 0)
			cur->per_s = (double)(cur->flips - prev->flips) / dt;
	}
}

void vd_rates_sample(struct vd_rates *rates, struct vd_backend *be)
{
	struct rate_sample s = {.old = rates, .now_us = vd_now_us()};

	vd_backend_foreach_device(be, rate_dev, &s);
	free(rates->v);
	*rates = s.next;
	rates->at_us = s.now_us;
}

void vd_rates_free(struct vd_rates *rates)
{
	free(rates->v);
	*rates = (struct vd_rates){0};
}

/* ---- status ---- */

struct render {
	struct vd_sbuf *sb;
	bool json;
	const struct vd_control_env *env;
	const struct vd_config *cfg;
	const struct vd_rates *rates;
	uint32_t domid;   /* the guest being rendered */
	uint32_t ndevs;   /* devices of it rendered so far */
	uint32_t *domids; /* guests, sorted */
	uint32_t ndomids;
};

static const char *state_name(int s)
{
	static const char *const names[] = {"Unknown",   "Initialising", "InitWait",
					    "Initialised", "Connected",  "Closing",
					    "Closed",    "Reconfiguring", "Reconfigured"};
	return (s >= 0 && s <= 8) ? names[s] : "absent";
}

static const char *zc_name(const struct vd_dev_info *d)
{
	if (!d->has_bufs || d->bufs.zc == VD_ZC_UNKNOWN)
		return "undecided";
	return d->bufs.zc == VD_ZC_ON ? "zero-copy" : "grant-mapped";
}

/* Since the last sample (once a second), or over the interval before it if that was just now. */
static double conn_rate(const struct render *r, const struct vd_dev_info *d, uint32_t idx)
{
	const struct vd_rate *rate = rate_find(r->rates, d->domid, d->devid, idx);
	double dt = (double)(vd_now_us() - r->rates->at_us) / 1e6;
	uint64_t flips = d->conns[idx].flips;

	if (!rate)
		return 0.0;
	if (dt < 0.25 || flips < rate->flips)
		return rate->per_s;
	return (double)(flips - rate->flips) / dt;
}

static const char *settings_source(const struct render *r, const char *name)
{
	const struct vd_guest_conf *g = vd_config_guest(r->cfg, name);

	return g->source[0] ? g->source : "built-in defaults";
}

/* The format shown ("XR24") into buf, or NULL for nothing shown. */
static const char *fourcc_text(uint32_t fourcc, char buf[5])
{
	if (!fourcc)
		return NULL;
	for (int k = 0; k < 4; k++) {
		char ch = (char)(fourcc >> (8 * k));

		buf[k] = ch >= 0x20 && ch < 0x7f ? ch : '?';
	}
	buf[4] = '\0';
	return buf;
}

/* Seconds since the connector's last flip, or -1 for none (or no output connector). */
static double since_flip(const struct vd_conn_info *c, struct vd_output_conn_state *st)
{
	*st = (struct vd_output_conn_state){0};
	if (!c->oconn)
		return -1;
	vd_output_conn_get_state(c->oconn, st);
	return st->last_flip_us ? (double)(vd_now_us() - st->last_flip_us) / 1e6 : -1;
}

/* "format", "format_name", "last_flip_seconds_ago" of a connector (no leading comma). */
static void json_shown(struct vd_sbuf *sb, const struct vd_conn_info *c)
{
	struct vd_output_conn_state st;
	double ago = since_flip(c, &st);
	char fcc[5];

	vd_sbuf_printf(sb, "\"format\":");
	vd_sbuf_json_str(sb, fourcc_text(st.fourcc, fcc));
	vd_sbuf_printf(sb, ",\"format_name\":");
	vd_sbuf_json_str(sb, st.fourcc ? vd_format_name(st.fourcc) : NULL);
	if (ago >= 0)
		vd_sbuf_printf(sb, ",\"last_flip_seconds_ago\":%.3f", ago);
	else
		vd_sbuf_printf(sb, ",\"last_flip_seconds_ago\":null");
}

/* ", XRGB8888, last flip 0.0 s ago", or what is missing. */
static void text_shown(struct vd_sbuf *sb, const struct vd_conn_info *c)
{
	struct vd_output_conn_state st;
	double ago = since_flip(c, &st);
	const char *name = st.fourcc ? vd_format_name(st.fourcc) : NULL;
	char fcc[5];

	if (!st.fourcc)
		vd_sbuf_printf(sb, ", shows nothing");
	else
		vd_sbuf_printf(sb, ", %s", name ? name : fourcc_text(st.fourcc, fcc));
	if (ago >= 0)
		vd_sbuf_printf(sb, ", last flip %.1f s ago", ago);
	else
		vd_sbuf_printf(sb, ", no flip yet");
}

static void json_conn(struct render *r, const struct vd_dev_info *d, uint32_t i)
{
	const struct vd_conn_info *c = &d->conns[i];
	struct vd_sbuf *sb = r->sb;
	struct vd_scanout so;

	vd_sbuf_printf(sb, "%s{\"index\":%u,\"width\":%u,\"height\":%u,\"unique_id\":", i ? "," : "",
		       c->idx, c->width, c->height);
	vd_sbuf_json_str(sb, c->unique_id);
	vd_sbuf_printf(sb, ",\"mapping\":");
	vd_sbuf_json_str(sb, c->mapping && c->mapping[0] ? c->mapping : NULL);
	vd_sbuf_printf(sb, ",\"flips\":%llu,\"flips_pending\":%u,\"flips_per_second\":%.1f,",
		       (unsigned long long)c->flips, c->flips_pending, conn_rate(r, d, i));
	json_shown(sb, c);
	vd_sbuf_printf(sb, ",\"scanout\":");
	if (c->oconn && vd_output_conn_scanout(c->oconn, &so) == 0) {
		vd_sbuf_printf(sb, "{\"display\":");
		vd_sbuf_json_str(sb, so.display);
		vd_sbuf_printf(sb, ",\"path\":\"%s\",\"overlay\":%u}", vd_scanout_path_name(so.path),
			       so.overlay);
	} else {
		vd_sbuf_printf(sb, "null");
	}
	vd_sbuf_printf(sb, "}");
}

/* ", on DISPLAY overlay N" and the like, or nothing (no displays of its own). */
static void text_scanout(struct vd_sbuf *sb, const struct vd_conn_info *c)
{
	struct vd_scanout so;
	char buf[64];

	if (!c->oconn || vd_output_conn_scanout(c->oconn, &so) < 0)
		return;
	vd_sbuf_printf(sb, ", on %s ", printable(so.display, buf, sizeof(buf)));
	if (so.path == VD_SCANOUT_OVERLAY)
		vd_sbuf_printf(sb, "overlay %u (no copy)", so.overlay);
	else if (so.path == VD_SCANOUT_PRIMARY)
		vd_sbuf_printf(sb, "primary plane (no copy)");
	else
		vd_sbuf_printf(sb, "(%s)", vd_scanout_path_name(so.path));
}

static void json_dev(struct render *r, const struct vd_dev_info *d)
{
	const struct vd_bufs_stats *b = &d->bufs;
	const struct vd_caps *caps = &d->bufs_opts.caps;
	struct vd_sbuf *sb = r->sb;

	vd_sbuf_printf(sb,
		       "%s{\"devid\":%u,\"state\":\"%s\",\"frontend_state\":\"%s\",\"protocol\":%d,"
		       "\"be_alloc\":%s,\"failed\":%s,\"awaiting_reinit\":%s,\"zero_copy\":\"%s\","
		       "\"zero_copy_reason\":",
		       r->ndevs ? "," : "", d->devid, state_name(d->be_state),
		       state_name(d->fe_state), d->version, d->be_alloc ? "true" : "false",
		       d->failed ? "true" : "false", d->await_reinit ? "true" : "false",
		       zc_name(d));
	vd_sbuf_json_str(sb, d->has_bufs && b->zc == VD_ZC_OFF ? b->zc_reason : NULL);
	vd_sbuf_printf(sb, ",\"buffers\":%u,\"framebuffers\":%u,\"be_alloc_buffers\":%u,"
			   "\"pages_mapped\":%llu,\"refused\":%llu,",
		       b->dbufs, b->fbs, b->be_alloc, (unsigned long long)b->pages_mapped,
		       (unsigned long long)b->refused);
	if (d->has_bufs)
		vd_sbuf_printf(sb, "\"caps\":{\"max_buffers\":%u,\"max_framebuffers\":%u,"
				   "\"max_bytes\":%llu},",
			       caps->max_dbufs, caps->max_fbs,
			       (unsigned long long)caps->max_pages * 4096u);
	else
		vd_sbuf_printf(sb, "\"caps\":null,");
	vd_sbuf_printf(sb, "\"connectors\":[");
	for (uint32_t i = 0; i < d->nconn; i++)
		json_conn(r, d, i);
	vd_sbuf_printf(sb, "]}");
}

static void text_dev(struct render *r, const struct vd_dev_info *d)
{
	const struct vd_bufs_stats *b = &d->bufs;
	struct vd_sbuf *sb = r->sb;
	char buf[2][96];

	vd_sbuf_printf(sb, "  vdispl %u: %s (frontend %s), protocol v%d%s%s, %s", d->devid,
		       state_name(d->be_state), state_name(d->fe_state), d->version,
		       d->be_alloc ? ", be-alloc" : "", d->failed ? ", FAILED" : "", zc_name(d));
	if (d->has_bufs && b->zc == VD_ZC_OFF)
		vd_sbuf_printf(sb, " (%s)", b->zc_reason);
	vd_sbuf_printf(sb, "\n");
	if (d->has_bufs)
		vd_sbuf_printf(sb,
			       "    %u buffer(s), %u framebuffer(s), %llu KiB mapped, %llu refused; "
			       "caps %u buffers, %u framebuffers, %llu MiB\n",
			       b->dbufs, b->fbs, (unsigned long long)b->pages_mapped * 4,
			       (unsigned long long)b->refused, d->bufs_opts.caps.max_dbufs,
			       d->bufs_opts.caps.max_fbs,
			       (unsigned long long)d->bufs_opts.caps.max_pages / 256);
	for (uint32_t i = 0; i < d->nconn; i++) {
		const struct vd_conn_info *c = &d->conns[i];

		vd_sbuf_printf(sb, "    connector %u: %ux%u, unique-id %s, mapped to %s, %.1f flips/s"
				   ", %llu flips",
			       i, c->width, c->height,
			       printable(c->unique_id, buf[0], sizeof(buf[0])),
			       c->mapping && c->mapping[0]
				       ? printable(c->mapping, buf[1], sizeof(buf[1]))
				       : "-",
			       conn_rate(r, d, i), (unsigned long long)c->flips);
		text_shown(sb, c);
		text_scanout(sb, c);
		vd_sbuf_printf(sb, "\n");
	}
}

/* ---- resources (docs/resources.md) ---- */

static const char *const res_json[VD_RES_COUNT] = {"grant_maps", "fds", "backend_bytes",
						   "retry_buffers"};

/* Pages of backend memory are shown as bytes. */
static uint64_t res_unit(enum vd_res r, uint64_t v)
{
	return r == VD_RES_BE_PAGES ? v * VD_PAGE_SIZE : v;
}

static void json_resources(struct vd_sbuf *sb, const struct vd_res_use *u)
{
	vd_sbuf_printf(sb, "{");
	for (int r = 0; r < VD_RES_COUNT; r++)
		vd_sbuf_printf(sb,
			       "%s\"%s\":{\"used\":%llu,\"max\":%llu,\"reserved\":%llu,"
			       "\"peak\":%llu,\"refused\":%llu}",
			       r ? "," : "", res_json[r], (unsigned long long)res_unit(r, u[r].used),
			       (unsigned long long)res_unit(r, u[r].max),
			       (unsigned long long)res_unit(r, u[r].reserved),
			       (unsigned long long)res_unit(r, u[r].peak),
			       (unsigned long long)u[r].refused);
	vd_sbuf_printf(sb, "}");
}

/* "grant maps 302/32768 (reserved 8192), fds ..., refused: 3 grant maps" */
static void text_resources(struct vd_sbuf *sb, const struct vd_res_use *u, bool guest)
{
	uint64_t refused = 0;

	for (int r = 0; r < VD_RES_COUNT; r++) {
		vd_sbuf_printf(sb, "%s%s ", r ? ", " : "", vd_res_name(r));
		if (r == VD_RES_BE_PAGES)
			vd_sbuf_printf(sb, "%.1f/%llu MiB", (double)u[r].used / 256.0,
				       (unsigned long long)u[r].max / 256);
		else
			vd_sbuf_printf(sb, "%llu/%llu", (unsigned long long)u[r].used,
				       (unsigned long long)u[r].max);
		if (guest && u[r].reserved && r == VD_RES_MAPS)
			vd_sbuf_printf(sb, " (%llu reserved)", (unsigned long long)u[r].reserved);
		refused += u[r].refused;
	}
	vd_sbuf_printf(sb, "; %llu refused", (unsigned long long)refused);
	for (int r = 0; r < VD_RES_COUNT && refused; r++)
		if (u[r].refused)
			vd_sbuf_printf(sb, ", %llu for %s", (unsigned long long)u[r].refused,
				       vd_res_name(r));
	vd_sbuf_printf(sb, "\n");
}

/* The guest's use against its caps (its account; none before its first connect). */
static void render_guest_resources(struct render *r, uint32_t domid)
{
	struct vd_res_use u[VD_RES_COUNT];
	bool have = vd_backend_guest_resources(r->env->be, domid, u) == 0;

	if (r->json) {
		vd_sbuf_printf(r->sb, ",\"resources\":");
		if (have)
			json_resources(r->sb, u);
		else
			vd_sbuf_printf(r->sb, "null");
	} else if (have) {
		vd_sbuf_printf(r->sb, "  resources: ");
		text_resources(r->sb, u, true);
	}
}

/* Called for every device; renders those of r->domid (the guest header first). */
static void render_dev(void *userdata, const struct vd_dev_info *d)
{
	struct render *r = userdata;
	char buf[256];

	if (d->domid != r->domid)
		return;
	if (!r->ndevs && r->json) {
		vd_sbuf_printf(r->sb, "%s{\"domid\":%u,\"name\":", r->domid == r->domids[0] ? "" : ",",
			       d->domid);
		vd_sbuf_json_str(r->sb, d->name);
		vd_sbuf_printf(r->sb, ",\"settings\":");
		vd_sbuf_json_str(r->sb, settings_source(r, d->name));
		render_guest_resources(r, d->domid);
		vd_sbuf_printf(r->sb, ",\"devices\":[");
	} else if (!r->ndevs) {
		vd_sbuf_printf(r->sb, "guest %s (dom%u), settings from %s\n",
			       printable(d->name, buf, sizeof(buf)), d->domid,
			       settings_source(r, d->name));
		render_guest_resources(r, d->domid);
	}
	if (r->json)
		json_dev(r, d);
	else
		text_dev(r, d);
	r->ndevs++;
}

static void collect_domid(void *userdata, const struct vd_dev_info *d)
{
	struct render *r = userdata;
	uint32_t *v, i = 0;

	while (i < r->ndomids && r->domids[i] < d->domid)
		i++;
	if (i < r->ndomids && r->domids[i] == d->domid)
		return;
	v = realloc(r->domids, (r->ndomids + 1) * sizeof(*v));
	if (!v)
		return;
	memmove(v + i + 1, v + i, (r->ndomids - i) * sizeof(*v));
	v[i] = d->domid;
	r->domids = v;
	r->ndomids++;
}

static void render_guests(struct render *r)
{
	vd_backend_foreach_device(r->env->be, collect_domid, r);
	for (uint32_t i = 0; i < r->ndomids; i++) {
		r->domid = r->domids[i];
		r->ndevs = 0;
		vd_backend_foreach_device(r->env->be, render_dev, r);
		if (r->json)
			vd_sbuf_printf(r->sb, "]}");
	}
	free(r->domids);
	r->domids = NULL;
}

static void render_gates(struct render *r)
{
	struct vd_gate_info g[MAX_GATES];
	uint32_t n = vd_backend_list_gates(r->env->be, g, MAX_GATES);

	if (!r->json && !n)
		vd_sbuf_printf(r->sb, "buffers awaiting release: none\n");
	else if (!r->json)
		vd_sbuf_printf(r->sb, "buffers awaiting release (DBUF_DESTROY answered once "
				      "they are):\n");
	for (uint32_t i = 0; i < n; i++) {
		if (r->json)
			vd_sbuf_printf(r->sb,
				       "%s{\"domid\":%u,\"cookie\":%llu,\"waited_ms\":%llu,"
				       "\"past_deadline\":%s}",
				       i ? "," : "", g[i].domid, (unsigned long long)g[i].cookie,
				       (unsigned long long)g[i].waited_ms,
				       g[i].retrying ? "true" : "false");
		else
			vd_sbuf_printf(r->sb, "  dom%u buffer 0x%llx: waiting %llu ms%s\n",
				       g[i].domid, (unsigned long long)g[i].cookie,
				       (unsigned long long)g[i].waited_ms,
				       g[i].retrying ? " (past its deadline, answered -ETIMEDOUT)" : "");
	}
}

/* The input router's focus: "NAME (domN)" ("domN" unnamed), "" none; *ret_domid. */
static void focus_of(const struct vd_control_env *env, char *buf, size_t size, uint32_t *ret_domid)
{
	char name[128];

	buf[0] = '\0';
	if (!env->focus_get || env->focus_get(env->userdata, ret_domid, name, sizeof(name)) < 0)
		return;
	if (name[0])
		snprintf(buf, size, "%s", name);
	else
		snprintf(buf, size, "dom%u", *ret_domid);
}

/* "4 s", "2 min 03 s", "1 h 02 min", "3 d 4 h" */
static const char *uptime_text(const struct vd_control_env *env, char *buf, size_t size)
{
	uint64_t s = (vd_now_us() - env->started_us) / 1000000u;

	if (s < 60)
		snprintf(buf, size, "%llu s", (unsigned long long)s);
	else if (s < 3600)
		snprintf(buf, size, "%llu min %02llu s", (unsigned long long)s / 60,
			 (unsigned long long)s % 60);
	else if (s < 86400)
		snprintf(buf, size, "%llu h %02llu min", (unsigned long long)s / 3600,
			 (unsigned long long)s / 60 % 60);
	else
		snprintf(buf, size, "%llu d %llu h", (unsigned long long)s / 86400,
			 (unsigned long long)s / 3600 % 24);
	return buf;
}

static void render_head(struct render *r)
{
	struct vd_res_use u[VD_RES_COUNT];
	struct vd_backend_stats st;
	char focus[160], text[200] = "-", up[48];
	uint32_t domid = 0;

	vd_backend_get_stats(r->env->be, &st);
	focus_of(r->env, focus, sizeof(focus), &domid);
	if (focus[0])
		snprintf(text, sizeof(text), "%s (dom%u)", focus, domid);
	vd_backend_resources(r->env->be, u);
	if (!r->json) {
		vd_sbuf_printf(r->sb,
			       "vdispld %s: hypervisor %s, output %s, config %s%s, focus %s, up %s\n"
			       "%u device(s), %u connected, %llu flips, %llu events, %llu errors\n",
			       VD_VERSION, r->env->hypervisor, r->env->output,
			       r->cfg->path[0] ? r->cfg->path : "-",
			       r->cfg->found ? "" : " (absent: defaults)", text,
			       uptime_text(r->env, up, sizeof(up)), st.devices, st.connected,
			       (unsigned long long)st.flips, (unsigned long long)st.events,
			       (unsigned long long)st.errors);
		vd_sbuf_printf(r->sb, "all guests: ");
		text_resources(r->sb, u, false);
		return;
	}
	vd_sbuf_printf(r->sb, "{\"version\":\"%s\",\"uptime_seconds\":%.1f,\"hypervisor\":",
		       VD_VERSION, (double)(vd_now_us() - r->env->started_us) / 1e6);
	vd_sbuf_json_str(r->sb, r->env->hypervisor);
	vd_sbuf_printf(r->sb, ",\"output\":");
	vd_sbuf_json_str(r->sb, r->env->output);
	vd_sbuf_printf(r->sb, ",\"config\":");
	vd_sbuf_json_str(r->sb, r->cfg->path[0] ? r->cfg->path : NULL);
	vd_sbuf_printf(r->sb, ",\"config_found\":%s,\"focus\":", r->cfg->found ? "true" : "false");
	vd_sbuf_json_str(r->sb, focus[0] ? focus : NULL);
	if (focus[0])
		vd_sbuf_printf(r->sb, ",\"focus_domid\":%u", domid);
	else
		vd_sbuf_printf(r->sb, ",\"focus_domid\":null");
	vd_sbuf_printf(r->sb,
		       ",\"totals\":{\"devices\":%u,\"connected\":%u,\"requests\":%llu,"
		       "\"errors\":%llu,\"flips\":%llu,\"events\":%llu,\"protocol_errors\":%llu}",
		       st.devices, st.connected, (unsigned long long)st.requests,
		       (unsigned long long)st.errors, (unsigned long long)st.flips,
		       (unsigned long long)st.events, (unsigned long long)st.protocol_errors);
	vd_sbuf_printf(r->sb, ",\"resources\":");
	json_resources(r->sb, u);
}

void vd_render_status(struct vd_sbuf *sb, bool json, const struct vd_control_env *env,
		      const struct vd_rates *rates)
{
	struct render r = {
		.sb = sb,
		.json = json,
		.env = env,
		.cfg = env->config(env->userdata),
		.rates = rates,
	};

	render_head(&r);
	if (json)
		vd_sbuf_printf(sb, ",\"guests\":[");
	render_guests(&r);
	if (json)
		vd_sbuf_printf(sb, "]");
	vd_render_input(sb, json, env);
	if (json)
		vd_sbuf_printf(sb, ",\"destroy_retry\":[");
	render_gates(&r);
	if (json)
		vd_sbuf_printf(sb, "]}\n");
}

/* ---- guests (completion) ---- */

struct guest_list {
	struct {
		uint32_t domid, connectors;
		bool vkb;
		char name[128];
	} v[256];
	uint32_t n;
};

static uint32_t guest_slot(struct guest_list *l, uint32_t domid, const char *name)
{
	uint32_t i = 0;

	while (i < l->n && l->v[i].domid != domid)
		i++;
	if (i == l->n && l->n < 256) {
		l->v[l->n].domid = domid;
		snprintf(l->v[l->n].name, sizeof(l->v[0].name), "%s", name ? name : "");
		l->n++;
	}
	return i;
}

static void list_dev(void *userdata, const struct vd_dev_info *d)
{
	struct guest_list *l = userdata;
	uint32_t i = guest_slot(l, d->domid, d->name);

	if (i < l->n)
		l->v[i].connectors += d->nconn;
}

static void list_vkb(void *userdata, const struct vd_kbd_dev_info *d)
{
	struct guest_list *l = userdata;
	uint32_t i = guest_slot(l, d->domid, d->name);

	if (i < l->n)
		l->v[i].vkb = true;
}

void vd_render_guests(struct vd_sbuf *sb, bool json, const struct vd_control_env *env)
{
	struct guest_list *l = calloc(1, sizeof(*l));
	char buf[128];

	if (!l) {
		sb->oom = true;
		return;
	}
	vd_backend_foreach_device(env->be, list_dev, l);
	if (env->input)
		vd_kbdback_foreach_device(vd_dinput_kbdback(env->input), list_vkb, l);
	if (json)
		vd_sbuf_printf(sb, "{\"guests\":[");
	for (uint32_t i = 0; i < l->n; i++) {
		if (json) {
			vd_sbuf_printf(sb, "%s{\"domid\":%u,\"name\":", i ? "," : "", l->v[i].domid);
			vd_sbuf_json_str(sb, l->v[i].name);
			vd_sbuf_printf(sb, ",\"connectors\":%u,\"vkb\":%s}", l->v[i].connectors,
				       l->v[i].vkb ? "true" : "false");
		} else {
			vd_sbuf_printf(sb, "dom%u %s: %u connector(s)%s\n", l->v[i].domid,
				       printable(l->v[i].name, buf, sizeof(buf)),
				       l->v[i].connectors, l->v[i].vkb ? ", vkb" : "");
		}
	}
	if (json)
		vd_sbuf_printf(sb, "]}\n");
	free(l);
}
