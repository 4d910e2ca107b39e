#!/bin/bash
# SPDX-License-Identifier: MIT
# vhactl behaviour: clear failure without a backend, list/detach, the nodes as
# xenstore-ls (the real tool) shows them, list --json and stats (80 columns,
# --wide, --json: valid JSON with its schema and version), sim status.
. "$(dirname "$0")/lib.sh"
"$B/vhactl" sim start >/dev/null || fail "sim start"
"$B/vhactl" sim start >/dev/null 2>&1 && fail "a second sim start should refuse"
"$B/vhactl" sim create-domain 1 >/dev/null || fail "create domain"
img=$(make_image disk.img 8)
note "attach without a backend times out with a reason"
out=$("$B/vhactl" attach --frontend-domid 1 --target "$img" --timeout 1 2>&1) && fail "attach without backend succeeded"
echo "$out" | grep -q "is vha-backend running" || fail "unclear message: $out"
note "xenstore-ls shows the libxl-style nodes"
start_backend
"$B/vhactl" attach --frontend-domid 1 --target "$img" --mode r >/dev/null || fail "attach"
tree=$(xs xenstore-ls /local/domain)
for n in frontend-id online state params mode type dev device-type hotplug-status backend backend-id virtual-device; do
	echo "$tree" | grep -q " $n = " || fail "node $n missing: $tree"
done
echo "$tree" | grep -q 'mode = "r"' || fail "mode not r"
perms=$(xs xenstore-ls -p /local/domain/1/device/vbd)
echo "$perms" | grep -q '(n1,r0)' || fail "frontend dir perms: $perms"
"$B/vhactl" list | grep -q "InitWait" || fail "list does not show InitWait"
"$B/vha-frontend" --domid 1 info | grep -q "read-only" || fail "read-only not reported"
note "a guest cannot read another guest's nodes"
"$B/vhactl" sim create-domain 2 >/dev/null || fail "create domain 2"
XENSTORED_PATH=$SIM/xenstore/domain-2.sock xenstore-read /local/domain/1/device/vbd/51712/backend 2>/dev/null &&
	fail "domain 2 read domain 1's node"
note "list: xenstore text reaches the terminal without control characters"
# A params node with an escape sequence, as a hand-written node or a driver domain could leave it
# (xenstore-write takes \x1b as an escape; the raw byte is what a hostile writer would send).
esc=$(printf '\033')
"$B/vhactl" attach --frontend-domid 1 --devid 51728 --target "$img" --mode r >/dev/null || fail "attach 51728"
xs xenstore-write /local/domain/0/backend/vbd/1/51728/params "/x${esc}[2J${esc}]0;pwned" || fail "write params"
"$B/vhactl" list >"$SIM/list.txt" || fail "list"
grep -q "$esc" "$SIM/list.txt" && fail "vhactl list printed an escape character"
grep -q '/x?\[2J?\]0;pwned' "$SIM/list.txt" || fail "the params not shown sanitised: $(cat "$SIM/list.txt")"
"$B/vhactl" detach --frontend-domid 1 --devid 51728 --force >/dev/null 2>&1
note "list --json: a vha-list document"
"$B/vhactl" list --json >"$SIM/list.json" || fail "list --json"
state=$("$B/vhactl" list | awk '$2 == 1 && $4 == 51712 {print $5}')
python3 - "$SIM/list.json" "$state" <<'EOF' || fail "list --json (the table says $state): $(cat "$SIM/list.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "vha-list" and d["version"] == 1, d
dev = [x for x in d["devices"] if x["frontend_domid"] == 1 and x["devid"] == 51712]
assert len(dev) == 1, d
assert dev[0]["backend_domid"] == 0 and dev[0]["type"] == "vbd", dev
names = ["Unknown", "Initialising", "InitWait", "Initialised", "Connected", "Closing", "Closed"]
assert dev[0]["backend_state_name"] == sys.argv[2] == names[dev[0]["backend_state"]], dev
assert dev[0]["target"].endswith("/disk.img"), dev
EOF
note "stats: 80 columns, --wide, --json"
# Read while the tables are taken: a totals row and a queue row, with counts.
"$B/vha-frontend" --domid 1 bench --rw randread --runtime 3 >"$SIM/bench.log" 2>&1 & bench=$!
sleep 1.5
kill -USR1 "$BACKEND_PID"; sleep 0.3
"$B/vhactl" stats >"$SIM/stats.txt" || fail "stats"
cat "$SIM/stats.txt"
awk 'length($0) > 80 {print "line " NR " has " length($0) " columns: " $0; bad = 1} END {exit bad}' "$SIM/stats.txt" ||
	fail "vhactl stats is wider than 80 columns"
grep -q '^1 *51712 .* all ' "$SIM/stats.txt" || fail "stats: no totals row for device 1"
grep -q '^1 *51712 .* 0 ' "$SIM/stats.txt" || fail "stats: no row for queue 0 of device 1"
"$B/vhactl" stats --wide >"$SIM/wide.txt" || fail "stats --wide"
head -1 "$SIM/wide.txt" | grep -q "bytes-written .*rejected .*buffered .*cache" || fail "stats --wide lacks columns: $(head -1 "$SIM/wide.txt")"
[ "$(awk '{print NF}' "$SIM/wide.txt" | sort -u | wc -l)" = 1 ] || fail "stats --wide rows and header differ: $(cat "$SIM/wide.txt")"
"$B/vhactl" stats --json >"$SIM/stats-out.json" || fail "stats --json"
python3 -m json.tool "$SIM/stats-out.json" >/dev/null || fail "stats --json is not JSON"
python3 -m json.tool "$SIM/run/backend-0/stats.json" >/dev/null || fail "stats.json is not JSON"
python3 - "$SIM/stats-out.json" <<'EOF' || fail "stats --json: $(cat "$SIM/stats-out.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "vha-stats" and d["version"] == 1, d
dev = [x for x in d["devices"] if x["frontend"] == 1 and x["devid"] == 51712][0]
assert dev["connections"] >= 1 and dev["totals"]["requests"] >= 1, dev
EOF
wait $bench || fail "bench: $(cat "$SIM/bench.log")"
"$B/vhactl" stats --json --wide >/dev/null 2>&1; [ $? = 2 ] || fail "stats --json --wide: not a usage error"
mkdir "$SIM/v2" && echo '{"schema": "vha-stats", "version": 2, "devices": []}' >"$SIM/v2/stats.json"
out=$("$B/vhactl" stats --state-dir "$SIM/v2" 2>&1); [ $? = 1 ] || fail "a version 2 stats.json was read"
echo "$out" | grep -q "version 2; this vhactl reads version 1" || fail "unclear message: $out"
"$B/vhactl" detach --frontend-domid 1 --devid 51712 || fail "detach"
[ -z "$(xs xenstore-ls /local/domain/0/backend/vbd 2>/dev/null)" ] || fail "backend dir left behind"
"$B/vhactl" sim status | grep -q "xenstored:     running" || fail "status"
"$B/vhactl" sim stop >/dev/null || fail "stop"
"$B/vhactl" sim status >/dev/null && fail "status after stop should say not running"
echo "PASS"
