/* SPDX-License-Identifier: MIT */
/* The table of outputs: a new output is one more line here. */
#include "output/output_impl.h"

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

const char *vd_output_table_name(size_t i)
{
	return i < sizeof(output_table) / sizeof(output_table[0]) ? output_table[i].name : NULL;
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
	if (need_map ? !s->map && !s->mapper : (!s->map && !s->mapper && s->dmabuf_fd < 0))
		return false;
	row = (uint64_t)s->width * (s->bpp / 8);
	if (s->stride < row)
		return false;
	return (uint64_t)s->offset + (uint64_t)(s->height - 1) * s->stride + row <= s->size;
}

bool vd_rect_clip(const struct vd_rect *r, uint32_t width, uint32_t height,
		  struct vd_rect *ret)
{
	if (!r->width || !r->height || r->x >= width || r->y >= height)
		return false;
	*ret = (struct vd_rect){
		.x = r->x,
		.y = r->y,
		.width = r->width < width - r->x ? r->width : width - r->x,
		.height = r->height < height - r->y ? r->height : height - r->y,
	};
	return true;
}

bool vd_frame_view_of(const struct vd_frame_src *src, const struct vd_rect *r,
		      struct vd_frame_view *ret)
{
	struct vd_rect c;

	if (!src->map || !vd_rect_clip(r, src->width, src->height, &c))
		return false;
	*ret = (struct vd_frame_view){
		.pixels = (const uint8_t *)src->map + src->offset + (size_t)c.y * src->stride +
			  (size_t)c.x * (src->bpp / 8),
		.stride = src->stride,
		.width = c.width,
		.height = c.height,
		.fourcc = src->fourcc,
		.bpp = src->bpp,
	};
	return true;
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
