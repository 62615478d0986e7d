# SPDX-License-Identifier: MIT
"""The Wayland output's windows sized by the compositor (CTest label "wayland";
run through wayland_test.py, whose helpers they use).

  big      a guest fullscreen on a 512x384 headless weston at the screen's
           size (the baseline) and at 4x it (2048x1536): the window shows
           every 4th pixel, pixel-exact, and the wl_shm buffers vdispld maps
           stay within two of the screen's size; the copy time a frame of
           each is printed.
  sway     sway 1.7 (wlroots, headless, pixman) on a 1280x480 output, two
           guests: guest 1's window tiled over the whole output (not floated
           as a dialog), its picture scaled 2x with its aspect kept, black
           around; guest 2 placed floating at 0,0 by a for_window rule on its
           app_id vdispld.sim-guest-2.0, pixel-exact (grim's screenshot).
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

from wayland_test import (HEIGHT, NESTED, STAMP_PIXELS, WIDTH, Killer, fail, finish_vdispld,
                          format_row, guest_seed, read_png, say, start_vdispld, write_conf)


def shm_bytes(pid):
    """Bytes of vdispld's wl_shm buffers mapped now (its memfds "vdispld-wl-shm")."""
    total = 0
    try:
        with open("/proc/%d/maps" % pid) as f:
            for line in f:
                if "vdispld-wl-shm" in line:
                    a, b = line.split()[0].split("-")
                    total += int(b, 16) - int(a, 16)
    except FileNotFoundError:
        pass
    return total


def check_scaled(img, x0, y0, step, scale, n, seed, src_w, src_h, what):
    """The window at x0,y0 shows every step-th pixel of the guest's frame n, each scale x scale."""
    err = scaled_error(img, x0, y0, step, scale, n, seed, src_w, src_h, what)
    if err:
        fail(err)


