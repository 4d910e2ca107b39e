#!/bin/bash
# SPDX-License-Identifier: MIT
# fio through libvhafront (ioengine=external:libvha-fio.so, frontend/fio/)
# against vha-frontend bench, on the same sim device, same jobs: both are
# userspace frontends over the same library, so the ratio is what fio's
# own machinery costs (or saves) over vha-frontend's loop. Prints a table;
# never fails for being slow; skipped when the engine is not built (make
# fio-engine). Run by `make bench` (tools/bench.sh, on its data-filled
# file) or alone: tools/bench-fio-engine.sh [RUNTIME_SECONDS] (then on a
# sim of its own with a 256 MiB file of random data).
set -u
B=${VHA_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
RUNTIME=${1:-${BENCH_RUNTIME:-5}}
ENGINE=$B/libvha-fio.so
command -v fio >/dev/null || { echo "bench-fio-engine: fio is missing: skipped"; exit 0; }
[ -f "$ENGINE" ] || { echo "bench-fio-engine: $ENGINE is not built (make fio-engine): skipped"; exit 0; }

# bench.sh hands over its sim (domain 1, its file on xvda); alone, a sim of our own.
if [ "${BENCH_FIO_ENGINE_SIM:-}" != 1 ]; then
	SIM=$(mktemp -d "${BENCH_DIR:-/tmp}/vha-bench-fio-XXXXXX")
	export VHA_PLATFORM=sim VHA_SIM_DIR=$SIM
	trap '"$B/vhactl" sim stop >/dev/null 2>&1; rm -rf "$SIM"' EXIT
	dd if=/dev/urandom of="$SIM/bench.img" bs=1M count=256 oflag=direct status=none || exit 1
	"$B/vhactl" sim start >/dev/null || exit 1
	"$B/vha-backend" --log-level warn || exit 1
	"$B/vhactl" sim create-domain 1 >/dev/null || exit 1
	"$B/vhactl" attach --frontend-domid 1 --target "$SIM/bench.img" >/dev/null || exit 1
fi

json_num() { sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p" | head -1; }
# fio_engine_run rw bs qd [engine options] -> "iops p50_us"
fio_engine_run() {
	local rw=$1 bs=$2 qd=$3 key=read; shift 3
	[ "${rw#rand}" = write ] && key=write
	fio --name=vha --ioengine="external:$ENGINE" --sim_domid=1 "$@" --rw="$rw" --bs="$bs" --iodepth="$qd" \
		--runtime="$RUNTIME" --time_based --randrepeat=0 --output-format=json 2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0][sys.argv[1]]
print("%.0f %.1f" % (j["iops"], j["clat_ns"]["percentile"]["50.000000"] / 1000))' "$key" 2>/dev/null
}

echo "fio engine: fio --ioengine=external:libvha-fio.so vs vha-frontend bench, the same sim device, ${RUNTIME}s per job"
printf '%-28s | %10s %9s | %10s %9s | %6s\n' job "vha-fe IOPS" "p50 us" "fio IOPS" "p50 us" ratio
printf -- '-%.0s' $(seq 82); echo
for spec in "randread 4k 32" "randwrite 4k 32" "read 128k 8" "randread 4k 32 zero-copy"; do
	set -- $spec
	rw=$1 bs=$2 qd=$3 fe_opts=() fio_opts=()
	if [ "${4:-}" = zero-copy ]; then fe_opts=(--zero-copy); fio_opts=(--zero_copy=1); fi
	v=$("$B/vha-frontend" --domid 1 bench --rw "$rw" --bs "$bs" --iodepth "$qd" --runtime "$RUNTIME" --json "${fe_opts[@]}")
	iops=$(echo "$v" | json_num iops); p50=$(echo "$v" | json_num lat_p50_us)
	read -r fiops fp50 < <(fio_engine_run "$rw" "$bs" "$qd" "${fio_opts[@]}")
	ratio=$(awk -v v="${fiops:-0}" -v b="${iops:-0}" 'BEGIN { if (b > 0) printf "%.2f", v / b; else print "n/a" }')
	printf '%-28s | %10.0f %9s | %10.0f %9s | %6s\n' "$rw $bs qd$qd ${4:-}" "${iops:-0}" "${p50:-?}" "${fiops:-0}" \
		"${fp50:-?}" "$ratio"
done
echo "ratio = fio engine IOPS / vha-frontend bench IOPS (1 queue, 1-page ring, bounce buffers unless zero-copy)."
