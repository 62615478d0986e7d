/* SPDX-License-Identifier: MIT */
/*
 * One connector of a vdispl device: its request ring, its event page, and
 * the dispatch of the requests that arrive on it.
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

static int read_node_u32(struct vd_conn *conn, const char *node, uint32_t *ret)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%u/%s", conn->dev->xb.fe_path, conn->idx, node);
	return vd_xs_read_u32(conn->dev->be->hv, VD_XS_NO_TXN, path, ret);
}

/* ---- events ---- */

static void evq_push(struct vd_conn *conn, uint64_t cookie)
{
	if (conn->evq_len == VD_EVQ_MAX) {
		/* Only a frontend that never consumes gets here. */
		vd_xbdev_fail(&conn->dev->xb, "event page not consumed");
		return;
	}
	conn->evq[(conn->evq_head + conn->evq_len) % VD_EVQ_MAX] = cookie;
	conn->evq_len++;
}

/* Put held-back events on the page while there is room. */
static int evq_flush(struct vd_conn *conn)
{
	bool sent = false;
	int r = 0;

	while (conn->evq_len) {
		r = vd_evt_ring_put_pg_flip(&conn->evt, conn->evt_page, conn->evq[conn->evq_head]);
		if (r < 0)
			break;
		conn->evq_head = (conn->evq_head + 1) % VD_EVQ_MAX;
		conn->evq_len--;
		conn->dev->be->stats.events++;
		sent = true;
	}
	if (sent)
		hvi(conn)->evtchn_notify(conn->evt_ch);
	if (r == -EPROTO)
		vd_xbdev_fail(&conn->dev->xb, "event page indices corrupt");
	return r;
}

/* The display front never notifies on consumption: poll while events wait. */
static int on_evq_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct vd_conn *conn = userdata;

	if (evq_flush(conn) == -EAGAIN) {
		sd_event_source_set_time_relative(s, 2000);
		sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	} else {
		sd_event_source_set_enabled(s, SD_EVENT_OFF);
	}
	return 0;
}

static void on_flip_done(void *userdata, uint64_t fb_cookie)
{
	struct vd_conn *conn = userdata;

	if (conn->flips_pending)
		conn->flips_pending--;
	evq_push(conn, fb_cookie);
	if (conn->dev->xb.failed)
		return;
	if (evq_flush(conn) == -EAGAIN) {
		sd_event_source_set_time_relative(conn->evq_src, 2000);
		sd_event_source_set_enabled(conn->evq_src, SD_EVENT_ONESHOT);
	}
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
 * output says), else one synthesised for the connector's resolution.
 */
static int do_get_edid(struct vd_conn *conn, const struct vd_get_edid *e, uint32_t *ret_sz)
{
	uint8_t edid[XENDISPL_EDID_MAX_SIZE];
	int len = -ENODATA, r;

	if (conn->oconn)
		len = vd_output_conn_get_edid(conn->oconn, edid,
					      e->buffer_sz < sizeof(edid) ? e->buffer_sz
									  : sizeof(edid));
	if (len <= 0) {
		r = vd_edid_generate(conn->width, conn->height, conn->unique_id, edid);
		if (r < 0)
			return r;
		len = VD_EDID_SIZE;
	}
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

/* The DESTROY gate answered: reply, and let the ring go on. */
static void on_destroy_released(void *userdata, int status)
{
	struct vd_conn *conn = userdata;
	int notify;

	conn->reply_pending = false;
	vd_debug_dom(conn->dev->xb.domid,
		     "dom%u conn %u: DBUF_DESTROY answered after the release in %" PRIu64 "us",
		     conn->dev->xb.domid, conn->idx, vd_now_us() - conn->reply_t0);
	push_response(conn, conn->reply_id, XENDISPL_OP_DBUF_DESTROY, status, 0);
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&conn->ring, notify);
	if (notify)
		hvi(conn)->evtchn_notify(conn->req_ch);
	sd_event_source_set_enabled(conn->defer_src, SD_EVENT_ONESHOT);
}

/* 1: the answer comes later from the gate. */
static int do_dbuf_destroy(struct vd_conn *conn, const struct vd_req *req)
{
	uint64_t t0 = vd_now_us();
	int r = vd_bufs_dbuf_destroy(conn->dev->bufs, req->dbuf_destroy_cookie,
				     on_destroy_released, conn);

	if (r == 1) {
		conn->reply_pending = true;
		conn->reply_id = req->id;
		conn->reply_t0 = t0;
	} else {
		vd_debug_dom(conn->dev->xb.domid,
			     "dom%u conn %u: DBUF_DESTROY in %" PRIu64 "us (released at once)",
			     conn->dev->xb.domid, conn->idx, vd_now_us() - t0);
	}
	return r;
}

/* Timed, for the debug log: the cost of an import or a backend allocation. */
static int do_dbuf_create(struct vd_conn *conn, const struct vd_dbuf_create *req)
{
	uint64_t t0 = vd_now_us();
	int r = vd_bufs_dbuf_create(conn->dev->bufs, req);

	vd_debug_dom(conn->dev->xb.domid,
		     "dom%u conn %u: DBUF_CREATE %ux%u %u pages be-alloc=%d in %" PRIu64 "us: %d",
		     conn->dev->xb.domid, conn->idx, req->width, req->height, req->num_pages,
		     req->be_alloc, vd_now_us() - t0, r);
	return r;
}

