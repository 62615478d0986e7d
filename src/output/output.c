/* SPDX-License-Identifier: MIT */
/* The table of outputs: a new output is one more line here. */
#include "output/output.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

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

void vd_output_destroy(struct vd_output *out)
{
	if (out)
		out->impl->destroy(out);
}
