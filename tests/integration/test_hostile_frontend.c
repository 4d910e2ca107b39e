// SPDX-License-Identifier: MIT
/*
 * A hostile frontend against a real vha-backend process on the sim platform.
 * The frontend side is done by hand (platform + blkif + xenbus) so it can
 * send what no honest frontend would: every rejection class, refs it never
 * granted, and a bogus req_prod. Each bad request must get an error response
 * with zeroed padding; the bogus ring must close that device only; the
 * daemon must stay up and another device keep working. After every case a
 * second guest's disk must verify and the backend's RSS stay bounded
 * (tests/lib/isolation.h).
 *
 * Longer than the tree's 800-line guide on purpose: the cases share one
 * backend, one hand-made frontend and one isolation baseline, and each
 * case reads best beside the helpers it uses; split, every file would
 * repeat that setup.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <xenstore.h>

#include "isolation.h"
#include "simdir.h"
#include "statsjson.h"
#include "vha/blkif.h"
#include "vha/platform.h"
#include "vha/sim.h"
#include "vha/xenbus.h"

#define DISK_SECTORS 8192u      /* 4 MiB images */
#define POOL_PAGES 16u
/* The backend's settings (setup): what the tests below hold it to. */
#define MAX_INDIRECT 128u       /* feature-max-indirect-segments, below the protocol's 256 */
#define DEVICE_GRANTS 4096u     /* --device-grants */
#define PERSISTENT_MAX 1056u    /* --persistent-grants (the default, as Linux blkback) */
#define RATELIMIT_INTERVAL_MS 5000u     /* a queue's vha_ratelimit (queue_start, docs/backend.md) */
#define RATELIMIT_BURST 5u

/* Domains: 1 rw disk, 2 ro disk, 3/4/5 rw disks with grant-strategy map/copy/persistent, 6 a 4K disk, 9 the witness. */
enum { DOM_RW = 1, DOM_RO = 2, DOM_MAP = 3, DOM_COPY = 4, DOM_PERSISTENT = 5, DOM_4K = 6, DOM_FOREIGN = 7,
       DOM_WITNESS = 9 };

static char simdir[64], build[4096], img_rw[128], img_ro[128];
static pid_t backend_pid;
static struct test_isolation iso;
static char loop_dev[64];      /* test_discard_4k's loop device, detached by teardown */

struct fe {
	struct vha_platform *p;
	struct xs_handle *xs;
	struct vha_gntshr *shr;
	struct vha_evtchn *ev;
	struct vha_blkif_front ring;
	void *sring;
	grant_ref_t ring_ref;
	int port;
	unsigned char *pool;
	grant_ref_t pool_refs[POOL_PAGES];
	char dir[96], be_dir[128];
};

static int wait_state(struct xs_handle *xs, const char *dir, int want, double timeout)
{
	double end = test_now() + timeout;
	int st;

	do {
		st = vha_xenbus_read_state(xs, XBT_NULL, dir);
		if (st == want)
			return st;
		usleep(10000);
	} while (test_now() < end);
	return st;
}

static void fe_connect_ex(struct fe *f, unsigned int domid, unsigned int devid, bool persistent)
{
	struct vha_platform_config cfg = { .kind = "sim", .sim_dir = simdir, .sim_domid = (int)domid };
	char *be = NULL;
	xs_transaction_t t;

	memset(f, 0, sizeof(*f));
	assert_int_equal(vha_platform_open(&cfg, &f->p), 0);
	f->xs = vha_platform_xs_open(f->p);
	assert_non_null(f->xs);
	snprintf(f->dir, sizeof(f->dir), "device/vbd/%u", devid);
	assert_int_equal(vha_xs_read_str(f->xs, XBT_NULL, f->dir, "backend", &be), 0);
	assert_non_null(be);
	snprintf(f->be_dir, sizeof(f->be_dir), "%s", be);
	free(be);
	assert_int_equal(wait_state(f->xs, f->be_dir, XenbusStateInitWait, 10), XenbusStateInitWait);
	assert_int_equal(vha_gntshr_open(f->p, &f->shr), 0);
	f->sring = vha_gntshr_share(f->shr, 0, 1, &f->ring_ref, true);
	assert_non_null(f->sring);
	vha_blkif_front_init(&f->ring, f->sring, 1);
	f->pool = vha_gntshr_share(f->shr, 0, POOL_PAGES, f->pool_refs, true);
	assert_non_null(f->pool);
	assert_int_equal(vha_evtchn_open(f->p, &f->ev), 0);
	f->port = vha_evtchn_bind_unbound(f->ev, 0);
	assert_true(f->port > 0);
	do {
		t = xs_transaction_start(f->xs);
		assert_true(t != XBT_NULL);
		vha_xs_write_uint(f->xs, t, f->dir, "ring-ref", f->ring_ref);
		vha_xs_write_uint(f->xs, t, f->dir, "event-channel", (uint64_t)f->port);
		vha_xs_printf(f->xs, t, f->dir, "protocol", "%s", VHA_BLKIF_PROTOCOL_NATIVE);
		vha_xs_write_uint(f->xs, t, f->dir, "feature-persistent", persistent ? 1 : 0);
		vha_xenbus_write_state(f->xs, t, f->dir, XenbusStateInitialised);
	} while (!xs_transaction_end(f->xs, t, false) && errno == EAGAIN);
	assert_int_equal(wait_state(f->xs, f->be_dir, XenbusStateConnected, 10), XenbusStateConnected);
	vha_xenbus_write_state(f->xs, XBT_NULL, f->dir, XenbusStateConnected);
}

static void fe_connect(struct fe *f, unsigned int domid, unsigned int devid)
{
	fe_connect_ex(f, domid, devid, false);
}

/* Send one raw request and wait for its response (raw bytes too, for the padding check). */
static int16_t send_raw(struct fe *f, const blkif_request_t *req, unsigned char raw[16])
{
	struct blkif_response rsp;
	struct pollfd pfd = { .fd = vha_evtchn_fd(f->ev), .events = POLLIN };
	RING_IDX slot;
	double end = test_now() + 5;
	int port;

	vha_blkif_front_queue(&f->ring, req, sizeof(*req));
	if (vha_blkif_front_push(&f->ring))
		vha_evtchn_notify(f->ev, (vha_evtchn_port_t)f->port);
	for (;;) {
		slot = f->ring.ring.rsp_cons;
		int r = vha_blkif_front_take_response(&f->ring, &rsp);

		assert_true(r >= 0);
		if (r == 1) {
			if (raw)
				memcpy(raw, RING_GET_RESPONSE(&f->ring.ring, slot), 16);
			assert_int_equal(rsp.id, req->id);
			return rsp.status;
		}
		if (vha_blkif_front_final_check(&f->ring))
			continue;
		assert_true(test_now() < end);
		poll(&pfd, 1, 100);
		while ((port = vha_evtchn_pending(f->ev)) >= 0)
			vha_evtchn_unmask(f->ev, (vha_evtchn_port_t)port);
	}
}

static blkif_request_t rw_req(struct fe *f, uint8_t op, uint64_t sector, unsigned int nseg)
{
	blkif_request_t r;

	memset(&r, 0, sizeof(r));
	r.operation = op;
	r.nr_segments = (uint8_t)nseg;
	r.id = 0x1000 + sector;
	r.sector_number = sector;
	for (unsigned int i = 0; i < nseg && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
		r.seg[i].gref = f->pool_refs[i % POOL_PAGES];
		r.seg[i].first_sect = 0;
		r.seg[i].last_sect = 7;
	}
	return r;
}

static void fe_close(struct fe *f)
{
	vha_gntshr_unshare(f->shr, f->pool, POOL_PAGES);
	vha_gntshr_unshare(f->shr, f->sring, 1);
	vha_gntshr_close(f->shr);
	vha_evtchn_close(f->ev);
	xs_close(f->xs);
	vha_platform_close(f->p);
}

