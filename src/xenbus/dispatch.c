/* SPDX-License-Identifier: MIT */
/*
 * Request dispatch: a device's rings are served in turns (docs/resources.md,
 * "Work per turn"). A turn serves the device's connectors round-robin, at
 * most VD_REQ_BUDGET requests of each and VD_TURN_PAGES pages of grant
 * work in all (struct vd_turn); an expensive request goes on in the
 * device's next turn while its ring waits. The next turn is an already
 * elapsed timer of the device, so it runs after the sources that are
 * pending already - the other guests' - and a device has one turn in
 * the queue however many rings it keeps full.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xenbus/xenbus_priv.h"

static const struct vd_hv_impl *hvi(struct vd_conn *conn)
{
	return conn->dev->be->hv->impl;
}

/* ---- requests ---- */

static int do_set_config(struct vd_conn *conn, const struct vd_set_config *c)
{
	struct vd_fb_info fb;
	struct vd_rect rect;
	int r;

	if (c->fb_cookie == 0)
		return vd_output_conn_set_config(conn->oconn, NULL, NULL);
	r = vd_bufs_fb_lookup(conn->dev->bufs, c->fb_cookie, &fb);
	if (r < 0)
		return r;
	/*
	 * Linux sends crtc->x/y and the fb's size: the connector shows its
	 * resolution's worth of the fb from (x, y), and c->width/height say
	 * nothing the fb does not (docs/protocol-notes.md, "SET_CONFIG").
	 */
	vd_debug_dom(conn->dev->xb.domid,
		     "dom%u conn %u: SET_CONFIG fb %#" PRIx64
		     " (%ux%u) at %u,%u, request %ux%u bpp %u",
		     conn->dev->xb.domid, conn->idx, c->fb_cookie, fb.width, fb.height, c->x, c->y,
		     c->width, c->height, c->bpp);
	if (!vd_proto_window_valid(c->x, c->y, conn->width, conn->height, fb.width, fb.height,
				   fb.fourcc))
		return -EINVAL;
	rect = (struct vd_rect){c->x, c->y, conn->width, conn->height};
	return vd_output_conn_set_config(conn->oconn, fb.ofb, &rect);
}

static int do_pg_flip(struct vd_conn *conn, uint64_t fb_cookie)
{
	struct vd_fb_info fb;
	int r;

	r = vd_bufs_fb_lookup(conn->dev->bufs, fb_cookie, &fb);
	if (r < 0)
		return r;
	if (conn->flips_pending >= conn->dev->be->opts.max_pending_flips)
		return -EBUSY;
	r = vd_output_conn_flip(conn->oconn, fb.ofb, fb_cookie);
	if (r < 0)
		return r;
	conn->flips_pending++;
	conn->flips++;
	conn->dev->be->stats.flips++;
	return 0;
}

/*
 * The physical display's EDID when the connector has it to itself (the
 * output says), else one synthesised for the connector's resolution. At
 * most 8 pages and their directory: counted in the turn, never split.
 */
static int do_get_edid(struct vd_conn *conn, const struct vd_get_edid *e, struct vd_turn *turn,
		       uint32_t *ret_sz)
{
	uint8_t edid[XENDISPL_EDID_MAX_SIZE];
	int len = -ENODATA, r;

	if (conn->oconn)
		len = vd_output_conn_get_edid(
		    conn->oconn, edid, e->buffer_sz < sizeof(edid) ? e->buffer_sz : sizeof(edid));
	if (len <= 0) {
		r = vd_edid_generate(conn->width, conn->height, conn->unique_id, edid);
		if (r < 0)
			return r;
		len = VD_EDID_SIZE;
	}
	turn->pages += vd_pages_for_bytes(e->buffer_sz) + 1;
	r = vd_bufs_write_pgdir(conn->dev->bufs, e->gref_directory, e->buffer_sz, edid,
				(uint32_t)len);
	if (r < 0)
		return r;
	*ret_sz = (uint32_t)len;
	return 0;
}

static void push_response(struct vd_conn *conn, uint16_t id, uint8_t operation, int status,
			  uint32_t edid_sz)
{
	struct xendispl_resp *rsp = RING_GET_RESPONSE(&conn->ring, conn->ring.rsp_prod_pvt);

	if (status < 0) {
		conn->dev->be->stats.errors++;
		vd_log_rl_dom(conn->dev->xb.domid, LOG_INFO,
			      "dom%u conn %u: op 0x%x id %u: status %d", conn->dev->xb.domid,
			      conn->idx, operation, id, status);
	}
	conn->dev->be->stats.requests++;
	vd_proto_encode_resp(rsp, id, operation, status, edid_sz);
	conn->ring.rsp_prod_pvt++;
}

static void push_and_notify(struct vd_conn *conn)
{
	int notify;

	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&conn->ring, notify);
	if (notify)
		hvi(conn)->evtchn_notify(conn->req_ch);
}

