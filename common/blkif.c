// SPDX-License-Identifier: MIT
/*
 * blkif requests: copy a ring slot out once, decode the private copy, and
 * validate it the way Linux blkback does (see docs/protocol.md for the table
 * of rejections and the status each one gets).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ring_access.h"
#include "vha/blkif.h"

/* One ring slot in every native layout we decode. */
union blkif_slot {
	struct blkif_request rw;
	struct blkif_request_discard discard;
	struct blkif_request_indirect indirect;
	unsigned char bytes[sizeof(struct blkif_request)];
};

_Static_assert(sizeof(struct blkif_request) == 112, "native blkif request slot is 112 bytes");
_Static_assert(sizeof(union blkif_slot) == sizeof(struct blkif_request), "no layout is larger than a slot");
_Static_assert(sizeof(struct blkif_request_segment) * VHA_BLKIF_SEGS_PER_INDIRECT_PAGE == 4096,
	       "an indirect page holds 512 segments");
_Static_assert(VHA_BLKIF_MAX_SEGMENTS <= VHA_BLKIF_SEGS_PER_INDIRECT_PAGE * BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST,
	       "VHA_BLKIF_MAX_SEGMENTS fits the indirect pages of one request");
_Static_assert(VHA_BLKIF_MAX_SEGMENTS <= UINT16_MAX, "indirect nr_segments is 16 bits");

bool vha_blkif_protocol_supported(const char *protocol)
{
	return protocol == NULL || protocol[0] == '\0' || strcmp(protocol, VHA_BLKIF_PROTOCOL_NATIVE) == 0;
}

static const char *const reject_names[VHA_BLKIF_REJECT_COUNT] = {
	[VHA_BLKIF_OK] = "ok",
	[VHA_BLKIF_REJECT_UNKNOWN_OP] = "unknown operation",
	[VHA_BLKIF_REJECT_UNSUPPORTED_OP] = "operation not offered",
	[VHA_BLKIF_REJECT_BAD_INDIRECT_OP] = "bad indirect operation",
	[VHA_BLKIF_REJECT_NO_SEGMENTS] = "no segments",
	[VHA_BLKIF_REJECT_TOO_MANY_SEGMENTS] = "too many segments",
	[VHA_BLKIF_REJECT_FIRST_AFTER_LAST] = "first_sect after last_sect",
	[VHA_BLKIF_REJECT_LAST_SECT_RANGE] = "last_sect beyond the page",
	[VHA_BLKIF_REJECT_PAST_END] = "range past the end of the disk",
	[VHA_BLKIF_REJECT_READONLY] = "write to a read-only disk",
	[VHA_BLKIF_REJECT_MISALIGNED] = "not aligned to sector-size",
};

const char *vha_blkif_reject_name(enum vha_blkif_reject r)
{
	if ((unsigned int)r >= VHA_BLKIF_REJECT_COUNT)
		return "invalid";
	return reject_names[r];
}

int16_t vha_blkif_reject_status(enum vha_blkif_reject r)
{
	switch (r) {
	case VHA_BLKIF_OK:
		return BLKIF_RSP_OKAY;
	/*
	 * Linux blkback answers an operation it does not handle
	 * (dispatch_other_io) and a flush/barrier/discard the device cannot do
	 * with EOPNOTSUPP; blkfront then turns the feature off instead of
	 * failing the disk.
	 */
	case VHA_BLKIF_REJECT_UNKNOWN_OP:
	case VHA_BLKIF_REJECT_UNSUPPORTED_OP:
		return BLKIF_RSP_EOPNOTSUPP;
	default:
		return BLKIF_RSP_ERROR;
	}
}

