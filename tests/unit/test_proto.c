/* SPDX-License-Identifier: MIT */
/* displif codec, stride inference, formats and the event page producer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "displif_proto.h"

#define FMT_XRGB8888 VD_FOURCC('X', 'R', '2', '4')
#define FMT_RGB565 VD_FOURCC('R', 'G', '1', '6')

/* A request slot as Linux leaves it: full of leftovers, then fields set. */
static void req_dirty(struct xendispl_req *r, uint16_t id, uint8_t op)
{
	memset(r, 0xa5, sizeof(*r));
	r->id = id;
	r->operation = op;
}

static void req_dbuf(struct xendispl_req *r, uint32_t w, uint32_t h, uint32_t bpp, uint32_t sz)
{
	req_dirty(r, 7, XENDISPL_OP_DBUF_CREATE);
	r->op.dbuf_create.dbuf_cookie = 0x1122334455667788ull;
	r->op.dbuf_create.width = w;
	r->op.dbuf_create.height = h;
	r->op.dbuf_create.bpp = bpp;
	r->op.dbuf_create.buffer_sz = sz;
	r->op.dbuf_create.flags = 0;
	r->op.dbuf_create.gref_directory = 42;
	r->op.dbuf_create.data_ofs = 0;
}

static int decode(const struct xendispl_req *r, int version, struct vd_req *out)
{
	return vd_proto_decode_req(r, version, out);
}

static void test_dbuf_create_ok(void **state)
{
	struct xendispl_req r;
	struct vd_req q;

	req_dbuf(&r, 1920, 1080, 32, 1920 * 1080 * 4);
	assert_int_equal(decode(&r, 1, &q), 0);
	assert_int_equal(q.id, 7);
	assert_int_equal(q.operation, XENDISPL_OP_DBUF_CREATE);
	assert_true(q.dbuf_create.dbuf_cookie == 0x1122334455667788ull);
	assert_int_equal(q.dbuf_create.stride, 7680);
	assert_int_equal(q.dbuf_create.num_pages, 2025);
	assert_int_equal(q.dbuf_create.num_dir_pages, 2);
	assert_int_equal(q.dbuf_create.gref_directory, 42);
	assert_false(q.dbuf_create.be_alloc);

	r.op.dbuf_create.flags = XENDISPL_DBUF_FLG_REQ_ALLOC;
	assert_int_equal(decode(&r, 2, &q), 0);
	assert_true(q.dbuf_create.be_alloc);
}

static void test_dbuf_create_reject(void **state)
{
	struct xendispl_req r;
	struct vd_req q;
	static const uint32_t bad_bpp[] = {1, 4, 15, 12, 0, 33, 64, 0xffffffffu};
	size_t i;

	req_dbuf(&r, 64, 64, 32, 64 * 64 * 4);
	r.op.dbuf_create.dbuf_cookie = 0;
	assert_int_equal(decode(&r, 1, &q), -EINVAL);
	assert_int_equal(q.id, 7); /* still echoed */
	assert_int_equal(q.operation, XENDISPL_OP_DBUF_CREATE);

	req_dbuf(&r, 64, 64, 32, 64 * 64 * 4);
	r.op.dbuf_create.flags = 2;
	assert_int_equal(decode(&r, 1, &q), -EINVAL);
	r.op.dbuf_create.flags = 0x80000001u;
	assert_int_equal(decode(&r, 1, &q), -EINVAL);

	for (i = 0; i < sizeof(bad_bpp) / sizeof(bad_bpp[0]); i++) {
		req_dbuf(&r, 64, 64, bad_bpp[i], 64 * 64 * 4);
		assert_int_equal(decode(&r, 1, &q), -EINVAL);
	}

	req_dbuf(&r, 64, 64, 32, 0);
	assert_int_equal(decode(&r, 1, &q), -EINVAL);
	req_dbuf(&r, 64, 64, 32, 64 * 64 * 4);
	r.op.dbuf_create.gref_directory = 0;
	assert_int_equal(decode(&r, 1, &q), -EINVAL);

	/* Dimensions: zero (not imported) and over the cap. */
	req_dbuf(&r, 0, 64, 32, 64 * 64 * 4);
	assert_int_equal(decode(&r, 1, &q), -EINVAL);
	req_dbuf(&r, 64, 0, 32, 64 * 64 * 4);
	assert_int_equal(decode(&r, 1, &q), -EINVAL);
	req_dbuf(&r, VD_MAX_DIM + 1, 1, 8, VD_MAX_DIM + 1);
	assert_int_equal(decode(&r, 1, &q), -EINVAL);
	req_dbuf(&r, 1, VD_MAX_DIM + 1, 8, VD_MAX_DIM + 8);
	assert_int_equal(decode(&r, 1, &q), -EINVAL);
	req_dbuf(&r, VD_MAX_DIM, 1, 8, VD_MAX_DIM);
	assert_int_equal(decode(&r, 1, &q), 0);

	/* Buffer one byte short of the image. */
	req_dbuf(&r, 64, 64, 32, 64 * 64 * 4 - 1);
	assert_int_equal(decode(&r, 1, &q), -EINVAL);

	/* Page cap: 8192x8192x32 is exactly 65536 pages; one byte more is too many. */
	req_dbuf(&r, 8192, 8192, 32, (uint32_t)(VD_MAX_BUFFER_PAGES * VD_PAGE_SIZE));
	assert_int_equal(decode(&r, 1, &q), 0);
	assert_int_equal(q.dbuf_create.num_pages, VD_MAX_BUFFER_PAGES);
	assert_int_equal(q.dbuf_create.num_dir_pages, 65);
	req_dbuf(&r, 8192, 8192, 32, (uint32_t)(VD_MAX_BUFFER_PAGES * VD_PAGE_SIZE + 1));
	assert_int_equal(decode(&r, 1, &q), -EINVAL);
	req_dbuf(&r, 64, 64, 32, 0xffffffffu);
	assert_int_equal(decode(&r, 1, &q), -EINVAL);
}

