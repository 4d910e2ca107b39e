// SPDX-License-Identifier: MIT
/*
 * vscsiif protocol layer: one case per rejection reason (and the valid
 * edge cases beside it), the sg-grant tables, copy-once decoding, rslt and
 * sense encoding, residuals, zeroed responses, and the ring helpers
 * (req_prod overflow, index wraparound, notification).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vha/vscsiif.h"

/* Later designated initialisers override the defaults in LIM(). */
#pragma GCC diagnostic ignored "-Woverride-init"

#define LIM(...) \
	((struct vha_vscsiif_limits){ .max_sg_segments = 128, .max_data_bytes = 0, .nr_rqids = 16, \
				      .bidirectional = false, __VA_ARGS__ })

/* A READ(10) of one 4 KiB page: the common valid request. */
static struct vscsiif_request read10(void)
{
	struct vscsiif_request r;

	memset(&r, 0, sizeof(r));
	r.rqid = 3;
	r.act = VSCSIIF_ACT_SCSI_CDB;
	r.cmd_len = 10;
	r.cmnd[0] = 0x28;
	r.cmnd[8] = 8;
	r.sc_data_direction = VHA_VSCSIIF_DMA_FROM_DEVICE;
	r.nr_segments = 1;
	r.seg[0].gref = 77;
	r.seg[0].offset = 0;
	r.seg[0].length = 4096;
	return r;
}

static struct vha_vscsiif_req *req_alloc(void)
{
	struct vha_vscsiif_req *req = malloc(sizeof(*req));

	assert_non_null(req);
	/* Garbage, so a field the copy forgets to set shows. */
	memset(req, 0xa5, sizeof(*req));
	return req;
}

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

/* ------------------------------ encodings ----------------------------- */

static void test_rslt(void **state)
{
	int32_t r = vha_vscsiif_rslt(XEN_VSCSIIF_RSLT_HOST_OK, VHA_SCSI_STATUS_CHECK_CONDITION);

	assert_int_equal(r, 0x02);
	r = vha_vscsiif_rslt(XEN_VSCSIIF_RSLT_HOST_RESET, VHA_SCSI_STATUS_GOOD);
	assert_int_equal(r, 0x080000);
	assert_int_equal(XEN_VSCSIIF_RSLT_HOST(r), XEN_VSCSIIF_RSLT_HOST_RESET);
	r = vha_vscsiif_rslt(XEN_VSCSIIF_RSLT_HOST_NO_CONNECT, VHA_SCSI_STATUS_BUSY);
	assert_int_equal(XEN_VSCSIIF_RSLT_HOST(r), XEN_VSCSIIF_RSLT_HOST_NO_CONNECT);
	assert_int_equal(XEN_VSCSIIF_RSLT_STATUS(r), VHA_SCSI_STATUS_BUSY);
	r = vha_vscsiif_rslt(0xff, 0xff);
	assert_int_equal(r, 0x00ff00ff);
	assert_int_equal(vha_vscsiif_rslt_task(true), 0x2002);
	assert_int_equal(vha_vscsiif_rslt_task(false), 0x2003);
}

