// SPDX-License-Identifier: MIT
/*
 * The data path: one worker thread and one io_uring per queue. Requests are
 * copied out of the ring once, validated, their grants mapped in one batch,
 * and submitted as one readv/writev whose iovecs point into the mapped guest
 * pages (with O_DIRECT the adapter DMAs straight into guest memory). On
 * completion the grants are unmapped, the response written, and the guest
 * notified only when the ring asks.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backend.h"

#define SECTOR_SHIFT 9

static void queue_fail(struct queue *q, const char *why)
{
	vha_log_ratelimited(&q->rl, VHA_LOG_ERROR, "device %u/%u queue %u: %s; closing the device",
			    q->dev->fe_domid, q->dev->devid, q->index, why);
	__atomic_store_n(&q->dev->broken, 1, __ATOMIC_RELEASE);
	q->stopping = true;
	uint64_t one = 1;
	if (write(q->dev->be->wake_fd, &one, sizeof(one)) < 0)
		vha_debug("wake main: %s", strerror(errno));
}

static void respond(struct queue *q, const struct vha_blkif_req *req, int16_t status)
{
	vha_blkif_back_respond(&q->back, req->id, req->operation, status);
	if (status != BLKIF_RSP_OKAY)
		q->stats.errors++;
}

static void reject(struct queue *q, struct vha_blkif_req *req, enum vha_blkif_reject why)
{
	q->stats.rejected++;
	/* A guest can send these in a loop: one line per interval per device. */
	vha_log_ratelimited(&q->rl, VHA_LOG_WARN, "device %u/%u: rejected request (op %u, sector %llu): %s",
			    q->dev->fe_domid, q->dev->devid, req->operation, (unsigned long long)req->sector,
			    vha_blkif_reject_name(why));
	respond(q, req, vha_blkif_reject_status(why));
}

