#!/usr/bin/env bash
# Install, with apt, everything vfio-mstream builds, boots and tests with.
# Idempotent: prints what is missing, installs only that, and says so when nothing is.
#
# Usage: deps.sh            install what is missing
#        deps.sh --check    only check: exit 1 (naming what is missing) if anything is
set -euo pipefail

check_only=0
[ "${1:-}" = --check ] && check_only=1

die() { echo "deps: $*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)

pkgs_base=(make gcc libc6-dev pkg-config dwarves kmod cpio busybox-static
	   liburing-dev libgnutls28-dev libxxhash-dev gnuplot-nox xz-utils
	   linux-source-6.12 flex bison bc libelf-dev libssl-dev python3
	   ninja-build libglib2.0-dev python3-venv	# the patched QEMU's build
	   libfdt-dev bzip2 ccache			# (scripts/build-qemu-v3)
	   linux-perf)	# bench/: perf in the guest (profiles of the scenarios)
# From bookworm-backports (scripts/apt-backports.sh), the only suite that packages them
# for Debian 12: QEMU 10, the VMM the project migrates with and the guest runner's L1
# hypervisor, and meson >= 1.5 and pycotap (its meson group), which QEMU 10's build
# needs.
pkgs_bpo=(qemu-system-x86 meson python3-pycotap)
bpo_min=(1:10.0 1.5 1.1)

# The packages of "$@" that are not installed (one dpkg query for all of them).
missing() {
	local installed
	installed=$(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null |
		awk '/ install ok installed$/ { print $1 }' || true)
	printf '%s\n' "$@" | grep -vxF -f <(echo "$installed") || true
}

command -v dpkg-query >/dev/null || die "this is not a Debian system (no dpkg-query)"

kver=$("$here/kver.sh" 2>/dev/null || true)
if [ -z "$kver" ] && [ "$check_only" = 1 ]; then
	echo "deps: no Debian 6.12 kernel headers installed"
	exit 1
fi
if [ -z "$kver" ]; then
	[ "$(id -u)" = 0 ] || die "no 6.12 kernel headers installed and not root: run 'make deps' as root"
	echo "deps: apt-get update (to resolve the newest 6.12 kernel)"
	apt-get update -qq || die "apt-get update failed"
	kver=$("$here/kver.sh") || die "cannot resolve a Debian 6.12 kernel (set KVER=)"
fi

pkgs=("${pkgs_base[@]}" "linux-headers-$kver" "linux-image-$kver")
need=$(missing "${pkgs[@]}")
# A backports package counts as installed only at its minimum version.
need_bpo=
for i in "${!pkgs_bpo[@]}"; do
	v=$(dpkg-query -W -f='${Version}' "${pkgs_bpo[i]}" 2>/dev/null || true)
	if [ -z "$v" ] || ! dpkg --compare-versions "$v" ge "${bpo_min[i]}"; then
		need_bpo+="${need_bpo:+ }${pkgs_bpo[i]}"
	fi
done
need+="${need:+${need_bpo:+ }}$need_bpo"
if [ -z "$need" ]; then
	echo "deps: all installed (kernel $kver)"
	exit 0
fi
if [ "$check_only" = 1 ]; then
	echo "deps: missing: $(echo $need)"
	exit 1
fi

[ "$(id -u)" = 0 ] || die "missing packages, and not root: $(echo $need)"
command -v apt-get >/dev/null || die "no apt-get: install these by hand: $(echo $need)"

echo "deps: installing: $(echo $need)"
export DEBIAN_FRONTEND=noninteractive
# install PKG...: with one apt-get update and retry, as a stale list is the usual cause.
install() {
	apt-get install -y -q --no-install-recommends "$@" && return
	echo "deps: install failed; retrying after apt-get update" >&2
	apt-get update -qq || die "apt-get update failed"
	apt-get install -y -q --no-install-recommends "$@" || die "apt-get install failed: $*"
}
need_base=$(missing "${pkgs[@]}")
[ -z "$need_base" ] || install $need_base
if [ -n "$need_bpo" ]; then
	if ! "$here/apt-backports.sh" --check ||
	   ! apt-cache policy qemu-system-x86 | grep -q bookworm-backports; then
		"$here/apt-backports.sh" >/dev/null
		apt-get update -qq || die "apt-get update failed"
	fi
	# -t for this one transaction, so that their dependencies (qemu-system-common,
	# seabios, ...) come from the same suite; everything else stays on bookworm.
	install -t bookworm-backports $need_bpo
fi
echo "deps: done (kernel $kver)"
