/* SPDX-License-Identifier: MIT */
/*
 * The xenstore node tree: absolute paths, values, children, generations.
 * No watches and no transactions here (sim_xs.c, sim_xs_watch.c).
 */
#include "hv/sim/sim_priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool path_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_' || ch == '/' || ch == '@';
}

/* An absolute node path: "/", or "/"-separated non-empty components. */
int vd_sim_xs_path_check(const char *path)
{
	size_t len = strlen(path);

	if (path[0] != '/' || len > VD_SIM_XS_PATH_MAX)
		return -EINVAL;
	if (len > 1 && path[len - 1] == '/')
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!path_char_ok(path[i]) || path[i] == '@')
			return -EINVAL;
		if (path[i] == '/' && path[i + 1] == '/')
			return -EINVAL;
	}
	return 0;
}

/* A new node is domain 0's, with no access for anyone else (the root's permissions). */
struct vd_sim_node *vd_sim_node_new(const char *name, size_t name_len)
{
	struct vd_sim_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->name = strndup(name, name_len);
	n->value = strdup("");
	n->perms = calloc(1, sizeof(*n->perms));
	n->nperms = 1;
	if (!n->name || !n->value || !n->perms) {
		free(n->name);
		free(n->value);
		free(n->perms);
		free(n);
		return NULL;
	}
	vd_sim_list_init(&n->children);
	vd_sim_list_init(&n->link);
	return n;
}

/* Frees n and its subtree; n must already be unlinked from its parent. */
void vd_sim_node_free(struct vd_sim_node *n)
{
	struct vd_sim_list *pos, *tmp;

	if (!n)
		return;
	vd_sim_list_each(pos, tmp, &n->children)
	    vd_sim_node_free(vd_sim_container_of(pos, struct vd_sim_node, link));
	free(n->name);
	free(n->value);
	free(n->perms);
	free(n);
}

