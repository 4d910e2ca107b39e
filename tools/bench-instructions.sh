#!/bin/bash
# SPDX-License-Identifier: MIT
# `make bench-instructions` (and the last table of `make bench`): what a
# request costs vha-backend in instructions, a metric that does not move
# with the machine's load the way wall-clock numbers do (±15% here).
#
# vha-backend runs under valgrind's callgrind and serves a null: target
# (no storage cost: the protocol, grants and queue alone). For each job,
# after a warm-up, the counters are zeroed (callgrind_control -z), the
# frontend runs the job, and the instructions of every backend thread are
# divided by the requests the backend answered in that window (its
# stats.json totals before and after). The frontend is not counted. The
# busiest functions of the last job follow (callgrind_annotate).
#
# A benchmark: it reports, it never fails for being slow. Exit 77 when
# valgrind is missing.
#
# Environment: BENCH_IPR_RUNTIME (seconds per job, default 5),
# BENCH_IPR_TARGET (instructions per 4k request the table compares to,
# default 8000).
set -u
cd "$(dirname "$0")/.."
B="$PWD/${BUILD:-build}"
RUNTIME=${BENCH_IPR_RUNTIME:-5}
TARGET=${BENCH_IPR_TARGET:-8000}
scripts/install-deps.sh --valgrind >/dev/null || exit 1
for t in valgrind callgrind_control callgrind_annotate python3; do
	command -v $t >/dev/null || { echo "skip: $t is not installed (apt-get install valgrind python3)"; exit 77; }
done
for b in vha-backend vha-frontend vhactl vha-simxenstored; do
	[ -x "$B/$b" ] || { echo "bench-instructions: $B/$b is not built (make)"; exit 1; }
done

# valgrind cannot run a binary built with ASan or TSan (make check SANITIZE=1 builds those).
if ldd "$B/vha-backend" 2>/dev/null | grep -Eq 'lib(asan|tsan|ubsan)'; then
	echo "skip: $B/vha-backend is built with a sanitizer, which valgrind cannot run (use a plain build)"
	exit 77
fi

SIM=$(mktemp -d /tmp/vha-ipr-XXXXXX)
export VHA_PLATFORM=sim VHA_SIM_DIR=$SIM
vg=""
cleanup() {
	[ -n "$vg" ] && kill "$vg" 2>/dev/null && wait "$vg" 2>/dev/null
	"$B/vhactl" sim stop >/dev/null 2>&1
	rm -rf "$SIM"
}
trap cleanup EXIT

"$B/vhactl" sim start >/dev/null || exit 1
# callgrind_control finds the process through files in its working directory.
(cd "$SIM" && exec valgrind --tool=callgrind --callgrind-out-file="$SIM/cg.%p" -q \
	"$B/vha-backend" --foreground --log-level warn) >"$SIM/backend.log" 2>&1 &
vg=$!
for _ in $(seq 300); do [ -f "$SIM/run/backend-0/pid" ] && break; sleep 0.1; done
[ -f "$SIM/run/backend-0/pid" ] || { cat "$SIM/backend.log"; echo "bench-instructions: vha-backend did not start"; exit 1; }
"$B/vhactl" sim create-domain 1 >/dev/null || exit 1
"$B/vhactl" attach --frontend-domid 1 --target null:1g >/dev/null || exit 1

answered() {
	kill -USR1 "$(cat "$SIM/run/backend-0/pid")"
	sleep 1.5       # stats.json is rewritten at once; under valgrind that takes a moment
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(sum(x["totals"]["requests"] for x in d["devices"]))' \
		"$SIM/run/backend-0/stats.json"
}

# Instructions of the string functions (memset, memcpy, memmove) in a dump. callgrind counts a
# "rep stos/movs" once per iteration, so zero-filling a 4 KiB page (the null engine's read) counts
# about 4096: reported apart from the protocol's own instructions.
string_ir() {
	callgrind_annotate --auto=no --threshold=100 "$1" 2>/dev/null |
		awk '/:__(memset|memcpy|memmove|mempcpy)[a-z0-9_]*( |$)/ { gsub(",", "", $1); n += $1 } END { print n + 0 }'
}

printf '\nvha-backend instructions per request (callgrind; null target, persistent grants, zero-copy frontend)\n'
printf '%-18s %9s %13s %12s %14s %12s\n' job requests instructions per-request "mem* per req" "protocol/req"
n=0
per4k=""
for j in "randread 4k 32" "randwrite 4k 32" "read 128k 8"; do
	set -- $j
	fe=("$B/vha-frontend" --domid 1 bench --rw "$1" --bs "$2" --iodepth "$3" --zero-copy)
	"${fe[@]}" --runtime 1 >/dev/null 2>&1        # warm-up: connect, fill the grant cache
	r0=$(answered)
	callgrind_control -z "$vg" >/dev/null 2>&1 || { echo "bench-instructions: callgrind_control -z failed"; exit 1; }
	"${fe[@]}" --runtime "$RUNTIME" >/dev/null 2>&1 || { echo "bench-instructions: $j failed"; exit 1; }
	r1=$(answered)
	n=$((n + 1))
	callgrind_control -d "job$n" "$vg" >/dev/null 2>&1
	dump=$(ls -t "$SIM"/cg.*.* 2>/dev/null | head -1)
	ir=$(sed -n 's/^summary: *//p' "$dump")
	reqs=$((r1 - r0))
	if [ -z "$ir" ] || [ "$reqs" -le 0 ]; then
		echo "bench-instructions: no count for $j (dump '$dump', requests $r0 -> $r1)"
		exit 1
	fi
	str=$(string_ir "$dump")
	printf '%-18s %9d %13d %12d %14d %12d\n' "$1 $2 QD$3" "$reqs" "$ir" $((ir / reqs)) $((str / reqs)) \
		$(((ir - str) / reqs))
	[ "$2" = 4k ] && per4k="$per4k $(((ir - str) / reqs))"
	last=$dump
done
echo "target for a 4k request's protocol instructions: $TARGET; measured:$per4k"
printf '\nvha-backend'"'"'s own busiest functions in the last job (self instructions, share of all):\n'
callgrind_annotate --auto=no --threshold=100 "$last" 2>/dev/null | grep -E '^ *[0-9,]+ +\( *[0-9.]+%\) +(backend|common)/' | head -10
