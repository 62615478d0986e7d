/* SPDX-License-Identifier: MIT */
/*
 * Virtual connectors on heads. A connector goes on the display its
 * target names ("HDMI-A-1", the guest's unique-id), else on the first
 * display nobody uses, else it shares the display with the fewest
 * connectors, side by side (vd_kms_layout_cell).
 */
#include "output/kms/kms_priv.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "output/png.h"

/* kms_output_from checks the output's impl: a connector of another output is caught. */
static struct kms_conn *kms_conn_from(struct vd_output_conn *conn)
{
	kms_output_from(conn->out);
	return (struct kms_conn *)conn;
}

static struct kms_head *head_by_name(struct kms_output *out, const char *name)
{
	for (uint32_t i = 0; name && i < out->nheads; i++)
		if (strcmp(out->heads[i].name, name) == 0 &&
		    out->heads[i].nconns < KMS_MAX_CONNS_PER_HEAD)
			return &out->heads[i];
	return NULL;
}

static struct kms_head *head_pick(struct kms_output *out, const char *target)
{
	struct kms_head *best = head_by_name(out, target);

	if (best)
		return best;
	for (uint32_t i = 0; i < out->nheads; i++) {
		struct kms_head *h = &out->heads[i];

		if (h->nconns < KMS_MAX_CONNS_PER_HEAD && (!best || h->nconns < best->nconns))
			best = h;
	}
	return best;
}

static void head_add(struct kms_head *head, struct kms_conn *conn)
{
	int r;

	if (!head->enabled && !head->broken) {
		r = kms_head_enable(head, conn->desc.width, conn->desc.height);
		if (r < 0) {
			vd_err("kms: %s: cannot set a mode: %s; its guests flip blind", head->name,
			       strerror(-r));
			head->broken = true;
		}
	}
	head->conns[head->nconns++] = conn;
	conn->head = head;
	kms_head_invalidate(head);
	kms_head_kick(head);
}

static void head_remove(struct kms_head *head, struct kms_conn *conn)
{
	uint32_t i = 0;

	while (i < head->nconns && head->conns[i] != conn)
		i++;
	assert(i < head->nconns);
	memmove(&head->conns[i], &head->conns[i + 1],
		(head->nconns - i - 1) * sizeof(head->conns[0]));
	head->nconns--;
	kms_head_invalidate(head);
	kms_head_kick(head);
}

int kms_conn_create(struct vd_output *base, const struct vd_output_conn_desc *desc,
		    struct vd_output_conn **ret_conn)
{
	struct kms_output *out = kms_output_from(base);
	/* A rectangle mapping ("X,Y,WxH") names no head: the default placement, for now. */
	struct kms_head *head = head_pick(out, desc->mapping ? desc->mapping : desc->target);
	struct kms_conn *conn;

	if (!desc->name || !desc->flip_done || !desc->width || !desc->height)
		return -EINVAL;
	if (!head)
		return -ENOSPC;
	conn = calloc(1, sizeof(*conn));
	if (!conn)
		return -ENOMEM;
	conn->name = strdup(desc->name);
	if (!conn->name) {
		free(conn);
		return -ENOMEM;
	}
	conn->base.out = base;
	conn->out = out;
	conn->desc = *desc;
	conn->desc.name = conn->name;
	conn->desc.target = NULL;
	conn->desc.mapping = NULL;
	conn->rect = conn->cfg = (struct vd_rect){0, 0, desc->width, desc->height};
	conn->seq = 1;
	conn->next = out->conns;
	if (out->conns)
		out->conns->pprev = &conn->next;
	conn->pprev = &out->conns;
	out->conns = conn;
	vd_info("kms: %s on %s", conn->name, head->name);
	head_add(head, conn);
	*ret_conn = &conn->base;
	return 0;
}

void kms_conn_free(struct kms_conn *conn)
{
	free(conn->name);
	free(conn);
}

