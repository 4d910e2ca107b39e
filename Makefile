# SPDX-License-Identifier: MIT
# vha: top-level build. Plain GNU make; `make help` lists the targets.
#
# Layout of the build: every program directory holds its sources; the file
# named main.c is the program's entry point and everything else in the
# directory goes into a static library, so tests can link the internals.
# Tests are discovered: tests/<dir>/test_*.c becomes one cmocka binary;
# tests/<dir>/*.test.sh are integration scripts (exit 77 = skipped).

# The project's one version: every program's --version prints it.
VERSION := 0.1
SANITIZE ?= 0
V ?= 0

ifeq ($(SANITIZE),1)
BUILD ?= build-asan
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else ifeq ($(SANITIZE),thread)
BUILD ?= build-tsan
# gcc warns that TSan does not model atomic_thread_fence (the ring
# barriers in common/blkif.c). The rings are shared with another process,
# which TSan cannot see anyway; every thread-to-thread handoff inside a
# process goes through mutexes or atomics that it does model.
SAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer -Wno-tsan
else
BUILD ?= build
SAN_FLAGS :=
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

CC ?= cc
# libsystemd: vha-backend's sd_notify (readiness, watchdog), a no-op when
# it is not run by systemd. json-c: stats.json, written by vha-backend and
# read by vhactl and the tests. libnbd: vha-backend's nbd engine.
PKGS := xengnttab xenevtchn xenstore xentoollog liburing libsystemd json-c libnbd
# Fetching flags needs pkg-config, which may not be installed yet on a fresh
# machine: the deps stamp below installs it, and these are evaluated lazily.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) xengntshr 2>/dev/null || pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null || echo -lcmocka)

CPPFLAGS += -D_GNU_SOURCE -D__XEN_TOOLS__ -Icommon/include
# The frontend's public headers are visible only to the layers that may use
# them: the frontend itself, the tools and the tests (check-layers greps too).
FRONT_CPPFLAGS := -Ifrontend/include
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -fPIC -pthread -MMD -MP $(SAN_FLAGS)
# One link line's libraries serve every program: --as-needed keeps in each
# binary only those it uses (liburing ends up in vha-backend alone).
LDFLAGS += -pthread -Wl,--as-needed $(SAN_FLAGS)
# librbd/librados: vha-backend's rbd engine (Debian 12's librbd-dev ships no .pc file).
RBD_LIBS = $(shell pkg-config --libs librbd 2>/dev/null || echo -lrbd -lrados)
LDLIBS = $(PKG_LIBS) $(RBD_LIBS) -lrt