def scaled_error(img, x0, y0, step, scale, n, seed, src_w, src_h, what):
    """What check_scaled finds wrong, or None."""
    rows = img[2]
    for y in range(src_h // step):
        exp = format_row("XR24", y * step, n, seed, src_w)
        exp = b"".join(exp[3 * x * step:3 * x * step + 3] * scale for x in range(src_w // step))
        for dy in range(scale):
            got = rows[y0 + y * scale + dy][3 * x0:3 * x0 + len(exp)]
            e = exp
            if y == 0:  # the stamp pixels (0 and 1 of row 0)
                skip = 3 * scale * (-(-STAMP_PIXELS // step))
                got, e = got[skip:], e[skip:]
            if got != e:
                i = next(i for i in range(len(got)) if got[i] != e[i])
                return "%s: row %d byte %d: got %s, the guest drew %s (frame %d)" % (
                    what, y0 + y * scale + dy, i, got[i - i % 3:i - i % 3 + 3].hex(),
                    e[i - i % 3:i - i % 3 + 3].hex(), n)
    return None


def check_black(img, x0, y0, w, h, what):
    rows = img[2]
    for y in range(y0, y0 + h):
        if rows[y][3 * x0:3 * (x0 + w)].strip(b"\0"):
            fail("%s: row %d is not black" % (what, y))


def case_big(vdispld, weston):
    """A guest's resolution 4x the screen's: buffers of what the screen shows."""
    screen, big = (512, 384), (2048, 1536)
    weston.screen = screen
    weston.start()
    conf = write_conf(weston.run_dir, {"sim-guest-1": "connector.0 = headless\n"})
    frames = 60
    results = {}
    limit = 2 * screen[0] * screen[1] * 4
    for size in (screen, big):  # the baseline: a guest of the screen's size
        proc = start_vdispld(vdispld, weston, frames, 12, ["--config", conf], size=size,
                             err_name="big.err")
        step, what = size[0] // screen[0], "%dx%d guest on the %dx%d screen" % (size + screen)
        # until the guest's last frame is on screen (it stops there), then vdispld is stopped
        peak, t0, err = 0, time.time(), "nothing seen"
        while proc.poll() is None and time.time() - t0 < 10 and err:
            time.sleep(0.3)
            peak = max(peak, shm_bytes(proc.pid))
            img = weston.screenshot("big-%dx%d" % size)
            err = scaled_error(img, 0, 0, step, 1, frames % 256, guest_seed(), size[0],
                               size[1], what)
        if peak > limit:
            fail("the %dx%d guest's wl_shm buffers took %d bytes; two of the screen's size "
                 "are %d" % (size + (peak, limit)))
        if err:
            fail(err)
        proc.send_signal(signal.SIGTERM)
        res = finish_vdispld(proc, weston, "big.err")
        results[size] = (peak, res.get("copy_us"))
        say("%dx%d guest fullscreen on %dx%d: every %d. pixel, pixel-exact; wl_shm mapped "
            "at most %d bytes; %s us a copy" % (size + screen + (step, peak, res.get("copy_us"))))
    (p0, c0), (p1, c1) = results[screen], results[big]
    if c0 and c1:
        say("a guest of 16x the pixels on the same screen: %.2fx the memory, %.2fx the copy "
            "time a frame" % (p1 / p0, c1 / c0))


SWAY_CONF = """output HEADLESS-1 resolution %dx%d
default_border none
default_floating_border none
xwayland disable
for_window [app_id="^vdispld\\.sim-guest-2\\.0$"] floating enable, resize set %d %d, move position 0 0
"""


class Sway:
    """sway 1.7 headless (wlroots, pixman): a tiling compositor; grim takes its screenshots."""

    def __init__(self, run_dir, screen):
        self.run_dir, self.screen, self.proc = run_dir, screen, None
        # sway refuses to run as root: then it runs as nobody in a directory of its own
        self.dir = tempfile.mkdtemp(prefix="vd-sway-")
        if os.geteuid() == 0:
            os.chown(self.dir, 65534, 65534)
        self.socket = None
        self.log = open(os.path.join(run_dir, "sway.log"), "ab")

    def env(self):
        e = dict(os.environ)
        e.update(XDG_RUNTIME_DIR=self.dir, WLR_BACKENDS="headless", WLR_LIBINPUT_NO_DEVICES="1",
                 WLR_RENDERER="pixman", HOME=self.dir)
        e.pop("DISPLAY", None)
        e.pop("WAYLAND_DISPLAY", None)
        if self.socket:
            e["WAYLAND_DISPLAY"] = self.socket
        return e

    def start(self):
        conf = os.path.join(self.dir, "sway.conf")
        with open(conf, "w") as f:
            f.write(SWAY_CONF % (self.screen + (WIDTH, HEIGHT)))
        os.chmod(conf, 0o644)
        cmd = ["sway", "-c", conf]
        if os.geteuid() == 0:
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + cmd
        self.proc = subprocess.Popen(cmd, env=self.env(), stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=self.dir)
        for _ in range(100):
            names = os.listdir(self.dir)
            socks = [n for n in names if n.startswith("wayland-") and not n.endswith(".lock")]
            ipc = [n for n in names if n.startswith("sway-ipc.")]
            if socks and ipc:
                self.socket, self.ipc = socks[0], os.path.join(self.dir, ipc[0])
                return
            if self.proc.poll() is not None:
                fail("sway exited with %d (see %s/sway.log)" % (self.proc.returncode,
                                                                 self.run_dir))
            time.sleep(0.1)
        fail("sway did not create its sockets")

    def stop(self):
        Killer(self.proc).stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def windows(self):
        """{title: (app_id, floating, (x, y, w, h))} of the windows sway has."""
        r = subprocess.run(["swaymsg", "-s", self.ipc, "-t", "get_tree", "-r"], env=self.env(),
                           capture_output=True, timeout=20)
        if r.returncode:
            fail("swaymsg: %s" % r.stderr.decode(errors="replace"))
        out = {}

        def walk(node, floating):
            if node.get("app_id") is not None:
                rc = node["rect"]
                out[node["name"]] = (node["app_id"], floating,
                                     (rc["x"], rc["y"], rc["width"], rc["height"]))
            for c in node.get("nodes", []):
                walk(c, False)
            for c in node.get("floating_nodes", []):
                walk(c, True)
        walk(json.loads(r.stdout), False)
        return out

    def screenshot(self, tag):
        path = os.path.join(self.run_dir, "%s.png" % tag)
        r = subprocess.run(["grim", "-t", "png", "-l", "0", path], env=self.env(),
                           capture_output=True, timeout=30)
        if r.returncode:
            fail("grim: %s" % r.stderr.decode(errors="replace"))
        return read_png(path)


def case_sway(vdispld, weston):
    """Two guests under a tiling compositor, placed by its rules on their app_id."""
    for tool in ("sway", "swaymsg", "grim"):
        if not shutil.which(tool):
            fail("%s is not installed (tests/install-deps.sh)" % tool)
    screen = (4 * WIDTH, 2 * HEIGHT)
    sway = Sway(weston.run_dir, screen)
    NESTED.append(sway)
    sway.start()
    frames = 90
    proc = start_vdispld(vdispld, sway, frames, 7, guests=2)
    # guest 1 tiled over the whole output; guest 2 placed by the rule on its app_id
    want = {"sim-guest-1:0": ("vdispld.sim-guest-1.0", False, (0, 0) + screen),
            "sim-guest-2:0": ("vdispld.sim-guest-2.0", True, (0, 0, WIDTH, HEIGHT))}
    t0, wins = time.time(), {}
    while time.time() - t0 < 6 and wins != want:
        time.sleep(0.3)
        wins = {k: v for k, v in sway.windows().items() if k in want}
    say("sway's windows: %s" % wins)
    for title in want:
        if title not in wins:
            fail("no window %s" % title)
    app, floating, rect = wins["sim-guest-1:0"]
    if floating or rect != want["sim-guest-1:0"][2]:
        fail("guest 1's window is %s at %s, not tiled over the whole %dx%d output" % (
            "floating" if floating else "tiled", rect, screen[0], screen[1]))
    for title, (app, _, _) in wins.items():
        if app != want[title][0]:
            fail("%s's app_id is %s, not %s" % (title, app, want[title][0]))
    if wins["sim-guest-2:0"] != want["sim-guest-2:0"]:
        fail("guest 2's window is %s: the for_window rule on its app_id did not place it" % (
            wins["sim-guest-2:0"],))
    # The guests stop at their last frame: guest 2 as it is, guest 1 scaled 2x, centred.
    n, t0 = frames % 256, time.time()
    while proc.poll() is None and time.time() - t0 < 6:
        time.sleep(0.5)
    img = sway.screenshot("sway")
    check_scaled(img, 0, 0, 1, 1, n, guest_seed(2), WIDTH, HEIGHT, "guest 2 (floating)")
    say("guest 2: floating at 0,0 by the rule, %dx%d pixel-exact" % (WIDTH, HEIGHT))
    check_scaled(img, WIDTH, 0, 1, 2, n, guest_seed(1), WIDTH, HEIGHT, "guest 1 (tiled)")
    check_black(img, 3 * WIDTH, 0, WIDTH, 2 * HEIGHT, "right of guest 1's picture")
    check_black(img, 0, HEIGHT, WIDTH, HEIGHT, "left of guest 1's picture")
    say("guest 1: tiled %dx%d, its picture scaled 2x at %d,0 (aspect kept), black around" % (
        screen + (WIDTH,)))
    res = finish_vdispld(proc, sway)
    if res["flips"] != 2 * frames or res["events"] != 2 * frames:
        fail("flips %d, events %d: the guests flipped %d frames" % (
            res["flips"], res["events"], 2 * frames))
