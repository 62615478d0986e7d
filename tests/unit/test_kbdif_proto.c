/* SPDX-License-Identifier: MIT */
/* kbdif: slot encoding, the rules that keep xen-kbdfront safe, the IN ring producer. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kbdif_proto.h"

#define KEY_A 30u
#define BTN_LEFT 0x110u

static const struct vd_kbd_features all_on = {
    .abs = true,
    .mtouch = true,
    .width = 1000,
    .height = 500,
    .mt_width = 200,
    .mt_height = 100,
    .mt_contacts = 4,
};

static union xenkbd_in_event dirty(void)
{
	union xenkbd_in_event e;

	memset(&e, 0xa5, sizeof(e));
	return e;
}

static void assert_zero_from(const union xenkbd_in_event *e, size_t from)
{
	const uint8_t *b = (const uint8_t *)e;

	for (size_t i = from; i < sizeof(*e); i++)
		assert_int_equal(b[i], 0);
}

/* Byte offsets as PROTOCOL.md §3.3 states them, not as the struct says. */
static int32_t at_i32(const union xenkbd_in_event *e, size_t off)
{
	int32_t v;

	memcpy(&v, (const uint8_t *)e + off, sizeof(v));
	return v;
}

static void test_encode_layout(void **state)
{
	union xenkbd_in_event e = dirty();
	const uint8_t *b = (const uint8_t *)&e;

	vd_kbd_encode_key(&e, 0x2ff, true);
	assert_int_equal(b[0], XENKBD_TYPE_KEY);
	assert_int_equal(b[1], 1);
	assert_int_equal(b[2] | b[3], 0);
	assert_int_equal(at_i32(&e, 4), 0x2ff);
	assert_zero_from(&e, 8);

	e = dirty();
	vd_kbd_encode_motion(&e, -3, 4, -1);
	assert_int_equal(b[0], XENKBD_TYPE_MOTION);
	assert_int_equal(at_i32(&e, 4), -3);
	assert_int_equal(at_i32(&e, 8), 4);
	assert_int_equal(at_i32(&e, 12), -1);
	assert_zero_from(&e, 16);

	e = dirty();
	vd_kbd_encode_pos(&e, 640, 480, 2);
	assert_int_equal(b[0], XENKBD_TYPE_POS);
	assert_int_equal(at_i32(&e, 4), 640);
	assert_int_equal(at_i32(&e, 8), 480);
	assert_int_equal(at_i32(&e, 12), 2);
	assert_zero_from(&e, 16);

	e = dirty();
	vd_kbd_encode_mtouch(&e, XENKBD_MT_EV_DOWN, 3, 17, 19);
	assert_int_equal(b[0], XENKBD_TYPE_MTOUCH);
	assert_int_equal(b[1], XENKBD_MT_EV_DOWN);
	assert_int_equal(b[2], 3);
	assert_int_equal(b[3] | b[4] | b[5] | b[6] | b[7], 0);
	assert_int_equal(at_i32(&e, 8), 17);
	assert_int_equal(at_i32(&e, 12), 19);
	assert_zero_from(&e, 16);

	e = dirty();
	vd_kbd_encode_mtouch(&e, XENKBD_MT_EV_UP, 2, 17, 19);
	assert_int_equal(b[1], XENKBD_MT_EV_UP);
	assert_int_equal(b[2], 2);
	assert_zero_from(&e, 3);
}

static void test_validation(void **state)
{
	assert_false(vd_kbd_keycode_valid(0));
	assert_true(vd_kbd_keycode_valid(1));
	assert_true(vd_kbd_keycode_valid(0x2ff));
	assert_false(vd_kbd_keycode_valid(0x300));
	assert_false(vd_kbd_keycode_valid(UINT32_MAX));
	assert_true(vd_kbd_contact_valid(0, 1));
	assert_false(vd_kbd_contact_valid(1, 1));
	assert_false(vd_kbd_contact_valid(0, 0));
	assert_true(vd_kbd_contact_valid(255, 1000));
	assert_false(vd_kbd_contact_valid(256, 1000));
}

static void test_scale(void **state)
{
	assert_int_equal(vd_kbd_scale(0, 1920, 800), 0);
	assert_int_equal(vd_kbd_scale(960, 1920, 800), 400);
	assert_int_equal(vd_kbd_scale(1920, 1920, 800), 800);
	assert_int_equal(vd_kbd_scale(5000, 1920, 800), 800); /* clamped */
	assert_int_equal(vd_kbd_scale(123, 1024, 1024), 123); /* identity */
	assert_int_equal(vd_kbd_scale(5, 0, 800), 0);
	assert_int_equal(vd_kbd_scale(UINT32_MAX, UINT32_MAX, UINT32_MAX), INT32_MAX);
	assert_int_equal(vd_kbd_scale(1, 2, UINT32_MAX), INT32_MAX);
}

