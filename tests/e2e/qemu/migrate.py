#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""One QEMU migration of a VM holding vfio_mstream devices; prints QEMU's figures.

In the guest, from the project top, for example:
  scripts/guest-run -- python3 tests/e2e/qemu/migrate.py --devices 2 --multifd 4
Prints one JSON object (mstqemu.migrate()'s result) and exits 0 when the migration
completed with equal source and destination checksums, 1 otherwise.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mstqemu  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=1, help="devices in the VM (1)")
    ap.add_argument("--state-size", type=int, default=16 << 20,
                    help="bytes of state per device (16 MiB)")
    ap.add_argument("--dirty-rate", type=int, default=0,
                    help="pages/s the device's workload dirties while the VM runs (0)")
    ap.add_argument("--precopy", type=float, default=0.0, metavar="S",
                    help="hold switchover back for S seconds of precopy (0)")
    ap.add_argument("--engines", type=int, help="device engines (driver default)")
    ap.add_argument("--engine-bw", type=int, help="MiB/s per engine (unlimited)")
    ap.add_argument("--multifd", type=int, default=0, metavar="N",
                    help="multifd channels, device state over them (0: main channel)")
    ap.add_argument("--no-multifd-transfer", action="store_true",
                    help="with --multifd: device state on the main channel anyway")
    ap.add_argument("--no-switchover-ack", action="store_true")
    ap.add_argument("--downtime-limit", type=int, default=100000, metavar="MS")
    ap.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE",
                    help="another device knob, on both sides (repeatable)")
    ap.add_argument("--v3", type=int, default=None, metavar="N",
                    help="the patched QEMU (scripts/build-qemu-v3) with "
                         "x-migration-streams=N (0: its v2)")
    ap.add_argument("--precopy-info-v2", action="store_true",
                    help="with --v3 0: v2 with the PRECOPY_INFOv2 opt-in")
    ap.add_argument("--reinit-at", type=float, default=None, metavar="S",
                    help="with --precopy: a REINIT of the source devices S seconds in")
    ap.add_argument("--trace", action="append", default=[], metavar="PATTERN",
                    help="QEMU trace events to enable on both sides (repeatable)")
    a = ap.parse_args()
    knobs = {}
    for kv in a.knob:
        name, sep, val = kv.partition("=")
        if not sep:
            ap.error("--knob takes NAME=VALUE, not %s" % kv)
        knobs[name] = val
    why = mstqemu.skip_reason()
    qemu = None
    if not why and a.v3 is not None:
        qemu = mstqemu.qemu_v3()
        if not qemu:
            why = "the patched QEMU is not built (scripts/build-qemu-v3)"
    if why:
        print(why, file=sys.stderr)
        return 4
    res = mstqemu.migrate(qemu=qemu, streams=a.v3 or 0, reinit_at_s=a.reinit_at,
                          trace=a.trace, precopy_info_v2=a.precopy_info_v2,
                          devices=a.devices, state_size=a.state_size,
                          dirty_rate=a.dirty_rate, precopy_s=a.precopy,
                          engines=a.engines, engine_bw=a.engine_bw,
                          multifd_channels=a.multifd,
                          multifd_transfer=not a.no_multifd_transfer,
                          switchover_ack=not a.no_switchover_ack,
                          downtime_limit_ms=a.downtime_limit, knobs=knobs)
    # One line for a log or a .jsonl file; indented for a person.
    print(json.dumps(res, sort_keys=True, indent=1 if sys.stdout.isatty() else None))
    good = res["status"] == "completed" and res.get("dst_sums") == res["src_sums"]
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
