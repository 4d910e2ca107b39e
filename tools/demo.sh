#!/bin/bash
# SPDX-License-Identifier: MIT
# The main job (`make demo`): on the simulated Xen platform, start the sim,
# a backend (domain 0) and a guest domain (1), attach a disk image, write and
# verify data through grant-shared rings, benchmark briefly, cross-check the
# image from dom0's side, print a summary, and tear everything down.
# Exits non-zero if any step failed. DEMO_KEEP=FILE keeps the backend log.
set -u
cd "$(dirname "$0")/.."
B="$PWD/${BUILD:-build}"
DISK_MB=${DEMO_DISK_MB:-256}
BENCH_S=${DEMO_BENCH_SECONDS:-3}

SIM=$(mktemp -d /tmp/vha-demo-XXXXXX)
export VHA_PLATFORM=sim VHA_SIM_DIR="$SIM"
IMG="$SIM/disk.img"
declare -a names results details
failed=0

cleanup() {
	"$B/vhactl" sim stop >/dev/null 2>&1
	[ -n "${DEMO_KEEP:-}" ] && cp "$SIM/run/backend-0/log" "$DEMO_KEEP" 2>/dev/null
	rm -rf "$SIM"
}
trap cleanup EXIT

step() {
	local name=$1; shift
	local out rc
	printf '%-44s ' "$name"
	out=$("$@" 2>&1)
	rc=$?
	names+=("$name")
	if [ $rc -eq 0 ]; then
		results+=("ok")
		echo "ok"
	else
		results+=("FAILED")
		failed=1
		echo "FAILED (exit $rc)"
		echo "$out" | sed 's/^/    | /' | tail -20
	fi
	details+=("$(echo "$out" | tail -1)")
	LAST_OUT=$out
	return $rc
}

echo "vha demo: simulated Xen platform in $SIM"
echo
step "start the sim platform (xenstored, dom0)" "$B/vhactl" sim start || exit 1
step "start vha-backend in domain 0" "$B/vha-backend" --log-level warn || exit 1
step "create guest domain 1" "$B/vhactl" sim create-domain 1 --name demo-guest || exit 1
step "create a ${DISK_MB} MiB disk image" dd if=/dev/urandom of="$IMG" bs=1M count="$DISK_MB" status=none || exit 1
step "attach it to domain 1 as xvda" "$B/vhactl" attach --frontend-domid 1 --target "$IMG" --vdev xvda || exit 1
step "guest: read the disk geometry" "$B/vha-frontend" --domid 1 info
step "guest: write a pattern, read it back (64 MiB)" "$B/vha-frontend" --domid 1 verify --pattern --length 64M
step "guest: 2000 random I/Os vs a shadow copy" "$B/vha-frontend" --domid 1 verify --random 2000 --seed 7 \
	--max-size 128k --shadow "$SIM/shadow"
step "guest: reconnect and re-verify the shadow" "$B/vha-frontend" --domid 1 verify --random 1 --seed 8 \
	--shadow "$SIM/shadow"
step "dom0: the image holds what the guest wrote" cmp "$IMG" "$SIM/shadow"
step "guest: 4K random read, QD32, ${BENCH_S}s" "$B/vha-frontend" --domid 1 bench --rw randread --bs 4k \
	--iodepth 32 --runtime "$BENCH_S"
randread=$LAST_OUT
step "guest: 4K random write, QD32, ${BENCH_S}s" "$B/vha-frontend" --domid 1 bench --rw randwrite --bs 4k \
	--iodepth 32 --runtime "$BENCH_S"
randwrite=$LAST_OUT
step "backend statistics" "$B/vhactl" stats
stats=$LAST_OUT
step "detach the disk" "$B/vhactl" detach --frontend-domid 1 --devid 51712
step "backend released every grant of domain 1" bash -c \
	"\"$B/vhactl\" sim status | grep -q 'domain 1 .*alive, 0 grants active, 0 of its pages mapped'"
step "destroy domain 1" "$B/vhactl" sim destroy-domain 1

echo
echo "Summary"
echo "-------"
for i in "${!names[@]}"; do
	printf '  %-44s %s\n' "${names[$i]}" "${results[$i]}"
done
echo
echo "Benchmark (sim platform, guest <-> vha-backend over grant-shared rings, image on $(df --output=fstype "$SIM" | tail -1)):"
echo "  $randread"
echo "  $randwrite"
echo
echo "Backend counters:"
echo "$stats" | sed 's/^/  /'
echo
if [ $failed -ne 0 ]; then
	echo "demo: FAILED"
	exit 1
fi
echo "demo: all steps passed"
