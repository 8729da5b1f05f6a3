#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""docs/check-sources.py [FILE...] - every measured number names its results file.

A reviewer re-derives each number of the RFC from the file named next to it. In each
FILE (default: docs/rfc/cover-letter.md), every paragraph or list item of a section that
reports measurements ("Results", "Where v3 does not help") that states one (a time, a
size, a percentage or an interval) must name a results file (`bench/results.../...`)
in the same paragraph or item; the other sections state design constants. Every results
file named anywhere must exist. Prints TAP, one test per file; exit 1 on a failure.
"""

import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEASURE = re.compile(r"\d(?:[\d,.]*\d)?\s*(?:ms|s|MB|MiB|GiB|KiB|%)(?![\w])|\[\d[\d.]*, \d")
SOURCE = re.compile(r"`(bench/results[^`\s]*)`")
ITEM = re.compile(r"^\s*(?:[-*]|\d+\.)\s")
MEASURED_SECTIONS = ("## Results", "## Where v3 does not help")
# The confidence level of every interval, not a measurement.
LEVEL = re.compile(r"95% (?:bootstrap )?interval")


def blocks(text):
    """Paragraphs and list items, each as (first line number, text, section heading)."""
    cur, start, section = [], 0, ""
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or ITEM.match(line) or line.startswith("#"):
            if cur:
                yield start, " ".join(cur), section
            cur, start = ([line], n) if line.strip() else ([], 0)
            if line.startswith("#"):
                section, cur = line.strip(), []
        else:
            if not cur:
                start = n
            cur.append(line)
    if cur:
        yield start, " ".join(cur), section


def problems(path):
    with open(path) as f:
        text = f.read()
    for line, block, section in blocks(text):
        named = SOURCE.findall(block)
        for src in named:
            if not os.path.exists(os.path.join(TOP, src)):
                yield "line %d names %s, which does not exist" % (line, src)
        m = MEASURE.search(LEVEL.sub("", block))
        if m and not named and section.startswith(MEASURED_SECTIONS):
            yield "line %d states %r but names no results file" % (line, m.group(0))


def main(paths):
    paths = paths or [os.path.join(TOP, "docs/rfc/cover-letter.md")]
    print("TAP version 13")
    print("1..%d" % len(paths))
    failed = 0
    for i, path in enumerate(paths, 1):
        found = list(problems(path))
        for p in found:
            print("# %s: %s" % (os.path.relpath(path, TOP), p))
        print("%s %d - %s: every measurement names an existing results file"
              % ("not ok" if found else "ok", i, os.path.relpath(path, TOP)))
        failed += bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
