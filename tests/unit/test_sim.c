/* SPDX-License-Identifier: MIT */
/* The simulated Xen: xenstore, watches, transactions, grants, event channels. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hv/sim/sim.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096u

struct fixture {
	struct vd_hv *hv; /* Domain-0 */
	struct vd_sim *sim;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(vd_hv_create("sim", &f->hv), 0);
	f->sim = vd_sim_from_hv(f->hv);
	assert_non_null(f->sim);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vd_hv_destroy(f->hv);
	free(f);
	return 0;
}

static bool readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	assert_true(poll(&p, 1, 0) >= 0);
	return p.revents & POLLIN;
}

static void expect_node(struct vd_hv *hv, const char *path, const char *value)
{
	char *v;
	size_t len;

	assert_int_equal(hv->impl->xs_read(hv, VD_XS_NO_TXN, path, &v, &len), 0);
	assert_string_equal(v, value);
	assert_int_equal(len, strlen(value));
	free(v);
}

static void expect_absent(struct vd_hv *hv, vd_xs_txn t, const char *path)
{
	char *v = NULL;
	size_t len;

	assert_int_equal(hv->impl->xs_read(hv, t, path, &v, &len), -ENOENT);
	assert_null(v);
}

static void xs_write(struct vd_hv *hv, vd_xs_txn t, const char *path, const char *value)
{
	assert_int_equal(hv->impl->xs_write(hv, t, path, value), 0);
}

static void expect_event(struct vd_hv *hv, const char *path, const char *token)
{
	char *p, *t;

	assert_true(readable(hv->impl->xs_watch_fd(hv)));
	assert_int_equal(hv->impl->xs_read_watch(hv, &p, &t), 0);
	assert_string_equal(p, path);
	assert_string_equal(t, token);
	free(p);
	free(t);
}

static void expect_no_event(struct vd_hv *hv)
{
	char *p = NULL, *t = NULL;

	assert_false(readable(hv->impl->xs_watch_fd(hv)));
	assert_int_equal(hv->impl->xs_read_watch(hv, &p, &t), -EAGAIN);
	assert_null(p);
}

static void expect_dir(struct vd_hv *hv, const char *path, unsigned n, const char *const *names)
{
	char **list;
	unsigned got;

	assert_int_equal(hv->impl->xs_directory(hv, VD_XS_NO_TXN, path, &list, &got), 0);
	assert_int_equal(got, n);
	for (unsigned i = 0; i < n; i++) {
		bool found = false;

		for (unsigned j = 0; j < got; j++)
			found |= strcmp(list[j], names[i]) == 0;
		assert_true(found);
	}
	vd_hv_free_list(list, got);
}

static uint32_t new_domain(struct fixture *f, const char *name)
{
	uint32_t domid;

	assert_int_equal(vd_sim_domain_create(f->sim, name, &domid), 0);
	return domid;
}

static struct vd_sim_stats stats(struct fixture *f, uint32_t domid)
{
	struct vd_sim_stats s;

	assert_int_equal(vd_sim_domain_stats(f->sim, domid, &s), 0);
	return s;
}

/* ---- xenstore ---- */

static void test_xs_dom0(void **state)
{
	struct fixture *f = *state;

	expect_node(f->hv, "/local/domain/0/name", "Domain-0");
	expect_node(f->hv, "/local/domain/0/domid", "0");
	assert_int_equal(f->hv->impl->own_domid(f->hv), 0);
	assert_int_equal(f->hv->impl->domain_alive(f->hv, 0), 1);
	assert_int_equal(f->hv->impl->domain_alive(f->hv, 1), 0);
	assert_string_equal(f->hv->impl->name, "sim");
}

static void test_xs_read_write_dir_rm(void **state)
{
	struct fixture *f = *state;
	struct vd_hv *hv = f->hv;
	const char *ab[] = {"b"}, *abx[] = {"b", "x"}, *ax[] = {"x"};

	xs_write(hv, 0, "/a/b/c", "v");
	expect_node(hv, "/a/b/c", "v");
	expect_node(hv, "/a/b", "");
	expect_node(hv, "/a", "");
	expect_dir(hv, "/a", 1, ab);
	xs_write(hv, 0, "/a/x", "1");
	xs_write(hv, 0, "/a/x", "22");
	expect_node(hv, "/a/x", "22");
	expect_dir(hv, "/a", 2, abx);
	expect_dir(hv, "/a/b/c", 0, NULL);
	assert_int_equal(hv->impl->xs_rm(hv, 0, "/a/b"), 0);
	expect_absent(hv, 0, "/a/b/c");
	expect_absent(hv, 0, "/a/b");
	expect_dir(hv, "/a", 1, ax);
	assert_int_equal(hv->impl->xs_rm(hv, 0, "/a/b"), 0);
	assert_int_equal(hv->impl->xs_rm(hv, 0, "/nope/deeper"), 0);
}