static void test_dbuf_create_imported(void **state)
{
	struct xendispl_req r;
	struct vd_req q;

	req_dbuf(&r, 0, 0, 0, 3 * 4096 + 17);
	r.op.dbuf_create.data_ofs = 256;
	assert_int_equal(decode(&r, 2, &q), 0);
	assert_int_equal(q.dbuf_create.stride, 0);
	assert_int_equal(q.dbuf_create.data_ofs, 256);
	assert_int_equal(q.dbuf_create.num_pages, 4);

	/* Offset beyond the pages. */
	r.op.dbuf_create.data_ofs = 4 * 4096;
	assert_int_equal(decode(&r, 2, &q), -EINVAL);
}

static void test_dbuf_create_data_ofs(void **state)
{
	struct xendispl_req r;
	struct vd_req q;

	/* v1: data_ofs bytes are reserved, dirty, ignored. */
	req_dbuf(&r, 64, 64, 32, 64 * 64 * 4);
	r.op.dbuf_create.data_ofs = 0xdeadbeefu;
	assert_int_equal(decode(&r, 1, &q), 0);
	assert_int_equal(q.dbuf_create.data_ofs, 0);

	/* v2: honoured and bounded in 64 bits. */
	assert_int_equal(decode(&r, 2, &q), -EINVAL);
	req_dbuf(&r, 64, 64, 32, 64 * 64 * 4 + 64);
	r.op.dbuf_create.data_ofs = 64;
	assert_int_equal(decode(&r, 2, &q), 0);
	assert_int_equal(q.dbuf_create.stride, 256);
	r.op.dbuf_create.data_ofs = 65;
	assert_int_equal(decode(&r, 2, &q), -EINVAL);
}

static void test_reserved_tolerated(void **state)
{
	struct xendispl_req r;
	struct vd_req q;

	/* req_dirty fills reserved[] and op tail with 0xa5: all must pass. */
	req_dbuf(&r, 32, 32, 16, 32 * 32 * 2);
	assert_int_equal(decode(&r, 2, &q), 0);

	req_dirty(&r, 9, XENDISPL_OP_DBUF_DESTROY);
	r.op.dbuf_destroy.dbuf_cookie = 5;
	assert_int_equal(decode(&r, 1, &q), 0);
	assert_int_equal(q.id, 9);
	assert_true(q.dbuf_destroy_cookie == 5);

	req_dirty(&r, 10, XENDISPL_OP_PG_FLIP);
	r.op.pg_flip.fb_cookie = 6;
	assert_int_equal(decode(&r, 1, &q), 0);
	assert_true(q.pg_flip_cookie == 6);

	req_dirty(&r, 11, XENDISPL_OP_FB_DETACH);
	r.op.fb_detach.fb_cookie = 7;
	assert_int_equal(decode(&r, 1, &q), 0);
	assert_true(q.fb_detach_cookie == 7);
}

