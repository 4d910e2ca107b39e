#!/bin/bash
# SPDX-License-Identifier: MIT
# `make bench-fairness`: how much a normal guest keeps of its own throughput
# when it shares vha-backend with a greedy guest (4 queues, ring order 4,
# 1 MiB requests at depth 512) and a storming guest (events with no
# requests in a tight loop, vha-hostile's storm), each alone and both
# together, on the sim platform. Prints the normal guest's IOPS in each
# setting as a ratio to its solo run (the goal is >= 0.8), and what the
# storming guest cost the backend (its wasted events, in the backend's
# stats). A benchmark: it reports and never fails for a low ratio; it
# exits non-zero only if something could not run.
#
# On the sim every guest's frontend is a process on the same CPUs as the
# backend; on Xen each guest has vCPUs of its own. So that the neighbours'
# frontends do not simply take the normal guest's CPU (a storming frontend
# spins a CPU by itself), the normal guest's frontend runs on CPU 0 and the
# neighbours' on the last CPU (taskset; the backend is not pinned). With two
# CPUs the backend still shares them with everyone: read the ratios as a
# lower bound of what the backend alone costs a guest.
#
# Environment: BENCH_RUNTIME (s per measurement, default 10), BENCH_SIZE_MB
# (per disk, default 256), BENCH_DIR (default /tmp: must allow O_DIRECT),
# BENCH_BACKEND_OPTS (extra vha-backend options, e.g. --device-inflight-bytes 0).
set -u
cd "$(dirname "$0")/.."
B="$PWD/${BUILD:-build}"
RUNTIME=${BENCH_RUNTIME:-10}
SIZE_MB=${BENCH_SIZE_MB:-256}
HOSTILE=$B/tests/xen/vha-hostile
for bin in vhactl vha-backend vha-frontend; do
	[ -x "$B/$bin" ] || { echo "bench-fairness: $B/$bin is not built (make)"; exit 1; }
done
[ -x "$HOSTILE" ] || { echo "bench-fairness: $HOSTILE is not built (make)"; exit 1; }

SIM=$(mktemp -d "${BENCH_DIR:-/tmp}/vha-fairness-XXXXXX")
export VHA_PLATFORM=sim VHA_SIM_DIR="$SIM"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	"$B/vhactl" sim stop >/dev/null 2>&1
	rm -rf "$SIM"
}
trap cleanup EXIT

"$B/vhactl" sim start >/dev/null || exit 1
"$B/vha-backend" --log-level warn ${BENCH_BACKEND_OPTS:-} || exit 1
STATS=$SIM/run/backend-0/stats.json
BPID=$(cat "$SIM/run/backend-0/pid")
# Domain 1: the normal guest; 2: greedy; 3: storming. Real data on each disk.
for d in 1 2 3; do
	"$B/vhactl" sim create-domain $d >/dev/null || exit 1
	dd if=/dev/urandom of="$SIM/disk$d.img" bs=1M count="$SIZE_MB" oflag=direct status=none || exit 1
	"$B/vhactl" attach --frontend-domid $d --target "$SIM/disk$d.img" >/dev/null || exit 1
done

json_num() { sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p" | head -1; }
LAST_CPU=$(($(nproc) - 1))
PIN_NORMAL=() PIN_OTHERS=()
if command -v taskset >/dev/null && [ "$LAST_CPU" -ge 1 ]; then
	PIN_NORMAL=(taskset -c 0) PIN_OTHERS=(taskset -c "$LAST_CPU")
fi
normal() { "${PIN_NORMAL[@]}" "$B/vha-frontend" --domid 1 bench --rw "$1" --bs 4k --iodepth 16 --runtime "$RUNTIME" --json | json_num iops; }
greedy() {
	"${PIN_OTHERS[@]}" "$B/vha-frontend" --domid 2 --queues 4 --ring-order 4 bench --rw randrw --bs 1m --iodepth 512 \
		--runtime "$NEIGHBOUR_S" --json >"$SIM/greedy.json" 2>"$SIM/greedy.err" &
	pids+=($!)
}
storm() {
	"${PIN_OTHERS[@]}" "$HOSTILE" --domid 3 --phases storm --storm-secs "$NEIGHBOUR_S" run >"$SIM/storm.log" 2>&1 &
	pids+=($!)
}
# The storming device's counters (summed over its queues) from a fresh stats.json.
storm_stat() {
	kill -USR1 "$BPID"; sleep 0.3
	awk -v k="\"$1\": " '/^ *\{"frontend": / {on = index($0, "\"frontend\": 3,") > 0}
		on && /"queue":/ {i = index($0, k); if (i) {s += substr($0, i + length(k)) + 0}} END {print s + 0}' "$STATS"
}
settle() { sleep 2; }
finish() { for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done; pids=(); }

jobs=(randread randwrite)
# Neighbours outlast every measurement beside them (settle, the jobs, reading the stats).
NEIGHBOUR_S=$((${#jobs[@]} * (RUNTIME + 1) + 4))
declare -A R
for j in "${jobs[@]}"; do R[solo,$j]=$(normal "$j"); done
greedy; settle
for j in "${jobs[@]}"; do R[greedy,$j]=$(normal "$j"); done
finish
# The storming device's counters are its connection's: read them while it storms.
storm; settle
for j in "${jobs[@]}"; do R[storm,$j]=$(normal "$j"); done
spurious1=$(storm_stat events_spurious) delayed1=$(storm_stat events_delayed) received1=$(storm_stat events_received)
finish
greedy; storm; settle
for j in "${jobs[@]}"; do R[both,$j]=$(normal "$j"); done
spurious2=$(storm_stat events_spurious) delayed2=$(storm_stat events_delayed) received2=$(storm_stat events_received)
finish

ratio() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
printf '\n%-34s | %-22s | %-22s\n' "normal guest (4k, QD16) beside" "randread IOPS (ratio)" "randwrite IOPS (ratio)"
printf -- '-%.0s' $(seq 84); echo
for s in solo greedy storm both; do
	case $s in
	solo) name="nobody (solo)" ;;
	greedy) name="greedy (1 MiB, QD512, 4 queues)" ;;
	storm) name="storming (events, no requests)" ;;
	both) name="greedy and storming" ;;
	esac
	printf '%-34s' "$name"
	for j in "${jobs[@]}"; do printf ' | %10.0f (%6s)    ' "${R[$s,$j]:-0}" "$(ratio "${R[$s,$j]}" "${R[solo,$j]}")"; done
	echo
done
echo
echo "goal: ratio >= 0.8 beside each neighbour. ${RUNTIME} s per measurement, $(nproc) CPUs shared by the backend and"
echo "every guest's frontend (sim), disks on $(df --output=fstype "$SIM" | tail -1) with O_DIRECT."
echo "storming guest: $(grep -o 'storm: [0-9]* events[^,]*' "$SIM/storm.log" | tail -1)"
echo "storming guest in the backend's stats (its connection so far): alone, events_received $received1," \
	"events_spurious $spurious1, events_delayed $delayed1; beside the greedy guest, $received2, $spurious2, $delayed2"
[ ${#PIN_NORMAL[@]} -gt 0 ] && echo "frontends pinned: the normal guest's to CPU 0, the neighbours' to CPU $LAST_CPU; vha-backend not pinned"
echo "greedy guest: $(json_num iops <"$SIM/greedy.json" | awk '{printf "%.0f IOPS of 1 MiB", $1}') in its last run"
kill -0 "$BPID" 2>/dev/null || { echo "bench-fairness: vha-backend died"; exit 1; }
