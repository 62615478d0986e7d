/* SPDX-License-Identifier: MIT */
/*
 * Flips and commits. One atomic commit is in flight per head at a time.
 * When none is, kms_head_kick takes the oldest queued frame of each
 * connector on the head (vd_output_conn_take: they become what the
 * connectors show), builds the plane state (direct scanout of one imported
 * fb, overlays, or a composed buffer) and commits it non-blocking with a
 * page-flip event. The event presents the commit's frames (their flips
 * complete, in order) and kicks again, so flips that arrived meanwhile go
 * out with the next vblank.
 *
 * The output core's watchdog completes a commit's frames KMS_WATCHDOG_US
 * after it without an event; the head is then "stuck" and its connectors
 * flip blind (the core completes their flips at the vblank pace) until the
 * kernel's event comes. A head with no display or mode, or whose commit
 * failed (tried again after KMS_RETRY_US), flips blind too, so a guest
 * always gets exactly one event per accepted flip.
 *
 * A guest fb taken off the screen is never waited for: its DRM fb becomes
 * a zombie, removed once a commit without it is on screen.
 */
#include "output/kms/kms_priv.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define TIMER_ACCURACY_US 1u
#define WAIT_IDLE_MS 200

/* ---- the commit in flight: which conns' frames it carries ---- */

static void committed_add(struct kms_head *head, struct kms_conn *conn)
{
	for (uint32_t i = 0; i < head->ncommitted; i++)
		if (head->committed[i] == conn)
			return;
	if (head->ncommitted < KMS_MAX_CONNS_PER_HEAD)
		head->committed[head->ncommitted++] = conn;
}

/* Their frames are on screen (or not, after all); the list empties first: callbacks may kick. */
static void committed_present(struct kms_head *head, bool shown)
{
	struct kms_conn *conns[KMS_MAX_CONNS_PER_HEAD];
	uint32_t n = head->ncommitted;

	memcpy(conns, head->committed, n * sizeof(conns[0]));
	head->ncommitted = 0;
	vd_output_present_begin(&head->out->base);
	for (uint32_t i = 0; i < n; i++)
		vd_output_conn_presented(&conns[i]->base, shown);
	vd_output_present_end(&head->out->base);
}

void kms_conn_forget_commits(struct kms_conn *conn)
{
	struct kms_output *out = conn->out;

	for (uint32_t h = 0; out && h < out->nheads; h++) {
		struct kms_head *head = &out->heads[h];

		for (uint32_t i = 0; i < head->ncommitted; i++) {
			if (head->committed[i] != conn)
				continue;
			memmove(&head->committed[i], &head->committed[i + 1],
				(head->ncommitted - i - 1) * sizeof(head->committed[0]));
			head->ncommitted--;
			break;
		}
	}
}

/* ---- blind ---- */

/* The head can show its conns' frames (a commit may be in flight). */
static bool head_shows(const struct kms_head *head)
{
	return head->enabled && !head->broken && !head->unplugged && !head->stuck && !head->failed;
}

static bool head_usable(const struct kms_head *head)
{
	return head_shows(head) && !head->pending;
}

void kms_head_update_blind(struct kms_head *head)
{
	bool blind = !head_shows(head);

	vd_output_present_begin(&head->out->base);
	for (uint32_t i = 0; i < head->nconns; i++)
		vd_output_conn_set_blind(&head->conns[i]->base, blind);
	vd_output_present_end(&head->out->base);
}

/*
 * Take the oldest queued frame of each conn: it is what the conn shows
 * from now. A conn whose last frame is still on another head's commit (it
 * moved to a display connected later) waits for that one's event.
 */
static bool take_flips(struct kms_head *head)
{
	bool any = false;

	for (uint32_t i = 0; i < head->nconns; i++) {
		struct kms_conn *conn = head->conns[i];

		if (conn->base.taken || !vd_output_conn_take(&conn->base))
			continue;
		committed_add(head, conn);
		any = true;
		if (head->t_connected) {
			vd_info("kms: %s: first flip on it (%s) %.1f ms after the uevent that "
				"connected it",
				head->name, kms_conn_name(conn),
				(double)(vd_now_us() - head->t_connected) / 1000.0);
			head->t_connected = 0;
		}
	}
	return any;
}

/* ---- commits ---- */

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
	const struct vd_rect *win = &conn->base.cur.window;
	const struct kms_fb *fb = kms_conn_fb(conn);
	struct vd_rect pic = *win;

	if (fb && !vd_rect_clip(win, fb->base.src.width, fb->base.src.height, &pic))
		return false;
	if (!vd_kms_clip(&conn->place, screen_w, screen_h, ret_cell))
		return false;
	if (!vd_kms_fit_frame(ret_cell, conn->base.desc.width, conn->base.desc.height, pic.width,
			      pic.height, ret_src, ret_dst))
		return false;
	ret_src->x += pic.x;
	ret_src->y += pic.y;
	return true;
}

