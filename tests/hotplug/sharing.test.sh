#!/bin/bash
# SPDX-License-Identifier: MIT
# The hotplug script's sharing check (tools/hotplug/vha, Xen's "block"
# rule), run as libxl runs it, against vha-simxenstored through the real
# xenstore-* tools:
#  1. a target nobody uses: connected;
#  2. a file that is another guest's writable disk: refused for w and for r,
#     with hotplug-error, hotplug-status=error, exit 1 and a log line;
#  3. mode w! on it: connected, the check skipped (and logged);
#  4. read-only sharing (both r): connected; w beside another's r: refused;
#  5. another domain of the same VM (same vm path): not a conflict;
#  6. a device mounted here (a /proc/mounts stand-in, VHA_HOTPLUG_MOUNTS):
#     w refused, r refused read-write but allowed read-only;
#  7. a file loop-mounted here for real (root, mkfs.ext4, mount): refused.
#  8. another name of the same file that no path resolution finds (a hard
#     link): refused, the file is compared by device and inode;
#  9. two guests' adds of one target at the same time (libxl runs hotplug
#     scripts of different domains concurrently): exactly one connects;
# 10. null:, and rbd:/nbd: with no vha-backend to check them: connected;
# 11. rbd: and nbd: opened once by vha-backend --check-target: a server or
#     cluster that does not answer, or a bad target, fails the add with the
#     reason; a live nbdkit connects.
set -u
cd "$(dirname "$0")/../.."
B=${VHA_BUILD:-$PWD/build}
SCRIPT=$PWD/tools/hotplug/vha
# The shell that runs the script: dash here; HOTPLUG_SH="busybox sh" as in the Xen suite's dom0.
HOTPLUG_SH=${HOTPLUG_SH:-sh}
[ -x "$B/vha-simxenstored" ] || { echo "skip: $B/vha-simxenstored is not built"; exit 77; }
for t in xenstore-write xenstore-read xenstore-rm xenstore-list; do
	command -v $t >/dev/null || { echo "skip: $t is not installed (xenstore-utils; make deps installs it)"; exit 77; }
