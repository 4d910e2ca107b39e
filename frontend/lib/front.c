// SPDX-License-Identifier: MIT
/*
 * libvhafront. The pool of data pages is shared once at open and kept for
 * the device's life; rings are set up at open and again on every reconnect.
 * Bounce pages return to the pool only when their request's response
 * arrives (the backend may still be using them before that: XSA-396). Every
 * response is checked against what is outstanding before anything is
 * completed.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "vha/blkif.h"
#include "vha/front.h"
#include "vha/log.h"
#include "vha/xenbus.h"

#define SEGS BLKIF_MAX_SEGMENTS_PER_REQUEST
#define MAX_QUEUES 16u
#define WATCH_TOKEN "vha-front-backend"
#define POOL_MAX 1024u          /* pages one vha_gntshr_share grants at most (gntalloc's default limit) */

struct req_slot {
	bool busy;
	bool zero_copy;                 /* buf lies in the pool's buffer area */
	uint8_t operation;
	enum vha_front_op op;
	void *buf;                      /* read destination when bounced */
	size_t len;
	uint32_t pages[VHA_BLKIF_MAX_SEGMENTS + 1];     /* bounce page indices (+1: the indirect page) */
	unsigned int npages;
	unsigned char raw[sizeof(blkif_request_t)];     /* as queued: resubmitted after a reconnect */
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
	char dir[64];
	char *be_dir;
	bool watching;
	struct vha_front_info info;
	unsigned int timeout_ms;
	unsigned int want_order, want_queues;
	bool no_indirect, no_persistent;
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
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int wait_backend(struct vha_front *f, int want1, int want2, double timeout_s)
{
	double end = now_s() + timeout_s;
	int st;

	for (;;) {
		st = vha_xenbus_read_state(f->xs, XBT_NULL, f->be_dir);
		if (st == want1 || st == want2)
			return st;
		if (now_s() > end)
			return -ETIMEDOUT;
		usleep(5000);
	}
}

/* Unshare the rings and unbind their ports; the pool and slots stay. */
static void teardown_rings(struct vha_front *f)
{
	for (unsigned int i = 0; i < MAX_QUEUES; i++) {
		struct fqueue *q = &f->q[i];

		/*
		 * The platform ends the grants and keeps a page the backend still
		 * maps out of circulation until it unmaps. If it cannot confirm
		 * that, the pages are leaked on purpose: never unmapped, never
		 * reused (XSA-396).
		 */
		if (q->sring && vha_gntshr_unshare(f->shr, q->sring, f->info.ring_pages) < 0)
			vha_warn("device %s: cannot end the grants of a ring; leaking its pages", f->dir);
		q->sring = NULL;
		if (q->port > 0)
			vha_evtchn_unbind(f->ev, (vha_evtchn_port_t)q->port);
		q->port = 0;
	}
}

static void release(struct vha_front *f)
{
	teardown_rings(f);
	/* As for the rings: no confirmed end of access, no reuse (the pages are leaked). */
	if (f->pool && vha_gntshr_unshare(f->shr, f->pool, f->npool) < 0)
		vha_warn("device %s: cannot end the grants of the data pool; leaking its pages", f->dir);
	if (f->ev)
		vha_evtchn_close(f->ev);
	vha_gntshr_close(f->shr);
	if (f->watching) {
		char path[300];

		snprintf(path, sizeof(path), "%s/state", f->be_dir);
		xs_unwatch(f->xs, path, WATCH_TOKEN);
	}
	if (f->xs)
		xs_close(f->xs);
	for (unsigned int i = 0; i < MAX_QUEUES; i++)
		free(f->q[i].slots);
	free(f->be_dir);
	free(f->pool_refs);
	free(f->free_pages);
	free(f->buf_run);
	free(f->buf_used);
	free(f);
}

static void read_geometry(struct vha_front *f)
{
	uint64_t v;

	vha_xs_read_uint(f->xs, XBT_NULL, f->be_dir, "sectors", 0, &f->info.sectors);
	vha_xs_read_uint(f->xs, XBT_NULL, f->be_dir, "sector-size", 512, &v);
	f->info.sector_size = v == 4096 ? 4096 : 512;
	vha_xs_read_uint(f->xs, XBT_NULL, f->be_dir, "physical-sector-size", f->info.sector_size, &v);
	f->info.physical_sector_size = (uint32_t)v;
	vha_xs_read_uint(f->xs, XBT_NULL, f->be_dir, "info", 0, &v);
	f->info.readonly = (v & VDISK_READONLY) != 0;
	f->info.cdrom = (v & VDISK_CDROM) != 0;
	vha_xs_read_uint(f->xs, XBT_NULL, f->be_dir, "feature-flush-cache", 0, &v);
	f->info.flush = v != 0;
	vha_xs_read_uint(f->xs, XBT_NULL, f->be_dir, "feature-barrier", 0, &v);
	f->info.barrier = v != 0;
	vha_xs_read_uint(f->xs, XBT_NULL, f->be_dir, "feature-discard", 0, &v);
	f->info.discard = v != 0;
}

/* Write the rings of every queue, then Initialised, in one transaction. */
static int publish_rings(struct vha_front *f, unsigned int order)
{
	xs_transaction_t t;

	for (int tries = 0;; tries++) {
		t = xs_transaction_start(f->xs);
		if (t == XBT_NULL)
			return -errno;
		if (order > 0)
			vha_xs_write_uint(f->xs, t, f->dir, "ring-page-order", order);
		else
			vha_xs_rm(f->xs, t, f->dir, "ring-page-order");
		if (f->info.queues > 1)
			vha_xs_write_uint(f->xs, t, f->dir, "multi-queue-num-queues", f->info.queues);
		else
			vha_xs_rm(f->xs, t, f->dir, "multi-queue-num-queues");
		for (unsigned int i = 0; i < f->info.queues; i++) {
			char dir[96], node[24];

			if (f->info.queues > 1)
				snprintf(dir, sizeof(dir), "%s/queue-%u", f->dir, i);
			else
				snprintf(dir, sizeof(dir), "%s", f->dir);
			if (order == 0) {
				vha_xs_write_uint(f->xs, t, dir, "ring-ref", f->q[i].ring_refs[0]);
			} else {
				for (unsigned int j = 0; j < f->info.ring_pages; j++) {
					snprintf(node, sizeof(node), "ring-ref%u", j);
					vha_xs_write_uint(f->xs, t, dir, node, f->q[i].ring_refs[j]);
				}
			}
			vha_xs_write_uint(f->xs, t, dir, "event-channel", (uint64_t)f->q[i].port);
		}
		/* The pool is granted once and reused: exactly what persistent grants ask of a frontend. */
		vha_xs_write_uint(f->xs, t, f->dir, "feature-persistent", f->info.persistent ? 1 : 0);
		vha_xs_printf(f->xs, t, f->dir, "protocol", "%s", VHA_BLKIF_PROTOCOL_NATIVE);
		vha_xenbus_write_state(f->xs, t, f->dir, XenbusStateInitialised);
		if (xs_transaction_end(f->xs, t, false))
			return 0;
		if (errno != EAGAIN || tries > 50)
			return -errno;
	}
}

/*
 * The handshake: Initialising, wait for InitWait, share rings, Initialised,
 * wait for Connected, read the geometry. reconnect: the queue count and ring
 * size must stay what they were (the slots in flight depend on them).
 */
static int handshake(struct vha_front *f, bool reconnect)
{
	double timeout = f->timeout_ms / 1000.0;
	uint64_t v, order, nq;
	int rc, st;

	st = vha_xenbus_read_state(f->xs, XBT_NULL, f->dir);
	if (st != XenbusStateInitialising)
		vha_xenbus_write_state(f->xs, XBT_NULL, f->dir, XenbusStateInitialising);
	if (wait_backend(f, XenbusStateInitWait, XenbusStateInitWait, timeout) < 0) {
		st = vha_xenbus_read_state(f->xs, XBT_NULL, f->be_dir);
		vha_err("backend %s did not reach InitWait within %u ms (state %s)", f->be_dir, f->timeout_ms,
			st >= 0 ? vha_xenbus_state_name(st) : "missing");
		return -ETIMEDOUT;
	}
	vha_xs_read_uint(f->xs, XBT_NULL, f->be_dir, "max-ring-page-order", 0, &order);
	if (order > VHA_BLKIF_MAX_RING_ORDER)
		order = VHA_BLKIF_MAX_RING_ORDER;
	if (f->want_order < order)
		order = f->want_order;
	vha_xs_read_uint(f->xs, XBT_NULL, f->be_dir, "multi-queue-max-queues", 1, &nq);
	if (nq < 1)
		nq = 1;
	if (nq > f->want_queues)
		nq = f->want_queues;
	vha_xs_read_uint(f->xs, XBT_NULL, f->be_dir, "feature-max-indirect-segments", 0, &v);
	if (reconnect && ((1u << order) != f->info.ring_pages || nq != f->info.queues ||
			  (!f->no_indirect && v < f->info.max_indirect_segments && f->info.max_indirect_segments > SEGS))) {
		vha_err("backend %s came back with fewer queues, a smaller ring or fewer indirect segments; "
			"cannot resubmit", f->be_dir);
		return -EPROTO;
	}
	f->info.max_indirect_segments = f->no_indirect ? 0 : (unsigned int)(v > 4096 ? 4096 : v);
	vha_xs_read_uint(f->xs, XBT_NULL, f->be_dir, "feature-persistent", 0, &v);
	f->info.persistent = v != 0 && !f->no_persistent;
	f->info.ring_pages = 1u << order;
	f->info.queues = (unsigned int)nq;
	f->nslots = vha_blkif_ring_size(f->info.ring_pages);

	for (unsigned int i = 0; i < f->info.queues; i++) {
		struct fqueue *q = &f->q[i];

		q->sring = vha_gntshr_share(f->shr, f->info.backend_domid, f->info.ring_pages, q->ring_refs, true);
		if (!q->sring) {
			rc = -errno;
			vha_err("cannot share the ring: %s", strerror(errno));
			return rc;
		}
		vha_blkif_front_init(&q->ring, q->sring, f->info.ring_pages);
		q->port = vha_evtchn_bind_unbound(f->ev, f->info.backend_domid);
		if (q->port < 0) {
			rc = q->port;
			q->port = 0;
			return rc;
		}
		if (!q->slots) {
			q->slots = calloc(f->nslots, sizeof(*q->slots));
			if (!q->slots)
				return -ENOMEM;
		}
	}
	rc = publish_rings(f, (unsigned int)order);
	if (rc < 0)
		return rc;
	rc = wait_backend(f, XenbusStateConnected, XenbusStateClosed, timeout);
	if (rc == XenbusStateClosed) {
		/* It closed instead (a backend restarted meanwhile, or it refused the rings). */
		vha_debug("backend %s closed during the handshake", f->be_dir);
		return -ECONNRESET;
	}
	if (rc < 0) {
		st = vha_xenbus_read_state(f->xs, XBT_NULL, f->be_dir);
		vha_err("backend %s did not connect within %u ms (state %s)", f->be_dir, f->timeout_ms,
			st >= 0 ? vha_xenbus_state_name(st) : "missing");
		return -ETIMEDOUT;
	}
	read_geometry(f);
	vha_xenbus_write_state(f->xs, XBT_NULL, f->dir, XenbusStateConnected);
	return 0;
}

static int share_pool(struct vha_front *f, const struct vha_front_opts *opts)
{
	/*
	 * 512 pages: a full 16-page ring of 4 KiB requests, or two 1 MiB ones,
	 * while the whole pool stays within one share (gntalloc's default limit
	 * is 1024 pages).
	 */
	f->nbounce = opts->pool_pages ? opts->pool_pages : 512;
	f->npool = f->nbounce + opts->buffer_pages;
	if (f->npool > POOL_MAX) {
		vha_err("a pool of %u pages (%u bounce + %u buffer) is over the %u one device can share", f->npool,
			f->nbounce, opts->buffer_pages, POOL_MAX);
		return -EINVAL;
	}
	f->pool_refs = calloc(f->npool, sizeof(*f->pool_refs));
	f->free_pages = calloc(f->nbounce, sizeof(*f->free_pages));
	f->buf_run = calloc(opts->buffer_pages + 1, sizeof(*f->buf_run));
	f->buf_used = calloc(opts->buffer_pages + 1, sizeof(*f->buf_used));
	if (!f->pool_refs || !f->free_pages || !f->buf_run || !f->buf_used)
		return -ENOMEM;
	/* Fresh zeroed pages that hold nothing but request data (XSA-403). */
	f->pool = vha_gntshr_share(f->shr, f->info.backend_domid, f->npool, f->pool_refs, true);
	if (!f->pool) {
		int rc = -errno;

		vha_err("cannot share %u data pages: %s", f->npool, strerror(errno));
		return rc;
	}
	for (unsigned int i = 0; i < f->nbounce; i++)
		f->free_pages[f->nfree++] = f->nbounce - 1 - i;
	return 0;
}

int vha_front_open(struct vha_platform *p, unsigned int devid, const struct vha_front_opts *opts,
		   struct vha_front **out)
{
	struct vha_front_opts dflt = { 0 };
	struct vha_front *f;
	uint64_t beid;
	char path[300];
	int rc;

