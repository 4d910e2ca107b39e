// SPDX-License-Identifier: MIT
/* The sim platform's ops table: configuration and the xenstore connection. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <xenstore.h>

#include "sim_internal.h"
#include "vha/cli.h"

/* libxenstore reads $XENSTORED_PATH inside xs_open(); serialize our changes to it. */
static pthread_mutex_t xs_env_lock = PTHREAD_MUTEX_INITIALIZER;

static int sim_open(struct vha_platform *p, const struct vha_platform_config *cfg)
{
	const char *dir = cfg->sim_dir;
	struct sim_platform *sp;
	struct stat st;
	long domid = cfg->sim_domid;

	if (!dir || !*dir)
		dir = getenv("VHA_SIM_DIR");
	if (!dir || !*dir) {
		vha_platform_set_error("no simulation directory: pass --sim-dir or set VHA_SIM_DIR "
				       "(start one with `vhactl sim start`)");
		return -EINVAL;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		vha_platform_set_error("simulation directory %s does not exist; start it with "
				       "`vhactl --sim-dir %s sim start`", dir, dir);
		return -ENOENT;
	}
	if (domid < 0) {
		const char *env = getenv("VHA_SIM_DOMID");
		uint64_t v;

		domid = 0;
		if (env && *env) {
			/* Digits only, 0..VHA_DOMID_MAX: strtol also took " 5" and "+5". */
			if (vha_parse_u64(env, 0, VHA_DOMID_MAX, 0, &v) < 0) {
				vha_platform_set_error("VHA_SIM_DOMID=%s is not a domain id (0 to %d)", env, VHA_DOMID_MAX);
				return -EINVAL;
			}
			domid = (long)v;
		}
	}
	if (!vha_sim_domain_exists(dir, (vha_domid_t)domid)) {
		vha_platform_set_error("sim domain %ld does not exist in %s; create it with "
				       "`vhactl sim create-domain %ld`", domid, dir, domid);
		return -ESRCH;
	}
	sp = calloc(1, sizeof(*sp));
	if (!sp || !(sp->simdir = strdup(dir))) {
		free(sp);
		return -ENOMEM;
	}
	sp->domid = (vha_domid_t)domid;
	p->domid = sp->domid;
	p->priv = sp;
	return 0;
}

static void sim_close(struct vha_platform *p)
{
	struct sim_platform *sp = p->priv;

	if (!sp)
		return;
	free(sp->simdir);
	free(sp);
	p->priv = NULL;
}

static struct xs_handle *sim_xs_open(struct vha_platform *p)
{
	struct sim_platform *sp = p->priv;
	struct xs_handle *xs;
	char path[SIM_PATH_MAX], *saved = NULL;
	const char *old;
	int err;

	if (sp->domid == 0)
		snprintf(path, sizeof(path), "%s/xenstore/socket", sp->simdir);
	else
		snprintf(path, sizeof(path), "%s/xenstore/domain-%u.sock", sp->simdir, sp->domid);
	pthread_mutex_lock(&xs_env_lock);
	old = getenv("XENSTORED_PATH");
	if (old)
		saved = strdup(old);
	setenv("XENSTORED_PATH", path, 1);
	/* Socket only: never fall back to /dev/xen/xenbus of a real host. */
	xs = xs_open(XS_OPEN_SOCKETONLY);
	err = errno;
	if (saved)
		setenv("XENSTORED_PATH", saved, 1);
	else
		unsetenv("XENSTORED_PATH");
	pthread_mutex_unlock(&xs_env_lock);
	free(saved);
	errno = err;
	return xs;
}

const struct vha_platform_ops vha_platform_sim_ops = {
	.name = "sim",
	.open = sim_open,
	.close = sim_close,
	.xs_open = sim_xs_open,
	.gnttab_open = sim_gnttab_open,
	.gnttab_close = sim_gnttab_close,
	.gnttab_map = sim_gnttab_map,
	.gnttab_unmap = sim_gnttab_unmap,
	.gnttab_copy = sim_gnttab_copy,
	.gntshr_open = sim_gntshr_open,
	.gntshr_close = sim_gntshr_close,
	.gntshr_share = sim_gntshr_share,
	.gntshr_unshare = sim_gntshr_unshare,
	.evtchn_open = sim_evtchn_open,
	.evtchn_close = sim_evtchn_close,
	.evtchn_fd = sim_evtchn_fd,
	.evtchn_bind_unbound = sim_evtchn_bind_unbound,
	.evtchn_bind_interdomain = sim_evtchn_bind_interdomain,
	.evtchn_unbind = sim_evtchn_unbind,
	.evtchn_notify = sim_evtchn_notify,
	.evtchn_pending = sim_evtchn_pending,
	.evtchn_unmask = sim_evtchn_unmask,
};