static enum vha_blkif_op decode_op(uint8_t operation)
{
	switch (operation) {
	case BLKIF_OP_READ:
		return VHA_BLKIF_READ;
	case BLKIF_OP_WRITE:
		return VHA_BLKIF_WRITE;
	case BLKIF_OP_WRITE_BARRIER:
		return VHA_BLKIF_BARRIER;
	case BLKIF_OP_FLUSH_DISKCACHE:
		return VHA_BLKIF_FLUSH;
	case BLKIF_OP_DISCARD:
		return VHA_BLKIF_DISCARD;
	default:
		return VHA_BLKIF_UNKNOWN;
	}
}

static void decode_seg(struct vha_blkif_seg *out, const struct blkif_request_segment *in)
{
	out->gref = in->gref;
	out->first_sect = in->first_sect;
	out->last_sect = in->last_sect;
}

void vha_blkif_copy_request(const void *slot, struct vha_blkif_req *out)
{
	union blkif_slot s;
	unsigned int i, n;

	/* The one and only read of guest memory for this request. */
	memcpy(&s, slot, sizeof(s));
	ring_compiler_barrier();

	out->operation = s.rw.operation;
	out->op = decode_op(s.rw.operation);
	out->indirect = false;
	out->secure = false;
	out->id = s.rw.id;              /* at the same offset in every layout */
	out->handle = s.rw.handle;
	out->sector = s.rw.sector_number;
	out->nr_sectors = 0;
	out->nr_segments = 0;
	out->nr_indirect_pages = 0;
	memset(out->indirect_grefs, 0, sizeof(out->indirect_grefs));

	switch (s.rw.operation) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
	case BLKIF_OP_WRITE_BARRIER:
	case BLKIF_OP_FLUSH_DISKCACHE:
		out->nr_segments = s.rw.nr_segments;
		/* More than 11 is rejected by check_header; never read past the slot. */
		n = out->nr_segments < BLKIF_MAX_SEGMENTS_PER_REQUEST ? out->nr_segments
								      : BLKIF_MAX_SEGMENTS_PER_REQUEST;
		for (i = 0; i < n; i++)
			decode_seg(&out->seg[i], &s.rw.seg[i]);
		break;
	case BLKIF_OP_DISCARD:
		out->handle = s.discard.handle;
		out->sector = s.discard.sector_number;
		out->nr_sectors = s.discard.nr_sectors;
		out->secure = (s.discard.flag & BLKIF_DISCARD_SECURE) != 0;
		break;
	case BLKIF_OP_INDIRECT:
		out->indirect = true;
		/*
		 * Linux blkback answers an indirect request with indirect_op as
		 * the response operation, and blkfront checks for exactly that.
		 */
		out->operation = s.indirect.indirect_op;
		out->op = decode_op(s.indirect.indirect_op);
		out->handle = s.indirect.handle;
		out->sector = s.indirect.sector_number;
		out->nr_segments = s.indirect.nr_segments;
		n = (out->nr_segments + VHA_BLKIF_SEGS_PER_INDIRECT_PAGE - 1) / VHA_BLKIF_SEGS_PER_INDIRECT_PAGE;
		out->nr_indirect_pages = n < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST ? n
										 : BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST;
		memcpy(out->indirect_grefs, s.indirect.indirect_grefs, sizeof(out->indirect_grefs));
		break;
	default:
		break;
	}
}

/* Does this operation write to the disk (so a read-only disk refuses it)? */
static bool op_writes(enum vha_blkif_op op)
{
	/*
	 * A flush is a write in Linux blkback (REQ_OP_WRITE | REQ_PREFLUSH) and
	 * xen_vbd_translate() refuses it on a read-only vbd; so do we.
	 */
	return op == VHA_BLKIF_WRITE || op == VHA_BLKIF_BARRIER || op == VHA_BLKIF_FLUSH ||
	       op == VHA_BLKIF_DISCARD;
}

