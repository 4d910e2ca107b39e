// SPDX-License-Identifier: MIT
/*
 * vscsiif requests: copy a ring slot out once, decode the private copy,
 * validate it (docs/vscsiif.md has the table of rejections and what Linux
 * scsiback does in each case), and build responses in zeroed storage.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ring_access.h"
#include "vha/vscsiif.h"

/* Layout facts the code below relies on (identical for every Xen ABI: no 64-bit fields). */
_Static_assert(sizeof(struct vscsiif_request) == 252, "a vscsiif request slot is 252 bytes");
_Static_assert(sizeof(struct vscsiif_response) == 252, "a vscsiif response slot is 252 bytes");
_Static_assert(offsetof(struct vscsiif_request, seg) == 32, "segments follow a 32-byte header");
_Static_assert(offsetof(struct vscsiif_response, rslt) == 100, "rslt after the 96-byte sense buffer");
_Static_assert(sizeof(struct scsiif_request_segment) == 8, "a segment descriptor is 8 bytes");
_Static_assert(VSCSIIF_SG_PER_PAGE == VHA_VSCSIIF_SEGS_PER_PAGE, "512 descriptors per table page");
_Static_assert(VHA_VSCSIIF_MAX_SEGMENTS <= VHA_VSCSIIF_SEGS_PER_PAGE * VSCSIIF_SG_TABLESIZE,
	       "VHA_VSCSIIF_MAX_SEGMENTS is describable by 26 table pages");
_Static_assert((uint64_t)VHA_VSCSIIF_MAX_SEGMENTS * VHA_VSCSIIF_PAGE_SIZE <= UINT32_MAX,
	       "data_len fits 32 bits");
_Static_assert(__CONST_RING_SIZE(vscsiif, VHA_VSCSIIF_PAGE_SIZE) == VHA_VSCSIIF_RING_SIZE,
	       "a one-page vscsiif ring has 16 slots");

bool vha_vscsiif_protocol_supported(const char *protocol)
{
	/*
	 * Unlike blkif, the vscsiif structures have no 64-bit field: their
	 * layout is the same in every Xen ABI, so any known ABI name is ours
	 * (Linux scsiback does not read the node at all).
	 */
	return protocol == NULL || protocol[0] == '\0' || strcmp(protocol, "x86_64-abi") == 0 ||
	       strcmp(protocol, "x86_32-abi") == 0 || strcmp(protocol, "arm-abi") == 0;
}

static const char *const reject_names[VHA_VSCSIIF_REJECT_COUNT] = {
	[VHA_VSCSIIF_OK] = "ok",
	[VHA_VSCSIIF_REJECT_UNKNOWN_ACT] = "unknown act",
	[VHA_VSCSIIF_REJECT_BAD_RQID] = "rqid out of range",
	[VHA_VSCSIIF_REJECT_BAD_REF_RQID] = "abort ref_rqid out of range or itself",
	[VHA_VSCSIIF_REJECT_BAD_CMD_LEN] = "cmd_len not 1..16",
	[VHA_VSCSIIF_REJECT_BAD_DIRECTION] = "unknown data direction",
	[VHA_VSCSIIF_REJECT_BIDIRECTIONAL] = "bidirectional data not supported",
	[VHA_VSCSIIF_REJECT_SG_GRANT_NOT_OFFERED] = "sg-grant not offered",
	[VHA_VSCSIIF_REJECT_BAD_SG_PAGES] = "sg-grant table page count not 1..26",
	[VHA_VSCSIIF_REJECT_BAD_SG_TABLE] = "sg-grant table entry empty, ragged or past its page",
	[VHA_VSCSIIF_REJECT_TOO_MANY_SEGMENTS] = "too many segments",
	[VHA_VSCSIIF_REJECT_DIRECTION_MISMATCH] = "data direction does not match the segments",
	[VHA_VSCSIIF_REJECT_BAD_SEGMENT] = "data segment empty or past its page",
	[VHA_VSCSIIF_REJECT_TOO_LONG] = "data length above the limit",
};

