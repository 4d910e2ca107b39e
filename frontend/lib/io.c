// SPDX-License-Identifier: MIT
/*
 * libvhafront: the ring and request path. Bounce pages return to the pool
 * only when their request's response arrives (the backend may still be
 * using them before that: XSA-396). Every response is checked against what
 * is outstanding before anything is completed.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include <xenstore.h>

#include "front_internal.h"
#include "vha/spin.h"

/* Events with no response in one second above which vha_front_poll warns (fewer are races). */
#define SPURIOUS_WARN_PER_S 100u

const struct vha_front_info *vha_front_get_info(const struct vha_front *f)
{
	return &f->info;
}

/* Segments one request may carry: indirect (up to 256) when the backend offers it. */
unsigned int front_max_segments(const struct vha_front *f)
{
	unsigned int n = f->info.max_indirect_segments;

	if (n > 256)
		n = 256;
	return n > SEGS ? n : SEGS;
}

size_t vha_front_max_io(const struct vha_front *f)
{
	return (size_t)front_max_segments(f) * VHA_PAGE_SIZE;
}

unsigned int vha_front_inflight(const struct vha_front *f)
{
	return f->inflight;
}

static void finish(struct fqueue *q, struct req_slot *s, int status);

/* Bounce page i of s: a pool page, or (untrusted) page i of its dedicated share. */
static unsigned char *bounce_page(const struct vha_front *f, const struct req_slot *s, unsigned int i)
{
	if (f->untrusted)
		return s->dedicated + (size_t)i * VHA_PAGE_SIZE;
	return f->pool + (size_t)s->pages[i] * VHA_PAGE_SIZE;
}

/* A response arrived for s: copy read data out, give its bounce pages back, call back. */
static void complete(struct vha_front *f, struct fqueue *q, struct req_slot *s, int status)
{
	if (status == 0 && s->op == VHA_FRONT_READ && !s->zero_copy) {
		size_t done = 0;

		for (unsigned int i = 0; done < s->len; i++) {
			size_t n = s->len - done < VHA_PAGE_SIZE ? s->len - done : VHA_PAGE_SIZE;

			memcpy((char *)s->buf + done, bounce_page(f, s, i), n);
			done += n;
		}
	}
	/* The response arrived: the backend is done with these pages, so they may be reused. */
	if (f->untrusted)
		front_dedicated_end(f, s);      /* ended now, not reused (XSA-403) */
	else
		for (unsigned int i = 0; i < s->npages; i++)
			f->free_pages[f->nfree++] = s->pages[i];
	f->inflight--;
	finish(q, s, status);
}

/*
 * Fail s without a response. Its pages never go back to the free list: the
 * backend never said it was done with them and may still have them mapped
 * (XSA-396). Only a broken or closing device fails requests this way, and
 * neither hands out pages again; the pool's grants end at close.
 */
static void fail_unanswered(struct vha_front *f, struct fqueue *q, struct req_slot *s)
{
	/* A dedicated share is never reused anyway: end access (the platform defers a still-mapped page). */
	if (f->untrusted)
		front_dedicated_end(f, s);
	f->inflight--;
	finish(q, s, -EIO);
}

static void finish(struct fqueue *q, struct req_slot *s, int status)
{
	s->busy = false;
	q->inflight--;
	if (s->cb)
		s->cb(s->opaque, status);
}

void front_fail_outstanding(struct vha_front *f)
{
	for (unsigned int qi = 0; qi < f->info.queues; qi++)
		for (unsigned int i = 0; f->q[qi].slots && i < f->nslots; i++)
			if (f->q[qi].slots[i].busy)
				fail_unanswered(f, &f->q[qi], &f->q[qi].slots[i]);
}

void front_mark_broken(struct vha_front *f, const char *why)
{
	if (!f->broken)
		vha_err("device %s: %s; failing every request", f->dir, why);
	f->broken = true;
	front_fail_outstanding(f);
}

/* A queue with a free ring slot, round robin; NULL if every ring is full. */
static struct fqueue *pick_queue(struct vha_front *f, unsigned int *id_out)
{
	for (unsigned int n = 0; n < f->info.queues; n++) {
		struct fqueue *q = &f->q[(f->next_q + n) % f->info.queues];

		if (vha_blkif_front_free(&q->ring) == 0 || q->inflight >= f->nslots)
			continue;
		for (unsigned int id = 0; id < f->nslots; id++)
			if (!q->slots[id].busy) {
				f->next_q = (f->next_q + n + 1) % f->info.queues;
				*id_out = id;
				return q;
			}
	}
	return NULL;
}

