#!/bin/bash
# SPDX-License-Identifier: MIT
# `make bench`: vha (vha-frontend -> grant-shared ring -> vha-backend) against
# raw io_uring (fio --ioengine=io_uring) on the SAME data-filled file, same
# block size, queue depth and O_DIRECT, in one invocation. Prints a table of
# ratios vha / baseline. A benchmark: it reports, it never fails for being
# slow; it exits non-zero only if something could not run. Then fio through
# the fio engine (libvha-fio.so) against vha-frontend bench on the same device
# (tools/bench-fio-engine.sh; skipped when the engine is not built), and a
# feature on/off table: the same jobs with one thing changed per row (grant
# strategy, pool buffers, ring order, queues, indirect), as ratios to the
# same baseline.
#
# Environment: BENCH_RUNTIME (s per job, default 10), BENCH_SIZE_MB (default
# 1024), BENCH_DIR (default /tmp: must allow O_DIRECT), BENCH_CSV (write a CSV),
# BENCH_FEATURES=0 (skip the feature table).
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

# The baseline: fio with io_uring on the same file, once per job.
declare -A B_IOPS B_MBPS
for j in "${jobs[@]}"; do
	set -- $j
	rw=$1 bs=$2 qd=$3
	base=$(fio --name=base --filename="$IMG" --ioengine=io_uring --direct=1 --rw="$rw" --bs="$bs" \
		--iodepth="$qd" --runtime="$RUNTIME" --time_based --size="${SIZE_MB}M" --output-format=json \
		--randrepeat=0 2>/dev/null)
	if [ "${rw#rand}" = write ] || [ "$rw" = randwrite ]; then key=write; else key=read; fi
	B_IOPS[$j]=$(echo "$base" | tr -d '\n' | sed -n "s/.*\"$key\" *: *{[^}]*\"iops\" *: *\([0-9.]*\).*/\1/p")
	b_bw=$(echo "$base" | tr -d '\n' | sed -n "s/.*\"$key\" *: *{[^}]*\"bw_bytes\" *: *\([0-9.]*\).*/\1/p")
	B_MBPS[$j]=$(awk -v b="${b_bw:-0}" 'BEGIN { printf "%.1f", b / 1e6 }')
done

# One vha run: job, then extra vha-frontend options. Sets V_IOPS V_MBPS V_P99 V_RATIO.
vha_run() {
	local j=$1 v; shift
	set -- $j "$@"
	local rw=$1 bs=$2 qd=$3; shift 3
	v=$("$B/vha-frontend" --domid 1 "$@" bench --rw "$rw" --bs "$bs" --iodepth "$qd" --runtime "$RUNTIME" --json)
	V_IOPS=$(echo "$v" | json_num iops); V_MBPS=$(echo "$v" | json_num mbps); V_P99=$(echo "$v" | json_num lat_p99_us)
	V_RATIO=$(awk -v v="${V_IOPS:-0}" -v b="${B_IOPS[$j]:-0}" 'BEGIN { if (b > 0) printf "%.2f", v / b; else print "n/a" }')
}
# Re-attach the disk with a grant strategy (the backend reads it when the frontend connects).
strategy() {
	"$B/vhactl" detach --frontend-domid 1 --devid 51712 >/dev/null || exit 1
	"$B/vhactl" attach --frontend-domid 1 --target "$IMG" ${1:+--grant-strategy $1} >/dev/null || exit 1
}

printf '\n%-10s %5s %3s | %12s %10s | %12s %10s %9s | %7s\n' job bs qd "fio IOPS" "fio MB/s" "vha IOPS" \
	"vha MB/s" "p99 us" ratio
printf -- '-%.0s' $(seq 96); echo
[ -n "${BENCH_CSV:-}" ] && echo "config,job,bs,qd,baseline_iops,baseline_mbps,vha_iops,vha_mbps,vha_p99_us,ratio" > "$BENCH_CSV"
for j in "${jobs[@]}"; do
	set -- $j
	vha_run "$j"
	printf '%-10s %5s %3s | %12.0f %10s | %12.0f %10s %9s | %7s\n' "$1" "$2" "$3" "${B_IOPS[$j]:-0}" "${B_MBPS[$j]}" \
		"${V_IOPS:-0}" "${V_MBPS:-0}" "${V_P99:-0}" "$V_RATIO"
	[ -n "${BENCH_CSV:-}" ] && echo "default,$1,$2,$3,${B_IOPS[$j]:-0},${B_MBPS[$j]},${V_IOPS:-0},${V_MBPS:-0},${V_P99:-0},$V_RATIO" >> "$BENCH_CSV"
done
echo
echo "ratio = vha IOPS / fio io_uring IOPS on the same file ($(df --output=fstype "$SIM" | tail -1), O_DIRECT), ${RUNTIME}s per job."
echo "vha path: vha-frontend (sim domain 1, bounce buffers) -> 1-page ring, 1 queue -> vha-backend io_uring,"
echo "grant strategy adaptive (persistent grants negotiated)."

# fio through libvhafront (the fio engine) against vha-frontend bench, on this same device.
echo
BENCH_FIO_ENGINE_SIM=1 VHA_BUILD=$B "$(dirname "$0")/bench-fio-engine.sh" "$RUNTIME"