const char *vha_vscsiif_reject_name(enum vha_vscsiif_reject r)
{
	if ((unsigned int)r >= VHA_VSCSIIF_REJECT_COUNT)
		return "invalid";
	return reject_names[r];
}

static bool act_is_task(uint8_t act)
{
	return act == VSCSIIF_ACT_SCSI_ABORT || act == VSCSIIF_ACT_SCSI_RESET;
}

int32_t vha_vscsiif_reject_rslt(enum vha_vscsiif_reject r, uint8_t act)
{
	if (r == VHA_VSCSIIF_OK)
		return 0;
	/*
	 * Linux scsifront waits for exactly 0x2002 or 0x2003 on a task
	 * management request; anything else it counts as failure too, but
	 * say so plainly.
	 */
	if (act_is_task(act))
		return vha_vscsiif_rslt_task(false);
	return vha_vscsiif_rslt(XEN_VSCSIIF_RSLT_HOST_ERROR, VHA_SCSI_STATUS_GOOD);
}

static void decode_seg(struct vha_vscsiif_seg *out, const struct scsiif_request_segment *in)
{
	out->gref = in->gref;
	out->offset = in->offset;
	out->length = in->length;
}

void vha_vscsiif_copy_request(const void *slot, struct vha_vscsiif_req *out)
{
	struct vscsiif_request s;
	unsigned int i, n;

	/* The one and only read of the ring slot for this request. */
	memcpy(&s, slot, sizeof(s));
	ring_compiler_barrier();

	out->rqid = s.rqid;
	out->act = s.act;
	out->cmd_len = s.cmd_len;
	/* Bytes past cmd_len are the guest's leftovers: never pass them on. */
	n = s.cmd_len < VSCSIIF_MAX_COMMAND_SIZE ? s.cmd_len : VSCSIIF_MAX_COMMAND_SIZE;
	memset(out->cdb, 0, sizeof(out->cdb));
	memcpy(out->cdb, s.cmnd, n);
	out->timeout = s.timeout_per_command;
	out->channel = s.channel;
	out->id = s.id;
	out->lun = s.lun;
	out->ref_rqid = s.ref_rqid;
	out->direction = s.sc_data_direction;
	out->nr_segments_byte = s.nr_segments;
	out->sg_grant = (s.nr_segments & VSCSIIF_SG_GRANT) != 0;
	/* With the flag the low 7 bits count table pages; without it all 8 count data segments. */
	out->nr_ring_segs = out->sg_grant ? (uint32_t)(s.nr_segments & ~VSCSIIF_SG_GRANT) : s.nr_segments;
	out->data_len = 0;
	memset(out->ring_seg, 0, sizeof(out->ring_seg));
	/* More than 26 is rejected by check_header; never read past the slot. */
	n = out->nr_ring_segs < VSCSIIF_SG_TABLESIZE ? out->nr_ring_segs : VSCSIIF_SG_TABLESIZE;
	for (i = 0; i < n; i++)
		decode_seg(&out->ring_seg[i], &s.seg[i]);
	if (out->sg_grant) {
		out->nr_segments = 0;   /* counted by check_header, filled by load_sg */
		out->nr_loaded = 0;
	} else {
		out->nr_segments = out->nr_ring_segs;
		memcpy(out->seg, out->ring_seg, n * sizeof(out->seg[0]));
		out->nr_loaded = n;
	}
}

static uint32_t effective_sg_max(uint32_t offered)
{
	return offered < VHA_VSCSIIF_MAX_SEGMENTS ? offered : VHA_VSCSIIF_MAX_SEGMENTS;
}

enum vha_vscsiif_reject vha_vscsiif_sg_describe(const struct vha_vscsiif_req *req, uint32_t max_segments,
						struct vha_vscsiif_sg_desc *out)
{
	uint32_t i, total = 0, max = effective_sg_max(max_segments);

