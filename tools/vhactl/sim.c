// SPDX-License-Identifier: MIT
/* vhactl sim: start, stop, status, create-domain and destroy-domain of the simulated platform. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fs.h>
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

#include "vha/cli.h"
#include "vha/sim.h"
#include "vha/xenbus.h"
#include "vhactl.h"

/* ---------------- sim ---------------- */

/* `sim status` of a sim that is not running: what an LSB init script's status answers. */
#define SIM_STATUS_NOT_RUNNING 3
#define SIM_COMMANDS "start|stop|status|create-domain N|destroy-domain N"

static int mkdirs(const char *base, const char *sub)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s%s%s", base, sub ? "/" : "", sub ? sub : "");
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		vha_cli_error("sim: cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int sim_start(struct ctl *c)
{
	char pidfile[PATH_MAX], log[PATH_MAX], xsdir[PATH_MAX], bin[PATH_MAX];
	struct vha_platform *p;
	struct xs_handle *xs;
	pid_t pid;
	int status, rc;

	snprintf(pidfile, sizeof(pidfile), "%s/run/xenstored.pid", c->sim_dir);
	if (ctl_read_pid(pidfile)) {
		vha_cli_error("sim start: the sim in %s is already running (vhactl sim status)", c->sim_dir);
		return VHA_EXIT_FAILURE;
	}
	if (mkdirs(c->sim_dir, NULL) || mkdirs(c->sim_dir, "run") || mkdirs(c->sim_dir, "logs") ||
	    mkdirs(c->sim_dir, "xenstore"))
		return VHA_EXIT_FAILURE;
	snprintf(xsdir, sizeof(xsdir), "%s/xenstore", c->sim_dir);
	snprintf(log, sizeof(log), "%s/logs/xenstored.log", c->sim_dir);
	snprintf(bin, sizeof(bin), "%s/vha-simxenstored", c->self_dir);
	pid = fork();
	if (pid < 0) {
		vha_cli_error("sim start: fork: %s", strerror(errno));
		return VHA_EXIT_FAILURE;
	}
	if (pid == 0) {
		FILE *f = freopen(log, "a", stderr);

		(void)f;
		execl(bin, bin, "--dir", xsdir, "--daemon", "--pid-file", pidfile, (char *)NULL);
		vha_cli_error("sim start: cannot run %s: %s", bin, strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		vha_cli_error("sim start: vha-simxenstored did not start (see %s)", log);
		return VHA_EXIT_FAILURE;
	}
	rc = vha_sim_domain_create(c->sim_dir, 0);
	if (rc < 0 && rc != -EEXIST) {
		vha_cli_error("sim start: cannot create sim domain 0: %s", strerror(-rc));
		return VHA_EXIT_FAILURE;
	}
	if (ctl_open_xs(c, "sim", &p, &xs) < 0)
		return VHA_EXIT_FAILURE;
	vha_xs_printf(xs, XBT_NULL, "/local/domain/0", "name", "Domain-0");
	vha_xs_printf(xs, XBT_NULL, "/local/domain/0", "domid", "0");
	ctl_close_xs(p, xs);
	printf("sim running in %s (export VHA_PLATFORM=sim VHA_SIM_DIR=%s)\n", c->sim_dir, c->sim_dir);
	return VHA_EXIT_OK;
}

static int sim_stop(struct ctl *c)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	pid_t pid;

	/* Backends of this sim first, so they close their devices while xenstore is up. */
	snprintf(path, sizeof(path), "%s/run", c->sim_dir);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, "backend-", 8) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/run/%s/pid", c->sim_dir, de->d_name);
		pid = ctl_read_pid(path);
		if (pid) {
			kill(pid, SIGTERM);
			if (ctl_wait_pid_gone(pid, 10) < 0)
				kill(pid, SIGKILL);
		}
	}
	if (d)
		closedir(d);
	snprintf(path, sizeof(path), "%s/run/xenstored.pid", c->sim_dir);
	pid = ctl_read_pid(path);
	if (pid) {
		kill(pid, SIGTERM);
		if (ctl_wait_pid_gone(pid, 5) < 0)
			kill(pid, SIGKILL);
	}
	unlink(path);
	snprintf(path, sizeof(path), "%s/domains", c->sim_dir);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		unsigned int domid;
		char tail;

		if (sscanf(de->d_name, "%u.me%c", &domid, &tail) == 2 && tail == 'm') {
			vha_sim_domain_destroy(c->sim_dir, domid);
			snprintf(path, sizeof(path), "%s/domains/%s", c->sim_dir, de->d_name);
			unlink(path);
		}
	}
	if (d)
		closedir(d);
	printf("sim in %s stopped\n", c->sim_dir);
	return VHA_EXIT_OK;
}

