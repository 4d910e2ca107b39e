// SPDX-License-Identifier: MIT
/*
 * vha-soak-ordered: an ordered-write load on libvhafront and a checker for
 * the image it leaves (issue 9, "ordered restart soak").
 *
 *   vha-soak-ordered run --domid N --log FILE --stop-file F [--seed S] [--depth D]
 *       A random mix of writes, barrier writes and flushes at queue depth D
 *       on one queue until F exists; then drain, flush, and save the log of
 *       every request. Survives backend restarts through libvhafront.
 *       Writes go to one region of N blocks (default 64) at a time; SIGUSR1
 *       moves new requests to the next region. The harness sends it while
 *       the backend is dead, so each region is left as the takeover replay
 *       made it, not overwritten by the rest of the run.
 *   vha-soak-ordered check --image IMG --log FILE [--self-test] [--region-blocks N]
 *       Check the image against the log (rules below), and say which
 *       regions hold a finding (region r: restart r's replay); --self-test then
 *       corrupts a copy of the image in memory as a reordering backend
 *       would and asserts the checker reports it.
 *   vha-soak-ordered selftest
 *       The checker on small made-up logs and images with known answers.
 * Exit 0 when clean, 1 on a violation or error, 2 on bad usage, 3 when the
 * backend does not offer barriers.
 *
 * Tagged contents: the disk is checked in 512-byte sectors; every sector a
 * request writes holds a header (magic, the request's sequence number, the
 * sector number) and a fill derived from both, so the checker knows for each
 * sector exactly which request wrote it, and a torn, misplaced or garbled
 * sector shows as corrupt. Requests go out one at a time on a single queue,
 * so the sequence number is the ring order.
 *
 * Rules. Write W "must be older than" write V (to a common block), W < V, if
 *  (lost)     W's completion was seen before V was submitted (real time); or
 *  (ordering) a barrier B (possibly W or V itself) lies between them in ring
 *             order: seq(W) <= seq(B) <= seq(V), W != V. A barrier write is
 *             ordered after every earlier request of its queue and before
 *             every later one, so W's data reaches the disk before V's.
 * Every request is acknowledged by the end (the writer drains and fails on
 * any error), so for each sector with final content F (a tag):
 *  - untagged (the initial data) while some write covered it: lost;
 *  - a tag that is not one of the log's writes covering that sector, or a
 *    fill that does not match: corrupt;
 *  - some write V to that block with F < V: lost if by real time, else an
 *    ordering violation (a write issued before a barrier overwrote one
 *    issued after it).
 * Two writes with neither order (both in flight, no barrier between) may
 * land either way: no finding.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vha/front.h"
#include "vha/log.h"

#define SECTOR 512u
#define BLOCK 4096u
#define SECTORS_PER_BLOCK (BLOCK / SECTOR)
#define TAG_MAGIC 0x564841534f414b31ull /* "VHASOAK1" */
#define LOG_MAGIC 0x564841534f414b4cull
#define MAX_WRITE_BLOCKS 16u
#define MAX_BARRIER_BLOCKS 8u           /* a barrier cannot be indirect: 11 segments at most */

enum rec_kind { REC_WRITE = 1, REC_BARRIER = 2, REC_FLUSH = 3 };

/* One request, in submission (= ring) order: its index is its sequence number. */
struct rec {
	uint64_t submit_ev, done_ev;    /* logical clock: one tick per submit and per completion */
	uint32_t block, nblocks;
	uint8_t kind;
	uint8_t done;
	int16_t status;
	uint32_t pad;
};

struct log_hdr {
	uint64_t magic;
	uint64_t nrecs;
	uint64_t sectors;
	uint64_t seed;
};

struct log {
	struct log_hdr h;
	struct rec *r;
	size_t cap;
};

/* ---------------- tags ---------------- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static void tag_sector(unsigned char *p, uint64_t seq, uint64_t sector)
{
	uint64_t hdr[3] = { TAG_MAGIC, seq, sector }, v = mix64(seq * 0x9e3779b97f4a7c15ull ^ sector);

	memcpy(p, hdr, sizeof(hdr));
	for (size_t i = sizeof(hdr); i < SECTOR; i += 8) {
		v = mix64(v + i);
		memcpy(p + i, &v, 8);
	}
}

static bool rec_is_write(const struct rec *r)
{
	return r->kind == REC_WRITE || r->kind == REC_BARRIER;
}

/* ---------------- the checker ---------------- */

