// SPDX-License-Identifier: MIT
/*
 * The emulated SCSI disk (backend/scsi_emul.h) command by command: the
 * data each informational command returns, byte for byte where a guest
 * depends on it; the I/O each data command becomes, in bytes, for 512 and
 * 4096-byte blocks; and the fixed-format sense of every error case
 * (docs/scsi.md, "Errors").
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../backend/scsi_emul.h"

#define NAA6 "6001405abcdef0123456789abcdef012"

static const uint32_t lun_list[] = { 0, 1, 300 };

static struct scsi_emul_lun disk(uint64_t blocks, uint32_t block_size)
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
static struct scsi_emul_result run(struct scsi_emul_lun *lun, const uint8_t *cdb, size_t cdb_len,
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

static void assert_good(const struct scsi_emul_result *r)
{
	assert_int_equal(r->action, SCSI_EMUL_COMPLETE);
	assert_int_equal(r->status, SCSI_STATUS_GOOD);
	assert_int_equal(r->sense_len, 0);
}

static void assert_sense(const struct scsi_emul_result *r, uint8_t key, uint8_t asc, uint8_t ascq)
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
static void assert_bad_cdb(const struct scsi_emul_result *r, unsigned int byte)
{
	assert_sense(r, SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	assert_int_equal(r->sense[15], 0xc0);
	assert_int_equal(r->sense[16] << 8 | r->sense[17], byte);
}

static void assert_io(const struct scsi_emul_result *r, enum scsi_emul_op op, uint64_t offset, uint64_t length,
		      bool fua)
{
	assert_int_equal(r->action, SCSI_EMUL_SUBMIT);
	assert_int_equal(r->io.op, op);
	assert_int_equal(r->io.offset, offset);
	assert_int_equal(r->io.length, length);
	assert_int_equal(r->io.fua, fua);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void test_test_unit_ready_and_unknown_opcodes(void **state)
{
	struct scsi_emul_lun lun = disk(1000, 512);
	struct scsi_emul_result r;

	(void)state;
	r = RUN(&lun, NONE, 0, 0x00, 0, 0, 0, 0, 0);
	assert_good(&r);
	assert_int_equal(r.residual, 0);
	r = RUN(&lun, NONE, 0, 0x04, 0, 0, 0, 0, 0);         /* FORMAT UNIT */
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
	r = RUN(&lun, IN, 64, 0x55, 0, 0, 0, 0, 0, 0, 0, 0, 0); /* MODE SELECT 10 */
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
	assert_int_equal(r.residual, 64);
	r = RUN(&lun, NONE, 0, 0xff);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
	/* A CDB shorter than its opcode's: the pointer names the first missing byte. */
	r = RUN(&lun, IN, 8, 0x25, 0, 0, 0);
	assert_bad_cdb(&r, 4);
	/* NACA set in the CONTROL byte. */
	r = RUN(&lun, NONE, 0, 0x00, 0, 0, 0, 0, 0x04);
	assert_bad_cdb(&r, 5);
	/* START STOP UNIT: start, stop, eject all accepted; the unit stays ready. */
	r = RUN(&lun, NONE, 0, 0x1b, 0, 0, 0, 0x00, 0);
	assert_good(&r);
	r = RUN(&lun, NONE, 0, 0x1b, 1, 0, 0, 0x03, 0);
	assert_good(&r);
}

