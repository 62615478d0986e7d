/* SPDX-License-Identifier: MIT */
/*
 * The simhost's server: one Domain-0 connection of the sim machine per
 * client socket, the ops of simhost_proto.h on it, watch events pushed on
 * the client's watch socket, and Xen's clean-up when a client goes
 * (simhost.h). Requests are served one at a time on the loop; a client
 * that sends garbage is disconnected (and cleaned up like a dead one).
 */
#include "hv/simhost/simhost.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hv/sim/sim_priv.h"
#include "hv/simhost/simhost_wire.h"
#include "log.h"

/* wait_released blocks the whole simhost: bounded. */
#define WAIT_RELEASED_MAX_MS 100u
#define SLOTS_MAX 65536u

struct sh_gslot {
	struct vd_gnt *gnt;
	uint64_t maps;
};

struct sh_client {
	struct vd_simhost_server *srv;
	struct sh_client *next;
	uint64_t serial;
	int sock, watch_sock;
	int watch_peer; /* the client's end of the watch socket until HELLO, or -1 */
	sd_event_source *sock_src, *xs_src, *out_src;
	struct vd_hv *conn; /* Domain-0's connection to the machine */
	struct vd_evtchn **ports;
	uint32_t nports;
	struct sh_gslot *gnts;
	uint32_t ngnts;
	uint64_t watches;
	uint8_t *pending; /* a watch event the socket had no room for */
	size_t pending_len;
};

struct vd_simhost_server {
	sd_event *loop;
	struct vd_sim *sim;
	char *path;
	int lsock;
	sd_event_source *accept_src;
	struct sh_client *clients;
	vd_simhost_status_fn status;
	void *status_ud;
	struct vd_simhost_server_stats st;
	uint8_t in[VD_SH_MSG_MAX], out[VD_SH_MSG_MAX];
};

/* A request being served: its header, payload and fd; the reply. */
struct sh_req {
	struct sh_client *cl;
	const struct vd_sh_hdr *h;
	const uint8_t *p;
	size_t len;
	int fd; /* taken by the op that uses it; closed afterwards otherwise */
	struct vd_sh_hdr rh;
	size_t rlen; /* reply payload in srv->out after the header */
	int rfds[VD_SH_FDS_MAX];
	unsigned nrfds;
	bool close_rfds; /* the reply's fds are ours: close once sent */
};

static struct vd_hv_impl const *hvi(struct sh_client *cl)
{
	return cl->conn->impl;
}

static uint8_t *reply_buf(struct sh_req *q)
{
	return q->cl->srv->out + sizeof(struct vd_sh_hdr);
}

/* ---- strings of a request ---- */

/* The first (n = 1) or second (n = 2) NUL-terminated string, or NULL. */
static const char *req_str(struct sh_req *q, int n)
{
	const char *s = (const char *)q->p;
	const char *z = q->len ? memchr(s, '\0', q->len) : NULL;

	if (!z)
		return NULL;
	if (n == 1)
		return s;
	if (!memchr(z + 1, '\0', q->len - (size_t)(z + 1 - s)))
		return NULL;
	return z + 1;
}

/* ---- xenstore ---- */

static int op_xs_read(struct sh_req *q)
{
	const char *path = req_str(q, 1);
	char *v;
	size_t len;
	int r;

	if (!path)
		return -EINVAL;
	r = hvi(q->cl)->xs_read(q->cl->conn, (vd_xs_txn)q->h->a, path, &v, &len);
	if (r < 0)
		return r;
	if (len > VD_SH_PAYLOAD_MAX)
		len = VD_SH_PAYLOAD_MAX;
	memcpy(reply_buf(q), v, len);
	q->rlen = len;
	free(v);
	return 0;
}

static int op_xs_write(struct sh_req *q)
{
	const char *path = req_str(q, 1), *value = req_str(q, 2);

	if (!path || !value)
		return -EINVAL;
	return hvi(q->cl)->xs_write(q->cl->conn, (vd_xs_txn)q->h->a, path, value);
}

static int op_xs_rm(struct sh_req *q)
{
	const char *path = req_str(q, 1);

	return path ? hvi(q->cl)->xs_rm(q->cl->conn, (vd_xs_txn)q->h->a, path) : -EINVAL;
}