static void test_cookie_zero(void **state)
{
	static const uint8_t ops[] = {XENDISPL_OP_DBUF_DESTROY, XENDISPL_OP_FB_DETACH,
				      XENDISPL_OP_PG_FLIP};
	struct xendispl_req r;
	struct vd_req q;
	size_t i;

	for (i = 0; i < sizeof(ops); i++) {
		req_dirty(&r, (uint16_t)(100 + i), ops[i]);
		r.op.pg_flip.fb_cookie = 0; /* same offset for all three */
		assert_int_equal(decode(&r, 2, &q), -EINVAL);
		assert_int_equal(q.id, 100 + i);
		assert_int_equal(q.operation, ops[i]);
	}
}

static void fb_req(struct xendispl_req *r, uint32_t w, uint32_t h, uint32_t fmt)
{
	req_dirty(r, 3, XENDISPL_OP_FB_ATTACH);
	r->op.fb_attach.dbuf_cookie = 1;
	r->op.fb_attach.fb_cookie = 0xffff888812345678ull;
	r->op.fb_attach.width = w;
	r->op.fb_attach.height = h;
	r->op.fb_attach.pixel_format = fmt;
}

static void test_fb_attach(void **state)
{
	struct xendispl_req r;
	struct vd_req q;

	fb_req(&r, 1024, 768, FMT_XRGB8888);
	assert_int_equal(decode(&r, 1, &q), 0);
	assert_int_equal(q.fb_attach.bpp, 32);
	assert_int_equal(q.fb_attach.width, 1024);
	assert_true(q.fb_attach.fb_cookie == 0xffff888812345678ull);
	fb_req(&r, 1024, 768, FMT_RGB565);
	assert_int_equal(decode(&r, 1, &q), 0);
	assert_int_equal(q.fb_attach.bpp, 16);

	fb_req(&r, 1024, 768, VD_FOURCC('N', 'V', '1', '2'));
	assert_int_equal(decode(&r, 1, &q), -EINVAL);
	fb_req(&r, 0, 768, FMT_XRGB8888);
	assert_int_equal(decode(&r, 1, &q), -EINVAL);
	fb_req(&r, 1024, VD_MAX_DIM + 1, FMT_XRGB8888);
	assert_int_equal(decode(&r, 1, &q), -EINVAL);
	fb_req(&r, 1024, 768, FMT_XRGB8888);
	r.op.fb_attach.dbuf_cookie = 0;
	assert_int_equal(decode(&r, 1, &q), -EINVAL);
	fb_req(&r, 1024, 768, FMT_XRGB8888);
	r.op.fb_attach.fb_cookie = 0;
	assert_int_equal(decode(&r, 1, &q), -EINVAL);
}

static void test_set_config(void **state)
{
	struct xendispl_req r;
	struct vd_req q;

	/* Disable: other fields ignored even if dirty. */
	req_dirty(&r, 4, XENDISPL_OP_SET_CONFIG);
	r.op.set_config.fb_cookie = 0;
	assert_int_equal(decode(&r, 1, &q), 0);
	assert_true(q.set_config.fb_cookie == 0);
	assert_int_equal(q.set_config.width, 0);

	req_dirty(&r, 4, XENDISPL_OP_SET_CONFIG);
	r.op.set_config.fb_cookie = 77;
	r.op.set_config.x = 0;
	r.op.set_config.y = 0;
	r.op.set_config.width = 800;
	r.op.set_config.height = 600;
	r.op.set_config.bpp = 32;
	assert_int_equal(decode(&r, 1, &q), 0);
	assert_int_equal(q.set_config.width, 800);
	assert_int_equal(q.set_config.bpp, 32);

	r.op.set_config.bpp = 12;
	assert_int_equal(decode(&r, 1, &q), -EINVAL);
	r.op.set_config.bpp = 32;
	r.op.set_config.width = 0;
	assert_int_equal(decode(&r, 1, &q), -EINVAL);
	r.op.set_config.width = 800;
	r.op.set_config.x = 0xfffffff0u; /* would wrap x + width */
	assert_int_equal(decode(&r, 1, &q), -EINVAL);
}

