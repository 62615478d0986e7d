/* SPDX-License-Identifier: MIT */
/*
 * xenstore operations of a connection, and transactions.
 *
 * A transaction works on a private deep copy of the store taken at its
 * start, so it sees its own writes and nothing else. Every path it reads,
 * writes or removes is recorded in order. Commit fails with -EAGAIN if,
 * for any recorded path, the node (or, if absent, its deepest existing
 * ancestor) changed after the start: a node's generation moves on value
 * writes and on child creation/removal. This is conservative (a change of
 * an ancestor's value counts too), never optimistic. Then the writes and
 * removals are replayed on the store in order and fire watches.
 *
 * Permissions are checked as xenstored checks them for a domain other
 * than domain 0 (which may do anything): reading a node, listing it or
 * its permissions needs read access to it, writing or removing it write
 * access, creating it write access to its closest existing ancestor, and
 * setting permissions ownership (an unprivileged owner cannot give a node
 * away). A missing node answers -ENOENT where the closest existing
 * ancestor grants the access asked for, -EACCES otherwise. Inside a
 * transaction the checks see the transaction's copy; its replay at commit
 * is not checked again (nothing it saw changed, or the commit fails).
 */
#include "hv/sim/sim_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum txn_op_kind { TXN_READ, TXN_WRITE, TXN_RM, TXN_PERMS };

struct txn_op {
	struct vd_sim_list link;
	enum txn_op_kind kind;
	char *path;
	char *value;		  /* TXN_WRITE only */
	struct vd_xs_perm *perms; /* TXN_PERMS only */
	unsigned nperms;
};

struct vd_sim_txn {
	struct vd_sim_list link; /* in conn->txns */
	vd_xs_txn id;
	uint64_t start_gen;
	struct vd_sim_node *root; /* private copy */
	struct vd_sim_list ops;
	uint32_t nops;
};

int vd_sim_xs_init(struct vd_sim_xs *xs)
{
	xs->root = vd_sim_node_new("", 0);
	if (!xs->root)
		return -ENOMEM;
	xs->gen = 0;
	xs->next_txn = 1;
	return 0;
}

void vd_sim_xs_finish(struct vd_sim_xs *xs)
{
	vd_sim_node_free(xs->root);
	xs->root = NULL;
}

/* Relative paths are relative to the connection's /local/domain/<id>. */
int vd_sim_xs_resolve(struct vd_sim_conn *c, const char *path, char **ret_abs)
{
	char *abs;
	int r;

	if (!path || !path[0])
		return -EINVAL;
	if (path[0] == '/')
		abs = strdup(path);
	else if (asprintf(&abs, "/local/domain/%u/%s", c->domid, path) < 0)
		abs = NULL;
	if (!abs)
		return -ENOMEM;
	r = vd_sim_xs_path_check(abs);
	if (r < 0) {
		free(abs);
		return r;
	}
	*ret_abs = abs;
	return 0;
}

/* 0 if domid may have perm on path in the tree at root; -ENOENT, -EACCES (see the top). */
static int xs_access(struct vd_sim_node *root, const char *path, uint32_t domid, uint32_t perm)
{
	struct vd_sim_node *n = vd_sim_node_lookup_closest(root, path);
	bool found = n == vd_sim_node_lookup(root, path);

	if (!(vd_sim_node_access(n, domid) & perm))
		return -EACCES;
	return found ? 0 : -ENOENT;
}

/* ---- the store itself (outside transactions); these fire watches ---- */

static int store_write(struct vd_sim *sim, const char *path, const char *value, uint32_t creator)
{
	int r = vd_sim_node_write(sim->xs.root, path, value, ++sim->xs.gen, creator);

	if (r < 0)
		return r;
	vd_sim_xs_fire_write(sim, path);
	return 0;
}

/* A permission change fires the node's watches, as in xenstored. */
static int store_set_perms(struct vd_sim *sim, const char *path, const struct vd_xs_perm *perms,
			   unsigned nperms)
{
	struct vd_sim_node *n = vd_sim_node_lookup(sim->xs.root, path);
	int r;

	if (!n)
		return -ENOENT;
	r = vd_sim_node_set_perms(n, perms, nperms, ++sim->xs.gen);
	if (r < 0)
		return r;
	vd_sim_xs_fire_write(sim, path);
	return 0;
}

static void store_rm(struct vd_sim *sim, const char *path)
{
	if (!vd_sim_node_lookup(sim->xs.root, path))
		return;
	vd_sim_xs_fire_rm(sim, path);
	vd_sim_node_rm(sim->xs.root, path, ++sim->xs.gen);
}

int vd_sim_xs_write_internal(struct vd_sim *sim, const char *path, const char *value)
{
	return store_write(sim, path, value, 0);
}

