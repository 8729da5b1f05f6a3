#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""bench/report_boot.py CSV - the comparison of bench/boot-time.sh's boot times:
the medians of QEMU 10 and 7.2 and the ratio qemu10 / qemu72 with its interval."""

import csv
import sys

import stats


def main(path):
    boots = {}
    with open(path) as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        for row in rows:
            boots.setdefault(row["qemu"], []).append(float(row["boot_s"]))
    new, old = boots.get("qemu10", []), boots.get("qemu72", [])
    if not new or not old:
        sys.exit("report_boot: %s holds no boot of one of the two QEMUs" % path)
    for name, xs in (("qemu10", new), ("qemu72", old)):
        print("%s: median %.2f s (min %.2f, max %.2f) over %d boots"
              % (name, stats.median(xs), min(xs), max(xs), len(xs)))
    print("qemu10 / qemu72: %s" % stats.Comparison(new, old))


if __name__ == "__main__":
    main(sys.argv[1])
