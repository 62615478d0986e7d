#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The Wayland output against a real compositor (CTest label "wayland").

Starts Debian's weston with its headless backend (pixman renderer, so what
it composites can be captured) in a private XDG_RUNTIME_DIR, runs this
build's vdispld with one simulated guest and --output wayland, and checks
what a user would notice:

  show     every accepted flip gets its event (summary flips == events);
           weston's screenshooter (allowed by --debug) captures the guest's
           window while it flips, and the window holds one of the guest's
           frames pixel by pixel (the pattern of src/simfront/
           simfront_client.c, found by its first row; see STAMP_PIXELS
           for the two stamp pixels); after the guest has stopped, its last
           frame.
  idle     weston put to sleep by its idle timeout (--idle-time=1) withholds
           frame callbacks; the guest keeps flipping (fallback completions,
           many flips per second, not one per 3.1 s watchdog).
  restart  weston is stopped and started again while the guest flips: the
           guest keeps flipping, vdispld connects again.
  ivi      an ivi-shell weston (hmi-controller, the reference IVI layout
           controller Debian ships, and its user interface client) nested
           fullscreen in a desktop-shell weston that takes the screenshots:
           the two guests' IVI surfaces are tiled by the controller at 0,0
           and 320,0 (its tiling layout: a quarter of the width, half the
           height above the 70 pixel panel, hence the 1280x550 screen),
           pixel-exact. Guest 1's id is 4711 from guests.d/sim-guest-1.conf,
           guest 2 has the default 1000200: a second vdispld asking for 4711
           gets weston's ivi_id protocol error, one asking for the default
           id of a domain 1 (1000100, not used since guest 1 is configured)
           does not.
  fullscreen  a weston nested in the test's weston with two outputs of
           320x240 (wayland backend, --output-count=2: "wayland0" at 0,0 and
           "wayland1" at 320,0); guest 1's connector is mapped to wayland1,
           guest 2's to wayland0 (connector.0 in guests.d): each window
           covers its output exactly, pixel-exact, in the nested weston's
           640x240 screenshot.
  formats  guests drawing RGB565 (weston advertises it: copied as is) and
           RGB888 (weston 10 does not: converted to XRGB8888) are shown
           pixel-exact, every pixel decoded from the guest's bytes the way
           pixman widens them; vdispld counts conversions for RGB888 only.

  seat     input from the compositor's wl_seat: weston's x11 backend in
           Xvfb (headless weston has no seat), xdotool driving X's pointer
           and keyboard, two simulated guests with a vkb each (--sim-vkb,
           --input auto picks the seat with --output wayland). The pointer
           enters guest A's window, clicks, A gets keys, moves in A; then
           enters B's window, clicks, B gets other keys and a wheel click,
           moves in B. X, pressed in A and released in B, is released
           in A as B takes the keyboard, and B never sees it. Each simulated xen-kbdfront must have received
           exactly its own events, in order: positions in its window (the
           windows found in a screenshot), the left button, the keys'
           evdev codes, the wheel; nothing meant for the other.

  big, sway  windows sized by the compositor, pictures scaled into them,
           buffers sized by what is shown: see wayland_fit.py.

