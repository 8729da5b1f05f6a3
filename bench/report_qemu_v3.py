#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Summary of bench/qemu-v3.sh: QEMU's downtime per variant and case, the comparisons
a reviewer wants (bench/stats.py: ratio of medians, bootstrap 95% interval, exact
Mann-Whitney p, "not significant" where no difference can be claimed), and the
REINIT-to-switchover time.

Usage: report_qemu_v3.py OUTDIR   (reads OUTDIR/runs.jsonl, writes OUTDIR/summary.md)
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stats import NOTE, Comparison, median  # noqa: E402

ORDER = ["qemu10-v2", "qemu10-v2-multifd", "qemu10-mux4-multifd",
         "qemu-v3-1", "qemu-v3-2", "qemu-v3-4", "qemu-v3-8"]
REINIT_V3 = "reinit-qemu-v3-4"
# the single-FD devices, the strongest (mux-head) last
REINIT_V2 = ["reinit-qemu-v2-piv2", "reinit-qemu-mux4-piv2", "reinit-qemu-muxhead4-piv2"]


def good(r):
    return (r.get("status") == "completed" and r.get("dst_sums") and
            r.get("dst_sums") == r.get("src_sums"))


def ms_after_reinit(r, event):
    """ms from the REINIT to the source's first trace @event of generation 1."""
    t0 = r.get("reinit_time")
    for t, ev, args in r.get("src_trace") or []:
        if ev == event and "gen=1" in args:
            return (t - t0) * 1000 if t0 else None
    return None


def reinit_ms(r):
    """ms from the REINIT to the switchover ACK of generation 1: switchover allowed."""
    return ms_after_reinit(r, "source_return_path_thread_switchover_acked")


def rearm_ms(r):
    """ms from the REINIT to the source's re-arm of switchover-ack: how long QEMU took
    to see the REINIT; the rest of reinit_ms() is the new critical data's way to the
    destination and the ACK's way back."""
    return ms_after_reinit(r, "migration_rearm_switchover_ack")


def rearm_bytes(r):
    """What the re-arm after the REINIT waits for, from the trace: v2's initial_bytes
    (PRECOPY_INFOv2) or v3's critical bytes pending; None without that event."""
    for _, ev, args in r.get("src_trace") or []:
        f = args.split()
        if ev in ("vfio_precopy_info_v2_rearm", "vfio_mstream_rearm") and "gen" in f and \
                f[f.index("gen") + 1] != "0":
            return int(f[-1])
    return None


def phases(r):
    """Where one run's downtime went, from its trace: {read_ms: source device stop
    (STOP_COPY) to the end of its last save thread, tail_ms: from there to the
    destination device RUNNING, rate: MiB/s read in STOP_COPY over read_ms,
    stream_rates: MiB/s of each v3 dirty stream over its own thread's life}; all None
    where the migration thread reads (QEMU 10 without multifd: no event ends its read);
    None without a trace."""
    src, dst = r.get("src_trace") or [], r.get("dst_trace") or []
    stop = [t for t, ev, a in src if ev == "vfio_migration_set_device_state" and
            a.endswith("state STOP_COPY")]
    ends = [t for t, ev, a in src if ev == "vfio_save_complete_precopy_thread_end"]
    run = [t for t, ev, a in dst if ev == "vfio_migration_set_device_state" and
           a.endswith("state RUNNING")]
    if not (stop and run):
        return None
    if not ends:
        # The source stops its device after the destination has loaded and the return
        # path has answered: that span is the downtime, not a read.
        return {"read_ms": None, "tail_ms": None, "rate": None, "stream_rates": []}
    starts, rates, nbytes = {}, [], 0
    for t, ev, a in src:
        f = a.split()
        if ev == "vfio_mstream_save_thread_start":
            starts[f[f.index("stream") + 1]] = t
        elif ev == "vfio_mstream_save_thread_end":
            n, b = f[f.index("stream") + 1], int(f[f.index("bytes") + 1])
            nbytes += b
            if n != "0" and n in starts and t > starts[n]:
                rates.append(b / (1 << 20) / (t - starts[n]))
    # QEMU 10's save thread reports no bytes: all of the device's are read there
    # (no precopy: the precopy stage carries the critical data only).
    nbytes = nbytes or r.get("vfio_bytes") or 0
    read = max(ends) - stop[0]
    return {"read_ms": read * 1000, "tail_ms": (max(run) - max(ends)) * 1000,
            "rate": nbytes / (1 << 20) / read if read > 0 else None,
            "stream_rates": rates}


