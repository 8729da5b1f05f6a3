#!/usr/bin/env python3
"""bench/report.py - turn bench/results/raw/*.jsonl (written by bench/run.sh in the guest)
into the results: one CSV per scenario (every run), PNG plots (gnuplot), summary.md,
params.txt and machine.txt.

  bench/report.py [RESULTS_DIR]           write everything (default bench/results)
  bench/report.py --pipeline-bw FILE      print the best median throughput in MiB/s of
                                          the runs in FILE (run.sh sizes engine_bw by it)
  bench/report.py --outliers FILE         print the variants with a far-out run in FILE
                                          (run.sh runs each once more)

Every figure in summary.md is a median over the runs of one point, with the spread
(min-max) next to it; every comparison is a ratio of medians with its bootstrap 95%
interval and exact Mann-Whitney p (bench/stats.py).
"""
import os
import sys

import plots
import records as R
import report_perf
import report_qemu
import report_reinit
import report_scale
import stats
from stats import Comparison

# targets of issue 16 (benchmark figures, not tests); the REINIT ones are in
# report_reinit.py
T_DEVICE_BOUND = 1.10
T_READER_MUXHEAD = 0.7
# targets of issue 7 kept for continuity
T_S1 = 0.30
T_S2_MUX = 0.6


class Out:
    def __init__(self):
        self.lines = []

    def __call__(self, s=""):
        self.lines.append(s)

    def text(self):
        return "\n".join(self.lines) + "\n"


class Ctx:
    """What every section needs: where to write, the summary being written, the
    targets and plain statements collected for the closing section, and the caption
    every plot carries."""

    def __init__(self, outdir):
        self.outdir = outdir
        self.raw = os.path.join(outdir, "raw")
        self.o = Out()
        self.verdicts = []      # (target, met: True/False/None, text)
        self.notbeat = []       # where v3 does not beat a single-FD design
        self.params = read_kv(os.path.join(self.raw, "params-run.txt"))
        self.machine = ""

    def caption(self, n_runs, what="median of %s runs per point, bars min-max"):
        return (what % n_runs) + "; " + self.machine

    def img(self, name, alt):
        if os.path.exists(os.path.join(self.outdir, name + ".png")):
            self.o("![%s](%s.png)" % (alt, name))
        else:
            self.o("(no plot: no successful run)")
        self.o()

    def verdict(self, target, c, limit, what):
        """A target met only when the whole interval is within it."""
        met = c.below(limit) if c is not None else None
        if c is None or c.ratio is None:
            self.verdicts.append((target, None, "not measured: " + what))
        else:
            self.verdicts.append((target, met, "%s = %s%s" % (
                what, c, "" if met is not None else "; the interval reaches above %.2f" % limit)))


def read_kv(path):
    kv = {}
    if os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            for tok in line.split():
                if "=" in tok:
                    k, v = tok.split("=", 1)
                    kv[k] = v
    return kv


def read_text(path):
    return open(path, encoding="utf-8").read() if os.path.exists(path) else ""


# ------------------------------------------------------------ header

