/* SPDX-License-Identifier: MIT */
/*
 * Heads: the connected physical connectors, each with a CRTC, its
 * primary plane and the overlay planes of that CRTC no other head has,
 * found at start-up. A head is enabled (modeset, blocking)
 * when its first virtual connector arrives, and put back the way we found
 * it at destroy ("gives the display back cleanly").
 *
 * A display connected later (a uevent: kms_hotplug.c) becomes a head the
 * same way, appended: right of the others in the screen coordinates, so
 * the heads already there keep theirs. It takes the virtual connectors
 * that belong there (kms_head_claim in kms_conn.c), which enables it.
 * A connector with no free CRTC or primary plane is not tried again.
 */
#include "output/kms/kms_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static void head_release_bufs(struct kms_head *head);

static uint32_t plane_type(int fd, uint32_t plane)
{
	drmModeObjectProperties *props = drmModeObjectGetProperties(fd, plane, DRM_MODE_OBJECT_PLANE);
	uint32_t type = UINT32_MAX;

	if (!props)
		return type;
	for (uint32_t i = 0; i < props->count_props; i++) {
		drmModePropertyRes *p = drmModeGetProperty(fd, props->props[i]);

		if (p && strcmp(p->name, "type") == 0)
			type = (uint32_t)props->prop_values[i];
		drmModeFreeProperty(p);
	}
	drmModeFreeObjectProperties(props);
	return type;
}

/* Copy the plane's IN_FORMATS blob (or its plain format list). */
static void read_formats(struct kms_plane *pl, int fd, drmModePlane *plane)
{
	drmModeObjectProperties *props = drmModeObjectGetProperties(fd, plane->plane_id,
								    DRM_MODE_OBJECT_PLANE);
	uint32_t in_formats = kms_prop_id(fd, plane->plane_id, DRM_MODE_OBJECT_PLANE, "IN_FORMATS");

	for (uint32_t i = 0; props && in_formats && i < props->count_props; i++) {
		drmModePropertyBlobRes *b;

		if (props->props[i] != in_formats)
			continue;
		b = drmModeGetPropertyBlob(fd, (uint32_t)props->prop_values[i]);
		if (b && (pl->in_formats = malloc(b->length)))
			memcpy(pl->in_formats, b->data, pl->in_formats_len = b->length);
		drmModeFreePropertyBlob(b);
	}
	drmModeFreeObjectProperties(props);
	pl->formats = calloc(plane->count_formats ? plane->count_formats : 1, sizeof(uint32_t));
	if (pl->formats) {
		memcpy(pl->formats, plane->formats, plane->count_formats * sizeof(uint32_t));
		pl->nformats = plane->count_formats;
	}
}

bool kms_plane_can_scanout(const struct kms_plane *plane, uint32_t fourcc)
{
	if (plane->in_formats)
		return vd_kms_in_formats_has(plane->in_formats, plane->in_formats_len, fourcc,
					     VD_KMS_MOD_LINEAR);
	for (uint32_t i = 0; i < plane->nformats; i++)
		if (plane->formats[i] == fourcc)
			return true;
	return false;
}

bool kms_head_can_scanout(const struct kms_head *head, uint32_t fourcc)
{
	return kms_plane_can_scanout(&head->primary, fourcc);
}

/* The plane's properties and formats. */
static void plane_init(struct kms_plane *pl, int fd, drmModePlane *plane)
{
	struct kms_plane_props *pp = &pl->pp;
	uint32_t p = plane->plane_id, t = DRM_MODE_OBJECT_PLANE;

	pl->id = p;
	pp->fb_id = kms_prop_id(fd, p, t, "FB_ID");
	pp->crtc_id = kms_prop_id(fd, p, t, "CRTC_ID");
	pp->src_x = kms_prop_id(fd, p, t, "SRC_X");
	pp->src_y = kms_prop_id(fd, p, t, "SRC_Y");
	pp->src_w = kms_prop_id(fd, p, t, "SRC_W");
	pp->src_h = kms_prop_id(fd, p, t, "SRC_H");
	pp->crtc_x = kms_prop_id(fd, p, t, "CRTC_X");
	pp->crtc_y = kms_prop_id(fd, p, t, "CRTC_Y");
	pp->crtc_w = kms_prop_id(fd, p, t, "CRTC_W");
	pp->crtc_h = kms_prop_id(fd, p, t, "CRTC_H");
	read_formats(pl, fd, plane);
}

