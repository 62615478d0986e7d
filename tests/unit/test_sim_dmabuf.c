/* SPDX-License-Identifier: MIT */
/*
 * The simulated gntdev dma-buf calls (PROTOCOL.md §4): export and the
 * release wait, with the fd-number reuse pitfall; import of a local buffer
 * granted to a guest.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hv/sim/sim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096u

struct fixture {
	struct vd_hv *hv; /* Domain-0 */
	const struct vd_hv_impl *ops;
	struct vd_sim *sim;
	struct vd_gnt *gnt; /* Domain-0's handle */
	uint32_t domid;	    /* a guest */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(vd_hv_create("sim", &f->hv), 0);
	f->ops = f->hv->impl;
	f->sim = vd_sim_from_hv(f->hv);
	assert_non_null(f->sim);
	assert_int_equal(vd_sim_domain_create(f->sim, "g", &f->domid), 0);
	assert_int_equal(f->ops->gnt_open(f->hv, &f->gnt), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	f->ops->gnt_close(f->gnt);
	vd_hv_destroy(f->hv);
	free(f);
	return 0;
}

static struct vd_sim_stats stats(struct fixture *f, uint32_t domid)
{
	struct vd_sim_stats s;

	assert_int_equal(vd_sim_domain_stats(f->sim, domid, &s), 0);
	return s;
}

/* The number the next new fd gets. */
static int next_fd(void)
{
	int fd = dup(STDERR_FILENO);

	assert_true(fd >= 0);
	close(fd);
	return fd;
}

/* ---- guest pages granted to Dom0 ---- */

struct guest_buf {
	uint32_t domid, count;
	uint8_t *mem;
	uint32_t *pfns, *refs;
};

static void guest_buf_init(struct fixture *f, struct guest_buf *b, uint32_t count, uint32_t to,
			   bool readonly)
{
	void *addr;

	b->domid = f->domid;
	b->count = count;
	b->pfns = calloc(count, sizeof(*b->pfns));
	b->refs = calloc(count, sizeof(*b->refs));
	assert_non_null(b->pfns);
	assert_non_null(b->refs);
	assert_int_equal(vd_sim_mem_alloc(f->sim, b->domid, count, &addr, b->pfns), 0);
	b->mem = addr;
	for (uint32_t i = 0; i < count; i++)
		assert_int_equal(
		    vd_sim_grant(f->sim, b->domid, to, b->pfns[i], readonly, &b->refs[i]), 0);
}

/* Ends the grants: -EBUSY (deferred) would mean a page is still mapped. */
static void guest_buf_finish(struct fixture *f, struct guest_buf *b)
{
	for (uint32_t i = 0; i < b->count; i++)
		assert_int_equal(vd_sim_grant_end(f->sim, b->domid, b->refs[i]), 0);
	assert_int_equal(vd_sim_mem_free(f->sim, b->domid, b->mem, b->count), 0);
	free(b->pfns);
	free(b->refs);
}

static int export(struct fixture *f, const struct guest_buf *b)
{
	int fd = -1;

	assert_int_equal(f->ops->dmabuf_exp_from_refs(f->gnt, b->domid, b->count, b->refs, &fd), 0);
	assert_true(fd >= 0);
	return fd;
}

static int wait_released(struct fixture *f, int fd)
{
	return f->ops->dmabuf_exp_wait_released(f->gnt, fd, 0);
}

/* ---- export ---- */

