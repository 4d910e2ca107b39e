#!/bin/bash
# SPDX-License-Identifier: MIT
# The rbd engine against a real 1-node Ceph cluster started here
# (tests/lib/ceph-mini.sh: ceph-mon and ceph-osd, memstore, 127.0.0.1):
#  1. libvhafront verify on an rbd image, the data also checked through
#     `rbd export`; flushes are part of verify;
#  2. discard: the space comes back in `rbd du`;
#  3. online resize: `rbd resize` reaches a connected frontend;
#  4. a snapshot: read-only, writes refused, reads match `rbd export`;
#  5. vha-backend SIGKILLed and restarted under write load: no acknowledged
#     write lost (the new backend takes the image's exclusive lock over);
#  6. the OSD stopped and started again under random writes: I/O stalls,
#     then goes on, nothing acknowledged lost;
#  7. a monitor nobody answers at attach: an error node that says so, and
#     the other disk carries on.
# Skipped (77) when Ceph is not installed or does not start here.
# vha-test-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../lib/ceph-mini.sh"
ceph_requires
trap 'rc=$?; ceph_stop; (exit $rc); cleanup' EXIT

t0=$SECONDS
ceph_start "$SIM/ceph" >"$SIM/ceph-start.log" 2>&1 || {
	cat "$SIM/ceph-start.log"
	echo "skip: the 1-node Ceph cluster did not start here (log above)"
	exit 77
}
note "Ceph up in $((SECONDS - t0)) s (mon on 127.0.0.1:$CEPH_PORT)"
rbd create --size 64M rbd/disk || fail "rbd create"
target="rbd:rbd/disk:conf=$CEPH_CONF"

start_sim
"$B/vhactl" sim create-domain 1 >/dev/null || fail "create domain"
"$B/vhactl" attach --frontend-domid 1 --target "$target" >/dev/null || fail "attach $target"
info=$("$B/vha-frontend" --domid 1 info) || fail "info"
echo "$info" | grep -E 'sectors|discard|flush'
echo "$info" | grep -q 131072 || fail "a 64 MiB image is not 131072 sectors"

note "1. verify, then the data through rbd export"
"$B/vha-frontend" --domid 1 verify --pattern --length 8m || fail "pattern verify"
"$B/vha-frontend" --domid 1 --queues 2 verify --random 1500 --seed 7 --max-size 256k --shadow "$SIM/shadow" ||
	fail "random verify"
rbd export --no-progress rbd/disk "$SIM/export" || fail "rbd export"
cmp "$SIM/export" "$SIM/shadow" || fail "rbd export differs from what the frontend wrote"

note "2. discard: space returned (rbd du)"
used_bytes() { rbd du --format json rbd/disk 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["images"][0]["used_size"])'; }
before=$(used_bytes)
"$B/vha-frontend" --domid 1 discard --offset 16m --length 32m || fail "discard"
after=$(used_bytes)
note "rbd du used: $before bytes before, $after after discarding 32 MiB"
[ -n "$before" ] && [ -n "$after" ] || fail "rbd du gave no number"
[ $((before - after)) -ge $((32 << 20)) ] || fail "discard did not return 32 MiB ($before -> $after)"
"$B/vha-frontend" --domid 1 read --offset 16m --length 32m --out "$SIM/back" || fail "read discarded"
cmp "$SIM/back" <(head -c $((32 << 20)) /dev/zero) || fail "a discarded whole object does not read as zeroes"

note "3. online resize: rbd resize reaches a connected frontend"
"$B/vha-frontend" --domid 1 bench --rw randread --bs 4k --iodepth 4 --runtime 4 >/dev/null 2>&1 &
bp=$!
sleep 1
rbd resize --no-progress --size 96M rbd/disk || fail "rbd resize"
wait $bp || fail "bench during the resize"
for _ in $(seq 20); do
	sectors=$(xs xenstore-read /local/domain/0/backend/vbd/1/51712/sectors)
	[ "$sectors" = 196608 ] && break
	sleep 0.5
done
[ "$sectors" = 196608 ] || fail "backend sectors $sectors after rbd resize to 96 MiB"
"$B/vha-frontend" --domid 1 info | grep -q 196608 || fail "the frontend does not see 96 MiB"
grep "size changed" "$SIM/run/backend-0/log" | tail -1

note "4. a snapshot is read-only and reads what it held"
rbd snap create --no-progress rbd/disk@s1 || fail "snap create"
"$B/vhactl" attach --frontend-domid 1 --devid 51728 --target "rbd:rbd/disk@s1:conf=$CEPH_CONF" >/dev/null ||
	fail "attach the snapshot"
