/* SPDX-License-Identifier: MIT */
/*
 * Virtual connectors on heads. The guest's configuration decides first
 * (connector.N, desc->mapping): a display by name ("HDMI-A-1"), or a
 * rectangle "X,Y,WxH" of the screen coordinates (the displays side by
 * side, each as wide as its preferred mode; vd_kms_desktop_locate),
 * clipped to the display's mode. Else the display the guest's unique-id
 * names (desc->target), else the first display nobody uses, else the one
 * with the fewest connectors. Connectors without a rectangle share what
 * is left side by side (vd_kms_layout_cell). A mapping that cannot be
 * honoured is logged, naming it, and the connector is placed by default.
 *
 * A display that is not connected yet is no exception: the connector
 * mapped to it (by name, by a rectangle right of every display, or by its
 * unique-id) is placed by default meanwhile, and moves when that display
 * is connected (kms_head_claim, from the hotplug code: vd_kms_claim
 * decides). Its queued flips move with it; flips already in flight on the
 * old head complete there, so each still gets exactly one flip_done.
 */
#include "output/kms/kms_priv.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* kms_output_from checks the output's impl: a connector of another output is caught. */
static struct kms_conn *kms_conn_from(struct vd_output_conn *conn)
{
	kms_output_from(conn->out);
	return (struct kms_conn *)conn;
}

/* The head of that name, whether or not it has room; NULL: no such display (yet). */
static struct kms_head *head_named(struct kms_output *out, const char *name)
{
	for (uint32_t i = 0; name && i < out->nheads; i++)
		if (strcmp(out->heads[i].name, name) == 0)
			return &out->heads[i];
	return NULL;
}

static struct kms_head *head_by_name(struct kms_output *out, const char *name)
{
	struct kms_head *head = head_named(out, name);

	return head && head->nconns < KMS_MAX_CONNS_PER_HEAD ? head : NULL;
}

static struct kms_head *head_least_used(struct kms_output *out)
{
	struct kms_head *best = NULL;

	for (uint32_t i = 0; i < out->nheads; i++) {
		struct kms_head *h = &out->heads[i];

		if (h->nconns < KMS_MAX_CONNS_PER_HEAD && (!best || h->nconns < best->nconns))
			best = h;
	}
	return best;
}

static void names_of_heads(const struct kms_output *out, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = 0;
	for (uint32_t i = 0; i < out->nheads && len < size; i++) {
		const struct kms_head *h = &out->heads[i];
		int n = snprintf(buf + len, size - len, "%s%s at %u,0 %ux%u", i ? ", " : "",
				 h->name, h->desk_x, h->pref_w, h->pref_h);

		len += n > 0 ? (size_t)n : 0;
	}
}

/* The head for a rectangle mapping in screen coordinates; conn->want in its coordinates. */
static struct kms_head *head_for_rect(struct kms_output *out, struct kms_conn *conn,
				      const struct vd_rect *r)
{
	uint32_t widths[KMS_MAX_HEADS];
	char names[256];
	struct kms_head *head;
	int i;

	for (uint32_t k = 0; k < out->nheads; k++)
		widths[k] = out->heads[k].pref_w;
	i = vd_kms_desktop_locate(widths, out->nheads, r, &conn->want);
	head = i >= 0 ? &out->heads[i] : NULL;
	if (head && head->nconns < KMS_MAX_CONNS_PER_HEAD) {
		conn->placed = true;
		return head;
	}
	names_of_heads(out, names, sizeof(names));
	if (head)
		vd_err("kms: %s: connector mapping %u,%u,%ux%u: that display has no room for "
		       "another connector (displays: %s); placed by default",
		       kms_conn_name(conn), r->x, r->y, r->width, r->height, names);
	else
		vd_warn("kms: %s: connector mapping %u,%u,%ux%u: starts right of every display "
			"(displays: %s); placed by default until a display connected later holds it",
			kms_conn_name(conn), r->x, r->y, r->width, r->height, names);
	return NULL;
}

/* Where the configuration, then the guest, put conn; NULL: anywhere. */
static struct kms_head *head_pick(struct kms_output *out, struct kms_conn *conn,
				  const struct vd_output_conn_desc *desc)
{
	struct kms_head *head = NULL;
	struct vd_rect r;
	char names[256];

	if (desc->mapping && vd_kms_parse_rect(desc->mapping, &r)) {
		head = head_for_rect(out, conn, &r);
	} else if (desc->mapping) {
		head = head_by_name(out, desc->mapping);
		conn->by_name = head != NULL;
		if (!head) {
			names_of_heads(out, names, sizeof(names));
			if (head_named(out, desc->mapping))
				vd_err("kms: %s: connector mapping %s: that display has no room for "
				       "another connector (displays: %s); placed by default",
				       kms_conn_name(conn), desc->mapping, names);
			else
				vd_warn("kms: %s: connector mapping %s: no such display connected "
					"(displays: %s); placed by default until it is",
					kms_conn_name(conn), desc->mapping, names);
		}
	}
	if (!head) {
		head = head_by_name(out, desc->target);
		conn->by_name = head != NULL;
	}
	return head ? head : head_least_used(out);
}

