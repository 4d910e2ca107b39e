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

#include "vha/blkif.h"

/*
 * Keeps the compiler from re-reading a field from shared memory instead of
 * from the private copy just made: after this point the copy is the only
 * source. (Without it, the optimiser may legally forward loads from the
 * slot, recreating the XSA-155 double fetch.)
 */
#define blkif_compiler_barrier() __asm__ __volatile__("" ::: "memory")

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
	blkif_compiler_barrier();

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
		if (!lim->discard)
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
		blkif_compiler_barrier();
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
		if (!range_ok(req->sector, req->nr_sectors, lim->sectors))
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
	if (!range_ok(req->sector, total, lim->sectors))
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
