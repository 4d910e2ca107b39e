/* SPDX-License-Identifier: MIT */
/*
 * blkif over the real Xen headers: shared rings (1..2^N pages), the
 * copy-out-then-validate of requests into a private normalized form, and
 * response building. Used by both ends; knows nothing of either.
 *
 * Security contract (backend): the shared ring and every granted page are
 * hostile. vha_blkif_copy_request() and vha_blkif_load_indirect() copy
 * guest memory exactly once into private storage; everything after works on
 * that copy only. Never read a ring slot twice.
 *
 * Only the native 64-bit layout ("x86_64-abi") is supported; see
 * vha_blkif_protocol_supported().
 */
#ifndef VHA_BLKIF_H
#define VHA_BLKIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/io/ring.h>
#include <xen/io/blkif.h>

/* Segments per indirect page: 4096 / sizeof(struct blkif_request_segment). */
#define VHA_BLKIF_SEGS_PER_INDIRECT_PAGE 512u
/* Most segments one request may carry here (compile-time bound). */
#define VHA_BLKIF_MAX_SEGMENTS 512u
/* Largest ring we support: 2^VHA_BLKIF_MAX_RING_ORDER pages. */
#define VHA_BLKIF_MAX_RING_ORDER 4u
#define VHA_BLKIF_MAX_RING_PAGES (1u << VHA_BLKIF_MAX_RING_ORDER)
#define VHA_BLKIF_PROTOCOL_NATIVE "x86_64-abi"

/* Is the "protocol" node's value one we speak? NULL/"" means native. */
bool vha_blkif_protocol_supported(const char *protocol);

/* Number of request slots in a ring of nr_pages (power of two). */
unsigned int vha_blkif_ring_size(unsigned int nr_pages);

/* ----------------------------- requests ----------------------------- */

enum vha_blkif_op {
	VHA_BLKIF_READ,
	VHA_BLKIF_WRITE,
	VHA_BLKIF_FLUSH,        /* BLKIF_OP_FLUSH_DISKCACHE: may carry data segments */
	VHA_BLKIF_BARRIER,      /* BLKIF_OP_WRITE_BARRIER: a write ordered against all others */
	VHA_BLKIF_DISCARD,
	VHA_BLKIF_UNKNOWN,
};

struct vha_blkif_seg {
	grant_ref_t gref;
	uint8_t first_sect;     /* 512-byte sectors within the page, inclusive */
	uint8_t last_sect;
};

/* The private, normalized copy of one request. Lives in backend memory. */
struct vha_blkif_req {
	uint64_t id;                    /* echoed in the response */
	uint8_t operation;              /* echo in the response: the ring's operation byte, or for
					 * BLKIF_OP_INDIRECT its indirect_op (as Linux blkback does,
					 * and as blkfront checks) */
	enum vha_blkif_op op;
	bool indirect;                  /* arrived as BLKIF_OP_INDIRECT */
	bool secure;                    /* discard: BLKIF_DISCARD_SECURE */
	uint16_t handle;
	uint64_t sector;                /* 512-byte units, always */
	uint64_t nr_sectors;            /* discard: from the request; r/w: sum of segments after validation */
	uint32_t nr_segments;
	uint32_t nr_indirect_pages;     /* indirect: pages holding the segment list */
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	struct vha_blkif_seg seg[VHA_BLKIF_MAX_SEGMENTS];
};

/* What the backend offers; validation is checked against this. */
struct vha_blkif_limits {
	uint64_t sectors;               /* disk size in 512-byte sectors (read atomically: online resize stores it) */
	uint32_t sector_size;           /* logical sector size: 512 or 4096 */
	uint32_t max_indirect_segments; /* 0: indirect not offered */
	bool readonly;
	bool flush;                     /* feature-flush-cache offered */
	bool barrier;                   /* feature-barrier offered */
	bool discard;                   /* feature-discard offered */
};

/* Every way a request can be rejected, with the status it gets. */
enum vha_blkif_reject {
	VHA_BLKIF_OK = 0,
	VHA_BLKIF_REJECT_UNKNOWN_OP,        /* operation byte not known */
	VHA_BLKIF_REJECT_UNSUPPORTED_OP,    /* known but not offered (discard, barrier, flush) */
	VHA_BLKIF_REJECT_BAD_INDIRECT_OP,   /* indirect_op not READ/WRITE (or indirect not offered) */
	VHA_BLKIF_REJECT_NO_SEGMENTS,       /* read/write with 0 segments */
	VHA_BLKIF_REJECT_TOO_MANY_SEGMENTS, /* > 11 direct, or > max_indirect_segments */
	VHA_BLKIF_REJECT_FIRST_AFTER_LAST,  /* first_sect > last_sect */
	VHA_BLKIF_REJECT_LAST_SECT_RANGE,   /* last_sect > 7 */
	VHA_BLKIF_REJECT_PAST_END,          /* sector + length beyond the disk, or overflowing */
	VHA_BLKIF_REJECT_READONLY,          /* write, barrier or discard to a read-only disk */
	VHA_BLKIF_REJECT_MISALIGNED,        /* start or a segment not a multiple of sector-size */
	VHA_BLKIF_REJECT_COUNT
};

/* Name (for logs) and blkif status (BLKIF_RSP_ERROR or BLKIF_RSP_EOPNOTSUPP). */
const char *vha_blkif_reject_name(enum vha_blkif_reject r);
int16_t vha_blkif_reject_status(enum vha_blkif_reject r);