static void test_request_sense(void **state)
{
	struct scsi_emul_lun lun = disk(1000, 512);
	struct scsi_emul_result r;

	(void)state;
	r = RUN(&lun, IN, 252, 0x03, 0, 0, 0, 252, 0);
	assert_good(&r);
	assert_int_equal(r.data_in, 18);
	assert_int_equal(r.residual, 252 - 18);
	assert_int_equal(buf[0], 0x70);
	assert_int_equal(buf[2], 0);
	assert_int_equal(buf[12], 0);
	/* Allocation length cuts it. */
	r = RUN(&lun, IN, 252, 0x03, 0, 0, 0, 8, 0);
	assert_int_equal(r.data_in, 8);
	/* Descriptor format is not offered. */
	r = RUN(&lun, IN, 252, 0x03, 1, 0, 0, 252, 0);
	assert_bad_cdb(&r, 1);
	/* A pending unit attention is returned as data, GOOD, and cleared. */
	lun.unit_attention = true;
	r = RUN(&lun, IN, 252, 0x03, 0, 0, 0, 252, 0);
	assert_good(&r);
	assert_int_equal(buf[2], SCSI_SENSE_UNIT_ATTENTION);
	assert_int_equal(buf[12], 0x2a);
	assert_int_equal(buf[13], 0x09);
	assert_false(lun.unit_attention);
	r = RUN(&lun, NONE, 0, 0x00, 0, 0, 0, 0, 0);
	assert_good(&r);
}

static void test_inquiry_standard(void **state)
{
	struct scsi_emul_lun lun = disk(1000, 512);
	struct scsi_emul_result r;

	(void)state;
	memset(buf, 0xee, sizeof(buf));
	r = RUN(&lun, IN, 255, 0x12, 0, 0, 0, 255, 0);
	assert_good(&r);
	assert_int_equal(r.data_in, 74);
	assert_int_equal(r.residual, 255 - 74);
	assert_int_equal(buf[0], 0x00);                 /* direct-access, connected */
	assert_int_equal(buf[1], 0x00);                 /* not removable */
	assert_int_equal(buf[2], 0x06);
	assert_int_equal(buf[3], 0x02);
	assert_int_equal(buf[4], 69);
	assert_int_equal(buf[5], 0x00);                 /* PROTECT 0 */
	assert_int_equal(buf[7], 0x02);                 /* CMDQUE */
	assert_memory_equal(buf + 8, "VHA     TESTDISK        0.1 ", 28);
	assert_int_equal(buf[59], 0xa0);
	assert_int_equal(buf[74], 0xee);                /* nothing past the answer */
	/* 36 bytes asked (Linux's first INQUIRY): 36 given, the length field untouched. */
	r = RUN(&lun, IN, 36, 0x12, 0, 0, 0, 36, 0);
	assert_int_equal(r.data_in, 36);
	assert_int_equal(r.residual, 0);
	assert_int_equal(buf[4], 69);
	/* Allocation length 0: nothing. */
	r = RUN(&lun, IN, 36, 0x12, 0, 0, 0, 0, 0);
	assert_good(&r);
	assert_int_equal(r.data_in, 0);
	/* A buffer smaller than the allocation length: what fits. */
	r = RUN(&lun, IN, 5, 0x12, 0, 0, 0, 255, 0);
	assert_int_equal(r.data_in, 5);
	/* Data-out direction: no data is written into the buffers. */
	memset(buf, 0xee, 64);
	r = RUN(&lun, OUT, 64, 0x12, 0, 0, 0, 64, 0);
	assert_good(&r);
	assert_int_equal(r.data_in, 0);
	assert_int_equal(buf[0], 0xee);
	/* CMDDT; a page code without EVPD. */
	r = RUN(&lun, IN, 36, 0x12, 2, 0, 0, 36, 0);
	assert_bad_cdb(&r, 1);
	r = RUN(&lun, IN, 36, 0x12, 0, 0x80, 0, 36, 0);
	assert_bad_cdb(&r, 2);
	/* Defaults, padding, and non-printables. */
	lun.vendor = NULL;
	lun.product = "a\x01very-long-product-name";
	r = RUN(&lun, IN, 36, 0x12, 0, 0, 0, 36, 0);
	assert_memory_equal(buf + 8, "VHA     a?very-long-produ", 24);
}

