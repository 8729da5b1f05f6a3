#!/bin/bash
# watchdog.sh OUTDIR AGE: dump the stacks of any QEMU older than AGE s, then kill it.
out=$1 age=$2; mkdir -p "$out"
while true; do
	for pid in $(pgrep -f 'qemu-system-x86_64 -accel'); do
		e=$(ps -o etimes= -p $pid 2>/dev/null | tr -d ' ')
		[ -n "$e" ] && [ "$e" -gt "$age" ] || continue
		[ -e "$out/stuck.$pid" ] && continue
		echo "watchdog: pid $pid running ${e}s: stacks" | tee -a "$out/summary"
		for p in $(pgrep -f 'qemu-system-x86_64 -accel'); do
			{
			echo "=== pid $p: $(tr '\0' ' ' < /proc/$p/cmdline | cut -c1-600)"
			for t in /proc/$p/task/*; do
				echo "--- tid ${t##*/} $(cat $t/comm) wchan=$(cat $t/wchan)"
				cat $t/stack
			done
			timeout 120 gdb -p $p -batch -ex 'set pagination off' -ex 'thread apply all bt' 2>&1
			} > "$out/stuck.$p" 2>&1
		done
		touch "$out/stuck.$pid"
		for p in $(pgrep -f 'qemu-system-x86_64 -accel'); do kill -9 $p; done
	done
	sleep 2
done
