/* SPDX-License-Identifier: MIT */
/*
 * Memory per connected guest: N guests, one 1920x1080 XRGB8888 connector
 * each with two buffers (the client's default), flipping, in each buffer
 * mode - zero-copy, grant-mapped, copy (--copy) and be-alloc. Everything
 * is a difference between the same backend with N guests and with none,
 * divided by N, taken while the guests flip (each has shown at least
 * WARM_FRAMES frames, so every buffer was drawn and, in copy mode, copied).
 *
 * In the sim the guests' memory is in this process, so the resident set
 * (RSS) counts both sides. The parts, as far as they can be told apart:
 *   guest_mem  - pages allocated in the guests' RAM files (memfd
 *                vd-sim-dom*, by st_blocks): the guests' own memory;
 *   anon       - anonymous resident memory (RssAnon): the daemon's heap
 *                and the output's copy buffers, but also the sim's and the
 *                simulated guests' bookkeeping (grant tables, mostly).
 *                Baseline sim_guest.anon: the same guests with their two
 *                buffers granted, and no backend: the difference is the
 *                daemon's (with the sim's records of its maps and exports,
 *                which on Xen are gntdev's, in the daemon's kernel);
 *   daemon_bufs - memory the daemon allocated for be-alloc buffers (memfd
 *                vdispld-be-alloc, by st_blocks);
 *   pages_held - the guests' pages the backend holds through the
 *                hypervisor (sim pages_mapped: CPU grant maps, dma-buf
 *                exports and the ring pages); no RAM of the daemon in the
 *                sim, on Xen a grant mapping each (maptrack entries, and
 *                one ballooned or unpopulated frame per mapped page);
 *   cpu_mapped - of those, the pages mapped into the daemon's address
 *                space for the CPU (read-only shared mappings of the guest
 *                RAM files in /proc/self/smaps), and cpu_resident, how many
 *                of them have been touched (faulted in: they count in RSS
 *                a second time, though they are the guest's memory).
 * malloc_trim(0) before each reading, so what is measured is memory in
 * use, not what the allocator kept from an earlier mode.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

#define WIDTH 1920u
#define HEIGHT 1080u
#define FRAME_BYTES ((uint64_t)WIDTH * HEIGHT * 4u)
#define FRAME_PAGES ((FRAME_BYTES + 4095u) / 4096u)
#define NBUFS 2u
#define MAX_GUESTS 8u
#define WARM_FRAMES 6u
#define CONNECT_TIMEOUT_MS 30000u
#define MAX_FILES 256u
#define NMODES 4u
#define MIB (1024.0 * 1024.0)

static const char GUEST_MEMFD[] = "/memfd:vd-sim-dom";
static const char DAEMON_MEMFD[] = "/memfd:vdispld-be-alloc";

/* What one reading of the process shows. */
struct mem_snap {
	double rss, anon;		 /* bytes: VmRSS, RssAnon */
	double guest_mem, daemon_mem;	 /* bytes allocated in the memfds */
	double cpu_mapped, cpu_resident; /* pages: read-only shared maps of guest RAM */
};

/* Per guest: the difference N guests - 0 guests, over N. */
struct mem_mode {
	struct mem_snap d;
	double pages_held;    /* the guests' pages held by the backend */
	double pages_granted; /* dom0 pages granted to the guests (be-alloc) */
};

struct mem_bench {
	struct bench_rig rig;
	struct vd_simfront *g[MAX_GUESTS];
	uint32_t n;
};

/* ---- reading /proc/self ---- */

static int read_status(struct mem_snap *s)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned long long kb;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmRSS: %llu kB", &kb) == 1)
			s->rss = (double)kb * 1024.0;
		else if (sscanf(line, "RssAnon: %llu kB", &kb) == 1)
			s->anon = (double)kb * 1024.0;
	}
	fclose(f);
	return 0;
}

