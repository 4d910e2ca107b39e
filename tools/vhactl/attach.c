// SPDX-License-Identifier: MIT
/* vhactl attach, detach and resize: a disk's xenstore nodes written as libxl does. */
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
#include "vha/target.h"
#include "vha/xenbus.h"
#include "vhactl.h"

/* Longest --timeout: a day is already more than any wait here needs. */
#define TIMEOUT_MAX_S 86400.0

/* After vha_cli_* printed what was wrong. */
static int usage_fail(void)
{
	vha_cli_hint();
	return VHA_EXIT_USAGE;
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
	char be_dir[CTL_XS_PATH_MAX], fe_dir[CTL_XS_PATH_MAX], vname[CTL_NAME_MAX], abs_target[VHA_TARGET_SPEC_MAX + 16];
	char why[160];
	struct vha_target_spec *spec = NULL;
	struct vha_platform *p;
	struct xs_handle *xs;
	int opt, rc = VHA_EXIT_FAILURE, st;

	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f': if (vha_cli_long("frontend-domid", optarg, 1, VHA_DOMID_MAX, &fe)) return usage_fail(); break;
		case 't': target = optarg; break;
		case 'd':
		case 'v':
			devid = ctl_parse_vdev(optarg);
			if (devid < 0) {
				return vha_cli_usage("attach: bad device '%s' (a number or xvda..xvdo)", optarg);
			}
			break;
		case 'm': mode = optarg; break;
		case 'b': if (vha_cli_long("backend-domid", optarg, 0, VHA_DOMID_MAX, &be)) return usage_fail(); break;
		case 'T': type = optarg; break;
		case 'y': devtype = optarg; break;
		case 'o': if (vha_cli_double("timeout", optarg, 0, TIMEOUT_MAX_S, &timeout)) return usage_fail(); break;
		case 'w': wait = optarg; break;
		case 'g': strategy = optarg; break;
		case 'h':
			printf("vhactl attach --frontend-domid N --target TARGET [--devid D|--vdev xvdX] [--mode w|r]\n"
			       "  [--backend-domid B] [--type vbd] [--device-type disk|cdrom] [--timeout S]\n"
			       "  [--wait initwait|connected] [--grant-strategy map|persistent|copy|adaptive]\n"
			       "TARGET: /path, file:/path, blockdev:/dev/..., null:SIZE (reads zeroes, for benchmarks),\n"
			       "  rbd:POOL/IMAGE[@SNAP][:conf=PATH][:id=NAME], nbd:unix:/path[:exportname=NAME],\n"
			       "  nbd://HOST[:PORT][/EXPORT] (rbd and nbd: not supported by vha-backend yet)\n");
			return VHA_EXIT_OK;
		default: return vha_cli_bad_option(opt, argv);
		}
	}
	if (optind < argc)
		return vha_cli_usage("attach: unexpected argument '%s'", argv[optind]);
	if (fe <= 0)
		return vha_cli_usage("attach: needs --frontend-domid N (1 to %d)", VHA_DOMID_MAX);
	if (!target)
		return vha_cli_usage("attach: needs --target TARGET (a file, a block device, or null:SIZE)");
	if (strcmp(mode, "w") && strcmp(mode, "r"))
		return vha_cli_usage("attach: --mode takes w|r, not '%s'", mode);
	if (strcmp(wait, "initwait") && strcmp(wait, "connected"))
		return vha_cli_usage("attach: --wait takes initwait|connected, not '%s'", wait);
	if (strategy && strcmp(strategy, "map") && strcmp(strategy, "persistent") && strcmp(strategy, "copy") &&
	    strcmp(strategy, "adaptive"))
		return vha_cli_usage("attach: --grant-strategy takes map|persistent|copy|adaptive, not '%s'", strategy);
	spec = malloc(sizeof(*spec));
	if (!spec) {
		vha_cli_error("attach: out of memory");
		return VHA_EXIT_FAILURE;
	}
	if (vha_target_parse(target, spec, why, sizeof(why)) < 0) {
		free(spec);
		return vha_cli_usage("attach: bad --target: %s", why);
	}
	if (spec->kind == VHA_TARGET_PATH || spec->kind == VHA_TARGET_FILE || spec->kind == VHA_TARGET_BLOCKDEV) {
		/* A path the backend opens from anywhere: absolute, with the engine prefix kept. */
		char real[PATH_MAX];

		if (!realpath(spec->path, real)) {
			vha_cli_error("attach: %s: %s", spec->path, strerror(errno));
			free(spec);
			return VHA_EXIT_FAILURE;
		}
		snprintf(abs_target, sizeof(abs_target), "%s%s%s",
			 spec->kind == VHA_TARGET_PATH ? "" : vha_target_kind_name(spec->kind),
			 spec->kind == VHA_TARGET_PATH ? "" : ":", real);
	} else {
		snprintf(abs_target, sizeof(abs_target), "%s", target);
	}
	free(spec);
	if (ctl_open_xs(c, NULL, &p, &xs) < 0)
		return VHA_EXIT_FAILURE;
	snprintf(be_dir, sizeof(be_dir), "/local/domain/%ld/backend/%s/%ld/%ld", be, type, fe, devid);
	snprintf(fe_dir, sizeof(fe_dir), "/local/domain/%ld/device/vbd/%ld", fe, devid);
	if (vha_xenbus_read_state(xs, XBT_NULL, be_dir) >= 0) {
		vha_cli_error("attach: %s already exists (vhactl detach first)", be_dir);
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
		vha_xs_printf(xs, t, be_dir, "dev", "%s", ctl_vdev_name((unsigned long)devid, vname, sizeof(vname)));
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
	st = ctl_wait_state(xs, be_dir, XenbusStateInitWait, XenbusStateConnected, timeout);
	if (st < 0) {
		vha_cli_error("attach: timed out after %g s waiting for %s to reach InitWait (state: %s); "
			      "is vha-backend running for backend domain %ld?",
			      timeout, be_dir, vha_xenbus_state_name(vha_xenbus_read_state(xs, XBT_NULL, be_dir)), be);
		xs_rm(xs, XBT_NULL, be_dir);
		xs_rm(xs, XBT_NULL, fe_dir);
		goto out;
	}
	vha_xs_printf(xs, XBT_NULL, be_dir, "hotplug-status", "connected");
	if (strcmp(wait, "connected") == 0) {
		if (ctl_wait_state(xs, be_dir, XenbusStateConnected, XenbusStateConnected, timeout) < 0 ||
		    ctl_wait_state(xs, fe_dir, XenbusStateConnected, XenbusStateConnected, timeout) < 0) {
			vha_cli_error("attach: timed out waiting for Connected (backend %s, frontend %s)",
				vha_xenbus_state_name(vha_xenbus_read_state(xs, XBT_NULL, be_dir)),
				vha_xenbus_state_name(vha_xenbus_read_state(xs, XBT_NULL, fe_dir)));
			goto out;
		}
	}
	printf("%ld\n", devid);
	rc = VHA_EXIT_OK;
	goto out;
xs_fail:
	vha_cli_error("attach: xenstore: %s", strerror(errno));
out:
	ctl_close_xs(p, xs);
	return rc;
}

