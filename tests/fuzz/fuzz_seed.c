/* SPDX-License-Identifier: MIT */
/*
 * Writes a few well-formed inputs for fuzz_codec into the directory given
 * as argv[1], so that the fuzzer starts from requests and directories that
 * get past the first checks.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "displif_proto.h"
#include "fuzz_codec.h"

static int seed_write(const char *dir, const char *name, const void *buf, size_t len)
{
	char path[4096];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		return -1;
	n = fwrite(buf, 1, len, f);
	return fclose(f) == 0 && n == len ? 0 : -1;
}

static int seed_req(const char *dir, const char *name, const struct xendispl_req *r)
{
	uint8_t buf[1 + sizeof(*r)];

	buf[0] = FUZZ_MODE_REQUEST;
	memcpy(buf + 1, r, sizeof(*r));
	return seed_write(dir, name, buf, sizeof(buf));
}

static int seed_requests(const char *dir)
{
	struct xendispl_req r;
	int ret = 0;

	memset(&r, 0, sizeof(r));
	r.operation = XENDISPL_OP_DBUF_CREATE;
	r.op.dbuf_create.dbuf_cookie = 1;
	r.op.dbuf_create.width = 1366;
	r.op.dbuf_create.height = 768;
	r.op.dbuf_create.bpp = 24;
	r.op.dbuf_create.buffer_sz = 4098 * 768;
	r.op.dbuf_create.gref_directory = 8;
	ret |= seed_req(dir, "dbuf_create", &r);

	memset(&r, 0, sizeof(r));
	r.operation = XENDISPL_OP_FB_ATTACH;
	r.op.fb_attach.dbuf_cookie = 1;
	r.op.fb_attach.fb_cookie = 2;
	r.op.fb_attach.width = 1366;
	r.op.fb_attach.height = 768;
	r.op.fb_attach.pixel_format = VD_FOURCC('R', 'G', '2', '4');
	ret |= seed_req(dir, "fb_attach", &r);

	memset(&r, 0, sizeof(r));
	r.operation = XENDISPL_OP_SET_CONFIG;
	r.op.set_config.fb_cookie = 2;
	r.op.set_config.width = 1366;
	r.op.set_config.height = 768;
	r.op.set_config.bpp = 24;
	ret |= seed_req(dir, "set_config", &r);

	memset(&r, 0, sizeof(r));
	r.operation = XENDISPL_OP_GET_EDID;
	r.op.get_edid.buffer_sz = XENDISPL_EDID_MAX_SIZE;
	r.op.get_edid.gref_directory = 9;
	ret |= seed_req(dir, "get_edid", &r);
	return ret;
}

/* A valid two-page directory for 1030 grefs; page 0 links to gref 77. */
static int seed_pgdir(const char *dir)
{
	static uint8_t buf[1 + 8 + 2 * VD_PAGE_SIZE];
	const uint32_t hdr[2] = {1030 * VD_PAGE_SIZE, 0}, next = 77;
	uint8_t *pages = buf + 1 + sizeof(hdr);
	uint32_t i;

	buf[0] = FUZZ_MODE_PGDIR;
	memcpy(buf + 1, hdr, sizeof(hdr));
	memcpy(pages, &next, sizeof(next));
	for (i = 0; i < 1030; i++) {
		uint32_t g = 100 + i;
		size_t off = (i / 1023) * VD_PAGE_SIZE + 4 * (1 + i % 1023);

		memcpy(pages + off, &g, sizeof(g));
	}
	return seed_write(dir, "pgdir_2pages", buf, sizeof(buf));
}

int main(int argc, char **argv)
{
	static const uint8_t evt[] = {FUZZ_MODE_EVT_RING, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0};
	static const uint8_t stride[] = {FUZZ_MODE_STRIDE_EDID, 0x56, 5, 0, 0, 0, 3, 0, 0,
					 24, 0, 0, 0, 0, 0x20, 0x30, 0};

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	if (seed_requests(argv[1]) || seed_pgdir(argv[1]) ||
	    seed_write(argv[1], "evt_ring", evt, sizeof(evt)) ||
	    seed_write(argv[1], "stride_edid", stride, sizeof(stride))) {
		perror("fuzz_seed");
		return 1;
	}
	return 0;
}
