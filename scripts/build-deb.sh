#!/bin/bash
# SPDX-License-Identifier: MIT
# make deb: the Debian packages (debian/), built with
#   dpkg-buildpackage -us -uc -b
# in a clean copy of the tree: the files git tracks, as they are in the
# working tree (no build directory, nothing untracked). Then lintian.
# Everything lands in $BUILD/deb/ (default build/deb/): the .deb files, the
# .changes and .buildinfo, build.log and lintian.log; nothing is written
# outside it (dpkg-buildpackage's parent directory is $BUILD/deb/src).
# Installs what it needs first, and says so: dpkg-dev, debhelper and lintian
# (scripts/install-deps.sh --deb), then debian/control's Build-Depends with
# apt-get build-dep when dpkg-checkbuilddeps finds some missing.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=$BUILD/deb

scripts/install-deps.sh --deb
if ! missing=$(dpkg-checkbuilddeps 2>&1); then
	echo "build-deb: $missing"
	echo "build-deb: installing them: apt-get build-dep ./"
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -q ./
fi

version=$(dpkg-parsechangelog -S Version)
rm -rf "$OUT"
src=$OUT/src/vha-$version
mkdir -p "$src"
if git rev-parse --git-dir >/dev/null 2>&1; then
	git ls-files -z | while IFS= read -r -d '' f; do
		[ -e "$f" ] && printf '%s\0' "$f"
	done | tar -cf - --null -T - | tar -xf - -C "$src"
else
	tar -cf - --exclude='./build*' --exclude=./tests/xen/cache . | tar -xf - -C "$src"
fi

echo "build-deb: dpkg-buildpackage -us -uc -b in $src (log: $OUT/build.log)"
start=$SECONDS
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$OUT/build.log" 2>&1; then
	tail -n 40 "$OUT/build.log"
	echo "build-deb: dpkg-buildpackage failed (whole log: $OUT/build.log)"
	exit 1
fi
mv "$OUT"/src/*.deb "$OUT"/src/*.changes "$OUT"/src/*.buildinfo "$OUT"/
rm -rf "$OUT/src"
echo "build-deb: built in $((SECONDS - start)) s:"
ls -1 "$OUT"/*.deb | sed 's/^/  /'

# Errors and warnings fail the build; info tags are shown too (lintian -i
# explains a tag), and every override is in debian/*.lintian-overrides with
# the reason above it.
changes=$(ls "$OUT"/*.changes)
echo "build-deb: lintian $changes"
rc=0
lintian --display-info --fail-on error,warning "$changes" >"$OUT/lintian.log" 2>&1 || rc=$?
cat "$OUT/lintian.log"
if [ $rc -ne 0 ]; then
	echo "build-deb: lintian found errors or warnings (above)"
	exit 1
fi
echo "build-deb: lintian: no errors, no warnings; packages in $OUT/"
