// SPDX-License-Identifier: MIT
/*
 * Request decoding and validation: one case per rejection class (reason and
 * status), and the valid edge cases next to them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vha/blkif.h"

/* Later designated initialisers override the defaults in LIM(). */
#pragma GCC diagnostic ignored "-Woverride-init"

#define DISK 1048576ull /* 512 MiB in 512-byte sectors */

#define LIM(...)                                                                                    \
	{                                                                                           \
		.sectors = DISK, .sector_size = 512, .max_indirect_segments = 512, .readonly = false, \
		.flush = true, .barrier = true, .discard = true, __VA_ARGS__                         \
	}

#define SEG(f, l) { .gref = 100, .first_sect = (f), .last_sect = (l) }
#define FULL SEG(0, 7)
#define FULL11 { FULL, FULL, FULL, FULL, FULL, FULL, FULL, FULL, FULL, FULL, FULL }

union slot {
	struct blkif_request rw;
	struct blkif_request_discard discard;
	struct blkif_request_indirect indirect;
};

struct vcase {
	const char *name;
	union slot slot;
	struct vha_blkif_limits lim;
	/* Indirect only: the page holds nr_segments full segments, except bad_seg. */
	int bad_seg;
	uint8_t bad_first, bad_last;
	enum vha_blkif_reject want;
	int16_t want_status;
	uint64_t want_sectors; /* checked when want == OK */
};

#define RW(op, n, sec, ...) { .rw = { .operation = (op), .nr_segments = (n), .id = 0x1234, .sector_number = (sec), .seg = __VA_ARGS__ } }
#define DISCARD(sec, n, fl) { .discard = { .operation = BLKIF_OP_DISCARD, .flag = (fl), .id = 0x1234, .sector_number = (sec), .nr_sectors = (n) } }
#define IND(iop, n, sec) { .indirect = { .operation = BLKIF_OP_INDIRECT, .indirect_op = (iop), .nr_segments = (n), .id = 0x1234, .sector_number = (sec), .indirect_grefs = { 7 } } }

#define ERR BLKIF_RSP_ERROR
#define NOTSUPP BLKIF_RSP_EOPNOTSUPP
#define OKAY BLKIF_RSP_OKAY

