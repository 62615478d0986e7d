/* SPDX-License-Identifier: MIT */
/*
 * DBUF_CREATE of a 1080p (2025 data pages + 2 directory pages) and a 4K
 * (8100 + 8) XRGB8888 buffer, sent raw by a guest without a client, then
 * DBUF_DESTROY; each request timed from the push to the guest's response
 * callback, and the daemon's CPU time for it. 4K is beyond what Linux
 * xen-front offers (4095x2047) but within what the daemon accepts.
 *
 * Three ways to share the buffer, each on a backend and guest of its own,
 * all three alive at once and taking turns, cycle by cycle, so that each
 * sees the same machine:
 *   zc  - frontend-allocated, zero-copy on (the default): the daemon reads
 *         the directory, exports the grants as a dma-buf and maps them for
 *         the CPU; DESTROY unmaps and answers once the dma-buf is released
 *         (the gate: here at once, as nothing else holds it);
 *   map - frontend-allocated, zero_copy off: directory, grant map;
 *   be  - backend-allocated (the guest's toolstack set be-alloc=1, the
 *         request has REQ_ALLOC and a directory only): the daemon
 *         allocates, grants the pages to the guest and writes the refs into
 *         its directory; DESTROY takes the grants back and frees. Between
 *         the two, untimed, the guest maps the buffer, touches every page
 *         and unmaps it (Linux unmaps before DBUF_DESTROY), so DESTROY frees
 *         memory that was really allocated, as after a guest drew in it.
 *
 * Baselines, same page counts, same run, taking their turns with the modes:
 *   mmap    - mmap + munmap of an anonymous range of data + directory pages;
 *   sim_gnt - the sim hypervisor's share of one grant-mapped create +
 *             destroy: each directory page mapped, read and unmapped alone,
 *             then all data pages mapped and unmapped at once (what the
 *             daemon asks of it without zero-copy).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"

#define CONNECT_TIMEOUT_MS 10000u
#define RESPONSE_TIMEOUT_MS 10000u
#define WARMUP 3u
#define NSIZES 2u
#define NMODES 3u

struct db_size {
	const char *name;
	uint32_t width, height;
};

static const struct db_size sizes[NSIZES] = {{"1080p", 1920, 1080}, {"4k", 3840, 2160}};
static const enum bench_bufmode modes[NMODES] = {BENCH_ZC, BENCH_MAP, BENCH_BE};

/* One mode at one size. */
struct db_set {
	struct bench_samples create, create_cpu, destroy, destroy_cpu, cycle;
};

/* A backend in one mode, and its guest. */
struct db_mode {
	struct bench_rig rig;
	struct vd_simfront *front;
	struct vd_gnt *gnt; /* the sim_gnt baseline's own grant handle */
	struct vd_simfront_buf *buf;
};

struct db_bench {
	struct db_mode m[NMODES];
	uint64_t next_cookie;
	bool answered;
	int32_t status;
	uint64_t t_resp;
	struct db_set set[NSIZES][NMODES];
	struct bench_samples mmap_s[NSIZES], simgnt[NSIZES]; /* over all modes */
};

static void on_resp(void *userdata, const struct xendispl_resp *rsp)
{
	struct db_bench *b = userdata;

	b->t_resp = bench_now_ns();
	b->status = rsp ? rsp->status : -ETIMEDOUT;
	b->answered = true;
}

static bool answered(void *arg)
{
	return ((struct db_bench *)arg)->answered;
}

/* Send req, wait for its response; *ret_ns the round trip, *ret_cpu the daemon's part. */
static int round_trip(struct db_bench *b, struct db_mode *m, const struct xendispl_req *req,
		      uint64_t *ret_ns, uint64_t *ret_cpu)
{
	uint64_t c0 = bench_rig_daemon_cpu(&m->rig), t0;
	int r;

	b->answered = false;
	t0 = bench_now_ns();
	r = vd_simfront_send_raw(m->front, 0, req, on_resp, b);
	if (r < 0)
		return r;
	if (!bench_rig_run_until(&m->rig, answered, b, RESPONSE_TIMEOUT_MS))
		return -ETIMEDOUT;
	if (b->status)
		return b->status < 0 ? b->status : -EPROTO;
	*ret_ns = b->t_resp - t0;
	*ret_cpu = bench_rig_daemon_cpu(&m->rig) - c0;
	return 0;
}

