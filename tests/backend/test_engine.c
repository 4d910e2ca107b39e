// SPDX-License-Identifier: MIT
/*
 * The engine layer without a guest: choosing an engine by target kind, the
 * null engine's geometry and I/O, the file engine through its io_uring, and
 * the completion path library threads will use (engine_complete_async from
 * other threads, delivered on the reaping thread, oldest first).
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../backend/backend.h"

#define NR_IO 64

static struct engine_io *delivered[NR_IO * 2];
static unsigned int nr_delivered;
static pthread_t reaper;

static void done(struct engine_queue *eq, struct engine_io *io)
{
	(void)eq;
	assert_true(pthread_equal(pthread_self(), reaper));
	delivered[nr_delivered++] = io;
}

static void queue_setup(struct engine *e, struct engine_queue *eq)
{
	memset(eq, 0, sizeof(*eq));
	eq->engine = e;
	eq->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(eq->notify_fd >= 0);
	eq->done = done;
	reaper = pthread_self();
	nr_delivered = 0;
	assert_int_equal(engine_queue_open(eq, 32), 0);
}

static void queue_teardown(struct engine_queue *eq)
{
	engine_queue_close(eq);
	engine_queue_close(eq);         /* idempotent */
	close(eq->notify_fd);
}

/*
 * Every target kind has an engine now; what is left to check is that a
 * target that cannot be opened leaves nothing open and says why: an rbd
 * target whose ceph.conf does not exist (librados fails before any network).
 */
static void test_open_fails(void **state)
{
	struct vha_target_spec spec;
	struct engine e = { .file = { .fd = -1, .bfd = -1 } };

	(void)state;
	assert_int_equal(vha_target_parse("rbd:pool/image:conf=/nonexistent/vha-test/ceph.conf", &spec, NULL, 0), 0);
	assert_int_equal(engine_open(&e, &spec, true), -ENOENT);
	assert_non_null(strstr(e.why, "cannot read ceph conf /nonexistent/vha-test/ceph.conf"));
	assert_null(e.ops);
	assert_null(e.priv);
	assert_string_equal(engine_name(&e), "none");
	engine_close(&e);
	assert_int_equal(engine_size(&e), -EBADF);
}

static void test_null(void **state)
{
	static char buf[2][4096];
	struct vha_target_spec spec;
	struct engine e = { .file = { .fd = -1, .bfd = -1 } };
	struct engine_queue eq;
	struct iovec iov[2] = { { buf[0], 4096 }, { buf[1], 512 } };
	struct engine_io rd = { .op = ENGINE_READ, .offset = 0, .length = 4608, .iov = iov, .nr_iov = 2 };
	struct engine_io wr = { .op = ENGINE_WRITE, .offset = 4096, .length = 4608, .iov = iov, .nr_iov = 2 };
	struct engine_io fl = { .op = ENGINE_FLUSH, .flags = ENGINE_IO_DRAIN };
	struct engine_io dc = { .op = ENGINE_DISCARD, .offset = 0, .length = 1 << 20, .flags = ENGINE_IO_SECURE };

	(void)state;
	assert_int_equal(vha_target_parse("null:1g", &spec, NULL, 0), 0);
	assert_int_equal(engine_open(&e, &spec, true), 0);
	assert_string_equal(engine_name(&e), "null");
	assert_int_equal(e.size, UINT64_C(1) << 30);
	assert_int_equal(engine_size(&e), UINT64_C(1) << 30);
	assert_int_equal(e.logical_block, 512);
	assert_true(e.discard && !e.readonly);
	queue_setup(&e, &eq);
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(engine_submit(&eq, &wr), 0);
	assert_int_equal(engine_submit(&eq, &rd), 0);
	assert_int_equal(engine_submit(&eq, &fl), 0);
	assert_int_equal(engine_submit(&eq, &dc), 0);
	engine_commit(&eq);
	/* Nothing is delivered before a reap, then everything in order. */
	assert_int_equal(nr_delivered, 0);
	engine_reap(&eq);
	assert_int_equal(nr_delivered, 4);
	assert_ptr_equal(delivered[0], &wr);
	assert_ptr_equal(delivered[1], &rd);
	assert_ptr_equal(delivered[3], &dc);
	for (int i = 0; i < 4; i++)
		assert_int_equal(delivered[i]->result, 0);
	for (size_t i = 0; i < 4096 + 512; i++)
		assert_int_equal(i < 4096 ? buf[0][i] : buf[1][i - 4096], 0);
	assert_int_equal(buf[1][512], (char)0xee);      /* nothing past the iovecs */
	queue_teardown(&eq);
	engine_close(&e);
	engine_close(&e);
}

struct async_arg {
	struct engine_queue *eq;
	struct engine_io *io;
	unsigned int n;
};

static void *library_thread(void *p)
{
	struct async_arg *a = p;

	for (unsigned int i = 0; i < a->n; i++)
		engine_complete_async(a->eq, &a->io[i], -(int)i);
	return NULL;
}

