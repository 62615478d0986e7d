/* SPDX-License-Identifier: MIT */
/*
 * Page directory walker (PROTOCOL.md §1.6, §6). The number of directory
 * pages is fixed by buffer_sz before the first page is seen, so the walk is
 * bounded no matter what the chain says: a chain that ends early, goes on
 * past the last page, or loops is rejected when its next pointer disagrees
 * with the count.
 */
#include <errno.h>
#include <string.h>

#include "displif_proto.h"

/* Word 0 is gref_dir_next_page, words 1..1023 are gref[]. */
#define DIR_NEXT_WORD 0u
#define DIR_GREF_WORD(i) (1u + (i))

uint32_t vd_pages_for_bytes(uint32_t bytes)
{
	return (uint32_t)(((uint64_t)bytes + VD_PAGE_SIZE - 1) / VD_PAGE_SIZE);
}

uint32_t vd_dir_pages_for(uint32_t num_grefs)
{
	return (uint32_t)(((uint64_t)num_grefs + VD_GREFS_PER_DIR_PAGE - 1) /
			  VD_GREFS_PER_DIR_PAGE);
}

int vd_pgdir_walk_init(struct vd_pgdir_walk *w, uint32_t num_grefs, uint32_t first_dir_gref,
		       uint32_t *grefs)
{
	if (num_grefs == 0 || num_grefs > VD_MAX_BUFFER_PAGES || first_dir_gref == 0 || !grefs)
		return -EINVAL;
	memset(w, 0, sizeof(*w));
	w->num_grefs = num_grefs;
	w->num_dir_pages = vd_dir_pages_for(num_grefs);
	w->next_gref = first_dir_gref;
	w->grefs = grefs;
	return 0;
}

/* Number of gref[] entries the current directory page carries. */
static uint32_t walk_page_count(const struct vd_pgdir_walk *w)
{
	uint32_t left = w->num_grefs - w->collected;

	return left < VD_GREFS_PER_DIR_PAGE ? left : (uint32_t)VD_GREFS_PER_DIR_PAGE;
}

/*
 * Check the next pointer of the page just handled and advance. The last
 * page must end the chain, every earlier page must continue it, and a page
 * may not point at itself.
 */
static int walk_advance(struct vd_pgdir_walk *w, uint32_t next, uint32_t count)
{
	bool last = w->dir_seen + 1 == w->num_dir_pages;

	if (last != (next == 0) || next == w->next_gref)
		return -EINVAL;
	w->dir_seen++;
	w->collected += count;
	w->next_gref = next;
	return last ? 0 : 1;
}

static uint32_t load_word(const void *page, uint32_t idx)
{
	uint32_t v;

	/* memcpy: the copy may be unaligned (fuzzers feed raw bytes). */
	memcpy(&v, (const char *)page + (size_t)idx * sizeof(v), sizeof(v));
	return v;
}

int vd_pgdir_walk_feed(struct vd_pgdir_walk *w, const void *dir_page)
{
	uint32_t count, i;

	if (w->fill || w->dir_seen >= w->num_dir_pages)
		return -EINVAL;
	count = walk_page_count(w);
	for (i = 0; i < count; i++) {
		uint32_t g = load_word(dir_page, DIR_GREF_WORD(i));

		if (g == 0)
			return -EINVAL;
		w->grefs[w->collected + i] = g;
	}
	return walk_advance(w, load_word(dir_page, DIR_NEXT_WORD), count);
}

int vd_pgdir_fill_page(struct vd_pgdir_walk *w, void *dir_page_mapped, uint32_t *ret_next)
{
	uint32_t *words = dir_page_mapped;
	uint32_t count, next;
	int ret;

	if (!w->fill || w->dir_seen >= w->num_dir_pages)
		return -EINVAL;
	count = walk_page_count(w);
	/* The frontend owns the next pointer and may change it: read it once. */
	next = __atomic_load_n(&words[DIR_NEXT_WORD], __ATOMIC_RELAXED);
	memcpy(&words[DIR_GREF_WORD(0)], &w->grefs[w->collected], (size_t)count * sizeof(*words));
	ret = walk_advance(w, next, count);
	if (ret < 0)
		return ret;
	*ret_next = next;
	return ret;
}
