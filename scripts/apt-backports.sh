#!/usr/bin/env bash
# Make Debian's bookworm-backports suite available to apt, for QEMU 10 and meson 1.7.
#
# The entry is derived from the existing deb822 entry of the "bookworm" suite (its URIs
# and Signed-By lines are copied), so no archive host is written here.  Backports are
# NotAutomatic: apt pins them at priority 100, so nothing moves to them unless asked
# for by name (pkg/bookworm-backports or -t bookworm-backports).
#
# Usage: apt-backports.sh           add the entry if missing; print its path
#        apt-backports.sh --check   exit 1 if the entry is missing
set -euo pipefail

entry=/etc/apt/sources.list.d/vfio-mstream-backports.sources
src=/etc/apt/sources.list.d/debian.sources

if [ "${1:-}" = --check ]; then
	[ -f "$entry" ]
	exit
fi
if [ -f "$entry" ]; then
	echo "$entry"
	exit 0
fi
[ -f "$src" ] || { echo "apt-backports: $src missing: cannot derive the archive address" >&2; exit 1; }

# The stanza (blank-line separated) whose Suites: line names bookworm itself.
stanza=$(awk -v RS= '/(^|\n)Suites:([^\n]* )?bookworm( |\n|$)/ { print; exit }' "$src")
uris=$(sed -n 's/^URIs:[[:space:]]*//p' <<< "$stanza" | head -n 1)
signed=$(sed -n 's/^Signed-By:[[:space:]]*//p' <<< "$stanza" | head -n 1)
[ -n "$uris" ] || { echo "apt-backports: no bookworm entry with URIs in $src" >&2; exit 1; }

{
	echo "# Added by vfio-mstream's scripts/apt-backports.sh (derived from $src)."
	echo "Types: deb deb-src"
	echo "URIs: $uris"
	echo "Suites: bookworm-backports"
	echo "Components: main"
	[ -z "$signed" ] || echo "Signed-By: $signed"
} > "$entry.tmp"
mv "$entry.tmp" "$entry"
echo "apt-backports: added $entry" >&2
echo "$entry"
