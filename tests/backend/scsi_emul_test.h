// SPDX-License-Identifier: MIT
/*
 * Shared by the emulated SCSI disk's unit tests (test_scsi_emul.c,
 * test_scsi_emul_io.c): a LUN description, running one CDB on one buffer,
 * and asserting the completion, the sense or the I/O.
 */
#ifndef VHA_TESTS_SCSI_EMUL_TEST_H
#define VHA_TESTS_SCSI_EMUL_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../backend/scsi_emul.h"

#define NAA6 "6001405abcdef0123456789abcdef012"

static const uint32_t lun_list[] = { 0, 1, 300 };

static inline struct scsi_emul_lun disk(uint64_t blocks, uint32_t block_size)
{
	return (struct scsi_emul_lun){
		.blocks = blocks, .block_size = block_size, .physical_exponent = block_size == 512 ? 3 : 0,
		.max_transfer_blocks = 0, .discard = true, .discard_zeroes = true, .write_zeroes = true,
		.write_cache = true, .vendor = "VHA", .product = "TESTDISK", .revision = "0.1",
		.serial = "SER123", .naa = NAA6, .luns = lun_list, .nr_luns = 3,
	};
}

static uint8_t buf[8192];

/* Run cdb with one buffer of len bytes (buf) in direction dir. */
static inline struct scsi_emul_result run(struct scsi_emul_lun *lun, const uint8_t *cdb, size_t cdb_len,
				   enum scsi_emul_dir dir, size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct scsi_emul_result res;

	memset(&res, 0xa5, sizeof(res));
	assert_int_equal(scsi_emul_execute(lun, cdb, cdb_len, dir, &iov, 1, len, &res), 0);
	return res;
}

#define RUN(lun, dir, len, ...) \
	run(lun, (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ }), dir, len)
#define IN SCSI_EMUL_DIR_FROM_DEVICE
#define OUT SCSI_EMUL_DIR_TO_DEVICE
#define NONE SCSI_EMUL_DIR_NONE

static inline void assert_good(const struct scsi_emul_result *r)
{
	assert_int_equal(r->action, SCSI_EMUL_COMPLETE);
	assert_int_equal(r->status, SCSI_STATUS_GOOD);
	assert_int_equal(r->sense_len, 0);
}

static inline void assert_sense(const struct scsi_emul_result *r, uint8_t key, uint8_t asc, uint8_t ascq)
{
	assert_int_equal(r->action, SCSI_EMUL_COMPLETE);
	assert_int_equal(r->status, SCSI_STATUS_CHECK_CONDITION);
	assert_int_equal(r->sense_len, 18);
	assert_int_equal(r->sense[0], 0x70);
	assert_int_equal(r->sense[2], key);
	assert_int_equal(r->sense[7], 10);
	assert_int_equal(r->sense[12], asc);
	assert_int_equal(r->sense[13], ascq);
	assert_int_equal(r->data_in, 0);
}

/* INVALID FIELD IN CDB with the field pointer at CDB byte `byte`. */
static inline void assert_bad_cdb(const struct scsi_emul_result *r, unsigned int byte)
{
	assert_sense(r, SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	assert_int_equal(r->sense[15], 0xc0);
	assert_int_equal(r->sense[16] << 8 | r->sense[17], byte);
}

static inline void assert_io(const struct scsi_emul_result *r, enum scsi_emul_op op, uint64_t offset, uint64_t length,
		      bool fua)
{
	assert_int_equal(r->action, SCSI_EMUL_SUBMIT);
	assert_int_equal(r->io.op, op);
	assert_int_equal(r->io.offset, offset);
	assert_int_equal(r->io.length, length);
	assert_int_equal(r->io.fua, fua);
}

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

#endif