/* Fill segs[] for len bytes at buf: in place for a pool buffer, else through bounce pages. */
static void fill_segments(struct vha_front *f, struct req_slot *s, struct blkif_request_segment *segs,
			  unsigned int nsegs)
{
	if (s->zero_copy) {
		size_t off = (size_t)((unsigned char *)s->buf - f->pool), left = s->len;

		for (unsigned int i = 0; i < nsegs; i++) {
			size_t page = off / VHA_PAGE_SIZE, in = off % VHA_PAGE_SIZE;
			size_t n = VHA_PAGE_SIZE - in < left ? VHA_PAGE_SIZE - in : left;

			segs[i].gref = f->pool_refs[page];
			segs[i].first_sect = (uint8_t)(in / 512);
			segs[i].last_sect = (uint8_t)((in + n) / 512 - 1);
			off += n;
			left -= n;
		}
		return;
	}
	for (unsigned int i = 0; i < nsegs; i++) {
		size_t chunk = s->len - (size_t)i * VHA_PAGE_SIZE;
		unsigned char *page;

		if (chunk > VHA_PAGE_SIZE)
			chunk = VHA_PAGE_SIZE;
		if (f->untrusted) {
			/* Shared for this request alone by front_dedicated_share, zeroed by the platform. */
			page = bounce_page(f, s, i);
			segs[i].gref = s->pages[i];
		} else {
			s->pages[s->npages] = f->free_pages[--f->nfree];
			page = bounce_page(f, s, s->npages);
			segs[i].gref = f->pool_refs[s->pages[s->npages]];
			s->npages++;
		}
		if (s->op != VHA_FRONT_READ)
			memcpy(page, (const char *)s->buf + (size_t)i * VHA_PAGE_SIZE, chunk);
		segs[i].first_sect = 0;
		segs[i].last_sect = (uint8_t)((chunk + 511) / 512 - 1);
	}
}

bool vha_front_can_submit(const struct vha_front *f, unsigned int n, const void *buf, size_t len)
{
	unsigned int slots = 0, pages = n * (front_max_segments(f) > SEGS ? 1 : 0);   /* an indirect page each, at most */

	for (unsigned int i = 0; i < f->info.queues; i++) {
		unsigned int ring = vha_blkif_front_free(&f->q[i].ring), idle = f->nslots - f->q[i].inflight;

		slots += ring < idle ? ring : idle;
	}
	if (!front_in_buffer_area(f, buf, len))
		pages += (unsigned int)((len + VHA_PAGE_SIZE - 1) / VHA_PAGE_SIZE);
	return !f->broken && slots >= n && f->nfree >= pages;
}

static void push_request(struct vha_front *f, struct fqueue *q, const unsigned char *raw)
{
	vha_blkif_front_queue(&q->ring, raw, sizeof(blkif_request_t));
	if (vha_blkif_front_push(&q->ring))
		vha_evtchn_notify(f->ev, (vha_evtchn_port_t)q->port);
}

