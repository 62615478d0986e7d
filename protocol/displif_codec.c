/* SPDX-License-Identifier: MIT */
/*
 * Request decoding and validation, response/event encoding.
 *
 * The request has already been copied out of the shared ring, so every field
 * is read once here. Reserved bytes are never inspected: Linux does not clear
 * request slots, so they may hold leftovers (PROTOCOL.md §2).
 */
#include <errno.h>
#include <string.h>

#include "displif_proto.h"

/* Smallest EDID buffer we accept: one base block. */
#define VD_EDID_MIN_BUF XENDISPL_EDID_BLOCK_SIZE

static bool bpp_valid(uint32_t bpp)
{
	return bpp == 8 || bpp == 16 || bpp == 24 || bpp == 32;
}

static bool dim_valid(uint32_t v)
{
	return v >= 1 && v <= VD_MAX_DIM;
}

/* Fills geometry-dependent fields of *d; d->buffer_sz etc. already set. */
static int dbuf_check_geometry(struct vd_dbuf_create *d)
{
	uint64_t avail = (uint64_t)d->num_pages * VD_PAGE_SIZE;
	int64_t stride;

	if (d->width == 0 && d->height == 0 && d->bpp == 0) {
		/* Imported PRIME buffer: only the offset can be checked. */
		d->stride = 0;
		return d->data_ofs < avail ? 0 : -EINVAL;
	}
	if (!dim_valid(d->width) || !dim_valid(d->height) || !bpp_valid(d->bpp))
		return -EINVAL;
	if (d->data_ofs >= d->buffer_sz)
		return -EINVAL;
	stride = vd_infer_stride(d->width, d->height, d->bpp, d->buffer_sz - d->data_ofs);
	if (stride < 0)
		return (int)stride;
	if ((uint64_t)d->data_ofs + (uint64_t)stride * d->height > avail)
		return -EINVAL;
	d->stride = (uint32_t)stride;
	return 0;
}

static int decode_dbuf_create(const struct xendispl_dbuf_create_req *in, int version,
			      struct vd_dbuf_create *d)
{
	d->dbuf_cookie = in->dbuf_cookie;
	d->width = in->width;
	d->height = in->height;
	d->bpp = in->bpp;
	d->buffer_sz = in->buffer_sz;
	d->gref_directory = in->gref_directory;
	/* v1 has no data_ofs: the bytes are reserved and may be dirty. */
	d->data_ofs = version >= 2 ? in->data_ofs : 0;
	d->be_alloc = (in->flags & XENDISPL_DBUF_FLG_REQ_ALLOC) != 0;

	if (d->dbuf_cookie == 0 || d->gref_directory == 0)
		return -EINVAL;
	if (in->flags & ~(uint32_t)XENDISPL_DBUF_FLG_REQ_ALLOC)
		return -EINVAL;
	if (d->buffer_sz == 0)
		return -EINVAL;
	d->num_pages = vd_pages_for_bytes(d->buffer_sz);
	if (d->num_pages > VD_MAX_BUFFER_PAGES)
		return -EINVAL;
	d->num_dir_pages = vd_dir_pages_for(d->num_pages);
	return dbuf_check_geometry(d);
}

static int decode_fb_attach(const struct xendispl_fb_attach_req *in, struct vd_fb_attach *f)
{
	int bpp;

	f->dbuf_cookie = in->dbuf_cookie;
	f->fb_cookie = in->fb_cookie;
	f->width = in->width;
	f->height = in->height;
	f->pixel_format = in->pixel_format;
	if (f->dbuf_cookie == 0 || f->fb_cookie == 0)
		return -EINVAL;
	if (!dim_valid(f->width) || !dim_valid(f->height))
		return -EINVAL;
	bpp = vd_format_bpp(f->pixel_format);
	if (bpp < 0)
		return bpp;
	f->bpp = (uint32_t)bpp;
	return 0;
}

/*
 * fb_cookie 0 disables and the rest is ignored (Linux sends zeros). The
 * window against the fb is the caller's (vd_proto_window_valid); x and y
 * are capped here so that x + width cannot wrap in 32 bits.
 */
static int decode_set_config(const struct xendispl_set_config_req *in, struct vd_set_config *c)
{
	c->fb_cookie = in->fb_cookie;
	if (c->fb_cookie == 0)
		return 0;
	c->x = in->x;
	c->y = in->y;
	c->width = in->width;
	c->height = in->height;
	c->bpp = in->bpp;
	if (!dim_valid(c->width) || !dim_valid(c->height) || !bpp_valid(c->bpp))
		return -EINVAL;
	if (c->x > VD_MAX_DIM || c->y > VD_MAX_DIM)
		return -EINVAL;
	return 0;
}

static bool window_axis_valid(uint32_t pos, uint32_t conn, uint32_t fb)
{
	if (fb < conn)
		return pos == 0;
	return (uint64_t)pos + conn <= fb;
}

