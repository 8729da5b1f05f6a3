#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# bench/boot-time.sh - the guest runner's boot time on QEMU 10 (the L1 hypervisor of
# every test and benchmark since make deps installs it) against Debian 12's QEMU 7.2.
#
#   bench/boot-time.sh [RUNS]     (default 10 boots of each, interleaved)
#
# QEMU 7.2 comes from the bookworm suite's packages, extracted (not installed) into
# /var/cache/vfio-mstream/qemu-7.2 and run through a wrapper placed first in PATH.
# Each round boots both, in an order that alternates between rounds, so that a change
# of the host's load falls on both. A boot is scripts/guest-run's "boot" time: from
# QEMU's start to the guest starting the command (`true`, no module). Writes
# bench/results/boot-time.csv and prints the comparison (bench/report_boot.py).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-10}
cache=/var/cache/vfio-mstream/qemu-7.2
out=$top/bench/results
csv=$out/boot-time.csv
log() { printf 'boot-time: %s\n' "$*" >&2; }

fetch_qemu72() {
	[ -x "$cache/bin/qemu-system-x86_64" ] && return 0
	log "extracting Debian 12's QEMU 7.2 into $cache"
	local tmp
	tmp=$(mktemp -d)
	# /bookworm: the suite's own version, whatever backports holds
	(cd "$tmp" && apt-get download -q qemu-system-x86/bookworm \
		qemu-system-common/bookworm qemu-system-data/bookworm seabios/bookworm) >&2
	mkdir -p "$cache/root" "$cache/bin"
	for deb in "$tmp"/*.deb; do
		dpkg-deb -x "$deb" "$cache/root"
	done
	rm -rf "$tmp"
	cat > "$cache/bin/qemu-system-x86_64" <<WRAP
#!/bin/sh
exec $cache/root/usr/bin/qemu-system-x86_64 -L $cache/root/usr/share/qemu -L $cache/root/usr/share/seabios "\$@"
WRAP
	chmod +x "$cache/bin/qemu-system-x86_64"
}

# boot_once NAME PATH_PREFIX: one boot; appends "NAME,round,seconds,load1" to the CSV
boot_once() {
	local name=$1 path=$2 round=$3 line load
	load=$(cut -d' ' -f1 /proc/loadavg)
	line=$(PATH=$path scripts/guest-run --no-module --out "$top/build/guest-boot" \
		-- true 2>&1 | grep -o 'boot [0-9.]* s' | tail -n 1)
	[ -n "$line" ] || { log "$name round $round: no boot time (see build/guest-boot/)"; return 1; }
	line=${line#boot }
	printf '%s,%d,%s,%s\n' "$name" "$round" "${line% s}" "$load" >> "$csv"
	log "$name round $round: ${line% s} s (host load $load)"
}

cd "$top"
fetch_qemu72
v10=$(qemu-system-x86_64 --version | head -n 1)
v72=$("$cache/bin/qemu-system-x86_64" --version | head -n 1)
log "new: $v10; old: $v72"
mkdir -p "$out"
{
	echo "# bench/boot-time.sh: guest-run boot seconds, $runs interleaved rounds, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "# qemu10 = $v10; qemu72 = $v72"
	echo "# host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
	echo "qemu,round,boot_s,host_load1"
} > "$csv"
for ((r = 1; r <= runs; r++)); do
	if ((r % 2)); then
		boot_once qemu10 "$PATH" "$r"
		boot_once qemu72 "$cache/bin:$PATH" "$r"
	else
		boot_once qemu72 "$cache/bin:$PATH" "$r"
		boot_once qemu10 "$PATH" "$r"
	fi
done
python3 "$top/bench/report_boot.py" "$csv"
