// SPDX-License-Identifier: MIT
/*
 * The emulated SCSI disk (backend/scsi_emul.h), the commands that become
 * engine I/O: READ/WRITE/VERIFY, SYNCHRONIZE CACHE, WRITE SAME and UNMAP
 * (its parameter list as hostile input), in bytes for 512 and 4096-byte
 * blocks; read-only LUNs; scsi_emul_io_done()'s sense for engine errors.
 */
#include <errno.h>

#include "scsi_emul_test.h"

static void test_read_write_decode(void **state)
{
	struct scsi_emul_lun lun = disk(1000, 512);
	struct scsi_emul_result r;

	(void)state;
	/* READ 6: 21-bit LBA, 0 blocks means 256. */
	r = RUN(&lun, IN, 256 * 512, 0x08, 0, 0, 10, 0, 0);
	assert_io(&r, SCSI_EMUL_OP_READ, 10 * 512, 256 * 512, false);
	assert_int_equal(r.residual, 0);
	r = RUN(&lun, OUT, 4096, 0x0a, 0, 0, 10, 2, 0);
	assert_io(&r, SCSI_EMUL_OP_WRITE, 10 * 512, 1024, false);
	assert_int_equal(r.residual, 4096 - 1024);
	/* READ 10 / WRITE 10 with FUA; FUA on a read is not passed on. */
	r = RUN(&lun, IN, 4096, 0x28, 0x08, 0, 0, 0, 100, 0, 0, 8, 0);
	assert_io(&r, SCSI_EMUL_OP_READ, 100 * 512, 4096, false);
	r = RUN(&lun, OUT, 4096, 0x2a, 0x08, 0, 0, 0, 100, 0, 0, 8, 0);
	assert_io(&r, SCSI_EMUL_OP_WRITE, 100 * 512, 4096, true);
	/* 12 and 16, 4096-byte blocks. */
	lun = disk(1ull << 40, 4096);
	r = RUN(&lun, IN, 8192, 0xa8, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0);
	assert_io(&r, SCSI_EMUL_OP_READ, 256ull * 4096, 8192, false);
	r = RUN(&lun, OUT, 8192, 0xaa, 0x08, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0);
	assert_io(&r, SCSI_EMUL_OP_WRITE, 256ull * 4096, 8192, true);
	r = RUN(&lun, IN, 8192, 0x88, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 2, 0, 0);
	assert_io(&r, SCSI_EMUL_OP_READ, 0xfffffffffeull * 4096, 8192, false);
	r = RUN(&lun, OUT, 4096, 0x8a, 0x08, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0);
	assert_io(&r, SCSI_EMUL_OP_WRITE, 0xffffffffffull * 4096, 4096, true);
	/* Last block + 1, and an LBA + count that wraps 64 bits. */
	r = RUN(&lun, OUT, 4096, 0x8a, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	r = RUN(&lun, IN, 8192, 0x88, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2, 0, 0);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	/* Zero blocks: GOOD, no I/O; but still range-checked. */
	r = RUN(&lun, IN, 0, 0x28, 0, 0, 0, 0, 5, 0, 0, 0, 0);
	assert_good(&r);
	r = RUN(&lun, IN, 0, 0x88, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	/* The buffers must hold the transfer, in its direction. */
	r = RUN(&lun, IN, 4095, 0x28, 0, 0, 0, 0, 5, 0, 0, 1, 0);
	assert_bad_cdb(&r, 7);
	r = RUN(&lun, OUT, 4096, 0x28, 0, 0, 0, 0, 5, 0, 0, 1, 0);
	assert_bad_cdb(&r, 7);
	r = RUN(&lun, IN, 4096, 0x2a, 0, 0, 0, 0, 5, 0, 0, 1, 0);
	assert_bad_cdb(&r, 7);
	r = RUN(&lun, NONE, 0, 0x8a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0);
	assert_bad_cdb(&r, 10);
	/* RDPROTECT/WRPROTECT: no protection information. */
	r = RUN(&lun, IN, 4096, 0x28, 0x20, 0, 0, 0, 5, 0, 0, 1, 0);
	assert_bad_cdb(&r, 1);
	/* Above the maximum transfer length. */
	lun.max_transfer_blocks = 1;
	r = RUN(&lun, IN, 8192, 0xa8, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0);
	assert_bad_cdb(&r, 6);
	/* VERIFY: range-checked, no data; BYTCHK refused. */
	r = RUN(&lun, NONE, 0, 0x2f, 0, 0, 0, 0, 5, 0, 0, 9, 0);
	assert_good(&r);
	r = RUN(&lun, NONE, 0, 0x8f, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	r = RUN(&lun, OUT, 4096, 0x2f, 0x02, 0, 0, 0, 5, 0, 0, 1, 0);
	assert_bad_cdb(&r, 1);
}

static void test_read_only(void **state)
{
	struct scsi_emul_lun lun = disk(1000, 512);
	struct scsi_emul_result r;

	(void)state;
	lun.read_only = true;
	r = RUN(&lun, OUT, 512, 0x2a, 0, 0, 0, 0, 5, 0, 0, 1, 0);
	assert_sense(&r, SCSI_SENSE_DATA_PROTECT, 0x27, 0x00);
	assert_int_equal(r.residual, 512);
	r = RUN(&lun, OUT, 512, 0x0a, 0, 0, 5, 1, 0);
	assert_sense(&r, SCSI_SENSE_DATA_PROTECT, 0x27, 0x00);
	r = RUN(&lun, OUT, 24, 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0);
	assert_sense(&r, SCSI_SENSE_DATA_PROTECT, 0x27, 0x00);
	r = RUN(&lun, OUT, 512, 0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0);
	assert_sense(&r, SCSI_SENSE_DATA_PROTECT, 0x27, 0x00);
	r = RUN(&lun, IN, 512, 0x28, 0, 0, 0, 0, 5, 0, 0, 1, 0);
	assert_io(&r, SCSI_EMUL_OP_READ, 5 * 512, 512, false);
}

static void test_synchronize_cache(void **state)
{
	struct scsi_emul_lun lun = disk(1000, 4096);
	struct scsi_emul_result r;

	(void)state;
	r = RUN(&lun, NONE, 0, 0x35, 0, 0, 0, 0, 10, 0, 0, 5, 0);
	assert_io(&r, SCSI_EMUL_OP_FLUSH, 10 * 4096, 5 * 4096, false);
	assert_int_equal(r.residual, 0);
	/* 0 blocks: to the end of the LUN. */
	r = RUN(&lun, NONE, 0, 0x91, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0);
	assert_io(&r, SCSI_EMUL_OP_FLUSH, 10 * 4096, 990 * 4096, false);
	r = RUN(&lun, NONE, 0, 0x35, 0, 0, 0, 0x03, 0xe9, 0, 0, 0, 0);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	r = RUN(&lun, NONE, 0, 0x91, 0, 0, 0, 0, 0, 0, 0, 0x03, 0xe0, 0, 0, 0, 9, 0, 0);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	/* Without a volatile cache there is nothing to flush. */
	lun.write_cache = false;
	r = RUN(&lun, NONE, 0, 0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	assert_good(&r);
}

static void test_write_same(void **state)
{
	struct scsi_emul_lun lun = disk(1000, 512);
	struct scsi_emul_result r;

	(void)state;
	memset(buf, 0, sizeof(buf));
	/* UNMAP bit with a zero block, discards read back as zeroes: discard. */
	r = RUN(&lun, OUT, 512, 0x41, 0x08, 0, 0, 0, 8, 0, 0, 16, 0);
	assert_io(&r, SCSI_EMUL_OP_DISCARD, 8 * 512, 16 * 512, false);
	assert_int_equal(r.io.nr_ranges, 1);
	assert_int_equal(r.io.ranges[0].offset, 8 * 512);
	assert_int_equal(r.io.ranges[0].length, 16 * 512);
	assert_int_equal(r.residual, 0);
	/* Without UNMAP: write zeroes. */
	r = RUN(&lun, OUT, 1024, 0x93, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 16, 0, 0);
	assert_io(&r, SCSI_EMUL_OP_WRITE_ZEROES, 8 * 512, 16 * 512, false);
	assert_int_equal(r.residual, 512);
	/* NDOB: no data-out, zeroes. */
	r = RUN(&lun, NONE, 0, 0x93, 0x09, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 16, 0, 0);
	assert_io(&r, SCSI_EMUL_OP_DISCARD, 8 * 512, 16 * 512, false);
	/* UNMAP where discards do not read back as zeroes: zeroes are written. */
	lun.discard_zeroes = false;
	r = RUN(&lun, OUT, 512, 0x41, 0x08, 0, 0, 0, 8, 0, 0, 16, 0);
	assert_io(&r, SCSI_EMUL_OP_WRITE_ZEROES, 8 * 512, 16 * 512, false);
	lun.write_zeroes = false;
	r = RUN(&lun, OUT, 512, 0x41, 0x08, 0, 0, 0, 8, 0, 0, 16, 0);
	assert_bad_cdb(&r, 1);
	r = RUN(&lun, OUT, 512, 0x41, 0x00, 0, 0, 0, 8, 0, 0, 16, 0);
	assert_bad_cdb(&r, 1);
	lun = disk(1000, 4096);
	/* A pattern that is not zeroes. */
	buf[4095] = 1;
	r = RUN(&lun, OUT, 4096, 0x41, 0x08, 0, 0, 0, 8, 0, 0, 16, 0);
	assert_bad_cdb(&r, 1);
	buf[4095] = 0;
	/* No data block, or a short one. */
	r = RUN(&lun, OUT, 4095, 0x41, 0, 0, 0, 0, 8, 0, 0, 16, 0);
	assert_bad_cdb(&r, 7);
	r = RUN(&lun, IN, 4096, 0x41, 0, 0, 0, 0, 8, 0, 0, 16, 0);
	assert_bad_cdb(&r, 7);
	/* Zero blocks (WSNZ), too many, out of range, ANCHOR, WRPROTECT. */
	r = RUN(&lun, OUT, 4096, 0x41, 0, 0, 0, 0, 8, 0, 0, 0, 0);
	assert_bad_cdb(&r, 7);
	r = RUN(&lun, OUT, 4096, 0x93, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 1, 0, 0);
	assert_bad_cdb(&r, 10);
	r = RUN(&lun, OUT, 4096, 0x41, 0, 0, 0, 0x03, 0xe0, 0, 0, 9, 0);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	r = RUN(&lun, OUT, 4096, 0x41, 0x10, 0, 0, 0, 8, 0, 0, 1, 0);
	assert_bad_cdb(&r, 1);
	r = RUN(&lun, OUT, 4096, 0x93, 0x20, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0);
	assert_bad_cdb(&r, 1);
	/* UNMAP bit on a LUN that cannot discard. */
	lun.discard = false;
	r = RUN(&lun, OUT, 4096, 0x41, 0x08, 0, 0, 0, 8, 0, 0, 1, 0);
	assert_bad_cdb(&r, 1);
}

/* An UNMAP parameter list: header with the given lengths, then n descriptors. */
static size_t unmap_list(uint16_t data_len, uint16_t desc_len, const uint64_t *lba, const uint32_t *count,
			 unsigned int n)
{
	memset(buf, 0, sizeof(buf));
	buf[0] = (uint8_t)(data_len >> 8);
	buf[1] = (uint8_t)data_len;
	buf[2] = (uint8_t)(desc_len >> 8);
	buf[3] = (uint8_t)desc_len;
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *d = buf + 8 + 16 * i;

		for (int b = 0; b < 8; b++)
			d[b] = (uint8_t)(lba[i] >> (56 - 8 * b));
		for (int b = 0; b < 4; b++)
			d[8 + b] = (uint8_t)(count[i] >> (24 - 8 * b));
	}
	return 8 + 16 * (size_t)n;
}

#define UNMAP(lun, param_len, buflen) \
	RUN(lun, OUT, buflen, 0x42, 0, 0, 0, 0, 0, 0, (uint8_t)((param_len) >> 8), (uint8_t)(param_len), 0)

static void test_unmap(void **state)
{
	struct scsi_emul_lun lun = disk(1000, 4096);
	struct scsi_emul_result r;
	uint64_t lba[66];
	uint32_t count[66];
	size_t len;

	(void)state;
	lba[0] = 10, count[0] = 5, lba[1] = 990, count[1] = 10, lba[2] = 0, count[2] = 0;
	len = unmap_list(6 + 48, 48, lba, count, 3);
	r = UNMAP(&lun, len, 4096);
	assert_int_equal(r.action, SCSI_EMUL_SUBMIT);
	assert_int_equal(r.io.op, SCSI_EMUL_OP_DISCARD);
	assert_int_equal(r.io.nr_ranges, 2);                    /* the empty one is dropped */
	assert_int_equal(r.io.ranges[0].offset, 10 * 4096);
	assert_int_equal(r.io.ranges[0].length, 5 * 4096);
	assert_int_equal(r.io.ranges[1].offset, 990 * 4096);
	assert_int_equal(r.io.ranges[1].length, 10 * 4096);
	assert_int_equal(r.residual, 4096 - len);

	/* Parameter list length 0: nothing to do. */
	r = UNMAP(&lun, 0, 0);
	assert_good(&r);
	/* Shorter than the header, or fewer bytes sent than it says. */
	r = UNMAP(&lun, 7, 4096);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x1a, 0x00);
	r = UNMAP(&lun, len, 7);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x1a, 0x00);
	r = RUN(&lun, NONE, 0, 0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x1a, 0x00);
	/* The block descriptor data length past what was sent; the data length too; disagreeing. */
	len = unmap_list(6 + 32, 32, lba, count, 2);
	r = UNMAP(&lun, len - 1, 4096);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x1a, 0x00);
	unmap_list(6 + 48, 32, lba, count, 2);
	r = UNMAP(&lun, len, 4096);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x1a, 0x00);
	unmap_list(6 + 16, 32, lba, count, 2);
	r = UNMAP(&lun, len, 4096);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x1a, 0x00);
	/* A block descriptor data length that is not a multiple of 16: the tail is ignored. */
	unmap_list(6 + 31, 31, lba, count, 2);
	r = UNMAP(&lun, len, 4096);
	assert_int_equal(r.action, SCSI_EMUL_SUBMIT);
	assert_int_equal(r.io.nr_ranges, 1);
	/* Header alone, or only empty descriptors: GOOD, no I/O. */
	unmap_list(6, 0, lba, count, 0);
	r = UNMAP(&lun, 8, 4096);
	assert_good(&r);
	assert_int_equal(r.residual, 4096 - 8);
	lba[0] = 1000, count[0] = 0;
	len = unmap_list(6 + 16, 16, lba, count, 1);
	r = UNMAP(&lun, len, 4096);
	assert_good(&r);
	/* Out of range: past the end, and a wrapping LBA + count. */
	lba[0] = 995, count[0] = 6;
	len = unmap_list(6 + 16, 16, lba, count, 1);
	r = UNMAP(&lun, len, 4096);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	lba[0] = UINT64_MAX, count[0] = 2;
	len = unmap_list(6 + 16, 16, lba, count, 1);
	r = UNMAP(&lun, len, 4096);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	/* More descriptors than the Block Limits page allows. */
	lun = disk(1ull << 30, 512);
	for (unsigned int i = 0; i < 65; i++)
		lba[i] = i * 10, count[i] = 1;
	len = unmap_list((uint16_t)(6 + 16 * 65), 16 * 65, lba, count, 65);
	r = UNMAP(&lun, len, 4096);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x26, 0x00);
	assert_int_equal(r.sense[15], 0x80);                    /* in the parameter list */
	assert_int_equal(r.sense[17], 2);
	len = unmap_list((uint16_t)(6 + 16 * 64), 16 * 64, lba, count, 64);
	r = UNMAP(&lun, len, 4096);
	assert_int_equal(r.io.nr_ranges, 64);
	assert_int_equal(r.io.ranges[63].offset, 630 * 512);
	/* More blocks in all than allowed. */
	lba[0] = 0, count[0] = SCSI_EMUL_UNMAP_MAX_BLOCKS, lba[1] = 1ull << 29, count[1] = 1;
	len = unmap_list(6 + 32, 32, lba, count, 2);
	r = UNMAP(&lun, len, 4096);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x26, 0x00);
	assert_int_equal(r.sense[17], 8 + 16 + 8);
	/* ANCHOR; a LUN that cannot discard. */
	r = RUN(&lun, OUT, 4096, 0x42, 1, 0, 0, 0, 0, 0, 0, 24, 0);
	assert_bad_cdb(&r, 1);
	lun.discard = false;
	r = UNMAP(&lun, len, 4096);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
}

