#!/usr/bin/env python3
"""run.py -- the Xen-in-QEMU test: real Xen, real Linux xen-front, vdispld.

Boots Xen 4.17 with a PV Dom0 in QEMU (x86-64, TCG). Dom0's init runs
dom0-scenario.sh by itself ("vdtest" on its command line): vdispld serves PV
guests whose drm_xen_front is driven by xenfront-client. This script only
watches the serial console (Xen on com1, Dom0's hvc0 through it):

  * the KMS case: Dom0 has a virtual GPU (-vga std, bochs-drm) and runs
    vdispld --output kms on it; on "VDTEST-SCREENDUMP" this script takes a
    screendump over QEMU's monitor socket and later checks it pixel by pixel
    against the client's last frame (i_kms_screendump);
  * a hard timeout per step: the scenario announces each step with
    "VDTEST-STEP NAME budget=S"; a step that overruns fails the test and the
    tail of the console log is printed;
  * the scenario's "VDTEST-CHECK ID PASS|FAIL DETAIL" lines;
  * check (d) here on the host: each PNG vdispld captured in Dom0 (shared
    over virtio-9p, or sent as base64 on the console) must be pixel-identical
    to the last frame the client drew, recomputed from its CLIENT-RESULT line.

Python 3 standard library only. Exit status 0 when every check passed.

  run.py --images DIR --results DIR [--log FILE] [--smp N] [--timeout S]
  run.py --images DIR --interactive      (boot to a Dom0 shell, no test)
"""
import argparse
import base64
import os
import re
import shutil
import socket
import struct
import sys
import tempfile
import time
import zlib

from qemu_console import Console

# The checks the scenario and this script must report, in order.
EXPECTED = [
    "a_xl_create", "b_card", "j_vkb_connect", "j_vkb_keys", "j_vkb_pointer",
    "c_flips", "c_fallback", "d_capture_A", "f_client_restart",
    "d_capture_B", "e_guest_dmesg", "f_destroy", "j_vkb_abs", "j_vkb_touch", "f_second_guest",
    "k_span_flips", "k_span_set_config", "d_capture_S0", "d_capture_S1", "g_vdispld_restart", "d_capture_restart", "i_kms_flips", "i_kms_screendump",
    "i_kms_guest_dmesg", "h_vdispld_log",
]
KMS_ONLY = ["i_kms_flips", "i_kms_screendump", "i_kms_guest_dmesg", "h_vdispld_log"]
# --only-domd: the display domain case (dom0-domd-scenario.sh)
DOMD = ["l_domd_boot", "l_domd_reference", "l_domd_ready", "l_domd_xl_create", "l_domd_card",
        "l_domd_vkb", "l_domd_flips", "l_domd_crc", "l_domd_guest_dmesg", "l_domd_destroy",
        "l_domd_log"]

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--images", required=True, help="dir with xen.elf, vmlinuz, dom0.cpio.gz")
ap.add_argument("--results", help="dir shared with Dom0 for logs and captures")
ap.add_argument("--log", help="console log (default RESULTS/console.log)")
ap.add_argument("--smp", type=int, default=1, help="vCPUs (1: fastest under TCG here)")
ap.add_argument("--mem", type=int, default=2048, help="QEMU memory, MiB")
ap.add_argument("--dom0-mem", default="768M")
ap.add_argument("--timeout", type=float, default=840, help="hard limit for the whole run, s")
ap.add_argument("--boot-timeout", type=float, default=240, help="QEMU start to Dom0 toolstack up, s")
ap.add_argument("--tail", type=int, default=60, help="console lines shown on failure")
ap.add_argument("--interactive", action="store_true", help="boot and hand the console over")
ap.add_argument("--no-9p", action="store_true",
                help="no shared directory: captures come as base64 on the console")
ap.add_argument("--no-kms", action="store_true",
                help="no virtual GPU, no monitor socket, no KMS case (i_*)")
ap.add_argument("--only-kms", action="store_true", help="the KMS case alone")
ap.add_argument("--only-domd", action="store_true",
                help="the display domain case alone (images built with build-images.sh --domd)")
ap.add_argument("--domd-no-devd", action="store_true",
                help="--only-domd without xl devd in the display domain")
ap.add_argument("-v", "--verbose", action="store_true", help="echo the whole console")
a = ap.parse_args()

img = os.path.abspath(a.images)
for f in ("xen.elf", "vmlinuz", "dom0.cpio.gz"):
    if not os.path.isfile(os.path.join(img, f)):
        sys.exit(f"run.py: {img}/{f} missing (run build-images.sh)")

xen_cmd = (f"console=com1 com1=115200,8n1 dom0_mem={a.dom0_mem},max:{a.dom0_mem} "
           f"dom0_max_vcpus={a.smp} loglvl=all guest_loglvl=all noreboot")
