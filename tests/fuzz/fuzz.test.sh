#!/bin/bash
# SPDX-License-Identifier: MIT
# make check's fuzz regression: build every libFuzzer target (clang) and run
# each briefly on its seed corpus. Longer runs: make check-fuzz FUZZ_SECONDS=600.
set -u
cd "$(dirname "$0")/../.."
[ "${VHA_SKIP_FUZZ:-0}" = 1 ] && { echo "skip: VHA_SKIP_FUZZ=1"; exit 77; }
scripts/install-deps.sh --fuzz >/dev/null 2>&1 || { echo "skip: cannot install clang for libFuzzer"; exit 77; }
make --no-print-directory fuzz >/dev/null || { echo "FAIL: fuzz targets do not build"; exit 1; }
FUZZ_SECONDS=${FUZZ_SECONDS:-10} exec tests/fuzz/run-fuzz.sh build-fuzz/fuzz_*