	*out = NULL;
	if (!opts)
		opts = &dflt;
	if (opts->queues > MAX_QUEUES) {
		vha_err("%u queues asked for; at most %u", opts->queues, MAX_QUEUES);
		return -EINVAL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->p = p;
	f->spurious_rl = (struct vha_ratelimit)VHA_RATELIMIT_INIT(10000, 1);
	f->timeout_ms = opts->timeout_ms ? opts->timeout_ms : 10000;
	f->want_order = opts->ring_order;
	f->want_queues = opts->queues ? opts->queues : 1;
	f->no_indirect = opts->no_indirect;
	f->no_persistent = opts->no_persistent;
	snprintf(f->dir, sizeof(f->dir), "device/vbd/%u", devid);
	f->xs = vha_platform_xs_open(p);
	if (!f->xs) {
		rc = -errno;
		vha_err("cannot connect to xenstore: %s", strerror(errno));
		goto fail;
	}
	if (vha_xs_read_str(f->xs, XBT_NULL, f->dir, "backend", &f->be_dir) < 0 ||
	    vha_xs_read_uint(f->xs, XBT_NULL, f->dir, "backend-id", UINT64_MAX, &beid) < 0 || beid > 0x7fef) {
		vha_err("no device %s in this domain's xenstore (attach one first)", f->dir);
		rc = -ENOENT;
		goto fail;
	}
	f->info.backend_domid = (unsigned int)beid;
	rc = vha_gntshr_open(p, &f->shr);
	if (rc < 0)
		goto fail;
	rc = vha_evtchn_open(p, &f->ev);
	if (rc < 0)
		goto fail;
	/* A device left Closed by an earlier user starts over: the backend offers InitWait again. */
	rc = handshake(f, false);
	if (rc == -ECONNRESET) {
		char *why = NULL;

		vha_xs_read_str(f->xs, XBT_NULL, f->be_dir, "error", &why);
		vha_err("backend %s refused the connection: %s", f->be_dir, why ? why : "(no error node)");
		free(why);
	}
	if (rc < 0)
		goto fail;
	rc = share_pool(f, opts);
	if (rc < 0)
		goto fail;
	/* Follow the backend from now on: resize, restart. */
	snprintf(path, sizeof(path), "%s/state", f->be_dir);
	f->watching = xs_watch(f->xs, path, WATCH_TOKEN);
	if (!f->watching)
		vha_warn("cannot watch %s: %s; resize and backend restarts will go unnoticed", path, strerror(errno));
	*out = f;
	return 0;
fail:
	if (f->xs)
		vha_xenbus_write_state(f->xs, XBT_NULL, f->dir, XenbusStateClosed);
	release(f);
	return rc;
}

static void fail_outstanding(struct vha_front *f);

void vha_front_close(struct vha_front *f)
{
	double drain;

	if (!f)
		return;
	/*
	 * Let what is in flight finish, briefly (5 s, or opts.timeout_ms if
	 * shorter); vha_front_poll keeps its deadline however many events a
	 * backend sends, so this ends in time against one that never answers.
	 */
	drain = f->timeout_ms < 5000 ? f->timeout_ms / 1000.0 : 5.0;
	for (double end = now_s() + drain; f->inflight && !f->broken && now_s() < end;)
		vha_front_poll(f, 100);
	vha_xenbus_write_state(f->xs, XBT_NULL, f->dir, XenbusStateClosing);
	if (wait_backend(f, XenbusStateClosed, XenbusStateClosing, f->timeout_ms / 1000.0) < 0)
		vha_warn("backend %s did not close; ending the grants anyway", f->be_dir);
	else
		wait_backend(f, XenbusStateClosed, XenbusStateClosed, 1);
	vha_xenbus_write_state(f->xs, XBT_NULL, f->dir, XenbusStateClosed);
	if (f->inflight)
		vha_warn("device %s: %u request(s) never answered; failing them", f->dir, f->inflight);
	fail_outstanding(f);
	release(f);
}

const struct vha_front_info *vha_front_get_info(const struct vha_front *f)
{
	return &f->info;
}

/* Segments one request may carry: indirect (up to 256) when the backend offers it. */
static unsigned int max_segments(const struct vha_front *f)
{
	unsigned int n = f->info.max_indirect_segments;

	if (n > 256)
		n = 256;
	return n > SEGS ? n : SEGS;
}

size_t vha_front_max_io(const struct vha_front *f)
{
	return (size_t)max_segments(f) * VHA_PAGE_SIZE;
}

unsigned int vha_front_inflight(const struct vha_front *f)
{
	return f->inflight;
}

/* ---------------- the buffer area ---------------- */

void *vha_front_buf_alloc(struct vha_front *f, size_t len)
{
	unsigned int nbuf = f->npool - f->nbounce;
	unsigned int need = (unsigned int)((len + VHA_PAGE_SIZE - 1) / VHA_PAGE_SIZE), run = 0;

	if (need == 0 || need > nbuf)
		return NULL;
	for (unsigned int i = 0; i < nbuf; i++) {
		run = f->buf_used[i] ? 0 : run + 1;
		if (run == need) {
			unsigned int first = i + 1 - need;

			for (unsigned int j = first; j <= i; j++)
				f->buf_used[j] = true;
			f->buf_run[first] = need;
			return f->pool + (size_t)(f->nbounce + first) * VHA_PAGE_SIZE;
		}
	}
	return NULL;
}

static bool in_buffer_area(const struct vha_front *f, const void *p, size_t len)
{
	const unsigned char *lo = f->pool + (size_t)f->nbounce * VHA_PAGE_SIZE;
	const unsigned char *hi = f->pool + (size_t)f->npool * VHA_PAGE_SIZE;

	return f->pool && (const unsigned char *)p >= lo && (const unsigned char *)p < hi &&
	       len <= (size_t)(hi - (const unsigned char *)p);
}

void vha_front_buf_free(struct vha_front *f, void *buf)
{
	unsigned int first;

	if (!buf || !in_buffer_area(f, buf, 1))
		return;
	first = (unsigned int)(((unsigned char *)buf - f->pool) / VHA_PAGE_SIZE) - f->nbounce;
	for (unsigned int j = 0; j < f->buf_run[first]; j++)
		f->buf_used[first + j] = false;
	f->buf_run[first] = 0;
}

/* ---------------- requests ---------------- */

static void finish(struct fqueue *q, struct req_slot *s, int status);

/* A response arrived for s: copy read data out, give its bounce pages back, call back. */
static void complete(struct vha_front *f, struct fqueue *q, struct req_slot *s, int status)
{
	if (status == 0 && s->op == VHA_FRONT_READ && !s->zero_copy) {
		size_t done = 0;

		for (unsigned int i = 0; done < s->len; i++) {
			size_t n = s->len - done < VHA_PAGE_SIZE ? s->len - done : VHA_PAGE_SIZE;

			memcpy((char *)s->buf + done, f->pool + (size_t)s->pages[i] * VHA_PAGE_SIZE, n);
			done += n;
		}
	}
	/* The response arrived: the backend is done with these pages, so they may be reused. */
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

static void fail_outstanding(struct vha_front *f)
{
	for (unsigned int qi = 0; qi < f->info.queues; qi++)
		for (unsigned int i = 0; f->q[qi].slots && i < f->nslots; i++)
			if (f->q[qi].slots[i].busy)
				fail_unanswered(f, &f->q[qi], &f->q[qi].slots[i]);
}

static void mark_broken(struct vha_front *f, const char *why)
{
	if (!f->broken)
		vha_err("device %s: %s; failing every request", f->dir, why);
	f->broken = true;
	fail_outstanding(f);
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
		s->pages[s->npages] = f->free_pages[--f->nfree];
		page = f->pool + (size_t)s->pages[s->npages] * VHA_PAGE_SIZE;
		if (s->op != VHA_FRONT_READ)
			memcpy(page, (const char *)s->buf + (size_t)i * VHA_PAGE_SIZE, chunk);
		segs[i].gref = f->pool_refs[s->pages[s->npages]];
		segs[i].first_sect = 0;
		segs[i].last_sect = (uint8_t)((chunk + 511) / 512 - 1);
		s->npages++;
	}
}

bool vha_front_can_submit(const struct vha_front *f, unsigned int n, const void *buf, size_t len)
{
	unsigned int slots = 0, pages = n * (max_segments(f) > SEGS ? 1 : 0);   /* an indirect page each, at most */

	for (unsigned int i = 0; i < f->info.queues; i++) {
		unsigned int ring = vha_blkif_front_free(&f->q[i].ring), idle = f->nslots - f->q[i].inflight;

		slots += ring < idle ? ring : idle;
	}
	if (!in_buffer_area(f, buf, len))
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
	bool zero_copy = data && in_buffer_area(f, buf, len);
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
		if (nsegs > max_segments(f))
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
			uint32_t ip = f->free_pages[--f->nfree];
			struct blkif_request_segment *segs = (void *)(f->pool + (size_t)ip * VHA_PAGE_SIZE);

			memset(segs, 0, VHA_PAGE_SIZE);
			ri->operation = BLKIF_OP_INDIRECT;
			ri->indirect_op = rwop;
			ri->nr_segments = (uint16_t)nsegs;
			ri->id = id;
			ri->sector_number = offset / 512;
			ri->indirect_grefs[0] = f->pool_refs[ip];
			fill_segments(f, s, segs, nsegs);
			/* Last, so completion finds the data pages first. */
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
			mark_broken(f, "backend produced more responses than requests");
			return -EIO;
		}
		if (r == 0)
			break;
		/* Never complete the wrong request: the id must name one outstanding, with its operation. */
		if (rsp.id >= f->nslots || !q->slots[rsp.id].busy || q->slots[rsp.id].operation != rsp.operation) {
			mark_broken(f, "response with an unknown id or the wrong operation");
			return -EIO;
		}
		s = &q->slots[rsp.id];
		complete(f, q, s, rsp.status == BLKIF_RSP_OKAY ? 0 : rsp.status == BLKIF_RSP_EOPNOTSUPP ? -EOPNOTSUPP : -EIO);
		done++;
	}
	return done;
}

