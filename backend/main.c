// SPDX-License-Identifier: MIT
/* vha-backend: the blkif backend daemon. See docs/backend.md. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <xenstore.h>

#include "backend.h"
#include "logging.h"
#include "vha/cli.h"

/* Longest state directory, and room for the file names appended to it. */
#define STATE_DIR_MAX 4096
#define STATE_FILE_MAX (STATE_DIR_MAX + 64)
/* Longest line of a --config file. */
#define CONFIG_LINE_MAX 1024
/*
 * xenstored fires every watch once as it is registered; readiness waits
 * (this long at most) for that first event, whose pass scans every device.
 */
#define FIRST_WATCH_WAIT_MS 10000

struct options {
	struct backend_config cfg;
	struct vha_platform_config platform;
	const char *state_dir;
	const char *log_file;           /* --log-file, else a daemon's <state-dir>/log */
	bool foreground;
	bool use_syslog;
	char *metrics_file;             /* --metrics, as given */
	int log_level;
	int direct_choice;              /* -1: the platform's default, 0: buffered, 1: O_DIRECT */
	int direct_maps_choice;         /* -1: the platform's default, 0/1 */
	const char *check_target;       /* --check-target: open it, say what it is, exit */
};

/*
 * --check-target: what the hotplug script asks before it writes
 * hotplug-status=connected for a target with no local path, so that an
 * unreachable cluster fails `xl block-attach` with the reason rather than
 * leaving a disk that never connects. Read-only: it takes no rbd lock.
 */