struct findings {
	uint64_t sectors, written, untouched, lost, ordering, corrupt;
};

/*
 * Check image (h->sectors sectors) against the log. Per block, only the
 * latest write in ring order and the latest submission matter: F < V for
 * some V exactly when one of those two qualifies (see the rules above), so
 * the check is linear in the log and the image. Prints up to `show`
 * findings when show > 0.
 */
static int check_image(const struct log *lg, const unsigned char *img, struct findings *out, int show,
		       bool *bad_block)
{
	uint64_t nblocks = lg->h.sectors / SECTORS_PER_BLOCK, n = lg->h.nrecs;
	uint64_t *last_seq = malloc(nblocks * sizeof(uint64_t)), *last_submit = malloc(nblocks * sizeof(uint64_t));
	uint64_t *next_barrier = malloc((n + 1) * sizeof(uint64_t));
	unsigned char want[SECTOR];
	struct findings fd = { 0 };

	if (!last_seq || !last_submit || !next_barrier) {
		free(last_seq);
		free(last_submit);
		free(next_barrier);
		return -ENOMEM;
	}
	for (uint64_t b = 0; b < nblocks; b++)
		last_seq[b] = last_submit[b] = UINT64_MAX;  /* no write */
	/* next_barrier[q]: the first barrier at or after seq q (n: none). */
	next_barrier[n] = n;
	for (uint64_t q = n; q-- > 0;)
		next_barrier[q] = lg->r[q].kind == REC_BARRIER ? q : next_barrier[q + 1];
	for (uint64_t q = 0; q < n; q++) {
		const struct rec *r = &lg->r[q];

		if (!rec_is_write(r))
			continue;
		for (uint32_t b = r->block; b < r->block + r->nblocks && b < nblocks; b++) {
			last_seq[b] = q;    /* ascending q: the latest in ring order */
			if (last_submit[b] == UINT64_MAX || r->submit_ev > lg->r[last_submit[b]].submit_ev)
				last_submit[b] = q;
		}
	}
	for (uint64_t s = 0; s < nblocks * SECTORS_PER_BLOCK; s++) {
		const unsigned char *p = img + s * SECTOR;
		uint64_t b = s / SECTORS_PER_BLOCK, hdr[3], f;
		const struct rec *fr;
		const char *what = NULL;
		uint64_t other = 0;

		fd.sectors++;
		memcpy(hdr, p, sizeof(hdr));
		if (hdr[0] != TAG_MAGIC) {
			if (last_seq[b] == UINT64_MAX) {
				fd.untouched++;
				continue;
			}
			fd.lost++;
			what = "lost (initial data left)";
			other = last_seq[b];
			goto report;
		}
		f = hdr[1];
		fr = f < n ? &lg->r[f] : NULL;
		tag_sector(want, f, s);
		if (!fr || !rec_is_write(fr) || hdr[2] != s || b < fr->block || b >= fr->block + fr->nblocks ||
		    memcmp(want, p, SECTOR) != 0) {
			fd.corrupt++;
			what = "corrupt (tag does not match a write of this sector)";
			goto report;
		}
		fd.written++;
		if (lg->r[last_submit[b]].submit_ev > fr->done_ev) {
			fd.lost++;
			what = "lost (overwritten by a write completed before it was issued)";
			other = last_submit[b];
		} else if (last_seq[b] != f && next_barrier[f] <= last_seq[b]) {
			fd.ordering++;
			what = "ordering (a write from before a barrier overwrote one issued after it)";
			other = last_seq[b];
		}
report:
		if (what && bad_block)
			bad_block[b] = true;
		if (what && show > 0) {
			show--;
			fprintf(stderr, "  sector %" PRIu64 " (block %" PRIu64 "): %s; holds seq %" PRIu64
				", expected seq %" PRIu64 " or later\n",
				s, b, what, hdr[0] == TAG_MAGIC ? hdr[1] : UINT64_MAX, other);
		}
	}
	free(last_seq);
	free(last_submit);
	free(next_barrier);
	*out = fd;
	return 0;
}

