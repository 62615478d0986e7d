/* SPDX-License-Identifier: MIT */
/* The table of outputs: a new output is one more line here. */
#include "output/output.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "output/headless.h"
#include "output/kms.h"
#include "output/wayland/wayland.h"

static const struct {
	const char *name;
	int (*create)(sd_event *loop, const struct vd_output_opts *opts,
		      struct vd_output **ret_out);
} output_table[] = {
	{"headless", vd_output_headless_create},
	{"kms", vd_output_kms_create},
	{"wayland", vd_output_wayland_create},
};

int vd_output_create(const char *name, sd_event *loop, const struct vd_output_opts *opts,
		     struct vd_output **ret_out)
{
	for (size_t i = 0; i < sizeof(output_table) / sizeof(output_table[0]); i++)
		if (strcmp(output_table[i].name, name) == 0)
			return output_table[i].create(loop, opts, ret_out);
	return -ENOENT;
}

const char *vd_output_name(size_t i)
{
	return i < sizeof(output_table) / sizeof(output_table[0]) ? output_table[i].name : NULL;
}

void vd_output_destroy(struct vd_output *out)
{
	if (out)
		out->impl->destroy(out);
}

int vd_output_input_source(struct vd_output *out, struct vd_input_source **ret_src)
{
	if (!out->impl->input_source)
		return -EOPNOTSUPP;
	return out->impl->input_source(out, ret_src);
}

int vd_output_conn_layout(struct vd_output_conn *conn, struct vd_rect *ret)
{
	if (!conn->out->impl->conn_layout)
		return -EOPNOTSUPP;
	return conn->out->impl->conn_layout(conn, ret);
}

void vd_output_on_layout_change(struct vd_output *out, void (*fn)(void *userdata),
				void *userdata)
{
	vd_notify_set(&out->layout_changed, fn, userdata);
}

void vd_output_layout_changed(struct vd_output *out)
{
	vd_notify(&out->layout_changed);
}

int vd_output_conn_scanout(struct vd_output_conn *conn, struct vd_scanout *ret)
{
	if (!conn->out->impl->conn_scanout)
		return -EOPNOTSUPP;
	return conn->out->impl->conn_scanout(conn, ret);
}

const char *vd_scanout_path_name(enum vd_scanout_path path)
{
	switch (path) {
	case VD_SCANOUT_PRIMARY: return "primary";
	case VD_SCANOUT_OVERLAY: return "overlay";
	case VD_SCANOUT_COMPOSED: return "composed";
	case VD_SCANOUT_NONE: break;
	}
	return "none";
}

bool vd_frame_src_valid(const struct vd_frame_src *s, bool need_map)
{
	uint64_t row;

	if (!s->width || !s->height || !s->bpp || s->bpp % 8)
		return false;
	if (need_map ? !s->map : (!s->map && s->dmabuf_fd < 0))
		return false;
	row = (uint64_t)s->width * (s->bpp / 8);
	if (s->stride < row)
		return false;
	return (uint64_t)s->offset + (uint64_t)(s->height - 1) * s->stride + row <= s->size;
}

bool vd_rect_within(const struct vd_rect *r, uint32_t width, uint32_t height)
{
	return r->width && r->height && (uint64_t)r->x + r->width <= width &&
	       (uint64_t)r->y + r->height <= height;
}

int vd_output_shm_alloc(uint64_t size, int *ret_fd, void **ret_map)
{
	int fd = memfd_create("vdispld-be-alloc", MFD_CLOEXEC);
	void *map;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -ENOMEM;
	}
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		close(fd);
		return -ENOMEM;
	}
	*ret_fd = fd;
	*ret_map = map;
	return 0;
}

void vd_output_shm_free(int fd, void *map, uint64_t size)
{
	if (map)
		munmap(map, size);
	if (fd >= 0)
		close(fd);
}
