#!/bin/bash
# bench/profile-s3.sh - a perf profile of scenario 3's hardest case (REINIT in STOP_COPY, v3 N=8,
# 256 MiB pattern state, no engine limit), for the evidence the bench's own profiles (s2)
# do not give. Runs in the guest, from the project top:
#   make -C bench programs && scripts/guest-run -- bench/profile-s3.sh
# then, on the host:
#   perf report -i build/s3perf/s3.data --kallsyms=build/s3perf/kallsyms --sort sym --stdio
#   perf report -i build/s3perf/s3.data --kallsyms=build/s3perf/kallsyms --sort comm --stdio
set -u
t=/sys/class/mdev_bus/mstream/mdev_supported_types/vfio_mstream-dev
top=$(cd "$(dirname "$0")/.." && pwd); cd "$top"
out=$top/build/s3perf; mkdir -p $out
a=$(cat /proc/sys/kernel/random/uuid); b=$(cat /proc/sys/kernel/random/uuid)
echo $a > $t/create; echo $b > $t/create
for d in $a $b; do k=/sys/bus/mdev/devices/$d/mstream
  echo pattern > $k/backing; echo 256M > $k/state_size; echo 0 > $k/dirty_rate; echo 0 > $k/reinit_period_ms
  cat $k/checksum >/dev/null; done
echo single > /sys/bus/mdev/devices/$a/mstream/v2_mode; echo 0 > /sys/bus/mdev/devices/$a/mstream/engine_bw
cat /proc/kallsyms > $out/kallsyms
perf record -a -F 499 -e cpu-clock -o $out/s3.data -- bench/build/mstbench reinit --at $((64<<20)) --stall-timeout 30 -p v3 -n 8 --reader pool $a $b > $out/s3.json 2> $out/s3.err
echo "rc=$?"; cat $out/s3.json
