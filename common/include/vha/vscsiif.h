/* SPDX-License-Identifier: MIT */
/*
 * vscsiif (Xen PV SCSI) over the real Xen header <xen/io/vscsiif.h>: the
 * one-page ring, the copy-out-then-validate of requests into a private
 * form, the sg-grant segment tables, and response building (rslt, sense,
 * residual). Used by both ends; knows nothing of either. The protocol
 * notes are docs/vscsiif.md.
 *
 * Security contract (backend): the shared ring, and every page a request's
 * grants point at, are hostile. vha_vscsiif_copy_request() reads a ring
 * slot exactly once (one memcpy into private storage) and
 * vha_vscsiif_load_sg() reads each granted segment table exactly once;
 * every check and every later use works on the private copy. Never read a
 * ring slot or a segment-table page twice.
 *
 * Nothing here maps, logs or allocates: every function is a pure function
 * of its arguments (apart from the ring helpers' shared indexes), safe to
 * call from any thread on distinct objects.
 *
 * Only the native 64-bit layout ("x86_64-abi") is supported, as for blkif.
 */
#ifndef VHA_VSCSIIF_H
#define VHA_VSCSIIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/grant_table.h>
#include <xen/io/ring.h>
#include <xen/io/vscsiif.h>

#define VHA_VSCSIIF_PAGE_SIZE VSCSIIF_PAGE_SIZE
/* Segment descriptors one granted segment-table page holds (4096 / 8). */
#define VHA_VSCSIIF_SEGS_PER_PAGE 512u
/*
 * Most data segments one request may describe here (compile-time bound of
 * the private copy): 1024 pages, 4 MiB. The negotiated bound, what the
 * backend writes to feature-sg-grant, is at most this (Linux scsiback
 * offers 1024 too; Linux scsifront uses at most 128 of it).
 */
#define VHA_VSCSIIF_MAX_SEGMENTS 1024u
/* Slots in the (always one-page) ring: 16. */
#define VHA_VSCSIIF_RING_SIZE 16u
/* A fixed-format sense block as vha_vscsiif_sense_fixed() builds it. */
#define VHA_VSCSIIF_SENSE_FIXED_LEN 18u

/* sc_data_direction: Linux's enum dma_data_direction, which the ring carries. */
#define VHA_VSCSIIF_DMA_BIDIRECTIONAL 0u
#define VHA_VSCSIIF_DMA_TO_DEVICE 1u   /* guest -> device: a write */
#define VHA_VSCSIIF_DMA_FROM_DEVICE 2u /* device -> guest: a read */
#define VHA_VSCSIIF_DMA_NONE 3u

/* SCSI status bytes (SAM-5), the low byte of rslt. */
#define VHA_SCSI_STATUS_GOOD 0x00u
#define VHA_SCSI_STATUS_CHECK_CONDITION 0x02u
#define VHA_SCSI_STATUS_CONDITION_MET 0x04u
#define VHA_SCSI_STATUS_BUSY 0x08u
#define VHA_SCSI_STATUS_RESERVATION_CONFLICT 0x18u
#define VHA_SCSI_STATUS_TASK_SET_FULL 0x28u
#define VHA_SCSI_STATUS_TASK_ABORTED 0x40u

/* Sense keys (SPC-4 table 52). */
#define VHA_SCSI_SENSE_NO_SENSE 0x0u
#define VHA_SCSI_SENSE_RECOVERED_ERROR 0x1u
#define VHA_SCSI_SENSE_NOT_READY 0x2u
#define VHA_SCSI_SENSE_MEDIUM_ERROR 0x3u
#define VHA_SCSI_SENSE_HARDWARE_ERROR 0x4u
#define VHA_SCSI_SENSE_ILLEGAL_REQUEST 0x5u
#define VHA_SCSI_SENSE_UNIT_ATTENTION 0x6u
#define VHA_SCSI_SENSE_DATA_PROTECT 0x7u
#define VHA_SCSI_SENSE_ABORTED_COMMAND 0xbu
#define VHA_SCSI_SENSE_MISCOMPARE 0xeu

/* Is the "protocol" node's value one we speak? NULL/"" means native. */
bool vha_vscsiif_protocol_supported(const char *protocol);

/* ----------------------------- requests ----------------------------- */

/* One segment as the ring (or a segment-table page) carries it. */
struct vha_vscsiif_seg {
	grant_ref_t gref;
	uint16_t offset;        /* bytes into the granted page */
	uint16_t length;        /* bytes */
};

/*
 * The private copy of one request. Lives in backend memory (about 8 KiB:
 * keep it off small stacks). Filled by vha_vscsiif_copy_request() and, for
 * sg-grant requests, vha_vscsiif_load_sg(); the checks below only read it,
 * except for the counts they compute (nr_segments, data_len).
 */
