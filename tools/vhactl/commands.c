// SPDX-License-Identifier: MIT
/* vhactl subcommands. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
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

#include "vha/sim.h"
#include "vha/xenbus.h"
#include "vhactl.h"

/* ---------------- helpers ---------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int open_xs(struct ctl *c, const char *kind, struct vha_platform **pp, struct xs_handle **xsp)
{
	struct vha_platform_config cfg = { .kind = kind ? kind : c->platform, .sim_dir = c->sim_dir,
					   .sim_domid = c->domid };

	if (vha_platform_open(&cfg, pp) < 0) {
		fprintf(stderr, "vhactl: %s\n", vha_platform_strerror());
		return -1;
	}
	*xsp = vha_platform_xs_open(*pp);
	if (!*xsp) {
		fprintf(stderr, "vhactl: cannot connect to xenstore: %s%s\n", strerror(errno),
			strcmp(vha_platform_kind(*pp), "sim") == 0 ? " (is the sim running? `vhactl sim start`)" : "");
		vha_platform_close(*pp);
		return -1;
	}
	return 0;
}

static void close_xs(struct vha_platform *p, struct xs_handle *xs)
{
	if (xs)
		xs_close(xs);
	vha_platform_close(p);
}

static pid_t read_pid(const char *path)
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

static int wait_pid_gone(pid_t pid, double timeout)
{
	double end = now_s() + timeout;

	while (kill(pid, 0) == 0) {
		if (now_s() > end)
			return -1;
		usleep(20000);
	}
	return 0;
}

long ctl_parse_vdev(const char *s)
{
	char *end;
	long v;

	if (strncmp(s, "xvd", 3) == 0 && s[3] >= 'a' && s[3] <= 'o' && s[4] == '\0')
		return (202 << 8) | ((s[3] - 'a') << 4);
	v = strtol(s, &end, 10);
	return *s && !*end && v > 0 && v <= INT32_MAX ? v : -1;
}

static const char *vdev_name(unsigned long devid, char *buf, size_t len)
{
	if ((devid >> 8) == 202 && (devid & 15) == 0 && ((devid >> 4) & 15) < 15)
		snprintf(buf, len, "xvd%c", 'a' + (int)((devid >> 4) & 15));
	else
		snprintf(buf, len, "%lu", devid);
	return buf;
}

/* Wait until <dir>/state is one of the wanted states. Returns the state or -ETIMEDOUT. */
static int wait_state(struct xs_handle *xs, const char *dir, int want1, int want2, double timeout)
{
	double end = now_s() + timeout;
	int st;

	for (;;) {
		st = vha_xenbus_read_state(xs, XBT_NULL, dir);
		if (st == want1 || st == want2)
			return st;
		if (now_s() > end)
			return -ETIMEDOUT;
		usleep(20000);
	}
}

/* ---------------- sim ---------------- */

static int mkdirs(const char *base, const char *sub)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s%s%s", base, sub ? "/" : "", sub ? sub : "");
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "vhactl: cannot create %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int sim_start(struct ctl *c)
{
	char pidfile[4096], log[4096], xsdir[4096], bin[4096];
	struct vha_platform *p;
	struct xs_handle *xs;
	pid_t pid;
	int status, rc;

	snprintf(pidfile, sizeof(pidfile), "%s/run/xenstored.pid", c->sim_dir);
	if (read_pid(pidfile)) {
		fprintf(stderr, "vhactl: the sim in %s is already running (vhactl sim status)\n", c->sim_dir);
		return 1;
	}
	if (mkdirs(c->sim_dir, NULL) || mkdirs(c->sim_dir, "run") || mkdirs(c->sim_dir, "logs") ||
	    mkdirs(c->sim_dir, "xenstore"))
		return 1;
	snprintf(xsdir, sizeof(xsdir), "%s/xenstore", c->sim_dir);
	snprintf(log, sizeof(log), "%s/logs/xenstored.log", c->sim_dir);
	snprintf(bin, sizeof(bin), "%s/vha-simxenstored", c->self_dir);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		FILE *f = freopen(log, "a", stderr);

		(void)f;
		execl(bin, bin, "--dir", xsdir, "--daemon", "--pid-file", pidfile, (char *)NULL);
		fprintf(stderr, "cannot run %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "vhactl: vha-simxenstored did not start (see %s)\n", log);
		return 1;
	}
	rc = vha_sim_domain_create(c->sim_dir, 0);
	if (rc < 0 && rc != -EEXIST) {
		fprintf(stderr, "vhactl: cannot create sim domain 0: %s\n", strerror(-rc));
		return 1;
	}
	if (open_xs(c, "sim", &p, &xs) < 0)
		return 1;
	vha_xs_printf(xs, XBT_NULL, "/local/domain/0", "name", "Domain-0");
	vha_xs_printf(xs, XBT_NULL, "/local/domain/0", "domid", "0");
	close_xs(p, xs);
	printf("sim running in %s (export VHA_PLATFORM=sim VHA_SIM_DIR=%s)\n", c->sim_dir, c->sim_dir);
	return 0;
}

