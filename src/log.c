/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int log_level = LOG_INFO;
static const char *log_ident = "vdispld";

void vd_log_set_ident(const char *ident)
{
	log_ident = ident;
}

void vd_log_set_level(int level)
{
	log_level = level;
}

int vd_log_get_level(void)
{
	return log_level;
}

/*
 * systemd connects stderr to the journal and says so in JOURNAL_STREAM
 * ("DEVICE:INODE" of that stream): only then are the <N> prefixes read
 * (and the time added by the journal). Checked at each line, as stderr
 * may be redirected at any time; a log line costs a write anyway.
 */
bool vd_log_to_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (!env || sscanf(env, "%llu:%llu%c", &dev, &ino, &tail) != 2 ||
	    fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void vd_log(int level, const char *fmt, ...)
{
	static const char *const names[] = {"emerg", "alert", "crit", "error",
					    "warning", "notice", "info", "debug"};
	char buf[1024], stamp[16] = "??:??:??";
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (vd_log_to_journal()) {
		fprintf(stderr, "<%d>%s: %s: %s\n", level & 7, log_ident, names[level & 7], buf);
		return;
	}
	/* A terminal or a file: the local time of day, to the millisecond. */
	clock_gettime(CLOCK_REALTIME, &ts);
	if (localtime_r(&ts.tv_sec, &tm))
		strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld %s: %s: %s\n", stamp, ts.tv_nsec / 1000000L, log_ident,
		names[level & 7], buf);
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
