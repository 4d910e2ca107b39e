// SPDX-License-Identifier: MIT
/*
 * The rbd engine: a Ceph RBD image through librbd's asynchronous API,
 * rbd:POOL/IMAGE[@SNAP][:conf=PATH][:id=NAME].
 *
 * Open: one rados cluster handle per (conf, id), shared by every device
 * that names the same pair and reference-counted (opens and closes run on
 * device job threads, several at once: the list is under a lock, see
 * struct rbd_cluster); one ioctx and one
 * rbd_image_t per device, used by all of its queues (librbd image handles
 * take concurrent aio from any thread). A snapshot is opened read-only.
 * Nothing in ceph.conf is overridden except two timeouts, and only where
 * ceph.conf leaves them longer or unset (rbd_apply_timeouts): the rbd cache
 * settings are librbd's to read.
 *
 * Data path: reads and writes are rbd_aio_readv / rbd_aio_writev on the
 * request's own iovecs: vha copies nothing. librbd either copies a write's
 * buffers itself (rbd_disable_zero_copy_writes, true by default, or a
 * writeback cache) or holds the completion until its last reference to them
 * is gone, and fills a read's iovecs before completing it; either way
 * ENGINE_IO_TRANSIENT mappings are safe to unmap at completion. A flush is rbd_aio_flush; a flush with data (blkif's
 * barrier write, or the flush with payload blkfront sends for FUA) writes
 * the data first and flushes when that write has completed: blkif has no
 * FUA bit, and write-then-flush is what FUA means on any rbd cache setting.
 * ENGINE_IO_DRAIN is kept by the engine: a draining I/O waits until nothing
 * of its queue is in flight, and what is submitted after it waits until it
 * completes. A discard is rbd_aio_discard (librbd zeroes or skips partial
 * objects per rbd_skip_partial_discard; either is what a discard allows and
 * whole objects are removed, returning their space).
 *
 * Completions: librbd calls back on its own threads. The callback takes
 * the result, releases the completion, and hands the engine_io to the
 * worker through engine_complete_async. It starts nothing itself: the
 * second half of a flush with data (the flush) is started by the worker in
 * reap, which the eventfd wakes.
 *
 * Resize: rbd_update_watch tells of header changes on a librbd thread; a
 * small thread per image then asks rbd_get_size (a librbd call that may
 * wait for a header refresh, which must not run on the watch callback's
 * thread nor on the main thread) and stores the answer, which size()
 * returns without blocking.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rados/librados.h>
#include <rbd/librbd.h>

#include "backend.h"

#define RBD_DEFAULT_CONF "/etc/ceph/ceph.conf"
/*
 * An attach waits on it (on the device's job thread): an unreachable
 * monitor must fail it in bounded time (librados' default is 300 s).
 * ceph.conf may set less.
 */
#define RBD_CONNECT_TIMEOUT_S 10
/*
 * An OSD that does not answer: I/O waits (the guest sees latency) up to
 * this long, then fails. Used when ceph.conf sets no rados_osd_op_timeout
 * (0, librados' "forever", which would also let rbd_open hang the main
 * thread on a cluster whose OSDs are all down).
 */
#define RBD_OSD_OP_TIMEOUT_S 60

/*
 * A rados cluster handle shared by the devices that name the same conf and
 * id. Devices open and close on their own job threads (device.c), so the
 * list is under clusters_lock; the connect itself (up to
 * RBD_CONNECT_TIMEOUT_S) runs unlocked, and a second device of the same
 * cluster waits for its outcome on clusters_cond rather than connecting
 * twice. A cluster that failed to connect leaves the list at once: the next
 * open tries again.
 */
struct rbd_cluster {
	struct rbd_cluster *next;
	char conf[VHA_TARGET_PATH_MAX];
	char id[VHA_TARGET_NAME_MAX];
	rados_t rados;                  /* NULL once a failed connect shut it down */
	unsigned int refs;              /* under clusters_lock */
	int state;                      /* under clusters_lock: 1 connecting, 0 connected, -errno failed */
	char why[128];                  /* failed: why, for every device that waited */
};

