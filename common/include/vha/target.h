/* SPDX-License-Identifier: MIT */
/*
 * Target specs: how a disk's storage is spelt, the same in `vhactl attach
 * --target`, the backend's "params" node and an xl disk spec with
 * script=vha. The spellings follow QEMU's, so users' habits carry over:
 *
 *   /path                       a file or block device (which one is decided at open)
 *   file:/path                  a regular file
 *   blockdev:/dev/...           a block device
 *   null:SIZE                   reads return zeroes, writes vanish (benchmarks); SIZE with k/m/g/t
 *   rbd:POOL/IMAGE[@SNAP][:conf=PATH][:id=NAME]
 *   nbd:unix:/path[:exportname=NAME]
 *   nbd://HOST[:PORT][/EXPORT]
 *
 * The string may come from a guest or an untrusted toolstack: the parser
 * never trusts its length or contents, refuses control characters, and
 * copies what it keeps into fixed-size fields. Pure: never prints,
 * allocates nothing, thread-safe.
 */
#ifndef VHA_TARGET_H
#define VHA_TARGET_H

#include <stddef.h>
#include <stdint.h>

/* Longest spec accepted, in bytes (a path up to PATH_MAX, plus a prefix). */
#define VHA_TARGET_SPEC_MAX 4200u
#define VHA_TARGET_PATH_MAX 4096u
#define VHA_TARGET_NAME_MAX 256u        /* an rbd pool, image, snapshot or id; an nbd export or host */

enum vha_target_kind {
	VHA_TARGET_PATH,                /* a bare path: file or block device */
	VHA_TARGET_FILE,
	VHA_TARGET_BLOCKDEV,
	VHA_TARGET_NULL,
	VHA_TARGET_RBD,
	VHA_TARGET_NBD,
};

struct vha_target_spec {
	enum vha_target_kind kind;
	char path[VHA_TARGET_PATH_MAX]; /* path, file, blockdev: the path; rbd: conf= (or ""); nbd: the unix socket (or "") */
	uint64_t size;                  /* null: bytes, a positive multiple of 512 */
	char pool[VHA_TARGET_NAME_MAX];         /* rbd */
	char image[VHA_TARGET_NAME_MAX];        /* rbd */
	char snap[VHA_TARGET_NAME_MAX];         /* rbd: "" for the image itself */
	char id[VHA_TARGET_NAME_MAX];           /* rbd: the client id, "" for the default */
	char host[VHA_TARGET_NAME_MAX];         /* nbd over TCP: a name, an IPv4 address or an IPv6 one without brackets */
	uint16_t port;                          /* nbd over TCP: 10809 unless given */
	char export_name[VHA_TARGET_NAME_MAX];  /* nbd: "" for the default export */
};

/*
 * Parse spec into *out. Returns 0, or -EINVAL with a one-line reason in
 * why (why_len bytes, always terminated when why_len > 0; it never quotes
 * more than a few bytes of the input, and nothing unprintable). Engines
 * this build does not have parse fine: whether one is supported is the
 * backend's business (engine_open).
 */
int vha_target_parse(const char *spec, struct vha_target_spec *out, char *why, size_t why_len);

/* "path", "file", "blockdev", "null", "rbd", "nbd". */
const char *vha_target_kind_name(enum vha_target_kind kind);

#endif