static void test_xs_bad_paths(void **state)
{
	struct fixture *f = *state;
	struct vd_hv *hv = f->hv;
	char **list;
	unsigned n;

	assert_int_equal(hv->impl->xs_write(hv, 0, "//x", "v"), -EINVAL);
	assert_int_equal(hv->impl->xs_write(hv, 0, "/x/", "v"), -EINVAL);
	assert_int_equal(hv->impl->xs_write(hv, 0, "/x y", "v"), -EINVAL);
	assert_int_equal(hv->impl->xs_write(hv, 0, "@releaseDomain", "v"), -EINVAL);
	assert_int_equal(hv->impl->xs_write(hv, 0, "", "v"), -EINVAL);
	assert_int_equal(hv->impl->xs_rm(hv, 0, "/"), -EINVAL);
	assert_int_equal(hv->impl->xs_directory(hv, 0, "/nope", &list, &n), -ENOENT);
	assert_int_equal(hv->impl->xs_write(hv, 77, "/x", "v"), -EINVAL);
	{
		char big[5000];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(hv->impl->xs_write(hv, 0, "/x", big), -E2BIG);
	}
	/* Relative paths live under the connection's domain directory. */
	xs_write(hv, 0, "rel/node", "r");
	expect_node(hv, "/local/domain/0/rel/node", "r");
}

static void test_watch_fires(void **state)
{
	struct fixture *f = *state;
	struct vd_hv *hv = f->hv;

	expect_no_event(hv);
	assert_int_equal(hv->impl->xs_watch(hv, "/w", "tok"), 0);
	assert_int_equal(hv->impl->xs_watch(hv, "/w", "tok"), -EEXIST);
	expect_event(hv, "/w", "tok");
	expect_no_event(hv);
	xs_write(hv, 0, "/w/a/b", "1");
	expect_event(hv, "/w/a/b", "tok");
	expect_no_event(hv);
	xs_write(hv, 0, "/wx", "not below /w");
	xs_write(hv, 0, "/other", "1");
	expect_no_event(hv);
	/* Two pending: the fd stays readable until the last is read. */
	xs_write(hv, 0, "/w", "1");
	xs_write(hv, 0, "/w/a", "2");
	expect_event(hv, "/w", "tok");
	expect_event(hv, "/w/a", "tok");
	expect_no_event(hv);
	assert_int_equal(hv->impl->xs_rm(hv, 0, "/w/a"), 0);
	expect_event(hv, "/w/a", "tok");
	expect_no_event(hv);
	assert_int_equal(hv->impl->xs_unwatch(hv, "/w", "tok"), 0);
	assert_int_equal(hv->impl->xs_unwatch(hv, "/w", "tok"), -ENOENT);
	xs_write(hv, 0, "/w/a", "3");
	expect_no_event(hv);
}

static void test_watch_rm_ancestor(void **state)
{
	struct fixture *f = *state;
	struct vd_hv *hv = f->hv, *guest;
	uint32_t domid = new_domain(f, "g");

	assert_int_equal(vd_sim_connect_as(f->sim, domid, &guest), 0);
	assert_int_equal(guest->impl->own_domid(guest), domid);
	xs_write(hv, 0, "/r/s/t", "1");
	assert_int_equal(guest->impl->xs_watch(guest, "/r/s/t", "deep"), 0);
	assert_int_equal(guest->impl->xs_watch(guest, "/r/s/t/u", "absent"), 0);
	assert_int_equal(hv->impl->xs_watch(hv, "/r", "top"), 0);
	expect_event(guest, "/r/s/t", "deep");
	expect_event(guest, "/r/s/t/u", "absent");
	expect_event(hv, "/r", "top");
	assert_int_equal(hv->impl->xs_rm(hv, 0, "/r/s"), 0);
	expect_event(hv, "/r/s", "top");
	expect_no_event(hv);
	/* The watched node went with its ancestor; the never-existing one did not fire. */
	expect_event(guest, "/r/s/t", "deep");
	expect_no_event(guest);
	/* Unwatch drops that watch's queued events. */
	xs_write(hv, 0, "/r/s/t", "again");
	assert_true(readable(guest->impl->xs_watch_fd(guest)));
	assert_int_equal(guest->impl->xs_unwatch(guest, "/r/s/t", "deep"), 0);
	assert_int_equal(guest->impl->xs_unwatch(guest, "/r/s/t/u", "absent"), 0);
	expect_no_event(guest);
	vd_hv_destroy(guest);
}

static void test_watch_relative(void **state)
{
	struct fixture *f = *state;
	struct vd_hv *hv = f->hv, *guest;
	uint32_t domid = new_domain(f, "g");
	char path[64];

	assert_int_equal(vd_sim_connect_as(f->sim, domid, &guest), 0);
	assert_int_equal(guest->impl->xs_watch(guest, "device", "rel"), 0);
	expect_event(guest, "device", "rel");
	snprintf(path, sizeof(path), "/local/domain/%u/device/vdispl/0/state", domid);
	xs_write(hv, 0, path, "1");
	expect_event(guest, "device/vdispl/0/state", "rel");
	expect_node(guest, "device/vdispl/0/state", "1");
	vd_hv_destroy(guest);
}

/* ---- permissions (xenstored's, as libxl sets them) ---- */

static void expect_perms(struct vd_hv *hv, const char *path, uint32_t owner, uint32_t dflt)
{
	struct vd_xs_perm *p;
	unsigned n;

	assert_int_equal(hv->impl->xs_get_perms(hv, VD_XS_NO_TXN, path, &p, &n), 0);
	assert_true(n >= 1);
	assert_int_equal(p[0].domid, owner);
	assert_int_equal(p[0].perms, dflt);
	free(p);
}

