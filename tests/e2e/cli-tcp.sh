#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# mstream migrate --to / mstream recv over loopback TCP (TLS, the default; and
# --plain-tcp once): v2 and v3, one and two devices, with equal checksums; and
# what must fail (--allow-from included) without hanging and
# without loading anything: a wrong token, no receiver, a hostile connection
# before the sender, a receiver killed mid-way (the source then runs on with
# its state intact).
source "$(dirname "$0")/cli-lib.bash"

plan 14
need_env
# A minimal guest may not have brought loopback up.
ip link set lo up 2>/dev/null || ifconfig lo up 2>/dev/null

SIZE=$((4 << 20))
TOK=$WORK/token
"$M" token "$TOK"
port=$((20000 + RANDOM % 20000))

# start_recv PORT TOKENFILE DST...: a receiver in the background ($RPID),
# with the options in RECV_OPTS.
RECV_OPTS=()
start_recv() {
	local p=$1 t=$2
	shift 2
	: > "$WORK/recv.err"
	"$M" recv --json --no-progress --listen "127.0.0.1:$p" --token-file "$t" \
		--accept-timeout 20 --timeout 3 "${RECV_OPTS[@]}" "$@" > "$WORK/recv.json" \
		2> "$WORK/recv.err" &
	RPID=$!
	wait_for "$WORK/recv.err" 5 "listening on"
}

# over_tcp WHAT ND ARGS...
over_tcp() {
	local what=$1 nd=$2 i rc rrc srcs=() dsts=()
	shift 2
	for ((i = 0; i < nd; i++)); do
		mkdev $SIZE 0 300 && srcs+=("$REPLY") && mkdev $SIZE && dsts+=("$REPLY") ||
			{ notok "$what (create)"; return; }
	done
	port=$((port + 1))
	start_recv $port "$TOK" "${dsts[@]}" || { notok "$what: no receiver"; return; }
	run_to rc "$M" migrate --json --no-progress --to "127.0.0.1:$port" --token-file "$TOK" \
		"$@" "${srcs[@]}" > "$WORK/send.json" 2> "$WORK/send.err"
	run_to rrc wait $RPID
	if [ "$rc" != 0 ] || [ "$rrc" != 0 ]; then
		notok "$what: sender exit $rc ($(head -c 200 "$WORK/send.err")), receiver exit $rrc ($(head -c 200 "$WORK/recv.err"))"
		return
	fi
	local m
	m=$(jget "$WORK/send.json" 'd["checksums_match"]')
	[ "$m" = True ] || { notok "$what: checksums_match=$m"; return; }
	for ((i = 0; i < nd; i++)); do
		[ "$(sum "${srcs[i]}")" = "$(sum "${dsts[i]}")" ] ||
			{ notok "$what: device $i differs"; return; }
	done
	ok "$what"
}

over_tcp "v3 N=4 over loopback TCP, one device" 1 -p v3 -n 4
over_tcp "v2 over loopback TCP, two devices" 2 -p v2
over_tcp "v3 N=2 over loopback TCP, two devices, no precopy" 2 -p v3 -n 2 --no-precopy
RECV_OPTS=(--plain-tcp)
over_tcp "v3 N=2 over plain TCP (--plain-tcp on both ends)" 1 -p v3 -n 2 --plain-tcp
RECV_OPTS=()

# 5-7: a sender with the wrong token gets nothing in.
mkdev $SIZE; src=$REPLY
mkdev $SIZE; dst=$REPLY
before=$(sum "$dst")
"$M" token "$WORK/other"
port=$((port + 1))
"$M" recv --no-progress --listen "127.0.0.1:$port" --token-file "$TOK" --accept-timeout 3 \
	"$dst" > /dev/null 2> "$WORK/recv.err" &
RPID=$!
wait_for "$WORK/recv.err" 5 "listening on"
run_to rc "$M" migrate --no-progress --to "127.0.0.1:$port" --token-file "$WORK/other" \
	"$src" 2> "$WORK/send.err"
check "a wrong token fails the sender (exit $rc)" [ "$rc" = 1 ]
diag "sender: $(head -c 200 "$WORK/send.err")"
run_to rrc wait $RPID
c=false; [ "$rrc" = 1 ] && grep -q "wrong session token" "$WORK/recv.err" && c=true
check "the receiver rejects it and loads nothing (exit $rrc)" $c
check "the destination is untouched" [ "$(sum "$dst")" = "$before" ]

