/* SPDX-License-Identifier: MIT */
/*
 * xenfront-client: the guest side of the Xen-in-QEMU test. Runs in a PV
 * guest on top of Linux's drm_xen_front (xendrm-du), built static, and
 * talks to KMS with raw ioctls only (no libdrm):
 *
 *   wait for /dev/dri/card0, find a connected connector (its preferred
 *   mode) and its CRTC,
 *   create B dumb buffers, AddFB2 each, SETCRTC with frame 0, then
 *   page-flip N times (DRM_MODE_PAGE_FLIP_EVENT), drawing frame i into
 *   buffer i % B and waiting for its flip-complete event before the next.
 *
 * --span: every connected connector (each with its own CRTC) on one
 *   framebuffer, side by side, as multi-head programs drive KMS (modetest
 *   -s A -s B, X11's modesetting): the fb is as wide as the modes
 *   together, connector k's CRTC is set at x = the widths before it, and
 *   each frame is flipped on every CRTC, waiting for all their events.
 *
 * Every frame is a pattern that run.py recomputes on the host (pattern() and
 * frame_bits() below have a Python twin there: keep them in step), so the
 * frame vdispld captured in Dom0 can be checked pixel by pixel.
 *
 * Result on stdout, one line:
 *   CLIENT-RESULT frames=N seconds=S fps=F errors=E last=L format=XR24
 *     width=W height=H dbuf_width=D buffers=B max_flip_ms=M
 * then the client keeps the last frame on screen for --hold seconds (so
 * the backend's once-a-second capture sees it) and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <drm.h>
#include <drm_mode.h>

#define FOURCC(a, b, c, d)                                                                         \
	((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))
#define FMT_XR24 FOURCC('X', 'R', '2', '4')
#define FMT_RG16 FOURCC('R', 'G', '1', '6')
#define MAX_BUFFERS 32
#define MAX_MODES 128

struct buf {
	uint32_t handle, fb_id, pitch;
	uint64_t size;
	uint8_t *map;
};

#define MAX_HEADS 4

struct opts {
	const char *device;
	bool span;
	uint32_t frames;
	uint32_t buffers;
	uint32_t format;
	const char *format_name;
	uint32_t dbuf_width; /* 0: the mode's width */
	double hold_s;
	double wait_s;
	double flip_timeout_s;
	uint32_t max_errors;
};

/*
 * When the backend goes away for good (restart), xen-front unplugs the DRM
 * device and the dumb-buffer mappings fault: SIGBUS while drawing. That ends
 * the run as an error instead of killing the client.
 */
static sigjmp_buf bus_jmp;
static volatile sig_atomic_t bus_armed;

static void on_sigbus(int sig)
{
	if (bus_armed)
		siglongjmp(bus_jmp, 1);
	signal(sig, SIG_DFL);
	raise(sig);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && (errno == EINTR || errno == EAGAIN));
	return r;
}

/*
 * The pattern. Rows 0..15: the frame number, 32 cells of 20 pixels, bit 31
 * first, white = 1, black = 0 (pixels 640.. of those rows: grey). Below:
 * colours that move with the frame.
 */
static void pattern(uint32_t x, uint32_t y, uint32_t frame, uint8_t *r, uint8_t *g, uint8_t *b)
{
	if (y < 16) {
		uint32_t cell = x / 20;

		if (cell >= 32) {
			*r = *g = *b = 0x80;
		} else {
			uint8_t v = (frame >> (31 - cell)) & 1 ? 0xff : 0x00;

			*r = *g = *b = v;
		}
		return;
	}
	*r = (uint8_t)(x + frame * 3);
	*g = (uint8_t)(y + frame * 5);
	*b = (uint8_t)((x ^ y) + frame * 7);
}