static int harvest_all(struct vha_front *f)
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
 * The backend left Connected while the device is still online: it was
 * restarted (or reset the device). Take the responses it did publish, then
 * set up fresh rings and resubmit everything else, ids and data unchanged.
 * Resubmitting is safe: a request without a response may or may not have
 * reached the disk, and doing it again has the same effect.
 */
static int reconnect(struct vha_front *f)
{
	unsigned int resubmitted = 0;
	int rc;

	if (harvest_all(f) < 0)
		return -EIO;
	vha_info("device %s: backend went away; reconnecting (%u request(s) in flight)", f->dir, f->inflight);
	/* A backend that restarts again meanwhile closes under us: start over, within the timeout. */
	for (double end = now_s() + f->timeout_ms / 1000.0;;) {
		teardown_rings(f);
		rc = handshake(f, true);
		if (rc == 0)
			break;
		if (rc != -ECONNRESET || now_s() > end) {
			mark_broken(f, "reconnect to the backend failed");
			return -EIO;
		}
	}
	for (unsigned int qi = 0; qi < f->info.queues; qi++) {
		struct fqueue *q = &f->q[qi];

		for (unsigned int id = 0; id < f->nslots; id++) {
			if (!q->slots[id].busy)
				continue;
			vha_blkif_front_queue(&q->ring, q->slots[id].raw, sizeof(q->slots[id].raw));
			resubmitted++;
		}
		if (vha_blkif_front_push(&q->ring))
			vha_evtchn_notify(f->ev, (vha_evtchn_port_t)q->port);
	}
	f->info.reconnects++;
	vha_info("device %s: reconnected; %u request(s) resubmitted", f->dir, resubmitted);
	return 0;
}

