#!/bin/busybox sh
# SPDX-License-Identifier: MIT
# /init of the PV domU in the real-Xen suite (busybox sh). dom0 picks what it
# does with "vha.case=N" on the guest's kernel command line (xl extra=) and
# reads the outcome from this console: every line that matters starts with
# "G:" and checks end in "G: CHECK <name> OK|FAIL <detail>". dom0 decides.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/opt/vha/bin
mount -t proc p /proc; mount -t sysfs s /sys; mount -t devtmpfs d /dev; mount -t tmpfs t /tmp
exec </dev/null 2>&1

arg() { for w in $(cat /proc/cmdline); do case $w in "$1"=*) echo "${w#*=}";; esac; done; }
up() { cut -d' ' -f1 /proc/uptime; }
say() { echo "G: $*"; }
ok() { say "CHECK $1 OK ${2:-}"; }
bad() { say "CHECK $1 FAIL ${2:-}"; }
check() { # name command... : OK when the command succeeds
	n=$1; shift
	if out=$("$@" 2>&1); then ok "$n"; else bad "$n" "rc=$? $(echo "$out" | tail -3 | tr '\n' ' ')"; fi
}
# The same, but a command killed by a signal is a user program crashing
# under TCG (XENLAB.md; busybox, fio and vha-frontend have all been seen
# to): noted and run once more, and judged by that second run. A real bug
# that crashes the program crashes it again.
check_tcg() { # name command...
	n=$1; shift
	out=$("$@" 2>&1); rc=$?
	if [ $rc -gt 128 ]; then
		say "TCG-NOTE $n: $1 died of signal $((rc - 128)) (TCG user-program crash): once more"
		out=$("$@" 2>&1); rc=$?
	fi
	if [ $rc = 0 ]; then ok "$n"; else bad "$n" "rc=$rc $(echo "$out" | tail -3 | tr '\n' ' ')"; fi
}
mods() { for m in "$@"; do insmod /mods/$m.ko || say "insmod $m failed"; done; }
wait_dev() { # name seconds
	i=0; while [ ! -b /dev/$1 ] && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	[ -b /dev/$1 ]
}
wait_nodev() { # name seconds
	i=0; while [ -e /sys/block/$1 ] && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
	[ ! -e /sys/block/$1 ]
}
md5() { md5sum | cut -d' ' -f1; }
# Run on CPU $1 when there is such a CPU and taskset; else anywhere.
on_cpu() { c=$1; shift; if [ -d /sys/devices/system/cpu/cpu$c ] && command -v taskset >/dev/null; then taskset -c $c "$@"; else "$@"; fi; }
# field N of /sys/block/D/stat (1 reads ... 12 discards ... 16 flushes)
stat_field() { awk -v f="$2" '{print $f}' /sys/block/$1/stat; }
finish() { say "DONE uptime=$(up)"; sync; poweroff -f; }
# Interrupts of blkfront's event channels so far (all "blkif" lines, all CPUs).
blkif_irqs() { awk '/blkif/ { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END { print s + 0 }' /proc/interrupts; }

CASE=$(arg vha.case)
say "UP case=$CASE uptime=$(up) cpus=$(grep -c ^processor /proc/cpuinfo) mem=$(awk '/MemTotal/{print $2}' /proc/meminfo)kB"

