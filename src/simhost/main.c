/* SPDX-License-Identifier: MIT */
/*
 * vdispl-simhost: a simulated Xen with simulated guests in a process of its
 * own, serving the backend domain's view on a Unix socket (vdispld
 * --hypervisor simhost). Unlike vdispld --hypervisor sim, the hypervisor and
 * the guests outlive the backend daemon, as on real Xen: kill the daemon,
 * start it again, and the guests reconnect. The STATUS request on the
 * socket reports each guest's progress (see status_guests).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-event.h>

#include "hv/sim/sim.h"
#include "hv/simhost/simhost.h"
#include "log.h"
#include "parse.h"
#include "simfront/simfront.h"

#define GUESTS_MAX 64u
#define CONN_MAX 4u
/* Flip times kept per connector: STATUS looks back this far. */
#define HISTORY 128u

struct guest {
	struct vd_simfront *front;
	uint32_t nconn;
	uint64_t flips[CONN_MAX];	  /* PG_FLIP events taken, per connector */
	uint64_t last_ns[CONN_MAX];	  /* CLOCK_MONOTONIC of the last one */
	uint64_t hist[CONN_MAX][HISTORY]; /* of the last HISTORY ones, by flips % HISTORY */
};

struct opts {
	const char *socket;
	uint32_t guests;
	uint32_t conns[GUESTS_MAX]; /* connectors per guest; the last given repeats */
	uint32_t nconns;
	uint32_t width, height, frames;
	bool be_alloc;
};

struct host {
	struct opts o;
	sd_event *loop;
	struct vd_hv *dom0;
	struct vd_sim *sim;
	struct vd_simhost_server *srv;
	struct guest guests[GUESTS_MAX];
	uint32_t nguests;
};