def header(ctx, cal, all_recs):
    o = ctx.o
    mguest = read_text(os.path.join(ctx.raw, "machine-guest.txt"))
    mhost = read_text(os.path.join(ctx.outdir, "machine-host.txt"))
    mg = dict(l.split(": ", 1) for l in mguest.splitlines() if ": " in l)
    mh = dict(l.split(": ", 1) for l in mhost.splitlines() if ": " in l)
    loads = [R.host_load(r) for r in all_recs]
    loads = sorted(x for x in loads if x is not None)
    ctx.machine = "TCG guest, %s vCPUs, on %s (%s host); host load %s" % (
        mg.get("vcpus", "?"), mh.get("host cpu", "?"), "shared",
        "%.1f-%.1f" % (loads[0], loads[-1]) if loads else "not recorded")
    o("# vfio-mstream benchmark results")
    o()
    o("Written by `bench/report.py` from the raw runs of `bench/run.sh` (`make bench`). "
      "Every run of every point is in the CSV files next to this one; the machine and every "
      "parameter and knob are in [machine.txt](machine.txt) and [params.txt](params.txt).")
    o()
    o("**Downtime** = from just before the first source device is asked to leave RUNNING "
      "(for STOP_COPY) to just after the last destination device reached RUNNING, on one "
      "CLOCK_MONOTONIC clock, measured by libmstream's session (`downtime_ns` of "
      "`mstream migrate --json`); the destination's load, RESUMING -> STOP, which validates "
      "every stream, is inside it. The scenarios with **precopy on** (the workload "
      "dirtying, precopy until the dirty bytes pending fall below the threshold, then "
      "switchover) are the main ones; the `--no-precopy` scenarios move the whole state in "
      "the downtime and are the **worst case**. Each point is the **median of %s runs** with "
      "the spread **(min-max)** in parentheses; a `*` marks a point with a far-out run "
      "(beyond the quartiles by 3 interquartile ranges; listed under its table with the "
      "host's load during it, and kept in the median; in scenarios 1, 2, 1p and 2p run.sh "
      "then runs that variant once more, as run reps + 1). The variants of one scenario run "
      "interleaved in the same guest boot, in a rotating order." % ctx.params.get("reps", "?"))
    o()
    o(stats.NOTE)
    o()
    o("**Machine**: guest kernel %s, CPU \"%s\", %s vCPUs, %s of memory; %s; host: %s. "
      "**Host load** (1-minute average, read at the start and end of every run from the "
      "host's sampler, `host-load.txt`): %s. The host is shared with other work: "
      "absolute times are those of an emulated (TCG) guest and are slow; the ratios, "
      "measured side by side in one run, are what counts." % (
          mg.get("kernel", "?").split(" ")[0], mg.get("cpu", "?"), mg.get("vcpus", "?"),
          mg.get("memory", "?"), mh.get("qemu", "QEMU ?"), mh.get("host cpu", "?"),
          ("%.2f to %.2f over %d runs, median %.2f" % (
              loads[0], loads[-1], len(loads), stats.median(loads))) if loads else
          "not recorded in this run (records written before run.sh read host-load.txt); "
          "at the start: " + " ".join(mh.get("host load (start)", "?").split()[:3])))
    o()
    all_bw = [c for c in cal if c.get("kind") == "all" and c.get("result")]
    one_bw = [c for c in cal if c.get("kind") == "one" and c.get("result")]
    if all_bw:
        r0 = all_bw[0]["result"]
        o("**Copy bandwidth** of the guest, for context (`mstbench copybw`: memcpy, each "
          "thread copying its own %s buffer %d times; median of %d samples taken at the start "
          "and end of the run): %.0f MiB/s over %d threads, %.0f MiB/s on one. It is no "
          "bound of a migration; the bounds are below, per scenario." % (
              R.human_bytes(r0.get("size")), r0.get("reps", 0), len(all_bw),
              stats.median([c["result"]["mib_s"] for c in all_bw]), r0.get("threads", 0),
              stats.median([c["result"]["mib_s"] for c in one_bw]) if one_bw else 0))
        o()
    o("**Bounds**, both in the same run as what they bound: the **device bound** = state / "
      "(engines x engine_bw), the time the engines need at their rate; the **pipeline "
      "bound** = the time `mstbench pipe` takes to move the same bytes through write() and "
      "read() with no device work (1 MiB per call, the pool's read size; the faster of one "
      "thread and the pool's thread count), run in the same rotation as the variants. "
      "The device bound holds by construction; the pipeline bound is measured through an "
      "AF_UNIX socket, not the device's FDs, and the summary says where a migration beat "
      "it.")
    o()
    o("Variants:")
    o()
    for v in R.ORDER:
        o("- `%s`: %s" % (v, R.DESC[v]))
    toks = read_text(os.path.join(ctx.raw, "params-run.txt")).split()
    skipped = sorted({t.split("=", 1)[1] for t in toks if t.startswith("skipped_v2_mode=")})
    if skipped:
        o()
        o("Not measured in this run: the loaded module has no `v2_mode` %s, so the "
          "variants that need it were skipped (params.txt)." %
          ", ".join("`%s`" % m for m in skipped))
    if "skipped_scenario=s2i" in toks:
        o()
        o("Not measured in this run: scenario 2i (integrity checking as real devices do it): "
          "the loaded module has no `integrity` knob; every scenario here has the sample's "
          "per-record CRC computed on the guest's vCPUs, by the source's engines and in the "
          "destination's write() calls.")
    o()


# ------------------------------------------------------------ S1, S2 and their precopy runs

