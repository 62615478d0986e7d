/* SPDX-License-Identifier: MIT */
/*
 * The simulated frontend's channels, as Linux xen-front's evtchnl.c: one
 * request in flight per ring, slots not cleared before they are filled,
 * responses matched by id and operation, events taken only with the
 * expected id.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "simfront/simfront_priv.h"

static void start_next(struct sf_chan *ch);

static void complete(struct sf_chan *ch, const struct xendispl_resp *rsp)
{
	struct sf_req *r = ch->inflight;

	ch->inflight = NULL;
	sd_event_source_set_enabled(ch->timeout_src, SD_EVENT_OFF);
	if (rsp) {
		struct vd_simfront *f = ch->front;
		uint64_t latency = vd_now_us() - r->sent_us;

		f->stats.requests++;
		if (rsp->status)
			f->stats.errors++;
		if (latency > f->stats.max_response_us)
			f->stats.max_response_us = latency;
		if (f->opts.on_response)
			f->opts.on_response(f->opts.hook_userdata, ch->idx, rsp, latency);
	} else {
		ch->front->stats.timeouts++;
	}
	if (r->cb)
		r->cb(r->userdata, rsp);
	free(r);
	start_next(ch);
}

static void start_next(struct sf_chan *ch)
{
	struct xendispl_req *slot;
	struct sf_req *r = ch->queue;
	uint16_t id;
	int notify;

	if (ch->inflight || !r || !ch->ring_page)
		return;
	ch->queue = r->next;
	ch->inflight = r;
	/* Like be_prepare_req: only the fields set by the caller are written. */
	slot = RING_GET_REQUEST(&ch->ring, ch->ring.req_prod_pvt);
	id = ch->evt_next_id++;
	r->req.id = id;
	memcpy(slot, &r->req, sizeof(*slot));
	ch->ring.req_prod_pvt++;
	r->sent_us = vd_now_us();
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&ch->ring, notify);
	if (r->req.operation == XENDISPL_OP_PG_FLIP && ch->front->opts.on_flip_sent)
		ch->front->opts.on_flip_sent(ch->front->opts.hook_userdata, ch->idx);
	if (notify)
		vd_sim_evtchn_notify(ch->req_ch);
	sd_event_source_set_time_relative(ch->timeout_src, SF_WAIT_BACK_US);
	sd_event_source_set_enabled(ch->timeout_src, SD_EVENT_ONESHOT);
}

int sf_chan_send(struct sf_chan *ch, const struct xendispl_req *req, vd_simfront_resp_cb cb,
		 void *userdata)
{
	struct sf_req *r = calloc(1, sizeof(*r)), **p = &ch->queue;

	if (!r)
		return -ENOMEM;
	if (!ch->ring_page) {
		free(r);
		return -EIO; /* not connected, as Linux answers */
	}
	r->req = *req;
	r->cb = cb;
	r->userdata = userdata;
	while (*p)
		p = &(*p)->next;
	*p = r;
	start_next(ch);
	return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct sf_chan *ch = userdata;

	if (ch->inflight)
		complete(ch, NULL);
	return 0;
}

/* evtchnl_interrupt_ctrl: take responses whose id and operation match. */
static void take_responses(struct sf_chan *ch)
{
	int more;

	do {
		RING_IDX rp = ch->ring.sring->rsp_prod;

		rmb();
		for (RING_IDX i = ch->ring.rsp_cons; i != rp; i++) {
			struct xendispl_resp rsp = *RING_GET_RESPONSE(&ch->ring, i);

			if (ch->inflight && rsp.id == ch->inflight->req.id &&
			    rsp.operation == ch->inflight->req.operation)
				complete(ch, &rsp);
		}
		ch->ring.rsp_cons = rp;
		RING_FINAL_CHECK_FOR_RESPONSES(&ch->ring, more);
	} while (more);
}

static int on_req_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct sf_chan *ch = userdata;

	vd_sim_evtchn_ack(ch->req_ch);
	take_responses(ch);
	return 0;
}

/* evtchnl_interrupt_evt: every slot advances the expected id. */
static int on_evt_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct sf_chan *ch = userdata;
	struct xendispl_event_page *page = ch->evt_page;
	uint32_t prod, cons;

	vd_sim_evtchn_ack(ch->evt_ch);
	prod = __atomic_load_n(&page->in_prod, __ATOMIC_ACQUIRE);
	for (cons = page->in_cons; cons != prod; cons++) {
		struct xendispl_evt *evt = &XENDISPL_IN_RING_REF(page, cons);

		if (evt->id != ch->evt_id++) {
			ch->front->stats.events_skipped++;
			continue;
		}
		if (evt->type == XENDISPL_EVT_PG_FLIP) {
			ch->front->stats.events++;
			if (ch->front->opts.on_flip_done)
				ch->front->opts.on_flip_done(ch->front->opts.hook_userdata,
							     ch->idx);
			sf_client_frame_done(&ch->front->clients[ch->idx]);
		}
	}
	__atomic_store_n(&page->in_cons, cons, __ATOMIC_RELEASE);
	return 0;
}

