/* SPDX-License-Identifier: MIT */
/*
 * vdispctl: ask a running vdispld through its control socket (see
 * src/control/control.h for the protocol). Exit status: 0 ok, 1 the
 * daemon said no or cannot be reached, 2 bad usage. With --json every
 * answer, errors too, is one JSON object on stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/vdispld/control"
#define MAX_ANSWER (16u << 20)

struct answer {
	char *data;
	size_t len;
	int fd; /* passed with the answer, or -1 */
};

static bool json_out; /* --json */

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

/* An error: "vdispctl: MESSAGE" on stderr, or with --json {"error", "errno"} on stdout. */
static void say_error(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say_error(int err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!json_out) {
		fprintf(stderr, "vdispctl: %s\n", msg);
		return;
	}
	printf("{\"error\":");
	json_str(msg);
	printf(",\"errno\":%d}\n", err);
}

/* Bad usage: what was wrong, and where to look (not the whole usage). Exit status 2. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	say_error(EINVAL, "%s", msg);
	if (!json_out)
		fputs("Try 'vdispctl --help' for more information.\n", stderr);
	return 2;
}

static void usage(FILE *f)
{
	fputs("Usage: vdispctl [OPTIONS] COMMAND [ARGS]\n"
	      "Ask a running vdispld.\n\n"
	      "Commands:\n"
	      "  status                          guests, devices, connectors, input, buffers\n"
	      "                                  awaiting release, uptime\n"
	      "  guests                          the guests, one a line (domN NAME: ...)\n"
	      "  screenshot GUEST[:CONN] FILE    save what a connector shows as PNG\n"
	      "  focus GUEST                     give GUEST the input focus\n\n"
	      "Options:\n"
	      "  -s, --socket PATH   control socket (default: " DEFAULT_SOCKET ")\n"
	      "  -j, --json          answer in JSON\n"
	      "  -h, --help          this text\n"
	      "      --version       print the version\n",
	      f);
}

/* Why a connect usually fails. */
static const char *connect_hint(int err)
{
	if (err == ENOENT || err == ECONNREFUSED)
		return " (is vdispld running, with this control socket?)";
	if (err == EACCES || err == EPERM)
		return " (the control socket is root's, and its control-group's if vdispld.conf "
		       "names one: see vdispld.conf(5))";
	return "";
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		say_error(ENAMETOOLONG, "socket path too long: %s", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;

		say_error(err, "cannot connect to %s: %s%s", path, strerror(err), connect_hint(err));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void take_fd(struct msghdr *msg, struct answer *a)
{
	for (struct cmsghdr *h = CMSG_FIRSTHDR(msg); h; h = CMSG_NXTHDR(msg, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		if (a->fd >= 0)
			close(a->fd);
		memcpy(&a->fd, CMSG_DATA(h), sizeof(int));
	}
}

static int read_answer(int fd, struct answer *a)
{
	char buf[65536];
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} cmsg;

	for (;;) {
		struct iovec iov = {buf, sizeof(buf)};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cmsg.b,
				     .msg_controllen = sizeof(cmsg.b)};
		ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
		char *p;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		take_fd(&msg, a);
		if (n == 0)
			return 0;
		if (a->len + (size_t)n > MAX_ANSWER || !(p = realloc(a->data, a->len + (size_t)n + 1)))
			return -EMSGSIZE;
		a->data = p;
		memcpy(a->data + a->len, buf, (size_t)n);
		a->len += (size_t)n;
		a->data[a->len] = '\0';
	}
}

static int request(const char *sock, const char *line, struct answer *a)
{
	int fd = connect_to(sock), r;

	if (fd < 0)
		return -1;
	if (write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
		say_error(errno, "cannot send the request: %s", strerror(errno));
		close(fd);
		return -1;
	}
	shutdown(fd, SHUT_WR);
	r = read_answer(fd, a);
	close(fd);
	if (r < 0 || !a->data || !strchr(a->data, '\n')) {
		say_error(r < 0 ? -r : EPROTO, "no answer from vdispld: %s",
			  strerror(r < 0 ? -r : EPROTO));
		return -1;
	}
	return 0;
}

/* Copy the PNG the daemon passed to file, with our own rights. */
static int save_shot(int in, const char *file)
{
	char buf[65536];
	ssize_t n;
	int out = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), r = 0;

	if (out < 0) {
		say_error(errno, "%s: %s", file, strerror(errno));
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			r = -1;
			break;
		}
	if (n < 0 || close(out) < 0)
		r = -1;
	if (r < 0)
		say_error(errno, "writing %s: %s", file, strerror(errno));
	return r;
}