/* Cells for the conns without a rectangle; rectangles clipped to the mode. */
void kms_head_layout(struct kms_head *head)
{
	uint32_t sw = head->mode.hdisplay, sh = head->mode.vdisplay, n = 0, k = 0;

	for (uint32_t i = 0; i < head->nconns; i++) {
		struct kms_conn *conn = head->conns[i];

		if (conn->placed && !vd_kms_clip(&conn->want, sw, sh, &conn->place)) {
			vd_err("kms: %s: rectangle %u,%u,%ux%u is off the %ux%u screen of %s; "
			       "placed by default",
			       kms_conn_name(conn), conn->want.x, conn->want.y, conn->want.width,
			       conn->want.height, sw, sh, head->name);
			conn->placed = false;
		} else if (conn->placed && (conn->place.width != conn->want.width ||
					    conn->place.height != conn->want.height)) {
			vd_warn("kms: %s: rectangle %u,%u,%ux%u clipped to the %ux%u screen of %s",
				kms_conn_name(conn), conn->want.x, conn->want.y, conn->want.width,
				conn->want.height, sw, sh, head->name);
		}
		n += !conn->placed;
	}
	for (uint32_t i = 0; i < head->nconns; i++)
		if (!head->conns[i]->placed)
			head->conns[i]->place = vd_kms_layout_cell(sw, sh, n, k++);
	kms_layout_changed(head->out);
}

/* In name order: the stacking order of overlapping rectangles (later names on top). */
static void head_insert(struct kms_head *head, struct kms_conn *conn)
{
	uint32_t i = 0;

	while (i < head->nconns && strcmp(kms_conn_name(head->conns[i]), kms_conn_name(conn)) <= 0)
		i++;
	memmove(&head->conns[i + 1], &head->conns[i], (head->nconns - i) * sizeof(head->conns[0]));
	head->conns[i] = conn;
	head->nconns++;
}

static void head_add(struct kms_head *head, struct kms_conn *conn)
{
	int r;

	if (!head->enabled && !head->broken) {
		r = conn->placed ? kms_head_enable(head, 0, 0)
				 : kms_head_enable(head, conn->base.desc.width, conn->base.desc.height);
		if (r < 0) {
			vd_err("kms: %s: cannot set a mode: %s; its guests flip blind", head->name,
			       strerror(-r));
			head->broken = true;
		}
	}
	conn->head = head;
	head_insert(head, conn);
	if (head->enabled)
		kms_head_layout(head);
	else
		kms_layout_changed(head->out); /* no mode: it has no place on the screen */
	kms_head_invalidate(head);
	kms_head_update_blind(head);
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
	if (head->enabled)
		kms_head_layout(head);
	else
		kms_layout_changed(head->out);
	kms_head_invalidate(head);
	kms_head_kick(head);
}

/* Its place on the head, and its picture in screen coordinates (as pointer focus sees it). */
static void log_placement(struct kms_conn *conn)
{
	struct vd_rect s = {0, 0, 0, 0};

	if (vd_output_conn_layout(&conn->base, &s) < 0)
		s = (struct vd_rect){0, 0, 0, 0};
	vd_info("kms: %s on %s at %u,%u %ux%u%s, picture at %u,%u %ux%u of the screen",
		kms_conn_name(conn), conn->head->name, conn->place.x, conn->place.y, conn->place.width,
		conn->place.height, conn->placed ? " (configured)" : "", s.x, s.y, s.width,
		s.height);
}

/*
 * conn onto head, a display connected after conn was placed. Its queued
 * flips go with it; those in flight on the old head complete there.
 */
static void conn_move(struct kms_conn *conn, struct kms_head *to)
{
	struct kms_output *out = conn->out;
	struct kms_head *from = conn->head;
	struct vd_rect r;
	const char *why = "its unique-id";

	head_remove(from, conn);
	conn->placed = conn->by_name = false;
	conn->want = (struct vd_rect){0, 0, 0, 0};
	if (conn->mapping && vd_kms_parse_rect(conn->mapping, &r)) {
		head_for_rect(out, conn, &r); /* on to: vd_kms_claim located it there */
		why = "its configured rectangle";
	} else {
		conn->by_name = true;
		if (conn->mapping && strcmp(conn->mapping, to->name) == 0)
			why = "its configuration";
	}
	head_add(to, conn);
	vd_notice("kms: %s: moved from %s%s to %s, where %s puts it", kms_conn_name(conn), from->name,
		  from->unplugged || from->broken ? " (blind)" : "", to->name, why);
}

/* Sort by name: conns move in the order they stack (vd_kms_claim keeps it). */
static void sort_by_name(struct kms_conn **v, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++)
		for (uint32_t j = i; j > 0 && strcmp(kms_conn_name(v[j - 1]), kms_conn_name(v[j])) > 0; j--) {
			struct kms_conn *t = v[j];

			v[j] = v[j - 1];
			v[j - 1] = t;
		}
}

