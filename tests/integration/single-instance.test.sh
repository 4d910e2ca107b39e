#!/bin/bash
# SPDX-License-Identifier: MIT
# One vha-backend per state directory: a second one started while the first
# serves must refuse (after waiting for the lock) and leave the first alone;
# one started right after the first is SIGKILLed must get the lock and take
# the device over.
# vha-test-timeout: 120
. "$(dirname "$0")/lib.sh"
start_sim
"$B/vhactl" sim create-domain 1 >/dev/null || fail "create domain"
img=$(make_image disk.img 8)
"$B/vhactl" attach --frontend-domid 1 --target "$img" >/dev/null || fail "attach"
"$B/vha-frontend" --domid 1 verify --random 50 --seed 1 >/dev/null || fail "first verify"

note "a second daemon on the same state directory"
start=$SECONDS
if "$B/vha-backend" --foreground >"$SIM/second.log" 2>&1; then
	fail "a second vha-backend started beside the first"
fi
grep -q "another vha-backend serves this state directory" "$SIM/second.log" || { cat "$SIM/second.log"; fail "no clear message"; }
echo "refused after $((SECONDS - start)) s: $(head -1 "$SIM/second.log")"
backend_alive || fail "the first daemon died"
"$B/vha-frontend" --domid 1 verify --random 50 --seed 2 >/dev/null || fail "verify after the refused start"

note "a restart right after SIGKILL gets the lock"
kill -9 "$BACKEND_PID"
start_backend
"$B/vha-frontend" --domid 1 verify --random 50 --seed 3 >/dev/null || fail "verify after the restart"
echo "PASS"
