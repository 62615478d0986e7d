/* SPDX-License-Identifier: MIT */
/*
 * DBUF_CREATE of a 1080p (2025 data pages + 2 directory pages) and a 4K
 * (8100 + 8) XRGB8888 buffer, sent raw by a guest without a client, then
 * DBUF_DESTROY; each request timed from the push to the guest's response
 * callback, and the daemon's CPU time for it. 4K is beyond what Linux
 * xen-front offers (4095x2047) but within what the daemon accepts.
 *
 * Baselines, same page counts, same run:
 *   mmap    - mmap + munmap of an anonymous range of data + directory pages;
 *   sim_gnt - the sim hypervisor's share of one create + destroy: each
 *             directory page mapped, read and unmapped alone, then all data
 *             pages mapped and unmapped at once (what the daemon asks of it).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"

#define CONNECT_TIMEOUT_MS 10000u
#define RESPONSE_TIMEOUT_MS 10000u
#define WARMUP 3u

struct db_size {
	const char *name;
	uint32_t width, height;
};

struct db_bench {
	struct bench_rig rig;
	struct vd_simfront *front;
	struct vd_gnt *gnt; /* the baseline's own grant handle */
	uint64_t next_cookie;
	bool answered;
	int32_t status;
	uint64_t t_resp;
	struct bench_samples create, create_cpu, destroy, cycle, mmap_s, simgnt;
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
static int round_trip(struct db_bench *b, const struct xendispl_req *req, uint64_t *ret_ns,
		      uint64_t *ret_cpu)
{
	uint64_t c0 = bench_rig_daemon_cpu(&b->rig), t0;
	int r;

	b->answered = false;
	t0 = bench_now_ns();
	r = vd_simfront_send_raw(b->front, 0, req, on_resp, b);
	if (r < 0)
		return r;
	if (!bench_rig_run_until(&b->rig, answered, b, RESPONSE_TIMEOUT_MS))
		return -ETIMEDOUT;
	if (b->status)
		return b->status < 0 ? b->status : -EPROTO;
	*ret_ns = b->t_resp - t0;
	*ret_cpu = bench_rig_daemon_cpu(&b->rig) - c0;
	return 0;
}

static int create_destroy(struct db_bench *b, const struct db_size *sz,
			  const struct vd_simfront_buf *buf, bool keep)
{
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
	    .gref_directory = buf->dir_grefs[0],
	};
	r = round_trip(b, &req, &t_create, &cpu);
	if (r < 0)
		return r;
	memset(&req, 0, sizeof(req));
	req.operation = XENDISPL_OP_DBUF_DESTROY;
	req.op.dbuf_destroy.dbuf_cookie = cookie;
	r = round_trip(b, &req, &t_destroy, &cpu2);
	if (r < 0 || !keep)
		return r;
	bench_samples_add(&b->create, t_create);
	bench_samples_add(&b->create_cpu, cpu);
	bench_samples_add(&b->destroy, t_destroy);
	bench_samples_add(&b->cycle, t_create + t_destroy);
	return 0;
}