S12 = {
    "s1p": ("Scenario 1p: one device, device-bound, precopy on (main)", "s1p_device_bound_precopy"),
    "s2p": ("Scenario 2p: one device, no engine limit, precopy on (main)", "s2p_unlimited_precopy"),
    "s1": ("Scenario 1: one device, device-bound, no precopy (worst case)", "s1_device_bound"),
    "s2": ("Scenario 2: one device, no engine limit, no precopy (worst case)", "s2_unlimited"),
    "s2i": ("Scenario 2i: scenario 2 with integrity checking as real devices do it "
            "(no per-record CRC on the host's CPUs)", "s2i_unlimited_device_integrity"),
}


def key_comparisons(ctx, sc, g):
    """The comparisons the RFC argues from, each with its interval and p; where v3 does
    not beat a single-FD design with confidence, a plain statement for the summary."""
    def vals(v):
        return R.values(g.get(v, []))
    pairs = [("v2-pool", "v2-today", "the reader alone (control)"),
             ("v3-1", "v2-pool", "the protocol alone, same device parallelism and reader (control)")]
    for n in (4, 8):
        for single in ("v2-mux%d" % n, "v2-muxhead%d" % n):
            pairs.append(("v3-%d" % n, single, "v3 vs the single FD with as many engines"))
    pairs.append(("v3-4", "v2-today", ""))
    lines = []
    for a, b, why in pairs:
        if not vals(a) or not vals(b):
            continue
        c = Comparison(vals(a), vals(b))
        lines.append("- `%s` / `%s`: %s%s" % (a, b, c, " (%s)" % why if why else ""))
        if a.startswith("v3-") and b.startswith("v2-mux") and (
                c.ratio >= 1 or not c.significant):
            ctx.notbeat.append("%s: `%s` does not beat `%s`: %s" % (sc.upper(), a, b, c))
    if lines:
        ctx.o("Comparisons of downtime:")
        ctx.o()
        for l in lines:
            ctx.o(l)
        ctx.o()


def vs_n_series(g, field, device_bound=None, pipe=None):
    """Series against N (engines or dirty FDs) for a line plot."""
    def pts(vs):
        out = []
        for v in vs:
            st = R.stats_of(g[v], field)
            if st["median"] is not None:
                out.append((R.engines_of(v), st["median"], st["min"], st["max"]))
        return out
    ser = []
    for label, pre in (("v3-N (N dirty FDs)", "v3-"), ("v2 mux, E = N engines", "v2-mux"),
                       ("v2 mux-head, E = N engines", "v2-muxhead")):
        vs = [v for v in g if v.startswith(pre) and v[len(pre):].isdigit()]
        ser.append({"label": label, "points": pts(vs)})
    for v in ("v2-today", "v2-pool", "v2-thread"):
        if v in g:
            ser.append({"label": "%s (one engine)" % v, "points": pts([v])})
    if device_bound:
        ser.append({"label": "device bound: state / (N x engine_bw)", "bound": True,
                    "points": [(n, device_bound(n), None, None) for n in (1, 2, 4, 8)]})
    if pipe:
        ser.append({"label": "pipeline bound (measured, median)", "bound": True,
                    "points": [(n, pipe, None, None) for n in (1, 2, 4, 8)]})
    return ser


def in_seconds(series):
    def s(x):
        return None if x is None else x / 1000
    return [dict(ser, points=[(x, s(m), s(lo), s(hi)) for x, m, lo, hi in ser["points"]])
            for ser in series]


