// SPDX-License-Identifier: MIT
/*
 * The file and blockdev engines: a regular file or a block device (target.c)
 * served through one io_uring per queue. A read or write is one readv/writev
 * SQE whose iovecs are the request's mapped guest pages (with O_DIRECT the
 * device DMAs straight into them) or its copy buffer. A flush is an fsync
 * (datasync) drained behind every earlier SQE, with its data, if any,
 * written first in a linked SQE. A discard is done synchronously in submit,
 * in chunks that stop early when the queue is asked to stop.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"

/* user_data of a flush's linked data write: the engine_io with the low bit set (it is 8-aligned). */
#define LINKED_WRITE 1u

static int file_open(struct engine *e, const struct vha_target_spec *spec, bool writable)
{
	struct target *t = &e->file;
	int rc;

	rc = target_open(t, spec->path, writable, e->direct_wanted, e->buffered_twin);
	if (rc < 0) {
		t->fd = t->bfd = -1;
		return rc;
	}
	if (spec->kind == VHA_TARGET_FILE && t->is_blockdev) {
		snprintf(e->why, sizeof(e->why), "file: names a block device (use blockdev: or the bare path)");
		return -EINVAL;
	}
	if (spec->kind == VHA_TARGET_BLOCKDEV && !t->is_blockdev) {
		snprintf(e->why, sizeof(e->why), "blockdev: names a regular file (use file: or the bare path)");
		return -ENOTBLK;
	}
	if (t->is_blockdev)
		e->ops = &engine_blockdev_ops;
	e->size = t->size;
	e->logical_block = t->logical_block;
	e->physical_block = t->physical_block;
	e->readonly = !writable;
	e->discard = t->discard;
	e->discard_secure = t->is_blockdev;     /* BLKSECDISCARD answers EOPNOTSUPP where it cannot */
	e->write_zeroes = false;
	e->direct = t->direct;
	e->buffered_transient = t->bfd >= 0;
	return 0;
}

static void file_close(struct engine *e)
{
	target_close(&e->file);
	e->direct = false;
	e->buffered_transient = false;
}

static int64_t file_size(struct engine *e)
{
	return target_size(&e->file);
}

static int file_queue_open(struct engine_queue *eq, unsigned int depth)
{
	struct io_uring_params params = { 0 };
	int rc;

	/* Two SQEs a request at most: a flush's data write and its fsync. */
	rc = io_uring_queue_init_params(depth * 2, &eq->ring, &params);
	if (rc < 0)
		return rc;
	eq->ring_ready = true;
	rc = io_uring_register_eventfd(&eq->ring, eq->notify_fd);
	if (rc < 0)
		return rc;
	eq->notify_used = true;
	return 0;
}

static void file_queue_close(struct engine_queue *eq)
{
	if (eq->ring_ready) {
		io_uring_queue_exit(&eq->ring);
		eq->ring_ready = false;
	}
}

static struct io_uring_sqe *get_sqe(struct engine_queue *eq)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&eq->ring);

	if (!sqe) {
		io_uring_submit(&eq->ring);
		sqe = io_uring_get_sqe(&eq->ring);
	}
	return sqe;
}

static int file_submit(struct engine_queue *eq, struct engine_io *io)
{
	struct target *t = &eq->engine->file;
	/* O_DIRECT must not touch mappings that go away right after the request (backend_config.direct_maps). */
	int fd = (io->flags & ENGINE_IO_TRANSIENT) && t->bfd >= 0 ? t->bfd : t->fd;
	unsigned int drain = io->flags & ENGINE_IO_DRAIN ? IOSQE_IO_DRAIN : 0;
	struct io_uring_sqe *sqe;

	switch (io->op) {
	case ENGINE_READ:
		sqe = get_sqe(eq);
		io_uring_prep_readv(sqe, fd, io->iov, io->nr_iov, io->offset);
		break;
	case ENGINE_WRITE:
		sqe = get_sqe(eq);
		io_uring_prep_writev(sqe, fd, io->iov, io->nr_iov, io->offset);
		break;
	case ENGINE_FLUSH:
		/*
		 * With IOSQE_IO_DRAIN the fsync starts only after every earlier
		 * SQE of this queue completed, and nothing later starts before it
		 * completes. Data goes first, linked: its result is checked on
		 * its own completion and the fsync reports.
		 */
		if (io->nr_iov) {
			sqe = get_sqe(eq);
			io_uring_prep_writev(sqe, fd, io->iov, io->nr_iov, io->offset);
			sqe->flags |= drain | IOSQE_IO_LINK;
			io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)io | LINKED_WRITE);
		}
		sqe = get_sqe(eq);
		io_uring_prep_fsync(sqe, t->fd, IORING_FSYNC_DATASYNC);
		break;
	case ENGINE_DISCARD:
		/* Rare and cheap on files: done inline, in chunks that ask eq->stop. */
		engine_complete_local(eq, io, target_discard(t, io->offset, io->length, io->flags & ENGINE_IO_SECURE,
							     eq->stop, eq->arg));
		return 0;
	default:
		return -EOPNOTSUPP;
	}
	sqe->flags |= drain;
	io_uring_sqe_set_data(sqe, io);
	return 0;
}

static void file_commit(struct engine_queue *eq)
{
	io_uring_submit(&eq->ring);
}

static void file_reap(struct engine_queue *eq)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&eq->ring, &cqe) == 0) {
		uint64_t tag = io_uring_cqe_get_data64(cqe);
		struct engine_io *io = (struct engine_io *)(uintptr_t)(tag & ~(uint64_t)LINKED_WRITE);
		int res = cqe->res;

		io_uring_cqe_seen(&eq->ring, cqe);
		if (tag & LINKED_WRITE) {
			/* A flush's data: remember a failure; the fsync (cancelled after it, or not) reports. */
			if (res < 0 || (uint64_t)res != io->length)
				io->engine_state = res < 0 ? res : -EIO;
			continue;
		}
		if (io->op == ENGINE_FLUSH) {
			if (res >= 0 && io->engine_state < 0)
				res = -EIO;
		} else if (res >= 0 && io->op != ENGINE_DISCARD && (uint64_t)res != io->length) {
			res = -EIO;     /* a short transfer */
		}
		io->result = res < 0 ? res : 0;
		eq->done(eq, io);
	}
}

const struct engine_ops engine_file_ops = {
	.name = "file",
	.open = file_open,
	.close = file_close,
	.size = file_size,
	.queue_open = file_queue_open,
	.queue_close = file_queue_close,
	.submit = file_submit,
	.commit = file_commit,
	.reap = file_reap,
};

const struct engine_ops engine_blockdev_ops = {
	.name = "blockdev",
	.open = file_open,
	.close = file_close,
	.size = file_size,
	.queue_open = file_queue_open,
	.queue_close = file_queue_close,
	.submit = file_submit,
	.commit = file_commit,
	.reap = file_reap,
};