# The protocol alone: the null engine (null:SIZE; reads are zeroes, writes
# dropped), so the storage costs nothing and what is left is the ring, the
# grants and the two processes. Against fio's own null engine, which costs
# nothing either: its latency is the floor, and the difference is what vha
# adds. IOPS per backend core: IOPS over the CPU seconds vha-backend spent per
# wall second (utime + stime from /proc, the whole process).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
BPID=$(cat "$SIM/run/backend-0/pid")
HZ=$(getconf CLK_TCK)
"$B/vhactl" sim create-domain 2 >/dev/null || exit 1
"$B/vhactl" attach --frontend-domid 2 --target null:1g --grant-strategy persistent >/dev/null || exit 1
echo
echo "Protocol alone: vha over the null engine (persistent grants, zero-copy pool buffers) vs fio's null engine"
printf '%-22s | %10s %9s %9s | %10s %12s | %14s\n' job "vha IOPS" "p50 us" "p99 us" "fio IOPS" "fio p50 us" "IOPS/backend core"
printf -- '-%.0s' $(seq 100); echo
for spec in "randread 4k 1 1" "randwrite 4k 1 1" "randread 4k 32 1" "randwrite 4k 32 1" "randread 4k 32 2" "randwrite 4k 32 2"; do
	set -- $spec
	rw=$1 bs=$2 qd=$3 nq=$4
	t0=$(cpu_ticks "$BPID"); w0=$(date +%s.%N)
	v=$("$B/vha-frontend" --domid 2 --queues "$nq" --zero-copy bench --rw "$rw" --bs "$bs" --iodepth "$qd" \
		--runtime "$RUNTIME" --json)
	t1=$(cpu_ticks "$BPID"); w1=$(date +%s.%N)
	iops=$(echo "$v" | json_num iops); p50=$(echo "$v" | json_num lat_p50_us); p99=$(echo "$v" | json_num lat_p99_us)
	per_core=$(awk -v i="${iops:-0}" -v t=$((t1 - t0)) -v hz="$HZ" -v w0="$w0" -v w1="$w1" \
		'BEGIN { c = t / hz / (w1 - w0); if (c > 0) printf "%.0f", i / c; else print "n/a" }')
	if [ "${rw#rand}" = write ]; then key=write; else key=read; fi
	read -r fiops fp50 < <(fio --name=null --ioengine=null --rw="$rw" --bs="$bs" --iodepth="$qd" --size=1g \
		--runtime="$RUNTIME" --time_based --output-format=json 2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0][sys.argv[1]]
print("%.0f %.1f" % (j["iops"], j["clat_ns"]["percentile"]["50.000000"] / 1000))' "$key" 2>/dev/null)
	printf '%-22s | %10.0f %9s %9s | %10.0f %12s | %14s\n' "$rw $bs qd$qd ${nq}q" "${iops:-0}" "${p50:-?}" \
		"${p99:-?}" "${fiops:-0}" "${fp50:-?}" "$per_core"
done
echo "At QD1, vha's p50 minus fio null's is the round trip vha adds (frontend + ring + backend + response)."
echo "fio's null engine completes inside fio: its IOPS is fio's own ceiling, not a storage number."
"$B/vhactl" detach --frontend-domid 2 --devid 51712 >/dev/null 2>&1

# The nbd engine against fio's nbd engine on one nbdkit export (skipped without nbdkit).
echo
VHA_BUILD=$B "$(dirname "$0")/bench-nbd.sh" "$RUNTIME"
[ "${BENCH_FEATURES:-1}" = 1 ] || exit 0

# The feature on/off table: each row changes one thing from the default.
configs=(
	"default||"
	"zero-copy (pool buffers)||--zero-copy"
	"grants: map|map|"
	"grants: copy|copy|--no-persistent"
	"grants: persistent|persistent|"
	"grants: persistent, zero-copy|persistent|--zero-copy"
	"grants: adaptive, no persistent||--no-persistent"
	"ring order 4 (16 pages)||--ring-order 4"
	"2 queues||--queues 2"
	"indirect off||--no-indirect"
)
echo
echo "Feature table: vha IOPS / fio io_uring IOPS per job (IOPS in brackets)"
printf '%-34s' config; for j in "${jobs[@]}"; do printf ' | %-16s' "$j"; done; echo
printf -- '-%.0s' $(seq 92); echo
cur=""
for c in "${configs[@]}"; do
	IFS='|' read -r name strat opts <<<"$c"
	if [ "$strat" != "$cur" ]; then strategy "$strat"; cur=$strat; fi
	printf '%-34s' "$name"
	for j in "${jobs[@]}"; do
		vha_run "$j" $opts
		printf ' | %5s (%8.0f)' "$V_RATIO" "${V_IOPS:-0}"
		set -- $j
		[ -n "${BENCH_CSV:-}" ] && echo "$name,$1,$2,$3,${B_IOPS[$j]:-0},${B_MBPS[$j]},${V_IOPS:-0},${V_MBPS:-0},${V_P99:-0},$V_RATIO" >> "$BENCH_CSV"
	done
	echo
done
printf '%-34s' "fio io_uring (baseline IOPS)"; for j in "${jobs[@]}"; do printf ' | %5s (%8.0f)' 1.00 "${B_IOPS[$j]:-0}"; done; echo
echo "Backend counters for the last configuration (vhactl stats):"
"$B/vhactl" stats
