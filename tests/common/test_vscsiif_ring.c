// SPDX-License-Identifier: MIT
/*
 * vscsiif responses and ring: rslt and sense encoding, residuals, zeroed
 * responses (XSA-216), and the ring helpers (req_prod overflow, index
 * wraparound, notification). Requests: test_vscsiif.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vscsiif_test.h"

/* ------------------------------ encodings ----------------------------- */

static void test_rslt(void **state)
{
	int32_t r = vha_vscsiif_rslt(XEN_VSCSIIF_RSLT_HOST_OK, VHA_SCSI_STATUS_CHECK_CONDITION);

	assert_int_equal(r, 0x02);
	r = vha_vscsiif_rslt(XEN_VSCSIIF_RSLT_HOST_RESET, VHA_SCSI_STATUS_GOOD);
	assert_int_equal(r, 0x080000);
	assert_int_equal(XEN_VSCSIIF_RSLT_HOST(r), XEN_VSCSIIF_RSLT_HOST_RESET);
	r = vha_vscsiif_rslt(XEN_VSCSIIF_RSLT_HOST_NO_CONNECT, VHA_SCSI_STATUS_BUSY);
	assert_int_equal(XEN_VSCSIIF_RSLT_HOST(r), XEN_VSCSIIF_RSLT_HOST_NO_CONNECT);
	assert_int_equal(XEN_VSCSIIF_RSLT_STATUS(r), VHA_SCSI_STATUS_BUSY);
	r = vha_vscsiif_rslt(0xff, 0xff);
	assert_int_equal(r, 0x00ff00ff);
	assert_int_equal(vha_vscsiif_rslt_task(true), 0x2002);
	assert_int_equal(vha_vscsiif_rslt_task(false), 0x2003);
}

static void test_sense_fixed(void **state)
{
	uint8_t s[VHA_VSCSIIF_SENSE_FIXED_LEN];
	static const uint8_t want[18] = { 0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x20, 0x00, 0, 0, 0, 0 };

	memset(s, 0xff, sizeof(s));
	assert_int_equal(vha_vscsiif_sense_fixed(s, VHA_SCSI_SENSE_ILLEGAL_REQUEST, 0x20, 0x00), 18);
	assert_memory_equal(s, want, sizeof(want));
	assert_int_equal(vha_vscsiif_sense_len(s, sizeof(s)), 18);

	/* LBA OUT OF RANGE with the LBA in INFORMATION, VALID set. */
	vha_vscsiif_sense_fixed(s, VHA_SCSI_SENSE_ILLEGAL_REQUEST, 0x21, 0x00);
	vha_vscsiif_sense_set_info(s, 0x12345678);
	assert_int_equal(s[0], 0xf0);
	assert_int_equal(s[3], 0x12);
	assert_int_equal(s[6], 0x78);
	assert_int_equal(s[12], 0x21);

	/* INVALID FIELD IN CDB, byte 1 bit 3. */
	vha_vscsiif_sense_fixed(s, VHA_SCSI_SENSE_ILLEGAL_REQUEST, 0x24, 0x00);
	vha_vscsiif_sense_set_field(s, true, 1, 3);
	assert_int_equal(s[15], 0x80 | 0x40 | 0x08 | 3);
	assert_int_equal(s[16], 0);
	assert_int_equal(s[17], 1);
	vha_vscsiif_sense_set_field(s, false, 0x1234, 8);
	assert_int_equal(s[15], 0x80);
	assert_int_equal(s[16], 0x12);
	assert_int_equal(s[17], 0x34);

	/* The key keeps 4 bits; UNIT ATTENTION / CAPACITY DATA HAS CHANGED. */
	vha_vscsiif_sense_fixed(s, 0xf6, 0x2a, 0x09);
	assert_int_equal(s[2], VHA_SCSI_SENSE_UNIT_ATTENTION);
	assert_int_equal(s[13], 0x09);
}