static void draw(const struct opts *o, struct buf *bf, uint32_t w, uint32_t h, uint32_t frame)
{
	for (uint32_t y = 0; y < h; y++) {
		uint8_t *row = bf->map + (size_t)y * bf->pitch;

		if (o->format == FMT_XR24) {
			uint32_t *px = (uint32_t *)row;

			for (uint32_t x = 0; x < w; x++) {
				uint8_t r, g, b;

				pattern(x, y, frame, &r, &g, &b);
				px[x] = 0xff000000u | (uint32_t)r << 16 | (uint32_t)g << 8 | b;
			}
		} else {
			for (uint32_t x = 0; x < w; x++) {
				uint8_t r, g, b;
				uint16_t v;

				pattern(x, y, frame, &r, &g, &b);
				v = (uint16_t)((r >> 3) << 11 | (g >> 2) << 5 | (b >> 3));
				row[2 * x] = (uint8_t)v;
				row[2 * x + 1] = (uint8_t)(v >> 8);
			}
		}
		/* Bytes beyond the fb's width: noise the backend must not show. */
		for (uint32_t i = w * (o->format == FMT_XR24 ? 4 : 2); i < bf->pitch; i++)
			row[i] = (uint8_t)(0xa5 ^ frame ^ i);
	}
}

/* draw(), but -1 instead of dying when the mapping faults. */
static int draw_guarded(const struct opts *o, struct buf *bf, uint32_t w, uint32_t h,
			uint32_t frame)
{
	if (sigsetjmp(bus_jmp, 1)) {
		bus_armed = 0;
		return -1;
	}
	bus_armed = 1;
	draw(o, bf, w, h, frame);
	bus_armed = 0;
	return 0;
}

static int wait_device(const char *path, double wait_s)
{
	double end = now_s() + wait_s;
	int fd;

	for (;;) {
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (now_s() > end) {
			fprintf(stderr, "client: %s: %s\n", path, strerror(errno));
			return -1;
		}
		usleep(100000);
	}
}

struct kms {
	uint32_t conn_id, crtc_id;
	struct drm_mode_modeinfo mode;
	uint32_t x; /* --span: where this head's window starts in the fb */
};

/* Up to max connected connectors with their preferred modes and CRTCs; their number. */
static int find_heads(int fd, struct kms *k, uint32_t max)
{
	struct drm_mode_card_res res = {0};
	uint32_t conns[16], crtcs[16], encs[16];
	uint32_t found = 0, used = 0;

	if (xioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &res) < 0)
		return -errno;
	if (res.count_connectors > 16 || res.count_crtcs > 16 || res.count_encoders > 16 ||
	    !res.count_connectors || !res.count_crtcs)
		return -ENODEV;
	res.count_fbs = 0;
	res.connector_id_ptr = (uintptr_t)conns;
	res.crtc_id_ptr = (uintptr_t)crtcs;
	res.encoder_id_ptr = (uintptr_t)encs;
	if (xioctl(fd, DRM_IOCTL_MODE_GETRESOURCES, &res) < 0)
		return -errno;

	for (uint32_t i = 0; i < res.count_connectors && found < max; i++) {
		struct drm_mode_get_connector c = {.connector_id = conns[i]};
		struct drm_mode_modeinfo modes[MAX_MODES];
		uint32_t cencs[8], m = 0;

		if (xioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, &c) < 0)
			return -errno;
		/*
		 * The kernel copies the modes only if all fit: xen-front has
		 * one, vkms (the Dom0 reference drawing) dozens.
		 */
		if (c.connection != 1 || c.count_modes == 0 || c.count_modes > MAX_MODES)
			continue;
		if (c.count_encoders > 8)
			c.count_encoders = 8;
		c.count_props = 0;
		c.modes_ptr = (uintptr_t)modes;
		c.encoders_ptr = (uintptr_t)cencs;
		if (xioctl(fd, DRM_IOCTL_MODE_GETCONNECTOR, &c) < 0)
			return -errno;
		if (c.count_modes == 0 || c.count_modes > MAX_MODES)
			continue; /* changed in between */
		for (uint32_t j = 0; j < c.count_modes; j++)
			if (modes[j].type & DRM_MODE_TYPE_PREFERRED) {
				m = j;
				break;
			}
		k[found].conn_id = conns[i];
		k[found].mode = modes[m];
		k[found].crtc_id = 0;
		if (c.count_encoders) {
			struct drm_mode_get_encoder e = {.encoder_id = cencs[0]};

			if (xioctl(fd, DRM_IOCTL_MODE_GETENCODER, &e) == 0) {
				for (uint32_t j = 0; j < res.count_crtcs; j++)
					if (e.possible_crtcs & (1u << j) & ~used) {
						k[found].crtc_id = crtcs[j];
						used |= 1u << j;
						break;
					}
			}
		}
		if (!k[found].crtc_id && found < res.count_crtcs && !(used & (1u << found))) {
			k[found].crtc_id = crtcs[found]; /* no encoder to ask */
			used |= 1u << found;
		}
		if (!k[found].crtc_id)
			continue; /* no CRTC left for it */
		found++;
	}
	return found ? (int)found : -ENODEV;
}

