// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for everything the backend parses out of guest memory:
 * one ring slot, an indirect page, and the ring indexes. The input also
 * picks the backend's limits, so every rejection path is reachable.
 *
 * Input layout (short inputs are zero-padded):
 *   [0, 112)    the ring slot
 *   [112, 120)  disk size in 512-byte sectors
 *   120         sector-size selector (512, 4096, 1024, or the u32 at 124)
 *   121         flags: readonly, flush, barrier, discard
 *   [122, 124)  max_indirect_segments
 *   [124, 128)  raw sector size (selector 3)
 *   [128, 140)  req_prod, req_cons, rsp_prod_pvt of a one-page ring
 *   [140, ...)  the indirect page (up to 4096 bytes)
 *
 * Invariants asserted on every accepted request: the range lies inside the
 * disk without wrapping, nr_sectors is the sum of the segments, segment
 * counts are within the offer, alignment to the sector size holds, and a
 * read-only disk only ever accepts reads.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vha/blkif.h"

#define HEAD 140

#define CHECK(cond)                                                                                  \
	do {                                                                                         \
		if (!(cond)) {                                                                       \
			fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
			abort();                                                                     \
		}                                                                                    \
	} while (0)

static void get(const uint8_t *in, size_t size, size_t off, void *out, size_t len)
{
	memset(out, 0, len);
	if (off < size)
		memcpy(out, in + off, size - off < len ? size - off : len);
}

static void check_accepted(const struct vha_blkif_limits *lim, const struct vha_blkif_req *req)
{
	uint64_t mask = 0, total = 0;

	if (lim->sector_size > 512 && (lim->sector_size & (lim->sector_size - 1)) == 0)
		mask = (lim->sector_size >> 9) - 1;
	CHECK(req->op != VHA_BLKIF_UNKNOWN);
	CHECK(vha_blkif_reject_status(VHA_BLKIF_OK) == BLKIF_RSP_OKAY);
	if (lim->readonly)
		CHECK(req->op == VHA_BLKIF_READ);
	if (req->op == VHA_BLKIF_FLUSH)
		CHECK(lim->flush);
	if (req->op == VHA_BLKIF_BARRIER)
		CHECK(lim->barrier);
	if (req->op == VHA_BLKIF_DISCARD) {
		CHECK(lim->discard);
		CHECK(!req->indirect);
		CHECK(req->sector <= lim->sectors && req->nr_sectors <= lim->sectors - req->sector);
		CHECK(((req->sector | req->nr_sectors) & mask) == 0);
		return;
	}
	if (req->indirect) {
		CHECK(req->op == VHA_BLKIF_READ || req->op == VHA_BLKIF_WRITE);
		CHECK(req->operation == BLKIF_OP_READ || req->operation == BLKIF_OP_WRITE);
		CHECK(req->nr_segments >= 1);
		CHECK(req->nr_segments <= lim->max_indirect_segments);
		CHECK(req->nr_segments <= VHA_BLKIF_MAX_SEGMENTS);
		CHECK(req->nr_indirect_pages ==
		      (req->nr_segments + VHA_BLKIF_SEGS_PER_INDIRECT_PAGE - 1) / VHA_BLKIF_SEGS_PER_INDIRECT_PAGE);
		CHECK(req->nr_indirect_pages <= BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST);
	} else {
		CHECK(req->nr_segments <= BLKIF_MAX_SEGMENTS_PER_REQUEST);
	}
	if (req->op == VHA_BLKIF_READ || req->op == VHA_BLKIF_WRITE)
		CHECK(req->nr_segments >= 1);
	for (uint32_t i = 0; i < req->nr_segments; i++) {
		const struct vha_blkif_seg *seg = &req->seg[i];
		uint64_t n;

		CHECK(seg->first_sect <= seg->last_sect);
		CHECK(seg->last_sect <= 7);
		n = (uint64_t)(seg->last_sect - seg->first_sect) + 1;
		CHECK((n & mask) == 0);
		total += n;
	}
	CHECK(req->nr_sectors == total);
	CHECK(total <= (uint64_t)req->nr_segments * 8);
	if (req->nr_segments == 0) {
		CHECK(req->op == VHA_BLKIF_FLUSH || req->op == VHA_BLKIF_BARRIER);
		return;
	}
	CHECK(req->sector <= lim->sectors && total <= lim->sectors - req->sector);
	CHECK((req->sector & mask) == 0);
}