static void usage(FILE *f)
{
	fputs("Usage: vdispl-simhost --socket PATH [OPTIONS]\n"
	      "A simulated Xen with simulated guests in a process of its own; vdispld\n"
	      "serves it with --hypervisor simhost --sim-socket PATH and may be killed and\n"
	      "restarted while the guests live on.\n\n"
	      "  --socket PATH          the socket to serve the backend domain's view on\n"
	      "  --sim-guests N         simulated guests (default: 2)\n"
	      "  --sim-connectors N[,N...]\n"
	      "                         connectors per guest, 1-4, one per guest in order, the\n"
	      "                         last repeating (default: 1)\n"
	      "  --sim-resolution WxH   connector resolution (default: 1024x768)\n"
	      "  --sim-frames N         frames each connector flips (default: 0, endless)\n"
	      "  --sim-be-alloc         the backend allocates the buffers (be-alloc)\n"
	      "  -v, --verbose          more logging\n"
	      "  -q, --quiet            errors only\n"
	      "  -h, --help             this text\n"
	      "      --version          print the version\n",
	      f);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_flip_done(void *userdata, uint32_t conn)
{
	struct guest *g = userdata;

	if (conn >= CONN_MAX)
		return;
	g->last_ns[conn] = now_ns();
	g->hist[conn][g->flips[conn]++ % HISTORY] = g->last_ns[conn];
}

/*
 * The time of the first flip at or after since, 0 if none. Once more than
 * HISTORY flips passed since then, the oldest kept: an upper bound.
 */
static uint64_t first_flip_since(const struct guest *g, uint32_t conn, uint64_t since)
{
	uint64_t first = 0;

	for (uint64_t n = g->flips[conn], k = 0; n > 0 && k < HISTORY; n--, k++) {
		uint64_t t = g->hist[conn][(n - 1) % HISTORY];

		if (t < since)
			break;
		first = t;
	}
	return first;
}

/* "name=v,v,..." of n values. */
static size_t put_list(char *buf, size_t size, const char *name, const uint64_t *v, uint32_t n)
{
	size_t len = 0;
	int k = snprintf(buf, size, " %s=", name);

	for (uint32_t i = 0; k >= 0 && (size_t)k < size - len && i < n; i++) {
		len += (size_t)k;
		k = snprintf(buf + len, size - len, "%s%llu", i ? "," : "",
			     (unsigned long long)v[i]);
	}
	if (k >= 0 && (size_t)k < size - len)
		len += (size_t)k;
	return len;
}

static size_t status_guest(struct host *h, struct guest *g, uint64_t since, char *buf, size_t size)
{
	uint64_t first[CONN_MAX];
	struct vd_simfront_stats fs;
	struct vd_sim_stats ds = {0};
	uint32_t domid = vd_simfront_domid(g->front);
	size_t len;
	int k;

	vd_simfront_get_stats(g->front, &fs);
	vd_sim_domain_stats(h->sim, domid, &ds);
	k = snprintf(buf, size,
		     "guest domid=%u state=%d connects=%u nconn=%u frames_done=%llu "
		     "timeouts=%llu errors=%llu watchdogs=%llu pages_mapped=%llu dmabufs=%llu "
		     "ports_open=%llu",
		     domid, fs.state, fs.connects, g->nconn, (unsigned long long)fs.frames_done,
		     (unsigned long long)fs.timeouts, (unsigned long long)fs.errors,
		     (unsigned long long)fs.watchdogs, (unsigned long long)ds.pages_mapped,
		     (unsigned long long)ds.dmabufs_exported, (unsigned long long)ds.ports_open);
	if (k < 0 || (size_t)k >= size)
		return 0;
	len = (size_t)k;
	len += put_list(buf + len, size - len, "flips", g->flips, g->nconn);
	len += put_list(buf + len, size - len, "last_flip_ns", g->last_ns, g->nconn);
	for (uint32_t i = 0; i < g->nconn; i++)
		first[i] = first_flip_since(g, i, since);
	len += put_list(buf + len, size - len, "first_flip_since_ns", first, g->nconn);
	if (len + 1 < size)
		buf[len++] = '\n';
	return len;
}

/*
 * The program's part of STATUS: a "dom0" line (now_ns: CLOCK_MONOTONIC;
 * what the backend domain holds: its bound ports, the grants it made for
 * be-alloc) and one "guest" line per guest: its frontend's state and
 * counters, what of its memory the backend maps, per connector the flips
 * (PG_FLIP events taken), the time of the last one and of the first one at
 * or after the request's argument (a CLOCK_MONOTONIC time in ns; 0: none).
 */
static size_t status_text(void *userdata, uint64_t since, char *buf, size_t size)
{
	struct host *h = userdata;
	struct vd_sim_stats d0 = {0};
	size_t len;
	int k;

	vd_sim_domain_stats(h->sim, 0, &d0);
	k = snprintf(buf, size,
		     "dom0 now_ns=%llu ports_open=%llu grants_active=%llu "
		     "imports_granted=%llu\n",
		     (unsigned long long)now_ns(), (unsigned long long)d0.ports_open,
		     (unsigned long long)d0.grants_active, (unsigned long long)d0.imports_granted);
	if (k < 0 || (size_t)k >= size)
		return 0;
	len = (size_t)k;
	for (uint32_t i = 0; i < h->nguests; i++)
		len += status_guest(h, &h->guests[i], since, buf + len, size - len);
	return len;
}

static int start_guests(struct host *h)
{
	for (uint32_t i = 0; i < h->o.guests; i++) {
		struct guest *g = &h->guests[i];
		struct vd_simfront_opts so = {
		    .nconn = h->o.conns[i < h->o.nconns ? i : h->o.nconns - 1],
		    .width = h->o.width,
		    .height = h->o.height,
		    .frames = h->o.frames,
		    .be_alloc = h->o.be_alloc,
		    .on_flip_done = on_flip_done,
		    .hook_userdata = g,
		};
		char name[32];
		int r;

		snprintf(name, sizeof(name), "sim-guest-%u", i + 1);
		g->nconn = so.nconn;
		r = vd_simfront_create(h->dom0, h->loop, name, &so, &g->front);
		if (r < 0) {
			vd_err("cannot start simulated guest %s: %s", name, strerror(-r));
			return r;
		}
		h->nguests++;
	}
	return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct host *h = userdata;

	vd_notice("%s: shutting down", strsignal((int)si->ssi_signo));
	return sd_event_exit(h->loop, 0);
}

static int setup(struct host *h)
{
	int r;

	r = sd_event_new(&h->loop);
	if (r >= 0)
		r = sd_event_add_signal(h->loop, NULL, SIGTERM | SD_EVENT_SIGNAL_PROCMASK,
					on_signal, h);
	if (r >= 0)
		r = sd_event_add_signal(h->loop, NULL, SIGINT | SD_EVENT_SIGNAL_PROCMASK, on_signal,
					h);
	if (r >= 0)
		r = vd_hv_create("sim", &h->dom0);
	if (r < 0)
		return r;
	h->sim = vd_sim_from_hv(h->dom0);
	r = start_guests(h);
	if (r >= 0)
		r = vd_simhost_server_create(h->loop, h->sim, h->o.socket, status_text, h, &h->srv);
	if (r < 0)
		vd_err("cannot serve on %s: %s", h->o.socket, strerror(-r));
	return r;
}

/* Clients first (as if they died), then the guests, then the machine. */
static void teardown(struct host *h)
{
	vd_simhost_server_destroy(h->srv);
	for (uint32_t i = 0; i < h->nguests; i++)
		vd_simfront_destroy(h->guests[i].front);
	vd_hv_destroy(h->dom0);
	sd_event_unref(h->loop);
}

static int parse_u32(const char *arg, uint32_t min, uint32_t max, uint32_t *ret,
		     const char **end)
{
	uint32_t v;

	if (vd_parse_u32_prefix(arg, &v, end) < 0 || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_conns(const char *arg, struct opts *o)
{
	const char *end;

	for (o->nconns = 0; o->nconns < GUESTS_MAX; arg = end + 1) {
		if (parse_u32(arg, 1, CONN_MAX, &o->conns[o->nconns++], &end) < 0)
			return -EINVAL;
		if (*end == '\0')
			return 0;
		if (*end != ',')
			return -EINVAL;
	}
	return -E2BIG;
}

static int parse_one(int c, const char *arg, struct opts *o)
{
	const char *end;

	switch (c) {
	case 's':
		o->socket = arg;
		return 0;
	case 'g':
		return parse_u32(arg, 0, GUESTS_MAX, &o->guests, &end) < 0 || *end ? -EINVAL : 0;
	case 'c':
		return parse_conns(arg, o);
	case 'r':
		if (parse_u32(arg, 1, 8192, &o->width, &end) < 0 || *end != 'x' ||
		    parse_u32(end + 1, 1, 8192, &o->height, &end) < 0 || *end)
			return -EINVAL;
		return 0;
	case 'f':
		return parse_u32(arg, 0, UINT32_MAX, &o->frames, &end) < 0 || *end ? -EINVAL : 0;
	case 'b':
		o->be_alloc = true;
		return 0;
	default:
		return -EINVAL;
	}
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"sim-guests", required_argument, NULL, 'g'},
	    {"sim-connectors", required_argument, NULL, 'c'},
	    {"sim-resolution", required_argument, NULL, 'r'},
	    {"sim-frames", required_argument, NULL, 'f'},
	    {"sim-be-alloc", no_argument, NULL, 'b'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {0},
	};
	int c, verbosity = 0;

	while ((c = getopt_long(argc, argv, "vqh", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c == 'V') {
			puts("vdispl-simhost " VD_VERSION);
			exit(0);
		}
		if (c == 'v' || c == 'q') {
			verbosity = c == 'q' ? -1 : verbosity + 1;
			continue;
		}
		if (c == '?' || parse_one(c, optarg, o) < 0) {
			if (c != '?')
				fprintf(stderr, "vdispl-simhost: invalid argument \"%s\"\n",
					optarg);
			fputs("Try 'vdispl-simhost --help' for more information.\n", stderr);
			return -EINVAL;
		}
	}
	if (optind < argc || !o->socket) {
		fprintf(stderr, "vdispl-simhost: %s\n",
			o->socket ? "unexpected argument" : "--socket PATH is required");
		return -EINVAL;
	}
	vd_log_set_level(verbosity < 0 ? LOG_ERR : verbosity == 0 ? LOG_INFO : LOG_DEBUG);
	return 0;
}

int main(int argc, char **argv)
{
	static struct host h = {
	    .o = {.guests = 2, .conns = {1}, .nconns = 1, .width = 1024, .height = 768},
	};
	int r;

	vd_log_set_ident("vdispl-simhost");
	if (parse_args(argc, argv, &h.o) < 0)
		return 2;
	r = setup(&h);
	if (r >= 0) {
		vd_info("serving %u simulated guest(s) on %s", h.nguests, h.o.socket);
		r = sd_event_loop(h.loop);
	}
	teardown(&h);
	return r < 0 ? 1 : 0;
}
