// SPDX-License-Identifier: MIT
/* Budgets: a device's share of what all devices may hold (budget.h has the policy). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "budget.h"

const char *budget_name(enum budget_kind k)
{
	static const char *const names[BUDGET_KINDS] = {
		[BUDGET_GRANTS] = "grants",
		[BUDGET_INFLIGHT] = "inflight",
		[BUDGET_COPY] = "copy_bytes",
		[BUDGET_MEMORY] = "memory_bytes",
	};

	return (unsigned int)k < BUDGET_KINDS ? names[k] : "?";
}

static uint64_t left_of(const struct budget_pool *pool, enum budget_kind k)
{
	return pool->total[k] > pool->reserved[k] ? pool->total[k] - pool->reserved[k] : 0;
}

/* A new connection's share: want, cut to half of what is left; false if that is below floor. */
static bool share(const struct budget_pool *pool, enum budget_kind k, uint64_t want, uint64_t floor, uint64_t *got)
{
	uint64_t half = left_of(pool, k) / 2;

	*got = want < half ? want : half;
	return *got >= floor;
}

/* A takeover's share: exactly what it had, if that much is left. */
static bool exact(const struct budget_pool *pool, enum budget_kind k, uint64_t amount, uint64_t *got)
{
	*got = amount;
	return amount <= left_of(pool, k);
}

int budget_reserve(struct budget_pool *pool, const struct budget_ask *ask, struct device_budget *out,
		   enum budget_kind *short_kind)
{
	uint64_t grants, slots, copy, memory, fixed = (uint64_t)ask->queues * ask->queue_bytes;
	enum budget_kind k;

	memset(out, 0, sizeof(*out));
	if (ask->resume) {
		if (!exact(pool, k = BUDGET_GRANTS, ask->resume_amount[BUDGET_GRANTS], &grants) ||
		    !exact(pool, k = BUDGET_INFLIGHT, ask->resume_amount[BUDGET_INFLIGHT], &slots) ||
		    !exact(pool, k = BUDGET_COPY, ask->resume_amount[BUDGET_COPY], &copy) ||
		    !exact(pool, k = BUDGET_MEMORY, slots * ask->slot_bytes + copy + fixed, &memory))
			goto refuse;
	} else {
		if (!share(pool, k = BUDGET_GRANTS, ask->grants_want, ask->grants_floor, &grants) ||
		    !share(pool, k = BUDGET_INFLIGHT, ask->slots_want, ask->queues, &slots) ||
		    !share(pool, k = BUDGET_COPY, ask->copy_want, 0, &copy) ||
		    !share(pool, k = BUDGET_MEMORY, slots * ask->slot_bytes + copy + fixed,
			   ask->queues * ask->slot_bytes + fixed, &memory))
			goto refuse;
		/* Less memory than the rest adds up to: the copy buffers give way first (their requests map), then slots. */
		if (slots * ask->slot_bytes + copy + fixed > memory)
			copy = memory - fixed > slots * ask->slot_bytes ? memory - fixed - slots * ask->slot_bytes : 0;
		if (slots * ask->slot_bytes + copy + fixed > memory && ask->slot_bytes)
			slots = (memory - fixed - copy) / ask->slot_bytes;
		memory = slots * ask->slot_bytes + copy + fixed;
	}
	out->amount[BUDGET_GRANTS] = grants;
	out->amount[BUDGET_INFLIGHT] = slots;
	out->amount[BUDGET_COPY] = copy;
	out->amount[BUDGET_MEMORY] = memory;
	for (k = 0; k < BUDGET_KINDS; k++)
		pool->reserved[k] += out->amount[k];
	return 0;
refuse:
	if (short_kind)
		*short_kind = k;
	return -ENOSPC;
}

void budget_release(struct budget_pool *pool, struct device_budget *b)
{
	for (enum budget_kind k = 0; k < BUDGET_KINDS; k++) {
		pool->reserved[k] -= b->amount[k] < pool->reserved[k] ? b->amount[k] : pool->reserved[k];
		b->amount[k] = 0;
	}
}
