// SPDX-License-Identifier: MIT
/*
 * Shared-ring logic: notification arithmetic (also across the wrap of the
 * 32-bit indexes), the final-check race, multi-page rings, overflow
 * detection on both sides, and zeroed response padding.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "vha/blkif.h"

static void *alloc_ring(unsigned int nr_pages)
{
	/* Exactly the ring's pages: ASan flags any slot computed past them. */
	void *mem = aligned_alloc(4096, (size_t)nr_pages * 4096);

	assert_non_null(mem);
	memset(mem, 0x5a, (size_t)nr_pages * 4096);
	return mem;
}

/* Both ends attached to one ring whose indexes all start at `start`. */
static void ring_at(struct vha_blkif_front *f, struct vha_blkif_back *b, void *mem, unsigned int nr_pages,
		    RING_IDX start)
{
	blkif_sring_t *s = mem;

	vha_blkif_front_init(f, mem, nr_pages);
	vha_blkif_back_init(b, mem, nr_pages);
	s->req_prod = s->rsp_prod = start;
	s->req_event = s->rsp_event = start + 1;
	f->ring.req_prod_pvt = f->ring.rsp_cons = start;
	b->ring.rsp_prod_pvt = b->ring.req_cons = start;
}

static void queue_read(struct vha_blkif_front *f, uint64_t id)
{
	struct blkif_request r;

	memset(&r, 0, sizeof(r));
	r.operation = BLKIF_OP_READ;
	r.nr_segments = 1;
	r.id = id;
	r.seg[0].last_sect = 7;
	vha_blkif_front_queue(f, &r, sizeof(r));
}

static void test_ring_size(void **state)
{
	assert_int_equal(vha_blkif_ring_size(1), 32);
	assert_int_equal(vha_blkif_ring_size(2), 64);
	assert_int_equal(vha_blkif_ring_size(4), 128);
	assert_int_equal(vha_blkif_ring_size(8), 256);
	assert_int_equal(vha_blkif_ring_size(16), 512);
	assert_int_equal(vha_blkif_ring_size(0), 0);
	assert_int_equal(vha_blkif_ring_size(3), 0);
	assert_int_equal(vha_blkif_ring_size(32), 0);
}

static void test_notify_basic(void **state)
{
	void *mem = alloc_ring(1);
	struct vha_blkif_front f;
	struct vha_blkif_back b;
	struct blkif_response rsp;
	RING_IDX prod;

	vha_blkif_front_init(&f, mem, 1);
	vha_blkif_back_init(&b, mem, 1);
	assert_int_equal(vha_blkif_front_free(&f), 32);

	/* A fresh ring asks for the first request (req_event = 1). */
	queue_read(&f, 1);
	assert_true(vha_blkif_front_push(&f));
	/* The backend has not re-armed: more requests need no event. */
	queue_read(&f, 2);
	assert_false(vha_blkif_front_push(&f));
	/* Nothing queued: nothing crossed. */
	assert_false(vha_blkif_front_push(&f));

	assert_int_equal(vha_blkif_back_snapshot(&b, &prod), 2);
	b.ring.req_cons = prod;
	assert_false(vha_blkif_back_final_check(&b));
	assert_int_equal(((blkif_sring_t *)mem)->req_event, 3);
	/* Armed: the next single request crosses req_event. */
	queue_read(&f, 3);
	assert_true(vha_blkif_front_push(&f));

	/* Responses: rsp_event starts at 1, the first push notifies. */
	vha_blkif_back_respond(&b, 1, BLKIF_OP_READ, BLKIF_RSP_OKAY);
	assert_true(vha_blkif_back_push(&b));
	vha_blkif_back_respond(&b, 2, BLKIF_OP_READ, BLKIF_RSP_OKAY);
	assert_false(vha_blkif_back_push(&b));
	assert_int_equal(vha_blkif_front_take_response(&f, &rsp), 1);
	assert_int_equal(rsp.id, 1);
	assert_int_equal(vha_blkif_front_take_response(&f, &rsp), 1);
	assert_int_equal(rsp.id, 2);
	assert_int_equal(vha_blkif_front_take_response(&f, &rsp), 0);
	assert_false(vha_blkif_front_final_check(&f));
	assert_int_equal(((blkif_sring_t *)mem)->rsp_event, 3);
	/* A batch of three that crosses rsp_event in its middle notifies once. */
	((blkif_sring_t *)mem)->rsp_event = 4;
	for (int i = 0; i < 3; i++)
		vha_blkif_back_respond(&b, 10 + i, BLKIF_OP_READ, BLKIF_RSP_OKAY);
	assert_true(vha_blkif_back_push(&b));
	free(mem);
}