int vd_sim_xs_set_perms_internal(struct vd_sim *sim, const char *path,
				 const struct vd_xs_perm *perms, unsigned nperms)
{
	return store_set_perms(sim, path, perms, nperms);
}

void vd_sim_xs_rm_internal(struct vd_sim *sim, const char *path)
{
	store_rm(sim, path);
}

/* ---- transactions ---- */

static void txn_op_free(struct txn_op *op)
{
	vd_sim_list_del(&op->link);
	free(op->path);
	free(op->value);
	free(op->perms);
	free(op);
}

static void txn_free(struct vd_sim_txn *txn)
{
	struct vd_sim_list *pos, *tmp;

	vd_sim_list_each(pos, tmp, &txn->ops)
	    txn_op_free(vd_sim_container_of(pos, struct txn_op, link));
	vd_sim_list_del(&txn->link);
	vd_sim_node_free(txn->root);
	free(txn);
}

void vd_sim_conn_xs_finish(struct vd_sim_conn *c)
{
	struct vd_sim_list *pos, *tmp;

	vd_sim_list_each(pos, tmp, &c->txns)
	    txn_free(vd_sim_container_of(pos, struct vd_sim_txn, link));
}

/* Records an operation; takes path. */
/* Records an operation; takes path. */
static int txn_record(struct vd_sim_txn *txn, enum txn_op_kind kind, char *path, const char *value)
{
	struct txn_op *op;

	if (txn->nops >= VD_SIM_TXN_OPS_MAX)
		return -ENOSPC;
	op = calloc(1, sizeof(*op));
	if (!op)
		return -ENOMEM;
	if (value) {
		op->value = strdup(value);
		if (!op->value) {
			free(op);
			return -ENOMEM;
		}
	}
	op->kind = kind;
	op->path = path;
	vd_sim_list_add(&txn->ops, &op->link);
	txn->nops++;
	return 0;
}

/* Records a permission change; takes path. */
static int txn_record_perms(struct vd_sim_txn *txn, char *path, const struct vd_xs_perm *perms,
			    unsigned nperms)
{
	struct vd_xs_perm *copy = malloc(nperms * sizeof(*copy));
	struct txn_op *op;
	int r;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, perms, nperms * sizeof(*copy));
	r = txn_record(txn, TXN_PERMS, path, NULL);
	if (r < 0) {
		free(copy);
		return r;
	}
	op = vd_sim_container_of(txn->ops.prev, struct txn_op, link);
	op->perms = copy;
	op->nperms = nperms;
	return 0;
}

static struct vd_sim_txn *txn_find(struct vd_sim_conn *c, vd_xs_txn t)
{
	struct vd_sim_list *pos, *tmp;

	vd_sim_list_each(pos, tmp, &c->txns)
	{
		struct vd_sim_txn *txn = vd_sim_container_of(pos, struct vd_sim_txn, link);

		if (txn->id == t)
			return txn;
	}
	return NULL;
}

/*
 * Resolve path and find the transaction t. On success *ret_txn is NULL
 * outside a transaction and the caller owns *ret_abs.
 */
static int xs_prepare(struct vd_hv *hv, vd_xs_txn t, const char *path, char **ret_abs,
		      struct vd_sim_txn **ret_txn)
{
	struct vd_sim_conn *c = vd_sim_conn_from_hv(hv);
	struct vd_sim_txn *txn = NULL;

	if (t != VD_XS_NO_TXN) {
		txn = txn_find(c, t);
		if (!txn)
			return -EINVAL;
	}
	*ret_txn = txn;
	return vd_sim_xs_resolve(c, path, ret_abs);
}

/* The tree an operation of txn works on: its copy, or the store. */
static struct vd_sim_node *tree_of(struct vd_hv *hv, struct vd_sim_txn *txn)
{
	return txn ? txn->root : vd_sim_conn_from_hv(hv)->sim->xs.root;
}

/* Reads in a transaction are recorded for the conflict check; takes abs. */
static int xs_note_read(struct vd_sim_txn *txn, char *abs)
{
	int r;

	if (!txn) {
		free(abs);
		return 0;
	}
	r = txn_record(txn, TXN_READ, abs, NULL);
	if (r < 0)
		free(abs);
	return r;
}

/* Resolve, find t and check read access; the caller owns *ret_abs on success. */
static int xs_prepare_read(struct vd_hv *hv, vd_xs_txn t, const char *path, char **ret_abs,
			   struct vd_sim_txn **ret_txn)
{
	int r = xs_prepare(hv, t, path, ret_abs, ret_txn);

	if (r < 0)
		return r;
	r = xs_access(tree_of(hv, *ret_txn), *ret_abs, vd_sim_conn_from_hv(hv)->domid,
		      VD_XS_PERM_READ);
	if (r == -ENOENT) {
		/* Absence is what a transaction saw: a node created meanwhile conflicts. */
		int q = xs_note_read(*ret_txn, *ret_abs);

		return q < 0 ? q : r;
	}
	if (r < 0)
		free(*ret_abs);
	return r;
}

