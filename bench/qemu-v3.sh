#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Benchmark of the patched QEMU (userspace/qemu/, scripts/build-qemu-v3): QEMU's own
# downtime for v3 against unmodified QEMU 10 on the same device, and the time from a
# REINIT in precopy to the switchover ACK that allows switchover again.
#
# Runs in the guest, as root, from the project top, with vfio_mstream.ko loaded:
#   scripts/guest-run --mem 4G -- bench/qemu-v3.sh [OUTDIR]
# (kept apart from bench/run.sh; bench/report_qemu_v3.py writes OUTDIR/summary.md).
#
# Variants (one device, memory-backed state, 4 multifd channels where multifd is on):
#   qemu10-v2            QEMU 10.0.2, data_fd on the main channel
#   qemu10-v2-multifd    QEMU 10.0.2, multifd device state transfer
#   qemu10-mux4-multifd  QEMU 10.0.2, multifd, the device in v2 mux mode (4 engines
#                        on one FD; new critical data ahead of what the engines have
#                        not published yet)
#   qemu-v3-N            the patched QEMU, x-migration-streams=N, N = 1, 2, 4, 8
# Cases: device-bound (engine_bw BENCH_QV3_BW MiB/s per engine) and unlimited; QEMU
# switches over as soon as it may (no switchover-ack, 100 s downtime limit), as in
# bench/run.sh's scenario sq.  REINIT case: switchover-ack on, a REINIT 2 s into a
# held precopy; the figure is the time from the REINIT to the switchover ACK of the
# new generation (QEMU trace events), for qemu-v3-4 and for the patched QEMU's v2
# with the PRECOPY_INFOv2 opt-in on the single, the mux-4 and the mux-head-4 device
# (new critical data ahead of every chunk no read has started on: the strongest
# single FD); QEMU 10 itself has neither a re-arm nor PRECOPY_INFOv2.
#
# Environment: BENCH_QV3_REPS (5; 0 runs the REINIT case only), BENCH_QV3_SIZE (128M),
# BENCH_QV3_BW (32), BENCH_QV3_VARIANTS, BENCH_QV3_REINIT_REPS (5),
# BENCH_QV3_REINIT_VARIANTS.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$top/bench/results/qemu-v3}
reps=${BENCH_QV3_REPS:-5}
size=${BENCH_QV3_SIZE:-128M}
bw=${BENCH_QV3_BW:-32}
variants=${BENCH_QV3_VARIANTS:-qemu10-v2 qemu10-v2-multifd qemu10-mux4-multifd qemu-v3-1 qemu-v3-2 qemu-v3-4 qemu-v3-8}
reinit_reps=${BENCH_QV3_REINIT_REPS:-5}
reinit_variants=${BENCH_QV3_REINIT_VARIANTS:-reinit-qemu-v3-4 reinit-qemu-v2-piv2 reinit-qemu-mux4-piv2 reinit-qemu-muxhead4-piv2}
mig=$top/tests/e2e/qemu/migrate.py
mkdir -p "$out"
jsonl=$out/runs.jsonl
: > "$jsonl"

to_bytes() { numfmt --from=iec "$1"; }
log() { echo "qemu-v3 bench: $*" >&2; }

# Where the downtime goes: when the source device stops, when each save thread (QEMU
# 10's one per device, or one per v3 stream) starts and ends with its bytes, and when
# each load thread ends.
timing=(--trace vfio_migration_set_device_state --trace 'vfio_save_complete_precopy_thread_*'
	--trace 'vfio_mstream_save_thread_*' --trace 'vfio_mstream_load_thread_*'
	--trace 'vfio_load_bufs_thread_*')

run() {	# run VARIANT REP BW
	local var=$1 rep=$2 b=$3 args=(--state-size "$(to_bytes "$size")" --no-switchover-ack
		--engine-bw "$b" --knob chunk_size=8M --knob read_ahead=2 --knob crit_size=65536
		"${timing[@]}")
	case $var in
	qemu10-v2) args+=(--engines 1 --knob v2_mode=single) ;;
	qemu10-v2-multifd) args+=(--engines 1 --knob v2_mode=single --multifd 4) ;;
	qemu10-mux4-multifd) args+=(--engines 4 --knob v2_mode=mux --multifd 4) ;;
	qemu-v3-*) args+=(--v3 "${var#qemu-v3-}" --multifd 4) ;;
	esac
	python3 "$mig" "${args[@]}" 2>/dev/null | tail -n 1 |
		python3 -c 'import json,sys; r=json.loads(sys.stdin.read() or "null") or {}; r.update(variant=sys.argv[1], rep=int(sys.argv[2]), engine_bw=int(sys.argv[3])); print(json.dumps(r))' \
			"$var" "$rep" "$b" >> "$jsonl"
	log "$var rep $rep bw $b: $(tail -n 1 "$jsonl" | grep -o '"downtime_ms": [0-9]*')"
}

for ((r = 1; r <= reps; r++)); do
	for b in "$bw" 0; do
		for v in $variants; do
			run "$v" "$r" "$b"
		done
	done
done

# REINIT 2 s into a held precopy (5 s), switchover-ack on, the workload dirtying,
# device-bound engines: v3-4, and the patched QEMU's v2 with the PRECOPY_INFOv2 opt-in
# (x-migration-precopy-info-v2, patch 7) on the single, the mux-4 and the mux-head-4
# device.  The trace also says what each re-arm waits for: v3's critical bytes
# pending, v2's initial_bytes.
trace=(--trace migration_rearm_switchover_ack --trace source_return_path_thread_switchover_acked
       --trace vfio_migration_set_device_state --trace vfio_mstream_rearm
       --trace vfio_precopy_info_v2_rearm)
for ((r = 1; r <= reinit_reps; r++)); do
	for v in $reinit_variants; do
		case $v in
		reinit-qemu-v3-4) args=(--v3 4 --multifd 4) ;;
		reinit-qemu-v2-piv2) args=(--v3 0 --precopy-info-v2 --engines 1 --knob v2_mode=single) ;;
		reinit-qemu-mux4-piv2) args=(--v3 0 --precopy-info-v2 --engines 4 --knob v2_mode=mux) ;;
		reinit-qemu-muxhead4-piv2)
			args=(--v3 0 --precopy-info-v2 --engines 4 --knob v2_mode=muxhead) ;;
		*) echo "qemu-v3.sh: unknown REINIT variant $v" >&2; exit 2 ;;
		esac
		python3 "$mig" "${args[@]}" --state-size "$(to_bytes "$size")" --dirty-rate 20000 \
			--engine-bw "$bw" --precopy 5 --reinit-at 2 "${trace[@]}" 2>/dev/null | tail -n 1 |
			python3 -c 'import json,sys; r=json.loads(sys.stdin.read() or "null") or {}; r.update(variant=sys.argv[1], rep=int(sys.argv[2])); print(json.dumps(r))' \
				"$v" "$r" >> "$jsonl"
		log "$v rep $r done"
	done
done

python3 "$top/bench/report_qemu_v3.py" "$out"