def timing_table(o, recs):
    """Per case and variant, medians over the good runs: where the downtime went, the
    read rates, and how busy the machine's CPUs were."""
    o("Where the downtime went (medians over the good runs; QEMU trace events): *read* is "
      "from the source device's STOP_COPY to the end of its last save thread (none where "
      "the migration thread reads: `-`), *tail* from "
      "there to the destination device RUNNING; *MiB/s* is the device's bytes over *read*, "
      "*per stream* the v3 dirty streams' own rates (min-max over streams and runs); "
      "*CPU busy* is the share of the machine's CPU time in use from the migrate command "
      "to completion (setup and the short precopy included, steal not counted), "
      "*QEMU CPU s* the source's plus the destination's CPU seconds in that span.")
    o("")
    o("| engine_bw | variant | read ms | tail ms | MiB/s | per stream MiB/s | CPU busy | "
      "QEMU CPU s |")
    o("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for bw in sorted({r.get("engine_bw") for r in recs if "engine_bw" in r}, reverse=True):
        for v in ORDER:
            at = [r for r in recs if r.get("variant") == v and r.get("engine_bw") == bw and
                  good(r)]
            ph = [p for p in map(phases, at) if p]
            if not ph:
                continue
            sr = [x for p in ph for x in p["stream_rates"]]
            busy = [r["cpu_busy"] for r in at if r.get("cpu_busy") is not None]
            qcpu = [r["src_cpu_s"] + r["dst_cpu_s"] for r in at
                    if r.get("src_cpu_s") is not None and r.get("dst_cpu_s") is not None]
            cell = {k: [p[k] for p in ph if p[k] is not None]
                    for k in ("read_ms", "tail_ms", "rate")}
            o("| %s | `%s` | %s | %s | %s | %s | %s | %s |" % (
                "%s MiB/s" % bw if bw else "unlimited", v,
                *("%.0f" % median(cell[k]) if cell[k] else "-"
                  for k in ("read_ms", "tail_ms", "rate")),
                "%.0f (%.0f-%.0f)" % (median(sr), min(sr), max(sr)) if sr else "-",
                "%.0f%%" % (100 * median(busy)) if busy else "-",
                "%.2f" % median(qcpu) if qcpu else "-"))
    o("")


def downtime_section(o, recs):
    """The downtime runs: per case and variant, the comparisons, where the time went."""
    o("Downtime: one device, QEMU switches over as soon as it may; downtime is "
      "query-migrate's (source stop to completion, destination load included with "
      "return-path).")
    o("")
    o("| engine_bw | variant | downtime ms, median (min-max) | runs ok |")
    o("| ---: | --- | ---: | ---: |")
    dts = {}
    for bw in sorted({r.get("engine_bw") for r in recs if "engine_bw" in r},
                     reverse=True):
        for v in ORDER:
            at = [r for r in recs if r.get("variant") == v and r.get("engine_bw") == bw]
            if not at:
                continue
            d = [r["downtime_ms"] for r in at if good(r)]
            dts[(bw, v)] = d
            cell = "-" if not d else "%.0f (%.0f-%.0f)" % (median(d), min(d), max(d))
            o("| %s | `%s` | %s | %d/%d |" % ("%s MiB/s" % bw if bw else "unlimited",
                                               v, cell, len(d), len(at)))
    o("")
    o("Comparisons of downtime (a / b):")
    o("")
    pairs = [("qemu-v3-4", "qemu10-mux4-multifd", "same device parallelism, 4 engines")]
    pairs += [("qemu-v3-%d" % n, "qemu10-v2-multifd", "") for n in (1, 2, 4, 8)]
    pairs += [("qemu-v3-8", "qemu10-mux4-multifd", ""), ("qemu-v3-4", "qemu10-v2", "")]
    for bw in sorted({k[0] for k in dts}, reverse=True):
        case = "%s MiB/s engines" % bw if bw else "unlimited engines"
        for a, b, why in pairs:
            if dts.get((bw, a)) and dts.get((bw, b)):
                o("- %s: `%s` / `%s` = %s%s" % (case, a, b, Comparison(dts[(bw, a)], dts[(bw, b)]),
                                               " (%s)" % why if why else ""))
    o("")
    if any(phases(r) for r in recs):
        timing_table(o, recs)


def reinit_section(o, recs):
    """The REINIT runs: time from the REINIT to the re-armed ACK, and what it waited for."""
    o("REINIT 2 s into a held precopy, switchover-ack on: time from the REINIT to the "
      "switchover ACK of the new generation (switchover allowed again), patched QEMU:")
    o("")
    rms = {}
    for v in [REINIT_V3] + REINIT_V2:
        rs = [r for r in recs if r.get("variant") == v]
        if not rs:
            continue
        ms = [reinit_ms(r) for r in rs if good(r)]
        ms = [m for m in ms if m is not None]
        rms[v] = ms
        seen = [m for m in (rearm_ms(r) for r in rs if good(r)) if m is not None]
        waits = [b for b in (rearm_bytes(r) for r in rs if good(r)) if b is not None]
        o("- `%s`: %s over %d/%d runs%s%s" % (
            v, "median %.0f ms (%.0f-%.0f)" % (median(ms), min(ms), max(ms)) if ms else "-",
            len(ms), len(rs),
            "; QEMU re-armed %.0f ms (%.0f-%.0f) after the REINIT" % (
                median(seen), min(seen), max(seen)) if seen else "",
            "; the re-arm waited for %s bytes (%s-%s)" % tuple(
                format(int(x), ",") for x in (median(waits), min(waits), max(waits)))
            if waits else ""))
    o("")
    for b in REINIT_V2:
        if rms.get(REINIT_V3) and rms.get(b):
            o("- `%s` / `%s` = %s" % (REINIT_V3, b, Comparison(rms[REINIT_V3], rms[b])))
    o("")
    o("v2 rows use the series' patch 7 (x-migration-precopy-info-v2): QEMU 10.0.2 "
      "itself has neither PRECOPY_INFOv2 nor a re-armable switchover-ack.")


def main():
    out = sys.argv[1]
    with open(os.path.join(out, "runs.jsonl")) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    lines = []
    o = lines.append
    o("# Patched QEMU 10.0.2 (v3) against QEMU 10.0.2 (v2)")
    o("")
    o("From bench/qemu-v3.sh (runs.jsonl next to this file).")
    o("")
    o(NOTE)
    o("")
    if any(r.get("variant") in ORDER for r in recs):
        downtime_section(o, recs)
    if any(r.get("variant") in [REINIT_V3] + REINIT_V2 for r in recs):
        reinit_section(o, recs)
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