/* Close the device as a frontend would and start over, so the next test finds InitWait. */
static void fe_restart(struct fe *f)
{
	vha_xenbus_write_state(f->xs, XBT_NULL, f->dir, XenbusStateClosing);
	assert_int_equal(wait_state(f->xs, f->be_dir, XenbusStateClosed, 10), XenbusStateClosed);
	vha_xenbus_write_state(f->xs, XBT_NULL, f->dir, XenbusStateInitialising);
	assert_int_equal(wait_state(f->xs, f->be_dir, XenbusStateInitWait, 10), XenbusStateInitWait);
}

static bool backend_alive(void)
{
	return waitpid(backend_pid, NULL, WNOHANG) == 0 && kill(backend_pid, 0) == 0;
}

static int setup(void **state)
{
	const char *args[] = { "--max-queues", "1", "--max-indirect-segments", "128", "--device-grants", "4096",
			       "--persistent-grants", "1056", NULL };
	static const struct { unsigned int domid; const char *img, *strategy; } disks[] = {
		{ DOM_MAP, "map.img", "map" },
		{ DOM_COPY, "copy.img", "copy" },
		{ DOM_PERSISTENT, "persistent.img", "persistent" },
		{ DOM_WITNESS, "witness.img", NULL },
	};

	(void)state;
	_Static_assert(MAX_INDIRECT == 128 && DEVICE_GRANTS == 4096 && PERSISTENT_MAX == 1056, "setup's args");
	snprintf(build, sizeof(build), "%s", test_build_dir());
	if (test_sim_backend_start(simdir, sizeof(simdir), "hostile", args, &backend_pid) < 0)
		return -1;
	snprintf(img_rw, sizeof(img_rw), "%s/rw.img", simdir);
	snprintf(img_ro, sizeof(img_ro), "%s/ro.img", simdir);
	if (test_run("head -c %u /dev/urandom > %s && cp %s %s", DISK_SECTORS * 512, img_rw, img_rw, img_ro) ||
	    test_run("%s/vhactl --sim-dir %s sim create-domain 1 >/dev/null", build, simdir) ||
	    test_run("%s/vhactl --sim-dir %s sim create-domain 2 >/dev/null", build, simdir) ||
	    test_run("%s/vhactl --sim-dir %s sim create-domain %d >/dev/null", build, simdir, DOM_FOREIGN) ||
	    test_run("%s/vhactl --platform sim --sim-dir %s attach --frontend-domid 1 --target %s >/dev/null", build,
		     simdir, img_rw) ||
	    test_run("%s/vhactl --platform sim --sim-dir %s attach --frontend-domid 2 --target %s --mode r >/dev/null",
		     build, simdir, img_ro))
		return -1;
	for (unsigned int i = 0; i < sizeof(disks) / sizeof(disks[0]); i++) {
		if (test_run("head -c %u /dev/urandom > %s/%s", DISK_SECTORS * 512, simdir, disks[i].img) ||
		    test_run("%s/vhactl --sim-dir %s sim create-domain %u >/dev/null", build, simdir, disks[i].domid) ||
		    test_run("%s/vhactl --platform sim --sim-dir %s attach --frontend-domid %u --target %s/%s%s%s >/dev/null",
			     build, simdir, disks[i].domid, simdir, disks[i].img,
			     disks[i].strategy ? " --grant-strategy " : "", disks[i].strategy ? disks[i].strategy : ""))
			return -1;
	}
	/* The second guest every case is checked against, and the RSS baseline after its warm-up. */
	test_isolation_init(&iso, simdir, backend_pid, DOM_WITNESS);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	test_sim_backend_stop(simdir, backend_pid);
	/* After the backend let go of it (test_discard_4k). */
	if (loop_dev[0])
		test_run("losetup -d %s", loop_dev);
	return 0;
}

static void test_hostile_requests(void **state)
{
	struct fe f, ro;
	blkif_request_t r;
	unsigned char raw[16];

	(void)state;
	fe_connect(&f, 1, 51712);
	fe_connect(&ro, 2, 51712);

	/* An honest write then read of 8 KiB round-trips the data. */
	memset(f.pool, 0x3c, 2 * VHA_PAGE_SIZE);
	r = rw_req(&f, BLKIF_OP_WRITE, 64, 2);
	assert_int_equal(send_raw(&f, &r, raw), BLKIF_RSP_OKAY);
	memset(f.pool, 0, 2 * VHA_PAGE_SIZE);
	r = rw_req(&f, BLKIF_OP_READ, 64, 2);
	assert_int_equal(send_raw(&f, &r, raw), BLKIF_RSP_OKAY);
	assert_int_equal(f.pool[0], 0x3c);
	assert_int_equal(f.pool[2 * VHA_PAGE_SIZE - 1], 0x3c);
	/* Response padding arrives zeroed (XSA-216): byte 9 and bytes 12..15. */
	assert_int_equal(raw[9], 0);
	for (int i = 12; i < 16; i++)
		assert_int_equal(raw[i], 0);

	struct { const char *name; blkif_request_t req; int16_t status; } cases[16];
	unsigned int n = 0;

	cases[n].name = "unknown operation";
	cases[n].req = rw_req(&f, 99, 0, 1);
	cases[n++].status = BLKIF_RSP_EOPNOTSUPP;
	cases[n].name = "barrier write (offered, served)";
	cases[n].req = rw_req(&f, BLKIF_OP_WRITE_BARRIER, 0, 1);
	cases[n++].status = BLKIF_RSP_OKAY;
	cases[n].name = "read with 0 segments";
	cases[n].req = rw_req(&f, BLKIF_OP_READ, 0, 0);
	cases[n++].status = BLKIF_RSP_ERROR;
	cases[n].name = "12 direct segments";
	cases[n].req = rw_req(&f, BLKIF_OP_READ, 0, 11);
	cases[n].req.nr_segments = 12;
	cases[n++].status = BLKIF_RSP_ERROR;
	cases[n].name = "first_sect > last_sect";
	cases[n].req = rw_req(&f, BLKIF_OP_READ, 0, 1);
	cases[n].req.seg[0].first_sect = 5;
	cases[n].req.seg[0].last_sect = 3;
	cases[n++].status = BLKIF_RSP_ERROR;
	cases[n].name = "last_sect > 7";
	cases[n].req = rw_req(&f, BLKIF_OP_READ, 0, 1);
	cases[n].req.seg[0].last_sect = 8;
	cases[n++].status = BLKIF_RSP_ERROR;
	cases[n].name = "past the end";
	cases[n].req = rw_req(&f, BLKIF_OP_READ, DISK_SECTORS - 4, 1);
	cases[n++].status = BLKIF_RSP_ERROR;
	cases[n].name = "sector overflow";
	cases[n].req = rw_req(&f, BLKIF_OP_READ, UINT64_MAX - 2, 1);
	cases[n++].status = BLKIF_RSP_ERROR;
	cases[n].name = "ref never granted";
	cases[n].req = rw_req(&f, BLKIF_OP_READ, 0, 1);
	cases[n].req.seg[0].gref = 9999;
	cases[n++].status = BLKIF_RSP_ERROR;
	{
		blkif_request_indirect_t *ind = (blkif_request_indirect_t *)&cases[n].req;

		memset(&cases[n].req, 0, sizeof(cases[n].req));
		ind->operation = BLKIF_OP_INDIRECT;
		ind->indirect_op = BLKIF_OP_DISCARD;
		ind->nr_segments = 1;
		ind->id = 0x77;
		ind->indirect_grefs[0] = f.pool_refs[0];
		cases[n].name = "indirect with a bad indirect_op";
		cases[n++].status = BLKIF_RSP_ERROR;
	}
	for (unsigned int i = 0; i < n; i++) {
		int16_t st = send_raw(&f, &cases[i].req, raw);

		if (st != cases[i].status)
			fail_msg("%s: status %d, expected %d", cases[i].name, st, cases[i].status);
		assert_int_equal(raw[9], 0);
		assert_int_equal(raw[12] | raw[13] | raw[14] | raw[15], 0);
		test_isolation_check(&iso, cases[i].name);
	}
	/* Read-only disk: writes refused, reads fine. */
	r = rw_req(&ro, BLKIF_OP_WRITE, 0, 1);
	assert_int_equal(send_raw(&ro, &r, NULL), BLKIF_RSP_ERROR);
	r = rw_req(&ro, BLKIF_OP_READ, 0, 1);
	assert_int_equal(send_raw(&ro, &r, NULL), BLKIF_RSP_OKAY);
	test_isolation_check(&iso, "a write to a read-only disk");
	/* The guest granted dom0 read-only access only: a disk read into it must fail, not scribble. */
	{
		vha_grant_ref_t roref;
		unsigned char *ropage = vha_gntshr_share(f.shr, 0, 1, &roref, false);

		assert_non_null(ropage);
		r = rw_req(&f, BLKIF_OP_READ, 0, 1);
		r.seg[0].gref = roref;
		assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_ERROR);
		assert_int_equal(ropage[0], 0);
		test_isolation_check(&iso, "a disk read into a read-only grant");
	}

	/* A bogus req_prod, far more than a ring ahead: that device closes, nothing else. */
	f.ring.ring.sring->req_prod = f.ring.ring.rsp_cons + 1000;
	vha_evtchn_notify(f.ev, (vha_evtchn_port_t)f.port);
	int st = wait_state(f.xs, f.be_dir, XenbusStateClosed, 5);
	assert_int_equal(st, XenbusStateClosed);
	assert_true(backend_alive());
	r = rw_req(&ro, BLKIF_OP_READ, 8, 1);
	assert_int_equal(send_raw(&ro, &r, NULL), BLKIF_RSP_OKAY);
	assert_true(backend_alive());
	test_isolation_check(&iso, "req_prod 1000 ahead");
	fe_close(&f);
	fe_close(&ro);
}