"$B/vha-frontend" --domid 1 --devid 51728 info | grep -iE 'read-only|mode' | head -2
head -c 65536 /dev/urandom >"$SIM/junk"
"$B/vha-frontend" --domid 1 --devid 51728 write --in "$SIM/junk" 2>"$SIM/err" && fail "a write to a snapshot succeeded"
note "write refused: $(head -1 "$SIM/err")"
"$B/vha-frontend" --domid 1 write --in "$SIM/junk" --offset 0 || fail "write to the image"
"$B/vha-frontend" --domid 1 --devid 51728 read --length 8m --out "$SIM/snapread" || fail "read the snapshot"
rbd export --no-progress rbd/disk@s1 - 2>/dev/null | head -c $((8 << 20)) | cmp - "$SIM/snapread" ||
	fail "the snapshot reads other data than rbd export of it"
cmp -n $((8 << 20)) "$SIM/snapread" "$SIM/shadow" || fail "the snapshot does not hold what was written before it"
"$B/vhactl" detach --frontend-domid 1 --devid 51728 >/dev/null || fail "detach the snapshot"

note "5. vha-backend SIGKILLed and restarted under write load"
rm -f "$SIM/shadow"
"$B/vha-frontend" --domid 1 --queues 2 verify --random 1000000 --seed 11 --max-size 128k \
	--shadow "$SIM/shadow" --stop-file "$SIM/stop" >"$SIM/verify.log" 2>&1 &
fe=$!
sleep 1
for i in 1 2 3; do
	sleep "0.$((RANDOM % 7 + 3))"
	kill -9 "$BACKEND_PID"
	while kill -0 "$BACKEND_PID" 2>/dev/null; do sleep 0.05; done
	rm -f "$SIM/run/backend-0/pid"
	start_backend
	kill -0 $fe 2>/dev/null || { cat "$SIM/verify.log"; fail "the frontend failed after restart $i"; }
done
sleep 2
touch "$SIM/stop"
wait $fe || { cat "$SIM/verify.log"; fail "verify under restarts reported an error"; }
grep "random verify" "$SIM/verify.log"
rbd export --no-progress rbd/disk "$SIM/export2" || fail "rbd export after restarts"
cmp "$SIM/export2" "$SIM/shadow" || fail "the image differs from the shadow of acknowledged writes"
note "$(grep -c "taken over from an earlier backend" "$SIM/run/backend-0/log") takeovers"

note "6. the OSD stopped and started again under load: I/O stalls, then goes on"
rm -f "$SIM/stop"
"$B/vha-frontend" --domid 1 --queues 2 verify --random 1000000 --seed 13 --max-size 128k \
	--shadow "$SIM/shadow" --stop-file "$SIM/stop" >"$SIM/verify.log" 2>&1 &
fe=$!
sleep 1
t1=$SECONDS
ceph_stop_osd || fail "the OSD did not stop"
sleep 1
ceph_start_osd
ceph_wait_osd_up || fail "the OSD did not come back"
note "OSD down and back up in $((SECONDS - t1)) s"
sleep 2
touch "$SIM/stop"
wait $fe || { cat "$SIM/verify.log"; fail "verify across the OSD restart reported an error"; }
grep "random verify" "$SIM/verify.log"
rbd export --no-progress rbd/disk "$SIM/export3" || fail "rbd export after the OSD restart"
cmp "$SIM/export3" "$SIM/shadow" || fail "the image differs from the shadow after the OSD restart"

note "7. a monitor that does not answer at attach: an error node, the rest carries on"
sed "s/^mon host = .*/mon host = v2:127.0.0.1:$((CEPH_PORT + 77))/" "$CEPH_CONF" >"$SIM/nomon.conf"
t1=$SECONDS
"$B/vhactl" attach --frontend-domid 1 --devid 51744 --target "rbd:rbd/disk:conf=$SIM/nomon.conf" >/dev/null ||
	fail "attach with an unreachable monitor"
"$B/vha-frontend" --domid 1 bench --rw randwrite --bs 4k --iodepth 8 --runtime 3 >/dev/null 2>&1 &
bp=$!
timeout 40 "$B/vha-frontend" --domid 1 --devid 51744 info >/dev/null 2>&1 && fail "connected without a monitor"
err=""
for _ in $(seq 60); do
	err=$(xs xenstore-read /local/domain/0/backend/vbd/1/51744/error 2>/dev/null) && break
	sleep 0.5
done
note "error node after $((SECONDS - t1)) s: $err"
echo "$err" | grep -q "connect to the Ceph cluster" || fail "no clear error node: '$err'"
wait $bp || fail "xvda broke while another disk's monitor was unreachable"
"$B/vhactl" detach --frontend-domid 1 --devid 51744 --force >/dev/null 2>&1
"$B/vha-frontend" --domid 1 read --offset 0 --length 1m --out "$SIM/back" || fail "xvda after the failed attach"
backend_alive || fail "backend died"
note "total $((SECONDS - t0)) s"
echo "PASS"