static void test_inquiry_vpd(void **state)
{
	struct scsi_emul_lun lun = disk(1000, 512);
	struct scsi_emul_result r;
	static const uint8_t naa[16] = { 0x60, 0x01, 0x40, 0x5a, 0xbc, 0xde, 0xf0, 0x12,
					 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12 };

	(void)state;
	r = RUN(&lun, IN, 255, 0x12, 1, 0x00, 0, 255, 0);
	assert_good(&r);
	assert_int_equal(r.data_in, 10);
	assert_memory_equal(buf, ((uint8_t[]){ 0, 0, 0, 6, 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2 }), 10);

	r = RUN(&lun, IN, 255, 0x12, 1, 0x80, 0, 255, 0);
	assert_int_equal(r.data_in, 10);
	assert_memory_equal(buf, "\x00\x80\x00\x06SER123", 10);

	r = RUN(&lun, IN, 255, 0x12, 1, 0x83, 0, 255, 0);
	assert_good(&r);
	/* NAA 6 (16 bytes), then T10 vendor id: vendor, product, serial. */
	assert_int_equal(r.data_in, 4 + 20 + 4 + 30);
	assert_int_equal(buf[1], 0x83);
	assert_int_equal(buf[3], 54);
	assert_memory_equal(buf + 4, "\x01\x03\x00\x10", 4);
	assert_memory_equal(buf + 8, naa, 16);
	assert_memory_equal(buf + 24, "\x02\x01\x00\x1e", 4);
	assert_memory_equal(buf + 28, "VHA     TESTDISK        SER123", 30);
	/* An NAA that is not 16/32 hex digits of NAA 2/3/5 or 6 is left out. */
	static const char *bad_naa[] = { "6001405abcdef0123456789abcdef01", "7001405abcdef0123456789abcdef012",
					 "6001405abcdef0123456789abcdef01g", "600140", "6001405abcdef012", "" };
	for (size_t i = 0; i < sizeof(bad_naa) / sizeof(bad_naa[0]); i++) {
		lun.naa = bad_naa[i];
		r = RUN(&lun, IN, 255, 0x12, 1, 0x83, 0, 255, 0);
		assert_int_equal(r.data_in, 4 + 4 + 30);
		assert_int_equal(buf[5], 0x01);
	}
	lun.naa = "5000c500a1b2c3d4";
	r = RUN(&lun, IN, 255, 0x12, 1, 0x83, 0, 255, 0);
	assert_int_equal(r.data_in, 4 + 12 + 4 + 30);
	assert_memory_equal(buf + 8, "\x50\x00\xc5\x00\xa1\xb2\xc3\xd4", 8);

	/* Block limits. */
	lun.max_transfer_blocks = 2048;
	r = RUN(&lun, IN, 255, 0x12, 1, 0xb0, 0, 255, 0);
	assert_int_equal(r.data_in, 64);
	assert_int_equal(buf[3], 0x3c);
	assert_int_equal(buf[4], 0x01);                         /* WSNZ */
	assert_int_equal(buf[6] << 8 | buf[7], 8);              /* 4096 physical / 512 */
	assert_int_equal(be32(buf + 8), 2048);
	assert_int_equal(be32(buf + 20), SCSI_EMUL_UNMAP_MAX_BLOCKS);
	assert_int_equal(be32(buf + 24), SCSI_EMUL_UNMAP_MAX_DESCRIPTORS);
	assert_int_equal(be32(buf + 28), 8);
	assert_int_equal(be64(buf + 36), SCSI_EMUL_WRITE_SAME_MAX_BLOCKS);

	r = RUN(&lun, IN, 255, 0x12, 1, 0xb1, 0, 255, 0);
	assert_int_equal(r.data_in, 64);
	assert_int_equal(buf[4] << 8 | buf[5], 1);              /* non-rotating */

	r = RUN(&lun, IN, 255, 0x12, 1, 0xb2, 0, 255, 0);
	assert_int_equal(r.data_in, 8);
	assert_int_equal(buf[5], 0xe4);                         /* LBPU, LBPWS, LBPWS10, LBPRZ */
	assert_int_equal(buf[6], 0x02);
	lun.discard = false;
	lun.write_zeroes = false;
	r = RUN(&lun, IN, 255, 0x12, 1, 0xb2, 0, 255, 0);
	assert_int_equal(buf[5], 0);
	assert_int_equal(buf[6], 0);
	r = RUN(&lun, IN, 255, 0x12, 1, 0xb0, 0, 255, 0);
	assert_int_equal(be32(buf + 20), 0);
	assert_int_equal(be32(buf + 24), 0);
	assert_int_equal(be64(buf + 36), 0);

	/* Pages not offered. */
	r = RUN(&lun, IN, 255, 0x12, 1, 0x89, 0, 255, 0);
	assert_bad_cdb(&r, 2);
	r = RUN(&lun, IN, 255, 0x12, 1, 0x86, 0, 255, 0);
	assert_bad_cdb(&r, 2);
}