/*
 * A counter of device domid/51712 in stats.json (SIGUSR1 rewrites it now):
 * the device's own at `pointer` ("/grant_budget"), or with queue set, the
 * sum over its queues (the backend here serves one queue a device).
 */
static uint64_t stats_number(unsigned int domid, const char *pointer, bool queue)
{
	struct json_object *doc = test_stats_read(simdir, backend_pid);
	struct json_object *dev = test_stats_device(doc, domid, 51712);
	uint64_t v = queue ? test_stats_queue_sum(dev, pointer, -1) : test_stats_u64(dev, pointer);

	json_object_put(doc);
	return v;
}

/* A queue counter ("/events_delayed", "/grant_cache/hits") summed over device domid's queues. */
static uint64_t stat_of(unsigned int domid, const char *pointer)
{
	return stats_number(domid, pointer, true);
}

struct storm { struct fe *f; volatile bool stop; uint64_t sent; };

static void *storm_thread(void *arg)
{
	struct storm *st = arg;

	while (!st->stop) {
		vha_evtchn_notify(st->f->ev, (vha_evtchn_port_t)st->f->port);
		st->sent++;
	}
	return NULL;
}

/*
 * XSA-332: a guest that sends events with no requests in a tight loop gets
 * its port delayed (and its waste counted), while another guest's reads go
 * on undelayed.
 */
static void test_event_storm(void **state)
{
	struct fe f, ro;
	struct storm st = { .f = &f };
	pthread_t th;
	blkif_request_t r;
	unsigned int reads = 0;
	double end;

	(void)state;
	fe_connect(&f, 1, 51712);
	fe_connect(&ro, 2, 51712);
	assert_int_equal(pthread_create(&th, NULL, storm_thread, &st), 0);
	for (end = test_now() + 3; test_now() < end; reads++) {
		r = rw_req(&ro, BLKIF_OP_READ, (reads * 8) % DISK_SECTORS, 1);
		assert_int_equal(send_raw(&ro, &r, NULL), BLKIF_RSP_OKAY);
	}
	/* The stormer's own ring still works, only slower. */
	r = rw_req(&f, BLKIF_OP_READ, 0, 1);
	assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_OKAY);
	st.stop = true;
	pthread_join(th, NULL);
	printf("storm: %" PRIu64 " events sent; stormer: %" PRIu64 " received, %" PRIu64 " spurious, %" PRIu64
	       " delays; other guest: %u reads, %" PRIu64 " delays\n", st.sent, stat_of(1, "/events_received"),
	       stat_of(1, "/events_spurious"), stat_of(1, "/events_delayed"), reads, stat_of(2, "/events_delayed"));
	assert_true(stat_of(1, "/events_spurious") > 1000);
	assert_true(stat_of(1, "/events_delayed") > 0);
	/* Far fewer events reach the worker than were sent: the masked port coalesces them. */
	assert_true(stat_of(1, "/events_received") < st.sent / 2);
	assert_int_equal(stat_of(2, "/events_delayed"), 0);
	assert_true(reads > 100);
	assert_true(backend_alive());
	/* Calm again: within two windows the stormer's port is no longer delayed. */
	sleep(2);
	{
		uint64_t delayed = stat_of(1, "/events_delayed");

		for (int i = 0; i < 20; i++) {
			r = rw_req(&f, BLKIF_OP_READ, 0, 1);
			assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_OKAY);
		}
		assert_int_equal(stat_of(1, "/events_delayed"), delayed);
	}
	test_isolation_check(&iso, "an event storm");
	fe_restart(&f);
	fe_restart(&ro);
	fe_close(&f);
	fe_close(&ro);
}

/*
 * The ring's edges: req_prod exactly one ring ahead (a full ring: every
 * request answered), flush and barrier requests that carry data, then
 * req_prod moving backwards (that device closes; the other keeps working).
 */
static void test_ring_edges(void **state)
{
	struct fe f, ro;
	struct blkif_response rsp;
	unsigned int ring, got = 0;
	blkif_request_t r;
	double end;

	(void)state;
	fe_connect(&f, 1, 51712);
	fe_connect(&ro, 2, 51712);
	ring = RING_SIZE(&f.ring.ring);
	for (unsigned int i = 0; i < ring; i++) {
		r = rw_req(&f, BLKIF_OP_READ, i * 8, 1);
		vha_blkif_front_queue(&f.ring, &r, sizeof(r));
	}
	if (vha_blkif_front_push(&f.ring))
		vha_evtchn_notify(f.ev, (vha_evtchn_port_t)f.port);
	for (end = test_now() + 10; got < ring && test_now() < end;) {
		int n = vha_blkif_front_take_response(&f.ring, &rsp);

		assert_true(n >= 0);
		if (n == 1) {
			assert_int_equal(rsp.status, BLKIF_RSP_OKAY);
			got++;
		} else {
			usleep(1000);
		}
	}
	assert_int_equal(got, ring);
	test_isolation_check(&iso, "req_prod exactly one ring ahead");

	memset(f.pool, 0x5a, VHA_PAGE_SIZE);
	r = rw_req(&f, BLKIF_OP_FLUSH_DISKCACHE, 128, 1);
	assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_OKAY);
	r = rw_req(&f, BLKIF_OP_WRITE_BARRIER, 136, 1);
	assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_OKAY);
	memset(f.pool, 0, VHA_PAGE_SIZE);
	r = rw_req(&f, BLKIF_OP_READ, 128, 1);
	assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_OKAY);
	assert_int_equal(f.pool[100], 0x5a);
	test_isolation_check(&iso, "flush and barrier with data segments");

	/* Backwards: behind what the backend already answered. */
	f.ring.ring.sring->req_prod = f.ring.ring.rsp_cons - 3;
	vha_evtchn_notify(f.ev, (vha_evtchn_port_t)f.port);
	assert_int_equal(wait_state(f.xs, f.be_dir, XenbusStateClosed, 5), XenbusStateClosed);
	assert_true(backend_alive());
	r = rw_req(&ro, BLKIF_OP_READ, 8, 1);
	assert_int_equal(send_raw(&ro, &r, NULL), BLKIF_RSP_OKAY);
	test_isolation_check(&iso, "req_prod moving backwards");
	vha_xenbus_write_state(f.xs, XBT_NULL, f.dir, XenbusStateInitialising);
	assert_int_equal(wait_state(f.xs, f.be_dir, XenbusStateInitWait, 10), XenbusStateInitWait);
	fe_restart(&ro);
	fe_close(&f);
	fe_close(&ro);
}

