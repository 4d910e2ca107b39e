// SPDX-License-Identifier: MIT
/* vhactl: run the simulated platform and attach disks without a toolstack. */
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vha/cli.h"
#include "vha/log.h"
#include "vhactl.h"

#define CTL_COMMANDS "sim|attach|detach|resize|list|stats"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vhactl [GLOBAL OPTIONS] COMMAND [ARGS]\n\n"
		"Commands:\n"
		"  sim start|stop|status            run the simulated Xen platform in the sim directory\n"
		"  sim create-domain N [--name S]   create sim domain N (memory, xenstore, introduce)\n"
		"  sim destroy-domain N [--timeout S]\n"
		"                                   tear domain N down as the toolstack does on death\n"
		"  attach --frontend-domid N --target TARGET [--devid D|--vdev xvdX] [--mode w|r]\n"
		"         [--backend-domid B] [--type vbd] [--device-type disk|cdrom] [--timeout S]\n"
		"         [--wait initwait|connected] [--grant-strategy map|persistent|copy|adaptive]\n"
		"                                   write a disk's xenstore nodes as libxl does\n"
		"  detach --frontend-domid N --devid D [--timeout S] [--force]\n"
		"                                   take a disk away as libxl does\n"
		"  resize --frontend-domid N --devid D [--size BYTES [--shrink]]\n"
		"                                   online resize: grow the target, the guest sees it\n"
		"  list [--json]                    devices, both states, targets\n"
		"  stats [--state-dir DIR] [--wide | --json]\n"
		"                                   the backend's per-device, per-queue counters\n\n"
		"Global options:\n"
		"  --platform xen|sim   (default $VHA_PLATFORM, else xen)\n"
		"  --sim-dir DIR        (default $VHA_SIM_DIR, else /tmp/vha-sim)\n"
		"  --domid N            sim: the domain vhactl acts as (default 0)\n"
		"  --log-level LEVEL    error|warn|info|debug\n"
		"  --help, --version\n\n"
		"Global options go before the command; COMMAND --help shows a command's options.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "platform", required_argument, NULL, 'P' },
		{ "sim-dir", required_argument, NULL, 'S' },
		{ "domid", required_argument, NULL, 'D' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static struct ctl c = { .domid = 0 };
	static char self[PATH_MAX];
	ssize_t n;
	int opt, lvl;
	const char *cmd;

	vha_cli_init("vhactl");
	/* getopt's complaints (here and in every subcommand) go through vha_cli_bad_option. */
	opterr = 0;
	/* Stop at the first non-option: the subcommand parses the rest. */
	while ((opt = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'P': c.platform = optarg; break;
		case 'S': c.sim_dir = optarg; break;
		case 'D':
			if (vha_cli_int("domid", optarg, 0, VHA_DOMID_MAX, &c.domid) < 0) {
				vha_cli_hint();
				return VHA_EXIT_USAGE;
			}
			break;
		case 'l':
			lvl = vha_log_parse_level(optarg);
			if (lvl < 0)
				return vha_cli_usage("unknown log level '%s' (error|warn|info|debug)", optarg);
			vha_log_set_threshold((enum vha_log_level)lvl);
			break;
		case 'h': usage(stdout); return VHA_EXIT_OK;
		case 'V': return vha_cli_version();
		default: return vha_cli_bad_option(opt, argv);
		}
	}
	if (!c.sim_dir)
		c.sim_dir = getenv("VHA_SIM_DIR");
	if (!c.sim_dir || !*c.sim_dir)
		c.sim_dir = "/tmp/vha-sim";
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	self[n > 0 ? n : 0] = '\0';
	c.self_dir = n > 0 ? dirname(self) : ".";
	if (optind >= argc)
		return vha_cli_usage("a command is required (" CTL_COMMANDS ")");
	/* A command refusing --platform and the like says where they go. */
	vha_cli_set_global_options(opts);
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 1;
	if (strcmp(cmd, "sim") == 0)
		return ctl_sim(&c, argc, argv);
	if (strcmp(cmd, "attach") == 0)
		return ctl_attach(&c, argc, argv);
	if (strcmp(cmd, "resize") == 0)
		return ctl_resize(&c, argc, argv);
	if (strcmp(cmd, "detach") == 0)
		return ctl_detach(&c, argc, argv);
	if (strcmp(cmd, "list") == 0)
		return ctl_list(&c, argc, argv);
	if (strcmp(cmd, "stats") == 0)
		return ctl_stats(&c, argc, argv);
	return vha_cli_usage("unknown command '%s' (" CTL_COMMANDS ")", cmd);
}
