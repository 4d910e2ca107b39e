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
#include "budget.h"
#include "engine.h"
#include "journal.h"

#define BACKEND_MAX_QUEUES 16u
#define BACKEND_MAX_DEVICES 256u

/* How a request's data pages reach the backend (docs/backend.md, "Grant strategies"). */
enum grant_strategy {
	GS_MAP,                         /* map the request's grants, unmap on completion */
	GS_PERSISTENT,                  /* feature-persistent: keep grants mapped in a bounded cache */
	GS_COPY,                        /* grant-copy into backend buffers */
	GS_ADAPTIVE,                    /* persistent if negotiated, else copy small and map large */
};
#define GS_COUNT 4

const char *grant_strategy_name(enum grant_strategy s);
int grant_strategy_parse(const char *name);     /* -1 if unknown */

struct backend_config {
	const char *type;               /* xenstore backend type, "vbd" */
	unsigned int max_queues;
	unsigned int max_ring_order;
	unsigned int max_indirect_segments;
	bool direct;                    /* O_DIRECT on targets */
	/*
	 * O_DIRECT may read and write grant mappings that are unmapped right
	 * after the request (map strategy, persistent-cache misses). False on a
	 * Linux dom0: the kernel can still hold the pages after the completion,
	 * so such requests go through a second, buffered descriptor, and the
	 * persistent cache never unmaps (evicts) a page before the queue stops.
	 */
	bool direct_maps;
	const char *state_dir;
	const char *metrics_path;       /* --metrics: Prometheus text file, absolute; NULL: none */
	enum grant_strategy strategy;   /* default; a device's "grant-strategy" node overrides */
	unsigned int persistent_max;    /* grants cached per queue */
	unsigned int copy_max;          /* adaptive: requests up to this many bytes are copied */
	unsigned int copy_buffer_max;   /* bytes of copy buffers per device */
	/* Budgets (docs/backend.md, "Resource budgets"). */
	unsigned int device_max_inflight;       /* requests in flight per device */
	uint64_t device_max_inflight_bytes;     /* bytes of data in flight per device (0: no limit) */
	unsigned int device_max_grants;         /* grants mapped at once per device (in flight + cache) */
	unsigned int total_max_grants;          /* the same, across all devices */
	unsigned int total_max_inflight;        /* requests in flight, across all devices */
	uint64_t total_copy_buffers;            /* bytes of copy buffers, across all devices */
	uint64_t total_memory;                  /* bytes the devices' queues allocate, across all devices */
	bool resume;                    /* keep journals; take over live rings after a restart */
	unsigned int nbd_timeout_ms;    /* nbd: I/O waits this long for a lost server, then fails */
	unsigned int poll_us;           /* a worker that just did work busy-polls this long before sleeping */
};

/*
 * Counters a worker writes and the main thread reads for stats.json: one
 * writer each, so relaxed atomic loads and stores are enough (a reader sees
 * whole, recent values; plain ++ on x86, and no data race for TSan).
 */
#define STAT_ADD(var, n) __atomic_store_n(&(var), __atomic_load_n(&(var), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define STAT_SET(var, v) __atomic_store_n(&(var), (v), __ATOMIC_RELAXED)
#define STAT_GET(var) __atomic_load_n(&(var), __ATOMIC_RELAXED)

/* Latency histogram buckets: 50 µs to 10 s, 1-2.5-5 steps (stats.c). */
#define LATENCY_BUCKETS 17