static pthread_mutex_t clusters_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t clusters_cond = PTHREAD_COND_INITIALIZER;
static struct rbd_cluster *clusters;    /* under clusters_lock */

/* One open image (engine.priv). */
struct rbd_dev {
	struct rbd_cluster *cluster;
	rados_ioctx_t ioctx;
	rbd_image_t image;
	bool watching;
	uint64_t watch_handle;
	/* The resize thread: woken by the update watch, it asks librbd for the size. */
	pthread_t size_thread;
	bool size_thread_running;
	pthread_mutex_t size_lock;
	pthread_cond_t size_cond;
	bool size_changed;              /* under size_lock */
	bool size_quit;                 /* under size_lock */
	uint64_t size;                  /* atomic: what librbd last said */
};

struct rbd_queue;

/* One I/O in librbd's hands: the completion's argument. */
struct rbd_io {
	struct rbd_queue *rq;
	struct engine_io *io;
	bool flush_next;                /* a flush's data write: the flush follows */
	struct rbd_io *next_free;
};

/* Per queue (engine_queue.priv). */
struct rbd_queue {
	struct engine_queue *eq;
	struct rbd_dev *dev;
	struct rbd_io *ios;             /* depth of them */
	struct rbd_io *free_worker;     /* the worker's own free list */
	struct rbd_io *free_returned;   /* atomic: pushed by callbacks, taken whole by the worker */
	unsigned int inflight;          /* atomic: I/Os in librbd (a flush with data counts once) */
	/* Draining: the worker's. */
	struct engine_io *wait_head, *wait_tail;        /* submitted, not started (behind a drain) */
	bool drain_running;             /* a drain is in flight: nothing else starts */
	struct rbd_io *flush_ready;     /* atomic: a flush's data is written; the worker starts the flush */
};

/* Timeouts (see above): lowered to vha's, never raised; errors ignored (librados keeps its default). */
static void rbd_apply_timeouts(rados_t rados)
{
	char buf[32];

	if (rados_conf_get(rados, "client_mount_timeout", buf, sizeof(buf)) < 0 ||
	    strtod(buf, NULL) <= 0 || strtod(buf, NULL) > RBD_CONNECT_TIMEOUT_S) {
		snprintf(buf, sizeof(buf), "%d", RBD_CONNECT_TIMEOUT_S);
		rados_conf_set(rados, "client_mount_timeout", buf);
	}
	if (rados_conf_get(rados, "rados_mon_op_timeout", buf, sizeof(buf)) < 0 ||
	    strtod(buf, NULL) <= 0 || strtod(buf, NULL) > RBD_CONNECT_TIMEOUT_S) {
		snprintf(buf, sizeof(buf), "%d", RBD_CONNECT_TIMEOUT_S);
		rados_conf_set(rados, "rados_mon_op_timeout", buf);
	}
	if (rados_conf_get(rados, "rados_osd_op_timeout", buf, sizeof(buf)) < 0 || strtod(buf, NULL) <= 0) {
		snprintf(buf, sizeof(buf), "%d", RBD_OSD_OP_TIMEOUT_S);
		rados_conf_set(rados, "rados_osd_op_timeout", buf);
	}
}

/* Under clusters_lock: take c out of the list (a no-op when it left already). */
static void cluster_unlink(struct rbd_cluster *c)
{
	for (struct rbd_cluster **p = &clusters; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
}

static void cluster_put(struct rbd_cluster *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&clusters_lock);
	if (--c->refs > 0) {
		pthread_mutex_unlock(&clusters_lock);
		return;
	}
	cluster_unlink(c);
	pthread_mutex_unlock(&clusters_lock);
	if (c->rados)
		rados_shutdown(c->rados);
	free(c);
}