/* What librbd's and libnbd's callbacks will do: complete from their threads, answered on the worker. */
static void test_async(void **state)
{
	static struct engine_io io[2][NR_IO];
	struct vha_target_spec spec;
	struct engine e = { .file = { .fd = -1, .bfd = -1 } };
	struct engine_queue eq;
	struct async_arg arg[2];
	pthread_t t[2];
	unsigned int last[2] = { 0, 0 };
	bool seen[2][NR_IO] = { { false } };

	(void)state;
	assert_int_equal(vha_target_parse("null:1m", &spec, NULL, 0), 0);
	assert_int_equal(engine_open(&e, &spec, true), 0);
	queue_setup(&e, &eq);
	eq.notify_used = true;          /* as an engine with library threads sets it */
	for (int k = 0; k < 2; k++) {
		arg[k] = (struct async_arg){ .eq = &eq, .io = io[k], .n = NR_IO };
		assert_int_equal(pthread_create(&t[k], NULL, library_thread, &arg[k]), 0);
	}
	while (nr_delivered < 2 * NR_IO) {
		struct pollfd pfd = { .fd = eq.notify_fd, .events = POLLIN };

		assert_true(poll(&pfd, 1, 5000) == 1);
		engine_reap(&eq);
	}
	for (int k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	for (unsigned int i = 0; i < nr_delivered; i++) {
		int k = delivered[i] >= io[0] && delivered[i] < io[0] + NR_IO ? 0 : 1;
		unsigned int j = (unsigned int)(delivered[i] - io[k]);

		assert_true(j < NR_IO);
		assert_false(seen[k][j]);
		seen[k][j] = true;
		assert_int_equal(delivered[i]->result, -(int)j);
		/* Each thread's completions arrive in the order it made them. */
		assert_true(j == 0 || j > last[k]);
		last[k] = j;
	}
	/* Drained: nothing wakes the worker any more. */
	engine_reap(&eq);
	{
		struct pollfd pfd = { .fd = eq.notify_fd, .events = POLLIN };

		assert_int_equal(poll(&pfd, 1, 0), 0);
	}
	queue_teardown(&eq);
	engine_close(&e);
}

/* The file engine through its io_uring: write, flush with data, read back, short read at the end. */
static void test_file(void **state)
{
	static char buf[4096] __attribute__((aligned(4096)));
	char path[] = "/tmp/vha-engine-XXXXXX";
	struct vha_target_spec spec;
	struct engine e = { .file = { .fd = -1, .bfd = -1 } };
	struct engine_queue eq;
	struct iovec iov = { buf, 4096 };
	struct engine_io wr = { .op = ENGINE_WRITE, .offset = 8192, .length = 4096, .iov = &iov, .nr_iov = 1 };
	struct engine_io fl = { .op = ENGINE_FLUSH, .flags = ENGINE_IO_DRAIN, .offset = 0, .length = 4096,
				.iov = &iov, .nr_iov = 1 };
	struct engine_io rd = { .op = ENGINE_READ, .offset = 8192, .length = 4096, .iov = &iov, .nr_iov = 1 };
	struct engine_io past = { .op = ENGINE_READ, .offset = 65536 - 2048, .length = 4096, .iov = &iov,
				  .nr_iov = 1 };
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 65536), 0);
	close(fd);
	assert_int_equal(vha_target_parse(path, &spec, NULL, 0), 0);
	e.direct_wanted = false;
	assert_int_equal(engine_open(&e, &spec, true), 0);
	assert_string_equal(engine_name(&e), "file");
	assert_int_equal(e.size, 65536);
	queue_setup(&e, &eq);
	memset(buf, 'w', sizeof(buf));
	assert_int_equal(engine_submit(&eq, &wr), 0);
	assert_int_equal(engine_submit(&eq, &fl), 0);
	engine_commit(&eq);
	while (nr_delivered < 2) {
		struct pollfd pfd = { .fd = eq.notify_fd, .events = POLLIN };

		assert_true(poll(&pfd, 1, 5000) == 1);
		engine_reap(&eq);
	}
	assert_int_equal(wr.result, 0);
	assert_int_equal(fl.result, 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(engine_submit(&eq, &rd), 0);
	assert_int_equal(engine_submit(&eq, &past), 0);
	engine_commit(&eq);
	while (nr_delivered < 4) {
		struct pollfd pfd = { .fd = eq.notify_fd, .events = POLLIN };

		assert_true(poll(&pfd, 1, 5000) == 1);
		engine_reap(&eq);
	}
	assert_int_equal(rd.result, 0);
	assert_int_equal(past.result, -EIO);    /* a short transfer is an error */
	queue_teardown(&eq);
	/* file: refuses what is not a regular file. */
	engine_close(&e);
	assert_int_equal(vha_target_parse("blockdev:/tmp", &spec, NULL, 0), 0);
	assert_true(engine_open(&e, &spec, false) < 0);
	assert_null(e.ops);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_fails),
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_async),
		cmocka_unit_test(test_file),
	};

	vha_log_set_threshold(VHA_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
