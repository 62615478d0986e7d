/* SPDX-License-Identifier: MIT */
/*
 * "lag": an output on the output core, paced by a timer as headless is,
 * whose fbs keep their dma-buf after fb_destroy until the test lets go,
 * as a compositor or a KMS plane that releases a frame late does. It
 * replaces the harness's headless output (h_init_with).
 */
#ifndef VD_TEST_LAG_H
#define VD_TEST_LAG_H

#include <stdbool.h>
#include <stdint.h>

#include "harness.h"
#include "output/output_impl.h"

#define LAG_MAX 64

struct lag {
	struct vd_output base;
	struct vd_output_impl impl;
	int held[LAG_MAX];
	uint32_t nheld;
	bool hold;
};

extern struct lag *the_lag; /* one lag per test */

/* For h_init_with: the headless output replaced; sets the_lag. */
struct vd_output *lag_wrap(struct harness *h, struct vd_output *headless);
/* Let go of every dma-buf held (hold = true keeps them past fb_destroy). */
void lag_release(struct lag *l);

#endif