int vd_sim_xs_read(struct vd_hv *hv, vd_xs_txn t, const char *path, char **ret_value,
		   size_t *ret_len)
{
	struct vd_sim_txn *txn;
	char *abs, *value;
	size_t len;
	int r, q;

	r = xs_prepare_read(hv, t, path, &abs, &txn);
	if (r < 0)
		return r;
	r = vd_sim_node_read(tree_of(hv, txn), abs, &value, &len);
	q = xs_note_read(txn, abs);
	if (r < 0)
		return r;
	if (q < 0) {
		free(value);
		return q;
	}
	*ret_value = value;
	if (ret_len)
		*ret_len = len;
	return 0;
}

int vd_sim_xs_directory(struct vd_hv *hv, vd_xs_txn t, const char *path, char ***ret_list,
			unsigned *ret_n)
{
	struct vd_sim_txn *txn;
	char **list;
	unsigned n;
	char *abs;
	int r, q;

	r = xs_prepare_read(hv, t, path, &abs, &txn);
	if (r < 0)
		return r;
	r = vd_sim_node_directory(tree_of(hv, txn), abs, &list, &n);
	q = xs_note_read(txn, abs);
	if (r < 0)
		return r;
	if (q < 0) {
		vd_hv_free_list(list, n);
		return q;
	}
	*ret_list = list;
	*ret_n = n;
	return 0;
}

int vd_sim_xs_get_perms(struct vd_hv *hv, vd_xs_txn t, const char *path,
			struct vd_xs_perm **ret_perms, unsigned *ret_n)
{
	struct vd_sim_txn *txn;
	struct vd_sim_node *n;
	struct vd_xs_perm *p;
	char *abs;
	int r;

	r = xs_prepare_read(hv, t, path, &abs, &txn);
	if (r < 0)
		return r;
	n = vd_sim_node_lookup(tree_of(hv, txn), abs);
	p = malloc(n->nperms * sizeof(*p));
	if (!p) {
		free(abs);
		return -ENOMEM;
	}
	memcpy(p, n->perms, n->nperms * sizeof(*p));
	*ret_n = n->nperms;
	r = xs_note_read(txn, abs);
	if (r < 0) {
		free(p);
		return r;
	}
	*ret_perms = p;
	return 0;
}

/* Resolve, find t and check write access (-ENOENT: may create); the caller owns *ret_abs. */
static int xs_prepare_write(struct vd_hv *hv, vd_xs_txn t, const char *path, char **ret_abs,
			    struct vd_sim_txn **ret_txn)
{
	int r = xs_prepare(hv, t, path, ret_abs, ret_txn);

	if (r < 0)
		return r;
	r = xs_access(tree_of(hv, *ret_txn), *ret_abs, vd_sim_conn_from_hv(hv)->domid,
		      VD_XS_PERM_WRITE);
	if (r < 0 && r != -ENOENT) {
		free(*ret_abs);
		return r;
	}
	return r;
}

int vd_sim_xs_write(struct vd_hv *hv, vd_xs_txn t, const char *path, const char *value)
{
	struct vd_sim_conn *c = vd_sim_conn_from_hv(hv);
	struct vd_sim_txn *txn;
	char *abs;
	int r;

	if (!value)
		return -EINVAL;
	if (strlen(value) > VD_SIM_XS_VALUE_MAX)
		return -E2BIG;
	r = xs_prepare_write(hv, t, path, &abs, &txn);
	if (r < 0 && r != -ENOENT)
		return r;
	if (!txn) {
		r = store_write(c->sim, abs, value, c->domid);
		free(abs);
		return r;
	}
	r = vd_sim_node_write(txn->root, abs, value, 0, c->domid);
	if (r < 0) {
		free(abs);
		return r;
	}
	r = txn_record(txn, TXN_WRITE, abs, value);
	if (r < 0)
		free(abs);
	return r;
}

int vd_sim_xs_rm(struct vd_hv *hv, vd_xs_txn t, const char *path)
{
	struct vd_sim *sim = vd_sim_conn_from_hv(hv)->sim;
	struct vd_sim_txn *txn;
	char *abs;
	int r;

	r = xs_prepare_write(hv, t, path, &abs, &txn);
	if (r == -ENOENT) {
		free(abs);
		return 0;
	}
	if (r < 0)
		return r;
	if (strcmp(abs, "/") == 0) {
		free(abs);
		return -EINVAL;
	}
	if (!txn) {
		store_rm(sim, abs);
		free(abs);
		return 0;
	}
	vd_sim_node_rm(txn->root, abs, 0);
	r = txn_record(txn, TXN_RM, abs, NULL);
	if (r < 0)
		free(abs);
	return r;
}

