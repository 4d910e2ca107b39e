// SPDX-License-Identifier: MIT
/*
 * Devices and the xenbus handshake, on the main thread. One watch covers
 * backend/<type>/ (every device's backend dir, including the toolstack's and
 * the hotplug script's writes); one watch per device covers the frontend's
 * state node. Events only mark devices dirty, so a guest rewriting its nodes
 * in a loop costs one re-evaluation per pass, never an unbounded queue
 * (XSA-349).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xenstore.h>

#include "backend.h"
#include "vha/xenbus.h"

#define TOKEN_BACKEND "vha-backend"
#define TOKEN_RELEASE "vha-release"
#define TOKEN_FE_PREFIX "vha-fe:"

static void device_error(struct device *dev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void device_error(struct device *dev, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* It can quote guest-written nodes: no control characters in the log or the error node. */
	vha_sanitize(msg, msg, sizeof(msg));
	vha_log_ratelimited(&dev->rl, VHA_LOG_ERROR, "device %u/%u: %s", dev->fe_domid, dev->devid, msg);
	vha_xs_printf(dev->be->xs, XBT_NULL, dev->be_path, "error", "%s", msg);
}

static int be_state(struct device *dev)
{
	return vha_xenbus_read_state(dev->be->xs, XBT_NULL, dev->be_path);
}

static void set_state(struct device *dev, int state)
{
	int cur = be_state(dev);

	if (cur >= 0 && cur != state && !vha_xenbus_transition_allowed(VHA_XENBUS_BACKEND, cur, state))
		vha_debug("device %u/%u: %s -> %s is off the table", dev->fe_domid, dev->devid,
			  vha_xenbus_state_name(cur), vha_xenbus_state_name(state));
	vha_xenbus_write_state(dev->be->xs, XBT_NULL, dev->be_path, state);
}

/* The toolstack may pick a device's grant strategy with a "grant-strategy" node in its backend dir. */
static void read_strategy(struct device *dev)
{
	char *name = NULL;
	int s;

	dev->strategy = dev->be->cfg.strategy;
	if (vha_xs_read_str(dev->be->xs, XBT_NULL, dev->be_path, "grant-strategy", &name) < 0)
		return;
	s = grant_strategy_parse(name);
	if (s < 0)
		vha_log_ratelimited(&dev->rl, VHA_LOG_WARN, "device %u/%u: unknown grant-strategy '%s'; using %s",
				    dev->fe_domid, dev->devid, name, grant_strategy_name(dev->strategy));
	else
		dev->strategy = (enum grant_strategy)s;
	free(name);
}

static bool offers_persistent(const struct device *dev)
{
	return (dev->strategy == GS_PERSISTENT || dev->strategy == GS_ADAPTIVE) && dev->be->cfg.persistent_max > 0;
}

static void publish_features(struct device *dev)
{
	struct backend *be = dev->be;
	struct xs_handle *xs = be->xs;
	xs_transaction_t t;

	read_strategy(dev);
	for (int tries = 0; tries < 10; tries++) {
		t = xs_transaction_start(xs);
		if (t == XBT_NULL)
			return;
		vha_xs_write_uint(xs, t, dev->be_path, "max-ring-page-order", be->cfg.max_ring_order);
		vha_xs_write_uint(xs, t, dev->be_path, "multi-queue-max-queues", be->cfg.max_queues);
		vha_xs_write_uint(xs, t, dev->be_path, "feature-max-indirect-segments", be->cfg.max_indirect_segments);
		vha_xs_write_uint(xs, t, dev->be_path, "feature-flush-cache", 1);
		vha_xs_write_uint(xs, t, dev->be_path, "feature-barrier", 1);
		vha_xs_write_uint(xs, t, dev->be_path, "feature-persistent", offers_persistent(dev) ? 1 : 0);
		vha_xs_write_uint(xs, t, dev->be_path, "feature-discard", 0);
		if (xs_transaction_end(xs, t, false))
			return;
		if (errno != EAGAIN)
			return;
	}
}

