// SPDX-License-Identifier: MIT
/*
 * Target specs (vha/target.h). The input is hostile: a guest or an
 * untrusted toolstack may write the "params" node. Every field is checked
 * against a small character set and copied into a fixed-size buffer; the
 * reason for a refusal names the field, never echoes raw input.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "vha/cli.h"
#include "vha/target.h"

/* The largest null target: 2^60 bytes keeps every sector and byte count far from overflow. */
#define NULL_SIZE_MAX (UINT64_C(1) << 60)
#define NBD_DEFAULT_PORT 10809u

static int fail(char *why, size_t why_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (why && why_len > 0) {
		va_start(ap, fmt);
		vsnprintf(why, why_len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* An rbd pool, image, snapshot or client id: a conservative set, no separators. */
static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
	       c == '-' || c == '+';
}

/* An nbd export name: printable ASCII without the option separator, spaces or escapes. */
static bool export_char(char c)
{
	return c > ' ' && c < 0x7f && c != ':' && c != '\\';
}

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

static bool ipv6_char(char c)
{
	return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' || c == '.';
}

/*
 * Copy s[0, len) into dst (size dst_len) if it is non-empty, fits and every
 * byte passes ok (NULL: any byte). Returns 0 or -EINVAL with why naming what.
 */
static int take(char *dst, size_t dst_len, const char *s, size_t len, bool (*ok)(char), const char *what,
		char *why, size_t why_len)
{
	if (len == 0)
		return fail(why, why_len, "empty %s", what);
	if (len >= dst_len)
		return fail(why, why_len, "%s longer than %zu bytes", what, dst_len - 1);
	for (size_t i = 0; ok && i < len; i++)
		if (!ok(s[i]))
			return fail(why, why_len, "%s has a character that is not allowed (byte %zu)", what, i + 1);
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

/* A path after a prefix: absolute, and for rbd/nbd options free of the ':' separator. */
static int take_path(char *dst, const char *s, size_t len, const char *what, char *why, size_t why_len)
{
	if (len == 0)
		return fail(why, why_len, "empty %s", what);
	if (s[0] != '/')
		return fail(why, why_len, "%s must be an absolute path", what);
	return take(dst, VHA_TARGET_PATH_MAX, s, len, NULL, what, why, why_len);
}

/* rbd:POOL/IMAGE[@SNAP][:conf=PATH][:id=NAME] (s is after "rbd:") */
static int parse_rbd(const char *s, struct vha_target_spec *out, char *why, size_t why_len)
{
	size_t head = strcspn(s, ":");
	const char *slash = memchr(s, '/', head), *at;
	bool have_conf = false, have_id = false;
	int rc;

	if (!slash)
		return fail(why, why_len, "rbd wants POOL/IMAGE");
	rc = take(out->pool, sizeof(out->pool), s, (size_t)(slash - s), name_char, "rbd pool", why, why_len);
	if (rc < 0)
		return rc;
	head -= (size_t)(slash - s) + 1;
	s = slash + 1;
	if (memchr(s, '/', head))
		return fail(why, why_len, "rbd namespaces (POOL/NAMESPACE/IMAGE) are not supported");
	at = memchr(s, '@', head);
	rc = take(out->image, sizeof(out->image), s, at ? (size_t)(at - s) : head, name_char, "rbd image", why,
		  why_len);
	if (rc == 0 && at)
		rc = take(out->snap, sizeof(out->snap), at + 1, head - (size_t)(at + 1 - s), name_char, "rbd snapshot",
			  why, why_len);
	if (rc < 0)
		return rc;
	s += head;
	while (*s == ':') {
		size_t len;

		s++;
		len = strcspn(s, ":");
		if (len > 5 && strncmp(s, "conf=", 5) == 0) {
			if (have_conf)
				return fail(why, why_len, "rbd conf= given twice");
			rc = take_path(out->path, s + 5, len - 5, "rbd conf", why, why_len);
			have_conf = true;
		} else if (len > 3 && strncmp(s, "id=", 3) == 0) {
			if (have_id)
				return fail(why, why_len, "rbd id= given twice");
			rc = take(out->id, sizeof(out->id), s + 3, len - 3, name_char, "rbd id", why, why_len);
			have_id = true;
		} else {
			return fail(why, why_len, "unknown or empty rbd option (rbd takes conf= and id=)");
		}
		if (rc < 0)
			return rc;
		s += len;
	}
	out->kind = VHA_TARGET_RBD;
	return 0;
}

/* nbd:unix:/path[:exportname=NAME] or nbd://HOST[:PORT][/EXPORT] (s is after "nbd:") */
static int parse_nbd(const char *s, struct vha_target_spec *out, char *why, size_t why_len)
{
	size_t len;
	int rc;

	out->kind = VHA_TARGET_NBD;
	if (strncmp(s, "unix:", 5) == 0) {
		s += 5;
		len = strcspn(s, ":");
		rc = take_path(out->path, s, len, "nbd socket", why, why_len);
		if (rc < 0)
			return rc;
		s += len;
		if (*s == '\0')
			return 0;
		s++;
		if (strncmp(s, "exportname=", 11) != 0)
			return fail(why, why_len, "unknown nbd option (nbd:unix: takes exportname=)");
		s += 11;
		return take(out->export_name, sizeof(out->export_name), s, strlen(s), export_char, "nbd export name",
			    why, why_len);
	}
	if (strncmp(s, "//", 2) != 0)
		return fail(why, why_len, "nbd wants nbd:unix:/path[:exportname=NAME] or nbd://HOST[:PORT][/EXPORT]");
	s += 2;
	if (*s == '[') {
		const char *end = strchr(s, ']');

		if (!end)
			return fail(why, why_len, "nbd IPv6 host has no closing ]");
		rc = take(out->host, sizeof(out->host), s + 1, (size_t)(end - s - 1), ipv6_char, "nbd host", why,
			  why_len);
		s = end + 1;
	} else {
		len = strcspn(s, ":/");
		rc = take(out->host, sizeof(out->host), s, len, host_char, "nbd host", why, why_len);
		s += len;
	}
	if (rc < 0)
		return rc;
	out->port = NBD_DEFAULT_PORT;
	if (*s == ':') {
		char digits[8];
		uint64_t port;

		s++;
		len = strcspn(s, "/");
		if (len == 0 || len >= sizeof(digits))
			return fail(why, why_len, "nbd port must be a number from 1 to 65535");
		memcpy(digits, s, len);
		digits[len] = '\0';
		if (vha_parse_u64(digits, 1, 65535, 0, &port) < 0)
			return fail(why, why_len, "nbd port must be a number from 1 to 65535");
		out->port = (uint16_t)port;
		s += len;
	}
	if (*s == '\0')
		return 0;
	if (*s != '/')
		return fail(why, why_len, "nbd host must be followed by :PORT or /EXPORT");
	s++;
	if (*s == '\0')
		return 0;
	return take(out->export_name, sizeof(out->export_name), s, strlen(s), export_char, "nbd export name", why,
		    why_len);
}

static int parse_spec(const char *spec, struct vha_target_spec *out, char *why, size_t why_len)
{
	size_t len, prefix;
	int rc;

	if (!spec || !*spec)
		return fail(why, why_len, "empty target");
	len = strnlen(spec, VHA_TARGET_SPEC_MAX + 1);
	if (len > VHA_TARGET_SPEC_MAX)
		return fail(why, why_len, "target longer than %u bytes", VHA_TARGET_SPEC_MAX);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)spec[i] < 0x20 || spec[i] == 0x7f)
			return fail(why, why_len, "target has a control character (byte %zu)", i + 1);
	if (spec[0] == '/') {
		out->kind = VHA_TARGET_PATH;
		return take(out->path, sizeof(out->path), spec, len, NULL, "path", why, why_len);
	}
	/* An engine prefix is lower-case letters and a colon; anything else is a relative path. */
	for (prefix = 0; prefix < len && spec[prefix] >= 'a' && spec[prefix] <= 'z'; prefix++)
		;
	if (prefix == 0 || prefix >= len || spec[prefix] != ':') {
		out->kind = VHA_TARGET_PATH;
		return take(out->path, sizeof(out->path), spec, len, NULL, "path", why, why_len);
	}
	if (prefix == 4 && strncmp(spec, "file", 4) == 0) {
		out->kind = VHA_TARGET_FILE;
		return take_path(out->path, spec + 5, len - 5, "file path", why, why_len);
	}
	if (prefix == 8 && strncmp(spec, "blockdev", 8) == 0) {
		out->kind = VHA_TARGET_BLOCKDEV;
		return take_path(out->path, spec + 9, len - 9, "blockdev path", why, why_len);
	}
	if (prefix == 4 && strncmp(spec, "null", 4) == 0) {
		rc = vha_parse_u64(spec + 5, 512, NULL_SIZE_MAX, VHA_PARSE_SIZE, &out->size);
		if (rc < 0 || out->size % 512)
			return fail(why, why_len, "null wants a size: a multiple of 512 bytes up to 1 EiB, suffix k, m, g or t");
		out->kind = VHA_TARGET_NULL;
		return 0;
	}
	if (prefix == 3 && strncmp(spec, "rbd", 3) == 0)
		return parse_rbd(spec + 4, out, why, why_len);
	if (prefix == 3 && strncmp(spec, "nbd", 3) == 0)
		return parse_nbd(spec + 4, out, why, why_len);
	return fail(why, why_len, "unknown engine '%.*s' (file, blockdev, null, rbd or nbd; or an absolute path)",
		    prefix > 16 ? 16 : (int)prefix, spec);
}

int vha_target_parse(const char *spec, struct vha_target_spec *out, char *why, size_t why_len)
{
	int rc;

	if (why && why_len > 0)
		why[0] = '\0';
	memset(out, 0, sizeof(*out));
	rc = parse_spec(spec, out, why, why_len);
	if (rc < 0)
		/* Nothing half-parsed is left for a caller that ignores the error. */
		memset(out, 0, sizeof(*out));
	return rc;
}

const char *vha_target_kind_name(enum vha_target_kind kind)
{
	switch (kind) {
	case VHA_TARGET_PATH: return "path";
	case VHA_TARGET_FILE: return "file";
	case VHA_TARGET_BLOCKDEV: return "blockdev";
	case VHA_TARGET_NULL: return "null";
	case VHA_TARGET_RBD: return "rbd";
	case VHA_TARGET_NBD: return "nbd";
	}
	return "unknown";
}
