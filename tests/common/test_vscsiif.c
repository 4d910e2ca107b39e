// SPDX-License-Identifier: MIT
/*
 * vscsiif requests: copy-once decoding, one case per rejection reason (and
 * the valid edge cases beside it), the sg-grant tables. Responses and the
 * ring: test_vscsiif_ring.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vscsiif_test.h"

static enum vha_vscsiif_reject validate_slot(const struct vscsiif_request *slot, struct vha_vscsiif_limits lim)
{
	struct vha_vscsiif_req *req = req_alloc();
	enum vha_vscsiif_reject r;

	vha_vscsiif_copy_request(slot, req);
	r = vha_vscsiif_validate(&lim, req);
	free(req);
	return r;
}

/* ------------------------------ decoding ------------------------------ */

static void test_copy_decodes(void **state)
{
	struct vscsiif_request s = read10();
	struct vha_vscsiif_req *req = req_alloc();

	s.timeout_per_command = 30;
	s.channel = 1;
	s.id = 2;
	s.lun = 5;
	s.cmnd[12] = 0xee;      /* past cmd_len: must not reach the copy */
	vha_vscsiif_copy_request(&s, req);
	assert_int_equal(req->rqid, 3);
	assert_int_equal(req->act, VSCSIIF_ACT_SCSI_CDB);
	assert_int_equal(req->cmd_len, 10);
	assert_int_equal(req->cdb[0], 0x28);
	assert_int_equal(req->cdb[8], 8);
	assert_int_equal(req->cdb[12], 0);
	assert_int_equal(req->timeout, 30);
	assert_int_equal(req->channel, 1);
	assert_int_equal(req->id, 2);
	assert_int_equal(req->lun, 5);
	assert_false(req->sg_grant);
	assert_int_equal(req->nr_ring_segs, 1);
	assert_int_equal(req->nr_segments, 1);
	assert_int_equal(req->seg[0].gref, 77);
	assert_int_equal(req->seg[0].length, 4096);
	assert_int_equal(vha_vscsiif_validate(&LIM(), req), VHA_VSCSIIF_OK);
	assert_int_equal(req->data_len, 4096);
	assert_false(vha_vscsiif_data_readonly(req));
	free(req);
}

/* The copy is private: changing the slot afterwards changes nothing. */
static void test_copy_is_private(void **state)
{
	struct vscsiif_request s = read10();
	struct vha_vscsiif_req *req = req_alloc();

	vha_vscsiif_copy_request(&s, req);
	s.nr_segments = 200;
	s.cmd_len = 200;
	s.seg[0].length = 65535;
	assert_int_equal(vha_vscsiif_validate(&LIM(), req), VHA_VSCSIIF_OK);
	assert_int_equal(req->data_len, 4096);
	free(req);
}

/* nr_segments 255 without the flag: 26 segments copied, the count kept for the check. */
static void test_copy_bounds_segments(void **state)
{
	struct vscsiif_request s = read10();
	struct vha_vscsiif_req *req = req_alloc();

	s.nr_segments = 0x7f;
	vha_vscsiif_copy_request(&s, req);
	assert_int_equal(req->nr_ring_segs, 0x7f);
	assert_int_equal(req->nr_loaded, VSCSIIF_SG_TABLESIZE);
	assert_int_equal(vha_vscsiif_check_header(&LIM(), req), VHA_VSCSIIF_REJECT_TOO_MANY_SEGMENTS);
	free(req);
}

/* ---------------------------- every reason ---------------------------- */

struct vcase {
	const char *name;
	void (*edit)(struct vscsiif_request *r);
	struct vha_vscsiif_limits lim;
	enum vha_vscsiif_reject want;
};

