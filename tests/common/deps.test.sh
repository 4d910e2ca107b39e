#!/bin/bash
# SPDX-License-Identifier: MIT
# Dependencies are a visible step (Makefile, scripts/install-deps.sh), run
# against a stand-in dpkg-query that reports chosen packages missing and
# stand-ins for apt-get and sudo that only record their calls:
#  1. plain `make` with a build dependency missing installs nothing, stops
#     before compiling anything, and names the package and `make deps`;
#  2. `make deps` installs it, saying so; with nothing missing it says
#     "make deps: all Debian packages present";
#  3. make check and make demo run it (announced) before any compiler, a
#     plain make only checks;
#  4. a build leaves make no intermediate files to delete, so make check and
#     make demo end with their summary, not an "rm" line.
# vha-test-timeout: 300
set -u
cd "$(dirname "$0")/../.."
command -v dpkg-query >/dev/null || { echo "skip: not a Debian system (no dpkg-query)"; exit 77; }
unset MAKEFLAGS MAKELEVEL MFLAGS
T=$(mktemp -d /tmp/vha-deps-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
note() { echo "== $*"; }

mkdir -p "$T/bin"
REAL_DPKG_QUERY=$(command -v dpkg-query)
cat >"$T/bin/dpkg-query" <<EOS
#!/bin/sh
for p in \$VHA_FAKE_MISSING; do
	for a in "\$@"; do [ "\$a" = "\$p" ] && exit 1; done
done
exec $REAL_DPKG_QUERY "\$@"
EOS
for t in apt-get sudo; do
	printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\n' "$t" "$T" >"$T/bin/$t"
done
chmod +x "$T/bin/"*
export PATH=$T/bin:$PATH
B=$T/build

note "1. plain make, libjson-c-dev missing"
VHA_FAKE_MISSING=libjson-c-dev make -j2 BUILD="$B" >"$T/out" 2>&1 && fail "make succeeded: $(tail -3 "$T/out")"
cat "$T/out"
grep -q "missing Debian package(s): libjson-c-dev" "$T/out" || fail "the missing package is not named"
grep -q "run 'make deps'" "$T/out" || fail "make deps is not named"
[ -e "$T/calls" ] && fail "plain make ran: $(cat "$T/calls")"
[ -d "$B/obj" ] && [ -n "$(find "$B/obj" -name '*.o')" ] && fail "plain make compiled before stopping"
# A test dependency (fio) is not the build's business.
VHA_FAKE_MISSING=fio make -j2 BUILD="$B" "$B/obj/common/log.o" >"$T/out" 2>&1 ||
	fail "a missing test dependency stopped the build: $(cat "$T/out")"
[ -e "$T/calls" ] && fail "plain make ran: $(cat "$T/calls")"

note "2. make deps installs it and says so"
rm -f "$B/.deps-installed"
VHA_FAKE_MISSING="libjson-c-dev fio" make BUILD="$B" deps >"$T/out" 2>&1 || fail "make deps: $(cat "$T/out")"
cat "$T/out"
grep -q "make deps: installing: libjson-c-dev fio" "$T/out" || fail "make deps did not say what it installs"
grep -q "install -y -qq --no-install-recommends libjson-c-dev fio" "$T/calls" || fail "apt-get was not asked: $(cat "$T/calls" 2>/dev/null)"
grep -q "make deps: installed: libjson-c-dev fio" "$T/out" || fail "make deps did not say what it installed"
rm -f "$T/calls"
make BUILD="$B" deps >"$T/out" 2>&1 || fail "make deps: $(cat "$T/out")"
cat "$T/out"
grep -q "^make deps: all Debian packages present" "$T/out" || fail "make deps said nothing with nothing missing"
[ -e "$T/calls" ] && fail "make deps ran apt-get with nothing missing: $(cat "$T/calls")"

note "3. make check and make demo run it first, announced; plain make only checks"
for goal in check demo; do
	make -n BUILD="$B" $goal >"$T/plan" 2>&1 || fail "make -n $goal: $(tail -3 "$T/plan")"
	first_cc=$(grep -n -m1 -E '(^| )(cc|gcc|clang) ' "$T/plan" | cut -d: -f1)
	deps_at=$(grep -n -m1 'install-deps.sh --announce' "$T/plan" | cut -d: -f1)
	[ -n "$deps_at" ] || fail "make $goal does not run make deps"
	[ -z "$first_cc" ] || [ "$deps_at" -lt "$first_cc" ] || fail "make $goal compiles before make deps"
	echo "ok: make $goal runs install-deps.sh --announce first (plan line $deps_at)"
done
rm -f "$B/.deps-installed"
make -n BUILD="$B" >"$T/plan" 2>&1
grep -q 'install-deps.sh --announce' "$T/plan" && fail "plain make would install"
grep -q 'install-deps.sh --check' "$T/plan" || fail "plain make does not check"
echo "ok: plain make runs install-deps.sh --check"

note "4. no intermediate file for make to delete"
make -j2 BUILD="$B" "$B/tests/common/test_cli" >"$T/out" 2>&1 || fail "build: $(tail -5 "$T/out")"
tail -2 "$T/out"
grep -E '^rm ' "$T/out" && fail "make deleted intermediate files: the last line would be 'rm ...'"
tail -1 "$T/out" | grep -q "TEST .*test_cli" || fail "the build did not end with its last step: $(tail -1 "$T/out")"
echo PASS
