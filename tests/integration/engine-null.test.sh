#!/bin/bash
# SPDX-License-Identifier: MIT
# The null engine (null:SIZE) through the whole data path: the geometry the
# frontend sees, reads that return zeroes whatever was written, writes,
# flushes and a benchmark that succeed, with each grant strategy and with
# several queues; then the target syntax at the edges: a malformed target
# refused by vhactl, and an rbd target whose ceph.conf is missing or an nbd
# server that is not there refused by the backend with an error node that
# says so, the backend carrying on.
. "$(dirname "$0")/lib.sh"
start_sim
"$B/vhactl" sim create-domain 1 >/dev/null || fail "create domain"
be_dir=/local/domain/0/backend/vbd/1/51712

"$B/vhactl" attach --frontend-domid 1 --target null:64m >/dev/null || fail "attach null:64m"
[ "$(xs xenstore-read $be_dir/params)" = null:64m ] || fail "params is not null:64m"
info=$("$B/vha-frontend" --domid 1 info) || fail "info"
echo "$info"
echo "$info" | grep -q 131072 || fail "null:64m is not 131072 sectors"

head -c 1048576 /dev/urandom > "$SIM/data"
head -c 1048576 /dev/zero > "$SIM/zeroes"
for strategy in map copy persistent adaptive; do
	note "grant strategy $strategy: writes vanish, reads are zeroes"
	"$B/vhactl" detach --frontend-domid 1 --devid 51712 >/dev/null || fail "detach"
	"$B/vhactl" attach --frontend-domid 1 --target null:64m --grant-strategy $strategy >/dev/null ||
		fail "attach ($strategy)"
	"$B/vha-frontend" --domid 1 write --in "$SIM/data" --offset 4m || fail "write ($strategy)"
	"$B/vha-frontend" --domid 1 read --offset 4m --length 1m --out "$SIM/back" || fail "read ($strategy)"
	cmp "$SIM/back" "$SIM/zeroes" || fail "a read from null is not zeroes ($strategy)"
done

note "bench: random reads and writes on 2 queues, order-2 rings"
for rw in randread randwrite randrw; do
	out=$("$B/vha-frontend" --domid 1 --queues 2 --ring-order 2 bench --rw $rw --bs 4k --iodepth 32 --runtime 2 \
		--json) || fail "bench $rw"
	echo "$rw: $out" | tr -d '\n' | cut -c1-200; echo
done
"$B/vha-frontend" --domid 1 read --offset 0 --length 1m --out "$SIM/back" || fail "read after bench"
cmp "$SIM/back" "$SIM/zeroes" || fail "null returned data after bench"

note "a malformed target is refused before anything is written"
for bad in null:100 null: 'rbd:pool' 'nbd:host:10809' 'iscsi:x' 'file:relative'; do
	"$B/vhactl" attach --frontend-domid 1 --devid 51728 --target "$bad" >/dev/null 2>"$SIM/err"
	[ $? -eq 2 ] || fail "vhactl attach --target '$bad' did not exit 2"
	grep -q "bad --target" "$SIM/err" || fail "no reason for '$bad': $(cat "$SIM/err")"
done
xs xenstore-exists /local/domain/0/backend/vbd/1/51728 && fail "a refused attach left nodes"

note "an rbd target whose ceph.conf is missing: an error node naming it"
"$B/vhactl" attach --frontend-domid 1 --devid 51728 --target "rbd:pool/image@snap:id=admin:conf=$SIM/no.conf" \
	>/dev/null || fail "attach rbd"
timeout 20 "$B/vha-frontend" --domid 1 --devid 51728 info >/dev/null 2>&1 && fail "rbd without a conf connected"
err=$(xs xenstore-read /local/domain/0/backend/vbd/1/51728/error 2>/dev/null)
echo "rbd: $err"
echo "$err" | grep -q "cannot read ceph conf" || fail "no clear error node for rbd: '$err'"
"$B/vhactl" detach --frontend-domid 1 --devid 51728 --force >/dev/null 2>&1

note "nbd servers that are not there: an error node naming the server, and the backend carries on"
for target in nbd:unix:/run/vha-no-such-nbd.sock nbd://127.0.0.1:1/x; do
	"$B/vhactl" attach --frontend-domid 1 --devid 51728 --target "$target" >/dev/null || fail "attach $target"
	timeout 20 "$B/vha-frontend" --domid 1 --devid 51728 info >/dev/null 2>&1 && fail "$target connected"
	err=$(xs xenstore-read /local/domain/0/backend/vbd/1/51728/error 2>/dev/null)
	echo "$target: $err"
	echo "$err" | grep -q "nbd server .*connect" || fail "no clear error node for $target: '$err'"
	"$B/vhactl" detach --frontend-domid 1 --devid 51728 --force >/dev/null 2>&1
done
"$B/vha-frontend" --domid 1 read --offset 0 --length 64k --out "$SIM/back" || fail "xvda broken by the others"
note "vhactl resize: a null target is no file; a file: target is its file"
"$B/vhactl" resize --frontend-domid 1 --devid 51712 --size 128m >/dev/null 2>"$SIM/err"
rc=$?
[ $rc -eq 1 ] || fail "resize of null:64m exited $rc"
grep -q "is a null target" "$SIM/err" || fail "resize of null: unclear: $(cat "$SIM/err")"
img=$(make_image prefixed.img 4)
"$B/vhactl" attach --frontend-domid 1 --devid 51744 --target "file:$img" >/dev/null || fail "attach file:"
# Connected while it grows: the backend publishes the new size to a connected frontend.
"$B/vha-frontend" --domid 1 --devid 51744 bench --rw randread --bs 4k --iodepth 4 --runtime 4 >/dev/null 2>&1 &
bp=$!
sleep 1
"$B/vhactl" resize --frontend-domid 1 --devid 51744 --size 8m >/dev/null 2>"$SIM/err" ||
	fail "resize of a file: target: $(cat "$SIM/err")"
wait $bp || fail "bench on the file: target"
[ "$(stat -c %s "$img")" = 8388608 ] || fail "the file: target's file was not grown"
backend_alive || fail "backend died"
echo "PASS"