static const struct vcase cases[] = {
	/* ---- operation ---- */
	{ "reserved op 4", RW(BLKIF_OP_RESERVED_1, 1, 0, { FULL }), LIM(), -1, 0, 0, VHA_BLKIF_REJECT_UNKNOWN_OP, NOTSUPP, 0 },
	{ "op 200", RW(200, 1, 0, { FULL }), LIM(), -1, 0, 0, VHA_BLKIF_REJECT_UNKNOWN_OP, NOTSUPP, 0 },
	{ "barrier not offered", RW(BLKIF_OP_WRITE_BARRIER, 1, 0, { FULL }), LIM(.barrier = false), -1, 0, 0, VHA_BLKIF_REJECT_UNSUPPORTED_OP, NOTSUPP, 0 },
	{ "flush not offered", RW(BLKIF_OP_FLUSH_DISKCACHE, 0, 0, { FULL }), LIM(.flush = false), -1, 0, 0, VHA_BLKIF_REJECT_UNSUPPORTED_OP, NOTSUPP, 0 },
	{ "discard not offered", DISCARD(0, 8, 0), LIM(.discard = false), -1, 0, 0, VHA_BLKIF_REJECT_UNSUPPORTED_OP, NOTSUPP, 0 },
	{ "indirect flush", IND(BLKIF_OP_FLUSH_DISKCACHE, 1, 0), LIM(), -1, 0, 0, VHA_BLKIF_REJECT_BAD_INDIRECT_OP, ERR, 0 },
	{ "indirect discard", IND(BLKIF_OP_DISCARD, 1, 0), LIM(), -1, 0, 0, VHA_BLKIF_REJECT_BAD_INDIRECT_OP, ERR, 0 },
	{ "indirect op 99", IND(99, 1, 0), LIM(), -1, 0, 0, VHA_BLKIF_REJECT_BAD_INDIRECT_OP, ERR, 0 },
	{ "indirect not offered", IND(BLKIF_OP_READ, 1, 0), LIM(.max_indirect_segments = 0), -1, 0, 0, VHA_BLKIF_REJECT_BAD_INDIRECT_OP, ERR, 0 },
	/* ---- segment counts ---- */
	{ "read 0 segments", RW(BLKIF_OP_READ, 0, 0, { FULL }), LIM(), -1, 0, 0, VHA_BLKIF_REJECT_NO_SEGMENTS, ERR, 0 },
	{ "write 0 segments", RW(BLKIF_OP_WRITE, 0, 0, { FULL }), LIM(), -1, 0, 0, VHA_BLKIF_REJECT_NO_SEGMENTS, ERR, 0 },
	{ "indirect 0 segments", IND(BLKIF_OP_WRITE, 0, 0), LIM(), -1, 0, 0, VHA_BLKIF_REJECT_NO_SEGMENTS, ERR, 0 },
	{ "12 direct segments", RW(BLKIF_OP_READ, 12, 0, FULL11), LIM(), -1, 0, 0, VHA_BLKIF_REJECT_TOO_MANY_SEGMENTS, ERR, 0 },
	{ "255 direct segments", RW(BLKIF_OP_WRITE, 255, 0, FULL11), LIM(), -1, 0, 0, VHA_BLKIF_REJECT_TOO_MANY_SEGMENTS, ERR, 0 },
	{ "indirect above offer", IND(BLKIF_OP_READ, 257, 0), LIM(.max_indirect_segments = 256), -1, 0, 0, VHA_BLKIF_REJECT_TOO_MANY_SEGMENTS, ERR, 0 },
	{ "indirect above 512", IND(BLKIF_OP_READ, 513, 0), LIM(.max_indirect_segments = 4096), -1, 0, 0, VHA_BLKIF_REJECT_TOO_MANY_SEGMENTS, ERR, 0 },
	{ "indirect 65535", IND(BLKIF_OP_WRITE, 65535, 0), LIM(), -1, 0, 0, VHA_BLKIF_REJECT_TOO_MANY_SEGMENTS, ERR, 0 },
	/* ---- per-segment sectors ---- */
	{ "first > last", RW(BLKIF_OP_READ, 2, 0, { FULL, SEG(5, 4) }), LIM(), -1, 0, 0, VHA_BLKIF_REJECT_FIRST_AFTER_LAST, ERR, 0 },
	{ "last_sect 8", RW(BLKIF_OP_WRITE, 1, 0, { SEG(0, 8) }), LIM(), -1, 0, 0, VHA_BLKIF_REJECT_LAST_SECT_RANGE, ERR, 0 },
	{ "last_sect 255", RW(BLKIF_OP_READ, 11, 0, { FULL, FULL, FULL, FULL, FULL, FULL, FULL, FULL, FULL, FULL, SEG(0, 255) }), LIM(), -1, 0, 0, VHA_BLKIF_REJECT_LAST_SECT_RANGE, ERR, 0 },
	{ "indirect seg 300 first > last", IND(BLKIF_OP_READ, 400, 0), LIM(), 300, 7, 6, VHA_BLKIF_REJECT_FIRST_AFTER_LAST, ERR, 0 },
	{ "indirect last seg last_sect 8", IND(BLKIF_OP_WRITE, 512, 0), LIM(), 511, 0, 8, VHA_BLKIF_REJECT_LAST_SECT_RANGE, ERR, 0 },
	/* ---- disk range ---- */
	{ "read one sector past end", RW(BLKIF_OP_READ, 1, DISK - 7, { FULL }), LIM(), -1, 0, 0, VHA_BLKIF_REJECT_PAST_END, ERR, 0 },
	{ "read at sector == size", RW(BLKIF_OP_READ, 1, DISK, { SEG(0, 0) }), LIM(), -1, 0, 0, VHA_BLKIF_REJECT_PAST_END, ERR, 0 },
	{ "read wraps 64 bits", RW(BLKIF_OP_READ, 1, UINT64_MAX - 3, { FULL }), LIM(.sectors = UINT64_MAX), -1, 0, 0, VHA_BLKIF_REJECT_PAST_END, ERR, 0 },
	{ "indirect past end", IND(BLKIF_OP_READ, 512, DISK - 4095), LIM(), -1, 0, 0, VHA_BLKIF_REJECT_PAST_END, ERR, 0 },
	{ "discard past end", DISCARD(DISK - 8, 9, 0), LIM(), -1, 0, 0, VHA_BLKIF_REJECT_PAST_END, ERR, 0 },
	{ "discard wraps 64 bits", DISCARD(UINT64_MAX - 1, 4, 0), LIM(.sectors = UINT64_MAX), -1, 0, 0, VHA_BLKIF_REJECT_PAST_END, ERR, 0 },
	{ "discard huge length", DISCARD(8, UINT64_MAX, 0), LIM(), -1, 0, 0, VHA_BLKIF_REJECT_PAST_END, ERR, 0 },
	{ "empty discard beyond end", DISCARD(DISK + 1, 0, 0), LIM(), -1, 0, 0, VHA_BLKIF_REJECT_PAST_END, ERR, 0 },
	/* ---- read-only ---- */
	{ "write read-only", RW(BLKIF_OP_WRITE, 1, 0, { FULL }), LIM(.readonly = true), -1, 0, 0, VHA_BLKIF_REJECT_READONLY, ERR, 0 },
	{ "barrier read-only", RW(BLKIF_OP_WRITE_BARRIER, 1, 0, { FULL }), LIM(.readonly = true), -1, 0, 0, VHA_BLKIF_REJECT_READONLY, ERR, 0 },
	{ "flush read-only", RW(BLKIF_OP_FLUSH_DISKCACHE, 0, 0, { FULL }), LIM(.readonly = true), -1, 0, 0, VHA_BLKIF_REJECT_READONLY, ERR, 0 },
	{ "discard read-only", DISCARD(0, 8, 0), LIM(.readonly = true), -1, 0, 0, VHA_BLKIF_REJECT_READONLY, ERR, 0 },
	{ "indirect write read-only", IND(BLKIF_OP_WRITE, 20, 0), LIM(.readonly = true), -1, 0, 0, VHA_BLKIF_REJECT_READONLY, ERR, 0 },
	/* ---- 4096-byte sectors ---- */
	{ "4k: start not aligned", RW(BLKIF_OP_READ, 1, 1, { FULL }), LIM(.sector_size = 4096), -1, 0, 0, VHA_BLKIF_REJECT_MISALIGNED, ERR, 0 },
	{ "4k: half-page segment", RW(BLKIF_OP_WRITE, 2, 8, { FULL, SEG(0, 3) }), LIM(.sector_size = 4096), -1, 0, 0, VHA_BLKIF_REJECT_MISALIGNED, ERR, 0 },
	{ "4k: indirect segment of 1", IND(BLKIF_OP_READ, 10, 16), LIM(.sector_size = 4096), 9, 7, 7, VHA_BLKIF_REJECT_MISALIGNED, ERR, 0 },
	{ "4k: discard start", DISCARD(3, 8, 0), LIM(.sector_size = 4096), -1, 0, 0, VHA_BLKIF_REJECT_MISALIGNED, ERR, 0 },
	{ "4k: discard length", DISCARD(8, 9, 0), LIM(.sector_size = 4096), -1, 0, 0, VHA_BLKIF_REJECT_MISALIGNED, ERR, 0 },

	/* ---- valid edge cases ---- */
	{ "read last sector", RW(BLKIF_OP_READ, 1, DISK - 1, { SEG(7, 7) }), LIM(), -1, 0, 0, VHA_BLKIF_OK, OKAY, 1 },
	{ "write ends at end", RW(BLKIF_OP_WRITE, 11, DISK - 88, FULL11), LIM(), -1, 0, 0, VHA_BLKIF_OK, OKAY, 88 },
	{ "11 direct mixed", RW(BLKIF_OP_READ, 11, 0, { SEG(0, 0), SEG(1, 2), SEG(3, 5), FULL, FULL, FULL, FULL, FULL, FULL, FULL, SEG(7, 7) }), LIM(), -1, 0, 0, VHA_BLKIF_OK, OKAY, 1 + 2 + 3 + 7 * 8 + 1 },
	{ "read on read-only", RW(BLKIF_OP_READ, 1, 0, { FULL }), LIM(.readonly = true), -1, 0, 0, VHA_BLKIF_OK, OKAY, 8 },
	{ "4k aligned", RW(BLKIF_OP_WRITE, 2, 8, { FULL, FULL }), LIM(.sector_size = 4096), -1, 0, 0, VHA_BLKIF_OK, OKAY, 16 },
	{ "4k ends at end", RW(BLKIF_OP_READ, 1, DISK - 8, { FULL }), LIM(.sector_size = 4096), -1, 0, 0, VHA_BLKIF_OK, OKAY, 8 },
	{ "pure flush", RW(BLKIF_OP_FLUSH_DISKCACHE, 0, UINT64_MAX, { FULL }), LIM(.sector_size = 4096), -1, 0, 0, VHA_BLKIF_OK, OKAY, 0 },
	{ "flush with data", RW(BLKIF_OP_FLUSH_DISKCACHE, 2, 64, { FULL, SEG(0, 1) }), LIM(), -1, 0, 0, VHA_BLKIF_OK, OKAY, 10 },
	{ "empty barrier", RW(BLKIF_OP_WRITE_BARRIER, 0, 0, { FULL }), LIM(), -1, 0, 0, VHA_BLKIF_OK, OKAY, 0 },
	{ "barrier with data", RW(BLKIF_OP_WRITE_BARRIER, 1, 0, { FULL }), LIM(), -1, 0, 0, VHA_BLKIF_OK, OKAY, 8 },
	{ "discard to end", DISCARD(DISK - 4096, 4096, 0), LIM(), -1, 0, 0, VHA_BLKIF_OK, OKAY, 4096 },
	{ "secure discard 4k", DISCARD(8, 16, BLKIF_DISCARD_SECURE), LIM(.sector_size = 4096), -1, 0, 0, VHA_BLKIF_OK, OKAY, 16 },
	{ "empty discard at end", DISCARD(DISK, 0, 0), LIM(), -1, 0, 0, VHA_BLKIF_OK, OKAY, 0 },
	{ "indirect 1 segment", IND(BLKIF_OP_READ, 1, 0), LIM(), -1, 0, 0, VHA_BLKIF_OK, OKAY, 8 },
	{ "indirect at offer", IND(BLKIF_OP_WRITE, 256, 0), LIM(.max_indirect_segments = 256), -1, 0, 0, VHA_BLKIF_OK, OKAY, 2048 },
	{ "indirect max 512 to end", IND(BLKIF_OP_READ, 512, DISK - 4096), LIM(), -1, 0, 0, VHA_BLKIF_OK, OKAY, 4096 },
	{ "indirect offer above 512", IND(BLKIF_OP_READ, 512, 0), LIM(.max_indirect_segments = 4096), -1, 0, 0, VHA_BLKIF_OK, OKAY, 4096 },
};