static void plane_free(struct kms_plane *pl)
{
	free(pl->formats);
	free(pl->in_formats);
	*pl = (struct kms_plane){0};
}

static bool head_uses_crtc(const struct kms_output *out, uint32_t crtc)
{
	for (uint32_t i = 0; i < out->nheads; i++)
		if (out->heads[i].crtc_id == crtc)
			return true;
	return false;
}

static bool head_uses_plane(const struct kms_output *out, uint32_t plane)
{
	for (uint32_t i = 0; i < out->nheads; i++) {
		const struct kms_head *h = &out->heads[i];

		if (h->primary.id == plane)
			return true;
		for (uint32_t k = 0; k < h->noverlays; k++)
			if (h->overlays[k].id == plane)
				return true;
	}
	return false;
}

/* The primary plane of CRTC index ci not taken by another head. */
static int find_plane(struct kms_output *out, struct kms_head *head, uint32_t ci)
{
	drmModePlaneRes *pr = drmModeGetPlaneResources(out->fd);
	int r = -ENOENT;

	for (uint32_t i = 0; pr && i < pr->count_planes && r < 0; i++) {
		drmModePlane *p = drmModeGetPlane(out->fd, pr->planes[i]);

		if (p && (p->possible_crtcs & (1u << ci)) && !head_uses_plane(out, p->plane_id) &&
		    plane_type(out->fd, p->plane_id) == DRM_PLANE_TYPE_PRIMARY) {
			head->saved.fb_id = p->fb_id;
			plane_init(&head->primary, out->fd, p);
			head->crtc_index = ci;
			r = 0;
		}
		drmModeFreePlane(p);
	}
	drmModeFreePlaneResources(pr);
	return r;
}

/*
 * Claim the overlay planes of the head's CRTC that no head has (at most one
 * per connector the head can carry), in the driver's plane order. An
 * overlay we claim is off until a commit of ours puts a guest on it.
 */
static void claim_overlays(struct kms_output *out, struct kms_head *head)
{
	drmModePlaneRes *pr = drmModeGetPlaneResources(out->fd);

	for (uint32_t i = 0; pr && i < pr->count_planes; i++) {
		drmModePlane *p;

		if (head->noverlays == KMS_MAX_CONNS_PER_HEAD)
			break;
		p = drmModeGetPlane(out->fd, pr->planes[i]);
		if (p && (p->possible_crtcs & (1u << head->crtc_index)) &&
		    !head_uses_plane(out, p->plane_id) &&
		    plane_type(out->fd, p->plane_id) == DRM_PLANE_TYPE_OVERLAY)
			plane_init(&head->overlays[head->noverlays++], out->fd, p);
		drmModeFreePlane(p);
	}
	drmModeFreePlaneResources(pr);
	if (head->noverlays)
		vd_info("kms: display %s: %u overlay plane(s) for guests on rectangles",
			head->name, head->noverlays);
}

/* The CRTC the connector is on now, 0 if none. */
static uint32_t current_crtc(int fd, const drmModeConnector *c)
{
	drmModeEncoder *e = c->encoder_id ? drmModeGetEncoder(fd, c->encoder_id) : NULL;
	uint32_t crtc = e ? e->crtc_id : 0;

	drmModeFreeEncoder(e);
	return crtc;
}