/*
 * Copy one ring slot (native layout) into *out, reading the slot exactly once
 * (one memcpy into private storage, then decoding the private copy). For an
 * indirect request, fills indirect_grefs/nr_indirect_pages from the copy;
 * segments follow with vha_blkif_load_indirect(). Never fails: an unknown
 * operation decodes to VHA_BLKIF_UNKNOWN and validation rejects it.
 */
void vha_blkif_copy_request(const void *slot, struct vha_blkif_req *out);

/*
 * First pass, before any grant is mapped: op known and offered, segment
 * counts within limits (for indirect: nr_segments <= max_indirect_segments,
 * and nr_indirect_pages computed from it), no write-like op (write, barrier,
 * flush, discard) on a read-only disk. Returns VHA_BLKIF_OK or the reason.
 */
enum vha_blkif_reject vha_blkif_check_header(const struct vha_blkif_limits *lim, struct vha_blkif_req *req);

/*
 * Indirect only: copy req->nr_segments segment descriptors out of the mapped
 * indirect pages (pages[i] is page i), once. Call after check_header.
 */
void vha_blkif_load_indirect(struct vha_blkif_req *req, const void *const *pages);

/*
 * Second pass, on the private copy: every segment's sector range, the disk
 * range (no overflow), read-only, alignment to sector_size. Sets
 * req->nr_sectors for reads/writes. Pure function of its inputs.
 */
enum vha_blkif_reject vha_blkif_check_segments(const struct vha_blkif_limits *lim, struct vha_blkif_req *req);

/*
 * Both passes for a direct request (convenience for tests and the fuzzer).
 * An indirect request needs vha_blkif_load_indirect() between the passes.
 */
enum vha_blkif_reject vha_blkif_validate(const struct vha_blkif_limits *lim, struct vha_blkif_req *req);

/* ----------------------------- back ring ----------------------------- */

struct vha_blkif_back {
	blkif_back_ring_t ring;
	unsigned int nr_pages;
};

/*
 * Attach to a ring the frontend initialised (sring: nr_pages contiguous
 * pages). nr_pages must be one vha_blkif_ring_size() accepts (1..16, a power
 * of two): validate the frontend's ring-page-order before calling.
 */
void vha_blkif_back_init(struct vha_blkif_back *b, void *sring, unsigned int nr_pages);

/*
 * Snapshot the frontend's req_prod (read barrier after it) into *prod.
 * Returns the number of unconsumed requests, or -EPROTO if req_prod runs
 * more than a ring ahead of our responses (a bogus or hostile frontend:
 * stop the device). Consume slots req_cons..*prod-1, then set req_cons.
 */
int vha_blkif_back_snapshot(struct vha_blkif_back *b, RING_IDX *prod);
/* The slot for index idx (masked). Read it once, with vha_blkif_copy_request(). */
const void *vha_blkif_back_slot(struct vha_blkif_back *b, RING_IDX idx);

/*
 * Queue one response at rsp_prod_pvt, built in zeroed storage so padding
 * never carries backend memory (XSA-216). Not visible until push.
 */
void vha_blkif_back_respond(struct vha_blkif_back *b, uint64_t id, uint8_t operation, int16_t status);
/* Publish queued responses; true when the frontend asked to be notified. */
bool vha_blkif_back_push(struct vha_blkif_back *b);
/*
 * RING_FINAL_CHECK_FOR_REQUESTS: re-arm req_event and report whether
 * requests arrived meanwhile (true: keep working, do not sleep).
 */
bool vha_blkif_back_final_check(struct vha_blkif_back *b);
/*
 * Whether the frontend has published requests not yet taken, without
 * touching req_event (busy polling: the frontend is not asked to notify).
 * A hint only: the guest can change req_prod at any time, and taking the
 * requests reads and checks it again.
 */
bool vha_blkif_back_has_requests(const struct vha_blkif_back *b);

/* ----------------------------- front ring ----------------------------- */

struct vha_blkif_front {
	blkif_front_ring_t ring;
	unsigned int nr_pages;
};

/* Initialise a fresh shared ring (SHARED_RING_INIT) and our view of it. */
void vha_blkif_front_init(struct vha_blkif_front *f, void *sring, unsigned int nr_pages);
/* Free request slots. */
unsigned int vha_blkif_front_free(const struct vha_blkif_front *f);
/* Write *req into the next free slot (one memcpy) and advance req_prod_pvt. */
void vha_blkif_front_queue(struct vha_blkif_front *f, const void *req, size_t len);
/* Publish queued requests; true when the backend asked to be notified. */
bool vha_blkif_front_push(struct vha_blkif_front *f);
/*
 * Take the next response (copied once into *rsp). Returns 1 if one was
 * taken, 0 if none, -EPROTO if the backend's rsp_prod is beyond what we
 * produced (a broken backend).
 */
int vha_blkif_front_take_response(struct vha_blkif_front *f, struct blkif_response *rsp);
/* RING_FINAL_CHECK_FOR_RESPONSES: re-arm rsp_event; true if more arrived. */
bool vha_blkif_front_final_check(struct vha_blkif_front *f);
/*
 * Whether the backend has published responses not yet taken, without
 * touching rsp_event (busy polling: the backend is not asked to notify).
 * A hint only: taking the responses reads and checks rsp_prod again.
 */
bool vha_blkif_front_has_responses(const struct vha_blkif_front *f);

#endif
