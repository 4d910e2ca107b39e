// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the target spec parser (common/target.c), as the
 * backend runs it on a "params" node a guest or an untrusted toolstack may
 * write. The input is the node's value (made a C string). Whatever the
 * parser returns must hold: on success every field is terminated inside its
 * buffer and free of control characters, a null size is a positive multiple
 * of 512, an nbd TCP port is non-zero; on failure the spec is all zeroes and
 * the reason is a non-empty line without control characters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vha/target.h"

static void check_field(const char *f, size_t size)
{
	size_t len = strnlen(f, size);

	if (len == size)
		abort();
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)f[i] < 0x20 || f[i] == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct vha_target_spec zero;
	static struct vha_target_spec spec;
	char *s = malloc(size + 1);
	char why[128];

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	memset(why, 'x', sizeof(why));
	if (vha_target_parse(s, &spec, why, sizeof(why)) == 0) {
		check_field(spec.path, sizeof(spec.path));
		check_field(spec.pool, sizeof(spec.pool));
		check_field(spec.image, sizeof(spec.image));
		check_field(spec.snap, sizeof(spec.snap));
		check_field(spec.id, sizeof(spec.id));
		check_field(spec.host, sizeof(spec.host));
		check_field(spec.export_name, sizeof(spec.export_name));
		switch (spec.kind) {
		case VHA_TARGET_PATH:
		case VHA_TARGET_FILE:
		case VHA_TARGET_BLOCKDEV:
			if (!spec.path[0] || (spec.kind != VHA_TARGET_PATH && spec.path[0] != '/'))
				abort();
			break;
		case VHA_TARGET_NULL:
			if (spec.size == 0 || spec.size % 512)
				abort();
			break;
		case VHA_TARGET_RBD:
			if (!spec.pool[0] || !spec.image[0])
				abort();
			break;
		case VHA_TARGET_NBD:
			if (!spec.path[0] && (!spec.host[0] || spec.port == 0))
				abort();
			break;
		default:
			abort();
		}
		if (strcmp(vha_target_kind_name(spec.kind), "unknown") == 0)
			abort();
	} else {
		if (memcmp(&spec, &zero, sizeof(spec)) != 0 || why[0] == '\0')
			abort();
		check_field(why, sizeof(why));
	}
	free(s);
	return 0;
}
