/* SPDX-License-Identifier: MIT */
/* The control socket: accept, read one request line, answer, close. */
#include "control/control.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

#define MAX_CLIENTS 16u
#define MAX_REQUEST 512u
#define CLIENT_TIMEOUT_US (5u * 1000000u)
/* A screenshot of the largest connector takes a few seconds to encode. */
#define SHOT_TIMEOUT_US (60u * 1000000u)
#define RATE_INTERVAL_US 1000000u

struct shot;

struct client {
	struct vd_control *ctl;
	struct client *next;
	int fd;
	sd_event_source *io, *timeout;
	char in[MAX_REQUEST];
	size_t inlen;
	struct vd_sbuf out;
	size_t sent;
	char err[256]; /* an error message naming what the request named */
	int pass_fd; /* sent with the first byte of the answer, then closed; -1 none */
	struct shot *shot; /* a screenshot being taken: the answer waits for it */
};

struct vd_control {
	sd_event *loop;
	struct vd_control_env env;
	char *path;
	int fd;
	sd_event_source *listen_src, *rate_src;
	struct client *clients;
	uint32_t nclients;
	struct vd_rates rates;
};

/* ---- clients ---- */

static void shot_abandon(struct client *c);

static void client_free(struct client *c)
{
	struct client **p = &c->ctl->clients;

	while (*p != c)
		p = &(*p)->next;
	*p = c->next;
	c->ctl->nclients--;
	shot_abandon(c);
	sd_event_source_disable_unref(c->io);
	sd_event_source_disable_unref(c->timeout);
	close(c->fd);
	if (c->pass_fd >= 0)
		close(c->pass_fd);
	vd_sbuf_free(&c->out);
	free(c);
}

static int send_some(struct client *c)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cmsg = {0};
	struct iovec iov = {c->out.data + c->sent, c->out.len - c->sent};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	if (c->pass_fd >= 0) {
		msg.msg_control = cmsg.buf;
		msg.msg_controllen = sizeof(cmsg.buf);
		cmsg.h.cmsg_level = SOL_SOCKET;
		cmsg.h.cmsg_type = SCM_RIGHTS;
		cmsg.h.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&cmsg.h), &c->pass_fd, sizeof(int));
	}
	n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (c->pass_fd >= 0) {
		close(c->pass_fd);
		c->pass_fd = -1;
	}
	c->sent += (size_t)n;
	return c->sent == c->out.len ? 1 : 0;
}

static void answer(struct client *c, int status, const char *errmsg, bool json)
{
	struct vd_sbuf body = c->out;

	c->out = (struct vd_sbuf){0};
	if (status >= 0) {
		vd_sbuf_printf(&c->out, "ok\n%s", body.data ? body.data : "");
	} else {
		vd_sbuf_printf(&c->out, "error %s\n", errmsg ? errmsg : strerror(-status));
		if (json) {
			vd_sbuf_printf(&c->out, "{\"error\":");
			vd_sbuf_json_str(&c->out, errmsg ? errmsg : strerror(-status));
			vd_sbuf_printf(&c->out, ",\"errno\":%d}\n", -status);
		}
	}
	vd_sbuf_free(&body);
}

/* ---- commands ---- */

/*
 * A screenshot is taken off the loop (vd_output_conn_screenshot): the
 * request is answered when the PNG is written. It goes to a private
 * directory, is opened, unlinked, and the client gets the fd.
 */
struct shot {
	struct client *c;
	const char *guest;
	uint32_t idx;
	bool json;
	char dir[32], path[64];
	char arg[128];
	struct vd_output_screenshot *taking; /* while the output takes it */
	int status; /* -ENOENT until the connector is found */
	uint32_t domid, width, height;
};

static bool guest_matches(const struct vd_dev_info *d, const char *guest)
{
	char dom[16];

	snprintf(dom, sizeof(dom), "dom%u", d->domid);
	return !strcmp(d->name, guest) || !strcmp(dom, guest);
}

static void shot_done(void *userdata, int status);

