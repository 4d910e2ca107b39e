#!/bin/bash
# SPDX-License-Identifier: MIT
# `make check` entry for the real-Xen suite (tests/xen/run.sh, which is
# `make check-xen`). Skips (exit 77, saying why) when it cannot or should not
# run here: VHA_SKIP_XEN=1, a sanitizer build (SANITIZE=1: the suite boots
# the normal binaries in a guest, and the ASan run would only repeat it),
# no QEMU with TCG, or too little memory. Otherwise it runs the suite with
# a time budget that fits the runner's per-test timeout.
# vha-test-timeout: 1500
set -u
cd "$(dirname "$0")/../.."
[ "${VHA_SKIP_XEN:-0}" = 1 ] && { echo "skip: VHA_SKIP_XEN=1"; exit 77; }
[ "${SANITIZE:-0}" = 1 ] && { echo "skip: SANITIZE=1 (the Xen suite runs in the normal build only)"; exit 77; }
# The host tools come from the installer like every other dependency.
scripts/install-deps.sh --xenlab >/dev/null 2>&1 ||
	{ echo "skip: cannot install qemu-system-x86/busybox-static/cpio (scripts/install-deps.sh --xenlab)"; exit 77; }
command -v qemu-system-x86_64 >/dev/null || { echo "skip: qemu-system-x86_64 not installed"; exit 77; }
qemu-system-x86_64 -accel help 2>/dev/null | grep -qx tcg || { echo "skip: this QEMU has no TCG accelerator"; exit 77; }
avail=$(awk '/MemAvailable/{print int($2 / 1024)}' /proc/meminfo)
[ "${avail:-0}" -ge 3500 ] || { echo "skip: only ${avail} MiB of memory available, the Xen guest needs 3.5 GiB"; exit 77; }
# tests/run-tests.sh gives each test TEST_TIMEOUT (600 s by default): keep
# both boots, a retry and the downloads inside it.
export VHA_XEN_DEADLINE=${VHA_XEN_DEADLINE:-$((${TEST_TIMEOUT:-600} - 30))}
export VHA_XEN_TIMEOUT=${VHA_XEN_TIMEOUT:-700} VHA_XEN_STALL=${VHA_XEN_STALL:-90}
export VHA_XEN_FIO_REPS=${VHA_XEN_FIO_REPS:-1} VHA_XEN_FIO_RUNTIME=${VHA_XEN_FIO_RUNTIME:-4}
# QEMU qdisk (the third column of case 6) sometimes hangs or crashes under
# TCG (XENLAB.md; seen here too): make check leaves it to make check-xen.
export VHA_XEN_QDISK=${VHA_XEN_QDISK:-0}
exec tests/xen/run.sh
