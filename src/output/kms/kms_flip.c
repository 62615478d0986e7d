/* SPDX-License-Identifier: MIT */
/*
 * Flips and commits. One atomic commit is in flight per head at a time.
 * When none is, kms_head_kick takes the oldest queued flip of each
 * connector on the head (they become what the connectors show), builds
 * the plane state (direct scanout of one imported fb, or a composed
 * buffer) and commits it non-blocking with a page-flip event. The event
 * completes the commit's flips (flip_done, in order) and kicks again, so
 * flips that arrived meanwhile go out with the next vblank.
 *
 * Without an event KMS_WATCHDOG_US after the commit, its flips are
 * completed anyway and the head is "stuck": further flips complete blind,
 * one per connector every KMS_BLIND_PERIOD_US, until the kernel's event
 * comes. A head that failed its modeset or a commit completes flips blind
 * too, so a guest always gets exactly one event per accepted flip.
 */
#include "output/kms/kms_priv.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define TIMER_ACCURACY_US 1u
#define WAIT_IDLE_MS 200

static void list_append(struct kms_flip **list, struct kms_flip *flip)
{
	while (*list)
		list = &(*list)->next;
	flip->next = NULL;
	*list = flip;
}

static struct kms_flip *list_pop(struct kms_flip **list)
{
	struct kms_flip *flip = *list;

	if (flip)
		*list = flip->next;
	return flip;
}

/* Free the flips of conn in list (no flip_done). */
static void list_drop_conn(struct kms_flip **list, const struct kms_conn *conn)
{
	while (*list) {
		struct kms_flip *flip = *list;

		if (flip->conn != conn) {
			list = &flip->next;
			continue;
		}
		*list = flip->next;
		free(flip);
	}
}

static void list_forget_fb(struct kms_flip *list, const struct kms_fb *fb)
{
	for (; list; list = list->next)
		if (list->fb == fb)
			list->fb = NULL;
}

void kms_conn_drop_flips(struct kms_conn *conn)
{
	list_drop_conn(&conn->q, conn);
	/* every head: a conn that moved (a display connected later) may have some on the old one */
	for (uint32_t i = 0; conn->out && i < conn->out->nheads; i++) {
		list_drop_conn(&conn->out->heads[i].inflight, conn);
		list_drop_conn(&conn->out->heads[i].done, conn);
	}
}

/* ---- completion ---- */

static void notify_shown(struct kms_conn *conn, const struct kms_fb *fb, const struct vd_rect *r)
{
	struct vd_frame_view view;

	if (conn->desc.frame_shown && vd_frame_view_of(&fb->src, r, &view)) {
		view.seq = conn->seq;
		conn->desc.frame_shown(conn->desc.userdata, &view);
	}
}

/* The callbacks may destroy conn (deferred) or queue new flips. */
static void complete_one(struct kms_flip *flip, bool shown)
{
	struct kms_conn *conn = flip->conn;

	kms_lat_record(conn->out, flip);
	conn->dispatching = true;
	if (shown && flip->fb) {
		conn->out->stats.frames_shown++;
		notify_shown(conn, flip->fb, &flip->rect);
	}
	if (!conn->destroyed)
		conn->desc.flip_done(conn->desc.userdata, flip->token);
	conn->dispatching = false;
	free(flip);
	if (conn->destroyed)
		kms_conn_free(conn);
}

/* Complete what was in flight. conn_destroy from a callback removes its flips from done. */
static void complete_inflight(struct kms_head *head, bool shown)
{
	struct kms_flip *flip;

	while ((flip = list_pop(&head->inflight)))
		list_append(&head->done, flip);
	while ((flip = list_pop(&head->done)))
		complete_one(flip, shown);
}

/* ---- blind completion (no display, stuck or failed commits) ---- */

static int on_blind(sd_event_source *s, uint64_t usec, void *userdata);

static void blind_arm(struct kms_head *head, uint64_t delay_us)
{
	struct kms_output *out = head->out;
	int enabled = SD_EVENT_OFF;
	uint64_t now = 0;
	int r;

	if (head->blind && sd_event_source_get_enabled(head->blind, &enabled) >= 0 &&
	    enabled != SD_EVENT_OFF)
		return; /* already due: keep the pace */
	sd_event_now(out->loop, CLOCK_MONOTONIC, &now);
	if (!head->blind)
		r = sd_event_add_time(out->loop, &head->blind, CLOCK_MONOTONIC, now + delay_us,
				      TIMER_ACCURACY_US, on_blind, head);
	else
		r = sd_event_source_set_time(head->blind, now + delay_us);
	if (r >= 0)
		r = sd_event_source_set_enabled(head->blind, SD_EVENT_ONESHOT);
	if (r < 0)
		vd_log_rl(LOG_ERR, "kms: %s: cannot arm a timer: %s", head->name, strerror(-r));
}