/* Create and connect c->rados (unlocked: it may take RBD_CONNECT_TIMEOUT_S). 0 or -errno with c->why set. */
static int cluster_connect(struct rbd_cluster *c)
{
	int rc = rados_create(&c->rados, c->id[0] ? c->id : NULL);

	if (rc < 0) {
		c->rados = NULL;
		snprintf(c->why, sizeof(c->why), "rados_create (client id '%.64s'): %s", c->id, strerror(-rc));
		return rc;
	}
	rc = rados_conf_read_file(c->rados, c->conf);
	if (rc < 0) {
		snprintf(c->why, sizeof(c->why), "cannot read ceph conf %.80s: %s", c->conf, strerror(-rc));
		return rc;
	}
	rbd_apply_timeouts(c->rados);
	rc = rados_connect(c->rados);
	if (rc < 0)
		snprintf(c->why, sizeof(c->why), "cannot connect to the Ceph cluster of %.60s: %s", c->conf,
			 strerror(-rc));
	return rc;
}

/* The connected cluster for (conf, id), shared. Returns 0 or -errno with why set. */
static int cluster_get(struct engine *e, const char *conf, const char *id, struct rbd_cluster **out)
{
	struct rbd_cluster *c;
	int rc;

	pthread_mutex_lock(&clusters_lock);
	for (c = clusters; c; c = c->next)
		if (strcmp(c->conf, conf) == 0 && strcmp(c->id, id) == 0)
			break;
	if (c) {
		c->refs++;
		while (c->state > 0)
			pthread_cond_wait(&clusters_cond, &clusters_lock);
		rc = c->state;
		if (rc < 0)
			snprintf(e->why, sizeof(e->why), "%s", c->why);
		pthread_mutex_unlock(&clusters_lock);
		if (rc < 0) {
			cluster_put(c);
			return rc;
		}
		*out = c;
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		pthread_mutex_unlock(&clusters_lock);
		return -ENOMEM;
	}
	snprintf(c->conf, sizeof(c->conf), "%s", conf);
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->refs = 1;
	c->state = 1;
	c->next = clusters;
	clusters = c;
	pthread_mutex_unlock(&clusters_lock);

	rc = cluster_connect(c);
	if (rc < 0 && c->rados) {
		rados_shutdown(c->rados);
		c->rados = NULL;
	}
	pthread_mutex_lock(&clusters_lock);
	c->state = rc < 0 ? rc : 0;
	if (rc < 0)
		cluster_unlink(c);      /* the next open connects afresh */
	pthread_cond_broadcast(&clusters_cond);
	pthread_mutex_unlock(&clusters_lock);
	if (rc < 0) {
		snprintf(e->why, sizeof(e->why), "%s", c->why);
		cluster_put(c);
		return rc;
	}
	*out = c;
	return 0;
}

static void *size_thread(void *arg)
{
	struct rbd_dev *d = arg;

	pthread_mutex_lock(&d->size_lock);
	for (;;) {
		uint64_t size;

		while (!d->size_changed && !d->size_quit)
			pthread_cond_wait(&d->size_cond, &d->size_lock);
		if (d->size_quit)
			break;
		d->size_changed = false;
		pthread_mutex_unlock(&d->size_lock);
		if (rbd_get_size(d->image, &size) == 0)
			__atomic_store_n(&d->size, size, __ATOMIC_RELEASE);
		pthread_mutex_lock(&d->size_lock);
	}
	pthread_mutex_unlock(&d->size_lock);
	return NULL;
}

/* librbd thread: the image header changed (a resize, a snapshot...). */
static void rbd_header_changed(void *arg)
{
	struct rbd_dev *d = arg;

	pthread_mutex_lock(&d->size_lock);
	d->size_changed = true;
	pthread_cond_signal(&d->size_cond);
	pthread_mutex_unlock(&d->size_lock);
}