static int sim_status(struct ctl *c)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	pid_t pid;
	int running;

	snprintf(path, sizeof(path), "%s/run/xenstored.pid", c->sim_dir);
	pid = ctl_read_pid(path);
	running = pid != 0;
	printf("sim directory: %s\nxenstored:     %s", c->sim_dir, running ? "running, pid " : "not running\n");
	if (running)
		printf("%d\n", (int)pid);
	snprintf(path, sizeof(path), "%s/domains", c->sim_dir);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		unsigned int domid;
		struct vha_sim_domain_stats st;

		if (sscanf(de->d_name, "%u.mem", &domid) != 1 || !strstr(de->d_name, ".mem") ||
		    vha_sim_domain_stats(c->sim_dir, domid, &st) < 0)
			continue;
		printf("domain %-5u   %s, %u grants active, %u of its pages mapped by others, %u ports\n", domid,
		       st.alive ? "alive" : "dead", st.grants_active, st.pages_mapped, st.ports_in_use);
	}
	if (d)
		closedir(d);
	snprintf(path, sizeof(path), "%s/run", c->sim_dir);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, "backend-", 8) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/run/%s/pid", c->sim_dir, de->d_name);
		pid = ctl_read_pid(path);
		if (pid)
			printf("vha-backend:   %s, pid %d\n", de->d_name + 8, (int)pid);
	}
	if (d)
		closedir(d);
	return running ? VHA_EXIT_OK : SIM_STATUS_NOT_RUNNING;
}

static int sim_create_domain(struct ctl *c, unsigned int domid, const char *name)
{
	struct vha_platform *p;
	struct xs_handle *xs;
	char dir[CTL_XS_PATH_MAX], buf[CTL_NAME_MAX];
	struct xs_permissions perms[1] = { { .id = domid, .perms = XS_PERM_NONE } };
	int rc;

	rc = vha_sim_domain_create(c->sim_dir, domid);
	if (rc < 0) {
		vha_cli_error("sim create-domain: cannot create sim domain %u: %s", domid, strerror(-rc));
		return VHA_EXIT_FAILURE;
	}
	if (ctl_open_xs(c, "sim", &p, &xs) < 0)
		return VHA_EXIT_FAILURE;
	snprintf(dir, sizeof(dir), "/local/domain/%u", domid);
	rc = VHA_EXIT_FAILURE;
	/* As a toolstack does: the domain owns its home; others (but dom0) cannot see it. */
	if (!xs_mkdir(xs, XBT_NULL, dir) || !xs_set_permissions(xs, XBT_NULL, dir, perms, 1)) {
		vha_cli_error("sim create-domain: cannot create %s: %s", dir, strerror(errno));
		goto out;
	}
	snprintf(buf, sizeof(buf), "%s", name ? name : "");
	if (!name)
		snprintf(buf, sizeof(buf), "sim-domain-%u", domid);
	vha_xs_printf(xs, XBT_NULL, dir, "name", "%s", buf);
	vha_xs_printf(xs, XBT_NULL, dir, "domid", "%u", domid);
	vha_xs_printf(xs, XBT_NULL, dir, "device", "%s", "");
	if (!xs_introduce_domain(xs, domid, 0, 0)) {
		vha_cli_error("sim create-domain: xenstore refused to introduce domain %u: %s", domid, strerror(errno));
		goto out;
	}
	printf("domain %u created\n", domid);
	rc = VHA_EXIT_OK;
out:
	ctl_close_xs(p, xs);
	return rc;
}

/* Every backend dir serving frontend `fe`: /local/domain/<be>/backend/<type>/<fe>. */
static void for_each_backend_of(struct xs_handle *xs, unsigned int fe, void (*fn)(struct xs_handle *, const char *, void *),
				void *arg)
{
	unsigned int ndom = 0, ntype = 0;
	char **doms = xs_directory(xs, XBT_NULL, "/local/domain", &ndom);
	char path[CTL_XS_PATH_MAX], fes[CTL_NAME_MAX];

	snprintf(fes, sizeof(fes), "%u", fe);
	for (unsigned int i = 0; doms && i < ndom; i++) {
		char **types;

		snprintf(path, sizeof(path), "/local/domain/%s/backend", doms[i]);
		types = xs_directory(xs, XBT_NULL, path, &ntype);
		for (unsigned int j = 0; types && j < ntype; j++) {
			snprintf(path, sizeof(path), "/local/domain/%s/backend/%s/%u", doms[i], types[j], fe);
			fn(xs, path, arg);
		}
		free(types);
	}
	free(doms);
}

struct wait_closed { double end; };