static void test_sense_fixed(void **state)
{
	uint8_t s[VHA_VSCSIIF_SENSE_FIXED_LEN];
	static const uint8_t want[18] = { 0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0x00, 0, 0, 0, 0 };

	memset(s, 0xff, sizeof(s));
	assert_int_equal(vha_vscsiif_sense_fixed(s, VHA_SCSI_SENSE_ILLEGAL_REQUEST, 0x20, 0x00), 18);
	assert_memory_equal(s, want, sizeof(want));
	assert_int_equal(vha_vscsiif_sense_len(s, sizeof(s)), 18);

	/* LBA OUT OF RANGE with the LBA in INFORMATION, VALID set. */
	vha_vscsiif_sense_fixed(s, VHA_SCSI_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	vha_vscsiif_sense_set_info(s, 0x12345678);
	assert_int_equal(s[0], 0xf0);
	assert_int_equal(s[3], 0x12);
	assert_int_equal(s[6], 0x78);
	assert_int_equal(s[12], 0x21);

	/* INVALID FIELD IN CDB, byte 1 bit 3. */
	vha_vscsiif_sense_fixed(s, VHA_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	vha_vscsiif_sense_set_field(s, true, 1, 3);
	assert_int_equal(s[15], 0x80 | 0x40 | 0x08 | 3);
	assert_int_equal(s[16], 0);
	assert_int_equal(s[17], 1);
	vha_vscsiif_sense_set_field(s, false, 0x1234, 8);
	assert_int_equal(s[15], 0x80);
	assert_int_equal(s[16], 0x12);
	assert_int_equal(s[17], 0x34);

	/* The key keeps 4 bits; UNIT ATTENTION / CAPACITY DATA HAS CHANGED. */
	vha_vscsiif_sense_fixed(s, 0xf6, 0x2a, 0x09);
	assert_int_equal(s[2], VHA_SCSI_SENSE_UNIT_ATTENTION);
	assert_int_equal(s[13], 0x09);
}

static void test_sense_len(void **state)
{
	uint8_t s[252];

	memset(s, 0, sizeof(s));
	assert_int_equal(vha_vscsiif_sense_len(NULL, 18), 0);
	assert_int_equal(vha_vscsiif_sense_len(s, sizeof(s)), 0);     /* response code 0 */
	s[0] = 0x70;
	assert_int_equal(vha_vscsiif_sense_len(s, 7), 0);
	s[7] = 10;
	assert_int_equal(vha_vscsiif_sense_len(s, 8), 8);              /* capped to what is there */
	assert_int_equal(vha_vscsiif_sense_len(s, 252), 18);
	s[0] = 0xf1;                                                   /* deferred, VALID */
	assert_int_equal(vha_vscsiif_sense_len(s, 252), 18);
	s[0] = 0x72;                                                   /* descriptor format */
	s[7] = 200;
	assert_int_equal(vha_vscsiif_sense_len(s, 252), 96);           /* capped to 96 */
	s[0] = 0x74;
	assert_int_equal(vha_vscsiif_sense_len(s, 252), 0);
}

static void test_residual(void **state)
{
	assert_int_equal(vha_vscsiif_residual(4096, 4096), 0);
	assert_int_equal(vha_vscsiif_residual(4096, 1024), 3072);
	assert_int_equal(vha_vscsiif_residual(4096, 0), 4096);
	assert_int_equal(vha_vscsiif_residual(4096, UINT64_MAX), 0);
	assert_int_equal(vha_vscsiif_residual(0, 0), 0);
	assert_int_equal(vha_vscsiif_residual_clamp(4096, 512), 512);
	assert_int_equal(vha_vscsiif_residual_clamp(4096, -5), 0);
	assert_int_equal(vha_vscsiif_residual_clamp(4096, 1 << 20), 4096);
	assert_int_equal(vha_vscsiif_residual_clamp(4096, INT64_MIN), 0);
}

static void test_encode_response(void **state)
{
	unsigned char out[sizeof(struct vscsiif_response)];
	uint8_t sense[200];
	struct vscsiif_response r;
	struct vha_vscsiif_rsp rsp = {
		.rqid = 9, .act = VSCSIIF_ACT_SCSI_CDB, .rslt = vha_vscsiif_rslt(0, VHA_SCSI_STATUS_CHECK_CONDITION),
		.residual = 512, .sense = sense, .sense_len = sizeof(sense),
	};

	memset(sense, 0x11, sizeof(sense));
	memset(out, 0xa5, sizeof(out));
	vha_vscsiif_encode_response(out, &rsp);
	memcpy(&r, out, sizeof(r));
	assert_int_equal(r.rqid, 9);
	assert_int_equal(r.act, VSCSIIF_ACT_SCSI_CDB);
	assert_int_equal(r.sense_len, 96);
	assert_int_equal(r.rslt, 2);
	assert_int_equal(r.residual_len, 512);
	for (unsigned int i = 0; i < 96; i++)
		assert_int_equal(r.sense_buffer[i], 0x11);
	for (unsigned int i = 0; i < 36; i++)
		assert_int_equal(r.reserved[i], 0);

	/* Short sense: the rest of the buffer is zero, not old bytes (XSA-216). */
	vha_vscsiif_sense_fixed(sense, VHA_SCSI_SENSE_NOT_READY, 0x04, 0x00);
	rsp.sense_len = 18;
	memset(out, 0xa5, sizeof(out));
	vha_vscsiif_encode_response(out, &rsp);
	assert_int_equal(out[offsetof(struct vscsiif_response, sense_len)], 18);
	assert_memory_equal(out + offsetof(struct vscsiif_response, sense_buffer), sense, 18);
	for (size_t i = offsetof(struct vscsiif_response, sense_buffer) + 18; i < offsetof(struct vscsiif_response, rslt); i++)
		assert_int_equal(out[i], 0);

	/* No sense pointer: sense_len 0 whatever the length says. */
	rsp.sense = NULL;
	rsp.sense_len = 50;
	vha_vscsiif_encode_response(out, &rsp);
	assert_int_equal(out[offsetof(struct vscsiif_response, sense_len)], 0);
}

/* -------------------------------- rings ------------------------------- */

static void *alloc_ring(void)
{
	/* Exactly one page: ASan flags any slot computed past it. */
	void *mem = aligned_alloc(4096, 4096);

	assert_non_null(mem);
	memset(mem, 0x5a, 4096);
	return mem;
}

static void ring_at(struct vha_vscsiif_front *f, struct vha_vscsiif_back *b, void *mem, RING_IDX start)
{
	vscsiif_sring_t *s = mem;

	vha_vscsiif_front_init(f, mem);
	vha_vscsiif_back_init(b, mem);
	s->req_prod = s->rsp_prod = start;
	s->req_event = s->rsp_event = start + 1;
	f->ring.req_prod_pvt = f->ring.rsp_cons = start;
	b->ring.rsp_prod_pvt = b->ring.req_cons = start;
}

static void test_ring_size(void **state)
{
	struct vha_vscsiif_front f;
	struct vha_vscsiif_back b;
	void *mem = alloc_ring();

	vha_vscsiif_front_init(&f, mem);
	vha_vscsiif_back_init(&b, mem);
	assert_int_equal(RING_SIZE(&b.ring), VHA_VSCSIIF_RING_SIZE);
	assert_int_equal(vha_vscsiif_front_free(&f), 16);
	assert_true(vha_vscsiif_protocol_supported(NULL));
	assert_true(vha_vscsiif_protocol_supported(""));
	assert_true(vha_vscsiif_protocol_supported("x86_64-abi"));
	assert_true(vha_vscsiif_protocol_supported("x86_32-abi"));
	assert_false(vha_vscsiif_protocol_supported("pdp11-abi"));
	free(mem);
}

/* Full round trips at start indexes just below the 32-bit wrap. */
static void round_trips(RING_IDX start)
{
	struct vha_vscsiif_front f;
	struct vha_vscsiif_back b;
	struct vha_vscsiif_req *req = req_alloc();
	void *mem = alloc_ring();
	uint16_t next = 0;

	ring_at(&f, &b, mem, start);
	for (unsigned int round = 0; round < 5; round++) {
		unsigned int n = 1 + round * 3;
		RING_IDX prod;

		if (n > 16)
			n = 16;
		for (unsigned int i = 0; i < n; i++) {
			struct vscsiif_request s = read10();

			s.rqid = (uint16_t)((next + i) % 16);
			vha_vscsiif_front_queue(&f, &s);
		}
		vha_vscsiif_front_push(&f);
		assert_int_equal(vha_vscsiif_back_snapshot(&b, &prod), (int)n);
		for (; b.ring.req_cons != prod; b.ring.req_cons++) {
			struct vha_vscsiif_rsp rsp = { 0 };

			vha_vscsiif_copy_request(vha_vscsiif_back_slot(&b, b.ring.req_cons), req);
			assert_int_equal(vha_vscsiif_validate(&LIM(), req), VHA_VSCSIIF_OK);
			rsp.rqid = req->rqid;
			rsp.rslt = vha_vscsiif_rslt(0, 0);
			rsp.residual = vha_vscsiif_residual(req->data_len, req->data_len);
			vha_vscsiif_back_respond(&b, &rsp);
		}
		vha_vscsiif_back_push(&b);
		assert_false(vha_vscsiif_back_final_check(&b));
		for (unsigned int i = 0; i < n; i++) {
			struct vscsiif_response r;

			assert_int_equal(vha_vscsiif_front_take_response(&f, &r), 1);
			assert_int_equal(r.rqid, (next + i) % 16);
		}
		{
			struct vscsiif_response r;

			assert_int_equal(vha_vscsiif_front_take_response(&f, &r), 0);
		}
		next = (uint16_t)(next + n);
	}
	free(mem);
	free(req);
}

static void test_ring_wraparound(void **state)
{
	round_trips(0);
	round_trips(0xfffffff0u);
	round_trips(0xffffffffu);
	round_trips(0x7ffffffbu);
}

static void test_ring_overflow(void **state)
{
	struct vha_vscsiif_front f;
	struct vha_vscsiif_back b;
	void *mem = alloc_ring();
	RING_IDX prod = 12345;
	RING_IDX starts[] = { 0, 0xfffffff8u };

	for (unsigned int k = 0; k < 2; k++) {
		RING_IDX s = starts[k];

		ring_at(&f, &b, mem, s);
		/* Exactly a ring ahead is fine. */
		b.ring.sring->req_prod = s + 16;
		assert_int_equal(vha_vscsiif_back_snapshot(&b, &prod), 16);
		assert_int_equal(prod, s + 16);
		/* One more is "bogus ring requests". */
		b.ring.sring->req_prod = s + 17;
		prod = 12345;
		assert_int_equal(vha_vscsiif_back_snapshot(&b, &prod), -EPROTO);
		assert_int_equal(prod, 12345);  /* untouched on error */
		/* Backwards. */
		b.ring.sring->req_prod = s - 1;
		assert_int_equal(vha_vscsiif_back_snapshot(&b, &prod), -EPROTO);
		b.ring.sring->req_prod = s + 0x80000000u;
		assert_int_equal(vha_vscsiif_back_snapshot(&b, &prod), -EPROTO);
		/* With 10 taken but unanswered, only 6 more fit. */
		b.ring.req_cons = s + 10;
		b.ring.sring->req_prod = s + 16;
		assert_int_equal(vha_vscsiif_back_snapshot(&b, &prod), 6);
		b.ring.sring->req_prod = s + 17;
		assert_int_equal(vha_vscsiif_back_snapshot(&b, &prod), -EPROTO);
	}

	/* Front side: a backend producing more responses than requests. */
	ring_at(&f, &b, mem, 0);
	{
		struct vscsiif_request s = read10();
		struct vscsiif_response r;

		vha_vscsiif_front_queue(&f, &s);
		vha_vscsiif_front_push(&f);
		f.ring.sring->rsp_prod = 2;
		assert_int_equal(vha_vscsiif_front_take_response(&f, &r), -EPROTO);
	}
	free(mem);
}

static void test_ring_notify(void **state)
{
	struct vha_vscsiif_front f;
	struct vha_vscsiif_back b;
	void *mem = alloc_ring();
	struct vscsiif_request s = read10();
	struct vha_vscsiif_rsp rsp = { .rqid = 3 };
	RING_IDX prod;

	ring_at(&f, &b, mem, 0);
	vha_vscsiif_front_queue(&f, &s);
	/* req_event = 1: the first request notifies. */
	assert_true(vha_vscsiif_front_push(&f));
	assert_int_equal(vha_vscsiif_back_snapshot(&b, &prod), 1);
	b.ring.req_cons = prod;
	/* A second one before the backend re-arms does not. */
	vha_vscsiif_front_queue(&f, &s);
	assert_false(vha_vscsiif_front_push(&f));
	/* final_check sees it rather than sleep. */
	assert_true(vha_vscsiif_back_final_check(&b));
	assert_int_equal(vha_vscsiif_back_snapshot(&b, &prod), 1);
	b.ring.req_cons = prod;
	assert_false(vha_vscsiif_back_final_check(&b));
	/* Re-armed: the next request notifies again. */
	vha_vscsiif_front_queue(&f, &s);
	assert_true(vha_vscsiif_front_push(&f));
	vha_vscsiif_back_respond(&b, &rsp);
	/* rsp_event = 1: the first response notifies. */
	assert_true(vha_vscsiif_back_push(&b));
	free(mem);
}

/* Responses on the ring carry zeros wherever nothing was written (XSA-216). */
static void test_ring_response_zeroed(void **state)
{
	struct vha_vscsiif_front f;
	struct vha_vscsiif_back b;
	void *mem = alloc_ring();
	struct vha_vscsiif_rsp rsp = { .rqid = 1, .rslt = vha_vscsiif_rslt_task(true) };
	const unsigned char *slot;

	ring_at(&f, &b, mem, 0);
	memset((unsigned char *)mem + 64, 0xa5, 4096 - 64);
	vha_vscsiif_back_respond(&b, &rsp);
	slot = (const unsigned char *)RING_GET_RESPONSE(&b.ring, 0);
	for (size_t i = 0; i < sizeof(struct vscsiif_response); i++) {
		if (i == offsetof(struct vscsiif_response, rqid) ||
		    (i >= offsetof(struct vscsiif_response, rslt) && i < offsetof(struct vscsiif_response, rslt) + 2))
			continue;
		assert_int_equal(slot[i], 0);
	}
	free(mem);
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
		cmocka_unit_test(test_rslt),
		cmocka_unit_test(test_sense_fixed),
		cmocka_unit_test(test_sense_len),
		cmocka_unit_test(test_residual),
		cmocka_unit_test(test_encode_response),
		cmocka_unit_test(test_ring_size),
		cmocka_unit_test(test_ring_wraparound),
		cmocka_unit_test(test_ring_overflow),
		cmocka_unit_test(test_ring_notify),
		cmocka_unit_test(test_ring_response_zeroed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
