/* SPDX-License-Identifier: MIT */
/*
 * The "simhost" hypervisor: the backend domain's view of a simulated Xen
 * that runs in another process (vdispl-simhost), over its Unix socket
 * (simhost_proto.h). As on real Xen, the hypervisor and the guests outlive
 * this process: when it dies, the simhost drops its grant mappings, event
 * channel bindings and watches; xenstore stays.
 *
 * Every op is a synchronous request/response on the connection's socket.
 * Event channels are eventfds the simhost passes over (ack reads them
 * here); grant mappings mmap the guests' memory files the simhost passes
 * over into one contiguous range; an exported dma-buf is the fd the simhost
 * made (released when every copy of it is closed, which the simhost sees).
 *
 * A dead or misbehaving simhost fails every op with -EPIPE (logged once);
 * the watch fd then stops polling readable, so no caller spins on it.
 */
#include "hv/simhost/simhost.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "hv/sim/sim_priv.h"
#include "hv/simhost/simhost_wire.h"
#include "log.h"

/* A simhost that does not answer within this is taken as dead. */
#define REPLY_TIMEOUT_S 10

struct sh_conn {
	struct vd_hv base;
	int sock, watch_sock;
	uint32_t domid;
	bool dead;
	struct vd_sh_hdr rhdr; /* the last response's header */
	uint8_t *buf;	       /* the last response's packet; VD_SH_MSG_MAX bytes */
	size_t rlen;	       /* its payload length */
};

struct sh_evtchn {
	struct sh_conn *c;
	uint64_t id;
	int efd;
};

struct sh_map {
	struct sh_map *next;
	void *addr;
	uint32_t count;
	uint64_t key;
};

struct sh_gnt {
	struct sh_conn *c;
	uint64_t id;
	struct sh_map *maps;
};

static char *socket_path;

int vd_hv_simhost_set_socket(const char *path)
{
	char *p = path ? strdup(path) : NULL;

	if (path && !p)
		return -ENOMEM;
	free(socket_path);
	socket_path = p;
	return 0;
}

__attribute__((destructor)) static void socket_path_free(void)
{
	free(socket_path);
	socket_path = NULL;
}

const char *vd_hv_simhost_socket(void)
{
	const char *env = getenv("VDISPL_SIM_SOCKET");

	return socket_path ? socket_path : env && *env ? env : VD_SIMHOST_DEFAULT_SOCKET;
}

static struct sh_conn *conn_of(struct vd_hv *hv)
{
	return (struct sh_conn *)(void *)hv;
}

/*
 * The simhost is gone: put a never-readable eventfd in the watch socket's
 * place, so that a poller registered on the number stops waking up (epoll
 * forgets the closed socket) instead of spinning on the hang-up.
 */
static void watch_sock_retire(struct sh_conn *c)
{
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (efd < 0)
		return;
	if (dup3(efd, c->watch_sock, O_CLOEXEC) < 0) {
		close(efd);
		return;
	}
	close(efd);
}

static void conn_fail(struct sh_conn *c, int err)
{
	if (c->dead)
		return;
	c->dead = true;
	vd_err("simhost: connection lost (%s): the simulated hypervisor is gone", strerror(-err));
	if (c->watch_sock >= 0)
		watch_sock_retire(c);
}

/*
 * One round trip. Fds received in the response go to fds (at most
 * max_fds; the caller takes them). The response stays in c->rhdr/c->buf.
 */
static int call_fds(struct sh_conn *c, struct vd_sh_hdr *h, const void *payload, size_t len,
		    const int *send_fds, unsigned nsend, int *fds, unsigned max_fds,
		    unsigned *ret_nfds)
{
	unsigned nfds = 0;
	long n;
	int r;

	if (c->dead)
		return -EPIPE;
	r = vd_sh_send(c->sock, h, payload, len, send_fds, nsend, 0);
	if (r == -EMSGSIZE)
		return -E2BIG;
	if (r < 0) {
		conn_fail(c, r);
		return -EPIPE;
	}
	n = vd_sh_recv(c->sock, c->buf, VD_SH_MSG_MAX, fds, max_fds, &nfds, 0);
	if (n <= 0) {
		conn_fail(c, n == 0 ? -ECONNRESET : (int)n);
		return -EPIPE;
	}
	memcpy(&c->rhdr, c->buf, sizeof(c->rhdr));
	c->rlen = (size_t)n - sizeof(c->rhdr);
	if (c->rhdr.op != h->op || (c->rhdr.ret > 0 && h->op != VD_SH_DOMAIN_ALIVE)) {
		vd_sh_close_fds(fds, nfds);
		conn_fail(c, -EPROTO);
		return -EPIPE;
	}
	if (ret_nfds)
		*ret_nfds = nfds;
	else
		vd_sh_close_fds(fds, nfds);
	return c->rhdr.ret;
}