/* Bytes allocated in the open files whose link starts with guest/daemon memfd names. */
static int read_memfds(struct mem_snap *s)
{
	DIR *d = opendir("/proc/self/fd");
	ino_t seen[MAX_FILES];
	uint32_t nseen = 0;
	struct dirent *e;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char path[sizeof("/proc/self/fd/") + sizeof(e->d_name)], link[256];
		struct stat st;
		bool guest, known = false;
		ssize_t len;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, link, sizeof(link) - 1);
		if (len < 0)
			continue;
		link[len] = '\0';
		guest = strncmp(link, GUEST_MEMFD, sizeof(GUEST_MEMFD) - 1) == 0;
		if (!guest && strncmp(link, DAEMON_MEMFD, sizeof(DAEMON_MEMFD) - 1) != 0)
			continue;
		if (stat(path, &st) < 0)
			continue;
		for (uint32_t i = 0; i < nseen && !known; i++)
			known = seen[i] == st.st_ino;
		if (known || nseen == MAX_FILES)
			continue; /* the sim keeps a dup of an imported memfd */
		seen[nseen++] = st.st_ino;
		*(guest ? &s->guest_mem : &s->daemon_mem) += (double)st.st_blocks * 512.0;
	}
	closedir(d);
	return 0;
}

/*
 * The backend's CPU maps of guest buffers are the only read-only shared
 * mappings of guest RAM (the guests' views and the ring maps are writable).
 */
static int read_smaps(struct mem_snap *s)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	bool ours = false;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char perms[8], path[256] = "";
		unsigned long long kb;

		/* A mapping's first line starts with its address; field names are capitalised. */
		if (strchr("0123456789abcdef", line[0]) && line[0] &&
		    sscanf(line, "%*x-%*x %7s %*x %*s %*u %255s", perms, path) >= 1) {
			ours = strcmp(perms, "r--s") == 0 &&
			       strncmp(path, GUEST_MEMFD, sizeof(GUEST_MEMFD) - 1) == 0;
		} else if (ours && sscanf(line, "Size: %llu kB", &kb) == 1) {
			s->cpu_mapped += (double)kb / 4.0;
		} else if (ours && sscanf(line, "Rss: %llu kB", &kb) == 1) {
			s->cpu_resident += (double)kb / 4.0;
		}
	}
	fclose(f);
	return 0;
}

static int snap(struct mem_snap *s)
{
	int r;

	malloc_trim(0);
	memset(s, 0, sizeof(*s));
	r = read_status(s);
	if (r >= 0)
		r = read_memfds(s);
	if (r >= 0)
		r = read_smaps(s);
	return r;
}

/* ---- one mode ---- */

static bool all_warm(void *arg)
{
	struct mem_bench *b = arg;

	for (uint32_t i = 0; i < b->n; i++) {
		struct vd_simfront_stats s;

		vd_simfront_get_stats(b->g[i], &s);
		if (s.frames_done < WARM_FRAMES)
			return false;
	}
	return true;
}

static int hv_held(struct mem_bench *b, struct mem_mode *ret)
{
	struct vd_sim_stats s;
	int r = 0;

	for (uint32_t i = 0; r >= 0 && i < b->n; i++) {
		r = vd_sim_domain_stats(b->rig.sim, vd_simfront_domid(b->g[i]), &s);
		ret->pages_held += (double)s.pages_mapped;
	}
	if (r >= 0)
		r = vd_sim_domain_stats(b->rig.sim, 0, &s);
	if (r >= 0)
		ret->pages_granted = (double)s.imports_granted;
	return r;
}

