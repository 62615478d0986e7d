/* SPDX-License-Identifier: MIT */
/* Between config.c (files, sections, loading) and config_keys.c (keys and their values). */
#ifndef VD_CONFIG_PRIV_H
#define VD_CONFIG_PRIV_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"

/* A key set in the file being parsed (duplicates are errors). */
struct seen_key {
	char key[64];
	bool in_section;
	unsigned line;
};

/* One file being parsed, or the command line (option set). */
struct parse {
	struct vd_config *cfg;
	const char *file;
	const char *option; /* a command-line override: "--output"; NULL in a file */
	FILE *f;
	unsigned line;
	bool line_done;    /* the last read ended a line */
	bool guest_file;   /* guests.d/: no sections, no global keys */
	bool default_file; /* guests.d/default.conf */
	struct vd_guest_conf *guest; /* where guest keys go */
	bool inputs_set;   /* this file set input= already (replaces, not appends) */
	const char *val;   /* the value being checked (for hints), or NULL */
	/* Sections as read_line saw their headers */
	unsigned default_line; /* where [default] began, 0 none yet */
	bool section_bad;      /* the current section was refused: its keys are skipped */
	struct seen_key *seen;
	size_t nseen, seen_cap;
	unsigned errors;
	vd_config_err_fn err;
	void *userdata;
};

void vd_config_report(vd_config_err_fn err, void *userdata, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "FILE:LINE: KEY: what" (or "OPTION: what"), counted as an error. Returns 0. */
int vd_config_bad(struct parse *p, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A key of its kind: 1 applied, 0 refused (reported), -ENOENT not such a key. */
int vd_config_guest_key(struct parse *p, const char *key, const char *val);
int vd_config_global_key(struct parse *p, const char *key, const char *val);
bool vd_config_is_global_key(const char *key);
bool vd_config_is_guest_key(const char *key);

#endif
