#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
#
# QEMU's vfio-pci attaches the sample device with enable-migration=on and
# migrates a VM holding it (issue 13, items 16 and 17): a source and a
# destination QEMU (TCG, BIOS only, no guest OS) each get one instance; the
# source migrates to the destination over a unix socket; the destination's
# instance must then hold the source's state, and neither QEMU may report a
# vfio error. Runs in the guest as root from the project top; prints TAP;
# exits 4 (skip) without QEMU or the module.
#
# Environment: QEMU (default qemu-system-x86_64), QEMU_TIMEOUT (seconds per
# step, default 240: nested TCG is slow).

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid as uuidlib

TYPE = "/sys/class/mdev_bus/mstream/mdev_supported_types/vfio_mstream-dev"
DEVS = "/sys/bus/mdev/devices"
QEMU = os.environ.get("QEMU", "qemu-system-x86_64")
STEP = int(os.environ.get("QEMU_TIMEOUT", "240"))
PLAN = 6

n = 0
failed = False


def tap(good, what):
    global n, failed
    n += 1
    if not good:
        failed = True
    print(("ok" if good else "not ok") + " %d - %s" % (n, what), flush=True)


def diag(text):
    for line in str(text).splitlines():
        print("# " + line, flush=True)


def skip_all(why):
    print("TAP version 13\n1..%d" % PLAN)
    for i in range(1, PLAN + 1):
        print("ok %d - skipped # SKIP %s" % (i, why))
    sys.exit(4)


class Qmp:
    def __init__(self, path, proc, deadline):
        self.sock = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("QEMU exited with %d" % proc.returncode)
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                self.sock = s
                break
            except OSError:
                s.close()
                time.sleep(0.2)
        if self.sock is None:
            raise TimeoutError("no QMP socket at " + path)
        self.sock.settimeout(STEP)
        self.buf = b""
        self._msg()                     # the greeting
        self.cmd("qmp_capabilities")

    def _msg(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("QMP closed")
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
                raise RuntimeError("%s: %s" % (name, msg["error"]))


def knob(u, name, val):
    with open("%s/%s/mstream/%s" % (DEVS, u, name), "w") as f:
        f.write(str(val))


def checksum(u):
    with open("%s/%s/mstream/checksum" % (DEVS, u)) as f:
        return f.read().strip()


def qemu(work, name, u, extra):
    args = [QEMU, "-accel", "tcg", "-M", "q35", "-m", "64", "-display",
            "none", "-nodefaults", "-L", "/usr/share/qemu", "-L",
            "/usr/share/seabios",
            "-device", "vfio-pci,id=mst,sysfsdev=%s/%s,enable-migration=on" % (DEVS, u),
            "-qmp", "unix:%s/%s.qmp,server=on,wait=off" % (work, name)] + extra
    err = open("%s/%s.err" % (work, name), "w+")
    return subprocess.Popen(args, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=err), err


def stderr_of(f):
    f.flush()
    f.seek(0)
    return f.read()


def has_device(q):
    """The vfio-pci device (qdev id "mst") is on the guest's PCI bus."""
    return any(d.get("qdev_id") == "mst"
               for bus in q.cmd("query-pci") for d in bus["devices"])


def main():
    if not os.path.exists(TYPE + "/create"):
        skip_all("vfio_mstream.ko is not loaded (no %s)" % TYPE)
    if shutil.which(QEMU) is None:
        skip_all("%s not found (make deps)" % QEMU)

    print("TAP version 13\n1..%d" % PLAN, flush=True)
    work = tempfile.mkdtemp(prefix="mst-qemu.")
    uuids, procs = [], []
    try:
        for _ in range(2):
            u = str(uuidlib.uuid4())
            with open(TYPE + "/create", "w") as f:
                f.write(u)
            uuids.append(u)
            knob(u, "state_size", 4 << 20)
            knob(u, "dirty_rate", 0)
        src_u, dst_u = uuids

        deadline = time.monotonic() + STEP
        src, src_err = qemu(work, "src", src_u, [])
        procs.append(src)
        dst, dst_err = qemu(work, "dst", dst_u,
                            ["-incoming", "unix:%s/mig.sock" % work])
        procs.append(dst)

        qs = qd = None
        try:
            qs = Qmp("%s/src.qmp" % work, src, deadline)
            tap(has_device(qs), "source QEMU realizes vfio-pci with the instance, enable-migration=on")
        except Exception as e:      # noqa: BLE001 (reported as the failure)
            tap(False, "source QEMU realizes vfio-pci with the instance: %s" % e)
            diag(stderr_of(src_err))
        try:
            qd = Qmp("%s/dst.qmp" % work, dst, deadline)
            tap(has_device(qd), "destination QEMU realizes it (-incoming)")
        except Exception as e:      # noqa: BLE001
            tap(False, "destination QEMU realizes it: %s" % e)
            diag(stderr_of(dst_err))

        status = "not started"
        if qs and qd:
            try:
                qs.cmd("migrate", uri="unix:%s/mig.sock" % work)
                end = time.monotonic() + STEP
                while time.monotonic() < end:
                    status = qs.cmd("query-migrate").get("status", "?")
                    if status in ("completed", "failed", "cancelled"):
                        break
                    time.sleep(0.5)
            except Exception as e:  # noqa: BLE001
                status = "error: %s" % e
        tap(status == "completed", "migration completes (status %s)" % status)

        same = False
        if status == "completed":
            same = checksum(src_u) == checksum(dst_u)
        tap(same, "the destination instance holds the source's state")

        for q in (qs, qd):
            if q:
                try:
                    q.cmd("quit")
                except Exception:   # noqa: BLE001 (it may close first)
                    pass
        for p in procs:
            try:
                p.wait(timeout=STEP)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        errs = stderr_of(src_err) + stderr_of(dst_err)
        # Expected: an mdev behind the emulated IOMMU has no IOMMU dirty
        # tracking, and a device without DMA offers none of its own; QEMU
        # then counts all guest RAM as dirty, which is correct.
        expected = "doesn't support device and IOMMU dirty tracking"
        bad = [l for l in errs.splitlines()
               if "vfio" in l.lower() and expected not in l]
        tap(not bad, "no other vfio error or warning from either QEMU")
        diag("\n".join(bad))
        tap(src.returncode == 0 and dst.returncode == 0,
            "both QEMUs exit 0 (%s, %s)" % (src.returncode, dst.returncode))
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()
        for u in uuids:
            try:
                with open("%s/%s/remove" % (DEVS, u), "w") as f:
                    f.write("1")
            except OSError:
                pass
        shutil.rmtree(work, ignore_errors=True)
    if n != PLAN:
        diag("ran %d of %d cases" % (n, PLAN))
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