struct flipper { volatile unsigned char *bytes; size_t off, len; volatile bool stop; unsigned long flips; };

/* Rewrites bytes [off, off+len) with random values until told to stop (the guest racing the backend). */
static void *flip_thread(void *arg)
{
	struct flipper *fl = arg;
	unsigned int seed = 12345;

	while (!fl->stop) {
		for (size_t i = 0; i < fl->len; i++)
			fl->bytes[fl->off + i] = (unsigned char)rand_r(&seed);
		fl->flips++;
	}
	return NULL;
}

/*
 * Double fetch (XSA-155): a thread rewrites a live request's fields (and,
 * for an indirect request, its segment page) while the backend serves it.
 * Whatever the backend saw, it must answer each request once, with a
 * status, and stay up; the other guest's I/O goes on.
 */
static void test_double_fetch(void **state)
{
	struct fe f, ro;
	unsigned int errors = 0, oks = 0;
	unsigned long flips = 0;

	(void)state;
	fe_connect(&f, 1, 51712);
	fe_connect(&ro, 2, 51712);
	for (unsigned int round = 0; round < 400; round++) {
		bool indirect = round % 2;
		RING_IDX slot = f.ring.ring.req_prod_pvt;
		blkif_request_t *live = RING_GET_REQUEST(&f.ring.ring, slot), r;
		struct flipper fl = { 0 };
		pthread_t th;
		int16_t st;

		if (indirect) {
			blkif_request_indirect_t *ind = (blkif_request_indirect_t *)&r;
			struct blkif_request_segment *segs = (struct blkif_request_segment *)(f.pool + 15 * VHA_PAGE_SIZE);

			memset(&r, 0, sizeof(r));
			ind->operation = BLKIF_OP_INDIRECT;
			ind->indirect_op = BLKIF_OP_READ;
			ind->nr_segments = 8;
			ind->id = 0x2000 + round;
			ind->sector_number = 64;
			ind->indirect_grefs[0] = f.pool_refs[15];
			for (unsigned int i = 0; i < 8; i++)
				segs[i] = (struct blkif_request_segment){ .gref = f.pool_refs[i], .first_sect = 0, .last_sect = 7 };
			fl.bytes = (volatile unsigned char *)segs;
			fl.off = 0;
			fl.len = 8 * sizeof(*segs);
		} else {
			r = rw_req(&f, BLKIF_OP_READ, 64, 4);
			r.id = 0x2000 + round;
			/* Everything after the id: sector, handle, segment count, segments. */
			fl.bytes = (volatile unsigned char *)live;
			fl.off = offsetof(blkif_request_t, sector_number);
			fl.len = sizeof(*live) - fl.off;
		}
		assert_int_equal(pthread_create(&th, NULL, flip_thread, &fl), 0);
		st = send_raw(&f, &r, NULL);
		fl.stop = true;
		pthread_join(th, NULL);
		flips += fl.flips;
		if (st == BLKIF_RSP_OKAY)
			oks++;
		else
			errors++;
		assert_true(st == BLKIF_RSP_OKAY || st == BLKIF_RSP_ERROR || st == BLKIF_RSP_EOPNOTSUPP);
		if (!backend_alive())
			fail_msg("vha-backend died in round %u", round);
	}
	printf("double fetch: 400 requests raced by %lu rewrites: %u answered OK, %u with an error\n", flips, oks,
	       errors);
	{
		blkif_request_t r = rw_req(&ro, BLKIF_OP_READ, 8, 1);

		assert_int_equal(send_raw(&ro, &r, NULL), BLKIF_RSP_OKAY);
	}
	assert_true(backend_alive());
	test_isolation_check(&iso, "double fetch (direct and indirect)");
	fe_restart(&f);
	fe_restart(&ro);
	fe_close(&f);
	fe_close(&ro);
}

/* A ref this frontend's domain has not granted: far from where the sim hands its refs out (clustered). */
static grant_ref_t ungranted_ref(const struct fe *f)
{
	return (f->ring_ref + 8192u) % 16384u;
}

/* An indirect request whose segment list is in the page granted as ind_ref (the caller writes it). */
static blkif_request_t ind_req(uint8_t op, uint64_t sector, unsigned int nseg, grant_ref_t ind_ref, uint64_t id)
{
	blkif_request_t r;
	blkif_request_indirect_t *ind = (blkif_request_indirect_t *)&r;

	_Static_assert(sizeof(blkif_request_indirect_t) <= sizeof(blkif_request_t), "one ring slot");
	memset(&r, 0, sizeof(r));
	ind->operation = BLKIF_OP_INDIRECT;
	ind->indirect_op = op;
	ind->nr_segments = (uint16_t)nseg;
	ind->id = id;
	ind->sector_number = sector;
	ind->indirect_grefs[0] = ind_ref;
	return r;
}

/* Segments 0..n-1 of an indirect page: whole pages, data page i % 8 of the pool. */
static void fill_segments(struct blkif_request_segment *segs, const struct fe *f, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		segs[i] = (struct blkif_request_segment){ .gref = f->pool_refs[i % 8], .first_sect = 0, .last_sect = 7 };
}

static void fill_random(unsigned char *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)rand_r(&seed);
}