# Disk layout used by the block checks (disk >= 128 MiB): ext4 in [0, 64M),
# raw checks in [64M, 96M) whose checksum dom0 verifies afterwards, discard
# in [96M, 100M).
disk_checks() { # dev
	d=$1
	say "DISK $d sectors=$(cat /sys/block/$d/size) write_cache=$(cat /sys/block/$d/queue/write_cache) discard_max=$(cat /sys/block/$d/queue/discard_max_bytes) max_segments=$(cat /sys/block/$d/queue/max_segments) hwq=$(ls /sys/block/$d/mq | wc -l) ro=$(cat /sys/block/$d/ro)"
	dd if=/dev/urandom of=/tmp/r8 bs=1M count=8 2>/dev/null
	R8=$(md5 </tmp/r8)
	# O_DIRECT, whole-MiB requests, then read back without the page cache.
	dd if=/tmp/r8 of=/dev/$d bs=1M seek=64 oflag=direct 2>/dev/null
	check odirect-write-read-8MiB [ "$(dd if=/dev/$d bs=1M skip=64 count=8 iflag=direct 2>/dev/null | md5)" = "$R8" ]
	# O_DIRECT with odd sector counts: requests that start and end inside pages.
	dd if=/tmp/r8 of=/dev/$d bs=512 count=7 seek=$((72 * 2048 + 3)) oflag=direct 2>/dev/null
	dd if=/tmp/r8 of=/dev/$d bs=512 count=9 skip=7 seek=$((72 * 2048 + 10)) oflag=direct 2>/dev/null
	check odirect-partial-pages [ "$(dd if=/dev/$d bs=512 skip=$((72 * 2048 + 3)) count=16 iflag=direct 2>/dev/null | md5)" = \
		"$(dd if=/tmp/r8 bs=512 count=16 2>/dev/null | md5)" ]
	# Buffered writes, a flush, dropped caches, buffered read back.
	f0=$(stat_field $d 16)
	dd if=/tmp/r8 of=/dev/$d bs=64k seek=$((80 * 16)) 2>/dev/null
	dd if=/tmp/r8 of=/dev/$d bs=4k seek=$((88 * 256)) conv=fsync 2>/dev/null
	sync; echo 3 >/proc/sys/vm/drop_caches
	f1=$(stat_field $d 16)
	check buffered-write-read [ "$(dd if=/dev/$d bs=1M skip=80 count=8 2>/dev/null | md5)" = "$R8" \
		-a "$(dd if=/dev/$d bs=1M skip=88 count=8 2>/dev/null | md5)" = "$R8" ]
	if [ "$(cat /sys/block/$d/queue/write_cache)" = "write back" ]; then
		check flush-sent [ "${f1:-0}" -gt "${f0:-0}" ]
		say "FLUSHES before=$f0 after=$f1"
	else
		say "CHECK flush-sent SKIP write_cache=$(cat /sys/block/$d/queue/write_cache): no flush advertised"
	fi
	if [ "$(cat /sys/block/$d/queue/discard_max_bytes)" -gt 0 ]; then
		dc0=$(stat_field $d 12)
		check blkdiscard blkdiscard -o $((96 << 20)) -l $((4 << 20)) /dev/$d
		check discard-sent [ "$(stat_field $d 12)" -gt "$dc0" ]
	else
		say "CHECK blkdiscard SKIP discard not advertised"
	fi
	say "RAWMD5 $(dd if=/dev/$d bs=1M skip=64 count=32 iflag=direct 2>/dev/null | md5)"
	# A filesystem in the first 64 MiB, filled, checked, re-read.
	mods crc16 mbcache jbd2 crc32c_generic ext4
	check mke2fs /sbin/mke2fs -F -q -t ext4 -b 4096 /dev/$d 16384
	mkdir -p /mnt
	if mount -t ext4 /dev/$d /mnt; then
		i=0; while cp /tmp/r8 /mnt/f$i 2>/dev/null; do i=$((i + 1)); done
		rm -f /mnt/f$i; sync
		say "FS-FILLED files=$i df=$(df -k /mnt | awk 'NR==2{print $3"/"$2}')"
		check fs-filled [ $i -ge 5 ]
		umount /mnt
		check e2fsck /sbin/e2fsck -f -n /dev/$d
		echo 3 >/proc/sys/vm/drop_caches
		mount -t ext4 -o ro /dev/$d /mnt && {
			n=0; for f in /mnt/f*; do [ "$(md5 <$f)" = "$R8" ] && n=$((n + 1)); done
			check fs-reread [ $n = $i ]
			umount /mnt
		}
	else
		bad mount "mount -t ext4 failed"
	fi
	say "FSMD5 $(dd if=/dev/$d bs=1M count=64 iflag=direct 2>/dev/null | md5)"
}

vha_frontend_checks() { # vdev
	v=$1
	check_tcg vha-frontend-info vha-frontend --platform xen --vdev $v info
	vha-frontend --platform xen --vdev $v info 2>&1 | sed 's/^/G: INFO /'
	check_tcg vha-frontend-verify-pattern vha-frontend --platform xen --vdev $v verify --pattern --length $((16 << 20))
	check_tcg vha-frontend-verify-random vha-frontend --platform xen --vdev $v verify --random 400 --seed 7 --max-size 131072
	for rw in randread randwrite; do
		if out=$(vha-frontend --platform xen --vdev $v bench --rw $rw --bs 4k --iodepth 32 --runtime 3 2>&1); then
			ok "vha-frontend-bench-$rw"
		else
			bad "vha-frontend-bench-$rw" "rc=$?"
		fi
		echo "$out" | sed "s/^/G: BENCH $rw /"
	done
	# The fio engine over libvhafront (issue 12), in the fio image: a verify
	# job (random sizes, queue depth 16, crc32c), then 3 s of 4k random reads.
	if [ -x /usr/bin/fio ] && [ -e /opt/vha/lib/libvha-fio.so ]; then
		E="--ioengine=external:/opt/vha/lib/libvha-fio.so --platform=xen --vdev=$v"
		check_tcg fio-engine-verify sh -c "fio --name=vhafio $E --rw=randwrite --bsrange=4k-128k --size=16m \
			--iodepth=16 --verify=crc32c --do_verify=1 --verify_fatal=1 --randrepeat=0 --minimal >/tmp/fioe.out &&
			awk -F';' 'NF > 100 {exit \$5 != 0}' /tmp/fioe.out"
		awk -F';' 'NF > 100 {printf "G: FIOENGINE verify err=%s write_iops=%s read_iops=%s\n", $5, $49, $8}' /tmp/fioe.out
		if fio --name=vhafio $E --rw=randread --bs=4k --iodepth=32 --runtime=3 --time_based --size=64m \
			--minimal >/tmp/fioe.out 2>&1; then
			say "FIOENGINE randread-4k-qd32 iops=$(awk -F';' 'NF > 100 {print $8}' /tmp/fioe.out)"
		else
			say "FIOENGINE randread-4k-qd32 failed: $(tail -2 /tmp/fioe.out | tr '\n' ' ')"
		fi
	fi
}

