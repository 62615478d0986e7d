/* SPDX-License-Identifier: MIT */
/*
 * xenfront-evread -- the Xen-in-QEMU test's guest evdev reader. Static, so
 * it runs in the bare guest initramfs. Opens every /dev/input/event*, names
 * each device ("kbd" for xen-kbdfront's "Xen Virtual Keyboard", "ptr" for
 * its "Xen Virtual Pointer", "mt" for its "Xen Virtual Multi-touch", else
 * its event node), prints
 *   EVREAD-DEV NODE SHORT "NAME"
 *   EVREAD-READY devices=N
 * then one line per event but SYN_REPORT:
 *   EV SHORT KEY|REL|ABS|type CODE VALUE
 * and, after --count events, --idle seconds with no event after the first,
 * or --timeout seconds in all:
 *   EVREAD-END events=N reason=count|idle|timeout
 * Usage: xenfront-evread [--count N] [--idle S] [--timeout S]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/ioctl.h>

#include <linux/input.h>

#define MAX_DEVS 16

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *type_name(unsigned t)
{
	switch (t) {
	case EV_KEY: return "KEY";
	case EV_REL: return "REL";
	case EV_ABS: return "ABS";
	case EV_MSC: return "MSC";
	default: return NULL;
	}
}

int main(int argc, char **argv)
{
	struct pollfd pfd[MAX_DEVS];
	char shortname[MAX_DEVS][40];
	long count = 0;
	double idle = 3, timeout = 60;
	int n = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--count") && i + 1 < argc)
			count = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--idle") && i + 1 < argc)
			idle = strtod(argv[++i], NULL);
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			timeout = strtod(argv[++i], NULL);
		else {
			fprintf(stderr, "usage: %s [--count N] [--idle S] [--timeout S]\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	DIR *d = opendir("/dev/input");
	struct dirent *de;

	while (d && (de = readdir(d)) && n < MAX_DEVS) {
		char path[300], name[128] = "";

		if (strncmp(de->d_name, "event", 5))
			continue;
		snprintf(path, sizeof(path), "/dev/input/%s", de->d_name);
		int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

		if (fd < 0) {
			printf("EVREAD-ERROR open %s: %s\n", path, strerror(errno));
			continue;
		}
		ioctl(fd, EVIOCGNAME(sizeof(name) - 1), name);
		if (strstr(name, "Keyboard"))
			snprintf(shortname[n], sizeof(shortname[n]), "kbd");
		else if (strstr(name, "Pointer"))
			snprintf(shortname[n], sizeof(shortname[n]), "ptr");
		else if (strstr(name, "Multi-touch"))
			snprintf(shortname[n], sizeof(shortname[n]), "mt");
		else
			snprintf(shortname[n], sizeof(shortname[n]), "%.32s", de->d_name);
		printf("EVREAD-DEV %s %s \"%s\"\n", path, shortname[n], name);
		pfd[n].fd = fd;
		pfd[n].events = POLLIN;
		n++;
	}
	if (d)
		closedir(d);
	printf("EVREAD-READY devices=%d\n", n);

	long events = 0;
	double start = now(), last = 0;
	const char *reason = "timeout";

	for (;;) {
		double t = now(), left = start + timeout - t;

		if (count > 0 && events >= count) {
			reason = "count";
			break;
		}
		if (last > 0 && last + idle - t < left) {
			left = last + idle - t;
			if (left <= 0) {
				reason = "idle";
				break;
			}
		}
		if (left <= 0)
			break;
		int r = poll(pfd, (nfds_t)n, (int)(left * 1000) + 1);

		if (r < 0 && errno != EINTR) {
			printf("EVREAD-ERROR poll: %s\n", strerror(errno));
			break;
		}
		for (int i = 0; r > 0 && i < n; i++) {
			struct input_event ev[64];
			ssize_t len;

			if (!(pfd[i].revents & POLLIN))
				continue;
			while ((len = read(pfd[i].fd, ev, sizeof(ev))) > 0) {
				for (size_t k = 0; k < (size_t)len / sizeof(ev[0]); k++) {
					const char *tn = type_name(ev[k].type);

					if (ev[k].type == EV_SYN)
						continue;
					events++;
					last = now();
					if (tn)
						printf("EV %s %s %u %d\n", shortname[i], tn, ev[k].code,
						       ev[k].value);
					else
						printf("EV %s %u %u %d\n", shortname[i], ev[k].type,
						       ev[k].code, ev[k].value);
				}
			}
		}
	}
	printf("EVREAD-END events=%ld reason=%s\n", events, reason);
	return 0;
}
