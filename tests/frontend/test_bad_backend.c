// SPDX-License-Identifier: MIT
/*
 * libvhafront against a broken backend (driver domains are not trusted): a
 * fake backend process answers the first request properly, then answers
 * the same id again. The frontend must complete the first request, never
 * complete the second with the duplicate, mark the device broken, and fail
 * what is outstanding and what comes after with -EIO.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <xenstore.h>

#include "simdir.h"
#include "vha/blkif.h"
#include "vha/front.h"
#include "vha/log.h"
#include "vha/platform.h"
#include "vha/xenbus.h"

static char simdir[48], build[4000];

static const char *BE = "/local/domain/0/backend/vbd/1/51712";
static const char *FE = "/local/domain/1/device/vbd/51712";

static int wait_state(struct xs_handle *xs, const char *dir, int want, int seconds)
{
	for (int i = 0; i < seconds * 100; i++) {
		if (vha_xenbus_read_state(xs, XBT_NULL, dir) == want)
			return 0;
		usleep(10000);
	}
	return -1;
}

/* The fake backend (domain 0). Exit code says how far it got. */
static int fake_backend(void)
{
	struct vha_platform_config cfg = { .kind = "sim", .sim_dir = simdir, .sim_domid = 0 };
	struct vha_platform *p;
	struct vha_gnttab *g;
	struct vha_evtchn *e;
	struct xs_handle *xs;
	struct vha_blkif_back back;
	struct vha_blkif_req req[2];
	uint64_t ref, port;
	void *ring;
	int local, got = 0;

	if (vha_platform_open(&cfg, &p) < 0 || !(xs = vha_platform_xs_open(p)) || vha_gnttab_open(p, &g) < 0 ||
	    vha_evtchn_open(p, &e) < 0)
		return 10;
	if (wait_state(xs, BE, XenbusStateInitialising, 10) < 0)
		return 11;
	vha_xs_write_uint(xs, XBT_NULL, BE, "feature-flush-cache", 1);
	vha_xenbus_write_state(xs, XBT_NULL, BE, XenbusStateInitWait);
	if (wait_state(xs, FE, XenbusStateInitialised, 10) < 0)
		return 12;
	if (vha_xs_read_uint(xs, XBT_NULL, FE, "ring-ref", 0, &ref) < 0 ||
	    vha_xs_read_uint(xs, XBT_NULL, FE, "event-channel", 0, &port) < 0)
		return 13;
	grant_ref_t r = (grant_ref_t)ref;
	if (vha_gnttab_map(g, 1, 1, &r, true, &ring) < 0)
		return 14;
	vha_blkif_back_init(&back, ring, 1);
	local = vha_evtchn_bind_interdomain(e, 1, (vha_evtchn_port_t)port);
	if (local < 0)
		return 15;
	vha_xs_write_uint(xs, XBT_NULL, BE, "sectors", 2048);
	vha_xs_write_uint(xs, XBT_NULL, BE, "sector-size", 512);
	vha_xs_write_uint(xs, XBT_NULL, BE, "info", 0);
	vha_xenbus_write_state(xs, XBT_NULL, BE, XenbusStateConnected);
	for (int i = 0; i < 1000 && got < 2; i++) {
		RING_IDX prod;
		struct pollfd pfd = { .fd = vha_evtchn_fd(e), .events = POLLIN };

		if (vha_blkif_back_snapshot(&back, &prod) < 0)
			return 16;
		while (back.ring.req_cons != prod && got < 2)
			vha_blkif_copy_request(vha_blkif_back_slot(&back, back.ring.req_cons++), &req[got++]);
		if (got < 2)
			poll(&pfd, 1, 10);
		int pt;
		while ((pt = vha_evtchn_pending(e)) >= 0)
			vha_evtchn_unmask(e, (vha_evtchn_port_t)pt);
	}
	if (got < 2)
		return 17;
	/* The first one properly, then the same id again instead of the second. */
	vha_blkif_back_respond(&back, req[0].id, req[0].operation, BLKIF_RSP_OKAY);
	vha_blkif_back_respond(&back, req[0].id, req[0].operation, BLKIF_RSP_OKAY);
	vha_blkif_back_push(&back);
	vha_evtchn_notify(e, (vha_evtchn_port_t)local);
	sleep(1);
	return 0;
}

struct result {
	int status;
	bool done;
};

static void cb(void *opaque, int status)
{
	struct result *r = opaque;

	r->status = status;
	r->done = true;
}

static void test_duplicate_response_breaks_device(void **state)
{
	struct vha_platform_config cfg = { .kind = "sim", .sim_dir = simdir, .sim_domid = 1 };
	struct vha_front_opts opts = { .timeout_ms = 2000 };
	struct vha_platform *p;
	struct vha_front *f;
	struct result r1 = { 0 }, r2 = { 0 };
	unsigned char b1[4096], b2[4096];
	int status, rc;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fake_backend());
	{
		char cmd[8192];

		snprintf(cmd, sizeof(cmd),
			 "head -c 1048576 /dev/zero > %s/disk.img && %s/vhactl --platform sim --sim-dir %s attach "
			 "--frontend-domid 1 --target %s/disk.img >/dev/null",
			 simdir, build, simdir, simdir);
		assert_int_equal(system(cmd), 0);
	}
	assert_int_equal(vha_platform_open(&cfg, &p), 0);
	assert_int_equal(vha_front_open(p, 51712, &opts, &f), 0);
	assert_int_equal(vha_front_submit(f, VHA_FRONT_READ, 0, b1, sizeof(b1), cb, &r1), 0);
	assert_int_equal(vha_front_submit(f, VHA_FRONT_READ, 4096, b2, sizeof(b2), cb, &r2), 0);
	for (int i = 0; i < 50 && !(r1.done && r2.done); i++) {
		rc = vha_front_poll(f, 100);
		if (rc < 0)
			break;
	}
	assert_true(r1.done);
	assert_int_equal(r1.status, 0);
	/* The duplicate never completed request 2 as a success: it failed with the device. */
	assert_true(r2.done);
	assert_int_equal(r2.status, -EIO);
	assert_int_equal(vha_front_poll(f, 0), -EIO);
	assert_int_equal(vha_front_submit(f, VHA_FRONT_READ, 0, b1, sizeof(b1), cb, &r1), -EIO);
	vha_front_close(f);
	vha_platform_close(p);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static int setup(void **state)
{
	const char *b = getenv("VHA_BUILD");
	char cmd[8192];

	(void)state;
	snprintf(build, sizeof(build), "%s", b ? b : "build");
	snprintf(simdir, sizeof(simdir), "/tmp/vha-badbe-XXXXXX");
	if (!mkdtemp(simdir))
		return -1;
	snprintf(cmd, sizeof(cmd), "%s/vhactl --sim-dir %s sim start >/dev/null && %s/vhactl --sim-dir %s sim create-domain 1 >/dev/null",
		 build, simdir, build, simdir);
	return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[8192];

	(void)state;
	snprintf(cmd, sizeof(cmd), "%s/vhactl --sim-dir %s sim stop >/dev/null 2>&1; rm -rf %s", build, simdir, simdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duplicate_response_breaks_device),
	};

	if (!test_have_binary("vha-simxenstored"))
		return 77;
	vha_log_set_threshold(VHA_LOG_ERROR);
	return cmocka_run_group_tests(tests, setup, teardown);
}