/* Most segments this request may carry, given how it arrived. */
static uint32_t max_segments(const struct vha_blkif_limits *lim, const struct vha_blkif_req *req)
{
	uint32_t max;

	if (!req->indirect)
		return BLKIF_MAX_SEGMENTS_PER_REQUEST;
	max = lim->max_indirect_segments;
	return max < VHA_BLKIF_MAX_SEGMENTS ? max : VHA_BLKIF_MAX_SEGMENTS;
}

enum vha_blkif_reject vha_blkif_check_header(const struct vha_blkif_limits *lim, struct vha_blkif_req *req)
{
	if (req->indirect &&
	    (lim->max_indirect_segments == 0 || (req->op != VHA_BLKIF_READ && req->op != VHA_BLKIF_WRITE)))
		return VHA_BLKIF_REJECT_BAD_INDIRECT_OP;

	switch (req->op) {
	case VHA_BLKIF_READ:
	case VHA_BLKIF_WRITE:
		if (req->nr_segments == 0)
			return VHA_BLKIF_REJECT_NO_SEGMENTS;
		break;
	case VHA_BLKIF_FLUSH:
		if (!lim->flush)
			return VHA_BLKIF_REJECT_UNSUPPORTED_OP;
		break;
	case VHA_BLKIF_BARRIER:
		if (!lim->barrier)
			return VHA_BLKIF_REJECT_UNSUPPORTED_OP;
		break;
	case VHA_BLKIF_DISCARD:
		if (!__atomic_load_n(&lim->discard, __ATOMIC_ACQUIRE))
			return VHA_BLKIF_REJECT_UNSUPPORTED_OP;
		break;
	default:
		return VHA_BLKIF_REJECT_UNKNOWN_OP;
	}

	if (req->nr_segments > max_segments(lim, req))
		return VHA_BLKIF_REJECT_TOO_MANY_SEGMENTS;
	if (req->indirect)
		req->nr_indirect_pages = (req->nr_segments + VHA_BLKIF_SEGS_PER_INDIRECT_PAGE - 1) /
					 VHA_BLKIF_SEGS_PER_INDIRECT_PAGE;
	/* Known before any grant is mapped: refuse early, map nothing. */
	if (lim->readonly && op_writes(req->op))
		return VHA_BLKIF_REJECT_READONLY;
	return VHA_BLKIF_OK;
}

void vha_blkif_load_indirect(struct vha_blkif_req *req, const void *const *pages)
{
	struct blkif_request_segment copy[VHA_BLKIF_SEGS_PER_INDIRECT_PAGE];
	uint32_t done = 0, total = req->nr_segments;
	unsigned int page = 0, i, n;

	/* Callers validate first; this bound only keeps a bug from overrunning seg[]. */
	if (total > VHA_BLKIF_MAX_SEGMENTS)
		total = VHA_BLKIF_MAX_SEGMENTS;
	while (done < total) {
		n = total - done;
		if (n > VHA_BLKIF_SEGS_PER_INDIRECT_PAGE)
			n = VHA_BLKIF_SEGS_PER_INDIRECT_PAGE;
		/* The one read of this guest page. */
		memcpy(copy, pages[page], n * sizeof(copy[0]));
		ring_compiler_barrier();
		for (i = 0; i < n; i++)
			decode_seg(&req->seg[done + i], &copy[i]);
		done += n;
		page++;
	}
}

/* Mask of the 512-byte units a logical sector spans (0 for 512-byte sectors). */
static uint64_t sector_mask(const struct vha_blkif_limits *lim)
{
	uint32_t size = lim->sector_size;

	if (size <= 512 || (size & (size - 1)) != 0)
		return 0;
	return (size >> 9) - 1;
}

/* Is [sector, sector + count) inside a disk of `sectors`, without wrapping? */
static bool range_ok(uint64_t sector, uint64_t count, uint64_t sectors)
{
	return sector <= sectors && count <= sectors - sector;
}

enum vha_blkif_reject vha_blkif_check_segments(const struct vha_blkif_limits *lim, struct vha_blkif_req *req)
{
	uint64_t mask = sector_mask(lim), total = 0;
	uint32_t i;