static void test_sense_len(void **state)
{
	uint8_t s[252];

	memset(s, 0, sizeof(s));
	assert_int_equal(vha_vscsiif_sense_len(NULL, 18), 0);
	assert_int_equal(vha_vscsiif_sense_len(s, sizeof(s)), 0);     /* response code 0 */
	s[0] = 0x70;
	assert_int_equal(vha_vscsiif_sense_len(s, 7), 0);
	s[7] = 10;
	assert_int_equal(vha_vscsiif_sense_len(s, 8), 8);              /* capped to what is there */
	assert_int_equal(vha_vscsiif_sense_len(s, 252), 18);
	s[0] = 0xf1;                                                   /* deferred, VALID */
	assert_int_equal(vha_vscsiif_sense_len(s, 252), 18);
	s[0] = 0x72;                                                   /* descriptor format */
	s[7] = 200;
	assert_int_equal(vha_vscsiif_sense_len(s, 252), 96);           /* capped to 96 */
	s[0] = 0x74;
	assert_int_equal(vha_vscsiif_sense_len(s, 252), 0);
}

static void test_residual(void **state)
{
	assert_int_equal(vha_vscsiif_residual(4096, 4096), 0);
	assert_int_equal(vha_vscsiif_residual(4096, 1024), 3072);
	assert_int_equal(vha_vscsiif_residual(4096, 0), 4096);
	assert_int_equal(vha_vscsiif_residual(4096, UINT64_MAX), 0);
	assert_int_equal(vha_vscsiif_residual(0, 0), 0);
	assert_int_equal(vha_vscsiif_residual_clamp(4096, 512), 512);
	assert_int_equal(vha_vscsiif_residual_clamp(4096, -5), 0);
	assert_int_equal(vha_vscsiif_residual_clamp(4096, 1 << 20), 4096);
	assert_int_equal(vha_vscsiif_residual_clamp(4096, INT64_MIN), 0);
}

static void test_encode_response(void **state)
{
	unsigned char out[sizeof(struct vscsiif_response)];
	uint8_t sense[200];
	struct vscsiif_response r;
	struct vha_vscsiif_rsp rsp = {
		.rqid = 9, .act = VSCSIIF_ACT_SCSI_CDB, .rslt = vha_vscsiif_rslt(0, VHA_SCSI_STATUS_CHECK_CONDITION),
		.residual = 512, .sense = sense, .sense_len = sizeof(sense),
	};

	memset(sense, 0x11, sizeof(sense));
	memset(out, 0xa5, sizeof(out));
	vha_vscsiif_encode_response(out, &rsp);
	memcpy(&r, out, sizeof(r));
	assert_int_equal(r.rqid, 9);
	assert_int_equal(r.act, VSCSIIF_ACT_SCSI_CDB);
	assert_int_equal(r.sense_len, 96);
	assert_int_equal(r.rslt, 2);
	assert_int_equal(r.residual_len, 512);
	for (unsigned int i = 0; i < 96; i++)
		assert_int_equal(r.sense_buffer[i], 0x11);
	for (unsigned int i = 0; i < 36; i++)
		assert_int_equal(r.reserved[i], 0);

	/* Short sense: the rest of the buffer is zero, not old bytes (XSA-216). */
	vha_vscsiif_sense_fixed(sense, VHA_SCSI_SENSE_NOT_READY, 0x04, 0x00);
	rsp.sense_len = 18;
	memset(out, 0xa5, sizeof(out));
	vha_vscsiif_encode_response(out, &rsp);
	assert_int_equal(out[offsetof(struct vscsiif_response, sense_len)], 18);
	assert_memory_equal(out + offsetof(struct vscsiif_response, sense_buffer), sense, 18);
	for (size_t i = offsetof(struct vscsiif_response, sense_buffer) + 18; i < offsetof(struct vscsiif_response, rslt); i++)
		assert_int_equal(out[i], 0);

	/* No sense pointer: sense_len 0 whatever the length says. */
	rsp.sense = NULL;
	rsp.sense_len = 50;
	vha_vscsiif_encode_response(out, &rsp);
	assert_int_equal(out[offsetof(struct vscsiif_response, sense_len)], 0);
}

/* -------------------------------- rings ------------------------------- */

static void *alloc_ring(void)
{
	/* Exactly one page: ASan flags any slot computed past it. */
	void *mem = aligned_alloc(4096, 4096);

	assert_non_null(mem);
	memset(mem, 0x5a, 4096);
	return mem;
}