done
D=$(mktemp -d /tmp/vha-hotplug-XXXXXX)
MNT=""
cleanup() {
	[ -n "$MNT" ] && umount "$MNT" 2>/dev/null
	kill "$(cat "$D/pid" 2>/dev/null)" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
"$B/vha-simxenstored" --dir "$D/xs" --daemon --pid-file "$D/pid" || { echo "FAIL: simxenstored"; exit 1; }
export XENSTORED_PATH=$D/xs/socket VHA_HOTPLUG_LOG=$D/hotplug.log VHA_HOTPLUG_LOCK=$D/lock/vha.lock VHA_HOTPLUG_TIMEOUT=2 XENBUS_TYPE=vbd
fail() { echo "FAIL: $*"; [ -f "$D/hotplug.log" ] && tail -5 "$D/hotplug.log"; exit 1; }
note() { echo "== $*"; }

img=$D/disk.img
truncate -s 16M "$img"

# disk DOMID MODE TARGET: a backend directory as libxl leaves it for "add"
# (vha-backend has moved it to InitWait).
disk() {
	xenstore-rm "backend/vbd/$1" 2>/dev/null
	xenstore-write "backend/vbd/$1/51712/params" "$3" "backend/vbd/$1/51712/mode" "$2" \
		"backend/vbd/$1/51712/state" 2 || fail "xenstore-write"
}
# add DOMID: runs the script; prints hotplug-status, returns its exit code.
add() {
	XENBUS_PATH=backend/vbd/$1/51712 $HOTPLUG_SH "$SCRIPT" add 2>"$D/stderr"
}
status() { xenstore-read "backend/vbd/$1/51712/hotplug-status" 2>/dev/null; }
hp_error() { xenstore-read "backend/vbd/$1/51712/hotplug-error" 2>/dev/null; }
# expect_ok DOMID WHAT / expect_refused DOMID WHAT PATTERN
expect_ok() {
	add "$1" || fail "$2: add exited $?: $(cat "$D/stderr")"
	[ "$(status "$1")" = connected ] || fail "$2: hotplug-status $(status "$1")"
	echo "ok: $2: connected"
}
expect_refused() {
	add "$1" && fail "$2: add accepted it"
	[ "$(status "$1")" = error ] || fail "$2: hotplug-status '$(status "$1")', want error"
	hp_error "$1" | grep -q -- "$3" || fail "$2: hotplug-error '$(hp_error "$1")' does not say '$3'"
	grep -q -- "$3" "$D/stderr" || fail "$2: stderr does not say it: $(cat "$D/stderr")"
	tail -1 "$D/hotplug.log" | grep -q "error: .*$3" || fail "$2: the log does not say it"
	echo "ok: $2: refused: $(hp_error "$1")"
}

note "1. a target nobody uses"
disk 1 w "$img"
expect_ok 1 "w, alone"

note "2. another guest's writable disk"
disk 2 w "$img"
expect_refused 2 "w beside domain 1's w" "is already domain 1's disk 51712 (mode w)"
disk 2 r "$img"
expect_refused 2 "r beside domain 1's w" "is already domain 1's disk 51712 (mode w)"
# Through another name of the same file, and a prefix.
ln -s "$img" "$D/alias.img"
disk 2 w "file:$D/alias.img"
expect_refused 2 "w through a symlink and file:" "is already domain 1's disk"
grep -q "mode w! forces it" "$D/stderr" || fail "the message does not name the way to force it"

note "3. mode w! forces it"
disk 2 'w!' "$img"
expect_ok 2 "w! beside domain 1's w"
grep -q "mode w!: $img not checked for sharing" "$D/hotplug.log" || fail "w! not logged"

note "4. read-only sharing"
xenstore-rm backend/vbd/2
disk 1 r "$img"
expect_ok 1 "r, alone"
disk 2 r "$img"
expect_ok 2 "r beside domain 1's r"
disk 3 w "$img"
expect_refused 3 "w beside domain 1's and 2's r" "is already domain [12]'s disk 51712 (mode r)"
# A device whose add failed does not hold the target.
xenstore-rm backend/vbd/1
xenstore-rm backend/vbd/2
disk 3 w "$img"
expect_ok 3 "w once the readers are gone (domain 3's refused try left behind)"

note "5. the same VM (a localhost migration's new domain)"
xenstore-write /local/domain/3/vm /vm/guest-a /local/domain/4/vm /vm/guest-a /local/domain/5/vm /vm/guest-b
disk 4 w "$img"
expect_ok 4 "w beside the same VM's w"
disk 5 w "$img"
expect_refused 5 "w beside another VM's w" "is already domain [34]'s disk"

note "6. mounted in this domain (a /proc/mounts stand-in)"
xenstore-rm backend/vbd
dev=""
for d in /dev/loop0 /dev/loop1 /dev/loop7 /dev/null; do [ -b "$d" ] && { dev=$d; break; }; done
if [ -z "$dev" ]; then
	echo "note: no block device to try a mount on; case 6 not run"
else
	export VHA_HOTPLUG_MOUNTS=$D/mounts
	echo "$dev /srv/data ext4 rw,relatime 0 0" >"$D/mounts"
	disk 1 r "$dev"
	expect_refused 1 "r on $dev mounted read-write" "$dev is mounted on /srv/data in this domain"
	if [ -w "$dev" ]; then
		disk 1 w "$dev"
		expect_refused 1 "w on $dev mounted read-write" "is mounted on /srv/data"
	fi
	echo "$dev /srv/data ext4 ro,relatime 0 0" >"$D/mounts"
	disk 1 r "$dev"
	expect_ok 1 "r on $dev mounted read-only"
	if [ -w "$dev" ]; then
		disk 2 w "$dev"
		expect_refused 2 "w on $dev mounted read-only" "is mounted on /srv/data"
	fi
	unset VHA_HOTPLUG_MOUNTS
fi

note "10. targets with no local path (engines) are not stat'ed"
# No vha-backend to check rbd: and nbd: with: they connect, and the log says they were not checked.
export VHA_HOTPLUG_BACKEND=$D/no-vha-backend
for t in null:64m rbd:pool/image nbd:unix:/run/nbd.sock; do
	xenstore-rm backend/vbd
	disk 1 w "$t"
	expect_ok 1 "$t"
	disk 2 w "$t"
	expect_ok 2 "$t beside domain 1's (the engine's own sharing rules apply)"
done
grep -q "rbd:pool/image: not checked" "$D/hotplug.log" || fail "no log line saying rbd: was not checked"
disk 1 w "$D/no-such-file"
expect_refused 1 "a path that does not exist" "is neither a block device nor a regular file"

note "11. rbd: and nbd: targets are opened once (vha-backend --check-target)"
if [ -x "$B/vha-backend" ]; then
	export VHA_HOTPLUG_BACKEND=$B/vha-backend
	xenstore-rm backend/vbd
	disk 1 w "nbd:unix:$D/no-server.sock"
	expect_refused 1 "an nbd socket nobody listens on" "cannot open nbd:unix:$D/no-server.sock: nbd server"
	printf '[global]\nmon host = v2:127.0.0.1:9\nauth client required = none\n' >"$D/nomon.conf"
	disk 1 w "rbd:rbd/disk:conf=$D/nomon.conf"
	expect_refused 1 "an rbd cluster whose monitor does not answer" "cannot connect to the Ceph cluster"
	disk 1 w "rbd:"
	expect_refused 1 "an rbd: target without an image" "is not a target: rbd wants POOL/IMAGE"
	if command -v nbdkit >/dev/null 2>&1; then
		nbdkit -f --unix "$D/nbd.sock" memory 16M >"$D/nbdkit.log" 2>&1 &
		nbdkit_pid=$!
		for _ in $(seq 50); do [ -S "$D/nbd.sock" ] && break; sleep 0.1; done
		disk 1 w "nbd:unix:$D/nbd.sock"
		expect_ok 1 "an nbd server that answers"
		kill $nbdkit_pid
	else
		echo "the live nbd server part skipped: nbdkit is not installed"
	fi
	unset VHA_HOTPLUG_BACKEND
else
	echo "section 11 skipped: $B/vha-backend is not built"
fi

note "7. a file loop-mounted here for real"
xenstore-rm backend/vbd
if [ "$(id -u)" != 0 ] || ! command -v mkfs.ext4 >/dev/null; then
	echo "note: needs root and mkfs.ext4; case 7 not run"
elif ! mkfs.ext4 -q -F "$img" >/dev/null 2>&1 || ! mkdir -p "$D/mnt" || ! mount -o loop "$img" "$D/mnt" 2>"$D/mount.err"; then
	echo "note: cannot loop-mount here ($(cat "$D/mount.err" 2>/dev/null)); case 7 not run"
else
	MNT=$D/mnt
	disk 1 w "$img"
	expect_refused 1 "w on a loop-mounted image" "$img is mounted on $D/mnt in this domain (/dev/loop"
	disk 1 r "$img"
	expect_refused 1 "r on a read-write loop-mounted image" "is mounted on $D/mnt"
	umount "$MNT" && MNT=""
	disk 1 w "$img"
	expect_ok 1 "w once unmounted"
fi
note "8. a hard link to another guest's disk"
xenstore-rm backend/vbd
ln "$img" "$D/hard.img" || fail "ln"
disk 1 w "$img"
expect_ok 1 "w, alone"
disk 2 w "$D/hard.img"
expect_refused 2 "w through a hard link" "is already domain 1's disk 51712 (mode w)"
rm -f "$D/hard.img"

note "9. two adds of one target at once"
xenstore-rm backend/vbd
# Both start before vha-backend has claimed either device, as two "xl
# create" (or xl devd) may; then the backend moves both to InitWait.
for d in 1 2; do
	xenstore-write "backend/vbd/$d/51712/params" "$img" "backend/vbd/$d/51712/mode" w \
		"backend/vbd/$d/51712/state" 1 || fail "xenstore-write"
done
for d in 1 2; do
	(XENBUS_PATH=backend/vbd/$d/51712 VHA_HOTPLUG_TIMEOUT=6 $HOTPLUG_SH "$SCRIPT" add 2>"$D/stderr$d"
	 echo $? >"$D/rc$d") &
done
sleep 1
xenstore-write backend/vbd/1/51712/state 2 backend/vbd/2/51712/state 2
wait
connected=0
for d in 1 2; do
	[ "$(status $d)" = connected ] && connected=$((connected + 1))
	echo "domain $d: exit $(cat "$D/rc$d"), hotplug-status $(status $d) $(hp_error $d)"
done
[ $connected = 1 ] || fail "two adds at once: $connected of 2 connected the same writable target, want 1"
echo "ok: two adds at once: one connected, one refused"
echo PASS