/* Can conn's fb go onto a plane (primary or overlay: overlays need their format too)? */
static bool scanout_ok(const struct kms_head *head, const struct kms_conn *conn, bool overlay)
{
	const struct kms_fb *fb = kms_conn_fb(conn);

	if (head->out->force_copy || !fb || !fb->fb_id || fb->no_direct)
		return false;
	return !overlay || (head->noverlays && !head->no_overlays &&
			    kms_plane_can_scanout(&head->overlays[0], fb->base.src.fourcc));
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

		if (!conn->base.cur.fb || conn->counted_seq == conn->base.seq)
			continue;
		conn->counted_seq = conn->base.seq;
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
			fb = kms_conn_fb(conn)->fb_id;
			kms_head_plane_full(req, head, fb, &src[i]);
		} else if (conn->plane > VD_KMS_PLANE_PRIMARY) {
			kms_plane_set(req, &head->overlays[k], head->crtc_id, kms_conn_fb(conn)->fb_id,
				      &src[i], &dst[i]);
			head->overlay_fb[k] = kms_conn_fb(conn)->fb_id;
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
	struct kms_fb *fb = buf < 0 ? kms_conn_fb(head->conns[0]) : NULL;
	static bool logged;

	if (err == -EBUSY || err == -EAGAIN || err == -EINTR)
		return false;
	if (overlays) {
		head->no_overlays = true;
		vd_info("kms: %s: guests on rectangles are composed (overlay planes refused: %s)",
			head->name, strerror(-err));
		return true;
	}
	if (!fb || !vd_output_fb_map(&fb->base))
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

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct kms_head *head = userdata;

	head->failed = false;
	kms_head_update_blind(head);
	kms_head_kick(head);
	return 0;
}

/* The commit was refused: its frames were not shown; blind until a retry. */
static void commit_failed(struct kms_head *head, int err)
{
	struct kms_output *out = head->out;
	int r;

	vd_log_rl(LOG_WARNING, "kms: %s: commit failed: %s", head->name, strerror(-err));
	head->dirty = false;
	head->failed = true;
	committed_present(head, false);
	kms_head_update_blind(head);
	if (!head->retry)
		r = sd_event_add_time_relative(out->loop, &head->retry, CLOCK_MONOTONIC,
					       KMS_RETRY_US, TIMER_ACCURACY_US, on_retry, head);
	else
		r = sd_event_source_set_time_relative(head->retry, KMS_RETRY_US);
	if (r >= 0)
		r = sd_event_source_set_enabled(head->retry, SD_EVENT_ONESHOT);
	if (r < 0)
		vd_log_rl(LOG_ERR, "kms: %s: cannot arm a timer: %s", head->name, strerror(-r));
}

void kms_head_kick(struct kms_head *head)
{
	int r;

	/* Tearing down after the loop ended: no more frames, the display goes back. */
	if (sd_event_get_state(head->out->loop) == SD_EVENT_FINISHED)
		return;
	if (!head_usable(head))
		return; /* a commit in flight kicks at its event; blind conns are the core's */
	if (!take_flips(head) && !head->dirty)
		return;
	r = commit(head, DRM_MODE_ATOMIC_NONBLOCK | DRM_MODE_PAGE_FLIP_EVENT);
	if (r < 0) {
		commit_failed(head, r);
		return;
	}
	head->pending = true;
}

/* The core: conn has a queued flip, or a new picture without one (set_config, blank). */
void kms_conn_kick(struct vd_output_conn *base)
{
	struct kms_conn *conn = (struct kms_conn *)base;

	if (!vd_output_conn_has_queued(base))
		conn->head->dirty = true;
	kms_head_kick(conn->head);
}

/*
 * The core's watchdog completed conn's frame: the page-flip event of the
 * head that carries it is late (an emulated CPU) or will not come (display
 * off). A notice, not a warning: the guest sees no difference.
 */
void kms_conn_late(struct vd_output_conn *base)
{
	struct kms_conn *conn = (struct kms_conn *)base;
	struct kms_output *out = conn->out;

	for (uint32_t h = 0; h < out->nheads; h++) {
		struct kms_head *head = &out->heads[h];
		bool carries = false;

		for (uint32_t i = 0; i < head->ncommitted; i++)
			carries |= head->committed[i] == conn;
		if (!carries || !head->pending || head->stuck)
			continue;
		head->stuck = true;
		out->watchdog_fired++;
		vd_log_rl(LOG_NOTICE,
			  "kms: %s: no page-flip event %u ms after a commit: completing by timer",
			  head->name, KMS_WATCHDOG_US / 1000u);
		kms_head_update_blind(head);
	}
}

/* ---- zombies ---- */

static bool on_a_plane(const struct kms_output *out, uint32_t fb_id)
{
	for (uint32_t h = 0; h < out->nheads; h++) {
		const struct kms_head *head = &out->heads[h];

		if (head->shown_fb == fb_id)
			return true;
		for (uint32_t k = 0; k < head->noverlays; k++)
			if (head->overlay_fb[k] == fb_id)
				return true;
	}
	return false;
}

void kms_zombies_release(struct kms_output *out, bool force)
{
	struct kms_zombie **p = &out->zombies, *z;

	while ((z = *p)) {
		if (!force && on_a_plane(out, z->fb_id)) {
			p = &z->next;
			continue;
		}
		*p = z->next;
		kms_fb_release(out, z->fb_id, z->handle);
		free(z);
	}
}

/* ---- events ---- */

static void on_page_flip(int fd, unsigned int seq, unsigned int sec, unsigned int usec,
			 unsigned int crtc_id, void *data)
{
	struct kms_head *head = data;
	bool was_stuck;

	head->out->events++;
	if (!head->pending)
		return;
	head->pending = false;
	was_stuck = head->stuck;
	head->stuck = false;
	if (head->out->quiet)
		return;
	vd_output_present_begin(&head->out->base);
	committed_present(head, true);
	if (was_stuck)
		kms_head_update_blind(head);
	vd_output_present_end(&head->out->base);
	kms_zombies_release(head->out, false);
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
