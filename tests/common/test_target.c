// SPDX-License-Identifier: MIT
/* Target specs: every spelling vha/target.h lists, and the refusals a hostile params node meets. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vha/target.h"

static struct vha_target_spec spec;
static char why[160];

static int parse(const char *s)
{
	return vha_target_parse(s, &spec, why, sizeof(why));
}

static void test_paths(void **state)
{
	assert_int_equal(parse("/var/lib/vha/disk.img"), 0);
	assert_int_equal(spec.kind, VHA_TARGET_PATH);
	assert_string_equal(spec.path, "/var/lib/vha/disk.img");
	/* A colon inside an absolute path is still a path. */
	assert_int_equal(parse("/tmp/a:b"), 0);
	assert_int_equal(spec.kind, VHA_TARGET_PATH);
	assert_string_equal(spec.path, "/tmp/a:b");
	/* Relative paths stay paths, as params always allowed. */
	assert_int_equal(parse("disk.img"), 0);
	assert_int_equal(spec.kind, VHA_TARGET_PATH);
	assert_int_equal(parse("Disk:1"), 0);
	assert_int_equal(spec.kind, VHA_TARGET_PATH);
	assert_int_equal(parse("file:/srv/a.img"), 0);
	assert_int_equal(spec.kind, VHA_TARGET_FILE);
	assert_string_equal(spec.path, "/srv/a.img");
	assert_int_equal(parse("blockdev:/dev/vg0/guest"), 0);
	assert_int_equal(spec.kind, VHA_TARGET_BLOCKDEV);
	assert_string_equal(spec.path, "/dev/vg0/guest");
	assert_string_equal(vha_target_kind_name(VHA_TARGET_BLOCKDEV), "blockdev");
}

static void test_null(void **state)
{
	assert_int_equal(parse("null:1g"), 0);
	assert_int_equal(spec.kind, VHA_TARGET_NULL);
	assert_int_equal(spec.size, UINT64_C(1) << 30);
	assert_int_equal(parse("null:512"), 0);
	assert_int_equal(spec.size, 512);
	assert_int_equal(parse("null:4K"), 0);
	assert_int_equal(spec.size, 4096);
	assert_int_equal(parse("null:1024t"), 0);
	assert_int_equal(spec.size, UINT64_C(1) << 50);
	assert_int_equal(parse("null:1048576t"), 0);       /* 2^60: the largest */
	assert_int_equal(parse("null:1048577t"), -EINVAL);
	assert_int_equal(parse("null:0"), -EINVAL);
	assert_int_equal(parse("null:100"), -EINVAL);        /* not a multiple of 512 */
	assert_int_equal(parse("null:513"), -EINVAL);
	assert_int_equal(parse("null:"), -EINVAL);
	assert_int_equal(parse("null:1x"), -EINVAL);
	assert_int_equal(parse("null:-1"), -EINVAL);
	assert_int_equal(parse("null:99999999999999999999999"), -EINVAL);
	assert_non_null(strstr(why, "size"));
}

static void test_rbd(void **state)
{
	assert_int_equal(parse("rbd:pool/image"), 0);
	assert_int_equal(spec.kind, VHA_TARGET_RBD);
	assert_string_equal(spec.pool, "pool");
	assert_string_equal(spec.image, "image");
	assert_string_equal(spec.snap, "");
	assert_string_equal(spec.path, "");
	assert_int_equal(parse("rbd:rbd/vm-1.disk@snap_2:conf=/etc/ceph/ceph.conf:id=admin"), 0);
	assert_string_equal(spec.pool, "rbd");
	assert_string_equal(spec.image, "vm-1.disk");
	assert_string_equal(spec.snap, "snap_2");
	assert_string_equal(spec.path, "/etc/ceph/ceph.conf");
	assert_string_equal(spec.id, "admin");
	assert_int_equal(parse("rbd:p/i:id=c:conf=/x"), 0);
	assert_string_equal(spec.id, "c");
	assert_string_equal(spec.path, "/x");

	static const char *const bad[] = {
		"rbd:", "rbd:pool", "rbd:/image", "rbd:pool/", "rbd:pool/ns/image", "rbd:pool/image@",
		"rbd:pool/image@a@b", "rbd:pool/image:", "rbd:pool/image:conf=", "rbd:pool/image:conf=rel/x",
		"rbd:pool/image:id=", "rbd:pool/image:keyring=/k", "rbd:pool/image:id=a:id=b",
		"rbd:pool/image:conf=/a:conf=/b", "rbd:po ol/image", "rbd:pool/im\\:age", "rbd:pool/image:id=a b",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i]) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
		assert_true(why[0] != '\0');
		/* Nothing half-parsed is left behind. */
		assert_string_equal(spec.pool, "");
	}
}

