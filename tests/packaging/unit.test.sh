#!/bin/bash
# SPDX-License-Identifier: MIT
# tools/systemd/vha-backend.service, the unit the vha-backend package ships:
# systemd-analyze verify accepts it (no running systemd needed) with no
# complaint, its man: links resolve, and the daemon accepts the arguments
# its ExecStart gives together with the shipped configuration file
# (tools/config/vha-backend.conf, /etc/vha/vha-backend.conf once installed).
# The settings takeover depends on are there: make check-deb verifies the
# installed unit again in a fresh Debian chroot.
set -u
cd "$(dirname "$0")/../.."
B=${VHA_BUILD:-$PWD/build}
UNIT=tools/systemd/vha-backend.service
CONF=tools/config/vha-backend.conf
[ -x "$B/vha-backend" ] || { echo "skip: $B/vha-backend is not built"; exit 77; }
command -v systemd-analyze >/dev/null || { echo "skip: systemd-analyze is not installed (package systemd)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# The unit with ExecStart pointing at the built daemon, and the man pages
# it links to where man finds them.
sed "s|/usr/sbin/vha-backend|$B/vha-backend|" "$UNIT" >"$tmp/vha-backend.service"
for m in "$B"/man/*.[0-9]; do
	mkdir -p "$tmp/man/man${m##*.}" && ln -s "$m" "$tmp/man/man${m##*.}/"
done
if ! MANPATH=$tmp/man systemd-analyze verify "$tmp/vha-backend.service" >"$tmp/verify.log" 2>&1 ||
	[ -s "$tmp/verify.log" ]; then
	cat "$tmp/verify.log"
	fail "systemd-analyze verify rejects or complains about $UNIT"
fi
echo "ok: systemd-analyze verify $UNIT: no complaint"

# What a stop, a restart and an upgrade rely on (docs/packaging.md).
for want in Type=notify KillSignal=SIGUSR2 KillMode=mixed Restart=on-failure RuntimeDirectory=vha-backend \
	RuntimeDirectoryPreserve=yes WatchdogSec= ProtectSystem=strict DevicePolicy=closed \
	"DeviceAllow=/dev/xen/gntdev rw" "DeviceAllow=/dev/xen/evtchn rw"; do
	grep -q "^$want" "$UNIT" || fail "$UNIT has no $want"
done
echo "ok: notify, the handoff stop, restart on failure, the preserved state directory, hardening"

# ExecStart's arguments and the shipped configuration, parsed by the daemon.
args=$(sed -n 's|^ExecStart=/usr/sbin/vha-backend ||p' "$UNIT")
[ -n "$args" ] || fail "no ExecStart=/usr/sbin/vha-backend line"
case " $args " in *" --foreground "*) ;; *) fail "ExecStart without --foreground (Type=notify needs it)" ;; esac
# shellcheck disable=SC2086
"$B/vha-backend" ${args//\/etc\/vha\/vha-backend.conf/$CONF} --help >/dev/null ||
	fail "vha-backend rejects ExecStart's arguments or $CONF"
echo "ok: vha-backend accepts '$args' with $CONF"
echo PASS