	if (req->indirect && req->op != VHA_BLKIF_READ && req->op != VHA_BLKIF_WRITE)
		return VHA_BLKIF_REJECT_BAD_INDIRECT_OP;
	if (lim->readonly && op_writes(req->op))
		return VHA_BLKIF_REJECT_READONLY;

	if (req->op == VHA_BLKIF_DISCARD) {
		if (!range_ok(req->sector, req->nr_sectors, __atomic_load_n(&lim->sectors, __ATOMIC_ACQUIRE)))
			return VHA_BLKIF_REJECT_PAST_END;
		if ((req->sector | req->nr_sectors) & mask)
			return VHA_BLKIF_REJECT_MISALIGNED;
		return VHA_BLKIF_OK;
	}
	if (req->op == VHA_BLKIF_UNKNOWN)
		return VHA_BLKIF_REJECT_UNKNOWN_OP;
	/* Pure function of its inputs: never trust that check_header ran. */
	if (req->nr_segments > max_segments(lim, req))
		return VHA_BLKIF_REJECT_TOO_MANY_SEGMENTS;

	for (i = 0; i < req->nr_segments; i++) {
		const struct vha_blkif_seg *seg = &req->seg[i];

		if (seg->last_sect > 7)
			return VHA_BLKIF_REJECT_LAST_SECT_RANGE;
		if (seg->first_sect > seg->last_sect)
			return VHA_BLKIF_REJECT_FIRST_AFTER_LAST;
		total += (uint64_t)(seg->last_sect - seg->first_sect) + 1;
	}
	req->nr_sectors = total;

	/* A flush with no data touches no range (Linux skips the check too). */
	if (req->nr_segments == 0)
		return req->op == VHA_BLKIF_READ || req->op == VHA_BLKIF_WRITE ? VHA_BLKIF_REJECT_NO_SEGMENTS
									    : VHA_BLKIF_OK;
	if (!range_ok(req->sector, total, __atomic_load_n(&lim->sectors, __ATOMIC_ACQUIRE)))
		return VHA_BLKIF_REJECT_PAST_END;
	if (req->sector & mask)
		return VHA_BLKIF_REJECT_MISALIGNED;
	for (i = 0; i < req->nr_segments; i++) {
		const struct vha_blkif_seg *seg = &req->seg[i];

		if (((uint64_t)(seg->last_sect - seg->first_sect) + 1) & mask)
			return VHA_BLKIF_REJECT_MISALIGNED;
	}
	return VHA_BLKIF_OK;
}

enum vha_blkif_reject vha_blkif_validate(const struct vha_blkif_limits *lim, struct vha_blkif_req *req)
{
	enum vha_blkif_reject r = vha_blkif_check_header(lim, req);

	if (r != VHA_BLKIF_OK)
		return r;
	return vha_blkif_check_segments(lim, req);
}

/* ------------------------------- rings -------------------------------- */

/* Barriers (xen_mb/rmb/wmb) and single index accesses: common/ring_access.h. */

#define RING_BYTES(nr_pages) ((size_t)(nr_pages) * 4096u)

static bool ring_pages_valid(unsigned int nr_pages)
{
	return nr_pages != 0 && nr_pages <= VHA_BLKIF_MAX_RING_PAGES && (nr_pages & (nr_pages - 1)) == 0;
}

unsigned int vha_blkif_ring_size(unsigned int nr_pages)
{
	if (!ring_pages_valid(nr_pages))
		return 0;
	return __CONST_RING_SIZE(blkif, RING_BYTES(nr_pages));
}

void vha_blkif_back_init(struct vha_blkif_back *b, void *sring, unsigned int nr_pages)
{
	/* The frontend initialised the shared indexes; we only attach at 0. */
	BACK_RING_INIT(&b->ring, (blkif_sring_t *)sring, RING_BYTES(nr_pages));
	b->nr_pages = nr_pages;
}