static void test_read_capacity(void **state)
{
	struct scsi_emul_lun lun = disk(1000, 512);
	struct scsi_emul_result r;

	(void)state;
	r = RUN(&lun, IN, 8, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	assert_good(&r);
	assert_int_equal(r.data_in, 8);
	assert_int_equal(be32(buf), 999);
	assert_int_equal(be32(buf + 4), 512);
	lun = disk(1000, 4096);
	r = RUN(&lun, IN, 8, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	assert_int_equal(be32(buf + 4), 4096);
	/* PMI 0 with an LBA. */
	r = RUN(&lun, IN, 8, 0x25, 0, 0, 0, 0, 1, 0, 0, 0, 0);
	assert_bad_cdb(&r, 2);
	r = RUN(&lun, IN, 8, 0x25, 0, 0, 0, 0, 1, 0, 0, 1, 0);
	assert_good(&r);

	/* Above 2 TiB of 512-byte blocks: the last LBA does not fit, 0xffffffff says "use 16". */
	lun = disk(5ull << 30, 512);
	r = RUN(&lun, IN, 8, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	assert_int_equal(be32(buf), 0xffffffffu);
	lun = disk(1ull << 32, 512);                            /* last LBA 0xffffffff itself */
	r = RUN(&lun, IN, 8, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	assert_int_equal(be32(buf), 0xffffffffu);
	lun = disk(0xffffffffull, 512);                         /* last LBA 0xfffffffe fits */
	r = RUN(&lun, IN, 8, 0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	assert_int_equal(be32(buf), 0xfffffffeu);

	/* READ CAPACITY 16. */
	lun = disk(5ull << 30, 512);
	r = RUN(&lun, IN, 32, 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0);
	assert_good(&r);
	assert_int_equal(r.data_in, 32);
	assert_int_equal(be64(buf), (5ull << 30) - 1);
	assert_int_equal(be32(buf + 8), 512);
	assert_int_equal(buf[12], 0);                           /* protection off */
	assert_int_equal(buf[13], 3);
	assert_int_equal(buf[14], 0xc0);                        /* LBPME, LBPRZ */
	lun.discard_zeroes = false;
	r = RUN(&lun, IN, 32, 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0);
	assert_int_equal(buf[14], 0x80);
	lun.discard = false;
	r = RUN(&lun, IN, 32, 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0);
	assert_int_equal(buf[14], 0x00);
	/* Allocation length 12. */
	r = RUN(&lun, IN, 32, 0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0);
	assert_int_equal(r.data_in, 12);
	assert_int_equal(r.residual, 20);
	/* Another service action of SERVICE ACTION IN(16). */
	r = RUN(&lun, IN, 32, 0x9e, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0);
	assert_bad_cdb(&r, 1);
}

static void test_mode_sense(void **state)
{
	struct scsi_emul_lun lun = disk(1000, 512);
	struct scsi_emul_result r;

	(void)state;
	/* MODE SENSE 6, caching page, with the block descriptor. */
	r = RUN(&lun, IN, 255, 0x1a, 0, 0x08, 0, 255, 0);
	assert_good(&r);
	assert_int_equal(r.data_in, 4 + 8 + 20);
	assert_int_equal(buf[0], 4 + 8 + 20 - 1);
	assert_int_equal(buf[2], 0x10);                         /* DPOFUA, not WP */
	assert_int_equal(buf[3], 8);
	assert_int_equal(be32(buf + 4), 1000);
	assert_int_equal(be32(buf + 8), 512);
	assert_int_equal(buf[12], 0x08);
	assert_int_equal(buf[13], 0x12);
	assert_int_equal(buf[14], 0x04);                        /* WCE */
	lun.write_cache = false;
	lun.read_only = true;
	r = RUN(&lun, IN, 255, 0x1a, 0x08, 0x08, 0, 255, 0);   /* DBD */
	assert_int_equal(r.data_in, 4 + 20);
	assert_int_equal(buf[2], 0x90);                         /* WP */
	assert_int_equal(buf[3], 0);
	assert_int_equal(buf[4], 0x08);
	assert_int_equal(buf[6], 0x00);                         /* WCE off, truthfully */
	/* All pages: caching then control; truncated, the length field still whole. */
	r = RUN(&lun, IN, 255, 0x1a, 0x08, 0x3f, 0, 255, 0);
	assert_int_equal(r.data_in, 4 + 20 + 12);
	assert_int_equal(buf[24], 0x0a);
	assert_int_equal(buf[25], 0x0a);
	r = RUN(&lun, IN, 255, 0x1a, 0x08, 0x3f, 0xff, 4, 0);
	assert_int_equal(r.data_in, 4);
	assert_int_equal(buf[0], 4 + 20 + 12 - 1);
	r = RUN(&lun, IN, 255, 0x1a, 0x08, 0x0a, 0, 255, 0);
	assert_int_equal(r.data_in, 4 + 12);
	/* Changeable values: nothing is changeable. */
	lun.write_cache = true;
	r = RUN(&lun, IN, 255, 0x1a, 0x08, 0x48, 0, 255, 0);
	assert_int_equal(r.data_in, 24);
	assert_int_equal(buf[4], 0x08);
	assert_int_equal(buf[6], 0x00);
	/* Saved values, other pages, other subpages. */
	r = RUN(&lun, IN, 255, 0x1a, 0, 0xc8, 0, 255, 0);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x39, 0x00);
	r = RUN(&lun, IN, 255, 0x1a, 0, 0x1c, 0, 255, 0);
	assert_bad_cdb(&r, 2);
	r = RUN(&lun, IN, 255, 0x1a, 0, 0x08, 0x01, 255, 0);
	assert_bad_cdb(&r, 3);

	/* MODE SENSE 10: short then long block descriptor, 4096-byte blocks, > 2^32 blocks. */
	lun = disk(5ull << 30, 4096);
	r = RUN(&lun, IN, 255, 0x5a, 0, 0x08, 0, 0, 0, 0, 0, 255, 0);
	assert_good(&r);
	assert_int_equal(r.data_in, 8 + 8 + 20);
	assert_int_equal(buf[0] << 8 | buf[1], 8 + 8 + 20 - 2);
	assert_int_equal(buf[3], 0x10);
	assert_int_equal(buf[4], 0);
	assert_int_equal(buf[7], 8);
	assert_int_equal(be32(buf + 8), 0xffffffffu);
	assert_int_equal(be32(buf + 12), 4096);
	r = RUN(&lun, IN, 255, 0x5a, 0x10, 0x08, 0, 0, 0, 0, 0, 255, 0);
	assert_int_equal(r.data_in, 8 + 16 + 20);
	assert_int_equal(buf[4], 0x01);                         /* LONGLBA */
	assert_int_equal(buf[7], 16);
	assert_int_equal(be64(buf + 8), 5ull << 30);
	assert_int_equal(be32(buf + 20), 4096);
	assert_int_equal(buf[26], 0x04);
	r = RUN(&lun, IN, 255, 0x5a, 0x18, 0x3f, 0, 0, 0, 0, 0, 10, 0);
	assert_int_equal(r.data_in, 10);
	assert_int_equal(buf[1], 8 + 20 + 12 - 2);
}

static void test_report_luns(void **state)
{
	struct scsi_emul_lun lun = disk(1000, 512);
	struct scsi_emul_result r;

	(void)state;
	r = RUN(&lun, IN, 256, 0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0);
	assert_good(&r);
	assert_int_equal(r.data_in, 32);
	assert_int_equal(r.residual, 256 - 32);
	assert_int_equal(be32(buf), 24);
	assert_memory_equal(buf + 8, "\x00\x00\x00\x00\x00\x00\x00\x00", 8);
	assert_memory_equal(buf + 16, "\x00\x01\x00\x00\x00\x00\x00\x00", 8);
	assert_memory_equal(buf + 24, "\x41\x2c\x00\x00\x00\x00\x00\x00", 8);     /* 300, flat space */
	/* Truncated to 20 bytes: the list length still says 24. */
	r = RUN(&lun, IN, 256, 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0);
	assert_int_equal(r.data_in, 20);
	assert_int_equal(be32(buf), 24);
	/* Only well-known LUNs: none. */
	r = RUN(&lun, IN, 256, 0xa0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0);
	assert_int_equal(r.data_in, 8);
	assert_int_equal(be32(buf), 0);
	/* No list given: LUN 0 alone. */
	lun.nr_luns = 0;
	r = RUN(&lun, IN, 256, 0xa0, 0, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0);
	assert_int_equal(r.data_in, 16);
	assert_int_equal(be32(buf), 8);
	r = RUN(&lun, IN, 256, 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 15, 0, 0);
	assert_bad_cdb(&r, 6);
	r = RUN(&lun, IN, 256, 0xa0, 0, 0x10, 0, 0, 0, 0, 0, 1, 0, 0, 0);
	assert_bad_cdb(&r, 2);
}

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

static void test_inquiry_split_buffers(void **state)
{
	struct scsi_emul_lun lun = disk(1000, 512);
	struct scsi_emul_result r;
	static uint8_t a[3], b[10], c[100];
	struct iovec iov[3] = { { a, sizeof(a) }, { b, sizeof(b) }, { c, sizeof(c) } };
	static const uint8_t cdb[6] = { 0x12, 0, 0, 0, 255, 0 };

	(void)state;
	/* buffer_len stops inside the third iovec. */
	assert_int_equal(scsi_emul_execute(&lun, cdb, sizeof(cdb), IN, iov, 3, 40, &r), 0);
	assert_good(&r);
	assert_int_equal(r.data_in, 40);
	assert_int_equal(r.residual, 0);
	assert_int_equal(a[2], 0x06);
	assert_memory_equal(b, "\x02\x45\x00\x00\x02VHA  ", 10);
	assert_int_equal(c[26], 0);
	assert_int_equal(c[27], 0);
	assert_memory_equal(c + 3, "TESTDISK", 8);
}

static void test_unit_attention(void **state)
{
	struct scsi_emul_lun lun = disk(1000, 512);
	struct scsi_emul_result r;

	(void)state;
	lun.unit_attention = true;
	/* INQUIRY and REPORT LUNS go through and leave it pending. */
	r = RUN(&lun, IN, 36, 0x12, 0, 0, 0, 36, 0);
	assert_good(&r);
	r = RUN(&lun, IN, 64, 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 64, 0, 0);
	assert_good(&r);
	assert_true(lun.unit_attention);
	/* Anything else, even an unsupported opcode, gets it once. */
	r = RUN(&lun, NONE, 0, 0xff);
	assert_sense(&r, SCSI_SENSE_UNIT_ATTENTION, 0x2a, 0x09);
	assert_false(lun.unit_attention);
	r = RUN(&lun, NONE, 0, 0xff);
	assert_sense(&r, SCSI_SENSE_ILLEGAL_REQUEST, 0x20, 0x00);
	lun.unit_attention = true;
	r = RUN(&lun, IN, 512, 0x28, 0, 0, 0, 0, 5, 0, 0, 1, 0);
	assert_sense(&r, SCSI_SENSE_UNIT_ATTENTION, 0x2a, 0x09);
	assert_int_equal(r.residual, 512);
	r = RUN(&lun, IN, 512, 0x28, 0, 0, 0, 0, 5, 0, 0, 1, 0);
	assert_io(&r, SCSI_EMUL_OP_READ, 5 * 512, 512, false);
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

static void test_caller_errors(void **state)
{
	struct scsi_emul_lun lun = disk(1000, 512), bad;
	struct scsi_emul_result r;
	uint8_t cdb[17] = { 0 };
	struct iovec iov = { buf, 100 };

	(void)state;
	assert_int_equal(scsi_emul_lun_check(&lun), 0);
	assert_int_equal(scsi_emul_execute(&lun, cdb, 0, NONE, NULL, 0, 0, &r), -EINVAL);
	assert_sense(&r, SCSI_SENSE_HARDWARE_ERROR, 0x44, 0x00);
	assert_int_equal(r.residual, 0);
	assert_int_equal(scsi_emul_execute(&lun, cdb, 17, NONE, NULL, 0, 0, &r), -EINVAL);
	assert_int_equal(scsi_emul_execute(&lun, cdb, 6, IN, &iov, 1, 101, &r), -EINVAL);
	assert_int_equal(scsi_emul_execute(&lun, cdb, 16, IN, &iov, 1, 100, &r), 0);
	assert_good(&r);
	assert_int_equal(r.residual, 100);
	bad = lun, bad.block_size = 1024;
	assert_int_equal(scsi_emul_lun_check(&bad), -EINVAL);
	assert_int_equal(scsi_emul_execute(&bad, cdb, 6, NONE, NULL, 0, 0, &r), -EINVAL);
	bad = lun, bad.blocks = 0;
	assert_int_equal(scsi_emul_lun_check(&bad), -EINVAL);
	bad = lun, bad.blocks = 1ull << 61, bad.block_size = 4096;
	assert_int_equal(scsi_emul_lun_check(&bad), -EINVAL);
	bad = lun, bad.blocks = (1ull << 63) / 512 - 1;
	assert_int_equal(scsi_emul_lun_check(&bad), 0);
	bad = lun, bad.physical_exponent = 16;
	assert_int_equal(scsi_emul_lun_check(&bad), -EINVAL);
	bad = lun, bad.luns = (const uint32_t[]){ 16384 }, bad.nr_luns = 1;
	assert_int_equal(scsi_emul_lun_check(&bad), -EINVAL);
	bad = lun, bad.luns = NULL;
	assert_int_equal(scsi_emul_lun_check(&bad), -EINVAL);
	assert_int_equal(scsi_emul_lun_check(NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_test_unit_ready_and_unknown_opcodes),
		cmocka_unit_test(test_request_sense),
		cmocka_unit_test(test_inquiry_standard),
		cmocka_unit_test(test_inquiry_vpd),
		cmocka_unit_test(test_read_capacity),
		cmocka_unit_test(test_mode_sense),
		cmocka_unit_test(test_report_luns),
		cmocka_unit_test(test_read_write_decode),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_synchronize_cache),
		cmocka_unit_test(test_write_same),
		cmocka_unit_test(test_unmap),
		cmocka_unit_test(test_unmap_split_buffers),
		cmocka_unit_test(test_inquiry_split_buffers),
		cmocka_unit_test(test_unit_attention),
		cmocka_unit_test(test_io_done),
		cmocka_unit_test(test_caller_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
