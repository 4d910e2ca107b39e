#!/bin/bash
# SPDX-License-Identifier: MIT
# Sixteen guests each asking for the maximum of everything (16 queues, ring
# order 4, 256 indirect segments, persistent grants over distinct pages, 1 MiB
# requests at depth 64) beside one ordinary guest. The backend's budgets
# hold: no device gets more than half of what was left when it connected,
# what all devices reserved stays within each total, greedy guests past the
# totals are offered less or refused with an error node, the ordinary guest
# connects and verifies, and the backend's peak RSS stays within the
# configured memory and grant totals (mapped guest pages count in RSS on the
# sim). RSS is printed but not judged under ASan, whose allocator moves it.
# vha-test-timeout: 300
. "$(dirname "$0")/lib.sh"
GREEDY=${VHA_GREEDY_GUESTS:-16}
MEM_MIB=96
GRANTS=61440
start_sim --max-queues 16 --max-ring-order 4 --total-memory ${MEM_MIB}m --total-grants $GRANTS
STATS=$SIM/run/backend-0/stats.json
rss_kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
base=$(rss_kib "$BACKEND_PID" VmRSS)

for d in $(seq 1 $((GREEDY + 1))); do
	"$B/vhactl" sim create-domain $d >/dev/null || fail "create domain $d"
	img=$(make_image disk$d.img 16)
	"$B/vhactl" attach --frontend-domid $d --target "$img" >/dev/null || fail "attach $d"
done
normal=$((GREEDY + 1))

pids=()
for d in $(seq 1 "$GREEDY"); do
	"$B/vha-frontend" --domid $d --queues 16 --ring-order 4 bench --rw randrw --bs 1m --iodepth 64 \
		--runtime 8 >"$SIM/greedy$d.log" 2>&1 &
	pids+=($!)
done
sleep 3
kill -USR1 "$BACKEND_PID"; sleep 0.5
cp "$STATS" "$SIM/stats-busy.json"

note "the ordinary guest connects and verifies beside them"
"$B/vha-frontend" --domid $normal verify --random 300 --seed 7 --shadow "$SIM/shadow" >"$SIM/normal.log" 2>&1 ||
	{ cat "$SIM/normal.log"; fail "the ordinary guest's verify failed"; }
cat "$SIM/normal.log"
cmp "$SIM/disk$normal.img" "$SIM/shadow" || fail "the ordinary guest's disk differs from its shadow"

connected=0 refused=0
for i in "${!pids[@]}"; do
	d=$((i + 1))
	if wait "${pids[$i]}"; then
		connected=$((connected + 1))
	else
		# The frontend clears the error node when it gives up; the log keeps it.
		if grep -q "device $d/51712: [a-z_]* budget exhausted" "$SIM/run/backend-0/log"; then
			refused=$((refused + 1))
		else
			cat "$SIM/greedy$d.log"; fail "greedy guest $d failed without a budget error"
		fi
	fi
done
backend_alive || fail "backend died"
echo "greedy guests: $connected ran their benchmark, $refused were refused by a budget"
[ "$connected" -ge 1 ] || fail "no greedy guest connected at all"

python3 - "$SIM/stats-busy.json" "$MEM_MIB" "$GRANTS" <<'EOF' || fail "budgets not kept (above)"
import json, sys
s = json.load(open(sys.argv[1]))
mem_total, grant_total = int(sys.argv[2]) << 20, int(sys.argv[3])
b = s["budgets"]
assert b["memory_bytes"]["total"] == mem_total and b["grants"]["total"] == grant_total, b
for kind, v in b.items():
    print(f"budget {kind}: {v['reserved']} reserved of {v['total']}")
    assert v["reserved"] <= v["total"], kind
devs = [d for d in s["devices"] if d["connected"]]
assert sum(d["memory_budget"] for d in devs) == b["memory_bytes"]["reserved"]
assert sum(d["grant_budget"] for d in devs) == b["grants"]["reserved"]
greedy = [d for d in devs if len(d["queues"]) == 16]
print("greedy devices connected:", len(greedy), "memory budgets (MiB):",
      sorted(round(d["memory_budget"] / 2**20, 1) for d in greedy))
for d in devs:
    for q in d["queues"]:
        assert q["grant_cache"]["size"] <= q["grant_cache"]["capacity"], q
        assert q["grants_mapped"] <= q["map_budget"], q
        assert q["copy_bytes"] <= q["copy_budget"], q
EOF

peak=$(rss_kib "$BACKEND_PID" VmHWM)
limit=$(( (MEM_MIB << 10) + GRANTS * 4 + 32768 ))
echo "backend RSS: $base KiB at start, peak $peak KiB; budget: ${MEM_MIB} MiB memory + $GRANTS grants x 4 KiB + 32 MiB for threads and libc = $limit KiB over the start"
if [ "${SANITIZE:-}" = "" ] || [ "${SANITIZE:-}" = 0 ]; then
	[ $((peak - base)) -le "$limit" ] || fail "backend grew by $((peak - base)) KiB, over its budget of $limit KiB"
else
	echo "(SANITIZE=$SANITIZE: RSS printed, not judged)"
fi
echo "PASS"
