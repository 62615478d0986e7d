/* SPDX-License-Identifier: MIT */
/*
 * Guest memory. Each domain's RAM is one memfd; frame n is the page at
 * offset n * 4096. Frames are handed out from the end of the file and
 * never reused (pfns only grow), so a pfn below nframes is always inside
 * the file and mapping it can never SIGBUS. Freed frames are punched out
 * of the file, which gives their memory back.
 *
 * A guest's view of its allocation and a backend's grant mapping are two
 * MAP_SHARED mappings of the same file pages: writes show through both.
 */
#include "hv/sim/sim_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A guest's own contiguous view of the pages it allocated. */
struct vd_sim_view {
	struct vd_sim_list link; /* in dom->views */
	void *addr;
	uint32_t count;
	uint32_t *pfns;
};

/* Pages i and i + 1 are consecutive pages of one file. */
static bool frames_adjacent(const int *fds, const uint32_t *pfns, uint32_t i)
{
	return pfns[i + 1] == pfns[i] + 1 && (!fds || fds[i + 1] == fds[i]);
}

int vd_sim_map_frames(int fd, const int *fds, const uint32_t *pfns, uint32_t count, int prot,
		      void **ret_addr)
{
	size_t len = (size_t)count * VD_SIM_PAGE_SIZE;
	uint8_t *base;

	/* Reserve the whole range first so that the runs land contiguously. */
	base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	for (uint32_t i = 0, run; i < count; i += run) {
		void *p;

		for (run = 1; i + run < count && frames_adjacent(fds, pfns, i + run - 1); run++)
			;
		p = mmap(base + (size_t)i * VD_SIM_PAGE_SIZE, (size_t)run * VD_SIM_PAGE_SIZE, prot,
			 MAP_SHARED | MAP_FIXED, fds ? fds[i] : fd,
			 (off_t)pfns[i] * VD_SIM_PAGE_SIZE);
		if (p == MAP_FAILED) {
			int r = -errno;

			munmap(base, len);
			return r;
		}
	}
	*ret_addr = base;
	return 0;
}

static int domain_memfd(struct vd_sim_domain *d)
{
	char name[32];

	if (d->memfd >= 0)
		return 0;
	snprintf(name, sizeof(name), "vd-sim-dom%u", d->domid);
	d->memfd = memfd_create(name, MFD_CLOEXEC);
	return d->memfd < 0 ? -errno : 0;
}

static int frames_grow(struct vd_sim_domain *d, uint32_t count, uint32_t *ret_base)
{
	if (count > VD_SIM_FRAMES_MAX - d->nframes)
		return -ENOMEM;
	if (ftruncate(d->memfd, (off_t)(d->nframes + count) * VD_SIM_PAGE_SIZE) < 0)
		return -errno;
	*ret_base = d->nframes;
	d->nframes += count;
	return 0;
}

/*
 * Runs of consecutive frames in an allocation, cycled: short runs and
 * single pages (which a backend cannot coalesce) between long ones (which
 * it can, as a real guest's partly fragmented memory allows).
 */
static const uint32_t run_lengths[] = {1, 2, 61, 3, 64, 1, 64, 5, 64, 7, 64};

/*
 * The pfns of an allocation of the count frames from base: split into
 * runs, the runs laid out in reverse order, so consecutive pages of the
 * guest's view are never consecutive frames across a run boundary. Small
 * allocations get single-frame runs: every neighbour is out of order.
 */
static void frames_order(uint32_t base, uint32_t count, uint32_t *pfns)
{
	uint32_t end = base + count, k = 0;

	for (uint32_t i = 0, run; i < count; i += run) {
		run = count <= 8 ? 1
				 : run_lengths[k++ % (sizeof(run_lengths) / sizeof(*run_lengths))];
		if (run > count - i)
			run = count - i;
		end -= run;
		for (uint32_t j = 0; j < run; j++)
			pfns[i + j] = end + j;
	}
}

static void view_free(struct vd_sim_view *v)
{
	vd_sim_list_del(&v->link);
	munmap(v->addr, (size_t)v->count * VD_SIM_PAGE_SIZE);
	free(v->pfns);
	free(v);
}