static void set_perms(struct vd_hv *hv, vd_xs_txn t, const char *path, uint32_t owner,
		      uint32_t other, uint32_t other_perms)
{
	const struct vd_xs_perm p[] = {{owner, VD_XS_PERM_NONE}, {other, other_perms}};

	assert_int_equal(vd_sim_xs_set_perms(hv, t, path, p, 2), 0);
}

/* The guest's home (libxl__domain_make): read-only for it, except data/. */
static void test_perms_domain_home(void **state)
{
	struct fixture *f = *state;
	uint32_t g = new_domain(f, "g"), h = new_domain(f, "h");
	struct vd_hv *guest;
	char path[64], *v;

	assert_int_equal(vd_sim_connect_as(f->sim, g, &guest), 0);
	expect_node(guest, "name", "g");
	assert_int_equal(guest->impl->xs_write(guest, 0, "name", "Domain-0"), -EACCES);
	assert_int_equal(guest->impl->xs_write(guest, 0, "device/vdispl/9/x", "1"), -EACCES);
	assert_int_equal(guest->impl->xs_rm(guest, 0, "device"), -EACCES);
	assert_int_equal(guest->impl->xs_write(guest, 0, "/local/domain/0/x", "1"), -EACCES);
	snprintf(path, sizeof(path), "/local/domain/%u/name", h);
	assert_int_equal(guest->impl->xs_read(guest, 0, path, &v, NULL), -EACCES);
	/* Absent below a readable node: ENOENT; below an unreadable one: EACCES. */
	assert_int_equal(guest->impl->xs_read(guest, 0, "nothing", &v, NULL), -ENOENT);
	snprintf(path, sizeof(path), "/local/domain/%u/nothing", h);
	assert_int_equal(guest->impl->xs_read(guest, 0, path, &v, NULL), -EACCES);
	/* What it creates in its own corner is its own. */
	xs_write(guest, 0, "data/x", "1");
	snprintf(path, sizeof(path), "/local/domain/%u/data/x", g);
	expect_perms(f->hv, path, g, VD_XS_PERM_NONE);
	snprintf(path, sizeof(path), "/local/domain/%u/name", g);
	expect_perms(guest, path, 0, VD_XS_PERM_NONE);
	vd_hv_destroy(guest);
}

/*
 * A frontend directory as libxl__device_generic_add makes it: the guest's,
 * with be-alloc and a connector's resolution Domain-0's and read-only for
 * the guest. The connector directory on the way is the guest's: it may
 * remove it, resolution and all, and write its own resolution, which is
 * then its own (the toolstack's cannot be had back).
 */
static void test_perms_frontend_dir(void **state)
{
	struct fixture *f = *state;
	uint32_t g = new_domain(f, "g");
	const struct vd_xs_perm mine = {g, VD_XS_PERM_NONE};
	const struct vd_xs_perm dom0s[] = {{0, VD_XS_PERM_NONE}, {g, VD_XS_PERM_READ}};
	struct vd_hv *hv = f->hv, *guest;
	char fe[64], res[96], bea[96];
	vd_xs_txn t;

	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vdispl/0", g);
	snprintf(res, sizeof(res), "%s/0/resolution", fe);
	snprintf(bea, sizeof(bea), "%s/be-alloc", fe);
	assert_int_equal(vd_sim_connect_as(f->sim, g, &guest), 0);
	assert_int_equal(hv->impl->xs_txn_start(hv, &t), 0);
	xs_write(hv, t, fe, "");
	set_perms(hv, t, fe, g, 0, VD_XS_PERM_READ);
	xs_write(hv, t, bea, "0");
	set_perms(hv, t, bea, 0, g, VD_XS_PERM_READ);
	xs_write(hv, t, res, "320x240");
	set_perms(hv, t, res, 0, g, VD_XS_PERM_READ);
	assert_int_equal(hv->impl->xs_txn_end(hv, t, false), 0);
	expect_node(guest, res, "320x240");
	assert_int_equal(guest->impl->xs_write(guest, 0, bea, "1"), -EACCES);
	assert_int_equal(guest->impl->xs_rm(guest, 0, bea), -EACCES);
	assert_int_equal(guest->impl->xs_write(guest, 0, res, "8192x8192"), -EACCES);
	/* Nor can it make the node its own, or give its own nodes to Domain-0. */
	assert_int_equal(vd_sim_xs_set_perms(guest, 0, res, &mine, 1), -EACCES);
	snprintf(res, sizeof(res), "%s/1/resolution", fe);
	xs_write(guest, 0, res, "8192x8192");
	expect_perms(hv, res, g, VD_XS_PERM_NONE);
	assert_int_equal(vd_sim_xs_set_perms(guest, 0, res, dom0s, 2), -EPERM);
	/* The connector directory is the guest's: away with the toolstack's resolution. */
	snprintf(res, sizeof(res), "%s/0", fe);
	assert_int_equal(guest->impl->xs_rm(guest, 0, res), 0);
	snprintf(res, sizeof(res), "%s/0/resolution", fe);
	assert_int_equal(guest->impl->xs_txn_start(guest, &t), 0);
	xs_write(guest, t, res, "8192x8192");
	assert_int_equal(guest->impl->xs_txn_end(guest, t, false), 0);
	expect_perms(hv, res, g, VD_XS_PERM_NONE);
	vd_hv_destroy(guest);
}

