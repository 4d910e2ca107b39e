#!/bin/bash
# SPDX-License-Identifier: MIT
# `make bench-report`: measures, then writes docs/performance.md and its PNG
# plots (docs/img/perf-*.png, gnuplot) for the repository to keep:
#  1. 4k randread IOPS against iodepth 1..128 on one data-filled file (O_DIRECT):
#     raw io_uring (fio), vha sim with default buffers, vha with zero-copy pool
#     buffers, and vha on the null target (the protocol alone);
#  2. the latency at QD1 (p50, p99, p99.9) of the same four;
#  3. the real-Xen side by side (kernel blkback, vha-backend, QEMU qdisk) with
#     guest CPU per I/O, from the last `make check-xen` case-6 table in this
#     tree (build/xen/case6.txt), when there is one.
# Each figure names the machine, the date and the commit. A benchmark: it
# reports and never fails for being slow.
#
# Environment: BENCH_RUNTIME (s per point, default 3), BENCH_SIZE_MB (default
# 512), BENCH_DIR (default /tmp: must allow O_DIRECT), BENCH_REPORT_OUT (the
# markdown file, default docs/performance.md; its plots go to docs/img/ beside
# it, or next to it when it is elsewhere).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
B="$PWD/${BUILD:-build}"
RUNTIME=${BENCH_RUNTIME:-3}
SIZE_MB=${BENCH_SIZE_MB:-512}
OUT=${BENCH_REPORT_OUT:-docs/performance.md}
case "$OUT" in /*) ;; *) OUT="$ROOT/$OUT" ;; esac
if [ "$OUT" = "$ROOT/docs/performance.md" ]; then IMG_DIR="$ROOT/docs/img"; IMG_REL=img; else IMG_DIR=$(dirname "$OUT"); IMG_REL=.; fi
scripts/install-deps.sh --plots >/dev/null || exit 1
for t in fio gnuplot python3; do command -v $t >/dev/null || { echo "bench-report: $t is missing"; exit 1; }; done
for b in vha-backend vha-frontend vhactl vha-simxenstored; do
	[ -x "$B/$b" ] || { echo "bench-report: $B/$b is not built (make)"; exit 1; }
done

SIM=$(mktemp -d "${BENCH_DIR:-/tmp}/vha-report-XXXXXX")
export VHA_PLATFORM=sim VHA_SIM_DIR="$SIM"
cleanup() { "$B/vhactl" sim stop >/dev/null 2>&1; rm -rf "$SIM"; }
trap cleanup EXIT
IMG="$SIM/bench.img"
echo "bench-report: writing ${SIZE_MB} MiB of data to $IMG"
dd if=/dev/urandom of="$IMG" bs=1M count="$SIZE_MB" oflag=direct status=none || exit 1
"$B/vhactl" sim start >/dev/null || exit 1
"$B/vha-backend" --log-level warn || exit 1
"$B/vhactl" sim create-domain 1 >/dev/null || exit 1
"$B/vhactl" attach --frontend-domid 1 --target "$IMG" >/dev/null || exit 1
"$B/vhactl" attach --frontend-domid 1 --devid 51728 --target null:${SIZE_MB}m >/dev/null || exit 1

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && COMMIT="$COMMIT+changes"
DATE=$(date -u +%Y-%m-%d)
CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
MACHINE="$(nproc) CPUs ($CPU), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r)"
STAMP="$MACHINE; $DATE; commit $COMMIT"

# fio io_uring on the file: "iops p50 p99 p999" (µs).
fio_point() {
	fio --name=base --filename="$IMG" --ioengine=io_uring --direct=1 --rw=randread --bs=4k --iodepth="$1" \
		--runtime="$RUNTIME" --time_based --size="${SIZE_MB}M" --randrepeat=0 --output-format=json 2>/dev/null |
		python3 -c '
import json, sys
r = json.load(sys.stdin)["jobs"][0]["read"]
p = r["clat_ns"]["percentile"]
print("%.0f %.1f %.1f %.1f" % (r["iops"], p["50.000000"] / 1e3, p["99.000000"] / 1e3, p["99.900000"] / 1e3))'
}
# vha-frontend bench: DEVID QD [options...] -> "iops p50 p99 p999" (µs).
vha_point() {
	local devid=$1 qd=$2; shift 2
	"$B/vha-frontend" --domid 1 --devid "$devid" "$@" bench --rw randread --bs 4k --iodepth "$qd" \
		--runtime "$RUNTIME" --json 2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)
print("%.0f %.1f %.1f %.1f" % (j["iops"], j["lat_p50_us"], j["lat_p99_us"], j["lat_p999_us"]))'
}

DAT="$SIM/iodepth.dat"
echo "# qd fio_iops vha_iops vha_zc_iops null_iops" >"$DAT"
declare -A QD1
echo "bench-report: 4k randread, ${RUNTIME} s per point"
printf '%6s %12s %12s %12s %12s\n' iodepth "io_uring" "vha" "vha 0-copy" "vha null"
for qd in 1 2 4 8 16 32 64 128; do
	f=$(fio_point $qd); v=$(vha_point 51712 $qd); z=$(vha_point 51712 $qd --zero-copy); n=$(vha_point 51728 $qd --zero-copy)
	[ -n "$f" ] && [ -n "$v" ] && [ -n "$z" ] && [ -n "$n" ] || { echo "bench-report: a run at iodepth $qd failed"; exit 1; }
	if [ $qd = 1 ]; then QD1[fio]=$f; QD1[vha]=$v; QD1[zc]=$z; QD1[null]=$n; fi
	echo "$qd ${f%% *} ${v%% *} ${z%% *} ${n%% *}" >>"$DAT"
	printf '%6s %12s %12s %12s %12s\n' $qd ${f%% *} ${v%% *} ${z%% *} ${n%% *}
done

LAT="$SIM/qd1.dat"
{
	echo "# name p50 p99 p999"
	for k in fio vha zc null; do
		set -- ${QD1[$k]}
		case $k in fio) name='"io_uring (fio)"' ;; vha) name='"vha"' ;; zc) name='"vha zero-copy"' ;; null) name='"vha null target"' ;; esac
		echo "$name $2 $3 $4"
	done
} >"$LAT"

mkdir -p "$IMG_DIR"
gnuplot <<EOF || { echo "bench-report: gnuplot failed"; exit 1; }
set terminal pngcairo size 900,560 font "sans,10"
set output "$IMG_DIR/perf-iodepth.png"
set title "4k randread IOPS against iodepth (sim platform, one file, O\\\_DIRECT)\n{/*0.8 $STAMP}"
set logscale x 2
set xlabel "iodepth"
set ylabel "IOPS"
set key top left
set grid
plot "$DAT" using 1:2 with linespoints title "io\\\_uring (fio), the baseline", \
     "" using 1:3 with linespoints title "vha (default buffers)", \
     "" using 1:4 with linespoints title "vha (zero-copy pool buffers)", \
     "" using 1:5 with linespoints title "vha on the null target (protocol alone)"
set output "$IMG_DIR/perf-qd1-latency.png"
set xtics noenhanced
set title "4k randread latency at QD1 (µs)\n{/*0.8 $STAMP}"
unset logscale x
set logscale y
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xlabel ""
set ylabel "µs (log scale)"
set key top left
plot "$LAT" using 2:xtic(1) title "p50", "" using 3 title "p99", "" using 4 title "p99.9"
EOF

XEN_TABLE="$B/xen/case6.txt"
have_xen=0
if [ -s "$XEN_TABLE" ]; then
	have_xen=1
	XDAT="$SIM/xen.dat"
	# job backend... IOPS MB/s ratio CPU% us/IO [more columns] -> one row per job: blkback vha qdisk
	# IOPS, then guest CPU us/IO.
	python3 - "$XEN_TABLE" "$XDAT" <<'PY'
import sys
def number(s):
    try:
        float(s)
        return True
    except ValueError:
        return False
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) < 7 or f[0] in ("job", "#"):
        continue
    i = 1
    while i < len(f) and not number(f[i]):
        i += 1
    if len(f) - i < 5:
        continue
    job, backend = f[0], " ".join(f[1:i])
    rows.setdefault(job, {})[backend] = (f[i], f[i + 4])
with open(sys.argv[2], "w") as out:
    for job, b in rows.items():
        get = lambda name, i: b.get(name, ("0", "0"))[i]
        out.write("%s %s %s %s %s %s %s\n" % (job, get("kernel blkback", 0), get("vha-backend", 0),
                  get("QEMU qdisk", 0), get("kernel blkback", 1), get("vha-backend", 1), get("QEMU qdisk", 1)))
PY
	# A first line "# ..." says where the table comes from (commit, date, conditions).
	XSTAMP=$(sed -n '1s/^# *//p' "$XEN_TABLE")
	XSTAMP="${XSTAMP:-$(stat -c %y "$XEN_TABLE" | cut -d' ' -f1)}; Xen 4.17 under QEMU/TCG on this machine"
	gnuplot <<EOF || { echo "bench-report: gnuplot failed"; exit 1; }
