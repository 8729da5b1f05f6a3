#!/usr/bin/env bash
# Self-tests of scripts/guest-run, the thing every kernel-side test trusts: it must pass
# the command's exit status through, fail a run whose kernel WARNs, kill a hung guest at
# its timeout, stop early a guest whose CPU is stuck in the kernel, tell a boot that
# never reached the command from a failing command, and, on the debug kernel, fail a
# run on a lockdep, KASAN or kmemleak report, quoting it.  Prints TAP; each guest run's output is shown as TAP comments and its
# logs are kept in build/test-logs/runner/<test>/.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
kver=$("$top/scripts/kver.sh")
kdir=${KDIR:-/usr/src/linux-headers-$kver}
logs=$top/build/test-logs/runner
mkdir -p "$logs"

n=0 failed=0
tap() {    # tap OK|FAIL NAME [WHY]
	n=$((n + 1))
	if [ "$1" = OK ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2${3:+: $3}"
		failed=1
	fi
}

# Run guest-run with output as TAP comments; sets rc, and out (its output).
guest() {
	local name=$1
	shift
	set +e
	"$top/scripts/guest-run" --out "$logs/$name" "$@" 2>&1 | tee "$logs/$name.out" | sed -u 's/^/# /'
	rc=${PIPESTATUS[0]}
	set -e
	out=$(tr -d '\r' < "$logs/$name.out")
}

echo "1..8"

# (a) The command's status is the runner's status.
guest exit-status --no-module -- 'exit 3'
if [ "$rc" = 3 ] && [ -s "$logs/exit-status/dmesg.log" ]; then
	tap OK "a command that exits 3 makes guest-run exit 3"
else
	tap FAIL "a command that exits 3 makes guest-run exit 3" "got $rc"
fi

# (b) A WARN in the guest's kernel fails the run even though the command succeeds.
#     Kbuild writes next to the sources, so build a copy under build/.
warn_build=$top/build/runner-warn
mkdir -p "$warn_build"
cp "$top"/tests/runner/warn/{Kbuild,mst_runner_warn.c} "$warn_build/"
built=1
if ! make -s -C "$kdir" M="$warn_build" modules > "$logs/warn-build.out" 2>&1; then
	sed 's/^/# /' "$logs/warn-build.out"
	built=0
	tap FAIL "a kernel WARN in the guest fails the run" "the test module did not build"
else
	guest warn --no-module -- "insmod $warn_build/mst_runner_warn.ko warn=1"
	if [ "$rc" = 120 ] && grep -q 'WARNING:.*mst_runner_warn' <<< "$out"; then
		tap OK "a kernel WARN in the guest fails the run"
	else
		tap FAIL "a kernel WARN in the guest fails the run" "got $rc, or no WARNING line naming the module"
	fi
fi

# (c) A hung guest is killed at the timeout, and says so.
start=$SECONDS
guest timeout --no-module --timeout 40 -- 'echo hanging; sleep 100000'
took=$((SECONDS - start))
if [ "$rc" = 124 ] && grep -q 'guest timed out after 40 s' <<< "$out" && [ "$took" -lt 60 ]; then
	tap OK "a hung guest is killed at --timeout 40 (${took} s)"
else
	tap FAIL "a hung guest is killed at --timeout 40" "got $rc after ${took} s"
fi

# (d) A CPU stuck in the kernel (soft lockup) fails the run, and the guest is stopped
#     soon after the report instead of at the timeout.  One vCPU, so that nothing in the
#     guest's userspace runs any more: the report must be found on the console.
if [ "$built" = 0 ]; then
	tap FAIL "a soft lockup stops the guest early and fails the run" "the test module did not build"
else
	start=$SECONDS
	guest stuck --no-module --smp 1 --timeout 600 -- "insmod $warn_build/mst_runner_warn.ko spin=1"
	took=$((SECONDS - start))
	if [ "$rc" = 120 ] && grep -q 'soft lockup' <<< "$out" && [ "$took" -lt 300 ]; then
		tap OK "a soft lockup stops the guest early and fails the run (${took} s)"
	else
		tap FAIL "a soft lockup stops the guest early and fails the run" "got $rc after ${took} s"
	fi
fi

# (e) A guest that never reaches the command is retried once, then reported as such
#     (not as a test failure).  A 1 s boot limit makes every boot "die" early.
guest no-start --no-module --boot-timeout 1 -- 'true'
if [ "$rc" = 125 ] && grep -q 'retrying the boot once' <<< "$out" &&
   grep -q 'guest died before the command started, twice' <<< "$out"; then
	tap OK "a guest that dies before the command is retried once, then reported"
else
	tap FAIL "a guest that dies before the command is retried once, then reported" "got $rc"
fi

# (f)-(h) The debug kernel's checks fail a run, each for its own reason, and the
#     report is in the run's output.  The module is built against that kernel's tree.
debug_build=$top/build/runner-debug
mkdir -p "$debug_build"
cp "$top"/tests/runner/debug/{Kbuild,mst_runner_debug.c} "$debug_build/"
debug_checks=(
	"lockdep=1|possible circular locking dependency|a lock-order inversion fails the run on the debug kernel (lockdep)"
	"oob=1|KASAN: slab-out-of-bounds|a write past a kmalloc'd buffer fails the run on the debug kernel (KASAN)"
	"leak=1|unreferenced object .*size 1024|a leaked allocation fails the run on the debug kernel (kmemleak)"
)
if ! kdir_debug=$("$top/scripts/build-guest-kernel" debug)/linux ||
   ! make -s -C "$kdir_debug" M="$debug_build" modules > "$logs/debug-build.out" 2>&1; then
	sed 's/^/# /' "$logs/debug-build.out" 2>/dev/null || true
	for c in "${debug_checks[@]}"; do
		tap FAIL "${c##*|}" "the debug kernel or the test module did not build"
	done
else
	for c in "${debug_checks[@]}"; do
		IFS='|' read -r param report name <<< "$c"
		guest "debug-${param%=*}" --kernel debug --no-module -- "insmod $debug_build/mst_runner_debug.ko $param"
		if [ "$rc" = 120 ] && grep -Eq "$report" <<< "$out"; then
			tap OK "$name"
		else
			tap FAIL "$name" "got $rc, or no '$report' in the output"
		fi
	done
fi

exit "$failed"