/* The DESTROY gate answered: reply, and let the ring go on in the device's next turn. */
static void on_destroy_released(void *userdata, int status)
{
	struct vd_conn *conn = userdata;

	conn->reply_pending = false;
	vd_debug_dom(conn->dev->xb.domid,
		     "dom%u conn %u: DBUF_DESTROY answered after the release in %" PRIu64 "us",
		     conn->dev->xb.domid, conn->idx, vd_now_us() - conn->reply_t0);
	push_response(conn, conn->reply_id, XENDISPL_OP_DBUF_DESTROY, status, 0);
	push_and_notify(conn);
	sd_event_source_set_enabled(conn->dev->serve_src, SD_EVENT_ONESHOT);
}

static int dispatch(struct vd_conn *conn, const struct vd_req *req, struct vd_turn *turn,
		    uint32_t *ret_edid_sz)
{
	struct vd_bufs *bufs = conn->dev->bufs;
	int r;

	switch (req->operation) {
	case XENDISPL_OP_DBUF_CREATE:
		return vd_bufs_dbuf_create(bufs, &req->dbuf_create, turn, &conn->job);
	case XENDISPL_OP_DBUF_DESTROY:
		return vd_bufs_dbuf_destroy(bufs, req->dbuf_destroy_cookie, turn,
					    on_destroy_released, conn, &conn->job);
	case XENDISPL_OP_FB_ATTACH:
		return vd_bufs_fb_attach(bufs, &req->fb_attach);
	case XENDISPL_OP_FB_DETACH:
		return vd_bufs_fb_detach(bufs, req->fb_detach_cookie);
	case XENDISPL_OP_SET_CONFIG:
		r = do_set_config(conn, &req->set_config);
		if (r == 0)
			vd_backend_changed(conn->dev->be);
		return r;
	case XENDISPL_OP_PG_FLIP:
		return do_pg_flip(conn, req->pg_flip_cookie);
	case XENDISPL_OP_GET_EDID:
		return do_get_edid(conn, &req->get_edid, turn, ret_edid_sz);
	default:
		return -ENOSYS;
	}
}

/*
 * The cost of an import or a backend allocation, and of a destroy, for the
 * debug log (the Xen-in-QEMU tests read these lines): from the request's
 * arrival to its answer, over however many turns it took.
 */
static void log_timing(struct vd_conn *conn, int status)
{
	const struct vd_dbuf_create *d = &conn->reply_req.dbuf_create;
	uint64_t us = vd_now_us() - conn->reply_t0;

	if (conn->reply_op == XENDISPL_OP_DBUF_CREATE)
		vd_debug_dom(conn->dev->xb.domid,
			     "dom%u conn %u: DBUF_CREATE %ux%u %u pages be-alloc=%d in %" PRIu64
			     "us: %d",
			     conn->dev->xb.domid, conn->idx, d->width, d->height, d->num_pages,
			     d->be_alloc, us, status);
	else if (conn->reply_op == XENDISPL_OP_DBUF_DESTROY && status != VD_BUFS_WAIT)
		vd_debug_dom(conn->dev->xb.domid,
			     "dom%u conn %u: DBUF_DESTROY in %" PRIu64 "us (released at once)",
			     conn->dev->xb.domid, conn->idx, us);
}

/*
 * A request's outcome: an answer now; or (VD_BUFS_MORE) its job goes on
 * in a later turn, or (VD_BUFS_WAIT) the gate answers: either way the
 * ring waits (Linux has one request in flight anyway; answers stay in
 * order).
 */
static void conclude(struct vd_conn *conn, int status, uint32_t edid_sz)
{
	if (status == VD_BUFS_MORE)
		return;
	if (status == VD_BUFS_WAIT)
		conn->reply_pending = true;
	else
		push_response(conn, conn->reply_id, conn->reply_op, status, edid_sz);
	log_timing(conn, status);
}

static void handle_one(struct vd_conn *conn, const struct xendispl_req *raw, struct vd_turn *turn)
{
	struct vd_req req = {0};
	uint32_t edid_sz = 0;
	int status;

	conn->reply_t0 = vd_now_us();
	status = vd_proto_decode_req(raw, conn->dev->version, &req);
	conn->reply_id = req.id;
	conn->reply_op = req.operation;
	if (req.operation == XENDISPL_OP_DBUF_CREATE)
		conn->reply_req = req;
	if (status == 0)
		status = dispatch(conn, &req, turn, &edid_sz);
	conn->dev->be->stats.split_requests += status == VD_BUFS_MORE;
	conclude(conn, status, edid_sz);
}

/* The ring waits for its request in progress (a job, or the gate). */
static bool ring_busy(const struct vd_conn *conn)
{
	return conn->job || conn->reply_pending;
}

