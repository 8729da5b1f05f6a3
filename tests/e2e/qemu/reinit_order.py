# SPDX-License-Identifier: GPL-2.0-only
"""What qemu-v3.py's REINIT case requires of the two QEMUs' trace events."""


def index(events, name, pred=lambda args: True, start=0):
    """The first event @name from @start whose arguments satisfy @pred, or None."""
    for i in range(start, len(events)):
        if events[i][1] == name and pred(events[i][2]):
            return i
    return None


def reinit_order(res):
    """(good, detail, ms from the REINIT to the switchover ACK that follows it).

    Good when the source re-armed switchover-ack (generation 1) and had its ACK
    before STOP_COPY, and the destination, having withdrawn the device's approval,
    gave it back only after loading critical data produced since the REINIT. That
    load may come before the destination's re-arm: the source reads the critical
    stream before it asks whether the device reinitialized, so the iteration that
    sees the REINIT can carry the new data ahead of its re-arm record.
    """
    src, dst = res.get("src_trace") or [], res.get("dst_trace") or []
    t_reinit = res.get("reinit_time")
    if t_reinit is None:
        return False, "no REINIT time in the result", None
    rearm = index(src, "migration_rearm_switchover_ack", lambda a: "gen=1" in a)
    if rearm is None:
        return False, "no re-arm on the source", None
    ack = index(src, "source_return_path_thread_switchover_acked",
                lambda a: "gen=1" in a, rearm)
    stop = index(src, "vfio_migration_set_device_state", lambda a: "STOP_COPY" in a)
    if ack is None or stop is None or not rearm < ack < stop:
        return False, "source order: re-arm %s, ack gen 1 %s, STOP_COPY %s" % (
            rearm, ack, stop), None
    d_rearm = index(dst, "vfio_load_state_rearm")
    d_ok = None if d_rearm is None else index(
        dst, "loadvm_approve_switchover", lambda a: "num=0" in a, d_rearm)
    if d_ok is None:
        return False, "destination: re-arm %s, approval after it %s" % (
            d_rearm, d_ok), None
    if not any(name == "vfio_load_state_device_data" and t > t_reinit and
               " size 0 " not in args and args.endswith(" ret 0")
               for t, name, args in dst[:d_ok]):
        return False, "destination: re-arm %s, approval %s, no critical data loaded" \
            " between the REINIT and the approval" % (d_rearm, d_ok), None
    return True, "", (src[ack][0] - t_reinit) * 1000