static void test_unmap_split_buffers(void **state)
{
	struct scsi_emul_lun lun = disk(1000, 512);
	struct scsi_emul_result r;
	uint64_t lba[2] = { 1, 100 };
	uint32_t count[2] = { 2, 3 };
	size_t len = unmap_list(6 + 32, 32, lba, count, 2);
	static uint8_t a[5], b[19], c[100];
	struct iovec iov[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	static const uint8_t cdb[10] = { 0x42, 0, 0, 0, 0, 0, 0, 0, 40, 0 };

	(void)state;
	memcpy(a, buf, 5);
	memcpy(b, buf + 5, 19);
	memcpy(c, buf + 24, len - 24);
	assert_int_equal(scsi_emul_execute(&lun, cdb, sizeof(cdb), OUT, iov, 3, 124, &r), 0);
	assert_int_equal(r.action, SCSI_EMUL_SUBMIT);
	assert_int_equal(r.io.nr_ranges, 2);
	assert_int_equal(r.io.ranges[1].offset, 100 * 512);
	assert_int_equal(r.io.ranges[1].length, 3 * 512);
	assert_int_equal(r.residual, 124 - 40);
}

static void test_io_done(void **state)
{
	struct scsi_emul_lun lun = disk(1000, 512);
	struct scsi_emul_result r;

	(void)state;
	r = RUN(&lun, IN, 4096, 0x28, 0, 0, 0, 0, 5, 0, 0, 2, 0);
	scsi_emul_io_done(&r, 4096, 0);
	assert_good(&r);
	assert_int_equal(r.residual, 4096 - 1024);
	assert_int_equal(r.data_in, 1024);
	r = RUN(&lun, IN, 4096, 0x28, 0, 0, 0, 0, 5, 0, 0, 2, 0);
	scsi_emul_io_done(&r, 4096, -EIO);
	assert_sense(&r, SCSI_SENSE_MEDIUM_ERROR, 0x11, 0x00);
	assert_int_equal(r.residual, 4096);
	r = RUN(&lun, OUT, 4096, 0x2a, 0, 0, 0, 0, 5, 0, 0, 2, 0);
	scsi_emul_io_done(&r, 4096, -EIO);
	assert_sense(&r, SCSI_SENSE_MEDIUM_ERROR, 0x0c, 0x00);
	r = RUN(&lun, OUT, 4096, 0x2a, 0, 0, 0, 0, 5, 0, 0, 2, 0);
	scsi_emul_io_done(&r, 4096, -ENOSPC);
	assert_sense(&r, SCSI_SENSE_DATA_PROTECT, 0x27, 0x07);
	r = RUN(&lun, OUT, 4096, 0x2a, 0, 0, 0, 0, 5, 0, 0, 2, 0);
	scsi_emul_io_done(&r, 4096, -EROFS);
	assert_sense(&r, SCSI_SENSE_DATA_PROTECT, 0x27, 0x00);
	r = RUN(&lun, NONE, 0, 0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	scsi_emul_io_done(&r, 0, -EOPNOTSUPP);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
	r = RUN(&lun, NONE, 0, 0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	scsi_emul_io_done(&r, 0, -ENOMEM);
	assert_sense(&r, SCSI_SENSE_HARDWARE_ERROR, 0x44, 0x00);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_write_decode),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_synchronize_cache),
		cmocka_unit_test(test_write_same),
		cmocka_unit_test(test_unmap),
		cmocka_unit_test(test_unmap_split_buffers),
		cmocka_unit_test(test_io_done),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
