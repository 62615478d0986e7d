/* SPDX-License-Identifier: MIT */
/*
 * What the machine charges for the system calls the daemon's loop makes,
 * so that the other numbers can be read on another machine: a trivial
 * system call, an event channel's eventfd notify + ack, and arming a
 * timerfd that is already due (what sd-event does for a time-0 timer,
 * which the headless output uses to complete flips when its refresh is 0).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "bench.h"

static double per_op_us(uint64_t t0, uint32_t n)
{
	return (double)(bench_now_ns() - t0) / 1e3 / n;
}

static void sys_trivial(uint32_t n)
{
	uint64_t t0 = bench_now_ns();

	for (uint32_t i = 0; i < n; i++)
		getppid();
	bench_report("sys.syscall", per_op_us(t0, n), "us", NULL, "getppid()");
}

static int sys_eventfd(uint32_t n)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	uint64_t t0, v = 1;

	if (fd < 0)
		return -errno;
	t0 = bench_now_ns();
	for (uint32_t i = 0; i < n; i++)
		if (write(fd, &v, sizeof(v)) < 0 || read(fd, &v, sizeof(v)) < 0)
			break;
	bench_report("sys.eventfd", per_op_us(t0, n), "us", "sys.syscall",
		     "eventfd write + read (a sim notify + ack)");
	close(fd);
	return 0;
}

static int sys_timerfd_due(uint32_t n)
{
	static const struct itimerspec due = {.it_value = {.tv_nsec = 1}};
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	uint64_t t0, v;

	if (fd < 0)
		return -errno;
	t0 = bench_now_ns();
	for (uint32_t i = 0; i < n; i++)
		if (timerfd_settime(fd, TFD_TIMER_ABSTIME, &due, NULL) < 0 ||
		    read(fd, &v, sizeof(v)) < 0)
			break;
	bench_report("sys.timerfd_due", per_op_us(t0, n), "us", "sys.syscall",
		     "arm an already due timerfd + read it");
	close(fd);
	return 0;
}

int bench_sys(const struct bench_cfg *cfg)
{
	uint32_t n = cfg->quick ? 2000 : 20000;
	int r;

	sys_trivial(n);
	r = sys_eventfd(n);
	if (r >= 0)
		r = sys_timerfd_due(n);
	if (r < 0)
		fprintf(stderr, "vdispl-bench: sys: %s\n", strerror(-r));
	return r;
}
