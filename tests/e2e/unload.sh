#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# vfio_mstream.ko unloads cleanly once every instance is removed (issue 3), and
# loads again (so tests that run after this one still have the device).
# Runs in the guest (scripts/guest-run), as root; prints TAP.
set -u

top=${MSTREAM_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
module=${MST_MODULE_PATH:-$top/kernel/vfio_mstream.ko}
type_dir=/sys/class/mdev_bus/mstream/mdev_supported_types/vfio_mstream-dev

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n $*"; }
notok() { n=$((n + 1)); failed=1; echo "not ok $n $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else notok "$what"; fi; }

echo "TAP version 13"
echo "1..7"
if [ ! -d /sys/module/vfio_mstream ] || [ ! -e "$type_dir/create" ]; then
	for i in 1 2 3 4 5 6 7; do
		echo "ok $i unload # SKIP vfio_mstream.ko not loaded (no $type_dir)"
	done
	exit 4
fi

# Instances of our type, whoever made them.
instances() {
	local d
	for d in /sys/bus/mdev/devices/*; do
		[ -e "$d/mdev_type" ] || continue
		[ "$(basename "$(readlink -f "$d/mdev_type")")" = vfio_mstream-dev ] &&
			basename "$d"
	done
	return 0
}

# Two fresh instances, so there is something to remove even when run alone.
for i in 1 2; do
	uuid=$(cat /proc/sys/kernel/random/uuid)
	echo "$uuid" > "$type_dir/create" || echo "# create $uuid failed"
done
check "instances exist before removal ($(instances | wc -l))" [ "$(instances | wc -l)" -ge 2 ]

rm_ok=1
for u in $(instances); do
	echo 1 > "/sys/bus/mdev/devices/$u/remove" || { echo "# remove $u failed"; rm_ok=0; }
done
left=$(instances | wc -l)
check "every instance removed ($left left)" [ "$rm_ok$left" = 10 ]

refcnt=$(cat /sys/module/vfio_mstream/refcnt 2>/dev/null || echo '?')
check "module refcount is 0 with no instance (refcnt $refcnt)" [ "$refcnt" = 0 ]

out=$(rmmod vfio_mstream 2>&1); rc=$?
[ -n "$out" ] && echo "# rmmod: $out"
check "rmmod vfio_mstream succeeds" [ "$rc" = 0 ]
gone=1
[ -d /sys/module/vfio_mstream ] && gone=0
[ -e /sys/class/mdev_bus/mstream ] && gone=0
check "module and mdev parent are gone" [ "$gone" = 1 ]

# Load it again for whatever runs next.
if [ -f "$module" ]; then
	out=$(insmod "$module" 2>&1); rc=$?
	[ -n "$out" ] && echo "# insmod: $out"
else
	echo "# $module not found"; rc=1
fi
[ -e "$type_dir/create" ] || rc=${rc/#0/1}
check "insmod $module again" [ "$rc" = 0 ]

# And the reloaded module works: create, remove.
uuid=$(cat /proc/sys/kernel/random/uuid)
if echo "$uuid" > "$type_dir/create" 2>/dev/null && [ -d "/sys/bus/mdev/devices/$uuid" ]; then
	echo 1 > "/sys/bus/mdev/devices/$uuid/remove"
	check "reloaded module creates and removes an instance" [ ! -e "/sys/bus/mdev/devices/$uuid" ]
else
	notok "reloaded module creates and removes an instance"
fi
exit $failed