/*
 * SET_CONFIG's window: Linux sends crtc->x/y and the fb's size; a
 * connector shows its resolution's worth of the fb from (x, y).
 */
static void test_set_config_window(void **state)
{
	const uint32_t xr24 = VD_FOURCC('X', 'R', '2', '4'), yuyv = VD_FOURCC('Y', 'U', 'Y', 'V');

	/* modetest -s A -s B: 1024x768 and 800x600 connectors on one 1824x768 fb */
	assert_true(vd_proto_window_valid(0, 0, 1024, 768, 1824, 768, xr24));
	assert_true(vd_proto_window_valid(1024, 0, 800, 600, 1824, 768, xr24));
	/* the second connector one pixel further would read past the fb */
	assert_false(vd_proto_window_valid(1025, 0, 800, 600, 1824, 768, xr24));
	assert_false(vd_proto_window_valid(1024, 169, 800, 600, 1824, 768, xr24));
	assert_true(vd_proto_window_valid(1024, 168, 800, 600, 1824, 768, xr24));
	/* the fb as large as the connector: only at 0,0 (vdispld once took w/h as the window) */
	assert_true(vd_proto_window_valid(0, 0, 320, 240, 320, 240, xr24));
	assert_false(vd_proto_window_valid(10, 10, 320, 240, 320, 240, xr24));
	/* cloning: two connectors, one fb, the same window */
	assert_true(vd_proto_window_valid(0, 0, 640, 480, 640, 480, xr24));
	/* a fb smaller than the connector: at the top-left only, black around */
	assert_true(vd_proto_window_valid(0, 0, 1024, 768, 640, 480, xr24));
	assert_false(vd_proto_window_valid(1, 0, 1024, 768, 640, 480, xr24));
	assert_false(vd_proto_window_valid(0, 1, 1024, 768, 640, 480, xr24));
	/* smaller on one axis, larger on the other */
	assert_true(vd_proto_window_valid(0, 100, 1024, 768, 640, 2000, xr24));
	/* outside the fb altogether, and the 32-bit wrap */
	assert_false(vd_proto_window_valid(1824, 0, 800, 600, 1824, 768, xr24));
	assert_false(vd_proto_window_valid(0xffffff00u, 0, 0x200, 600, 0xffffffffu, 768, xr24));
	assert_true(vd_proto_window_valid(0xfffffd00u, 0, 0x200, 600, 0xffffffffu, 768, xr24));
	/* empty sizes */
	assert_false(vd_proto_window_valid(0, 0, 0, 768, 1824, 768, xr24));
	assert_false(vd_proto_window_valid(0, 0, 1024, 768, 0, 768, xr24));
	/* YUYV: a window may not split a pixel pair */
	assert_true(vd_proto_window_valid(2, 0, 100, 100, 202, 100, yuyv));
	assert_false(vd_proto_window_valid(1, 0, 100, 100, 202, 100, yuyv));
	assert_true(vd_proto_window_valid(1, 0, 100, 100, 202, 100, xr24));
}

static void edid_req(struct xendispl_req *r, uint32_t sz, uint32_t gref)
{
	req_dirty(r, 12, XENDISPL_OP_GET_EDID);
	r->op.get_edid.buffer_sz = sz;
	r->op.get_edid.gref_directory = gref;
}

static void test_get_edid(void **state)
{
	struct xendispl_req r;
	struct vd_req q;

	edid_req(&r, XENDISPL_EDID_MAX_SIZE, 9);
	assert_int_equal(decode(&r, 1, &q), -ENOSYS);
	assert_int_equal(q.id, 12);
	assert_int_equal(q.operation, XENDISPL_OP_GET_EDID);
	assert_int_equal(decode(&r, 2, &q), 0);
	assert_int_equal(q.get_edid.num_pages, 8);
	assert_int_equal(q.get_edid.num_dir_pages, 1);
	assert_int_equal(q.get_edid.gref_directory, 9);

	edid_req(&r, 128, 9);
	assert_int_equal(decode(&r, 2, &q), 0);
	assert_int_equal(q.get_edid.num_pages, 1);
	edid_req(&r, 127, 9);
	assert_int_equal(decode(&r, 2, &q), -EINVAL);
	edid_req(&r, XENDISPL_EDID_MAX_SIZE + 1, 9);
	assert_int_equal(decode(&r, 2, &q), -EINVAL);
	edid_req(&r, XENDISPL_EDID_MAX_SIZE, 0);
	assert_int_equal(decode(&r, 2, &q), -EINVAL);
}

