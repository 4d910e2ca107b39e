#!/bin/bash
# SPDX-License-Identifier: MIT
# make install DESTDIR=... PREFIX=/usr as a package build runs it: the tree
# holds every file where it belongs with its mode; the installed programs
# run; the man pages render with man -l; the installed headers compile on
# their own and a program links against the installed libvhafront.a alone
# (plus the Xen libraries); and the installed bash completion loads, so
# `complete -p vhactl` answers and completing `vhactl at` gives `attach`.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
B=${VHA_BUILD:-$PWD/$BUILD}
for bin in vha-backend vha-frontend vhactl vha-simxenstored; do
	[ -x "$B/$bin" ] || { echo "skip: $B/$bin is not built"; exit 77; }
done
command -v scdoc >/dev/null || { echo "skip: scdoc is not installed (make deps installs it)"; exit 77; }
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
D=$tmp/root

# A make of its own, not a job of the make that runs the tests; the same
# build directory and sanitizer setting, so nothing is rebuilt differently.
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s install BUILD="$BUILD" SANITIZE="${SANITIZE:-0}" \
	DESTDIR="$D" PREFIX=/usr >"$tmp/make.log" 2>&1; then
	fail "make install failed:"; cat "$tmp/make.log"; exit 1
fi

# expect MODE PATH
expect() {
	local mode
	if [ ! -f "$D$2" ]; then fail "missing $2"; return; fi
	mode=$(stat -c %a "$D$2")
	[ "$mode" = "$1" ] || fail "$2 has mode $mode, want $1"
}
expect 755 /usr/sbin/vha-backend
expect 755 /usr/sbin/vhactl
expect 755 /usr/sbin/vha-simxenstored
expect 755 /usr/bin/vha-frontend
expect 755 /etc/xen/scripts/vha
for m in man8/vha-backend.8 man5/vha-backend.conf.5 man8/vhactl.8 man1/vha-frontend.1 man8/vha-hotplug.8 man8/vha-simxenstored.8 man3/libvhafront.3; do
	expect 644 /usr/share/man/$m
done
for h in front.h platform.h log.h; do expect 644 /usr/include/vha/$h; done
expect 644 /usr/lib/libvhafront.a
expect 644 /usr/lib/libvhafront.so.0.0.1
expect 644 /usr/lib/pkgconfig/vhafront.pc
[ "$(readlink "$D/usr/lib/libvhafront.so.0")" = libvhafront.so.0.0.1 ] || fail "libvhafront.so.0 is no link to libvhafront.so.0.0.1"
[ "$(readlink "$D/usr/lib/libvhafront.so")" = libvhafront.so.0 ] || fail "libvhafront.so is no link to libvhafront.so.0"
for c in vhactl vha-frontend vha-backend; do expect 644 /usr/share/bash-completion/completions/$c; done
# Nothing outside /usr and /etc/xen/scripts.
stray=$(cd "$D" && find . -type f | grep -v -e '^\./usr/' -e '^\./etc/xen/scripts/')
[ -z "$stray" ] || fail "files outside /usr and /etc/xen/scripts: $stray"
echo "ok: tree ($(cd "$D" && find . -type f | wc -l) files)"

for p in sbin/vha-backend sbin/vhactl sbin/vha-simxenstored bin/vha-frontend; do
	"$D/usr/$p" --version >/dev/null || fail "installed $p --version failed"
done

