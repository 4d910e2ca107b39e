#!/bin/bash
# SPDX-License-Identifier: MIT
# --metrics writes in a directory it shares with others (node_exporter's
# textfile directory, where other collectors and node_exporter's own user
# may write): whoever can write there must not make the daemon (root) write
# or truncate anything else. A symlink or a fifo planted at the old fixed
# temporary name (<file>.tmp) is left alone, its target untouched, and the
# metrics file still appears, readable by others (node_exporter's user).
# vha-test-timeout: 60
. "$(dirname "$0")/lib.sh"
PROM=$SIM/metrics/vha.prom
mkdir -p "$SIM/metrics"
victim=$SIM/victim
echo "precious" >"$victim"
ln -s "$victim" "$PROM.tmp"
start_sim --metrics "$PROM"
"$B/vhactl" sim create-domain 1 >/dev/null || fail "create domain 1"
img=$(make_image disk1.img 4)
"$B/vhactl" attach --frontend-domid 1 --target "$img" >/dev/null || fail "attach"
"$B/vha-frontend" --domid 1 info >/dev/null || fail "info"
kill -USR1 "$BACKEND_PID"; sleep 0.5
[ "$(cat "$victim")" = precious ] || fail "the symlink's target was overwritten: $(head -c 80 "$victim")"
[ -L "$PROM.tmp" ] || fail "the planted symlink was replaced"
grep -q '^vha_devices 1$' "$PROM" || fail "no metrics in $PROM"
[ "$(stat -c %a "$PROM")" = 644 ] || fail "metrics file mode $(stat -c %a "$PROM"), want 644"
ls "$SIM/metrics" | grep -v -e '\.prom$' -e '\.prom\.tmp$' && fail "a temporary file left beside the .prom file"
backend_alive || fail "backend died"
echo "PASS"
