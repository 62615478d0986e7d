/* SPDX-License-Identifier: MIT */
/*
 * Producer side of the displif event page (PROTOCOL.md §1.5). The page is
 * owned by the frontend and shared writable: in_cons is the only thing we
 * read from it, once per event, and it is checked before it is trusted.
 */
#include <errno.h>

#include "displif_proto.h"

static struct xendispl_event_page *evt_hdr(void *page)
{
	return page;
}

void vd_evt_ring_init(struct vd_evt_ring *r, void *page)
{
	struct xendispl_event_page *hdr = evt_hdr(page);

	r->prod = __atomic_load_n(&hdr->in_cons, __ATOMIC_ACQUIRE);
	r->next_id = 0;
	__atomic_store_n(&hdr->in_prod, r->prod, __ATOMIC_RELEASE);
}

int vd_evt_ring_put_pg_flip(struct vd_evt_ring *r, void *page, uint64_t fb_cookie)
{
	struct xendispl_event_page *hdr = evt_hdr(page);
	uint32_t cons, used;

	/*
	 * Acquire: the frontend has finished reading a slot before it advanced
	 * in_cons past it, so our slot write must not move above this load.
	 */
	cons = __atomic_load_n(&hdr->in_cons, __ATOMIC_ACQUIRE);
	used = r->prod - cons; /* free-running u32 indices */
	if (used > XENDISPL_IN_RING_LEN)
		return -EPROTO;
	if (used == XENDISPL_IN_RING_LEN)
		return -EAGAIN;

	vd_proto_encode_pg_flip_evt(&XENDISPL_IN_RING_REF(page, r->prod), r->next_id, fb_cookie);
	/* Release: the slot is visible before the new in_prod (wmb). */
	__atomic_store_n(&hdr->in_prod, r->prod + 1, __ATOMIC_RELEASE);
	r->prod++;
	r->next_id++;
	return 0;
}
