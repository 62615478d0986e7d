/* SPDX-License-Identifier: MIT */
/* Page directory walker: exact counts, chain shape, gref 0, be-alloc fill. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "displif_proto.h"

#define PER_PAGE ((uint32_t)VD_GREFS_PER_DIR_PAGE)
#define MAX_DIR 80u
#define DIR_GREF(i) (0x10000u + (i)) /* grant of directory page i */
#define DATA_GREF(i) (0x100u + (i))  /* grant of data page i */

/* A frontend's directory: pages[i] links to DIR_GREF(i + 1), last links 0. */
struct fake_dir {
	uint32_t npages;
	uint32_t pages[MAX_DIR][VD_PAGE_SIZE / 4];
};

static struct fake_dir *dir_build(uint32_t num_grefs)
{
	struct fake_dir *d = calloc(1, sizeof(*d));
	uint32_t i;

	assert_non_null(d);
	d->npages = vd_dir_pages_for(num_grefs);
	assert_true(d->npages <= MAX_DIR);
	for (i = 0; i < d->npages; i++)
		d->pages[i][0] = i + 1 < d->npages ? DIR_GREF(i + 1) : 0;
	for (i = 0; i < num_grefs; i++)
		d->pages[i / PER_PAGE][1 + i % PER_PAGE] = DATA_GREF(i);
	return d;
}

/* Feeds pages by following next_gref; returns the last result. */
static int dir_walk(struct fake_dir *d, uint32_t num_grefs, uint32_t *grefs, uint32_t *ret_fed)
{
	struct vd_pgdir_walk w;
	uint32_t fed = 0;
	int ret;

	ret = vd_pgdir_walk_init(&w, num_grefs, DIR_GREF(0), grefs);
	assert_int_equal(ret, 0);
	do {
		uint32_t idx = w.next_gref - DIR_GREF(0);

		assert_true(idx < MAX_DIR);
		assert_true(fed < MAX_DIR + 2); /* the walker must stop us */
		ret = vd_pgdir_walk_feed(&w, d->pages[idx]);
		fed++;
	} while (ret == 1);
	*ret_fed = fed;
	if (ret == 0)
		assert_int_equal(w.collected, num_grefs);
	return ret;
}

static void check_walk_ok(uint32_t num_grefs, uint32_t expect_pages)
{
	struct fake_dir *d = dir_build(num_grefs);
	uint32_t *grefs = calloc(num_grefs, sizeof(*grefs));
	uint32_t fed, i;

	assert_int_equal(d->npages, expect_pages);
	assert_int_equal(dir_walk(d, num_grefs, grefs, &fed), 0);
	assert_int_equal(fed, expect_pages);
	for (i = 0; i < num_grefs; i++)
		assert_int_equal(grefs[i], DATA_GREF(i));
	free(grefs);
	free(d);
}

static void test_counts(void **state)
{
	assert_int_equal(PER_PAGE, 1023);
	assert_int_equal(vd_pages_for_bytes(0), 0);
	assert_int_equal(vd_pages_for_bytes(1), 1);
	assert_int_equal(vd_pages_for_bytes(4096), 1);
	assert_int_equal(vd_pages_for_bytes(4097), 2);
	assert_int_equal(vd_pages_for_bytes(0xffffffffu), 1048576);
	assert_int_equal(vd_pages_for_bytes(1920 * 1080 * 4), 2025);
	assert_int_equal(vd_dir_pages_for(2025), 2);
	assert_int_equal(vd_dir_pages_for(1023), 1);
	assert_int_equal(vd_dir_pages_for(1024), 2);
	assert_int_equal(vd_dir_pages_for(0xffffffffu), 4198405);
}

static void test_walk_1080p(void **state)
{
	check_walk_ok(vd_pages_for_bytes(1920 * 1080 * 4), 2);
}

static void test_walk_boundaries(void **state)
{
	check_walk_ok(1, 1);
	check_walk_ok(1022, 1);
	check_walk_ok(1023, 1);
	check_walk_ok(1024, 2);
	check_walk_ok(2046, 2);
	check_walk_ok(2047, 3);
	check_walk_ok(VD_MAX_BUFFER_PAGES, 65);
}

static void test_walk_short_chain(void **state)
{
	struct fake_dir *d = dir_build(2025);
	uint32_t grefs[2025], fed;

	d->pages[0][0] = 0; /* ends after page 0 of 2 */
	assert_int_equal(dir_walk(d, 2025, grefs, &fed), -EINVAL);
	assert_int_equal(fed, 1);
	free(d);
}

static void test_walk_long_chain(void **state)
{
	struct fake_dir *d = dir_build(1023);
	uint32_t grefs[1023], fed;

	d->pages[0][0] = DIR_GREF(1); /* one page is enough but it goes on */
	assert_int_equal(dir_walk(d, 1023, grefs, &fed), -EINVAL);
	assert_int_equal(fed, 1);
	free(d);
}

static void test_walk_loop(void **state)
{
	struct fake_dir *d = dir_build(3000); /* 3 pages */
	uint32_t grefs[3000], fed;

	d->pages[1][0] = DIR_GREF(0); /* 0 -> 1 -> 0 -> ... */
	assert_int_equal(dir_walk(d, 3000, grefs, &fed), -EINVAL);
	assert_int_equal(fed, 3);
	free(d);

	d = dir_build(3000);
	d->pages[1][0] = DIR_GREF(1); /* self loop caught at once */
	assert_int_equal(dir_walk(d, 3000, grefs, &fed), -EINVAL);
	assert_int_equal(fed, 2);
	free(d);
}

