// SPDX-License-Identifier: MIT
/*
 * One guest's slow I/O must not stall anyone else's handshake
 * (SECURITY.md, "one guest stalls all"). Guest 1 has a discard in flight
 * that takes seconds (VHA_TEST_DISCARD_DELAY_MS stands for a discard over a
 * whole large disk) and closes its device meanwhile. The backend must go
 * Closing for it at once and Closed only when the discard is done, and guest
 * 2 must connect and verify its disk while guest 1's discard still runs. A
 * main thread that joined guest 1's worker would hold guest 2 up for the
 * whole delay.
 *
 * Once Closed, the backend's state node must not move again: a toolstack
 * waiting for Closed removes the directory at once, and a later write
 * (Closed -> Closing -> Closed, as a stale re-evaluation once did) both
 * tells it the wrong thing and brings the removed directory back.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <xenstore.h>

#include "simdir.h"
#include "vha/front.h"
#include "vha/platform.h"
#include "vha/xenbus.h"

#define DELAY_MS 6000
#define DEVID 51712u

static char simdir[64], build[4096];
static pid_t backend_pid;

static void on_done(void *opaque, int status)
{
	*(int *)opaque = status == 0 ? 1 : -1;
}

/* Watch events on path until `until` (test_now() seconds); drains the first (registration) event too. */
static unsigned int count_watch_events(struct xs_handle *xs, double until)
{
	unsigned int n = 0;
	char **ev;

	while (test_now() < until) {
		struct pollfd pfd = { .fd = xs_fileno(xs), .events = POLLIN };

		if (poll(&pfd, 1, 50) <= 0)
			continue;
		while ((ev = xs_check_watch(xs)) != NULL) {
			n++;
			free(ev);
		}
	}
	return n;
}

static int setup(void **state)
{
	char env[32];

	(void)state;
	snprintf(build, sizeof(build), "%s", test_build_dir());
	snprintf(env, sizeof(env), "%d", DELAY_MS);
	setenv("VHA_TEST_DISCARD_DELAY_MS", env, 1);
	if (test_sim_backend_start(simdir, sizeof(simdir), "slow-teardown", NULL, &backend_pid) < 0)
		return -1;
	unsetenv("VHA_TEST_DISCARD_DELAY_MS");
	if (test_run("head -c 4194304 /dev/urandom > %s/a.img && cp %s/a.img %s/b.img", simdir, simdir, simdir) ||
	    test_run("%s/vhactl --sim-dir %s sim create-domain 1 >/dev/null", build, simdir) ||
	    test_run("%s/vhactl --sim-dir %s sim create-domain 2 >/dev/null", build, simdir) ||
	    test_run("%s/vhactl --platform sim --sim-dir %s attach --frontend-domid 1 --target %s/a.img >/dev/null",
		     build, simdir, simdir) ||
	    test_run("%s/vhactl --platform sim --sim-dir %s attach --frontend-domid 2 --target %s/b.img >/dev/null",
		     build, simdir, simdir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	test_sim_backend_stop(simdir, backend_pid);
	return 0;
}

static void test_slow_discard_stalls_no_one_else(void **state)
{
	struct vha_platform *p1 = test_sim_platform(simdir, 1);
	struct vha_front *f = NULL;
	struct xs_handle *xs;
	char *be = NULL;
	int done = 0;
	double t0, took;

	(void)state;
	assert_int_equal(vha_front_open(p1, DEVID, NULL, &f), 0);
	if (!vha_front_get_info(f)->discard)
		skip();
	assert_int_equal(vha_front_submit(f, VHA_FRONT_DISCARD, 0, NULL, 1 << 20, on_done, &done), 0);
	vha_front_poll(f, 200);         /* the backend has taken it by now */
	assert_int_equal(done, 0);

	/* Guest 1 walks away from its device while the discard runs. */
	xs = vha_platform_xs_open(p1);
	assert_non_null(xs);
	assert_int_equal(vha_xs_read_str(xs, XBT_NULL, "device/vbd/51712", "backend", &be), 0);
	{
		char path[256];

		snprintf(path, sizeof(path), "%s/state", be);
		assert_true(xs_watch(xs, path, "be-state"));
	}
	t0 = test_now();
	vha_xenbus_write_state(xs, XBT_NULL, "device/vbd/51712", XenbusStateClosing);

	/* Guest 2 connects and verifies meanwhile. */
	assert_int_equal(test_run("%s/vha-frontend --platform sim --sim-dir %s --domid 2 verify --random 50 --seed 3 "
				  ">/dev/null", build, simdir), 0);
	took = test_now() - t0;
	printf("guest 2 connected and verified in %.2f s while guest 1's %d ms discard ran\n", took, DELAY_MS);
	assert_true(took < DELAY_MS / 2000.0);
	/* Guest 1's device is Closing, not Closed, until its discard is done. */
	assert_int_equal(vha_xenbus_read_state(xs, XBT_NULL, be), XenbusStateClosing);
	while (vha_xenbus_read_state(xs, XBT_NULL, be) != XenbusStateClosed && test_now() - t0 < DELAY_MS / 1000.0 + 10)
		usleep(50000);
	assert_int_equal(vha_xenbus_read_state(xs, XBT_NULL, be), XenbusStateClosed);
	printf("guest 1's device Closed %.2f s after it asked\n", test_now() - t0);
	assert_true(test_now() - t0 >= DELAY_MS / 1000.0 - 1);
	{
		/* Registration, Closing, Closed: three writes' worth of events, and none after. */
		unsigned int events = count_watch_events(xs, test_now() + 1.5);

		printf("backend state node events since guest 1 closed: %u (registration, Closing, Closed)\n", events);
		assert_int_equal(events, 3);
		assert_int_equal(vha_xenbus_read_state(xs, XBT_NULL, be), XenbusStateClosed);
	}
	free(be);
	xs_close(xs);
	assert_int_equal(kill(backend_pid, 0), 0);
	vha_front_close(f);
	vha_platform_close(p1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slow_discard_stalls_no_one_else),
	};

	if (!test_have_binary("vha-simxenstored") || !test_have_binary("vha-frontend"))
		return 77;
	return cmocka_run_group_tests(tests, setup, teardown);
}
