// SPDX-License-Identifier: MIT
/*
 * The emulated SCSI disk: dispatch, sense, and the commands that become
 * engine I/O (READ/WRITE, SYNCHRONIZE CACHE, UNMAP, WRITE SAME). The
 * policy for every error is in docs/scsi.md; each choice the standards
 * leave open is named there and in a comment here.
 */
#include <errno.h>
#include <string.h>

#include "scsi_emul_impl.h"
#include "vha/vscsiif.h"

enum {
	OP_TEST_UNIT_READY = 0x00,
	OP_REQUEST_SENSE = 0x03,
	OP_READ6 = 0x08,
	OP_WRITE6 = 0x0a,
	OP_INQUIRY = 0x12,
	OP_MODE_SENSE6 = 0x1a,
	OP_START_STOP_UNIT = 0x1b,
	OP_READ_CAPACITY10 = 0x25,
	OP_READ10 = 0x28,
	OP_WRITE10 = 0x2a,
	OP_VERIFY10 = 0x2f,
	OP_SYNCHRONIZE_CACHE10 = 0x35,
	OP_WRITE_SAME10 = 0x41,
	OP_UNMAP = 0x42,
	OP_MODE_SENSE10 = 0x5a,
	OP_READ16 = 0x88,
	OP_WRITE16 = 0x8a,
	OP_VERIFY16 = 0x8f,
	OP_SYNCHRONIZE_CACHE16 = 0x91,
	OP_WRITE_SAME16 = 0x93,
	OP_SERVICE_ACTION_IN16 = 0x9e,
	OP_REPORT_LUNS = 0xa0,
	OP_READ12 = 0xa8,
	OP_WRITE12 = 0xaa,
	OP_VERIFY12 = 0xaf,
};

#define SAI_READ_CAPACITY16 0x10

/* The protocol layer's fixed-format sense: one builder for the emulation and the ring. */
_Static_assert(SCSI_EMUL_SENSE_LEN == VHA_VSCSIIF_SENSE_FIXED_LEN, "fixed-format sense is 18 bytes");

void scsi_emul_sense(uint8_t sense[SCSI_EMUL_SENSE_LEN], uint8_t key, uint8_t asc, uint8_t ascq)
{
	vha_vscsiif_sense_fixed(sense, key, asc, ascq);
}

void emul_fail(struct emul_cmd *cmd, uint8_t key, uint16_t asc)
{
	struct scsi_emul_result *res = cmd->res;

	res->action = SCSI_EMUL_COMPLETE;
	res->status = SCSI_STATUS_CHECK_CONDITION;
	res->sense_len = SCSI_EMUL_SENSE_LEN;
	scsi_emul_sense(res->sense, key, (uint8_t)(asc >> 8), (uint8_t)asc);
	res->data_in = 0;
	res->residual = cmd->buffer_len;
}

/* Sense-key specific field pointer (SPC, "Field pointer"): SKSV, C/D, the byte. */
static void field_pointer(struct emul_cmd *cmd, bool in_cdb, unsigned int byte)
{
	/* No bit pointer (8: none). */
	vha_vscsiif_sense_set_field(cmd->res->sense, in_cdb, (uint16_t)(byte > 0xffff ? 0xffff : byte), 8);
}

