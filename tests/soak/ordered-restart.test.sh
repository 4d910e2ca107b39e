#!/bin/bash
# SPDX-License-Identifier: MIT
# Ordered restart soak (issue 9): vha-soak-ordered drives a random mix of
# tagged writes, barrier writes and flushes at queue depth 32 on one queue
# while vha-backend is SIGKILLed and started again K times (it takes the live
# ring over from its journal). Then the image is checked against the log of
# every request: no acknowledged write lost, no write issued before a barrier
# landing over one issued after it, nothing corrupt (the rules are in
# tests/soak/ordered.c). The checker first proves itself on made-up cases,
# and after the run on a copy of the image with a planted reordering.
# VHA_SOAK_RESTARTS: restarts (default 10: `make check`; `make soak`: 100).
# vha-test-timeout: 300
. "$(dirname "$0")/../integration/lib.sh"
RESTARTS=${VHA_SOAK_RESTARTS:-10}
W=$B/soak/vha-soak-ordered
[ -x "$W" ] || { echo "skip: $W is not built"; exit 77; }

note "the checker on known answers"
"$W" selftest || fail "checker self-test"

start_sim
"$B/vhactl" sim create-domain 1 >/dev/null || fail "create domain"
# One region of 64 blocks (256 KiB) per restart and one more: requests
# overlap often, and each restart's replay leaves a region nobody writes later.
img=$(make_image disk.img $(((RESTARTS + 1) / 4 + 1)))
"$B/vhactl" attach --frontend-domid 1 --target "$img" >/dev/null || fail "attach"

"$W" run --domid 1 --seed "${VHA_SOAK_SEED:-$$}" --depth 32 --log "$SIM/ops.log" --stop-file "$SIM/stop" \
	>"$SIM/writer.log" 2>&1 &
wr=$!
sleep 1
kill -0 $wr 2>/dev/null || { cat "$SIM/writer.log"; wait $wr; [ $? = 3 ] && { echo "skip: no barriers"; exit 77; }; fail "writer did not start"; }
note "$RESTARTS SIGKILL restarts under the ordered load"
t0=$SECONDS
for i in $(seq 1 "$RESTARTS"); do
	sleep "0.$((RANDOM % 7 + 3))"
	kill -9 "$BACKEND_PID"
	while kill -0 "$BACKEND_PID" 2>/dev/null; do sleep 0.02; done
	# New requests to the next region; what is in flight stays for the replay.
	kill -USR1 $wr 2>/dev/null
	sleep 0.15
	rm -f "$SIM/run/backend-0/pid"
	start_backend
	if ! kill -0 $wr 2>/dev/null; then
		cat "$SIM/writer.log"
		wait $wr
		fail "the writer failed after restart $i (exit status $?; above 128 means killed by a signal)"
	fi
done
sleep 0.5
touch "$SIM/stop"
wait $wr || { cat "$SIM/writer.log"; fail "the writer reported an error"; }
took=$((SECONDS - t0))
cat "$SIM/writer.log"
takeovers=$(grep -c "taken over from an earlier backend" "$SIM/run/backend-0/log")
rerun=$(grep -o "[0-9]* unanswered request(s) run again" "$SIM/run/backend-0/log" | awk '{s += $1} END {print s + 0}')
note "$RESTARTS restarts in ${took}s: $takeovers takeovers on live rings, $rerun unanswered requests run again"
[ "$takeovers" -ge "$RESTARTS" ] || fail "expected $RESTARTS takeovers, saw $takeovers"
# The backend is still up: its writes are in the page cache, which a read sees.
"$W" check --image "$img" --log "$SIM/ops.log" --self-test --region-blocks 64
rc=$?
[ $rc = 0 ] || fail "the image breaks the ordering rules after $RESTARTS restarts (see above)"
echo "PASS"
