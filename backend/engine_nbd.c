// SPDX-License-Identifier: MIT
/*
 * The nbd engine: nbd:unix:/path[:exportname=NAME] or
 * nbd://HOST[:PORT][/EXPORT], through libnbd's asynchronous API.
 *
 * One NBD connection per queue, owned by a small per-queue I/O thread. The
 * worker's submit only appends the engine_io to a list under a lock; its
 * commit wakes the I/O thread through an eventfd. The I/O thread is the one
 * thread that calls libnbd on the queue's handle: it turns each engine_io
 * into NBD commands (nbd_aio_pread/pwrite/flush/trim/zero), polls the
 * socket in the direction libnbd asks (nbd_aio_get_direction), feeds
 * nbd_aio_notify_read/write, and hands each finished engine_io to
 * engine_complete_async, which wakes the worker: a guest is still answered
 * from its worker only.
 *
 * Why a thread and not the worker's poll loop: the worker polls a fixed set
 * (event channel, completion eventfd, stop), and the engine interface gives
 * an engine only the completion eventfd; a thread keeps that interface and
 * the worker unchanged, and follows the same completion path as librbd's
 * callbacks. Owning the handle in one thread also makes reconnecting safe:
 * the handle is replaced where nobody else can be using it, and libnbd's
 * completion callbacks run on that thread, inside its nbd_aio_* calls, so
 * the per-command bookkeeping needs no lock. The cost is one eventfd
 * wake-up each way per batch (measured in docs/performance: make bench).
 *
 * Buffers: libnbd takes one flat buffer per command. The request's iovecs
 * are already merged where they are contiguous (strategy.c). A request of
 * one iovec becomes one command straight on the guest's pages (zero copy).
 * A request of several (a 128 KiB read is 32 scattered 4 KiB grant pages)
 * goes through the queue's bounce buffer: gathered there and sent as one
 * write, or read there in one command and scattered to the guest's pages
 * when it completes. One command instead of one per page costs a memcpy
 * (about 10 us per 128 KiB) and saves that many round trips and server
 * calls. The bounce buffer (NBD_BOUNCE_BYTES per queue, e->queue_bytes, so
 * the device's memory budget counts it) is carved in pages, first fit;
 * a request that finds no room, or is larger, falls back to one command per
 * iovec. Commands are split only at the server's maximum request size; the
 * engine_io completes when all its commands have.
 *
 * Operations: read/write -> pread/pwrite; flush -> flush when the server
 * has a write cache (nbd_can_flush; else writes are durable when answered
 * and a flush only drains). A flush with data (blkfront's FUA) writes its
 * data with FUA and flushes at the same time when the server offers FUA
 * (nbd_can_fua): the flush covers every earlier write, which the drain
 * made complete, and FUA covers the data; otherwise the data is written
 * first and then flushed. Discard -> trim (nbd_can_trim), else write-zeroes
 * allowing a trim (nbd_can_zero), in chunks of NBD_TRIM_CHUNK.
 *
 * Reconnect: when the connection dies (the server was killed or restarted),
 * every engine_io of the queue not yet completed is kept, the handle is
 * closed, and the thread reconnects with growing pauses (NBD_RETRY_MIN_MS
 * doubling to NBD_RETRY_MAX_MS); once connected, the kept I/O is run again
 * from the start, in its order, before anything newer. Running a read or a
 * write again is harmless: none of it was answered to the guest. If the
 * server is still gone after e->timeout_ms, what waits fails with -EIO, and
 * so does new I/O at once until a reconnect succeeds (attempts go on every
 * NBD_RETRY_MAX_MS). Other queues and devices have their own connections
 * and are not affected.
 *
 * Geometry comes from the first connection at open: nbd_get_size,
 * nbd_is_read_only, nbd_get_block_size. An NBD server cannot announce a
 * resize, so the engine has no size callback.
 *
 * Longer than the tree's 800-line guide on purpose: the I/O thread, its
 * reconnects and the bounce buffer all work on struct nbd_queue, which only
 * that thread touches; split, that private state would need a header of its
 * own and the one-owner rule would be harder to see.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

#include "backend.h"

#define NBD_CONNECT_TIMEOUT_MS 5000u    /* one connection attempt, handshake included */
#define NBD_RETRY_MIN_MS 50u
#define NBD_RETRY_MAX_MS 2000u
#define NBD_TIMEOUT_DEFAULT_MS 30000u   /* e->timeout_ms 0 */
#define NBD_TRIM_CHUNK (UINT64_C(1) << 30)
#define NBD_REQUEST_MAX (UINT64_C(32) << 20)    /* libnbd's own limit for pread/pwrite is 64 MiB */
#define NBD_BOUNCE_PAGE 4096u
#define NBD_BOUNCE_PAGES 256u                   /* per queue: 1 MiB, a largest blkif request is 1 MiB */
#define NBD_BOUNCE_BYTES ((size_t)NBD_BOUNCE_PAGES * NBD_BOUNCE_PAGE)
#define NBD_BOUNCE_WORDS (NBD_BOUNCE_PAGES / 64u)