static int call(struct sh_conn *c, struct vd_sh_hdr *h, const void *payload, size_t len)
{
	int fds[VD_SH_FDS_MAX];

	return call_fds(c, h, payload, len, NULL, 0, fds, VD_SH_FDS_MAX, NULL);
}

static const uint8_t *payload_of(struct sh_conn *c)
{
	return c->buf + sizeof(struct vd_sh_hdr);
}

/* "a\0b\0" (or "a\0") into a new buffer; -E2BIG if it does not fit a packet. */
static int pack2(const char *a, const char *b, char **ret, size_t *ret_len)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0, len = la + 1 + (b ? lb + 1 : 0);
	char *p;

	if (len > VD_SH_PAYLOAD_MAX)
		return -E2BIG;
	p = malloc(len);
	if (!p)
		return -ENOMEM;
	memcpy(p, a, la + 1);
	if (b)
		memcpy(p + la + 1, b, lb + 1);
	*ret = p;
	*ret_len = len;
	return 0;
}

static int call_str(struct sh_conn *c, uint32_t op, uint64_t a, const char *s1, const char *s2)
{
	struct vd_sh_hdr h = {.op = op, .a = a};
	size_t len;
	char *p;
	int r;

	r = pack2(s1, s2, &p, &len);
	if (r < 0)
		return r;
	r = call(c, &h, p, len);
	free(p);
	return r;
}

/* ---- connection ---- */

static void sh_destroy(struct vd_hv *hv)
{
	struct sh_conn *c = conn_of(hv);

	close(c->sock);
	if (c->watch_sock >= 0)
		close(c->watch_sock);
	free(c->buf);
	free(c);
}

static uint32_t sh_own_domid(struct vd_hv *hv)
{
	return conn_of(hv)->domid;
}

static int sh_domain_alive(struct vd_hv *hv, uint32_t domid)
{
	struct vd_sh_hdr h = {.op = VD_SH_DOMAIN_ALIVE, .a = domid};

	return call(conn_of(hv), &h, NULL, 0);
}

/* ---- xenstore ---- */

static int sh_xs_read(struct vd_hv *hv, vd_xs_txn t, const char *path, char **ret_value,
		      size_t *ret_len)
{
	struct sh_conn *c = conn_of(hv);
	char *v;
	int r;

	r = call_str(c, VD_SH_XS_READ, t, path, NULL);
	if (r < 0)
		return r;
	v = malloc(c->rlen + 1);
	if (!v)
		return -ENOMEM;
	memcpy(v, payload_of(c), c->rlen);
	v[c->rlen] = '\0';
	*ret_value = v;
	if (ret_len)
		*ret_len = c->rlen;
	return 0;
}

static int sh_xs_write(struct vd_hv *hv, vd_xs_txn t, const char *path, const char *value)
{
	return call_str(conn_of(hv), VD_SH_XS_WRITE, t, path, value);
}

static int sh_xs_rm(struct vd_hv *hv, vd_xs_txn t, const char *path)
{
	return call_str(conn_of(hv), VD_SH_XS_RM, t, path, NULL);
}

/* Split n NUL-terminated names of the response into a list. */
static int names_split(struct sh_conn *c, uint64_t n, char ***ret_list)
{
	const char *p = (const char *)payload_of(c), *end = p + c->rlen;
	char **list = calloc(n ? n : 1, sizeof(*list));

	if (!list || n > c->rlen) {
		free(list);
		return list ? -EPROTO : -ENOMEM;
	}
	for (uint64_t i = 0; i < n; i++) {
		const char *z = memchr(p, '\0', (size_t)(end - p));

		if (!z || !(list[i] = strdup(p))) {
			vd_hv_free_list(list, (unsigned)i);
			return z ? -ENOMEM : -EPROTO;
		}
		p = z + 1;
	}
	*ret_list = list;
	return 0;
}

