/* SPDX-License-Identifier: MIT */
/*
 * Numbers in text we are handed: command lines, xenstore values (guests
 * write some of them), configuration. Strict decimal only: digits, no
 * sign, no blanks, no 0x, within 32 bits.
 */
#ifndef VD_PARSE_H
#define VD_PARSE_H

#include <stdint.h>

/* The whole of s is a number: 0 and *ret, else -EINVAL (*ret untouched). */
int vd_parse_u32(const char *s, uint32_t *ret);

/* s starts with a number: 0, *ret and *ret_end just after it; else -EINVAL. */
int vd_parse_u32_prefix(const char *s, uint32_t *ret, const char **ret_end);

#endif