struct queue_stats {
	uint64_t requests, reads, writes, flushes, barriers, discards, indirect;
	uint64_t buffered;              /* O_DIRECT device: requests on transient maps sent buffered */
	uint64_t bytes_read, bytes_written;
	uint64_t errors, rejected;
	uint64_t notifies_sent, events_received;
	uint64_t events_spurious;       /* events that brought no new request */
	uint64_t events_delayed;        /* times the port stayed masked for a storm delay */
	uint64_t polls_hit;             /* times busy polling (--poll-us) found work before sleeping */
	uint64_t strategy[GS_COUNT];    /* data requests served by each strategy (never GS_ADAPTIVE) */
	uint64_t resumed;               /* requests re-executed from an earlier process's journal */
	uint64_t grants_peak;           /* most grants mapped for requests at once */
	uint64_t backlogged;            /* times requests waited in the ring for a slot or grant budget */
	uint64_t bytes_peak;            /* most bytes of data in flight at once */
	/*
	 * Latency, request read off the ring to response: a count per bucket
	 * (request_latency_le_us[i] or less; the last: more than all) and the
	 * sum in microseconds.
	 */
	uint64_t latency[LATENCY_BUCKETS + 1];
	uint64_t latency_sum_us;
};

/* The latency buckets' upper bounds in µs (stats.c), and the bucket of a latency. */
extern const uint32_t request_latency_le_us[LATENCY_BUCKETS];
unsigned int latency_bucket(uint64_t us);

/*
 * stats.c: add s's counters into sum (the peaks: the higher). Reads s with
 * STAT_GET, so a live queue's may be added; sum is the caller's own.
 */
void queue_stats_add(struct queue_stats *sum, const struct queue_stats *s);

/* grants.c: one persistently mapped grant. */
struct pgrant {
	grant_ref_t ref;
	void *addr;
	unsigned int users;             /* in-flight requests using it */
	struct pgrant *hnext;           /* hash chain, or the free list */
	struct pgrant *lru_prev, *lru_next;     /* on the idle list while users == 0 */
};

struct grant_cache {
	struct pgrant *entries;
	struct pgrant **buckets;
	struct pgrant *free;
	struct pgrant idle;             /* sentinel: idle entries, least recently used first */
	unsigned int capacity, nbuckets, used;
	bool no_evict;                  /* full: per-request maps instead of evicting (direct_maps off) */
	uint64_t hits, misses, evictions, uncacheable;
};

/* capacity 0: an empty cache whose lookups always miss. */
int gcache_init(struct grant_cache *c, unsigned int capacity);
/* The page of ref, mapped read-write and held until gcache_put; NULL: map it per request instead. */
void *gcache_get(struct grant_cache *c, struct vha_gnttab *g, vha_domid_t domid, grant_ref_t ref,
		 struct pgrant **out);
void gcache_put(struct grant_cache *c, struct pgrant *e);
/* Unmap everything; no entry may be in use. */
void gcache_destroy(struct grant_cache *c, struct vha_gnttab *g);

struct device;

/* One in-flight request of a queue. */
struct inflight {
	struct vha_blkif_req req;       /* the private, validated copy */
	enum grant_strategy strategy;   /* how its data pages were reached */
	void *map;                      /* pages mapped for this request only */
	uint32_t nr_map;
	struct pgrant *pg[VHA_BLKIF_MAX_SEGMENTS];      /* persistent entries held */
	uint32_t nr_pg;
	void *cbuf;                     /* copy strategy: backend buffer, kept for reuse */
	size_t cbuf_size;
	uint32_t nr_iov;
	uint64_t expect;                /* data bytes the engine I/O moves */
	uint64_t bytes;                 /* data bytes charged to the queue's in-flight budget */
	struct iovec iov[VHA_BLKIF_MAX_SEGMENTS];
	struct engine_io io;            /* the request's I/O on the device's engine */
	uint64_t t_start_ns;            /* CLOCK_MONOTONIC when taken: for the latency histogram */
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
	int cq_fd;                      /* eventfd: the engine -> worker (completions wait) */
	struct engine_queue eng;        /* the queue's context on the device's engine */
	struct inflight *slots;
	unsigned int nr_slots;          /* request slots: the queue's share of the device's in-flight budget */
	unsigned int inflight;
	/* Budgets, the queue's share of the device's (set before queue_start). */
	unsigned int map_budget;        /* grants mapped per request at once */
	unsigned int cache_budget;      /* persistent-cache entries (held until the queue stops) */
	unsigned int request_grants_max;        /* grants the largest accepted request maps */
	size_t copy_budget;             /* bytes of copy buffers */
	uint64_t bytes_budget;          /* data bytes in flight (0: no limit) */
	uint64_t bytes_inflight;        /* worker: data bytes in flight now */
	unsigned int grants_mapped;     /* worker: grants mapped for requests now */
	bool backlog;                   /* worker: requests wait in the ring for budget */
	bool stopping;                  /* worker's own: leave once nothing is in flight */
	bool stop_sent;                 /* main: queue_stop_begin wrote stop_fd */
	int stop_asked;                 /* main -> worker (atomic): the same, for long work between polls */
	int exited;                     /* worker -> main (atomic): the thread is about to return */
	/* Event storm accounting (worker only): see account_event in queue.c. */
	uint64_t storm_window_start, unmask_at;
	unsigned int storm_spurious, storm_delay_ms;
	int masked_port;                /* kept masked until unmask_at, or -1 */
	struct queue_stats stats;       /* written by the worker, read racily for stats.json */
	struct grant_cache cache;       /* persistent grants (capacity 0 unless negotiated) */
	size_t cbuf_total;              /* bytes of copy buffers held by slots */
	unsigned char *indirect_buf;    /* private copy of a request's indirect pages */
	struct journal journal;         /* hdr NULL: no journal (no state dir, or --no-resume) */
	struct journal_recovery *recovery;      /* set by queue_take_over: run these first */
	struct vha_ratelimit rl;
};