static int dispatch(struct vd_conn *conn, const struct vd_req *req, uint32_t *ret_edid_sz)
{
	struct vd_bufs *bufs = conn->dev->bufs;
	int r;

	switch (req->operation) {
	case XENDISPL_OP_DBUF_CREATE:
		return do_dbuf_create(conn, &req->dbuf_create);
	case XENDISPL_OP_DBUF_DESTROY:
		return do_dbuf_destroy(conn, req);
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
		return do_get_edid(conn, &req->get_edid, ret_edid_sz);
	default:
		return -ENOSYS;
	}
}

static void handle_one(struct vd_conn *conn, const struct xendispl_req *raw)
{
	struct vd_req req;
	uint32_t edid_sz = 0;
	int status;

	status = vd_proto_decode_req(raw, conn->dev->version, &req);
	if (status == 0)
		status = dispatch(conn, &req, &edid_sz);
	if (status != 1)
		push_response(conn, req.id, req.operation, status, edid_sz);
}

/*
 * Serve up to VD_REQ_BUDGET requests. Returns 1 if more are waiting, 0
 * when the ring is idle, -EPROTO when the frontend broke the ring.
 */
static int serve_ring(struct vd_conn *conn)
{
	unsigned budget = VD_REQ_BUDGET;
	int more, notify;

	do {
		RING_IDX rp = conn->ring.sring->req_prod;

		rmb(); /* see requests up to rp */
		if (RING_REQUEST_PROD_OVERFLOW(&conn->ring, rp)) {
			vd_xbdev_fail(&conn->dev->xb, "request ring overflow");
			return -EPROTO;
		}
		/*
		 * A reply that waits for a buffer release pauses this ring
		 * (Linux has one request in flight anyway); answers stay in order.
		 */
		while (conn->ring.req_cons != rp && budget && !conn->reply_pending) {
			struct xendispl_req raw;

			RING_COPY_REQUEST(&conn->ring, conn->ring.req_cons, &raw);
			conn->ring.req_cons++;
			handle_one(conn, &raw);
			budget--;
			if (conn->dev->xb.failed)
				return 0;
		}
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&conn->ring, notify);
		if (notify)
			hvi(conn)->evtchn_notify(conn->req_ch);
		if (!budget)
			return 1;
		if (conn->reply_pending)
			return 0;
		RING_FINAL_CHECK_FOR_REQUESTS(&conn->ring, more);
	} while (more);
	return 0;
}

static void serve(struct vd_conn *conn)
{
	int r = serve_ring(conn);

	if (r < 0 || conn->dev->xb.failed)
		return;
	/* Out of budget: continue after the other guests had their turn. */
	sd_event_source_set_enabled(conn->defer_src, r ? SD_EVENT_ONESHOT : SD_EVENT_OFF);
	if (conn->evq_len)
		evq_flush(conn);
}

static int on_req_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct vd_conn *conn = userdata;

	hvi(conn)->evtchn_ack(conn->req_ch);
	if (!conn->dev->xb.failed)
		serve(conn);
	return 0;
}

static int on_defer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct vd_conn *conn = userdata;

	if (!conn->dev->xb.failed)
		serve(conn);
	return 0;
}

/* ---- connect / disconnect ---- */

static int map_pages(struct vd_conn *conn, uint32_t req_ref, uint32_t evt_ref)
{
	struct vd_dev *dev = conn->dev;
	int r;

	r = hvi(conn)->gnt_map(dev->xb.gnt, dev->xb.domid, 1, &req_ref, true, &conn->req_page);
	if (r < 0)
		return r;
	r = hvi(conn)->gnt_map(dev->xb.gnt, dev->xb.domid, 1, &evt_ref, true, &conn->evt_page);
	if (r < 0) {
		hvi(conn)->gnt_unmap(dev->xb.gnt, conn->req_page, 1);
		conn->req_page = NULL;
		return r;
	}
	BACK_RING_INIT(&conn->ring, (struct xen_displif_sring *)conn->req_page, VD_PAGE_SIZE);
	vd_evt_ring_init(&conn->evt, conn->evt_page);
	return 0;
}