static int op_xs_get_perms(struct sh_req *q)
{
	const char *path = req_str(q, 1);
	struct vd_xs_perm *p;
	unsigned n;
	int r;

	if (!path)
		return -EINVAL;
	r = hvi(q->cl)->xs_get_perms(q->cl->conn, (vd_xs_txn)q->h->a, path, &p, &n);
	if (r < 0)
		return r;
	memcpy(reply_buf(q), p, n * sizeof(*p)); /* n <= VD_SIM_XS_PERMS_MAX */
	q->rlen = n * sizeof(*p);
	q->rh.a = n;
	free(p);
	return 0;
}

static int op_xs_directory(struct sh_req *q)
{
	const char *path = req_str(q, 1);
	unsigned n = 0, i;
	char **list;
	size_t off = 0;
	int r;

	if (!path)
		return -EINVAL;
	r = hvi(q->cl)->xs_directory(q->cl->conn, (vd_xs_txn)q->h->a, path, &list, &n);
	if (r < 0)
		return r;
	for (i = 0; i < n && r == 0; i++) {
		size_t l = strlen(list[i]) + 1;

		if (off + l > VD_SH_PAYLOAD_MAX) {
			r = -E2BIG;
			break;
		}
		memcpy(reply_buf(q) + off, list[i], l);
		off += l;
	}
	vd_hv_free_list(list, n);
	q->rlen = off;
	q->rh.a = n;
	return r;
}

static int op_txn_start(struct sh_req *q)
{
	vd_xs_txn t;
	int r = hvi(q->cl)->xs_txn_start(q->cl->conn, &t);

	if (r >= 0)
		q->rh.a = t;
	return r;
}

static int op_txn_end(struct sh_req *q)
{
	return hvi(q->cl)->xs_txn_end(q->cl->conn, (vd_xs_txn)q->h->a, q->h->b != 0);
}

static int op_watch(struct sh_req *q, bool add)
{
	const char *path = req_str(q, 1), *token = req_str(q, 2);
	int r;

	if (!path || !token)
		return -EINVAL;
	r = add ? hvi(q->cl)->xs_watch(q->cl->conn, path, token)
		: hvi(q->cl)->xs_unwatch(q->cl->conn, path, token);
	if (r >= 0 && add) {
		q->cl->watches++;
		q->cl->srv->st.watches++;
	} else if (r >= 0) {
		q->cl->watches--;
		q->cl->srv->st.watches--;
	}
	return r;
}

/* ---- slots: ids of ports and grant handles (index + 1) ---- */

static int slot_grow(void **arr, uint32_t *n, size_t elem)
{
	uint32_t cap = *n ? *n * 2 : 16;
	uint8_t *a;

	if (*n >= SLOTS_MAX)
		return -ENOSPC;
	a = realloc(*arr, cap * elem);
	if (!a)
		return -ENOMEM;
	memset(a + (size_t)*n * elem, 0, (size_t)(cap - *n) * elem);
	*arr = a;
	*n = cap;
	return 0;
}

static struct vd_evtchn **port_slot(struct sh_client *cl, uint64_t id)
{
	return id && id <= cl->nports && cl->ports[id - 1] ? &cl->ports[id - 1] : NULL;
}

static struct sh_gslot *gnt_slot(struct sh_client *cl, uint64_t id)
{
	return id && id <= cl->ngnts && cl->gnts[id - 1].gnt ? &cl->gnts[id - 1] : NULL;
}

/* ---- event channels ---- */

static int op_evtchn_bind(struct sh_req *q)
{
	struct sh_client *cl = q->cl;
	struct vd_evtchn *ch;
	uint32_t i;
	int r;

	for (i = 0; i < cl->nports && cl->ports[i]; i++)
		;
	if (i == cl->nports &&
	    (r = slot_grow((void **)&cl->ports, &cl->nports, sizeof(*cl->ports))) < 0)
		return r;
	if (q->h->a > UINT32_MAX || q->h->b > UINT32_MAX)
		return -EINVAL;
	r = hvi(cl)->evtchn_bind(cl->conn, (uint32_t)q->h->a, (uint32_t)q->h->b, &ch);
	if (r < 0)
		return r;
	cl->ports[i] = ch;
	cl->srv->st.ports++;
	q->rh.a = i + 1;
	q->rfds[q->nrfds++] = hvi(cl)->evtchn_fd(ch);
	return 0;
}