int ctl_detach(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "frontend-domid", required_argument, NULL, 'f' }, { "devid", required_argument, NULL, 'd' },
		{ "vdev", required_argument, NULL, 'd' },           { "backend-domid", required_argument, NULL, 'b' },
		{ "type", required_argument, NULL, 'T' },           { "timeout", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'F' },                { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long fe = -1, devid = 51712, be = 0;
	const char *type = "vbd";
	double timeout = 10;
	bool force = false;
	char be_dir[CTL_XS_PATH_MAX], fe_dir[CTL_XS_PATH_MAX];
	struct vha_platform *p;
	struct xs_handle *xs;
	int opt, rc = VHA_EXIT_OK;

	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f': if (vha_cli_long("frontend-domid", optarg, 1, VHA_DOMID_MAX, &fe)) return usage_fail(); break;
		case 'd':
			devid = ctl_parse_vdev(optarg);
			if (devid < 0)
				return vha_cli_usage("detach: bad device '%s' (a number or xvda..xvdo)", optarg);
			break;
		case 'b': if (vha_cli_long("backend-domid", optarg, 0, VHA_DOMID_MAX, &be)) return usage_fail(); break;
		case 'T': type = optarg; break;
		case 'o': if (vha_cli_double("timeout", optarg, 0, TIMEOUT_MAX_S, &timeout)) return usage_fail(); break;
		case 'F': force = true; break;
		case 'h':
			printf("vhactl detach --frontend-domid N --devid D|--vdev xvdX [--backend-domid B] [--type vbd]\n"
			       "  [--timeout S] [--force]\n"
			       "Take a disk away as libxl does: online = 0 and Closing, wait up to S seconds\n"
			       "(default 10) for vha-backend to close it, then remove both xenstore directories.\n"
			       "--force removes them without waiting.\n");
			return VHA_EXIT_OK;
		default: return vha_cli_bad_option(opt, argv);
		}
	}
	if (optind < argc)
		return vha_cli_usage("detach: unexpected argument '%s'", argv[optind]);
	if (fe <= 0)
		return vha_cli_usage("detach: needs --frontend-domid N (1 to %d)", VHA_DOMID_MAX);
	if (ctl_open_xs(c, NULL, &p, &xs) < 0)
		return VHA_EXIT_FAILURE;
	snprintf(be_dir, sizeof(be_dir), "/local/domain/%ld/backend/%s/%ld/%ld", be, type, fe, devid);
	snprintf(fe_dir, sizeof(fe_dir), "/local/domain/%ld/device/vbd/%ld", fe, devid);
	if (vha_xenbus_read_state(xs, XBT_NULL, be_dir) < 0) {
		vha_cli_error("detach: no device %s", be_dir);
		ctl_close_xs(p, xs);
		return VHA_EXIT_FAILURE;
	}
	/* As libxl: offline, Closing, wait for the backend to close, then remove both directories. */
	vha_xs_printf(xs, XBT_NULL, be_dir, "online", "0");
	vha_xenbus_write_state(xs, XBT_NULL, be_dir, XenbusStateClosing);
	if (!force && ctl_wait_state(xs, be_dir, XenbusStateClosed, XenbusStateClosed, timeout) < 0) {
		vha_cli_error("detach: backend did not close within %g s (state %s); use --force", timeout,
			      vha_xenbus_state_name(vha_xenbus_read_state(xs, XBT_NULL, be_dir)));
		rc = VHA_EXIT_FAILURE;
	} else {
		char parent[CTL_XS_PATH_MAX];
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
	ctl_close_xs(p, xs);
	return rc;
}