static void test_export_release(void **state)
{
	struct fixture *f = *state;
	struct guest_buf b;
	int fd, copy;

	guest_buf_init(f, &b, 4, 0, false);
	fd = export(f, &b);
	assert_int_equal(stats(f, f->domid).pages_mapped, 4);
	assert_int_equal(stats(f, f->domid).maps_total, 1);
	assert_int_equal(stats(f, f->domid).dmabufs_exported, 1);
	/* No CPU view of the exported buffer, as with gntdev. */
	assert_true(mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* The caller's own fd and an importer's copy both keep it alive. */
	assert_int_equal(wait_released(f, fd), -ETIMEDOUT);
	copy = dup(fd);
	close(fd);
	assert_int_equal(wait_released(f, fd), -ETIMEDOUT);
	assert_int_equal(f->ops->dmabuf_exp_wait_released(f->gnt, fd, 20), -ETIMEDOUT);
	assert_int_equal(stats(f, f->domid).pages_mapped, 4);
	close(copy);
	assert_int_equal(wait_released(f, fd), 0);
	assert_int_equal(stats(f, f->domid).pages_mapped, 0);
	assert_int_equal(stats(f, f->domid).dmabufs_exported, 0);
	/* Released already (ENOENT in the ioctl) is success. */
	assert_int_equal(wait_released(f, fd), 0);
	assert_int_equal(wait_released(f, -1), -EBADF);
	guest_buf_finish(f, &b);
	assert_int_equal(stats(f, f->domid).deferred_ends, 0);
}

/* Release happens at the last close, whether anyone waits or not. */
static void test_export_release_unwaited(void **state)
{
	struct fixture *f = *state;
	struct guest_buf b;

	guest_buf_init(f, &b, 3, 0, false);
	close(export(f, &b));
	assert_int_equal(stats(f, f->domid).pages_mapped, 0);
	assert_int_equal(stats(f, f->domid).dmabufs_exported, 0);
	/* The guest ends its grants without deferral. */
	guest_buf_finish(f, &b);
	assert_int_equal(stats(f, f->domid).deferred_ends, 0);
}

/* An importer in another process: holds copies of the open fds for ms. */
static pid_t importer_for(unsigned ms)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		usleep(ms * 1000);
		_exit(0);
	}
	return pid;
}

/*
 * close(N), a new export gets N, and the wait on N finds the new one: it
 * times out although A, the buffer the caller meant, is released during
 * the wait (its importer goes).
 */
static void test_export_fd_reuse_pitfall(void **state)
{
	struct fixture *f = *state;
	struct guest_buf a, b;
	int fd_a, fd_b, status;
	pid_t importer;

	guest_buf_init(f, &a, 2, 0, false);
	guest_buf_init(f, &b, 3, 0, false);
	fd_a = export(f, &a);
	importer = importer_for(20);
	close(fd_a);
	fd_b = export(f, &b);
	assert_int_equal(fd_b, fd_a);
	assert_int_equal(f->ops->dmabuf_exp_wait_released(f->gnt, fd_a, 300), -ETIMEDOUT);
	assert_int_equal(waitpid(importer, &status, 0), importer);
	assert_int_equal(stats(f, f->domid).dmabufs_exported, 1);
	assert_int_equal(stats(f, f->domid).pages_mapped, 3);
	assert_int_equal(wait_released(f, fd_a), -ETIMEDOUT);
	close(fd_b);
	assert_int_equal(wait_released(f, fd_b), 0);
	assert_int_equal(stats(f, f->domid).pages_mapped, 0);
	guest_buf_finish(f, &a);
	guest_buf_finish(f, &b);
}

/* The remedy: a placeholder keeps the number until the wait returns. */
static void test_export_fd_placeholder(void **state)
{
	struct fixture *f = *state;
	struct guest_buf a, b;
	int fd_a, fd_b, importer, null;

	guest_buf_init(f, &a, 2, 0, false);
	guest_buf_init(f, &b, 3, 0, false);
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(null >= 0);
	fd_a = export(f, &a);
	importer = dup(fd_a);
	/* Closes the caller's copy of A but keeps the number taken. */
	assert_int_equal(dup2(null, fd_a), fd_a);
	fd_b = export(f, &b);
	assert_int_not_equal(fd_b, fd_a);
	assert_int_equal(wait_released(f, fd_a), -ETIMEDOUT);
	close(importer);
	assert_int_equal(wait_released(f, fd_a), 0);
	assert_int_equal(stats(f, f->domid).pages_mapped, 3);
	assert_int_equal(stats(f, f->domid).dmabufs_exported, 1);
	close(fd_a);
	close(null);
	assert_int_equal(wait_released(f, fd_b), -ETIMEDOUT);
	close(fd_b);
	assert_int_equal(wait_released(f, fd_b), 0);
	guest_buf_finish(f, &a);
	guest_buf_finish(f, &b);
}