void emul_bad_cdb(struct emul_cmd *cmd, unsigned int byte)
{
	emul_fail(cmd, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	field_pointer(cmd, true, byte);
}

void emul_bad_param(struct emul_cmd *cmd, unsigned int byte)
{
	emul_fail(cmd, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAMETER_LIST);
	field_pointer(cmd, false, byte);
}

void emul_good(struct emul_cmd *cmd)
{
	struct scsi_emul_result *res = cmd->res;

	res->action = SCSI_EMUL_COMPLETE;
	res->status = SCSI_STATUS_GOOD;
	res->sense_len = 0;
	res->data_in = 0;
	res->residual = cmd->buffer_len;
}

static bool has_data_in(const struct emul_cmd *cmd)
{
	return cmd->dir == SCSI_EMUL_DIR_FROM_DEVICE || cmd->dir == SCSI_EMUL_DIR_BIDIRECTIONAL;
}

static bool has_data_out(const struct emul_cmd *cmd)
{
	return cmd->dir == SCSI_EMUL_DIR_TO_DEVICE || cmd->dir == SCSI_EMUL_DIR_BIDIRECTIONAL;
}

size_t emul_copy_out(struct emul_cmd *cmd, size_t offset, const void *data, size_t len)
{
	const uint8_t *src = data;
	size_t done = 0;

	if (!has_data_in(cmd) || offset >= cmd->buffer_len)
		return 0;
	if (len > cmd->buffer_len - offset)
		len = cmd->buffer_len - offset;
	for (unsigned int i = 0; i < cmd->iovcnt && done < len; i++) {
		size_t l = cmd->iov[i].iov_len, n;

		if (offset >= l) {
			offset -= l;
			continue;
		}
		n = l - offset;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)cmd->iov[i].iov_base + offset, src + done, n);
		done += n;
		offset = 0;
	}
	return done;
}

void emul_data_in(struct emul_cmd *cmd, const void *data, size_t len, size_t alloc)
{
	emul_good(cmd);
	cmd->res->data_in = emul_copy_out(cmd, 0, data, len < alloc ? len : alloc);
	cmd->res->residual = cmd->buffer_len - cmd->res->data_in;
}

/* Copy up to len bytes of data-out into buf, once. Returns the bytes copied. */
static size_t copy_in(struct emul_cmd *cmd, void *buf, size_t len)
{
	uint8_t *dst = buf;
	size_t done = 0;

	if (!has_data_out(cmd))
		return 0;
	if (len > cmd->buffer_len)
		len = cmd->buffer_len;
	for (unsigned int i = 0; i < cmd->iovcnt && done < len; i++) {
		size_t n = cmd->iov[i].iov_len;

		if (n > len - done)
			n = len - done;
		memcpy(dst + done, cmd->iov[i].iov_base, n);
		done += n;
	}
	return done;
}

/* The LBA range [lba, lba + count) lies inside the LUN (a zero count at the end is inside). */
static bool in_range(const struct scsi_emul_lun *lun, uint64_t lba, uint64_t count)
{
	return lba <= lun->blocks && count <= lun->blocks - lba;
}

static void submit(struct emul_cmd *cmd, enum scsi_emul_op op, uint64_t lba, uint64_t count, bool fua,
		   size_t consumed)
{
	struct scsi_emul_result *res = cmd->res;
	uint32_t bs = cmd->lun->block_size;

	emul_good(cmd);
	res->action = SCSI_EMUL_SUBMIT;
	res->residual = cmd->buffer_len - consumed;
	memset(&res->io, 0, offsetof(struct scsi_emul_io, ranges));
	res->io.op = op;
	res->io.fua = fua;
	/* No overflow: lba + count <= blocks, and blocks * block_size < 2^63 (scsi_emul_lun_check). */
	res->io.offset = lba * bs;
	res->io.length = count * bs;
	if (op == SCSI_EMUL_OP_DISCARD) {
		res->io.nr_ranges = 1;
		res->io.ranges[0].offset = res->io.offset;
		res->io.ranges[0].length = res->io.length;
	}
}

/*
 * READ/WRITE/VERIFY 6, 10, 12, 16. flags: CDB byte 1 (0 for the 6-byte
 * forms), len_byte: where the transfer length starts, for the field pointer.
 */
