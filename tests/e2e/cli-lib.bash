# SPDX-License-Identifier: MIT
# Shared by tests/e2e/cli-*.sh, the guest tests of the mstream CLI (sourced, not run:
# the name does not end in .sh so that no runner takes it for a test).
#
# Each test script prints TAP, runs in the guest as root from the project top with
# vfio_mstream.ko loaded, and removes every instance it created (UUIDs c11i...).

top=${MSTREAM_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
M=$top/userspace/build/mstream
TYPE=/sys/class/mdev_bus/mstream/mdev_supported_types/vfio_mstream-dev
DEVS=/sys/bus/mdev/devices
WORK=$(mktemp -d /tmp/mstream-cli.XXXXXX)
n=0 failed=0 planned=0
UUIDS=()

plan() { planned=$1; echo "TAP version 13"; echo "1..$1"; }
ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); failed=1; echo "not ok $n - $*"; }
diag() { printf '%s\n' "$*" | sed 's/^/# /'; }
# check "what" command...: ok when the command succeeds.
check() { local what=$1; shift; if "$@"; then ok "$what"; else notok "$what"; fi; }
# Exit 4 (kselftest's SKIP) with every planned case marked skipped.
skip_all() {
	local i
	for ((i = n + 1; i <= planned; i++)); do echo "ok $i - skipped # SKIP $*"; done
	exit 4
}
finish() {
	[ "$n" -eq "$planned" ] || { diag "ran $n of $planned cases"; failed=1; }
	exit $failed
}

cleanup() {
	local u
	jobs -p | xargs -r kill -9 2>/dev/null
	wait 2>/dev/null
	for u in "${UUIDS[@]}"; do
		[ -e "$DEVS/$u/remove" ] && echo 1 > "$DEVS/$u/remove" 2>/dev/null
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

need_env() {
	[ -x "$M" ] || skip_all "userspace/build/mstream is not built (make -C userspace)"
	[ -e "$TYPE/create" ] || skip_all "vfio_mstream.ko is not loaded (no $TYPE)"
	command -v python3 >/dev/null || skip_all "python3 is needed to read --json"
}

knob() { echo "$3" > "$DEVS/$1/mstream/$2"; }
knob_get() { cat "$DEVS/$1/mstream/$2"; }
sum() { cat "$DEVS/$1/mstream/checksum"; }

# mkdev SIZE [ENGINE_BW [DIRTY_RATE]]: a new instance in $REPLY.
mkdev() {
	local u
	u=$(cat /proc/sys/kernel/random/uuid)
	u=c11${u:3}
	echo "$u" > "$TYPE/create" || return 1
	UUIDS+=("$u")
	knob "$u" state_size "$1" && knob "$u" engine_bw "${2:-0}" &&
		knob "$u" dirty_rate "${3:-0}" || return 1
	REPLY=$u
}

# jget FILE EXPR: a value from a --json output, EXPR in Python over `d`.
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null; }

# The state the device reports through the CLI (opens it: not while in use).
devstate() { "$M" info --json "$1" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["devices"][0]["state"])'; }

# run_to VAR CMD...: run, keep the exit status in VAR (no set -e here).
run_to() { local __v=$1; shift; "$@"; printf -v "$__v" '%s' $?; }

# Wait (at most $2 s) until file $1 contains $3.
wait_for() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		grep -q "$3" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