# The libraries, lowest layer last on the link line.
COMMON_SRCS := $(wildcard common/*.c common/sim/*.c)
FRONTLIB_SRCS := $(wildcard frontend/lib/*.c)

# Programs: directory -> binary name.
PROGRAM_DIRS := backend frontend/cmd tools/vhactl tools/simxenstored
prog_name = $(if $(filter backend,$1),vha-backend,$(if $(filter frontend/cmd,$1),vha-frontend,$(if $(filter tools/vhactl,$1),vhactl,vha-simxenstored)))
prog_lib = $(BUILD)/lib$(subst /,-,$1).a

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$1)

COMMON_LIB := $(BUILD)/libvhacommon.a
FRONT_LIB := $(BUILD)/libvhafront.a
PROG_LIBS := $(foreach d,$(PROGRAM_DIRS),$(call prog_lib,$d))
PROGRAMS := $(foreach d,$(PROGRAM_DIRS),$(if $(wildcard $d/main.c),$(BUILD)/$(call prog_name,$d)))
ALL_LIBS := $(PROG_LIBS) $(FRONT_LIB) $(COMMON_LIB)
# What each program links, lowest layer last: no program links a layer it
# does not use (the backend never links the frontend library).
prog_deps = $(call prog_lib,$1) $(if $(filter frontend/cmd,$1),$(FRONT_LIB)) $(COMMON_LIB)

TEST_SRCS := $(sort $(wildcard tests/*/test_*.c tests/*/*/test_*.c))
TEST_SUPPORT_SRCS := $(wildcard tests/lib/*.c)
TEST_BINS := $(patsubst %.c,$(BUILD)/%,$(TEST_SRCS))

DEPS_STAMP := $(BUILD)/.deps-installed

.PHONY: all check check-unit check-headers check-layers asan check-asan tsan check-tsan fuzz check-fuzz fuzz-long demo bench clean help deps check-xen
all: $(PROGRAMS) $(TEST_BINS)

help:
	@echo "make            build everything (-Wall -Wextra -Werror); installs nothing: a missing"
	@echo "                Debian package stops it, named, with a pointer to make deps"
	@echo "make deps       install the missing Debian packages (apt-get, sudo when not root), saying"
	@echo "                which; make check, demo, bench, soak and check-xen run it first"
	@echo "make check      build and run every test that can run on this machine"
	@echo "                (includes check-headers, check-layers and the tsan multi-queue test)"
	@echo "make check-headers  each public header compiles on its own"
	@echo "make check-layers   fail if a layer includes a header it must not (common/ neither end,"
	@echo "                backend/ and frontend/ not each other)"
	@echo "make asan       build with ASan+UBSan into build-asan/"
	@echo "make check SANITIZE=1   run the suites under ASan+UBSan"
	@echo "make tsan       build with ThreadSanitizer into build-tsan/ (SANITIZE=thread)"
	@echo "make check-tsan run the suites under ThreadSanitizer"
	@echo "make fuzz       build the libFuzzer targets (clang) into build-fuzz/"
	@echo "make check-fuzz run each fuzz target 20 s on its seeds (FUZZ_SECONDS=N)"
	@echo "make fuzz-long  run each fuzz target for 10^7 inputs (FUZZ_LONG_RUNS=N); prints inputs,"
	@echo "                exec/s and coverage (cov, ft) per target"
	@echo "make demo       the main job: the simulated platform, a disk, real I/O, a summary"
	@echo "make bench      benchmark vha against raw io_uring on the same file"
	@echo "make bench-instructions  vha-backend instructions per request under callgrind (null target)"
	@echo "make bench-report  measure, then write docs/performance.md with its plots (gnuplot)"
	@echo "make bench-fairness  a normal guest's IOPS beside a greedy and a storming guest, as ratios"
	@echo "make bench-rbd  vha over rbd vs fio's rbd engine on a 1-node Ceph cluster (4k rand QD32, 128k read)"
	@echo "make fio-engine the fio external I/O engine over libvhafront, $(BUILD)/libvha-fio.so: fetches"
	@echo "                fio's source of the installed version (network) into build/fio-src, then"
	@echo "                builds it; make builds it too once that source is there (docs/frontend.md)"
	@echo "make check-xen  the real-Xen end-to-end suite under QEMU"
	@echo "make soak       long soak runs: 1000 attach/detach cycles, 100 backend kills under ordered writes"
	@echo "make docs-img   redraw docs/img/*.png from their .dot sources (installs graphviz)"
	@echo "make man        the man pages, from docs/man/*.scd into $(BUILD)/man/ (part of make)"
	@echo "make install    programs, hotplug script, man pages, libvhafront (.a, .so, .pc), bash completion;"
	@echo "                PREFIX=/usr/local, DESTDIR= (the hotplug script goes to /etc/xen/scripts)"
	@echo "make deb        Debian packages into $(BUILD)/deb/ (dpkg-buildpackage, lintian; installs"
	@echo "                dpkg-dev, debhelper, lintian and the Build-Depends first)"
	@echo "make check-deb  make deb, then install the packages into a fresh Debian 12 chroot and"
	@echo "                check them (debootstrap, network; slow; not part of make check)"
	@echo "V=1             show the commands"

# Dependencies are a visible step. `make deps` installs the Debian packages
# that are missing (scripts/install-deps.sh: apt-get, sudo when not root)
# and says so, or says that all are present; make check, demo and the other
# targets that run things do it first, every time. A plain build never
# installs anything: it checks once (again when install-deps.sh changes)
# and stops at once, naming the missing packages and `make deps`.
# INSTALL_DEPS=0 (the Debian package build, whose Build-Depends
# dpkg-buildpackage checks) does neither.
DEPS_GOALS := deps check check-asan check-tsan demo bench bench-instructions bench-report bench-fairness bench-rbd soak check-xen check-fuzz fuzz-long
DEPS_INSTALL := $(if $(filter $(DEPS_GOALS),$(MAKECMDGOALS)),1)
INSTALL_DEPS ?= 1
deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/install-deps.sh $(if $(DEPS_INSTALL),FORCE)
	$(Q)$(if $(filter 1,$(INSTALL_DEPS)),scripts/install-deps.sh $(if $(DEPS_INSTALL),--announce,--check))
	$(Q)mkdir -p $(dir $@) && touch $@
.PHONY: FORCE
FORCE:

# Every object waits for the dependencies to be installed (order-only).
$(BUILD)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(filter 0,$(V)),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

VERSION_CPPFLAGS := -DVHA_VERSION='"$(VERSION)"'
$(BUILD)/obj/common/cli.o: CPPFLAGS += $(VERSION_CPPFLAGS)
# A new VERSION rebuilds the one object that holds it.
$(BUILD)/obj/common/cli.o: $(BUILD)/.version-$(VERSION)
$(BUILD)/.version-$(VERSION): | $(DEPS_STAMP)
	$(Q)rm -f $(BUILD)/.version-* && touch $@

$(BUILD)/obj/frontend/%.o $(BUILD)/obj/tools/%.o $(BUILD)/obj/tests/%.o: CPPFLAGS += $(FRONT_CPPFLAGS)

$(COMMON_LIB): $(call obj,$(COMMON_SRCS))
$(FRONT_LIB): $(call obj,$(FRONTLIB_SRCS))
define prog_rules
$(call prog_lib,$1): $(call obj,$(filter-out $1/main.c,$(wildcard $1/*.c)))
$(BUILD)/$(call prog_name,$1): $(call obj,$1/main.c) $(call prog_deps,$1)
	@$$(if $$(filter 0,$$(V)),echo "  LD      $$@")
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$< $(call prog_deps,$1) $$(LDLIBS)
endef
$(foreach d,$(PROGRAM_DIRS),$(eval $(call prog_rules,$d)))

$(BUILD)/%.a:
	@mkdir -p $(dir $@)
	@$(if $(filter 0,$(V)),echo "  AR      $@")
	$(Q)rm -f $@ && ar crs $@ $^ $(if $^,,$(BUILD)/obj/.empty.o)

$(BUILD)/obj/.empty.o: | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(Q)echo 'typedef int vha_empty_unit;' | $(CC) -x c -c -o $@ -
$(ALL_LIBS): | $(BUILD)/obj/.empty.o

# The support objects appear only in this pattern rule, which would make
# them intermediate: make would delete them after each build, ending `make
# check` and `make demo` with a stray "rm" line below the summary.
.SECONDARY: $(call obj,$(TEST_SUPPORT_SRCS))
$(BUILD)/tests/%: tests/%.c $(call obj,$(TEST_SUPPORT_SRCS)) $(ALL_LIBS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(filter 0,$(V)),echo "  TEST    $@")
	$(Q)$(CC) $(CPPFLAGS) $(FRONT_CPPFLAGS) -Itests/lib $(CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $< \
		$(call obj,$(TEST_SUPPORT_SRCS)) $(ALL_LIBS) $(CMOCKA_LIBS) $(LDLIBS)

# Each public header must compile on its own.
PUBLIC_HEADERS := $(wildcard common/include/vha/*.h frontend/include/vha/*.h)
check-headers: | $(DEPS_STAMP)
	$(Q)for h in $(PUBLIC_HEADERS); do \
		echo "#include \"$$h\"" | $(CC) $(CPPFLAGS) $(FRONT_CPPFLAGS) -I. $(filter-out -MMD -MP,$(CFLAGS)) $(PKG_CFLAGS) -x c -fsyntax-only - \
			|| { echo "header $$h does not compile on its own"; exit 1; }; \
	done

# The layering (STYLE.md rule 1), checked on every #include line: common/
# includes neither end, backend/ and frontend/ not each other. The -I flags
# above already keep frontend headers out of reach of common/ and backend/;
# this also catches relative paths and backend headers.
alt = $(subst $(space),|,$(strip $1))
space := $(subst ,, )
FRONT_HEADER_RE = $(call alt,$(patsubst frontend/include/%,%,$(wildcard frontend/include/vha/*.h)) frontend/[^\">]*)
BACKEND_HEADER_RE = $(call alt,$(notdir $(wildcard backend/*.h)) backend/[^\">]*)
check-layers:
	$(Q)bad=0; \
	layer() { \
		hits=$$(grep -rnE --include='*.[ch]' "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]([^\">]*/)?($$3)[\">]" $$1); \
		if [ -n "$$hits" ]; then echo "check-layers: $$1/ must not include $$2:"; echo "$$hits"; bad=1; fi; \
	}; \
	layer common "a backend header" '$(BACKEND_HEADER_RE)'; \
	layer common "a frontend header" '$(FRONT_HEADER_RE)'; \
	layer backend "a frontend header" '$(FRONT_HEADER_RE)'; \
	layer frontend "a backend header" '$(BACKEND_HEADER_RE)'; \
	[ $$bad -eq 0 ] && echo "check-layers: ok"

