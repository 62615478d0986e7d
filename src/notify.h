/* SPDX-License-Identifier: MIT */
/*
 * One listener to be told "something changed" (a vkb connected, a
 * connector moved, a reload): the modules that offer such a hook keep a
 * struct vd_notify; setting it again replaces the listener, fn NULL
 * removes it. The listener only notes the change and looks from the loop:
 * it may be told from inside the teller's work.
 */
#ifndef VD_NOTIFY_H
#define VD_NOTIFY_H

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