/* Read the frontend's rings for queue q (dir: the frontend dir or its queue-N subdir). */
static int read_queue_nodes(struct device *dev, struct queue *q, const char *dir)
{
	struct xs_handle *xs = dev->be->xs;
	uint64_t order = 0, ref, port;
	char node[32];
	int rc;

	rc = vha_xs_read_uint(xs, XBT_NULL, dev->fe_path, "ring-page-order", 0, &order);
	if (rc < 0 || order > dev->be->cfg.max_ring_order) {
		device_error(dev, "bad ring-page-order");
		return -EINVAL;
	}
	q->nr_ring_pages = 1u << order;
	if (order == 0) {
		rc = vha_xs_read_uint(xs, XBT_NULL, dir, "ring-ref", UINT64_MAX, &ref);
		if (rc < 0 || ref > UINT32_MAX) {
			device_error(dev, "missing or bad %s/ring-ref", dir);
			return -EINVAL;
		}
		q->ring_refs[0] = (grant_ref_t)ref;
	} else {
		for (unsigned int i = 0; i < q->nr_ring_pages; i++) {
			snprintf(node, sizeof(node), "ring-ref%u", i);
			rc = vha_xs_read_uint(xs, XBT_NULL, dir, node, UINT64_MAX, &ref);
			if (rc < 0 || ref > UINT32_MAX) {
				device_error(dev, "missing or bad %s/%s", dir, node);
				return -EINVAL;
			}
			q->ring_refs[i] = (grant_ref_t)ref;
		}
	}
	rc = vha_xs_read_uint(xs, XBT_NULL, dir, "event-channel", UINT64_MAX, &port);
	if (rc < 0 || port == 0 || port > UINT32_MAX) {
		device_error(dev, "missing or bad %s/event-channel", dir);
		return -EINVAL;
	}
	q->remote_port = (uint32_t)port;
	return 0;
}

/*
 * Tear a device's queues and target down without waiting for a guest's I/O:
 * each worker is asked to stop and finishes what it has in flight (a long
 * discard or fsync included) on its own thread. Returns true once every
 * worker is gone and everything is released; false: call again later (the
 * worker wakes the main thread when it exits).
 */
static bool disconnect(struct device *dev)
{
	bool done = true;

	for (unsigned int i = 0; i < dev->nr_queues; i++) {
		queue_stop_begin(&dev->queues[i]);
		done &= queue_stopped(&dev->queues[i]);
	}
	if (!done)
		return false;
	for (unsigned int i = 0; i < dev->nr_queues; i++)
		queue_stop(&dev->queues[i]);
	dev->nr_queues = 0;
	target_close(&dev->target);
	__atomic_store_n(&dev->broken, 0, __ATOMIC_RELEASE);
	return true;
}

/* The same, waiting (shutdown only: nothing else is served any more). */
static void disconnect_wait(struct device *dev)
{
	for (unsigned int i = 0; i < dev->nr_queues; i++)
		queue_stop(&dev->queues[i]);
	disconnect(dev);
}

/*
 * Closing now; Closed once the workers are gone (as Linux blkback, which
 * answers -EBUSY meanwhile). The frontend's state at this point is kept, so
 * that only a move of its own brings InitWait back.
 */
static void close_device(struct device *dev, int fe_state)
{
	set_state(dev, XenbusStateClosing);
	dev->phase = DEV_CLOSED;
	dev->closed_fe_state = fe_state;
	if (disconnect(dev))
		set_state(dev, XenbusStateClosed);
	else
		dev->stopping = true;
}

/*
 * Open the target, map every queue's ring, bind its event channel and start
 * its worker. resume: the rings are live, left by an earlier backend
 * process; each queue must have a matching journal, whose ring positions are
 * restored and whose unanswered requests the worker runs first.
 */