static void print_findings(const char *name, const struct findings *fd)
{
	printf("%s: %" PRIu64 " sectors, %" PRIu64 " hold a write, %" PRIu64 " never written; lost writes %" PRIu64
	       ", ordering violations %" PRIu64 ", corrupt %" PRIu64 "\n",
	       name, fd->sectors, fd->written, fd->untouched, fd->lost, fd->ordering, fd->corrupt);
}

/* ---------------- the log ---------------- */

static struct rec *log_add(struct log *lg)
{
	if (lg->h.nrecs == lg->cap) {
		size_t cap = lg->cap ? lg->cap * 2 : 65536;
		struct rec *r = realloc(lg->r, cap * sizeof(*r));

		if (!r)
			return NULL;
		lg->r = r;
		lg->cap = cap;
	}
	memset(&lg->r[lg->h.nrecs], 0, sizeof(struct rec));
	return &lg->r[lg->h.nrecs++];
}

static int log_save(const struct log *lg, const char *path)
{
	FILE *f = fopen(path, "w");
	int rc = 0;

	if (!f)
		return -errno;
	if (fwrite(&lg->h, sizeof(lg->h), 1, f) != 1 ||
	    (lg->h.nrecs && fwrite(lg->r, sizeof(struct rec), lg->h.nrecs, f) != lg->h.nrecs))
		rc = -EIO;
	if (fclose(f) && !rc)
		rc = -errno;
	return rc;
}

static int log_load(struct log *lg, const char *path)
{
	FILE *f = fopen(path, "r");
	int rc = 0;

	memset(lg, 0, sizeof(*lg));
	if (!f)
		return -errno;
	if (fread(&lg->h, sizeof(lg->h), 1, f) != 1 || lg->h.magic != LOG_MAGIC || lg->h.nrecs > (1ull << 32)) {
		rc = -EINVAL;
	} else {
		lg->r = malloc((lg->h.nrecs + 1) * sizeof(struct rec));
		if (!lg->r)
			rc = -ENOMEM;
		else if (lg->h.nrecs && fread(lg->r, sizeof(struct rec), lg->h.nrecs, f) != lg->h.nrecs)
			rc = -EINVAL;
		lg->cap = lg->h.nrecs;
	}
	fclose(f);
	return rc;
}

