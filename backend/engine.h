/* SPDX-License-Identifier: MIT */
/*
 * Storage engines: what lies below the data path. A device opens its
 * target through one engine (file, blockdev, null, rbd; later nbd), and
 * each of its queues drives the engine through a per-queue context, in the
 * manner of SPDK's bdev_module.h function tables.
 *
 * Threads. open and close run on the device's job thread (device_job_start:
 * an open may wait seconds on a remote cluster, and the main thread must
 * not), never two at once for one engine; size runs on the main thread, on
 * an open engine only. queue_open and
 * queue_close run on the main thread while the queue's worker is not
 * running. submit, commit and reap run on the queue's worker only. An
 * engine whose library completes I/O on its own threads (librbd, libnbd)
 * hands each finished engine_io to engine_complete_async, which may be
 * called from any thread: the I/O is delivered to the worker at its next
 * engine_reap. A guest is answered from its worker only, never from a
 * library thread.
 *
 * Errors: every function returns 0 (or a count) or -errno and never prints
 * above debug level: a guest can make the backend open its target, or fail
 * its I/O, in a loop, so the caller reports, rate-limited.
 */
#ifndef VHA_BACKEND_ENGINE_H
#define VHA_BACKEND_ENGINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <liburing.h>

#include "vha/target.h"

/* The file and blockdev engines' state: a block device or a regular file (target.c). */
struct target {
	int fd;
	int bfd;                        /* buffered, beside an O_DIRECT fd (direct_maps off); else -1 */
	bool direct;                    /* fd opened with O_DIRECT */
	bool is_blockdev;
	bool discard;                   /* punch hole / BLKDISCARD work */
	uint64_t size;                  /* bytes */
	uint32_t logical_block;         /* 512 or 4096 */
	uint32_t physical_block;
};

/*
 * Open `path` (read-only if !writable), with O_DIRECT if want_direct and the
 * filesystem takes it; then also a buffered bfd if want_buffered_too.
 * Returns 0 or -errno; logs at debug level only (a guest can make the backend
 * open its target in a loop: the caller reports, rate-limited).
 */
int target_open(struct target *t, const char *path, bool writable, bool want_direct, bool want_buffered_too);
void target_close(struct target *t);
/* Current size in bytes (stat / BLKGETSIZE64), or -errno. */
int64_t target_size(struct target *t);
/*
 * Discard [offset, offset+len) synchronously, TARGET_DISCARD_CHUNK bytes at a
 * time (a discard over a whole large disk can take seconds). Between chunks
 * it asks stop(arg) (may be NULL) and returns -ECANCELED when told to: what
 * was discarded stays discarded, which a discard allows.
 */
#define TARGET_DISCARD_CHUNK (UINT64_C(64) << 20)
int target_discard(struct target *t, uint64_t offset, uint64_t len, bool secure, bool (*stop)(void *), void *arg);

/* What an engine_io asks for. */
enum engine_op {
	ENGINE_READ,
	ENGINE_WRITE,
	/*
	 * Make every write completed before it durable. With iovecs: write
	 * them at offset first, then flush (blkif's flush or barrier with
	 * data, as blkfront sends for FUA); a failed write fails the flush.
	 */
	ENGINE_FLUSH,
	ENGINE_DISCARD,                 /* [offset, offset+length): reads may return zeroes or old data */
};

/* engine_io.flags */
#define ENGINE_IO_DRAIN 0x1u            /* start after every earlier I/O of the queue completed, and
					 * nothing submitted later starts before this one completes */
#define ENGINE_IO_TRANSIENT 0x2u        /* the iovecs point into grant mappings unmapped right after
					 * completion (see engine.buffered_transient) */
#define ENGINE_IO_SECURE 0x4u           /* discard: secure erase */

/*
 * One I/O of a request. The caller owns it (it lives in the request's slot)
 * and must not touch it between submit and its completion. The iovecs are
 * the request's mapped guest pages or its copy buffer: an engine reads or
 * writes them in place and never keeps them after completing.
 */
