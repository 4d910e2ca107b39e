#!/bin/bash
# SPDX-License-Identifier: MIT
# A target that takes seconds to open stalls nobody else. An rbd target
# whose monitor does not answer makes librados wait its connect timeout
# (10 s); vha-backend opens targets on a thread of the device's own, so
# meanwhile:
#  1. another guest's disk connects and does I/O, while the slow one is
#     still opening (its frontend Initialised, the backend InitWait, no
#     error node yet);
#  2. the slow device then gets an error node that says why; so does a
#     second disk of the same cluster that opened at the same time, whose
#     frontend gave up waiting before the open ended;
#  3. a device removed while its target opens is freed once the open ends;
#     the same disk attached again meanwhile, on another target, connects
#     once the old device is gone, serving the new target, with nothing of
#     the old open's failure reported on it;
#  4. an NBD server that takes 4 s to accept each connection (nbdkit's
#     delay filter): a 4-queue device's connections are made on the
#     engine's I/O threads, not the main thread, and closing the device
#     while they connect abandons them: another domain's frontend with a
#     short handshake timeout is served meanwhile;
#  5. SIGTERM while a target opens: vha-backend waits for it and exits 0.
# Before, the open ran on the main thread: every other guest's handshake
# waited for it, and a frontend with the default 10 s timeout gave up (the
# CI failure of engine-rbd.test.sh's section 7). No Ceph daemon is needed:
# the monitor is a port nobody listens on.
# vha-test-timeout: 180
. "$(dirname "$0")/lib.sh"

cat >"$SIM/nomon.conf" <<EOF
[global]
fsid = 00000000-0000-4000-8000-000000000001
mon host = v2:127.0.0.1:9
auth cluster required = none
auth service required = none
auth client required = none
EOF
slow="rbd:rbd/disk:conf=$SIM/nomon.conf"
be_dir=/local/domain/0/backend/vbd
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
# wait_opening DOMID DEVID: the frontend is Initialised and the backend
# still InitWait with no error node: the backend is opening the target.
wait_opening() {
	local fe_state be_state
	for _ in $(seq 200); do
		fe_state=$(xs xenstore-read "/local/domain/$1/device/vbd/$2/state" 2>/dev/null)
		be_state=$(xs xenstore-read "$be_dir/$1/$2/state" 2>/dev/null)
		[ "$fe_state" = 3 ] && [ "$be_state" = 2 ] && break
		sleep 0.05
	done
	[ "$fe_state" = 3 ] && [ "$be_state" = 2 ] ||
		fail "device $1/$2 is not opening: frontend state '$fe_state', backend state '$be_state'"
	xs xenstore-read "$be_dir/$1/$2/error" >/dev/null 2>&1 && fail "device $1/$2 has an error node already"
	return 0
}

start_sim
for d in 1 2 3; do "$B/vhactl" sim create-domain $d >/dev/null || fail "create domain $d"; done

note "1. a slow open (domain 1) does not hold up domain 2's disk"
t0=$(date +%s%N)
"$B/vhactl" attach --frontend-domid 1 --target "$slow" >/dev/null || fail "attach $slow"
# The frontend's handshake is what makes the backend open the target. A
# second disk of the same cluster opens at the same time (it waits for the
# same connect), and its frontend gives up after 2 s (its state goes Closed).
"$B/vhactl" attach --frontend-domid 1 --devid 51776 --target "$slow" >/dev/null || fail "attach a second disk"
"$B/vha-frontend" --domid 1 --timeout 60 info >"$SIM/fe1.log" 2>&1 &
fe1=$!
"$B/vha-frontend" --domid 1 --devid 51776 --timeout 2 info >"$SIM/fe1b.log" 2>&1 &
fe1b=$!
img=$(make_image disk2 16)
wait_opening 1 51712
"$B/vhactl" attach --frontend-domid 2 --target "$img" >/dev/null || fail "attach $img"
"$B/vha-frontend" --domid 2 verify --pattern --length 4m || fail "domain 2's disk while domain 1's target opened"
served_ms=$(ms_since "$t0")
xs xenstore-read $be_dir/1/51712/error >/dev/null 2>&1 &&
	fail "domain 1's open had already ended when domain 2 was served: the open held the main thread"
grep -q "device 1/51712 connected" "$SIM/run/backend-0/log" && fail "connected without a monitor"
note "domain 2 attached and verified $served_ms ms after domain 1's attach, while its target was still opening"

note "2. the slow device gets an error node that says why"
err=""
for _ in $(seq 120); do
	err=$(xs xenstore-read $be_dir/1/51712/error 2>/dev/null) && break
	sleep 0.5
done
note "error node after $(ms_since "$t0") ms: $err"
echo "$err" | grep -q "cannot connect to the Ceph cluster" || fail "no clear error node: '$err'"
wait $fe1 && fail "domain 1's frontend connected without a monitor"
wait $fe1b && fail "domain 1's second frontend connected without a monitor"
# Its frontend gave up (Closed) before the open ended: it still finds why in the error node.
err=""
for _ in $(seq 20); do
	err=$(xs xenstore-read $be_dir/1/51776/error 2>/dev/null) && break
	sleep 0.5
done
echo "$err" | grep -q "cannot connect to the Ceph cluster" ||
	fail "no error node for the second disk, whose frontend had given up: '$err'"
"$B/vhactl" detach --frontend-domid 1 --force >/dev/null 2>&1
"$B/vhactl" detach --frontend-domid 1 --devid 51776 --force >/dev/null 2>&1