static void wait_closed_fn(struct xs_handle *xs, const char *path, void *arg)
{
	struct wait_closed *w = arg;
	unsigned int n = 0;
	char **devs = xs_directory(xs, XBT_NULL, path, &n), dir[CTL_XS_CHILD_MAX];

	for (unsigned int i = 0; devs && i < n; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", path, devs[i]);
		double left = w->end - ctl_now();
		ctl_wait_state(xs, dir, XenbusStateClosed, XenbusStateClosed, left > 0 ? left : 0);
	}
	free(devs);
}

static void rm_fn(struct xs_handle *xs, const char *path, void *arg)
{
	(void)arg;
	xs_rm(xs, XBT_NULL, path);
}

static int sim_destroy_domain(struct ctl *c, unsigned int domid, double timeout)
{
	struct vha_platform *p;
	struct xs_handle *xs;
	struct wait_closed w = { .end = ctl_now() + timeout };
	char dir[CTL_XS_PATH_MAX];
	int rc;

	if (domid == 0)
		return vha_cli_usage("sim destroy-domain: domain 0 lives as long as the sim (vhactl sim stop)");
	if (ctl_open_xs(c, "sim", &p, &xs) < 0)
		return VHA_EXIT_FAILURE;
	/* Dead first (grants revoked, ports closed), then tell xenstore watchers. */
	rc = vha_sim_domain_destroy(c->sim_dir, domid);
	if (rc < 0)
		vha_cli_error("sim destroy-domain: sim domain %u: %s", domid, strerror(-rc));
	if (!xs_release_domain(xs, domid))
		vha_cli_error("sim destroy-domain: xenstore release of domain %u: %s", domid, strerror(errno));
	/* Give backends the chance to close their devices, then remove what the toolstack owns. */
	for_each_backend_of(xs, domid, wait_closed_fn, &w);
	for_each_backend_of(xs, domid, rm_fn, NULL);
	snprintf(dir, sizeof(dir), "/local/domain/%u", domid);
	xs_rm(xs, XBT_NULL, dir);
	ctl_close_xs(p, xs);
	printf("domain %u destroyed\n", domid);
	return rc < 0 ? VHA_EXIT_FAILURE : VHA_EXIT_OK;
}

int ctl_sim(struct ctl *c, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (!sub)
		return vha_cli_usage("sim needs a subcommand (" SIM_COMMANDS ")");
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
		printf("vhactl sim start|stop|status\n"
		       "vhactl sim create-domain N [--name S]\n"
		       "vhactl sim destroy-domain N [--timeout S]\n"
		       "Run the simulated Xen platform in the sim directory (vha-simxenstored and the\n"
		       "sim's shared state), create a domain as the toolstack does (memory, xenstore\n"
		       "directory, introduce), or tear one down: wait up to S seconds (default 10) for\n"
		       "its backends to close, then remove its devices and its directory.\n");
		return VHA_EXIT_OK;
	}
	if (strcmp(sub, "start") == 0 || strcmp(sub, "stop") == 0 || strcmp(sub, "status") == 0) {
		if (argc > 2)
			return vha_cli_usage("sim %s: unexpected argument '%s'", sub, argv[2]);
		if (strcmp(sub, "start") == 0)
			return sim_start(c);
		return strcmp(sub, "stop") == 0 ? sim_stop(c) : sim_status(c);
	}
	if ((strcmp(sub, "create-domain") == 0 || strcmp(sub, "destroy-domain") == 0)) {
		long domid;
		const char *name = NULL;
		double timeout = 10;

		if (argc <= 2)
			return vha_cli_usage("sim %s: needs a domain id", sub);
		if (vha_cli_long("sim domain id", argv[2], 0, VHA_DOMID_MAX, &domid) < 0) {
			vha_cli_hint();
			return VHA_EXIT_USAGE;
		}
		for (int i = 3; i < argc; i += 2) {
			bool create = sub[0] == 'c';

			if (create ? strcmp(argv[i], "--name") : strcmp(argv[i], "--timeout"))
				return vha_cli_usage("sim %s: unknown option '%s' (%s)", sub, argv[i],
						     create ? "--name S" : "--timeout S");
			if (i + 1 >= argc)
				return vha_cli_usage("sim %s: option '%s' needs an argument", sub, argv[i]);
			if (create) {
				name = argv[i + 1];
			} else if (vha_cli_double("timeout", argv[i + 1], 0, 86400, &timeout) < 0) {
				vha_cli_hint();
				return VHA_EXIT_USAGE;
			}
		}
		return sub[0] == 'c' ? sim_create_domain(c, (unsigned int)domid, name)
				     : sim_destroy_domain(c, (unsigned int)domid, timeout);
	}
	return vha_cli_usage("sim: unknown subcommand '%s' (" SIM_COMMANDS ")", sub);
}
