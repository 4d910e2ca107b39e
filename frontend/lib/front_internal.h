/* SPDX-License-Identifier: MIT */
/*
 * libvhafront's private state, shared by its files: connect.c (the xenbus
 * handshake, close, following the backend), io.c (the ring and request
 * path), pool.c (the granted data pool and its buffer area) and sync.c (the
 * synchronous helpers). Nothing here is part of the API.
 */
#ifndef VHA_FRONT_INTERNAL_H
#define VHA_FRONT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <xenstore.h>
#include <xen/io/xs_wire.h>

#include "vha/blkif.h"
#include "vha/front.h"
#include "vha/log.h"

#define SEGS BLKIF_MAX_SEGMENTS_PER_REQUEST
#define MAX_QUEUES 16u
#define WATCH_TOKEN "vha-front-backend"   /* following the backend's state after open */
#define WAIT_TOKEN "vha-front-wait"         /* waiting for one state (handshake, close) */
#define POOL_MAX 1024u          /* pages one vha_gntshr_share grants at most (gntalloc's default limit) */
/* Room for any xenstore path, the NUL included: our device directory and its nodes. */
#define FRONT_XS_PATH_MAX (XENSTORE_ABS_PATH_MAX + 1)
/* Our own device directory, "device/vbd/<devid>" (relative), NUL included. */
#define FRONT_DEV_DIR_MAX 64
/* A node name we compose ("ring-ref<N>"), NUL included. */
#define FRONT_XS_NODE_MAX 24

struct req_slot {
	bool busy;
	bool zero_copy;                 /* buf lies in the pool's buffer area */
	uint8_t operation;
	enum vha_front_op op;
	void *buf;                      /* read destination when bounced */
	size_t len;
	/*
	 * Bounce page indices (+1: the indirect page). untrusted: the grant
	 * refs of the pages of `dedicated`, one per segment.
	 */
	uint32_t pages[VHA_BLKIF_MAX_SEGMENTS + 1];
	unsigned int npages;
	unsigned char *dedicated;       /* untrusted: this request's own data pages, NULL if none */
	unsigned char *dedicated_indirect;      /* untrusted: its own indirect page, NULL if none */
	grant_ref_t indirect_ref;
	/* As queued (resubmitted after a reconnect); accessed as a blkif_request_t, so aligned as one. */
	_Alignas(blkif_request_t) unsigned char raw[sizeof(blkif_request_t)];
	vha_front_cb *cb;
	void *opaque;
};

struct fqueue {
	void *sring;
	grant_ref_t ring_refs[VHA_BLKIF_MAX_RING_PAGES];
	struct vha_blkif_front ring;
	int port;
	struct req_slot *slots;         /* indexed by request id */
	unsigned int inflight;
};

struct vha_front {
	struct vha_platform *p;
	struct xs_handle *xs;
	struct vha_gntshr *shr;
	struct vha_evtchn *ev;
	char dir[FRONT_DEV_DIR_MAX];
	char *be_dir;
	bool watching;
	bool follow_pending;            /* wait_backend took an event of the follow watch */
	struct vha_front_info info;
	unsigned int timeout_ms;
	unsigned int poll_us;           /* opts.poll_us */
	unsigned int want_order, want_queues;
	bool no_indirect, no_persistent;
	bool untrusted;                 /* opts.untrusted_backend: dedicated pages per request, no pool */
	/* queues */
	struct fqueue q[MAX_QUEUES];
	unsigned int nslots;            /* per queue */
	unsigned int next_q;
	unsigned int inflight;
	/* data pool: pages [0, nbounce) bounce, [nbounce, npool) the buffer area */
	unsigned char *pool;
	grant_ref_t *pool_refs;
	uint32_t *free_pages;           /* stack of free bounce pages */
	unsigned int npool, nbounce, nfree;
	uint32_t *buf_run;              /* buffer area: run length at a run's first page, 0 if free */
	bool *buf_used;
	bool broken;
	struct vha_ratelimit spurious_rl;
	double spurious_window_start;   /* the second spurious_in_window counts */
	unsigned int spurious_in_window;
};

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* connect.c: the backend's state watch fired: a new size, a restart, or the end. 0 or -EIO. */
int front_follow_backend(struct vha_front *f);

/* pool.c: share the data pool at open (after the handshake). Logs errors. */
int front_pool_share(struct vha_front *f, const struct vha_front_opts *opts);
/*
 * pool.c, untrusted mode: share nsegs fresh pages for s (writable only for
 * a read) and, if indirect, one read-only indirect page; charged to the page
 * budget. 0 or -errno (nothing left shared).
 */
int front_dedicated_share(struct vha_front *f, struct req_slot *s, unsigned int nsegs, bool indirect);
/* pool.c, untrusted mode: end access to s's pages (leaked if the platform cannot confirm). */
void front_dedicated_end(struct vha_front *f, struct req_slot *s);
/* pool.c: whether [p, p + len) lies in the pool's buffer area. */
bool front_in_buffer_area(const struct vha_front *f, const void *p, size_t len);

/* io.c: segments one request may carry. */
unsigned int front_max_segments(const struct vha_front *f);
/* io.c: harvest every queue; the count completed, or -EIO (the device is then broken). */
int front_harvest_all(struct vha_front *f);
/* io.c: fail every outstanding request with -EIO without a response; its pages stay out of the pool. */
void front_fail_outstanding(struct vha_front *f);
/* io.c: the backend misbehaved: log once, fail what is outstanding now and everything later. */
void front_mark_broken(struct vha_front *f, const char *why);

#endif
