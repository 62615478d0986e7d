/* SPDX-License-Identifier: MIT */
/*
 * The simulated guest's display client, as a DRM program on xen-front:
 * dumb buffers (DBUF_CREATE + FB_ATTACH on ring 0), a mode set, then one
 * page flip per frame, the next frame drawn when the previous flip's event
 * came (or the 3100 ms frame-done watchdog fired).
 *
 * Each connector has buffers of its own, or (opts.span) all connectors
 * share one set of buffers side by side, each connector's window at
 * x = index * width, as multi-head KMS programs do (modetest -s A -s B,
 * X11's modesetting): connector 0's client owns them, every connector
 * draws and flips its own window and its own frame numbers.
 *
 * With opts.churn a connector's client makes a fresh buffer for every
 * frame (DBUF_CREATE, FB_ATTACH, draw, PG_FLIP) and takes the previous
 * one down (FB_DETACH, DBUF_DESTROY) as soon as the flip is accepted,
 * while that buffer is still on screen until the new frame's vblank: as
 * a DRM program that removes an fb right after flipping away from it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "simfront/simfront_priv.h"

/* ---- the test pattern ---- */

/*
 * Byte x of row y in frame n. Laid out for XRGB8888 (blue and green ramps
 * that scroll, red from x^y), the same function for every format: the check
 * compares bytes. No two rows are shifts of each other, so a wrong stride
 * cannot pass.
 */
static uint8_t pattern_byte(uint32_t x, uint32_t y, uint64_t frame, uint32_t seed)
{
	uint32_t px = x >> 2, n = (uint32_t)frame;

	switch (x & 3) {
	case 0:
		return (uint8_t)(px * 2u + n * 3u);
	case 1:
		return (uint8_t)(y * 2u + n);
	case 2:
		return (uint8_t)((px ^ y) + seed);
	default:
		return 0xff;
	}
}

/* One row of the pattern; whole pixels at once where they fit. */
static void fill_row(uint8_t *row, uint32_t width_bytes, uint32_t y, uint64_t frame,
		     uint32_t seed)
{
	uint32_t x = 0, n = (uint32_t)frame;

	for (; x + 4 <= width_bytes; x += 4) {
		uint32_t px = x >> 2;
		uint32_t v = (uint8_t)(px * 2u + n * 3u) | (uint32_t)(uint8_t)(y * 2u + n) << 8 |
			     (uint32_t)(uint8_t)((px ^ y) + seed) << 16 | 0xffu << 24;

		memcpy(row + x, &v, 4);
	}
	for (; x < width_bytes; x++)
		row[x] = pattern_byte(x, y, frame, seed);
}

static void stamp(uint8_t *row0, uint64_t frame, uint32_t seed)
{
	uint32_t f = (uint32_t)frame;

	memcpy(row0, &f, 4);
	memcpy(row0 + 4, &seed, 4);
}

void sf_draw(void *dst, uint32_t stride, uint32_t width_bytes, uint32_t height, uint64_t frame,
	     uint32_t seed)
{
	for (uint32_t y = 0; y < height; y++)
		fill_row((uint8_t *)dst + (uint64_t)y * stride, width_bytes, y, frame, seed);
	stamp(dst, frame, seed);
}

uint32_t vd_simfront_seed(uint32_t domid, uint32_t conn_idx)
{
	return domid * 0x01000193u + conn_idx * 0x9e3779b9u + 1u;
}

static bool rows_match(const struct vd_frame_view *view, uint32_t width_bytes, uint64_t frame,
		       uint32_t seed, uint8_t *expect)
{
	for (uint32_t y = 0; y < view->height; y++) {
		const uint8_t *row = view->pixels + (uint64_t)y * view->stride;

		fill_row(expect, width_bytes, y, frame, seed);
		if (y == 0)
			stamp(expect, frame, seed);
		if (memcmp(row, expect, width_bytes) != 0)
			return false;
	}
	return true;
}