/* Only the owner (or domain 0) sets permissions, and only domain 0 gives a node away. */
static int perms_check(struct vd_sim_node *root, const char *abs, uint32_t domid,
		       const struct vd_xs_perm *perms, unsigned nperms)
{
	struct vd_sim_node *n = vd_sim_node_lookup(root, abs);
	int r = xs_access(root, abs, domid, VD_XS_PERM_WRITE);

	if (r < 0)
		return r;
	if (nperms == 0 || nperms > VD_SIM_XS_PERMS_MAX)
		return -EINVAL;
	if (domid != 0 && n->perms[0].domid != domid)
		return -EACCES;
	if (domid != 0 && perms[0].domid != domid)
		return -EPERM;
	return 0;
}

int vd_sim_xs_set_perms(struct vd_hv *hv, vd_xs_txn t, const char *path,
			const struct vd_xs_perm *perms, unsigned nperms)
{
	struct vd_sim_txn *txn;
	char *abs;
	int r;

	if (!vd_sim_from_hv(hv))
		return -EOPNOTSUPP;
	r = xs_prepare(hv, t, path, &abs, &txn);
	if (r < 0)
		return r;
	r = perms_check(tree_of(hv, txn), abs, vd_sim_conn_from_hv(hv)->domid, perms, nperms);
	if (r < 0)
		goto out;
	if (!txn) {
		r = store_set_perms(vd_sim_conn_from_hv(hv)->sim, abs, perms, nperms);
		goto out;
	}
	r = vd_sim_node_set_perms(vd_sim_node_lookup(txn->root, abs), perms, nperms, 0);
	if (r >= 0)
		r = txn_record_perms(txn, abs, perms, nperms);
	if (r >= 0)
		return 0; /* the record took abs */
out:
	free(abs);
	return r;
}

static unsigned conn_ntxns(struct vd_sim_conn *c)
{
	struct vd_sim_list *pos, *tmp;
	unsigned n = 0;

	vd_sim_list_each(pos, tmp, &c->txns) n++;
	return n;
}

int vd_sim_xs_txn_start(struct vd_hv *hv, vd_xs_txn *ret_t)
{
	struct vd_sim_conn *c = vd_sim_conn_from_hv(hv);
	struct vd_sim_xs *xs = &c->sim->xs;
	struct vd_sim_txn *txn;

	if (conn_ntxns(c) >= VD_SIM_TXN_MAX)
		return -ENOSPC;
	txn = calloc(1, sizeof(*txn));
	if (!txn)
		return -ENOMEM;
	if (vd_sim_node_clone(xs->root, &txn->root) < 0) {
		free(txn);
		return -ENOMEM;
	}
	vd_sim_list_init(&txn->ops);
	txn->start_gen = xs->gen;
	txn->id = xs->next_txn++;
	if (xs->next_txn == VD_XS_NO_TXN)
		xs->next_txn = 1;
	vd_sim_list_add(&c->txns, &txn->link);
	*ret_t = txn->id;
	return 0;
}

static bool txn_conflicts(struct vd_sim *sim, struct vd_sim_txn *txn)
{
	struct vd_sim_list *pos, *tmp;

	vd_sim_list_each(pos, tmp, &txn->ops)
	{
		struct txn_op *op = vd_sim_container_of(pos, struct txn_op, link);

		if (vd_sim_node_lookup_closest(sim->xs.root, op->path)->gen > txn->start_gen)
			return true;
	}
	return false;
}

/* Replays as the domain that made the transaction: it owns what it created. */
static int txn_apply(struct vd_sim_conn *c, struct vd_sim_txn *txn)
{
	struct vd_sim_list *pos, *tmp;
	int r = 0;

	vd_sim_list_each(pos, tmp, &txn->ops)
	{
		struct txn_op *op = vd_sim_container_of(pos, struct txn_op, link);

		if (op->kind == TXN_WRITE)
			r = store_write(c->sim, op->path, op->value, c->domid);
		else if (op->kind == TXN_RM)
			store_rm(c->sim, op->path);
		else if (op->kind == TXN_PERMS)
			r = store_set_perms(c->sim, op->path, op->perms, op->nperms);
		if (r < 0)
			return r;
	}
	return 0;
}

int vd_sim_xs_txn_end(struct vd_hv *hv, vd_xs_txn t, bool abort)
{
	struct vd_sim_conn *c = vd_sim_conn_from_hv(hv);
	struct vd_sim_txn *txn;
	int r = 0;

	txn = t == VD_XS_NO_TXN ? NULL : txn_find(c, t);
	if (!txn)
		return -EINVAL;
	if (!abort)
		r = txn_conflicts(c->sim, txn) ? -EAGAIN : txn_apply(c, txn);
	txn_free(txn);
	return r;
}
