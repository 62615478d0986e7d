/* SPDX-License-Identifier: MIT */
/*
 * Screenshots off the event loop (shot.h): the copy a slice per loop
 * turn, the encoding in one worker thread. The worker only ever touches a
 * shot's private copy and path; everything else belongs to the loop.
 */
#include "output/shot.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "output/png.h"

/* A frame that changes under the copy restarts it this often, then the copy goes on. */
#define MAX_RESTARTS 2u
#define WORKER_NICE 10

struct vd_output_shot {
	struct vd_shot_service *svc;
	struct vd_output_shot *next; /* on the worker's queue, then on finished */
	vd_shot_source read;
	void *source;                /* NULL once gone */
	char *path;
	vd_output_shot_done done;
	void *userdata;
	struct vd_frame_view view;   /* geometry being copied (pixels: not kept) */
	uint32_t canvas_w, canvas_h;
	uint32_t restarts;
	uint8_t *copy;
	size_t row, size;
	uint32_t rows; /* copied so far */
	sd_event_source *slice;
	int status;     /* the worker's result */
	bool encoding, cancelled;
};

struct vd_shot_service {
	sd_event *loop;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct vd_output_shot *todo, **todo_tail; /* lock */
	struct vd_output_shot *finished;          /* lock */
	bool stop;                                /* lock */
	int efd;
	sd_event_source *efd_src;
	uint64_t held; /* loop only */
};

/* ---- the worker ---- */

static struct vd_output_shot *worker_next(struct vd_shot_service *svc)
{
	struct vd_output_shot *shot;

	pthread_mutex_lock(&svc->lock);
	while (!svc->todo && !svc->stop)
		pthread_cond_wait(&svc->cond, &svc->lock);
	shot = svc->todo;
	if (shot) {
		svc->todo = shot->next;
		if (!svc->todo)
			svc->todo_tail = &svc->todo;
	}
	pthread_mutex_unlock(&svc->lock);
	return shot;
}

static void *worker(void *arg)
{
	struct vd_shot_service *svc = arg;
	struct vd_output_shot *shot;
	uint64_t one = 1;

	/*
	 * Encoding is what can wait: at nice 10 the thread gets about a tenth
	 * of a core the event loop wants, so a guest's 64 MiB capture does not
	 * delay another guest's flips. Linux sets the nice value per thread.
	 */
	if (setpriority(PRIO_PROCESS, (id_t)gettid(), WORKER_NICE) < 0)
		vd_debug("screenshot worker: cannot lower its priority: %s", strerror(errno));
	while ((shot = worker_next(svc))) {
		struct vd_frame_view v = shot->view;

		v.pixels = shot->copy;
		v.stride = (uint32_t)shot->row;
		shot->status = vd_png_write_canvas(shot->path, &v, shot->canvas_w, shot->canvas_h);
		free(shot->copy);
		shot->copy = NULL;
		pthread_mutex_lock(&svc->lock);
		shot->next = svc->finished;
		svc->finished = shot;
		pthread_mutex_unlock(&svc->lock);
		if (write(svc->efd, &one, sizeof(one)) < 0)
			continue; /* the counter cannot overflow with one write per shot */
	}
	return NULL;
}

/* ---- the loop's side ---- */

static void shot_free(struct vd_output_shot *shot)
{
	sd_event_source_disable_unref(shot->slice);
	free(shot->copy);
	free(shot->path);
	free(shot);
}

static void release_bytes(struct vd_output_shot *shot)
{
	shot->svc->held -= shot->size;
	shot->size = 0;
}

/* While copying: the end, with status, told. */
static void copy_end(struct vd_output_shot *shot, int status)
{
	vd_output_shot_done done = shot->cancelled ? NULL : shot->done;
	void *userdata = shot->userdata;

	release_bytes(shot);
	shot_free(shot);
	if (done)
		done(userdata, status);
}

