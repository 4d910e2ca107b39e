// SPDX-License-Identifier: MIT
/*
 * A hostile frontend's handshake against a real vha-backend on the sim
 * platform: every node a guest writes for the connect is wrong in turn, on
 * the first queue and on the second of a two-queue device (SECURITY.md,
 * "partial setup"). Each attempt must end with that device Closed and a
 * one-line `error` node; the daemon must stay up; the guest can start over;
 * the backend log must hold no line the guest wrote; and after each
 * attempt another guest's disk must still verify and the backend's RSS
 * stay within its bound (tests/lib/isolation.h).
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <xenstore.h>

#include "isolation.h"
#include "simdir.h"
#include "vha/blkif.h"
#include "vha/platform.h"
#include "vha/xenbus.h"

#define DEVID 51712u
#define HOSTILE 1
#define OTHER 2
#define ELSEWHERE 3             /* a domain that is not the backend's */

static char simdir[64], build[4096];
static pid_t backend_pid;
static struct test_isolation iso;

enum flaw {
	F_NONE,
	F_UNGRANTED_REF,        /* a ring-ref the guest never granted */
	F_NO_REF,               /* no ring-ref node */
	F_NONNUMERIC_REF,
	F_FOREIGN_REF,          /* a ref the guest granted to another domain */
	F_BAD_PORT,             /* an event channel that is not bound to us */
	F_PORT_ZERO,
	F_NO_REFN,              /* ring order 1 with ring-ref0 only */
	F_ORDER_TOO_LARGE,
	F_NQ_ZERO,
	F_NQ_17,
	F_NQ_GARBAGE,
	F_JUNK_PROTOCOL,        /* a protocol with a newline and a forged log line */
};

