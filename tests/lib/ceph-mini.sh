# SPDX-License-Identifier: MIT
# A throwaway 1-node Ceph cluster for tests, sourced by a test script:
# Debian 12's ceph-mon and ceph-osd (16.2) as plain processes in a private
# directory on 127.0.0.1, memstore, cephx, no systemd, nothing in /etc or
# /var/lib. One monitor, one OSD, a pool "rbd".
#
#   ceph_requires              exit 77 (skip) naming what is missing
#   ceph_start DIR             start; sets CEPH_CONF (exported); returns 1 with the logs shown on failure
#   ceph_stop                  kill the daemons by recorded PID (SIGKILL: memstore's data is thrown
#                              away) and remove DIR; safe to call twice; call it from the test's trap
#   ceph_stop_osd / ceph_start_osd / ceph_wait_osd_up   stop the OSD (SIGTERM: memstore keeps its
#                              content only through a graceful stop, which writes it to DIR/osd.0),
#                              start it again, wait until the monitor has it up
#
# Ports: the monitor on CEPH_PORT (default: a free one from 41000-48999), the OSD
# in CEPH_PORT+100..+199, so tests can run side by side.
# Modelled on shared/cephlab/ceph-mini.sh (reference material), written anew.

CEPH_DIR=
ceph_requires() {
	local t
	for t in ceph-mon ceph-osd ceph ceph-authtool monmaptool rbd uuidgen; do
		command -v "$t" >/dev/null 2>&1 || { echo "skip: $t is not installed (Debian: ceph-mon ceph-osd ceph-common)"; exit 77; }
	done
}

ceph_free_port() {
	local p
	for _ in $(seq 50); do
		p=$((41000 + RANDOM % 8000))
		ss -Htln "sport = :$p" 2>/dev/null | grep -q . && continue
		echo "$p"
		return 0
	done
	echo 41234
}

ceph_stop() {
	local f p
	[ -n "$CEPH_DIR" ] && [ -d "$CEPH_DIR" ] || return 0
	for f in "$CEPH_DIR"/pids/*.pid; do
		[ -e "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
	done
	for f in "$CEPH_DIR"/pids/*.pid; do
		[ -e "$f" ] || continue
		p=$(cat "$f")
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	done
	rm -rf "$CEPH_DIR"
	CEPH_DIR=
}

ceph_show_logs() {
	local l
	for l in "$CEPH_DIR"/log/*; do
		[ -f "$l" ] || continue
		echo "--- $l (last 15 lines) ---"
		tail -n 15 "$l"
	done
}

ceph_start_osd() {
	ceph-osd -c "$CEPH_CONF" -i 0 -f >>"$CEPH_DIR/log/osd.0.out" 2>&1 &
	echo $! >"$CEPH_DIR/pids/osd.0.pid"
	disown $!
}

ceph_stop_osd() {
	local p
	p=$(cat "$CEPH_DIR/pids/osd.0.pid")
	kill -TERM "$p" 2>/dev/null
	for _ in $(seq 600); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.05; done
	return 1
}

ceph_wait_osd_up() {
	for _ in $(seq 300); do
		ceph osd dump 2>/dev/null | grep -q '^osd.0 up' && return 0
		sleep 0.2
	done
	return 1
}

ceph_start() {
	local d=$1 fsid uuid key id i
	CEPH_DIR=$d
	CEPH_PORT=${CEPH_PORT:-$(ceph_free_port)}
	mkdir -p "$d"/{run,log,pids,crash,mon.a,osd.0}
	fsid=$(uuidgen)
	export CEPH_CONF=$d/ceph.conf
	cat >"$CEPH_CONF" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$CEPH_PORT
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind port min = $((CEPH_PORT + 100))
ms bind port max = $((CEPH_PORT + 199))
ms bind msgr1 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $d/keyring
run dir = $d/run
admin socket = $d/run/\$name.\$pid.asok
log file = $d/log/\$name.log
crash dir = $d/crash
pid file = $d/run/\$name.pid
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
auth allow insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false
paxos propose interval = 0.1
# A client killed with SIGKILL holds the image's exclusive lock until its
# watch times out (30 s by default): short here, so a restarted backend
# takes the lock over quickly.
osd client watch timeout = 5

[mon]
mon data = $d/mon.\$id

[osd]
osd data = $d/osd.\$id
keyring = $d/osd.\$id/keyring
osd objectstore = memstore
memstore device bytes = $((${CEPH_OSD_MB:-1024} * 1024 * 1024))
memstore page set = true
memstore page size = 4096
# A SIGTERM unmounts the store, so memstore writes its content out and a restarted OSD has it
# (fast shutdown skips that).
osd fast shutdown = false
osd max object name len = 460
osd max object namespace len = 64
osd scrub begin hour = 0
osd scrub end hour = 0
EOF
	{
		ceph-authtool --create-keyring "$d/mon.keyring" --gen-key -n mon. --cap mon 'allow *' &&
		ceph-authtool --create-keyring "$d/keyring" --gen-key -n client.admin \
			--cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' &&
		ceph-authtool "$d/mon.keyring" --import-keyring "$d/keyring" &&
		monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$CEPH_PORT]" "$d/monmap" &&
		ceph-mon -c "$CEPH_CONF" --mkfs -i a --monmap "$d/monmap" --keyring "$d/mon.keyring"
	} >"$d/log/setup.out" 2>&1 || { cat "$d/log/setup.out"; return 1; }
	ceph-mon -c "$CEPH_CONF" -i a -f >"$d/log/mon.a.out" 2>&1 &
	echo $! >"$d/pids/mon.a.pid"
	disown $!
	for i in $(seq 100); do
		ceph --connect-timeout 2 quorum_status >/dev/null 2>&1 && break
		[ "$i" = 100 ] && { echo "ceph-mini: the monitor did not come up"; ceph_show_logs; return 1; }
		sleep 0.2
	done
	uuid=$(uuidgen)
	key=$(ceph-authtool --gen-print-key)
	echo "{\"cephx_secret\": \"$key\"}" >"$d/osd.0/new.json"
	id=$(ceph osd new "$uuid" -i "$d/osd.0/new.json" 2>>"$d/log/setup.out") || { ceph_show_logs; return 1; }
	[ "$id" = 0 ] || { echo "ceph-mini: unexpected osd id '$id'"; return 1; }
	ceph-authtool --create-keyring "$d/osd.0/keyring" --name osd.0 --add-key "$key" >/dev/null &&
	ceph-osd -c "$CEPH_CONF" -i 0 --mkfs --osd-uuid "$uuid" >"$d/log/osd.0.mkfs.out" 2>&1 ||
		{ echo "ceph-mini: osd mkfs failed"; ceph_show_logs; return 1; }
	ceph_start_osd
	ceph_wait_osd_up || { echo "ceph-mini: the OSD did not come up"; ceph_show_logs; return 1; }
	ceph osd pool create rbd 8 8 >/dev/null 2>&1 || { echo "ceph-mini: pool create failed"; return 1; }
	# Blocks until the PGs are active: the readiness barrier (no mgr here).
	timeout 60 rbd pool init rbd || { echo "ceph-mini: rbd pool init failed"; ceph_show_logs; return 1; }
}