static int sim_stop(struct ctl *c)
{
	char path[4096];
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
		pid = read_pid(path);
		if (pid) {
			kill(pid, SIGTERM);
			if (wait_pid_gone(pid, 10) < 0)
				kill(pid, SIGKILL);
		}
	}
	if (d)
		closedir(d);
	snprintf(path, sizeof(path), "%s/run/xenstored.pid", c->sim_dir);
	pid = read_pid(path);
	if (pid) {
		kill(pid, SIGTERM);
		if (wait_pid_gone(pid, 5) < 0)
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
	return 0;
}

static int sim_status(struct ctl *c)
{
	char path[4096];
	struct dirent *de;
	DIR *d;
	pid_t pid;
	int running;

	snprintf(path, sizeof(path), "%s/run/xenstored.pid", c->sim_dir);
	pid = read_pid(path);
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
		pid = read_pid(path);
		if (pid)
			printf("vha-backend:   %s, pid %d\n", de->d_name + 8, (int)pid);
	}
	if (d)
		closedir(d);
	return running ? 0 : 3;
}

static int sim_create_domain(struct ctl *c, unsigned int domid, const char *name)
{
	struct vha_platform *p;
	struct xs_handle *xs;
	char dir[64], buf[64];
	struct xs_permissions perms[1] = { { .id = domid, .perms = XS_PERM_NONE } };
	int rc;

	rc = vha_sim_domain_create(c->sim_dir, domid);
	if (rc < 0) {
		fprintf(stderr, "vhactl: cannot create sim domain %u: %s\n", domid, strerror(-rc));
		return 1;
	}
	if (open_xs(c, "sim", &p, &xs) < 0)
		return 1;
	snprintf(dir, sizeof(dir), "/local/domain/%u", domid);
	rc = 1;
	/* As a toolstack does: the domain owns its home; others (but dom0) cannot see it. */
	if (!xs_mkdir(xs, XBT_NULL, dir) || !xs_set_permissions(xs, XBT_NULL, dir, perms, 1)) {
		fprintf(stderr, "vhactl: cannot create %s: %s\n", dir, strerror(errno));
		goto out;
	}
	snprintf(buf, sizeof(buf), "%s", name ? name : "");
	if (!name)
		snprintf(buf, sizeof(buf), "sim-domain-%u", domid);
	vha_xs_printf(xs, XBT_NULL, dir, "name", "%s", buf);
	vha_xs_printf(xs, XBT_NULL, dir, "domid", "%u", domid);
	vha_xs_printf(xs, XBT_NULL, dir, "device", "%s", "");
	if (!xs_introduce_domain(xs, domid, 0, 0)) {
		fprintf(stderr, "vhactl: xenstore refused to introduce domain %u: %s\n", domid, strerror(errno));
		goto out;
	}
	printf("domain %u created\n", domid);
	rc = 0;
out:
	close_xs(p, xs);
	return rc;
}