static void test_nbd(void **state)
{
	assert_int_equal(parse("nbd:unix:/run/nbd.sock"), 0);
	assert_int_equal(spec.kind, VHA_TARGET_NBD);
	assert_string_equal(spec.path, "/run/nbd.sock");
	assert_string_equal(spec.export_name, "");
	assert_int_equal(parse("nbd:unix:/run/nbd.sock:exportname=disk0"), 0);
	assert_string_equal(spec.export_name, "disk0");
	assert_int_equal(parse("nbd://storage.example:10810/vol/1"), 0);
	assert_string_equal(spec.host, "storage.example");
	assert_int_equal(spec.port, 10810);
	assert_string_equal(spec.export_name, "vol/1");
	assert_int_equal(parse("nbd://10.0.0.1"), 0);
	assert_string_equal(spec.host, "10.0.0.1");
	assert_int_equal(spec.port, 10809);
	assert_string_equal(spec.export_name, "");
	assert_int_equal(parse("nbd://[fe80::1]:99/"), 0);
	assert_string_equal(spec.host, "fe80::1");
	assert_int_equal(spec.port, 99);

	static const char *const bad[] = {
		"nbd:", "nbd:unix:", "nbd:unix:rel.sock", "nbd:unix:/s:export=x", "nbd:unix:/s:exportname=",
		"nbd:unix:/s:exportname=a:b", "nbd:host:10809", "nbd://", "nbd://:10809", "nbd://h:0", "nbd://h:65536",
		"nbd://h:", "nbd://h:12a/x", "nbd://[fe80::1", "nbd://[]:1", "nbd://h_x/", "nbd://h?x", "nbd://h/a b",
		"nbd://h:123456789/x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i]) != -EINVAL)
			fail_msg("accepted '%s'", bad[i]);
}

static void test_hostile(void **state)
{
	char *big = malloc(VHA_TARGET_SPEC_MAX + 2);

	assert_int_equal(vha_target_parse(NULL, &spec, why, sizeof(why)), -EINVAL);
	assert_int_equal(parse(""), -EINVAL);
	assert_int_equal(parse("/tmp/a\nb"), -EINVAL);
	assert_non_null(strstr(why, "control character"));
	assert_int_equal(parse("/tmp/a\x7f"), -EINVAL);
	assert_int_equal(parse("file:"), -EINVAL);
	assert_int_equal(parse("file:relative"), -EINVAL);
	assert_int_equal(parse("blockdev:dev/sda"), -EINVAL);
	assert_int_equal(parse("iscsi:iqn.x"), -EINVAL);
	assert_non_null(strstr(why, "unknown engine 'iscsi'"));
	/* An unknown prefix is quoted at most 16 bytes long. */
	assert_int_equal(parse("abcdefghijklmnopqrstuvwxyz:x"), -EINVAL);
	assert_null(strstr(why, "q"));
	/* The longest spec, and one byte more. */
	memset(big, 'a', VHA_TARGET_SPEC_MAX + 1);
	big[0] = '/';
	big[VHA_TARGET_SPEC_MAX + 1] = '\0';
	assert_int_equal(parse(big), -EINVAL);
	big[VHA_TARGET_PATH_MAX - 1] = '\0';
	assert_int_equal(parse(big), 0);
	big[VHA_TARGET_PATH_MAX - 1] = 'a';
	big[VHA_TARGET_PATH_MAX] = '\0';
	assert_int_equal(parse(big), -EINVAL);     /* does not fit the path field */
	/* A tiny reason buffer is still terminated; none at all is allowed. */
	assert_int_equal(vha_target_parse("null:1", &spec, why, 4), -EINVAL);
	assert_int_equal(strlen(why), 3);
	assert_int_equal(vha_target_parse("null:1", &spec, NULL, 0), -EINVAL);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_rbd),
		cmocka_unit_test(test_nbd),
		cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
