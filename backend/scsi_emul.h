/* SPDX-License-Identifier: MIT */
/*
 * The emulated SCSI disk of a vscsiif LUN (issue 11, "LUN kinds",
 * emulated): the SBC/SPC subset Linux's sd and common tools use, decided
 * synchronously. One call takes a command and says either "complete it
 * now" (status, data-in written into the buffers, residual, sense) or
 * "submit this I/O to the engine" (read, write, flush, discard or write
 * zeroes, in bytes). The command set and the error policy are in
 * docs/scsi.md.
 *
 * Pure: no I/O, no allocation, no locking, no logging. The only state is
 * the LUN description the caller owns, whose unit_attention flag
 * scsi_emul_execute() clears when it reports it; the caller serialises
 * calls for one LUN (vscsiif answers a ring from one worker).
 *
 * Everything in the CDB and the data-out buffer is guest-controlled and
 * treated as hostile; the data-out buffer (guest memory) is read at most
 * once per command, into a private copy.
 */
#ifndef VHA_BACKEND_SCSI_EMUL_H
#define VHA_BACKEND_SCSI_EMUL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define SCSI_EMUL_CDB_MAX 16
#define SCSI_EMUL_SENSE_LEN 18          /* fixed format, response code 0x70 */

/* SAM status codes. */
#define SCSI_STATUS_GOOD 0x00
#define SCSI_STATUS_CHECK_CONDITION 0x02

/* Sense keys. */
#define SCSI_SENSE_NO_SENSE 0x00
#define SCSI_SENSE_NOT_READY 0x02
#define SCSI_SENSE_MEDIUM_ERROR 0x03
#define SCSI_SENSE_HARDWARE_ERROR 0x04
#define SCSI_SENSE_ILLEGAL_REQUEST 0x05
#define SCSI_SENSE_UNIT_ATTENTION 0x06
#define SCSI_SENSE_DATA_PROTECT 0x07
#define SCSI_SENSE_ABORTED_COMMAND 0x0b

/* Limits advertised in the Block Limits VPD page (0xb0) and enforced. */
#define SCSI_EMUL_UNMAP_MAX_DESCRIPTORS 64u     /* block descriptors per UNMAP */
#define SCSI_EMUL_UNMAP_MAX_BLOCKS 0x400000u    /* logical blocks per UNMAP, all descriptors */
#define SCSI_EMUL_WRITE_SAME_MAX_BLOCKS 0x400000u

/*
 * Data direction of the command's buffers, as the transport says. The
 * values are Linux's enum dma_data_direction, which vscsiif's
 * sc_data_direction carries.
 */
enum scsi_emul_dir {
	SCSI_EMUL_DIR_BIDIRECTIONAL = 0,
	SCSI_EMUL_DIR_TO_DEVICE = 1,    /* data-out: the buffers hold what the initiator sends */
	SCSI_EMUL_DIR_FROM_DEVICE = 2,  /* data-in: the device fills the buffers */
	SCSI_EMUL_DIR_NONE = 3,
};

/*
 * What the emulation knows of a LUN. The caller fills it from the engine's
 * geometry and the device's configuration; scsi_emul_lun_check() says
 * whether it is usable. Strings may be NULL (a default is used); they are
 * reported space-padded or truncated to their SCSI field, non-printable
 * bytes as '?'.
 */
struct scsi_emul_lun {
	uint64_t blocks;                /* logical blocks; blocks * block_size must fit in 63 bits */
	uint32_t block_size;            /* logical block size: 512 or 4096 */
	uint8_t physical_exponent;      /* physical block = logical << this (0..15) */
	uint32_t max_transfer_blocks;   /* largest READ/WRITE; 0: not reported, not enforced */
	bool read_only;
	bool discard;                   /* the engine can discard: UNMAP, WRITE SAME with UNMAP */
	bool discard_zeroes;            /* discarded blocks read back as zeroes (LBPRZ) */
	bool write_zeroes;              /* the engine can write zeroes: WRITE SAME of a zero block */
	bool write_cache;               /* volatile write cache (WCE); false: a write is durable when done */
	bool unit_attention;            /* capacity changed, not yet reported: set after a resize */
	const char *vendor;             /* T10 vendor id, 8 bytes: default "VHA" */
	const char *product;            /* 16 bytes: default "VIRTUAL-DISK" */
	const char *revision;           /* 4 bytes: default "0001" */
	const char *serial;             /* unit serial number (VPD 0x80), up to 64 bytes; default "" */
	const char *naa;                /* NAA designator (VPD 0x83) as 16 or 32 hex digits, the NAA
					 * nibble first (e.g. "6..."); NULL or malformed: none */
	const uint32_t *luns;           /* REPORT LUNS: the LUNs of this target, below 16384; */
	size_t nr_luns;                 /* none: LUN 0 alone */
};

