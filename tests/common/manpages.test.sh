#!/bin/bash
# SPDX-License-Identifier: MIT
# The man pages (docs/man/*.scd) against the programs: every long option a
# program's --help names (vhactl: also each command's --help) is documented
# in its page, and every option the page documents (a definition line
# starting with *--) is in --help. vha-backend.conf(5) has a setting per
# option, libvhafront(3) every function of front.h, and the environment
# variables the code and the hotplug script read are in their pages. Each
# page renders: scdoc, then groff without warnings and man -l when present.
set -u
cd "$(dirname "$0")/../.."
B=${VHA_BUILD:-$PWD/build}
for bin in vha-backend vha-frontend vhactl vha-simxenstored; do
	[ -x "$B/$bin" ] || { echo "skip: $B/$bin is not built"; exit 77; }
done
command -v scdoc >/dev/null || { echo "skip: scdoc is not installed (make deps installs it)"; exit 77; }
M=docs/man
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Long options in stdin, sorted, one per line.
options() { grep -o -- '--[a-z][a-z0-9-]*' | sort -u; }
# Options a page documents: those on definition lines (starting with *--).
page_options() { grep -E '^\*--' "$1" | options; }

# compare WHAT HELP_LIST PAGE_LIST
compare() {
	local what=$1 missing extra
	missing=$(comm -23 "$2" "$3" | tr '\n' ' ')
	extra=$(comm -13 "$2" "$3" | tr '\n' ' ')
	[ -z "$missing" ] || fail "$what: in --help but not in the man page: $missing"
	[ -z "$extra" ] || fail "$what: in the man page but not in --help: $extra"
	[ -n "$missing$extra" ] || echo "ok: $what: $(wc -l <"$2") options, help and page agree"
}

# help PROG [COMMAND]: --help must succeed.
help() {
	if ! "$B/$1" ${2:+"$2"} --help >"$tmp/help.out" 2>&1; then
		fail "$1 ${2:+$2 }--help exited non-zero"
	fi
	cat "$tmp/help.out"
}

help vha-backend | options >"$tmp/backend.help"
page_options $M/vha-backend.8.scd >"$tmp/backend.page"
compare "vha-backend(8)" "$tmp/backend.help" "$tmp/backend.page"

help vha-frontend | options >"$tmp/frontend.help"
page_options $M/vha-frontend.1.scd >"$tmp/frontend.page"
compare "vha-frontend(1)" "$tmp/frontend.help" "$tmp/frontend.page"

help vha-simxenstored | options >"$tmp/simxenstored.help"
page_options $M/vha-simxenstored.8.scd >"$tmp/simxenstored.page"
compare "vha-simxenstored(8)" "$tmp/simxenstored.help" "$tmp/simxenstored.page"

{
	help vhactl
	for cmd in sim attach detach resize list stats; do help vhactl $cmd; done
} | options >"$tmp/vhactl.help"
# A command's --help need not list --help itself; the page does.
page_options $M/vhactl.8.scd >"$tmp/vhactl.page"
compare "vhactl(8) (global and every command's --help)" "$tmp/vhactl.help" "$tmp/vhactl.page"

# vha-backend.conf(5): one setting per option, but config, help, version and check-target.
grep -v -x -e --config -e --help -e --version -e --check-target "$tmp/backend.help" | sed 's/^--//' >"$tmp/conf.help"
sed -n '/^# SETTINGS/,/^# SIGNALS/p' $M/vha-backend.conf.5.scd | grep -E '^\*[a-z]' |
	grep -o '\*[a-z][a-z0-9-]*\*' | tr -d '*' | sort -u >"$tmp/conf.page"
compare "vha-backend.conf(5) settings" "$tmp/conf.help" "$tmp/conf.page"

# Environment: every "VHA_*" the backend and common code read (getenv, and
# the test hooks' names) in vha-backend.conf(5); the hotplug script's in
# vha-hotplug(8); the programs' in their pages.
env_check() {
	local page=$1; shift
	local before=$failures
	for v in "$@"; do
		grep -q "\*$v\*" "$page" || fail "$(basename "$page" .scd): environment variable $v is not documented"
	done
	[ $failures -ne $before ] || echo "ok: $(basename "$page" .scd): environment $*"
}
env_check $M/vha-backend.conf.5.scd $(grep -rhoE '"VHA_[A-Z0-9_]+"' backend common | tr -d '"' | sort -u)
env_check $M/vha-hotplug.8.scd $(grep -oE '\$\{?(VHA_|XENBUS_)[A-Z0-9_]+' tools/hotplug/vha | tr -d '${' | sort -u)
env_check $M/vha-frontend.1.scd $(help vha-frontend | grep -oE 'VHA_[A-Z0-9_]+' | sort -u)
env_check $M/vhactl.8.scd $(help vhactl | grep -oE 'VHA_[A-Z0-9_]+' | sort -u)
env_check $M/vha-backend.8.scd $(help vha-backend | grep -oE 'VHA_[A-Z0-9_]+' | sort -u)

# libvhafront(3): every function of the public header, and no other.
grep -oE '\bvha_front_[a-z_]+\(' frontend/include/vha/front.h | tr -d '(' | sort -u >"$tmp/api.h"
grep -oE '\bvha_front_[a-z_]+\(' $M/libvhafront.3.scd | tr -d '(' | sort -u >"$tmp/api.page"
missing=$(comm -23 "$tmp/api.h" "$tmp/api.page" | tr '\n' ' ')
extra=$(comm -13 "$tmp/api.h" "$tmp/api.page" | tr '\n' ' ')
[ -z "$missing" ] || fail "libvhafront(3) does not document: $missing"
[ -z "$extra" ] || fail "libvhafront(3) documents functions front.h lacks: $extra"
[ -n "$missing$extra" ] || echo "ok: libvhafront(3): $(wc -l <"$tmp/api.h") functions"

# Every page renders, without warnings.
for src in $M/*.scd; do
	page=$tmp/$(basename "$src" .scd)
	if ! scdoc <"$src" >"$page" 2>"$tmp/err"; then
		fail "scdoc $src: $(cat "$tmp/err")"
		continue
	fi
	if command -v groff >/dev/null; then
		groff -man -Tutf8 -ww -z "$page" 2>"$tmp/err"
		[ -s "$tmp/err" ] && fail "groff warns on $src: $(head -3 "$tmp/err")"
	fi
	if command -v man >/dev/null; then
		MANWIDTH=80 man -l "$page" >"$tmp/out" 2>"$tmp/err" || fail "man -l $src: $(head -3 "$tmp/err")"
		grep -q '^NAME' "$tmp/out" || fail "man -l $src has no NAME section"
	fi
	echo "ok: $src renders"
done

[ $failures -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "man pages agree with the programs"