# One fio verify pass on /dev/xvda (cases 11 and 12): randwrite over 4 MiB
# (4k or 64k, queue depth 16), then fio reads it all back and checks every
# block's crc32c. Counts into $failed (any I/O error or verify mismatch:
# fio's err) and $crashed. fio killed by a signal after it reported err=0
# with everything written and read back is a user program crashing at exit
# under TCG (XENLAB.md): counted apart, not a failure.
fio_pass() { # pass-number
	bs=4k; [ $(($1 % 2)) = 0 ] && bs=64k
	: >/tmp/fio.out
	timeout 180 fio --name=v --filename=/dev/xvda --direct=1 --ioengine=libaio --rw=randwrite --bs=$bs \
		--iodepth=16 --size=4m --offset=$((($1 % 8) * 4))m --verify=crc32c --do_verify=1 \
		--verify_fatal=1 --randrepeat=0 --minimal >/tmp/fio.out 2>/tmp/fio.err
	rc=$?
	set -- $1 $(awk -F';' 'NF > 100 {print $5, $49, $8, $47, $6}' /tmp/fio.out)
	say "FIO pass=$1 bs=$bs rc=$rc err=${2:-none} wiops=${3:-0} riops=${4:-0} wkib=${5:-0} rkib=${6:-0}"
	# fio's own words: a verify mismatch is always a failure; a process of fio's killed
	# by a signal (the main one: rc > 128; a job process: "got signal") is TCG's.
	if grep -q -i -E 'verify|bad magic|crc32c' /tmp/fio.err; then
		failed=$((failed + 1)); echo "G: FIO-ERROR pass $1 (verify): $(head -c 400 /tmp/fio.err | tr '\n' ' ')"
	elif [ $rc = 0 ] && [ "${2:-none}" = 0 ]; then
		:
	elif [ $rc -gt 128 ] && [ "${2:-none}" = 0 ] && [ "${5:-0}" = 4096 ] && [ "${6:-0}" = 4096 ]; then
		crashed=$((crashed + 1)); say "FIO-NOTE pass $1: fio died of signal $((rc - 128)) after a clean, verified pass (TCG)"
	elif { [ $rc -gt 128 ] || grep -q 'got signal' /tmp/fio.err; } && [ "${2:-0}" = 0 ]; then
		crashed=$((crashed + 1))
		say "FIO-NOTE pass $1: a fio process died of a signal (rc $rc; TCG user-program crash) before a full report; not counted: $(head -c 200 /tmp/fio.err | tr '\n' ' ')"
	else
		failed=$((failed + 1)); echo "G: FIO-ERROR pass $1: rc $rc: $(head -c 400 /tmp/fio.err | tr '\n' ' ')"
	fi
}
fio_checks() {
	say "FIO-SUMMARY passes=$pass failed=$failed crashed_at_exit=$crashed seconds=$(awk -v a=$t0 -v b=$(up) 'BEGIN{printf "%.0f", b - a}')"
	check fio-no-error [ $failed = 0 ]
	check fio-verified [ $pass -gt $((failed + crashed)) ]
	check no-io-errors [ "$(dmesg | grep -c -E 'I/O error|blk_update_request')" = 0 ]
	dmesg | grep -iE 'blkfront|xvda|I/O error' | tail -5 | sed 's/^/G: FIO-DMESG /'
}

case "$CASE" in
disk) # stock blkfront, the full set of block checks on xvda
	mods xen-blkfront
	if wait_dev xvda 30; then disk_checks xvda; else bad xvda-appeared "no /dev/xvda after 30 s"; fi
	finish ;;