Usage: wayland_test.py VDISPLD CASE
"""
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib

WIDTH, HEIGHT = 320, 240
SCREEN = (1024, 768)
SOCKET = "vd-wayland-test"


def say(msg):
    print("wayland_test: " + msg, flush=True)


def fail(msg):
    say("FAIL: " + msg)
    sys.exit(1)


# ---- PNG (8-bit RGB or RGBA, not interlaced), the stdlib way ----

def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def unfilter(kind, line, prev, bpp):
    out = bytearray(line)
    if kind == 0:
        return out
    for i in range(len(out)):
        a = out[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if kind == 1:
            out[i] = (out[i] + a) & 255
        elif kind == 2:
            out[i] = (out[i] + b) & 255
        elif kind == 3:
            out[i] = (out[i] + ((a + b) >> 1)) & 255
        elif kind == 4:
            out[i] = (out[i] + paeth(a, b, c)) & 255
    return out


def read_png(path):
    """Returns (width, height, rows of R,G,B bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("%s: not a PNG" % path)
    pos, idat, hdr = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            hdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    w, h, depth, ctype, _, _, interlace = hdr
    if depth != 8 or ctype not in (2, 6) or interlace:
        fail("%s: PNG depth %d colour type %d interlace %d not handled" % (
            path, depth, ctype, interlace))
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    rows, prev, stride = [], bytearray(w * bpp), w * bpp
    for y in range(h):
        line = raw[y * (stride + 1):(y + 1) * (stride + 1)]
        cur = unfilter(line[0], line[1:], prev, bpp)
        prev = cur
        if bpp == 4:
            rgb = bytearray(w * 3)
            rgb[0::3], rgb[1::3], rgb[2::3] = cur[0::4], cur[1::4], cur[2::4]
            cur = rgb
        rows.append(bytes(cur))
    return w, h, rows


# ---- the guest's pattern (simfront_client.c fill_row, stamp) in R,G,B ----

def guest_seed(domid=1, conn=0):
    return (domid * 0x01000193 + conn * 0x9e3779b9 + 1) & 0xffffffff


def expected_row(y, n, seed, width=WIDTH):
    row = bytearray(width * 3)
    for px in range(width):
        row[3 * px] = ((px ^ y) + seed) & 255       # R: byte 2
        row[3 * px + 1] = (y * 2 + n) & 255         # G: byte 1
        row[3 * px + 2] = (px * 2 + n * 3) & 255    # B: byte 0
    return bytes(row)


# The stamp's pixels (0 and 1 of row 0) carry the frame's and the seed's top
# bytes in the X byte of XRGB8888. Weston's screenshooter writes that byte as
# the PNG's alpha, unpremultiplied by cairo: alpha 0 (frame < 2^24) comes out
# black, alpha 1 (the seed's top byte) as noise. So pixel 0 must be black and
# pixel 1 is not compared; every other pixel is. The frame is known modulo
# 256 from the pattern, which is all the pattern depends on.
STAMP_PIXELS = 2


def find_window(img, seed):
    """(x, y, frame mod 256) of the guest's window, found by row 0; None if not there."""
    w, h, rows = img
    for y in range(h - HEIGHT + 1):
        row = rows[y]
        x = row.find(b"\0\0\0")
        while 0 <= x <= 3 * (w - WIDTH):
            px = x // 3
            if x % 3 == 0:
                r, n, b = row[3 * (px + 2):3 * (px + 3)]
                exp = expected_row(0, n, seed, 8)
                if row[3 * (px + 2):3 * (px + 8)] == exp[6:]:
                    return px, y, n
            x = row.find(b"\0\0\0", x + 1)
    return None


def check_window(img, x0, y0, n, seed):
    rows = img[2]
    for y in range(HEIGHT):
        got = rows[y0 + y][3 * x0:3 * (x0 + WIDTH)]
        exp = expected_row(y, n, seed)
        if y == 0:
            if got[0:3] != b"\0\0\0":
                fail("stamp pixel 0 is %s, not black" % got[0:3].hex())
            got, exp = got[3 * STAMP_PIXELS:], exp[3 * STAMP_PIXELS:]
        if got != exp:
            i = next(i for i in range(len(got)) if got[i] != exp[i])
            fail("window row %d byte %d: got %s, the guest drew %s (frame %d)" % (
                y, i, got[i - i % 3:i - i % 3 + 3].hex(), exp[i - i % 3:i - i % 3 + 3].hex(), n))


# ---- other formats: the same pattern bytes, decoded per format ----

def pattern_bytes(y, n, seed, nbytes):
    """Bytes of row y as simfront_client.c's fill_row lays them out."""
    out = bytearray(nbytes)
    for x in range(nbytes):
        px, k = x >> 2, x & 3
        out[x] = ((px * 2 + n * 3) if k == 0 else (y * 2 + n) if k == 1 else
                  ((px ^ y) + seed) if k == 2 else 0xff) & 255
    return out


def widen(v, bits):
    r = v << (8 - bits)
    have = bits
    while have < 8:
        r |= r >> have
        have += bits
    return r & 255


def decode_rgb565(b):
    out = bytearray()
    for i in range(0, len(b) - 1, 2):
        p = b[i] | b[i + 1] << 8
        out += bytes((widen(p >> 11, 5), widen(p >> 5 & 63, 6), widen(p & 31, 5)))
    return bytes(out)


def decode_rgb888(b):
    out = bytearray()
    for i in range(0, len(b) - 2, 3):
        out += bytes((b[i + 2], b[i + 1], b[i]))
    return bytes(out)


def decode_xrgb8888(b):
    out = bytearray()
    for i in range(0, len(b) - 3, 4):
        out += bytes((b[i + 2], b[i + 1], b[i]))
    return bytes(out)


FORMATS = {  # fourcc code: (bytes per pixel, decoder)
    "XR24": (4, decode_xrgb8888),
    "RG16": (2, decode_rgb565),
    "RG24": (3, decode_rgb888),
}


def format_row(fmt, y, n, seed, width=WIDTH):
    bpp, decode = FORMATS[fmt]
    return decode(pattern_bytes(y, n, seed, width * bpp))


def find_window_fmt(img, fmt, seed):
    """(x, y, frame mod 256) of a window of format fmt, found by its row 1."""
    w, h, rows = img
    flat = b"".join(rows)
    for n in range(256):
        needle = format_row(fmt, 1, n, seed, 24)
        off = flat.find(needle)
        while off >= 0:
            y, x = divmod(off, 3 * w)
            if x % 3 == 0 and y >= 1 and x // 3 + WIDTH <= w and y - 1 + HEIGHT <= h:
                return x // 3, y - 1, n
            off = flat.find(needle, off + 1)
    return None


def check_window_fmt(img, fmt, x0, y0, n, seed):
    rows = img[2]
    skip = -(-8 // FORMATS[fmt][0])  # pixels holding the 8 stamp bytes
    for y in range(HEIGHT):
        got = rows[y0 + y][3 * x0:3 * (x0 + WIDTH)]
        exp = format_row(fmt, y, n, seed)
        if y == 0:
            got, exp = got[3 * skip:], exp[3 * skip:]
        if got != exp:
            i = next(i for i in range(len(got)) if got[i] != exp[i])
            fail("%s window row %d byte %d: got %s, the guest drew %s (frame %d)" % (
                fmt, y, i, got[i - i % 3:i - i % 3 + 3].hex(), exp[i - i % 3:i - i % 3 + 3].hex(),
                n))


# ---- weston and vdispld ----

class Weston:
    def __init__(self, run_dir, idle_time, socket=SOCKET, screen=SCREEN, args=None, parent=None):
        self.run_dir, self.idle_time, self.proc = run_dir, idle_time, None
        self.socket, self.screen, self.parent = socket, screen, parent
        # default: headless; else these backend arguments (nested in parent)
        self.args = args
        self.log = open(os.path.join(run_dir, "weston-%s.log" % socket), "ab")

    def env(self):
        e = dict(os.environ)
        e["XDG_RUNTIME_DIR"] = self.run_dir
        e["WAYLAND_DISPLAY"] = self.socket
        e.pop("DISPLAY", None)
        return e

    def start(self):
        args = self.args or ["--backend=headless-backend.so", "--width=%d" % self.screen[0],
                             "--height=%d" % self.screen[1], "--debug"]
        env = self.env()
        if self.parent:
            env["WAYLAND_DISPLAY"] = self.parent.socket
        self.proc = subprocess.Popen(
            ["weston", "--use-pixman", "--socket=" + self.socket,
             "--idle-time=%d" % self.idle_time] + args,
            env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.run_dir)
        sock = os.path.join(self.run_dir, self.socket)
        for _ in range(100):
            if os.path.exists(sock):
                break
            if self.proc.poll() is not None:
                fail("weston exited with %d (see %s/weston-%s.log)" % (
                    self.proc.returncode, self.run_dir, self.socket))
            time.sleep(0.1)
        else:
            fail("weston did not create its socket")
        time.sleep(1)  # its shell client starts

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def screenshot(self, tag):
        before = set(os.listdir(self.run_dir))
        r = subprocess.run(["weston-screenshooter"], env=self.env(), cwd=self.run_dir,
                           capture_output=True, timeout=30)
        if r.returncode:
            fail("weston-screenshooter: %s" % r.stderr.decode(errors="replace"))
        new = [f for f in set(os.listdir(self.run_dir)) - before if f.endswith(".png")]
        if not new:
            fail("weston-screenshooter wrote no PNG")
        path = os.path.join(self.run_dir, "%s.png" % tag)
        os.rename(os.path.join(self.run_dir, new[0]), path)
        return read_png(path)


def start_vdispld(vdispld, weston, frames, run_for, extra=(), guests=1, err_name="vdispld.err",
                  size=(WIDTH, HEIGHT)):
    err = open(os.path.join(weston.run_dir, err_name), "wb")
    return subprocess.Popen(
        [vdispld, "--hypervisor", "sim", "--output", "wayland", "--sim-guests", str(guests),
         "--sim-frames", str(frames), "--sim-resolution", "%dx%d" % size,
         "--run-for", str(run_for), "--control-socket", "", "--status-interval", "0"] +
        list(extra),
        env=weston.env(), stdout=subprocess.PIPE, stderr=err, cwd=weston.run_dir)


def finish_vdispld(proc, weston, err_name="vdispld.err"):
    out, _ = proc.communicate(timeout=60)
    with open(os.path.join(weston.run_dir, err_name), "rb") as f:
        err = f.read().decode(errors="replace")
    out = out.decode()
    if proc.returncode:
        fail("vdispld exited with %d:\n%s" % (proc.returncode, err[-3000:]))
    m = re.search(r"summary: flips=(\d+) events=(\d+) copies=(\d+).* seconds=([\d.]+)", out)
    s = re.search(r"wayland: (\d+) frame callbacks, (\d+) fallback completions, (\d+) blind, "
                  r"(\d+) zero-copy frames, (\d+) wl_shm copies, (\d+) dropped, "
                  r"(\d+) connection\(s\), (\d+) converted", err)
    if not m or not s:
        fail("no summary from vdispld:\n%s\n%s" % (out, err[-3000:]))
    res = dict(zip(("flips", "events", "copies"), map(int, m.groups()[:3])))
    res["seconds"] = float(m.group(4))
    res.update(zip(("callbacks", "fallbacks", "blind", "zero_copy", "shm_copies", "dropped",
                    "connections", "converted"), map(int, s.groups())))
    res["err"] = err
    res["out"] = out
    # the copies' cost (not printed before the buffers were sized by what is shown)
    c = re.search(r"wl_shm buffers: at most (\d+) bytes a connector; ([\d.]+) us a copy", err)
    if c:
        res["shm_peak"], res["copy_us"] = int(c.group(1)), float(c.group(2))
    say("summary: " + ", ".join("%s=%s" % (k, v) for k, v in res.items() if k not in ("err", "out")))
    return res


# ---- the cases ----

def case_show(vdispld, weston):
    frames = 200
    weston.start()
    proc = start_vdispld(vdispld, weston, frames, 14)
    seed, found, t0 = guest_seed(), None, time.time()
    while time.time() - t0 < 8 and not found:
        time.sleep(0.5)
        img = weston.screenshot("flipping")
        found = find_window(img, seed)
    if not found:
        fail("the guest's window is not in weston's screenshot (flipping.png)")
    x0, y0, n = found
    check_window(img, x0, y0, n, seed)
    say("window at %d,%d shows a guest frame (number %d mod 256), %dx%d pixel-exact" % (x0, y0, n, WIDTH, HEIGHT))
    # The guest stops after its last frame, which stays on screen.
    last = None
    while time.time() - t0 < 12 and proc.poll() is None:
        time.sleep(0.5)
        img = weston.screenshot("last")
        last = find_window(img, seed)
        if last and last[2] == frames % 256:
            break
    if not last or last[2] != frames % 256:
        fail("the window does not show the guest's last frame %d (last.png)" % frames)
    check_window(img, last[0], last[1], last[2], seed)
    say("the window shows the guest's last frame %d, pixel-exact" % frames)
    res = finish_vdispld(proc, weston)
    if res["flips"] != frames or res["events"] != frames:
        fail("flips %d, events %d: the guest flipped %d frames" % (
            res["flips"], res["events"], frames))
    # Each flip completed once: by its frame callback, the fallback timer,
    # or blind (before the window's first configure); each shown one copied.
    if res["callbacks"] + res["fallbacks"] + res["blind"] != frames:
        fail("completions do not add up to the flips")
    if res["callbacks"] < frames * 9 // 10:
        fail("only %d of %d flips completed by frame callbacks" % (res["callbacks"], frames))
    if res["shm_copies"] < res["callbacks"] + res["fallbacks"] - res["dropped"]:
        fail("fewer wl_shm copies than frames shown")


def case_idle(vdispld, weston):
    weston.idle_time = 1
    weston.start()
    time.sleep(3.5)  # weston is asleep now (its shell started, 1 s idle): no frame callbacks
    proc = start_vdispld(vdispld, weston, 0, 4)
    res = finish_vdispld(proc, weston)
    rate = res["flips"] / res["seconds"]
    say("%.1f flips/s with callbacks withheld (the guest's watchdog: one per 3.1 s)" % rate)
    if res["fallbacks"] < 10 or res["fallbacks"] < res["callbacks"]:
        fail("weston did not withhold frame callbacks (callbacks %d, fallbacks %d)" % (
            res["callbacks"], res["fallbacks"]))
    if rate < 10 or res["flips"] - res["events"] > 1:
        fail("the guest stalled: %.1f flips/s, flips %d events %d" % (
            rate, res["flips"], res["events"]))


def case_restart(vdispld, weston):
    weston.start()
    proc = start_vdispld(vdispld, weston, 0, 9)
    time.sleep(2)
    weston.stop()
    say("weston stopped")
    time.sleep(2.5)
    weston.start()
    say("weston started again")
    time.sleep(3)
    img = weston.screenshot("restarted")
    found = find_window(img, guest_seed())
    if not found:
        fail("the guest's window is not back after weston restarted")
    check_window(img, found[0], found[1], found[2], guest_seed())
    say("window back at %d,%d showing a frame (number %d mod 256)" % found)
    res = finish_vdispld(proc, weston)
    rate = res["flips"] / res["seconds"]
    if res["connections"] < 2 or res["blind"] < 10:
        fail("expected a reconnect and blind flips (connections %d, blind %d)" % (
            res["connections"], res["blind"]))
    if rate < 10 or res["flips"] - res["events"] > 1:
        fail("the guest stalled: %.1f flips/s, flips %d events %d" % (
            rate, res["flips"], res["events"]))


IVI_INI = """[core]
shell=ivi-shell.so
modules=hmi-controller.so

[ivi-shell]
ivi-shell-user-interface=%(libexec)s/weston-ivi-shell-user-interface
transition-duration=50
background-image=%(data)s/background.png
background-id=1001
panel-image=%(data)s/panel.png
panel-id=1002
surface-id-offset=10
tiling-image=%(data)s/tiling.png
tiling-id=1003
sidebyside-image=%(data)s/sidebyside.png
sidebyside-id=1004
fullscreen-image=%(data)s/fullscreen.png
fullscreen-id=1005
random-image=%(data)s/random.png
random-id=1006
home-image=%(data)s/home.png
home-id=1007
workspace-background-color=0x99000000
workspace-background-id=2001
"""


NESTED = []  # compositors inside the test's weston, stopped first


def ivi_ui_dir():
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/libexec",
              "/usr/lib"):
        if os.path.exists(os.path.join(d, "weston-ivi-shell-user-interface")):
            return d
    fail("weston-ivi-shell-user-interface not found (Debian package weston)")


def case_ivi(vdispld, outer):
    run = outer.run_dir
    ini = os.path.join(run, "ivi.ini")
    with open(ini, "w") as f:
        f.write(IVI_INI % {"libexec": ivi_ui_dir(), "data": "/usr/share/weston"})
    conf = os.path.join(run, "conf")
    os.makedirs(os.path.join(conf, "guests.d"))
    with open(os.path.join(conf, "vdispld.conf"), "w") as f:
        f.write("# the wayland test's configuration\n")
    with open(os.path.join(conf, "guests.d", "sim-guest-1.conf"), "w") as f:
        f.write("connector.0 = 4711\n")
    outer.screen = (1280, 550)
    outer.start()
    ivi = Weston(run, 0, socket="vd-ivi", parent=outer,
                 args=["--config=" + ini, "--backend=wayland-backend.so", "--fullscreen"])
    NESTED.append(ivi)
    ivi.start()
    time.sleep(1)  # the user interface client shows the panel: the controller is ready
    proc = start_vdispld(vdispld, ivi, 0, 9, ["--config", os.path.join(conf, "vdispld.conf")],
                         guests=2)
    seeds = {1: guest_seed(1), 2: guest_seed(2)}
    t0, found = time.time(), {}
    while time.time() - t0 < 6 and len(found) < 2:
        time.sleep(0.7)
        img = outer.screenshot("ivi")
        # Found by row 1: nested, the stamp pixels keep their colour (no alpha).
        found = {d: find_window_fmt(img, "XR24", seed) for d, seed in seeds.items()}
        found = {d: f for d, f in found.items() if f}
    if len(found) < 2:
        fail("guests %s not on screen (ivi.png)" % sorted(set(seeds) - set(found)))
    for d, (x, y, n) in found.items():
        check_window_fmt(img, "XR24", x, y, n, seeds[d])
        say("guest %d: IVI surface at %d,%d, frame %d mod 256, pixel-exact" % (d, x, y, n))
    places = sorted((x, y) for x, y, _ in found.values())
    if places != [(0, 0), (WIDTH, 0)]:
        fail("the IVI surfaces are at %s, not tiled at 0,0 and %d,0" % (places, WIDTH))
    # Ids: weston refuses an id that is in use (protocol error ivi_id).
    taken = start_vdispld(vdispld, ivi, 0, 2, ["--config", os.path.join(conf, "vdispld.conf")],
                          err_name="taken.err")
    res = finish_vdispld(taken, ivi, "taken.err")
    if "ivi_application" not in res["err"] or "error 1" not in res["err"]:
        fail("a second IVI surface with id 4711 was not refused: guest 1 does not hold it")
    say("id 4711 is held by guest 1: weston refused it to another client")
    free = start_vdispld(vdispld, ivi, 0, 2, err_name="free.err")
    res = finish_vdispld(free, ivi, "free.err")
    if "ivi_application" in res["err"] or "IVI surface id 1000100" not in res["err"]:
        fail("the default id 1000100 of a domain 1 was refused or not used")
    say("default id 1000100 was free (guest 1 uses its configured id instead)")
    res = finish_vdispld(proc, ivi)
    ivi.stop()
    if "IVI surface id 4711" not in res["err"] or "IVI surface id 1000200" not in res["err"]:
        fail("vdispld did not use ids 4711 and 1000200")
    if res["callbacks"] < res["flips"] // 2:
        fail("only %d of %d flips completed by frame callbacks" % (res["callbacks"], res["flips"]))


def write_conf(run, guests):
    conf = os.path.join(run, "conf")
    os.makedirs(os.path.join(conf, "guests.d"), exist_ok=True)
    with open(os.path.join(conf, "vdispld.conf"), "w") as f:
        f.write("# the wayland test's configuration\n")
    for name, text in guests.items():
        with open(os.path.join(conf, "guests.d", name + ".conf"), "w") as f:
            f.write(text)
    return os.path.join(conf, "vdispld.conf")


def case_fullscreen(vdispld, outer):
    run = outer.run_dir
    conf = write_conf(run, {"sim-guest-1": "connector.0 = wayland1\n",
                            "sim-guest-2": "connector.0 = wayland0\n"})
    outer.start()
    inner = Weston(run, 0, socket="vd-two", parent=outer,
                   args=["--no-config", "--backend=wayland-backend.so", "--output-count=2",
                         "--width=%d" % WIDTH, "--height=%d" % HEIGHT, "--debug"])
    NESTED.append(inner)
    inner.start()
    proc = start_vdispld(vdispld, inner, 0, 8, ["--config", conf], guests=2)
    seeds = {1: guest_seed(1), 2: guest_seed(2)}
    want = {1: (WIDTH, 0), 2: (0, 0)}  # wayland1, wayland0
    t0, found = time.time(), {}
    while time.time() - t0 < 6:
        time.sleep(0.7)
        img = inner.screenshot("fullscreen")
        found = {d: find_window_fmt(img, "XR24", seed) for d, seed in seeds.items()}
        if all(found.values()) and all(found[d][:2] == want[d] for d in want):
            break
    if img[0] != 2 * WIDTH or img[1] != HEIGHT:
        fail("the nested weston's screen is %dx%d, not two 320x240 outputs" % img[:2])
    for d in want:
        if not found[d]:
            fail("guest %d is not on screen (fullscreen.png)" % d)
        x, y, n = found[d]
        if (x, y) != want[d]:
            fail("guest %d's window is at %d,%d, not covering its output at %d,%d" % (
                d, x, y, want[d][0], want[d][1]))
        check_window_fmt(img, "XR24", x, y, n, seeds[d])
        say("guest %d covers output %s (%d,%d %dx%d), pixel-exact" % (
            d, "wayland1" if x else "wayland0", x, y, WIDTH, HEIGHT))
    finish_vdispld(proc, inner)


def case_formats(vdispld, weston):
    weston.start()
    seed = guest_seed()
    for fmt, converted in (("RG16", False), ("RG24", True)):
        proc = start_vdispld(vdispld, weston, 0, 6, ["--sim-format", fmt])
        found, t0 = None, time.time()
        while time.time() - t0 < 5 and not found:
            time.sleep(0.7)
            img = weston.screenshot(fmt)
            found = find_window_fmt(img, fmt, seed)
        if not found:
            fail("the %s guest's window is not in weston's screenshot (%s.png)" % (fmt, fmt))
        check_window_fmt(img, fmt, *found, seed)
        say("%s: window at %d,%d shows frame %d mod 256, %dx%d pixel-exact" % (
            fmt, found[0], found[1], found[2], WIDTH, HEIGHT))
        res = finish_vdispld(proc, weston)
        if converted and res["converted"] < res["shm_copies"] or res["shm_copies"] == 0:
            fail("%s: %d of %d copies converted; weston 10 lacks this wl_shm format" % (
                fmt, res["converted"], res["shm_copies"]))
        if not converted and res["converted"]:
            fail("%s: %d copies converted although weston advertises the format" % (
                fmt, res["converted"]))




class XWeston(Weston):
    """weston on the x11 backend: one X window, the output, at 0,0 of the Xvfb screen."""

    def __init__(self, run_dir, xdisplay):
        super().__init__(run_dir, 0, args=["--backend=x11-backend.so", "--width=%d" % SCREEN[0],
                                           "--height=%d" % SCREEN[1], "--debug"])
        self.xdisplay = xdisplay

    def env(self):
        e = super().env()
        e["DISPLAY"] = self.xdisplay
        return e


def start_xvfb(run_dir):
    """Xvfb on a display it picks itself (-displayfd); (process, ":N")."""
    rfd, wfd = os.pipe()
    log = open(os.path.join(run_dir, "xvfb.log"), "ab")
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(wfd), "-nolisten", "tcp", "-screen", "0",
                             "%dx%dx24" % (SCREEN[0] + 256, SCREEN[1] + 64)],
                            pass_fds=(wfd,), stdout=log, stderr=subprocess.STDOUT)
    os.close(wfd)
    num = b""
    deadline = time.time() + 30
    with os.fdopen(rfd, "rb", buffering=0) as f:
        while not num.endswith(b"\n") and time.time() < deadline:
            c = f.read(1)
            if not c:
                break
            num += c
    if not num.strip().isdigit():
        proc.kill()
        fail("Xvfb did not start (see %s/xvfb.log)" % run_dir)
    return proc, ":" + num.strip().decode()


