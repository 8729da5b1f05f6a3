#!/usr/bin/env bash
# Run every registered end-to-end test, one after the other, and print TAP.
# Meant to run inside the guest (make test does: scripts/guest-run -- this script), so
# that one boot serves all the tests.
#
# Registering a test (the first rule that applies):
#   tests/e2e/list     one test per line: a command run with `bash -c` from the project
#                      top, e.g. "tests/e2e/bin/migrate --streams 4"; blank lines and
#                      lines starting with # are ignored; a line starting with "stock: "
#                      is a test too slow for the debug kernel (KASAN), run only by
#                      --stock, in a boot of Debian's own kernel;
#   otherwise          tests/e2e/*.sh (run with bash) and the executables in tests/e2e/bin/,
#                      in name order.
# A test passes by exiting 0 and is skipped by exiting 4 (kselftest's KSFT_SKIP).  A test
# that prints its own TAP ("ok N ...", "not ok N ...", e.g. the kselftest harness) is
# counted per case; this script adds a line of its own only when the exit status says
# more than the test's TAP did.  Each test gets E2E_TIMEOUT seconds (default 600).
#
# Usage: run-tests-in-guest.sh [--stock]          run them (--stock: the stock: ones)
#        run-tests-in-guest.sh --list [--stock]   print them, one a line
set -uo pipefail    # no -e: a failing test is a result, not a reason to stop

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

stock=0
list_tests() {
	local f
	if [ -f tests/e2e/list ]; then
		if [ "$stock" = 1 ]; then
			sed -n 's/^stock:[[:space:]]*//p' tests/e2e/list
		else
			grep -Ev '^[[:space:]]*(#|$)|^stock:' tests/e2e/list
		fi
		return 0
	fi
	[ "$stock" = 0 ] || return 0
	for f in tests/e2e/*.sh; do
		[ -f "$f" ] && echo "bash $f"
	done
	for f in tests/e2e/bin/*; do
		[ -f "$f" ] && [ -x "$f" ] && echo "$f"
	done
	return 0
}

list=0
for a in "$@"; do
	case $a in
	--list) list=1 ;;
	--stock) stock=1 ;;
	-h | --help) sed -n 's/^# \{0,1\}//; /^Usage:/,/--list/p' "$0"; exit 0 ;;
	*) echo "run-tests-in-guest.sh: unknown argument '$a' (usage: [--list] [--stock])" >&2; exit 2 ;;
	esac
done
[ "$list" = 0 ] || { list_tests; exit 0; }

mapfile -t tests < <(list_tests)
limit=${E2E_TIMEOUT:-600}
n=0 failed=0
tap() { n=$((n + 1)); echo "$1 $n - $2"; [ "$1" = ok ] || failed=1; }

echo "# e2e: ${#tests[@]} test(s), ${limit} s each at most"
out=$(mktemp)
for t in "${tests[@]}"; do
	echo "# e2e: run $t"
	# Mark the kernel log, so a WARN in dmesg.log can be traced to the test that ran.
	echo "e2e: start $t" > /dev/kmsg 2>/dev/null || true
	timeout -k 10 "$limit" bash -c "$t" < /dev/null 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	echo "e2e: end $t (exit $rc)" > /dev/kmsg 2>/dev/null || true

	tr -d '\r' < "$out" | grep -Eq '^not ok([[:space:]]|$)' && failed=1
	if tr -d '\r' < "$out" | grep -Eq '^(not )?ok([[:space:]]|$)'; then
		# The test counted its own cases; speak only if its status contradicts them.
		case $rc in
		0|4) ;;
		*) tr -d '\r' < "$out" | grep -Eq '^not ok([[:space:]]|$)' ||
			tap "not ok" "$t: exited $rc after its own TAP reported no failure" ;;
		esac
		continue
	fi
	case $rc in
	0) tap ok "$t" ;;
	4) tap ok "$t # SKIP (exit 4)" ;;
	124|137) tap "not ok" "$t: timed out after $limit s" ;;
	*) tap "not ok" "$t: exited $rc" ;;
	esac
done
rm -f "$out"
exit "$failed"
