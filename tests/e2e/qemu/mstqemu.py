# SPDX-License-Identifier: GPL-2.0-only
"""QEMU migrations of a VM holding vfio_mstream devices, driven through QMP.

Runs in the guest (scripts/guest-run), as root.  A source and a destination QEMU
(TCG, q35, BIOS only: no guest OS is needed, the source VM runs SeaBIOS and idles)
each get one mdev instance per device, attached with
-device vfio-pci,sysfsdev=...,enable-migration=on.  The source migrates over a unix
socket; migrate() returns QEMU's own figures (query-migrate) and the devices'
checksums.  Used by tests/e2e/qemu-migrate.py (the tests), bench/ (the QEMU variants)
and by hand: python3 tests/e2e/qemu/migrate.py --help.

The patched QEMU of userspace/qemu/ (scripts/build-qemu-v3) is selected per migration
with qemu=qemu_v3() and migrates over v3 with streams=N (x-migration-streams=N on
both sides, dst_streams=M for a mismatch); trace=[patterns] enables QEMU trace
events on both sides (their lines, with timestamps, come back in src_trace and
dst_trace).  Each result also says how busy this machine's CPUs were during the
migration (cpu_busy, a share of all CPUs) and the CPU seconds each QEMU used then
(src_cpu_s, dst_cpu_s): on a machine with few CPUs these, not the protocol, can be
the limit of parallel readers.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid as uuidlib

TYPE = "/sys/class/mdev_bus/mstream/mdev_supported_types/vfio_mstream-dev"
DEVS = "/sys/bus/mdev/devices"
QEMU = os.environ.get("QEMU", "qemu-system-x86_64")
# Seconds a QMP answer or a migration step may take: nested TCG is slow.
STEP = int(os.environ.get("QEMU_TIMEOUT", "300"))
# An mdev behind no IOMMU has no dirty tracking and a device without DMA offers none
# of its own: QEMU warns, then counts all guest RAM as dirty, which is correct.
EXPECTED_WARNING = "doesn't support device and IOMMU dirty tracking"
# A trace event line of QEMU's log backend with -msg timestamp=on: pid@sec.usec:event
TRACE_LINE = re.compile(r"^(\d+)@(\d+\.\d+):(\w+)(.*)$")
# The +ds source tarball has no firmware: the patched QEMU uses the installed QEMU's.
FIRMWARE = ["-L", "/usr/share/qemu", "-L", "/usr/share/seabios"]


def qemu_v3():
    """The patched QEMU's path: $QEMU_V3, else scripts/build-qemu-v3 --path; None if
    it is not built."""
    path = os.environ.get("QEMU_V3")
    if path:
        return path if os.access(path, os.X_OK) else None
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    try:
        out = subprocess.run([os.path.join(top, "scripts", "build-qemu-v3"), "--path"],
                             capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    path = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    return path if out.returncode == 0 and os.access(path, os.X_OK) else None


def trace_events(text):
    """[(time, event, args)] of the trace lines in a QEMU's stderr."""
    res = []
    for line in text.splitlines():
        m = TRACE_LINE.match(line)
        if m:
            res.append((float(m.group(2)), m.group(3), m.group(4).strip()))
    return res


class QmpError(RuntimeError):
    """An error answer, with QEMU's own description."""


