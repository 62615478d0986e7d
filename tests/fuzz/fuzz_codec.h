/* SPDX-License-Identifier: MIT */
/* Input layout shared by fuzz_codec and its corpus seeder. */
#ifndef VD_FUZZ_CODEC_H
#define VD_FUZZ_CODEC_H

/* Byte 0 of an input, modulo FUZZ_MODE_COUNT. */
enum fuzz_mode {
	FUZZ_MODE_REQUEST,     /* 64-byte xendispl_req */
	FUZZ_MODE_PGDIR,       /* u32 buffer_sz, u32 mode (bit 0 fill), then directory pages */
	FUZZ_MODE_EVT_RING,    /* u32 in_cons values, one per event */
	FUZZ_MODE_STRIDE_EDID, /* u32 width, height, bpp, buffer_sz */
	FUZZ_MODE_COUNT,
};

#endif