	out->nr_pages = 0;
	out->nr_segments = 0;
	if (!req->sg_grant) {
		out->nr_segments = req->nr_ring_segs;
		return req->nr_ring_segs > VSCSIIF_SG_TABLESIZE ? VHA_VSCSIIF_REJECT_TOO_MANY_SEGMENTS
								 : VHA_VSCSIIF_OK;
	}
	/*
	 * Linux scsifront never sends the flag with 0 pages (a command
	 * without data goes as a direct request with 0 segments); scsiback
	 * allows at most VSCSIIF_SG_TABLESIZE table pages.
	 */
	if (req->nr_ring_segs == 0 || req->nr_ring_segs > VSCSIIF_SG_TABLESIZE)
		return VHA_VSCSIIF_REJECT_BAD_SG_PAGES;
	for (i = 0; i < req->nr_ring_segs; i++) {
		const struct vha_vscsiif_seg *t = &req->ring_seg[i];

		if (t->length == 0 || t->length % sizeof(struct scsiif_request_segment) != 0 ||
		    (uint32_t)t->offset + t->length > VHA_VSCSIIF_PAGE_SIZE)
			return VHA_VSCSIIF_REJECT_BAD_SG_TABLE;
		/* At most 26 * 512: no overflow. */
		total += t->length / sizeof(struct scsiif_request_segment);
	}
	if (total > max)
		return VHA_VSCSIIF_REJECT_TOO_MANY_SEGMENTS;
	out->nr_pages = req->nr_ring_segs;
	out->nr_segments = total;
	return VHA_VSCSIIF_OK;
}

static bool rqid_ok(const struct vha_vscsiif_limits *lim, uint16_t rqid)
{
	return lim->nr_rqids == 0 || rqid < lim->nr_rqids;
}

enum vha_vscsiif_reject vha_vscsiif_check_header(const struct vha_vscsiif_limits *lim,
						  struct vha_vscsiif_req *req)
{
	struct vha_vscsiif_sg_desc desc;
	enum vha_vscsiif_reject r;
	bool has_data;

	switch (req->act) {
	case VSCSIIF_ACT_SCSI_CDB:
	case VSCSIIF_ACT_SCSI_ABORT:
	case VSCSIIF_ACT_SCSI_RESET:
		break;
	default:
		/* Includes VSCSIIF_ACT_SCSI_SG_PRESET (4), deprecated and never sent by Linux. */
		return VHA_VSCSIIF_REJECT_UNKNOWN_ACT;
	}
	if (!rqid_ok(lim, req->rqid))
		return VHA_VSCSIIF_REJECT_BAD_RQID;
	if (req->act == VSCSIIF_ACT_SCSI_ABORT) {
		/* A request cannot abort itself: its rqid is not yet in flight. */
		if (!rqid_ok(lim, req->ref_rqid) || req->ref_rqid == req->rqid)
			return VHA_VSCSIIF_REJECT_BAD_REF_RQID;
		return VHA_VSCSIIF_OK;
	}
	if (req->act == VSCSIIF_ACT_SCSI_RESET)
		return VHA_VSCSIIF_OK;

	if (req->cmd_len == 0 || req->cmd_len > VSCSIIF_MAX_COMMAND_SIZE)
		return VHA_VSCSIIF_REJECT_BAD_CMD_LEN;
	switch (req->direction) {
	case VHA_VSCSIIF_DMA_BIDIRECTIONAL:
		if (!lim->bidirectional)
			return VHA_VSCSIIF_REJECT_BIDIRECTIONAL;
		break;
	case VHA_VSCSIIF_DMA_TO_DEVICE:
	case VHA_VSCSIIF_DMA_FROM_DEVICE:
	case VHA_VSCSIIF_DMA_NONE:
		break;
	default:
		return VHA_VSCSIIF_REJECT_BAD_DIRECTION;
	}
	if (req->sg_grant && lim->max_sg_segments == 0)
		return VHA_VSCSIIF_REJECT_SG_GRANT_NOT_OFFERED;
	r = vha_vscsiif_sg_describe(req, lim->max_sg_segments, &desc);
	if (r != VHA_VSCSIIF_OK)
		return r;
	if (req->sg_grant)
		req->nr_segments = desc.nr_segments;
	/*
	 * Linux's SCSI midlayer sends DMA_NONE exactly when the command moves
	 * no bytes; a data direction without segments, or segments without
	 * one, is a frontend bug that would otherwise map (or not map) pages
	 * against the CDB's intent.
	 */
	has_data = desc.nr_segments != 0;
	if (has_data != (req->direction != VHA_VSCSIIF_DMA_NONE))
		return VHA_VSCSIIF_REJECT_DIRECTION_MISMATCH;
	return VHA_VSCSIIF_OK;
}