/* A watch on the backend's state fired: a new size, a restart, or the end. */
static int follow_backend(struct vha_front *f)
{
	char **ev;
	bool fired = false;
	uint64_t online = 1, sectors;
	int st;

	while ((ev = xs_check_watch(f->xs)) != NULL) {
		fired = true;
		free(ev);
	}
	if (!fired || f->broken)
		return 0;
	st = vha_xenbus_read_state(f->xs, XBT_NULL, f->be_dir);
	if (st == XenbusStateConnected) {
		if (vha_xs_read_uint(f->xs, XBT_NULL, f->be_dir, "sectors", 0, &sectors) == 0 &&
		    sectors != f->info.sectors) {
			vha_info("device %s: size changed from %llu to %llu sectors", f->dir,
				 (unsigned long long)f->info.sectors, (unsigned long long)sectors);
			f->info.sectors = sectors;
			f->info.resizes++;
		}
		return 0;
	}
	if (st == XenbusStateInitialising || st == XenbusStateInitWait || st == XenbusStateInitialised)
		return 0;       /* a backend starting: it closes first, then we reconnect */
	vha_xs_read_uint(f->xs, XBT_NULL, f->be_dir, "online", 1, &online);
	if (st < 0 || online == 0 || vha_xenbus_read_state(f->xs, XBT_NULL, f->dir) < 0) {
		mark_broken(f, "the backend closed the device");
		return -EIO;
	}
	return reconnect(f);
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
		done = harvest_all(f);
		if (done != 0)
			return done;
		if (f->watching && follow_backend(f) < 0)
			return -EIO;
		/* Re-arm rsp_event, then look once more before sleeping. */
		more = false;
		for (unsigned int i = 0; i < f->info.queues; i++)
			more |= vha_blkif_front_final_check(&f->q[i].ring);
		if (more)
			continue;
		if (fired) {
			/* Cheap and counted: the events brought no response (the harvest above found none). */
			f->info.spurious_events += fired;
			vha_log_ratelimited(&f->spurious_rl, VHA_LOG_WARN,
					    "device %s: event from the backend with no response (%llu so far)", f->dir,
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
			if (follow_backend(f) < 0)
				return -EIO;
		}
	}
}