struct hostile {
	struct vha_platform *p;
	struct xs_handle *xs;
	struct vha_gntshr *shr;
	struct vha_evtchn *ev;
	void *ring[2];
	grant_ref_t ring_ref[2][2];     /* [queue][page] */
	grant_ref_t foreign_ref;
	void *foreign_page;
	int port[2];
	char dir[64], be_dir[128];
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

static bool backend_alive(void)
{
	return waitpid(backend_pid, NULL, WNOHANG) == 0 && kill(backend_pid, 0) == 0;
}

static void hostile_open(struct hostile *h)
{
	struct vha_platform_config cfg = { .kind = "sim", .sim_dir = simdir, .sim_domid = HOSTILE };
	char *be = NULL;

	memset(h, 0, sizeof(*h));
	assert_int_equal(vha_platform_open(&cfg, &h->p), 0);
	h->xs = vha_platform_xs_open(h->p);
	assert_non_null(h->xs);
	snprintf(h->dir, sizeof(h->dir), "device/vbd/%u", DEVID);
	assert_int_equal(vha_xs_read_str(h->xs, XBT_NULL, h->dir, "backend", &be), 0);
	snprintf(h->be_dir, sizeof(h->be_dir), "%s", be);
	free(be);
	assert_int_equal(vha_gntshr_open(h->p, &h->shr), 0);
	for (unsigned int q = 0; q < 2; q++) {
		h->ring[q] = vha_gntshr_share(h->shr, 0, 2, h->ring_ref[q], true);
		assert_non_null(h->ring[q]);
		SHARED_RING_INIT((blkif_sring_t *)h->ring[q]);
	}
	h->foreign_page = vha_gntshr_share(h->shr, ELSEWHERE, 1, &h->foreign_ref, true);
	assert_non_null(h->foreign_page);
	assert_int_equal(vha_evtchn_open(h->p, &h->ev), 0);
}

/* Write one connect attempt with `flaw` on queue `bad` (top-level flaws ignore it) and go Initialised. */
static void attempt(struct hostile *h, enum flaw flaw, unsigned int bad)
{
	xs_transaction_t t;
	char qdir[96];

	for (unsigned int q = 0; q < 2; q++) {
		if (h->port[q] > 0)
			vha_evtchn_unbind(h->ev, (vha_evtchn_port_t)h->port[q]);
		h->port[q] = vha_evtchn_bind_unbound(h->ev, 0);
		assert_true(h->port[q] > 0);
	}
	for (unsigned int q = 0; q < 2; q++) {
		snprintf(qdir, sizeof(qdir), "%s/queue-%u", h->dir, q);
		vha_xs_rm(h->xs, XBT_NULL, qdir, "ring-ref");
		vha_xs_rm(h->xs, XBT_NULL, qdir, "ring-ref0");
		vha_xs_rm(h->xs, XBT_NULL, qdir, "ring-ref1");
	}
	do {
		t = xs_transaction_start(h->xs);
		assert_true(t != XBT_NULL);
		for (unsigned int q = 0; q < 2; q++) {
			enum flaw f = q == bad ? flaw : F_NONE;

			snprintf(qdir, sizeof(qdir), "%s/queue-%u", h->dir, q);
			if (flaw == F_NO_REFN) {
				vha_xs_write_uint(h->xs, t, qdir, "ring-ref0", h->ring_ref[q][0]);
				if (f == F_NONE)
					vha_xs_write_uint(h->xs, t, qdir, "ring-ref1", h->ring_ref[q][1]);
			} else if (f == F_UNGRANTED_REF) {
				vha_xs_write_uint(h->xs, t, qdir, "ring-ref", 4000);
			} else if (f == F_NONNUMERIC_REF) {
				vha_xs_printf(h->xs, t, qdir, "ring-ref", "%s", "12abc");
			} else if (f == F_FOREIGN_REF) {
				vha_xs_write_uint(h->xs, t, qdir, "ring-ref", h->foreign_ref);
			} else if (f != F_NO_REF) {
				vha_xs_write_uint(h->xs, t, qdir, "ring-ref", h->ring_ref[q][0]);
			}
			vha_xs_write_uint(h->xs, t, qdir, "event-channel",
					  f == F_BAD_PORT ? 999 : f == F_PORT_ZERO ? 0 : (uint64_t)h->port[q]);
		}
		vha_xs_write_uint(h->xs, t, h->dir, "ring-page-order",
				  flaw == F_NO_REFN ? 1 : flaw == F_ORDER_TOO_LARGE ? 9 : 0);
		if (flaw == F_NQ_GARBAGE)
			vha_xs_printf(h->xs, t, h->dir, "multi-queue-num-queues", "%s", "two");
		else
			vha_xs_write_uint(h->xs, t, h->dir, "multi-queue-num-queues",
					  flaw == F_NQ_ZERO ? 0 : flaw == F_NQ_17 ? 17 : 2);
		vha_xs_printf(h->xs, t, h->dir, "protocol", "%s", flaw == F_JUNK_PROTOCOL ?
			      "x86\nvha: error: device 2/51712: forged by guest 1" : VHA_BLKIF_PROTOCOL_NATIVE);
		vha_xenbus_write_state(h->xs, t, h->dir, XenbusStateInitialised);
	} while (!xs_transaction_end(h->xs, t, false) && errno == EAGAIN);
}

static int setup(void **state)
{
	const char *args[] = { "--max-queues", "2", NULL };

	(void)state;
	snprintf(build, sizeof(build), "%s", test_build_dir());
	if (test_sim_backend_start(simdir, sizeof(simdir), "hostile-setup", args, &backend_pid) < 0)
		return -1;
	if (test_run("head -c 4194304 /dev/urandom > %s/a.img && cp %s/a.img %s/b.img", simdir, simdir, simdir) ||
	    test_run("%s/vhactl --sim-dir %s sim create-domain %d >/dev/null", build, simdir, HOSTILE) ||
	    test_run("%s/vhactl --sim-dir %s sim create-domain %d >/dev/null", build, simdir, OTHER) ||
	    test_run("%s/vhactl --sim-dir %s sim create-domain %d >/dev/null", build, simdir, ELSEWHERE) ||
	    test_run("%s/vhactl --platform sim --sim-dir %s attach --frontend-domid %d --target %s/a.img >/dev/null",
		     build, simdir, HOSTILE, simdir) ||
	    test_run("%s/vhactl --platform sim --sim-dir %s attach --frontend-domid %d --target %s/b.img >/dev/null",
		     build, simdir, OTHER, simdir))
		return -1;
	/* The other guest is the witness every attempt is checked against. */
	test_isolation_init(&iso, simdir, backend_pid, OTHER);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	test_sim_backend_stop(simdir, backend_pid);
	return 0;
}

static void test_every_setup_step_fails_cleanly(void **state)
{
	static const struct { enum flaw flaw; const char *name; bool per_queue; } cases[] = {
		{ F_UNGRANTED_REF, "ring-ref never granted", true },
		{ F_NO_REF, "no ring-ref", true },
		{ F_NONNUMERIC_REF, "non-numeric ring-ref", true },
		{ F_FOREIGN_REF, "ring-ref granted to another domain", true },
		{ F_BAD_PORT, "event channel not bound to the backend", true },
		{ F_PORT_ZERO, "event-channel 0", true },
		{ F_NO_REFN, "ring order 1 without ring-ref1", true },
		{ F_ORDER_TOO_LARGE, "ring-page-order 9", false },
		{ F_NQ_ZERO, "multi-queue-num-queues 0", false },
		{ F_NQ_17, "multi-queue-num-queues 17", false },
		{ F_NQ_GARBAGE, "multi-queue-num-queues garbage", false },
		{ F_JUNK_PROTOCOL, "protocol with a forged log line", false },
	};
	struct hostile h;
	struct vha_platform *dom0 = test_sim_platform(simdir, 0);
	struct xs_handle *xs0 = vha_platform_xs_open(dom0);
	unsigned int tried = 0;
	char cmd[8192];

	(void)state;
	assert_non_null(xs0);
	hostile_open(&h);
	assert_int_equal(wait_state(h.xs, h.be_dir, XenbusStateInitWait, 10), XenbusStateInitWait);
	for (unsigned int c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (unsigned int bad = 0; bad < (cases[c].per_queue ? 2u : 1u); bad++) {
			char *err = NULL, name[128];

			attempt(&h, cases[c].flaw, bad);
			if (wait_state(h.xs, h.be_dir, XenbusStateClosed, 10) != XenbusStateClosed)
				fail_msg("%s (queue %u): backend did not close", cases[c].name, bad);
			if (!backend_alive())
				fail_msg("%s (queue %u): vha-backend died", cases[c].name, bad);
			if (vha_xs_read_str(xs0, XBT_NULL, h.be_dir, "error", &err) < 0)
				fail_msg("%s (queue %u): no error node", cases[c].name, bad);
			for (const char *p = err; *p; p++)
				if ((unsigned char)*p < 0x20)
					fail_msg("%s: control character in the error node '%s'", cases[c].name, err);
			free(err);
			/* Start over: the backend offers InitWait again. */
			vha_xenbus_write_state(h.xs, XBT_NULL, h.dir, XenbusStateInitialising);
			if (wait_state(h.xs, h.be_dir, XenbusStateInitWait, 10) != XenbusStateInitWait)
				fail_msg("%s (queue %u): no InitWait after starting over", cases[c].name, bad);
			snprintf(name, sizeof(name), "%s (queue %u)", cases[c].name, bad);
			test_isolation_check(&iso, name);
			tried++;
		}
	}
	assert_int_equal(tried, 19);
	/* The same frontend, honest at last, connects both queues. */
	attempt(&h, F_NONE, 0);
	assert_int_equal(wait_state(h.xs, h.be_dir, XenbusStateConnected, 10), XenbusStateConnected);
	assert_true(backend_alive());
	/* No line in the log that the guest wrote. */
	snprintf(cmd, sizeof(cmd), "grep -q '^vha: error: device 2/51712: forged' %s/backend.log", simdir);
	assert_int_not_equal(system(cmd), 0);
	/* Another guest's disk still works. */
	test_isolation_check(&iso, "the honest connect of both queues");
	assert_true(backend_alive());
	for (unsigned int q = 0; q < 2; q++)
		vha_gntshr_unshare(h.shr, h.ring[q], 2);
	vha_gntshr_unshare(h.shr, h.foreign_page, 1);
	vha_gntshr_close(h.shr);
	vha_evtchn_close(h.ev);
	xs_close(h.xs);
	vha_platform_close(h.p);
	xs_close(xs0);
	vha_platform_close(dom0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_setup_step_fails_cleanly),
	};

	if (!test_have_binary("vha-simxenstored") || !test_have_binary("vha-frontend"))
		return 77;
	return cmocka_run_group_tests(tests, setup, teardown);
}