dom0_cmd = "console=hvc0 earlyprintk=xen loglevel=6" + ("" if a.interactive else " vdtest")
if a.only_domd:
    # vdispld runs in a driver domain there: Dom0 needs no GPU
    a.no_kms = True
    dom0_cmd += " vdtest_only=domd" + (" vdtest_domd_nodevd" if a.domd_no_devd else "")
    EXPECTED = DOMD
elif a.no_kms:
    dom0_cmd += " vdtest_kms=off"
    EXPECTED = [c for c in EXPECTED if not c.startswith("i_")]
elif a.only_kms:
    dom0_cmd += " vdtest_only=kms"
    EXPECTED = KMS_ONLY
# The KMS case: a virtual GPU for Dom0 (bochs-drm) and the monitor on a
# socket for screendumps; otherwise no monitor at all.
mon_dir = mon_path = None
if a.no_kms:
    dev = ["-monitor", "none"]
else:
    mon_dir = tempfile.mkdtemp(prefix="vdxq-")
    mon_path = os.path.join(mon_dir, "monitor.sock")
    dev = ["-vga", "std", "-monitor", f"unix:{mon_path},server=on,wait=off"]
qemu = ["qemu-system-x86_64", "-accel", "tcg,tb-size=256", "-cpu", "qemu64,+rdrand",
        "-m", str(a.mem), "-smp", str(a.smp), "-display", "none", "-serial", "stdio",
        *dev, "-no-reboot", "-nodefaults",
        # QEMU's multiboot(1) loader: the uncompressed Xen ELF, modules
        # "file args" separated by commas
        "-kernel", f"{img}/xen.elf", "-append", xen_cmd,
        "-initrd", f"{img}/vmlinuz {dom0_cmd},{img}/dom0.cpio.gz"]
results = None
if a.results:
    results = os.path.abspath(a.results)
    os.makedirs(results, exist_ok=True)
    for f in os.listdir(results):
        p = os.path.join(results, f)
        if os.path.isfile(p):
            os.unlink(p)
    if not a.no_9p:
        qemu += ["-virtfs", f"local,path={results},mount_tag=host,security_model=none,id=host"]

if a.interactive:
    if mon_path:
        print(f"monitor: socat - UNIX-CONNECT:{mon_path}", flush=True)
    print(" ".join(qemu), flush=True)
    os.execvp(qemu[0], qemu)

if not results:
    sys.exit("run.py: --results is required")
log_path = a.log or os.path.join(results, "console.log")

captures = []       # (tag, file, result line)
files = {}          # name -> bytes (base64 transport)
filebuf = None
dumps = []          # (tag, file, result line, error or None)
mon = None


def hmp(cmd, timeout=60):
    """one HMP command over the monitor socket (None: just the prompt); its output"""
    global mon
    if mon is None:
        end = time.monotonic() + 10
        while True:
            try:
                mon = socket.socket(socket.AF_UNIX)
                mon.connect(mon_path)
                break
            except OSError:
                mon.close()
                mon = None
                if time.monotonic() > end:
                    raise
                time.sleep(0.2)
        hmp(None, timeout)                   # the banner
    if cmd:
        mon.sendall((cmd + "\n").encode())
    mon.settimeout(timeout)
    buf = b""
    while not buf.endswith(b"(qemu) "):
        d = mon.recv(4096)
        if not d:
            raise OSError("QEMU monitor closed")
        buf += d
    return buf.decode("utf-8", "replace")


def screendump(tag, fname, result):
    """the KMS case: dump the screen now, then tell Dom0 (FILE.done)"""
    path = os.path.join(results, fname)
    err = None
    try:
        if os.path.exists(path):
            os.unlink(path)
        t = time.monotonic()
        out = hmp(f"screendump {path}")
        if not os.path.isfile(path):
            err = f"no screendump file; monitor said {out.strip()!r}"
        else:
            say(f"screendump {fname} taken in {time.monotonic() - t:.2f} s")
    except OSError as e:
        err = f"monitor: {e}"
    dumps.append((tag, fname, result, err))
    with open(path + ".done", "w") as f:
        f.write("done\n")


def on_line(s):
    """this harness's console markers: True when the line is taken"""
    global filebuf
    if filebuf is not None:
        if s.startswith("VDTEST-FILE-END"):
            name, chunks = filebuf
            try:
                files[name] = base64.b64decode("".join(chunks))
            except ValueError:
                say(f"bad base64 for {name}")
            filebuf = None
        else:
            filebuf[1].append(s.strip())
        return True
    m = re.search(r"VDTEST-CAPTURE (\S+) (\S+) (.*)", s)
    if m:
        captures.append((m.group(1), m.group(2), m.group(3)))
        return True
    m = re.search(r"VDTEST-SCREENDUMP (\S+) (\S+) ?(.*)", s)
    if m:
        if mon_path:
            screendump(m.group(1), m.group(2), m.group(3))
        else:
            dumps.append((m.group(1), m.group(2), m.group(3), "no monitor (--no-kms)"))
        return True
    m = re.search(r"VDTEST-FILE-BEGIN (\S+)", s)
    if m:
        filebuf = (m.group(1), [])
        return True
    return False