static int on_finished(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct vd_shot_service *svc = userdata;
	struct vd_output_shot *list, *shot;
	uint64_t n;

	if (read(svc->efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return 0;
	pthread_mutex_lock(&svc->lock);
	list = svc->finished;
	svc->finished = NULL;
	pthread_mutex_unlock(&svc->lock);
	while ((shot = list)) {
		list = shot->next;
		if (shot->status < 0 && !shot->cancelled)
			vd_log_rl(LOG_WARNING, "screenshot %s: %s", shot->path, strerror(-shot->status));
		copy_end(shot, shot->status);
	}
	return 0;
}

static void queue_encode(struct vd_output_shot *shot)
{
	struct vd_shot_service *svc = shot->svc;

	shot->slice = sd_event_source_disable_unref(shot->slice);
	shot->encoding = true;
	shot->next = NULL;
	pthread_mutex_lock(&svc->lock);
	*svc->todo_tail = shot;
	svc->todo_tail = &shot->next;
	pthread_cond_signal(&svc->cond);
	pthread_mutex_unlock(&svc->lock);
}

static bool same_geometry(const struct vd_frame_view *a, const struct vd_frame_view *b)
{
	return a->width == b->width && a->height == b->height && a->fourcc == b->fourcc &&
	       a->bpp == b->bpp;
}

/* Copy up to a slice of rows from what the source shows now; true when all are copied. */
static int copy_slice(struct vd_output_shot *shot)
{
	struct vd_frame_view v;
	uint32_t n;

	if (!shot->source || !shot->read(shot->source, &v))
		return -ENODATA;
	if (!same_geometry(&v, &shot->view))
		return -ESTALE; /* the picture changed size or format */
	if (v.seq != shot->view.seq && shot->rows && shot->restarts < MAX_RESTARTS) {
		shot->restarts++;
		shot->rows = 0;
	}
	shot->view.seq = v.seq;
	n = (uint32_t)(VD_SHOT_SLICE_BYTES / shot->row);
	if (n == 0)
		n = 1;
	if (n > v.height - shot->rows)
		n = v.height - shot->rows;
	for (uint32_t y = shot->rows; y < shot->rows + n; y++)
		memcpy(shot->copy + (size_t)y * shot->row, v.pixels + (size_t)y * v.stride, shot->row);
	shot->rows += n;
	return shot->rows == v.height;
}

static int on_slice(sd_event_source *s, void *userdata)
{
	struct vd_output_shot *shot = userdata;
	int r = copy_slice(shot);

	if (r < 0)
		copy_end(shot, r);
	else if (r)
		queue_encode(shot);
	return 0;
}

int vd_shot_start(struct vd_shot_service *svc, vd_shot_source read, void *source,
		  uint32_t canvas_w, uint32_t canvas_h, const char *path, vd_output_shot_done done,
		  void *userdata, struct vd_output_shot **ret_shot)
{
	struct vd_output_shot *shot;
	struct vd_frame_view v;
	size_t row, size;
	int r;

	if (!read(source, &v) || !v.width || !v.height || v.bpp % 8)
		return -ENODATA;
	row = (size_t)v.width * (v.bpp / 8);
	size = row * v.height;
	if (svc->held + size > VD_SHOT_MAX_BYTES)
		return -EBUSY;
	shot = calloc(1, sizeof(*shot));
	if (!shot)
		return -ENOMEM;
	*shot = (struct vd_output_shot){
		.svc = svc, .read = read, .source = source, .done = done, .userdata = userdata,
		.view = v, .canvas_w = canvas_w, .canvas_h = canvas_h, .row = row, .size = size,
	};
	shot->path = strdup(path);
	shot->copy = malloc(size);
	r = shot->path && shot->copy ? 0 : -ENOMEM;
	if (r >= 0)
		r = sd_event_add_defer(svc->loop, &shot->slice, on_slice, shot);
	if (r >= 0) /* a defer source fires once by default: a slice every turn instead */
		r = sd_event_source_set_enabled(shot->slice, SD_EVENT_ON);
	if (r >= 0)
		r = sd_event_source_set_priority(shot->slice, SD_EVENT_PRIORITY_IDLE);
	if (r < 0) {
		shot->size = 0;
		shot_free(shot);
		return r;
	}
	svc->held += size;
	if (ret_shot)
		*ret_shot = shot;
	return 0;
}

void vd_shot_copy_now(struct vd_output_shot *shot)
{
	int r;

	if (!shot || shot->encoding)
		return;
	while ((r = copy_slice(shot)) == 0)
		;
	if (r < 0)
		copy_end(shot, r);
	else
		queue_encode(shot);
}

void vd_shot_source_gone(struct vd_output_shot *shot, int status)
{
	if (!shot)
		return;
	shot->source = NULL;
	if (!shot->encoding)
		copy_end(shot, status);
}

void vd_shot_cancel(struct vd_output_shot *shot)
{
	if (!shot)
		return;
	shot->cancelled = true;
	shot->source = NULL;
	if (!shot->encoding)
		copy_end(shot, -ECANCELED);
}

uint64_t vd_shot_bytes_held(const struct vd_shot_service *svc)
{
	return svc->held;
}

/* ---- the service ---- */

/*
 * The worker blocks every signal: the loop takes SIGTERM, SIGHUP, ... as
 * events (signalfd), and a thread with them unblocked would be the one the
 * kernel picks to die of them.
 */
static int start_worker(struct vd_shot_service *svc)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&svc->thread, NULL, worker, svc);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	svc->started = r == 0;
	return r;
}

int vd_shot_service_create(sd_event *loop, struct vd_shot_service **ret_svc)
{
	struct vd_shot_service *svc = calloc(1, sizeof(*svc));
	int r;

	if (!svc)
		return -ENOMEM;
	svc->loop = loop;
	svc->todo_tail = &svc->todo;
	pthread_mutex_init(&svc->lock, NULL);
	pthread_cond_init(&svc->cond, NULL);
	svc->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r = svc->efd < 0 ? -errno : 0;
	if (r >= 0)
		r = sd_event_add_io(loop, &svc->efd_src, svc->efd, EPOLLIN, on_finished, svc);
	if (r >= 0)
		r = start_worker(svc);
	if (r < 0) {
		vd_shot_service_destroy(svc);
		return r;
	}
	*ret_svc = svc;
	return 0;
}

void vd_shot_service_destroy(struct vd_shot_service *svc)
{
	struct vd_output_shot *shot;

	if (!svc)
		return;
	if (svc->started) {
		pthread_mutex_lock(&svc->lock);
		svc->stop = true;
		pthread_cond_signal(&svc->cond);
		pthread_mutex_unlock(&svc->lock);
		pthread_join(svc->thread, NULL); /* what was queued is written first */
	}
	while ((shot = svc->finished)) {
		svc->finished = shot->next;
		shot_free(shot);
	}
	sd_event_source_disable_unref(svc->efd_src);
	if (svc->efd >= 0)
		close(svc->efd);
	pthread_cond_destroy(&svc->cond);
	pthread_mutex_destroy(&svc->lock);
	free(svc);
}