static int sh_xs_directory(struct vd_hv *hv, vd_xs_txn t, const char *path, char ***ret_list,
			   unsigned *ret_n)
{
	struct sh_conn *c = conn_of(hv);
	uint64_t n;
	int r;

	r = call_str(c, VD_SH_XS_DIRECTORY, t, path, NULL);
	if (r < 0)
		return r;
	n = c->rhdr.a;
	r = names_split(c, n, ret_list);
	if (r < 0)
		return r;
	*ret_n = (unsigned)n;
	return 0;
}

static int sh_xs_get_perms(struct vd_hv *hv, vd_xs_txn t, const char *path,
			   struct vd_xs_perm **ret_perms, unsigned *ret_n)
{
	struct sh_conn *c = conn_of(hv);
	struct vd_xs_perm *p;
	uint64_t n;
	int r;

	r = call_str(c, VD_SH_XS_GET_PERMS, t, path, NULL);
	if (r < 0)
		return r;
	n = c->rhdr.a;
	if (n == 0 || n > VD_SIM_XS_PERMS_MAX || c->rlen != n * sizeof(*p))
		return -EPROTO;
	p = malloc(c->rlen);
	if (!p)
		return -ENOMEM;
	memcpy(p, payload_of(c), c->rlen);
	*ret_perms = p;
	*ret_n = (unsigned)n;
	return 0;
}

static int sh_xs_txn_start(struct vd_hv *hv, vd_xs_txn *ret_t)
{
	struct sh_conn *c = conn_of(hv);
	struct vd_sh_hdr h = {.op = VD_SH_XS_TXN_START};
	int r = call(c, &h, NULL, 0);

	if (r < 0)
		return r;
	*ret_t = (vd_xs_txn)c->rhdr.a;
	return 0;
}

static int sh_xs_txn_end(struct vd_hv *hv, vd_xs_txn t, bool abort)
{
	struct vd_sh_hdr h = {.op = VD_SH_XS_TXN_END, .a = t, .b = abort};

	return call(conn_of(hv), &h, NULL, 0);
}

static int sh_xs_watch(struct vd_hv *hv, const char *path, const char *token)
{
	return call_str(conn_of(hv), VD_SH_XS_WATCH, 0, path, token);
}

static int sh_xs_unwatch(struct vd_hv *hv, const char *path, const char *token)
{
	return call_str(conn_of(hv), VD_SH_XS_UNWATCH, 0, path, token);
}

static int sh_xs_watch_fd(struct vd_hv *hv)
{
	return conn_of(hv)->watch_sock;
}

static int watch_event_parse(const uint8_t *p, size_t len, char **ret_path, char **ret_token)
{
	const char *path = (const char *)p, *z = memchr(p, '\0', len);
	char *a, *b;

	if (!z || !memchr(z + 1, '\0', len - (size_t)(z + 1 - path)))
		return -EPROTO;
	a = strdup(path);
	b = strdup(z + 1);
	if (!a || !b) {
		free(a);
		free(b);
		return -ENOMEM;
	}
	*ret_path = a;
	*ret_token = b;
	return 0;
}

static int sh_xs_read_watch(struct vd_hv *hv, char **ret_path, char **ret_token)
{
	struct sh_conn *c = conn_of(hv);
	uint8_t buf[sizeof(struct vd_sh_hdr) + 2 * VD_SIM_XS_PATH_MAX + 2];
	unsigned nfds;
	int fds[1];
	long n;

	if (c->dead)
		return -EPIPE;
	n = vd_sh_recv(c->watch_sock, buf, sizeof(buf), fds, 0, &nfds, MSG_DONTWAIT);
	if (n == -EAGAIN)
		return -EAGAIN;
	if (n <= 0) {
		conn_fail(c, n == 0 ? -ECONNRESET : (int)n);
		return -EPIPE;
	}
	return watch_event_parse(buf + sizeof(struct vd_sh_hdr),
				 (size_t)n - sizeof(struct vd_sh_hdr), ret_path, ret_token);
}

/* ---- event channels ---- */

static struct sh_evtchn *evtchn_of(struct vd_evtchn *ch)
{
	return (struct sh_evtchn *)(void *)ch;
}