/* Every backend dir serving frontend `fe`: /local/domain/<be>/backend/<type>/<fe>. */
static void for_each_backend_of(struct xs_handle *xs, unsigned int fe, void (*fn)(struct xs_handle *, const char *, void *),
				void *arg)
{
	unsigned int ndom = 0, ntype = 0;
	char **doms = xs_directory(xs, XBT_NULL, "/local/domain", &ndom);
	char path[256], fes[16];

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
	char **devs = xs_directory(xs, XBT_NULL, path, &n), dir[300];

	for (unsigned int i = 0; devs && i < n; i++) {
		snprintf(dir, sizeof(dir), "%s/%s", path, devs[i]);
		double left = w->end - now_s();
		wait_state(xs, dir, XenbusStateClosed, XenbusStateClosed, left > 0 ? left : 0);
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
	struct wait_closed w = { .end = now_s() + timeout };
	char dir[64];
	int rc;

	if (domid == 0) {
		fprintf(stderr, "vhactl: domain 0 lives as long as the sim (vhactl sim stop)\n");
		return 2;
	}
	if (open_xs(c, "sim", &p, &xs) < 0)
		return 1;
	/* Dead first (grants revoked, ports closed), then tell xenstore watchers. */
	rc = vha_sim_domain_destroy(c->sim_dir, domid);
	if (rc < 0)
		fprintf(stderr, "vhactl: sim domain %u: %s\n", domid, strerror(-rc));
	if (!xs_release_domain(xs, domid))
		fprintf(stderr, "vhactl: xenstore release of domain %u: %s\n", domid, strerror(errno));
	/* Give backends the chance to close their devices, then remove what the toolstack owns. */
	for_each_backend_of(xs, domid, wait_closed_fn, &w);
	for_each_backend_of(xs, domid, rm_fn, NULL);
	snprintf(dir, sizeof(dir), "/local/domain/%u", domid);
	xs_rm(xs, XBT_NULL, dir);
	close_xs(p, xs);
	printf("domain %u destroyed\n", domid);
	return rc < 0 ? 1 : 0;
}

int ctl_sim(struct ctl *c, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (!sub) {
		fprintf(stderr, "vhactl sim: start|stop|status|create-domain N|destroy-domain N\n");
		return 2;
	}
	if (strcmp(sub, "start") == 0)
		return sim_start(c);
	if (strcmp(sub, "stop") == 0)
		return sim_stop(c);
	if (strcmp(sub, "status") == 0)
		return sim_status(c);
	if ((strcmp(sub, "create-domain") == 0 || strcmp(sub, "destroy-domain") == 0)) {
		long domid = argc > 2 ? strtol(argv[2], NULL, 10) : -1;
		const char *name = NULL;
		double timeout = 10;

		for (int i = 3; i + 1 < argc; i += 2) {
			if (strcmp(argv[i], "--name") == 0)
				name = argv[i + 1];
			else if (strcmp(argv[i], "--timeout") == 0)
				timeout = atof(argv[i + 1]);
		}
		if (domid < 0 || domid > VHA_DOMID_MAX) {
			fprintf(stderr, "vhactl sim %s: needs a domain id\n", sub);
			return 2;
		}
		return sub[0] == 'c' ? sim_create_domain(c, (unsigned int)domid, name)
				     : sim_destroy_domain(c, (unsigned int)domid, timeout);
	}
	fprintf(stderr, "vhactl sim: unknown subcommand '%s'\n", sub);
	return 2;
}

/* ---------------- attach / detach ---------------- */

int ctl_attach(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "frontend-domid", required_argument, NULL, 'f' }, { "target", required_argument, NULL, 't' },
		{ "devid", required_argument, NULL, 'd' },          { "vdev", required_argument, NULL, 'v' },
		{ "mode", required_argument, NULL, 'm' },           { "backend-domid", required_argument, NULL, 'b' },
		{ "type", required_argument, NULL, 'T' },           { "device-type", required_argument, NULL, 'y' },
		{ "timeout", required_argument, NULL, 'o' },        { "wait", required_argument, NULL, 'w' },
		{ "grant-strategy", required_argument, NULL, 'g' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long fe = -1, devid = 51712, be = 0;
	const char *target = NULL, *mode = "w", *type = "vbd", *devtype = "disk", *wait = "initwait";
	const char *strategy = NULL;
	double timeout = 10;
	char be_dir[256], fe_dir[256], vname[32], abs_target[4096];
	struct vha_platform *p;
	struct xs_handle *xs;
	int opt, rc = 1, st;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f': fe = strtol(optarg, NULL, 10); break;
		case 't': target = optarg; break;
		case 'd':
		case 'v':
			devid = ctl_parse_vdev(optarg);
			if (devid < 0) {
				fprintf(stderr, "vhactl attach: bad device '%s' (a number or xvda..xvdo)\n", optarg);
				return 2;
			}
			break;
		case 'm': mode = optarg; break;
		case 'b': be = strtol(optarg, NULL, 10); break;
		case 'T': type = optarg; break;
		case 'y': devtype = optarg; break;
		case 'o': timeout = atof(optarg); break;
		case 'w': wait = optarg; break;
		case 'g': strategy = optarg; break;
		case 'h':
			printf("vhactl attach --frontend-domid N --target PATH [--devid D|--vdev xvdX] [--mode w|r]\n"
			       "  [--backend-domid B] [--type vbd] [--device-type disk|cdrom] [--timeout S]\n"
			       "  [--wait initwait|connected] [--grant-strategy map|persistent|copy|adaptive]\n");
			return 0;
		default: return 2;
		}
	}
	if (fe <= 0 || !target || (strcmp(mode, "w") && strcmp(mode, "r")) ||
	    (strcmp(wait, "initwait") && strcmp(wait, "connected")) ||
	    (strategy && strcmp(strategy, "map") && strcmp(strategy, "persistent") && strcmp(strategy, "copy") &&
	     strcmp(strategy, "adaptive"))) {
		fprintf(stderr, "vhactl attach: needs --frontend-domid N (> 0) and --target PATH; --mode w|r; "
				"--wait initwait|connected; --grant-strategy map|persistent|copy|adaptive\n");
		return 2;
	}
	if (!realpath(target, abs_target)) {
		fprintf(stderr, "vhactl attach: %s: %s\n", target, strerror(errno));
		return 1;
	}
	if (open_xs(c, NULL, &p, &xs) < 0)
		return 1;
	snprintf(be_dir, sizeof(be_dir), "/local/domain/%ld/backend/%s/%ld/%ld", be, type, fe, devid);
	snprintf(fe_dir, sizeof(fe_dir), "/local/domain/%ld/device/vbd/%ld", fe, devid);
	if (vha_xenbus_read_state(xs, XBT_NULL, be_dir) >= 0) {
		fprintf(stderr, "vhactl attach: %s already exists (vhactl detach first)\n", be_dir);
		goto out;
	}
	for (int tries = 0;; tries++) {
		xs_transaction_t t = xs_transaction_start(xs);
		struct xs_permissions be_perms[2] = { { .id = (unsigned)be, .perms = XS_PERM_NONE },
						      { .id = (unsigned)fe, .perms = XS_PERM_READ } };
		struct xs_permissions fe_perms[2] = { { .id = (unsigned)fe, .perms = XS_PERM_NONE },
						      { .id = (unsigned)be, .perms = XS_PERM_READ } };

		if (t == XBT_NULL)
			goto xs_fail;
		if (!xs_mkdir(xs, t, be_dir) || !xs_set_permissions(xs, t, be_dir, be_perms, 2) ||
		    !xs_mkdir(xs, t, fe_dir) || !xs_set_permissions(xs, t, fe_dir, fe_perms, 2)) {
			xs_transaction_end(xs, t, true);
			goto xs_fail;
		}
		vha_xs_printf(xs, t, be_dir, "frontend", "%s", fe_dir);
		vha_xs_printf(xs, t, be_dir, "frontend-id", "%ld", fe);
		vha_xs_printf(xs, t, be_dir, "online", "1");
		vha_xs_printf(xs, t, be_dir, "removable", "0");
		vha_xs_printf(xs, t, be_dir, "params", "%s", abs_target);
		vha_xs_printf(xs, t, be_dir, "mode", "%s", mode);
		vha_xs_printf(xs, t, be_dir, "type", "phy");
		vha_xs_printf(xs, t, be_dir, "dev", "%s", vdev_name((unsigned long)devid, vname, sizeof(vname)));
		vha_xs_printf(xs, t, be_dir, "device-type", "%s", devtype);
		if (strategy)
			vha_xs_printf(xs, t, be_dir, "grant-strategy", "%s", strategy);
		vha_xenbus_write_state(xs, t, be_dir, XenbusStateInitialising);
		vha_xs_printf(xs, t, fe_dir, "backend", "%s", be_dir);
		vha_xs_printf(xs, t, fe_dir, "backend-id", "%ld", be);
		vha_xs_printf(xs, t, fe_dir, "virtual-device", "%ld", devid);
		vha_xs_printf(xs, t, fe_dir, "device-type", "%s", devtype);
		vha_xenbus_write_state(xs, t, fe_dir, XenbusStateInitialising);
		if (xs_transaction_end(xs, t, false))
			break;
		if (errno != EAGAIN || tries > 20)
			goto xs_fail;
	}
	/* libxl waits for the backend to reach InitWait, then runs the hotplug script. */
	st = wait_state(xs, be_dir, XenbusStateInitWait, XenbusStateConnected, timeout);
	if (st < 0) {
		fprintf(stderr, "vhactl attach: timed out after %g s waiting for %s to reach InitWait (state: %s); "
				"is vha-backend running for backend domain %ld?\n",
			timeout, be_dir, vha_xenbus_state_name(vha_xenbus_read_state(xs, XBT_NULL, be_dir)), be);
		xs_rm(xs, XBT_NULL, be_dir);
		xs_rm(xs, XBT_NULL, fe_dir);
		goto out;
	}
	vha_xs_printf(xs, XBT_NULL, be_dir, "hotplug-status", "connected");
	if (strcmp(wait, "connected") == 0) {
		if (wait_state(xs, be_dir, XenbusStateConnected, XenbusStateConnected, timeout) < 0 ||
		    wait_state(xs, fe_dir, XenbusStateConnected, XenbusStateConnected, timeout) < 0) {
			fprintf(stderr, "vhactl attach: timed out waiting for Connected (backend %s, frontend %s)\n",
				vha_xenbus_state_name(vha_xenbus_read_state(xs, XBT_NULL, be_dir)),
				vha_xenbus_state_name(vha_xenbus_read_state(xs, XBT_NULL, fe_dir)));
			goto out;
		}
	}
	printf("%ld\n", devid);
	rc = 0;
	goto out;