static bool all_bytes(const unsigned char *p, size_t len, unsigned char v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

/*
 * Indirect pages end to end (issue 9): an indirect page with bogus
 * contents, too many segments (above the negotiated 128, above the
 * protocol's 256, the field's 65535, zero), an indirect ref that is not
 * granted, granted to another domain or out of the table: each is an
 * indirect WRITE that must get BLKIF_RSP_ERROR, write nothing (the disk
 * still holds the earlier pattern), and leave the device serving. An
 * indirect page granted read-only is served: the backend only reads
 * segment lists (it grant-copies them out), so read access is all it may
 * ask for. Linux blkback agrees without persistent grants
 * (xen_blkbk_parse_indirect maps them read-only); with persistent grants
 * it maps them read-write and would refuse this request.
 */
static void test_indirect_pages(void **state)
{
	enum { SEG_BAD_ORDER, SEG_LAST_8, SEG_UNGRANTED, SEG_OUT_OF_TABLE, SEG_RANDOM, N_NEGOTIATED_PLUS_1, N_257,
	       N_65535, N_0, IND_UNGRANTED, IND_FOREIGN, IND_OUT_OF_TABLE, N_CASES };
	static const char *const names[N_CASES] = {
		[SEG_BAD_ORDER] = "indirect page: a segment with first_sect > last_sect",
		[SEG_LAST_8] = "indirect page: a segment with last_sect 8",
		[SEG_UNGRANTED] = "indirect page: a segment ref never granted",
		[SEG_OUT_OF_TABLE] = "indirect page: segment refs beyond the grant table",
		[SEG_RANDOM] = "indirect page: random bytes",
		[N_NEGOTIATED_PLUS_1] = "indirect: nr_segments = negotiated + 1 (129)",
		[N_257] = "indirect: nr_segments 257 (> 256)",
		[N_65535] = "indirect: nr_segments 65535",
		[N_0] = "indirect: nr_segments 0",
		[IND_UNGRANTED] = "indirect page ref never granted",
		[IND_FOREIGN] = "indirect page granted to another domain",
		[IND_OUT_OF_TABLE] = "indirect page ref beyond the grant table",
	};
	const size_t data_len = 8 * VHA_PAGE_SIZE;
	const uint64_t sector = 256;
	struct fe f;
	struct blkif_request_segment *segs, *foreign_segs, *ro_segs;
	unsigned char *pattern = malloc(data_len), raw[16];
	grant_ref_t foreign_ref, ro_ref;
	uint64_t negotiated = 0;
	blkif_request_t r;

	(void)state;
	assert_non_null(pattern);
	fe_connect(&f, DOM_RW, 51712);
	assert_int_equal(vha_xs_read_uint(f.xs, XBT_NULL, f.be_dir, "feature-max-indirect-segments", 0, &negotiated), 0);
	assert_int_equal(negotiated, MAX_INDIRECT);
	segs = (struct blkif_request_segment *)(f.pool + 15 * VHA_PAGE_SIZE);
	foreign_segs = vha_gntshr_share(f.shr, DOM_FOREIGN, 1, &foreign_ref, true);
	ro_segs = vha_gntshr_share(f.shr, 0, 1, &ro_ref, false);
	assert_non_null(foreign_segs);
	assert_non_null(ro_segs);

	/* Honest first: an 8-segment indirect write, read back by an indirect read. */
	fill_random(pattern, data_len, 42);
	memcpy(f.pool, pattern, data_len);
	fill_segments(segs, &f, 8);
	r = ind_req(BLKIF_OP_WRITE, sector, 8, f.pool_refs[15], 0x3000);
	assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_OKAY);
	memset(f.pool, 0, data_len);
	r = ind_req(BLKIF_OP_READ, sector, 8, f.pool_refs[15], 0x3001);
	assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_OKAY);
	assert_memory_equal(f.pool, pattern, data_len);
	/* The negotiated maximum is served. */
	fill_segments(segs, &f, MAX_INDIRECT);
	r = ind_req(BLKIF_OP_READ, 0, MAX_INDIRECT, f.pool_refs[15], 0x3002);
	assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_OKAY);

	for (unsigned int c = 0; c < N_CASES; c++) {
		grant_ref_t ind = f.pool_refs[15];
		unsigned int nseg = 8;
		int16_t st;

		/* Data a write would put on the disk: the read-back below would see it. */
		memset(f.pool, 0xee, data_len);
		memset(segs, 0, VHA_PAGE_SIZE);
		fill_segments(segs, &f, 8);
		switch (c) {
		case SEG_BAD_ORDER: segs[3].first_sect = 5; segs[3].last_sect = 3; break;
		case SEG_LAST_8: segs[5].last_sect = 8; break;
		case SEG_UNGRANTED: segs[2].gref = ungranted_ref(&f); break;
		case SEG_OUT_OF_TABLE: segs[0].gref = 0xffffffffu; segs[7].gref = 16384; break;
		case SEG_RANDOM: fill_random((unsigned char *)segs, VHA_PAGE_SIZE, 7); break;
		case N_NEGOTIATED_PLUS_1: nseg = MAX_INDIRECT + 1; fill_segments(segs, &f, nseg); break;
		case N_257: nseg = 257; fill_segments(segs, &f, nseg); break;
		case N_65535: nseg = 65535; fill_segments(segs, &f, VHA_PAGE_SIZE / sizeof(*segs)); break;
		case N_0: nseg = 0; break;
		case IND_UNGRANTED: ind = ungranted_ref(&f); break;
		case IND_FOREIGN: ind = foreign_ref; fill_segments(foreign_segs, &f, 8); break;
		case IND_OUT_OF_TABLE: ind = 0xfffffff0u; break;
		}
		r = ind_req(BLKIF_OP_WRITE, sector, nseg, ind, 0x3100 + c);
		st = send_raw(&f, &r, raw);
		if (st != BLKIF_RSP_ERROR)
			fail_msg("%s: status %d, expected BLKIF_RSP_ERROR", names[c], st);
		assert_int_equal(raw[9], 0);
		assert_int_equal(raw[12] | raw[13] | raw[14] | raw[15], 0);
		/* Nothing was written, and the device still serves. */
		memset(f.pool, 0, data_len);
		fill_segments(segs, &f, 8);
		r = ind_req(BLKIF_OP_READ, sector, 8, f.pool_refs[15], 0x3200 + c);
		assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_OKAY);
		if (memcmp(f.pool, pattern, data_len) != 0)
			fail_msg("%s: the refused write changed the disk", names[c]);
		test_isolation_check(&iso, names[c]);
	}

	/* A read-only indirect page: served, both ways, with the right data. */
	fill_random(pattern, data_len, 43);
	memcpy(f.pool, pattern, data_len);
	fill_segments(ro_segs, &f, 8);
	r = ind_req(BLKIF_OP_WRITE, sector, 8, ro_ref, 0x3300);
	assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_OKAY);
	memset(f.pool, 0, data_len);
	r = ind_req(BLKIF_OP_READ, sector, 8, ro_ref, 0x3301);
	assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_OKAY);
	assert_memory_equal(f.pool, pattern, data_len);
	printf("indirect: %u hostile indirect requests refused, nothing written; a read-only indirect page served\n",
	       (unsigned int)N_CASES);
	test_isolation_check(&iso, "an indirect page granted read-only (served)");

	vha_gntshr_unshare(f.shr, ro_segs, 1);
	vha_gntshr_unshare(f.shr, foreign_segs, 1);
	free(pattern);
	fe_restart(&f);
	fe_close(&f);
}

/*
 * A read-only grant used for a disk read, on each grant path (the device's
 * grant-strategy node): the backend would have to write into the page, so
 * the map (or the grant copy out) must fail, the request gets
 * BLKIF_RSP_ERROR and the page keeps what the guest put there. A disk
 * write from a read-only grant needs only read access and is served.
 * The path is proven by the strategy counters of the honest requests.
 */
static void test_read_only_grant_reads(void **state)
{
	static const struct { unsigned int domid; const char *strategy, *counter; bool persistent; } paths[] = {
		{ DOM_MAP, "map", "/strategy_map", false },
		{ DOM_PERSISTENT, "persistent", "/strategy_persistent", true },
		{ DOM_COPY, "copy", "/strategy_copy", false },
	};
	static const char *const counters[] = { "/strategy_map", "/strategy_persistent", "/strategy_copy" };

	(void)state;
	for (unsigned int p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
		const uint64_t sector = 512;
		struct fe f;
		grant_ref_t ro_ref;
		unsigned char *ro_page;
		blkif_request_t r;
		char name[96];

		fe_connect_ex(&f, paths[p].domid, 51712, paths[p].persistent);
		ro_page = vha_gntshr_share(f.shr, 0, 1, &ro_ref, false);
		assert_non_null(ro_page);

		/* Honest: a write and a read back through read-write grants, by this path. */
		fill_random(f.pool, VHA_PAGE_SIZE, p + 1);
		r = rw_req(&f, BLKIF_OP_WRITE, sector, 1);
		assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_OKAY);
		memset(f.pool + VHA_PAGE_SIZE, 0, VHA_PAGE_SIZE);
		r = rw_req(&f, BLKIF_OP_READ, sector, 1);
		r.seg[0].gref = f.pool_refs[1];
		assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_OKAY);
		assert_memory_equal(f.pool + VHA_PAGE_SIZE, f.pool, VHA_PAGE_SIZE);
		for (unsigned int k = 0; k < 3; k++) {
			uint64_t n = stat_of(paths[p].domid, counters[k]);

			if (strcmp(counters[k], paths[p].counter) == 0 ? n < 2 : n != 0)
				fail_msg("%s: %s = %" PRIu64 ": the requests did not take the %s path", paths[p].strategy,
					 counters[k], n, paths[p].strategy);
		}

		/* A read into the read-only grant: refused, the page untouched (whole, partial, or beside a good one). */
		memset(ro_page, 0xa5, VHA_PAGE_SIZE);
		r = rw_req(&f, BLKIF_OP_READ, sector, 1);
		r.seg[0].gref = ro_ref;
		assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_ERROR);
		r.seg[0].first_sect = 2;
		r.seg[0].last_sect = 5;
		assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_ERROR);
		r = rw_req(&f, BLKIF_OP_READ, sector, 2);
		r.seg[0].gref = f.pool_refs[2];
		r.seg[1].gref = ro_ref;
		assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_ERROR);
		if (!all_bytes(ro_page, VHA_PAGE_SIZE, 0xa5))
			fail_msg("%s: a disk read wrote into a page granted read-only", paths[p].strategy);
		assert_true(stat_of(paths[p].domid, "/errors") >= 3);

		/* A disk write from it needs read access only: served, and the device still works. */
		r = rw_req(&f, BLKIF_OP_WRITE, sector + 8, 1);
		r.seg[0].gref = ro_ref;
		assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_OKAY);
		memset(f.pool + 3 * VHA_PAGE_SIZE, 0, VHA_PAGE_SIZE);
		r = rw_req(&f, BLKIF_OP_READ, sector + 8, 1);
		r.seg[0].gref = f.pool_refs[3];
		assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_OKAY);
		assert_true(all_bytes(f.pool + 3 * VHA_PAGE_SIZE, VHA_PAGE_SIZE, 0xa5));
		printf("read-only grant, %s path: 3 reads into it refused, page unchanged; a write from it served\n",
		       paths[p].strategy);
		snprintf(name, sizeof(name), "a disk read into a read-only grant (%s path)", paths[p].strategy);
		test_isolation_check(&iso, name);
		vha_gntshr_unshare(f.shr, ro_page, 1);
		fe_restart(&f);
		fe_close(&f);
	}
}

