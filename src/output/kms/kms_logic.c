/* SPDX-License-Identifier: MIT */
/* Pure decisions of the KMS output; see kms_logic.h. */
#include "output/kms/kms_logic.h"

#include <errno.h>
#include <string.h>

/* Better candidate for an exact match: preferred first, then refresh. */
static bool exact_better(const struct vd_kms_mode *a, const struct vd_kms_mode *b)
{
	if (a->preferred != b->preferred)
		return a->preferred;
	return a->refresh_mhz > b->refresh_mhz;
}

static int pick_exact(const struct vd_kms_mode *modes, size_t n, uint32_t w, uint32_t h)
{
	int best = -1;

	for (size_t i = 0; i < n; i++) {
		if (modes[i].width != w || modes[i].height != h)
			continue;
		if (best < 0 || exact_better(&modes[i], &modes[best]))
			best = (int)i;
	}
	return best;
}

static int pick_fallback(const struct vd_kms_mode *modes, size_t n)
{
	int best = 0;

	for (size_t i = 0; i < n; i++)
		if (modes[i].preferred)
			return (int)i;
	for (size_t i = 1; i < n; i++)
		if ((uint64_t)modes[i].width * modes[i].height >
		    (uint64_t)modes[best].width * modes[best].height)
			best = (int)i;
	return best;
}

int vd_kms_mode_pick(const struct vd_kms_mode *modes, size_t n, uint32_t width, uint32_t height)
{
	int i;

	if (n == 0)
		return -ENOENT;
	i = pick_exact(modes, n, width, height);
	return i >= 0 ? i : pick_fallback(modes, n);
}

struct vd_rect vd_kms_layout_cell(uint32_t screen_w, uint32_t screen_h, uint32_t n, uint32_t i)
{
	uint32_t w;

	if (n == 0 || i >= n)
		return (struct vd_rect){0, 0, 0, 0};
	w = screen_w / n;
	return (struct vd_rect){
		.x = i * w,
		.y = 0,
		.width = i == n - 1 ? screen_w - i * w : w,
		.height = screen_h,
	};
}

/* One axis, no scaling: centre a length in a span, cropping around the centre. */
static void fit_axis(uint32_t span, uint32_t len, uint32_t *src_off, uint32_t *dst_off,
		     uint32_t *ret_len)
{
	if (len <= span) {
		*src_off = 0;
		*dst_off = (span - len) / 2;
		*ret_len = len;
	} else {
		*src_off = (len - span) / 2;
		*dst_off = 0;
		*ret_len = span;
	}
}

/* Largest w x h with the aspect ratio of src inside the cell. */
static void fit_scaled(const struct vd_rect *cell, uint32_t src_w, uint32_t src_h,
		       struct vd_rect *ret_dst)
{
	uint64_t w = cell->width, h = (uint64_t)src_h * cell->width / src_w;

	if (h > cell->height) {
		h = cell->height;
		w = (uint64_t)src_w * cell->height / src_h;
	}
	if (w == 0)
		w = 1;
	if (h == 0)
		h = 1;
	ret_dst->width = (uint32_t)w;
	ret_dst->height = (uint32_t)h;
	ret_dst->x = cell->x + (cell->width - (uint32_t)w) / 2;
	ret_dst->y = cell->y + (cell->height - (uint32_t)h) / 2;
}

bool vd_kms_fit(const struct vd_rect *cell, uint32_t src_w, uint32_t src_h, bool scale,
		struct vd_rect *ret_src, struct vd_rect *ret_dst)
{
	struct vd_rect s, d;

	if (!cell->width || !cell->height || !src_w || !src_h)
		return false;
	if (scale && (src_w > cell->width || src_h > cell->height)) {
		s = (struct vd_rect){0, 0, src_w, src_h};
		fit_scaled(cell, src_w, src_h, &d);
	} else {
		fit_axis(cell->width, src_w, &s.x, &d.x, &s.width);
		fit_axis(cell->height, src_h, &s.y, &d.y, &s.height);
		d.x += cell->x;
		d.y += cell->y;
		d.width = s.width;
		d.height = s.height;
	}
	*ret_src = s;
	*ret_dst = d;
	return true;
}

bool vd_kms_fit_frame(const struct vd_rect *cell, uint32_t frame_w, uint32_t frame_h,
		      uint32_t pic_w, uint32_t pic_h, struct vd_rect *ret_src,
		      struct vd_rect *ret_dst)
{
	struct vd_rect fs, fd;