void vha_vscsiif_load_sg(struct vha_vscsiif_req *req, const void *const *pages)
{
	struct scsiif_request_segment copy[VHA_VSCSIIF_SEGS_PER_PAGE];
	uint32_t done = 0, total = req->nr_segments, page, n, i;
	uint32_t nr_pages = req->nr_ring_segs < VSCSIIF_SG_TABLESIZE ? req->nr_ring_segs : VSCSIIF_SG_TABLESIZE;

	if (!req->sg_grant)
		return;
	/* Callers validate first; these bounds only keep a bug from overrunning seg[] or a page. */
	if (total > VHA_VSCSIIF_MAX_SEGMENTS)
		total = VHA_VSCSIIF_MAX_SEGMENTS;
	for (page = 0; page < nr_pages && done < total; page++) {
		const struct vha_vscsiif_seg *t = &req->ring_seg[page];

		if (t->offset >= VHA_VSCSIIF_PAGE_SIZE)
			continue;
		n = t->length / sizeof(copy[0]);
		if (n > (VHA_VSCSIIF_PAGE_SIZE - t->offset) / sizeof(copy[0]))
			n = (VHA_VSCSIIF_PAGE_SIZE - t->offset) / sizeof(copy[0]);
		if (n > total - done)
			n = total - done;
		/* The one read of this table page. */
		memcpy(copy, (const unsigned char *)pages[page] + t->offset, n * sizeof(copy[0]));
		ring_compiler_barrier();
		for (i = 0; i < n; i++)
			decode_seg(&req->seg[done + i], &copy[i]);
		done += n;
	}
	req->nr_loaded = done;
}

enum vha_vscsiif_reject vha_vscsiif_check_segments(const struct vha_vscsiif_limits *lim,
						    struct vha_vscsiif_req *req)
{
	uint32_t total = 0, i;
	enum vha_vscsiif_reject r;

	req->data_len = 0;
	/*
	 * Pure function of the private copy: every header check again (cheap,
	 * and its counts come from ring_seg[], which the guest can no longer
	 * change). The segments in seg[] must be the ones counted: for
	 * sg-grant, load_sg must have run and delivered them all.
	 */
	r = vha_vscsiif_check_header(lim, req);
	if (r != VHA_VSCSIIF_OK)
		return r;
	if (req->act != VSCSIIF_ACT_SCSI_CDB)
		return VHA_VSCSIIF_OK;
	if (req->nr_loaded != req->nr_segments)
		return VHA_VSCSIIF_REJECT_BAD_SG_TABLE;
	for (i = 0; i < req->nr_segments; i++) {
		const struct vha_vscsiif_seg *seg = &req->seg[i];

		/*
		 * Linux scsiback checks offset + length <= page only; an empty
		 * segment would still cost a grant map for nothing, and Linux
		 * scsifront never sends one.
		 */
		if (seg->length == 0 || (uint32_t)seg->offset + seg->length > VHA_VSCSIIF_PAGE_SIZE)
			return VHA_VSCSIIF_REJECT_BAD_SEGMENT;
		total += seg->length;   /* <= 1024 * 4096: no overflow */
	}
	if (lim->max_data_bytes != 0 && total > lim->max_data_bytes)
		return VHA_VSCSIIF_REJECT_TOO_LONG;
	req->data_len = total;
	return VHA_VSCSIIF_OK;
}

enum vha_vscsiif_reject vha_vscsiif_validate(const struct vha_vscsiif_limits *lim, struct vha_vscsiif_req *req)
{
	enum vha_vscsiif_reject r = vha_vscsiif_check_header(lim, req);

