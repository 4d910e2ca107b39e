// SPDX-License-Identifier: MIT
/*
 * The device lifecycle every protocol shares, on the main thread: finding
 * devices, watch dispatch, the xenbus handshake as a phase machine,
 * takeover after a restart and asynchronous teardown. What is protocol
 * specific (features, connect, resize) comes from be->ops (struct
 * device_ops in backend.h; blkif's is vbd.c). One watch covers
 * backend/<type>/ (every device's backend dir, including the toolstack's and
 * the hotplug script's writes); one watch per device covers the frontend's
 * state node. Events only mark devices dirty, so a guest rewriting its nodes
 * in a loop costs one re-evaluation per pass, never an unbounded queue
 * (XSA-349).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
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

/*
 * Run fn in a transaction on the device's backend directory, only while its
 * state node exists: the toolstack may remove the directory at any moment
 * (a destroyed domain), and a plain write would create it again, leaving a
 * device that nothing ever removes. Linux's xenbus_switch_state declines to
 * "resurrect that directory" for the same reason. Returns fn's result,
 * -ENOENT when the directory is gone (the device is marked dirty, so the next
 * pass sees the removal), or -errno from xenstore.
 */
static int device_write(struct device *dev, int (*fn)(struct device *, xs_transaction_t, void *), void *arg)
{
	struct xs_handle *xs = dev->be->xs;
	int rc = -EAGAIN;

	for (int tries = 0; tries < 10 && rc == -EAGAIN; tries++) {
		xs_transaction_t t = xs_transaction_start(xs);

		if (t == XBT_NULL)
			return -errno;
		rc = vha_xenbus_read_state(xs, t, dev->be_path);
		if (rc == -ENOENT) {
			xs_transaction_end(xs, t, true);
			dev->dirty = true;
			return rc;
		}
		rc = fn(dev, t, arg);
		if (rc < 0) {
			xs_transaction_end(xs, t, true);
			return rc;
		}
		if (!xs_transaction_end(xs, t, false))
			rc = -errno;
	}
	return rc;
}

static int write_error(struct device *dev, xs_transaction_t t, void *msg)
{
	return vha_xs_printf(dev->be->xs, t, dev->be_path, "error", "%s", (const char *)msg);
}

void device_error(struct device *dev, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* It can quote guest-written nodes: no control characters in the log or the error node. */
	vha_sanitize(msg, msg, sizeof(msg));
	vha_log_ratelimited(&dev->rl, VHA_LOG_ERROR, "device %u/%u: %s", dev->fe_domid, dev->devid, msg);
	device_write(dev, write_error, msg);
}

static int be_state(struct device *dev)
{
	return vha_xenbus_read_state(dev->be->xs, XBT_NULL, dev->be_path);
}

struct state_write {
	int to;
	char refused[128];      /* set when the table refused the move (STYLE.md 7) */
};

static int write_state(struct device *dev, xs_transaction_t t, void *arg)
{
	struct state_write *w = arg;
	struct xs_handle *xs = dev->be->xs;
	int rc = vha_xenbus_switch_state(xs, t, dev->be_path, VHA_XENBUS_BACKEND, VHA_XENBUS_STATE_FROM_NODE, w->to);

	w->refused[0] = '\0';
	if (rc == -EPERM) {
		/* Off the table: someone moved the state under us. Closing, with the reason. */
		snprintf(w->refused, sizeof(w->refused), "backend state %s -> %s is not a xenbus transition; closing",
			 vha_xenbus_state_name(vha_xenbus_read_state(xs, t, dev->be_path)),
			 vha_xenbus_state_name(w->to));
		return vha_xenbus_fail(xs, t, dev->be_path, VHA_XENBUS_BACKEND, w->refused);
	}
	if (rc == -EINVAL)      /* the node holds no state: nothing to check a transition against */
		return vha_xenbus_write_state(xs, t, dev->be_path, w->to);
	return rc;
}