struct sync_state {
	int status;
	unsigned int pending;
};

static void sync_cb(void *opaque, int status)
{
	struct sync_state *st = opaque;

	if (status && !st->status)
		st->status = status;
	st->pending--;
}

static int sync_io(struct vha_front *f, enum vha_front_op op, uint64_t offset, void *buf, size_t len)
{
	struct sync_state st = { 0 };
	size_t max = vha_front_max_io(f), done = 0;
	int rc;

	while (done < len || st.pending) {
		if (done < len && !st.status) {
			size_t n = len - done < max ? len - done : max;

			rc = vha_front_submit(f, op, offset + done, (char *)buf + done, n, sync_cb, &st);
			if (rc == 0) {
				st.pending++;
				done += n;
				continue;
			}
			if (rc != -EAGAIN)
				return st.pending ? (st.status ? st.status : rc) : rc;
		} else if (st.status && !st.pending) {
			break;
		}
		rc = vha_front_poll(f, 1000);
		if (rc < 0)
			return rc;
		if (st.status && done < len)
			done = len;     /* stop issuing after an error; drain what is out */
	}
	return st.status;
}

int vha_front_read(struct vha_front *f, uint64_t offset, void *buf, size_t len)
{
	return sync_io(f, VHA_FRONT_READ, offset, buf, len);
}

