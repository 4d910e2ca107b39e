// SPDX-License-Identifier: MIT
/*
 * libvhafront: the xenbus side. The handshake at open and on every
 * reconnect, close, and following the backend's state afterwards (resize,
 * restart, removal).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenstore.h>

#include "front_internal.h"
#include "vha/xenbus.h"

/* Without a watch, wait_backend looks at the backend's state this often. */
#define WAIT_POLL_US 5000

/* Take queued watch events; one of the follow watch is remembered for front_follow_backend. */
static void take_watch_events(struct vha_front *f)
{
	char **ev;

	while ((ev = xs_check_watch(f->xs)) != NULL) {
		if (strcmp(ev[XS_WATCH_TOKEN], WATCH_TOKEN) == 0)
			f->follow_pending = true;
		free(ev);
	}
}

/*
 * Wait until the backend's state is want1 or want2, up to timeout_s. A watch
 * on the node wakes us on each change (registered before the first read, so
 * no change is missed); if the watch cannot be set, look every WAIT_POLL_US.
 * Returns the state or -ETIMEDOUT.
 */
static int wait_backend(struct vha_front *f, int want1, int want2, double timeout_s)
{
	double end = now_s() + timeout_s, left;
	char path[FRONT_XS_PATH_MAX];
	bool watched;
	int st, fd;

	snprintf(path, sizeof(path), "%s/state", f->be_dir);
	watched = xs_watch(f->xs, path, WAIT_TOKEN);
	fd = watched ? xs_fileno(f->xs) : -1;
	for (;;) {
		st = vha_xenbus_read_state(f->xs, XBT_NULL, f->be_dir);
		if (st == want1 || st == want2)
			break;
		left = end - now_s();
		if (left < 0) {
			st = -ETIMEDOUT;
			break;
		}
		if (fd >= 0) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };

			poll(&pfd, 1, (int)(left * 1000.0) + 1);
			take_watch_events(f);
		} else {
			usleep(WAIT_POLL_US);
		}
	}
	if (watched) {
		xs_unwatch(f->xs, path, WAIT_TOKEN);
		take_watch_events(f);
	}
	return st;
}

/*
 * The state this frontend's node holds now, in t. A node that holds no
 * state (missing, or garbage) counts as Unknown: the table then leads only
 * to Closing and Closed.
 */
static int front_state(struct vha_front *f, xs_transaction_t t)
{
	int st = vha_xenbus_read_state(f->xs, t, f->dir);

	return st >= 0 ? st : XenbusStateUnknown;
}

/*
 * Move this frontend's own state from `from` to `to` through the xenbus
 * table, in t (STYLE.md rule 7). A move off the table is not made: the
 * device goes to Closing with an error node that names the refused move
 * (vha_xenbus_fail, in the same t), and -EPROTO is returned. Other errors
 * are -errno from xenstore. Logs the refusal.
 */
static int front_switch_state(struct vha_front *f, xs_transaction_t t, int from, int to)
{
	char why[VHA_XENBUS_ERROR_MAX + 1];
	int rc;

	rc = vha_xenbus_switch_state(f->xs, t, f->dir, VHA_XENBUS_FRONTEND, from, to);
	if (rc != -EPERM)
		return rc;
	snprintf(why, sizeof(why), "frontend state %s -> %s is not a xenbus transition; closing",
		 vha_xenbus_state_name(from), vha_xenbus_state_name(to));
	vha_err("device %s: %s", f->dir, why);
	rc = vha_xenbus_fail(f->xs, t, f->dir, VHA_XENBUS_FRONTEND, why);
	return rc < 0 ? rc : -EPROTO;
}

/* front_switch_state from whatever the node holds now (outside a transaction). */
static int front_set_state(struct vha_front *f, int to)
{
	return front_switch_state(f, XBT_NULL, front_state(f, XBT_NULL), to);
}

/*
 * Start (over) at Initialising. The table leads there only from Closed: a
 * frontend still Connected (its backend restarted), Initialised (an attempt
 * that failed) or in whatever state a process that died left behind closes
 * first. Both moves happen in one transaction, so the backend sees a single
 * change to Initialising, as it always has. 0, -EPROTO (refused, see
 * front_switch_state) or -errno.
 */