inflight) # I/O that never stops: dom0 destroys us in the middle of it
	mods xen-blkfront
	wait_dev xvda 30 || bad xvda-appeared "no /dev/xvda after 30 s"
	( while :; do dd if=/dev/zero of=/dev/xvda bs=64k count=256 oflag=direct 2>/dev/null; done ) &
	( while :; do dd if=/dev/xvda of=/dev/null bs=128k count=256 iflag=direct 2>/dev/null; done ) &
	( while :; do dd if=/dev/zero of=/dev/xvda bs=1M count=16 seek=32 2>/dev/null; sync; done ) &
	sleep 2; say "IO-RUNNING"
	while :; do sleep 10; done ;;
hotplug) # xvda from boot; dom0 attaches xvdb, we use it, dom0 detaches it
	mods xen-blkfront
	wait_dev xvda 30 || bad xvda-appeared "no /dev/xvda after 30 s"
	dd if=/dev/urandom of=/tmp/r4 bs=1M count=4 2>/dev/null
	dd if=/tmp/r4 of=/dev/xvda bs=1M oflag=direct 2>/dev/null
	check xvda-io-before [ "$(dd if=/dev/xvda bs=1M count=4 iflag=direct 2>/dev/null | md5)" = "$(md5 </tmp/r4)" ]
	say "READY-FOR-ATTACH"
	if wait_dev xvdb 60; then
		ok xvdb-appeared
		dd if=/tmp/r4 of=/dev/xvdb bs=1M seek=1 oflag=direct 2>/dev/null
		check xvdb-io [ "$(dd if=/dev/xvdb bs=1M skip=1 count=4 iflag=direct 2>/dev/null | md5)" = "$(md5 </tmp/r4)" ]
		say "XVDB-MD5 $(md5 </tmp/r4)"
	else
		bad xvdb-appeared "no /dev/xvdb after 60 s"
	fi
	say "XVDB-IO-DONE"
	if wait_nodev xvdb 60; then ok xvdb-removed; else bad xvdb-removed "xvdb still present after 60 s"; fi
	dd if=/dev/urandom of=/tmp/r4 bs=1M count=4 2>/dev/null
	dd if=/tmp/r4 of=/dev/xvda bs=1M seek=8 oflag=direct 2>/dev/null
	check xvda-io-after [ "$(dd if=/dev/xvda bs=1M skip=8 count=4 iflag=direct 2>/dev/null | md5)" = "$(md5 </tmp/r4)" ]
	finish ;;
vhafront) # the userspace frontend on xvda; blkfront stays unloaded
	mods xen-evtchn xen-gntdev xen-gntalloc
	ls /dev/xen | tr '\n' ' ' | sed 's/^/G: DEVXEN /'; echo
	vha_frontend_checks xvda
	finish ;;