static int buf_create(int fd, const struct opts *o, uint32_t w, uint32_t h, struct buf *bf)
{
	uint32_t bpp = o->format == FMT_XR24 ? 32 : 16;
	struct drm_mode_create_dumb cd = {.width = o->dbuf_width, .height = h, .bpp = bpp};
	struct drm_mode_map_dumb md = {0};
	struct drm_mode_fb_cmd2 fc = {0};
	void *p;

	if (xioctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &cd) < 0) {
		fprintf(stderr, "client: CREATE_DUMB: %s\n", strerror(errno));
		return -1;
	}
	bf->handle = cd.handle;
	bf->pitch = cd.pitch;
	bf->size = cd.size;
	md.handle = cd.handle;
	if (xioctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &md) < 0) {
		fprintf(stderr, "client: MAP_DUMB: %s\n", strerror(errno));
		return -1;
	}
	p = mmap(NULL, bf->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)md.offset);
	if (p == MAP_FAILED) {
		fprintf(stderr, "client: mmap: %s\n", strerror(errno));
		return -1;
	}
	bf->map = p;
	fc.width = w;
	fc.height = h;
	fc.pixel_format = o->format;
	fc.handles[0] = bf->handle;
	fc.pitches[0] = bf->pitch;
	if (xioctl(fd, DRM_IOCTL_MODE_ADDFB2, &fc) < 0) {
		fprintf(stderr, "client: ADDFB2: %s\n", strerror(errno));
		return -1;
	}
	bf->fb_id = fc.fb_id;
	return 0;
}

/*
 * Wait for the flip-complete events of frame on heads 0..n-1 (user_data
 * frame * MAX_HEADS + head); <0 on timeout/error.
 */
