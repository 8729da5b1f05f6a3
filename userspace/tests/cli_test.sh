#!/bin/bash
# SPDX-License-Identifier: MIT
#
# cli_test.sh BUILD_DIR - the mstream command line on the host, no device
# needed (TAP): options of another command, conflicting options and extra
# arguments are usage errors (exit 2) that name the problem; each command's
# --help is its own; `load` of a missing directory and `info` of a missing
# device fail (exit 1) and say so, in the JSON too, which carries its schema
# version; a token file others can read is refused, and `mstream token FILE`
# writes one only its owner can.
O=${1:-build}
M=$O/mstream
T=$(mktemp -d /tmp/mstream-cli-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
n=0 failed=0

ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); echo "not ok $n $1"; failed=1; }

# expect WHAT CODE PATTERN -- ARGS...: exit CODE, PATTERN (grep -E) in stderr.
expect() {
	local what=$1 code=$2 pat=$3 rc
	shift 4
	"$M" "$@" > "$T/out" 2> "$T/err"
	rc=$?
	if [ "$rc" = "$code" ] && grep -qE -- "$pat" "$T/err"; then
		ok "$what"
	else
		notok "$what"
		echo "#   mstream $*: exit $rc (expected $code), stderr: $(head -c 300 "$T/err")"
	fi
}

# json_check WHAT PYTHON-EXPR: the JSON of $T/out satisfies the expression (d).
json_check() {
	if python3 -c "import json,sys; d = json.load(open('$T/out')); sys.exit(0 if ($2) else 1)" 2>/dev/null; then
		ok "$1"
	else
		notok "$1"
		echo "#   stdout: $(head -c 300 "$T/out")"
	fi
}

echo "TAP version 13"
echo "1..19"

expect "-p v2 with -n is a usage error" 2 "v2.*(-n|--streams)|(-n|--streams).*v2" -- \
	migrate -p v2 -n 4 a:b
expect "--precopy with --no-precopy is a usage error" 2 "precopy" -- \
	save --precopy --no-precopy "$T/s" a
echo 0123456789abcdef0123 > "$T/x"
chmod 600 "$T/x"
expect "--token with --token-file is a usage error" 2 "--token.*--token-file" -- \
	recv --token 0123456789abcdef --token-file "$T/x" a
expect "an option of another command is a usage error (info --listen)" 2 "listen" -- \
	info --listen :1 a
expect "recv refuses -p: the layout is the sender's" 2 "protocol|-p" -- \
	recv -p v2 --token 0123456789abcdef a
expect "--token without --to is a usage error for migrate" 2 "token.*--to|--to.*token" -- \
	migrate --token 0123456789abcdef a:b
expect "a demo option without --demo is a usage error" 2 "state-size.*demo|demo.*state-size" -- \
	migrate --state-size 1M a:b
expect "extra arguments to token are a usage error" 2 "argument" -- token a b
expect "arguments to migrate --demo are a usage error" 2 "argument" -- migrate --demo a:b

"$M" migrate --help > "$T/out" 2>&1; rc=$?
if [ $rc = 0 ] && head -1 "$T/out" | grep -q "^usage: mstream migrate" &&
   grep -q -- "--to" "$T/out" && ! grep -q -- "--listen" "$T/out"; then
	ok "migrate --help shows migrate's options only"
else
	notok "migrate --help shows migrate's options only"
	echo "#   exit $rc: $(head -3 "$T/out" | tr '\n' '|')"
fi
"$M" recv --help > "$T/out" 2>&1; rc=$?
if [ $rc = 0 ] && head -1 "$T/out" | grep -q "^usage: mstream recv" &&
   grep -q -- "--listen" "$T/out" && ! grep -q -- "--demo" "$T/out"; then
	ok "recv --help shows recv's options only"
else
	notok "recv --help shows recv's options only"
	echo "#   exit $rc: $(head -3 "$T/out" | tr '\n' '|')"
fi

expect "load of a missing directory fails (exit 1), not 'save refused' (4)" 1 "/nonexistent" -- \
	load /nonexistent a
expect "info of a missing device fails (exit 1)" 1 "no-such-device" -- \
	info no-such-device
"$M" info --json no-such-device > "$T/out" 2> "$T/err"; rc=$?
json_check "info --json reports the device that failed to open" \
	"d['devices'][0]['name'] == 'no-such-device' and 'no such device' in d['devices'][0]['error']"
json_check "the JSON carries its schema version" "d['schema_version'] == 1"
[ $rc = 1 ] && ok "info --json of a missing device exits 1" ||
	{ notok "info --json of a missing device exits 1"; echo "#   exit $rc"; }

echo 0123456789abcdef0123456789abcdef > "$T/tok"
chmod 644 "$T/tok"
expect "a token file others can read is refused" 2 "chmod|readable" -- \
	migrate --to 127.0.0.1:1 --token-file "$T/tok" a

"$M" token "$T/new" > "$T/out" 2> "$T/err"; rc=$?
mode=$(stat -c %a "$T/new" 2>/dev/null)
len=$({ tr -d '\n' < "$T/new"; } 2>/dev/null | wc -c)
if [ $rc = 0 ] && [ "$mode" = 600 ] && [ "$len" = 32 ] && [ ! -s "$T/out" ]; then
	ok "token FILE writes a 0600 file"
else
	notok "token FILE writes a 0600 file"
	echo "#   exit $rc, mode '$mode', $len characters, stdout '$(head -c 80 "$T/out")'"
fi
expect "token FILE does not overwrite" 1 "exists" -- token "$T/new"

exit $failed