uint32_t kms_head_claim(struct kms_head *head)
{
	enum { MAX = KMS_MAX_HEADS * KMS_MAX_CONNS_PER_HEAD };
	struct kms_output *out = head->out;
	struct vd_kms_claim_conn c[MAX];
	struct kms_conn *which[MAX];
	bool take[MAX], left[KMS_MAX_HEADS] = {false};
	const char *names[KMS_MAX_HEADS];
	uint32_t widths[KMS_MAX_HEADS], n = 0, moved;
	struct vd_output_conn *oc;

	for (uint32_t i = 0; i < out->nheads; i++) {
		names[i] = out->heads[i].name;
		widths[i] = out->heads[i].pref_w;
	}
	vd_output_for_each_conn(oc, &out->base)
		if (n < MAX)
			which[n++] = kms_conn_from(oc);
	if (!n)
		return 0;
	sort_by_name(which, n);
	memset(c, 0, sizeof(c));
	for (uint32_t i = 0; i < n; i++)
		c[i] = (struct vd_kms_claim_conn){which[i]->mapping, which[i]->target,
						  (size_t)(which[i]->head - out->heads)};
	moved = vd_kms_claim(c, n, names, widths, out->nheads, (size_t)(head - out->heads),
			     KMS_MAX_CONNS_PER_HEAD - head->nconns, take);
	for (uint32_t i = 0; i < n; i++) {
		if (!take[i])
			continue;
		left[which[i]->head - out->heads] = true;
		conn_move(which[i], head);
	}
	/* where each moved conn is now, and the new places of those it left */
	for (uint32_t h = 0; h < out->nheads; h++)
		for (uint32_t i = 0; i < out->heads[h].nconns && (left[h] || &out->heads[h] == head);
		     i++)
			log_placement(out->heads[h].conns[i]);
	return moved;
}

int kms_conn_init(struct vd_output_conn *base, const struct vd_output_conn_desc *desc)
{
	struct kms_conn *conn = kms_conn_from(base);
	struct kms_output *out = kms_output_from(base->out);
	struct kms_head *head;

	conn->out = out;
	conn->plane = VD_KMS_PLANE_COMPOSED;
	conn->mapping = desc->mapping ? strdup(desc->mapping) : NULL;
	conn->target = desc->target ? strdup(desc->target) : NULL;
	if ((desc->mapping && !conn->mapping) || (desc->target && !conn->target)) {
		kms_conn_finish(base);
		return -ENOMEM;
	}
	head = head_pick(out, conn, desc);
	if (!head) {
		kms_conn_finish(base);
		return -ENOSPC;
	}
	head_add(head, conn);
	log_placement(conn);
	return 0;
}

/* The core dropped its flips; the others on the head are redrawn. */
void kms_conn_finish(struct vd_output_conn *base)
{
	struct kms_conn *conn = kms_conn_from(base);

	kms_conn_forget_commits(conn);
	if (conn->head)
		head_remove(conn->head, conn);
	conn->head = NULL;
	free(conn->mapping);
	free(conn->target);
	conn->mapping = conn->target = NULL;
}

/* The connector's frame in screen coordinates: the place, less the black around a smaller frame. */
int kms_conn_layout(struct vd_output_conn *base, struct vd_rect *ret)
{
	struct kms_conn *conn = kms_conn_from(base);
	struct kms_head *head = conn->head;
	struct vd_rect src, dst;

	if (!head->enabled || head->broken ||
	    !vd_kms_fit(&conn->place, conn->base.desc.width, conn->base.desc.height, false, &src,
			&dst))
		return -ENODATA;
	*ret = dst;
	ret->x += head->desk_x;
	return 0;
}

int kms_conn_scanout(struct vd_output_conn *base, struct vd_scanout *ret)
{
	struct kms_conn *conn = kms_conn_from(base);
	const struct kms_head *head = conn->head;

	*ret = (struct vd_scanout){.display = head->name, .path = VD_SCANOUT_NONE};
	if (!head->enabled || head->broken || head->unplugged || !conn->base.cur.fb)
		return 0;
	if (conn->plane == VD_KMS_PLANE_PRIMARY)
		ret->path = VD_SCANOUT_PRIMARY;
	else if (conn->plane > VD_KMS_PLANE_PRIMARY) {
		ret->path = VD_SCANOUT_OVERLAY;
		ret->overlay = (uint32_t)conn->plane;
	} else
		ret->path = VD_SCANOUT_COMPOSED;
	return 0;
}

/*
 * The display's EDID when conn maps 1:1 onto it: on it by its name (the
 * configuration or the guest's unique-id) and alone on it. Whole blocks
 * with the EDID header only.
 */
int kms_conn_get_edid(struct vd_output_conn *base, void *buf, size_t size)
{
	static const uint8_t header[8] = {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0};
	struct kms_conn *conn = kms_conn_from(base);
	const struct kms_head *head = conn->head;

	if (head->nconns != 1 || !conn->by_name || !head->edid || head->edid_len < 128 ||
	    head->edid_len % 128 || memcmp(head->edid, header, sizeof(header)) != 0)
		return -ENODATA;
	if (head->edid_len > size || head->edid_len > INT32_MAX)
		return -ENOSPC;
	memcpy(buf, head->edid, head->edid_len);
	return (int)head->edid_len;
}