check: all check-headers check-layers
	$(Q)BUILD=$(BUILD) SANITIZE=$(SANITIZE) tests/run-tests.sh

asan:
	$(Q)$(MAKE) --no-print-directory SANITIZE=1 all
check-asan:
	$(Q)$(MAKE) --no-print-directory SANITIZE=1 check
tsan:
	$(Q)$(MAKE) --no-print-directory SANITIZE=thread all
check-tsan:
	$(Q)$(MAKE) --no-print-directory SANITIZE=thread check

# libFuzzer targets: tests/fuzz/fuzz_*.c, built with clang against the sources
# they exercise (not the gcc archives).
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BUILD := build-fuzz
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(FUZZ_SRCS))
fuzz: $(FUZZ_BINS)
# Guest-facing parsers outside common/ that fuzz targets may exercise.
FUZZ_EXTRA_SRCS := $(filter-out tools/simxenstored/main.c,$(wildcard tools/simxenstored/*.c)) backend/journal.c $(wildcard backend/scsi_emul*.c)
# Per target: more sources, and the libraries (default: all of PKG_LIBS).
FUZZ_TARGET_SRCS =
FUZZ_LIBS = $(PKG_LIBS)
# The handshake target runs the whole backend but its main, against the sim
# xenstored in-process: tests/fuzz/xs_inproc.c replaces libxenstore.
FUZZ_BACKEND_SRCS := $(filter-out backend/main.c $(FUZZ_EXTRA_SRCS),$(wildcard backend/*.c))
$(FUZZ_BUILD)/fuzz_xenbus_handshake: FUZZ_TARGET_SRCS = $(FUZZ_BACKEND_SRCS) tests/fuzz/xs_inproc.c
$(FUZZ_BUILD)/fuzz_xenbus_handshake: FUZZ_LIBS = $(filter-out -lxenstore,$(PKG_LIBS)) $(RBD_LIBS)
$(FUZZ_BUILD)/fuzz_xenbus_handshake: $(FUZZ_BACKEND_SRCS) $(wildcard backend/*.h) tests/fuzz/xs_inproc.c tests/fuzz/xs_inproc.h
$(FUZZ_BUILD)/fuzz_scsi_emul: $(wildcard backend/scsi_emul*.h)
$(FUZZ_BUILD)/%: tests/fuzz/%.c $(COMMON_SRCS) $(FUZZ_EXTRA_SRCS) | $(DEPS_STAMP)
	$(Q)scripts/install-deps.sh --fuzz
	@mkdir -p $(dir $@)
	@$(if $(filter 0,$(V)),echo "  FUZZ    $@")
	$(Q)clang $(CPPFLAGS) $(FRONT_CPPFLAGS) $(VERSION_CPPFLAGS) -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) \
		-o $@ $< $(COMMON_SRCS) $(FUZZ_EXTRA_SRCS) $(FUZZ_TARGET_SRCS) $(FUZZ_LIBS) -lrt -pthread
check-fuzz: fuzz
	$(Q)tests/fuzz/run-fuzz.sh $(FUZZ_BINS)
# At least 10^7 inputs per target, one target after the other (issue 9).
FUZZ_LONG_RUNS ?= 10000000
fuzz-long: fuzz
	$(Q)FUZZ_RUNS=$(FUZZ_LONG_RUNS) tests/fuzz/run-fuzz.sh $(FUZZ_BINS)

demo: all
	$(Q)BUILD=$(BUILD) tools/demo.sh

bench: all
	$(Q)BUILD=$(BUILD) tools/bench.sh
	$(Q)BUILD=$(BUILD) tools/bench-instructions.sh; rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 77 ]

# docs/performance.md and its plots, measured here (tools/bench-report.sh; gnuplot).
.PHONY: bench-report
bench-report: all
	$(Q)BUILD=$(BUILD) tools/bench-report.sh

# What a request costs vha-backend in instructions (callgrind; also the last table of make bench).
.PHONY: bench-instructions
bench-instructions: all
	$(Q)BUILD=$(BUILD) tools/bench-instructions.sh

.PHONY: bench-fairness
bench-fairness: all
	$(Q)BUILD=$(BUILD) tools/bench-fairness.sh

# vha over rbd vs fio's rbd engine on a throwaway 1-node Ceph cluster (tools/bench-rbd.sh).
.PHONY: bench-rbd
bench-rbd: all
	$(Q)BUILD=$(BUILD) tools/bench-rbd.sh

check-xen: all
	$(Q)BUILD=$(BUILD) tests/xen/run.sh

# The pictures in docs/ from their sources (docs/img/*.dot, as line 2 of each
# says). Graphviz is installed on demand here only: neither `all` nor `check`
# needs it, and the PNGs are committed next to their sources.
DOCS_IMGS := $(patsubst %.dot,%.png,$(wildcard docs/img/*.dot))
.PHONY: docs-img
docs-img: $(DOCS_IMGS)
docs/img/%.png: docs/img/%.dot
	$(Q)scripts/install-deps.sh --docs
	@$(if $(filter 0,$(V)),echo "  DOT     $@")
	$(Q)dot -Tpng -Gdpi=80 $< -o $@

# Guest-side tools of the real-Xen suite: tests/xen/*.c other than the cmocka
# tests become $(BUILD)/tests/xen/vha-<name> with `all` (linked like
# vha-frontend: the frontend library and common); run.sh copies them into
# the guest image.
XEN_TOOLS := $(patsubst tests/xen/%.c,$(BUILD)/tests/xen/vha-%,$(filter-out tests/xen/test_%.c,$(wildcard tests/xen/*.c)))
all: $(XEN_TOOLS)
$(BUILD)/tests/xen/vha-%: tests/xen/%.c $(FRONT_LIB) $(COMMON_LIB) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(filter 0,$(V)),echo "  LD      $@")
	$(Q)$(CC) $(CPPFLAGS) $(FRONT_CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $< $(FRONT_LIB) $(COMMON_LIB) $(LDLIBS)

# Soak: helper programs tests/soak/*.c (not cmocka tests) built with `all`;
# `make check` runs the scripts tests/soak/*.test.sh short, `make soak` long.
SOAK_TOOLS := $(patsubst tests/soak/%.c,$(BUILD)/soak/vha-soak-%,$(wildcard tests/soak/*.c))
all: $(SOAK_TOOLS)
$(BUILD)/soak/vha-soak-%: tests/soak/%.c $(ALL_LIBS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(filter 0,$(V)),echo "  LD      $@")
	$(Q)$(CC) $(CPPFLAGS) $(FRONT_CPPFLAGS) $(CFLAGS) $(PKG_CFLAGS) $(LDFLAGS) -o $@ $< $(ALL_LIBS) $(LDLIBS)
.PHONY: soak
soak: all
	$(Q)BUILD=$(BUILD) VHA_SOAK_CYCLES=$${VHA_SOAK_CYCLES:-1000} VHA_SOAK_RESTARTS=$${VHA_SOAK_RESTARTS:-100} \
		TEST_FILTER=tests/soak/ TEST_TIMEOUT=7200 tests/run-tests.sh
-include $(wildcard $(BUILD)/soak/*.d)

# Man pages: docs/man/NAME.SECTION.scd -> $(BUILD)/man/NAME.SECTION (scdoc).
MAN_SRCS := $(wildcard docs/man/*.scd)
MAN_PAGES := $(patsubst docs/man/%.scd,$(BUILD)/man/%,$(MAN_SRCS))
.PHONY: man install
all: man
man: $(MAN_PAGES)
$(BUILD)/man/%: docs/man/%.scd | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(filter 0,$(V)),echo "  SCDOC   $@")
	$(Q)scdoc < $< > $@.tmp && mv $@.tmp $@

# make install [PREFIX=/usr/local] [DESTDIR=]: the daemon, vhactl and the
# sim xenstored it starts (from its own directory) in sbin, vha-frontend in
# bin; the hotplug script where xl looks for it, whatever PREFIX; the
# libvhafront headers with the common ones they include, one static library
# holding libvhafront and the common layer under it, the shared library
# (below) with its links, and vhafront.pc.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
BASH_COMPLETION_DIR ?= $(PREFIX)/share/bash-completion/completions
XEN_SCRIPT_DIR ?= /etc/xen/scripts
INSTALL_HEADERS := $(wildcard frontend/include/vha/*.h) common/include/vha/platform.h common/include/vha/log.h
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INSTALL_LIB := $(BUILD)/dist/libvhafront.a
$(INSTALL_LIB): $(call obj,$(FRONTLIB_SRCS) $(COMMON_SRCS))

# libvhafront.so.0: the same objects in one shared library whose version
# script (frontend/lib/libvhafront.map) exports the functions of the
# installed headers alone; the rest of the common layer is inside, hidden.
# -z defs: every symbol it uses is in it or in a library on its link line.
SHLIB_SOVERSION := 0
SHLIB_SONAME := libvhafront.so.$(SHLIB_SOVERSION)
SHLIB := $(BUILD)/dist/$(SHLIB_SONAME).$(VERSION)
SHLIB_MAP := frontend/lib/libvhafront.map
all: $(SHLIB)
$(SHLIB): $(call obj,$(FRONTLIB_SRCS) $(COMMON_SRCS)) $(SHLIB_MAP)
	@mkdir -p $(dir $@)
	@$(if $(filter 0,$(V)),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,-soname,$(SHLIB_SONAME) -Wl,--version-script=$(SHLIB_MAP) -Wl,-z,defs \
		-o $@ $(filter %.o,$^) $(LDLIBS)
	$(Q)ln -sf $(notdir $@) $(dir $@)$(SHLIB_SONAME) && ln -sf $(SHLIB_SONAME) $(dir $@)libvhafront.so

# The fio external I/O engine (frontend/fio/; docs/frontend.md): $(BUILD)/libvha-fio.so,
# fio --ioengine=external:$(BUILD)/libvha-fio.so. Debian's fio ships no headers and fio
# has no stable ABI, so it compiles against fio's own source of exactly the installed
# version, configured as Debian built it: `make fio-engine` fetches that
# (scripts/fio-source.sh: network, pinned sha256) into $(FIO_SRC_DIR), one copy for
# every build directory, then builds the engine. `make` builds the engine too once the
# source is there, and never fetches it. Not in sanitizer builds: fio is not instrumented.
# libvhafront and the common layer are linked in, hidden (vha-fio.map exports
# `ioengine` alone). -z nodelete: fio dlcloses the engine when a job ends and the
# process goes on; the process-wide log sink installed in libvhafront's logger points
# into the engine, so its code stays mapped.
FIO_SRC_DIR ?= build/fio-src
FIO_MK := $(FIO_SRC_DIR)/fio.mk
FIO_ENGINE := $(BUILD)/libvha-fio.so
FIO_ENGINE_OBJ := $(call obj,frontend/fio/vha-fio.c)
FIO_ENGINE_MAP := frontend/fio/vha-fio.map
-include $(wildcard $(FIO_MK))
.PHONY: fio-engine
ifeq ($(SANITIZE),0)
ifneq ($(FIO_SRC),)
all: $(FIO_ENGINE)
endif
fio-engine: | $(DEPS_STAMP)
	$(Q)scripts/install-deps.sh --fio-engine
	$(Q)scripts/fio-source.sh $(FIO_SRC_DIR)
	$(Q)$(MAKE) --no-print-directory $(FIO_ENGINE)
else
fio-engine:
	@echo "make fio-engine: not in a sanitizer build (fio is not instrumented); SANITIZE=0 builds it"; exit 1
endif
$(FIO_MK):
	@echo "$@ is missing: make fio-engine fetches fio's source"; exit 1
# fio's own build defines these too (its Makefile's CPPFLAGS); -isystem: its headers
# are not held to our warnings.
$(FIO_ENGINE_OBJ): CPPFLAGS += -isystem $(FIO_SRC) -include $(FIO_SRC)/config-host.h \
	-D_LARGEFILE_SOURCE -D_FILE_OFFSET_BITS=64 -DFIO_INTERNAL -DFIO_INC_DEBUG \
	-DVHA_FIO_HEADERS_VERSION='"$(FIO_VERSION_STRING)"'
$(FIO_ENGINE_OBJ): $(FIO_MK)
$(FIO_ENGINE): $(FIO_ENGINE_OBJ) $(FRONT_LIB) $(COMMON_LIB) $(FIO_ENGINE_MAP)
	@$(if $(filter 0,$(V)),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,--version-script=$(FIO_ENGINE_MAP) -Wl,-Bsymbolic -Wl,-z,nodelete \
		-o $@ $(FIO_ENGINE_OBJ) $(FRONT_LIB) $(COMMON_LIB) $(LDLIBS)

# What make install installs, built (the package build runs this, not all).
.PHONY: installable
installable: $(PROGRAMS) $(MAN_PAGES) $(INSTALL_LIB) $(SHLIB)
install: installable
	$(Q)install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/vha \
		$(DESTDIR)$(BASH_COMPLETION_DIR) $(DESTDIR)$(XEN_SCRIPT_DIR) \
		$(addprefix $(DESTDIR)$(MANDIR)/man,$(sort $(subst .,,$(suffix $(MAN_PAGES)))))
	$(Q)install -m 755 $(BUILD)/vha-backend $(BUILD)/vhactl $(BUILD)/vha-simxenstored $(DESTDIR)$(SBINDIR)/
	$(Q)install -m 755 $(BUILD)/vha-frontend $(DESTDIR)$(BINDIR)/
	$(Q)install -m 755 tools/hotplug/vha $(DESTDIR)$(XEN_SCRIPT_DIR)/vha
	$(Q)for m in $(MAN_PAGES); do install -m 644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/ || exit 1; done
	$(Q)install -m 644 $(INSTALL_HEADERS) $(DESTDIR)$(INCLUDEDIR)/vha/
	$(Q)install -m 644 $(INSTALL_LIB) $(SHLIB) $(DESTDIR)$(LIBDIR)/
	$(Q)ln -sf $(notdir $(SHLIB)) $(DESTDIR)$(LIBDIR)/$(SHLIB_SONAME)
	$(Q)ln -sf $(SHLIB_SONAME) $(DESTDIR)$(LIBDIR)/libvhafront.so
	$(Q)install -d $(DESTDIR)$(PKGCONFIGDIR)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' frontend/lib/vhafront.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/vhafront.pc
	$(Q)for c in vhactl vha-frontend vha-backend; do \
		install -m 644 tools/completion/vha.bash $(DESTDIR)$(BASH_COMPLETION_DIR)/$$c || exit 1; done
	@echo "installed into $(DESTDIR)$(PREFIX) (hotplug script: $(DESTDIR)$(XEN_SCRIPT_DIR)/vha)"

# Debian packages (debian/): dpkg-buildpackage -us -uc -b in a clean copy of
# the tree, then lintian; the .debs land in $(BUILD)/deb/. check-deb installs
# them into a fresh Debian 12 chroot (debootstrap; slow, network; not part of
# make check). docs/packaging.md.
.PHONY: deb check-deb
deb:
	$(Q)BUILD=$(BUILD) scripts/build-deb.sh
check-deb: deb
	$(Q)scripts/install-deps.sh --chroot
	$(Q)BUILD=$(BUILD) tests/packaging/chroot-install.sh

clean:
	rm -rf build build-asan build-tsan build-fuzz

-include $(shell find $(BUILD)/obj $(BUILD)/tests -name '*.d' 2>/dev/null)
