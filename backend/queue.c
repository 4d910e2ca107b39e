// SPDX-License-Identifier: MIT
/*
 * The data path: one worker thread per queue. Requests are copied out of
 * the ring once, validated, their grants mapped in one batch, and submitted
 * to the device's engine as one I/O whose iovecs point into the mapped guest
 * pages (file and blockdev: one io_uring readv/writev, and with O_DIRECT the
 * adapter DMAs straight into guest memory). On completion, delivered to this
 * worker whatever thread the engine finished on, the grants are unmapped,
 * the response written, and the guest notified only when the ring asks.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "vha/cli.h"
#include "vha/spin.h"

#define SECTOR_SHIFT 9

static void wake_main(struct queue *q)
{
	uint64_t one = 1;

	if (write(q->dev->be->wake_fd, &one, sizeof(one)) < 0)
		vha_debug("wake main: %s", strerror(errno));
}

static void queue_fail(struct queue *q, const char *why)
{
	vha_log_ratelimited(&q->rl, VHA_LOG_ERROR, "device %u/%u queue %u: %s; closing the device",
			    q->dev->fe_domid, q->dev->devid, q->index, why);
	__atomic_store_n(&q->dev->broken, 1, __ATOMIC_RELEASE);
	q->stopping = true;
	wake_main(q);
}

/* Every request lives in a slot: req is &slot->req. */
static unsigned int slot_of(const struct queue *q, const struct vha_blkif_req *req)
{
	return (unsigned int)((const struct inflight *)((const char *)req - offsetof(struct inflight, req)) - q->slots);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void respond(struct queue *q, const struct vha_blkif_req *req, int16_t status)
{
	const struct inflight *s = (const struct inflight *)((const char *)req - offsetof(struct inflight, req));
	uint64_t us = (now_ns() - s->t_start_ns) / 1000;

	/*
	 * A response per request taken, never more: one more would land in a
	 * slot the frontend may be filling with its next request. (A bug of
	 * ours, were it to happen: the device closes instead.)
	 */
	if (q->back.ring.rsp_prod_pvt == q->back.ring.req_cons) {
		queue_fail(q, "internal error: a response with no request taken left for it");
		return;
	}
	STAT_ADD(q->stats.latency[latency_bucket(us)], 1);
	STAT_ADD(q->stats.latency_sum_us, us);
	vha_blkif_back_respond(&q->back, req->id, req->operation, status);
	journal_respond(&q->journal, slot_of(q, req), q->back.ring.rsp_prod_pvt - 1);
	if (status != BLKIF_RSP_OKAY)
		STAT_ADD(q->stats.errors, 1);
}

static void reject(struct queue *q, struct vha_blkif_req *req, enum vha_blkif_reject why)
{
	STAT_ADD(q->stats.rejected, 1);
	/* A guest can send these in a loop: one line per interval per device. */
	vha_log_ratelimited(&q->rl, VHA_LOG_WARN, "device %u/%u: rejected request (op %u, sector %llu): %s",
			    q->dev->fe_domid, q->dev->devid, req->operation, (unsigned long long)req->sector,
			    vha_blkif_reject_name(why));
	respond(q, req, vha_blkif_reject_status(why));
}

/* Has the main thread asked this queue to stop? (Long work checks between its steps.) */
bool queue_stop_asked(void *arg)
{
	return __atomic_load_n(&((struct queue *)arg)->stop_asked, __ATOMIC_ACQUIRE);
}

/* For tests only: milliseconds from an environment variable, read once (0 when unset or not a number). */
static int test_delay_ms(const char *name, int *cache)
{
	if (__atomic_load_n(cache, __ATOMIC_RELAXED) < 0) {
		const char *env = getenv(name);
		uint64_t v = 0;

		if (env && vha_parse_u64(env, 0, 3600 * 1000, 0, &v) < 0)
			v = 0;
		__atomic_store_n(cache, (int)v, __ATOMIC_RELAXED);
	}
	return __atomic_load_n(cache, __ATOMIC_RELAXED);
}

/*
 * For tests only (docs/backend.md): $VHA_TEST_FLUSH_DELAY_MS holds the
 * worker that long before every flush or barrier, as an fsync that takes
 * seconds does, and nothing can cut it short: teardown must not wait for it.
 */
static void test_flush_delay(void)
{
	static int delay_ms = -1;
	int ms = test_delay_ms("VHA_TEST_FLUSH_DELAY_MS", &delay_ms);

	if (ms > 0)
		usleep((useconds_t)ms * 1000);
}

/*
 * For tests only (docs/backend.md): $VHA_TEST_DISCARD_DELAY_MS makes every
 * discard take that long on its worker, as a discard over a whole large
 * disk can, to show that no other guest waits for it; like the real one it
 * is done in steps (of 50 ms) and stops early, -ECANCELED, once the queue
 * is asked to stop.
 */
static int test_discard_delay(struct queue *q)
{
	static int delay_ms = -1;

	for (int left = test_delay_ms("VHA_TEST_DISCARD_DELAY_MS", &delay_ms); left > 0; left -= 50) {
		if (queue_stop_asked(q))
			return -ECANCELED;
		usleep((useconds_t)(left < 50 ? left : 50) * 1000);
	}
	return 0;
}

static void finish(struct queue *q, struct inflight *s, int16_t status)
{
	if (strategy_release(q, s) < 0)
		status = BLKIF_RSP_ERROR;
	respond(q, &s->req, status);
	s->busy = false;
	q->inflight--;
	STAT_SET(q->bytes_inflight, q->bytes_inflight - s->bytes);
}

/* Validate and submit one request held in slot s. */
static void handle_request(struct queue *q, struct inflight *s)
{
	struct device *dev = q->dev;
	struct vha_blkif_req *req = &s->req;
	struct engine_io *io = &s->io;
	enum vha_blkif_reject why;
	int rc;

	s->t_start_ns = now_ns();
	STAT_ADD(q->stats.requests, 1);
	why = vha_blkif_check_header(&dev->limits, req);
	if (why == VHA_BLKIF_OK && req->indirect) {
		rc = strategy_load_indirect(q, req);
		if (rc < 0) {
			vha_log_ratelimited(&q->rl, VHA_LOG_WARN, "device %u/%u: cannot copy the indirect pages: %s",
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

	s->busy = true;
	s->map = NULL;
	s->nr_map = s->nr_pg = 0;
	s->nr_iov = 0;
	s->expect = 0;
	s->bytes = req->nr_segments ? req->nr_sectors << SECTOR_SHIFT : 0;
	q->inflight++;
	STAT_SET(q->bytes_inflight, q->bytes_inflight + s->bytes);
	if (q->bytes_inflight > q->stats.bytes_peak)
		STAT_SET(q->stats.bytes_peak, q->bytes_inflight);
	if (req->nr_segments > 0) {
		rc = strategy_prepare(q, s);
		if (rc < 0) {
			vha_log_ratelimited(&q->rl, VHA_LOG_WARN, "device %u/%u: cannot reach the data pages: %s",
					    dev->fe_domid, dev->devid, strerror(-rc));
			finish(q, s, BLKIF_RSP_ERROR);
			return;
		}
		STAT_ADD(q->stats.strategy[s->strategy], 1);
	}
	io->offset = req->sector << SECTOR_SHIFT;
	io->length = s->expect;
	io->iov = s->iov;
	io->nr_iov = s->nr_iov;
	io->flags = s->nr_map ? ENGINE_IO_TRANSIENT : 0;
	switch (req->op) {
	case VHA_BLKIF_DISCARD:
		STAT_ADD(q->stats.discards, 1);
		rc = test_discard_delay(q);
		if (rc < 0) {
			finish(q, s, BLKIF_RSP_ERROR);
			return;
		}
		io->op = ENGINE_DISCARD;
		io->length = req->nr_sectors << SECTOR_SHIFT;
		io->flags |= req->secure ? ENGINE_IO_SECURE : 0;
		break;
	case VHA_BLKIF_FLUSH:
	case VHA_BLKIF_BARRIER:
		test_flush_delay();
		if (req->op == VHA_BLKIF_FLUSH)
			STAT_ADD(q->stats.flushes, 1);
		else
			STAT_ADD(q->stats.barriers, 1);
		/*
		 * Drain: the flush starts only after every earlier I/O of this
		 * queue completed, so an acknowledged flush covers every write
		 * acknowledged before it; and nothing later starts before the
		 * flush completes, which is what a barrier asks. Data segments
		 * (a barrier write, or a flush with payload as blkfront sends
		 * for FUA) are written first, as part of the flush.
		 */
		io->op = ENGINE_FLUSH;
		io->flags |= ENGINE_IO_DRAIN;
		if (s->nr_iov)
			STAT_ADD(q->stats.bytes_written, s->expect);
		break;
	case VHA_BLKIF_READ:
		STAT_ADD(q->stats.reads, 1);
		io->op = ENGINE_READ;
		break;
	default:
		STAT_ADD(q->stats.writes, 1);
		io->op = ENGINE_WRITE;
		break;
	}
	if ((io->flags & ENGINE_IO_TRANSIENT) && s->nr_iov && dev->target.buffered_transient)
		STAT_ADD(q->stats.buffered, 1);
	rc = engine_submit(&q->eng, io);
	if (rc < 0) {
		vha_log_ratelimited(&q->rl, VHA_LOG_ERROR, "device %u/%u: %s engine refused an I/O at sector %llu: %s",
				    dev->fe_domid, dev->devid, engine_name(&dev->target),
				    (unsigned long long)req->sector, strerror(-rc));
		finish(q, s, BLKIF_RSP_ERROR);
	}
}

static struct inflight *free_slot(struct queue *q)
{
	for (unsigned int i = 0; i < q->nr_slots; i++)
		if (!q->slots[i].busy)
			return &q->slots[i];
	return NULL;
}

/*
 * The queue's budgets allow one more request: room to map the largest
 * request the device accepts, and data in flight below its share (a guest
 * with 1 MiB requests at depth 512 would otherwise fill the disk's queue
 * ahead of everyone; one request may go past it). A slot is checked apart.
 */
static bool budget_room(const struct queue *q)
{
	return q->grants_mapped + q->request_grants_max <= q->map_budget &&
	       (!q->bytes_budget || q->bytes_inflight < q->bytes_budget);
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
	q->backlog = false;
	for (cons = q->back.ring.req_cons; cons != prod; cons++) {
		struct inflight *s;

		/*
		 * The queue's budgets and a request slot; otherwise the request
		 * stays in the ring until a completion frees them (backpressure,
		 * never an error).
		 */
		if (!budget_room(q) || !(s = free_slot(q))) {
			q->backlog = true;
			STAT_ADD(q->stats.backlogged, 1);
			break;
		}
		if (q->journal.hdr) {
			unsigned int slot = (unsigned int)(s - q->slots);

			/* The one read of this ring slot, into the journal; parsed from there. */
			journal_take(&q->journal, slot, cons, vha_blkif_back_slot(&q->back, cons));
			vha_blkif_copy_request(journal_raw(&q->journal, slot), &s->req);
		} else {
			/* The one read of this slot. */
			vha_blkif_copy_request(vha_blkif_back_slot(&q->back, cons), &s->req);
		}
		q->back.ring.req_cons = cons + 1;
		handle_request(q, s);
	}
	engine_commit(&q->eng);
}

/* One finished engine I/O, on the worker (whatever thread the engine finished it on). */
void queue_io_done(struct engine_queue *eq, struct engine_io *io)
{
	struct queue *q = eq->arg;
	struct inflight *s = (struct inflight *)((char *)io - offsetof(struct inflight, io));
	int res = io->result;

	if (io->op == ENGINE_DISCARD) {
		if (res == -EOPNOTSUPP && !s->req.secure) {
			/* Later discards are refused up front; the main thread withdraws feature-discard. */
			int zero = 0;

			__atomic_store_n(&q->dev->limits.discard, false, __ATOMIC_RELEASE);
			if (__atomic_compare_exchange_n(&q->dev->discard_unsupported, &zero, 1, false, __ATOMIC_ACQ_REL,
							__ATOMIC_RELAXED))
				wake_main(q);
		}
		finish(q, s, res == 0 ? BLKIF_RSP_OKAY : res == -EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR);
		return;
	}
	if (res < 0) {
		vha_log_ratelimited(&q->rl, VHA_LOG_ERROR, "device %u/%u: I/O error at sector %llu: %s",
				    q->dev->fe_domid, q->dev->devid, (unsigned long long)s->req.sector,
				    res == -EIO ? "I/O error or short transfer" : strerror(-res));
		finish(q, s, BLKIF_RSP_ERROR);
		return;
	}
	if (s->strategy == GS_COPY && s->req.op == VHA_BLKIF_READ && s->nr_iov &&
	    strategy_copy_to_guest(q, s) < 0) {
		vha_log_ratelimited(&q->rl, VHA_LOG_WARN, "device %u/%u: cannot copy read data to the guest",
				    q->dev->fe_domid, q->dev->devid);
		finish(q, s, BLKIF_RSP_ERROR);
		return;
	}
	if (s->req.op == VHA_BLKIF_READ)
		STAT_ADD(q->stats.bytes_read, s->expect);
	else if (s->req.op == VHA_BLKIF_WRITE)
		STAT_ADD(q->stats.bytes_written, s->expect);
	finish(q, s, BLKIF_RSP_OKAY);
}

/*
 * After a takeover: the earlier process's unanswered requests, before
 * anything new, in ring order (a barrier orders what was taken before it
 * against what was taken after; slot order would not).
 */
static void resume_journal(struct queue *q)
{
	const struct journal_recovery *rec = q->recovery;

	for (unsigned int i = 0; i < rec->nr_replay; i++) {
		struct inflight *s = &q->slots[rec->replay[i]];

		vha_blkif_copy_request(journal_raw(&q->journal, rec->replay[i]), &s->req);
		STAT_ADD(q->stats.resumed, 1);
		handle_request(q, s);
	}
	engine_commit(&q->eng);
}

static void push(struct queue *q)
{
	/* After a takeover the frontend may be asleep on responses the dead process never signalled. */
	if (vha_blkif_back_push(&q->back) || q->recovery) {
		free(q->recovery);
		q->recovery = NULL;
		vha_evtchn_notify(q->evtchn, (vha_evtchn_port_t)q->local_port);
		STAT_ADD(q->stats.notifies_sent, 1);
	}
}

static uint64_t now_ms(void)
{
	return now_ns() / 1000000u;
}

/*
 * Event accounting (XSA-332, as Linux's lateeoi): an event that brings no
 * new request is spurious. A port that sends more than STORM_EVENTS of them
 * in a STORM_WINDOW_MS window stays masked for a delay before it is
 * unmasked (doubling while the storm lasts, up to STORM_DELAY_MAX_MS);
 * meanwhile its ring is still looked at once per delay, so a storming guest
 * only slows itself. blkfront notifies only when req_event asks, so an
 * honest guest stays far below the threshold and pays nothing.
 */
#define STORM_WINDOW_MS 1000u
#define STORM_EVENTS 1000u
#define STORM_DELAY_MIN_MS 1u
#define STORM_DELAY_MAX_MS 100u

static void account_event(struct queue *q, int port, bool brought_work)
{
	uint64_t now = now_ms();

	if (now - q->storm_window_start >= STORM_WINDOW_MS) {
		if (q->storm_spurious <= STORM_EVENTS)
			q->storm_delay_ms = 0;          /* calm for a whole window */
		q->storm_window_start = now;
		q->storm_spurious = 0;
	}
	if (!brought_work) {
		STAT_ADD(q->stats.events_spurious, 1);
		q->storm_spurious++;
	}
	if (q->storm_spurious > STORM_EVENTS) {
		q->storm_delay_ms = q->storm_delay_ms ? q->storm_delay_ms * 2 : STORM_DELAY_MIN_MS;
		if (q->storm_delay_ms > STORM_DELAY_MAX_MS)
			q->storm_delay_ms = STORM_DELAY_MAX_MS;
		q->masked_port = port;
		q->unmask_at = now + q->storm_delay_ms;
		STAT_ADD(q->stats.events_delayed, 1);
		return;
	}
	vha_evtchn_unmask(q->evtchn, (vha_evtchn_port_t)port);
}

/* poll timeout: until a delayed port is due for unmasking (unmasking it when it is), else forever. */
static int unmask_due(struct queue *q)
{
	uint64_t now;

	if (q->masked_port < 0)
		return -1;
	now = now_ms();
	if (now < q->unmask_at)
		return (int)(q->unmask_at - now);
	vha_evtchn_unmask(q->evtchn, (vha_evtchn_port_t)q->masked_port);
	q->masked_port = -1;
	return -1;
}

/*
 * Busy polling (--poll-us): after a pass that took requests or answered
 * some, look for more work for up to poll_us before re-arming req_event and
 * sleeping: requests the frontend published (it is not asked to notify
 * meanwhile, as req_event stays behind) and engine completions, both read
 * from shared memory without a system call. At low queue depth this saves
 * the wake-ups of a sleeping worker (the event, the completion eventfd),
 * at the price of a CPU spinning while it waits. Only after a pass that did
 * work, so a guest cannot keep a worker spinning by moving req_prod alone:
 * a pass that finds nothing valid ends the polling until the next event.
 */
static bool poll_for_work(struct queue *q, uint64_t poll_ns)
{
	uint64_t end = now_ns() + poll_ns;
	unsigned int n = 0;

	for (;;) {
		if (vha_blkif_back_has_requests(&q->back) || engine_has_completions(&q->eng))
			return true;
		/* The clock every 64 turns: a vDSO call costs more than a look at two indexes. */
		if ((++n & 63) == 0 && now_ns() >= end)
			return false;
		vha_cpu_relax();
	}
}

void *queue_worker(void *arg)
{
	struct queue *q = arg;
	struct pollfd pfd[3] = {
		{ .fd = vha_evtchn_fd(q->evtchn), .events = POLLIN },
		{ .fd = q->cq_fd, .events = POLLIN },
		{ .fd = q->stop_fd, .events = POLLIN },
	};

	const uint64_t poll_ns = (uint64_t)q->dev->be->cfg.poll_us * 1000u;

	q->masked_port = -1;
	if (q->recovery)
		resume_journal(q);
	for (;;) {
		int port, event_port = -1, timeout;
		RING_IDX before = q->back.ring.req_cons, answered = q->back.ring.rsp_prod_pvt;

		while ((port = vha_evtchn_pending(q->evtchn)) >= 0) {
			STAT_ADD(q->stats.events_received, 1);
			if (event_port >= 0 && event_port != port)
				vha_evtchn_unmask(q->evtchn, (vha_evtchn_port_t)event_port);
			event_port = port;
		}
		if (!q->stopping)
			take_requests(q);
		/* Unmask after looking at the ring: an event now is for requests we have not seen. */
		if (event_port >= 0)
			account_event(q, event_port, q->back.ring.req_cons != before);
		engine_reap(&q->eng);
		push(q);
		if (q->stopping && q->inflight == 0)
			break;
		timeout = unmask_due(q);
		/* Re-arm req_event; if requests slipped in meanwhile, go round again without sleeping. */
		/*
		 * Requests left in the ring for budget: once a completion freed
		 * some, go round for them (nothing else would wake us: the frontend
		 * already notified for them). Else re-arm req_event; if requests
		 * slipped in meanwhile, go round again without sleeping.
		 */
		if (!q->stopping && q->backlog) {
			if (q->inflight < q->nr_slots && budget_room(q))
				continue;
		} else if (!q->stopping && poll_ns && timeout < 0 &&
			   (q->back.ring.req_cons != before || q->back.ring.rsp_prod_pvt != answered) &&
			   poll_for_work(q, poll_ns)) {
			STAT_ADD(q->stats.polls_hit, 1);
			continue;
		} else if (!q->stopping && vha_blkif_back_final_check(&q->back)) {
			continue;
		}
		if (poll(pfd, 3, timeout) < 0 && errno != EINTR)
			break;
		if (pfd[2].revents & POLLIN)
			q->stopping = true;
	}
	/* The main thread joins only a worker that says it is gone: it never waits on a guest's I/O. */
	__atomic_store_n(&q->exited, 1, __ATOMIC_RELEASE);
	wake_main(q);
	return NULL;
}
