/* SPDX-License-Identifier: MIT */
#include "buffers/gate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define FIRST_POLL_US 1000u
#define MAX_POLL_US 50000u        /* before the deadline */
#define MAX_RETRY_POLL_US 1000000u /* on the retry list */

struct gate {
	struct gate *next;
	struct vd_gates *gates;
	struct vd_gnt_ref *gnt;
	struct vd_gate_hold hold; /* given back at the release */
	int fd; /* the exported number, held by a placeholder */
	uint32_t domid;
	uint64_t cookie;
	uint64_t start_us, deadline_us;
	uint32_t delay_us;
	sd_event_source *timer;
	bool retrying; /* past the deadline */
	vd_gate_cb cb;
	void *userdata;
};

struct vd_gates {
	sd_event *loop;
	int placeholder; /* /dev/null */
	struct gate *list;
	struct vd_gates_stats stats;
};

int vd_gnt_ref_open(struct vd_hv *hv, struct vd_gnt_ref **ret)
{
	struct vd_gnt_ref *ref = calloc(1, sizeof(*ref));
	int r;

	if (!ref)
		return -ENOMEM;
	r = hv->impl->gnt_open(hv, &ref->gnt);
	if (r < 0) {
		free(ref);
		return r;
	}
	ref->hv = hv;
	ref->refs = 1;
	*ret = ref;
	return 0;
}

struct vd_gnt_ref *vd_gnt_ref_get(struct vd_gnt_ref *ref)
{
	ref->refs++;
	return ref;
}

void vd_gnt_ref_put(struct vd_gnt_ref *ref)
{
	if (!ref || --ref->refs)
		return;
	ref->hv->impl->gnt_close(ref->gnt);
	free(ref);
}

int vd_gates_create(sd_event *loop, struct vd_gates **ret)
{
	struct vd_gates *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->placeholder = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (g->placeholder < 0) {
		free(g);
		return -errno;
	}
	g->loop = loop;
	*ret = g;
	return 0;
}

/* The buffer is released (or given up at exit): what it held goes back to its guest. */
static void give_back(const struct vd_gate_hold *hold, bool listed)
{
	vd_account_credit(hold->acct, VD_RES_MAPS, hold->maps);
	vd_account_credit(hold->acct, VD_RES_FDS, hold->fds);
	if (listed)
		vd_account_credit(hold->acct, VD_RES_RETRY, 1);
}

static void gate_free(struct gate *gate)
{
	struct gate **p = &gate->gates->list;

	while (*p != gate)
		p = &(*p)->next;
	*p = gate->next;
	if (gate->retrying)
		gate->gates->stats.retrying--;
	gate->gates->stats.waiting--;
	sd_event_source_disable_unref(gate->timer);
	close(gate->fd);
	give_back(&gate->hold, true);
	vd_account_unref(gate->hold.acct);
	vd_gnt_ref_put(gate->gnt);
	free(gate);
}

void vd_gates_destroy(struct vd_gates *g)
{
	if (!g)
		return;
	if (g->list)
		vd_warn("%u buffer(s) still held by an importer at exit", g->stats.waiting);
	while (g->list)
		gate_free(g->list);
	close(g->placeholder);
	free(g);
}

/* 1 when released (or nothing to wait for), 0 while still referenced. */
static int poll_release(struct vd_gnt_ref *gnt, int fd)
{
	int r = gnt->hv->impl->dmabuf_exp_wait_released(gnt->gnt, fd, 0);

	if (r == -ETIMEDOUT)
		return 0;
	if (r < 0)
		vd_log_rl(LOG_WARNING, "waiting for a dma-buf release failed: %s", strerror(-r));
	return 1;
}

static void gate_answer(struct gate *gate, int status)
{
	vd_gate_cb cb = gate->cb;

	gate->cb = NULL;
	if (cb)
		cb(gate->userdata, status);
}

static int on_poll(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct gate *gate = userdata;
	struct vd_gates *g = gate->gates;
	uint64_t now = vd_now_us();
	uint32_t cap;

	if (poll_release(gate->gnt, gate->fd)) {
		g->stats.released++;
		g->stats.released_late += gate->retrying;
		gate_answer(gate, 0);
		gate_free(gate);
		return 0;
	}
	if (!gate->retrying && now >= gate->deadline_us) {
		vd_log_rl(LOG_WARNING, "dom%u: buffer %#llx still held after %llu ms: %s",
			  gate->domid, (unsigned long long)gate->cookie,
			  (unsigned long long)(now - gate->start_us) / 1000,
			  gate->cb ? "answered with an error, still waiting" : "still waiting");
		gate->retrying = true;
		g->stats.retrying++;
		gate_answer(gate, -ETIMEDOUT);
	}
	cap = gate->retrying ? MAX_RETRY_POLL_US : MAX_POLL_US;
	gate->delay_us = gate->delay_us * 2 > cap ? cap : gate->delay_us * 2;
	if (!gate->retrying && now + gate->delay_us > gate->deadline_us)
		gate->delay_us = (uint32_t)(gate->deadline_us - now) + 1;
	sd_event_source_set_time(s, now + gate->delay_us);
	return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* Drop our reference but keep the number: no new export may take it. */
static int park_fd(struct vd_gates *g, int fd)
{
	return dup2(g->placeholder, fd) < 0 ? -errno : 0;
}

int vd_gate_start(struct vd_gates *g, struct vd_gnt_ref *gnt, int fd,
		  const struct vd_gate_hold *hold, uint32_t domid, uint64_t cookie,
		  uint32_t deadline_ms, vd_gate_cb cb, void *userdata)
{
	struct gate *gate;
	int r = park_fd(g, fd);

	if (r < 0 || poll_release(gnt, fd)) {
		close(fd);
		give_back(hold, false);
		g->stats.immediate += r >= 0;
		return r < 0 ? r : 0;
	}
	gate = calloc(1, sizeof(*gate));
	if (!gate) {
		close(fd); /* the buffer stays referenced, but we cannot track it */
		give_back(hold, false);
		return -ENOMEM;
	}
	*gate = (struct gate){.gates = g, .gnt = vd_gnt_ref_get(gnt), .hold = *hold, .fd = fd,
			      .domid = domid, .cookie = cookie, .start_us = vd_now_us(),
			      .delay_us = FIRST_POLL_US, .cb = cb, .userdata = userdata};
	vd_account_ref(hold->acct);
	vd_account_force(hold->acct, VD_RES_RETRY, 1);
	gate->deadline_us = gate->start_us + (uint64_t)deadline_ms * 1000u;
	r = sd_event_add_time_relative(g->loop, &gate->timer, CLOCK_MONOTONIC, FIRST_POLL_US, 1,
				       on_poll, gate);
	gate->next = g->list;
	g->list = gate;
	g->stats.waiting++;
	if (r < 0) {
		gate_free(gate);
		return r;
	}
	return 1;
}

void vd_gates_cancel(struct vd_gates *g, void *userdata)
{
	for (struct gate *gate = g->list; gate; gate = gate->next)
		if (gate->cb && gate->userdata == userdata)
			gate->cb = NULL;
}

void vd_gates_get_stats(struct vd_gates *g, struct vd_gates_stats *ret)
{
	*ret = g->stats;
}

uint32_t vd_gates_list(struct vd_gates *g, struct vd_gate_info *out, uint32_t max)
{
	uint32_t n = 0;
	uint64_t now = vd_now_us();

	for (struct gate *gate = g->list; gate && n < max; gate = gate->next, n++)
		out[n] = (struct vd_gate_info){gate->domid, gate->cookie,
					       (now - gate->start_us) / 1000, gate->retrying};
	return n;
}
