/* SPDX-License-Identifier: MIT */
/*
 * The "simhost" hypervisor against a vdispl-simhost server in a child
 * process: every op of the interface across the socket (xenstore with
 * transactions and watches, event channels both ways, grant maps sharing
 * the guest's memory, dma-buf export with its release and fd-number
 * semantics, import granted to a guest), what the server releases when a
 * client goes, and a client that survives a server that dies or talks
 * nonsense.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hv/sim/sim.h"
#include "hv/simhost/simhost.h"
#include "hv/simhost/simhost_wire.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096u
#define NPAGES 4u

/* ---- the server child ---- */

struct server {
	sd_event *loop;
	struct vd_hv *dom0, *guest_hv;
	struct vd_sim *sim;
	struct vd_gnt *guest_gnt;
	struct vd_evtchn *guest_ch;
	uint32_t domid;
};

/* The guest answers every notification with one. */
static int on_guest_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct server *sv = userdata;

	vd_sim_evtchn_ack(sv->guest_ch);
	vd_sim_evtchn_notify(sv->guest_ch);
	return 0;
}

/*
 * /test/imported = "r0 r1": the guest maps those refs of Domain-0 and
 * writes the first byte of each page to /test/import-seen.
 */
static int on_guest_watch(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct server *sv = userdata;
	const struct vd_hv_impl *o = sv->guest_hv->impl;
	char *path, *token, *v, seen[32];
	uint32_t refs[2];
	uint8_t *p;

	while (o->xs_read_watch(sv->guest_hv, &path, &token) >= 0) {
		free(path);
		free(token);
		if (o->xs_read(sv->guest_hv, VD_XS_NO_TXN, "/test/imported", &v, NULL) < 0)
			continue;
		if (sscanf(v, "%u %u", &refs[0], &refs[1]) == 2 &&
		    o->gnt_map(sv->guest_gnt, 0, 2, refs, true, (void **)&p) == 0) {
			snprintf(seen, sizeof(seen), "%u %u", p[0], p[PAGE]);
			o->gnt_unmap(sv->guest_gnt, p, 2);
			o->xs_write(sv->guest_hv, VD_XS_NO_TXN, "/test/import-seen", seen);
		}
		free(v);
	}
	return 0;
}

static const struct vd_xs_perm open_perm = {0, VD_XS_PERM_READ | VD_XS_PERM_WRITE};

/* A guest with NPAGES pages granted to Domain-0 (page i filled with i + 1). */
static int server_guest(struct server *sv)
{
	uint32_t pfns[NPAGES], port;
	char refs[128] = "", buf[32];
	uint8_t *mem;

	if (vd_sim_domain_create(sv->sim, "guest", &sv->domid) < 0 ||
	    vd_sim_mem_alloc(sv->sim, sv->domid, NPAGES, (void **)&mem, pfns) < 0)
		return -1;
	for (uint32_t i = 0; i < NPAGES; i++) {
		uint32_t ref;

		memset(mem + i * PAGE, (int)(i + 1), PAGE);
		if (vd_sim_grant(sv->sim, sv->domid, 0, pfns[i], false, &ref) < 0)
			return -1;
		snprintf(buf, sizeof(buf), "%s%u", i ? " " : "", ref);
		strcat(refs, buf);
	}
	if (vd_sim_evtchn_alloc_unbound(sv->sim, sv->domid, 0, &port, &sv->guest_ch) < 0)
		return -1;
	snprintf(buf, sizeof(buf), "%u", port);
	/* /test is open to every domain: the guest reads and writes there. */
	return sv->dom0->impl->xs_write(sv->dom0, 0, "/test/refs", refs) < 0 ||
		       sv->dom0->impl->xs_write(sv->dom0, 0, "/test/port", buf) < 0 ||
		       vd_sim_xs_set_perms(sv->dom0, 0, "/test", &open_perm, 1) < 0
		   ? -1
		   : 0;
}

static int server_sources(struct server *sv)
{
	const struct vd_hv_impl *o;

	if (vd_sim_connect_as(sv->sim, sv->domid, &sv->guest_hv) < 0)
		return -1;
	o = sv->guest_hv->impl;
	if (o->gnt_open(sv->guest_hv, &sv->guest_gnt) < 0 ||
	    o->xs_watch(sv->guest_hv, "/test/imported", "imp") < 0)
		return -1;
	if (sd_event_add_io(sv->loop, NULL, vd_sim_evtchn_fd(sv->guest_ch), EPOLLIN, on_guest_event,
			    sv) < 0 ||
	    sd_event_add_io(sv->loop, NULL, o->xs_watch_fd(sv->guest_hv), EPOLLIN, on_guest_watch,
			    sv) < 0)
		return -1;
	return 0;
}

