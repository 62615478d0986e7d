#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""VM test of the KMS output (CTest label "vm").

Boots Debian's 6.1 kernel (extracted from the package into the cache that
tests/xen-qemu/fetch.sh fills, never installed on the host) in QEMU (TCG)
with a virtual GPU, and runs this build's vdispld in a busybox initramfs:
    vdispld --hypervisor sim --output kms --sim-guests N --sim-frames F ...
When every flip of the simulated guests has its event (the status line on
the serial console), QEMU's monitor takes a screendump, which is compared
pixel by pixel with the pattern the guests drew (src/simfront/
simfront_client.c): the last frame of each guest at the place the layout
gives it (side by side cells, centred, cropped around the centre), black
elsewhere. Then vdispld is stopped (SIGTERM) and must give the display
back: its summary line is checked (flips == events == N * F, no errors)
and a second screendump must no longer show the guests.

With --place N=MAPPING the simulated guest sim-guest-N gets a guest
configuration file (guests.d/sim-guest-N.conf: connector.0 = MAPPING):
a rectangle X,Y,WxH of the screen coordinates (the displays side by side,
each as wide as its preferred mode) or a display's name (Virtual-2). The
expected picture then follows that placement (kms_conn.c): rectangles
clipped to the mode, opaque, stacked in name order; every head with a
guest is dumped (QEMU's screendump of that head) and compared whole.
--edid: the simulated guests ask for their EDID (GET_EDID); a guest on a
display by name and alone on it must get the bytes of that display's EDID
as the VM's kernel has them (/sys/class/drm/card0-NAME/edid), any other
(or one whose display has no EDID) the synthesised 128-byte one (vendor "VDP").
--hotplug: while the guests flip, Virtual-1 is unplugged from the guest's
side (sysfs status "off": the kernel re-probes the connector, which is
then disconnected), and a kernel uevent announces it. virtio-gpu in 6.1
does not poll its connectors, so the status write itself sends none; the
test asks the kernel for the card's "change" uevent (writing to its
uevent file, what udevadm trigger does), which vdispld handles as it
handles a driver's HOTPLUG=1 event. The flip events must go on (counted)
while the display is away; then it is plugged back ("detect" and the
uevent) and the final picture must be pixel-exact.
--be-alloc: the simulated guests ask for backend-allocated buffers, which
the KMS output allocates as the GPU's dumb buffers and imports back as
DRM fbs: every frame must be scanned out with no copy (the "plane use"
line at exit: nothing composed; copies per flip 0.00).
--outputs N gives the virtio GPU N outputs; --force-on NAME switches a
connector on from the guest's side (sysfs status) before vdispld starts,
since QEMU without a UI connects only the first output.
--gpu vkms: no QEMU GPU; Debian's kernel lacks vkms, so build-vkms.sh
builds vkms.ko once into the cache (from linux-source-6.1 against the
kernel's own headers) and the initramfs loads it after its dependencies
(modinfo's depends, modules.dep) with enable_overlay=1: 8 overlay planes,
positioned but not scaled, composed by vkms in software, with a CRC of the
composed output in debugfs (crtc-0/crc). QEMU's screendump cannot see vkms,
so the picture is checked by CRC, in one boot with vdispld run twice on
the same still scene (the guests stop after F frames and keep their last):
first as it chooses, then with --again ARGS added (default --copy: CPU
composition into the primary plane, the path the screendump tests verify
pixel by pixel). Each run: every flip gets its event, then 8 CRC records
(frames increasing) must all be one value, the still CRC; vdispld stopped,
its summary (flips == events == N * F, no errors), latency and plane use
lines read. The two still CRCs must be equal, differ from the CRCs without
vdispld (the console, before the first run and after each), and the
second run must copy. Last, kept apart ("OVERLAY:" when they fail), the
overlay assertions on the first run: "kms: plane use: direct=D overlay=O
composed=C" with O > 0 and C = 0, and 0.00 copies per flip.
The init script's command loop ("run CMD", "stop") also takes "again
ARGS" after VDTEST-EXIT (vdispld started again with ARGS added); "crc
LABEL" run by it prints "VDTEST-CRC LABEL FRAME CRC" lines.
--late-on NAME: the display NAME is connected only while the guests flip
(sysfs status "on" and the card's "change" uevent, as --hotplug does):
vdispld must give it a head and move onto it the guests whose --place
names it (placed by default until then), every flip still getting its
event; the final pictures are then checked as for --place.

Usage: vm_test.py VDISPLD WORKDIR [--guests N] [--frames F] [--resolution WxH]
                  [--gpu virtio|std|vkms] [--timeout S] [--place N=MAPPING]...
                  [--outputs N] [--force-on NAME]... [--late-on NAME] [--be-alloc]
                  [--again ARGS]
Environment: VD_XEN_CACHE (default /var/cache/vdispld-xen-qemu).
Prints "vm-test: ..." lines with the timings, the flip rate, the counts and
the flip latencies vdispld logs at exit (request->commit, request->done,
copies per flip; reported, not checked).
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.environ.get("VD_XEN_CACHE", "/var/cache/vdispld-xen-qemu")
STAGE = os.path.join(CACHE, "stage")
GPU_MODULES = {"virtio": ["virtio_pci", "virtio-gpu"], "std": ["bochs"], "vkms": []}
# vkms (no QEMU device): built out of tree by build-vkms.sh, loaded with its
# 8 overlay planes
VKMS_PARAMS = "enable_overlay=1"

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t debugfs debugfs /sys/kernel/debug
mkdir -p /dev/shm /tmp
mount -t tmpfs shm /dev/shm
mount -t tmpfs tmp /tmp
echo 1 > /proc/sys/kernel/printk
# one module a line, with its parameters
while read -r m margs; do
    insmod /lib/modules/$m.ko $margs || echo "VDTEST insmod $m failed"
done < /modules.order
i=0
while [ ! -e /dev/dri/card0 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
ls /dev/dri
# crc LABEL: 8 records of vkms' CRC of what crtc-0 shows (one per vblank,
# "VDTEST-CRC LABEL FRAME CRC"); "none" when no vblank comes in 20 s
crc() {
    d=/sys/kernel/debug/dri/0/crtc-0/crc
    echo auto > $d/control || { echo "VDTEST-CRC $1 none none"; return; }
    timeout 20 dd if=$d/data bs=64 count=8 2>/dev/null | tr '\0' '\n' | grep . > /tmp/crc
    [ -s /tmp/crc ] || echo "0x0 none" > /tmp/crc
    while read -r f c; do echo "VDTEST-CRC $1 $f $c"; done < /tmp/crc
}
[ -f /pre.sh ] && . /pre.sh
start() {
    echo VDTEST-START
    LD_LIBRARY_PATH=/lib /bin/vdispld $(cat /vdispld.args) "$@" &
    pid=$!
    echo $pid > /tmp/vdispld.pid
}
start
# the host writes commands to the second serial port: "run CMD" runs CMD,
# "stop" stops vdispld (VDTEST-EXIT), "again ARGS" starts it again with
# its arguments and ARGS
exec 3< /dev/ttyS1
while read -r line <&3; do
    case "$line" in
    stop*)
        if [ -n "$pid" ]; then
            kill -TERM $pid
            wait $pid
            echo "VDTEST-EXIT $?"
            pid=
        fi ;;
    again*) [ -z "$pid" ] && start ${line#again} ;;
    run\ *) eval "${line#run }"; echo "VDTEST-RAN ${line#run }" ;;
    esac
done
while true; do sleep 1000; done
"""


def say(*a):
    print("vm-test:", *a, flush=True)


def fail(msg):
    say("FAIL:", msg)
    sys.exit(1)


def ensure_cache():
    if glob_one(os.path.join(STAGE, "boot"), "vmlinuz-6.1") and \
            os.path.exists(os.path.join(STAGE, "bin", "busybox")):
        return
    fetch = os.path.join(HERE, "..", "xen-qemu", "fetch.sh")
    say("fetching the Debian kernel and busybox with", fetch)
    subprocess.run([fetch], check=True, timeout=1800)


CTL_SOCKET = "/tmp/vdispld.sock"


def VDISPCTL(args):
    """vdispctl of the same build as the vdispld under test."""
    return os.path.join(os.path.dirname(args.vdispld), "vdispctl")


def scanout_status(vm, label):
    """vdispctl --json status in the VM: each connector's scanout, by guest name."""
    tag = "VDTEST-STATUS-%s" % label
    vm.ctl.sendall(("run echo %s $(LD_LIBRARY_PATH=/lib /bin/vdispctl --socket %s --json "
                    "status)\n" % (tag, CTL_SOCKET)).encode())
    m = vm.wait_for(lambda log: re.search(tag + r" (\{.*\})\s*$", log, re.M), 60,
                    "vdispctl status (%s)" % label)
    try:
        st = json.loads(m.group(1))
    except ValueError as e:
        fail("%s: vdispctl --json status is not JSON (%s): %s" % (label, e, m.group(1)[:200]))
    # the text form: one "connector N: ..., on DISPLAY ..." line per connector
    ttag = "VDTEST-TSTATUS-%s" % label
    vm.ctl.sendall(("run LD_LIBRARY_PATH=/lib /bin/vdispctl --socket %s status | "
                    "sed -n 's/^ *connector /%s connector /p'\n" % (CTL_SOCKET, ttag)).encode())
    vm.wait_for(lambda log: "VDTEST-RAN LD_LIBRARY_PATH=/lib /bin/vdispctl --socket %s status"
                % CTL_SOCKET in log.split(tag)[-1], 60, "vdispctl status text (%s)" % label)
    text = re.findall(r"^" + ttag + r" (connector .*?)\s*$", vm.log[vm.base:], re.M)
    out = {}
    for g in st["guests"]:
        for d in g["devices"]:
            for c in d["connectors"]:
                out["%s:%d" % (g["name"], c["index"])] = c["scanout"]
    say("%s: vdispctl status scanout: %s" % (label, ", ".join(
        "%s %s" % (k, "none" if v is None else "%s %s%s" % (
            v["display"], v["path"], " %d" % v["overlay"] if v["path"] == "overlay" else ""))
        for k, v in sorted(out.items()))))
    for line in text:
        say("%s: vdispctl status: %s" % (label, line))
    return out, text


def ensure_vkms():
    """vkms.ko for the cached kernel (built once into the cache)."""
    out = subprocess.run([os.path.join(HERE, "build-vkms.sh")], check=True, timeout=1800,
                         stdout=subprocess.PIPE, text=True).stdout.split()
    if not out or not os.path.exists(out[-1]):
        fail("build-vkms.sh gave no module")
    return out[-1]


def glob_one(d, prefix):
    try:
        names = sorted(n for n in os.listdir(d) if n.startswith(prefix))
    except FileNotFoundError:
        return None
    return os.path.join(d, names[-1]) if names else None


def module_deps(moddir, names):
    """Modules to insmod, dependencies first (from modules.dep)."""
    deps, paths = {}, {}
    with open(os.path.join(moddir, "modules.dep")) as f:
        for line in f:
            path, _, rest = line.partition(":")
            name = os.path.basename(path)[:-len(".ko")]
            paths[name] = path
            deps[name] = [os.path.basename(p)[:-len(".ko")] for p in rest.split()]
    order = []

    def visit(n):
        n2 = n if n in paths else n.replace("-", "_")
        if n2 not in paths:
            n2 = n.replace("_", "-")
        if n2 not in paths:
            return  # built in
        for d in deps[n2]:
            visit(d)
        if n2 not in order:
            order.append(n2)
    for n in names:
        visit(n)
    return order, paths


def copy_libs(binary, root):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    for m in re.finditer(r"(/\S+) \(0x", out):
        lib = m.group(1)
        dst = os.path.join(root, lib.lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(os.path.realpath(lib), dst)
        libdst = os.path.join(root, "lib", os.path.basename(lib))
        if not os.path.exists(libdst):
            shutil.copy2(os.path.realpath(lib), libdst)


def build_initramfs(args, work, kver):
    root = os.path.join(work, "root")
    shutil.rmtree(root, ignore_errors=True)
    for d in ("bin", "lib/modules", "proc", "sys", "dev", "tmp", "lib64"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy2(os.path.join(STAGE, "bin", "busybox"), os.path.join(root, "bin", "busybox"))
    shutil.copy2(args.vdispld, os.path.join(root, "bin", "vdispld"))
    copy_libs(args.vdispld, root)
    if args.gpu == "vkms":  # asked how each guest is shown (vdispctl status)
        shutil.copy2(VDISPCTL(args), os.path.join(root, "bin", "vdispctl"))
        copy_libs(VDISPCTL(args), root)
    moddir = os.path.join(STAGE, "lib", "modules", kver)
    names, lines = GPU_MODULES[args.gpu], []
    if args.gpu == "vkms":
        vkms = ensure_vkms()
        names = subprocess.run(["modinfo", "-F", "depends", vkms], check=True,
                               capture_output=True, text=True).stdout.strip().split(",")
        shutil.copy2(vkms, os.path.join(root, "lib/modules", "vkms.ko"))
    order, paths = module_deps(moddir, [n for n in names if n])
    for n in order:
        shutil.copy2(os.path.join(moddir, paths[n]), os.path.join(root, "lib/modules", n + ".ko"))
        lines.append(n)
    if args.gpu == "vkms":
        lines.append("vkms " + VKMS_PARAMS)
    with open(os.path.join(root, "modules.order"), "w") as f:
        f.write("\n".join(lines) + "\n")
    w, h = args.resolution.split("x")
    vargs = ["--hypervisor", "sim", "--output", "kms", "--sim-guests", str(args.guests),
             "--sim-resolution", args.resolution, "--sim-frames", str(args.frames),
             "--status-interval", "1"]
    if args.connectors > 1:
        vargs += ["--sim-connectors", str(args.connectors)]
    if args.span:
        vargs.append("--sim-span")
    if args.churn:
        vargs.append("--sim-churn")
    if args.edid:
        vargs.append("--sim-get-edid")
    if args.be_alloc:
        vargs.append("--sim-be-alloc")
    if args.gpu == "vkms":
        vargs += ["--control-socket", CTL_SOCKET]
    if args.place:
        gdir = os.path.join(root, "etc", "vdispld", "guests.d")
        os.makedirs(gdir, exist_ok=True)
        with open(os.path.join(root, "etc", "vdispld", "vdispld.conf"), "w") as f:
            f.write("# written by vm_test.py\n")
        for n, mapping in args.place.items():
            with open(os.path.join(gdir, "sim-guest-%d.conf" % n), "w") as f:
                f.write("connector.0 = %s\n" % mapping)
        vargs += ["--config", "/etc/vdispld/vdispld.conf"]
    with open(os.path.join(root, "pre.sh"), "w") as f:
        for name in args.force_on:
            f.write("echo on > /sys/class/drm/card0-%s/status\n" % name)
        f.write("cat /sys/class/drm/card0-*/status\n")
        # each connector's EDID as the kernel has it, for --edid
        f.write("for d in /sys/class/drm/card0-*; do echo \"VDTEST-EDID ${d#*card0-} "
                "$(od -An -v -tx1 $d/edid | tr -d ' \\n')\"; done\n")
        if args.gpu == "vkms":
            f.write("crc before\n")  # the console's picture, before vdispld
    with open(os.path.join(root, "vdispld.args"), "w") as f:
        f.write(" ".join(vargs) + "\n")
    with open(os.path.join(root, "init"), "w") as f:
        f.write(INIT)
    os.chmod(os.path.join(root, "init"), 0o755)
    img = os.path.join(work, "initrd.cpio.gz")
    subprocess.run("find . -print0 | cpio --null -o -H newc --quiet | gzip -1 > " + img,
                   shell=True, cwd=root, check=True)
    return img


class Vm:
    def __init__(self, args, work, kernel, initrd):
        self.serial = os.path.join(work, "serial.log")
        self.mon_path = os.path.join(work, "mon.sock")
        self.ctl_path = os.path.join(work, "ctl.sock")
        for p in (self.serial, self.mon_path, self.ctl_path):
            if os.path.exists(p):
                os.unlink(p)
        gpu = {"virtio": ["-device", "virtio-gpu-pci,id=gpu,max_outputs=%d" % args.outputs],
               "std": ["-vga", "std"], "vkms": []}[args.gpu]
        cmd = ["qemu-system-x86_64", "-accel", "tcg", "-m", "768", "-smp", "1",
               "-nodefaults", "-no-user-config", "-display", "none", *gpu,
               "-kernel", kernel, "-initrd", initrd,
               "-append", "console=ttyS0 panic=-1 loglevel=4 rdinit=/init",
               "-serial", "file:" + self.serial,
               "-chardev", "socket,id=ctl,path=%s,server=on,wait=off" % self.ctl_path,
               "-serial", "chardev:ctl",
               "-monitor", "unix:%s,server=on,wait=off" % self.mon_path,
               "-no-reboot"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        self.mon = self.ctl = None
        self.pos = 0
        self.log = ""
        self.base = 0  # wait_for looks at the log from here (one vdispld run)

    def connect(self, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            try:
                self.mon = socket.socket(socket.AF_UNIX)
                self.mon.connect(self.mon_path)
                self.ctl = socket.socket(socket.AF_UNIX)
                self.ctl.connect(self.ctl_path)
                self.hmp(None)
                return
            except OSError:
                time.sleep(0.2)
        fail("cannot reach the QEMU monitor")

    def hmp(self, cmd, timeout=120):
        if cmd:
            self.mon.sendall((cmd + "\n").encode())
        buf = b""
        self.mon.settimeout(timeout)
        while not buf.endswith(b"(qemu) "):
            chunk = self.mon.recv(4096)
            if not chunk:
                fail("QEMU monitor closed")
            buf += chunk
        return buf.decode(errors="replace")

    def read_serial(self):
        with open(self.serial, "rb") as f:
            f.seek(self.pos)
            data = f.read()
        self.pos += len(data)
        text = data.decode(errors="replace")
        if text:
            sys.stdout.write(text)
            sys.stdout.flush()
        self.log += text
        return text

    def wait_for(self, pred, timeout, what):
        end = time.time() + timeout
        while time.time() < end:
            self.read_serial()
            m = pred(self.log[self.base:])
            if m:
                return m
            if "VDTEST-EXIT" in self.log[self.base:] and what != "vdispld to exit":
                fail("vdispld exited while waiting for %s" % what)
            if self.proc.poll() is not None:
                fail("QEMU exited (%d) waiting for %s" % (self.proc.returncode, what))
            time.sleep(0.25)
        fail("timed out after %d s waiting for %s" % (timeout, what))

    def screendump(self, path, head=None):
        if os.path.exists(path):
            os.unlink(path)
        self.hmp("screendump " + path + ("" if head is None else " gpu %d" % head))
        return read_ppm(path)

    def stop(self):
        try:
            self.mon.sendall(b"quit\n")
        except (OSError, AttributeError):
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    m = re.match(rb"P6\s+(?:#.*\s+)*(\d+)\s+(\d+)\s+(\d+)\s", data)
    if not m:
        fail("screendump %s is not a PPM" % path)
    w, h = int(m.group(1)), int(m.group(2))
    return w, h, data[m.end():m.end() + w * h * 3]


# ---- the expected picture: the layout (kms_logic.c) and the pattern (simfront_client.c) ----

def cell(sw, sh, n, i):
    w = sw // n
    return (i * w, 0, sw - i * w if i == n - 1 else w, sh)


def fit_axis(span, length):
    if length <= span:
        return 0, (span - length) // 2, length
    return (length - span) // 2, 0, span


def fit(c, w, h):
    sx, dx, vw = fit_axis(c[2], w)
    sy, dy, vh = fit_axis(c[3], h)
    return (sx, sy), (c[0] + dx, c[1] + dy), (vw, vh)


def expected_row(sx, y, vw, n, seed):
    row = bytearray(vw * 3)
    for i in range(vw):
        px = sx + i
        row[3 * i] = ((px ^ y) + seed) & 255      # R
        row[3 * i + 1] = (y * 2 + n) & 255        # G
        row[3 * i + 2] = (px * 2 + n * 3) & 255   # B
    return row


def check_picture(img, src, dst, size, frame):
    """The guest's last frame at dst; returns its seed (low byte) or fails."""
    w, h, px = img
    (sx, sy), (dx, dy), (vw, vh) = src, dst, size
    o = ((dy + 1) * w + dx) * 3 if vh > 1 else (dy * w + dx + 2) * 3
    r = px[o]
    y0, x0 = (sy + 1, sx) if vh > 1 else (sy, sx + 2)
    seed = (r - (x0 ^ y0)) & 255
    bad = 0
    for j in range(vh):
        y = sy + j
        exp = expected_row(sx, y, vw, frame, seed)
        if y == 0 and sx < 2:
            # the stamp: frame number and seed, little endian (X byte not visible)
            f, s = frame, seed
            for k, v in ((0, f), (1, None)):
                if k - sx < 0 or k - sx >= vw:
                    continue
                if v is None:
                    exp[3 * (k - sx):3 * (k - sx) + 3] = px[(dy * w + dx + k - sx) * 3:
                                                            (dy * w + dx + k - sx) * 3 + 3]
                else:
                    exp[3 * (k - sx):3 * (k - sx) + 3] = bytes(
                        [(v >> 16) & 255, (v >> 8) & 255, v & 255])
        got = px[((dy + j) * w + dx) * 3:((dy + j) * w + dx + vw) * 3]
        if got != bytes(exp):
            bad += 1
            if bad <= 3:
                first = next(i for i in range(len(got)) if got[i] != exp[i]) // 3
                say("row %d differs from x=%d: got %s want %s" % (
                    y, sx + first, got[3 * first:3 * first + 3].hex(),
                    bytes(exp[3 * first:3 * first + 3]).hex()))
    if bad:
        fail("%d of %d rows of the picture at %d,%d differ" % (bad, vh, dx, dy))
    return seed


def check_black_outside(img, rects):
    w, h, px = img
    covered = bytearray(w * h)
    for (x, y, rw, rh) in rects:
        for j in range(y, y + rh):
            covered[j * w + x:j * w + x + rw] = b"\1" * rw
    for i in range(w * h):
        if not covered[i] and px[3 * i:3 * i + 3] != b"\0\0\0":
            fail("pixel %d,%d outside the pictures is %s, not black" % (
                i % w, i // w, px[3 * i:3 * i + 3].hex()))


def check_screen(img, args, mode):
    sw, sh = mode
    if (img[0], img[1]) != (sw, sh):
        fail("screendump is %dx%d, the mode %dx%d" % (img[0], img[1], sw, sh))
    gw, gh = (int(v) for v in args.resolution.split("x"))
    seeds, rects = [], []
    for i in range(args.guests * args.connectors):
        src, dst, size = fit(cell(sw, sh, args.guests * args.connectors, i), gw, gh)
        seeds.append(check_picture(img, src, dst, size, args.frames))
        rects.append((dst[0], dst[1], size[0], size[1]))
        say("guest %d: frame %d at %d,%d size %dx%d (source from %d,%d), seed byte %#x" % (
            i + 1, args.frames, dst[0], dst[1], size[0], size[1], src[0], src[1], seeds[-1]))
    if len(set(seeds)) != len(seeds):
        fail("two cells show the same guest (seeds %s)" % seeds)
    check_black_outside(img, rects)
    # the order of guests in cells follows connector creation: any order is fine


# ---- configured placement (kms_conn.c, kms_logic.c) ----

def parse_rect(m):
    r = re.fullmatch(r"(\d+),(\d+),(\d+)x(\d+)", m)
    return tuple(int(v) for v in r.groups()) if r else None


def clip(r, sw, sh):
    x, y, w, h = r
    if x >= sw or y >= sh:
        return None
    return (x, y, min(w, sw - x), min(h, sh - y))


def displays(log):
    """[(name, preferred w, h)] in the kernel's order, as vdispld found them."""
    return [(m.group(1), int(m.group(2)), int(m.group(3))) for m in re.finditer(
        r"kms: display (\S+): \d+ modes, preferred (\d+)x(\d+)", log)]


def placements(args, log):
    """{head name: [(guest index, place rect)] in stacking order}."""
    disp = displays(log)
    heads = {}
    for g in range(1, args.guests + 1):
        m = args.place.get(g)
        r = parse_rect(m) if m else None
        if r:
            x0 = 0
            for name, pw, _ in disp:
                if x0 <= r[0] < x0 + pw:
                    heads.setdefault(name, []).append((g, (r[0] - x0, r[1], r[2], r[3])))
                    break
                x0 += pw
            else:
                fail("test: rectangle %s is right of every display" % m)
        else:
            heads.setdefault(m or disp[0][0], []).append((g, None))
    return heads


def modes(log):
    return {m.group(1): (int(m.group(2)), int(m.group(3))) for m in re.finditer(
        r"kms: (\S+): mode (\d+)x(\d+)@\d+", log)}


def paint(canvas, sw, src, dst, size, frame, seed):
    (sx, sy), (dx, dy), (vw, vh) = src, dst, size
    for j in range(vh):
        row = expected_row(sx, sy + j, vw, frame, seed)
        if sy + j == 0 and sx == 0 and vw >= 1:
            row[0:3] = bytes([(frame >> 16) & 255, (frame >> 8) & 255, frame & 255])
        o = ((dy + j) * sw + dx) * 3
        canvas[o:o + vw * 3] = row


def check_layout(log, g, head, dst, size):
    """What vd_output_conn_layout says (logged at placement): the picture in screen coordinates."""
    x0 = 0
    for name, pw, _ in displays(log):
        if name == head:
            break
        x0 += pw
    # the last one: a guest that moved (a display connected later) is logged again
    ms = list(re.finditer(r"kms: sim-guest-%d:0 on \S+ at .*, picture at (\d+),(\d+) (\d+)x(\d+) "
                          r"of the screen" % g, log))
    m = ms[-1] if ms else None
    want = (x0 + dst[0], dst[1], size[0], size[1])
    if not m or tuple(int(v) for v in m.groups()) != want:
        fail("guest %d: layout %s, expected the picture at %s in screen coordinates" % (
            g, m.groups() if m else None, want))


def check_placed(vm, args):
    gw, gh = (int(v) for v in args.resolution.split("x"))
    md = modes(vm.log)
    for head, guests in sorted(placements(args, vm.log).items()):
        if head not in md:
            fail("display %s got no mode" % head)
        sw, sh = md[head]
        idx = int(head.rsplit("-", 1)[1]) - 1
        img = vm.screendump(os.path.join(args.work, "screen-%s.ppm" % head), idx)
        if (img[0], img[1]) != (sw, sh):
            fail("screendump of %s is %dx%d, the mode %dx%d" % (head, img[0], img[1], sw, sh))
        unplaced = [g for g, r in guests if r is None]
        canvas = bytearray(sw * sh * 3)
        for g, r in sorted(guests):
            place = clip(r, sw, sh) if r else cell(sw, sh, len(unplaced), unplaced.index(g))
            if not place:
                fail("test: rectangle of guest %d is off the screen" % g)
            for j in range(place[3]):
                o = ((place[1] + j) * sw + place[0]) * 3
                canvas[o:o + place[2] * 3] = bytes(place[2] * 3)
            src, dst, size = fit(place, gw, gh)
            # the seed from the guest's second row (its first carries the stamp)
            (sx, sy), (dx, dy) = src, dst
            o = ((dy + 1) * sw + dx) * 3
            seed = (img[2][o] - (sx ^ (sy + 1))) & 255
            paint(canvas, sw, src, dst, size, args.frames, seed)
            check_layout(vm.log, g, head, dst, size)
            if sy == 0 and sx <= 1 < sx + size[0]:
                o = (dy * sw + dx + 1 - sx) * 3  # the stamp's seed: taken as shown
                canvas[o:o + 3] = img[2][o:o + 3]
            say("%s: guest %d at %d,%d size %dx%d (place %s), seed byte %#x" % (
                head, g, dst[0], dst[1], size[0], size[1], place, seed))
        got = img[2]
        if got != bytes(canvas):
            bad = [i // 3 for i in range(0, len(got), 3) if got[i:i + 3] != canvas[i:i + 3]]
            for i in bad[:5]:
                say("%s: pixel %d,%d is %s, expected %s" % (
                    head, i % sw, i // sw, got[3 * i:3 * i + 3].hex(),
                    bytes(canvas[3 * i:3 * i + 3]).hex()))
            fail("%s: %d pixels differ from the configured placement" % (head, len(bad)))
        say("%s: %dx%d screen matches the configured placement pixel for pixel" % (head, sw, sh))


def check_edid(vm, args):
    """GET_EDID's answer per guest against the kernel's EDID of its display."""
    kernel = dict(re.findall(r"VDTEST-EDID (\S+) ([0-9a-f]*)", vm.log))
    got = {int(m.group(1)): m.group(2) for m in re.finditer(
        r"simfront sim-guest-(\d+) conn 0: EDID \d+ bytes ([0-9a-f]*) \(status 0\)", vm.log)}
    where = {int(m.group(1)): (m.group(2), bool(m.group(3))) for m in re.finditer(
        r"kms: sim-guest-(\d+):0 on (\S+) at \S+ \S+( \(configured\))?,", vm.log)}
    for g in range(1, args.guests + 1):
        if g not in got:
            fail("guest %d logged no EDID" % g)
        head, rect = where[g]
        alone = sum(1 for h, _ in where.values() if h == head) == 1
        one_to_one = alone and args.place.get(g) == head
        disp = kernel.get(head, "")
        if one_to_one and disp:
            if got[g] != disp:
                fail("guest %d on %s: GET_EDID gave %d bytes, not the display's %d" % (
                    g, head, len(got[g]) // 2, len(disp) // 2))
            say("guest %d: GET_EDID = %s's EDID, %d bytes, byte for byte" % (
                g, head, len(disp) // 2))
        else:
            e = bytes.fromhex(got[g])
            vendor = e[8] << 8 | e[9]
            name = "".join(chr(64 + (vendor >> s & 31)) for s in (10, 5, 0))
            if len(e) != 128 or e[:8] != bytes.fromhex("00ffffffffffff00") or name != "VDP" \
                    or sum(e) % 256:
                fail("guest %d: expected the synthesised EDID, got %s" % (g, got[g]))
            say("guest %d on %s (%s): synthesised EDID, vendor %s" % (
                g, head, "the display has no EDID" if one_to_one else "not 1:1", name))


def events_now(log):
    ev = re.findall(r"status: .*? (\d+) events", log)
    return int(ev[-1]) if ev else 0


def hotplug(vm, args):
    """Unplug Virtual-1 mid-run, count the events while it is away, plug it back."""
    status = "/sys/class/drm/card0-Virtual-1/status"
    want = args.guests * args.frames
    vm.wait_for(lambda log: events_now(log) >= 60, args.timeout, "60 flip events")
    uevent = "echo change > /sys/class/drm/card0/uevent"
    vm.ctl.sendall(("run echo off > %s; %s\n" % (status, uevent)).encode())
    vm.wait_for(lambda log: "Virtual-1: display unplugged" in log, 60,
                "vdispld to see the display go (HOTPLUG uevent)")
    e0, t0 = events_now(vm.log), time.time()
    vm.wait_for(lambda log: events_now(log) >= min(e0 + 60, want - 30), 120,
                "flip events while the display is away")
    e1, t1 = events_now(vm.log), time.time()
    if e1 - e0 < 30:
        fail("only %d flip events in %.1f s while unplugged" % (e1 - e0, t1 - t0))
    say("unplugged: %d flip events in %.1f s (%.1f/s) while the display was away" % (
        e1 - e0, t1 - t0, (e1 - e0) / max(t1 - t0, 1e-3)))
    vm.ctl.sendall(("run echo detect > %s; %s\n" % (status, uevent)).encode())
    vm.wait_for(lambda log: "Virtual-1: display plugged back" in log, 60,
                "vdispld to see the display come back")
    e2 = events_now(vm.log)
    vm.wait_for(lambda log: events_now(log) >= min(e2 + 30, want), args.timeout,
                "flip events after the display came back")
    say("plugged back: flips go on (%d -> %d events)" % (e2, events_now(vm.log)))


def late_plug(vm, args):
    """Connect display NAME mid-run; the guests mapped to it must move there."""
    name, q = args.late_on, re.escape(args.late_on)
    placed = lambda log: all(re.search(r"kms: sim-guest-%d:0 on " % g, log)
                             for g in range(1, args.guests + 1))
    vm.wait_for(lambda log: placed(log) and events_now(log) >= 60, args.timeout,
                "every guest placed and 60 flip events")
    if re.search(r"kms: display %s:" % q, vm.log):
        fail("%s was connected at start" % name)
    # it comes right of the displays there: rectangles starting there wait for it too
    x_end = sum(pw for _, pw, _ in displays(vm.log))
    mapped = sorted(g for g, m in args.place.items()
                    if (parse_rect(m)[0] >= x_end if parse_rect(m) else m == name))
    for g in mapped:
        if not re.search(r"kms: sim-guest-%d:0: connector mapping %s: (no such display "
                         r"connected|starts right of every display) .*placed by default "
                         r"until" % (g, re.escape(args.place[g])), vm.log):
            fail("guest %d: no warning that its display is missing" % g)
    uevent = "echo change > /sys/class/drm/card0/uevent"
    e0, t0 = events_now(vm.log), time.time()
    vm.ctl.sendall(("run echo on > /sys/class/drm/card0-%s/status; %s\n" % (name, uevent)).encode())
    m = vm.wait_for(lambda log: re.search(
        r"kms: %s: display connected: (\d+)x(\d+)@(\d+), (\d+) connector\(s\).*; "
        r"([\d.]+) ms after the uevent" % q, log), 60, "vdispld to see %s connected" % name)
    say("%s connected %.1f s after the request (%d events before): %sx%s@%s, %s connector(s), "
        "%s ms from the uevent to its modeset and first commit" % (
            name, time.time() - t0, e0, *m.groups()))
    if int(m.group(4)) != len(mapped):
        fail("%s took %s connectors, expected %d" % (name, m.group(4), len(mapped)))
    for g in mapped:
        if not re.search(r"kms: sim-guest-%d:0: moved from \S+ to %s" % (g, q), vm.log):
            fail("guest %d did not move to %s" % (g, name))
    if mapped:
        f = vm.wait_for(lambda log: re.search(
            r"kms: %s: first flip on it \(\S+\) ([\d.]+) ms after the uevent" % q, log),
            60, "the first flip on %s" % name)
        say("first flip on %s %s ms after the uevent" % (name, f.group(1)))
    e1 = events_now(vm.log)
    vm.wait_for(lambda log: events_now(log) >= min(e1 + 30, args.guests * args.frames),
                args.timeout, "flip events after %s was connected" % name)
    say("flips go on (%d -> %d events)" % (e1, events_now(vm.log)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vdispld")
    ap.add_argument("work")
    ap.add_argument("--guests", type=int, default=1)
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--resolution", default="1024x768")
    ap.add_argument("--gpu", choices=("virtio", "std", "vkms"), default="virtio")
    ap.add_argument("--timeout", type=int, default=600)
    ap.add_argument("--place", action="append", default=[])
    ap.add_argument("--outputs", type=int, default=1)
    ap.add_argument("--force-on", action="append", default=[])
    ap.add_argument("--edid", action="store_true")
    ap.add_argument("--hotplug", action="store_true")
    ap.add_argument("--be-alloc", action="store_true")
    ap.add_argument("--connectors", type=int, default=1, help="per guest (--sim-connectors)")
    ap.add_argument("--churn", action="store_true",
                    help="guests make a fresh buffer every frame and take the shown one "
                         "down at once (--sim-churn)")
    ap.add_argument("--span", action="store_true",
                    help="one framebuffer spans each guest's connectors (--sim-span)")
    ap.add_argument("--late-on")
    ap.add_argument("--again", default="--copy",
                    help="--gpu vkms: the second run's extra vdispld arguments")
    args = ap.parse_args()
    args.place = {int(k): v for k, v in (p.split("=", 1) for p in args.place)}
    t0 = time.time()
    os.makedirs(args.work, exist_ok=True)
    ensure_cache()
    kernel = glob_one(os.path.join(STAGE, "boot"), "vmlinuz-6.1")
    kver = os.path.basename(kernel)[len("vmlinuz-"):]
    initrd = build_initramfs(args, args.work, kver)
    say("initramfs ready in %.1f s; booting %s with %s GPU" % (time.time() - t0, kver, args.gpu))
    vm = Vm(args, args.work, kernel, initrd)
    try:
        (run_vkms if args.gpu == "vkms" else run)(vm, args, t0)
    finally:
        vm.stop()
    say("PASS in %.1f s" % (time.time() - t0))


def check_never_blocked(log):
    """--churn: fbs taken down while on screen cost no commit that waits: the only
    blocking commit is the display's one modeset."""
    m = re.search(r"kms: \d+ page-flip events, \d+ watchdog completions, \d+ hotplug events, "
                  r"(\d+) blocking commits", log)
    if not m:
        fail("no count of blocking commits")
    if int(m.group(1)) != 1:
        fail("%s blocking commits: a guest's fb going off the screen waited for the display"
             % m.group(1))
    say("fbs removed while on screen: 1 blocking commit (the modeset), none for them")


def check_zero_copy(log, copies):
    """--be-alloc: the guests' buffers are the GPU's own; every frame must be scanned out
    directly, none copied."""
    use = re.search(r"kms: plane use: direct=(\d+) overlay=(\d+) composed=(\d+)", log)
    cpf = re.search(r"copies per flip=([\d.]+)", log)
    if not use or not cpf:
        fail("no plane use or copies-per-flip line")
    direct, overlay, composed = (int(g) for g in use.groups())
    say("plane use: direct=%d overlay=%d composed=%d; copies per flip %s" % (
        direct, overlay, composed, cpf.group(1)))
    if copies or composed or float(cpf.group(1)) != 0.0 or direct + overlay == 0:
        fail("backend-allocated buffers were copied, not scanned out")


def report_latency(log, what=""):
    """Print the flip latency line of the KMS output; fail only if it is missing.
    Returns (commit p50, p99, done p50, p99, copies per flip) as strings."""
    m = re.search(r"kms: flip latency request->commit p50=(\d+)us p99=(\d+)us, "
                  r"request->done p50=(\d+)us p99=(\d+)us, copies per flip=([\d.]+)", log)
    if not m:
        fail("no flip latency line" + (" (%s)" % what if what else ""))
    say("%sflip latency: request->commit p50=%s us p99=%s us, request->done p50=%s us "
        "p99=%s us; copies per flip %s" % (((what + ": " if what else ""),) + m.groups()))
    return m.groups()


def run(vm, args, t0):
    vm.connect()
    vm.wait_for(lambda log: "VDTEST-START" in log, args.timeout, "the kernel and the GPU driver")
    t_start = time.time()
    say("booted in %.1f s" % (t_start - t0))
    m = vm.wait_for(lambda log: re.search(r"kms: \S+: mode (\d+)x(\d+)@(\d+)", log),
                    args.timeout, "the modeset")
    mode = (int(m.group(1)), int(m.group(2)))
    want = args.guests * args.connectors * args.frames
    if args.hotplug:
        hotplug(vm, args)
    if args.late_on:
        late_plug(vm, args)
    vm.wait_for(lambda log: any(int(e) >= want for e in re.findall(r"(\d+) events", log)),
                args.timeout, "%d flip events" % want)
    t_done = time.time()
    rates = [float(r) for r in re.findall(r"([\d.]+) flips/s", vm.log)]
    say("all %d flips completed %.1f s after start; peak status rate %.1f flips/s" % (
        want, t_done - t_start, max(rates) if rates else 0.0))
    if args.edid:
        check_edid(vm, args)
    if args.place:
        check_placed(vm, args)
        img = vm.screendump(os.path.join(args.work, "screen.ppm"))
    else:
        img = vm.screendump(os.path.join(args.work, "screen.ppm"))
        check_screen(img, args, mode)
    vm.ctl.sendall(b"stop\n")
    vm.wait_for(lambda log: "VDTEST-EXIT" in log, 120, "vdispld to exit")
    summary = re.search(r"summary: flips=(\d+) events=(\d+) copies=(\d+) requests=(\d+) "
                        r"errors=(\d+) guests=(\d+) seconds=([\d.]+)", vm.log)
    ev = re.search(r"kms: (\d+) page-flip events, (\d+) watchdog completions", vm.log)
    if not summary or not ev:
        fail("no summary line")
    flips, events, copies, _, errors = (int(summary.group(i)) for i in range(1, 6))
    secs = float(summary.group(7))
    say("summary: %d flips, %d events, %d copies, %d errors in %.1f s; "
        "%s KMS page-flip events, %s watchdog completions" % (
            flips, events, copies, errors, secs, ev.group(1), ev.group(2)))
    say("flip rate while flipping: %.1f flips/s (%d guests)" % (
        want / max(t_done - t_start, 1e-3), args.guests))
    report_latency(vm.log)
    if args.be_alloc:
        check_zero_copy(vm.log, copies)
    if args.churn:
        check_never_blocked(vm.log)
    if args.hotplug:
        hp = re.search(r"(\d+) hotplug events", vm.log)
        if not hp or int(hp.group(1)) < 2:
            fail("vdispld counted %s hotplug events, expected 2 or more" % (
                hp.group(1) if hp else "no"))
        say("%s hotplug events handled" % hp.group(1))
    if flips != want or events != want or errors:
        fail("expected %d flips and events and no errors" % want)
    if "VDTEST-EXIT 0" not in vm.log:
        fail("vdispld did not exit cleanly")
    after = vm.screendump(os.path.join(args.work, "after.ppm"))
    if after[2] == img[2]:
        fail("the guests' picture is still on the screen after vdispld exited")
    say("display given back: the screen changed after exit")


# ---- vkms: overlay planes against CPU composition, compared by CRC ----

def crc_records(vm, label):
    """vkms' CRC records of crtc-0 read now in the VM: [(frame, crc)]."""
    vm.ctl.sendall(("run crc %s\n" % label).encode())
    vm.wait_for(lambda log: re.search(r"VDTEST-RAN crc %s\s" % re.escape(label), log), 90,
                "the CRC records (%s)" % label)
    return crcs_logged(vm.log, label)


def crcs_logged(log, label):
    recs = re.findall(r"VDTEST-CRC %s (\S+) (\S+)" % re.escape(label), log)
    say("CRC %s: %s" % (label, " ".join("%s:%s" % r for r in recs)))
    return recs


def still_crc(vm, label):
    """The CRC of a still picture: 4 or more records, frames increasing, one
    value. Read up to three times (the last commit may still be in flight)."""
    for attempt in range(3):
        recs = crc_records(vm, "%s-%d" % (label, attempt))
        frames = [int(f, 16) for f, c in recs if c != "none"]
        vals = {c for f, c in recs}
        if len(frames) < 4 or "none" in vals:
            fail("%s: only %d CRC records (vkms' CRC in debugfs)" % (label, len(frames)))
        if any(b <= a for a, b in zip(frames, frames[1:])):
            fail("%s: CRC frame numbers do not increase: %s" % (label, frames))
        if len(vals) == 1:
            say("%s: still picture, CRC %s over frames %d..%d" % (
                label, recs[0][1], frames[0], frames[-1]))
            return recs[0][1]
        time.sleep(1)
    fail("%s: the picture does not stand still: CRCs %s" % (label, sorted(vals)))


def vkms_run(vm, args, label, extra, t0):
    """One vdispld run on vkms: the flips, the still CRC, the exit lines."""
    want = args.guests * args.connectors * args.frames
    if extra is not None:  # a later run: vdispld again, with more arguments
        vm.base = len(vm.log)
        vm.ctl.sendall(("again %s\n" % extra).encode())
        vm.wait_for(lambda log: "VDTEST-START" in log, 60, "vdispld to start again")
    t_start = time.time()
    m = vm.wait_for(lambda log: re.search(r"kms: (\S+): mode (\d+)x(\d+)@(\d+)", log),
                    args.timeout, "the modeset")
    mode = (int(m.group(2)), int(m.group(3)))
    for g, mapping in sorted(args.place.items()):
        r = parse_rect(mapping)
        if not r or clip(r, *mode) != r:
            fail("test: guest %d's rectangle %s is not inside the %dx%d mode" % (
                g, mapping, mode[0], mode[1]))
    done = vm.wait_for(lambda log: "failed" if "DBUF_CREATE failed" in log else any(
        int(e) >= want for e in re.findall(r"(\d+) events", log)),
        args.timeout, "%d flip events (%s)" % (want, label))
    if done == "failed":
        fail("%s: a guest's DBUF_CREATE failed: %s" % (label, re.findall(
            r"op 0x10 id \d+: status -?\d+", vm.log[vm.base:])[:3]))
    t_done = time.time()
    say("%s: all %d flips completed %.1f s after start (%s mode %dx%d)" % (
        label, want, t_done - t_start, m.group(1), mode[0], mode[1]))
    seg = vm.log[vm.base:]
    for g, mapping in sorted(args.place.items()):
        r = parse_rect(mapping)
        check_layout(seg, g, m.group(1), r[:2], r[2:])
    time.sleep(1)
    still = still_crc(vm, label)
    scanout = scanout_status(vm, label)
    vm.ctl.sendall(b"stop\n")
    vm.wait_for(lambda log: "VDTEST-EXIT" in log, 120, "vdispld to exit")
    seg = vm.log[vm.base:]
    summary = re.search(r"summary: flips=(\d+) events=(\d+) copies=(\d+) requests=(\d+) "
                        r"errors=(\d+) guests=(\d+) seconds=([\d.]+)", seg)
    if not summary:
        fail("%s: no summary line" % label)
    flips, events, copies, _, errors = (int(summary.group(i)) for i in range(1, 6))
    say("%s: summary: %d flips, %d events, %d copies, %d errors in %s s" % (
        label, flips, events, copies, errors, summary.group(7)))
    if flips != want or events != want or errors:
        fail("%s: expected %d flips and events and no errors" % (label, want))
    if "VDTEST-EXIT 0" not in seg:
        fail("%s: vdispld did not exit cleanly" % label)
    lat = report_latency(seg, label)
    cpu = re.search(r"cpu: user=([\d.]+)s system=([\d.]+)s, ([\d.]+) us per flip", seg)
    if not cpu:
        fail("%s: no cpu line" % label)
    say("%s: vdispld CPU user %ss system %ss, %s us per flip (the simulated guests' "
        "drawing included)" % ((label,) + cpu.groups()))
    pu = re.search(r"kms: plane use: direct=(\d+) overlay=(\d+) composed=(\d+)", seg)
    if pu:
        say("%s: plane use: direct=%s overlay=%s composed=%s" % ((label,) + pu.groups()))
    else:
        say("%s: no plane use line (kms: plane use: direct=D overlay=O composed=C)" % label)
    # the display given back: what it shows now, for the comparison's sake
    vm.base = len(vm.log)
    after = [c for f, c in crc_records(vm, "after-" + label)]
    return {"still": still, "copies": float(lat[4]), "latency": lat,
            "plane_use": tuple(int(v) for v in pu.groups()) if pu else None,
            "after": after, "seconds": t_done - t_start, "scanout": scanout,
            "cpu_us": float(cpu.group(3))}


def run_vkms(vm, args, t0):
    """vkms with overlay planes: the same still scene shown twice by vdispld,
    first as it chooses (overlay planes, zero-copy), then with --copy (CPU
    composition into the primary plane); vkms' CRCs of the two must be equal."""
    vm.connect()
    vm.wait_for(lambda log: "VDTEST-START" in log, args.timeout, "the kernel and vkms")
    say("booted in %.1f s" % (time.time() - t0))
    if "VDTEST insmod" in vm.log:
        fail("a module did not load: %s" % re.findall(r"VDTEST insmod \S+ failed", vm.log))
    before = [c for f, c in crcs_logged(vm.log, "before")]
    r1 = vkms_run(vm, args, "overlays", None, t0)
    r2 = vkms_run(vm, args, "copy", args.again, t0)
    blank = set(before) | set(r1["after"]) | set(r2["after"])
    say("still CRC: %s with overlays, %s composed (--copy); without vdispld: %s" % (
        r1["still"], r2["still"], " ".join(sorted(blank))))
    if r1["still"] != r2["still"]:
        fail("the overlays' picture (CRC %s) differs from the composed one (CRC %s)" % (
            r1["still"], r2["still"]))
    if r1["still"] in blank:
        fail("the still CRC %s is also the CRC without vdispld: the comparison proves "
             "nothing" % r1["still"])
    if r2["copies"] <= 0:
        fail("--copy: copies per flip %.2f, expected composition" % r2["copies"])
    say("same picture: CRC %s both ways, and not the picture without vdispld" % r1["still"])
    say("CPU per flip same boot: %.0f us with overlays, %.0f us composed (ratio %.2f)" % (
        r1["cpu_us"], r2["cpu_us"], r2["cpu_us"] / max(r1["cpu_us"], 1e-9)))
    say("latency same run: request->commit p50/p99 %s/%s us with overlays, %s/%s us "
        "composed; copies per flip %.2f vs %.2f" % (
            r1["latency"][0], r1["latency"][1], r2["latency"][0], r2["latency"][1],
            r1["copies"], r2["copies"]))
    # ---- overlay assertions: the daemon's plane use (the overlay path) ----
    pu = r1["plane_use"]
    if pu is None:
        fail("OVERLAY: run 1 printed no 'kms: plane use:' line")
    if pu[1] <= 0 or pu[2] != 0:
        fail("OVERLAY: run 1 plane use direct=%d overlay=%d composed=%d: expected "
             "overlay>0 and composed=0" % pu)
    if r1["copies"] != 0:
        fail("OVERLAY: run 1 copied %.2f times per flip, expected 0 (zero-copy)" % r1["copies"])
    say("overlays: %d connector frames on overlay planes, none composed, 0.00 copies "
        "per flip" % pu[1])
    # what vdispctl status says: each guest on its overlay, stacked in name order
    # (the later name higher); with --copy every one composed
    r1["scanout"], text1 = r1["scanout"]
    r2["scanout"], text2 = r2["scanout"]
    names = sorted(r1["scanout"])
    want1 = {n: {"display": "Virtual-1", "path": "overlay", "overlay": i + 1}
             for i, n in enumerate(names)}
    nconn = args.guests * args.connectors
    if len(names) != nconn or r1["scanout"] != want1:
        fail("OVERLAY: vdispctl status scanout %s, expected %s" % (r1["scanout"], want1))
    want2 = {n: {"display": "Virtual-1", "path": "composed", "overlay": 0} for n in names}
    if r2["scanout"] != want2:
        fail("--copy: vdispctl status scanout %s, expected %s" % (r2["scanout"], want2))
    ends1 = sorted(t.split(", on ")[-1] for t in text1)
    ends2 = sorted(t.split(", on ")[-1] for t in text2)
    if ends1 != ["Virtual-1 overlay %d (no copy)" % (i + 1) for i in range(nconn)] or \
            ends2 != ["Virtual-1 (composed)"] * nconn:
        fail("vdispctl status text: %s / %s" % (text1, text2))
    say("vdispctl status: %d connectors on overlays 1..%d, composed with --copy" % (
        len(names), len(names)))


if __name__ == "__main__":
    main()
