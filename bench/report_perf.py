# SPDX-License-Identifier: GPL-2.0-only
"""bench/report.py's profile section: the top symbols and commands of each profiled run,
computed from perf/samples.txt.xz (`perf script` of the whole profile, which
`make -C bench perf-report` writes and which is committed with the results, so that
these tables can be regenerated from what is committed)."""

import lzma
import os
import re

SAMPLE = re.compile(r"^\s*(.+?)\s+(\d+\.\d+):\s*(.*)$")
PROFILES = ("s2-v3-4", "s2-v2-mux4", "s2-v2-today")


def windows(perfdir):
    out = {}
    path = os.path.join(perfdir, "windows.txt")
    if os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            p = line.split()
            if len(p) == 3:
                out[p[0]] = (float(p[1]), float(p[2]))
    return out


def counts(perfdir, wins):
    """{window: ({symbol: samples}, {command: samples})} from perf script's lines
    "COMM TIME: SYMBOL"."""
    res = {w: ({}, {}) for w in wins}
    path = os.path.join(perfdir, "samples.txt.xz")
    with lzma.open(path, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            m = SAMPLE.match(line)
            if not m:
                continue
            t = float(m.group(2))
            sym = m.group(3).split()[-1] if m.group(3).split() else "[unknown]"
            for w, (t0, t1) in wins.items():
                if t0 <= t <= t1:
                    syms, comms = res[w]
                    syms[sym] = syms.get(sym, 0) + 1
                    comms[m.group(1)] = comms.get(m.group(1), 0) + 1
    return res


def top(d, n):
    total = sum(d.values()) or 1
    return ["%6.2f%%  %s" % (100.0 * c / total, k)
            for k, c in sorted(d.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]


def section(o, outdir, n=12):
    perfdir = os.path.join(outdir, "perf")
    wins = {w: t for w, t in windows(perfdir).items() if w in PROFILES}
    if not wins or not os.path.exists(os.path.join(perfdir, "samples.txt.xz")):
        return
    res = counts(perfdir, wins)
    o("## Profiles (perf in the guest)")
    o()
    o("`perf record -a -e cpu-clock -F 499` over one extra run of the variant (not counted "
      "above); the tables are computed by `bench/report_perf.py` from `perf/samples.txt.xz` "
      "(`perf script` of the profile with the guest's kallsyms) and `perf/windows.txt` (each "
      "run's CLOCK_MONOTONIC window), both committed. Share of all samples of both vCPUs in "
      "the run's window. The per-record CRC (`crc32_body`) is the sample device's, computed "
      "in the kernel on the guest's vCPUs, where a real device's firmware computes it on "
      "the device: these profiles show integrity checking as the sample does it, not as real "
      "devices do.")
    o()
    for w in PROFILES:
        if w not in res or not res[w][0]:
            continue
        syms, comms = res[w]
        o("**%s** (%d samples)" % (w, sum(syms.values())))
        o()
        o("```")
        for line in top(syms, n):
            o(line)
        o("-- by command")
        for line in top(comms, 5):
            o(line)
        o("```")
        o()
