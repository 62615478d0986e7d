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

static void log_write(int level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void log_write(int level, const char *fmt, va_list ap)
{
	static const char *const names[] = {"emerg", "alert", "crit", "error",
					    "warning", "notice", "info", "debug"};
	char buf[1024], stamp[16] = "??:??:??";
	struct timespec ts;
	struct tm tm;

	vsnprintf(buf, sizeof(buf), fmt, ap);
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

void vd_log(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	log_write(level, fmt, ap);
	va_end(ap);
}

/* ---- per-guest levels ---- */

struct guest_level {
	uint32_t domid;
	uint32_t devices; /* vd_log_guest_add minus _remove */
	int level;	  /* VD_LOG_LEVEL_UNSET: the daemon's */
	char name[128];
};

static struct guest_level *guest_levels;
static size_t nguest_levels, guest_levels_cap;
static uint32_t nleveled; /* entries with a level of their own: none, no lookup */
static vd_log_level_fn level_fn;
static void *level_fn_userdata;

static struct guest_level *guest_level_find(uint32_t domid)
{
	for (size_t i = 0; i < nguest_levels; i++)
		if (guest_levels[i].domid == domid)
			return &guest_levels[i];
	return NULL;
}

static void guest_level_resolve(struct guest_level *g)
{
	int level = level_fn ? level_fn(level_fn_userdata, g->name) : VD_LOG_LEVEL_UNSET;

	nleveled -= g->level != VD_LOG_LEVEL_UNSET;
	g->level = level;
	nleveled += g->level != VD_LOG_LEVEL_UNSET;
}

void vd_log_set_guest_levels(vd_log_level_fn fn, void *userdata)
{
	level_fn = fn;
	level_fn_userdata = userdata;
	for (size_t i = 0; i < nguest_levels; i++)
		guest_level_resolve(&guest_levels[i]);
}

void vd_log_guest_add(uint32_t domid, const char *name)
{
	struct guest_level *g = guest_level_find(domid);

	if (!g && nguest_levels == guest_levels_cap) {
		size_t cap = guest_levels_cap ? 2 * guest_levels_cap : 16;

		g = realloc(guest_levels, cap * sizeof(*g));
		if (!g)
			return; /* its lines go at the daemon's level */
		guest_levels = g;
		guest_levels_cap = cap;
		g = NULL;
	}
	if (!g) {
		g = &guest_levels[nguest_levels++];
		*g = (struct guest_level){.domid = domid, .level = VD_LOG_LEVEL_UNSET};
	}
	g->devices++;
	snprintf(g->name, sizeof(g->name), "%s", name ? name : "");
	guest_level_resolve(g);
}

void vd_log_guest_remove(uint32_t domid)
{
	struct guest_level *g = guest_level_find(domid);

	if (!g || --g->devices)
		return;
	nleveled -= g->level != VD_LOG_LEVEL_UNSET;
	*g = guest_levels[--nguest_levels];
	if (!nguest_levels) {
		free(guest_levels);
		guest_levels = NULL;
		guest_levels_cap = 0;
	}
}

int vd_log_level_of(uint32_t domid)
{
	const struct guest_level *g = nleveled ? guest_level_find(domid) : NULL;

	return g && g->level != VD_LOG_LEVEL_UNSET ? g->level : log_level;
}

void vd_log_dom(uint32_t domid, int level, const char *fmt, ...)
{
	va_list ap;

	if (level > vd_log_level_of(domid))
		return;
	va_start(ap, fmt);
	log_write(level, fmt, ap);
	va_end(ap);
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

/* Not a warning of its own: what was suppressed may have been debug. */
static void rl_report(struct vd_ratelimit *rl, int64_t domid)
{
	if (!rl->suppressed)
		return;
	if (domid >= 0)
		vd_log_dom((uint32_t)domid, rl->suppressed_level,
			   "dom%lld: %llu similar messages suppressed", (long long)domid,
			   (unsigned long long)rl->suppressed);
	else
		vd_log(rl->suppressed_level, "%llu similar messages suppressed",
		       (unsigned long long)rl->suppressed);
	rl->suppressed = 0;
	rl->suppressed_level = LOG_DEBUG;
}

/* domid -1: not about one guest. */
static bool rl_check(struct vd_ratelimit *rl, int level, int64_t domid, uint64_t now)
{
	if (rl->begin_ms == 0 || now - rl->begin_ms >= rl->interval_ms) {
		rl_report(rl, domid);
		rl->begin_ms = now;
		rl->printed = 0;
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

bool vd_ratelimit_ok(struct vd_ratelimit *rl, int level)
{
	return rl_check(rl, level, -1, vd_now_ms());
}

/* ---- per guest ---- */

/*
 * (site, guest) pairs, open addressing over a short probe window. A slot
 * is taken back once its interval is over (its count reported first), so
 * a guest holds at most one slot per site it floods, for an interval.
 */
#define RL_SLOTS 1024u
#define RL_PROBE 16u

struct rl_slot {
	const struct vd_ratelimit *site; /* NULL: free */
	uint32_t domid;
	struct vd_ratelimit rl;
};

static struct rl_slot rl_slots[RL_SLOTS];

static size_t rl_hash(const struct vd_ratelimit *site, uint32_t domid)
{
	uint64_t h =
	    ((uint64_t)(uintptr_t)site ^ ((uint64_t)domid << 32 | domid)) * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 40) & (RL_SLOTS - 1);
}

static bool rl_idle(const struct vd_ratelimit *rl, uint64_t now)
{
	return now - rl->begin_ms >= rl->interval_ms;
}

static struct vd_ratelimit *rl_slot_of(struct vd_ratelimit *site, uint32_t domid, uint64_t now)
{
	size_t h = rl_hash(site, domid);
	struct rl_slot *free_slot = NULL;

	for (size_t i = 0; i < RL_PROBE; i++) {
		struct rl_slot *s = &rl_slots[(h + i) & (RL_SLOTS - 1)];

		if (s->site == site && s->domid == domid)
			return &s->rl;
		if (!free_slot && (!s->site || rl_idle(&s->rl, now)))
			free_slot = s;
	}
	if (!free_slot)
		return NULL;
	if (free_slot->site)
		rl_report(&free_slot->rl, free_slot->domid);
	*free_slot = (struct rl_slot){
	    .site = site,
	    .domid = domid,
	    .rl = {site->interval_ms, site->burst, 0, 0, 0, LOG_DEBUG},
	};
	return &free_slot->rl;
}

bool vd_ratelimit_guest_ok(struct vd_ratelimit *site, uint32_t domid, int level)
{
	uint64_t now = vd_now_ms();
	struct vd_ratelimit *rl = rl_slot_of(site, domid, now);

	return rl ? rl_check(rl, level, domid, now) : rl_check(site, level, -1, now);
}

void vd_ratelimit_forget_guest(uint32_t domid)
{
	for (size_t i = 0; i < RL_SLOTS; i++) {
		struct rl_slot *s = &rl_slots[i];

		if (s->site && s->domid == domid) {
			rl_report(&s->rl, domid);
			s->site = NULL;
		}
	}
}