static void shot_dev(void *userdata, const struct vd_dev_info *d)
{
	struct shot *s = userdata;

	if (s->status != -ENOENT || !guest_matches(d, s->guest) || s->idx >= d->nconn)
		return;
	if (!d->conns[s->idx].oconn) {
		s->status = -ENOTCONN;
		return;
	}
	s->domid = d->domid;
	s->width = d->conns[s->idx].width;
	s->height = d->conns[s->idx].height;
	s->status = vd_output_conn_screenshot(d->conns[s->idx].oconn, s->path, shot_done, s,
					      &s->taking);
}

static const char *shot_error(int r)
{
	switch (r) {
	case -ENOENT: return "no such guest or connector";
	case -ENODATA: return "the connector shows nothing";
	case -ENOTCONN: return "the connector is not connected";
	case -ENODEV: return "the connector went away";
	case -EBUSY: return "screenshots in progress hold the memory for them: try again";
	default: return NULL;
	}
}

static void shot_free(struct shot *s)
{
	unlink(s->path);
	rmdir(s->dir);
	free(s);
}

/* The PNG is written (or not): answer, and send it. */
static void shot_done(void *userdata, int status)
{
	struct shot *s = userdata;
	struct client *c = s->c;
	int fd = -1;

	if (status >= 0) {
		fd = open(s->path, O_RDONLY | O_CLOEXEC);
		status = fd < 0 ? -errno : 0;
	}
	c->shot = NULL;
	c->pass_fd = fd;
	if (status >= 0 && s->json) {
		vd_sbuf_printf(&c->out, "{\"guest\":");
		vd_sbuf_json_str(&c->out, s->arg);
		vd_sbuf_printf(&c->out, ",\"domid\":%u,\"connector\":%u,\"width\":%u,\"height\":%u}\n",
			       s->domid, s->idx, s->width, s->height);
	} else if (status >= 0) {
		vd_sbuf_printf(&c->out, "dom%u connector %u, %ux%u\n", s->domid, s->idx, s->width,
			       s->height);
	}
	answer(c, status, shot_error(status), s->json);
	shot_free(s);
	if (sd_event_source_set_io_events(c->io, EPOLLOUT) < 0)
		client_free(c);
}

/* The client went away first: the output lets go of the callback. */
static void shot_abandon(struct client *c)
{
	if (!c->shot)
		return;
	vd_output_screenshot_cancel(c->shot->taking);
	shot_free(c->shot);
	c->shot = NULL;
}

/* 1: taken in the background, answered by shot_done; else answered now. */
static int cmd_screenshot(struct client *c, char *arg, bool json, const char **ret_err)
{
	struct shot *s;
	char *colon = arg ? strrchr(arg, ':') : NULL, *end;

	if (!arg || !arg[0] || strlen(arg) >= sizeof(s->arg))
		return (*ret_err = "usage: screenshot GUEST[:CONNECTOR]"), -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*s = (struct shot){.c = c, .json = json, .status = -ENOENT};
	snprintf(s->arg, sizeof(s->arg), "%s", arg);
	if (colon) {
		*colon = '\0';
		errno = 0;
		s->idx = (uint32_t)strtoul(colon + 1, &end, 10);
		if (errno || end == colon + 1 || *end || s->idx >= VD_BACKEND_MAX_CONNECTORS) {
			free(s);
			return (*ret_err = "bad connector index"), -EINVAL;
		}
	}
	s->guest = arg;
	snprintf(s->dir, sizeof(s->dir), "/tmp/vdispld-shot-XXXXXX");
	if (!mkdtemp(s->dir)) {
		free(s);
		return -errno;
	}
	snprintf(s->path, sizeof(s->path), "%s/shot.png", s->dir);
	s->arg[colon ? (size_t)(colon - arg) : strlen(arg)] = '\0';
	vd_backend_foreach_device(c->ctl->env.be, shot_dev, s);
	if (s->status < 0) {
		int r = s->status;

		*ret_err = shot_error(r);
		shot_free(s);
		return r;
	}
	s->guest = NULL; /* arg is the request buffer: not kept */
	c->shot = s;
	sd_event_source_set_time_relative(c->timeout, SHOT_TIMEOUT_US);
	return 1;
}