note "3. a device removed while its target opens"
"$B/vhactl" attach --frontend-domid 3 --target "$slow" >/dev/null || fail "attach $slow for domain 3"
"$B/vha-frontend" --domid 3 --timeout 60 info >/dev/null 2>&1 &
fe3=$!
wait_opening 3 51712
"$B/vhactl" detach --frontend-domid 3 --force >/dev/null 2>&1 || fail "detach domain 3's disk"
kill $fe3 2>/dev/null
wait $fe3 2>/dev/null
# The same disk again at once, on a file: the old device is still being torn down (its open runs).
img3=$(make_image disk3 8)
"$B/vhactl" attach --frontend-domid 3 --target "$img3" >/dev/null || fail "attach $img3 as domain 3's disk again"
"$B/vha-frontend" --domid 3 --timeout 30 read --offset 0 --length 1m --out "$SIM/back3" ||
	fail "the disk attached again while its old device was torn down did not connect"
cmp -n $((1 << 20)) "$SIM/back3" "$img3" || fail "the disk attached again does not serve its new target"
grep -q "device 3/51712 connected: $img3" "$SIM/run/backend-0/log" || fail "no connect of the new target in the log"
# The old device's open ends in a failure that is its own: nothing about it reaches the new disk.
grep -q "device 3/51712: cannot open" "$SIM/run/backend-0/log" &&
	fail "the removed device's open failure was reported on the disk attached again"
"$B/vhactl" detach --frontend-domid 3 --force >/dev/null 2>&1
for _ in $(seq 60); do
	grep -q "device 3/51712 removed" "$SIM/run/backend-0/log" && break
	sleep 0.5
done
grep -q "device 3/51712 removed" "$SIM/run/backend-0/log" || fail "the removal was never seen"
# The device goes from stats.json once its open has ended and the target is closed.
gone=0
for _ in $(seq 60); do
	kill -USR1 "$BACKEND_PID"
	sleep 0.5
	python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
sys.exit(0 if not any(x["frontend"] == 3 for x in d["devices"]) else 1)' "$SIM/run/backend-0/stats.json" && { gone=1; break; }
done
[ $gone = 1 ] || fail "domain 3's device is still there 30 s after its removal"
backend_alive || fail "backend died"
"$B/vha-frontend" --domid 2 read --offset 0 --length 1m --out /dev/null || fail "domain 2's disk after the removal"

note "4. an NBD server slow to accept: its queues connect off the main thread"
if ! command -v nbdkit >/dev/null 2>&1 || ! nbdkit --filter=delay memory 1M --dump-config >/dev/null 2>&1; then
	echo "section 4 skipped: nbdkit with the delay filter is not installed (apt-get install nbdkit)"
else
	nbdkit -f --unix "$SIM/slow.sock" --filter=delay memory 64M delay-open=4 >"$SIM/nbdkit.log" 2>&1 &
	nbdkit_pid=$!
	for _ in $(seq 50); do [ -S "$SIM/slow.sock" ] && break; sleep 0.1; done
	"$B/vhactl" attach --frontend-domid 1 --devid 51760 --target "nbd:unix:$SIM/slow.sock" >/dev/null ||
		fail "attach the slow nbd target"
	"$B/vha-frontend" --domid 1 --devid 51760 --queues 4 --timeout 60 verify --pattern --length 4m \
		>"$SIM/fe-nbd.log" 2>&1 &
	fenbd=$!
	# The open's probe connection takes 4 s; then the device connects and its 4 queues connect.
	sleep 5
	"$B/vha-frontend" --domid 2 --timeout 5 read --offset 0 --length 1m --out /dev/null ||
		fail "domain 2 was not served within its 5 s handshake timeout while an NBD server was slow"
	wait $fenbd || { cat "$SIM/fe-nbd.log"; fail "the slow nbd target's verify"; }
	grep "pattern verify" "$SIM/fe-nbd.log"
	# info closes right after the connect, while the 4 queues' connections wait 4 s on the
	# server: the close abandons them, and another domain's 2 s handshake is not held up.
	"$B/vha-frontend" --domid 1 --devid 51760 --queues 4 --timeout 60 info >/dev/null ||
		fail "info on the slow nbd target"
	t4=$(date +%s%N)
	"$B/vha-frontend" --domid 2 --timeout 2 read --offset 0 --length 1m --out /dev/null ||
		fail "domain 2 was not served within its 2 s handshake timeout while a slow nbd device closed"
	note "domain 2 served $(ms_since "$t4") ms after the slow nbd device's frontend closed"
	kill $nbdkit_pid 2>/dev/null
	"$B/vhactl" detach --frontend-domid 1 --devid 51760 --force >/dev/null 2>&1
fi

note "5. SIGTERM while a target opens: waits for it, exits 0"
"$B/vhactl" attach --frontend-domid 3 --devid 51728 --target "$slow" >/dev/null || fail "attach again"
"$B/vha-frontend" --domid 3 --devid 51728 --timeout 60 info >/dev/null 2>&1 &
fe3=$!
wait_opening 3 51728
kill -TERM "$BACKEND_PID"
rc=""
for _ in $(seq 60); do
	backend_alive || { rc=done; break; }
	sleep 0.5
done
kill $fe3 2>/dev/null
wait $fe3 2>/dev/null
[ "$rc" = done ] || fail "vha-backend still runs 30 s after SIGTERM"
grep -q "shutting down" "$SIM/run/backend-0/log" || fail "no orderly shutdown in the log"
grep -Eq "AddressSanitizer|Segmentation|Aborted|ThreadSanitizer" "$SIM/run/backend-0/log" && fail "crash in the log"
echo "PASS"
