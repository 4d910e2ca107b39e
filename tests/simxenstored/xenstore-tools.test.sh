#!/bin/bash
# SPDX-License-Identifier: MIT
# The real xenstore-* command-line tools against vha-simxenstored.
set -u
B=${VHA_BUILD:-build}
[ -x "$B/vha-simxenstored" ] || { echo "skip: $B/vha-simxenstored is not built"; exit 77; }
for t in xenstore-write xenstore-read xenstore-ls xenstore-rm xenstore-chmod; do
	command -v $t >/dev/null || { echo "skip: $t not installed (xenstore-utils)"; exit 77; }
done
D=$(mktemp -d /tmp/vha-xstools-XXXXXX)
trap 'kill $(cat $D/pid 2>/dev/null) 2>/dev/null; rm -rf $D' EXIT
"$B/vha-simxenstored" --dir "$D/xs" --daemon --pid-file "$D/pid" || exit 1
export XENSTORED_PATH=$D/xs/socket
fail() { echo "FAIL: $*"; exit 1; }
xenstore-write /vha/test/a "one" /vha/test/b "two" || fail write
[ "$(xenstore-read /vha/test/a)" = one ] || fail read
ls=$(xenstore-ls /vha)
echo "$ls"
echo "$ls" | grep -q 'a = "one"' && echo "$ls" | grep -q 'b = "two"' || fail "xenstore-ls does not list what was written"
xenstore-chmod /vha/test/a n3 r4 || fail chmod
xenstore-ls -p /vha/test | grep -q '(n3,r4)' || fail "permissions not listed"
xenstore-rm /vha/test/a || fail rm
xenstore-read /vha/test/a 2>/dev/null && fail "read after rm"
echo PASS