struct find_guest {
	const char *guest;
	bool found;
};

static void find_dev(void *userdata, const struct vd_dev_info *d)
{
	struct find_guest *f = userdata;

	f->found = f->found || guest_matches(d, f->guest);
}

/* The router's focus moves, or the request is refused: it names no guest that takes input. */
static int cmd_focus(struct client *c, const char *arg, bool json, const char **ret_err)
{
	const struct vd_control_env *env = &c->ctl->env;
	struct find_guest f = {.guest = arg};
	char name[128];
	uint32_t domid;
	int r;

	if (!arg || !arg[0])
		return (*ret_err = "usage: focus GUEST"), -EINVAL;
	r = env->focus_set ? env->focus_set(env->userdata, arg, &domid, name, sizeof(name))
			   : -EOPNOTSUPP;
	if (r == -ENOENT) {
		vd_backend_foreach_device(env->be, find_dev, &f);
		snprintf(c->err, sizeof(c->err),
			 f.found ? "guest \"%.128s\" has no vkb device: it takes no input"
				 : "no such guest \"%.128s\"",
			 arg);
		*ret_err = c->err;
	} else if (r == -EOPNOTSUPP) {
		*ret_err = "no input here: nothing to focus";
	}
	if (r < 0)
		return r;
	if (json) {
		vd_sbuf_printf(&c->out, "{\"focus\":");
		vd_sbuf_json_str(&c->out, name[0] ? name : NULL);
		vd_sbuf_printf(&c->out, ",\"domid\":%u}\n", domid);
	} else {
		vd_sbuf_printf(&c->out, "focus: %s (dom%u)\n", name[0] ? name : "-", domid);
	}
	return 0;
}

static void handle(struct client *c, char *line)
{
	const char *err = NULL;
	bool json = !strncmp(line, "json ", 5);
	char *cmd = json ? line + 5 : line, *arg = strchr(cmd, ' ');
	int r;

	if (arg)
		*arg++ = '\0';
	if (!strcmp(cmd, "status") && !arg) {
		vd_render_status(&c->out, json, &c->ctl->env, &c->ctl->rates);
		r = c->out.oom ? -ENOMEM : 0;
	} else if (!strcmp(cmd, "guests") && !arg) {
		vd_render_guests(&c->out, json, &c->ctl->env);
		r = c->out.oom ? -ENOMEM : 0;
	} else if (!strcmp(cmd, "screenshot")) {
		r = cmd_screenshot(c, arg, json, &err);
		if (r == 1)
			return; /* answered by shot_done */
	} else if (!strcmp(cmd, "focus")) {
		r = cmd_focus(c, arg, json, &err);
	} else {
		r = -EINVAL;
		err = "unknown request (status, guests, screenshot, focus)";
	}
	answer(c, r, err, json);
}

/* ---- I/O ---- */

static int on_client_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);

static int start_answer(struct client *c)
{
	char *nl = memchr(c->in, '\n', c->inlen);

	*nl = '\0';
	handle(c, c->in);
	/* a screenshot in the background: nothing to poll for until it is done */
	return sd_event_source_set_io_events(c->io, c->shot ? 0 : EPOLLOUT);
}

static int read_request(struct client *c)
{
	ssize_t n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, MSG_DONTWAIT);

	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		return -ECONNRESET;
	c->inlen += (size_t)n;
	if (memchr(c->in, '\n', c->inlen))
		return start_answer(c);
	return c->inlen == sizeof(c->in) ? -EMSGSIZE : 0;
}

static int on_client_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct client *c = userdata;
	int r;

	if (c->out.len)
		r = send_some(c);
	else if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
		r = read_request(c);
	else
		r = 0;
	if (r != 0) {
		if (r < 0)
			vd_debug("control: client: %s", strerror(-r));
		client_free(c);
	}
	return 0;
}

static int on_client_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
	vd_debug("control: client timed out");
	client_free(userdata);
	return 0;
}

