# vfio-mstream: one entry point for building, testing and demonstrating the project.
#
#   make            build the module (kernel/) and the userspace (userspace/)
#   make deps       install what the project needs with apt (root)
#   make test       every test suite; ends with "N passed, N failed, N skipped"
#                   (guest tests on the debug kernel: scripts/build-guest-kernel)
#   make test-kcsan the guest tests on a KCSAN kernel (not part of make test)
#   make demo       boot the guest and show the device at work
#   make kunit      KUnit tests (scripts/kunit.sh)
#   make bench      benchmarks (bench/)
#   make rfc        the RFC's Linux series (build/rfc/kernel/) and its checks, and
#                   the checks of the QEMU series (scripts/make-rfc)
#   make guest CMD='...'   run a command in the guest (no CMD: a shell)
#   make clean
#
# KVER  kernel release built and booted against (default: scripts/kver.sh, the newest
#       Debian 6.12); KDIR  its build tree.  On a machine that runs the kernel it builds
#       for: make KDIR=/lib/modules/$(uname -r)/build

# Resolve KVER at most once, and only when used: on a fresh machine it asks apt.
ifeq ($(origin KVER),undefined)
KVER = $(eval KVER := $$(shell scripts/kver.sh 2>/dev/null))$(KVER)
endif
KDIR ?= /usr/src/linux-headers-$(KVER)
export KVER

GUEST_RUN := scripts/guest-run

.PHONY: all kernel userspace deps need-deps test test-kcsan demo kunit bench rfc guest clean

all: kernel userspace

# Each part builds only once its owner has written its Makefile, so the tree builds
# at every stage.
kernel:
	@if [ -f kernel/Makefile ]; then \
		[ -d "$(KDIR)" ] || { echo "no kernel build tree at KDIR=$(KDIR): run 'make deps' (or set KDIR=)" >&2; exit 1; }; \
		$(MAKE) -C kernel KDIR="$(KDIR)"; \
	else echo "kernel/Makefile not there yet: nothing to build in kernel/"; fi

userspace:
	@if [ -f userspace/Makefile ]; then $(MAKE) -C userspace; \
	else echo "userspace/Makefile not there yet: nothing to build in userspace/"; fi

deps:
	scripts/deps.sh

# Cheap when everything is installed (a dpkg query); installs only what is missing.
need-deps:
	@scripts/deps.sh --check >/dev/null 2>&1 || scripts/deps.sh

# test-all.sh builds (all, and tests/e2e) as its first part, so that a build failure
# is reported in the summary like any other failure.
test: need-deps
	@scripts/test-all.sh

# KCSAN cannot share a kernel with KASAN: its own kernel, its own boot.
test-kcsan: need-deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory -C tests/e2e
	@scripts/build-module kcsan >/dev/null
	@$(GUEST_RUN) --kernel kcsan --out build/test-logs/e2e-kcsan --timeout 3600 \
		-- scripts/run-tests-in-guest.sh

# A recursive make keeps the order (deps, then build, then run) under make -j.
demo: need-deps
	@$(MAKE) --no-print-directory all
	@$(GUEST_RUN) -- scripts/demo.sh

kunit:
	@if [ -f scripts/kunit.sh ]; then bash scripts/kunit.sh; \
	else echo "kunit: scripts/kunit.sh does not exist yet: skipped"; fi

bench: need-deps
	@if [ -f bench/Makefile ]; then \
		$(MAKE) --no-print-directory all && $(MAKE) -C bench; \
	else echo "bench: bench/Makefile does not exist yet: skipped"; fi

rfc:
	@scripts/make-rfc

# make guest CMD='ls /sys/class/mdev_bus'; GUEST_ARGS='--smp 4 --mem 8G' for the runner.
# $(value CMD): the command as typed, so that make does not expand its $(...) and $$.
guest:
	@$(GUEST_RUN) $(GUEST_ARGS) $(if $(value CMD),-- '$(subst ','\'',$(value CMD))')

clean:
	-@if [ -f kernel/Makefile ]; then $(MAKE) -C kernel KDIR="$(KDIR)" clean; fi
	-@if [ -f userspace/Makefile ]; then $(MAKE) -C userspace clean; fi
	-@if [ -f tests/e2e/Makefile ]; then $(MAKE) -C tests/e2e clean; fi
	rm -rf build
