/* SPDX-License-Identifier: MIT */
/*
 * Framebuffers and backend-allocated buffers. A guest fb with a dma-buf
 * whose format the primary plane lists (IN_FORMATS, linear) is imported
 * (PRIME) into a DRM fb: zero copy when it is shown alone and at the
 * mode's size. Anything else, an import the driver refuses, or one whose
 * scan-out it refuses (kms_flip.c), is read through the CPU mapping by the
 * composition. A fb that goes while a plane shows it is removed once the
 * next commit is on screen (kms_flip.c: zombies), never in a blocking commit.
 */
#include "output/kms/kms_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"

/* Dumb buffers for be-alloc: rows of 4096 bytes (1024 pixels at 32 bpp). */
#define BE_ALLOC_WIDTH 1024u

struct kms_fb *kms_fb_from(struct vd_output_fb *fb)
{
	kms_output_from(fb->out);
	return (struct kms_fb *)fb;
}

static void handle_ref(struct kms_output *out, uint32_t handle)
{
	struct kms_handle_ref *h;

	for (h = out->handles; h; h = h->next)
		if (h->handle == handle) {
			h->refs++;
			return;
		}
	h = calloc(1, sizeof(*h));
	if (!h)
		return; /* untracked: closed by the first unref */
	*h = (struct kms_handle_ref){.next = out->handles, .handle = handle, .refs = 1};
	out->handles = h;
}

static void gem_close(int fd, uint32_t handle)
{
	struct drm_gem_close req = {.handle = handle};

	drmIoctl(fd, DRM_IOCTL_GEM_CLOSE, &req);
}

static void handle_unref(struct kms_output *out, uint32_t handle)
{
	struct kms_handle_ref **p, *h;

	for (p = &out->handles; (h = *p); p = &h->next) {
		if (h->handle != handle)
			continue;
		if (--h->refs)
			return;
		*p = h->next;
		free(h);
		break;
	}
	gem_close(out->fd, handle);
}

static bool format_ok(const struct kms_output *out, uint32_t fourcc)
{
	for (uint32_t i = 0; i < out->nheads; i++)
		if (!kms_head_can_scanout(&out->heads[i], fourcc))
			return false;
	return out->nheads > 0;
}

/* Try the zero-copy path; on any refusal the fb stays copy-only (logged once). */
static void try_import(struct kms_output *out, struct kms_fb *fb)
{
	const struct vd_frame_src *s = &fb->base.src;
	uint32_t handles[4] = {0}, pitches[4] = {s->stride}, offsets[4] = {s->offset};
	static bool logged;
	const char *why = "format not on the plane";

	if (!format_ok(out, s->fourcc))
		goto refused;
	why = "PRIME import refused";
	if (drmPrimeFDToHandle(out->fd, s->dmabuf_fd, &handles[0]) < 0)
		goto refused;
	handle_ref(out, handles[0]);
	why = "AddFB2 refused";
	if (drmModeAddFB2(out->fd, s->width, s->height, s->fourcc, handles, pitches, offsets,
			  &fb->fb_id, 0) < 0) {
		handle_unref(out, handles[0]);
		goto refused;
	}
	fb->handle = handles[0];
	return;
refused:
	if (!logged)
		vd_info("kms: guest buffers are copied (%s: %m)", why);
	logged = true;
}

/* The mapping, if any, must cover every visible byte. */
int kms_fb_init(struct vd_output_fb *base)
{
	struct kms_output *out = kms_output_from(base->out);
	struct kms_fb *fb = kms_fb_from(base);
	const struct vd_frame_src *src = &base->src;

	if (!vd_frame_src_valid(src, false))
		return -EINVAL;
	fb->out = out;
	if (src->dmabuf_fd >= 0 && !out->force_copy)
		try_import(out, fb);
	if (!fb->fb_id && !vd_output_fb_map(base))
		return -EINVAL; /* neither scanned out nor readable */
	return 0;
}

void kms_fb_release(struct kms_output *out, uint32_t fb_id, uint32_t handle)
{
	if (fb_id)
		drmModeRmFB(out->fd, fb_id);
	if (handle)
		handle_unref(out, handle);
}

/*
 * No conn shows fb any more (the core blanked them and their heads are
 * kicked). A DRM fb still on a plane until that commit is on screen
 * becomes a zombie: RmFB of a scanned-out fb would turn the plane off in
 * a blocking commit inside the kernel.
 */
void kms_fb_finish(struct vd_output_fb *base)
{
	struct kms_fb *fb = kms_fb_from(base);
	struct kms_output *out = fb->out;
	struct kms_zombie *z;

	if (fb->fb_id && (z = calloc(1, sizeof(*z)))) {
		*z = (struct kms_zombie){.next = out->zombies, .fb_id = fb->fb_id, .handle = fb->handle};
		out->zombies = z;
		kms_zombies_release(out, false);
		return;
	}
	kms_fb_release(out, fb->fb_id, fb->handle);
}

/* A dumb buffer of at least size bytes: its handle, or -errno. */
static int dumb_for(int fd, uint64_t size, uint32_t *ret_handle, uint64_t *ret_offset)
{
	uint64_t rows = (size + BE_ALLOC_WIDTH * 4 - 1) / (BE_ALLOC_WIDTH * 4);
	struct drm_mode_create_dumb req = {.width = BE_ALLOC_WIDTH, .bpp = 32};
	struct drm_mode_map_dumb map = {0};

	if (rows > UINT32_MAX)
		return -E2BIG;
	req.height = (uint32_t)rows;
	if (drmIoctl(fd, DRM_IOCTL_MODE_CREATE_DUMB, &req) < 0)
		return -errno;
	map.handle = req.handle;
	if (req.size < size || drmIoctl(fd, DRM_IOCTL_MODE_MAP_DUMB, &map) < 0) {
		struct drm_mode_destroy_dumb d = {.handle = req.handle};

		drmIoctl(fd, DRM_IOCTL_MODE_DESTROY_DUMB, &d);
		return -ENOMEM;
	}
	*ret_handle = req.handle;
	*ret_offset = map.offset;
	return 0;
}

/*
 * be-alloc: a dumb buffer exported as a dma-buf (*ret_fd, the caller's)
 * and mapped (*ret_map, size bytes). The mapping and the dma-buf hold the
 * buffer; our GEM handle is closed at once.
 */
int kms_buffer_alloc(struct vd_output *base, uint64_t size, int *ret_fd, void **ret_map)
{
	struct kms_output *out = kms_output_from(base);
	struct drm_mode_destroy_dumb d = {0};
	uint64_t offset = 0;
	void *map = MAP_FAILED;
	int fd = -1, r;

	r = dumb_for(out->fd, size, &d.handle, &offset);
	if (r < 0)
		return r;
	if (drmPrimeHandleToFD(out->fd, d.handle, DRM_CLOEXEC | DRM_RDWR, &fd) < 0)
		r = -errno;
	else
		map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, out->fd, (off_t)offset);
	if (r >= 0 && map == MAP_FAILED)
		r = -errno;
	drmIoctl(out->fd, DRM_IOCTL_MODE_DESTROY_DUMB, &d);
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	*ret_fd = fd;
	*ret_map = map;
	return 0;
}

void kms_buffer_free(struct vd_output *base, int fd, void *map, uint64_t size)
{
	if (map)
		munmap(map, size);
	if (fd >= 0)
		close(fd);
}