static int check_target(const char *target, unsigned int nbd_timeout_ms)
{
	struct vha_target_spec *spec = malloc(sizeof(*spec));
	struct engine e = { .file = { .fd = -1, .bfd = -1 }, .timeout_ms = nbd_timeout_ms };
	char why[160];
	int rc;

	if (!spec) {
		vha_cli_error("out of memory");
		return VHA_EXIT_FAILURE;
	}
	if (vha_target_parse(target, spec, why, sizeof(why)) < 0) {
		free(spec);
		return vha_cli_usage("'%s' is not a target: %s", target, why);
	}
	rc = engine_open(&e, spec, false);
	free(spec);
	if (rc < 0) {
		vha_cli_error("cannot open %s: %s", target, e.why[0] ? e.why : strerror(-rc));
		return VHA_EXIT_FAILURE;
	}
	printf("%s: %s engine, %" PRIu64 " bytes, %u-byte sectors\n", target, engine_name(&e), e.size,
	       e.logical_block);
	engine_close(&e);
	return VHA_EXIT_OK;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vha-backend [OPTIONS]\n"
		"Serve Xen blkif devices (backend/<type>/<domid>/<devid>) from this domain.\n\n"
		"  --platform xen|sim         platform (default $VHA_PLATFORM, else xen)\n"
		"  --sim-dir DIR              sim: simulation directory (default $VHA_SIM_DIR, else /tmp/vha-sim)\n"
		"  --domid N                  sim: this backend's domain (default $VHA_SIM_DOMID, else 0)\n"
		"  --type NAME                xenstore backend type to serve (default vbd)\n"
		"  --foreground               do not daemonize (a daemon logs to <state-dir>/log)\n"
		"  --log-file PATH            append the log to PATH (default: standard error in the\n"
		"                             foreground, <state-dir>/log for a daemon); SIGHUP reopens it\n"
		"  --syslog                   log through syslog(3), facility daemon\n"
		"  --state-dir DIR            pid file and stats.json (default /run/vha-backend,\n"
		"                             sim: <sim-dir>/run/backend-<domid>)\n"
		"  --config FILE              read options from FILE (lines: key = value, keys as the long options)\n"
		"  --max-queues N             multi-queue-max-queues offered (default: number of CPUs, max %u)\n"
		"  --max-ring-order N         max-ring-page-order offered (default %u, max %u)\n"
		"  --max-indirect-segments N  feature-max-indirect-segments offered (default 256, max %u)\n"
		"  --grant-strategy S         map|persistent|copy|adaptive (default adaptive: persistent grants\n"
		"                             when the frontend takes them, else copy small requests and map\n"
		"                             large ones); a device's backend node grant-strategy overrides\n"
		"  --persistent-grants N      grants kept mapped per queue (default 1056, 0: never offer\n"
		"                             feature-persistent)\n"
		"  --copy-threshold BYTES     adaptive: copy requests up to this size (default 131072)\n"
		"  --copy-buffers BYTES       copy buffers per device, shared by its queues, beyond which\n"
		"                             requests are mapped (default 33554432)\n"
		"  --device-inflight N        requests in flight per device, shared by its queues; more wait\n"
		"                             in the ring (default 1024)\n"
		"  --device-inflight-bytes BYTES  data one device may have in flight, shared by its queues;\n"
		"                             more waits in the ring (default 16m, 0: no limit)\n"
		"  --device-grants N          grants one device may hold mapped (requests in flight and\n"
		"                             persistent cache; default 16384)\n"
		"  --total-grants N           grants all devices together may hold (default 61440); a device\n"
		"                             that connects when fewer are left gets what is left, or is\n"
		"                             refused when that is less than one largest request per queue\n"
		"  --total-inflight N         requests in flight, all devices together (default 16384)\n"
		"  --total-copy-buffers BYTES copy buffers, all devices together (default 512m)\n"
		"  --total-memory BYTES       memory the devices' queues may allocate, all devices together:\n"
		"                             request slots, copy buffers, indirect pages, cache entries\n"
		"                             (default 1g). Of every total, a connecting device gets what it\n"
		"                             asks while that is at most half of what is left, else half of\n"
		"                             what is left (copy buffers shrink first, then slots), and is\n"
		"                             refused below one largest request per queue\n"
		"  --no-resume                keep no in-flight journal: after a restart, live devices are\n"
		"                             closed and frontends must reconnect (default: taken over)\n"
		"  --direct, --no-direct      open targets with or without O_DIRECT (default: O_DIRECT on sim,\n"
		"                             buffered on xen: see docs/operations.md, O_DIRECT and grant maps)\n"
		"  --direct-maps, --no-direct-maps\n"
		"                             let O_DIRECT use grant mappings that are unmapped right after the\n"
		"                             request (default: yes on sim; no on xen, where such requests go\n"
		"                             through a second, buffered descriptor: docs/operations.md)\n"
		"  --nbd-timeout SECONDS      nbd targets: how long I/O waits for a lost NBD server to come\n"
		"                             back before it fails with an I/O error (default 30)\n"
		"  --poll-us MICROSECONDS     a queue's worker that just did work busy-polls its ring and\n"
		"                             its completions this long before it sleeps: lower latency at\n"
		"                             low queue depth for a CPU that spins (default 0: never; at\n"
		"                             most 1000)\n"
		"  --log-level LEVEL          error|warn|info|debug (default info)\n"
		"  --metrics FILE             also write Prometheus metrics to FILE whenever stats.json is\n"
		"                             written (node_exporter's textfile collector: name it *.prom)\n"
		"  --check-target TARGET      open TARGET read-only as a device would (rbd: the cluster\n"
		"                             reached within 10 s; nbd: the server within 5 s), print what\n"
		"                             it is, and exit: 0 it opens, 1 it does not (the reason on\n"
		"                             standard error), 2 it is not a target (the hotplug script's check)\n"
		"  --help, --version\n\n"
		"Signals: SIGTERM/SIGINT close every device and exit; SIGUSR2 exits leaving every device\n"
		"live, for the next vha-backend to take over (what the systemd unit stops with);\n"
		"SIGUSR1 rewrites stats.json now; SIGHUP reopens the log file (after logrotate moved it) and\n"
		"re-reads target sizes now (they are also checked every second). Under systemd\n"
		"(NOTIFY_SOCKET): READY=1 once live devices are taken over, WATCHDOG=1 if WatchdogSec= is\n"
		"set, STOPPING=1 on the way out. Log lines carry the time (UTC) and pid; on the journal\n"
		"(JOURNAL_STREAM) they carry a <N> priority instead.\n",
		BACKEND_MAX_QUEUES, VHA_BLKIF_MAX_RING_ORDER, VHA_BLKIF_MAX_RING_ORDER, VHA_BLKIF_MAX_SEGMENTS);
}