static int view_map(struct vd_sim_domain *d, struct vd_sim_view *v)
{
	uint32_t base = 0;
	int r;

	r = domain_memfd(d);
	if (r >= 0)
		r = frames_grow(d, v->count, &base);
	if (r < 0)
		return r;
	frames_order(base, v->count, v->pfns);
	return vd_sim_map_frames(d->memfd, NULL, v->pfns, v->count, PROT_READ | PROT_WRITE,
				 &v->addr);
}

int vd_sim_mem_alloc(struct vd_sim *sim, uint32_t domid, uint32_t count, void **ret_addr,
		     uint32_t *pfns)
{
	struct vd_sim_domain *d = vd_sim_domain_live(sim, domid);
	struct vd_sim_view *v;
	int r;

	if (!d)
		return -ESRCH;
	if (count == 0 || count > VD_SIM_MAP_MAX || !pfns)
		return -EINVAL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->count = count;
	v->pfns = malloc(count * sizeof(*v->pfns));
	r = v->pfns ? view_map(d, v) : -ENOMEM;
	if (r < 0) {
		free(v->pfns);
		free(v);
		return r;
	}
	vd_sim_list_add(&d->views, &v->link);
	memcpy(pfns, v->pfns, count * sizeof(*pfns));
	*ret_addr = v->addr;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Sorted pfns that other domains map now: those must keep their memory.
 * Pages of imported buffers (ext) are not the domain's frames.
 */
static uint32_t *mapped_pfns(struct vd_sim_domain *d, uint32_t *ret_n)
{
	uint32_t *set, n = 0;

	set = malloc((d->grant_cap ? d->grant_cap : 1) * sizeof(*set));
	if (!set)
		return NULL;
	for (uint32_t ref = 0; ref < d->grant_cap; ref++)
		if (d->grants[ref].map_count && !d->grants[ref].ext)
			set[n++] = d->grants[ref].pfn;
	qsort(set, n, sizeof(*set), cmp_u32);
	*ret_n = n;
	return set;
}

static bool frame_in(const uint32_t *set, uint32_t n, uint32_t pfn)
{
	return n && bsearch(&pfn, set, n, sizeof(*set), cmp_u32);
}

/*
 * Give the frames' memory back. A frame still mapped by another domain is
 * left alone (Xen keeps such a page until it is unmapped; here it stays
 * until the machine goes): the guest freed a page it had not ended.
 */
static void frames_punch(struct vd_sim_domain *d, const uint32_t *pfns, uint32_t count)
{
	uint32_t nset, *set = d->memfd >= 0 ? mapped_pfns(d, &nset) : NULL;

	if (!set)
		return;
	for (uint32_t i = 0, run; i < count; i += run) {
		run = 1;
		if (frame_in(set, nset, pfns[i]))
			continue;
		while (i + run < count && pfns[i + run] == pfns[i] + run &&
		       !frame_in(set, nset, pfns[i + run]))
			run++;
		fallocate(d->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			  (off_t)pfns[i] * VD_SIM_PAGE_SIZE, (off_t)run * VD_SIM_PAGE_SIZE);
	}
	free(set);
}

int vd_sim_mem_free(struct vd_sim *sim, uint32_t domid, void *addr, uint32_t count)
{
	struct vd_sim_domain *d = vd_sim_domain_get(sim, domid);
	struct vd_sim_list *pos, *tmp;

	if (!d)
		return -ESRCH;
	vd_sim_exports_reap(sim);
	vd_sim_list_each(pos, tmp, &d->views)
	{
		struct vd_sim_view *v = vd_sim_container_of(pos, struct vd_sim_view, link);

		if (v->addr == addr && v->count == count) {
			frames_punch(d, v->pfns, v->count);
			view_free(v);
			return 0;
		}
	}
	return -EINVAL;
}

void vd_sim_domain_mem_release(struct vd_sim_domain *d)
{
	if (d->memfd >= 0)
		close(d->memfd);
	d->memfd = -1;
}

void vd_sim_domain_mem_finish(struct vd_sim_domain *d)
{
	struct vd_sim_list *pos, *tmp;

	vd_sim_list_each(pos, tmp, &d->views)
	    view_free(vd_sim_container_of(pos, struct vd_sim_view, link));
	vd_sim_domain_mem_release(d);
}
