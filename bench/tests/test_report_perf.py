#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Host unit tests of bench/report_perf.py: profile tables cut from a perf script
output by run windows. Prints TAP (make -C bench check)."""

import lzma
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import report_perf  # noqa: E402
from test_stats import tap_main  # noqa: E402

SCRIPT = """\
         mstream  100.000100000:  crc32_body
         mstream  100.000200000:  crc32_body
    kworker/0:1H  100.000300000:  _copy_to_iter
         swapper  100.000400000:  pv_native_safe_halt
         mstream  200.000100000:  mst_apply_pages
         mstream  300.000000000:  crc32_body
"""


class Windows(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()
        with lzma.open(os.path.join(self.dir, "samples.txt.xz"), "wt") as f:
            f.write(SCRIPT)
        with open(os.path.join(self.dir, "windows.txt"), "w") as f:
            f.write("s2-v3-4 99.5 100.5\ns2-v2-mux4 199.0 201.0\n")

    def test_samples_fall_in_their_window(self):
        res = report_perf.counts(self.dir, report_perf.windows(self.dir))
        syms, comms = res["s2-v3-4"]
        self.assertEqual(syms, {"crc32_body": 2, "_copy_to_iter": 1, "pv_native_safe_halt": 1})
        self.assertEqual(comms["mstream"], 2)
        self.assertEqual(res["s2-v2-mux4"][0], {"mst_apply_pages": 1})

    def test_top_shares(self):
        self.assertEqual(report_perf.top({"a": 3, "b": 1}, 1), [" 75.00%  a"])


if __name__ == "__main__":
    sys.exit(tap_main(sys.modules[__name__], "report_perf"))
