/* SPDX-License-Identifier: MIT */
/*
 * The input part of `vdispctl status`: where input comes from, which guest
 * has the focus and where keys really went last (with the compositor's
 * seat its focus decides, not ours), every vkb device, every physical
 * device and who claims it.
 */
#include <stdio.h>
#include <string.h>

#include "control/control.h"
#include "daemon_input.h"
#include "log.h"

/* Text output: control characters from a guest's or a device's name become '?'. */
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

static const char *state_name(int s)
{
	static const char *const names[] = {"Unknown",	   "Initialising", "InitWait",
					    "Initialised", "Connected",	   "Closing",
					    "Closed",	   "Reconfiguring", "Reconfigured"};
	return (s >= 0 && s <= 8) ? names[s] : "absent";
}

struct name_find {
	uint32_t domid;
	char name[128];
};

static void name_from_vkb(void *userdata, const struct vd_kbd_dev_info *d)
{
	struct name_find *f = userdata;

	if (d->domid == f->domid && !f->name[0])
		snprintf(f->name, sizeof(f->name), "%s", d->name);
}

static void name_from_dev(void *userdata, const struct vd_dev_info *d)
{
	struct name_find *f = userdata;

	if (d->domid == f->domid && !f->name[0] && d->name)
		snprintf(f->name, sizeof(f->name), "%s", d->name);
}

/* The domain name of domid as its devices know it, "" if none does. */
static const char *guest_name(const struct vd_control_env *env, uint32_t domid, char *buf,
			      size_t size)
{
	struct name_find f = {.domid = domid};

	vd_kbdback_foreach_device(vd_dinput_kbdback(env->input), name_from_vkb, &f);
	if (!f.name[0])
		vd_backend_foreach_device(env->be, name_from_dev, &f);
	snprintf(buf, size, "%s", f.name);
	return buf;
}

struct input_render {
	struct vd_sbuf *sb;
	bool json;
	uint32_t n; /* items rendered in the current list */
	const struct vd_control_env *env;
};

/* ---- vkb devices ---- */

static void text_vkb(struct input_render *ir, const struct vd_kbd_dev_info *d)
{
	struct vd_sbuf *sb = ir->sb;
	char buf[160];

	vd_sbuf_printf(sb, "  vkb %u of %s (dom%u): %s (frontend %s)%s", d->devid,
		       printable(d->name, buf, sizeof(buf)), d->domid, state_name(d->be_state),
		       state_name(d->fe_state), d->failed ? ", FAILED" : "");
	if (d->connected) {
		vd_sbuf_printf(sb, "%s%s", d->keyboard ? ", keyboard" : "",
			       !d->pointer	   ? ""
			       : d->abs_pointer ? ", absolute pointer"
						: ", relative pointer");
		if (d->pointer && d->abs_pointer)
			vd_sbuf_printf(sb, " %ux%u", d->width, d->height);
		if (d->multi_touch)
			vd_sbuf_printf(sb, ", multi-touch (%u contacts)", d->mt_contacts);
		if (d->queued)
			vd_sbuf_printf(sb, ", %u event(s) waiting for its ring", d->queued);
	}
	vd_sbuf_printf(sb, "\n");
}

static void json_vkb(struct input_render *ir, const struct vd_kbd_dev_info *d)
{
	struct vd_sbuf *sb = ir->sb;

	vd_sbuf_printf(sb, "%s{\"domid\":%u,\"name\":", ir->n ? "," : "", d->domid);
	vd_sbuf_json_str(sb, d->name);
	vd_sbuf_printf(sb,
		       ",\"devid\":%u,\"state\":\"%s\",\"frontend_state\":\"%s\",\"connected\":%s,"
		       "\"failed\":%s,\"keyboard\":%s,\"pointer\":%s,\"abs_pointer\":%s,"
		       "\"multi_touch\":%s,\"width\":%u,\"height\":%u,\"mt_contacts\":%u,"
		       "\"queued\":%u}",
		       d->devid, state_name(d->be_state), state_name(d->fe_state),
		       d->connected ? "true" : "false", d->failed ? "true" : "false",
		       d->keyboard ? "true" : "false", d->pointer ? "true" : "false",
		       d->abs_pointer ? "true" : "false", d->multi_touch ? "true" : "false",
		       d->width, d->height, d->mt_contacts, d->queued);
}

static void render_vkb(void *userdata, const struct vd_kbd_dev_info *d)
{
	struct input_render *ir = userdata;

	if (ir->json)
		json_vkb(ir, d);
	else
		text_vkb(ir, d);
	ir->n++;
}

/* ---- physical devices ---- */

static void render_device(void *userdata, const struct vd_input_device *dev, uint32_t owner)
{
	struct input_render *ir = userdata;
	struct vd_sbuf *sb = ir->sb;
	char name[128], buf[160];

	if (owner != VD_ROUTER_NO_FOCUS)
		guest_name(ir->env, owner, name, sizeof(name));
	if (ir->json) {
		vd_sbuf_printf(sb, "%s{\"name\":", ir->n++ ? "," : "");
		vd_sbuf_json_str(sb, dev->name);
		vd_sbuf_printf(sb, ",\"devnode\":");
		vd_sbuf_json_str(sb, dev->devnode);
		vd_sbuf_printf(sb, ",\"claimed_by\":");
		vd_sbuf_json_str(sb, owner != VD_ROUTER_NO_FOCUS ? name : NULL);
		if (owner != VD_ROUTER_NO_FOCUS)
			vd_sbuf_printf(sb, ",\"claimed_by_domid\":%u}", owner);
		else
			vd_sbuf_printf(sb, ",\"claimed_by_domid\":null}");
		return;
	}
	vd_sbuf_printf(sb, "  device \"%s\"", printable(dev->name, buf, sizeof(buf)));
	if (dev->devnode)
		vd_sbuf_printf(sb, " (%s)", printable(dev->devnode, buf, sizeof(buf)));
	if (owner == VD_ROUTER_NO_FOCUS)
		vd_sbuf_printf(sb, ": feeds the focus\n");
	else
		vd_sbuf_printf(sb, ": claimed by %s (dom%u)\n",
			       name[0] ? printable(name, buf, sizeof(buf)) : "-", owner);
	ir->n++;
}