static void e_none(struct vscsiif_request *r) { (void)r; }
static void e_act0(struct vscsiif_request *r) { r->act = 0; }
static void e_act_preset(struct vscsiif_request *r) { r->act = VSCSIIF_ACT_SCSI_SG_PRESET; }
static void e_act200(struct vscsiif_request *r) { r->act = 200; }
static void e_rqid16(struct vscsiif_request *r) { r->rqid = 16; }
static void e_rqid15(struct vscsiif_request *r) { r->rqid = 15; }
static void e_rqid_max(struct vscsiif_request *r) { r->rqid = 0xffff; }
static void e_abort_ok(struct vscsiif_request *r) { r->act = VSCSIIF_ACT_SCSI_ABORT; r->ref_rqid = 4; }
static void e_abort_ref16(struct vscsiif_request *r) { r->act = VSCSIIF_ACT_SCSI_ABORT; r->ref_rqid = 16; }
static void e_abort_self(struct vscsiif_request *r) { r->act = VSCSIIF_ACT_SCSI_ABORT; r->ref_rqid = r->rqid; }
static void e_abort_bad_rqid(struct vscsiif_request *r) { e_abort_ok(r); r->rqid = 99; }
/* Linux scsifront fills a task request's other fields from the aborted command. */
static void e_abort_junk(struct vscsiif_request *r)
{
	e_abort_ok(r);
	r->cmd_len = 200;
	r->sc_data_direction = 77;
	r->nr_segments = 0xff;
}
static void e_reset(struct vscsiif_request *r) { r->act = VSCSIIF_ACT_SCSI_RESET; r->cmd_len = 0; r->nr_segments = 40; }
static void e_reset_bad_rqid(struct vscsiif_request *r) { e_reset(r); r->rqid = 16; }
static void e_cmd_len0(struct vscsiif_request *r) { r->cmd_len = 0; }
static void e_cmd_len17(struct vscsiif_request *r) { r->cmd_len = 17; }
static void e_cmd_len16(struct vscsiif_request *r) { r->cmd_len = 16; }
static void e_cmd_len255(struct vscsiif_request *r) { r->cmd_len = 255; }
static void e_dir4(struct vscsiif_request *r) { r->sc_data_direction = 4; }
static void e_dir255(struct vscsiif_request *r) { r->sc_data_direction = 255; }
static void e_bidi(struct vscsiif_request *r) { r->sc_data_direction = VHA_VSCSIIF_DMA_BIDIRECTIONAL; }
static void e_write(struct vscsiif_request *r) { r->cmnd[0] = 0x2a; r->sc_data_direction = VHA_VSCSIIF_DMA_TO_DEVICE; }
static void e_none_dir_data(struct vscsiif_request *r) { r->sc_data_direction = VHA_VSCSIIF_DMA_NONE; }
static void e_tur(struct vscsiif_request *r)
{
	r->cmd_len = 6;
	memset(r->cmnd, 0, sizeof(r->cmnd));
	r->sc_data_direction = VHA_VSCSIIF_DMA_NONE;
	r->nr_segments = 0;
}
static void e_read_no_data(struct vscsiif_request *r) { r->nr_segments = 0; }
static void e_write_no_data(struct vscsiif_request *r) { e_write(r); r->nr_segments = 0; }
static void fill_direct(struct vscsiif_request *r, unsigned int n)
{
	for (unsigned int i = 0; i < n && i < VSCSIIF_SG_TABLESIZE; i++) {
		r->seg[i].gref = 100 + i;
		r->seg[i].offset = 0;
		r->seg[i].length = 4096;
	}
	r->nr_segments = (uint8_t)n;
}
static void e_direct26(struct vscsiif_request *r) { fill_direct(r, 26); }
static void e_direct27(struct vscsiif_request *r) { fill_direct(r, 27); }
static void e_direct127(struct vscsiif_request *r) { fill_direct(r, 127); }
static void e_seg_len0(struct vscsiif_request *r) { fill_direct(r, 3); r->seg[2].length = 0; }
static void e_seg_past_page(struct vscsiif_request *r) { fill_direct(r, 2); r->seg[1].offset = 512; }
static void e_seg_offset_max(struct vscsiif_request *r) { fill_direct(r, 1); r->seg[0].offset = 4095; r->seg[0].length = 1; }
static void e_seg_offset_big(struct vscsiif_request *r) { fill_direct(r, 1); r->seg[0].offset = 65535; r->seg[0].length = 1; }
static void e_seg_len_big(struct vscsiif_request *r) { fill_direct(r, 1); r->seg[0].length = 4097; }
static void e_seg_small(struct vscsiif_request *r) { fill_direct(r, 1); r->seg[0].offset = 512; r->seg[0].length = 512; }
static void e_8k(struct vscsiif_request *r) { fill_direct(r, 2); }
static void e_sg(struct vscsiif_request *r)
{
	r->nr_segments = VSCSIIF_SG_GRANT | 1;
	r->seg[0].gref = 500;
	r->seg[0].offset = 0;
	r->seg[0].length = 4 * sizeof(struct scsiif_request_segment);
}
static void e_sg_zero_pages(struct vscsiif_request *r) { e_sg(r); r->nr_segments = VSCSIIF_SG_GRANT; }
static void e_sg_27_pages(struct vscsiif_request *r) { e_sg(r); r->nr_segments = VSCSIIF_SG_GRANT | 27; }
static void e_sg_127_pages(struct vscsiif_request *r) { e_sg(r); r->nr_segments = 0xff; }
static void e_sg_table_len0(struct vscsiif_request *r) { e_sg(r); r->seg[0].length = 0; }
static void e_sg_table_ragged(struct vscsiif_request *r) { e_sg(r); r->seg[0].length = 12; }
static void e_sg_table_past_page(struct vscsiif_request *r) { e_sg(r); r->seg[0].offset = 4092; }
static void e_sg_table_offset_big(struct vscsiif_request *r) { e_sg(r); r->seg[0].offset = 0xfff8; r->seg[0].length = 8; }
static void e_sg_too_many(struct vscsiif_request *r)
{
	/* 513 descriptors against an offer of 128. */
	e_sg(r);
	r->nr_segments = VSCSIIF_SG_GRANT | 2;
	r->seg[0].length = 4096;                /* 512 */
	r->seg[1].gref = 501;
	r->seg[1].length = 8;
}
static void e_sg_none_dir(struct vscsiif_request *r) { e_sg(r); r->sc_data_direction = VHA_VSCSIIF_DMA_NONE; }

