/* SPDX-License-Identifier: MIT */
/*
 * Creates uinput devices and injects a script of events (the VM input
 * test, tests/vm/vm_input_test.py). Static, so it runs in a bare
 * initramfs. One command per line of the script file:
 *   create ID kbd|mouse|tablet|touch NAME   a device (tablet: an absolute mouse
 *                                    as QEMU's usb-tablet, buttons and wheel;
 *                                    touch: 4 slots; both 0..4095 on both axes)
 *   destroy ID                       unplug it
 *   key ID CODE 0|1                  EV_KEY
 *   rel ID DX DY                     EV_REL X/Y
 *   wheel ID N                       EV_REL WHEEL
 *   abs ID X Y                       EV_ABS X/Y (a tablet)
 *   down ID SLOT X Y | move ID SLOT X Y | up ID SLOT   multi-touch (type B)
 *   wait FILE N TEXT                 until TEXT occurs N times in FILE (60 s at most)
 *   mark FILE TEXT                   append a line TEXT to FILE (for whoever waits on it)
 *   sleep MS
 * Each event is followed by SYN_REPORT. Any failure exits 1 with a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/ioctl.h>

#include <linux/uinput.h>

#define MAX_DEVS 8

static int devs[MAX_DEVS];
static unsigned lineno;

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "uinput_inject: line %u: ", lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void ioc(int fd, unsigned long req, unsigned long arg)
{
	if (ioctl(fd, req, arg) < 0)
		die("ioctl %#lx: %s", req, strerror(errno));
}

static void abs_axis(int fd, unsigned code, int max)
{
	struct uinput_abs_setup a = {.code = (__u16)code};

	a.absinfo.maximum = max;
	a.absinfo.resolution = 10;
	ioc(fd, UI_SET_ABSBIT, code);
	if (ioctl(fd, UI_ABS_SETUP, &a) < 0)
		die("UI_ABS_SETUP: %s", strerror(errno));
}

/* Three buttons and a wheel: the mouse's and the tablet's. */
static void buttons_wheel(int fd)
{
	ioc(fd, UI_SET_EVBIT, EV_KEY);
	ioc(fd, UI_SET_KEYBIT, BTN_LEFT);
	ioc(fd, UI_SET_KEYBIT, BTN_RIGHT);
	ioc(fd, UI_SET_KEYBIT, BTN_MIDDLE);
	ioc(fd, UI_SET_EVBIT, EV_REL);
	ioc(fd, UI_SET_RELBIT, REL_WHEEL);
}

static void setup_kind(int fd, const char *kind)
{
	if (!strcmp(kind, "kbd")) {
		ioc(fd, UI_SET_EVBIT, EV_KEY);
		for (unsigned k = 1; k < 128; k++)
			ioc(fd, UI_SET_KEYBIT, k);
	} else if (!strcmp(kind, "mouse")) {
		buttons_wheel(fd);
		ioc(fd, UI_SET_RELBIT, REL_X);
		ioc(fd, UI_SET_RELBIT, REL_Y);
	} else if (!strcmp(kind, "tablet")) {
		/* No BTN_TOUCH, no tool, not direct: udev calls it a mouse */
		buttons_wheel(fd);
		ioc(fd, UI_SET_EVBIT, EV_ABS);
		abs_axis(fd, ABS_X, 4095);
		abs_axis(fd, ABS_Y, 4095);
	} else if (!strcmp(kind, "touch")) {
		ioc(fd, UI_SET_EVBIT, EV_KEY);
		ioc(fd, UI_SET_KEYBIT, BTN_TOUCH);
		ioc(fd, UI_SET_EVBIT, EV_ABS);
		ioc(fd, UI_SET_PROPBIT, INPUT_PROP_DIRECT);
		abs_axis(fd, ABS_X, 4095);
		abs_axis(fd, ABS_Y, 4095);
		abs_axis(fd, ABS_MT_SLOT, 3);
		abs_axis(fd, ABS_MT_TRACKING_ID, 65535);
		abs_axis(fd, ABS_MT_POSITION_X, 4095);
		abs_axis(fd, ABS_MT_POSITION_Y, 4095);
	} else {
		die("unknown device kind %s", kind);
	}
}