int64_t vd_simfront_check_frame(const struct vd_frame_view *view, uint32_t *ret_seed)
{
	uint32_t width_bytes = (uint32_t)(((uint64_t)view->width * view->bpp + 7) / 8);
	uint32_t frame, seed;
	uint8_t *expect;
	bool ok;

	if (!view->pixels || width_bytes < 8 || view->height == 0)
		return -EINVAL;
	memcpy(&frame, view->pixels, 4);
	memcpy(&seed, view->pixels + 4, 4);
	expect = malloc(width_bytes);
	if (!expect)
		return -ENOMEM;
	ok = rows_match(view, width_bytes, frame, seed, expect);
	free(expect);
	if (!ok)
		return -EINVAL;
	if (ret_seed)
		*ret_seed = seed;
	return frame;
}

/* ---- requests ---- */

static struct sf_chan *ring0(struct sf_client *c)
{
	return &c->front->chans[0];
}

/* The width of a buffer: one connector's, or all of them side by side. */
static uint32_t fb_width(const struct vd_simfront *f)
{
	return f->opts.span ? f->width * f->nconn : f->width;
}

/* Buffer i as connector c draws and flips it. */
static struct sf_buffer *buf_of(struct sf_client *c, uint32_t i)
{
	return c->front->opts.span ? &c->front->clients[0].bufs[i] : &c->bufs[i];
}

/* Bytes per row of one connector's window. */
static uint32_t window_bytes(const struct vd_simfront *f)
{
	return (uint32_t)(((uint64_t)f->width * f->bpp + 7) / 8);
}

static uint32_t buffer_bytes(struct vd_simfront *f, uint32_t *ret_stride)
{
	uint64_t pitch = ((uint64_t)fb_width(f) * f->bpp + 7) / 8;
	uint64_t size;

	if (f->opts.pitch_align8)
		pitch = (pitch + 7) & ~7ull;
	size = pitch * f->height;
	if (f->opts.pitch_align8)
		size = (size + VD_PAGE_SIZE - 1) & ~(uint64_t)(VD_PAGE_SIZE - 1);
	*ret_stride = (uint32_t)pitch;
	return (uint32_t)size;
}

static void flip_next(struct sf_client *c);

static void draw_frame(struct sf_client *c, struct sf_buffer *b, uint64_t frame)
{
	struct vd_simfront *f = c->front;
	uint32_t x_bytes = f->opts.span ? c->idx * window_bytes(f) : 0;

	sf_draw((uint8_t *)b->mem->data + x_bytes, b->stride, window_bytes(f), f->height, frame,
		vd_simfront_seed(f->domid, c->idx));
}

static void on_set_config(void *userdata, const struct xendispl_resp *rsp)
{
	struct sf_client *c = userdata;

	if (!rsp || rsp->status) {
		vd_warn("simfront %s: mode set failed", c->front->name);
		return;
	}
	flip_next(c);
}

static void all_created(struct sf_client *c)
{
	struct vd_simfront *f = c->front;
	struct xendispl_req req;

	memset(&req, 0, sizeof(req));
	c->frame = 0;
	draw_frame(c, buf_of(c, 0), 0);
	/* As Linux's display_enable: crtc->x/y and the fb's own size. */
	req.operation = XENDISPL_OP_SET_CONFIG;
	req.op.set_config = (struct xendispl_set_config_req){
		.fb_cookie = buf_of(c, 0)->fb_cookie,
		.x = f->opts.span ? c->idx * f->width : 0,
		.width = fb_width(f),
		.height = f->height,
		.bpp = f->bpp,
	};
	sf_chan_send(&f->chans[c->idx], &req, on_set_config, c);
}

static void send_flip(struct sf_client *c, struct sf_buffer *b);

static void on_fb_attach(void *userdata, const struct xendispl_resp *rsp)
{
	struct sf_buffer *b = userdata;
	struct sf_client *c = b->client;

	if (!rsp || rsp->status) {
		vd_warn("simfront %s: FB_ATTACH failed: %d", c->front->name, rsp ? rsp->status : -1);
		return;
	}
	if (c->front->opts.churn && c->frame) {
		send_flip(c, b); /* this frame's fresh buffer */
		return;
	}
	if (++c->created < c->nbufs)
		return;
	if (!c->front->opts.span) {
		all_created(c);
		return;
	}
	for (uint32_t i = 0; i < c->front->nconn; i++)
		all_created(&c->front->clients[i]);
}