static void test_perms_writable_by(void **state)
{
	const struct vd_xs_perm ro[] = {{0, VD_XS_PERM_NONE}, {5, VD_XS_PERM_READ}};
	const struct vd_xs_perm acl[] = {{0, VD_XS_PERM_READ}, {5, VD_XS_PERM_WRITE}};
	const struct vd_xs_perm first[] = {
	    {0, VD_XS_PERM_WRITE}, {5, VD_XS_PERM_READ}, {5, VD_XS_PERM_WRITE}};
	const struct vd_xs_perm any[] = {{0, VD_XS_PERM_NONE}, {0x7ff5, VD_XS_PERM_WRITE}};

	(void)state;
	assert_false(vd_xs_perms_writable_by(ro, 2, 5));
	assert_true(vd_xs_perms_writable_by(&ro[1], 1, 5)); /* its owner */
	assert_true(vd_xs_perms_writable_by(acl, 2, 5));
	assert_false(vd_xs_perms_writable_by(acl, 2, 6));
	assert_false(vd_xs_perms_writable_by(first, 3, 5)); /* the first entry naming it */
	assert_true(vd_xs_perms_writable_by(first, 3, 6));  /* the default */
	assert_true(vd_xs_perms_writable_by(any, 2, 5));
	assert_true(vd_xs_perms_writable_by(ro, 0, 5)); /* nothing known: assume the worst */
}

/* ---- transactions ---- */

static void test_txn_isolation(void **state)
{
	struct fixture *f = *state;
	struct vd_hv *hv = f->hv;
	vd_xs_txn t;
	char *v;
	size_t len;

	assert_int_equal(hv->impl->xs_watch(hv, "/t", "tok"), 0);
	expect_event(hv, "/t", "tok");
	assert_int_equal(hv->impl->xs_txn_start(hv, &t), 0);
	assert_int_not_equal(t, VD_XS_NO_TXN);
	xs_write(hv, t, "/t/x", "1");
	expect_absent(hv, VD_XS_NO_TXN, "/t/x");
	assert_int_equal(hv->impl->xs_read(hv, t, "/t/x", &v, &len), 0);
	assert_string_equal(v, "1");
	free(v);
	assert_int_equal(hv->impl->xs_rm(hv, t, "/local/domain/0/name"), 0);
	expect_absent(hv, t, "/local/domain/0/name");
	expect_node(hv, "/local/domain/0/name", "Domain-0");
	/* Watches fire at commit, not before. */
	expect_no_event(hv);
	assert_int_equal(hv->impl->xs_txn_end(hv, t, false), 0);
	expect_event(hv, "/t/x", "tok");
	expect_node(hv, "/t/x", "1");
	expect_absent(hv, VD_XS_NO_TXN, "/local/domain/0/name");
	assert_int_equal(hv->impl->xs_txn_end(hv, t, false), -EINVAL);
}

static void test_txn_abort(void **state)
{
	struct fixture *f = *state;
	struct vd_hv *hv = f->hv;
	vd_xs_txn t;

	assert_int_equal(hv->impl->xs_txn_start(hv, &t), 0);
	xs_write(hv, t, "/t/z", "1");
	assert_int_equal(hv->impl->xs_txn_end(hv, t, true), 0);
	expect_absent(hv, VD_XS_NO_TXN, "/t/z");
	/* An open transaction is freed with its connection. */
	assert_int_equal(hv->impl->xs_txn_start(hv, &t), 0);
	xs_write(hv, t, "/t/leak", "1");
}

static void test_txn_conflict(void **state)
{
	struct fixture *f = *state;
	struct vd_hv *hv = f->hv;
	vd_xs_txn t;
	char *v;
	size_t len;

	xs_write(hv, 0, "/t/x", "0");
	/* Read node changed by someone else. */
	assert_int_equal(hv->impl->xs_txn_start(hv, &t), 0);
	assert_int_equal(hv->impl->xs_read(hv, t, "/t/x", &v, &len), 0);
	free(v);
	xs_write(hv, 0, "/t/x", "2");
	xs_write(hv, t, "/t/y", "1");
	assert_int_equal(hv->impl->xs_txn_end(hv, t, false), -EAGAIN);
	expect_absent(hv, VD_XS_NO_TXN, "/t/y");
	/* Unrelated change: commits. */
	assert_int_equal(hv->impl->xs_txn_start(hv, &t), 0);
	assert_int_equal(hv->impl->xs_read(hv, t, "/t/x", &v, &len), 0);
	free(v);
	xs_write(hv, 0, "/unrelated", "1");
	xs_write(hv, t, "/t/y", "1");
	assert_int_equal(hv->impl->xs_txn_end(hv, t, false), 0);
	expect_node(hv, "/t/y", "1");
	/* Read node removed meanwhile. */
	assert_int_equal(hv->impl->xs_txn_start(hv, &t), 0);
	assert_int_equal(hv->impl->xs_read(hv, t, "/t/y", &v, &len), 0);
	free(v);
	assert_int_equal(hv->impl->xs_rm(hv, 0, "/t/y"), 0);
	assert_int_equal(hv->impl->xs_txn_end(hv, t, false), -EAGAIN);
	/* Absent node created meanwhile. */
	assert_int_equal(hv->impl->xs_txn_start(hv, &t), 0);
	expect_absent(hv, t, "/t/new");
	xs_write(hv, 0, "/t/new", "1");
	assert_int_equal(hv->impl->xs_txn_end(hv, t, false), -EAGAIN);
	/* Written node changed meanwhile. */
	assert_int_equal(hv->impl->xs_txn_start(hv, &t), 0);
	xs_write(hv, t, "/t/x", "mine");
	xs_write(hv, 0, "/t/x", "theirs");
	assert_int_equal(hv->impl->xs_txn_end(hv, t, false), -EAGAIN);
	expect_node(hv, "/t/x", "theirs");
}

