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
import select
import signal
import subprocess
import sys
import time

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
logf = open(log_path, "w")
t0 = time.monotonic()
proc = subprocess.Popen(qemu, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, bufsize=0)
logf.write(f"# {' '.join(qemu)}\n# qemu pid {proc.pid}\n")


def el():
    return time.monotonic() - t0


def say(s):
    print(f"[{el():6.1f}s] {s}", flush=True)


lines, checks, order, measures, marks = [], {}, [], [], {}
partial = b""


def record(cid, verdict, detail):
    if cid not in checks:
        order.append(cid)
    checks[cid] = (verdict, detail)
    say(f"{verdict} {cid}: {detail}")


def on_line(s):
    m = re.search(r"VDTEST-CHECK (\S+) (PASS|FAIL) ?(.*)", s)
    if m:
        record(m.group(1), m.group(2), m.group(3))
        return
    m = re.search(r"VDTEST-MEASURE (.*)", s)
    if m:
        measures.append(m.group(1))
    if a.verbose:
        print(f"{el():8.2f} {s}", flush=True)
    elif re.search(r"VDTEST-(STEP|INFO|MEASURE)|DOM0-RESULTS|DOM0-ERROR|Kernel panic|BUG:|Oops", s):
        say(s.strip())


def pump(timeout):
    global partial
    r, _, _ = select.select([proc.stdout], [], [], timeout)
    if not r:
        return True
    d = os.read(proc.stdout.fileno(), 65536)
    if not d:
        return False
    partial += d
    while b"\n" in partial:
        line, partial = partial.split(b"\n", 1)
        s = line.decode("utf-8", "replace").replace("\r", "")
        s = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", s)
        lines.append(s)
        logf.write(f"{el():8.2f} {s}\n")
        logf.flush()
        on_line(s)
    return True


def stop_qemu():
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)     # only the QEMU started here
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


signal.signal(signal.SIGTERM, lambda *_: (stop_qemu(), sys.exit("run.py: killed")))

failure = None
step = "boot"
deadline = t0 + a.boot_timeout
boot_markers = [("Xen version", "xen"), ("Booting Linux on physical CPU", "dom0_kernel"),
                ("DOM0-TOOLSTACK-UP", "dom0_toolstack")]
seen = 0
while True:
    now = time.monotonic()
    if now > deadline:
        failure = f"step '{step}' overran its time"
        break
    if el() > a.timeout:
        failure = f"whole run over {a.timeout:.0f} s (in step '{step}')"
        break
    n = len(lines)
    if not pump(min(1.0, deadline - now)):
        failure = f"QEMU exited (status {proc.wait()}) in step '{step}'"
        break
    done = False
    for s in lines[n:]:
        while seen < len(boot_markers) and boot_markers[seen][0] in s:
            marks[boot_markers[seen][1]] = round(el(), 1)
            seen += 1
        m = re.search(r"VDTEST-STEP (\S+) budget=(\d+)", s)
        if m:
            marks[step] = round(el(), 1)
            step = m.group(1)
            deadline = time.monotonic() + int(m.group(2)) + 30
        if "VDTEST-SCENARIO-DONE" in s or "VDTEST-END" in s:
            marks[step] = round(el(), 1)
            done = True
    if done:
        end = time.monotonic() + 3
        while time.monotonic() < end and pump(0.2):
            pass
        break
stop_qemu()
total = el()
logf.close()
if failure:
    say(f"FAILED: {failure}")
    print(f"---- {failure}: last {a.tail} console lines ({log_path}) ----")
    for s in lines[-a.tail:]:
        print("  " + s)
    print("---- end of console tail ----", flush=True)

for cid in EXPECTED:
    if cid not in checks:
        record(cid, "FAIL", "not run" + (f" ({failure})" if failure else ""))
print("\n==== Xen-in-QEMU arm64 results ====")
for cid in order:
    v, d = checks[cid]
    print(f"{v} {cid}: {d}")
for m in measures:
    print(f"measure: {m}")
print("timings: " + " ".join(f"{k}={v}s" for k, v in marks.items()) + f" total={total:.1f}s")
print(f"logs: {log_path} and {results}/")
npass = sum(1 for v, _ in checks.values() if v == "PASS")
nfail = len(checks) - npass
print(f"{npass} passed, {nfail} failed")
sys.exit(0 if nfail == 0 and not failure else 1)