void device_set_state(struct device *dev, int state)
{
	struct state_write w = { .to = state };

	if (device_write(dev, write_state, &w) == 0 && w.refused[0])
		vha_log_ratelimited(&dev->rl, VHA_LOG_WARN, "device %u/%u: %s", dev->fe_domid, dev->devid, w.refused);
}

static void *job_main(void *arg)
{
	struct device *dev = arg;
	uint64_t one = 1;

	dev->job.rc = dev->job.fn(dev);
	__atomic_store_n(&dev->job.state, JOB_DONE, __ATOMIC_RELEASE);
	/* The main thread joins this thread before it frees dev: dev->be is still there. */
	if (write(dev->be->wake_fd, &one, sizeof(one)) < 0)
		vha_debug("wake main: %s", strerror(errno));
	return NULL;
}

int device_job_start(struct device *dev, int (*fn)(struct device *dev))
{
	int rc;

	if (__atomic_load_n(&dev->job.state, __ATOMIC_ACQUIRE) != JOB_IDLE)
		return -EBUSY;
	dev->job.fn = fn;
	dev->job.rc = 0;
	dev->job.joined = false;
	/* Before the thread exists: it may be done before pthread_create returns. */
	__atomic_store_n(&dev->job.state, JOB_RUNNING, __ATOMIC_RELEASE);
	/* Created from the main thread, it inherits the blocked signals signalfd reads. */
	rc = pthread_create(&dev->job.thread, NULL, job_main, dev);
	if (rc != 0) {
		__atomic_store_n(&dev->job.state, JOB_IDLE, __ATOMIC_RELEASE);
		return -rc;
	}
	return 0;
}

int device_job_collect(struct device *dev)
{
	switch (__atomic_load_n(&dev->job.state, __ATOMIC_ACQUIRE)) {
	case JOB_IDLE:
		return -ENOENT;
	case JOB_RUNNING:
		return -EINPROGRESS;
	default:
		break;
	}
	if (!dev->job.joined)
		pthread_join(dev->job.thread, NULL);
	__atomic_store_n(&dev->job.state, JOB_IDLE, __ATOMIC_RELEASE);
	return dev->job.rc;
}

/* Wait for the device's job to finish (shutdown and device_free only: nothing else is served meanwhile). */
static void device_job_wait(struct device *dev)
{
	if (__atomic_load_n(&dev->job.state, __ATOMIC_ACQUIRE) == JOB_IDLE || dev->job.joined)
		return;
	pthread_join(dev->job.thread, NULL);
	dev->job.joined = true;
}

/* Count what a queue's rate limit held back, naming the queue (force: its worker is gone, the limit with it). */
static void flush_queue_log(struct device *dev, unsigned int i, bool force)
{
	char who[64];

	snprintf(who, sizeof(who), "device %u/%u queue %u", dev->fe_domid, dev->devid, i);
	vha_log_ratelimit_flush(&dev->queues[i].rl, VHA_LOG_WARN, who, force);
}

static void flush_device_log(struct device *dev, bool force)
{
	char who[64];

	snprintf(who, sizeof(who), "device %u/%u", dev->fe_domid, dev->devid);
	vha_log_ratelimit_flush(&dev->rl, VHA_LOG_WARN, who, force);
}

void backend_flush_logs(struct backend *be)
{
	for (unsigned int i = 0; i < be->nr_devices; i++) {
		flush_device_log(be->devices[i], false);
		for (unsigned int j = 0; j < be->devices[i]->nr_queues; j++)
			flush_queue_log(be->devices[i], j, false);
	}
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
	for (unsigned int i = 0; i < dev->nr_queues; i++) {
		flush_queue_log(dev, i, true);
		queue_stop(&dev->queues[i]);
	}
	dev->nr_queues = 0;
	/* The target may still be opening or closing on the device's job thread. */
	if (dev->be->ops->disconnect && !dev->be->ops->disconnect(dev))
		return false;
	budget_release(&dev->be->pool, &dev->budget);
	__atomic_store_n(&dev->broken, 0, __ATOMIC_RELEASE);
	return true;
}