static int wait_flips(int fd, uint32_t frame, uint32_t nheads, double timeout_s)
{
	uint32_t pending = (1u << nheads) - 1;
	double end = now_s() + timeout_s;
	char ev[1024];

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		double left = end - now_s();
		ssize_t n;
		int r;

		if (!pending)
			return 0;
		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(&pfd, 1, (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			continue;
		n = read(fd, ev, sizeof(ev));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			return -errno;
		for (ssize_t off = 0; off + (ssize_t)sizeof(struct drm_event) <= n;) {
			struct drm_event *e = (struct drm_event *)(ev + off);

			if (e->length < sizeof(*e) || off + (ssize_t)e->length > n)
				return -EPROTO;
			if (e->type == DRM_EVENT_FLIP_COMPLETE) {
				struct drm_event_vblank *vb = (struct drm_event_vblank *)e;
				uint64_t head = vb->user_data % MAX_HEADS;

				if (vb->user_data / MAX_HEADS != frame || !(pending & (1u << head))) {
					fprintf(stderr, "client: flip event %" PRIu64 " in frame %u\n",
						(uint64_t)vb->user_data, frame);
					return -EPROTO;
				}
				pending &= ~(1u << head);
			}
			off += e->length;
		}
	}
}

static void usage(void)
{
	fputs("usage: xenfront-client [--frames N] [--buffers B] [--format XR24|RG16]\n"
	      "         [--dbuf-width W] [--hold S] [--wait S] [--device PATH]\n"
	      "         [--flip-timeout S] [--max-errors N] [--span]\n",
	      stderr);
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{"frames", required_argument, NULL, 'n'},  {"buffers", required_argument, NULL, 'b'},
		{"format", required_argument, NULL, 'f'},  {"dbuf-width", required_argument, NULL, 'w'},
		{"hold", required_argument, NULL, 'H'},    {"wait", required_argument, NULL, 'W'},
		{"device", required_argument, NULL, 'd'},  {"flip-timeout", required_argument, NULL, 't'},
		{"max-errors", required_argument, NULL, 'E'},
		{"span", no_argument, NULL, 'S'},
		{NULL, 0, NULL, 0},
	};
	int c;

	*o = (struct opts){"/dev/dri/card0", false, 300, 2, FMT_XR24, "XR24", 0, 2.0, 120.0, 5.0, 10};
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'n': o->frames = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'b': o->buffers = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'w': o->dbuf_width = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'H': o->hold_s = strtod(optarg, NULL); break;
		case 'W': o->wait_s = strtod(optarg, NULL); break;
		case 't': o->flip_timeout_s = strtod(optarg, NULL); break;
		case 'E': o->max_errors = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'd': o->device = optarg; break;
		case 'S': o->span = true; break;
		case 'f':
			if (strcmp(optarg, "XR24") == 0) {
				o->format = FMT_XR24;
			} else if (strcmp(optarg, "RG16") == 0) {
				o->format = FMT_RG16;
			} else {
				usage();
				return -1;
			}
			o->format_name = optarg;
			break;
		default: usage(); return -1;
		}
	}
	if (o->buffers < 2 || o->buffers > MAX_BUFFERS) {
		fprintf(stderr, "client: 2..%d buffers\n", MAX_BUFFERS);
		return -1;
	}
	return 0;
}

/* --span: the heads side by side; the fb's size. One head otherwise. */
static void lay_out(struct kms *k, uint32_t n, uint32_t *ret_w, uint32_t *ret_h)
{
	uint32_t w = 0, h = 0;

	for (uint32_t i = 0; i < n; i++) {
		k[i].x = w;
		w += k[i].mode.hdisplay;
		if (k[i].mode.vdisplay > h)
			h = k[i].mode.vdisplay;
	}
	*ret_w = w;
	*ret_h = h;
}