	if (!vd_kms_fit(cell, frame_w, frame_h, false, &fs, &fd))
		return false;
	if (pic_w <= fs.x || pic_h <= fs.y)
		return false;
	*ret_src = (struct vd_rect){
		.x = fs.x,
		.y = fs.y,
		.width = fs.width < pic_w - fs.x ? fs.width : pic_w - fs.x,
		.height = fs.height < pic_h - fs.y ? fs.height : pic_h - fs.y,
	};
	*ret_dst = (struct vd_rect){fd.x, fd.y, ret_src->width, ret_src->height};
	return true;
}

static bool parse_u32(const char **s, uint32_t *ret)
{
	uint64_t v = 0;
	const char *p = *s;

	if (*p < '0' || *p > '9')
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*s = p;
	*ret = (uint32_t)v;
	return true;
}

bool vd_kms_parse_rect(const char *s, struct vd_rect *ret)
{
	struct vd_rect r;

	if (!s || !parse_u32(&s, &r.x) || *s++ != ',' || !parse_u32(&s, &r.y) || *s++ != ',' ||
	    !parse_u32(&s, &r.width) || *s++ != 'x' || !parse_u32(&s, &r.height) || *s)
		return false;
	if (!r.width || !r.height || (uint64_t)r.x + r.width > UINT32_MAX ||
	    (uint64_t)r.y + r.height > UINT32_MAX)
		return false;
	*ret = r;
	return true;
}

bool vd_kms_clip(const struct vd_rect *r, uint32_t screen_w, uint32_t screen_h,
		 struct vd_rect *ret)
{
	if (!r->width || !r->height || r->x >= screen_w || r->y >= screen_h)
		return false;
	*ret = *r;
	if (ret->width > screen_w - r->x)
		ret->width = screen_w - r->x;
	if (ret->height > screen_h - r->y)
		ret->height = screen_h - r->y;
	return true;
}

bool vd_kms_overlap(const struct vd_rect *a, const struct vd_rect *b)
{
	return a->width && a->height && b->width && b->height &&
	       (uint64_t)a->x < (uint64_t)b->x + b->width &&
	       (uint64_t)b->x < (uint64_t)a->x + a->width &&
	       (uint64_t)a->y < (uint64_t)b->y + b->height &&
	       (uint64_t)b->y < (uint64_t)a->y + a->height;
}

int vd_kms_desktop_locate(const uint32_t *widths, size_t n, const struct vd_rect *r,
			  struct vd_rect *ret_local)
{
	uint64_t x0 = 0;

	for (size_t i = 0; i < n; x0 += widths[i], i++) {
		if (r->x < x0 || r->x - x0 >= widths[i])
			continue;
		*ret_local = *r;
		ret_local->x = (uint32_t)(r->x - x0);
		return (int)i;
	}
	return -ENOENT;
}

static bool rect_eq(const struct vd_rect *a, const struct vd_rect *b)
{
	return a->x == b->x && a->y == b->y && a->width == b->width && a->height == b->height;
}

/* How well display h suits c (vd_kms_claim): 0 its mapping's, 1 its unique-id's, 2 neither. */
static int claim_rank(const struct vd_kms_claim_conn *c, const char *const *names,
		      const uint32_t *widths, size_t n, size_t h)
{
	struct vd_rect r, local;

	if (h >= n)
		return 2;
	if (c->mapping && vd_kms_parse_rect(c->mapping, &r)) {
		if (vd_kms_desktop_locate(widths, n, &r, &local) == (int)h)
			return 0;
	} else if (c->mapping && names[h] && strcmp(c->mapping, names[h]) == 0) {
		return 0;
	}
	return c->target && names[h] && strcmp(c->target, names[h]) == 0 ? 1 : 2;
}

uint32_t vd_kms_claim(const struct vd_kms_claim_conn *conns, uint32_t nconns,
		      const char *const *names, const uint32_t *widths, size_t n, size_t idx,
		      uint32_t room, bool *ret_take)
{
	uint32_t taken = 0;

	for (uint32_t i = 0; i < nconns; i++)
		ret_take[i] = false;
	for (int rank = 0; rank < 2; rank++)
		for (uint32_t i = 0; i < nconns && taken < room; i++) {
			const struct vd_kms_claim_conn *c = &conns[i];

			if (c->head == idx || claim_rank(c, names, widths, n, idx) != rank ||
			    claim_rank(c, names, widths, n, c->head) <= rank)
				continue;
			ret_take[i] = true;
			taken++;
		}
	return taken;
}

