// SPDX-License-Identifier: MIT
/* Platform selection and its error messages. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "simdir.h"
#include "vha/platform.h"

static void test_xen_unavailable_here(void **state)
{
	struct vha_platform_config cfg = { .kind = "xen" };
	struct vha_platform *p = NULL;
	int rc;

	(void)state;
	if (access("/dev/xen/gntdev", F_OK) == 0)
		skip();         /* really on Xen: nothing to check here */
	rc = vha_platform_open(&cfg, &p);
	assert_int_equal(rc, -ENOENT);
	assert_null(p);
	assert_non_null(strstr(vha_platform_strerror(), "not running on Xen; use the sim platform"));
}

static void test_unknown_kind(void **state)
{
	struct vha_platform_config cfg = { .kind = "kvm" };
	struct vha_platform *p = NULL;

	(void)state;
	assert_int_equal(vha_platform_open(&cfg, &p), -EINVAL);
	assert_non_null(strstr(vha_platform_strerror(), "valid: xen, sim"));
}

static void test_sim_needs_dir_and_domain(void **state)
{
	struct vha_platform_config cfg = { .kind = "sim", .sim_domid = -1 };
	struct vha_platform *p = NULL;
	static const vha_domid_t doms[] = { 0 };
	const char *dir;

	(void)state;
	unsetenv("VHA_SIM_DIR");
	assert_int_equal(vha_platform_open(&cfg, &p), -EINVAL);
	assert_non_null(strstr(vha_platform_strerror(), "--sim-dir"));
	cfg.sim_dir = "/nonexistent/vha";
	assert_int_equal(vha_platform_open(&cfg, &p), -ENOENT);
	dir = test_simdir_create(doms, 1);
	cfg.sim_dir = dir;
	cfg.sim_domid = 5;
	assert_int_equal(vha_platform_open(&cfg, &p), -ESRCH);
	assert_non_null(strstr(vha_platform_strerror(), "vhactl sim create-domain 5"));
	/* Environment variables fill in what the config leaves out. */
	setenv("VHA_PLATFORM", "sim", 1);
	setenv("VHA_SIM_DIR", dir, 1);
	setenv("VHA_SIM_DOMID", "0", 1);
	struct vha_platform_config empty = { .sim_domid = -1 };
	assert_int_equal(vha_platform_open(&empty, &p), 0);
	assert_string_equal(vha_platform_kind(p), "sim");
	assert_int_equal(vha_platform_domid(p), 0);
	vha_platform_close(p);
	setenv("VHA_SIM_DOMID", "junk", 1);
	assert_int_equal(vha_platform_open(&empty, &p), -EINVAL);
	unsetenv("VHA_PLATFORM");
	unsetenv("VHA_SIM_DIR");
	unsetenv("VHA_SIM_DOMID");
	test_simdir_remove(dir);
}

static void test_several_domains_in_one_process(void **state)
{
	static const vha_domid_t doms[] = { 0, 1, 2 };
	const char *dir = test_simdir_create(doms, 3);
	struct vha_platform *p[3];

	(void)state;
	for (int i = 0; i < 3; i++) {
		p[i] = test_sim_platform(dir, doms[i]);
		assert_int_equal(vha_platform_domid(p[i]), doms[i]);
	}
	for (int i = 0; i < 3; i++)
		vha_platform_close(p[i]);
	vha_platform_close(NULL);
	test_simdir_remove(dir);
}

/* Wait up to 2 s for an event on e; the port delivered, or -1. */
static int wait_event(struct vha_evtchn *e)
{
	struct pollfd pfd = { .fd = vha_evtchn_fd(e), .events = POLLIN };

	if (poll(&pfd, 1, 2000) != 1)
		return -1;
	return vha_evtchn_pending(e);
}

/*
 * notify keeps the peer port's FIFO open between events. A peer process
 * that dies without unbinding (SIGKILL) and a new one that binds the same
 * port number again must still get the next event: the kept FIFO has lost
 * its reader, and the new port has a new FIFO under the same name.
 */
static void test_notify_after_peer_died_and_rebound(void **state)
{
	static const vha_domid_t doms[] = { 0, 1 };
	const char *dir = test_simdir_create(doms, 2);
	struct vha_platform *fe_p = test_sim_platform(dir, 1);
	struct vha_evtchn *fe, *be;
	int fe_port, be_port, status;
	int ready[2];
	pid_t pid;

	(void)state;
	assert_int_equal(vha_evtchn_open(fe_p, &fe), 0);
	fe_port = vha_evtchn_bind_unbound(fe, 0);
	assert_true(fe_port > 0);
	/* A first backend process: binds, is notified once, then dies holding the port. */
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct vha_platform *p = test_sim_platform(dir, 0);
		struct vha_evtchn *e;
		char c = 1;
		int port;

		if (!p || vha_evtchn_open(p, &e) != 0)
			_exit(2);
		port = vha_evtchn_bind_interdomain(e, 1, (vha_evtchn_port_t)fe_port);
		if (port <= 0 || write(ready[1], &port, sizeof(port)) != sizeof(port))
			_exit(3);
		if (wait_event(e) != port)
			_exit(4);
		if (write(ready[1], &c, 1) != 1)
			_exit(5);
		pause();        /* killed below, never unbinding */
		_exit(6);
	}
	assert_int_equal(read(ready[0], &be_port, sizeof(be_port)), sizeof(be_port));
	assert_int_equal(vha_evtchn_notify(fe, (vha_evtchn_port_t)fe_port), 0);
	{
		char c;

		assert_int_equal(read(ready[0], &c, 1), 1);     /* the first backend got it */
	}
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(ready[0]);
	close(ready[1]);
	/* A restarted backend binds again (this process now plays it) and gets the same port number. */
	{
		struct vha_platform *be_p = test_sim_platform(dir, 0);
		int port;

		assert_int_equal(vha_evtchn_open(be_p, &be), 0);
		port = vha_evtchn_bind_interdomain(be, 1, (vha_evtchn_port_t)fe_port);
		assert_int_equal(port, be_port);
		assert_int_equal(vha_evtchn_notify(fe, (vha_evtchn_port_t)fe_port), 0);
		assert_int_equal(wait_event(be), port);
		/* And again, through the FIFO now kept open. */
		assert_int_equal(vha_evtchn_unmask(be, (vha_evtchn_port_t)port), 0);
		assert_int_equal(vha_evtchn_notify(fe, (vha_evtchn_port_t)fe_port), 0);
		assert_int_equal(wait_event(be), port);
		vha_evtchn_close(be);
		vha_platform_close(be_p);
	}
	vha_evtchn_close(fe);
	vha_platform_close(fe_p);
	test_simdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xen_unavailable_here),
		cmocka_unit_test(test_unknown_kind),
		cmocka_unit_test(test_sim_needs_dir_and_domain),
		cmocka_unit_test(test_several_domains_in_one_process),
		cmocka_unit_test(test_notify_after_peer_died_and_rebound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
