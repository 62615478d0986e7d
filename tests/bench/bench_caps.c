/* SPDX-License-Identifier: MIT */
/*
 * What the daemon holds with one guest at its caps (docs/resources.md):
 * its grant mappings (Dom0's maptrack entries), its fds and its memory,
 * at the default caps, against a baseline of one well-behaved 1080p guest
 * in the same run.
 *
 * "greedy" (frontend-allocated, zero-copy) makes 1-page buffers with two
 * framebuffers each until a cap refuses (max-buffers, max-framebuffers or
 * max-fds), then one buffer as big as its grant maps allow (max-grant-
 * maps); "greedy-be" (be-alloc=1) asks for 8 MiB buffers until
 * max-backend-bytes refuses, and writes every page it got. The retry list
 * is not filled here (it needs an importer that holds buffers); each entry
 * keeps what its buffer held, which the caps above count already.
 *
 * The sim is in this process: fds and memory are differences, and the
 * sim's own fds for the exports (one each) are counted apart.
 */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

#define CONNECT_TIMEOUT_MS 10000u
#define RESPONSE_TIMEOUT_MS 10000u
#define BE_CHUNK_PAGES 2048u /* 8 MiB */
#define MIB (1024.0 * 1024.0)

struct snapshot {
	double rss, anon;  /* bytes */
	double be_memory;  /* bytes allocated in the daemon's be-alloc buffers */
	double fds;
	double maptrack;   /* Dom0's grant mappings */
};

struct caps_bench {
	struct bench_rig rig;
	struct vd_simfront *good, *greedy, *greedy_be;
	bool answered;
	int32_t status;
};

/* ---- reading /proc/self ---- */

static void read_status(struct snapshot *s)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned long long kb;

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmRSS: %llu kB", &kb) == 1)
			s->rss = (double)kb * 1024.0;
		else if (sscanf(line, "RssAnon: %llu kB", &kb) == 1)
			s->anon = (double)kb * 1024.0;
	}
	if (f)
		fclose(f);
}

/* Open fds, and the bytes of the daemon's be-alloc memfds (each file once). */
static void read_fds(struct snapshot *s)
{
	DIR *d = opendir("/proc/self/fd");
	ino_t seen[1024];
	uint32_t nseen = 0;
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[300], link[256];
		struct stat st;
		bool known = false;
		ssize_t len;

		if (e->d_name[0] == '.')
			continue;
		s->fds++;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = '\0';
		if (!strstr(link, "vdispld-be-alloc") || stat(path, &st) < 0)
			continue;
		for (uint32_t i = 0; i < nseen && !known; i++)
			known = seen[i] == st.st_ino;
		if (!known && nseen < 1024) {
			seen[nseen++] = st.st_ino;
			s->be_memory += (double)st.st_blocks * 512.0;
		}
	}
	if (d)
		closedir(d);
	s->fds -= 1; /* the directory's own */
}

static void snap(struct caps_bench *b, struct snapshot *s)
{
	struct vd_sim_stats d0;

	malloc_trim(0);
	memset(s, 0, sizeof(*s));
	read_status(s);
	read_fds(s);
	if (vd_sim_domain_stats(b->rig.sim, 0, &d0) == 0)
		s->maptrack = (double)d0.maptrack_used;
}

/* ---- raw requests ---- */

static void on_resp(void *userdata, const struct xendispl_resp *rsp)
{
	struct caps_bench *b = userdata;

	b->status = rsp ? rsp->status : -ETIMEDOUT;
	b->answered = true;
}

static bool answered(void *arg)
{
	return ((struct caps_bench *)arg)->answered;
}

static int32_t request(struct caps_bench *b, struct vd_simfront *g, const struct xendispl_req *r)
{
	b->answered = false;
	if (vd_simfront_send_raw(g, 0, r, on_resp, b) < 0 ||
	    !bench_rig_run_until(&b->rig, answered, b, RESPONSE_TIMEOUT_MS))
		return -ETIMEDOUT;
	return b->status;
}