/* Good refs followed by a bad one: nothing exported, mapped or left open. */
static void expect_export_fails(struct fixture *f, const struct guest_buf *b, uint32_t bad_ref,
				int err)
{
	struct vd_sim_stats before = stats(f, f->domid);
	uint32_t refs[4];
	int fd = -1, probe = next_fd();

	memcpy(refs, b->refs, 3 * sizeof(*refs));
	refs[3] = bad_ref;
	assert_int_equal(f->ops->dmabuf_exp_from_refs(f->gnt, f->domid, 4, refs, &fd), err);
	assert_int_equal(fd, -1);
	assert_int_equal(next_fd(), probe);
	assert_int_equal(stats(f, f->domid).pages_mapped, before.pages_mapped);
	assert_int_equal(stats(f, f->domid).maps_total, before.maps_total);
	assert_int_equal(stats(f, f->domid).dmabufs_exported, 0);
}

static void test_export_rejects(void **state)
{
	struct fixture *f = *state;
	uint32_t other, *many = calloc(65537, sizeof(*many));
	struct guest_buf b, ro, foreign;
	int fd = -1;

	assert_non_null(many);
	assert_int_equal(vd_sim_domain_create(f->sim, "h", &other), 0);
	guest_buf_init(f, &b, 3, 0, false);
	guest_buf_init(f, &ro, 1, 0, true);
	guest_buf_init(f, &foreign, 1, other, false);
	expect_export_fails(f, &b, 0, -EINVAL);
	expect_export_fails(f, &b, 99999, -EINVAL);
	expect_export_fails(f, &b, foreign.refs[0], -EACCES);
	/* gntdev maps writable: a read-only grant cannot be exported. */
	expect_export_fails(f, &b, ro.refs[0], -EACCES);
	assert_int_equal(f->ops->dmabuf_exp_from_refs(f->gnt, f->domid, 0, b.refs, &fd), -EINVAL);
	for (uint32_t i = 0; i < 65537; i++)
		many[i] = b.refs[i % 3];
	assert_int_equal(f->ops->dmabuf_exp_from_refs(f->gnt, f->domid, 65537, many, &fd), -EINVAL);
	assert_int_equal(f->ops->dmabuf_exp_from_refs(f->gnt, 4242, 3, b.refs, &fd), -ESRCH);
	assert_int_equal(fd, -1);
	/* Nothing stayed mapped: every grant ends without deferral. */
	guest_buf_finish(f, &b);
	guest_buf_finish(f, &ro);
	guest_buf_finish(f, &foreign);
	assert_int_equal(stats(f, f->domid).deferred_ends, 0);
	free(many);
}

/* The dma-buf holds the gntdev file: closing the handle releases nothing. */
static void test_export_outlives_handle(void **state)
{
	struct fixture *f = *state;
	struct guest_buf b;
	int fd;

	guest_buf_init(f, &b, 4, 0, false);
	fd = export(f, &b);
	f->ops->gnt_close(f->gnt);
	assert_int_equal(stats(f, f->domid).pages_mapped, 4);
	assert_int_equal(stats(f, f->domid).dmabufs_exported, 1);
	/* A new handle does not know the export: nothing to wait for. */
	assert_int_equal(f->ops->gnt_open(f->hv, &f->gnt), 0);
	assert_int_equal(wait_released(f, fd), 0);
	assert_int_equal(stats(f, f->domid).pages_mapped, 4);
	close(fd);
	assert_int_equal(stats(f, f->domid).pages_mapped, 0);
	assert_int_equal(stats(f, f->domid).dmabufs_exported, 0);
	guest_buf_finish(f, &b);
}

