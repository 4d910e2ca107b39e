// SPDX-License-Identifier: MIT
/*
 * The budget policy alone (backend/budget.h): a device gets its want while
 * that is at most half of what is left, else half, and is refused when that
 * is below its floor;
 * memory follows from slots, copy buffers and queues, and when it is short
 * the copy buffers give way first, then slots; a takeover gets exactly what
 * its journals say it had, or nothing; releasing gives everything back.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../backend/budget.h"

#define KIB 1024u
#define MIB (1024u * 1024u)

static struct budget_pool pool_of(uint64_t grants, uint64_t inflight, uint64_t copy, uint64_t memory)
{
	return (struct budget_pool){ .total = { grants, inflight, copy, memory } };
}

/* A device with q queues asking the defaults' shape: 16384 grants, 1024 slots, 32 MiB copy. */
static struct budget_ask ask_of(unsigned int q)
{
	return (struct budget_ask){
		.queues = q, .grants_want = 16384, .grants_floor = q * 256u, .slots_want = 1024,
		.copy_want = 32 * MIB, .slot_bytes = 8 * KIB, .queue_bytes = 64 * KIB,
	};
}

static void test_want_while_at_most_half_left(void **state)
{
	struct budget_pool pool = pool_of(61440, 16384, 512 * MIB, 1024 * MIB);
	struct budget_ask ask = ask_of(1);
	struct device_budget b;

	(void)state;
	assert_int_equal(budget_reserve(&pool, &ask, &b, NULL), 0);
	assert_int_equal(b.amount[BUDGET_GRANTS], 16384);
	assert_int_equal(b.amount[BUDGET_INFLIGHT], 1024);
	assert_int_equal(b.amount[BUDGET_COPY], 32 * MIB);
	assert_int_equal(b.amount[BUDGET_MEMORY], 1024 * 8 * KIB + 32 * MIB + 64 * KIB);
	for (int k = 0; k < BUDGET_KINDS; k++)
		assert_int_equal(pool.reserved[k], b.amount[k]);
}

static void test_greedy_guests_leave_room(void **state)
{
	/* The case: 16 guests asking for 16 queues each, then one ordinary guest. */
	struct budget_pool pool = pool_of(61440, 16384, 512 * MIB, 1024 * MIB);
	struct budget_ask greedy = ask_of(16), normal = ask_of(1);
	struct device_budget b[17];
	unsigned int connected = 0;
	enum budget_kind k;

	(void)state;
	for (int i = 0; i < 16; i++) {
		uint64_t left = pool.total[BUDGET_GRANTS] - pool.reserved[BUDGET_GRANTS];

		if (budget_reserve(&pool, &greedy, &b[i], &k) == 0) {
			connected++;
			/* Never more than half of what was left. */
			assert_true(b[i].amount[BUDGET_GRANTS] <= left / 2);
			assert_true(b[i].amount[BUDGET_GRANTS] >= 16 * 256);
		} else {
			assert_int_equal(k, BUDGET_GRANTS);
			memset(&b[i], 0, sizeof(b[i]));
		}
	}
	/* 16384, 16384, 14336, 7168; then half of 7168 is below 16 x 256. */
	assert_int_equal(connected, 4);
	assert_int_equal(budget_reserve(&pool, &normal, &b[16], &k), 0);
	assert_int_equal(b[16].amount[BUDGET_GRANTS], 7168 / 2);
	for (int kind = 0; kind < BUDGET_KINDS; kind++)
		assert_true(pool.reserved[kind] <= pool.total[kind]);
}

static void test_refused_below_floor_reserves_nothing(void **state)
{
	struct budget_pool pool = pool_of(600, 16384, 512 * MIB, 1024 * MIB);
	struct budget_ask ask = ask_of(4);      /* floor 1024 grants */
	struct device_budget b;
	enum budget_kind k = BUDGET_KINDS;

	(void)state;
	assert_int_equal(budget_reserve(&pool, &ask, &b, &k), -ENOSPC);
	assert_int_equal(k, BUDGET_GRANTS);
	for (int kind = 0; kind < BUDGET_KINDS; kind++) {
		assert_int_equal(pool.reserved[kind], 0);
		assert_int_equal(b.amount[kind], 0);
	}
}

