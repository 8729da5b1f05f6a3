#!/bin/bash
OLD=/var/cache/vfio-mstream/qemu-v3-9ecfe5b049e879e6/build/qemu-system-x86_64
NEW=/var/cache/vfio-mstream/qemu-v3-968ac2a01615dd2d/build/qemu-system-x86_64
O=build/repro/out1
A=(--state-size 33554432 --no-switchover-ack --engine-bw 32 --knob chunk_size=8M --knob read_ahead=2 --knob crit_size=65536 --multifd 4)
QEMU_V3=$OLD build/repro/repro.sh $O old-v3-2 120 "${A[@]}" --v3 2
QEMU_V3=$OLD build/repro/repro.sh $O old-v3-4 100 "${A[@]}" --v3 4
QEMU_V3=$NEW build/repro/repro.sh $O new-v3-2 120 "${A[@]}" --v3 2
QEMU_V3=$NEW build/repro/repro.sh $O new-v3-4 100 "${A[@]}" --v3 4
QEMU_V3=$NEW build/repro/repro.sh $O new-v3-8 100 "${A[@]}" --v3 8
QEMU_V3=$NEW build/repro/repro.sh $O new-v3-2-bw0 100 --state-size 33554432 --no-switchover-ack --engine-bw 0 --knob chunk_size=8M --knob read_ahead=2 --knob crit_size=65536 --multifd 4 --v3 2