/* The same, waiting (shutdown only: nothing else is served any more). */
static void disconnect_wait(struct device *dev)
{
	for (unsigned int i = 0; i < dev->nr_queues; i++)
		queue_stop(&dev->queues[i]);
	while (!disconnect(dev))
		device_job_wait(dev);
}

/*
 * Closing now; Closed once the workers are gone (as Linux blkback, which
 * answers -EBUSY meanwhile). The frontend's state at this point is kept, so
 * that only a move of its own brings InitWait back.
 */
static void close_device(struct device *dev, int fe_state)
{
	device_set_state(dev, XenbusStateClosing);
	dev->phase = DEV_CLOSED;
	dev->closed_fe_state = fe_state;
	if (disconnect(dev))
		device_set_state(dev, XenbusStateClosed);
	else
		dev->stopping = true;
}

/*
 * Is the frontend's domain still there? XS_IS_DOMAIN_INTRODUCED is a
 * privileged request: in a driver domain xenstored refuses it (EACCES) and
 * libxenstore answers false, which made every device look like its guest had
 * died, so none ever reached InitWait. Refused counts as alive: a frontend
 * whose domain goes away is still seen by its directory going (the toolstack
 * removes /local/domain/<id>) and by @releaseDomain with online=0.
 */
static bool frontend_alive(struct xs_handle *xs, vha_domid_t domid)
{
	static bool told;

	errno = 0;
	if (xs_is_domain_introduced(xs, domid))
		return true;
	if (errno != EACCES && errno != EPERM)
		return false;
	if (!told) {
		told = true;
		vha_info("xenstore refuses to say whether a domain exists (not privileged: a driver domain); "
			 "a frontend counts as gone when its directory is removed");
	}
	return true;
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
	}
	if (dev->removed) {
		/*
		 * Only the teardown is left, even if the toolstack writes the
		 * directory again meanwhile (a forced detach, then an attach of the
		 * same disk): once this device is freed, a scan finds the new one.
		 * Not connected any more: no size check reads a target a job
		 * closes.
		 */
		dev->phase = DEV_CLOSED;
		return !disconnect(dev);
	}
	if (dev->stopping) {
		/* Closing: nothing else happens to this device until its workers are gone. */
		if (!disconnect(dev))
			return true;
		dev->stopping = false;
		device_set_state(dev, XenbusStateClosed);
		/* What follows must see Closed: the stale Closing read above would close it all over again. */
		state = XenbusStateClosed;
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
	fe_alive = frontend_alive(xs, dev->fe_domid);

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

	if (dev->phase == DEV_CONNECTED && be->ops->refresh)
		be->ops->refresh(dev);

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
				int rc = be->ops->connect(dev, true, &resumed);

				if (rc == -EINPROGRESS)
					break;  /* the target opens on the job thread; here again once it has */
				if (rc == 0) {
					vha_log_ratelimited(&dev->rl, VHA_LOG_INFO,
							    "device %u/%u: taken over from an earlier backend on its live "
							    "rings; %u unanswered request(s) run again",
							    dev->fe_domid, dev->devid, resumed);
					dev->phase = DEV_CONNECTED;
					dev->connections++;
					break;
				}
			}
			vha_info("device %u/%u: taking over from an earlier backend; asking the frontend to reconnect",
				 dev->fe_domid, dev->devid);
			close_device(dev, fe_state);
			dev->dirty = true;
			break;
		}
		be->ops->publish_features(dev);
		device_set_state(dev, XenbusStateInitWait);
		dev->phase = DEV_INITWAIT;
		/* fall through */
	case DEV_INITWAIT:
		if (be->ops->job_done && __atomic_load_n(&dev->job.state, __ATOMIC_ACQUIRE) == JOB_DONE &&
		    be->ops->job_done(dev) < 0) {
			close_device(dev, fe_state);
			break;
		}
		if (vha_xs_read_str(xs, XBT_NULL, dev->be_path, "hotplug-status", &hotplug) < 0)
			break;
		if (strcmp(hotplug, "connected") != 0) {
			if (strcmp(hotplug, "error") == 0)
				device_error(dev, "hotplug script reported an error");
			break;
		}
		if (fe_state == XenbusStateInitialised || fe_state == XenbusStateConnected) {
			int rc = be->ops->connect(dev, false, NULL);

			if (rc == 0) {
				dev->phase = DEV_CONNECTED;
				dev->connections++;
				device_set_state(dev, XenbusStateConnected);
			} else if (rc != -EINPROGRESS) {
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
			be->ops->publish_features(dev);
			device_set_state(dev, XenbusStateInitWait);
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
	flush_device_log(dev, true);
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
	dev->target.file.fd = -1;
	dev->target.file.bfd = -1;
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
		if (!parse_uint(fes[i], DOMID_FIRST_RESERVED - 1, &fe))
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
	bool rescan = false;

	while (budget-- && (ev = xs_check_watch(be->xs)) != NULL) {
		mark_dirty(be, ev[XS_WATCH_PATH], ev[XS_WATCH_TOKEN]);
		free(ev);
	}
	/*
	 * A worker asks for attention (broken ring, exit, a feature to withdraw)
	 * or a device job is done: look at the live devices and those whose job
	 * finished.
	 */
	if (read(be->wake_fd, &junk, sizeof(junk)) > 0)
		for (unsigned int i = 0; i < be->nr_devices; i++)
			if (be->devices[i]->phase == DEV_CONNECTED || be->devices[i]->stopping || be->devices[i]->removed ||
			    __atomic_load_n(&be->devices[i]->job.state, __ATOMIC_ACQUIRE) == JOB_DONE)
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
			rescan = true;
			continue;
		}
		if (!dev->dirty)
			i++;
	}
	/* A directory written again while its old device was torn down is a new device: look at it now. */
	if (rescan) {
		uint64_t one = 1;
		unsigned int before = be->nr_devices;

		scan(be);
		if (be->nr_devices > before && write(be->wake_fd, &one, sizeof(one)) < 0)
			vha_debug("wake main: %s", strerror(errno));
	}
}