int vha_front_submit(struct vha_front *f, enum vha_front_op op, uint64_t offset, void *buf, size_t len,
		     vha_front_cb *cb, void *opaque)
{
	bool data = op == VHA_FRONT_READ || op == VHA_FRONT_WRITE || op == VHA_FRONT_BARRIER;
	bool zero_copy = data && front_in_buffer_area(f, buf, len);
	unsigned int id, nsegs = 0, need_pages;
	struct req_slot *s;
	struct fqueue *q;
	blkif_request_t *r;
	bool indirect;

	if (f->broken)
		return -EIO;
	if ((offset | len) % f->info.sector_size || (data && (len > vha_front_max_io(f) || !len)) ||
	    offset / 512 + len / 512 > f->info.sectors)
		return -EINVAL;
	if (zero_copy && ((unsigned char *)buf - f->pool) % 512)
		return -EINVAL;
	if ((op == VHA_FRONT_WRITE || op == VHA_FRONT_DISCARD || op == VHA_FRONT_BARRIER) && f->info.readonly)
		return -EROFS;
	if (op == VHA_FRONT_BARRIER && !f->info.barrier)
		return -EOPNOTSUPP;
	if (data) {
		size_t in = zero_copy ? (size_t)((unsigned char *)buf - f->pool) % VHA_PAGE_SIZE : 0;

		nsegs = (unsigned int)((in + len + VHA_PAGE_SIZE - 1) / VHA_PAGE_SIZE);
		if (nsegs > front_max_segments(f))
			return -EINVAL;
	}
	indirect = nsegs > SEGS;
	if (indirect && op == VHA_FRONT_BARRIER)
		return -EINVAL;     /* blkif carries indirect reads and writes only */
	need_pages = (zero_copy ? 0 : nsegs) + (indirect ? 1 : 0);
	if (f->nfree < need_pages)
		return -EAGAIN;
	q = pick_queue(f, &id);
	if (!q)
		return -EAGAIN;

	s = &q->slots[id];
	memset(s, 0, sizeof(*s));
	s->busy = true;
	s->zero_copy = zero_copy;
	s->op = op;
	s->buf = buf;
	s->len = len;
	s->cb = cb;
	s->opaque = opaque;
	if (f->untrusted && data) {
		int rc = front_dedicated_share(f, s, nsegs, indirect);

		if (rc < 0) {
			s->busy = false;
			return f->inflight ? -EAGAIN : rc;
		}
	}
	r = (blkif_request_t *)s->raw;
	r->id = id;
	r->sector_number = offset / 512;
	switch (op) {
	case VHA_FRONT_READ:
	case VHA_FRONT_WRITE:
	case VHA_FRONT_BARRIER: {
		uint8_t rwop = op == VHA_FRONT_READ ? BLKIF_OP_READ :
			       op == VHA_FRONT_WRITE ? BLKIF_OP_WRITE : BLKIF_OP_WRITE_BARRIER;

		if (indirect) {
			/* The segment list lives in one more pool page the backend reads. */
			blkif_request_indirect_t *ri = (blkif_request_indirect_t *)s->raw;
			struct blkif_request_segment *segs;
			uint32_t ip = 0;

			if (f->untrusted) {
				segs = (void *)s->dedicated_indirect;
				ri->indirect_grefs[0] = s->indirect_ref;
			} else {
				ip = f->free_pages[--f->nfree];
				segs = (void *)(f->pool + (size_t)ip * VHA_PAGE_SIZE);
				ri->indirect_grefs[0] = f->pool_refs[ip];
			}
			memset(segs, 0, VHA_PAGE_SIZE);
			ri->operation = BLKIF_OP_INDIRECT;
			ri->indirect_op = rwop;
			ri->nr_segments = (uint16_t)nsegs;
			ri->id = id;
			ri->sector_number = offset / 512;
			fill_segments(f, s, segs, nsegs);
			/* Last, so completion finds the data pages first. */
			if (!f->untrusted)
				s->pages[s->npages++] = ip;
		} else {
			r->operation = rwop;
			r->nr_segments = (uint8_t)nsegs;
			fill_segments(f, s, r->seg, nsegs);
		}
		/* The backend answers an indirect request with indirect_op, as Linux blkback does. */
		s->operation = rwop;
		break;
	}
	case VHA_FRONT_FLUSH:
		r->operation = BLKIF_OP_FLUSH_DISKCACHE;
		s->operation = r->operation;
		break;
	case VHA_FRONT_DISCARD: {
		blkif_request_discard_t *d = (blkif_request_discard_t *)s->raw;

		d->operation = BLKIF_OP_DISCARD;
		d->sector_number = offset / 512;
		d->nr_sectors = len / 512;
		s->operation = BLKIF_OP_DISCARD;
		break;
	}
	}
	q->inflight++;
	f->inflight++;
	push_request(f, q, s->raw);
	return 0;
}

static int harvest(struct vha_front *f, struct fqueue *q)
{
	struct blkif_response rsp;
	unsigned int budget = f->nslots;
	int done = 0, r;

	while (budget--) {
		struct req_slot *s;

		r = vha_blkif_front_take_response(&q->ring, &rsp);
		if (r < 0) {
			front_mark_broken(f, "backend produced more responses than requests");
			return -EIO;
		}
		if (r == 0)
			break;
		/* Never complete the wrong request: the id must name one outstanding, with its operation. */
		if (rsp.id >= f->nslots || !q->slots[rsp.id].busy || q->slots[rsp.id].operation != rsp.operation) {
			char why[160];

			/* What was wrong, and where in the ring: enough to tell a duplicate from a stray. */
			snprintf(why, sizeof(why),
				 "response with an unknown id or the wrong operation (id %llu op %u status %d at rsp %u; "
				 "that id %s)", (unsigned long long)rsp.id, rsp.operation, rsp.status,
				 q->ring.ring.rsp_cons - 1,
				 rsp.id >= f->nslots ? "is out of range" :
				 !q->slots[rsp.id].busy ? "is not outstanding" : "is outstanding with another operation");
			front_mark_broken(f, why);
			return -EIO;
		}
		s = &q->slots[rsp.id];
		complete(f, q, s, rsp.status == BLKIF_RSP_OKAY ? 0 : rsp.status == BLKIF_RSP_EOPNOTSUPP ? -EOPNOTSUPP : -EIO);
		done++;
	}
	return done;
}