static void test_release_domain(void **state)
{
	struct fixture *f = *state;
	struct vd_hv *hv = f->hv;
	uint32_t d1, d2;

	assert_int_equal(hv->impl->xs_watch(hv, "@releaseDomain", "rel"), 0);
	expect_event(hv, "@releaseDomain", "rel");
	d1 = new_domain(f, "one");
	assert_int_equal(d1, 1);
	expect_node(hv, "/local/domain/1/name", "one");
	expect_node(hv, "/local/domain/1/domid", "1");
	expect_no_event(hv);
	assert_int_equal(hv->impl->domain_alive(hv, d1), 1);
	assert_int_equal(vd_sim_domain_destroy(f->sim, d1), 0);
	expect_event(hv, "@releaseDomain", "rel");
	expect_no_event(hv);
	assert_int_equal(hv->impl->domain_alive(hv, d1), 0);
	expect_absent(hv, VD_XS_NO_TXN, "/local/domain/1");
	assert_int_equal(vd_sim_domain_destroy(f->sim, d1), -ESRCH);
	assert_int_equal(vd_sim_domain_destroy(f->sim, 0), -EPERM);
	d2 = new_domain(f, "two");
	assert_int_equal(d2, 2);
}

/* ---- grants ---- */

struct guest_buf {
	uint32_t domid, count;
	uint8_t *mem;
	uint32_t *pfns, *refs;
};

static void guest_buf_init(struct fixture *f, struct guest_buf *b, uint32_t domid, uint32_t count,
			   uint32_t to, bool readonly)
{
	void *addr;

	b->domid = domid;
	b->count = count;
	b->pfns = calloc(count, sizeof(*b->pfns));
	b->refs = calloc(count, sizeof(*b->refs));
	assert_non_null(b->pfns);
	assert_non_null(b->refs);
	assert_int_equal(vd_sim_mem_alloc(f->sim, domid, count, &addr, b->pfns), 0);
	b->mem = addr;
	for (uint32_t i = 0; i < count; i++) {
		assert_int_equal(vd_sim_grant(f->sim, domid, to, b->pfns[i], readonly, &b->refs[i]),
				 0);
		assert_int_not_equal(b->refs[i], 0);
	}
}

static void guest_buf_finish(struct fixture *f, struct guest_buf *b)
{
	for (uint32_t i = 0; i < b->count; i++)
		vd_sim_grant_end(f->sim, b->domid, b->refs[i]);
	assert_int_equal(vd_sim_mem_free(f->sim, b->domid, b->mem, b->count), 0);
	free(b->pfns);
	free(b->refs);
}

static void test_gnt_alias(void **state)
{
	struct fixture *f = *state;
	uint32_t domid = new_domain(f, "g");
	struct guest_buf b;
	struct vd_gnt *gnt;
	bool scattered = false;
	uint8_t *map;
	void *addr;

	guest_buf_init(f, &b, domid, 16, 0, false);
	for (uint32_t i = 0; i + 1 < b.count; i++)
		scattered |= b.pfns[i + 1] != b.pfns[i] + 1;
	assert_true(scattered);
	for (uint32_t i = 0; i < b.count; i++)
		for (uint32_t j = 0; j < i; j++)
			assert_int_not_equal(b.pfns[i], b.pfns[j]);
	assert_int_equal(f->hv->impl->gnt_open(f->hv, &gnt), 0);
	assert_int_equal(f->hv->impl->gnt_map(gnt, domid, b.count, b.refs, true, &addr), 0);
	map = addr;
	for (uint32_t i = 0; i < b.count; i++) {
		b.mem[i * PAGE + 7] = (uint8_t)(i + 1);
		assert_int_equal(map[i * PAGE + 7], i + 1);
		map[i * PAGE + PAGE - 1] = (uint8_t)(0x80 + i);
		assert_int_equal(b.mem[i * PAGE + PAGE - 1], 0x80 + i);
	}
	assert_int_equal(stats(f, domid).pages_mapped, 16);
	assert_int_equal(stats(f, domid).maps_total, 1);
	assert_int_equal(stats(f, domid).grants_active, 16);
	/* Ending a mapped grant is refused (and counted), as Linux defers it. */
	assert_int_equal(vd_sim_grant_end(f->sim, domid, b.refs[0]), -EBUSY);
	assert_int_equal(stats(f, domid).deferred_ends, 1);
	assert_int_equal(stats(f, domid).grants_active, 15);
	assert_int_equal(f->hv->impl->gnt_unmap(gnt, map + PAGE, b.count), -EINVAL);
	assert_int_equal(f->hv->impl->gnt_unmap(gnt, map, b.count), 0);
	assert_int_equal(stats(f, domid).pages_mapped, 0);
	assert_int_equal(vd_sim_grant_end(f->sim, domid, b.refs[1]), 0);
	assert_int_equal(vd_sim_grant_end(f->sim, domid, b.refs[1]), -EINVAL);
	guest_buf_finish(f, &b);
	assert_int_equal(stats(f, domid).grants_active, 0);
	f->hv->impl->gnt_close(gnt);
}

