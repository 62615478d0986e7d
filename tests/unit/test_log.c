/* SPDX-License-Identifier: MIT */
/*
 * The rate limit of guest-triggerable logs: what it lets through, and at
 * which level it reports what it suppressed. libinput's debug chatter
 * (-v -v) once came back as "N similar messages suppressed" at warning
 * level, a warning nothing had warned about (seen in the Xen-in-QEMU test).
 * And the form of a line: <N> prefixes for the journal only (JOURNAL_STREAM
 * names stderr), the time of day elsewhere; the program's own name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <regex.h>

#include "log.h"

/* JOURNAL_STREAM naming the file open as fd (the journal's stream, as systemd sets it). */
static void journal_is(int fd)
{
	struct stat st;
	char v[64];

	assert_int_equal(fstat(fd, &st), 0);
	snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	assert_int_equal(setenv("JOURNAL_STREAM", v, 1), 0);
}

enum target { TO_JOURNAL, TO_FILE, TO_OTHER_JOURNAL };

/* stderr into a temporary file while fn runs; what was written, in buf. */
static void capture_to(enum target t, void (*fn)(void), char *buf, size_t len)
{
	FILE *tmp = tmpfile(), *other = tmpfile();
	int saved;
	size_t n;

	assert_non_null(tmp);
	assert_non_null(other);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), 2) >= 0);
	if (t == TO_JOURNAL)
		journal_is(2);
	else if (t == TO_OTHER_JOURNAL) /* systemd's stream, handed down, but not our stderr now */
		journal_is(fileno(other));
	else
		unsetenv("JOURNAL_STREAM");
	fn();
	unsetenv("JOURNAL_STREAM");
	fflush(stderr);
	assert_true(dup2(saved, 2) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, len - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	fclose(other);
}

static void capture(void (*fn)(void), char *buf, size_t len)
{
	capture_to(TO_JOURNAL, fn, buf, len);
}

/* A short interval: the test waits it out instead of 5 s. */
#define INTERVAL_MS 30u

static void next_interval(void)
{
	usleep((INTERVAL_MS + 20u) * 1000u);
}

static void burst_then_report(void)
{
	struct vd_ratelimit rl = {INTERVAL_MS, 2, 0, 0, 0, LOG_DEBUG};

	assert_true(vd_ratelimit_ok(&rl, LOG_DEBUG));
	assert_true(vd_ratelimit_ok(&rl, LOG_DEBUG));
	assert_false(vd_ratelimit_ok(&rl, LOG_DEBUG));
	assert_false(vd_ratelimit_ok(&rl, LOG_DEBUG));
	assert_false(vd_ratelimit_ok(&rl, LOG_DEBUG));
	next_interval();
	assert_true(vd_ratelimit_ok(&rl, LOG_DEBUG)); /* reports the 3, as debug */
}

static void debug_stays_debug(void **state)
{
	char out[1024];

	vd_log_set_level(LOG_DEBUG);
	capture(burst_then_report, out, sizeof(out));
	assert_non_null(strstr(out, "<7>vdispld: debug: 3 similar messages suppressed\n"));
	assert_null(strstr(out, "<4>"));
	vd_log_set_level(LOG_INFO);
}

static void mixed_burst(void)
{
	struct vd_ratelimit rl = {INTERVAL_MS, 1, 0, 0, 0, LOG_DEBUG};

	assert_true(vd_ratelimit_ok(&rl, LOG_DEBUG));
	assert_false(vd_ratelimit_ok(&rl, LOG_DEBUG));
	assert_false(vd_ratelimit_ok(&rl, LOG_WARNING));
	assert_false(vd_ratelimit_ok(&rl, LOG_INFO));
	next_interval();
	assert_true(vd_ratelimit_ok(&rl, LOG_DEBUG)); /* the 3, as the warning among them */
	assert_false(vd_ratelimit_ok(&rl, LOG_DEBUG));
	next_interval();
	assert_true(vd_ratelimit_ok(&rl, LOG_DEBUG)); /* the 1, as debug again */
}

