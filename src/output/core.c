/* SPDX-License-Identifier: MIT */
/*
 * The output core: the flip contract once for every output
 * (output_impl.h). Each connector has a queue of accepted flips and the
 * frame it shows (cur). A flip leaves the queue when it is shown: at the
 * connector's vblank (VD_PACE_TIMER: the core's grid epoch + k * period),
 * or when the output takes it for the device (VD_PACE_DEVICE) and later
 * says it was presented; a watchdog completes what the device does not.
 * Without a display (blind) the core takes and completes flips at the
 * vblank pace itself. Every accepted flip gets exactly one flip_done,
 * unless its connector is destroyed first.
 *
 * One timer serves the vblank of every connector the core paces (one grid
 * per output, so connectors flipping together wake the loop once), and a
 * timer per connector its watchdog; both are armed only while something
 * waits: an idle connector costs no wake-ups. Callbacks may call back into the output, including destroying
 * the connector being dispatched: destroyed connectors are freed from a
 * deferred source, after the dispatch that destroyed them.
 */
#include "output/output_impl.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "output/shot.h"

#define TIMER_ACCURACY_US 1u

struct vd_output_flip {
	struct vd_output_flip *next;
	struct vd_output_fb *fb; /* NULL once the fb is destroyed: completes blank */
	struct vd_rect window;
	uint64_t token;
	uint64_t t_req, t_take; /* CLOCK_MONOTONIC us; t_take 0: never taken (blind) */
};

/* ---- flip lists ---- */

static void flist_append(struct vd_output_flip ***tail, struct vd_output_flip *flip)
{
	flip->next = NULL;
	**tail = flip;
	*tail = &flip->next;
}

static struct vd_output_flip *flist_pop(struct vd_output_flip **head,
					struct vd_output_flip ***tail)
{
	struct vd_output_flip *flip = *head;

	if (!flip)
		return NULL;
	*head = flip->next;
	if (!*head)
		*tail = head;
	return flip;
}

static void flist_free(struct vd_output_flip **head, struct vd_output_flip ***tail)
{
	struct vd_output_flip *flip;

	while ((flip = flist_pop(head, tail)))
		free(flip);
}

static void flist_forget_fb(struct vd_output_flip *list, const struct vd_output_fb *fb)
{
	for (; list; list = list->next)
		if (list->fb == fb)
			list->fb = NULL;
}

/* ---- latency ---- */