/* Prints the body; an error as the daemon said it (with --json its JSON object). */
static int finish(struct answer *a, bool json, const char *shot_file)
{
	char *nl = strchr(a->data, '\n'), *body = nl + 1;

	*nl = '\0';
	if (!strncmp(a->data, "error ", 6)) {
		if (json)
			fputs(body, stdout);
		else
			fprintf(stderr, "vdispctl: %s\n", a->data + 6);
		return 1;
	}
	if (strcmp(a->data, "ok"))
		return say_error(EPROTO, "bad answer \"%.200s\"", a->data), 1;
	if (shot_file && a->fd < 0)
		return say_error(EPROTO, "no image in the answer"), 1;
	if (shot_file && save_shot(a->fd, shot_file) < 0)
		return 1;
	if (shot_file && !json)
		printf("%s: ", shot_file);
	fputs(body, stdout);
	return 0;
}

/* The request line for the command in argv: 0, or 2 after saying what was wrong. */
static int build_line(int argc, char **argv, bool json, char *line, size_t size,
		      const char **ret_file)
{
	const char *cmd = argv[0];
	int want = !strcmp(cmd, "status") || !strcmp(cmd, "guests") ? 1
		   : !strcmp(cmd, "screenshot")			    ? 3
		   : !strcmp(cmd, "focus")			    ? 2
								    : 0;

	if (!want)
		return usage_error("unknown command \"%s\" (status, guests, screenshot, focus)",
				   cmd);
	if (argc != want)
		return usage_error(want == 1   ? "%s takes no arguments"
				   : want == 2 ? "usage: %s GUEST"
					       : "usage: %s GUEST[:CONNECTOR] FILE.png",
				   cmd);
	for (int i = 1; i < want && i < 2; i++)
		if (strpbrk(argv[i], " \n") || !argv[i][0])
			return usage_error("bad guest name \"%s\"", argv[i]);
	*ret_file = want == 3 ? argv[2] : NULL;
	if (snprintf(line, size, "%s%s%s%s\n", json ? "json " : "", cmd, want > 1 ? " " : "",
		     want > 1 ? argv[1] : "") >= (int)size)
		return usage_error("guest name too long: %s", argv[1]);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"socket", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},         {"version", no_argument, NULL, 'V'},
		{0},
	};
	const char *sock = getenv("VDISPLD_CONTROL"), *file = NULL;
	struct answer a = {.fd = -1};
	char line[512], badopt[256] = "";
	int c, r, bad = 0; /* the first bad option: getopt's '?' or ':' */

	opterr = 0; /* said by usage_error, as JSON with --json */
	while ((c = getopt_long(argc, argv, ":s:jh", longopts, NULL)) != -1) {
		if (c == 's')
			sock = optarg;
		else if (c == 'j')
			json_out = true;
		else if (c == 'h')
			return usage(stdout), 0;
		else if (c == 'V')
			return puts("vdispctl " VD_VERSION), 0;
		else if (!bad) { /* said after the loop: a --json may come later */
			bad = c;
			snprintf(badopt, sizeof(badopt), "%s", argv[optind - 1]);
		}
	}
	if (bad)
		return usage_error(bad == ':' ? "option %s needs an argument" : "unknown option %s",
				   badopt);
	if (optind >= argc)
		return usage_error("no command (status, guests, screenshot, focus)");
	r = build_line(argc - optind, argv + optind, json_out, line, sizeof(line), &file);
	if (r)
		return r;
	if (request(sock && sock[0] ? sock : DEFAULT_SOCKET, line, &a) < 0)
		return 1;
	r = finish(&a, json_out, file);
	if (a.fd >= 0)
		close(a.fd);
	free(a.data);
	return r;
}
