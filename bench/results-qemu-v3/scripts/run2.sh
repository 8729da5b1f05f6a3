#!/bin/bash
OLD=/var/cache/vfio-mstream/qemu-v3-9ecfe5b049e879e6/build/qemu-system-x86_64
O=build/repro/out2
mkdir -p $O
build/repro/watchdog.sh $O 60 &
wd=$!
A=(--state-size 33554432 --no-switchover-ack --engine-bw 32 --knob chunk_size=8M --knob read_ahead=2 --knob crit_size=65536 --multifd 4)
for i in $(seq 1 15); do
	QEMU_V3=$OLD python3 tests/e2e/qemu/migrate.py "${A[@]}" --v3 2 2>/dev/null | tail -1 | grep -o '"status": "[a-z]*"\|"downtime_ms": [0-9]*' | tr '\n' ' ' | sed "s/^/old v3-2 loop $i: /" >> $O/summary; echo >> $O/summary
	ls $O/stuck.* >/dev/null 2>&1 && break
done
if ! ls $O/stuck.* >/dev/null 2>&1; then
	QEMU_V3=$OLD BENCH_QV3_SIZE=32M BENCH_QV3_REPS=1 BENCH_QV3_REINIT_REPS=1 timeout 500 bench/qemu-v3.sh $O/bench 2>> $O/summary
fi
kill $wd