struct vha_vscsiif_req {
	uint16_t rqid;                  /* echoed in the response */
	uint8_t act;                    /* VSCSIIF_ACT_SCSI_* as sent */
	uint8_t cmd_len;                /* as sent; checked to be 1..16 for a CDB */
	uint8_t cdb[VSCSIIF_MAX_COMMAND_SIZE]; /* all 16 bytes; those past cmd_len are zeroed */
	uint16_t timeout;               /* timeout_per_command, seconds (deprecated; 0 = default) */
	uint16_t channel, id, lun;      /* the virtual address; which LUN it is, is the backend's */
	uint16_t ref_rqid;              /* ABORT: the rqid to abort */
	uint8_t direction;              /* sc_data_direction as sent */
	uint8_t nr_segments_byte;       /* the ring's nr_segments, VSCSIIF_SG_GRANT included */
	bool sg_grant;                  /* VSCSIIF_SG_GRANT was set: ring_seg[] are segment tables */
	uint32_t nr_ring_segs;          /* entries of ring_seg[] the request names (unbounded until checked) */
	struct vha_vscsiif_seg ring_seg[VSCSIIF_SG_TABLESIZE];
	/*
	 * The data segments: for a direct request a copy of ring_seg[]; for
	 * sg-grant, counted by check_header and filled by vha_vscsiif_load_sg().
	 */
	uint32_t nr_segments;
	uint32_t nr_loaded;             /* entries of seg[] filled: the copy's, or load_sg's */
	uint32_t data_len;              /* sum of seg[].length, set by check_segments */
	struct vha_vscsiif_seg seg[VHA_VSCSIIF_MAX_SEGMENTS];
};

/* What the backend offers; validation is checked against this. */
struct vha_vscsiif_limits {
	/*
	 * feature-sg-grant as published: most data segments an sg-grant
	 * request may describe (effective bound min(this, MAX_SEGMENTS)). 0:
	 * feature-sg-grant not offered, the VSCSIIF_SG_GRANT flag is refused.
	 */
	uint32_t max_sg_segments;
	uint32_t max_data_bytes;        /* most data bytes per command; 0: only the segment bound */
	/*
	 * rqid and ref_rqid must be below this (the ring size, 16, for
	 * frontends like Linux scsifront that use the ring slot's shadow
	 * index); the backend keys its in-flight table on rqid. 0: unchecked.
	 */
	uint32_t nr_rqids;
	bool bidirectional;             /* accept DMA_BIDIRECTIONAL (neither LUN kind does yet) */
};

/* Every way a request can be rejected; see docs/vscsiif.md for the order. */
enum vha_vscsiif_reject {
	VHA_VSCSIIF_OK = 0,
	VHA_VSCSIIF_REJECT_UNKNOWN_ACT,        /* act not CDB/ABORT/RESET (SG_PRESET is deprecated) */
	VHA_VSCSIIF_REJECT_BAD_RQID,           /* rqid >= nr_rqids */
	VHA_VSCSIIF_REJECT_BAD_REF_RQID,       /* ABORT: ref_rqid >= nr_rqids, or the abort itself */
	VHA_VSCSIIF_REJECT_BAD_CMD_LEN,        /* CDB: cmd_len 0 or above 16 */
	VHA_VSCSIIF_REJECT_BAD_DIRECTION,      /* sc_data_direction not one of the four */
	VHA_VSCSIIF_REJECT_BIDIRECTIONAL,      /* DMA_BIDIRECTIONAL while not offered */
	VHA_VSCSIIF_REJECT_SG_GRANT_NOT_OFFERED, /* VSCSIIF_SG_GRANT without feature-sg-grant */
	VHA_VSCSIIF_REJECT_BAD_SG_PAGES,       /* VSCSIIF_SG_GRANT with 0 or more than 26 table pages */
	VHA_VSCSIIF_REJECT_BAD_SG_TABLE,       /* a table entry: empty, not whole descriptors, or past its page */
	VHA_VSCSIIF_REJECT_TOO_MANY_SEGMENTS,  /* direct > 26, or tables describing > the offer */
	VHA_VSCSIIF_REJECT_DIRECTION_MISMATCH, /* DMA_NONE with data, or data direction without */
	VHA_VSCSIIF_REJECT_BAD_SEGMENT,        /* a data segment empty or past the end of its page */
	VHA_VSCSIIF_REJECT_TOO_LONG,           /* total data length above max_data_bytes */
	VHA_VSCSIIF_REJECT_COUNT
};

/* Name for logs ("invalid" for a value outside the enum). Never NULL. */
const char *vha_vscsiif_reject_name(enum vha_vscsiif_reject r);

