// SPDX-License-Identifier: MIT
/*
 * libvhafront against a backend that floods events and never answers
 * (XSA-391): a fake backend connects, takes one request and then notifies
 * in a tight loop without ever producing a response, and ignores Closing.
 * vha_front_poll must still return within its timeout, count the events as
 * spurious, and vha_front_close must finish in bounded time and fail the
 * request that never got an answer with -EIO. The flood is worth a warning;
 * a single event with no response (a race: a caller polling with timeout 0
 * took the responses it was sent for) is counted but not warned about.
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

/* WARN lines the library logged about events with no response. */
static unsigned int spurious_warnings;

static void count_warnings(void *opaque, enum vha_log_level level, const char *fmt, va_list ap)
{
	char line[512];

	(void)opaque;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (level <= VHA_LOG_WARN && strstr(line, "with no response"))
		spurious_warnings++;
}

/* The flooding backend (domain 0): events in a tight loop, or only `events` of them. Exit code says how far it got. */
static int flooding_backend(unsigned int events)
{
	struct vha_platform_config cfg = { .kind = "sim", .sim_dir = simdir, .sim_domid = 0 };
	struct vha_platform *p;
	struct vha_gnttab *g;
	struct vha_evtchn *e;
	struct xs_handle *xs;
	struct vha_blkif_back back;
	uint64_t ref, port, sent = 0;
	double end;
	void *ring;
	int local;

	if (vha_platform_open(&cfg, &p) < 0 || !(xs = vha_platform_xs_open(p)) || vha_gnttab_open(p, &g) < 0 ||
	    vha_evtchn_open(p, &e) < 0)
		return 10;
	if (wait_state(xs, BE, XenbusStateInitialising, 10) < 0)
		return 11;
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
	/* Flood until the frontend gives up and goes Closed (bounded, so a broken frontend cannot keep us). */
	end = test_now() + 20;
	while (test_now() < end) {
		for (int i = 0; i < 512 && (!events || sent < events); i++, sent++)
			vha_evtchn_notify(e, (vha_evtchn_port_t)local);
		if (vha_xenbus_read_state(xs, XBT_NULL, FE) == XenbusStateClosed)
			break;
		if (events)
			usleep(10000);
	}
	if (vha_xenbus_read_state(xs, XBT_NULL, FE) != XenbusStateClosed)
		return 16;
	/* The ring stays mapped to the end: the frontend must not have needed it back. */
	vha_gnttab_unmap(g, ring, 1);
	return sent > 0 ? 0 : 17;
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

static void on_alarm(int sig)
{
	static const char msg[] = "test_event_flood: the frontend did not return (hung under an event flood)\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(1);
}

static void run_against(unsigned int events)
{
	struct vha_platform_config cfg = { .kind = "sim", .sim_dir = simdir, .sim_domid = 1 };
	struct vha_front_opts opts = { .timeout_ms = 1000 };
	struct vha_platform *p;
	struct vha_front *f;
	struct result r = { 0 };
	unsigned char buf[4096];
	double t0, took;
	int status, rc;
	pid_t pid;

	spurious_warnings = 0;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(flooding_backend(events));
	assert_int_equal(test_run("head -c 1048576 /dev/zero > %s/disk.img && %s/vhactl --platform sim --sim-dir %s "
				  "attach --frontend-domid 1 --target %s/disk.img >/dev/null",
				  simdir, build, simdir, simdir), 0);
	assert_int_equal(vha_platform_open(&cfg, &p), 0);
	assert_int_equal(vha_front_open(p, 51712, &opts, &f), 0);
	assert_int_equal(vha_front_submit(f, VHA_FRONT_READ, 0, buf, sizeof(buf), cb, &r), 0);

	/* Before the fix this never returned: every event restarted the full timeout. */
	signal(SIGALRM, on_alarm);
	alarm(30);
	for (int i = 0; i < 3; i++) {
		t0 = test_now();
		rc = vha_front_poll(f, 100);
		took = test_now() - t0;
		assert_int_equal(rc, 0);
		assert_true(took < 1.0);
	}
	assert_false(r.done);
	assert_true(vha_front_get_info(f)->spurious_events > 0);
	if (events) {
		/* One event with no response: a race, counted, not warned about. */
		assert_true(vha_front_get_info(f)->spurious_events <= events);
		assert_int_equal(spurious_warnings, 0);
	} else {
		assert_true(spurious_warnings > 0);
	}

	t0 = test_now();
	vha_front_close(f);
	took = test_now() - t0;
	alarm(0);
	/* Drain (1 s: opts.timeout_ms), Closing unanswered (1 s), then Closed. */
	assert_true(took < 5.0);
	assert_true(r.done);
	assert_int_equal(r.status, -EIO);
	vha_platform_close(p);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_flood_without_responses(void **state)
{
	(void)state;
	run_against(0);
}

static void test_one_event_without_response(void **state)
{
	(void)state;
	run_against(1);
}

static int setup(void **state)
{
	(void)state;
	snprintf(build, sizeof(build), "%s", test_build_dir());
	snprintf(simdir, sizeof(simdir), "/tmp/vha-flood-XXXXXX");
	if (!mkdtemp(simdir))
		return -1;
	return test_run("%s/vhactl --sim-dir %s sim start >/dev/null && %s/vhactl --sim-dir %s sim create-domain 1 "
			">/dev/null", build, simdir, build, simdir) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return test_run("%s/vhactl --sim-dir %s sim stop >/dev/null 2>&1; rm -rf %s", build, simdir, simdir) == 0 ? 0
														      : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_flood_without_responses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_event_without_response, setup, teardown),
	};

	if (!test_have_binary("vha-simxenstored"))
		return 77;
	vha_log_set_threshold(VHA_LOG_DEBUG);
	vha_log_set_sink(count_warnings, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