static bool plane_fits(const struct vd_kms_plane_req *r, const struct vd_kms_plane_caps *caps)
{
	return r->importable && r->dst.width && r->dst.height &&
	       (caps->scaling || (r->src_w == r->dst.width && r->src_h == r->dst.height));
}

uint32_t vd_kms_plane_plan(const struct vd_kms_plane_req *reqs, uint32_t n,
			   const struct vd_kms_plane_caps *caps, uint32_t screen_w,
			   uint32_t screen_h, int *ret_plane)
{
	uint32_t composed = 0, used = 0;

	for (uint32_t i = 0; i < n; i++)
		ret_plane[i] = VD_KMS_PLANE_COMPOSED;
	if (n == 1 && reqs[0].importable && reqs[0].dst.x == 0 && reqs[0].dst.y == 0 &&
	    reqs[0].dst.width == screen_w && reqs[0].dst.height == screen_h &&
	    reqs[0].src_w == screen_w && reqs[0].src_h == screen_h) {
		ret_plane[0] = VD_KMS_PLANE_PRIMARY;
		return 0;
	}
	/* From the top down: how many overlays the ones on planes need, counted first. */
	for (uint32_t k = n; k-- > 0;) {
		bool ok = used < caps->noverlays && plane_fits(&reqs[k], caps);

		for (uint32_t j = k + 1; ok && j < n; j++) {
			struct vd_rect cover = reqs[j].cover.width ? reqs[j].cover : reqs[j].dst;
			bool opaque = ret_plane[j] != VD_KMS_PLANE_COMPOSED &&
				      rect_eq(&cover, &reqs[j].dst);

			if (!opaque && vd_kms_overlap(&reqs[k].dst, &cover))
				ok = false;
		}
		if (ok)
			ret_plane[k] = (int)++used; /* provisional: renumbered bottom-up below */
		else
			composed++;
	}
	/* Overlay numbers bottom-up, so a higher connector is on a higher overlay. */
	for (uint32_t i = 0, z = 0; i < n; i++)
		if (ret_plane[i] != VD_KMS_PLANE_COMPOSED)
			ret_plane[i] = (int)++z;
	return composed;
}

/* struct drm_format_modifier_blob and struct drm_format_modifier, as laid out by uapi. */
#define BLOB_HDR_SIZE 24u
#define MOD_ENTRY_SIZE 24u

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* The table [off, off + count * size) lies inside len bytes. */
static bool table_ok(size_t len, uint32_t off, uint32_t count, uint32_t size)
{
	uint64_t end = (uint64_t)off + (uint64_t)count * size;

	return off >= BLOB_HDR_SIZE && end <= len;
}

/* Does modifier entry m (24 bytes) allow format index fi with modifier? */
static bool mod_entry_has(const uint8_t *m, uint32_t fi, uint64_t modifier)
{
	uint64_t mask = get64(m);
	uint32_t offset = get32(m + 8);

	if (modifier != VD_KMS_MOD_INVALID && get64(m + 16) != modifier)
		return false;
	return fi >= offset && fi - offset < 64 && (mask >> (fi - offset) & 1);
}

bool vd_kms_in_formats_has(const void *blob, size_t len, uint32_t fourcc, uint64_t modifier)
{
	const uint8_t *b = blob;
	uint32_t nfmt, fofs, nmod, mofs;

	if (!b || len < BLOB_HDR_SIZE || get32(b) != 1)
		return false;
	nfmt = get32(b + 8);
	fofs = get32(b + 12);
	nmod = get32(b + 16);
	mofs = get32(b + 20);
	if (!table_ok(len, fofs, nfmt, 4) || !table_ok(len, mofs, nmod, MOD_ENTRY_SIZE))
		return false;
	for (uint32_t fi = 0; fi < nfmt; fi++) {
		if (get32(b + fofs + (size_t)fi * 4) != fourcc)
			continue;
		for (uint32_t mi = 0; mi < nmod; mi++)
			if (mod_entry_has(b + mofs + (size_t)mi * MOD_ENTRY_SIZE, fi, modifier))
				return true;
	}
	return false;
}