static void test_key_rules(void **state)
{
	struct vd_kbd_features f = all_on;
	union xenkbd_in_event e = dirty(), before;

	assert_int_equal(vd_kbd_make_key(&f, KEY_A, true, &e), 0);
	assert_int_equal(e.key.type, XENKBD_TYPE_KEY);
	assert_int_equal(vd_kbd_make_key(&f, BTN_LEFT, false, &e), 0);
	assert_int_equal(vd_kbd_make_key(&f, 0x300, true, &e), -EINVAL);
	assert_int_equal(vd_kbd_make_key(&f, 0, true, &e), -EINVAL);
	/* The NULL dereference in the guest: no KEY at all with either device disabled. */
	f.ptr_disabled = true;
	before = e;
	assert_int_equal(vd_kbd_make_key(&f, KEY_A, true, &e), -EOPNOTSUPP);
	assert_int_equal(vd_kbd_make_key(&f, BTN_LEFT, true, &e), -EOPNOTSUPP);
	assert_memory_equal(&e, &before, sizeof(e)); /* untouched on refusal */
	f = all_on;
	f.kbd_disabled = true;
	assert_int_equal(vd_kbd_make_key(&f, KEY_A, true, &e), -EOPNOTSUPP);
	assert_int_equal(vd_kbd_make_key(&f, BTN_LEFT, true, &e), -EOPNOTSUPP);
}

static void test_pointer_rules(void **state)
{
	struct vd_kbd_features f = all_on;
	struct vd_kbd_ptr_state st = {0};
	union xenkbd_in_event e;

	/* abs: scaled from a 2000x1000 source to 1000x500 */
	assert_int_equal(vd_kbd_make_abs(&f, &st, 1000, 500, 2000, 1000, &e), 0);
	assert_int_equal(e.type, XENKBD_TYPE_POS);
	assert_int_equal(e.pos.abs_x, 500);
	assert_int_equal(e.pos.abs_y, 250);
	/* relative motion on an abs device becomes a clamped POS */
	assert_int_equal(vd_kbd_make_rel(&f, &st, 10, -300, 0, &e), 0);
	assert_int_equal(e.type, XENKBD_TYPE_POS);
	assert_int_equal(e.pos.abs_x, 510);
	assert_int_equal(e.pos.abs_y, 0);
	assert_int_equal(vd_kbd_make_rel(&f, &st, INT32_MAX, INT32_MAX, 1, &e), 0);
	assert_int_equal(e.pos.abs_x, 1000);
	assert_int_equal(e.pos.abs_y, 500);
	assert_int_equal(e.pos.rel_z, -1); /* Linux reports REL_WHEEL = -rel_z */
	/* not requested: MOTION by the difference */
	f.abs = false;
	st = (struct vd_kbd_ptr_state){0};
	assert_int_equal(vd_kbd_make_abs(&f, &st, 200, 100, 2000, 1000, &e), 0);
	assert_int_equal(e.type, XENKBD_TYPE_MOTION);
	assert_int_equal(e.motion.rel_x, 100);
	assert_int_equal(e.motion.rel_y, 50);
	assert_int_equal(vd_kbd_make_abs(&f, &st, 0, 1000, 2000, 1000, &e), 0);
	assert_int_equal(e.motion.rel_x, -100);
	assert_int_equal(e.motion.rel_y, 450);
	assert_int_equal(vd_kbd_make_rel(&f, &st, -2, 3, -4, &e), 0);
	assert_int_equal(e.type, XENKBD_TYPE_MOTION);
	assert_int_equal(e.motion.rel_x, -2);
	assert_int_equal(e.motion.rel_y, 3);
	assert_int_equal(e.motion.rel_z, 4);
	assert_int_equal(vd_kbd_make_rel(&f, &st, 0, 0, INT32_MIN, &e), 0);
	assert_int_equal(e.motion.rel_z, INT32_MAX);
	assert_int_equal(vd_kbd_make_abs(&f, &st, 1, 1, 0, 1000, &e), -EINVAL);
	f.ptr_disabled = true;
	assert_int_equal(vd_kbd_make_abs(&f, &st, 1, 1, 10, 10, &e), -EOPNOTSUPP);
	assert_int_equal(vd_kbd_make_rel(&f, &st, 1, 1, 0, &e), -EOPNOTSUPP);
}

