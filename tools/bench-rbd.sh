#!/bin/bash
# SPDX-License-Identifier: MIT
# vha over the rbd engine against fio's own rbd engine (ioengine=rbd: librbd
# in fio's process, no ring, no grants) on the SAME throwaway 1-node Ceph
# cluster (tests/lib/ceph-mini.sh: memstore, 127.0.0.1) and the SAME
# data-filled image, in one invocation: 4k randread QD32, 4k randwrite QD32,
# 128k read QD8. Prints IOPS and the ratio vha / fio. A benchmark: it reports
# and never fails for being slow; it exits non-zero only if something could
# not run (77 when Ceph is not installed).
#
# Cache: with librbd's default cache fio's 4k writes complete in about 20 us
# at QD1 here (acknowledged by librbd before the OSD), vha's in about 500 us
# (the OSD round trip) even after the guest has flushed: why is open (with
# "rbd cache writethrough until flush = false" in [client], vha's drop to about
# 120 us and QD32 matched fio, 7221 vs 7239). With BENCH_RBD_CACHE=false both
# sides wait for the OSD and compare like for like.
#
# Environment: BENCH_RUNTIME (s per job, default 10), BENCH_SIZE_MB (image,
# default 512), BENCH_QUEUES (vha queues, default 2), BENCH_RBD_CACHE (unset:
# librbd's default, a writethrough cache until the first flush; "false" or
# "true": written to the cluster conf's [client] section, read by both sides).
set -u
cd "$(dirname "$0")/.."
B="$PWD/${BUILD:-build}"
RUNTIME=${BENCH_RUNTIME:-10}
SIZE_MB=${BENCH_SIZE_MB:-512}
QUEUES=${BENCH_QUEUES:-2}
. tests/lib/ceph-mini.sh
ceph_requires
fio --enghelp 2>/dev/null | grep -qw rbd || { echo "bench-rbd: this fio has no rbd engine"; exit 1; }

SIM=$(mktemp -d /tmp/vha-bench-rbd-XXXXXX)
export VHA_PLATFORM=sim VHA_SIM_DIR="$SIM"
cleanup() { "$B/vhactl" sim stop >/dev/null 2>&1; ceph_stop; rm -rf "$SIM"; }
trap cleanup EXIT

CEPH_OSD_MB=$((SIZE_MB * 2 + 512)) ceph_start "$SIM/ceph" >"$SIM/ceph.log" 2>&1 ||
	{ cat "$SIM/ceph.log"; echo "bench-rbd: Ceph did not start"; exit 1; }
[ -n "${BENCH_RBD_CACHE:-}" ] && printf '[client]\nrbd cache = %s\n' "$BENCH_RBD_CACHE" >>"$CEPH_CONF"
rbd create --size "${SIZE_MB}M" rbd/bench || exit 1
# Real data: reads of never-written objects return zeroes without touching an OSD.
echo "bench-rbd: writing ${SIZE_MB} MiB of data to rbd/bench"
fio --name=fill --ioengine=rbd --clientname=admin --pool=rbd --rbdname=bench --rw=write --bs=4m \
	--iodepth=4 --size="${SIZE_MB}m" --buffer_compress_percentage=0 --refill_buffers >/dev/null 2>&1 || exit 1

"$B/vhactl" sim start >/dev/null || exit 1
"$B/vha-backend" --log-level warn || exit 1
"$B/vhactl" sim create-domain 1 >/dev/null || exit 1
"$B/vhactl" attach --frontend-domid 1 --target "rbd:rbd/bench:conf=$CEPH_CONF" >/dev/null || exit 1

json_num() { sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p" | head -1; }
printf '%-18s | %10s %9s | %10s %9s | %6s\n' job "vha IOPS" "vha MB/s" "fio IOPS" "fio MB/s" ratio
printf -- '-%.0s' $(seq 72); echo
for spec in "randread 4k 32" "randwrite 4k 32" "read 128k 8"; do
	set -- $spec
	rw=$1 bs=$2 qd=$3
	if [ "${rw#rand}" = write ]; then key=write; else key=read; fi
	read -r fiops fmbps < <(fio --name=rbd --ioengine=rbd --clientname=admin --pool=rbd --rbdname=bench \
		--rw="$rw" --bs="$bs" --iodepth="$qd" --size="${SIZE_MB}m" --runtime="$RUNTIME" --time_based \
		--output-format=json 2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)["jobs"][0][sys.argv[1]]
print("%.0f %.1f" % (j["iops"], j["bw_bytes"] / 1e6))' "$key")
	v=$("$B/vha-frontend" --domid 1 --queues "$QUEUES" --zero-copy bench --rw "$rw" --bs "$bs" --iodepth "$qd" \
		--runtime "$RUNTIME" --json)
	viops=$(echo "$v" | json_num iops); vmbps=$(echo "$v" | json_num mbps)
	printf '%-18s | %10.0f %9s | %10.0f %9s | %6s\n' "$rw $bs qd$qd" "${viops:-0}" "${vmbps:-?}" "${fiops:-0}" \
		"${fmbps:-?}" "$(awk -v a="${viops:-0}" -v b="${fiops:-0}" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
done
echo "ratio = vha IOPS / fio rbd IOPS, same cluster and image, ${RUNTIME}s per job; vha: vha-frontend (sim,"
echo "pool buffers, $QUEUES queues) -> rings -> vha-backend rbd engine; fio: librbd in fio's process."
echo "rbd cache: ${BENCH_RBD_CACHE:-librbd default (writethrough until flush)}. One OSD on memstore: the cluster"
echo "and the CPU it shares with both clients are the limit, not a disk; on a shared machine expect noise."
