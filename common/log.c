// SPDX-License-Identifier: MIT
/* Logging sink, threshold and rate limiting for library code. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "vha/log.h"

static vha_log_fn *log_sink;
static void *log_sink_opaque;
static volatile int log_threshold = VHA_LOG_INFO;
static pthread_mutex_t ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;

/* One log line as the default sink writes it (longer messages are cut). */
#define LOG_LINE_MAX 1024

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void vha_log_set_sink(vha_log_fn *fn, void *opaque)
{
	log_sink = fn;
	log_sink_opaque = opaque;
}

void vha_log_set_threshold(enum vha_log_level level)
{
	__atomic_store_n(&log_threshold, (int)level, __ATOMIC_RELAXED);
}

enum vha_log_level vha_log_get_threshold(void)
{
	return (enum vha_log_level)__atomic_load_n(&log_threshold, __ATOMIC_RELAXED);
}

int vha_log_parse_level(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (name && strcasecmp(name, level_names[i]) == 0)
			return (int)i;
	return -EINVAL;
}

static void log_v(enum vha_log_level level, const char *fmt, va_list ap)
{
	if ((int)level > __atomic_load_n(&log_threshold, __ATOMIC_RELAXED))
		return;
	if (log_sink) {
		log_sink(log_sink_opaque, level, fmt, ap);
		return;
	}
	/* One write per line so concurrent threads do not interleave. */
	char line[LOG_LINE_MAX];
	int n = snprintf(line, sizeof(line), "vha: %s: ", level_names[level]);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	/* Messages can carry guest-written text: one line, whatever it holds (no forged lines). */
	vha_sanitize(line + n, line + n, sizeof(line) - (size_t)n);
	fprintf(stderr, "%s\n", line);
}

size_t vha_sanitize(char *dst, const char *src, size_t size)
{
	size_t i = 0;

	if (size == 0)
		return 0;
	for (; src[i] && i + 1 < size; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	dst[i] = '\0';
	return i;
}

void vha_log(enum vha_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(level, fmt, ap);
	va_end(ap);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void vha_log_ratelimited(struct vha_ratelimit *rl, enum vha_log_level level, const char *fmt, ...)
{
	uint32_t dropped = 0;
	bool print;
	uint64_t now = now_ms();
	va_list ap;

	pthread_mutex_lock(&ratelimit_lock);
	if (now - rl->window_start_ms >= rl->interval_ms || rl->window_start_ms == 0) {
		dropped = rl->suppressed;
		rl->window_start_ms = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	print = rl->printed < rl->burst;
	if (print)
		rl->printed++;
	else
		rl->suppressed++;
	pthread_mutex_unlock(&ratelimit_lock);

	if (!print)
		return;
	if (dropped) {
		/* The count rides on the line that names its source, not on a line of its own. */
		char msg[LOG_LINE_MAX];

		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		vha_log(level, "%s [%u similar messages suppressed before this one]", msg, dropped);
		return;
	}
	va_start(ap, fmt);
	log_v(level, fmt, ap);
	va_end(ap);
}

void vha_log_ratelimit_flush(struct vha_ratelimit *rl, enum vha_log_level level, const char *who, bool force)
{
	uint32_t dropped = 0;
	uint64_t now = now_ms(), span = 0;

	pthread_mutex_lock(&ratelimit_lock);
	if (rl->suppressed && (force || now - rl->window_start_ms >= rl->interval_ms)) {
		dropped = rl->suppressed;
		span = now - rl->window_start_ms;
		rl->window_start_ms = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	pthread_mutex_unlock(&ratelimit_lock);
	if (dropped)
		vha_log(level, "%s: [%u similar messages suppressed in the last %.1f s]", who, dropped,
			(double)span / 1000.0);
}
