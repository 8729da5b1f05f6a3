#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""QEMU 10, unmodified, migrates VMs holding the sample device over v2.

Each case is one real migration between two QEMU processes (tests/e2e/qemu/mstqemu.py):
plain v2 with precopy while the device's workload dirties state (return-path and
switchover-ack on); v2 over multifd with QEMU 10's device-state transfer, 1 to 8
channels; 2 and 4 devices in one VM; migrate_cancel while a device is in STOP_COPY;
a destination whose device has another geometry.  Prints TAP and, per migration,
QEMU's downtime, total time and vfio bytes as TAP comments.  Exits 4 (skip) without
QEMU or the module.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "qemu"))
import mstqemu  # noqa: E402
from taplib import figures, plan, status, tap  # noqa: E402


def completes(name, **cfg):
    """A migration that must complete with the destination holding the source's state."""
    res = mstqemu.migrate(**cfg)
    print("# %s: %s; %s" % (name, res["status"], figures(res)), flush=True)
    good = (res["status"] == "completed" and res.get("dst_sums") == res["src_sums"] and
            res.get("dst_running") and not res["src_complaints"] and
            not res["dst_complaints"])
    tap(good, "%s: completes, destination running with the source's state" % name, res)
    return res


# The device's workload dirties this many pages a second while the VM runs, and the
# migration stays in precopy this long before switchover is allowed.
DIRTY = {"dirty_rate": 2000, "precopy_s": 2.0}
# 16 MiB at 2 MiB/s: a STOP_COPY of seconds, long enough to cancel in (no switchover
# ack and a generous downtime limit, so that QEMU switches over with most of the
# state still to move).
SLOW = {"state_size": 16 << 20, "engines": 1, "engine_bw": 2,
        "switchover_ack": False}


def main():
    ncases = 10
    plan(ncases, mstqemu.skip_reason())

    res = completes("v2, main channel, precopy with a dirtying workload", **DIRTY)
    tap((res.get("vfio_bytes") or 0) >= DEFAULTS_STATE and res.get("downtime_ms") is not None,
        "v2: query-migrate reports the downtime and at least the state's size as vfio bytes",
        res)
    for ch in (1, 2, 4, 8):
        completes("v2, multifd device-state transfer, %d channel(s)" % ch,
                  multifd_channels=ch, **DIRTY)
    completes("v2, 2 devices in one VM, multifd 4", devices=2, multifd_channels=4, **DIRTY)
    completes("v2, 4 devices in one VM, multifd 4", devices=4, state_size=8 << 20,
              multifd_channels=4, **DIRTY)

    res = mstqemu.migrate(cancel_in="STOP_COPY", **SLOW)
    print("# cancel in STOP_COPY: %s (cancelled in %s)" % (res["status"], res.get("cancelled_in")),
          flush=True)
    # QEMU 10 reports a cancel that lands in the completion stage as "failed" (the
    # shut-down channel fails the device's save), earlier ones as "cancelled".
    tap(res.get("cancelled_in") == "STOP_COPY" and res["status"] in ("cancelled", "failed") and
        res["src_running"] and res["src_states"] == ["RUNNING"] and
        res["src_sums"] == res["src_sums_before"],
        "migrate_cancel in STOP_COPY: source VM running, device RUNNING, state unchanged", res)

    res = mstqemu.migrate(dst_knobs={"state_size": 8 << 20})
    print("# geometry mismatch: %s: %s" % (res["status"], res.get("error")), flush=True)
    tap(res["status"] == "failed" and res.get("error") and res["src_running"] and
        res["src_states"] == ["RUNNING"] and res["src_sums"] == res["src_sums_before"],
        "a destination device of another geometry fails the migration with QEMU's error;"
        " the source keeps running, state unchanged", res)
    return status(ncases)


DEFAULTS_STATE = mstqemu.DEFAULTS["state_size"]

if __name__ == "__main__":
    sys.exit(main())
