#!/usr/bin/env python3
"""vdispld as an operator runs it, over the simulated hypervisor: configuration
files (--check-config, per-guest caps and mappings), vdispctl status --json
while guests flip, a screenshot that is exactly the guest's frame, focus, and
SIGHUP reloads with a bad and a good file."""
import json, os, re, signal, stat, subprocess, sys, tempfile, time

VDISPLD, VDISPCTL, SHOTCHECK = sys.argv[1:4]
work = tempfile.mkdtemp(prefix="vdispld-svc-")
sock = os.path.join(work, "control")
conf = os.path.join(work, "vdispld.conf")
gdir = os.path.join(work, "guests.d")
os.mkdir(gdir)


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def put(path, text):
    with open(path, "w") as f:
        f.write(text)


def ctl(*args, ok=True):
    p = subprocess.run([VDISPCTL, "-s", sock, *args], capture_output=True, text=True, timeout=10)
    if ok and p.returncode != 0:
        fail(f"vdispctl {' '.join(args)}: rc {p.returncode}: {p.stderr}")
    return p


def status():
    return json.loads(ctl("--json", "status").stdout)


def guest(st, name):
    for g in st["guests"]:
        if g["name"] == name:
            return g
    fail(f"guest {name} not in status: {st}")


def wait_for(cond, what, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        r = cond()
        if r:
            return r
        time.sleep(0.05)
    fail(f"timed out waiting for {what}")


put(conf, f"""# test configuration
hypervisor = sim
control-socket = {sock}
status-interval = 0
[default]
max-framebuffers = 64
""")
put(os.path.join(gdir, "sim-guest-1.conf"),
    "max-buffers = 1\nconnector.0 = HDMI-A-1\nmax-grant-maps = 5000\n")

# 1. --check-config: good, then a broken guest file (file:line:key), exit 1.
p = subprocess.run([VDISPLD, "--config", conf, "--check-config"], capture_output=True, text=True)
if p.returncode != 0:
    fail(f"check-config of a good file: {p.returncode} {p.stderr}")
bad = os.path.join(gdir, "web.conf")
put(bad, "zero-copy = on\nmax-buffers = lots\n")
p = subprocess.run([VDISPLD, "--config", conf, "--check-config"], capture_output=True, text=True)
want = 'guests.d/web.conf:2: max-buffers: expected a number 1..4096, got "lots"'
if p.returncode != 1 or want not in p.stderr:
    fail(f"check-config of a bad file: rc {p.returncode}, stderr {p.stderr!r}")
# The daemon refuses to start on it too.
p = subprocess.run([VDISPLD, "--config", conf, "--run-for", "1"], capture_output=True, text=True)
if p.returncode != 1 or want not in p.stderr:
    fail(f"start with a bad file: rc {p.returncode}, stderr {p.stderr!r}")
os.unlink(bad)
p = subprocess.run([VDISPLD, "--config", os.path.join(work, "nope.conf"), "--check-config"],
                   capture_output=True, text=True)
if p.returncode != 1 or "nope.conf: No such file" not in p.stderr:
    fail(f"check-config of a missing --config: {p.returncode} {p.stderr!r}")
print("check-config: ok")

# 2. The daemon with two guests; the command line overrides the file (refresh).
err = open(os.path.join(work, "err"), "w+")
d = subprocess.Popen([VDISPLD, "--config", conf, "--sim-guests", "2", "--sim-resolution", "320x240",
                      "--refresh", "60", "--sim-vkb", "--seat", "seat9"],
                     stdout=subprocess.DEVNULL, stderr=err)
try:
    wait_for(lambda: os.path.exists(sock), "the control socket")
    mode = stat.S_IMODE(os.stat(sock).st_mode)
    if mode != 0o600:
        fail(f"control socket mode {oct(mode)}, want 0600")

    def flipping():
        st = status()
        g = [x for x in st["guests"] if x["name"] == "sim-guest-2"]
        return st if g and g[0]["devices"][0]["connectors"] and \
            g[0]["devices"][0]["connectors"][0]["flips"] > 30 else None
    wait_for(flipping, "sim-guest-2 flipping")
    time.sleep(1.2)  # a full rate sample
    st1 = status()
    time.sleep(0.5)
    st2 = status()
    g1, g2 = guest(st2, "sim-guest-1"), guest(st2, "sim-guest-2")
    dev1, dev2 = g1["devices"][0], g2["devices"][0]
    c2 = dev2["connectors"][0]
    # Caps from the guest's own file, defaults layered under it; the other guest unaffected.
    if dev1["caps"]["max_buffers"] != 1 or dev1["refused"] < 1 or dev1["buffers"] > 1:
        fail(f"sim-guest-1 cap not enforced: {dev1}")
    if dev1["caps"]["max_framebuffers"] != 64 or dev2["caps"]["max_framebuffers"] != 64:
        fail(f"[default] not applied: {dev1['caps']} {dev2['caps']}")
    if dev2["caps"]["max_buffers"] != 256 or dev2["refused"] != 0:
        fail(f"sim-guest-2 got sim-guest-1's cap: {dev2}")
    if dev1["connectors"][0]["mapping"] != "HDMI-A-1" or c2["mapping"] is not None:
        fail(f"mappings: {dev1['connectors'][0]['mapping']} {c2['mapping']}")
    if not g1["settings"].endswith("guests.d/sim-guest-1.conf") or not g2["settings"].endswith("/vdispld.conf"):
        fail(f"settings sources: {g1['settings']} {g2['settings']}")
    old = guest(st1, "sim-guest-2")["devices"][0]["connectors"][0]["flips"]
    if c2["flips"] <= old or not 40 <= c2["flips_per_second"] <= 80:
        fail(f"sim-guest-2 not flipping at 60 Hz: {old} -> {c2['flips']}, {c2['flips_per_second']}/s")
    if dev2["state"] != "Connected" or dev2["zero_copy"] != "zero-copy" or c2["width"] != 320:
        fail(f"sim-guest-2 device: {dev2}")
    if st2["destroy_retry"] != [] or st2["totals"]["devices"] != 2:
        fail(f"totals / retry list: {st2['totals']} {st2['destroy_retry']}")
    # Resources against the caps: two 320x240 zero-copy buffers map each page
    # once (the dma-buf: nothing reads their pixels yet), and the ring and
    # event page once.
    r1, r2 = g1["resources"], g2["resources"]
    if r2["grant_maps"] != {"used": 2 * 75 + 2, "max": 32768, "reserved": 8192,
                            "peak": 2 * 75 + 2, "refused": 0}:
        fail(f"sim-guest-2 grant maps: {r2['grant_maps']}")
    if r1["grant_maps"]["max"] != 5000 or r2["fds"]["used"] < 4 or r2["fds"]["max"] != 1024:
        fail(f"caps in the status: {r1} {r2}")
    if r2["backend_bytes"]["max"] != 64 << 20 or r2["retry_buffers"]["max"] != 16:
        fail(f"caps in the status: {r2}")
    tot = st2["resources"]
    if tot["grant_maps"]["used"] != r1["grant_maps"]["used"] + r2["grant_maps"]["used"] or \
            tot["grant_maps"]["max"] != 131072 or tot["backend_bytes"]["max"] != 128 << 20:
        fail(f"global resources: {tot}")
    # What a user reads to tell "nothing draws" from "draws black": the format shown and
    # how long ago the last flip was; the daemon's uptime; the input section.
    if c2["format"] != "XR24" or c2["format_name"] != "XRGB8888" or \
            not 0 <= c2["last_flip_seconds_ago"] < 0.5:
        fail(f"sim-guest-2's connector: format or last flip: {c2}")
    if not 1.0 < st2["uptime_seconds"] < 60 or st2["input"]["source"] != "none" or \
            sorted(v["name"] for v in st2["input"]["vkbs"]) != ["sim-guest-1", "sim-guest-2"]:
        fail(f"uptime or input: {st2['uptime_seconds']} {st2['input']}")
    text = ctl("status").stdout
    if "guest sim-guest-1 (dom" not in text or "mapped to HDMI-A-1" not in text or \
            "grant maps 152/32768 (8192 reserved)" not in text or \
            ", XRGB8888, last flip 0." not in text or "\nbuffers awaiting release: none\n" \
            not in text or not re.search(r", up \d+ s\n", text):
        fail(f"text status: {text}")
    print(f"status: ok ({c2['flips_per_second']:.1f} flips/s)")

    # 3. Screenshot: the PNG is exactly a frame the guest drew.
    shot = os.path.join(work, "shot.png")
    p = ctl("--json", "screenshot", "sim-guest-2:0", shot)
    info = json.loads(p.stdout)
    if info["width"] != 320 or info["height"] != 240:
        fail(f"screenshot answer {info}")
    p = subprocess.run([SHOTCHECK, shot, str(g2["domid"]), "0"], capture_output=True, text=True)
    if p.returncode != 0:
        fail(f"screenshot is not the guest's frame: {p.stdout} {p.stderr}")
    print(p.stdout.strip())
    # The screenshot read the shown buffer: its CPU view is mapped now (75
    # pages more), charged to the guest, until the buffer goes.
    maps = guest(json.loads(ctl("--json", "status").stdout), "sim-guest-2")["resources"]["grant_maps"]
    if maps["used"] != 2 * 75 + 2 + 75:
        fail(f"sim-guest-2 grant maps after a screenshot: {maps}")
    p = ctl("screenshot", "no-such-guest", shot, ok=False)
    if p.returncode != 1 or "no such guest" not in p.stderr:
        fail(f"screenshot of an unknown guest: {p.returncode} {p.stderr}")
    p = ctl("--json", "screenshot", "sim-guest-2:3", shot, ok=False)
    if p.returncode != 1 or "error" not in json.loads(p.stdout):
        fail(f"screenshot of a missing connector: {p.returncode} {p.stdout}")

    # 4. Focus: the input router's (the first guest's to begin with), moved by name,
    # refused for a guest nobody has (what the guests' vkbs then receive: control_focus).
    wait_for(lambda: status()["focus"] == "sim-guest-1", "the first guest to have the focus")
    p = ctl("focus", "nosuch", ok=False)
    if p.returncode != 1 or 'no such guest "nosuch"' not in p.stderr or p.stdout:
        fail(f"focus on no guest: {p.returncode} {p.stdout!r} {p.stderr!r}")
    st = status()
    if st["focus"] != "sim-guest-1" or st["focus_domid"] != g1["domid"]:
        fail(f"status after a refused focus: {st['focus']} {st['focus_domid']}")
    if json.loads(ctl("--json", "focus", "sim-guest-2").stdout) != \
            {"focus": "sim-guest-2", "domid": g2["domid"]}:
        fail("focus answer")
    st = status()
    if st["focus"] != "sim-guest-2" or st["focus_domid"] != g2["domid"]:
        fail(f"focus not the router's: {st['focus']} {st['focus_domid']}")
    if f"focus sim-guest-2 (dom{g2['domid']})" not in ctl("status").stdout:
        fail("text status: focus")
    print("screenshot, focus: ok")

    # 4b. vdispctl's own errors. A user without access is told why, not "is it running?".
    if os.geteuid() == 0:
        os.chmod(work, 0o755)  # the socket's own 0600 is what keeps nobody out
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            VDISPCTL, "-s", sock, "status"], capture_output=True, text=True)
        os.chmod(work, 0o700)
    else:
        os.chmod(sock, 0)
        p = ctl("status", ok=False)
        os.chmod(sock, 0o600)
    if p.returncode != 1 or "Permission denied" not in p.stderr or \
            "is vdispld running" in p.stderr or "control-group" not in p.stderr:
        fail(f"vdispctl without access: {p.returncode} {p.stderr!r}")
    # --json: every error is one JSON object on stdout, nothing on stderr.
    for args, rc, errno_ in ((["-s", os.path.join(work, "none"), "--json", "status"], 1, 2),
                             (["--json", "focus", "nosuch"], 1, 2),
                             (["--json", "frobnicate"], 2, 22),
                             (["--json", "--frobnicate", "status"], 2, 22)):
        p = subprocess.run([VDISPCTL, "-s", sock, *args], capture_output=True, text=True)
        try:
            obj = json.loads(p.stdout)
        except ValueError:
            fail(f"vdispctl {args}: not JSON: {p.stdout!r} {p.stderr!r}")
        if p.returncode != rc or p.stderr or set(obj) != {"error", "errno"} or obj["errno"] != errno_:
            fail(f"vdispctl {args}: {p.returncode} {obj} {p.stderr!r}")
    # A usage error says what was wrong and where to look, not the whole usage.
    for args, want in (([], "no command"), (["--frobnicate", "status"], "unknown option --frobnicate"),
                       (["focus"], "usage: focus GUEST"), (["status", "x"], "status takes no arguments")):
        p = subprocess.run([VDISPCTL, "-s", sock, *args], capture_output=True, text=True)
        if p.returncode != 2 or want not in p.stderr or "Try 'vdispctl --help'" not in p.stderr or \
                len(p.stderr.splitlines()) != 2 or p.stdout:
            fail(f"vdispctl {args}: {p.returncode} {p.stderr!r}")
    print("vdispctl errors: ok")

    # 5. SIGHUP with a bad file: the old configuration stays, the log says why.
    g2conf = os.path.join(gdir, "sim-guest-2.conf")
    put(g2conf, "max-buffers = 8\nconnector.9 = DP-1\n")
    d.send_signal(signal.SIGHUP)
    def logged(s):
        err.seek(0)
        return s in err.read()
    wait_for(lambda: logged("keeping the previous configuration"), "a refused reload")
    if not logged("guests.d/sim-guest-2.conf:2: connector.9: connector index must be 0..3"):
        fail("the refused reload does not say why")
    if not guest(status(), "sim-guest-2")["settings"].endswith("/vdispld.conf"):
        fail("a bad file was applied")
    # The error is the guest file's: the refusal must not name the main file.
    refusal = [l for l in open(err.name).read().splitlines() if "keeping the previous" in l]
    if len(refusal) != 1 or "vdispld.conf" in refusal[0]:
        fail(f"the refused reload names the wrong file: {refusal}")
    # ... and with a good one: applies to new connections (status shows the lookup).
    put(g2conf, "max-buffers = 8\nconnector.0 = DP-1\n")
    d.send_signal(signal.SIGHUP)
    wait_for(lambda: guest(status(), "sim-guest-2")["settings"].endswith("sim-guest-2.conf"),
             "the good reload")
    if d.poll() is not None:
        fail("daemon died on reload")
    print("reload: ok")

    # 5b. Restart-only settings: the reload names the one that changed against what
    # runs (none once a change is reverted), and one the command line sets (--refresh),
    # but not one only the command line sets (--seat: the file says nothing of it).
    def reload_log():
        start = len(open(err.name).read())
        d.send_signal(signal.SIGHUP)
        def done():
            t = open(err.name).read()[start:]
            return t if "loaded (" in t or "keeping the previous" in t else None
        return wait_for(done, "the reload")
    main_conf = open(conf).read()
    put(conf, main_conf.replace("status-interval = 0", "status-interval = 7"))
    t = reload_log()
    notes = [l.split("notice: ", 1)[1] for l in t.splitlines() if "notice: reload: " in l]
    want = "reload: status-interval changed: it takes effect at the next restart"
    if want not in notes or len(notes) != 2:
        fail(f"restart notice for status-interval: {notes}")
    put(conf, main_conf)
    t = reload_log()
    if "restart" in t or "command line" in t:
        fail(f"a notice after reverting to the running value: {t}")
    put(conf, main_conf.replace("status-interval = 0", "status-interval = 0\nrefresh = 30"))
    t = reload_log()
    want = "reload: the command line sets refresh (--refresh): the file's value has no effect"
    if want not in t or "changed:" in t:
        fail(f"a setting the command line overrides: {t}")
    put(conf, main_conf)
    print("reload notices: ok")

    # 6. SIGTERM: clean exit, socket gone.
    d.send_signal(signal.SIGTERM)
    if d.wait(timeout=10) != 0:
        fail(f"exit status {d.returncode}")
    if os.path.exists(sock):
        fail("control socket left behind")
finally:
    if d.poll() is None:
        d.kill()
err.seek(0)
log = err.read()
for line in log.splitlines():
    if " vdispld: error: " in line and "connector.9" not in line and "previous configuration" not in line:
        fail(f"unexpected error logged: {line}")
subprocess.run(["rm", "-rf", work])
print("service: all checks passed")