static int32_t dbuf_create(struct caps_bench *b, struct vd_simfront *g, uint64_t cookie,
			   const struct vd_simfront_buf *buf)
{
	struct xendispl_req r = {.operation = XENDISPL_OP_DBUF_CREATE};

	r.op.dbuf_create.dbuf_cookie = cookie;
	r.op.dbuf_create.buffer_sz = buf->num_pages * VD_PAGE_SIZE;
	r.op.dbuf_create.gref_directory = buf->dir_grefs[0];
	r.op.dbuf_create.flags = buf->be_alloc ? XENDISPL_DBUF_FLG_REQ_ALLOC : 0;
	return request(b, g, &r);
}

static int32_t fb_attach(struct caps_bench *b, uint64_t dbuf, uint64_t fb)
{
	struct xendispl_req r = {.operation = XENDISPL_OP_FB_ATTACH};

	r.op.fb_attach.dbuf_cookie = dbuf;
	r.op.fb_attach.fb_cookie = fb;
	r.op.fb_attach.width = 32;
	r.op.fb_attach.height = 32;
	r.op.fb_attach.pixel_format = BENCH_XRGB8888;
	return request(b, b->greedy, &r);
}

/* ---- the greedy guests ---- */

static struct vd_res_use guest_use(struct caps_bench *b, struct vd_simfront *g, enum vd_res r)
{
	struct vd_res_use u[VD_RES_COUNT] = {{0}};

	vd_backend_guest_resources(b->rig.be, vd_simfront_domid(g), u);
	return u[r];
}

/*
 * Small buffers with two fbs each until one buffer is left (or a cap
 * refuses), then one with the rest of the grant maps, with fbs until
 * refused. The big one's guest pages are allocated first: the sim grants
 * a page in time proportional to the exports alive, and a guest that
 * stalls its loop for seconds times its own request out.
 */
static int fill_fe(struct caps_bench *b, struct vd_simfront_buf **small, struct vd_simfront_buf **big)
{
	static const struct vd_caps caps = VD_CAPS_DEFAULT;
	struct vd_res_use maps = guest_use(b, b->greedy, VD_RES_MAPS);
	/* What is left after the ring (2) and the small buffers (2 each, zero-copy). */
	uint64_t cookie = 1, left = (maps.max - maps.used - 2u * (caps.max_dbufs - 1)) / 2;
	int32_t st = 0;
	int r = vd_simfront_buf_alloc(b->greedy, 1, small);

	if (r >= 0)
		r = vd_simfront_buf_alloc(b->greedy, (uint32_t)left, big);
	for (; r >= 0 && st == 0 && cookie < caps.max_dbufs; cookie++) {
		st = dbuf_create(b, b->greedy, cookie, *small);
		for (uint64_t k = 0; st == 0 && k < 2; k++)
			st = fb_attach(b, cookie, cookie * 4 + k);
	}
	if (r < 0 || st == -ETIMEDOUT)
		return r < 0 ? r : st;
	st = dbuf_create(b, b->greedy, cookie, *big);
	for (uint64_t k = 0; st == 0 && k < 8; k++)
		st = fb_attach(b, cookie, cookie * 4 + k);
	return st == -ETIMEDOUT ? st : 0;
}

/* be-alloc buffers of 8 MiB until refused; the guest writes every page it got. */
static int fill_be(struct caps_bench *b, struct vd_simfront_buf **bufs, uint32_t max)
{
	for (uint32_t i = 0; i < max; i++) {
		int r = vd_simfront_buf_alloc_dir(b->greedy_be, BE_CHUNK_PAGES, &bufs[i]);

		if (r < 0)
			return r;
		if (dbuf_create(b, b->greedy_be, 100 + i, bufs[i]) != 0)
			return 0;
		r = vd_simfront_buf_map_backend(b->greedy_be, bufs[i]);
		if (r < 0)
			return r;
		memset(bufs[i]->data, 0x5a, (size_t)BE_CHUNK_PAGES * VD_PAGE_SIZE);
	}
	return 0;
}

/* ---- the measurement ---- */

static int guest(struct caps_bench *b, const char *name, struct vd_simfront_opts *o,
		 struct vd_simfront **ret)
{
	int r = vd_simfront_create(b->rig.hv, b->rig.gloop, name, o, ret);

	if (r >= 0 && !bench_rig_run_until(&b->rig, bench_guest_connected, *ret, CONNECT_TIMEOUT_MS))
		r = -ETIMEDOUT;
	return r;
}