/* A free CRTC the connector can drive, preferring the one it is on; index in ret_idx. */
static uint32_t find_crtc(struct kms_output *out, const drmModeRes *res, const drmModeConnector *c,
			  uint32_t *ret_idx)
{
	uint32_t cur = current_crtc(out->fd, c), possible = 0;

	for (int i = 0; i < c->count_encoders; i++) {
		drmModeEncoder *e = drmModeGetEncoder(out->fd, c->encoders[i]);

		possible |= e ? e->possible_crtcs : 0;
		drmModeFreeEncoder(e);
	}
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < res->count_crtcs && i < 32; i++) {
			uint32_t id = res->crtcs[i];

			if (!(possible & (1u << i)) || head_uses_crtc(out, id) ||
			    (pass == 0 && id != cur))
				continue;
			*ret_idx = (uint32_t)i;
			return id;
		}
	return 0;
}

/* A copy of the connector's EDID property (the display's own), if it has one. */
static void read_edid(struct kms_head *head, int fd)
{
	drmModeObjectProperties *props =
		drmModeObjectGetProperties(fd, head->conn_id, DRM_MODE_OBJECT_CONNECTOR);
	uint32_t id = kms_prop_id(fd, head->conn_id, DRM_MODE_OBJECT_CONNECTOR, "EDID");

	free(head->edid);
	head->edid = NULL;
	head->edid_len = 0;
	for (uint32_t i = 0; props && id && i < props->count_props; i++) {
		drmModePropertyBlobRes *b;

		if (props->props[i] != id || !props->prop_values[i])
			continue;
		b = drmModeGetPropertyBlob(fd, (uint32_t)props->prop_values[i]);
		if (b && b->length && (head->edid = malloc(b->length)))
			memcpy(head->edid, b->data, head->edid_len = b->length);
		drmModeFreePropertyBlob(b);
	}
	drmModeFreeObjectProperties(props);
}

static void save_crtc(struct kms_head *head, int fd)
{
	drmModeCrtc *crtc = drmModeGetCrtc(fd, head->crtc_id);

	if (!crtc)
		return;
	head->saved.mode = crtc->mode;
	head->saved.mode_valid = crtc->mode_valid;
	head->saved.valid = true;
	drmModeFreeCrtc(crtc);
}

/* The mode for a width x height picture; 0 x 0: the preferred mode. */
static const drmModeModeInfo *pick_mode(const struct kms_head *head, uint32_t width,
					uint32_t height)
{
	struct vd_kms_mode m[64];
	uint32_t n = head->nmodes < 64 ? head->nmodes : 64;
	int i;

	for (uint32_t k = 0; k < n; k++)
		m[k] = (struct vd_kms_mode){
			.width = head->modes[k].hdisplay,
			.height = head->modes[k].vdisplay,
			.refresh_mhz = head->modes[k].vrefresh * 1000u,
			.preferred = head->modes[k].type & DRM_MODE_TYPE_PREFERRED,
		};
	i = vd_kms_mode_pick(m, n, width, height);
	return &head->modes[i < 0 ? 0 : i];
}

/* The connector's modes (count_modes > 0) and the preferred size. */
static int set_modes(struct kms_head *head, const drmModeConnector *c)
{
	drmModeModeInfo *modes = calloc((size_t)c->count_modes, sizeof(*modes));

	if (!modes)
		return -ENOMEM;
	memcpy(modes, c->modes, (size_t)c->count_modes * sizeof(*modes));
	free(head->modes);
	head->modes = modes;
	head->nmodes = (uint32_t)c->count_modes;
	head->pref_w = pick_mode(head, 0, 0)->hdisplay;
	head->pref_h = pick_mode(head, 0, 0)->vdisplay;
	return 0;
}