enum device_phase {
	DEV_NEW,                        /* nothing written yet */
	DEV_INITWAIT,                   /* features published, waiting for hotplug and frontend */
	DEV_CONNECTED,
	DEV_CLOSED,                     /* rings torn down; may reconnect */
};

struct backend;
struct device;

/*
 * Work that can block for seconds (opening or closing a target behind a
 * Ceph monitor or an NBD server) runs on a thread of the device's own, never
 * on the main thread, so one unreachable cluster stalls no other guest's
 * handshake (docs/backend.md, "Lifecycle of a device"). One job at a time per device; the
 * thread wakes the main thread when it is done, and the main thread collects
 * the result (device.c).
 */
enum device_job_state {
	JOB_IDLE,                       /* no thread */
	JOB_RUNNING,
	JOB_DONE,                       /* finished, not collected yet (the main thread is woken) */
};

struct device_job {
	pthread_t thread;
	int (*fn)(struct device *dev);
	int rc;                         /* fn's result, once JOB_DONE */
	int state;                      /* enum device_job_state; atomic */
	bool joined;                    /* device_job_wait joined the thread already */
};

/* Whether a device's target is open, for protocols that open it through a job. Main thread only. */
enum target_state {
	TARGET_CLOSED,
	TARGET_OPENING,                 /* an open job runs */
	TARGET_OPEN,
	TARGET_CLOSING,                 /* a close job runs */
};

struct device {
	struct backend *be;
	vha_domid_t fe_domid;
	unsigned int devid;
	char be_path[128];              /* absolute backend dir */
	char *fe_path;                  /* frontend dir, from the "frontend" node */
	char fe_state_token[48];
	bool fe_watched;
	enum device_phase phase;
	int closed_fe_state;            /* DEV_CLOSED: the frontend's state when we closed */
	bool stopping;                  /* Closing: waiting for the workers to finish their I/O */
	bool removed;                   /* the backend directory is gone: free once stopped */
	bool dirty;
	bool readonly, cdrom;
	enum grant_strategy strategy;   /* configured for this device */
	bool persistent;                /* feature-persistent negotiated */
	volatile int discard_unsupported;       /* set by a worker: withdraw feature-discard */
	uint64_t last_size;             /* target size last published (online resize) */
	struct engine target;           /* the storage it serves, through its engine; while a job
					 * opens or closes it, the job's alone */
	enum target_state target_state;
	struct vha_target_spec *spec;   /* what the open job opens (parsed params), while not CLOSED */
	bool open_writable;
	struct device_job job;
	char target_label[256];         /* the target as configured (params), for stats and metrics */
	char vdev[32];                  /* the backend's "dev" node (xvda), for stats and metrics */
	struct vha_blkif_limits limits;
	struct device_budget budget;    /* reserved from the backend's pool while connected */
	/*
	 * For the life of the device in this process (main thread only): the
	 * counters of the queues of every earlier connection, added in by
	 * queue_stop (stats.json adds the live queues'), and how many times it
	 * connected (a takeover counts).
	 */
	struct queue_stats totals;
	unsigned int connections;
	unsigned int nr_queues;
	struct queue queues[BACKEND_MAX_QUEUES];
	volatile int broken;            /* set by a worker: ring overflow or fatal error */
	struct vha_ratelimit rl;
};

