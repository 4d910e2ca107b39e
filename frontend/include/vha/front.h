/* SPDX-License-Identifier: MIT */
/*
 * libvhafront: a userspace blkif frontend. It attaches to device/vbd/<devid>
 * in its own domain, shares the ring and a pool of data pages with the
 * backend (a userspace process can only grant pages the platform allocated,
 * so caller data is bounced through the pool), and moves requests.
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
	unsigned int pool_pages;        /* data pages shared with the backend (0: 4 per ring slot, >= 64) */
};

struct vha_front_info {
	uint64_t sectors;               /* 512-byte units */
	uint32_t sector_size;           /* logical */
	uint32_t physical_sector_size;
	bool readonly, cdrom;
	bool flush, discard, persistent;
	unsigned int ring_pages;
	unsigned int max_indirect_segments;     /* what the backend offers */
	unsigned int backend_domid;
};

enum vha_front_op { VHA_FRONT_READ, VHA_FRONT_WRITE, VHA_FRONT_FLUSH, VHA_FRONT_DISCARD };

/* Completion: status 0, -EIO (error response or broken device) or -EOPNOTSUPP. */
typedef void vha_front_cb(void *opaque, int status);

/*
 * Attach to device/vbd/<devid> of our domain and go Connected. Waits for the
 * backend (InitWait, then Connected) up to opts->timeout_ms. -ENOENT: no
 * such device; -ETIMEDOUT: the backend did not answer. Logs errors.
 */
int vha_front_open(struct vha_platform *p, unsigned int devid, const struct vha_front_opts *opts,
		   struct vha_front **out);
/* Close (Closing -> wait for the backend -> Closed), ending every grant. NULL is fine. */
void vha_front_close(struct vha_front *f);
const struct vha_front_info *vha_front_get_info(const struct vha_front *f);
/* Largest len one vha_front_submit accepts (bytes). */
size_t vha_front_max_io(const struct vha_front *f);

/*
 * Queue one request: offset and len in bytes, multiples of the sector size,
 * len <= vha_front_max_io(). For writes the data is copied into pool pages
 * now; for reads it is copied into buf on completion (buf must stay valid).
 * Returns 0, -EAGAIN (ring or pool full: poll first), -EINVAL, -EROFS, -EIO.
 * The request is pushed to the backend at once.
 */
int vha_front_submit(struct vha_front *f, enum vha_front_op op, uint64_t offset, void *buf, size_t len,
		     vha_front_cb *cb, void *opaque);
/*
 * Harvest responses, calling completions; waits up to timeout_ms (-1:
 * forever) when nothing is ready. Handles at most one ring of responses per
 * call. Returns the number completed, or -EIO if the device is broken.
 */
int vha_front_poll(struct vha_front *f, int timeout_ms);
/* Requests submitted and not yet completed. */
unsigned int vha_front_inflight(const struct vha_front *f);

/* Synchronous helpers; large I/O is split and pipelined. */
int vha_front_read(struct vha_front *f, uint64_t offset, void *buf, size_t len);
int vha_front_write(struct vha_front *f, uint64_t offset, const void *buf, size_t len);
int vha_front_flush(struct vha_front *f);
int vha_front_discard(struct vha_front *f, uint64_t offset, uint64_t len);

#endif
