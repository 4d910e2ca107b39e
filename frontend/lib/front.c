// SPDX-License-Identifier: MIT
/*
 * libvhafront. The ring and a pool of data pages are shared once at open;
 * requests bounce caller data through pool pages, which return to the pool
 * only when the request's response arrives (the backend may still be using
 * them before that: XSA-396). Every response is checked against what is
 * outstanding before anything is completed.
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

struct req_slot {
	bool busy;
	uint8_t operation;
	enum vha_front_op op;
	void *buf;                      /* read destination */
	size_t len;
	uint32_t pages[VHA_BLKIF_MAX_SEGMENTS + 1];     /* pool page indices (+1: the indirect page) */
	unsigned int npages;
	vha_front_cb *cb;
	void *opaque;
};

struct vha_front {
	struct vha_platform *p;
	struct xs_handle *xs;
	struct vha_gntshr *shr;
	struct vha_evtchn *ev;
	char dir[64];
	char *be_dir;
	struct vha_front_info info;
	unsigned int timeout_ms;
	/* ring */
	void *sring;
	grant_ref_t ring_refs[VHA_BLKIF_MAX_RING_PAGES];
	struct vha_blkif_front ring;
	int port;
	/* data pool */
	unsigned char *pool;
	grant_ref_t *pool_refs;
	uint32_t *free_pages;
	unsigned int npool, nfree;
	/* requests, indexed by id */
	struct req_slot *slots;
	unsigned int nslots, inflight;
	bool broken;
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

static void release(struct vha_front *f)
{
	if (f->sring)
		vha_gntshr_unshare(f->shr, f->sring, f->info.ring_pages);
	if (f->pool)
		vha_gntshr_unshare(f->shr, f->pool, f->npool);
	if (f->ev) {
		if (f->port > 0)
			vha_evtchn_unbind(f->ev, (vha_evtchn_port_t)f->port);
		vha_evtchn_close(f->ev);
	}
	vha_gntshr_close(f->shr);
	if (f->xs)
		xs_close(f->xs);
	free(f->be_dir);
	free(f->pool_refs);
	free(f->free_pages);
	free(f->slots);
	free(f);
}

int vha_front_open(struct vha_platform *p, unsigned int devid, const struct vha_front_opts *opts,
		   struct vha_front **out)
{
	struct vha_front_opts dflt = { 0 };
	struct vha_front *f;
	uint64_t v, order, beid;
	xs_transaction_t t;
	double timeout;
	int rc, st;

	*out = NULL;
	if (!opts)
		opts = &dflt;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->p = p;
	f->timeout_ms = opts->timeout_ms ? opts->timeout_ms : 10000;
	timeout = f->timeout_ms / 1000.0;
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
	/* A device left Closed by an earlier user starts over: the backend offers InitWait again. */
	st = vha_xenbus_read_state(f->xs, XBT_NULL, f->dir);
	if (st != XenbusStateInitialising)
		vha_xenbus_write_state(f->xs, XBT_NULL, f->dir, XenbusStateInitialising);
	if (wait_backend(f, XenbusStateInitWait, XenbusStateInitWait, timeout) < 0) {
		st = vha_xenbus_read_state(f->xs, XBT_NULL, f->be_dir);
		vha_err("backend %s did not reach InitWait within %u ms (state %s)", f->be_dir, f->timeout_ms,
			st >= 0 ? vha_xenbus_state_name(st) : "missing");
		rc = -ETIMEDOUT;
		goto fail;
	}
	vha_xs_read_uint(f->xs, XBT_NULL, f->be_dir, "max-ring-page-order", 0, &order);
	if (order > VHA_BLKIF_MAX_RING_ORDER)
		order = VHA_BLKIF_MAX_RING_ORDER;
	if (opts->ring_order < order)
		order = opts->ring_order;
	vha_xs_read_uint(f->xs, XBT_NULL, f->be_dir, "feature-max-indirect-segments", 0, &v);
	f->info.max_indirect_segments = (unsigned int)(v > 4096 ? 4096 : v);
	vha_xs_read_uint(f->xs, XBT_NULL, f->be_dir, "feature-persistent", 0, &v);
	f->info.persistent = v != 0;

