/* SPDX-License-Identifier: MIT */
/*
 * Composition: the CPU path. Each head owns KMS_NBUF dumb buffers of its
 * mode's size; a commit that cannot scan a guest buffer out directly
 * draws into the back buffer the cells whose content changed since that
 * buffer last showed them (one copy per changed cell, counted in
 * stats.copies), then flips to it. Guest pictures are centred in their
 * place (a configured rectangle or a cell of the default layout), cropped
 * around the centre when larger (the CPU does not scale). A place is
 * opaque (black around a smaller picture); where places overlap, the
 * conn later in the head's order is on top, so redrawing one conn redraws
 * every conn above it that it overlaps. A conn shown on an overlay plane
 * leaves its place black here: its picture is scanned out above it.
 */
#include "output/kms/kms_priv.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"

#define FOURCC(a, b, c, d)                                                                         \
	((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))
#define FMT_XRGB8888 FOURCC('X', 'R', '2', '4')
#define FMT_ARGB8888 FOURCC('A', 'R', '2', '4')

static int dumb_map(int fd, struct kms_dumb *d)
{
	struct drm_mode_map_dumb req = {.handle = d->handle};
	void *map;

	if (drmIoctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &req) < 0)
		return -errno;
	map = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)req.offset);
	if (map == MAP_FAILED)
		return -errno;
	d->map = map;
	return 0;
}

/* A mapped 32 bpp dumb buffer; with add_fb also an XRGB8888 DRM fb. Zeroed (black). */
int kms_dumb_create(int fd, uint32_t width, uint32_t height, bool add_fb, struct kms_dumb *ret)
{
	struct drm_mode_create_dumb req = {.width = width, .height = height, .bpp = 32};
	struct kms_dumb d = {0};
	uint32_t handles[4] = {0}, pitches[4] = {0}, offsets[4] = {0};
	int r;

	if (drmIoctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &req) < 0)
		return -errno;
	d = (struct kms_dumb){.handle = req.handle, .width = width, .height = height,
			      .pitch = req.pitch, .size = req.size};
	r = dumb_map(fd, &d);
	if (r >= 0 && add_fb) {
		handles[0] = d.handle;
		pitches[0] = d.pitch;
		if (drmModeAddFB2(fd, width, height, FMT_XRGB8888, handles, pitches, offsets,
				  &d.fb_id, 0) < 0)
			r = -errno;
	}
	if (r < 0) {
		kms_dumb_destroy(fd, &d);
		return r;
	}
	memset(d.map, 0, d.size);
	*ret = d;
	return 0;
}

void kms_dumb_destroy(int fd, struct kms_dumb *d)
{
	struct drm_mode_destroy_dumb req = {.handle = d->handle};

	if (d->fb_id)
		drmModeRmFB(fd, d->fb_id);
	if (d->map)
		munmap(d->map, d->size);
	if (d->handle)
		drmIoctl(fd, DRM_IOCTL_MODE_DESTROY_DUMB, &req);
	*d = (struct kms_dumb){0};
}

static void fill_black(struct kms_dumb *buf, const struct vd_rect *r)
{
	for (uint32_t y = 0; y < r->height; y++)
		memset(buf->map + (size_t)(r->y + y) * buf->pitch + (size_t)r->x * 4, 0,
		       (size_t)r->width * 4);
}

/*
 * Black in cell around in (inside cell): the margins of a picture smaller
 * than its place, which a larger picture before it may have covered.
 */
static void fill_around(struct kms_dumb *buf, const struct vd_rect *cell, const struct vd_rect *in)
{
	uint32_t in_bottom = in->y + in->height, in_right = in->x + in->width;

	fill_black(buf, &(struct vd_rect){cell->x, cell->y, cell->width, in->y - cell->y});
	fill_black(buf, &(struct vd_rect){cell->x, in_bottom, cell->width,
					  cell->y + cell->height - in_bottom});
	fill_black(buf, &(struct vd_rect){cell->x, in->y, in->x - cell->x, in->height});
	fill_black(buf, &(struct vd_rect){in_right, in->y, cell->x + cell->width - in_right,
					  in->height});
}