static int op_evtchn_unbind(struct sh_req *q)
{
	struct vd_evtchn **s = port_slot(q->cl, q->h->a);

	if (!s)
		return -EINVAL;
	hvi(q->cl)->evtchn_unbind(q->cl->conn, *s);
	*s = NULL;
	q->cl->srv->st.ports--;
	return 0;
}

static int op_evtchn_notify(struct sh_req *q)
{
	struct vd_evtchn **s = port_slot(q->cl, q->h->a);

	return s ? hvi(q->cl)->evtchn_notify(*s) : -EINVAL;
}

/* ---- grants ---- */

static int op_gnt_open(struct sh_req *q)
{
	struct sh_client *cl = q->cl;
	struct vd_gnt *g;
	uint32_t i;
	int r;

	for (i = 0; i < cl->ngnts && cl->gnts[i].gnt; i++)
		;
	if (i == cl->ngnts &&
	    (r = slot_grow((void **)&cl->gnts, &cl->ngnts, sizeof(*cl->gnts))) < 0)
		return r;
	r = hvi(cl)->gnt_open(cl->conn, &g);
	if (r < 0)
		return r;
	cl->gnts[i] = (struct sh_gslot){.gnt = g};
	cl->srv->st.gnts++;
	q->rh.a = i + 1;
	return 0;
}

/* Close a handle: as gntdev's release, its mappings go with it. */
static void gslot_close(struct sh_client *cl, struct sh_gslot *s, bool reaped)
{
	struct vd_simhost_server_stats *st = &cl->srv->st;

	hvi(cl)->gnt_close(s->gnt);
	st->maps -= s->maps;
	st->gnts--;
	if (reaped) {
		st->reaped_maps += s->maps;
		st->reaped_gnts++;
	}
	*s = (struct sh_gslot){0};
}

static int op_gnt_close(struct sh_req *q)
{
	struct sh_gslot *s = gnt_slot(q->cl, q->h->a);

	if (!s)
		return -EINVAL;
	gslot_close(q->cl, s, false);
	return 0;
}

/* The files behind the mapped refs, deduplicated, and each page's index. */
static int map_describe(struct sh_req *q, uint32_t domid, uint32_t count, const uint32_t *refs,
			bool writable)
{
	struct vd_sim *sim = q->cl->srv->sim;
	struct vd_sim_domain *d = vd_sim_domain_live(sim, domid);
	int *fds = malloc(count * sizeof(*fds));
	uint8_t *out = reply_buf(q);
	int r = fds ? 0 : -ENOMEM;

	if (r == 0)
		r = d ? vd_sim_grants_check(d, 0, count, refs, writable, fds,
					    (uint32_t *)(void *)out)
		      : -ESRCH;
	for (uint32_t i = 0; r == 0 && i < count; i++) {
		unsigned k;

		for (k = 0; k < q->nrfds && q->rfds[k] != fds[i]; k++)
			;
		if (k == q->nrfds && k == VD_SH_MAP_FDS_MAX)
			r = -E2BIG;
		else if (k == q->nrfds)
			q->rfds[q->nrfds++] = fds[i];
		out[(size_t)count * 4 + i] = (uint8_t)k;
	}
	free(fds);
	q->rlen = (size_t)count * 5;
	return r;
}

