#!/bin/bash
# SPDX-License-Identifier: MIT
# The multi-queue tests (test_features: a real vha-backend serving 2 queues,
# each on its own thread), the device jobs (slow-open.test.sh: targets
# opened and closed on job threads, two at once on one rbd cluster) and busy
# polling (poll.test.sh: workers and the frontend reading ring indexes and
# completion lists other threads write) under ThreadSanitizer. Builds build-tsan/ when it
# is missing or stale; any ThreadSanitizer report from any process fails.
# vha-test-timeout: 900
set -u
cd "$(dirname "$0")/../.."
TB=${VHA_TSAN_BUILD:-build-tsan}

probe=$(mktemp -d /tmp/vha-tsan-probe-XXXXXX)
trap 'rm -rf "$probe"' EXIT
echo 'int main(void) { return 0; }' >"$probe/p.c"
if ! ${CC:-cc} -fsanitize=thread -o "$probe/p" "$probe/p.c" 2>"$probe/err"; then
	echo "skip: the compiler cannot build with -fsanitize=thread: $(head -1 "$probe/err")"
	exit 77
fi
# TSan needs its shadow memory layout; some kernels' mmap randomisation breaks it.
if ! "$probe/p" 2>"$probe/err"; then
	echo "skip: ThreadSanitizer binaries do not run here: $(head -1 "$probe/err")"
	exit 77
fi

# The make that runs this test may pass its jobserver: build with our own.
if ! env -u MAKEFLAGS -u MFLAGS make --no-print-directory -j2 SANITIZE=thread BUILD="$TB" \
	"$TB/vha-backend" "$TB/vhactl" "$TB/vha-simxenstored" "$TB/vha-frontend" \
	"$TB/tests/integration/test_features" >"$probe/build.log" 2>&1; then
	tail -n 40 "$probe/build.log"
	echo "FAIL: the ThreadSanitizer build failed"
	exit 1
fi

logs="$probe/tsan"
mkdir -p "$logs"
# Reports go to one file per process (the backend daemonizes and its stderr is its log).
export TSAN_OPTIONS="log_path=$logs/report halt_on_error=0 second_deadlock_stack=1 suppressions=$PWD/tests/integration/tsan.supp ${TSAN_OPTIONS:-}"
VHA_BUILD="$PWD/$TB" "$TB/tests/integration/test_features"
rc=$?
for part in slow-open poll; do
	VHA_BUILD="$PWD/$TB" bash tests/integration/$part.test.sh
	rc2=$?
	# 77 (a part that cannot run here) is not a failure of the whole.
	[ $rc -eq 0 ] && [ $rc2 -ne 0 ] && [ $rc2 -ne 77 ] && rc=$rc2
done
reports=$(cat "$logs"/report* 2>/dev/null)
if [ -n "$reports" ]; then
	echo "$reports"
	echo "FAIL: ThreadSanitizer reported $(grep -c '^WARNING: ThreadSanitizer' <<<"$reports") problem(s)"
	exit 1
fi
exit $rc