/* An indirect page exactly 4096 bytes long, so ASan catches any overrun. */
static struct blkif_request_segment *make_page(const struct vcase *c)
{
	struct blkif_request_segment *page = aligned_alloc(4096, 4096);
	unsigned int i;

	assert_non_null(page);
	memset(page, 0xee, 4096);
	for (i = 0; i < VHA_BLKIF_SEGS_PER_INDIRECT_PAGE; i++) {
		page[i].gref = 1000 + i;
		page[i].first_sect = 0;
		page[i].last_sect = 7;
	}
	if (c->bad_seg >= 0) {
		page[c->bad_seg].first_sect = c->bad_first;
		page[c->bad_seg].last_sect = c->bad_last;
	}
	return page;
}

static void run_case(const struct vcase *c)
{
	struct vha_blkif_req *req = malloc(sizeof(*req));
	void *slot = malloc(sizeof(struct blkif_request)); /* exact size: ASan sees overreads */
	enum vha_blkif_reject got;

	assert_non_null(req);
	assert_non_null(slot);
	memcpy(slot, &c->slot, sizeof(struct blkif_request));
	vha_blkif_copy_request(slot, req);
	/* The slot changing after the copy must not matter. */
	memset(slot, 0xff, sizeof(struct blkif_request));

	got = vha_blkif_check_header(&c->lim, req);
	if (got == VHA_BLKIF_OK && req->indirect) {
		struct blkif_request_segment *page = make_page(c);
		const void *pages[1] = { page };

		assert_int_equal(req->nr_indirect_pages, 1);
		assert_int_equal(req->indirect_grefs[0], 7);
		vha_blkif_load_indirect(req, pages);
		free(page);
	}
	if (got == VHA_BLKIF_OK)
		got = vha_blkif_check_segments(&c->lim, req);

	if (got != c->want)
		fail_msg("case \"%s\": got %s, want %s", c->name, vha_blkif_reject_name(got),
			 vha_blkif_reject_name(c->want));
	if (vha_blkif_reject_status(got) != c->want_status)
		fail_msg("case \"%s\": status %d, want %d", c->name, vha_blkif_reject_status(got), c->want_status);
	assert_int_equal(req->id, 0x1234);
	if (c->want == VHA_BLKIF_OK && req->nr_sectors != c->want_sectors)
		fail_msg("case \"%s\": nr_sectors %llu, want %llu", c->name, (unsigned long long)req->nr_sectors,
			 (unsigned long long)c->want_sectors);
	free(slot);
	free(req);
}