static const struct option long_opts[] = {
	{ "platform", required_argument, NULL, 'P' },
	{ "sim-dir", required_argument, NULL, 'S' },
	{ "domid", required_argument, NULL, 'D' },
	{ "type", required_argument, NULL, 't' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "state-dir", required_argument, NULL, 's' },
	{ "log-file", required_argument, NULL, 'L' },
	{ "metrics", required_argument, NULL, 'X' },
	{ "syslog", no_argument, NULL, 'y' },
	{ "config", required_argument, NULL, 'c' },
	{ "max-queues", required_argument, NULL, 'q' },
	{ "max-ring-order", required_argument, NULL, 'r' },
	{ "max-indirect-segments", required_argument, NULL, 'i' },
	{ "grant-strategy", required_argument, NULL, 'g' },
	{ "persistent-grants", required_argument, NULL, 'p' },
	{ "copy-threshold", required_argument, NULL, 'T' },
	{ "copy-buffers", required_argument, NULL, 'B' },
	{ "device-inflight", required_argument, NULL, 'I' },
	{ "device-grants", required_argument, NULL, 'G' },
	{ "device-inflight-bytes", required_argument, NULL, 'Y' },
	{ "total-grants", required_argument, NULL, 'A' },
	{ "total-inflight", required_argument, NULL, 'F' },
	{ "total-copy-buffers", required_argument, NULL, 'C' },
	{ "total-memory", required_argument, NULL, 'E' },
	{ "no-resume", no_argument, NULL, 'R' },
	{ "no-direct", no_argument, NULL, 'n' },
	{ "direct", no_argument, NULL, 'd' },
	{ "no-direct-maps", no_argument, NULL, 'm' },
	{ "direct-maps", no_argument, NULL, 'M' },
	{ "nbd-timeout", required_argument, NULL, 'O' },
	{ "poll-us", required_argument, NULL, 'H' },
	{ "check-target", required_argument, NULL, 'K' },
	{ "log-level", required_argument, NULL, 'l' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static int parse_num(const char *name, const char *arg, unsigned int min, unsigned int max, unsigned int *out)
{
	return vha_cli_uint(name, arg, min, max, out) < 0 ? -1 : 0;
}

/* A byte count: the same, with k/m/g suffixes. */
static int parse_bytes(const char *name, const char *arg, unsigned int max, unsigned int *out)
{
	uint64_t v;

	if (vha_cli_u64(name, arg, 0, max, VHA_PARSE_SIZE, &v) < 0)
		return -1;
	*out = (unsigned int)v;
	return 0;
}

static int read_config(struct options *o, const char *file);

/*
 * The metrics file as an absolute path (the daemon leaves the working
 * directory), in a directory that exists and is writable now: said at
 * start rather than once a second later. 0, or -1 after printing why.
 */
static int metrics_path(const char *file, char *out, size_t size)
{
	char dir[STATE_FILE_MAX], cwd[STATE_DIR_MAX] = "";
	char *slash;

	if (file[0] != '/' && !getcwd(cwd, sizeof(cwd))) {
		vha_cli_error("--metrics %s: cannot tell the current directory: %s", file, strerror(errno));
		return -1;
	}
	if (snprintf(out, size, "%s%s%s", cwd, *cwd ? "/" : "", file) >= (int)size) {
		vha_cli_error("--metrics %s: path too long", file);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", out);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (access(dir, W_OK) < 0) {
		vha_cli_error("--metrics %s: cannot write in %s: %s", file, dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* Apply one option; returns 0, or -1 after printing why. */
static int apply_option(struct options *o, int c, const char *arg)
{
	unsigned int v;

	switch (c) {
	case 'P': o->platform.kind = strdup(arg); break;
	case 'S': o->platform.sim_dir = strdup(arg); break;
	case 'D':
		if (parse_num("domid", arg, 0, VHA_DOMID_MAX, &v) < 0)
			return -1;
		o->platform.sim_domid = (int)v;
		break;
	case 't': o->cfg.type = strdup(arg); break;
	case 'f': o->foreground = true; break;
	case 's': o->state_dir = strdup(arg); break;
	case 'L':
		if (!*arg) {
			vha_cli_error("--log-file takes a path");
			return -1;
		}
		o->log_file = strdup(arg);
		break;
	case 'y': o->use_syslog = true; break;
	case 'X':
		if (!*arg) {
			vha_cli_error("--metrics takes a path (node_exporter's textfile collector reads *.prom)");
			return -1;
		}
		free(o->metrics_file);
		o->metrics_file = strdup(arg);
		break;
	case 'c': return read_config(o, arg);
	case 'q': return parse_num("max-queues", arg, 1, BACKEND_MAX_QUEUES, &o->cfg.max_queues);
	case 'r': return parse_num("max-ring-order", arg, 0, VHA_BLKIF_MAX_RING_ORDER, &o->cfg.max_ring_order);
	case 'i': return parse_num("max-indirect-segments", arg, 0, VHA_BLKIF_MAX_SEGMENTS,
				   &o->cfg.max_indirect_segments);
	case 'g': {
		int gs = grant_strategy_parse(arg);

		if (gs < 0) {
			vha_cli_error("unknown grant strategy '%s' (map|persistent|copy|adaptive)", arg);
			return -1;
		}
		o->cfg.strategy = (enum grant_strategy)gs;
		break;
	}
	case 'p': return parse_num("persistent-grants", arg, 0, 65536, &o->cfg.persistent_max);
	case 'T': return parse_bytes("copy-threshold", arg, 1u << 20, &o->cfg.copy_max);
	case 'B': return parse_bytes("copy-buffers", arg, 1u << 30, &o->cfg.copy_buffer_max);
	case 'I': return parse_num("device-inflight", arg, 1, 1u << 20, &o->cfg.device_max_inflight);
	case 'G': return parse_num("device-grants", arg, 1, 1u << 24, &o->cfg.device_max_grants);
	case 'Y': return vha_cli_u64("device-inflight-bytes", arg, 0, UINT64_C(1) << 40, VHA_PARSE_SIZE,
				     &o->cfg.device_max_inflight_bytes) < 0 ? -1 : 0;
	case 'A': return parse_num("total-grants", arg, 1, 1u << 24, &o->cfg.total_max_grants);
	case 'F': return parse_num("total-inflight", arg, 1, 1u << 24, &o->cfg.total_max_inflight);
	case 'C': return vha_cli_u64("total-copy-buffers", arg, 0, UINT64_C(1) << 40, VHA_PARSE_SIZE,
				     &o->cfg.total_copy_buffers) < 0 ? -1 : 0;
	case 'E': return vha_cli_u64("total-memory", arg, 1 << 20, UINT64_C(1) << 40, VHA_PARSE_SIZE,
				     &o->cfg.total_memory) < 0 ? -1 : 0;
	case 'R': o->cfg.resume = false; break;
	case 'n': o->direct_choice = 0; break;
	case 'd': o->direct_choice = 1; break;
	case 'm': o->direct_maps_choice = 0; break;
	case 'M': o->direct_maps_choice = 1; break;
	case 'O': {
		unsigned int seconds;

		if (parse_num("nbd-timeout", arg, 1, 86400, &seconds) < 0)
			return -1;
		o->cfg.nbd_timeout_ms = seconds * 1000u;
		break;
	}
	case 'H':
		if (parse_num("poll-us", arg, 0, 1000, &o->cfg.poll_us) < 0)
			return -1;
		break;
	case 'K': o->check_target = arg; break;
	case 'l':
		o->log_level = vha_log_parse_level(arg);
		if (o->log_level < 0) {
			vha_cli_error("unknown log level '%s' (error|warn|info|debug)", arg);
			return -1;
		}
		break;
	default:
		return -1;
	}
	return 0;
}

static int read_config(struct options *o, const char *file)
{
	FILE *f = fopen(file, "r");
	char line[CONFIG_LINE_MAX];
	int lineno = 0;

	if (!f) {
		vha_cli_error("cannot read config %s: %s", file, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *key = line, *val, *end;
		const struct option *opt;

		lineno++;
		key += strspn(key, " \t");
		if (*key == '#' || *key == '\n' || !*key)
			continue;
		line[strcspn(line, "\n")] = '\0';
		val = strchr(key, '=');
		end = val ? val : key + strlen(key);
		while (end > key && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		*end = '\0';
		if (val) {
			val++;
			val += strspn(val, " \t");
			for (char *t = val + strlen(val); t > val && (t[-1] == ' ' || t[-1] == '\t');)
				*--t = '\0';
		}
		for (opt = long_opts; opt->name; opt++)
			if (strcmp(opt->name, key) == 0)
				break;
		/* Not settings: a file within a file, help, version, and the one-shot --check-target. */
		if (!opt->name || opt->val == 'c' || opt->val == 'h' || opt->val == 'V' || opt->val == 'K' ||
		    (opt->has_arg == required_argument && !val)) {
			vha_cli_error("%s:%d: unknown or incomplete setting '%s'", file, lineno, key);
			fclose(f);
			return -1;
		}
		if (apply_option(o, opt->val, val ? val : "") < 0) {
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

/* A daemon's --log-file is opened once forked: check now that it can be, so the starter says why not. */
static int try_log_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static int mkdir_p(const char *path)
{
	char buf[STATE_DIR_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int main(int argc, char **argv)
{
	/* Static: option strings stay reachable until exit (no false leak reports). */
	static struct options o = {
		.cfg = { .type = "vbd", .max_ring_order = VHA_BLKIF_MAX_RING_ORDER, .max_indirect_segments = 256,
			 .direct = true, .strategy = GS_ADAPTIVE, .persistent_max = 1056, .copy_max = 131072,
			 .copy_buffer_max = 32u << 20, .resume = true, .nbd_timeout_ms = 30000, .device_max_inflight = 1024,
			 .device_max_grants = 16384, .total_max_grants = 61440, .total_max_inflight = 16384,
			 .device_max_inflight_bytes = UINT64_C(16) << 20,
			 .total_copy_buffers = UINT64_C(512) << 20, .total_memory = UINT64_C(1) << 30 },
		.platform = { .sim_domid = -1 },
		.log_level = VHA_LOG_INFO,
		.direct_choice = -1,
		.direct_maps_choice = -1,
	};
	struct backend be = { .wake_fd = -1 };
	struct vha_platform *platform = NULL;
	char state_dir[STATE_DIR_MAX], pidfile[STATE_FILE_MAX], logfile[STATE_FILE_MAX], metrics[STATE_FILE_MAX];
	int ready[2] = { -1, -1 }, sfd = -1, lock_fd = -1, c, rc = VHA_EXIT_FAILURE;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct timespec now, last_watchdog = { 0 };
	time_t last_stats = 0;
	uint64_t watchdog_usec = 0;
	int poll_ms = 1000;
	bool ready_sent = false, handoff = false, close_all = false;
	sigset_t mask;
	FILE *pf;

	vha_cli_init("vha-backend");
	o.cfg.max_queues = ncpu < 1 ? 1 : ncpu > BACKEND_MAX_QUEUES ? BACKEND_MAX_QUEUES : (unsigned int)ncpu;
	while ((c = getopt_long(argc, argv, "fh", long_opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return VHA_EXIT_OK;
		}
		if (c == 'V')
			return vha_cli_version();
		if (c == '?' || apply_option(&o, c, optarg) < 0) {
			vha_cli_hint();
			return VHA_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return vha_cli_usage("unexpected argument '%s'", argv[optind]);
	vha_log_set_threshold((enum vha_log_level)o.log_level);
	if (o.check_target)
		return check_target(o.check_target, o.cfg.nbd_timeout_ms);
	/* Foreground: the log file now, so every line goes there; a daemon's opens once forked. */
	if (o.log_file) {
		rc = o.foreground ? daemon_log_open(o.log_file) : try_log_file(o.log_file);
		if (rc < 0) {
			vha_cli_error("cannot open log file %s: %s", o.log_file, strerror(-rc));
			return VHA_EXIT_FAILURE;
		}
	}
	daemon_log_start(o.use_syslog);

	/* The sim defaults its directory like the other tools. */
	if (!o.platform.sim_dir && !getenv("VHA_SIM_DIR"))
		o.platform.sim_dir = "/tmp/vha-sim";
	rc = vha_platform_open(&o.platform, &platform);
	if (rc < 0) {
		vha_cli_error("%s", vha_platform_strerror());
		return VHA_EXIT_FAILURE;
	}
	/*
	 * On a Linux dom0, O_DIRECT into a gntdev mapping that is unmapped right
	 * after the request can leave the grant mapped after the response (the
	 * kernel still holds the pages when the completion arrives; gntdev
	 * defers the unmap): with --direct such requests go buffered there
	 * (direct_maps off). And a backend killed with direct I/O in flight on
	 * gntdev pages trips gntdev while its mappings are torn down: on xen,
	 * buffered unless asked.
	 */
	if (o.direct_choice < 0)
		o.cfg.direct = strcmp(vha_platform_kind(platform), "sim") == 0;
	else
		o.cfg.direct = o.direct_choice == 1;
	if (o.direct_maps_choice < 0)
		o.cfg.direct_maps = strcmp(vha_platform_kind(platform), "sim") == 0;
	else
		o.cfg.direct_maps = o.direct_maps_choice == 1;
	if (o.state_dir)
		snprintf(state_dir, sizeof(state_dir), "%s", o.state_dir);
	else if (strcmp(vha_platform_kind(platform), "sim") == 0)
		snprintf(state_dir, sizeof(state_dir), "%s/run/backend-%u",
			 o.platform.sim_dir ? o.platform.sim_dir : getenv("VHA_SIM_DIR"), vha_platform_domid(platform));
	else
		snprintf(state_dir, sizeof(state_dir), "/run/vha-backend");
	if (mkdir_p(state_dir) < 0) {
		vha_cli_error("cannot create state directory %s: %s", state_dir, strerror(errno));
		goto out;
	}
	o.cfg.state_dir = state_dir;
	if (o.metrics_file && metrics_path(o.metrics_file, metrics, sizeof(metrics)) < 0)
		goto out;
	o.cfg.metrics_path = o.metrics_file ? metrics : NULL;

	/* Daemonize before any thread exists; the parent exits once the child is serving. */
	if (!o.foreground) {
		pid_t pid;

		if (pipe(ready) != 0)
			goto out;
		pid = fork();
		if (pid < 0) {
			perror("vha-backend: fork");
			goto out;
		}
		if (pid > 0) {
			char ok = 0;

			close(ready[1]);
			if (read(ready[0], &ok, 1) == 1 && ok == 1)
				_exit(VHA_EXIT_OK);
			vha_cli_error("failed to start (see the log)");
			_exit(VHA_EXIT_FAILURE);
		}
		close(ready[0]);
		setsid();
		/* A daemon lets go of its starter's terminal or pipe: logs go to --log-file or <state-dir>/log. */
		if (o.log_file)
			snprintf(logfile, sizeof(logfile), "%s", o.log_file);
		else
			snprintf(logfile, sizeof(logfile), "%s/log", state_dir);
		if (!freopen("/dev/null", "r", stdin) || !freopen("/dev/null", "w", stdout) ||
		    daemon_log_open(logfile) < 0)
			_exit(VHA_EXIT_FAILURE);
		setvbuf(stderr, NULL, _IOLBF, 0);
		/* Its standard error is now a file, whatever it was (the journal's style no longer applies). */
		daemon_log_start(o.use_syslog);
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	be.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sfd < 0 || be.wake_fd < 0)
		goto out;
	/* Before any device is looked at: a second daemon would take over live rings the first still serves. */
	rc = backend_lock(state_dir, BACKEND_LOCK_WAIT_MS, &lock_fd);
	if (rc < 0) {
		vha_err("%s", rc == -EWOULDBLOCK ? "another vha-backend serves this state directory (its lock is held)"
						: strerror(-rc));
		vha_err("cannot lock %s/lock; exiting", state_dir);
		rc = VHA_EXIT_FAILURE;
		goto out;
	}
	rc = VHA_EXIT_FAILURE;
	if (backend_init(&be, &o.cfg, platform) < 0)
		goto out;
	snprintf(pidfile, sizeof(pidfile), "%s/pid", state_dir);
	pf = fopen(pidfile, "w");
	if (pf) {
		fprintf(pf, "%d\n", (int)getpid());
		fclose(pf);
	}
	if (ready[1] >= 0) {
		char ok = 1;

		if (write(ready[1], &ok, 1) != 1)
			goto out;
		close(ready[1]);
		ready[1] = -1;
	}

	/*
	 * systemd's watchdog (WatchdogSec=): WATCHDOG=1 from this loop at half
	 * the interval, so a pass that stalls gets the daemon killed and
	 * restarted, and the new process takes the devices over.
	 */
	if (sd_watchdog_enabled(0, &watchdog_usec) <= 0)
		watchdog_usec = 0;
	if (watchdog_usec && watchdog_usec / 2000 < (uint64_t)poll_ms)
		poll_ms = watchdog_usec / 2000 ? (int)(watchdog_usec / 2000) : 1;
	/*
	 * xenstored fires each watch once as it is registered. That first event
	 * makes the first pass below scan every device and take the live ones
	 * over, so readiness is reported after it; wait for it here, where
	 * nothing has read the watch queue yet.
	 */
	{
		struct pollfd first = { .fd = xs_fileno(be.xs), .events = POLLIN };

		if (poll(&first, 1, FIRST_WATCH_WAIT_MS) == 0)
			vha_warn("no xenstore watch event within %d ms; scanning anyway", FIRST_WATCH_WAIT_MS);
	}

	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = xs_fileno(be.xs), .events = POLLIN },
			{ .fd = be.wake_fd, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
		};
		struct signalfd_siginfo si;
		bool quit = false;

		backend_process(&be);
		/* Ready once every device found live is taken over (a target opening on its job thread is not yet). */
		if (!ready_sent && !backend_taking_over(&be)) {
			/* A no-op without NOTIFY_SOCKET (not under systemd). */
			sd_notifyf(0, "READY=1\nSTATUS=serving %s, %u device(s) found", be.base_path, be.nr_devices);
			ready_sent = true;
		}
		if (watchdog_usec) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if ((uint64_t)(now.tv_sec - last_watchdog.tv_sec) * 1000000 +
				    (now.tv_nsec - last_watchdog.tv_nsec) / 1000 >= watchdog_usec / 2) {
				sd_notify(0, "WATCHDOG=1");
				last_watchdog = now;
			}
		}
		if (poll(pfd, 3, poll_ms) < 0 && errno != EINTR)
			break;
		while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGUSR1) {
				backend_write_stats(&be);
			} else if (si.ssi_signo == SIGHUP) {
				/* The conventional reload: logrotate's postrotate sends it. */
				int reopened = daemon_log_reopen();

				if (reopened < 0)
					vha_err("SIGHUP: cannot reopen the log file: %s; still writing to the old one",
						strerror(-reopened));
				else if (reopened > 0)
					vha_info("SIGHUP: log file reopened");
				backend_check_sizes(&be);
			} else {
				quit = true;
				/* SIGTERM/SIGINT win over a SIGUSR2 that came with them. */
				if (si.ssi_signo == SIGUSR2)
					handoff = true;
				else
					close_all = true;
			}
		}
		if (quit)
			break;
		/* stats.json at most once a second, whatever the event rate. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec != last_stats) {
			last_stats = now.tv_sec;
			backend_check_sizes(&be);
			backend_write_stats(&be);
			backend_flush_logs(&be);
		}
	}
	if (handoff && !close_all) {
		/*
		 * Leave every device as a kill would: rings mapped until exit,
		 * journals kept, states untouched, so the next vha-backend takes
		 * the live rings over and the frontends notice a pause. Exiting
		 * now, whatever the workers are doing, is safe because the journal
		 * is written for a SIGKILL at any store.
		 */
		sd_notify(0, "STOPPING=1\nSTATUS=exiting; devices left live for the next vha-backend");
		vha_info("exiting on SIGUSR2; %u device(s) and their journals left live for the next vha-backend",
			 be.nr_devices);
		backend_write_stats(&be);
		backend_flush_logs(&be);
		unlink(pidfile);
		fflush(stderr);
		_exit(VHA_EXIT_OK);
	}
	sd_notify(0, "STOPPING=1\nSTATUS=closing every device");
	vha_info("shutting down");
	backend_shutdown(&be);
	backend_write_stats(&be);
	unlink(pidfile);
	rc = VHA_EXIT_OK;
out:
	if (be.xs)
		xs_close(be.xs);
	vha_gnttab_close(be.gnttab);
	vha_platform_close(platform);
	if (sfd >= 0)
		close(sfd);
	if (be.wake_fd >= 0)
		close(be.wake_fd);
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}