static void most_severe_suppressed_wins(void **state)
{
	char out[1024];

	vd_log_set_level(LOG_DEBUG);
	capture(mixed_burst, out, sizeof(out));
	assert_string_equal(out, "<4>vdispld: warning: 3 similar messages suppressed\n"
				 "<7>vdispld: debug: 1 similar messages suppressed\n");
	vd_log_set_level(LOG_INFO);
}

static int rl_calls;

static void below_level(void)
{
	/* Below the level (info): neither printed nor counted against the burst. */
	for (int i = 0; i < 50; i++)
		vd_log_rl(LOG_DEBUG, "chatter %d", i);
	for (int i = 0; i < 3; i++)
		vd_log_rl(LOG_INFO, "news %d", rl_calls++);
}

static void below_level_not_counted(void **state)
{
	char out[1024];

	vd_log_set_level(LOG_INFO);
	capture(below_level, out, sizeof(out));
	assert_string_equal(out, "<6>vdispld: info: news 0\n"
				 "<6>vdispld: info: news 1\n"
				 "<6>vdispld: info: news 2\n");
}

/* Two call sites, two guests, one short-interval limiter per site. */
static struct vd_ratelimit site_a = {INTERVAL_MS, 2, 0, 0, 0, LOG_DEBUG};
static struct vd_ratelimit site_b = {INTERVAL_MS, 2, 0, 0, 0, LOG_DEBUG};

static void per_guest_burst(void)
{
	/* Guest 7 floods site A... */
	for (int i = 0; i < 100; i++)
		if (vd_ratelimit_guest_ok(&site_a, 7, LOG_WARNING))
			vd_warn("a: dom7 %d", i);
	/* ...and neither guest 8 at site A nor guest 7 at site B loses a line. */
	for (int i = 0; i < 2; i++) {
		assert_true(vd_ratelimit_guest_ok(&site_a, 8, LOG_WARNING));
		assert_true(vd_ratelimit_guest_ok(&site_b, 7, LOG_WARNING));
	}
	assert_false(vd_ratelimit_guest_ok(&site_a, 8, LOG_WARNING));
	next_interval();
	/* A new interval reports what guest 8 had suppressed, naming it. */
	assert_true(vd_ratelimit_guest_ok(&site_a, 8, LOG_WARNING));
	/* Guest 7 goes: its count is reported at once. */
	vd_ratelimit_forget_guest(7);
	vd_ratelimit_forget_guest(8);
}

static void per_guest_and_site(void **state)
{
	char out[1024];

	vd_log_set_level(LOG_INFO);
	capture(per_guest_burst, out, sizeof(out));
	assert_string_equal(out, "<4>vdispld: warning: a: dom7 0\n"
				 "<4>vdispld: warning: a: dom7 1\n"
				 "<4>vdispld: warning: dom8: 1 similar messages suppressed\n"
				 "<4>vdispld: warning: dom7: 98 similar messages suppressed\n");
}

/* Many guests at one site: each gets its own burst (the table has room for them all). */
static void many_guests(void **state)
{
	struct vd_ratelimit site = {60000, 1, 0, 0, 0, LOG_DEBUG};

	(void)state;
	vd_log_set_level(LOG_ERR); /* the reports of forget_guest below are not the point */
	for (uint32_t d = 1; d <= 200; d++) {
		assert_true(vd_ratelimit_guest_ok(&site, d, LOG_WARNING));
		assert_false(vd_ratelimit_guest_ok(&site, d, LOG_WARNING));
	}
	for (uint32_t d = 1; d <= 200; d++)
		vd_ratelimit_forget_guest(d);
	vd_log_set_level(LOG_INFO);
}

static void two_lines(void)
{
	vd_err("cannot open %s", "it");
	vd_info("running");
}