/* The device's target: what every queue connects to, and what the server offers. */
struct nbd_target {
	struct vha_target_spec spec;
	char where[VHA_TARGET_PATH_MAX + 16];   /* "unix:/path" or "host:port", for messages */
	bool can_flush, can_fua, can_trim, can_zero;
	uint64_t request_max;           /* bytes in one pread/pwrite */
	unsigned int timeout_ms;
};

struct nbd_queue;

/* One engine_io in the I/O thread's hands. */
struct nbd_op {
	struct engine_io *io;
	struct nbd_queue *nq;
	unsigned int pending;           /* NBD commands in flight */
	int error;                      /* the first command's errno, or 0 */
	bool then_flush;                /* a flush's data is being written: flush once it is */
	char *bounce;                   /* its data's place in the queue's bounce buffer, or NULL */
	unsigned int bounce_first, bounce_pages;
	struct nbd_op *next;            /* waiting list, or free list */
	struct nbd_op *prev_issued, *next_issued;
	struct nbd_op *next_finished;
};

struct nbd_queue {
	struct engine_queue *eq;
	struct nbd_target *nt;
	int wake_fd;                    /* eventfd: worker (and queue_close) -> I/O thread */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	bool lock_ready;
	/* Under lock: the worker's submissions (linked through io->next) and the stop request. */
	struct engine_io *submit_head, *submit_tail;
	bool stop;
	/* The I/O thread's alone (and queue_open/close's while it is not running). */
	struct nbd_handle *h;           /* NULL: disconnected */
	struct nbd_op *ops, *free_ops;
	unsigned int nr_ops;
	struct nbd_op *wait_head, *wait_tail;   /* not yet issued, oldest first */
	struct nbd_op *issued_head, *issued_tail;
	unsigned int nr_issued;
	bool drain_issued;              /* an ENGINE_IO_DRAIN op is issued: nothing else starts */
	struct nbd_op *finished;        /* every command done, not yet looked at */
	uint64_t lost_at_ms;            /* when the connection was lost */
	uint64_t retry_at_ms;
	unsigned int retry_ms;
	bool gave_up;                   /* timeout passed while disconnected: I/O fails at once */
	bool first_connect;             /* not connected yet since queue_open */
	char *bounce;                   /* NBD_BOUNCE_BYTES */
	uint64_t bounce_used[NBD_BOUNCE_WORDS]; /* a bit per page */
};

/* The I/O thread: has queue_close asked it to stop? */
static bool stop_asked(struct nbd_queue *nq)
{
	bool stop;

	pthread_mutex_lock(&nq->lock);
	stop = nq->stop;
	pthread_mutex_unlock(&nq->lock);
	return stop;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A message for the device's error node or the log; a long socket path is cut, never overflows. */
static void say(char *why, size_t why_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, why_len, fmt, ap);
	va_end(ap);
}

/* libnbd's errno for the last failed call on this thread, never 0. */
static int nbd_errno(void)
{
	int err = nbd_get_errno();

	return err > 0 ? err : EIO;
}

/*
 * Connect to the target within timeout_ms (handshake included) without
 * blocking longer: libnbd's asynchronous connect driven by poll. nq: a
 * queue's I/O thread connecting; a stop asked meanwhile (its wake_fd)
 * abandons the attempt at once, so closing the queue never waits on a slow
 * server. Returns a ready handle, or NULL with why set (and *err a positive
 * errno: ECANCELED when stopped).
 */
