#!/bin/bash
# SPDX-License-Identifier: MIT
# The nbd engine against real NBD servers (nbdkit): the memory plugin over a
# unix socket and the file plugin over TCP (both target spellings), each
# through vha-frontend verify with flushes; trim on a sparse file giving its
# space back (du); a read-only export; the server killed and restarted under
# verify load with no error seen by the guest and the file equal to the
# guest's shadow; the server gone longer than --nbd-timeout (I/O fails, the
# other guest carries on, and I/O works again once it is back); and a server
# unreachable at attach (an error node that names it).
# vha-test-timeout: 120
. "$(dirname "$0")/lib.sh"
command -v nbdkit >/dev/null 2>&1 || { echo "skip: nbdkit is not installed (apt-get install nbdkit)"; exit 77; }
for plugin in memory file; do
	nbdkit "$plugin" --version >/dev/null 2>&1 ||
		{ echo "skip: nbdkit has no $plugin plugin"; exit 77; }
done

# Servers this test started, stopped on exit before the sim's own cleanup.
SERVERS=""
trap 'rc=$?; for p in $SERVERS; do kill -9 "$p" 2>/dev/null; done; (exit $rc); cleanup' EXIT

# serve NAME nbdkit-args...: nbdkit in the foreground, in the background; its pid in $SIM/NAME.pid.
serve() {
	local name=$1; shift
	nbdkit -f "$@" >>"$SIM/$name.log" 2>&1 &
	disown $!
	echo $! >"$SIM/$name.pid"
	SERVERS="$SERVERS $!"
}
wait_socket() {
	for _ in $(seq 1 50); do [ -S "$1" ] && return 0; sleep 0.1; done
	fail "nbdkit did not create $1: $(cat "$SIM"/*.log)"
}
wait_port() {
	for _ in $(seq 1 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	fail "nbdkit did not listen on port $1"
}
stop_server() {
	local pid
	pid=$(cat "$SIM/$1.pid")
	kill -9 "$pid" 2>/dev/null
	while kill -0 "$pid" 2>/dev/null; do sleep 0.02; done
}
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
fe() { timeout 60 "$B/vha-frontend" --domid 1 "$@"; }
reattach() {
	"$B/vhactl" detach --frontend-domid 1 --devid 51712 >/dev/null 2>&1
	"$B/vhactl" attach --frontend-domid 1 --target "$1" >/dev/null || fail "attach $1"
}

# The outage cases below use a short timeout; restarts under load stay well inside it.
start_sim --nbd-timeout 4
"$B/vhactl" sim create-domain 1 >/dev/null || fail "create domain 1"
"$B/vhactl" sim create-domain 2 >/dev/null || fail "create domain 2"

note "nbdkit memory over a unix socket: nbd:unix:PATH"
serve mem --unix "$SIM/mem.sock" memory 64M
wait_socket "$SIM/mem.sock"
reattach "nbd:unix:$SIM/mem.sock"
info=$(fe info) || fail "info"
echo "$info" | grep -E "sectors|mode|flush|discard"
echo "$info" | grep -q "131072 " || fail "nbdkit memory 64M is not 131072 sectors"
echo "$info" | grep -q "discard: *yes" || fail "no discard over nbdkit memory"
fe --queues 2 verify --random 2000 --seed 1 --max-size 256k --pattern --length 16m || fail "verify (memory)"

note "a request of scattered guest pages is one NBD command (the queue's bounce buffer), not one per page"
serve logged --unix "$SIM/logged.sock" --filter=log memory 16M logfile="$SIM/nbd-requests.log"
wait_socket "$SIM/logged.sock"
reattach "nbd:unix:$SIM/logged.sock"
head -c 1048576 /dev/urandom >"$SIM/data1m"
fe write --in "$SIM/data1m" || fail "write 1 MiB"
fe read --offset 0 --length 1m --out "$SIM/back" || fail "read 1 MiB"
cmp -s "$SIM/back" "$SIM/data1m" || fail "1 MiB read back differs from what was written"
writes=$(grep -c "Write id=" "$SIM/nbd-requests.log")
reads=$(grep -c "Read id=" "$SIM/nbd-requests.log")
echo "1 MiB (256 guest pages) written in $writes NBD writes, read in $reads NBD reads"
# One command per page would be 256 of each; a request carries 11 pages or more.
[ "$writes" -ge 1 ] && [ "$writes" -le 32 ] || fail "1 MiB took $writes NBD writes (one per page?)"
[ "$reads" -ge 1 ] && [ "$reads" -le 32 ] || fail "1 MiB took $reads NBD reads (one per page?)"
stop_server logged

note "nbdkit file over TCP: nbd://127.0.0.1:PORT/ on a sparse file; trim gives the space back"
port=$(free_port)
truncate -s 32M "$SIM/sparse.raw"
serve file --ipaddr 127.0.0.1 --port "$port" file "$SIM/sparse.raw"
wait_port "$port"
reattach "nbd://127.0.0.1:$port/"
fe --queues 2 --ring-order 1 verify --pattern || fail "verify (file over TCP)"
used=$(du -k "$SIM/sparse.raw" | cut -f1)
echo "after writing 32 MiB: $used KiB used"
[ "$used" -ge 30000 ] || fail "the file did not fill ($used KiB)"
fe discard || fail "discard"
used=$(du -k "$SIM/sparse.raw" | cut -f1)
echo "after discarding all of it: $used KiB used"
[ "$used" -le 1024 ] || fail "trim returned no space ($used KiB still used)"
fe read --offset 0 --length 1m --out "$SIM/back" || fail "read after trim"
cmp -s "$SIM/back" <(head -c 1048576 /dev/zero) || fail "a trimmed range does not read back as zeroes"
stop_server file

note "a read-only export is a read-only disk"
serve ro --unix "$SIM/ro.sock" --readonly memory 16M
wait_socket "$SIM/ro.sock"
reattach "nbd:unix:$SIM/ro.sock"
fe info | grep -E "^mode:" | grep -q "read-only" || fail "a read-only export is not read-only: $(fe info | grep mode)"
head -c 65536 /dev/urandom >"$SIM/data"
fe write --in "$SIM/data" 2>/dev/null && fail "a write to a read-only export succeeded"
fe read --offset 0 --length 64k --out "$SIM/back" || fail "read from a read-only export"
stop_server ro

note "the server killed and restarted under verify load (nbdkit file, 2 queues)"
# The second guest meanwhile: a file disk, untouched by the nbd outages.
"$B/vhactl" attach --frontend-domid 2 --target "$(make_image other.img 16)" >/dev/null || fail "attach domain 2"
truncate -s 32M "$SIM/disk.raw"
serve disk --unix "$SIM/disk.sock" file "$SIM/disk.raw"
wait_socket "$SIM/disk.sock"
reattach "nbd:unix:$SIM/disk.sock"
rm -f "$SIM/stop"
timeout 90 "$B/vha-frontend" --domid 1 --queues 2 verify --random 1000000 --seed 5 --max-size 256k \
	--shadow "$SIM/shadow" --stop-file "$SIM/stop" >"$SIM/verify.log" 2>&1 &
verify=$!
sleep 1
kill -0 $verify 2>/dev/null || { cat "$SIM/verify.log"; fail "verify did not start"; }
for i in 1 2 3; do
	sleep "0.$((RANDOM % 5 + 3))"
	stop_server disk
	rm -f "$SIM/disk.sock"
	sleep 0.5
	serve disk --unix "$SIM/disk.sock" file "$SIM/disk.raw"
	wait_socket "$SIM/disk.sock"
	kill -0 $verify 2>/dev/null || { cat "$SIM/verify.log"; fail "verify failed after restart $i"; }
done
sleep 1
touch "$SIM/stop"
wait $verify || { cat "$SIM/verify.log"; fail "verify saw an error across server restarts"; }
grep "random verify" "$SIM/verify.log"
cmp "$SIM/disk.raw" "$SIM/shadow" || fail "the served file differs from the guest's acknowledged writes"
lost=$(grep -c "connection lost" "$SIM/run/backend-0/log")
back=$(grep -c "reconnected after" "$SIM/run/backend-0/log")
echo "backend log: $lost connection(s) lost, $back reconnect(s)"
[ "$lost" -ge 3 ] && [ "$back" -ge 3 ] || fail "the restarts were not seen as lost connections and reconnects"

note "the server gone longer than --nbd-timeout: I/O fails, the other guest carries on"
rm -f "$SIM/stop"
timeout 60 "$B/vha-frontend" --domid 1 verify --random 1000000 --seed 7 --max-size 64k --shadow "$SIM/shadow" \
	--stop-file "$SIM/stop" >"$SIM/verify.log" 2>&1 &
verify=$!
sleep 1
kill -0 $verify 2>/dev/null || { cat "$SIM/verify.log"; fail "verify did not start"; }
stop_server disk
rm -f "$SIM/disk.sock"
t0=$(date +%s%N)
timeout 30 "$B/vha-frontend" --domid 2 verify --random 300 --seed 3 >/dev/null || fail "domain 2 broken by domain 1's outage"
wait $verify && fail "verify succeeded with the server gone"
t1=$(date +%s%N)
grep -i "error\|fail" "$SIM/verify.log" | head -n 2
ms=$(((t1 - t0) / 1000000))
echo "the guest saw an I/O error after $ms ms (timeout 4 s)"
[ "$ms" -ge 3500 ] || fail "the I/O failed before the timeout ($ms ms)"
grep -q "not reconnected within" "$SIM/run/backend-0/log" || fail "no log line for the timeout"
serve disk --unix "$SIM/disk.sock" file "$SIM/disk.raw"
wait_socket "$SIM/disk.sock"
fe verify --random 200 --seed 8 || fail "no I/O after the server came back"

note "a server unreachable at attach: an error node that names it"
closed=$(free_port)
for target in "nbd:unix:$SIM/nothing.sock" "nbd://127.0.0.1:$closed/x"; do
	"$B/vhactl" attach --frontend-domid 1 --devid 51728 --target "$target" >/dev/null || fail "attach $target"
	timeout 20 "$B/vha-frontend" --domid 1 --devid 51728 info >/dev/null 2>&1 && fail "$target connected"
	err=$(xs xenstore-read /local/domain/0/backend/vbd/1/51728/error 2>/dev/null)
	echo "$target: $err"
	echo "$err" | grep -q "nbd server .*: .*" || fail "no clear error node for $target: '$err'"
	"$B/vhactl" detach --frontend-domid 1 --devid 51728 --force >/dev/null 2>&1
done
fe read --offset 0 --length 64k --out "$SIM/back" || fail "xvda broken by the failed attaches"
backend_alive || fail "backend died"
echo "PASS"