static void fuzz_request(const uint8_t *data, size_t size)
{
	static uint8_t slot[sizeof(struct blkif_request)];
	static uint8_t page[4096] __attribute__((aligned(4096)));
	static struct vha_blkif_req req, again;
	struct vha_blkif_limits lim;
	uint8_t sel, flags;
	uint16_t max_ind;
	uint32_t raw_size;
	enum vha_blkif_reject r;
	const void *pages[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];

	get(data, size, 0, slot, sizeof(slot));
	memset(&lim, 0, sizeof(lim));
	get(data, size, 112, &lim.sectors, 8);
	get(data, size, 120, &sel, 1);
	get(data, size, 121, &flags, 1);
	get(data, size, 122, &max_ind, 2);
	get(data, size, 124, &raw_size, 4);
	get(data, size, HEAD, page, sizeof(page));
	switch (sel & 3) {
	case 0: lim.sector_size = 512; break;
	case 1: lim.sector_size = 4096; break;
	case 2: lim.sector_size = 1024; break;
	default: lim.sector_size = raw_size; break;
	}
	lim.readonly = flags & 1;
	lim.flush = flags & 2;
	lim.barrier = flags & 4;
	lim.discard = flags & 8;
	lim.max_indirect_segments = max_ind;
	for (unsigned int i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
		pages[i] = page;

	vha_blkif_copy_request(slot, &req);
	/* Decoding is a pure function of the slot. */
	vha_blkif_copy_request(slot, &again);
	CHECK(req.op == again.op && req.nr_segments == again.nr_segments && req.sector == again.sector &&
	      req.id == again.id && req.indirect == again.indirect);
	CHECK(req.nr_indirect_pages <= BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST);

	r = vha_blkif_check_header(&lim, &req);
	if (r == VHA_BLKIF_OK && req.indirect)
		vha_blkif_load_indirect(&req, pages);
	if (r == VHA_BLKIF_OK)
		r = vha_blkif_check_segments(&lim, &req);

	CHECK((unsigned int)r < VHA_BLKIF_REJECT_COUNT);
	CHECK(strcmp(vha_blkif_reject_name(r), "invalid") != 0);
	if (r == VHA_BLKIF_OK) {
		check_accepted(&lim, &req);
	} else {
		int16_t st = vha_blkif_reject_status(r);

		CHECK(st == BLKIF_RSP_ERROR || st == BLKIF_RSP_EOPNOTSUPP);
	}
	/* The one-call form agrees for direct requests. */
	if (!again.indirect)
		CHECK(vha_blkif_validate(&lim, &again) == r);
	/* Unvalidated input must not make the second pass misbehave either. */
	vha_blkif_copy_request(slot, &again);
	if (again.indirect)
		vha_blkif_load_indirect(&again, pages);
	(void)vha_blkif_check_segments(&lim, &again);
}

static void fuzz_ring(const uint8_t *data, size_t size)
{
	static uint8_t ring[4096] __attribute__((aligned(4096)));
	struct vha_blkif_back b;
	struct vha_blkif_req req;
	uint32_t idx[3];
	RING_IDX prod;
	int n;

	get(data, size, 128, idx, sizeof(idx));
	get(data, size, HEAD, ring, sizeof(ring));
	vha_blkif_back_init(&b, ring, 1);
	b.ring.sring->req_prod = idx[0];
	b.ring.req_cons = idx[1];
	b.ring.rsp_prod_pvt = idx[2];
	/* Our own indexes keep their invariant: no more requests taken than slots. */
	if (b.ring.req_cons - b.ring.rsp_prod_pvt > RING_SIZE(&b.ring))
		b.ring.rsp_prod_pvt = b.ring.req_cons;
	n = vha_blkif_back_snapshot(&b, &prod);
	if (n < 0) {
		CHECK(n == -EPROTO);
		return;
	}
	CHECK((unsigned int)n <= RING_SIZE(&b.ring));
	CHECK(prod - b.ring.rsp_prod_pvt <= RING_SIZE(&b.ring));
	for (; b.ring.req_cons != prod; b.ring.req_cons++) {
		vha_blkif_copy_request(vha_blkif_back_slot(&b, b.ring.req_cons), &req);
		vha_blkif_back_respond(&b, req.id, req.operation, BLKIF_RSP_ERROR);
	}
	(void)vha_blkif_back_push(&b);
	(void)vha_blkif_back_final_check(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_request(data, size);
	fuzz_ring(data, size);
	return 0;
}
