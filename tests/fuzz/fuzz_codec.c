/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for everything in protocol/ a guest controls: request
 * decoding (v1 and v2), the page directory walker (read and be-alloc fill),
 * the event page producer against a hostile in_cons, stride inference and
 * EDID generation. Invariants that must hold for any input abort on failure.
 *
 * Input: byte 0 selects the mode, the rest is mode data.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "displif_proto.h"
#include "fuzz_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

/* Consumes little-endian u32s from the input, zero once it runs out. */
struct cursor {
	const uint8_t *p;
	size_t left;
};

static uint32_t take_u32(struct cursor *c)
{
	uint8_t b[4] = {0};
	size_t n = c->left < 4 ? c->left : 4;

	memcpy(b, c->p, n);
	c->p += n;
	c->left -= n;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void check_dbuf(const struct vd_dbuf_create *d)
{
	uint64_t avail = (uint64_t)d->num_pages * VD_PAGE_SIZE;

	CHECK(d->dbuf_cookie != 0 && d->gref_directory != 0 && d->buffer_sz != 0);
	CHECK(d->num_pages >= 1 && d->num_pages <= VD_MAX_BUFFER_PAGES);
	CHECK(d->num_dir_pages == vd_dir_pages_for(d->num_pages));
	CHECK((uint64_t)d->data_ofs + (uint64_t)d->stride * d->height <= avail);
	if (d->width != 0)
		CHECK(d->stride >= ((uint64_t)d->width * d->bpp + 7) / 8);
}

static void fuzz_request(const uint8_t *data, size_t size)
{
	struct xendispl_req raw;
	struct xendispl_resp resp;
	struct vd_req q;
	int version, ret;

	memset(&raw, 0, sizeof(raw));
	memcpy(&raw, data, size < sizeof(raw) ? size : sizeof(raw));
	for (version = 1; version <= 2; version++) {
		ret = vd_proto_decode_req(&raw, version, &q);
		CHECK(q.id == raw.id && q.operation == raw.operation);
		CHECK(ret <= 0);
		if (ret == 0 && q.operation == XENDISPL_OP_DBUF_CREATE)
			check_dbuf(&q.dbuf_create);
		if (ret == 0 && q.operation == XENDISPL_OP_FB_ATTACH)
			CHECK(vd_format_bpp(q.fb_attach.pixel_format) == (int)q.fb_attach.bpp);
		if (ret == 0 && q.operation == XENDISPL_OP_GET_EDID)
			CHECK(version == 2 && q.get_edid.num_pages <= 8);
		vd_proto_encode_resp(&resp, q.id, q.operation, ret, 0);
		CHECK(resp.id == raw.id && resp.status == ret);
	}
}

/*
 * Directory pages are successive 4096-byte chunks of the input, the last
 * one zero padded and zero pages after that: a chain can never be longer
 * than the walker allows, however the input links it.
 */
static int walk_read(struct vd_pgdir_walk *w, struct cursor *c)
{
	static uint8_t page[VD_PAGE_SIZE];
	uint32_t pages = 0;
	size_t n;
	int ret;

	do {
		n = c->left < sizeof(page) ? c->left : sizeof(page);
		memset(page, 0, sizeof(page));
		memcpy(page, c->p, n);
		c->p += n;
		c->left -= n;
		ret = vd_pgdir_walk_feed(w, page);
		CHECK(++pages <= w->num_dir_pages);
	} while (ret == 1);
	return ret;
}

static int walk_fill(struct vd_pgdir_walk *w, struct cursor *c)
{
	static uint32_t page[VD_PAGE_SIZE / 4];
	uint32_t pages = 0, next;
	int ret;

	do {
		page[0] = take_u32(c);
		ret = vd_pgdir_fill_page(w, page, &next);
		CHECK(++pages <= w->num_dir_pages);
		CHECK(ret != 1 || next == page[0]);
	} while (ret == 1);
	return ret;
}

static void fuzz_pgdir(const uint8_t *data, size_t size)
{
	static uint32_t grefs[VD_MAX_BUFFER_PAGES];
	struct cursor c = {data, size};
	struct vd_pgdir_walk w;
	uint32_t buffer_sz = take_u32(&c), mode = take_u32(&c), i;
	uint32_t num = vd_pages_for_bytes(buffer_sz);
	int ret;

	if (vd_pgdir_walk_init(&w, num, 1 + (mode >> 1), grefs) < 0) {
		CHECK(num == 0 || num > VD_MAX_BUFFER_PAGES);
		return;
	}
	if (mode & 1) {
		for (i = 0; i < num; i++)
			grefs[i] = i + 1;
		w.fill = true;
		ret = walk_fill(&w, &c);
	} else {
		ret = walk_read(&w, &c);
	}
	CHECK(ret == 0 || ret == -EINVAL);
	if (ret == 0) {
		CHECK(w.collected == num && w.dir_seen == w.num_dir_pages);
		for (i = 0; i < num && !(mode & 1); i++)
			CHECK(grefs[i] != 0);
	}
}

/* Input: u32 values for in_cons, one per put. */
static void fuzz_evt_ring(const uint8_t *data, size_t size)
{
	static uint32_t page[XENDISPL_EVENT_PAGE_SIZE / 4];
	struct xendispl_event_page *hdr = (struct xendispl_event_page *)page;
	struct cursor c = {data, size};
	struct vd_evt_ring r;
	uint16_t expect_id = 0;

	memset(page, 0, sizeof(page));
	hdr->in_cons = take_u32(&c);
	vd_evt_ring_init(&r, page);
	while (c.left >= 4) {
		uint32_t prod = hdr->in_prod;
		int ret;

		hdr->in_cons = take_u32(&c);
		ret = vd_evt_ring_put_pg_flip(&r, page, 1);
		if (ret == 0) {
			CHECK(hdr->in_prod == prod + 1);
			CHECK(XENDISPL_IN_RING_REF(page, prod).id == expect_id);
			CHECK(prod - hdr->in_cons < XENDISPL_IN_RING_LEN);
			expect_id++;
		} else {
			CHECK(hdr->in_prod == prod);
		}
		CHECK(r.next_id == expect_id);
	}
}

static void fuzz_stride_edid(const uint8_t *data, size_t size)
{
	struct cursor c = {data, size};
	uint32_t w = take_u32(&c), h = take_u32(&c), bpp = take_u32(&c), sz = take_u32(&c);
	int64_t stride = vd_infer_stride(w, h, bpp, sz);
	uint8_t edid[VD_EDID_SIZE], sum = 0;
	size_t i;

	if (stride >= 0)
		CHECK((uint64_t)stride * h <= sz && (uint64_t)stride * 8 >= (uint64_t)w * bpp);
	if (vd_edid_generate(w & 0x1fff, h & 0x1fff, NULL, edid) == 0) {
		for (i = 0; i < sizeof(edid); i++)
			sum = (uint8_t)(sum + edid[i]);
		CHECK(sum == 0);
		CHECK((edid[0x38] | (edid[0x3a] >> 4) << 8) == (w & 0x1fff));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % FUZZ_MODE_COUNT) {
	case FUZZ_MODE_REQUEST:
		fuzz_request(data + 1, size - 1);
		break;
	case FUZZ_MODE_PGDIR:
		fuzz_pgdir(data + 1, size - 1);
		break;
	case FUZZ_MODE_EVT_RING:
		fuzz_evt_ring(data + 1, size - 1);
		break;
	default:
		fuzz_stride_edid(data + 1, size - 1);
		break;
	}
	return 0;
}