/*
 * What a protocol adds to the shared device lifecycle (device.c), in the
 * manner of SPDK's bdev_module.h. All members run on the main thread.
 */
struct device_ops {
	/* Required: the protocol's name for logs and stats ("vbd"). */
	const char *name;
	/* Required: write the feature nodes offered before InitWait. Never fails (errors go to the error node). */
	void (*publish_features)(struct device *dev);
	/*
	 * Required: read the frontend's nodes, open the target, set up and start
	 * every queue, publish what the frontend reads once Connected. resume:
	 * the rings are live, left by an earlier process: take them over from
	 * the journals and add the requests to run again to *resumed. Returns 0
	 * or -errno, having written an error node; on failure the caller closes
	 * the device, which undoes exactly what was set up (queue_init'ed queues
	 * are safe to stop). -EINPROGRESS: not an error; a device job (opening
	 * the target) runs, and connect is called again once it is done, with
	 * the same resume, if the device still wants it.
	 */
	int (*connect)(struct device *dev, bool resume, unsigned int *resumed);
	/*
	 * Optional, may be NULL: release what connect took besides the queues
	 * and the budget (its target), once every queue has stopped. Called
	 * after a failed connect too, so it must undo exactly as far as connect
	 * got, and be idempotent. Returns true when all is released; false when
	 * a device job still runs (opening or closing the target): called again
	 * once it is done.
	 */
	bool (*disconnect)(struct device *dev);
	/*
	 * Optional, may be NULL: a device job finished while the device waits
	 * for its frontend (InitWait): collect it, whatever the frontend does
	 * meanwhile (one that gave up waiting still reads why in the error
	 * node). Returns 0, or -errno when the job failed: the error node is
	 * written and the caller closes the device.
	 */
	int (*job_done)(struct device *dev);
	/* Optional, may be NULL: each time a connected device is looked at (withdraw a feature a worker found missing). */
	void (*refresh)(struct device *dev);
	/* Optional, may be NULL: every second and on SIGHUP, for a connected device (online resize). */
	void (*check_size)(struct device *dev);
};

/* vbd.c: blkif. */
extern const struct device_ops vbd_ops;

struct backend {
	const struct device_ops *ops;   /* the protocol this process serves */
	struct backend_config cfg;
	struct vha_platform *platform;
	struct vha_gnttab *gnttab;
	struct xs_handle *xs;
	char base_path[96];             /* /local/domain/<me>/backend/<type> */
	int wake_fd;                    /* eventfd: workers -> main */
	struct device *devices[BACKEND_MAX_DEVICES];
	struct budget_pool pool;        /* the totals, and what connected devices reserved */
	unsigned int nr_devices;
	struct vha_ratelimit metrics_rl;        /* "cannot write metrics": once per interval */
};

/* lock.c: how long a starting daemon waits for an earlier one to be gone. */
#define BACKEND_LOCK_WAIT_MS 10000u
/*
 * Take <state-dir>/lock for the life of the process (the fd stays open),
 * waiting up to wait_ms for another holder to exit. -EWOULDBLOCK: another
 * vha-backend still serves this state directory.
 */
int backend_lock(const char *state_dir, unsigned int wait_ms, int *fd_out);

