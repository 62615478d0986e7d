/* SPDX-License-Identifier: MIT */
/*
 * The noisy neighbour (neighbour.h): while another guest runs each attack
 * of the isolation catalogue, a guest flipping at 60 Hz keeps its pace -
 * the interval between its frames at p99 within two frame periods - no
 * answer it waits for takes more than 100 ms, and its buffers stay
 * zero-copy. vdispl-bench --only neighbour prints the numbers beside a
 * baseline.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "log.h"
#include "neighbour.h"

#define ATTACK_MS 3000u
#define MAX_RESPONSE_US 100000u

static void under(const struct nb_attack *a)
{
	struct nb_result r;

	assert_int_equal(nb_run(a, ATTACK_MS, &r), 0);
	printf("%-10s neighbour: %llu frames, interval p50 %.1f p99 %.1f max %.1f ms, slowest "
	       "answer %.1f ms, zero-copy %s; attacker: %llu answers, %llu refused, %llu shots\n",
	       a ? a->name : "none", (unsigned long long)r.flips, r.interval_p50_us / 1e3,
	       r.interval_p99_us / 1e3, r.interval_max_us / 1e3, r.response_max_us / 1e3,
	       r.zero_copy ? "on" : "OFF", (unsigned long long)r.attacker_requests,
	       (unsigned long long)r.attacker_refused, (unsigned long long)r.attacker_shots);
	assert_true(r.zero_copy);
	if (a)
		assert_true(r.attacker_requests + r.attacker_shots > 0);
#ifndef NB_UNTIMED
	assert_true(r.flips >= ATTACK_MS / 1000u * 50u); /* 60 Hz, less at most a few */
	assert_true(r.interval_p99_us <= 2u * NB_PERIOD_US);
	assert_true(r.response_max_us <= MAX_RESPONSE_US);
#endif
}

static void no_attack(void **state)
{
	under(NULL);
}

static void each_attack(void **state)
{
	for (const struct nb_attack *a = nb_attacks; a->name; a++)
		under(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_attack),
		cmocka_unit_test(each_attack),
	};

	vd_log_set_level(getenv("VD_TEST_DEBUG") ? LOG_DEBUG : LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
