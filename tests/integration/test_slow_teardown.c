// SPDX-License-Identifier: MIT
/*
 * One guest's slow I/O must not stall anyone else's handshake
 * (SECURITY.md, "one guest stalls all").
 *
 * A flush that takes seconds (VHA_TEST_FLUSH_DELAY_MS stands for an fsync
 * of a large dirty cache; nothing can cut it short): guest 1 closes its
 * device while it runs. The backend must go Closing for it at once and
 * Closed only when the flush is done, and guest 2 must connect and read
 * its disk meanwhile. A main thread that joined guest 1's worker would hold
 * guest 2 up for the whole delay.
 *
 * A discard over a whole large disk (VHA_TEST_DISCARD_DELAY_MS) is done in
 * chunks: a device closed meanwhile stops it at the next chunk, answers it
 * with an error, and is Closed long before the discard would have ended.
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
	setenv("VHA_TEST_FLUSH_DELAY_MS", env, 1);
	if (test_sim_backend_start(simdir, sizeof(simdir), "slow-teardown", NULL, &backend_pid) < 0)
		return -1;
	unsetenv("VHA_TEST_DISCARD_DELAY_MS");
	unsetenv("VHA_TEST_FLUSH_DELAY_MS");
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

/*
 * Guest 1 submits op, lets the backend take it, then closes its device with
 * a watch on the backend's state. Returns the watch handle; *be_out is the
 * backend directory (caller frees), *t0 when guest 1 asked to close.
 */
static struct xs_handle *submit_then_close(struct vha_platform *p1, struct vha_front **f, enum vha_front_op op,
					   int *done, char **be_out, double *t0)
{
	struct xs_handle *xs;
	char path[256];

	assert_int_equal(vha_front_open(p1, DEVID, NULL, f), 0);
	if (op == VHA_FRONT_DISCARD && !vha_front_get_info(*f)->discard)
		skip();
	assert_int_equal(vha_front_submit(*f, op, 0, NULL, op == VHA_FRONT_DISCARD ? 1 << 20 : 0, on_done, done), 0);
	vha_front_poll(*f, 200);        /* the backend has taken it by now */
	assert_int_equal(*done, 0);
	xs = vha_platform_xs_open(p1);
	assert_non_null(xs);
	assert_int_equal(vha_xs_read_str(xs, XBT_NULL, "device/vbd/51712", "backend", be_out), 0);
	snprintf(path, sizeof(path), "%s/state", *be_out);
	assert_true(xs_watch(xs, path, "be-state"));
	*t0 = test_now();
	vha_xenbus_write_state(xs, XBT_NULL, "device/vbd/51712", XenbusStateClosing);
	return xs;
}

/* Guest 2 connects, reads its disk and closes: no flush, which would wait out the test's flush delay. */
static double guest2_reads(void)
{
	double t = test_now();

	assert_int_equal(test_run("%s/vha-frontend --platform sim --sim-dir %s --domid 2 read --length 1m "
				  "--out /dev/null", build, simdir), 0);
	return test_now() - t;
}

static void wait_closed(struct xs_handle *xs, const char *be, double t0, double limit)
{
	while (vha_xenbus_read_state(xs, XBT_NULL, be) != XenbusStateClosed && test_now() - t0 < limit)
		usleep(20000);
	assert_int_equal(vha_xenbus_read_state(xs, XBT_NULL, be), XenbusStateClosed);
}

/* Registration, Closing, Closed: three writes' worth of events, and none after. */
static void assert_closed_for_good(struct xs_handle *xs, const char *be)
{
	unsigned int events = count_watch_events(xs, test_now() + 1.5);

	printf("backend state node events since guest 1 closed: %u (registration, Closing, Closed)\n", events);
	assert_int_equal(events, 3);
	assert_int_equal(vha_xenbus_read_state(xs, XBT_NULL, be), XenbusStateClosed);
}

static void test_slow_flush_stalls_no_one_else(void **state)
{
	struct vha_platform *p1 = test_sim_platform(simdir, 1);
	struct vha_front *f = NULL;
	struct xs_handle *xs;
	char *be = NULL;
	int done = 0;
	double t0, took;

	(void)state;
	xs = submit_then_close(p1, &f, VHA_FRONT_FLUSH, &done, &be, &t0);
	took = guest2_reads();
	printf("guest 2 connected and read in %.2f s while guest 1's %d ms flush ran\n", took, DELAY_MS);
	assert_true(took < DELAY_MS / 2000.0);
	/* Guest 1's device is Closing, not Closed, until its flush is done. */
	assert_int_equal(vha_xenbus_read_state(xs, XBT_NULL, be), XenbusStateClosing);
	wait_closed(xs, be, t0, DELAY_MS / 1000.0 + 10);
	printf("guest 1's device Closed %.2f s after it asked\n", test_now() - t0);
	assert_true(test_now() - t0 >= DELAY_MS / 1000.0 - 1);
	vha_front_poll(f, 100);
	assert_int_equal(done, 1);      /* the flush was done, and answered */
	assert_closed_for_good(xs, be);
	free(be);
	xs_close(xs);
	assert_int_equal(kill(backend_pid, 0), 0);
	vha_front_close(f);
	vha_platform_close(p1);
}

static void test_long_discard_stops_at_a_chunk(void **state)
{
	struct vha_platform *p1 = test_sim_platform(simdir, 1);
	struct vha_front *f = NULL;
	struct xs_handle *xs;
	char *be = NULL;
	int done = 0;
	double t0, took;

	(void)state;
	xs = submit_then_close(p1, &f, VHA_FRONT_DISCARD, &done, &be, &t0);
	wait_closed(xs, be, t0, DELAY_MS / 1000.0 + 10);
	took = test_now() - t0;
	printf("guest 1's device Closed %.2f s after it asked, its %d ms discard cut short\n", took, DELAY_MS);
	assert_true(took < DELAY_MS / 2000.0);
	vha_front_poll(f, 500);
	printf("guest 1's discard answered: %s\n", done == -1 ? "error" : done == 1 ? "ok" : "not at all");
	assert_int_equal(done, -1);
	assert_closed_for_good(xs, be);
	assert_true(guest2_reads() < DELAY_MS / 2000.0);
	free(be);
	xs_close(xs);
	assert_int_equal(kill(backend_pid, 0), 0);
	vha_front_close(f);
	vha_platform_close(p1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_slow_flush_stalls_no_one_else, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_discard_stops_at_a_chunk, setup, teardown),
	};

	if (!test_have_binary("vha-simxenstored") || !test_have_binary("vha-frontend"))
		return 77;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