static void server_main(const char *path, int ready)
{
	struct server sv = {0};
	struct vd_simhost_server *srv;
	sigset_t ss;

	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	if (sd_event_new(&sv.loop) < 0 || vd_hv_create("sim", &sv.dom0) < 0)
		_exit(1);
	sv.sim = vd_sim_from_hv(sv.dom0);
	if (server_guest(&sv) < 0 || server_sources(&sv) < 0 ||
	    sd_event_add_signal(sv.loop, NULL, SIGTERM, NULL, NULL) < 0 ||
	    vd_simhost_server_create(sv.loop, sv.sim, path, NULL, NULL, &srv) < 0)
		_exit(1);
	if (write(ready, "r", 1) != 1)
		_exit(1);
	sd_event_loop(sv.loop);
	_exit(0);
}

/* ---- fixture ---- */

struct fixture {
	char dir[64], path[96];
	pid_t server;
	struct vd_hv *hv;
	const struct vd_hv_impl *ops;
	uint32_t domid, refs[NPAGES], port;
};

static pid_t spawn(void (*fn)(const char *, int), const char *path)
{
	int p[2];
	char c;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		fn(path, p[1]);
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

static void reap(pid_t pid)
{
	int status;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

static uint32_t read_u32(struct fixture *f, const char *path)
{
	uint32_t v = 0;

	assert_int_equal(vd_xs_read_u32(f->hv, VD_XS_NO_TXN, path, &v), 0);
	return v;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char *refs;

	assert_non_null(f);
	strcpy(f->dir, "/tmp/vd-simhost-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/sock", f->dir);
	f->server = spawn(server_main, f->path);
	assert_int_equal(vd_hv_simhost_set_socket(f->path), 0);
	assert_int_equal(vd_hv_create("simhost", &f->hv), 0);
	f->ops = f->hv->impl;
	f->domid = 1;
	assert_int_equal(f->ops->xs_read(f->hv, VD_XS_NO_TXN, "/test/refs", &refs, NULL), 0);
	assert_int_equal(
	    sscanf(refs, "%u %u %u %u", &f->refs[0], &f->refs[1], &f->refs[2], &f->refs[3]), 4);
	free(refs);
	f->port = read_u32(f, "/test/port");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vd_hv_destroy(f->hv);
	reap(f->server);
	unlink(f->path);
	rmdir(f->dir);
	vd_hv_simhost_set_socket(NULL);
	free(f);
	return 0;
}

static bool readable(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, timeout_ms) == 1;
}

/* The next watch event, within 2 s. */
static void expect_watch(struct fixture *f, const char *path, const char *token)
{
	char *p, *t;

	assert_true(readable(f->ops->xs_watch_fd(f->hv), 2000));
	assert_int_equal(f->ops->xs_read_watch(f->hv, &p, &t), 0);
	assert_string_equal(p, path);
	assert_string_equal(t, token);
	free(p);
	free(t);
}

/* ---- tests ---- */

/* GET_PERMS over the wire: the guest's home is Domain-0's, read-only for the guest. */
static void expect_guest_home_perms(struct fixture *f)
{
	struct vd_xs_perm *p;
	char path[64];
	unsigned n;

	snprintf(path, sizeof(path), "/local/domain/%u/name", f->domid);
	assert_int_equal(f->ops->xs_get_perms(f->hv, VD_XS_NO_TXN, path, &p, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(p[0].domid, 0);
	assert_int_equal(p[0].perms, VD_XS_PERM_NONE);
	assert_int_equal(p[1].domid, f->domid);
	assert_int_equal(p[1].perms, VD_XS_PERM_READ);
	free(p);
	assert_int_equal(f->ops->xs_get_perms(f->hv, VD_XS_NO_TXN, "/x/none", &p, &n), -ENOENT);
}

static void test_xenstore(void **state)
{
	struct fixture *f = *state;
	char **list, *v;
	unsigned n;
	size_t len;
	vd_xs_txn t;

	assert_int_equal(f->ops->own_domid(f->hv), 0);
	assert_int_equal(f->ops->domain_alive(f->hv, f->domid), 1);
	assert_int_equal(f->ops->domain_alive(f->hv, 77), 0);
	assert_int_equal(f->ops->xs_write(f->hv, VD_XS_NO_TXN, "/x/a", "hello"), 0);
	assert_int_equal(f->ops->xs_write(f->hv, VD_XS_NO_TXN, "/x/b", ""), 0);
	assert_int_equal(f->ops->xs_read(f->hv, VD_XS_NO_TXN, "/x/a", &v, &len), 0);
	assert_string_equal(v, "hello");
	assert_int_equal(len, 5);
	free(v);
	assert_int_equal(f->ops->xs_read(f->hv, VD_XS_NO_TXN, "/x/none", &v, &len), -ENOENT);
	assert_int_equal(f->ops->xs_directory(f->hv, VD_XS_NO_TXN, "/x", &list, &n), 0);
	assert_int_equal(n, 2);
	assert_true((!strcmp(list[0], "a") && !strcmp(list[1], "b")) ||
		    (!strcmp(list[0], "b") && !strcmp(list[1], "a")));
	vd_hv_free_list(list, n);
	assert_int_equal(f->ops->xs_txn_start(f->hv, &t), 0);
	assert_int_equal(f->ops->xs_write(f->hv, t, "/x/c", "in-txn"), 0);
	assert_int_equal(f->ops->xs_read(f->hv, VD_XS_NO_TXN, "/x/c", &v, &len), -ENOENT);
	assert_int_equal(f->ops->xs_txn_end(f->hv, t, false), 0);
	assert_int_equal(f->ops->xs_read(f->hv, VD_XS_NO_TXN, "/x/c", &v, &len), 0);
	free(v);
	assert_int_equal(f->ops->xs_rm(f->hv, VD_XS_NO_TXN, "/x"), 0);
	assert_int_equal(f->ops->xs_read(f->hv, VD_XS_NO_TXN, "/x/a", &v, &len), -ENOENT);
	expect_guest_home_perms(f);
}

static void test_watch(void **state)
{
	struct fixture *f = *state;
	char *p, *t;
	int fd = f->ops->xs_watch_fd(f->hv);

	assert_false(readable(fd, 0));
	assert_int_equal(f->ops->xs_watch(f->hv, "/w", "tok"), 0);
	expect_watch(f, "/w", "tok"); /* fires once when registered */
	assert_int_equal(f->ops->xs_read_watch(f->hv, &p, &t), -EAGAIN);
	assert_int_equal(f->ops->xs_write(f->hv, VD_XS_NO_TXN, "/w/deep", "1"), 0);
	expect_watch(f, "/w/deep", "tok");
	assert_int_equal(f->ops->xs_unwatch(f->hv, "/w", "tok"), 0);
	assert_int_equal(f->ops->xs_write(f->hv, VD_XS_NO_TXN, "/w/deep", "2"), 0);
	assert_false(readable(fd, 100));
	assert_int_equal(f->ops->xs_unwatch(f->hv, "/w", "tok"), -ENOENT);
}

static void test_evtchn(void **state)
{
	struct fixture *f = *state;
	struct vd_evtchn *ch;

	assert_int_equal(f->ops->evtchn_bind(f->hv, f->domid, f->port + 100, &ch), -EINVAL);
	assert_int_equal(f->ops->evtchn_bind(f->hv, f->domid, f->port, &ch), 0);
	assert_false(readable(f->ops->evtchn_fd(ch), 0));
	assert_int_equal(f->ops->evtchn_notify(ch), 0);
	assert_true(readable(f->ops->evtchn_fd(ch), 2000)); /* the guest's answer */
	assert_int_equal(f->ops->evtchn_ack(ch), 0);
	assert_false(readable(f->ops->evtchn_fd(ch), 0));
	/* Bound once only, as in Xen. */
	{
		struct vd_evtchn *again;

		assert_int_equal(f->ops->evtchn_bind(f->hv, f->domid, f->port, &again), -EINVAL);
	}
	f->ops->evtchn_unbind(f->hv, ch);
}

static void test_gnt_map(void **state)
{
	struct fixture *f = *state;
	struct vd_gnt *g;
	uint8_t *p, *q;
	uint32_t bad[2] = {f->refs[0], 999999};

	assert_int_equal(f->ops->gnt_open(f->hv, &g), 0);
	assert_int_equal(f->ops->gnt_map(g, f->domid, NPAGES, f->refs, true, (void **)&p), 0);
	for (uint32_t i = 0; i < NPAGES; i++)
		assert_int_equal(p[i * PAGE + 7], i + 1);
	/* One memory: a second mapping sees the first one's writes. */
	assert_int_equal(f->ops->gnt_map(g, f->domid, 1, &f->refs[2], false, (void **)&q), 0);
	p[2 * PAGE] = 0xab;
	assert_int_equal(q[0], 0xab);
	assert_int_equal(f->ops->gnt_unmap(g, q, 1), 0);
	assert_int_equal(f->ops->gnt_unmap(g, q, 1), -EINVAL);
	assert_int_equal(f->ops->gnt_map(g, f->domid, 2, bad, false, (void **)&q), -EINVAL);
	assert_int_equal(f->ops->gnt_map(g, 77, 1, f->refs, false, (void **)&q), -ESRCH);
	assert_int_equal(f->ops->gnt_unmap(g, p, NPAGES), 0);
	/* Closing a handle unmaps what it still maps. */
	assert_int_equal(f->ops->gnt_map(g, f->domid, 1, f->refs, false, (void **)&q), 0);
	f->ops->gnt_close(g);
}

static void test_dmabuf_export(void **state)
{
	struct fixture *f = *state;
	struct vd_gnt *g;
	int a, b, dup_a;

	assert_int_equal(f->ops->gnt_open(f->hv, &g), 0);
	assert_int_equal(f->ops->dmabuf_exp_from_refs(g, f->domid, 2, f->refs, &a), 0);
	assert_int_equal(f->ops->dmabuf_exp_wait_released(g, a, 0), -ETIMEDOUT);
	/* Released once every copy is closed. */
	dup_a = dup(a);
	close(a);
	assert_int_equal(f->ops->dmabuf_exp_wait_released(g, a, 0), -ETIMEDOUT);
	close(dup_a);
	assert_int_equal(f->ops->dmabuf_exp_wait_released(g, a, 50), 0);
	/* The lookup is by this process's fd number: a newer export with the
	 * same number hides a released one (the real list lookup's pitfall). */
	assert_int_equal(f->ops->dmabuf_exp_from_refs(g, f->domid, 1, f->refs, &a), 0);
	close(a);
	assert_int_equal(f->ops->dmabuf_exp_from_refs(g, f->domid, 1, &f->refs[1], &b), 0);
	assert_int_equal(b, a);
	assert_int_equal(f->ops->dmabuf_exp_wait_released(g, a, 0), -ETIMEDOUT);
	close(b);
	assert_int_equal(f->ops->dmabuf_exp_wait_released(g, b, 50), 0);
	f->ops->gnt_close(g);
}

static void test_dmabuf_import(void **state)
{
	struct fixture *f = *state;
	struct vd_gnt *g;
	uint32_t refs[2];
	char buf[32], *v;
	uint8_t *mem;
	int fd = memfd_create("imp", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2 * PAGE), 0);
	mem = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(mem != MAP_FAILED);
	mem[0] = 42;
	mem[PAGE] = 43;
	assert_int_equal(f->ops->gnt_open(f->hv, &g), 0);
	assert_int_equal(f->ops->dmabuf_imp_to_refs(g, f->domid, fd, 3, refs), -EINVAL);
	assert_int_equal(f->ops->dmabuf_imp_to_refs(g, f->domid, fd, 2, refs), 0);
	/* The guest maps the refs and sees this process's memory. */
	assert_int_equal(f->ops->xs_watch(f->hv, "/test/import-seen", "seen"), 0);
	expect_watch(f, "/test/import-seen", "seen");
	snprintf(buf, sizeof(buf), "%u %u", refs[0], refs[1]);
	assert_int_equal(f->ops->xs_write(f->hv, VD_XS_NO_TXN, "/test/imported", buf), 0);
	expect_watch(f, "/test/import-seen", "seen");
	assert_int_equal(f->ops->xs_read(f->hv, VD_XS_NO_TXN, "/test/import-seen", &v, NULL), 0);
	assert_string_equal(v, "42 43");
	free(v);
	assert_int_equal(f->ops->dmabuf_imp_release(g, fd), 0);
	assert_int_equal(f->ops->dmabuf_imp_release(g, fd), -ENOENT);
	f->ops->gnt_close(g);
	munmap(mem, 2 * PAGE);
	close(fd);
}

/* A client process that binds the guest's port and maps its pages, then dies. */
static void die_holding(struct fixture *f)
{
	struct vd_hv *hv;
	struct vd_evtchn *ch;
	struct vd_gnt *g;
	void *p;

	if (vd_hv_create("simhost", &hv) < 0 ||
	    hv->impl->evtchn_bind(hv, f->domid, f->port, &ch) < 0 ||
	    hv->impl->gnt_open(hv, &g) < 0 ||
	    hv->impl->gnt_map(g, f->domid, 1, f->refs, false, &p) < 0)
		_exit(1);
	_exit(0);
}

/* What a dead client held goes: its port is unbound again, a new client binds it. */
static void test_client_death_releases(void **state)
{
	struct fixture *f = *state;
	struct vd_evtchn *ch;
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		die_holding(f);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The server may take the EOF after our request: retry for up to 1 s. */
	for (int i = 0; i < 100; i++) {
		if (f->ops->evtchn_bind(f->hv, f->domid, f->port, &ch) == 0)
			break;
		ch = NULL;
		usleep(10000);
	}
	assert_non_null(ch);
	f->ops->evtchn_unbind(f->hv, ch);
}

/* The server dies: every op fails, nothing crashes, the watch fd goes quiet. */
static void test_server_dies(void **state)
{
	struct fixture *f = *state;
	struct vd_evtchn *ch;
	struct vd_gnt *g;
	char *p, *t;
	int wfd = f->ops->xs_watch_fd(f->hv);

	assert_int_equal(f->ops->evtchn_bind(f->hv, f->domid, f->port, &ch), 0);
	assert_int_equal(f->ops->gnt_open(f->hv, &g), 0);
	reap(f->server);
	f->server = 0;
	assert_int_equal(f->ops->xs_write(f->hv, VD_XS_NO_TXN, "/a", "b"), -EPIPE);
	assert_int_equal(f->ops->evtchn_notify(ch), -EPIPE);
	assert_int_equal(f->ops->xs_read_watch(f->hv, &p, &t), -EPIPE);
	assert_false(readable(wfd, 50));
	f->ops->evtchn_unbind(f->hv, ch);
	f->ops->gnt_close(g);
}

static void test_no_server(void **state)
{
	struct vd_hv *hv;

	assert_int_equal(vd_hv_simhost_set_socket("/nonexistent/vd-simhost.sock"), 0);
	assert_int_equal(vd_hv_create("simhost", &hv), -ENOENT);
	assert_int_equal(vd_hv_simhost_set_socket(NULL), 0);
}

/* A server that answers HELLO with nonsense. */
static void garbage_main(const char *path, int ready)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct vd_sh_hdr h = {.op = 999, .ret = 5};
	int l = socket(AF_UNIX, SOCK_SEQPACKET, 0), c;
	char buf[64];

	strcpy(sa.sun_path, path);
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0 ||
	    write(ready, "r", 1) != 1)
		_exit(1);
	c = accept(l, NULL, NULL);
	if (c >= 0 && recv(c, buf, sizeof(buf), 0) > 0)
		send(c, &h, sizeof(h), 0);
	c = accept(l, NULL, NULL);
	if (c >= 0 && recv(c, buf, sizeof(buf), 0) > 0)
		send(c, "xy", 2, 0);
	pause();
	_exit(0);
}

static void test_garbage_server(void **state)
{
	char dir[] = "/tmp/vd-simhost-XXXXXX", path[64];
	struct vd_hv *hv;
	pid_t pid;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	pid = spawn(garbage_main, path);
	assert_int_equal(vd_hv_simhost_set_socket(path), 0);
	assert_true(vd_hv_create("simhost", &hv) < 0);
	assert_true(vd_hv_create("simhost", &hv) < 0);
	reap(pid);
	unlink(path);
	rmdir(dir);
	vd_hv_simhost_set_socket(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_xenstore, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_evtchn, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gnt_map, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dmabuf_export, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dmabuf_import, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_client_death_releases, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_server_dies, setup, teardown),
	    cmocka_unit_test(test_no_server),
	    cmocka_unit_test(test_garbage_server),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
