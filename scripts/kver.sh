#!/usr/bin/env bash
# Print the kernel release the project builds and boots against.
#
# KVER= overrides.  Otherwise: the newest Debian 6.12 amd64 release whose headers are
# installed, else the newest one apt offers with both a headers and an image package
# (versions move as Debian ships updates, so nothing here names one).
set -euo pipefail

if [ -n "${KVER:-}" ]; then
	echo "$KVER"
	exit 0
fi

installed=$(ls -d /usr/src/linux-headers-6.12.*+deb12-amd64 2>/dev/null |
	sed 's|.*/linux-headers-||' | sort -V | tail -n 1 || true)
if [ -n "$installed" ] && [ -e "/boot/vmlinuz-$installed" ]; then
	echo "$installed"
	exit 0
fi

command -v apt-cache >/dev/null || { echo "kver: no apt-cache and no 6.12 headers installed" >&2; exit 1; }
for v in $(apt-cache search --names-only '^linux-headers-6\.12\.[0-9]+\+deb12-amd64$' |
	   sed -n 's/^linux-headers-\([^ ]*\) .*/\1/p' | sort -rV); do
	if apt-cache show "linux-image-$v" >/dev/null 2>&1 ||
	   apt-cache show "linux-image-$v-unsigned" >/dev/null 2>&1; then
		echo "$v"
		exit 0
	fi
done
echo "kver: apt offers no linux-headers-6.12.*+deb12-amd64 with a matching image (run apt-get update?)" >&2
exit 1