/* Every head shows fb from its window's x (legacy SETCRTC, one per CRTC, as modetest). */
static int set_crtcs(int fd, struct kms *k, uint32_t n, uint32_t fb_id)
{
	for (uint32_t i = 0; i < n; i++) {
		struct drm_mode_crtc crtc = {
			.crtc_id = k[i].crtc_id,
			.fb_id = fb_id,
			.x = k[i].x,
			.set_connectors_ptr = (uintptr_t)&k[i].conn_id,
			.count_connectors = 1,
			.mode = k[i].mode,
			.mode_valid = 1,
		};

		if (xioctl(fd, DRM_IOCTL_MODE_SETCRTC, &crtc) < 0) {
			fprintf(stderr, "client: SETCRTC crtc %u at %u,0: %s\n", k[i].crtc_id, k[i].x,
				strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Flip fb_id on every head for frame; 0 once all their events came. */
static int flip_all(int fd, const struct opts *o, const struct kms *k, uint32_t n,
		    uint32_t fb_id, uint32_t frame)
{
	for (uint32_t i = 0; i < n; i++) {
		struct drm_mode_crtc_page_flip fl = {
			.crtc_id = k[i].crtc_id,
			.fb_id = fb_id,
			.flags = DRM_MODE_PAGE_FLIP_EVENT,
			.user_data = (uint64_t)frame * MAX_HEADS + i,
		};

		if (xioctl(fd, DRM_IOCTL_MODE_PAGE_FLIP, &fl) < 0) {
			fprintf(stderr, "client: PAGE_FLIP frame %u crtc %u: %s\n", frame,
				k[i].crtc_id, strerror(errno));
			/* the events of the flips already queued still come */
			if (i)
				wait_flips(fd, frame, i, o->flip_timeout_s);
			return -1;
		}
	}
	return wait_flips(fd, frame, n, o->flip_timeout_s);
}

/* " win0=X,Y,WxH ...": each head's window of the fb, for the host's check. */
static void print_windows(const struct kms *k, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		printf(" win%u=%u,0,%ux%u", i, k[i].x, k[i].mode.hdisplay, k[i].mode.vdisplay);
}

int main(int argc, char **argv)
{
	struct buf bufs[MAX_BUFFERS] = {0};
	struct kms k[MAX_HEADS] = {0};
	struct opts o;
	uint32_t w, h, n, frame, done = 0, errors = 0, last_ok = 0;
	double t0, t1, max_flip = 0;
	int fd, r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGBUS, on_sigbus);
	if (parse(argc, argv, &o) < 0)
		return 2;
	fd = wait_device(o.device, o.wait_s);
	if (fd < 0)
		return 1;
	r = find_heads(fd, k, o.span ? MAX_HEADS : 1);
	if (r < 0) {
		fprintf(stderr, "client: no connected connector: %s\n", strerror(-r));
		return 1;
	}
	n = (uint32_t)r;
	lay_out(k, n, &w, &h);
	if (o.dbuf_width < w)
		o.dbuf_width = w;
	printf("CLIENT-START connector=%u crtc=%u mode=%ux%u format=%s buffers=%u dbuf_width=%u "
	       "heads=%u fb=%ux%u\n",
	       k[0].conn_id, k[0].crtc_id, k[0].mode.hdisplay, k[0].mode.vdisplay, o.format_name,
	       o.buffers, o.dbuf_width, n, w, h);
	for (uint32_t i = 0; i < o.buffers; i++)
		if (buf_create(fd, &o, w, h, &bufs[i]) < 0)
			return 1;

	draw(&o, &bufs[0], w, h, 0);
	if (set_crtcs(fd, k, n, bufs[0].fb_id) < 0)
		return 1;

	t0 = now_s();
	for (frame = 1; frame <= o.frames; frame++) {
		struct buf *bf = &bufs[frame % o.buffers];
		double f0;

		if (draw_guarded(&o, bf, w, h, frame) < 0) {
			fprintf(stderr, "client: frame %u: buffer mapping gone (SIGBUS): device unplugged\n",
				frame);
			errors++;
			break;
		}
		f0 = now_s();
		if (flip_all(fd, &o, k, n, bf->fb_id, frame) < 0) {
			fprintf(stderr, "client: flip %u failed\n", frame);
			errors++;
			if (errors >= o.max_errors)
				break;
			continue;
		}
		if (now_s() - f0 > max_flip)
			max_flip = now_s() - f0;
		done++;
		last_ok = frame;
		if (done % 100 == 0)
			printf("CLIENT-PROGRESS frames=%u seconds=%.1f\n", done, now_s() - t0);
	}
	t1 = now_s();
	printf("CLIENT-RESULT frames=%u seconds=%.2f fps=%.1f errors=%u last=%u format=%s "
	       "width=%u height=%u dbuf_width=%u buffers=%u max_flip_ms=%.0f heads=%u",
	       done, t1 - t0, done / (t1 - t0 > 0 ? t1 - t0 : 1), errors,
	       last_ok, o.format_name, w, h, o.dbuf_width, o.buffers,
	       max_flip * 1000, n);
	print_windows(k, n);
	printf("\n");
	if (o.hold_s > 0)
		usleep((useconds_t)(o.hold_s * 1e6));
	printf("CLIENT-EXIT\n");
	return errors ? 1 : 0;
}