/* ---------------- run ---------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct run {
	struct log lg;
	uint64_t ev;
	unsigned long errors;
};

static struct run run_state;

static void on_done(void *opaque, int status)
{
	struct rec *r = &run_state.lg.r[(uintptr_t)opaque];

	r->done = 1;
	r->status = (int16_t)status;
	r->done_ev = run_state.ev++;
	if (status)
		run_state.errors++;
}

static volatile sig_atomic_t region_moves;

static void on_usr1(int sig)
{
	region_moves++;
}

static int cmd_run(int domid, const char *log_path, const char *stop_file, uint64_t seed, unsigned int depth,
		   uint32_t region_blocks)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct vha_platform_config cfg = { .kind = NULL, .sim_domid = domid };
	struct vha_front_opts fo = { .queues = 1 };
	struct vha_platform *p = NULL;
	struct vha_front *f = NULL;
	struct run *R = &run_state;
	unsigned char *buf = aligned_alloc(BLOCK, MAX_WRITE_BLOCKS * BLOCK);
	uint64_t nblocks, nregions, writes = 0, barriers = 0, flushes = 0;
	double t0 = now_s(), last_stop_check = 0;
	int rc;

	if (!buf)
		return 1;
	if (vha_platform_open(&cfg, &p) < 0) {
		fprintf(stderr, "vha-soak-ordered: %s\n", vha_platform_strerror());
		return 1;
	}
	rc = vha_front_open(p, 51712, &fo, &f);
	if (rc < 0) {
		fprintf(stderr, "vha-soak-ordered: cannot attach: %s\n", strerror(-rc));
		vha_platform_close(p);
		return 1;
	}
	if (!vha_front_get_info(f)->barrier) {
		fprintf(stderr, "vha-soak-ordered: the backend offers no barriers\n");
		rc = 3;
		goto out;
	}
	R->lg.h.magic = LOG_MAGIC;
	R->lg.h.sectors = vha_front_get_info(f)->sectors / SECTORS_PER_BLOCK * SECTORS_PER_BLOCK;
	R->lg.h.seed = seed;
	nblocks = R->lg.h.sectors / SECTORS_PER_BLOCK;
	if (region_blocks < MAX_WRITE_BLOCKS || region_blocks > nblocks) {
		fprintf(stderr, "vha-soak-ordered: --region-blocks must be %u..%" PRIu64 "\n", MAX_WRITE_BLOCKS, nblocks);
		rc = 2;
		goto out;
	}
	nregions = nblocks / region_blocks;
	sigaction(SIGUSR1, &sa, NULL);
	rng_state = seed ? seed : 1;
	for (bool stop = false; !stop || vha_front_inflight(f);) {
		double t = now_s();

		if (t - last_stop_check > 0.05) {
			last_stop_check = t;
			stop = access(stop_file, F_OK) == 0;
		}
		while (!stop && vha_front_inflight(f) < depth) {
			unsigned int pick = (unsigned int)(rnd() % 100);
			uint8_t kind = pick < 75 ? REC_WRITE : pick < 90 ? REC_BARRIER : REC_FLUSH;
			uint32_t n = kind == REC_FLUSH ? 0 :
				     1 + (uint32_t)(rnd() % (kind == REC_WRITE ? MAX_WRITE_BLOCKS : MAX_BARRIER_BLOCKS));
			uint64_t region = (uint64_t)region_moves % nregions;
			uint32_t blk = n ? (uint32_t)(region * region_blocks + rnd() % (region_blocks - n + 1)) : 0;
			uint64_t seq = R->lg.h.nrecs;
			struct rec *r;

			for (uint32_t i = 0; i < n * SECTORS_PER_BLOCK; i++)
				tag_sector(buf + (size_t)i * SECTOR, seq, (uint64_t)blk * SECTORS_PER_BLOCK + i);
			/* Data is bounced (copied) at submit, so buf is free again on return. */
			rc = vha_front_submit(f, kind == REC_WRITE ? VHA_FRONT_WRITE : kind == REC_BARRIER ?
					      VHA_FRONT_BARRIER : VHA_FRONT_FLUSH,
					      (uint64_t)blk * BLOCK, n ? buf : NULL, (size_t)n * BLOCK, on_done,
					      (void *)(uintptr_t)seq);
			if (rc == -EAGAIN)
				break;
			if (rc < 0) {
				fprintf(stderr, "vha-soak-ordered: submit: %s\n", strerror(-rc));
				rc = 1;
				goto out;
			}
			r = log_add(&R->lg);
			if (!r) {
				rc = 1;
				goto out;
			}
			r->kind = kind;
			r->block = blk;
			r->nblocks = n;
			r->submit_ev = R->ev++;
			writes += kind == REC_WRITE;
			barriers += kind == REC_BARRIER;
			flushes += kind == REC_FLUSH;
		}
		rc = vha_front_poll(f, 100);
		if (rc < 0) {
			fprintf(stderr, "vha-soak-ordered: device failed: %s\n", strerror(-rc));
			rc = 1;
			goto out;
		}
	}
	rc = vha_front_flush(f);
	if (rc < 0) {
		fprintf(stderr, "vha-soak-ordered: final flush: %s\n", strerror(-rc));
		rc = 1;
		goto out;
	}
	for (uint64_t q = 0; q < R->lg.h.nrecs; q++)
		if (!R->lg.r[q].done)
			R->errors++;
	printf("ordered writer: %" PRIu64 " requests (%" PRIu64 " writes, %" PRIu64 " barriers, %" PRIu64
	       " flushes) at depth %u in %.1f s, %lu errors, %u reconnects, %d of %" PRIu64 " regions used\n",
	       R->lg.h.nrecs, writes, barriers, flushes, depth, now_s() - t0, R->errors,
	       vha_front_get_info(f)->reconnects, (int)region_moves + 1, nregions);
	rc = log_save(&R->lg, log_path);
	if (rc < 0) {
		fprintf(stderr, "vha-soak-ordered: %s: %s\n", log_path, strerror(-rc));
		rc = 1;
		goto out;
	}
	rc = R->errors ? 1 : 0;