static void create(unsigned id, const char *kind, const char *name)
{
	struct uinput_setup us = {.id = {.bustype = BUS_VIRTUAL, .vendor = 0x1234, .product = 1}};
	int fd = open("/dev/uinput", O_WRONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		die("/dev/uinput: %s", strerror(errno));
	setup_kind(fd, kind);
	if (strlen(name) >= sizeof(us.name))
		die("name %s too long", name);
	memcpy(us.name, name, strlen(name) + 1);
	if (ioctl(fd, UI_DEV_SETUP, &us) < 0 || ioctl(fd, UI_DEV_CREATE) < 0)
		die("creating %s: %s", name, strerror(errno));
	devs[id] = fd;
}

static int dev(unsigned id)
{
	if (id >= MAX_DEVS || devs[id] < 0)
		die("no device %u", id);
	return devs[id];
}

static void emit(int fd, unsigned type, unsigned code, int value)
{
	struct input_event ev = {.type = (__u16)type, .code = (__u16)code, .value = value};

	if (write(fd, &ev, sizeof(ev)) != (ssize_t)sizeof(ev))
		die("write: %s", strerror(errno));
}

static void syn(int fd)
{
	emit(fd, EV_SYN, SYN_REPORT, 0);
}

static unsigned count_in(const char *path, const char *text)
{
	static char buf[1 << 20];
	unsigned n = 0;
	FILE *f = fopen(path, "r");
	size_t len;

	if (!f)
		return 0;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	for (const char *p = buf; (p = strstr(p, text)); p += strlen(text))
		n++;
	return n;
}

static void wait_for(const char *path, unsigned n, const char *text)
{
	for (int i = 0; i < 600; i++) {
		if (count_in(path, text) >= n)
			return;
		usleep(100000);
	}
	die("timed out waiting for %u x \"%s\" in %s", n, text, path);
}

static void mark(const char *path, const char *text)
{
	FILE *f = fopen(path, "a");

	if (!f || fprintf(f, "%s\n", text) < 0 || fclose(f) != 0)
		die("cannot write %s", path);
}

static void touch(int fd, const char *what, unsigned slot, int x, int y)
{
	static int next_id = 1;

	emit(fd, EV_ABS, ABS_MT_SLOT, (int)slot);
	if (!strcmp(what, "up")) {
		emit(fd, EV_ABS, ABS_MT_TRACKING_ID, -1);
		emit(fd, EV_KEY, BTN_TOUCH, 0);
	} else {
		if (!strcmp(what, "down"))
			emit(fd, EV_ABS, ABS_MT_TRACKING_ID, next_id++);
		emit(fd, EV_ABS, ABS_MT_POSITION_X, x);
		emit(fd, EV_ABS, ABS_MT_POSITION_Y, y);
		emit(fd, EV_ABS, ABS_X, x);
		emit(fd, EV_ABS, ABS_Y, y);
		if (!strcmp(what, "down"))
			emit(fd, EV_KEY, BTN_TOUCH, 1);
	}
	syn(fd);
}

static void run(char *line)
{
	char cmd[16], a[256], b[256];
	unsigned id, n;
	int x, y;

	if (line[0] == '#' || sscanf(line, "%15s", cmd) != 1)
		return;
	if (!strcmp(cmd, "create") && sscanf(line, "%*s %u %255s %255[^\n]", &id, a, b) == 3 &&
	    id < MAX_DEVS)
		create(id, a, b);
	else if (!strcmp(cmd, "destroy") && sscanf(line, "%*s %u", &id) == 1) {
		ioc(dev(id), UI_DEV_DESTROY, 0);
		close(devs[id]);
		devs[id] = -1;
	} else if (!strcmp(cmd, "key") && sscanf(line, "%*s %u %u %d", &id, &n, &x) == 3) {
		emit(dev(id), EV_KEY, n, x);
		syn(devs[id]);
	} else if (!strcmp(cmd, "rel") && sscanf(line, "%*s %u %d %d", &id, &x, &y) == 3) {
		emit(dev(id), EV_REL, REL_X, x);
		emit(devs[id], EV_REL, REL_Y, y);
		syn(devs[id]);
	} else if (!strcmp(cmd, "abs") && sscanf(line, "%*s %u %d %d", &id, &x, &y) == 3) {
		emit(dev(id), EV_ABS, ABS_X, x);
		emit(devs[id], EV_ABS, ABS_Y, y);
		syn(devs[id]);
	} else if (!strcmp(cmd, "wheel") && sscanf(line, "%*s %u %d", &id, &x) == 2) {
		emit(dev(id), EV_REL, REL_WHEEL, x);
		syn(devs[id]);
	} else if ((!strcmp(cmd, "down") || !strcmp(cmd, "move")) &&
		   sscanf(line, "%*s %u %u %d %d", &id, &n, &x, &y) == 4)
		touch(dev(id), cmd, n, x, y);
	else if (!strcmp(cmd, "up") && sscanf(line, "%*s %u %u", &id, &n) == 2)
		touch(dev(id), cmd, n, 0, 0);
	else if (!strcmp(cmd, "wait") && sscanf(line, "%*s %255s %u %255[^\n]", a, &n, b) == 3)
		wait_for(a, n, b);
	else if (!strcmp(cmd, "mark") && sscanf(line, "%*s %255s %255[^\n]", a, b) == 2)
		mark(a, b);
	else if (!strcmp(cmd, "sleep") && sscanf(line, "%*s %u", &n) == 1)
		usleep(n * 1000u);
	else
		die("cannot parse \"%s\"", line);
}

int main(int argc, char **argv)
{
	char line[512];
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: uinput_inject SCRIPT\n");
		return 2;
	}
	f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	for (int i = 0; i < MAX_DEVS; i++)
		devs[i] = -1;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		line[strcspn(line, "\n")] = '\0';
		run(line);
		printf("VDINJECT %u %s\n", lineno, line);
		fflush(stdout);
	}
	fclose(f);
	return 0;
}
