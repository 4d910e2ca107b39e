#!/bin/bash
# SPDX-License-Identifier: MIT
# The short run of `make bench-fairness`: a normal guest measured alone,
# beside a greedy guest (1 MiB at depth 512 on 4 queues), beside a storming
# guest (events with no requests) and beside both, on one vha-backend. It
# prints the ratios (a benchmark: never judged here) and checks what is not
# a matter of speed: every run completed, the storming guest's wasted
# events are visible in the backend's stats and were delayed, and the
# backend lived through it.
# vha-test-timeout: 300
set -u
cd "$(dirname "$0")/../.."
B=${VHA_BUILD:-$PWD/build}
[ -x "$B/tests/xen/vha-hostile" ] || { echo "skip: $B/tests/xen/vha-hostile is not built"; exit 77; }
command -v taskset >/dev/null || echo "note: no taskset: frontends are not pinned"
out=$(BUILD=${B#$PWD/} BENCH_RUNTIME=${BENCH_RUNTIME:-2} BENCH_SIZE_MB=32 bash tools/bench-fairness.sh 2>&1) ||
	{ echo "$out"; echo "FAIL: bench-fairness did not complete"; exit 1; }
echo "$out" | grep -v "^vha: warn: device device/vbd"
for s in "nobody (solo)" "greedy (1 MiB" "storming (events" "greedy and storming"; do
	line=$(echo "$out" | grep -F "$s")
	[ -n "$line" ] || { echo "FAIL: no row for '$s'"; exit 1; }
	case "$line" in *" 0 ("*|*"n/a"*) echo "FAIL: the normal guest did nothing beside '$s': $line"; exit 1 ;; esac
done
stats=$(echo "$out" | grep "storming guest in the backend's stats")
spurious=$(echo "$stats" | sed -n 's/.*alone, events_received [0-9]*, events_spurious \([0-9]*\), events_delayed \([0-9]*\).*/\1 \2/p')
set -- $spurious
[ "${1:-0}" -gt 0 ] || { echo "FAIL: the storming guest's wasted events are not in the stats"; exit 1; }
[ "${2:-0}" -gt 0 ] || { echo "FAIL: the storming guest's port was never delayed"; exit 1; }
echo "PASS"
