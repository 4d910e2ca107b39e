// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for what a vscsiif backend parses out of guest memory:
 * one ring slot, the sg-grant segment-table pages, and the ring indexes;
 * plus the response side a guest influences (a device's sense buffer, the
 * residual). The input also picks the backend's limits, so every rejection
 * path is reachable.
 *
 * Input layout (short inputs are zero-padded):
 *   [0, 252)     the ring slot
 *   [252, 254)   max_sg_segments (feature-sg-grant offered; 0: not offered)
 *   254          flags: 1 bidirectional, 2 rqids unchecked (else 16), 4 max_data_bytes from [256, 260)
 *   255          sense bytes available (for vha_vscsiif_sense_len over the table pages)
 *   [256, 260)   max_data_bytes
 *   [260, 272)   req_prod, req_cons, rsp_prod_pvt of the ring
 *   [272, ...)   two segment-table pages (up to 8192 bytes); table page i is page i % 2
 *
 * Invariants asserted on every accepted request: act known, rqid and
 * ref_rqid in range, cmd_len 1..16, direction one of the four (and
 * bidirectional only when offered) and DMA_NONE exactly without data,
 * segment counts within the offer, every data segment inside its page,
 * data_len their sum and within the cap. On every response: sense at
 * most 96 bytes and zeros after it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vha/vscsiif.h"

#define HEAD 272

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

static void check_accepted(const struct vha_vscsiif_limits *lim, const struct vha_vscsiif_req *req)
{
	uint64_t total = 0;
	uint32_t max = lim->max_sg_segments < VHA_VSCSIIF_MAX_SEGMENTS ? lim->max_sg_segments
									: VHA_VSCSIIF_MAX_SEGMENTS;

	CHECK(req->act == VSCSIIF_ACT_SCSI_CDB || req->act == VSCSIIF_ACT_SCSI_ABORT ||
	      req->act == VSCSIIF_ACT_SCSI_RESET);
	if (lim->nr_rqids != 0)
		CHECK(req->rqid < lim->nr_rqids);
	if (req->act == VSCSIIF_ACT_SCSI_ABORT) {
		CHECK(req->ref_rqid != req->rqid);
		if (lim->nr_rqids != 0)
			CHECK(req->ref_rqid < lim->nr_rqids);
	}
	if (req->act != VSCSIIF_ACT_SCSI_CDB) {
		CHECK(req->data_len == 0);
		return;
	}
	CHECK(req->cmd_len >= 1 && req->cmd_len <= VSCSIIF_MAX_COMMAND_SIZE);
	for (unsigned int i = req->cmd_len; i < VSCSIIF_MAX_COMMAND_SIZE; i++)
		CHECK(req->cdb[i] == 0);
	CHECK(req->direction <= VHA_VSCSIIF_DMA_NONE);
	if (req->direction == VHA_VSCSIIF_DMA_BIDIRECTIONAL)
		CHECK(lim->bidirectional);
	CHECK((req->nr_segments == 0) == (req->direction == VHA_VSCSIIF_DMA_NONE));
	if (req->sg_grant) {
		CHECK(lim->max_sg_segments != 0);
		CHECK(req->nr_ring_segs >= 1 && req->nr_ring_segs <= VSCSIIF_SG_TABLESIZE);
		CHECK(req->nr_segments <= max);
	} else {
		CHECK(req->nr_segments <= VSCSIIF_SG_TABLESIZE);
	}
	CHECK(req->nr_segments <= VHA_VSCSIIF_MAX_SEGMENTS);
	CHECK(req->nr_loaded == req->nr_segments);
	for (uint32_t i = 0; i < req->nr_segments; i++) {
		const struct vha_vscsiif_seg *seg = &req->seg[i];

		CHECK(seg->length >= 1);
		CHECK((uint32_t)seg->offset + seg->length <= VHA_VSCSIIF_PAGE_SIZE);
		total += seg->length;
	}
	CHECK(req->data_len == total);
	if (lim->max_data_bytes != 0)
		CHECK(total <= lim->max_data_bytes);
	CHECK(vha_vscsiif_data_readonly(req) == (req->direction == VHA_VSCSIIF_DMA_TO_DEVICE));
}