/*
 * The rslt a rejected request is answered with: for ABORT and RESET
 * XEN_VSCSIIF_RSLT_RESET_FAILED (what Linux scsifront expects of a task
 * management request), for anything else host byte
 * XEN_VSCSIIF_RSLT_HOST_ERROR with status GOOD, as Linux scsiback answers
 * a malformed request. `act` is req->act. For VHA_VSCSIIF_OK returns 0.
 */
int32_t vha_vscsiif_reject_rslt(enum vha_vscsiif_reject r, uint8_t act);

/*
 * Copy one ring slot into *out, reading the slot exactly once (one memcpy
 * into private storage, then decoding that copy). Never fails: whatever
 * the guest wrote decodes, and validation decides. CDB bytes past
 * min(cmd_len, 16) are zeroed in the copy; at most 26 ring segments are
 * copied whatever nr_segments claims.
 */
void vha_vscsiif_copy_request(const void *slot, struct vha_vscsiif_req *out);

/*
 * What the segment tables of an sg-grant request hold, from the copied
 * ring segments alone (nothing mapped): nr_pages table pages to map (read
 * only), and nr_segments data segments in them (the sum of the tables'
 * lengths / 8). `max_segments` bounds nr_segments (the caller's offer;
 * capped at VHA_VSCSIIF_MAX_SEGMENTS). Returns VHA_VSCSIIF_OK,
 * BAD_SG_PAGES (0 or more than 26 pages), BAD_SG_TABLE (an entry empty,
 * not a multiple of 8 bytes, or past its page) or TOO_MANY_SEGMENTS.
 * A request without VSCSIIF_SG_GRANT describes 0 pages and its direct count.
 */
struct vha_vscsiif_sg_desc {
	uint32_t nr_pages;
	uint32_t nr_segments;
};
enum vha_vscsiif_reject vha_vscsiif_sg_describe(const struct vha_vscsiif_req *req, uint32_t max_segments,
						struct vha_vscsiif_sg_desc *out);

/*
 * First pass, before any grant is mapped: act, rqid (and ref_rqid for
 * ABORT), and for a CDB cmd_len, direction, the segment counts (direct <=
 * 26; sg-grant offered, its tables described as by vha_vscsiif_sg_describe)
 * and direction against data. Sets req->nr_segments for an sg-grant
 * request. ABORT and RESET carry no data: their cmd_len, cdb, direction
 * and segments are not checked (Linux scsifront fills them from the
 * command being aborted) and the backend must not map them.
 */
enum vha_vscsiif_reject vha_vscsiif_check_header(const struct vha_vscsiif_limits *lim,
						  struct vha_vscsiif_req *req);

/*
 * sg-grant only, after check_header: copy the data segment descriptors out
 * of the mapped table pages (pages[i] is the page ring_seg[i] names, i <
 * nr_ring_segs), each page read once, into req->seg[]. Copies at most
 * req->nr_segments descriptors, and never reads past a page, whatever the
 * copy says; sets req->nr_loaded. No-op for a direct request.
 */
void vha_vscsiif_load_sg(struct vha_vscsiif_req *req, const void *const *pages);

/*
 * Second pass, on the private copy (direct, or sg-grant after load_sg):
 * counts again (never trusts that check_header ran), the segments counted
 * are the ones loaded (BAD_SG_TABLE if load_sg did not run), every data
 * segment non-empty and inside its page, the total against max_data_bytes.
 * Sets req->data_len. ABORT/RESET pass with data_len 0.
 */
enum vha_vscsiif_reject vha_vscsiif_check_segments(const struct vha_vscsiif_limits *lim,
						    struct vha_vscsiif_req *req);

/* Both passes for a direct request (convenience for tests and the fuzzer). */
enum vha_vscsiif_reject vha_vscsiif_validate(const struct vha_vscsiif_limits *lim, struct vha_vscsiif_req *req);

/*
 * May the data grants of this validated CDB be mapped read-only? True for
 * DMA_TO_DEVICE (the backend only reads guest pages). Never map with more
 * rights than the request needs; segment-table pages are always read-only.
 */
bool vha_vscsiif_data_readonly(const struct vha_vscsiif_req *req);

/* ----------------------------- responses ----------------------------- */

/* rslt for a completed command: host byte (XEN_VSCSIIF_RSLT_HOST_*) and SCSI status. */
int32_t vha_vscsiif_rslt(uint8_t host, uint8_t status);
/* rslt for ABORT/RESET: XEN_VSCSIIF_RSLT_RESET_SUCCESS (0x2002) or _FAILED (0x2003). */
int32_t vha_vscsiif_rslt_task(bool success);

/*
 * Build fixed-format sense (response code 0x70, current error) in out[0..17]:
 * sense key (low 4 bits), ASC, ASCQ, additional length 10. Returns 18.
 */
