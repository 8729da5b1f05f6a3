#!/usr/bin/env python3
"""bench/report.py - turn bench/results/raw/*.jsonl (written by bench/run.sh in the guest)
into the results: one CSV per scenario (every run), PNG plots (gnuplot), summary.md,
params.txt and machine.txt.

  bench/report.py [RESULTS_DIR]           write everything (default bench/results)
  bench/report.py --pipeline-bw FILE      print the best median throughput in MiB/s of
                                          the runs in FILE (run.sh sizes engine_bw by it)

Every figure in summary.md is a median over the runs of one point, with the spread
(min-max) next to it; ratios are of medians.
"""
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys

import report_qemu

MIB = 1 << 20
V2 = "v2-today"
ORDER = ["v2-today", "v2-thread", "v2-mux4", "v2-mux8", "v3-1", "v3-2", "v3-4", "v3-8"]
DESC = {
    "v2-today": "v2, one engine, one FD, serial read loop (drivers and VMMs today)",
    "v2-thread": "v2, one engine, one FD, read by a dedicated thread 1 MiB at a time (QEMU 10 multifd model)",
    "v2-mux4": "v2 mux: 4 engines multiplexed onto the one FD, reader pool",
    "v2-mux8": "v2 mux: 8 engines multiplexed onto the one FD, reader pool",
    "v3-1": "v3, 1 dirty FD + critical FD, reader pool",
    "v3-2": "v3, 2 dirty FDs + critical FD, reader pool",
    "v3-4": "v3, 4 dirty FDs + critical FD, reader pool",
    "v3-8": "v3, 8 dirty FDs + critical FD, reader pool",
}

# S1..S4 targets of issue 7
T_S1 = 0.30
T_S2_MUX = 0.6
T_S2_LB = 2.5
T_S3 = 0.02
T_S4 = 0.30