static int client_new(struct vd_control *ctl, int fd)
{
	struct client *c = calloc(1, sizeof(*c));
	int r;

	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	c->ctl = ctl;
	c->fd = fd;
	c->pass_fd = -1;
	c->next = ctl->clients;
	ctl->clients = c;
	ctl->nclients++;
	r = sd_event_add_io(ctl->loop, &c->io, fd, EPOLLIN, on_client_io, c);
	if (r >= 0)
		r = sd_event_add_time_relative(ctl->loop, &c->timeout, CLOCK_MONOTONIC,
					       CLIENT_TIMEOUT_US, 0, on_client_timeout, c);
	if (r < 0)
		client_free(c);
	return r;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct vd_control *ctl = userdata;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (cfd < 0)
		return 0;
	if (ctl->nclients >= MAX_CLIENTS) {
		vd_log_rl(LOG_WARNING, "control: too many clients, refusing one");
		close(cfd);
		return 0;
	}
	client_new(ctl, cfd);
	return 0;
}

static int on_rate_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct vd_control *ctl = userdata;

	vd_rates_sample(&ctl->rates, ctl->env.be);
	sd_event_source_set_time_relative(s, RATE_INTERVAL_US);
	return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* ---- the socket ---- */

/* A socket file someone still listens on belongs to a running daemon. */
static int check_stale(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), r = 0;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		r = -EADDRINUSE;
	else if (errno == ECONNREFUSED)
		unlink(sa->sun_path);
	close(fd);
	return r;
}

static int set_access(const char *path, const char *group)
{
	struct group *gr;

	if (!group || !group[0])
		return chmod(path, 0600) < 0 ? -errno : 0;
	gr = getgrnam(group);
	if (!gr)
		return -ENOENT; /* checked with the configuration: the group went since */
	if (chown(path, 0, gr->gr_gid) < 0 && chown(path, (uid_t)-1, gr->gr_gid) < 0)
		return -errno;
	return chmod(path, 0660) < 0 ? -errno : 0;
}

static int listen_on(const char *path, const char *group)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	mode_t old;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path));
	r = check_stale(&sa);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	old = umask(0177); /* nobody but us between bind and chmod */
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (r < 0) {
		close(fd);
		return r;
	}
	r = set_access(path, group);
	if (r >= 0 && listen(fd, (int)MAX_CLIENTS) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		unlink(path); /* ours since bind: no socket file without a listener */
		return r;
	}
	return fd;
}

/* The socket's directory (RuntimeDirectory= under systemd); created if missing. */
static void make_parent(const char *path)
{
	char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;

	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			vd_debug("control: cannot create %s: %m", dir);
	}
	free(dir);
}

int vd_control_create(sd_event *loop, const char *path, const char *group,
		      const struct vd_control_env *env, struct vd_control **ret_ctl)
{
	struct vd_control *ctl = calloc(1, sizeof(*ctl));
	int r;

	if (!ctl)
		return -ENOMEM;
	ctl->loop = loop;
	ctl->env = *env;
	ctl->fd = -1;
	ctl->path = strdup(path);
	make_parent(path);
	r = ctl->path ? listen_on(path, group) : -ENOMEM;
	if (r >= 0) {
		ctl->fd = r;
		r = sd_event_add_io(loop, &ctl->listen_src, ctl->fd, EPOLLIN, on_accept, ctl);
	}
	if (r >= 0)
		r = sd_event_add_time_relative(loop, &ctl->rate_src, CLOCK_MONOTONIC,
					       RATE_INTERVAL_US, 0, on_rate_timer, ctl);
	if (r < 0) {
		vd_control_destroy(ctl);
		return r;
	}
	*ret_ctl = ctl;
	return 0;
}

void vd_control_destroy(struct vd_control *ctl)
{
	if (!ctl)
		return;
	while (ctl->clients)
		client_free(ctl->clients);
	sd_event_source_disable_unref(ctl->listen_src);
	sd_event_source_disable_unref(ctl->rate_src);
	if (ctl->fd >= 0) {
		close(ctl->fd);
		unlink(ctl->path);
	}
	vd_rates_free(&ctl->rates);
	free(ctl->path);
	free(ctl);
}
