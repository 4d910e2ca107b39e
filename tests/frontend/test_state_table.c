// SPDX-License-Identifier: MIT
/*
 * libvhafront moves its own xenbus state through the transition table
 * (STYLE.md rule 7). A fake backend thread (domain 0) drives the handshake
 * by hand:
 * - someone writes Connected into the frontend's state node while it waits
 *   for InitWait: Connected -> Initialised is off the table, so the frontend
 *   publishes no rings, closes with an `error` node naming the move, and
 *   vha_front_open fails with -EPROTO (it used to write Initialised anyway);
 * - a frontend whose node was left Connected (a process that died) starts
 *   over: the backend sees Initialising and no error node, as before.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <xenstore.h>

#include "simdir.h"
#include "vha/front.h"
#include "vha/log.h"
#include "vha/platform.h"
#include "vha/xenbus.h"

static char simdir[48], build[4000];

#define FE_DOMID 1u
#define DEVID 51712u
static const char *BE = "/local/domain/0/backend/vbd/1/51712";
static const char *FE = "/local/domain/1/device/vbd/51712";

/* Poll (the test's side only) until dir's state is want: 0, or -1 after seconds. */
static int wait_state(struct xs_handle *xs, const char *dir, int want, double seconds)
{
	for (double end = test_now() + seconds; test_now() < end; usleep(2000))
		if (vha_xenbus_read_state(xs, XBT_NULL, dir) == want)
			return 0;
	return -1;
}

/* Both directories as a toolstack writes them, the frontend's state `fe_state`. */
static void make_device(struct xs_handle *xs, int fe_state)
{
	struct xs_permissions be_perms[2] = { { .id = 0, .perms = XS_PERM_NONE }, { .id = FE_DOMID, .perms = XS_PERM_READ } };
	struct xs_permissions fe_perms[2] = { { .id = FE_DOMID, .perms = XS_PERM_NONE }, { .id = 0, .perms = XS_PERM_READ } };

	xs_rm(xs, XBT_NULL, BE);
	xs_rm(xs, XBT_NULL, FE);
	assert_true(xs_mkdir(xs, XBT_NULL, BE));
	assert_true(xs_set_permissions(xs, XBT_NULL, BE, be_perms, 2));
	assert_true(xs_mkdir(xs, XBT_NULL, FE));
	assert_true(xs_set_permissions(xs, XBT_NULL, FE, fe_perms, 2));
	assert_int_equal(vha_xs_printf(xs, XBT_NULL, BE, "frontend", "%s", FE), 0);
	assert_int_equal(vha_xenbus_write_state(xs, XBT_NULL, BE, XenbusStateInitialising), 0);
	assert_int_equal(vha_xs_printf(xs, XBT_NULL, FE, "backend", "%s", BE), 0);
	assert_int_equal(vha_xs_write_uint(xs, XBT_NULL, FE, "backend-id", 0), 0);
	assert_int_equal(vha_xenbus_write_state(xs, XBT_NULL, FE, fe_state), 0);
}

struct fake {
	struct xs_handle *xs;
	int inject;             /* written into the frontend's node once it is Initialising; -1: none */
	bool saw_initialising;
	bool error_then;        /* an error node existed when Initialising was seen */
};

/* The fake backend: wait for the frontend's Initialising, maybe tamper, then InitWait. */
static void *fake_backend(void *arg)
{
	struct fake *fk = arg;
	char *err = NULL;

	if (wait_state(fk->xs, FE, XenbusStateInitialising, 10) < 0)
		return NULL;
	fk->saw_initialising = true;
	fk->error_then = vha_xs_read_str(fk->xs, XBT_NULL, FE, "error", &err) == 0;
	free(err);
	/* Before InitWait: the frontend cannot be publishing yet. */
	if (fk->inject >= 0)
		vha_xenbus_write_state(fk->xs, XBT_NULL, FE, fk->inject);
	vha_xenbus_write_state(fk->xs, XBT_NULL, BE, XenbusStateInitWait);
	return NULL;
}

static int open_with(int fe_state, int inject, unsigned int timeout_ms, struct fake *fk)
{
	struct vha_platform *p0 = test_sim_platform(simdir, 0), *p1 = test_sim_platform(simdir, FE_DOMID);
	struct vha_front_opts opts = { .timeout_ms = timeout_ms };
	struct vha_front *f = NULL;
	pthread_t th;
	int rc;

	fk->xs = vha_platform_xs_open(p0);
	assert_non_null(fk->xs);
	fk->inject = inject;
	make_device(fk->xs, fe_state);
	assert_int_equal(pthread_create(&th, NULL, fake_backend, fk), 0);
	rc = vha_front_open(p1, DEVID, &opts, &f);
	assert_int_equal(pthread_join(th, NULL), 0);
	if (rc == 0)
		vha_front_close(f);
	vha_platform_close(p1);
	vha_platform_close(p0);
	return rc;
}

static void test_refuses_a_move_off_the_table(void **state)
{
	struct fake fk = { 0 };
	struct xs_handle *xs;
	struct vha_platform *p0;
	char *err = NULL, *ring = NULL;
	int rc;

	(void)state;
	rc = open_with(XenbusStateClosed, XenbusStateConnected, 2000, &fk);
	assert_true(fk.saw_initialising);
	assert_int_equal(rc, -EPROTO);

	p0 = test_sim_platform(simdir, 0);
	xs = vha_platform_xs_open(p0);
	assert_non_null(xs);
	assert_int_equal(vha_xs_read_str(xs, XBT_NULL, FE, "error", &err), 0);
	assert_non_null(strstr(err, "Connected -> Initialised is not a xenbus transition"));
	/* Nothing published: the backend has no rings to map. */
	assert_int_equal(vha_xs_read_str(xs, XBT_NULL, FE, "ring-ref", &ring), -ENOENT);
	/* Closing (the refusal), then Closed as open gives up. */
	assert_int_equal(vha_xenbus_read_state(xs, XBT_NULL, FE), XenbusStateClosed);
	free(err);
	xs_close(xs);
	vha_platform_close(p0);
}

static void test_starts_over_from_connected(void **state)
{
	struct fake fk = { 0 };
	int rc;

	(void)state;
	/* No Connected from this backend: the open times out, but the start-over is what counts. */
	rc = open_with(XenbusStateConnected, -1, 300, &fk);
	assert_int_equal(rc, -ETIMEDOUT);
	assert_true(fk.saw_initialising);
	assert_false(fk.error_then);
}

static int setup(void **state)
{
	(void)state;
	snprintf(build, sizeof(build), "%s", test_build_dir());
	snprintf(simdir, sizeof(simdir), "/tmp/vha-fstate-XXXXXX");
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
		cmocka_unit_test(test_refuses_a_move_off_the_table),
		cmocka_unit_test(test_starts_over_from_connected),
	};

	if (!test_have_binary("vha-simxenstored") || !test_have_binary("vhactl"))
		return 77;
	vha_log_set_threshold(VHA_LOG_ERROR);
	return cmocka_run_group_tests(tests, setup, teardown);
}
