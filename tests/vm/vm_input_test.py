#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""VM test of real input (CTest label "vm").

Boots Debian's kernel in QEMU (TCG) as vm_test.py does, with evdev and
uinput, and Debian's systemd-udevd in the initramfs (extracted from the
udev package matching the host's systemd into the cache, never installed
on the host) so that libinput finds the devices with their ID_INPUT_*
properties, as on a real system. In the VM:
    vdispld --hypervisor sim --output kms --sim-guests 2 --sim-vkb --input libinput
and uinput_inject (static) creates a keyboard, a mouse and a touch screen
and injects a script of events. At exit vdispld prints what each simulated
xen-kbdfront received; the test checks it event by event: values and order,
relative motion turned into positions inside each guest's picture on the
screen, the focus following the pointer to the second guest, the hotkey
(Meta+F12) cycling back and never delivered, the key held while the
keyboard is unplugged released, the replugged keyboard working, and a
touch mapped through the layout.

Usage: vm_input_test.py VDISPLD INJECT WORKDIR [--timeout S]
Environment: VD_XEN_CACHE (default /var/cache/vdispld-xen-qemu).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import vm_test  # noqa: E402  (the kernel, initramfs helpers and the QEMU wrapper)
from vm_test import say, fail  # noqa: E402

GUEST_W, GUEST_H = 400, 300

INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/shm /tmp /run
mount -t tmpfs shm /dev/shm
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
echo 1 > /proc/sys/kernel/printk
for m in $(cat /modules.order); do insmod /lib/modules/$m.ko || echo "VDTEST insmod $m failed"; done
i=0
while [ ! -e /dev/dri/card0 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
/lib/systemd/systemd-udevd --daemon
udevadm trigger --action=add
udevadm settle --timeout=60 || echo "VDTEST udevadm settle failed"
echo VDTEST-START
/bin/vdispld $(cat /vdispld.args) > /tmp/vd.log 2>&1 &
pid=$!
/bin/uinput_inject /inject.script &
ipid=$!
# The injector keeps its devices until the status is taken (its script's end).
while [ ! -e /tmp/inject.mark ] && kill -0 $ipid 2>/dev/null; do sleep 0.1; done
sleep 2
echo VDTEST-STATUS-BEGIN
/bin/vdispctl --json status
echo VDTEST-STATUS-END
echo taken > /tmp/status.mark
wait $ipid
echo "VDTEST-INJECT $?"
kill -TERM $pid
wait $pid
rc=$?
echo VDTEST-LOG-BEGIN
cat /tmp/vd.log
echo VDTEST-LOG-END
echo "VDTEST-EXIT $rc"
while true; do sleep 1000; done
"""

# Device 0: keyboard, 1: mouse, 2: touch screen (0..4095 on both axes).
# Sleeps between devices: events of two devices read in one dispatch could
# come in either order; after a button release: libinput holds a release
# that quickly follows its press for a moment (debouncing).
SCRIPT = """\
wait /tmp/vd.log 2 input: layout: dom
create 0 kbd vdtest keyboard
create 1 mouse vdtest mouse
create 2 touch vdtest touch
create 3 kbd vdtest claimed
wait /tmp/vd.log 4 input: device added: vdtest
sleep 500
key 0 30 1
key 0 30 0
key 0 42 1
key 0 48 1
key 0 48 0
key 0 42 0
sleep 300
rel 1 5 -3
rel 1 10 20
key 1 272 1
key 1 272 0
sleep 300
wheel 1 1
rel 1 2000 0
sleep 300
key 0 46 1
key 0 46 0
key 0 125 1
key 0 88 1
key 0 88 0
key 0 125 0
key 0 32 1
key 0 32 0
key 0 18 1
sleep 300
destroy 0
wait /tmp/vd.log 1 input: device removed: vdtest keyboard
create 0 kbd vdtest keyboard
wait /tmp/vd.log 5 input: device added: vdtest
sleep 500
key 0 19 1
key 0 19 0
sleep 300
down 2 0 3072 2048
up 2 0
sleep 300
mark /tmp/inject.mark done
wait /tmp/status.mark 1 taken
"""


def fetch_udev(cache):
    """systemd-udevd and its rules from the udev package of the host's systemd version."""
    ver = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "systemd"], capture_output=True,
                         text=True, check=True).stdout.strip()
    dest = os.path.join(cache, "udev-" + ver)
    if os.path.exists(os.path.join(dest, "bin", "udevadm")):
        return dest
    say("fetching udev", ver)
    tmp = tempfile.mkdtemp(prefix="vd-udev-")
    os.chmod(tmp, 0o777)  # apt-get download writes as _apt
    try:
        subprocess.run(["apt-get", "download", "udev=" + ver], cwd=tmp, check=True,
                       timeout=600, stdout=subprocess.DEVNULL)
        deb = [n for n in os.listdir(tmp) if n.endswith(".deb")][0]
        part = dest + ".part"
        shutil.rmtree(part, ignore_errors=True)
        subprocess.run(["dpkg-deb", "-x", os.path.join(tmp, deb), part], check=True)
        os.rename(part, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def build_initramfs(args, work, kver, udev):
    root = os.path.join(work, "root")
    shutil.rmtree(root, ignore_errors=True)
    for d in ("bin", "lib/modules", "lib/systemd", "lib/udev", "proc", "sys", "dev", "tmp",
              "run", "lib64", "etc/udev"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    stage = vm_test.STAGE
    shutil.copy2(os.path.join(stage, "bin", "busybox"), os.path.join(root, "bin", "busybox"))
    shutil.copy2(args.vdispld, os.path.join(root, "bin", "vdispld"))
    # vdispctl, built beside the daemon: the status of the input at the end.
    vdispctl = os.path.join(os.path.dirname(args.vdispld), "vdispctl")
    shutil.copy2(vdispctl, os.path.join(root, "bin", "vdispctl"))
    vm_test.copy_libs(vdispctl, root)
    # sim-guest-2 claims the "vdtest claimed" keyboard (no events: the others' stay the same).
    os.makedirs(os.path.join(root, "etc", "vdispld", "guests.d"), exist_ok=True)
    with open(os.path.join(root, "etc", "vdispld", "vdispld.conf"), "w") as f:
        f.write("# vm_input_test.py\n")
    with open(os.path.join(root, "etc", "vdispld", "guests.d", "sim-guest-2.conf"), "w") as f:
        f.write("input = name=vdtest claimed\n")
    shutil.copy2(args.inject, os.path.join(root, "bin", "uinput_inject"))
    vm_test.copy_libs(args.vdispld, root)
    udevadm = os.path.join(udev, "bin", "udevadm")
    shutil.copy2(udevadm, os.path.join(root, "bin", "udevadm"))
    os.symlink("/bin/udevadm", os.path.join(root, "lib", "systemd", "systemd-udevd"))
    vm_test.copy_libs(udevadm, root)
    if os.path.isdir("/usr/share/libinput"):  # device quirks, as installed with libinput
        shutil.copytree("/usr/share/libinput", os.path.join(root, "usr/share/libinput"))
    shutil.copytree(os.path.join(udev, "lib", "udev", "rules.d"),
                    os.path.join(root, "lib", "udev", "rules.d"))
    moddir = os.path.join(stage, "lib", "modules", kver)
    order, paths = vm_test.module_deps(moddir, vm_test.GPU_MODULES["virtio"] + ["evdev", "uinput"])
    for n in order:
        shutil.copy2(os.path.join(moddir, paths[n]), os.path.join(root, "lib/modules", n + ".ko"))
    with open(os.path.join(root, "modules.order"), "w") as f:
        f.write("\n".join(order) + "\n")
    vargs = ["--hypervisor", "sim", "--output", "kms", "--sim-guests", "2", "--sim-vkb",
             "--sim-resolution", "%dx%d" % (GUEST_W, GUEST_H), "--input", "libinput",
             "--status-interval", "0", "--config", "/etc/vdispld/vdispld.conf"]
    files = {"vdispld.args": " ".join(vargs) + "\n", "init": INIT, "inject.script": SCRIPT}
    for name, text in files.items():
        with open(os.path.join(root, name), "w") as f:
            f.write(text)
    os.chmod(os.path.join(root, "init"), 0o755)
    img = os.path.join(work, "initrd.cpio.gz")
    subprocess.run("find . -print0 | cpio --null -o -H newc --quiet | gzip -1 > " + img,
                   shell=True, cwd=root, check=True)
    return img


# ---- what the guests must have received ----

def guest_at(rects, x, y):
    for dom, (rx, ry, rw, rh) in rects.items():
        if rx <= x < rx + rw and ry <= y < ry + rh:
            return dom
    fail("the test's pointer left every guest at %d,%d (layout %s)" % (x, y, rects))


def expected(rects):
    """What each guest must receive, given the layout the output reported.

    dom1 has the focus first (the lowest domid). The mouse's layout cursor
    starts at 0,0 clamped to the layout's bounds (the guest on the left),
    then moves right past the end of the layout (clamped: the right edge
    of the guest on the right). The hotkey cycles from there to the other
    guest. The touch lands at 3/4 across, half down the layout.
    """
    got = {d: [] for d in rects}
    x0 = min(r[0] for r in rects.values())
    y0 = min(r[1] for r in rects.values())
    x1 = max(r[0] + r[2] - 1 for r in rects.values())
    y1 = max(r[1] + r[3] - 1 for r in rects.values())

    def pos(cx, cy, z=0):
        d = guest_at(rects, cx, cy)
        got[d].append("P%d,%d,%d" % (cx - rects[d][0], cy - rects[d][1], z))
        return d

    got[1] += ["K30+", "K30-", "K42+", "K48+", "K48-", "K42-"]
    cx, cy = min(max(5, x0), x1), min(max(-3, y0), y1)
    left = pos(cx, cy)
    cx, cy = min(max(cx + 10, x0), x1), min(max(cy + 20, y0), y1)
    pos(cx, cy)
    got[left] += ["K272+", "K272-"]
    pos(cx, cy, -1)  # REL_WHEEL +1 is rel_z -1 on the wire (xen-kbdfront negates it)
    cx = min(max(cx + 2000, x0), x1)
    right = pos(cx, cy)
    if right == left:
        fail("the layout %s has one guest under the test's pointer path" % rects)
    got[right] += ["K46+", "K46-", "K125+",
                   "K125-"]  # released as the hotkey takes the focus away
    got[left] += ["K125-",  # the user's release of Meta, now in the other guest
                  "K32+", "K32-", "K18+",
                  "K18-",  # E was held as the keyboard was unplugged
                  "K19+", "K19-"]  # the keyboard plugged in again
    tx = x0 + (3072 * 65536 // 4096) * (x1 - x0 + 1) // 65536
    ty = y0 + (2048 * 65536 // 4096) * (y1 - y0 + 1) // 65536
    t = guest_at(rects, tx, ty)
    got[t] += ["T0d%d,%d" % (tx - rects[t][0], ty - rects[t][1]), "T0s0,0", "T0u0,0", "T0s0,0"]
    return got


def check(log, rects):
    got = {}
    for m in re.finditer(r"^sim-vkb dom(\d+): events=(\d+) crashes=(\d+) violations=(\d+):(.*)$",
                         log, re.M):
        dom, n, crashes, viol, evs = m.groups()
        got[int(dom)] = evs.split()
        if crashes != "0" or viol != "0":
            fail("dom%s: %s crashes, %s violations" % (dom, crashes, viol))
        if int(n) != len(evs.split()):
            fail("dom%s: %s events consumed, %d listed" % (dom, n, len(evs.split())))
    if sorted(got) != [1, 2]:
        fail("no report of both simulated vkb devices (got %s)" % sorted(got))
    want = expected(rects)
    for dom in (1, 2):
        say("dom%d received: %s" % (dom, " ".join(got[dom])))
        if got[dom] != want[dom]:
            say("dom%d expected: %s" % (dom, " ".join(want[dom])))
            fail("dom%d did not receive exactly the injected events" % dom)
    if any("K88" in e for e in got[1] + got[2]):
        fail("the hotkey reached a guest")
    return len(got[1]) + len(got[2])


def check_status(log):
    """vdispctl status at the end: libinput on seat0, the guest keys last went
    to, both vkbs, every device with who claims it."""
    import json
    m = re.search(r"VDTEST-STATUS-BEGIN\r?\n(.*?)VDTEST-STATUS-END", log, re.S)
    if not m:
        fail("no vdispctl status in the log")
    try:
        st = json.loads(m.group(1).replace("\r", ""))
    except ValueError:
        fail("vdispctl status is not JSON: %r" % m.group(1))
    inp = st["input"]
    devs = {d["name"]: d["claimed_by"] for d in inp["devices"]}
    want = {"vdtest keyboard": None, "vdtest mouse": None, "vdtest touch": None,
            "vdtest claimed": "sim-guest-2"}
    if inp["source"] != "libinput" or inp["seat"] != "seat0":
        fail("input source: %s on %s" % (inp["source"], inp["seat"]))
    if {k: v for k, v in devs.items() if k.startswith("vdtest")} != want:
        fail("devices and their claims: %s, want %s" % (devs, want))
    if sorted(v["name"] for v in inp["vkbs"] if v["connected"]) != ["sim-guest-1", "sim-guest-2"]:
        fail("vkbs: %s" % inp["vkbs"])
    # The last key typed (KEY_R, after the keyboard came back) went to a guest.
    if inp["last_key_guest"] not in ("sim-guest-1", "sim-guest-2"):
        fail("keys last went to %s" % inp["last_key_guest"])
    say("vdispctl status: libinput on seat0, %d devices, \"vdtest claimed\" claimed by "
        "sim-guest-2, keys last went to %s" % (len(devs), inp["last_key_guest"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vdispld")
    ap.add_argument("inject")
    ap.add_argument("work")
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args()
    args.gpu = "virtio"
    args.outputs = 1
    t0 = time.time()
    os.makedirs(args.work, exist_ok=True)
    vm_test.ensure_cache()
    udev = fetch_udev(vm_test.CACHE)
    kernel = vm_test.glob_one(os.path.join(vm_test.STAGE, "boot"), "vmlinuz-6.1")
    kver = os.path.basename(kernel)[len("vmlinuz-"):]
    initrd = build_initramfs(args, args.work, kver, udev)
    say("initramfs ready in %.1f s; booting %s" % (time.time() - t0, kver))
    vm = vm_test.Vm(args, args.work, kernel, initrd)
    try:
        vm.connect()
        vm.wait_for(lambda log: "VDTEST-START" in log, args.timeout, "the kernel and udev")
        t_start = time.time()
        say("booted in %.1f s" % (t_start - t0))
        m = vm.wait_for(lambda log: re.search(r"VDTEST-EXIT (\d+)", log), args.timeout,
                        "vdispld to exit")
        log = vm.log
        inj = re.search(r"VDTEST-INJECT (\d+)", log)
        if not inj or inj.group(1) != "0":
            fail("uinput_inject failed")
        if m.group(1) != "0":
            fail("vdispld exited with %s" % m.group(1))
        mm = re.search(r"kms: \S+: mode (\d+)x(\d+)@", log)
        if not mm:
            fail("no modeset in the log")
        mode = (int(mm.group(1)), int(mm.group(2)))
        # The guests' places as the output reported them to the router.
        rects = {int(d): tuple(int(v) for v in r) for d, *r in re.findall(
            r"input: layout: dom(\d+) at (\d+),(\d+) (\d+)x(\d+)", log)}
        if sorted(rects) != [1, 2]:
            fail("the layout of both guests was not reported")
        # They must be where the pictures are: the cells and centring that
        # vm_test.py checks against QEMU's screendump (in either order).
        shown = set()
        for i in range(2):
            _src, dst, size = vm_test.fit(vm_test.cell(mode[0], mode[1], 2, i), GUEST_W, GUEST_H)
            shown.add((dst[0], dst[1], size[0], size[1]))
        if set(rects.values()) != shown:
            fail("the router's rectangles %s are not the pictures on the screen %s" % (
                sorted(rects.values()), sorted(shown)))
        n = check(log, rects)
        vdlog = log[log.index("VDTEST-LOG-BEGIN"):]
        adds = len(re.findall(r"vdispld: info: input: device added: vdtest", vdlog))
        removes = len(re.findall(r"vdispld: info: input: device removed: vdtest keyboard",
                                 vdlog))
        if adds != 5 or removes < 1:
            fail("%d device additions and %d removals seen, want 5 and 1" % (adds, removes))
        check_status(log)
        say("%d events delivered as injected in %.1f s (screen %dx%d)" % (
            n, time.time() - t_start, mode[0], mode[1]))
    finally:
        vm.stop()
    say("PASS in %.1f s" % (time.time() - t0))


if __name__ == "__main__":
    main()
