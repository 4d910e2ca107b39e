// SPDX-License-Identifier: MIT
/*
 * A queue's life on the main thread: set up (journal created, or an earlier
 * process's taken over), worker started, stopped without waiting on a
 * guest's I/O, and released. What a queue costs, for the budgets, is priced
 * here too. The worker itself (the data path) is queue.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backend.h"

void queue_init(struct queue *q, struct device *dev, unsigned int index)
{
	memset(q, 0, sizeof(*q));
	q->dev = dev;
	q->index = index;
	q->stop_fd = q->cq_fd = -1;
	journal_init(&q->journal);
}

static bool journal_path(const struct device *dev, unsigned int index, char *buf, size_t len)
{
	const struct backend_config *cfg = &dev->be->cfg;

	if (!cfg->state_dir || !cfg->resume)
		return false;
	snprintf(buf, len, "%s/journal/%u-%u-%u", cfg->state_dir, dev->fe_domid, dev->devid, index);
	return true;
}

static bool queue_journal_path(const struct queue *q, char *buf, size_t len)
{
	return journal_path(q->dev, q->index, buf, len);
}

int queue_journal_share(const struct device *dev, unsigned int index, struct journal_rings *out)
{
	char path[4200];

	memset(out, 0, sizeof(*out));
	return journal_path(dev, index, path, sizeof(path)) ? journal_peek(path, out) : -ENOENT;
}

size_t queue_slot_bytes(void)
{
	/* A slot, its journal entry, and its share of the io_uring (two entries a slot). */
	return sizeof(struct inflight) + sizeof(struct journal_entry) +
	       2 * (sizeof(struct io_uring_sqe) + sizeof(struct io_uring_cqe));
}

size_t queue_fixed_bytes(unsigned int cache_capacity)
{
	/* The indirect-page buffer, and the persistent cache's entries and hash buckets (fewer than two per entry). */
	return BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * VHA_PAGE_SIZE +
	       (size_t)cache_capacity * (sizeof(struct pgrant) + 2 * sizeof(struct pgrant *));
}

static void queue_journal_rings(const struct queue *q, struct journal_rings *r)
{
	memset(r, 0, sizeof(*r));
	r->nr_slots = q->nr_slots;
	r->nr_ring_pages = q->nr_ring_pages;
	memcpy(r->ring_refs, q->ring_refs, q->nr_ring_pages * sizeof(q->ring_refs[0]));
	r->remote_port = q->remote_port;
	r->grants = q->map_budget + q->cache_budget;
	r->copy_bytes = q->copy_budget;
}

int queue_take_over(struct queue *q)
{
	struct journal_rings rings;
	char path[4200];
	RING_IDX req_prod, rsp_prod;
	int rc;

	if (!queue_journal_path(q, path, sizeof(path)))
		return -ENOENT;
	q->recovery = calloc(1, sizeof(*q->recovery));
	if (!q->recovery)
		return -ENOMEM;
	/* Each read once: the frontend writes req_prod at any time. */
	req_prod = __atomic_load_n(&q->back.ring.sring->req_prod, __ATOMIC_ACQUIRE);
	rsp_prod = __atomic_load_n(&q->back.ring.sring->rsp_prod, __ATOMIC_ACQUIRE);
	queue_journal_rings(q, &rings);
	rc = journal_open_existing(&q->journal, path, &rings, req_prod, rsp_prod, q->recovery);
	if (rc < 0) {
		free(q->recovery);
		q->recovery = NULL;
		return rc;
	}
	q->back.ring.req_cons = q->recovery->req_cons;
	q->back.ring.rsp_prod_pvt = q->recovery->rsp_prod_pvt;
	return (int)q->recovery->nr_replay;
}

