#!/bin/bash
# SPDX-License-Identifier: MIT
# A frontend domain dies with I/O in flight: the backend unmaps every grant,
# closes the target, the device leaves xenstore, and another guest's disk
# keeps working throughout.
. "$(dirname "$0")/lib.sh"
start_sim
for d in 2 3; do
	"$B/vhactl" sim create-domain $d >/dev/null || fail "create domain $d"
	img=$(make_image disk$d.img 32)
	"$B/vhactl" attach --frontend-domid $d --target "$img" >/dev/null || fail "attach $d"
done
"$B/vha-frontend" --domid 3 verify --random 3000 --seed 31 --shadow "$SIM/shadow3" & survivor=$!
"$B/vha-frontend" --domid 2 bench --rw randwrite --iodepth 32 --runtime 30 >/dev/null 2>&1 & victim=$!
sleep 1.5
grep -q "disk2.img" <(ls -l /proc/$BACKEND_PID/fd 2>/dev/null) || fail "backend does not have disk 2 open during I/O"
mapped=$("$B/vhactl" sim status | sed -n 's/^domain 2 .* \([0-9]*\) of its pages mapped.*/\1/p')
note "domain 2 pages mapped by the backend during I/O: $mapped"
kill -9 $victim
"$B/vhactl" sim destroy-domain 2 >/dev/null || fail "destroy domain 2"
for i in $(seq 50); do
	ls -l /proc/$BACKEND_PID/fd 2>/dev/null | grep -q disk2.img || break
	sleep 0.1
done
ls -l /proc/$BACKEND_PID/fd | grep -q disk2.img && fail "backend still has disk 2 open"
"$B/vhactl" sim status | grep -q "domain 2 .*dead, .* 0 of its pages mapped" ||
	{ "$B/vhactl" sim status; fail "grants of domain 2 still mapped"; }
# The toolstack removed the directory once the backend said Closed; nothing may write it back.
sleep 1
if xs xenstore-exists /local/domain/0/backend/vbd/2 2>/dev/null; then
	xs xenstore-ls /local/domain/0/backend/vbd/2
	fail "device of domain 2 still in xenstore"
fi
grep -q "device 2/51712 removed" "$SIM/run/backend-0/log" || fail "the backend did not see device 2 go"
backend_alive || fail "backend died"
wait $survivor || fail "domain 3 verify failed while domain 2 died"
cmp "$SIM/disk3.img" "$SIM/shadow3" || fail "disk 3 differs"
echo "PASS"
