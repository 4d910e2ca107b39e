#!/bin/bash
# SPDX-License-Identifier: MIT
# The shared CLI layer as each program uses it: a bad number is a usage error
# (exit 2, "prog: ..." and a --help hint on stderr) instead of silently 0,
# and --version prints the one project version.
set -u
cd "$(dirname "$0")/../.."
B=${VHA_BUILD:-$PWD/build}
for bin in vha-backend vha-frontend vhactl vha-simxenstored; do
	if [ ! -x "$B/$bin" ]; then
		echo "skip: $B/$bin is not built"
		exit 77
	fi
done
version=$(sed -n 's/^VERSION := *//p' Makefile)
[ -n "$version" ] || { echo "FAIL: no VERSION in the Makefile"; exit 1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
failures=0

# expect_usage PROG ARGS...: exit 2, "PROG: " first on stderr, then the hint.
expect_usage() {
	local prog=$1 rc
	shift
	"$B/$prog" "$@" >/dev/null 2>"$out"
	rc=$?
	if [ $rc -ne 2 ] || ! head -1 "$out" | grep -q "^$prog: " || ! grep -q "^Try '$prog --help'\.$" "$out"; then
		echo "FAIL: $prog $* exited $rc with:"; cat "$out"
		failures=$((failures + 1))
	else
		echo "ok: $prog $*: $(head -1 "$out")"
	fi
}

for prog in vha-backend vha-frontend vhactl vha-simxenstored; do
	got=$("$B/$prog" --version)
	if [ "$got" != "$prog $version" ]; then
		echo "FAIL: $prog --version printed '$got', want '$prog $version'"
		failures=$((failures + 1))
	fi
done

expect_usage vha-backend --max-queues 2x
expect_usage vha-backend --max-queues -1
expect_usage vha-backend --domid 99999
expect_usage vha-backend --copy-threshold 4q
expect_usage vha-frontend --domid abc info
expect_usage vha-frontend --iodepth "" bench
expect_usage vha-frontend --bs 4kb bench
expect_usage vha-frontend --runtime soon bench
expect_usage vha-frontend --queues 1.5 info
expect_usage vhactl --domid 1z list
expect_usage vhactl attach --frontend-domid abc --target /dev/null
expect_usage vhactl attach --frontend-domid 1 --target /dev/null --timeout x
expect_usage vhactl detach --frontend-domid 1 --devid xvdz
expect_usage vhactl resize --frontend-domid 1 --devid 51712 --size 1000
expect_usage vhactl sim create-domain -4
# One usage error per vha-frontend command, caught before any device is opened.
expect_usage vha-frontend --vdev xvdz info
expect_usage vha-frontend --offset 1x read
expect_usage vha-frontend write
expect_usage vha-frontend --random many verify
expect_usage vha-frontend --rw sideways bench
expect_usage vha-frontend --bogus info
expect_usage vha-frontend info --ring-order
expect_usage vha-frontend
expect_usage vha-frontend frobnicate
# One per vhactl subcommand (and getopt's own refusals, in the same voice).
expect_usage vhactl
expect_usage vhactl frobnicate
expect_usage vhactl --bogus list
expect_usage vhactl sim
expect_usage vhactl sim frobnicate
expect_usage vhactl sim status extra
expect_usage vhactl sim create-domain 5 --color red
expect_usage vhactl sim destroy-domain 0
expect_usage vhactl attach --frontend-domid 1 --target /dev/null --mode x
expect_usage vhactl attach --frontend-domid 1 --target /dev/null --wait forever
expect_usage vhactl attach --frontend-domid 1 --target /dev/null --grant-strategy steal
expect_usage vhactl attach --target /dev/null
expect_usage vhactl attach --frontend-domid 1 --target
expect_usage vhactl attach --frontend-domid 1 --bogus
expect_usage vhactl detach --devid 51712
expect_usage vhactl detach --frontend-domid 1 stray
expect_usage vhactl resize --devid 51712
expect_usage vhactl list extra
expect_usage vhactl stats --bogus
# The message names what was wrong and what is allowed.
"$B/vhactl" attach --frontend-domid 1 --target /dev/null --mode x 2>&1 | grep -q "^vhactl: attach: --mode takes w|r, not 'x'$" ||
	{ echo "FAIL: attach --mode x: unclear message"; failures=$((failures + 1)); }
"$B/vha-frontend" --rw sideways bench 2>&1 | grep -q "randread|randwrite|read|write|randrw, not 'sideways'" ||
	{ echo "FAIL: --rw sideways: unclear message"; failures=$((failures + 1)); }
# A global option after the command: said where it goes (issue 14), not just "unknown".
expect_usage vhactl attach --platform sim --frontend-domid 1 --target /dev/null
"$B/vhactl" attach --platform sim 2>&1 | grep -q "^vhactl: --platform is a global option: it goes before the command" ||
	{ echo "FAIL: attach --platform: not said to be a global option"; failures=$((failures + 1)); }
"$B/vhactl" attach --bogus 2>&1 | grep -q "^vhactl: unknown option '--bogus'$" ||
	{ echo "FAIL: attach --bogus: not an unknown option"; failures=$((failures + 1)); }
# The program name once, never twice ("vhactl: vhactl attach: ...").
if "$B/vhactl" sim frobnicate 2>&1 | grep -q "vhactl.*vhactl"; then
	echo "FAIL: vhactl names itself twice"; failures=$((failures + 1))
fi
# A runtime error is exit 1, named once, without the usage hint.
"$B/vhactl" --platform sim --sim-dir /nonexistent/vha-cli-test stats >/dev/null 2>"$out"
rc=$?
if [ $rc -ne 1 ] || ! head -1 "$out" | grep -q "^vhactl: stats: cannot read" || grep -q "^Try " "$out"; then
	echo "FAIL: vhactl stats without a backend exited $rc with:"; cat "$out"; failures=$((failures + 1))
fi

# vha-simxenstored has no numeric option: its usage errors speak the same way.
expect_usage vha-simxenstored --log-level loud --dir /nonexistent
expect_usage vha-simxenstored

[ $failures -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all programs agree"