xs_fail:
	fprintf(stderr, "vhactl attach: xenstore: %s\n", strerror(errno));
out:
	close_xs(p, xs);
	return rc;
}

int ctl_detach(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "frontend-domid", required_argument, NULL, 'f' }, { "devid", required_argument, NULL, 'd' },
		{ "vdev", required_argument, NULL, 'd' },           { "backend-domid", required_argument, NULL, 'b' },
		{ "type", required_argument, NULL, 'T' },           { "timeout", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'F' },                { NULL, 0, NULL, 0 },
	};
	long fe = -1, devid = 51712, be = 0;
	const char *type = "vbd";
	double timeout = 10;
	bool force = false;
	char be_dir[256], fe_dir[256];
	struct vha_platform *p;
	struct xs_handle *xs;
	int opt, rc = 0;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'f': fe = strtol(optarg, NULL, 10); break;
		case 'd': devid = ctl_parse_vdev(optarg); break;
		case 'b': be = strtol(optarg, NULL, 10); break;
		case 'T': type = optarg; break;
		case 'o': timeout = atof(optarg); break;
		case 'F': force = true; break;
		default: return 2;
		}
	}
	if (fe <= 0 || devid < 0) {
		fprintf(stderr, "vhactl detach: needs --frontend-domid N and --devid D\n");
		return 2;
	}
	if (open_xs(c, NULL, &p, &xs) < 0)
		return 1;
	snprintf(be_dir, sizeof(be_dir), "/local/domain/%ld/backend/%s/%ld/%ld", be, type, fe, devid);
	snprintf(fe_dir, sizeof(fe_dir), "/local/domain/%ld/device/vbd/%ld", fe, devid);
	if (vha_xenbus_read_state(xs, XBT_NULL, be_dir) < 0) {
		fprintf(stderr, "vhactl detach: no device %s\n", be_dir);
		close_xs(p, xs);
		return 1;
	}
	/* As libxl: offline, Closing, wait for the backend to close, then remove both directories. */
	vha_xs_printf(xs, XBT_NULL, be_dir, "online", "0");
	vha_xenbus_write_state(xs, XBT_NULL, be_dir, XenbusStateClosing);
	if (!force && wait_state(xs, be_dir, XenbusStateClosed, XenbusStateClosed, timeout) < 0) {
		fprintf(stderr, "vhactl detach: backend did not close within %g s (state %s); use --force\n", timeout,
			vha_xenbus_state_name(vha_xenbus_read_state(xs, XBT_NULL, be_dir)));
		rc = 1;
	} else {
		char parent[256];
		unsigned int n = 0;
		char **left;

		xs_rm(xs, XBT_NULL, fe_dir);
		xs_rm(xs, XBT_NULL, be_dir);
		/* The per-frontend directory goes with its last device. */
		snprintf(parent, sizeof(parent), "/local/domain/%ld/backend/%s/%ld", be, type, fe);
		left = xs_directory(xs, XBT_NULL, parent, &n);
		if (left && n == 0)
			xs_rm(xs, XBT_NULL, parent);
		free(left);
	}
	close_xs(p, xs);
	return rc;
}