/* Encode a response with this sense and check the bytes the guest would read. */
static void check_response(uint16_t rqid, int32_t rslt, uint32_t residual, const uint8_t *sense, size_t avail)
{
	unsigned char out[sizeof(struct vscsiif_response)];
	struct vscsiif_response r;
	size_t len = vha_vscsiif_sense_len(sense, avail);
	struct vha_vscsiif_rsp rsp = {
		.rqid = rqid, .act = VSCSIIF_ACT_SCSI_CDB, .rslt = rslt, .residual = residual,
		.sense = sense, .sense_len = len,
	};

	CHECK(len <= VSCSIIF_SENSE_BUFFERSIZE && len <= avail);
	memset(out, 0xa5, sizeof(out));
	vha_vscsiif_encode_response(out, &rsp);
	memcpy(&r, out, sizeof(r));
	CHECK(r.rqid == rqid && r.rslt == rslt && r.residual_len == residual && r.sense_len == len);
	CHECK(len == 0 || memcmp(r.sense_buffer, sense, len) == 0);
	for (size_t i = len; i < VSCSIIF_SENSE_BUFFERSIZE; i++)
		CHECK(r.sense_buffer[i] == 0);
	for (size_t i = 0; i < sizeof(r.reserved) / sizeof(r.reserved[0]); i++)
		CHECK(r.reserved[i] == 0);
}

static void fuzz_request(const uint8_t *data, size_t size)
{
	static uint8_t slot[sizeof(struct vscsiif_request)];
	static uint8_t pages[2][VHA_VSCSIIF_PAGE_SIZE] __attribute__((aligned(4096)));
	static struct vha_vscsiif_req req, again;
	const void *ptrs[VSCSIIF_SG_TABLESIZE];
	struct vha_vscsiif_limits lim;
	struct vha_vscsiif_sg_desc desc;
	uint16_t max_sg;
	uint8_t flags, avail;
	uint32_t max_data;
	enum vha_vscsiif_reject r, rd;
	uint8_t sense[VHA_VSCSIIF_SENSE_FIXED_LEN];
	int32_t rslt;

	get(data, size, 0, slot, sizeof(slot));
	get(data, size, 252, &max_sg, 2);
	get(data, size, 254, &flags, 1);
	get(data, size, 255, &avail, 1);
	get(data, size, 256, &max_data, 4);
	get(data, size, HEAD, pages, sizeof(pages));
	memset(&lim, 0, sizeof(lim));
	lim.max_sg_segments = max_sg;
	lim.bidirectional = flags & 1;
	lim.nr_rqids = (flags & 2) ? 0 : VHA_VSCSIIF_RING_SIZE;
	lim.max_data_bytes = (flags & 4) ? max_data : 0;
	for (unsigned int i = 0; i < VSCSIIF_SG_TABLESIZE; i++)
		ptrs[i] = pages[i % 2];

	vha_vscsiif_copy_request(slot, &req);
	/* Decoding is a pure function of the slot. */
	vha_vscsiif_copy_request(slot, &again);
	CHECK(req.rqid == again.rqid && req.act == again.act && req.cmd_len == again.cmd_len &&
	      req.sg_grant == again.sg_grant && req.nr_ring_segs == again.nr_ring_segs &&
	      req.nr_segments == again.nr_segments && memcmp(req.cdb, again.cdb, sizeof(req.cdb)) == 0);
	CHECK(req.nr_loaded <= VSCSIIF_SG_TABLESIZE);

	/* The describe helper agrees with the header check on sg-grant tables. */
	rd = vha_vscsiif_sg_describe(&req, lim.max_sg_segments, &desc);
	CHECK((unsigned int)rd < VHA_VSCSIIF_REJECT_COUNT);
	if (rd == VHA_VSCSIIF_OK && req.sg_grant) {
		CHECK(desc.nr_pages == req.nr_ring_segs && desc.nr_pages <= VSCSIIF_SG_TABLESIZE);
		CHECK(desc.nr_segments <= VHA_VSCSIIF_MAX_SEGMENTS);
	} else {
		CHECK(desc.nr_pages == 0);
	}

	r = vha_vscsiif_check_header(&lim, &req);
	if (r == VHA_VSCSIIF_OK && req.act == VSCSIIF_ACT_SCSI_CDB && req.sg_grant) {
		CHECK(rd == VHA_VSCSIIF_OK && req.nr_segments == desc.nr_segments);
		vha_vscsiif_load_sg(&req, ptrs);
	}
	if (r == VHA_VSCSIIF_OK)
		r = vha_vscsiif_check_segments(&lim, &req);

	CHECK((unsigned int)r < VHA_VSCSIIF_REJECT_COUNT);
	CHECK(strcmp(vha_vscsiif_reject_name(r), "invalid") != 0);
	rslt = vha_vscsiif_reject_rslt(r, req.act);
	if (r == VHA_VSCSIIF_OK) {
		check_accepted(&lim, &req);
		CHECK(rslt == 0);
	} else if (req.act == VSCSIIF_ACT_SCSI_ABORT || req.act == VSCSIIF_ACT_SCSI_RESET) {
		CHECK(rslt == XEN_VSCSIIF_RSLT_RESET_FAILED);
	} else {
		CHECK(XEN_VSCSIIF_RSLT_HOST(rslt) == XEN_VSCSIIF_RSLT_HOST_ERROR);
	}
	/* The one-call form agrees for direct requests. */
	if (!again.sg_grant)
		CHECK(vha_vscsiif_validate(&lim, &again) == r);
	/* Unvalidated input must not make the loader or the second pass misbehave either. */
	vha_vscsiif_copy_request(slot, &again);
	again.nr_segments = (uint32_t)max_data;
	vha_vscsiif_load_sg(&again, ptrs);
	CHECK(again.nr_loaded <= VHA_VSCSIIF_MAX_SEGMENTS);
	(void)vha_vscsiif_check_segments(&lim, &again);

	/* Responses: a device's sense (the table pages' bytes), and our own. */
	check_response(req.rqid, rslt, vha_vscsiif_residual_clamp(req.data_len, (int32_t)max_data), pages[0],
		       avail);
	CHECK(vha_vscsiif_residual(req.data_len, max_data) <= req.data_len);
	vha_vscsiif_sense_fixed(sense, slot[0], slot[1], slot[2]);
	if (flags & 8)
		vha_vscsiif_sense_set_info(sense, max_data);
	if (flags & 16)
		vha_vscsiif_sense_set_field(sense, flags & 32, max_sg, slot[3]);
	CHECK((sense[0] & 0x7f) == 0x70 && sense[7] == 10 && (sense[2] & 0xf0) == 0);
	CHECK(vha_vscsiif_sense_len(sense, sizeof(sense)) == VHA_VSCSIIF_SENSE_FIXED_LEN);
	check_response(req.rqid, vha_vscsiif_rslt(slot[4], VHA_SCSI_STATUS_CHECK_CONDITION), 0, sense,
		       sizeof(sense));
}