def s12(ctx, sc):
    title, fname = S12[sc]
    recs = R.load(os.path.join(ctx.raw, sc + ".jsonl"))
    rows = [R.mig_row(r) for r in recs]
    if not rows:
        return None
    o = ctx.o
    R.write_csv(os.path.join(ctx.outdir, fname + ".csv"), R.MIG_COLS, rows)
    pipe_rows = [r for r in rows if r["variant"] == R.PIPE]
    mig = [r for r in rows if r["variant"] != R.PIPE]
    g = R.group(mig, lambda r: r["variant"])
    st = {v: R.stats_of(rs) for v, rs in g.items()}
    pst = R.stats_of(R.pipe_bound(pipe_rows))
    state = mig[0]["state_bytes"]
    ebw = mig[0]["engine_bw_mib_s"] or 0
    pre = sc.endswith("p")
    o("## %s" % title)
    o()
    o("%s memory-backed state; engine_bw %s%s%s" % (
        R.human_bytes(state),
        ("%s MiB/s per engine (floor(pipeline bandwidth / 2 / 4) from scenario 2's best "
         "median throughput of %s MiB/s: 4 engines x rate <= half of what the pipeline "
         "moves, so v3-4 and the 4-engine single FDs are device-bound; with 8 engines the "
         "device rate reaches the whole pipeline bandwidth)" % (
             ebw, ctx.params["s1_pipeline_mib_s"]) if "s1_pipeline_mib_s" in ctx.params else
         "%s MiB/s per engine (BENCH_S1_BW: the rate of an earlier full run's scenario 1; "
         "scenario 1 did not run in this one)" % ebw)
        if ebw else "0 (unlimited: CPU and memory bound, 2 vCPUs)",
        "; precopy on: the workload dirties %s pages of 4 KiB per second (a quarter of one "
        "engine's rate) while the device runs, and the session switches over once at most "
        "1 MiB is dirty, at most 30 passes or 30 s" % ctx.params.get(sc + "_dirty_rate", "?")
        if pre else "; `--no-precopy`: the whole state moves in the downtime",
        "."))
    o()
    dev = (lambda v: state / R.MIB / (R.engines_of(v) * ebw) * 1000) if ebw else None
    cols = ["variant", "downtime s, median (min-max)", "x v2-today [95%], p"]
    if not pre:
        cols.append("x pipeline bound [95%]")
        if ebw:
            cols.append("x device bound [95%]")
    else:
        cols += ["total s", "passes"]
    cols += ["engine busy", "CPU s/GiB (CLI / guest)", "pool peak", "runs ok"]
    o("| " + " | ".join(cols) + " |")
    o("| --- | " + " | ".join("---:" for _ in cols[1:]) + " |")
    base = R.values(g.get(R.V2, []))
    for v in R.vsort(st):
        s, rs = st[v], g[v]
        good = [r for r in rs if r["status"] == "ok"]

        def m(field):
            return stats.median([r[field] for r in good if r.get(field) is not None])
        cells = ["`%s`" % v, R.cell(s), str(Comparison(s["values"], base)) if v != R.V2 else "1"]
        if not pre:
            cells.append(str(Comparison(s["values"], pst["values"])))
            if ebw:
                cells.append(str(Comparison.to_bound(s["values"], dev(v))))
        else:
            cells += [R.fmt_s(m("total_ms")), "-" if m("iterations") is None else "%.0f" % m("iterations")]
        util, cli, mach = m("engine_util"), m("cli_cpu_s_per_gib"), m("machine_cpu_s_per_gib")
        cells += ["-" if util is None else "%.0f%%" % (util * 100),
                  "-" if mach is None else "%.2f / %.2f" % (cli or 0, mach),
                  R.human_bytes(m("pool_peak_bytes")), "%d/%d" % (s["n"], s["runs"])]
        o("| " + " | ".join(cells) + " |")
    o()
    if pst["median"] is not None and not pre:
        o("Pipeline bound: %s s, median (min-max) over %d rotations of the fastest of "
          "`mstbench pipe` with one thread and with the pool's thread count, moving %s "
          "through write() into and read() out of an AF_UNIX socket (two copies per byte, "
          "kernel buffers, no device work)." % (R.cell(pst), pst["n"], R.human_bytes(state)))
        o()
        faster = [v for v in R.vsort(st) if st[v]["median"] is not None and
                  st[v]["median"] < pst["median"]]
        if faster:
            o("**The pipeline bound did not hold here**: %s moved the state faster than "
              "`mstbench pipe` moved the same bytes. Under TCG each kernel page operation "
              "is costly, and the device's own read() and write() copy whole chunks; the "
              "socket's buffers are not as cheap, so this bound understates the pipeline. "
              "A bound that holds needs the device's own FDs with the engines doing no work "
              "(not in the module yet)." % ", ".join("`%s`" % v for v in faster))
            o()
    o("*engine busy* = the source's `fw_busy_ns` / (engines x (PRE_COPY + STOP_COPY time)): near 100% the "
      "engines (the device) are the bottleneck. *CPU s/GiB*: CPU seconds per GiB of state, "
      "of the CLI process (user + system, its readers' read() and write() included) and of "
      "the whole guest (/proc/stat busy time during the run: the device's engines and the "
      "destination's record checks included).")
    o()
    for v in R.vsort(st):
        R.point_notes(o, "`%s`" % v, st[v])
    key_comparisons(ctx, sc, g)
    n_runs = R.stats_of(mig)["runs"] // max(1, len(g))
    plots.line_plot(ctx.outdir, fname, "%s: downtime vs N" % title,
                    ctx.caption(n_runs), "N: dirty FDs (v3) or engines (v2 mux)",
                    "downtime (s)",
                    in_seconds(vs_n_series(g, "downtime_ms",
                                           dev and (lambda n: state / R.MIB / (n * ebw) * 1000),
                                           None if pre else pst["median"])),
                    logx=True, xtics=[1, 2, 4, 8])
    ctx.img(fname, sc)
    if not pre and not ebw:
        plots.line_plot(ctx.outdir, fname + "_cpu", "%s: CPU per GiB vs N" % title,
                        ctx.caption(n_runs), "N: dirty FDs (v3) or engines (v2 mux)",
                        "guest CPU-seconds per GiB of state (s/GiB)",
                        vs_n_series(g, "machine_cpu_s_per_gib"), logx=True, xtics=[1, 2, 4, 8],
                        key="top left")
        ctx.img(fname + "_cpu", sc + " cpu")
    return st, g, state, ebw, pst


