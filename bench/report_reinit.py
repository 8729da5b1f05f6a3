# SPDX-License-Identifier: GPL-2.0-only
"""bench/report.py's sections for the REINIT scenarios: rb (a REINIT in PRE_COPY with
a dirty backlog B, the case that decides switchover) and s3 (a REINIT during the save,
critical-data latency; secondary)."""

import os

import plots
import records as R
from stats import Comparison, median

T_RB_V2 = 0.02
T_RB_MUXHEAD = 0.5
T_S3 = 0.02
S3_TITLES = {"stopcopy": "REINIT in STOP_COPY",
             "stopcopy_bound": "REINIT in STOP_COPY, engines limited",
             "precopy": "REINIT in PRE_COPY"}


def rb(ctx):
    _, rows = R.scenario_rows(ctx, "rb", "rb_reinit_backlog.csv", R.REINIT_COLS, R.reinit_row)
    if not rows:
        return
    o = ctx.o
    state = rows[0]["state_bytes"]
    o("## Scenario RB: a REINIT in PRE_COPY with a dirty backlog B (the case that decides switchover)")
    o()
    dirty = int(ctx.params.get("rb_dirty_rate", 0))
    o("%s pattern-backed state, every engine limited to %s MiB/s, precopy on, %s. "
      "`mstbench reinit --precopy` writes the source's `reinit` knob once the "
      "source has delivered state - B bytes of its first pass, so that B bytes of dirty "
      "data are still queued, and runs the session with a dirty threshold of B less %s "
      "(at least half of that): "
      "the session would switch over with that backlog pending (a VMM whose downtime limit "
      "allows it) and waits only for what its protocol makes it wait for. v2 `single` "
      "(mlx5's semantics with the PRECOPY_INFOv2 opt-in) re-arms `initial_bytes` to "
      "cover everything queued, so switchover waits for all of B; v3 waits for its "
      "critical stream only, and the backlog moves after switchover, in the downtime. "
      "**Time to switchover** = from the REINIT until the session switched over and the "
      "destination held the new critical data (the later of the two); **downtime** = "
      "the migration's downtime after it. B = 0 leaves only that margin; B = the state "
      "writes the REINIT right after precopy started.%s" % (
          R.human_bytes(state), rows[0]["engine_bw_mib_s"],
          "the workload dirtying %d pages/s (%s/s) all through precopy" % (
              dirty, R.human_bytes(dirty * 4096)) if dirty else "no workload dirtying",
          R.human_bytes(int(ctx.params.get("rb_margin", 2 << 20))),
          " With the workload dirtying, every variant also waits until precopy has brought "
          "the dirty bytes pending under the threshold: where that takes longer than what "
          "the REINIT makes it wait for (small B, one engine), the time to switchover is "
          "precopy's convergence, the same for v2 and v3." if dirty else ""))
    o()
    g = R.group(rows, lambda r: (r["variant"], r["backlog_frac"]))
    fracs = sorted({r["backlog_frac"] for r in rows})
    vars_ = R.vsort({r["variant"] for r in rows})
    o("| B | variant | time to switchover ms, median (min-max) | x v2-today [95%], p | "
      "downtime ms, median (min-max) | time to switchover + downtime, x v2-today [95%], p "
      "| REINIT in PRE_COPY / runs |")
    o("| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    sw, dt, tots = {}, {}, {}
    for f in fracs:
        base = g.get((R.V2, f), [])
        base_sw = R.values([r for r in base if r["reinit_in_precopy"]], "switchover_ready_ms")
        base_tot = [r["switchover_ready_ms"] + r["downtime_ms"] for r in base
                    if r["switchover_ready_ms"] is not None and r["downtime_ms"] is not None]
        for v in vars_:
            rs = g.get((v, f), [])
            if not rs:
                continue
            pre = [r for r in rs if r["reinit_in_precopy"]]
            sw[v, f] = R.stats_of(pre, "switchover_ready_ms")
            dt[v, f] = R.stats_of(pre, "downtime_ms")
            tot = [r["switchover_ready_ms"] + r["downtime_ms"] for r in pre
                   if r["switchover_ready_ms"] is not None and r["downtime_ms"] is not None]
            tots[v, f] = tot
            o("| %s (%.0f%%) | `%s` | %s | %s | %s | %s | %d/%d |" % (
                R.human_bytes(int(state * f)) if f else "0", f * 100, v,
                R.cell(sw[v, f], "ms"),
                "1" if v == R.V2 else str(Comparison(sw[v, f]["values"], base_sw)),
                R.cell(dt[v, f], "ms"),
                "1" if v == R.V2 else str(Comparison(tot, base_tot)),
                len(pre), len(rs)))
    o()
    # The same engines on one FD and on N + 1: what the protocol alone changes.
    pairs = []
    for f in fracs:
        for a, b in (("v3-4", "v2-muxhead4"), ("v3-4", "v2-mux4")):
            if (a, f) in sw and (b, f) in sw:
                pairs.append("- B = %s: `%s` / `%s`: time to switchover %s; time to switchover "
                             "+ downtime %s" % (
                                 R.human_bytes(int(state * f)) if f else "0", a, b,
                                 Comparison(sw[a, f]["values"], sw[b, f]["values"]),
                                 Comparison(tots[a, f], tots[b, f])))
    if pairs:
        o("Same engines (4), one FD against 1 + 4:")
        o()
        for line in pairs:
            o(line)
        o()
    late = [r for r in rows if r["status"] == "ok" and not r["reinit_in_precopy"]]
    if late:
        o("%d runs are left out above: their REINIT fell after the switchover (the session "
          "reached its threshold before the knob was written), which scenario 3 measures." %
          len(late))
        o()
    for (v, f), s in sorted(sw.items()):
        R.point_notes(o, "`%s` B=%.0f%%" % (v, f * 100), s, "switchover_ready_ms", "ms")
    n_runs = max((len(rs) for rs in g.values()), default=0)
    for name, what, d, unit in (("rb_switchover", "time from the REINIT to switchover", sw, "ms"),
                                ("rb_downtime", "downtime of the migration that follows", dt, "ms")):
        ser = [{"label": v, "points": [(state * f / R.MIB, d[v, f]["median"], d[v, f]["min"],
                                        d[v, f]["max"]) for f in fracs if (v, f) in d]}
               for v in vars_]
        plots.line_plot(ctx.outdir, name, "Scenario RB: %s vs the dirty backlog B" % what,
                        ctx.caption(n_runs), "dirty backlog B queued at the REINIT (MiB)",
                        "%s (%s, log)" % (what, unit), ser, logy=True, key="top left")
        ctx.img(name, "scenario rb " + what)
    half = min(fracs, key=lambda f: abs(f - 0.5))
    v34 = sw.get(("v3-4", half), {}).get("values", [])
    ctx.verdict("REINIT in PRE_COPY, B = %s: v3-4 <= %.0f%% of v2 (mlx5 semantics), time to "
                "switchover" % (R.human_bytes(int(state * half)), T_RB_V2 * 100),
                Comparison(v34, sw.get((R.V2, half), {}).get("values", [])) if v34 else None,
                T_RB_V2, "`v3-4` / `v2-today`")
    head = sw.get(("v2-muxhead4", half), {}).get("values", [])
    if head:
        ctx.verdict("REINIT in PRE_COPY, B = half: v3-4 <= %.1f x mux-head" % T_RB_MUXHEAD,
                    Comparison(v34, head), T_RB_MUXHEAD, "`v3-4` / `v2-muxhead4`")
    else:
        ctx.verdicts.append(("REINIT in PRE_COPY, B = half: v3-4 <= %.1f x mux-head" % T_RB_MUXHEAD,
                             None, "not measured: the module has no mux-head mode"))
    for v in vars_:
        if v.startswith("v3-"):
            for mux in ("v2-mux4", "v2-muxhead4"):
                a, b = sw.get((v, half), {}).get("values"), sw.get((mux, half), {}).get("values")
                if a and b:
                    c = Comparison(a, b)
                    if c.ratio >= 1 or not c.significant:
                        ctx.notbeat.append("RB (B = half): `%s` does not beat `%s` in time to "
                                           "switchover: %s" % (v, mux, c))


def s3(ctx):
    recs, rows = R.scenario_rows(ctx, "s3", "s3_reinit_latency.csv", R.REINIT_COLS, R.reinit_row)
    if not rows:
        return
    o = ctx.o
    state = rows[0]["state_bytes"]
    o("## Scenario 3: critical-data latency during the save (secondary)")
    o()
    o("%s pattern-backed state, no engine limit (except where said). `mstbench reinit` "
      "migrates with libmstream and, once the source's `bytes_saved` reaches %s (a quarter "
      "of the save), writes 1 to the source's `reinit` knob; the latency is the time from "
      "that write until the destination's `crit_gen` shows the new generation (polled every "
      "%s us). In STOP_COPY the REINIT does not change what switchover waits for: scenario "
      "RB is the case that decides switchover; this one shows how far behind the backlog "
      "new critical data travels." % (
          R.human_bytes(state), R.human_bytes(rows[0]["at_bytes"] or 0),
          (recs[0].get("result") or {}).get("poll_us", "?")))
    o()
    for phase in ("stopcopy", "stopcopy_bound", "precopy"):
        pr = [r for r in rows if r["phase"] == phase]
        if not pr:
            continue
        g = R.group(pr, lambda r: r["variant"])
        st = {v: R.stats_of(rs, "latency_ms") for v, rs in g.items()}
        base = st.get(R.V2, {}).get("values", [])
        o("### %s" % S3_TITLES[phase])
        o()
        if phase == "stopcopy_bound":
            o("Every engine limited to %s MiB/s (scenario 1's rate): unlimited, the sample's "
              "engines (its firmware model, on the guest's two vCPUs) keep both vCPUs busy, "
              "so that each step of the critical path waits for a CPU; a real device's "
              "firmware takes no host CPU." % pr[0]["engine_bw_mib_s"])
            o()
        o("| variant | latency ms, median (min-max) | x v2-today [95%], p | delivered | downtime s (median) |")
        o("| --- | ---: | ---: | ---: | ---: |")
        for v in R.vsort(st):
            s = st[v]
            und = [r for r in g[v] if r["status"] == "ok" and not r["delivered"]]
            o("| `%s` | %s | %s | %d/%d | %s |" % (
                v, R.cell(s, "ms") if s["median"] is not None else
                ("never delivered" if und else "failed"),
                "1" if v == R.V2 else str(Comparison(s["values"], base)), s["n"], s["runs"],
                R.fmt_s(median(R.values(g[v], "downtime_ms")))))
        o()
        for v in R.vsort(st):
            R.point_notes(o, "`%s`" % v, st[v], "latency_ms", "ms")
        name = "s3_%s" % phase
        plots.bar_plot(ctx.outdir, name, "Scenario 3: critical-data latency, %s" % S3_TITLES[phase],
                       ctx.caption(max(s["runs"] for s in st.values()), "median of %s runs per bar"),
                       "latency (ms, log)",
                       R.vsort(st), [{"label": "median latency",
                                      "values": [st[v]["median"] for v in R.vsort(st)]}], logy=True)
        ctx.img(name, "scenario 3 " + phase)
        v3s = [v for v in R.vsort(st) if v.startswith("v3-")]
        if v3s and base:
            cs = [(v, Comparison(st[v]["values"], base)) for v in v3s]
            mets = [c.below(T_S3) for _, c in cs]
            ctx.verdicts.append(("S3 (%s): v3 <= 2%% of v2-today (issue 7)" % S3_TITLES[phase][len("REINIT in "):],
                                 False if False in mets else (None if None in mets else True),
                                 "; ".join("`%s` %s" % (v, c) for v, c in cs)))
