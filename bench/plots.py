# SPDX-License-Identifier: GPL-2.0-only
"""bench/plots.py - the report's gnuplot figures. Each writes its data and script to
RESULTS/plot/NAME.{dat,gp} (so that a figure can be redrawn from what is committed)
and RESULTS/NAME.png. Every figure has axis labels with units, a legend, and a caption
line under its title saying how many runs each point is and on what machine."""

import os
import shutil
import subprocess
import sys


def _q(s):
    return str(s).replace("\\", "\\\\").replace('"', '\\"')


def _terminal(gp):
    try:
        return subprocess.run([gp, "-e", "set terminal pngcairo"], capture_output=True,
                              timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def gnuplot(outdir, name, script, data):
    gp = shutil.which("gnuplot")
    pdir = os.path.join(outdir, "plot")
    os.makedirs(pdir, exist_ok=True)
    dat = os.path.join(pdir, name + ".dat")
    with open(dat, "w", encoding="utf-8") as f:
        f.write(data)
    head = ("set terminal pngcairo noenhanced size 1000,600 font 'sans,10'\n"
            if gp and _terminal(gp) else "set terminal png noenhanced size 1000,600\n")
    # the script names its files relative to the results directory, so that it
    # redraws the figure from a fresh clone: cd RESULTS; gnuplot plot/NAME.gp
    full = head + "set output '%s.png'\n" % name + script.replace("DATA", "'plot/%s.dat'" % name)
    with open(os.path.join(pdir, name + ".gp"), "w", encoding="utf-8") as f:
        f.write(full)
    if not gp:
        return False
    r = subprocess.run([gp], input=full.encode(), capture_output=True, timeout=120, cwd=outdir)
    if r.returncode:
        sys.stderr.write("report: gnuplot %s: %s\n" % (name, r.stderr.decode(errors="replace")))
    return r.returncode == 0


def line_plot(outdir, name, title, caption, xlabel, ylabel, series, logx=False, logy=False,
              xtics=None, ymin0=True, key="top right"):
    """series: [{"label", "points": [(x, median, min, max)], "bound": bool}]. A measured
    series is drawn as a line through its medians with min-max bars; a bound (computed
    or measured once per x) as a dashed line without bars."""
    series = [s for s in series if any(p[1] is not None for p in s["points"])]
    if not series:
        return False
    data, plots = "", []
    for i, s in enumerate(series):
        data += "# %s\n" % s["label"]
        for x, m, lo, hi in sorted(s["points"], key=lambda p: p[0]):
            if m is not None:
                data += "%.6g %.6g %.6g %.6g\n" % (x, m, m if lo is None else lo,
                                                   m if hi is None else hi)
        data += "\n\n"
        if s.get("bound"):
            plots.append('DATA index %d using 1:2 with linespoints dt 2 lw 2 pt 0 title "%s"'
                         % (i, _q(s["label"])))
        else:
            plots.append('DATA index %d using 1:2:3:4 with yerrorlines lw 2 title "%s"'
                         % (i, _q(s["label"])))
    script = 'set title "%s\\n%s"\n' % (_q(title), _q(caption))
    script += 'set xlabel "%s"\nset ylabel "%s"\nset grid\nset key %s opaque box\n' % (
        _q(xlabel), _q(ylabel), key)
    if logx:
        script += "set logscale x 2\n"
    if logy:
        script += "set logscale y\n"
    elif ymin0:
        script += "set yrange [0:*]\n"
    if xtics:
        script += "set xtics (%s)\n" % ", ".join("%s" % x for x in xtics)
    script += "set offsets graph 0.05, graph 0.05, 0, 0\n"
    script += "plot " + ", \\\n     ".join(plots) + "\n"
    return gnuplot(outdir, name, script, data)


def bar_plot(outdir, name, title, caption, ylabel, labels, series, logy=False, key="top left"):
    """Grouped bars for categories that do not scale: labels on x, one bar per series
    ({"label", "values": [median or None per label]})."""
    if not any(v is not None for s in series for v in s["values"]):
        return False
    data = "# label " + " ".join('"%s"' % s["label"] for s in series) + "\n"
    for i, lab in enumerate(labels):
        data += '"%s" %s\n' % (lab, " ".join("NaN" if s["values"][i] is None else
                                             "%.6g" % s["values"][i] for s in series))
    plots = ['DATA using %d:xtic(1) title "%s"' % (j + 2, _q(s["label"]))
             for j, s in enumerate(series)]
    script = 'set title "%s\\n%s"\n' % (_q(title), _q(caption))
    script += ('set ylabel "%s"\nset style data histograms\nset style histogram clustered\n'
               'set style fill solid 0.7 border -1\nset grid ytics\nset xtics rotate by -30\n'
               'set key %s opaque box\n' % (_q(ylabel), key))
    script += "set logscale y\n" if logy else "set yrange [0:*]\n"
    script += "plot " + ", \\\n     ".join(plots) + "\n"
    return gnuplot(outdir, name, script, data)
