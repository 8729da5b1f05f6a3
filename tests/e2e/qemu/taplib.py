# SPDX-License-Identifier: GPL-2.0-only
"""TAP output of the QEMU migration tests (qemu-migrate.py, qemu-v3.py)."""

import sys

_count = 0
_failed = False


def plan(n, skip_why=None):
    """The TAP header; with @skip_why every case is reported skipped and the run exits 4."""
    print("TAP version 13\n1..%d" % n, flush=True)
    if skip_why:
        for i in range(1, n + 1):
            print("ok %d - skipped # SKIP %s" % (i, skip_why))
        sys.exit(4)


def tap(good, what, detail=None):
    """One case; @detail (a migration's result) is printed as comments on failure."""
    global _count, _failed
    _count += 1
    _failed |= not good
    print(("ok" if good else "not ok") + " %d - %s" % (_count, what), flush=True)
    if not good and detail:
        for line in str(detail).splitlines():
            print("# " + line, flush=True)


def status(n):
    """The exit status: 1 if a case failed or the run did not report @n cases."""
    return 1 if _failed or _count != n else 0


def figures(res):
    return "downtime %s ms, total %s ms, vfio %s bytes" % (
        res.get("downtime_ms"), res.get("total_time_ms"), res.get("vfio_bytes"))