/*
 * A misaligned discard on a 4K-sector target (a loop device with 4096-byte
 * logical sectors): refused by validation (counted as rejected, never sent
 * to the device), BLKIF_RSP_ERROR, and the data is intact. An aligned
 * discard is served, so the refusals are about alignment.
 */
static void test_discard_4k(void **state)
{
	static const struct { uint64_t sector, count; } bad[] = { { 1, 8 }, { 0, 7 }, { 4, 4 }, { 8, 9 }, { 15, 1 },
								 { 7, 2 } };
	const size_t len = 4 * VHA_PAGE_SIZE;
	unsigned char *before = malloc(len), *file = malloc(len), raw[16];
	uint64_t ss = 0, discard = 0, rejected0, discards0;
	char img[128], line[256] = "";
	blkif_request_t r;
	struct fe f;
	FILE *p;
	int fd;

	(void)state;
	if (geteuid() != 0) {
		printf("skip: a 4K-sector target needs a loop device (losetup --sector-size 4096), which needs root\n");
		free(before);
		free(file);
		skip();
	}
	assert_non_null(before);
	assert_non_null(file);
	snprintf(img, sizeof(img), "%s/4k.img", simdir);
	assert_int_equal(test_run("head -c %u /dev/urandom > %s", DISK_SECTORS * 512, img), 0);
	snprintf(line, sizeof(line), "losetup -f --show --sector-size 4096 %s 2>&1", img);
	p = popen(line, "r");
	assert_non_null(p);
	if (!fgets(line, sizeof(line), p))
		line[0] = '\0';
	if (pclose(p) != 0 || strncmp(line, "/dev/", 5) != 0) {
		printf("skip: losetup --sector-size 4096 failed: %s\n", line);
		free(before);
		free(file);
		skip();
	}
	line[strcspn(line, "\n")] = '\0';
	snprintf(loop_dev, sizeof(loop_dev), "%s", line);
	assert_int_equal(test_run("%s/vhactl --sim-dir %s sim create-domain %d >/dev/null", build, simdir, DOM_4K), 0);
	assert_int_equal(test_run("%s/vhactl --platform sim --sim-dir %s attach --frontend-domid %d --target %s >/dev/null",
				  build, simdir, DOM_4K, loop_dev), 0);
	fe_connect(&f, DOM_4K, 51712);
	assert_int_equal(vha_xs_read_uint(f.xs, XBT_NULL, f.be_dir, "sector-size", 0, &ss), 0);
	assert_int_equal(ss, 4096);
	assert_int_equal(vha_xs_read_uint(f.xs, XBT_NULL, f.be_dir, "feature-discard", 0, &discard), 0);
	assert_int_equal(discard, 1);

	/* What the disk holds in its first four 4K blocks. */
	r = rw_req(&f, BLKIF_OP_READ, 0, 4);
	assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_OKAY);
	memcpy(before, f.pool, len);
	rejected0 = stat_of(DOM_4K, "/rejected");
	discards0 = stat_of(DOM_4K, "/discards");
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		blkif_request_discard_t *d = (blkif_request_discard_t *)&r;
		int16_t st;

		memset(&r, 0, sizeof(r));
		d->operation = BLKIF_OP_DISCARD;
		d->id = 0x4000 + i;
		d->sector_number = bad[i].sector;
		d->nr_sectors = bad[i].count;
		st = send_raw(&f, &r, raw);
		if (st != BLKIF_RSP_ERROR)
			fail_msg("discard of %" PRIu64 "+%" PRIu64 " sectors on a 4K disk: status %d, expected an error",
				 bad[i].sector, bad[i].count, st);
		assert_int_equal(raw[9] | raw[12] | raw[13] | raw[14] | raw[15], 0);
	}
	/* Misaligned reads too: at sector 1, and half a 4K sector. */
	r = rw_req(&f, BLKIF_OP_READ, 1, 1);
	assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_ERROR);
	r = rw_req(&f, BLKIF_OP_READ, 0, 1);
	r.seg[0].last_sect = 3;
	assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_ERROR);
	/* Refused by validation: none of them reached the device. */
	assert_int_equal(stat_of(DOM_4K, "/rejected"), rejected0 + sizeof(bad) / sizeof(bad[0]) + 2);
	assert_int_equal(stat_of(DOM_4K, "/discards"), discards0);
	/* The data is intact, through the backend and in the image. */
	memset(f.pool, 0, len);
	r = rw_req(&f, BLKIF_OP_READ, 0, 4);
	assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_OKAY);
	assert_memory_equal(f.pool, before, len);
	fd = open(img, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, file, len, 0), (ssize_t)len);
	close(fd);
	assert_memory_equal(file, before, len);

	/* An aligned discard of block 1 is served and zeroes that block only. */
	{
		blkif_request_discard_t *d = (blkif_request_discard_t *)&r;
		int16_t st;

		memset(&r, 0, sizeof(r));
		d->operation = BLKIF_OP_DISCARD;
		d->id = 0x4100;
		d->sector_number = 8;
		d->nr_sectors = 8;
		st = send_raw(&f, &r, NULL);
		assert_int_equal(st, BLKIF_RSP_OKAY);
		assert_int_equal(stat_of(DOM_4K, "/discards"), discards0 + 1);
		memset(f.pool, 0xff, len);
		r = rw_req(&f, BLKIF_OP_READ, 0, 4);
		assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_OKAY);
		assert_memory_equal(f.pool, before, VHA_PAGE_SIZE);
		assert_true(all_bytes(f.pool + VHA_PAGE_SIZE, VHA_PAGE_SIZE, 0));
		assert_memory_equal(f.pool + 2 * VHA_PAGE_SIZE, before + 2 * VHA_PAGE_SIZE, 2 * VHA_PAGE_SIZE);
	}
	printf("4K target %s: %zu misaligned discards and 2 misaligned reads refused before the device, data "
	       "intact; an aligned discard served\n", loop_dev, sizeof(bad) / sizeof(bad[0]));
	test_isolation_check(&iso, "misaligned discards on a 4K target");
	fe_restart(&f);
	fe_close(&f);
	free(before);
	free(file);
}