static int head_init(struct kms_output *out, const drmModeRes *res, drmModeConnector *c)
{
	struct kms_head *head = &out->heads[out->nheads];
	uint32_t ci = 0;

	*head = (struct kms_head){.out = out, .conn_id = c->connector_id};
	snprintf(head->name, sizeof(head->name), "%s-%u",
		 drmModeGetConnectorTypeName(c->connector_type) ?: "Unknown", c->connector_type_id);
	head->crtc_id = find_crtc(out, res, c, &ci);
	if (!head->crtc_id || find_plane(out, head, ci) < 0) {
		vd_warn("kms: %s: no free CRTC/primary plane, not used", head->name);
		return -ENOENT;
	}
	head->saved.conn_crtc = current_crtc(out->fd, c);
	save_crtc(head, out->fd);
	if (set_modes(head, c) < 0)
		return -ENOMEM;
	head->prop_conn_crtc = kms_prop_id(out->fd, c->connector_id, DRM_MODE_OBJECT_CONNECTOR,
					   "CRTC_ID");
	head->prop_mode_id = kms_prop_id(out->fd, head->crtc_id, DRM_MODE_OBJECT_CRTC, "MODE_ID");
	head->prop_active = kms_prop_id(out->fd, head->crtc_id, DRM_MODE_OBJECT_CRTC, "ACTIVE");
	read_edid(head, out->fd);
	out->nheads++;
	vd_info("kms: display %s: %u modes, preferred %ux%u, CRTC %u, plane %u, EDID %zu bytes",
		head->name, head->nmodes, head->pref_w, head->pref_h, head->crtc_id,
		head->primary.id, head->edid_len);
	return 0;
}

static void head_free(struct kms_head *head)
{
	free(head->modes);
	plane_free(&head->primary);
	for (uint32_t k = 0; k < head->noverlays; k++)
		plane_free(&head->overlays[k]);
	head->noverlays = 0;
	free(head->edid);
	head->edid = NULL;
	head->modes = NULL;
}

static bool has_head(const struct kms_output *out, uint32_t conn_id)
{
	for (uint32_t i = 0; i < out->nheads; i++)
		if (out->heads[i].conn_id == conn_id)
			return true;
	for (uint32_t i = 0; i < out->nrefused; i++)
		if (out->refused[i] == conn_id)
			return true;
	return false;
}

/* head_init for the connector, or remember that it cannot have a head. */
static int head_try(struct kms_output *out, const drmModeRes *res, drmModeConnector *c)
{
	int r = head_init(out, res, c);

	if (r < 0) {
		head_free(&out->heads[out->nheads]);
		if (r == -ENOENT && out->nrefused < KMS_MAX_HEADS)
			out->refused[out->nrefused++] = c->connector_id;
	}
	return r;
}

/* The heads side by side in their order, each as wide as its preferred mode. */
static void desk_layout(struct kms_output *out)
{
	for (uint32_t i = 1; i < out->nheads; i++)
		out->heads[i].desk_x = out->heads[i - 1].desk_x + out->heads[i - 1].pref_w;
	kms_layout_changed(out);
}

int kms_heads_init(struct kms_output *out)
{
	drmModeRes *res = drmModeGetResources(out->fd);
	int r = 0;

	if (!res)
		return -errno ? -errno : -ENODEV;
	for (int i = 0; i < res->count_connectors && out->nheads < KMS_MAX_HEADS && r != -ENOMEM;
	     i++) {
		drmModeConnector *c = drmModeGetConnector(out->fd, res->connectors[i]);

		if (c && c->connection == DRM_MODE_CONNECTED && c->count_modes > 0)
			r = head_try(out, res, c);
		drmModeFreeConnector(c);
	}
	drmModeFreeResources(res);
	if (r == -ENOMEM)
		return r;
	for (uint32_t i = 0; i < out->nheads; i++)
		claim_overlays(out, &out->heads[i]);
	desk_layout(out);
	if (out->nheads == 0) {
		vd_err("kms: no connected display");
		return -ENODEV;
	}
	return 0;
}