static uint32_t span_us(uint64_t from, uint64_t to)
{
	uint64_t d = to > from ? to - from : 0;

	return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

static void lat_record(struct vd_output *out, const struct vd_output_flip *flip, uint64_t now)
{
	struct vd_output_lat *l;

	if (!flip->t_take)
		return; /* completed blind: nothing showed it */
	l = &out->lat[out->nlat % VD_OUTPUT_LAT_SAMPLES];
	l->take_us = span_us(flip->t_req, flip->t_take);
	l->done_us = span_us(flip->t_req, now);
	out->nlat++;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* p50 and p99 (nearest rank) of one field of the samples. */
static void lat_percentiles(const struct vd_output *out, bool done, uint32_t ret[2])
{
	size_t n = out->nlat < VD_OUTPUT_LAT_SAMPLES ? (size_t)out->nlat : VD_OUTPUT_LAT_SAMPLES;
	uint32_t *v;

	ret[0] = ret[1] = 0;
	if (!n || !(v = malloc(n * sizeof(*v))))
		return;
	for (size_t i = 0; i < n; i++)
		v[i] = done ? out->lat[i].done_us : out->lat[i].take_us;
	qsort(v, n, sizeof(v[0]), cmp_u32);
	ret[0] = v[(50 * n + 99) / 100 - 1];
	ret[1] = v[(99 * n + 99) / 100 - 1];
	free(v);
}

static void lat_log(const struct vd_output *out)
{
	uint32_t c[2], d[2];
	double copies = out->stats.flips ? (double)out->stats.copies / (double)out->stats.flips : 0;

	lat_percentiles(out, false, c);
	lat_percentiles(out, true, d);
	vd_info("%s: flip latency request->commit p50=%uus p99=%uus, "
		"request->done p50=%uus p99=%uus, copies per flip=%.2f",
		out->impl->name, c[0], c[1], d[0], d[1], copies);
}

/* ---- views ---- */

const void *vd_output_fb_map(struct vd_output_fb *fb)
{
	const void *map;
	int r;

	if (fb->src.map || !fb->src.mapper)
		return fb->src.map;
	r = fb->src.mapper->map(fb->src.mapper, &map);
	if (r < 0) {
		vd_log_rl(LOG_WARNING, "%s: cannot map a guest buffer for the CPU: %s",
			  fb->out->impl->name, strerror(-r));
		return NULL;
	}
	fb->src.map = map;
	fb->cpu_mapped = true;
	return map;
}

bool vd_output_conn_view(struct vd_output_conn *conn, struct vd_frame_view *ret)
{
	bool ok;

	if (conn->out->impl->view)
		ok = conn->out->impl->view(conn, ret);
	else
		ok = conn->cur.fb && vd_output_fb_map(conn->cur.fb) &&
		     vd_frame_view_of(&conn->cur.fb->src, &conn->cur.window, ret);
	if (ok)
		ret->seq = conn->seq;
	return ok;
}

static void tell_shown(struct vd_output_conn *conn)
{
	struct vd_frame_view view;

	if (conn->desc.frame_shown && !conn->destroyed && vd_output_conn_view(conn, &view))
		conn->desc.frame_shown(conn->desc.userdata, &view);
}

/* ---- completion ---- */

/* flip leaves the output: told to the user; may destroy conn (the caller checks). */
static void complete(struct vd_output_conn *conn, struct vd_output_flip *flip, bool shown)
{
	struct vd_output *out = conn->out;

	lat_record(out, flip, vd_now_us());
	if (shown && flip->fb) {
		out->stats.frames_shown++;
		tell_shown(conn);
	}
	if (!conn->destroyed)
		conn->desc.flip_done(conn->desc.userdata, flip->token);
	free(flip);
}

static void make_current(struct vd_output_conn *conn, const struct vd_output_flip *flip)
{
	conn->cur = (struct vd_output_frame){flip->fb, flip->window};
	conn->seq++;
}

/* ---- pacing: one vblank for the whole output, a watchdog per connector ---- */

static bool paced_by_core(const struct vd_output_conn *conn)
{
	return conn->out->impl->pacing == VD_PACE_TIMER || conn->blind;
}

/*
 * Next grid point strictly after now. The clock, not the loop's cached
 * iteration time: a flip queued after a long idle spell must not land on
 * a grid point that has already passed.
 */
static uint64_t next_vblank(const struct vd_output *out)
{
	uint64_t period = out->period_us, now;

	if (!period)
		return 0;
	now = vd_now_us();
	if (now < out->epoch_us)
		now = out->epoch_us;
	return out->epoch_us + ((now - out->epoch_us) / period + 1) * period;
}

static void source_arm(sd_event_source *s, uint64_t at, const char *what)
{
	int r = sd_event_source_set_time(s, at);

	if (r >= 0)
		r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	if (r < 0)
		vd_log_rl(LOG_ERR, "%s: cannot arm a timer: %s", what, strerror(-r));
}

static bool source_armed(sd_event_source *s)
{
	int enabled = SD_EVENT_OFF;

	sd_event_source_get_enabled(s, &enabled);
	return enabled != SD_EVENT_OFF;
}

/*
 * conn waits for the output's next vblank if it has queued flips the core
 * paces; its own timer is only the watchdog of frames taken by the device.
 */
static void timer_update(struct vd_output_conn *conn)
{
	struct vd_output *out = conn->out;

	if (conn->destroyed || conn->taken)
		return; /* the watchdog set at the first take stays */
	sd_event_source_set_enabled(conn->timer, SD_EVENT_OFF);
	conn->vblank_due = conn->q && paced_by_core(conn);
	if (conn->vblank_due && !source_armed(out->vblank))
		source_arm(out->vblank, next_vblank(out), out->impl->name);
}

static void complete_taken(struct vd_output_conn *conn, bool shown)
{
	struct vd_output_flip *flip;

	while (!conn->destroyed && (flip = flist_pop(&conn->taken, &conn->ttail)))
		complete(conn, flip, shown);
}

/* A vblank of the core's grid, or the blind pace: the oldest flip becomes current. */
static void vblank(struct vd_output_conn *conn)
{
	struct vd_output_flip *flip = flist_pop(&conn->q, &conn->qtail);
	bool shown = !conn->blind;

	if (!flip)
		return;
	make_current(conn, flip);
	if (!shown)
		conn->out->blind++;
	if (shown) {
		flip->t_take = vd_now_us();
		if (conn->out->impl->present)
			conn->out->impl->present(conn, &conn->cur);
	}
	complete(conn, flip, shown);
}

/*
 * One wake-up for every connector due at this vblank: each shows (and
 * completes) its oldest flip. A connector destroyed by a callback keeps
 * its memory, and its place in the list, until the reap after this.
 */
static int on_vblank(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct vd_output *out = userdata;
	struct vd_output_conn *conn, *next;

	vd_output_present_begin(out);
	for (conn = out->conns; conn; conn = next) {
		next = conn->next;
		if (!conn->vblank_due || conn->destroyed)
			continue;
		conn->vblank_due = false;
		conn->dispatching = true;
		vblank(conn);
		conn->dispatching = false;
		timer_update(conn);
	}
	vd_output_present_end(out);
	return 0;
}

/* The watchdog: the device is late or silent; the guest must not wait. */
static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct vd_output_conn *conn = userdata;
	struct vd_output *out = conn->out;

	vd_output_present_begin(out);
	conn->dispatching = true;
	complete_taken(conn, false);
	if (!conn->destroyed && out->impl->late)
		out->impl->late(conn);
	conn->dispatching = false;
	timer_update(conn);
	vd_output_present_end(out);
	return 0;
}

/* ---- device pacing ---- */

static void kick(struct vd_output_conn *conn)
{
	struct vd_output *out = conn->out;

	if (conn->destroyed || !out->impl->kick)
		return;
	if (out->batch) {
		conn->kick_pending = true;
		return;
	}
	out->impl->kick(conn);
}

/* Something new to show: a vblank for the core's pace, or the output's kick. */
static void schedule(struct vd_output_conn *conn)
{
	if (paced_by_core(conn))
		timer_update(conn);
	else
		kick(conn);
}

const struct vd_output_frame *vd_output_conn_take(struct vd_output_conn *conn)
{
	struct vd_output_flip *flip = flist_pop(&conn->q, &conn->qtail);
	uint64_t wd = conn->out->impl->watchdog_us;

	if (!flip)
		return NULL;
	flip->t_take = vd_now_us();
	if (!conn->taken && wd)
		source_arm(conn->timer, flip->t_take + wd, conn->desc.name);
	flist_append(&conn->ttail, flip);
	make_current(conn, flip);
	return &conn->cur;
}

bool vd_output_conn_has_queued(const struct vd_output_conn *conn)
{
	return conn->q != NULL;
}

void vd_output_conn_presented(struct vd_output_conn *conn, bool shown)
{
	if (conn->destroyed || !conn->taken)
		return;
	sd_event_source_set_enabled(conn->timer, SD_EVENT_OFF);
	vd_output_present_begin(conn->out);
	conn->dispatching = true;
	complete_taken(conn, shown);
	conn->dispatching = false;
	timer_update(conn);
	vd_output_present_end(conn->out);
}

void vd_output_present_begin(struct vd_output *out)
{
	out->batch++;
}

/* Kicks deferred during the batch, one at a time: a kick may destroy connectors. */
void vd_output_present_end(struct vd_output *out)
{
	struct vd_output_conn *conn;

	assert(out->batch > 0);
	if (--out->batch)
		return;
	for (;;) {
		vd_output_for_each_conn(conn, out)
			if (conn->kick_pending)
				break;
		if (!conn)
			return;
		conn->kick_pending = false;
		kick(conn);
	}
}

void vd_output_conn_set_blind(struct vd_output_conn *conn, bool blind)
{
	if (conn->blind == blind || conn->destroyed)
		return;
	conn->blind = blind;
	if (!blind)
		conn->vblank_due = false;
	if (conn->q)
		schedule(conn);
}

void vd_output_count_copy(struct vd_output *out, uint64_t bytes)
{
	out->stats.copies++;
	out->stats.bytes_copied += bytes;
}

/* ---- connectors ---- */

static void screenshot_orphan(struct vd_output_conn *conn);

static int reap(sd_event_source *s, void *userdata)
{
	struct vd_output *out = userdata;
	struct vd_output_conn *conn;

	while ((conn = out->dead)) {
		out->dead = conn->dead_next;
		free(conn->name);
		free(conn);
	}
	return sd_event_source_set_enabled(s, SD_EVENT_OFF);
}

int vd_output_conn_create(struct vd_output *out, const struct vd_output_conn_desc *desc,
			  struct vd_output_conn **ret_conn)
{
	struct vd_output_conn *conn;
	int r;

	if (!desc->width || !desc->height || !desc->flip_done)
		return -EINVAL;
	conn = calloc(1, out->impl->conn_size);
	if (!conn)
		return -ENOMEM;
	conn->out = out;
	conn->desc = *desc;
	conn->name = strdup(desc->name ? desc->name : "?");
	conn->desc.name = conn->name;
	conn->desc.target = conn->desc.mapping = NULL;
	conn->window = (struct vd_rect){0, 0, desc->width, desc->height};
	conn->cur.window = conn->window;
	conn->qtail = &conn->q;
	conn->ttail = &conn->taken;
	r = conn->name ? 0 : -ENOMEM;
	if (r >= 0)
		r = sd_event_add_time(out->loop, &conn->timer, CLOCK_MONOTONIC, 0, TIMER_ACCURACY_US,
				      on_watchdog, conn);
	if (r >= 0)
		r = sd_event_source_set_enabled(conn->timer, SD_EVENT_OFF);
	if (r >= 0)
		r = out->impl->conn_init(conn, desc);
	if (r < 0) {
		sd_event_source_disable_unref(conn->timer);
		free(conn->name);
		free(conn);
		return r;
	}
	VD_LIST_PUSH(&out->conns, conn);
	*ret_conn = conn;
	return 0;
}

void vd_output_conn_destroy(struct vd_output_conn *conn)
{
	struct vd_output *out;

	if (!conn || conn->destroyed)
		return;
	out = conn->out;
	conn->destroyed = true;
	flist_free(&conn->q, &conn->qtail);
	flist_free(&conn->taken, &conn->ttail);
	conn->timer = sd_event_source_disable_unref(conn->timer);
	screenshot_orphan(conn);
	out->impl->conn_finish(conn);
	VD_LIST_UNLINK(conn); /* conn->next stays: an iteration over the list may be on it */
	conn->dead_next = out->dead;
	out->dead = conn;
	sd_event_source_set_enabled(out->reap, SD_EVENT_ONESHOT);
}

/* What conn shows changed without a flip: the output shows it. */
static void picture_changed(struct vd_output_conn *conn)
{
	struct vd_output *out = conn->out;

	conn->seq++;
	if (out->impl->pacing == VD_PACE_TIMER) {
		if (out->impl->present)
			out->impl->present(conn, &conn->cur);
	} else {
		kick(conn);
	}
}

int vd_output_conn_set_config(struct vd_output_conn *conn, struct vd_output_fb *fb,
			      const struct vd_rect *r)
{
	struct vd_rect window = {0, 0, conn->desc.width, conn->desc.height}, clip;
	bool moved;

	if (fb) {
		assert(fb->out == conn->out);
		if (r)
			window = *r;
		if (!vd_rect_clip(&window, fb->src.width, fb->src.height, &clip))
			return -EINVAL;
		moved = memcmp(&window, &conn->window, sizeof(window)) != 0;
		conn->window = window;
		if (moved && conn->out->impl->conn_layout)
			vd_output_layout_changed(conn->out);
	}
	conn->cur = (struct vd_output_frame){fb, conn->window};
	picture_changed(conn);
	if (fb)
		tell_shown(conn);
	return 0;
}

int vd_output_conn_flip(struct vd_output_conn *conn, struct vd_output_fb *fb, uint64_t token)
{
	struct vd_output_flip *flip;

	if (!fb)
		return -EINVAL;
	assert(fb->out == conn->out);
	flip = calloc(1, sizeof(*flip));
	if (!flip)
		return -ENOMEM;
	*flip = (struct vd_output_flip){
		.fb = fb, .window = conn->window, .token = token, .t_req = vd_now_us(),
	};
	flist_append(&conn->qtail, flip);
	conn->out->stats.flips++;
	conn->flips++;
	conn->last_flip_us = flip->t_req;
	schedule(conn);
	return 0;
}

/* ---- framebuffers ---- */

int vd_output_fb_create(struct vd_output *out, const struct vd_frame_src *src,
			struct vd_output_fb **ret_fb)
{
	struct vd_output_fb *fb;
	int r;

	fb = calloc(1, out->impl->fb_size);
	if (!fb)
		return -ENOMEM;
	fb->out = out;
	fb->src = *src;
	r = out->impl->fb_init(fb);
	if (r < 0) {
		free(fb);
		return r;
	}
	VD_LIST_PUSH(&out->fbs, fb);
	*ret_fb = fb;
	return 0;
}

void vd_output_fb_destroy(struct vd_output_fb *fb)
{
	struct vd_output *out;
	struct vd_output_conn *conn;

	if (!fb)
		return;
	out = fb->out;
	vd_output_present_begin(out);
	vd_output_for_each_conn(conn, out) {
		flist_forget_fb(conn->q, fb);
		flist_forget_fb(conn->taken, fb);
		if (conn->cur.fb != fb)
			continue;
		conn->cur.fb = NULL;
		picture_changed(conn);
	}
	out->impl->fb_finish(fb);
	if (fb->cpu_mapped)
		fb->src.mapper->unmap(fb->src.mapper);
	VD_LIST_UNLINK(fb);
	free(fb);
	vd_output_present_end(out);
}

int vd_output_buffer_alloc(struct vd_output *out, uint64_t size, int *ret_fd, void **ret_map)
{
	if (!out->impl->buffer_alloc)
		return -EOPNOTSUPP;
	return out->impl->buffer_alloc(out, size, ret_fd, ret_map);
}

void vd_output_buffer_free(struct vd_output *out, int fd, void *map, uint64_t size)
{
	if (out->impl->buffer_free)
		out->impl->buffer_free(out, fd, map, size);
}

/* ---- screenshots ---- */

/*
 * A screenshot for a user: lives until its done callback or its cancel,
 * whichever comes first, and outlives its connector if need be (an
 * encoding in progress finishes; the user is told).
 */
struct vd_output_screenshot {
	struct vd_output_conn *conn; /* NULL once the connector is gone */
	struct vd_output_shot *shot;
	vd_output_shot_done done;
	void *userdata;
};

static bool shot_read(void *source, struct vd_frame_view *ret)
{
	return vd_output_conn_view(source, ret);
}

static void shot_done(void *userdata, int status)
{
	struct vd_output_screenshot *ss = userdata;

	if (ss->conn)
		ss->conn->screenshot = NULL;
	ss->done(ss->userdata, status);
	free(ss);
}

int vd_output_conn_screenshot(struct vd_output_conn *conn, const char *path,
			      vd_output_shot_done done, void *userdata,
			      struct vd_output_screenshot **ret)
{
	struct vd_output_screenshot *ss;
	int r;

	if (conn->screenshot)
		return -EBUSY;
	ss = calloc(1, sizeof(*ss));
	if (!ss)
		return -ENOMEM;
	*ss = (struct vd_output_screenshot){.conn = conn, .done = done, .userdata = userdata};
	r = vd_shot_start(conn->out->shots, shot_read, conn, conn->desc.width, conn->desc.height,
			  path, shot_done, ss, &ss->shot);
	if (r < 0) {
		free(ss);
		return r;
	}
	conn->screenshot = ss;
	if (ret)
		*ret = ss;
	return 0;
}

void vd_output_screenshot_cancel(struct vd_output_screenshot *ss)
{
	if (!ss)
		return;
	if (ss->conn)
		ss->conn->screenshot = NULL;
	vd_shot_cancel(ss->shot);
	free(ss);
}

/* The connector goes: a shot still copying ends (-ENODEV); one encoding finishes. */
static void screenshot_orphan(struct vd_output_conn *conn)
{
	struct vd_output_screenshot *ss = conn->screenshot;

	if (!ss)
		return;
	conn->screenshot = NULL;
	ss->conn = NULL;
	vd_shot_source_gone(ss->shot, -ENODEV);
}

/* ---- optional operations ---- */

void vd_output_conn_get_state(struct vd_output_conn *conn, struct vd_output_conn_state *ret)
{
	*ret = (struct vd_output_conn_state){
		.fourcc = conn->cur.fb ? conn->cur.fb->src.fourcc : 0,
		.last_flip_us = conn->last_flip_us,
		.flips = conn->flips,
	};
}

int vd_output_conn_get_edid(struct vd_output_conn *conn, void *buf, size_t size)
{
	if (!conn->out->impl->conn_get_edid)
		return -ENODATA;
	return conn->out->impl->conn_get_edid(conn, buf, size);
}

int vd_output_conn_layout(struct vd_output_conn *conn, struct vd_rect *ret)
{
	if (!conn->out->impl->conn_layout)
		return -EOPNOTSUPP;
	return conn->out->impl->conn_layout(conn, ret);
}

int vd_output_conn_scanout(struct vd_output_conn *conn, struct vd_scanout *ret)
{
	if (!conn->out->impl->conn_scanout)
		return -EOPNOTSUPP;
	return conn->out->impl->conn_scanout(conn, ret);
}

int vd_output_input_source(struct vd_output *out, struct vd_input_source **ret_src)
{
	if (!out->impl->input_source)
		return -EOPNOTSUPP;
	return out->impl->input_source(out, ret_src);
}

void vd_output_add_layout_listener(struct vd_output *out, struct vd_listener *l)
{
	vd_signal_add(&out->layout_changed, l);
}

void vd_output_layout_changed(struct vd_output *out)
{
	vd_signal_emit(&out->layout_changed);
}

/* ---- the output ---- */

int vd_output_init(struct vd_output *out, const struct vd_output_impl *impl, sd_event *loop,
		   const struct vd_output_opts *opts)
{
	int r;

	out->impl = impl;
	out->loop = loop;
	out->force_copy = opts && opts->force_copy;
	if (opts && opts->refresh_mhz)
		out->period_us = 1000000000ull / opts->refresh_mhz;
	else if (!opts)
		out->period_us = 1000000000ull / 60000u;
	out->epoch_us = vd_now_us();
	r = sd_event_add_defer(loop, &out->reap, reap, out);
	if (r >= 0)
		r = sd_event_source_set_enabled(out->reap, SD_EVENT_OFF);
	if (r >= 0)
		r = sd_event_add_time(loop, &out->vblank, CLOCK_MONOTONIC, 0, TIMER_ACCURACY_US,
				      on_vblank, out);
	if (r >= 0)
		r = sd_event_source_set_enabled(out->vblank, SD_EVENT_OFF);
	if (r >= 0)
		r = vd_shot_service_create(loop, &out->shots);
	return r;
}

void vd_output_finish(struct vd_output *out)
{
	vd_shot_service_destroy(out->shots);
	out->shots = NULL;
	if (out->reap)
		reap(out->reap, out);
	out->reap = sd_event_source_disable_unref(out->reap);
	out->vblank = sd_event_source_disable_unref(out->vblank);
}

const char *vd_output_name(const struct vd_output *out)
{
	return out->impl->name;
}

void vd_output_get_stats(struct vd_output *out, struct vd_output_stats *ret)
{
	*ret = out->stats;
}

/* Connectors and fbs the user left are taken down first, then the output's own lines. */
void vd_output_destroy(struct vd_output *out)
{
	if (!out)
		return;
	while (out->conns)
		vd_output_conn_destroy(out->conns);
	while (out->fbs)
		vd_output_fb_destroy(out->fbs);
	if (out->stats.flips) { /* else (a start-up failure): no all-zero statistics */
		lat_log(out);
		if (out->impl->report)
			out->impl->report(out);
	}
	out->impl->destroy(out);
}