static bool matches(const char *s, const char *pattern)
{
	regex_t re;
	bool ok;

	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	ok = regexec(&re, s, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

/* On a terminal or in a file: the time, no <N> (only the journal reads those). */
static void time_not_prefix_off_the_journal(void **state)
{
	static const char *const want =
		"^[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\\.[0-9]{3} vdispld: error: cannot open it\n"
		"[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\\.[0-9]{3} vdispld: info: running\n$";
	char out[1024];

	capture_to(TO_FILE, two_lines, out, sizeof(out));
	print_message("%s", out);
	assert_true(matches(out, want));
	capture_to(TO_OTHER_JOURNAL, two_lines, out, sizeof(out));
	assert_true(matches(out, want));
	capture_to(TO_JOURNAL, two_lines, out, sizeof(out));
	assert_string_equal(out, "<3>vdispld: error: cannot open it\n<6>vdispld: info: running\n");
}

static void ident_is_the_program(void **state)
{
	char out[1024];

	vd_log_set_ident("vdispl-simhost");
	capture_to(TO_JOURNAL, two_lines, out, sizeof(out));
	vd_log_set_ident("vdispld");
	assert_string_equal(out, "<3>vdispl-simhost: error: cannot open it\n"
				 "<6>vdispl-simhost: info: running\n");
}

/* ---- per-guest levels (a guest file's log-level) ---- */

/* "web" is debugged, "quiet" only says warnings, the rest are at the daemon's level. */
static int levels_of(void *userdata, const char *name)
{
	int *web_level = userdata;

	if (!strcmp(name, "web"))
		return *web_level;
	return !strcmp(name, "quiet") ? LOG_WARNING : VD_LOG_LEVEL_UNSET;
}

static void guest_lines(void)
{
	for (uint32_t d = 1; d <= 3; d++) {
		vd_debug_dom(d, "dom%u: debug", d);
		vd_log_dom(d, LOG_INFO, "dom%u: info", d);
		vd_log_rl_dom(d, LOG_DEBUG, "dom%u: rate-limited debug", d);
	}
	vd_debug("daemon: debug");
}

static void guest_levels(void **state)
{
	int web_level = LOG_DEBUG;
	char out[1024];

	vd_log_set_level(LOG_INFO);
	vd_log_set_guest_levels(levels_of, &web_level);
	vd_log_guest_add(1, "web");
	vd_log_guest_add(1, "web"); /* its vkb: the same guest */
	vd_log_guest_add(2, "quiet");
	vd_log_guest_add(3, "other");
	capture(guest_lines, out, sizeof(out));
	assert_string_equal(out, "<7>vdispld: debug: dom1: debug\n"
				 "<6>vdispld: info: dom1: info\n"
				 "<7>vdispld: debug: dom1: rate-limited debug\n"
				 "<6>vdispld: info: dom3: info\n");

	/* A reload changes web's level: asked again at once. */
	web_level = VD_LOG_LEVEL_UNSET;
	vd_log_set_guest_levels(levels_of, &web_level);
	assert_int_equal(vd_log_level_of(1), LOG_INFO);
	web_level = LOG_DEBUG;
	vd_log_set_guest_levels(levels_of, &web_level);

	/* Its first device gone, the guest stays; with the last, its level goes. */
	vd_log_guest_remove(1);
	assert_int_equal(vd_log_level_of(1), LOG_DEBUG);
	vd_log_guest_remove(1);
	assert_int_equal(vd_log_level_of(1), LOG_INFO);
	assert_int_equal(vd_log_level_of(2), LOG_WARNING);
	/* The daemon's -v reaches guests without a level of their own only. */
	vd_log_set_level(LOG_DEBUG);
	assert_int_equal(vd_log_level_of(3), LOG_DEBUG);
	assert_int_equal(vd_log_level_of(2), LOG_WARNING);
	vd_log_set_level(LOG_INFO);
	vd_log_guest_remove(2);
	vd_log_guest_remove(3);
	vd_log_guest_remove(9); /* never added: nothing */
	vd_log_set_guest_levels(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(time_not_prefix_off_the_journal),
	    cmocka_unit_test(ident_is_the_program),
	    cmocka_unit_test(debug_stays_debug),
	    cmocka_unit_test(most_severe_suppressed_wins),
	    cmocka_unit_test(below_level_not_counted),
	    cmocka_unit_test(per_guest_and_site),
	    cmocka_unit_test(many_guests),
	    cmocka_unit_test(guest_levels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
