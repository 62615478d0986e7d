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

int vd_conn_evq_flush(struct vd_conn *conn)
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

	if (vd_conn_evq_flush(conn) == -EAGAIN) {
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
	if (vd_conn_evq_flush(conn) == -EAGAIN) {
		sd_event_source_set_time_relative(conn->evq_src, 2000);
		sd_event_source_set_enabled(conn->evq_src, SD_EVENT_ONESHOT);
	}
}

static int on_req_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct vd_conn *conn = userdata;

	hvi(conn)->evtchn_ack(conn->req_ch);
	vd_dev_kick(conn->dev);
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
	/* Two grant mappings that cannot be refused: without them there is no device. */
	vd_account_force(vd_bufs_account(dev->bufs), VD_RES_MAPS, 2);
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
		/* only for an observer: a view maps the buffer for the CPU */
		.frame_shown = conn->dev->be->opts.on_frame ? on_frame_shown : NULL,
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
	if (r >= 0)
		r = vd_dev_serve_add(dev);
	conn->serving = r >= 0;
	if (r < 0) {
		vd_log_rl_dom(dev->xb.domid, LOG_WARNING, "dom%u: connector %u: cannot connect: %s",
			      dev->xb.domid, conn->idx, strerror(-r));
		vd_conn_disconnect(conn);
		return r;
	}
	/* Requests may already be waiting. */
	vd_dev_serve_soon(dev);
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
	vd_conn_stop_work(conn);
	if (conn->serving)
		vd_dev_serve_remove(dev);
	conn->serving = false;
	conn->req_src = sd_event_source_disable_unref(conn->req_src);
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
	if (conn->req_page && conn->evt_page)
		vd_account_credit(vd_bufs_account(dev->bufs), VD_RES_MAPS, 2);
	conn->req_page = conn->evt_page = NULL;
	conn->flips_pending = 0;
	conn->evq_head = conn->evq_len = 0;
}