static void rbd_engine_close(struct engine *e)
{
	struct rbd_dev *d = e->priv;

	if (!d)
		return;
	/* The watch first: no callback may wake a thread that is gone. */
	if (d->watching)
		rbd_update_unwatch(d->image, d->watch_handle);
	if (d->size_thread_running) {
		pthread_mutex_lock(&d->size_lock);
		d->size_quit = true;
		pthread_cond_signal(&d->size_cond);
		pthread_mutex_unlock(&d->size_lock);
		pthread_join(d->size_thread, NULL);
	}
	if (d->image)
		rbd_close(d->image);
	if (d->ioctx)
		rados_ioctx_destroy(d->ioctx);
	cluster_put(d->cluster);
	pthread_cond_destroy(&d->size_cond);
	pthread_mutex_destroy(&d->size_lock);
	free(d);
	e->priv = NULL;
}

static int rbd_engine_open(struct engine *e, const struct vha_target_spec *spec, bool writable)
{
	const char *conf = spec->path[0] ? spec->path : RBD_DEFAULT_CONF;
	bool readonly = !writable || spec->snap[0];
	struct rbd_dev *d;
	uint64_t size;
	int rc;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	pthread_mutex_init(&d->size_lock, NULL);
	pthread_cond_init(&d->size_cond, NULL);
	e->priv = d;
	rc = cluster_get(e, conf, spec->id, &d->cluster);
	if (rc < 0)
		return rc;
	rc = rados_ioctx_create(d->cluster->rados, spec->pool, &d->ioctx);
	if (rc < 0) {
		d->ioctx = NULL;
		snprintf(e->why, sizeof(e->why), "rbd pool %.64s: %s", spec->pool, strerror(-rc));
		return rc;
	}
	if (readonly)
		rc = rbd_open_read_only(d->ioctx, spec->image, &d->image, spec->snap[0] ? spec->snap : NULL);
	else
		rc = rbd_open(d->ioctx, spec->image, &d->image, NULL);
	if (rc < 0) {
		d->image = NULL;
		snprintf(e->why, sizeof(e->why), "rbd image %.40s/%.40s%s%.24s: %s", spec->pool, spec->image,
			 spec->snap[0] ? "@" : "", spec->snap, strerror(-rc));
		return rc;
	}
	rc = rbd_get_size(d->image, &size);
	if (rc < 0) {
		snprintf(e->why, sizeof(e->why), "rbd image size: %s", strerror(-rc));
		return rc;
	}
	d->size = size;
	rc = pthread_create(&d->size_thread, NULL, size_thread, d);
	if (rc != 0)
		return -rc;
	d->size_thread_running = true;
	/* A snapshot never changes size: no watch. Without a watch the size stays as opened. */
	if (!spec->snap[0]) {
		rc = rbd_update_watch(d->image, &d->watch_handle, rbd_header_changed, d);
		if (rc < 0) {
			snprintf(e->why, sizeof(e->why), "rbd update watch: %s", strerror(-rc));
			return rc;
		}
		d->watching = true;
		/* A resize between rbd_get_size and the watch would go unseen: ask once more. */
		rbd_header_changed(d);
	}
	e->size = size;
	e->logical_block = 512;
	e->physical_block = 4096;
	e->readonly = readonly;
	e->discard = !readonly;
	e->discard_secure = false;
	e->write_zeroes = !readonly;    /* rbd_aio_write_zeroes (librbd >= 15), unused by blkif */
	e->direct = false;
	e->buffered_transient = false;
	return 0;
}

static int64_t rbd_engine_size(struct engine *e)
{
	struct rbd_dev *d = e->priv;

	return (int64_t)__atomic_load_n(&d->size, __ATOMIC_ACQUIRE);
}

static void rbd_queue_close(struct engine_queue *eq)
{
	struct rbd_queue *rq = eq->priv;

	if (!rq)
		return;
	free(rq->ios);
	free(rq);
	eq->priv = NULL;
}

