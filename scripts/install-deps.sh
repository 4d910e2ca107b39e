#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages vha needs to build and test, when missing.
# Called by the make targets; safe to run again. Needs root (or sudo) only
# when something is actually missing.
set -eu

base="build-essential pkg-config libxen-dev liburing-dev libcmocka-dev libsystemd-dev libjson-c-dev xenstore-utils fio scdoc python3"
extra=""
for arg in "$@"; do
	case "$arg" in
	--sanitizers) extra="$extra clang libclang-rt-14-dev" ;;
	--fuzz) extra="$extra clang libclang-rt-14-dev" ;;
	--valgrind) extra="$extra valgrind" ;;
	--xenlab) extra="$extra qemu-system-x86 busybox-static cpio" ;;
	--docs) extra="$extra graphviz" ;;
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
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
SUDO=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
		echo "install-deps: need root to install:$missing" >&2; exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have empty package lists; refresh them once.
$SUDO apt-get update -qq >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >&2