struct engine_io {
	enum engine_op op;
	unsigned int flags;             /* ENGINE_IO_* */
	uint64_t offset;                /* bytes */
	uint64_t length;                /* bytes: the iovecs' total, or the discard's length */
	const struct iovec *iov;
	unsigned int nr_iov;
	/* Set by the engine before completion: 0 (the whole length moved) or -errno (-EIO for a short transfer). */
	int result;
	/* The engine's own, from submit to completion. */
	int engine_state;
	struct engine_io *next;         /* on a completion list */
};

struct engine;
struct engine_queue;

/*
 * An engine, documented member by member. An instance lives in struct
 * engine; ops is set by engine_open from the target's kind.
 */
struct engine_ops {
	/* Required: the engine's name for logs and stats ("file", "blockdev", "null"). */
	const char *name;
	/*
	 * Required: open the target spec names and fill the geometry
	 * (engine.size ... engine.write_zeroes). writable: the device may be
	 * written (else open read-only and set readonly). e->direct_wanted and
	 * e->buffered_twin are set before the call. Returns 0 or -errno having
	 * set e->why for the device's error node when the errno alone says too
	 * little; on failure nothing stays open.
	 */
	int (*open)(struct engine *e, const struct vha_target_spec *spec, bool writable);
	/* Required: release what open took. Idempotent; safe on an engine whose open failed. */
	void (*close)(struct engine *e);
	/*
	 * Optional, may be NULL (the size never changes): the target's size now,
	 * in bytes, or -errno. Polled every second and on SIGHUP (online
	 * resize); an engine that learns of a resize from its library (an rbd
	 * update watch) answers from what it last heard and never blocks.
	 */
	int64_t (*size)(struct engine *e);
	/*
	 * Optional, may be NULL: set up the per-queue context for up to depth
	 * I/Os in flight (file: an io_uring whose completions make
	 * eq->notify_fd readable). Returns 0 or -errno; queue_close undoes a
	 * failed queue_open.
	 */
	int (*queue_open)(struct engine_queue *eq, unsigned int depth);
	/* Optional, may be NULL: release the per-queue context; nothing is in flight. Idempotent. */
	void (*queue_close)(struct engine_queue *eq);
	/*
	 * Required: start io. Returns 0 once the I/O is the engine's: it then
	 * completes exactly once, through eq->done at an engine_reap (an
	 * immediate result goes through engine_complete_local). Returns -errno
	 * if it was not started (the caller completes the request itself). The
	 * engine may wait for commit to start it.
	 */
	int (*submit)(struct engine_queue *eq, struct engine_io *io);
	/* Optional, may be NULL: start what submit queued (after a batch of submits). */
	void (*commit)(struct engine_queue *eq);
	/*
	 * Optional, may be NULL: deliver what finished in the engine's own
	 * completion queue (file: the io_uring CQ) through eq->done. Never blocks.
	 */
	void (*reap)(struct engine_queue *eq);
};

/* The storage a device serves, opened through its engine. Main thread, except as the members say. */
struct engine {
	const struct engine_ops *ops;   /* NULL: nothing open */
	enum vha_target_kind kind;
	/* Set by the caller before engine_open. */
	bool direct_wanted;             /* file/blockdev: O_DIRECT if the filesystem takes it */
	bool buffered_twin;             /* file/blockdev: with O_DIRECT, also a buffered descriptor for
					 * ENGINE_IO_TRANSIENT I/O (backend_config.direct_maps off) */
	unsigned int timeout_ms;        /* nbd: how long I/O waits for a lost server before failing
					 * with -EIO (0: the engine's default) */
	/* Geometry, set by open; size updated by the device on a resize. Read-only for workers. */
	uint64_t size;                  /* bytes */
	uint32_t logical_block;         /* 512 or 4096 */
	uint32_t physical_block;
	bool readonly;                  /* opened read-only */
	bool discard;                   /* ENGINE_DISCARD is worth offering */
	bool discard_secure;            /* ENGINE_IO_SECURE discard may work */
	bool write_zeroes;              /* the target can write zeroes cheaply (unused by blkif) */
	bool direct;                    /* file/blockdev: opened with O_DIRECT */
	bool buffered_transient;        /* ENGINE_IO_TRANSIENT I/O goes through a buffered path */
	size_t queue_bytes;             /* set by open: memory each queue_open allocates (nbd: its bounce
					 * buffer); the device's memory budget counts it */
	char why[128];                  /* open: what went wrong, for the error node, when set */
	/* The engine's own state. */
	struct target file;             /* file/blockdev (fd -1: none) */
	void *priv;
};