class Qmp:
    """A QMP connection: commands, and the events seen while waiting."""

    def __init__(self, path, proc, timeout=STEP):
        deadline = time.monotonic() + timeout
        self.sock = None
        while self.sock is None:
            if proc.poll() is not None:
                raise RuntimeError("QEMU exited with %d before QMP" % proc.returncode)
            if time.monotonic() > deadline:
                raise TimeoutError("no QMP socket at " + path)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                self.sock = s
            except OSError:
                s.close()
                time.sleep(0.1)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.events = []
        self._msg()                     # the greeting
        self.cmd("qmp_capabilities")

    def _msg(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("QMP connection closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, **args):
        req = {"execute": name}
        if args:
            req["arguments"] = args
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        while True:
            msg = self._msg()
            if "return" in msg:
                return msg["return"]
            if "error" in msg:
                raise QmpError("%s: %s" % (name, msg["error"].get("desc", msg["error"])))
            if "event" in msg:
                self.events.append(msg)

    def close(self):
        try:
            self.cmd("quit")
        except (OSError, EOFError, QmpError):
            pass                        # it may close before it answers
        self.sock.close()


# ---------------------------------------------------------------- mdev instances

def _attr(u, name):
    return "%s/%s/mstream/%s" % (DEVS, u, name)


def knob_write(u, name, val):
    with open(_attr(u, name), "w") as f:
        f.write(str(val))


def knob_read(u, name):
    with open(_attr(u, name)) as f:
        return f.read().strip()


def checksum(u):
    return knob_read(u, "checksum")


def mdev_create(knobs):
    """A new instance with @knobs (a dict of sysfs knob values) written."""
    u = str(uuidlib.uuid4())
    with open(TYPE + "/create", "w") as f:
        f.write(u)
    try:
        for k, v in knobs.items():
            knob_write(u, k, v)
    except OSError:
        mdev_remove(u)
        raise
    return u


def mdev_remove(u):
    try:
        with open("%s/%s/remove" % (DEVS, u), "w") as f:
            f.write("1")
    except OSError:
        pass


def skip_reason():
    """None when QEMU and the module are there, else why a test must skip."""
    if not os.path.exists(TYPE + "/create"):
        return "vfio_mstream.ko is not loaded (no %s)" % TYPE
    if shutil.which(QEMU) is None:
        return "%s not found (make deps)" % QEMU
    return None


# ---------------------------------------------------------------------- one VM

class Vm:
    """One QEMU process holding the instances @uuids as vfio-pci devices."""

    def __init__(self, work, name, uuids, incoming=None, device_props="", qemu=None,
                 trace=()):
        self.name = name
        self.err_path = "%s/%s.err" % (work, name)
        args = [qemu or QEMU, "-accel", "tcg", "-M", "q35", "-m", "32", "-smp", "1",
                "-display", "none", "-nodefaults", "-no-user-config",
                "-qmp", "unix:%s/%s.qmp,server=on,wait=off" % (work, name)]
        if qemu:
            args += FIRMWARE
        if trace:
            args += ["-msg", "timestamp=on"]
            for t in trace:
                args += ["-trace", t]
        for i, u in enumerate(uuids):
            args += ["-device", "vfio-pci,id=mst%d,sysfsdev=%s/%s,enable-migration=on%s"
                     % (i, DEVS, u, device_props)]
        if incoming:
            args += ["-incoming", incoming]
        self.err = open(self.err_path, "w+")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.err)
        self.qmp = None
        self.qmp = Qmp("%s/%s.qmp" % (work, name), self.proc)

    def stderr(self):
        self.err.flush()
        with open(self.err_path) as f:
            return f.read()

    def vfio_complaints(self):
        """vfio lines on stderr other than the expected dirty-tracking warning."""
        return [line for line in self.stderr().splitlines()
                if "vfio" in line.lower() and EXPECTED_WARNING not in line and
                not TRACE_LINE.match(line)]

    def stacks(self):
        """Where each thread of this QEMU waits: [(tid, comm, wchan, kernel stack)]."""
        res = []
        base = "/proc/%d/task" % self.proc.pid
        try:
            tids = sorted(os.listdir(base), key=int)
        except OSError:
            return res
        for tid in tids:
            info = []
            for name in ("comm", "wchan", "stack"):
                try:
                    with open("%s/%s/%s" % (base, tid, name)) as f:
                        info.append(f.read().strip())
                except OSError:
                    info.append("?")
            res.append([int(tid)] + info)
        return res

    def cpu_s(self):
        """CPU seconds this QEMU has used so far (all threads, user and system)."""
        try:
            with open("/proc/%d/stat" % self.proc.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def running(self):
        return self.qmp.cmd("query-status").get("running", False)

    def stop(self):
        if self.qmp:
            self.qmp.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.err.close()
        return self.proc.returncode


# ------------------------------------------------------------------- migration

DEFAULTS = {
    "devices": 1,
    "state_size": 16 << 20,
    "dirty_rate": 0,            # pages/s the workload dirties while the VM runs
    "engines": None,            # device knobs: None leaves the driver's default
    "engine_bw": None,
    "read_ahead": None,
    "knobs": {},                # any other device knobs, on both sides
    "multifd_channels": 0,      # 0: no multifd; device state on the main channel
    "multifd_transfer": True,   # with multifd: x-migration-multifd-transfer=on
    "switchover_ack": True,
    "precopy_s": 0.0,           # at least this long in precopy before switchover
    "downtime_limit_ms": 100000,
    "dst_knobs": {},            # destination-only knob overrides (a mismatch test)
    "cancel_in": None,          # "STOP_COPY": migrate_cancel once a source device is there
    "qemu": None,               # the QEMU binary (None: $QEMU or qemu-system-x86_64)
    "streams": 0,               # x-migration-streams (patched QEMU: v3 with N dirty FDs)
    "dst_streams": None,        # the destination's, if not the same (a mismatch test)
    "trace": [],                # QEMU trace event patterns, on both sides
    "reinit_at_s": None,        # a REINIT of the source devices this long into precopy
                                # (the workload stops at the end of precopy_s)
    "precopy_info_v2": False,   # patched QEMU, v2: x-migration-precopy-info-v2=on
    "timeout_s": None,          # seconds the migration may take (None: $QEMU_TIMEOUT)
}


def _device_knobs(cfg, dst):
    k = {"state_size": cfg["state_size"], "reinit_period_ms": 0,
         "dirty_rate": 0 if dst else cfg["dirty_rate"]}
    for name in ("engines", "engine_bw", "read_ahead"):
        if cfg[name] is not None:
            k[name] = cfg[name]
    k.update(cfg["knobs"])
    if dst:
        k.update(cfg["dst_knobs"])
    return k


def _setup(qmp, cfg, dst):
    caps = [{"capability": "return-path", "state": True},
            {"capability": "switchover-ack", "state": cfg["switchover_ack"]},
            {"capability": "multifd", "state": cfg["multifd_channels"] > 0}]
    qmp.cmd("migrate-set-capabilities", capabilities=caps)
    params = {"downtime-limit": cfg["downtime_limit_ms"]}
    if cfg["multifd_channels"]:
        params["multifd-channels"] = cfg["multifd_channels"]
    if not dst:
        # Precopy is not rate limited: the device bound or the reader is the limit.
        params["max-bandwidth"] = 64 << 30
    qmp.cmd("migrate-set-parameters", **params)


def _cpu_times():
    """(busy, all) jiffies of every CPU of this machine, from /proc/stat."""
    with open("/proc/stat") as f:
        # user nice system idle iowait irq softirq steal; guest time is in user.
        vals = [int(v) for v in f.readline().split()[1:9]]
    busy = vals[0] + vals[1] + vals[2] + vals[5] + vals[6]  # steal is another's
    return busy, sum(vals)


def _wait_source_state(uuids, state, deadline):
    while time.monotonic() < deadline:
        if any(knob_read(u, "mig_state") == state for u in uuids):
            return True
        time.sleep(0.01)
    return False


def migrate(**overrides):
    """One migration; returns a dict of what happened (see the keys below)."""
    cfg = dict(DEFAULTS)
    unknown = set(overrides) - set(cfg)
    if unknown:
        raise ValueError("unknown migrate() settings: %s" % ", ".join(sorted(unknown)))
    cfg.update(overrides)
    work = tempfile.mkdtemp(prefix="mst-qemu.")
    res = {"config": {k: v for k, v in cfg.items() if k != "dst_knobs"},
           "status": "not started", "error": None}
    src_u, dst_u, vms = [], [], []
    try:
        for _ in range(cfg["devices"]):
            src_u.append(mdev_create(_device_knobs(cfg, False)))
            dst_u.append(mdev_create(_device_knobs(cfg, True)))
        props = ""
        if cfg["multifd_channels"]:
            props = ",x-migration-multifd-transfer=%s" % (
                "on" if cfg["multifd_transfer"] else "off")
        if cfg["precopy_info_v2"]:
            props += ",x-migration-precopy-info-v2=on"
        dst_props = props
        if cfg["streams"] or cfg["dst_streams"]:
            props += ",x-migration-streams=%d" % cfg["streams"]
            dst_streams = cfg["streams"] if cfg["dst_streams"] is None else cfg["dst_streams"]
            dst_props += ",x-migration-streams=%d" % dst_streams
        sock = "unix:%s/mig.sock" % work
        src = Vm(work, "src", src_u, device_props=props, qemu=cfg["qemu"],
                 trace=cfg["trace"])
        vms.append(src)
        dst = Vm(work, "dst", dst_u, incoming="defer", device_props=dst_props,
                 qemu=cfg["qemu"], trace=cfg["trace"])
        vms.append(dst)
        _setup(src.qmp, cfg, False)
        _setup(dst.qmp, cfg, True)
        dst.qmp.cmd("migrate-incoming", uri=sock)
        res["src_sums_before"] = [checksum(u) for u in src_u]

        if cfg["precopy_s"]:
            # Hold switchover back (no downtime is short enough) while the workload
            # dirties the device, then allow it.
            src.qmp.cmd("migrate-set-parameters", **{"downtime-limit": 1})
        # What the migration costs the machine: whether its CPUs were the limit.
        cpu0 = _cpu_times()
        qemu_cpu0 = [vm.cpu_s() for vm in vms]
        t0 = time.monotonic()
        src.qmp.cmd("migrate", uri=sock)
        deadline = t0 + (cfg["timeout_s"] or STEP)
        if cfg["precopy_s"]:
            held = 0.0
            if cfg["reinit_at_s"] is not None:
                time.sleep(cfg["reinit_at_s"])
                res["reinit_states"] = [knob_read(u, "mig_state") for u in src_u]
                res["reinit_time"] = time.time()
                for u in src_u:
                    knob_write(u, "reinit", 1)
                held = cfg["reinit_at_s"]
            time.sleep(max(0.0, cfg["precopy_s"] - held))
            if cfg["reinit_at_s"] is not None:
                # The hold is a workload fast enough that precopy cannot converge
                # (a 1 ms downtime limit alone does not hold a device whose dirty
                # data drains to 0); it stops so that precopy converges.
                for u in src_u:
                    knob_write(u, "dirty_rate", 0)
            res["release_time"] = time.time()
            src.qmp.cmd("migrate-set-parameters",
                        **{"downtime-limit": cfg["downtime_limit_ms"]})
        if cfg["cancel_in"]:
            if _wait_source_state(src_u, cfg["cancel_in"], deadline):
                src.qmp.cmd("migrate_cancel")
                res["cancelled_in"] = cfg["cancel_in"]
        info = {}
        while time.monotonic() < deadline:
            info = src.qmp.cmd("query-migrate")
            res["status"] = info.get("status", "?")
            if res["status"] in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.05)
        res["wall_s"] = time.monotonic() - t0
        cpu1 = _cpu_times()
        res["cpu_busy"] = (cpu1[0] - cpu0[0]) / max(1, cpu1[1] - cpu0[1])
        for vm, before in zip(vms, qemu_cpu0):
            after = vm.cpu_s()
            if before is not None and after is not None:
                res[vm.name + "_cpu_s"] = after - before
        if res["status"] not in ("completed", "failed", "cancelled"):
            # Stuck: where the threads of both QEMUs wait, for the report.
            res["stuck_stacks"] = {vm.name: vm.stacks() for vm in vms}
        for key in ("downtime", "total-time", "setup-time"):
            if key in info:
                res[key.replace("-", "_") + "_ms"] = info[key]
        res["vfio_bytes"] = info.get("vfio", {}).get("transferred")
        res["ram_bytes"] = info.get("ram", {}).get("transferred")
        if info.get("error-desc"):
            res["error"] = info["error-desc"]
        res["src_running"] = src.running()
        res["src_states"] = [knob_read(u, "mig_state") for u in src_u]
        res["src_sums"] = [checksum(u) for u in src_u]
        res["src_protocol"] = [knob_read(u, "protocol") for u in src_u]
        res["src_crit_gen"] = [knob_read(u, "crit_gen") for u in src_u]
        if res["status"] == "completed":
            res["dst_running"] = dst.running()
            res["dst_sums"] = [checksum(u) for u in dst_u]
            res["dst_protocol"] = [knob_read(u, "protocol") for u in dst_u]
            res["dst_crit_gen"] = [knob_read(u, "crit_gen") for u in dst_u]
        res["src_complaints"] = src.vfio_complaints()
        res["dst_complaints"] = dst.vfio_complaints()
    except Exception as e:              # reported to the caller, with stderr
        res["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        for vm in vms:
            if res["error"]:
                res.setdefault("stderr", {})[vm.name] = vm.stderr()[-2000:]
            if cfg["trace"]:
                res[vm.name + "_trace"] = trace_events(vm.stderr())
            # Errors only (no trace lines), for the tests' error checks.
            res[vm.name + "_errors"] = [
                line for line in vm.stderr().splitlines() if not TRACE_LINE.match(line)]
            try:
                vm.stop()
            except (OSError, EOFError, QmpError):
                pass
        for u in src_u + dst_u:
            mdev_remove(u)
        shutil.rmtree(work, ignore_errors=True)
    return res
