#!/bin/bash
# SPDX-License-Identifier: MIT
# vha-backend's log lines and log file (backend/logging.c):
#  1. a daemon's lines in <state-dir>/log start with an RFC 3339 UTC time
#     with milliseconds and vha-backend[<pid>], the message text unchanged;
#  2. --log-file PATH: the same there; after logrotate-style moving of the
#     file, SIGHUP makes the daemon write a new file at PATH, and the moved
#     one gets nothing more;
#  3. stderr that is the journal ($JOURNAL_STREAM = its dev:ino): "<N>"
#     priority prefixes and no time; a JOURNAL_STREAM naming another file
#     changes nothing;
#  4. a --log-file that cannot be opened: exit 1 with the reason, nothing
#     started;
#  5. the package's logrotate snippet (debian/vha-backend.logrotate, its
#     paths moved into the sim dir), run by logrotate when installed:
#     rotated, and the daemon writes to a new file.
# vha-test-timeout: 60
. "$(dirname "$0")/lib.sh"
STAMP='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

# every_line_plain FILE PID: every line has the time and pid prefix.
every_line_plain() {
	local bad
	[ -s "$1" ] || fail "$1 is empty"
	bad=$(grep -vE "$STAMP vha-backend\[$2\]: (error|warn|info|debug): " "$1")
	[ -z "$bad" ] || fail "lines of $1 without the time and pid prefix: $bad"
}
wait_line() {
	local i
	for i in $(seq 50); do grep -q -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	fail "no '$2' in $1: $(cat "$1" 2>/dev/null)"
}
stop_backend() {
	kill -TERM "$BACKEND_PID"
	for _ in $(seq 100); do backend_alive || return 0; sleep 0.1; done
	fail "vha-backend still runs 10 s after SIGTERM"
}

note "1. a daemon's log: time and pid"
start_sim
LOG=$SIM/run/backend-0/log
wait_line "$LOG" "serving /local/domain/0/backend/vbd"
every_line_plain "$LOG" "$BACKEND_PID"
head -1 "$LOG"
# The time is now's (UTC), to the second or so.
t=$(head -1 "$LOG" | cut -c1-19)
d=$(( $(date -u +%s) - $(date -u -d "$t" +%s) ))
[ $d -ge 0 ] && [ $d -le 30 ] || fail "log time $t is $d s away from now (UTC)"
note "   SIGHUP reopens <state-dir>/log too"
mv "$LOG" "$LOG.1"
kill -HUP "$BACKEND_PID"
wait_line "$LOG" "SIGHUP: log file reopened"
stop_backend
wait_line "$LOG" "shutting down"
grep -q "shutting down" "$LOG.1" && fail "the moved log still got lines after SIGHUP"
every_line_plain "$LOG" "$BACKEND_PID"

note "2. --log-file, moved, SIGHUP: a new file at the same path"
LF=$SIM/logs/backend.log
mkdir -p "$SIM/logs"
start_backend --log-file "$LF"
wait_line "$LF" "serving /local/domain/0/backend/vbd"
every_line_plain "$LF" "$BACKEND_PID"
mv "$LF" "$LF.1"
kill -HUP "$BACKEND_PID"
wait_line "$LF" "SIGHUP: log file reopened"
"$B/vhactl" sim create-domain 1 >/dev/null || fail "create domain"
img=$(make_image disk.img 4)
"$B/vhactl" attach --frontend-domid 1 --target "$img" >/dev/null || fail "attach"
"$B/vhactl" detach --frontend-domid 1 >/dev/null || fail "detach"
wait_line "$LF" "removed"
stop_backend
wait_line "$LF" "shutting down"
every_line_plain "$LF" "$BACKEND_PID"
[ "$(wc -l <"$LF.1")" -ge 1 ] || fail "the moved log lost its lines"
grep -qE "reopened|removed|shutting down" "$LF.1" && fail "the moved log got lines after SIGHUP: $(cat "$LF.1")"
echo "moved file: $(wc -l <"$LF.1") line(s); new file: $(wc -l <"$LF") line(s)"

note "3. the journal: <N> priorities, no time"
JL=$SIM/journal.log
: >"$JL"
JOURNAL_STREAM=$(stat -c '%d:%i' "$JL") "$B/vha-backend" --foreground --log-level info 2>>"$JL" &
BACKEND_PID=$!
wait_line "$JL" "serving /local/domain/0/backend/vbd"
stop_backend
wait_line "$JL" "shutting down"
cat "$JL"
bad=$(grep -vE '^<[3467]>(error|warn|info|debug): ' "$JL")
[ -z "$bad" ] || fail "journal lines without a <N> prefix: $bad"
grep -q '^<6>info: serving /local/domain/0/backend/vbd' "$JL" || fail "no <6> on an info line"
grep -qE "$STAMP|vha-backend\[" "$JL" && fail "the journal got a time or pid prefix"
note "   JOURNAL_STREAM naming another file: plain lines"
: >"$SIM/other"
JOURNAL_STREAM=$(stat -c '%d:%i' "$SIM/other") "$B/vha-backend" --foreground 2>"$SIM/fg.log" &
BACKEND_PID=$!
wait_line "$SIM/fg.log" "serving"
stop_backend
every_line_plain "$SIM/fg.log" "$BACKEND_PID"

note "4. a log file that cannot be opened"
out=$("$B/vha-backend" --log-file "$SIM/no/such/dir/log" 2>&1); rc=$?
[ $rc -eq 1 ] || fail "exit $rc for an unopenable --log-file, want 1"
echo "$out" | grep -q "^vha-backend: cannot open log file $SIM/no/such/dir/log: No such file or directory$" ||
	fail "unexpected message: $out"
[ -e "$SIM/run/backend-0/pid" ] && fail "a daemon started anyway"
note "5. the logrotate snippet"
if ! command -v logrotate >/dev/null; then
	echo "note: logrotate is not installed (make deps installs it); case 5 not run"
else
	mkdir -p "$SIM/var-log"
	start_backend --log-file "$SIM/var-log/vha-backend.log"
	wait_line "$SIM/var-log/vha-backend.log" "serving"
	sed -e "s|/var/log/vha-backend|$SIM/var-log|" -e "s|/run/vha-backend/pid|$SIM/run/backend-0/pid|g" \
		"$(dirname "$0")/../../debian/vha-backend.logrotate" >"$SIM/logrotate.conf"
	logrotate -f -s "$SIM/logrotate.state" "$SIM/logrotate.conf" || fail "logrotate failed"
	[ -s "$SIM/var-log/vha-backend.log.1" ] || fail "logrotate did not rotate: $(ls "$SIM/var-log")"
	wait_line "$SIM/var-log/vha-backend.log" "SIGHUP: log file reopened"
	stop_backend
	echo "rotated: $(ls "$SIM/var-log" | tr '\n' ' ')"
fi
echo PASS
