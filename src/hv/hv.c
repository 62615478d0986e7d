/* SPDX-License-Identifier: MIT */
#include "hv/hv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int vd_hv_sim_create(struct vd_hv **ret_hv);
int vd_hv_simhost_create(struct vd_hv **ret_hv);
#ifdef VD_WITH_XEN
int vd_hv_xen_create(struct vd_hv **ret_hv);
#endif

static const struct {
	const char *name;
	int (*create)(struct vd_hv **ret_hv);
} hv_table[] = {
#ifdef VD_WITH_XEN
	{"xen", vd_hv_xen_create},
#endif
	{"sim", vd_hv_sim_create},
	{"simhost", vd_hv_simhost_create},
};

int vd_hv_create(const char *name, struct vd_hv **ret_hv)
{
	for (size_t i = 0; i < sizeof(hv_table) / sizeof(hv_table[0]); i++)
		if (strcmp(hv_table[i].name, name) == 0)
			return hv_table[i].create(ret_hv);
	return -ENOENT;
}

void vd_hv_destroy(struct vd_hv *hv)
{
	if (hv)
		hv->impl->destroy(hv);
}

void vd_hv_free_list(char **list, unsigned n)
{
	if (!list)
		return;
	for (unsigned i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* Xen's DOMID_FIRST_RESERVED. */
#define XS_DOMID_RESERVED 0x7ff0u

static bool perm_names(const struct vd_xs_perm *p, uint32_t domid)
{
	return p->domid == domid || p->domid >= XS_DOMID_RESERVED;
}

/* xenstored's perm_for_conn for an unprivileged domain. */
bool vd_xs_perms_writable_by(const struct vd_xs_perm *perms, unsigned n, uint32_t domid)
{
	if (n == 0 || perm_names(&perms[0], domid))
		return true;
	for (unsigned i = 1; i < n; i++)
		if (perm_names(&perms[i], domid))
			return perms[i].perms & VD_XS_PERM_WRITE;
	return perms[0].perms & VD_XS_PERM_WRITE;
}

int vd_xs_read_u32(struct vd_hv *hv, vd_xs_txn t, const char *path, uint32_t *ret)
{
	char *val;
	size_t len;
	int r;

	r = hv->impl->xs_read(hv, t, path, &val, &len);
	if (r < 0)
		return r;
	r = vd_parse_u32(val, ret);
	free(val);
	return r;
}

int vd_xs_printf(struct vd_hv *hv, vd_xs_txn t, const char *path, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -EINVAL;
	return hv->impl->xs_write(hv, t, path, buf);
}
