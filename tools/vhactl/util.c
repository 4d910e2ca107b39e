// SPDX-License-Identifier: MIT
/* vhactl helpers shared by the subcommands: xenstore access, waits, device names. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>
#include <xen/io/xs_wire.h>

#include "vha/cli.h"
#include "vha/sim.h"
#include "vha/xenbus.h"
#include "vhactl.h"

/* ---------------- helpers ---------------- */

double ctl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int ctl_open_xs(struct ctl *c, const char *kind, struct vha_platform **pp, struct xs_handle **xsp)
{
	struct vha_platform_config cfg = { .kind = kind ? kind : c->platform, .sim_dir = c->sim_dir,
					   .sim_domid = c->domid };

	if (vha_platform_open(&cfg, pp) < 0) {
		vha_cli_error("%s", vha_platform_strerror());
		return -1;
	}
	*xsp = vha_platform_xs_open(*pp);
	if (!*xsp) {
		vha_cli_error("cannot connect to xenstore: %s%s", strerror(errno),
			strcmp(vha_platform_kind(*pp), "sim") == 0 ? " (is the sim running? `vhactl sim start`)" : "");
		vha_platform_close(*pp);
		return -1;
	}
	return 0;
}

void ctl_close_xs(struct vha_platform *p, struct xs_handle *xs)
{
	if (xs)
		xs_close(xs);
	vha_platform_close(p);
}

pid_t ctl_read_pid(const char *path)
{
	FILE *f = fopen(path, "r");
	int pid = 0;

	if (!f)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	return pid > 0 && kill(pid, 0) == 0 ? (pid_t)pid : 0;
}

/* A pid gives no event when it exits (it is not our child): look this often. */
#define PID_POLL_US 20000

int ctl_wait_pid_gone(pid_t pid, double timeout)
{
	double end = ctl_now() + timeout;

	while (kill(pid, 0) == 0) {
		if (ctl_now() > end)
			return -1;
		usleep(PID_POLL_US);
	}
	return 0;
}

long ctl_parse_vdev(const char *s)
{
	uint64_t v;

	if (strncmp(s, "xvd", 3) == 0 && s[3] >= 'a' && s[3] <= 'o' && s[4] == '\0')
		return (202 << 8) | ((s[3] - 'a') << 4);
	if (vha_parse_u64(s, 1, INT32_MAX, 0, &v) < 0)
		return -1;
	return (long)v;
}

const char *ctl_vdev_name(unsigned long devid, char *buf, size_t len)
{
	if ((devid >> 8) == 202 && (devid & 15) == 0 && ((devid >> 4) & 15) < 15)
		snprintf(buf, len, "xvd%c", 'a' + (int)((devid >> 4) & 15));
	else
		snprintf(buf, len, "%lu", devid);
	return buf;
}

int ctl_wait_xs(struct xs_handle *xs, const char *path, double timeout, bool (*done)(struct xs_handle *, void *),
		void *arg)
{
	static const char token[] = "vhactl-wait";
	double end = ctl_now() + timeout;
	bool watching;
	int rc;

	/*
	 * The watch fires once when set and then on every change under path;
	 * the condition is re-read after each event, so none is missed
	 * between the first read and the watch. Without a watch (the daemon
	 * refused it) the condition is still checked once and at the deadline.
	 */
	watching = xs_watch(xs, path, token);
	for (;;) {
		struct pollfd pfd = { .fd = xs_fileno(xs), .events = POLLIN };
		double left;
		char **ev;

		if (done(xs, arg)) {
			rc = 0;
			break;
		}
		left = end - ctl_now();
		if (left <= 0) {
			rc = -ETIMEDOUT;
			break;
		}
		if (!watching || pfd.fd < 0) {
			usleep((useconds_t)(left * 1e6));
			continue;
		}
		if (poll(&pfd, 1, (int)(left * 1000) + 1) < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
		/* Drain every queued event: one re-read covers them all. */
		while ((ev = xs_check_watch(xs)) != NULL)
			free(ev);
	}
	if (watching)
		xs_unwatch(xs, path, token);
	return rc;
}

struct want_state {
	const char *dir;
	int want1, want2, seen;
};

static bool state_reached(struct xs_handle *xs, void *arg)
{
	struct want_state *w = arg;

	w->seen = vha_xenbus_read_state(xs, XBT_NULL, w->dir);
	return w->seen == w->want1 || w->seen == w->want2;
}

int ctl_wait_state(struct xs_handle *xs, const char *dir, int want1, int want2, double timeout)
{
	struct want_state w = { .dir = dir, .want1 = want1, .want2 = want2 };
	char path[XENSTORE_ABS_PATH_MAX + 1];
	int rc;

	snprintf(path, sizeof(path), "%s/state", dir);
	rc = ctl_wait_xs(xs, path, timeout, state_reached, &w);
	return rc < 0 ? rc : w.seen;
}