/* xorshift: a deterministic sequence for the simulation below. */
static uint32_t rng_next(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/*
 * Both ends driven step by step while every index is tracked as a 64-bit
 * logical counter that never wraps; each push must notify exactly when the
 * peer's event index lies in (old, new] of those counters.
 */
static void simulate_from(RING_IDX start, uint32_t seed)
{
	void *mem = alloc_ring(1);
	blkif_sring_t *s = mem;
	struct vha_blkif_front f;
	struct vha_blkif_back b;
	uint64_t req_pub = start, req_pvt = start, req_cons = start, req_event = (uint64_t)start + 1;
	uint64_t rsp_pub = start, rsp_pvt = start, rsp_cons = start, rsp_event = (uint64_t)start + 1;
	uint64_t next_id = 0, expect_id = 0;
	unsigned int notifies = 0, silent = 0;

	ring_at(&f, &b, mem, 1, start);
	for (int step = 0; step < 4000; step++) {
		uint32_t r = rng_next(&seed);
		unsigned int k;

		/* Frontend: queue up to 5 requests (as room allows) and push. */
		k = r % 6;
		if (k > vha_blkif_front_free(&f))
			k = vha_blkif_front_free(&f);
		for (unsigned int i = 0; i < k; i++, req_pvt++)
			queue_read(&f, next_id++);
		{
			bool want = req_pub < req_event && req_event <= req_pvt;

			assert_int_equal(vha_blkif_front_push(&f), want);
			want ? notifies++ : silent++;
			req_pub = req_pvt;
		}

		/* Backend: take some of what is there, answer all it took. */
		if ((r >> 8) % 3 != 0) {
			RING_IDX prod;
			int n = vha_blkif_back_snapshot(&b, &prod);
			unsigned int take;
			struct vha_blkif_req req;

			assert_int_equal(n, (int)(req_pub - req_cons));
			take = (r >> 12) % 8;
			if (take > (unsigned int)n)
				take = n;
			for (unsigned int i = 0; i < take; i++) {
				vha_blkif_copy_request(vha_blkif_back_slot(&b, b.ring.req_cons), &req);
				assert_int_equal(req.id, expect_id);
				expect_id++;
				b.ring.req_cons++;
				req_cons++;
				vha_blkif_back_respond(&b, req.id, req.operation, BLKIF_RSP_OKAY);
				rsp_pvt++;
			}
			{
				bool want = rsp_pub < rsp_event && rsp_event <= rsp_pvt;

				assert_int_equal(vha_blkif_back_push(&b), want);
				rsp_pub = rsp_pvt;
			}
			if (req_cons == req_pub) {
				assert_false(vha_blkif_back_final_check(&b));
				req_event = req_cons + 1;
			} else if ((r >> 16) % 4 == 0) {
				/* A batching backend: wake me after 3 more. */
				s->req_event = (RING_IDX)(req_cons + 3);
				req_event = req_cons + 3;
			}
			assert_int_equal(s->req_event, (RING_IDX)req_event);
		}

		/* Frontend: collect responses, sometimes re-arm. */
		if ((r >> 20) % 2) {
			struct blkif_response rsp;
			int got;

			while ((got = vha_blkif_front_take_response(&f, &rsp)) == 1)
				rsp_cons++;
			assert_int_equal(got, 0);
			assert_int_equal(rsp_cons, rsp_pub);
			assert_false(vha_blkif_front_final_check(&f));
			rsp_event = rsp_cons + 1;
		}
	}
	/* The indexes really wrapped, and both outcomes happened. */
	assert_true(req_pub > (uint64_t)UINT32_MAX + 1 || start < 0x80000000u);
	assert_true(notifies > 100);
	assert_true(silent > 100);
	free(mem);
}

static void test_notify_wraparound(void **state)
{
	static const RING_IDX starts[] = { 0, UINT32_MAX, UINT32_MAX - 1, UINT32_MAX - 31, UINT32_MAX - 100, 0x7fffffff };

	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
		simulate_from(starts[i], 0x9e3779b9u + i);
}

/* The exact crossing cases near the wrap, one by one. */
static void test_notify_exact_crossing(void **state)
{
	void *mem = alloc_ring(1);
	blkif_sring_t *s = mem;
	struct vha_blkif_front f;
	struct vha_blkif_back b;

	for (RING_IDX start = UINT32_MAX - 4; start != 4; start++) {
		for (unsigned int batch = 1; batch <= 4; batch++) {
			for (int ev = -1; ev <= (int)batch + 1; ev++) {
				bool want = ev >= 1 && ev <= (int)batch;

				ring_at(&f, &b, mem, 1, start);
				s->req_event = start + (RING_IDX)ev;
				for (unsigned int i = 0; i < batch; i++)
					queue_read(&f, i);
				assert_int_equal(vha_blkif_front_push(&f), want);
				assert_int_equal(s->req_prod, start + batch);

				s->rsp_event = start + (RING_IDX)ev;
				for (unsigned int i = 0; i < batch; i++)
					vha_blkif_back_respond(&b, i, 0, 0);
				assert_int_equal(vha_blkif_back_push(&b), want);
			}
		}
	}
	free(mem);
}

/* A request that lands after the consumer decided to sleep. */
static void test_final_check_race(void **state)
{
	void *mem = alloc_ring(1);
	struct vha_blkif_front f;
	struct vha_blkif_back b;
	RING_IDX prod;

	ring_at(&f, &b, mem, 1, UINT32_MAX - 1);
	queue_read(&f, 1);
	assert_true(vha_blkif_front_push(&f));
	assert_int_equal(vha_blkif_back_snapshot(&b, &prod), 1);
	b.ring.req_cons = prod;
	/* Backend found the ring empty and is about to sleep ... */
	assert_int_equal(vha_blkif_back_snapshot(&b, &prod), 0);
	/* ... the frontend pushes while req_event is still stale: no event ... */
	queue_read(&f, 2);
	assert_false(vha_blkif_front_push(&f));
	/* ... so the final check must see it. */
	assert_true(vha_blkif_back_final_check(&b));
	assert_int_equal(vha_blkif_back_snapshot(&b, &prod), 1);
	b.ring.req_cons = prod;

	/* Other order: re-armed first, then the push must notify. */
	assert_false(vha_blkif_back_final_check(&b));
	queue_read(&f, 3);
	assert_true(vha_blkif_front_push(&f));

	/* Same on the response side. */
	vha_blkif_back_respond(&b, 1, 0, 0);
	assert_true(vha_blkif_back_push(&b));
	{
		struct blkif_response rsp;

		assert_int_equal(vha_blkif_front_take_response(&f, &rsp), 1);
		assert_int_equal(vha_blkif_front_take_response(&f, &rsp), 0);
		vha_blkif_back_respond(&b, 2, 0, 0);
		assert_false(vha_blkif_back_push(&b)); /* rsp_event stale */
		assert_true(vha_blkif_front_final_check(&f));
		assert_int_equal(vha_blkif_front_take_response(&f, &rsp), 1);
		assert_int_equal(rsp.id, 2);
		assert_false(vha_blkif_front_final_check(&f));
		vha_blkif_back_respond(&b, 3, 0, 0);
		assert_true(vha_blkif_back_push(&b));
	}
	free(mem);
}

/* Two threads, events as a semaphore: no wakeup may ever be lost. */
#define RACE_REQUESTS 200000u

struct race {
	struct vha_blkif_front f;
	struct vha_blkif_back b;
	sem_t event;
	unsigned int notifies;
	bool lost;
};

static void *race_consumer(void *arg)
{
	struct race *r = arg;
	uint64_t expect = 0;
	struct vha_blkif_req req;

	while (expect < RACE_REQUESTS) {
		RING_IDX prod;
		int n = vha_blkif_back_snapshot(&r->b, &prod);

		if (n < 0) {
			r->lost = true;
			return NULL;
		}
		for (; r->b.ring.req_cons != prod; r->b.ring.req_cons++) {
			vha_blkif_copy_request(vha_blkif_back_slot(&r->b, r->b.ring.req_cons), &req);
			if (req.id != expect++) {
				r->lost = true;
				return NULL;
			}
			vha_blkif_back_respond(&r->b, req.id, req.operation, BLKIF_RSP_OKAY);
		}
		vha_blkif_back_push(&r->b);
		if (expect < RACE_REQUESTS && !vha_blkif_back_final_check(&r->b)) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 10;
			while (sem_timedwait(&r->event, &ts) != 0) {
				if (errno == ETIMEDOUT) {
					/* Asleep with work on the ring and no event coming. */
					r->lost = true;
					return NULL;
				}
			}
		}
	}
	return NULL;
}

