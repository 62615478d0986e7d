/* SPDX-License-Identifier: MIT */
/*
 * xenstore watches, as xenstored fires them:
 * - on registration, once, with the watch's own path;
 * - on a write of node N, every watch on N or an ancestor of N, with N;
 * - on the removal of the subtree at N, every watch on N or an ancestor
 *   of N with N, and every watch on an existing node inside the subtree
 *   with that node's path;
 * - "@releaseDomain" / "@introduceDomain" when a domain dies / is created.
 * A watch registered with a relative path gets relative event paths.
 *
 * Each connection has a FIFO of pending events (capped; overflow drops
 * the new event with a rate-limited warning) and an eventfd that holds
 * a count of 1 exactly while the FIFO is non-empty.
 */
#include "hv/sim/sim_priv.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WATCHES_MAX 4096u

struct sim_watch {
	struct vd_sim_list link; /* in conn->watches */
	char *path;		 /* absolute, or "@..." */
	char *given;		 /* as registered: events are reported like it */
	char *token;
};

struct sim_event {
	struct vd_sim_list link; /* in conn->events */
	char *path;
	char *token;
};

/* True if path is w or lies below w. */
static bool path_under(const char *path, const char *w)
{
	size_t len = strlen(w);

	if (strcmp(w, "/") == 0)
		return path[0] == '/';
	return strncmp(path, w, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

static void event_free(struct sim_event *ev)
{
	vd_sim_list_del(&ev->link);
	free(ev->path);
	free(ev->token);
	free(ev);
}

static void efd_set(int efd)
{
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) != sizeof(one))
		vd_log_rl(LOG_ERR, "sim: eventfd write failed");
}