def xdo(weston, *args):
    r = subprocess.run(["xdotool"] + [str(a) for a in args], env=weston.env(),
                       capture_output=True, timeout=20)
    if r.returncode:
        fail("xdotool %s: %s" % (" ".join(map(str, args)), r.stderr.decode(errors="replace")))
    time.sleep(0.25)  # weston reads X's events and sends them on in its own time


def wait_for(what, cond, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.3)
    fail("timed out waiting for " + what)


def case_seat(vdispld, _headless):
    for tool in ("Xvfb", "xdotool"):
        if not shutil.which(tool):
            fail("%s is not installed (tests/install-deps.sh)" % tool)
    run_dir = _headless.run_dir
    xvfb, xdisplay = start_xvfb(run_dir)
    NESTED.append(Killer(xvfb))
    weston = XWeston(run_dir, xdisplay)
    NESTED.insert(0, weston)
    weston.start()
    err_path = os.path.join(run_dir, "vdispld.err")
    proc = start_vdispld(vdispld, weston, 0, 50, guests=2,
                         extra=["--sim-vkb", "--input", "auto", "-v"])
    try:
        wait_for("both guests' vkb", lambda: all(
            "input: sim-guest-%d (dom%d) takes input" % (d, d) in open(err_path).read()
            for d in (1, 2)), 20)

        def windows():
            img = weston.screenshot("windows")
            a, b = find_window(img, guest_seed(1)), find_window(img, guest_seed(2))
            return (a, b) if a and b else None
        (ax, ay, _), (bx, by, _) = wait_for("both guests' windows in a screenshot", windows, 20)
        say("windows: dom1 at %d,%d, dom2 at %d,%d" % (ax, ay, bx, by))

        def inside(x, y, wx, wy):
            return wx <= x < wx + WIDTH and wy <= y < wy + HEIGHT

        # Points of each window that the other does not cover (weston places them at random).
        pts = {1: [], 2: []}
        cand = ((40, 30), (200, 150), (280, 40), (30, 200), (150, 100), (290, 220))
        # Different points in each window: a position mapped to the wrong window shows.
        for dom, (wx, wy), (ox, oy) in ((1, (ax, ay), (bx, by)), (2, (bx, by), (ax, ay))):
            for px, py in cand if dom == 1 else cand[2:] + cand[:2]:
                if not inside(wx + px, wy + py, ox, oy):
                    pts[dom].append((px, py))
            if len(pts[dom]) < 2:
                fail("the windows overlap too much to point into dom%d's" % dom)
        a1, a2 = pts[1][:2]
        b1, b2 = pts[2][:2]
        # A: enter, click (weston gives A the keyboard), "ab", move.
        xdo(weston, "mousemove", ax + a1[0], ay + a1[1])
        xdo(weston, "click", 1)
        xdo(weston, "key", "a", "b")
        xdo(weston, "mousemove", ax + a2[0], ay + a2[1])
        # B: enter and click with X held down (released in A as B takes the
        # keyboard, never seen by B; one xdotool command, quicker than X's
        # key repeat), "cd", a wheel click up (away from the user), move.
        xdo(weston, "keydown", "x", "mousemove", bx + b1[0], by + b1[1], "click", 1,
            "keyup", "x")
        xdo(weston, "key", "c", "d")
        xdo(weston, "click", 4)
        xdo(weston, "mousemove", bx + b2[0], by + b2[1])
        time.sleep(0.5)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    res = finish_vdispld(proc, weston)
    got = {}
    out = res["out"]
    for m in re.finditer(r"^sim-vkb dom(\d+): events=(\d+) crashes=(\d+) violations=(\d+):(.*)$",
                         out, re.M):
        dom, n, crashes, viol, evs = m.groups()
        got[int(dom)] = evs.split()
        if crashes != "0" or viol != "0":
            fail("dom%s: %s crashes, %s violations" % (dom, crashes, viol))
    if sorted(got) != [1, 2]:
        fail("no report of both simulated vkb devices:\n" + out)
    # xen-kbdfront's wheel: REL_WHEEL +1 is rel_z -1 on the wire, with the position.
    want = {1: ["P%d,%d,0" % a1, "K272+", "K272-", "K30+", "K30-", "K48+", "K48-",
                "P%d,%d,0" % a2, "K45+", "K45-"],
            2: ["P%d,%d,0" % b1, "K272+", "K272-", "K46+", "K46-", "K32+", "K32-",
                "P%d,%d,-1" % b1, "P%d,%d,0" % b2]}
    for dom in (1, 2):
        say("dom%d received: %s" % (dom, " ".join(got[dom])))
        if got[dom] != want[dom]:
            say("dom%d expected: %s" % (dom, " ".join(want[dom])))
            fail("dom%d did not receive exactly its events" % dom)