/* ---------------- list / stats ---------------- */

int ctl_list(struct ctl *c, int argc, char **argv)
{
	struct vha_platform *p;
	struct xs_handle *xs;
	unsigned int ndom = 0;
	char **doms;

	(void)argc;
	(void)argv;
	if (open_xs(c, NULL, &p, &xs) < 0)
		return 1;
	printf("%-8s %-8s %-6s %-8s %-14s %-14s %s\n", "backend", "frontend", "type", "devid", "backend-state",
	       "frontend-state", "target");
	doms = xs_directory(xs, XBT_NULL, "/local/domain", &ndom);
	for (unsigned int i = 0; doms && i < ndom; i++) {
		char path[256];
		unsigned int ntype = 0;
		char **types;

		snprintf(path, sizeof(path), "/local/domain/%s/backend", doms[i]);
		types = xs_directory(xs, XBT_NULL, path, &ntype);
		for (unsigned int j = 0; types && j < ntype; j++) {
			unsigned int nfe = 0;
			char **fes;

			snprintf(path, sizeof(path), "/local/domain/%s/backend/%s", doms[i], types[j]);
			fes = xs_directory(xs, XBT_NULL, path, &nfe);
			for (unsigned int k = 0; fes && k < nfe; k++) {
				unsigned int ndev = 0;
				char **devs, dir[300];

				snprintf(path, sizeof(path), "/local/domain/%s/backend/%s/%s", doms[i], types[j], fes[k]);
				devs = xs_directory(xs, XBT_NULL, path, &ndev);
				for (unsigned int l = 0; devs && l < ndev; l++) {
					char *params = NULL, *fe_path = NULL;
					int bst, fst = -ENOENT;

					snprintf(dir, sizeof(dir), "%s/%s", path, devs[l]);
					bst = vha_xenbus_read_state(xs, XBT_NULL, dir);
					vha_xs_read_str(xs, XBT_NULL, dir, "params", &params);
					if (vha_xs_read_str(xs, XBT_NULL, dir, "frontend", &fe_path) == 0)
						fst = vha_xenbus_read_state(xs, XBT_NULL, fe_path);
					printf("%-8s %-8s %-6s %-8s %-14s %-14s %s\n", doms[i], fes[k], types[j], devs[l],
					       bst >= 0 ? vha_xenbus_state_name(bst) : "-",
					       fst >= 0 ? vha_xenbus_state_name(fst) : "-", params ? params : "-");
					free(params);
					free(fe_path);
				}
				free(devs);
			}
			free(fes);
		}
		free(types);
	}
	free(doms);
	close_xs(p, xs);
	return 0;
}

