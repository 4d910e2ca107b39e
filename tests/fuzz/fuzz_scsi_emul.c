// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the emulated SCSI disk (backend/scsi_emul.c) on a
 * guest's CDB and data-out buffer. Input: byte 0 the CDB length (1..16),
 * byte 1 the direction and how the buffer is split into iovecs, byte 2 the
 * LUN's configuration (block size, capacity above 2^32 blocks, read-only,
 * discard, discard zeroes, write zeroes, write cache, unit attention
 * pending), then 16 bytes of CDB, then the buffer's contents. Each iovec
 * is its own allocation, so ASan sees any access past one.
 *
 * What must hold: the call succeeds; a completion is GOOD without sense or
 * CHECK CONDITION with fixed-format sense, data_in + residual is the
 * buffer length when data came in, nothing is written into a buffer that is not data-in;
 * an I/O is block-aligned, non-empty and inside the LUN, a read or write
 * fits the buffers in the right direction, nothing writes a read-only
 * LUN; a pending unit attention ends every command but INQUIRY, REPORT
 * LUNS and REQUEST SENSE; scsi_emul_io_done() keeps those sums.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../backend/scsi_emul.h"

#define MAX_IOV 8

static void check_complete(const struct scsi_emul_result *r, size_t buffer_len)
{
	if (r->action != SCSI_EMUL_COMPLETE)
		abort();
	if (r->status == SCSI_STATUS_GOOD) {
		if (r->sense_len != 0)
			abort();
	} else if (r->status == SCSI_STATUS_CHECK_CONDITION) {
		if (r->sense_len != SCSI_EMUL_SENSE_LEN || r->sense[0] != 0x70 || r->sense[7] != 10 ||
		    (r->sense[2] & 0x0f) == 0 || r->data_in != 0)
			abort();
	} else {
		abort();
	}
	/* Data-in and residual make up the buffer; data-out consumed is not counted in data_in. */
	if (r->data_in > buffer_len || r->residual > buffer_len ||
	    (r->data_in && r->data_in + r->residual != buffer_len))
		abort();
}

