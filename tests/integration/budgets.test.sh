#!/bin/bash
# SPDX-License-Identifier: MIT
# Resource budgets: a device gets at most --device-grants mapped grants, all
# devices together at most --total-grants; a device that connects when less
# is left is offered at most half of what is left (so it never takes it
# all), at least one largest request per queue, and is refused (error node,
# no crash) when not even that is left. A guest with more
# requests in flight than its budget waits in its ring for a slot instead of
# taking more; a guest sending 1 MiB requests never maps more grants than
# its queue's budget; and the others keep working.
# vha-test-timeout: 120
. "$(dirname "$0")/lib.sh"
start_sim --max-queues 2 --total-grants 1800 --device-grants 600 --device-inflight 8
for d in 1 2 3 4; do
	"$B/vhactl" sim create-domain $d >/dev/null || fail "create domain $d"
	img=$(make_image disk$d.img 64)
	"$B/vhactl" attach --frontend-domid $d --target "$img" >/dev/null || fail "attach $d"
done
STATS=$SIM/run/backend-0/stats.json
dev_line() { kill -USR1 "$BACKEND_PID"; sleep 0.3; grep "{\"frontend\": $1," "$STATS"; }
queue_lines() { kill -USR1 "$BACKEND_PID"; sleep 0.3; awk -v d="$1" '/^ *\{"frontend": / {on = index($0, "\"frontend\": " d ",") > 0} on' "$STATS" | grep '"queue":'; }
num() { grep -o "\"$1\": [0-9]*" | head -1 | awk '{print $2}'; }

"$B/vha-frontend" --domid 1 --queues 1 --no-persistent bench --rw randread --bs 1m --iodepth 64 --runtime 8 >"$SIM/b1.log" 2>&1 &
b1=$!
sleep 1.5
"$B/vha-frontend" --domid 2 --queues 2 bench --rw randwrite --bs 4k --iodepth 16 --runtime 6 >"$SIM/b2.log" 2>&1 &
b2=$!
sleep 1.5
g1=$(dev_line 1 | num grant_budget)
g2=$(dev_line 2 | num grant_budget)
echo "grant budgets: device 1 $g1, device 2 $g2 (each asked 600 of 1800)"
[ "$g1" = 600 ] || fail "device 1 budget $g1"
[ "$g2" = 600 ] || fail "device 2 budget $g2"

queue_lines 1 >"$SIM/q1.txt"
while read -r line; do
	peak=$(echo "$line" | num grants_peak) budget=$(echo "$line" | num map_budget) back=$(echo "$line" | num backlogged)
	echo "device 1 queue: grants_peak $peak, map_budget $budget, backlogged $back"
	[ "$peak" -le "$budget" ] || fail "queue mapped $peak grants, over its budget $budget"
done <"$SIM/q1.txt"
# Device 2 keeps 16 writes in flight over 2 queues; its budget is 8 requests, 4 slots a queue.
queue_lines 2 >"$SIM/q2.txt"
slots=$(grep -o '"slots": [0-9]*' "$SIM/q2.txt" | awk '{print $2}' | sort -u | tr '\n' ' ')
back=$(grep -o '"backlogged": [0-9]*' "$SIM/q2.txt" | awk '{s += $2} END {print s + 0}')
echo "device 2: slots per queue $slots; times requests waited in the ring for a slot: $back"
[ "$slots" = "4 " ] || fail "device 2 queues have $slots slots, not 4"
[ "$back" -gt 0 ] || fail "device 2 never waited for a slot"
note "a third device finds 600 left: it is offered half, 300"
"$B/vha-frontend" --domid 3 bench --rw randread --runtime 3 >"$SIM/i3.log" 2>&1 & i3=$!
for _ in $(seq 20); do g3=$(dev_line 3 | num grant_budget); [ "${g3:-0}" != 0 ] && break; done
echo "device 3 grant budget: $g3"
[ "$g3" = 300 ] || fail "device 3 budget $g3, not half of the 600 left"

note "a fourth, with 2 queues (512 grants at least), finds less than 1024 left: refused, nobody else hurt"
if "$B/vha-frontend" --domid 4 --queues 2 info >"$SIM/i4.log" 2>&1; then
	fail "device 4 (2 queues: 512 grants at least) connected with half of 600 left"
fi
err=$(grep -o "device 4/51712: grant budget exhausted[^\n]*" "$SIM/run/backend-0/log" | head -1)
echo "device 4: $err"
case "$err" in *"grant budget exhausted: "*" of 1800 left, too few for 2 queue(s)") ;; *) fail "no budget error for device 4";; esac
backend_alive || fail "backend died"
wait $i3 || { cat "$SIM/i3.log"; fail "device 3's bench failed"; }

wait $b1 || { cat "$SIM/b1.log"; fail "greedy guest's bench failed"; }
wait $b2 || { cat "$SIM/b2.log"; fail "second guest's bench failed"; }
grep -h "IOPS\|iops" "$SIM/b1.log" "$SIM/b2.log" | head -4

note "budgets come back when devices close"
"$B/vha-frontend" --domid 4 --queues 2 verify --random 50 --seed 1 >/dev/null || fail "device 4 after the others closed"

note "data in flight: a backend restarted with --device-inflight-bytes 128k holds 64 KiB requests at depth 32 to it"
kill "$BACKEND_PID"; while backend_alive; do sleep 0.1; done
start_backend --device-inflight-bytes 128k --device-inflight 64
"$B/vha-frontend" --domid 4 bench --rw randread --bs 64k --iodepth 32 --runtime 3 >"$SIM/b4.log" 2>&1 & b4=$!
sleep 1.5
line=$(queue_lines 4 | head -1)
bpeak=$(echo "$line" | num bytes_peak) bbudget=$(echo "$line" | num bytes_budget) back=$(echo "$line" | num backlogged)
slots=$(echo "$line" | num slots)
echo "device 4 queue: bytes in flight at most $bpeak, budget $bbudget ($slots slots would allow $((slots * 65536))); waits in the ring $back"
[ "$bbudget" = 131072 ] || fail "bytes budget $bbudget, not 128 KiB"
[ "$bpeak" -le $((bbudget + 65536)) ] || fail "$bpeak bytes in flight, over the budget $bbudget and one request"
[ "$bpeak" -ge "$bbudget" ] || fail "the queue never reached its bytes budget ($bpeak)"
[ "$back" -gt 0 ] || fail "requests never waited for the bytes budget"
wait $b4 || { cat "$SIM/b4.log"; fail "device 4's bench"; }
echo "PASS"