static const struct vcase cases[] = {
	{ "valid read", e_none, LIM(), VHA_VSCSIIF_OK },
	/* act */
	{ "act 0", e_act0, LIM(), VHA_VSCSIIF_REJECT_UNKNOWN_ACT },
	{ "act SG_PRESET", e_act_preset, LIM(), VHA_VSCSIIF_REJECT_UNKNOWN_ACT },
	{ "act 200", e_act200, LIM(), VHA_VSCSIIF_REJECT_UNKNOWN_ACT },
	/* rqid */
	{ "rqid 16 of 16", e_rqid16, LIM(), VHA_VSCSIIF_REJECT_BAD_RQID },
	{ "rqid 15 of 16", e_rqid15, LIM(), VHA_VSCSIIF_OK },
	{ "rqid 0xffff unchecked", e_rqid_max, LIM(.nr_rqids = 0), VHA_VSCSIIF_OK },
	{ "rqid 0xffff", e_rqid_max, LIM(), VHA_VSCSIIF_REJECT_BAD_RQID },
	/* task management */
	{ "abort", e_abort_ok, LIM(), VHA_VSCSIIF_OK },
	{ "abort ref 16", e_abort_ref16, LIM(), VHA_VSCSIIF_REJECT_BAD_REF_RQID },
	{ "abort itself", e_abort_self, LIM(), VHA_VSCSIIF_REJECT_BAD_REF_RQID },
	{ "abort bad rqid", e_abort_bad_rqid, LIM(), VHA_VSCSIIF_REJECT_BAD_RQID },
	{ "abort with junk fields", e_abort_junk, LIM(), VHA_VSCSIIF_OK },
	{ "reset", e_reset, LIM(), VHA_VSCSIIF_OK },
	{ "reset bad rqid", e_reset_bad_rqid, LIM(), VHA_VSCSIIF_REJECT_BAD_RQID },
	/* cmd_len */
	{ "cmd_len 0", e_cmd_len0, LIM(), VHA_VSCSIIF_REJECT_BAD_CMD_LEN },
	{ "cmd_len 17", e_cmd_len17, LIM(), VHA_VSCSIIF_REJECT_BAD_CMD_LEN },
	{ "cmd_len 255", e_cmd_len255, LIM(), VHA_VSCSIIF_REJECT_BAD_CMD_LEN },
	{ "cmd_len 16", e_cmd_len16, LIM(), VHA_VSCSIIF_OK },
	/* direction */
	{ "direction 4", e_dir4, LIM(), VHA_VSCSIIF_REJECT_BAD_DIRECTION },
	{ "direction 255", e_dir255, LIM(), VHA_VSCSIIF_REJECT_BAD_DIRECTION },
	{ "bidirectional not offered", e_bidi, LIM(), VHA_VSCSIIF_REJECT_BIDIRECTIONAL },
	{ "bidirectional offered", e_bidi, LIM(.bidirectional = true), VHA_VSCSIIF_OK },
	{ "write", e_write, LIM(), VHA_VSCSIIF_OK },
	{ "DMA_NONE with data", e_none_dir_data, LIM(), VHA_VSCSIIF_REJECT_DIRECTION_MISMATCH },
	{ "read without data", e_read_no_data, LIM(), VHA_VSCSIIF_REJECT_DIRECTION_MISMATCH },
	{ "write without data", e_write_no_data, LIM(), VHA_VSCSIIF_REJECT_DIRECTION_MISMATCH },
	{ "test unit ready", e_tur, LIM(), VHA_VSCSIIF_OK },
	/* direct segments */
	{ "26 direct segments", e_direct26, LIM(), VHA_VSCSIIF_OK },
	{ "27 direct segments", e_direct27, LIM(), VHA_VSCSIIF_REJECT_TOO_MANY_SEGMENTS },
	{ "127 direct segments", e_direct127, LIM(), VHA_VSCSIIF_REJECT_TOO_MANY_SEGMENTS },
	{ "27 direct with sg-grant offered", e_direct27, LIM(.max_sg_segments = 1024), VHA_VSCSIIF_REJECT_TOO_MANY_SEGMENTS },
	{ "segment length 0", e_seg_len0, LIM(), VHA_VSCSIIF_REJECT_BAD_SEGMENT },
	{ "segment past its page", e_seg_past_page, LIM(), VHA_VSCSIIF_REJECT_BAD_SEGMENT },
	{ "segment last byte of page", e_seg_offset_max, LIM(), VHA_VSCSIIF_OK },
	{ "segment offset 65535", e_seg_offset_big, LIM(), VHA_VSCSIIF_REJECT_BAD_SEGMENT },
	{ "segment length 4097", e_seg_len_big, LIM(), VHA_VSCSIIF_REJECT_BAD_SEGMENT },
	{ "segment inside page", e_seg_small, LIM(), VHA_VSCSIIF_OK },
	/* total length */
	{ "8 KiB under a 4 KiB cap", e_8k, LIM(.max_data_bytes = 4096), VHA_VSCSIIF_REJECT_TOO_LONG },
	{ "8 KiB at an 8 KiB cap", e_8k, LIM(.max_data_bytes = 8192), VHA_VSCSIIF_OK },
	/* sg-grant header (tables checked before anything is mapped) */
	{ "sg-grant not offered", e_sg, LIM(.max_sg_segments = 0), VHA_VSCSIIF_REJECT_SG_GRANT_NOT_OFFERED },
	{ "sg-grant 0 pages", e_sg_zero_pages, LIM(), VHA_VSCSIIF_REJECT_BAD_SG_PAGES },
	{ "sg-grant 27 pages", e_sg_27_pages, LIM(), VHA_VSCSIIF_REJECT_BAD_SG_PAGES },
	{ "sg-grant 127 pages", e_sg_127_pages, LIM(), VHA_VSCSIIF_REJECT_BAD_SG_PAGES },
	{ "sg-grant table length 0", e_sg_table_len0, LIM(), VHA_VSCSIIF_REJECT_BAD_SG_TABLE },
	{ "sg-grant table 12 bytes", e_sg_table_ragged, LIM(), VHA_VSCSIIF_REJECT_BAD_SG_TABLE },
	{ "sg-grant table past page", e_sg_table_past_page, LIM(), VHA_VSCSIIF_REJECT_BAD_SG_TABLE },
	{ "sg-grant table offset 0xfff8", e_sg_table_offset_big, LIM(), VHA_VSCSIIF_REJECT_BAD_SG_TABLE },
	{ "sg-grant 513 of 128", e_sg_too_many, LIM(), VHA_VSCSIIF_REJECT_TOO_MANY_SEGMENTS },
	{ "sg-grant DMA_NONE", e_sg_none_dir, LIM(), VHA_VSCSIIF_REJECT_DIRECTION_MISMATCH },
};

