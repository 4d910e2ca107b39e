#!/bin/bash
# SPDX-License-Identifier: MIT
# vha-backend killed with SIGKILL under write load and started again, many
# times, and no acknowledged write is lost: the image must equal the shadow
# copy the frontend kept of every acknowledged write, and the application
# (vha-frontend verify) sees no error.
#  1. default: the new backend takes the live rings over from the journal the
#     dead one left; the frontend notices nothing (no reconnect).
#  2. --no-resume: the new backend closes the device; libvhafront reconnects
#     with fresh rings and resubmits what was in flight.
# vha-test-timeout: 400
. "$(dirname "$0")/lib.sh"
CYCLES=${VHA_RESTART_CYCLES:-10}
start_sim
"$B/vhactl" sim create-domain 1 >/dev/null || fail "create domain"
img=$(make_image disk.img 64)
"$B/vhactl" attach --frontend-domid 1 --target "$img" >/dev/null || fail "attach"

# kill_cycles SEED [backend options]: random writes and read-backs against a
# shadow while vha-backend is killed and started again $CYCLES times.
kill_cycles() {
	local seed=$1 fe i; shift
	rm -f "$SIM/stop"
	"$B/vha-frontend" --domid 1 --queues 2 verify --random 1000000 --seed "$seed" --max-size 256k \
		--shadow "$SIM/shadow" --stop-file "$SIM/stop" >"$SIM/verify.log" 2>&1 &
	fe=$!
	sleep 1
	kill -0 $fe 2>/dev/null || { cat "$SIM/verify.log"; fail "verify did not start"; }
	for i in $(seq 1 "$CYCLES"); do
		sleep "0.$((RANDOM % 7 + 3))"
		kill -9 "$BACKEND_PID"
		while kill -0 "$BACKEND_PID" 2>/dev/null; do sleep 0.05; done
		rm -f "$SIM/run/backend-0/pid"
		start_backend "$@"
		kill -0 $fe 2>/dev/null || { cat "$SIM/verify.log"; fail "the frontend failed after restart $i"; }
	done
	sleep 1
	touch "$SIM/stop"
	wait $fe || { cat "$SIM/verify.log"; fail "verify reported an error"; }
	grep -E "random verify" "$SIM/verify.log"
	cmp "$img" "$SIM/shadow" || fail "image differs from the shadow of acknowledged writes"
}

note "1. taken over from the journal, $CYCLES times under load"
kill_cycles 21
n=$(grep -c "taken over from an earlier backend" "$SIM/run/backend-0/log")
r=$(grep -c "reconnected" "$SIM/verify.log")
re=$(grep -o "[0-9]* unanswered request(s) run again" "$SIM/run/backend-0/log" | awk '{s += $1} END {print s + 0}')
note "$n takeovers on live rings, $re unanswered requests run again, $r frontend reconnects"
[ "$n" -ge "$CYCLES" ] || fail "expected $CYCLES takeovers, saw $n"
[ "$r" = 0 ] || fail "the frontend had to reconnect $r times"

note "2. --no-resume: the frontend reconnects and resubmits, $CYCLES times under load"
kill -9 "$BACKEND_PID"; while kill -0 "$BACKEND_PID" 2>/dev/null; do sleep 0.05; done
start_backend --no-resume
kill_cycles 22 --no-resume
r=$(grep -c "reconnected" "$SIM/verify.log")
note "$r frontend reconnects over $CYCLES restarts"
[ "$r" -ge "$CYCLES" ] || fail "expected $CYCLES reconnects, saw $r"
grep -q "asking the frontend to reconnect" "$SIM/run/backend-0/log" || fail "the backend never closed a device it found live"
echo "PASS"
