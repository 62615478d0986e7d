/* SPDX-License-Identifier: MIT */
/* The scripted input source: a queue of events delivered from the loop. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "input/source.h"

struct script_source {
	struct vd_input_source base;
	sd_event_source *timer;
	vd_input_sink sink;
	void *userdata;
	struct vd_input_event *evs;
	size_t len, cap;
};

static const struct vd_input_source_impl script_impl;

/* The base is the first member; impl callbacks only get script sources. */
static struct script_source *script_of(struct vd_input_source *src)
{
	return (struct script_source *)src;
}

static struct script_source *script_from(struct vd_input_source *src)
{
	return src && src->impl == &script_impl ? script_of(src) : NULL;
}

/* Delivered in one go: the sink may feed more, those wait for the next run. */
static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct script_source *ss = userdata;
	size_t n = ss->len;
	struct vd_input_event *evs = ss->evs;

	ss->evs = NULL;
	ss->len = ss->cap = 0;
	for (size_t i = 0; i < n; i++)
		ss->sink(ss->userdata, &evs[i]);
	free(evs);
	return 0;
}

/* An elapsed timer (as conn.c): runs after the sources already pending. */
static void arm(struct script_source *ss)
{
	if (ss->timer && ss->len)
		sd_event_source_set_enabled(ss->timer, SD_EVENT_ONESHOT);
}

static int script_start(struct vd_input_source *src, sd_event *loop, vd_input_sink sink,
			void *userdata)
{
	struct script_source *ss = script_of(src);
	int r;

	ss->sink = sink;
	ss->userdata = userdata;
	r = sd_event_add_time(loop, &ss->timer, CLOCK_MONOTONIC, 0, 1, on_timer, ss);
	if (r >= 0)
		r = sd_event_source_set_enabled(ss->timer, SD_EVENT_OFF);
	arm(ss);
	return r;
}

static void script_destroy(struct vd_input_source *src)
{
	struct script_source *ss = script_of(src);

	sd_event_source_disable_unref(ss->timer);
	free(ss->evs);
	free(ss);
}

static const struct vd_input_source_impl script_impl = {
    .name = "script",
    .start = script_start,
    .destroy = script_destroy,
};

int vd_input_script_create(struct vd_input_source **ret_src)
{
	struct script_source *ss = calloc(1, sizeof(*ss));

	if (!ss)
		return -ENOMEM;
	ss->base.impl = &script_impl;
	*ret_src = &ss->base;
	return 0;
}

int vd_input_script_feed(struct vd_input_source *src, const struct vd_input_event *evs, size_t n)
{
	struct script_source *ss = script_from(src);

	if (!ss)
		return -EINVAL;
	if (ss->len + n > ss->cap) {
		size_t cap = (ss->len + n) * 2;
		struct vd_input_event *p = realloc(ss->evs, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		ss->evs = p;
		ss->cap = cap;
	}
	memcpy(ss->evs + ss->len, evs, n * sizeof(*evs));
	ss->len += n;
	arm(ss);
	return 0;
}

void vd_input_source_destroy(struct vd_input_source *src)
{
	if (src)
		src->impl->destroy(src);
}