static void test_cases(void **state)
{
	bool seen[VHA_VSCSIIF_REJECT_COUNT] = { false };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vscsiif_request s = read10();
		struct vha_vscsiif_req *req = req_alloc();
		enum vha_vscsiif_reject got;

		cases[i].edit(&s);
		vha_vscsiif_copy_request(&s, req);
		got = vha_vscsiif_check_header(&cases[i].lim, req);
		/* sg-grant requests stop after the header here: nothing is mapped. */
		if (got == VHA_VSCSIIF_OK && !req->sg_grant)
			got = vha_vscsiif_check_segments(&cases[i].lim, req);
		if (got != cases[i].want)
			fail_msg("case \"%s\": got %s, want %s", cases[i].name, vha_vscsiif_reject_name(got),
				 vha_vscsiif_reject_name(cases[i].want));
		/* The one-call form agrees for direct requests. */
		if (!req->sg_grant)
			assert_int_equal(validate_slot(&s, cases[i].lim), cases[i].want);
		seen[got] = true;
		free(req);
	}
	/* Every reason has a case (OK included). */
	for (unsigned int r = 0; r < VHA_VSCSIIF_REJECT_COUNT; r++)
		if (!seen[r])
			fail_msg("no case for %s", vha_vscsiif_reject_name(r));
}

