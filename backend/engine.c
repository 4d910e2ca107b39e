// SPDX-License-Identifier: MIT
/*
 * The engine layer (engine.h): a target's kind picks its engine, and the
 * completion path every engine shares. Completions reach the queue's
 * worker through two lists: one the worker fills itself (an engine that
 * finishes I/O inside submit, as a discard on a file or anything on null),
 * and one that library threads fill under a lock, waking the worker through
 * the queue's eventfd. Either way the worker calls eq->done, so a guest is
 * answered from its worker only.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

int engine_open(struct engine *e, const struct vha_target_spec *spec, bool writable)
{
	int rc;

	engine_close(e);
	e->why[0] = '\0';
	e->queue_bytes = 0;
	switch (spec->kind) {
	case VHA_TARGET_PATH:
	case VHA_TARGET_FILE:
	case VHA_TARGET_BLOCKDEV:
		e->ops = &engine_file_ops;
		break;
	case VHA_TARGET_NULL:
		e->ops = &engine_null_ops;
		break;
	case VHA_TARGET_RBD:
		e->ops = &engine_rbd_ops;
		break;
	case VHA_TARGET_NBD:
		e->ops = &engine_nbd_ops;
		break;
	default:
		snprintf(e->why, sizeof(e->why), "the %s engine is not built into this vha-backend (not supported yet)",
			 vha_target_kind_name(spec->kind));
		return -EPROTONOSUPPORT;
	}
	e->kind = spec->kind;
	rc = e->ops->open(e, spec, writable);
	if (rc < 0) {
		e->ops->close(e);
		e->ops = NULL;
	}
	return rc;
}

void engine_close(struct engine *e)
{
	if (!e->ops)
		return;
	e->ops->close(e);
	e->ops = NULL;
}

const char *engine_name(const struct engine *e)
{
	return e->ops ? e->ops->name : "none";
}

int64_t engine_size(struct engine *e)
{
	if (!e->ops)
		return -EBADF;
	return e->ops->size ? e->ops->size(e) : (int64_t)e->size;
}

int engine_queue_open(struct engine_queue *eq, unsigned int depth)
{
	int rc;

	eq->local_head = eq->local_tail = NULL;
	eq->async_head = NULL;
	rc = pthread_mutex_init(&eq->async_lock, NULL);
	if (rc != 0)
		return -rc;
	eq->async_lock_ready = true;
	return eq->engine->ops->queue_open ? eq->engine->ops->queue_open(eq, depth) : 0;
}

void engine_queue_close(struct engine_queue *eq)
{
	if (eq->engine && eq->engine->ops && eq->engine->ops->queue_close)
		eq->engine->ops->queue_close(eq);
	if (eq->async_lock_ready) {
		pthread_mutex_destroy(&eq->async_lock);
		eq->async_lock_ready = false;
	}
}

int engine_submit(struct engine_queue *eq, struct engine_io *io)
{
	io->result = 0;
	io->engine_state = 0;
	io->next = NULL;
	return eq->engine->ops->submit(eq, io);
}

void engine_commit(struct engine_queue *eq)
{
	if (eq->engine->ops->commit)
		eq->engine->ops->commit(eq);
}

void engine_complete_local(struct engine_queue *eq, struct engine_io *io, int result)
{
	io->result = result;
	io->next = NULL;
	if (eq->local_tail)
		eq->local_tail->next = io;
	else
		eq->local_head = io;
	eq->local_tail = io;
}

void engine_complete_async(struct engine_queue *eq, struct engine_io *io, int result)
{
	uint64_t one = 1;

	io->result = result;
	pthread_mutex_lock(&eq->async_lock);
	io->next = eq->async_head;
	/* Release: the worker's acquire load of async_head sees io->result. */
	__atomic_store_n(&eq->async_head, io, __ATOMIC_RELEASE);
	/*
	 * After the push, so a worker woken by this write finds the I/O; and
	 * under the lock, which the worker takes to pop it: once the worker
	 * has the last I/O it can stop and close the eventfd, and this write
	 * must be over by then (or it could land in whatever reused the fd).
	 */
	if (write(eq->notify_fd, &one, sizeof(one)) < 0)
		vha_debug("engine completion wake-up: %s", strerror(errno));
	pthread_mutex_unlock(&eq->async_lock);
}

bool engine_has_completions(struct engine_queue *eq)
{
	if (eq->local_head || __atomic_load_n(&eq->async_head, __ATOMIC_ACQUIRE))
		return true;
	return eq->ring_ready && io_uring_cq_ready(&eq->ring) > 0;
}

void engine_reap(struct engine_queue *eq)
{
	const struct engine_ops *ops = eq->engine->ops;
	struct engine_io *io, *list = NULL;
	uint64_t junk;

	/* Drained before looking: a wake-up after this read is for completions not yet seen. */
	if (eq->notify_used && read(eq->notify_fd, &junk, sizeof(junk)) < 0 && errno != EAGAIN)
		vha_debug("engine notify eventfd: %s", strerror(errno));
	if (ops->reap)
		ops->reap(eq);
	while ((io = eq->local_head) != NULL) {
		eq->local_head = io->next;
		if (!eq->local_head)
			eq->local_tail = NULL;
		eq->done(eq, io);
	}
	if (__atomic_load_n(&eq->async_head, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&eq->async_lock);
		io = eq->async_head;
		eq->async_head = NULL;
		pthread_mutex_unlock(&eq->async_lock);
		/* Newest first on the list: deliver oldest first. */
		while (io) {
			struct engine_io *next = io->next;

			io->next = list;
			list = io;
			io = next;
		}
		while ((io = list) != NULL) {
			list = io->next;
			eq->done(eq, io);
		}
	}
}
