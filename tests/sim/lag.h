/* SPDX-License-Identifier: MIT */
/*
 * "lag" wraps the headless output with an importer that keeps each fb's
 * dma-buf after fb_destroy until the test lets go, as a compositor or a
 * KMS plane that releases a frame late does.
 */
#ifndef VD_TEST_LAG_H
#define VD_TEST_LAG_H

#include <stdbool.h>
#include <stdint.h>

#include "harness.h"

#define LAG_MAX 64

struct lag {
	struct vd_output base;
	struct vd_output *inner;
	struct vd_output_impl impl;
	struct {
		struct vd_output_fb *fb;
		int fd;
	} live[LAG_MAX];
	int held[LAG_MAX];
	uint32_t nheld;
	bool hold;
};

extern struct lag *the_lag; /* fb_destroy gets no output: one lag per test */

/* For h_init_with: the headless output wrapped; sets the_lag. */
struct vd_output *lag_wrap(struct harness *h, struct vd_output *inner);
/* Let go of every dma-buf held (hold = true keeps them past fb_destroy). */
void lag_release(struct lag *l);

#endif