int queue_start(struct queue *q)
{
	int rc;

	q->slots = calloc(q->nr_slots, sizeof(*q->slots));
	q->indirect_buf = aligned_alloc(VHA_PAGE_SIZE, BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * VHA_PAGE_SIZE);
	q->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	q->cq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!q->slots || !q->indirect_buf || q->stop_fd < 0 || q->cq_fd < 0)
		return -ENOMEM;
	rc = gcache_init(&q->cache, q->dev->persistent ? q->cache_budget : 0);
	if (rc < 0)
		return rc;
	q->cache.no_evict = q->dev->target.buffered_transient;
	if (!q->recovery) {
		struct journal_rings rings;
		char path[4200];

		queue_journal_rings(q, &rings);
		rc = queue_journal_path(q, path, sizeof(path)) ?
		     journal_create(&q->journal, path, &rings, q->back.ring.req_cons, q->back.ring.rsp_prod_pvt) : 0;
		if (rc < 0)
			/* A guest can reconnect in a loop: the device's rate limit. */
			vha_log_ratelimited(&q->dev->rl, VHA_LOG_WARN, "device %u/%u queue %u: no journal (%s): a "
					    "restarted backend cannot take this queue over", q->dev->fe_domid,
					    q->dev->devid, q->index, strerror(-rc));
	}
	q->eng.engine = &q->dev->target;
	q->eng.notify_fd = q->cq_fd;
	q->eng.done = queue_io_done;
	q->eng.stop = queue_stop_asked;
	q->eng.arg = q;
	rc = engine_queue_open(&q->eng, q->nr_slots);
	if (rc < 0)
		return rc;
	q->rl = (struct vha_ratelimit)VHA_RATELIMIT_INIT(5000, 5);
	q->stopping = false;
	rc = pthread_create(&q->thread, NULL, queue_worker, q);
	if (rc != 0)
		return -rc;
	q->thread_started = true;
	return 0;
}

void queue_stop_begin(struct queue *q)
{
	uint64_t one = 1;

	if (!q->dev || !q->thread_started || q->stop_sent)
		return;
	__atomic_store_n(&q->stop_asked, 1, __ATOMIC_RELEASE);
	if (write(q->stop_fd, &one, sizeof(one)) < 0)
		vha_debug("stop queue: %s", strerror(errno));
	q->stop_sent = true;
}

bool queue_stopped(const struct queue *q)
{
	return !q->dev || !q->thread_started || __atomic_load_n(&q->exited, __ATOMIC_ACQUIRE);
}

/* Undo queue_start and the ring setup exactly as far as they got (also on a queue_init'ed one). */
void queue_stop(struct queue *q)
{
	if (!q->dev)
		return;
	if (q->thread_started) {
		queue_stop_begin(q);
		pthread_join(q->thread, NULL);
		q->thread_started = false;
	}
	/*
	 * The worker is gone: its counters join the device's totals, once
	 * (queue_stop may run twice), and the next connection's start at 0.
	 */
	queue_stats_add(&q->dev->totals, &q->stats);
	memset(&q->stats, 0, sizeof(q->stats));
	engine_queue_close(&q->eng);
	for (unsigned int i = 0; q->slots && i < q->nr_slots; i++) {
		strategy_release(q, &q->slots[i]);
		free(q->slots[i].cbuf);
	}
	free(q->slots);
	q->slots = NULL;
	q->cbuf_total = 0;
	gcache_destroy(&q->cache, q->dev->be->gnttab);
	free(q->indirect_buf);
	q->indirect_buf = NULL;
	free(q->recovery);
	q->recovery = NULL;
	/* An orderly stop: nothing is in flight, nothing to take over. */
	journal_close(&q->journal, true);
	if (q->evtchn) {
		if (q->local_port > 0)
			vha_evtchn_unbind(q->evtchn, (vha_evtchn_port_t)q->local_port);
		vha_evtchn_close(q->evtchn);
		q->evtchn = NULL;
	}
	q->local_port = 0;
	if (q->ring_map)
		vha_gnttab_unmap(q->dev->be->gnttab, q->ring_map, q->nr_ring_pages);
	q->ring_map = NULL;
	if (q->stop_fd >= 0)
		close(q->stop_fd);
	if (q->cq_fd >= 0)
		close(q->cq_fd);
	q->stop_fd = q->cq_fd = -1;
}