def load(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                out.append({"scenario": "?", "exit": -1, "stderr": "unparsable record: %s" % e,
                            "result": None})
    return out


def ok(rec):
    r = rec.get("result")
    return rec.get("exit") == 0 and isinstance(r, dict) and r.get("status") == "ok"


def error_of(rec):
    r = rec.get("result")
    if isinstance(r, dict) and r.get("error"):
        return str(r["error"])
    return (rec.get("stderr") or "exit %s" % rec.get("exit")).strip()


def med(xs):
    return statistics.median(xs) if xs else None


def spread(xs):
    return (min(xs), max(xs)) if xs else (None, None)


def fmt_ms(v):
    if v is None:
        return "-"
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def fmt_s(v_ms):
    return "-" if v_ms is None else "%.2f" % (v_ms / 1000.0)


def fmt_r(v):
    return "-" if v is None else "%.2f" % v


def fmt_pct(v):
    return "-" if v is None else ("%.2f%%" % (v * 100) if v < 0.1 else "%.0f%%" % (v * 100))


def ratio(a, b):
    return a / b if a is not None and b else None


def human_bytes(b):
    if b is None:
        return "-"
    for unit, div in (("GiB", 1 << 30), ("MiB", MIB), ("KiB", 1024)):
        if b >= div:
            v = b / div
            return ("%.0f %s" % (v, unit)) if v == int(v) else ("%.1f %s" % (v, unit))
    return "%d B" % b


def vsort(names):
    return sorted(names, key=lambda v: (ORDER.index(v) if v in ORDER else 99, v))


# ------------------------------------------------------------ migrate records

def mig_row(rec):
    r = rec.get("result") if isinstance(rec.get("result"), dict) else {}
    good = ok(rec)
    ndev = rec.get("devices", 1)
    state = rec.get("state_size", 0)
    down = r.get("downtime_ns") if good else None
    stop = r.get("stopcopy_ns") if good else None
    fw = rec.get("fw_busy_ns") or []
    fw_ms = sum(x for x in fw if isinstance(x, (int, float))) / 1e6 if fw else None
    eng = rec.get("engines") or 1
    util = None
    if good and stop and fw_ms is not None:
        util = fw_ms / (eng * ndev * stop / 1e6)
    pool = r.get("pool") or {}
    rss = rec.get("rss") or {}
    ends = []
    sums = []
    arcs = [d["stopped_ns"] - d.get("stop_ns", 0) for d in r.get("devices") or []
            if d.get("stopped_ns")]
    for d in r.get("devices") or []:
        ends.append("/".join("%.0f" % (s.get("end_ns", 0) / 1e6) for s in d.get("streams", [])))
        sums.append(d.get("checksum_match"))
    return {
        "scenario": rec.get("scenario"),
        "variant": rec.get("variant"),
        "rep": rec.get("rep"),
        "devices": ndev,
        "order": rec.get("order"),
        "state_bytes": state,
        "backing": rec.get("backing"),
        "engine_bw_mib_s": rec.get("engine_bw"),
        "engines": eng,
        "status": "ok" if good else "failed",
        "error": "" if good else error_of(rec),
        "downtime_ms": down / 1e6 if down is not None else None,
        "stopcopy_ms": stop / 1e6 if stop is not None else None,
        "load_ms": r.get("load_ns") / 1e6 if good and r.get("load_ns") is not None else None,
        "setup_ms": r.get("setup_ns") / 1e6 if good and r.get("setup_ns") is not None else None,
        "bytes": r.get("bytes") if good else None,
        "mib_s": (state * ndev / MIB) / (down / 1e9) if good and down else None,
        "fw_busy_ms": fw_ms,
        "engine_util": util,
        "pool_kind": pool.get("kind"),
        "pool_threads": pool.get("threads"),
        "pool_alloc_bytes": pool.get("alloc_bytes"),
        "pool_peak_bytes": pool.get("peak_bytes"),
        "maxrss_kib": rss.get("maxrss_kib"),
        "mem_used_peak_kib": rss.get("mem_used_peak_kib"),
        "checksum_match": all(x is True for x in sums) if sums else None,
        "stream_end_ms": " ".join(ends),
        "stop_arc_ms": max(arcs) / 1e6 if good and arcs else None,
        "pool_reads": pool.get("reads"),
        "pool_polls": pool.get("polls"),
        "pool_eagains": pool.get("eagains"),
        "wall_ms": rec.get("wall_ns", 0) / 1e6 if rec.get("wall_ns") else None,
    }


MIG_COLS = ["scenario", "variant", "rep", "devices", "order", "state_bytes", "backing",
            "engine_bw_mib_s", "engines", "status", "error", "downtime_ms", "stopcopy_ms",
            "load_ms", "setup_ms", "bytes", "mib_s", "fw_busy_ms", "engine_util", "pool_kind",
            "pool_threads", "pool_alloc_bytes", "pool_peak_bytes", "maxrss_kib",
            "mem_used_peak_kib", "checksum_match", "stream_end_ms", "stop_arc_ms", "pool_reads",
            "pool_polls", "pool_eagains", "wall_ms"]

S3_TITLES = {"stopcopy": "REINIT in STOP_COPY",
             "stopcopy_bound": "REINIT in STOP_COPY, engines limited",
             "precopy": "REINIT in PRE_COPY"}
S3_COLS = ["scenario", "variant", "phase", "rep", "state_bytes", "engine_bw_mib_s", "at_bytes",
           "status", "error",
           "injected", "delivered", "latency_ms", "inject_after_stop_ms", "saved_at_inject",
           "crit_gen_before", "crit_gen_new", "dst_crit_gen_final", "downtime_ms", "bytes",
           "checksum_match"]


def s3_row(rec):
    r = rec.get("result") if isinstance(rec.get("result"), dict) else {}
    good = rec.get("exit") == 0 and r.get("status") == "ok"
    delivered = bool(r.get("delivered"))
    return {
        "scenario": "s3",
        "variant": rec.get("variant"),
        "phase": rec.get("phase"),
        "rep": rec.get("rep"),
        "state_bytes": rec.get("state_size"),
        "engine_bw_mib_s": rec.get("engine_bw"),
        "at_bytes": r.get("at_bytes"),
        "status": "ok" if good else "failed",
        "error": "" if good else error_of(rec),
        "injected": r.get("injected"),
        "delivered": delivered,
        "latency_ms": r.get("latency_ms") if delivered else None,
        "inject_after_stop_ms": r.get("inject_after_stop_ms"),
        "saved_at_inject": r.get("saved_at_inject"),
        "crit_gen_before": r.get("crit_gen_before"),
        "crit_gen_new": r.get("crit_gen_new"),
        "dst_crit_gen_final": r.get("dst_crit_gen_final"),
        "downtime_ms": r.get("downtime_ns", 0) / 1e6 if good else None,
        "bytes": r.get("bytes"),
        "checksum_match": r.get("checksums_match"),
    }


def write_csv(path, cols, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow({k: ("" if row.get(k) is None else
                            ("%.3f" % row[k] if isinstance(row[k], float) else row[k]))
                        for k in cols})


def group(rows, key):
    g = {}
    for row in rows:
        g.setdefault(key(row), []).append(row)
    return g


def stats_of(rows, field="downtime_ms"):
    xs = [r[field] for r in rows if r["status"] == "ok" and r.get(field) is not None]
    lo, hi = spread(xs)
    fails = [r for r in rows if r["status"] != "ok"]
    return {"n": len(xs), "runs": len(rows), "median": med(xs), "min": lo, "max": hi,
            "fails": fails, "values": xs}


def pipeline_bw(path):
    rows = [mig_row(r) for r in load(path)]
    best = 0.0
    for _, rs in group(rows, lambda r: (r["variant"], r["devices"], r["order"])).items():
        xs = [r["mib_s"] for r in rs if r["status"] == "ok" and r["mib_s"]]
        if xs:
            best = max(best, med(xs))
    return best


# ------------------------------------------------------------ gnuplot

def gnuplot(outdir, name, script, data):
    gp = shutil.which("gnuplot")
    pdir = os.path.join(outdir, "plot")
    os.makedirs(pdir, exist_ok=True)
    dat = os.path.join(pdir, name + ".dat")
    with open(dat, "w", encoding="utf-8") as f:
        f.write(data)
    try:
        term = subprocess.run([gp, "-e", "set terminal pngcairo"], capture_output=True,
                              timeout=30).returncode == 0 if gp else False
    except Exception:
        term = False
    head = ("set terminal pngcairo noenhanced size 900,520 font 'sans,10'\n" if term else
            "set terminal png noenhanced size 900,520\n")
    full = head + "set output '%s'\n" % os.path.join(outdir, name + ".png") + \
        script.replace("DATA", "'%s'" % dat)
    with open(os.path.join(pdir, name + ".gp"), "w", encoding="utf-8") as f:
        f.write(full)
    if not gp:
        return False
    r = subprocess.run([gp], input=full.encode(), capture_output=True, timeout=120)
    if r.returncode:
        sys.stderr.write("report: gnuplot %s: %s\n" % (name, r.stderr.decode(errors="replace")))
    return r.returncode == 0


def bar_plot(outdir, name, title, ylabel, points, logscale=False):
    """points: [(label, median, min, max)] -> a bar chart with min-max error bars."""
    data = "# label median min max\n"
    for i, (label, m, lo, hi) in enumerate(points):
        if m is None:
            continue
        data += '%d "%s" %.6f %.6f %.6f\n' % (i, label, m, lo, hi)
    if not any(p[1] is not None for p in points):
        return False
    script = """
set title "%s"
set ylabel "%s"
set style fill solid 0.6 border -1
set boxwidth 0.6
set grid ytics
set xtics rotate by -30
set yrange [%s:*]
%s
plot DATA using 1:3:xtic(2) with boxes lc rgb '#4477aa' title 'median', \\
     DATA using 1:3:4:5 with yerrorbars lc rgb 'black' pt 0 title 'min-max'
""" % (title, ylabel, "*" if logscale else "0", "set logscale y" if logscale else "")
    return gnuplot(outdir, name, script, data)


# ------------------------------------------------------------ summary

class Out:
    def __init__(self):
        self.lines = []

    def __call__(self, s=""):
        self.lines.append(s)

    def text(self):
        return "\n".join(self.lines) + "\n"


def img(o, outdir, name, alt):
    if os.path.exists(os.path.join(outdir, name + ".png")):
        o("![%s](%s.png)" % (alt, name))
    else:
        o("(no plot: no successful run)")


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


def perf_top(outdir, name, n=12):
    """Top symbols of a perf profile, as written by `make -C bench perf-report`."""
    p = os.path.join(outdir, "perf", name + ".txt")
    if not os.path.exists(p):
        return None
    rows = []
    for line in open(p, encoding="utf-8", errors="replace"):
        line = line.rstrip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if parts and parts[0].endswith("%"):
            rows.append(line.strip())
        if len(rows) >= n:
            break
    return rows


def fails_note(st):
    if not st["fails"]:
        return ""
    errs = sorted({(f.get("error") or "?")[:160] for f in st["fails"]})
    return "%d of %d runs failed: %s" % (len(st["fails"]), st["runs"], "; ".join(errs))


def cell(st, unit="s"):
    if st["median"] is None:
        return "failed" if st["runs"] else "-"
    f = fmt_s if unit == "s" else fmt_ms
    return "%s (%s-%s)" % (f(st["median"]), f(st["min"]), f(st["max"]))


def report(outdir):
    raw = os.path.join(outdir, "raw")
    o = Out()
    for f in os.listdir(outdir):
        if f.endswith(".png"):
            os.unlink(os.path.join(outdir, f))
    cal = load(os.path.join(raw, "cal.jsonl"))
    bw_all = med([c["result"]["mib_s"] for c in cal if c.get("kind") == "all" and c.get("result")])
    bw_one = med([c["result"]["mib_s"] for c in cal if c.get("kind") == "one" and c.get("result")])
    params = read_kv(os.path.join(raw, "params-run.txt"))
    mguest = read_text(os.path.join(raw, "machine-guest.txt"))
    mhost = read_text(os.path.join(outdir, "machine-host.txt"))
    times = read_text(os.path.join(raw, "times.txt"))
    verdicts = []   # (target, met, text)
    notbeat = []    # where v3 does not beat v2-mux

    # machine.txt, params.txt
    with open(os.path.join(outdir, "machine.txt"), "w", encoding="utf-8") as f:
        f.write("# guest (where the benchmark ran)\n" + mguest + "\n# host\n" + mhost)
        if bw_all:
            f.write("\n# measured copy bandwidth in the guest (memcpy, median of 3)\n"
                    "all vCPUs: %.0f MiB/s\none vCPU: %.0f MiB/s\n" % (bw_all, bw_one or 0))
    with open(os.path.join(outdir, "params.txt"), "w", encoding="utf-8") as f:
        f.write("# run parameters (bench/run.sh)\n" + read_text(os.path.join(raw, "params-run.txt")))
        f.write("\n# device knobs of every instance, per scenario\n" +
                read_text(os.path.join(raw, "knobs.txt")))
        f.write("\n# guest time per scenario (s)\n" + times)

    if cal:
        write_csv(os.path.join(outdir, "cal_copy_bandwidth.csv"),
                  ["kind", "rep", "threads", "size", "reps", "bytes", "seconds", "mib_s"],
                  [dict(kind=c.get("kind"), rep=c.get("rep"), **(c.get("result") or {}))
                   for c in cal])

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
      "every stream, is inside it. No precopy: the whole state moves during the downtime. "
      "Each point is the **median of %s runs** with the spread **(min-max)** in "
      "parentheses; the variants of one scenario run interleaved in the same guest boot, in "
      "a rotating order." % params.get("reps", "?"))
    o()
    mg = dict(l.split(": ", 1) for l in mguest.splitlines() if ": " in l)
    mh = dict(l.split(": ", 1) for l in mhost.splitlines() if ": " in l)
    o("**Machine**: guest kernel %s, CPU \"%s\", %s vCPUs, %s of memory; %s; host: %s, "
      "load average at the start %s." % (
          mg.get("kernel", "?").split(" ")[0], mg.get("cpu", "?"), mg.get("vcpus", "?"),
          mg.get("memory", "?"), mh.get("qemu", "QEMU ?"), mh.get("host cpu", "?"),
          " ".join(mh.get("host load (start)", "?").split()[:3])))
    o("Absolute times are those of an emulated (TCG) guest on a shared 2-core host and are "
      "slow; the ratios, measured side by side in one run, are what counts.")
    o()
    if bw_all:
        o("**Copy bandwidth** of the guest (memcpy, 64 MiB per thread, median of 3): "
          "%.0f MiB/s over all vCPUs, %.0f MiB/s on one. The **one-copy lower bound** of a "
          "migration is state / %.0f MiB/s." % (bw_all, bw_one or 0, bw_all))
        o()
    o("Variants:")
    o()
    for v in ORDER:
        o("- `%s`: %s" % (v, DESC[v]))
    o()

    def lb_ms(total_bytes):
        return total_bytes / MIB / bw_all * 1000 if bw_all else None

    # ---------------- S1 / S2
    def s12(sc, title, fname, engine_bw):
        rows = [mig_row(r) for r in load(os.path.join(raw, sc + ".jsonl"))]
        if not rows:
            return None
        write_csv(os.path.join(outdir, fname + ".csv"), MIG_COLS, rows)
        g = group(rows, lambda r: r["variant"])
        st = {v: stats_of(rs) for v, rs in g.items()}
        state = rows[0]["state_bytes"]
        base = st.get(V2, {}).get("median")
        lb = lb_ms(state)
        o("## %s" % title)
        o()
        return rows, g, st, state, base, lb

    def s12_table(st, g, state, base, lb, engine_bw):
        o("| variant | downtime s, median (min-max) | x v2-today | x one-copy bound | "
          "MiB/s | engine busy | STOP_COPY arc ms | pool peak | runs ok |")
        o("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for v in vsort(st):
            s = st[v]
            rs = g[v]
            m = s["median"]
            util = med([r["engine_util"] for r in rs if r["status"] == "ok" and r["engine_util"] is not None])
            peak = med([r["pool_peak_bytes"] for r in rs if r["status"] == "ok" and r["pool_peak_bytes"] is not None])
            mibs = med([r["mib_s"] for r in rs if r["status"] == "ok" and r["mib_s"]])
            arc = med([r["stop_arc_ms"] for r in rs if r["status"] == "ok" and r["stop_arc_ms"] is not None])
            o("| `%s` | %s | %s | %s | %s | %s | %s | %s | %d/%d |" % (
                v, cell(s), fmt_r(ratio(m, base)), fmt_r(ratio(m, lb)),
                "-" if mibs is None else "%.1f" % mibs,
                "-" if util is None else "%.0f%%" % (util * 100), fmt_ms(arc),
                human_bytes(peak), s["n"], s["runs"]))
        o()
        if lb:
            o("One-copy lower bound: %s / %.0f MiB/s = %.3f s." % (human_bytes(state), bw_all, lb / 1000))
        o("*engine busy* = the source's `fw_busy_ns` / (engines x STOP_COPY time): near 100% "
          "the engines (the device) are the bottleneck; well below, they waited for the readers. "
          "*STOP_COPY arc* = how long the source's RUNNING -> STOP_COPY transition took (inside "
          "the downtime; the driver sets up the session's queues and engines there; chunk buffers are allocated later, at their first use).")
        for v in vsort(st):
            n = fails_note(st[v])
            if n:
                o()
                o("`%s`: %s" % (v, n))
        o()

    def not_beat(sc, st):
        mux = {v: st[v]["median"] for v in st if v.startswith("v2-mux") and st[v]["median"]}
        if not mux:
            return
        best_mux = min(mux.values())
        best_mux_v = min(mux, key=mux.get)
        for v in vsort(st):
            if not v.startswith("v3-") or st[v]["median"] is None:
                continue
            same = "v2-mux" + v[3:]
            if same in mux and st[v]["median"] >= mux[same]:
                notbeat.append("%s: `%s` (%s s) does not beat `%s` (%s s) with the same number "
                               "of engines" % (sc, v, fmt_s(st[v]["median"]), same, fmt_s(mux[same])))
            elif st[v]["median"] >= best_mux:
                notbeat.append("%s: `%s` (%s s) does not beat the best multiplexed v2 `%s` (%s s)"
                               % (sc, v, fmt_s(st[v]["median"]), best_mux_v, fmt_s(best_mux)))

    s2 = s12("s2", "Scenario 2: one device, no engine limit (CPU and memory bound)", "s2_unlimited", 0)
    s2_bw = params.get("s1_pipeline_mib_s")
    if s2:
        rows, g, st, state, base, lb = s2
        o("%s memory-backed state, `engine_bw` = 0 (unlimited), %s." % (
            human_bytes(state), "2 vCPUs" if "vcpus: 2" in mguest else "vCPUs: see machine.txt"))
        o()
        s12_table(st, g, state, base, lb, 0)
        bar_plot(outdir, "s2_unlimited", "Scenario 2: downtime, %s, no engine limit" % human_bytes(state),
                 "downtime (s)", [(v, *(x / 1000 if x is not None else None for x in
                                       (st[v]["median"], st[v]["min"], st[v]["max"])))
                                  for v in vsort(st)])
        img(o, outdir, "s2_unlimited", "scenario 2")
        o()
        v3 = {v: st[v]["median"] for v in st if v.startswith("v3-") and st[v]["median"]}
        mux = {v: st[v]["median"] for v in st if v.startswith("v2-mux") and st[v]["median"]}
        if v3 and mux:
            bv = min(v3, key=v3.get)
            bm = min(mux, key=mux.get)
            r = v3[bv] / mux[bm]
            r4 = ratio(v3.get("v3-4"), mux.get("v2-mux4"))
            met = r <= T_S2_MUX
            verdicts.append(("S2: v3 <= %.1f x v2-mux (2 vCPUs)" % T_S2_MUX, met,
                             "best v3 `%s` %s s / best mux `%s` %s s = **%.2f**%s" % (
                                 bv, fmt_s(v3[bv]), bm, fmt_s(mux[bm]), r,
                                 "; `v3-4` / `v2-mux4` = %.2f" % r4 if r4 else "")))
            if lb:
                rl = v3[bv] / lb
                verdicts.append(("S2: v3 within %.1f x the one-copy lower bound" % T_S2_LB,
                                 rl <= T_S2_LB, "best v3 `%s` %s s / bound %.3f s = **%.1f**" % (
                                     bv, fmt_s(v3[bv]), lb / 1000, rl)))
        elif not v3:
            verdicts.append(("S2: v3 <= %.1f x v2-mux" % T_S2_MUX, None, "no successful v3 run"))
        not_beat("S2", st)
        if s2_bw:
            o("Pipeline bandwidth (the best median throughput above, state / downtime): "
              "**%s MiB/s**; scenario 1 sizes its engine limit from it." % s2_bw)
            o()

    s1 = s12("s1", "Scenario 1: one device, device-bound (engines limited)", "s1_device_bound", None)
    if s1:
        rows, g, st, state, base, lb = s1
        ebw = rows[0]["engine_bw_mib_s"]
        o("%s memory-backed state. **engine_bw = %s MiB/s per engine**, picked in the same run "
          "as floor(pipeline bandwidth / 2 / 4) from scenario 2's pipeline bandwidth of %s MiB/s: "
          "4 engines x rate <= half of what the pipeline moves, so v3 N=4 (the target) and "
          "v2-mux4 are device-bound; with 8 engines the device rate reaches the whole "
          "pipeline bandwidth, so v3-8 and v2-mux8 are not purely device-bound." % (
              human_bytes(state), ebw, params.get("s1_pipeline_mib_s", "?")))
        o()
        o("| variant | downtime s, median (min-max) | x v2-today | x device bound | x one-copy bound | engine busy | runs ok |")
        o("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for v in vsort(st):
            s = st[v]
            m = s["median"]
            eng = g[v][0]["engines"] or 1
            dev_ms = state / MIB / (eng * ebw) * 1000 if ebw else None
            util = med([r["engine_util"] for r in g[v] if r["status"] == "ok" and r["engine_util"] is not None])
            o("| `%s` | %s | %s | %s | %s | %s | %d/%d |" % (
                v, cell(s), fmt_r(ratio(m, base)), fmt_r(ratio(m, dev_ms)), fmt_r(ratio(m, lb)),
                "-" if util is None else "%.0f%%" % (util * 100), s["n"], s["runs"]))
        o()
        o("*device bound* = state / (engines x engine_bw), the time the engines need at their "
          "rate; *one-copy bound* = state / copy bandwidth (%.3f s)." % (lb / 1000 if lb else 0))
        for v in vsort(st):
            n = fails_note(st[v])
            if n:
                o()
                o("`%s`: %s" % (v, n))
        o()
        bar_plot(outdir, "s1_device_bound", "Scenario 1: downtime, %s, engine_bw %s MiB/s" % (
            human_bytes(state), ebw), "downtime (s)",
            [(v, *(x / 1000 if x is not None else None for x in
                   (st[v]["median"], st[v]["min"], st[v]["max"]))) for v in vsort(st)])
        img(o, outdir, "s1_device_bound", "scenario 1")
        o()
        m4 = st.get("v3-4", {}).get("median")
        if m4 and base:
            r = m4 / base
            verdicts.append(("S1: v3 N=4 <= %.2f x v2-today" % T_S1, r <= T_S1,
                             "`v3-4` %s s / `v2-today` %s s = **%.2f**" % (fmt_s(m4), fmt_s(base), r)))
        else:
            verdicts.append(("S1: v3 N=4 <= %.2f x v2-today" % T_S1, None,
                             "not measured (%s)" % ("no v3-4 run succeeded" if not m4 else "no v2-today run succeeded")))
        not_beat("S1", st)

    # ---------------- S3
    s3recs = load(os.path.join(raw, "s3.jsonl"))
    if s3recs:
        rows = [s3_row(r) for r in s3recs]
        write_csv(os.path.join(outdir, "s3_reinit_latency.csv"), S3_COLS, rows)
        state = rows[0]["state_bytes"]
        o("## Scenario 3: critical-data latency behind a dirty backlog")
        o()
        o("%s pattern-backed state, no engine limit (except where said). `mstbench reinit` migrates with libmstream "
          "and, once the source's `bytes_saved` reaches %s (a quarter of the save: the save "
          "job is in progress), writes 1 to the source's `reinit` knob; the latency is the time "
          "from that write until the destination's `crit_gen` shows the new generation "
          "(polled every %s us), i.e. until the destination holds the new critical data. "
          "**STOP_COPY** is what the issue asks; **PRE_COPY** (the REINIT during the first "
          "precopy pass, the case a running guest produces) is measured too." % (
              human_bytes(state), human_bytes(rows[0]["at_bytes"] or 0),
              (s3recs[0].get("result") or {}).get("poll_us", "?")))
        o()
        crit_lb = 65536 / MIB / bw_all * 1000 if bw_all else None
        for phase in ("stopcopy", "stopcopy_bound", "precopy"):
            pr = [r for r in rows if r["phase"] == phase]
            if not pr:
                continue
            g = group(pr, lambda r: r["variant"])
            st = {}
            for v, rs in g.items():
                s = stats_of(rs, "latency_ms")
                s["undelivered"] = [r for r in rs if r["status"] == "ok" and not r["delivered"]]
                st[v] = s
            base = st.get(V2, {}).get("median")
            o("### %s" % S3_TITLES[phase])
            o()
            if phase == "stopcopy_bound":
                o("The same, with every engine limited to %s MiB/s (scenario 1's rate): the "
                  "sample's engines, its firmware model, run on the guest's two vCPUs, and "
                  "unlimited they keep both busy, so that each step of the critical path "
                  "(the source's critical engine, the pool's reader, the destination) waits for "
                  "a CPU; a real device's firmware takes no host CPU." % pr[0]["engine_bw_mib_s"])
                o()
            o("| variant | latency ms, median (min-max) | x v2-today | x one-copy bound of the record | delivered | downtime s (median) |")
            o("| --- | ---: | ---: | ---: | ---: | ---: |")
            for v in vsort(st):
                s = st[v]
                dts = med([r["downtime_ms"] for r in g[v] if r["downtime_ms"] is not None])
                o("| `%s` | %s | %s | %s | %d/%d | %s |" % (
                    v, cell(s, "ms") if s["median"] is not None else
                    ("never delivered" if s["undelivered"] else "failed"),
                    fmt_pct(ratio(s["median"], base)), fmt_r(ratio(s["median"], crit_lb)),
                    s["n"], s["runs"], fmt_s(dts)))
            o()
            for v in vsort(st):
                n = fails_note(st[v])
                if n:
                    o("`%s`: %s" % (v, n))
                    o()
                if st[v]["undelivered"]:
                    r0 = st[v]["undelivered"][0]
                    o("`%s`: in %d of %d runs the destination never received the new critical "
                      "data (source crit_gen %s, destination ended at %s)." % (
                          v, len(st[v]["undelivered"]), st[v]["runs"], r0["crit_gen_new"],
                          r0["dst_crit_gen_final"]))
                    o()
            nd = [v for v in vsort(st) if st[v]["median"] is None]
            bar_plot(outdir, "s3_%s" % phase, "Scenario 3: critical-data latency, %s%s" % (
                S3_TITLES[phase],
                " (never delivered or failed: %s)" % ", ".join(nd) if nd else ""), "latency (ms, log)",
                [(v, st[v]["median"], st[v]["min"], st[v]["max"]) for v in vsort(st)], logscale=True)
            img(o, outdir, "s3_%s" % phase, "scenario 3 %s" % phase)
            o()
            v3s = {v: st[v] for v in st if v.startswith("v3-")}
            if v3s and base:
                worst = []
                allmet = True
                for v in vsort(v3s):
                    m = v3s[v]["median"]
                    if m is None:
                        allmet = False
                        worst.append("`%s` never delivered" % v if v3s[v]["undelivered"] else "`%s` failed" % v)
                    else:
                        r = m / base
                        allmet &= r <= T_S3
                        worst.append("`%s` %s" % (v, fmt_pct(r)))
                verdicts.append(("S3 (%s): v3 <= 2%% of v2-today" % S3_TITLES[phase][len("REINIT in "):],
                                 allmet, "; ".join(worst) + " of `v2-today`'s %s ms" % fmt_ms(base)))
            elif v3s:
                verdicts.append(("S3 (%s): v3 <= 2%% of v2-today" % phase, None, "no v2-today latency"))
        o("One-copy bound of the record: one 64 KiB critical region at the copy bandwidth "
          "(%.3f ms)." % (crit_lb or 0))
        o()

    # ---------------- S4
    s4recs = load(os.path.join(raw, "s4.jsonl"))
    if s4recs:
        rows = [mig_row(r) for r in s4recs]
        cal4 = [mig_row(r) for r in load(os.path.join(raw, "s4cal.jsonl"))]
        write_csv(os.path.join(outdir, "s4_devices.csv"), MIG_COLS, cal4 + rows)
        state = rows[0]["state_bytes"]
        ebw = rows[0]["engine_bw_mib_s"]
        var = rows[0]["variant"]
        o("## Scenario 4: 1, 2 and 4 devices, device after device vs together")
        o()
        o("`%s`, %s pattern-backed state per device. **engine_bw = %s MiB/s per engine**, "
          "picked as floor(pipeline bandwidth / 2 / (4 devices x %s engines)) from a pipeline "
          "bandwidth of %s MiB/s measured in the same run (4 devices together, no limit), so "
          "that even 4 devices together are device-bound. *serial* = `--order serial`: STOP_COPY "
          "and drain device after device, as VMMs do today; *together* = every device stopped "
          "at once, all streams in one reader pool. Downtime = first source stopped -> last "
          "destination RUNNING." % (var, human_bytes(state), ebw, rows[0]["engines"],
                                    params.get("s4_pipeline_mib_s", "?")))
        o()
        g = group(rows, lambda r: (r["devices"], r["order"]))
        st = {k: stats_of(v) for k, v in g.items()}
        o("| devices | serial s, median (min-max) | together s, median (min-max) | together / serial | x one-copy bound (together) | x device bound (together) |")
        o("| ---: | ---: | ---: | ---: | ---: | ---: |")
        pts = []
        for nd in sorted({k[0] for k in st}):
            se = st.get((nd, "serial"))
            to = st.get((nd, "together")) or (se if nd == 1 else None)
            lb = lb_ms(state * nd)
            dev = state / MIB / ((rows[0]["engines"] or 1) * ebw) * 1000 if ebw else None
            o("| %d | %s | %s | %s | %s | %s |" % (
                nd, cell(se) if se else "-", cell(to) if to else "-",
                fmt_r(ratio(to["median"] if to else None, se["median"] if se else None)),
                fmt_r(ratio(to["median"] if to else None, lb)),
                fmt_r(ratio(to["median"] if to else None, dev))))
            pts.append((nd, se, to))
        o()
        o("*device bound* = one device's state / (engines x engine_bw): what all devices "
          "together would take if nothing but the devices limited them.")
        for k in sorted(st):
            n = fails_note(st[k])
            if n:
                o()
                o("%d devices %s: %s" % (k[0], k[1], n))
        o()
        data = "# devices serial_med serial_min serial_max together_med together_min together_max\n"
        for nd, se, to in pts:
            def tri(s):
                if not s or s["median"] is None:
                    return "NaN NaN NaN"
                return "%.4f %.4f %.4f" % (s["median"] / 1000, s["min"] / 1000, s["max"] / 1000)
            data += "%d %s %s\n" % (nd, tri(se), tri(to))
        gnuplot(outdir, "s4_devices", """
set title "Scenario 4: downtime vs devices (%s, %s per device, engine_bw %s MiB/s)"
set xlabel "devices"
set ylabel "downtime (s)"
set grid
set xtics (1, 2, 4)
set yrange [0:*]
set key top left
plot DATA using 1:2:3:4 with yerrorlines lw 2 title 'device after device (serial)', \\
     DATA using 1:5:6:7 with yerrorlines lw 2 title 'together, one pool'
""" % (var, human_bytes(state), ebw), data)
        img(o, outdir, "s4_devices", "scenario 4")
        o()
        se4, to4 = st.get((4, "serial")), st.get((4, "together"))
        if se4 and to4 and se4["median"] and to4["median"]:
            r = to4["median"] / se4["median"]
            verdicts.append(("S4: 4 devices together <= %.2f x device after device" % T_S4, r <= T_S4,
                             "%s s / %s s = **%.2f**" % (fmt_s(to4["median"]), fmt_s(se4["median"]), r)))
        else:
            verdicts.append(("S4: 4 devices together <= %.2f x device after device" % T_S4, None, "not measured"))

    # ---------------- S5
    s5recs = load(os.path.join(raw, "s5.jsonl"))
    if s5recs:
        rows = [mig_row(r) for r in s5recs]
        write_csv(os.path.join(outdir, "s5_8g_pattern.csv"), MIG_COLS, rows)
        state = rows[0]["state_bytes"]
        g = group(rows, lambda r: r["variant"])
        st = {v: stats_of(rs) for v, rs in g.items()}
        base = st.get(V2, {}).get("median")
        lb = lb_ms(state)
        o("## Scenario 5: %s pattern-backed state (above 4 GiB)" % human_bytes(state))
        o()
        o("No engine limit. *pool alloc* is the reader pool's buffer memory (its bound), *pool "
          "peak* the most of it holding data at once (libmstream's `peak_bytes`); *max RSS* is "
          "the CLI process's peak resident memory; *guest memory* the largest drop of the "
          "guest's MemAvailable during the run (kernel chunk queues included: their bound is "
          "N x read_ahead x chunk_size, plus read_ahead chunks of one critical record, per device; "
          "v2 mux: engines x read_ahead x chunk_size).")
        o()
        o("| variant | downtime s, median (min-max) | x v2-today | x one-copy bound | MiB/s | pool alloc | pool peak | max RSS | guest memory | runs ok |")
        o("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for v in vsort(st):
            s = st[v]
            rs = [r for r in g[v] if r["status"] == "ok"]
            m = s["median"]
            pk = max([r["pool_peak_bytes"] or 0 for r in rs], default=None)
            al = max([r["pool_alloc_bytes"] or 0 for r in rs], default=None)
            rss = max([r["maxrss_kib"] or 0 for r in rs], default=None)
            mu = max([r["mem_used_peak_kib"] or 0 for r in rs], default=None)
            mibs = med([r["mib_s"] for r in rs if r["mib_s"]])
            o("| `%s` | %s | %s | %s | %s | %s | %s | %s | %s | %d/%d |" % (
                v, cell(s), fmt_r(ratio(m, base)), fmt_r(ratio(m, lb)),
                "-" if mibs is None else "%.1f" % mibs, human_bytes(al), human_bytes(pk),
                human_bytes(rss * 1024) if rss else "-", human_bytes(mu * 1024) if mu else "-",
                s["n"], s["runs"]))
        o()
        if any(st[v]["runs"] < 5 for v in st):
            o("Fewer than 5 runs where the table says so: one run of %s takes minutes under TCG "
              "(see params.txt for the time of each scenario)." % human_bytes(state))
            o()
        for v in vsort(st):
            n = fails_note(st[v])
            if n:
                o("`%s`: %s" % (v, n))
                o()
        bar_plot(outdir, "s5_8g_pattern", "Scenario 5: downtime, %s pattern-backed" % human_bytes(state),
                 "downtime (s)", [(v, *(x / 1000 if x is not None else None for x in
                                       (st[v]["median"], st[v]["min"], st[v]["max"])))
                                  for v in vsort(st)])
        img(o, outdir, "s5_8g_pattern", "scenario 5")
        o()
        not_beat("S5", st)

    # ---------------- QEMU
    sqrecs = load(os.path.join(raw, "sq.jsonl"))
    if sqrecs:
        report_qemu.section(o, outdir, sqrecs, mig_row, write_csv, human_bytes)

    # ---------------- profiles
    profs = []
    for name in ("s2-v3-4", "s2-v2-mux4", "s2-v2-today", "s1-v3-4"):
        top = perf_top(outdir, name)
        if top:
            profs.append((name, top))
    if profs:
        o("## Profiles (perf in the guest)")
        o()
        o("`perf record -a -e cpu-clock -F 499` over one extra run of the variant (not counted "
          "above), reported on the host with the guest's kallsyms (`perf/*.txt`). Top symbols by "
          "share of all samples of both vCPUs:")
        o()
        for name, top in profs:
            o("**%s**" % name)
            o()
            o("```")
            for l in top:
                o(l)
            o("```")
            o()

    # ---------------- targets
    o("## Targets")
    o()
    o("| target | result | |")
    o("| --- | --- | --- |")
    for t, met, txt in verdicts:
        o("| %s | %s | %s |" % (t, "**met**" if met else ("not measured" if met is None else "**missed**"), txt))
    o()
    if notbeat:
        o("Where v3 does not beat the multiplexed v2:")
        o()
        for n in notbeat:
            o("- " + n)
        o()
    elif any(v for v in verdicts):
        o("v3 beats the multiplexed v2 at every point measured with both.")
        o()
    notes = read_text(os.path.join(os.path.dirname(os.path.abspath(__file__)), "NOTES.md"))
    if notes.strip():
        o(notes.rstrip())
        o()
    if times.strip():
        o("Guest time per scenario (s): " + ", ".join(
            " ".join(l.split()) for l in times.splitlines() if l.strip()) + ".")
        o()
    with open(os.path.join(outdir, "summary.md"), "w", encoding="utf-8") as f:
        f.write(o.text())


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "--pipeline-bw":
        print("%.0f" % pipeline_bw(sys.argv[2]))
        return
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results")
    report(outdir)
    print("report: %s" % os.path.join(outdir, "summary.md"))


if __name__ == "__main__":
    main()
