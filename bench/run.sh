#!/usr/bin/env bash
# bench/run.sh - every benchmark scenario, one after another, in one guest boot
# (`make -C bench` boots the guest and runs this; on a machine that loads the modules
# itself it can run as it is). It writes raw results only, one JSON line per run, to
# $BENCH_OUT/raw/ (default bench/results/raw/); bench/report.py turns them into the CSV
# files, plots and summary.md.
#
# Scenarios (issues 7 and 16):
#   cal  copy bandwidth of the guest over all vCPUs and over one (machine context)
#   s2   one device, no engine limit (CPU and memory bound), --no-precopy (the worst
#        case: the whole state moves in the downtime); its best median throughput is
#        the pipeline bandwidth that s1 sizes its engine limit from. Next to the
#        variants, `mstbench pipe` moves the same bytes through read() and write()
#        with no device work: the pipeline bound, measured in the same rotation
#   s1   one device, engines limited so that 4 x rate <= half the pipeline bandwidth,
#        --no-precopy; the device bound is state / (engines x rate)
#   s2p, s1p  the same with precopy on, the main case: the workload dirties pages
#        (dirty_rate: a quarter of one engine's rate) and the session switches over
#        once the dirty bytes pending fall below --threshold
#   s2i  s2 with integrity checking as real devices do it (the device's `integrity`
#        knob set to `device`: no per-record CRC on the host's CPUs); skipped, and said
#        so in params-run.txt, while the module has no such knob
#   rb   REINIT in PRE_COPY with a dirty backlog of B bytes still queued (B from 0 to
#        the whole state), engines limited to s1's rate: time from the REINIT until
#        switchover is allowed and the downtime that follows
#   s3   critical-data latency: REINIT while a 256 MiB save is in progress, in
#        STOP_COPY and in PRE_COPY (secondary to rb)
#   s4   1, 2, 4 devices: v3 device after device vs together in one pool, v2 device
#        after device (VMMs before QEMU 10) and v2 read in parallel, a thread per
#        device (QEMU 10)
#   s5   8 GiB pattern-backed state: downtime and the reader pool's peak memory
#   sq   QEMU 10 itself migrating a VM that holds the device (qemu10-v2, and
#        qemu10-v2-multifd over 4 channels), device-bound and unlimited, with the CLI's
#        v2-today and v3-4 on the same device next to it; QEMU's own downtime
#
# Downtime is the library's: from just before the first source is asked to leave
# RUNNING for STOP_COPY to just after the last destination reached RUNNING, so the
# destination's load (RESUMING -> STOP, which validates every stream) is inside it.
#
# Every record carries the knobs of the first pair as they were when the run started
# and the host's load average at its start and end (read from the host sampler's
# $BENCH_OUT/host-load.txt, which the project mount shows live; null when absent).
#
# Variants whose v2_mode the loaded module does not have (v2-muxhead*: a v2 mux that
# puts new critical data at the head of the FD) are skipped and listed in
# params-run.txt, so that the list runs unchanged once the module has them.
#
# Environment: QUICK=1 (fewer runs, smaller states),
# BENCH_SCENARIOS="cal s2 s1 s2p s1p s2i rb s3 s4 s5 sq", BENCH_OUT=DIR, BENCH_REPS=N,
# BENCH_PERF=0|1, and the sizes below (BENCH_*).
set -uo pipefail
# The Python it runs (report.py, tests/e2e/qemu) must not write bytecode into the tree.
export PYTHONDONTWRITEBYTECODE=1

