#!/bin/bash
# SPDX-License-Identifier: MIT
# Busy polling (vha-backend --poll-us): data stays right (random verify on
# 2 queues with flushes), the workers find requests and completions by
# polling (stats.json polls_hit), and a frontend whose requests the polling
# worker finds is not asked to notify (fewer events received than requests);
# with vha-frontend --poll-us as well, the backend is not asked to notify
# either (fewer notifies sent than requests).
. "$(dirname "$0")/lib.sh"
start_sim --poll-us 200
"$B/vhactl" sim create-domain 1 >/dev/null || fail "create domain"
img=$(make_image disk.img 64)
"$B/vhactl" attach --frontend-domid 1 --target "$img" >/dev/null || fail "attach $img"
"$B/vhactl" attach --frontend-domid 1 --devid 51728 --target null:64m >/dev/null || fail "attach null:64m"

note "random verify on 2 queues with the workers polling"
timeout 120 "$B/vha-frontend" --domid 1 --queues 2 verify --random 3000 --seed 11 --max-size 128k ||
	fail "random verify while polling"

note "QD1 reads on null: polling finds the next request before any event"
STATS=$SIM/run/backend-0/stats.json
# queue0 DEVID KEY...: those counters of domain 1's device DEVID, queue 0 (zeroes if it is not there).
queue0() {
	python3 - "$STATS" "$@" <<'PY'
import json, sys
devid, keys = int(sys.argv[2]), sys.argv[3:]
for d in json.load(open(sys.argv[1]))["devices"]:
    if d.get("frontend") == 1 and d.get("devid") == devid:
        print(*(d["queues"][0][k] for k in keys))
        break
else:
    print(*(0 for k in keys))
PY
}
"$B/vha-frontend" --domid 1 --devid 51728 bench --rw randread --bs 4k --iodepth 1 --runtime 4 --json \
	>"$SIM/bench.json" 2>&1 &
bench=$!
sleep 2.5
# The device's queue 0 while the bench runs (stats.json is rewritten every second).
read -r requests events hits < <(queue0 51728 requests events_received polls_hit)
wait $bench || fail "bench: $(cat "$SIM/bench.json")"
echo "null device queue 0 after 2.5 s of QD1: requests $requests, events received $events, polls_hit $hits"
grep -o '"iops": [0-9.]*' "$SIM/bench.json"
[ "$requests" -gt 1000 ] || fail "too few requests to judge ($requests)"
[ "$hits" -gt 0 ] || fail "polling never found work (polls_hit 0)"
[ "$events" -lt "$requests" ] || fail "every request still came with an event ($events events, $requests requests)"
note "QD1 reads with the frontend polling too: the backend need not notify"
"$B/vhactl" attach --frontend-domid 1 --devid 51744 --target null:64m >/dev/null || fail "attach null:64m (51744)"
"$B/vha-frontend" --domid 1 --devid 51744 --poll-us 200 bench --rw randread --bs 4k --iodepth 1 --runtime 4 --json \
	>"$SIM/bench2.json" 2>&1 &
bench=$!
sleep 2.5
read -r requests notifies < <(queue0 51744 requests notifies_sent)
wait $bench || fail "bench (frontend polling): $(cat "$SIM/bench2.json")"
echo "null device 51744 queue 0 after 2.5 s of QD1, both ends polling: requests $requests, notifies sent $notifies"
grep -o '"iops": [0-9.]*' "$SIM/bench2.json"
[ "$requests" -gt 1000 ] || fail "too few requests to judge ($requests)"
[ "$notifies" -lt "$requests" ] || fail "every response still came with a notify ($notifies notifies, $requests requests)"
backend_alive || fail "vha-backend died"
echo "ok"