static void on_dbuf_create(void *userdata, const struct xendispl_resp *rsp)
{
	struct sf_buffer *b = userdata;
	struct sf_client *c = b->client;
	struct vd_simfront *f = c->front;
	struct xendispl_req req;

	if (!rsp || rsp->status) {
		vd_warn("simfront %s: DBUF_CREATE failed: %d", f->name, rsp ? rsp->status : -1);
		return;
	}
	/* Linux: any map failure of the backend's grants is -ENXIO, the dbuf dropped. */
	if (b->mem->be_alloc && vd_simfront_buf_map_backend(f, b->mem) < 0) {
		vd_warn("simfront %s: cannot map the backend's buffer", f->name);
		return;
	}
	memset(&req, 0, sizeof(req));
	req.operation = XENDISPL_OP_FB_ATTACH;
	req.op.fb_attach = (struct xendispl_fb_attach_req){
		.dbuf_cookie = b->dbuf_cookie,
		.fb_cookie = b->fb_cookie,
		.width = fb_width(f),
		.height = f->height,
		.pixel_format = f->fourcc,
	};
	sf_chan_send(ring0(c), &req, on_fb_attach, b);
}

static int create_buffer(struct sf_client *c, struct sf_buffer *b)
{
	struct vd_simfront *f = c->front;
	uint32_t size = buffer_bytes(f, &b->stride);
	struct xendispl_req req;
	int r;

	if (f->opts.be_alloc)
		r = vd_simfront_buf_alloc_dir(f, vd_pages_for_bytes(size), &b->mem);
	else
		r = vd_simfront_buf_alloc(f, vd_pages_for_bytes(size), &b->mem);
	if (r < 0)
		return r;
	b->dbuf_cookie = ++f->next_cookie * 0x10001000ull;
	b->fb_cookie = ++f->next_cookie * 0x10001000ull;
	/* A reused slot keeps old bytes: Linux ORs the flags in. */
	memset(&req, 0xa5, sizeof(req));
	req.operation = XENDISPL_OP_DBUF_CREATE;
	req.op.dbuf_create = (struct xendispl_dbuf_create_req){
		.dbuf_cookie = b->dbuf_cookie,
		.width = fb_width(f),
		.height = f->height,
		.bpp = f->bpp,
		.buffer_sz = size,
		.flags = f->opts.be_alloc ? XENDISPL_DBUF_FLG_REQ_ALLOC : 0,
		.gref_directory = b->mem->dir_grefs[0],
	};
	return sf_chan_send(ring0(c), &req, on_dbuf_create, b);
}

/* ---- the flip loop ---- */

static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct sf_client *c = userdata;

	vd_warn("simfront %s: Frame done timed-out, releasing", c->front->name);
	c->front->stats.watchdogs++;
	sf_client_frame_done(c);
	return 0;
}

/* churn: a buffer on its way out, off its slot (which the next frames reuse). */
struct sf_gone {
	struct sf_client *client;
	struct vd_simfront_buf *mem;
	uint64_t dbuf_cookie;
};

static void churn_destroyed(void *userdata, const struct xendispl_resp *rsp)
{
	struct sf_gone *g = userdata;

	if (!rsp || rsp->status)
		g->client->front->stats.errors_churn++;
	vd_simfront_buf_free(g->client->front, g->mem);
	free(g);
}

static void churn_detached(void *userdata, const struct xendispl_resp *rsp)
{
	struct sf_gone *g = userdata;
	struct xendispl_req req;

	if (!rsp || rsp->status)
		g->client->front->stats.errors_churn++;
	vd_simfront_buf_unmap_backend(g->client->front, g->mem);
	memset(&req, 0, sizeof(req));
	req.operation = XENDISPL_OP_DBUF_DESTROY;
	req.op.dbuf_destroy.dbuf_cookie = g->dbuf_cookie;
	sf_chan_send(ring0(g->client), &req, churn_destroyed, g);
}