static int alloc_page(struct vd_simfront *f, void **ret_page, uint32_t *ret_pfn,
		      uint32_t *ret_ref)
{
	int r = vd_sim_mem_alloc(f->sim, f->domid, 1, ret_page, ret_pfn);

	if (r < 0)
		return r;
	r = vd_sim_grant(f->sim, f->domid, f->opts.be_domid, *ret_pfn, false, ret_ref);
	if (r < 0)
		vd_sim_mem_free(f->sim, f->domid, *ret_page, 1);
	return r;
}

static int open_ports(struct vd_simfront *f, struct sf_chan *ch)
{
	uint32_t be = f->opts.be_domid;
	int r;

	r = vd_sim_evtchn_alloc_unbound(f->sim, f->domid, be, &ch->req_port, &ch->req_ch);
	if (r >= 0)
		r = vd_sim_evtchn_alloc_unbound(f->sim, f->domid, be, &ch->evt_port, &ch->evt_ch);
	if (r >= 0)
		r = sd_event_add_io(f->loop, &ch->req_src, vd_sim_evtchn_fd(ch->req_ch), EPOLLIN,
				    on_req_event, ch);
	if (r >= 0)
		r = sd_event_add_io(f->loop, &ch->evt_src, vd_sim_evtchn_fd(ch->evt_ch), EPOLLIN,
				    on_evt_event, ch);
	if (r >= 0)
		r = sd_event_add_time_relative(f->loop, &ch->timeout_src, CLOCK_MONOTONIC,
					       SF_WAIT_BACK_US, 0, on_timeout, ch);
	if (r >= 0)
		r = sd_event_source_set_enabled(ch->timeout_src, SD_EVENT_OFF);
	return r;
}

int sf_chan_open(struct vd_simfront *f, struct sf_chan *ch, uint32_t idx)
{
	int r;

	memset(ch, 0, sizeof(*ch));
	ch->front = f;
	ch->idx = idx;
	r = alloc_page(f, &ch->ring_page, &ch->ring_pfn, &ch->ring_ref);
	if (r < 0)
		return r;
	r = alloc_page(f, &ch->evt_page, &ch->evt_pfn, &ch->evt_ref);
	if (r < 0) {
		vd_sim_grant_end(f->sim, f->domid, ch->ring_ref);
		vd_sim_mem_free(f->sim, f->domid, ch->ring_page, 1);
		ch->ring_page = NULL;
		return r;
	}
	SHARED_RING_INIT((struct xen_displif_sring *)ch->ring_page);
	FRONT_RING_INIT(&ch->ring, (struct xen_displif_sring *)ch->ring_page, VD_PAGE_SIZE);
	r = open_ports(f, ch);
	if (r < 0)
		sf_chan_close(f, ch);
	return r;
}

static void end_grant(struct vd_simfront *f, uint32_t ref)
{
	if (vd_sim_grant_end(f->sim, f->domid, ref) == -EBUSY)
		f->stats.deferred_ends++;
}

/* Waiters get -EIO, as on channel free in Linux. */
void sf_chan_close(struct vd_simfront *f, struct sf_chan *ch)
{
	struct xendispl_resp eio = {.status = -EIO};

	ch->req_src = sd_event_source_disable_unref(ch->req_src);
	ch->evt_src = sd_event_source_disable_unref(ch->evt_src);
	ch->timeout_src = sd_event_source_disable_unref(ch->timeout_src);
	vd_sim_evtchn_close(f->sim, ch->req_ch);
	vd_sim_evtchn_close(f->sim, ch->evt_ch);
	ch->req_ch = ch->evt_ch = NULL;
	if (ch->ring_page) {
		if (!f->dead) {
			end_grant(f, ch->ring_ref);
			end_grant(f, ch->evt_ref);
		}
		vd_sim_mem_free(f->sim, f->domid, ch->ring_page, 1);
		vd_sim_mem_free(f->sim, f->domid, ch->evt_page, 1);
	}
	ch->ring_page = ch->evt_page = NULL;
	while (ch->inflight || ch->queue) {
		struct sf_req *r = ch->inflight ? ch->inflight : ch->queue;

		if (r == ch->inflight)
			ch->inflight = NULL;
		else
			ch->queue = r->next;
		if (r->cb)
			r->cb(r->userdata, &eio);
		free(r);
	}
}