/*
 * be-alloc, untimed: the guest maps the backend's buffer, writes every page,
 * unmaps. Populated in one call where the kernel can (5.14+): a page fault
 * per page is slow in some VMs (~30 us in the one of docs/performance.md).
 */
static int guest_touches(struct db_mode *m, struct vd_simfront_buf *buf)
{
	size_t len = (size_t)buf->num_pages * 4096u;
	int r = vd_simfront_buf_map_backend(m->front, buf);

	if (r < 0)
		return r;
#ifdef MADV_POPULATE_WRITE
	if (madvise(buf->data, len, MADV_POPULATE_WRITE) < 0)
#endif
		for (size_t p = 0; p < len; p += 4096u)
			((volatile uint8_t *)buf->data)[p] = (uint8_t)p;
	vd_simfront_buf_unmap_backend(m->front, buf);
	return 0;
}

static int create_destroy(struct db_bench *b, struct db_mode *m, const struct db_size *sz,
			  struct db_set *set)
{
	struct vd_simfront_buf *buf = m->buf;
	struct xendispl_req req;
	uint64_t cookie = ++b->next_cookie, t_create, t_destroy, cpu, cpu2;
	int r;

	memset(&req, 0, sizeof(req));
	req.operation = XENDISPL_OP_DBUF_CREATE;
	req.op.dbuf_create = (struct xendispl_dbuf_create_req){
	    .dbuf_cookie = cookie,
	    .width = sz->width,
	    .height = sz->height,
	    .bpp = 32,
	    .buffer_sz = sz->width * sz->height * 4u,
	    .flags = buf->be_alloc ? XENDISPL_DBUF_FLG_REQ_ALLOC : 0,
	    .gref_directory = buf->dir_grefs[0],
	};
	r = round_trip(b, m, &req, &t_create, &cpu);
	if (r >= 0 && buf->be_alloc)
		r = guest_touches(m, buf);
	if (r < 0)
		return r;
	memset(&req, 0, sizeof(req));
	req.operation = XENDISPL_OP_DBUF_DESTROY;
	req.op.dbuf_destroy.dbuf_cookie = cookie;
	r = round_trip(b, m, &req, &t_destroy, &cpu2);
	if (r < 0 || !set)
		return r;
	bench_samples_add(&set->create, t_create);
	bench_samples_add(&set->create_cpu, cpu);
	bench_samples_add(&set->destroy, t_destroy);
	bench_samples_add(&set->destroy_cpu, cpu2);
	bench_samples_add(&set->cycle, t_create + t_destroy);
	return 0;
}

