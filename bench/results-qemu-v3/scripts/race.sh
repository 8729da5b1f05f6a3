#!/bin/bash
# race.sh OUT LABEL BINARY RUNS: v3-8 over 2 multifd channels, unlimited engines,
# switchover at once; stop at the first hang (stacks by watchdog.sh).
out=$1 label=$2 bin=$3 runs=$4
mkdir -p "$out/$label"
build/repro/watchdog.sh "$out/$label" 40 &
wd=$!
for i in $(seq 1 "$runs"); do
	QEMU_TIMEOUT=100 QEMU_V3=$bin python3 tests/e2e/qemu/migrate.py --state-size $((128 << 20)) \
		--no-switchover-ack --knob chunk_size=8M --knob read_ahead=2 --knob crit_size=65536 \
		--v3 8 --multifd 2 2>/dev/null | tail -1 |
		grep -o '"status": "[a-z]*"\|"downtime_ms": [0-9]*' | tr '\n' ' ' |
		sed "s/^/$label run $i: /" >> "$out/summary"
	echo >> "$out/summary"
	ls "$out/$label"/stuck.* >/dev/null 2>&1 && break
done
kill $wd
