/* SPDX-License-Identifier: MIT */
/*
 * Logging to stderr: "<N>vdispld: level: message" when stderr is the
 * journal (JOURNAL_STREAM), so that journald keeps the levels; else
 * "HH:MM:SS.mmm vdispld: level: message" (a terminal, a file).
 * Anything a guest can trigger goes through vd_log_rl.
 */
#ifndef VD_LOG_H
#define VD_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

void vd_log_set_level(int level); /* LOG_ERR .. LOG_DEBUG; default LOG_INFO */
/* The program's name in each line (default "vdispld"); borrowed, must outlive the logging. */
void vd_log_set_ident(const char *ident);
/* stderr is the journal's stream (systemd's JOURNAL_STREAM names it). */
bool vd_log_to_journal(void);
int vd_log_get_level(void);
void vd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * At most burst messages per interval_ms; the rest are counted and
 * reported when a later message opens a new interval, at the level of the
 * most severe message suppressed (debug chatter stays debug).
 */
struct vd_ratelimit {
	uint32_t interval_ms, burst;
	uint64_t begin_ms;
	uint32_t printed;
	uint64_t suppressed;
	int suppressed_level; /* the most severe (lowest) level suppressed */
};
#define VD_RATELIMIT_INIT {5000, 10, 0, 0, 0, LOG_DEBUG}
/* level: the message's, which is to be printed if this returns true. */
bool vd_ratelimit_ok(struct vd_ratelimit *rl, int level);

#define vd_err(...) vd_log(LOG_ERR, __VA_ARGS__)
#define vd_warn(...) vd_log(LOG_WARNING, __VA_ARGS__)
#define vd_notice(...) vd_log(LOG_NOTICE, __VA_ARGS__)
#define vd_info(...) vd_log(LOG_INFO, __VA_ARGS__)
#define vd_debug(...)                                                                              \
	do {                                                                                       \
		if (vd_log_get_level() >= LOG_DEBUG)                                               \
			vd_log(LOG_DEBUG, __VA_ARGS__);                                            \
	} while (0)
/*
 * Rate limited per call site: for what no one guest triggers (a local
 * client, a device, the host). A message below the log level is neither
 * printed nor counted.
 */
#define vd_log_rl(level, ...)                                                                      \
	do {                                                                                       \
		static struct vd_ratelimit rl_ = VD_RATELIMIT_INIT;                                \
		int lv_ = (level);                                                                 \
		if (lv_ <= vd_log_get_level() && vd_ratelimit_ok(&rl_, lv_))                       \
			vd_log(lv_, __VA_ARGS__);                                                  \
	} while (0)

/*
 * What guest domid triggers: rate limited per call site and per guest, so
 * that one guest's flood hides no other guest's messages (nor its own
 * from another site). What a guest had suppressed is reported naming it
 * ("domN: M similar messages suppressed").
 */
#define vd_log_rl_dom(domid, level, ...)                                                           \
	do {                                                                                       \
		static struct vd_ratelimit rl_ = VD_RATELIMIT_INIT;                                \
		uint32_t dom_ = (domid);                                                           \
		int lv_ = (level);                                                                 \
		if (lv_ <= vd_log_level_of(dom_) && vd_ratelimit_guest_ok(&rl_, dom_, lv_))        \
			vd_log_dom(dom_, lv_, __VA_ARGS__);                                        \
	} while (0)
/*
 * site: the call site's limiter, which names it and gives its interval
 * and burst; the state per guest lives in a fixed table. Should the table
 * have no room (more sites and guests flooding at once than it holds),
 * the site's own limiter serves the guests it cannot place.
 */
bool vd_ratelimit_guest_ok(struct vd_ratelimit *site, uint32_t domid, int level);
/* The guest's devices are gone: report what it had suppressed, and forget it. */
void vd_ratelimit_forget_guest(uint32_t domid);

/*
 * Per-guest levels (a guest file's log-level, vdispld.conf(5)): the lines
 * about one guest (vd_log_dom, vd_debug_dom, vd_log_rl_dom) are printed up
 * to that guest's own level instead of the daemon's, so that one guest
 * can be debugged without the others' debug lines, or one quietened.
 *
 * Guests are known by domid from their first device to their last
 * (vd_log_guest_add / _remove, the xenbus devices'); a resolver, the
 * configuration's, tells each one's level by its domain name.
 */
#define VD_LOG_LEVEL_UNSET (-1)
/* The level of the guest called name: LOG_ERR .. LOG_DEBUG, or VD_LOG_LEVEL_UNSET. */
typedef int (*vd_log_level_fn)(void *userdata, const char *name);
/* Set the resolver (NULL: none) and ask it again for every guest known (after a reload). */
void vd_log_set_guest_levels(vd_log_level_fn fn, void *userdata);
/* A device of guest domid, called name (copied), appeared; counted per device. */
void vd_log_guest_add(uint32_t domid, const char *name);
/* One device of domid went: the guest is forgotten with its last. */
void vd_log_guest_remove(uint32_t domid);
/* The level lines about domid are printed up to: its own, else the daemon's. */
int vd_log_level_of(uint32_t domid);
/* A line about guest domid, printed if level <= vd_log_level_of(domid). */
void vd_log_dom(uint32_t domid, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define vd_debug_dom(domid, ...)                                                                   \
	do {                                                                                       \
		uint32_t dom_ = (domid);                                                           \
		if (vd_log_level_of(dom_) >= LOG_DEBUG)                                            \
			vd_log_dom(dom_, LOG_DEBUG, __VA_ARGS__);                                  \
	} while (0)

uint64_t vd_now_ms(void); /* CLOCK_MONOTONIC */
uint64_t vd_now_us(void);

#endif