/* churn: b's frame was flipped away from; it goes at once (FB_DETACH, DBUF_DESTROY). */
static void take_down(struct sf_client *c, struct sf_buffer *b)
{
	struct xendispl_req req;
	struct sf_gone *g;

	if (!b->mem || !(g = malloc(sizeof(*g))))
		return;
	*g = (struct sf_gone){c, b->mem, b->dbuf_cookie};
	b->mem = NULL;
	memset(&req, 0, sizeof(req));
	req.operation = XENDISPL_OP_FB_DETACH;
	req.op.fb_detach.fb_cookie = b->fb_cookie;
	sf_chan_send(ring0(c), &req, churn_detached, g);
}

static void on_flip(void *userdata, const struct xendispl_resp *rsp)
{
	struct sf_client *c = userdata;

	if (!rsp || rsp->status) {
		/* Linux delivers the vblank event at once and marks the connector down. */
		sf_client_frame_done(c);
		return;
	}
	c->front->stats.flips++;
	c->flip_acked = true;
	if (c->front->opts.churn)
		take_down(c, &c->bufs[(c->frame + 1) % c->nbufs]); /* the one still shown */
	if (c->event_seen)
		sf_client_frame_done(c);
}

static void finish(struct sf_client *c);

static void flip_next(struct sf_client *c)
{
	struct vd_simfront *f = c->front;
	struct sf_buffer *b;

	if (f->removing)
		return;
	if (f->opts.frames && c->frame >= f->opts.frames) {
		finish(c);
		return;
	}
	c->frame++;
	b = buf_of(c, (uint32_t)(c->frame % c->nbufs));
	if (f->opts.churn) {
		/* a fresh buffer: flipped once it is attached (on_fb_attach) */
		if (create_buffer(c, b) < 0)
			vd_warn("simfront %s: cannot allocate a buffer", f->name);
		return;
	}
	send_flip(c, b);
}

static void send_flip(struct sf_client *c, struct sf_buffer *b)
{
	struct vd_simfront *f = c->front;
	struct xendispl_req req;

	draw_frame(c, b, c->frame);
	memset(&req, 0, sizeof(req));
	req.operation = XENDISPL_OP_PG_FLIP;
	req.op.pg_flip.fb_cookie = b->fb_cookie;
	c->flip_inflight = true;
	c->flip_acked = c->event_seen = false;
	sd_event_source_set_time_relative(c->watchdog_src, SF_FRAME_DONE_US);
	sd_event_source_set_enabled(c->watchdog_src, SD_EVENT_ONESHOT);
	sf_chan_send(&f->chans[c->idx], &req, on_flip, c);
}

void sf_client_frame_done(struct sf_client *c)
{
	if (!c->flip_inflight)
		return;
	if (!c->flip_acked && c->front->chans[c->idx].inflight) {
		c->event_seen = true; /* event before response: handled later */
		return;
	}
	c->flip_inflight = false;
	sd_event_source_set_enabled(c->watchdog_src, SD_EVENT_OFF);
	c->front->stats.frames_done++;
	flip_next(c);
}

/* ---- the end: disable, detach, destroy, like a DRM client that exits ---- */

static void free_buffer(struct vd_simfront *f, struct sf_buffer *b)
{
	vd_simfront_buf_free(f, b->mem);
	b->mem = NULL;
}

static void on_dbuf_destroy(void *userdata, const struct xendispl_resp *rsp)
{
	struct sf_buffer *b = userdata;
	struct sf_client *c = b->client;

	if (!rsp || rsp->status)
		c->front->stats.buffers_destroyed = false;
	/* Linux ends foreign access whatever the answer was. */
	free_buffer(c->front, b);
	if (--c->destroy_pending == 0) {
		c->finished = true;
		sf_update_finished(c->front);
	}
}