static void efd_clear(int efd)
{
	uint64_t v;

	if (read(efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		vd_log_rl(LOG_ERR, "sim: eventfd read failed");
}

/* The path as the watcher sees it: relative if the watch was relative. */
static const char *event_path(struct vd_sim_conn *c, struct sim_watch *w, const char *path)
{
	char prefix[48];
	size_t len;

	if (w->given[0] == '/' || w->given[0] == '@')
		return path;
	len = (size_t)snprintf(prefix, sizeof(prefix), "/local/domain/%u/", c->domid);
	return strncmp(path, prefix, len) == 0 ? path + len : path;
}

static void enqueue(struct vd_sim_conn *c, struct sim_watch *w, const char *path)
{
	struct sim_event *ev;

	if (c->nevents >= VD_SIM_WATCH_QUEUE_MAX) {
		vd_log_rl(LOG_WARNING, "sim: watch queue of domain %u full, event dropped",
			  c->domid);
		return;
	}
	ev = calloc(1, sizeof(*ev));
	if (ev) {
		ev->path = strdup(event_path(c, w, path));
		ev->token = strdup(w->token);
	}
	if (!ev || !ev->path || !ev->token) {
		vd_log_rl(LOG_ERR, "sim: out of memory, watch event dropped");
		if (ev) {
			free(ev->path);
			free(ev->token);
		}
		free(ev);
		return;
	}
	vd_sim_list_add(&c->events, &ev->link);
	if (c->nevents++ == 0)
		efd_set(c->efd);
}

enum fire_mode { FIRE_WRITE, FIRE_RM, FIRE_SPECIAL };

/* The path w reports for a change of path, or NULL if w does not fire. */
static const char *fire_match(struct vd_sim *sim, struct sim_watch *w, const char *path,
			      enum fire_mode mode)
{
	if (mode == FIRE_SPECIAL)
		return strcmp(w->path, path) == 0 ? path : NULL;
	if (path_under(path, w->path))
		return path;
	/* Removal of an ancestor: the watched node goes too, if it existed. */
	if (mode == FIRE_RM && path_under(w->path, path) &&
	    vd_sim_node_lookup(sim->xs.root, w->path))
		return w->path;
	return NULL;
}

static void fire(struct vd_sim *sim, const char *path, enum fire_mode mode)
{
	struct vd_sim_list *cp, *ct, *wp, *wt;

	vd_sim_list_each(cp, ct, &sim->conns)
	{
		struct vd_sim_conn *c = vd_sim_container_of(cp, struct vd_sim_conn, link);

		vd_sim_list_each(wp, wt, &c->watches)
		{
			struct sim_watch *w = vd_sim_container_of(wp, struct sim_watch, link);
			const char *report = fire_match(sim, w, path, mode);

			if (report)
				enqueue(c, w, report);
		}
	}
}

void vd_sim_xs_fire_write(struct vd_sim *sim, const char *path)
{
	fire(sim, path, FIRE_WRITE);
}

void vd_sim_xs_fire_rm(struct vd_sim *sim, const char *path)
{
	fire(sim, path, FIRE_RM);
}

void vd_sim_xs_fire_special(struct vd_sim *sim, const char *path)
{
	fire(sim, path, FIRE_SPECIAL);
}

static void watch_free(struct sim_watch *w)
{
	vd_sim_list_del(&w->link);
	free(w->path);
	free(w->given);
	free(w->token);
	free(w);
}

void vd_sim_conn_watches_finish(struct vd_sim_conn *c)
{
	struct vd_sim_list *pos, *tmp;

	vd_sim_list_each(pos, tmp, &c->watches)
	    watch_free(vd_sim_container_of(pos, struct sim_watch, link));
	vd_sim_list_each(pos, tmp, &c->events)
	    event_free(vd_sim_container_of(pos, struct sim_event, link));
	c->nevents = 0;
}

static int watch_resolve(struct vd_sim_conn *c, const char *path, char **ret_abs)
{
	char *abs;

	if (path && path[0] == '@') {
		if (strcmp(path, "@releaseDomain") != 0 && strcmp(path, "@introduceDomain") != 0)
			return -EINVAL;
		abs = strdup(path);
		if (!abs)
			return -ENOMEM;
		*ret_abs = abs;
		return 0;
	}
	return vd_sim_xs_resolve(c, path, ret_abs);
}

static struct sim_watch *watch_find(struct vd_sim_conn *c, const char *abs, const char *token,
				    unsigned *ret_count)
{
	struct sim_watch *found = NULL;
	struct vd_sim_list *pos, *tmp;
	unsigned count = 0;

	vd_sim_list_each(pos, tmp, &c->watches)
	{
		struct sim_watch *w = vd_sim_container_of(pos, struct sim_watch, link);

		count++;
		if (strcmp(w->path, abs) == 0 && strcmp(w->token, token) == 0)
			found = w;
	}
	if (ret_count)
		*ret_count = count;
	return found;
}

static int watch_new(const char *given, char *abs, const char *token, struct sim_watch **ret)
{
	struct sim_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->given = strdup(given);
	w->token = strdup(token);
	if (!w->given || !w->token) {
		free(w->given);
		free(w->token);
		free(w);
		return -ENOMEM;
	}
	w->path = abs;
	*ret = w;
	return 0;
}

int vd_sim_xs_watch(struct vd_hv *hv, const char *path, const char *token)
{
	struct vd_sim_conn *c = vd_sim_conn_from_hv(hv);
	struct sim_watch *w;
	unsigned count;
	char *abs;
	int r;

	if (!token || strlen(token) > VD_SIM_XS_TOKEN_MAX)
		return -EINVAL;
	r = watch_resolve(c, path, &abs);
	if (r < 0)
		return r;
	r = watch_find(c, abs, token, &count) ? -EEXIST : count >= WATCHES_MAX ? -ENOSPC : 0;
	if (r == 0)
		r = watch_new(path, abs, token, &w);
	if (r < 0) {
		free(abs);
		return r;
	}
	vd_sim_list_add(&c->watches, &w->link);
	enqueue(c, w, w->path);
	return 0;
}

/* Drop queued events of a removed watch, as libxenstore's xs_unwatch does. */
static void drop_events(struct vd_sim_conn *c, struct sim_watch *w)
{
	struct vd_sim_list *pos, *tmp;

	vd_sim_list_each(pos, tmp, &c->events)
	{
		struct sim_event *ev = vd_sim_container_of(pos, struct sim_event, link);

		if (strcmp(ev->token, w->token) == 0 && path_under(ev->path, w->given)) {
			event_free(ev);
			if (--c->nevents == 0)
				efd_clear(c->efd);
		}
	}
}

int vd_sim_xs_unwatch(struct vd_hv *hv, const char *path, const char *token)
{
	struct vd_sim_conn *c = vd_sim_conn_from_hv(hv);
	struct sim_watch *w;
	char *abs;
	int r;

	if (!token)
		return -EINVAL;
	r = watch_resolve(c, path, &abs);
	if (r < 0)
		return r;
	w = watch_find(c, abs, token, NULL);
	free(abs);
	if (!w)
		return -ENOENT;
	drop_events(c, w);
	watch_free(w);
	return 0;
}

int vd_sim_xs_watch_fd(struct vd_hv *hv)
{
	return vd_sim_conn_from_hv(hv)->efd;
}

int vd_sim_xs_read_watch(struct vd_hv *hv, char **ret_path, char **ret_token)
{
	struct vd_sim_conn *c = vd_sim_conn_from_hv(hv);
	struct sim_event *ev;

	if (vd_sim_list_empty(&c->events))
		return -EAGAIN;
	ev = vd_sim_container_of(c->events.next, struct sim_event, link);
	*ret_path = ev->path;
	*ret_token = ev->token;
	ev->path = ev->token = NULL;
	event_free(ev);
	if (--c->nevents == 0)
		efd_clear(c->efd);
	return 0;
}
