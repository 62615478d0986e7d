/* SPDX-License-Identifier: MIT */
#include "harness.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <xen/io/xenbus.h>

#include "log.h"

struct h_track *h_track_of(struct harness *h, uint32_t domid, uint32_t idx)
{
	for (uint32_t i = 0; i < h->ntrack; i++)
		if (h->track[i].domid == domid && h->track[i].idx == idx)
			return &h->track[i];
	assert_true(h->ntrack < H_MAX_TRACK);
	h->track[h->ntrack] = (struct h_track){.domid = domid, .idx = idx, .last = -1};
	return &h->track[h->ntrack++];
}

/* Every visible frame must be exactly the next one this connector's guest drew. */
static void on_frame(void *userdata, uint32_t domid, uint32_t idx, const struct vd_frame_view *v)
{
	struct harness *h = userdata;
	struct h_track *t = h_track_of(h, domid, idx);
	uint32_t seed = 0;
	int64_t frame;

	if (h->on_view)
		h->on_view(h, domid, idx, v);
	frame = vd_simfront_check_frame(v, &seed);
	t->shown++;
	if (frame < 0 || seed != vd_simfront_seed(domid, idx)) {
		t->bad++;
		return;
	}
	if (frame != t->last + 1 && !(frame == 0))
		t->out_of_order++;
	t->last = frame;
}

void h_init(struct harness *h, bool copy, uint32_t refresh_mhz)
{
	h_init_with(h, NULL, NULL, copy, refresh_mhz);
}

void h_init_with(struct harness *h, h_wrap_output wrap, const struct vd_backend_opts *bo,
		 bool copy, uint32_t refresh_mhz)
{
	struct vd_output_opts oo = {.force_copy = copy, .refresh_mhz = refresh_mhz};

	memset(h, 0, sizeof(*h));
	vd_log_set_level(getenv("VD_TEST_DEBUG") ? LOG_DEBUG : LOG_ERR);
	assert_int_equal(sd_event_new(&h->loop), 0);
	assert_int_equal(vd_hv_create("sim", &h->hv), 0);
	assert_int_equal(vd_output_create("headless", h->loop, &oo, &h->out), 0);
	if (wrap)
		h->out = wrap(h, h->out);
	h->bopts = bo ? *bo : (struct vd_backend_opts)VD_BACKEND_OPTS_DEFAULT;
	h->bopts.on_frame = on_frame;
	h->bopts.on_frame_userdata = h;
	h_backend_start(h);
}

void h_backend_start(struct harness *h)
{
	assert_int_equal(vd_backend_create(h->loop, h->hv, h->out, &h->bopts, &h->be), 0);
}

void h_backend_stop(struct harness *h)
{
	vd_backend_destroy(h->be);
	h->be = NULL;
}

void h_fini(struct harness *h)
{
	vd_backend_destroy(h->be);
	for (uint32_t i = 0; i < h->nguests; i++)
		vd_simfront_destroy(h->guests[i]);
	vd_output_destroy(h->out);
	vd_hv_destroy(h->hv);
	sd_event_unref(h->loop);
}

struct vd_simfront *h_guest(struct harness *h, const char *name,
			    const struct vd_simfront_opts *opts)
{
	struct vd_simfront *g = NULL;

	assert_true(h->nguests < H_MAX_GUESTS);
	assert_int_equal(vd_simfront_create(h->hv, h->loop, name, opts, &g), 0);
	h->guests[h->nguests++] = g;
	return g;
}

bool h_run_until(struct harness *h, h_cond cond, void *arg, uint32_t timeout_ms)
{
	uint64_t end = vd_now_ms() + timeout_ms;

	while (!cond(h, arg)) {
		if (vd_now_ms() >= end)
			return false;
		assert_true(sd_event_run(h->loop, 10000) >= 0);
	}
	return true;
}

static bool never(struct harness *h, void *arg)
{
	return false;
}

void h_run_for(struct harness *h, uint32_t ms)
{
	h_run_until(h, never, NULL, ms);
}

struct vd_simfront_stats h_stats(struct vd_simfront *g)
{
	struct vd_simfront_stats s;

	vd_simfront_get_stats(g, &s);
	return s;
}

bool h_all_finished(struct harness *h, void *arg)
{
	for (uint32_t i = 0; i < h->nguests; i++)
		if (!h_stats(h->guests[i]).finished)
			return false;
	return true;
}

bool h_guest_connected(struct harness *h, void *guest)
{
	return h_stats(guest).state == XenbusStateConnected;
}

bool h_guest_finished(struct harness *h, void *guest)
{
	return h_stats(guest).finished;
}

/* The guest showed every frame it drew, in order, and got one event per flip. */
void h_assert_clean(struct harness *h, struct vd_simfront *g, uint32_t nconn,
			       uint32_t frames)
{
	struct vd_simfront_stats s = h_stats(g);
	uint32_t domid = vd_simfront_domid(g);

	assert_true(s.finished);
	assert_int_equal(s.flips, (uint64_t)nconn * frames);
	assert_int_equal(s.events, (uint64_t)nconn * frames); /* one event per flip */
	assert_int_equal(s.events_skipped, 0);               /* ids 0,1,2,... */
	assert_int_equal(s.timeouts, 0);
	assert_int_equal(s.watchdogs, 0);
	assert_int_equal(s.errors, 0);
	for (uint32_t i = 0; i < nconn; i++) {
		struct h_track *t = h_track_of(h, domid, i);

		assert_int_equal(t->bad, 0);
		assert_int_equal(t->out_of_order, 0);
		assert_int_equal(t->last, frames);
		assert_int_equal(t->shown, frames + 1); /* the mode set shows frame 0 */
	}
}