static void ring_at(struct vha_vscsiif_front *f, struct vha_vscsiif_back *b, void *mem, RING_IDX start)
{
	vscsiif_sring_t *s = mem;

	vha_vscsiif_front_init(f, mem);
	vha_vscsiif_back_init(b, mem);
	s->req_prod = s->rsp_prod = start;
	s->req_event = s->rsp_event = start + 1;
	f->ring.req_prod_pvt = f->ring.rsp_cons = start;
	b->ring.rsp_prod_pvt = b->ring.req_cons = start;
}

static void test_ring_size(void **state)
{
	struct vha_vscsiif_front f;
	struct vha_vscsiif_back b;
	void *mem = alloc_ring();

	vha_vscsiif_front_init(&f, mem);
	vha_vscsiif_back_init(&b, mem);
	assert_int_equal(RING_SIZE(&b.ring), VHA_VSCSIIF_RING_SIZE);
	assert_int_equal(vha_vscsiif_front_free(&f), 16);
	assert_true(vha_vscsiif_protocol_supported(NULL));
	assert_true(vha_vscsiif_protocol_supported(""));
	assert_true(vha_vscsiif_protocol_supported("x86_64-abi"));
	assert_true(vha_vscsiif_protocol_supported("x86_32-abi"));
	assert_false(vha_vscsiif_protocol_supported("pdp11-abi"));
	free(mem);
}

/* Full round trips at start indexes just below the 32-bit wrap. */
static void round_trips(RING_IDX start)
{
	struct vha_vscsiif_front f;
	struct vha_vscsiif_back b;
	struct vha_vscsiif_req *req = req_alloc();
	void *mem = alloc_ring();
	uint16_t next = 0;

	ring_at(&f, &b, mem, start);
	for (unsigned int round = 0; round < 5; round++) {
		unsigned int n = 1 + round * 3;
		RING_IDX prod;

		if (n > 16)
			n = 16;
		for (unsigned int i = 0; i < n; i++) {
			struct vscsiif_request s = read10();

			s.rqid = (uint16_t)((next + i) % 16);
			vha_vscsiif_front_queue(&f, &s);
		}
		vha_vscsiif_front_push(&f);
		assert_int_equal(vha_vscsiif_back_snapshot(&b, &prod), (int)n);
		for (; b.ring.req_cons != prod; b.ring.req_cons++) {
			struct vha_vscsiif_rsp rsp = { 0 };

			vha_vscsiif_copy_request(vha_vscsiif_back_slot(&b, b.ring.req_cons), req);
			assert_int_equal(vha_vscsiif_validate(&LIM(), req), VHA_VSCSIIF_OK);
			rsp.rqid = req->rqid;
			rsp.rslt = vha_vscsiif_rslt(0, 0);
			rsp.residual = vha_vscsiif_residual(req->data_len, req->data_len);
			vha_vscsiif_back_respond(&b, &rsp);
		}
		vha_vscsiif_back_push(&b);
		assert_false(vha_vscsiif_back_final_check(&b));
		for (unsigned int i = 0; i < n; i++) {
			struct vscsiif_response r;

			assert_int_equal(vha_vscsiif_front_take_response(&f, &r), 1);
			assert_int_equal(r.rqid, (next + i) % 16);
		}
		{
			struct vscsiif_response r;

			assert_int_equal(vha_vscsiif_front_take_response(&f, &r), 0);
		}
		next = (uint16_t)(next + n);
	}
	free(mem);
	free(req);
}

static void test_ring_wraparound(void **state)
{
	round_trips(0);
	round_trips(0xfffffff0u);
	round_trips(0xffffffffu);
	round_trips(0x7ffffffbu);
}