/* A map of good refs followed by bad one fails and leaves nothing mapped. */
static void expect_map_fails(struct fixture *f, struct vd_gnt *gnt, uint32_t domid,
			     const struct guest_buf *b, uint32_t bad_ref, bool writable, int err)
{
	uint32_t refs[5];
	struct vd_sim_stats before = stats(f, domid);
	void *addr = NULL;

	memcpy(refs, b->refs, 4 * sizeof(*refs));
	refs[4] = bad_ref;
	assert_int_equal(f->hv->impl->gnt_map(gnt, domid, 5, refs, writable, &addr), err);
	assert_null(addr);
	assert_int_equal(stats(f, domid).pages_mapped, before.pages_mapped);
	assert_int_equal(stats(f, domid).maps_total, before.maps_total);
}

static void test_gnt_rejects(void **state)
{
	struct fixture *f = *state;
	uint32_t domid = new_domain(f, "g"), other = new_domain(f, "h");
	struct guest_buf b, ro, foreign;
	struct vd_gnt *gnt;
	void *addr;

	guest_buf_init(f, &b, domid, 4, 0, false);
	guest_buf_init(f, &ro, domid, 1, 0, true);
	guest_buf_init(f, &foreign, domid, 1, other, false);
	assert_int_equal(f->hv->impl->gnt_open(f->hv, &gnt), 0);
	expect_map_fails(f, gnt, domid, &b, 0, false, -EINVAL);
	expect_map_fails(f, gnt, domid, &b, 99999, false, -EINVAL);
	expect_map_fails(f, gnt, domid, &b, foreign.refs[0], false, -EACCES);
	expect_map_fails(f, gnt, domid, &b, ro.refs[0], true, -EACCES);
	assert_int_equal(f->hv->impl->gnt_map(gnt, 4242, 4, b.refs, false, &addr), -ESRCH);
	assert_int_equal(f->hv->impl->gnt_map(gnt, domid, 0, b.refs, false, &addr), -EINVAL);
	/* Nothing stayed mapped: the good refs end without deferral. */
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(vd_sim_grant_end(f->sim, domid, b.refs[i]), 0);
	assert_int_equal(stats(f, domid).deferred_ends, 0);
	/* Read-only grants map read-only. */
	assert_int_equal(f->hv->impl->gnt_map(gnt, domid, 1, ro.refs, false, &addr), 0);
	ro.mem[5] = 42;
	assert_int_equal(((uint8_t *)addr)[5], 42);
	assert_int_equal(f->hv->impl->gnt_unmap(gnt, addr, 1), 0);
	/* An ended ref is gone. */
	expect_map_fails(f, gnt, domid, &b, b.refs[0], false, -EINVAL);
	f->hv->impl->gnt_close(gnt);
	guest_buf_finish(f, &b);
	guest_buf_finish(f, &ro);
	guest_buf_finish(f, &foreign);
}

static void test_gnt_1080p(void **state)
{
	struct fixture *f = *state;
	uint32_t domid = new_domain(f, "g"), n = 2025;
	struct guest_buf b;
	struct vd_gnt *gnt;
	uint8_t *map;
	void *addr;

	guest_buf_init(f, &b, domid, n, 0, false);
	for (uint32_t i = 0; i < n; i++)
		memset(b.mem + (size_t)i * PAGE, (int)(i & 0xff), PAGE);
	assert_int_equal(f->hv->impl->gnt_open(f->hv, &gnt), 0);
	assert_int_equal(f->hv->impl->gnt_map(gnt, domid, n, b.refs, false, &addr), 0);
	map = addr;
	for (uint32_t i = 0; i < n; i++) {
		assert_int_equal(map[(size_t)i * PAGE], i & 0xff);
		assert_int_equal(map[(size_t)i * PAGE + PAGE - 1], i & 0xff);
	}
	assert_int_equal(stats(f, domid).pages_mapped, n);
	assert_int_equal(f->hv->impl->gnt_unmap(gnt, addr, n), 0);
	f->hv->impl->gnt_close(gnt);
	guest_buf_finish(f, &b);
}

static void test_gnt_dead_domain(void **state)
{
	struct fixture *f = *state;
	uint32_t domid = new_domain(f, "g");
	struct guest_buf b;
	struct vd_gnt *gnt;
	uint8_t *map;
	void *addr;

	guest_buf_init(f, &b, domid, 20, 0, false);
	assert_int_equal(f->hv->impl->gnt_open(f->hv, &gnt), 0);
	assert_int_equal(f->hv->impl->gnt_map(gnt, domid, 20, b.refs, true, &addr), 0);
	map = addr;
	for (uint32_t i = 0; i < 20; i++)
		b.mem[i * PAGE + 100] = (uint8_t)(0xa0 + i);
	assert_int_equal(vd_sim_domain_destroy(f->sim, domid), 0);
	for (uint32_t i = 0; i < 20; i++)
		assert_int_equal(map[i * PAGE + 100], 0xa0 + i);
	map[0] = 1;
	assert_int_equal(stats(f, domid).pages_mapped, 20);
	assert_int_equal(stats(f, domid).grants_active, 0);
	assert_int_equal(f->hv->impl->gnt_map(gnt, domid, 1, b.refs, false, &addr), -ESRCH);
	assert_int_equal(vd_sim_grant_end(f->sim, domid, b.refs[0]), -ESRCH);
	assert_int_equal(f->hv->impl->gnt_unmap(gnt, map, 20), 0);
	assert_int_equal(stats(f, domid).pages_mapped, 0);
	f->hv->impl->gnt_close(gnt);
	assert_int_equal(vd_sim_mem_free(f->sim, domid, b.mem, 20), 0);
	free(b.pfns);
	free(b.refs);
}