/* ---------------- resize ---------------- */

struct want_sectors {
	const char *dir;
	unsigned long long bytes;
	uint64_t sectors;
};

static bool sectors_reached(struct xs_handle *xs, void *arg)
{
	struct want_sectors *w = arg;

	return vha_xs_read_uint(xs, XBT_NULL, w->dir, "sectors", 0, &w->sectors) == 0 && w->sectors * 512 == w->bytes;
}

int ctl_resize(struct ctl *c, int argc, char **argv)
{
	struct want_sectors want = { 0 };
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
	char be_dir[CTL_XS_PATH_MAX], path[PATH_MAX], *params = NULL, why[160];
	static struct vha_target_spec spec;     /* large: not on the stack */
	const char *target;
	unsigned long long size = 0;
	uint64_t sectors = 0;
	struct vha_platform *p;
	struct xs_handle *xs;
	struct stat st;
	pid_t pid;
	int opt, rc = VHA_EXIT_FAILURE;

	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f': if (vha_cli_long("frontend-domid", optarg, 1, VHA_DOMID_MAX, &fe)) return usage_fail(); break;
		case 'd':
			devid = ctl_parse_vdev(optarg);
			if (devid < 0)
				return vha_cli_usage("resize: bad device '%s' (a number or xvda..xvdo)", optarg);
			break;
		case 'b': if (vha_cli_long("backend-domid", optarg, 0, VHA_DOMID_MAX, &be)) return usage_fail(); break;
		case 'T': type = optarg; break;
		case 's': size_arg = optarg; break;
		case 'k': shrink = true; break;
		case 'D': state_dir = optarg; break;
		case 'o': if (vha_cli_double("timeout", optarg, 0, TIMEOUT_MAX_S, &timeout)) return usage_fail(); break;
		case 'h':
			printf("vhactl resize --frontend-domid N --devid D [--size BYTES [--shrink]] [--backend-domid B]\n"
			       "  [--type vbd] [--state-dir DIR] [--timeout S]\n"
			       "Grow a file target to BYTES (or take a block device's new size) and have vha-backend\n"
			       "publish it now; the frontend picks the new size up. Shrinking needs --shrink.\n");
			return VHA_EXIT_OK;
		default: return vha_cli_bad_option(opt, argv);
		}
	}
	if (optind < argc)
		return vha_cli_usage("resize: unexpected argument '%s'", argv[optind]);
	if (fe <= 0)
		return vha_cli_usage("resize: needs --frontend-domid N (1 to %d)", VHA_DOMID_MAX);
	if (size_arg) {
		uint64_t v;

		if (vha_cli_u64("size", size_arg, 512, UINT64_MAX, VHA_PARSE_SIZE, &v))
			return usage_fail();
		if (v % 512)
			return vha_cli_usage("resize: --size wants a positive multiple of 512 bytes, not '%s'", size_arg);
		size = v;
	}
	if (ctl_open_xs(c, NULL, &p, &xs) < 0)
		return VHA_EXIT_FAILURE;
	snprintf(be_dir, sizeof(be_dir), "/local/domain/%ld/backend/%s/%ld/%ld", be, type, fe, devid);
	if (vha_xs_read_str(xs, XBT_NULL, be_dir, "params", &params) < 0) {
		vha_cli_error("resize: no device %s", be_dir);
		goto out;
	}
	/* params as the backend reads it: "file:/x" is the file /x; null:, rbd: and nbd: are no file. */
	if (vha_target_parse(params, &spec, why, sizeof(why)) < 0) {
		vha_cli_error("resize: the device's target is not valid: %s", why);
		goto out;
	}
	if (spec.kind != VHA_TARGET_PATH && spec.kind != VHA_TARGET_FILE && spec.kind != VHA_TARGET_BLOCKDEV) {
		vha_cli_error("resize: %s is a %s target: vhactl resizes files and block devices only", params,
			      vha_target_kind_name(spec.kind));
		goto out;
	}
	target = spec.path;
	if (stat(target, &st) != 0) {
		vha_cli_error("resize: %s: %s", target, strerror(errno));
		goto out;
	}
	if (size_arg) {
		if (!S_ISREG(st.st_mode)) {
			vha_cli_error("resize: %s is not a regular file: resize the device itself, then run "
				      "this without --size", target);
			goto out;
		}
		if (size < (unsigned long long)st.st_size && !shrink) {
			vha_cli_error("resize: %llu is smaller than the current %lld bytes; a guest may have data "
				      "there (use --shrink if it does not)", size, (long long)st.st_size);
			goto out;
		}
		if (truncate(target, (off_t)size) != 0) {
			vha_cli_error("resize: truncate %s: %s", target, strerror(errno));
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
	pid = ctl_read_pid(path);
	if (pid > 0)
		kill(pid, SIGHUP);
	if (!size_arg) {
		/* The size the backend will see: a file's length, or a block device's BLKGETSIZE64. */
		int fd = open(target, O_RDONLY | O_CLOEXEC);
		uint64_t bytes = 0;

		if (fd < 0 || (S_ISBLK(st.st_mode) ? ioctl(fd, BLKGETSIZE64, &bytes) != 0 : fstat(fd, &st) != 0)) {
			vha_cli_error("resize: %s: %s", target, strerror(errno));
			if (fd >= 0)
				close(fd);
			goto out;
		}
		close(fd);
		size = S_ISBLK(st.st_mode) ? bytes : (unsigned long long)st.st_size;
	}
	want.dir = be_dir;
	want.bytes = size;
	snprintf(path, sizeof(path), "%s/sectors", be_dir);
	if (ctl_wait_xs(xs, path, timeout, sectors_reached, &want) < 0) {
		vha_cli_error("resize: the backend did not publish %llu sectors within %g s "
			      "(it shows %llu; is it connected?)", size / 512, timeout,
			      (unsigned long long)want.sectors);
		goto out;
	}
	sectors = want.sectors;
	printf("%llu sectors\n", (unsigned long long)sectors);
	rc = VHA_EXIT_OK;
out:
	free(params);
	ctl_close_xs(p, xs);
	return rc;
}