static int op_gnt_map(struct sh_req *q)
{
	struct sh_gslot *s = gnt_slot(q->cl, q->h->a);
	uint32_t count = (uint32_t)q->h->c, domid = (uint32_t)q->h->b;
	const uint32_t *refs = (const uint32_t *)(const void *)q->p;
	void *addr;
	int r;

	if (!s || q->h->c == 0 || q->h->c > VD_SH_MAP_MAX || q->len != count * sizeof(*refs) ||
	    q->h->b > UINT32_MAX)
		return -EINVAL;
	r = hvi(q->cl)->gnt_map(s->gnt, domid, count, refs, q->h->d != 0, &addr);
	if (r < 0)
		return r;
	r = map_describe(q, domid, count, refs, q->h->d != 0);
	if (r < 0) {
		hvi(q->cl)->gnt_unmap(s->gnt, addr, count);
		q->nrfds = 0;
		q->rlen = 0;
		return r;
	}
	s->maps++;
	q->cl->srv->st.maps++;
	q->rh.a = (uint64_t)(uintptr_t)addr;
	return 0;
}

static int op_gnt_unmap(struct sh_req *q)
{
	struct sh_gslot *s = gnt_slot(q->cl, q->h->a);
	int r;

	if (!s || q->h->c > VD_SH_MAP_MAX)
		return -EINVAL;
	r = hvi(q->cl)->gnt_unmap(s->gnt, (void *)(uintptr_t)q->h->b, (uint32_t)q->h->c);
	if (r >= 0) {
		s->maps--;
		q->cl->srv->st.maps--;
	}
	return r;
}

/* ---- gntdev dma-buf ---- */

static int op_exp_from_refs(struct sh_req *q)
{
	struct sh_gslot *s = gnt_slot(q->cl, q->h->a);
	uint32_t count = (uint32_t)q->h->c;
	int fd, r;

	if (!s || q->h->c == 0 || q->h->c > VD_SH_MAP_MAX || q->len != count * sizeof(uint32_t) ||
	    q->h->b > UINT32_MAX)
		return -EINVAL;
	r = hvi(q->cl)->dmabuf_exp_from_refs(s->gnt, (uint32_t)q->h->b, count,
					     (const uint32_t *)(const void *)q->p, &fd);
	if (r < 0)
		return r;
	/* Ours is closed once sent: the client's copies decide the release. */
	q->rfds[q->nrfds++] = fd;
	q->close_rfds = true;
	q->rh.a = (uint64_t)fd;
	return 0;
}

static int op_exp_rekey(struct sh_req *q)
{
	struct sh_gslot *s = gnt_slot(q->cl, q->h->a);

	if (!s || q->h->b > INT32_MAX || q->h->c > INT32_MAX)
		return -EINVAL;
	return vd_sim_dmabuf_exp_rekey(s->gnt, (int)q->h->b, (int)q->h->c);
}

static int op_exp_wait(struct sh_req *q)
{
	struct sh_gslot *s = gnt_slot(q->cl, q->h->a);
	uint32_t ms = q->h->c > WAIT_RELEASED_MAX_MS ? WAIT_RELEASED_MAX_MS : (uint32_t)q->h->c;

	if (!s || q->h->b > INT32_MAX)
		return -EINVAL;
	return hvi(q->cl)->dmabuf_exp_wait_released(s->gnt, (int)q->h->b, ms);
}

static int op_imp_to_refs(struct sh_req *q)
{
	struct sh_gslot *s = gnt_slot(q->cl, q->h->a);
	uint32_t count = (uint32_t)q->h->d;
	int r;

	if (!s || q->fd < 0 || q->h->c > INT32_MAX || q->h->b > UINT32_MAX || q->h->d == 0 ||
	    q->h->d > VD_SH_MAP_MAX)
		return -EINVAL;
	r = hvi(q->cl)->dmabuf_imp_to_refs(s->gnt, (uint32_t)q->h->b, q->fd, count,
					   (uint32_t *)(void *)reply_buf(q));
	if (r < 0)
		return r;
	vd_sim_dmabuf_imp_rekey(s->gnt, q->fd, (int)q->h->c);
	q->rlen = count * sizeof(uint32_t);
	return 0;
}

static int op_imp_release(struct sh_req *q)
{
	struct sh_gslot *s = gnt_slot(q->cl, q->h->a);

	if (!s || q->h->b > INT32_MAX)
		return -EINVAL;
	return hvi(q->cl)->dmabuf_imp_release(s->gnt, (int)q->h->b);
}

/* ---- status, hello ---- */