static struct nbd_handle *connect_bounded(const struct nbd_target *nt, struct nbd_queue *nq,
					  unsigned int timeout_ms, char *why, size_t why_len, int *err)
{
	uint64_t deadline = mono_ms() + timeout_ms;
	struct nbd_handle *h = nbd_create();
	int r;

	if (!h) {
		*err = nbd_errno();
		say(why, why_len, "nbd: cannot create a handle: %s", nbd_get_error());
		return NULL;
	}
	nbd_set_uri_allow_local_file(h, false);
	if (nbd_set_export_name(h, nt->spec.export_name) < 0)
		goto fail;
	if (nt->spec.host[0]) {
		char port[8];

		snprintf(port, sizeof(port), "%u", (unsigned int)nt->spec.port);
		r = nbd_aio_connect_tcp(h, nt->spec.host, port);
	} else {
		r = nbd_aio_connect_unix(h, nt->spec.path);
	}
	if (r < 0)
		goto fail;
	while (nbd_aio_is_connecting(h)) {
		struct pollfd pfds[2] = { { .fd = nbd_aio_get_fd(h) },
					  { .fd = nq ? nq->wake_fd : -1, .events = POLLIN } };
		struct pollfd *pfd = &pfds[0];
		unsigned int dir = nbd_aio_get_direction(h);
		uint64_t now = mono_ms();

		if (now >= deadline) {
			nbd_close(h);
			*err = ETIMEDOUT;
			say(why, why_len, "nbd server %s did not answer within %u ms", nt->where, timeout_ms);
			return NULL;
		}
		pfd->events = (dir & LIBNBD_AIO_DIRECTION_READ ? POLLIN : 0) |
			      (dir & LIBNBD_AIO_DIRECTION_WRITE ? POLLOUT : 0);
		r = poll(pfds, nq ? 2 : 1, (int)(deadline - now));
		if (r < 0 && errno != EINTR) {
			*err = errno;
			nbd_close(h);
			say(why, why_len, "nbd: poll: %s", strerror(*err));
			return NULL;
		}
		if (r <= 0)
			continue;
		/* The wake is not drained: the I/O thread's loop reads it, and takes the submissions. */
		if ((pfds[1].revents & POLLIN) && stop_asked(nq)) {
			nbd_close(h);
			*err = ECANCELED;
			say(why, why_len, "nbd server %s: connect abandoned: the queue is stopping", nt->where);
			return NULL;
		}
		if (!pfd->revents)
			continue;
		if ((pfd->revents & (POLLIN | POLLHUP | POLLERR)) && (dir & LIBNBD_AIO_DIRECTION_READ))
			r = nbd_aio_notify_read(h);
		else if (pfd->revents & (POLLOUT | POLLHUP | POLLERR))
			r = nbd_aio_notify_write(h);
		if (r < 0)
			goto fail;
	}
	if (nbd_aio_is_ready(h))
		return h;
fail:
	*err = nbd_errno();
	/* libnbd's message names the call and the cause ("connect: Connection refused"). */
	say(why, why_len, "nbd server %s: %s", nt->where, nbd_get_error() ? nbd_get_error() : strerror(*err));
	nbd_close(h);
	return NULL;
}

/* A server's answer to a capability query: true only for a definite yes. */
static bool offers(int answer)
{
	return answer == 1;
}

static int nbd_engine_open(struct engine *e, const struct vha_target_spec *spec, bool writable)
{
	struct nbd_target *nt;
	struct nbd_handle *h;
	int64_t size, minimum, preferred, maximum;
	int err = 0;

	nt = calloc(1, sizeof(*nt));
	if (!nt)
		return -ENOMEM;
	e->priv = nt;
	nt->spec = *spec;
	if (spec->host[0])
		snprintf(nt->where, sizeof(nt->where), strchr(spec->host, ':') ? "[%s]:%u" : "%s:%u", spec->host,
			 (unsigned int)spec->port);
	else
		snprintf(nt->where, sizeof(nt->where), "unix:%s", spec->path);
	nt->timeout_ms = e->timeout_ms ? e->timeout_ms : NBD_TIMEOUT_DEFAULT_MS;

	/* A probe connection (on the device's job thread), bounded: each queue connects on its own later. */
	h = connect_bounded(nt, NULL, NBD_CONNECT_TIMEOUT_MS, e->why, sizeof(e->why), &err);
	if (!h)
		return -err;
	size = nbd_get_size(h);
	if (size < 0) {
		err = nbd_errno();
		say(e->why, sizeof(e->why), "nbd server %s: no export size: %s", nt->where, nbd_get_error());
		nbd_close(h);
		return -err;
	}
	e->size = (uint64_t)size & ~UINT64_C(511);     /* blkif counts 512-byte sectors: a tail is unreachable */
	e->readonly = !writable || offers(nbd_is_read_only(h));
	nt->can_flush = offers(nbd_can_flush(h));
	nt->can_fua = offers(nbd_can_fua(h));
	nt->can_trim = offers(nbd_can_trim(h));
	nt->can_zero = offers(nbd_can_zero(h));
	minimum = nbd_get_block_size(h, LIBNBD_SIZE_MINIMUM);
	preferred = nbd_get_block_size(h, LIBNBD_SIZE_PREFERRED);
	maximum = nbd_get_block_size(h, LIBNBD_SIZE_MAXIMUM);
	nbd_close(h);

	/* 0 (or -1): the server did not say. blkif serves 512 or 4096. */
	e->logical_block = minimum > 512 ? 4096 : 512;
	if (minimum > 4096) {
		say(e->why, sizeof(e->why), "nbd server %s: minimum block size %" PRId64 " is larger than 4096",
			 nt->where, minimum);
		return -EINVAL;
	}
	e->physical_block = preferred >= e->logical_block && preferred <= 65536 && !(preferred & (preferred - 1)) ?
			    (uint32_t)preferred : 4096;
	if (e->physical_block < e->logical_block)
		e->physical_block = e->logical_block;
	nt->request_max = maximum > 0 && (uint64_t)maximum < NBD_REQUEST_MAX ? (uint64_t)maximum : NBD_REQUEST_MAX;
	if (nt->request_max < 4096) {
		say(e->why, sizeof(e->why), "nbd server %s: maximum request size %" PRId64 " is below 4096",
			 nt->where, maximum);
		return -EINVAL;
	}
	nt->request_max &= ~(uint64_t)(e->logical_block - 1);
	e->discard = !e->readonly && (nt->can_trim || nt->can_zero);
	e->discard_secure = false;      /* a trim promises nothing about the old data */
	e->write_zeroes = !e->readonly && nt->can_zero;
	e->queue_bytes = NBD_BOUNCE_BYTES;
	return 0;
}