static int plain_mmap(struct bench_samples *s, uint32_t pages)
{
	uint64_t t0 = bench_now_ns();
	void *p = mmap(NULL, (size_t)pages * 4096u, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	munmap(p, (size_t)pages * 4096u);
	if (s)
		bench_samples_add(s, bench_now_ns() - t0);
	return 0;
}

/* Map count refs, copy the first page out if copy (a directory page is read), unmap. */
static int map_unmap(struct db_mode *m, uint32_t count, const uint32_t *refs, void *copy)
{
	const struct vd_hv_impl *hv = m->rig.hv->impl;
	void *addr;
	int r = hv->gnt_map(m->gnt, vd_simfront_domid(m->front), count, refs, false, &addr);

	if (r < 0)
		return r;
	if (copy)
		memcpy(copy, addr, 4096);
	return hv->gnt_unmap(m->gnt, addr, count);
}

/* On the grant-mapped mode's machine, with its guest's buffer. */
static int sim_gnt(struct db_mode *m, struct bench_samples *s)
{
	const struct vd_simfront_buf *buf = m->buf;
	uint8_t page[4096];
	uint64_t t0 = bench_now_ns();
	int r = 0;

	for (uint32_t d = 0; r >= 0 && d < buf->num_dir; d++)
		r = map_unmap(m, 1, &buf->dir_grefs[d], page);
	if (r >= 0)
		r = map_unmap(m, buf->num_pages, buf->grefs, NULL);
	if (r >= 0 && s)
		bench_samples_add(s, bench_now_ns() - t0);
	return r;
}

static double us(struct bench_samples *s, double q)
{
	return (double)bench_samples_quantile(s, q) / 1e3;
}

static void report_size(struct db_bench *b, uint32_t si)
{
	const char *size = sizes[si].name;
	char name[64], base[64], what[96];

	snprintf(name, sizeof(name), "dbuf.%s.mmap_p50", size);
	bench_report(name, us(&b->mmap_s[si], 0.5), "us", NULL,
		     "mmap+munmap of as many pages, median");
	snprintf(name, sizeof(name), "dbuf.%s.mmap_p99", size);
	bench_report(name, us(&b->mmap_s[si], 0.99), "us", NULL, "mmap+munmap, p99");
	snprintf(name, sizeof(name), "dbuf.%s.sim_gnt_p50", size);
	bench_report(name, us(&b->simgnt[si], 0.5), "us", NULL,
		     "sim: dir pages map+read+unmap, data map+unmap");
	for (uint32_t mi = 0; mi < NMODES; mi++) {
		static const char *const label[] = {[BENCH_ZC] = "zero-copy",
						    [BENCH_MAP] = "grant-mapped",
						    [BENCH_BE] = "be-alloc"};
		const char *mn = bench_bufmode_name(modes[mi]);
		struct db_set *set = &b->set[si][mi];
		const struct {
			const char *metric, *base, *what;
			struct bench_samples *s;
			double q;
		} rows[] = {
		    {"create_p50", "mmap_p50", "DBUF_CREATE round trip, median", &set->create, 0.5},
		    {"create_p99", "mmap_p99", "DBUF_CREATE round trip, p99", &set->create, 0.99},
		    {"create_cpu_p50", "mmap_p50", "daemon CPU per DBUF_CREATE, median",
		     &set->create_cpu, 0.5},
		    {"destroy_p50", "mmap_p50", "DBUF_DESTROY round trip (to release), median",
		     &set->destroy, 0.5},
		    {"destroy_p99", "mmap_p99", "DBUF_DESTROY round trip (to release), p99",
		     &set->destroy, 0.99},
		    {"destroy_cpu_p50", "mmap_p50", "daemon CPU per DBUF_DESTROY, median",
		     &set->destroy_cpu, 0.5},
		    {"cycle_p50", modes[mi] == BENCH_BE ? "mmap_p50" : "sim_gnt_p50",
		     "create + destroy round trips, median", &set->cycle, 0.5},
		};

		for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			snprintf(name, sizeof(name), "dbuf.%s.%s.%s", size, mn, rows[i].metric);
			snprintf(base, sizeof(base), "dbuf.%s.%s", size, rows[i].base);
			snprintf(what, sizeof(what), "%s: %s", label[modes[mi]], rows[i].what);
			bench_report(name, us(rows[i].s, rows[i].q), "us", base, what);
		}
	}
}