static int sh_evtchn_bind(struct vd_hv *hv, uint32_t domid, uint32_t remote_port,
			  struct vd_evtchn **ret_ch)
{
	struct sh_conn *c = conn_of(hv);
	struct vd_sh_hdr h = {.op = VD_SH_EVTCHN_BIND, .a = domid, .b = remote_port};
	struct sh_evtchn *e = calloc(1, sizeof(*e));
	unsigned nfds = 0;
	int fds[1], r;

	if (!e)
		return -ENOMEM;
	r = call_fds(c, &h, NULL, 0, NULL, 0, fds, 1, &nfds);
	if (r >= 0 && nfds != 1) {
		vd_sh_close_fds(fds, nfds);
		conn_fail(c, -EPROTO);
		r = -EPIPE;
	}
	if (r < 0) {
		free(e);
		return r;
	}
	e->c = c;
	e->id = c->rhdr.a;
	e->efd = fds[0];
	*ret_ch = (struct vd_evtchn *)(void *)e;
	return 0;
}

static void sh_evtchn_unbind(struct vd_hv *hv, struct vd_evtchn *ch)
{
	struct sh_evtchn *e = evtchn_of(ch);
	struct vd_sh_hdr h = {.op = VD_SH_EVTCHN_UNBIND};

	if (!e)
		return;
	h.a = e->id;
	call(e->c, &h, NULL, 0);
	close(e->efd);
	free(e);
}

static int sh_evtchn_fd(struct vd_evtchn *ch)
{
	return evtchn_of(ch)->efd;
}

