// SPDX-License-Identifier: MIT
/*
 * The emulated SCSI disk (backend/scsi_emul.h), the commands answered at
 * once: the data each returns, byte for byte where a guest depends on it,
 * for 512 and 4096-byte blocks and above 2^32 blocks; the unit attention;
 * the sense of every error case (docs/scsi.md, "Errors"). The commands
 * that become I/O: test_scsi_emul_io.c.
 */
#include <errno.h>

#include "scsi_emul_test.h"

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
		cmocka_unit_test(test_inquiry_split_buffers),
		cmocka_unit_test(test_unit_attention),
		cmocka_unit_test(test_caller_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