static void test_gnt_close_unmaps(void **state)
{
	struct fixture *f = *state;
	uint32_t domid = new_domain(f, "g");
	struct guest_buf b;
	struct vd_gnt *gnt;
	void *a1, *a2;

	guest_buf_init(f, &b, domid, 3, 0, false);
	assert_int_equal(f->hv->impl->gnt_open(f->hv, &gnt), 0);
	assert_int_equal(f->hv->impl->gnt_map(gnt, domid, 3, b.refs, true, &a1), 0);
	assert_int_equal(f->hv->impl->gnt_map(gnt, domid, 2, b.refs, false, &a2), 0);
	assert_int_equal(stats(f, domid).pages_mapped, 5);
	assert_int_equal(stats(f, domid).maps_total, 2);
	f->hv->impl->gnt_close(gnt);
	f->hv->impl->gnt_close(NULL);
	assert_int_equal(stats(f, domid).pages_mapped, 0);
	guest_buf_finish(f, &b);
	assert_int_equal(stats(f, domid).deferred_ends, 0);
	assert_int_equal(vd_sim_mem_free(f->sim, domid, b.mem, 3), -EINVAL);
	assert_int_equal(vd_sim_grant(f->sim, domid, 0, 1u << 30, false, &b.count), -EINVAL);
}

static void test_gnt_as_guest(void **state)
{
	struct fixture *f = *state;
	uint32_t a = new_domain(f, "a"), b = new_domain(f, "b");
	struct guest_buf buf;
	struct vd_hv *conn_b;
	struct vd_gnt *gnt;
	void *addr;

	/* A driver domain maps what was granted to it, not to Dom0. */
	guest_buf_init(f, &buf, a, 2, b, false);
	assert_int_equal(vd_sim_connect_as(f->sim, b, &conn_b), 0);
	assert_int_equal(conn_b->impl->gnt_open(conn_b, &gnt), 0);
	/* The connection may go first: the handle keeps the machine. */
	vd_hv_destroy(conn_b);
	assert_int_equal(f->hv->impl->gnt_map(gnt, a, 2, buf.refs, true, &addr), 0);
	assert_int_equal(f->hv->impl->gnt_unmap(gnt, addr, 2), 0);
	f->hv->impl->gnt_close(gnt);
	assert_int_equal(f->hv->impl->gnt_open(f->hv, &gnt), 0);
	assert_int_equal(f->hv->impl->gnt_map(gnt, a, 2, buf.refs, true, &addr), -EACCES);
	f->hv->impl->gnt_close(gnt);
	guest_buf_finish(f, &buf);
}

/* ---- event channels ---- */

struct chan {
	uint32_t port;
	struct vd_evtchn *guest, *back;
};

static void chan_open(struct fixture *f, uint32_t domid, struct chan *c)
{
	assert_int_equal(vd_sim_evtchn_alloc_unbound(f->sim, domid, 0, &c->port, &c->guest), 0);
	assert_int_equal(f->hv->impl->evtchn_bind(f->hv, domid, c->port, &c->back), 0);
}

static void test_evtchn_notify(void **state)
{
	struct fixture *f = *state;
	const struct vd_hv_impl *ops = f->hv->impl;
	uint32_t domid = new_domain(f, "g");
	struct vd_evtchn *dup;
	struct chan c;

	chan_open(f, domid, &c);
	assert_int_not_equal(c.port, 0);
	assert_false(readable(ops->evtchn_fd(c.back)));
	assert_false(readable(vd_sim_evtchn_fd(c.guest)));
	assert_int_equal(vd_sim_evtchn_notify(c.guest), 0);
	assert_int_equal(vd_sim_evtchn_notify(c.guest), 0);
	assert_true(readable(ops->evtchn_fd(c.back)));
	assert_false(readable(vd_sim_evtchn_fd(c.guest)));
	assert_int_equal(ops->evtchn_ack(c.back), 0);
	assert_false(readable(ops->evtchn_fd(c.back)));
	assert_int_equal(ops->evtchn_ack(c.back), 0);
	assert_int_equal(ops->evtchn_notify(c.back), 0);
	assert_true(readable(vd_sim_evtchn_fd(c.guest)));
	assert_int_equal(vd_sim_evtchn_ack(c.guest), 0);
	assert_false(readable(vd_sim_evtchn_fd(c.guest)));
	assert_int_equal(stats(f, 0).notifications_in, 2);
	assert_int_equal(stats(f, domid).notifications_in, 1);
	assert_int_equal(stats(f, domid).ports_open, 1);
	assert_int_equal(stats(f, 0).ports_open, 1);
	/* Already bound, unknown, or not offered to us. */
	assert_int_equal(ops->evtchn_bind(f->hv, domid, c.port, &dup), -EINVAL);
	assert_int_equal(ops->evtchn_bind(f->hv, domid, c.port + 100, &dup), -EINVAL);
	assert_int_equal(ops->evtchn_bind(f->hv, 4242, c.port, &dup), -ESRCH);
	/* Peer closed: no more events. */
	vd_sim_evtchn_close(f->sim, c.guest);
	assert_int_equal(ops->evtchn_notify(c.back), -ENOTCONN);
	assert_int_equal(stats(f, domid).ports_open, 0);
	ops->evtchn_unbind(f->hv, c.back);
	ops->evtchn_unbind(f->hv, NULL);
	assert_int_equal(stats(f, 0).ports_open, 0);
}

