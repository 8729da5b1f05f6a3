# SPDX-License-Identifier: GPL-2.0-only
"""bench/report.py's section for scenario sq: QEMU 10 itself, next to the CLI."""

import os

from stats import NOTE, Comparison, median

SQ_ORDER = ["qemu10-v2", "qemu10-v2-multifd", "qemu10-v2-mux4-multifd", "v2-today",
            "v2-mux4", "v3-4"]
# Pairs with the same device parallelism (4 engines): what the protocol changes.
SQ_PAIRS = [("v3-4", "qemu10-v2-mux4-multifd"), ("v3-4", "v2-mux4")]
SQ_DESC = {
    "qemu10-v2": "QEMU 10.0, unmodified: the device's one data FD read on the main "
                 "migration channel",
    "qemu10-v2-multifd": "QEMU 10.0, unmodified: multifd device-state transfer "
                         "(x-migration-multifd-transfer=on, 4 channels): a save thread reads "
                         "the data FD 1 MiB at a time, a load thread writes it in order",
    "qemu10-v2-mux4-multifd": "QEMU 10.0, unmodified, multifd device-state transfer as "
                              "above, from the device in v2 mux mode with 4 engines on its "
                              "one FD: the strongest single-FD device QEMU 10 can read",
    "v2-today": "the CLI, v2, serial read loop (as in the other scenarios)",
    "v2-mux4": "the CLI, v2 mux, 4 engines on the one FD, reader pool",
    "v3-4": "the CLI, v3, 4 dirty FDs + critical FD (4 + 1 engines), reader pool",
}
COLS = ["variant", "rep", "engine_bw_mib_s", "state_bytes", "status", "downtime_ms",
        "total_ms", "vfio_bytes", "checksum_match", "error"]


def sq_row(rec, mig_row):
    """One CSV row: QEMU's figures for the qemu10-* runs, the CLI's otherwise."""
    if not rec["variant"].startswith("qemu10-"):
        r = mig_row(rec)
        return {"variant": r["variant"], "rep": r["rep"], "engine_bw_mib_s": r["engine_bw_mib_s"],
                "state_bytes": r["state_bytes"], "status": r["status"],
                "downtime_ms": r["downtime_ms"], "total_ms": r["wall_ms"],
                "vfio_bytes": r["bytes"], "checksum_match": r["checksum_match"],
                "error": r["error"]}
    q = rec.get("qemu") or {}
    match = bool(q.get("dst_sums")) and q.get("dst_sums") == q.get("src_sums")
    good = rec.get("exit") == 0 and q.get("status") == "completed" and match
    return {"variant": rec["variant"], "rep": rec.get("rep"),
            "engine_bw_mib_s": rec.get("engine_bw"), "state_bytes": rec.get("state_size"),
            "status": "ok" if good else "failed",
            "downtime_ms": q.get("downtime_ms") if good else None,
            "total_ms": q.get("total_time_ms") if good else None,
            "vfio_bytes": q.get("vfio_bytes"), "checksum_match": match,
            "error": "" if good else (q.get("error") or rec.get("stderr") or q.get("status"))}


def section(o, outdir, recs, mig_row, write_csv, human_bytes):
    rows = [sq_row(r, mig_row) for r in recs]
    write_csv(os.path.join(outdir, "sq_qemu.csv"), COLS, rows)
    state = rows[0]["state_bytes"]
    o("## Scenario Q: QEMU 10 itself")
    o()
    o("One device with %s of memory-backed state in a VM (TCG, q35, BIOS only) migrated "
      "between two QEMU 10.0.2 processes over a unix socket (`tests/e2e/qemu/migrate.py`), "
      "return-path on, switchover-ack off and a 100 s downtime limit, so that QEMU switches "
      "over as soon as it may and nearly the whole state moves in STOP_COPY (the CLI's "
      "`--no-precopy` case). *Device-bound* limits each of the device's engines to the "
      "engine_bw below, *unlimited* does not. The device has one engine in `qemu10-v2`, "
      "`qemu10-v2-multifd` and `v2-today`, and four in the others: device-bound, those have "
      "four times the device's bandwidth, so only the pairs of the same parallelism, "
      "listed under the table, compare protocols. The CLI runs next to QEMU on the same "
      "device settings." % human_bytes(state))
    o()
    o("**QEMU's downtime** is `downtime` of `query-migrate`: from the source VM's stop to "
      "the end of the migration; with return-path on, the source waits for the destination "
      "to have loaded everything, so the destination's load is inside it, as in the CLI's "
      "downtime. QEMU's also holds what the CLI's does not: RAM's last pass, the other "
      "devices' state and the return path's round trip; it is the figure a VMM user sees.")
    o()
    for v in SQ_ORDER:
        o("- `%s`: %s" % (v, SQ_DESC[v]))
    o()
    o("| engine_bw | variant | downtime ms, median (min-max) | runs ok | x qemu10-v2 [95% interval], p |")
    o("| ---: | --- | ---: | ---: | --- |")
    for bw in sorted({r["engine_bw_mib_s"] for r in rows}, reverse=True):
        at = {v: [r for r in rows if r["engine_bw_mib_s"] == bw and r["variant"] == v]
              for v in SQ_ORDER}
        base = [r["downtime_ms"] for r in at["qemu10-v2"] if r["status"] == "ok"]
        for v in SQ_ORDER:
            good = [r["downtime_ms"] for r in at[v] if r["status"] == "ok"]
            if not at[v]:
                continue
            cell = "-" if not good else "%.0f (%.0f-%.0f)" % (median(good), min(good), max(good))
            rat = "-" if v == "qemu10-v2" else str(Comparison(good, base))
            o("| %s | `%s` | %s | %d/%d | %s |" % (
                "%s MiB/s" % bw if bw else "unlimited", v, cell, len(good), len(at[v]), rat))
    o()
    pairs = []
    for bw in sorted({r["engine_bw_mib_s"] for r in rows}, reverse=True):
        for a, b in SQ_PAIRS:
            da, db = ([r["downtime_ms"] for r in rows if r["engine_bw_mib_s"] == bw and
                       r["variant"] == v and r["status"] == "ok"] for v in (a, b))
            if da and db:
                pairs.append("- %s: `%s` / `%s` = %s" % (
                    "%s MiB/s" % bw if bw else "unlimited", a, b, Comparison(da, db)))
    if pairs:
        o("Same device parallelism (4 engines), downtime ratio [95% interval], p:")
        o()
        for line in pairs:
            o(line)
        o()
    o(NOTE)
    o()