static void read_write(struct emul_cmd *cmd, bool write, bool verify, uint64_t lba, uint32_t count, uint8_t flags,
		       unsigned int len_byte)
{
	struct scsi_emul_lun *lun = cmd->lun;
	uint64_t bytes;

	/* RDPROTECT/WRPROTECT/VRPROTECT: no protection information on this LUN. */
	if (flags & 0xe0)
		return emul_bad_cdb(cmd, 1);
	/* VERIFY with BYTCHK: no compare against data-out. */
	if (verify && (flags & 0x06))
		return emul_bad_cdb(cmd, 1);
	if (!verify && lun->max_transfer_blocks && count > lun->max_transfer_blocks)
		return emul_bad_cdb(cmd, len_byte);
	if (write && lun->read_only)
		return emul_fail(cmd, SCSI_SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	if (!in_range(lun, lba, count))
		return emul_fail(cmd, SCSI_SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	/* A zero transfer length is no error (SBC), and VERIFY has no medium to check. */
	if (count == 0 || verify)
		return emul_good(cmd);
	/*
	 * The buffers must hold the whole transfer, in the right direction:
	 * a short buffer is refused, not half done (docs/scsi.md), and a
	 * longer one leaves a residual.
	 */
	bytes = (uint64_t)count * lun->block_size;
	if ((write ? !has_data_out(cmd) : !has_data_in(cmd)) || bytes > cmd->buffer_len)
		return emul_bad_cdb(cmd, len_byte);
	/* FUA (byte 1 bit 3) matters for writes; a read is always from the medium here. */
	submit(cmd, write ? SCSI_EMUL_OP_WRITE : SCSI_EMUL_OP_READ, lba, count, write && (flags & 0x08),
	       (size_t)bytes);
}

static void synchronize_cache(struct emul_cmd *cmd, uint64_t lba, uint32_t count)
{
	struct scsi_emul_lun *lun = cmd->lun;
	uint64_t n = count ? count : (lba <= lun->blocks ? lun->blocks - lba : 0);

	if (!in_range(lun, lba, n))
		return emul_fail(cmd, SCSI_SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	/* No volatile cache: every completed write is already durable. */
	if (!lun->write_cache)
		return emul_good(cmd);
	submit(cmd, SCSI_EMUL_OP_FLUSH, lba, n, false, 0);
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * WRITE SAME 10/16. Only a block of zeroes can be written (a pattern
 * cannot: INVALID FIELD IN CDB, docs/scsi.md). With UNMAP it is a discard
 * where discarded blocks read back as zeroes, else a write of zeroes.
 */
static void write_same(struct emul_cmd *cmd, uint64_t lba, uint32_t count, unsigned int len_byte, bool ndob)
{
	struct scsi_emul_lun *lun = cmd->lun;
	uint8_t flags = cmd->cdb[1];
	bool unmap = flags & 0x08;
	uint8_t block[4096];

	/* WRPROTECT, ANCHOR (no anchored state), PBDATA/LBDATA (obsolete). */
	if (flags & 0xf6)
		return emul_bad_cdb(cmd, 1);
	/* WSNZ is set in the Block Limits page: zero blocks is not "to the end". */
	if (count == 0 || count > SCSI_EMUL_WRITE_SAME_MAX_BLOCKS)
		return emul_bad_cdb(cmd, len_byte);
	if (unmap && !lun->discard)
		return emul_bad_cdb(cmd, 1);
	if (lun->read_only)
		return emul_fail(cmd, SCSI_SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	if (!in_range(lun, lba, count))
		return emul_fail(cmd, SCSI_SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	if (!ndob) {
		/* One logical block of data-out, read once; the decision rests on that copy. */
		if (copy_in(cmd, block, lun->block_size) != lun->block_size)
			return emul_bad_cdb(cmd, len_byte);
		if (!all_zero(block, lun->block_size))
			return emul_bad_cdb(cmd, 1);
	}
	if (unmap && lun->discard_zeroes)
		return submit(cmd, SCSI_EMUL_OP_DISCARD, lba, count, false, ndob ? 0 : lun->block_size);
	if (!lun->write_zeroes)
		return emul_bad_cdb(cmd, 1);
	submit(cmd, SCSI_EMUL_OP_WRITE_ZEROES, lba, count, false, ndob ? 0 : lun->block_size);
}

/*
 * UNMAP: the parameter list is guest memory, copied once and parsed from
 * the copy. Header: UNMAP DATA LENGTH (2), BLOCK DESCRIPTOR DATA LENGTH
 * (2), 4 reserved; then 16-byte descriptors: LBA (8), blocks (4), 4
 * reserved.
 */
static void unmap(struct emul_cmd *cmd)
{
	struct scsi_emul_lun *lun = cmd->lun;
	struct scsi_emul_io *io = &cmd->res->io;
	uint8_t list[8 + 16 * SCSI_EMUL_UNMAP_MAX_DESCRIPTORS];
	size_t param_len = get_be16(cmd->cdb + 7), avail, copied;
	unsigned int descriptors, n = 0;
	uint64_t total = 0;
	uint16_t data_len, desc_len;

	if (!lun->discard)
		return emul_fail(cmd, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
	if (cmd->cdb[1] & 0x01)                 /* ANCHOR */
		return emul_bad_cdb(cmd, 1);
	if (lun->read_only)
		return emul_fail(cmd, SCSI_SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	if (param_len == 0)
		return emul_good(cmd);
	/* What was really sent: the parameter list, cut at the buffers' end. */
	avail = has_data_out(cmd) ? (param_len < cmd->buffer_len ? param_len : cmd->buffer_len) : 0;
	if (avail < 8)
		return emul_fail(cmd, SCSI_SENSE_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
	copied = copy_in(cmd, list, avail < sizeof(list) ? avail : sizeof(list));
	data_len = get_be16(list);
	desc_len = get_be16(list + 2);
	/* Both lengths must describe bytes that were sent, and agree with each other. */
	if ((size_t)data_len + 2 > avail || (size_t)desc_len + 8 > avail || desc_len + 6 > data_len)
		return emul_fail(cmd, SCSI_SENSE_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
	/* An incomplete last descriptor is ignored (SBC). */
	descriptors = desc_len / 16;
	if (descriptors > SCSI_EMUL_UNMAP_MAX_DESCRIPTORS)
		return emul_bad_param(cmd, 2);
	if (8 + 16 * (size_t)descriptors > copied)  /* cannot happen: avail covers them */
		return emul_fail(cmd, SCSI_SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
	for (unsigned int i = 0; i < descriptors; i++) {
		const uint8_t *d = list + 8 + 16 * i;
		uint64_t lba = get_be64(d);
		uint32_t count = get_be32(d + 8);

		if (!in_range(lun, lba, count))
			return emul_fail(cmd, SCSI_SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		total += count;                 /* at most 64 * 2^32: no overflow */
		if (total > SCSI_EMUL_UNMAP_MAX_BLOCKS)
			return emul_bad_param(cmd, 8 + 16 * i + 8);
		if (count == 0)
			continue;
		io->ranges[n].offset = lba * lun->block_size;
		io->ranges[n].length = (uint64_t)count * lun->block_size;
		n++;
	}
	if (n == 0) {
		emul_good(cmd);
		cmd->res->residual = cmd->buffer_len - avail;
		return;
	}
	/* submit() sets ranges[0] (from the first non-empty descriptor again) and clears nr_ranges. */
	submit(cmd, SCSI_EMUL_OP_DISCARD, io->ranges[0].offset / lun->block_size,
	       io->ranges[0].length / lun->block_size, false, avail);
	io->nr_ranges = n;
}

static void request_sense(struct emul_cmd *cmd)
{
	uint8_t sense[SCSI_EMUL_SENSE_LEN];

	if (cmd->cdb[1] & 0x01)                 /* DESC: descriptor format is not supported */
		return emul_bad_cdb(cmd, 1);
	if (cmd->lun->unit_attention) {
		/* Reported here, so it is cleared (SPC). */
		scsi_emul_sense(sense, SCSI_SENSE_UNIT_ATTENTION, ASC_CAPACITY_DATA_CHANGED >> 8,
				ASC_CAPACITY_DATA_CHANGED & 0xff);
		cmd->lun->unit_attention = false;
	} else {
		scsi_emul_sense(sense, SCSI_SENSE_NO_SENSE, 0, 0);
	}
	emul_data_in(cmd, sense, sizeof(sense), cmd->cdb[4]);
}

/* The CDB length of each supported opcode; 0: not supported. */
static unsigned int cdb_length(uint8_t op)
{
	switch (op) {
	case OP_TEST_UNIT_READY: case OP_REQUEST_SENSE: case OP_READ6: case OP_WRITE6: case OP_INQUIRY:
	case OP_MODE_SENSE6: case OP_START_STOP_UNIT:
		return 6;
	case OP_READ_CAPACITY10: case OP_READ10: case OP_WRITE10: case OP_VERIFY10: case OP_SYNCHRONIZE_CACHE10:
	case OP_WRITE_SAME10: case OP_UNMAP: case OP_MODE_SENSE10:
		return 10;
	case OP_REPORT_LUNS: case OP_READ12: case OP_WRITE12: case OP_VERIFY12:
		return 12;
	case OP_READ16: case OP_WRITE16: case OP_VERIFY16: case OP_SYNCHRONIZE_CACHE16: case OP_WRITE_SAME16:
	case OP_SERVICE_ACTION_IN16:
		return 16;
	default:
		return 0;
	}
}

static void dispatch(struct emul_cmd *cmd)
{
	const uint8_t *c = cmd->cdb;
	uint8_t op = c[0];
	unsigned int need = cdb_length(op);

	/* SPC: a pending unit attention ends any command but these three, and is then cleared. */
	if (cmd->lun->unit_attention && op != OP_INQUIRY && op != OP_REPORT_LUNS && op != OP_REQUEST_SENSE) {
		cmd->lun->unit_attention = false;
		return emul_fail(cmd, SCSI_SENSE_UNIT_ATTENTION, ASC_CAPACITY_DATA_CHANGED);
	}
	if (need == 0)
		return emul_fail(cmd, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
	/* A CDB shorter than its opcode says: the missing bytes are not zeroes. */
	if (cmd->cdb_len < need)
		return emul_bad_cdb(cmd, (unsigned int)cmd->cdb_len);
	/* NACA in the CONTROL byte: no ACA support. */
	if (c[need - 1] & 0x04)
		return emul_bad_cdb(cmd, need - 1);

	switch (op) {
	case OP_TEST_UNIT_READY:
		return emul_good(cmd);
	case OP_REQUEST_SENSE:
		return request_sense(cmd);
	case OP_INQUIRY:
		return emul_inquiry(cmd);
	case OP_MODE_SENSE6:
	case OP_MODE_SENSE10:
		return emul_mode_sense(cmd);
	case OP_START_STOP_UNIT:
		/* Accepted and done: the unit stays ready (docs/scsi.md). */
		return emul_good(cmd);
	case OP_READ_CAPACITY10:
		return emul_read_capacity10(cmd);
	case OP_SERVICE_ACTION_IN16:
		if ((c[1] & 0x1f) != SAI_READ_CAPACITY16)
			return emul_bad_cdb(cmd, 1);
		return emul_read_capacity16(cmd);
	case OP_REPORT_LUNS:
		return emul_report_luns(cmd);
	case OP_READ6:
	case OP_WRITE6:
		/* 21-bit LBA; a transfer length of 0 means 256 blocks. */
		return read_write(cmd, op == OP_WRITE6, false, ((uint32_t)(c[1] & 0x1f) << 16) | get_be16(c + 2),
				  c[4] ? c[4] : 256, 0, 4);
	case OP_READ10:
	case OP_WRITE10:
	case OP_VERIFY10:
		return read_write(cmd, op == OP_WRITE10, op == OP_VERIFY10, get_be32(c + 2), get_be16(c + 7), c[1], 7);
	case OP_READ12:
	case OP_WRITE12:
	case OP_VERIFY12:
		return read_write(cmd, op == OP_WRITE12, op == OP_VERIFY12, get_be32(c + 2), get_be32(c + 6), c[1], 6);
	case OP_READ16:
	case OP_WRITE16:
	case OP_VERIFY16:
		return read_write(cmd, op == OP_WRITE16, op == OP_VERIFY16, get_be64(c + 2), get_be32(c + 10), c[1],
				  10);
	case OP_SYNCHRONIZE_CACHE10:
		return synchronize_cache(cmd, get_be32(c + 2), get_be16(c + 7));
	case OP_SYNCHRONIZE_CACHE16:
		return synchronize_cache(cmd, get_be64(c + 2), get_be32(c + 10));
	case OP_WRITE_SAME10:
		return write_same(cmd, get_be32(c + 2), get_be16(c + 7), 7, false);
	case OP_WRITE_SAME16:
		return write_same(cmd, get_be64(c + 2), get_be32(c + 10), 10, c[1] & 0x01);
	case OP_UNMAP:
		return unmap(cmd);
	}
	emul_fail(cmd, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
}

int scsi_emul_lun_check(const struct scsi_emul_lun *lun)
{
	if (!lun || (lun->block_size != 512 && lun->block_size != 4096) || lun->blocks == 0 ||
	    lun->blocks > (UINT64_MAX >> 1) / lun->block_size || lun->physical_exponent > 15 ||
	    (lun->nr_luns && !lun->luns))
		return -EINVAL;
	for (size_t i = 0; i < lun->nr_luns; i++)
		if (lun->luns[i] >= 16384)
			return -EINVAL;
	return 0;
}

int scsi_emul_execute(struct scsi_emul_lun *lun, const uint8_t *cdb, size_t cdb_len, enum scsi_emul_dir dir,
		      const struct iovec *iov, unsigned int iovcnt, size_t buffer_len,
		      struct scsi_emul_result *res)
{
	struct emul_cmd cmd = {
		.lun = lun, .cdb_len = cdb_len, .dir = dir, .iov = iov, .iovcnt = iovcnt,
		.buffer_len = buffer_len, .res = res,
	};
	size_t sum = 0;
	bool ok = scsi_emul_lun_check(lun) == 0 && cdb && cdb_len >= 1 && cdb_len <= SCSI_EMUL_CDB_MAX &&
		  (unsigned int)dir <= SCSI_EMUL_DIR_NONE && (iov || iovcnt == 0);

	for (unsigned int i = 0; ok && i < iovcnt; i++) {
		if (iov[i].iov_len > SIZE_MAX - sum)
			ok = false;
		else
			sum += iov[i].iov_len;
	}
	if (!ok || buffer_len > sum) {
		cmd.buffer_len = 0;
		emul_fail(&cmd, SCSI_SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
		return -EINVAL;
	}
	memcpy(cmd.cdb, cdb, cdb_len);
	dispatch(&cmd);
	return 0;
}

void scsi_emul_io_done(struct scsi_emul_result *res, size_t buffer_len, int rc)
{
	enum scsi_emul_op op = res->io.op;
	struct emul_cmd cmd = { .buffer_len = buffer_len, .res = res };
	size_t residual = res->residual;

	if (rc == 0) {
		emul_good(&cmd);
		res->residual = residual <= buffer_len ? residual : buffer_len;
		if (op == SCSI_EMUL_OP_READ)
			res->data_in = buffer_len - res->residual;
		return;
	}
	if (rc == -ENOSPC || rc == -EDQUOT)
		return emul_fail(&cmd, SCSI_SENSE_DATA_PROTECT, ASC_SPACE_ALLOCATION_FAILED);
	if (rc == -EROFS || rc == -EPERM || rc == -EACCES)
		return emul_fail(&cmd, SCSI_SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED);
	if (rc == -EOPNOTSUPP)
		return emul_fail(&cmd, SCSI_SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
	if (rc == -EIO || rc == -ENODATA || rc == -EILSEQ)
		return emul_fail(&cmd, SCSI_SENSE_MEDIUM_ERROR,
				 op == SCSI_EMUL_OP_READ ? ASC_UNRECOVERED_READ_ERROR : ASC_WRITE_ERROR);
	emul_fail(&cmd, SCSI_SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
}
