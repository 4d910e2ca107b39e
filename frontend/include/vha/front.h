/* SPDX-License-Identifier: MIT */
/*
 * libvhafront: a userspace blkif frontend. It attaches to device/vbd/<devid>
 * in its own domain, shares the rings and a pool of data pages with the
 * backend, and moves requests. A userspace process can only grant pages the
 * platform allocated, so the pool is granted once at open and reused for
 * the life of the device (feature-persistent: the backend keeps it mapped).
 * Caller data is bounced through pool pages, unless the caller's buffer was
 * allocated from the pool itself (vha_front_buf_alloc): then there is no
 * copy and, with persistent grants, no per-request map on the backend.
 * With opts.untrusted_backend there is no pool: each request shares pages
 * of its own, ended when it completes (see the option).
 *
 * Recovery: when the backend goes away and comes back (it was restarted, or
 * asks the frontend to reconnect by going Closed while its toolstack still
 * has the device online), the next vha_front_poll reconnects with fresh
 * rings and resubmits everything in flight; callers see no error. When the
 * toolstack takes the device away, every request fails with -EIO.
 *
 * Online resize: vha_front_poll picks up a new "sectors" from the backend;
 * vha_front_get_info shows it.
 *
 * Threads: a struct vha_front is not thread-safe; use it from one thread.
 * Errors: 0 / count or -errno; the library logs through vha/log.h.
 * A device that sees a broken backend (a response with an unknown or
 * duplicate id or the wrong operation, or a bogus rsp_prod) is marked
 * broken: every outstanding and later request fails with -EIO.
 */
#ifndef VHA_FRONT_H
#define VHA_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vha/platform.h"

struct vha_front;

struct vha_front_opts {
	unsigned int timeout_ms;        /* handshake steps (0: 10000) */
	unsigned int ring_order;        /* wanted ring page order, capped by the backend (0: 1 page) */
	unsigned int pool_pages;        /* bounce pages shared with the backend (0: 512) */
	unsigned int queues;            /* wanted queues, capped by the backend (0: 1) */
	unsigned int buffer_pages;      /* extra pool pages for vha_front_buf_alloc (0: none); bounce and
					 * buffer pages together at most 1024 */
	bool no_indirect;               /* never send indirect requests (11 segments at most) */
	bool no_persistent;             /* do not offer feature-persistent to the backend */
	/*
	 * trusted=0 (XSA-403): the backend sees nothing but pages dedicated to
	 * one request. No data pool is shared and feature-persistent is not
	 * offered; each read or write gets freshly zeroed pages of its own
	 * (granted read-only for a write), its data copied in (writes) or out
	 * (reads), and its own indirect page (read-only); access to all of them
	 * ends when the request completes, and the platform keeps a page the
	 * backend still maps out of use until it unmaps it. pool_pages then
	 * caps the pages shared at any one time; buffer_pages must be 0
	 * (no zero-copy buffers: vha_front_open fails with -EINVAL). Costs a
	 * share and an unshare per request.
	 */
	bool untrusted_backend;
	/*
	 * Busy polling: vha_front_poll, with requests in flight and nothing
	 * answered yet, watches the rings for this many microseconds before it
	 * re-arms the event channel and sleeps. Lower latency at low queue
	 * depth for a CPU that spins; the backend is not asked to notify while
	 * the caller polls. 0: never (at most 1000).
	 */
	unsigned int poll_us;
};

struct vha_front_info {
	uint64_t sectors;               /* 512-byte units */
	uint32_t sector_size;           /* logical */
	uint32_t physical_sector_size;
	bool readonly, cdrom;
	bool flush, discard, persistent;
	bool barrier;
	unsigned int ring_pages;        /* per queue */
	unsigned int queues;
	unsigned int max_indirect_segments;     /* what the backend offers */
	unsigned int backend_domid;
	unsigned int reconnects;        /* times the rings were set up again after a backend restart */
	unsigned int resizes;           /* times a new size was picked up */
	uint64_t spurious_events;       /* events that brought no response and no backend change (XSA-391) */
};

/*
 * BARRIER is a write that the backend orders after every earlier request and
 * before every later one on the same queue, and makes durable (feature-barrier).
 */