set terminal pngcairo size 900,560 font "sans,10"
set output "$IMG_DIR/perf-xen.png"
set style data histograms
set xtics noenhanced font ",8"
set yrange [0:*]
set grid ytics
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set multiplot layout 1,2 title "Real Xen: guest fio per backend (the stock blkfront in the guest)\n{/*0.8 $XSTAMP}"
set title "IOPS"
set ylabel "IOPS"
set key top right font ",8"
plot "$XDAT" using 2:xtic(1) title "kernel blkback", "" using 3 title "vha-backend", "" using 4 title "QEMU qdisk"
set title "guest CPU per I/O (lower is better)"
set ylabel "guest CPU µs per I/O"
plot "$XDAT" using 5:xtic(1) title "kernel blkback", "" using 6 title "vha-backend", "" using 7 title "QEMU qdisk"
unset multiplot
EOF
fi

{
	echo "# Performance"
	echo
	echo "Written by \`make bench-report\` (\`tools/bench-report.sh\`) on $DATE at commit $COMMIT."
	echo "Machine: $MACHINE. Numbers move by about ±15 % between runs here; the instruction counts of"
	echo "\`make bench-instructions\` do not."
	echo
	echo "## IOPS against iodepth (sim platform)"
	echo
	echo "4k random reads of one ${SIZE_MB} MiB data-filled file with O_DIRECT, ${RUNTIME} s per point: fio's"
	echo "io_uring engine on the file (the baseline), and vha-frontend → grant-shared ring → vha-backend on"
	echo "the same file, with default buffers and with zero-copy pool buffers, and on the null target."
	echo
	echo "![IOPS against iodepth]($IMG_REL/perf-iodepth.png)"
	echo
	echo "| iodepth | io_uring (fio) | vha | vha zero-copy | vha null target | vha / io_uring |"
	echo "|---|---|---|---|---|---|"
	grep -v '^#' "$DAT" | while read -r qd f v z n; do
		echo "| $qd | $f | $v | $z | $n | $(awk -v a="$v" -v b="$f" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }') |"
	done
	echo
	echo "## Latency at QD1"
	echo
	echo "![latency at QD1]($IMG_REL/perf-qd1-latency.png)"
	echo
	echo "| | p50 µs | p99 µs | p99.9 µs |"
	echo "|---|---|---|---|"
	grep -v '^#' "$LAT" | sed 's/\\_/_/g' | while read -r line; do
		name=${line%\"*}; name=${name#\"}; set -- ${line##*\"}
		echo "| $name | $1 | $2 | $3 |"
	done
	echo
	echo "## Real Xen"
	echo
	if [ $have_xen = 1 ]; then
		echo "Case 6 of \`make check-xen\` (guest fio, libaio, direct=1; the stock Linux blkfront in the guest,"
		echo "each backend in turn in dom0), from \`$(realpath --relative-to="$ROOT" "$XEN_TABLE")\` of $(stat -c %y "$XEN_TABLE" | cut -d' ' -f1)."
		echo "Under TCG the guest's vCPU is the limit, so guest CPU per I/O is the number to watch."
		echo
		echo "![real Xen]($IMG_REL/perf-xen.png)"
		echo
		echo '```'
		cat "$XEN_TABLE"
		echo '```'
	else
		echo "No \`make check-xen\` case-6 table in this tree ($XEN_TABLE): run \`make check-xen\`, then"
		echo "\`make bench-report\` again, to add the real-Xen bars."
	fi
} >"$OUT"
echo "bench-report: wrote $OUT and its plots in $IMG_DIR"