features) # 2 vCPUs: blkfront must use two queues, persistent grants and indirect requests
	mods xen-blkfront
	wait_dev xvda 30 || bad xvda-appeared "no /dev/xvda after 30 s"
	say "DISK xvda hwq=$(ls /sys/block/xvda/mq | wc -l) max_segments=$(cat /sys/block/xvda/queue/max_segments) max_sectors_kb=$(cat /sys/block/xvda/queue/max_sectors_kb)"
	dmesg | grep -E 'blkfront: xvda' | sed 's/^/G: BLKFRONT /'
	check two-queues [ "$(ls /sys/block/xvda/mq | wc -l)" = 2 ]
	check blkfront-persistent sh -c "dmesg | grep -q 'persistent grants: enabled'"
	check blkfront-indirect sh -c "dmesg | grep -q 'indirect descriptors: enabled'"
	dd if=/dev/urandom of=/tmp/r8 bs=1M count=8 2>/dev/null
	R8=$(md5 </tmp/r8)
	# One writer and one reader per CPU: blk-mq maps each CPU to its own queue.
	for rep in 1 2 3; do
		for cpu in 0 1; do
			on_cpu $cpu dd if=/tmp/r8 of=/dev/xvda bs=1M seek=$((cpu * 16)) oflag=direct 2>/dev/null &
		done
		wait
		for cpu in 0 1; do
			on_cpu $cpu dd if=/dev/xvda of=/tmp/back$cpu bs=1M skip=$((cpu * 16)) count=8 iflag=direct 2>/dev/null &
		done
		wait
	done
	check data-cpu0 [ "$(md5 </tmp/back0)" = "$R8" ]
	check data-cpu1 [ "$(md5 </tmp/back1)" = "$R8" ]
	size0=$(cat /sys/block/xvda/size)
	say "FEATURES-IO-DONE"
	# dom0 reads the backend's counters while the device is still connected, then grows the disk.
	i=0; while [ "$(cat /sys/block/xvda/size)" = "$size0" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	say "RESIZE sectors $size0 -> $(cat /sys/block/xvda/size)"
	check online-resize [ "$(cat /sys/block/xvda/size)" -gt "$size0" ]
	dd if=/tmp/r8 of=/dev/xvda bs=1M seek=64 oflag=direct 2>/dev/null
	check io-beyond-old-end [ "$(dd if=/dev/xvda bs=1M skip=64 count=8 iflag=direct 2>/dev/null | md5)" = "$R8" ]
	finish ;;
restart) # dom0 kills vha-backend with SIGKILL and starts it again, 3 times, while we write
	mods xen-blkfront
	wait_dev xvda 30 || bad xvda-appeared "no /dev/xvda after 30 s"
	dd if=/dev/urandom of=/tmp/r32 bs=1M count=32 2>/dev/null
	R32=$(md5 </tmp/r32)
	say "DISK xvda hwq=$(ls /sys/block/xvda/mq | wc -l)"
	# Two writers streaming 32 MiB O_DIRECT passes, each over its own half of the disk and on its
	# own CPU (so with two vCPUs, on its own queue), so requests are in flight all the time.
	# They run apart: a write never answered would leave one stuck,
	# and we still report.
	# A dd killed by a signal is a user program crashing under TCG (XENLAB.md), not an I/O error:
	# counted apart and retried.
	for w in 0 1; do
		echo 0 >/tmp/ok$w; echo 0 >/tmp/err$w; echo 0 >/tmp/crash$w
		( ok=0; err=0; crash=0
		  while [ ! -e /tmp/stop ]; do
			on_cpu $w dd if=/tmp/r32 of=/dev/xvda bs=1M seek=$((w * 32)) oflag=direct 2>/tmp/dderr$w; rc=$?
			if [ $rc = 0 ]; then
				ok=$((ok + 1)); echo $ok >/tmp/ok$w
			elif [ $rc -gt 128 ]; then
				crash=$((crash + 1)); echo $crash >/tmp/crash$w
			else
				err=$((err + 1)); echo $err >/tmp/err$w
				echo "writer $w: dd rc=$rc $(tr '\n' ' ' </tmp/dderr$w)" >>/tmp/errlog; sleep 1
			fi
		  done; echo done >/tmp/writer_done$w ) &
	done
	say "IO-RUNNING"
	wait_file() { i=0; while [ ! -e $1 ] && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done; [ -e $1 ]; }
	# dom0's three kill/restart cycles take about 20 s from IO-RUNNING.
	sleep 40
	touch /tmp/stop
	if wait_file /tmp/writer_done0 30 && wait_file /tmp/writer_done1 30; then ok restart-writers-finished; else bad restart-writers-finished "a write was never answered"; fi
	say "RESTART-RESULT passes of 32 MiB: $(cat /tmp/ok0) + $(cat /tmp/ok1), failed: $(cat /tmp/err0) + $(cat /tmp/err1), dd crashed (TCG): $(cat /tmp/crash0) + $(cat /tmp/crash1), xvda present: $([ -b /dev/xvda ] && echo yes || echo no)"
	[ -e /tmp/errlog ] && sed 's/^/G: RESTART-ERROR /' /tmp/errlog
	check restart-no-write-errors [ "$(cat /tmp/err0)" = 0 -a "$(cat /tmp/err1)" = 0 -a "$(dmesg | grep -c 'I/O error')" = 0 ]
	check restart-data-intact [ "$(dd if=/dev/xvda bs=1M count=32 iflag=direct 2>/dev/null | md5)" = "$R32" \
		-a "$(dd if=/dev/xvda bs=1M skip=32 count=32 iflag=direct 2>/dev/null | md5)" = "$R32" ]
	dmesg | grep -iE 'blkfront|xvda|vbd|blk_update|I/O error|segfault|traps' | tail -8 | sed 's/^/G: RESTART-DMESG /'
	finish ;;
fio) # side by side: the same fio jobs on every xvd* that appears
	mods xen-blkfront
	want=$(arg vha.disks | tr , ' ')
	for d in $want; do wait_dev $d 60 || say "FIO-MISSING $d"; done
	for d in $want; do [ -b /dev/$d ] && say "DISK $d sectors=$(cat /sys/block/$d/size) hwq=$(ls /sys/block/$d/mq | wc -l) max_segments=$(cat /sys/block/$d/queue/max_segments)"; done
	reps=$(arg vha.reps); rt=$(arg vha.runtime)
	for rep in $(seq 1 ${reps:-2}); do
		for job in randread:4k:32 randwrite:4k:32 read:128k:8; do
			IFS=: read rw bs qd <<EOF
