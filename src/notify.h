/* SPDX-License-Identifier: MIT */
/*
 * Telling listeners "something changed" (a vkb connected, a connector
 * moved, a reload). The listener only notes the change and looks from the
 * loop: it may be told from inside the teller's work.
 *
 * struct vd_signal: any number of listeners, as wl_signal: each embeds a
 * struct vd_listener and finds itself with vd_container_of; a listener
 * may remove itself while being told (not another).
 * struct vd_notify: the older form, one listener; setting it again
 * replaces it, fn NULL removes it.
 */
#ifndef VD_NOTIFY_H
#define VD_NOTIFY_H

#include <stddef.h>

#define vd_container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

struct vd_listener {
	struct vd_listener *next, **pprev; /* pprev NULL: not on a signal */
	void (*notify)(struct vd_listener *l);
};

struct vd_signal {
	struct vd_listener *head;
};

static inline void vd_signal_add(struct vd_signal *s, struct vd_listener *l)
{
	l->next = s->head;
	if (s->head)
		s->head->pprev = &l->next;
	l->pprev = &s->head;
	s->head = l;
}

/* Safe on a listener that is on no signal, and while its signal is told. */
static inline void vd_listener_remove(struct vd_listener *l)
{
	if (!l->pprev)
		return;
	if (l->next)
		l->next->pprev = l->pprev;
	*l->pprev = l->next;
	l->next = NULL;
	l->pprev = NULL;
}

static inline void vd_signal_emit(struct vd_signal *s)
{
	struct vd_listener *l = s->head, *next;

	for (; l; l = next) {
		next = l->next;
		l->notify(l);
	}
}

struct vd_notify {
	void (*fn)(void *userdata);
	void *userdata;
};

static inline void vd_notify_set(struct vd_notify *n, void (*fn)(void *userdata), void *userdata)
{
	n->fn = fn;
	n->userdata = fn ? userdata : NULL;
}

static inline void vd_notify(const struct vd_notify *n)
{
	if (n->fn)
		n->fn(n->userdata);
}

#endif
