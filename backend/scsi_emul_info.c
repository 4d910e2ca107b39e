// SPDX-License-Identifier: MIT
/*
 * The emulated SCSI disk's commands that answer from the LUN description
 * alone: INQUIRY (standard and VPD pages), MODE SENSE 6/10, READ CAPACITY
 * 10/16 and REPORT LUNS. Each builds its whole answer, then data-in takes
 * what the allocation length and the buffers allow; length fields keep the
 * untruncated size (SPC), so an initiator can ask again with more room.
 */
#include <string.h>

#include "scsi_emul_impl.h"

#define VPD_SUPPORTED_PAGES 0x00
#define VPD_UNIT_SERIAL 0x80
#define VPD_DEVICE_ID 0x83
#define VPD_BLOCK_LIMITS 0xb0
#define VPD_BLOCK_CHARACTERISTICS 0xb1
#define VPD_PROVISIONING 0xb2

#define SERIAL_MAX 64

static const uint8_t vpd_pages[] = {
	VPD_SUPPORTED_PAGES, VPD_UNIT_SERIAL, VPD_DEVICE_ID, VPD_BLOCK_LIMITS, VPD_BLOCK_CHARACTERISTICS,
	VPD_PROVISIONING,
};

/* s (or def when NULL) into width bytes, space-padded, non-printables as '?'. Returns its length, at most width. */
static size_t put_ascii(uint8_t *dst, size_t width, const char *s, const char *def, bool pad)
{
	size_t n = 0;

	if (!s)
		s = def;
	for (; n < width && s[n]; n++)
		dst[n] = (s[n] >= 0x20 && s[n] < 0x7f) ? (uint8_t)s[n] : '?';
	if (pad)
		memset(dst + n, ' ', width - n);
	return n;
}

