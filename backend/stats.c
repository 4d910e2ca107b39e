// SPDX-License-Identifier: MIT
/*
 * stats.json: what every device and queue has done, for vhactl stats and
 * the tests. Written by the main thread at most once a second (and on
 * SIGUSR1) to a temporary file renamed into place, so readers never see half
 * a file. Queue counters are written by workers and read here without a
 * lock: each value is recent, not a snapshot of all at one instant.
 *
 * The layout is line-oriented on purpose and part of the interface: one
 * device per line opening with {"frontend": , one queue per line opening
 * with {"queue": , "key": value pairs. vhactl stats and the Xen suite read it
 * line by line. (It is generated here rather than through a JSON library
 * because no Debian JSON writer keeps that layout; a change of layout would
 * have to change those readers in the same commit.)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "backend.h"

int backend_write_stats(struct backend *be)
{
	char path[4096], tmp[4200];
	FILE *f;

	if (!be->cfg.state_dir)
		return 0;
	snprintf(path, sizeof(path), "%s/stats.json", be->cfg.state_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "{\"devices\": [");
	for (unsigned int i = 0; i < be->nr_devices; i++) {
		struct device *dev = be->devices[i];

		fprintf(f, "%s\n {\"frontend\": %u, \"devid\": %u, \"connected\": %s, \"grant_strategy\": \"%s\", "
			"\"persistent\": %s, \"o_direct\": %s, \"sectors\": %" PRIu64 ", \"closing\": %s, "
			"\"protocol\": \"%s\", \"grant_budget\": %" PRIu64 ", \"inflight_budget\": %" PRIu64
			", \"copy_budget\": %" PRIu64 ", \"memory_budget\": %" PRIu64 ", \"queues\": [", i ? "," : "",
			dev->fe_domid, dev->devid, dev->phase == DEV_CONNECTED ? "true" : "false",
			grant_strategy_name(dev->strategy), dev->persistent ? "true" : "false",
			dev->target.direct ? "true" : "false", dev->last_size >> 9, dev->stopping ? "true" : "false",
			be->ops->name, dev->budget.amount[BUDGET_GRANTS], dev->budget.amount[BUDGET_INFLIGHT],
			dev->budget.amount[BUDGET_COPY], dev->budget.amount[BUDGET_MEMORY]);
		for (unsigned int j = 0; j < dev->nr_queues; j++) {
			const struct queue *q = &dev->queues[j];
			const struct queue_stats *s = &q->stats;
			const struct grant_cache *c = &q->cache;
			uint64_t hits = STAT_GET(c->hits), lookups = hits + STAT_GET(c->misses);

			fprintf(f,
				"%s\n  {\"queue\": %u, \"ring_pages\": %u, \"requests\": %" PRIu64 ", \"reads\": %" PRIu64
				", \"writes\": %" PRIu64 ", \"flushes\": %" PRIu64 ", \"barriers\": %" PRIu64
				", \"discards\": %" PRIu64 ", \"indirect\": %" PRIu64
				", \"bytes_read\": %" PRIu64 ", \"bytes_written\": %" PRIu64 ", \"errors\": %" PRIu64
				", \"rejected\": %" PRIu64 ", \"notifies_sent\": %" PRIu64
				", \"events_received\": %" PRIu64 ", \"events_spurious\": %" PRIu64
				", \"events_delayed\": %" PRIu64 ", \"strategy_map\": %" PRIu64
				", \"strategy_persistent\": %" PRIu64 ", \"strategy_copy\": %" PRIu64
				", \"resumed\": %" PRIu64 ", \"buffered\": %" PRIu64
				", \"slots\": %u, \"map_budget\": %u, \"grants_mapped\": %u, \"grants_peak\": %" PRIu64
				", \"backlogged\": %" PRIu64 ", \"copy_budget\": %zu, \"copy_bytes\": %zu"
				", \"bytes_budget\": %" PRIu64 ", \"bytes_inflight\": %" PRIu64 ", \"bytes_peak\": %" PRIu64
				", \"grant_cache\": {\"size\": %u, \"capacity\": %u, \"hits\": %" PRIu64
				", \"misses\": %" PRIu64 ", \"evictions\": %" PRIu64 ", \"hit_rate\": %.4f}}",
				j ? "," : "", j, q->nr_ring_pages, STAT_GET(s->requests), STAT_GET(s->reads), STAT_GET(s->writes), STAT_GET(s->flushes),
				STAT_GET(s->barriers), STAT_GET(s->discards), STAT_GET(s->indirect), STAT_GET(s->bytes_read), STAT_GET(s->bytes_written), STAT_GET(s->errors),
				STAT_GET(s->rejected), STAT_GET(s->notifies_sent), STAT_GET(s->events_received), STAT_GET(s->events_spurious), STAT_GET(s->events_delayed),
				STAT_GET(s->strategy[GS_MAP]),
				STAT_GET(s->strategy[GS_PERSISTENT]), STAT_GET(s->strategy[GS_COPY]), STAT_GET(s->resumed), STAT_GET(s->buffered),
				q->nr_slots, q->map_budget, STAT_GET(q->grants_mapped), STAT_GET(s->grants_peak), STAT_GET(s->backlogged), q->copy_budget,
				STAT_GET(q->cbuf_total), q->bytes_budget, STAT_GET(q->bytes_inflight),
				STAT_GET(s->bytes_peak), STAT_GET(c->used), c->capacity, hits,
				STAT_GET(c->misses), STAT_GET(c->evictions), lookups ? (double)hits / (double)lookups : 0.0);
		}
		fprintf(f, "]}");
	}
	/* The totals and what connected devices hold of them, one line. */
	fprintf(f, "\n], \"budgets\": {");
	for (enum budget_kind k = 0; k < BUDGET_KINDS; k++)
		fprintf(f, "%s\"%s\": {\"total\": %" PRIu64 ", \"reserved\": %" PRIu64 "}", k ? ", " : "",
			budget_name(k), be->pool.total[k], be->pool.reserved[k]);
	fprintf(f, "}}\n");
	if (fclose(f) != 0)
		return -errno;
	return rename(tmp, path) == 0 ? 0 : -errno;
}
