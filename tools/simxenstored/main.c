// SPDX-License-Identifier: MIT
/* vha-simxenstored: the simulated platform's xenstored. See docs/sim-xenstored.md. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vha/cli.h"
#include "vha/log.h"
#include "xsd.h"

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vha-simxenstored --dir DIR [--daemon] [--pid-file FILE] [--log-level LEVEL]\n"
		"A xenstored for the simulated Xen platform, speaking the xenstore wire protocol.\n"
		"Listens on DIR/socket as domain 0; after dom0 introduces domain N (xs_introduce_domain),\n"
		"also on DIR/domain-N.sock for that domain. Point libxenstore or the xenstore-* tools at a\n"
		"socket with XENSTORED_PATH=DIR/socket.\n\n"
		"  --dir DIR          directory for the sockets (created if missing)\n"
		"  --daemon           fork into the background once the socket listens\n"
		"  --pid-file FILE    write the daemon's pid here\n"
		"  --log-level LEVEL  error|warn|info|debug (default info)\n"
		"  --help, --version\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },      { "daemon", no_argument, NULL, 'D' },
		{ "pid-file", required_argument, NULL, 'p' }, { "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },           { "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *pidfile = NULL;
	bool daemonize = false;
	struct sigaction sa = { .sa_handler = on_signal };
	struct xsd *x;
	int c, lvl;

	vha_cli_init("vha-simxenstored");
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'D': daemonize = true; break;
		case 'p': pidfile = optarg; break;
		case 'l':
			lvl = vha_log_parse_level(optarg);
			if (lvl < 0)
				return vha_cli_usage("unknown log level '%s' (error|warn|info|debug)", optarg);
			vha_log_set_threshold((enum vha_log_level)lvl);
			break;
		case 'h': usage(stdout); return VHA_EXIT_OK;
		case 'V': return vha_cli_version();
		default: vha_cli_hint(); return VHA_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return vha_cli_usage("unexpected argument '%s'", argv[optind]);
	if (!dir)
		return vha_cli_usage("--dir is required");
	if (xsd_create(dir, &x) < 0)
		return VHA_EXIT_FAILURE;
	if (daemonize) {
		pid_t pid = fork();

		if (pid < 0) {
			vha_cli_error("fork: %s", strerror(errno));
			return VHA_EXIT_FAILURE;
		}
		if (pid > 0) {
			/* The socket already listens, and the pid file names the daemon: the starter may go on. */
			if (pidfile) {
				FILE *f = fopen(pidfile, "w");

				if (f) {
					fprintf(f, "%d\n", (int)pid);
					fclose(f);
				}
			}
			_exit(VHA_EXIT_OK);
		}
		setsid();
		/* Let go of the starter's terminal or pipe (stderr stays: the starter chose where logs go). */
		if (!freopen("/dev/null", "r", stdin) || !freopen("/dev/null", "w", stdout))
			return VHA_EXIT_FAILURE;
	}
	if (pidfile && !daemonize) {
		FILE *f = fopen(pidfile, "w");

		if (f) {
			fprintf(f, "%d\n", (int)getpid());
			fclose(f);
		}
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	while (!quit)
		if (xsd_run_once(x, 500) < 0)
			break;
	xsd_destroy(x);
	if (pidfile)
		unlink(pidfile);
	return VHA_EXIT_OK;
}
