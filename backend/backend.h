/* SPDX-License-Identifier: MIT */
/*
 * vha-backend internals. Threads: the main thread owns xenstore and every
 * device's lifecycle; each connected queue has one worker thread with its
 * own io_uring that serves the ring. Workers never touch xenstore; they
 * report a broken ring by setting a flag and waking the main thread.
 */
#ifndef VHA_BACKEND_H
#define VHA_BACKEND_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <liburing.h>

#include "vha/blkif.h"
#include "vha/log.h"
#include "vha/platform.h"

#define BACKEND_MAX_QUEUES 16u
#define BACKEND_MAX_DEVICES 256u

struct backend_config {
	const char *type;               /* xenstore backend type, "vbd" */
	unsigned int max_queues;
	unsigned int max_ring_order;
	unsigned int max_indirect_segments;
	bool direct;                    /* O_DIRECT on targets */
	const char *state_dir;
};

/* The storage a device serves. */
struct target {
	int fd;
	bool direct;                    /* opened with O_DIRECT */
	bool is_blockdev;
	bool discard;                   /* punch hole / BLKDISCARD work */
	uint64_t size;                  /* bytes */
	uint32_t logical_block;         /* 512 or 4096 */
	uint32_t physical_block;
};

/* Open `path` (read-only if !writable). Logs errors. */
int target_open(struct target *t, const char *path, bool writable, bool want_direct);
void target_close(struct target *t);
/* Discard [offset, offset+len) synchronously. */
int target_discard(struct target *t, uint64_t offset, uint64_t len, bool secure);

struct queue_stats {
	uint64_t requests, reads, writes, flushes, discards;
	uint64_t bytes_read, bytes_written;
	uint64_t errors, rejected;
	uint64_t notifies_sent, events_received;
};

struct device;

/* One in-flight request of a queue. */
struct inflight {
	struct vha_blkif_req req;       /* the private, validated copy */
	void *map;                      /* data pages mapped for this request */
	uint32_t nr_map;
	uint32_t nr_iov;
	uint64_t expect;                /* bytes the SQE must transfer */
	struct iovec iov[VHA_BLKIF_MAX_SEGMENTS];
	bool busy;
};

struct queue {
	struct device *dev;
	unsigned int index;
	/* Ring and event channel, set up by the main thread before the worker starts. */
	unsigned int nr_ring_pages;
	grant_ref_t ring_refs[VHA_BLKIF_MAX_RING_PAGES];
	void *ring_map;
	struct vha_blkif_back back;
	struct vha_evtchn *evtchn;
	int local_port;
	uint32_t remote_port;
	/* Worker. */
	pthread_t thread;
	bool thread_started;
	int stop_fd;                    /* eventfd: main -> worker */
	int cq_fd;                      /* eventfd registered with io_uring */
	struct io_uring ring;
	bool ring_ready;
	struct inflight *slots;
	unsigned int nr_slots;
	unsigned int inflight;
	bool stopping;
	struct queue_stats stats;       /* written by the worker, read racily for stats.json */
	struct vha_ratelimit rl;
};

enum device_phase {
	DEV_NEW,                        /* nothing written yet */
	DEV_INITWAIT,                   /* features published, waiting for hotplug and frontend */
	DEV_CONNECTED,
	DEV_CLOSED,                     /* rings torn down; may reconnect */
};

struct backend;

struct device {
	struct backend *be;
	vha_domid_t fe_domid;
	unsigned int devid;
	char be_path[128];              /* absolute backend dir */
	char *fe_path;                  /* frontend dir, from the "frontend" node */
	char fe_state_token[48];
	bool fe_watched;
	enum device_phase phase;
	bool dirty;
	bool readonly, cdrom;
	struct target target;
	struct vha_blkif_limits limits;
	unsigned int nr_queues;
	struct queue queues[BACKEND_MAX_QUEUES];
	volatile int broken;            /* set by a worker: ring overflow or fatal error */
	struct vha_ratelimit rl;
};

struct backend {
	struct backend_config cfg;
	struct vha_platform *platform;
	struct vha_gnttab *gnttab;
	struct xs_handle *xs;
	char base_path[96];             /* /local/domain/<me>/backend/<type> */
	int wake_fd;                    /* eventfd: workers -> main */
	struct device *devices[BACKEND_MAX_DEVICES];
	unsigned int nr_devices;
};

/* device.c: xenstore side. */
int backend_init(struct backend *be, const struct backend_config *cfg, struct vha_platform *p);
/* Handle pending xenstore watch events and dirty devices; never blocks. */
void backend_process(struct backend *be);
/* Close every device (SIGTERM). */
void backend_shutdown(struct backend *be);
int backend_write_stats(struct backend *be);

/* queue.c: the data path. */
int queue_start(struct queue *q);
/* Stop the worker: in-flight I/O completes, grants are unmapped; then the ring is unmapped. */
void queue_stop(struct queue *q);

#endif