static int op_status(struct sh_req *q)
{
	struct vd_simhost_server *srv = q->cl->srv;
	struct vd_simhost_server_stats *st = &srv->st;
	char *out = (char *)reply_buf(q);
	size_t cap = VD_SH_PAYLOAD_MAX, n;
	int k;

	k = snprintf(out, cap,
		     "simhost clients=%u clients_total=%llu clients_gone=%llu ports=%llu maps=%llu "
		     "gnts=%llu watches=%llu reaped_ports=%llu reaped_maps=%llu reaped_gnts=%llu "
		     "reaped_watches=%llu\n",
		     st->clients, (unsigned long long)st->clients_total,
		     (unsigned long long)st->clients_gone, (unsigned long long)st->ports,
		     (unsigned long long)st->maps, (unsigned long long)st->gnts,
		     (unsigned long long)st->watches, (unsigned long long)st->reaped_ports,
		     (unsigned long long)st->reaped_maps, (unsigned long long)st->reaped_gnts,
		     (unsigned long long)st->reaped_watches);
	n = k < 0 ? 0 : (size_t)k < cap ? (size_t)k : cap - 1;
	if (srv->status)
		n += srv->status(srv->status_ud, q->h->a, out + n, cap - n);
	q->rlen = n;
	return 0;
}

static int op_hello(struct sh_req *q)
{
	if (q->cl->watch_peer < 0)
		return -EALREADY;
	q->rh.a = hvi(q->cl)->own_domid(q->cl->conn);
	q->rfds[q->nrfds++] = q->cl->watch_peer;
	q->close_rfds = true;
	q->cl->watch_peer = -1;
	return 0;
}

static int dispatch(struct sh_req *q)
{
	switch (q->h->op) {
	case VD_SH_HELLO:
		return op_hello(q);
	case VD_SH_DOMAIN_ALIVE:
		return q->h->a > UINT32_MAX
			   ? 0
			   : hvi(q->cl)->domain_alive(q->cl->conn, (uint32_t)q->h->a);
	case VD_SH_XS_READ:
		return op_xs_read(q);
	case VD_SH_XS_WRITE:
		return op_xs_write(q);
	case VD_SH_XS_RM:
		return op_xs_rm(q);
	case VD_SH_XS_DIRECTORY:
		return op_xs_directory(q);
	case VD_SH_XS_GET_PERMS:
		return op_xs_get_perms(q);
	case VD_SH_XS_TXN_START:
		return op_txn_start(q);
	case VD_SH_XS_TXN_END:
		return op_txn_end(q);
	case VD_SH_XS_WATCH:
		return op_watch(q, true);
	case VD_SH_XS_UNWATCH:
		return op_watch(q, false);
	case VD_SH_EVTCHN_BIND:
		return op_evtchn_bind(q);
	case VD_SH_EVTCHN_UNBIND:
		return op_evtchn_unbind(q);
	case VD_SH_EVTCHN_NOTIFY:
		return op_evtchn_notify(q);
	case VD_SH_GNT_OPEN:
		return op_gnt_open(q);
	case VD_SH_GNT_CLOSE:
		return op_gnt_close(q);
	case VD_SH_GNT_MAP:
		return op_gnt_map(q);
	case VD_SH_GNT_UNMAP:
		return op_gnt_unmap(q);
	case VD_SH_EXP_FROM_REFS:
		return op_exp_from_refs(q);
	case VD_SH_EXP_REKEY:
		return op_exp_rekey(q);
	case VD_SH_EXP_WAIT:
		return op_exp_wait(q);
	case VD_SH_IMP_TO_REFS:
		return op_imp_to_refs(q);
	case VD_SH_IMP_RELEASE:
		return op_imp_release(q);
	case VD_SH_STATUS:
		return op_status(q);
	default:
		return -ENOSYS;
	}
}

/* ---- clients ---- */

static void client_destroy(struct sh_client *cl);