static int sh_evtchn_ack(struct vd_evtchn *ch)
{
	uint64_t v;

	if (read(evtchn_of(ch)->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

static int sh_evtchn_notify(struct vd_evtchn *ch)
{
	struct sh_evtchn *e = evtchn_of(ch);
	struct vd_sh_hdr h = {.op = VD_SH_EVTCHN_NOTIFY, .a = e->id};

	return call(e->c, &h, NULL, 0);
}

/* ---- grants ---- */

static struct sh_gnt *gnt_of(struct vd_gnt *gnt)
{
	return (struct sh_gnt *)(void *)gnt;
}

static int sh_gnt_open(struct vd_hv *hv, struct vd_gnt **ret_gnt)
{
	struct sh_conn *c = conn_of(hv);
	struct vd_sh_hdr h = {.op = VD_SH_GNT_OPEN};
	struct sh_gnt *g = calloc(1, sizeof(*g));
	int r;

	if (!g)
		return -ENOMEM;
	r = call(c, &h, NULL, 0);
	if (r < 0) {
		free(g);
		return r;
	}
	g->c = c;
	g->id = c->rhdr.a;
	*ret_gnt = (struct vd_gnt *)(void *)g;
	return 0;
}

/* As closing gntdev: what is still mapped goes with the handle. */
static void sh_gnt_close(struct vd_gnt *gnt)
{
	struct sh_gnt *g = gnt_of(gnt);
	struct vd_sh_hdr h = {.op = VD_SH_GNT_CLOSE};

	if (!g)
		return;
	while (g->maps) {
		struct sh_map *m = g->maps;

		g->maps = m->next;
		munmap(m->addr, (size_t)m->count * VD_SIM_PAGE_SIZE);
		free(m);
	}
	h.a = g->id;
	call(g->c, &h, NULL, 0);
	free(g);
}

/* Map the pages the response describes: pfns[count], then fd indexes. */
static int map_response(struct sh_conn *c, uint32_t count, const int *files, unsigned nfiles,
			bool writable, void **ret_addr)
{
	const uint8_t *p = payload_of(c);
	uint32_t *pfns = malloc(count * sizeof(*pfns));
	int *fds = malloc(count * sizeof(*fds));
	int r = pfns && fds ? 0 : -ENOMEM;

	if (r == 0 && c->rlen != (size_t)count * 5)
		r = -EPROTO;
	for (uint32_t i = 0; r == 0 && i < count; i++) {
		uint8_t idx = p[(size_t)count * 4 + i];

		memcpy(&pfns[i], p + (size_t)i * 4, 4);
		if (idx >= nfiles)
			r = -EPROTO;
		else
			fds[i] = files[idx];
	}
	if (r == 0)
		r = vd_sim_map_frames(-1, fds, pfns, count,
				      writable ? PROT_READ | PROT_WRITE : PROT_READ, ret_addr);
	free(fds);
	free(pfns);
	return r;
}

static int map_record(struct sh_gnt *g, void *addr, uint32_t count, uint64_t key)
{
	struct sh_map *m = malloc(sizeof(*m));

	if (!m)
		return -ENOMEM;
	*m = (struct sh_map){.next = g->maps, .addr = addr, .count = count, .key = key};
	g->maps = m;
	return 0;
}

static int sh_gnt_unmap_key(struct sh_gnt *g, uint64_t key, uint32_t count)
{
	struct vd_sh_hdr h = {.op = VD_SH_GNT_UNMAP, .a = g->id, .b = key, .c = count};

	return call(g->c, &h, NULL, 0);
}

static int sh_gnt_map(struct vd_gnt *gnt, uint32_t domid, uint32_t count, const uint32_t *refs,
		      bool writable, void **ret_addr)
{
	struct sh_gnt *g = gnt_of(gnt);
	struct vd_sh_hdr h = {
	    .op = VD_SH_GNT_MAP, .a = g->id, .b = domid, .c = count, .d = writable};
	int files[VD_SH_MAP_FDS_MAX];
	unsigned nfiles = 0;
	uint64_t key;
	void *addr;
	int r;

	if (count == 0 || !refs)
		return -EINVAL;
	if (count > VD_SH_MAP_MAX)
		return -E2BIG;
	r = call_fds(g->c, &h, refs, count * sizeof(*refs), NULL, 0, files, VD_SH_MAP_FDS_MAX,
		     &nfiles);
	if (r < 0)
		return r;
	key = g->c->rhdr.a;
	r = map_response(g->c, count, files, nfiles, writable, &addr);
	vd_sh_close_fds(files, nfiles);
	if (r >= 0) {
		r = map_record(g, addr, count, key);
		if (r < 0)
			munmap(addr, (size_t)count * VD_SIM_PAGE_SIZE);
	}
	if (r < 0) {
		sh_gnt_unmap_key(g, key, count);
		return r;
	}
	*ret_addr = addr;
	return 0;
}

static int sh_gnt_unmap(struct vd_gnt *gnt, void *addr, uint32_t count)
{
	struct sh_gnt *g = gnt_of(gnt);

	for (struct sh_map **pm = &g->maps; *pm; pm = &(*pm)->next) {
		struct sh_map *m = *pm;
		uint64_t key = m->key;

		if (m->addr != addr || m->count != count)
			continue;
		*pm = m->next;
		munmap(m->addr, (size_t)m->count * VD_SIM_PAGE_SIZE);
		free(m);
		sh_gnt_unmap_key(g, key, count);
		return 0;
	}
	return -EINVAL;
}

/* ---- gntdev dma-buf ---- */

/*
 * The exported dma-buf is looked up by fd number, the client's number: the
 * simhost is told it right after the export (EXP_REKEY), so the lookup
 * (and its pitfall after close) is the one the in-process sim has.
 */
static int sh_dmabuf_exp_from_refs(struct vd_gnt *gnt, uint32_t domid, uint32_t count,
				   const uint32_t *refs, int *ret_fd)
{
	struct sh_gnt *g = gnt_of(gnt);
	struct vd_sh_hdr h = {.op = VD_SH_EXP_FROM_REFS, .a = g->id, .b = domid, .c = count};
	unsigned nfds = 0;
	int fds[1], r;

	if (count == 0 || !refs)
		return -EINVAL;
	if (count > VD_SH_MAP_MAX)
		return -E2BIG;
	r = call_fds(g->c, &h, refs, count * sizeof(*refs), NULL, 0, fds, 1, &nfds);
	if (r >= 0 && nfds != 1) {
		vd_sh_close_fds(fds, nfds);
		conn_fail(g->c, -EPROTO);
		return -EPIPE;
	}
	if (r < 0)
		return r;
	h = (struct vd_sh_hdr){
	    .op = VD_SH_EXP_REKEY, .a = g->id, .b = g->c->rhdr.a, .c = (uint64_t)fds[0]};
	r = call(g->c, &h, NULL, 0);
	if (r < 0) {
		close(fds[0]);
		return r;
	}
	*ret_fd = fds[0];
	return 0;
}

static int sh_dmabuf_exp_wait_released(struct vd_gnt *gnt, int fd, uint32_t timeout_ms)
{
	struct sh_gnt *g = gnt_of(gnt);
	struct vd_sh_hdr h = {.op = VD_SH_EXP_WAIT, .a = g->id, .b = (uint64_t)fd, .c = timeout_ms};

	if (fd < 0)
		return -EBADF;
	return call(g->c, &h, NULL, 0);
}

static int sh_dmabuf_imp_to_refs(struct vd_gnt *gnt, uint32_t domid, int fd, uint32_t count,
				 uint32_t *refs)
{
	struct sh_gnt *g = gnt_of(gnt);
	struct vd_sh_hdr h = {
	    .op = VD_SH_IMP_TO_REFS, .a = g->id, .b = domid, .c = (uint64_t)fd, .d = count};
	int r;

	if (fd < 0)
		return -EBADF;
	if (count == 0 || !refs)
		return -EINVAL;
	if (count > VD_SH_MAP_MAX)
		return -E2BIG;
	r = call_fds(g->c, &h, NULL, 0, &fd, 1, NULL, 0, NULL);
	if (r < 0)
		return r;
	if (g->c->rlen != count * sizeof(*refs)) {
		conn_fail(g->c, -EPROTO);
		return -EPIPE;
	}
	memcpy(refs, payload_of(g->c), count * sizeof(*refs));
	return 0;
}

static int sh_dmabuf_imp_release(struct vd_gnt *gnt, int fd)
{
	struct sh_gnt *g = gnt_of(gnt);
	struct vd_sh_hdr h = {.op = VD_SH_IMP_RELEASE, .a = g->id, .b = (uint64_t)fd};

	if (fd < 0)
		return -EBADF;
	return call(g->c, &h, NULL, 0);
}

static const struct vd_hv_impl simhost_impl = {
    .name = "simhost",
    .destroy = sh_destroy,
    .own_domid = sh_own_domid,
    .domain_alive = sh_domain_alive,
    .xs_read = sh_xs_read,
    .xs_write = sh_xs_write,
    .xs_rm = sh_xs_rm,
    .xs_directory = sh_xs_directory,
    .xs_get_perms = sh_xs_get_perms,
    .xs_txn_start = sh_xs_txn_start,
    .xs_txn_end = sh_xs_txn_end,
    .xs_watch = sh_xs_watch,
    .xs_unwatch = sh_xs_unwatch,
    .xs_watch_fd = sh_xs_watch_fd,
    .xs_read_watch = sh_xs_read_watch,
    .evtchn_bind = sh_evtchn_bind,
    .evtchn_unbind = sh_evtchn_unbind,
    .evtchn_fd = sh_evtchn_fd,
    .evtchn_ack = sh_evtchn_ack,
    .evtchn_notify = sh_evtchn_notify,
    .gnt_open = sh_gnt_open,
    .gnt_close = sh_gnt_close,
    .gnt_map = sh_gnt_map,
    .gnt_unmap = sh_gnt_unmap,
    .dmabuf_exp_from_refs = sh_dmabuf_exp_from_refs,
    .dmabuf_exp_wait_released = sh_dmabuf_exp_wait_released,
    .dmabuf_imp_to_refs = sh_dmabuf_imp_to_refs,
    .dmabuf_imp_release = sh_dmabuf_imp_release,
};

static int sock_connect(const char *path, int *ret_fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = REPLY_TIMEOUT_S};
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

static int hello(struct sh_conn *c)
{
	struct vd_sh_hdr h = {.op = VD_SH_HELLO};
	unsigned nfds = 0;
	int fds[1], r;

	r = call_fds(c, &h, NULL, 0, NULL, 0, fds, 1, &nfds);
	if (r >= 0 && nfds != 1) {
		vd_sh_close_fds(fds, nfds);
		r = -EPROTO;
	}
	if (r < 0)
		return r;
	c->domid = (uint32_t)c->rhdr.a;
	c->watch_sock = fds[0];
	return 0;
}

int vd_hv_simhost_create(struct vd_hv **ret_hv)
{
	struct sh_conn *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->base.impl = &simhost_impl;
	c->watch_sock = -1;
	c->buf = malloc(VD_SH_MSG_MAX);
	r = c->buf ? sock_connect(vd_hv_simhost_socket(), &c->sock) : -ENOMEM;
	if (r < 0) {
		free(c->buf);
		free(c);
		return r;
	}
	r = hello(c);
	if (r < 0) {
		sh_destroy(&c->base);
		return r == -EPIPE ? -ECONNREFUSED : r;
	}
	*ret_hv = &c->base;
	return 0;
}