static unsigned open_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	unsigned n = 0;

	assert_non_null(dir);
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}

/*
 * The machine outlives its last handle while an export is alive, and is
 * freed once the export's fds are closed: its files close with it.
 */
static void test_export_outlives_machine_handles(void **state)
{
	struct fixture *f = *state;
	unsigned fds_before;
	struct guest_buf b;
	int fd, fd2;

	guest_buf_init(f, &b, 2, 0, false);
	fds_before = open_fds();
	fd = export(f, &b);
	fd2 = export(f, &b);
	f->ops->gnt_close(f->gnt);
	f->gnt = NULL;
	close(fd2);
	/* Reaps fd2's export; fd's keeps the machine, an orphan now. */
	vd_hv_destroy(f->hv);
	close(fd);
	/* Reaped by the next machine's creation: the guest's memfd closed. */
	assert_int_equal(vd_hv_create("sim", &f->hv), 0);
	assert_true(open_fds() < fds_before);
	free(b.pfns);
	free(b.refs);
}

/* Pages of a dead domain stay mapped while exported, as Xen keeps them. */
static void test_export_dead_domain(void **state)
{
	struct fixture *f = *state;
	struct guest_buf b;
	int fd;

	guest_buf_init(f, &b, 5, 0, false);
	fd = export(f, &b);
	assert_int_equal(vd_sim_domain_destroy(f->sim, f->domid), 0);
	assert_int_equal(stats(f, f->domid).pages_mapped, 5);
	assert_int_equal(stats(f, f->domid).grants_active, 0);
	assert_int_equal(stats(f, f->domid).dmabufs_exported, 1);
	assert_int_equal(wait_released(f, fd), -ETIMEDOUT);
	close(fd);
	assert_int_equal(wait_released(f, fd), 0);
	assert_int_equal(stats(f, f->domid).pages_mapped, 0);
	assert_int_equal(stats(f, f->domid).dmabufs_exported, 0);
	assert_int_equal(vd_sim_mem_free(f->sim, f->domid, b.mem, b.count), 0);
	free(b.pfns);
	free(b.refs);
}

/*
 * Dom0's maptrack: maps and exports of any guest's pages take entries;
 * past the limit every map of Dom0 fails, whoever it is for, until some
 * are released.
 */
static void test_maptrack_full(void **state)
{
	struct fixture *f = *state;
	struct guest_buf b;
	uint32_t other;
	void *addr;
	int fd;

	guest_buf_init(f, &b, 8, 0, false);
	assert_int_equal(vd_sim_set_maptrack(f->sim, 0, 12), 0);
	fd = export(f, &b);
	assert_int_equal(stats(f, 0).maptrack_used, 8);
	assert_int_equal(f->ops->gnt_map(f->gnt, f->domid, 8, b.refs, false, &addr), -ENOSPC);
	assert_int_equal(f->ops->gnt_map(f->gnt, f->domid, 4, b.refs, false, &addr), 0);
	assert_int_equal(stats(f, 0).maptrack_used, 12);
	/* Another guest's page: refused too, the maptrack is Dom0's. */
	assert_int_equal(vd_sim_domain_create(f->sim, "other", &other), 0);
	{
		uint32_t pfn, ref;
		void *mem;

		assert_int_equal(vd_sim_mem_alloc(f->sim, other, 1, &mem, &pfn), 0);
		assert_int_equal(vd_sim_grant(f->sim, other, 0, pfn, false, &ref), 0);
		assert_int_equal(f->ops->dmabuf_exp_from_refs(f->gnt, other, 1, &ref, &fd), -ENOSPC);
		assert_int_equal(f->ops->gnt_unmap(f->gnt, addr, 4), 0);
		assert_int_equal(f->ops->gnt_map(f->gnt, other, 1, &ref, false, &addr), 0);
		assert_int_equal(f->ops->gnt_unmap(f->gnt, addr, 1), 0);
		assert_int_equal(vd_sim_grant_end(f->sim, other, ref), 0);
	}
	close(fd);
	assert_int_equal(wait_released(f, fd), 0);
	assert_int_equal(stats(f, 0).maptrack_used, 0);
	guest_buf_finish(f, &b);
}

