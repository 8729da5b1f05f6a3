#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Host unit test of reinit_order.py: the orders of trace events a REINIT during
precopy may leave in the two QEMUs, and the ones that must fail the case.  The
events are those of a real run (tests/e2e/qemu-v3.py), on a made-up clock.
Prints TAP (make -C tests/e2e check; make test runs it)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reinit_order import reinit_order  # noqa: E402
from taplib import plan, status, tap  # noqa: E402

REINIT_TIME = 12.0
PRE_COPY = (10.0, "vfio_migration_set_device_state", "(d) state PRE_COPY")
ACK0 = (10.3, "source_return_path_thread_switchover_acked", "gen=0")
REARM = (12.03, "migration_rearm_switchover_ack", "gen=1")
MST_REARM = (12.031, "vfio_mstream_rearm", "(d) gen 1 critical bytes pending 0")
ACK1 = (12.06, "source_return_path_thread_switchover_acked", "gen=1")
STOP_COPY = [(14.0, "vfio_migration_set_device_state", "(d) state PRE_COPY_P2P"),
             (14.001, "vfio_migration_set_device_state", "(d) state STOP_COPY")]
SRC = [PRE_COPY, ACK0, REARM, MST_REARM, ACK1] + STOP_COPY

# The destination's first approval, for the critical data of before the REINIT.
DST_START = [(10.1, "vfio_migration_set_device_state", "(d) state RESUMING"),
             (10.2, "vfio_load_state_device_data", "(d) size 65688 ret 0"),
             (10.21, "loadvm_approve_switchover", "Switchover ack pending num=0")]
D_REARM = [("vfio_load_state_rearm", "(d) gen 1"),
           ("loadvm_rearm_switchover", "Switchover ack pending num=1 gen=1")]
D_DATA = [("vfio_load_state_device_data", "(d) size 65584 ret 0")]
D_APPROVE = [("loadvm_approve_switchover", "Switchover ack pending num=0")]


def dst(*parts, start=REINIT_TIME):
    """DST_START, then @parts' events 1 ms apart from @start on."""
    events = [e for part in parts for e in part]
    return DST_START + [(start + (i + 1) / 1000, n, a) for i, (n, a) in enumerate(events)]


def res(src=SRC, dst_trace=None):
    return {"reinit_time": REINIT_TIME, "src_trace": src, "dst_trace": dst_trace}


CASES = [
    ("re-arm, the new critical data, approval", True,
     res(dst_trace=dst(D_REARM, D_DATA, D_APPROVE))),
    ("the new critical data, re-arm, approval (the source read the data in the"
     " iteration that saw the REINIT, before the re-arm record)", True,
     res(dst_trace=dst(D_DATA, D_REARM, D_APPROVE))),
    ("re-arm and approval, no critical data loaded since the REINIT", False,
     res(dst_trace=dst(D_REARM, D_APPROVE))),
    ("critical data loaded only before the REINIT, then re-arm, approval", False,
     res(dst_trace=dst(D_DATA, start=11.0) + dst(D_REARM, D_APPROVE)[len(DST_START):])),
    ("re-arm, approval, then the new critical data", False,
     res(dst_trace=dst(D_REARM, D_APPROVE, D_DATA))),
    ("the new critical data failed to load", False,
     res(dst_trace=dst(D_REARM, [("vfio_load_state_device_data", "(d) size 65584 ret -22")],
                       D_APPROVE))),
    ("only an empty load since the REINIT", False,
     res(dst_trace=dst(D_REARM, [("vfio_load_state_device_data", "(d) size 0 ret 0")],
                       D_APPROVE))),
    ("no re-arm on the destination", False,
     res(dst_trace=dst(D_DATA, D_APPROVE))),
    ("no re-arm on the source", False,
     res(src=[PRE_COPY, ACK0] + STOP_COPY, dst_trace=dst(D_REARM, D_DATA, D_APPROVE))),
    ("the source's ACK of generation 1 after STOP_COPY", False,
     res(src=[PRE_COPY, ACK0, REARM, MST_REARM] + STOP_COPY + [(14.5,) + ACK1[1:]],
         dst_trace=dst(D_REARM, D_DATA, D_APPROVE))),
]


def main():
    plan(len(CASES) + 1)
    for what, want, r in CASES:
        good, detail, _ = reinit_order(r)
        tap(good == want, "%s: %s" % (what, "accepted" if want else "refused"),
            "reinit_order() said %s: %s" % (good, detail))
    _, _, ms = reinit_order(CASES[0][2])
    tap(ms is not None and abs(ms - 60.0) < 1e-6,
        "the time reported is the REINIT to the source's ACK of generation 1 (60 ms)", ms)
    return status(len(CASES) + 1)


if __name__ == "__main__":
    sys.exit(main())
