// SPDX-License-Identifier: MIT
/* vha-backend's log sink: prefixes, the journal, syslog, and reopening the log file. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "logging.h"

/* One line as written (longer messages are cut), as the library's default sink. */
#define LOG_LINE_MAX 1024

static const char *const level_names[] = { "error", "warn", "info", "debug" };
/* sd-daemon(3) priorities, which the journal strips and records. */
static const char *const journal_prefixes[] = { SD_ERR, SD_WARNING, SD_INFO, SD_DEBUG };
static const int syslog_priorities[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

static enum daemon_log_style log_style = DAEMON_LOG_PLAIN;
static char log_path[PATH_MAX];

size_t daemon_log_format(char *buf, size_t size, enum daemon_log_style style, const struct timespec *now,
			 pid_t pid, enum vha_log_level level, const char *msg)
{
	unsigned int lv = (unsigned int)level < 4 ? (unsigned int)level : VHA_LOG_DEBUG;
	int n = 0;

	if (size == 0)
		return 0;
	if (style == DAEMON_LOG_PLAIN) {
		struct tm tm;
		char stamp[32];

		gmtime_r(&now->tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(buf, size, "%s.%03ldZ vha-backend[%d]: %s: ", stamp, now->tv_nsec / 1000000L, (int)pid,
			     level_names[lv]);
	} else if (style == DAEMON_LOG_JOURNAL) {
		n = snprintf(buf, size, "%s%s: ", journal_prefixes[lv], level_names[lv]);
	} else {
		n = snprintf(buf, size, "%s: ", level_names[lv]);
	}
	if (n < 0)
		n = 0;
	if ((size_t)n >= size)
		return size - 1;
	/* Messages can carry guest-written text: one line, whatever it holds (no forged lines). */
	return (size_t)n + vha_sanitize(buf + n, msg, size - (size_t)n);
}

bool daemon_log_stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char tail;

	if (!env || sscanf(env, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* Open path onto descriptor 2. */
static int open_onto_stderr(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);

	if (fd < 0)
		return -errno;
	/* One step: a thread writing a line meanwhile reaches the old file or the new one. */
	if (fd != STDERR_FILENO && dup2(fd, STDERR_FILENO) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	if (fd != STDERR_FILENO)
		close(fd);
	return 0;
}

int daemon_log_open(const char *path)
{
	char abs[PATH_MAX];
	int rc;

	if (path[0] != '/') {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		if ((size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, path) >= sizeof(abs))
			return -ENAMETOOLONG;
	} else if ((size_t)snprintf(abs, sizeof(abs), "%s", path) >= sizeof(abs)) {
		return -ENAMETOOLONG;
	}
	rc = open_onto_stderr(abs);
	if (rc < 0)
		return rc;
	snprintf(log_path, sizeof(log_path), "%s", abs);
	return 0;
}

int daemon_log_reopen(void)
{
	int rc;

	if (!log_path[0])
		return 0;
	rc = open_onto_stderr(log_path);
	return rc < 0 ? rc : 1;
}

static void daemon_sink(void *opaque, enum vha_log_level level, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX], line[LOG_LINE_MAX + 64];
	struct timespec now = { 0 };
	size_t n;

	(void)opaque;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_style == DAEMON_LOG_PLAIN)
		clock_gettime(CLOCK_REALTIME, &now);
	n = daemon_log_format(line, sizeof(line) - 1, log_style, &now, getpid(), level, msg);
	if (log_style == DAEMON_LOG_SYSLOG) {
		syslog(syslog_priorities[(unsigned int)level < 4 ? level : VHA_LOG_DEBUG], "%s", line);
		return;
	}
	line[n++] = '\n';
	/* One write per line so concurrent threads do not interleave; a full disk loses the line. */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

void daemon_log_start(bool use_syslog)
{
	if (use_syslog) {
		openlog("vha-backend", LOG_PID | LOG_NDELAY, LOG_DAEMON);
		log_style = DAEMON_LOG_SYSLOG;
	} else {
		log_style = daemon_log_stderr_is_journal() ? DAEMON_LOG_JOURNAL : DAEMON_LOG_PLAIN;
	}
	vha_log_set_sink(daemon_sink, NULL);
}

enum daemon_log_style daemon_log_style(void)
{
	return log_style;
}