static void test_walk_gref_zero(void **state)
{
	struct fake_dir *d = dir_build(2025);
	uint32_t grefs[2025], fed;

	d->pages[1][1 + (2024 - 1023)] = 0; /* the very last used entry */
	assert_int_equal(dir_walk(d, 2025, grefs, &fed), -EINVAL);
	assert_int_equal(fed, 2);
	free(d);

	d = dir_build(2025);
	d->pages[0][1] = 0;
	assert_int_equal(dir_walk(d, 2025, grefs, &fed), -EINVAL);
	assert_int_equal(fed, 1);
	free(d);

	/* Zeros in the unused tail of the last page are fine. */
	d = dir_build(1024);
	assert_int_equal(d->pages[1][2], 0);
	assert_int_equal(dir_walk(d, 1024, grefs, &fed), 0);
	free(d);
}

static void test_walk_misuse(void **state)
{
	struct vd_pgdir_walk w;
	uint32_t grefs[4], page[VD_PAGE_SIZE / 4] = {0};

	assert_int_equal(vd_pgdir_walk_init(&w, 0, 5, grefs), -EINVAL);
	assert_int_equal(vd_pgdir_walk_init(&w, 4, 0, grefs), -EINVAL);
	assert_int_equal(vd_pgdir_walk_init(&w, VD_MAX_BUFFER_PAGES + 1, 5, grefs), -EINVAL);
	assert_int_equal(vd_pgdir_walk_init(&w, 4, 5, grefs), 0);
	assert_int_equal(w.num_dir_pages, 1);
	assert_int_equal(w.next_gref, 5);
	page[1] = page[2] = page[3] = page[4] = 9;
	assert_int_equal(vd_pgdir_walk_feed(&w, page), 0);
	/* Feeding past the end is refused. */
	assert_int_equal(vd_pgdir_walk_feed(&w, page), -EINVAL);
	/* fill on a read walk is refused. */
	assert_int_equal(vd_pgdir_walk_init(&w, 4, 5, grefs), 0);
	assert_int_equal(vd_pgdir_fill_page(&w, page, &(uint32_t){0}), -EINVAL);
}

static void test_fill(void **state)
{
	struct fake_dir *d = dir_build(2047); /* 3 pages; gref[] will be overwritten */
	uint32_t *src = calloc(2047, sizeof(*src));
	struct vd_pgdir_walk w;
	uint32_t i, next = 0xdead, p;
	int ret;

	memset(d->pages, 0xcc, sizeof(d->pages));
	for (p = 0; p < 3; p++)
		d->pages[p][0] = p < 2 ? DIR_GREF(p + 1) : 0;
	for (i = 0; i < 2047; i++)
		src[i] = 0x7000u + i;
	assert_int_equal(vd_pgdir_walk_init(&w, 2047, DIR_GREF(0), src), 0);
	w.fill = true;
	/* walk_feed is for read walks only. */
	assert_int_equal(vd_pgdir_walk_feed(&w, d->pages[0]), -EINVAL);
	for (p = 0; p < 3; p++) {
		ret = vd_pgdir_fill_page(&w, d->pages[p], &next);
		assert_int_equal(ret, p < 2 ? 1 : 0);
		assert_int_equal(next, p < 2 ? DIR_GREF(p + 1) : 0);
		assert_int_equal(d->pages[p][0], p < 2 ? DIR_GREF(p + 1) : 0); /* not touched */
	}
	for (i = 0; i < 2047; i++)
		assert_int_equal(d->pages[i / PER_PAGE][1 + i % PER_PAGE], 0x7000u + i);
	/* Tail of the last page beyond the used part is left alone. */
	assert_int_equal(d->pages[2][2], 0xccccccccu);
	assert_int_equal(vd_pgdir_fill_page(&w, d->pages[2], &next), -EINVAL);
	free(src);
	free(d);
}

static void test_fill_bad_chain(void **state)
{
	uint32_t page[VD_PAGE_SIZE / 4] = {0}, src[1500], next = 77;
	struct vd_pgdir_walk w;

	memset(src, 1, sizeof(src));
	/* Two pages needed but the frontend's first page ends the chain. */
	assert_int_equal(vd_pgdir_walk_init(&w, 1500, 3, src), 0);
	w.fill = true;
	page[0] = 0;
	assert_int_equal(vd_pgdir_fill_page(&w, page, &next), -EINVAL);
	assert_int_equal(next, 77); /* ret_ written only on success */
	/* One page needed but it links on. */
	assert_int_equal(vd_pgdir_walk_init(&w, 10, 3, src), 0);
	w.fill = true;
	page[0] = 4;
	assert_int_equal(vd_pgdir_fill_page(&w, page, &next), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_walk_1080p),
		cmocka_unit_test(test_walk_boundaries),
		cmocka_unit_test(test_walk_short_chain),
		cmocka_unit_test(test_walk_long_chain),
		cmocka_unit_test(test_walk_loop),
		cmocka_unit_test(test_walk_gref_zero),
		cmocka_unit_test(test_walk_misuse),
		cmocka_unit_test(test_fill),
		cmocka_unit_test(test_fill_bad_chain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
