/* SPDX-License-Identifier: MIT */
#include "hv/simhost/simhost_wire.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

int vd_sh_send(int sock, const struct vd_sh_hdr *hdr, const void *payload, size_t len,
	       const int *fds, unsigned nfds, int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VD_SH_FDS_MAX)];
		struct cmsghdr align;
	} u;
	struct iovec iov[2] = {
	    {.iov_base = (void *)(uintptr_t)hdr, .iov_len = sizeof(*hdr)},
	    {.iov_base = (void *)(uintptr_t)payload, .iov_len = payload ? len : 0},
	};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
	ssize_t n;

	if (nfds > VD_SH_FDS_MAX || sizeof(*hdr) + iov[1].iov_len > VD_SH_MSG_MAX)
		return -EMSGSIZE;
	if (nfds) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		m.msg_control = u.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(sock, &m, flags | MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(*hdr) + iov[1].iov_len ? 0 : -EMSGSIZE;
}

/* Take the fds of every SCM_RIGHTS message; keep at most max. */
static unsigned take_fds(struct msghdr *m, int *fds, unsigned max)
{
	unsigned n = 0;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (n < max)
				fds[n++] = fd;
			else
				close(fd);
		}
	}
	return n;
}

long vd_sh_recv(int sock, void *buf, size_t cap, int *fds, unsigned max_fds, unsigned *ret_nfds,
		int flags)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VD_SH_FDS_MAX)];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr m = {.msg_iov = &iov,
			   .msg_iovlen = 1,
			   .msg_control = u.buf,
			   .msg_controllen = sizeof(u.buf)};
	unsigned nfds;
	ssize_t n;

	do
		n = recvmsg(sock, &m, flags | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	nfds = take_fds(&m, fds, max_fds);
	if (n > 0 &&
	    ((size_t)n < sizeof(struct vd_sh_hdr) || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))) {
		vd_sh_close_fds(fds, nfds);
		return -EBADMSG;
	}
	if (n == 0) {
		vd_sh_close_fds(fds, nfds);
		nfds = 0;
	}
	*ret_nfds = nfds;
	return (long)n;
}

void vd_sh_close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}