out:
	vha_front_close(f);
	vha_platform_close(p);
	free(buf);
	return rc;
}

/* ---------------- check and self-tests ---------------- */

static unsigned char *read_image(const char *path, uint64_t sectors)
{
	FILE *f = fopen(path, "r");
	unsigned char *img = malloc(sectors * SECTOR);

	if (!f || !img || fread(img, SECTOR, sectors, f) != sectors) {
		fprintf(stderr, "vha-soak-ordered: cannot read %" PRIu64 " sectors of %s\n", sectors, path);
		free(img);
		img = NULL;
	}
	if (f)
		fclose(f);
	return img;
}

/*
 * Self-test on the real run: find a sector whose final write V has an
 * earlier write W to its block that a barrier orders before V while W was
 * still in flight when V was issued (so only the barrier orders them), put
 * W's data there as a backend replaying out of ring order would, and expect
 * exactly one more ordering violation (W is chosen so that no write to the
 * block was issued after W completed: by real time alone W could win). Then put the initial data back under
 * a write (expect one more lost write). Returns 0 if the checker caught
 * both, 1 if not, 77 if the run had no such pair.
 */
/* Brute force, apart from the checker: was a write to block b issued after tick `tick`? */
static bool later_in_real_time(const struct log *lg, uint32_t b, uint64_t tick)
{
	for (uint64_t q = 0; q < lg->h.nrecs; q++) {
		const struct rec *r = &lg->r[q];

		if (rec_is_write(r) && b >= r->block && b < r->block + r->nblocks && r->submit_ev > tick)
			return true;
	}
	return false;
}

static int self_test_on(const struct log *lg, unsigned char *img, const struct findings *base)
{
	uint64_t nblocks = lg->h.sectors / SECTORS_PER_BLOCK, n = lg->h.nrecs;
	uint64_t *last = malloc(nblocks * sizeof(uint64_t)), *nb = malloc((n + 1) * sizeof(uint64_t));
	unsigned char saved[SECTOR];
	struct findings fd;
	int result = 77;

	if (!last || !nb)
		goto out;
	for (uint64_t b = 0; b < nblocks; b++)
		last[b] = UINT64_MAX;
	/* nb[q]: the first barrier at or after q. */
	nb[n] = n;
	for (uint64_t q = n; q-- > 0;)
		nb[q] = lg->r[q].kind == REC_BARRIER ? q : nb[q + 1];
	for (uint64_t q = 0; q < n && result == 77; q++) {
		const struct rec *v = &lg->r[q];

		if (!rec_is_write(v))
			continue;
		for (uint32_t b = v->block; b < v->block + v->nblocks && result == 77; b++) {
			uint64_t w = last[b], s = (uint64_t)b * SECTORS_PER_BLOCK, hdr[2];

			last[b] = q;
			memcpy(hdr, img + s * SECTOR, sizeof(hdr));
			/* V must be what the sector holds; W before a barrier before V, still in flight. */
			if (w == UINT64_MAX || hdr[0] != TAG_MAGIC || hdr[1] != q || nb[w] > q ||
			    lg->r[w].done_ev < v->submit_ev || later_in_real_time(lg, b, lg->r[w].done_ev))
				continue;
			memcpy(saved, img + s * SECTOR, SECTOR);
			tag_sector(img + s * SECTOR, w, s);
			check_image(lg, img, &fd, 0, NULL);
			printf("self-test: sector %" PRIu64 " given seq %" PRIu64 " (before a barrier) instead of %" PRIu64
			       ": %" PRIu64 " ordering violations (was %" PRIu64 ")\n",
			       s, w, q, fd.ordering, base->ordering);
			result = fd.ordering == base->ordering + 1 && fd.lost == base->lost ? 0 : 1;
			memset(img + s * SECTOR, 0, SECTOR);
			check_image(lg, img, &fd, 0, NULL);
			printf("self-test: sector %" PRIu64 " zeroed: %" PRIu64 " lost writes (was %" PRIu64 ")\n", s,
			       fd.lost, base->lost);
			if (fd.lost != base->lost + 1)
				result = 1;
			memcpy(img + s * SECTOR, saved, SECTOR);
		}
	}
out:
	free(last);
	free(nb);
	return result;
}

