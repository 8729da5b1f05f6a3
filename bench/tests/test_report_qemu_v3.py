#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Host unit tests of bench/report_qemu_v3.py: where a run's downtime went, from the
QEMU trace events a run records. Prints TAP (make -C bench check)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import report_qemu_v3  # noqa: E402
from test_stats import tap_main  # noqa: E402

STATE = "vfio_migration_set_device_state"
MIB = 1 << 20


def v3_run():
    """A v3 run with two dirty streams: stream 1 reads 64 MiB in 2 s, stream 2 32 MiB
    in 1 s; the destination device runs 0.25 s after the last save thread."""
    return {
        "src_trace": [
            (10.0, STATE, "(a) state STOP_COPY"),
            (10.0, "vfio_mstream_save_thread_start", "(a) stream 1"),
            (10.5, "vfio_mstream_save_thread_start", "(a) stream 2"),
            (11.5, "vfio_mstream_save_thread_end",
             "(a) stream 2 packets 4 bytes %d ret 1" % (32 * MIB)),
            (12.0, "vfio_mstream_save_thread_end",
             "(a) stream 1 packets 8 bytes %d ret 1" % (64 * MIB)),
            (12.0, "vfio_mstream_save_thread_end", "(a) stream 0 packets 1 bytes 48 ret 1"),
            (12.0, "vfio_save_complete_precopy_thread_end", "(a) ret 1"),
            (12.3, STATE, "(a) state STOP")],
        "dst_trace": [(9.0, STATE, "(b) state RESUMING"),
                      (12.25, STATE, "(b) state RUNNING_P2P"),
                      (12.25, STATE, "(b) state RUNNING")],
        "vfio_bytes": 123}


class Phases(unittest.TestCase):
    def test_v3_read_tail_and_stream_rates(self):
        p = report_qemu_v3.phases(v3_run())
        self.assertAlmostEqual(p["read_ms"], 2000)
        self.assertAlmostEqual(p["tail_ms"], 250)
        # the streams' bytes, not the migration's vfio counter
        self.assertAlmostEqual(p["rate"], (96 + 48 / MIB) / 2)
        self.assertEqual(sorted(round(x) for x in p["stream_rates"]), [32, 32])

    def test_migration_thread_read_is_not_timed(self):
        # The device's STOP comes after the destination loaded: that span is the
        # downtime, and calling it a read would make a read rate of the downtime.
        r = {"src_trace": [(5.0, STATE, "(a) state STOP_COPY"), (7.0, STATE, "(a) state STOP")],
             "dst_trace": [(6.9, STATE, "(b) state RUNNING")], "vfio_bytes": 64 * MIB}
        p = report_qemu_v3.phases(r)
        self.assertEqual(p, {"read_ms": None, "tail_ms": None, "rate": None,
                             "stream_rates": []})

    def test_no_trace_no_phases(self):
        self.assertIsNone(report_qemu_v3.phases({"vfio_bytes": 1}))
        r = v3_run()
        r["dst_trace"] = []             # the destination never ran its device
        self.assertIsNone(report_qemu_v3.phases(r))


class RearmBytes(unittest.TestCase):
    def test_first_rearm_after_the_reinit(self):
        r = {"src_trace": [
            (1.0, "vfio_precopy_info_v2_rearm", "(a) gen 0 initial_bytes 5"),
            (2.0, "vfio_precopy_info_v2_rearm", "(a) gen 1 initial_bytes 16777216"),
            (3.0, "vfio_precopy_info_v2_rearm", "(a) gen 2 initial_bytes 7")]}
        self.assertEqual(report_qemu_v3.rearm_bytes(r), 16777216)

    def test_v3_critical_bytes(self):
        r = {"src_trace": [(1.0, "vfio_mstream_rearm", "(a) gen 1 critical bytes pending 65536")]}
        self.assertEqual(report_qemu_v3.rearm_bytes(r), 65536)

    def test_none_without_the_event(self):
        self.assertIsNone(report_qemu_v3.rearm_bytes({"src_trace": []}))


class RearmMs(unittest.TestCase):
    def test_time_to_the_first_rearm(self):
        r = {"reinit_time": 100.0, "src_trace": [
            (100.155, "migration_rearm_switchover_ack", "gen=1"),
            (100.3, "migration_rearm_switchover_ack", "gen=2")]}
        self.assertAlmostEqual(report_qemu_v3.rearm_ms(r), 155)

    def test_none_without_a_rearm(self):
        self.assertIsNone(report_qemu_v3.rearm_ms({"reinit_time": 1.0, "src_trace": []}))


if __name__ == "__main__":
    sys.exit(tap_main(sys.modules[__name__], "report_qemu_v3"))