def s12_targets(ctx, res):
    s1, s2 = res.get("s1"), res.get("s2")
    if s1:
        st, g, state, ebw, _ = s1
        worst = []
        allmet = True
        for v in R.vsort(v for v in st if v.startswith("v3-")):
            c = Comparison.to_bound(st[v]["values"], state / R.MIB / (R.engines_of(v) * ebw) * 1000)
            met = c.below(T_DEVICE_BOUND)
            allmet = allmet and met
            worst.append("`%s` %s" % (v, c))
        ctx.verdicts.append(("Device-bound (S1): v3-N <= %.2f x the device bound, N = 1..8" %
                             T_DEVICE_BOUND, allmet if worst else None,
                             "; ".join(worst) or "not measured"))
    if s1:
        st, g, _, _, _ = s1
        ctx.verdict("S1: v3-4 <= %.2f x v2-today (issue 7)" % T_S1, Comparison(
            R.values(g.get("v3-4", [])), R.values(g.get(R.V2, []))) if g.get("v3-4") else None,
            T_S1, "`v3-4` / `v2-today`")
    if s2:
        st, g, _, _, _ = s2
        ctx.verdict("S2: v3-4 <= %.1f x v2-mux4 (issue 7)" % T_S2_MUX, Comparison(
            R.values(g.get("v3-4", [])), R.values(g.get("v2-mux4", []))) if g.get("v3-4") else None,
            T_S2_MUX, "`v3-4` / `v2-mux4`")
    s2 = res.get("s2i") or s2
    if s2:
        st, g, _, _, _ = s2
        head = R.values(g.get("v2-muxhead4", []))
        integ = "as real devices do it (S2i)" if res.get("s2i") else "today's, CRC in the kernel (S2)"
        if head:
            ctx.verdict("Reader-bound: v3-4 <= %.1f x mux-head read by the pool" % T_READER_MUXHEAD,
                        Comparison(R.values(g.get("v3-4", [])), head), T_READER_MUXHEAD,
                        "`v3-4` / `v2-muxhead4`, integrity " + integ)
        else:
            ctx.verdicts.append((
                "Reader-bound (S2, integrity as real devices do it): v3-4 <= %.1f x mux-head "
                "read by the pool" % T_READER_MUXHEAD, None,
                "not measured: the module has no mux-head mode and no knob that moves the "
                "per-record CRC off the host's CPUs; measured instead, `v3-4` / `v2-mux4` "
                "(tail mux, today's CRC) = %s" % Comparison(R.values(g.get("v3-4", [])),
                                                            R.values(g.get("v2-mux4", [])))))


# ------------------------------------------------------------ machine.txt, params.txt