int vha_front_write(struct vha_front *f, uint64_t offset, const void *buf, size_t len)
{
	return sync_io(f, VHA_FRONT_WRITE, offset, (void *)buf, len);
}

static int sync_one(struct vha_front *f, enum vha_front_op op, uint64_t offset, void *buf, uint64_t len)
{
	struct sync_state st = { .pending = 1 };
	int rc;

	while ((rc = vha_front_submit(f, op, offset, buf, (size_t)len, sync_cb, &st)) == -EAGAIN)
		if ((rc = vha_front_poll(f, 1000)) < 0)
			return rc;
	if (rc < 0)
		return rc;
	while (st.pending)
		if ((rc = vha_front_poll(f, 1000)) < 0)
			return rc;
	return st.status;
}

int vha_front_flush(struct vha_front *f)
{
	return f->info.flush ? sync_one(f, VHA_FRONT_FLUSH, 0, NULL, 0) : 0;
}

int vha_front_discard(struct vha_front *f, uint64_t offset, uint64_t len)
{
	if (!f->info.discard)
		return -EOPNOTSUPP;
	return sync_one(f, VHA_FRONT_DISCARD, offset, NULL, len);
}

int vha_front_barrier_write(struct vha_front *f, uint64_t offset, const void *buf, size_t len)
{
	return sync_one(f, VHA_FRONT_BARRIER, offset, (void *)buf, len);
}