static void nbd_engine_close(struct engine *e)
{
	free(e->priv);
	e->priv = NULL;
}

/* ---- the I/O thread ---- */

static void issued_unlink(struct nbd_queue *nq, struct nbd_op *op)
{
	if (op->prev_issued)
		op->prev_issued->next_issued = op->next_issued;
	else
		nq->issued_head = op->next_issued;
	if (op->next_issued)
		op->next_issued->prev_issued = op->prev_issued;
	else
		nq->issued_tail = op->prev_issued;
	op->prev_issued = op->next_issued = NULL;
	nq->nr_issued--;
	if (op->io->flags & ENGINE_IO_DRAIN)
		nq->drain_issued = false;
}

static bool bounce_page_used(const struct nbd_queue *nq, unsigned int i)
{
	return nq->bounce_used[i / 64] & (UINT64_C(1) << (i % 64));
}

static void bounce_mark(struct nbd_queue *nq, unsigned int first, unsigned int n, bool used)
{
	for (unsigned int i = first; i < first + n; i++) {
		if (used)
			nq->bounce_used[i / 64] |= UINT64_C(1) << (i % 64);
		else
			nq->bounce_used[i / 64] &= ~(UINT64_C(1) << (i % 64));
	}
}

/* Give op a place for its data in the bounce buffer (first fit), unless it has one. */
static bool bounce_get(struct nbd_queue *nq, struct nbd_op *op)
{
	uint64_t n64 = (op->io->length + NBD_BOUNCE_PAGE - 1) / NBD_BOUNCE_PAGE;
	unsigned int n, run = 0;

	if (op->bounce)
		return true;    /* running again after a reconnect */
	if (!nq->bounce || n64 == 0 || n64 > NBD_BOUNCE_PAGES)
		return false;
	n = (unsigned int)n64;
	for (unsigned int i = 0; i < NBD_BOUNCE_PAGES; i++) {
		if (nq->bounce_used[i / 64] == UINT64_MAX) {
			run = 0;
			i += 63;        /* a full word: skip it */
			continue;
		}
		run = bounce_page_used(nq, i) ? 0 : run + 1;
		if (run == n) {
			op->bounce_first = i + 1 - n;
			op->bounce_pages = n;
			op->bounce = nq->bounce + (size_t)op->bounce_first * NBD_BOUNCE_PAGE;
			bounce_mark(nq, op->bounce_first, n, true);
			return true;
		}
	}
	return false;
}

/* Copy between op's iovecs and its bounce data: to_bounce gathers, else scatters. */
static void bounce_copy(struct nbd_op *op, bool to_bounce)
{
	const struct engine_io *io = op->io;
	char *b = op->bounce;

	for (unsigned int i = 0; i < io->nr_iov; i++) {
		if (to_bounce)
			memcpy(b, io->iov[i].iov_base, io->iov[i].iov_len);
		else
			memcpy(io->iov[i].iov_base, b, io->iov[i].iov_len);
		b += io->iov[i].iov_len;
	}
}