static int connect_device(struct device *dev, bool resume, unsigned int *resumed)
{
	struct backend *be = dev->be;
	struct xs_handle *xs = be->xs;
	char *params = NULL, *mode = NULL, *protocol = NULL, *devtype = NULL;
	uint64_t nq = 1, fe_persistent = 0;
	int rc;

	rc = vha_xs_read_str(xs, XBT_NULL, dev->be_path, "params", &params);
	if (rc < 0 || !*params) {
		device_error(dev, "no params (target path) in the backend directory");
		rc = -EINVAL;
		goto out;
	}
	if (vha_xs_read_str(xs, XBT_NULL, dev->be_path, "mode", &mode) < 0)
		mode = NULL;
	dev->readonly = mode && mode[0] == 'r';
	if (vha_xs_read_str(xs, XBT_NULL, dev->be_path, "device-type", &devtype) == 0)
		dev->cdrom = strcmp(devtype, "cdrom") == 0;
	if (dev->cdrom)
		dev->readonly = true;
	if (vha_xs_read_str(xs, XBT_NULL, dev->fe_path, "protocol", &protocol) < 0)
		protocol = NULL;
	if (!vha_blkif_protocol_supported(protocol)) {
		device_error(dev, "unsupported protocol '%.40s'", protocol ? protocol : "(none)");
		rc = -EPROTONOSUPPORT;
		goto out;
	}
	rc = vha_xs_read_uint(xs, XBT_NULL, dev->fe_path, "multi-queue-num-queues", 1, &nq);
	if (rc < 0 || nq == 0 || nq > be->cfg.max_queues) {
		device_error(dev, "bad multi-queue-num-queues");
		rc = -EINVAL;
		goto out;
	}

	vha_xs_read_uint(xs, XBT_NULL, dev->fe_path, "feature-persistent", 0, &fe_persistent);
	dev->persistent = offers_persistent(dev) && fe_persistent == 1;
	__atomic_store_n(&dev->discard_unsupported, 0, __ATOMIC_RELAXED);

	rc = target_open(&dev->target, params, !dev->readonly, be->cfg.direct, !be->cfg.direct_maps);
	if (rc < 0) {
		device_error(dev, "cannot open %s: %s", params, strerror(-rc));
		goto out;
	}
	dev->limits = (struct vha_blkif_limits){
		.sectors = dev->target.size >> 9,
		.sector_size = dev->target.logical_block,
		.max_indirect_segments = be->cfg.max_indirect_segments,
		.readonly = dev->readonly,
		.flush = true,
		.barrier = true,
		.discard = dev->target.discard && !dev->readonly,
	};

	/* Every queue owns nothing until it is set up: a failure below undoes exactly what was done. */
	dev->nr_queues = (unsigned int)nq;
	for (unsigned int i = 0; i < dev->nr_queues; i++)
		queue_init(&dev->queues[i], dev, i);
	for (unsigned int i = 0; i < dev->nr_queues; i++) {
		struct queue *q = &dev->queues[i];
		char dir[256];

		if (nq == 1)
			snprintf(dir, sizeof(dir), "%s", dev->fe_path);
		else
			snprintf(dir, sizeof(dir), "%s/queue-%u", dev->fe_path, i);
		rc = read_queue_nodes(dev, q, dir);
		if (rc < 0)
			goto fail;
		/* The ring page is written by both sides: map it writable. */
		rc = vha_gnttab_map(be->gnttab, dev->fe_domid, q->nr_ring_pages, q->ring_refs, true, &q->ring_map);
		if (rc < 0) {
			device_error(dev, "cannot map ring of queue %u: %s", i, strerror(-rc));
			goto fail;
		}
		vha_blkif_back_init(&q->back, q->ring_map, q->nr_ring_pages);
		if (resume) {
			rc = queue_take_over(q);
			if (rc < 0) {
				vha_log_ratelimited(&dev->rl, VHA_LOG_INFO, "device %u/%u queue %u: cannot resume (%s)",
						    dev->fe_domid, dev->devid, i, journal_strerror(rc));
				goto fail;
			}
			*resumed += (unsigned int)rc;
		}
		rc = vha_evtchn_open(be->platform, &q->evtchn);
		if (rc < 0)
			goto fail;
		rc = vha_evtchn_bind_interdomain(q->evtchn, dev->fe_domid, q->remote_port);
		if (rc < 0) {
			device_error(dev, "cannot bind event channel %u: %s", q->remote_port, strerror(-rc));
			goto fail;
		}
		q->local_port = rc;
		rc = queue_start(q);
		if (rc < 0) {
			device_error(dev, "cannot start queue %u: %s", i, strerror(-rc));
			goto fail;
		}
	}

	dev->last_size = dev->target.size;
	vha_xs_write_uint(xs, XBT_NULL, dev->be_path, "sectors", dev->target.size >> 9);
	vha_xs_write_uint(xs, XBT_NULL, dev->be_path, "sector-size", dev->target.logical_block);
	vha_xs_write_uint(xs, XBT_NULL, dev->be_path, "physical-sector-size", dev->target.physical_block);
	vha_xs_write_uint(xs, XBT_NULL, dev->be_path, "info",
			  (dev->readonly ? VDISK_READONLY : 0) | (dev->cdrom ? VDISK_CDROM : 0));
	if (dev->limits.discard) {
		vha_xs_write_uint(xs, XBT_NULL, dev->be_path, "discard-granularity", 4096);
		vha_xs_write_uint(xs, XBT_NULL, dev->be_path, "discard-alignment", 0);
		vha_xs_write_uint(xs, XBT_NULL, dev->be_path, "discard-secure", dev->target.is_blockdev ? 1 : 0);
		vha_xs_write_uint(xs, XBT_NULL, dev->be_path, "feature-discard", 1);
	}
	/* A guest can connect and close in a loop: these lines share the device's rate limit. */
	vha_log_ratelimited(&dev->rl, VHA_LOG_INFO,
			    "device %u/%u connected: %s, %" PRIu64 " sectors, %u queue(s), ring order %u, "
			    "grants %s%s%s%s",
			    dev->fe_domid, dev->devid, params, dev->target.size >> 9, dev->nr_queues,
			    __builtin_ctz(dev->queues[0].nr_ring_pages), grant_strategy_name(dev->strategy),
			    dev->persistent ? " (persistent negotiated)" : "",
			    !dev->target.direct ? (be->cfg.direct ? ", buffered (the filesystem refuses O_DIRECT)" : "") :
			    dev->target.bfd >= 0 ? ", O_DIRECT (buffered on transient maps)" : ", O_DIRECT",
			    dev->readonly ? ", read-only" : "");
	rc = 0;
	/* fail: the caller closes the device (close_device), which undoes what was set up. */
fail:
out:
	free(params);
	free(mode);
	free(protocol);
	free(devtype);
	return rc;
}