static void test_reject_names(void **state)
{
	for (unsigned int r = 0; r < VHA_VSCSIIF_REJECT_COUNT; r++) {
		const char *n = vha_vscsiif_reject_name(r);

		assert_non_null(n);
		assert_string_not_equal(n, "invalid");
		for (unsigned int q = 0; q < r; q++)
			assert_string_not_equal(n, vha_vscsiif_reject_name(q));
	}
	assert_string_equal(vha_vscsiif_reject_name(VHA_VSCSIIF_REJECT_COUNT), "invalid");
	assert_string_equal(vha_vscsiif_reject_name((enum vha_vscsiif_reject)-1), "invalid");
}

static void test_reject_rslt(void **state)
{
	int32_t rslt;

	assert_int_equal(vha_vscsiif_reject_rslt(VHA_VSCSIIF_OK, VSCSIIF_ACT_SCSI_CDB), 0);
	rslt = vha_vscsiif_reject_rslt(VHA_VSCSIIF_REJECT_BAD_SEGMENT, VSCSIIF_ACT_SCSI_CDB);
	assert_int_equal(XEN_VSCSIIF_RSLT_HOST(rslt), XEN_VSCSIIF_RSLT_HOST_ERROR);
	assert_int_equal(XEN_VSCSIIF_RSLT_STATUS(rslt), VHA_SCSI_STATUS_GOOD);
	assert_int_equal(vha_vscsiif_reject_rslt(VHA_VSCSIIF_REJECT_UNKNOWN_ACT, 77), 0x070000);
	assert_int_equal(vha_vscsiif_reject_rslt(VHA_VSCSIIF_REJECT_BAD_REF_RQID, VSCSIIF_ACT_SCSI_ABORT), 0x2003);
	assert_int_equal(vha_vscsiif_reject_rslt(VHA_VSCSIIF_REJECT_BAD_RQID, VSCSIIF_ACT_SCSI_RESET), 0x2003);
}

