#!/bin/bash
# SPDX-License-Identifier: MIT
#
# symbols_test.sh BUILD_DIR - what libmstream's archives and shared object
# export (TAP). A program links libmstream.a into its own namespace: every
# global symbol the archive defines must carry the mstream_ prefix, or it
# can collide with the program's own (fail, read_full, net_connect ...). The
# shared object exports exactly the names of libmstream.map, and the
# sample-device helpers live in libmstream-sample.a, not in libmstream.
# XXH64 comes from libxxhash, not from code of the library's own.
O=${1:-build}
n=0 failed=0

check() { # check WHAT OUTPUT: ok when OUTPUT is empty
	n=$((n + 1))
	if [ -z "$2" ]; then
		echo "ok $n $1"
	else
		echo "not ok $n $1"
		printf '%s\n' "$2" | head -20 | sed 's/^/#   /'
		failed=1
	fi
}

defined() { nm -g --defined-only "$1" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u; }

echo "TAP version 13"
echo "1..5"
check "libmstream.a defines only mstream_* globals" \
	"$(defined "$O/libmstream.a" | grep -v '^mstream_')"
check "libmstream.a has no XXH64 of its own (libxxhash's)" \
	"$(defined "$O/libmstream.a" | grep -i 'xxh' | grep -v '^mstream_xxh64$')"
check "libmstream.so exports exactly libmstream.map" \
	"$(diff <(nm -D --defined-only "$O/libmstream.so" | awk '$2 == "T" { print $3 }' | sed 's/@.*//' | sort -u) \
		<(sed -n 's/^[[:space:]]*\(mstream_[a-z0-9_]*\);.*/\1/p' lib/libmstream.map | sort -u))"
check "the sample-device helpers are not in libmstream" \
	"$(defined "$O/libmstream.a" | grep -E '^mstream_(mdev_|device_checksum$|sample_)')"
check "libmstream-sample.a defines only mstream_sample_* globals" \
	"$( [ -r "$O/libmstream-sample.a" ] || echo "$O/libmstream-sample.a: missing"
	    defined "$O/libmstream-sample.a" | grep -v '^mstream_sample_')"
exit $failed