def close_monitor():
    if mon is not None:
        mon.close()
    if mon_dir:
        shutil.rmtree(mon_dir, ignore_errors=True)


con = Console(qemu, log_path, verbose=a.verbose, tail=a.tail, on_line=on_line, cleanup=close_monitor,
              show=r"VDTEST-(STEP|INFO)|CLIENT-RESULT|GUEST-CARD|GUEST-DMESG-END|DOM0-RESULTS|DOMD-(MODULES|DEVD|REF|CRC|ERROR)|"
                   r"DOM0-ERROR|Kernel panic|BUG:|Oops")
say, record = con.say, con.record

# ---- drive: wait for markers, each with a deadline ----
failure, total = con.run([("Xen version", "xen"), ("Run /init as init process", "dom0_kernel"),
                          ("DOM0-TOOLSTACK-UP", "dom0_toolstack")],
                         a.boot_timeout, a.timeout, markers_in_boot_only=True)


# ---- (d) the captures, checked here ----
def png_decode(data):
    """(width, height, channels, rows as bytes) of an 8-bit RGB/RGBA PNG"""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        ln, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + ln]
        if typ == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif typ == b"IDAT":
            idat.append(body)
        elif typ == b"IEND":
            break
        pos += 12 + ln
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG depth={depth} type={ctype} interlace={interlace}")
    ch = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * ch
    rows, prev, p = [], bytearray(stride), 0
    for _ in range(h):
        ft = raw[p]
        cur = bytearray(raw[p + 1:p + 1 + stride])
        p += 1 + stride
        for i in range(stride):
            left = cur[i - ch] if i >= ch else 0
            up, ul = prev[i], (prev[i - ch] if i >= ch else 0)
            if ft == 1:
                cur[i] = (cur[i] + left) & 0xff
            elif ft == 2:
                cur[i] = (cur[i] + up) & 0xff
            elif ft == 3:
                cur[i] = (cur[i] + ((left + up) >> 1)) & 0xff
            elif ft == 4:
                pa, pb, pc = abs(up - ul), abs(left - ul), abs(left + up - 2 * ul)
                pr = left if pa <= pb and pa <= pc else (up if pb <= pc else ul)
                cur[i] = (cur[i] + pr) & 0xff
        rows.append(bytes(cur))
        prev = cur
    return w, h, ch, rows


def pattern(x, y, frame):
    """twin of pattern() in xenfront-client.c"""
    if y < 16:
        cell = x // 20
        if cell >= 32:
            return 0x80, 0x80, 0x80
        v = 0xff if (frame >> (31 - cell)) & 1 else 0
        return v, v, v
    return (x + frame * 3) & 0xff, (y + frame * 5) & 0xff, ((x ^ y) + frame * 7) & 0xff


def as_shown(rgb, fmt):
    """what vdispld's PNG holds for a pixel the client drew as rgb in fmt"""
    if fmt == "XR24":
        return rgb
    r, g, b = rgb[0] >> 3, rgb[1] >> 2, rgb[2] >> 3      # RGB565, expanded by replication
    return (r << 3) | (r >> 2), (g << 2) | (g >> 4), (b << 3) | (b >> 2)


def expected_rows(w, h, frame, fmt, x0=0, y0=0):
    """the frame's w x h window from (x0, y0), as vdispld's PNG holds it"""
    rows = []
    for y in range(y0, y0 + h):
        row = bytearray()
        for x in range(x0, x0 + w):
            row += bytes(as_shown(pattern(x, y, frame), fmt))
        rows.append(bytes(row))
    return rows


def frame_in_band(rows, ch):
    """the frame number the top band of a capture shows"""
    v = 0
    for cell in range(32):
        v = (v << 1) | (1 if rows[8][(cell * 20 + 10) * ch] > 0x80 else 0)
    return v


