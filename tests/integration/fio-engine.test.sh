#!/bin/bash
# SPDX-License-Identifier: MIT
# The fio external I/O engine (frontend/fio/vha-fio.c, $BUILD/libvha-fio.so)
# against vha-backend in the sim, through fio's own exit status and JSON:
#  1. a job file: random writes of random sizes (512 B to 256 KiB, so some
#     go out as several requests) with iodepth 16 on 2 queues, a flush every
#     8 writes, then every block read back and checked (verify=crc32c);
#  2. zero copy (buffers from the granted pool), without indirect requests
#     (I/Os split at 11 pages), on order-2 rings: verified the same way;
#  3. persistent grants off: a short mixed random run;
#  4. a trim job: the trimmed region of the target file reads back zeroes;
#  5. a known pattern written with fio is really in the target file;
#  6. the null target, briefly; a bad vdev and a device that is not there
#     fail fio cleanly.
# Skips (77) when fio is missing, in a sanitizer build (fio is not
# instrumented), or when fio's source cannot be fetched (no network).
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ENGINE=$B/libvha-fio.so

command -v fio >/dev/null || { echo "skip: fio is not installed"; exit 77; }
[ "${SANITIZE:-0}" = 0 ] || { echo "skip: a sanitizer build (fio, which loads the engine, is not instrumented)"; exit 77; }
note "make fio-engine"
if ! env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make -C "$ROOT" --no-print-directory BUILD="$B" fio-engine \
	>"$SIM/make.log" 2>&1; then
	cat "$SIM/make.log"
	grep -q "fio-source: cannot download" "$SIM/make.log" &&
		{ echo "skip: cannot fetch fio's source to build the engine against (no network?)"; exit 77; }
	fail "make fio-engine"
fi
[ -f "$ENGINE" ] || fail "make fio-engine made no $ENGINE"

start_sim --max-queues 4
"$B/vhactl" sim create-domain 1 >/dev/null || fail "create domain"
img=$(make_image disk.img 64)
"$B/vhactl" attach --frontend-domid 1 --target "$img" >/dev/null || fail "attach $img"

# run_fio NAME ARGS...: fio in the sim dir (verify state files land there), JSON into $SIM/NAME.json.
run_fio() {
	local name=$1; shift
	(cd "$SIM" && fio --output-format=json --output="$SIM/$name.json" "$@") >"$SIM/$name.log" 2>&1 ||
		{ cat "$SIM/$name.log"; [ -f "$SIM/$name.json" ] && head -c 3000 "$SIM/$name.json"; fail "fio $name exited $?"; }
}
# check_json NAME CHECKS...: each check is `dir:min_iops` (read|write|trim) or `sync` (flushes issued)
# or `depth16` (most I/O at queue depth 16); always: no job error.
check_json() {
	python3 - "$@" <<'EOF' || fail "fio $1: JSON check"
import json, os, sys
name = sys.argv[1]
for job in json.load(open(os.path.join(os.environ["VHA_SIM_DIR"], name + ".json")))["jobs"]:
    summary = [f"error {job['error']}"]
    assert job["error"] == 0, f"{name}/{job['jobname']}: error {job['error']}"
    for check in sys.argv[2:]:
        if check == "sync":
            n = job["sync"]["total_ios"]
            assert n > 0, f"{name}/{job['jobname']}: no flushes"
            summary.append(f"{n} flushes")
        elif check == "depth16":
            d = job["iodepth_level"]["16"]
            assert d > 50, f"{name}/{job['jobname']}: {d}% of I/O at depth 16"
            summary.append(f"{d:.0f}% at depth 16")
        else:
            ddir, least = check.split(":")
            s = job[ddir]
            assert s["iops"] > float(least) and s["total_ios"] > 0, f"{name}/{job['jobname']}: {ddir} iops {s['iops']}"
            summary.append(f"{ddir} {s['iops']:.0f} IOPS {s['total_ios']} ios")
    print(f"{name}/{job['jobname']}: " + ", ".join(summary))
EOF
}

note "1. verify=crc32c: random sizes, iodepth 16, 2 queues, flushes (a job file)"
cat >"$SIM/verify.fio" <<EOF
[global]
ioengine=external:$ENGINE
devid=51712
queues=2
iodepth=16
size=24m

[verify-random-sizes]
rw=randwrite
bsrange=512-256k
fsync=8
verify=crc32c
verify_fatal=1
do_verify=1
EOF
run_fio verify "$SIM/verify.fio"
check_json verify write:0 read:0 sync depth16
[ "$(xs xenstore-read /local/domain/1/device/vbd/51712/multi-queue-num-queues)" = 2 ] || fail "the engine did not use 2 queues"

note "2. zero copy, no indirect, order-2 rings: verify=crc32c"
run_fio zero-copy --name=zero-copy --ioengine="external:$ENGINE" --zero_copy=1 --no_indirect=1 --ring_order=2 \
	--rw=randwrite --bsrange=4k-128k --iodepth=16 --size=16m --offset=24m --verify=crc32c --verify_fatal=1
check_json zero-copy write:0 read:0 depth16

note "3. persistent grants off: mixed random I/O"
run_fio no-persistent --name=no-persistent --ioengine="external:$ENGINE" --no_persistent=1 --rw=randrw --bs=4k \
	--iodepth=16 --runtime=1 --time_based --offset=40m --size=8m
check_json no-persistent read:0 write:0

note "4. trim: the trimmed region of the file reads back zeroes"
cmp -s -n 8388608 -i 50331648:0 "$img" /dev/zero && fail "the region to trim is already zeroes"
run_fio trim --name=trim --ioengine="external:$ENGINE" --rw=trim --bs=1m --iodepth=4 --offset=48m --size=8m
check_json trim trim:0
cmp -n 8388608 -i 50331648:0 "$img" /dev/zero || fail "48m..56m of the file is not zeroes after the trim job"

note "5. a pattern written with fio is in the target file"
run_fio pattern --name=pattern --ioengine="external:$ENGINE" --rw=write --bs=64k --iodepth=8 --offset=56m --size=4m \
	--buffer_pattern=0x7668612d
head -c 4194304 < <(yes vha- | tr -d '\n') >"$SIM/pattern"
cmp -n 4194304 -i 58720256:0 "$img" "$SIM/pattern" || fail "56m..60m of the file is not the pattern fio wrote"
echo "56m..60m of $img holds fio's pattern"

note "6. the null target, briefly"
"$B/vhactl" attach --frontend-domid 1 --vdev xvdb --target null:256m >/dev/null || fail "attach null:256m"
run_fio null --name=null --ioengine="external:$ENGINE" --vdev=xvdb --queues=2 --rw=randrw --bs=4k --iodepth=16 \
	--runtime=1 --time_based
check_json null read:0 write:0 depth16

note "errors: a bad vdev, a device that is not there"
(cd "$SIM" && fio --name=bad --ioengine="external:$ENGINE" --vdev=sda --rw=read --size=1m) >"$SIM/bad.log" 2>&1 &&
	fail "fio ran with vdev=sda"
grep -q "vdev takes xvda..xvdo" "$SIM/bad.log" || { cat "$SIM/bad.log"; fail "no reason for vdev=sda"; }
(cd "$SIM" && fio --name=absent --ioengine="external:$ENGINE" --devid=51760 --handshake_timeout=2 --rw=read \
	--size=1m) >"$SIM/absent.log" 2>&1 && fail "fio ran on device 51760, which is not there"
grep -q "cannot attach device 51760" "$SIM/absent.log" || { cat "$SIM/absent.log"; fail "no reason for device 51760"; }
backend_alive || fail "backend died"
echo "PASS"
