/* SPDX-License-Identifier: MIT */
/*
 * Logging for library code. Library code never prints: it reports through
 * the callback the program installs here. Programs choose where lines go
 * (stderr, syslog) and the threshold.
 */
#ifndef VHA_LOG_H
#define VHA_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vha_log_level {
	VHA_LOG_ERROR = 0,
	VHA_LOG_WARN = 1,
	VHA_LOG_INFO = 2,
	VHA_LOG_DEBUG = 3,
};

typedef void vha_log_fn(void *opaque, enum vha_log_level level, const char *fmt, va_list ap);

/*
 * Install the process-wide log sink. fn == NULL restores the default, which
 * writes "vha: <level>: message" to stderr for levels <= threshold.
 * Not thread-safe against concurrent vha_log(); call it at startup.
 */
void vha_log_set_sink(vha_log_fn *fn, void *opaque);

/* Lines above this level are dropped (default VHA_LOG_INFO). Thread-safe. */
void vha_log_set_threshold(enum vha_log_level level);
enum vha_log_level vha_log_get_threshold(void);

/* Parse "error|warn|info|debug"; returns the level or -EINVAL. */
int vha_log_parse_level(const char *name);

void vha_log(enum vha_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define vha_err(...) vha_log(VHA_LOG_ERROR, __VA_ARGS__)
#define vha_warn(...) vha_log(VHA_LOG_WARN, __VA_ARGS__)
#define vha_info(...) vha_log(VHA_LOG_INFO, __VA_ARGS__)
#define vha_debug(...) vha_log(VHA_LOG_DEBUG, __VA_ARGS__)

/*
 * Copy src into dst (size bytes, NUL-terminated, truncated to fit) with
 * every control character (newlines, escapes, DEL) replaced by '?', for
 * guest-supplied text that goes into a log line or a xenstore node. dst may
 * be src. Returns the length written. The default sink applies it to every
 * message. Never logs.
 */
size_t vha_sanitize(char *dst, const char *src, size_t size);

/*
 * Rate limit for messages a guest can trigger: at most `burst` lines per
 * `interval_ms`; the first line after a suppressed period reports how many
 * were dropped. One struct per device (or per source). Thread-safe.
 */
struct vha_ratelimit {
	uint64_t window_start_ms;
	uint32_t interval_ms;
	uint32_t burst;
	uint32_t printed;
	uint32_t suppressed;
};

#define VHA_RATELIMIT_INIT(interval, n) { 0, (interval), (n), 0, 0 }

/*
 * Logs like vha_log() unless the limit (burst lines per interval) is
 * exhausted. The first line of a new interval carries the count of the
 * previous one's suppressed lines: "<message> [N similar messages
 * suppressed before this one]". Thread-safe.
 */
void vha_log_ratelimited(struct vha_ratelimit *rl, enum vha_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Report lines rl suppressed once its interval has ended (or now, with
 * force: rl is about to go), as "<who>: [N similar messages suppressed in
 * the last S s]", and start a new interval. Call it now and then (the
 * backend does every second), so a flood that stops is still counted,
 * naming its source. Nothing is logged when nothing was suppressed.
 */
void vha_log_ratelimit_flush(struct vha_ratelimit *rl, enum vha_log_level level, const char *who, bool force);

#endif
