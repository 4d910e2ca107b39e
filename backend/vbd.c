// SPDX-License-Identifier: MIT
/*
 * blkif (vbd): what is specific to block devices in the device lifecycle.
 * Feature negotiation, the connect (target, geometry, each queue's ring and
 * event channel), discard withdrawal and online resize, behind the
 * device_ops table that device.c drives. Main thread only.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "backend.h"
#include "vha/xenbus.h"

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

static void vbd_publish_features(struct device *dev)
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
 * Open the target, map every queue's ring, bind its event channel and start
 * its worker. resume: the rings are live, left by an earlier backend
 * process; each queue must have a matching journal, whose ring positions are
 * restored and whose unanswered requests the worker runs first.
 */
/* Grants the largest request this device accepts maps (direct or indirect). */
static unsigned int request_grants_max(const struct device *dev)
{
	unsigned int n = dev->be->cfg.max_indirect_segments;

	return n > BLKIF_MAX_SEGMENTS_PER_REQUEST ? n : BLKIF_MAX_SEGMENTS_PER_REQUEST;
}

/*
 * Reserve the device's share of the backend's budgets (budget.h): what is
 * configured per device, or less when less is left, and at least one
 * largest request per queue, else the connect is refused. A takeover asks
 * for exactly the slots its journals were written for.
 */
static int reserve_budget(struct device *dev, unsigned int nq, bool resume)
{
	struct backend *be = dev->be;
	const struct backend_config *cfg = &be->cfg;
	struct budget_ask ask = {
		.queues = nq,
		.grants_want = cfg->device_max_grants,
		.grants_floor = (uint64_t)nq * request_grants_max(dev),
		.slots_want = cfg->device_max_inflight,
		.copy_want = cfg->copy_buffer_max,
		.slot_bytes = queue_slot_bytes(),
		.queue_bytes = queue_fixed_bytes(dev->persistent ? cfg->persistent_max : 0) + dev->target.queue_bytes,
	};
	enum budget_kind k;

	ask.resume = resume;
	for (unsigned int i = 0; resume && i < nq; i++) {
		struct journal_rings share;
		int rc = queue_journal_share(dev, i, &share);

		if (rc == 0 && (share.grants < request_grants_max(dev) || share.nr_slots < 1))
			rc = -EPROTO;   /* not a share this process could have given */
		if (rc < 0) {
			vha_log_ratelimited(&dev->rl, VHA_LOG_INFO, "device %u/%u queue %u: cannot resume (%s)",
					    dev->fe_domid, dev->devid, i, journal_strerror(rc));
			return rc;
		}
		ask.resume_amount[BUDGET_GRANTS] += share.grants;
		ask.resume_amount[BUDGET_INFLIGHT] += share.nr_slots;
		ask.resume_amount[BUDGET_COPY] += share.copy_bytes;
	}
	if (budget_reserve(&be->pool, &ask, &dev->budget, &k) < 0) {
		device_error(dev, "%s budget exhausted: %" PRIu64 " of %" PRIu64 " left, too few for %u queue(s)",
			     k == BUDGET_GRANTS ? "grant" : budget_name(k), be->pool.total[k] - be->pool.reserved[k],
			     be->pool.total[k], nq);
		return -ENOSPC;
	}
	return 0;
}

/* Queue q's share of the device's budgets: an even split, or on a takeover what its journal says it had. */
static void share_budget(struct device *dev, struct queue *q, bool resume)
{
	const struct backend_config *cfg = &dev->be->cfg;
	const uint64_t *b = dev->budget.amount;
	unsigned int grants = (unsigned int)(b[BUDGET_GRANTS] / dev->nr_queues);
	unsigned int inflight = (unsigned int)(b[BUDGET_INFLIGHT] / dev->nr_queues);
	size_t copy = b[BUDGET_COPY] / dev->nr_queues;
	unsigned int ring = vha_blkif_ring_size(q->nr_ring_pages);
	struct journal_rings had;

	/* Read at reserve_budget too; the state directory is ours (locked), so it says the same. */
	if (resume && queue_journal_share(dev, q->index, &had) == 0) {
		grants = had.grants;
		inflight = had.nr_slots;
		copy = had.copy_bytes;
	}
	q->request_grants_max = request_grants_max(dev);
	/* The cache may hold up to half (what is left always maps one largest request). */
	q->cache_budget = cfg->persistent_max < (grants - q->request_grants_max) / 2 ? cfg->persistent_max :
			  (grants - q->request_grants_max) / 2;
	q->map_budget = grants - q->cache_budget;
	q->nr_slots = inflight < 1 ? 1 : inflight > ring ? ring : inflight;
	q->copy_budget = copy;
	q->bytes_budget = cfg->device_max_inflight_bytes / dev->nr_queues;
}

