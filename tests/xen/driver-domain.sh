# SPDX-License-Identifier: MIT
# Case 12 of the real-Xen suite, sourced by dom0's /init (tests/xen/dom0-init.sh,
# installed as /etc/xen/cases.d/12-driver-domain.sh by tests/xen/run.sh): it
# uses that file's helpers (mkcfg, create, wait_guest, guest_checks, expect, ...).
# 12: vha-backend in a PV storage driver domain instead of dom0 (issue 14;
# docs/operations.md, "Driver domains"). c12s (driver_domain = 1, role
# "driverdomain" of domu-init.sh) has its own disks (two brd ramdisks), no
# xen-blkback, and runs vha-backend and "xl devd", which runs the vha
# hotplug script there. c12a's disk names it (backend=c12s, script=vha) and
# its stock blkfront runs fio verify passes; then dom0 destroys c12a and the
# driver domain must have released everything (backend dir, vha-backend's
# device, the target, every grant mapping and budget). c12b then writes with
# O_DIRECT in a loop while dom0 destroys the driver domain: the guest must
# get I/O errors, not hang, and dom0 must be left clean. dom0 talks to the
# driver domain through its data/vha-req node; it answers on its console.
dd_ask() { # seq what [frontend domid] [ramdisk]
	xenstore-write /local/domain/$DDID/data/vha-req "$*" && xenstore-chmod /local/domain/$DDID/data/vha-req n$DDID
	wait_guest c12s "G: DD-ANSWER $1 " 60 || { fail "the driver domain did not answer '$*'"; return 1; }
}
secs_since() { awk -v a=$1 -v b=$(up) 'BEGIN{printf "%.1f", b - a}'; }
case_12() {
	[ -e /boot/domu-dd.cpio.gz ] || { SKIP="no driver domain image (vha-backend not built?)"; return; }
	[ -x /opt/vha/bin/vha-backend ] || { SKIP="vha-backend not built"; return; }
	[ -e /boot/domu-fio.cpio.gz ] || { SKIP="no fio guest image (fio not installed where the suite was built)"; return; }
	[ -x /opt/vha/bin/vha-hostile ] || { SKIP="vha-hostile not built (the guests wait on xenstore with it)"; return; }
	local tmo left t DDID="" DA="" DB="" ok be DOMU_KERNEL
	tmo=$(arg vha.tmo)
	if [ -n "$tmo" ]; then
		left=$(awk -v t=$tmo -v u=$(up) 'BEGIN{printf "%d", t - u - 20}')
		[ "$left" -ge 150 ] || { SKIP="only $left s left of this boot's time budget, case 12 needs 150"; return; }
	fi
	EXPECT_IO_ERRORS="guest-c12b"
	# The uncompressed kernel when run.sh could unpack it (see there).
	# A guest booted from it needs more memory than from vmlinuz: with 256 MiB
	# (320 for the driver domain) "Initramfs unpacking failed: write error".
	DOMU_KERNEL=/boot/vmlinuz; [ -e /boot/vmlinux ] && DOMU_KERNEL=/boot/vmlinux
	# Guest A first, without a disk, while dom0 is idle: xl's XZ decompression
	# of the kernel for this 40 MiB-ramdisk guest failed in every try here
	# once another domU ran (TCG, as in case 11). Its disk is hot-plugged below.
	DOMU_KERNEL=$DOMU_KERNEL DOMU_RAMDISK=domu-fio.cpio.gz DOMU_EXTRA="vha.passes=4" mkcfg c12a ddfio 512 >/dev/null
	XL_CREATE_TMO=180 XL_CREATE_TRIES=3 create c12a && DA=$(xl domid c12a) || DA=""
	DOMU_KERNEL=$DOMU_KERNEL DOMU_RAMDISK=domu-dd.cpio.gz mkcfg c12s driverdomain 448 >/dev/null
	echo 'driver_domain = 1' >>/etc/xen/c12s.cfg
	if ! create c12s; then
		[ -n "$DA" ] && { timeout 60 xl destroy c12a; wait_gone c12a 30; }
		return
	fi
	DDID=$(xl domid c12s)
	if ! wait_guest c12s "G: DD-READY" 90; then
		fail "the driver domain never got ready"; dump_state
		for g in c12a c12s; do xl domid $g >/dev/null 2>&1 && { timeout 60 xl destroy $g; wait_gone $g 30; }; done
		return
	fi
	echo "VHA-DD driver domain c12s is domain $DDID: $(grep -a 'G: DD-BACKEND' $CL/guest-c12s.log | tr -d '\r' | sed 's/.*G: DD-BACKEND //' | cut -c1-120)"
	# Guest A: fio verify on a disk the driver domain serves, attached the way xl does it.
	if [ -n "$DA" ] && t=$(up) && expect "xl block-attach c12a with backend=c12s" timeout 60 xl block-attach c12a "$VHA_DISK, vdev=xvda, backend=c12s, target=/dev/ram0"; then
		echo "VHA-DD xl block-attach c12a (backend=c12s) took $(secs_since $t) s"
		be=$(sig_retry xenstore-read /local/domain/$DA/device/vbd/51712/backend 2>&1)
		expect "c12a's disk points at the driver domain ($be)" [ "$be" = "/local/domain/$DDID/backend/vbd/$DA/51712" ]
		expect "nothing of c12a under dom0's backend dir" sh -c "! xenstore-exists /local/domain/0/backend/vbd/$DA"
		if wait_guest c12a "G: FIO-DONE" 240; then
			dd_ask 1 served $DA ram0
			grep -q "G: CHECK .* FAIL" $CL/guest-c12a.log $CL/guest-c12s.log && dd_ask 8 dump
		else
			fail "guest c12a never finished its fio passes"; dump_state
		fi
		grep -a -E "G: (FIO pass|FIO-SUMMARY|FIO-ERROR|FIO-NOTE|DISK)" $CL/guest-c12a.log | tr -d '\r' | sed 's/^.*G: /VHA-DD guest c12a: /'
		t=$(up); expect "xl destroy c12a" timeout 60 xl destroy c12a
		wait_gone c12a 30 || fail "c12a did not go away"
		echo "VHA-DD xl destroy c12a took $(secs_since $t) s"
		dd_ask 2 released $DA ram0
		expect "c12a's xenstore dir removed" sh -c "! xenstore-exists /local/domain/$DA"
	else
		[ -n "$DA" ] && fail "c12a's disk from the driver domain was not attached"
		dd_ask 9 dump
		[ -n "$DA" ] && { timeout 60 xl destroy c12a; wait_gone c12a 30; }
	fi
	# Guest B: writes in a loop, then the driver domain goes away under them.
	DOMU_KERNEL=$DOMU_KERNEL mkcfg c12b ddloss 384 "$VHA_DISK, vdev=xvda, backend=c12s, target=/dev/ram1" >/dev/null
	if create c12b && DB=$(xl domid c12b) && wait_guest c12b "G: DDLOSS-RUNNING" 120; then
		dd_ask 3 served $DB ram1
		t=$(up); expect "xl destroy c12s (the driver domain) under c12b's I/O" timeout 60 xl destroy c12s
		wait_gone c12s 30 || fail "the driver domain did not go away"
		echo "VHA-DD xl destroy c12s (driver domain, guest c12b writing) took $(secs_since $t) s"
		xenstore-write /local/domain/$DB/data/vha-ddgone 1 && xenstore-chmod /local/domain/$DB/data/vha-ddgone n$DB
		wait_guest c12b "G: DONE" 90 || { fail "guest c12b never reported after its driver domain went away (hung?)"; dump_state; }
		grep -a -E "G: DDLOSS-(RESULT|ERROR|DMESG)" $CL/guest-c12b.log | tr -d '\r' | sed 's/^.*G: /VHA-DD guest c12b: /'
		t=$(up); gone_or_destroy c12b
		echo "VHA-DD c12b gone $(secs_since $t) s after it reported"
	else
		fail "guest c12b did not start its I/O"; dd_ask 10 dump; dump_state
	fi
	for g in c12a c12b c12s; do xl domid $g >/dev/null 2>&1 && { timeout 60 xl destroy $g; wait_gone $g 30; }; done
	guest_checks c12s dd-no-blkback dd-backend-started dd-backend-serves-own-domain dd-devd-started
	[ -n "$DA" ] && guest_checks c12s dd-connected-$DA dd-served-requests-$DA dd-hotplug-connected-$DA \
		dd-backend-dir-gone-$DA dd-device-removed-$DA dd-target-closed-$DA dd-no-grants-mapped-$DA dd-no-budget-held-$DA dd-hotplug-removed-$DA
	[ -n "$DA" ] && guest_checks c12a fio-no-error fio-verified no-io-errors
	[ -n "$DB" ] && guest_checks c12s dd-connected-$DB dd-served-requests-$DB
	[ -n "$DB" ] && guest_checks c12b ddloss-io-before ddloss-write-error ddloss-probe-error
	grep -a -E "G: DD-(RELEASED|STATS|GRANTS)" $CL/guest-c12s.log | tr -d '\r' | sed 's/^.*G: /VHA-DD driver domain: /'
	# dom0 is clean: only itself in xl list, no dying domain, nothing in
	# xenstore of the three domains, its kernel log clean (kernel_clean).
	no_zombies
	expect "xl list shows Domain-0 alone" [ "$(xl list | awk 'NR > 1' | wc -l)" = 1 ]
	expect "/local/domain holds dom0 alone" [ "$(xenstore-list /local/domain | tr '\n' ' ')" = "0 " ]
	ok=1
	for d in $DDID $DA $DB; do
		xenstore-exists /libxl/$d && ok=0
		xenstore-ls -f /local/domain/0 2>/dev/null | grep -q "/vbd/$d/" && ok=0
	done
	expect "no /libxl/<domid> or dom0 backend node left of them" [ $ok = 1 ]
	echo "VHA-DD dom0 after: xl list $(xl list | awk 'NR > 1 {printf "%s ", $1}'); /local/domain: $(xenstore-list /local/domain | tr '\n' ' '); dom0 dmesg lines during the case: $(($(dmesg | wc -l) - KMARK))"
	[ -n "$FAILS" ] && dump_state
}