/* ------------------------------ sg-grant ------------------------------ */

/* Fill a table page with n descriptors of 4 KiB (gref 1000 + i) starting at byte `at`. */
static void fill_table(unsigned char *page, unsigned int at, unsigned int n, unsigned int first)
{
	for (unsigned int i = 0; i < n; i++) {
		struct scsiif_request_segment d = { .gref = 1000 + first + i, .offset = 0, .length = 4096 };

		memcpy(page + at + i * sizeof(d), &d, sizeof(d));
	}
}

static void test_sg_describe(void **state)
{
	struct vscsiif_request s = read10();
	struct vha_vscsiif_req *req = req_alloc();
	struct vha_vscsiif_sg_desc d;

	/* 26 pages of 512: more than any offer we can hold. */
	s.nr_segments = VSCSIIF_SG_GRANT | 26;
	for (unsigned int i = 0; i < 26; i++) {
		s.seg[i].gref = 200 + i;
		s.seg[i].offset = 0;
		s.seg[i].length = 4096;
	}
	vha_vscsiif_copy_request(&s, req);
	assert_true(req->sg_grant);
	assert_int_equal(req->nr_ring_segs, 26);
	assert_int_equal(vha_vscsiif_sg_describe(req, 65535, &d), VHA_VSCSIIF_REJECT_TOO_MANY_SEGMENTS);
	assert_int_equal(d.nr_pages, 0);

	/* Two pages, 512 + 100 descriptors, bounded by the caller's max. */
	s.nr_segments = VSCSIIF_SG_GRANT | 2;
	s.seg[1].offset = 800;
	s.seg[1].length = 100 * 8;
	vha_vscsiif_copy_request(&s, req);
	assert_int_equal(vha_vscsiif_sg_describe(req, 612, &d), VHA_VSCSIIF_OK);
	assert_int_equal(d.nr_pages, 2);
	assert_int_equal(d.nr_segments, 612);
	assert_int_equal(vha_vscsiif_sg_describe(req, 611, &d), VHA_VSCSIIF_REJECT_TOO_MANY_SEGMENTS);

	/* A direct request describes no pages. */
	s = read10();
	vha_vscsiif_copy_request(&s, req);
	assert_int_equal(vha_vscsiif_sg_describe(req, 0, &d), VHA_VSCSIIF_OK);
	assert_int_equal(d.nr_pages, 0);
	assert_int_equal(d.nr_segments, 1);
	free(req);
}