static bool head_has_queued(const struct kms_head *head)
{
	for (uint32_t i = 0; i < head->nconns; i++)
		if (head->conns[i]->q)
			return true;
	return false;
}

/* Take the oldest queued flip of each conn: it is what the conn shows from now. */
static bool take_flips(struct kms_head *head)
{
	bool any = false;

	for (uint32_t i = 0; i < head->nconns; i++) {
		struct kms_conn *conn = head->conns[i];
		struct kms_flip *flip = list_pop(&conn->q);

		if (!flip)
			continue;
		conn->fb = flip->fb;
		if (memcmp(&conn->rect, &flip->rect, sizeof(flip->rect)) != 0)
			kms_layout_changed(head->out);
		conn->rect = flip->rect;
		conn->seq++;
		list_append(&head->inflight, flip);
		any = true;
	}
	return any;
}

static bool head_usable(const struct kms_head *head)
{
	return head->enabled && !head->broken && !head->pending;
}

static int on_blind(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct kms_head *head = userdata;

	if (head->pending && !head->stuck)
		return 0; /* a commit is in flight after all: its event completes */
	complete_inflight(head, false);
	if (head_usable(head)) {
		kms_head_kick(head);
		return 0;
	}
	take_flips(head);
	head->dirty = true;
	complete_inflight(head, false);
	if (head_has_queued(head))
		blind_arm(head, KMS_BLIND_PERIOD_US);
	return 0;
}

/* ---- commits ---- */

static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct kms_head *head = userdata;

	if (!head->pending)
		return 0;
	head->stuck = true;
	head->out->watchdog_fired++;
	/*
	 * A notice, not a warning: the watchdog is how flips go on when the
	 * kernel is late (an emulated CPU) or silent (display off); the guest
	 * sees no difference. watchdog_fired counts them for the status.
	 */
	vd_log_rl(LOG_NOTICE, "kms: %s: no page-flip event %u ms after a commit: completing by timer",
		  head->name, KMS_WATCHDOG_US / 1000u);
	complete_inflight(head, false);
	if (head_has_queued(head))
		blind_arm(head, KMS_BLIND_PERIOD_US);
	return 0;
}

static void watchdog_arm(struct kms_head *head)
{
	struct kms_output *out = head->out;
	uint64_t now = 0;
	int r;

	sd_event_now(out->loop, CLOCK_MONOTONIC, &now);
	if (!head->watchdog)
		r = sd_event_add_time(out->loop, &head->watchdog, CLOCK_MONOTONIC,
				      now + KMS_WATCHDOG_US, TIMER_ACCURACY_US, on_watchdog, head);
	else
		r = sd_event_source_set_time(head->watchdog, now + KMS_WATCHDOG_US);
	if (r >= 0)
		r = sd_event_source_set_enabled(head->watchdog, SD_EVENT_ONESHOT);
	if (r < 0)
		vd_log_rl(LOG_ERR, "kms: %s: cannot arm the flip watchdog", head->name);
}

/*
 * Where conn's picture goes on the screen: *ret_cell its (clipped) place,
 * *ret_src the part of its fb shown, *ret_dst where (same size: no
 * scaling). The connector's frame (its resolution) is fitted into the
 * place; its window of the fb (conn->rect, clipped to the fb: a fb may be
 * smaller than the connector) is at the frame's top-left. False if
 * nothing of it is visible.
 */
bool kms_conn_picture(const struct kms_conn *conn, uint32_t screen_w, uint32_t screen_h,
		      struct vd_rect *ret_cell, struct vd_rect *ret_src, struct vd_rect *ret_dst)
{
	struct vd_rect pic = conn->rect;

	if (conn->fb && !vd_rect_clip(&conn->rect, conn->fb->src.width, conn->fb->src.height, &pic))
		return false;
	if (!vd_kms_clip(&conn->place, screen_w, screen_h, ret_cell))
		return false;
	if (!vd_kms_fit_frame(ret_cell, conn->rect.width, conn->rect.height, pic.width, pic.height,
			      ret_src, ret_dst))
		return false;
	ret_src->x += pic.x;
	ret_src->y += pic.y;
	return true;
}

/* Can conn's fb go onto a plane (primary or overlay: overlays need their format too)? */
static bool scanout_ok(const struct kms_head *head, const struct kms_conn *conn, bool overlay)
{
	const struct kms_fb *fb = conn->fb;

	if (head->out->force_copy || !fb || !fb->fb_id || fb->no_direct)
		return false;
	return !overlay || (head->noverlays && !head->no_overlays &&
			    kms_plane_can_scanout(&head->overlays[0], fb->src.fourcc));
}