$job
EOF
			for d in $want; do
				[ -b /dev/$d ] || continue
				# blkfront's event-channel interrupts ("blkif", every disk's queues) while
				# only this job runs: interrupts per I/O.
				i0=$(blkif_irqs)
				timeout $((${rt:-5} + 30)) fio --name=j --filename=/dev/$d --direct=1 --ioengine=libaio --rw=$rw --bs=$bs --iodepth=$qd \
					--size=64m --runtime=${rt:-5} --time_based --minimal 2>/dev/null >/tmp/fio.min
				i1=$(blkif_irqs)
				awk -F';' -v d=$d -v j=$rw-$bs-qd$qd -v r=$rep -v ints=$((i1 - i0)) '{printf "G: FIO rep=%s dev=%s job=%s riops=%s rkib=%s wiops=%s wkib=%s usr=%s sys=%s err=%s rms=%s wms=%s ints=%s\n", r, d, j, $8, $7, $49, $48, $88, $89, $5, $9, $50, ints}' /tmp/fio.min
			done
		done
	done
	# dom0 reads the backends' CPU time now, while their devices are still connected.
	say "FIO-ALL-DONE"
	sleep 8
	finish ;;
hostile) # case 11: vha-hostile attacks our own disk, once dom0 says go (the fio guest is running by then)
	mods xen-evtchn xen-gntdev xen-gntalloc
	say "HOSTILE-READY"
	if vha-hostile wait-node data/vha-go 300; then
		st=$(arg vha.storm); fl=$(arg vha.flip); xs=$(arg vha.states)
		# Killed by a signal: a user program crashing under TCG (XENLAB.md); run it once more.
		for try in 1 2; do
			( vha-hostile --vdev xvda --storm-secs ${st:-4} --flip-secs ${fl:-4} --states-secs ${xs:-4} run
			  echo $? >/tmp/hrc ) 2>&1 | sed 's/^/G: /'
			[ "$(cat /tmp/hrc)" -gt 128 ] && [ $try = 1 ] || break
			say "HOSTILE-NOTE vha-hostile died of signal $(($(cat /tmp/hrc) - 128)) (TCG user-program crash): once more"
		done
		if [ "$(cat /tmp/hrc)" = 0 ]; then ok hostile-tool; else bad hostile-tool "vha-hostile exit $(cat /tmp/hrc)"; fi
	else
		bad hostile-tool "dom0 never said go (data/vha-go) within 300 s"
	fi
	say "HOSTILE-DONE"
	# dom0 reads the backend's view of our device before we go.
	vha-hostile wait-node data/vha-stop 120
	finish ;;
fioverify) # case 11: stock blkfront, fio writes and verifies in passes from dom0's go until its stop
	mods xen-blkfront xen-evtchn xen-gntdev xen-gntalloc
	wait_dev xvda 30 || bad xvda-appeared "no /dev/xvda after 30 s"
	say "DISK xvda sectors=$(cat /sys/block/xvda/size) hwq=$(ls /sys/block/xvda/mq | wc -l)"
	# Each pass: randwrite over 4 MiB (4k or 64k, queue depth 16), then fio reads it all back and
	# checks every block's crc32c. A pass fails on any I/O error or verify mismatch (fio's err).
	# fio killed by a signal after it reported err=0 with everything written and read back is a
	# user program crashing at exit under TCG (XENLAB.md): counted apart, not a failure.
	# dom0 creates the hostile guest meanwhile, then says go (data/vha-go).
	say "FIO-READY"
	vha-hostile wait-node data/vha-go 300 || say "FIO-NOTE no go from dom0 within 300 s; starting anyway"
	pass=0; failed=0; crashed=0; t0=$(up)
	say "FIO-RUNNING"
	while :; do
		pass=$((pass + 1))
		fio_pass $pass
		vha-hostile wait-node data/vha-stop 0 && break
		awk -v a=$t0 -v b=$(up) 'BEGIN{exit !(b - a > 480)}' && { say "FIO-TIMEOUT no stop from dom0 after 480 s"; break; }
	done
	fio_checks
	finish ;;
ddfio) # case 12: stock blkfront on a disk served from the storage driver domain; fio verify, then dom0 destroys us
	mods xen-blkfront
	# dom0 starts the driver domain after us, then hot-plugs the disk.
	wait_dev xvda 300 || bad xvda-appeared "no /dev/xvda after 300 s"
	say "DISK xvda sectors=$(cat /sys/block/xvda/size) hwq=$(ls /sys/block/xvda/mq | wc -l) backend=$(cat /sys/bus/xen/devices/vbd-51712/nodename 2>/dev/null)"
	pass=0; failed=0; crashed=0; t0=$(up)
	[ -b /dev/xvda ] && while [ $pass -lt $(arg vha.passes) ]; do pass=$((pass + 1)); fio_pass $pass; done
	fio_checks
	say "FIO-DONE"
	while :; do sleep 10; done ;;
