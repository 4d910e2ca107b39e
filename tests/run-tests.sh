#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs every test that can run here: the cmocka binaries built from
# tests/*/test_*.c and the integration scripts tests/*/*.test.sh.
# Exit code 77 from a test means "skipped" (it says why). Ends with the line
#   N passed, N failed, N skipped
# and exits non-zero if anything failed.
# Environment: BUILD (build dir), TEST_FILTER (substring), TEST_TIMEOUT (s).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
export VHA_BUILD="$PWD/$BUILD"
TEST_TIMEOUT=${TEST_TIMEOUT:-600}
filter=${TEST_FILTER:-}
logdir="$BUILD/test-logs"
mkdir -p "$logdir"

pass=0 fail=0 skip=0
failed=()

run_one() {
	local name=$1; shift
	local log="$logdir/$(echo "$name" | tr '/' '_').log"
	local start=$SECONDS rc limit=$TEST_TIMEOUT
	# A script may ask for more time with a "# vha-test-timeout: N" line.
	if [ -f "${!#}" ] && [[ ${!#} == *.sh ]]; then
		local want
		want=$(sed -n 's/^# vha-test-timeout: *\([0-9][0-9]*\).*/\1/p' "${!#}" | head -1)
		[ -n "$want" ] && [ "$want" -gt "$limit" ] && limit=$want
	fi
	TEST_TIMEOUT=$limit timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1
	rc=$?
	local took=$((SECONDS - start))
	case $rc in
	0)  pass=$((pass + 1)); printf 'PASS  %-48s %3ss\n' "$name" "$took" ;;
	77) skip=$((skip + 1)); printf 'SKIP  %-48s (%s)\n' "$name" "$(grep -m1 -i 'skip' "$log" | cut -c1-100)" ;;
	*)  fail=$((fail + 1)); failed+=("$name")
	    printf 'FAIL  %-48s %3ss (exit %s)\n' "$name" "$took" "$rc"
	    echo "----- $log (last 60 lines) -----"; tail -n 60 "$log"; echo "-----" ;;
	esac
}

for t in $(find "$BUILD/tests" -type f -name 'test_*' -perm -u+x 2>/dev/null | sort); do
	name=${t#"$BUILD/"}
	[ -n "$filter" ] && [[ $name != *"$filter"* ]] && continue
	run_one "$name" "$t"
done
for s in $(find tests -name '*.test.sh' | sort); do
	[ -n "$filter" ] && [[ $s != *"$filter"* ]] && continue
	run_one "$s" bash "$s"
done

echo
[ ${#failed[@]} -gt 0 ] && printf 'failed: %s\n' "${failed[@]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