/*
 * Serve one ring in this turn: its job first, then up to VD_REQ_BUDGET
 * requests while the turn lasts. Returns 1 if it has more for a later
 * turn, 0 when it is idle or waits for the gate, -EPROTO when the
 * frontend broke the ring.
 */
static int serve_ring(struct vd_conn *conn, struct vd_turn *turn)
{
	unsigned budget = VD_REQ_BUDGET;
	int more;

	if (conn->job) {
		int r = vd_bufs_job_run(conn->dev->bufs, conn->job, turn);

		if (r == VD_BUFS_MORE)
			return 1;
		conn->job = NULL;
		conclude(conn, r, 0);
	}
	do {
		RING_IDX rp = conn->ring.sring->req_prod;

		rmb(); /* see requests up to rp */
		if (RING_REQUEST_PROD_OVERFLOW(&conn->ring, rp)) {
			vd_xbdev_fail(&conn->dev->xb, "request ring overflow");
			return -EPROTO;
		}
		while (conn->ring.req_cons != rp && budget && !ring_busy(conn) &&
		       !vd_turn_spent(turn)) {
			struct xendispl_req raw;

			RING_COPY_REQUEST(&conn->ring, conn->ring.req_cons, &raw);
			conn->ring.req_cons++;
			handle_one(conn, &raw, turn);
			budget--;
			if (conn->dev->xb.failed)
				return 0;
		}
		push_and_notify(conn);
		if (ring_busy(conn))
			return conn->job != NULL;
		if (!budget || vd_turn_spent(turn))
			return 1;
		RING_FINAL_CHECK_FOR_REQUESTS(&conn->ring, more);
	} while (more);
	return 0;
}

/* ---- the device's turns ---- */

static void count_turn(struct vd_backend *be, const struct vd_turn *turn)
{
	be->stats.turns++;
	if (turn->pages > be->stats.max_turn_pages)
		be->stats.max_turn_pages = turn->pages;
}

static void dev_turn(struct vd_dev *dev)
{
	struct vd_turn turn = VD_TURN_INIT;
	uint32_t n = dev->nconn;
	bool more = false;

	for (uint32_t k = 0; k < n && !dev->xb.failed; k++) {
		struct vd_conn *conn = &dev->conns[(dev->rr + k) % n];

		if (conn->req_page)
			more |= serve_ring(conn, &turn) > 0;
	}
	if (dev->xb.failed)
		return;
	count_turn(dev->be, &turn);
	dev->rr = n ? (dev->rr + 1) % n : 0;
	/* More to do: after the other guests had their turn. */
	sd_event_source_set_enabled(dev->serve_src, more ? SD_EVENT_ONESHOT : SD_EVENT_OFF);
	for (uint32_t i = 0; i < n; i++)
		if (dev->conns[i].req_page && dev->conns[i].evq_len)
			vd_conn_evq_flush(&dev->conns[i]);
}

static int on_serve(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct vd_dev *dev = userdata;

	if (!dev->xb.failed)
		dev_turn(dev);
	return 0;
}

void vd_dev_kick(struct vd_dev *dev)
{
	int enabled = SD_EVENT_OFF;

	if (dev->xb.failed || !dev->serve_src)
		return;
	/* A turn already queued serves this ring too, in its place behind the other guests. */
	if (sd_event_source_get_enabled(dev->serve_src, &enabled) >= 0 && enabled != SD_EVENT_OFF)
		return;
	dev_turn(dev);
}

/*
 * The next turn is an already elapsed timer, not a defer source: sd-event
 * leaves a defer source pending with the iteration it was created in, so
 * once enabled it always runs before every other source of its priority,
 * and a guest that keeps its rings full would starve all the others. An
 * elapsed timer is made pending anew each iteration and waits behind the
 * sources already pending.
 */
int vd_dev_serve_add(struct vd_dev *dev)
{
	int r = 0;

	if (dev->serving++ == 0) {
		r = sd_event_add_time(dev->be->loop, &dev->serve_src, CLOCK_MONOTONIC, 0, 1,
				      on_serve, dev);
		if (r >= 0)
			r = sd_event_source_set_enabled(dev->serve_src, SD_EVENT_OFF);
	}
	if (r < 0)
		vd_dev_serve_remove(dev);
	return r;
}

void vd_dev_serve_remove(struct vd_dev *dev)
{
	if (dev->serving && --dev->serving == 0)
		dev->serve_src = sd_event_source_disable_unref(dev->serve_src);
}

void vd_dev_serve_soon(struct vd_dev *dev)
{
	if (dev->serve_src)
		sd_event_source_set_enabled(dev->serve_src, SD_EVENT_ONESHOT);
}

void vd_conn_stop_work(struct vd_conn *conn)
{
	vd_gates_cancel(conn->dev->be->gates, conn);
	conn->reply_pending = false;
	vd_bufs_job_cancel(conn->dev->bufs, conn->job);
	conn->job = NULL;
}