/* Both sizes: the modes take turns, then the baselines, cycle by cycle. */
static int run_size(struct db_bench *b, uint32_t si, uint32_t iters)
{
	const struct db_size *sz = &sizes[si];
	uint32_t pages = vd_pages_for_bytes(sz->width * sz->height * 4u), mi;
	struct db_mode *map = NULL;
	int r = 0;

	for (mi = 0; r >= 0 && mi < NMODES; mi++) {
		struct db_mode *m = &b->m[mi];

		if (modes[mi] == BENCH_MAP)
			map = m;
		r = modes[mi] == BENCH_BE ? vd_simfront_buf_alloc_dir(m->front, pages, &m->buf)
					  : vd_simfront_buf_alloc(m->front, pages, &m->buf);
	}
	for (uint32_t i = 0; r >= 0 && i < WARMUP + iters; i++) {
		bool keep = i >= WARMUP;

		for (mi = 0; r >= 0 && mi < NMODES; mi++)
			r = create_destroy(b, &b->m[mi], sz, keep ? &b->set[si][mi] : NULL);
		if (r >= 0)
			r = plain_mmap(keep ? &b->mmap_s[si] : NULL, pages + map->buf->num_dir);
		if (r >= 0)
			r = sim_gnt(map, keep ? &b->simgnt[si] : NULL);
	}
	if (r < 0)
		fprintf(stderr, "vdispl-bench: dbuf %s (%s): %s\n", sz->name,
			mi ? bench_bufmode_name(modes[mi - 1]) : "-", strerror(-r));
	for (mi = 0; mi < NMODES; mi++) {
		vd_simfront_buf_free(b->m[mi].front, b->m[mi].buf);
		b->m[mi].buf = NULL;
	}
	return r;
}

/* A backend in mode mi and one guest (be-alloc=1 for be). */
static int mode_init(struct db_mode *m, enum bench_bufmode mode)
{
	struct vd_output_opts oo;
	struct vd_backend_opts bo;
	struct vd_simfront_opts fo = {.nconn = 1, .width = 1920, .height = 1080, .no_client = true,
				      .be_alloc = mode == BENCH_BE};
	int r;

	bench_bufmode_opts(mode, &oo, &bo);
	r = bench_rig_init(&m->rig, &oo, &bo);
	if (r < 0)
		return r;
	r = m->rig.hv->impl->gnt_open(m->rig.hv, &m->gnt);
	if (r >= 0)
		r = vd_simfront_create(m->rig.hv, m->rig.gloop, "dbuf", &fo, &m->front);
	if (r >= 0 &&
	    !bench_rig_run_until(&m->rig, bench_guest_connected, m->front, CONNECT_TIMEOUT_MS))
		r = -ETIMEDOUT;
	return r;
}

static void mode_fini(struct db_mode *m)
{
	if (!m->rig.hv)
		return;
	vd_simfront_destroy(m->front);
	if (m->gnt)
		m->rig.hv->impl->gnt_close(m->gnt);
	bench_rig_fini(&m->rig);
	memset(m, 0, sizeof(*m));
}

static void free_samples(struct db_bench *b)
{
	for (uint32_t si = 0; si < NSIZES; si++) {
		for (uint32_t mi = 0; mi < NMODES; mi++) {
			struct db_set *set = &b->set[si][mi];

			bench_samples_free(&set->create);
			bench_samples_free(&set->create_cpu);
			bench_samples_free(&set->destroy);
			bench_samples_free(&set->destroy_cpu);
			bench_samples_free(&set->cycle);
		}
		bench_samples_free(&b->mmap_s[si]);
		bench_samples_free(&b->simgnt[si]);
	}
}

int bench_dbuf(const struct bench_cfg *cfg)
{
	uint32_t iters = cfg->quick ? 10 : 100;
	static struct db_bench b;
	int r = 0;

	memset(&b, 0, sizeof(b));
	for (uint32_t mi = 0; r >= 0 && mi < NMODES; mi++)
		r = mode_init(&b.m[mi], modes[mi]);
	for (uint32_t si = 0; r >= 0 && si < NSIZES; si++)
		r = run_size(&b, si, iters);
	for (uint32_t si = 0; r >= 0 && si < NSIZES; si++)
		report_size(&b, si);
	if (r < 0)
		fprintf(stderr, "vdispl-bench: dbuf: %s\n", strerror(-r));
	for (uint32_t mi = 0; mi < NMODES; mi++)
		mode_fini(&b.m[mi]);
	free_samples(&b);
	return r;
}