static int rbd_queue_open(struct engine_queue *eq, unsigned int depth)
{
	struct rbd_queue *rq = calloc(1, sizeof(*rq));

	if (!rq)
		return -ENOMEM;
	eq->priv = rq;
	rq->eq = eq;
	rq->dev = eq->engine->priv;
	rq->ios = calloc(depth ? depth : 1, sizeof(*rq->ios));
	if (!rq->ios)
		return -ENOMEM;
	for (unsigned int i = 0; i < depth; i++) {
		rq->ios[i].rq = rq;
		rq->ios[i].next_free = rq->free_worker;
		rq->free_worker = &rq->ios[i];
	}
	/* Callbacks write notify_fd: engine_reap drains it. */
	eq->notify_used = true;
	return 0;
}

/* Worker: a free rbd_io, or NULL (more in flight than queue_open's depth). */
static struct rbd_io *rio_get(struct rbd_queue *rq)
{
	struct rbd_io *r = rq->free_worker;

	if (!r)
		/* Taken whole: with a single taker the lock-free stack has no ABA. */
		r = __atomic_exchange_n(&rq->free_returned, NULL, __ATOMIC_ACQUIRE);
	if (r)
		rq->free_worker = r->next_free;
	return r;
}

/* Any thread: give r back. */
static void rio_put(struct rbd_queue *rq, struct rbd_io *r)
{
	struct rbd_io *head = __atomic_load_n(&rq->free_returned, __ATOMIC_RELAXED);

	do
		r->next_free = head;
	while (!__atomic_compare_exchange_n(&rq->free_returned, &head, r, true, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED));
}

/* librbd thread: one aio finished. */
static void rbd_aio_done(rbd_completion_t c, void *arg)
{
	struct rbd_io *r = arg;
	struct rbd_queue *rq = r->rq;
	struct engine_io *io = r->io;
	struct engine_queue *eq = rq->eq;
	ssize_t ret = rbd_aio_get_return_value(c);
	int result;

	rbd_aio_release(c);
	if (ret < 0)
		result = (int)ret;
	else if (io->op == ENGINE_READ && (uint64_t)ret != io->length)
		result = -EIO;  /* a short read */
	else
		result = 0;
	if (r->flush_next && result == 0) {
		uint64_t one = 1;

		/* The data is written: the worker starts the flush (at most one drain in flight a queue). */
		r->flush_next = false;
		__atomic_store_n(&rq->flush_ready, r, __ATOMIC_RELEASE);
		if (write(eq->notify_fd, &one, sizeof(one)) < 0)
			vha_debug("rbd flush wake-up: %s", strerror(errno));
		return;
	}
	rio_put(rq, r);
	/* Before handing io over: once the worker has it, the queue may stop and rq go away. */
	__atomic_sub_fetch(&rq->inflight, 1, __ATOMIC_RELEASE);
	engine_complete_async(eq, io, result);
}

/* Worker: hand one aio of r to librbd. Returns 0 or -errno (nothing started). */
static int rbd_start_aio(struct rbd_queue *rq, struct rbd_io *r, bool flush_only)
{
	struct engine_io *io = r->io;
	rbd_image_t image = rq->dev->image;
	rbd_completion_t c;
	int rc;

	rc = rbd_aio_create_completion(r, rbd_aio_done, &c);
	if (rc < 0)
		return rc;
	switch (flush_only ? ENGINE_FLUSH : io->op) {
	case ENGINE_READ:
		rc = rbd_aio_readv(image, io->iov, (int)io->nr_iov, io->offset, c);
		break;
	case ENGINE_WRITE:
		rc = rbd_aio_writev(image, io->iov, (int)io->nr_iov, io->offset, c);
		break;
	case ENGINE_FLUSH:
		if (!flush_only && io->nr_iov) {
			r->flush_next = true;
			rc = rbd_aio_writev(image, io->iov, (int)io->nr_iov, io->offset, c);
		} else {
			rc = rbd_aio_flush(image, c);
		}
		break;
	case ENGINE_DISCARD:
		rc = rbd_aio_discard(image, io->offset, io->length, c);
		break;
	default:
		rc = -EOPNOTSUPP;
		break;
	}
	if (rc < 0) {
		r->flush_next = false;
		rbd_aio_release(c);
	}
	return rc;
}

