/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "parse.h"

static void test_whole(void **state)
{
	uint32_t v = 7;

	(void)state;
	assert_int_equal(vd_parse_u32("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(vd_parse_u32("4294967295", &v), 0);
	assert_int_equal(v, UINT32_MAX);
	/* what a hostile xenstore value or a typo looks like: refused, *ret untouched */
	v = 7;
	const char *bad[] = {"", "-1", "+1", " 1", "1 ", "0x10", "4294967296", "99999999999999999999",
			     "12a", "a12", "1.5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(vd_parse_u32(bad[i], &v), -EINVAL);
		assert_int_equal(v, 7);
	}
	assert_int_equal(vd_parse_u32(NULL, &v), -EINVAL);
}

static void test_prefix(void **state)
{
	const char *end = NULL;
	uint32_t v = 0;

	(void)state;
	assert_int_equal(vd_parse_u32_prefix("12,3", &v, &end), 0);
	assert_int_equal(v, 12);
	assert_string_equal(end, ",3");
	assert_int_equal(vd_parse_u32_prefix(",3", &v, &end), -EINVAL);
	assert_int_equal(vd_parse_u32_prefix("-3", &v, &end), -EINVAL);
	assert_int_equal(vd_parse_u32_prefix("4294967296,", &v, &end), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole),
		cmocka_unit_test(test_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