static bool warm(void *arg)
{
	struct vd_simfront_stats s;

	vd_simfront_get_stats(arg, &s);
	return s.frames_done >= 10;
}

static void report(struct caps_bench *b, const struct snapshot *base, const struct snapshot *at)
{
	struct vd_res_use fds = guest_use(b, b->greedy, VD_RES_FDS);
	struct vd_res_use be_fds = guest_use(b, b->greedy_be, VD_RES_FDS);
	struct vd_res_use maps = guest_use(b, b->greedy, VD_RES_MAPS);
	struct vd_bufs_stats unused;

	bench_report("caps.baseline.maptrack", base->maptrack, "maps", NULL,
		     "one 1080p guest, 2 buffers: Dom0 grant mappings");
	bench_report("caps.at_caps.maptrack", at->maptrack, "maps", "caps.baseline.maptrack",
		     "+ a guest at its caps: Dom0 grant mappings");
	bench_report("caps.greedy.grant_maps", (double)maps.used, "maps", NULL,
		     "the greedy guest's grant mappings (cap max-grant-maps)");
	bench_report("caps.greedy.fds", (double)fds.used, "fds", NULL,
		     "the greedy guest's fds as counted (cap max-fds)");
	bench_report("caps.greedy_be.fds", (double)be_fds.used, "fds", NULL,
		     "the be-alloc guest's fds as counted");
	bench_report("caps.at_caps.fds", at->fds - base->fds, "fds", NULL,
		     "fds opened for both greedy guests (the in-process sim's included)");
	(void)unused;
	bench_report("caps.baseline.rss", base->rss / MIB, "MiB", NULL,
		     "process RSS, one guest (the sim and its guest's memory included)");
	bench_report("caps.at_caps.anon", (at->anon - base->anon) / MIB, "MiB", NULL,
		     "anonymous memory added: daemon heap and the sim's map records");
	bench_report("caps.at_caps.be_memory", at->be_memory / MIB, "MiB", NULL,
		     "be-alloc memory the daemon allocated (cap max-backend-bytes)");
}

int bench_caps(const struct bench_cfg *cfg)
{
	struct vd_simfront_opts go = {.nconn = 1, .width = 1920, .height = 1080};
	struct vd_simfront_opts fo = {.nconn = 1, .width = 320, .height = 240, .no_client = true};
	struct vd_simfront_opts bo = fo;
	static struct caps_bench b;
	struct vd_simfront_buf *small = NULL, *big = NULL, *be[64] = {NULL};
	struct snapshot base, at;
	int r;

	(void)cfg;
	memset(&b, 0, sizeof(b));
	bo.be_alloc = true;
	r = bench_rig_init(&b.rig, &(struct vd_output_opts){.refresh_mhz = 0}, NULL);
	if (r >= 0)
		r = guest(&b, "good", &go, &b.good);
	if (r >= 0 && !bench_rig_run_until(&b.rig, warm, b.good, CONNECT_TIMEOUT_MS))
		r = -ETIMEDOUT;
	if (r >= 0)
		r = guest(&b, "greedy", &fo, &b.greedy);
	if (r >= 0)
		r = guest(&b, "greedy-be", &bo, &b.greedy_be);
	if (r >= 0)
		snap(&b, &base);
	if (r >= 0)
		r = fill_fe(&b, &small, &big);
	if (r >= 0)
		r = fill_be(&b, be, 64);
	if (r >= 0) {
		snap(&b, &at);
		report(&b, &base, &at);
	} else {
		fprintf(stderr, "vdispl-bench: caps: %s\n", strerror(-r));
	}
	vd_backend_destroy(b.rig.be);
	b.rig.be = NULL;
	for (uint32_t i = 0; i < 64 && be[i]; i++)
		vd_simfront_buf_free(b.greedy_be, be[i]);
	if (small)
		vd_simfront_buf_free(b.greedy, small);
	if (big)
		vd_simfront_buf_free(b.greedy, big);
	vd_simfront_destroy(b.greedy_be);
	vd_simfront_destroy(b.greedy);
	vd_simfront_destroy(b.good);
	bench_rig_fini(&b.rig);
	return r;
}