/* The number after "key": in a stats.json line (0 if absent). */
static unsigned long long jnum(const char *obj, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(obj, pat);
	return p ? strtoull(p + strlen(pat), NULL, 10) : 0;
}

static const char *stats_path(struct ctl *c, const char *dir, char *path, size_t len)
{
	if (dir)
		snprintf(path, len, "%s/stats.json", dir);
	else if ((c->platform && strcmp(c->platform, "sim") == 0) ||
		 (!c->platform && getenv("VHA_PLATFORM") && strcmp(getenv("VHA_PLATFORM"), "sim") == 0))
		snprintf(path, len, "%s/run/backend-%d/stats.json", c->sim_dir, c->domid);
	else
		snprintf(path, len, "/run/vha-backend/stats.json");
	return path;
}

int ctl_stats(struct ctl *c, int argc, char **argv)
{
	static const char *const cols[] = { "requests", "reads", "writes", "flushes", "barriers", "discards",
					    "indirect", "bytes_read", "bytes_written", "errors", "rejected",
					    "notifies_sent", "events_received", "strategy_map", "strategy_persistent",
					    "strategy_copy", "buffered" };
	static const char *const heads[] = { "requests", "reads", "writes", "flushes", "barriers", "discards",
					     "indirect", "bytes-read", "bytes-written", "errors", "rejected",
					     "notified", "events", "map", "persistent", "copy", "buffered" };
	char path[4096], line[4096], strategy[32] = "-";
	const char *dir = NULL;
	FILE *f;
	unsigned int fe = 0, devid = 0;

	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--state-dir") == 0)
			dir = argv[i + 1];
	f = fopen(stats_path(c, dir, path, sizeof(path)), "r");
	if (!f) {
		fprintf(stderr, "vhactl stats: cannot read %s: %s (is vha-backend running?)\n", path, strerror(errno));
		return 1;
	}
	printf("%-5s %-6s %-10s %-5s %5s", "fe", "devid", "strategy", "queue", "pages");
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
		printf(" %*s", i == 7 || i == 8 ? 13 : 10, heads[i]);
	printf(" %11s %7s\n", "cache", "hit%");
	while (fgets(line, sizeof(line), f)) {
		const char *q = strstr(line, "{\"queue\": "), *g;
		char *s = strstr(line, "\"frontend\": ");

		if (s) {
			if (sscanf(s, "\"frontend\": %u, \"devid\": %u", &fe, &devid) != 2)
				continue;
			g = strstr(line, "\"grant_strategy\": \"");
			if (g && sscanf(g, "\"grant_strategy\": \"%31[a-z]\"", strategy) != 1)
				snprintf(strategy, sizeof(strategy), "-");
			if (strstr(line, "\"persistent\": true") && strlen(strategy) < 20)
				strcat(strategy, "+p");
		}
		if (!q)
			continue;
		g = strstr(q, "\"grant_cache\": ");
		printf("%-5u %-6u %-10s %-5llu %5llu", fe, devid, strategy, jnum(q, "queue"), jnum(q, "ring_pages"));
		for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
			printf(" %*llu", i == 7 || i == 8 ? 13 : 10, jnum(q, cols[i]));
		if (g) {
			unsigned long long hits = jnum(g, "hits"), misses = jnum(g, "misses");
			char cache[32];

			snprintf(cache, sizeof(cache), "%llu/%llu", jnum(g, "size"), jnum(g, "capacity"));
			printf(" %11s %7.1f\n", cache, hits + misses ? 100.0 * (double)hits / (double)(hits + misses) : 0.0);
		} else {
			printf(" %11s %7s\n", "-", "-");
		}
	}
	fclose(f);
	return 0;
}