void kms_plane_set(drmModeAtomicReq *req, const struct kms_plane *plane, uint32_t crtc,
		   uint32_t fb, const struct vd_rect *src, const struct vd_rect *dst)
{
	const struct kms_plane_props *pp = &plane->pp;
	uint32_t p = plane->id;

	drmModeAtomicAddProperty(req, p, pp->fb_id, fb);
	drmModeAtomicAddProperty(req, p, pp->crtc_id, fb ? crtc : 0);
	drmModeAtomicAddProperty(req, p, pp->src_x, (uint64_t)src->x << 16);
	drmModeAtomicAddProperty(req, p, pp->src_y, (uint64_t)src->y << 16);
	drmModeAtomicAddProperty(req, p, pp->src_w, (uint64_t)src->width << 16);
	drmModeAtomicAddProperty(req, p, pp->src_h, (uint64_t)src->height << 16);
	drmModeAtomicAddProperty(req, p, pp->crtc_x, dst->x);
	drmModeAtomicAddProperty(req, p, pp->crtc_y, dst->y);
	drmModeAtomicAddProperty(req, p, pp->crtc_w, dst->width);
	drmModeAtomicAddProperty(req, p, pp->crtc_h, dst->height);
}

/* Add the plane showing the part src of fb over the whole mode. */
void kms_head_plane_full(drmModeAtomicReq *req, const struct kms_head *head, uint32_t fb,
			 const struct vd_rect *src)
{
	struct vd_rect dst = {0, 0, head->mode.hdisplay, head->mode.vdisplay};

	kms_plane_set(req, &head->primary, head->crtc_id, fb, src, &dst);
}

void kms_head_overlays_off(drmModeAtomicReq *req, struct kms_head *head)
{
	for (uint32_t k = 0; k < head->noverlays; k++) {
		drmModeAtomicAddProperty(req, head->overlays[k].id, head->overlays[k].pp.fb_id, 0);
		drmModeAtomicAddProperty(req, head->overlays[k].id, head->overlays[k].pp.crtc_id, 0);
		head->overlay_fb[k] = 0;
	}
}

/*
 * A modeset, switching a display off or giving it back: the only commits
 * that wait for the display (a vblank or two), counted for the exit line.
 * None of them is ever caused by a guest's request after its connector is
 * placed: frames and fbs going off the screen never wait.
 */
int kms_commit_blocking(struct kms_output *out, drmModeAtomicReq *req)
{
	out->blocking_commits++;
	return drmModeAtomicCommit(out->fd, req, DRM_MODE_ATOMIC_ALLOW_MODESET, NULL) < 0 ? -errno
											  : 0;
}

static int modeset(struct kms_head *head)
{
	drmModeAtomicReq *req = drmModeAtomicAlloc();
	int r;

	if (!req)
		return -ENOMEM;
	drmModeAtomicAddProperty(req, head->conn_id, head->prop_conn_crtc, head->crtc_id);
	drmModeAtomicAddProperty(req, head->crtc_id, head->prop_mode_id, head->mode_blob);
	drmModeAtomicAddProperty(req, head->crtc_id, head->prop_active, 1);
	kms_head_plane_full(req, head, head->bufs[0].fb_id,
			    &(struct vd_rect){0, 0, head->bufs[0].width, head->bufs[0].height});
	kms_head_overlays_off(req, head);
	r = kms_commit_blocking(head->out, req);
	drmModeAtomicFree(req);
	return r;
}

/*
 * Modeset for a first virtual connector of width x height (0 x 0: placed
 * by a rectangle, which is in the preferred mode's coordinates); blocking,
 * no event.
 */
