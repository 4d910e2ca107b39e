#!/bin/bash
# SPDX-License-Identifier: MIT
# libvhafront.so.0: its SONAME, and its dynamic symbols against the installed
# headers (vha/front.h, vha/platform.h, vha/log.h): every function they
# declare is exported, nothing else is (the common layer's other functions
# are inside, local), and all are vha_*. Then a program built against the
# headers links and runs with the shared library alone, and one that names
# an internal function does not link.
set -u
cd "$(dirname "$0")/../.."
B=${VHA_BUILD:-$PWD/build}
lib=$(ls "$B"/dist/libvhafront.so.0.* 2>/dev/null | head -1)
[ -n "$lib" ] || { echo "skip: $B/dist/libvhafront.so.0.* is not built"; exit 77; }
command -v nm >/dev/null || { echo "skip: nm (binutils) is not installed"; exit 77; }
HEADERS="frontend/include/vha/front.h common/include/vha/platform.h common/include/vha/log.h"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libvhafront.so.0 ] || fail "SONAME is '$soname', not libvhafront.so.0"
echo "ok: SONAME $soname"

# Defined dynamic symbols, without the version node (an absolute symbol
# named after the version script's node, VHAFRONT_0).
nm -D --defined-only "$lib" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort -u >"$tmp/exported"
# Functions the headers declare: "type name(" at the start of a line,
# typedefs and macros aside.
grep -hE '^[a-z][a-z0-9_ ]*[ *]vha_[a-z0-9_]+\(' $HEADERS | grep -vE '^(typedef|#)' |
	sed -E 's/^.*[ *](vha_[a-z0-9_]+)\(.*/\1/' | sort -u >"$tmp/declared"
[ -s "$tmp/declared" ] || fail "no function found in $HEADERS"
bad=$(grep -v '^vha_' "$tmp/exported" | tr '\n' ' ')
[ -z "$bad" ] || fail "exported, not vha_*: $bad"
missing=$(comm -23 "$tmp/declared" "$tmp/exported" | tr '\n' ' ')
extra=$(comm -13 "$tmp/declared" "$tmp/exported" | tr '\n' ' ')
[ -z "$missing" ] || fail "declared in the headers but not exported (frontend/lib/libvhafront.map): $missing"
[ -z "$extra" ] || fail "exported but declared in no installed header: $extra"
echo "ok: $(wc -l <"$tmp/exported") symbols exported, exactly the functions of the installed headers"
for internal in vha_blkif_ring_size vha_xenbus_state_name vha_cli_error sim_gnttab_map; do
	nm -D --defined-only "$lib" | grep -qw "$internal" && fail "internal $internal is exported"
	nm "$lib" | grep -qw "$internal" || fail "$internal is not in the library at all"
done
echo "ok: the common layer's internals are inside, not exported"

CC=${CC:-cc}
command -v "$CC" >/dev/null || { echo "skip: no C compiler for the link test"; exit 77; }
cat >"$tmp/user.c" <<'C'
#include <stdio.h>
#include <vha/front.h>
#include <vha/log.h>
int main(void)
{
	/* A nonexistent platform: fails and says why, through the library. */
	struct vha_platform_config cfg = { .kind = "no-such-platform" };
	struct vha_platform *p = NULL;

	if (vha_log_parse_level("debug") < 0 || vha_platform_open(&cfg, &p) == 0)
		return 1;
	printf("platform error: %s\n", vha_platform_strerror());
	return 0;
}
C
inc="-Ifrontend/include -Icommon/include $(pkg-config --cflags xenstore 2>/dev/null)"
# A sanitizer build's library needs its runtime first in the program too (SANITIZE=1, =thread).
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
case "$needed" in *libasan*) kinds=address ;; *libtsan*) kinds=thread ;; *) kinds= ;; esac
case "$needed" in *libubsan*) kinds=${kinds:+$kinds,}undefined ;; esac
san=${kinds:+-fsanitize=$kinds}
$CC -Wall -Werror $san $inc -o "$tmp/user" "$tmp/user.c" -L"$(dirname "$lib")" -lvhafront -Wl,--no-undefined ||
	fail "a program over the public headers does not link against the shared library"
readelf -d "$tmp/user" | grep -q 'NEEDED.*libvhafront.so.0' || fail "the program does not need libvhafront.so.0"
LD_LIBRARY_PATH=$(dirname "$lib") "$tmp/user" || fail "the program failed"
printf 'int vha_blkif_ring_size(int);\nint main(void) { return vha_blkif_ring_size(0); }\n' >"$tmp/internal.c"
$CC $san -o "$tmp/internal" "$tmp/internal.c" -L"$(dirname "$lib")" -lvhafront 2>/dev/null &&
	fail "a program linked an internal function of the shared library"
echo "ok: links and runs against libvhafront.so.0; internals do not link"
echo PASS