/* device.c: the lifecycle, for the protocols. */
/* Log (rate-limited, control characters removed) and write the device's error node. */
void device_error(struct device *dev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Move the backend state through the xenbus table; a transition off the table closes the device with an error node. */
void device_set_state(struct device *dev, int state);
/* Run fn(dev) on the device's job thread. 0, -EBUSY (a job is there already) or -errno (no thread). */
int device_job_start(struct device *dev, int (*fn)(struct device *dev));
/* -ENOENT: no job; -EINPROGRESS: it runs; else the finished job's result, collected (no job any more). */
int device_job_collect(struct device *dev);

/* device.c: xenstore side. */
/* The protocol that serves backend type `type` ("vbd": blkif; an unknown type is served as blkif). */
const struct device_ops *backend_ops_for_type(const char *type);
int backend_init(struct backend *be, const struct backend_config *cfg, struct vha_platform *p);
/* Handle pending xenstore watch events and dirty devices; never blocks. */
void backend_process(struct backend *be);
/* Close every device (SIGTERM). */
void backend_shutdown(struct backend *be);
/* Is a device found live still opening its target before it can be taken over? (Readiness waits.) */
bool backend_taking_over(const struct backend *be);
int backend_write_stats(struct backend *be);
/*
 * Log, naming the device or queue, how many lines each rate limit held back
 * in an interval that has ended (every second: a guest's flood that stops is
 * still counted).
 */
void backend_flush_logs(struct backend *be);
/* Publish a new size for every connected device whose target changed (online resize). */
void backend_check_sizes(struct backend *be);

/* strategy.c: how a request's data pages are reached (worker thread only). All return 0 or -errno. */
/* Grant-copy the request's indirect pages into the queue's private buffer and decode them. */
int strategy_load_indirect(struct queue *q, struct vha_blkif_req *req);
/* Make the request's data reachable through s->iov with the device's strategy (sets s->strategy). */
int strategy_prepare(struct queue *q, struct inflight *s);
/* After a disk read with the copy strategy: copy the data into the guest's pages. */
int strategy_copy_to_guest(struct queue *q, struct inflight *s);
/* Release what strategy_prepare took; fails only if the platform could not unmap (fail the request). */
int strategy_release(struct queue *q, struct inflight *s);

/* queue.c: the data path. The worker thread's body (queue_start runs it). */
void *queue_worker(void *arg);
/* queue.c: the worker's end of the engine (queue_start sets them in q->eng; arg is the queue). */
void queue_io_done(struct engine_queue *eq, struct engine_io *io);
bool queue_stop_asked(void *arg);

/* queue_setup.c: a queue's life on the main thread. */
/* A queue that owns nothing yet: queue_stop on it (or on one set up part way) is safe. */
void queue_init(struct queue *q, struct device *dev, unsigned int index);
/*
 * After queue_map_ring: take the live ring over from the journal an earlier
 * process left (ring positions restored; its unanswered requests run first,
 * in ring order, once the queue starts). Returns the number of requests to
 * run again, or a journal_open_existing error.
 */
int queue_take_over(struct queue *q);
/*
 * The rings and budget share of the journal an earlier process left for
 * queue `index` of dev (journal_peek): 0, -ENOENT without one, or its error.
 */
int queue_journal_share(const struct device *dev, unsigned int index, struct journal_rings *out);
/* Memory a queue allocates per request slot, and besides its slots and copy buffers (for the budgets). */
size_t queue_slot_bytes(void);
size_t queue_fixed_bytes(unsigned int cache_capacity);
/* Start the worker (after the ring is mapped and the event channel bound). */
int queue_start(struct queue *q);
/* Ask the worker to stop (it finishes its in-flight I/O, then exits and wakes the main thread). Never blocks. */
void queue_stop_begin(struct queue *q);
/* Has the worker exited (or never started)? */
bool queue_stopped(const struct queue *q);
/*
 * Stop the worker and release everything: in-flight I/O completes, grants
 * are unmapped; then the ring is unmapped. Blocks until the worker exits:
 * call it once queue_stopped() (or at shutdown).
 */
void queue_stop(struct queue *q);

#endif