/*
 * Decide, for the commit being built, how each conn of the head is shown
 * (conn->plane): the primary plane directly, an overlay, or composed. The
 * sources and destinations of the planes in src[] and dst[].
 */
static void plan(struct kms_head *head, struct vd_rect *src, struct vd_rect *dst)
{
	struct vd_kms_plane_req reqs[KMS_MAX_CONNS_PER_HEAD];
	struct vd_kms_plane_caps caps = {.noverlays = head->no_overlays ? 0 : head->noverlays};
	int planes[KMS_MAX_CONNS_PER_HEAD];
	uint32_t w = head->mode.hdisplay, h = head->mode.vdisplay;

	for (uint32_t i = 0; i < head->nconns; i++) {
		struct kms_conn *conn = head->conns[i];
		struct vd_rect cell = {0, 0, 0, 0};
		bool visible = kms_conn_picture(conn, w, h, &cell, &src[i], &dst[i]);

		reqs[i] = (struct vd_kms_plane_req){
			.dst = visible ? dst[i] : (struct vd_rect){0, 0, 0, 0},
			.src_w = visible ? src[i].width : 0,
			.src_h = visible ? src[i].height : 0,
			.importable = visible && scanout_ok(head, conn, head->nconns > 1 ||
								dst[i].width != w ||
								dst[i].height != h),
			.cover = cell,
		};
	}
	vd_kms_plane_plan(reqs, head->nconns, &caps, w, h, planes);
	for (uint32_t i = 0; i < head->nconns; i++)
		head->conns[i]->plane = planes[i];
}

/* Count each conn's new frame by how it is shown. */
static void count_use(struct kms_head *head)
{
	struct kms_output *out = head->out;

	for (uint32_t i = 0; i < head->nconns; i++) {
		struct kms_conn *conn = head->conns[i];

		if (!conn->fb || conn->counted_seq == conn->seq)
			continue;
		conn->counted_seq = conn->seq;
		if (conn->plane == VD_KMS_PLANE_PRIMARY)
			out->use_direct++;
		else if (conn->plane > VD_KMS_PLANE_PRIMARY)
			out->use_overlay++;
		else
			out->use_composed++;
	}
}

/*
 * Add the planes' next state to req; the primary plane's fb is returned.
 * *ret_buf: the composition buffer used, or -1; *ret_overlays: whether
 * overlays carry guest fbs.
 */
static uint32_t build(struct kms_head *head, drmModeAtomicReq *req, int *ret_buf,
		      bool *ret_overlays)
{
	struct vd_rect src[KMS_MAX_CONNS_PER_HEAD], dst[KMS_MAX_CONNS_PER_HEAD];
	struct kms_dumb *buf;
	uint32_t fb = 0;

	*ret_buf = -1;
	*ret_overlays = false;
	plan(head, src, dst);
	kms_head_overlays_off(req, head);
	for (uint32_t i = 0; i < head->nconns; i++) {
		struct kms_conn *conn = head->conns[i];
		int k = conn->plane - 1;

		if (conn->plane == VD_KMS_PLANE_PRIMARY) {
			fb = conn->fb->fb_id;
			kms_head_plane_full(req, head, fb, &src[i]);
		} else if (conn->plane > VD_KMS_PLANE_PRIMARY) {
			kms_plane_set(req, &head->overlays[k], head->crtc_id, conn->fb->fb_id,
				      &src[i], &dst[i]);
			head->overlay_fb[k] = conn->fb->fb_id;
			*ret_overlays = true;
		}
	}
	count_use(head);
	if (fb)
		return fb;
	buf = &head->bufs[head->back];
	kms_head_compose(head, buf, head->drawn[head->back]);
	kms_head_plane_full(req, head, buf->fb_id, &(struct vd_rect){0, 0, buf->width, buf->height});
	*ret_buf = (int)head->back;
	return buf->fb_id;
}

/*
 * A commit that put imported fbs on planes failed for a reason other than
 * timing: the driver cannot scan them out that way. Overlays: compose
 * from now on (the head's overlays are not used again). The primary
 * plane: copy that fb instead (possible when it is mapped for the CPU).
 * True if the commit is worth redoing.
 */
static bool direct_refused(struct kms_head *head, int err, int buf, bool overlays)
{
	struct kms_fb *fb = buf < 0 ? head->conns[0]->fb : NULL;
	static bool logged;

	if (err == -EBUSY || err == -EAGAIN || err == -EINTR)
		return false;
	if (overlays) {
		head->no_overlays = true;
		vd_info("kms: %s: guests on rectangles are composed (overlay planes refused: %s)",
			head->name, strerror(-err));
		return true;
	}
	if (!fb || !fb->src.map)
		return false;
	fb->no_direct = true;
	if (!logged)
		vd_info("kms: %s: guest buffers are copied (scan-out of the imported buffer "
			"refused: %s)", head->name, strerror(-err));
	logged = true;
	return true;
}