bool vd_proto_window_valid(uint32_t x, uint32_t y, uint32_t conn_w, uint32_t conn_h,
			   uint32_t fb_w, uint32_t fb_h, uint32_t fourcc)
{
	if (!conn_w || !conn_h || !fb_w || !fb_h || x % vd_format_hsub(fourcc))
		return false;
	return window_axis_valid(x, conn_w, fb_w) && window_axis_valid(y, conn_h, fb_h);
}

/* The EPAM frontend patch sends exactly XENDISPL_EDID_MAX_SIZE (8 pages). */
static int decode_get_edid(const struct xendispl_get_edid_req *in, int version,
			   struct vd_get_edid *e)
{
	if (version < 2)
		return -ENOSYS;
	e->buffer_sz = in->buffer_sz;
	e->gref_directory = in->gref_directory;
	if (e->buffer_sz < VD_EDID_MIN_BUF || e->buffer_sz > XENDISPL_EDID_MAX_SIZE)
		return -EINVAL;
	if (e->gref_directory == 0)
		return -EINVAL;
	e->num_pages = vd_pages_for_bytes(e->buffer_sz);
	e->num_dir_pages = vd_dir_pages_for(e->num_pages);
	return 0;
}

static int cookie_check(uint64_t cookie, uint64_t *ret_cookie)
{
	*ret_cookie = cookie;
	return cookie != 0 ? 0 : -EINVAL;
}

int vd_proto_decode_req(const struct xendispl_req *raw, int version, struct vd_req *ret_req)
{
	memset(ret_req, 0, sizeof(*ret_req));
	ret_req->id = raw->id;
	ret_req->operation = raw->operation;

	switch (raw->operation) {
	case XENDISPL_OP_DBUF_CREATE:
		return decode_dbuf_create(&raw->op.dbuf_create, version, &ret_req->dbuf_create);
	case XENDISPL_OP_DBUF_DESTROY:
		return cookie_check(raw->op.dbuf_destroy.dbuf_cookie,
				    &ret_req->dbuf_destroy_cookie);
	case XENDISPL_OP_FB_ATTACH:
		return decode_fb_attach(&raw->op.fb_attach, &ret_req->fb_attach);
	case XENDISPL_OP_FB_DETACH:
		return cookie_check(raw->op.fb_detach.fb_cookie, &ret_req->fb_detach_cookie);
	case XENDISPL_OP_SET_CONFIG:
		return decode_set_config(&raw->op.set_config, &ret_req->set_config);
	case XENDISPL_OP_PG_FLIP:
		return cookie_check(raw->op.pg_flip.fb_cookie, &ret_req->pg_flip_cookie);
	case XENDISPL_OP_GET_EDID:
		return decode_get_edid(&raw->op.get_edid, version, &ret_req->get_edid);
	default:
		return -ENOSYS;
	}
}

/*
 * Whole slot zeroed: the frontend reuses it for its next request without
 * clearing it, so whatever we leave here turns into request bytes.
 */
void vd_proto_encode_resp(struct xendispl_resp *slot, uint16_t id, uint8_t operation,
			  int32_t status, uint32_t edid_sz)
{
	memset(slot, 0, sizeof(*slot));
	slot->id = id;
	slot->operation = operation;
	slot->status = status;
	slot->op.get_edid.edid_sz = edid_sz;
}

void vd_proto_encode_pg_flip_evt(struct xendispl_evt *slot, uint16_t evt_id, uint64_t fb_cookie)
{
	memset(slot, 0, sizeof(*slot));
	slot->id = evt_id;
	slot->type = XENDISPL_EVT_PG_FLIP;
	slot->op.pg_flip.fb_cookie = fb_cookie;
}

/*
 * Candidates in the order Linux produced them: the exact unaligned size (up
 * to 2025), then a pitch aligned to 8 with a page-rounded size
 * (drm_mode_size_dumb), then any unaligned buffer with slack. Comparisons
 * are a*h <= B  <=>  a <= B / h so nothing can overflow.
 */
int64_t vd_infer_stride(uint32_t width, uint32_t height, uint32_t bpp, uint32_t buffer_sz)
{
	uint64_t unaligned, aligned8, per_line;

	if (width == 0 || height == 0 || bpp == 0)
		return -EINVAL;
	unaligned = ((uint64_t)width * bpp + 7) / 8;
	aligned8 = (unaligned + 7) & ~(uint64_t)7;
	per_line = buffer_sz / height;

	if (buffer_sz % height == 0 && per_line == unaligned)
		return (int64_t)unaligned;
	if (aligned8 <= per_line)
		return (int64_t)aligned8;
	if (unaligned <= per_line)
		return (int64_t)unaligned;
	return -EINVAL;
}
