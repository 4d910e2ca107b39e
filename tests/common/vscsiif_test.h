/* SPDX-License-Identifier: MIT */
/*
 * Shared by tests/common/test_vscsiif*.c: the default limits, a valid
 * READ(10) slot, and a private request filled with garbage so that a field
 * the copy forgets to set shows.
 */
#ifndef VHA_TESTS_VSCSIIF_TEST_H
#define VHA_TESTS_VSCSIIF_TEST_H

#include <stdlib.h>
#include <string.h>

#include "vha/vscsiif.h"

/* Later designated initialisers override the defaults in LIM(). */
#pragma GCC diagnostic ignored "-Woverride-init"

#define LIM(...) \
	((struct vha_vscsiif_limits){ .max_sg_segments = 128, .max_data_bytes = 0, .nr_rqids = 16, \
				      .bidirectional = false, __VA_ARGS__ })

/* A READ(10) of one 4 KiB page: the common valid request. */
static inline struct vscsiif_request read10(void)
{
	struct vscsiif_request r;

	memset(&r, 0, sizeof(r));
	r.rqid = 3;
	r.act = VSCSIIF_ACT_SCSI_CDB;
	r.cmd_len = 10;
	r.cmnd[0] = 0x28;
	r.cmnd[8] = 8;
	r.sc_data_direction = VHA_VSCSIIF_DMA_FROM_DEVICE;
	r.nr_segments = 1;
	r.seg[0].gref = 77;
	r.seg[0].offset = 0;
	r.seg[0].length = 4096;
	return r;
}

static inline struct vha_vscsiif_req *req_alloc(void)
{
	struct vha_vscsiif_req *req = malloc(sizeof(*req));

	assert_non_null(req);
	/* Garbage, so a field the copy forgets to set shows. */
	memset(req, 0xa5, sizeof(*req));
	return req;
}

#endif