static void fuzz_ring(const uint8_t *data, size_t size)
{
	static uint8_t ring[4096] __attribute__((aligned(4096)));
	static struct vha_vscsiif_req req;
	struct vha_vscsiif_back b;
	struct vha_vscsiif_limits lim = { .max_sg_segments = 128, .nr_rqids = VHA_VSCSIIF_RING_SIZE };
	uint32_t idx[3];
	RING_IDX prod;
	int n;

	get(data, size, 260, idx, sizeof(idx));
	get(data, size, HEAD, ring, sizeof(ring));
	vha_vscsiif_back_init(&b, ring);
	b.ring.sring->req_prod = idx[0];
	b.ring.req_cons = idx[1];
	b.ring.rsp_prod_pvt = idx[2];
	/* Our own indexes keep their invariant: no more requests taken than slots. */
	if (b.ring.req_cons - b.ring.rsp_prod_pvt > RING_SIZE(&b.ring))
		b.ring.rsp_prod_pvt = b.ring.req_cons;
	n = vha_vscsiif_back_snapshot(&b, &prod);
	if (n < 0) {
		CHECK(n == -EPROTO);
		return;
	}
	CHECK((unsigned int)n <= RING_SIZE(&b.ring));
	CHECK(prod - b.ring.rsp_prod_pvt <= RING_SIZE(&b.ring));
	for (; b.ring.req_cons != prod; b.ring.req_cons++) {
		struct vha_vscsiif_rsp rsp = { 0 };
		enum vha_vscsiif_reject r;

		vha_vscsiif_copy_request(vha_vscsiif_back_slot(&b, b.ring.req_cons), &req);
		r = vha_vscsiif_validate(&lim, &req);
		rsp.rqid = req.rqid;
		rsp.act = req.act;
		rsp.rslt = vha_vscsiif_reject_rslt(r, req.act);
		vha_vscsiif_back_respond(&b, &rsp);
	}
	(void)vha_vscsiif_back_push(&b);
	(void)vha_vscsiif_back_final_check(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_request(data, size);
	fuzz_ring(data, size);
	return 0;
}
