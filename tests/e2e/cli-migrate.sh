#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# mstream migrate, device to device in one guest: v2 and v3, 1 to 4 devices,
# together and one after another, each reader, with equal checksums at the end;
# and the failures: a destination that refuses the data, and an interrupted
# migration, after which the source runs on with its state intact.
source "$(dirname "$0")/cli-lib.bash"

plan 14
need_env

SIZE=$((4 << 20))

# migrate_ok WHAT NSRC ARGS...: migrate NSRC new sources to new destinations.
migrate_ok() {
	local what=$1 nd=$2 i rc pairs=() srcs=() dsts=() out=$WORK/m.json
	shift 2
	for ((i = 0; i < nd; i++)); do
		mkdev $SIZE 0 500 || { notok "$what (create)"; return; }
		srcs+=("$REPLY")
		mkdev $SIZE || { notok "$what (create)"; return; }
		dsts+=("$REPLY")
		pairs+=("${srcs[i]}:${dsts[i]}")
	done
	run_to rc "$M" migrate --json --no-progress "$@" "${pairs[@]}" > "$out"
	if [ "$rc" != 0 ]; then
		local why
		why=$(jget "$out" 'd["error"]')
		notok "$what: exit $rc: $why"
		return
	fi
	if [ "$(jget "$out" 'd["checksums_match"]')" != True ]; then
		notok "$what: checksums differ"
		return
	fi
	# The sources are stopped after a migration: their state is the one moved.
	for ((i = 0; i < nd; i++)); do
		if [ "$(sum "${srcs[i]}")" != "$(sum "${dsts[i]}")" ]; then
			notok "$what: device $i: sysfs checksums differ"
			return
		fi
	done
	local dt bytes
	dt=$(jget "$out" 'd["downtime_ns"] // 1000000')
	bytes=$(jget "$out" 'd["bytes"]')
	ok "$what (downtime $dt ms, $bytes bytes)"
}

# 1: info
mkdev $SIZE
info=$WORK/info.json
"$M" info --json "$REPLY" > "$info"
check "info reports PRE_COPY and v3 with at least 8 dirty streams" \
	[ "$(jget "$info" 'd["devices"][0]["pre_copy"] and d["devices"][0]["v3"] and d["devices"][0]["max_dirty"] >= 8')" = True ]

migrate_ok "v2, 1 device, precopy" 1 -p v2
migrate_ok "v3 N=4, 1 device, precopy" 1 -p v3 -n 4
migrate_ok "v3 N=1, threads reader" 1 -p v3 -n 1 --reader threads
migrate_ok "v3 N=8, serial reader" 1 -p v3 -n 8 --reader serial
migrate_ok "v3 N=2, 2 devices together" 2 -p v3 -n 2
migrate_ok "v2, 3 devices one after another" 3 -p v2 --order serial
migrate_ok "v3 N=4, 4 devices together, no precopy" 4 -p v3 -n 4 --no-precopy
migrate_ok "v3 N=4, 4 devices one after another, 1 worker" 4 -p v3 -n 4 --order serial -t 1

# 10-12: a destination that cannot take the state (another geometry) refuses it;
# the source goes back to RUNNING with its state intact.
mkdev $SIZE 0 0; src=$REPLY
mkdev $((SIZE * 2)); dst=$REPLY
before=$(sum "$src")
run_to rc "$M" migrate --no-progress -p v3 -n 4 "$src:$dst" 2> "$WORK/err"
check "a refusing destination fails the migration (exit $rc)" [ "$rc" = 1 ]
diag "$(head -c 300 "$WORK/err")"
check "after it, the source is RUNNING" [ "$(devstate "$src")" = RUNNING ]
check "after it, the source's state is intact" [ "$(sum "$src")" = "$before" ]

# 13-14: SIGINT while the state moves (the engine slowed to 1 MiB/s: 4 s of STOP_COPY).
mkdev $SIZE 1 0; src=$REPLY
mkdev $SIZE; dst=$REPLY
before=$(sum "$src")
"$M" migrate --no-progress -p v2 --no-precopy "$src:$dst" 2> "$WORK/err" &
pid=$!
sleep 1.5
kill -INT $pid
run_to rc wait $pid
check "SIGINT mid-way fails the migration (exit $rc), source RUNNING" \
	[ "$rc" = 1 -a "$(devstate "$src")" = RUNNING ]
check "after SIGINT, the source's state is intact" [ "$(sum "$src")" = "$before" ]
diag "$(head -c 300 "$WORK/err")"

finish
