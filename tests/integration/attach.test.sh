#!/bin/bash
# SPDX-License-Identifier: MIT
# Attach, thousands of random reads and writes of random sizes checked against
# a shadow copy, flush, detach, re-attach and re-verify (through the frontend
# and from dom0's side), and a frontend that restarts without closing.
. "$(dirname "$0")/lib.sh"
start_sim
"$B/vhactl" sim create-domain 1 >/dev/null || fail "create domain"
img=$(make_image disk.img 64)
"$B/vhactl" attach --frontend-domid 1 --target "$img" >/dev/null || fail "attach"
note "3000 random I/Os against a shadow"
"$B/vha-frontend" --domid 1 verify --random 3000 --seed 11 --max-size 256k --shadow "$SIM/shadow" || fail "verify"
cmp "$img" "$SIM/shadow" || fail "image differs from the shadow after flush"
note "detach, re-attach, re-verify"
"$B/vhactl" detach --frontend-domid 1 --devid 51712 || fail "detach"
"$B/vhactl" list | grep -q 51712 && fail "device still listed after detach"
"$B/vhactl" attach --frontend-domid 1 --target "$img" >/dev/null || fail "re-attach"
"$B/vha-frontend" --domid 1 read --out "$SIM/readback" || fail "read back"
cmp "$SIM/readback" "$SIM/shadow" || fail "read back differs from the shadow"
"$B/vha-frontend" --domid 1 verify --random 500 --seed 12 --shadow "$SIM/shadow" || fail "re-verify"
cmp "$img" "$SIM/shadow" || fail "image differs from the shadow after the second run"
note "a frontend killed mid-run (its domain lives on): the next one reconnects"
"$B/vha-frontend" --domid 1 bench --rw randwrite --runtime 20 >/dev/null 2>&1 & victim=$!
sleep 1
kill -9 $victim
wait $victim 2>/dev/null
timeout 30 "$B/vha-frontend" --domid 1 verify --random 300 --seed 13 || fail "no reconnect after a killed frontend"
backend_alive || fail "backend died"
echo "PASS"
