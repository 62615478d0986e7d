/* SPDX-License-Identifier: MIT */
/*
 * The DESTROY gate (WAIT_FREE semantics): a frontend-allocated buffer is
 * reported destroyed only once its dma-buf is really released, i.e. no
 * importer in this domain can touch the guest's pages any more.
 *
 * The wait never blocks the loop: xengnttab_dmabuf_exp_wait_released is
 * polled with a zero timeout from a timer with backoff. At the deadline the
 * requester is answered with -ETIMEDOUT and the buffer stays on the retry
 * list until it is released: nothing leaks, and the list is visible in
 * the status.
 *
 * wait_released looks the export up by fd number, so the number must not
 * be reused by a newer export while we wait: the gate replaces our
 * reference with a /dev/null placeholder (dup2) instead of closing it.
 */
#ifndef VD_GATE_H
#define VD_GATE_H

#include <stdint.h>

#include <systemd/sd-event.h>

#include "buffers/account.h"
#include "hv/hv.h"

struct vd_gates;

/* A grant handle shared by a guest's buffers and the gates still waiting on them. */
struct vd_gnt_ref {
	struct vd_hv *hv;
	struct vd_gnt *gnt;
	unsigned refs;
};
int vd_gnt_ref_open(struct vd_hv *hv, struct vd_gnt_ref **ret);
struct vd_gnt_ref *vd_gnt_ref_get(struct vd_gnt_ref *ref);
void vd_gnt_ref_put(struct vd_gnt_ref *ref); /* NULL ok */

/* 0: released in time; -ETIMEDOUT: the deadline passed (the wait goes on). */
typedef void (*vd_gate_cb)(void *userdata, int status);

struct vd_gates_stats {
	uint32_t waiting;      /* gates not released yet */
	uint32_t retrying;     /* of those, past their deadline (answered with an error) */
	uint64_t released;     /* released after waiting */
	uint64_t released_late;/* released after their deadline */
	uint64_t immediate;    /* released at once, no wait */
};

struct vd_gate_info {
	uint32_t domid;
	uint64_t cookie;
	uint64_t waited_ms;
	bool retrying; /* past its deadline */
};

int vd_gates_create(sd_event *loop, struct vd_gates **ret);
/* Gives up on buffers still held (logged). NULL ok. */
void vd_gates_destroy(struct vd_gates *gates);
/*
 * What the buffer still holds of its guest's account (the export's grant
 * mappings and fds); the gate gives it back at the release. While a gate
 * waits it also counts as one entry of the retry list (VD_RES_RETRY),
 * forced: a DBUF_DESTROY cannot be refused.
 */
struct vd_gate_hold {
	struct vd_account *acct; /* referenced by the gate while it waits */
	uint64_t maps, fds;
};

/*
 * Wait for the release of the dma-buf exported as fd, taking fd and what
 * hold says. Returns 0 if it is released already (cb is not called), 1 if
 * the wait goes on (cb is called once, unless cancelled), or -errno.
 */
int vd_gate_start(struct vd_gates *gates, struct vd_gnt_ref *gnt, int fd,
		  const struct vd_gate_hold *hold, uint32_t domid, uint64_t cookie,
		  uint32_t deadline_ms, vd_gate_cb cb, void *userdata);
/* The requester goes away: no callback for userdata any more; the waits go on. */
void vd_gates_cancel(struct vd_gates *gates, void *userdata);
void vd_gates_get_stats(struct vd_gates *gates, struct vd_gates_stats *ret);
/* Up to max entries of the list, oldest first. Returns the number written. */
uint32_t vd_gates_list(struct vd_gates *gates, struct vd_gate_info *out, uint32_t max);

#endif
