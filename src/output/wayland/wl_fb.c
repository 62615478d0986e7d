/* SPDX-License-Identifier: MIT */
/*
 * Framebuffers of the Wayland output. A guest fb with a dma-buf whose
 * format the compositor advertised (linear) is offered through
 * zwp_linux_buffer_params_v1.create, the asynchronous request: a refusal
 * is an event (failed), not a protocol error that would end the
 * connection. Until the compositor answers, and if it refuses, frames of
 * that fb are copied into wl_shm buffers.
 */
#include "output/wayland/wl_priv.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <drm_fourcc.h>

#include "linux-dmabuf-unstable-v1-client-protocol.h"
#include "log.h"

struct wlo_fb *wlo_fb_from(struct vd_output_fb *fb)
{
	(void)wlo_output_from(fb->out); /* checks the implementation */
	return (struct wlo_fb *)fb;
}

static void params_created(void *data, struct zwp_linux_buffer_params_v1 *params,
			   struct wl_buffer *buffer)
{
	struct wlo_fb *fb = data;

	zwp_linux_buffer_params_v1_destroy(params);
	fb->params = NULL;
	fb->buffer = buffer;
	fb->import = WLO_IMPORT_OK;
	vd_debug("wayland: fb %ux%u shown zero-copy through linux-dmabuf", fb->base.src.width,
		 fb->base.src.height);
}

static void params_failed(void *data, struct zwp_linux_buffer_params_v1 *params)
{
	struct wlo_fb *fb = data;

	zwp_linux_buffer_params_v1_destroy(params);
	fb->params = NULL;
	fb->import = WLO_IMPORT_FAILED;
	vd_log_rl(LOG_NOTICE, "wayland: the compositor refused a guest dma-buf; copying to wl_shm");
}

static const struct zwp_linux_buffer_params_v1_listener params_listener = {
	.created = params_created,
	.failed = params_failed,
};

void wlo_fb_import(struct wlo_fb *fb)
{
	struct wlo_output *out = fb->out;
	const struct vd_frame_src *s = &fb->base.src;
	uint64_t mod;

	if (fb->dmabuf < 0 || fb->import != WLO_IMPORT_NONE || !out->ready ||
	    !out->linux_dmabuf || out->force_copy ||
	    wlo_dmabuf_modifier(out->dmabuf_formats, out->ndmabuf_formats, s->fourcc, &mod) < 0)
		return;
	fb->params = zwp_linux_dmabuf_v1_create_params(out->linux_dmabuf);
	zwp_linux_buffer_params_v1_add_listener(fb->params, &params_listener, fb);
	zwp_linux_buffer_params_v1_add(fb->params, fb->dmabuf, 0, s->offset, s->stride,
				       (uint32_t)(mod >> 32), (uint32_t)mod);
	zwp_linux_buffer_params_v1_create(fb->params, (int32_t)s->width, (int32_t)s->height,
					  s->fourcc, 0);
	fb->import = WLO_IMPORT_PENDING;
}

void wlo_fb_forget_import(struct wlo_fb *fb)
{
	if (fb->params)
		zwp_linux_buffer_params_v1_destroy(fb->params);
	if (fb->buffer)
		wl_buffer_destroy(fb->buffer);
	fb->params = NULL;
	fb->buffer = NULL;
	fb->import = WLO_IMPORT_NONE;
}

/* The mapping must cover every visible byte: offset + (h-1)*stride + w*bpp/8. */
/* Past 16384 a wl_shm pool or a dma-buf plane is no longer sensible. */
static bool src_valid(const struct vd_frame_src *s)
{
	return vd_frame_src_valid(s, false) && s->width <= 16384 && s->height <= 16384;
}

int wlo_fb_init(struct vd_output_fb *base)
{
	struct wlo_fb *fb = wlo_fb_from(base);
	const struct vd_frame_src *src = &base->src;

	if (!src_valid(src))
		return -EINVAL;
	fb->out = wlo_output_from(base->out);
	fb->dmabuf = -1;
	if (src->dmabuf_fd >= 0) {
		fb->dmabuf = fcntl(src->dmabuf_fd, F_DUPFD_CLOEXEC, 3);
		if (fb->dmabuf < 0)
			return -errno;
	}
	wlo_fb_import(fb);
	return 0;
}

/*
 * The core blanked the connectors showing fb; one whose window still has
 * fb's own wl_buffer attached attaches black first, then the wl_buffer
 * and our dma-buf reference go.
 */
void wlo_fb_finish(struct vd_output_fb *base)
{
	struct wlo_fb *fb = wlo_fb_from(base);
	struct wlo_output *out = fb->out;
	struct vd_output_conn *c;

	vd_output_for_each_conn(c, &out->base)
		wlo_conn_forget_fb((struct wlo_conn *)c, fb);
	wlo_fb_forget_import(fb);
	if (out->display)
		wl_display_flush(out->display);
	if (fb->dmabuf >= 0)
		close(fb->dmabuf);
}

/* be-alloc: shared memory the compositor-facing copy path can read. */
int wlo_buffer_alloc(struct vd_output *base, uint64_t size, int *ret_fd, void **ret_map)
{
	return vd_output_shm_alloc(size, ret_fd, ret_map);
}

void wlo_buffer_free(struct vd_output *base, int fd, void *map, uint64_t size)
{
	vd_output_shm_free(fd, map, size);
}
