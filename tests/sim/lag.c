/* SPDX-License-Identifier: MIT */
#include "lag.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

struct lag *the_lag;

static int lag_fb_create(struct vd_output *out, const struct vd_frame_src *src,
			 struct vd_output_fb **ret)
{
	struct lag *l = (struct lag *)out;
	int r = l->inner->impl->fb_create(l->inner, src, ret);

	for (int i = 0; r >= 0 && src->dmabuf_fd >= 0 && i < LAG_MAX; i++) {
		if (!l->live[i].fb) {
			l->live[i].fb = *ret;
			l->live[i].fd = fcntl(src->dmabuf_fd, F_DUPFD_CLOEXEC, 3);
			break;
		}
	}
	return r;
}

static void lag_fb_destroy(struct vd_output_fb *fb)
{
	struct lag *l = the_lag;

	for (int i = 0; i < LAG_MAX; i++) {
		if (fb && l->live[i].fb == fb) {
			if (l->hold && l->nheld < LAG_MAX)
				l->held[l->nheld++] = l->live[i].fd;
			else
				close(l->live[i].fd);
			l->live[i].fb = NULL;
		}
	}
	l->inner->impl->fb_destroy(fb);
}

void lag_release(struct lag *l)
{
	while (l->nheld)
		close(l->held[--l->nheld]);
}

static void lag_destroy(struct vd_output *out)
{
	struct lag *l = (struct lag *)out;

	lag_release(l);
	for (int i = 0; i < LAG_MAX; i++)
		if (l->live[i].fb)
			close(l->live[i].fd);
	vd_output_destroy(l->inner);
	the_lag = NULL;
	free(l);
}

static int lag_conn_create(struct vd_output *out, const struct vd_output_conn_desc *d,
			   struct vd_output_conn **ret)
{
	struct lag *l = (struct lag *)out;

	return l->inner->impl->conn_create(l->inner, d, ret);
}

static void lag_get_stats(struct vd_output *out, struct vd_output_stats *ret)
{
	struct lag *l = (struct lag *)out;

	l->inner->impl->get_stats(l->inner, ret);
}

static int lag_buffer_alloc(struct vd_output *out, uint64_t size, int *fd, void **map)
{
	struct lag *l = (struct lag *)out;

	return l->inner->impl->buffer_alloc(l->inner, size, fd, map);
}

static void lag_buffer_free(struct vd_output *out, int fd, void *map, uint64_t size)
{
	struct lag *l = (struct lag *)out;

	l->inner->impl->buffer_free(l->inner, fd, map, size);
}

struct vd_output *lag_wrap(struct harness *h, struct vd_output *inner)
{
	struct lag *l = calloc(1, sizeof(*l));

	assert_non_null(l);
	l->inner = inner;
	l->impl = *inner->impl;
	l->impl.destroy = lag_destroy;
	l->impl.conn_create = lag_conn_create;
	l->impl.fb_create = lag_fb_create;
	l->impl.fb_destroy = lag_fb_destroy;
	l->impl.get_stats = lag_get_stats;
	l->impl.buffer_alloc = lag_buffer_alloc;
	l->impl.buffer_free = lag_buffer_free;
	l->base.impl = &l->impl;
	the_lag = l;
	return &l->base;
}