int kms_head_enable(struct kms_head *head, uint32_t width, uint32_t height)
{
	int fd = head->out->fd, r;

	head->mode = *pick_mode(head, width, height);
	r = drmModeCreatePropertyBlob(fd, &head->mode, sizeof(head->mode), &head->mode_blob);
	if (r < 0)
		return -errno;
	for (uint32_t i = 0; i < KMS_NBUF; i++) {
		r = kms_dumb_create(fd, head->mode.hdisplay, head->mode.vdisplay, true,
				    &head->bufs[i]);
		if (r < 0)
			return r;
	}
	r = modeset(head);
	if (r < 0)
		return r;
	head->shown_fb = head->bufs[0].fb_id;
	head->back = 1;
	head->enabled = true;
	kms_head_layout(head);
	vd_info("kms: %s: mode %ux%u@%u for %ux%u", head->name, head->mode.hdisplay,
		head->mode.vdisplay, head->mode.vrefresh, width, height);
	return 0;
}

/* The state we found: the old mode and fb, or off. */
static void add_saved(drmModeAtomicReq *req, struct kms_head *head, uint32_t blob)
{
	struct kms_saved *s = &head->saved;
	bool on = s->valid && s->mode_valid && s->conn_crtc == head->crtc_id && blob;
	struct vd_rect src = {0, 0, on ? s->mode.hdisplay : 0, on ? s->mode.vdisplay : 0};

	drmModeAtomicAddProperty(req, head->conn_id, head->prop_conn_crtc, on ? head->crtc_id : 0);
	drmModeAtomicAddProperty(req, head->crtc_id, head->prop_mode_id, on ? blob : 0);
	drmModeAtomicAddProperty(req, head->crtc_id, head->prop_active, on);
	kms_head_plane_full(req, head, on ? s->fb_id : 0, &src);
	kms_head_overlays_off(req, head);
}

static int restore_one(struct kms_head *head, bool off)
{
	struct kms_saved *s = &head->saved;
	drmModeAtomicReq *req = drmModeAtomicAlloc();
	uint32_t blob = 0;
	int r;

	if (!req)
		return -ENOMEM;
	if (!off && s->valid && s->mode_valid && s->fb_id)
		drmModeCreatePropertyBlob(head->out->fd, &s->mode, sizeof(s->mode), &blob);
	add_saved(req, head, blob);
	r = kms_commit_blocking(head->out, req);
	drmModeAtomicFree(req);
	if (blob)
		drmModeDestroyPropertyBlob(head->out->fd, blob);
	return r;
}

/* Put back what each enabled head showed before; if that is gone, switch it off. */
void kms_heads_restore(struct kms_output *out)
{
	for (uint32_t i = 0; i < out->nheads; i++) {
		struct kms_head *head = &out->heads[i];

		if (!head->enabled)
			continue;
		kms_head_wait_idle(head);
		if (restore_one(head, false) < 0 && restore_one(head, true) < 0)
			vd_warn("kms: %s: cannot restore the display: %m", head->name);
		head->enabled = false;
	}
}

void kms_heads_finish(struct kms_output *out)
{
	for (uint32_t i = 0; i < out->nheads; i++) {
		struct kms_head *head = &out->heads[i];

		head_release_bufs(head);
		head->retry = sd_event_source_disable_unref(head->retry);
		head_free(head);
	}
}

/* ---- hotplug ---- */

bool kms_head_probe(struct kms_head *head)
{
	drmModeConnector *c = drmModeGetConnector(head->out->fd, head->conn_id);
	bool connected = c && c->connection == DRM_MODE_CONNECTED && c->count_modes > 0;

	if (connected && set_modes(head, c) == 0)
		read_edid(head, head->out->fd);
	drmModeFreeConnector(c);
	return connected;
}

/* Switch the head off: connector, CRTC and plane. Blocking. */
static int head_off(struct kms_head *head)
{
	drmModeAtomicReq *req = drmModeAtomicAlloc();
	int r;

	if (!req)
		return -ENOMEM;
	drmModeAtomicAddProperty(req, head->conn_id, head->prop_conn_crtc, 0);
	drmModeAtomicAddProperty(req, head->crtc_id, head->prop_mode_id, 0);
	drmModeAtomicAddProperty(req, head->crtc_id, head->prop_active, 0);
	kms_head_plane_full(req, head, 0, &(struct vd_rect){0, 0, 0, 0});
	kms_head_overlays_off(req, head);
	r = kms_commit_blocking(head->out, req);
	drmModeAtomicFree(req);
	return r;
}