/* ---- the section ---- */

/* "NAME (domN)" of domid into buf, or "-" for none. */
static const char *guest_text(const struct vd_control_env *env, uint32_t domid, char *buf,
			      size_t size)
{
	char name[128], p[128];

	if (domid == VD_ROUTER_NO_FOCUS)
		return "-";
	guest_name(env, domid, name, sizeof(name));
	snprintf(buf, size, "%s (dom%u)", name[0] ? printable(name, p, sizeof(p)) : "-", domid);
	return buf;
}

static void text_input_head(struct input_render *ir, const struct vd_dinput_status *st)
{
	struct vd_sbuf *sb = ir->sb;
	uint32_t focus = vd_router_focused(vd_dinput_router(ir->env->input));
	char a[200], b[200];

	vd_sbuf_printf(sb, "input: %s%s%s, focus %s", st->source, st->seat ? " on " : "",
		       st->seat ? st->seat : "", guest_text(ir->env, focus, a, sizeof(a)));
	if (st->router.last_key_domid != VD_ROUTER_NO_FOCUS)
		vd_sbuf_printf(sb, ", keys last went to %s %.1f s ago",
			       guest_text(ir->env, st->router.last_key_domid, b, sizeof(b)),
			       (double)(vd_now_us() - st->router.last_key_us) / 1e6);
	vd_sbuf_printf(sb,
		       "\n  %llu event(s) delivered, %llu dropped, %llu hotkey(s), %llu focus "
		       "change(s); vkb rings: %llu event(s), %llu waited for room, %llu dropped, "
		       "%llu refused\n",
		       (unsigned long long)st->router.delivered,
		       (unsigned long long)st->router.dropped,
		       (unsigned long long)st->router.hotkeys,
		       (unsigned long long)st->router.focus_changes,
		       (unsigned long long)st->vkb.events, (unsigned long long)st->vkb.queued,
		       (unsigned long long)st->vkb.dropped, (unsigned long long)st->vkb.refused);
}

static void json_input_head(struct input_render *ir, const struct vd_dinput_status *st)
{
	struct vd_sbuf *sb = ir->sb;
	char name[128];

	vd_sbuf_printf(sb, ",\"input\":{\"source\":");
	vd_sbuf_json_str(sb, st->source);
	vd_sbuf_printf(sb, ",\"seat\":");
	vd_sbuf_json_str(sb, st->seat);
	vd_sbuf_printf(sb, ",\"last_key_guest\":");
	if (st->router.last_key_domid == VD_ROUTER_NO_FOCUS) {
		vd_sbuf_printf(sb, "null,\"last_key_domid\":null,\"last_key_seconds_ago\":null");
	} else {
		guest_name(ir->env, st->router.last_key_domid, name, sizeof(name));
		vd_sbuf_json_str(sb, name[0] ? name : NULL);
		vd_sbuf_printf(sb, ",\"last_key_domid\":%u,\"last_key_seconds_ago\":%.3f",
			       st->router.last_key_domid,
			       (double)(vd_now_us() - st->router.last_key_us) / 1e6);
	}
	vd_sbuf_printf(sb,
		       ",\"delivered\":%llu,\"dropped\":%llu,\"hotkeys\":%llu,\"focus_changes\":%llu,"
		       "\"vkb_events\":%llu,\"vkb_queued\":%llu,\"vkb_dropped\":%llu,"
		       "\"vkb_refused\":%llu",
		       (unsigned long long)st->router.delivered,
		       (unsigned long long)st->router.dropped,
		       (unsigned long long)st->router.hotkeys,
		       (unsigned long long)st->router.focus_changes,
		       (unsigned long long)st->vkb.events, (unsigned long long)st->vkb.queued,
		       (unsigned long long)st->vkb.dropped, (unsigned long long)st->vkb.refused);
}

void vd_render_input(struct vd_sbuf *sb, bool json, const struct vd_control_env *env)
{
	struct input_render ir = {.sb = sb, .json = json, .env = env};
	struct vd_dinput_status st;

	if (!env->input) {
		if (json)
			vd_sbuf_printf(sb, ",\"input\":null");
		else
			vd_sbuf_printf(sb, "input: none\n");
		return;
	}
	vd_dinput_get_status(env->input, &st);
	if (json) {
		json_input_head(&ir, &st);
		vd_sbuf_printf(sb, ",\"vkbs\":[");
	} else {
		text_input_head(&ir, &st);
	}
	vd_kbdback_foreach_device(vd_dinput_kbdback(env->input), render_vkb, &ir);
	if (json)
		vd_sbuf_printf(sb, "],\"devices\":[");
	ir.n = 0;
	vd_router_foreach_device(vd_dinput_router(env->input), render_device, &ir);
	if (json)
		vd_sbuf_printf(sb, "]}");
}
