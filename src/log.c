/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static int log_level = LOG_INFO;

void vd_log_set_level(int level)
{
	log_level = level;
}

int vd_log_get_level(void)
{
	return log_level;
}

void vd_log(int level, const char *fmt, ...)
{
	static const char *const names[] = {"emerg", "alert", "crit", "error",
					    "warning", "notice", "info", "debug"};
	char buf[1024];
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "<%d>vdispld: %s: %s\n", level, names[level & 7], buf);
}

uint64_t vd_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t vd_now_ms(void)
{
	return vd_now_us() / 1000u;
}

bool vd_ratelimit_ok(struct vd_ratelimit *rl, int level)
{
	uint64_t now = vd_now_ms();

	if (rl->begin_ms == 0 || now - rl->begin_ms >= rl->interval_ms) {
		/* Not a warning of its own: what was suppressed may have been debug. */
		if (rl->suppressed)
			vd_log(rl->suppressed_level, "%llu similar messages suppressed",
			       (unsigned long long)rl->suppressed);
		rl->begin_ms = now;
		rl->printed = 0;
		rl->suppressed = 0;
		rl->suppressed_level = LOG_DEBUG;
	}
	if (rl->printed < rl->burst) {
		rl->printed++;
		return true;
	}
	rl->suppressed++;
	if (level < rl->suppressed_level)
		rl->suppressed_level = level;
	return false;
}
