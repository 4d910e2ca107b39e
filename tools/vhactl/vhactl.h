/* SPDX-License-Identifier: MIT */
/* vhactl internals: the subcommands, over xenstore and the sim admin API. */
#ifndef VHACTL_H
#define VHACTL_H

#include <stdbool.h>

#include "vha/platform.h"

struct ctl {
	const char *platform;           /* NULL: $VHA_PLATFORM, else xen */
	const char *sim_dir;            /* resolved: --sim-dir, $VHA_SIM_DIR, /tmp/vha-sim */
	int domid;                      /* sim: our domain (default 0) */
	const char *self_dir;           /* directory holding vhactl (to find vha-simxenstored) */
};

int ctl_sim(struct ctl *c, int argc, char **argv);
int ctl_attach(struct ctl *c, int argc, char **argv);
int ctl_detach(struct ctl *c, int argc, char **argv);
int ctl_list(struct ctl *c, int argc, char **argv);
int ctl_stats(struct ctl *c, int argc, char **argv);
int ctl_resize(struct ctl *c, int argc, char **argv);

/* xvda -> 51712, xvdb -> 51728, ... or a plain number. Returns -1 if neither. */
long ctl_parse_vdev(const char *s);

#endif