	if (r != VHA_VSCSIIF_OK)
		return r;
	return vha_vscsiif_check_segments(lim, req);
}

bool vha_vscsiif_data_readonly(const struct vha_vscsiif_req *req)
{
	return req->direction == VHA_VSCSIIF_DMA_TO_DEVICE;
}

/* ----------------------------- responses ----------------------------- */

int32_t vha_vscsiif_rslt(uint8_t host, uint8_t status)
{
	/* XEN_VSCSIIF_RSLT_HOST() reads bits 16..23, XEN_VSCSIIF_RSLT_STATUS() bits 0..7. */
	return (int32_t)(((uint32_t)host << 16) | status);
}

int32_t vha_vscsiif_rslt_task(bool success)
{
	return success ? XEN_VSCSIIF_RSLT_RESET_SUCCESS : XEN_VSCSIIF_RSLT_RESET_FAILED;
}

size_t vha_vscsiif_sense_fixed(uint8_t out[VHA_VSCSIIF_SENSE_FIXED_LEN], uint8_t key, uint8_t asc, uint8_t ascq)
{
	memset(out, 0, VHA_VSCSIIF_SENSE_FIXED_LEN);
	out[0] = 0x70;                          /* current error, fixed format */
	out[2] = key & 0x0f;
	out[7] = VHA_VSCSIIF_SENSE_FIXED_LEN - 8; /* additional sense length */
	out[12] = asc;
	out[13] = ascq;
	return VHA_VSCSIIF_SENSE_FIXED_LEN;
}

void vha_vscsiif_sense_set_info(uint8_t out[VHA_VSCSIIF_SENSE_FIXED_LEN], uint32_t info)
{
	out[0] |= 0x80;                         /* VALID: the INFORMATION field means something */
	out[3] = (uint8_t)(info >> 24);
	out[4] = (uint8_t)(info >> 16);
	out[5] = (uint8_t)(info >> 8);
	out[6] = (uint8_t)info;
}

void vha_vscsiif_sense_set_field(uint8_t out[VHA_VSCSIIF_SENSE_FIXED_LEN], bool in_cdb, uint16_t byte,
				 unsigned int bit)
{
	uint8_t b = 0x80;                       /* SKSV */

	if (in_cdb)
		b |= 0x40;                      /* C/D: the error is in the CDB, not the data */
	if (bit < 8)
		b |= 0x08 | (uint8_t)bit;       /* BPV and BIT POINTER */
	out[15] = b;
	out[16] = (uint8_t)(byte >> 8);
	out[17] = (uint8_t)byte;
}

size_t vha_vscsiif_sense_len(const uint8_t *sense, size_t avail)
{
	size_t len;
	uint8_t code;

	if (sense == NULL || avail < 8)
		return 0;
	code = sense[0] & 0x7f;
	/* 0x70/0x71 fixed, 0x72/0x73 descriptor: both keep the additional length in byte 7. */
	if (code < 0x70 || code > 0x73)
		return 0;
	len = 8 + (size_t)sense[7];
	if (len > avail)
		len = avail;
	return len < VSCSIIF_SENSE_BUFFERSIZE ? len : VSCSIIF_SENSE_BUFFERSIZE;
}

uint32_t vha_vscsiif_residual(uint32_t data_len, uint64_t transferred)
{
	return transferred >= data_len ? 0 : (uint32_t)(data_len - transferred);
}

uint32_t vha_vscsiif_residual_clamp(uint32_t data_len, int64_t reported)
{
	if (reported <= 0)
		return 0;
	return (uint64_t)reported >= data_len ? data_len : (uint32_t)reported;
}