def check_capture(tag, fname, result):
    cid = "d_capture_" + ("restart" if tag in ("F", "G") else tag)
    fields = dict(kv.split("=", 1) for kv in result.split() if "=" in kv)
    if fname == "missing":
        return record(cid, "FAIL", f"vdispld wrote no capture for run {tag}")
    data = files.get(fname)
    if data is None:
        try:
            with open(os.path.join(results, fname), "rb") as f:
                data = f.read()
        except OSError as e:
            return record(cid, "FAIL", f"{fname}: {e}")
    try:
        last, fmt = int(fields["last"]), fields["format"]
        w, h = int(fields["width"]), int(fields["height"])
        x0 = y0 = 0
        if "win" in fields:
            # one connector's window of a spanning fb: "X,Y,WxH"
            m = re.fullmatch(r"(\d+),(\d+),(\d+)x(\d+)", fields["win"])
            x0, y0, w, h = (int(v) for v in m.groups())
    except (KeyError, ValueError, AttributeError):
        return record(cid, "FAIL", f"no usable CLIENT-RESULT: {result!r}")
    try:
        pw, ph, ch, rows = png_decode(data)
    except (ValueError, zlib.error, struct.error, TypeError) as e:
        return record(cid, "FAIL", f"{fname}: {e}")
    if (pw, ph) != (w, h):
        return record(cid, "FAIL", f"{fname} is {pw}x{ph}, the client drew {w}x{h}")
    want = expected_rows(w, h, last, fmt, x0, y0)
    bad, first = 0, None
    for y in range(h):
        got = rows[y] if ch == 3 else bytes(b for i, b in enumerate(rows[y]) if i % 4 != 3)
        if got != want[y]:
            for x in range(w):
                if got[3 * x:3 * x + 3] != want[y][3 * x:3 * x + 3]:
                    bad += 1
                    if first is None:
                        first = (x, y, tuple(got[3 * x:3 * x + 3]), tuple(want[y][3 * x:3 * x + 3]))
    if bad == 0:
        record(cid, "PASS", f"{fname}: {w}x{h} {fmt} frame {last} from {x0},{y0}, "
                            f"all {w * h} pixels as drawn")
    else:
        record(cid, "FAIL", f"{fname}: {bad} of {w * h} pixels differ from frame {last} "
                            f"(band shows frame {frame_in_band(rows, ch)}); first at {first}")


for tag, fname, result in captures:
    check_capture(tag, fname, result)


# ---- (i) the screendump of the KMS case, checked here ----
def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    m = re.match(rb"P6\s+(?:#.*\s+)*(\d+)\s+(\d+)\s+(\d+)\s", data)
    if not m or m.group(3) != b"255":
        raise ValueError("not an 8-bit PPM")
    w, h = int(m.group(1)), int(m.group(2))
    return w, h, data[m.end():m.end() + w * h * 3]


def check_screendump(tag, fname, result, err):
    cid = "i_kms_screendump"
    if err:
        return record(cid, "FAIL", f"{fname}: {err}")
    fields = dict(kv.split("=", 1) for kv in result.split() if "=" in kv)
    try:
        last, fmt = int(fields["last"]), fields["format"]
        w, h = int(fields["width"]), int(fields["height"])
    except (KeyError, ValueError):
        return record(cid, "FAIL", f"no usable CLIENT-RESULT: {result!r}")
    try:
        sw, sh, pix = read_ppm(os.path.join(results, fname))
    except (OSError, ValueError) as e:
        return record(cid, "FAIL", f"{fname}: {e}")
    if sw < w or sh < h:
        return record(cid, "FAIL", f"{fname} is {sw}x{sh}, smaller than the guest's {w}x{h}")
    # one guest alone: centred 1:1 in the whole screen (kms_logic.c
    # vd_kms_fit); at 0,0 when the display got the guest's size as its mode
    x0, y0 = (sw - w) // 2, (sh - h) // 2
    want = expected_rows(w, h, last, fmt)
    rows = [pix[(y0 + y) * sw * 3 + x0 * 3:(y0 + y) * sw * 3 + (x0 + w) * 3] for y in range(h)]
    bad, first = 0, None
    for y in range(h):
        if rows[y] != want[y]:
            for x in range(w):
                if rows[y][3 * x:3 * x + 3] != want[y][3 * x:3 * x + 3]:
                    bad += 1
                    if first is None:
                        first = (x, y, tuple(rows[y][3 * x:3 * x + 3]), tuple(want[y][3 * x:3 * x + 3]))
    where = f"screen {sw}x{sh}, guest {w}x{h} at {x0},{y0}"
    if bad == 0:
        record(cid, "PASS", f"{fname}: {where}, frame {last}, all {w * h} pixels as drawn")
    else:
        record(cid, "FAIL", f"{fname}: {where}: {bad} of {w * h} pixels differ from frame {last} "
                            f"(band shows frame {frame_in_band(rows, 3)}); first at {first}")


for tag, fname, result, err in dumps:
    check_screendump(tag, fname, result, err)

# ---- verdict ----
sys.exit(con.verdict("Xen-in-QEMU results", EXPECTED, failure, total, results))