	f->info.ring_pages = 1u << order;
	rc = vha_gntshr_open(p, &f->shr);
	if (rc < 0)
		goto fail;
	f->sring = vha_gntshr_share(f->shr, f->info.backend_domid, f->info.ring_pages, f->ring_refs, true);
	if (!f->sring) {
		rc = -errno;
		vha_err("cannot share the ring: %s", strerror(errno));
		goto fail;
	}
	vha_blkif_front_init(&f->ring, f->sring, f->info.ring_pages);
	f->nslots = vha_blkif_ring_size(f->info.ring_pages);
	/* Enough for a full ring of 4 KiB requests or a few 1 MiB ones; within gntalloc's default limit. */
	f->npool = opts->pool_pages ? opts->pool_pages : f->nslots * 4;
	if (f->npool < 512)
		f->npool = 512;
	f->slots = calloc(f->nslots, sizeof(*f->slots));
	f->pool_refs = calloc(f->npool, sizeof(*f->pool_refs));
	f->free_pages = calloc(f->npool, sizeof(*f->free_pages));
	if (!f->slots || !f->pool_refs || !f->free_pages) {
		rc = -ENOMEM;
		goto fail;
	}
	/* Fresh zeroed pages that hold nothing but request data (XSA-403). */
	f->pool = vha_gntshr_share(f->shr, f->info.backend_domid, f->npool, f->pool_refs, true);
	if (!f->pool) {
		rc = -errno;
		vha_err("cannot share %u data pages: %s", f->npool, strerror(errno));
		goto fail;
	}
	for (unsigned int i = 0; i < f->npool; i++)
		f->free_pages[f->nfree++] = f->npool - 1 - i;
	rc = vha_evtchn_open(p, &f->ev);
	if (rc < 0)
		goto fail;
	f->port = vha_evtchn_bind_unbound(f->ev, f->info.backend_domid);
	if (f->port < 0) {
		rc = f->port;
		goto fail;
	}
	for (int tries = 0;; tries++) {
		t = xs_transaction_start(f->xs);
		if (t == XBT_NULL) {
			rc = -errno;
			goto fail;
		}
		if (order == 0) {
			vha_xs_write_uint(f->xs, t, f->dir, "ring-ref", f->ring_refs[0]);
		} else {
			vha_xs_write_uint(f->xs, t, f->dir, "ring-page-order", order);
			for (unsigned int i = 0; i < f->info.ring_pages; i++) {
				char node[24];

				snprintf(node, sizeof(node), "ring-ref%u", i);
				vha_xs_write_uint(f->xs, t, f->dir, node, f->ring_refs[i]);
			}
		}
		vha_xs_write_uint(f->xs, t, f->dir, "event-channel", (uint64_t)f->port);
		vha_xs_printf(f->xs, t, f->dir, "protocol", "%s", VHA_BLKIF_PROTOCOL_NATIVE);
		vha_xenbus_write_state(f->xs, t, f->dir, XenbusStateInitialised);
		if (xs_transaction_end(f->xs, t, false))
			break;
		if (errno != EAGAIN || tries > 50) {
			rc = -errno;
			goto fail;
		}
	}
	if (wait_backend(f, XenbusStateConnected, XenbusStateConnected, timeout) < 0) {
		st = vha_xenbus_read_state(f->xs, XBT_NULL, f->be_dir);
		vha_err("backend %s did not connect within %u ms (state %s)", f->be_dir, f->timeout_ms,
			st >= 0 ? vha_xenbus_state_name(st) : "missing");
		rc = -ETIMEDOUT;
		goto fail;
	}
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
	vha_xs_read_uint(f->xs, XBT_NULL, f->be_dir, "feature-discard", 0, &v);
	f->info.discard = v != 0;
	vha_xenbus_write_state(f->xs, XBT_NULL, f->dir, XenbusStateConnected);
	*out = f;
	return 0;
fail:
	vha_xenbus_write_state(f->xs, XBT_NULL, f->dir, XenbusStateClosed);
	release(f);
	return rc;
}

void vha_front_close(struct vha_front *f)
{
	if (!f)
		return;
	/* Let what is in flight finish, briefly; the backend completes or we give up on it. */
	for (double end = now_s() + 5; f->inflight && !f->broken && now_s() < end;)
		vha_front_poll(f, 100);
	vha_xenbus_write_state(f->xs, XBT_NULL, f->dir, XenbusStateClosing);
	if (wait_backend(f, XenbusStateClosed, XenbusStateClosing, f->timeout_ms / 1000.0) < 0)
		vha_warn("backend %s did not close; ending the grants anyway", f->be_dir);
	else
		wait_backend(f, XenbusStateClosed, XenbusStateClosed, 1);
	vha_xenbus_write_state(f->xs, XBT_NULL, f->dir, XenbusStateClosed);
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

static void complete(struct vha_front *f, struct req_slot *s, int status)
{
	if (status == 0 && s->op == VHA_FRONT_READ) {
		size_t done = 0;

		for (unsigned int i = 0; i < s->npages; i++) {
			size_t n = s->len - done < VHA_PAGE_SIZE ? s->len - done : VHA_PAGE_SIZE;

			memcpy((char *)s->buf + done, f->pool + (size_t)s->pages[i] * VHA_PAGE_SIZE, n);
			done += n;
		}
	}
	/* The response arrived: the backend is done with these pages, so they may be reused. */
	for (unsigned int i = 0; i < s->npages; i++)
		f->free_pages[f->nfree++] = s->pages[i];
	s->busy = false;
	f->inflight--;
	if (s->cb)
		s->cb(s->opaque, status);
}

static void mark_broken(struct vha_front *f, const char *why)
{
	if (!f->broken)
		vha_err("device %s: %s; failing every request", f->dir, why);
	f->broken = true;
	for (unsigned int i = 0; i < f->nslots; i++)
		if (f->slots[i].busy)
			complete(f, &f->slots[i], -EIO);
}

int vha_front_submit(struct vha_front *f, enum vha_front_op op, uint64_t offset, void *buf, size_t len,
		     vha_front_cb *cb, void *opaque)
{
	unsigned char raw[sizeof(blkif_request_t)] = { 0 };
	blkif_request_t *r = (blkif_request_t *)raw;
	struct req_slot *s = NULL;
	unsigned int id, npages = 0;
	bool indirect;

	if (f->broken)
		return -EIO;
	if ((offset | len) % f->info.sector_size ||
	    ((op == VHA_FRONT_READ || op == VHA_FRONT_WRITE) && len > vha_front_max_io(f)) ||
	    offset / 512 + len / 512 > f->info.sectors || ((op == VHA_FRONT_READ || op == VHA_FRONT_WRITE) && !len))
		return -EINVAL;
	if ((op == VHA_FRONT_WRITE || op == VHA_FRONT_DISCARD) && f->info.readonly)
		return -EROFS;
	if (op == VHA_FRONT_READ || op == VHA_FRONT_WRITE)
		npages = (unsigned int)((len + VHA_PAGE_SIZE - 1) / VHA_PAGE_SIZE);
	indirect = npages > SEGS;
	if (vha_blkif_front_free(&f->ring) == 0 || f->nfree < npages + (indirect ? 1 : 0))
		return -EAGAIN;
	for (id = 0; id < f->nslots; id++)
		if (!f->slots[id].busy) {
			s = &f->slots[id];
			break;
		}
	if (!s)
		return -EAGAIN;

	memset(s, 0, sizeof(*s));
	s->busy = true;
	s->op = op;
	s->buf = buf;
	s->len = len;
	s->cb = cb;
	s->opaque = opaque;
	r->id = id;
	r->sector_number = offset / 512;
	switch (op) {
	case VHA_FRONT_READ:
	case VHA_FRONT_WRITE: {
		struct blkif_request_segment *segs = r->seg;
		uint8_t rwop = op == VHA_FRONT_READ ? BLKIF_OP_READ : BLKIF_OP_WRITE;

		if (indirect) {
			/* The segment list lives in one more pool page the backend maps read-only. */
			blkif_request_indirect_t *ri = (blkif_request_indirect_t *)raw;
			uint32_t ip = f->free_pages[--f->nfree];

			s->pages[npages] = ip;
			segs = (struct blkif_request_segment *)(f->pool + (size_t)ip * VHA_PAGE_SIZE);
			memset(segs, 0, VHA_PAGE_SIZE);
			ri->operation = BLKIF_OP_INDIRECT;
			ri->indirect_op = rwop;
			ri->nr_segments = (uint16_t)npages;
			ri->id = id;
			ri->sector_number = offset / 512;
			ri->indirect_grefs[0] = f->pool_refs[ip];
			/* The backend answers with indirect_op, as Linux blkback does. */
			s->operation = rwop;
		} else {
			r->operation = rwop;
			r->nr_segments = (uint8_t)npages;
			s->operation = rwop;
		}
		for (unsigned int i = 0; i < npages; i++) {
			size_t chunk = len - (size_t)i * VHA_PAGE_SIZE;
			unsigned char *page;

			if (chunk > VHA_PAGE_SIZE)
				chunk = VHA_PAGE_SIZE;
			s->pages[i] = f->free_pages[--f->nfree];
			page = f->pool + (size_t)s->pages[i] * VHA_PAGE_SIZE;
			if (op == VHA_FRONT_WRITE)
				memcpy(page, (const char *)buf + (size_t)i * VHA_PAGE_SIZE, chunk);
			segs[i].gref = f->pool_refs[s->pages[i]];
			segs[i].first_sect = 0;
			segs[i].last_sect = (uint8_t)((chunk + 511) / 512 - 1);
		}
		s->npages = npages + (indirect ? 1 : 0);
		break;
	}
	case VHA_FRONT_FLUSH:
		r->operation = BLKIF_OP_FLUSH_DISKCACHE;
		s->operation = r->operation;
		break;
	case VHA_FRONT_DISCARD: {
		blkif_request_discard_t *d = (blkif_request_discard_t *)raw;

		d->operation = BLKIF_OP_DISCARD;
		d->sector_number = offset / 512;
		d->nr_sectors = len / 512;
		s->operation = BLKIF_OP_DISCARD;
		break;
	}
	}
	f->inflight++;
	vha_blkif_front_queue(&f->ring, raw, sizeof(raw));
	if (vha_blkif_front_push(&f->ring))
		vha_evtchn_notify(f->ev, (vha_evtchn_port_t)f->port);
	return 0;
}

static int harvest(struct vha_front *f)
{
	struct blkif_response rsp;
	unsigned int budget = f->nslots;
	int done = 0, r;

	while (budget--) {
		struct req_slot *s;

		r = vha_blkif_front_take_response(&f->ring, &rsp);
		if (r < 0) {
			mark_broken(f, "backend produced more responses than requests");
			return -EIO;
		}
		if (r == 0)
			break;
		/* Never complete the wrong request: the id must name one outstanding, with its operation. */
		if (rsp.id >= f->nslots || !f->slots[rsp.id].busy || f->slots[rsp.id].operation != rsp.operation) {
			mark_broken(f, "response with an unknown id or the wrong operation");
			return -EIO;
		}
		s = &f->slots[rsp.id];
		complete(f, s, rsp.status == BLKIF_RSP_OKAY ? 0 : rsp.status == BLKIF_RSP_EOPNOTSUPP ? -EOPNOTSUPP : -EIO);
		done++;
	}
	return done;
}

int vha_front_poll(struct vha_front *f, int timeout_ms)
{
	struct pollfd pfd = { .fd = vha_evtchn_fd(f->ev), .events = POLLIN };
	int done, port;

	if (f->broken)
		return -EIO;
	for (;;) {
		while ((port = vha_evtchn_pending(f->ev)) >= 0)
			vha_evtchn_unmask(f->ev, (vha_evtchn_port_t)port);
		done = harvest(f);
		if (done != 0)
			return done;
		/* Re-arm rsp_event, then look once more before sleeping. */
		if (vha_blkif_front_final_check(&f->ring))
			continue;
		if (timeout_ms == 0 || f->inflight == 0)
			return 0;
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return 0;
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

static int sync_one(struct vha_front *f, enum vha_front_op op, uint64_t offset, uint64_t len)
{
	struct sync_state st = { .pending = 1 };
	int rc;

	while ((rc = vha_front_submit(f, op, offset, NULL, (size_t)len, sync_cb, &st)) == -EAGAIN)
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
	return f->info.flush ? sync_one(f, VHA_FRONT_FLUSH, 0, 0) : 0;
}

int vha_front_discard(struct vha_front *f, uint64_t offset, uint64_t len)
{
	if (!f->info.discard)
		return -EOPNOTSUPP;
	return sync_one(f, VHA_FRONT_DISCARD, offset, len);
}
