/* SPDX-License-Identifier: MIT */
/*
 * The noisy neighbour: one guest ("neighbour") flips a 320x240 connector
 * at 60 Hz (headless vblank) while another guest ("attacker") runs one
 * attack of the isolation catalogue after the other. What the neighbour
 * sees is measured: the interval between its PG_FLIP events, the time
 * from each of its requests to the answer, and whether its buffers stay
 * zero-copy. The daemon, both guests and the measurement share one loop
 * (as in the sim tests), so the attacker's own work (refilling a ring,
 * drawing once) counts against the neighbour too: the numbers are an
 * upper bound of what the daemon costs it.
 *
 * Used by the sim test test_neighbour (thresholds) and by vdispl-bench
 * --only neighbour (numbers); no cmocka here.
 */
#ifndef VD_TEST_NEIGHBOUR_H
#define VD_TEST_NEIGHBOUR_H

#include <stdbool.h>
#include <stdint.h>

#define NB_REFRESH_MHZ 60000u
#define NB_PERIOD_US 16667u

struct nb_result {
	uint64_t flips;              /* the neighbour's flip events during the attack */
	uint64_t interval_p50_us, interval_p99_us, interval_max_us;
	uint64_t response_max_us;    /* its slowest answer, any request */
	bool zero_copy;              /* its buffers were still dma-bufs at the end */
	uint64_t attacker_requests;  /* answered */
	uint64_t attacker_refused;   /* answered with an error status */
	uint64_t attacker_shots;     /* screenshots and captures of the attacker that finished */
};

struct nb_attack {
	const char *name;
	const char *what; /* the item, in a few words */
};

/* The catalogue, ending with {NULL, NULL}. */
extern const struct nb_attack nb_attacks[];

/*
 * Run attack (NULL: none, the baseline) for ms milliseconds after the
 * neighbour warmed up, each in a daemon, output and guests of its own.
 * 0, or -errno if the set-up failed.
 */
int nb_run(const struct nb_attack *attack, uint32_t ms, struct nb_result *ret);

#endif
