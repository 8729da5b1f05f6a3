# SPDX-License-Identifier: GPL-2.0-only
"""bench/report.py's sections for scale: s4 (1, 2 and 4 devices) and s5 (a state above
4 GiB: downtime and memory)."""

import os

import plots
import records as R
from stats import Comparison

T_S4 = 0.30

# s4's series: (variant prefix, order) -> legend
S4_SERIES = [
    (("v3-", "together"), "v3, every device at once, one reader pool"),
    (("v3-", "serial"), "v3, device after device"),
    (("v2-thread", "together"), "v2, devices read in parallel, a thread per device (QEMU 10)"),
    (("v2-today", "serial"), "v2, device after device, serial loop (VMMs before QEMU 10)"),
]


def s4(ctx):
    recs = R.load(os.path.join(ctx.raw, "s4.jsonl"))
    if not recs:
        return
    o = ctx.o
    rows = [R.mig_row(r) for r in recs]
    cal4 = [R.mig_row(r) for r in R.load(os.path.join(ctx.raw, "s4cal.jsonl"))]
    R.write_csv(os.path.join(ctx.outdir, "s4_devices.csv"), R.MIG_COLS, cal4 + rows)
    state = rows[0]["state_bytes"]
    ebw = rows[0]["engine_bw_mib_s"]
    o("## Scenario 4: 1, 2 and 4 devices")
    o()
    o("%s pattern-backed state per device. **engine_bw = %s MiB/s per engine**, picked as "
      "floor(pipeline bandwidth / 2 / (4 devices x 4 engines)) from a pipeline bandwidth "
      "of %s MiB/s measured in the same run (4 devices together, v3-4, no limit), so that "
      "even 4 devices together are device-bound. *serial* = `--order serial`: STOP_COPY and "
      "drain device after device; *together* = every device stopped at once. Downtime = "
      "first source stopped -> last destination RUNNING." % (
          R.human_bytes(state), ebw, ctx.params.get("s4_pipeline_mib_s", "?")))
    o()

    def key(r):
        v = r["variant"]
        return ("v3-" if v.startswith("v3-") else v, r["order"], r["devices"])
    # one device: serial and together are the same migration
    g = R.group(rows, key)
    for (pre, order, nd), rs in list(g.items()):
        if nd == 1 and order == "serial" and (pre, "together", 1) not in g:
            g[pre, "together", 1] = rs
    st = {k: R.stats_of(v) for k, v in g.items()}
    eng = {pre: R.engines_of(next(r["variant"] for r in rows if key(r)[0] == pre))
           for pre, _, _ in st}
    o("| devices | series | downtime s, median (min-max) | x device bound [95%] | runs ok |")
    o("| ---: | --- | ---: | ---: | ---: |")
    ser = []
    for (pre, order), label in S4_SERIES:
        pts = []
        for nd in (1, 2, 4):
            s = st.get((pre, order, nd))
            if not s:
                continue
            # together: the devices' engines run at once; serial: one after another
            dev = state / R.MIB / (eng[pre] * ebw) * 1000 * (1 if order == "together" else nd)
            o("| %d | %s | %s | %s | %d/%d |" % (nd, label, R.cell(s),
                                                Comparison.to_bound(s["values"], dev), s["n"], s["runs"]))
            if s["median"] is not None:
                pts.append((nd, s["median"] / 1000, s["min"] / 1000, s["max"] / 1000))
        ser.append({"label": label, "points": pts})
    o()
    for pre in sorted({k[0] for k in st}):
        ser.append({"label": "device bound, %s together" % ("v3" if pre == "v3-" else pre),
                    "bound": True, "points": [(nd, state / R.MIB / (eng[pre] * ebw), None, None)
                                              for nd in (1, 2, 4)]})
    o("*device bound* = one device's state / (engines x engine_bw) for devices together, "
      "times the number of devices for device after device.")
    o()
    for k in sorted(st):
        R.point_notes(o, "%s %s %d devices" % k, st[k])
    lines = []
    for nd in (2, 4):
        for a, b in ((("v3-", "together", nd), ("v3-", "serial", nd)),
                     (("v3-", "together", nd), ("v2-thread", "together", nd))):
            if a in st and b in st:
                c = Comparison(st[a]["values"], st[b]["values"])
                lines.append("- %d devices, v3 together / %s %s: %s" % (nd, b[0].rstrip("-"), b[1], c))
                if nd == 4 and a[1] == "together" and b[1] == "serial" and b[0] == "v3-":
                    ctx.verdict("S4: 4 devices together <= %.2f x device after device (issue 7)" % T_S4,
                                c, T_S4, "v3 together / serial")
    if lines:
        o("Comparisons of downtime:")
        o()
        for l in lines:
            o(l)
        o()
    n_runs = max((s["runs"] for s in st.values()), default=0)
    plots.line_plot(ctx.outdir, "s4_devices", "Scenario 4: downtime vs devices (%s per device, "
                    "engine_bw %s MiB/s)" % (R.human_bytes(state), ebw), ctx.caption(n_runs),
                    "devices migrated", "downtime (s)", ser, xtics=[1, 2, 4], key="top left")
    ctx.img("s4_devices", "scenario 4")