static void test_unknown_op(void **state)
{
	static const uint8_t ops[] = {0, 1, 0x0f, 0x17, 0x80, 0xff};
	struct xendispl_req r;
	struct vd_req q;
	size_t i;

	for (i = 0; i < sizeof(ops); i++) {
		req_dirty(&r, 0xbeef, ops[i]);
		assert_int_equal(decode(&r, 2, &q), -ENOSYS);
		assert_int_equal(q.id, 0xbeef);
		assert_int_equal(q.operation, ops[i]);
	}
}

static void test_encode_resp_zeroed(void **state)
{
	struct xendispl_resp slot;
	uint8_t expect[sizeof(slot)];

	assert_int_equal(sizeof(slot), 64);
	memset(&slot, 0xff, sizeof(slot));
	vd_proto_encode_resp(&slot, 0x1234, XENDISPL_OP_PG_FLIP, -EINVAL, 0);
	memset(expect, 0, sizeof(expect));
	expect[0] = 0x34;
	expect[1] = 0x12;
	expect[2] = XENDISPL_OP_PG_FLIP;
	memcpy(expect + 4, &(int32_t){-EINVAL}, 4);
	assert_memory_equal(&slot, expect, sizeof(expect));

	memset(&slot, 0xff, sizeof(slot));
	vd_proto_encode_resp(&slot, 1, XENDISPL_OP_GET_EDID, 0, 128);
	assert_int_equal(slot.op.get_edid.edid_sz, 128);
	assert_int_equal(slot.status, 0);
	assert_int_equal(slot.reserved, 0);
	memset(expect, 0, sizeof(expect));
	assert_memory_equal((uint8_t *)&slot + 12, expect, 64 - 12);
}

static void test_encode_evt_zeroed(void **state)
{
	struct xendispl_evt slot;
	uint8_t zero[64] = {0};

	memset(&slot, 0xee, sizeof(slot));
	vd_proto_encode_pg_flip_evt(&slot, 65535, 0xabcdef0123456789ull);
	assert_int_equal(slot.id, 65535);
	assert_int_equal(slot.type, XENDISPL_EVT_PG_FLIP);
	assert_memory_equal(slot.reserved, zero, sizeof(slot.reserved));
	assert_true(slot.op.pg_flip.fb_cookie == 0xabcdef0123456789ull);
	assert_memory_equal((uint8_t *)&slot + 16, zero, 48);
}

static void test_infer_stride(void **state)
{
	/* Linux <= 2025: ceil(w*bpp/8), size exact. */
	assert_int_equal(vd_infer_stride(1366, 768, 24, 4098 * 768), 4098);
	assert_int_equal(vd_infer_stride(1023, 1, 16, 2046), 2046);
	assert_int_equal(vd_infer_stride(1, 1, 24, 3), 3);
	/* Linux with drm_mode_size_dumb: pitch aligned to 8, size page-rounded. */
	assert_int_equal(vd_infer_stride(1366, 768, 24, 3153920), 4104);
	assert_int_equal(vd_infer_stride(1023, 1, 16, 4096), 2048);
	assert_int_equal(vd_infer_stride(1, 1, 24, 4096), 8);
	/* Already aligned: both layouts agree. */
	assert_int_equal(vd_infer_stride(1920, 1080, 32, 1920 * 1080 * 4), 7680);
	/* Slack but not enough for the aligned pitch: unaligned. */
	assert_int_equal(vd_infer_stride(1366, 768, 24, 4098 * 768 + 100), 4098);
	/* Too small. */
	assert_int_equal(vd_infer_stride(1366, 768, 24, 4098 * 768 - 1), -EINVAL);
	assert_int_equal(vd_infer_stride(0, 768, 24, 4096), -EINVAL);
	assert_int_equal(vd_infer_stride(10, 0, 24, 4096), -EINVAL);
	/* Huge values must not overflow into acceptance. */
	assert_int_equal(vd_infer_stride(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu),
			 -EINVAL);
	assert_int_equal(vd_infer_stride(0x40000000u, 2, 32, 0xffffffffu), -EINVAL);
	assert_int_equal(vd_infer_stride(1, 0xffffffffu, 8, 0xffffffffu), 1);
}

