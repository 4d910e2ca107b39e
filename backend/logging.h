/* SPDX-License-Identifier: MIT */
/*
 * Where vha-backend's log lines go and how each is prefixed. The daemon's
 * log is its standard error: a file given with --log-file (or
 * <state-dir>/log for a daemon) is opened onto descriptor 2, so stray
 * messages from libraries land there too, and reopening it (SIGHUP, after
 * logrotate moved it) swaps descriptor 2 in one dup2() under the threads
 * writing to it. Each line is one write(2).
 */
#ifndef VHA_BACKEND_LOGGING_H
#define VHA_BACKEND_LOGGING_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "vha/log.h"

enum daemon_log_style {
	/* "2026-12-07T15:57:15.123Z vha-backend[1234]: info: message": files, terminals, pipes. */
	DAEMON_LOG_PLAIN,
	/* "<6>info: message": stderr is the systemd journal, which adds time and pid itself. */
	DAEMON_LOG_JOURNAL,
	/* syslog(3), facility LOG_DAEMON, identity vha-backend with the pid. */
	DAEMON_LOG_SYSLOG,
};

/*
 * Format one line (no newline) of the given style into buf: the prefix,
 * then "<level>: ", then msg with every control character replaced
 * (vha_sanitize), cut to fit. now is CLOCK_REALTIME (plain style only).
 * Returns the length written. Never logs.
 */
size_t daemon_log_format(char *buf, size_t size, enum daemon_log_style style, const struct timespec *now,
			 pid_t pid, enum vha_log_level level, const char *msg);

/*
 * True when standard error is the systemd journal: $JOURNAL_STREAM holds
 * "<device>:<inode>" of descriptor 2 (sd-daemon(3), systemd.exec(5)).
 */
bool daemon_log_stderr_is_journal(void);

/*
 * Open path for appending (created 0640) onto descriptor 2 and remember it
 * for daemon_log_reopen(). A relative path is taken from the current
 * directory now. Returns 0 or -errno (descriptor 2 unchanged). Never logs.
 */
int daemon_log_open(const char *path);

/*
 * Reopen the remembered file at its path (logrotate moved the old one):
 * the next line goes to a new file there. Returns 1 when reopened, 0 when
 * no file is in use (stderr is a terminal, a pipe or the journal), or
 * -errno (the old file stays in use). Main thread only. Never logs.
 */
int daemon_log_reopen(void);

/*
 * Install the daemon's sink, for lines from now on: syslog when use_syslog,
 * else the journal's style when stderr is the journal, else plain. Call
 * after daemon_log_open(), before any thread starts.
 */
void daemon_log_start(bool use_syslog);

/* The style daemon_log_start() chose (DAEMON_LOG_PLAIN before). */
enum daemon_log_style daemon_log_style(void);

#endif
