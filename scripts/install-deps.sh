#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages vha needs to build and test, when missing.
# `make deps` runs it (with --announce), and so do make check, make demo
# and the other targets that run things; safe to run again. Needs root (or
# sudo) only when something is actually missing.
#   --check     install nothing: exit 1 naming what the build lacks, and
#               `make deps` (what a plain `make` runs)
#   --announce  say what it did as "make deps: ...", also when nothing
#               was missing
set -eu

# What `make` (programs, tests, man pages) needs, and what running the tests adds.
build="build-essential pkg-config libxen-dev liburing-dev libcmocka-dev libsystemd-dev libjson-c-dev scdoc"
run="xenstore-utils fio python3 python3-prometheus-client logrotate"
# The rbd engine builds on librbd; its test runs a 1-node Ceph cluster (tests/lib/ceph-mini.sh).
build="$build librbd-dev"
run="$run ceph-mon ceph-osd ceph-common"
# The nbd engine builds on libnbd; its test serves exports with nbdkit (memory and file plugins).
build="$build libnbd-dev"
run="$run nbdkit"
base="$build $run"
extra=""
check=0
who=install-deps
for arg in "$@"; do
	case "$arg" in
	--check) check=1; base=$build ;;
	--announce) who="make deps" ;;
	--sanitizers) extra="$extra clang libclang-rt-14-dev" ;;
	--fuzz) extra="$extra clang libclang-rt-14-dev" ;;
	--valgrind) extra="$extra valgrind" ;;
	--xenlab) extra="$extra qemu-system-x86 busybox-static cpio" ;;
	--docs) extra="$extra graphviz" ;;
	--plots) extra="$extra gnuplot-nox" ;;
	# make fio-engine: fio's source is downloaded (curl) and unpacked (xz-utils), fio's version read
	--fio-engine) extra="$extra fio curl xz-utils" ;;
	# make deb (the Build-Depends come from debian/control: scripts/build-deb.sh)
	--deb) extra="$extra dpkg-dev debhelper lintian" ;;
	# make check-deb: a fresh Debian chroot
	--chroot) extra="$extra debootstrap" ;;
	*) echo "install-deps: unknown option $arg" >&2; exit 2 ;;
	esac
done

missing=""
for pkg in $base $extra; do
	if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $pkg"
	fi
done
if [ -z "$missing" ]; then
	[ "$who" = install-deps ] || echo "$who: all Debian packages present ($(echo $base $extra | wc -w) checked)"
	exit 0
fi
if [ $check = 1 ]; then
	echo "make: missing Debian package(s):$missing" >&2
	echo "make: run 'make deps' to install them (apt-get, with sudo when not root), or install them yourself" >&2
	exit 1
fi

echo "$who: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
		echo "$who: need root to install:$missing" >&2; exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have empty package lists; refresh them once.
$SUDO apt-get update -qq >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
[ "$who" = install-deps ] || echo "$who: installed:$missing"