static int perms_copy(struct vd_sim_node *n, const struct vd_xs_perm *perms, unsigned nperms)
{
	struct vd_xs_perm *p;

	if (nperms == 0 || nperms > VD_SIM_XS_PERMS_MAX)
		return -EINVAL;
	p = malloc(nperms * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memcpy(p, perms, nperms * sizeof(*p));
	free(n->perms);
	n->perms = p;
	n->nperms = nperms;
	return 0;
}

int vd_sim_node_set_perms(struct vd_sim_node *n, const struct vd_xs_perm *perms, unsigned nperms,
			  uint64_t gen)
{
	int r = perms_copy(n, perms, nperms);

	if (r >= 0)
		n->gen = gen;
	return r;
}

uint32_t vd_sim_node_access(const struct vd_sim_node *n, uint32_t domid)
{
	const uint32_t all = VD_XS_PERM_READ | VD_XS_PERM_WRITE;

	if (domid == 0 || n->perms[0].domid == domid)
		return all;
	for (unsigned i = 1; i < n->nperms; i++)
		if (n->perms[i].domid == domid)
			return n->perms[i].perms & all;
	return n->perms[0].perms & all;
}

/* A node created below parent: its permissions, owned by an unprivileged creator. */
static struct vd_sim_node *node_new_child(struct vd_sim_node *parent, const char *name, size_t len,
					  uint32_t creator)
{
	struct vd_sim_node *c = vd_sim_node_new(name, len);

	if (!c)
		return NULL;
	if (perms_copy(c, parent->perms, parent->nperms) < 0) {
		vd_sim_node_free(c);
		return NULL;
	}
	if (creator != 0)
		c->perms[0].domid = creator;
	return c;
}

static void node_add_child(struct vd_sim_node *parent, struct vd_sim_node *child)
{
	child->parent = parent;
	vd_sim_list_add(&parent->children, &child->link);
}

static struct vd_sim_node *child_find(struct vd_sim_node *n, const char *name, size_t len)
{
	struct vd_sim_list *pos, *tmp;

	vd_sim_list_each(pos, tmp, &n->children)
	{
		struct vd_sim_node *c = vd_sim_container_of(pos, struct vd_sim_node, link);

		if (strncmp(c->name, name, len) == 0 && c->name[len] == '\0')
			return c;
	}
	return NULL;
}

/* Advance *p past the next component; returns its start and length, NULL at the end. */
static const char *next_comp(const char **p, size_t *ret_len)
{
	const char *s = *p;
	size_t len;

	while (*s == '/')
		s++;
	if (*s == '\0')
		return NULL;
	len = strcspn(s, "/");
	*p = s + len;
	*ret_len = len;
	return s;
}

struct vd_sim_node *vd_sim_node_lookup_closest(struct vd_sim_node *root, const char *path)
{
	struct vd_sim_node *n = root, *c;
	const char *comp;
	size_t len;

	while ((comp = next_comp(&path, &len))) {
		c = child_find(n, comp, len);
		if (!c)
			break;
		n = c;
	}
	return n;
}

struct vd_sim_node *vd_sim_node_lookup(struct vd_sim_node *root, const char *path)
{
	struct vd_sim_node *n = root;
	const char *comp;
	size_t len;

	while (n && (comp = next_comp(&path, &len)))
		n = child_find(n, comp, len);
	return n;
}

/* Creates missing nodes on the way (empty values), as xenstored does. */
int vd_sim_node_write(struct vd_sim_node *root, const char *path, const char *value, uint64_t gen,
		      uint32_t creator)
{
	struct vd_sim_node *n = root, *c;
	const char *comp;
	char *copy;
	size_t len;

	while ((comp = next_comp(&path, &len))) {
		c = child_find(n, comp, len);
		if (!c) {
			c = node_new_child(n, comp, len, creator);
			if (!c)
				return -ENOMEM;
			node_add_child(n, c);
			n->gen = gen;
			c->gen = gen;
		}
		n = c;
	}
	copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	free(n->value);
	n->value = copy;
	n->len = strlen(copy);
	n->gen = gen;
	return 0;
}

void vd_sim_node_rm(struct vd_sim_node *root, const char *path, uint64_t gen)
{
	struct vd_sim_node *n = vd_sim_node_lookup(root, path);

	if (!n || !n->parent)
		return;
	n->parent->gen = gen;
	vd_sim_list_del(&n->link);
	vd_sim_node_free(n);
}

int vd_sim_node_clone(struct vd_sim_node *n, struct vd_sim_node **ret)
{
	struct vd_sim_node *copy = vd_sim_node_new(n->name, strlen(n->name));
	struct vd_sim_list *pos, *tmp;

	if (!copy)
		return -ENOMEM;
	free(copy->value);
	copy->value = strdup(n->value);
	copy->len = n->len;
	copy->gen = n->gen;
	if (!copy->value || perms_copy(copy, n->perms, n->nperms) < 0)
		goto fail;
	vd_sim_list_each(pos, tmp, &n->children)
	{
		struct vd_sim_node *cc;

		if (vd_sim_node_clone(vd_sim_container_of(pos, struct vd_sim_node, link), &cc) < 0)
			goto fail;
		node_add_child(copy, cc);
	}
	*ret = copy;
	return 0;
fail:
	vd_sim_node_free(copy);
	return -ENOMEM;
}

int vd_sim_node_read(struct vd_sim_node *root, const char *path, char **ret_value, size_t *ret_len)
{
	struct vd_sim_node *n = vd_sim_node_lookup(root, path);
	char *v;

	if (!n)
		return -ENOENT;
	v = malloc(n->len + 1);
	if (!v)
		return -ENOMEM;
	memcpy(v, n->value, n->len + 1);
	*ret_value = v;
	if (ret_len)
		*ret_len = n->len;
	return 0;
}

static unsigned node_nchildren(struct vd_sim_node *n)
{
	struct vd_sim_list *pos, *tmp;
	unsigned count = 0;

	vd_sim_list_each(pos, tmp, &n->children) count++;
	return count;
}

int vd_sim_node_directory(struct vd_sim_node *root, const char *path, char ***ret_list,
			  unsigned *ret_n)
{
	struct vd_sim_node *n = vd_sim_node_lookup(root, path);
	struct vd_sim_list *pos, *tmp;
	unsigned count, i = 0;
	char **list;

	if (!n)
		return -ENOENT;
	count = node_nchildren(n);
	/* Never NULL on success, even when empty. */
	list = calloc(count ? count : 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	vd_sim_list_each(pos, tmp, &n->children)
	{
		list[i] = strdup(vd_sim_container_of(pos, struct vd_sim_node, link)->name);
		if (!list[i]) {
			vd_hv_free_list(list, i);
			return -ENOMEM;
		}
		i++;
	}
	*ret_list = list;
	*ret_n = count;
	return 0;
}
