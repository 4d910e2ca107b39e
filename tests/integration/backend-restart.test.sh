#!/bin/bash
# SPDX-License-Identifier: MIT
# vha-backend killed with SIGKILL under write load and started again, many
# times: libvhafront reconnects and resubmits what was in flight, the
# application sees no error, and no acknowledged write is lost (the image
# equals the shadow copy the frontend kept of every acknowledged write).
# vha-test-timeout: 300
. "$(dirname "$0")/lib.sh"
CYCLES=${VHA_RESTART_CYCLES:-12}
start_sim
"$B/vhactl" sim create-domain 1 >/dev/null || fail "create domain"
img=$(make_image disk.img 64)
"$B/vhactl" attach --frontend-domid 1 --target "$img" >/dev/null || fail "attach"
note "random writes and read-backs against a shadow while vha-backend is killed $CYCLES times"
"$B/vha-frontend" --domid 1 --queues 2 verify --random 1000000 --seed 21 --max-size 256k \
	--shadow "$SIM/shadow" --stop-file "$SIM/stop" >"$SIM/verify.log" 2>&1 &
fe=$!
sleep 1
kill -0 $fe 2>/dev/null || { cat "$SIM/verify.log"; fail "verify did not start"; }
for i in $(seq 1 "$CYCLES"); do
	sleep "0.$((RANDOM % 7 + 3))"
	kill -9 "$BACKEND_PID"
	while kill -0 "$BACKEND_PID" 2>/dev/null; do sleep 0.05; done
	rm -f "$SIM/run/backend-0/pid"
	start_backend
	kill -0 $fe 2>/dev/null || { cat "$SIM/verify.log"; fail "the frontend failed after restart $i"; }
done
sleep 1
touch "$SIM/stop"
wait $fe || { cat "$SIM/verify.log"; fail "verify reported an error"; }
cat "$SIM/verify.log" | grep -E "random verify|reconnect" | tail -3
n=$(grep -c "reconnected" "$SIM/verify.log")
note "$n reconnects seen by the frontend over $CYCLES restarts"
[ "$n" -ge "$CYCLES" ] || fail "expected $CYCLES reconnects, saw $n"
grep -q "taking over" "$SIM/run/backend-0/log" || fail "the backend never logged a takeover"
cmp "$img" "$SIM/shadow" || fail "image differs from the shadow of acknowledged writes"
echo "PASS"