static void on_fb_detach(void *userdata, const struct xendispl_resp *rsp)
{
	struct sf_buffer *b = userdata;
	struct xendispl_req req;

	if (!rsp || rsp->status)
		b->client->front->stats.buffers_destroyed = false;
	vd_simfront_buf_unmap_backend(b->client->front, b->mem);
	memset(&req, 0, sizeof(req));
	req.operation = XENDISPL_OP_DBUF_DESTROY;
	req.op.dbuf_destroy.dbuf_cookie = b->dbuf_cookie;
	sf_chan_send(ring0(b->client), &req, on_dbuf_destroy, b);
}

static void destroy_buffers(struct sf_client *c);

/* Span: every connector has stopped flipping the shared buffers. */
static bool span_flips_over(const struct vd_simfront *f)
{
	for (uint32_t i = 0; i < f->nconn; i++)
		if (!f->clients[i].flips_over)
			return false;
	return true;
}

static void finish(struct sf_client *c)
{
	struct vd_simfront *f = c->front;
	struct xendispl_req req;

	if (!f->opts.destroy_at_end) {
		c->finished = true;
		sf_update_finished(f);
		return;
	}
	memset(&req, 0, sizeof(req));
	req.operation = XENDISPL_OP_SET_CONFIG; /* all zero: disable */
	sf_chan_send(&f->chans[c->idx], &req, NULL, NULL);
	c->flips_over = true;
	if (!f->opts.span) {
		destroy_buffers(c);
		return;
	}
	/* The owner destroys the shared buffers once no connector flips them. */
	if (c->idx != 0) {
		c->finished = true;
		sf_update_finished(f);
	}
	if (span_flips_over(f))
		destroy_buffers(&f->clients[0]);
}

static void destroy_buffers(struct sf_client *c)
{
	struct xendispl_req req;

	c->destroy_pending = 0;
	for (uint32_t i = 0; i < c->nbufs; i++)
		c->destroy_pending += c->bufs[i].mem != NULL;
	for (uint32_t i = 0; i < c->nbufs; i++) {
		if (!c->bufs[i].mem)
			continue; /* churn: already taken down */
		memset(&req, 0, sizeof(req));
		req.operation = XENDISPL_OP_FB_DETACH;
		req.op.fb_detach.fb_cookie = c->bufs[i].fb_cookie;
		sf_chan_send(ring0(c), &req, on_fb_detach, &c->bufs[i]);
	}
}

/* The answer to GET_EDID, in hex on one line (tests compare it with the display's). */
static void on_get_edid(void *userdata, const struct xendispl_resp *rsp)
{
	struct sf_client *c = userdata;
	struct vd_simfront *f = c->front;
	uint32_t n = rsp && !rsp->status ? rsp->op.get_edid.edid_sz : 0;
	char *hex;

	if (!c->edid)
		return;
	if (n > XENDISPL_EDID_MAX_SIZE)
		n = 0;
	hex = malloc((size_t)n * 2 + 1);
	if (hex) {
		hex[0] = 0;
		for (uint32_t i = 0; i < n; i++)
			snprintf(hex + 2 * i, 3, "%02x", ((const uint8_t *)c->edid->data)[i]);
		vd_info("simfront %s conn %u: EDID %u bytes %s (status %d)", f->name, c->idx, n,
			hex, rsp ? rsp->status : -1);
		free(hex);
	}
	vd_simfront_buf_free(f, c->edid);
	c->edid = NULL;
}

static void ask_edid(struct vd_simfront *f, struct sf_client *c)
{
	struct xendispl_req req;

	if (vd_simfront_buf_alloc(f, XENDISPL_EDID_MAX_SIZE / VD_PAGE_SIZE, &c->edid) < 0) {
		vd_warn("simfront %s: cannot allocate the EDID buffer", f->name);
		return;
	}
	memset(&req, 0, sizeof(req));
	req.operation = XENDISPL_OP_GET_EDID;
	req.op.get_edid = (struct xendispl_get_edid_req){
		.buffer_sz = XENDISPL_EDID_MAX_SIZE,
		.gref_directory = c->edid->dir_grefs[0],
	};
	sf_chan_send(&f->chans[c->idx], &req, on_get_edid, c);
}

