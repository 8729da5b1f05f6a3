#!/bin/bash
# Guest side of scripts/guest-run, run by the host's bash chrooted into the host's root
# (see guest-initramfs-init).  One job: prepare the guest, run the caller's command,
# report its status and the kernel log to the host, power off.
#
# Protocol with the host (every marker carries the run's nonce, so no output of the
# command can fake one):
#   ttyS0 (console)  "guest-run[NONCE]: started ..." once the guest is up, then the
#                    command's output, then "guest-run[NONCE]: exit STATUS";
#   ttyS1 (a file on the host) the kernel log, streamed live from /dev/kmsg from boot
#                    on, ending with a line holding "NONCE kmsg-end"; live, so it
#                    survives a guest that hangs or panics.
# Usage: guest-init.sh JOBFILE  (a bash fragment written by guest-run; see there)
set -uo pipefail    # no -e: every failure below is reported, then we power off

job=$1
# The initramfs ran us with its own PATH=/bin; these are the host's tools.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# shellcheck source=/dev/null
source "$job"

say() { echo "guest-run[$MST_NONCE]: $*"; }
poweroff_now() {
	sync
	# The reboot syscall directly (busybox-static is a dependency); sysrq as a fallback.
	busybox poweroff -f 2>/dev/null || echo o > /proc/sysrq-trigger
	sleep 30    # never return to the initramfs: init exiting would panic
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# What udev would add to devtmpfs: bash's <(...) needs /dev/fd.
ln -sfn /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# A fresh /run (the host's holds its daemons' state), unless the project lives there.
# /tmp stays the host's, seen through the overlay: a clone in /tmp must stay visible.
case $MST_TOP/ in /run/*) ;; *) mount -t tmpfs tmpfs /run ;; esac
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
# A kernel built by the project keeps its modules in its cache, not in the host's
# /lib/modules: show them where modprobe looks.
release=$(uname -r)
if [ -n "${MST_MODDIR:-}" ] && [ "$MST_MODDIR" != "/lib/modules/$release" ]; then
	mkdir -p "/lib/modules/$release"
	mount --bind "$MST_MODDIR" "/lib/modules/$release"
fi
kmemleak=/sys/kernel/debug/kmemleak

# The kernel log, from the start of the ring buffer, in dmesg's "[    1.234567] msg"
# form.  cat reads /dev/kmsg with a buffer big enough for any record, as that device
# requires; bash's read then sees each line at once (awk would wait to fill a buffer).
kmsg_stream() {
	local line meta usec
	while IFS= read -r line; do
		case $line in
		' '*) printf '%s\n' "$line" ;;    # continuation (KEY=value) line
		*';'*)
			meta=${line%%;*}    # "prio,seq,usec,flags"
			usec=${meta#*,}; usec=${usec#*,}; usec=${usec%%,*}
			printf '[%5d.%06d] %s\n' $((usec / 1000000)) $((usec % 1000000)) "${line#*;}" ;;
		*) printf '%s\n' "$line" ;;
		esac
		[[ $line == *"$MST_NONCE kmsg-end"* ]] && return
	done
}
stty -F /dev/ttyS1 raw -echo 2>/dev/null
cat /dev/kmsg | kmsg_stream > /dev/ttyS1 &
kmsg_pid=$!

# Let a stuck task be reported while the run can still see it (guest-run --hung-task).
echo "$MST_HUNG_TASK_SECS" > /proc/sys/kernel/hung_task_timeout_secs

# kmemleak (debug kernel): what boot left unreferenced is not the command's doing:
# scan once and mark it all as seen, so that the scan after the command reports only
# what the command (and the module) leaked.
if [ -w "$kmemleak" ]; then
	echo scan > "$kmemleak" 2>/dev/null
	echo clear > "$kmemleak" 2>/dev/null
fi

read -r uptime _ < /proc/uptime
say "started (guest uptime ${uptime} s)"

# Build the command's environment: a clean one, plus what the caller passed.
cmd_env=(PATH="$MST_PATH" HOME=/root TERM=dumb LANG=C.UTF-8
	 MSTREAM_GUEST=1 MSTREAM_TOP="$MST_TOP" KVER="$MST_KVER"
	 ${MST_MODULE:+MST_MODULE_PATH="$MST_MODULE"} "${MST_ENV[@]}")

status=0
setup() {
	local m
	for m in vfio vfio_iommu_type1 mdev; do
		modprobe "$m" || { echo "guest-init: modprobe $m failed"; return 1; }
	done
	if [ -n "$MST_MODULE" ]; then
		insmod "$MST_MODULE" || { echo "guest-init: insmod $MST_MODULE failed"; return 1; }
	fi
}
if ! setup; then
	status=121
elif ! cd "$MST_CWD"; then
	status=121
elif [ "$MST_INTERACTIVE" = 1 ]; then
	# On ttyS0 itself (/dev/console cannot be a controlling terminal), in a session
	# of its own (setsid -c), so that job control and ^C work.
	env -i "${cmd_env[@]}" TERM=linux setsid -c -w bash -i < /dev/ttyS0 > /dev/ttyS0 2>&1
	status=$?
elif [ "${#MST_CMD[@]}" -eq 1 ]; then
	env -i "${cmd_env[@]}" bash -c "${MST_CMD[0]}" < /dev/null
	status=$?
else
	env -i "${cmd_env[@]}" "${MST_CMD[@]}" < /dev/null
	status=$?
fi

# kmemleak: unload the module first (its frees are part of the check), then scan.  The
# scan's summary line goes to the kernel log, which the host checks; the objects
# themselves to the console, so that the run's output quotes the report.
if [ -w "$kmemleak" ] && [ "$MST_INTERACTIVE" != 1 ]; then
	if [ -d /sys/module/vfio_mstream ]; then
		for d in /sys/bus/mdev/devices/*; do
			[ -w "$d/remove" ] && echo 1 > "$d/remove" 2>/dev/null
		done
		rmmod vfio_mstream 2>/dev/null || echo "guest-init: rmmod vfio_mstream failed: kmemleak scans with it loaded"
	fi
	# Twice, as kmemleak.rst advises: an object seen once may be a pointer in flight.
	echo scan > "$kmemleak"; echo scan > "$kmemleak"
	leaks=$(cat "$kmemleak")
	if [ -n "$leaks" ]; then
		echo "guest-init: kmemleak: suspected leaks after the command:"
		head -n 60 <<< "$leaks"
		echo "guest-init: kmemleak: $(grep -c '^unreferenced object' <<< "$leaks") unreferenced objects after the command" > /dev/kmsg
	fi
fi

say "exit $status"

# Close the kernel log: wait (bounded) until the streamer has written its end line.
echo "$MST_NONCE kmsg-end" > /dev/kmsg
for _ in $(seq 100); do
	kill -0 "$kmsg_pid" 2>/dev/null || break
	sleep 0.1
done
poweroff_now
