#!/bin/bash
# SPDX-License-Identifier: MIT
# The short version of `make bench-report` (tools/bench-report.sh): 1 s per
# point on a 64 MiB file, written to a scratch directory, not docs/. Checks
# that the report has a row per iodepth and that the plots are PNG images;
# never what the numbers are (a benchmark never fails for being slow).
# vha-test-timeout: 300
set -u
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d /tmp/vha-report-test-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
BENCH_RUNTIME=1 BENCH_SIZE_MB=64 BENCH_REPORT_OUT="$tmp/performance.md" BUILD=${BUILD:-build} \
	tools/bench-report.sh || { echo "FAIL: tools/bench-report.sh exited $?"; exit 1; }
for qd in 1 2 4 8 16 32 64 128; do
	grep -q "^| $qd | [0-9]" "$tmp/performance.md" || { echo "FAIL: no row for iodepth $qd"; exit 1; }
done
grep -q "^| vha | [0-9.]* |" "$tmp/performance.md" || { echo "FAIL: no QD1 latency row for vha"; exit 1; }
for png in perf-iodepth.png perf-qd1-latency.png; do
	[ "$(head -c 4 "$tmp/$png" 2>/dev/null | od -An -c | tr -d ' ')" = "211PNG" ] ||
		{ echo "FAIL: $png is not a PNG image"; exit 1; }
done
echo "PASS"