/*
 * A queue's view of the engine. The queue fills the members above "the
 * engine's" before engine_queue_open; the engine owns the rest.
 */
struct engine_queue {
	struct engine *engine;
	/*
	 * An eventfd the worker polls (it is the queue's): the engine makes it
	 * readable when completions wait (registered with io_uring, or written
	 * by engine_complete_async). engine_reap drains it.
	 */
	int notify_fd;
	bool notify_used;               /* the engine's: set in queue_open when it makes notify_fd readable */
	/* Worker thread: one finished I/O (io->result set). It may submit more. */
	void (*done)(struct engine_queue *eq, struct engine_io *io);
	/* May be NULL: long synchronous work (a discard over a whole disk) asks it between steps and
	 * ends early with -ECANCELED when it says true. */
	bool (*stop)(void *arg);
	void *arg;                      /* for done's and stop's owner */
	/* The engine's. */
	struct engine_io *local_head, *local_tail;      /* completed on the worker, not yet delivered */
	pthread_mutex_t async_lock;     /* guards async_head (library threads -> worker) */
	struct engine_io *async_head;   /* completed on library threads, newest first */
	bool async_lock_ready;
	struct io_uring ring;           /* file/blockdev */
	bool ring_ready;
	void *priv;
};

/* The engines built in. */
extern const struct engine_ops engine_file_ops;         /* regular files (io_uring) */
extern const struct engine_ops engine_blockdev_ops;     /* block devices: the same, named apart */
extern const struct engine_ops engine_null_ops;         /* null:SIZE: reads zeroes, writes vanish */
extern const struct engine_ops engine_rbd_ops;          /* rbd:...: a Ceph RBD image through librbd (engine_rbd.c) */
extern const struct engine_ops engine_nbd_ops;          /* nbd:...: an NBD server through libnbd (engine_nbd.c) */

/*
 * Open the target spec names through the engine for its kind (VHA_TARGET_PATH:
 * file, which also serves block devices). -EPROTONOSUPPORT, with e->why
 * set: a kind no engine serves (none today: every kind has one). Returns 0
 * or -errno.
 */
int engine_open(struct engine *e, const struct vha_target_spec *spec, bool writable);
/* Close what engine_open opened; idempotent. Keeps direct_wanted and buffered_twin. */
void engine_close(struct engine *e);
/*
 * Worker: whether completions wait to be reaped, without a system call
 * (busy polling): the io_uring CQ, and what finished on the worker or on
 * library threads. May miss one that is arriving; never blocks.
 */
bool engine_has_completions(struct engine_queue *eq);
/* The engine's name, or "none". */
const char *engine_name(const struct engine *e);
/* The target's size now, in bytes, or -errno. */
int64_t engine_size(struct engine *e);

/* Per queue. engine_queue_open: eq's caller members set; undo with engine_queue_close (always safe). */
int engine_queue_open(struct engine_queue *eq, unsigned int depth);
void engine_queue_close(struct engine_queue *eq);
/* Worker: submit, start a batch, and deliver every finished I/O through eq->done. */
int engine_submit(struct engine_queue *eq, struct engine_io *io);
void engine_commit(struct engine_queue *eq);
void engine_reap(struct engine_queue *eq);

/* For engines. On the worker (in submit or reap): io finished with result; delivered at the next engine_reap. */
void engine_complete_local(struct engine_queue *eq, struct engine_io *io, int result);
/* From any thread: io finished with result; the worker is woken through notify_fd. */
void engine_complete_async(struct engine_queue *eq, struct engine_io *io, int result);

#endif