static void test_table(void **state)
{
	size_t i;
	bool seen[VHA_BLKIF_REJECT_COUNT] = { false };

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		run_case(&cases[i]);
		seen[cases[i].want] = true;
	}
	/* Every rejection class has at least one case. */
	for (i = 0; i < VHA_BLKIF_REJECT_COUNT; i++)
		if (!seen[i])
			fail_msg("no case for %s", vha_blkif_reject_name(i));
}

static void test_status_table(void **state)
{
	/* As Linux blkback: only "cannot do this operation" is EOPNOTSUPP. */
	assert_int_equal(vha_blkif_reject_status(VHA_BLKIF_OK), BLKIF_RSP_OKAY);
	assert_int_equal(vha_blkif_reject_status(VHA_BLKIF_REJECT_UNKNOWN_OP), BLKIF_RSP_EOPNOTSUPP);
	assert_int_equal(vha_blkif_reject_status(VHA_BLKIF_REJECT_UNSUPPORTED_OP), BLKIF_RSP_EOPNOTSUPP);
	for (int r = VHA_BLKIF_REJECT_BAD_INDIRECT_OP; r < VHA_BLKIF_REJECT_COUNT; r++)
		assert_int_equal(vha_blkif_reject_status(r), BLKIF_RSP_ERROR);
	for (int r = 0; r < VHA_BLKIF_REJECT_COUNT; r++) {
		assert_non_null(vha_blkif_reject_name(r));
		assert_string_not_equal(vha_blkif_reject_name(r), "invalid");
		for (int s = 0; s < r; s++)
			assert_string_not_equal(vha_blkif_reject_name(r), vha_blkif_reject_name(s));
	}
	assert_string_equal(vha_blkif_reject_name(VHA_BLKIF_REJECT_COUNT), "invalid");
	assert_string_equal(vha_blkif_reject_name((enum vha_blkif_reject)-1), "invalid");
}