top=${MSTREAM_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
bench=$top/bench
out=${BENCH_OUT:-$bench/results}
raw=$out/raw
# The Makefile passes copies of the CLI, mstbench and the module taken when the bench started, so
# that a rebuild of the tree during the run does not change what is measured.
cli=${BENCH_CLI:-$top/userspace/build/mstream}
mb=${BENCH_MSTBENCH:-$bench/build/mstbench}
quick=${QUICK:-0}
[ "$quick" = 0 ] && quick=
mode=full
[ -n "$quick" ] && mode=quick

if [ -n "$quick" ]; then
	reps=${BENCH_REPS:-1}
	s12_size=${BENCH_S12_SIZE:-16M}
	s3_size=${BENCH_S3_SIZE:-32M}
	s4_size=${BENCH_S4_SIZE:-4M}
	s5_size=${BENCH_S5_SIZE:-4200M}
	s5_reps=${BENCH_S5_REPS:-1}
	s5_variants=${BENCH_S5_VARIANTS:-v3-8}
	s5_v2_reps=${BENCH_S5_V2_REPS:-0}
	sq_size=${BENCH_SQ_SIZE:-16M}
	perf=${BENCH_PERF:-0}
else
	reps=${BENCH_REPS:-10}	# 5 left the key intervals wide (issue 16)
	s12_size=${BENCH_S12_SIZE:-512M}
	s3_size=${BENCH_S3_SIZE:-256M}
	s4_size=${BENCH_S4_SIZE:-8M}
	s5_size=${BENCH_S5_SIZE:-8G}
	s5_reps=${BENCH_S5_REPS:-5}
	s5_variants=${BENCH_S5_VARIANTS:-v3-8 v2-mux8}
	s5_v2_reps=${BENCH_S5_V2_REPS:-5}
	sq_size=${BENCH_SQ_SIZE:-128M}
	perf=${BENCH_PERF:-1}
fi
# rb's 300 migrations (full run) take 15 min at 32M; at 128M, about four times as long,
# the whole bench would no longer fit in its timeout
rb_size=${BENCH_RB_SIZE:-32M}
scenarios=${BENCH_SCENARIOS:-cal s2 s1 s2p s1p s2i rb s3 s4 s5 sq}
sq_bw=${BENCH_SQ_BW:-32}	# sq's device-bound case: MiB/s per engine
sq_variants=${BENCH_SQ_VARIANTS:-qemu10-v2 qemu10-v2-multifd qemu10-v2-mux4-multifd v2-today v2-mux4 v3-4}
variants_all="v2-today v2-thread v2-pool v2-mux4 v2-mux8 v2-muxhead4 v2-muxhead8 v3-1 v3-2 v3-4 v3-8"
s1_variants=${BENCH_S1_VARIANTS:-$variants_all}
s2_variants=${BENCH_S2_VARIANTS:-$variants_all}
p_variants=${BENCH_P_VARIANTS:-v2-today v2-pool v2-mux4 v2-mux8 v2-muxhead4 v2-muxhead8 v3-1 v3-4 v3-8}
rb_variants=${BENCH_RB_VARIANTS:-v2-today v2-pool v2-mux4 v2-muxhead4 v3-1 v3-4}
rb_fracs=${BENCH_RB_FRACS:-0 0.25 0.5 0.75 1}	# backlog B as a share of the state
rb_bw=${BENCH_RB_BW:-16}	# rb's engine rate when s1 did not run first (MiB/s)
rb_dirty=${BENCH_RB_DIRTY:-}	# rb's workload, pages/s (default: a quarter of one engine's rate)
# s1's engine rate (MiB/s) for s1p, s2p, rb and s3 when s1 does not run in this bench:
# the rate of an earlier full run, so that a partial run repeats its precopy scenarios
# (rb then runs at this rate, not BENCH_RB_BW; when s1 runs, its own rate wins).
s1_bw=${BENCH_S1_BW:-}
[[ $s1_bw =~ ^[0-9]*$ ]] || { echo "run.sh: BENCH_S1_BW takes whole MiB/s" >&2; exit 1; }
pipe_reps=${BENCH_PIPE_REPS:-1}	# pipeline-bound runs per rotation of s1/s2
s3_variants=${BENCH_S3_VARIANTS:-$variants_all}
s3_pre_variants=${BENCH_S3_PRE_VARIANTS:-v2-today v2-mux4 v3-1 v3-4}
s4_n=${BENCH_S4_N:-4}
s1_rule_n=4	# s1: s1_rule_n x rate <= pipeline bandwidth / 2
stall=${BENCH_STALL_TIMEOUT:-30}	# a run in which no byte moves for this long fails

type_dir=/sys/class/mdev_bus/mstream/mdev_supported_types/vfio_mstream-dev
log() { printf '[%6ds] %s\n' $SECONDS "$*" >&2; }
die() { log "run.sh: $*"; exit 1; }

[ -x "$cli" ] || die "$cli is not built (make -C userspace)"
[ -x "$mb" ] || die "$mb is not built (make -C bench programs)"
[ -d "$type_dir" ] || die "no mstream mdev type: is vfio_mstream loaded?"
mkdir -p "$raw" "$out/logs" || die "cannot create $raw"
rm -f "$raw"/*.jsonl "$raw"/*.txt "$out/logs/run.log" "$out"/perf/*
exec 2> >(tee -a "$out/logs/run.log" >&2)

# ---------------------------------------------------------------- helpers

to_bytes() {	# 128M -> 134217728
	local v=$1 n=${1%[KkMmGg]}
	case $v in
	*[Kk]) echo $((n << 10)) ;; *[Mm]) echo $((n << 20)) ;; *[Gg]) echo $((n << 30)) ;;
	*) echo "$v" ;;
	esac
}

knob() {	# knob UUID NAME VALUE
	echo "$3" >"/sys/bus/mdev/devices/$1/mstream/$2" 2>/dev/null ||
		{ log "cannot set $2=$3 on $1"; return 1; }
}
knob_get() { cat "/sys/bus/mdev/devices/$1/mstream/$2" 2>/dev/null || echo "?"; }

# JSON string of arbitrary text (last 400 bytes, one line).
jstr() {
	local s=${1: -400}
	s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/ | }; s=${s//$'\t'/ }; s=${s//$'\r'/}
	printf '"%s"' "$(printf '%s' "$s" | tr -d '\000-\037')"
}

now_ns() { date +%s%N; }

src=() dst=()
make_instances() {	# make_instances N: N source/destination pairs
	local i u
	for ((i = ${#src[@]}; i < $1; i++)); do
		u=$(cat /proc/sys/kernel/random/uuid); echo "$u" >"$type_dir/create" || die "create"
		src+=("$u")
		u=$(cat /proc/sys/kernel/random/uuid); echo "$u" >"$type_dir/create" || die "create"
		dst+=("$u")
	done
}

# geometry NPAIRS SIZE BACKING: set the geometry of the first NPAIRS pairs and
# allocate their states (a checksum read), outside every measurement.
geometry() {
	local i d
	for ((i = 0; i < $1; i++)); do
		for d in "${src[i]}" "${dst[i]}"; do
			[ "$(knob_get "$d" backing)" = "$3" ] || knob "$d" backing "$3" || return 1
			[ "$(knob_get "$d" state_size)" = "$(to_bytes "$2")" ] ||
				knob "$d" state_size "$2" || return 1
			knob "$d" dirty_rate 0; knob "$d" reinit_period_ms 0
			knob "$d" chunk_size 8M; knob "$d" read_ahead 2; knob "$d" crit_size 65536
			cat "/sys/bus/mdev/devices/$d/mstream/checksum" >/dev/null
		done
	done
}

# variant NAME: sets MODE (the source's v2_mode), ENG (its engines), ARGS (CLI and
# mstbench reinit)
variant() {
	case $1 in
	v2-today) MODE=single ENG=1 ARGS=(-p v2 --reader serial) ;;
	v2-thread) MODE=single ENG=1 ARGS=(-p v2 --reader threads --buf-size 1M) ;;
	v2-pool) MODE=single ENG=1 ARGS=(-p v2 --reader pool) ;;
	v2-muxhead*) MODE=muxhead ENG=${1#v2-muxhead} ARGS=(-p v2 --reader pool) ;;
	v2-mux*) MODE=mux ENG=${1#v2-mux} ARGS=(-p v2 --reader pool) ;;
	v3-*) MODE=single ENG=${1#v3-} ARGS=(-p v3 -n "${1#v3-}" --reader pool) ;;
	*) die "unknown variant $1" ;;
	esac
}

# The knobs of source i for variant settings and an engine limit.
setup_source() {	# setup_source I BW
	knob "${src[$1]}" v2_mode "$MODE"
	[ "$MODE" != single ] && knob "${src[$1]}" engines "$ENG"
	knob "${src[$1]}" engine_bw "$2"
}

# supported VARIANT...: sets ok_vars to the variants whose v2_mode the module accepts
# (tried once per mode on the first source, which is not open between runs); the others
# are logged and listed in params-run.txt.
declare -A v2_mode_ok=()
ok_vars=()
supported() {
	local v
	ok_vars=()
	for v in "$@"; do
		variant "$v"
		if [ -z "${v2_mode_ok[$MODE]:-}" ]; then
			v2_mode_ok[$MODE]=no
			if echo "$MODE" >"/sys/bus/mdev/devices/${src[0]}/mstream/v2_mode" 2>/dev/null; then
				v2_mode_ok[$MODE]=yes
			else
				log "v2_mode $MODE: not in this module; its variants are skipped"
				echo "skipped_v2_mode=$MODE" >>"$raw/params-run.txt"
			fi
			echo single >"/sys/bus/mdev/devices/${src[0]}/mstream/v2_mode"
		fi
		[ "${v2_mode_ok[$MODE]}" = yes ] && ok_vars+=("$v")
	done
}

knob_names="state_size backing crit_size dirty_rate dirty_pattern reinit_period_ms engines v2_mode engine_bw chunk_size read_ahead"
knobs_of() {	# knobs_of UUID: "name=value ..." as they are now
	local k line=
	for k in $knob_names; do line+="${line:+ }$k=$(knob_get "$1" "$k")"; done
	printf '%s' "$line"
}
# The knobs of the first pair, as a JSON member of a run's record.
knobs_json() {
	printf '"knobs":{"src":"%s","dst":"%s"}' "$(knobs_of "${src[0]}")" "$(knobs_of "${dst[0]}")"
}

# The host's 1-minute load average, from the host sampler's last line (`make -C bench`
# writes one every 5 s; the guest reads the project mount uncached); null when absent.
host_load() {
	local l
	l=$(tail -n 1 "$out/host-load.txt" 2>/dev/null | awk '{ print $2 }')
	case $l in [0-9]*) printf '%s' "$l" ;; *) printf null ;; esac
}

# rotate LIST... by REP: each repetition starts with another variant, so that a
# change of the host's load does not fall on one variant only.
rotate() {
	local r=$1; shift
	local a=("$@") n=$# i
	for ((i = 0; i < n; i++)); do printf '%s\n' "${a[(i + r) % n]}"; done
}

# migrate SCENARIO VARIANT REP NDEV ORDER SIZE BACKING BW [extra CLI args]
# Runs one migration of the first NDEV pairs with the CLI and appends one record.
migrate() {
	local sc=$1 var=$2 rep=$3 ndev=$4 order=$5 size=$6 backing=$7 bw=$8
	shift 8
	local i pairs=() t0 t1 rc res err fw="" saved="" rss hl0 hl1 kn
	variant "$var"
	for ((i = 0; i < ndev; i++)); do
		setup_source "$i" "$bw"
		pairs+=("${src[i]}:${dst[i]}")
	done
	kn=$(knobs_json)
	hl0=$(host_load)
	t0=$(now_ns)
	res=$("$mb" rss -o "$raw/.rss" -- "$cli" migrate --json "${precopy_args[@]}" --no-progress \
		--source-final running --stall-timeout "$stall" --order "$order" "${ARGS[@]}" "$@" "${pairs[@]}" \
		2>"$raw/.err")
	rc=$?
	t1=$(now_ns)
	hl1=$(host_load)
	err=$(cat "$raw/.err")
	rss=$(cat "$raw/.rss" 2>/dev/null)
	for ((i = 0; i < ndev; i++)); do
		fw+="${fw:+,}$(knob_get "${src[i]}" fw_busy_ns)"
		saved+="${saved:+,}$(knob_get "${src[i]}" bytes_saved)"
	done
	case $res in "{"*) ;; *) err="$res $err"; res=null ;; esac
	printf '{"scenario":"%s","variant":"%s","rep":%d,"devices":%d,"order":"%s",' \
		"$sc" "$var" "$rep" "$ndev" "$order"
	printf '"state_size":%s,"backing":"%s","engine_bw":%s,"engines":%s,"v2_mode":"%s",' \
		"$(to_bytes "$size")" "$backing" "$bw" "$ENG" "$MODE"
	printf '"exit":%d,"wall_ns":%s,"fw_busy_ns":[%s],"bytes_saved":[%s],"rss":%s,' \
		"$rc" "$((t1 - t0))" "$fw" "$saved" "${rss:-null}"
	printf '"precopy":%s,"host_load":[%s,%s],%s,' \
		"$([ "${precopy_args[0]}" = --no-precopy ] && echo false || echo true)" "$hl0" "$hl1" "$kn"
	printf '"stderr":%s,"result":%s}\n' "$(jstr "$err")" "$res"
}

# precopy_args: the CLI's precopy options of the scenario running (migrate() uses them).
precopy_args=(--no-precopy)

# pipe_run SCENARIO REP SIZE THREADS: one pipeline-bound run (mstbench pipe), as a
# record of variant "pipe" next to the migrations it bounds.
pipe_run() {
	local res rc hl0 hl1
	hl0=$(host_load)
	res=$("$mb" pipe --size "$3" --threads "$4" 2>"$raw/.err")
	rc=$?
	hl1=$(host_load)
	case $res in "{"*) ;; *) res=null ;; esac
	printf '{"scenario":"%s","variant":"pipe","rep":%d,"devices":1,"state_size":%s,' \
		"$1" "$2" "$(to_bytes "$3")"
	printf '"exit":%d,"host_load":[%s,%s],"stderr":%s,"result":%s}\n' \
		"$rc" "$hl0" "$hl1" "$(jstr "$(cat "$raw/.err")")" "$res"
}

# A failed run is recorded with its error and the run goes on.
note_run() {	# note_run FILE RECORD
	printf '%s\n' "$2" >>"$1"
	case $2 in
	*'"exit":0,'*) ;;
	*) log "  FAILED: $(printf '%s' "$2" | grep -o '"stderr":"[^"]*"' | head -c 300)" ;;
	esac
}

downtime_of() {	# the last record's downtime in ms, for the log
	tail -n1 "$1" | grep -o '"downtime_ns":[0-9]*' | head -n1 |
		awk -F: '{ printf "%.0f ms", $2 / 1e6 }'
}

# ---------------------------------------------------------------- machine

{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "kernel: $(uname -r) ($(uname -v))"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
	echo "vcpus: $(nproc)"
	echo "memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "guest: ${MSTREAM_GUEST:+yes (scripts/guest-run)}${MSTREAM_GUEST:-no (native)}"
	echo "cmdline: $(cat /proc/cmdline)"
	echo "module loaded: srcversion $(cat /sys/module/vfio_mstream/srcversion 2>/dev/null)"
	echo "cli: $cli, md5 $(md5sum <"$cli" | cut -c1-12)"
	echo "mode: $mode; reps $reps"
	echo "scenarios: $scenarios"
} >"$raw/machine-guest.txt"
{
	echo "reps=$reps s12_size=$s12_size s3_size=$s3_size s4_size=$s4_size s4_n=$s4_n"
	echo "s5_size=$s5_size s5_reps=$s5_reps s5_variants=$s5_variants s5_v2_reps=$s5_v2_reps"
	echo "s1_variants=$s1_variants"
	echo "s2_variants=$s2_variants"
	echo "s3_variants=$s3_variants"
	echo "s3_pre_variants=$s3_pre_variants"
	echo "p_variants=$p_variants"
	echo "rb_size=$rb_size rb_variants=$rb_variants"
	echo "rb_fracs=$rb_fracs"
	echo "sq_size=$sq_size sq_bw=$sq_bw sq_variants=$sq_variants"
	echo "pipe_reps=$pipe_reps"
	echo "s1_rule_n=$s1_rule_n perf=$perf"
} >"$raw/params-run.txt"
log "bench: $mode mode, $reps runs per point, scenarios: $scenarios"

make_instances 1

# ---------------------------------------------------------------- cal

# Copy bandwidth, at the start and again at the end of the bench (the host may be
# shared: the report takes the median of all).
# Each record holds the copybw parameters it ran with (threads, size, reps): the report
# states them from there.
run_cal() {	# run_cal WHEN
	local r n=$(nproc)
	log "cal ($1): copy bandwidth, $n threads and 1 thread"
	for ((r = 1; r <= 3; r++)); do
		printf '{"scenario":"cal","when":"%s","kind":"all","rep":%d,"host_load":[%s],"result":%s}\n' \
			"$1" "$r" "$(host_load)" "$("$mb" copybw --threads "$n" --size 32M --reps 4)" >>"$raw/cal.jsonl"
		printf '{"scenario":"cal","when":"%s","kind":"one","rep":%d,"host_load":[%s],"result":%s}\n' \
			"$1" "$r" "$(host_load)" "$("$mb" copybw --threads 1 --size 32M --reps 4)" >>"$raw/cal.jsonl"
	done
	log "cal ($1): $(grep '"all"' "$raw/cal.jsonl" | grep -o '"mib_s":[0-9.]*' | tr '\n' ' ')"
}

# ---------------------------------------------------------------- s2, s1

# run_s12 SCENARIO BW VARIANTS [DIRTY_RATE [INTEGRITY]]: with a dirty rate, precopy on
# (the workload dirtying that many pages/s until the session switches over); with
# INTEGRITY, the source's and destination's integrity knob set to it for the scenario.
run_s12() {
	local sc=$1 bw=$2 vars r v i dirty=${4:-} integ=${5:-} bound=pipe
	supported $3
	vars=("${ok_vars[@]}")
	geometry 1 "$s12_size" memory || die "geometry"
	if [ -n "$integ" ]; then
		knob "${src[0]}" integrity "$integ" && knob "${dst[0]}" integrity "$integ" ||
			die "$sc: cannot set integrity=$integ"
	fi
	precopy_args=(--no-precopy)
	if [ -n "$dirty" ]; then
		knob "${src[0]}" dirty_rate "$dirty"
		precopy_args=(--threshold 1M)
	fi
	# the pipeline bound bounds a whole state moved in the downtime: not with precopy
	[ -n "$dirty" ] && bound=
	if [ "$sc" = s2 ] && [ -z "$quick" ]; then
		log "$sc: warm-up run (not recorded)"
		migrate warmup v3-4 0 1 together "$s12_size" memory 0 >/dev/null
	fi
	for ((r = 1; r <= reps; r++)); do
		for v in $(rotate "$r" "${vars[@]}" $bound); do
			if [ "$v" = pipe ]; then
				# one thread and the pool's thread count (the vCPUs): the
				# report takes the faster of each rotation as its bound
				for ((i = 0; i < pipe_reps; i++)); do
					note_run "$raw/$sc.jsonl" "$(pipe_run "$sc" "$r" "$s12_size" 1)"
					note_run "$raw/$sc.jsonl" "$(pipe_run "$sc" "$r" "$s12_size" "$(nproc)")"
				done
				log "$sc rep $r pipeline bound: $(tail -n 1 "$raw/$sc.jsonl" | grep -o '"seconds":[0-9.]*')"
				continue
			fi
			note_run "$raw/$sc.jsonl" "$(migrate "$sc" "$v" "$r" 1 together "$s12_size" memory "$bw")"
			log "$sc rep $r $v: $(downtime_of "$raw/$sc.jsonl")"
		done
	done
	# A far-out run is kept, and its variant runs once more: the report lists it with
	# the host's load during it, and the median has one more run to stand on.
	for v in $(python3 "$bench/report.py" --outliers "$raw/$sc.jsonl" 2>/dev/null); do
		note_run "$raw/$sc.jsonl" "$(migrate "$sc" "$v" $((reps + 1)) 1 together "$s12_size" memory "$bw")"
		log "$sc rerun of $v after a far-out run: $(downtime_of "$raw/$sc.jsonl")"
	done
	knob "${src[0]}" dirty_rate 0
	if [ -n "$integ" ]; then
		knob "${src[0]}" integrity crc
		knob "${dst[0]}" integrity crc
	fi
	precopy_args=(--no-precopy)
}

# Pipeline bandwidth: the best median throughput (state / downtime) of a scenario.
pipeline_bw() {
	python3 "$bench/report.py" --pipeline-bw "$1" 2>/dev/null || echo 0
}

# Profiles: one `perf record -a` for the whole bench (perf itself takes about a minute to
# start in the guest), started with its events disabled and enabled around each profiled
# run through its control FIFO; each run's CLOCK_MONOTONIC window goes to
# perf/windows.txt, which `make -C bench perf-report` cuts the profile by.
perf_pid=
perf_start() {
	[ "$perf" = 1 ] && command -v perf >/dev/null || return 1
	[ -n "$perf_pid" ] && return 0
	mkdir -p "$out/perf"
	# the 9p project mount has no FIFOs: they live in the guest's /tmp
	perf_fifo=$(mktemp -u /tmp/mstbench-perf.XXXXXX)
	mkfifo "$perf_fifo.ctl" "$perf_fifo.ack" || { perf=0; return 1; }
	exec {perf_ctl}<>"$perf_fifo.ctl" {perf_ack}<>"$perf_fifo.ack"
	cp /proc/kallsyms "$out/perf/kallsyms"
	log "perf: starting perf record -a (disabled until a profiled run)"
	perf record -q -a -B -N --no-bpf-event -k CLOCK_MONOTONIC -e cpu-clock -F 499 -D -1 \
		--control "fifo:$perf_fifo.ctl,$perf_fifo.ack" -o "$out/perf/bench.data" \
		2>"$out/perf/perf.err" &
	perf_pid=$!
	return 0
}
perf_cmd() {	# perf_cmd enable|disable: 0 once perf acknowledged it
	local ack
	echo "$1" >&$perf_ctl
	read -r -t 600 -u $perf_ack ack && [ "$ack" = ack ] && return 0
	log "perf: no answer to '$1'; profiling stops ($(tail -c 200 "$out/perf/perf.err"))"
	perf_stop
	perf=0
	return 1
}
perf_stop() {
	[ -n "$perf_pid" ] || return 0
	kill -INT "$perf_pid" 2>/dev/null; wait "$perf_pid"
	exec {perf_ctl}>&- {perf_ack}>&-
	rm -f "$perf_fifo.ctl" "$perf_fifo.ack"
	perf_pid=
}

profile() {	# profile NAME VARIANT BW: one run under perf, not counted
	perf_start || return 0
	local name=$1 var=$2 bw=$3 i t0 t1
	variant "$var"
	setup_source 0 "$bw"
	log "perf: $name ($var, engine_bw $bw)"
	perf_cmd enable || return 0
	t0=$("$mb" now)
	"$cli" migrate --json --no-precopy --no-progress --no-checksum --source-final running \
		"${ARGS[@]}" "${src[0]}:${dst[0]}" >"$out/perf/$name.json" 2>"$out/perf/$name.err"
	t1=$("$mb" now)
	perf_cmd disable
	echo "$name $t0 $t1" >>"$out/perf/windows.txt"
	for i in fw_busy_ns bytes_saved; do
		echo "$i $(knob_get "${src[0]}" $i)"
	done >"$out/perf/$name.knobs"
}

# ---------------------------------------------------------------- s3

run_s3() {
	local r v phase vars at sz res rc bw
	sz=$(to_bytes "$s3_size")
	at=$((sz / 4))
	geometry 1 "$s3_size" pattern || die "geometry"
	# stopcopy_bound: the same with s1's engine rate, so that the sample's engines (its
	# firmware model, which runs on the guest's vCPUs) leave CPU time to the readers, as
	# a real device's firmware would.
	for phase in stopcopy stopcopy_bound precopy; do
		bw=0
		case $phase in
		stopcopy) supported $s3_variants; vars=("${ok_vars[@]}") ;;
		stopcopy_bound)
			[ -n "${s1_bw:-}" ] || { log "s3: no engine rate from s1: $phase skipped"; continue; }
			supported $s3_variants; vars=("${ok_vars[@]}") bw=$s1_bw ;;
		precopy) supported $s3_pre_variants; vars=("${ok_vars[@]}") ;;
		esac
		for ((r = 1; r <= reps; r++)); do
			for v in $(rotate "$r" "${vars[@]}"); do
				variant "$v"
				setup_source 0 "$bw"
				local rargs=("${ARGS[@]}") kn hl0 hl1
				[ $phase = precopy ] && rargs+=(--precopy)
				kn=$(knobs_json)
				hl0=$(host_load)
				res=$("$mb" reinit --at "$at" --stall-timeout "$stall" "${rargs[@]}" "${src[0]}" "${dst[0]}" 2>"$raw/.err")
				rc=$?
				hl1=$(host_load)
				case $res in "{"*) ;; *) res=null ;; esac
				note_run "$raw/s3.jsonl" "$(printf '{"scenario":"s3","variant":"%s","phase":"%s","rep":%d,"state_size":%s,"backing":"pattern","engine_bw":%s,"engines":%s,"exit":%d,"host_load":[%s,%s],%s,"stderr":%s,"result":%s}' \
					"$v" "$phase" "$r" "$sz" "$bw" "$ENG" "$rc" "$hl0" "$hl1" "$kn" "$(jstr "$(cat "$raw/.err")")" "$res")"
				log "s3 $phase rep $r $v: $(tail -n1 "$raw/s3.jsonl" | grep -o '"delivered":[a-z]*,"latency_ms":[-0-9.]*')"
			done
		done
	done
}

# ---------------------------------------------------------------- rb

# A REINIT in PRE_COPY with a dirty backlog B still queued: the REINIT is written once
# the source has delivered state - B bytes (bytes_saved), and the session's dirty
# threshold is B less a margin, so that the session would switch over with that
# backlog pending (as a VMM whose downtime limit allows it) and waits only for what
# its protocol makes it wait for: v2 (mlx5 semantics) for initial_bytes, which the
# REINIT re-arms to cover everything queued; v3 for the critical stream alone. The
# margin keeps the session in PRE_COPY until the REINIT is written (the threshold is at
# least half of it); B = 0 is a REINIT with only the margin left, B = the state one
# right after precopy starts.
rb_margin=$((2 << 20))
run_rb() {
	local sz r k v f b at thr bw dirty vars keys=() res rc kn hl0 hl1
	sz=$(to_bytes "$rb_size")
	bw=${s1_bw:-$rb_bw}
	supported $rb_variants
	vars=("${ok_vars[@]}")
	geometry 1 "$rb_size" pattern || die "geometry"
	# The workload dirties during precopy, as in the other precopy scenarios: a quarter
	# of one engine's rate, so that precopy converges on every variant.
	dirty=${rb_dirty:-$((bw * 256 / 4))}
	knob "${src[0]}" dirty_rate "$dirty" || die "rb: the workload cannot be set"
	echo "rb_engine_bw=$bw rb_margin=$rb_margin rb_dirty_rate=$dirty" >>"$raw/params-run.txt"
	for f in $rb_fracs; do
		for v in "${vars[@]}"; do keys+=("$f:$v"); done
	done
	for ((r = 1; r <= reps; r++)); do
		for k in $(rotate "$r" "${keys[@]}"); do
			f=${k%%:*} v=${k#*:}
			b=$(awk -v s="$sz" -v f="$f" 'BEGIN { printf "%d", s * f }')
			at=$((sz - b))
			((at < rb_margin)) && at=$rb_margin
			((at > sz - rb_margin)) && at=$((sz - rb_margin))
			# At least half the margin: with the workload dirtying, a pending count
			# below that is not reached by convergence but by the pass limit.
			thr=$((sz - at - rb_margin))
			((thr < rb_margin / 2)) && thr=$((rb_margin / 2))
			variant "$v"
			setup_source 0 "$bw"
			kn=$(knobs_json)
			hl0=$(host_load)
			res=$("$mb" reinit --precopy --at "$at" --threshold "$thr" --stall-timeout "$stall" \
				"${ARGS[@]}" "${src[0]}" "${dst[0]}" 2>"$raw/.err")
			rc=$?
			hl1=$(host_load)
			case $res in "{"*) ;; *) res=null ;; esac
			note_run "$raw/rb.jsonl" "$(printf '{"scenario":"rb","variant":"%s","rep":%d,"backlog_frac":%s,"backlog_bytes":%s,"state_size":%s,"backing":"pattern","engine_bw":%s,"engines":%s,"exit":%d,"host_load":[%s,%s],%s,"stderr":%s,"result":%s}' \
				"$v" "$r" "$f" "$b" "$sz" "$bw" "$ENG" "$rc" "$hl0" "$hl1" "$kn" "$(jstr "$(cat "$raw/.err")")" "$res")"
			log "rb rep $r B=$f $v: $(tail -n1 "$raw/rb.jsonl" | grep -o '"latency_ms":[-0-9.]*,"inject_after_stop_ms":[-0-9.]*')"
		done
	done
	knob "${src[0]}" dirty_rate 0
}

# ---------------------------------------------------------------- s4

run_s4() {
	local r v bw cal n order k nd vars=()
	make_instances 4
	geometry 4 "$s4_size" pattern || die "geometry"
	# Pipeline bandwidth of this configuration: 4 devices together, no limit.
	for ((r = 1; r <= 3; r++)); do
		note_run "$raw/s4cal.jsonl" "$(migrate s4cal "v3-$s4_n" "$r" 4 together "$s4_size" pattern 0)"
		log "s4 calibration rep $r: $(downtime_of "$raw/s4cal.jsonl")"
	done
	cal=$(pipeline_bw "$raw/s4cal.jsonl")
	# 4 devices x N engines x rate <= half of it
	bw=$(awk -v c="$cal" -v n="$s4_n" 'BEGIN { r = int(c / 2 / (4 * n)); print r < 1 ? 1 : r }')
	echo "s4_pipeline_mib_s=$cal s4_engine_bw=$bw" >>"$raw/params-run.txt"
	log "s4: pipeline ${cal} MiB/s (4 devices together, unlimited) -> engine_bw $bw MiB/s"
	# v3: device after device and together; v2: device after device with today's
	# serial loop, and read in parallel, a thread per device, as QEMU 10 does.
	for nd in 1 2 4; do
		vars+=("v3-$s4_n:$nd:serial" "v2-today:$nd:serial" "v2-thread:$nd:together")
		[ $nd = 1 ] || vars+=("v3-$s4_n:$nd:together")
	done
	for ((r = 1; r <= reps; r++)); do
		for k in $(rotate "$r" "${vars[@]}"); do
			v=${k%%:*} k=${k#*:}
			nd=${k%:*} order=${k#*:}
			note_run "$raw/s4.jsonl" "$(migrate s4 "$v" "$r" "$nd" "$order" "$s4_size" pattern "$bw")"
			log "s4 rep $r $v $nd devices $order: $(downtime_of "$raw/s4.jsonl")"
		done
	done
}

# ---------------------------------------------------------------- s5

run_s5() {
	local r v vars
	supported $s5_variants
	vars=("${ok_vars[@]}")
	geometry 1 "$s5_size" pattern || die "geometry"
	for ((r = 1; r <= s5_reps; r++)); do
		for v in $(rotate "$r" "${vars[@]}"); do
			note_run "$raw/s5.jsonl" "$(migrate s5 "$v" "$r" 1 together "$s5_size" pattern 0)"
			log "s5 rep $r $v: $(downtime_of "$raw/s5.jsonl")"
		done
	done
	for ((r = 1; r <= s5_v2_reps; r++)); do
		note_run "$raw/s5.jsonl" "$(migrate s5 v2-today "$r" 1 together "$s5_size" pattern 0)"
		log "s5 rep $r v2-today: $(downtime_of "$raw/s5.jsonl")"
	done
}

# ---------------------------------------------------------------- sq

# QEMU switches over as soon as it may (no switchover-ack, a 100 s downtime limit), so
# that nearly the whole state moves in STOP_COPY, as --no-precopy does for the CLI.
# Same geometry and knobs as the CLI's runs (geometry()).
sq_qemu() {	# sq_qemu VARIANT REP BW
	local var=$1 rep=$2 bw=$3 res rc mf=0 eng=1 mode=single
	case $var in
	qemu10-v2-multifd) mf=4 ;;
	# the strongest device QEMU 10 reads unmodified: 4 engines on the one FD
	qemu10-v2-mux4-multifd) mf=4 eng=4 mode=mux ;;
	esac
	res=$(python3 "$top/tests/e2e/qemu/migrate.py" --state-size "$(to_bytes "$sq_size")" \
		--engines "$eng" --engine-bw "$bw" --multifd "$mf" --no-switchover-ack \
		--knob v2_mode=$mode \
		--knob chunk_size=8M --knob read_ahead=2 --knob crit_size=65536 2>"$raw/.err")
	rc=$?
	case $res in "{"*) ;; *) res=null ;; esac
	printf '{"scenario":"sq","variant":"%s","rep":%d,"devices":1,"state_size":%s,' \
		"$var" "$rep" "$(to_bytes "$sq_size")"
	printf '"engine_bw":%s,"engines":%d,"exit":%d,"stderr":%s,"qemu":%s}\n' \
		"$bw" "$eng" "$rc" "$(jstr "$(cat "$raw/.err")")" "$res"
}

run_sq() {
	local r k v bw vars=()
	make_instances 1
	geometry 1 "$sq_size" memory || die "geometry"
	for bw in "$sq_bw" 0; do
		for v in $sq_variants; do
			vars+=("$bw:$v")
		done
	done
	for ((r = 1; r <= reps; r++)); do
		for k in $(rotate "$r" "${vars[@]}"); do
			bw=${k%%:*} v=${k#*:}
			case $v in
			qemu10-*) note_run "$raw/sq.jsonl" "$(sq_qemu "$v" "$r" "$bw")" ;;
			*) note_run "$raw/sq.jsonl" "$(migrate sq "$v" "$r" 1 together "$sq_size" memory "$bw")" ;;
			esac
			log "sq rep $r $v engine_bw $bw: $(tail -n 1 "$raw/sq.jsonl" | grep -o '"downtime\(_ns\)\?":[0-9.]*' | head -n 1)"
		done
	done
}

# ---------------------------------------------------------------- main

for sc in $scenarios; do
	t_sc=$SECONDS
	case $sc in
	cal) run_cal start ;;
	s2)
		run_s12 s2 0 "$s2_variants"
		profile s2-v3-4 v3-4 0
		profile s2-v2-mux4 v2-mux4 0
		profile s2-v2-today v2-today 0
		;;
	s1)
		[ -s "$raw/s2.jsonl" ] || die "s1 needs s2's pipeline bandwidth: run s2 first"
		bwp=$(pipeline_bw "$raw/s2.jsonl")
		s1_bw=$(awk -v c="$bwp" -v n="$s1_rule_n" 'BEGIN { r = int(c / 2 / n); print r < 1 ? 1 : r }')
		echo "s1_pipeline_mib_s=$bwp s1_engine_bw=$s1_bw" >>"$raw/params-run.txt"
		log "s1: pipeline $bwp MiB/s (s2's best median) -> engine_bw $s1_bw MiB/s per engine"
		run_s12 s1 "$s1_bw" "$s1_variants"
		;;
	s2p | s1p)
		[ -n "${s1_bw:-}" ] || die "$sc needs s1's engine rate: run s2 and s1 first, or set BENCH_S1_BW"
		grep -q 's1_engine_bw=' "$raw/params-run.txt" 2>/dev/null ||
			echo "s1_engine_bw=$s1_bw (BENCH_S1_BW)" >>"$raw/params-run.txt"
		# a quarter of one engine's rate, in 4 KiB pages/s: every variant converges
		p_dirty=$((s1_bw * 256 / 4))
		echo "${sc}_dirty_rate=$p_dirty" >>"$raw/params-run.txt"
		if [ $sc = s2p ]; then run_s12 s2p 0 "$p_variants" "$p_dirty"
		else run_s12 s1p "$s1_bw" "$p_variants" "$p_dirty"; fi
		;;
	s2i)
		if [ -e "/sys/bus/mdev/devices/${src[0]}/mstream/integrity" ]; then
			run_s12 s2i 0 "$s2_variants" "" device
		else
			log "s2i: the module has no integrity knob: skipped"
			echo "skipped_scenario=s2i" >>"$raw/params-run.txt"
		fi
		;;
	rb) run_rb ;;
	s3) run_s3 ;;
	s4) run_s4 ;;
	s5) run_s5 ;;
	sq) run_sq ;;
	*) die "unknown scenario $sc" ;;
	esac
	echo "$sc $((SECONDS - t_sc))" >>"$raw/times.txt"
	log "$sc done in $((SECONDS - t_sc)) s"
done

perf_stop
case " $scenarios " in *" cal "*) run_cal end ;; esac

for ((i = 0; i < ${#src[@]}; i++)); do
	echo 1 >"/sys/bus/mdev/devices/${src[i]}/remove"
	echo 1 >"/sys/bus/mdev/devices/${dst[i]}/remove"
done
rm -f "$raw/.err" "$raw/.rss"
echo "total $SECONDS" >>"$raw/times.txt"
log "bench: all scenarios done in $SECONDS s"