int front_harvest_all(struct vha_front *f)
{
	int done = 0, n;

	for (unsigned int i = 0; i < f->info.queues; i++) {
		n = harvest(f, &f->q[i]);
		if (n < 0)
			return n;
		done += n;
	}
	return done;
}

/*
 * Take what the event channel has pending and re-arm it. Bounded: a backend
 * that notifies in a tight loop re-raises a port as soon as it is unmasked,
 * and must not keep us here (XSA-391). Returns how many ports fired.
 */
static unsigned int drain_events(struct vha_front *f)
{
	unsigned int fired = 0;
	int port;

	for (unsigned int n = 0; n < f->info.queues + 1 && (port = vha_evtchn_pending(f->ev)) >= 0; n++) {
		vha_evtchn_unmask(f->ev, (vha_evtchn_port_t)port);
		fired++;
	}
	return fired;
}

/* Busy polling (opts.poll_us): watch the rings, without a system call, until a response or the time is up. */
static bool poll_for_responses(struct vha_front *f, double until)
{
	for (unsigned int n = 1;; n++) {
		for (unsigned int i = 0; i < f->info.queues; i++)
			if (vha_blkif_front_has_responses(&f->q[i].ring))
				return true;
		if ((n & 63) == 0 && now_s() >= until)
			return false;
		vha_cpu_relax();
	}
}

int vha_front_poll(struct vha_front *f, int timeout_ms)
{
	struct pollfd pfd[2] = {
		{ .fd = vha_evtchn_fd(f->ev), .events = POLLIN },
		{ .fd = f->watching ? xs_fileno(f->xs) : -1, .events = POLLIN },
	};
	/* An absolute deadline: events that bring nothing must not restart the wait. */
	double deadline = now_s() + (timeout_ms > 0 ? timeout_ms / 1000.0 : 0);
	unsigned int fired;
	int done, wait_ms;
	bool more;

	if (f->broken)
		return -EIO;
	for (;;) {
		fired = drain_events(f);
		done = front_harvest_all(f);
		if (done != 0)
			return done;
		if (f->watching && front_follow_backend(f) < 0)
			return -EIO;
		/*
		 * Before re-arming rsp_event (the backend does not notify while it
		 * stays behind): poll for a while when asked to. Not after a
		 * spurious event, so a backend cannot keep its caller spinning.
		 */
		if (f->poll_us && f->inflight && timeout_ms != 0 && !fired &&
		    poll_for_responses(f, now_s() + f->poll_us / 1e6))
			continue;
		/* Re-arm rsp_event, then look once more before sleeping. */
		more = false;
		for (unsigned int i = 0; i < f->info.queues; i++)
			more |= vha_blkif_front_final_check(&f->q[i].ring);
		if (more)
			continue;
		if (fired) {
			/* Cheap and counted: the events brought no response (the harvest above found none). */
			double now = now_s();

			f->info.spurious_events += fired;
			if (now - f->spurious_window_start >= 1.0) {
				f->spurious_window_start = now;
				f->spurious_in_window = 0;
			}
			f->spurious_in_window += fired;
			/*
			 * One now and then is a race, not a fault: an event sent for
			 * responses a caller polling with timeout 0 had already taken.
			 * Many in a second are a backend flooding us: that is worth a
			 * warning (rate-limited).
			 */
			if (f->spurious_in_window > SPURIOUS_WARN_PER_S)
				vha_log_ratelimited(&f->spurious_rl, VHA_LOG_WARN,
						    "device %s: events from the backend with no response: %u in a "
						    "second (%llu so far)", f->dir, f->spurious_in_window,
						    (unsigned long long)f->info.spurious_events);
		}
		if (timeout_ms == 0 || f->inflight == 0)
			return 0;
		if (timeout_ms < 0) {
			wait_ms = -1;
		} else {
			double left = deadline - now_s();

			if (left <= 0)
				return 0;
			wait_ms = (int)(left * 1000.0) + 1;
		}
		if (poll(pfd, 2, wait_ms) <= 0)
			return 0;
		if ((pfd[1].revents & POLLIN) && !(pfd[0].revents & POLLIN)) {
			if (front_follow_backend(f) < 0)
				return -EIO;
		}
	}
}
