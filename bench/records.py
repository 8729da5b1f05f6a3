# SPDX-License-Identifier: GPL-2.0-only
"""bench/records.py - the raw records of bench/run.sh as rows: reading the JSON lines,
one CSV row per run, grouping, per-point statistics and the number formats of the
report."""

import csv
import json
import os

import stats

MIB = 1 << 20
GIB = 1 << 30
V2 = "v2-today"
PIPE = "pipe"   # mstbench pipe: the pipeline bound, recorded next to the variants
ORDER = ["v2-today", "v2-thread", "v2-pool", "v2-mux4", "v2-mux8", "v2-muxhead4",
         "v2-muxhead8", "v3-1", "v3-2", "v3-4", "v3-8"]
DESC = {
    "v2-today": "v2, one engine, one FD, serial read loop (drivers and VMMs today)",
    "v2-thread": "v2, one engine, one FD, read by a dedicated thread 1 MiB at a time "
                 "(one reader thread; QEMU 10 itself is scenario Q)",
    "v2-pool": "v2, one engine, one FD, read by the same reader pool as v3 (the control: "
               "the reader's effect without the protocol's)",
    "v2-mux4": "v2 mux: 4 engines multiplexed onto the one FD, reader pool; new critical "
               "data goes behind every chunk already queued on the FD (ahead of what the "
               "engines have not published)",
    "v2-mux8": "v2 mux: 8 engines, as v2-mux4",
    "v2-muxhead4": "v2 mux-head: 4 engines, new critical data inserted at the head of "
                   "the FD, reader pool (the strongest single-FD design)",
    "v2-muxhead8": "v2 mux-head: 8 engines, reader pool",
    "v3-1": "v3, 1 dirty FD + critical FD, reader pool",
    "v3-2": "v3, 2 dirty FDs + critical FD, reader pool",
    "v3-4": "v3, 4 dirty FDs + critical FD, reader pool",
    "v3-8": "v3, 8 dirty FDs + critical FD, reader pool",
}


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


def host_load(rec):
    """The larger of the host's 1-minute load at the run's start and end, or None."""
    hl = [x for x in rec.get("host_load") or [] if isinstance(x, (int, float))]
    return max(hl) if hl else None


def mig_row(rec):
    """A migration (CLI) or a pipeline-bound run (variant "pipe": its seconds stand in
    the downtime column, the time to move the same bytes)."""
    r = rec.get("result") if isinstance(rec.get("result"), dict) else {}
    good = ok(rec)
    ndev = rec.get("devices", 1)
    state = rec.get("state_size", 0)
    if rec.get("variant") == PIPE:
        down = r.get("seconds") * 1e9 if good and r.get("seconds") else None
        stop = None
    else:
        down = r.get("downtime_ns") if good else None
        stop = r.get("stopcopy_ns") if good else None
    fw = rec.get("fw_busy_ns") or []
    fw_ms = sum(x for x in fw if isinstance(x, (int, float))) / 1e6 if fw else None
    eng = rec.get("engines") or 1
    # fw_busy_ns counts from the device's open: precopy's engine time is in it
    busy_ns = (stop or 0) + (r.get("precopy_ns") or 0)
    util = None
    if good and busy_ns and fw_ms is not None:
        util = fw_ms / (eng * ndev * busy_ns / 1e6)
    pool = r.get("pool") or {}
    rss = rec.get("rss") or {}
    ends, sums = [], []
    arcs = [d["stopped_ns"] - d.get("stop_ns", 0) for d in r.get("devices") or []
            if d.get("stopped_ns")]
    for d in r.get("devices") or []:
        ends.append("/".join("%.0f" % (s.get("end_ns", 0) / 1e6) for s in d.get("streams", [])))
        sums.append(d.get("checksum_match"))
    gib = state * ndev / GIB
    cli_cpu = (rss.get("cpu_user_s", 0) + rss.get("cpu_sys_s", 0)) if "cpu_user_s" in rss else None
    busy = rss.get("machine_busy_s")
    return {
        "scenario": rec.get("scenario"),
        "variant": rec.get("variant"),
        "rep": rec.get("rep"),
        "devices": ndev,
        "order": rec.get("order"),
        "precopy": rec.get("precopy"),
        "state_bytes": state,
        "backing": rec.get("backing"),
        "engine_bw_mib_s": rec.get("engine_bw"),
        "engines": eng,
        "status": "ok" if good else "failed",
        "error": "" if good else error_of(rec),
        "downtime_ms": down / 1e6 if down is not None else None,
        "stopcopy_ms": stop / 1e6 if stop is not None else None,
        "precopy_ms": r.get("precopy_ns") / 1e6 if good and r.get("precopy_ns") is not None else None,
        "total_ms": r.get("total_ns") / 1e6 if good and r.get("total_ns") is not None else None,
        "load_ms": r.get("load_ns") / 1e6 if good and r.get("load_ns") is not None else None,
        "setup_ms": r.get("setup_ns") / 1e6 if good and r.get("setup_ns") is not None else None,
        "bytes": r.get("bytes") if good else None,
        "bytes_precopy": r.get("bytes_precopy") if good else None,
        "iterations": r.get("iterations") if good else None,
        "forced_switchover": r.get("forced_switchover") if good else None,
        "mib_s": (state * ndev / MIB) / (down / 1e9) if good and down else None,
        "fw_busy_ms": fw_ms,
        "engine_util": util,
        "cli_cpu_s_per_gib": cli_cpu / gib if good and cli_cpu is not None and gib else None,
        "machine_cpu_s_per_gib": busy / gib if good and busy is not None and gib else None,
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
        "host_load": host_load(rec),
        "outlier": False,
        "knobs_src": (rec.get("knobs") or {}).get("src", ""),
    }