/* Re-evaluate one device against what xenstore says now. Returns false if the device must go. */
static bool evaluate(struct device *dev)
{
	struct backend *be = dev->be;
	struct xs_handle *xs = be->xs;
	char *hotplug = NULL;
	uint64_t online = 1;
	int fe_state, state;
	bool fe_alive;

	state = be_state(dev);
	if (state == -ENOENT) {
		/* The toolstack removed the backend directory: gone once its workers are. */
		if (!dev->removed)
			vha_info("device %u/%u removed", dev->fe_domid, dev->devid);
		dev->removed = true;
		return !disconnect(dev);
	}
	if (dev->stopping) {
		/* Closing: nothing else happens to this device until its workers are gone. */
		if (!disconnect(dev))
			return true;
		dev->stopping = false;
		set_state(dev, XenbusStateClosed);
	}
	if (!dev->fe_path && vha_xs_read_str(xs, XBT_NULL, dev->be_path, "frontend", &dev->fe_path) < 0) {
		return true;    /* not fully written yet */
	}
	if (dev->fe_path && !dev->fe_watched) {
		char path[300];

		snprintf(path, sizeof(path), "%s/state", dev->fe_path);
		dev->fe_watched = xs_watch(xs, path, dev->fe_state_token);
	}
	vha_xs_read_uint(xs, XBT_NULL, dev->be_path, "online", 1, &online);
	fe_state = vha_xenbus_read_state(xs, XBT_NULL, dev->fe_path);
	fe_alive = xs_is_domain_introduced(xs, dev->fe_domid);

	if (__atomic_load_n(&dev->broken, __ATOMIC_ACQUIRE) && dev->phase == DEV_CONNECTED) {
		device_error(dev, "ring broken; device closed");
		close_device(dev, fe_state);
		return true;
	}
	/* Toolstack asks to close, the frontend died, or its directory vanished: tear down. */
	if (!fe_alive || fe_state == -ENOENT || online == 0 || state == XenbusStateClosing) {
		if (dev->phase == DEV_CONNECTED)
			vha_log_ratelimited(&dev->rl, VHA_LOG_INFO, "device %u/%u: %s; disconnecting", dev->fe_domid, dev->devid,
				 !fe_alive ? "frontend domain is gone" :
				 fe_state == -ENOENT ? "frontend directory removed" : "closing on request");
		if (state != XenbusStateClosed || dev->phase != DEV_CLOSED)
			close_device(dev, fe_state);
		return true;
	}

	if (__atomic_load_n(&dev->discard_unsupported, __ATOMIC_ACQUIRE) == 1 && dev->phase == DEV_CONNECTED) {
		/* The target cannot discard after all: withdraw the feature, as blkback does. */
		__atomic_store_n(&dev->discard_unsupported, 2, __ATOMIC_RELEASE);
		vha_xs_write_uint(xs, XBT_NULL, dev->be_path, "feature-discard", 0);
		vha_log_ratelimited(&dev->rl, VHA_LOG_INFO, "device %u/%u: target cannot discard; feature withdrawn",
				    dev->fe_domid, dev->devid);
	}

	switch (dev->phase) {
	case DEV_NEW:
		if (state == XenbusStateInitWait || state == XenbusStateInitialised || state == XenbusStateConnected ||
		    state == XenbusStateReconfiguring || state == XenbusStateReconfigured) {
			/*
			 * Left live by an earlier backend process (it was killed). Its
			 * journal says what was in flight (responses complete out of
			 * order, so the ring alone cannot): take the live rings over,
			 * and the frontend notices nothing. Without a usable journal,
			 * close; a frontend that reconnects (libvhafront does, and
			 * resubmits) gets fresh rings.
			 */
			unsigned int resumed = 0;

			if (state == XenbusStateConnected && fe_state == XenbusStateConnected && be->cfg.resume &&
			    vha_xs_read_str(xs, XBT_NULL, dev->be_path, "hotplug-status", &hotplug) == 0 &&
			    strcmp(hotplug, "connected") == 0) {
				read_strategy(dev);
				if (connect_device(dev, true, &resumed) == 0) {
					vha_log_ratelimited(&dev->rl, VHA_LOG_INFO,
							    "device %u/%u: taken over from an earlier backend on its live "
							    "rings; %u unanswered request(s) run again",
							    dev->fe_domid, dev->devid, resumed);
					dev->phase = DEV_CONNECTED;
					break;
				}
			}
			vha_info("device %u/%u: taking over from an earlier backend; asking the frontend to reconnect",
				 dev->fe_domid, dev->devid);
			close_device(dev, fe_state);
			dev->dirty = true;
			break;
		}
		publish_features(dev);
		set_state(dev, XenbusStateInitWait);
		dev->phase = DEV_INITWAIT;
		/* fall through */
	case DEV_INITWAIT:
		if (vha_xs_read_str(xs, XBT_NULL, dev->be_path, "hotplug-status", &hotplug) < 0)
			break;
		if (strcmp(hotplug, "connected") != 0) {
			if (strcmp(hotplug, "error") == 0)
				device_error(dev, "hotplug script reported an error");
			break;
		}
		if (fe_state == XenbusStateInitialised || fe_state == XenbusStateConnected) {
			if (connect_device(dev, false, NULL) == 0) {
				dev->phase = DEV_CONNECTED;
				set_state(dev, XenbusStateConnected);
			} else {
				close_device(dev, fe_state);
			}
		}
		break;
	case DEV_CONNECTED:
		/*
		 * Closing/Closed is the orderly way out; Initialising while we are
		 * connected means the frontend started over without closing (its
		 * process died, say): drop the old rings, then offer InitWait again.
		 */
		if (fe_state == XenbusStateClosing || fe_state == XenbusStateClosed ||
		    fe_state == XenbusStateInitialising) {
			close_device(dev, fe_state);
			dev->dirty = fe_state == XenbusStateInitialising;
			vha_log_ratelimited(&dev->rl, VHA_LOG_INFO, "device %u/%u: frontend %s", dev->fe_domid,
					    dev->devid, dev->dirty ? "restarted; reconnecting" : "closed");
		}
		break;
	case DEV_CLOSED:
		/*
		 * A frontend coming back gets InitWait again and reconnects with new
		 * rings. One that is still Initialised from an attempt that failed
		 * must move first: retrying its nodes as they are would fail again,
		 * in a loop, and wipe the error node it should read.
		 */
		if (fe_state == XenbusStateInitialising ||
		    (fe_state == XenbusStateInitialised && dev->closed_fe_state != XenbusStateInitialised)) {
			vha_xs_rm(xs, XBT_NULL, dev->be_path, "error");
			publish_features(dev);
			set_state(dev, XenbusStateInitWait);
			dev->phase = DEV_INITWAIT;
			dev->dirty = true;
		}
		break;
	}
	free(hotplug);
	return true;
}