/* A label for stats.json and the metrics: printable ASCII only (both must be valid UTF-8), cut to fit. */
static void label_copy(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < size; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

/* The device's job thread: open the target the main thread parsed (dev->spec). */
static int open_job(struct device *dev)
{
	return engine_open(&dev->target, dev->spec, dev->open_writable);
}

static int close_job(struct device *dev)
{
	engine_close(&dev->target);
	return 0;
}

/*
 * Read what the toolstack says the device serves (params, mode,
 * device-type, dev) and start opening it on the device's job thread: an
 * rbd or nbd target can take seconds to answer, or never answer, and the
 * main thread serves every other guest meanwhile. 0: the target is open;
 * -EINPROGRESS: it is opening (the main thread is woken when it is done);
 * else -errno, with an error node written.
 */
static int target_ready(struct device *dev)
{
	struct backend *be = dev->be;
	struct xs_handle *xs = be->xs;
	char *params = NULL, *mode = NULL, *devtype = NULL, *vdev = NULL;
	char why[160];
	int rc;

	switch (dev->target_state) {
	case TARGET_OPEN:
		return 0;
	case TARGET_CLOSING:            /* disconnect finishes first (device.c never connects while stopping) */
		return -EINPROGRESS;
	case TARGET_OPENING:
		rc = device_job_collect(dev);
		if (rc == -EINPROGRESS)
			return rc;
		free(dev->spec);
		dev->spec = NULL;
		if (rc < 0) {
			dev->target_state = TARGET_CLOSED;
			device_error(dev, "cannot open %s: %s", dev->target_label,
				     dev->target.why[0] ? dev->target.why : strerror(-rc));
			return rc;
		}
		dev->target_state = TARGET_OPEN;
		if (dev->target.readonly)
			dev->readonly = true;   /* what the engine can only read (an rbd snapshot) */
		return 0;
	case TARGET_CLOSED:
		break;
	}

	rc = vha_xs_read_str(xs, XBT_NULL, dev->be_path, "params", &params);
	if (rc < 0 || !*params) {
		device_error(dev, "no params (target path) in the backend directory");
		rc = -EINVAL;
		goto out;
	}
	/* What stats.json and the metrics call the device: its target and the guest's name for it. */
	label_copy(dev->target_label, sizeof(dev->target_label), params);
	if (vha_xs_read_str(xs, XBT_NULL, dev->be_path, "dev", &vdev) == 0)
		label_copy(dev->vdev, sizeof(dev->vdev), vdev);
	if (vha_xs_read_str(xs, XBT_NULL, dev->be_path, "mode", &mode) < 0)
		mode = NULL;
	dev->readonly = mode && mode[0] == 'r';
	if (vha_xs_read_str(xs, XBT_NULL, dev->be_path, "device-type", &devtype) == 0)
		dev->cdrom = strcmp(devtype, "cdrom") == 0;
	if (dev->cdrom)
		dev->readonly = true;

	/* params is the toolstack's (or, in some setups, the guest's): parsed as hostile input. */
	dev->spec = malloc(sizeof(*dev->spec));
	if (!dev->spec) {
		rc = -ENOMEM;
		goto out;
	}
	rc = vha_target_parse(params, dev->spec, why, sizeof(why));
	if (rc < 0) {
		device_error(dev, "bad target in params: %s", why);
		goto out;
	}
	dev->target.direct_wanted = be->cfg.direct;
	dev->target.buffered_twin = !be->cfg.direct_maps;
	dev->target.timeout_ms = be->cfg.nbd_timeout_ms;
	dev->open_writable = !dev->readonly;
	rc = device_job_start(dev, open_job);
	if (rc < 0) {
		device_error(dev, "cannot open %s: no thread to open it on: %s", dev->target_label, strerror(-rc));
		goto out;
	}
	dev->target_state = TARGET_OPENING;
	rc = -EINPROGRESS;
out:
	if (rc != -EINPROGRESS) {
		free(dev->spec);
		dev->spec = NULL;
	}
	free(params);
	free(mode);
	free(devtype);
	free(vdev);
	return rc;
}

/* The open job ended while the frontend was not ready to connect: settle the target's state now. */
static int vbd_job_done(struct device *dev)
{
	int rc;

	if (dev->target_state == TARGET_CLOSING) {
		/* Defensive: device.c connects only once disconnect finished, which collects it. */
		if (device_job_collect(dev) != -EINPROGRESS)
			dev->target_state = TARGET_CLOSED;
		return 0;
	}
	if (dev->target_state != TARGET_OPENING)
		return 0;
	rc = target_ready(dev);
	return rc == -EINPROGRESS ? 0 : rc;
}

static int vbd_connect(struct device *dev, bool resume, unsigned int *resumed)
{
	struct backend *be = dev->be;
	struct xs_handle *xs = be->xs;
	char *protocol = NULL;
	uint64_t nq = 1, fe_persistent = 0;
	int rc;

	rc = target_ready(dev);
	if (rc < 0)
		return rc;
	if (resume)
		read_strategy(dev);     /* publish_features read it for a new connection */
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

	dev->limits = (struct vha_blkif_limits){
		.sectors = dev->target.size >> 9,
		.sector_size = dev->target.logical_block,
		.max_indirect_segments = be->cfg.max_indirect_segments,
		.readonly = dev->readonly,
		.flush = true,
		.barrier = true,
		.discard = dev->target.discard && !dev->readonly,
	};

	rc = reserve_budget(dev, (unsigned int)nq, resume);
	if (rc < 0)
		goto out;
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
		share_budget(dev, q, resume);
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
	/* Atomic: a worker that finds the target cannot discard withdraws it at any time. */
	if (__atomic_load_n(&dev->limits.discard, __ATOMIC_ACQUIRE)) {
		vha_xs_write_uint(xs, XBT_NULL, dev->be_path, "discard-granularity", 4096);
		vha_xs_write_uint(xs, XBT_NULL, dev->be_path, "discard-alignment", 0);
		vha_xs_write_uint(xs, XBT_NULL, dev->be_path, "discard-secure", dev->target.discard_secure ? 1 : 0);
		vha_xs_write_uint(xs, XBT_NULL, dev->be_path, "feature-discard", 1);
	}
	/* A guest can connect and close in a loop: these lines share the device's rate limit. */
	vha_log_ratelimited(&dev->rl, VHA_LOG_INFO,
			    "device %u/%u connected: %s (%s), %" PRIu64 " sectors, %u queue(s), ring order %u, "
			    "grants %s%s%s%s",
			    dev->fe_domid, dev->devid, dev->target_label, engine_name(&dev->target), dev->target.size >> 9,
			    dev->nr_queues,
			    __builtin_ctz(dev->queues[0].nr_ring_pages), grant_strategy_name(dev->strategy),
			    dev->persistent ? " (persistent negotiated)" : "",
			    dev->target.ops != &engine_file_ops && dev->target.ops != &engine_blockdev_ops ? "" :
			    !dev->target.direct ? (be->cfg.direct ? ", buffered (the filesystem refuses O_DIRECT)" : "") :
			    dev->target.buffered_transient ? ", O_DIRECT (buffered on transient maps)" : ", O_DIRECT",
			    dev->readonly ? ", read-only" : "");
	rc = 0;
	/* fail: the caller closes the device (close_device), which undoes what was set up. */
fail:
out:
	free(protocol);
	return rc;
}

/*
 * The queues are gone: close the target, on the job thread (librbd's close
 * and rados_shutdown wait on the cluster). True once it is closed.
 */
static bool vbd_disconnect(struct device *dev)
{
	int rc;

	switch (dev->target_state) {
	case TARGET_CLOSED:
		return true;
	case TARGET_OPENING:
		rc = device_job_collect(dev);
		if (rc == -EINPROGRESS)
			return false;
		free(dev->spec);
		dev->spec = NULL;
		dev->target_state = rc < 0 ? TARGET_CLOSED : TARGET_OPEN;
		if (rc < 0)
			return true;    /* engine_open undid itself */
		/* It opened after all: close it. */
		/* fall through */
	case TARGET_OPEN:
		if (device_job_start(dev, close_job) < 0) {
			engine_close(&dev->target);     /* no thread: close it here */
			dev->target_state = TARGET_CLOSED;
			return true;
		}
		dev->target_state = TARGET_CLOSING;
		return false;
	case TARGET_CLOSING:
		if (device_job_collect(dev) == -EINPROGRESS)
			return false;
		dev->target_state = TARGET_CLOSED;
		return true;
	}
	return true;
}

/* Called on each look at a connected device. */
static void vbd_refresh(struct device *dev)
{
	struct xs_handle *xs = dev->be->xs;

	if (__atomic_load_n(&dev->discard_unsupported, __ATOMIC_ACQUIRE) == 1) {
		/* The target cannot discard after all: withdraw the feature, as blkback does. */
		__atomic_store_n(&dev->discard_unsupported, 2, __ATOMIC_RELEASE);
		vha_xs_write_uint(xs, XBT_NULL, dev->be_path, "feature-discard", 0);
		vha_log_ratelimited(&dev->rl, VHA_LOG_INFO, "device %u/%u: target cannot discard; feature withdrawn",
				    dev->fe_domid, dev->devid);
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

static void vbd_check_size(struct device *dev)
{
	int64_t size;

	if (dev->target_state != TARGET_OPEN)
		return;         /* a job opens or closes it: the job's alone */
	size = engine_size(&dev->target);

	if (size < 0 || (uint64_t)size == dev->last_size)
		return;
	vha_log_ratelimited(&dev->rl, VHA_LOG_INFO, "device %u/%u: target size changed from %" PRIu64
			    " to %" PRId64 " sectors", dev->fe_domid, dev->devid, dev->last_size >> 9, size >> 9);
	dev->last_size = (uint64_t)size;
	dev->target.size = (uint64_t)size;
	/* Workers validate against this; a request in flight finishes against the old size. */
	__atomic_store_n(&dev->limits.sectors, (uint64_t)size >> 9, __ATOMIC_RELEASE);
	publish_size(dev, (uint64_t)size);
}

const struct device_ops vbd_ops = {
	.name = "vbd",
	.publish_features = vbd_publish_features,
	.connect = vbd_connect,
	.disconnect = vbd_disconnect,
	.job_done = vbd_job_done,
	.refresh = vbd_refresh,
	.check_size = vbd_check_size,
};
