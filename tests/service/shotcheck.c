/* SPDX-License-Identifier: MIT */
/*
 * shotcheck FILE.png DOMID CONNECTOR: exit 0 if the PNG is exactly a frame
 * the simulated guest (DOMID, CONNECTOR) drew (XRGB8888 shown as RGB).
 * The X bytes do not survive PNG, so the frame number's and the seed's
 * top bytes are taken as 0 and the seed's low 24 bits must match.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "simfront/simfront.h"
#include "simfront/simfront_priv.h"

static png_bytep *read_png(const char *path, png_uint_32 *w, png_uint_32 *h)
{
	png_image img = {.version = PNG_IMAGE_VERSION};
	png_bytep buf, *rows;

	if (!png_image_begin_read_from_file(&img, path))
		return NULL;
	img.format = PNG_FORMAT_RGB;
	buf = malloc(PNG_IMAGE_SIZE(img));
	rows = malloc(img.height * sizeof(*rows));
	if (!buf || !rows || !png_image_finish_read(&img, NULL, buf, 0, NULL))
		return NULL;
	for (png_uint_32 y = 0; y < img.height; y++)
		rows[y] = buf + (size_t)y * img.width * 3;
	*w = img.width;
	*h = img.height;
	return rows;
}

int main(int argc, char **argv)
{
	png_uint_32 w, h;
	png_bytep *rows;
	uint32_t seed, frame, got_seed;
	uint8_t *expect;

	if (argc != 4)
		return fprintf(stderr, "usage: shotcheck FILE.png DOMID CONNECTOR\n"), 2;
	rows = read_png(argv[1], &w, &h);
	if (!rows)
		return fprintf(stderr, "shotcheck: cannot read %s\n", argv[1]), 1;
	seed = vd_simfront_seed((uint32_t)atoi(argv[2]), (uint32_t)atoi(argv[3]));
	frame = rows[0][2] | rows[0][1] << 8 | (uint32_t)rows[0][0] << 16;
	got_seed = rows[0][5] | rows[0][4] << 8 | (uint32_t)rows[0][3] << 16;
	if (got_seed != (seed & 0xffffff))
		return fprintf(stderr, "shotcheck: seed %06x, want %06x\n", got_seed,
			       seed & 0xffffff), 1;
	expect = malloc((size_t)w * h * 4);
	sf_draw(expect, w * 4, w * 4, h, frame, seed);
	for (png_uint_32 y = 0; y < h; y++)
		for (png_uint_32 x = 0; x < w; x++) {
			const uint8_t *e = expect + ((size_t)y * w + x) * 4, *p = rows[y] + x * 3;

			if (p[0] != e[2] || p[1] != e[1] || p[2] != e[0])
				return fprintf(stderr, "shotcheck: pixel %u,%u differs\n", x, y), 1;
		}
	free(expect);
	free(rows[0]);
	free(rows);
	printf("shotcheck: %ux%u frame %u of dom%s connector %s: exact\n", w, h, frame, argv[2],
	       argv[3]);
	return 0;
}