static int plain_mmap(struct db_bench *b, uint32_t pages, bool keep)
{
	uint64_t t0 = bench_now_ns();
	void *p = mmap(NULL, (size_t)pages * 4096u, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -errno;
	munmap(p, (size_t)pages * 4096u);
	if (keep)
		bench_samples_add(&b->mmap_s, bench_now_ns() - t0);
	return 0;
}

/* Map count refs, copy the first page out if copy (a directory page is read), unmap. */
static int map_unmap(struct db_bench *b, uint32_t count, const uint32_t *refs, void *copy)
{
	const struct vd_hv_impl *hv = b->rig.hv->impl;
	void *addr;
	int r = hv->gnt_map(b->gnt, vd_simfront_domid(b->front), count, refs, false, &addr);

	if (r < 0)
		return r;
	if (copy)
		memcpy(copy, addr, 4096);
	return hv->gnt_unmap(b->gnt, addr, count);
}

static int sim_gnt(struct db_bench *b, const struct vd_simfront_buf *buf, bool keep)
{
	uint8_t page[4096];
	uint64_t t0 = bench_now_ns();
	int r = 0;

	for (uint32_t d = 0; r >= 0 && d < buf->num_dir; d++)
		r = map_unmap(b, 1, &buf->dir_grefs[d], page);
	if (r >= 0)
		r = map_unmap(b, buf->num_pages, buf->grefs, NULL);
	if (r >= 0 && keep)
		bench_samples_add(&b->simgnt, bench_now_ns() - t0);
	return r;
}

static void clear_samples(struct db_bench *b)
{
	bench_samples_clear(&b->create);
	bench_samples_clear(&b->create_cpu);
	bench_samples_clear(&b->destroy);
	bench_samples_clear(&b->cycle);
	bench_samples_clear(&b->mmap_s);
	bench_samples_clear(&b->simgnt);
}

static double us(struct bench_samples *s, double q)
{
	return (double)bench_samples_quantile(s, q) / 1e3;
}

static void report(struct db_bench *b, const char *size)
{
	const struct {
		const char *metric, *base, *what;
		struct bench_samples *s;
		double q;
	} rows[] = {
	    {"mmap_p50", NULL, "mmap+munmap of as many pages, median", &b->mmap_s, 0.5},
	    {"mmap_p99", NULL, "mmap+munmap, p99", &b->mmap_s, 0.99},
	    {"sim_gnt_p50", NULL, "sim: dir pages map+read+unmap, data map+unmap", &b->simgnt, 0.5},
	    {"create_p50", "mmap_p50", "DBUF_CREATE round trip, median", &b->create, 0.5},
	    {"create_p99", "mmap_p99", "DBUF_CREATE round trip, p99", &b->create, 0.99},
	    {"create_cpu_p50", "mmap_p50", "daemon CPU for one DBUF_CREATE, median", &b->create_cpu,
	     0.5},
	    {"destroy_p50", NULL, "DBUF_DESTROY round trip, median", &b->destroy, 0.5},
	    {"cycle_p50", "sim_gnt_p50", "create + destroy round trips, median", &b->cycle, 0.5},
	};
	char name[64], base[64];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(name, sizeof(name), "dbuf.%s.%s", size, rows[i].metric);
		snprintf(base, sizeof(base), "dbuf.%s.%s", size, rows[i].base ? rows[i].base : "");
		bench_report(name, us(rows[i].s, rows[i].q), "us", rows[i].base ? base : NULL,
			     rows[i].what);
	}
}

static int run_size(struct db_bench *b, const struct db_size *sz, uint32_t iters)
{
	uint32_t pages = vd_pages_for_bytes(sz->width * sz->height * 4u);
	struct vd_simfront_buf *buf = NULL;
	int r = vd_simfront_buf_alloc(b->front, pages, &buf);

	clear_samples(b);
	for (uint32_t i = 0; r >= 0 && i < WARMUP + iters; i++) {
		bool keep = i >= WARMUP;

		r = create_destroy(b, sz, buf, keep);
		if (r >= 0)
			r = plain_mmap(b, pages + buf->num_dir, keep);
		if (r >= 0)
			r = sim_gnt(b, buf, keep);
	}
	if (r >= 0)
		report(b, sz->name);
	else
		fprintf(stderr, "vdispl-bench: dbuf %s: %s\n", sz->name, strerror(-r));
	if (buf)
		vd_simfront_buf_free(b->front, buf);
	return r;
}

static void free_samples(struct db_bench *b)
{
	bench_samples_free(&b->create);
	bench_samples_free(&b->create_cpu);
	bench_samples_free(&b->destroy);
	bench_samples_free(&b->cycle);
	bench_samples_free(&b->mmap_s);
	bench_samples_free(&b->simgnt);
}

int bench_dbuf(const struct bench_cfg *cfg)
{
	static const struct db_size sizes[] = {{"1080p", 1920, 1080}, {"4k", 3840, 2160}};
	struct vd_output_opts oo = {.refresh_mhz = 0};
	struct vd_simfront_opts fo = {.nconn = 1, .width = 1920, .height = 1080, .no_client = true};
	uint32_t iters = cfg->quick ? 10 : 100;
	struct db_bench b = {0};
	int r = bench_rig_init(&b.rig, &oo);

	if (r >= 0)
		r = b.rig.hv->impl->gnt_open(b.rig.hv, &b.gnt);
	if (r >= 0)
		r = vd_simfront_create(b.rig.hv, b.rig.gloop, "dbuf", &fo, &b.front);
	if (r >= 0 &&
	    !bench_rig_run_until(&b.rig, bench_guest_connected, b.front, CONNECT_TIMEOUT_MS))
		r = -ETIMEDOUT;
	for (size_t i = 0; r >= 0 && i < sizeof(sizes) / sizeof(sizes[0]); i++)
		r = run_size(&b, &sizes[i], iters);
	vd_simfront_destroy(b.front);
	if (b.gnt)
		b.rig.hv->impl->gnt_close(b.gnt);
	if (b.rig.hv)
		bench_rig_fini(&b.rig);
	free_samples(&b);
	return r;
}