if command -v man >/dev/null; then
	for m in "$D"/usr/share/man/man*/*; do
		MANWIDTH=80 man -l "$m" 2>&1 | grep -q '^NAME' || fail "man -l $m does not render"
	done
	echo "ok: installed man pages render"
fi

# The installed headers on their own, and a program against the installed library.
for h in front.h platform.h log.h; do
	echo "#include <vha/$h>" | cc -std=gnu11 -Wall -Werror -I"$D/usr/include" -x c -fsyntax-only - ||
		fail "installed vha/$h does not compile on its own"
done
cat >"$tmp/prog.c" <<'C'
#include <vha/front.h>
#include <vha/log.h>
/* Linked, not run: it must not attach to a disk of the machine. */
int main(int argc, char **argv)
{
	int (*open_front)(struct vha_platform *, unsigned int, const struct vha_front_opts *, struct vha_front **) =
		vha_front_open;
	int (*open_platform)(const struct vha_platform_config *, struct vha_platform **) = vha_platform_open;

	(void)argv;
	vha_log_set_threshold(VHA_LOG_ERROR);
	vha_platform_close(NULL);
	return argc > 99 && open_front && open_platform;
}
C
# The library of a sanitizer build needs the sanitizer's runtime.
case ${SANITIZE:-0} in
1) san="-fsanitize=address,undefined" ;;
thread) san="-fsanitize=thread" ;;
*) san="" ;;
esac
if ! cc -std=gnu11 -Wall -Werror $san -I"$D/usr/include" -o "$tmp/prog" "$tmp/prog.c" "$D/usr/lib/libvhafront.a" \
	$(pkg-config --libs xengnttab xenevtchn xenstore xentoollog) -lrt -pthread 2>"$tmp/cc.log"; then
	fail "a program does not link against the installed libvhafront.a:"; cat "$tmp/cc.log"
else
	"$tmp/prog" || fail "the program linked against libvhafront.a failed"
	echo "ok: installed headers compile, a program links against libvhafront.a and runs"
fi

# The same program through pkg-config against the installed shared library.
# The sanitizer builds' library needs their runtime: not checked there.
if [ "${SANITIZE:-0}" = 0 ]; then
	pc="env PKG_CONFIG_PATH=$D/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$D pkg-config"
	[ "$($pc --modversion vhafront)" = "$("$D/usr/sbin/vhactl" --version | grep -o '[0-9][0-9.]*' | head -1)" ] ||
		fail "vhafront.pc's version is not the programs' version"
	if ! cc -std=gnu11 -Wall -Werror $($pc --cflags vhafront) -o "$tmp/prog-so" "$tmp/prog.c" \
		$($pc --libs vhafront) 2>"$tmp/cc.log"; then
		fail "a program does not link with pkg-config's vhafront flags:"; cat "$tmp/cc.log"
	elif ! readelf -d "$tmp/prog-so" | grep -q 'NEEDED.*libvhafront.so.0'; then
		fail "the program linked with pkg-config's flags does not use libvhafront.so.0"
	else
		LD_LIBRARY_PATH=$D/usr/lib "$tmp/prog-so" || fail "the program linked against libvhafront.so.0 failed"
		echo "ok: pkg-config vhafront: a program links against libvhafront.so.0 and runs"
	fi
fi

# Bash completion, as bash-completion would load it, with the installed programs on PATH.
out=$(PATH="$D/usr/sbin:$D/usr/bin:$PATH" bash --norc --noprofile -c '
	set -e
	. "$1/usr/share/bash-completion/completions/vhactl"
	complete -p vhactl vha-frontend vha-backend
	comp() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=();
		$(complete -p "$1" | sed "s/.*-F \([^ ]*\) .*/\1/"); echo "$*=${COMPREPLY[*]}"; }
	comp vhactl at
	comp vhactl --platform sim det
	comp vhactl detach --for
	comp vha-frontend --vdev xvdb ben
	comp vha-backend --grant-strategy pe
	comp vha-backend --no-res
' bash "$D" 2>&1)
echo "$out"
for want in "complete -F _vhactl vhactl" "vhactl at=attach" "vhactl --platform sim det=detach" \
	"vhactl detach --for=--force" "vha-frontend --vdev xvdb ben=bench" \
	"vha-backend --grant-strategy pe=persistent" "vha-backend --no-res=--no-resume"; do
	grep -qxF -- "$want" <<<"$out" || fail "bash completion: no line '$want'"
done

[ $failures -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "make install: tree, programs, man pages, library and completion ok"