enum vha_front_op { VHA_FRONT_READ, VHA_FRONT_WRITE, VHA_FRONT_FLUSH, VHA_FRONT_DISCARD, VHA_FRONT_BARRIER };

/* Completion: status 0, -EIO (error response or broken device) or -EOPNOTSUPP. */
typedef void vha_front_cb(void *opaque, int status);

/*
 * Attach to device/vbd/<devid> of our domain and go Connected. Waits for the
 * backend (InitWait, then Connected) up to opts->timeout_ms. -ENOENT: no
 * such device; -ETIMEDOUT: the backend did not answer; -EPROTO: a move of
 * this frontend's state that the xenbus table refuses (someone else wrote
 * the state node): the device is closed with an `error` node saying which.
 * Logs errors.
 */
int vha_front_open(struct vha_platform *p, unsigned int devid, const struct vha_front_opts *opts,
		   struct vha_front **out);
/*
 * Close: let requests in flight finish (5 s, or opts.timeout_ms if shorter),
 * Closing, wait for the backend (opts.timeout_ms), Closed; then fail what was
 * never answered with -EIO and end every grant. Bounded in time whatever the
 * backend does. Pages of unanswered requests are not reused; the platform
 * keeps a page the backend still maps until it unmaps (XSA-396). NULL is fine.
 */
void vha_front_close(struct vha_front *f);
const struct vha_front_info *vha_front_get_info(const struct vha_front *f);
/* Largest len one vha_front_submit accepts (bytes). */
size_t vha_front_max_io(const struct vha_front *f);

/*
 * Buffers from the granted pool: len bytes (rounded up to pages), page
 * aligned, or NULL when the buffer area (opts.buffer_pages) has no room.
 * I/O on them is zero-copy. Do not touch a buffer while a request on it is
 * in flight.
 */
void *vha_front_buf_alloc(struct vha_front *f, size_t len);
void vha_front_buf_free(struct vha_front *f, void *buf);

/*
 * Queue one request: offset and len in bytes, multiples of the sector size,
 * len <= vha_front_max_io(). A buf from vha_front_buf_alloc (512-byte
 * aligned inside it) is used in place. Any other buf is bounced: for writes
 * the data is copied into pool pages (untrusted_backend: dedicated pages)
 * now; for reads it is copied into buf on completion (buf must stay valid).
 * Returns 0, -EAGAIN (ring or pool full: poll first), -EINVAL, -EROFS, -EIO,
 * or (untrusted_backend, nothing in flight) the platform's error sharing
 * the request's pages, e.g. -ENOMEM or -ENOSPC.
 * The request is pushed to the backend at once.
 */
int vha_front_submit(struct vha_front *f, enum vha_front_op op, uint64_t offset, void *buf, size_t len,
		     vha_front_cb *cb, void *opaque);
/*
 * Whether n read/write requests covering len bytes at buf (split as the
 * caller will split them) would all be accepted now, i.e. no -EAGAIN.
 */
bool vha_front_can_submit(const struct vha_front *f, unsigned int n, const void *buf, size_t len);

/*
 * Harvest responses, calling completions; waits up to timeout_ms (-1:
 * forever) when nothing is ready. The timeout is a deadline: events that
 * bring no response do not extend it (they are counted in
 * info.spurious_events; XSA-391). Handles at most one ring of responses per
 * queue per call. Also follows the backend: a new size, or a reconnect
 * (which may block up to opts.timeout_ms). Returns the number completed, or
 * -EIO if the device is broken.
 */
int vha_front_poll(struct vha_front *f, int timeout_ms);
/* Requests submitted and not yet completed. */
unsigned int vha_front_inflight(const struct vha_front *f);

/* Synchronous helpers; large I/O is split and pipelined. */
int vha_front_read(struct vha_front *f, uint64_t offset, void *buf, size_t len);
int vha_front_write(struct vha_front *f, uint64_t offset, const void *buf, size_t len);
int vha_front_flush(struct vha_front *f);
int vha_front_discard(struct vha_front *f, uint64_t offset, uint64_t len);
/* One barrier write (len <= 11 pages): -EOPNOTSUPP unless the backend offers feature-barrier. */
int vha_front_barrier_write(struct vha_front *f, uint64_t offset, const void *buf, size_t len);

#endif