enum scsi_emul_op {
	SCSI_EMUL_OP_READ,              /* readv length bytes at offset into the buffers */
	SCSI_EMUL_OP_WRITE,             /* writev length bytes from the buffers at offset */
	SCSI_EMUL_OP_FLUSH,             /* make completed writes durable (offset/length: the range asked) */
	SCSI_EMUL_OP_DISCARD,           /* discard ranges[0..nr_ranges) */
	SCSI_EMUL_OP_WRITE_ZEROES,      /* write zeroes over length bytes at offset */
};

struct scsi_emul_range {
	uint64_t offset, length;        /* bytes */
};

/* An I/O for the engine. Offsets and lengths are in bytes, inside the LUN. */
struct scsi_emul_io {
	enum scsi_emul_op op;
	bool fua;                       /* WRITE: durable before completion (FUA bit) */
	uint64_t offset, length;        /* READ/WRITE: the first length bytes of the buffers */
	unsigned int nr_ranges;         /* DISCARD: 1..SCSI_EMUL_UNMAP_MAX_DESCRIPTORS */
	struct scsi_emul_range ranges[SCSI_EMUL_UNMAP_MAX_DESCRIPTORS];
};

enum scsi_emul_action {
	SCSI_EMUL_COMPLETE,             /* answer now with status, sense, data_in, residual */
	SCSI_EMUL_SUBMIT,               /* submit io; on success answer GOOD with residual */
};

struct scsi_emul_result {
	enum scsi_emul_action action;
	uint8_t status;                 /* COMPLETE: SCSI_STATUS_* */
	uint8_t sense_len;              /* 0, or SCSI_EMUL_SENSE_LEN with CHECK CONDITION */
	uint8_t sense[SCSI_EMUL_SENSE_LEN];
	size_t data_in;                 /* bytes written into the buffers (COMPLETE) */
	size_t residual;                /* buffer_len minus the bytes transferred */
	struct scsi_emul_io io;         /* SUBMIT */
};

/*
 * 0 when lun is usable: block_size 512 or 4096, 1 <= blocks, blocks *
 * block_size below 2^63, physical_exponent <= 15, every listed LUN below
 * 16384. -EINVAL otherwise. Never logs.
 */
int scsi_emul_lun_check(const struct scsi_emul_lun *lun);

/*
 * Decide one command. cdb: cdb_len bytes (1..16), already copied out of
 * guest memory. iov/iovcnt: the command's buffers, buffer_len bytes of
 * them (at most their sum), in direction dir; data-in is written only with
 * FROM_DEVICE or BIDIRECTIONAL, data-out read only with TO_DEVICE or
 * BIDIRECTIONAL. Fills *res and returns 0; a command the guest got wrong
 * is a CHECK CONDITION in *res, not an error. -EINVAL: a caller bug (lun
 * fails scsi_emul_lun_check, cdb_len out of range, buffer_len past the
 * iovecs); *res is then a CHECK CONDITION (HARDWARE ERROR, INTERNAL TARGET
 * FAILURE) the caller may send. Clears lun->unit_attention when it
 * reports it. Never logs.
 */
int scsi_emul_execute(struct scsi_emul_lun *lun, const uint8_t *cdb, size_t cdb_len, enum scsi_emul_dir dir,
		      const struct iovec *iov, unsigned int iovcnt, size_t buffer_len,
		      struct scsi_emul_result *res);

/*
 * Turn the engine's outcome of res->io (0 or -errno) into the completion:
 * on success GOOD with the residual scsi_emul_execute() set; on failure a
 * CHECK CONDITION for the op (docs/scsi.md, "I/O errors") with the whole
 * buffer as residual. res->action becomes SCSI_EMUL_COMPLETE. Never logs.
 */
void scsi_emul_io_done(struct scsi_emul_result *res, size_t buffer_len, int rc);

/* Fill a fixed-format sense buffer (18 bytes) with key, asc, ascq. */
void scsi_emul_sense(uint8_t sense[SCSI_EMUL_SENSE_LEN], uint8_t key, uint8_t asc, uint8_t ascq);

#endif