class Killer:
    """Something NESTED stops: a plain process."""

    def __init__(self, proc):
        self.proc = proc

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def main():
    global wayland_fit
    # the cases in wayland_fit.py use this module's helpers and NESTED: one copy of it
    sys.modules.setdefault("wayland_test", sys.modules[__name__])
    import wayland_fit
    if len(sys.argv) != 3:
        fail(__doc__)
    vdispld, case = sys.argv[1], sys.argv[2]
    for tool in ("weston", "weston-screenshooter"):
        if not shutil.which(tool):
            fail("%s is not installed (tests/install-deps.sh)" % tool)
    run_dir = tempfile.mkdtemp(prefix="vd-wayland-")
    os.chmod(run_dir, 0o700)
    weston = Weston(run_dir, 0)
    ok = False
    try:
        {"show": case_show, "idle": case_idle, "restart": case_restart,
         "formats": case_formats, "ivi": case_ivi, "fullscreen": case_fullscreen,
         "seat": case_seat, "big": wayland_fit.case_big,
         "sway": wayland_fit.case_sway}[case](vdispld, weston)
        ok = True
    finally:
        for w in NESTED:
            w.stop()
        weston.stop()
        if ok:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            say("kept %s" % run_dir)
    say("ok")


if __name__ == "__main__":
    main()