static void test_memory_short_copy_gives_way_then_slots(void **state)
{
	/* 4 MiB of memory: half is 2 MiB; 1024 slots of 8 KiB alone need 8 MiB. */
	struct budget_pool pool = pool_of(61440, 16384, 512 * MIB, 4 * MIB);
	struct budget_ask ask = ask_of(1);
	struct device_budget b;

	(void)state;
	assert_int_equal(budget_reserve(&pool, &ask, &b, NULL), 0);
	assert_int_equal(b.amount[BUDGET_COPY], 0);
	assert_int_equal(b.amount[BUDGET_INFLIGHT], (2 * MIB - 64 * KIB) / (8 * KIB));
	assert_true(b.amount[BUDGET_MEMORY] <= 2 * MIB);
	assert_int_equal(pool.reserved[BUDGET_INFLIGHT], b.amount[BUDGET_INFLIGHT]);
	assert_int_equal(pool.reserved[BUDGET_COPY], 0);

	/* Plenty for slots, not for all the copy buffers: copy shrinks, slots stay. */
	pool = pool_of(61440, 16384, 512 * MIB, 40 * MIB);
	assert_int_equal(budget_reserve(&pool, &ask, &b, NULL), 0);
	assert_int_equal(b.amount[BUDGET_INFLIGHT], 1024);
	assert_int_equal(b.amount[BUDGET_COPY], 20 * MIB - 8 * MIB - 64 * KIB);
	assert_int_equal(b.amount[BUDGET_MEMORY], 20 * MIB);
}

static void test_resume_gets_exactly_what_it_had(void **state)
{
	struct budget_pool pool = pool_of(61440, 100, 512 * MIB, 1024 * MIB);
	struct budget_ask ask = ask_of(2);
	struct device_budget b;
	enum budget_kind k;

	(void)state;
	/* A new connection would get half of 100 slots; the journals hold 64: exactly 64, and their grants and copy. */
	ask.resume = true;
	ask.resume_amount[BUDGET_GRANTS] = 40000;       /* more than half of what is left: it had it before */
	ask.resume_amount[BUDGET_INFLIGHT] = 64;
	ask.resume_amount[BUDGET_COPY] = 3 * MIB;
	assert_int_equal(budget_reserve(&pool, &ask, &b, NULL), 0);
	assert_int_equal(b.amount[BUDGET_GRANTS], 40000);
	assert_int_equal(b.amount[BUDGET_INFLIGHT], 64);
	assert_int_equal(b.amount[BUDGET_COPY], 3 * MIB);
	assert_int_equal(b.amount[BUDGET_MEMORY], 64 * 8 * KIB + 3 * MIB + 2 * 64 * KIB);
	/* 36 slots left: a second takeover of 64 cannot be served as its journals were written, and takes nothing. */
	assert_int_equal(budget_reserve(&pool, &ask, &b, &k), -ENOSPC);
	assert_int_equal(k, BUDGET_GRANTS);
	ask.resume_amount[BUDGET_GRANTS] = 1000;
	assert_int_equal(budget_reserve(&pool, &ask, &b, &k), -ENOSPC);
	assert_int_equal(k, BUDGET_INFLIGHT);
	assert_int_equal(pool.reserved[BUDGET_INFLIGHT], 64);
	assert_int_equal(pool.reserved[BUDGET_GRANTS], 40000);
}

static void test_release_gives_back_once(void **state)
{
	struct budget_pool pool = pool_of(61440, 16384, 512 * MIB, 1024 * MIB);
	struct budget_ask ask = ask_of(2);
	struct device_budget a, b;

	(void)state;
	assert_int_equal(budget_reserve(&pool, &ask, &a, NULL), 0);
	assert_int_equal(budget_reserve(&pool, &ask, &b, NULL), 0);
	budget_release(&pool, &a);
	budget_release(&pool, &a);      /* idempotent: a is zero now */
	for (int k = 0; k < BUDGET_KINDS; k++)
		assert_int_equal(pool.reserved[k], b.amount[k]);
	budget_release(&pool, &b);
	for (int k = 0; k < BUDGET_KINDS; k++)
		assert_int_equal(pool.reserved[k], 0);
	assert_string_equal(budget_name(BUDGET_MEMORY), "memory_bytes");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_want_while_at_most_half_left),
		cmocka_unit_test(test_greedy_guests_leave_room),
		cmocka_unit_test(test_refused_below_floor_reserves_nothing),
		cmocka_unit_test(test_memory_short_copy_gives_way_then_slots),
		cmocka_unit_test(test_resume_gets_exactly_what_it_had),
		cmocka_unit_test(test_release_gives_back_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
