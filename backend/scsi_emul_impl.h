/* SPDX-License-Identifier: MIT */
/*
 * Private to backend/scsi_emul*.c: one command being decided, the sense
 * and data-in helpers, and the commands that answer from the LUN
 * description alone (scsi_emul_info.c).
 */
#ifndef VHA_BACKEND_SCSI_EMUL_IMPL_H
#define VHA_BACKEND_SCSI_EMUL_IMPL_H

#include "scsi_emul.h"

/* Additional sense codes (ASC << 8 | ASCQ) this emulation reports. */
#define ASC_NONE 0x0000
#define ASC_WRITE_ERROR 0x0c00
#define ASC_UNRECOVERED_READ_ERROR 0x1100
#define ASC_PARAMETER_LIST_LENGTH_ERROR 0x1a00
#define ASC_INVALID_OPCODE 0x2000
#define ASC_LBA_OUT_OF_RANGE 0x2100
#define ASC_INVALID_FIELD_IN_CDB 0x2400
#define ASC_INVALID_FIELD_IN_PARAMETER_LIST 0x2600
#define ASC_WRITE_PROTECTED 0x2700
#define ASC_SPACE_ALLOCATION_FAILED 0x2707
#define ASC_CAPACITY_DATA_CHANGED 0x2a09
#define ASC_SAVING_PARAMETERS_NOT_SUPPORTED 0x3900
#define ASC_INTERNAL_TARGET_FAILURE 0x4400

struct emul_cmd {
	struct scsi_emul_lun *lun;
	uint8_t cdb[SCSI_EMUL_CDB_MAX];         /* zero-padded private copy */
	size_t cdb_len;
	enum scsi_emul_dir dir;
	const struct iovec *iov;
	unsigned int iovcnt;
	size_t buffer_len;
	struct scsi_emul_result *res;
};

static inline uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, (uint16_t)(v >> 16));
	put_be16(p + 2, (uint16_t)v);
}

static inline void put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

/* CHECK CONDITION with key and asc (ASC << 8 | ASCQ); the command ends there. */
void emul_fail(struct emul_cmd *cmd, uint8_t key, uint16_t asc);

/* ILLEGAL REQUEST, INVALID FIELD IN CDB, pointing at CDB byte `byte`. */
void emul_bad_cdb(struct emul_cmd *cmd, unsigned int byte);

/* ILLEGAL REQUEST, INVALID FIELD IN PARAMETER LIST, pointing at parameter byte `byte`. */
void emul_bad_param(struct emul_cmd *cmd, unsigned int byte);

/*
 * GOOD with data-in: the first min(len, alloc) bytes of data go into the
 * buffers (as many as fit, none unless the direction is data-in).
 */
void emul_data_in(struct emul_cmd *cmd, const void *data, size_t len, size_t alloc);

/* Write len bytes at offset of the data-in buffers, as far as they reach. Returns bytes written. */
size_t emul_copy_out(struct emul_cmd *cmd, size_t offset, const void *data, size_t len);

/* GOOD with no data. */
void emul_good(struct emul_cmd *cmd);

/* scsi_emul_info.c */
void emul_inquiry(struct emul_cmd *cmd);
void emul_mode_sense(struct emul_cmd *cmd);
void emul_read_capacity10(struct emul_cmd *cmd);
void emul_read_capacity16(struct emul_cmd *cmd);
void emul_report_luns(struct emul_cmd *cmd);

#endif
