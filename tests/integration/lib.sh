# SPDX-License-Identifier: MIT
# Shared helpers for the sim integration tests: each test gets its own sim
# directory, and everything it started is stopped on exit, pass or fail.
set -u
B=${VHA_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build}
for bin in vhactl vha-backend vha-frontend vha-simxenstored; do
	if [ ! -x "$B/$bin" ]; then
		echo "skip: $B/$bin is not built"
		exit 77
	fi
done
SIM=$(mktemp -d /tmp/vha-it-XXXXXX)
export VHA_PLATFORM=sim VHA_SIM_DIR=$SIM

cleanup() {
	local rc=$?
	if [ $rc -ne 0 ] && [ -f "$SIM/run/backend-0/log" ]; then
		echo "--- backend log (last 30 lines) ---"
		tail -n 30 "$SIM/run/backend-0/log"
	fi
	"$B/vhactl" sim stop >/dev/null 2>&1
	rm -rf "$SIM"
	exit $rc
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; exit 1; }
note() { echo "== $*"; }

start_backend() {
	"$B/vha-backend" --log-level info "$@" || fail "vha-backend did not start"
	BACKEND_PID=$(cat "$SIM/run/backend-0/pid")
}

start_sim() {
	"$B/vhactl" sim start >/dev/null || fail "sim start"
	start_backend "$@"
}

# make_image NAME MiB: a file of random data in the sim dir (ext4 under /tmp: O_DIRECT works).
make_image() {
	dd if=/dev/urandom of="$SIM/$1" bs=1M count="$2" status=none || fail "make image $1"
	echo "$SIM/$1"
}

backend_alive() { kill -0 "$BACKEND_PID" 2>/dev/null; }

xs() { XENSTORED_PATH=$SIM/xenstore/socket "$@"; }