size_t vha_vscsiif_sense_fixed(uint8_t out[VHA_VSCSIIF_SENSE_FIXED_LEN], uint8_t key, uint8_t asc, uint8_t ascq);
/* Set the INFORMATION field (bytes 3..6, big-endian) and the VALID bit of fixed sense. */
void vha_vscsiif_sense_set_info(uint8_t out[VHA_VSCSIIF_SENSE_FIXED_LEN], uint32_t info);
/*
 * Set the sense-key specific field pointer (ILLEGAL REQUEST): SKSV, C/D
 * (in_cdb), the byte and, when bit < 8, BPV and the bit.
 */
void vha_vscsiif_sense_set_field(uint8_t out[VHA_VSCSIIF_SENSE_FIXED_LEN], bool in_cdb, uint16_t byte,
				 unsigned int bit);

/*
 * How many bytes of a sense buffer (from a device, avail bytes valid) to
 * pass to the guest: 0 unless the response code is 0x70..0x73 and at
 * least 8 bytes are there; else 8 + the additional length, capped to
 * avail and to VSCSIIF_SENSE_BUFFERSIZE (96).
 */
size_t vha_vscsiif_sense_len(const uint8_t *sense, size_t avail);

/*
 * residual_len: data_len - transferred, or 0 when it all went (or more
 * was reported). vha_vscsiif_residual_clamp() for a residual a device
 * reported (SG_IO's resid): clamped to 0..data_len.
 */
uint32_t vha_vscsiif_residual(uint32_t data_len, uint64_t transferred);
uint32_t vha_vscsiif_residual_clamp(uint32_t data_len, int64_t reported);

/* One response. sense may be NULL (sense_len ignored); sense_len is capped to 96. */
struct vha_vscsiif_rsp {
	uint16_t rqid;
	uint8_t act;                    /* echoed; deprecated in the header, unread by Linux */
	int32_t rslt;
	uint32_t residual;
	const uint8_t *sense;
	size_t sense_len;
};

/*
 * Encode *rsp into a 252-byte response in out, every other byte zero
 * (XSA-216: no backend memory in padding or reserved words).
 */
void vha_vscsiif_encode_response(void *out, const struct vha_vscsiif_rsp *rsp);

/* ----------------------------- back ring ----------------------------- */

struct vha_vscsiif_back {
	vscsiif_back_ring_t ring;
};

/* Attach to the one-page ring the frontend initialised. */
void vha_vscsiif_back_init(struct vha_vscsiif_back *b, void *sring);
/*
 * Snapshot the frontend's req_prod once (read barrier after it) into
 * *prod. Returns the number of unconsumed requests, or -EPROTO if req_prod
 * runs more than a ring ahead of our responses or behind req_cons (a bogus
 * or hostile frontend: stop the device). Consume req_cons..*prod-1.
 */
int vha_vscsiif_back_snapshot(struct vha_vscsiif_back *b, RING_IDX *prod);
/* The slot for index idx (masked). Read it once, with vha_vscsiif_copy_request(). */
const void *vha_vscsiif_back_slot(struct vha_vscsiif_back *b, RING_IDX idx);
/* Queue one response at rsp_prod_pvt (vha_vscsiif_encode_response). Not visible until push. */
void vha_vscsiif_back_respond(struct vha_vscsiif_back *b, const struct vha_vscsiif_rsp *rsp);
/* Publish queued responses; true when the frontend asked to be notified. */
bool vha_vscsiif_back_push(struct vha_vscsiif_back *b);
/* RING_FINAL_CHECK_FOR_REQUESTS: re-arm req_event; true if requests arrived meanwhile. */
bool vha_vscsiif_back_final_check(struct vha_vscsiif_back *b);

/* ----------------------------- front ring ----------------------------- */

struct vha_vscsiif_front {
	vscsiif_front_ring_t ring;
};

/* Initialise a fresh one-page shared ring (zeroed, SHARED_RING_INIT) and our view of it. */
void vha_vscsiif_front_init(struct vha_vscsiif_front *f, void *sring);
/* Free request slots. */
unsigned int vha_vscsiif_front_free(const struct vha_vscsiif_front *f);
/* Write *req into the next free slot (one memcpy) and advance req_prod_pvt. */
void vha_vscsiif_front_queue(struct vha_vscsiif_front *f, const struct vscsiif_request *req);
/* Publish queued requests; true when the backend asked to be notified. */
bool vha_vscsiif_front_push(struct vha_vscsiif_front *f);
/*
 * Take the next response, copied once into *rsp. Returns 1 if one was
 * taken, 0 if none, -EPROTO if rsp_prod is beyond what we produced.
 */
int vha_vscsiif_front_take_response(struct vha_vscsiif_front *f, struct vscsiif_response *rsp);

#endif
