/* SPDX-License-Identifier: MIT */
/* Private to the platform layer: the handle layouts and the two ops tables. */
#ifndef VHA_PLATFORM_IMPL_H
#define VHA_PLATFORM_IMPL_H

#include "vha/platform.h"

/* Most pages one map/share call may cover (a 1 MiB request plus its indirect pages, with room). */
#define VHA_GNTTAB_MAX_BATCH 1024u

struct vha_platform {
	const struct vha_platform_ops *ops;
	vha_domid_t domid;
	void *priv;
};

struct vha_gnttab {
	struct vha_platform *p;
	void *priv;
};

struct vha_gntshr {
	struct vha_platform *p;
	void *priv;
};

struct vha_evtchn {
	struct vha_platform *p;
	void *priv;
};

extern const struct vha_platform_ops vha_platform_xen_ops;
extern const struct vha_platform_ops vha_platform_sim_ops;

/* Set the human explanation returned by vha_platform_strerror() (this thread). */
void vha_platform_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