/* What Xen does when a Dom0 process goes: its bindings, mappings, watches go. */
static void client_reap(struct sh_client *cl)
{
	struct vd_simhost_server_stats *st = &cl->srv->st;

	for (uint32_t i = 0; i < cl->nports; i++)
		if (cl->ports[i]) {
			hvi(cl)->evtchn_unbind(cl->conn, cl->ports[i]);
			st->ports--;
			st->reaped_ports++;
		}
	for (uint32_t i = 0; i < cl->ngnts; i++)
		if (cl->gnts[i].gnt)
			gslot_close(cl, &cl->gnts[i], true);
	st->watches -= cl->watches;
	st->reaped_watches += cl->watches;
	free(cl->ports);
	free(cl->gnts);
	vd_hv_destroy(cl->conn);
}

static void client_destroy(struct sh_client *cl)
{
	struct vd_simhost_server *srv = cl->srv;

	for (struct sh_client **pc = &srv->clients; *pc; pc = &(*pc)->next)
		if (*pc == cl) {
			*pc = cl->next;
			break;
		}
	sd_event_source_disable_unref(cl->sock_src);
	sd_event_source_disable_unref(cl->xs_src);
	sd_event_source_disable_unref(cl->out_src);
	client_reap(cl);
	close(cl->sock);
	close(cl->watch_sock);
	if (cl->watch_peer >= 0)
		close(cl->watch_peer);
	free(cl->pending);
	srv->st.clients--;
	srv->st.clients_gone++;
	vd_debug("simhost: client %llu gone", (unsigned long long)cl->serial);
	free(cl);
}

static int serve_one(struct sh_client *cl, long n, int *fds, unsigned nfds)
{
	struct vd_simhost_server *srv = cl->srv;
	struct sh_req q = {.cl = cl,
			   .h = (const struct vd_sh_hdr *)(const void *)srv->in,
			   .p = srv->in + sizeof(struct vd_sh_hdr),
			   .len = (size_t)n - sizeof(struct vd_sh_hdr),
			   .fd = nfds ? fds[0] : -1};
	int r;

	vd_sh_close_fds(fds + 1, nfds ? nfds - 1 : 0);
	q.rh.op = q.h->op;
	q.rh.ret = dispatch(&q);
	if (q.rh.ret < 0) {
		q.rlen = 0;
		if (q.close_rfds)
			vd_sh_close_fds(q.rfds, q.nrfds);
		q.nrfds = 0;
	}
	r = vd_sh_send(cl->sock, &q.rh, reply_buf(&q), q.rlen, q.rfds, q.nrfds, MSG_DONTWAIT);
	if (q.close_rfds)
		vd_sh_close_fds(q.rfds, q.nrfds);
	if (q.fd >= 0)
		close(q.fd);
	return r;
}

static int on_client(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct sh_client *cl = userdata;
	struct vd_simhost_server *srv = cl->srv;
	int fds[VD_SH_FDS_MAX];
	unsigned nfds = 0;
	long n;

	n = vd_sh_recv(cl->sock, srv->in, sizeof(srv->in), fds, VD_SH_FDS_MAX, &nfds, MSG_DONTWAIT);
	if (n == -EAGAIN)
		return 0;
	if (n <= 0 || serve_one(cl, n, fds, nfds) < 0)
		client_destroy(cl);
	return 0;
}

/* Push pending watch events until none are left or the socket is full. */
static int watch_push(struct sh_client *cl)
{
	for (;;) {
		struct vd_sh_hdr h = {.op = VD_SH_XS_WATCH};
		char *path, *token;
		size_t lp, lt;
		int r;

		if (!cl->pending) {
			if (hvi(cl)->xs_read_watch(cl->conn, &path, &token) < 0)
				return 0;
			lp = strlen(path) + 1;
			lt = strlen(token) + 1;
			cl->pending = malloc(lp + lt);
			if (cl->pending) {
				memcpy(cl->pending, path, lp);
				memcpy(cl->pending + lp, token, lt);
				cl->pending_len = lp + lt;
			}
			free(path);
			free(token);
			if (!cl->pending)
				return -ENOMEM;
		}
		r = vd_sh_send(cl->watch_sock, &h, cl->pending, cl->pending_len, NULL, 0,
			       MSG_DONTWAIT);
		if (r == -EAGAIN)
			return -EAGAIN;
		free(cl->pending);
		cl->pending = NULL;
		if (r < 0)
			return r;
	}
}