static int front_start_over(struct vha_front *f)
{
	xs_transaction_t t;
	int rc, st;

	for (int tries = 0;; tries++) {
		t = xs_transaction_start(f->xs);
		if (t == XBT_NULL)
			return -errno;
		st = front_state(f, t);
		rc = 0;
		if (st != XenbusStateInitialising && st != XenbusStateClosed)
			rc = front_switch_state(f, t, st, XenbusStateClosed);
		if (rc == 0 && st != XenbusStateInitialising)
			rc = front_switch_state(f, t, XenbusStateClosed, XenbusStateInitialising);
		/* A refusal wrote the error node and Closing in t: keep them. */
		if (rc < 0 && rc != -EPROTO) {
			xs_transaction_end(f->xs, t, true);
			return rc;
		}
		if (xs_transaction_end(f->xs, t, false))
			return rc;
		if (errno != EAGAIN || tries > 50)
			return -errno;
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
		char path[FRONT_XS_PATH_MAX];

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

/*
 * Write the rings of every queue and Initialised, in one transaction. 0,
 * -EPROTO when the table refuses Initialised (no rings published), -errno.
 */
static int publish_rings(struct vha_front *f, unsigned int order)
{
	xs_transaction_t t;
	int rc;

	for (int tries = 0;; tries++) {
		t = xs_transaction_start(f->xs);
		if (t == XBT_NULL)
			return -errno;
		rc = front_switch_state(f, t, front_state(f, t), XenbusStateInitialised);
		if (rc == -EPROTO) {
			/* Refused: publish no rings, only the error node and Closing. */
			if (xs_transaction_end(f->xs, t, false) || errno != EAGAIN || tries > 50)
				return rc;
			continue;
		}
		if (rc < 0) {
			xs_transaction_end(f->xs, t, true);
			return rc;
		}
		if (order > 0)
			vha_xs_write_uint(f->xs, t, f->dir, "ring-page-order", order);
		else
			vha_xs_rm(f->xs, t, f->dir, "ring-page-order");
		if (f->info.queues > 1)
			vha_xs_write_uint(f->xs, t, f->dir, "multi-queue-num-queues", f->info.queues);
		else
			vha_xs_rm(f->xs, t, f->dir, "multi-queue-num-queues");
		for (unsigned int i = 0; i < f->info.queues; i++) {
			char dir[FRONT_XS_PATH_MAX], node[FRONT_XS_NODE_MAX];

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

	rc = front_start_over(f);
	if (rc < 0)
		return rc;
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
	return front_set_state(f, XenbusStateConnected);
}

int vha_front_open(struct vha_platform *p, unsigned int devid, const struct vha_front_opts *opts,
		   struct vha_front **out)
{
	struct vha_front_opts dflt = { 0 };
	struct vha_front *f;
	uint64_t beid;
	char path[FRONT_XS_PATH_MAX];
	int rc;

	*out = NULL;
	if (!opts)
		opts = &dflt;
	if (opts->queues > MAX_QUEUES) {
		vha_err("%u queues asked for; at most %u", opts->queues, MAX_QUEUES);
		return -EINVAL;
	}
	if (opts->untrusted_backend && opts->buffer_pages) {
		/* Zero-copy buffers are pool pages the backend keeps mapped: exactly what this mode rules out. */
		vha_err("no zero-copy buffers with an untrusted backend (%u buffer pages asked for)",
			opts->buffer_pages);
		return -EINVAL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->p = p;
	f->spurious_rl = (struct vha_ratelimit)VHA_RATELIMIT_INIT(10000, 1);
	f->timeout_ms = opts->timeout_ms ? opts->timeout_ms : 10000;
	f->want_order = opts->ring_order;
	f->poll_us = opts->poll_us > 1000 ? 1000 : opts->poll_us;
	f->want_queues = opts->queues ? opts->queues : 1;
	f->no_indirect = opts->no_indirect;
	/* Persistent grants are exactly what an untrusted backend must not get (XSA-403). */
	f->untrusted = opts->untrusted_backend;
	f->no_persistent = opts->no_persistent || opts->untrusted_backend;
	snprintf(f->dir, sizeof(f->dir), "device/vbd/%u", devid);
	f->xs = vha_platform_xs_open(p);
	if (!f->xs) {
		rc = -errno;
		vha_err("cannot connect to xenstore: %s", strerror(errno));
		goto fail;
	}
	if (vha_xs_read_str(f->xs, XBT_NULL, f->dir, "backend", &f->be_dir) < 0 ||
	    vha_xs_read_uint(f->xs, XBT_NULL, f->dir, "backend-id", UINT64_MAX, &beid) < 0 || beid > VHA_DOMID_MAX) {
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
	rc = front_pool_share(f, opts);
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
		front_set_state(f, XenbusStateClosed);
	release(f);
	return rc;
}

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
	front_set_state(f, XenbusStateClosing);
	if (wait_backend(f, XenbusStateClosed, XenbusStateClosing, f->timeout_ms / 1000.0) < 0)
		vha_warn("backend %s did not close; ending the grants anyway", f->be_dir);
	else
		wait_backend(f, XenbusStateClosed, XenbusStateClosed, 1);
	front_set_state(f, XenbusStateClosed);
	if (f->inflight)
		vha_warn("device %s: %u request(s) never answered; failing them", f->dir, f->inflight);
	front_fail_outstanding(f);
	release(f);
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

	if (front_harvest_all(f) < 0)
		return -EIO;
	vha_info("device %s: backend went away; reconnecting (%u request(s) in flight)", f->dir, f->inflight);
	/* A backend that restarts again meanwhile closes under us: start over, within the timeout. */
	for (double end = now_s() + f->timeout_ms / 1000.0;;) {
		teardown_rings(f);
		rc = handshake(f, true);
		if (rc == 0)
			break;
		if (rc != -ECONNRESET || now_s() > end) {
			front_mark_broken(f, "reconnect to the backend failed");
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
int front_follow_backend(struct vha_front *f)
{
	char **ev;
	bool fired = false;
	uint64_t online = 1, sectors;
	int st;

	/* Only our follow watch counts; a late event of wait_backend's is not news. */
	fired = f->follow_pending;
	f->follow_pending = false;
	while ((ev = xs_check_watch(f->xs)) != NULL) {
		fired |= strcmp(ev[XS_WATCH_TOKEN], WATCH_TOKEN) == 0;
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
		front_mark_broken(f, "the backend closed the device");
		return -EIO;
	}
	return reconnect(f);
}