/* Pending flips are dropped without flip_done; the others on the head are redrawn. */
void kms_conn_destroy(struct vd_output_conn *base)
{
	struct kms_conn *conn;

	if (!base)
		return;
	conn = kms_conn_from(base);
	kms_conn_drop_flips(conn);
	head_remove(conn->head, conn);
	if (conn->next)
		conn->next->pprev = conn->pprev;
	*conn->pprev = conn->next;
	conn->destroyed = true;
	if (!conn->dispatching)
		kms_conn_free(conn);
}

/* Shown with the next commit (at once if none is in flight); no flip_done. */
int kms_conn_set_config(struct vd_output_conn *base, struct vd_output_fb *fb_base,
			const struct vd_rect *r)
{
	struct kms_conn *conn = kms_conn_from(base);
	struct kms_fb *fb = fb_base ? kms_fb_from(fb_base) : NULL;
	struct vd_rect whole;

	if (fb) {
		whole = (struct vd_rect){0, 0, fb->src.width, fb->src.height};
		if (!r)
			r = &whole;
		if (!vd_rect_within(r, fb->src.width, fb->src.height))
			return -EINVAL;
		conn->rect = conn->cfg = *r;
	}
	conn->fb = fb;
	conn->seq++;
	conn->head->dirty = true;
	kms_head_kick(conn->head);
	return 0;
}

int kms_conn_flip(struct vd_output_conn *base, struct vd_output_fb *fb_base, uint64_t token)
{
	struct kms_conn *conn = kms_conn_from(base);
	struct kms_flip *flip, **tail;

	if (!fb_base)
		return -EINVAL;
	flip = calloc(1, sizeof(*flip));
	if (!flip)
		return -ENOMEM;
	*flip = (struct kms_flip){
		.conn = conn,
		.fb = kms_fb_from(fb_base),
		.rect = conn->cfg,
		.token = token,
		.t_req = vd_now_us(),
	};
	for (tail = &conn->q; *tail; tail = &(*tail)->next)
		;
	*tail = flip;
	conn->out->stats.flips++;
	kms_head_kick(conn->head);
	return 0;
}

/* What the guest's buffer holds for the shown rectangle (the CPU view). */
int kms_conn_screenshot(struct vd_output_conn *base, const char *path)
{
	struct kms_conn *conn = kms_conn_from(base);
	const struct vd_frame_src *s;
	struct vd_frame_view view;

	if (!conn->fb || !conn->fb->src.map)
		return -ENODATA;
	s = &conn->fb->src;
	view = (struct vd_frame_view){
		.pixels = (const uint8_t *)s->map + s->offset + (size_t)conn->rect.y * s->stride +
			  (size_t)conn->rect.x * (s->bpp / 8),
		.stride = s->stride,
		.width = conn->rect.width,
		.height = conn->rect.height,
		.fourcc = s->fourcc,
		.bpp = s->bpp,
	};
	return vd_png_write(path, &view);
}

/*
 * The cell the composition gives the connector, narrowed to its picture
 * (centred, as kms_compose draws it). Displays sit side by side in
 * layout space, in the order the output found them.
 */
int kms_conn_placement(struct vd_output_conn *base, struct vd_rect *ret)
{
	struct kms_conn *conn = kms_conn_from(base);
	struct kms_head *head = conn->head;
	struct vd_rect cell, src, dst;
	uint32_t x0 = 0, i;

	if (!head || !head->enabled)
		return -ENODATA;
	for (i = 0; i < head->nconns && head->conns[i] != conn; i++)
		;
	if (i == head->nconns)
		return -ENODATA;
	for (struct kms_head *h = conn->out->heads; h < head; h++)
		x0 += h->enabled ? h->mode.hdisplay : 0;
	cell = vd_kms_layout_cell(head->mode.hdisplay, head->mode.vdisplay, head->nconns, i);
	if (vd_kms_fit(&cell, conn->rect.width, conn->rect.height, false, &src, &dst))
		cell = dst;
	cell.x += x0;
	*ret = cell;
	return 0;
}