/* ---- raw requests ---- */

struct xendispl_req h_req(uint8_t op)
{
	struct xendispl_req r;

	memset(&r, 0, sizeof(r));
	r.operation = op;
	return r;
}

struct xendispl_req h_req_dbuf_create(uint64_t cookie, uint32_t w, uint32_t h, uint32_t bpp,
				       uint32_t size, uint32_t gref_dir)
{
	struct xendispl_req r = h_req(XENDISPL_OP_DBUF_CREATE);

	r.op.dbuf_create.dbuf_cookie = cookie;
	r.op.dbuf_create.width = w;
	r.op.dbuf_create.height = h;
	r.op.dbuf_create.bpp = bpp;
	r.op.dbuf_create.buffer_sz = size;
	r.op.dbuf_create.gref_directory = gref_dir;
	return r;
}

struct xendispl_req h_req_dbuf_destroy(uint64_t cookie)
{
	struct xendispl_req r = h_req(XENDISPL_OP_DBUF_DESTROY);

	r.op.dbuf_destroy.dbuf_cookie = cookie;
	return r;
}

struct xendispl_req h_req_fb_attach(uint64_t dbuf, uint64_t fb, uint32_t w, uint32_t h,
				     uint32_t fourcc)
{
	struct xendispl_req r = h_req(XENDISPL_OP_FB_ATTACH);

	r.op.fb_attach.dbuf_cookie = dbuf;
	r.op.fb_attach.fb_cookie = fb;
	r.op.fb_attach.width = w;
	r.op.fb_attach.height = h;
	r.op.fb_attach.pixel_format = fourcc;
	return r;
}

struct xendispl_req h_req_fb_detach(uint64_t fb)
{
	struct xendispl_req r = h_req(XENDISPL_OP_FB_DETACH);

	r.op.fb_detach.fb_cookie = fb;
	return r;
}

struct xendispl_req h_req_set_config(uint64_t fb, uint32_t x, uint32_t y, uint32_t w, uint32_t h)
{
	struct xendispl_req r = h_req(XENDISPL_OP_SET_CONFIG);

	r.op.set_config.fb_cookie = fb;
	r.op.set_config.x = x;
	r.op.set_config.y = y;
	r.op.set_config.width = w;
	r.op.set_config.height = h;
	r.op.set_config.bpp = 32;
	return r;
}

struct xendispl_req h_req_pg_flip(uint64_t fb)
{
	struct xendispl_req r = h_req(XENDISPL_OP_PG_FLIP);

	r.op.pg_flip.fb_cookie = fb;
	return r;
}

struct xendispl_req h_req_get_edid(uint32_t size, uint32_t gref_dir)
{
	struct xendispl_req r = h_req(XENDISPL_OP_GET_EDID);

	r.op.get_edid.buffer_sz = size;
	r.op.get_edid.gref_directory = gref_dir;
	return r;
}

struct h_rsp_wait {
	bool done, timeout;
	struct xendispl_resp rsp;
};

static void on_raw_rsp(void *userdata, const struct xendispl_resp *rsp)
{
	struct h_rsp_wait *w = userdata;

	w->done = true;
	if (rsp)
		w->rsp = *rsp;
	else
		w->timeout = true;
}

static bool raw_rsp_done(struct harness *h, void *arg)
{
	return ((struct h_rsp_wait *)arg)->done;
}

struct xendispl_resp h_send(struct harness *h, struct vd_simfront *g, uint32_t conn,
			    const struct xendispl_req *req)
{
	struct h_rsp_wait w = {0};

	assert_int_equal(vd_simfront_send_raw(g, conn, req, on_raw_rsp, &w), 0);
	assert_true(h_run_until(h, raw_rsp_done, &w, 2000));
	assert_false(w.timeout);
	assert_int_equal(w.rsp.operation, req->operation);
	return w.rsp;
}

/* ---- the daemon's log ---- */

void h_log_capture(struct h_log *l)
{
	l->file = tmpfile();
	assert_non_null(l->file);
	fflush(stderr);
	l->saved_stderr = dup(2);
	assert_true(l->saved_stderr >= 0);
	assert_true(dup2(fileno(l->file), 2) >= 0);
}

/* pread: the file offset is stderr's too, and must stay at the end. */
char *h_log_text(struct h_log *l)
{
	struct stat st;
	char *buf;

	fflush(stderr);
	assert_int_equal(fstat(fileno(l->file), &st), 0);
	buf = calloc(1, (size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fileno(l->file), buf, (size_t)st.st_size, 0), st.st_size);
	return buf;
}

void h_log_release(struct h_log *l)
{
	char line[1024];

	if (!l->file)
		return;
	fflush(stderr);
	dup2(l->saved_stderr, 2);
	close(l->saved_stderr);
	rewind(l->file);
	while (fgets(line, sizeof(line), l->file))
		if (line[0] != '<' || getenv("VD_TEST_DEBUG"))
			fputs(line, stderr);
	fclose(l->file);
	l->file = NULL;
}

unsigned h_count(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}