static void test_decode_fields(void **state)
{
	union slot s;
	struct vha_blkif_req req;

	memset(&s, 0, sizeof(s));
	s.rw = (union slot)RW(BLKIF_OP_WRITE, 3, 4242, { SEG(1, 2), SEG(0, 7), SEG(3, 3) }).rw;
	s.rw.handle = 51712;
	s.rw.seg[1].gref = 77;
	vha_blkif_copy_request(&s, &req);
	assert_int_equal(req.op, VHA_BLKIF_WRITE);
	assert_int_equal(req.operation, BLKIF_OP_WRITE);
	assert_false(req.indirect);
	assert_int_equal(req.handle, 51712);
	assert_int_equal(req.sector, 4242);
	assert_int_equal(req.nr_segments, 3);
	assert_int_equal(req.seg[0].first_sect, 1);
	assert_int_equal(req.seg[0].last_sect, 2);
	assert_int_equal(req.seg[1].gref, 77);
	assert_int_equal(req.seg[2].first_sect, 3);

	memset(&s, 0, sizeof(s));
	s.discard = (union slot)DISCARD(64, 128, BLKIF_DISCARD_SECURE).discard;
	s.discard.handle = 3;
	vha_blkif_copy_request(&s, &req);
	assert_int_equal(req.op, VHA_BLKIF_DISCARD);
	assert_int_equal(req.operation, BLKIF_OP_DISCARD);
	assert_true(req.secure);
	assert_int_equal(req.sector, 64);
	assert_int_equal(req.nr_sectors, 128);
	assert_int_equal(req.nr_segments, 0);
	assert_int_equal(req.handle, 3);

	memset(&s, 0, sizeof(s));
	s.indirect = (union slot)IND(BLKIF_OP_WRITE, 1000, 99).indirect;
	s.indirect.handle = 9;
	for (int i = 0; i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
		s.indirect.indirect_grefs[i] = 500 + i;
	vha_blkif_copy_request(&s, &req);
	assert_true(req.indirect);
	assert_int_equal(req.op, VHA_BLKIF_WRITE);
	/* The response echoes indirect_op, as blkback does and blkfront checks. */
	assert_int_equal(req.operation, BLKIF_OP_WRITE);
	assert_int_equal(req.nr_segments, 1000);
	assert_int_equal(req.nr_indirect_pages, 2);
	assert_int_equal(req.sector, 99);
	assert_int_equal(req.handle, 9);
	assert_int_equal(req.indirect_grefs[7], 507);

	/* A 16-bit count decodes to at most 8 pages even before validation. */
	s.indirect.nr_segments = 65535;
	vha_blkif_copy_request(&s, &req);
	assert_int_equal(req.nr_indirect_pages, BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST);

	memset(&s, 0, sizeof(s));
	s.rw.operation = 77;
	s.rw.id = 5;
	vha_blkif_copy_request(&s, &req);
	assert_int_equal(req.op, VHA_BLKIF_UNKNOWN);
	assert_int_equal(req.operation, 77);
	assert_int_equal(req.id, 5);
}

/* An indirect request decodes into the same form as the direct one. */
static void test_indirect_same_form(void **state)
{
	struct vha_blkif_limits lim = LIM();
	union slot d, i;
	struct vha_blkif_req dreq, ireq;
	struct blkif_request_segment *page = aligned_alloc(4096, 4096);
	const void *pages[1] = { page };

	assert_non_null(page);
	memset(page, 0, 4096);
	memset(&d, 0, sizeof(d));
	d.rw = (union slot)RW(BLKIF_OP_READ, 11, 800, FULL11).rw;
	for (int k = 0; k < 11; k++) {
		d.rw.seg[k].gref = 300 + k;
		d.rw.seg[k].first_sect = k % 4;
		d.rw.seg[k].last_sect = 4 + k % 4;
		page[k] = d.rw.seg[k];
	}
	memset(&i, 0, sizeof(i));
	i.indirect = (union slot)IND(BLKIF_OP_READ, 11, 800).indirect;

	vha_blkif_copy_request(&d, &dreq);
	vha_blkif_copy_request(&i, &ireq);
	assert_int_equal(vha_blkif_validate(&lim, &dreq), VHA_BLKIF_OK);
	assert_int_equal(vha_blkif_check_header(&lim, &ireq), VHA_BLKIF_OK);
	vha_blkif_load_indirect(&ireq, pages);
	assert_int_equal(vha_blkif_check_segments(&lim, &ireq), VHA_BLKIF_OK);

	assert_int_equal(dreq.op, ireq.op);
	assert_int_equal(dreq.operation, ireq.operation);
	assert_int_equal(dreq.sector, ireq.sector);
	assert_int_equal(dreq.nr_segments, ireq.nr_segments);
	assert_int_equal(dreq.nr_sectors, ireq.nr_sectors);
	for (int k = 0; k < 11; k++) {
		assert_int_equal(dreq.seg[k].gref, ireq.seg[k].gref);
		assert_int_equal(dreq.seg[k].first_sect, ireq.seg[k].first_sect);
		assert_int_equal(dreq.seg[k].last_sect, ireq.seg[k].last_sect);
	}
	free(page);
}

/* load_indirect reads exactly nr_segments descriptors: the last one ends the page. */
static void test_load_indirect_bounds(void **state)
{
	struct vha_blkif_req *req = calloc(1, sizeof(*req));
	struct blkif_request_segment *page = aligned_alloc(4096, 4096);
	const void *pages[1] = { page };

	assert_non_null(req);
	assert_non_null(page);
	for (unsigned int k = 0; k < 512; k++)
		page[k] = (struct blkif_request_segment){ .gref = k, .first_sect = 0, .last_sect = 7 };
	req->indirect = true;
	req->op = VHA_BLKIF_READ;
	req->nr_segments = 512;
	vha_blkif_load_indirect(req, pages);
	assert_int_equal(req->seg[511].gref, 511);
	assert_int_equal(req->seg[0].gref, 0);

	/* An unvalidated count must not overrun seg[] or the page. */
	req->nr_segments = 60000;
	vha_blkif_load_indirect(req, (const void *const[]){ page, page, page, page, page, page, page, page });
	assert_int_equal(req->seg[511].gref, 511);
	free(page);
	free(req);
}

/*
 * XSA-155: a guest rewrites the slot while the backend parses it. With one
 * copy, every accepted request is consistent whatever the timing; a double
 * fetch would accept a count or range it never checked.
 */
struct flipper {
	volatile struct blkif_request *slot;
	atomic_bool stop;
};

static void *flip_slot(void *arg)
{
	struct flipper *fl = arg;
	unsigned int i = 0;

	while (!atomic_load_explicit(&fl->stop, memory_order_relaxed)) {
		bool bad = i++ & 1;

		fl->slot->nr_segments = bad ? 200 : 1;
		fl->slot->seg[0].last_sect = bad ? 255 : 7;
		fl->slot->sector_number = bad ? UINT64_MAX - 3 : DISK - 8;
		fl->slot->operation = bad ? BLKIF_OP_WRITE : BLKIF_OP_READ;
	}
	return NULL;
}

static void test_concurrent_flips(void **state)
{
	struct vha_blkif_limits lim = LIM(.readonly = true);
	struct blkif_request *slot = calloc(1, sizeof(*slot));
	struct vha_blkif_req *req = malloc(sizeof(*req));
	struct flipper fl = { .slot = slot };
	unsigned int accepted = 0, rejected = 0;
	pthread_t t;

	assert_non_null(slot);
	assert_non_null(req);
	slot->nr_segments = 1;
	slot->seg[0].last_sect = 7;
	slot->sector_number = DISK - 8;
	atomic_init(&fl.stop, false);
	assert_int_equal(pthread_create(&t, NULL, flip_slot, &fl), 0);
	for (int i = 0; i < 200000; i++) {
		vha_blkif_copy_request(slot, req);
		if (vha_blkif_validate(&lim, req) != VHA_BLKIF_OK) {
			rejected++;
			continue;
		}
		accepted++;
		assert_int_equal(req->op, VHA_BLKIF_READ);
		assert_true(req->nr_segments >= 1 && req->nr_segments <= 11);
		assert_true(req->seg[0].last_sect <= 7);
		assert_true(req->sector + req->nr_sectors <= DISK && req->sector <= DISK);
	}
	atomic_store(&fl.stop, true);
	assert_int_equal(pthread_join(t, NULL), 0);
	print_message("%u accepted, %u rejected while the slot changed\n", accepted, rejected);
	free(req);
	free(slot);
}

static void test_protocol(void **state)
{
	assert_true(vha_blkif_protocol_supported(NULL));
	assert_true(vha_blkif_protocol_supported(""));
	assert_true(vha_blkif_protocol_supported("x86_64-abi"));
	assert_false(vha_blkif_protocol_supported("x86_32-abi"));
	assert_false(vha_blkif_protocol_supported("arm-abi"));
	assert_false(vha_blkif_protocol_supported("x86_64-abi "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_status_table),
		cmocka_unit_test(test_decode_fields),
		cmocka_unit_test(test_indirect_same_form),
		cmocka_unit_test(test_load_indirect_bounds),
		cmocka_unit_test(test_concurrent_flips),
		cmocka_unit_test(test_protocol),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