static void device_free(struct backend *be, unsigned int idx)
{
	struct device *dev = be->devices[idx];

	disconnect_wait(dev);
	if (dev->fe_watched) {
		char path[300];

		snprintf(path, sizeof(path), "%s/state", dev->fe_path);
		xs_unwatch(be->xs, path, dev->fe_state_token);
	}
	free(dev->fe_path);
	free(dev);
	be->devices[idx] = be->devices[--be->nr_devices];
}

static struct device *find_device(struct backend *be, vha_domid_t fe, unsigned int devid)
{
	for (unsigned int i = 0; i < be->nr_devices; i++)
		if (be->devices[i]->fe_domid == fe && be->devices[i]->devid == devid)
			return be->devices[i];
	return NULL;
}

static struct device *add_device(struct backend *be, vha_domid_t fe, unsigned int devid)
{
	struct device *dev;

	if (be->nr_devices == BACKEND_MAX_DEVICES) {
		vha_warn("device limit (%u) reached; ignoring %u/%u", BACKEND_MAX_DEVICES, fe, devid);
		return NULL;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return NULL;
	dev->be = be;
	dev->fe_domid = fe;
	dev->devid = devid;
	dev->target.fd = -1;
	dev->target.bfd = -1;
	dev->rl = (struct vha_ratelimit)VHA_RATELIMIT_INIT(5000, 5);
	snprintf(dev->be_path, sizeof(dev->be_path), "%s/%u/%u", be->base_path, fe, devid);
	snprintf(dev->fe_state_token, sizeof(dev->fe_state_token), TOKEN_FE_PREFIX "%u/%u", fe, devid);
	dev->phase = DEV_NEW;
	dev->dirty = true;
	be->devices[be->nr_devices++] = dev;
	vha_info("device %u/%u found", fe, devid);
	return dev;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return false;
	*out = v;
	return true;
}

/* Find new devices under backend/<type>/<fe>/<devid>. */
static void scan(struct backend *be)
{
	unsigned int nfe = 0, ndev;
	char **fes = xs_directory(be->xs, XBT_NULL, be->base_path, &nfe), **devs;
	unsigned long fe, devid;
	char path[160];

	for (unsigned int i = 0; fes && i < nfe; i++) {
		if (!parse_uint(fes[i], 0x7fef, &fe))
			continue;
		snprintf(path, sizeof(path), "%s/%lu", be->base_path, fe);
		ndev = 0;
		devs = xs_directory(be->xs, XBT_NULL, path, &ndev);
		for (unsigned int j = 0; devs && j < ndev; j++) {
			struct device *dev;

			if (!parse_uint(devs[j], UINT32_MAX, &devid))
				continue;
			dev = find_device(be, (vha_domid_t)fe, (unsigned int)devid);
			if (!dev)
				add_device(be, (vha_domid_t)fe, (unsigned int)devid);
		}
		free(devs);
	}
	free(fes);
}

/* Mark the device a watch path belongs to (or all of them) dirty. */
static void mark_dirty(struct backend *be, const char *path, const char *token)
{
	unsigned long fe, devid;
	size_t n = strlen(be->base_path);

	if (strncmp(token, TOKEN_FE_PREFIX, strlen(TOKEN_FE_PREFIX)) == 0) {
		if (sscanf(token + strlen(TOKEN_FE_PREFIX), "%lu/%lu", &fe, &devid) == 2) {
			struct device *dev = find_device(be, (vha_domid_t)fe, (unsigned int)devid);

			if (dev)
				dev->dirty = true;
		}
		return;
	}
	if (strcmp(token, TOKEN_BACKEND) == 0 && strncmp(path, be->base_path, n) == 0 &&
	    sscanf(path + n, "/%lu/%lu", &fe, &devid) == 2) {
		struct device *dev = find_device(be, (vha_domid_t)fe, (unsigned int)devid);

		if (dev) {
			dev->dirty = true;
			return;
		}
	}
	/* New device, removal, or a domain died: look at everything. */
	scan(be);
	for (unsigned int i = 0; i < be->nr_devices; i++)
		be->devices[i]->dirty = true;
}

void backend_process(struct backend *be)
{
	char **ev;
	uint64_t junk;
	/* Bound the work per pass; the watch fd stays readable if more is queued. */
	unsigned int budget = 1024;

	while (budget-- && (ev = xs_check_watch(be->xs)) != NULL) {
		mark_dirty(be, ev[XS_WATCH_PATH], ev[XS_WATCH_TOKEN]);
		free(ev);
	}
	if (read(be->wake_fd, &junk, sizeof(junk)) > 0)
		for (unsigned int i = 0; i < be->nr_devices; i++)
			if (be->devices[i]->stopping || be->devices[i]->removed ||
			    __atomic_load_n(&be->devices[i]->broken, __ATOMIC_ACQUIRE) ||
			    __atomic_load_n(&be->devices[i]->discard_unsupported, __ATOMIC_ACQUIRE) == 1)
				be->devices[i]->dirty = true;
	for (unsigned int i = 0; i < be->nr_devices;) {
		struct device *dev = be->devices[i];

		if (!dev->dirty) {
			i++;
			continue;
		}
		dev->dirty = false;
		if (!evaluate(dev)) {
			device_free(be, i);
			continue;
		}
		if (!dev->dirty)
			i++;
	}
}

int backend_init(struct backend *be, const struct backend_config *cfg, struct vha_platform *p)
{
	int rc;

	be->cfg = *cfg;
	be->platform = p;
	rc = vha_gnttab_open(p, &be->gnttab);
	if (rc < 0) {
		vha_err("cannot open grant tables: %s", strerror(-rc));
		return rc;
	}
	be->xs = vha_platform_xs_open(p);
	if (!be->xs) {
		rc = -errno;
		vha_err("cannot connect to xenstore: %s", strerror(errno));
		return rc;
	}
	snprintf(be->base_path, sizeof(be->base_path), "/local/domain/%u/backend/%s", vha_platform_domid(p),
		 cfg->type);
	if (!xs_watch(be->xs, be->base_path, TOKEN_BACKEND) || !xs_watch(be->xs, "@releaseDomain", TOKEN_RELEASE)) {
		rc = -errno;
		vha_err("cannot watch %s: %s", be->base_path, strerror(errno));
		return rc;
	}
	vha_info("serving %s (platform %s, domain %u)", be->base_path, vha_platform_kind(p), vha_platform_domid(p));
	return 0;
}

void backend_shutdown(struct backend *be)
{
	while (be->nr_devices) {
		struct device *dev = be->devices[0];

		if (dev->phase == DEV_CONNECTED || dev->stopping) {
			set_state(dev, XenbusStateClosing);
			disconnect_wait(dev);
			set_state(dev, XenbusStateClosed);
		}
		device_free(be, 0);
	}
}

/*
 * Online resize, as Linux blkback does it: write the new "sectors" and
 * rewrite "state" (Connected) in one transaction, so a frontend's watch on
 * the backend state fires and it reads the new size.
 */
static void publish_size(struct device *dev, uint64_t size)
{
	struct xs_handle *xs = dev->be->xs;

	for (int tries = 0; tries < 10; tries++) {
		xs_transaction_t t = xs_transaction_start(xs);

		if (t == XBT_NULL)
			return;
		vha_xs_write_uint(xs, t, dev->be_path, "sectors", size >> 9);
		vha_xenbus_write_state(xs, t, dev->be_path, XenbusStateConnected);
		if (xs_transaction_end(xs, t, false) || errno != EAGAIN)
			return;
	}
}

void backend_check_sizes(struct backend *be)
{
	for (unsigned int i = 0; i < be->nr_devices; i++) {
		struct device *dev = be->devices[i];
		int64_t size;

		if (dev->phase != DEV_CONNECTED)
			continue;
		size = target_size(&dev->target);
		if (size < 0 || (uint64_t)size == dev->last_size)
			continue;
		vha_log_ratelimited(&dev->rl, VHA_LOG_INFO, "device %u/%u: target size changed from %" PRIu64
				    " to %" PRId64 " sectors", dev->fe_domid, dev->devid, dev->last_size >> 9, size >> 9);
		dev->last_size = (uint64_t)size;
		dev->target.size = (uint64_t)size;
		/* Workers validate against this; a request in flight finishes against the old size. */
		__atomic_store_n(&dev->limits.sectors, (uint64_t)size >> 9, __ATOMIC_RELEASE);
		publish_size(dev, (uint64_t)size);
	}
}

int backend_write_stats(struct backend *be)
{
	char path[4096], tmp[4200];
	FILE *f;

	if (!be->cfg.state_dir)
		return 0;
	snprintf(path, sizeof(path), "%s/stats.json", be->cfg.state_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "{\"devices\": [");
	for (unsigned int i = 0; i < be->nr_devices; i++) {
		struct device *dev = be->devices[i];

		fprintf(f, "%s\n {\"frontend\": %u, \"devid\": %u, \"connected\": %s, \"grant_strategy\": \"%s\", "
			"\"persistent\": %s, \"o_direct\": %s, \"sectors\": %" PRIu64 ", \"queues\": [", i ? "," : "",
			dev->fe_domid, dev->devid, dev->phase == DEV_CONNECTED ? "true" : "false",
			grant_strategy_name(dev->strategy), dev->persistent ? "true" : "false",
			dev->target.direct ? "true" : "false", dev->last_size >> 9);
		for (unsigned int j = 0; j < dev->nr_queues; j++) {
			const struct queue *q = &dev->queues[j];
			const struct queue_stats *s = &q->stats;
			const struct grant_cache *c = &q->cache;
			uint64_t lookups = c->hits + c->misses;

			fprintf(f,
				"%s\n  {\"queue\": %u, \"ring_pages\": %u, \"requests\": %" PRIu64 ", \"reads\": %" PRIu64
				", \"writes\": %" PRIu64 ", \"flushes\": %" PRIu64 ", \"barriers\": %" PRIu64
				", \"discards\": %" PRIu64 ", \"indirect\": %" PRIu64
				", \"bytes_read\": %" PRIu64 ", \"bytes_written\": %" PRIu64 ", \"errors\": %" PRIu64
				", \"rejected\": %" PRIu64 ", \"notifies_sent\": %" PRIu64
				", \"events_received\": %" PRIu64 ", \"events_spurious\": %" PRIu64
				", \"events_delayed\": %" PRIu64 ", \"strategy_map\": %" PRIu64
				", \"strategy_persistent\": %" PRIu64 ", \"strategy_copy\": %" PRIu64
				", \"resumed\": %" PRIu64 ", \"buffered\": %" PRIu64
				", \"grant_cache\": {\"size\": %u, \"capacity\": %u, \"hits\": %" PRIu64
				", \"misses\": %" PRIu64 ", \"evictions\": %" PRIu64 ", \"hit_rate\": %.4f}}",
				j ? "," : "", j, q->nr_ring_pages, s->requests, s->reads, s->writes, s->flushes,
				s->barriers, s->discards, s->indirect, s->bytes_read, s->bytes_written, s->errors,
				s->rejected, s->notifies_sent, s->events_received, s->events_spurious, s->events_delayed,
				s->strategy[GS_MAP],
				s->strategy[GS_PERSISTENT], s->strategy[GS_COPY], s->resumed, s->buffered, c->used, c->capacity, c->hits,
				c->misses, c->evictions, lookups ? (double)c->hits / (double)lookups : 0.0);
		}
		fprintf(f, "]}");
	}
	fprintf(f, "\n]}\n");
	if (fclose(f) != 0)
		return -errno;
	return rename(tmp, path) == 0 ? 0 : -errno;
}