/* Queue n requests (distinct ids) at once, notify, and collect the n responses, in any order, into status[]. */
static void send_batch(struct fe *f, const blkif_request_t *reqs, unsigned int n, int16_t *status)
{
	struct pollfd pfd = { .fd = vha_evtchn_fd(f->ev), .events = POLLIN };
	double end = test_now() + 20;
	unsigned int got = 0;
	int port;

	assert_true(n <= vha_blkif_front_free(&f->ring));
	for (unsigned int i = 0; i < n; i++) {
		vha_blkif_front_queue(&f->ring, &reqs[i], sizeof(reqs[i]));
		status[i] = INT16_MIN;
	}
	if (vha_blkif_front_push(&f->ring))
		vha_evtchn_notify(f->ev, (vha_evtchn_port_t)f->port);
	while (got < n) {
		struct blkif_response rsp;
		int r = vha_blkif_front_take_response(&f->ring, &rsp);
		unsigned int i;

		assert_true(r >= 0);
		if (r == 1) {
			for (i = 0; i < n && !(reqs[i].id == rsp.id && status[i] == INT16_MIN); i++)
				;
			if (i == n)
				fail_msg("a response with an unknown or repeated id %" PRIu64, (uint64_t)rsp.id);
			status[i] = rsp.status;
			got++;
			continue;
		}
		if (vha_blkif_front_final_check(&f->ring))
			continue;
		if (test_now() > end)
			fail_msg("%u of %u responses after 20 s", got, n);
		poll(&pfd, 1, 100);
		while ((port = vha_evtchn_pending(f->ev)) >= 0)
			vha_evtchn_unmask(f->ev, (vha_evtchn_port_t)port);
	}
}

struct sampler { vha_domid_t domid; volatile bool stop; uint32_t peak; unsigned int samples; };

/* The sim's own count of this domain's grants that others have mapped (not the backend's word for it). */
static uint32_t pages_mapped(vha_domid_t domid)
{
	struct vha_sim_domain_stats st;

	assert_int_equal(vha_sim_domain_stats(simdir, domid, &st), 0);
	return st.pages_mapped;
}

static void *sample_thread(void *arg)
{
	struct sampler *s = arg;

	while (!s->stop) {
		struct vha_sim_domain_stats st;

		if (vha_sim_domain_stats(simdir, s->domid, &st) == 0 && st.pages_mapped > s->peak)
			s->peak = st.pages_mapped;
		s->samples++;
		usleep(1000);
	}
	return NULL;
}

/*
 * Persistent refs cycled so the cache thrashes: a frontend that negotiated
 * feature-persistent grants a fresh page for every request, four times
 * more than the cache holds, twice over (every request a miss). Every
 * request is served with the right data; the cache never holds more than
 * its capacity (<= --persistent-grants), and the sim's own count of mapped
 * grants of that guest never passes the device's grant budget (sampled
 * while requests are in flight) and falls back to the cache's size when
 * idle, and to zero once the device closes.
 */
static void test_persistent_thrash(void **state)
{
	const unsigned int blocks = DISK_SECTORS / 8;
	struct sampler smp = { .domid = DOM_PERSISTENT };
	uint64_t capacity, budget, map_budget, size, misses, hits, evictions, served, idle;
	unsigned int nrefs, ring, batch, total = 0;
	blkif_request_t *reqs;
	int16_t *status;
	grant_ref_t *refs;
	unsigned char **chunks;         /* shared 2 * batch pages at a time (the platform's batch limit) */
	pthread_t th;
	struct fe f;

	(void)state;
	fe_connect_ex(&f, DOM_PERSISTENT, 51712, true);
	capacity = stat_of(DOM_PERSISTENT, "/grant_cache/capacity");
	budget = stats_number(DOM_PERSISTENT, "/grant_budget", false);
	map_budget = stat_of(DOM_PERSISTENT, "/map_budget");
	assert_true(capacity > 0 && capacity <= PERSISTENT_MAX);
	assert_int_equal(budget, DEVICE_GRANTS);
	ring = RING_SIZE(&f.ring.ring);
	batch = ring;
	nrefs = (unsigned int)(4 * capacity + 2 * batch - 1) / (2 * batch) * (2 * batch);
	refs = calloc(nrefs, sizeof(*refs));
	reqs = calloc(batch, sizeof(*reqs));
	status = calloc(batch, sizeof(*status));
	assert_non_null(refs);
	assert_non_null(reqs);
	assert_non_null(status);
	chunks = calloc(nrefs / (2 * batch), sizeof(*chunks));
	assert_non_null(chunks);
	for (unsigned int i = 0; i < nrefs / (2 * batch); i++) {
		chunks[i] = vha_gntshr_share(f.shr, 0, 2 * batch, refs + i * 2 * batch, true);
		assert_non_null(chunks[i]);
	}
#define PAGE_OF(w) (chunks[(w) / (2 * batch)] + (size_t)((w) % (2 * batch)) * VHA_PAGE_SIZE)
	assert_int_equal(pthread_create(&th, NULL, sample_thread, &smp), 0);
	for (unsigned int pass = 0; pass < 2; pass++) {
		/* Pairs of batches: writes through fresh refs, then reads of the same blocks through fresh refs. */
		for (unsigned int base = 0; base < nrefs; base += 2 * batch) {
			for (unsigned int i = 0; i < batch; i++) {
				unsigned int w = base + i;
				unsigned char *pg = PAGE_OF(w);

				for (size_t k = 0; k < VHA_PAGE_SIZE; k += 4)
					memcpy(pg + k, &(uint32_t){ pass * nrefs + w + (uint32_t)k }, 4);
				reqs[i] = rw_req(&f, BLKIF_OP_WRITE, (uint64_t)((base / 2 + i) % blocks) * 8, 1);
				reqs[i].seg[0].gref = refs[w];
				reqs[i].id = total + i;
			}
			send_batch(&f, reqs, batch, status);
			total += batch;
			for (unsigned int i = 0; i < batch; i++) {
				unsigned int rd = base + batch + i;

				assert_int_equal(status[i], BLKIF_RSP_OKAY);
				memset(PAGE_OF(rd), 0, VHA_PAGE_SIZE);
				reqs[i] = rw_req(&f, BLKIF_OP_READ, (uint64_t)((base / 2 + i) % blocks) * 8, 1);
				reqs[i].seg[0].gref = refs[rd];
				reqs[i].id = total + i;
			}
			send_batch(&f, reqs, batch, status);
			total += batch;
			for (unsigned int i = 0; i < batch; i++) {
				assert_int_equal(status[i], BLKIF_RSP_OKAY);
				if (memcmp(PAGE_OF(base + batch + i), PAGE_OF(base + i), VHA_PAGE_SIZE) != 0)
					fail_msg("pass %u: block %u read back wrong through a fresh persistent ref", pass,
						 (base / 2 + i) % blocks);
			}
		}
	}
	smp.stop = true;
	pthread_join(th, NULL);
	size = stat_of(DOM_PERSISTENT, "/grant_cache/size");
	misses = stat_of(DOM_PERSISTENT, "/grant_cache/misses");
	hits = stat_of(DOM_PERSISTENT, "/grant_cache/hits");
	evictions = stat_of(DOM_PERSISTENT, "/grant_cache/evictions");
	served = stat_of(DOM_PERSISTENT, "/strategy_persistent");
	idle = pages_mapped(DOM_PERSISTENT);
	printf("persistent thrash: %u requests over %u distinct refs; cache size %" PRIu64 " of capacity %" PRIu64
	       ", %" PRIu64 " misses, %" PRIu64 " hits, %" PRIu64 " evictions; guest pages mapped: peak %u (%u "
	       "samples), idle %" PRIu64 "; device budget %" PRIu64 " (map budget %" PRIu64 ")\n",
	       total, nrefs, size, capacity, misses, hits, evictions, smp.peak, smp.samples, idle, budget, map_budget);
	assert_true(served >= total);
	assert_true(size <= capacity);
	assert_true(misses + hits >= total);
	assert_true(evictions >= total / 2);
	assert_true(smp.samples > 0);
	if (smp.peak > budget || smp.peak > capacity + map_budget + 1)
		fail_msg("%u of the guest's grants were mapped at once: over the device budget %" PRIu64, smp.peak,
			 budget);
	/* Idle: the cache and the ring page, nothing else. */
	if (idle > capacity + 1)
		fail_msg("idle, %" PRIu64 " of the guest's grants stay mapped: more than the cache holds (%" PRIu64 ")",
			 idle, capacity);
	/* A small working set still hits: the cache works, it is just bounded. */
	for (unsigned int round = 0; round < 4; round++) {
		for (unsigned int i = 0; i < 8; i++) {
			reqs[i] = rw_req(&f, BLKIF_OP_READ, (uint64_t)i * 8, 1);
			reqs[i].seg[0].gref = f.pool_refs[i];
			reqs[i].id = total++;
		}
		send_batch(&f, reqs, 8, status);
		for (unsigned int i = 0; i < 8; i++)
			assert_int_equal(status[i], BLKIF_RSP_OKAY);
	}
	assert_true(stat_of(DOM_PERSISTENT, "/grant_cache/hits") >= hits + 24);
	test_isolation_check(&iso, "persistent refs cycled through the cache");
	fe_restart(&f);
	/* Closed: every grant of the guest unmapped (teardown is asynchronous: allow it 10 s). */
	for (double end = test_now() + 10; pages_mapped(DOM_PERSISTENT) != 0 && test_now() < end;)
		usleep(20000);
	assert_int_equal(pages_mapped(DOM_PERSISTENT), 0);
	for (unsigned int i = 0; i < nrefs / (2 * batch); i++)
		vha_gntshr_unshare(f.shr, chunks[i], 2 * batch);
#undef PAGE_OF
	free(chunks);
	free(refs);
	free(reqs);
	free(status);
	fe_close(&f);
}