static void test_ring_overflow(void **state)
{
	struct vha_vscsiif_front f;
	struct vha_vscsiif_back b;
	void *mem = alloc_ring();
	RING_IDX prod = 12345;
	RING_IDX starts[] = { 0, 0xfffffff8u };

	for (unsigned int k = 0; k < 2; k++) {
		RING_IDX s = starts[k];

		ring_at(&f, &b, mem, s);
		/* Exactly a ring ahead is fine. */
		b.ring.sring->req_prod = s + 16;
		assert_int_equal(vha_vscsiif_back_snapshot(&b, &prod), 16);
		assert_int_equal(prod, s + 16);
		/* One more is "bogus ring requests". */
		b.ring.sring->req_prod = s + 17;
		prod = 12345;
		assert_int_equal(vha_vscsiif_back_snapshot(&b, &prod), -EPROTO);
		assert_int_equal(prod, 12345);  /* untouched on error */
		/* Backwards. */
		b.ring.sring->req_prod = s - 1;
		assert_int_equal(vha_vscsiif_back_snapshot(&b, &prod), -EPROTO);
		b.ring.sring->req_prod = s + 0x80000000u;
		assert_int_equal(vha_vscsiif_back_snapshot(&b, &prod), -EPROTO);
		/* With 10 taken but unanswered, only 6 more fit. */
		b.ring.req_cons = s + 10;
		b.ring.sring->req_prod = s + 16;
		assert_int_equal(vha_vscsiif_back_snapshot(&b, &prod), 6);
		b.ring.sring->req_prod = s + 17;
		assert_int_equal(vha_vscsiif_back_snapshot(&b, &prod), -EPROTO);
	}

	/* Front side: a backend producing more responses than requests. */
	ring_at(&f, &b, mem, 0);
	{
		struct vscsiif_request s = read10();
		struct vscsiif_response r;

		vha_vscsiif_front_queue(&f, &s);
		vha_vscsiif_front_push(&f);
		f.ring.sring->rsp_prod = 2;
		assert_int_equal(vha_vscsiif_front_take_response(&f, &r), -EPROTO);
	}
	free(mem);
}

static void test_ring_notify(void **state)
{
	struct vha_vscsiif_front f;
	struct vha_vscsiif_back b;
	void *mem = alloc_ring();
	struct vscsiif_request s = read10();
	struct vha_vscsiif_rsp rsp = { .rqid = 3 };
	RING_IDX prod;

	ring_at(&f, &b, mem, 0);
	vha_vscsiif_front_queue(&f, &s);
	/* req_event = 1: the first request notifies. */
	assert_true(vha_vscsiif_front_push(&f));
	assert_int_equal(vha_vscsiif_back_snapshot(&b, &prod), 1);
	b.ring.req_cons = prod;
	/* A second one before the backend re-arms does not. */
	vha_vscsiif_front_queue(&f, &s);
	assert_false(vha_vscsiif_front_push(&f));
	/* final_check sees it rather than sleep. */
	assert_true(vha_vscsiif_back_final_check(&b));
	assert_int_equal(vha_vscsiif_back_snapshot(&b, &prod), 1);
	b.ring.req_cons = prod;
	assert_false(vha_vscsiif_back_final_check(&b));
	/* Re-armed: the next request notifies again. */
	vha_vscsiif_front_queue(&f, &s);
	assert_true(vha_vscsiif_front_push(&f));
	vha_vscsiif_back_respond(&b, &rsp);
	/* rsp_event = 1: the first response notifies. */
	assert_true(vha_vscsiif_back_push(&b));
	free(mem);
}

/* Responses on the ring carry zeros wherever nothing was written (XSA-216). */
static void test_ring_response_zeroed(void **state)
{
	struct vha_vscsiif_front f;
	struct vha_vscsiif_back b;
	void *mem = alloc_ring();
	struct vha_vscsiif_rsp rsp = { .rqid = 1, .rslt = vha_vscsiif_rslt_task(true) };
	const unsigned char *slot;

	ring_at(&f, &b, mem, 0);
	memset((unsigned char *)mem + 64, 0xa5, 4096 - 64);
	vha_vscsiif_back_respond(&b, &rsp);
	slot = (const unsigned char *)RING_GET_RESPONSE(&b.ring, 0);
	for (size_t i = 0; i < sizeof(struct vscsiif_response); i++) {
		if (i == offsetof(struct vscsiif_response, rqid) ||
		    (i >= offsetof(struct vscsiif_response, rslt) && i < offsetof(struct vscsiif_response, rslt) + 2))
			continue;
		assert_int_equal(slot[i], 0);
	}
	free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rslt),
		cmocka_unit_test(test_sense_fixed),
		cmocka_unit_test(test_sense_len),
		cmocka_unit_test(test_residual),
		cmocka_unit_test(test_encode_response),
		cmocka_unit_test(test_ring_size),
		cmocka_unit_test(test_ring_wraparound),
		cmocka_unit_test(test_ring_overflow),
		cmocka_unit_test(test_ring_notify),
		cmocka_unit_test(test_ring_response_zeroed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