static void op_complete(struct nbd_queue *nq, struct nbd_op *op, int result)
{
	struct engine_io *io = op->io;

	if (op->bounce) {
		if (result == 0 && io->op == ENGINE_READ)
			bounce_copy(op, false);
		bounce_mark(nq, op->bounce_first, op->bounce_pages, false);
		op->bounce = NULL;
	}
	op->io = NULL;
	op->next = nq->free_ops;
	nq->free_ops = op;
	engine_complete_async(nq->eq, io, result);
}

/* libnbd, on the I/O thread inside one of its calls: one command of op finished. */
static int command_done(void *user_data, int *error)
{
	struct nbd_op *op = user_data;

	if (*error && !op->error)
		op->error = *error;
	if (--op->pending == 0) {
		op->next_finished = op->nq->finished;
		op->nq->finished = op;
	}
	return 1;       /* retire the command */
}

/* Start a command through call's result r (0 or -1); a refusal is op's error. */
static bool started(struct nbd_op *op, int64_t r)
{
	if (r < 0) {
		if (!op->error)
			op->error = nbd_errno();
		return false;
	}
	op->pending++;
	return true;
}

/* Write (or read) [base, base+left) at *offset, in commands of at most request_max bytes. */
static bool issue_span(struct nbd_queue *nq, struct nbd_op *op, char *base, size_t left, uint64_t *offset,
		       bool write, uint32_t flags)
{
	while (left > 0) {
		size_t len = left < nq->nt->request_max ? left : (size_t)nq->nt->request_max;
		nbd_completion_callback cb = { .callback = command_done, .user_data = op };
		int64_t r = write ? nbd_aio_pwrite(nq->h, base, len, *offset, cb, flags) :
				    nbd_aio_pread(nq->h, base, len, *offset, cb, 0);

		if (!started(op, r))
			return false;
		base += len;
		*offset += len;
		left -= len;
	}
	return true;
}

/* Write (or read) the iovecs of op: through the bounce buffer when there are several, else in place. */
static void issue_data(struct nbd_queue *nq, struct nbd_op *op, bool write, uint32_t flags)
{
	const struct engine_io *io = op->io;
	uint64_t offset = io->offset;

	if (io->nr_iov > 1 && bounce_get(nq, op)) {
		if (write)
			bounce_copy(op, true);
		issue_span(nq, op, op->bounce, io->length, &offset, write, flags);
		return;
	}
	for (unsigned int i = 0; i < io->nr_iov; i++)
		if (!issue_span(nq, op, io->iov[i].iov_base, io->iov[i].iov_len, &offset, write, flags))
			return;
}

static void issue_flush(struct nbd_queue *nq, struct nbd_op *op)
{
	nbd_completion_callback cb = { .callback = command_done, .user_data = op };

	if (nq->nt->can_flush)
		started(op, nbd_aio_flush(nq->h, cb, 0));
}

static void issue_discard(struct nbd_queue *nq, struct nbd_op *op)
{
	const struct engine_io *io = op->io;

	for (uint64_t done = 0; done < io->length;) {
		uint64_t len = io->length - done < NBD_TRIM_CHUNK ? io->length - done : NBD_TRIM_CHUNK;
		nbd_completion_callback cb = { .callback = command_done, .user_data = op };
		int64_t r = nq->nt->can_trim ? nbd_aio_trim(nq->h, len, io->offset + done, cb, 0) :
			    nbd_aio_zero(nq->h, len, io->offset + done, cb, 0);     /* trimming allowed */

		if (!started(op, r))
			return;
		done += len;
	}
}

/* Send op's commands (all of them at once, or a flush's data first). */
static void issue(struct nbd_queue *nq, struct nbd_op *op)
{
	const struct engine_io *io = op->io;

	op->pending = 0;
	op->error = 0;
	op->then_flush = false;
	switch (io->op) {
	case ENGINE_READ:
		issue_data(nq, op, false, 0);
		break;
	case ENGINE_WRITE:
		issue_data(nq, op, true, 0);
		break;
	case ENGINE_FLUSH:
		if (io->nr_iov && nq->nt->can_flush && nq->nt->can_fua) {
			issue_data(nq, op, true, LIBNBD_CMD_FLAG_FUA);
			if (!op->error)
				issue_flush(nq, op);
		} else if (io->nr_iov) {
			op->then_flush = true;
			issue_data(nq, op, true, 0);
		} else {
			issue_flush(nq, op);
		}
		break;
	case ENGINE_DISCARD:
		if (io->flags & ENGINE_IO_SECURE)
			op->error = EOPNOTSUPP;
		else if (!nq->nt->can_trim && !nq->nt->can_zero)
			op->error = EOPNOTSUPP;
		else
			issue_discard(nq, op);
		break;
	default:
		op->error = EOPNOTSUPP;
		break;
	}
	if (op->pending == 0) {
		/* Nothing went out (refused, or nothing to do): finished now. */
		op->next_finished = nq->finished;
		nq->finished = op;
	}
}