def side_files(ctx, cal, all_recs):
    raw = ctx.raw
    mguest = read_text(os.path.join(raw, "machine-guest.txt"))
    mhost = read_text(os.path.join(ctx.outdir, "machine-host.txt"))
    with open(os.path.join(ctx.outdir, "machine.txt"), "w", encoding="utf-8") as f:
        f.write("# guest (where the benchmark ran)\n" + mguest + "\n# host\n" + mhost)
    knobs = {}
    for r in all_recs:
        k = (r.get("knobs") or {}).get("src")
        if k:
            knobs.setdefault((r.get("scenario"), k), set()).add(r.get("variant"))
    with open(os.path.join(ctx.outdir, "params.txt"), "w", encoding="utf-8") as f:
        f.write("# run parameters (bench/run.sh)\n" + read_text(os.path.join(raw, "params-run.txt")))
        f.write("\n# knobs of the first source device, read just before each run, and the "
                "variants that ran with them\n")
        for (sc, k), vs in sorted(knobs.items()):
            f.write("%s [%s]: %s\n" % (sc, " ".join(R.vsort(vs)), k))
        f.write("\n# guest time per scenario (s)\n" + read_text(os.path.join(raw, "times.txt")))
    if cal:
        R.write_csv(os.path.join(ctx.outdir, "cal_copy_bandwidth.csv"),
                    ["when", "kind", "rep", "threads", "size", "reps", "bytes", "seconds", "mib_s"],
                    [dict(when=c.get("when"), kind=c.get("kind"), rep=c.get("rep"),
                          **(c.get("result") or {})) for c in cal])


# ------------------------------------------------------------ targets

def targets(ctx):
    o = ctx.o
    o("## Targets")
    o()
    o("A target is **met** only when the whole 95% interval is within it; **missed** when "
      "the median ratio is beyond it; otherwise **not shown** (the median is within, the "
      "interval is not).")
    o()
    o("| target | result | ratio [95% interval], p |")
    o("| --- | --- | --- |")
    for t, met, txt in ctx.verdicts:
        o("| %s | %s | %s |" % (t, {True: "**met**", False: "**missed**"}.get(
            met, "not measured" if txt.startswith("not measured") else "not shown"), txt))
    o()
    if ctx.notbeat:
        o("Where v3 does not beat a single FD with confidence:")
        o()
        for n in ctx.notbeat:
            o("- " + n)
        o()
    notes = read_text(os.path.join(os.path.dirname(os.path.abspath(__file__)), "NOTES.md"))
    if notes.strip():
        o(notes.rstrip())
        o()
    times = read_text(os.path.join(ctx.raw, "times.txt"))
    if times.strip():
        o("Guest time per scenario (s): " + ", ".join(
            " ".join(l.split()) for l in times.splitlines() if l.strip()) + ".")
        o()


def report(outdir):
    ctx = Ctx(outdir)
    # every figure is drawn again: none of an earlier report may stay behind
    pdir = os.path.join(outdir, "plot")
    for d, f in [(outdir, f) for f in os.listdir(outdir) if f.endswith(".png")] + \
            [(pdir, f) for f in (os.listdir(pdir) if os.path.isdir(pdir) else [])]:
        os.unlink(os.path.join(d, f))
    cal = R.load(os.path.join(ctx.raw, "cal.jsonl"))
    all_recs = [r for f in sorted(os.listdir(ctx.raw)) if f.endswith(".jsonl")
                for r in R.load(os.path.join(ctx.raw, f))] if os.path.isdir(ctx.raw) else []
    side_files(ctx, cal, all_recs)
    header(ctx, cal, all_recs)
    res = {}
    for sc in ("s1p", "s2p"):
        res[sc] = s12(ctx, sc)
    report_reinit.rb(ctx)
    for sc in ("s1", "s2", "s2i"):
        res[sc] = s12(ctx, sc)
    s12_targets(ctx, res)
    report_reinit.s3(ctx)
    report_scale.s4(ctx)
    report_scale.s5(ctx)
    sqrecs = R.load(os.path.join(ctx.raw, "sq.jsonl"))
    if sqrecs:
        report_qemu.section(ctx.o, outdir, sqrecs, R.mig_row, R.write_csv, R.human_bytes)
    report_perf.section(ctx.o, outdir)
    targets(ctx)
    with open(os.path.join(outdir, "summary.md"), "w", encoding="utf-8") as f:
        f.write(ctx.o.text())


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "--pipeline-bw":
        print("%.0f" % R.pipeline_bw(sys.argv[2]))
        return
    if len(sys.argv) >= 3 and sys.argv[1] == "--outliers":
        for v in R.outlier_variants(sys.argv[2]):
            print(v)
        return
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results")
    report(outdir)
    print("report: %s" % os.path.join(outdir, "summary.md"))


if __name__ == "__main__":
    main()
