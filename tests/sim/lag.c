/* SPDX-License-Identifier: MIT */
#include "lag.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#define LAG_VBLANK 2000000u /* 2 kHz, as the e2e tests */

struct lag *the_lag;

struct lag_fb {
	struct vd_output_fb base;
	int fd; /* our reference to the dma-buf, or -1 */
};

static int lag_conn_init(struct vd_output_conn *conn, const struct vd_output_conn_desc *d)
{
	return 0;
}

static void lag_conn_finish(struct vd_output_conn *conn)
{
}

static int lag_fb_init(struct vd_output_fb *base)
{
	struct lag_fb *fb = (struct lag_fb *)base;

	if (!vd_frame_src_valid(&base->src, true))
		return -EINVAL;
	fb->fd = base->src.dmabuf_fd >= 0 ? fcntl(base->src.dmabuf_fd, F_DUPFD_CLOEXEC, 3) : -1;
	return 0;
}

/* The fb goes; its dma-buf stays held while the test says hold. */
static void lag_fb_finish(struct vd_output_fb *base)
{
	struct lag_fb *fb = (struct lag_fb *)base;
	struct lag *l = (struct lag *)base->out;

	if (fb->fd < 0)
		return;
	if (l->hold && l->nheld < LAG_MAX)
		l->held[l->nheld++] = fb->fd;
	else
		close(fb->fd);
}

void lag_release(struct lag *l)
{
	while (l->nheld)
		close(l->held[--l->nheld]);
}

static int lag_buffer_alloc(struct vd_output *out, uint64_t size, int *fd, void **map)
{
	return vd_output_shm_alloc(size, fd, map);
}

static void lag_buffer_free(struct vd_output *out, int fd, void *map, uint64_t size)
{
	vd_output_shm_free(fd, map, size);
}

static void lag_destroy(struct vd_output *out)
{
	struct lag *l = (struct lag *)out;

	lag_release(l);
	vd_output_finish(out);
	the_lag = NULL;
	free(l);
}

struct vd_output *lag_wrap(struct harness *h, struct vd_output *headless)
{
	struct vd_output_opts oo = {.refresh_mhz = LAG_VBLANK};
	struct lag *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	vd_output_destroy(headless);
	l->impl = (struct vd_output_impl){
		.name = "lag",
		.pacing = VD_PACE_TIMER,
		.conn_size = sizeof(struct vd_output_conn),
		.fb_size = sizeof(struct lag_fb),
		.destroy = lag_destroy,
		.conn_init = lag_conn_init,
		.conn_finish = lag_conn_finish,
		.fb_init = lag_fb_init,
		.fb_finish = lag_fb_finish,
		.buffer_alloc = lag_buffer_alloc,
		.buffer_free = lag_buffer_free,
	};
	assert_int_equal(vd_output_init(&l->base, &l->impl, h->loop, &oo), 0);
	the_lag = l;
	return &l->base;
}
