#!/bin/bash
# SPDX-License-Identifier: MIT
# Two frontend domains on one backend at once, both verified.
. "$(dirname "$0")/lib.sh"
start_sim
for d in 1 2; do
	"$B/vhactl" sim create-domain $d >/dev/null || fail "create domain $d"
	img=$(make_image disk$d.img 32)
	"$B/vhactl" attach --frontend-domid $d --target "$img" >/dev/null || fail "attach $d"
done
"$B/vha-frontend" --domid 1 verify --random 1500 --seed 21 --shadow "$SIM/shadow1" & p1=$!
"$B/vha-frontend" --domid 2 verify --random 1500 --seed 22 --shadow "$SIM/shadow2" & p2=$!
wait $p1 || fail "domain 1 verify"
wait $p2 || fail "domain 2 verify"
cmp "$SIM/disk1.img" "$SIM/shadow1" || fail "disk 1 differs"
cmp "$SIM/disk2.img" "$SIM/shadow2" || fail "disk 2 differs"
backend_alive || fail "backend died"
echo "PASS"