void vha_vscsiif_encode_response(void *out, const struct vha_vscsiif_rsp *rsp)
{
	/*
	 * Built as bytes, not as a struct: every byte of this array is
	 * written, so the sense buffer past sense_len and the reserved words
	 * carry zeros, never backend memory (XSA-216).
	 */
	unsigned char r[sizeof(struct vscsiif_response)] = { 0 };
	size_t sense_len = rsp->sense != NULL ? rsp->sense_len : 0;
	uint8_t len8;

	if (sense_len > VSCSIIF_SENSE_BUFFERSIZE)
		sense_len = VSCSIIF_SENSE_BUFFERSIZE;
	len8 = (uint8_t)sense_len;
	memcpy(r + offsetof(struct vscsiif_response, rqid), &rsp->rqid, sizeof(rsp->rqid));
	memcpy(r + offsetof(struct vscsiif_response, act), &rsp->act, sizeof(rsp->act));
	memcpy(r + offsetof(struct vscsiif_response, sense_len), &len8, sizeof(len8));
	if (sense_len != 0)
		memcpy(r + offsetof(struct vscsiif_response, sense_buffer), rsp->sense, sense_len);
	memcpy(r + offsetof(struct vscsiif_response, rslt), &rsp->rslt, sizeof(rsp->rslt));
	memcpy(r + offsetof(struct vscsiif_response, residual_len), &rsp->residual, sizeof(rsp->residual));
	memcpy(out, r, sizeof(r));
}

/* ------------------------------- rings -------------------------------- */

void vha_vscsiif_back_init(struct vha_vscsiif_back *b, void *sring)
{
	/* The frontend initialised the shared indexes; we only attach at 0. */
	BACK_RING_INIT(&b->ring, (vscsiif_sring_t *)sring, VHA_VSCSIIF_PAGE_SIZE);
}

int vha_vscsiif_back_snapshot(struct vha_vscsiif_back *b, RING_IDX *prod)
{
	return RING_BACK_SNAPSHOT(&b->ring, prod);
}

const void *vha_vscsiif_back_slot(struct vha_vscsiif_back *b, RING_IDX idx)
{
	return RING_GET_REQUEST(&b->ring, idx);
}

void vha_vscsiif_back_respond(struct vha_vscsiif_back *b, const struct vha_vscsiif_rsp *rsp)
{
	vha_vscsiif_encode_response(RING_GET_RESPONSE(&b->ring, b->ring.rsp_prod_pvt), rsp);
	b->ring.rsp_prod_pvt++;
}

bool vha_vscsiif_back_push(struct vha_vscsiif_back *b)
{
	bool notify;

	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&b->ring, notify);
	return notify;
}

bool vha_vscsiif_back_final_check(struct vha_vscsiif_back *b)
{
	return RING_BACK_FINAL_CHECK(&b->ring);
}

void vha_vscsiif_front_init(struct vha_vscsiif_front *f, void *sring)
{
	/* Zero every slot too: the backend must not see old memory (XSA-403). */
	memset(sring, 0, VHA_VSCSIIF_PAGE_SIZE);
	XEN_FRONT_RING_INIT(&f->ring, (vscsiif_sring_t *)sring, VHA_VSCSIIF_PAGE_SIZE);
}

unsigned int vha_vscsiif_front_free(const struct vha_vscsiif_front *f)
{
	return RING_FREE_REQUESTS(&f->ring);
}

void vha_vscsiif_front_queue(struct vha_vscsiif_front *f, const struct vscsiif_request *req)
{
	memcpy(RING_GET_REQUEST(&f->ring, f->ring.req_prod_pvt), req, sizeof(*req));
	f->ring.req_prod_pvt++;
}

bool vha_vscsiif_front_push(struct vha_vscsiif_front *f)
{
	bool notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f->ring, notify);
	return notify;
}

int vha_vscsiif_front_take_response(struct vha_vscsiif_front *f, struct vscsiif_response *rsp)
{
	int ready = RING_FRONT_RESPONSE_READY(&f->ring);

	if (ready <= 0)
		return ready;   /* none yet, or more responses than requests: a broken backend */
	/* The one read of this response slot. */
	memcpy(rsp, RING_GET_RESPONSE(&f->ring, f->ring.rsp_cons), sizeof(*rsp));
	f->ring.rsp_cons++;
	return 1;
}
