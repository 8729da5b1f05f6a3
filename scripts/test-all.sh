#!/usr/bin/env bash
# make test: build, every test suite of the project, in order, then one summary line.
#
#   0 build      make all, make -C tests/e2e, and the debug guest kernel with the module
#                built against it (scripts/build-module debug; the kernel is cached
#                outside the clone, so only a fresh machine builds it), and the
#                patched QEMU of userspace/qemu/ (scripts/build-qemu-v3, cached too)
#   1 host-unit  make -C userspace check (when userspace/Makefile has that target)
#   1b bench-unit make -C bench check: the benchmark report's statistics
#   1c e2e-unit  make -C tests/e2e check: the rules the guest tests judge QEMU's traces by
#   1d docs      the RFC's numbers name existing results files (docs/check-sources.py),
#                and docs/rfc.md's generated parts are current (docs/gen-results.sh)
#   2 kunit      make kunit (when scripts/kunit.sh exists)
#   3 runner     tests/runner/run.sh, the guest runner's self-tests
#   4 e2e        one guest boot of the debug kernel (lockdep, KASAN, UBSAN, kmemleak,
#                fault injection) running scripts/run-tests-in-guest.sh (tests/e2e)
#   5 e2e-stock  one boot of Debian's stock kernel for the tests too slow under KASAN
#                (the list's stock: lines)
#
# Environment: E2E_GUEST_TIMEOUT  seconds for that whole guest run (default 3600);
#              E2E_TIMEOUT        seconds per e2e test (passed to the guest; default 600);
#              GUEST_ARGS         more guest-run options for it, e.g. '--mem 8G'.
#
# Each part's output is shown and kept in build/test-logs/<n>-<part>.log.  A part that
# fails without a failing test line (a build error, a kernel WARN found by guest-run) is
# counted as one failure of its own; after a failed build the guest tests are skipped
# (they would run a stale module or none), the other parts still run.  The last line is tap-summary's
# "N passed, N failed, N skipped"; the exit status is non-zero when anything failed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
logs=$top/build/test-logs
mkdir -p "$logs"
rm -f "$logs"/*.log
make=${MAKE:-make}
parts_tap=$logs/suite-failures.log    # the per-part failures described above
: > "$parts_tap"

# part N NAME CMD...: run CMD with output shown and logged, account for its status
# (returned, so that a caller can depend on it).
part() {
	local n=$1 name=$2 log rc counts
	shift 2
	log=$logs/$n-$name.log
	echo "=== $n $name: $*"
	local t0=$SECONDS
	set +e
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	set -e
	counts=$("$top/scripts/tap-summary" "$log" || true)
	echo "=== $n $name: exit $rc, $((SECONDS - t0)) s: $counts"
	if [ "$rc" != 0 ] && [[ $counts == *" 0 failed"* ]]; then
		echo "not ok - $name: exited $rc without a failing test (see ${log#"$top"/})" |
			tee -a "$parts_tap"
	fi
	return "$rc"
}

# skip N NAME WHY: a part that cannot run yet shows up as one skipped test.
skip() {
	echo "=== $1 $2: skipped: $3"
	echo "ok 1 - $2 # SKIP $3" > "$logs/$1-$2.log"
}

# Does userspace/Makefile define a check target?  Print make's database, run nothing
# (make -q exits non-zero here whatever the answer).
has_check() {
	local db
	[ -f userspace/Makefile ] || return 1
	db=$($make -C userspace -pRrq : 2>/dev/null || true)
	grep -q '^check:' <<< "$db"
}

# The documents reviewers read: TAP, a line per check.
docs_check() {
	local rc=0
	python3 docs/check-sources.py || rc=1
	if docs/gen-results.sh --check > /dev/null; then
		echo "ok - docs/rfc.md is what docs/gen-results.sh generates"
	else
		echo "not ok - docs/rfc.md is stale: run docs/gen-results.sh"
		rc=1
	fi
	return $rc
}

build() {
	$make --no-print-directory all || return
	[ ! -f tests/e2e/Makefile ] || $make --no-print-directory -C tests/e2e || return
	scripts/build-module debug || return
	# The patched QEMU of tests/e2e/qemu-v3.py (cached outside the clone).
	scripts/build-qemu-v3 > /dev/null
}
built=1
part 0 build build || built=0

if has_check; then
	part 1 host-unit $make -C userspace check || true
else
	skip 1 host-unit "userspace/Makefile has no check target"
fi

if [ -f bench/Makefile ]; then
	part 1b bench-unit $make -C bench check || true
else
	skip 1b bench-unit "bench/Makefile does not exist"
fi

part 1c e2e-unit $make -C tests/e2e check || true
part 1d docs docs_check || true

if [ -f scripts/kunit.sh ]; then
	part 2 kunit $make kunit || true
else
	skip 2 kunit "scripts/kunit.sh does not exist"
fi

part 3 runner tests/runner/run.sh || true

if [ "$built" = 0 ]; then
	skip 4 e2e "the build failed"
elif [ -n "$(scripts/run-tests-in-guest.sh --list)" ]; then
	# shellcheck disable=SC2086 # GUEST_ARGS is a list of options
	part 4 e2e scripts/guest-run --kernel debug --out build/test-logs/e2e \
		--timeout "${E2E_GUEST_TIMEOUT:-3600}" \
		${E2E_TIMEOUT:+--env E2E_TIMEOUT="$E2E_TIMEOUT"} ${GUEST_ARGS:-} \
		-- scripts/run-tests-in-guest.sh || true
else
	skip 4 e2e "no tests registered in tests/e2e"
fi
if [ "$built" = 0 ]; then
	skip 5 e2e-stock "the build failed"
elif [ -n "$(scripts/run-tests-in-guest.sh --list --stock)" ]; then
	# shellcheck disable=SC2086 # GUEST_ARGS is a list of options
	part 5 e2e-stock scripts/guest-run --kernel stock --out build/test-logs/e2e-stock \
		--timeout "${E2E_GUEST_TIMEOUT:-3600}" \
		${E2E_TIMEOUT:+--env E2E_TIMEOUT="$E2E_TIMEOUT"} ${GUEST_ARGS:-} \
		-- scripts/run-tests-in-guest.sh --stock || true
else
	skip 5 e2e-stock "no stock: tests registered in tests/e2e/list"
fi

echo "=== logs: ${logs#"$top"/}/"
exec "$top/scripts/tap-summary" "$logs"/*.log