static void wait_push_front_list(struct nbd_queue *nq, struct nbd_op *head, struct nbd_op *tail)
{
	if (!head)
		return;
	tail->next = nq->wait_head;
	if (!nq->wait_head)
		nq->wait_tail = tail;
	nq->wait_head = head;
}

static void wait_push(struct nbd_queue *nq, struct nbd_op *op)
{
	op->next = NULL;
	if (nq->wait_tail)
		nq->wait_tail->next = op;
	else
		nq->wait_head = op;
	nq->wait_tail = op;
}

/* Fail everything that waits for a connection (the timeout passed). */
static void fail_waiting(struct nbd_queue *nq)
{
	struct nbd_op *op;

	while ((op = nq->wait_head) != NULL) {
		nq->wait_head = op->next;
		op_complete(nq, op, -EIO);
	}
	nq->wait_tail = NULL;
}

/*
 * The connection is gone: close the handle and put every issued op back at
 * the head of the waiting list, in its order, to run again once connected.
 */
static void connection_lost(struct nbd_queue *nq, const char *what)
{
	struct nbd_op *head = NULL, *tail = NULL, *op;

	vha_warn("nbd %s: connection lost (%s); %u I/O in flight will run again after reconnecting "
		 "(I/O fails after %u ms)", nq->nt->where, what, nq->nr_issued, nq->nt->timeout_ms);
	/* Commands libnbd still holds are dropped with the handle; their ops are ours again. */
	nbd_close(nq->h);
	nq->h = NULL;
	nq->finished = NULL;
	while ((op = nq->issued_head) != NULL) {
		issued_unlink(nq, op);
		op->pending = 0;
		op->next = NULL;
		if (tail)
			tail->next = op;
		else
			head = op;
		tail = op;
	}
	wait_push_front_list(nq, head, tail);
	nq->lost_at_ms = mono_ms();
	nq->retry_ms = NBD_RETRY_MIN_MS;
	nq->retry_at_ms = nq->lost_at_ms;       /* at once: a restarted server may be back already */
	nq->gave_up = false;
}

static bool handle_dead(struct nbd_queue *nq)
{
	return nbd_aio_is_dead(nq->h) || nbd_aio_is_closed(nq->h);
}

/*
 * Issue what may start and look at what finished, until nothing changes.
 * Returns false if the connection died on the way (connection_lost done).
 */
static bool progress(struct nbd_queue *nq)
{
	bool changed = true;

	while (changed && nq->h) {
		struct nbd_op *op;

		changed = false;
		while ((op = nq->wait_head) != NULL && !nq->drain_issued &&
		       !((op->io->flags & ENGINE_IO_DRAIN) && nq->nr_issued > 0)) {
			nq->wait_head = op->next;
			if (!nq->wait_head)
				nq->wait_tail = NULL;
			op->next = NULL;
			op->prev_issued = nq->issued_tail;
			op->next_issued = NULL;
			if (nq->issued_tail)
				nq->issued_tail->next_issued = op;
			else
				nq->issued_head = op;
			nq->issued_tail = op;
			nq->nr_issued++;
			if (op->io->flags & ENGINE_IO_DRAIN)
				nq->drain_issued = true;
			issue(nq, op);
			changed = true;
		}
		/* A refusal or an error may be the connection dying: then everything runs again. */
		if (handle_dead(nq)) {
			connection_lost(nq, "a command could not be sent");
			return false;
		}
		while ((op = nq->finished) != NULL) {
			nq->finished = op->next_finished;
			changed = true;
			/* An error may be the connection dying under this op: then it runs again. */
			if (op->error && handle_dead(nq)) {
				connection_lost(nq, strerror(op->error));
				return false;
			}
			if (!op->error && op->then_flush) {
				op->then_flush = false;
				issue_flush(nq, op);
				if (op->pending > 0)
					continue;
			}
			issued_unlink(nq, op);
			op_complete(nq, op, op->error ? -op->error : 0);
		}
	}
	return nq->h != NULL;
}