static void test_formats(void **state)
{
	static const struct {
		uint32_t fourcc;
		int bpp;
	} xen_front[] = {
		{VD_FOURCC('R', 'G', '1', '6'), 16}, {VD_FOURCC('R', 'G', '2', '4'), 24},
		{VD_FOURCC('X', 'R', '2', '4'), 32}, {VD_FOURCC('A', 'R', '2', '4'), 32},
		{VD_FOURCC('X', 'R', '1', '2'), 16}, {VD_FOURCC('A', 'R', '1', '2'), 16},
		{VD_FOURCC('X', 'R', '1', '5'), 16}, {VD_FOURCC('A', 'R', '1', '5'), 16},
		{VD_FOURCC('Y', 'U', 'Y', 'V'), 16},
	};
	size_t i;

	for (i = 0; i < sizeof(xen_front) / sizeof(xen_front[0]); i++) {
		assert_int_equal(vd_format_bpp(xen_front[i].fourcc), xen_front[i].bpp);
		assert_true(vd_format_supported(xen_front[i].fourcc));
	}
	/* drm_fourcc.h value of XRGB8888. */
	assert_int_equal(VD_FOURCC('X', 'R', '2', '4'), 0x34325258);
	assert_int_equal(vd_format_bpp(VD_FOURCC('C', '8', ' ', ' ')), 8);
	assert_int_equal(vd_format_bpp(VD_FOURCC('X', 'B', '2', '4')), 32);
	assert_int_equal(vd_format_bpp(0), -EINVAL);
	assert_false(vd_format_supported(0));
	assert_int_equal(vd_format_bpp(VD_FOURCC('N', 'V', '1', '2')), -EINVAL);
}

/* ---- event page ---- */

struct evt_page {
	_Alignas(4096) uint8_t b[XENDISPL_EVENT_PAGE_SIZE];
};

static struct xendispl_event_page *hdr_of(struct evt_page *p)
{
	return (struct xendispl_event_page *)p->b;
}

static void test_evt_ring_ids(void **state)
{
	static struct evt_page page;
	struct vd_evt_ring r;
	uint32_t i;

	memset(&page, 0x5a, sizeof(page));
	hdr_of(&page)->in_cons = 0;
	vd_evt_ring_init(&r, page.b);
	assert_int_equal(hdr_of(&page)->in_prod, 0);
	assert_int_equal(r.next_id, 0);

	for (i = 0; i < XENDISPL_IN_RING_LEN; i++)
		assert_int_equal(vd_evt_ring_put_pg_flip(&r, page.b, 1000 + i), 0);
	assert_int_equal(hdr_of(&page)->in_prod, 63);
	for (i = 0; i < XENDISPL_IN_RING_LEN; i++) {
		struct xendispl_evt *e = &XENDISPL_IN_RING_REF(page.b, i);

		assert_int_equal(e->id, i);
		assert_int_equal(e->type, XENDISPL_EVT_PG_FLIP);
		assert_true(e->op.pg_flip.fb_cookie == 1000 + i);
		assert_int_equal(e->reserved[0], 0);
	}
	/* Full: refused, no id consumed, nothing written. */
	assert_int_equal(vd_evt_ring_put_pg_flip(&r, page.b, 1), -EAGAIN);
	assert_int_equal(vd_evt_ring_put_pg_flip(&r, page.b, 1), -EAGAIN);
	assert_int_equal(hdr_of(&page)->in_prod, 63);
	assert_int_equal(r.next_id, 63);
	assert_true(XENDISPL_IN_RING_REF(page.b, 0).op.pg_flip.fb_cookie == 1000);

	/* Frontend consumes one: slot 0 is reused with the next id. */
	hdr_of(&page)->in_cons = 1;
	assert_int_equal(vd_evt_ring_put_pg_flip(&r, page.b, 2000), 0);
	assert_int_equal(XENDISPL_IN_RING_REF(page.b, 63).id, 63);
	assert_int_equal(XENDISPL_IN_RING_REF(page.b, 0).id, 63);
	assert_true(XENDISPL_IN_RING_REF(page.b, 0).op.pg_flip.fb_cookie == 2000);
	assert_int_equal(hdr_of(&page)->in_prod, 64);
	/* Slot 1 (id 1) still unconsumed-safe: untouched. */
	assert_int_equal(XENDISPL_IN_RING_REF(page.b, 1).id, 1);
}