static void test_touch_rules(void **state)
{
	struct vd_kbd_features f = all_on;
	union xenkbd_in_event e;

	assert_int_equal(vd_kbd_make_touch(&f, XENKBD_MT_EV_DOWN, 3, 100, 50, 400, 200, &e), 0);
	assert_int_equal(e.mtouch.event_type, XENKBD_MT_EV_DOWN);
	assert_int_equal(e.mtouch.contact_id, 3);
	assert_int_equal(e.mtouch.u.pos.abs_x, 50);
	assert_int_equal(e.mtouch.u.pos.abs_y, 25);
	assert_int_equal(vd_kbd_make_touch(&f, XENKBD_MT_EV_SYN, 0, 0, 0, 0, 0, &e), 0);
	assert_int_equal(vd_kbd_make_touch(&f, XENKBD_MT_EV_UP, 4, 0, 0, 0, 0, &e), -EINVAL);
	assert_int_equal(vd_kbd_make_touch(&f, XENKBD_MT_EV_SHAPE, 0, 0, 0, 1, 1, &e), -EINVAL);
	assert_int_equal(vd_kbd_make_touch(&f, XENKBD_MT_EV_MOTION, 0, 1, 1, 0, 1, &e), -EINVAL);
	f.mtouch = false;
	assert_int_equal(vd_kbd_make_touch(&f, XENKBD_MT_EV_DOWN, 0, 1, 1, 2, 2, &e), -EOPNOTSUPP);
}

struct page {
	_Alignas(4096) uint8_t b[4096];
};

static struct xenkbd_page *hdr(struct page *p)
{
	return (struct xenkbd_page *)p->b;
}

static void test_ring_full_and_consume(void **state)
{
	static struct page p;
	struct vd_kbd_ring r;
	union xenkbd_in_event e;

	memset(&p, 0, sizeof(p));
	hdr(&p)->in_cons = hdr(&p)->in_prod = 7;
	vd_kbd_ring_init(&r, p.b);
	assert_int_equal(vd_kbd_ring_space(&r, p.b), 51);
	for (uint32_t i = 0; i < 51; i++) {
		vd_kbd_encode_key(&e, i + 1, true);
		assert_int_equal(vd_kbd_ring_put(&r, p.b, &e), 0);
		assert_int_equal(hdr(&p)->in_prod, 7 + i + 1);
	}
	assert_int_equal(vd_kbd_ring_space(&r, p.b), 0);
	vd_kbd_encode_key(&e, 99, true);
	assert_int_equal(vd_kbd_ring_put(&r, p.b, &e), -EAGAIN);
	/* The oldest slot is still the first event: nothing overwritten. */
	assert_int_equal(XENKBD_IN_RING_REF(p.b, 7).key.keycode, 1);
	hdr(&p)->in_cons = 9; /* the frontend consumed two */
	assert_int_equal(vd_kbd_ring_put(&r, p.b, &e), 0);
	assert_int_equal(XENKBD_IN_RING_REF(p.b, 7 + 51).key.keycode, 99);
	/* Slots live inside the ring area. */
	assert_true((uint8_t *)&XENKBD_IN_RING_REF(p.b, 50) + 40 <= p.b + 1024 + 2048);
	assert_true((uint8_t *)&XENKBD_IN_RING_REF(p.b, 0) == p.b + 1024);
}

static void test_ring_corrupt_and_wrap(void **state)
{
	static struct page p;
	struct vd_kbd_ring r;
	union xenkbd_in_event e;

	memset(&p, 0, sizeof(p));
	vd_kbd_encode_key(&e, 5, true);
	/* Indices near the u32 wrap. */
	hdr(&p)->in_cons = UINT32_MAX - 2;
	vd_kbd_ring_init(&r, p.b);
	for (int i = 0; i < 10; i++)
		assert_int_equal(vd_kbd_ring_put(&r, p.b, &e), 0);
	assert_int_equal(hdr(&p)->in_prod, 7);
	assert_int_equal(vd_kbd_ring_space(&r, p.b), 41);
	/* in_cons ahead of prod, or far behind: corrupt. */
	hdr(&p)->in_cons = 8;
	assert_int_equal(vd_kbd_ring_space(&r, p.b), -EPROTO);
	assert_int_equal(vd_kbd_ring_put(&r, p.b, &e), -EPROTO);
	hdr(&p)->in_cons = 7 - 52;
	assert_int_equal(vd_kbd_ring_put(&r, p.b, &e), -EPROTO);
	assert_int_equal(hdr(&p)->in_prod, 7); /* nothing written on refusal */
	/* in_prod written by the guest is never read back. */
	hdr(&p)->in_cons = 7;
	hdr(&p)->in_prod = 12345;
	assert_int_equal(vd_kbd_ring_put(&r, p.b, &e), 0);
	assert_int_equal(hdr(&p)->in_prod, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode_layout),
	    cmocka_unit_test(test_validation),
	    cmocka_unit_test(test_scale),
	    cmocka_unit_test(test_key_rules),
	    cmocka_unit_test(test_pointer_rules),
	    cmocka_unit_test(test_touch_rules),
	    cmocka_unit_test(test_ring_full_and_consume),
	    cmocka_unit_test(test_ring_corrupt_and_wrap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