MIG_COLS = ["scenario", "variant", "rep", "devices", "order", "precopy", "state_bytes",
            "backing", "engine_bw_mib_s", "engines", "status", "error", "downtime_ms",
            "stopcopy_ms", "precopy_ms", "total_ms", "load_ms", "setup_ms", "bytes",
            "bytes_precopy", "iterations", "forced_switchover", "mib_s", "fw_busy_ms",
            "engine_util", "cli_cpu_s_per_gib", "machine_cpu_s_per_gib", "pool_kind",
            "pool_threads", "pool_alloc_bytes", "pool_peak_bytes", "maxrss_kib",
            "mem_used_peak_kib", "checksum_match", "stream_end_ms", "stop_arc_ms",
            "pool_reads", "pool_polls", "pool_eagains", "wall_ms", "host_load", "outlier",
            "knobs_src"]


def reinit_row(rec):
    """A run of `mstbench reinit` (scenarios s3 and rb)."""
    r = rec.get("result") if isinstance(rec.get("result"), dict) else {}
    good = rec.get("exit") == 0 and r.get("status") == "ok"
    delivered = bool(r.get("delivered"))
    after_stop = r.get("inject_after_stop_ms")
    lat = r.get("latency_ms") if delivered else None
    # rb: the REINIT fell in PRE_COPY when it came before the switchover; switchover
    # was allowed once the session switched over and the destination held the data
    in_pre = good and r.get("injected") and after_stop is not None and after_stop < 0
    ready = max(-after_stop, lat) if in_pre and lat is not None else None
    return {
        "scenario": rec.get("scenario"),
        "variant": rec.get("variant"),
        "phase": rec.get("phase"),
        "rep": rec.get("rep"),
        "state_bytes": rec.get("state_size"),
        "engine_bw_mib_s": rec.get("engine_bw"),
        "backlog_frac": rec.get("backlog_frac"),
        "backlog_bytes": rec.get("backlog_bytes"),
        "threshold": r.get("threshold"),
        "at_bytes": r.get("at_bytes"),
        "status": "ok" if good else "failed",
        "error": "" if good else error_of(rec),
        "injected": r.get("injected"),
        "delivered": delivered,
        "latency_ms": lat,
        "inject_after_stop_ms": after_stop,
        "reinit_in_precopy": in_pre,
        "switchover_ready_ms": ready,
        "saved_at_inject": r.get("saved_at_inject"),
        "crit_gen_before": r.get("crit_gen_before"),
        "crit_gen_new": r.get("crit_gen_new"),
        "dst_crit_gen_final": r.get("dst_crit_gen_final"),
        "downtime_ms": r.get("downtime_ns", 0) / 1e6 if good else None,
        "precopy_bytes": r.get("precopy_bytes"),
        "bytes": r.get("bytes"),
        "checksum_match": r.get("checksums_match"),
        "host_load": host_load(rec),
        "outlier": False,
    }


REINIT_COLS = ["scenario", "variant", "phase", "rep", "state_bytes", "engine_bw_mib_s",
               "backlog_frac", "backlog_bytes", "threshold", "at_bytes", "status", "error",
               "injected", "delivered", "latency_ms", "inject_after_stop_ms",
               "reinit_in_precopy", "switchover_ready_ms", "saved_at_inject",
               "crit_gen_before", "crit_gen_new", "dst_crit_gen_final", "downtime_ms",
               "precopy_bytes", "bytes", "checksum_match", "host_load", "outlier"]


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