/* Indirect requests: map the segment pages read-only, copy them out once, unmap. */
static int load_indirect(struct queue *q, struct vha_blkif_req *req)
{
	struct device *dev = q->dev;
	const void *pages[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	void *map = NULL;
	int rc;

	rc = vha_gnttab_map(dev->be->gnttab, dev->fe_domid, req->nr_indirect_pages, req->indirect_grefs, false,
			    &map);
	if (rc < 0)
		return rc;
	for (uint32_t i = 0; i < req->nr_indirect_pages; i++)
		pages[i] = (const char *)map + (size_t)i * VHA_PAGE_SIZE;
	vha_blkif_load_indirect(req, pages);
	return vha_gnttab_unmap(dev->be->gnttab, map, req->nr_indirect_pages);
}

static struct io_uring_sqe *get_sqe(struct queue *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

	if (!sqe) {
		io_uring_submit(&q->ring);
		sqe = io_uring_get_sqe(&q->ring);
	}
	return sqe;
}

/* Turn a validated read/write into iovecs over freshly mapped guest pages. */
static int map_data(struct queue *q, struct inflight *s)
{
	struct vha_blkif_req *req = &s->req;
	grant_ref_t refs[VHA_BLKIF_MAX_SEGMENTS];
	/* A disk read writes into guest memory; a disk write only reads it. Never more rights. */
	bool writable = req->op == VHA_BLKIF_READ;
	int rc;

	for (uint32_t i = 0; i < req->nr_segments; i++)
		refs[i] = req->seg[i].gref;
	rc = vha_gnttab_map(q->dev->be->gnttab, q->dev->fe_domid, req->nr_segments, refs, writable, &s->map);
	if (rc < 0)
		return rc;
	s->nr_map = req->nr_segments;
	s->nr_iov = 0;
	s->expect = 0;
	for (uint32_t i = 0; i < req->nr_segments; i++) {
		char *base = (char *)s->map + (size_t)i * VHA_PAGE_SIZE + ((size_t)req->seg[i].first_sect << SECTOR_SHIFT);
		size_t len = (size_t)(req->seg[i].last_sect - req->seg[i].first_sect + 1) << SECTOR_SHIFT;
		struct iovec *prev = s->nr_iov ? &s->iov[s->nr_iov - 1] : NULL;

		/* Pages are contiguous in the mapping: merge a segment that continues the previous one. */
		if (prev && (char *)prev->iov_base + prev->iov_len == base) {
			prev->iov_len += len;
		} else {
			s->iov[s->nr_iov].iov_base = base;
			s->iov[s->nr_iov].iov_len = len;
			s->nr_iov++;
		}
		s->expect += len;
	}
	return 0;
}

/* Returns 0, or -errno if the platform could not unmap (the request then fails). */
static int unmap_data(struct queue *q, struct inflight *s)
{
	int rc = 0;

	if (s->map) {
		rc = vha_gnttab_unmap(q->dev->be->gnttab, s->map, s->nr_map);
		if (rc < 0)
			vha_log_ratelimited(&q->rl, VHA_LOG_ERROR, "device %u/%u: cannot unmap %u grants: %s",
					    q->dev->fe_domid, q->dev->devid, s->nr_map, strerror(-rc));
	}
	s->map = NULL;
	s->nr_map = 0;
	return rc;
}

static void finish(struct queue *q, struct inflight *s, int16_t status)
{
	if (unmap_data(q, s) < 0)
		status = BLKIF_RSP_ERROR;
	respond(q, &s->req, status);
	s->busy = false;
	q->inflight--;
}

/* Validate and submit one request held in slot s. */
static void handle_request(struct queue *q, struct inflight *s)
{
	struct device *dev = q->dev;
	struct vha_blkif_req *req = &s->req;
	struct io_uring_sqe *sqe;
	enum vha_blkif_reject why;
	int rc;

	q->stats.requests++;
	why = vha_blkif_check_header(&dev->limits, req);
	if (why == VHA_BLKIF_OK && req->indirect) {
		rc = load_indirect(q, req);
		if (rc < 0) {
			vha_log_ratelimited(&q->rl, VHA_LOG_WARN, "device %u/%u: cannot map indirect pages: %s",
					    dev->fe_domid, dev->devid, strerror(-rc));
			respond(q, req, BLKIF_RSP_ERROR);
			return;
		}
	}
	if (why == VHA_BLKIF_OK)
		why = vha_blkif_check_segments(&dev->limits, req);
	if (why != VHA_BLKIF_OK) {
		reject(q, req, why);
		return;
	}

	if (req->op == VHA_BLKIF_DISCARD) {
		/* Rare and cheap on files: done inline. */
		q->stats.discards++;
		rc = target_discard(&dev->target, req->sector << SECTOR_SHIFT, req->nr_sectors << SECTOR_SHIFT,
				    req->secure);
		respond(q, req, rc == 0 ? BLKIF_RSP_OKAY : rc == -EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR);
		return;
	}

	s->busy = true;
	s->map = NULL;
	s->nr_iov = 0;
	q->inflight++;
	if (req->nr_segments > 0) {
		rc = map_data(q, s);
		if (rc < 0) {
			vha_log_ratelimited(&q->rl, VHA_LOG_WARN, "device %u/%u: cannot map grants: %s",
					    dev->fe_domid, dev->devid, strerror(-rc));
			finish(q, s, BLKIF_RSP_ERROR);
			return;
		}
	}
	if (req->op == VHA_BLKIF_FLUSH || req->op == VHA_BLKIF_BARRIER) {
		q->stats.flushes++;
		/*
		 * Drain: the fsync starts only after every earlier SQE completed,
		 * so an acknowledged flush covers every write acknowledged before.
		 * Data segments (flush with payload) are written first, linked.
		 */
		if (s->nr_iov) {
			sqe = get_sqe(q);
			io_uring_prep_writev(sqe, dev->target.fd, s->iov, s->nr_iov, req->sector << SECTOR_SHIFT);
			sqe->flags |= IOSQE_IO_DRAIN | IOSQE_IO_LINK;
			io_uring_sqe_set_data(sqe, NULL);   /* completion reported by the fsync */
			q->stats.bytes_written += s->expect;
		}
		sqe = get_sqe(q);
		io_uring_prep_fsync(sqe, dev->target.fd, IORING_FSYNC_DATASYNC);
		sqe->flags |= IOSQE_IO_DRAIN;
		s->expect = 0;
		io_uring_sqe_set_data(sqe, s);
		return;
	}
	sqe = get_sqe(q);
	if (req->op == VHA_BLKIF_READ) {
		q->stats.reads++;
		io_uring_prep_readv(sqe, dev->target.fd, s->iov, s->nr_iov, req->sector << SECTOR_SHIFT);
	} else {
		q->stats.writes++;
		io_uring_prep_writev(sqe, dev->target.fd, s->iov, s->nr_iov, req->sector << SECTOR_SHIFT);
	}
	io_uring_sqe_set_data(sqe, s);
}

static struct inflight *free_slot(struct queue *q)
{
	for (unsigned int i = 0; i < q->nr_slots; i++)
		if (!q->slots[i].busy)
			return &q->slots[i];
	return NULL;
}

/* Take requests up to one snapshot of req_prod. */
static void take_requests(struct queue *q)
{
	RING_IDX prod, cons;
	int n = vha_blkif_back_snapshot(&q->back, &prod);

	if (n < 0) {
		queue_fail(q, "frontend's req_prod is more than a ring ahead (bogus ring)");
		return;
	}
	for (cons = q->back.ring.req_cons; cons != prod; cons++) {
		struct inflight *s = free_slot(q);

		if (!s)
			break;  /* cannot happen within the overflow bound; retry on the next pass */
		/* The one read of this slot. */
		vha_blkif_copy_request(vha_blkif_back_slot(&q->back, cons), &s->req);
		q->back.ring.req_cons = cons + 1;
		handle_request(q, s);
	}
	io_uring_submit(&q->ring);
}

static void reap(struct queue *q)
{
	struct io_uring_cqe *cqe;
	uint64_t junk;

	if (read(q->cq_fd, &junk, sizeof(junk)) < 0 && errno != EAGAIN)
		vha_debug("cq eventfd: %s", strerror(errno));
	while (io_uring_peek_cqe(&q->ring, &cqe) == 0) {
		struct inflight *s = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&q->ring, cqe);
		if (!s)
			continue;       /* the linked write of a flush: its fsync reports */
		if (res < 0 || (uint64_t)res != s->expect) {
			vha_log_ratelimited(&q->rl, VHA_LOG_ERROR, "device %u/%u: I/O error at sector %llu: %s",
					    q->dev->fe_domid, q->dev->devid, (unsigned long long)s->req.sector,
					    res < 0 ? strerror(-res) : "short transfer");
			finish(q, s, BLKIF_RSP_ERROR);
			continue;
		}
		if (s->req.op == VHA_BLKIF_READ)
			q->stats.bytes_read += s->expect;
		else if (s->req.op == VHA_BLKIF_WRITE)
			q->stats.bytes_written += s->expect;
		finish(q, s, BLKIF_RSP_OKAY);
	}
}

