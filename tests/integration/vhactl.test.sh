#!/bin/bash
# SPDX-License-Identifier: MIT
# vhactl behaviour: clear failure without a backend, list/detach, the nodes as
# xenstore-ls (the real tool) shows them, sim status.
. "$(dirname "$0")/lib.sh"
"$B/vhactl" sim start >/dev/null || fail "sim start"
"$B/vhactl" sim start >/dev/null 2>&1 && fail "a second sim start should refuse"
"$B/vhactl" sim create-domain 1 >/dev/null || fail "create domain"
img=$(make_image disk.img 8)
note "attach without a backend times out with a reason"
out=$("$B/vhactl" attach --frontend-domid 1 --target "$img" --timeout 1 2>&1) && fail "attach without backend succeeded"
echo "$out" | grep -q "is vha-backend running" || fail "unclear message: $out"
note "xenstore-ls shows the libxl-style nodes"
start_backend
"$B/vhactl" attach --frontend-domid 1 --target "$img" --mode r >/dev/null || fail "attach"
tree=$(xs xenstore-ls /local/domain)
for n in frontend-id online state params mode type dev device-type hotplug-status backend backend-id virtual-device; do
	echo "$tree" | grep -q " $n = " || fail "node $n missing: $tree"
done
echo "$tree" | grep -q 'mode = "r"' || fail "mode not r"
perms=$(xs xenstore-ls -p /local/domain/1/device/vbd)
echo "$perms" | grep -q '(n1,r0)' || fail "frontend dir perms: $perms"
"$B/vhactl" list | grep -q "InitWait" || fail "list does not show InitWait"
"$B/vha-frontend" --domid 1 info | grep -q "read-only" || fail "read-only not reported"
note "a guest cannot read another guest's nodes"
"$B/vhactl" sim create-domain 2 >/dev/null || fail "create domain 2"
XENSTORED_PATH=$SIM/xenstore/domain-2.sock xenstore-read /local/domain/1/device/vbd/51712/backend 2>/dev/null &&
	fail "domain 2 read domain 1's node"
"$B/vhactl" detach --frontend-domid 1 --devid 51712 || fail "detach"
[ -z "$(xs xenstore-ls /local/domain/0/backend/vbd 2>/dev/null)" ] || fail "backend dir left behind"
"$B/vhactl" sim status | grep -q "xenstored:     running" || fail "status"
"$B/vhactl" sim stop >/dev/null || fail "stop"
"$B/vhactl" sim status >/dev/null && fail "status after stop should say not running"
echo "PASS"