static int commit(struct kms_head *head, uint32_t flags)
{
	drmModeAtomicReq *req;
	uint32_t fb, overlay_fb[KMS_MAX_CONNS_PER_HEAD];
	bool overlays;
	int buf, r;

	memcpy(overlay_fb, head->overlay_fb, sizeof(overlay_fb));
	do {
		req = drmModeAtomicAlloc();
		if (!req)
			return -ENOMEM;
		fb = build(head, req, &buf, &overlays);
		r = drmModeAtomicCommit(head->out->fd, req, flags, head) < 0 ? -errno : 0;
		drmModeAtomicFree(req);
	} while (r < 0 && (buf < 0 || overlays) && direct_refused(head, r, buf, overlays));
	if (r < 0) {
		memcpy(head->overlay_fb, overlay_fb, sizeof(overlay_fb)); /* still on screen */
		return r;
	}
	head->shown_fb = fb;
	head->dirty = false;
	if (buf >= 0)
		head->back = ((uint32_t)buf + 1) % KMS_NBUF;
	return 0;
}

/* The flips just taken go out with the commit issued now. */
static void stamp_commit(struct kms_flip *list)
{
	uint64_t now = vd_now_us();

	for (; list; list = list->next)
		if (!list->t_commit)
			list->t_commit = now;
}

void kms_head_kick(struct kms_head *head)
{
	int r;

	/* Tearing down after the loop ended: no more frames, the display goes back. */
	if (sd_event_get_state(head->out->loop) == SD_EVENT_FINISHED)
		return;
	if (!head_usable(head)) {
		if ((!head->pending || head->stuck) && head_has_queued(head))
			blind_arm(head, KMS_BLIND_PERIOD_US);
		return;
	}
	if (!take_flips(head) && !head->dirty)
		return;
	r = commit(head, DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT);
	if (r < 0) {
		vd_log_rl(LOG_WARNING, "kms: %s: commit failed: %s", head->name, strerror(-r));
		head->dirty = false;
		blind_arm(head, KMS_BLIND_PERIOD_US);
		return;
	}
	stamp_commit(head->inflight);
	head->pending = true;
	watchdog_arm(head);
}

/* Blocking: the plane is off guest memory when this returns. No event. */
int kms_head_commit_sync(struct kms_head *head)
{
	return head->enabled ? commit(head, 0) : 0;
}

void kms_head_forget_fb(struct kms_head *head, struct kms_fb *fb)
{
	bool on_plane = fb->fb_id && head->shown_fb == fb->fb_id;
	int r;

	for (uint32_t k = 0; k < head->noverlays; k++)
		on_plane |= fb->fb_id && head->overlay_fb[k] == fb->fb_id;
	list_forget_fb(head->inflight, fb);
	list_forget_fb(head->done, fb);
	for (uint32_t i = 0; i < head->nconns; i++) {
		struct kms_conn *conn = head->conns[i];

		list_forget_fb(conn->q, fb);
		if (conn->fb != fb)
			continue;
		conn->fb = NULL;
		conn->seq++;
		head->dirty = true;
	}
	if (!on_plane)
		return;
	r = kms_head_commit_sync(head);
	if (r < 0)
		vd_warn("kms: %s: cannot take a guest buffer off the screen: %s", head->name,
			strerror(-r));
}

/* ---- events ---- */

static void on_page_flip(int fd, unsigned int seq, unsigned int sec, unsigned int usec,
			 unsigned int crtc_id, void *data)
{
	struct kms_head *head = data;

	head->out->events++;
	if (!head->pending)
		return;
	head->pending = false;
	head->stuck = false;
	sd_event_source_set_enabled(head->watchdog, SD_EVENT_OFF);
	if (head->out->quiet)
		return;
	complete_inflight(head, true);
	kms_head_kick(head);
}

static void handle_events(struct kms_output *out)
{
	drmEventContext ctx = {
		.version = 3,
		.page_flip_handler2 = on_page_flip,
	};

	if (drmHandleEvent(out->fd, &ctx) < 0 && errno != EAGAIN)
		vd_log_rl(LOG_ERR, "kms: reading DRM events: %m");
}

int kms_on_drm_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	handle_events(userdata);
	return 0;
}

void kms_head_wait_idle(struct kms_head *head)
{
	struct pollfd pfd = {.fd = head->out->fd, .events = POLLIN};

	head->out->quiet = true;
	while (head->pending && poll(&pfd, 1, WAIT_IDLE_MS) > 0)
		handle_events(head->out);
	head->pending = false;
}
