#!/bin/sh
# SPDX-License-Identifier: MIT
# fio's own source, of exactly the installed fio package, configured the way
# Debian built that package: what frontend/fio/vha-fio.c compiles against
# (make fio-engine). Debian's fio ships no headers, and fio has no stable
# ABI: struct thread_data, thread_options and io_u follow its version and
# its configure results (config-host.h).
#
#   scripts/fio-source.sh DIR
#
# Downloads the Debian source package of the version `dpkg-query` reports
# (the .orig tarball and the .debian.tar.xz, from $VHA_DEBIAN_MIRROR, default
# http://deb.debian.org/debian) into DIR/dl, checks it against the sha256
# sums pinned below (or, for another version, against the .dsc's signature
# with gpgv and debian-keyring when those are installed), unpacks it into
# DIR/fio-VERSION, applies Debian's patches, runs ./configure with the
# options of debian/rules under Debian's build flags, and writes DIR/fio.mk
# for the Makefile. Does nothing when DIR/fio.mk already matches the
# installed fio.
# Exit: 0 done; 1 failed; 3 the source could not be downloaded (no network?).
set -eu

dir=${1:?usage: scripts/fio-source.sh DIR}
mirror=${VHA_DEBIAN_MIRROR:-http://deb.debian.org/debian}
say() { echo "fio-source: $*" >&2; }
die() { say "$*"; exit 1; }

deb_version=$(dpkg-query -W -f '${Version}' fio 2>/dev/null) ||
	die "fio is not installed (scripts/install-deps.sh --fio-engine installs it)"
[ -n "$deb_version" ] || die "fio is not installed (scripts/install-deps.sh --fio-engine installs it)"
if [ -f "$dir/fio.mk" ] && grep -qx "FIO_DEB_VERSION := $deb_version" "$dir/fio.mk"; then
	exit 0
fi

# Debian's file names leave the epoch out; the upstream version is what precedes the revision.
version=${deb_version#*:}
upstream=${version%-*}

# Pinned sha256 sums of the source packages this was checked with (Debian 12: 3.33-3).
orig=fio_$upstream.orig.tar.gz
debian=fio_$version.debian.tar.xz
case "$version" in
3.33-3)
	orig_sha=d2410e13e0f379d061d077cc5ae325835bb7c6186aa7bafc1df954cbc9b014fc
	debian_sha=796ef40f7f1de5b4d3698024b4c56eb1b7b86fb1fef58ec41c966deebbafd515 ;;
*)
	orig_sha="" debian_sha="" ;;
esac

fetch() {
	# fetch URL FILE: download to FILE.part, then rename.
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 2 --connect-timeout 15 --speed-limit 1024 --speed-time 60 --max-time 600 -o "$2.part" "$1" || return 1
	elif command -v wget >/dev/null 2>&1; then
		wget -q -T 15 -O "$2.part" "$1" || return 1
	else
		die "neither curl nor wget is installed (scripts/install-deps.sh --fio-engine installs curl)"
	fi
	mv "$2.part" "$2"
}
pool=$mirror/pool/main/f/fio
mkdir -p "$dir/dl"

if [ -z "$orig_sha" ]; then
	# Another version: the signed .dsc vouches for the tarballs, if we can check its signature.
	keyring=/usr/share/keyrings/debian-keyring.gpg
	command -v gpgv >/dev/null 2>&1 && [ -r "$keyring" ] ||
		die "no pinned sha256 for fio $version, and gpgv with debian-keyring (to check its .dsc) is not installed: add the sums to scripts/fio-source.sh"
	dsc=fio_$version.dsc
	fetch "$pool/$dsc" "$dir/dl/$dsc" || { say "cannot download $pool/$dsc"; exit 3; }
	gpgv --keyring "$keyring" "$dir/dl/$dsc" 2>/dev/null || die "the signature of $dsc does not check out"
	sums=$(sed -n '/^Checksums-Sha256:/,/^[^ ]/p' "$dir/dl/$dsc")
	orig=$(echo "$sums" | awk '$3 ~ /\.orig\.tar\.[a-z0-9]+$/ { print $3 }')
	debian=$(echo "$sums" | awk '$3 ~ /\.debian\.tar\.[a-z0-9]+$/ { print $3 }')
	orig_sha=$(echo "$sums" | awk -v f="$orig" '$3 == f { print $1 }')
	debian_sha=$(echo "$sums" | awk -v f="$debian" '$3 == f { print $1 }')
	[ -n "$orig_sha" ] && [ -n "$debian_sha" ] || die "$dsc names no .orig and .debian tarballs"