static void check_range(const struct scsi_emul_lun *lun, uint64_t offset, uint64_t length, bool empty_ok)
{
	uint64_t size = lun->blocks * lun->block_size;

	if ((!empty_ok && length == 0) || offset % lun->block_size || length % lun->block_size || offset > size ||
	    length > size - offset)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scsi_emul_lun lun = { 0 };
	struct scsi_emul_result res;
	struct iovec iov[MAX_IOV];
	static const uint32_t luns[] = { 0, 7, 255, 256, 16383 };
	uint8_t cdb[SCSI_EMUL_CDB_MAX];
	size_t cdb_len, buffer_len, off = 0;
	unsigned int iovcnt;
	enum scsi_emul_dir dir;
	uint8_t *copy;
	bool ua, data_in;
	uint8_t cfg;

	if (size < 3 + SCSI_EMUL_CDB_MAX)
		return 0;
	cdb_len = 1 + data[0] % SCSI_EMUL_CDB_MAX;
	dir = (enum scsi_emul_dir)(data[1] & 3);
	iovcnt = 1 + (data[1] >> 2) % MAX_IOV;
	cfg = data[2];
	memcpy(cdb, data + 3, SCSI_EMUL_CDB_MAX);
	data += 3 + SCSI_EMUL_CDB_MAX;
	size -= 3 + SCSI_EMUL_CDB_MAX;
	buffer_len = dir == SCSI_EMUL_DIR_NONE ? 0 : size;

	lun.block_size = cfg & 0x01 ? 4096 : 512;
	lun.blocks = cfg & 0x02 ? (5ull << 30) + 3 : 2048;
	lun.physical_exponent = lun.block_size == 512 ? 3 : 0;
	lun.max_transfer_blocks = cfg & 0x01 ? 64 : 0;
	lun.read_only = cfg & 0x04;
	lun.discard = cfg & 0x08;
	lun.discard_zeroes = cfg & 0x10;
	lun.write_zeroes = cfg & 0x20;
	lun.write_cache = cfg & 0x40;
	lun.unit_attention = ua = cfg & 0x80;
	lun.serial = "FUZZ0001";
	lun.naa = "6001405abcdef0123456789abcdef012";
	lun.luns = luns;
	lun.nr_luns = cfg & 0x01 ? sizeof(luns) / sizeof(luns[0]) : 0;

	/* Split the buffer into iovecs of their own allocations (the last takes the rest). */
	for (unsigned int i = 0; i < iovcnt; i++) {
		size_t n = i + 1 == iovcnt ? buffer_len - off : (buffer_len - off) / 2;

		iov[i].iov_base = malloc(n ? n : 1);
		iov[i].iov_len = n;
		if (n)
			memcpy(iov[i].iov_base, data + off, n);
		off += n;
	}
	copy = malloc(buffer_len ? buffer_len : 1);
	if (buffer_len)
		memcpy(copy, data, buffer_len);

	if (scsi_emul_execute(&lun, cdb, cdb_len, dir, iov, iovcnt, buffer_len, &res) != 0)
		abort();
	data_in = dir == SCSI_EMUL_DIR_FROM_DEVICE || dir == SCSI_EMUL_DIR_BIDIRECTIONAL;

	if (ua && cdb[0] != 0x12 && cdb[0] != 0xa0 && cdb[0] != 0x03) {
		if (res.status != SCSI_STATUS_CHECK_CONDITION || res.sense[2] != SCSI_SENSE_UNIT_ATTENTION ||
		    res.sense[12] != 0x2a || res.sense[13] != 0x09 || lun.unit_attention)
			abort();
	}
	if (res.action == SCSI_EMUL_COMPLETE) {
		check_complete(&res, buffer_len);
		if (!data_in && res.data_in)
			abort();
	} else if (res.action == SCSI_EMUL_SUBMIT) {
		const struct scsi_emul_io *io = &res.io;

		if (res.status != SCSI_STATUS_GOOD || res.residual > buffer_len)
			abort();
		switch (io->op) {
		case SCSI_EMUL_OP_READ:
		case SCSI_EMUL_OP_WRITE:
			check_range(&lun, io->offset, io->length, false);
			if (io->length > buffer_len || res.residual != buffer_len - io->length)
				abort();
			if (io->op == SCSI_EMUL_OP_READ ? !data_in
			    : (dir != SCSI_EMUL_DIR_TO_DEVICE && dir != SCSI_EMUL_DIR_BIDIRECTIONAL))
				abort();
			if (io->op == SCSI_EMUL_OP_WRITE && lun.read_only)
				abort();
			break;
		case SCSI_EMUL_OP_FLUSH:
			check_range(&lun, io->offset, io->length, true);
			if (!lun.write_cache)
				abort();
			break;
		case SCSI_EMUL_OP_DISCARD:
			if (!lun.discard || lun.read_only || io->nr_ranges < 1 ||
			    io->nr_ranges > SCSI_EMUL_UNMAP_MAX_DESCRIPTORS)
				abort();
			for (unsigned int i = 0; i < io->nr_ranges; i++)
				check_range(&lun, io->ranges[i].offset, io->ranges[i].length, false);
			break;
		case SCSI_EMUL_OP_WRITE_ZEROES:
			check_range(&lun, io->offset, io->length, false);
			if (lun.read_only || !lun.write_zeroes)
				abort();
			break;
		default:
			abort();
		}
		scsi_emul_io_done(&res, buffer_len, size % 3 == 0 ? 0 : size % 3 == 1 ? -EIO : -ENOSPC);
		check_complete(&res, buffer_len);
	} else {
		abort();
	}
	/* The buffers of a command that is not data-in are left as they were. */
	off = 0;
	for (unsigned int i = 0; i < iovcnt; i++) {
		if (!data_in && iov[i].iov_len && memcmp(iov[i].iov_base, copy + off, iov[i].iov_len) != 0)
			abort();
		off += iov[i].iov_len;
		free(iov[i].iov_base);
	}
	free(copy);
	return 0;
}