ddloss) # case 12: O_DIRECT writes in a loop while dom0 destroys the driver domain that serves our disk
	mods xen-blkfront xen-evtchn xen-gntdev xen-gntalloc
	wait_dev xvda 60 || bad xvda-appeared "no /dev/xvda after 60 s"
	dd if=/dev/urandom of=/tmp/r1 bs=64k count=16 2>/dev/null
	dd if=/tmp/r1 of=/dev/xvda bs=64k oflag=direct 2>/dev/null
	check ddloss-io-before [ "$(dd if=/dev/xvda bs=64k count=16 iflag=direct 2>/dev/null | md5)" = "$(md5 </tmp/r1)" ]
	# One 16 MiB O_DIRECT dd after another (few processes: fewer TCG crashes);
	# each one's exit status goes to /tmp/rcs. A write that never returns is a hang.
	: >/tmp/rcs
	( while [ ! -e /tmp/stop ]; do
		dd if=/dev/zero of=/dev/xvda bs=64k count=256 seek=16 oflag=direct 2>>/tmp/dderr
		echo $? >>/tmp/rcs
	  done ) &
	i=0; while ! grep -qx 0 /tmp/rcs && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
	say "DDLOSS-RUNNING writes of 16 MiB so far: $(grep -cx 0 /tmp/rcs) ok, $(wc -l </tmp/rcs) in all"
	if vha-hostile wait-node data/vha-ddgone 300; then
		t=$(up); n0=$(wc -l </tmp/rcs)
		# A new request once the backend is gone: answered (with an error) or never.
		( dd if=/dev/xvda of=/dev/null bs=4k count=1 skip=100 iflag=direct 2>/tmp/proberr; echo $? >/tmp/probe ) &
		i=0; while [ $i -lt 600 ]; do
			tail -n +$((n0 + 1)) /tmp/rcs | grep -v -x -E '0|129|1[3-9][0-9]|2[0-9][0-9]' >/tmp/errs
			[ -s /tmp/errs ] && [ -s /tmp/probe ] && break
			sleep 0.1; i=$((i + 1))
		done
		w=$(awk -v a=$t -v b=$(up) 'BEGIN{printf "%.1f", b - a}')
		say "DDLOSS-RESULT waited ${w} s: writes before the news $n0 ($(head -n $n0 /tmp/rcs | grep -cx 0) ok); after it: $(tail -n +$((n0 + 1)) /tmp/rcs | tr '\n' ' ')(exit statuses), failed $(wc -l </tmp/errs); probe read: $(cat /tmp/probe 2>/dev/null || echo 'no answer')"
		tail -3 /tmp/dderr | sed 's/^/G: DDLOSS-ERROR /'
		check ddloss-write-error [ -s /tmp/errs ]
		check ddloss-probe-error sh -c '[ -s /tmp/probe ] && [ "$(cat /tmp/probe)" != 0 ]'
		dmesg | grep -iE 'blkfront|xvda|vbd|I/O error|blk_update' | tail -6 | sed 's/^/G: DDLOSS-DMESG /'
	else
		bad ddloss-write-error "dom0 never said the driver domain is gone (data/vha-ddgone)"
	fi
	touch /tmp/stop
	# No sync: a disk whose backend is gone may never answer one.
	say "DONE uptime=$(up)"; poweroff -f ;;
