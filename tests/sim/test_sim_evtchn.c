// SPDX-License-Identifier: MIT
/* Sim event channels: binding, notify across processes, pending/mask/unmask, teardown. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../common/sim/sim_internal.h"
#include "simdir.h"
#include "vha/platform.h"
#include "vha/sim.h"

static const char *simdir;

static int setup(void **state)
{
	static const vha_domid_t doms[] = { 0, 1, 2 };

	(void)state;
	simdir = test_simdir_create(doms, 3);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	test_simdir_remove(simdir);
	return 0;
}

static bool readable(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, timeout_ms) == 1 && (pfd.revents & POLLIN);
}

static void test_notify_across_processes(void **state)
{
	struct vha_platform *p0 = test_sim_platform(simdir, 0);
	struct vha_evtchn *e0;
	int up[2], down[2], status, remote_port, local;
	pid_t pid;
	char c;

	(void)state;
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Domain 1: offer a port to dom0, wait for one event, answer with one. */
		struct vha_platform *p1 = NULL;
		struct vha_platform_config cfg = { .kind = "sim", .sim_dir = simdir, .sim_domid = 1 };
		struct vha_evtchn *e1 = NULL;
		int port;

		if (vha_platform_open(&cfg, &p1) < 0 || vha_evtchn_open(p1, &e1) < 0)
			_exit(10);
		port = vha_evtchn_bind_unbound(e1, 0);
		if (port <= 0 || write(up[1], &port, sizeof(port)) != sizeof(port))
			_exit(11);
		if (!readable(vha_evtchn_fd(e1), 5000) || vha_evtchn_pending(e1) != port)
			_exit(12);
		if (vha_evtchn_unmask(e1, (vha_evtchn_port_t)port) != 0 || vha_evtchn_notify(e1, (vha_evtchn_port_t)port) != 0)
			_exit(13);
		if (read(down[0], &c, 1) != 1)
			_exit(14);
		vha_evtchn_close(e1);
		vha_platform_close(p1);
		_exit(0);
	}
	assert_int_equal(read(up[0], &remote_port, sizeof(remote_port)), sizeof(remote_port));
	assert_int_equal(vha_evtchn_open(p0, &e0), 0);
	/* Only the domain a port was offered to may bind it. */
	struct vha_platform *p2 = test_sim_platform(simdir, 2);
	struct vha_evtchn *e2;
	assert_int_equal(vha_evtchn_open(p2, &e2), 0);
	assert_int_equal(vha_evtchn_bind_interdomain(e2, 1, (vha_evtchn_port_t)remote_port), -EINVAL);

	local = vha_evtchn_bind_interdomain(e0, 1, (vha_evtchn_port_t)remote_port);
	assert_true(local > 0);
	assert_int_equal(vha_evtchn_pending(e0), -EAGAIN);
	assert_int_equal(vha_evtchn_notify(e0, (vha_evtchn_port_t)local), 0);
	assert_true(readable(vha_evtchn_fd(e0), 5000));
	assert_int_equal(vha_evtchn_pending(e0), local);
	assert_int_equal(write(down[1], "x", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	vha_evtchn_close(e0);
	vha_evtchn_close(e2);
	vha_platform_close(p0);
	vha_platform_close(p2);
}

/* Wait until pid has exited but is not reaped (state Z in /proc/<pid>/stat). */
static bool wait_zombie(pid_t pid)
{
	char path[64], buf[256];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	for (int i = 0; i < 500; i++) {
		FILE *f = fopen(path, "r");
		char *paren;

		if (f && fgets(buf, sizeof(buf), f) && (paren = strrchr(buf, ')')) && paren[2] == 'Z') {
			fclose(f);
			return true;
		}
		if (f)
			fclose(f);
		usleep(10000);
	}
	return false;
}

/*
 * A backend process that dies bound to a frontend's port: as on Xen (the
 * kernel closes a dead process's ports), the frontend's port falls back to
 * unbound, and a new backend process binds it again and gets events.
 */
static void test_dead_binder_port_rebinds(void **state)
{
	struct vha_platform *p1 = test_sim_platform(simdir, 1), *p0 = test_sim_platform(simdir, 0);
	struct vha_evtchn *e1, *e0, *e0b;
	int port, local, status;
	pid_t pid;

	(void)state;
	assert_int_equal(vha_evtchn_open(p1, &e1), 0);
	port = vha_evtchn_bind_unbound(e1, 0);
	assert_true(port > 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct vha_platform *c0 = NULL;
		struct vha_platform_config cfg = { .kind = "sim", .sim_dir = simdir, .sim_domid = 0 };
		struct vha_evtchn *ce = NULL;

		if (vha_platform_open(&cfg, &c0) < 0 || vha_evtchn_open(c0, &ce) < 0)
			_exit(10);
		if (vha_evtchn_bind_interdomain(ce, 1, (vha_evtchn_port_t)port) <= 0)
			_exit(11);
		_exit(0);       /* dies bound, without unbinding */
	}
	/* Not reaped yet: a zombie holds no files, so the port is free already (as on Xen). */
	assert_true(wait_zombie(pid));
	assert_int_equal(vha_evtchn_open(p0, &e0), 0);
	local = vha_evtchn_bind_interdomain(e0, 1, (vha_evtchn_port_t)port);
	assert_true(local > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* A live binder keeps the port: a second bind is refused while the first holds it. */
	assert_int_equal(vha_evtchn_open(p0, &e0b), 0);
	assert_int_equal(vha_evtchn_bind_interdomain(e0b, 1, (vha_evtchn_port_t)port), -EINVAL);
	/* The rebound channel carries events. */
	assert_int_equal(vha_evtchn_notify(e1, (vha_evtchn_port_t)port), 0);
	assert_true(readable(vha_evtchn_fd(e0), 5000));
	assert_int_equal(vha_evtchn_pending(e0), local);
	vha_evtchn_close(e0b);
	vha_evtchn_close(e0);
	vha_evtchn_close(e1);
	vha_platform_close(p0);
	vha_platform_close(p1);
}

struct flapper { char path[SIM_PATH_MAX]; volatile bool stop; unsigned long opens; };

/* A reader that comes and goes on a FIFO, as a peer process that dies right after our open would. */
static void *flap_reader(void *arg)
{
	struct flapper *fl = arg;

	while (!fl->stop) {
		int fd = open(fl->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

		if (fd >= 0) {
			fl->opens++;
			close(fd);
		}
	}
	return NULL;
}

/*
 * A peer killed between our open of its FIFO and our write (the soak's
 * backend SIGKILLed under a frontend's notifications): the write fails
 * with EPIPE, and the sender must not get SIGPIPE, whose default would kill
 * it. The event is lost, as it is to a dead domain, and notify says 0.
 */
static void test_notify_to_a_dying_peer_no_sigpipe(void **state)
{
	struct vha_platform *p1 = test_sim_platform(simdir, 1);
	struct flapper fl = { .stop = false };
	struct vha_evtchn *e1;
	int up[2], port, local, status, rc = 0;
	unsigned long notifies = 0;
	struct timespec t0, t;
	pthread_t th;
	pid_t pid;

	(void)state;
	assert_int_equal(vha_evtchn_open(p1, &e1), 0);
	port = vha_evtchn_bind_unbound(e1, 0);
	assert_true(port > 0);
	assert_int_equal(pipe(up), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct vha_platform *c0 = NULL;
		struct vha_platform_config cfg = { .kind = "sim", .sim_dir = simdir, .sim_domid = 0 };
		struct vha_evtchn *ce = NULL;
		int l;

		if (vha_platform_open(&cfg, &c0) < 0 || vha_evtchn_open(c0, &ce) < 0)
			_exit(10);
		l = vha_evtchn_bind_interdomain(ce, 1, (vha_evtchn_port_t)port);
		if (l <= 0 || write(up[1], &l, sizeof(l)) != sizeof(l))
			_exit(11);
		pause();
		_exit(0);
	}
	assert_int_equal(read(up[0], &local, sizeof(local)), sizeof(local));
	/* SIGKILL: its FIFO stays, with no reader, and our port still points at it. */
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(sim_fifo_path(fl.path, sizeof(fl.path), simdir, 0, (uint32_t)local), 0);
	assert_int_equal(pthread_create(&th, NULL, flap_reader, &fl), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		rc |= vha_evtchn_notify(e1, (vha_evtchn_port_t)port);
		notifies++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 1500000000L);
	fl.stop = true;
	pthread_join(th, NULL);
	printf("%lu notifications while a reader came and went %lu times: no SIGPIPE\n", notifies, fl.opens);
	assert_int_equal(rc, 0);
	assert_true(fl.opens > 100);
	close(up[0]);
	close(up[1]);
	vha_evtchn_close(e1);
	vha_platform_close(p1);
}

static void test_mask_unmask(void **state)
{
	struct vha_platform *p0 = test_sim_platform(simdir, 0), *p1 = test_sim_platform(simdir, 1);
	struct vha_evtchn *e0, *e1;
	int fport, bport;

	(void)state;
	assert_int_equal(vha_evtchn_open(p0, &e0), 0);
	assert_int_equal(vha_evtchn_open(p1, &e1), 0);
	fport = vha_evtchn_bind_unbound(e1, 0);
	assert_true(fport > 0);
	bport = vha_evtchn_bind_interdomain(e0, 1, (vha_evtchn_port_t)fport);
	assert_true(bport > 0);

	/* Three notifies coalesce into one delivery. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(vha_evtchn_notify(e1, (vha_evtchn_port_t)fport), 0);
	assert_true(readable(vha_evtchn_fd(e0), 1000));
	assert_int_equal(vha_evtchn_pending(e0), bport);
	assert_int_equal(vha_evtchn_pending(e0), -EAGAIN);
	/* Delivered = masked: a new event is held, not delivered ... */
	assert_int_equal(vha_evtchn_notify(e1, (vha_evtchn_port_t)fport), 0);
	assert_false(readable(vha_evtchn_fd(e0), 50));
	assert_int_equal(vha_evtchn_pending(e0), -EAGAIN);
	/* ... until unmask, which delivers it. */
	assert_int_equal(vha_evtchn_unmask(e0, (vha_evtchn_port_t)bport), 0);
	assert_true(readable(vha_evtchn_fd(e0), 1000));
	assert_int_equal(vha_evtchn_pending(e0), bport);
	assert_int_equal(vha_evtchn_unmask(e0, (vha_evtchn_port_t)bport), 0);
	/* Unmask with nothing pending delivers nothing. */
	assert_false(readable(vha_evtchn_fd(e0), 50));

	/* The other direction. */
	assert_int_equal(vha_evtchn_notify(e0, (vha_evtchn_port_t)bport), 0);
	assert_true(readable(vha_evtchn_fd(e1), 1000));
	assert_int_equal(vha_evtchn_pending(e1), fport);

	/* Unbind: the peer's port falls back to unbound; notifying it is dropped silently. */
	struct vha_sim_domain_stats st;
	assert_int_equal(vha_evtchn_unbind(e0, (vha_evtchn_port_t)bport), 0);
	assert_int_equal(vha_evtchn_notify(e1, (vha_evtchn_port_t)fport), 0);
	assert_int_equal(vha_evtchn_notify(e0, (vha_evtchn_port_t)bport), -EINVAL);
	assert_int_equal(vha_sim_domain_stats(simdir, 1, &st), 0);
	assert_int_equal(st.ports_in_use, 1);
	/* ...and can be bound again. */
	bport = vha_evtchn_bind_interdomain(e0, 1, (vha_evtchn_port_t)fport);
	assert_true(bport > 0);
	vha_evtchn_close(e0);
	vha_evtchn_close(e1);
	assert_int_equal(vha_sim_domain_stats(simdir, 1, &st), 0);
	assert_int_equal(st.ports_in_use, 0);
	vha_platform_close(p0);
	vha_platform_close(p1);
}

static void test_domain_death_closes_ports(void **state)
{
	struct vha_platform *p0 = test_sim_platform(simdir, 0), *p2 = test_sim_platform(simdir, 2);
	struct vha_evtchn *e0, *e2;
	struct vha_sim_domain_stats st;
	int fport, bport;

	(void)state;
	assert_int_equal(vha_evtchn_open(p0, &e0), 0);
	assert_int_equal(vha_evtchn_open(p2, &e2), 0);
	fport = vha_evtchn_bind_unbound(e2, 0);
	bport = vha_evtchn_bind_interdomain(e0, 2, (vha_evtchn_port_t)fport);
	assert_true(bport > 0);
	assert_int_equal(vha_sim_domain_destroy(simdir, 2), 0);
	assert_int_equal(vha_sim_domain_stats(simdir, 2, &st), 0);
	assert_int_equal(st.ports_in_use, 0);
	/* Our end is unbound now: notify is dropped, no error, nothing delivered anywhere. */
	assert_int_equal(vha_evtchn_notify(e0, (vha_evtchn_port_t)bport), 0);
	assert_false(readable(vha_evtchn_fd(e2), 50));
	/* Binding to a dead domain fails. */
	assert_int_equal(vha_evtchn_bind_interdomain(e0, 2, (vha_evtchn_port_t)fport), -ESRCH);
	vha_evtchn_close(e2);
	vha_evtchn_close(e0);
	vha_platform_close(p0);
	vha_platform_close(p2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notify_across_processes),
		cmocka_unit_test(test_mask_unmask),
		cmocka_unit_test(test_dead_binder_port_rebinds),
		cmocka_unit_test(test_domain_death_closes_ports),
		cmocka_unit_test(test_notify_to_a_dying_peer_no_sigpipe),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