# 8: nobody listening.
start=$(date +%s%N)
run_to rc "$M" migrate --no-progress --to 127.0.0.1:1 --token-file "$TOK" "$src" 2> "$WORK/send.err"
el=$((($(date +%s%N) - start) / 1000000))
c=false; [ "$rc" = 1 ] && grep -q "cannot connect" "$WORK/send.err" && [ $el -lt 10000 ] && c=true
check "an unreachable receiver is reported at once (exit $rc, $el ms)" $c

# 9: a hostile connection first, then the real sender.
mkdev $SIZE 0 0; src=$REPLY
mkdev $SIZE; dst=$REPLY
port=$((port + 1))
start_recv $port "$TOK" "$dst"
exec 9<>"/dev/tcp/127.0.0.1/$port" && printf 'GET / HTTP/1.0\r\n\r\n%0120d' 0 >&9
sleep 0.5
run_to rc "$M" migrate --no-progress --to "127.0.0.1:$port" --token-file "$TOK" "$src" \
	> /dev/null 2> "$WORK/send.err"
run_to rrc wait $RPID
exec 9>&-
c=false; [ "$rc" = 0 -a "$rrc" = 0 ] && grep -q "rejected connection" "$WORK/recv.err" && c=true
check "a hostile connection is turned away, the sender gets through (exit $rc/$rrc)" $c
diag "receiver: $(grep rejected "$WORK/recv.err" | head -c 200)"

# 10: a sender outside --allow-from is turned away.
mkdev $SIZE 0 0; src=$REPLY
mkdev $SIZE; dst=$REPLY
port=$((port + 1))
RECV_OPTS=(--allow-from 192.0.2.0/24)
start_recv $port "$TOK" "$dst"
RECV_OPTS=()
run_to rc "$M" migrate --no-progress --timeout 2 --to "127.0.0.1:$port" --token-file "$TOK" \
	"$src" > /dev/null 2> "$WORK/send.err"
c=false; [ "$rc" = 1 ] && wait_for "$WORK/recv.err" 5 "address not allowed" && c=true
kill $RPID; { wait $RPID; } 2>/dev/null
check "--allow-from turns a sender from elsewhere away (sender exit $rc)" $c

# 11: ^C (SIGINT) while recv waits for its sender ends it at once.
mkdev $SIZE; dst=$REPLY
port=$((port + 1))
start_recv $port "$TOK" "$dst"
start=$(date +%s%N)
kill -INT $RPID
run_to rrc wait $RPID
el=$((($(date +%s%N) - start) / 1000000))
# (With --json the error is in the JSON on stdout.)
c=false; [ "$rrc" = 1 ] && [ $el -lt 5000 ] && grep -q "interrupted" "$WORK/recv.json" && c=true
check "SIGINT ends a waiting recv (exit $rrc after $el ms)" $c
diag "receiver: $(grep -o '"error": *"[^"]*"' "$WORK/recv.json" | head -c 200)"

# 12-14: the receiver is killed while the state moves (1 MiB/s engine: 4 s).
mkdev $SIZE 1 0; src=$REPLY
mkdev $SIZE; dst=$REPLY
before=$(sum "$src")
port=$((port + 1))
start_recv $port "$TOK" "$dst"
start=$(date +%s%N)
"$M" migrate --no-progress --timeout 3 --to "127.0.0.1:$port" --token-file "$TOK" -p v2 \
	--no-precopy "$src" 2> "$WORK/send.err" &
spid=$!
sleep 1.5
kill -9 $RPID
{ wait $RPID; } 2>/dev/null
run_to rc wait $spid
el=$((($(date +%s%N) - start) / 1000000))
check "a receiver killed mid-way fails the sender (exit $rc after $el ms)" [ "$rc" = 1 ]
diag "sender: $(head -c 300 "$WORK/send.err")"
check "after it, the source is RUNNING" [ "$(devstate "$src")" = RUNNING ]
check "after it, the source's state is intact" [ "$(sum "$src")" = "$before" ]

finish
