#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs each libFuzzer binary given as an argument on its seed corpus,
# tests/fuzz/corpus/<binary name>/, for FUZZ_SECONDS (default 20) or for
# FUZZ_RUNS inputs when that is set (make fuzz-long: 10^7). New inputs go to
# a scratch directory, not into the repository; a crash leaves its input in
# FUZZ_ARTIFACTS (default build-fuzz/artifacts/) and fails the run. Each
# target's line says how many inputs ran, how fast, and the coverage
# reached: libFuzzer's last "cov:" (code edges) and "ft:" (features) from
# its log, FUZZ_ARTIFACTS/<name>.log.
# Exit: 0 all clean, 1 a target crashed or is missing, 77 skipped (no clang).
set -u
cd "$(dirname "$0")/../.."

if ! command -v clang >/dev/null 2>&1; then
	echo "skip: clang is not installed, the fuzz targets cannot be built"
	exit 77
fi
if [ $# -eq 0 ]; then
	echo "usage: $0 build-fuzz/fuzz_<name>..." >&2
	exit 2
fi

seconds=${FUZZ_SECONDS:-20}
runs=${FUZZ_RUNS:-}
artifacts=${FUZZ_ARTIFACTS:-build-fuzz/artifacts}
mkdir -p "$artifacts"
scratch=$(mktemp -d /tmp/vha-fuzz-XXXXXX)
trap 'rm -rf "$scratch"' EXIT

failed=0
for bin in "$@"; do
	name=$(basename "$bin")
	if [ ! -x "$bin" ]; then
		echo "FAIL  $name: $bin is not built (make fuzz)"
		failed=1
		continue
	fi
	seeds="tests/fuzz/corpus/$name"
	work="$scratch/$name"
	mkdir -p "$work" "$seeds"
	if [ -n "$runs" ]; then
		limit="-runs=$runs"
	else
		limit="-max_total_time=$seconds"
	fi
	log="$artifacts/$name.log"
	if "$bin" "$limit" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$artifacts/$name-" "$work" "$seeds" >"$log" 2>&1; then
		execs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
		rate=$(grep -m1 -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$')
		# The last status line ("#N  DONE  cov: X ft: Y corp: ...") holds the final coverage.
		last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
		cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
		ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
		echo "PASS  $name (${execs:-?} inputs, ${rate:-?}/s; cov ${cov:-?}, ft ${ft:-?})"
	else
		echo "FAIL  $name: crash or invariant failure; input saved under $artifacts/"
		tail -n 40 "$log"
		failed=1
	fi
done
exit $failed