static void push(struct queue *q)
{
	if (vha_blkif_back_push(&q->back)) {
		vha_evtchn_notify(q->evtchn, (vha_evtchn_port_t)q->local_port);
		q->stats.notifies_sent++;
	}
}

static void *worker(void *arg)
{
	struct queue *q = arg;
	struct pollfd pfd[3] = {
		{ .fd = vha_evtchn_fd(q->evtchn), .events = POLLIN },
		{ .fd = q->cq_fd, .events = POLLIN },
		{ .fd = q->stop_fd, .events = POLLIN },
	};

	for (;;) {
		int port;

		while ((port = vha_evtchn_pending(q->evtchn)) >= 0) {
			q->stats.events_received++;
			vha_evtchn_unmask(q->evtchn, (vha_evtchn_port_t)port);
		}
		if (!q->stopping)
			take_requests(q);
		reap(q);
		push(q);
		if (q->stopping && q->inflight == 0)
			break;
		/* Re-arm req_event; if requests slipped in meanwhile, go round again without sleeping. */
		if (!q->stopping && vha_blkif_back_final_check(&q->back))
			continue;
		if (poll(pfd, 3, -1) < 0 && errno != EINTR)
			break;
		if (pfd[2].revents & POLLIN)
			q->stopping = true;
	}
	return NULL;
}

int queue_start(struct queue *q)
{
	struct io_uring_params params = { 0 };
	int rc;

	q->nr_slots = vha_blkif_ring_size(q->nr_ring_pages);
	q->slots = calloc(q->nr_slots, sizeof(*q->slots));
	q->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	q->cq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!q->slots || q->stop_fd < 0 || q->cq_fd < 0)
		return -ENOMEM;
	rc = io_uring_queue_init_params(q->nr_slots * 2, &q->ring, &params);
	if (rc < 0)
		return rc;
	q->ring_ready = true;
	rc = io_uring_register_eventfd(&q->ring, q->cq_fd);
	if (rc < 0)
		return rc;
	q->rl = (struct vha_ratelimit)VHA_RATELIMIT_INIT(5000, 5);
	q->stopping = false;
	rc = pthread_create(&q->thread, NULL, worker, q);
	if (rc != 0)
		return -rc;
	q->thread_started = true;
	return 0;
}

void queue_stop(struct queue *q)
{
	uint64_t one = 1;

	if (q->thread_started) {
		if (write(q->stop_fd, &one, sizeof(one)) < 0)
			vha_debug("stop queue: %s", strerror(errno));
		pthread_join(q->thread, NULL);
		q->thread_started = false;
	}
	if (q->ring_ready) {
		io_uring_queue_exit(&q->ring);
		q->ring_ready = false;
	}
	for (unsigned int i = 0; q->slots && i < q->nr_slots; i++)
		unmap_data(q, &q->slots[i]);
	free(q->slots);
	q->slots = NULL;
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
