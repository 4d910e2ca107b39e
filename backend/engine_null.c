// SPDX-License-Identifier: MIT
/*
 * The null engine, for benchmarks: null:SIZE. Reads return zeroes, writes,
 * flushes and discards succeed at once, and nothing is stored. Every I/O
 * completes inside submit and is delivered at the worker's next reap, so
 * what a benchmark measures is vha's own path: rings, grants, the worker.
 */
#include <errno.h>
#include <string.h>

#include "backend.h"

static int null_open(struct engine *e, const struct vha_target_spec *spec, bool writable)
{
	e->size = spec->size;
	e->logical_block = 512;
	e->physical_block = 4096;
	e->readonly = !writable;
	e->discard = true;
	e->discard_secure = true;
	e->write_zeroes = true;
	return 0;
}

static void null_close(struct engine *e)
{
	(void)e;
}

static int null_submit(struct engine_queue *eq, struct engine_io *io)
{
	if (io->op == ENGINE_READ)
		for (unsigned int i = 0; i < io->nr_iov; i++)
			memset(io->iov[i].iov_base, 0, io->iov[i].iov_len);
	engine_complete_local(eq, io, 0);
	return 0;
}

const struct engine_ops engine_null_ops = {
	.name = "null",
	.open = null_open,
	.close = null_close,
	.submit = null_submit,
};
