#!/usr/bin/env python3
"""run.py -- the arm64 Xen-in-QEMU test: zero-copy on real Xen.

Boots Xen 4.17 arm64 with Dom0 in qemu-system-aarch64 (virt, GICv3, TCG):
QEMU's -kernel is Xen, the Dom0 kernel and initramfs are placed in memory
with "-device loader" and described to Xen in /chosen of a device tree
QEMU dumped for this machine and this script patched with fdtput (below
0x50000000 and clear of QEMU's DTB at 0x48000000, so that Xen can build
Dom0's 1:1 memory). Dom0's init runs dom0-scenario.sh ("vdtest" on its
command line); this script watches the console:

  * "VDTEST-STEP NAME budget=S": a step with its own hard timeout;
  * "VDTEST-CHECK ID PASS|FAIL DETAIL": the checks (all in EXPECTED);
  * "VDTEST-MEASURE ...": numbers, repeated in the summary.

Python 3 standard library only; needs qemu-system-aarch64 and fdtput
(device-tree-compiler). Exit status 0 when every check passed.

  run.py --images DIR --results DIR [-v]
  run.py --images DIR --interactive      (boot to a Dom0 shell, no test)
"""
import argparse
import os
import re
import subprocess
import sys

# the console driver is shared with the x86 test
sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), os.pardir, "xen-qemu"))
from qemu_console import Console  # noqa: E402

EXPECTED = ["a_vkms", "b_reference",
            "c_fe_crc", "c_fe_guest_dmesg", "c_fe_zero_copy", "c_fe_destroy",
            "d_be_crc", "d_be_guest_dmesg", "d_be_zero_copy", "d_be_destroy",
            "f_novmap_fallback", "g_overlay",
            "e_vdispld_log"]

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--images", required=True, help="dir with xen, Image, dom0.cpio.gz")
ap.add_argument("--results", help="dir shared with Dom0 for logs")
ap.add_argument("--mem", type=int, default=2048, help="QEMU memory, MiB")
ap.add_argument("--dom0-mem", default="768M")
ap.add_argument("--timeout", type=float, default=840, help="hard limit for the whole run, s")
ap.add_argument("--boot-timeout", type=float, default=120, help="QEMU start to Dom0 toolstack up, s")
ap.add_argument("--tail", type=int, default=60, help="console lines shown on failure")
ap.add_argument("--interactive", action="store_true", help="boot and hand the console over")
ap.add_argument("-v", "--verbose", action="store_true", help="echo the whole console")
a = ap.parse_args()

img = os.path.abspath(a.images)
for f in ("xen", "Image", "dom0.cpio.gz"):
    if not os.path.isfile(os.path.join(img, f)):
        sys.exit(f"run.py: {img}/{f} missing (run build-images.sh)")
results = os.path.abspath(a.results) if a.results else None
if not a.interactive and not results:
    sys.exit("run.py: --results is required")

MACH = "virt,virtualization=on,gic-version=3"
CPU = "cortex-a57"
KADDR, RADDR = 0x4A000000, 0x4C400000
kernel, initrd = os.path.join(img, "Image"), os.path.join(img, "dom0.cpio.gz")
ksz, rsz = os.path.getsize(kernel), os.path.getsize(initrd)
if KADDR + ksz > RADDR or RADDR + rsz > 0x50000000:
    sys.exit(f"run.py: Dom0 kernel ({ksz}) or initramfs ({rsz}) too big for 0x{KADDR:x}..0x50000000")
xen_cmd = (f"console=dtuart dom0_mem={a.dom0_mem} dom0_max_vcpus=1 bootscrub=0 "
           f"loglvl=all guest_loglvl=all")
dom0_cmd = "console=hvc0 earlycon=xenboot rdinit=/init loglevel=6" + ("" if a.interactive else " vdtest")

work = results or os.path.join(img, "interactive")
os.makedirs(work, exist_ok=True)
if results:
    for f in os.listdir(results):
        p = os.path.join(results, f)
        if os.path.isfile(p):
            os.unlink(p)
dtb = os.path.join(img, "virt.dtb")
base = ["qemu-system-aarch64", "-machine", MACH, "-cpu", CPU, "-m", str(a.mem), "-smp", "1"]
subprocess.run(base + ["-display", "none", "-machine", "dumpdtb=" + dtb], check=True,
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def fdtput(*args):
    subprocess.run(["fdtput", dtb, *args], check=True)


fdtput("-t", "s", "/pl061@9030000", "status", "disabled")   # Dom0 would probe the GPIO
fdtput("-t", "s", "/chosen", "xen,xen-bootargs", xen_cmd)
fdtput("-t", "s", "/chosen", "xen,dom0-bootargs", dom0_cmd)
fdtput("-t", "i", "/chosen", "#address-cells", "2")
fdtput("-t", "i", "/chosen", "#size-cells", "2")
for addr, size, kind in ((KADDR, ksz, "kernel"), (RADDR, rsz, "ramdisk")):
    node = f"/chosen/module@{addr:x}"
    fdtput("-c", node)
    fdtput("-t", "s", node, "compatible", f"multiboot,{kind}", "multiboot,module")
    fdtput("-t", "x", node, "reg", "0", f"{addr:x}", "0", f"{size:x}")

qemu = base + ["-accel", "tcg", "-display", "none", "-nographic", "-serial", "mon:stdio",
               "-no-reboot", "-nic", "none", "-kernel", os.path.join(img, "xen"), "-dtb", dtb,
               "-device", f"loader,file={kernel},addr=0x{KADDR:x},force-raw=on",
               "-device", f"loader,file={initrd},addr=0x{RADDR:x},force-raw=on"]
if results:
    qemu += ["-fsdev", f"local,id=host,path={results},security_model=none",
             "-device", "virtio-9p-device,fsdev=host,mount_tag=host"]
if a.interactive:
    print(" ".join(qemu), flush=True)
    os.execvp(qemu[0], qemu)

log_path = os.path.join(results, "console.log")
measures = []


def on_line(s):
    """the numbers, repeated in the summary; the line is echoed too"""
    m = re.search(r"VDTEST-MEASURE (.*)", s)
    if m:
        measures.append(m.group(1))
    return False


con = Console(qemu, log_path, verbose=a.verbose, tail=a.tail, on_line=on_line,
              show=r"VDTEST-(STEP|INFO|MEASURE)|DOM0-RESULTS|DOM0-ERROR|Kernel panic|BUG:|Oops")
failure, total = con.run([("Xen version", "xen"), ("Booting Linux on physical CPU", "dom0_kernel"),
                          ("DOM0-TOOLSTACK-UP", "dom0_toolstack")],
                         a.boot_timeout, a.timeout)
sys.exit(con.verdict("Xen-in-QEMU arm64 results", EXPECTED, failure, total, results,
                     [f"measure: {m}" for m in measures]))