/* ---------------- resize ---------------- */

int ctl_resize(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "frontend-domid", required_argument, NULL, 'f' }, { "devid", required_argument, NULL, 'd' },
		{ "vdev", required_argument, NULL, 'd' },           { "backend-domid", required_argument, NULL, 'b' },
		{ "type", required_argument, NULL, 'T' },           { "size", required_argument, NULL, 's' },
		{ "shrink", no_argument, NULL, 'k' },               { "state-dir", required_argument, NULL, 'D' },
		{ "timeout", required_argument, NULL, 'o' },        { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long fe = -1, devid = 51712, be = 0;
	const char *type = "vbd", *state_dir = NULL, *size_arg = NULL;
	bool shrink = false;
	double timeout = 10;
	char be_dir[256], path[4096], *params = NULL, *end;
	unsigned long long size = 0;
	uint64_t sectors = 0;
	struct vha_platform *p;
	struct xs_handle *xs;
	struct stat st;
	pid_t pid;
	int opt, rc = 1;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f': fe = strtol(optarg, NULL, 10); break;
		case 'd': devid = ctl_parse_vdev(optarg); break;
		case 'b': be = strtol(optarg, NULL, 10); break;
		case 'T': type = optarg; break;
		case 's': size_arg = optarg; break;
		case 'k': shrink = true; break;
		case 'D': state_dir = optarg; break;
		case 'o': timeout = atof(optarg); break;
		case 'h':
			printf("vhactl resize --frontend-domid N --devid D [--size BYTES [--shrink]] [--backend-domid B]\n"
			       "  [--type vbd] [--state-dir DIR] [--timeout S]\n"
			       "Grow a file target to BYTES (or take a block device's new size) and have vha-backend\n"
			       "publish it now; the frontend picks the new size up. Shrinking needs --shrink.\n");
			return 0;
		default: return 2;
		}
	}
	if (fe <= 0 || devid < 0) {
		fprintf(stderr, "vhactl resize: needs --frontend-domid N and --devid D\n");
		return 2;
	}
	if (size_arg) {
		errno = 0;
		size = strtoull(size_arg, &end, 10);
		if (errno || end == size_arg || *end || size == 0 || size % 512) {
			fprintf(stderr, "vhactl resize: --size wants a positive multiple of 512 bytes, not '%s'\n", size_arg);
			return 2;
		}
	}
	if (open_xs(c, NULL, &p, &xs) < 0)
		return 1;
	snprintf(be_dir, sizeof(be_dir), "/local/domain/%ld/backend/%s/%ld/%ld", be, type, fe, devid);
	if (vha_xs_read_str(xs, XBT_NULL, be_dir, "params", &params) < 0) {
		fprintf(stderr, "vhactl resize: no device %s\n", be_dir);
		goto out;
	}
	if (stat(params, &st) != 0) {
		fprintf(stderr, "vhactl resize: %s: %s\n", params, strerror(errno));
		goto out;
	}
	if (size_arg) {
		if (!S_ISREG(st.st_mode)) {
			fprintf(stderr, "vhactl resize: %s is not a regular file: resize the device itself, then run "
					"this without --size\n", params);
			goto out;
		}
		if (size < (unsigned long long)st.st_size && !shrink) {
			fprintf(stderr, "vhactl resize: %llu is smaller than the current %lld bytes; a guest may have data "
					"there (use --shrink if it does not)\n", size, (long long)st.st_size);
			goto out;
		}
		if (truncate(params, (off_t)size) != 0) {
			fprintf(stderr, "vhactl resize: truncate %s: %s\n", params, strerror(errno));
			goto out;
		}
	}
	/* The backend checks sizes every second; SIGHUP makes it look now. */
	if (state_dir)
		snprintf(path, sizeof(path), "%s/pid", state_dir);
	else if (strcmp(vha_platform_kind(p), "sim") == 0)
		snprintf(path, sizeof(path), "%s/run/backend-%ld/pid", c->sim_dir, be);
	else
		snprintf(path, sizeof(path), "/run/vha-backend/pid");
	pid = read_pid(path);
	if (pid > 0)
		kill(pid, SIGHUP);
	if (!size_arg) {
		/* The size the backend will see: a file's length, or a block device's BLKGETSIZE64. */
		int fd = open(params, O_RDONLY | O_CLOEXEC);
		uint64_t bytes = 0;

		if (fd < 0 || (S_ISBLK(st.st_mode) ? ioctl(fd, BLKGETSIZE64, &bytes) != 0 : fstat(fd, &st) != 0)) {
			fprintf(stderr, "vhactl resize: %s: %s\n", params, strerror(errno));
			if (fd >= 0)
				close(fd);
			goto out;
		}
		close(fd);
		size = S_ISBLK(st.st_mode) ? bytes : (unsigned long long)st.st_size;
	}
	for (double t_end = now_s() + timeout;;) {
		if (vha_xs_read_uint(xs, XBT_NULL, be_dir, "sectors", 0, &sectors) == 0 && sectors * 512 == size)
			break;
		if (now_s() > t_end) {
			fprintf(stderr, "vhactl resize: the backend did not publish %llu sectors within %g s "
					"(it shows %llu; is it connected?)\n", size / 512, timeout,
				(unsigned long long)sectors);
			goto out;
		}
		usleep(20000);
	}
	printf("%llu sectors\n", (unsigned long long)sectors);
	rc = 0;
out:
	free(params);
	close_xs(p, xs);
	return rc;
}
