#!/bin/bash
# The bench with the series' build (patch 8), then the QEMU v3 tests.
set -u
date -u
echo "patched QEMU: $(scripts/build-qemu-v3 --path)"
QEMU_TIMEOUT=120 BENCH_QV3_REPS=5 BENCH_QV3_REINIT_REPS=5 BENCH_QV3_SIZE=32M \
	bench/qemu-v3.sh bench/results-qemu-v3
date -u
QEMU_V3_CASES=stopcopy,cancel,streams python3 tests/e2e/qemu-v3.py > bench/results-qemu-v3/tests-qemu-v3.tap 2>&1
echo "tests rc $?"
date -u
# The multifd token race, provoked: 9 device state threads on 2 channels.
O=bench/results-qemu-v3/race
timeout 180 build/repro/race.sh $O before-patch8 /var/cache/vfio-mstream/qemu-v3-9ecfe5b049e879e6/build/qemu-system-x86_64 10
timeout 120 build/repro/race.sh $O with-patch8 "$(scripts/build-qemu-v3 --path)" 8
date -u