driverdomain) # case 12: the storage driver domain: vha-backend and xl devd serve backend/vbd from here
	export PATH=$PATH:/usr/lib/xen-4.17/bin
	mods xen-evtchn xen-gntdev xen-gntalloc xen-privcmd
	# Its own disks: two ramdisks of 64 MiB (one per guest of case 12).
	insmod /mods/brd.ko rd_nr=2 rd_size=65536 || say "insmod brd failed"
	mkdir -p /var/lib/xen /var/log/xen /run/xen /run/xenstored /etc/xen; ln -s /run /var/run; : >/etc/xen/xl.conf
	DDID=$(xenstore-read domid)
	say "DD domid=${DDID:-?} devxen=$(ls /dev/xen | tr '\n' ' ')"
	check dd-no-blkback [ ! -d /sys/module/xen_blkback ]
	BLOG=/tmp/vha-backend.log; HLOG=/var/log/xen/vha-hotplug.log; ST=/run/vha-backend
	vha-backend --platform xen --foreground --log-level info --state-dir $ST >$BLOG 2>&1 &
	BPID=$!
	i=0; while [ ! -s $ST/pid ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	check dd-backend-started kill -0 $BPID
	check dd-backend-serves-own-domain grep -q "serving /local/domain/$DDID/backend/vbd" $BLOG
	grep -m1 serving $BLOG | sed 's/^/G: DD-BACKEND /'
	# -vvv: libxl's debug lines show each device's add and remove in the dump.
	xl -vvv devd -F >/tmp/xl-devd.log 2>&1 &
	DPID=$!
	sleep 1
	check dd-devd-started kill -0 $DPID
	say "DD-READY"
	# dom0 asks through data/vha-req = "<seq> <what> [frontend domid] [ramdisk]"; we answer on
	# this console with "G: DD-ANSWER <seq> ..." after the CHECK lines.
	gntmaps() { grep -c gntdev /proc/$BPID/maps 2>/dev/null; }
	devstats() { kill -USR1 $BPID; sleep 0.5; grep "\"frontend\": $1," $ST/stats.json; }
	reserved() { grep -o '"reserved": [0-9]*' $ST/stats.json | awk '{s += $2} END {print s + 0}'; }
	dd_dump() {
		say "DD-DUMP vha-backend $(kill -0 $BPID 2>/dev/null && echo running || echo GONE), xl devd $(kill -0 $DPID 2>/dev/null && echo running || echo GONE)"
		tail -25 $BLOG | sed 's/^/G: DD-BACKEND-LOG /'
		grep -v cpu_bitmap_alloc /tmp/xl-devd.log | tail -40 | sed 's/^/G: DD-DEVD-LOG /'
		cat /tmp/tcg-retries.log 2>/dev/null | sed 's/^/G: DD-TCG /'
		tail -10 $HLOG 2>/dev/null | sed 's/^/G: DD-HOTPLUG-LOG /'
		xenstore-ls -f backend 2>&1 | head -40 | sed 's/^/G: DD-XS /'
		dmesg | tail -8 | sed 's/^/G: DD-DMESG /'
	}
	last=""; gone=""
	while :; do
		# Say once if a daemon died (a crash under TCG or a bug): what it left.
		if [ -z "$gone" ] && ! kill -0 $BPID 2>/dev/null; then
			gone=1; say "DD-DAEMON-DIED vha-backend"; dd_dump
		fi
		# xl devd killed by a signal (TCG, XENLAB.md) is started again, noted; on
		# start it handles the devices already waiting in InitWait.
		if ! kill -0 $DPID 2>/dev/null; then
			wait $DPID; say "DD-NOTE xl devd exited ($?): started again"
			tail -5 /tmp/xl-devd.log | sed 's/^/G: DD-DEVD-LOG /'
			xl -vvv devd -F >>/tmp/xl-devd.log 2>&1 &
			DPID=$!
		fi
		set -- $(xenstore-read data/vha-req 2>/dev/null)
		if [ -z "${1:-}" ] || [ "$1" = "$last" ]; then sleep 0.3; continue; fi
		last=$1
		case "$2" in
		dump) dd_dump ;;
		served) # the device of frontend $3 is connected here and did I/O
			devstats $3 >/tmp/ds
			say "DD-STATS fe=$3 $(head -1 /tmp/ds | grep -o '"totals": {[^}]*}')"
			check dd-connected-$3 grep -q '"connected": true' /tmp/ds
			check dd-served-requests-$3 sh -c "grep -o '\"totals\": {\"requests\": [0-9]*' /tmp/ds | grep -qv ': 0\$'"
			check dd-hotplug-connected-$3 grep -q "vbd/$3/51712.*connected /dev/$4" $HLOG
			say "DD-GRANTS fe=$3 gntdev mappings $(gntmaps), budgets reserved $(reserved)" ;;
		released) # the device of frontend $3 is gone: dir, device, target, grants
			i=0; while { xenstore-exists backend/vbd/$3 || [ -n "$(devstats $3)" ] || [ "$(gntmaps)" != 0 ]; } 2>/dev/null && [ $i -lt 40 ]; do
				sleep 0.5; i=$((i + 1))
			done
			check dd-backend-dir-gone-$3 sh -c "! xenstore-exists backend/vbd/$3"
			check dd-device-removed-$3 [ -z "$(devstats $3)" ]
			check dd-target-closed-$3 sh -c "! ls -l /proc/$BPID/fd | grep -q ' /dev/$4\$'"
			check dd-no-grants-mapped-$3 [ "$(gntmaps)" = 0 ]
			check dd-no-budget-held-$3 [ "$(reserved)" = 0 ]
			check dd-hotplug-removed-$3 grep -q "vbd/$3/51712.*removed" $HLOG
			check dd-backend-alive kill -0 $BPID
			check dd-devd-alive kill -0 $DPID
			say "DD-RELEASED fe=$3 after $(awk -v i=$i 'BEGIN{print i / 2}') s: gntdev mappings $(gntmaps), budgets reserved $(reserved), backend log: $(grep -c "device $3/51712" $BLOG) lines on the device, errors $(grep -c -E 'error|warning' $BLOG)" ;;
		esac
		sed 's/^/G: DD-HOTPLUG /' $HLOG 2>/dev/null | tail -4
		say "DD-ANSWER $1 $2 ${3:-}"
	done ;;
*)
	say "unknown case '$CASE'"; finish ;;
esac