static void watch_pump(struct sh_client *cl)
{
	int r = watch_push(cl);
	bool full = r == -EAGAIN;

	sd_event_source_set_enabled(cl->xs_src, full ? SD_EVENT_OFF : SD_EVENT_ON);
	sd_event_source_set_enabled(cl->out_src, full ? SD_EVENT_ON : SD_EVENT_OFF);
}

static int on_watch(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	watch_pump(userdata);
	return 0;
}

static int client_sources(struct sh_client *cl, sd_event *loop)
{
	int r;

	r = sd_event_add_io(loop, &cl->sock_src, cl->sock, EPOLLIN, on_client, cl);
	if (r >= 0)
		r = sd_event_add_io(loop, &cl->xs_src, hvi(cl)->xs_watch_fd(cl->conn), EPOLLIN,
				    on_watch, cl);
	if (r >= 0)
		r = sd_event_add_io(loop, &cl->out_src, cl->watch_sock, EPOLLOUT, on_watch, cl);
	if (r >= 0)
		r = sd_event_source_set_enabled(cl->out_src, SD_EVENT_OFF);
	return r;
}

static int client_new(struct vd_simhost_server *srv, int sock)
{
	struct sh_client *cl = calloc(1, sizeof(*cl));
	int pair[2] = {-1, -1}, r;

	if (!cl) {
		close(sock);
		return -ENOMEM;
	}
	cl->srv = srv;
	cl->sock = sock;
	r = socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0 ? -errno
											    : 0;
	if (r >= 0)
		r = vd_sim_connect_as(srv->sim, 0, &cl->conn);
	cl->watch_sock = pair[0];
	if (r >= 0)
		r = client_sources(cl, srv->loop);
	if (r < 0) {
		sd_event_source_disable_unref(cl->sock_src);
		sd_event_source_disable_unref(cl->xs_src);
		sd_event_source_disable_unref(cl->out_src);
		vd_hv_destroy(cl->conn);
		vd_sh_close_fds(pair, 2);
		close(sock);
		free(cl);
		return r;
	}
	/* The client's end goes over in HELLO. */
	cl->watch_peer = pair[1];
	cl->serial = ++srv->st.clients_total;
	cl->next = srv->clients;
	srv->clients = cl;
	srv->st.clients++;
	vd_debug("simhost: client %llu connected", (unsigned long long)cl->serial);
	return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct vd_simhost_server *srv = userdata;
	int sock = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	int r;

	if (sock < 0)
		return 0;
	r = client_new(srv, sock);
	if (r < 0)
		vd_err("simhost: cannot accept a client: %s", strerror(-r));
	return 0;
}

static int listen_on(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

int vd_simhost_server_create(sd_event *loop, struct vd_sim *sim, const char *path,
			     vd_simhost_status_fn status, void *userdata,
			     struct vd_simhost_server **ret)
{
	struct vd_simhost_server *srv = calloc(1, sizeof(*srv));
	int r;

	if (!srv)
		return -ENOMEM;
	srv->loop = loop;
	srv->sim = sim;
	srv->status = status;
	srv->status_ud = userdata;
	srv->lsock = -1;
	srv->path = strdup(path);
	r = srv->path ? listen_on(path, &srv->lsock) : -ENOMEM;
	if (r >= 0)
		r = sd_event_add_io(loop, &srv->accept_src, srv->lsock, EPOLLIN, on_accept, srv);
	if (r < 0) {
		if (srv->lsock >= 0) {
			close(srv->lsock);
			unlink(path);
		}
		free(srv->path);
		free(srv);
		return r;
	}
	*ret = srv;
	return 0;
}

void vd_simhost_server_destroy(struct vd_simhost_server *srv)
{
	if (!srv)
		return;
	while (srv->clients)
		client_destroy(srv->clients);
	sd_event_source_disable_unref(srv->accept_src);
	close(srv->lsock);
	unlink(srv->path);
	free(srv->path);
	free(srv);
}

void vd_simhost_server_get_stats(struct vd_simhost_server *srv, struct vd_simhost_server_stats *ret)
{
	*ret = srv->st;
}
