// SPDX-License-Identifier: MIT
/*
 * The in-flight journal, alone: recovery from every crash point of its
 * protocol, and refusal of journals it cannot trust.
 *
 * The crash walk drives a model worker (takes requests into the lowest free
 * slot, answers them out of order, pushes each response at once) over a
 * random but fixed scenario. Before every journal store of every step it
 * "kills" the process: it copies the journal file as it is, recovers the
 * copy as the next process would, and checks that every request the
 * frontend produced is answered exactly once: by a response already in the
 * ring below the recovered rsp_prod_pvt, by running it again (the replay
 * list, which must be in ring order and carry the request's bytes), or by
 * reading it from the ring again (at or after the recovered req_cons).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../backend/journal.h"

#define SLOTS 4u
#define STEPS 400u

static char dir[64], path[128], snap[128];

static int setup(void **state)
{
	/* On tmpfs where there is one, as the journal lives in production (and 18000 files come and go). */
	snprintf(dir, sizeof(dir), "%s/vha-journal-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/journal/q0", dir);
	snprintf(snap, sizeof(snap), "%s/snapshot", dir);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	unlink(snap);
	snprintf(snap, sizeof(snap), "%s/journal", dir);
	rmdir(snap);
	rmdir(dir);
	return 0;
}

static struct journal_rings test_rings(void)
{
	struct journal_rings r = { .nr_slots = SLOTS, .nr_ring_pages = 1, .remote_port = 7 };

	r.ring_refs[0] = 8;
	return r;
}