const struct device_ops *backend_ops_for_type(const char *type)
{
	/* The protocols, by the xenstore backend type that names them. */
	static const struct device_ops *const protocols[] = { &vbd_ops };

	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if (type && strcmp(type, protocols[i]->name) == 0)
			return protocols[i];
	/* Any other type (a site's own name for its disks) is served as blkif, as before. */
	return &vbd_ops;
}

int backend_init(struct backend *be, const struct backend_config *cfg, struct vha_platform *p)
{
	int rc;

	be->cfg = *cfg;
	be->platform = p;
	be->pool = (struct budget_pool){ .total = {
		[BUDGET_GRANTS] = cfg->total_max_grants,
		[BUDGET_INFLIGHT] = cfg->total_max_inflight,
		[BUDGET_COPY] = cfg->total_copy_buffers,
		[BUDGET_MEMORY] = cfg->total_memory,
	} };
	be->ops = backend_ops_for_type(cfg->type);
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

bool backend_taking_over(const struct backend *be)
{
	/* A device found live whose target still opens: its takeover is not done yet. */
	for (unsigned int i = 0; i < be->nr_devices; i++)
		if (be->devices[i]->phase == DEV_NEW && __atomic_load_n(&be->devices[i]->job.state, __ATOMIC_ACQUIRE) != JOB_IDLE)
			return true;
	return false;
}

void backend_shutdown(struct backend *be)
{
	while (be->nr_devices) {
		struct device *dev = be->devices[0];

		if (dev->phase == DEV_CONNECTED || dev->stopping) {
			device_set_state(dev, XenbusStateClosing);
			disconnect_wait(dev);
			device_set_state(dev, XenbusStateClosed);
		}
		device_free(be, 0);
	}
}

void backend_check_sizes(struct backend *be)
{
	if (!be->ops->check_size)
		return;
	for (unsigned int i = 0; i < be->nr_devices; i++)
		if (be->devices[i]->phase == DEV_CONNECTED)
			be->ops->check_size(be->devices[i]);
}