/* Take the worker's submissions into the waiting list. Returns whether stop was asked. */
static bool take_submissions(struct nbd_queue *nq)
{
	struct engine_io *io;
	bool stop;

	pthread_mutex_lock(&nq->lock);
	io = nq->submit_head;
	nq->submit_head = nq->submit_tail = NULL;
	stop = nq->stop;
	pthread_mutex_unlock(&nq->lock);
	while (io) {
		struct engine_io *next = io->next;
		struct nbd_op *op = nq->free_ops;

		io->next = NULL;
		if (!op) {
			/* Cannot happen: the queue has at most depth I/Os in flight. */
			engine_complete_async(nq->eq, io, -EBUSY);
		} else {
			nq->free_ops = op->next;
			op->io = io;
			op->nq = nq;
			if (!nq->h && nq->gave_up)
				op_complete(nq, op, -EIO);
			else
				wait_push(nq, op);
		}
		io = next;
	}
	return stop;
}

/* Disconnected: try once when due; give up on waiting I/O after the timeout. Returns poll's timeout. */
static int reconnect_step(struct nbd_queue *nq)
{
	uint64_t now = mono_ms();
	char why[256];
	int err;

	if (now >= nq->retry_at_ms) {
		nq->h = connect_bounded(nq->nt, nq, NBD_CONNECT_TIMEOUT_MS, why, sizeof(why), &err);
		now = mono_ms();
		if (nq->h) {
			if (nq->first_connect && !nq->gave_up)
				vha_debug("nbd %s: queue connected in %" PRIu64 " ms", nq->nt->where, now - nq->lost_at_ms);
			else
				vha_warn("nbd %s: %sconnected after %" PRIu64 " ms", nq->nt->where,
					 nq->first_connect ? "queue " : "re", now - nq->lost_at_ms);
			nq->first_connect = false;
			nq->gave_up = false;
			return 0;
		}
		vha_debug("nbd %s: reconnect: %s", nq->nt->where, why);
		nq->retry_at_ms = now + nq->retry_ms;
		nq->retry_ms = nq->retry_ms * 2 > NBD_RETRY_MAX_MS ? NBD_RETRY_MAX_MS : nq->retry_ms * 2;
	}
	if (!nq->gave_up && now - nq->lost_at_ms >= nq->nt->timeout_ms) {
		vha_warn("nbd %s: queue not %sconnected within %u ms: I/O fails until the server is back",
			 nq->nt->where, nq->first_connect ? "" : "re", nq->nt->timeout_ms);
		nq->gave_up = true;
		fail_waiting(nq);
	}
	if (!nq->gave_up && nq->lost_at_ms + nq->nt->timeout_ms < nq->retry_at_ms)
		return (int)(nq->lost_at_ms + nq->nt->timeout_ms - now);
	return nq->retry_at_ms > now ? (int)(nq->retry_at_ms - now) : 0;
}

static void *io_thread(void *arg)
{
	struct nbd_queue *nq = arg;

	for (;;) {
		struct pollfd pfd[2] = { { .fd = nq->wake_fd, .events = POLLIN } };
		unsigned int dir = 0;
		int timeout = -1, n = 1;
		bool stop = take_submissions(nq);

		if (nq->h)
			progress(nq);
		if (stop && !nq->nr_issued && !nq->wait_head)
			break;
		if (!nq->h) {
			timeout = reconnect_step(nq);
			if (nq->h)
				continue;
		}
		if (nq->h) {
			dir = nbd_aio_get_direction(nq->h);
			pfd[1].fd = nbd_aio_get_fd(nq->h);
			pfd[1].events = (dir & LIBNBD_AIO_DIRECTION_READ ? POLLIN : 0) |
					(dir & LIBNBD_AIO_DIRECTION_WRITE ? POLLOUT : 0);
			n = 2;
		}
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR) {
			vha_debug("nbd %s: poll: %s", nq->nt->where, strerror(errno));
			continue;
		}
		if (pfd[0].revents & POLLIN) {
			uint64_t junk;

			if (read(nq->wake_fd, &junk, sizeof(junk)) < 0 && errno != EAGAIN)
				vha_debug("nbd wake eventfd: %s", strerror(errno));
		}
		if (n == 2 && pfd[1].revents) {
			int r = 0;

			if ((pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) && (dir & LIBNBD_AIO_DIRECTION_READ))
				r = nbd_aio_notify_read(nq->h);
			if (r == 0 && (pfd[1].revents & (POLLOUT | POLLHUP | POLLERR)) &&
			    (dir & LIBNBD_AIO_DIRECTION_WRITE) && !handle_dead(nq))
				r = nbd_aio_notify_write(nq->h);
			if (handle_dead(nq))
				connection_lost(nq, r < 0 && nbd_get_error() ? nbd_get_error() :
						"the server closed the connection");
		}
	}
	return NULL;
}