/* The request the frontend put at ring index idx: its id names the index. */
static blkif_request_t ring_request(RING_IDX idx)
{
	blkif_request_t r;

	memset(&r, 0, sizeof(r));
	r.operation = BLKIF_OP_WRITE;
	r.id = 0x1000000000ull + idx;
	r.sector_number = idx;
	return r;
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ssize_t n;

	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

struct model {
	RING_IDX base;                  /* first ring index */
	RING_IDX req_cons, rsp_prod_pvt, rsp_pushed, req_prod;
	int slot_idx[SLOTS];            /* ring index (relative to base) held, or -1 */
	int rsp[STEPS + SLOTS];         /* by response position: the request (relative) it answers, or -1 */
	unsigned int checks;
};

/* Recover a copy of the journal as it is now and check that everything is answered exactly once. */
static void crash_and_check(struct model *m)
{
	struct journal_rings rings = test_rings();
	struct journal j;
	struct journal_recovery rec;
	unsigned int produced = m->req_prod - m->base, answered_below, next_read;
	int count[STEPS + SLOTS];

	copy_file(path, snap);
	int orc = journal_open_existing(&j, snap, &rings, m->req_prod, m->rsp_pushed, &rec);
	if (orc)
		fail_msg("recovery failed (%s) at check %u: req_cons %u rsp_prod_pvt %u pushed %u req_prod %u", journal_strerror(orc), m->checks, m->req_cons - m->base, m->rsp_prod_pvt - m->base, m->rsp_pushed - m->base, m->req_prod - m->base);
	answered_below = rec.rsp_prod_pvt - m->base;
	next_read = rec.req_cons - m->base;
	assert_true(answered_below <= produced && next_read <= produced);
	memset(count, 0, sizeof(count));
	/* Responses in the ring that the next process pushes. */
	for (unsigned int r = 0; r < answered_below; r++) {
		assert_true(m->rsp[r] >= 0);
		count[m->rsp[r]]++;
	}
	/* Requests it runs again: in ring order, with the bytes the frontend wrote. */
	for (unsigned int i = 0; i < rec.nr_replay; i++) {
		const blkif_request_t *raw = journal_raw(&j, rec.replay[i]);
		unsigned int rel = (unsigned int)(raw->id - 0x1000000000ull) - m->base;

		assert_int_equal(raw->id, ring_request(m->base + rel).id);
		assert_true(rel < produced);
		if (i > 0) {
			const blkif_request_t *prev = journal_raw(&j, rec.replay[i - 1]);

			assert_true((int32_t)(raw->id - prev->id) > 0);
		}
		count[rel]++;
	}
	/* And those it reads from the ring again. */
	for (unsigned int i = next_read; i < produced; i++)
		count[i]++;
	for (unsigned int i = 0; i < produced; i++) {
		if (count[i] != 1)
			fail_msg("request %u answered %d times after recovery (req_cons %u, rsp_prod_pvt %u)", i,
				 count[i], next_read, answered_below);
	}
	journal_close(&j, false);
	m->checks++;
}

static void walk(RING_IDX base, unsigned int seed)
{
	struct journal_rings rings = test_rings();
	struct journal j;
	struct model m = { .base = base, .req_cons = base, .rsp_prod_pvt = base, .rsp_pushed = base };

	srand(seed);
	for (unsigned int i = 0; i < SLOTS; i++)
		m.slot_idx[i] = -1;
	memset(m.rsp, 0xff, sizeof(m.rsp));
	assert_int_equal(journal_create(&j, path, &rings, base, base), 0);
	for (unsigned int step = 0; step < STEPS; step++) {
		int free_slot = -1, busy[SLOTS], nbusy = 0;

		for (unsigned int i = 0; i < SLOTS; i++) {
			if (m.slot_idx[i] < 0 && free_slot < 0)
				free_slot = (int)i;
			if (m.slot_idx[i] >= 0)
				busy[nbusy++] = (int)i;
		}
		/* The frontend fills what the ring lets it: a ring of requests beyond what it has seen answered. */
		m.req_prod = m.rsp_pushed + SLOTS;
		if (free_slot >= 0 && m.req_cons != m.req_prod && (nbusy == 0 || rand() % 2)) {
			blkif_request_t req = ring_request(m.req_cons);

			for (unsigned int k = 0; k < JOURNAL_TAKE_STORES; k++) {
				journal_take_stores(&j, (unsigned int)free_slot, m.req_cons, &req, k);
				crash_and_check(&m);
			}
			journal_take(&j, (unsigned int)free_slot, m.req_cons, &req);
			m.slot_idx[free_slot] = (int)(m.req_cons - base);
			m.req_cons++;
		} else {
			int s = busy[rand() % nbusy];

			/* The response goes into the ring first (not pushed), then into the journal. */
			m.rsp[m.rsp_prod_pvt - base] = m.slot_idx[s];
			for (unsigned int k = 0; k < JOURNAL_RESPOND_STORES; k++) {
				journal_respond_stores(&j, (unsigned int)s, m.rsp_prod_pvt, k);
				crash_and_check(&m);
			}
			journal_respond(&j, (unsigned int)s, m.rsp_prod_pvt);
			m.rsp_prod_pvt++;
			m.slot_idx[s] = -1;
			crash_and_check(&m);
			m.rsp_pushed = m.rsp_prod_pvt;
		}
		crash_and_check(&m);
	}
	journal_close(&j, true);
	assert_true(m.checks > STEPS * 2);
}

static void test_every_crash_point(void **state)
{
	walk(0, 1);
	walk(1000, 2);
}

static void test_every_crash_point_across_wrap(void **state)
{
	walk(0xffffff00u, 3);
}

/* The next permutation of p[0..n) in lexicographic order; false after the last. */
static bool next_permutation(unsigned int *p, unsigned int n)
{
	unsigned int i = n - 1, j = n - 1, t;

	while (i > 0 && p[i - 1] >= p[i])
		i--;
	if (i == 0)
		return false;
	while (p[j] <= p[i - 1])
		j--;
	t = p[i - 1], p[i - 1] = p[j], p[j] = t;
	for (j = n - 1; i < j; i++, j--)
		t = p[i], p[i] = p[j], p[j] = t;
	return true;
}

/*
 * Every state combination, not a sample: each slot FREE (never taken),
 * INFLIGHT or RESPONDED; the slots taken in every order (so slot order and
 * ring order disagree in every way); the responses written in ring order
 * or against it; and each count of them pushed. Responses reach the
 * frontend as a prefix (rsp_prod publishes everything below it), so
 * "pushed or not" per response is the pushed count, 0..all. Every state
 * must recover with each request answered exactly once, and the replay in
 * ring order (crash_and_check).
 */
static unsigned int enumerate_states(RING_IDX base)
{
	struct journal_rings rings = test_rings();
	unsigned int take_order[SLOTS], combos = 0, states = 1;

	for (unsigned int i = 0; i < SLOTS; i++) {
		take_order[i] = i;
		states *= 3;
	}
	do {
		for (unsigned int code = 0; code < states; code++) {
			enum journal_state st[SLOTS];
			unsigned int nresp = 0;

			for (unsigned int s = 0, c = code; s < SLOTS; s++, c /= 3) {
				st[s] = (enum journal_state)(c % 3);
				nresp += st[s] == JOURNAL_RESPONDED;
			}
			for (unsigned int backwards = 0; backwards < 2; backwards++) {
				for (unsigned int pushed = 0; pushed <= nresp; pushed++) {
					struct model m = { .base = base, .req_cons = base, .rsp_prod_pvt = base };
					unsigned int by_ring[SLOTS], ntaken = 0;
					struct journal j;

					memset(m.rsp, 0xff, sizeof(m.rsp));
					for (unsigned int s = 0; s < SLOTS; s++)
						m.slot_idx[s] = -1;
					assert_int_equal(journal_create(&j, path, &rings, base, base), 0);
					for (unsigned int i = 0; i < SLOTS; i++) {
						unsigned int s = take_order[i];
						blkif_request_t req = ring_request(m.req_cons);

						if (st[s] == JOURNAL_FREE)
							continue;
						journal_take(&j, s, m.req_cons, &req);
						m.slot_idx[s] = (int)(m.req_cons - base);
						m.req_cons++;
						by_ring[ntaken++] = s;
					}
					for (unsigned int i = 0; i < ntaken; i++) {
						unsigned int s = by_ring[backwards ? ntaken - 1 - i : i];

						if (st[s] != JOURNAL_RESPONDED)
							continue;
						/* In the ring first, then the journal, as the worker does. */
						m.rsp[m.rsp_prod_pvt - base] = m.slot_idx[s];
						journal_respond(&j, s, m.rsp_prod_pvt);
						m.rsp_prod_pvt++;
					}
					m.rsp_pushed = base + pushed;
					/* The frontend filled what the ring lets it beyond what it has seen answered. */
					m.req_prod = m.rsp_pushed + SLOTS;
					crash_and_check(&m);
					journal_close(&j, true);
					combos++;
				}
			}
		}
	} while (next_permutation(take_order, SLOTS));
	return combos;
}

static void test_every_state_combination(void **state)
{
	/* 4! take orders x (3^4 states x 2 response orders x (responded + 1) push counts). */
	unsigned int want = 0;

	for (unsigned int code = 0; code < 81; code++) {
		unsigned int nresp = 0;

		for (unsigned int s = 0, c = code; s < SLOTS; s++, c /= 3)
			nresp += c % 3 == JOURNAL_RESPONDED;
		want += 2 * (nresp + 1);
	}
	want *= 24;
	assert_int_equal(enumerate_states(0), want);
	/* Ring indexes that wrap inside the journal. */
	assert_int_equal(enumerate_states(0xfffffffeu), want);
}

static void test_replay_follows_ring_order(void **state)
{
	struct journal_rings rings = test_rings();
	struct journal j, j2;
	struct journal_recovery rec;
	blkif_request_t req;

	/* Slot 3 holds the oldest request, slot 0 the newest: slot order is not ring order. */
	assert_int_equal(journal_create(&j, path, &rings, 10, 10), 0);
	for (unsigned int i = 0; i < SLOTS; i++) {
		req = ring_request(10 + i);
		journal_take(&j, SLOTS - 1 - i, 10 + i, &req);
	}
	assert_int_equal(journal_open_existing(&j2, path, &rings, 14, 10, &rec), 0);
	assert_int_equal(rec.req_cons, 14);
	assert_int_equal(rec.rsp_prod_pvt, 10);
	assert_int_equal(rec.nr_replay, SLOTS);
	for (unsigned int i = 0; i < SLOTS; i++)
		assert_int_equal(rec.replay[i], SLOTS - 1 - i);
	journal_close(&j2, false);
	journal_close(&j, true);
}

static void test_refuses_what_it_cannot_trust(void **state)
{
	struct journal_rings rings = test_rings(), other = test_rings();
	struct journal j, j2;
	struct journal_recovery rec;
	blkif_request_t req = ring_request(0);
	int fd;

	assert_int_equal(journal_open_existing(&j2, path, &rings, 0, 0, &rec), -ENOENT);
	assert_int_equal(journal_create(&j, path, &rings, 0, 0), 0);
	journal_take(&j, 0, 0, &req);

	other.ring_refs[0] = 9;
	assert_int_equal(journal_open_existing(&j2, path, &other, 1, 0, &rec), -ESTALE);
	other = test_rings();
	other.remote_port = 8;
	assert_int_equal(journal_open_existing(&j2, path, &other, 1, 0, &rec), -ESTALE);
	/* The live ring says the frontend produced nothing, or saw a response we never wrote. */
	assert_int_equal(journal_open_existing(&j2, path, &rings, 0, 0, &rec), -EPROTO);
	assert_int_equal(journal_open_existing(&j2, path, &rings, 1, 1, &rec), -EPROTO);
	assert_null(j2.hdr);
	assert_int_equal(journal_open_existing(&j2, path, &rings, 1, 0, &rec), 0);
	assert_int_equal(rec.nr_replay, 1);
	journal_close(&j2, false);

	/* Another layout: a clear refusal, not "inconsistent". */
	j.hdr->version = JOURNAL_VERSION + 1;
	assert_int_equal(journal_open_existing(&j2, path, &rings, 1, 0, &rec), -EPROTONOSUPPORT);
	j.hdr->version = JOURNAL_VERSION;
	j.hdr->entry_size++;
	assert_int_equal(journal_open_existing(&j2, path, &rings, 1, 0, &rec), -EPROTONOSUPPORT);
	j.hdr->entry_size--;
	assert_string_equal(journal_strerror(-EPROTONOSUPPORT),
			    "journal written by a vha-backend of another journal format");

	/* Two entries claiming one request; an INFLIGHT entry beyond the ring; a bad state. */
	journal_take(&j, 1, 0, &req);
	assert_int_equal(journal_open_existing(&j2, path, &rings, 2, 0, &rec), -EPROTO);
	journal_take(&j, 1, 1, &req);
	j.hdr->e[1].idx = 0x80000000u;
	assert_int_equal(journal_open_existing(&j2, path, &rings, 2, 0, &rec), -EPROTO);
	j.hdr->e[1].idx = 1;
	j.hdr->e[1].state = 77;
	assert_int_equal(journal_open_existing(&j2, path, &rings, 2, 0, &rec), -EPROTO);
	j.hdr->e[1].state = JOURNAL_INFLIGHT;
	assert_int_equal(journal_open_existing(&j2, path, &rings, 2, 0, &rec), 0);
	journal_close(&j2, false);
	journal_close(&j, false);

	/* A truncated file. */
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 100), 0);
	close(fd);
	assert_int_equal(journal_open_existing(&j2, path, &rings, 2, 0, &rec), -EPROTO);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_crash_point, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_crash_point_across_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_state_combination, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_follows_ring_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuses_what_it_cannot_trust, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
