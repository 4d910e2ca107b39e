#!/bin/bash
# SPDX-License-Identifier: MIT
# vha-backend in a driver domain (domain 5, not dom0), as tests/xen case 12
# runs it on real Xen: xenstored refuses such a domain the privileged
# is-domain-introduced request, which once made every device look like its
# guest had died (it never reached InitWait). A guest's disk served from
# there does verified I/O, and detaching it leaves nothing behind.
. "$(dirname "$0")/lib.sh"
"$B/vhactl" sim start >/dev/null || fail "sim start"
for d in 1 5; do "$B/vhactl" sim create-domain $d >/dev/null || fail "create domain $d"; done
"$B/vha-backend" --log-level info --domid 5 || fail "vha-backend in domain 5 did not start"
BACKEND_PID=$(cat "$SIM/run/backend-5/pid") || fail "no pid file of the backend in domain 5"
LOG=$SIM/run/backend-5/log
img=$(make_image disk1.img 32)
"$B/vhactl" attach --frontend-domid 1 --backend-domid 5 --target "$img" --timeout 10 >/dev/null ||
	{ tail -20 "$LOG"; fail "attach of domain 1's disk to the backend in domain 5"; }
grep -q "serving /local/domain/5/backend/vbd" "$LOG" || fail "the backend does not serve domain 5's backend dir"
grep -q "not privileged: a driver domain" "$LOG" || fail "the backend did not note that xenstore refused is-domain-introduced"
"$B/vha-frontend" --domid 1 verify --random 800 --seed 5 --shadow "$SIM/shadow1" || fail "domain 1 verify"
cmp "$img" "$SIM/shadow1" || fail "disk 1 differs from the shadow"
"$B/vhactl" detach --frontend-domid 1 --backend-domid 5 --devid 51712 --timeout 10 >/dev/null || fail "detach"
for i in $(seq 50); do
	ls -l /proc/$BACKEND_PID/fd 2>/dev/null | grep -q disk1.img || break
	sleep 0.1
done
ls -l /proc/$BACKEND_PID/fd | grep -q disk1.img && fail "backend still has disk 1 open"
xs xenstore-exists /local/domain/5/backend/vbd/1/51712 2>/dev/null && fail "backend dir still in xenstore"
"$B/vhactl" sim status | grep -q "domain 1 .* 0 of its pages mapped" || { "$B/vhactl" sim status; fail "grants of domain 1 still mapped"; }
kill -0 "$BACKEND_PID" || fail "backend died"
kill -TERM "$BACKEND_PID"
echo "PASS"
