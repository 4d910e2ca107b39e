#!/bin/bash
# SPDX-License-Identifier: MIT
# Prometheus metrics (vha-backend --metrics FILE.prom, node_exporter's
# textfile collector): after real I/O on two guests, and a reconnect of one,
# the file parses with prometheus_client's own parser and every sample
# agrees with the stats.json written from the same document; device
# counters and the latency histogram count across the reconnect.
# vha-test-timeout: 90
. "$(dirname "$0")/lib.sh"
# Debian's python3, which has Debian's python3-prometheus-client (not a pyenv or venv one).
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
$PY -c 'import prometheus_client' 2>/dev/null || { echo "skip: python3-prometheus-client is not installed (make deps installs it)"; exit 77; }
PROM=$SIM/metrics/vha.prom
mkdir -p "$SIM/metrics"
start_sim --metrics "$PROM"
for d in 1 2; do
	"$B/vhactl" sim create-domain $d >/dev/null || fail "create domain $d"
	img=$(make_image disk$d.img 16)
	"$B/vhactl" attach --frontend-domid $d --target "$img" >/dev/null || fail "attach $d"
done
STATS=$SIM/run/backend-0/stats.json
"$B/vha-frontend" --domid 1 --queues 2 bench --rw randrw --bs 4k --iodepth 8 --runtime 2 >/dev/null || fail "bench 1"
"$B/vha-frontend" --domid 2 verify --random 200 --seed 3 >/dev/null || fail "verify 2"
# A connected guest, stopped mid-run so that its counters hold still while both files are read.
"$B/vha-frontend" --domid 2 --queues 2 bench --rw randrw --bs 4k --iodepth 4 --runtime 4 >/dev/null 2>&1 &
bp=$!
sleep 1.5
kill -STOP $bp
sleep 0.5
kill -USR1 "$BACKEND_PID"; sleep 0.5
grep -q '^vha_queue_requests_total{domid="2",.*queue="1"}' "$PROM" || fail "no queue metrics of the connected guest 2"
$PY "$(dirname "$0")/metrics-check.py" "$PROM" "$SIM/run/backend-0/stats.json" || fail "metrics and stats.json disagree (guest 2 connected)"
kill -CONT $bp
wait $bp || fail "bench 2"
# A second connection of guest 1: its device's counters go on from the first's.
"$B/vha-frontend" --domid 1 --queues 1 verify --random 100 --seed 4 >/dev/null || fail "verify 1"
kill -USR1 "$BACKEND_PID"; sleep 0.5
[ -s "$PROM" ] || fail "no metrics file $PROM"
ls "$SIM/metrics" | grep -v '\.prom$' && fail "a temporary file left beside the .prom file"
$PY "$(dirname "$0")/metrics-check.py" "$PROM" "$STATS" || fail "metrics and stats.json disagree"
conn=$(awk '/^vha_device_connections_total\{domid="1"/ {print $2}' "$PROM")
[ "${conn:-0}" -ge 2 ] || fail "guest 1 connected $conn times, expected at least 2"
reqs=$(awk '/^vha_device_requests_total\{domid="1"/ {print $2}' "$PROM")
qreqs=$(awk '/^vha_queue_requests_total\{domid="1"/ {s += $2} END {print s + 0}' "$PROM")
echo "guest 1: $conn connections, $reqs requests in all, $qreqs on the live connection's queues"
[ "$reqs" -gt "$qreqs" ] || fail "device total $reqs is not more than the last connection's $qreqs"
# A path needing escapes in a label: a quote and a backslash in the target's name.
odd=$SIM/'odd"na\me.img'
dd if=/dev/zero of="$odd" bs=1M count=4 status=none
"$B/vhactl" sim create-domain 3 >/dev/null || fail "create domain 3"
"$B/vhactl" attach --frontend-domid 3 --target "$odd" >/dev/null || fail "attach 3"
"$B/vha-frontend" --domid 3 info >/dev/null || fail "info 3"
kill -USR1 "$BACKEND_PID"; sleep 0.5
$PY "$(dirname "$0")/metrics-check.py" "$PROM" "$STATS" || fail "metrics with an odd target path"
echo "PASS"