/* ---- import ---- */

static int memfd_pages(uint32_t count)
{
	int fd = memfd_create("test-dmabuf", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)count * PAGE), 0);
	return fd;
}

/* A grant handle of the guest, which maps what Dom0 granted it. */
static struct vd_gnt *guest_gnt(struct fixture *f)
{
	struct vd_hv *conn;
	struct vd_gnt *gnt;

	assert_int_equal(vd_sim_connect_as(f->sim, f->domid, &conn), 0);
	assert_int_equal(conn->impl->gnt_open(conn, &gnt), 0);
	vd_hv_destroy(conn);
	return gnt;
}

static void test_import_alias(void **state)
{
	struct fixture *f = *state;
	int fd = memfd_pages(3);
	struct vd_gnt *guest = guest_gnt(f);
	uint32_t refs[3] = {0};
	uint8_t *back, *mapped;
	void *addr;

	assert_int_equal(f->ops->dmabuf_imp_to_refs(f->gnt, f->domid, fd, 3, refs), 0);
	for (uint32_t i = 0; i < 3; i++) {
		assert_int_not_equal(refs[i], 0);
		for (uint32_t j = 0; j < i; j++)
			assert_int_not_equal(refs[i], refs[j]);
	}
	assert_int_equal(stats(f, 0).imports_granted, 3);
	assert_int_equal(stats(f, 0).grants_active, 3);
	assert_int_equal(f->ops->gnt_map(guest, 0, 3, refs, true, &addr), 0);
	mapped = addr;
	assert_int_equal(stats(f, 0).pages_mapped, 3);
	back = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(back != MAP_FAILED);
	for (uint32_t i = 0; i < 3; i++) {
		back[i * PAGE + 9] = (uint8_t)(0x10 + i);
		assert_int_equal(mapped[i * PAGE + 9], 0x10 + i);
		mapped[i * PAGE + PAGE - 1] = (uint8_t)(0x40 + i);
		assert_int_equal(back[i * PAGE + PAGE - 1], 0x40 + i);
	}
	/* The sim holds its own reference: the importer's fd may go. */
	munmap(back, 3 * PAGE);
	close(fd);
	assert_int_equal(f->ops->gnt_unmap(guest, mapped, 3), 0);
	assert_int_equal(f->ops->gnt_map(guest, 0, 1, &refs[1], false, &addr), 0);
	assert_int_equal(((uint8_t *)addr)[9], 0x11);
	assert_int_equal(f->ops->gnt_unmap(guest, addr, 1), 0);
	/* Released by the fd number it was imported with. */
	assert_int_equal(f->ops->dmabuf_imp_release(f->gnt, fd), 0);
	assert_int_equal(f->ops->dmabuf_imp_release(f->gnt, fd), -ENOENT);
	assert_int_equal(stats(f, 0).imports_granted, 0);
	assert_int_equal(stats(f, 0).grants_active, 0);
	assert_int_equal(stats(f, 0).deferred_ends, 0);
	assert_int_equal(f->ops->gnt_map(guest, 0, 3, refs, true, &addr), -EINVAL);
	f->ops->gnt_close(guest);
}