static void test_evtchn_wrong_remote(void **state)
{
	struct fixture *f = *state;
	uint32_t a = new_domain(f, "a"), b = new_domain(f, "b");
	struct vd_evtchn *g, *ch;
	uint32_t port;

	assert_int_equal(vd_sim_evtchn_alloc_unbound(f->sim, a, b, &port, &g), 0);
	assert_int_equal(f->hv->impl->evtchn_bind(f->hv, a, port, &ch), -EINVAL);
	assert_int_equal(vd_sim_evtchn_notify(g), -ENOTCONN);
	vd_sim_evtchn_close(f->sim, g);
}

static void test_evtchn_domain_death(void **state)
{
	struct fixture *f = *state;
	const struct vd_hv_impl *ops = f->hv->impl;
	uint32_t domid = new_domain(f, "g");
	struct vd_evtchn *ch;
	struct chan c;
	uint32_t port;

	chan_open(f, domid, &c);
	assert_int_equal(vd_sim_evtchn_notify(c.guest), 0);
	assert_int_equal(vd_sim_domain_destroy(f->sim, domid), 0);
	assert_int_equal(ops->evtchn_notify(c.back), -ENOTCONN);
	assert_int_equal(vd_sim_evtchn_notify(c.guest), -ENOTCONN);
	assert_int_equal(stats(f, domid).ports_open, 0);
	assert_int_equal(stats(f, 0).ports_open, 1);
	assert_int_equal(vd_sim_evtchn_alloc_unbound(f->sim, domid, 0, &port, &ch), -ESRCH);
	/* The pending event before death is still there to ack. */
	assert_true(readable(ops->evtchn_fd(c.back)));
	assert_int_equal(ops->evtchn_ack(c.back), 0);
	ops->evtchn_unbind(f->hv, c.back);
	vd_sim_evtchn_close(f->sim, c.guest);
}

/* ---- lifetime ---- */

static void test_lifetime_any_order(void **state)
{
	const struct vd_hv_impl *ops;
	struct vd_hv *dom0, *guest;
	struct vd_evtchn *g, *b;
	struct vd_sim *sim;
	struct vd_gnt *gnt;
	uint32_t domid, port, pfn, ref;
	void *mem, *addr;

	(void)state;
	assert_int_equal(vd_hv_create("sim", &dom0), 0);
	sim = vd_sim_from_hv(dom0);
	ops = dom0->impl;
	assert_int_equal(vd_sim_domain_create(sim, "g", &domid), 0);
	assert_int_equal(vd_sim_connect_as(sim, 4242, &guest), -ESRCH);
	assert_int_equal(vd_sim_connect_as(sim, domid, &guest), 0);
	assert_int_equal(guest->impl->xs_watch(guest, "/", "all"), 0);
	assert_int_equal(vd_sim_evtchn_alloc_unbound(sim, domid, 0, &port, &g), 0);
	assert_int_equal(dom0->impl->evtchn_bind(dom0, domid, port, &b), 0);
	assert_int_equal(vd_sim_mem_alloc(sim, domid, 1, &mem, &pfn), 0);
	assert_int_equal(vd_sim_grant(sim, domid, 0, pfn, false, &ref), 0);
	assert_int_equal(dom0->impl->gnt_open(dom0, &gnt), 0);
	assert_int_equal(dom0->impl->gnt_map(gnt, domid, 1, &ref, true, &addr), 0);
	/* Dom0's connection goes first; everything else still works. */
	vd_hv_destroy(dom0);
	xs_write(guest, 0, "data/x", "1"); /* its own corner of xenstore */
	assert_int_equal(vd_sim_evtchn_notify(b), 0);
	assert_true(readable(vd_sim_evtchn_fd(g)));
	vd_sim_evtchn_close(sim, b);
	vd_hv_destroy(guest);
	/* Unmapped by close; the guest memory goes with the machine. */
	ops->gnt_close(gnt);
	vd_sim_evtchn_close(sim, g);
	assert_null(vd_sim_from_hv(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_xs_dom0, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_xs_read_write_dir_rm, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_xs_bad_paths, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watch_fires, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watch_rm_ancestor, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_perms_domain_home, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_perms_frontend_dir, setup, teardown),
	    cmocka_unit_test(test_perms_writable_by),
	    cmocka_unit_test_setup_teardown(test_watch_relative, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_txn_isolation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_txn_abort, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_txn_conflict, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_release_domain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gnt_alias, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gnt_rejects, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gnt_1080p, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gnt_dead_domain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gnt_close_unmaps, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gnt_as_guest, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_evtchn_notify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_evtchn_wrong_remote, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_evtchn_domain_death, setup, teardown),
	    cmocka_unit_test(test_lifetime_any_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