static int cmd_check(const char *image, const char *log_path, bool self_test, uint32_t region_blocks)
{
	struct log lg;
	struct findings fd;
	unsigned char *img;
	bool *bad_block = NULL;
	int rc = log_load(&lg, log_path);

	if (rc < 0) {
		fprintf(stderr, "vha-soak-ordered: %s: %s\n", log_path, strerror(-rc));
		return 1;
	}
	img = read_image(image, lg.h.sectors);
	bad_block = calloc(lg.h.sectors / SECTORS_PER_BLOCK + 1, sizeof(bool));
	if (!img || !bad_block || check_image(&lg, img, &fd, 10, bad_block) < 0) {
		free(lg.r);
		free(img);
		free(bad_block);
		return 1;
	}
	print_findings("check", &fd);
	if (region_blocks) {
		/* Region r was the target when restart r happened: which replays broke a rule. */
		uint64_t nregions = lg.h.sectors / SECTORS_PER_BLOCK / region_blocks, bad_regions = 0;

		printf("regions with a finding:");
		for (uint64_t r = 0; r < nregions; r++) {
			bool bad = false;

			for (uint64_t b = r * region_blocks; b < (r + 1) * region_blocks; b++)
				bad |= bad_block[b];
			if (bad)
				printf(" %" PRIu64, r);
			bad_regions += bad;
		}
		printf("%s (%" PRIu64 " of %" PRIu64 ")\n", bad_regions ? "" : " none", bad_regions, nregions);
	}
	free(bad_block);
	rc = fd.lost || fd.ordering || fd.corrupt || fd.written == 0 ? 1 : 0;
	if (fd.written == 0)
		fprintf(stderr, "vha-soak-ordered: no sector holds a write: nothing was checked\n");
	if (self_test) {
		int st = self_test_on(&lg, img, &fd);

		if (st == 77)
			printf("self-test: this run has no write ordered only by a barrier before a later one; skipped\n");
		else if (st)
			fprintf(stderr, "self-test: the checker missed a planted violation\n");
		if (st == 1)
			rc = 1;
	}
	free(lg.r);
	free(img);
	return rc;
}

/* A made-up request for the self-tests. */
static void fake(struct log *lg, uint8_t kind, uint32_t block, uint32_t nblocks, uint64_t sub, uint64_t done)
{
	struct rec *r = log_add(lg);

	r->kind = kind;
	r->block = block;
	r->nblocks = nblocks;
	r->submit_ev = sub;
	r->done_ev = done;
	r->done = 1;
}

static void put(unsigned char *img, uint64_t seq, uint32_t block)
{
	for (uint32_t i = 0; i < SECTORS_PER_BLOCK; i++)
		tag_sector(img + ((size_t)block * SECTORS_PER_BLOCK + i) * SECTOR, seq,
			   (uint64_t)block * SECTORS_PER_BLOCK + i);
}

static int expect(const char *what, const struct log *lg, const unsigned char *img, uint64_t lost, uint64_t ordering,
		  uint64_t corrupt)
{
	struct findings fd;
	bool ok = check_image(lg, img, &fd, 0, NULL) == 0 && fd.lost == lost && fd.ordering == ordering &&
		  fd.corrupt == corrupt;

	printf("%s  %-58s lost %" PRIu64 " ordering %" PRIu64 " corrupt %" PRIu64 "\n", ok ? "ok  " : "FAIL", what,
	       fd.lost, fd.ordering, fd.corrupt);
	return ok ? 0 : 1;
}

/*
 * Known answers. Log: 0 write block 0, 1 barrier block 1, 2 write block 0,
 * 3 write block 2, 4 write block 2; all in flight together (submits at
 * ticks 0-4, completions after), except 3, which completed (tick 5) before 4
 * was issued (tick 6). Block 3 is never written.
 */