static void test_evt_ring_corrupt(void **state)
{
	static struct evt_page page;
	struct vd_evt_ring r;

	memset(&page, 0, sizeof(page));
	vd_evt_ring_init(&r, page.b);
	assert_int_equal(vd_evt_ring_put_pg_flip(&r, page.b, 1), 0);
	/* Consumer ahead of the producer: prod - cons wraps to a huge value. */
	hdr_of(&page)->in_cons = 5;
	assert_int_equal(vd_evt_ring_put_pg_flip(&r, page.b, 1), -EPROTO);
	assert_int_equal(r.next_id, 1);
	assert_int_equal(hdr_of(&page)->in_prod, 1);
	/* Consumer far behind (> 63 outstanding) is equally corrupt. */
	hdr_of(&page)->in_cons = 0xffffff00u;
	assert_int_equal(vd_evt_ring_put_pg_flip(&r, page.b, 1), -EPROTO);
	/* Recovers once in_cons is sane again. */
	hdr_of(&page)->in_cons = 1;
	assert_int_equal(vd_evt_ring_put_pg_flip(&r, page.b, 9), 0);
	assert_int_equal(XENDISPL_IN_RING_REF(page.b, 1).id, 1);
}

static void test_evt_ring_wrap(void **state)
{
	static struct evt_page page;
	struct vd_evt_ring r;
	uint32_t i, start = 0xffffffffu - 10;

	/* Reconnect with free-running indices near the u32 wrap. */
	memset(&page, 0, sizeof(page));
	hdr_of(&page)->in_cons = start;
	hdr_of(&page)->in_prod = 12345; /* stale, must be overwritten */
	vd_evt_ring_init(&r, page.b);
	assert_int_equal(hdr_of(&page)->in_prod, start);
	for (i = 0; i < 200; i++) {
		uint32_t idx = start + i;

		assert_int_equal(vd_evt_ring_put_pg_flip(&r, page.b, i + 1), 0);
		assert_int_equal(hdr_of(&page)->in_prod, start + i + 1);
		assert_int_equal(XENDISPL_IN_RING_REF(page.b, idx).id, (uint16_t)i);
		assert_true(XENDISPL_IN_RING_REF(page.b, idx).op.pg_flip.fb_cookie == i + 1);
		hdr_of(&page)->in_cons = idx + 1; /* consume immediately */
	}
	assert_int_equal(r.next_id, 200);
}

static void test_evt_ring_id_wrap(void **state)
{
	static struct evt_page page;
	struct vd_evt_ring r;
	uint32_t i;

	memset(&page, 0, sizeof(page));
	vd_evt_ring_init(&r, page.b);
	for (i = 0; i < 65537; i++) {
		assert_int_equal(vd_evt_ring_put_pg_flip(&r, page.b, 3), 0);
		hdr_of(&page)->in_cons = hdr_of(&page)->in_prod;
	}
	assert_int_equal(r.next_id, 1);
	assert_int_equal(XENDISPL_IN_RING_REF(page.b, 65536).id, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dbuf_create_ok),
		cmocka_unit_test(test_dbuf_create_reject),
		cmocka_unit_test(test_dbuf_create_imported),
		cmocka_unit_test(test_dbuf_create_data_ofs),
		cmocka_unit_test(test_reserved_tolerated),
		cmocka_unit_test(test_cookie_zero),
		cmocka_unit_test(test_fb_attach),
		cmocka_unit_test(test_set_config),
		cmocka_unit_test(test_set_config_window),
		cmocka_unit_test(test_get_edid),
		cmocka_unit_test(test_unknown_op),
		cmocka_unit_test(test_encode_resp_zeroed),
		cmocka_unit_test(test_encode_evt_zeroed),
		cmocka_unit_test(test_infer_stride),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_evt_ring_ids),
		cmocka_unit_test(test_evt_ring_corrupt),
		cmocka_unit_test(test_evt_ring_wrap),
		cmocka_unit_test(test_evt_ring_id_wrap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