/*
 * Worker: start io now. Returns 0 with io in librbd, or -errno with
 * nothing started.
 */
static int rbd_start(struct rbd_queue *rq, struct engine_io *io)
{
	struct rbd_io *r;
	int rc;

	if (io->op == ENGINE_DISCARD && (io->flags & ENGINE_IO_SECURE))
		return -EOPNOTSUPP;
	r = rio_get(rq);
	if (!r)
		return -EBUSY;
	r->io = io;
	r->flush_next = false;
	__atomic_add_fetch(&rq->inflight, 1, __ATOMIC_RELAXED);
	rc = rbd_start_aio(rq, r, false);
	if (rc < 0) {
		__atomic_sub_fetch(&rq->inflight, 1, __ATOMIC_RELAXED);
		r->next_free = rq->free_worker;
		rq->free_worker = r;
	}
	return rc;
}

/* Worker: start what waits behind a drain, as far as the drain rules allow. */
static void rbd_run_waiting(struct rbd_queue *rq)
{
	struct engine_io *io;
	int rc;

	for (;;) {
		bool idle = __atomic_load_n(&rq->inflight, __ATOMIC_ACQUIRE) == 0;

		if (rq->drain_running) {
			if (!idle)
				return;
			rq->drain_running = false;      /* the drain has completed */
		}
		io = rq->wait_head;
		if (!io)
			return;
		if ((io->flags & ENGINE_IO_DRAIN) && !idle)
			return;
		rq->wait_head = io->next;
		if (!rq->wait_head)
			rq->wait_tail = NULL;
		io->next = NULL;
		rc = rbd_start(rq, io);
		if (rc < 0) {
			engine_complete_local(rq->eq, io, rc);
			continue;
		}
		if (io->flags & ENGINE_IO_DRAIN)
			rq->drain_running = true;
	}
}

static int rbd_submit(struct engine_queue *eq, struct engine_io *io)
{
	struct rbd_queue *rq = eq->priv;
	int rc;

	if (rq->wait_head || rq->drain_running ||
	    ((io->flags & ENGINE_IO_DRAIN) && __atomic_load_n(&rq->inflight, __ATOMIC_ACQUIRE) > 0)) {
		/* Behind a drain, or a drain behind I/O in flight: started from reap, in order. */
		io->next = NULL;
		if (rq->wait_tail)
			rq->wait_tail->next = io;
		else
			rq->wait_head = io;
		rq->wait_tail = io;
		rbd_run_waiting(rq);
		return 0;
	}
	rc = rbd_start(rq, io);
	if (rc == 0 && (io->flags & ENGINE_IO_DRAIN))
		rq->drain_running = true;
	return rc;
}

static void rbd_reap(struct engine_queue *eq)
{
	struct rbd_queue *rq = eq->priv;
	struct rbd_io *r = __atomic_exchange_n(&rq->flush_ready, NULL, __ATOMIC_ACQUIRE);

	if (r) {
		/* A flush's data is written; now the flush (still counted in flight). */
		int rc = rbd_start_aio(rq, r, true);

		if (rc < 0) {
			struct engine_io *io = r->io;

			rio_put(rq, r);
			__atomic_sub_fetch(&rq->inflight, 1, __ATOMIC_RELEASE);
			engine_complete_local(eq, io, rc);
		}
	}
	if (rq->wait_head || rq->drain_running)
		rbd_run_waiting(rq);
}

const struct engine_ops engine_rbd_ops = {
	.name = "rbd",
	.open = rbd_engine_open,
	.close = rbd_engine_close,
	.size = rbd_engine_size,
	.queue_open = rbd_queue_open,
	.queue_close = rbd_queue_close,
	.submit = rbd_submit,
	.reap = rbd_reap,
};
