// SPDX-License-Identifier: MIT
/* The backend's target layer: geometry, O_DIRECT with fall-back, read-only, discard. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../backend/backend.h"

static char path[64];

static int setup(void **state)
{
	unsigned char buf[65536];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/vha-target-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	memset(buf, 0xab, sizeof(buf));
	for (int i = 0; i < 16; i++)
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
			return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void test_file_geometry(void **state)
{
	struct target t;

	(void)state;
	vha_log_set_threshold(VHA_LOG_ERROR);
	assert_int_equal(target_open(&t, path, true, true, false), 0);
	assert_int_equal(t.size, 16 * 65536);
	assert_int_equal(t.logical_block, 512);
	assert_false(t.is_blockdev);
	assert_true(t.discard);
	assert_int_equal(t.bfd, -1);
	target_close(&t);
	assert_int_equal(t.fd, -1);
}

/* O_DIRECT with a buffered twin (direct_maps off): both see the same data. */
static void test_buffered_twin(void **state)
{
	static char b[4096] __attribute__((aligned(4096)));
	struct target t;

	(void)state;
	vha_log_set_threshold(VHA_LOG_ERROR);
	assert_int_equal(target_open(&t, path, true, true, true), 0);
	if (!t.direct) {
		assert_int_equal(t.bfd, -1);   /* no O_DIRECT here (tmpfs): nothing to pair */
		target_close(&t);
		skip();
	}
	assert_true(t.bfd >= 0);
	assert_int_equal(fcntl(t.bfd, F_GETFL) & O_DIRECT, 0);
	memset(b, 'q', 4096);
	assert_int_equal(pwrite(t.bfd, b, 4096, 8192), 4096);
	memset(b, 0, 4096);
	assert_int_equal(pread(t.fd, b, 4096, 8192), 4096);     /* direct read sees the buffered write */
	assert_int_equal(b[0], 'q');
	assert_int_equal(b[4095], 'q');
	target_close(&t);
	assert_int_equal(t.fd, -1);
	assert_int_equal(t.bfd, -1);
}

static void test_readonly_refuses_writes(void **state)
{
	struct target t;
	char b[512] = { 0 };

	(void)state;
	assert_int_equal(target_open(&t, path, false, false, false), 0);
	assert_false(t.discard);
	assert_true(pwrite(t.fd, b, sizeof(b), 0) < 0);
	target_close(&t);
}

static void test_discard_punches_zeroes(void **state)
{
	struct target t;
	unsigned char b[8192];

	(void)state;
	assert_int_equal(target_open(&t, path, true, false, false), 0);
	assert_int_equal(target_discard(&t, 65536, 8192, false, NULL, NULL), 0);
	assert_int_equal(pread(t.fd, b, sizeof(b), 65536), (ssize_t)sizeof(b));
	for (size_t i = 0; i < sizeof(b); i++)
		assert_int_equal(b[i], 0);
	/* Around the hole the data is untouched, and the size is kept. */
	assert_int_equal(pread(t.fd, b, 1, 65535), 1);
	assert_int_equal(b[0], 0xab);
	assert_int_equal(pread(t.fd, b, 1, 65536 + 8192), 1);
	assert_int_equal(b[0], 0xab);
	/* Files have no secure erase. */
	assert_int_equal(target_discard(&t, 0, 4096, true, NULL, NULL), -EOPNOTSUPP);
	target_close(&t);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 16 * 65536);
}

static unsigned int stop_calls;

/* Let the first chunk through, stop before the second. */
static bool stop_after_one(void *arg)
{
	(void)arg;
	return ++stop_calls > 1;
}

static void test_discard_in_chunks_stops_between_them(void **state)
{
	char big[128];
	struct target t;
	unsigned char b = 0xcd;
	int fd;

	(void)state;
	/* Sparse: one byte at the start of each of three chunks. */
	snprintf(big, sizeof(big), "%s.big", path);
	fd = open(big, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	for (unsigned int i = 0; i < 3; i++)
		assert_int_equal(pwrite(fd, &b, 1, (off_t)(i * TARGET_DISCARD_CHUNK)), 1);
	assert_int_equal(ftruncate(fd, (off_t)(3 * TARGET_DISCARD_CHUNK)), 0);
	close(fd);
	assert_int_equal(target_open(&t, big, true, false, false), 0);
	stop_calls = 0;
	assert_int_equal(target_discard(&t, 0, 3 * TARGET_DISCARD_CHUNK, false, stop_after_one, NULL), -ECANCELED);
	assert_int_equal(stop_calls, 2);
	/* The first chunk was discarded; the next two were not touched. */
	assert_int_equal(pread(t.fd, &b, 1, 0), 1);
	assert_int_equal(b, 0);
	for (unsigned int i = 1; i < 3; i++) {
		assert_int_equal(pread(t.fd, &b, 1, (off_t)(i * TARGET_DISCARD_CHUNK)), 1);
		assert_int_equal(b, 0xcd);
	}
	/* Without a stop, the whole range goes, chunk by chunk. */
	assert_int_equal(target_discard(&t, 0, 3 * TARGET_DISCARD_CHUNK, false, NULL, NULL), 0);
	assert_int_equal(pread(t.fd, &b, 1, 2 * TARGET_DISCARD_CHUNK), 1);
	assert_int_equal(b, 0);
	target_close(&t);
	unlink(big);
}

static void test_missing_and_wrong_kind(void **state)
{
	struct target t;

	(void)state;
	assert_int_equal(target_open(&t, "/nonexistent/disk.img", true, true, false), -ENOENT);
	assert_int_equal(target_open(&t, "/tmp", true, false, false), -EISDIR);
	assert_int_equal(target_open(&t, "/dev/null", false, false, false), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_geometry),
		cmocka_unit_test(test_buffered_twin),
		cmocka_unit_test(test_readonly_refuses_writes),
		cmocka_unit_test(test_discard_punches_zeroes),
		cmocka_unit_test(test_discard_in_chunks_stops_between_them),
		cmocka_unit_test(test_missing_and_wrong_kind),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