static void test_sg_load(void **state)
{
	static unsigned char pages[2][4096] __attribute__((aligned(4096)));
	const void *ptrs[2] = { pages[0], pages[1] };
	struct vscsiif_request s = read10();
	struct vha_vscsiif_req *req = req_alloc();
	struct vha_vscsiif_limits lim = LIM(.max_sg_segments = 1024);

	memset(pages, 0xcc, sizeof(pages));
	s.sc_data_direction = VHA_VSCSIIF_DMA_TO_DEVICE;
	s.nr_segments = VSCSIIF_SG_GRANT | 2;
	s.seg[0] = (struct scsiif_request_segment){ .gref = 500, .offset = 64, .length = 3 * 8 };
	s.seg[1] = (struct scsiif_request_segment){ .gref = 501, .offset = 0, .length = 4096 };
	fill_table(pages[0], 64, 3, 0);
	fill_table(pages[1], 0, 512, 3);
	vha_vscsiif_copy_request(&s, req);

	/* Not loaded yet: the second pass refuses rather than read stale descriptors. */
	assert_int_equal(vha_vscsiif_check_header(&lim, req), VHA_VSCSIIF_OK);
	assert_int_equal(req->nr_segments, 515);
	assert_int_equal(vha_vscsiif_check_segments(&lim, req), VHA_VSCSIIF_REJECT_BAD_SG_TABLE);

	vha_vscsiif_load_sg(req, ptrs);
	/* The pages change after the load: the copy does not. */
	memset(pages, 0, sizeof(pages));
	assert_int_equal(req->nr_loaded, 515);
	assert_int_equal(vha_vscsiif_check_segments(&lim, req), VHA_VSCSIIF_OK);
	assert_int_equal(req->data_len, 515u * 4096u);
	for (unsigned int i = 0; i < 515; i++)
		assert_int_equal(req->seg[i].gref, 1000 + i);
	assert_true(vha_vscsiif_data_readonly(req));

	/* A bad descriptor inside a table is a bad segment. */
	fill_table(pages[0], 64, 3, 0);
	fill_table(pages[1], 0, 512, 3);
	((struct scsiif_request_segment *)pages[1])[77].offset = 4000;
	vha_vscsiif_copy_request(&s, req);
	assert_int_equal(vha_vscsiif_check_header(&lim, req), VHA_VSCSIIF_OK);
	vha_vscsiif_load_sg(req, ptrs);
	assert_int_equal(vha_vscsiif_check_segments(&lim, req), VHA_VSCSIIF_REJECT_BAD_SEGMENT);

	/* The total is checked against max_data_bytes. */
	((struct scsiif_request_segment *)pages[1])[77].offset = 0;
	lim.max_data_bytes = 1024 * 1024;
	vha_vscsiif_copy_request(&s, req);
	assert_int_equal(vha_vscsiif_check_header(&lim, req), VHA_VSCSIIF_OK);
	vha_vscsiif_load_sg(req, ptrs);
	assert_int_equal(vha_vscsiif_check_segments(&lim, req), VHA_VSCSIIF_REJECT_TOO_LONG);
	free(req);
}

/* load_sg stays inside each page and inside seg[] even on an unchecked copy. */
static void test_sg_load_unchecked(void **state)
{
	static unsigned char page[4096] __attribute__((aligned(4096)));
	const void *ptrs[VSCSIIF_SG_TABLESIZE];
	struct vscsiif_request s = read10();
	struct vha_vscsiif_req *req = req_alloc();

	for (unsigned int i = 0; i < VSCSIIF_SG_TABLESIZE; i++)
		ptrs[i] = page;
	fill_table(page, 0, 512, 0);
	s.nr_segments = 0xff;
	for (unsigned int i = 0; i < VSCSIIF_SG_TABLESIZE; i++)
		s.seg[i] = (struct scsiif_request_segment){ .gref = 1, .offset = 4088, .length = 0xfff8 };
	vha_vscsiif_copy_request(&s, req);
	req->nr_segments = 100000;      /* as if a bug skipped check_header */
	vha_vscsiif_load_sg(req, ptrs);
	assert_true(req->nr_loaded <= VHA_VSCSIIF_MAX_SEGMENTS);
	assert_int_equal(req->nr_loaded, VSCSIIF_SG_TABLESIZE); /* one descriptor fits after 4088 */
	assert_int_not_equal(vha_vscsiif_check_segments(&LIM(), req), VHA_VSCSIIF_OK);
	free(req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_decodes),
		cmocka_unit_test(test_copy_is_private),
		cmocka_unit_test(test_copy_bounds_segments),
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_reject_names),
		cmocka_unit_test(test_reject_rslt),
		cmocka_unit_test(test_sg_describe),
		cmocka_unit_test(test_sg_load),
		cmocka_unit_test(test_sg_load_unchecked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