static void inquiry_standard(struct emul_cmd *cmd, size_t alloc)
{
	const struct scsi_emul_lun *lun = cmd->lun;
	/* Version descriptors: SAM-5, SPC-4, SBC-3. */
	static const uint16_t versions[] = { 0x00a0, 0x0460, 0x04c0 };
	uint8_t d[74] = { 0 };

	d[0] = 0x00;                            /* connected direct-access block device */
	d[2] = 0x06;                            /* SPC-4 */
	d[3] = 0x02;                            /* response data format 2 */
	d[4] = sizeof(d) - 5;
	d[7] = 0x02;                            /* CMDQUE */
	put_ascii(d + 8, 8, lun->vendor, "VHA", true);
	put_ascii(d + 16, 16, lun->product, "VIRTUAL-DISK", true);
	put_ascii(d + 32, 4, lun->revision, "0001", true);
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		put_be16(d + 58 + 2 * i, versions[i]);
	emul_data_in(cmd, d, sizeof(d), alloc);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The NAA designator's bytes from lun->naa: 8 (NAA 2, 3, 5) or 16 (NAA 6); 0 when absent or malformed. */
static size_t naa_bytes(const char *naa, uint8_t out[16])
{
	size_t len = naa ? strnlen(naa, 33) : 0;
	int first;

	if (len != 16 && len != 32)
		return 0;
	first = hex_digit(naa[0]);
	if (len == 16 ? (first != 2 && first != 3 && first != 5) : first != 6)
		return 0;
	for (size_t i = 0; i < len; i += 2) {
		int hi = hex_digit(naa[i]), lo = hex_digit(naa[i + 1]);

		if (hi < 0 || lo < 0)
			return 0;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return len / 2;
}

static void inquiry_vpd(struct emul_cmd *cmd, uint8_t page, size_t alloc)
{
	const struct scsi_emul_lun *lun = cmd->lun;
	uint8_t d[256] = { 0 };
	uint8_t naa[16];
	size_t len = 4, n;
	uint32_t granularity = 1u << lun->physical_exponent;

	d[1] = page;
	switch (page) {
	case VPD_SUPPORTED_PAGES:
		memcpy(d + 4, vpd_pages, sizeof(vpd_pages));
		len += sizeof(vpd_pages);
		break;
	case VPD_UNIT_SERIAL:
		len += put_ascii(d + 4, SERIAL_MAX, lun->serial, "", false);
		break;
	case VPD_DEVICE_ID:
		n = naa_bytes(lun->naa, naa);
		if (n) {
			d[len] = 0x01;                  /* binary */
			d[len + 1] = 0x03;              /* associated with the LU, NAA */
			d[len + 3] = (uint8_t)n;
			memcpy(d + len + 4, naa, n);
			len += 4 + n;
		}
		/* T10 vendor ID: vendor, product, then the serial number. */
		d[len] = 0x02;                          /* ASCII */
		d[len + 1] = 0x01;                      /* associated with the LU, T10 vendor ID */
		put_ascii(d + len + 4, 8, lun->vendor, "VHA", true);
		put_ascii(d + len + 12, 16, lun->product, "VIRTUAL-DISK", true);
		n = 24 + put_ascii(d + len + 28, SERIAL_MAX, lun->serial, "", false);
		d[len + 3] = (uint8_t)n;
		len += 4 + n;
		break;
	case VPD_BLOCK_LIMITS:
		len = 64;
		d[4] = 0x01;                            /* WSNZ: WRITE SAME of 0 blocks is refused */
		put_be16(d + 6, (uint16_t)granularity); /* optimal transfer length granularity */
		put_be32(d + 8, lun->max_transfer_blocks);
		if (lun->discard) {
			put_be32(d + 20, SCSI_EMUL_UNMAP_MAX_BLOCKS);
			put_be32(d + 24, SCSI_EMUL_UNMAP_MAX_DESCRIPTORS);
			put_be32(d + 28, granularity);  /* optimal unmap granularity */
		}
		if (lun->discard || lun->write_zeroes)
			put_be64(d + 36, SCSI_EMUL_WRITE_SAME_MAX_BLOCKS);
		break;
	case VPD_BLOCK_CHARACTERISTICS:
		len = 64;
		put_be16(d + 4, 0x0001);                /* non-rotating medium */
		break;
	case VPD_PROVISIONING:
		len = 8;
		if (lun->discard) {
			/* LBPU, LBPWS, LBPWS10; LBPRZ when discarded blocks read back as zeroes. */
			d[5] = 0xe0 | (lun->discard_zeroes ? 0x04 : 0);
			d[6] = 0x02;                    /* thin provisioned */
		}
		break;
	default:
		return emul_bad_cdb(cmd, 2);
	}
	put_be16(d + 2, (uint16_t)(len - 4));
	emul_data_in(cmd, d, len, alloc);
}

void emul_inquiry(struct emul_cmd *cmd)
{
	const uint8_t *c = cmd->cdb;
	size_t alloc = get_be16(c + 3);

	if (c[1] & 0x02)                        /* CMDDT (obsolete) */
		return emul_bad_cdb(cmd, 1);
	if (c[1] & 0x01)
		return inquiry_vpd(cmd, c[2], alloc);
	if (c[2] != 0)                          /* a page code without EVPD */
		return emul_bad_cdb(cmd, 2);
	inquiry_standard(cmd, alloc);
}

#define MODE_PAGE_CACHING 0x08
#define MODE_PAGE_CONTROL 0x0a
#define MODE_PAGE_ALL 0x3f

/* Append one mode page at d; pc 1 (changeable) gives the mask: nothing is changeable. */
static size_t mode_page(const struct scsi_emul_lun *lun, uint8_t page, unsigned int pc, uint8_t *d)
{
	size_t len = page == MODE_PAGE_CACHING ? 20 : 12;

	memset(d, 0, len);
	d[0] = page;
	d[1] = (uint8_t)(len - 2);
	if (pc == 1)
		return len;
	if (page == MODE_PAGE_CACHING)
		d[2] = lun->write_cache ? 0x04 : 0;     /* WCE, as it is; RCD 0 */
	else
		d[3] = 0x10;                            /* queue algorithm modifier: unrestricted */
	return len;
}

void emul_mode_sense(struct emul_cmd *cmd)
{
	const struct scsi_emul_lun *lun = cmd->lun;
	const uint8_t *c = cmd->cdb;
	bool ten = c[0] == 0x5a;
	bool dbd = c[1] & 0x08, llbaa = ten && (c[1] & 0x10);
	unsigned int pc = c[2] >> 6;
	uint8_t page = c[2] & 0x3f, subpage = c[3];
	size_t alloc = ten ? get_be16(c + 7) : c[4];
	size_t header = ten ? 8 : 4, len = header, bd = dbd ? 0 : (llbaa ? 16 : 8);
	uint8_t d[8 + 16 + 20 + 12] = { 0 };

	if (pc == 3)
		return emul_fail(cmd, SCSI_SENSE_ILLEGAL_REQUEST, ASC_SAVING_PARAMETERS_NOT_SUPPORTED);
	if (page != MODE_PAGE_CACHING && page != MODE_PAGE_CONTROL && page != MODE_PAGE_ALL)
		return emul_bad_cdb(cmd, 2);
	/* No subpages: subpage 0, or 0xff ("and all its subpages"). */
	if (subpage != 0 && subpage != 0xff)
		return emul_bad_cdb(cmd, 3);

	if (bd == 8) {
		put_be32(d + len, lun->blocks > 0xffffffffu ? 0xffffffffu : (uint32_t)lun->blocks);
		put_be32(d + len + 4, lun->block_size); /* byte 4 (density) stays 0: the top byte */
	} else if (bd == 16) {
		put_be64(d + len, lun->blocks);
		put_be32(d + len + 12, lun->block_size);
	}
	len += bd;
	if (page == MODE_PAGE_CACHING || page == MODE_PAGE_ALL)
		len += mode_page(lun, MODE_PAGE_CACHING, pc, d + len);
	if (page == MODE_PAGE_CONTROL || page == MODE_PAGE_ALL)
		len += mode_page(lun, MODE_PAGE_CONTROL, pc, d + len);

	/* Device-specific parameter: WP for a read-only LUN, DPOFUA (FUA is honoured). */
	if (ten) {
		put_be16(d, (uint16_t)(len - 2));
		d[3] = (lun->read_only ? 0x80 : 0) | 0x10;
		d[4] = llbaa && bd ? 0x01 : 0;          /* LONGLBA */
		put_be16(d + 6, (uint16_t)bd);
	} else {
		d[0] = (uint8_t)(len - 1);
		d[2] = (lun->read_only ? 0x80 : 0) | 0x10;
		d[3] = (uint8_t)bd;
	}
	emul_data_in(cmd, d, len, alloc);
}

/* PMI 0 with an LBA other than 0 is an invalid field (SBC-3; PMI is obsolete in SBC-4). */
static bool capacity_fields_ok(struct emul_cmd *cmd, uint64_t lba, bool pmi, unsigned int lba_byte)
{
	if (!pmi && lba != 0) {
		emul_bad_cdb(cmd, lba_byte);
		return false;
	}
	return true;
}

void emul_read_capacity10(struct emul_cmd *cmd)
{
	const struct scsi_emul_lun *lun = cmd->lun;
	uint64_t last = lun->blocks - 1;
	uint8_t d[8];

	if (!capacity_fields_ok(cmd, get_be32(cmd->cdb + 2), cmd->cdb[8] & 0x01, 2))
		return;
	/* A last LBA that does not fit in 32 bits says "use READ CAPACITY 16". */
	put_be32(d, last >= 0xffffffffu ? 0xffffffffu : (uint32_t)last);
	put_be32(d + 4, lun->block_size);
	emul_data_in(cmd, d, sizeof(d), sizeof(d));
}

void emul_read_capacity16(struct emul_cmd *cmd)
{
	const struct scsi_emul_lun *lun = cmd->lun;
	uint8_t d[32] = { 0 };

	if (!capacity_fields_ok(cmd, get_be64(cmd->cdb + 2), cmd->cdb[14] & 0x01, 2))
		return;
	put_be64(d, lun->blocks - 1);
	put_be32(d + 8, lun->block_size);
	/* d[12]: protection off. */
	d[13] = lun->physical_exponent & 0x0f;
	if (lun->discard)
		d[14] = 0x80 | (lun->discard_zeroes ? 0x40 : 0);   /* LBPME, LBPRZ */
	emul_data_in(cmd, d, sizeof(d), get_be32(cmd->cdb + 10));
}

void emul_report_luns(struct emul_cmd *cmd)
{
	const struct scsi_emul_lun *lun = cmd->lun;
	static const uint32_t lun0 = 0;
	const uint32_t *luns = lun->nr_luns ? lun->luns : &lun0;
	size_t nr = lun->nr_luns ? lun->nr_luns : 1;
	uint8_t select = cmd->cdb[2], d[8] = { 0 };
	size_t alloc = get_be32(cmd->cdb + 6), done, want;

	/* 0: all LUNs, 2: all of them too (there are no well-known LUNs), 1: only well-known ones. */
	if (select > 2)
		return emul_bad_cdb(cmd, 2);
	if (alloc < 16)                         /* SPC-3's minimum */
		return emul_bad_cdb(cmd, 6);
	if (select == 1)
		nr = 0;
	/* nr < 2^32 / 8 is not promised by the caller: the list length saturates. */
	put_be32(d, nr > 0x1fffffff ? 0xfffffff8u : (uint32_t)(nr * 8));
	emul_good(cmd);
	done = emul_copy_out(cmd, 0, d, 8);
	want = 8 + (nr < (SIZE_MAX - 8) / 8 ? nr * 8 : SIZE_MAX - 8);
	if (want > alloc)
		want = alloc;
	for (size_t i = 0; done == 8 * (i + 1) && done < want; i++) {
		uint32_t l = luns[i];

		memset(d, 0, sizeof(d));
		if (l < 256) {
			d[1] = (uint8_t)l;              /* peripheral device addressing */
		} else {
			d[0] = (uint8_t)(0x40 | (l >> 8));      /* flat space addressing */
			d[1] = (uint8_t)l;
		}
		done += emul_copy_out(cmd, done, d, want - done < 8 ? want - done : 8);
	}
	cmd->res->data_in = done;
	cmd->res->residual = cmd->buffer_len - done;
}
