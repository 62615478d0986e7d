/* SPDX-License-Identifier: MIT */
#include "parse.h"

#include <errno.h>
#include <stdlib.h>

int vd_parse_u32_prefix(const char *s, uint32_t *ret, const char **ret_end)
{
	unsigned long long v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v > UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)v;
	*ret_end = end;
	return 0;
}

int vd_parse_u32(const char *s, uint32_t *ret)
{
	const char *end;
	uint32_t v;

	if (vd_parse_u32_prefix(s, &v, &end) < 0 || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}