static void test_import_rejects(void **state)
{
	struct fixture *f = *state;
	int fd = memfd_pages(3), ro, p[2];
	uint32_t refs[4] = {0}, dead;
	char path[64];

	assert_int_equal(f->ops->dmabuf_imp_to_refs(f->gnt, f->domid, fd, 2, refs), -EINVAL);
	assert_int_equal(f->ops->dmabuf_imp_to_refs(f->gnt, f->domid, fd, 4, refs), -EINVAL);
	assert_int_equal(f->ops->dmabuf_imp_to_refs(f->gnt, f->domid, fd, 0, refs), -EINVAL);
	assert_int_equal(f->ops->dmabuf_imp_to_refs(f->gnt, f->domid, fd, 65537, refs), -EINVAL);
	assert_int_equal(f->ops->dmabuf_imp_to_refs(f->gnt, 4242, fd, 3, refs), -ESRCH);
	assert_int_equal(vd_sim_domain_create(f->sim, "dead", &dead), 0);
	assert_int_equal(vd_sim_domain_destroy(f->sim, dead), 0);
	assert_int_equal(f->ops->dmabuf_imp_to_refs(f->gnt, dead, fd, 3, refs), -ESRCH);
	assert_int_equal(f->ops->dmabuf_imp_to_refs(f->gnt, f->domid, -1, 3, refs), -EBADF);
	/* Not mappable read-write: a read-only open, a pipe. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(ro >= 0);
	assert_int_equal(f->ops->dmabuf_imp_to_refs(f->gnt, f->domid, ro, 3, refs), -EINVAL);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(f->ops->dmabuf_imp_to_refs(f->gnt, f->domid, p[1], 1, refs), -EINVAL);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(refs[i], 0);
	assert_int_equal(stats(f, 0).grants_active, 0);
	assert_int_equal(f->ops->dmabuf_imp_release(f->gnt, fd), -ENOENT);
	assert_int_equal(f->ops->dmabuf_imp_release(f->gnt, -1), -EBADF);
	close(p[0]);
	close(p[1]);
	close(ro);
	close(fd);
}

/* Released while the guest still maps: ends deferred, the page stays. */
static void test_import_deferred_end(void **state)
{
	struct fixture *f = *state;
	int fd = memfd_pages(2);
	struct vd_gnt *guest = guest_gnt(f);
	uint32_t refs[2];
	uint8_t *mapped;
	void *addr;

	assert_int_equal(f->ops->dmabuf_imp_to_refs(f->gnt, f->domid, fd, 2, refs), 0);
	assert_int_equal(f->ops->gnt_map(guest, 0, 2, refs, true, &addr), 0);
	mapped = addr;
	assert_int_equal(f->ops->dmabuf_imp_release(f->gnt, fd), 0);
	assert_int_equal(stats(f, 0).deferred_ends, 2);
	assert_int_equal(stats(f, 0).imports_granted, 0);
	assert_int_equal(stats(f, 0).grants_active, 0);
	close(fd);
	mapped[PAGE + 5] = 7;
	assert_int_equal(mapped[PAGE + 5], 7);
	assert_int_equal(f->ops->gnt_map(guest, 0, 1, refs, false, &addr), -EINVAL);
	assert_int_equal(f->ops->gnt_unmap(guest, mapped, 2), 0);
	assert_int_equal(stats(f, 0).pages_mapped, 0);
	f->ops->gnt_close(guest);
}

static void test_import_gnt_close_releases(void **state)
{
	struct fixture *f = *state;
	int fd = memfd_pages(1), fd2 = memfd_pages(1);
	struct vd_gnt *guest = guest_gnt(f);
	uint32_t ref, ref2;
	void *addr;

	assert_int_equal(f->ops->dmabuf_imp_to_refs(f->gnt, f->domid, fd, 1, &ref), 0);
	assert_int_equal(f->ops->dmabuf_imp_to_refs(f->gnt, f->domid, fd2, 1, &ref2), 0);
	assert_int_equal(f->ops->gnt_map(guest, 0, 1, &ref2, true, &addr), 0);
	assert_int_equal(stats(f, 0).imports_granted, 2);
	f->ops->gnt_close(f->gnt);
	assert_int_equal(f->ops->gnt_open(f->hv, &f->gnt), 0);
	assert_int_equal(stats(f, 0).imports_granted, 0);
	assert_int_equal(stats(f, 0).deferred_ends, 1);
	assert_int_equal(f->ops->gnt_map(guest, 0, 1, &ref, true, &addr), -EINVAL);
	/* The guest's unmap is the last use of the buffer. */
	f->ops->gnt_close(guest);
	assert_int_equal(stats(f, 0).pages_mapped, 0);
	close(fd);
	close(fd2);
}

/* Only the grantee maps; a read-only map of a read-write grant is fine. */
static void test_import_grantee_only(void **state)
{
	struct fixture *f = *state;
	int fd = memfd_pages(1);
	uint32_t ref, other;
	struct vd_gnt *guest = guest_gnt(f);
	void *addr;

	assert_int_equal(vd_sim_domain_create(f->sim, "h", &other), 0);
	assert_int_equal(f->ops->dmabuf_imp_to_refs(f->gnt, other, fd, 1, &ref), 0);
	assert_int_equal(f->ops->gnt_map(guest, 0, 1, &ref, false, &addr), -EACCES);
	f->ops->gnt_close(guest);
	assert_int_equal(f->ops->dmabuf_imp_to_refs(f->gnt, f->domid, fd, 1, &ref), 0);
	guest = guest_gnt(f);
	assert_int_equal(f->ops->gnt_map(guest, 0, 1, &ref, false, &addr), 0);
	assert_int_equal(f->ops->gnt_unmap(guest, addr, 1), 0);
	f->ops->gnt_close(guest);
	/* Two imports under one number: the newest is released first. */
	assert_int_equal(f->ops->dmabuf_imp_release(f->gnt, fd), 0);
	assert_int_equal(stats(f, 0).imports_granted, 1);
	assert_int_equal(f->ops->dmabuf_imp_release(f->gnt, fd), 0);
	assert_int_equal(stats(f, 0).imports_granted, 0);
	close(fd);
}

/* A driver domain that imported and died: its grants are revoked. */
static void test_import_granter_dies(void **state)
{
	struct fixture *f = *state;
	int fd = memfd_pages(2);
	uint32_t drv, refs[2];
	struct vd_hv *conn;
	struct vd_gnt *gnt;
	void *addr;

	assert_int_equal(vd_sim_domain_create(f->sim, "drv", &drv), 0);
	assert_int_equal(vd_sim_connect_as(f->sim, drv, &conn), 0);
	assert_int_equal(conn->impl->gnt_open(conn, &gnt), 0);
	assert_int_equal(conn->impl->dmabuf_imp_to_refs(gnt, 0, fd, 2, refs), 0);
	assert_int_equal(f->ops->gnt_map(f->gnt, drv, 2, refs, true, &addr), 0);
	assert_int_equal(vd_sim_domain_destroy(f->sim, drv), 0);
	assert_int_equal(stats(f, drv).imports_granted, 0);
	assert_int_equal(conn->impl->dmabuf_imp_to_refs(gnt, 0, fd, 2, refs), -ESRCH);
	assert_int_equal(conn->impl->dmabuf_imp_release(gnt, fd), 0);
	assert_int_equal(f->ops->gnt_unmap(f->gnt, addr, 2), 0);
	assert_int_equal(stats(f, drv).pages_mapped, 0);
	conn->impl->gnt_close(gnt);
	vd_hv_destroy(conn);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_export_release, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_export_release_unwaited, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_export_fd_reuse_pitfall, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_export_fd_placeholder, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_export_rejects, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_export_outlives_handle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_export_outlives_machine_handles, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_export_dead_domain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_maptrack_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_import_alias, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_import_rejects, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_import_deferred_end, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_import_gnt_close_releases, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_import_grantee_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_import_granter_dies, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
