#!/usr/bin/env bash
# make demo, guest side (make demo runs: scripts/guest-run -- scripts/demo.sh).
# Also runs on a host that loaded the modules itself (see README, "Running natively").
#
# When the CLI is built (userspace/build/mstream), the demo is its migration demo:
#   mstream migrate --demo
# Until then it shows the sample device the kernel module registers: its mdev types,
# one instance created, that instance's sysfs knobs, and its removal.
set -euo pipefail

top=${MSTREAM_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
cli=$top/userspace/build/mstream

if [ -f "$cli" ] && [ -x "$cli" ]; then
	exec "$cli" migrate --demo
fi

echo "== vfio-mstream demo (the mstream CLI is not built yet: showing the device)"
echo "-- kernel $(uname -r); VFIO modules loaded:"
lsmod | awk 'NR > 1 && $1 ~ /^(vfio|vfio_iommu_type1|mdev|vfio_mstream)$/ { printf "   %-18s %s\n", $1, $2 }'

shopt -s nullglob
types=(/sys/class/mdev_bus/*/mdev_supported_types/*)
if [ ${#types[@]} -eq 0 ]; then
	if [ -d /sys/module/vfio_mstream ]; then
		echo "demo: vfio_mstream is loaded but registers no mdev type" >&2
		exit 1
	fi
	echo "-- kernel/vfio_mstream.ko is not built yet, so there is no mdev device to show."
	exit 0
fi

# A type's attribute, or "-" when the driver does not provide it.
attr() { cat "$1/$2" 2>/dev/null || echo -; }

echo "-- mdev types offered:"
for t in "${types[@]}"; do
	parent=${t%/mdev_supported_types/*}
	printf '   %s (parent %s): name=%s available_instances=%s device_api=%s\n' \
		"${t##*/}" "${parent##*/}" "$(attr "$t" name)" "$(attr "$t" available_instances)" \
		"$(attr "$t" device_api)"
	desc=$(attr "$t" description)
	[ "$desc" = - ] || echo "     $desc"
done

type=${types[0]}
uuid=$(cat /proc/sys/kernel/random/uuid)
dev=/sys/bus/mdev/devices/$uuid
echo "-- creating an instance of ${type##*/}: $uuid"
echo "$uuid" > "$type/create"
# Whatever happens below, do not leave the instance behind on a native host.
trap '[ -e "$dev/remove" ] && echo 1 > "$dev/remove"' EXIT

group=$(basename "$(readlink "$dev/iommu_group")")
echo "   iommu group $group -> /dev/vfio/$group $( [ -e "/dev/vfio/$group" ] && echo present || echo MISSING)"
echo "-- its sysfs knobs:"
while IFS= read -r f; do
	v=$(head -c 200 "$f" 2>/dev/null | tr '\n' ' ') || v="(not readable)"
	printf '   %-40s %s\n' "${f#"$dev"/}" "$v"
done < <(find "$dev/" -maxdepth 2 -type f ! -name uevent ! -name remove \
	! -path '*/power/*' -readable | sort)

echo 1 > "$dev/remove"
trap - EXIT
echo "-- removed $uuid; $(attr "$type" available_instances) instance(s) available again"
