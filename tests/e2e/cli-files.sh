#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# mstream save and load: v2 and v3, one and two devices, the destination ending
# with the source's checksum; and the saves a load must refuse, each with exit
# status 4, a message naming the problem, and the destination left untouched.
source "$(dirname "$0")/cli-lib.bash"

plan 12
need_env

SIZE=$((4 << 20))

# save_load WHAT ND ARGS...: save ND new devices, load into ND others.
save_load() {
	local what=$1 nd=$2 i rc dir=$WORK/save-$n srcs=() dsts=() sums=()
	shift 2
	for ((i = 0; i < nd; i++)); do
		mkdev $SIZE 0 300 || { notok "$what (create)"; return; }
		srcs+=("$REPLY")
		mkdev $SIZE || { notok "$what (create)"; return; }
		dsts+=("$REPLY")
	done
	run_to rc "$M" save --json --no-progress "$@" "$dir" "${srcs[@]}" > "$WORK/save.json"
	if [ "$rc" != 0 ] || [ ! -f "$dir/manifest" ]; then
		notok "$what: save: exit $rc: $(cat "$WORK/save.json")"
		return
	fi
	for ((i = 0; i < nd; i++)); do sums+=("$(sum "${srcs[i]}")"); done
	run_to rc "$M" load --json --no-progress "$dir" "${dsts[@]}" > "$WORK/load.json"
	if [ "$rc" != 0 ]; then
		notok "$what: load: exit $rc"
		return
	fi
	for ((i = 0; i < nd; i++)); do
		if [ "$(sum "${dsts[i]}")" != "${sums[i]}" ]; then
			notok "$what: device $i: the loaded state differs from the saved one"
			return
		fi
	done
	local m
	m=$(jget "$WORK/load.json" 'd["checksums_match"]')
	if [ "$m" != True ]; then
		notok "$what: load did not match the manifest's source checksum ($m)"
		return
	fi
	ok "$what"
	SAVE=$dir
}

save_load "v3 N=4: save and load one device" 1 -p v3 -n 4
save_load "v2: save and load one device" 1 -p v2
save_load "v3 N=2: save and load two devices" 2 -p v3 -n 2
good=$SAVE

# Damaged copies of the last save, each loaded into a fresh destination.
mkdev $SIZE; dst=$REPLY
mkdev $SIZE; dst2=$REPLY
before=$(sum "$dst")

# refused WHAT PATTERN: load $bad into dst, expect exit 4 and PATTERN in stderr.
refused() {
	local rc
	run_to rc "$M" load --no-progress "$bad" "$dst" "$dst2" 2> "$WORK/err"
	if [ "$rc" != 4 ]; then
		notok "$1: exit $rc, expected 4"
	elif ! grep -q "$2" "$WORK/err"; then
		notok "$1: message '$(cat "$WORK/err")' lacks '$2'"
	else
		ok "$1 is refused: $(head -c 200 "$WORK/err")"
	fi
}

bad=$WORK/bad; rm -rf "$bad"; cp -r "$good" "$bad"
truncate -s 1000 "$bad/d0-s1.bin"
refused "a truncated stream file" "d0-s1.bin is truncated"

rm -rf "$bad"; cp -r "$good" "$bad"
# Flip every bit of one byte in the middle of the file.
python3 - "$bad/d1-s2.bin" <<'PY'
import os, sys
with open(sys.argv[1], "r+b") as f:
    off = os.path.getsize(sys.argv[1]) // 2
    f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0xff]))
PY
refused "a corrupted stream file" "d1-s2.bin is corrupted"

rm -rf "$bad"; cp -r "$good" "$bad"
rm "$bad/d0-s0.bin"
refused "a missing stream file" "d0-s0.bin"

rm -rf "$bad"; cp -r "$good" "$bad"
rm "$bad/manifest"
refused "a save without its manifest" "no manifest"

rm -rf "$bad"; cp -r "$good" "$bad"
sed -i 's/bytes=\([0-9]*\)/bytes=1\1/' "$bad/manifest"
refused "an edited manifest" "own checksum"

rm -rf "$bad"; cp -r "$good" "$bad"
head -c 100 "$good/manifest" > "$bad/manifest"
refused "a truncated manifest" "manifest"

check "after the refusals the destination is untouched" [ "$(sum "$dst")" = "$before" ]

run_to rc "$M" save --no-progress "$good" "$dst" 2> "$WORK/err"
c=false; [ "$rc" = 1 ] && grep -q "already holds a save" "$WORK/err" && c=true
check "saving into a directory that holds a save is refused (exit $rc)" $c

run_to rc "$M" load --no-progress "$good" "$dst" 2> "$WORK/err"
check "loading two devices into one is refused (exit $rc)" [ "$rc" = 1 ]
diag "$(head -c 200 "$WORK/err")"

finish