def values(rows, field="downtime_ms"):
    return [r[field] for r in rows if r["status"] == "ok" and r.get(field) is not None]


def stats_of(rows, field="downtime_ms"):
    """Median, spread and failures of one point; far-out runs are marked in their rows
    (row["outlier"]) and kept: the median does not move with them."""
    xs = values(rows, field)
    far = stats.outliers(xs)
    for r in rows:
        if r["status"] == "ok" and r.get(field) in far:
            r["outlier"] = True
    return {"n": len(xs), "runs": len(rows), "median": stats.median(xs),
            "min": min(xs) if xs else None, "max": max(xs) if xs else None,
            "fails": [r for r in rows if r["status"] != "ok"], "values": xs,
            "outliers": [r for r in rows if r["outlier"]]}


def pipe_bound(rows):
    """The pipeline bound's runs: per rotation (rep), the fastest of its pipe runs (one
    thread and the pool's thread count)."""
    best = {}
    for r in rows:
        if r["variant"] == PIPE and r["status"] == "ok" and r["downtime_ms"] is not None:
            if r["rep"] not in best or r["downtime_ms"] < best[r["rep"]]["downtime_ms"]:
                best[r["rep"]] = r
    return [best[k] for k in sorted(best)]


def pipeline_bw(path):
    """Best median throughput (MiB/s) of the migrations in a scenario's file."""
    rows = [mig_row(r) for r in load(path) if r.get("variant") != PIPE]
    best = 0.0
    for _, rs in group(rows, lambda r: (r["variant"], r["devices"], r["order"])).items():
        xs = values(rs, "mib_s")
        if xs:
            best = max(best, stats.median(xs))
    return best


def outlier_variants(path):
    """The migration variants of a scenario's file with a far-out downtime."""
    rows = [mig_row(r) for r in load(path) if r.get("variant") != PIPE]
    return vsort(v for v, rs in group(rows, lambda r: r["variant"]).items()
                 if stats_of(rs)["outliers"])


def vsort(names):
    return sorted(names, key=lambda v: (ORDER.index(v) if v in ORDER else 99, v))


def engines_of(variant):
    """N of v3-N, E of v2-muxE / v2-muxheadE, 1 for the single-engine v2 variants."""
    for pre in ("v3-", "v2-muxhead", "v2-mux"):
        if variant.startswith(pre):
            return int(variant[len(pre):])
    return 1


# ------------------------------------------------------------ formats

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


def human_bytes(b):
    if b is None:
        return "-"
    for unit, div in (("GiB", GIB), ("MiB", MIB), ("KiB", 1024)):
        if b >= div:
            v = b / div
            return ("%.0f %s" % (v, unit)) if v == int(v) else ("%.1f %s" % (v, unit))
    return "%d B" % b


def cell(st, unit="s"):
    """median (min-max) of a point, with a star when a run of it is far out."""
    if st["median"] is None:
        return "failed" if st["runs"] else "-"
    f = fmt_s if unit == "s" else fmt_ms
    return "%s (%s-%s)%s" % (f(st["median"]), f(st["min"]), f(st["max"]),
                             " *" if st["outliers"] else "")


def fails_note(st):
    if not st["fails"]:
        return ""
    errs = sorted({(f.get("error") or "?")[:160] for f in st["fails"]})
    return "%d of %d runs failed: %s" % (len(st["fails"]), st["runs"], "; ".join(errs))


def outlier_notes(label, st, field="downtime_ms", unit="s"):
    """One line per far-out run: its value, the point's median and the host's load
    during it, so that a reader can tell a loaded host from a real effect."""
    f = fmt_s if unit == "s" else fmt_ms
    out = []
    for r in st["outliers"]:
        out.append("%s run %s: %s %s against a median of %s %s, host load %s during it "
                   "(kept in the median)" % (
                       label, r["rep"], f(r[field]), unit, f(st["median"]), unit,
                       "%.2f" % r["host_load"] if r["host_load"] is not None else "not recorded"))
    return out


def point_notes(o, label, st, field="downtime_ms", unit="s"):
    """Writes, as paragraphs under a table, a point's failed runs and its far-out runs."""
    for line in [fails_note(st)] + outlier_notes(label, st, field, unit):
        if line:
            o(line)
            o()


def scenario_rows(ctx, name, csv_name, cols, row_of):
    """Scenario @name's raw runs and their rows (row_of each record), the rows also
    written to @csv_name; ([], []) when the scenario did not run."""
    recs = load(os.path.join(ctx.raw, name + ".jsonl"))
    rows = [row_of(r) for r in recs]
    if rows:
        write_csv(os.path.join(ctx.outdir, csv_name), cols, rows)
    return recs, rows