int vha_blkif_back_snapshot(struct vha_blkif_back *b, RING_IDX *prod)
{
	return RING_BACK_SNAPSHOT(&b->ring, prod);
}

const void *vha_blkif_back_slot(struct vha_blkif_back *b, RING_IDX idx)
{
	return RING_GET_REQUEST(&b->ring, idx);
}

void vha_blkif_back_respond(struct vha_blkif_back *b, uint64_t id, uint8_t operation, int16_t status)
{
	/*
	 * Built as bytes, not as a struct: the padding of a struct has no
	 * defined value and a compiler may skip it, while every byte of this
	 * array is written as zero (XSA-216: padding leaked backend memory).
	 */
	unsigned char rsp[sizeof(struct blkif_response)] = { 0 };

	memcpy(rsp + offsetof(struct blkif_response, id), &id, sizeof(id));
	memcpy(rsp + offsetof(struct blkif_response, operation), &operation, sizeof(operation));
	memcpy(rsp + offsetof(struct blkif_response, status), &status, sizeof(status));
	memcpy(RING_GET_RESPONSE(&b->ring, b->ring.rsp_prod_pvt), rsp, sizeof(rsp));
	b->ring.rsp_prod_pvt++;
}

bool vha_blkif_back_push(struct vha_blkif_back *b)
{
	bool notify;

	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&b->ring, notify);
	return notify;
}

bool vha_blkif_back_final_check(struct vha_blkif_back *b)
{
	return RING_BACK_FINAL_CHECK(&b->ring);
}

bool vha_blkif_back_has_requests(const struct vha_blkif_back *b)
{
	RING_IDX prod = __atomic_load_n(&b->ring.sring->req_prod, __ATOMIC_ACQUIRE);

	return prod != b->ring.req_cons;
}

void vha_blkif_front_init(struct vha_blkif_front *f, void *sring, unsigned int nr_pages)
{
	/* Zero every slot too: the backend must not see old memory (XSA-403). */
	memset(sring, 0, RING_BYTES(nr_pages));
	XEN_FRONT_RING_INIT(&f->ring, (blkif_sring_t *)sring, RING_BYTES(nr_pages));
	f->nr_pages = nr_pages;
}

unsigned int vha_blkif_front_free(const struct vha_blkif_front *f)
{
	return RING_FREE_REQUESTS(&f->ring);
}

void vha_blkif_front_queue(struct vha_blkif_front *f, const void *req, size_t len)
{
	unsigned char slot[sizeof(union blkif_sring_entry)] = { 0 };

	if (len > sizeof(slot))
		len = sizeof(slot);
	memcpy(slot, req, len);
	memcpy(RING_GET_REQUEST(&f->ring, f->ring.req_prod_pvt), slot, sizeof(slot));
	f->ring.req_prod_pvt++;
}

bool vha_blkif_front_push(struct vha_blkif_front *f)
{
	bool notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f->ring, notify);
	return notify;
}

int vha_blkif_front_take_response(struct vha_blkif_front *f, struct blkif_response *rsp)
{
	int ready = RING_FRONT_RESPONSE_READY(&f->ring);

	if (ready <= 0)
		return ready;   /* none yet, or more responses than requests: a broken backend */
	/* The one read of this response slot. */
	memcpy(rsp, RING_GET_RESPONSE(&f->ring, f->ring.rsp_cons), sizeof(*rsp));
	f->ring.rsp_cons++;
	return 1;
}

bool vha_blkif_front_has_responses(const struct vha_blkif_front *f)
{
	RING_IDX prod = __atomic_load_n(&f->ring.sring->rsp_prod, __ATOMIC_ACQUIRE);

	return prod != f->ring.rsp_cons;
}

bool vha_blkif_front_final_check(struct vha_blkif_front *f)
{
	return RING_FRONT_FINAL_CHECK(&f->ring);
}
