/* SPDX-License-Identifier: MIT */
/*
 * Budgets: what all devices together may make the daemon hold, and the
 * share one device reserves while it is connected (docs/backend.md,
 * "Resource budgets"). Pure bookkeeping on the main thread: no locking, no
 * logging, no I/O, so the policy is unit-tested on its own
 * (tests/backend/test_budget.c).
 *
 * The policy, for every kind: a device asks for what it is configured to
 * have (want) and needs at least a floor to work at all. It gets its want
 * while that is at most half of what is left, else half of what is left;
 * when that is below its floor it is refused. So no guest, however much it
 * asks for, takes more than half of what is left: a guest that asks for the
 * maximum of everything is offered less, and the next one still finds
 * room. A takeover after a restart asks for exactly what its queues had
 * (their journals say): those shares fitted the totals together before, so
 * they fit again in any order.
 */
#ifndef VHA_BACKEND_BUDGET_H
#define VHA_BACKEND_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum budget_kind {
	BUDGET_GRANTS,          /* grants mapped at once: requests in flight and persistent caches */
	BUDGET_INFLIGHT,        /* request slots */
	BUDGET_COPY,            /* bytes of grant-copy buffers */
	BUDGET_MEMORY,          /* bytes of backend memory a device's queues allocate */
	BUDGET_KINDS
};

/* "grants", "inflight", "copy_bytes", "memory_bytes": the stats.json names. */
const char *budget_name(enum budget_kind k);

struct budget_pool {
	uint64_t total[BUDGET_KINDS];
	uint64_t reserved[BUDGET_KINDS];
};

/* What a device holds from the pool while connected (all zero: nothing). */
struct device_budget {
	uint64_t amount[BUDGET_KINDS];
};

/*
 * What a connecting device asks for. Memory is not asked for directly: it
 * follows from the slots, copy bytes and queues, priced by the sizes given.
 * resume: taking over live rings after a restart; resume_amount holds the
 * grants, slots and copy bytes its queues' journals were served with, and
 * the device gets exactly those or nothing.
 */
struct budget_ask {
	unsigned int queues;
	uint64_t grants_want, grants_floor;     /* floor: one largest request per queue */
	uint64_t slots_want;                    /* floor: one per queue */
	uint64_t copy_want;                     /* floor 0: requests that do not fit are mapped */
	bool resume;
	uint64_t resume_amount[BUDGET_KINDS];   /* BUDGET_MEMORY is ignored: it follows from the rest */
	size_t slot_bytes;                      /* memory per request slot */
	size_t queue_bytes;                     /* memory per queue besides its slots and copy buffers */
};

/*
 * Reserve a device's share of every kind from pool (see the policy above;
 * memory is checked last, and when less is left the copy buffers shrink
 * first, then the slots, down to their floors). On success the pool's
 * reserved counts grow by *out and 0 is returned. -ENOSPC: some kind is
 * below its floor; *short_kind says which, and nothing is reserved.
 */
int budget_reserve(struct budget_pool *pool, const struct budget_ask *ask, struct device_budget *out,
		   enum budget_kind *short_kind);

/* Give a device's share back; *b is zeroed, so a second call does nothing. */
void budget_release(struct budget_pool *pool, struct device_budget *b);

#endif
