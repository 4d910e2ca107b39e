/* SPDX-License-Identifier: MIT */
/*
 * Administration of the simulated platform's domains (for vhactl and tests).
 * A sim domain is a shared-memory file <simdir>/domains/<domid>.mem holding
 * the domain's grant table, page pool and event-channel port table; see
 * docs/sim-platform.md. The xenstore side (introduce/release, the
 * /local/domain/<id> nodes) is the toolstack's job (vhactl), as on Xen.
 * All functions return 0 or -errno and never log.
 */
#ifndef VHA_SIM_H
#define VHA_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "vha/platform.h"

/* Create domain `domid` (-EEXIST if it exists and is alive; a dead one is recreated). */
int vha_sim_domain_create(const char *simdir, vha_domid_t domid);
/*
 * Tear domain `domid` down as Xen does when a domain dies: new grant maps
 * fail with -ESRCH (existing mappings stay valid until unmapped), its event
 * channels close and their peers' ports become unbound.
 */
int vha_sim_domain_destroy(const char *simdir, vha_domid_t domid);
/* true if the domain exists and is alive. */
bool vha_sim_domain_exists(const char *simdir, vha_domid_t domid);

struct vha_sim_domain_stats {
	bool alive;
	uint32_t grants_active;     /* grant entries in use (granted or awaiting release) */
	uint32_t pages_mapped;      /* sum of other domains' mappings of this domain's grants */
	uint32_t pages_allocated;   /* pool pages allocated */
	uint32_t ports_in_use;      /* event-channel ports not free */
};

int vha_sim_domain_stats(const char *simdir, vha_domid_t domid, struct vha_sim_domain_stats *st);

#endif