def s5(ctx):
    _, rows = R.scenario_rows(ctx, "s5", "s5_8g_pattern.csv", R.MIG_COLS, R.mig_row)
    if not rows:
        return
    o = ctx.o
    state = rows[0]["state_bytes"]
    g = R.group(rows, lambda r: r["variant"])
    st = {v: R.stats_of(rs) for v, rs in g.items()}
    base = st.get(R.V2, {}).get("values", [])
    o("## Scenario 5: %s pattern-backed state (above 4 GiB)" % R.human_bytes(state))
    o()
    o("No engine limit, `--no-precopy`. *pool alloc* is the reader pool's buffer memory (its "
      "bound), *pool peak* the most of it holding data at once (libmstream's `peak_bytes`); "
      "*max RSS* is the CLI process's peak resident memory; *guest memory* the largest drop "
      "of the guest's MemAvailable during the run (kernel chunk queues included: their bound "
      "is N x read_ahead x chunk_size, plus read_ahead chunks of one critical record, per "
      "device; v2 mux: engines x read_ahead x chunk_size).")
    o()
    o("| variant | downtime s, median (min-max) | x v2-today [95%], p | MiB/s | pool alloc | pool peak | max RSS | guest memory | runs ok |")
    o("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    mem = {}
    for v in R.vsort(st):
        s = st[v]
        rs = [r for r in g[v] if r["status"] == "ok"]

        def top(field):
            return max([r[field] or 0 for r in rs], default=None)
        mem[v] = (top("pool_alloc_bytes"), top("pool_peak_bytes"),
                  (top("maxrss_kib") or 0) * 1024, (top("mem_used_peak_kib") or 0) * 1024)
        mibs = R.values(rs, "mib_s")
        o("| `%s` | %s | %s | %s | %s | %s | %s | %s | %d/%d |" % (
            v, R.cell(s), "1" if v == R.V2 else str(Comparison(s["values"], base)),
            "-" if not mibs else "%.1f" % (sorted(mibs)[len(mibs) // 2]),
            *(R.human_bytes(x) if x else "-" for x in mem[v]), s["n"], s["runs"]))
    o()
    if any(st[v]["runs"] < 5 for v in st):
        o("Fewer than 5 runs where the table says so: one run of %s takes minutes under TCG "
          "(see params.txt for the time of each scenario)." % R.human_bytes(state))
        o()
    for v in R.vsort(st):
        R.point_notes(o, "`%s`" % v, st[v])
    vs = R.vsort(st)
    plots.bar_plot(ctx.outdir, "s5_memory", "Scenario 5: memory while migrating %s" % R.human_bytes(state),
                   ctx.caption(max(s["runs"] for s in st.values()), "largest of %s runs per bar"),
                   "largest value over the runs (MiB)",
                   vs, [{"label": lab, "values": [mem[v][i] / R.MIB if mem[v][i] else None for v in vs]}
                        for i, lab in enumerate(("reader pool buffers (alloc)", "reader pool in use (peak)",
                                                 "CLI max RSS", "guest memory used (kernel queues included)"))])
    ctx.img("s5_memory", "scenario 5 memory")
    for v in vs:
        for mux in ("v2-mux8", "v2-muxhead8"):
            if v.startswith("v3-") and mux in st:
                c = Comparison(st[v]["values"], st[mux]["values"])
                if c.ratio >= 1 or not c.significant:
                    ctx.notbeat.append("S5: `%s` does not beat `%s`: %s" % (v, mux, c))