void sf_client_start(struct vd_simfront *f, struct sf_client *c, uint32_t idx)
{
	memset(c, 0, sizeof(*c));
	c->front = f;
	c->idx = idx;
	c->nbufs = f->opts.nbufs ? f->opts.nbufs : 2;
	if (c->nbufs > SF_MAX_BUFS)
		c->nbufs = SF_MAX_BUFS;
	if (f->opts.get_edid)
		ask_edid(f, c);
	if (sd_event_add_time_relative(f->loop, &c->watchdog_src, CLOCK_MONOTONIC,
				       SF_FRAME_DONE_US, 0, on_watchdog, c) >= 0)
		sd_event_source_set_enabled(c->watchdog_src, SD_EVENT_OFF);
	if (f->opts.span && idx != 0)
		return; /* connector 0's client makes the shared buffers */
	if (f->opts.churn) {
		c->nbufs = 2; /* the one shown and the next one; only the first made now */
		c->bufs[0].client = c->bufs[1].client = c;
		c->bufs[1].index = 1;
		if (create_buffer(c, &c->bufs[0]) < 0)
			vd_warn("simfront %s: cannot allocate a buffer", f->name);
		c->created = 1;
		return;
	}
	for (uint32_t i = 0; i < c->nbufs; i++) {
		c->bufs[i].client = c;
		c->bufs[i].index = i;
		if (create_buffer(c, &c->bufs[i]) < 0)
			vd_warn("simfront %s: cannot allocate a buffer", f->name);
	}
}

/* The DRM device is gone (unplugged): local cleanup only, no requests. */
void sf_client_stop(struct vd_simfront *f, struct sf_client *c)
{
	c->watchdog_src = sd_event_source_disable_unref(c->watchdog_src);
	vd_simfront_buf_free(f, c->edid);
	c->edid = NULL;
	for (uint32_t i = 0; i < SF_MAX_BUFS; i++)
		if (c->bufs[i].mem)
			free_buffer(f, &c->bufs[i]);
	c->flip_inflight = false;
}

/* ---- guest buffers with page directories ---- */

static int grant_all(struct vd_simfront *f, uint32_t n, const uint32_t *pfns, uint32_t *refs)
{
	for (uint32_t i = 0; i < n; i++) {
		int r = vd_sim_grant(f->sim, f->domid, f->opts.be_domid, pfns[i], false, &refs[i]);

		if (r < 0)
			return r;
	}
	return 0;
}

static void fill_dir(struct vd_simfront_buf *b)
{
	for (uint32_t d = 0; d < b->num_dir; d++) {
		struct xendispl_page_directory *pd =
			(void *)((uint8_t *)b->dir + (uint64_t)d * VD_PAGE_SIZE);
		uint32_t first = d * (uint32_t)VD_GREFS_PER_DIR_PAGE;
		uint32_t n = b->num_pages - first;

		if (n > VD_GREFS_PER_DIR_PAGE)
			n = VD_GREFS_PER_DIR_PAGE;
		pd->gref_dir_next_page = d + 1 < b->num_dir ? b->dir_grefs[d + 1] : 0;
		memcpy(pd->gref, b->grefs + first, n * sizeof(uint32_t));
	}
}

int vd_simfront_buf_alloc(struct vd_simfront *f, uint32_t num_pages,
			  struct vd_simfront_buf **ret_buf)
{
	struct vd_simfront_buf *b = calloc(1, sizeof(*b));
	uint32_t *pfns = NULL, *dpfns = NULL;
	int r = -ENOMEM;

	if (!b || num_pages == 0)
		goto fail;
	b->num_pages = num_pages;
	b->num_dir = vd_dir_pages_for(num_pages);
	b->grefs = calloc(num_pages, sizeof(uint32_t));
	b->dir_grefs = calloc(b->num_dir, sizeof(uint32_t));
	pfns = calloc(num_pages, sizeof(uint32_t));
	dpfns = calloc(b->num_dir, sizeof(uint32_t));
	if (!b->grefs || !b->dir_grefs || !pfns || !dpfns)
		goto fail;
	r = vd_sim_mem_alloc(f->sim, f->domid, num_pages, &b->data, pfns);
	if (r >= 0)
		r = vd_sim_mem_alloc(f->sim, f->domid, b->num_dir, &b->dir, dpfns);
	if (r >= 0)
		r = grant_all(f, num_pages, pfns, b->grefs);
	if (r >= 0)
		r = grant_all(f, b->num_dir, dpfns, b->dir_grefs);
	if (r < 0)
		goto fail;
	fill_dir(b);
	free(pfns);
	free(dpfns);
	*ret_buf = b;
	return 0;
fail:
	free(pfns);
	free(dpfns);
	vd_simfront_buf_free(f, b);
	return r;
}