static int run_mode(struct mem_bench *b, enum bench_bufmode m, uint32_t n, struct mem_mode *ret)
{
	struct vd_output_opts oo;
	struct vd_backend_opts bo;
	struct vd_simfront_opts fo = {.nconn = 1,
				      .width = WIDTH,
				      .height = HEIGHT,
				      .fourcc = BENCH_XRGB8888,
				      .nbufs = NBUFS,
				      .be_alloc = m == BENCH_BE};
	struct mem_snap s0, s1;
	int r;

	bench_bufmode_opts(m, &oo, &bo);
	memset(ret, 0, sizeof(*ret));
	r = bench_rig_init(&b->rig, &oo, &bo);
	if (r < 0)
		return r;
	r = snap(&s0);
	for (b->n = 0; r >= 0 && b->n < n; b->n++) {
		char name[32];

		snprintf(name, sizeof(name), "mem%u", b->n);
		r = vd_simfront_create(b->rig.hv, b->rig.gloop, name, &fo, &b->g[b->n]);
		if (r < 0)
			break;
	}
	if (r >= 0 && !bench_rig_run_until(&b->rig, all_warm, b, CONNECT_TIMEOUT_MS))
		r = -ETIMEDOUT;
	if (r >= 0)
		r = snap(&s1);
	if (r >= 0)
		r = hv_held(b, ret);
	if (r >= 0) {
		ret->d = (struct mem_snap){
		    .rss = (s1.rss - s0.rss) / n,
		    .anon = (s1.anon - s0.anon) / n,
		    .guest_mem = (s1.guest_mem - s0.guest_mem) / n,
		    .daemon_mem = (s1.daemon_mem - s0.daemon_mem) / n,
		    .cpu_mapped = (s1.cpu_mapped - s0.cpu_mapped) / n,
		    .cpu_resident = (s1.cpu_resident - s0.cpu_resident) / n,
		};
		ret->pages_held /= n;
		ret->pages_granted /= n;
	}
	for (uint32_t i = 0; i < b->n; i++)
		vd_simfront_destroy(b->g[i]);
	b->n = 0;
	bench_rig_fini(&b->rig);
	return r;
}

/*
 * The baseline of anon: the same guests with their buffers allocated and
 * granted, and no backend (they wait for one), per guest.
 */
static int guests_alone(struct mem_bench *b, uint32_t n, double *ret_anon)
{
	struct vd_output_opts oo = {.refresh_mhz = 0};
	struct vd_simfront_opts fo = {
	    .nconn = 1, .width = WIDTH, .height = HEIGHT, .no_client = true};
	struct vd_simfront_buf *bufs[MAX_GUESTS * NBUFS] = {0};
	struct mem_snap s0, s1;
	int r = bench_rig_init(&b->rig, &oo, NULL);

	if (r < 0)
		return r;
	vd_backend_destroy(b->rig.be);
	b->rig.be = NULL;
	r = snap(&s0);
	for (b->n = 0; r >= 0 && b->n < n; b->n++) {
		char name[32];

		snprintf(name, sizeof(name), "alone%u", b->n);
		r = vd_simfront_create(b->rig.hv, b->rig.gloop, name, &fo, &b->g[b->n]);
		if (r < 0)
			break;
		for (uint32_t k = 0; r >= 0 && k < NBUFS; k++)
			r = vd_simfront_buf_alloc(b->g[b->n], FRAME_PAGES, &bufs[b->n * NBUFS + k]);
	}
	for (int i = 0; r >= 0 && i < 20; i++) /* the guests' xenstore work */
		r = bench_rig_step(&b->rig, 0);
	if (r >= 0)
		r = snap(&s1);
	if (r >= 0)
		*ret_anon = (s1.anon - s0.anon) / n;
	for (uint32_t i = 0; i < b->n; i++) {
		for (uint32_t k = 0; k < NBUFS; k++)
			vd_simfront_buf_free(b->g[i], bufs[i * NBUFS + k]);
		vd_simfront_destroy(b->g[i]);
	}
	b->n = 0;
	bench_rig_fini(&b->rig);
	return r;
}

/* ---- the report ---- */