static void test_final_check_threads(void **state)
{
	void *mem = alloc_ring(1);
	struct race *r = calloc(1, sizeof(*r));
	pthread_t t;
	struct blkif_response rsp;
	uint64_t sent = 0, done = 0;

	assert_non_null(r);
	ring_at(&r->f, &r->b, mem, 1, UINT32_MAX - 1000);
	assert_int_equal(sem_init(&r->event, 0, 0), 0);
	assert_int_equal(pthread_create(&t, NULL, race_consumer, r), 0);
	while (done < RACE_REQUESTS && !r->lost) {
		unsigned int burst = 1 + sent % 7;

		while (burst-- && sent < RACE_REQUESTS && vha_blkif_front_free(&r->f) > 0)
			queue_read(&r->f, sent++);
		if (vha_blkif_front_push(&r->f)) {
			r->notifies++;
			sem_post(&r->event);
		}
		while (vha_blkif_front_take_response(&r->f, &rsp) == 1)
			done++;
		if (vha_blkif_front_free(&r->f) == 0)
			sched_yield();
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_false(r->lost);
	assert_int_equal(done, RACE_REQUESTS);
	/* Notifications are suppressed while the backend is busy. */
	assert_true(r->notifies < RACE_REQUESTS);
	print_message("%u requests, %u notifications\n", RACE_REQUESTS, r->notifies);
	sem_destroy(&r->event);
	free(r);
	free(mem);
}

static void test_multipage(void **state)
{
	for (unsigned int n = 1; n <= VHA_BLKIF_MAX_RING_PAGES; n *= 2) {
		void *mem = alloc_ring(n);
		struct vha_blkif_front f;
		struct vha_blkif_back b;
		unsigned int size = 32 * n;
		uint64_t id = 0;

		vha_blkif_front_init(&f, mem, n);
		vha_blkif_back_init(&b, mem, n);
		assert_int_equal(RING_SIZE(&f.ring), size);
		assert_int_equal(RING_SIZE(&b.ring), size);
		assert_int_equal(vha_blkif_ring_size(n), size);
		/* The last slot ends inside the last page. */
		assert_true((char *)RING_GET_REQUEST(&f.ring, size - 1) + sizeof(struct blkif_request) <=
			    (char *)mem + (size_t)n * 4096);

		for (int round = 0; round < 3; round++) {
			RING_IDX prod;
			struct vha_blkif_req req;
			struct blkif_response rsp;
			uint64_t first = id;

			assert_int_equal(vha_blkif_front_free(&f), size);
			for (unsigned int i = 0; i < size; i++)
				queue_read(&f, id++);
			assert_int_equal(vha_blkif_front_free(&f), 0);
			vha_blkif_front_push(&f);
			assert_int_equal(vha_blkif_back_snapshot(&b, &prod), (int)size);
			for (unsigned int i = 0; i < size; i++) {
				vha_blkif_copy_request(vha_blkif_back_slot(&b, b.ring.req_cons + i), &req);
				assert_int_equal(req.id, first + i);
			}
			b.ring.req_cons = prod;
			for (unsigned int i = 0; i < size; i++)
				vha_blkif_back_respond(&b, first + i, BLKIF_OP_READ, BLKIF_RSP_OKAY);
			vha_blkif_back_push(&b);
			for (unsigned int i = 0; i < size; i++) {
				assert_int_equal(vha_blkif_front_take_response(&f, &rsp), 1);
				assert_int_equal(rsp.id, first + i);
			}
			assert_int_equal(vha_blkif_front_take_response(&f, &rsp), 0);
		}
		free(mem);
	}
}

static void test_overflow_back(void **state)
{
	static const RING_IDX starts[] = { 0, UINT32_MAX - 10, UINT32_MAX };

	for (size_t k = 0; k < sizeof(starts) / sizeof(starts[0]); k++) {
		void *mem = alloc_ring(2);
		blkif_sring_t *s = mem;
		struct vha_blkif_front f;
		struct vha_blkif_back b;
		RING_IDX start = starts[k], prod = 12345;

		ring_at(&f, &b, mem, 2, start);
		s->req_prod = start + 64;
		assert_int_equal(vha_blkif_back_snapshot(&b, &prod), 64);
		assert_int_equal(prod, start + 64);
		prod = 12345;
		s->req_prod = start + 65;
		assert_int_equal(vha_blkif_back_snapshot(&b, &prod), -EPROTO);
		assert_int_equal(prod, 12345); /* untouched on error */
		s->req_prod = start + UINT32_MAX / 2;
		assert_int_equal(vha_blkif_back_snapshot(&b, &prod), -EPROTO);
		/* req_prod moving backwards. */
		s->req_prod = start - 1;
		assert_int_equal(vha_blkif_back_snapshot(&b, &prod), -EPROTO);

		/* 10 consumed but not answered: only 54 more fit (RING_REQUEST_PROD_OVERFLOW). */
		b.ring.req_cons = start + 10;
		s->req_prod = start + 64;
		assert_int_equal(vha_blkif_back_snapshot(&b, &prod), 54);
		s->req_prod = start + 65;
		assert_int_equal(vha_blkif_back_snapshot(&b, &prod), -EPROTO);
		/* Backwards, but still within a ring of the responses. */
		s->req_prod = start + 9;
		assert_int_equal(vha_blkif_back_snapshot(&b, &prod), -EPROTO);
		/* final_check reports the bogus producer as work; snapshot then refuses it. */
		assert_true(vha_blkif_back_final_check(&b));
		free(mem);
	}
}

static void test_overflow_front(void **state)
{
	void *mem = alloc_ring(1);
	blkif_sring_t *s = mem;
	struct vha_blkif_front f;
	struct vha_blkif_back b;
	struct blkif_response rsp;
	RING_IDX start = UINT32_MAX - 1;

	ring_at(&f, &b, mem, 1, start);
	for (int i = 0; i < 3; i++)
		queue_read(&f, i);
	vha_blkif_front_push(&f);
	/* More responses than requests outstanding. */
	s->rsp_prod = start + 4;
	assert_int_equal(vha_blkif_front_take_response(&f, &rsp), -EPROTO);
	s->rsp_prod = start - 1;
	assert_int_equal(vha_blkif_front_take_response(&f, &rsp), -EPROTO);
	assert_int_equal(f.ring.rsp_cons, start);
	/* Exactly as many as outstanding is fine. */
	s->rsp_prod = start + 3;
	for (int i = 0; i < 3; i++)
		assert_int_equal(vha_blkif_front_take_response(&f, &rsp), 1);
	assert_int_equal(vha_blkif_front_take_response(&f, &rsp), 0);
	s->rsp_prod = start + 4;
	assert_int_equal(vha_blkif_front_take_response(&f, &rsp), -EPROTO);
	free(mem);
}

static void test_response_padding(void **state)
{
	void *mem = alloc_ring(1);
	struct vha_blkif_front f;
	struct vha_blkif_back b;
	const unsigned char *slot;
	uint64_t id = 0x1122334455667788ull;
	int16_t status;

	assert_int_equal(sizeof(struct blkif_response), 16);
	vha_blkif_front_init(&f, mem, 1);
	vha_blkif_back_init(&b, mem, 1);
	/* Whatever the slot held before (a request) must not show through. */
	memset(RING_GET_RESPONSE(&b.ring, 0), 0xaa, sizeof(union blkif_sring_entry));
	vha_blkif_back_respond(&b, id, BLKIF_OP_FLUSH_DISKCACHE, BLKIF_RSP_EOPNOTSUPP);
	slot = (const unsigned char *)RING_GET_RESPONSE(&b.ring, 0);
	assert_memory_equal(slot, &id, 8);
	assert_int_equal(slot[8], BLKIF_OP_FLUSH_DISKCACHE);
	assert_int_equal(slot[9], 0); /* padding */
	memcpy(&status, slot + 10, 2);
	assert_int_equal(status, BLKIF_RSP_EOPNOTSUPP);
	for (int i = 12; i < 16; i++)
		assert_int_equal(slot[i], 0); /* padding */
	free(mem);
}

static void test_front_queue_short(void **state)
{
	void *mem = alloc_ring(1);
	struct vha_blkif_front f;
	struct blkif_request_discard d;
	const unsigned char *slot;

	vha_blkif_front_init(&f, mem, 1);
	memset(RING_GET_REQUEST(&f.ring, 0), 0xaa, sizeof(union blkif_sring_entry));
	memset(&d, 0, sizeof(d));
	d.operation = BLKIF_OP_DISCARD;
	d.id = 9;
	d.nr_sectors = 8;
	vha_blkif_front_queue(&f, &d, sizeof(d));
	slot = (const unsigned char *)RING_GET_REQUEST(&f.ring, 0);
	assert_memory_equal(slot, &d, sizeof(d));
	/* The rest of the slot is zero, not what was there before. */
	for (size_t i = sizeof(d); i < sizeof(union blkif_sring_entry); i++)
		assert_int_equal(slot[i], 0);
	assert_int_equal(vha_blkif_front_free(&f), 31);
	free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_size),
		cmocka_unit_test(test_notify_basic),
		cmocka_unit_test(test_notify_wraparound),
		cmocka_unit_test(test_notify_exact_crossing),
		cmocka_unit_test(test_final_check_race),
		cmocka_unit_test(test_final_check_threads),
		cmocka_unit_test(test_multipage),
		cmocka_unit_test(test_overflow_back),
		cmocka_unit_test(test_overflow_front),
		cmocka_unit_test(test_response_padding),
		cmocka_unit_test(test_front_queue_short),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