static long log_size(void)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "%s/backend.log", simdir);
	assert_int_equal(stat(path, &st), 0);
	return (long)st.st_size;
}

struct log_count {
	unsigned int lines, device_lines, suppressed_lines, count_only_lines;
	unsigned int other_count_lines;         /* count lines of other devices (earlier cases' floods) */
	uint64_t suppressed;
};

/*
 * Count backend.log lines from byte `from`: all, those naming `device`, and
 * of those the ones carrying a suppressed count ("[N similar messages
 * suppressed ...]") and the ones that are a count alone (the periodic
 * report), not a message; and the count lines of other devices, which an
 * earlier case's flood may leave for the periodic report.
 */
static struct log_count count_log(long from, const char *device)
{
	struct log_count c = { 0 };
	char path[128], *line = NULL;
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/backend.log", simdir);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fseek(f, from, SEEK_SET), 0);
	while (getline(&line, &cap, f) > 0) {
		const char *sup = strstr(line, "similar messages suppressed");
		unsigned int n;

		c.lines++;
		if (!strstr(line, device)) {
			if (sup)
				c.other_count_lines++;
			continue;
		}
		c.device_lines++;
		if (sup) {
			const char *open = strrchr(line, '[');

			c.suppressed_lines++;
			if (open && sscanf(open, "[%u", &n) == 1)
				c.suppressed += n;
			if (strstr(line, "suppressed in the last"))
				c.count_only_lines++;
		}
	}
	free(line);
	fclose(f);
	return c;
}

/*
 * A guest-triggered log flood: full rings of invalid requests for a bit
 * more than one rate-limit interval. Each is answered with an error, but
 * the backend log gets at most `burst` lines about that device per
 * interval (vha_log_ratelimited: 5 per 5 s per queue), and every
 * suppressed line is counted on a line that names the device: on the first
 * line of the next interval, or, once the flood stops, in the backend's
 * periodic report. So the printed lines plus the counts add up to exactly
 * the invalid requests sent.
 */
static void test_log_flood(void **state)
{
	char device[32];
	blkif_request_t reqs[32];
	int16_t status[32];
	unsigned int ring, windows, bound;
	uint64_t sent = 0;
	struct log_count c;
	double t0, took;
	blkif_request_t r;
	struct fe f;
	long from;

	(void)state;
	fe_connect(&f, DOM_RW, 51712);
	ring = RING_SIZE(&f.ring.ring);
	assert_true(ring <= 32);
	snprintf(device, sizeof(device), "device %d/51712", DOM_RW);
	from = log_size();
	t0 = test_now();
	do {
		for (unsigned int i = 0; i < ring; i++) {
			reqs[i] = rw_req(&f, BLKIF_OP_READ, 0, 1);
			reqs[i].id = sent + i;
			if (i % 3 == 0)
				reqs[i].seg[0].last_sect = 8;
			else if (i % 3 == 1)
				reqs[i].seg[0].first_sect = 6, reqs[i].seg[0].last_sect = 2;
			else
				reqs[i].sector_number = DISK_SECTORS;
		}
		send_batch(&f, reqs, ring, status);
		for (unsigned int i = 0; i < ring; i++)
			assert_int_equal(status[i], BLKIF_RSP_ERROR);
		sent += ring;
	} while (test_now() - t0 < RATELIMIT_INTERVAL_MS / 1000.0 + 1.5);
	took = test_now() - t0;
	c = count_log(from, device);
	/* A window opens at the first line after the last one ended: at most this many in `took` seconds. */
	windows = (unsigned int)(took * 1000 / RATELIMIT_INTERVAL_MS) + 1;
	bound = RATELIMIT_BURST * windows;
	printf("log flood: %" PRIu64 " invalid requests in %.1f s; log: %u lines, %u naming %s (bound %u: %u per "
	       "%u ms over %u windows), %u suppressed-count lines reporting %" PRIu64 " messages\n",
	       sent, took, c.lines, c.device_lines, device, bound, RATELIMIT_BURST, RATELIMIT_INTERVAL_MS, windows,
	       c.suppressed_lines, c.suppressed);
	assert_true(sent >= 1000);
	assert_true(c.device_lines >= 1);
	if (c.device_lines - c.count_only_lines > bound)
		fail_msg("%u log lines about %s in %.1f s: more than the rate limit allows (%u)", c.device_lines, device,
			 took, bound);
	/* Nothing else the flood could write: every line names the device (or counts an earlier case's). */
	assert_int_equal(c.lines, c.device_lines + c.other_count_lines);
	assert_true(c.suppressed_lines >= 1 && c.suppressed_lines <= windows);
	/* The first window's count covers most of the flood, and no more than was sent. */
	assert_true(c.suppressed >= sent / 3);
	assert_true(c.suppressed + c.device_lines - c.count_only_lines <= sent);
	/* The flood stopped: within an interval and a second the rest is counted, naming the device. */
	sleep(RATELIMIT_INTERVAL_MS / 1000 + 2);
	c = count_log(from, device);
	printf("after the flood: %u lines naming %s, %u of them counts alone; %" PRIu64 " messages counted\n",
	       c.device_lines, device, c.count_only_lines, c.suppressed);
	assert_int_equal(c.lines, c.device_lines + c.other_count_lines);
	assert_true(c.count_only_lines >= 1);
	assert_int_equal(c.suppressed + c.device_lines - c.count_only_lines, sent);
	/* The device still serves. */
	r = rw_req(&f, BLKIF_OP_READ, 0, 1);
	assert_int_equal(send_raw(&f, &r, NULL), BLKIF_RSP_OKAY);
	test_isolation_check(&iso, "a log flood of invalid requests");
	fe_restart(&f);
	fe_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_double_fetch),
		cmocka_unit_test(test_event_storm),
		cmocka_unit_test(test_ring_edges),
		cmocka_unit_test(test_indirect_pages),
		cmocka_unit_test(test_read_only_grant_reads),
		cmocka_unit_test(test_discard_4k),
		cmocka_unit_test(test_persistent_thrash),
		cmocka_unit_test(test_log_flood),
		cmocka_unit_test(test_hostile_requests),
	};

	if (!test_have_binary("vha-simxenstored"))
		return 77;
	return cmocka_run_group_tests(tests, setup, teardown);
}