static void report_mode(const struct mem_mode *mm, enum bench_bufmode m)
{
	static const char *const label[] = {[BENCH_ZC] = "zero-copy",
					    [BENCH_MAP] = "grant-mapped",
					    [BENCH_COPY] = "copy",
					    [BENCH_BE] = "be-alloc"};
	const char *mn = bench_bufmode_name(m);
	bool zc = m == BENCH_ZC;
	char name[64], what[96];

	snprintf(name, sizeof(name), "mem.%s.rss", mn);
	snprintf(what, sizeof(what), "%s: RSS per guest, daemon + sim guest", label[m]);
	bench_report(name, mm->d.rss / MIB, "MiB", zc ? "mem.buffers" : "mem.zc.rss", what);
	snprintf(name, sizeof(name), "mem.%s.anon", mn);
	snprintf(what, sizeof(what), "%s: RssAnon per guest (daemon heap + sim + guest)", label[m]);
	bench_report(name, mm->d.anon / MIB, "MiB", "mem.sim_guest.anon", what);
	snprintf(name, sizeof(name), "mem.%s.guest_mem", mn);
	snprintf(what, sizeof(what), "%s: the guest's own RAM in use, per guest", label[m]);
	bench_report(name, mm->d.guest_mem / MIB, "MiB", "mem.buffers", what);
	snprintf(name, sizeof(name), "mem.%s.pages_held", mn);
	snprintf(what, sizeof(what), "%s: guest pages the backend holds (maps+exports)", label[m]);
	bench_report(name, mm->pages_held, "pages", "mem.buffer_pages", what);
	if (m != BENCH_BE) {
		snprintf(name, sizeof(name), "mem.%s.cpu_mapped", mn);
		snprintf(what, sizeof(what), "%s: of those, mapped in the daemon for the CPU",
			 label[m]);
		bench_report_count(name, mm->d.cpu_mapped, "pages", "mem.buffer_pages", what);
	}
}

int bench_mem(const struct bench_cfg *cfg)
{
	/* copy last: its 8 MB copy buffers are what an allocator likes to keep */
	static const enum bench_bufmode order[NMODES] = {BENCH_ZC, BENCH_MAP, BENCH_BE, BENCH_COPY};
	static const enum bench_bufmode shown[NMODES] = {BENCH_ZC, BENCH_MAP, BENCH_COPY, BENCH_BE};
	uint32_t n = cfg->quick ? 2 : 4;
	struct mem_mode mm[NMODES];
	static struct mem_bench b;
	double alone_anon = 0;
	int r;

	memset(&b, 0, sizeof(b));
	r = guests_alone(&b, n, &alone_anon);
	for (uint32_t i = 0; r >= 0 && i < NMODES; i++)
		r = run_mode(&b, order[i], n, &mm[order[i]]);
	if (r < 0) {
		fprintf(stderr, "vdispl-bench: mem: %s\n", strerror(-r));
		return r;
	}
	bench_report("mem.buffers", (double)(NBUFS * FRAME_BYTES) / MIB, "MiB", NULL,
		     "a guest's 2 1080p XRGB8888 buffers");
	bench_report("mem.buffer_pages", (double)(NBUFS * FRAME_PAGES), "pages", NULL,
		     "their pages");
	bench_report("mem.sim_guest.anon", alone_anon / MIB, "MiB", NULL,
		     "RssAnon per guest of the guests and sim alone");
	for (uint32_t i = 0; i < NMODES; i++)
		report_mode(&mm[shown[i]], shown[i]);
	bench_report("mem.copy.copy_bufs", (mm[BENCH_COPY].d.anon - mm[BENCH_ZC].d.anon) / MIB,
		     "MiB", "mem.buffers",
		     "copy: the output's copy buffers (RssAnon - zero-copy's)");
	bench_report("mem.copy.cpu_resident", mm[BENCH_COPY].d.cpu_resident, "pages",
		     "mem.buffer_pages", "copy: guest pages faulted into the daemon's CPU map");
	bench_report("mem.be.daemon_bufs", mm[BENCH_BE].d.daemon_mem / MIB, "MiB", "mem.buffers",
		     "be-alloc: buffers the daemon allocated, in use");
	bench_report("mem.be.pages_granted", mm[BENCH_BE].pages_granted, "pages",
		     "mem.buffer_pages", "be-alloc: daemon pages granted to the guest");
	return 0;
}