static int cmd_selftest(void)
{
	struct log lg = { .h = { .magic = LOG_MAGIC, .sectors = 4 * SECTORS_PER_BLOCK } };
	unsigned char *img = calloc(lg.h.sectors, SECTOR);
	int bad = 0;

	if (!img)
		return 1;
	fake(&lg, REC_WRITE, 0, 1, 0, 10);
	fake(&lg, REC_BARRIER, 1, 1, 1, 9);
	fake(&lg, REC_WRITE, 0, 1, 2, 8);
	fake(&lg, REC_WRITE, 2, 1, 3, 5);
	fake(&lg, REC_WRITE, 2, 1, 6, 7);
	put(img, 2, 0);
	put(img, 1, 1);
	put(img, 4, 2);
	bad |= expect("every block holds its last write", &lg, img, 0, 0, 0);
	put(img, 0, 0);
	bad |= expect("block 0 holds the write from before the barrier", &lg, img, 0, 8, 0);
	put(img, 2, 0);
	put(img, 3, 2);
	bad |= expect("block 2 holds a write completed before its successor", &lg, img, 8, 0, 0);
	memset(img + 2 * BLOCK, 0, BLOCK);
	bad |= expect("block 2 holds the initial data", &lg, img, 8, 0, 0);
	put(img, 4, 2);
	img[2 * BLOCK + 100] ^= 1;
	bad |= expect("one bit flipped in block 2", &lg, img, 0, 0, 1);
	img[2 * BLOCK + 100] ^= 1;
	put(img, 2, 1);
	bad |= expect("block 1 holds block 0's write (misplaced)", &lg, img, 0, 0, 8);
	put(img, 1, 1);
	put(img, 1, 3);
	bad |= expect("a never-written block holds a tag", &lg, img, 0, 0, 8);
	memset(img + 3 * BLOCK, 0, BLOCK);
	/* Without the barrier, 0 and 2 overlap in flight: either may win. */
	lg.r[1].kind = REC_WRITE;
	put(img, 0, 0);
	bad |= expect("no barrier between two writes in flight: either wins", &lg, img, 0, 0, 0);
	free(lg.r);
	free(img);
	printf("selftest: %s\n", bad ? "FAILED" : "OK");
	return bad;
}

/* ---------------- main ---------------- */

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "domid", required_argument, NULL, 'D' },    { "log", required_argument, NULL, 'L' },
		{ "stop-file", required_argument, NULL, 'F' }, { "seed", required_argument, NULL, 's' },
		{ "depth", required_argument, NULL, 'q' },    { "image", required_argument, NULL, 'i' },
		{ "self-test", no_argument, NULL, 'T' },      { "log-level", required_argument, NULL, 'l' },
		{ "region-blocks", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *log_path = NULL, *stop_file = NULL, *image = NULL, *cmd;
	unsigned long long seed = 1;
	unsigned int depth = 32;
	unsigned long region_blocks = 64;
	bool self_test = false;
	int domid = 1, c;

	if (argc < 2)
		goto bad;
	cmd = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'D': domid = atoi(optarg); break;
		case 'L': log_path = optarg; break;
		case 'F': stop_file = optarg; break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 'q': depth = (unsigned int)strtoul(optarg, NULL, 10); break;
		case 'i': image = optarg; break;
		case 'T': self_test = true; break;
		case 'r': region_blocks = strtoul(optarg, NULL, 10); break;
		case 'l':
			if (vha_log_parse_level(optarg) < 0)
				goto bad;
			vha_log_set_threshold((enum vha_log_level)vha_log_parse_level(optarg));
			break;
		default: goto bad;
		}
	}
	if (optind != argc)
		goto bad;
	if (!strcmp(cmd, "run") && log_path && stop_file && depth > 0)
		return cmd_run(domid, log_path, stop_file, seed, depth, (uint32_t)region_blocks);
	if (!strcmp(cmd, "check") && log_path && image)
		return cmd_check(image, log_path, self_test, (uint32_t)region_blocks);
	if (!strcmp(cmd, "selftest"))
		return cmd_selftest();
bad:
	fprintf(stderr, "usage: vha-soak-ordered run --log FILE --stop-file F [--domid N] [--seed S] [--depth D]\n"
			"                              [--region-blocks N]\n"
			"       vha-soak-ordered check --image IMG --log FILE [--self-test] [--region-blocks N]\n"
			"       vha-soak-ordered selftest\n");
	return 2;
}
