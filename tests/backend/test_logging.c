// SPDX-License-Identifier: MIT
/* vha-backend's log lines (backend/logging.c): prefixes per style, sanitising, the journal check. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../backend/logging.h"

/* 2026-12-07T15:57:15.123Z */
static const struct timespec when = { .tv_sec = 1796659035, .tv_nsec = 123456789 };

static void test_plain(void **state)
{
	char buf[256];
	size_t n;

	(void)state;
	n = daemon_log_format(buf, sizeof(buf), DAEMON_LOG_PLAIN, &when, 1234, VHA_LOG_INFO, "device 1/51712: removed");
	assert_string_equal(buf, "2026-12-07T15:57:15.123Z vha-backend[1234]: info: device 1/51712: removed");
	assert_int_equal(n, strlen(buf));
	/* Milliseconds keep their zeros. */
	struct timespec early = { .tv_sec = when.tv_sec, .tv_nsec = 7000000 };
	daemon_log_format(buf, sizeof(buf), DAEMON_LOG_PLAIN, &early, 1, VHA_LOG_ERROR, "x");
	assert_string_equal(buf, "2026-12-07T15:57:15.007Z vha-backend[1]: error: x");
}

static void test_journal(void **state)
{
	static const char *const want[] = { "<3>error: m", "<4>warn: m", "<6>info: m", "<7>debug: m" };
	char buf[64];

	(void)state;
	for (int level = VHA_LOG_ERROR; level <= VHA_LOG_DEBUG; level++) {
		daemon_log_format(buf, sizeof(buf), DAEMON_LOG_JOURNAL, &when, 1, (enum vha_log_level)level, "m");
		assert_string_equal(buf, want[level]);
	}
	daemon_log_format(buf, sizeof(buf), DAEMON_LOG_SYSLOG, &when, 1, VHA_LOG_WARN, "m");
	assert_string_equal(buf, "warn: m");
}

/* Guest text cannot start a line of its own; a long message is cut, NUL-terminated. */
static void test_sanitised_and_cut(void **state)
{
	char buf[80], big[300];
	size_t n;

	(void)state;
	daemon_log_format(buf, sizeof(buf), DAEMON_LOG_JOURNAL, &when, 1, VHA_LOG_ERROR,
			  "x86\n<3>error: forged\r\x1b[2J");
	assert_string_equal(buf, "<3>error: x86?<3>error: forged??[2J");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	n = daemon_log_format(buf, sizeof(buf), DAEMON_LOG_PLAIN, &when, 99999, VHA_LOG_DEBUG, big);
	assert_int_equal(n, sizeof(buf) - 1);
	assert_int_equal(strlen(buf), sizeof(buf) - 1);
	assert_memory_equal(buf, "2026-12-07T15:57:15.123Z vha-backend[99999]: debug: aaa", 55);
}

/* JOURNAL_STREAM names standard error by device and inode, or not at all. */
static void test_journal_stream(void **state)
{
	char path[] = "/tmp/vha-logging-XXXXXX", env[64];
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	struct stat st;

	(void)state;
	assert_true(fd >= 0 && saved >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	unsetenv("JOURNAL_STREAM");
	assert_false(daemon_log_stderr_is_journal());
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	assert_true(daemon_log_stderr_is_journal());
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", env, 1);
	assert_false(daemon_log_stderr_is_journal());
	setenv("JOURNAL_STREAM", "garbage", 1);
	assert_false(daemon_log_stderr_is_journal());
	snprintf(env, sizeof(env), "%llu:%llux", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	assert_false(daemon_log_stderr_is_journal());
	unsetenv("JOURNAL_STREAM");
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	unlink(path);
}

/* Reopening: nothing to do without a file; with one, a moved file is replaced at its path. */
static void test_reopen(void **state)
{
	char dir[] = "/tmp/vha-logging-XXXXXX", path[128], moved[128], buf[64] = "";
	int saved = dup(STDERR_FILENO), fd;
	ssize_t n;

	(void)state;
	assert_int_equal(daemon_log_reopen(), 0);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/log", dir);
	snprintf(moved, sizeof(moved), "%s/log.1", dir);
	assert_int_equal(daemon_log_open(path), 0);
	assert_int_equal(write(STDERR_FILENO, "one\n", 4), 4);
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(daemon_log_reopen(), 1);
	assert_int_equal(write(STDERR_FILENO, "two\n", 4), 4);
	dup2(saved, STDERR_FILENO);
	close(saved);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_int_equal(n, 4);
	assert_string_equal(buf, "two\n");
	fd = open(moved, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n < 0 ? 0 : n] = '\0';
	close(fd);
	assert_string_equal(buf, "one\n");
	unlink(path);
	unlink(moved);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_journal),
		cmocka_unit_test(test_sanitised_and_cut),
		cmocka_unit_test(test_journal_stream),
		cmocka_unit_test(test_reopen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