fi

for pair in "$orig $orig_sha" "$debian $debian_sha"; do
	set -- $pair
	if [ ! -f "$dir/dl/$1" ] || ! echo "$2  $dir/dl/$1" | sha256sum -c --status; then
		say "downloading $pool/$1"
		fetch "$pool/$1" "$dir/dl/$1" || { rm -f "$dir/dl/$1.part"; say "cannot download $pool/$1"; exit 3; }
	fi
	echo "$2  $dir/dl/$1" | sha256sum -c --status || { rm -f "$dir/dl/$1"; die "$1: sha256 mismatch"; }
done

src=$dir/fio-$upstream
rm -rf "$src" "$dir/fio.mk"
mkdir -p "$src"
tar -xf "$dir/dl/$orig" -C "$src" --strip-components=1
tar -xf "$dir/dl/$debian" -C "$src"
# Debian's patches (3.33-3: configure and Makefile only; applied for fidelity all the same).
if [ -f "$src/debian/patches/series" ]; then
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$src/debian/patches/series" | while read -r p opts; do
		patch -s -d "$src" ${opts:--p1} < "$src/debian/patches/$p" || die "Debian patch $p does not apply"
	done
fi

# The configure line of debian/rules (override_dh_auto_configure).
args=$(sed -n 's/^[[:space:]]*\.\/configure[[:space:]]*//p' "$src/debian/rules" | head -1)
[ -n "$args" ] || die "no ./configure line in debian/rules"
# --enable-gfio needs GTK 2 and only adds the gfio program: configure fails
# without GTK, and no header reads CONFIG_GFIO, so no struct depends on it.
case " $args " in
*" --enable-gfio "*)
	if ! pkg-config --exists gtk+-2.0 gthread-2.0 2>/dev/null; then
		args=$(echo " $args " | sed 's/ --enable-gfio / /;s/^ *//;s/ *$//')
		say "configure without --enable-gfio (no GTK 2 here; it only builds the gfio program)"
	fi ;;
esac
# The build flags debhelper exports for Debian's build, with the DEB_*
# settings of debian/rules (3.33-3: hardening=+all, -Wl,-z,defs).
if command -v dpkg-buildflags >/dev/null 2>&1; then
	eval "$(sed -n "s/^export \(DEB_[A-Z_]*\)[[:space:]]*:*=[[:space:]]*\(.*\)/export \1='\2'/p" "$src/debian/rules")"
	eval "$(dpkg-buildflags --export=sh)"
fi
say "configuring fio $version: ./configure $args"
# shellcheck disable=SC2086
(cd "$src" && ./configure $args) > "$dir/configure.log" 2>&1 ||
	die "fio's configure failed (see $dir/configure.log)"
[ -f "$src/config-host.h" ] || die "fio's configure wrote no config-host.h"
(cd "$src" && sh ./FIO-VERSION-GEN) 2>/dev/null
fio_version=$(sed -n 's/^FIO_VERSION = //p' "$src/FIO-VERSION-FILE")
[ -n "$fio_version" ] || die "FIO-VERSION-GEN gave no version"

cat > "$dir/fio.mk.tmp" <<EOF
# Written by scripts/fio-source.sh: fio's source for make fio-engine.
FIO_DEB_VERSION := $deb_version
FIO_SRC := $src
FIO_VERSION_STRING := $fio_version
FIO_CONFIGURE_ARGS := $args
EOF
mv "$dir/fio.mk.tmp" "$dir/fio.mk"
say "fio $version source ready in $src ($fio_version)"
