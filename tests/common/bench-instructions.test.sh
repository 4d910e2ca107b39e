#!/bin/bash
# SPDX-License-Identifier: MIT
# The short version of `make bench-instructions` (tools/bench-instructions.sh):
# 1 s per job under callgrind. Checks that the tool runs and that its table
# has a positive count for each job, not what the counts are (a benchmark
# never fails for being slow).
# vha-test-timeout: 300
set -u
cd "$(dirname "$0")/../.."
out=$(BENCH_IPR_RUNTIME=1 BUILD=${BUILD:-build} tools/bench-instructions.sh 2>&1)
rc=$?
echo "$out"
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || { echo "FAIL: tools/bench-instructions.sh exited $rc"; exit 1; }
for job in "randread 4k QD32" "randwrite 4k QD32" "read 128k QD8"; do
	row=$(echo "$out" | grep "^$job ")
	[ -n "$row" ] || { echo "FAIL: no row for $job"; exit 1; }
	set -- $row
	# job (3 words), requests, instructions, per-request, mem* per request, protocol per request
	[ "$4" -gt 0 ] && [ "$5" -gt 0 ] && [ "$6" -gt 0 ] && [ "$8" -gt 0 ] ||
		{ echo "FAIL: $job: not a positive count: $row"; exit 1; }
done
echo "PASS"
