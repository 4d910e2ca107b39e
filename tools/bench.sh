#!/bin/bash
# SPDX-License-Identifier: MIT
# `make bench`: vha (vha-frontend -> grant-shared ring -> vha-backend) against
# raw io_uring (fio --ioengine=io_uring) on the SAME data-filled file, same
# block size, queue depth and O_DIRECT, in one invocation. Prints a table of
# ratios vha / baseline. A benchmark: it reports, it never fails for being
# slow; it exits non-zero only if something could not run.
#
# Environment: BENCH_RUNTIME (s per job, default 10), BENCH_SIZE_MB (default
# 1024), BENCH_DIR (default /tmp: must allow O_DIRECT), BENCH_CSV (write a CSV).
set -u
cd "$(dirname "$0")/.."
B="$PWD/${BUILD:-build}"
RUNTIME=${BENCH_RUNTIME:-10}
SIZE_MB=${BENCH_SIZE_MB:-1024}
scripts/install-deps.sh >/dev/null || exit 1
command -v fio >/dev/null || { echo "bench: fio is missing"; exit 1; }

SIM=$(mktemp -d "${BENCH_DIR:-/tmp}/vha-bench-XXXXXX")
export VHA_PLATFORM=sim VHA_SIM_DIR="$SIM"
IMG="$SIM/bench.img"
cleanup() { "$B/vhactl" sim stop >/dev/null 2>&1; rm -rf "$SIM"; }
trap cleanup EXIT

# Real data: a fallocated file reads back as zeros without touching the disk.
echo "bench: writing ${SIZE_MB} MiB of data to $IMG"
dd if=/dev/urandom of="$IMG" bs=1M count="$SIZE_MB" oflag=direct status=none || exit 1

"$B/vhactl" sim start >/dev/null || exit 1
"$B/vha-backend" --log-level warn || exit 1
"$B/vhactl" sim create-domain 1 >/dev/null || exit 1
"$B/vhactl" attach --frontend-domid 1 --target "$IMG" >/dev/null || exit 1

jobs=("randread 4k 32" "randwrite 4k 32" "read 128k 8")
json_num() { sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p" | head -1; }

printf '\n%-10s %5s %3s | %12s %10s | %12s %10s %9s | %7s\n' job bs qd "fio IOPS" "fio MB/s" "vha IOPS" \
	"vha MB/s" "p99 us" ratio
printf -- '-%.0s' $(seq 96); echo
[ -n "${BENCH_CSV:-}" ] && echo "job,bs,qd,baseline_iops,baseline_mbps,vha_iops,vha_mbps,vha_p99_us,ratio" > "$BENCH_CSV"
for j in "${jobs[@]}"; do
	set -- $j
	rw=$1 bs=$2 qd=$3
	base=$(fio --name=base --filename="$IMG" --ioengine=io_uring --direct=1 --rw="$rw" --bs="$bs" \
		--iodepth="$qd" --runtime="$RUNTIME" --time_based --size="${SIZE_MB}M" --output-format=json \
		--randrepeat=0 2>/dev/null)
	if [ "${rw#rand}" = write ] || [ "$rw" = randwrite ]; then key=write; else key=read; fi
	b_iops=$(echo "$base" | tr -d '\n' | sed -n "s/.*\"$key\" *: *{[^}]*\"iops\" *: *\([0-9.]*\).*/\1/p")
	b_bw=$(echo "$base" | tr -d '\n' | sed -n "s/.*\"$key\" *: *{[^}]*\"bw_bytes\" *: *\([0-9.]*\).*/\1/p")
	v=$("$B/vha-frontend" --domid 1 bench --rw "$rw" --bs "$bs" --iodepth "$qd" --runtime "$RUNTIME" --json)
	v_iops=$(echo "$v" | json_num iops)
	v_mbps=$(echo "$v" | json_num mbps)
	v_p99=$(echo "$v" | json_num lat_p99_us)
	b_mbps=$(awk -v b="${b_bw:-0}" 'BEGIN { printf "%.1f", b / 1e6 }')
	ratio=$(awk -v v="${v_iops:-0}" -v b="${b_iops:-0}" 'BEGIN { if (b > 0) printf "%.2f", v / b; else print "n/a" }')
	printf '%-10s %5s %3s | %12.0f %10s | %12.0f %10s %9s | %7s\n' "$rw" "$bs" "$qd" "${b_iops:-0}" "$b_mbps" \
		"${v_iops:-0}" "${v_mbps:-0}" "${v_p99:-0}" "$ratio"
	[ -n "${BENCH_CSV:-}" ] && echo "$rw,$bs,$qd,${b_iops:-0},$b_mbps,${v_iops:-0},${v_mbps:-0},${v_p99:-0},$ratio" >> "$BENCH_CSV"
done
echo
echo "ratio = vha IOPS / fio io_uring IOPS on the same file ($(df --output=fstype "$SIM" | tail -1), O_DIRECT), ${RUNTIME}s per job."
echo "vha path: vha-frontend (sim domain 1) -> 1-page ring, grants mapped per request -> vha-backend io_uring."