/* The display went away: off, and the guests' flips complete blind until it is back. */
void kms_head_unplug(struct kms_head *head)
{
	int r = head->enabled ? head_off(head) : 0;

	vd_notice("kms: %s: display unplugged; its %u connector(s) flip blind until it is back%s%s",
		  head->name, head->nconns, r < 0 ? "; switching it off failed: " : "",
		  r < 0 ? strerror(-r) : "");
	head->unplugged = true;
	head->enabled = false;
	head->shown_fb = 0;
	memset(head->overlay_fb, 0, sizeof(head->overlay_fb));
	kms_layout_changed(head->out); /* its conns are on no display now */
	kms_head_update_blind(head);
	kms_zombies_release(head->out, false);
}

static void head_release_bufs(struct kms_head *head)
{
	for (uint32_t b = 0; b < KMS_NBUF; b++)
		kms_dumb_destroy(head->out->fd, &head->bufs[b]);
	if (head->mode_blob)
		drmModeDestroyPropertyBlob(head->out->fd, head->mode_blob);
	head->mode_blob = 0;
}

/* The display is back: a modeset by the same rule as the first, and the picture. */
void kms_head_replug(struct kms_head *head)
{
	struct kms_output *out = head->out;
	bool placed = false;
	int r;

	head->unplugged = false;
	head->broken = false;
	desk_layout(out);
	vd_notice("kms: %s: display plugged back", head->name);
	if (!head->nconns)
		return; /* enabled when a connector arrives */
	for (uint32_t i = 0; i < head->nconns; i++)
		placed |= head->conns[i]->placed || head->conns[i]->want.width;
	head_release_bufs(head);
	r = placed ? kms_head_enable(head, 0, 0)
		   : kms_head_enable(head, head->conns[0]->base.desc.width, head->conns[0]->base.desc.height);
	if (r < 0) {
		vd_err("kms: %s: cannot set a mode after replug: %s; its guests flip blind",
		       head->name, strerror(-r));
		head->broken = true;
		kms_layout_changed(out);
	}
	kms_head_invalidate(head);
	kms_head_update_blind(head);
	kms_head_kick(head);
}

/* A new head: its place right of the others, the conns that belong there, one line. */
static void head_connected(struct kms_head *head, uint64_t t_event)
{
	const drmModeModeInfo *m;
	uint32_t n;

	desk_layout(head->out);
	head->t_connected = t_event;
	n = kms_head_claim(head);
	m = head->enabled ? &head->mode : pick_mode(head, 0, 0);
	vd_notice("kms: %s: display connected: %ux%u@%u, %u connector(s)%s, at %u,0 of the "
		  "screen; %.1f ms after the uevent",
		  head->name, m->hdisplay, m->vdisplay, m->vrefresh, n,
		  head->enabled ? "" : (n ? " (no mode: they flip blind)" : " (off until one arrives)"),
		  head->desk_x, (double)(vd_now_us() - t_event) / 1000.0);
}

void kms_heads_add_new(struct kms_output *out, uint64_t t_event)
{
	drmModeRes *res = drmModeGetResources(out->fd);

	for (int i = 0; res && i < res->count_connectors && out->nheads < KMS_MAX_HEADS; i++) {
		drmModeConnector *c;

		if (has_head(out, res->connectors[i]))
			continue;
		c = drmModeGetConnector(out->fd, res->connectors[i]);
		if (c && c->connection == DRM_MODE_CONNECTED && c->count_modes > 0 &&
		    head_try(out, res, c) == 0) {
			claim_overlays(out, &out->heads[out->nheads - 1]);
			head_connected(&out->heads[out->nheads - 1], t_event);
		}
		drmModeFreeConnector(c);
	}
	drmModeFreeResources(res);
}