static void end_grants(struct vd_simfront *f, const uint32_t *refs, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (refs[i] && vd_sim_grant_end(f->sim, f->domid, refs[i]) == -EBUSY)
			f->stats.deferred_ends++;
}

static int alloc_dir(struct vd_simfront *f, struct vd_simfront_buf *b)
{
	uint32_t *dpfns = calloc(b->num_dir, sizeof(uint32_t));
	int r = -ENOMEM;

	if (dpfns)
		r = vd_sim_mem_alloc(f->sim, f->domid, b->num_dir, &b->dir, dpfns);
	if (r >= 0)
		r = grant_all(f, b->num_dir, dpfns, b->dir_grefs);
	free(dpfns);
	return r;
}

int vd_simfront_buf_alloc_dir(struct vd_simfront *f, uint32_t num_pages,
			      struct vd_simfront_buf **ret_buf)
{
	struct vd_simfront_buf *b = calloc(1, sizeof(*b));
	int r = -ENOMEM;

	if (!b || num_pages == 0)
		goto fail;
	b->be_alloc = true;
	b->num_pages = num_pages;
	b->num_dir = vd_dir_pages_for(num_pages);
	b->grefs = calloc(num_pages, sizeof(uint32_t));
	b->dir_grefs = calloc(b->num_dir, sizeof(uint32_t));
	if (!b->grefs || !b->dir_grefs)
		goto fail;
	r = alloc_dir(f, b);
	if (r < 0)
		goto fail;
	fill_dir(b); /* next pointers only: the grefs are zero until the backend writes them */
	*ret_buf = b;
	return 0;
fail:
	vd_simfront_buf_free(f, b);
	return r;
}

int vd_simfront_buf_map_backend(struct vd_simfront *f, struct vd_simfront_buf *b)
{
	for (uint32_t d = 0; d < b->num_dir; d++) {
		const struct xendispl_page_directory *pd =
			(const void *)((uint8_t *)b->dir + (uint64_t)d * VD_PAGE_SIZE);
		uint32_t first = d * (uint32_t)VD_GREFS_PER_DIR_PAGE;
		uint32_t n = b->num_pages - first;

		if (n > VD_GREFS_PER_DIR_PAGE)
			n = VD_GREFS_PER_DIR_PAGE;
		memcpy(b->grefs + first, pd->gref, n * sizeof(uint32_t));
	}
	return f->hv->impl->gnt_map(f->gnt, f->opts.be_domid, b->num_pages, b->grefs, true,
				    &b->data);
}

void vd_simfront_buf_unmap_backend(struct vd_simfront *f, struct vd_simfront_buf *b)
{
	if (!b || !b->be_alloc || !b->data)
		return;
	f->hv->impl->gnt_unmap(f->gnt, b->data, b->num_pages);
	b->data = NULL;
}

void vd_simfront_buf_free(struct vd_simfront *f, struct vd_simfront_buf *b)
{
	if (!b)
		return;
	if (b->be_alloc)
		vd_simfront_buf_unmap_backend(f, b);
	else if (!f->dead && b->grefs)
		end_grants(f, b->grefs, b->num_pages);
	if (!f->dead && b->dir_grefs)
		end_grants(f, b->dir_grefs, b->num_dir);
	if (b->data)
		vd_sim_mem_free(f->sim, f->domid, b->data, b->num_pages);
	if (b->dir)
		vd_sim_mem_free(f->sim, f->domid, b->dir, b->num_dir);
	free(b->grefs);
	free(b->dir_grefs);
	free(b);
}
