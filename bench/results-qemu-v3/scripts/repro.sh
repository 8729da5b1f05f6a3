#!/bin/bash
# usage: repro.sh OUTDIR LABEL WAIT_S [migrate.py args...]
# One bench-like migration; if it has not ended after WAIT_S, dump both QEMUs' stacks.
out=$1 label=$2 wait=$3; shift 3
mkdir -p "$out"
export QEMU_TIMEOUT=$((wait + 60))
python3 tests/e2e/qemu/migrate.py "$@" > "$out/$label.json" 2> "$out/$label.err" &
mp=$!
for ((i = 0; i < wait; i++)); do
	kill -0 $mp 2>/dev/null || break
	sleep 1
done
if kill -0 $mp 2>/dev/null; then
	echo "$label: STUCK after ${wait}s" | tee -a "$out/summary"
	for pid in $(pgrep -f 'qemu-system-x86_64 -accel'); do
		{
		echo "=== pid $pid: $(tr '\0' ' ' < /proc/$pid/cmdline | cut -c1-400)"
		for t in /proc/$pid/task/*; do
			echo "--- tid ${t##*/} $(cat $t/comm) wchan=$(cat $t/wchan)"
			cat $t/stack
		done
		timeout 120 gdb -p $pid -batch -ex 'set pagination off' -ex 'thread apply all bt' 2>&1
		} > "$out/$label.stacks.$pid" 2>&1
	done
	wait $mp
else
	wait $mp
fi
echo "$label: rc $? $(grep -o '"status": "[a-z]*"\|"downtime_ms": [0-9]*' "$out/$label.json" | tr '\n' ' ')" | tee -a "$out/summary"
