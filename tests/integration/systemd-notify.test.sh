#!/bin/bash
# SPDX-License-Identifier: MIT
# vha-backend under systemd's notify protocol, run as vha-backend.service runs
# it (--foreground) with NOTIFY_SOCKET pointing at a datagram socket this test
# reads, and a frontend writing and verifying all along:
#  1. SIGUSR2 (the unit's KillSignal) on a serving daemon: exit 0, the device
#     stays Connected and its journals stay;
#  2. the next daemon sends READY=1 only after it took the live device over
#     (its log says so before READY arrives), with a STATUS line, and
#     WATCHDOG=1 every half WATCHDOG_USEC (WATCHDOG_PID its own pid);
#  3. SIGUSR2 again: STOPPING=1, exit 0, and a third daemon takes over;
#  4. the frontend saw no error and the image equals its shadow;
#  5. SIGTERM: STOPPING=1, exit 0, the device Closed and the journals gone.
# vha-test-timeout: 180
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "skip: python3 is not installed (make deps installs it)"; exit 77; }
command -v xenstore-read >/dev/null || { echo "skip: xenstore-read is not installed (make deps installs it)"; exit 77; }
NOTIFY=$SIM/notify.sock
MSGS=$SIM/notify.log
LISTENER=""
trap 'rc=$?; [ -n "$LISTENER" ] && kill "$LISTENER" 2>/dev/null; (exit $rc); cleanup' EXIT

# Every datagram, one per line (its newlines as "|"), as it arrives.
python3 - "$NOTIFY" "$MSGS" <<'PY' &
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(out, "a", buffering=1) as f:
    f.write("LISTENING\n")
    while True:
        f.write(s.recv(4096).decode().strip().replace("\n", "|") + "\n")
PY
LISTENER=$!
for _ in $(seq 50); do grep -q LISTENING "$MSGS" 2>/dev/null && break; sleep 0.1; done
grep -q LISTENING "$MSGS" 2>/dev/null || fail "the notify listener did not start"

# wait_msg PATTERN N SECONDS: until N messages match PATTERN.
wait_msg() {
	local i
	for i in $(seq $(($3 * 10))); do
		[ "$(grep -c -- "$1" "$MSGS")" -ge "$2" ] && return 0
		sleep 0.1
	done
	echo "--- notifications ---"; cat "$MSGS"
	return 1
}
# backend_under_systemd LOG: a daemon in the foreground, as the unit runs it.
backend_under_systemd() {
	NOTIFY_SOCKET=$NOTIFY WATCHDOG_USEC=1000000 bash -c 'export WATCHDOG_PID=$$; exec "$@"' sh \
		"$B/vha-backend" --log-level info --foreground >"$1" 2>&1 &
	BACKEND_PID=$!
}
state() { xs xenstore-read "/local/domain/0/backend/vbd/1/51712/$1"; }
journals() { ls "$SIM/run/backend-0/journal" 2>/dev/null | wc -l; }

start_sim
"$B/vhactl" sim create-domain 1 >/dev/null || fail "create domain"
img=$(make_image disk.img 32)
"$B/vhactl" attach --frontend-domid 1 --target "$img" >/dev/null || fail "attach"
"$B/vha-frontend" --domid 1 --queues 2 verify --random 1000000 --seed 31 --max-size 128k \
	--shadow "$SIM/shadow" --stop-file "$SIM/stop" >"$SIM/verify.log" 2>&1 &
fe=$!
sleep 1
kill -0 $fe 2>/dev/null || { cat "$SIM/verify.log"; fail "verify did not start"; }

note "1. SIGUSR2: exit 0, the device left live"
kill -USR2 "$BACKEND_PID"
for _ in $(seq 100); do kill -0 "$BACKEND_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$BACKEND_PID" 2>/dev/null && fail "vha-backend still runs 10 s after SIGUSR2"
grep -q "exiting on SIGUSR2; 1 device(s) and their journals left live" "$SIM/run/backend-0/log" ||
	fail "no SIGUSR2 exit line in the log"
[ "$(state state)" = 4 ] || fail "device state $(state state) after SIGUSR2, want 4 (Connected)"
[ "$(journals)" -ge 1 ] || fail "no journal left after SIGUSR2"
[ -e "$SIM/run/backend-0/pid" ] && fail "pid file left after SIGUSR2"
echo "device Connected, $(journals) journal(s) kept"

note "2. the next daemon: READY=1 after the takeover, then the watchdog"
backend_under_systemd "$SIM/backend2.log"
wait_msg '^READY=1' 1 20 || fail "no READY=1 within 20 s"
grep -q "taken over from an earlier backend on its live rings" "$SIM/backend2.log" ||
	{ cat "$SIM/backend2.log"; fail "READY=1 came before the device was taken over"; }
grep -q '^READY=1|STATUS=serving /local/domain/0/backend/vbd, 1 device(s) found$' "$MSGS" ||
	fail "READY=1 without the expected STATUS: $(grep READY "$MSGS")"
wait_msg '^WATCHDOG=1$' 4 10 || fail "fewer than 4 WATCHDOG=1 in 10 s with WATCHDOG_USEC=1000000"
grep -q "STOPPING" "$MSGS" && fail "STOPPING=1 before any stop"
echo "$(grep -c '^READY=1' "$MSGS") READY, $(grep -c '^WATCHDOG=1$' "$MSGS") WATCHDOG so far"

note "3. SIGUSR2 under systemd: STOPPING=1, exit 0, the third daemon takes over"
kill -USR2 "$BACKEND_PID"
wait "$BACKEND_PID"; rc=$?
[ $rc -eq 0 ] || { cat "$SIM/backend2.log"; fail "exit status $rc after SIGUSR2, want 0"; }
wait_msg '^STOPPING=1' 1 5 || fail "no STOPPING=1 after SIGUSR2"
[ "$(state state)" = 4 ] || fail "device state $(state state) after SIGUSR2, want 4 (Connected)"
backend_under_systemd "$SIM/backend3.log"
wait_msg '^READY=1' 2 20 || fail "no READY=1 from the third daemon"
grep -q "taken over from an earlier backend on its live rings" "$SIM/backend3.log" ||
	{ cat "$SIM/backend3.log"; fail "the third daemon did not take the device over"; }
sleep 1

note "4. the frontend saw no error"
touch "$SIM/stop"
wait $fe || { cat "$SIM/verify.log"; fail "verify reported an error"; }
grep -E "random verify" "$SIM/verify.log"
grep -q "reconnected" "$SIM/verify.log" && fail "the frontend had to reconnect"
cmp "$img" "$SIM/shadow" || fail "image differs from the shadow of acknowledged writes"

note "5. SIGTERM: STOPPING=1, exit 0, the device closed"
kill -TERM "$BACKEND_PID"
wait "$BACKEND_PID"; rc=$?
[ $rc -eq 0 ] || { cat "$SIM/backend3.log"; fail "exit status $rc after SIGTERM, want 0"; }
wait_msg '^STOPPING=1' 2 5 || fail "no STOPPING=1 after SIGTERM"
[ "$(state state)" = 6 ] || fail "device state $(state state) after SIGTERM, want 6 (Closed)"
[ "$(journals)" = 0 ] || fail "$(journals) journal(s) left after SIGTERM"
echo "notifications: $(sort "$MSGS" | uniq -c | tr -s ' ' | tr '\n' ';')"
echo "PASS"
