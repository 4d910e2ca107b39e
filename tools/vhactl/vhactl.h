/* SPDX-License-Identifier: MIT */
/* vhactl internals: the subcommands, over xenstore and the sim admin API. */
#ifndef VHACTL_H
#define VHACTL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <xen/io/xs_wire.h>

#include "vha/platform.h"

/* Room for any xenstore path (files use PATH_MAX). */
#define CTL_XS_PATH_MAX (XENSTORE_ABS_PATH_MAX + 1)
/*
 * A path of CTL_XS_PATH_MAX plus one child's name: what is cut off was
 * already beyond xenstore's own limit, so it names no node either way.
 */
#define CTL_XS_CHILD_MAX (CTL_XS_PATH_MAX + 64)
/* A short name for the user: "xvdX" or a device id, a domain's name or id, NUL included. */
#define CTL_NAME_MAX 64

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

struct xs_handle;

/* Seconds on CLOCK_MONOTONIC. */
double ctl_now(void);

/* Open the platform (kind NULL: c->platform) and a xenstore handle. 0, or -1 after printing why. */
int ctl_open_xs(struct ctl *c, const char *kind, struct vha_platform **pp, struct xs_handle **xsp);
void ctl_close_xs(struct vha_platform *p, struct xs_handle *xs);

/* The pid in a pid file if that process lives, else 0. */
pid_t ctl_read_pid(const char *path);
/* Wait for pid to exit: 0, or -1 after timeout seconds. */
int ctl_wait_pid_gone(pid_t pid, double timeout);

/*
 * Wait until done(xs, arg) holds, re-evaluating it after every xenstore
 * watch event on path (and once at the start): 0, -ETIMEDOUT after timeout
 * seconds, or -errno from poll.
 */
int ctl_wait_xs(struct xs_handle *xs, const char *path, double timeout, bool (*done)(struct xs_handle *, void *),
		void *arg);
/* Wait until <dir>/state is want1 or want2 (by watch): that state, or -ETIMEDOUT. */
int ctl_wait_state(struct xs_handle *xs, const char *dir, int want1, int want2, double timeout);

/* "xvdX" for a 202:X device id, else the number. Returns buf. */
const char *ctl_vdev_name(unsigned long devid, char *buf, size_t len);

/* xvda -> 51712, xvdb -> 51728, ... or a plain number. Returns -1 if neither. */
long ctl_parse_vdev(const char *s);

#endif