static bool copyable(const struct vd_frame_src *s)
{
	return s->map && s->bpp == 32 && (s->fourcc == FMT_XRGB8888 || s->fourcc == FMT_ARGB8888);
}

/* Copy the part src of the conn's picture to dst in buf (same size). */
static void copy_rect(struct kms_output *out, struct kms_dumb *buf, const struct vd_frame_src *s,
		      const struct vd_rect *src, const struct vd_rect *dst)
{
	const uint8_t *from = (const uint8_t *)s->map + s->offset + (size_t)src->y * s->stride +
			      (size_t)src->x * 4;
	uint8_t *to = buf->map + (size_t)dst->y * buf->pitch + (size_t)dst->x * 4;
	size_t row = (size_t)dst->width * 4;

	for (uint32_t y = 0; y < dst->height; y++)
		memcpy(to + (size_t)y * buf->pitch, from + (size_t)y * s->stride, row);
	vd_output_count_copy(&out->base, row * dst->height);
}

/* Drawn marker of a conn on a plane: its place is black in the composition. */
#define DRAWN_HOLE UINT64_MAX

/* The place of conn i of buf shows conn now (or black: conn is on a plane). */
static void draw_cell(struct kms_head *head, struct kms_dumb *buf, uint32_t i, bool fresh)
{
	struct kms_conn *conn = head->conns[i];
	struct vd_rect cell, src, dst;
	struct kms_fb *fb;
	bool visible;

	/* A place is inside the mode and the buffer is the mode's size; clip anyway. */
	if (!vd_kms_clip(&conn->place, buf->width, buf->height, &cell))
		return;
	if (fresh || conn->plane != VD_KMS_PLANE_COMPOSED)
		fill_black(buf, &cell);
	visible = kms_conn_picture(conn, buf->width, buf->height, &cell, &src, &dst);
	if (conn->plane != VD_KMS_PLANE_COMPOSED)
		return;
	fb = kms_conn_fb(conn);
	if (fb && visible)
		vd_output_fb_map(&fb->base); /* its CPU view from now on */
	if (!visible || !fb || !copyable(&fb->base.src)) {
		if (!fresh)
			fill_black(buf, &cell);
		if (visible && fb)
			vd_log_rl(LOG_WARNING, "kms: %s: format %#x cannot be composed",
				  kms_conn_name(conn), fb->base.src.fourcc);
		return;
	}
	if (!fresh)
		fill_around(buf, &cell, &dst);
	copy_rect(head->out, buf, &fb->base.src, &src, &dst);
}

/*
 * Bring buf (whose drawn[] says what it holds) up to date with every conn:
 * a composed conn's picture, a black place for a conn on a plane.
 */
void kms_head_compose(struct kms_head *head, struct kms_dumb *buf, uint64_t *drawn)
{
	bool redraw[KMS_MAX_CONNS_PER_HEAD] = {false}, fresh[KMS_MAX_CONNS_PER_HEAD] = {false};

	for (uint32_t i = 0; i < head->nconns; i++) {
		const struct kms_conn *conn = head->conns[i];
		uint64_t want = conn->plane == VD_KMS_PLANE_COMPOSED ? conn->base.seq : DRAWN_HOLE;

		redraw[i] |= !drawn[i] || drawn[i] != want;
		fresh[i] |= !drawn[i];
		for (uint32_t j = i + 1; redraw[i] && j < head->nconns; j++)
			if (vd_kms_overlap(&conn->place, &head->conns[j]->place))
				redraw[j] = fresh[j] = true;
	}
	for (uint32_t i = 0; i < head->nconns; i++) {
		if (!redraw[i])
			continue;
		draw_cell(head, buf, i, fresh[i]);
		drawn[i] = head->conns[i]->plane == VD_KMS_PLANE_COMPOSED ? head->conns[i]->base.seq
									  : DRAWN_HOLE;
	}
}

/* The layout changed: every buffer is redrawn from black. */
void kms_head_invalidate(struct kms_head *head)
{
	for (uint32_t b = 0; b < KMS_NBUF; b++) {
		if (head->bufs[b].map)
			memset(head->bufs[b].map, 0, head->bufs[b].size);
		memset(head->drawn[b], 0, sizeof(head->drawn[b]));
	}
	head->dirty = true;
}