static void nbd_queue_close(struct engine_queue *eq)
{
	struct nbd_queue *nq = eq->priv;
	uint64_t one = 1;

	if (!nq)
		return;
	if (nq->thread_started) {
		pthread_mutex_lock(&nq->lock);
		nq->stop = true;
		pthread_mutex_unlock(&nq->lock);
		if (write(nq->wake_fd, &one, sizeof(one)) < 0)
			vha_debug("nbd stop: %s", strerror(errno));
		pthread_join(nq->thread, NULL);
	}
	if (nq->h)
		nbd_close(nq->h);
	if (nq->wake_fd >= 0)
		close(nq->wake_fd);
	if (nq->lock_ready)
		pthread_mutex_destroy(&nq->lock);
	free(nq->ops);
	free(nq->bounce);
	free(nq);
	eq->priv = NULL;
}

static int nbd_queue_open(struct engine_queue *eq, unsigned int depth)
{
	struct nbd_target *nt = eq->engine->priv;
	struct nbd_queue *nq;
	int rc;

	nq = calloc(1, sizeof(*nq));
	if (!nq)
		return -ENOMEM;
	eq->priv = nq;
	nq->eq = eq;
	nq->nt = nt;
	nq->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (nq->wake_fd < 0)
		return -errno;
	rc = pthread_mutex_init(&nq->lock, NULL);
	if (rc != 0)
		return -rc;
	nq->lock_ready = true;
	nq->nr_ops = depth;
	nq->ops = calloc(depth, sizeof(*nq->ops));
	if (!nq->ops)
		return -ENOMEM;
	for (unsigned int i = depth; i-- > 0;) {
		nq->ops[i].next = nq->free_ops;
		nq->free_ops = &nq->ops[i];
	}
	/* Without it, every request goes page by page: slower, not wrong. */
	if (posix_memalign((void **)&nq->bounce, NBD_BOUNCE_PAGE, NBD_BOUNCE_BYTES) != 0)
		nq->bounce = NULL;
	/*
	 * This queue's own connection is the I/O thread's first (re)connect:
	 * queue_open runs on the main thread, which must not wait on a server
	 * (up to NBD_CONNECT_TIMEOUT_MS per queue) while other guests wait on
	 * it. The probe at open has just reached the server; if it is gone
	 * meanwhile, I/O waits for it as after any lost connection.
	 */
	nq->first_connect = true;
	nq->lost_at_ms = mono_ms();
	nq->retry_ms = NBD_RETRY_MIN_MS;
	nq->retry_at_ms = nq->lost_at_ms;
	eq->notify_used = true;         /* engine_complete_async writes notify_fd */
	rc = pthread_create(&nq->thread, NULL, io_thread, nq);
	if (rc != 0)
		return -rc;
	nq->thread_started = true;
	return 0;
}

/* Worker: hand io to the I/O thread; commit wakes it. */
static int nbd_submit(struct engine_queue *eq, struct engine_io *io)
{
	struct nbd_queue *nq = eq->priv;

	io->next = NULL;
	pthread_mutex_lock(&nq->lock);
	if (nq->submit_tail)
		nq->submit_tail->next = io;
	else
		nq->submit_head = io;
	nq->submit_tail = io;
	pthread_mutex_unlock(&nq->lock);
	return 0;
}

static void nbd_commit(struct engine_queue *eq)
{
	struct nbd_queue *nq = eq->priv;
	uint64_t one = 1;
	bool any;

	pthread_mutex_lock(&nq->lock);
	any = nq->submit_head != NULL;
	pthread_mutex_unlock(&nq->lock);
	if (any && write(nq->wake_fd, &one, sizeof(one)) < 0)
		vha_debug("nbd wake: %s", strerror(errno));
}

const struct engine_ops engine_nbd_ops = {
	.name = "nbd",
	.open = nbd_engine_open,
	.close = nbd_engine_close,
	.queue_open = nbd_queue_open,
	.queue_close = nbd_queue_close,
	.submit = nbd_submit,
	.commit = nbd_commit,
};
