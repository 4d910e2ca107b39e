#!/bin/bash
# SPDX-License-Identifier: MIT
# The nbd engine against fio's own nbd engine (ioengine=nbd, libnbd inside
# fio) on the same nbdkit memory export, filled with data first: 4k
# randread/randwrite QD32 and 128k sequential read QD8. vha's path is
# vha-frontend (sim domain) -> ring -> vha-backend worker -> per-queue nbd
# I/O thread -> libnbd -> nbdkit; fio's is fio -> libnbd -> nbdkit. Prints a
# table with the ratio; never fails for being slow. Run by `make bench`
# (tools/bench.sh) or alone: tools/bench-nbd.sh [RUNTIME_SECONDS].
set -u
B=${VHA_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
RUNTIME=${1:-${BENCH_RUNTIME:-5}}
SIZE=512m
for tool in fio nbdkit; do
	command -v $tool >/dev/null || { echo "bench-nbd: $tool is missing: skipped"; exit 0; }
done
fio --enghelp 2>/dev/null | grep -qw nbd || { echo "bench-nbd: this fio has no nbd engine: skipped"; exit 0; }

SIM=$(mktemp -d /tmp/vha-bench-nbd-XXXXXX)
export VHA_PLATFORM=sim VHA_SIM_DIR=$SIM
NBDKIT=
cleanup() {
	[ -n "$NBDKIT" ] && kill "$NBDKIT" 2>/dev/null
	"$B/vhactl" sim stop >/dev/null 2>&1
	rm -rf "$SIM"
}
trap cleanup EXIT
"$B/vhactl" sim start >/dev/null || exit 1
"$B/vha-backend" --log-level warn || exit 1
"$B/vhactl" sim create-domain 1 >/dev/null || exit 1

SOCK=$SIM/nbd.sock
URI="nbd+unix:///?socket=$SOCK"
nbdkit -f --unix "$SOCK" memory "$SIZE" >"$SIM/nbdkit.log" 2>&1 &
NBDKIT=$!
for _ in $(seq 1 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
# Data everywhere first: an unwritten memory export reads zeroes without storing anything.
fio --name=fill --ioengine=nbd --uri="$URI" --rw=write --bs=1m --size="$SIZE" >/dev/null 2>&1 ||
	{ echo "bench-nbd: cannot fill the export"; exit 1; }
"$B/vhactl" attach --frontend-domid 1 --target "nbd:unix:$SOCK" >/dev/null || exit 1

json_num() { sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p" | head -1; }
fio_run() {     # rw bs qd -> "iops p50_us"
	local key=read
	[ "${1#rand}" = write ] && key=write
	fio --name=nbd --ioengine=nbd --uri="$URI" --rw="$1" --bs="$2" --iodepth="$3" --size="$SIZE" \
		--runtime="$RUNTIME" --time_based --output-format=json 2>/dev/null | sed -n '/^{/,$p' |
		python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0][sys.argv[1]]
print("%.0f %.1f" % (j["iops"], j["clat_ns"]["percentile"]["50.000000"] / 1000))' "$key" 2>/dev/null
}

echo "nbd engine: vha (nbd:unix:, 1 queue) vs fio ioengine=nbd, the same nbdkit memory export ($SIZE, filled), ${RUNTIME}s per job"
printf '%-18s | %10s %9s | %10s %9s | %6s\n' job "vha IOPS" "p50 us" "fio IOPS" "p50 us" ratio
printf -- '-%.0s' $(seq 72); echo
for spec in "randread 4k 32" "randwrite 4k 32" "read 128k 8"; do
	set -- $spec
	v=$("$B/vha-frontend" --domid 1 bench --rw "$1" --bs "$2" --iodepth "$3" --runtime "$RUNTIME" --json)
	iops=$(echo "$v" | json_num iops); p50=$(echo "$v" | json_num lat_p50_us)
	read -r fiops fp50 < <(fio_run "$1" "$2" "$3")
	ratio=$(awk -v v="${iops:-0}" -v b="${fiops:-0}" 'BEGIN { if (b > 0) printf "%.2f", v / b; else print "n/a" }')
	printf '%-18s | %10.0f %9s | %10.0f %9s | %6s\n' "$1 $2 qd$3" "${iops:-0}" "${p50:-?}" "${fiops:-0}" \
		"${fp50:-?}" "$ratio"
done
echo "ratio = vha IOPS / fio nbd IOPS. fio calls libnbd from its own thread; vha adds the ring, the grants,"
echo "the worker and an I/O thread hop each way. nbdkit, fio, vha-frontend and vha-backend share the machine."