static int bind_channels(struct vd_conn *conn, uint32_t req_port)
{
	struct vd_dev *dev = conn->dev;
	sd_event *loop = dev->be->loop;
	int r;

	r = hvi(conn)->evtchn_bind(dev->be->hv, dev->xb.domid, req_port, &conn->req_ch);
	if (r < 0)
		return r;
	r = sd_event_add_io(loop, &conn->req_src, hvi(conn)->evtchn_fd(conn->req_ch), EPOLLIN,
			    on_req_event, conn);
	/*
	 * The continuation after the request budget is an already elapsed
	 * timer, not a defer source: sd-event leaves a defer source pending
	 * with the iteration it was created in, so once enabled it always runs
	 * before every other source of its priority, and a guest that keeps its
	 * ring full would starve all the others. An elapsed timer is made
	 * pending anew each iteration and waits behind the sources already
	 * pending.
	 */
	if (r >= 0)
		r = sd_event_add_time(loop, &conn->defer_src, CLOCK_MONOTONIC, 0, 1, on_defer,
				      conn);
	if (r >= 0)
		r = sd_event_source_set_enabled(conn->defer_src, SD_EVENT_OFF);
	if (r >= 0)
		r = sd_event_add_time_relative(loop, &conn->evq_src, CLOCK_MONOTONIC, 2000, 1000,
					       on_evq_timer, conn);
	if (r >= 0)
		r = sd_event_source_set_enabled(conn->evq_src, SD_EVENT_OFF);
	return r;
}

static int bind_evt_channel(struct vd_conn *conn, uint32_t evt_port)
{
	struct vd_dev *dev = conn->dev;

	/* Same port for both directions is legal: share the binding then. */
	return hvi(conn)->evtchn_bind(dev->be->hv, dev->xb.domid, evt_port, &conn->evt_ch);
}

static void on_frame_shown(void *userdata, const struct vd_frame_view *view)
{
	struct vd_conn *conn = userdata;
	const struct vd_backend_opts *o = &conn->dev->be->opts;

	if (o->on_frame)
		o->on_frame(o->on_frame_userdata, conn->dev->xb.domid, conn->idx, view);
}

static int create_output_conn(struct vd_conn *conn)
{
	struct vd_output *out = conn->dev->be->out;
	char name[128];
	struct vd_output_conn_desc desc = {
		.name = name,
		.target = conn->unique_id,
		.mapping = conn->mapping[0] ? conn->mapping : NULL,
		.width = conn->width,
		.height = conn->height,
		.domid = conn->dev->xb.domid,
		.index = conn->idx,
		.flip_done = on_flip_done,
		.frame_shown = on_frame_shown,
		.userdata = conn,
	};

	snprintf(name, sizeof(name), "%s:%u", conn->dev->xb.name, conn->idx);
	return vd_output_conn_create(out, &desc, &conn->oconn);
}

int vd_conn_connect(struct vd_dev *dev, struct vd_conn *conn)
{
	uint32_t req_ref, req_port, evt_ref, evt_port;
	int r;

	conn->dev = dev;
	if ((r = read_node_u32(conn, XENDISPL_FIELD_REQ_RING_REF, &req_ref)) < 0 ||
	    (r = read_node_u32(conn, XENDISPL_FIELD_REQ_CHANNEL, &req_port)) < 0 ||
	    (r = read_node_u32(conn, XENDISPL_FIELD_EVT_RING_REF, &evt_ref)) < 0 ||
	    (r = read_node_u32(conn, XENDISPL_FIELD_EVT_CHANNEL, &evt_port)) < 0) {
		vd_log_rl_dom(dev->xb.domid, LOG_WARNING,
			      "dom%u: connector %u: transport nodes missing or invalid", dev->xb.domid,
			      conn->idx);
		return r;
	}
	r = map_pages(conn, req_ref, evt_ref);
	if (r >= 0)
		r = bind_channels(conn, req_port);
	if (r >= 0)
		r = bind_evt_channel(conn, evt_port);
	if (r >= 0)
		r = create_output_conn(conn);
	if (r < 0) {
		vd_log_rl_dom(dev->xb.domid, LOG_WARNING, "dom%u: connector %u: cannot connect: %s",
			      dev->xb.domid, conn->idx, strerror(-r));
		vd_conn_disconnect(conn);
		return r;
	}
	/* Requests may already be waiting. */
	sd_event_source_set_enabled(conn->defer_src, SD_EVENT_ONESHOT);
	return 0;
}

/* Channels go before the pages they signal about (PROTOCOL.md §6). */
void vd_conn_disconnect(struct vd_conn *conn)
{
	struct vd_dev *dev = conn->dev;
	const struct vd_hv_impl *hv;

	if (!dev)
		return;
	hv = dev->be->hv->impl;
	vd_gates_cancel(dev->be->gates, conn);
	conn->reply_pending = false;
	conn->req_src = sd_event_source_disable_unref(conn->req_src);
	conn->defer_src = sd_event_source_disable_unref(conn->defer_src);
	conn->evq_src = sd_event_source_disable_unref(conn->evq_src);
	hv->evtchn_unbind(dev->be->hv, conn->req_ch);
	hv->evtchn_unbind(dev->be->hv, conn->evt_ch);
	conn->req_ch = conn->evt_ch = NULL;
	if (conn->oconn)
		vd_output_conn_destroy(conn->oconn);
	conn->oconn = NULL;
	if (conn->req_page)
		hv->gnt_unmap(dev->xb.gnt, conn->req_page, 1);
	if (conn->evt_page)
		hv->gnt_unmap(dev->xb.gnt, conn->evt_page, 1);
	conn->req_page = conn->evt_page = NULL;
	conn->flips_pending = 0;
	conn->evq_head = conn->evq_len = 0;
}
