// SPDX-License-Identifier: MIT
/*
 * vha-soak-simstat: the sim's grant and port accounting of some domains, as
 * one "key=value" line per domain, for the soak scripts to compare before and
 * after a run. `vhactl sim status` prints most of this for people; this
 * prints all of it (also pool pages allocated) in a form a script can diff.
 *   vha-soak-simstat SIMDIR DOMID...
 * Exit 0, or 1 if a domain cannot be read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vha/sim.h"

int main(int argc, char **argv)
{
	int bad = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: vha-soak-simstat SIMDIR DOMID...\n");
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		struct vha_sim_domain_stats st;
		unsigned long domid = strtoul(argv[i], NULL, 10);
		int rc = vha_sim_domain_stats(argv[1], (vha_domid_t)domid, &st);

		if (rc < 0) {
			fprintf(stderr, "vha-soak-simstat: domain %lu: %s\n", domid, strerror(-rc));
			bad = 1;
			continue;
		}
		printf("dom%lu_alive=%d dom%lu_grants_active=%u dom%lu_pages_mapped=%u dom%lu_pages_allocated=%u "
		       "dom%lu_ports=%u\n",
		       domid, st.alive, domid, st.grants_active, domid, st.pages_mapped, domid, st.pages_allocated, domid,
		       st.ports_in_use);
	}
	return bad;
}
