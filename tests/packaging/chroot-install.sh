#!/bin/bash
# SPDX-License-Identifier: MIT
# make check-deb: the packages of make deb ($BUILD/deb/*.deb) installed as on
# a fresh machine, into a brand-new Debian 12 chroot (debootstrap
# --variant=minbase bookworm, from the mirror this machine's apt uses), with
# `apt-get install ./*.deb`. Then, inside it:
#  - every program runs (--version), the hotplug script is in place, and the
#    daemon accepts the shipped /etc/vha/vha-backend.conf;
#  - every man page of the packages renders (groff -ww: no warning; man -l);
#  - systemd-analyze verify accepts the installed unit, and it is enabled;
#  - a program built with `pkg-config vhafront` links against
#    libvhafront.so.0 from /usr/lib/<multiarch> and runs;
#  - the maintainer scripts: a reinstall (the upgrade path); a removal while
#    the daemon serves a connected disk (on the sim platform, with the state
#    directory the unit uses), which must close it (prerm: SIGTERM) and stop
#    the daemon; and an install again. No systemd runs in the chroot.
# Needs root, debootstrap and the network: exits 77 (skipped) with the
# reason when one is missing. Slow (minutes): not part of make check.
# Environment: BUILD, VHA_DEB_MIRROR (default: from /etc/apt/sources*),
# VHA_DEB_SECURITY_MIRROR, VHA_KEEP_CHROOT=1 (leave it for a look).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
DEBS=$BUILD/deb
skip() { echo "skip: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
t0=$SECONDS
# phase NAME: a step begins; the summary at the end says how long each took.
phase_name="" phase_start=$SECONDS timings=""
phase() {
	[ -n "$phase_name" ] && timings+=$(printf '%5s s  %s' $((SECONDS - phase_start)) "$phase_name")$'\n'
	phase_name=$1 phase_start=$SECONDS
	[ -n "$1" ] && echo "== $1"
}

[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, chroot, mount)"
command -v debootstrap >/dev/null || skip "debootstrap is not installed (scripts/install-deps.sh --chroot; make check-deb installs it)"
debs=$(ls "$DEBS"/*.deb 2>/dev/null | grep -v -- '-dbgsym_')
[ -n "$debs" ] || fail "no packages in $DEBS/: run make deb (make check-deb does)"

# The Debian mirror this machine's apt uses, for bookworm and its security
# suite: one-line sources.list entries or deb822 .sources stanzas.
mirror_for() {
	local suite=$1
	{
		cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			awk -v s="$suite" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { u = $i; if ($(i + 1) == s) print u; break } }'
		for f in /etc/apt/sources.list.d/*.sources; do
			[ -f "$f" ] || continue
			awk -v s="$suite" 'BEGIN { RS = ""; FS = "\n" } {
				uris = ""; ok = 0
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); uris = $i }
					if ($i ~ /^Suites:/) { n = split(substr($i, 8), a, /[ \t]+/); for (j = 1; j <= n; j++) if (a[j] == s) ok = 1 }
				}
				if (ok && uris != "") { split(uris, u, /[ \t]+/); print u[1] }
			}' "$f"
		done
	} | head -1
}
MIRROR=${VHA_DEB_MIRROR:-$(mirror_for bookworm)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY=${VHA_DEB_SECURITY_MIRROR:-$(mirror_for bookworm-security)}
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}
echo "mirror: $MIRROR (security: $SECURITY)"

# The network: the mirror's host must answer on its port.
hostport=$(echo "$MIRROR" | sed -E 's|^[a-z]+://([^/]+).*|\1|')
host=${hostport%%:*}
case $MIRROR in https://*) port=443 ;; *) port=80 ;; esac
[ "$hostport" != "$host" ] && port=${hostport##*:}
getent hosts "$host" >/dev/null || skip "no network: cannot resolve $host"
timeout 10 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null || skip "no network: $host:$port does not answer"

ROOT=$(mktemp -d /var/tmp/vha-chroot.XXXXXX)
# A root directory others can enter, as on a real machine (mandb, apt's
# sandbox user and the like drop root).
chmod 755 "$ROOT"
cleanup() {
	local rc=$?
	# Whatever still runs inside (the sim of the removal step, on failure).
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ] && kill -9 "${p#/proc/}" 2>/dev/null
	done
	for m in dev/pts proc sys; do mountpoint -q "$ROOT/$m" && umount -l "$ROOT/$m"; done
	if [ "${VHA_KEEP_CHROOT:-0}" = 1 ]; then echo "chroot kept: $ROOT"; else rm -rf --one-file-system "$ROOT"; fi
	exit $rc
}
trap cleanup EXIT
in_root() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
	DEBIAN_FRONTEND=noninteractive "$@"; }
LOG=$DEBS/check-deb.log
: >"$LOG"
echo "log: $LOG"

phase "debootstrap --variant=minbase bookworm $ROOT $MIRROR"
debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >>"$LOG" 2>&1 ||
	{ tail -n 20 "$LOG"; fail "debootstrap failed (log: $LOG)"; }
cat >"$ROOT/etc/apt/sources.list" <<SRC
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY bookworm-security main
SRC
# As in any chroot: no service is started by a package.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"
mount -t proc proc "$ROOT/proc"
mount -t sysfs sysfs "$ROOT/sys"
echo "chroot: $(du -sh --one-file-system "$ROOT" | cut -f1), $(in_root dpkg-query -W | wc -l) packages"

phase "a fresh machine's tools: apt-get install systemd man-db"
{ in_root apt-get update -q && in_root apt-get install -y -q --no-install-recommends systemd man-db; } >>"$LOG" 2>&1 ||
	{ tail -n 20 "$LOG"; fail "apt-get install systemd man-db failed (log: $LOG)"; }

phase "apt-get install ./*.deb: $(echo $debs | xargs -n1 basename | tr '\n' ' ')"
mkdir -p "$ROOT/tmp/debs"
cp $debs "$ROOT/tmp/debs/"
chmod 755 "$ROOT/tmp/debs" && chmod 644 "$ROOT"/tmp/debs/*.deb
in_root sh -c 'cd /tmp/debs && apt-get install -y -q ./*.deb' >>"$LOG" 2>&1 ||
	{ tail -n 30 "$LOG"; fail "apt-get install ./*.deb failed (log: $LOG)"; }
in_root dpkg-query -W -f '${Package} ${Version} ${Status}\n' vha-backend vha-utils libvhafront0 libvhafront-dev |
	tee -a "$LOG" | grep -vc "install ok installed" | grep -qx 0 || fail "a package is not installed"

phase "the programs"
for p in /usr/sbin/vha-backend /usr/sbin/vhactl /usr/sbin/vha-simxenstored /usr/bin/vha-frontend; do
	v=$(in_root "$p" --version 2>&1) || fail "$p --version failed: $v"
	echo "ok: $v"
done
[ -x "$ROOT/etc/xen/scripts/vha" ] || fail "/etc/xen/scripts/vha is missing or not executable"
in_root sh -n /etc/xen/scripts/vha || fail "/etc/xen/scripts/vha does not parse"
in_root /usr/sbin/vha-backend --config /etc/vha/vha-backend.conf --help >/dev/null ||
	fail "vha-backend rejects /etc/vha/vha-backend.conf"
echo "ok: the hotplug script, and the daemon accepts /etc/vha/vha-backend.conf"

phase "the man pages"
pages=$(in_root dpkg -L vha-backend vha-utils libvhafront-dev | grep '^/usr/share/man/.*\.gz$')
[ "$(echo "$pages" | wc -l)" -ge 7 ] || fail "expected 7 man pages, found: $pages"
for m in $pages; do
	warn=$(in_root sh -c "zcat $m | groff -man -Tutf8 -ww -z" 2>&1)
	[ -z "$warn" ] || fail "$m: groff warns: $warn"
	in_root env MANWIDTH=80 man -l "$m" 2>/dev/null | grep -q '^NAME' || fail "man -l $m does not render"
	echo "ok: $m renders"
done
in_root man -w vha-backend.conf >/dev/null || fail "man cannot find vha-backend.conf(5)"

phase "the unit"
out=$(in_root systemd-analyze verify /lib/systemd/system/vha-backend.service 2>&1)
rc=$?
[ $rc -eq 0 ] && [ -z "$out" ] || fail "systemd-analyze verify (exit $rc): $out"
echo "ok: systemd-analyze verify /lib/systemd/system/vha-backend.service: no complaint"
[ -L "$ROOT/etc/systemd/system/multi-user.target.wants/vha-backend.service" ] ||
	fail "vha-backend.service is not enabled after install"
echo "ok: enabled (multi-user.target.wants)"

phase "libvhafront-dev: apt-get install gcc libc6-dev pkgconf; a program over pkg-config vhafront"
in_root apt-get install -y -q --no-install-recommends gcc libc6-dev pkgconf >>"$LOG" 2>&1 ||
	{ tail -n 20 "$LOG"; fail "apt-get install gcc failed (log: $LOG)"; }
cat >"$ROOT/tmp/user.c" <<'C'
#include <stdio.h>
#include <vha/front.h>
#include <vha/log.h>
int main(void)
{
	struct vha_platform_config cfg = { .kind = "no-such-platform" };
	struct vha_platform *p = NULL;

	vha_log_set_threshold(VHA_LOG_ERROR);
	if (vha_platform_open(&cfg, &p) == 0)
		return 1;
	printf("libvhafront says: %s\n", vha_platform_strerror());
	return 0;
}
C
in_root sh -c 'cc -std=gnu11 -Wall -Werror $(pkg-config --cflags vhafront) -o /tmp/user /tmp/user.c $(pkg-config --libs vhafront)' ||
	fail "a program does not build with pkg-config vhafront"
in_root ldd /tmp/user | grep -qE 'libvhafront.so.0 => (/usr)?/lib/[^ ]*/libvhafront.so.0' || fail "the program does not use the installed libvhafront.so.0"
in_root /tmp/user >/dev/null 2>&1 || fail "the program over libvhafront.so.0 failed"
echo "ok: $(in_root /tmp/user 2>/dev/null)"

phase "maintainer scripts: reinstall (the upgrade path)"
in_root sh -c 'cd /tmp/debs && apt-get install -y -q --reinstall ./vha-backend_*.deb' >>"$LOG" 2>&1 ||
	{ tail -n 30 "$LOG"; fail "reinstall failed (log: $LOG)"; }
echo "ok: reinstall"

phase "maintainer scripts: removal while the daemon serves a connected disk (sim platform)"
sim() { in_root env VHA_PLATFORM=sim VHA_SIM_DIR=/tmp/vha-sim "$@"; }
xs_state() { in_root env XENSTORED_PATH=/tmp/vha-sim/xenstore/socket xenstore-read /local/domain/0/backend/vbd/1/51712/state; }
{ sim vhactl sim start && sim vha-backend --state-dir /run/vha-backend && sim vhactl sim create-domain 1 &&
	in_root truncate -s 16M /tmp/disk.img && sim vhactl attach --frontend-domid 1 --target /tmp/disk.img; } >>"$LOG" 2>&1 ||
	{ tail -n 20 "$LOG"; fail "the sim, the daemon or the attach did not start (log: $LOG)"; }
pid=$(cat "$ROOT/run/vha-backend/pid")
sim sh -c 'vha-frontend --domid 1 verify --random 100000000 --seed 1 >/tmp/frontend.log 2>&1 & echo $! >/tmp/frontend.pid'
for _ in $(seq 50); do [ "$(xs_state)" = 4 ] && break; sleep 0.2; done
[ "$(xs_state)" = 4 ] || fail "the device did not connect (state $(xs_state))"
in_root apt-get remove -y -q vha-backend >"$ROOT/tmp/remove.log" 2>&1 || { cat "$ROOT/tmp/remove.log"; fail "apt-get remove vha-backend failed"; }
cat "$ROOT/tmp/remove.log" >>"$LOG"
grep -q "closing every device before removal" "$ROOT/tmp/remove.log" || fail "the prerm did not stop the daemon"
kill -0 "$pid" 2>/dev/null && fail "vha-backend still runs after the removal"
[ "$(xs_state)" = 6 ] || fail "device state $(xs_state) after the removal, want 6 (Closed)"
grep -q "shutting down" "$ROOT/run/vha-backend/log" || fail "the daemon did not log an orderly stop"
kill "$(cat "$ROOT/tmp/frontend.pid")" 2>/dev/null
sim vhactl sim stop >>"$LOG" 2>&1
echo "ok: removal: the daemon closed the connected device (state 6) and exited"

phase "maintainer scripts: install again"
in_root sh -c 'cd /tmp/debs && apt-get install -y -q ./vha-backend_*.deb' >>"$LOG" 2>&1 ||
	{ tail -n 30 "$LOG"; fail "install again failed (log: $LOG)"; }
[ -f "$ROOT/etc/vha/vha-backend.conf" ] || fail "/etc/vha/vha-backend.conf is gone after remove and install"
echo "ok: install again"

phase ""
printf '%s' "$timings"
echo "PASS: the packages install and work in a fresh Debian 12 chroot ($((SECONDS - t0)) s in all)"
